/* tt_analyze_calls.c - the call analysis: one pass over CALL/RETURN in
 * merged order through a shadow stack per thread into a call tree (one node
 * per distinct path and thread), then per-function and caller/callee rows
 * derived from the tree. Memory is bounded by the number of call paths.
 * Must not: print, or use anything but tt.h's public reader API on r.
 * Threads: one analysis, one thread (it drives its reader).
 */
#include <stdlib.h>
#include <string.h>

#include "tt_internal.h"
#include "tt_objects_int.h"
#include "tt_reader_int.h"

#define NONE UINT32_MAX

/* A node as the analysis keeps it: the public part, then what the hot
 * path needs. */
typedef struct {
    tt_callnode_t pub;
    uint32_t last_child;          /* the child the last CALL went to */
    tt__genrule_t gen;            /* creation or resumption (tt_analyze_pair.c) */
} node_t;

/* An open activation on a thread's shadow stack: 24 bytes. The code
 * comes first, as tt__pair_return reads it. */
typedef struct {
    uint32_t code;
    uint32_t node;
    uint64_t start_ns;
    uint64_t child_ns;            /* inclusive time of closed children */
} frame_t;

typedef struct {
    frame_t *st;                  /* owned */
    size_t n, cap;
    uint32_t last_root;           /* the root node the last root CALL hit */
    uint64_t last_tick;           /* the thread's last event */
    int seen;
    tt_calls_thread_t info;
} thr_t;

/* An open-addressing table of row indexes keyed by three uint32s; the
 * rows hold the keys (the caller passes a key reader). */
typedef struct {
    uint32_t *slots;              /* owned; NONE marks a free slot */
    uint32_t bits;
    uint32_t n;
} idx_t;

struct tt_calls {
    tt_calls_summary_t sum;
    node_t *nodes;                /* owned */
    size_t cap_nodes;
    idx_t node_idx;               /* (parent, code, thread) -> node */
    thr_t *thr;                   /* owned, per thread id */
    size_t n_thr;
    tt_callstat_t *funcs;         /* owned, built by finish */
    size_t cap_funcs;
    tt_calledge_t *edges;         /* owned, built by finish */
    size_t cap_edges;
    tt_reader_t *r;               /* borrowed during analysis */
    int marked;                   /* r marks resumptions (tt_reader_marked) */
};

/* ------------------------------------------------------------ the index */

