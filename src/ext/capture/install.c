/* install.c - putting the trace hook on every thread and taking it off.
 *
 * Owns: the refusal when another tracer holds the hook, installation
 * (PyEval_SetTraceAllThreads on 3.12+, _PyEval_SetTrace over the thread
 * states on 3.11, threading.settrace(hook) for threads started later), the
 * Hook object (c_traceobj; calling it installs the C hook on the calling
 * thread), the survey of hooks replaced by other tools, the sys.settrace
 * wrapper that puts the hook back when such a tool removes itself, and
 * removal; with --c-calls the same for the profile function (cfuncs.c)
 * beside it.
 * Must not: be called from the trace hook, except Hook_call, which CPython
 * calls as a Python-level trace function. GIL: held throughout.
 */
#include "capture_int.h"
#include "objects_api.h"
#include "opcode_flag.h"

#include <stdarg.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
} HookObject;

/* ------------------------------------------------------------ thread walk */

typedef struct {
    unsigned long ident;
    Py_tracefunc func;
    PyObject *obj;               /* owned, may be NULL */
    int ours_before;             /* one of our attached threads */
} hook_seen_t;

/* Snapshots every thread state's hook without running Python code, so the
 * list cannot change under the walk. *out is a PyMem_Raw array the caller
 * releases with seen_free. 0, or -1 + MemoryError. */
