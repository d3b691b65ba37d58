/* objclock.c - the clock ticker of --objects: a background thread that
 * publishes the recording's clock every TTX_OBJCLOCK_PERIOD_US, so that
 * object events can take a cached time instead of reading the clock (the
 * TSC read was the largest single cost of an object event; objects.h).
 *
 * The ticker is paused around os.fork(): CPython 3.12+ warns (a
 * DeprecationWarning) when a process that forks has more than one OS
 * thread, and a tracer must not change what the program sees.
 *
 * Owns: the ticker thread, ttx_objclock_ticker and the fork hooks. Must
 * not: touch Python from the thread (it never holds the GIL).
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
static int ticker_paused;        /* stopped by the before-fork hook */

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
    ticker_paused = 0;
}

static int ticker_spawn(void);

/* os.register_at_fork hooks (GIL held): the ticker is gone while CPython
 * counts the threads of a forking process. */
static PyObject *
ticker_before_fork(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (ticker_running) {
        ttx_objclock_stop();
        ticker_paused = 1;
    }
    Py_RETURN_NONE;
}

static PyObject *
ticker_after_fork_parent(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (ticker_paused) {
        ticker_paused = 0;
        (void)ticker_spawn();   /* if not: the per-thread refresh remains */
    }
    Py_RETURN_NONE;
}

static PyMethodDef before_def = {"_tracetap_ticker_before_fork",
                                 ticker_before_fork, METH_NOARGS, NULL};
static PyMethodDef parent_def = {"_tracetap_ticker_after_fork_parent",
                                 ticker_after_fork_parent, METH_NOARGS, NULL};

/* Registers the fork hooks once per process. 0, or -1 (no exception). */
static int
register_fork_hooks(void)
{
    static int done;
    PyObject *os, *reg, *kw = NULL, *args = NULL, *b = NULL, *p = NULL,
             *r = NULL;
    if (done)
        return 0;
    if (pthread_atfork(NULL, NULL, ticker_after_fork_child) != 0)
        return -1;
    os = PyImport_ImportModule("os");
    reg = os ? PyObject_GetAttrString(os, "register_at_fork") : NULL;
    b = PyCFunction_New(&before_def, NULL);
    p = PyCFunction_New(&parent_def, NULL);
    args = PyTuple_New(0);
    kw = reg && b && p && args
         ? Py_BuildValue("{s:O,s:O}", "before", b, "after_in_parent", p)
         : NULL;
    r = kw ? PyObject_Call(reg, args, kw) : NULL;
    Py_XDECREF(os);
    Py_XDECREF(reg);
    Py_XDECREF(b);
    Py_XDECREF(p);
    Py_XDECREF(args);
    Py_XDECREF(kw);
    if (r == NULL) {
        PyErr_Clear();
        return -1;
    }
    Py_DECREF(r);
    done = 1;
    return 0;
}

int
ttx_objclock_start(void)
{
    if (ticker_running)
        return 0;
    /* Without the hooks a fork would warn: no ticker then. */
    if (register_fork_hooks() < 0)
        return -1;
    return ticker_spawn();
}

static int
ticker_spawn(void)
{
    sigset_t all, old;
    int rc;

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
