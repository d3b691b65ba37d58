/* reftracer.c - the PyRefTracer hook of --objects: CREATE and DESTROY
 * into the live-table updates (liveops.c) and the thread's event buffer
 * (or the --count rows), with the object-event clock,
 * with the creation site, the type id cache, and the filter that drops the
 * frame objects and boxed offsets legacy tracing makes for itself.
 *
 * Must not: create Python objects, touch frame objects, call Python, set,
 * clear or swap an exception, or release the GIL, inside the hook
 * (docs/CPYTHON-NOTES.md §4, constraint 9). Our own slow paths (a new type, a new
 * code object, a new thread) run under a thread-local guard, and whatever
 * they allocate is ignored. GIL: held by CPython for every call.
 */
#include "objects.h"

#if TTX_HAVE_REFTRACER

#include <string.h>

/* A creation held back until the trace function runs: legacy tracing
 * boxes event offsets as ints, and may make the frame object (of a frame
 * that started before the recording), just before it counts as tracing
 * and calls us; capture_objects_settle_slow decides whether they are
 * ours. */
typedef struct {
    uint64_t addr, tick, size;
    uint32_t type, code, offset;
    int32_t line;
    int is_frame;                /* 1 frame, 0 int (or, on the monitoring
                                    backend, a StopIteration) */
    int kind;                    /* noise_kind() of its type */
} ttx_pending_t;

#define TTX_PENDING_MAX 4        /* to-offset, offset, frame, spare */

/* Per thread: the capture state and the pending creations. */
struct ttx_objthread {
    capture_thread_t *t;         /* borrowed from the recording */
    uint64_t gen;
    uint32_t index;              /* in capture_objects_t.threads */
    ttx_pending_t p[TTX_PENDING_MAX];
    int n_pending;
};

__thread int ttx_obj_pending __attribute__((tls_model("initial-exec")));
/* The calling thread's object state and the recording it belongs to,
 * side by side (one TLS address for the hook to find). */
static __thread struct {
    ttx_objthread_t *ot;
    uint64_t gen;
} obj_tl __attribute__((tls_model("initial-exec")));
#define obj_tls     obj_tl.ot
#define obj_tls_gen obj_tl.gen
__thread int ttx_obj_busy __attribute__((tls_model("initial-exec")));

/* -------------------------------------------------------------- clock */

/* The time of an object event: one clock for every thread, raised by the
 * ticker, refreshed from the clock every TTX_OBJCLOCK_EVERY events
 * (objects.h says why) and by the thread's own trace events (its buffer's
 * time, which the event would be clamped to), and one tick past the
 * previous object event of any thread. The GIL orders the hooks, so an
 * object's DESTROY always carries a later time than its CREATE, whichever
 * threads they come from: a reader that merges the threads by time sees
 * them in order. */
static inline uint64_t
obj_tick_at(capture_objects_t *o, ttx_objthread_t *ot, uint64_t now)
{
    uint64_t t = o->clock + 1, buf = ot->t->tbuf->tick;
    if (now > t)
        t = now;
    if (buf > t)
        t = buf;
    o->clock = t;
    return t;
}

static inline uint64_t
obj_tick(capture_objects_t *o, ttx_objthread_t *ot)
{
    uint64_t now = __atomic_load_n(&ttx_objclock_ticker, __ATOMIC_RELAXED);
    if (TTX_UNLIKELY(++o->clock_n >= TTX_OBJCLOCK_EVERY)) {
        o->clock_n = 0;
        now = capture_clock();
    }
    return obj_tick_at(o, ot, now);
}

/* obj_tick for the defer mode's fast paths, which refresh the clock
 * beforehand (defer_refresh) instead: no call, so the hook saves no
 * registers. The same time obj_tick would give. */
static inline uint64_t
obj_tick_fast(capture_objects_t *o, ttx_objthread_t *ot)
{
    o->clock_n++;
    return obj_tick_at(o, ot,
                       __atomic_load_n(&ttx_objclock_ticker, __ATOMIC_RELAXED));
}

/* Ticks since the recording's start (a time read before it counts 0). */
static inline uint64_t
rel_tick(const capture_rec_t *rec, uint64_t tick)
{
    return tick > rec->start_tick ? tick - rec->start_tick : 0;
}

/* ------------------------------------------------------------ threads */

static TT_NOINLINE ttx_objthread_t *
objthread_attach(capture_rec_t *rec, capture_objects_t *o)
{
    capture_thread_t *t = NULL;
    ttx_objthread_t *ot;

    if (capture_tls.gen == capture_gen && capture_tls.thread != NULL)
        t = capture_tls.thread;
    else if (rec->main_only &&
             PyThread_get_thread_ident() != rec->main_ident)
        return NULL;
    else
        t = capture_thread_attach();
    if (t == NULL)
        return NULL;
    if (t->tbuf == NULL && capture_thread_open(rec, t) < 0)
        return NULL;
    if (o->n_threads == o->cap_threads) {
        uint32_t cap = o->cap_threads ? 2 * o->cap_threads : 16;
        void *v = PyMem_RawRealloc(o->threads, cap * sizeof(*o->threads));
        if (v == NULL)
            return NULL;
        o->threads = v;
        o->cap_threads = cap;
    }
    ot = PyMem_RawCalloc(1, sizeof(*ot));
    if (ot == NULL)
        return NULL;
    ot->t = t;
    ot->gen = rec->gen;
    t->objects = ot;
    ot->index = o->n_threads;
    o->threads[o->n_threads++] = ot;
    obj_tls = ot;
    obj_tls_gen = rec->gen;
    ttx_obj_pending = 0;
    return ot;
}

