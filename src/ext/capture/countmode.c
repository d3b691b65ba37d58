/* countmode.c - `tracetap run --count`: per-code-object line hit counts in
 * flat arrays, written as 0x80 chunks at stop instead of an event log.
 *
 * Owns: sizing each traced code object's array (indexed by line -
 * count_base, from the lines its line table names) and writing the arrays
 * through tt_writer_line_counts, the arc tables of --count --branch
 * (capture_count_arc, written through tt_writer_arc_counts), and their
 * coverage totals for the run summary. The increments themselves are inline in capture.c
 * (capture_count_line). Must not: run Python code. GIL: held.
 */
#include "capture_int.h"

#include <stdlib.h>

int
capture_counts_alloc(capture_rec_t *rec, capture_code_t *c)
{
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    uint32_t i;

    for (i = 0; i < c->n_units; i++) {
        int32_t line = c->lines[i];
        if (line == TT_NO_LINE || line < 0)
            continue;
        if (line < lo)
            lo = line;
        if (line > hi)
            hi = line;
    }
    if (lo > hi)
        return 0;                 /* no line: nothing can be counted */
    c->count_base = lo;
    c->count_span = (uint32_t)((int64_t)hi - lo + 1);
    /* the counts, then a byte per slot: ran before the last switch */
    c->counts = PyMem_RawCalloc(c->count_span, sizeof(uint64_t) + 1);
    if (c->counts == NULL) {
        c->count_span = 0;
        rec->problems.nomem++;
        return -1;
    }
    return 0;
}

static uint32_t
arc_slot(int32_t from, int32_t to, uint32_t bits)
{
    uint64_t k = ((uint64_t)(uint32_t)from << 32) | (uint32_t)to;
    return (uint32_t)ttx_fib_slot(k, bits);
}

/* Doubles c's arc table (or makes its first). 0, or -1 without memory. */
static int
arcs_grow(capture_code_t *c)
{
    uint32_t bits = c->arcs ? c->arc_bits + 1 : 4, i, j;
    uint32_t mask = (1u << bits) - 1;
    tt_cov_arc_t *t = PyMem_RawCalloc((size_t)1 << bits, sizeof(*t));

    if (t == NULL)
        return -1;
    for (i = 0; c->arcs != NULL && i < (1u << c->arc_bits); i++) {
        if (c->arcs[i].count == 0)
            continue;
        j = arc_slot(c->arcs[i].from, c->arcs[i].to, bits);
        while (t[j].count)
            j = (j + 1) & mask;
        t[j] = c->arcs[i];
    }
    PyMem_RawFree(c->arcs);
    c->arcs = t;
    c->arc_bits = bits;
    return 0;
}

/* The slot of (from, to) in c's arc table, made (count 0) when absent;
 * NULL without memory (counted). */
static tt_cov_arc_t *
arc_entry(capture_rec_t *rec, capture_code_t *c, int32_t from, int32_t to)
{
    uint32_t j, mask;

    if (TTX_UNLIKELY(c->arcs == NULL ||
                     (c->n_arcs + 1) * 2 > (1u << c->arc_bits)) &&
        arcs_grow(c) < 0) {
        rec->problems.nomem++;
        return NULL;
    }
    mask = (1u << c->arc_bits) - 1;
    j = arc_slot(from, to, c->arc_bits);
    while (c->arcs[j].count &&
           (c->arcs[j].from != from || c->arcs[j].to != to))
        j = (j + 1) & mask;
    if (c->arcs[j].count == 0) {
        c->arcs[j].from = from;
        c->arcs[j].to = to;
        c->n_arcs++;
    }
    return &c->arcs[j];
}

void
capture_count_arc(capture_rec_t *rec, capture_code_t *c, int32_t from,
                  int32_t to)
{
    tt_cov_arc_t *a = arc_entry(rec, c, from, to);
    if (a != NULL)
        a->count++;
}

void
capture_mark_arc(capture_rec_t *rec, capture_code_t *c, int32_t from,
                 int32_t to)
{
    tt_cov_arc_t *a = arc_entry(rec, c, from, to);
    if (a != NULL)
        a->count = 1;
}

/* Writes the counts (0x80) and arcs (0x83) of the codes `pick` yields:
 * the whole table at stop (codes without lines still count calls), the
 * counted list at a context switch. 0, or -1 (counted). */
static int
counts_write(capture_rec_t *rec, capture_code_t *(*pick)(capture_rec_t *,
                                                       size_t),
             size_t cap, size_t room)
{
    size_t i, n = 0, na = 0;
    tt_count_table_t *tabs;
    tt_code_arcs_t *arcs;
    int rc;

    room = room ? room : 1;
    tabs = PyMem_RawMalloc(room * sizeof(*tabs));
    arcs = PyMem_RawMalloc(room * sizeof(*arcs));
    if (tabs == NULL || arcs == NULL) {
        PyMem_RawFree(tabs);
        PyMem_RawFree(arcs);
        rec->problems.nomem++;
        return -1;
    }
    for (i = 0; i < cap; i++) {
        capture_code_t *c = pick(rec, i);
        if (c == NULL || !c->traced)
            continue;
        if (c->arcs != NULL) {
            arcs[na].code = c->id;
            arcs[na].n = 1u << c->arc_bits;  /* empty slots: count 0 */
            arcs[na].arcs = c->arcs;
            na++;
        }
        if (c->calls == 0 && c->counts == NULL)
            continue;
        tabs[n].code = c->id;
        tabs[n].calls = c->calls;
        tabs[n].base_line = c->count_base;
        tabs[n].n_slots = c->counts ? c->count_span : 0;
        tabs[n].counts = c->counts;
        n++;
    }
    rc = tt_writer_line_counts(rec->w, tabs, n);
    if (rc == 0 && na)
        rc = tt_writer_arc_counts(rec->w, arcs, na);
    PyMem_RawFree(tabs);
    PyMem_RawFree(arcs);
    if (rc < 0) {
        rec->problems.writer_errors++;
        return -1;
    }
    return 0;
}

