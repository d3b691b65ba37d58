/* monitoring.c - the sys.monitoring (PEP 669) backend's plumbing: taking
 * a tool id for "tracetap", registering the mode files' C callbacks
 * (METH_FASTCALL PyCFunctions, called by vectorcall), setting the global
 * events, and at stop giving everything back and reporting a program that
 * took over the id or changed its events while recording.
 *
 * Owns: rec->mon (struct capture_monitoring). Must not: be called from a
 * callback (it calls sys.monitoring's Python functions). GIL: held. On
 * 3.11 every entry point fails with a clear RuntimeError.
 */
#include "capture_int.h"

#include <stdarg.h>
#include <string.h>

/* The ids tried, in order: not 0-2 (debugger, coverage, profiler) nor 5
 * (optimizer), which other tools take by convention (PEP 669). */
static const int tool_ids[] = {4, 3};

#if TTX_HAVE_MONITORING

/* Calls sys.monitoring.<name>(*args) ("i", "iO", ... as Py_BuildValue).
 * A new reference, or NULL + exception. */
static PyObject *
mon_call(capture_monitoring_t *m, const char *name, const char *fmt, ...)
{
    PyObject *fn, *args, *res;
    va_list va;

    fn = PyObject_GetAttrString(m->mod, name);
    if (fn == NULL)
        return NULL;
    va_start(va, fmt);
    args = Py_VaBuildValue(fmt, va);
    va_end(va);
    if (args != NULL && !PyTuple_Check(args)) {
        PyObject *t = PyTuple_Pack(1, args);
        Py_SETREF(args, t);
    }
    res = args ? PyObject_Call(fn, args, NULL) : NULL;
    Py_XDECREF(args);
    Py_DECREF(fn);
    return res;
}

/* Frees m and its references (the id must already be given back). */
static void
mon_free(capture_monitoring_t *m)
{
    int i;
    if (m == NULL)
        return;
    for (i = 0; i < TTX_MON_EVENTS; i++)
        Py_XDECREF(m->callbacks[i]);
    Py_XDECREF(m->mod);
    Py_XDECREF(m->events_ns);
    Py_XDECREF(m->disable);
    Py_XDECREF(m->missing);
    PyMem_RawFree(m);
}

/* Who holds tool id `id`, as repr(get_tool(id)); a new str, or NULL. */
static PyObject *
holder(capture_monitoring_t *m, int id)
{
    PyObject *name = mon_call(m, "get_tool", "(i)", id), *r;
    if (name == NULL)
        return NULL;
    r = PyObject_Repr(name);
    Py_DECREF(name);
    return r;
}