static inline ttx_objthread_t *
objthread_get(capture_rec_t *rec, capture_objects_t *o)
{
    ttx_objthread_t *ot;
    if (TTX_LIKELY(obj_tls_gen == rec->gen))
        return obj_tls;
    ttx_obj_busy++;
    ot = objthread_attach(rec, o);
    ttx_obj_busy--;
    if (ot == NULL)
        o->other_threads++;
    return ot;
}

ttx_objthread_t *
capture_objects_thread(capture_rec_t *rec, capture_objects_t *o)
{
    return objthread_get(rec, o);
}

capture_thread_t *
ttx_objthread_capture(capture_objects_t *o, uint32_t i)
{
    return i < o->n_threads ? o->threads[i]->t : NULL;
}

uint32_t
ttx_objthread_index(const ttx_objthread_t *ot)
{
    return ot->index;
}

void
capture_objects_free_threads(capture_objects_t *o)
{
    uint32_t i;
    for (i = 0; i < o->n_threads; i++)
        PyMem_RawFree(o->threads[i]);
    PyMem_RawFree(o->threads);
    o->threads = NULL;
    o->n_threads = o->cap_threads = 0;
}

/* --------------------------------------------------------- type cache */

static inline size_t
type_hash(const void *tp, uint32_t bits)
{
    return ttx_addr_slot((uint64_t)(uintptr_t)tp, bits);
}

static inline uint32_t
type_find(const capture_objects_t *o, PyTypeObject *tp)
{
    size_t mask = ((size_t)1 << o->tbits) - 1, i = type_hash(tp, o->tbits);
    for (;;) {
        const ttx_typeslot_t *s = &o->types[i];
        if (s->type == tp)
            return s->id;
        if (s->type == NULL)
            return UINT32_MAX;
        i = (i + 1) & mask;
    }
}

static int
type_insert(capture_objects_t *o, PyTypeObject *tp, uint32_t id)
{
    size_t mask, i;
    if ((o->tcount + 1) * 2 > ((uint32_t)1 << o->tbits)) {
        uint32_t bits = o->tbits + 1;
        size_t n = (size_t)1 << o->tbits, m = ((size_t)1 << bits) - 1, k;
        ttx_typeslot_t *s = PyMem_RawCalloc((size_t)1 << bits, sizeof(*s));
        if (s == NULL)
            return -1;
        for (k = 0; k < n; k++) {
            size_t j;
            if (o->types[k].type == NULL)
                continue;
            j = type_hash(o->types[k].type, bits);
            while (s[j].type != NULL)
                j = (j + 1) & m;
            s[j] = o->types[k];
        }
        PyMem_RawFree(o->types);
        o->types = s;
        o->tbits = bits;
    }
    mask = ((size_t)1 << o->tbits) - 1;
    i = type_hash(tp, o->tbits);
    while (o->types[i].type != NULL)
        i = (i + 1) & mask;
    o->types[i].type = tp;
    o->types[i].id = id;
    o->tcount++;
    return 0;
}

/* A type object is dying: forget its id, so that a new type at the same
 * address gets its own. */
static TT_NOINLINE void
type_evict(capture_objects_t *o, PyTypeObject *tp)
{
    if (o->last_tp == tp)
        o->last_tp = NULL;
    size_t mask = ((size_t)1 << o->tbits) - 1, i = type_hash(tp, o->tbits);
    size_t j;
    while (o->types[i].type != tp) {
        if (o->types[i].type == NULL)
            return;
        i = (i + 1) & mask;
    }
    for (j = i;;) {
        size_t k;
        j = (j + 1) & mask;
        if (o->types[j].type == NULL)
            break;
        k = type_hash(o->types[j].type, o->tbits);
        if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
            o->types[i] = o->types[j];
            i = j;
        }
    }
    o->types[i].type = NULL;
    o->tcount--;
}

