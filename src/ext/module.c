/* module.c - the tracetap._tracetap module definition, and nothing else.
 *
 * Owns: the method table, the module state's types and TraceError, and
 * multi-phase initialisation. Must not: hold recording logic (capture/),
 * object tracking (objects/), reading logic (bindings/) or the error
 * conversion (core.c). GIL: held; one instance per process (recording is
 * process-wide, so sub-interpreters are refused).
 */
#include "capture.h"
#include "objects.h"
#include "bindings.h"

#include <errno.h>
#include <string.h>

static PyObject *
noop_trace(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_RETURN_NONE;
}

/* crc32c(data) -> int: the CRC-32C of a bytes-like object, the hash of a
 * recording's source identities (Reader.sources()). */
static PyObject *
crc32c(PyObject *module, PyObject *arg)
{
    Py_buffer view;
    uint32_t crc;

    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    crc = tt_crc32c(0, view.buf, (size_t)view.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(crc);
}

static PyObject *
kind_names(PyObject *module, PyObject *unused)
{
    PyObject *t = PyTuple_New(TT_EV__COUNT);
    int k;
    if (t == NULL)
        return NULL;
    for (k = 0; k < TT_EV__COUNT; k++) {
        PyObject *s = PyUnicode_FromString(k == 0 ? "" : tt_event_kind_name(k));
        if (s == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, k, s);
    }
    return t;
}

static PyMethodDef module_methods[] = {
    {"start", (PyCFunction)(void (*)(void))capture_start,
     METH_VARARGS | METH_KEYWORDS,
     "start(path, *, calls, lines, opcodes, main_only, include, exclude, "
     "stdlib_dirs, own_dirs, stdlib, argv, options_text, opnames, "
     "thread_names, python_version, python_build)\n\n"
     "Creates the recording and installs the trace hook. Use "
     "tracetap.record() rather than this."},
    {"stop", (PyCFunction)(void (*)(void))capture_stop,
     METH_VARARGS | METH_KEYWORDS,
     "stop(thread_names=None) -> dict\n\nRemoves the hook everywhere, "
     "finishes the file and returns a summary with warnings."},
    {"context", capture_context, METH_O,
     "context(name) -> bool: marks the start of a named context (a test's\n"
     "setup, call or teardown) in the active recording. False when nothing\n"
     "is being recorded."},
    {"contexts", capture_contexts, METH_O,
     "contexts(reader) -> [(name, tick, ident)]: the recording's context\n"
     "marks in order; index 0 is the implicit (\"\", 0, 0) before the first."},
    {"line_contexts", capture_line_contexts, METH_O,
     "line_contexts(reader) -> [(filename, line, context index)]: which\n"
     "contexts ran each line (LINE events by tick, --count tables by file\n"
     "order)."},
    {"context_spans", capture_context_spans, METH_VARARGS,
     "context_spans(reader, name, prefix=False) -> [(lo, hi)]: the tick\n"
     "spans of the contexts named name (or starting with it)."},
    {"is_recording", capture_is_recording, METH_NOARGS,
     "is_recording() -> bool"},
    {"detach_thread", capture_detach_thread, METH_NOARGS,
     "detach_thread(): stop tracing the calling thread; the recording goes "
     "on in the others."},
    {"attach_thread", capture_attach_thread, METH_NOARGS,
     "attach_thread(): trace the calling thread again (frames already "
     "running stay untraced)."},
    {"_settrace", capture_settrace, METH_O,
     "_settrace(function): sys.settrace(function) while tracetap records; "
     "when the function is None, tracetap's hook goes back on the calling "
     "thread (the tracer that replaced it is gone)."},
    {"_notes", capture_add_notes, METH_O,
     "_notes([(key, value)]): NOTE records in the running recording, "
     "flushed (a followed run's process notes)."},
    {"_arm_sigterm", capture_arm_sigterm, METH_NOARGS,
     PyDoc_STR("_arm_sigterm()\n--\n\nSIGTERM ends this process's "
               "recording as a crash signal does (emergency flush), then "
               "kills it (a followed child).")},
    {"_after_fork_child", capture_after_fork_child, METH_NOARGS,
     "Abandons the recording in a forked child."},
    {"_noop_trace", (PyCFunction)(void (*)(void))noop_trace, METH_FASTCALL,
     "A local trace function that does nothing (frame.f_trace for opcode "
     "capture on 3.13+)."},
    {"_code_lines", capture_debug_code_lines, METH_O,
     "_code_lines(code) -> list of (start, end, line): the extension's own "
     "reading of co_linetable, to check against co_lines()."},
    {"clock_info", capture_clock_info, METH_NOARGS,
     "clock_info() -> dict: the clock recordings use, its rate, and the "
     "cost of one reading in ns."},
    {"destroy_gaps", capture_objects_selftest, METH_NOARGS,
     "destroy_gaps() -> dict: runs --objects' start-up self-test for the "
     "interpreter's missing DESTROY events (needs 3.13+ and a free "
     "reference tracer)."},
    {"set_progress", capture_set_progress, METH_O,
     "set_progress(fn or None) -> the previous one: fn(path, done, total) "
     "is called every 65,536 events of a long read (objects, coverage); "
     "an exception it raises stops the read."},
    {"objects", capture_objects_report, METH_O,
     "objects(path) -> dict: the object-lifetime analysis of a recording "
     "(types, sites, survivors, notes); see tracetap.Trace.objects()."},
    {"allocs", capture_allocs_report, METH_O,
     "allocs(path) -> dict or None: the bytes per creation stack of an "
     "--objects --bytes recording (totals, sites, samples)."},
    {"calls", capture_calls_report, METH_O,
     "calls(path) -> dict: the call analysis of a recording (functions, "
     "callers/callees, call tree, per-thread totals); see "
     "tracetap.Trace.calls()."},
    {"crc32c", crc32c, METH_O,
     "crc32c(data) -> int: the CRC-32C of bytes (the hash of "
     "Reader.sources())."},
    {"lines", capture_lines_report, METH_O,
     "lines(reader) -> dict: per-line time of a recording (summary, threads, "
     "rows of (code, line, thread, hits, time_ns, own_ns)); see "
     "tracetap.Trace.lines()."},
    {"timeline", (PyCFunction)(void (*)(void))capture_timeline,
     METH_VARARGS | METH_KEYWORDS,
     "timeline(reader, fd, format, *, lines=False, top_types=8, "
     "process_name=None) -> dict: writes the recording as a 'perfetto' "
     "protobuf trace or 'chrome' JSON to the descriptor fd (not closed); "
     "returns counts (slices, instants, ...)."},
    {"flamegraph", (PyCFunction)(void (*)(void))capture_flamegraph,
     METH_VARARGS | METH_KEYWORDS,
     "flamegraph(reader, path, *, weight=0, icicle=False, thread=-1, "
     "min_share=0.0, width=0, title=None, max_frames=0) -> dict: writes the call tree as "
     "an interactive SVG (weight 0 time, 1 calls, 2 objects; thread -1 all "
     "threads); see tracetap.export_flamegraph()."},
    {"kind_names", kind_names, METH_NOARGS,
     "kind_names() -> tuple: event kind number -> name."},
    {NULL, NULL, 0, NULL},
};

/* The header's option bits (tt.h TT_OPT_*) by the names `tracetap info`
 * shows them under: the one copy, which _trace.py exports as
 * OPTION_NAMES. */
static const struct {
    unsigned bit;
    const char *name;
} option_names[] = {
    {TT_OPT_CALLS, "calls"},
    {TT_OPT_LINES, "lines"},
    {TT_OPT_OPCODES, "opcodes"},
    {TT_OPT_OBJECTS, "objects"},
    {TT_OPT_COUNT, "count"},
    {TT_OPT_STDLIB, "stdlib"},
    {TT_OPT_MAIN_THREAD_ONLY, "main thread only"},
    {TT_OPT_C_CALLS, "c calls"},
    {TT_OPT_MARKS, "yield marks"},
};

/* The format's constants the Python side needs, from tt.h rather than
 * copied: OPTION_NAMES (bit -> name), NO_CODE (TT_NO_CODE: an object made
 * with no Python frame), CODE_CFUNCTION (TT_CODE_CFUNCTION). 0, or -1 +
 * exception. */
static int
add_format_constants(PyObject *module)
{
    PyObject *names = PyDict_New(), *no_code = NULL;
    size_t i;
    int rc = -1;

    if (names == NULL)
        goto error;
    for (i = 0; i < sizeof(option_names) / sizeof(option_names[0]); i++) {
        PyObject *k = PyLong_FromUnsignedLong(option_names[i].bit);
        PyObject *v = PyUnicode_FromString(option_names[i].name);
        int set = k && v ? PyDict_SetItem(names, k, v) : -1;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (set < 0)
            goto error;
    }
    no_code = PyLong_FromUnsignedLong(TT_NO_CODE);
    if (no_code == NULL ||
        PyModule_AddObjectRef(module, "OPTION_NAMES", names) < 0 ||
        PyModule_AddObjectRef(module, "NO_CODE", no_code) < 0 ||
        PyModule_AddIntConstant(module, "CODE_CFUNCTION",
                                TT_CODE_CFUNCTION) < 0)
        goto error;
    rc = 0;
error:
    Py_XDECREF(names);
    Py_XDECREF(no_code);
    return rc;
}

static int
module_exec(PyObject *module)
{
    capture_state_t *st = capture_get_state(module);

    st->hook_type = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &capture_hook_spec, NULL);
    if (st->hook_type == NULL)
        return -1;
    st->reader_type = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &capture_reader_spec, NULL);
    if (st->reader_type == NULL)
        return -1;
    st->eventiter_type = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &capture_eventiter_spec, NULL);
    if (st->eventiter_type == NULL)
        return -1;
    st->trace_error = PyErr_NewExceptionWithDoc(
        "tracetap._tracetap.TraceError",
        "A recording cannot be written or read (bad magic, unsupported "
        "version, corrupt data). The `code` attribute holds the TT_E* code.",
        PyExc_ValueError, NULL);
    if (st->trace_error == NULL)
        return -1;
    if (PyModule_AddType(module, st->hook_type) < 0 ||
        PyModule_AddType(module, st->reader_type) < 0 ||
        PyModule_AddObjectRef(module, "TraceError", st->trace_error) < 0)
        return -1;
    if (PyModule_AddIntConstant(module, "FREE_THREADED", TTX_FREE_THREADED) < 0)
        return -1;
    if (add_format_constants(module) < 0)
        return -1;
    if (PyModule_AddFunctions(module, capture_coverage_methods) < 0)
        return -1;
    return 0;
}

static int
module_traverse(PyObject *module, visitproc visit, void *arg)
{
    capture_state_t *st = capture_get_state(module);
    Py_VISIT(st->hook_type);
    Py_VISIT(st->reader_type);
    Py_VISIT(st->eventiter_type);
    Py_VISIT(st->trace_error);
    return 0;
}

static int
module_clear(PyObject *module)
{
    capture_state_t *st = capture_get_state(module);
    Py_CLEAR(st->hook_type);
    Py_CLEAR(st->reader_type);
    Py_CLEAR(st->eventiter_type);
    Py_CLEAR(st->trace_error);
    return 0;
}

static void
module_free(void *module)
{
    (void)module_clear((PyObject *)module);
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, (void *)module_exec},
    TTX_SLOT_SUBINTERP
    TTX_SLOT_GIL
    {0, NULL},
};

static PyModuleDef capture_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tracetap._tracetap",
    .m_doc = "tracetap's C core: the trace hook that records a CPython "
             "program into a .ttrace file, and the reader of those files.",
    .m_size = sizeof(capture_state_t),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__tracetap(void);

PyMODINIT_FUNC
PyInit__tracetap(void)
{
    capture_core_init(&capture_module_def);
    return PyModuleDef_Init(&capture_module_def);
}
