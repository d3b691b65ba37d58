/* objects.h - object-lifetime capture (--objects): the shared
 * declarations of reftracer.c (the PyRefTracer hook and its type cache),
 * objsession.c (start, stop, the stop-time survivor check), livetable.c
 * (the live-object table), liveops.c (the ring of updates on their way to
 * it), objclock.c (the clock ticker), frameaddr.c (creation sites read from the
 * interpreter's frames through _Py_DebugOffsets) and destroy_gaps.c (the
 * start-up self-test for missing DESTROY events).
 *
 * Must not: be included by libtt. GIL: everything here runs with the GIL
 * held (free-threaded builds are refused at start).
 */
#ifndef TTX_OBJECTS_H
#define TTX_OBJECTS_H

#include "capture.h"

#include <stddef.h>
#include <string.h>
#include "objects_api.h"

#if TTX_HAVE_REFTRACER

#include "livetable.h"

/* ------------------------------------------ deferred live-table updates */

/* The ref tracer does not touch the live table: it appends each update to
 * one ring (the GIL orders the hooks of every thread). A DESTROY whose
 * CREATE is still in the ring cancels it there, so the many objects that
 * die young never reach the table; the rest is applied in order when the
 * ring fills, with table slots prefetched ahead (liveops.c). */
#define TTX_RING_OPS      4096   /* 64 KiB of ops */
#define TTX_RING_HBITS    14     /* recent-creation index: 32 KiB */
#define TTX_NOISE_SLOTS   256    /* addresses of our own dropped objects */

/* An update: addr with the low bits as flags (objects are 16-aligned). A
 * CREATE carries its live-table meta; a DESTROY its time (relative to the
 * start, in ticks). */
#define TTX_OP_DESTROY    1u     /* a free not matched in the ring */
#define TTX_OP_DIED       2u     /* a CREATE whose object died in the ring */
#define TTX_OP_FLAGS      15u
typedef struct {
    uint64_t addr;
    uint64_t meta;
} ttx_liveop_t;

/* --objects --no-calls (the `defer` mode): what an op needs to be encoded
 * when it leaves the ring. `tick` is the event's time; for a CREATE whose
 * object died in the ring, its lifetime in ticks. */
typedef struct {
    uint64_t tick;
    uint32_t code, offset;       /* the creation site (by offset) */
    uint32_t size;               /* the CREATE's size */
    uint32_t thread;             /* index in capture_objects_t.threads */
} ttx_liveext_t;

/* Every TTX_ROWS_EVERY ring flushes, the defer mode writes the (site, type)
 * counts of objects that died in the ring as a 0x81 chunk and starts them
 * over (a killed process loses at most this many flushes' worth). */
#define TTX_ROWS_EVERY    16

typedef struct {
    ttx_liveop_t ops[TTX_RING_OPS];
    uint32_t n;
    uint16_t recent[1u << TTX_RING_HBITS];   /* addr hash -> op index */
    uint64_t noise[TTX_NOISE_SLOTS];
    uint64_t cancelled;          /* objects that lived and died in the ring */
    uint64_t applied;            /* updates that reached the table */
} ttx_livering_t;

static inline size_t
ttx_ring_hash(uint64_t addr)
{
    return ttx_addr_slot(addr, TTX_RING_HBITS);
}

/* ------------------------------------------------------- frame sites */

/* frameaddr.c's offsets (_Py_DebugOffsets, checked at init). */
typedef struct {
    int ok;
    size_t ts_current_frame;     /* PyThreadState -> _PyInterpreterFrame* */
    size_t f_previous, f_executable, f_instr_ptr, f_owner;
    size_t co_code_adaptive;     /* PyCodeObject -> first code unit */
} ttx_frameoff_t;
extern ttx_frameoff_t ttx_frameoff;

/* The byte offset of the current instruction of ts's innermost frame if
 * that frame runs `co` (a code object that was found running in a frame
 * of its own by ttx_frameaddr_innermost, so that frames of C stacks and
 * interpreter entries, which never run it, need no owner check) and
 * `bytes` is co's size in bytes; else UINT32_MAX. The defer mode's hook
 * reads its sites with it, inline: init (which checked that
 * ts_current_frame and co_code_adaptive are this build's offsetof) must
 * have succeeded. */
