/* allochooks.c - bytes per creation stack (--objects --bytes):
 * wraps CPython's RAW, MEM and OBJ allocators (PyMem_SetAllocator: the
 * domains tracemalloc hooks), charges each block to the interned stack of
 * traced frames that asked for it, and keeps live bytes, the peak and what
 * each stack held at the peak; stop() writes it as a 0x85 chunk.
 * Must not: call Python or allocate through Python's allocators inside a
 * hook (its tables use libc malloc), nor take the GIL there: RAW calls come
 * without it, so the tables sit behind a spinlock. GIL: start, enable and
 * stop hold it; the hooks run in any thread.
 */
#include "objects.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

#if TTX_HAVE_REFTRACER

#define AH_NONE      UINT32_MAX
#define AH_MAX_DEPTH 64
#define AH_SAMPLES   16384                /* then every other one goes */
#define AH_STEP_MIN  (64u * 1024u)        /* live-bytes sample step */

/* One interned stack: its innermost frame (code object, byte offset) and
 * its caller's stack. Node 0 is the empty stack (no Python frame). The
 * counters are of the blocks charged to this very stack. */
typedef struct {
    PyObject *co;            /* borrowed from the code table, or owned
                                (`owned`) when the code was not in it yet */
    uint32_t parent, off, next;
    uint32_t owned;
    uint64_t allocs, bytes, frees, freed, live, blocks;
    uint64_t at_peak;        /* live at the last peak, if touched since */
    uint64_t stamp;          /* `now` at the last change */
} ah_node_t;

typedef struct {
    uint64_t addr;           /* 0: free slot */
    uint64_t size;
    uint32_t node;
    uint32_t pad;
} ah_block_t;

/* All of it is protected by `lock` (taken in the hooks) or, outside a
 * recording, by the GIL (start/stop, hooks not yet or no longer on). */
static struct {
    int on;                  /* hooks installed and charging */
    int depth;
    capture_rec_t *rec;      /* borrowed: the recording */
    int installed[3];
    ah_node_t *nodes;        /* libc malloc */
    uint32_t n_nodes, cap_nodes;
    uint32_t *heads;         /* 1 << hbits chain heads */
    uint32_t hbits;
    ah_block_t *blocks;      /* open addressing, 1 << bbits */
    uint32_t bbits;
    uint64_t n_blocks;
    uint64_t now, peak_stamp;
    uint64_t live, peak, peak_tick;
    uint64_t allocs, alloc_bytes, frees, freed_bytes, untracked, lost;
    tt_alloc_sample_t *samples;
    size_t n_samples;
    uint64_t sample_live;    /* live at the last sample */
} A;

/* The wrapped allocators and ours: outside A, because a hook another tool
 * wrapped since (tracemalloc) stays in place for good and keeps using its
 * `ctx` (then `stuck` refuses later --bytes recordings). GIL. */
static PyMemAllocatorEx ah_orig[3], ah_mine[3];
static int ah_stuck;

static char lock;
/* Reentrancy: an OBJ block of more than 512 bytes is taken from RAW, our
 * own tables' libc calls never come back here, but a wrapped allocator
 * calling another domain must not be charged twice. */
static __thread int ah_busy __attribute__((tls_model("initial-exec")));

static inline void
ah_lock(void)
{
    while (__atomic_test_and_set(&lock, __ATOMIC_ACQUIRE))
        sched_yield();
}