uint32_t
capture_objects_type_id(capture_rec_t *rec, capture_objects_t *o,
                        PyTypeObject *tp)
{
    char buf[512];
    tt_type_def_t td;
    uint32_t id = type_find(o, tp), sid;
    size_t n;

    ttx_exc_state_t saved;

    if (id != UINT32_MAX)
        return id;
    ttx_obj_busy++;
    /* An exception may be in flight (objects are made while one is being
     * handled): keep it out of our way and put it back untouched. */
    ttx_exc_save(&saved);
    /* The same name exception events give the type (capture's names.c). */
    n = capture_type_name(tp, o->s_module, buf, sizeof(buf));
    memset(&td, 0, sizeof(td));
    td.basicsize = (uint64_t)tp->tp_basicsize;
    td.flags = (PyType_HasFeature(tp, Py_TPFLAGS_HAVE_GC) ? TT_TYPE_GC : 0) |
               (PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE) ? TT_TYPE_HEAP : 0);
    if (capture_string_id(rec, buf, n, &sid) < 0 ||
        (td.name = sid, tt_writer_type(rec->w, &td, &id) < 0) ||
        id > TTX_LIVE_ID_MAX) {
        rec->problems.writer_errors++;
        ttx_exc_restore(&saved);
        ttx_obj_busy--;
        return UINT32_MAX;
    }
    if (id >= o->cap_type_ids) {
        uint32_t cap = o->cap_type_ids ? 2 * o->cap_type_ids : 256;
        uint8_t *g = PyMem_RawRealloc(o->type_gc, cap);
        if (g == NULL)
            goto nomem;
        memset(g + o->cap_type_ids, 0, cap - o->cap_type_ids);
        o->type_gc = g;
        o->cap_type_ids = cap;
    }
    o->type_gc[id] = (td.flags & TT_TYPE_GC) != 0;
    o->n_type_ids = id + 1;
    if (type_insert(o, tp, id) < 0)
        goto nomem;
    ttx_exc_restore(&saved);
    ttx_obj_busy--;
    return id;
nomem:
    o->nomem++;
    ttx_exc_restore(&saved);
    ttx_obj_busy--;
    return id;                   /* usable; only the cache entry is lost */
}

/* ----------------------------------------------------------- --count */

static size_t
row_hash(uint32_t code, int32_t line, uint32_t offset, uint32_t type,
         uint32_t bits)
{
    uint64_t h = ((uint64_t)code << 32 | (uint32_t)line) ^
                 ((uint64_t)offset << 24) ^ ((uint64_t)type << 7);
    return ttx_fib_slot(h, bits);
}

static int
rows_rehash(capture_objects_t *o, uint32_t bits)
{
    uint32_t *heads = PyMem_RawMalloc(((size_t)1 << bits) * sizeof(*heads));
    uint32_t i;
    if (heads == NULL)
        return -1;
    memset(heads, 0xff, ((size_t)1 << bits) * sizeof(*heads));
    for (i = 0; i < o->n_rows; i++) {
        const tt_objstat_t *s = &o->rows[i].st;
        size_t h = row_hash(s->code, s->line, s->offset, s->type, bits);
        o->rows[i].next = heads[h];
        heads[h] = i;
    }
    PyMem_RawFree(o->row_heads);
    o->row_heads = heads;
    o->rbits = bits;
    return 0;
}

/* See objects.h. */
uint32_t
ttx_objrow_get(capture_objects_t *o, uint32_t code, int32_t line, uint32_t offset,
        uint32_t type)
{
    size_t h = row_hash(code, line, offset, type, o->rbits);
    uint32_t i;
    ttx_objrow_t *r;
    for (i = o->row_heads[h]; i != UINT32_MAX; i = o->rows[i].next) {
        const tt_objstat_t *s = &o->rows[i].st;
        if (s->code == code && s->line == line && s->offset == offset &&
            s->type == type)
            return i;
    }
    if (o->n_rows >= TTX_LIVE_ID_MAX)
        return UINT32_MAX;
    if (o->n_rows == o->cap_rows) {
        uint32_t cap = o->cap_rows ? 2 * o->cap_rows : 256;
        void *v = PyMem_RawRealloc(o->rows, (size_t)cap * sizeof(*o->rows));
        if (v == NULL)
            return UINT32_MAX;
        o->rows = v;
        o->cap_rows = cap;
    }
    r = &o->rows[o->n_rows];
    memset(r, 0, sizeof(*r));
    r->st.code = code;
    r->st.line = line;
    r->st.offset = offset;
    r->st.type = type;
    r->next = o->row_heads[h];
    o->row_heads[h] = o->n_rows++;
    if (o->n_rows * 2 > ((uint32_t)1 << o->rbits))
        (void)rows_rehash(o, o->rbits + 1);   /* chains still work if not */
    return o->n_rows - 1;
}

/* ------------------------------------------------------------- sites */

/* The last code object site_of looked at (GIL): consecutive creations
 * mostly come from the same code. Cleared at each start. */
static PyObject *site_last_co;
static capture_code_t *site_last_c;
/* The same, for the defer mode's hook: set only while that code is
 * traced and was last seen running in a frame of its own; its id and size
 * in bytes beside it (GIL). */
static PyObject *site_fast_co;
static uint32_t site_fast_id, site_fast_bytes;

void
capture_objects_site_cache_clear(void)
{
    site_last_co = NULL;
    site_last_c = NULL;
    site_fast_co = NULL;
}