static int
seen_collect(capture_rec_t *rec, hook_seen_t **out, size_t *n)
{
    PyInterpreterState *interp = PyInterpreterState_Get();
    PyThreadState *ts;
    size_t count = 0, i = 0;
    hook_seen_t *v;

    for (ts = PyInterpreterState_ThreadHead(interp); ts != NULL;
         ts = PyThreadState_Next(ts))
        count++;
    v = PyMem_RawCalloc(count ? count : 1, sizeof(*v));
    if (v == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (ts = PyInterpreterState_ThreadHead(interp); ts != NULL && i < count;
         ts = PyThreadState_Next(ts), i++) {
        uint32_t k;
        v[i].ident = ts->thread_id;
        v[i].func = ts->c_tracefunc;
        v[i].obj = Py_XNewRef(ts->c_traceobj);
        for (k = 0; rec != NULL && k < rec->n_threads; k++) {
            if (rec->threads[k]->tstate == ts &&
                (!rec->threads[k]->detached || rec->threads[k]->hook_lost) &&
                !rec->threads[k]->ended)
                v[i].ours_before = 1;
        }
    }
    *out = v;
    *n = i;
    return 0;
}

static void
seen_free(hook_seen_t *v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        Py_XDECREF(v[i].obj);
    PyMem_RawFree(v);
}

/* "sys.settrace(<function f at ...>)" or "a C trace function". */
static PyObject *
describe_hook(Py_tracefunc func, PyObject *obj)
{
    if (obj != NULL && obj != Py_None)
        return PyUnicode_FromFormat("another trace function (%R)", obj);
    return PyUnicode_FromFormat("another C trace function (%p)",
                                (void *)(uintptr_t)func);
}

static PyObject *
threading_gettrace(capture_rec_t *rec)
{
    if (rec->threading == NULL)
        Py_RETURN_NONE;
    return PyObject_CallMethod(rec->threading, "gettrace", NULL);
}

static int
threading_settrace(capture_rec_t *rec, PyObject *hook)
{
    PyObject *r;
    if (rec->threading == NULL)
        return 0;
    r = PyObject_CallMethod(rec->threading, "settrace", "O", hook);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* ---------------------------------------------------------------- refusal */

/* --c-calls needs the profile function of every thread it covers. */
static int
profile_check_free(capture_rec_t *rec)
{
    PyThreadState *me = PyThreadState_Get(), *ts;
    if (rec->cfuncs == NULL)
        return 0;
    for (ts = PyInterpreterState_ThreadHead(me->interp); ts != NULL;
         ts = PyThreadState_Next(ts)) {
        if (ts->c_profilefunc == NULL || ts->c_profilefunc == capture_profile ||
            (rec->main_only && ts != me))
            continue;
        PyErr_Format(PyExc_RuntimeError,
                     "cannot record C calls: another profile function "
                     "(sys.setprofile, or cProfile before 3.12) is installed "
                     "in thread %lu; --c-calls needs the profile hook for "
                     "itself", ts->thread_id);
        return -1;
    }
    return 0;
}

int
capture_check_free(capture_rec_t *rec)
{
    PyThreadState *me = PyThreadState_Get();
    hook_seen_t *seen;
    size_t n, i;
    PyObject *t;

    if (!rec->calls)
        return 0;                       /* installs nothing */
    if (seen_collect(NULL, &seen, &n) < 0)
        return -1;
    for (i = 0; i < n; i++) {
        PyObject *what;
        if (seen[i].func == NULL || seen[i].func == capture_trace)
            continue;                   /* free, or our own inert leftover */
        if (rec->main_only && seen[i].ident != me->thread_id)
            continue;
        what = describe_hook(seen[i].func, seen[i].obj);
        if (what != NULL) {
            PyErr_Format(PyExc_RuntimeError,
                         "cannot record: %U is installed in thread %lu "
                         "(sys.settrace or a C tracer such as a debugger or "
                         "coverage); tracetap needs the trace hook for "
                         "itself. Stop the other tracer first.",
                         what, seen[i].ident);
            Py_DECREF(what);
        }
        seen_free(seen, n);
        return -1;
    }
    seen_free(seen, n);
    if (profile_check_free(rec) < 0)
        return -1;
    if (rec->main_only)
        return 0;
    t = threading_gettrace(rec);
    if (t == NULL)
        return -1;
    if (t != Py_None && !PyObject_TypeCheck(t, Py_TYPE(rec->hook))) {
        PyErr_Format(PyExc_RuntimeError,
                     "cannot record: threading.settrace() already holds %R "
                     "for new threads; tracetap needs that hook for itself. "
                     "Clear it first with threading.settrace(None).", t);
        Py_DECREF(t);
        return -1;
    }
    Py_DECREF(t);
    return 0;
}

/* ------------------------------------------------------------ installing */

#if TTX_OPCODES_PRIME
/* 3.12: the f_trace_opcodes setter marks the interpreter, and the next
 * PyEval_SetTrace turns INSTRUCTION events on everywhere (docs/CPYTHON-NOTES.md
 * section 1). Prime it on the calling frame and clear that frame's flag.
 * The mark is never lowered by CPython: when it was down before, stop()
 * lowers it again (unprime_opcodes), once it has seen that the field it
 * reads is the one the setter raises. */
static int
prime_opcodes(capture_rec_t *rec)
{
    PyFrameObject *f = PyEval_GetFrame();    /* borrowed */
    int was = ttx_opcode_flag_read();
    if (f == NULL)
        return 0;
    if (PyObject_SetAttr((PyObject *)f, rec->s_f_trace_opcodes, Py_True) < 0 ||
        PyObject_SetAttr((PyObject *)f, rec->s_f_trace_opcodes, Py_False) < 0)
        return -1;
    rec->opcode_flag_lower = was == 0 && ttx_opcode_flag_read() == 1;
    return 0;
}

static void
unprime_opcodes(capture_rec_t *rec)
{
    if (rec->opcode_flag_lower)
        ttx_opcode_flag_clear();
    rec->opcode_flag_lower = 0;
}
#else
static void
unprime_opcodes(capture_rec_t *rec)
{
    (void)rec;
}
#endif

#if TTX_SET_TRACE_TSTATE
/* Takes our trace function (profile = 0) or our profile function (1) off
 * every thread state that has it, one at a time: an audit hook may run
 * Python code in between, so the walk starts again from the head after
 * each. 0, or -1 + exception (a refusal; the rest keep ours). */
static int
clear_ours_each(int profile)
{
    for (;;) {
        PyInterpreterState *interp = PyInterpreterState_Get();
        PyThreadState *ts;
        for (ts = PyInterpreterState_ThreadHead(interp); ts != NULL;
             ts = PyThreadState_Next(ts)) {
            if (profile ? ts->c_profilefunc == capture_profile
                        : ts->c_tracefunc == capture_trace)
                break;
        }
        if (ts == NULL)
            return 0;
        if ((profile ? ttx_set_profile_tstate(ts, NULL, NULL)
                     : ttx_set_trace_tstate(ts, NULL, NULL)) < 0)
            return -1;
    }
}
#endif

#if !TTX_SET_TRACE_TSTATE
/* 3.13+: another thread's hook can only be changed for all at once. Takes
 * our trace function (profile = 0) or profile function (1) off every
 * thread, unless another thread holds another tool's: then off this thread
 * only (ours, left elsewhere, removes itself at that thread's next event).
 * This thread keeps another tool's. Runs no Python code. */
static void
clear_ours_all(int profile)
{
    PyThreadState *me = PyThreadState_Get(), *ts;
    Py_tracefunc ours = profile ? capture_profile : capture_trace;
    Py_tracefunc my_func = profile ? me->c_profilefunc : me->c_tracefunc;
    PyObject *my_obj = Py_XNewRef(profile ? me->c_profileobj
                                          : me->c_traceobj);
    void (*set_all)(Py_tracefunc, PyObject *) =
        profile ? PyEval_SetProfileAllThreads : PyEval_SetTraceAllThreads;
    void (*set_one)(Py_tracefunc, PyObject *) =
        profile ? PyEval_SetProfile : PyEval_SetTrace;
    int other_foreign = 0;

    for (ts = PyInterpreterState_ThreadHead(me->interp); ts != NULL;
         ts = PyThreadState_Next(ts)) {
        Py_tracefunc f = profile ? ts->c_profilefunc : ts->c_tracefunc;
        if (ts != me && f != NULL && f != ours)
            other_foreign = 1;
    }
    if (!other_foreign) {
        set_all(NULL, NULL);
        if (my_func != NULL && my_func != ours)
            set_one(my_func, my_obj);       /* theirs, not ours */
    } else if (my_func == ours) {
        set_one(NULL, NULL);
    }
    Py_XDECREF(my_obj);
}
#endif

/* --c-calls: the profile function beside the trace function, on the same
 * threads (new ones get it from Hook_call). The undo of a failed install
 * takes ours off again; no other tool's can be there (profile_check_free). */
static void
profile_uninstall_unchecked(capture_rec_t *rec)
{
#if TTX_SET_TRACE_TSTATE
    (void)rec;
    if (clear_ours_each(1) < 0)
        PyErr_Clear();
#else
    if (!rec->main_only)
        PyEval_SetProfileAllThreads(NULL, NULL);
    else if (PyThreadState_Get()->c_profilefunc == capture_profile)
        PyEval_SetProfile(NULL, NULL);
#endif
}

static int
profile_install(capture_rec_t *rec)
{
    if (rec->cfuncs == NULL)
        return 0;
    if (rec->main_only) {
        PyEval_SetProfile(capture_profile, rec->hook);
    } else {
#if TTX_SET_TRACE_ALL
        PyEval_SetProfileAllThreads(capture_profile, rec->hook);
#else
        PyInterpreterState *interp = PyInterpreterState_Get();
        PyThreadState *ts;
        for (ts = PyInterpreterState_ThreadHead(interp); ts != NULL;
             ts = PyThreadState_Next(ts)) {
            if (ttx_set_profile_tstate(ts, capture_profile, rec->hook) < 0) {
                ttx_exc_state_t saved;
                ttx_exc_save(&saved);
                profile_uninstall_unchecked(rec);
                ttx_exc_restore(&saved);
                return -1;
            }
        }
#endif
    }
    if (PyThreadState_Get()->c_profilefunc != capture_profile) {
        profile_uninstall_unchecked(rec);
        PyErr_Clear();
        PyErr_SetString(PyExc_RuntimeError,
                        "cannot record C calls: the profile hook could not "
                        "be installed (an audit hook may have refused "
                        "sys.setprofile)");
        return -1;
    }
    return 0;
}

static void
uninstall_all_unchecked(void)
{
#if TTX_SET_TRACE_ALL
    PyEval_SetTraceAllThreads(NULL, NULL);
#else
    if (clear_ours_each(0) < 0)
        PyErr_Clear();
#endif
}

int
capture_install(capture_rec_t *rec)
{
    PyThreadState *me = PyThreadState_Get();

    if (!rec->calls)
        return 0;
#if TTX_OPCODES_PRIME
    if (rec->opcodes && prime_opcodes(rec) < 0)
        return -1;
#endif
    if (rec->main_only) {
        PyEval_SetTrace(capture_trace, rec->hook);
    } else {
        /* New threads first, so none can start between the two steps
         * without being covered. */
        if (threading_settrace(rec, rec->hook) < 0) {
            unprime_opcodes(rec);
            return -1;
        }
#if TTX_SET_TRACE_ALL
        PyEval_SetTraceAllThreads(capture_trace, rec->hook);
#else
        {
            PyInterpreterState *interp = PyInterpreterState_Get();
            PyThreadState *ts;
            for (ts = PyInterpreterState_ThreadHead(interp); ts != NULL;
                 ts = PyThreadState_Next(ts)) {
                if (ttx_set_trace_tstate(ts, capture_trace, rec->hook) < 0) {
                    PyObject *none = Py_None;
                    ttx_exc_state_t saved;
                    ttx_exc_save(&saved);
                    uninstall_all_unchecked();
                    unprime_opcodes(rec);
                    (void)threading_settrace(rec, none);
                    PyErr_Clear();
                    ttx_exc_restore(&saved);
                    return -1;
                }
            }
        }
#endif
    }
    if (me->c_tracefunc != capture_trace || profile_install(rec) < 0) {
        /* PyEval_SetTrace reports an audit hook's veto as unraisable. */
        ttx_exc_state_t saved;
        ttx_exc_save(&saved);
        uninstall_all_unchecked();
        unprime_opcodes(rec);
        if (!rec->main_only)
            (void)threading_settrace(rec, Py_None);
        PyErr_Clear();
        ttx_exc_restore(&saved);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError,
                            "cannot record: the trace hook could not be "
                            "installed (an audit hook may have refused "
                            "sys.settrace)");
        return -1;
    }
    return 0;
}

/* --------------------------------------------------------------- survey */

int
capture_survey(capture_rec_t *rec, PyObject *foreign)
{
    hook_seen_t *seen;
    size_t n, i;
    int rc = 0;

    if (!rec->calls)
        return 0;
    if (seen_collect(rec, &seen, &n) < 0)
        return -1;
    for (i = 0; i < n && rc == 0; i++) {
        PyObject *item = NULL;
        if (seen[i].func == capture_trace)
            continue;
        if (seen[i].func != NULL) {
            PyObject *what = describe_hook(seen[i].func, seen[i].obj);
            if (what != NULL)
                item = Py_BuildValue("(kN)", seen[i].ident, what);
        } else if (seen[i].ours_before) {
            item = Py_BuildValue("(ks)", seen[i].ident, "");
        } else {
            continue;
        }
        if (item == NULL || PyList_Append(foreign, item) < 0)
            rc = -1;
        Py_XDECREF(item);
    }
    seen_free(seen, n);
    return rc;
}

/* ------------------------------------------------------------- removing */

static int
warn(PyObject *warnings, const char *fmt, ...)
{
    va_list va;
    PyObject *s;
    int rc;
    va_start(va, fmt);
    s = PyUnicode_FromFormatV(fmt, va);
    va_end(va);
    if (s == NULL)
        return -1;
    rc = PyList_Append(warnings, s);
    Py_DECREF(s);
    return rc;
}

int
capture_uninstall(capture_rec_t *rec, PyObject *warnings, PyObject *foreign)
{
    PyObject *t;
    hook_seen_t *seen;
    size_t n, i, left = 0;

    (void)foreign;
    if (!rec->calls)
        return 0;
    if (!rec->main_only) {
        t = threading_gettrace(rec);
        if (t == NULL)
            return -1;
        if (t == rec->hook) {
            if (threading_settrace(rec, Py_None) < 0) {
                Py_DECREF(t);
                return -1;
            }
        } else if (t != Py_None &&
                   warn(warnings, "threading.settrace() was changed during "
                        "the recording (to %R), so threads started after "
                        "that were not traced; it was left in place", t) < 0) {
            Py_DECREF(t);
            return -1;
        }
        Py_DECREF(t);
    }

#if TTX_SET_TRACE_TSTATE
    if (clear_ours_each(0) < 0 ||
        (rec->cfuncs != NULL && clear_ours_each(1) < 0))
        return -1;
#else
    clear_ours_all(0);
    if (rec->cfuncs != NULL)
        clear_ours_all(1);
#endif
    /* No hook of ours is left to need it (INSTRUCTION events went off
     * with the last PyEval_SetTrace above). */
    unprime_opcodes(rec);

    /* Verify: no thread may keep our hook. */
    if (seen_collect(NULL, &seen, &n) < 0)
        return -1;
    for (i = 0; i < n; i++) {
        if (seen[i].func == capture_trace)
            left++;
    }
    seen_free(seen, n);
    if (left > 0 &&
        warn(warnings, "tracetap's hook could not be removed from %zu "
             "thread(s) without also removing the tracer that replaced it "
             "elsewhere (Python 3.13+ can only clear all threads at once); "
             "it records nothing and removes itself at that thread's next "
             "event", left) < 0)
        return -1;
    return 0;
}

/* ------------------------------------------------------ one thread only */

/* --c-calls: the profile function on the calling thread too, unless
 * another tool holds it there (its C calls then go unrecorded). */
static void
hook_profile_here(capture_rec_t *rec)
{
    Py_tracefunc f = PyThreadState_Get()->c_profilefunc;
    if (rec->cfuncs != NULL && (f == NULL || f == capture_profile))
        PyEval_SetProfile(capture_profile, rec->hook);
}

/* This thread's state in the active recording, or NULL. */
static capture_thread_t *
current_thread_state(capture_rec_t *rec)
{
    if (rec == NULL || capture_tls.gen != rec->gen)
        return NULL;
    return capture_tls.thread;
}

PyObject *
capture_detach_thread(PyObject *module, PyObject *unused)
{
    capture_rec_t *rec = capture_rec;
    capture_thread_t *t = current_thread_state(rec);
    if (rec == NULL)
        Py_RETURN_NONE;
    if (rec->backend == CAPTURE_BACKEND_MONITORING) {
        /* No hook to take off: the callbacks skip a detached thread. */
        if (t == NULL && rec->calls)
            t = capture_thread_attach();
        if (t != NULL)
            t->detached = 1;
        Py_RETURN_NONE;
    }
    if (PyThreadState_Get()->c_tracefunc == capture_trace)
        PyEval_SetTrace(NULL, NULL);
    else if (t != NULL && !t->detached && rec->calls)
        t->hook_lost = 1;               /* someone else took it: reported */
    if (PyThreadState_Get()->c_profilefunc == capture_profile)
        PyEval_SetProfile(NULL, NULL);
    if (t != NULL)
        t->detached = 1;
    Py_RETURN_NONE;
}

PyObject *
capture_attach_thread(PyObject *module, PyObject *unused)
{
    capture_rec_t *rec = capture_rec;
    PyThreadState *me = PyThreadState_Get();
    capture_thread_t *t = current_thread_state(rec);
    if (rec == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "tracetap is not recording");
        return NULL;
    }
    if (!rec->calls ||
        (rec->main_only && PyThread_get_thread_ident() != rec->main_ident))
        Py_RETURN_NONE;
    if (rec->backend == CAPTURE_BACKEND_MONITORING) {
        /* sys.monitoring needs no hook on the thread (monitoring.c). */
        if (t != NULL)
            t->detached = 0;
        Py_RETURN_NONE;
    }
    if (me->c_tracefunc != NULL && me->c_tracefunc != capture_trace) {
        PyErr_SetString(PyExc_RuntimeError,
                        "another trace function holds this thread's hook");
        return NULL;
    }
    PyEval_SetTrace(capture_trace, rec->hook);
    hook_profile_here(rec);
    if (t != NULL)
        t->detached = 0;
    Py_RETURN_NONE;
}

