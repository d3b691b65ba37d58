/* session.c - starting and stopping a recording: _tracetap.start/stop.
 *
 * Owns: the lifetime of capture_rec (one recording per process), the file
 * header and its first and last clock sync points, the fork guard, when
 * the flusher thread and the crash handlers come and go, and the summary
 * and warnings handed back at stop (problems the hooks counted become
 * notes in the file and sentences for the user). Must not: be called from
 * the trace hook.
 * GIL: held; start and stop may run on any thread.
 */
#include "capture_int.h"
#include "objects_api.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --------------------------------------------------------------- helpers */

static void
rec_free(capture_rec_t *rec)
{
    if (rec == NULL)
        return;
    capture_monitoring_end(rec, NULL);  /* a failed start: no-op if none */
    capture_threads_free(rec);
    for (uint32_t i = 0; i < rec->n_start_names; i++)
        PyMem_RawFree(rec->start_names[i].name);
    PyMem_RawFree(rec->start_names);
    PyMem_RawFree(rec->dirty);            /* entries: the code table's */
    capture_codetab_free(&rec->codes);
    capture_cfuncs_free(rec);
    capture_names_free(&rec->names);
    capture_filter_free(&rec->filter);
    Py_CLEAR(rec->hook);
    Py_CLEAR(rec->thread_names);
    Py_CLEAR(rec->threading);
    Py_CLEAR(rec->settrace_wrapper);
    Py_CLEAR(rec->noop);
    Py_CLEAR(rec->s_f_trace);
    Py_CLEAR(rec->s_f_trace_opcodes);
    Py_CLEAR(rec->s_module);
    PyMem_RawFree(rec);
}

/* A vector of borrowed UTF-8 pointers into a list of str, or of bytes
 * used as they are (os.fsencode'd arguments), kept alive by the caller. NULL + exception on failure; *n gets the length. */
static const char **
utf8_vector(PyObject *seq, uint32_t *n)
{
    PyObject *fast;
    const char **v;
    Py_ssize_t i, len;

    *n = 0;
    if (seq == NULL || seq == Py_None)
        return PyMem_RawCalloc(1, sizeof(char *));
    fast = PySequence_Fast(seq, "expected a sequence of str");
    if (fast == NULL)
        return NULL;
    len = PySequence_Fast_GET_SIZE(fast);
    v = PyMem_RawCalloc(len ? (size_t)len : 1, sizeof(char *));
    if (v == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return NULL;
    }
    for (i = 0; i < len; i++) {
        PyObject *s = PySequence_Fast_GET_ITEM(fast, i);
        if (s == Py_None)
            continue;
        if (PyBytes_Check(s)) {         /* os.fsencode'd: kept by the list */
            v[i] = PyBytes_AS_STRING(s);
            continue;
        }
        if (!PyUnicode_Check(s)) {
            PyErr_SetString(PyExc_TypeError, "expected a sequence of str");
            goto error;
        }
        /* The UTF-8 cache lives in the str, which the list keeps alive. */
        v[i] = PyUnicode_AsUTF8(s);
        if (v[i] == NULL)
            goto error;
    }
    Py_DECREF(fast);
    *n = (uint32_t)len;
    return v;
error:
    PyMem_RawFree(v);
    Py_DECREF(fast);
    return NULL;
}

static const char *
utf8_or(PyObject *s, const char *dflt)
{
    const char *u;
    if (s == NULL || s == Py_None)
        return dflt;
    u = PyUnicode_AsUTF8(s);
    if (u == NULL)
        PyErr_Clear();
    return u ? u : dflt;
}

/* Copies {ident: name} (threads alive at start) into rec->start_names,
 * so that a thread's stream is named from the hook without touching
 * Python (threads.c). Entries that are not int: str are skipped. 0, or -1
 * + exc. */
