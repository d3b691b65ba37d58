/* allochooks.c - bytes per creation stack and per type (--objects --bytes):
 * wraps CPython's RAW, MEM and OBJ allocators (PyMem_SetAllocator: the
 * domains tracemalloc hooks), charges each block to the interned stack of
 * traced frames that asked for it and, when an object is then created in
 * it (the ref tracer's CREATE, wrapped here), to that object's type; keeps
 * live bytes, the peak and what each stack and type held at the peak. Each
 * periodic flush writes a partial 0x85 snapshot, an emergency flush the
 * totals, stop() the final snapshot (FORMAT.md §18).
 * Must not: call Python or allocate through Python's allocators inside a
 * hook (its tables use libc malloc), nor take the GIL there: RAW calls come
 * without it, so the tables sit behind a spinlock. GIL: start, enable and
 * stop hold it; the hooks run in any thread.
 */
#include "objects.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#if TTX_HAVE_REFTRACER

#define AH_NONE      UINT32_MAX
#define AH_MAX_DEPTH 64
#define AH_SAMPLES   16384                /* then every other one goes */
#define AH_STEP_MIN  (64u * 1024u)        /* live-bytes sample step */

/* What a stack or a type group was charged. */
typedef struct {
    uint64_t allocs, bytes, frees, freed, live, blocks;
    uint64_t at_peak;        /* live at the last peak, if touched since */
    uint64_t stamp;          /* `now` at the last change */
} ah_count_t;

/* One interned stack: its innermost frame (code object, byte offset) and
 * its caller's stack. Node 0 is the empty stack (no Python frame). The
 * counters are of the blocks charged to this very stack. */
typedef struct {
    PyObject *co;            /* borrowed from the code table, or owned
                                (`owned`) when the code was not in it yet */
    uint32_t parent, off, next;
    uint32_t owned;
    ah_count_t c;
} ah_node_t;

typedef struct {
    uint64_t addr;           /* 0: free slot */
    uint64_t size;
    uint32_t node;
    uint32_t group;          /* 0: buffers; else the object's type id + 1 */
} ah_block_t;

/* Stacks as the file has them: frames of traced code only, (code id,
 * line), interned again (several offsets make one line). Kept across
 * snapshots: the file numbers stacks once. */
typedef struct {
    tt_alloc_frame_t *f;     /* libc malloc */
    uint32_t n, cap, bits;
    uint32_t *slots;         /* 1 << bits: index + 1, 0 free */
} ah_out_t;

/* All of it is protected by `lock` (taken in the hooks) or, outside a
 * recording, by the GIL (start/stop, hooks not yet or no longer on). A
 * hook checks `on` again once it holds the lock: ah_disable turns it off
 * under the lock, and only then are the tables freed. */
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
    size_t samples_written;  /* samples[0..this) are in a partial snapshot */
    uint64_t sample_live;    /* live at the last sample */
    ah_count_t *groups;      /* by block group: type id + 1 (0, the
                                buffers, is derived: unused) */
    uint32_t n_groups;
    /* Snapshots (GIL): not touched by the hooks. */
    ah_out_t out;
    uint32_t *map;           /* node -> output stack, for nodes < n_mapped */
    uint32_t n_mapped, cap_map;
    uint32_t out_written;    /* output stacks already in the file */
    int write_failed;        /* stack ids in the file are unknown: stop */
    uint64_t snap_now;       /* `now` at the last snapshot */
    uint64_t gen;            /* this recording's ah_gen */
} A;

/* The ref tracer this one wraps (--objects's), and its data. GIL. */
static PyRefTracer ah_next;
static void *ah_next_data;

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
/* The address of the last block this thread had charged: an object is
 * created in the block allocated just before its CREATE, so a CREATE at
 * any other address (a freelist's object, whose block is typed already)
 * needs no lookup. */
static __thread uint64_t ah_last_block
    __attribute__((tls_model("initial-exec")));
static __thread size_t ah_last_slot     /* its slot then: a hint */
    __attribute__((tls_model("initial-exec")));

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

/* Each thread's last stack, outermost frame first, with the node of each
 * prefix: the next block's stack mostly differs from it in its innermost
 * frames only (the same loop, the same callers), so only those are
 * interned again. libc malloc, freed at thread exit (ah_tl_key). Nodes
 * live as long as the recording: `gen` tells a recording's from the last
 * one's. */