static int
skip_untraced(void *ctx, PyObject *co)
{
    capture_rec_t *rec = ctx;
    capture_code_t *c;
    if (TTX_LIKELY(co == site_last_co))
        return !site_last_c->traced;
    c = capture_codetab_find(&rec->codes, co);
    if (TTX_UNLIKELY(c == NULL)) {
        ttx_obj_busy++;
        c = capture_code_register(rec, co, 1);     /* caller unknown */
        ttx_obj_busy--;
    }
    if (c != NULL) {
        /* The table holds a reference to co: the pointer stays valid. */
        site_last_co = co;
        site_last_c = c;
        /* co was found running in a frame of its own (frameaddr's walk
         * checked the frame before asking). */
        if (c->traced) {
            site_fast_co = co;
            site_fast_id = c->id;
            site_fast_bytes = c->n_units * 2;
        }
    }
    return c == NULL || !c->traced;
}

/* The creation site: the nearest frame of traced code on the shadow stack
 * (calls on, with lines or --count: its entries keep their line), else
 * of the interpreter's frames (by instruction offset). */
static inline void
site_of(capture_rec_t *rec, capture_objects_t *o, ttx_objthread_t *ot,
        uint32_t *code, int32_t *line, uint32_t *offset)
{
    *code = TT_NO_CODE;
    *line = TT_NO_LINE;
    *offset = TT_NO_OFFSET;
    if (o->shadow_sites) {
        capture_thread_t *t = ot->t;
        capture_frame_t *e = t->top;
        while (e > t->stack && (e->code == NULL || !e->code->traced))
            e--;
        if (e > t->stack) {
            *code = e->code->id;
            *line = e->line;
            return;
        }
    } else if (o->frames_ok) {
        PyObject *co;
        uint32_t off;
        /* Most creations come from the code of the last site, running in
         * the innermost frame: one frame read, no walk. */
        if (TTX_LIKELY(ttx_frameaddr_innermost(PyThreadState_GetUnchecked(), &co,
                                               &off) == 0 &&
                       co == site_last_co && site_last_c->traced)) {
            *code = site_last_c->id;
            *offset = off;
            site_fast_co = co;
            site_fast_id = site_last_c->id;
            site_fast_bytes = site_last_c->n_units * 2;
            return;
        }
        if (ttx_frameaddr_site(skip_untraced, rec, &co, &off) == 0) {
            capture_code_t *c = co == site_last_co
                                ? site_last_c
                                : capture_codetab_find(&rec->codes, co);
            if (c != NULL && c->traced) {
                *code = c->id;
                *offset = off;
                return;
            }
        }
    }
    o->no_site++;
}

/* ------------------------------------------------------------ record */

/* The defer mode's creation (out of line: the event-log path of the other
 * modes stays as it was): encoded when it leaves the ring, or counted if
 * it dies there. */
static TT_NOINLINE void
record_deferred(capture_objects_t *o, ttx_objthread_t *ot, uint64_t addr,
                uint64_t tick, uint64_t meta, uint64_t size, uint32_t code,
                uint32_t offset)
{
    ttx_liveext_t x;
    x.tick = tick;
    x.code = code;
    x.offset = offset;
    x.size = (uint32_t)size;
    x.thread = ot->index;
    ttx_liveops_create_deferred(o, addr, meta, &x);
}

static void
record_create(capture_rec_t *rec, capture_objects_t *o, ttx_objthread_t *ot,
              uint64_t addr, uint64_t tick, uint32_t type, uint64_t size,
              uint32_t code, int32_t line, uint32_t offset)
{
    uint64_t rel = rel_tick(rec, tick);
    uint32_t id = type;

    o->created++;
    if (TTX_UNLIKELY(o->defer)) {
        record_deferred(o, ot, addr, tick, ttx_live_meta(id, rel), size,
                        code, offset);
        return;
    }
    if (o->aggregate) {
        id = ttx_objrow_get(o, code, line, offset, type);
        if (id == UINT32_MAX) {
            o->nomem++;
            return;
        }
        o->rows[id].st.created++;
    } else {
        tt_tbuf_obj_create(ot->t->tbuf, tick, type, addr, size, code, line,
                           offset);
        /* A held-back creation is written at its buffer's time, which
         * trace events since may have raised past the shared clock. */
        if (TTX_UNLIKELY(ot->t->tbuf->tick > o->clock))
            o->clock = ot->t->tbuf->tick;
    }
    ttx_liveops_create(o, addr, ttx_live_meta(id, rel));
}

/* Records the pending creations in order, keeping those marked in
 * `drop` out (counted as our own noise). */
static void
flush_pending(capture_rec_t *rec, capture_objects_t *o, ttx_objthread_t *ot,
              const int *drop)
{
    int i, n = ot->n_pending;
    ot->n_pending = 0;
    ttx_obj_pending = 0;
    for (i = 0; i < n; i++) {
        const ttx_pending_t *p = &ot->p[i];
        if (drop != NULL && drop[i]) {
            o->filtered++;
            o->filtered_kind[p->kind]++;
            ttx_liveops_noise(o, p->addr);
            continue;
        }
        record_create(rec, o, ot, p->addr, p->tick, p->type, p->size,
                      p->code, p->line, p->offset);
    }
}