static int
copy_start_names(capture_rec_t *rec, PyObject *names)
{
    Py_ssize_t pos = 0, n;
    PyObject *k, *v;

    if (names == Py_None || !PyDict_Check(names))
        return 0;
    n = PyDict_Size(names);
    rec->start_names = PyMem_RawCalloc(n ? (size_t)n : 1,
                                       sizeof(*rec->start_names));
    if (rec->start_names == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    while (PyDict_Next(names, &pos, &k, &v)) {
        capture_start_name_t *e = &rec->start_names[rec->n_start_names];
        Py_ssize_t len;
        const char *u;
        if (!PyLong_Check(k) || !PyUnicode_Check(v))
            continue;
        e->ident = PyLong_AsUnsignedLongLong(k);
        u = PyUnicode_AsUTF8AndSize(v, &len);
        if (u == NULL || PyErr_Occurred())
            return -1;
        e->name = PyMem_RawMalloc((size_t)len + 1);
        if (e->name == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(e->name, u, (size_t)len + 1);
        rec->n_start_names++;
    }
    return 0;
}

/* The flush interval in ns from seconds: 0 (off), or 0.01 to 3600 s.
 * 0, or -1 + ValueError. */
static int
flush_interval_ns(double seconds, uint64_t *ns)
{
    if (!(seconds == 0.0 || (seconds >= 0.01 && seconds <= 3600.0))) {
        char msg[160];
        snprintf(msg, sizeof msg, "flush_interval must be 0 (write only "
                 "full buffers, and at stop) or between 0.01 and 3600 "
                 "seconds, not %g", seconds);
        PyErr_SetString(PyExc_ValueError, msg);
        return -1;
    }
    *ns = (uint64_t)(seconds * 1e9 + 0.5);
    return 0;
}

/* 0, or -1 + RuntimeError. */
static int
start_flusher(capture_rec_t *rec)
{
    if (capture_flusher_start(rec) == 0)
        return 0;
    PyErr_SetString(PyExc_RuntimeError, "tracetap could not start its "
                    "flusher thread (flush_interval=0 records without it)");
    return -1;
}

/* Writes the (key, value) str pairs of `notes` (None: none) as NOTE
 * records and flushes them, so that they are in the file before any event
 * (a child process's identity survives its being killed at once). 0, or
 * -1 + exception (TypeError for a malformed list; the file is closed by
 * the caller). */
static int
write_notes(PyObject *module, capture_rec_t *rec, PyObject *notes)
{
    PyObject *fast;
    Py_ssize_t i, n;
    int rc = 0;

    if (notes == Py_None)
        return 0;
    fast = PySequence_Fast(notes, "notes: expected a sequence of (str, str)");
    if (fast == NULL)
        return -1;
    n = PySequence_Fast_GET_SIZE(fast);
    for (i = 0; i < n && rc == 0; i++) {
        const char *k, *v;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, i), "ss;notes: "
                              "expected (str, str) pairs", &k, &v))
            goto error;
        rc = tt_writer_note(rec->w, k, v);
    }
    if (rc == 0 && n > 0)
        rc = tt_writer_flush(rec->w);
    if (rc < 0) {
        capture_raise_tt(module, rc, "cannot write the recording's notes");
        goto error;
    }
    Py_DECREF(fast);
    return 0;
error:
    Py_DECREF(fast);
    return -1;
}

/* Puts the recording's event source in place: the trace hook (legacy),
 * or the monitoring mode's callbacks and events. The tool id is taken
 * already. 0, or -1 + exception with nothing installed. */
static int
install_backend(capture_rec_t *rec)
{
    if (rec->backend == CAPTURE_BACKEND_LEGACY)
        return capture_install(rec);
    if (!rec->calls)
        return 0;               /* --no-calls (--objects): no event */
    if (rec->coverage)
        return capture_moncoverage_install(rec);
    if (!rec->lines && !rec->count && !rec->opcodes)
        return capture_moncalls_install(rec);   /* calls only */
    PyErr_SetString(PyExc_RuntimeError, "this recording mode is not "
                    "available on the sys.monitoring backend; use "
                    "--backend legacy");
    return -1;
}

/* The header notes of the monitoring backend: which backend and tool id
 * recorded the file (`tracetap info`). Failures are counted. */
static void
note_backend(capture_rec_t *rec)
{
    char id[16];
    if (rec->backend != CAPTURE_BACKEND_MONITORING)
        return;
    snprintf(id, sizeof id, "%d", capture_monitoring_tool(rec));
    if (tt_writer_note(rec->w, "backend", "monitoring") < 0 ||
        tt_writer_note(rec->w, "monitoring_tool", id) < 0 ||
        (rec->coverage && tt_writer_note(rec->w, "counts", "hits only") < 0))
        rec->problems.writer_errors++;
}

/* ------------------------------------------------------------------ start */