static uint64_t mix3(uint32_t a, uint32_t b, uint32_t c)
{
    uint64_t h = ((uint64_t)a << 32 | b) ^ ((uint64_t)c * 0x9E3779B97F4A7C15ull);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

typedef void (*key_fn)(const void *rows, uint32_t i, uint32_t k[3]);

static int idx_rehash(idx_t *x, uint32_t bits, const void *rows, key_fn key)
{
    size_t n = (size_t)1 << bits, mask = n - 1;
    uint32_t *s = tt__malloc(n * sizeof *s), k[3];
    if (s == NULL)
        return TT_ENOMEM;
    memset(s, 0xff, n * sizeof *s);
    for (uint32_t i = 0; i < x->n; i++) {
        size_t h;
        key(rows, i, k);
        h = (size_t)mix3(k[0], k[1], k[2]) & mask;
        while (s[h] != NONE)
            h = (h + 1) & mask;
        s[h] = i;
    }
    tt__free(x->slots);
    x->slots = s;
    x->bits = bits;
    return 0;
}

/* Finds (a, b, c). Returns 1 and *row if present; 0 and *slot (where a new
 * row goes, after the table has room for one more) if absent; TT_ENOMEM. */
static int idx_find(idx_t *x, const void *rows, key_fn key, uint32_t a,
                    uint32_t b, uint32_t c, uint32_t *row, size_t *slot)
{
    size_t mask, h;
    uint32_t k[3];

    if (((uint64_t)x->n + 1) * 2 > ((uint64_t)1 << x->bits) &&
        idx_rehash(x, x->bits + 1, rows, key) < 0)
        return TT_ENOMEM;
    mask = ((size_t)1 << x->bits) - 1;
    h = (size_t)mix3(a, b, c) & mask;
    while (x->slots[h] != NONE) {
        key(rows, x->slots[h], k);
        if (k[0] == a && k[1] == b && k[2] == c) {
            *row = x->slots[h];
            return 1;
        }
        h = (h + 1) & mask;
    }
    *slot = h;
    return 0;
}

static void node_key(const void *rows, uint32_t i, uint32_t k[3])
{
    const node_t *n = (const node_t *)rows + i;
    k[0] = n->pub.parent;
    k[1] = n->pub.code;
    k[2] = n->pub.thread;
}

static void func_key(const void *rows, uint32_t i, uint32_t k[3])
{
    const tt_callstat_t *f = (const tt_callstat_t *)rows + i;
    k[0] = f->code;
    k[1] = f->thread;
    k[2] = 0;
}

static void edge_key(const void *rows, uint32_t i, uint32_t k[3])
{
    const tt_calledge_t *e = (const tt_calledge_t *)rows + i;
    k[0] = e->caller;
    k[1] = e->callee;
    k[2] = e->thread;
}

/* ------------------------------------------------------------ the tree */

/* Flags of a new node: whether its code, and its (caller, callee) pair,
 * already occur among its ancestors. O(depth), once per distinct path. */
static uint32_t node_flags(const tt_calls_t *c, uint32_t parent, uint32_t code)
{
    uint32_t pcode = parent == NONE ? TT_NO_CODE : c->nodes[parent].pub.code;
    uint32_t flags = TT_CALLNODE_PRIMITIVE | TT_CALLNODE_EDGE_PRIM;
    for (uint32_t a = parent; a != NONE; a = c->nodes[a].pub.parent) {
        const tt_callnode_t *an = &c->nodes[a].pub;
        uint32_t apc = an->parent == NONE ? TT_NO_CODE
                                          : c->nodes[an->parent].pub.code;
        if (an->code == code) {
            flags &= ~TT_CALLNODE_PRIMITIVE;
            if (apc == pcode)
                return 0;
        }
    }
    return flags;
}

/* The child of `parent` (NONE: a root of `thread`) for `code`, created on
 * first use. 0 and *out, or TT_ENOMEM with nothing changed. */
static int node_get(tt_calls_t *c, uint32_t parent, uint32_t code,
                    uint32_t thread, uint32_t *out)
{
    node_t *n;
    size_t slot;
    void *p;
    int rc = idx_find(&c->node_idx, c->nodes, node_key, parent, code, thread,
                      out, &slot);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    if (c->node_idx.n >= NONE - 1)
        return TT_ELIMIT;
    p = c->nodes;
    if (tt__grow(&p, &c->cap_nodes, (size_t)c->node_idx.n + 1,
                 sizeof *c->nodes) < 0)
        return TT_ENOMEM;
    c->nodes = p;
    n = &c->nodes[c->node_idx.n];
    memset(n, 0, sizeof *n);
    n->pub.parent = parent;
    n->pub.code = code;
    n->pub.thread = thread;
    n->pub.min_ns = UINT64_MAX;
    n->pub.flags = node_flags(c, parent, code);
    n->last_child = NONE;
    tt__genrule(tt_reader_code(c->r, code), &n->gen);
    c->node_idx.slots[slot] = c->node_idx.n;
    *out = c->node_idx.n++;
    return 0;
}

/* ------------------------------------------------------------ the replay */

static int thr_get(tt_calls_t *c, uint32_t thread, thr_t **out)
{
    if (thread >= c->n_thr) {
        size_t old = c->n_thr, cap = c->n_thr;
        void *p = c->thr;
        if (thread >= NONE - 1)
            return TT_ECORRUPT;
        if (tt__grow(&p, &cap, (size_t)thread + 1, sizeof *c->thr) < 0)
            return TT_ENOMEM;
        c->thr = p;
        c->n_thr = cap;
        memset(c->thr + old, 0, (cap - old) * sizeof *c->thr);
        for (size_t i = old; i < cap; i++)
            c->thr[i].last_root = NONE;
    }
    *out = &c->thr[thread];
    return 0;
}

/* Ends the top activation of t at `ns`. */
static void close_top(tt_calls_t *c, thr_t *t, uint64_t ns, int forced)
{
    frame_t *f = &t->st[--t->n];
    tt_callnode_t *n = &c->nodes[f->node].pub;
    uint64_t incl = ns > f->start_ns ? ns - f->start_ns : 0;
    uint64_t self = incl > f->child_ns ? incl - f->child_ns : 0;

    n->cumtime_ns += incl;
    n->tottime_ns += self;
    if (incl < n->min_ns)
        n->min_ns = incl;
    if (incl > n->max_ns)
        n->max_ns = incl;
    if (forced)
        n->flags |= TT_CALLNODE_CLOSED;
    if (t->n > 0)
        t->st[t->n - 1].child_ns += incl;
    else
        t->info.traced_ns += incl;
}

static int on_call(tt_calls_t *c, thr_t *t, const tt_event_t *ev)
{
    uint32_t parent = t->n ? t->st[t->n - 1].node : NONE;
    uint32_t hint = parent == NONE ? t->last_root
                                   : c->nodes[parent].last_child;
    uint32_t id;
    node_t *n;
    frame_t *f;
    int rc;

    if (hint != NONE && c->nodes[hint].pub.code == ev->code) {
        id = hint;
    } else {
        rc = node_get(c, parent, ev->code, ev->thread, &id);
        if (rc < 0)
            return rc;
        if (parent == NONE)
            t->last_root = id;
        else
            c->nodes[parent].last_child = id;
    }
    if (t->n == t->cap) {
        void *p = t->st;
        if (tt__grow(&p, &t->cap, t->n + 1, sizeof *t->st) < 0)
            return TT_ENOMEM;
        t->st = p;
    }
    n = &c->nodes[id];
    if (tt__pair_resumes(c->marked, &n->gen, ev))
        n->pub.resumes++;
    else
        n->pub.calls++;
    t->info.activations++;
    f = &t->st[t->n++];
    f->code = ev->code;
    f->node = id;
    f->start_ns = tt_reader_ns(c->r, ev->tick);
    f->child_ns = 0;
    return 0;
}

static void on_return(tt_calls_t *c, thr_t *t, const tt_event_t *ev)
{
    uint64_t ns;
    size_t k;

    if (t->n == 0) {
        t->info.unmatched_returns++;
        return;
    }
    /* A frame below the top returns: the RETURNs of the frames above it
     * were lost (a drop the reader could not see, a damaged chunk). */
    k = tt__pair_return(t->st, t->n, sizeof *t->st, ev->code);
    if (k == 0) {
        t->info.unmatched_returns++;
        return;
    }
    ns = tt_reader_ns(c->r, ev->tick);
    for (; k > 1; k--) {
        close_top(c, t, ns, 1);
        t->info.mismatched++;
    }
    close_top(c, t, ns, 0);
}

/* An object creation: charged to the top node when its site is the top's
 * code (the usual case: the site is the innermost traced frame, the one
 * the shadow stack holds), else to a child of the top (a root when the
 * stack is empty) for the site's code, made for it with no activations:
 * a --no-calls recording, or a CALL lost with a drop. */
static int on_create(tt_calls_t *c, thr_t *t, const tt_event_t *ev)
{
    uint32_t top = t->n ? t->st[t->n - 1].node : NONE, id;
    int rc;

    t->info.objects++;
    if (ev->code == TT_NO_CODE) {
        t->info.objects_no_frame++;
        return 0;
    }
    if (top != NONE && c->nodes[top].pub.code == ev->code) {
        c->nodes[top].pub.objects++;
        return 0;
    }
    if ((rc = node_get(c, top, ev->code, ev->thread, &id)) < 0)
        return rc;
    c->nodes[id].pub.objects++;
    return 0;
}

/* Every open frame of t ends at `tick`; returns how many. */
static uint64_t close_all(tt_calls_t *c, thr_t *t, uint64_t tick)
{
    uint64_t ns = tt_reader_ns(c->r, tick), n = t->n;
    while (t->n > 0)
        close_top(c, t, ns, 1);
    return n;
}

/* One event of the replay. */
static int replay_one(tt_calls_t *c, const tt_event_t *ev)
{
    thr_t *t;
    int rc;

    c->sum.events++;
    /* Only these do work; each thread's first and last event come from
     * the reader at the end (complete after the whole iteration). */
    if (ev->kind != TT_EV_CALL && ev->kind != TT_EV_RETURN &&
        ev->kind != TT_EV_EXCEPTION && ev->kind != TT_EV_OBJ_CREATE &&
        ev->kind != TT_EV_DROPPED)
        return 0;
    if (TT_UNLIKELY(ev->thread >= c->n_thr) &&
        (rc = thr_get(c, ev->thread, &t)) < 0)
        return rc;
    t = &c->thr[ev->thread];
    switch (ev->kind) {
    case TT_EV_CALL:
        return on_call(c, t, ev);
    case TT_EV_RETURN:
        on_return(c, t, ev);
        break;
    case TT_EV_EXCEPTION:
        /* A C function that raises ends with its EXCEPTION (c_exception):
         * no RETURN follows. Python frames' EXCEPTION events end nothing. */
        if (tt__pair_cexception(c->r, t->st, t->n, sizeof *t->st, ev->code))
            on_return(c, t, ev);
        break;
    case TT_EV_OBJ_CREATE:
        return on_create(c, t, ev);
    case TT_EV_DROPPED:
        t->info.dropped += ev->count;
        t->info.closed_at_drop += close_all(c, t, ev->tick);
        break;
    default:
        break;
    }
    return 0;
}

static int replay(tt_calls_t *c)
{
    tt_event_t evs[256];
    uint64_t bad = 0;
    int n, rc = 0;

    while ((n = tt__replay_batch(c->r, evs, 256, &bad)) > 0)
        for (int i = 0; i < n; i++)
            if ((rc = replay_one(c, &evs[i])) < 0)
                return rc;
    c->sum.bad_chunks = (int)bad;
    return n;
}

/* ------------------------------------------------------- 0x81 object rows */

/* A (site, type) row of a 0x81 chunk: objects counted there, not logged
 * (FORMAT.md §14: --objects --no-calls temporaries, --objects --count).
 * Rows carry no thread: they go to the root node of the site's code in the
 * first thread that has one (the thread whose events made that code's
 * other objects), else in thread 0. */
static int on_row(void *ctx, const tt_objstat_t *row)
{
    tt_calls_t *c = ctx;
    uint32_t thread = 0, id;
    size_t slot;
    thr_t *t;
    int rc;

    if (row->created == 0)
        return 0;
    if (row->code != TT_NO_CODE)
        for (uint32_t i = 0; i < c->n_thr; i++) {
            rc = idx_find(&c->node_idx, c->nodes, node_key, NONE, row->code,
                          i, &id, &slot);
            if (rc < 0)
                return rc;
            if (rc == 1) {
                thread = i;
                break;
            }
        }
    if ((rc = thr_get(c, thread, &t)) < 0)
        return rc;
    t->info.objects += row->created;
    if (row->code == TT_NO_CODE) {
        t->info.objects_no_frame += row->created;
        return 0;
    }
    if ((rc = node_get(c, NONE, row->code, thread, &id)) < 0)
        return rc;
    c->nodes[id].pub.objects += row->created;
    return 0;
}

static int on_row_summary(void *ctx, const tt_objagg_summary_t *s)
{
    (void)ctx, (void)s;
    return 0;
}

static int on_row_verdict(void *ctx, int status, uint64_t addr)
{
    (void)ctx, (void)status, (void)addr;
    return 0;
}

/* Adds every 0x81 chunk's rows; a malformed chunk adds what came before
 * its bad record, as the object analysis does. 0 or TT_ENOMEM/TT_ELIMIT. */
static int apply_rows(tt_calls_t *c)
{
    static const tt__objagg_sink sink = {on_row_summary, on_row,
                                         on_row_verdict};
    for (uint32_t i = 0; i < c->r->n_anc; i++) {
        const tt__ancchunk *a = &c->r->anc[i];
        int rc;
        if (a->type != TT_CHUNK_OBJAGG)
            continue;
        rc = tt__objagg_decode(a->payload, a->len, a->n_codes, a->n_types,
                               &sink, c);
        if (rc == TT_ENOMEM || rc == TT_ELIMIT)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------ the rows */

static int func_add(tt_calls_t *c, idx_t *x, const tt_callnode_t *n,
                    uint32_t thread)
{
    tt_callstat_t *f;
    uint32_t row;
    size_t slot;
    int prim = (n->flags & TT_CALLNODE_PRIMITIVE) != 0;
    int rc = idx_find(x, c->funcs, func_key, n->code, thread, 0, &row, &slot);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        void *p = c->funcs;
        if (tt__grow(&p, &c->cap_funcs, (size_t)x->n + 1, sizeof *c->funcs) < 0)
            return TT_ENOMEM;
        c->funcs = p;
        f = &c->funcs[x->n];
        memset(f, 0, sizeof *f);
        f->code = n->code;
        f->thread = thread;
        f->min_ns = UINT64_MAX;
        x->slots[slot] = x->n;
        row = x->n++;
    }
    f = &c->funcs[row];
    f->calls += n->calls;
    f->resumes += n->resumes;
    f->tottime_ns += n->tottime_ns;
    if (prim) {
        f->prim_calls += n->calls;
        f->prim_resumes += n->resumes;
        f->cumtime_ns += n->cumtime_ns;
    }
    if (n->min_ns < f->min_ns)
        f->min_ns = n->min_ns;
    if (n->max_ns > f->max_ns)
        f->max_ns = n->max_ns;
    return 0;
}

static int edge_add(tt_calls_t *c, idx_t *x, const tt_callnode_t *n,
                    uint32_t caller, uint32_t thread)
{
    tt_calledge_t *e;
    uint32_t row;
    size_t slot;
    int prim = (n->flags & TT_CALLNODE_EDGE_PRIM) != 0;
    int rc = idx_find(x, c->edges, edge_key, caller, n->code, thread, &row,
                      &slot);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        void *p = c->edges;
        if (tt__grow(&p, &c->cap_edges, (size_t)x->n + 1, sizeof *c->edges) < 0)
            return TT_ENOMEM;
        c->edges = p;
        e = &c->edges[x->n];
        memset(e, 0, sizeof *e);
        e->caller = caller;
        e->callee = n->code;
        e->thread = thread;
        x->slots[slot] = x->n;
        row = x->n++;
    }
    e = &c->edges[row];
    e->calls += n->calls;
    e->resumes += n->resumes;
    e->tottime_ns += n->tottime_ns;
    if (prim) {
        e->prim_calls += n->calls;
        e->prim_resumes += n->resumes;
        e->cumtime_ns += n->cumtime_ns;
    }
    return 0;
}

static int cmp_func(const void *a, const void *b)
{
    const tt_callstat_t *x = a, *y = b;
    if (x->thread != y->thread)
        return x->thread < y->thread ? -1 : 1;
    return x->code < y->code ? -1 : x->code > y->code;
}

static int cmp_edge(const void *a, const void *b)
{
    const tt_calledge_t *x = a, *y = b;
    if (x->thread != y->thread)
        return x->thread < y->thread ? -1 : 1;
    if (x->callee != y->callee)
        return x->callee < y->callee ? -1 : 1;
    return x->caller < y->caller ? -1 : x->caller > y->caller;
}

/* Functions and edges from the tree, per thread and over all threads. */
static int derive(tt_calls_t *c)
{
    idx_t fx = {NULL, 0, 0}, ex = {NULL, 0, 0};
    int rc = 0;

    if (idx_rehash(&fx, 4, c->funcs, func_key) < 0 ||
        idx_rehash(&ex, 4, c->edges, edge_key) < 0) {
        rc = TT_ENOMEM;
        goto done;
    }
    for (uint32_t i = 0; i < c->node_idx.n && rc == 0; i++) {
        const tt_callnode_t *n = &c->nodes[i].pub;
        uint32_t caller = n->parent == NONE ? TT_NO_CODE
                                            : c->nodes[n->parent].pub.code;
        if (n->calls + n->resumes == 0)
            continue;                     /* an object site only */
        if ((rc = func_add(c, &fx, n, n->thread)) < 0 ||
            (rc = func_add(c, &fx, n, TT_CALLS_ALL_THREADS)) < 0 ||
            (rc = edge_add(c, &ex, n, caller, n->thread)) < 0)
            break;
        rc = edge_add(c, &ex, n, caller, TT_CALLS_ALL_THREADS);
    }
    if (rc == 0) {
        if (fx.n)
            qsort(c->funcs, fx.n, sizeof *c->funcs, cmp_func);
        if (ex.n)
            qsort(c->edges, ex.n, sizeof *c->edges, cmp_edge);
        c->sum.n_functions = fx.n;
        c->sum.n_edges = ex.n;
    }
done:
    tt__free(fx.slots);
    tt__free(ex.slots);
    return rc;
}

/* Closes what is still open and fills the summary. 0 or TT_ENOMEM. */
static int finish(tt_calls_t *c)
{
    tt_calls_summary_t *s = &c->sum;
    uint64_t counts[TT_EV__COUNT], dropped;
    int rc;

    /* Threads' first and last events, as the iteration met them. */
    for (uint32_t i = 0; i < tt_reader_n_threads(c->r); i++) {
        const tt_thread_info_t *ri = tt_reader_thread(c->r, i);
        thr_t *t;
        if (ri == NULL || ri->events == 0)
            continue;
        if ((rc = thr_get(c, i, &t)) < 0)
            return rc;
        t->seen = 1;
        t->info.first_ns = tt_reader_ns(c->r, ri->first_tick);
        t->last_tick = ri->last_tick;
    }
    for (size_t i = 0; i < c->n_thr; i++) {
        thr_t *t = &c->thr[i];
        tt_calls_thread_t *ti = &t->info;
        t->info.open_at_end += close_all(c, t, t->last_tick);
        if (t->seen)
            ti->last_ns = tt_reader_ns(c->r, t->last_tick);
        s->activations += ti->activations;
        s->unmatched_returns += ti->unmatched_returns;
        s->mismatched += ti->mismatched;
        s->closed_at_drop += ti->closed_at_drop;
        s->open_at_end += ti->open_at_end;
        s->dropped += ti->dropped;
        s->traced_ns += ti->traced_ns;
        s->objects += ti->objects;
    }
    s->n_threads = tt_reader_n_threads(c->r);
    s->n_nodes = c->node_idx.n;
    s->truncated = tt__reader_cut(c->r);
    tt_reader_counts(c->r, counts, &dropped);
    s->has_calls = counts[TT_EV_CALL] > 0;
    return 0;
}

/* Contract (tt.h): 0 and *out, or TT_EINVAL / TT_ENOMEM / TT_ECANCELED
 * with *out = NULL; r is left at its end. */
/* --objects --bytes: each allocation site's bytes go to the
 * node of its creation stack, followed from the stack's outermost recorded
 * frame (so a stack cut at --stack-depth starts a root of its own) under
 * the first thread: the stacks carry no thread. Sites without a stack are
 * not drawn. 0 or TT_ENOMEM / TT_ELIMIT. */
static int charge_allocs(tt_calls_t *c)
{
    tt_alloc_frame_t fr[64];
    const tt_alloc_site_t *s;
    tt_allocs_t *a;
    int rc = tt_allocs_load(c->r, &a);

    for (size_t i = 0; rc == 0 && (s = tt_allocs_site(a, i)) != NULL; i++) {
        size_t n = tt_allocs_stack(a, s->stack, fr, 64);
        uint32_t node = NONE;
        if (n == 0 || n > 64 || c->n_thr == 0)
            continue;
        while (rc == 0 && n-- > 0)
            rc = node_get(c, node, fr[n].code, 0, &node);
        if (rc == 0)
            c->nodes[node].pub.bytes += s->alloc_bytes;
    }
    tt_allocs_free(a);
    c->sum.n_nodes = c->node_idx.n;     /* finish() counted before */
    return rc;
}

int tt_calls_analyze(tt_reader_t *r, tt_calls_t **out)
{
    tt_calls_t *c;
    int rc;

    if (out == NULL)
        return TT_EINVAL;
    *out = NULL;
    if (r == NULL)
        return TT_EINVAL;
    c = tt__malloc(sizeof *c);
    if (c == NULL)
        return TT_ENOMEM;
    memset(c, 0, sizeof *c);
    c->r = r;
    c->marked = tt_reader_marked(r);
    rc = idx_rehash(&c->node_idx, 8, c->nodes, node_key);
    if (rc == 0 && tt_reader_n_threads(r) > 0) {
        thr_t *t;
        rc = thr_get(c, tt_reader_n_threads(r) - 1, &t);
    }
    if (rc == 0)
        rc = tt_reader_select_thread(r, UINT32_MAX);
    if (rc == 0)
        rc = replay(c);
    if (rc == 0)
        rc = apply_rows(c);
    if (rc == 0)
        rc = finish(c);
    if (rc == 0)
        rc = charge_allocs(c);
    if (rc == 0)
        rc = derive(c);
    if (rc < 0) {
        tt_calls_free(c);
        return rc == TT_ELIMIT || rc == TT_ECORRUPT ? TT_ENOMEM : rc;
    }
    c->r = NULL;
    *out = c;
    return 0;
}

const tt_calls_summary_t *tt_calls_summary(const tt_calls_t *c)
{
    return c ? &c->sum : NULL;
}

const tt_calls_thread_t *tt_calls_thread(const tt_calls_t *c, uint32_t thread)
{
    if (c == NULL || thread >= c->n_thr || thread >= c->sum.n_threads)
        return NULL;
    return &c->thr[thread].info;
}

const tt_callnode_t *tt_calls_node(const tt_calls_t *c, uint32_t i)
{
    return c && i < c->sum.n_nodes ? &c->nodes[i].pub : NULL;
}

const tt_callstat_t *tt_calls_function(const tt_calls_t *c, uint32_t i)
{
    return c && i < c->sum.n_functions ? &c->funcs[i] : NULL;
}

const tt_calledge_t *tt_calls_edge(const tt_calls_t *c, uint32_t i)
{
    return c && i < c->sum.n_edges ? &c->edges[i] : NULL;
}

void tt_calls_free(tt_calls_t *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_thr; i++)
        tt__free(c->thr[i].st);
    tt__free(c->thr);
    tt__free(c->nodes);
    tt__free(c->node_idx.slots);
    tt__free(c->funcs);
    tt__free(c->edges);
    tt__free(c);
}