static inline void
ah_unlock(void)
{
    __atomic_clear(&lock, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------- stacks */

static inline uint64_t
ah_mix(uint64_t a, uint64_t b)
{
    return (a ^ (b * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
}

static int
ah_nodes_rehash(uint32_t bits)
{
    uint32_t *h = malloc(((size_t)1 << bits) * sizeof(*h));
    if (h == NULL)
        return -1;
    memset(h, 0xFF, ((size_t)1 << bits) * sizeof(*h));
    for (uint32_t i = 1; i < A.n_nodes; i++) {
        ah_node_t *n = &A.nodes[i];
        size_t k = ah_mix(ah_mix(n->parent, (uintptr_t)n->co), n->off) >>
                   (64 - bits);
        n->next = h[k];
        h[k] = i;
    }
    free(A.heads);
    A.heads = h;
    A.hbits = bits;
    return 0;
}

/* The node of (parent, co, off), made on first sight; 0 (the empty stack)
 * when memory runs out. Lock held; GIL held (co may get a reference). */
static uint32_t
ah_intern(uint32_t parent, PyObject *co, uint32_t off)
{
    size_t k = ah_mix(ah_mix(parent, (uintptr_t)co), off) >> (64 - A.hbits);
    ah_node_t *n;
    uint32_t i;

    for (i = A.heads[k]; i != AH_NONE; i = A.nodes[i].next) {
        n = &A.nodes[i];
        if (n->co == co && n->off == off && n->parent == parent)
            return i;
    }
    if (A.n_nodes == A.cap_nodes) {
        uint32_t cap = A.cap_nodes * 2;
        void *v = cap > A.cap_nodes ? realloc(A.nodes, cap * sizeof(*n)) : NULL;
        if (v == NULL) {
            A.lost++;
            return 0;
        }
        A.nodes = v;
        A.cap_nodes = cap;
    }
    i = A.n_nodes++;
    n = &A.nodes[i];
    memset(n, 0, sizeof(*n));
    n->co = co;
    n->parent = parent;
    n->off = off;
    /* A code the table does not hold yet could die and its address be
     * reused: keep it alive until stop resolves it (no allocation). */
    if (capture_codetab_find(&A.rec->codes, co) == NULL) {
        Py_INCREF(co);
        n->owned = 1;
    }
    n->next = A.heads[k];
    A.heads[k] = i;
    if (A.n_nodes > (2u << A.hbits))
        (void)ah_nodes_rehash(A.hbits + 1);   /* longer chains if not */
    return i;
}

static int
ah_skip(void *ctx, PyObject *co)
{
    capture_code_t *c = capture_codetab_find(ctx, co);
    return c != NULL && !c->traced;      /* unknown: decided at stop */
}

/* The stack of the calling thread's traced frames, up to A.depth, or 0.
 * Lock held. Only a thread holding the GIL has frames to read. */
static uint32_t
ah_site(void)
{
    PyObject *codes[AH_MAX_DEPTH];
    uint32_t offs[AH_MAX_DEPTH], node = 0;
    int n;

    if (PyThreadState_GetUnchecked() == NULL)
        return 0;
    n = ttx_frameaddr_stack(ah_skip, &A.rec->codes, codes, offs, A.depth);
    while (n-- > 0)
        node = ah_intern(node, codes[n], offs[n]);
    return node;
}

/* ------------------------------------------------------------- blocks */

static inline size_t
ah_bslot(uint64_t addr, uint32_t bits)
{
    return (size_t)(((addr >> 4) * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

static int
ah_blocks_grow(void)
{
    uint32_t bits = A.bbits + 1;
    size_t mask = ((size_t)1 << bits) - 1;
    ah_block_t *t = calloc((size_t)1 << bits, sizeof(*t));
    if (t == NULL)
        return -1;
    for (size_t i = 0; i < ((size_t)1 << A.bbits); i++) {
        size_t k;
        if (A.blocks[i].addr == 0)
            continue;
        for (k = ah_bslot(A.blocks[i].addr, bits); t[k].addr; k = (k + 1) & mask)
            ;
        t[k] = A.blocks[i];
    }
    free(A.blocks);
    A.blocks = t;
    A.bbits = bits;
    return 0;
}

/* Before a node's live bytes change: if it has not changed since the last
 * peak, its live bytes are what it held then. */
static inline void
ah_touch(ah_node_t *n)
{
    if (n->stamp <= A.peak_stamp)
        n->at_peak = n->live;
    n->stamp = ++A.now;
}

static void
ah_sample(void)
{
    tt_alloc_sample_t *s;
    uint64_t tick;
    if (A.samples == NULL)
        return;
    if (A.n_samples == AH_SAMPLES) {
        for (size_t i = 0; i < AH_SAMPLES / 2; i++)
            A.samples[i] = A.samples[2 * i + 1];
        A.n_samples = AH_SAMPLES / 2;
    }
    tick = capture_clock();
    s = &A.samples[A.n_samples++];
    s->tick = tick > A.rec->start_tick ? tick - A.rec->start_tick : 0;
    s->live_bytes = A.live;
    A.sample_live = A.live;
}

static inline void
ah_moved(void)
{
    uint64_t d = A.live > A.sample_live ? A.live - A.sample_live
                                        : A.sample_live - A.live;
    uint64_t step = A.sample_live / 16;
    if (TTX_UNLIKELY(d >= (step > AH_STEP_MIN ? step : AH_STEP_MIN)))
        ah_sample();
}

/* Charges a new block to `node`. Lock held. */
static void
ah_track(void *p, size_t size, uint32_t node)
{
    size_t mask, k;
    ah_node_t *n;

    if (A.n_blocks + 1 > (3ull << A.bbits) / 4 && ah_blocks_grow() < 0) {
        A.lost++;
        return;
    }
    mask = ((size_t)1 << A.bbits) - 1;
    for (k = ah_bslot((uintptr_t)p, A.bbits); A.blocks[k].addr; k = (k + 1) & mask)
        ;
    A.blocks[k].addr = (uintptr_t)p;
    A.blocks[k].size = size;
    A.blocks[k].node = node;
    A.n_blocks++;
    n = &A.nodes[node];
    ah_touch(n);
    n->allocs++;
    n->bytes += size;
    n->live += size;
    n->blocks++;
    A.allocs++;
    A.alloc_bytes += size;
    if (node == 0)
        A.untracked++;
    A.live += size;
    if (A.live > A.peak) {
        A.peak = A.live;
        A.peak_stamp = A.now;
        A.peak_tick = A.rec->objects ? A.rec->objects->clock : 0;
    }
    ah_moved();
}

/* Forgets the block at p, if it is one of ours. Lock held. */
static void
ah_untrack(void *p)
{
    size_t mask = ((size_t)1 << A.bbits) - 1, k, j;
    ah_node_t *n;

    for (k = ah_bslot((uintptr_t)p, A.bbits); A.blocks[k].addr != (uintptr_t)p;
         k = (k + 1) & mask)
        if (A.blocks[k].addr == 0)
            return;
    n = &A.nodes[A.blocks[k].node];
    ah_touch(n);
    n->frees++;
    n->freed += A.blocks[k].size;
    n->live -= A.blocks[k].size;
    n->blocks--;
    A.frees++;
    A.freed_bytes += A.blocks[k].size;
    A.live -= A.blocks[k].size;
    A.n_blocks--;
    /* Backward-shift deletion keeps every probe chain unbroken. */
    for (j = (k + 1) & mask; A.blocks[j].addr; j = (j + 1) & mask) {
        size_t home = ah_bslot(A.blocks[j].addr, A.bbits);
        if (((j - home) & mask) >= ((j - k) & mask)) {
            A.blocks[k] = A.blocks[j];
            k = j;
        }
    }
    A.blocks[k].addr = 0;
    ah_moved();
}

/* -------------------------------------------------------------- hooks */

/* Charging is off inside our own code (ttx_obj_busy: what tracetap makes
 * is not the program's) and while a wrapped allocator calls another
 * domain (ah_busy). Frees are always matched, whoever frees. */
#define AH_CHARGE() (A.on && !ah_busy && !ttx_obj_busy && !ah_tracing())

/* Inside a trace function (ours: code registration, shadow stacks; and
 * the frame objects legacy tracing makes for it), CPython counts the
 * thread as tracing: nothing the program's code asked for. */
static inline int
ah_tracing(void)
{
    PyThreadState *ts = PyThreadState_GetUnchecked();
    return ts != NULL && ts->tracing > 0;
}

static void
ah_charge(void *p, size_t size, void *old)
{
    ah_lock();
    if (old != NULL)
        ah_untrack(old);
    if (p != NULL && !ttx_obj_busy && !ah_tracing())
        ah_track(p, size, ah_site());
    ah_unlock();
}

static void *
ah_malloc(void *ctx, size_t size)
{
    PyMemAllocatorEx *a = ctx;
    void *p;
    if (!AH_CHARGE())
        return a->malloc(a->ctx, size);
    ah_busy = 1;
    p = a->malloc(a->ctx, size);
    if (p != NULL)
        ah_charge(p, size, NULL);
    ah_busy = 0;
    return p;
}

static void *
ah_calloc(void *ctx, size_t nelem, size_t elsize)
{
    PyMemAllocatorEx *a = ctx;
    void *p;
    if (!AH_CHARGE())
        return a->calloc(a->ctx, nelem, elsize);
    ah_busy = 1;
    p = a->calloc(a->ctx, nelem, elsize);
    if (p != NULL)          /* no overflow: the allocator checked it */
        ah_charge(p, nelem * elsize, NULL);
    ah_busy = 0;
    return p;
}

/* A realloc is the old block freed and a new one made at the caller's
 * stack: a list grown by appends is charged to the appending line. */
static void *
ah_realloc(void *ctx, void *ptr, size_t size)
{
    PyMemAllocatorEx *a = ctx;
    void *p;
    if (!A.on || ah_busy)
        return a->realloc(a->ctx, ptr, size);
    ah_busy = 1;
    p = a->realloc(a->ctx, ptr, size);
    if (p != NULL)
        ah_charge(p, size, ptr);
    ah_busy = 0;
    return p;
}

static void
ah_free(void *ctx, void *ptr)
{
    PyMemAllocatorEx *a = ctx;
    if (ptr != NULL && A.on && !ah_busy) {
        ah_busy = 1;
        /* Forgotten before the free: another thread may get the address
         * back at once. */
        ah_lock();
        ah_untrack(ptr);
        ah_unlock();
        a->free(a->ctx, ptr);
        ah_busy = 0;
        return;
    }
    a->free(a->ctx, ptr);
}

/* -------------------------------------------------------------- control */

static void
ah_release(void)
{
    for (uint32_t i = 1; i < A.n_nodes; i++)
        if (A.nodes[i].owned)
            Py_DECREF(A.nodes[i].co);
    free(A.nodes);
    free(A.heads);
    free(A.blocks);
    free(A.samples);
    A.nodes = NULL;
    A.heads = NULL;
    A.blocks = NULL;
    A.samples = NULL;
    A.n_nodes = 0;
    A.rec = NULL;
}

int
ttx_allocs_start(capture_rec_t *rec, int depth)
{
    if (A.on || A.rec != NULL || ah_stuck) {
        PyErr_SetString(PyExc_RuntimeError,
                        ah_stuck ? "--bytes cannot record again in this "
                                   "process: another tool (tracemalloc) "
                                   "wrapped its allocator hooks"
                                 : "--bytes is already recording");
        return -1;
    }
    if (depth < 1 || depth > AH_MAX_DEPTH) {
        PyErr_Format(PyExc_ValueError,
                     "the stack depth must be 1 to %d, not %d",
                     AH_MAX_DEPTH, depth);
        return -1;
    }
    memset(&A, 0, sizeof(A));
    A.rec = rec;
    A.depth = depth;
    A.cap_nodes = 1024;
    A.hbits = 10;
    A.bbits = 14;
    A.nodes = malloc(A.cap_nodes * sizeof(*A.nodes));
    A.heads = malloc(((size_t)1 << A.hbits) * sizeof(*A.heads));
    A.blocks = calloc((size_t)1 << A.bbits, sizeof(*A.blocks));
    A.samples = malloc(AH_SAMPLES * sizeof(*A.samples));
    if (A.nodes == NULL || A.heads == NULL || A.blocks == NULL ||
        A.samples == NULL) {
        ah_release();
        PyErr_NoMemory();
        return -1;
    }
    memset(A.heads, 0xFF, ((size_t)1 << A.hbits) * sizeof(*A.heads));
    memset(&A.nodes[0], 0, sizeof(A.nodes[0]));
    A.nodes[0].parent = AH_NONE;
    A.n_nodes = 1;
    return 0;
}

void
ttx_allocs_enable(void)
{
    static const PyMemAllocatorDomain dom[3] = {
        PYMEM_DOMAIN_RAW, PYMEM_DOMAIN_MEM, PYMEM_DOMAIN_OBJ};
    if (A.rec == NULL)
        return;
    for (int d = 0; d < 3; d++) {
        PyMem_GetAllocator(dom[d], &ah_orig[d]);
        ah_mine[d].ctx = &ah_orig[d];
        ah_mine[d].malloc = ah_malloc;
        ah_mine[d].calloc = ah_calloc;
        ah_mine[d].realloc = ah_realloc;
        ah_mine[d].free = ah_free;
        PyMem_SetAllocator(dom[d], &ah_mine[d]);
        A.installed[d] = 1;
    }
    A.on = 1;
    ah_sample();
}

/* Takes the hooks off where they are still the current allocators; where
 * another tool (tracemalloc) wrapped them since, they stay, passing
 * through. 1 if all three came off. */
static int
ah_disable(void)
{
    static const PyMemAllocatorDomain dom[3] = {
        PYMEM_DOMAIN_RAW, PYMEM_DOMAIN_MEM, PYMEM_DOMAIN_OBJ};
    int all = 1;
    ah_lock();
    A.on = 0;
    ah_unlock();
    for (int d = 0; d < 3; d++) {
        PyMemAllocatorEx cur;
        if (!A.installed[d])
            continue;
        PyMem_GetAllocator(dom[d], &cur);
        if (cur.malloc == ah_malloc && cur.ctx == &ah_orig[d])
            PyMem_SetAllocator(dom[d], &ah_orig[d]);
        else {
            all = 0;
            ah_stuck = 1;
        }
        A.installed[d] = 0;
    }
    return all;
}

void
ttx_allocs_abort(void)
{
    if (A.rec == NULL)
        return;
    /* Called where no other thread can be in a hook (start failed before
     * enable, or the child after fork(), where a parent's thread may have
     * held the lock at the fork): the lock starts free. */
    __atomic_clear(&lock, __ATOMIC_RELEASE);
    (void)ah_disable();
    ah_release();
}

/* ------------------------------------------------------------- stop */

/* Stacks as the file has them: frames of traced code only, (code id,
 * line), interned again (several offsets make one line). */
typedef struct {
    tt_alloc_frame_t *f;     /* libc malloc */
    uint32_t n, bits;
    uint32_t *slots;         /* 1 << bits: index + 1, 0 free */
} ah_out_t;

static uint32_t
ah_out_intern(ah_out_t *o, uint32_t parent, uint32_t code, int32_t line)
{
    size_t mask = ((size_t)1 << o->bits) - 1;
    size_t k = ah_mix(ah_mix(parent, code), (uint32_t)line) >> (64 - o->bits);
    for (; o->slots[k]; k = (k + 1) & mask) {
        tt_alloc_frame_t *f = &o->f[o->slots[k] - 1];
        if (f->parent == parent && f->code == code && f->line == line)
            return o->slots[k] - 1;
    }
    o->f[o->n].parent = parent;
    o->f[o->n].code = code;
    o->f[o->n].line = line;
    o->slots[k] = ++o->n;
    return o->n - 1;
}

static int
ah_set(PyObject *d, const char *k, uint64_t v)
{
    PyObject *x = PyLong_FromUnsignedLongLong(v);
    int rc = x != NULL ? PyDict_SetItemString(d, k, x) : -1;
    Py_XDECREF(x);
    return rc;
}

PyObject *
ttx_allocs_stop(capture_rec_t *rec, PyObject *warnings)
{
    ah_out_t out = {0};
    uint32_t *map = NULL, *site_of = NULL, n_sites = 0;
    tt_alloc_site_t *sites = NULL;
    tt_alloc_summary_t sum;
    PyObject *res = NULL;
    int rc;

    if (A.rec == NULL)
        Py_RETURN_NONE;
    if (!ah_disable() && warnings != NULL) {
        PyObject *m = PyUnicode_FromString(
            "--bytes: another tool (tracemalloc) wrapped the allocators "
            "during the recording; its hooks stay, ours pass through");
        if (m == NULL || PyList_Append(warnings, m) < 0)
            PyErr_Clear();
        Py_XDECREF(m);
    }
    map = malloc(A.n_nodes * sizeof(*map));
    site_of = malloc(A.n_nodes * sizeof(*site_of));
    sites = calloc(A.n_nodes, sizeof(*sites));
    out.f = malloc(A.n_nodes * sizeof(*out.f));
    for (out.bits = 4; ((size_t)1 << out.bits) < 2 * (size_t)A.n_nodes;)
        out.bits++;
    out.slots = calloc((size_t)1 << out.bits, sizeof(*out.slots));
    if (map == NULL || site_of == NULL || sites == NULL || out.f == NULL ||
        out.slots == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    /* Parents precede children: one pass maps every node to its stack of
     * traced frames, registering the codes first seen in the hook. */
    map[0] = TT_NO_STACK;
    for (uint32_t i = 1; i < A.n_nodes; i++) {
        ah_node_t *n = &A.nodes[i];
        capture_code_t *c = capture_codetab_find(&rec->codes, n->co);
        uint32_t up = map[n->parent];
        if (c == NULL)
            c = capture_code_register(rec, n->co, 1);
        if (c == NULL || !c->traced) {
            map[i] = up;
            continue;
        }
        map[i] = ah_out_intern(&out, up, c->id,
                               c->lines != NULL && n->off / 2 < c->n_units
                                   ? c->lines[n->off / 2] : TT_NO_LINE);
    }
    for (uint32_t i = 0; i < A.n_nodes; i++)
        site_of[i] = UINT32_MAX;
    for (uint32_t i = 0; i < A.n_nodes; i++) {
        ah_node_t *n = &A.nodes[i];
        uint32_t k = map[i] == TT_NO_STACK ? 0 : map[i] + 1;
        tt_alloc_site_t *s;
        if (n->allocs == 0)
            continue;
        /* site_of is keyed by output stack + 1 (0: no stack) */
        if (site_of[k] == UINT32_MAX) {
            site_of[k] = n_sites++;
            sites[site_of[k]].stack = map[i];
        }
        s = &sites[site_of[k]];
        s->allocs += n->allocs;
        s->alloc_bytes += n->bytes;
        s->frees += n->frees;
        s->freed_bytes += n->freed;
        s->live_bytes += n->live;
        s->live_blocks += n->blocks;
        s->peak_bytes += n->stamp <= A.peak_stamp ? n->live : n->at_peak;
    }
    memset(&sum, 0, sizeof(sum));
    sum.depth = (uint32_t)A.depth;
    sum.allocs = A.allocs;
    sum.alloc_bytes = A.alloc_bytes;
    sum.frees = A.frees;
    sum.freed_bytes = A.freed_bytes;
    sum.live_bytes = A.live;
    sum.live_blocks = A.n_blocks;
    sum.peak_bytes = A.peak;
    sum.peak_tick = A.peak_tick > rec->start_tick ? A.peak_tick - rec->start_tick
                                                  : 0;
    sum.untracked = A.untracked;
    sum.lost = A.lost;
    rc = tt_writer_allocs(rec->w, &sum, out.f, out.n, sites, n_sites,
                          A.samples, A.n_samples);
    if (rc < 0)
        rec->problems.writer_errors++;
    res = PyDict_New();
    if (res == NULL || ah_set(res, "allocs", sum.allocs) < 0 ||
        ah_set(res, "alloc_bytes", sum.alloc_bytes) < 0 ||
        ah_set(res, "live_bytes", sum.live_bytes) < 0 ||
        ah_set(res, "peak_bytes", sum.peak_bytes) < 0 ||
        ah_set(res, "untracked", sum.untracked) < 0 ||
        ah_set(res, "lost", sum.lost) < 0 ||
        ah_set(res, "stacks", out.n) < 0 || ah_set(res, "sites", n_sites) < 0 ||
        ah_set(res, "depth", sum.depth) < 0 ||
        ah_set(res, "table_bytes",
               (uint64_t)A.cap_nodes * sizeof(ah_node_t) +
               ((uint64_t)sizeof(ah_block_t) << A.bbits)) < 0)
        Py_CLEAR(res);
done:
    free(map);
    free(site_of);
    free(sites);
    free(out.f);
    free(out.slots);
    ah_release();
    return res;
}

#else  /* 3.11, 3.12: --objects is refused before --bytes starts */

int
ttx_allocs_start(capture_rec_t *rec, int depth)
{
    (void)rec;
    (void)depth;
    PyErr_SetString(PyExc_RuntimeError, "--bytes needs Python 3.13 or later");
    return -1;
}

void
ttx_allocs_enable(void)
{
}

PyObject *
ttx_allocs_stop(capture_rec_t *rec, PyObject *warnings)
{
    (void)rec;
    (void)warnings;
    Py_RETURN_NONE;
}

void
ttx_allocs_abort(void)
{
}

#endif /* TTX_HAVE_REFTRACER */