int
capture_monitoring_begin(capture_rec_t *rec)
{
    capture_monitoring_t *m;
    size_t k;

    assert(rec->mon == NULL);
    m = PyMem_RawCalloc(1, sizeof(*m));
    if (m == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    m->tool = -1;
    m->mod = PyImport_ImportModule("sys");
    if (m->mod != NULL)
        Py_SETREF(m->mod, PyObject_GetAttrString(m->mod, "monitoring"));
    if (m->mod == NULL)
        goto error;
    m->events_ns = PyObject_GetAttrString(m->mod, "events");
    m->disable = PyObject_GetAttrString(m->mod, "DISABLE");
    m->missing = PyObject_GetAttrString(m->mod, "MISSING");
    if (m->events_ns == NULL || m->disable == NULL || m->missing == NULL)
        goto error;
    for (k = 0; k < sizeof tool_ids / sizeof tool_ids[0]; k++) {
        PyObject *name = mon_call(m, "get_tool", "(i)", tool_ids[k]), *r;
        int taken;
        if (name == NULL)
            goto error;
        taken = name != Py_None;
        Py_DECREF(name);
        if (taken)
            continue;
        r = mon_call(m, "use_tool_id", "(is)", tool_ids[k], "tracetap");
        if (r == NULL)
            goto error;
        Py_DECREF(r);
        m->tool = tool_ids[k];
        break;
    }
    if (m->tool < 0) {
        PyObject *a = holder(m, tool_ids[0]), *b = holder(m, tool_ids[1]);
        if (a != NULL && b != NULL)
            PyErr_Format(PyExc_RuntimeError, "cannot record with the "
                         "sys.monitoring backend: its tool ids %d and %d are "
                         "taken (by %U and %U); free one, or use "
                         "--backend legacy", tool_ids[0], tool_ids[1], a, b);
        Py_XDECREF(a);
        Py_XDECREF(b);
        goto error;
    }
    rec->mon = m;
    /* Locations an earlier recording on this id DISABLEd stay disabled for
     * the id (a new set_events does not re-arm them): re-arm them first. */
    if (capture_monitoring_restart(rec) < 0) {
        capture_monitoring_end(rec, NULL);
        return -1;
    }
    return 0;
error:
    mon_free(m);
    return -1;
}

int
capture_monitoring_event(capture_rec_t *rec, const char *name)
{
    PyObject *v;
    long bits;
    int bit = 0;

    v = PyObject_GetAttrString(rec->mon->events_ns, name);
    if (v == NULL)
        return -1;
    bits = PyLong_AsLong(v);
    Py_DECREF(v);
    if (bits == -1 && PyErr_Occurred())
        return -1;
    if (bits <= 0 || (bits & (bits - 1)) != 0) {
        PyErr_Format(PyExc_RuntimeError, "sys.monitoring.events.%s is not "
                     "a single event (%ld)", name, bits);
        return -1;
    }
    while ((1L << bit) != bits)
        bit++;
    if (bit >= TTX_MON_EVENTS) {
        PyErr_Format(PyExc_RuntimeError, "sys.monitoring.events.%s is event "
                     "%d; tracetap knows %d", name, bit, TTX_MON_EVENTS);
        return -1;
    }
    return bit;
}

int
capture_monitoring_register(capture_rec_t *rec, int event_bit,
                            PyMethodDef *def)
{
    capture_monitoring_t *m = rec->mon;
    PyObject *fn, *old;

    assert(m != NULL && event_bit >= 0 && event_bit < TTX_MON_EVENTS);
    assert(def->ml_flags == METH_FASTCALL);
    fn = PyCFunction_New(def, NULL);
    if (fn == NULL)
        return -1;
    old = mon_call(m, "register_callback", "(ilO)", m->tool,
                   1L << event_bit, fn);
    if (old == NULL) {
        Py_DECREF(fn);
        return -1;
    }
    Py_DECREF(old);
    Py_XSETREF(m->callbacks[event_bit], fn);
    return 0;
}

int
capture_monitoring_set_events(capture_rec_t *rec, uint32_t events)
{
    capture_monitoring_t *m = rec->mon;
    PyObject *r = mon_call(m, "set_events", "(ik)", m->tool,
                           (unsigned long)events);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    m->events = events;
    return 0;
}

int
capture_monitoring_set_local(capture_rec_t *rec, PyObject *code,
                             uint32_t events)
{
    capture_monitoring_t *m = rec->mon;
    PyObject *r = mon_call(m, "set_local_events", "(iOk)", m->tool, code,
                           (unsigned long)events);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

int
capture_monitoring_restart(capture_rec_t *rec)
{
    PyObject *r = mon_call(rec->mon, "restart_events", "()");
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* Appends a note (key) and a warning (the text, a new str that is
 * consumed) the way session.c reports a replaced hook. */
static void
mon_report(capture_rec_t *rec, PyObject *warnings, const char *key,
           PyObject *text)
{
    const char *u;
    if (text == NULL) {
        PyErr_Clear();
        return;
    }
    u = PyUnicode_AsUTF8(text);
    if (u == NULL)
        PyErr_Clear();
    else if (rec->w != NULL && tt_writer_note(rec->w, key, u) < 0)
        rec->problems.writer_errors++;
    if (warnings != NULL && PyList_Append(warnings, text) < 0)
        PyErr_Clear();
    Py_DECREF(text);
}

void
capture_monitoring_end(capture_rec_t *rec, PyObject *warnings)
{
    capture_monitoring_t *m = rec->mon;
    ttx_exc_state_t saved;
    PyObject *name, *ev;
    int ours = 1, i;

    if (m == NULL)
        return;
    ttx_exc_save(&saved);
    if (m->tool >= 0) {
        name = mon_call(m, "get_tool", "(i)", m->tool);
        if (name == NULL || !PyUnicode_Check(name) ||
            PyUnicode_CompareWithASCIIString(name, "tracetap") != 0) {
            ours = 0;
            mon_report(rec, warnings, "monitoring_taken", PyUnicode_FromFormat(
                "the program freed tracetap's sys.monitoring tool id %d while "
                "recording (it is now held by %R): events after that are "
                "missing", m->tool, name ? name : Py_None));
        }
        Py_XDECREF(name);
        PyErr_Clear();
    }
    if (ours) {
        ev = mon_call(m, "get_events", "(i)", m->tool);
        if (ev != NULL && PyLong_AsUnsignedLong(ev) != m->events)
            mon_report(rec, warnings, "monitoring_events", PyUnicode_FromFormat(
                "the program changed tracetap's sys.monitoring events "
                "(tool id %d) while recording, from %lu to %S: some events "
                "may be missing", m->tool, (unsigned long)m->events, ev));
        Py_XDECREF(ev);
        PyErr_Clear();
        (void)capture_monitoring_set_events(rec, 0);
        PyErr_Clear();
        for (i = 0; i < TTX_MON_EVENTS; i++) {
            PyObject *old;
            if (m->callbacks[i] == NULL)
                continue;
            old = mon_call(m, "register_callback", "(ilO)", m->tool, 1L << i,
                           Py_None);
            if (old != NULL && old != m->callbacks[i])
                mon_report(rec, warnings, "monitoring_callback",
                           PyUnicode_FromFormat(
                    "the program replaced tracetap's sys.monitoring callback "
                    "for event %d (tool id %d) with %R while recording: those "
                    "events are missing", i, m->tool, old));
            Py_XDECREF(old);
            PyErr_Clear();
        }
        /* free_tool_id also clears every code's local events (3.13+);
         * on 3.12 it only frees the name, which is all a later start needs. */
        Py_XDECREF(mon_call(m, "free_tool_id", "(i)", m->tool));
        PyErr_Clear();
    }
    rec->mon = NULL;
    mon_free(m);
    ttx_exc_restore(&saved);
}

int
capture_monitoring_tool(const capture_rec_t *rec)
{
    return rec->mon != NULL ? rec->mon->tool : -1;
}

#else  /* !TTX_HAVE_MONITORING: 3.11 */

static int
no_monitoring(void)
{
    PyErr_SetString(PyExc_RuntimeError, "the sys.monitoring backend needs "
                    "CPython 3.12 or newer; this interpreter is "
                    PY_VERSION " (use --backend legacy)");
    return -1;
}

int capture_monitoring_begin(capture_rec_t *rec)
{
    (void)rec;
    return no_monitoring();
}
int capture_monitoring_event(capture_rec_t *rec, const char *name)
{
    (void)rec, (void)name;
    return no_monitoring();
}
int capture_monitoring_register(capture_rec_t *rec, int event_bit,
                                PyMethodDef *def)
{
    (void)rec, (void)event_bit, (void)def;
    return no_monitoring();
}
int capture_monitoring_set_events(capture_rec_t *rec, uint32_t events)
{
    (void)rec, (void)events;
    return no_monitoring();
}
int capture_monitoring_set_local(capture_rec_t *rec, PyObject *code,
                                 uint32_t events)
{
    (void)rec, (void)code, (void)events;
    return no_monitoring();
}
int capture_monitoring_restart(capture_rec_t *rec)
{
    (void)rec;
    return no_monitoring();
}
void capture_monitoring_end(capture_rec_t *rec, PyObject *warnings)
{
    (void)rec, (void)warnings;
}
int capture_monitoring_tool(const capture_rec_t *rec)
{
    (void)rec;
    return -1;
}

#endif
