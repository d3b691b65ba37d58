/* flusher.c - the periodic work of a recording: a background thread
 * (bgthread.c) that, every flush interval (tracetap run --flush-interval,
 * record(flush_interval=...); 1 s by default), takes the GIL and runs
 * capture_periodic(), so that what every thread has buffered reaches the
 * file within about one interval, whether the thread is busy, idle or
 * blocked in C (a buffer is otherwise written only when full, 64 KiB, or
 * at stop, and SIGKILL loses what it holds).
 *
 * Owns: the flusher thread and capture_periodic(). Must not: take the GIL
 * while the interpreter finalizes (stop() ends the thread before that), or
 * touch the recording after being asked to end.
 * Threads: the tick takes the GIL (PyGILState_Ensure); all appends happen
 * under the GIL, so while it holds it no buffer is mid-append and it may
 * write every thread's.
 */
#include "capture_int.h"
#include "objects_api.h"

void
capture_periodic(capture_rec_t *rec)
{
    /* A clock sync point each period (FORMAT.md §15): readers interpolate
     * between them, so times stay right whatever the calibration said. */
    if (capture_clock_sync(rec->w) < 0)
        rec->problems.writer_errors++;
    ttx_allocs_periodic(rec);           /* --bytes: a partial snapshot */
    if (rec->count)                     /* counts so far (counted) */
        (void)capture_counts_periodic(rec);
    if (tt_writer_flush(rec->w) < 0)
        rec->problems.writer_errors++;
}

static void
flusher_tick(ttx_bgthread_t *t, uint64_t epoch)
{
    PyGILState_STATE g;
    /* Never PyGILState_Ensure during finalization: the thread would be
     * ended (3.11-3.13) or left hanging (3.14) in it. stop() ends the
     * flusher before the interpreter finalizes (atexit); this guards a
     * recording that was never stopped. */
    if (TTX_IS_FINALIZING())
        return;
    g = PyGILState_Ensure();
    if (!ttx_bgthread_quitting(t, epoch) && capture_rec != NULL)
        capture_periodic(capture_rec);
    PyGILState_Release(g);
}

static ttx_bgthread_t flusher = {
    .takes_gil = 1,
    .tick = flusher_tick,
};

int
capture_flusher_start(capture_rec_t *rec)
{
    if (rec->flush_ns == 0)
        return 0;
    flusher.period_ns = (long)rec->flush_ns;
    return ttx_bgthread_start(&flusher);
}

void
capture_flusher_stop(void)
{
    ttx_bgthread_stop(&flusher);
}
