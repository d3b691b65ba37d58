/* tt_analyze_objects.c - the object-lifetime analysis: replays OBJ_CREATE
 * and OBJ_DESTROY through a live table keyed by address, folds in the 0x81
 * aggregate chunks (count-mode rows, stop-time survivor verdicts), and
 * produces per-(site, type) and per-type statistics with log2 lifetimes.
 * Must not: print, or call a survivor verified unless the capture said so.
 * Threads: one analysis, one thread (it drives its reader).
 */
#include <stdlib.h>
#include <string.h>

#include "tt_objects_int.h"
#include "tt_reader_int.h"

#define LIVE_UNVERIFIED 0x1u
#define LIVE_IMPORT     0x2u      /* created during an import span */
#define EMPTY_ROW       UINT32_MAX

/* A live object during the replay: 24 bytes. */
typedef struct {
    uint64_t addr;
    uint64_t birth;           /* tick */
    uint32_t row;             /* site row; EMPTY_ROW marks a free slot */
    uint32_t flags;
} live_t;

struct tt_objects {
    tt_objects_summary_t sum;
    tt_objstat_t *rows;       /* owned: one per (code, line, type) */
    uint32_t n_rows;
    size_t cap_rows;
    uint32_t *site_slots;     /* owned: hash of row indexes */
    uint32_t site_bits;
    live_t *live;             /* owned: open addressing, linear probing */
    uint32_t live_bits;
    uint64_t n_live;
    uint32_t *by_created, *by_survived;   /* owned: row orders */
    tt_objstat_t *types;      /* owned: per type id, compacted at the end */
    uint32_t n_types;
    const tt_reader_t *r;     /* borrowed during analysis */
    uint64_t repaired_capture;
    uint64_t row_created;        /* creations counted by 0x81 rows */
    uint32_t *canon;          /* owned: type id -> first id of its name (a
                                 type recreated at another address, or
                                 re-registered, is the same type to us) */
    tt_objspan_t *spans;      /* owned: import spans, by (thread, start) */
    size_t n_spans, cap_spans;
    struct objpath *paths;    /* owned: referrer chains, file order */
    size_t n_paths, cap_paths;
};

/* A PATH record: the survivor it explains and its steps. */
struct objpath {
    uint64_t addr;
    uint32_t row;             /* EMPTY_ROW: the survivor is not in the data */
    uint32_t n;
    tt_objpath_step_t *steps; /* owned (one block with the labels) */
};

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

/* --------------------------------------------------------------- sites */

static uint64_t site_hash(uint32_t code, int32_t line, uint32_t type)
{
    return mix(((uint64_t)code << 32 | (uint32_t)line) ^
               mix((uint64_t)type + 0x9E3779B97F4A7C15ull));
}

static int site_rehash(tt_objects_t *o, uint32_t bits)
{
    size_t n = (size_t)1 << bits, mask = n - 1;
    uint32_t *s = tt__malloc(n * sizeof *s);
    if (s == NULL)
        return TT_ENOMEM;
    memset(s, 0xff, n * sizeof *s);
    for (uint32_t i = 0; i < o->n_rows; i++) {
        const tt_objstat_t *r = &o->rows[i];
        size_t h = (size_t)site_hash(r->code, r->line, r->type) & mask;
        while (s[h] != EMPTY_ROW)
            h = (h + 1) & mask;
        s[h] = i;
    }
    tt__free(o->site_slots);
    o->site_slots = s;
    o->site_bits = bits;
    return 0;
}

/* The row of (code, line, type), created empty on first use. 0 and *row,
 * or TT_ENOMEM with nothing changed. */
static int site_get(tt_objects_t *o, uint32_t code, int32_t line,
                    uint32_t type, uint32_t *row)
{
    size_t mask, h;
    tt_objstat_t *r;
    void *p;

    if ((uint64_t)(o->n_rows + 1) * 2 > ((uint64_t)1 << o->site_bits) &&
        site_rehash(o, o->site_bits + 1) < 0)
        return TT_ENOMEM;
    mask = ((size_t)1 << o->site_bits) - 1;
    h = (size_t)site_hash(code, line, type) & mask;
    while (o->site_slots[h] != EMPTY_ROW) {
        r = &o->rows[o->site_slots[h]];
        if (r->code == code && r->line == line && r->type == type) {
            *row = o->site_slots[h];
            return 0;
        }
        h = (h + 1) & mask;
    }
    p = o->rows;
    if (tt__grow(&p, &o->cap_rows, (size_t)o->n_rows + 1, sizeof *o->rows) < 0)
        return TT_ENOMEM;
    o->rows = p;
    r = &o->rows[o->n_rows];
    memset(r, 0, sizeof *r);
    r->code = code;
    r->line = line;
    r->offset = TT_NO_OFFSET;
    r->type = type;
    o->site_slots[h] = o->n_rows;
    *row = o->n_rows++;
    return 0;
}

