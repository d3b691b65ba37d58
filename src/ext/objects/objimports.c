/* objimports.c - import spans of --objects: while a recording
 * runs, importlib's _find_and_load (the one entry of every import that
 * executes a module: the IMPORT_NAME opcode, __import__, importlib.
 * import_module) is wrapped, and each thread's outermost import becomes a
 * span of object-clock time, written as IMPORTS records at stop. Objects
 * the thread created inside a span are module state (the reader says so);
 * no hook pays anything for it.
 *
 * Must not: run Python while a hook runs, or keep the wrapper installed
 * after stop. GIL: held everywhere (the wrapper is called with it).
 */
#include "objects.h"

#if TTX_HAVE_REFTRACER

#include <string.h>

/* The recording's spans and the wrapper (GIL). */
static tt_objspan_t *imp_spans;          /* owned (PyMem_Raw) */
static size_t imp_n, imp_cap;
static uint64_t imp_lost;                /* spans lost to memory */
static PyObject *imp_module;             /* owned: _frozen_importlib */
static PyObject *imp_orig;               /* owned: its _find_and_load */
static PyObject *imp_wrapper;            /* owned: ours */

/* Per thread: the import nesting depth and its open span (index in
 * imp_spans, or SIZE_MAX), for the recording `gen`. */
static __thread uint64_t imp_gen;
static __thread int imp_depth;
static __thread size_t imp_open;

/* A time for a span edge, on the object clock: strictly after every object
 * event so far and before every later one (obj_tick goes one past it), so
 * a reader sorts each creation inside or outside exactly. */
static uint64_t
edge_tick(capture_rec_t *rec, capture_objects_t *o)
{
    uint64_t t = capture_clock();
    if (t <= o->clock)
        t = o->clock + 1;
    o->clock = t;
    return t > rec->start_tick ? t - rec->start_tick : 0;
}

/* The file's id of the calling thread, or UINT32_MAX if it is not recorded
 * (--threads main) or has no buffer. */
static uint32_t
file_thread(capture_rec_t *rec, capture_objects_t *o)
{
    ttx_objthread_t *ot;
    capture_thread_t *t;
    ttx_obj_busy++;
    ot = capture_objects_thread(rec, o);
    ttx_obj_busy--;
    if (ot == NULL)
        return UINT32_MAX;
    t = ttx_objthread_capture(o, ttx_objthread_index(ot));
    return t != NULL && t->tbuf != NULL ? tt_tbuf_thread(t->tbuf)
                                        : UINT32_MAX;
}

static void
span_begin(void)
{
    capture_rec_t *rec = capture_rec;
    capture_objects_t *o;
    uint32_t thread;

    if (rec == NULL || (o = rec->objects) == NULL || o->stopping)
        return;
    if (imp_gen != rec->gen) {
        imp_gen = rec->gen;
        imp_depth = 0;
    }
    if (imp_depth++ > 0)
        return;
    imp_open = SIZE_MAX;
    thread = file_thread(rec, o);
    if (thread == UINT32_MAX)
        return;
    if (imp_n == imp_cap) {
        size_t cap = imp_cap ? 2 * imp_cap : 64;
        void *v = PyMem_RawRealloc(imp_spans, cap * sizeof(*imp_spans));
        if (v == NULL) {
            imp_lost++;
            return;
        }
        imp_spans = v;
        imp_cap = cap;
    }
    imp_spans[imp_n].thread = thread;
    imp_spans[imp_n].start = edge_tick(rec, o);
    imp_spans[imp_n].end = UINT64_MAX;       /* open */
    imp_open = imp_n++;
}

static void
span_end(void)
{
    capture_rec_t *rec = capture_rec;
    capture_objects_t *o;

    if (rec == NULL || (o = rec->objects) == NULL || imp_gen != rec->gen ||
        imp_depth == 0 || --imp_depth > 0)
        return;
    if (imp_open != SIZE_MAX && imp_open < imp_n)
        imp_spans[imp_open].end = edge_tick(rec, o);
    imp_open = SIZE_MAX;
}

static PyMethodDef imp_def;

