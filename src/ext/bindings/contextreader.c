/* contextreader.c - the reading side of context marks for Python:
 * _tracetap.contexts(reader), context_spans(reader, name, prefix) and
 * line_contexts(reader) (FORMAT.md §17; libtt's tt_chunk_contexts.c).
 *
 * Owns: turning libtt's context tables into Python lists. Must not: keep a
 * lent reader past the call. GIL: held.
 */
#include "bindings_int.h"

/* contexts(reader) -> [(name, tick, ident)]: context 0 is ("", 0, 0). */
PyObject *
capture_contexts(PyObject *module, PyObject *reader)
{
    tt_reader_t *r;
    PyObject *out;
    uint32_t i, n;

    if (capture_reader_lend(module, reader, &r) < 0)
        return NULL;
    n = tt_reader_n_contexts(r);
    out = PyList_New(n);
    for (i = 0; out != NULL && i < n; i++) {
        tt_context_t c;
        PyObject *t;
        (void)tt_reader_context(r, i, &c);
        t = Py_BuildValue("(NKK)", PyUnicode_DecodeUTF8(c.name, strlen(c.name),
                                                       "replace"),
                          (unsigned long long)c.tick,
                          (unsigned long long)c.ident);
        if (t == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, i, t);
    }
    capture_reader_give_back(reader, r);
    return out;
}

/* line_contexts(reader) -> [(filename, line, context)], each once, sorted
 * by code, line, context (a file's lines may repeat across codes). */
PyObject *
capture_line_contexts(PyObject *module, PyObject *reader)
{
    tt_line_context_t *v = NULL;
    tt_reader_t *r;
    PyObject *out = NULL, *names = NULL;
    size_t i, n = 0;
    uint32_t nc;
    int rc;

    if (capture_reader_lend(module, reader, &r) < 0)
        return NULL;
    capture_progress_attach(r, capture_reader_path(reader));
    rc = tt_line_contexts(r, &v, &n);
    if (rc < 0) {
        if (!PyErr_Occurred())
            capture_raise_tt(module, rc, "reading the line contexts");
        goto done;
    }
    nc = tt_reader_n_codes(r);
    names = PyDict_New();              /* code id -> filename */
    out = names ? PyList_New((Py_ssize_t)n) : NULL;
    for (i = 0; out != NULL && i < n; i++) {
        PyObject *key = PyLong_FromUnsignedLong(v[i].code), *fn, *t;
        fn = key ? PyDict_GetItemWithError(names, key) : NULL;
        if (fn == NULL && key != NULL && !PyErr_Occurred()) {
            const tt_code_def_t *cd = v[i].code < nc
                ? tt_reader_code(r, v[i].code) : NULL;
            fn = capture_decode_fs(cd ? tt_reader_string(r, cd->filename)
                                      : "<unknown>");
            if (fn != NULL && PyDict_SetItem(names, key, fn) < 0)
                Py_CLEAR(fn);
            Py_XDECREF(fn);            /* the dict holds it */
        }
        t = fn ? Py_BuildValue("(OiI)", fn, (int)v[i].line,
                               (unsigned int)v[i].context) : NULL;
        Py_XDECREF(key);
        if (t == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, (Py_ssize_t)i, t);
    }
done:
    Py_XDECREF(names);
    tt_line_contexts_free(v);
    capture_reader_give_back(reader, r);
    return out;
}

/* context_spans(reader, name, prefix) -> [(lo, hi)]: the tick spans of the
 * contexts named `name` (or whose name starts with it), for set_window. */
PyObject *
capture_context_spans(PyObject *module, PyObject *args)
{
    PyObject *reader, *out;
    const char *name;
    int prefix = 0;
    tt_reader_t *r;
    uint64_t *s = NULL;
    size_t i, n = 0;

    if (!PyArg_ParseTuple(args, "Os|p", &reader, &name, &prefix))
        return NULL;
    if (capture_reader_lend(module, reader, &r) < 0)
        return NULL;
    if (tt_reader_context_spans(r, name, prefix, &s, &n) < 0) {
        capture_reader_give_back(reader, r);
        return PyErr_NoMemory();
    }
    out = PyList_New((Py_ssize_t)n);
    for (i = 0; out != NULL && i < n; i++) {
        PyObject *t = Py_BuildValue("(KK)", (unsigned long long)s[2 * i],
                                    (unsigned long long)s[2 * i + 1]);
        if (t == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, (Py_ssize_t)i, t);
    }
    tt_spans_free(s);
    capture_reader_give_back(reader, r);
    return out;
}