/* A site's line: an offset-only site is resolved through its code's line
 * table. */
static int32_t site_line(const tt_objects_t *o, uint32_t code, int32_t line,
                         uint32_t offset)
{
    const tt_code_def_t *c;
    if (offset == TT_NO_OFFSET || code == TT_NO_CODE)
        return line;
    c = tt_reader_code(o->r, code);
    return c ? tt_code_line_at(c, offset) : line;
}

/* ---------------------------------------------------------- live table */

static int live_rehash(tt_objects_t *o, uint32_t bits)
{
    size_t n = (size_t)1 << bits, mask = n - 1, old = o->live ?
               (size_t)1 << o->live_bits : 0;
    live_t *t = tt__malloc(n * sizeof *t);
    if (t == NULL)
        return TT_ENOMEM;
    for (size_t i = 0; i < n; i++)
        t[i].row = EMPTY_ROW;
    for (size_t i = 0; i < old; i++) {
        size_t h;
        if (o->live[i].row == EMPTY_ROW)
            continue;
        h = (size_t)mix(o->live[i].addr) & mask;
        while (t[h].row != EMPTY_ROW)
            h = (h + 1) & mask;
        t[h] = o->live[i];
    }
    tt__free(o->live);
    o->live = t;
    o->live_bits = bits;
    return 0;
}

static live_t *live_find(const tt_objects_t *o, uint64_t addr)
{
    size_t mask = ((size_t)1 << o->live_bits) - 1;
    size_t h = (size_t)mix(addr) & mask;
    while (o->live[h].row != EMPTY_ROW) {
        if (o->live[h].addr == addr)
            return &o->live[h];
        h = (h + 1) & mask;
    }
    return NULL;
}

/* Removes e (a slot of the table) by backward shifting, so lookups never
 * need tombstones. */
static void live_remove(tt_objects_t *o, live_t *e)
{
    size_t mask = ((size_t)1 << o->live_bits) - 1;
    size_t i = (size_t)(e - o->live), j = i;
    for (;;) {
        size_t k;
        j = (j + 1) & mask;
        if (o->live[j].row == EMPTY_ROW)
            break;
        k = (size_t)mix(o->live[j].addr) & mask;
        /* move j back to i if its home k is not cyclically in (i, j] */
        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            o->live[i] = o->live[j];
            i = j;
        }
    }
    o->live[i].row = EMPTY_ROW;
    o->n_live--;
}

/* Inserts a new live object; addr must not be live. 0 or TT_ENOMEM. */
static int live_insert(tt_objects_t *o, uint64_t addr, uint64_t birth,
                       uint32_t row)
{
    size_t mask, h;
    if ((o->n_live + 1) * 4 > ((uint64_t)3 << o->live_bits) &&
        live_rehash(o, o->live_bits + 1) < 0)
        return TT_ENOMEM;
    mask = ((size_t)1 << o->live_bits) - 1;
    h = (size_t)mix(addr) & mask;
    while (o->live[h].row != EMPTY_ROW)
        h = (h + 1) & mask;
    o->live[h].addr = addr;
    o->live[h].birth = birth;
    o->live[h].row = row;
    o->live[h].flags = 0;
    o->n_live++;
    return 0;
}

/* -------------------------------------------------------------- replay */

/* 1 if thread's time `tick` falls in an import span (binary search over
 * the spans, sorted by thread then start; spans of a thread do not
 * overlap: each is the outermost import of a nesting). */