void
capture_objects_thread_ended(capture_objects_t *o, ttx_objthread_t *ot)
{
    capture_rec_t *rec = capture_rec;
    int mine = ttx_obj_pending;  /* the calling thread's flag, not ot's */
    /* While stop() checks survivors, every thread's held-back creations
     * were written already, and the table must not change. */
    if (o->stopping)
        return;
    if (rec != NULL && ot->n_pending)
        flush_pending(rec, o, ot, NULL);
    /* Its deferred events go to its buffer before the buffer ends. */
    if (o->defer)
        ttx_liveops_flush(o);
    ttx_obj_pending = mine;
}

void
capture_objects_flush_pending(capture_objects_t *o)
{
    capture_rec_t *rec = capture_rec;
    uint32_t i;
    if (rec == NULL)
        return;
    for (i = 0; i < o->n_threads; i++)
        if (o->threads[i]->n_pending)
            flush_pending(rec, o, o->threads[i], NULL);
    ttx_obj_pending = 0;
    ttx_liveops_flush(o);
}

/* Another thread's turn (the GIL moved). What the previous thread still
 * holds back is the program's: legacy tracing makes its own objects and
 * calls us without letting the GIL go in between. It is written now,
 * before this thread can free any of it (a free of an object whose
 * creation is not written yet would be logged unmatched, and the object
 * would look alive). */
static TT_NOINLINE void
thread_switched(capture_rec_t *rec, capture_objects_t *o, ttx_objthread_t *ot)
{
    ttx_objthread_t *prev = o->last_ot;
    int mine = ttx_obj_pending;  /* this thread's flag, not prev's */
    o->last_ot = ot;
    o->fast_ot = o->stopping ? NULL : ot;
    if (prev != NULL && prev->n_pending) {
        flush_pending(rec, o, prev, NULL);
        ttx_obj_pending = mine;
    }
}

static TT_NOINLINE void
on_destroy_type(capture_objects_t *o, PyObject *op)
{
    type_evict(o, (PyTypeObject *)op);
}

static long pending_int(const ttx_pending_t *p);

/* An event that legacy tracing boxed and then dropped without calling us
 * (a forward jump: sys_trace_jump_func returns DISABLE): the int freed now
 * is the last pending one and holds the running instruction's byte
 * offset; the int made just before it is the jump's target. Both are
 * forgotten (counted as our noise). 1 if so. */
static TT_NOINLINE int
pending_freed_unseen(capture_objects_t *o, ttx_objthread_t *ot, PyObject *op)
{
    int k = ot->n_pending - 1;
    PyObject *co;
    uint32_t off;
    long v;

    if (ot->p[k].kind != 0 || ot->p[k].addr != (uint64_t)(uintptr_t)op ||
        !o->frames_ok || ttx_frameaddr_site(NULL, NULL, &co, &off) < 0)
        return 0;
    v = pending_int(&ot->p[k]);
    if (v != (long)off)
        return 0;
    ot->n_pending = k;
    o->filtered++;
    o->filtered_kind[0]++;
    if (k > 0 && ot->p[k - 1].kind == 0) {
        long to = pending_int(&ot->p[k - 1]);
        if (to >= 0 && to % 2 == 0 && to < (long)TTX_CODE_UNITS(co) * 2) {
            ot->n_pending = k - 1;
            o->filtered++;
            o->filtered_kind[0]++;
            ttx_liveops_noise(o, ot->p[k - 1].addr);
        }
    }
    ttx_obj_pending = ot->n_pending > 0;
    return 1;
}

/* A DESTROY decided at once against the table: in a thread we do not
 * record (--threads main), and during the stop check. */
static TT_NOINLINE void
destroy_now(capture_rec_t *rec, capture_objects_t *o, ttx_objthread_t *ot,
            uint64_t addr)
{
    ttx_live_t *e;
    uint64_t tick;

    ttx_liveops_flush(o);
    e = ttx_livetab_lookup(&o->live, addr);
    if (e == NULL)
        return;
    tick = capture_clock();
    if (tick <= o->clock)
        tick = o->clock + 1;
    o->clock = tick;
    ttx_liveops_died(o, e->meta, rel_tick(rec, tick));
    if (!o->aggregate) {
        /* A thread we do not record still frees objects we track: its
         * DESTROY goes to the main thread's buffer (ticks stay ordered:
         * the GIL serialises them). */
        ttx_objthread_t *w = ot != NULL ? ot : o->main_ot;
        if (w != NULL)
            tt_tbuf_obj_destroy(w->t->tbuf, tick, addr);
    }
    ttx_livetab_remove(&o->live, e);
}

/* The defer mode's free, out of line as record_deferred. */
static TT_NOINLINE void
destroy_deferred(capture_rec_t *rec, capture_objects_t *o,
                 ttx_objthread_t *ot, uint64_t addr, uint64_t tick)
{
    ttx_liveops_destroy_deferred(o, addr, tick, rel_tick(rec, tick),
                                 ot->index);
}

/* The writer's id of tp (registered on first sight), or UINT32_MAX. */
static inline uint32_t
type_of(capture_rec_t *rec, capture_objects_t *o, PyTypeObject *tp)
{
    uint32_t type;
    /* Runs of one type are the rule (a loop making floats). */
    if (TTX_LIKELY(tp == o->last_tp))
        return o->last_type;
    type = type_find(o, tp);
    if (TTX_UNLIKELY(type == UINT32_MAX)) {
        type = capture_objects_type_id(rec, o, tp);
        if (type == UINT32_MAX)
            return type;
    }
    o->last_tp = tp;
    o->last_type = type;
    return type;
}

