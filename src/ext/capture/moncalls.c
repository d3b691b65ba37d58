/* moncalls.c - calls-only recording (--no-lines) on the sys.monitoring
 * backend: PEP 669 events into the same per-thread buffers, with the same
 * events and semantics as the legacy hook (capture.c) in that mode.
 *
 * Owns: the C callbacks (one per event kind, so that yields and
 * resumptions stay apart for whoever marks them), their shadow stack keyed
 * by interpreter-frame address, DISABLE for code the filters leave out, the
 * adoption of the frames running at start, and --c-calls through CALL /
 * C_RETURN / C_RAISE. Must not: raise, run Python code or create Python
 * objects on the fast path (first sight of a code, a thread or a C function
 * are the slow paths, as in capture.c). GIL: held by CPython for every
 * callback.
 *
 * The mapping is Python/legacy_tracing.c's (3.12-3.14 alike): PY_START,
 * PY_RESUME and PY_THROW are CALL; PY_RETURN, PY_YIELD and PY_UNWIND are
 * RETURN; RAISE and STOP_ITERATION are EXCEPTION (RERAISE and
 * EXCEPTION_HANDLED are not traced by it, so not here either). The line of
 * each event is the frame's lasti line, as legacy's frame.f_lasti gives it.
 */
#include "capture_int.h"
#include "objects_api.h"

#include <opcode.h>

#if TTX_IFRAME_KNOWN

/* sys.monitoring.DISABLE and MISSING: borrowed from rec->mon, which holds
 * them while our callbacks are registered; set by install (GIL). */
static PyObject *mon_disable, *mon_missing;

/* ------------------------------------------------------------ helpers */

/* The line of the frame f running traced code c, as capture_line_at gives
 * it for a frame object: the line of lasti, firstlineno before the first
 * instruction. */
static inline int32_t
mon_line_at(const capture_code_t *c, const char *f)
{
    return capture_line_of(c, ttx_iframe_lasti(f, c->code));
}

/* This thread's state, or NULL when its events are not recorded (no
 * recording, --threads main elsewhere, detach_thread(), no memory). */
static TT_NOINLINE capture_thread_t *
mon_thread_slow(capture_rec_t *rec)
{
    if (rec == NULL ||
        (rec->main_only && PyThread_get_thread_ident() != rec->main_ident))
        return NULL;
    return capture_thread_attach();
}

static inline capture_thread_t *
mon_thread(capture_rec_t *rec)
{
    capture_thread_t *t = TTX_LIKELY(capture_tls.gen == capture_gen)
                          ? capture_tls.thread : mon_thread_slow(rec);
    return t != NULL && !t->detached ? t : NULL;
}

/* The decision of the code that called frame f (for code from a pseudo
 * file, which inherits it): the nearest Python frame below f whose code is
 * known; 1 (traced) when there is none. */
static int
mon_caller_traced(capture_rec_t *rec, const char *f)
{
    for (f = ttx_iframe_word(f, TTX_IFRAME_W_PREVIOUS); f != NULL;
         f = ttx_iframe_word(f, TTX_IFRAME_W_PREVIOUS)) {
        PyObject *co = ttx_iframe_code(f);
        capture_code_t *c = co ? capture_codetab_find(&rec->codes, co) : NULL;
        if (c != NULL)
            return c->traced;
    }
    return 1;
}

/* First sight of a code object. NULL if registering failed (counted). */
static TT_NOINLINE capture_code_t *
mon_register(capture_rec_t *rec, PyObject *co, const char *f)
{
    capture_code_t *c;
    int caller = f != NULL ? mon_caller_traced(rec, f) : 1;
    TTX_OBJ_OWN(c = capture_code_register(rec, co, caller));
    return c;
}

/* The entry of code `co`, registered on first sight. */
static inline capture_code_t *
mon_code(capture_rec_t *rec, PyObject *co, const char *f)
{
    capture_code_t *c = capture_codetab_find(&rec->codes, co);
    return TTX_LIKELY(c != NULL) ? c : mon_register(rec, co, f);
}

/* Opens the thread's stream, named as threading knows it (a thread started
 * during the recording is in threading._active by its first traced event;
 * legacy names it in the hook threading.settrace() installs). */