PyObject *
capture_start(PyObject *module, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {
        "path", "calls", "lines", "opcodes", "main_only", "include",
        "exclude", "stdlib_dirs", "own_dirs", "stdlib", "argv",
        "options_text", "opnames", "thread_names", "python_version",
        "python_build", "count", "objects", "flush_interval", "c_calls",
        "third_party_dirs", "arcs", "notes", "alloc_depth", "backend", "coverage", NULL};
    capture_state_t *st = capture_get_state(module);
    PyObject *path = NULL, *include = Py_None, *exclude = Py_None;
    PyObject *stdlib_dirs = Py_None, *own_dirs = Py_None, *argv = Py_None;
    PyObject *options_text = Py_None, *opnames = Py_None;
    PyObject *thread_names = Py_None, *pyver = Py_None, *pybuild = Py_None;
    PyObject *third_dirs = Py_None;     /* None/[]: installed code traced */
    PyObject *notes = Py_None;          /* [(key, value)]: written first */
    int calls = 1, lines = 1, opcodes = 0, main_only = 0, stdlib = 0;
    int objects = 0;                    /* 1 event log, 2 aggregates */
    int count = 0, c_calls = 0, arcs = 0;
    int alloc_depth = 0;                /* --bytes: stack depth, 0 off */
    int backend = CAPTURE_BACKEND_LEGACY;
    int coverage = 0;                   /* --coverage: hits only */
    double flush_interval = 1.0;
    capture_rec_t *rec = NULL;
    const char **argv_v = NULL, **ops_v = NULL;
    tt_header_t hdr;
    struct timespec now;
    capture_clock_pair_t start;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|$ppppOOOOpOOOOOOpidpOpOiip",
                                     kwlist, PyUnicode_FSConverter, &path,
                                     &calls, &lines, &opcodes, &main_only,
                                     &include, &exclude, &stdlib_dirs,
                                     &own_dirs, &stdlib, &argv, &options_text,
                                     &opnames, &thread_names, &pyver,
                                     &pybuild, &count, &objects,
                                     &flush_interval, &c_calls, &third_dirs,
                                     &arcs, &notes, &alloc_depth, &backend,
                                     &coverage))
        return NULL;
    if (alloc_depth && objects != 1) {
        PyErr_SetString(PyExc_ValueError,
                        "bytes (--bytes) needs objects (--objects) and an "
                        "event log (not --count)");
        goto error;
    }
    if (TTX_FREE_THREADED) {
        PyErr_SetString(PyExc_RuntimeError,
                        "tracetap cannot record on a free-threaded Python "
                        "build (Py_GIL_DISABLED) yet; use a regular build");
        goto error;
    }
    if (capture_rec != NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "a tracetap recording is already running in this "
                        "process; stop it first");
        goto error;
    }
    if (backend != CAPTURE_BACKEND_LEGACY &&
        backend != CAPTURE_BACKEND_MONITORING) {
        PyErr_Format(PyExc_ValueError, "backend must be 0 (legacy) or 1 "
                     "(monitoring), not %d", backend);
        goto error;
    }
    rec = PyMem_RawCalloc(1, sizeof(*rec));
    if (rec == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    rec->backend = backend;
    if (coverage && (backend != CAPTURE_BACKEND_MONITORING || !calls ||
                     !count || objects || opcodes || c_calls)) {
        PyErr_SetString(PyExc_ValueError, "coverage (hits only) needs the "
                        "monitoring backend and count, without objects, "
                        "opcodes or c_calls");
        goto error;
    }
    rec->coverage = coverage;
    rec->calls = calls;
    rec->count = calls && count;
    rec->lines = calls && lines && !rec->count;
    rec->count_arcs = rec->count && arcs && !objects;
    rec->opcodes = calls && opcodes;
    rec->main_only = main_only;
    if (flush_interval_ns(flush_interval, &rec->flush_ns) < 0)
        goto error;
    rec->main_ident = PyThread_get_thread_ident();
    rec->pid = getpid();
    rec->hook = capture_hook_new(st->hook_type);
    rec->noop = PyObject_GetAttrString(module, "_noop_trace");
    rec->s_f_trace = PyUnicode_InternFromString("f_trace");
    rec->s_f_trace_opcodes = PyUnicode_InternFromString("f_trace_opcodes");
    rec->s_module = PyUnicode_InternFromString("__module__");
    rec->thread_names = PyDict_New();
    if (rec->hook == NULL || rec->noop == NULL || rec->s_f_trace == NULL ||
        rec->s_f_trace_opcodes == NULL || rec->s_module == NULL ||
        rec->thread_names == NULL)
        goto error;
    if (thread_names != Py_None &&
        (PyDict_Update(rec->thread_names, thread_names) < 0 ||
         copy_start_names(rec, thread_names) < 0))
        goto error;
    rec->threading = PyImport_ImportModule("threading");
    if (rec->threading == NULL)
        goto error;
    if (capture_codetab_init(&rec->codes) < 0 ||
        capture_names_init(&rec->names) < 0 ||
        capture_filter_init(&rec->filter, include, exclude, stdlib_dirs,
                            own_dirs, third_dirs, stdlib) < 0)
        goto error;
    /* --c-calls: the profile function needs an event log to write into
     * (not --count) and the trace function's shadow stack. */
    if (c_calls && rec->calls && !rec->count && capture_cfuncs_init(rec) < 0)
        goto error;
    if (backend == CAPTURE_BACKEND_LEGACY ? capture_check_free(rec) < 0
                                          : capture_monitoring_begin(rec) < 0)
        goto error;
    if (objects && capture_objects_precheck() < 0)
        goto error;

    memset(&hdr, 0, sizeof(hdr));
    argv_v = utf8_vector(argv, &hdr.argc);
    ops_v = utf8_vector(opnames, &hdr.n_opnames);
    if (argv_v == NULL || ops_v == NULL)
        goto error;
    hdr.argv = argv_v;
    hdr.opnames = ops_v;
    hdr.python_impl = "cpython";
    hdr.python_version = utf8_or(pyver, "");
    hdr.python_build = utf8_or(pybuild, "");
    hdr.options_text = utf8_or(options_text, "");
    hdr.options = (rec->calls ? TT_OPT_CALLS : 0) |
                  (rec->lines ? TT_OPT_LINES : 0) |
                  (count ? TT_OPT_COUNT : 0) |
                  (rec->opcodes ? TT_OPT_OPCODES : 0) |
                  (stdlib ? TT_OPT_STDLIB : 0) |
                  (main_only ? TT_OPT_MAIN_THREAD_ONLY : 0) |
                  (objects ? TT_OPT_OBJECTS : 0) |
                  (objects == 2 ? TT_OPT_COUNT : 0) |
                  (rec->cfuncs != NULL ? TT_OPT_C_CALLS : 0) |
                  /* the hook marks resumptions and yields (capture.c) */
                  (rec->calls && !count ? TT_OPT_MARKS : 0);
    capture_clock_choose(&rec->clock_name, &rec->clock_hz);
    hdr.clock_name = rec->clock_name;
    hdr.clock_hz = rec->clock_hz;
    clock_gettime(CLOCK_REALTIME, &now);
    hdr.start_unix_ns = (uint64_t)now.tv_sec * 1000000000u +
                        (uint64_t)now.tv_nsec;
    capture_clock_pair(&start);
    rec->start_mono_ns = start.ns;
    rec->start_tick = hdr.start_tick = start.tick;

    errno = 0;
    rc = tt_writer_open(&rec->w, PyBytes_AS_STRING(path), &hdr);
    if (rc < 0) {
        rec->w = NULL;
        if (rc == TT_EIO && errno != 0) {
            PyObject *fn = PyUnicode_DecodeFSDefault(PyBytes_AS_STRING(path));
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, fn);
            Py_XDECREF(fn);
        } else {
            capture_raise_tt(module, rc, "cannot create the recording");
        }
        goto error;
    }
    PyMem_RawFree(argv_v);
    PyMem_RawFree(ops_v);
    argv_v = ops_v = NULL;
    if (write_notes(module, rec, notes) < 0)
        goto error;
    note_backend(rec);
    /* The first sync point is the pair the header's start_tick came from;
     * a failure is counted by the writer and reported at stop. */
    (void)tt_writer_clock_sync(rec->w, start.tick, start.ns, start.err_ns);

    rec->gen = ++capture_gen;
    capture_rec = rec;
    if ((objects && capture_objects_start(rec, objects) < 0) ||
        (alloc_depth && ttx_allocs_start(rec, alloc_depth) < 0) ||
        start_flusher(rec) < 0 || install_backend(rec) < 0) {
        /* Nothing is installed; the error label closes the file. */
        ttx_allocs_abort();
        capture_objects_abort(rec);
        capture_rec = NULL;
        capture_gen++;
        capture_flusher_stop();         /* (lets go of the GIL a moment) */
        goto error;
    }
    (void)capture_crashsig_install(rec->w);
    capture_objects_enable(rec);
    ttx_allocs_enable();
    if (rec->backend == CAPTURE_BACKEND_LEGACY)
        capture_settrace_wrap(rec, module);
    /* The caller's frame goes on being recorded from here (failures are
     * counted and reported at stop). */
    (void)capture_adopt_frames(rec);
    Py_DECREF(path);
    Py_RETURN_NONE;

