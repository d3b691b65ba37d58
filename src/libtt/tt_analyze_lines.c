/* tt_analyze_lines.c - per-line time: one pass over CALL, LINE
 * and RETURN in merged order through a shadow stack per thread; each frame
 * is cut into segments (entry to first LINE, LINE to the frame's next LINE
 * or RETURN) charged to a (code, line, thread) row. Memory is bounded by
 * the distinct rows and the deepest stack. Must not: print, or use
 * anything but tt.h's public reader API on r. Threads: one analysis, one
 * thread (it drives its reader). Rules: docs/lines.md.
 */
#include <stdlib.h>
#include <string.h>

#include "tt_internal.h"

#define NONE UINT32_MAX

/* An open frame: its current segment runs from seg_ns and is charged to
 * row; callee_ns is the inclusive time of traced callees that ran inside
 * the segment. 32 bytes. */
typedef struct {
    uint32_t code;
    uint32_t row;
    uint64_t start_ns;            /* the activation (call or resumption) */
    uint64_t seg_ns;
    uint64_t callee_ns;
} lframe_t;

typedef struct {
    lframe_t *st;                 /* owned */
    size_t n, cap;
    uint64_t last_tick;           /* the thread's last event */
    int seen;
    tt_lines_thread_t info;
} lthr_t;

struct tt_lines {
    tt_lines_summary_t sum;
    tt_linestat_t *rows;          /* owned; per-thread rows, then (after
                                     finish) the all-thread ones, sorted */
    size_t cap_rows;
    uint32_t n_rows;
    uint32_t *slots;              /* owned: open addressing, row or NONE */
    uint32_t bits;
    lthr_t *thr;                  /* owned, per thread id */
    size_t n_thr;
    tt_reader_t *r;               /* borrowed during analysis */
};

/* ------------------------------------------------------------ the rows */

static size_t row_hash(uint32_t code, int32_t line, uint32_t thread)
{
    uint64_t h = (uint64_t)code * 0x9E3779B97F4A7C15ull ^
                 ((uint64_t)(uint32_t)line << 32 | thread);
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    return (size_t)h;
}

/* Doubles the slot table (or makes the first one) and re-files the rows. */
static int slots_grow(tt_lines_t *L)
{
    uint32_t bits = L->bits ? L->bits + 1 : 10;
    size_t n = (size_t)1 << bits, mask = n - 1;
    uint32_t *s = tt__malloc(n * sizeof *s);

    if (s == NULL)
        return TT_ENOMEM;
    memset(s, 0xff, n * sizeof *s);
    for (uint32_t i = 0; i < L->n_rows; i++) {
        const tt_linestat_t *x = &L->rows[i];
        size_t h = row_hash(x->code, x->line, x->thread) & mask;
        while (s[h] != NONE)
            h = (h + 1) & mask;
        s[h] = i;
    }
    tt__free(L->slots);
    L->slots = s;
    L->bits = bits;
    return 0;
}

/* The row of (code, line, thread), created (zeroed) on first use. 0 and
 * *out, or TT_ENOMEM / TT_ELIMIT with nothing changed. */
static int row_get(tt_lines_t *L, uint32_t code, int32_t line,
                   uint32_t thread, uint32_t *out)
{
    size_t mask, h;
    tt_linestat_t *x;
    void *p;

    if (((uint64_t)L->n_rows + 1) * 2 > ((uint64_t)1 << L->bits) &&
        slots_grow(L) < 0)
        return TT_ENOMEM;
    mask = ((size_t)1 << L->bits) - 1;
    for (h = row_hash(code, line, thread) & mask; L->slots[h] != NONE;
         h = (h + 1) & mask) {
        x = &L->rows[L->slots[h]];
        if (x->code == code && x->line == line && x->thread == thread) {
            *out = L->slots[h];
            return 0;
        }
    }
    if (L->n_rows >= NONE - 1)
        return TT_ELIMIT;
    p = L->rows;
    if (tt__grow(&p, &L->cap_rows, (size_t)L->n_rows + 1, sizeof *L->rows) < 0)
        return TT_ENOMEM;
    L->rows = p;
    x = &L->rows[L->n_rows];
    memset(x, 0, sizeof *x);
    x->code = code;
    x->line = line;
    x->thread = thread;
    L->slots[h] = L->n_rows;
    *out = L->n_rows++;
    return 0;
}

