/* tt_chunk_contexts.c - context marks: which test (or other named phase) ran.
 *
 * Owns: the 0x84 CONTEXT chunk (FORMAT.md §17) on both sides, the reader's
 * tick windows (tt_reader_set_window: iteration limited to a context's
 * spans), and the per-line context sets (tt_line_contexts) of a full or a
 * --count recording. Never prints or aborts. Threads: the writer's or the
 * reader's (one thread each).
 */
#include <stdlib.h>
#include <string.h>

#include "tt_reader_int.h"
#include "tt_tbuf.h"
#include "tt_varint.h"

/* ------------------------------------------------------------ the writer */

#define CTX_NAME_MAX 4096           /* longer names are cut (bytes) */

static int context_chunk(tt_writer_t *w, uint64_t ident, uint64_t tick,
                         const char *name, size_t len)
{
    uint8_t *buf, *p;
    int rc;

    buf = tt__malloc(TT__CHUNK_HEAD + 30 + len + TT__CHUNK_TAIL);
    if (buf == NULL)
        return TT_ENOMEM;
    p = buf + TT__CHUNK_HEAD;
    p = tt__put_varint(p, ident);
    p = tt__put_varint(p, tick > w->start_tick ? tick - w->start_tick : 0);
    p = tt__put_varint(p, len);
    if (len)
        memcpy(p, name, len);
    p += len;
    rc = tt__writer_flush_defs(w);
    if (rc == 0)
        rc = tt__writer_chunk(w, buf, (size_t)(p - buf - TT__CHUNK_HEAD),
                              TT_CHUNK_CONTEXT, TT__NO_THREAD);
    tt__free(buf);
    if (rc < 0)
        tt__writer_error(w, rc);
    return rc;
}

/* Contract (tt.h): one 0x84 chunk now, under the writer's guard. */
int tt_writer_context(tt_writer_t *w, uint64_t ident, uint64_t tick,
                      const char *name)
{
    size_t len;

    if (w == NULL || name == NULL)
        return TT_EINVAL;
    len = strlen(name);
    if (len > CTX_NAME_MAX)
        len = CTX_NAME_MAX;
    TT__GUARDED(w, context_chunk(w, ident, tick, name, len));
}

/* ------------------------------------------------------------ the reader */

/* Contract (tt_reader_int.h): decodes one 0x84 payload into the reader's
 * table. A malformed payload still marks a boundary: its context is named
 * "" and starts at the previous mark's tick (counted in bad_contexts). */
int tt__context_add(tt_reader_t *r, const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;
    tt_context_t c = {0, 0, ""};
    uint64_t tick = 0, ident = 0, n = 0;
    void *arr = r->ctxs;
    const char *name = NULL;

    if (tt__grow(&arr, &r->cap_ctxs, (size_t)r->n_ctxs + 1, sizeof c) < 0)
        return TT_ENOMEM;
    r->ctxs = arr;
    if (r->n_ctxs)
        c.tick = r->ctxs[r->n_ctxs - 1].tick;
    if (tt__get_varint(&p, end, &ident) == 0 &&
        tt__get_varint(&p, end, &tick) == 0 &&
        tt__get_varint(&p, end, &n) == 0 && n <= (uint64_t)(end - p)) {
        name = tt__arena_strdup(&r->arena, p, (size_t)n);
        if (name == NULL)
            return TT_ENOMEM;
        c.ident = ident;
        c.name = name;
        if (tick > c.tick)       /* marks never go back in time */
            c.tick = tick;
    } else {
        r->bad_ctxs++;
    }
    r->ctxs[r->n_ctxs++] = c;
    return 0;
}

uint32_t tt_reader_n_contexts(const tt_reader_t *r)
{
    return r ? r->n_ctxs + 1 : 0;
}

/* Contract (tt.h): context 0 is the implicit "" before the first mark. */
int tt_reader_context(const tt_reader_t *r, uint32_t i, tt_context_t *out)
{
    static const tt_context_t none = {0, 0, ""};

    if (r == NULL || out == NULL || i > r->n_ctxs)
        return TT_EINVAL;
    *out = i == 0 ? none : r->ctxs[i - 1];
    return 0;
}

