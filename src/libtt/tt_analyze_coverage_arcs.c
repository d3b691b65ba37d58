/* tt_analyze_coverage_arcs.c - the arcs of a full recording: per thread, the
 * line-to-line transitions within each frame, counted per code object.
 *
 * Owns: the per-thread frame stacks that pair each LINE with the previous
 * line of the same frame, the per-code arc hash tables, and their merge
 * into the files. Must not: print, or guess arcs across a gap (after a
 * DROPPED event the thread's frames start over unknown). One thread.
 */
#include <stdlib.h>
#include <string.h>

#include "tt_coverage_int.h"

#define UNKNOWN INT32_MIN     /* the frame's previous line is not known */
#define SEARCH_DEPTH 16       /* frames looked through for a lost return */

typedef struct {
    uint32_t code;
    int32_t last;             /* previous line, -firstline at entry */
} arc_frame;

typedef struct {
    arc_frame *v;
    size_t n, cap;
} arc_stack;

struct tt__arc_walk {
    arc_stack *threads;       /* owned: indexed by thread id */
    size_t n_threads;
};

int tt__arc_walk_new(tt__arc_walk **out)
{
    tt__arc_walk *w = tt__malloc(sizeof *w);
    *out = w;
    if (w == NULL)
        return TT_ENOMEM;
    memset(w, 0, sizeof *w);
    return 0;
}

void tt__arc_walk_free(tt__arc_walk *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < w->n_threads; i++)
        tt__free(w->threads[i].v);
    tt__free(w->threads);
    tt__free(w);
}