error:
    PyMem_RawFree(argv_v);
    PyMem_RawFree(ops_v);
    if (rec != NULL && rec->w != NULL) {
        /* Nothing was recorded: leave no file behind (not even its
         * header), as if start() had never run. */
        struct stat st;
        (void)tt_writer_close(rec->w);
        rec->w = NULL;
        /* a regular file only: never a device the output named */
        if (lstat(PyBytes_AS_STRING(path), &st) == 0 && S_ISREG(st.st_mode))
            (void)unlink(PyBytes_AS_STRING(path));
    }
    rec_free(rec);
    Py_XDECREF(path);
    return NULL;
}

/* ------------------------------------------------------------------- stop */

static int
add_note(capture_rec_t *rec, PyObject *warnings, const char *key,
         PyObject *text)
{
    const char *v;
    if (text == NULL)
        return -1;
    v = PyUnicode_AsUTF8(text);
    if (v == NULL || PyList_Append(warnings, text) < 0) {
        Py_DECREF(text);
        return -1;
    }
    if (tt_writer_note(rec->w, key, v) < 0)
        rec->problems.writer_errors++;
    Py_DECREF(text);
    return 0;
}

/* "N frame(s) ended without a return event (file:function, ...)": which
 * frames, so that the user can find them, and why it is harmless. New
 * reference, or NULL + exception. */