static inline uint32_t
ttx_frameaddr_offset_in(PyThreadState *ts, PyObject *co, uint32_t bytes)
{
    const char *f = *(const char *const *)((const char *)ts +
                                           offsetof(PyThreadState,
                                                    current_frame));
    uintptr_t exe;
    const char *ip;
    size_t d;

    if (TTX_UNLIKELY(f == NULL))
        return UINT32_MAX;
    memcpy(&exe, f + ttx_frameoff.f_executable, sizeof(exe));
    if ((exe & ~(uintptr_t)TTX_FRAME_EXEC_TAG_MASK) != (uintptr_t)co)
        return UINT32_MAX;
    memcpy(&ip, f + ttx_frameoff.f_instr_ptr, sizeof(ip));
    d = (size_t)(ip - ((const char *)co +
                       offsetof(PyCodeObject, co_code_adaptive)));
    return d < bytes ? (uint32_t)d : UINT32_MAX;
}

/* frameaddr.c: reads _PyRuntime.debug_offsets once. 0 when the layout is
 * known and consistent; -1 (no exception) with *why set otherwise. */
int ttx_frameaddr_init(const char **why);
/* The innermost complete Python frame's code object and the byte offset
 * of its current instruction, skipping frames whose code `skip` says to
 * skip (it returns 1). 0 on success, -1 when no frame qualifies. Reads
 * memory only: no frame object, no reference, no allocation. */
int ttx_frameaddr_site(int (*skip)(void *ctx, PyObject *code), void *ctx,
                       PyObject **code, uint32_t *offset);
/* The innermost frame of ts (the calling thread's state): its code object
 * and the byte offset of its current instruction, when that frame runs a code object and the offset is inside
 * it: 0, else -1. Reads memory only, as ttx_frameaddr_site: the hot path
 * of creation sites (a loop making objects stays in one frame). */
int ttx_frameaddr_innermost(PyThreadState *ts, PyObject **code,
                            uint32_t *offset);

/* The size in code units of the code the thread's innermost interpreter
 * frame runs: 0 when that frame runs no code (a C-stack shim, or no
 * frame), UINT32_MAX when the layout is unknown. Reads memory only, as
 * ttx_frameaddr_site. */
uint32_t ttx_frameaddr_innermost_units(PyThreadState *ts);
/* Up to max frames of the calling thread, innermost first, skipping
 * those whose code `skip` rejects: their code objects (borrowed) and byte
 * offsets go to codes[] and offsets[]. The count (0 without a thread state
 * or a known layout). Reads memory only, as ttx_frameaddr_site. */
int ttx_frameaddr_stack(int (*skip)(void *ctx, PyObject *code), void *ctx,
                        PyObject **codes, uint32_t *offsets, int max);

/* --------------------------------------------------- DESTROY gaps */

typedef struct {
    int ran;                     /* the self-test ran to the end */
    int eval_loop;               /* 3.13.0-3.13.2: gh-130382 */
    int trashcan;                /* 3.14.x: gh-156371 */
    uint64_t floats_created, floats_destroyed;
    uint64_t lists_created, lists_destroyed;
    double ms;                   /* what the self-test cost */
} ttx_gaps_t;

/* destroy_gaps.c: runs the self-test with a private counting tracer. The
 * ref-tracer slot must be free. 0, or -1 with an exception set. */
int ttx_gaps_selftest(ttx_gaps_t *g);

/* ------------------------------------------------------ the recording */

/* Per-thread object state (pending noise candidates, the thread's
 * buffer). Owned by the recording's objects state. */
typedef struct ttx_objthread ttx_objthread_t;

/* A (site, type) row of --objects --count. */
typedef struct {
    tt_objstat_t st;             /* code, line/offset, type, counts */
    uint32_t next;               /* hash chain, UINT32_MAX ends it */
} ttx_objrow_t;

/* An entry of the defer mode's cache of died-in-the-ring rows
 * (liveops.c, died_row): the key whole, so that a hit reads no row. */
typedef struct {
    uint64_t site;               /* code << 32 | offset */
    uint32_t type;               /* UINT32_MAX: empty */
    uint32_t row;
} ttx_rowcache_t;
#define TTX_ROWCACHE_BITS 8

/* One type seen, pointer-keyed while the type lives. */
typedef struct {
    PyTypeObject *type;          /* identity only; NULL = free slot */
    uint32_t id;                 /* writer type id */
} ttx_typeslot_t;