static uint32_t arc_hash(int32_t from, int32_t to, uint32_t bits)
{
    uint64_t k = ((uint64_t)(uint32_t)from << 32) | (uint32_t)to;
    return (uint32_t)((k * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

/* Contract (tt_coverage_int.h). */
int tt__arc_add(code_info *ci, int32_t from, int32_t to, uint64_t n)
{
    uint32_t mask, j;

    if (ci->arcs == NULL || (ci->n_arcs + 1) * 2 > (1u << ci->arc_bits)) {
        uint32_t bits = ci->arcs ? ci->arc_bits + 1 : 4;
        size_t slots = (size_t)1 << bits;
        tt__arc_slot *t = tt__malloc(slots * sizeof *t);
        if (t == NULL)
            return TT_ENOMEM;
        memset(t, 0, slots * sizeof *t);
        for (uint32_t i = 0; ci->arcs && i < (1u << ci->arc_bits); i++) {
            tt__arc_slot *s = &ci->arcs[i];
            if (s->count == 0)
                continue;
            j = arc_hash(s->from, s->to, bits);
            while (t[j].count)
                j = (j + 1) & (uint32_t)(slots - 1);
            t[j] = *s;
        }
        tt__free(ci->arcs);
        ci->arcs = t;
        ci->arc_bits = bits;
    }
    mask = (1u << ci->arc_bits) - 1;
    j = arc_hash(from, to, ci->arc_bits);
    while (ci->arcs[j].count &&
           (ci->arcs[j].from != from || ci->arcs[j].to != to))
        j = (j + 1) & mask;
    if (ci->arcs[j].count == 0) {
        ci->arcs[j].from = from;
        ci->arcs[j].to = to;
        ci->n_arcs++;
    }
    ci->arcs[j].count += n;
    return 0;
}

static arc_stack *thread_stack(tt__arc_walk *w, uint32_t thread)
{
    if (thread >= w->n_threads) {
        void *arr = w->threads;
        size_t cap = w->n_threads;
        if (tt__grow(&arr, &cap, (size_t)thread + 1, sizeof *w->threads) < 0)
            return NULL;
        w->threads = arr;
        memset(w->threads + w->n_threads, 0,
               (cap - w->n_threads) * sizeof *w->threads);
        w->n_threads = cap;
    }
    return &w->threads[thread];
}

static int push(arc_stack *s, uint32_t code, int32_t last)
{
    void *arr = s->v;
    if (tt__grow(&arr, &s->cap, s->n + 1, sizeof *s->v) < 0)
        return TT_ENOMEM;
    s->v = arr;
    s->v[s->n].code = code;
    s->v[s->n].last = last;
    s->n++;
    return 0;
}

/* The frame of `code` near the top (frames above it lost their RETURN:
 * dropped), or NULL. */
static arc_frame *find(arc_stack *s, uint32_t code)
{
    for (size_t k = 0; k < s->n && k < SEARCH_DEPTH; k++) {
        if (s->v[s->n - 1 - k].code == code) {
            s->n -= k;
            return &s->v[s->n - 1];
        }
    }
    return NULL;
}

int tt__arc_walk_event(tt__arc_walk *w, const tt_event_t *ev,
                       code_info *info, uint32_t n)
{
    arc_stack *s = thread_stack(w, ev->thread);
    code_info *ci;
    arc_frame *fr;
    int rc = 0;

    if (s == NULL)
        return TT_ENOMEM;
    if (ev->kind == TT_EV_DROPPED) {
        for (size_t k = 0; k < s->n; k++)
            s->v[k].last = UNKNOWN;      /* a gap: no arc spans it */
        return 0;
    }
    if (ev->code >= n)
        return 0;
    ci = &info[ev->code];
    switch (ev->kind) {
    case TT_EV_CALL:
        /* At co_firstlineno: a new frame, entered from -firstline. Else a
         * generator or coroutine resuming at the line it stopped on. */
        return push(s, ev->code,
                    ev->line == ci->firstline || ev->line < 1
                        ? -ci->firstline : ev->line);
    case TT_EV_LINE:
        if (ev->line < 1)
            return 0;                    /* a module's RESUME at line 0 */
        fr = find(s, ev->code);
        if (fr == NULL) {                /* no CALL seen: started mid-frame */
            if ((rc = push(s, ev->code, UNKNOWN)) < 0)
                return rc;
            fr = &s->v[s->n - 1];
        }
        if (fr->last != UNKNOWN && ci->file != NO_FILE)
            rc = tt__arc_add(ci, fr->last, ev->line, 1);
        fr->last = ev->line;
        return rc;
    case TT_EV_RETURN:
        fr = find(s, ev->code);
        if (fr == NULL)
            return 0;
        if (fr->last != UNKNOWN && fr->last > 0 && ci->file != NO_FILE)
            rc = tt__arc_add(ci, fr->last, -ci->firstline, 1);
        s->n--;
        return rc;
    default:
        return 0;
    }
}

int tt__arc_fold(cov_file *f, const code_info *ci)
{
    void *arr = f->arcs;
    if (ci->arcs == NULL)
        return 0;
    if (tt__grow(&arr, &f->cap_arcs, f->n_arcs + ci->n_arcs,
                 sizeof *f->arcs) < 0)
        return TT_ENOMEM;
    f->arcs = arr;
    for (uint32_t i = 0; i < (1u << ci->arc_bits); i++) {
        const tt__arc_slot *s = &ci->arcs[i];
        if (s->count == 0)
            continue;
        f->arcs[f->n_arcs].from = s->from;
        f->arcs[f->n_arcs].to = s->to;
        f->arcs[f->n_arcs].count = s->count;
        f->n_arcs++;
    }
    return 0;
}

static int cmp_arc(const void *a, const void *b)
{
    const tt_cov_arc_t *x = a, *y = b;
    if (x->from != y->from)
        return (x->from > y->from) - (x->from < y->from);
    return (x->to > y->to) - (x->to < y->to);
}

void tt__arc_finish(cov_file *f)
{
    size_t m = 0;
    if (f->n_arcs > 1)
        qsort(f->arcs, f->n_arcs, sizeof *f->arcs, cmp_arc);
    for (size_t i = 0; i < f->n_arcs; i++) {
        if (m && cmp_arc(&f->arcs[m - 1], &f->arcs[i]) == 0)
            f->arcs[m - 1].count += f->arcs[i].count;
        else
            f->arcs[m++] = f->arcs[i];
    }
    f->n_arcs = m;
    f->pub.n_arcs = (uint32_t)m;
    f->pub.arcs = f->arcs;
}
