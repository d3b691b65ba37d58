/* objects_api.h - what the objects part (--objects) offers the other
 * parts: start, stop and the refusals for session.c, the self-test for
 * the method table, and the few hooks capture's hot path calls (the
 * settle hook, the "our own code runs" counter, a thread's end). This is
 * the one edge from capture back into objects (docs/DESIGN.md). The
 * part's own shared declarations are in objects.h.
 *
 * Must not: be included by libtt. GIL: held.
 */
#ifndef TTX_OBJECTS_API_H
#define TTX_OBJECTS_API_H

#include "capture.h"

#if TTX_HAVE_REFTRACER

typedef struct capture_objects capture_objects_t;
typedef struct ttx_objthread ttx_objthread_t;

/* reftracer.c */
/* The hot-path settle hook for the trace function: drops the frame object
 * and the boxed offset legacy tracing made for this very event. */
void capture_objects_settle_slow(PyFrameObject *frame, int what);
extern __thread int ttx_obj_pending
    __attribute__((tls_model("initial-exec")));
static inline void
capture_objects_settle(PyFrameObject *frame, int what)
{
    if (TTX_UNLIKELY(ttx_obj_pending))
        capture_objects_settle_slow(frame, what);
}
/* The same for a sys.monitoring callback (capture/moncalls.c): drops the
 * int CPython boxed the event's instruction offset in (`offset`, the
 * callback's second argument) and `made` (NULL, or what CPython made for
 * this event: STOP_ITERATION's StopIteration), both made just before the
 * callback ran; the other held-back creations are the program's. */
void capture_objects_settle_box_slow(PyObject *offset, PyObject *made);
static inline void
capture_objects_settle_box(PyObject *offset, PyObject *made)
{
    if (TTX_UNLIKELY(ttx_obj_pending))
        capture_objects_settle_box_slow(offset, made);
}
/* Nonzero while tracetap's own code runs in this thread (a slow path of
 * the trace function or of the ref tracer): objects made then are ours
 * and are not recorded. */
extern __thread int ttx_obj_busy __attribute__((tls_model("initial-exec")));
#define TTX_OBJ_OWN(stmt) do { ttx_obj_busy++; stmt; ttx_obj_busy--; } while (0)
/* `op` was just made by CPython to call tracetap's own code (the args
 * tuple of the threading hook): it is not recorded. */
void capture_objects_own(PyObject *op);
/* The thread of `ot` has exited (capture_threads_reap): its held-back
 * creations are written before its buffer goes (not while stop() checks
 * the survivors: the table must not change then). */
void capture_objects_thread_ended(capture_objects_t *o, ttx_objthread_t *ot);

#else  /* no PyRefTracer: 3.11, 3.12 */
static inline void capture_objects_settle(PyFrameObject *frame, int what)
{
    (void)frame;
    (void)what;
}
static inline void capture_objects_settle_box(PyObject *offset,
                                              PyObject *made)
{
    (void)offset;
    (void)made;
}
#define TTX_OBJ_OWN(stmt) do { stmt; } while (0)
static inline void capture_objects_own(PyObject *op)
{
    (void)op;
}
#endif /* TTX_HAVE_REFTRACER */

/* allochooks.c (--objects --bytes): bytes per creation stack through the
 * allocator domains. Start: checks and allocates its tables (0, or -1
 * with an exception; nothing installed). Enable: wraps the allocators
 * (after the trace function and the ref tracer are in place). Stop: takes
 * the hooks off, writes the 0x85 chunk and returns a summary dict (new
 * ref; None if --bytes was off) or NULL + exception; sentences for the
 * user go to `warnings`. Abort: undoes start/enable, writes nothing. */
int ttx_allocs_start(capture_rec_t *rec, int depth);
void ttx_allocs_enable(void);
PyObject *ttx_allocs_stop(capture_rec_t *rec, PyObject *warnings);
void ttx_allocs_abort(void);
/* At each periodic flush (GIL held): writes a partial 0x85 snapshot, so a
 * process killed later keeps its bytes up to now. Failures are counted. */
void ttx_allocs_periodic(capture_rec_t *rec);
#define TTX_ALLOCS_DEPTH_DEFAULT 8

/* objsession.c (every version: refusals live here) */
/* Refuses (-1 + RuntimeError naming what is needed) where --objects
 * cannot run: before 3.13, free-threaded builds, or while another tool
 * (tracemalloc) holds the reference tracer. 0 if it can. */
int capture_objects_precheck(void);
/* Checks that --objects can run here and starts it: the self-test, then
 * the tracer. `mode` 1: event log, 2: aggregates (--count). 0, or -1 with
 * an exception (nothing installed). Called by start() with capture_rec
 * set and the writer open, before the trace function is installed. */
int capture_objects_start(capture_rec_t *rec, int mode);
/* Checks the survivors, removes the tracer (if it is still ours), writes
 * the 0x81 chunk and the notes, and returns a summary dict (new ref), or
 * NULL + exception. Sentences for the user go to `warnings`. Called by
 * stop() while the recording is still attached. */
PyObject *capture_objects_stop(capture_rec_t *rec, PyObject *warnings);
/* Installs the reference tracer: after the trace function, so that what
 * installing it allocates is not recorded. */
void capture_objects_enable(capture_rec_t *rec);
/* _tracetap.destroy_gaps(): runs the start-up self-test alone and returns
 * what it found (dict); raises where --objects is refused. */
PyObject *capture_objects_selftest(PyObject *module, PyObject *unused);
/* Undoes a start when start() fails later. */
void capture_objects_abort(capture_rec_t *rec);

#endif /* TTX_OBJECTS_API_H */
