/* allocreader.c - _tracetap.allocs(reader): the 0x85 chunk of an
 * `--objects --bytes` recording (tt_allocs_load) as a dict: the summary,
 * bytes per creation stack (each stack innermost frame first, with file,
 * line and function), bytes per type (None: buffers no object was created
 * in) and live bytes over time in ns.
 * Must not: analyse anything itself (libtt does) or trust the file.
 * GIL: held.
 */
#include "bindings_int.h"

/* One frame as {"file", "line", "func"}. */
static PyObject *
frame_dict(tt_reader_t *r, const tt_alloc_frame_t *f)
{
    const tt_code_def_t *c = f->code == TT_NO_CODE ? NULL
                                                   : tt_reader_code(r, f->code);
    PyObject *file = capture_decode_fs(c ? tt_reader_string(r, c->filename)
                                         : NULL);
    PyObject *func = capture_text(c ? tt_reader_string(r, c->qualname) : NULL);
    PyObject *d = NULL;
    if (file != NULL && func != NULL)
        d = f->line == TT_NO_LINE
                ? Py_BuildValue("{s:O,s:O,s:O}", "file", file, "line",
                                Py_None, "func", func)
                : Py_BuildValue("{s:O,s:i,s:O}", "file", file, "line",
                                (int)f->line, "func", func);
    Py_XDECREF(file);
    Py_XDECREF(func);
    return d;
}

/* The shared counters of a site and of the totals, as d[name] = int. */
static const char *const counter_names[] = {
    "allocs", "alloc_bytes", "frees", "freed_bytes", "live_bytes",
    "live_blocks", "peak_bytes"};
#define N_COUNTERS (sizeof counter_names / sizeof counter_names[0])

static PyObject *
counters_dict(const uint64_t v[N_COUNTERS])
{
    PyObject *d = PyDict_New();
    for (size_t i = 0; d != NULL && i < N_COUNTERS; i++) {
        PyObject *x = PyLong_FromUnsignedLongLong(v[i]);
        if (x == NULL || PyDict_SetItemString(d, counter_names[i], x) < 0)
            Py_CLEAR(d);
        Py_XDECREF(x);
    }
    return d;
}

static PyObject *
site_dict(tt_reader_t *r, const tt_allocs_t *a, const tt_alloc_site_t *s)
{
    tt_alloc_frame_t fr[64];
    size_t n = tt_allocs_stack(a, s->stack, fr, 64);
    PyObject *stack = PyList_New(0), *d;
    if (stack == NULL)
        return NULL;
    for (size_t i = 0; i < n && i < 64; i++) {
        PyObject *f = frame_dict(r, &fr[i]);
        if (f == NULL || PyList_Append(stack, f) < 0) {
            Py_XDECREF(f);
            Py_DECREF(stack);
            return NULL;
        }
        Py_DECREF(f);
    }
    {
        const uint64_t c[N_COUNTERS] = {s->allocs, s->alloc_bytes, s->frees,
                                        s->freed_bytes, s->live_bytes,
                                        s->live_blocks, s->peak_bytes};
        d = counters_dict(c);
    }
    if (d != NULL && PyDict_SetItemString(d, "stack", stack) < 0)
        Py_CLEAR(d);
    Py_DECREF(stack);
    return d;
}

/* A type group as the counters plus "type": its name, or None for the
 * buffers. */
static PyObject *
type_dict(tt_reader_t *r, const tt_alloc_type_t *t)
{
    const uint64_t c[N_COUNTERS] = {t->allocs, t->alloc_bytes, t->frees,
                                    t->freed_bytes, t->live_bytes,
                                    t->live_blocks, t->peak_bytes};
    const tt_type_def_t *td = t->type == TT_ALLOC_BUFFERS
                                  ? NULL : tt_reader_type(r, t->type);
    PyObject *d = counters_dict(c), *name;
    if (d == NULL)
        return NULL;
    name = td != NULL ? capture_text(tt_reader_string(r, td->name))
                      : Py_NewRef(Py_None);
    if (name == NULL || PyDict_SetItemString(d, "type", name) < 0)
        Py_CLEAR(d);
    Py_XDECREF(name);
    return d;
}

/* allocs(reader) -> dict, or None when the file has no 0x85 chunk. */
PyObject *
capture_allocs_report(PyObject *module, PyObject *arg)
{
    PyObject *reader, *res = NULL, *sites = NULL, *samples = NULL;
    PyObject *types = NULL;
    const tt_alloc_type_t *ty;
    PyObject *totals = NULL, *v = NULL;
    tt_reader_t *r = NULL;
    tt_allocs_t *a = NULL;
    const tt_alloc_summary_t *s;
    const tt_alloc_site_t *st;
    const tt_alloc_sample_t *sm;
    size_t i, n;
    int rc;

    reader = capture_reader_get(module, arg);
    if (reader == NULL)
        return NULL;
    if (capture_reader_lend(module, reader, &r) < 0)
        goto done;
    rc = tt_allocs_load(r, &a);
    if (rc < 0) {
        capture_raise_tt(module, rc, "reading the byte counts failed");
        goto done;
    }
    s = tt_allocs_summary(a);
    if (s == NULL) {
        res = Py_NewRef(Py_None);
        goto done;
    }
    sites = PyList_New(0);
    samples = PyList_New(0);
    types = PyList_New(0);
    if (sites == NULL || samples == NULL || types == NULL)
        goto done;
    for (i = 0; (ty = tt_allocs_type(a, i)) != NULL; i++) {
        v = type_dict(r, ty);
        if (v == NULL || PyList_Append(types, v) < 0)
            goto done;
        Py_CLEAR(v);
    }
    for (i = 0; (st = tt_allocs_site(a, i)) != NULL; i++) {
        v = site_dict(r, a, st);
        if (v == NULL || PyList_Append(sites, v) < 0)
            goto done;
        Py_CLEAR(v);
    }
    sm = tt_allocs_samples(a, &n);
    for (i = 0; i < n; i++) {
        v = Py_BuildValue("(KK)",
                          (unsigned long long)tt_reader_span_ns(r, sm[i].tick),
                          (unsigned long long)sm[i].live_bytes);
        if (v == NULL || PyList_Append(samples, v) < 0)
            goto done;
        Py_CLEAR(v);
    }
    {
        const uint64_t c[N_COUNTERS] = {s->allocs, s->alloc_bytes, s->frees,
                                        s->freed_bytes, s->live_bytes,
                                        s->live_blocks, s->peak_bytes};
        totals = counters_dict(c);
    }
    if (totals == NULL)
        goto done;
    v = Py_BuildValue("{s:I,s:K,s:K,s:K,s:I,s:O}", "depth", (unsigned)s->depth,
                      "peak_ns", (unsigned long long)tt_reader_span_ns(
                          r, s->peak_tick),
                      "untracked", (unsigned long long)s->untracked,
                      "lost", (unsigned long long)s->lost,
                      "bad_chunks", (unsigned)tt_allocs_bad_chunks(a),
                      "partial", (s->flags & TT_ALLOCS_PARTIAL) ? Py_True
                                                                : Py_False);
    if (v == NULL || PyDict_Update(totals, v) < 0)
        goto done;
    res = Py_BuildValue("{s:O,s:O,s:O,s:O}", "totals", totals, "sites",
                        sites, "types", types, "samples", samples);
done:
    Py_XDECREF(v);
    Py_XDECREF(totals);
    Py_XDECREF(sites);
    Py_XDECREF(samples);
    Py_XDECREF(types);
    tt_allocs_free(a);
    if (r != NULL)
        capture_reader_give_back(reader, r);
    Py_DECREF(reader);
    return res;
}
