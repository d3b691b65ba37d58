/* floor.c - tracetap._floor: the overhead floor for bench/run.py.
 *
 * Owns: an empty C trace function and an empty PyRefTracer, installed on
 * request, and empty sys.monitoring callbacks, so that a benchmark measures
 * what CPython itself charges to deliver the events (DESIGN.md section 7).
 * Must not: record anything, create objects per event, or raise from a
 * hook. Everything runs with the GIL held; the few globals below are read
 * and written only under it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>

#if PY_VERSION_HEX >= 0x030C0000
#  define FLOOR_TRACE_ALL 1   /* PyEval_SetTraceAllThreads exists */
#else
#  define FLOOR_TRACE_ALL 0   /* 3.11: walk the thread states, _PyEval_SetTrace */
#endif
#if PY_VERSION_HEX >= 0x030D0000
#  define FLOOR_HAS_REFTRACER 1
#else
#  define FLOOR_HAS_REFTRACER 0
#endif

/* All under the GIL.
 * floor_opcodes: the trace function turns on opcode events in every frame
 *   it sees, which is the floor of `tracetap run --opcodes`.
 * floor_installer: owned; the threading.settrace() hook for later threads,
 *   also the object set as frame.f_trace on 3.13+ (where opcode events need
 *   f_trace set). C-level tracing never calls f_trace.
 * str_*: owned interned attribute names. */
static int floor_opcodes = 0;
static PyObject *floor_installer = NULL;
static PyObject *str_f_trace = NULL;
static PyObject *str_f_trace_opcodes = NULL;

/* An exception in flight, saved and put back (PyErr_Fetch is deprecated
 * from 3.12 on). floor_exc_restore steals the saved references. */
typedef struct {
    PyObject *type, *value, *tb;
} floor_exc_t;

static void
floor_exc_save(floor_exc_t *e)
{
#if PY_VERSION_HEX >= 0x030C0000
    e->value = PyErr_GetRaisedException();
    e->type = e->tb = NULL;
#else
    PyErr_Fetch(&e->type, &e->value, &e->tb);
#endif
}

static void
floor_exc_restore(floor_exc_t *e)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(e->value);
#else
    PyErr_Restore(e->type, e->value, e->tb);
#endif
}

/* Turn on opcode events for `frame`. Never raises: an exception already in
 * flight is kept, and a failure leaves that frame without opcode events. */
static void
floor_enable_opcodes(PyFrameObject *frame)
{
    floor_exc_t saved;
    floor_exc_save(&saved);
#if PY_VERSION_HEX >= 0x030D0000
    /* 3.13+: the f_trace_opcodes setter acts at once only if f_trace is set */
    if (PyObject_SetAttr((PyObject *)frame, str_f_trace, floor_installer) < 0)
        PyErr_Clear();
#endif
    if (PyObject_SetAttr((PyObject *)frame, str_f_trace_opcodes, Py_True) < 0)
        PyErr_Clear();
    floor_exc_restore(&saved);
}

/* The floor: returns 0 at once (with opcodes on, a CALL also flags the
 * frame). */
static int
floor_trace(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    (void)obj;
    (void)arg;
    if (floor_opcodes && what == PyTrace_CALL)
        floor_enable_opcodes(frame);
    return 0;
}

/* Installs `func` on every existing thread of this interpreter. Returns 0,
 * or -1 with an exception set (3.11: an audit hook refused). */
static int
floor_set_all(Py_tracefunc func)
{
#if FLOOR_TRACE_ALL
    PyEval_SetTraceAllThreads(func, NULL);
    if (PyErr_Occurred())
        return -1;
    return 0;
#else
    PyInterpreterState *interp = PyThreadState_GetInterpreter(PyThreadState_Get());
    PyThreadState *ts;
    for (ts = PyInterpreterState_ThreadHead(interp); ts != NULL;
         ts = PyThreadState_Next(ts)) {
        if (_PyEval_SetTrace(ts, func, NULL) < 0)
            return -1;
    }
    return 0;
#endif
}

/* threading.settrace(installer): called as a Python trace function by a new
 * thread's first call event. It puts the C function in place of itself and
 * hands that first event to it, then returns None. */
static PyObject *
floor_thread_installer(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    PyEval_SetTrace(floor_trace, NULL);
    if (PyErr_Occurred())
        return NULL;
    if (nargs >= 1 && PyFrame_Check(args[0]))
        (void)floor_trace(NULL, (PyFrameObject *)args[0], PyTrace_CALL, Py_None);
    Py_RETURN_NONE;
}