typedef struct capture_objects {
    int aggregate;               /* --count: rows, no event log */
    int shadow_sites;            /* sites from the shadow stack (calls on,
                                    with lines or --count), else from the
                                    frames (frameaddr) */
    int frames_ok;               /* frameaddr_init succeeded */
    int defer;                   /* event log without calls: object events
                                    are encoded when they leave the ring,
                                    and objects that die in it are counted
                                    per (site, type) in `rows` instead
                                    (liveops.c) */
    ttx_liveext_t *ext;          /* owned, defer mode: beside ring.ops */
    uint32_t flushes;            /* ring flushes since rows were written */
    int stopping;                /* stop() is checking survivors */
    void *token;                 /* our identity as the tracer's data */
    ttx_livetab_t live;
    ttx_livering_t ring;         /* updates on their way to `live` */
    int ghosts;                  /* deaths can go unseen: the table may
                                    hold dead objects (liveops.c) */
    int ghost_all;               /* a ghost can be of any type: the
                                    eval-loop gap, or a death proven
                                    missing (o->repaired); else only GC
                                    types are looked for */
    uint64_t clock;              /* time of the last object event (GIL) */
    uint32_t clock_n;            /* object events since the clock was read */
    PyTypeObject *last_tp;       /* one-entry cache of the type table */
    uint32_t last_type;
    ttx_typeslot_t *types;       /* owned: open addressing */
    uint32_t tbits, tcount;
    uint8_t *type_gc;            /* owned: by type id, 1 if GC type */
    uint32_t n_type_ids, cap_type_ids;
    ttx_objrow_t *rows;          /* owned: --count rows */
    uint32_t n_rows, cap_rows;
    uint32_t *row_heads;         /* owned: 1 << rbits chain heads */
    uint32_t rbits;
    ttx_objthread_t *main_ot;    /* the thread that called start() */
    ttx_objthread_t *last_ot;    /* the thread of the last object event
                                    (NULL: one we do not record) */
    ttx_objthread_t *fast_ot;    /* defer mode: last_ot, or NULL while
                                    stop() checks survivors (the hook's
                                    fast paths run for this thread only) */
    ttx_objthread_t **threads;   /* owned */
    uint32_t n_threads, cap_threads;
    PyObject *s_module;          /* owned interned "__module__" */
    ttx_gaps_t gaps;
    /* counters, reported at stop */
    uint64_t created, destroyed;
    uint64_t repaired;           /* CREATE at an address held live */
    uint64_t filtered;           /* our own noise, dropped */
    uint64_t filtered_kind[4];   /* of which: ints, frames, tuples, other */
    uint64_t own;                /* objects made by our own slow paths */
    uint64_t nomem;              /* live-table or row insertions lost */
    uint64_t other_threads;      /* --threads main: events elsewhere */
    uint64_t no_site;            /* creations with no Python frame */
    uint64_t stop_dead;          /* proven dead during the stop check */
    uint64_t *dead;              /* owned: addresses proven dead at stop */
    size_t n_dead, cap_dead;
    /* Last, so that the fields above keep their offsets (and their cache
     * lines) in the other modes. */
    ttx_rowcache_t rowcache[1u << TTX_ROWCACHE_BITS];   /* defer mode */
} capture_objects_t;

/* reftracer.c */
/* The row of (site, type) in o->rows, created on first use; UINT32_MAX
 * when memory runs out or the rows are full (the caller counts it). */
uint32_t ttx_objrow_get(capture_objects_t *o, uint32_t code, int32_t line,
                        uint32_t offset, uint32_t type);
/* The capture thread of index i in o->threads (its buffer may be gone). */
capture_thread_t *ttx_objthread_capture(capture_objects_t *o, uint32_t i);
/* The index of ot in o->threads. */
uint32_t ttx_objthread_index(const ttx_objthread_t *ot);
int capture_reftrace(PyObject *op, PyRefTracerEvent event, void *data);
/* The hook installed in the defer mode: its common cases, the rest passed
 * to capture_reftrace. */
int capture_reftrace_defer(PyObject *op, PyRefTracerEvent event,
                           void *data);
/* The hook this recording installs (one of the two above). */
static inline PyRefTracer
capture_objects_hook(const capture_objects_t *o)
{
    return o->defer ? capture_reftrace_defer : capture_reftrace;
}
/* Registers the type on first sight: its id, or UINT32_MAX (counted). */
uint32_t capture_objects_type_id(capture_rec_t *rec, capture_objects_t *o,
                                 PyTypeObject *tp);
/* Writes every thread's held-back creations, then applies the ring to
 * the table: after it, the table is complete (stop() reads it). */