static TT_NOINLINE int
mon_open(capture_rec_t *rec, capture_thread_t *t)
{
    if (t->name == NULL && t->ident != rec->main_ident)
        TTX_OBJ_OWN(capture_thread_note_name(rec, (unsigned long)t->ident));
    if (capture_rec != rec || t->ended)
        return -1;                      /* the name lookup ran Python code */
    return capture_thread_open(rec, t);
}

/* The shadow-stack entry of frame f: the top one in the common case;
 * entries above it returned unseen (counted). NULL when f has none. */
static inline capture_frame_t *
mon_entry(capture_thread_t *t, const char *f)
{
    if (TTX_LIKELY(t->top->frame == (const void *)f))
        return t->top;
    return capture_thread_find(t, f);
}

/* ------------------------------------------------------------ the events */

/* What every callback starts with: the recording, this thread's state,
 * the running frame and the entry of the event's code (args[0]). */
typedef struct {
    capture_rec_t *rec;
    capture_thread_t *t;
    const char *f;
    capture_code_t *c;
} mon_event_t;

/* Fills ev. NULL when the event is to be recorded (its code is traced);
 * else what the callback returns: None, or DISABLE (borrowed) for code
 * the filters leave out when `disable` (a local event). */
static inline PyObject *
mon_begin(mon_event_t *ev, PyObject *const *args, int disable)
{
    ev->rec = capture_rec;
    ev->t = mon_thread(ev->rec);
    if (TTX_UNLIKELY(ev->t == NULL))
        return Py_None;
    ev->f = ttx_iframe_current(ev->t->tstate);
    ev->c = mon_code(ev->rec, args[0], ev->f);
    if (TTX_UNLIKELY(ev->c == NULL))
        return Py_None;
    if (!ev->c->traced)
        return disable ? mon_disable : Py_None;
    return NULL;
}

/* How a frame is entered, for the marks (FORMAT.md §19). */
enum { MON_START, MON_RESUME, MON_THROW };

/* PY_START / PY_RESUME / PY_THROW: legacy's CALL, marked as a resumption
 * for PY_RESUME, and for PY_THROW into a frame past its first RESUME (a
 * throw() into a generator that never ran starts it, as on legacy:
 * capture.c). DISABLE for code the filters leave out (not possible for
 * PY_THROW: `disable` 0). */
static inline PyObject *
mon_enter(PyObject *const *args, int disable, int how)
{
    mon_event_t ev;
    PyObject *skip = mon_begin(&ev, args, disable);
    capture_thread_t *t = ev.t;
    capture_frame_t *e;

    if (skip != NULL)
        return Py_NewRef(skip);
    if (TTX_UNLIKELY(t->tbuf == NULL) && mon_open(ev.rec, t) < 0)
        Py_RETURN_NONE;
    if (TTX_UNLIKELY(t->top + 1 == t->end) && capture_thread_grow(t) < 0)
        Py_RETURN_NONE;
    e = ++t->top;
    e->frame = ev.f;
    e->code = ev.c;
    e->traced = 1;
    {
        int lasti = ttx_iframe_lasti(ev.f, ev.c->code);
        e->line = capture_line_of(ev.c, lasti);
        if (how == MON_RESUME ||
            (how == MON_THROW && ev.c->yields != NULL &&
             lasti > ev.c->start_lasti))
            tt_tbuf_resume(t->tbuf, capture_clock(), ev.c->id, e->line);
        else
            tt_tbuf_call(t->tbuf, capture_clock(), ev.c->id, e->line);
    }
    Py_RETURN_NONE;
}

/* PY_RETURN / PY_YIELD / PY_UNWIND: legacy's RETURN, marked as a
 * suspension for PY_YIELD. */
static inline PyObject *
mon_leave(PyObject *const *args, int disable, int yields)
{
    mon_event_t ev;
    PyObject *skip = mon_begin(&ev, args, disable);
    capture_frame_t *e;

    if (skip != NULL)
        return Py_NewRef(skip);
    e = mon_entry(ev.t, ev.f);
    if (e == NULL)
        Py_RETURN_NONE;
    if (yields)
        tt_tbuf_yield(ev.t->tbuf, capture_clock(), ev.c->id,
                      mon_line_at(ev.c, ev.f));
    else
        tt_tbuf_return(ev.t->tbuf, capture_clock(), ev.c->id,
                       mon_line_at(ev.c, ev.f));
    ev.t->top = e - 1;
    Py_RETURN_NONE;
}

