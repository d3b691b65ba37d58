/* threads.c - per-thread capture state: the event buffer and the shadow
 * stack of (code, line) for the frames whose CALL this thread reported,
 * and the reaping of threads that have exited.
 *
 * Owns: capture_thread_t objects (listed in the recording, freed at stop),
 * their stacks, the thread-local pointer to them, and the exit tickets (a
 * pthread key whose destructor runs when an attached OS thread exits).
 * Must not: raise or run Python code; attach and grow are reached from the
 * trace hook. GIL: held, except in the ticket destructor, which only pushes
 * the ticket on a lock-free list; each state is touched only by its own
 * thread, by the reaper (after its thread exited) or by stop().
 */
#include "capture_int.h"
#include "objects_api.h"

#include <pthread.h>
#include <string.h>

#define STACK_FIRST 64

/* ------------------------------------------------------- exit tickets */

/* One per attached thread: which state to reap once the thread exits. The
 * recording may be over by then: `gen` tells, and t is not touched unless
 * it matches the running recording. Owned by the thread's key until it
 * exits, then by the list, then freed by the reaper. */
typedef struct exit_ticket {
    struct exit_ticket *next;
    uint64_t gen;
    capture_thread_t *t;
} exit_ticket_t;

static pthread_key_t exit_key;
static int exit_key_state;        /* 0 not made, 1 made, -1 failed */
static exit_ticket_t *exited;     /* atomic: pushed by exiting threads */

/* Runs in the exiting thread after CPython has let go of it: no GIL, no
 * Python. A push on a Treiber stack. */
static void
ticket_exit(void *v)
{
    exit_ticket_t *k = v;
    exit_ticket_t *head = __atomic_load_n(&exited, __ATOMIC_RELAXED);
    do {
        k->next = head;
    } while (!__atomic_compare_exchange_n(&exited, &head, k, 1,
                                          __ATOMIC_RELEASE,
                                          __ATOMIC_RELAXED));
}

/* Gives the calling thread a ticket for t; without one (no memory, no
 * key) the thread's state just lives until stop, as before. */
static void
ticket_issue(capture_thread_t *t)
{
    exit_ticket_t *k, *old;
    if (exit_key_state == 0)
        exit_key_state = pthread_key_create(&exit_key, ticket_exit) == 0
                         ? 1 : -1;
    if (exit_key_state < 0)
        return;
    k = PyMem_RawMalloc(sizeof(*k));
    if (k == NULL)
        return;
    k->next = NULL;
    k->gen = t->gen;
    k->t = t;
    old = pthread_getspecific(exit_key);   /* from an earlier recording */
    if (pthread_setspecific(exit_key, k) != 0) {
        PyMem_RawFree(k);
        return;
    }
    PyMem_RawFree(old);
}

void
capture_threads_reap(capture_rec_t *rec)
{
    exit_ticket_t *k = __atomic_exchange_n(&exited, NULL, __ATOMIC_ACQUIRE);
    while (k != NULL) {
        exit_ticket_t *next = k->next;
        capture_thread_t *t = k->t;
        if (rec != NULL && k->gen == rec->gen && !t->ended) {
#if TTX_HAVE_REFTRACER
            if (rec->objects != NULL && t->objects != NULL)
                capture_objects_thread_ended(rec->objects, t->objects);
#endif
            if (t->tbuf != NULL &&
                tt_writer_thread_end(rec->w, t->tbuf) < 0)
                rec->problems.writer_errors++;
            PyMem_RawFree(t->stack);
            t->stack = t->top = t->end = NULL;
            t->ended = 1;
            rec->threads_ended++;
        }
        PyMem_RawFree(k);
        k = next;
    }
}

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
        /* --threads main: whatever put our hook here, it does not belong
         * (sys.monitoring callbacks come on every thread: they just skip
         * this one). */
        if (rec->backend == CAPTURE_BACKEND_LEGACY)
            PyEval_SetTrace(NULL, NULL);
        return NULL;
    }
    capture_threads_reap(rec);
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
    ticket_issue(t);
    return t;
nomem:
    rec->problems.nomem++;
    return NULL;
}

/* The name a thread's stream starts with, when it is known already: the
 * one threading gave it (hook_note_name, install.c, cached its UTF-8, so
 * this cannot fail), else the one it had when the recording started. It
 * goes to the file with the next flush, and so survives a kill; stop()
 * names every thread again as it is then. */
static const char *
thread_known_name(const capture_rec_t *rec, const capture_thread_t *t)
{
    uint32_t i;
    if (t->name != NULL)
        return PyUnicode_AsUTF8(t->name);
    for (i = 0; i < rec->n_start_names; i++)
        if (rec->start_names[i].ident == t->ident)
            return rec->start_names[i].name;
    return NULL;
}

int
capture_thread_open(capture_rec_t *rec, capture_thread_t *t)
{
    int rc = tt_writer_thread(rec->w, t->ident, thread_known_name(rec, t),
                              &t->tbuf);
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

/* Counts the entries lo..hi (inclusive) as frames that ended without a
 * RETURN, and keeps the first few distinct codes to name them. */
static void
capture_thread_missed(capture_rec_t *rec, const capture_frame_t *lo,
                      const capture_frame_t *hi)
{
    const capture_frame_t *e;
    for (e = lo; e <= hi; e++) {
        const capture_code_t **shown = rec->problems.missed_codes;
        size_t k;
        rec->problems.missed_returns++;
        if (e->code == NULL)
            continue;
        for (k = 0; k < TTX_MISSED_SHOWN && shown[k] != NULL &&
                    shown[k] != e->code; k++)
            ;
        if (k < TTX_MISSED_SHOWN && shown[k] == NULL)
            shown[k] = e->code;
    }
}

capture_frame_t *
capture_thread_find(capture_thread_t *t, const void *frame)
{
    capture_frame_t *e;
    for (e = t->top - 1; e > t->stack; e--) {
        if (e->frame == frame) {
            /* Everything above returned without telling us. */
            if (capture_rec != NULL)
                capture_thread_missed(capture_rec, e + 1, t->top);
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
        Py_XDECREF(rec->threads[i]->replaced_by);
        PyMem_RawFree(rec->threads[i]->stack);
        PyMem_RawFree(rec->threads[i]);
    }
    PyMem_RawFree(rec->threads);
    rec->threads = NULL;
    rec->n_threads = rec->cap_threads = 0;
}