static PyObject *
missed_text(const capture_problems_t *p)
{
    PyObject *names = PyUnicode_FromString(""), *res;
    size_t k;
    for (k = 0; names != NULL && k < TTX_MISSED_SHOWN; k++) {
        const PyCodeObject *co;
        if (p->missed_codes[k] == NULL)
            break;
        co = (const PyCodeObject *)p->missed_codes[k]->code;
        Py_SETREF(names, PyUnicode_FromFormat(
            "%U%s%U:%U", names, k ? ", " : "", co->co_filename,
            TTX_CODE_QUALNAME(co)));
    }
    if (names == NULL)
        return NULL;
    res = PyUnicode_FromFormat(
        "%llu frame(s) ended without a return event%s%U%s: their calls and "
        "lines are recorded, their returns are not (the hook was taken "
        "off while they ran, by the program, a debugger or a test runner "
        "such as doctest, or they were left by an exception tracetap did "
        "not see); times of those frames end at the next event below them",
        (unsigned long long)p->missed_returns,
        PyUnicode_GetLength(names) ? " (" : "", names,
        k == 0 ? "" : p->missed_returns > k ? ", ...)" : ")");
    Py_DECREF(names);
    return res;
}

/* Turns what the hooks counted, and hooks found replaced, into notes in
 * the file and sentences in `warnings`. 0, or -1 + exc. */
static int
report_problems(capture_rec_t *rec, PyObject *warnings, PyObject *foreign)
{
    const capture_problems_t *p = &rec->problems;
    Py_ssize_t i;

    for (i = 0; i < PyList_GET_SIZE(foreign); i++) {
        PyObject *item = PyList_GET_ITEM(foreign, i), *what;
        unsigned long ident;
        if (!PyArg_ParseTuple(item, "kU", &ident, &what))
            return -1;
        if (PyUnicode_GetLength(what) > 0) {
            if (add_note(rec, warnings, "hook_replaced", PyUnicode_FromFormat(
                    "%U replaced tracetap's hook in thread %lu during the "
                    "recording; that thread's events after the replacement "
                    "are missing", what, ident)) < 0)
                return -1;
        } else if (add_note(rec, warnings, "hook_removed", PyUnicode_FromFormat(
                "tracetap's hook was removed from thread %lu during the "
                "recording (sys.settrace(None)?); that thread's later events "
                "are missing", ident)) < 0) {
            return -1;
        }
    }
    for (uint32_t k = 0; k < rec->n_threads; k++) {
        const capture_thread_t *t = rec->threads[k];
        PyObject *what;
        int rc;
        if (t->ended && t->hook_replaced > t->hook_resumed &&
            t->replaced_by != NULL &&
            add_note(rec, warnings, "hook_replaced", PyUnicode_FromFormat(
                "%U replaced tracetap's hook in thread %llu during the "
                "recording and still held it when the thread ended; that "
                "thread's events after the replacement are missing",
                t->replaced_by, (unsigned long long)t->ident)) < 0)
            return -1;
        if (t->hook_resumed == 0)
            continue;
        what = t->replaced_by ? Py_NewRef(t->replaced_by)
                              : PyUnicode_FromString("another tracer");
        if (what == NULL)
            return -1;
        rc = add_note(rec, warnings, "hook_resumed", PyUnicode_FromFormat(
                "%U replaced tracetap's hook in thread %llu during the "
                "recording, and was removed again (sys.settrace(None)) %u "
                "time(s); tracetap's hook was put back each time, so only "
                "that thread's events while the other tracer held the hook "
                "are missing", what, (unsigned long long)t->ident,
                (unsigned int)t->hook_resumed));
        Py_DECREF(what);
        if (rc < 0)
            return -1;
    }
    if (p->missed_returns && add_note(rec, warnings, "missed_returns",
                                      missed_text(p)) < 0)
        return -1;
    {
        /* Counted problems: a note each, "%llu" being the count. */
        static const struct {
            size_t offset;
            const char *key, *format;
        } counted[] = {
            {offsetof(capture_problems_t, nomem), "out_of_memory",
             "memory ran out %llu time(s) while recording; some code or "
             "events are missing"},
            {offsetof(capture_problems_t, code_errors), "code_errors",
             "%llu code object(s) could not be recorded and were skipped"},
            {offsetof(capture_problems_t, opcode_errors), "opcode_errors",
             "opcode tracing could not be enabled %llu time(s); some opcode "
             "events are missing"},
            {offsetof(capture_problems_t, writer_errors), "writer_errors",
             "writing the recording failed %llu time(s)"},
        };
        size_t k;
        for (k = 0; k < sizeof counted / sizeof counted[0]; k++) {
            uint64_t n = *(const uint64_t *)((const char *)p +
                                             counted[k].offset);
            if (n && add_note(rec, warnings, counted[k].key,
                              PyUnicode_FromFormat(counted[k].format,
                                                   (unsigned long long)n)) < 0)
                return -1;
        }
    }
    return 0;
}

