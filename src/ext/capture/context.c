/* context.c - tracetap.context(name): marks which test (or other named
 * phase) the program is in, for `coverage --contexts` and per-context
 * analyses (FORMAT.md §17).
 *
 * Owns: writing a context mark into the active recording; in --count mode
 * the counts of the context that ends are written first (countmode.c),
 * and with --coverage the lines are re-armed (moncoverage.c).
 * Must not: run while a hook holds the writer (the GIL says so). GIL: held.
 */
#include "capture_int.h"

#include <unistd.h>

/* context(name) -> bool: True if a mark was written (a recording is
 * active in this process), False otherwise. TypeError for a non-str,
 * OSError when the writer failed. */
PyObject *
capture_context(PyObject *module, PyObject *name)
{
    capture_rec_t *rec = capture_rec;
    const char *utf8;
    int rc;
    (void)module;

    if (!PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "context name must be str, not %.100s",
                     Py_TYPE(name)->tp_name);
        return NULL;
    }
    utf8 = PyUnicode_AsUTF8(name);
    if (utf8 == NULL)
        return NULL;
    if (rec == NULL || rec->pid != getpid())
        Py_RETURN_FALSE;
    /* --coverage: every line DISABLEd so far fires again in the new
     * context (each context has its own set of lines run); before the
     * counts' switch, which empties the list of the codes that ran. */
    if (rec->coverage && capture_moncoverage_switch(rec) < 0) {
        PyErr_Clear();
        rec->problems.code_errors++;
    }
    if (rec->count && capture_counts_switch(rec) < 0)
        goto error;
    rc = tt_writer_context(rec->w, (uint64_t)PyThread_get_thread_ident(),
                           capture_clock(), utf8);
    if (rc < 0) {
        rec->problems.writer_errors++;
        goto error;
    }
    rec->n_contexts++;
    Py_RETURN_TRUE;
error:
    PyErr_Format(PyExc_OSError, "tracetap: the context mark %R could not be "
                 "written (see the recording's notes at stop)", name);
    return NULL;
}