uint32_t tt_reader_bad_contexts(const tt_reader_t *r)
{
    return r ? r->bad_ctxs : 0;
}

/* The context in force at `tick`: the last mark at or before it. */
uint32_t tt_reader_context_at(const tt_reader_t *r, uint64_t tick)
{
    uint32_t lo = 0, hi;

    if (r == NULL)
        return 0;
    hi = r->n_ctxs;
    while (lo < hi) {               /* first mark with tick > `tick` */
        uint32_t mid = lo + (hi - lo) / 2;
        if (r->ctxs[mid].tick <= tick)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ------------------------------------------------------- tick windows */

static int cmp_u64pair(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

/* Contract (tt.h). */
int tt_reader_set_window(tt_reader_t *r, const uint64_t *spans, size_t n)
{
    uint64_t *copy = NULL;
    size_t i, m = 0;

    if (r == NULL || (n && spans == NULL))
        return TT_EINVAL;
    if (n) {
        copy = tt__malloc(n * 2 * sizeof *copy);
        if (copy == NULL)
            return TT_ENOMEM;
        for (i = 0; i < n; i++) {
            if (spans[2 * i] >= spans[2 * i + 1])
                continue;                        /* empty */
            copy[2 * m] = spans[2 * i];
            copy[2 * m + 1] = spans[2 * i + 1];
            m++;
        }
        qsort(copy, m, 2 * sizeof *copy, cmp_u64pair);
    }
    tt__free(r->win);
    r->win = copy;
    r->n_win = m;
    r->windowed = n != 0;
    return tt_reader_select_thread(r, r->sel);
}

/* Contract (tt_reader_int.h). */
int tt__in_window(const tt_reader_t *r, uint64_t tick)
{
    size_t lo = 0, hi = r->n_win;

    while (lo < hi) {              /* first span starting after tick */
        size_t mid = lo + (hi - lo) / 2;
        if (r->win[2 * mid] <= tick)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && tick < r->win[2 * (lo - 1) + 1];
}

/* Contract (tt.h): the spans of the contexts named `name`. */
int tt_reader_context_spans(const tt_reader_t *r, const char *name,
                            int prefix, uint64_t **out, size_t *n)
{
    size_t k = 0, len;
    uint64_t *s;

    if (r == NULL || name == NULL || out == NULL || n == NULL)
        return TT_EINVAL;
    *out = NULL;
    *n = 0;
    len = strlen(name);
    s = tt__malloc(((size_t)r->n_ctxs + 1) * 2 * sizeof *s);
    if (s == NULL)
        return TT_ENOMEM;
    for (uint32_t i = 0; i <= r->n_ctxs; i++) {
        const char *cn = i ? r->ctxs[i - 1].name : "";
        if (prefix ? strncmp(cn, name, len) != 0 : strcmp(cn, name) != 0)
            continue;
        s[2 * k] = i ? r->ctxs[i - 1].tick : 0;
        s[2 * k + 1] = i < r->n_ctxs ? r->ctxs[i].tick : UINT64_MAX;
        k++;
    }
    *out = s;
    *n = k;
    return 0;
}

/* ------------------------------------------------ lines and contexts */

typedef struct {
    tt_line_context_t *slots;      /* line == INT32_MIN: empty */
    size_t bits, n;
} lcset;

static size_t lc_hash(uint32_t code, int32_t line, uint32_t ctx,
                      size_t bits)
{
    uint64_t k = ((uint64_t)code << 32 | (uint32_t)line) * 0x9E3779B97F4A7C15ull;
    k ^= (uint64_t)ctx * 0xC2B2AE3D27D4EB4Full;
    return (size_t)((k * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

static int lcset_grow(lcset *s)
{
    size_t bits = s->slots ? s->bits + 1 : 10, cap = (size_t)1 << bits;
    tt_line_context_t *t = tt__malloc(cap * sizeof *t);

    if (t == NULL)
        return TT_ENOMEM;
    for (size_t i = 0; i < cap; i++)
        t[i].line = INT32_MIN;
    for (size_t i = 0; s->slots && i < ((size_t)1 << s->bits); i++) {
        tt_line_context_t *e = &s->slots[i];
        size_t j;
        if (e->line == INT32_MIN)
            continue;
        j = lc_hash(e->code, e->line, e->context, bits);
        while (t[j].line != INT32_MIN)
            j = (j + 1) & (cap - 1);
        t[j] = *e;
    }
    tt__free(s->slots);
    s->slots = t;
    s->bits = bits;
    return 0;
}

static int lcset_add(lcset *s, uint32_t code, int32_t line, uint32_t ctx)
{
    size_t j, mask;

    if (line == INT32_MIN)
        return 0;
    if ((s->slots == NULL || (s->n + 1) * 2 > ((size_t)1 << s->bits)) &&
        lcset_grow(s) < 0)
        return TT_ENOMEM;
    mask = ((size_t)1 << s->bits) - 1;
    j = lc_hash(code, line, ctx, s->bits);
    while (s->slots[j].line != INT32_MIN) {
        tt_line_context_t *e = &s->slots[j];
        if (e->code == code && e->line == line && e->context == ctx)
            return 0;
        j = (j + 1) & mask;
    }
    s->slots[j].code = code;
    s->slots[j].line = line;
    s->slots[j].context = ctx;
    s->n++;
    return 0;
}

static int cmp_lc(const void *a, const void *b)
{
    const tt_line_context_t *x = a, *y = b;
    if (x->code != y->code)
        return x->code < y->code ? -1 : 1;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return (x->context > y->context) - (x->context < y->context);
}

/* LINE events, each in the context in force at its tick. */
static int lc_events(tt_reader_t *r, lcset *s)
{
    tt_event_t evs[256];
    int k, rc = tt_reader_select_thread(r, UINT32_MAX);

    while (rc == 0 && (k = tt_reader_next_batch(r, evs, 256)) != 0) {
        if (k == TT_ECANCELED || k == TT_ENOMEM)
            return k;
        if (k < 0)
            continue;                  /* a malformed chunk: go on */
        for (int i = 0; i < k && rc == 0; i++)
            if (evs[i].kind == TT_EV_LINE && evs[i].line >= 1)
                rc = lcset_add(s, evs[i].code, evs[i].line,
                               tt_reader_context_at(r, evs[i].tick));
    }
    return rc;
}

/* Contract (tt.h). */
int tt_line_contexts(tt_reader_t *r, tt_line_context_t **out, size_t *n)
{
    lcset s = {NULL, 0, 0};
    tt_line_counts_t *lc = NULL;
    size_t k = 0;
    int rc;

    if (r == NULL || out == NULL || n == NULL)
        return TT_EINVAL;
    *out = NULL;
    *n = 0;
    rc = lc_events(r, &s);
    if (rc == 0)
        rc = tt_line_counts_read(r, &lc);
    for (uint32_t i = 0; rc == 0 && i < tt_line_counts_n(lc); i++) {
        const tt_code_counts_t *c = tt_line_counts_get(lc, i);
        for (uint32_t j = 0; j < c->n && rc == 0; j++)
            if (c->lines[j] >= 1)
                rc = lcset_add(&s, c->code, c->lines[j], c->context);
    }
    tt_line_counts_free(lc);
    if (rc < 0) {
        tt__free(s.slots);
        return rc;
    }
    for (size_t i = 0; s.slots && i < ((size_t)1 << s.bits); i++)
        if (s.slots[i].line != INT32_MIN)
            s.slots[k++] = s.slots[i];
    if (k)
        qsort(s.slots, k, sizeof *s.slots, cmp_lc);
    *out = s.slots;
    *n = k;
    return 0;
}

void tt_line_contexts_free(tt_line_context_t *v)
{
    tt__free(v);
}

void tt_spans_free(uint64_t *spans)
{
    tt__free(spans);
}
