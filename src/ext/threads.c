/* threads.c - per-thread capture state: the event buffer and the shadow
 * stack of (code, line) for the frames whose CALL this thread reported.
 *
 * Owns: capture_thread_t objects (listed in the recording, freed at stop),
 * their stacks and the thread-local pointer to them. Must not: raise or run
 * Python code; attach and grow are reached from the trace hook. GIL: held;
 * each state is touched only by its own thread, or by stop().
 */
#include "capture.h"

#include <string.h>

#define STACK_FIRST 64

capture_thread_t *
capture_thread_attach(void)
{
    capture_rec_t *rec = capture_rec;
    capture_thread_t *t;
    uint64_t ident = PyThread_get_thread_ident();

    if (rec == NULL) {
        /* The recording has stopped but this thread still runs our hook
         * (it was left in place because another tracer held a thread we
         * could not reach on 3.13+). Take it off this thread. */
        PyEval_SetTrace(NULL, NULL);
        return NULL;
    }
    if (rec->main_only && ident != rec->main_ident) {
        /* --threads main: whatever put our hook here, it does not belong. */
        PyEval_SetTrace(NULL, NULL);
        return NULL;
    }
    if (rec->n_threads == rec->cap_threads) {
        uint32_t cap = rec->cap_threads ? rec->cap_threads * 2 : 16;
        capture_thread_t **v = PyMem_RawRealloc(rec->threads,
                                                cap * sizeof(*v));
        if (v == NULL)
            goto nomem;
        rec->threads = v;
        rec->cap_threads = cap;
    }
    t = PyMem_RawCalloc(1, sizeof(*t));
    if (t == NULL)
        goto nomem;
    t->stack = PyMem_RawCalloc(STACK_FIRST, sizeof(*t->stack));
    if (t->stack == NULL) {
        PyMem_RawFree(t);
        goto nomem;
    }
    t->end = t->stack + STACK_FIRST;
    t->top = t->stack;                  /* the sentinel: frame NULL */
    t->ident = ident;
    t->tstate = PyThreadState_Get();
    t->gen = rec->gen;
    rec->threads[rec->n_threads++] = t;
    capture_tls.thread = t;
    capture_tls.gen = rec->gen;
    return t;
nomem:
    rec->problems.nomem++;
    return NULL;
}

int
capture_thread_open(capture_rec_t *rec, capture_thread_t *t)
{
    int rc = tt_writer_thread(rec->w, t->ident, NULL, &t->tbuf);
    if (rc < 0) {
        t->tbuf = NULL;
        rec->problems.writer_errors++;
        return -1;
    }
    return 0;
}

int
capture_thread_grow(capture_thread_t *t)
{
    size_t n = (size_t)(t->end - t->stack), depth = (size_t)(t->top - t->stack);
    capture_frame_t *s = PyMem_RawRealloc(t->stack, 2 * n * sizeof(*s));
    if (s == NULL) {
        if (capture_rec != NULL)
            capture_rec->problems.nomem++;
        return -1;
    }
    memset(s + n, 0, n * sizeof(*s));
    t->stack = s;
    t->end = s + 2 * n;
    t->top = s + depth;
    return 0;
}

capture_frame_t *
capture_thread_find(capture_thread_t *t, const void *frame)
{
    capture_frame_t *e;
    for (e = t->top - 1; e > t->stack; e--) {
        if (e->frame == frame) {
            /* Everything above returned without telling us. */
            if (capture_rec != NULL)
                capture_rec->problems.missed_returns +=
                    (uint64_t)(t->top - e);
            t->top = e;
            return e;
        }
    }
    /* A frame that was already running when the hook was installed, or
     * one whose CALL could not be stacked: not ours to report. */
    if (capture_rec != NULL)
        capture_rec->problems.untracked++;
    return NULL;
}

void
capture_threads_free(capture_rec_t *rec)
{
    uint32_t i;
    for (i = 0; i < rec->n_threads; i++) {
        Py_XDECREF(rec->threads[i]->name);
        PyMem_RawFree(rec->threads[i]->stack);
        PyMem_RawFree(rec->threads[i]);
    }
    PyMem_RawFree(rec->threads);
    rec->threads = NULL;
    rec->n_threads = rec->cap_threads = 0;
}