/* threading.settrace(hook); returns 0 or -1 with an exception set. */
static int
floor_threading_settrace(PyObject *hook)
{
    PyObject *threading = PyImport_ImportModule("threading");
    PyObject *r = NULL;
    if (threading == NULL)
        goto error;
    r = PyObject_CallMethod(threading, "settrace", "O", hook);
    if (r == NULL)
        goto error;
    Py_DECREF(r);
    Py_DECREF(threading);
    return 0;
error:
    Py_XDECREF(threading);
    return -1;
}

PyDoc_STRVAR(set_trace_doc,
"set_trace(opcodes=False)\n--\n\n"
"Install the empty C trace function on every thread, including threads\n"
"started later (through threading.settrace). With opcodes=True it also\n"
"turns on opcode events in every frame. On failure nothing stays installed.");

static PyObject *
floor_set_trace(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"opcodes", NULL};
    int opcodes = 0;
    (void)module;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|p:set_trace", kwlist, &opcodes))
        return NULL;
    floor_opcodes = opcodes;
#if PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030D0000
    if (opcodes) {
        /* 3.12: the setter only marks the interpreter; the PyEval_SetTrace
         * calls below then switch INSTRUCTION events on everywhere. */
        PyFrameObject *f = PyEval_GetFrame();
        if (f != NULL) {
            if (PyObject_SetAttr((PyObject *)f, str_f_trace_opcodes, Py_True) < 0 ||
                PyObject_SetAttr((PyObject *)f, str_f_trace_opcodes, Py_False) < 0)
                goto error;
        }
    }
#endif
    if (floor_threading_settrace(floor_installer) < 0)
        goto error;
    if (floor_set_all(floor_trace) < 0)
        goto error;
    PyEval_SetTrace(floor_trace, NULL);
    if (PyErr_Occurred())
        goto error;
    Py_RETURN_NONE;
error:
    floor_opcodes = 0;
    {
        floor_exc_t saved;
        floor_exc_save(&saved);
        (void)floor_set_all(NULL);
        PyErr_Clear();
        PyEval_SetTrace(NULL, NULL);
        PyErr_Clear();
        (void)floor_threading_settrace(Py_None);
        PyErr_Clear();
        floor_exc_restore(&saved);
    }
    return NULL;
}

PyDoc_STRVAR(clear_trace_doc,
"clear_trace()\n--\n\n"
"Remove the trace function from every thread and the threading hook.");

