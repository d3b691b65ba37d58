/* objclock.c - the clock ticker of --objects: a background thread
 * (bgthread.c: signals blocked, paused around os.fork()) that publishes the
 * recording's clock every TTX_OBJCLOCK_PERIOD_US, so that object events
 * can take a cached time instead of reading the clock (the TSC read was
 * the largest single cost of an object event; objects.h).
 *
 * Owns: ttx_objclock_ticker and the ticker's tick. Must not: touch Python
 * from the tick (it never holds the GIL).
 * Threads: the ticker writes the word with relaxed atomics; the ref tracer
 * reads it the same way. Start and stop run with the GIL held, one
 * recording at a time.
 */
#include "objects.h"

#if TTX_HAVE_REFTRACER

uint64_t ttx_objclock_ticker;

static void
ticker_tick(ttx_bgthread_t *t, uint64_t epoch)
{
    (void)t;
    (void)epoch;
    __atomic_store_n(&ttx_objclock_ticker, capture_clock(), __ATOMIC_RELAXED);
}

static ttx_bgthread_t ticker = {
    .period_ns = TTX_OBJCLOCK_PERIOD_US * 1000L,
    .takes_gil = 0,
    .tick = ticker_tick,
};

int
ttx_objclock_start(void)
{
    __atomic_store_n(&ttx_objclock_ticker, capture_clock(), __ATOMIC_RELAXED);
    return ttx_bgthread_start(&ticker);
}

void
ttx_objclock_stop(void)
{
    ttx_bgthread_stop(&ticker);
}

#endif /* TTX_HAVE_REFTRACER */