/* ------------------------------------------------ sys.settrace wrapper */

/* The interpreter's own sys.settrace, taken at the first wrap and kept for
 * the life of the process (a wrapper the program kept a reference to may
 * be called after its recording). GIL. */
static PyObject *real_settrace;

void
capture_settrace_wrap(capture_rec_t *rec, PyObject *module)
{
    PyObject *sys, *cur = NULL, *wrapper = NULL;
    ttx_exc_state_t saved;

    if (!rec->calls)
        return;
    ttx_exc_save(&saved);
    sys = PyImport_ImportModule("sys");
    if (sys != NULL)
        cur = PyObject_GetAttrString(sys, "settrace");
    if (cur != NULL)
        wrapper = PyObject_GetAttrString(module, "_settrace");
    /* Only over the builtin (a tool that wrapped it first keeps it). */
    if (wrapper != NULL && PyCFunction_Check(cur) &&
        PyCFunction_GetFunction(cur) != PyCFunction_GetFunction(wrapper) &&
        PyObject_SetAttrString(sys, "settrace", wrapper) == 0) {
        if (real_settrace == NULL)
            real_settrace = Py_NewRef(cur);
        rec->settrace_wrapper = Py_NewRef(wrapper);
    }
    Py_XDECREF(wrapper);
    Py_XDECREF(cur);
    Py_XDECREF(sys);
    PyErr_Clear();
    ttx_exc_restore(&saved);
}