typedef struct {
    uint64_t gen;
    int n;
    PyObject *codes[AH_MAX_DEPTH];
    uint32_t offs[AH_MAX_DEPTH];
    uint32_t nodes[AH_MAX_DEPTH];
} ah_tlstack_t;

static __thread ah_tlstack_t *ah_tl __attribute__((tls_model("initial-exec")));
static pthread_key_t ah_tl_key;         /* its destructor frees ah_tl */
static int ah_tl_key_made;              /* GIL */
static uint64_t ah_gen;                 /* GIL: recordings started */

/* The calling thread's cache, made on first use; NULL without memory.
 * Lock held (libc only). */
static ah_tlstack_t *
ah_tl_get(void)
{
    ah_tlstack_t *t = ah_tl;
    if (TTX_LIKELY(t != NULL))
        return t;
    t = calloc(1, sizeof(*t));
    if (t == NULL || (ah_tl_key_made && pthread_setspecific(ah_tl_key, t))) {
        free(t);
        return NULL;
    }
    ah_tl = t;
    return t;
}

static void
ah_tl_free(void *t)
{
    free(t);
    ah_tl = NULL;
}

/* The stack of the calling thread's traced frames, up to A.depth, or 0.
 * Lock held. Only a thread holding the GIL has frames to read. */