/* RAISE / STOP_ITERATION: legacy's EXCEPTION, with the type's name. */
static inline PyObject *
mon_exception(PyObject *const *args, int disable)
{
    mon_event_t ev;
    PyObject *skip = mon_begin(&ev, args, disable);
    uint32_t type;

    if (skip != NULL)
        return Py_NewRef(skip);
    if (mon_entry(ev.t, ev.f) == NULL)
        Py_RETURN_NONE;
    TTX_OBJ_OWN(type = capture_exc_type_id(ev.rec,
                                           (PyObject *)Py_TYPE(args[2])));
    tt_tbuf_exception(ev.t->tbuf, capture_clock(), ev.c->id,
                      mon_line_at(ev.c, ev.f), type);
    Py_RETURN_NONE;
}

/* One function per event, so that a suspension (PY_YIELD) and a
 * resumption (PY_RESUME) can be told from a return and a start. */
#define MON_CALLBACK(name, body)                                            \
    static PyObject *name(PyObject *self, PyObject *const *args,           \
                          Py_ssize_t nargs)                                 \
    {                                                                       \
        (void)self;                                                         \
        (void)nargs;                                                        \
        capture_objects_settle_box(args[1], NULL);                          \
        return body;                                                        \
    }
MON_CALLBACK(mon_py_start, mon_enter(args, 1, MON_START))
MON_CALLBACK(mon_py_resume, mon_enter(args, 1, MON_RESUME))
MON_CALLBACK(mon_py_throw, mon_enter(args, 0, MON_THROW))
MON_CALLBACK(mon_py_return, mon_leave(args, 1, 0))
MON_CALLBACK(mon_py_yield, mon_leave(args, 1, 1))
MON_CALLBACK(mon_py_unwind, mon_leave(args, 0, 0))
MON_CALLBACK(mon_raise, mon_exception(args, 0))

/* STOP_ITERATION at a for loop's END_FOR, where a generator driven by the
 * loop (FOR_ITER specialised for generators) returned: legacy tracing never
 * reports it, because its LINE instrumentation keeps that FOR_ITER generic,
 * which ends the loop without an event, or, for a generator that returned
 * a value, with a RAISE of StopIteration at the FOR_ITER. So it is
 * recorded only when the generator returned a value (in the same line:
 * the loop's). The STOP_ITERATION of `yield from` / `await` (END_SEND)
 * legacy reports as it is. */
static int
mon_stop_unseen(PyObject *const *args)
{
    PyCodeObject *co = (PyCodeObject *)args[0];
    long off = PyLong_AsLong(args[1]);
    int op;

    if (off < 0 || (uint32_t)off / 2u >= TTX_CODE_UNITS(co)) {
        PyErr_Clear();
        return 0;
    }
    op = ((const unsigned char *)co->co_code_adaptive)[off];
    if (op != END_FOR && op != INSTRUMENTED_END_FOR)
        return 0;
    return !PyObject_TypeCheck(args[2], (PyTypeObject *)PyExc_StopIteration)
           || ((PyStopIterationObject *)args[2])->value == Py_None;
}

static PyObject *
mon_stop_iteration(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    (void)nargs;
    capture_objects_settle_box(args[1], args[2]);
    if (mon_stop_unseen(args))
        Py_RETURN_NONE;
    return mon_exception(args, 1);
}

/* ------------------------------------------------------------- C calls */

/* CALL / C_RETURN / C_RAISE (--c-calls): a C function called by a recorded
 * frame, as the legacy profile function (cfuncs.c) records it: at the line
 * of the call. `what` is PyTrace_C_CALL, _C_RETURN or _C_EXCEPTION. */