void capture_objects_flush_pending(capture_objects_t *o);
void capture_objects_free_threads(capture_objects_t *o);
/* Forgets the creation-site cache (a new recording has a new code table). */
void capture_objects_site_cache_clear(void);
/* The calling thread's object state, created on first use; NULL when the
 * thread is not recorded or memory ran out. */
ttx_objthread_t *capture_objects_thread(capture_rec_t *rec,
                                        capture_objects_t *o);
/* liveops.c: applies every pending update to the table (before anything
 * reads it), and the out-of-line parts of a death. */
void ttx_liveops_flush(capture_objects_t *o);
/* Empties the defer mode's row cache (whenever the rows are emptied). */
void ttx_liveops_rowcache_clear(capture_objects_t *o);
/* A --count row's share of a death at `rel` ticks since the start. */
void ttx_liveops_row_died(capture_objects_t *o, uint64_t meta, uint64_t rel);
/* The object `meta` describes died without a DESTROY (its address was
 * reused): counted, and from now on ghosts are looked for. */
void ttx_liveops_unseen(capture_objects_t *o, uint64_t meta);

static inline void
ttx_liveops_died(capture_objects_t *o, uint64_t meta, uint64_t rel)
{
    o->destroyed++;
    if (o->aggregate)
        ttx_liveops_row_died(o, meta, rel);
}

/* The CREATE of addr still in the ring, if the index knows it. The index
 * is never cleared: an entry counts only if the op it names is a CREATE
 * of the same address below n. */
static inline ttx_liveop_t *
ttx_ring_created(ttx_livering_t *r, uint64_t addr, size_t h)
{
    uint32_t k = r->recent[h];
    return k < r->n && r->ops[k].addr == addr ? &r->ops[k] : NULL;
}

static inline void
ttx_ring_push(capture_objects_t *o, uint64_t addr, uint64_t meta)
{
    ttx_livering_t *r = &o->ring;
    r->ops[r->n].addr = addr;
    r->ops[r->n].meta = meta;
    if (TTX_UNLIKELY(++r->n == TTX_RING_OPS))
        ttx_liveops_flush(o);
}

/* The hook's side of the ring (inline: it runs for every object). A
 * creation, with its live-table meta (ttx_live_meta). */
static inline void
ttx_liveops_create(capture_objects_t *o, uint64_t addr, uint64_t meta)
{
    ttx_livering_t *r = &o->ring;
    size_t h = ttx_ring_hash(addr), nh = h & (TTX_NOISE_SLOTS - 1);
    ttx_liveop_t *prev = ttx_ring_created(r, addr, h);

    if (TTX_UNLIKELY(prev != NULL)) {
        /* Born earlier in the ring at this very address: it died unseen. */
        ttx_liveops_unseen(o, prev->meta);
        prev->addr |= TTX_OP_DIED;
    }
    /* A dropped object of ours lived here: its free is behind us. */
    if (TTX_UNLIKELY(r->noise[nh] == addr))
        r->noise[nh] = 0;
    r->recent[h] = (uint16_t)r->n;
    ttx_ring_push(o, addr, meta);
}

/* The defer mode's creation: `x` is what encoding it will need. An
 * earlier CREATE in the ring at this address is left alone: both are
 * encoded, and the second one proves the first died unseen. */
static inline void
ttx_liveops_create_deferred(capture_objects_t *o, uint64_t addr,
                            uint64_t meta, const ttx_liveext_t *x)
{
    ttx_livering_t *r = &o->ring;
    size_t h = ttx_ring_hash(addr);
    o->ext[r->n] = *x;
    r->recent[h] = (uint16_t)r->n;
    ttx_ring_push(o, addr, meta);
}

/* The defer mode's free at `tick` (absolute) by thread `thread`: a
 * creation still in the ring becomes a lifetime, counted at the flush and
 * never logged; any other free is logged when it leaves the ring. */
static inline void
ttx_liveops_destroy_deferred(capture_objects_t *o, uint64_t addr,
                             uint64_t tick, uint64_t rel, uint32_t thread)
{
    ttx_livering_t *r = &o->ring;
    size_t h = ttx_ring_hash(addr);
    ttx_liveop_t *born = ttx_ring_created(r, addr, h);
    ttx_liveext_t *x;

    if (TTX_LIKELY(born != NULL)) {
        x = &o->ext[born - r->ops];
        x->tick = tick > x->tick ? tick - x->tick : 0;
        born->addr |= TTX_OP_DIED;
        o->destroyed++;
        r->cancelled++;
        return;
    }
    x = &o->ext[r->n];
    x->tick = tick;
    x->thread = thread;
    ttx_ring_push(o, addr | TTX_OP_DESTROY, rel);
}