/* Names every thread that recorded something. A thread still alive is
 * named as it is now; one that ended keeps the name it started with, or
 * the one it had when the recording started. Runs after the hooks are
 * gone, so the Python code it calls is not traced. Never fails. */
static void
name_threads(capture_rec_t *rec, PyObject *given)
{
    uint32_t i;

    for (i = 0; i < rec->n_threads; i++) {
        capture_thread_t *t = rec->threads[i];
        PyObject *key, *name = NULL;
        const char *u;
        if (t->tbuf == NULL)
            continue;
        key = PyLong_FromUnsignedLongLong(t->ident);
        if (key == NULL) {
            PyErr_Clear();
            continue;
        }
        if (given != NULL && PyDict_Check(given))
            name = Py_XNewRef(PyDict_GetItemWithError(given, key));
        if (name == NULL)
            name = capture_thread_live_name(rec->threading, key);
        if (name == NULL)
            name = Py_XNewRef(t->name);
        if (name == NULL)
            name = Py_XNewRef(PyDict_GetItemWithError(rec->thread_names, key));
        PyErr_Clear();
        Py_DECREF(key);
        if (name == NULL)
            continue;
        u = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
        if (u == NULL)
            PyErr_Clear();
        else if (tt_writer_thread_name(rec->w, tt_tbuf_thread(t->tbuf), u) < 0)
            rec->problems.writer_errors++;
        Py_DECREF(name);
    }
}

/* strerror(3)'s text with a lower-case first letter ("no space left on
 * device"), in a static buffer: what the summary, the error and the NOTE
 * "write_error" say. */
static const char *
capture_errno_text(int err)
{
    static char buf[128];
    snprintf(buf, sizeof(buf), "%s", strerror(err));
    if (buf[0] >= 'A' && buf[0] <= 'Z')
        buf[0] = (char)(buf[0] - 'A' + 'a');
    return buf;
}