/* _find_and_load(name, import_) while recording. */
static PyObject *
imp_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *orig = Py_XNewRef(imp_orig), *res;
    (void)self;
    if (orig == NULL) {
        /* Called through a reference taken while we were installed, after
         * stop(): importlib has its own function back; pass the call on. */
        PyObject *m = PyImport_ImportModule("_frozen_importlib");
        orig = m ? PyObject_GetAttrString(m, "_find_and_load") : NULL;
        Py_XDECREF(m);
        if (orig != NULL && PyCFunction_Check(orig) &&
            ((PyCFunctionObject *)orig)->m_ml == &imp_def) {
            Py_CLEAR(orig);
            PyErr_SetString(PyExc_RuntimeError, "importlib's "
                            "_find_and_load is lost");
        }
        if (orig == NULL)
            return NULL;
        res = PyObject_Vectorcall(orig, args, (size_t)nargs, NULL);
        Py_DECREF(orig);
        return res;
    }
    /* (held: stop() may run inside the import) */
    span_begin();
    res = PyObject_Vectorcall(orig, args, (size_t)nargs, NULL);
    span_end();
    Py_DECREF(orig);
    return res;
}

static PyMethodDef imp_def = {
    "_find_and_load", (PyCFunction)(void (*)(void))imp_call, METH_FASTCALL,
    "tracetap: importlib._bootstrap._find_and_load, timed for --objects"};

/* See objects.h. */
void
ttx_imports_install(capture_rec_t *rec)
{
    PyObject *exc = PyErr_GetRaisedException();
    imp_n = 0;
    imp_lost = 0;
    imp_module = PyImport_ImportModule("_frozen_importlib");
    if (imp_module != NULL)
        imp_orig = PyObject_GetAttrString(imp_module, "_find_and_load");
    if (imp_orig != NULL)
        imp_wrapper = PyCFunction_New(&imp_def, NULL);
    if (imp_wrapper == NULL ||
        PyObject_SetAttrString(imp_module, "_find_and_load",
                               imp_wrapper) < 0) {
        PyErr_Clear();
        Py_CLEAR(imp_wrapper);
        Py_CLEAR(imp_orig);
        Py_CLEAR(imp_module);
        if (tt_writer_note(rec->w, "objects.imports", "importlib's "
                           "_find_and_load could not be wrapped: objects "
                           "made by imports are not told apart") < 0)
            rec->problems.writer_errors++;
    }
    PyErr_SetRaisedException(exc);
}

/* See objects.h. */
void
ttx_imports_uninstall(capture_rec_t *rec, int write)
{
    PyObject *exc = PyErr_GetRaisedException();
    if (imp_module != NULL) {
        PyObject *cur = PyObject_GetAttrString(imp_module, "_find_and_load");
        if (cur == imp_wrapper &&
            PyObject_SetAttrString(imp_module, "_find_and_load",
                                   imp_orig) < 0)
            PyErr_Clear();
        Py_XDECREF(cur);
        PyErr_Clear();
    }
    /* Imports still running (stop() called by a module body, or by
     * another thread) end now. */
    for (size_t i = 0; i < imp_n; i++)
        if (imp_spans[i].end == UINT64_MAX)
            imp_spans[i].end = rec->objects != NULL
                               ? edge_tick(rec, rec->objects)
                               : imp_spans[i].start;
    if (write && imp_n > 0 &&
        tt_writer_objspans(rec->w, imp_spans, imp_n) < 0)
        rec->problems.writer_errors++;
    if (write && imp_lost > 0 &&
        tt_writer_note(rec->w, "objects.imports_lost", "memory ran out "
                       "while recording import spans: some objects made "
                       "by imports are shown as the program's") < 0)
        rec->problems.writer_errors++;
    Py_CLEAR(imp_wrapper);
    Py_CLEAR(imp_orig);
    Py_CLEAR(imp_module);
    imp_gen = 0;
    imp_depth = 0;
    if (!write)
        ttx_imports_free();
    PyErr_SetRaisedException(exc);
}

/* See objects.h. */
void
ttx_imports_free(void)
{
    PyMem_RawFree(imp_spans);
    imp_spans = NULL;
    imp_n = imp_cap = 0;
}

/* See objects.h. */
int
ttx_imports_contain(uint64_t rel)
{
    for (size_t i = 0; i < imp_n; i++)
        if (imp_spans[i].start <= rel && rel <= imp_spans[i].end)
            return 1;
    return 0;
}

#endif /* TTX_HAVE_REFTRACER */
