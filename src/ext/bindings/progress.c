/* progress.c - long reads stay interruptible and say how far they are.
 *
 * `tracetap objects` and `tracetap coverage` read a whole recording in C
 * (tt_objects_analyze, tt_coverage_add); on a file of gigabytes that takes
 * a while, with no return to the interpreter in between. The libtt
 * reader's progress callback (every TT_PROGRESS_EVERY events) checks for
 * signals, so that Ctrl-C stops the read, and calls the callable that
 * _tracetap.set_progress() installed (the CLI's progress line) with
 * (path, done, total).
 *
 * Owns: that callable. GIL: held by every caller (the reads keep it).
 */
#include "bindings_int.h"

static PyObject *progress_fn;            /* owned, or NULL */

static int
on_progress(void *ctx, uint64_t done, uint64_t total)
{
    PyObject *path = ctx, *r;
    if (PyErr_CheckSignals() < 0)
        return 1;                        /* KeyboardInterrupt is set */
    if (progress_fn == NULL)
        return 0;
    r = PyObject_CallFunction(progress_fn, "OKK", path,
                              (unsigned long long)done,
                              (unsigned long long)total);
    if (r == NULL)
        return 1;                        /* its exception is set */
    Py_DECREF(r);
    return 0;
}

void
capture_progress_attach(tt_reader_t *r, PyObject *path)
{
    tt_reader_set_progress(r, on_progress, path);
}

PyObject *
capture_set_progress(PyObject *module, PyObject *fn)
{
    PyObject *old = progress_fn;
    (void)module;
    if (fn != Py_None && !PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError,
                        "set_progress() takes a callable or None");
        return NULL;
    }
    progress_fn = fn == Py_None ? NULL : Py_NewRef(fn);
    return old != NULL ? old : Py_NewRef(Py_None);
}
