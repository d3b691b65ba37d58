/* bgthread.c - the background OS threads of a recording (the --objects
 * clock ticker, the periodic flusher): each runs a tick function once per
 * period until stopped, with every signal blocked, and is paused around
 * os.fork(): CPython 3.12+ warns (a DeprecationWarning) when a process that
 * forks has more than one OS thread, and a tracer must not change what the
 * program sees. A forked child has none of them.
 *
 * Owns: the threads, their wait (one mutex and condition variable for all)
 * and the fork hooks. Must not: touch Python from a thread, unless its tick
 * takes the GIL itself (ttx_bgthread_t.takes_gil).
 * Threads: start, stop and the fork hooks run with the GIL held.
 */
#include "capture_int.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

static pthread_mutex_t bg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bg_cv;            /* on CLOCK_MONOTONIC */
static ttx_bgthread_t *bg_all;          /* GIL: every thread ever started */

/* What a thread is started with: which generation of its ttx_bgthread_t
 * it belongs to (a stop bumps t->epoch, and the thread then ends). */
typedef struct {
    ttx_bgthread_t *t;
    uint64_t epoch;
} bg_arg_t;

int
ttx_bgthread_quitting(ttx_bgthread_t *t, uint64_t epoch)
{
    return __atomic_load_n(&t->epoch, __ATOMIC_ACQUIRE) != epoch;
}

static void *
bg_main(void *v)
{
    bg_arg_t a = *(bg_arg_t *)v;
    struct timespec at;

    PyMem_RawFree(v);
    for (;;) {
        /* From now, not from the last deadline: a tick that waited long for
         * the GIL is not followed by a burst of catching-up ones. */
        clock_gettime(CLOCK_MONOTONIC, &at);
        at.tv_nsec += a.t->period_ns % 1000000000L;
        at.tv_sec += a.t->period_ns / 1000000000L + at.tv_nsec / 1000000000L;
        at.tv_nsec %= 1000000000L;
        pthread_mutex_lock(&bg_mu);
        while (!ttx_bgthread_quitting(a.t, a.epoch) &&
               pthread_cond_timedwait(&bg_cv, &bg_mu, &at) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&bg_mu);
        if (ttx_bgthread_quitting(a.t, a.epoch))
            return NULL;
        a.t->tick(a.t, a.epoch);
    }
}

/* Ends the thread (GIL held; released while waiting for a thread that
 * takes it). Whoever calls this joins; the thread may outlive the wait of
 * nobody else, since `running` is cleared first. */
static void
bg_halt(ttx_bgthread_t *t)
{
    pthread_t th = t->thread;
    t->running = 0;
    pthread_mutex_lock(&bg_mu);
    __atomic_add_fetch(&t->epoch, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&bg_cv);
    pthread_mutex_unlock(&bg_mu);
    if (t->takes_gil) {
        Py_BEGIN_ALLOW_THREADS
        pthread_join(th, NULL);
        Py_END_ALLOW_THREADS
    } else {
        pthread_join(th, NULL);
    }
}

static int
bg_spawn(ttx_bgthread_t *t)
{
    sigset_t all, old;
    bg_arg_t *a = PyMem_RawMalloc(sizeof(*a));
    int rc;

    if (a == NULL)
        return -1;
    a->t = t;
    a->epoch = __atomic_load_n(&t->epoch, __ATOMIC_ACQUIRE);
    /* Signals stay with the program's threads (Python handles them in the
     * main thread; a background thread must never be picked to run a
     * handler). */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&t->thread, NULL, bg_main, a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        PyMem_RawFree(a);
        return -1;
    }
    t->running = 1;
    return 0;
}

/* pthread_atfork child handler: only the forking thread survives. */
static void
bg_after_fork_child(void)
{
    ttx_bgthread_t *t;
    pthread_mutex_init(&bg_mu, NULL);
    for (t = bg_all; t != NULL; t = t->next)
        t->running = t->paused = 0;
}

/* os.register_at_fork hooks (GIL held): the threads are gone while
 * CPython counts the threads of a forking process. */
static PyObject *
bg_before_fork(PyObject *self, PyObject *unused)
{
    ttx_bgthread_t *t;
    (void)self;
    (void)unused;
    for (t = bg_all; t != NULL; t = t->next) {
        if (t->running) {
            t->paused = 1;
            bg_halt(t);
        }
    }
    Py_RETURN_NONE;
}

static PyObject *
bg_after_fork_parent(PyObject *self, PyObject *unused)
{
    ttx_bgthread_t *t;
    (void)self;
    (void)unused;
    for (t = bg_all; t != NULL; t = t->next) {
        if (t->paused && !t->running) {
            t->paused = 0;
            (void)bg_spawn(t);  /* if not: the same as if it never started */
        }
    }
    Py_RETURN_NONE;
}

static PyMethodDef before_def = {"_tracetap_bg_before_fork",
                                 bg_before_fork, METH_NOARGS, NULL};
static PyMethodDef parent_def = {"_tracetap_bg_after_fork_parent",
                                 bg_after_fork_parent, METH_NOARGS, NULL};

/* Once per process: the condition variable and the fork hooks. 0, or -1
 * (no exception). */
static int
bg_init(void)
{
    static int done;
    pthread_condattr_t ca;
    PyObject *os, *reg, *kw = NULL, *args = NULL, *b = NULL, *p = NULL,
             *r = NULL;
    if (done)
        return 0;
    if (pthread_condattr_init(&ca) != 0)
        return -1;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_cond_init(&bg_cv, &ca) != 0 ||
        pthread_atfork(NULL, NULL, bg_after_fork_child) != 0) {
        pthread_condattr_destroy(&ca);
        return -1;
    }
    pthread_condattr_destroy(&ca);
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
ttx_bgthread_start(ttx_bgthread_t *t)
{
    ttx_bgthread_t *k;
    if (t->running)
        return 0;
    /* Without the hooks a fork would warn: no thread then. */
    if (bg_init() < 0)
        return -1;
    for (k = bg_all; k != NULL && k != t; k = k->next)
        ;
    if (k == NULL) {
        t->next = bg_all;
        bg_all = t;
    }
    t->paused = 0;
    return bg_spawn(t);
}

void
ttx_bgthread_stop(ttx_bgthread_t *t)
{
    t->paused = 0;                      /* not to be resumed after a fork */
    if (t->running)
        bg_halt(t);
}