/* A free at `rel` ticks since the start. 1 if the object is (or may be)
 * one we track: the caller logs its DESTROY; 0 for an object of our own
 * that we dropped (no event). */
static inline int
ttx_liveops_destroy(capture_objects_t *o, uint64_t addr, uint64_t rel)
{
    ttx_livering_t *r = &o->ring;
    size_t h = ttx_ring_hash(addr), nh = h & (TTX_NOISE_SLOTS - 1);
    ttx_liveop_t *born = ttx_ring_created(r, addr, h);

    if (TTX_LIKELY(born != NULL)) {
        ttx_liveops_died(o, born->meta, rel);
        born->addr |= TTX_OP_DIED;
        r->cancelled++;
        return 1;
    }
    if (r->noise[nh] == addr) {
        r->noise[nh] = 0;        /* ttx_liveops_forget_noise, hash reused */
        return 0;
    }
    ttx_ring_push(o, addr | TTX_OP_DESTROY, rel);
    return 1;
}

/* The noise-set slot of addr: it holds addr while addr is an object we
 * dropped as our own noise (so that its free is not logged). */
static inline uint64_t *
ttx_noise_slot(capture_objects_t *o, uint64_t addr)
{
    return &o->ring.noise[ttx_ring_hash(addr) & (TTX_NOISE_SLOTS - 1)];
}

/* 1 (and forgets it) if addr is an object we dropped as noise. */
static inline int
ttx_liveops_forget_noise(capture_objects_t *o, uint64_t addr)
{
    uint64_t *slot = ttx_noise_slot(o, addr);
    if (*slot != addr)
        return 0;
    *slot = 0;
    return 1;
}

/* Remembers an object we dropped as our own noise. */
static inline void
ttx_liveops_noise(capture_objects_t *o, uint64_t addr)
{
    *ttx_noise_slot(o, addr) = addr;
}

/* objclock.c: the time of object events. Reading the TSC costs 18 ns on
 * this kind of VM, more than the rest of an event: object events take a
 * cached time instead, one for all threads, which the clock ticker raises
 * every TTX_OBJCLOCK_PERIOD_US, which is refreshed every
 * TTX_OBJCLOCK_EVERY object events, and which the calling thread's trace
 * events raise (through its buffer's clock). Each object event is one
 * tick past the one before, in any thread (reftracer.c, obj_tick). */
#define TTX_OBJCLOCK_EVERY     16
#define TTX_OBJCLOCK_PERIOD_US 1000
extern uint64_t ttx_objclock_ticker;     /* written by the ticker thread */
/* Starts the ticker thread. 0, or -1 (no exception; the caller notes it,
 * and object times then come from the per-thread refresh alone). */
int ttx_objclock_start(void);
void ttx_objclock_stop(void);

/* objsession.c, defer mode: writes the rows of objects that died in the
 * ring as a 0x81 chunk and empties them (readers add rows up), so that a
 * killed process loses little. A write error is counted, not raised. */
void capture_objects_write_rows(capture_objects_t *o);

/* objimports.c: import spans. Wraps importlib's
 * _find_and_load for the recording (called by start, before the tracer is
 * installed; a failure is a NOTE, not an error). */
void ttx_imports_install(capture_rec_t *rec);
/* Restores importlib, ends the spans still open, and writes them (IMPORTS
 * records) if `write` (they stay readable by ttx_imports_contain until
 * ttx_imports_free), else forgets them. Keeps any exception in flight. */
void ttx_imports_uninstall(capture_rec_t *rec, int write);
void ttx_imports_free(void);
/* 1 if `rel` (ticks since the start) falls in a span of any thread. */
int ttx_imports_contain(uint64_t rel);

/* whyalive.c: at stop, referrer chains from a root to a sample
 * of each of the largest survivor groups (survivors `held`, found alive),
 * written as PATH records within a time budget. Returns the number of
 * chains written; *ms gets the time spent. Never raises (an exception is
 * cleared and the chains found so far are kept). */
uint32_t ttx_whyalive(capture_rec_t *rec, capture_objects_t *o,
                      PyObject **held, size_t n_held, PyObject *keep,
                      double *ms);

/* objsession.c: during the stop check, `e` was proven dead (its address
 * was reused): remembers it and removes it. */
void capture_objects_stop_dead(capture_objects_t *o, ttx_live_t *e);


#endif /* TTX_HAVE_REFTRACER */

#endif /* TTX_OBJECTS_H */