static PyObject *
summary(capture_rec_t *rec, const tt_writer_stats_t *ws, PyObject *warnings,
        uint64_t end_ns, const char *error, PyObject *counted)
{
    PyObject *events = PyDict_New(), *res;
    uint32_t i, threads = 0;
    int k;
    if (events == NULL)
        return NULL;
    for (k = 1; k < TT_EV__COUNT; k++) {
        PyObject *v;
        if (k == TT_EV_DROPPED)
            continue;
        v = PyLong_FromUnsignedLongLong(ws->events[k]);
        if (v == NULL ||
            PyDict_SetItemString(events, tt_event_kind_name(k), v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(events);
            return NULL;
        }
        Py_DECREF(v);
    }
    for (i = 0; i < rec->n_threads; i++)
        threads += rec->threads[i]->tbuf != NULL;
    res = Py_BuildValue("{s:N,s:K,s:K,s:I,s:I,s:K,s:O,s:s,s:K,s:z,s:z,s:O}",
                        "events", events,
                        "dropped", (unsigned long long)ws->dropped,
                        "bytes", (unsigned long long)ws->bytes,
                        "threads", (unsigned int)threads,
                        "threads_ended", (unsigned int)rec->threads_ended,
                        "duration_ns",
                        (unsigned long long)(end_ns - rec->start_mono_ns),
                        "warnings", warnings,
                        "clock", rec->clock_name,
                        "untracked", (unsigned long long)rec->problems.untracked,
                        "error", error,
                        "write_error", ws->last_errno
                                           ? capture_errno_text(ws->last_errno)
                                           : NULL,
                        "counted", counted ? counted : Py_None);
    return res;
}

/* The --count totals for the summary (no re-reading of the file):
 * {"files", "executable", "covered"}, or NULL + exception. */
static PyObject *
counted_totals(capture_rec_t *rec)
{
    tt_cov_summary_t t;
    if (capture_counts_totals(rec, &t) < 0)
        return NULL;
    return Py_BuildValue("{s:I,s:K,s:K}", "files", (unsigned int)t.files,
                         "executable", (unsigned long long)t.executable,
                         "covered", (unsigned long long)t.covered);
}

/* Appends a sentence about a failed step to `warnings` and clears the
 * exception, so that stop() still finishes the file. */
static void
note_failure(PyObject *warnings, const char *step)
{
    PyObject *exc_type, *exc, *tb, *s;
    PyErr_Fetch(&exc_type, &exc, &tb);
    s = PyUnicode_FromFormat("%s failed: %S", step, exc ? exc : Py_None);
    if (s != NULL) {
        (void)PyList_Append(warnings, s);
        Py_DECREF(s);
    }
    PyErr_Clear();
    Py_XDECREF(exc_type);
    Py_XDECREF(exc);
    Py_XDECREF(tb);
}

PyObject *
capture_stop(PyObject *module, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"thread_names", NULL};
    PyObject *given = Py_None, *warnings, *foreign, *res, *objsum = NULL;
    PyObject *allocsum;
    PyObject *counted = NULL;
    capture_rec_t *rec = capture_rec;
    tt_writer_stats_t ws;
    capture_clock_pair_t end;
    uint64_t end_ns;
    int rc, rc2;
    const char *error = NULL;
    char errbuf[200];
    sigset_t term, mask;
    int term_held;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwlist, &given))
        return NULL;
    if (rec != NULL) {
        /* First: it must not write while the recording is taken apart.
         * The GIL is let go while it ends, so another thread may have
         * stopped the recording meanwhile. */
        capture_flusher_stop();
        rec = capture_rec;
    }
    if (rec == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "tracetap is not recording");
        return NULL;
    }
    warnings = PyList_New(0);
    foreign = PyList_New(0);
    if (warnings == NULL || foreign == NULL) {
        /* Nothing changed: the recording goes on. */
        Py_XDECREF(warnings);
        Py_XDECREF(foreign);
        (void)capture_flusher_start(rec);
        return NULL;
    }
    /* From here to the close, a SIGTERM waits on this thread: a process
     * dying while it stops (a pool worker terminated while its exit stops
     * the recording) would leave the file without its end, and the
     * emergency flush cannot run while this thread holds the writer. It
     * is acted on once the file is whole, by the disposition there is
     * then. */
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    term_held = pthread_sigmask(SIG_BLOCK, &term, &mask) == 0;
    capture_clock_pair(&end);
    end_ns = end.ns;
    capture_threads_reap(rec);
    /* --objects first: its survivor check wants everything still attached
     * (it removes only the reference tracer). */
    /* --bytes before --objects: the survivor check is not the program's
     * allocation. */
    allocsum = ttx_allocs_stop(rec, warnings);
    if (allocsum == NULL)
        note_failure(warnings, "finishing the byte counts");
    if (rec->objects != NULL) {
        objsum = capture_objects_stop(rec, warnings);
        if (objsum == NULL)
            note_failure(warnings, "finishing the object capture");
    }
    /* Survey first: after detaching, a stale hook removes itself on its
     * next event and would look removed by someone else. */
    if (rec->backend == CAPTURE_BACKEND_LEGACY &&
        capture_survey(rec, foreign) < 0)
        note_failure(warnings, "checking the installed hooks");
    capture_rec = NULL;
    capture_gen++;
    if (rec->backend == CAPTURE_BACKEND_MONITORING) {
        capture_monitoring_end(rec, warnings);
    } else {
        capture_settrace_unwrap(rec);
        if (capture_uninstall(rec, warnings, foreign) < 0)
            note_failure(warnings, "removing the hook");
    }
    if (rec->count) {
        (void)capture_counts_write(rec);    /* failures are counted */
        counted = counted_totals(rec);
        if (counted == NULL)
            note_failure(warnings, "counting the coverage totals");
    }
    if (report_problems(rec, warnings, foreign) < 0)
        note_failure(warnings, "reporting problems");
    name_threads(rec, given);

    capture_crashsig_uninstall();       /* before the writer goes away */
    /* The last sync point is the pair the summary's duration ends at, so
     * the summary and every reader agree on the recording's length. */
    (void)tt_writer_clock_sync(rec->w, end.tick, end.ns, end.err_ns);
    rc = tt_writer_flush(rec->w);
    tt_writer_stats(rec->w, &ws);
    if (ws.last_errno != 0) {
        /* Why events were lost, in the file too (best effort: on a full
         * disk the NOTE may not fit either; the END chunk's count then
         * says how many). */
        if (tt_writer_note(rec->w, "write_error",
                           capture_errno_text(ws.last_errno)) == 0)
            (void)tt_writer_flush(rec->w);
        tt_writer_stats(rec->w, &ws);
    }
    if (rc == 0)
        rc = ws.last_error;
    rc2 = tt_writer_close(rec->w);
    rec->w = NULL;
    if (term_held)
        (void)pthread_sigmask(SIG_SETMASK, &mask, NULL);
    if (rc == 0)
        rc = rc2;
    if (rc < 0) {
        snprintf(errbuf, sizeof(errbuf), "the recording is incomplete: %s",
                 rc == TT_EIO && ws.last_errno
                     ? capture_errno_text(ws.last_errno) : tt_strerror(rc));
        if (ws.dropped)
            snprintf(errbuf + strlen(errbuf), sizeof(errbuf) - strlen(errbuf),
                     " (%llu events lost)", (unsigned long long)ws.dropped);
        error = errbuf;
    }
    res = summary(rec, &ws, warnings, end_ns, error, counted);
    Py_XDECREF(counted);
    if (res != NULL && objsum != NULL &&
        PyDict_SetItemString(res, "objects", objsum) < 0)
        Py_CLEAR(res);
    if (res != NULL && allocsum != NULL && allocsum != Py_None &&
        PyDict_SetItemString(res, "bytes", allocsum) < 0)
        Py_CLEAR(res);
    Py_XDECREF(objsum);
    Py_XDECREF(allocsum);
    rec_free(rec);
    Py_DECREF(warnings);
    Py_DECREF(foreign);
    return res;
}