static inline int
noise_kind(PyTypeObject *tp)
{
    return tp == &PyLong_Type ? 0 : tp == &PyFrame_Type ? 1
         : tp == &PyTuple_Type ? 2 : 3;
}

/* An object of CPython's tracing machinery: not recorded, and its free
 * not logged. */
static void
drop_tracing(capture_objects_t *o, PyObject *op, PyTypeObject *tp)
{
    o->filtered++;
    o->filtered_kind[noise_kind(tp)]++;
    ttx_liveops_noise(o, (uint64_t)(uintptr_t)op);
}

/* Whether an int made now (outside a trace callback, with calls on) can
 * be an event's instruction offset that legacy tracing boxes before it
 * calls us: those are byte offsets into the code of the innermost frame,
 * and ints up to 256 are never made (CPython caches them). So an int made
 * while a code object of at most 128 units runs is the program's. */
static inline int
may_box_offset(PyThreadState *ts)
{
    return ttx_frameaddr_innermost_units(ts) > 128;
}

/* Holds a creation back until the trace function runs (settle). */
static void
hold_back(capture_rec_t *rec, capture_objects_t *o, ttx_objthread_t *ot,
          PyObject *op, PyTypeObject *tp)
{
    ttx_pending_t *p;
    uint32_t type = type_of(rec, o, tp);
    if (type == UINT32_MAX)
        return;
    if (ot->n_pending == TTX_PENDING_MAX) {
        /* The oldest cannot be part of one event's boxing. */
        ttx_pending_t first = ot->p[0];
        memmove(&ot->p[0], &ot->p[1],
                (TTX_PENDING_MAX - 1) * sizeof(ot->p[0]));
        ot->n_pending--;
        record_create(rec, o, ot, first.addr, first.tick, first.type,
                      first.size, first.code, first.line, first.offset);
    }
    p = &ot->p[ot->n_pending++];
    ttx_obj_pending = 1;
    p->addr = (uint64_t)(uintptr_t)op;
    p->tick = obj_tick(o, ot);
    p->size = (uint64_t)tp->tp_basicsize;
    p->type = type;
    site_of(rec, o, ot, &p->code, &p->line, &p->offset);
    p->is_frame = tp == &PyFrame_Type;
    p->kind = noise_kind(tp);
}

int
capture_reftrace(PyObject *op, PyRefTracerEvent event, void *data)
{
    capture_rec_t *rec = capture_rec;
    capture_objects_t *o;
    ttx_objthread_t *ot;
    uint64_t tick;

    if (TTX_UNLIKELY(rec == NULL || rec->objects != data || ttx_obj_busy)) {
        if (rec != NULL && rec->objects == data && event == 0)
            ((capture_objects_t *)data)->own++;
        return 0;
    }
    o = data;
    if (event == PyRefTracer_CREATE) {
        PyTypeObject *tp = Py_TYPE(op);
        uint32_t type, code, offset;
        int32_t line;
        ot = objthread_get(rec, o);
        if (TTX_UNLIKELY(ot != o->last_ot))
            thread_switched(rec, o, ot);
        if (ot == NULL)
            return 0;
        if (TTX_UNLIKELY(o->stopping)) {
            if (ot->n_pending)
                flush_pending(rec, o, ot, NULL);
            ttx_live_t *e = ttx_livetab_find(&o->live, (uint64_t)(uintptr_t)op);
            if (e != NULL)
                capture_objects_stop_dead(o, e);
            return 0;
        }
        if (rec->calls) {
            PyThreadState *ts = PyThreadState_GetUnchecked();
            if (ts != NULL && ts->tracing) {
                /* Made while CPython delivers a trace or monitoring event
                 * (tstate->tracing): legacy tracing's frame object for the
                 * event, an exception event's (type, value, traceback).
                 * The program runs no code there. */
                drop_tracing(o, op, tp);
                return 0;
            }
            if (tp == &PyFrame_Type ||
                (tp == &PyLong_Type && may_box_offset(ts)) ||
                (tp == (PyTypeObject *)PyExc_StopIteration &&
                 rec->backend == CAPTURE_BACKEND_MONITORING)) {
                /* (sys.monitoring makes a StopIteration for the
                 * STOP_ITERATION event it is about to deliver: settled
                 * by capture_objects_settle_box.) */
                /* Maybe legacy tracing's own, made just before it counts
                 * as tracing: decided when the trace function runs next
                 * (capture_objects_settle). */
                hold_back(rec, o, ot, op, tp);
                return 0;
            }
        }
        type = type_of(rec, o, tp);
        if (TTX_UNLIKELY(type == UINT32_MAX))
            return 0;
        tick = obj_tick(o, ot);
        site_of(rec, o, ot, &code, &line, &offset);
        if (ot->n_pending)
            flush_pending(rec, o, ot, NULL);
        record_create(rec, o, ot, (uint64_t)(uintptr_t)op, tick, type,
                      (uint64_t)tp->tp_basicsize, code, line, offset);
    } else if (event == PyRefTracer_DESTROY) {
        uint64_t addr = (uint64_t)(uintptr_t)op;
        PyTypeObject *tp = Py_TYPE(op);
        if (tp == &PyFrame_Type && ttx_liveops_forget_noise(o, addr))
            return 0;            /* legacy tracing's frame object */
        if (TTX_UNLIKELY(PyType_FastSubclass(tp, Py_TPFLAGS_TYPE_SUBCLASS)))
            on_destroy_type(o, op);
        ot = objthread_get(rec, o);
        if (TTX_UNLIKELY(ot != o->last_ot))
            thread_switched(rec, o, ot);
        if (ot != NULL && ot->n_pending) {
            if (pending_freed_unseen(o, ot, op))
                return 0;
            flush_pending(rec, o, ot, NULL);
        }
        if (TTX_UNLIKELY(ot == NULL || o->stopping)) {
            destroy_now(rec, o, ot, addr);
            return 0;
        }
        tick = obj_tick(o, ot);
        if (TTX_UNLIKELY(o->defer)) {
            destroy_deferred(rec, o, ot, addr, tick);
            return 0;
        }
        /* An object from before the recording is logged too (the ring
         * cannot tell it from an older one of ours without a probe);
         * readers ignore a DESTROY without a CREATE. */
        if (ttx_liveops_destroy(o, addr, rel_tick(rec, tick)) &&
            !o->aggregate)
            tt_tbuf_obj_destroy(ot->t->tbuf, tick, addr);
    }
    /* Unknown events (3.15's TRACKER_REMOVED): ignored. */
    return 0;
}