static inline PyObject *
mon_ccall(PyObject *const *args, Py_ssize_t nargs, int what)
{
    mon_event_t ev;
    PyObject *skip;
    capture_frame_t *e;
    uint32_t id;

    if (nargs < 4)
        Py_RETURN_NONE;
    skip = mon_begin(&ev, args, what == PyTrace_C_CALL);
    if (skip != NULL)
        return Py_NewRef(skip);
    e = ev.t->top;
    if (e->frame != (const void *)ev.f)
        Py_RETURN_NONE;
    id = capture_cfunc_callable_id(ev.rec, args[2], args[3], mon_missing);
    if (id == CAPTURE_CFUNC_NONE)
        Py_RETURN_NONE;
    if (what == PyTrace_C_CALL) {
        /* The line the call is on (legacy: the frame's last LINE). */
        long off = PyLong_AsLong(args[1]);
        if (off >= 0 && (uint32_t)off / 2u < ev.c->n_units)
            e->line = ev.c->lines[(uint32_t)off / 2u];
        else
            PyErr_Clear();
        tt_tbuf_call(ev.t->tbuf, capture_clock(), id, e->line);
    } else if (what == PyTrace_C_RETURN) {
        tt_tbuf_return(ev.t->tbuf, capture_clock(), id, e->line);
    } else {
        tt_tbuf_exception(ev.t->tbuf, capture_clock(), id, e->line,
                          capture_cfunc_unknown_exc(ev.rec));
    }
    Py_RETURN_NONE;
}

MON_CALLBACK(mon_call, mon_ccall(args, nargs, PyTrace_C_CALL))
MON_CALLBACK(mon_c_return, mon_ccall(args, nargs, PyTrace_C_RETURN))
MON_CALLBACK(mon_c_raise, mon_ccall(args, nargs, PyTrace_C_EXCEPTION))

static PyMethodDef mon_defs[] = {
    {"py_start", (PyCFunction)(void (*)(void))mon_py_start, METH_FASTCALL, NULL},
    {"py_resume", (PyCFunction)(void (*)(void))mon_py_resume, METH_FASTCALL, NULL},
    {"py_throw", (PyCFunction)(void (*)(void))mon_py_throw, METH_FASTCALL, NULL},
    {"py_return", (PyCFunction)(void (*)(void))mon_py_return, METH_FASTCALL, NULL},
    {"py_yield", (PyCFunction)(void (*)(void))mon_py_yield, METH_FASTCALL, NULL},
    {"py_unwind", (PyCFunction)(void (*)(void))mon_py_unwind, METH_FASTCALL, NULL},
    {"raise", (PyCFunction)(void (*)(void))mon_raise, METH_FASTCALL, NULL},
    {"stop_iteration", (PyCFunction)(void (*)(void))mon_stop_iteration,
     METH_FASTCALL, NULL},
    {"call", (PyCFunction)(void (*)(void))mon_call, METH_FASTCALL, NULL},
    {"c_return", (PyCFunction)(void (*)(void))mon_c_return, METH_FASTCALL, NULL},
    {"c_raise", (PyCFunction)(void (*)(void))mon_c_raise, METH_FASTCALL, NULL},
};
/* The event of each of mon_defs, by name (the numbers differ between
 * versions); the last two come with CALL and cannot be set themselves. */
static const char *const mon_events[] = {
    "PY_START", "PY_RESUME", "PY_THROW", "PY_RETURN", "PY_YIELD",
    "PY_UNWIND", "RAISE", "STOP_ITERATION", "CALL", "C_RETURN", "C_RAISE",
};
#define MON_N_PY 8                      /* without the C-call events */
#define MON_N_SET 9                     /* the events set: C_RETURN and
                                           C_RAISE come with CALL */

/* --------------------------------------------------- frames at start */

/* The calling thread's running frames, outermost first, pushed as legacy's
 * capture_adopt_frames pushes them (their RETURN and EXCEPTION events are
 * recorded, not a CALL), after checking the frame layout pycompat.h assumes
 * against the frame objects: each interpreter frame that holds a frame
 * object must be the one PyEval_GetFrame()/f_back give, with its code and
 * lasti. 0; -1 + RuntimeError when the layout does not match (nothing
 * pushed); -1 + MemoryError. */