static int in_import(const tt_objects_t *o, uint32_t thread, uint64_t tick)
{
    size_t lo = 0, hi = o->n_spans;
    while (lo < hi) {           /* first span after (thread, tick) */
        size_t mid = lo + (hi - lo) / 2;
        const tt_objspan_t *s = &o->spans[mid];
        if (s->thread < thread || (s->thread == thread && s->start <= tick))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && o->spans[lo - 1].thread == thread &&
           o->spans[lo - 1].end >= tick;
}

static int on_create(tt_objects_t *o, const tt_event_t *ev)
{
    int32_t line;
    live_t *e;
    uint32_t row;
    int rc;

    /* A type id past the table: its definition was lost with a damaged
     * DEFS chunk of an older writer (FORMAT.md §9). Nothing to file it
     * under; its DESTROY will count as unmatched. */
    if (ev->type >= tt_reader_n_types(o->r))
        return 0;
    line = site_line(o, ev->code, ev->line, ev->offset);
    rc = site_get(o, ev->code, line, o->canon[ev->type], &row);
    if (rc < 0)
        return rc;
    o->rows[row].created++;
    e = live_find(o, ev->addr);
    if (e != NULL) {
        /* The address is reused: the object we held live died unseen. */
        o->rows[e->row].died_unseen++;
        o->sum.repaired++;
        e->birth = ev->tick;
        e->row = row;
        e->flags = 0;
    } else {
        rc = live_insert(o, ev->addr, ev->tick, row);
        if (rc < 0)
            return rc;
        e = live_find(o, ev->addr);
    }
    if (o->n_spans && in_import(o, ev->thread, ev->tick))
        e->flags |= LIVE_IMPORT;
    return 0;
}

static void on_destroy(tt_objects_t *o, const tt_event_t *ev)
{
    live_t *e = live_find(o, ev->addr);
    tt_objstat_t *r;
    if (e == NULL) {
        o->sum.unmatched_destroys++;
        return;
    }
    r = &o->rows[e->row];
    r->destroyed++;
    r->lifetime[tt__obj_bucket(ev->tick >= e->birth ? ev->tick - e->birth
                                                    : 0)]++;
    live_remove(o, e);
}

/* ------------------------------------------------------ 0x81 chunks */

static int sink_summary(void *ctx, const tt_objagg_summary_t *s)
{
    tt_objects_t *o = ctx;
    if (s->flags & TT_OBJAGG_CHECKED)
        o->sum.checked = 1;
    if (s->flags & TT_OBJAGG_ROWS)
        o->sum.aggregated = 1;
    o->repaired_capture += s->repaired;
    o->sum.filtered += s->filtered;
    return 0;
}

static int sink_row(void *ctx, const tt_objstat_t *in)
{
    tt_objects_t *o = ctx;
    int32_t line = site_line(o, in->code, in->line, in->offset);
    tt_objstat_t *r;
    uint32_t row;
    int rc = site_get(o, in->code, line, o->canon[in->type], &row);
    if (rc < 0)
        return rc;
    r = &o->rows[row];
    o->row_created += in->created;
    r->created += in->created;
    r->destroyed += in->destroyed;
    r->survived += in->survived;
    r->unverified += in->unverified;
    r->died_unseen += in->died_unseen;
    for (int b = 0; b < TT_OBJ_BUCKETS; b++)
        r->lifetime[b] += in->lifetime[b];
    return 0;
}

static int sink_verdict(void *ctx, int status, uint64_t addr)
{
    tt_objects_t *o = ctx;
    live_t *e = live_find(o, addr);
    if (e == NULL)
        return 0;
    if (status == TT__OA_DEAD) {
        o->rows[e->row].died_unseen++;
        live_remove(o, e);
    } else {
        e->flags |= LIVE_UNVERIFIED;
    }
    return 0;
}

static int sink_span(void *ctx, const tt_objspan_t *in)
{
    tt_objects_t *o = ctx;
    void *p = o->spans;
    if (tt__grow(&p, &o->cap_spans, o->n_spans + 1, sizeof *o->spans) < 0)
        return TT_ENOMEM;
    o->spans = p;
    o->spans[o->n_spans++] = *in;
    return 0;
}

static int sink_path(void *ctx, uint64_t addr, tt_objpath_step_t *steps,
                     uint32_t n)
{
    tt_objects_t *o = ctx;
    void *p = o->paths;
    if (tt__grow(&p, &o->cap_paths, o->n_paths + 1, sizeof *o->paths) < 0) {
        tt__free(steps);
        return TT_ENOMEM;
    }
    o->paths = p;
    o->paths[o->n_paths].addr = addr;
    o->paths[o->n_paths].row = EMPTY_ROW;
    o->paths[o->n_paths].n = n;
    o->paths[o->n_paths++].steps = steps;
    return 0;
}

static int cmp_span(const void *a, const void *b)
{
    const tt_objspan_t *x = a, *y = b;
    if (x->thread != y->thread)
        return x->thread < y->thread ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Decodes every 0x81 chunk into `sink`. 0 or TT_ENOMEM; a malformed
 * chunk is counted in bad_chunks if `count_bad`. */
static int decode_chunks(tt_objects_t *o, const tt_reader_t *r,
                         const tt__objagg_sink *sink, int count_bad)
{
    for (uint32_t i = 0; i < r->n_anc; i++) {
        const tt__ancchunk *a = &r->anc[i];
        int rc;
        if (a->type != TT_CHUNK_OBJAGG)
            continue;
        rc = tt__objagg_decode(a->payload, a->len, a->n_codes, a->n_types,
                               sink, o);
        if (rc == TT_ENOMEM)
            return rc;
        if (rc < 0 && count_bad)
            o->sum.bad_chunks++;
    }
    return 0;
}

/* Before the replay: the import spans and referrer chains of the 0x81
 * chunks (a malformed chunk is counted once, by apply_chunks). */
static int read_extras(tt_objects_t *o, const tt_reader_t *r)
{
    static const tt__objagg_sink sink = {NULL, NULL, NULL, sink_span,
                                         sink_path};
    size_t k = 0;
    int rc = decode_chunks(o, r, &sink, 0);
    if (rc < 0)
        return rc;
    if (o->n_spans > 1)
        qsort(o->spans, o->n_spans, sizeof *o->spans, cmp_span);
    /* Overlapping spans of one thread (two writers' views) merge. */
    for (size_t i = 0; i < o->n_spans; i++) {
        if (k > 0 && o->spans[k - 1].thread == o->spans[i].thread &&
            o->spans[i].start <= o->spans[k - 1].end) {
            if (o->spans[i].end > o->spans[k - 1].end)
                o->spans[k - 1].end = o->spans[i].end;
            continue;
        }
        o->spans[k++] = o->spans[i];
    }
    o->n_spans = k;
    o->sum.n_import_spans = (uint32_t)k;
    return 0;
}

static int apply_chunks(tt_objects_t *o, const tt_reader_t *r)
{
    static const tt__objagg_sink sink = {sink_summary, sink_row,
                                         sink_verdict, NULL, NULL};
    return decode_chunks(o, r, &sink, 1);
}

/* ------------------------------------------------------------ results */

static const tt_objstat_t *sort_rows;   /* qsort context (one thread) */

static int cmp_created(const void *a, const void *b)
{
    const tt_objstat_t *x = &sort_rows[*(const uint32_t *)a];
    const tt_objstat_t *y = &sort_rows[*(const uint32_t *)b];
    if (x->created != y->created)
        return x->created < y->created ? 1 : -1;
    if (x->survived != y->survived)
        return x->survived < y->survived ? 1 : -1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static int cmp_survived(const void *a, const void *b)
{
    const tt_objstat_t *x = &sort_rows[*(const uint32_t *)a];
    const tt_objstat_t *y = &sort_rows[*(const uint32_t *)b];
    if (x->survived != y->survived)
        return x->survived < y->survived ? 1 : -1;
    return cmp_created(a, b);
}

static int cmp_type_created(const void *a, const void *b)
{
    const tt_objstat_t *x = a, *y = b;
    if (x->created != y->created)
        return x->created < y->created ? 1 : -1;
    return x->type < y->type ? -1 : x->type > y->type;
}

static int finish(tt_objects_t *o, uint32_t n_types)
{
    size_t cap = (size_t)1 << o->live_bits;
    uint32_t k = 0;

    /* What is still live survived; unverified unless the capture checked. */
    for (size_t i = 0; i < cap; i++) {
        live_t *e = &o->live[i];
        if (e->row == EMPTY_ROW)
            continue;
        o->rows[e->row].survived++;
        if (!o->sum.checked || (e->flags & LIVE_UNVERIFIED))
            o->rows[e->row].unverified++;
        if (e->flags & LIVE_IMPORT) {
            o->rows[e->row].survived_import++;
            if (!o->sum.checked || (e->flags & LIVE_UNVERIFIED))
                o->rows[e->row].unverified_import++;
        }
    }
    for (size_t i = 0; i < o->n_paths; i++) {
        live_t *e = live_find(o, o->paths[i].addr);
        o->paths[i].row = e != NULL ? e->row : EMPTY_ROW;
    }
    o->sum.n_paths = (uint32_t)o->n_paths;
    o->sum.repaired += o->repaired_capture;
    if (!o->sum.aggregated)
        o->sum.unlogged = o->row_created;
    o->types = tt__malloc(((size_t)n_types + 1) * sizeof *o->types);
    o->by_created = tt__malloc(((size_t)o->n_rows + 1) * sizeof(uint32_t));
    o->by_survived = tt__malloc(((size_t)o->n_rows + 1) * sizeof(uint32_t));
    if (o->types == NULL || o->by_created == NULL || o->by_survived == NULL)
        return TT_ENOMEM;
    memset(o->types, 0, ((size_t)n_types + 1) * sizeof *o->types);
    for (uint32_t t = 0; t < n_types; t++) {
        o->types[t].type = t;
        o->types[t].code = TT_NO_CODE;
        o->types[t].line = TT_NO_LINE;
        o->types[t].offset = TT_NO_OFFSET;
    }
    for (uint32_t i = 0; i < o->n_rows; i++) {
        const tt_objstat_t *r = &o->rows[i];
        tt_objstat_t *t = &o->types[r->type];
        t->created += r->created;
        t->destroyed += r->destroyed;
        t->survived += r->survived;
        t->unverified += r->unverified;
        t->died_unseen += r->died_unseen;
        t->survived_import += r->survived_import;
        t->unverified_import += r->unverified_import;
        for (int b = 0; b < TT_OBJ_BUCKETS; b++)
            t->lifetime[b] += r->lifetime[b];
        o->sum.survived_import += r->survived_import;
        o->sum.unverified_import += r->unverified_import;
        o->sum.created += r->created;
        o->sum.destroyed += r->destroyed;
        o->sum.survived += r->survived;
        o->sum.unverified += r->unverified;
        o->sum.died_unseen += r->died_unseen;
        o->by_created[i] = o->by_survived[i] = i;
    }
    for (uint32_t t = 0; t < n_types; t++)
        if (o->types[t].created || o->types[t].died_unseen)
            o->types[k++] = o->types[t];
    o->n_types = k;
    qsort(o->types, k, sizeof *o->types, cmp_type_created);
    sort_rows = o->rows;
    qsort(o->by_created, o->n_rows, sizeof(uint32_t), cmp_created);
    qsort(o->by_survived, o->n_rows, sizeof(uint32_t), cmp_survived);
    sort_rows = NULL;
    o->sum.n_sites = o->n_rows;
    o->sum.n_types = k;
    /* Unchecked (a file cut short): nothing is verified, not even the
     * absence of survivors (the last objects' events may not have reached
     * the file). */
    o->sum.complete_deaths = o->sum.checked && o->sum.unverified == 0;
    return 0;
}

/* Types that share a name share statistics. 0 or TT_ENOMEM. */
static int make_canon(tt_objects_t *o, const tt_reader_t *r)
{
    uint32_t n = r->n_types, bits = 4;
    uint32_t *slots;
    while (((size_t)1 << bits) < (size_t)n * 2 + 2)
        bits++;
    o->canon = tt__malloc(((size_t)n + 1) * sizeof *o->canon);
    slots = tt__malloc(((size_t)1 << bits) * sizeof *slots);
    if (o->canon == NULL || slots == NULL) {
        tt__free(slots);
        return TT_ENOMEM;
    }
    memset(slots, 0xff, ((size_t)1 << bits) * sizeof *slots);
    for (uint32_t t = 0; t < n; t++) {
        uint32_t name = r->types[t].name;
        size_t mask = ((size_t)1 << bits) - 1, h = (size_t)mix(name) & mask;
        while (slots[h] != UINT32_MAX && r->types[slots[h]].name != name)
            h = (h + 1) & mask;
        if (slots[h] == UINT32_MAX)
            slots[h] = t;
        o->canon[t] = slots[h];
    }
    tt__free(slots);
    return 0;
}

/* See tt.h. */
int tt_objects_analyze(tt_reader_t *r, tt_objects_t **out)
{
    tt_objects_t *o;
    tt_event_t evs[256];
    int rc;

    if (out == NULL)
        return TT_EINVAL;
    *out = NULL;
    if (r == NULL)
        return TT_EINVAL;
    o = tt__malloc(sizeof *o);
    if (o == NULL)
        return TT_ENOMEM;
    memset(o, 0, sizeof *o);
    o->r = r;
    rc = site_rehash(o, 6);
    if (rc == 0)
        rc = live_rehash(o, 10);
    if (rc == 0)
        rc = make_canon(o, r);
    if (rc == 0)
        rc = read_extras(o, r);
    if (rc == 0)
        rc = tt_reader_select_thread(r, UINT32_MAX);
    while (rc == 0) {
        int n = tt_reader_next_batch(r, evs, 256);
        if (n == 0)
            break;
        if (n < 0) {
            if (n == TT_ENOMEM || n == TT_ECANCELED)
                rc = n;
            continue;                 /* a malformed chunk: skipped */
        }
        for (int i = 0; i < n && rc == 0; i++) {
            if (evs[i].kind == TT_EV_OBJ_CREATE)
                rc = on_create(o, &evs[i]);
            else if (evs[i].kind == TT_EV_OBJ_DESTROY)
                on_destroy(o, &evs[i]);
        }
    }
    if (rc == 0)
        rc = apply_chunks(o, r);
    if (rc == 0)
        rc = finish(o, r->n_types);
    o->r = NULL;
    if (rc < 0) {
        tt_objects_free(o);
        return rc;
    }
    *out = o;
    return 0;
}

const tt_objects_summary_t *tt_objects_summary(const tt_objects_t *o)
{
    return o ? &o->sum : NULL;
}

const tt_objstat_t *tt_objects_site(const tt_objects_t *o, int order,
                                    uint32_t i)
{
    if (o == NULL || i >= o->n_rows)
        return NULL;
    return &o->rows[order == TT_OBJ_BY_SURVIVED ? o->by_survived[i]
                                                : o->by_created[i]];
}

const tt_objstat_t *tt_objects_type(const tt_objects_t *o, uint32_t i)
{
    return (o == NULL || i >= o->n_types) ? NULL : &o->types[i];
}

uint64_t tt_objstat_lifetime(const tt_objstat_t *s, double q)
{
    uint64_t total = 0, rank, seen = 0;
    if (s == NULL)
        return UINT64_MAX;
    for (int b = 0; b < TT_OBJ_BUCKETS; b++)
        total += s->lifetime[b];
    if (total == 0)
        return UINT64_MAX;
    if (!(q > 0))
        q = 0;
    if (q > 1)
        q = 1;
    rank = (uint64_t)(q * (double)total);
    if (rank >= total)
        rank = total - 1;
    for (int b = 0; b < TT_OBJ_BUCKETS; b++) {
        seen += s->lifetime[b];
        if (seen > rank)
            return b == 0 ? 0 : (b >= 64 ? UINT64_MAX : ((uint64_t)1 << b) - 1);
    }
    return UINT64_MAX;
}

/* See tt.h. */
int tt_objects_path(const tt_objects_t *o, uint32_t i,
                    const tt_objstat_t **site,
                    const tt_objpath_step_t **steps, uint32_t *n)
{
    if (o == NULL || site == NULL || steps == NULL || n == NULL ||
        i >= o->n_paths)
        return TT_EINVAL;
    *site = o->paths[i].row == EMPTY_ROW ? NULL : &o->rows[o->paths[i].row];
    *steps = o->paths[i].steps;
    *n = o->paths[i].n;
    return 0;
}

void tt_objects_free(tt_objects_t *o)
{
    if (o == NULL)
        return;
    for (size_t i = 0; i < o->n_paths; i++)
        tt__free(o->paths[i].steps);
    tt__free(o->paths);
    tt__free(o->spans);
    tt__free(o->rows);
    tt__free(o->site_slots);
    tt__free(o->live);
    tt__free(o->by_created);
    tt__free(o->by_survived);
    tt__free(o->types);
    tt__free(o->canon);
    tt__free(o);
}