/* The defer mode's common CREATE: of a type seen before (the last one, or
 * one in the type table: code that makes a list and its ints, a dict and
 * its keys, alternates), in the code of the last site (traced, running in
 * the innermost frame). Out of line, so that the DESTROY path saves no
 * registers for its call. */
static TT_NOINLINE int
defer_create(PyObject *op, capture_objects_t *o)
{
    PyThreadState *ts;
    capture_rec_t *rec;
    ttx_objthread_t *ot;
    ttx_liveext_t x;
    uint64_t tick;
    PyTypeObject *tp = Py_TYPE(op);

    if (TTX_UNLIKELY(site_fast_co == NULL))
        return capture_reftrace(op, PyRefTracer_CREATE, o);
    if (tp != o->last_tp) {
        /* As type_of does, without registering: a new type takes the
         * slow path. */
        uint32_t type = type_find(o, tp);
        if (TTX_UNLIKELY(type == UINT32_MAX))
            return capture_reftrace(op, PyRefTracer_CREATE, o);
        o->last_tp = tp;
        o->last_type = type;
    }
    /* First, so that only op and o live across the call. */
    ts = PyThreadState_GetUnchecked();
    x.offset = ttx_frameaddr_offset_in(ts, site_fast_co, site_fast_bytes);
    if (TTX_UNLIKELY(x.offset == UINT32_MAX))
        return capture_reftrace(op, PyRefTracer_CREATE, o);
    rec = capture_rec;           /* as the hook checked them */
    ot = obj_tls;
    x.tick = tick = obj_tick_fast(o, ot);
    x.code = site_fast_id;
    x.size = (uint32_t)tp->tp_basicsize;
    x.thread = ot->index;
    o->created++;
    ttx_liveops_create_deferred(o, (uint64_t)(uintptr_t)op,
                                ttx_live_meta(o->last_type,
                                              rel_tick(rec, tick)), &x);
    return 0;
}

/* Every TTX_OBJCLOCK_EVERY events of the fast paths: the clock read that
 * obj_tick makes, then the event (out of line: a call on the fast paths
 * would make the hook save registers on every event). */
static TT_NOINLINE int
defer_refresh(PyObject *op, PyRefTracerEvent event, void *data)
{
    capture_objects_t *o = data;
    uint64_t now = capture_clock();
    o->clock_n = 0;
    if (now > o->clock + 1)
        o->clock = now - 1;      /* the next tick is `now` */
    return capture_reftrace_defer(op, event, data);
}

/* The hook of the defer mode (--objects --no-calls): the common cases
 * only, each in a few dozen instructions, and everything else handed to
 * capture_reftrace, which handles every event in every mode. Common: the
 * thread of the last event (o->fast_ot: attached, and stop() not
 * checking), a CREATE of the last type seen in the code of the last site
 * (defer_create), a DESTROY whose CREATE is still in the ring. With no
 * trace function there is no noise to filter and nothing held back. */