static uint32_t
ah_site(void)
{
    PyObject *codes[AH_MAX_DEPTH];
    uint32_t offs[AH_MAX_DEPTH], node = 0;
    ah_tlstack_t *t;
    int n, j = 0;

    if (PyThreadState_GetUnchecked() == NULL)
        return 0;
    n = ttx_frameaddr_stack(ah_skip, &A.rec->codes, codes, offs, A.depth);
    t = ah_tl_get();
    if (t != NULL && t->gen == A.gen) {
        /* the prefix (from the outermost frame) the last stack shares */
        for (; j < n && j < t->n && t->codes[j] == codes[n - 1 - j] &&
               t->offs[j] == offs[n - 1 - j]; j++)
            node = t->nodes[j];
    } else if (t != NULL) {
        t->gen = A.gen;
    }
    for (; j < n; j++) {
        node = ah_intern(node, codes[n - 1 - j], offs[n - 1 - j]);
        if (t == NULL)
            continue;
        if (node == 0) {         /* no memory: keep what is sure */
            t->n = j;
            t = NULL;
            continue;
        }
        t->codes[j] = codes[n - 1 - j];
        t->offs[j] = offs[n - 1 - j];
        t->nodes[j] = node;
    }
    if (t != NULL)
        t->n = n;
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
ah_touch(ah_count_t *n)
{
    if (n->stamp <= A.peak_stamp)
        n->at_peak = n->live;
    n->stamp = ++A.now;
}

static inline void
ah_add(ah_count_t *n, uint64_t size)
{
    ah_touch(n);
    n->allocs++;
    n->bytes += size;
    n->live += size;
    n->blocks++;
}

static inline void
ah_sub(ah_count_t *n, uint64_t size)
{
    ah_touch(n);
    n->frees++;
    n->freed += size;
    n->live -= size;
    n->blocks--;
}

/* Room for group g. Lock held. 0, or -1 (nothing changed). */
static int
ah_groups_reserve(uint32_t g)
{
    uint32_t cap = A.n_groups ? A.n_groups : 256;
    void *v;
    if (g < A.n_groups)
        return 0;
    while (cap <= g && cap < (1u << 30))
        cap *= 2;
    if (cap <= g || (v = realloc(A.groups, cap * sizeof(*A.groups))) == NULL)
        return -1;
    A.groups = v;
    memset(A.groups + A.n_groups, 0, (cap - A.n_groups) * sizeof(*A.groups));
    A.n_groups = cap;
    return 0;
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

/* Charges a new block to `node` and to group g (kept by a realloc). Lock
 * held. */
static void
ah_track(void *p, size_t size, uint32_t node, uint32_t g)
{
    size_t mask, k;

    if (A.n_blocks + 1 > (3ull << A.bbits) / 4 && ah_blocks_grow() < 0) {
        A.lost++;
        return;
    }
    mask = ((size_t)1 << A.bbits) - 1;
    for (k = ah_bslot((uintptr_t)p, A.bbits); A.blocks[k].addr; k = (k + 1) & mask)
        ;
    A.blocks[k].addr = (uintptr_t)p;
    ah_last_block = (uintptr_t)p;
    ah_last_slot = k;
    A.blocks[k].size = size;
    A.blocks[k].node = node;
    A.blocks[k].group = g;
    A.n_blocks++;
    ah_add(&A.nodes[node].c, size);
    if (g != 0)                  /* buffers: the totals less the types */
        ah_add(&A.groups[g], size);
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

/* The slot of the block at addr, or SIZE_MAX. Lock held. */
static inline size_t
ah_find(uint64_t addr)
{
    size_t mask = ((size_t)1 << A.bbits) - 1, k;
    for (k = ah_bslot(addr, A.bbits); A.blocks[k].addr != addr;
         k = (k + 1) & mask)
        if (A.blocks[k].addr == 0)
            return SIZE_MAX;
    return k;
}

/* Forgets the block at p, if it is one of ours: its group, or 0 (not
 * ours). Lock held. */
static uint32_t
ah_untrack(void *p)
{
    size_t mask = ((size_t)1 << A.bbits) - 1, k = ah_find((uintptr_t)p), j;
    uint32_t g;

    if (k == SIZE_MAX)
        return 0;
    g = A.blocks[k].group;
    ah_sub(&A.nodes[A.blocks[k].node].c, A.blocks[k].size);
    if (g != 0)
        ah_sub(&A.groups[g], A.blocks[k].size);
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
    return g;
}

/* The memory an object of tp starts at, before the object's address: its
 * GC header and its pre-header (managed dict and weakref pointers), as
 * CPython's _PyType_PreHeaderSize computes it on 3.13 and 3.14 (with the
 * GIL: free-threaded builds are refused). PyGC_Head is two uintptr_t in
 * both (pycore_gc.h, pycore_interp_structs.h). */
#define AH_GC_HEAD (2 * sizeof(uintptr_t))

static inline size_t
ah_preheader(PyTypeObject *tp)
{
    return (PyType_HasFeature(tp, Py_TPFLAGS_HAVE_GC) ? AH_GC_HEAD : 0) +
           (PyType_HasFeature(tp, Py_TPFLAGS_PREHEADER)
                ? 2 * sizeof(PyObject *) : 0);
}

/* An object was created at the block at addr: the block's bytes go to
 * group g (its type). The buffers group is not kept: it is the totals less
 * the types (ah_copy_locked), so a block that stays a buffer costs nothing
 * here. Stacks do not change. Lock held. */
static void
ah_type_block(uint64_t addr, uint32_t g)
{
    /* Mostly still where this thread put it (the table only grows, and a
     * free elsewhere rarely shifts it): no hashing then. */
    size_t k = ah_last_slot < ((size_t)1 << A.bbits) &&
               A.blocks[ah_last_slot].addr == addr ? ah_last_slot
                                                   : ah_find(addr);
    ah_block_t *b;
    ah_count_t *from;
    int at_peak;

    if (k == SIZE_MAX || A.blocks[k].group == g)
        return;
    if (ah_groups_reserve(g) < 0) {
        A.lost++;
        return;
    }
    b = &A.blocks[k];
    /* The block that made the peak keeps it: the peak is re-stamped after
     * the move, so the type's share at the peak includes it. */
    at_peak = A.peak_stamp == A.now;
    if (b->group != 0) {         /* made again as another type: rare */
        from = &A.groups[b->group];
        ah_touch(from);
        from->allocs--;
        from->bytes -= b->size;
        from->live -= b->size;
        from->blocks--;
    }
    ah_add(&A.groups[g], b->size);
    b->group = g;
    if (at_peak)
        A.peak_stamp = A.now;
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
    uint32_t g = 0;
    ah_lock();
    if (!A.on) {                 /* stopped while this thread waited */
        ah_unlock();
        return;
    }
    if (old != NULL)
        g = ah_untrack(old);     /* an object's block stays its type's */
    if (p != NULL && !ttx_obj_busy && !ah_tracing())
        ah_track(p, size, ah_site(), g);
    ah_unlock();
}

/* The ref tracer while --bytes runs: --objects's, then, for a CREATE, the
 * block the object lies in is charged to its type. Never raises. */
static int
ah_reftrace(PyObject *op, PyRefTracerEvent event, void *data)
{
    int rc = ah_next(op, event, data);
    capture_objects_t *o = data;
    PyTypeObject *tp;
    uint32_t type;
    uint64_t base;

    if (event != PyRefTracer_CREATE || !A.on || ttx_obj_busy)
        return rc;
    tp = Py_TYPE(op);
    base = (uint64_t)(uintptr_t)op - ah_preheader(tp);
    if (TTX_LIKELY(base != ah_last_block) || o == NULL ||
        capture_rec == NULL || capture_rec->objects != o)
        return rc;
    ah_last_block = 0;
    /* --objects has just looked the type up (its one-entry cache). */
    type = tp == o->last_tp ? o->last_type
                            : capture_objects_type_id(capture_rec, o, tp);
    if (type == UINT32_MAX || type >= UINT32_MAX - 1)
        return rc;
    ah_lock();
    if (A.on)
        ah_type_block(base, type + 1);
    ah_unlock();
    return rc;
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
         * back at once. A.on is read again under the lock: stop() may
         * have turned it off and freed the tables while this thread (the
         * flusher, freeing without the GIL) waited for it. */
        ah_lock();
        if (A.on)
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
    free(A.groups);
    free(A.out.f);
    free(A.out.slots);
    free(A.map);
    memset(&A, 0, sizeof(A));
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
    if (!ah_tl_key_made && pthread_key_create(&ah_tl_key, ah_tl_free) == 0)
        ah_tl_key_made = 1;
    memset(&A, 0, sizeof(A));
    A.rec = rec;
    A.gen = ++ah_gen;
    A.depth = depth;
    A.cap_nodes = 1024;
    A.hbits = 10;
    A.bbits = 14;
    A.nodes = malloc(A.cap_nodes * sizeof(*A.nodes));
    A.heads = malloc(((size_t)1 << A.hbits) * sizeof(*A.heads));
    A.blocks = calloc((size_t)1 << A.bbits, sizeof(*A.blocks));
    A.samples = malloc(AH_SAMPLES * sizeof(*A.samples));
    if (A.nodes == NULL || A.heads == NULL || A.blocks == NULL ||
        A.samples == NULL || ah_groups_reserve(255) < 0) {
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

/* The emergency flush's extra chunk: the totals of the moment, read
 * without the lock (a crash signal may have come inside it; a torn
 * counter is one of the moment's values). Async-signal-safe. */
static size_t
ah_emergency_fill(void *ctx, uint8_t *buf, size_t cap)
{
    tt_alloc_summary_t s;
    (void)ctx;
    memset(&s, 0, sizeof(s));
    s.flags = TT_ALLOCS_PARTIAL;
    s.depth = (uint32_t)A.depth;
    s.allocs = A.allocs;
    s.alloc_bytes = A.alloc_bytes;
    s.frees = A.frees;
    s.freed_bytes = A.freed_bytes;
    s.live_bytes = A.live;
    s.live_blocks = A.n_blocks;
    s.peak_bytes = A.peak;
    s.peak_tick = A.rec != NULL && A.peak_tick > A.rec->start_tick
                      ? A.peak_tick - A.rec->start_tick : 0;
    s.untracked = A.untracked;
    s.lost = A.lost;
    return tt_allocs_encode_summary(&s, buf, cap);
}

void
ttx_allocs_enable(void)
{
    static const PyMemAllocatorDomain dom[3] = {
        PYMEM_DOMAIN_RAW, PYMEM_DOMAIN_MEM, PYMEM_DOMAIN_OBJ};
    void *data = NULL;
    PyRefTracer cur;
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
    /* Types: --objects's ref tracer (installed just before) runs inside
     * ours; without it no object is typed (every block is a buffer). */
    cur = PyRefTracer_GetTracer(&data);
    if (cur != NULL && cur != ah_reftrace && data == A.rec->objects &&
        data != NULL) {
        ah_next = cur;
        ah_next_data = data;
        (void)PyRefTracer_SetTracer(ah_reftrace, data);
    }
    (void)tt_writer_set_emergency_extra(A.rec->w, TT_CHUNK_ALLOCS,
                                        ah_emergency_fill, NULL);
    A.on = 1;
    ah_sample();
}

/* Takes the hooks off where they are still the current allocators; where
 * another tool (tracemalloc) wrapped them since, they stay, passing
 * through. The ref tracer goes back to --objects's if ours is still
 * installed. 1 if all three allocators came off. */
static int
ah_disable(void)
{
    static const PyMemAllocatorDomain dom[3] = {
        PYMEM_DOMAIN_RAW, PYMEM_DOMAIN_MEM, PYMEM_DOMAIN_OBJ};
    void *data = NULL;
    int all = 1;
    ah_lock();
    A.on = 0;
    ah_unlock();
    if (A.rec != NULL)
        (void)tt_writer_set_emergency_extra(A.rec->w, 0, NULL, NULL);
    if (ah_next != NULL) {
        if (PyRefTracer_GetTracer(&data) == ah_reftrace &&
            data == ah_next_data)
            (void)PyRefTracer_SetTracer(ah_next, ah_next_data);
        ah_next = NULL;
        ah_next_data = NULL;
    }
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

/* ---------------------------------------------------------- snapshots */

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

/* Room in the output stacks and the node map for n nodes (each maps to
 * one output stack at most). 0 or -1 (unchanged). */
static int
ah_out_reserve(uint32_t n)
{
    ah_out_t *o = &A.out;
    uint32_t bits = 4, *slots;
    void *f, *m;
    if (n <= o->cap)
        return 0;
    while (((size_t)1 << bits) < 2 * (size_t)n)
        bits++;
    f = realloc(o->f, (size_t)n * sizeof(*o->f));
    if (f == NULL)
        return -1;
    o->f = f;
    m = realloc(A.map, (size_t)n * sizeof(*A.map));
    if (m == NULL)
        return -1;
    A.map = m;
    slots = calloc((size_t)1 << bits, sizeof(*slots));
    if (slots == NULL)
        return -1;
    for (uint32_t i = 0; i < o->n; i++) {
        const tt_alloc_frame_t *x = &o->f[i];
        size_t k = ah_mix(ah_mix(x->parent, x->code), (uint32_t)x->line) >>
                   (64 - bits);
        while (slots[k])
            k = (k + 1) & (((size_t)1 << bits) - 1);
        slots[k] = i + 1;
    }
    free(o->slots);
    o->slots = slots;
    o->bits = bits;
    o->cap = n;
    return 0;
}

/* Maps the nodes made since the last snapshot to their stacks of traced
 * frames. Parents precede children, so one pass does; codes first seen in
 * the hook are registered (GIL). 0, or -1 (no memory). */
static int
ah_map_nodes(capture_rec_t *rec, uint32_t n_nodes)
{
    if (ah_out_reserve(n_nodes) < 0)
        return -1;
    if (A.n_mapped == 0) {
        A.map[0] = TT_NO_STACK;
        A.n_mapped = 1;
    }
    for (uint32_t i = A.n_mapped; i < n_nodes; i++) {
        ah_node_t *n = &A.nodes[i];
        capture_code_t *c = capture_codetab_find(&rec->codes, n->co);
        uint32_t up = A.map[n->parent];
        if (c == NULL)
            c = capture_code_register(rec, n->co, 1);
        if (c == NULL || !c->traced) {
            A.map[i] = up;
            continue;
        }
        A.map[i] = ah_out_intern(&A.out, up, c->id,
                                 c->lines != NULL && n->off / 2 < c->n_units
                                     ? c->lines[n->off / 2] : TT_NO_LINE);
    }
    A.n_mapped = n_nodes;
    return 0;
}

/* A snapshot's copy of the counters (taken under the lock). */
typedef struct {
    tt_alloc_summary_t sum;
    tt_alloc_site_t *by_node;    /* n_nodes: stack = node index */
    uint32_t n_nodes;
    tt_alloc_type_t *types;      /* the groups charged */
    uint32_t n_types;
    tt_alloc_sample_t *samples;
    size_t n_samples;
} ah_copy_t;

static void
ah_count_out(const ah_count_t *c, tt_alloc_site_t *s)
{
    s->allocs = c->allocs;
    s->alloc_bytes = c->bytes;
    s->frees = c->frees;
    s->freed_bytes = c->freed;
    s->live_bytes = c->live;
    s->live_blocks = c->blocks;
    s->peak_bytes = c->stamp <= A.peak_stamp ? c->live : c->at_peak;
}

/* Copies what a snapshot writes. Lock held: nothing but libc malloc. 0 or
 * -1 (no memory; nothing to free). */
static int
ah_copy_locked(capture_rec_t *rec, int final, ah_copy_t *cp)
{
    size_t from = final ? 0 : A.samples_written;
    uint32_t n_groups = 0;
    tt_alloc_type_t buf = {TT_ALLOC_BUFFERS, 0, 0, 0, 0, 0, 0, 0};

    memset(cp, 0, sizeof(*cp));
    for (uint32_t g = 1; g < A.n_groups; g++)
        n_groups += A.groups[g].allocs != 0;
    cp->n_nodes = A.n_nodes;
    cp->by_node = malloc((size_t)A.n_nodes * sizeof(*cp->by_node));
    cp->types = malloc((n_groups + 1) * sizeof(*cp->types));
    cp->samples = malloc((A.n_samples - from + 1) * sizeof(*cp->samples));
    if (cp->by_node == NULL || cp->types == NULL || cp->samples == NULL)
        return -1;
    for (uint32_t i = 0; i < A.n_nodes; i++)
        ah_count_out(&A.nodes[i].c, &cp->by_node[i]);
    /* The buffers: the totals less the types (ah_type_block). */
    buf.allocs = A.allocs;
    buf.alloc_bytes = A.alloc_bytes;
    buf.frees = A.frees;
    buf.freed_bytes = A.freed_bytes;
    buf.live_bytes = A.live;
    buf.live_blocks = A.n_blocks;
    buf.peak_bytes = A.peak;
    for (uint32_t g = 1; g < A.n_groups; g++) {
        tt_alloc_site_t s;
        tt_alloc_type_t *t;
        if (A.groups[g].allocs == 0)
            continue;
        ah_count_out(&A.groups[g], &s);
        t = &cp->types[cp->n_types++];
        t->type = g - 1;
        t->allocs = s.allocs;
        t->alloc_bytes = s.alloc_bytes;
        t->frees = s.frees;
        t->freed_bytes = s.freed_bytes;
        t->live_bytes = s.live_bytes;
        t->live_blocks = s.live_blocks;
        t->peak_bytes = s.peak_bytes;
        buf.allocs -= s.allocs;
        buf.alloc_bytes -= s.alloc_bytes;
        buf.frees -= s.frees;
        buf.freed_bytes -= s.freed_bytes;
        buf.live_bytes -= s.live_bytes;
        buf.live_blocks -= s.live_blocks;
        buf.peak_bytes -= s.peak_bytes;
    }
    if (buf.peak_bytes > A.peak)     /* never: the types' shares are parts */
        buf.peak_bytes = 0;
    if (buf.allocs != 0)
        cp->types[cp->n_types++] = buf;
    memcpy(cp->samples, A.samples + from,
           (A.n_samples - from) * sizeof(*cp->samples));
    cp->n_samples = A.n_samples - from;
    if (!final)
        A.samples_written = A.n_samples;
    cp->sum.flags = final ? 0 : TT_ALLOCS_PARTIAL;
    cp->sum.depth = (uint32_t)A.depth;
    cp->sum.allocs = A.allocs;
    cp->sum.alloc_bytes = A.alloc_bytes;
    cp->sum.frees = A.frees;
    cp->sum.freed_bytes = A.freed_bytes;
    cp->sum.live_bytes = A.live;
    cp->sum.live_blocks = A.n_blocks;
    cp->sum.peak_bytes = A.peak;
    cp->sum.peak_tick = A.peak_tick > rec->start_tick
                            ? A.peak_tick - rec->start_tick : 0;
    cp->sum.untracked = A.untracked;
    cp->sum.lost = A.lost;
    return 0;
}

static void
ah_copy_free(ah_copy_t *cp)
{
    free(cp->by_node);
    free(cp->types);
    free(cp->samples);
}

/* Writes a snapshot (FORMAT.md §18): partial at a periodic flush, final at
 * stop. GIL held; the hooks may run meanwhile on other threads (RAW).
 * 0, or -1 (no memory, or the writer failed: counted, and no snapshot is
 * written after a failed one, whose stack numbering the file may lack). */
static int
ah_snapshot(capture_rec_t *rec, int final, uint32_t *n_sites_out)
{
    ah_copy_t cp;
    tt_alloc_site_t *sites = NULL;
    uint32_t *site_of = NULL, n_sites = 0;
    tt_alloc_snapshot_t s;
    int rc = -1;

    if (A.write_failed)
        return -1;
    ah_lock();
    rc = ah_copy_locked(rec, final, &cp);
    ah_unlock();
    rc = rc < 0 ? -1 : 0;
    ttx_obj_busy++;              /* code registration is ours, not charged */
    if (rc == 0)
        rc = ah_map_nodes(rec, cp.n_nodes);
    ttx_obj_busy--;
    if (rc == 0) {
        sites = calloc((size_t)cp.n_nodes, sizeof(*sites));
        site_of = malloc(((size_t)A.out.n + 1) * sizeof(*site_of));
        if (sites == NULL || site_of == NULL)
            rc = -1;
    }
    if (rc < 0)
        goto done;
    /* Nodes to sites: one per output stack (+ 1: 0 is no stack). */
    memset(site_of, 0xFF, ((size_t)A.out.n + 1) * sizeof(*site_of));
    for (uint32_t i = 0; i < cp.n_nodes; i++) {
        const tt_alloc_site_t *c = &cp.by_node[i];
        uint32_t k = A.map[i] == TT_NO_STACK ? 0 : A.map[i] + 1;
        tt_alloc_site_t *x;
        if (c->allocs == 0)
            continue;
        if (site_of[k] == UINT32_MAX) {
            site_of[k] = n_sites++;
            sites[site_of[k]].stack = A.map[i];
        }
        x = &sites[site_of[k]];
        x->allocs += c->allocs;
        x->alloc_bytes += c->alloc_bytes;
        x->frees += c->frees;
        x->freed_bytes += c->freed_bytes;
        x->live_bytes += c->live_bytes;
        x->live_blocks += c->live_blocks;
        x->peak_bytes += c->peak_bytes;
    }
    memset(&s, 0, sizeof(s));
    s.sum = &cp.sum;
    s.stacks = A.out.f + A.out_written;
    s.n_stacks = A.out.n - A.out_written;
    s.first_stack = A.out_written;
    s.sites = sites;
    s.n_sites = n_sites;
    s.types = cp.types;
    s.n_types = cp.n_types;
    s.samples = cp.samples;
    s.n_samples = cp.n_samples;
    if (tt_writer_allocs_snapshot(rec->w, &s) < 0) {
        rec->problems.writer_errors++;
        A.write_failed = 1;
        rc = -1;
    } else {
        A.out_written = A.out.n;
    }
    if (n_sites_out != NULL)
        *n_sites_out = n_sites;
done:
    free(sites);
    free(site_of);
    ah_copy_free(&cp);
    return rc;
}

void
ttx_allocs_periodic(capture_rec_t *rec)
{
    uint64_t now;
    if (!A.on || A.rec != rec)
        return;
    ah_lock();
    now = A.now;
    ah_unlock();
    /* Nothing charged or freed since the last one: the file has it. */
    if (now != A.snap_now && ah_snapshot(rec, 0, NULL) == 0)
        A.snap_now = now;
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
    PyObject *res = NULL;
    uint32_t n_sites = 0;

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
    (void)ah_snapshot(rec, 1, &n_sites);
    res = PyDict_New();
    if (res == NULL || ah_set(res, "allocs", A.allocs) < 0 ||
        ah_set(res, "alloc_bytes", A.alloc_bytes) < 0 ||
        ah_set(res, "live_bytes", A.live) < 0 ||
        ah_set(res, "peak_bytes", A.peak) < 0 ||
        ah_set(res, "untracked", A.untracked) < 0 ||
        ah_set(res, "lost", A.lost) < 0 ||
        ah_set(res, "stacks", A.out.n) < 0 || ah_set(res, "sites", n_sites) < 0 ||
        ah_set(res, "depth", (uint64_t)A.depth) < 0 ||
        ah_set(res, "table_bytes",
               (uint64_t)A.cap_nodes * sizeof(ah_node_t) +
               ((uint64_t)sizeof(ah_block_t) << A.bbits)) < 0)
        Py_CLEAR(res);
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

void
ttx_allocs_periodic(capture_rec_t *rec)
{
    (void)rec;
}

#endif /* TTX_HAVE_REFTRACER */