static capture_code_t *
pick_slot(capture_rec_t *rec, size_t i)
{
    return rec->codes.slots[i];
}

static capture_code_t *
pick_dirty(capture_rec_t *rec, size_t i)
{
    return rec->dirty[i];
}

void
capture_counts_touch(capture_rec_t *rec, capture_code_t *c)
{
    if (rec->n_dirty == rec->cap_dirty) {
        uint32_t cap = rec->cap_dirty ? rec->cap_dirty * 2 : 64;
        capture_code_t **v = PyMem_RawRealloc(rec->dirty, cap * sizeof(*v));
        if (v == NULL) {
            rec->problems.nomem++;
            return;
        }
        rec->dirty = v;
        rec->cap_dirty = cap;
    }
    c->ctx_dirty = 1;
    rec->dirty[rec->n_dirty++] = c;
}

/* Marks the codes of every thread's running frames dirty: they can count
 * lines without a new CALL. */
static void
touch_stacks(capture_rec_t *rec)
{
    for (uint32_t i = 0; i < rec->n_threads; i++) {
        capture_thread_t *t = rec->threads[i];
        capture_frame_t *e;
        if (t == NULL || t->ended || t->stack == NULL)
            continue;
        for (e = t->stack + 1; e <= t->top; e++)
            if (e->code != NULL && e->code->counts != NULL &&
                !e->code->ctx_dirty)
                capture_counts_touch(rec, e->code);
    }
}

int
capture_counts_write(capture_rec_t *rec)
{
    capture_codetab_t *t = &rec->codes;
    return counts_write(rec, pick_slot,
                        t->slots ? (size_t)1 << t->bits : 0, t->count);
}

/* Writes the counts and arcs of the dirty codes (and of those on a
 * thread's stack) and zeroes them, remembering which lines ran. The dirty
 * list stays. 0, or -1 (counted; the counts are kept). */
static int
counts_flush_dirty(capture_rec_t *rec)
{
    uint32_t i, k;

    touch_stacks(rec);
    if (counts_write(rec, pick_dirty, rec->n_dirty, rec->n_dirty) < 0)
        return -1;
    for (i = 0; i < rec->n_dirty; i++) {
        capture_code_t *c = rec->dirty[i];
        uint8_t *ran = capture_counts_ran(c);
        c->calls = 0;
        for (k = 0; k < c->count_span; k++) {
            if (c->counts[k]) {
                ran[k] = 1;
                c->counts[k] = 0;
            }
        }
        if (c->arcs != NULL && c->n_arcs) {
            memset(c->arcs, 0, ((size_t)1 << c->arc_bits) * sizeof(*c->arcs));
            c->n_arcs = 0;
        }
    }
    return 0;
}

int
capture_counts_switch(capture_rec_t *rec)
{
    uint32_t i;

    if (counts_flush_dirty(rec) < 0)
        return -1;
    for (i = 0; i < rec->n_dirty; i++)
        rec->dirty[i]->ctx_dirty = 0;
    rec->n_dirty = 0;
    touch_stacks(rec);
    return 0;
}

int
capture_counts_periodic(capture_rec_t *rec)
{
    /* The list is the context's: --coverage re-arms its codes at the next
     * switch (capture_moncoverage_switch), flushed or not. */
    return counts_flush_dirty(rec);
}

typedef struct {
    uint32_t file;
    int32_t line;
    uint8_t ran;
} count_line_t;

static int
count_line_cmp(const void *a, const void *b)
{
    const count_line_t *x = a, *y = b;
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

int
capture_counts_totals(capture_rec_t *rec, tt_cov_summary_t *out)
{
    capture_codetab_t *t = &rec->codes;
    size_t i, n = 0, cap = t->slots ? (size_t)1 << t->bits : 0, total = 0;
    count_line_t *v;
    uint32_t u;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < cap; i++) {
        capture_code_t *c = t->slots[i];
        if (c != NULL && c->traced && c->lines != NULL && !c->pseudo_file)
            total += c->n_units + 1;
    }
    v = PyMem_RawMalloc((total ? total : 1) * sizeof(*v));
    if (v == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < cap; i++) {
        capture_code_t *c = t->slots[i];
        if (c == NULL || !c->traced || c->lines == NULL || c->pseudo_file)
            continue;
        v[n].file = c->file_id;         /* a file with a code counts */
        v[n].line = 0;
        v[n++].ran = 0;
        for (u = 0; u < c->n_units; u++) {
            int32_t line = c->lines[u];
            uint32_t k = (uint32_t)line - (uint32_t)c->count_base;
            if (line < 1 || (u > 0 && c->lines[u - 1] == line))
                continue;
            v[n].file = c->file_id;
            v[n].line = line;
            v[n++].ran = c->counts != NULL && k < c->count_span &&
                         (c->counts[k] != 0 || capture_counts_ran(c)[k]);
        }
    }
    qsort(v, n, sizeof(*v), count_line_cmp);
    for (i = 0; i < n; i++) {
        int first = i == 0 || v[i].file != v[i - 1].file;
        if (first)
            out->files++;
        if (v[i].line < 1)
            continue;
        if (first || v[i].line != v[i - 1].line) {
            out->executable++;
            out->covered += v[i].ran;
        } else if (v[i].ran && !v[i - 1].ran) {
            out->covered++;             /* a later code ran it */
            v[i].ran = 1;
        } else {
            v[i].ran |= v[i - 1].ran;
        }
    }
    PyMem_RawFree(v);
    return 0;
}