int
capture_reftrace_defer(PyObject *op, PyRefTracerEvent event, void *data)
{
    capture_rec_t *rec = capture_rec;
    capture_objects_t *o = data;
    ttx_objthread_t *ot = obj_tls;
    uint64_t addr = (uint64_t)(uintptr_t)op, tick;
    ttx_livering_t *r;
    ttx_liveop_t *born;
    ttx_liveext_t *x;

    /* rec first: o is ours only while rec->objects names it. */
    if (TTX_UNLIKELY(rec == NULL || rec->objects != data ||
                     obj_tls_gen != rec->gen || ot != o->fast_ot ||
                     ttx_obj_busy))
        return capture_reftrace(op, event, data);
    if (TTX_UNLIKELY(o->clock_n >= TTX_OBJCLOCK_EVERY - 1))
        return defer_refresh(op, event, data);
    if (event == PyRefTracer_CREATE)
        return defer_create(op, o);
    r = &o->ring;
    born = ttx_ring_created(r, addr, ttx_ring_hash(addr));
    /* Not born in the ring, an unknown event, or a type object dying (the
     * slow path evicts it from the type cache). */
    if (TTX_UNLIKELY(born == NULL || event != PyRefTracer_DESTROY ||
                     PyType_FastSubclass(Py_TYPE(op),
                                         Py_TPFLAGS_TYPE_SUBCLASS)))
        return capture_reftrace(op, event, data);
    tick = obj_tick_fast(o, ot);
    x = &o->ext[born - r->ops];
    x->tick = tick > x->tick ? tick - x->tick : 0;
    born->addr |= TTX_OP_DIED;
    o->destroyed++;
    r->cancelled++;
    return 0;
}

/* ----------------------------------------------------- settle (noise) */

void
capture_objects_own(PyObject *op)
{
    capture_rec_t *rec = capture_rec;
    capture_objects_t *o;
    if (rec == NULL || (o = rec->objects) == NULL)
        return;
    /* Made inside a trace callback: dropped as tracing's already. It is
     * counted as ours, not as legacy tracing's. */
    if (*ttx_noise_slot(o, (uint64_t)(uintptr_t)op) ==
        (uint64_t)(uintptr_t)op) {
        o->filtered--;
        o->filtered_kind[noise_kind(Py_TYPE(op))]--;
        o->own++;
    }
}

/* The value of a pending int (alive: it is an argument of the call in
 * progress, or a DESTROY would have flushed it), or -1. */
static long
pending_int(const ttx_pending_t *p)
{
    int overflow = 0;
    long v = PyLong_AsLongAndOverflow((PyObject *)(uintptr_t)p->addr,
                                      &overflow);
    return overflow ? -1 : v;
}

void
capture_objects_settle_slow(PyFrameObject *frame, int what)
{
    capture_rec_t *rec = capture_rec;
    ttx_objthread_t *ot = obj_tls;
    int drop[TTX_PENDING_MAX] = {0}, i, k = -1, lasti;

    ttx_obj_pending = 0;
    if (rec == NULL || rec->objects == NULL || obj_tls_gen != rec->gen ||
        ot == NULL || ot->n_pending == 0)
        return;
    lasti = PyFrame_GetLasti(frame);
    for (i = ot->n_pending - 1; i >= 0; i--) {
        if (ot->p[i].is_frame) {
            /* The frame object CPython made to call us with. */
            drop[i] = ot->p[i].addr == (uint64_t)(uintptr_t)frame;
        } else if (k < 0 && ot->p[i].kind == 0) {
            k = i;               /* the int made last */
        }
    }
    if (k >= 0 && lasti >= 0) {
        /* call_instrumentation_vector boxes the instruction's byte
         * offset (lasti); a backward jump first boxes its target, a
         * smaller even offset, just before. An exception raised in a
         * callee is reported at the last code unit of the CALL's inline
         * cache: lasti plus a few units. (The (type, value, traceback)
         * tuple of an exception event is made inside the callback, and
         * dropped when it is made.) */
        long v = pending_int(&ot->p[k]);
        if (v == lasti || (what == PyTrace_EXCEPTION && v > lasti &&
                           v <= lasti + 32 && v % 2 == 0)) {
            drop[k] = 1;
            i = k - 1;
            if (v == lasti && what == PyTrace_LINE && i >= 0 &&
                !ot->p[i].is_frame) {
                long to = pending_int(&ot->p[i]);
                if (to >= 0 && to < lasti && to % 2 == 0)
                    drop[i] = 1;
            }
        }
    }
    flush_pending(rec, rec->objects, ot, drop);
}

void
capture_objects_settle_box_slow(PyObject *offset, PyObject *made)
{
    capture_rec_t *rec = capture_rec;
    ttx_objthread_t *ot = obj_tls;
    int drop[TTX_PENDING_MAX] = {0}, i;

    ttx_obj_pending = 0;
    if (rec == NULL || rec->objects == NULL || obj_tls_gen != rec->gen ||
        ot == NULL || ot->n_pending == 0)
        return;
    /* The int sys.monitoring boxed the offset in, and what it made for
     * the event, are the event's own arguments: known by address, no
     * guess needed. */
    for (i = 0; i < ot->n_pending; i++)
        drop[i] = !ot->p[i].is_frame &&
                  (ot->p[i].addr == (uint64_t)(uintptr_t)offset ||
                   (made != NULL &&
                    ot->p[i].addr == (uint64_t)(uintptr_t)made));
    flush_pending(rec, rec->objects, ot, drop);
}

#endif /* TTX_HAVE_REFTRACER */