static int
mon_adopt(capture_rec_t *rec)
{
    PyThreadState *ts = PyThreadState_Get();
    capture_thread_t *t = capture_tls.gen == rec->gen ? capture_tls.thread
                                                      : capture_thread_attach();
    PyFrameObject *fo = PyEval_GetFrame();          /* borrowed */
    const char *f, **v = NULL;
    size_t n = 0, cap = 0, i;
    int caller = 1;

    if (t == NULL)
        return PyErr_NoMemory(), -1;
    for (f = ttx_iframe_current(ts); f != NULL;
         f = ttx_iframe_word(f, TTX_IFRAME_W_PREVIOUS)) {
        PyObject *co = ttx_iframe_code(f);
        if (co == NULL)
            continue;
        /* Materialise the frame object so that the layout is checked on
         * every frame (legacy adoption does the same). */
        if (fo == NULL ||
            ttx_iframe_word(f, TTX_IFRAME_W_FRAMEOBJ) != (const void *)fo) {
            /* An incomplete frame (not started yet) has no frame object
             * and is skipped by f_back: skip it too. */
            if (ttx_iframe_word(f, TTX_IFRAME_W_FRAMEOBJ) == NULL)
                continue;
            goto layout;
        }
        {
            PyCodeObject *fco = PyFrame_GetCode(fo);
            int ok = (PyObject *)fco == co &&
                     PyFrame_GetLasti(fo) == ttx_iframe_lasti(f, co);
            Py_DECREF(fco);
            if (!ok)
                goto layout;
        }
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 32;
            const char **nv = PyMem_RawRealloc(v, ncap * sizeof(*v));
            if (nv == NULL) {
                PyMem_RawFree(v);
                return PyErr_NoMemory(), -1;
            }
            v = nv;
            cap = ncap;
        }
        v[n++] = f;
        {
            PyFrameObject *back = PyFrame_GetBack(fo);    /* new ref */
            Py_XDECREF(back);           /* kept alive by its next frame */
            fo = back;
        }
    }
    if (fo != NULL)
        goto layout;
    for (i = n; i-- > 0;) {
        PyObject *co = ttx_iframe_code(v[i]);
        capture_code_t *c = capture_codetab_find(&rec->codes, co);
        capture_frame_t *e;
        if (c == NULL)
            TTX_OBJ_OWN(c = capture_code_register(rec, co, caller));
        caller = c == NULL || c->traced;
        if (c == NULL || !c->traced)
            continue;
        if (t->tbuf == NULL && mon_open(rec, t) < 0)
            continue;
        if (t->top + 1 == t->end && capture_thread_grow(t) < 0)
            break;
        e = ++t->top;
        e->frame = v[i];
        e->code = c;
        e->traced = 1;
        e->line = mon_line_at(c, v[i]);
    }
    PyMem_RawFree(v);
    return 0;
layout:
    PyMem_RawFree(v);
    PyErr_SetString(PyExc_RuntimeError,
                    "the sys.monitoring backend cannot record on this Python "
                    "build: its interpreter frames are not laid out as "
                    "tracetap expects; use --backend legacy");
    return -1;
}

/* --------------------------------------------------------------- install */

int
capture_moncalls_install(capture_rec_t *rec)
{
    size_t i, n = rec->cfuncs != NULL ? sizeof(mon_events) / sizeof(mon_events[0])
                                      : MON_N_PY;
    uint32_t events = 0;

    /* Locations an earlier recording DISABLEd fire again: this one's
     * filters decide anew. */
    if (capture_monitoring_restart(rec) < 0)
        return -1;
    /* With --objects, code the filters leave out keeps its events (and
     * they are ignored): every event's boxed offset is then made and
     * dropped as noise alike, and the program allocates as under any
     * other monitoring tool of these events (a generator closed at a
     * yield in instrumented code gets a GeneratorExit thrown in), so that
     * its objects are counted exactly against such a tool. */
    mon_disable = rec->objects != NULL ? Py_None : rec->mon->disable;
    mon_missing = rec->mon->missing;
    for (i = 0; i < n; i++) {
        int bit = capture_monitoring_event(rec, mon_events[i]);
        if (bit < 0 || capture_monitoring_register(rec, bit, &mon_defs[i]) < 0)
            return -1;
        if (i < MON_N_SET)
            events |= 1u << bit;
    }
    /* The frames already running first (their returns are recorded), then
     * the events. */
    if (mon_adopt(rec) < 0)
        return -1;
    return capture_monitoring_set_events(rec, events);
}

#else  /* 3.11: no sys.monitoring */

int
capture_moncalls_install(capture_rec_t *rec)
{
    (void)rec;
    PyErr_SetString(PyExc_RuntimeError,
                    "the sys.monitoring backend needs Python 3.12 or newer");
    return -1;
}

#endif
