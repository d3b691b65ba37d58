/* objclock.c - the clock ticker of --objects: a background thread that
 * publishes the recording's clock every TTX_OBJCLOCK_PERIOD_US, so that
 * object events can take a cached time instead of reading the clock (the
 * TSC read was the largest single cost of an object event; objects.h).
 *
 * Owns: the ticker thread and ttx_objclock_ticker. Must not: touch Python
 * (the thread never holds the GIL and never calls into the interpreter).
 * Threads: the ticker writes the word with relaxed atomics; the ref tracer
 * reads it the same way. Start and stop run with the GIL held, one
 * recording at a time.
 */
#include "objects.h"

#if TTX_HAVE_REFTRACER

#include <pthread.h>
#include <signal.h>
#include <time.h>

uint64_t ttx_objclock_ticker;
static pthread_t ticker_thread;
static int ticker_running;
static int ticker_quit;          /* atomic: stop asks, the thread reads */

static void *
ticker_main(void *unused)
{
    struct timespec period = {0, TTX_OBJCLOCK_PERIOD_US * 1000L};
    (void)unused;
    while (!__atomic_load_n(&ticker_quit, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&ttx_objclock_ticker, capture_clock(),
                         __ATOMIC_RELAXED);
        nanosleep(&period, NULL);
    }
    return NULL;
}

/* A forked child has no ticker (only the forking thread survives): it
 * must not join one, and its object times come from the refresh alone. */
static void
ticker_after_fork_child(void)
{
    ticker_running = 0;
}

int
ttx_objclock_start(void)
{
    static int atfork_done;
    sigset_t all, old;
    int rc;

    if (ticker_running)
        return 0;
    if (!atfork_done) {
        if (pthread_atfork(NULL, NULL, ticker_after_fork_child) != 0)
            return -1;
        atfork_done = 1;
    }
    __atomic_store_n(&ttx_objclock_ticker, capture_clock(), __ATOMIC_RELAXED);
    __atomic_store_n(&ticker_quit, 0, __ATOMIC_RELEASE);
    /* Signals stay with the program's threads (Python handles them in
     * the main thread; a ticker must never be picked to run a handler). */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&ticker_thread, NULL, ticker_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -1;
    ticker_running = 1;
    return 0;
}

void
ttx_objclock_stop(void)
{
    if (!ticker_running)
        return;
    __atomic_store_n(&ticker_quit, 1, __ATOMIC_RELEASE);
    /* At most one period: the thread never waits on anything else. */
    pthread_join(ticker_thread, NULL);
    ticker_running = 0;
}

#endif /* TTX_HAVE_REFTRACER */