void
capture_settrace_unwrap(capture_rec_t *rec)
{
    PyObject *sys, *cur = NULL;
    ttx_exc_state_t saved;

    if (rec->settrace_wrapper == NULL)
        return;
    ttx_exc_save(&saved);
    sys = PyImport_ImportModule("sys");
    if (sys != NULL)
        cur = PyObject_GetAttrString(sys, "settrace");
    if (cur == rec->settrace_wrapper)   /* else the program changed it */
        (void)PyObject_SetAttrString(sys, "settrace", real_settrace);
    Py_XDECREF(cur);
    Py_XDECREF(sys);
    PyErr_Clear();
    ttx_exc_restore(&saved);
    Py_CLEAR(rec->settrace_wrapper);
}


PyObject *
capture_settrace(PyObject *module, PyObject *fn)
{
    capture_rec_t *rec = capture_rec;
    PyThreadState *me = PyThreadState_Get();
    PyObject *r;
    capture_thread_t *t;
    int ours_before = me->c_tracefunc == capture_trace;

    (void)module;
    if (real_settrace == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "sys.settrace was never wrapped");
        return NULL;
    }
    t = rec != NULL && capture_tls.gen == rec->gen ? capture_tls.thread
                                                   : NULL;
    if (t != NULL && fn == rec->hook && !t->detached && !t->ended) {
        /* sys.settrace(saved) with saved = sys.gettrace() (doctest, test
         * helpers) on a thread already recorded (a new thread goes through
         * Hook_call, which names it): the C hook itself, at once,
         * rather than through the Python trampoline, which would miss the
         * returns before the next call. */
        /* A new thread that made objects before threading's start hook
         * ran (--objects) is "already recorded" but not named yet. */
        if (t->name == NULL && !ours_before)
            TTX_OBJ_OWN(capture_thread_note_name(rec, PyThread_get_thread_ident()));
        PyEval_SetTrace(capture_trace, rec->hook);
        if (PyErr_Occurred())
            return NULL;
        if (me->c_tracefunc == capture_trace && !ours_before) {
            if (t->hook_replaced > t->hook_resumed)
                t->hook_resumed++;
            (void)capture_adopt_frames(rec);
        }
        Py_RETURN_NONE;
    }
    r = PyObject_CallOneArg(real_settrace, fn);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    rec = capture_rec;                  /* the call may have run code */
    if (rec == NULL || !rec->calls || fn == rec->hook ||
        (rec->main_only && PyThread_get_thread_ident() != rec->main_ident))
        Py_RETURN_NONE;
    t = capture_tls.gen == rec->gen ? capture_tls.thread : NULL;
    if (t != NULL && (t->detached || t->ended))
        Py_RETURN_NONE;                 /* tracetap took it off itself */
    if (fn != Py_None) {
        if (t != NULL) {                /* who holds it now, for the note */
            PyObject *what = describe_hook(me->c_tracefunc, me->c_traceobj);
            if (what == NULL)
                return NULL;
            t->hook_replaced += ours_before;
            Py_XSETREF(t->replaced_by, what);
        }
        Py_RETURN_NONE;
    }
    /* sys.settrace(None) with our own hook on is the program's wish
     * (reported at stop as a removal); with another tracer's, that tracer
     * is gone and ours goes back on the thread it was recording. */
    if (me->c_tracefunc != NULL || ours_before || t == NULL)
        Py_RETURN_NONE;
    PyEval_SetTrace(capture_trace, rec->hook);
    if (me->c_tracefunc != capture_trace)
        Py_RETURN_NONE;                 /* an audit hook said no */
    t->hook_resumed++;
    (void)capture_adopt_frames(rec);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------ Hook type */