/* _tracetap._notes([(key, value)]): NOTE records in the running
 * recording, flushed. None, or NULL + RuntimeError (no recording) or the
 * error of write_notes. */
PyObject *
capture_add_notes(PyObject *module, PyObject *notes)
{
    if (capture_rec == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "no tracetap recording is running");
        return NULL;
    }
    if (write_notes(module, capture_rec, notes) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyObject *
capture_is_recording(PyObject *module, PyObject *unused)
{
    return PyBool_FromLong(capture_rec != NULL);
}

/* _tracetap._arm_sigterm(): SIGTERM ends this process's recording with
 * the crash path (emergency flush, then the signal's disposition as found,
 * which the caller has set to SIG_DFL). Raises RuntimeError when nothing is
 * being recorded or the handler cannot be installed. */
PyObject *
capture_arm_sigterm(PyObject *module, PyObject *unused)
{
    (void)unused;
    if (capture_rec == NULL || capture_crashsig_arm_term() < 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        "cannot arm the SIGTERM handler: not recording");
        return NULL;
    }
    (void)module;
    Py_RETURN_NONE;
}

/* os.register_at_fork(after_in_child=...): the child must neither write
 * into the parent's file nor trace. The writer is abandoned, not closed,
 * because closing would flush the parent's pending events a second time:
 * its descriptor and memory are let go, and so is the rest of the
 * recording's state (the child's copy of it). */
PyObject *
capture_after_fork_child(PyObject *module, PyObject *unused)
{
    capture_rec_t *rec = capture_rec;
    PyThreadState *me = PyThreadState_Get();
    if (rec == NULL)
        Py_RETURN_NONE;
    capture_rec = NULL;
    capture_gen++;
    capture_crashsig_uninstall();       /* the dispositions it found */
    ttx_allocs_abort();                 /* --bytes: our allocator hooks */
    capture_objects_abort(rec);         /* --objects: our tracer, if set */
    capture_monitoring_end(rec, NULL);  /* the child's copy of the id */
    capture_settrace_unwrap(rec);
    if (me->c_tracefunc == capture_trace)
        PyEval_SetTrace(NULL, NULL);
    if (rec->threading != NULL && !rec->main_only) {
        PyObject *r = PyObject_CallMethod(rec->threading, "gettrace", NULL);
        if (r == rec->hook) {
            PyObject *r2 = PyObject_CallMethod(rec->threading, "settrace",
                                               "O", Py_None);
            Py_XDECREF(r2);
        }
        Py_XDECREF(r);
        PyErr_Clear();
    }
    tt_writer_abandon(rec->w);
    rec->w = NULL;
    rec_free(rec);
    Py_RETURN_NONE;
}

PyObject *
capture_debug_code_lines(PyObject *module, PyObject *code)
{
    capture_code_t c;
    int32_t *lines;
    PyObject *out;
    uint32_t i, start = 0;

    if (!PyCode_Check(code)) {
        PyErr_SetString(PyExc_TypeError, "expected a code object");
        return NULL;
    }
    lines = capture_code_lines((PyCodeObject *)code);
    if (lines == NULL)
        return PyErr_NoMemory();
    c.lines = lines;
    c.n_units = TTX_CODE_UNITS((PyCodeObject *)code);
    out = PyList_New(0);
    for (i = 1; out != NULL && i <= c.n_units; i++) {
        if (i == c.n_units || lines[i] != lines[i - 1]) {
            PyObject *t = lines[start] == TT_NO_LINE
                ? Py_BuildValue("(IIO)", start * 2, i * 2, Py_None)
                : Py_BuildValue("(IIi)", start * 2, i * 2, lines[start]);
            if (t == NULL || PyList_Append(out, t) < 0)
                Py_CLEAR(out);
            Py_XDECREF(t);
            start = i;
        }
    }
    PyMem_RawFree(lines);
    return out;
}