/* ------------------------------------------------------------ the replay */

static int thr_get(tt_lines_t *L, uint32_t thread)
{
    size_t old = L->n_thr, cap = L->n_thr;
    void *p = L->thr;

    if (thread < L->n_thr)
        return 0;
    if (thread >= NONE - 1)
        return TT_ECORRUPT;
    if (tt__grow(&p, &cap, (size_t)thread + 1, sizeof *L->thr) < 0)
        return TT_ENOMEM;
    L->thr = p;
    L->n_thr = cap;
    memset(L->thr + old, 0, (cap - old) * sizeof *L->thr);
    return 0;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Charges f's current segment, up to ns, to its row. */
static void seg_close(tt_lines_t *L, lframe_t *f, uint64_t ns)
{
    tt_linestat_t *x;
    uint64_t d = ns > f->seg_ns ? ns - f->seg_ns : 0;

    if (f->row == NONE) {         /* a C function: no lines of its own */
        f->seg_ns = ns;
        f->callee_ns = 0;
        return;
    }
    x = &L->rows[f->row];
    /* Saturating: a crafted file's ticks can make sums wrap, and a row's
     * own time must never pass its time. */
    x->time_ns = sat_add(x->time_ns, d);
    x->own_ns = sat_add(x->own_ns, d > f->callee_ns ? d - f->callee_ns : 0);
    f->seg_ns = ns;
    f->callee_ns = 0;
}

/* Ends the top frame of t at ns: its segment closes, and its inclusive
 * time goes into its caller's segment (or the thread's traced time). */
static void frame_pop(tt_lines_t *L, lthr_t *t, uint64_t ns)
{
    lframe_t *f = &t->st[--t->n];
    uint64_t incl = ns > f->start_ns ? ns - f->start_ns : 0;

    seg_close(L, f, ns);
    if (t->n > 0)
        t->st[t->n - 1].callee_ns += incl;
    else
        t->info.traced_ns += incl;
}

/* Pushes a frame of `code` whose first segment goes to `row`. */
static int frame_push(lthr_t *t, uint32_t code, uint32_t row, uint64_t ns)
{
    lframe_t *f;

    if (t->n == t->cap) {
        void *p = t->st;
        if (tt__grow(&p, &t->cap, t->n + 1, sizeof *t->st) < 0)
            return TT_ENOMEM;
        t->st = p;
    }
    f = &t->st[t->n++];
    f->code = code;
    f->row = row;
    f->start_ns = f->seg_ns = ns;
    f->callee_ns = 0;
    return 0;
}

/* Index of the topmost frame of `code` in t's stack, or -1. */
static ptrdiff_t frame_find(const lthr_t *t, uint32_t code)
{
    for (size_t k = t->n; k-- > 0;)
        if (t->st[k].code == code)
            return (ptrdiff_t)k;
    return -1;
}

static int on_call(tt_lines_t *L, lthr_t *t, const tt_event_t *ev,
                   uint64_t ns)
{
    uint32_t row;
    const tt_code_def_t *d = tt_reader_code(L->r, ev->code);
    int resume, rc;

    /* A C function (--c-calls) is a callee of the line that called it,
     * with no row of its own: its time leaves that line's own time. */
    if (d != NULL && (d->flags & TT_CODE_CFUNCTION))
        return frame_push(t, ev->code, NONE, ns);
    /* a resumption (the recording's mark, or in an older recording the
     * line rule of docs/calls.md) goes on at its yield's line */
    resume = tt_event_resumes(L->r, ev);
    rc = row_get(L, ev->code, resume ? ev->line : TT_NO_LINE, ev->thread,
                 &row);

    if (rc < 0)
        return rc;
    if (resume) {
        t->info.resumes++;
    } else {
        L->rows[row].hits++;          /* the entry row counts calls */
        t->info.calls++;
    }
    return frame_push(t, ev->code, row, ns);
}

/* A LINE closes the segment of its frame and opens the next. A LINE of a
 * code that is not on top: if the code is lower in the stack, the frames
 * above lost their RETURNs and close here; if it is nowhere, the frame
 * was entered before the recording (or its CALL was lost) and starts
 * here. */
static int on_line(tt_lines_t *L, lthr_t *t, const tt_event_t *ev,
                   uint64_t ns)
{
    uint32_t row;
    int rc = row_get(L, ev->code, ev->line, ev->thread, &row);

    if (rc < 0)
        return rc;
    L->rows[row].hits++;
    t->info.lines++;
    if (TT_UNLIKELY(t->n == 0 || t->st[t->n - 1].code != ev->code)) {
        ptrdiff_t k = frame_find(t, ev->code);
        if (k < 0) {
            t->info.adopted++;
            return frame_push(t, ev->code, row, ns);
        }
        while (t->n > (size_t)k + 1) {
            frame_pop(L, t, ns);
            t->info.mismatched++;
        }
    }
    seg_close(L, &t->st[t->n - 1], ns);
    t->st[t->n - 1].row = row;
    return 0;
}

static void on_return(tt_lines_t *L, lthr_t *t, const tt_event_t *ev,
                      uint64_t ns)
{
    ptrdiff_t k = frame_find(t, ev->code);

    if (k < 0) {
        t->info.unmatched_returns++;
        return;
    }
    while (t->n > (size_t)k + 1) {
        frame_pop(L, t, ns);
        t->info.mismatched++;
    }
    frame_pop(L, t, ns);
}

/* Every open frame of t ends at `tick`; returns how many. */
static uint64_t pop_all(tt_lines_t *L, lthr_t *t, uint64_t tick)
{
    uint64_t ns = tt_reader_ns(L->r, tick), n = t->n;
    while (t->n > 0)
        frame_pop(L, t, ns);
    return n;
}

/* One event of the replay. */
static int replay_one(tt_lines_t *L, const tt_event_t *ev)
{
    lthr_t *t;
    uint64_t ns;
    int rc = 0;

    L->sum.events++;
    if (ev->kind != TT_EV_CALL && ev->kind != TT_EV_LINE &&
        ev->kind != TT_EV_RETURN && ev->kind != TT_EV_EXCEPTION &&
        ev->kind != TT_EV_DROPPED)
        return 0;
    if (TT_UNLIKELY(ev->thread >= L->n_thr) &&
        (rc = thr_get(L, ev->thread)) < 0)
        return rc;
    t = &L->thr[ev->thread];
    ns = tt_reader_ns(L->r, ev->tick);
    if (!t->seen) {
        t->seen = 1;
        t->info.first_ns = ns;
    }
    t->last_tick = ev->tick;
    if (ev->kind == TT_EV_LINE)
        rc = on_line(L, t, ev, ns);
    else if (ev->kind == TT_EV_CALL)
        rc = on_call(L, t, ev, ns);
    else if (ev->kind == TT_EV_RETURN)
        on_return(L, t, ev, ns);
    else if (ev->kind == TT_EV_EXCEPTION) {
        if (tt__pair_cexception(L->r, t->st, t->n, sizeof *t->st, ev->code))
            frame_pop(L, t, ns);    /* a C function raised: no RETURN */
    } else {
        t->info.dropped += ev->count;
        t->info.closed_at_drop += pop_all(L, t, ev->tick);
    }
    return rc;
}

static int replay(tt_lines_t *L)
{
    tt_event_t evs[256];
    uint64_t bad = 0;
    int n, rc;

    while ((n = tt__replay_batch(L->r, evs, 256, &bad)) > 0)
        for (int i = 0; i < n; i++)
            if ((rc = replay_one(L, &evs[i])) < 0)
                return rc;
    L->sum.bad_chunks += (int)bad;
    return n;
}

/* ------------------------------------------------------------ the end */

static int cmp_row(const void *a, const void *b)
{
    const tt_linestat_t *x = a, *y = b;
    if (x->thread != y->thread)
        return x->thread < y->thread ? -1 : 1;
    if (x->code != y->code)
        return x->code < y->code ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Adds the all-thread rows (sums of the per-thread ones) and sorts. */
static int derive(tt_lines_t *L)
{
    uint32_t n = L->n_rows;

    for (uint32_t i = 0; i < n; i++) {
        tt_linestat_t x = L->rows[i];
        uint32_t j;
        int rc = row_get(L, x.code, x.line, TT_LINES_ALL_THREADS, &j);
        if (rc < 0)
            return rc;
        L->rows[j].hits += x.hits;
        L->rows[j].time_ns = sat_add(L->rows[j].time_ns, x.time_ns);
        L->rows[j].own_ns = sat_add(L->rows[j].own_ns, x.own_ns);
    }
    if (L->n_rows)
        qsort(L->rows, L->n_rows, sizeof *L->rows, cmp_row);
    tt__free(L->slots);              /* sorting invalidated it */
    L->slots = NULL;
    L->sum.n_rows = L->n_rows;
    return 0;
}

/* Closes what is still open and fills the summary. */
static void finish(tt_lines_t *L)
{
    const tt_damage_t *dmg = tt_reader_damage(L->r);
    tt_lines_summary_t *s = &L->sum;
    uint64_t counts[TT_EV__COUNT], dropped;

    for (size_t i = 0; i < L->n_thr; i++) {
        lthr_t *t = &L->thr[i];
        tt_lines_thread_t *ti = &t->info;
        ti->open_at_end += pop_all(L, t, t->last_tick);
        if (t->seen)
            ti->last_ns = tt_reader_ns(L->r, t->last_tick);
        s->lines += ti->lines;
        s->calls += ti->calls;
        s->resumes += ti->resumes;
        s->adopted += ti->adopted;
        s->unmatched_returns += ti->unmatched_returns;
        s->mismatched += ti->mismatched;
        s->closed_at_drop += ti->closed_at_drop;
        s->open_at_end += ti->open_at_end;
        s->dropped += ti->dropped;
        s->traced_ns += ti->traced_ns;
    }
    s->n_threads = tt_reader_n_threads(L->r);
    s->truncated = dmg != NULL && (dmg->status != 0 || !dmg->clean_end);
    tt_reader_counts(L->r, counts, &dropped);
    s->has_calls = counts[TT_EV_CALL] > 0;
    s->has_lines = counts[TT_EV_LINE] > 0;
}

/* Contract (tt.h): 0 and *out, or TT_EINVAL / TT_ENOMEM / TT_ECANCELED
 * with *out = NULL; r is left at its end. */
int tt_lines_analyze(tt_reader_t *r, tt_lines_t **out)
{
    tt_lines_t *L;
    int rc;

    if (out == NULL)
        return TT_EINVAL;
    *out = NULL;
    if (r == NULL)
        return TT_EINVAL;
    L = tt__malloc(sizeof *L);
    if (L == NULL)
        return TT_ENOMEM;
    memset(L, 0, sizeof *L);
    L->r = r;
    rc = slots_grow(L);
    if (rc == 0 && tt_reader_n_threads(r) > 0)
        rc = thr_get(L, tt_reader_n_threads(r) - 1);
    if (rc == 0)
        rc = tt_reader_select_thread(r, UINT32_MAX);
    if (rc == 0)
        rc = replay(L);
    if (rc == 0) {
        finish(L);
        rc = derive(L);
    }
    if (rc < 0) {
        tt_lines_free(L);
        return rc == TT_ELIMIT || rc == TT_ECORRUPT ? TT_ENOMEM : rc;
    }
    L->r = NULL;
    *out = L;
    return 0;
}

const tt_lines_summary_t *tt_lines_summary(const tt_lines_t *L)
{
    return L ? &L->sum : NULL;
}

const tt_lines_thread_t *tt_lines_thread(const tt_lines_t *L, uint32_t thread)
{
    if (L == NULL || thread >= L->n_thr || thread >= L->sum.n_threads)
        return NULL;
    return &L->thr[thread].info;
}

const tt_linestat_t *tt_lines_row(const tt_lines_t *L, uint32_t i)
{
    return L && i < L->sum.n_rows ? &L->rows[i] : NULL;
}

void tt_lines_free(tt_lines_t *L)
{
    if (L == NULL)
        return;
    for (size_t i = 0; i < L->n_thr; i++)
        tt__free(L->thr[i].st);
    tt__free(L->thr);
    tt__free(L->rows);
    tt__free(L->slots);
    tt__free(L);
}