/* See capture_int.h. Reads the `_name` attribute (the `name` property is
 * Python code around it). */
PyObject *
capture_thread_live_name(PyObject *threading, PyObject *key)
{
    PyObject *active, *thread, *name = NULL;

    if (threading == NULL || key == NULL)
        return NULL;
    active = PyObject_GetAttrString(threading, "_active");
    if (active != NULL && PyDict_Check(active)) {
        thread = PyDict_GetItemWithError(active, key);   /* borrowed */
        if (thread != NULL) {
            Py_INCREF(thread);
            name = PyObject_GetAttrString(thread, "_name");
            Py_DECREF(thread);
        }
    }
    Py_XDECREF(active);
    if (name != NULL && !PyUnicode_Check(name))
        Py_CLEAR(name);
    PyErr_Clear();
    return name;
}

/* The calling thread's name from threading._active, kept in its capture
 * state. Attribute reads may run Python code (and switch threads), so only
 * our own references are used across them. Failures are ignored. */
void
capture_thread_note_name(capture_rec_t *rec, unsigned long ident)
{
    PyObject *threading = Py_XNewRef(rec->threading);
    PyObject *key = NULL, *name = NULL;
    capture_thread_t *t;
    ttx_exc_state_t saved;

    if (threading == NULL)
        return;
    ttx_exc_save(&saved);
    key = PyLong_FromUnsignedLong(ident);
    name = capture_thread_live_name(threading, key);
    /* The recording may have ended meanwhile. The UTF-8 form is made (and
     * cached in the str) here, where that may fail: capture_thread_open
     * names the thread's stream with it from the hook. */
    if (name != NULL && capture_rec == rec && PyUnicode_AsUTF8(name) != NULL) {
        t = capture_tls.gen == rec->gen ? capture_tls.thread
                                        : capture_thread_attach();
        if (t != NULL)
            Py_XSETREF(t->name, Py_NewRef(name));
    }
    Py_XDECREF(name);
    Py_XDECREF(key);
    Py_DECREF(threading);
    PyErr_Clear();
    ttx_exc_restore(&saved);
}