static PyObject *
floor_clear_trace(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
    floor_opcodes = 0;
    if (floor_threading_settrace(Py_None) < 0)
        return NULL;
    if (floor_set_all(NULL) < 0)
        return NULL;
    PyEval_SetTrace(NULL, NULL);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(trace_installed_doc,
"trace_installed()\n--\n\n"
"True if this thread's C trace function is the floor's.");

static PyObject *
floor_trace_installed(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
    return PyBool_FromLong(PyThreadState_Get()->c_tracefunc == floor_trace);
}

#if FLOOR_HAS_REFTRACER
/* The empty reference tracer: no objects, no exceptions, no locks. */
static int
floor_reftrace(PyObject *op, PyRefTracerEvent event, void *data)
{
    (void)op;
    (void)event;
    (void)data;
    return 0;
}
#endif

PyDoc_STRVAR(set_reftracer_doc,
"set_reftracer()\n--\n\n"
"Install the empty PyRefTracer (CPython 3.13+; RuntimeError before).");

static PyObject *
floor_set_reftracer(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
#if FLOOR_HAS_REFTRACER
    if (PyRefTracer_SetTracer(floor_reftrace, NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
#else
    PyErr_SetString(PyExc_RuntimeError,
                    "PyRefTracer needs CPython 3.13 or newer");
    return NULL;
#endif
}

PyDoc_STRVAR(clear_reftracer_doc,
"clear_reftracer()\n--\n\n"
"Remove the empty PyRefTracer if it is still the installed one. Returns\n"
"True if it was, False if another tracer (tracemalloc) replaced it.");

static PyObject *
floor_clear_reftracer(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
#if FLOOR_HAS_REFTRACER
    void *data = NULL;
    if (PyRefTracer_GetTracer(&data) != floor_reftrace)
        Py_RETURN_FALSE;
    if (PyRefTracer_SetTracer(NULL, NULL) < 0)
        return NULL;
    Py_RETURN_TRUE;
#else
    PyErr_SetString(PyExc_RuntimeError,
                    "PyRefTracer needs CPython 3.13 or newer");
    return NULL;
#endif
}

/* The floor of a sys.monitoring backend (3.12+): one empty C callback for
 * every event legacy tracing subscribes to (bench/run.py registers it). */
static PyObject *
floor_monitoring_callback(PyObject *module, PyObject *const *args,
                          Py_ssize_t nargs)
{
    (void)module;
    (void)args;
    (void)nargs;
    Py_RETURN_NONE;
}

/* sys.monitoring.DISABLE (owned), for the JUMP callback. */
static PyObject *floor_disable = NULL;

/* JUMP (code, from, to): legacy tracing wants only backward jumps (they
 * repeat a line); a forward one is switched off where it is, as legacy
 * tracing's own handler does. */
static PyObject *
floor_monitoring_jump(PyObject *module, PyObject *const *args,
                      Py_ssize_t nargs)
{
    (void)module;
    if (nargs == 3 && floor_disable != NULL) {
        long from = PyLong_AsLong(args[1]), to = PyLong_AsLong(args[2]);
        if (PyErr_Occurred())
            return NULL;
        if (to > from)
            return Py_NewRef(floor_disable);
    }
    Py_RETURN_NONE;
}

static PyMethodDef floor_methods[] = {
    {"set_trace", (PyCFunction)(void (*)(void))floor_set_trace,
     METH_VARARGS | METH_KEYWORDS, set_trace_doc},
    {"clear_trace", floor_clear_trace, METH_NOARGS, clear_trace_doc},
    {"trace_installed", floor_trace_installed, METH_NOARGS, trace_installed_doc},
    {"set_reftracer", floor_set_reftracer, METH_NOARGS, set_reftracer_doc},
    {"clear_reftracer", floor_clear_reftracer, METH_NOARGS, clear_reftracer_doc},
    {"monitoring_callback",
     (PyCFunction)(void (*)(void))floor_monitoring_callback, METH_FASTCALL,
     "An empty sys.monitoring callback: returns None for any event."},
    {"monitoring_jump",
     (PyCFunction)(void (*)(void))floor_monitoring_jump, METH_FASTCALL,
     "The sys.monitoring JUMP callback: DISABLE for a forward jump."},
    {"_thread_installer", (PyCFunction)(void (*)(void))floor_thread_installer,
     METH_FASTCALL, "threading.settrace() hook used by set_trace()."},
    {NULL, NULL, 0, NULL}
};

/* Module exec: interned names and the installer object. Returns 0, or -1
 * with an exception set (the globals it managed to make are kept for the
 * process's life either way; a second import reuses them). */
static int
floor_exec(PyObject *module)
{
    if (str_f_trace == NULL &&
        (str_f_trace = PyUnicode_InternFromString("f_trace")) == NULL)
        return -1;
    if (str_f_trace_opcodes == NULL &&
        (str_f_trace_opcodes = PyUnicode_InternFromString("f_trace_opcodes")) == NULL)
        return -1;
    if (floor_installer == NULL &&
        (floor_installer = PyObject_GetAttrString(module, "_thread_installer")) == NULL)
        return -1;
    if (PyModule_AddIntConstant(module, "HAS_REFTRACER", FLOOR_HAS_REFTRACER) < 0)
        return -1;
#if PY_VERSION_HEX >= 0x030C0000
    if (floor_disable == NULL) {
        PyObject *mon = PySys_GetObject("monitoring");     /* borrowed */
        if (mon != NULL &&
            (floor_disable = PyObject_GetAttrString(mon, "DISABLE")) == NULL)
            return -1;
    }
#endif
    return 0;
}

static PyModuleDef_Slot floor_slots[] = {
    {Py_mod_exec, floor_exec},
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#endif
    {0, NULL}
};

static struct PyModuleDef floor_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tracetap._floor",
    .m_doc = "The overhead floor for benchmarks: an empty C trace function "
             "and an empty reference tracer.",
    .m_size = 0,
    .m_methods = floor_methods,
    .m_slots = floor_slots,
};

PyMODINIT_FUNC PyInit__floor(void);

PyMODINIT_FUNC
PyInit__floor(void)
{
    return PyModuleDef_Init(&floor_module);
}