/* Called as a Python trace function: by threading's start hook in a new
 * thread, or after sys.settrace(sys.gettrace()) restored us the Python
 * way. Installs the C hook on this thread and records the CALL that
 * brought us here (coverage's CTracer_call pattern). */
static PyObject *
Hook_call(PyObject *self, PyObject *args, PyObject *kw)
{
    PyObject *frame, *event, *arg;
    capture_rec_t *rec = capture_rec;
    unsigned long ident = PyThread_get_thread_ident();

    if (!PyArg_UnpackTuple(args, "hook", 3, 3, &frame, &event, &arg))
        return NULL;
    if (rec == NULL || rec->hook != self || !rec->calls ||
        (rec->main_only && ident != rec->main_ident)) {
        /* A stale hook from an ended recording: leave no trace. */
        PyEval_SetTrace(NULL, NULL);
        Py_RETURN_NONE;
    }
    /* --objects: what this call makes is tracetap's, not the program's */
    capture_objects_own(args);
    TTX_OBJ_OWN(capture_thread_note_name(rec, ident));
    PyEval_SetTrace(capture_trace, self);
    hook_profile_here(rec);
    if (PyThreadState_Get()->c_tracefunc == capture_trace &&
        PyFrame_Check(frame) && PyUnicode_Check(event) &&
        PyUnicode_CompareWithASCIIString(event, "call") == 0)
        capture_trace(self, (PyFrameObject *)frame, PyTrace_CALL, Py_None);
    Py_RETURN_NONE;
}

static PyObject *
Hook_repr(PyObject *self)
{
    capture_rec_t *rec = capture_rec;
    int active = rec != NULL && rec->hook == self;
    return PyUnicode_FromFormat("<tracetap hook (%s)>",
                                active ? "recording" : "inactive");
}

static void
Hook_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

PyObject *
capture_hook_new(PyTypeObject *type)
{
    HookObject *h = PyObject_New(HookObject, type);
    if (h == NULL)
        return NULL;
    return (PyObject *)h;
}

static PyType_Slot hook_slots[] = {
    {Py_tp_call, (void *)Hook_call},
    {Py_tp_repr, (void *)Hook_repr},
    {Py_tp_dealloc, (void *)Hook_dealloc},
    {Py_tp_doc, (void *)"tracetap's trace hook: installed as the C trace "
                        "function's object; calling it (as threading's start "
                        "hook does) installs the hook on the calling thread."},
    {0, NULL},
};

PyType_Spec capture_hook_spec = {
    .name = "tracetap._tracetap.Hook",
    .basicsize = sizeof(HookObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = hook_slots,
};
