/* coverage.c - the Python binding of libtt's coverage analysis and
 * exporters: _tracetap.coverage_data/coverage_export/coverage_annotate.
 *
 * Owns: reading the recordings the caller gives (Readers, or paths opened
 * as Readers: one way to open), turning libtt's coverage tables into
 * Python objects (the same data as the JSON export), and routing exporter
 * output to a file or a str. Must not: hold analysis
 * logic (tt_analyze_coverage.c) or formatting (tt_export_*.c). GIL: held; nothing
 * here runs while a trace hook could (these read finished recordings).
 */
#include "bindings_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* How a report is made (the keyword arguments the functions share). */
typedef struct {
    PyObject *view;            /* borrowed: None or a callable (apply_view) */
    PyObject *sources;         /* borrowed: None or paths never recorded */
    int arcs;                  /* collect arcs */
    int branch;                /* show branch columns */
} load_opts_t;

/* A list of ints, or -1 + exc: n items of an int32 or uint64 array. */
static PyObject *
int_list(const int32_t *v32, const uint64_t *v64, uint32_t n)
{
    PyObject *list = PyList_New(n);
    for (uint32_t k = 0; list != NULL && k < n; k++) {
        PyObject *x = v32 ? PyLong_FromLong(v32[k])
                          : PyLong_FromUnsignedLongLong(v64[k]);
        if (x == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, k, x);
    }
    return list;
}

/* [(from, to, count), ...] of f's executed arcs. */
static PyObject *
arc_list(const tt_cov_file_t *f)
{
    PyObject *list = PyList_New(f->n_arcs);
    for (uint32_t k = 0; list != NULL && k < f->n_arcs; k++) {
        PyObject *t = Py_BuildValue("(iiK)", (int)f->arcs[k].from,
                                    (int)f->arcs[k].to,
                                    (unsigned long long)f->arcs[k].count);
        if (t == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, k, t);
    }
    return list;
}

/* Sets file i's view from view(path, raw_lines, raw_hits, arcs): None
 * (leave the file out: *keep = 0), True (keep it as recorded) or
 * (lines, hits, branches) with
 * branches [(line, to, taken), ...] sorted. 0, or -1 + exc. */
static int
view_one(PyObject *module, tt_coverage_t *cov, uint32_t i, PyObject *view,
         uint8_t *keep)
{
    const tt_cov_file_t *f = tt_coverage_file(cov, i);
    PyObject *path = PyUnicode_DecodeFSDefault(f->path), *res = NULL;
    PyObject *lines = int_list(f->raw_lines, NULL, f->n_raw);
    PyObject *hits = int_list(NULL, f->raw_hits, f->n_raw);
    PyObject *arcs = arc_list(f);
    PyObject *vl = NULL, *vh = NULL, *vb = NULL;
    tt_cov_view_t v;
    int32_t *l32 = NULL;
    uint64_t *h64 = NULL;
    tt_cov_branch_t *br = NULL;
    Py_ssize_t n, nb, k;
    int rc = -1;

    memset(&v, 0, sizeof(v));
    if (path == NULL || lines == NULL || hits == NULL || arcs == NULL)
        goto error;
    res = PyObject_CallFunctionObjArgs(view, path, lines, hits, arcs, NULL);
    if (res == NULL)
        goto error;
    if (res == Py_None || res == Py_True) {
        *keep = res == Py_True;      /* True: the file as recorded */
        rc = 0;
        goto error;
    }
    if (!PyArg_ParseTuple(res, "OOO;view() must return (lines, hits, "
                          "branches) or None", &vl, &vh, &vb))
        goto error;
    vl = PySequence_Fast(vl, "lines must be a sequence");
    vh = vl ? PySequence_Fast(vh, "hits must be a sequence") : NULL;
    vb = vh ? PySequence_Fast(vb, "branches must be a sequence") : NULL;
    if (vb == NULL)
        goto error;
    n = PySequence_Fast_GET_SIZE(vl);
    nb = PySequence_Fast_GET_SIZE(vb);
    if (PySequence_Fast_GET_SIZE(vh) != n || n > INT32_MAX || nb > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "lines and hits differ in length");
        goto error;
    }
    l32 = PyMem_Malloc((size_t)n * sizeof(*l32) + 1);
    h64 = PyMem_Malloc((size_t)n * sizeof(*h64) + 1);
    br = PyMem_Malloc((size_t)nb * sizeof(*br) + 1);
    if (l32 == NULL || h64 == NULL || br == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    for (k = 0; k < n; k++) {
        l32[k] = (int32_t)PyLong_AsLong(PySequence_Fast_GET_ITEM(vl, k));
        h64[k] = PyLong_AsUnsignedLongLong(PySequence_Fast_GET_ITEM(vh, k));
    }
    for (k = 0; k < nb; k++) {
        int line, to, ignored = 0;
        unsigned long long taken;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(vb, k), "iiK|p;a "
                              "branch is (line, to, taken[, ignored])", &line,
                              &to, &taken, &ignored))
            goto error;
        br[k].line = line;
        br[k].to = to;
        br[k].taken = taken;
        br[k].flags = ignored ? TT_BRANCH_IGNORED : 0;
    }
    if (PyErr_Occurred())
        goto error;
    v.n_lines = (uint32_t)n;
    v.lines = l32;
    v.hits = h64;
    v.n_branches = (uint32_t)nb;
    v.branches = br;
    if ((rc = tt_coverage_set_view(cov, i, &v)) < 0) {
        capture_raise_tt(module, rc, "coverage view");
        rc = -1;
    }
error:
    PyMem_Free(l32);
    PyMem_Free(h64);
    PyMem_Free(br);
    Py_XDECREF(vl);
    Py_XDECREF(vh);
    Py_XDECREF(vb);
    Py_XDECREF(res);
    Py_XDECREF(path);
    Py_XDECREF(lines);
    Py_XDECREF(hits);
    Py_XDECREF(arcs);
    return rc;
}

/* Applies the view callable to every file, then keeps the files it did
 * not reject. 0, or -1 + exc. */
static int
apply_view(PyObject *module, tt_coverage_t *cov, PyObject *view)
{
    uint32_t i, n = tt_coverage_n_files(cov);
    uint8_t *keep = PyMem_Malloc((size_t)n + 1);
    int rc = -1;

    if (keep == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memset(keep, 1, (size_t)n + 1);
    for (i = 0; i < n; i++)
        if (view_one(module, cov, i, view, &keep[i]) < 0)
            goto error;
    if (tt_coverage_retain(cov, keep, n) < 0) {
        PyErr_SetString(PyExc_SystemError, "tt_coverage_retain");
        goto error;
    }
    rc = 0;
error:
    PyMem_Free(keep);
    return rc;
}

/* Adds every recording of `items` (a sequence of Readers or
 * str/PathLike paths) to a new coverage table, reading each once through
 * its Reader, then the never-recorded `sources` and the view (opts).
 * Sentences about what was skipped go to `warnings` (the
 * completeness of each recording is the caller's to report: it holds the
 * Readers). NULL + exception on failure (OSError or TraceError naming the
 * file, or what the view raised). */
static tt_coverage_t *
load(PyObject *module, PyObject *items, PyObject *warnings,
     const load_opts_t *lo)
{
    PyObject *fast = PySequence_Fast(items, "paths must be a sequence");
    tt_coverage_t *cov = NULL;
    Py_ssize_t i, n;
    int rc;

    if (fast == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(fast);
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "no recording given");
        goto error;
    }
    rc = tt_coverage_new(&cov);
    if (rc == 0 && lo->arcs)
        rc = tt_coverage_want_arcs(cov);
    if (rc < 0) {
        capture_raise_tt(module, rc, "coverage");
        goto error;
    }
    tt_coverage_set_branch(cov, lo->branch);
    for (i = 0; i < n; i++) {
        PyObject *reader;
        tt_reader_t *r;
        reader = capture_reader_get(module, PySequence_Fast_GET_ITEM(fast, i));
        if (reader == NULL)
            goto error;
        if (capture_reader_lend(module, reader, &r) < 0) {
            Py_DECREF(reader);
            goto error;
        }
        capture_progress_attach(r, capture_reader_path(reader));
        rc = tt_coverage_add(cov, r);
        capture_reader_give_back(reader, r);
        Py_DECREF(reader);
        if (rc < 0) {
            capture_raise_tt(module, rc, "coverage");
            goto error;
        }
    }
    if (lo->sources != NULL && lo->sources != Py_None) {
        PyObject *src = PySequence_Fast(lo->sources, "sources: a sequence");
        if (src == NULL)
            goto error;
        for (i = 0; i < PySequence_Fast_GET_SIZE(src); i++) {
            PyObject *b = NULL;
            if (!PyUnicode_FSConverter(PySequence_Fast_GET_ITEM(src, i), &b)) {
                Py_DECREF(src);
                goto error;
            }
            rc = tt_coverage_add_source(cov, PyBytes_AS_STRING(b));
            Py_DECREF(b);
            if (rc < 0) {
                Py_DECREF(src);
                capture_raise_tt(module, rc, "coverage sources");
                goto error;
            }
        }
        Py_DECREF(src);
    }
    rc = tt_coverage_finish(cov);
    if (rc < 0) {
        capture_raise_tt(module, rc, "coverage");
        goto error;
    }
    if (lo->view != NULL && lo->view != Py_None &&
        apply_view(module, cov, lo->view) < 0)
        goto error;
    if (tt_coverage_skipped(cov)) {
        PyObject *s = PyUnicode_FromFormat(
            "%llu malformed chunk(s) were skipped",
            (unsigned long long)tt_coverage_skipped(cov));
        if (s == NULL || PyList_Append(warnings, s) < 0) {
            Py_XDECREF(s);
            goto error;
        }
        Py_DECREF(s);
    }
    Py_DECREF(fast);
    return cov;
error:
    tt_coverage_free(cov);
    Py_DECREF(fast);
    return NULL;
}

/* {"executable", "covered", "missed", "percent", "functions",
 * "functions_hit"} (+ "files" for the totals), as the JSON has them: the
 * percent is the float that the JSON's "%.2f" text reads back as. */
static PyObject *
summary_dict(const tt_cov_summary_t *s, int with_files, int branch)
{
    char buf[32];
    double pct = tt_coverage_percent(s);
    PyObject *d;
    snprintf(buf, sizeof(buf), "%.2f", pct);
    pct = PyOS_string_to_double(buf, NULL, NULL);
    if (pct == -1.0 && PyErr_Occurred())
        return NULL;
    d = Py_BuildValue("{s:K,s:K,s:K,s:d,s:K,s:K}",
                      "executable", (unsigned long long)s->executable,
                      "covered", (unsigned long long)s->covered,
                      "missed", (unsigned long long)(s->executable - s->covered),
                      "percent", pct,
                      "functions", (unsigned long long)s->functions,
                      "functions_hit", (unsigned long long)s->functions_hit);
    if (d != NULL && with_files) {
        PyObject *v = PyLong_FromUnsignedLong(s->files);
        if (v == NULL || PyDict_SetItemString(d, "files", v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(v);
    }
    if (d != NULL && branch) {
        PyObject *b = Py_BuildValue("{s:K,s:K,s:K}",
                                    "branches", (unsigned long long)s->branches,
                                    "branches_hit",
                                    (unsigned long long)s->branches_hit,
                                    "partial", (unsigned long long)s->partial);
        if (b == NULL || PyDict_Update(d, b) < 0)
            Py_CLEAR(d);
        Py_XDECREF(b);
    }
    return d;
}

/* The branch lists of f's view, as the JSON has them, into d. */
static int
add_branches(PyObject *d, const tt_cov_file_t *f)
{
    PyObject *done_ = PyList_New(0), *miss = PyList_New(0);
    int rc = -1;
    if (done_ == NULL || miss == NULL)
        goto error;
    for (uint32_t k = 0; k < f->n_branches; k++) {
        PyObject *t;
        if (!f->branches[k].taken &&
            (f->branches[k].flags & TT_BRANCH_IGNORED))
            continue;                   /* never missing (no branch) */
        t = Py_BuildValue("[ii]", (int)f->branches[k].line,
                          (int)f->branches[k].to);
        if (t == NULL || PyList_Append(f->branches[k].taken ? done_ : miss,
                                       t) < 0) {
            Py_XDECREF(t);
            goto error;
        }
        Py_DECREF(t);
    }
    if (PyDict_SetItemString(d, "executed_branches", done_) == 0 &&
        PyDict_SetItemString(d, "missing_branches", miss) == 0)
        rc = 0;
error:
    Py_XDECREF(done_);
    Py_XDECREF(miss);
    return rc;
}

static PyObject *
file_dict(const tt_cov_file_t *f, int branch)
{
    PyObject *exe = PyList_New(f->n_lines), *counts = PyDict_New();
    PyObject *funcs = PyList_New(f->n_funcs), *summ = NULL, *res = NULL;
    uint32_t k;

    if (exe == NULL || counts == NULL || funcs == NULL)
        goto done;
    for (k = 0; k < f->n_lines; k++) {
        PyObject *line = PyLong_FromLong(f->lines[k]);
        if (line == NULL)
            goto done;
        PyList_SET_ITEM(exe, k, line);
        if (f->hits[k]) {
            PyObject *h = PyLong_FromUnsignedLongLong(f->hits[k]);
            int rc = h ? PyDict_SetItem(counts, line, h) : -1;
            Py_XDECREF(h);
            if (rc < 0)
                goto done;
        }
    }
    for (k = 0; k < f->n_funcs; k++) {
        PyObject *fn = Py_BuildValue(
            "{s:N,s:i,s:K}", "name",
            capture_text(f->funcs[k].name),
            "line", (int)f->funcs[k].line,
            "calls", (unsigned long long)f->funcs[k].calls);
        if (fn == NULL)
            goto done;
        PyList_SET_ITEM(funcs, k, fn);
    }
    summ = summary_dict(&f->summary, 0, branch);
    if (summ == NULL)
        goto done;
    res = Py_BuildValue("{s:O,s:O,s:O,s:O}", "executable", exe,
                        "counts", counts, "functions", funcs,
                        "summary", summ);
    if (res != NULL && f->lines != f->raw_lines) {
        PyObject *raw = int_list(f->raw_lines, NULL, f->n_raw);
        if (raw == NULL || PyDict_SetItemString(res, "raw_lines", raw) < 0)
            Py_CLEAR(res);
        Py_XDECREF(raw);
    }
    if (res != NULL && branch && add_branches(res, f) < 0)
        Py_CLEAR(res);
done:
    Py_XDECREF(exe);
    Py_XDECREF(counts);
    Py_XDECREF(funcs);
    Py_XDECREF(summ);
    return res;
}

/* The keyword arguments shared by the functions into *lo. */
static void
opts_init(load_opts_t *lo)
{
    memset(lo, 0, sizeof(*lo));
}

/* coverage_data(paths, *, view=None, sources=None, arcs=False,
 * branch=False) -> (data, warnings) */
static PyObject *
coverage_data(PyObject *module, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"paths", "view", "sources", "arcs", "branch",
                             NULL};
    PyObject *warnings = NULL, *files = NULL, *data = NULL;
    PyObject *tot = NULL, *res = NULL, *paths;
    tt_coverage_t *cov = NULL;
    tt_cov_summary_t t;
    load_opts_t lo;
    uint32_t i;

    opts_init(&lo);
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$OOpp", kwlist, &paths,
                                     &lo.view, &lo.sources, &lo.arcs,
                                     &lo.branch))
        return NULL;
    warnings = PyList_New(0);
    if (warnings == NULL)
        return NULL;
    cov = load(module, paths, warnings, &lo);
    if (cov == NULL)
        goto done;
    files = PyDict_New();
    if (files == NULL)
        goto done;
    for (i = 0; i < tt_coverage_n_files(cov); i++) {
        const tt_cov_file_t *f = tt_coverage_file(cov, i);
        PyObject *fd = file_dict(f, lo.branch), *key;
        if (fd == NULL)
            goto done;
        key = capture_decode_fs(f->path);   /* os.fsdecode, as Python has it */
        if (key == NULL || PyDict_SetItem(files, key, fd) < 0) {
            Py_XDECREF(key);
            Py_DECREF(fd);
            goto done;
        }
        Py_DECREF(key);
        Py_DECREF(fd);
    }
    tt_coverage_totals(cov, &t);
    tot = summary_dict(&t, 1, lo.branch);
    if (tot == NULL)
        goto done;
    data = Py_BuildValue("{s:O,s:O}", "files", files, "totals", tot);
    if (data != NULL)
        res = PyTuple_Pack(2, data, warnings);
done:
    tt_coverage_free(cov);
    Py_XDECREF(files);
    Py_XDECREF(tot);
    Py_XDECREF(data);
    Py_DECREF(warnings);
    return res;
}

/* coverage_export(readers, format, out=None, *, show_missing=False,
 * root=None, test_name=None, version=None, timestamp_ms=0)
 * -> (str or None, warnings, totals) */
static PyObject *
coverage_export(PyObject *module, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"paths", "format", "out", "show_missing", "root",
                             "test_name", "version", "timestamp_ms", "view",
                             "sources", "arcs", "branch", NULL};
    PyObject *paths, *out = Py_None, *outb = NULL, *warnings = NULL;
    PyObject *text = NULL, *res = NULL, *tot = NULL;
    tt_cov_summary_t t;
    const char *fmt, *root = NULL, *test_name = NULL, *version = NULL;
    unsigned long long ts = 0;
    int show_missing = 0, rc = 0;
    tt_coverage_t *cov = NULL;
    tt_cov_opts_t opts;
    load_opts_t lo;
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    opts_init(&lo);
    if (!PyArg_ParseTupleAndKeywords(args, kw, "Os|O$pzzzKOOpp", kwlist,
                                     &paths, &fmt, &out, &show_missing, &root,
                                     &test_name, &version, &ts, &lo.view,
                                     &lo.sources, &lo.arcs, &lo.branch))
        return NULL;
    if (strcmp(fmt, "text") && strcmp(fmt, "json") && strcmp(fmt, "lcov") &&
        strcmp(fmt, "cobertura")) {
        PyErr_Format(PyExc_ValueError, "unknown coverage format '%s' (text, "
                     "json, lcov or cobertura)", fmt);
        return NULL;
    }
    if (out != Py_None && !PyUnicode_FSConverter(out, &outb))
        return NULL;
    warnings = PyList_New(0);
    if (warnings == NULL)
        goto done;
    cov = load(module, paths, warnings, &lo);
    if (cov == NULL)
        goto done;
    memset(&opts, 0, sizeof(opts));
    opts.show_missing = show_missing;
    opts.root = root;
    opts.test_name = test_name;
    opts.version = version;
    opts.timestamp_ms = ts;
    f = outb ? fopen(PyBytes_AS_STRING(outb), "w")
             : open_memstream(&buf, &len);
    if (f == NULL) {
        if (outb)
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, out);
        else
            PyErr_NoMemory();
        goto done;
    }
    if (strcmp(fmt, "text") == 0)
        rc = tt_coverage_write_text(cov, f, &opts);
    else if (strcmp(fmt, "json") == 0)
        rc = tt_coverage_write_json(cov, f);
    else if (strcmp(fmt, "lcov") == 0)
        rc = tt_coverage_write_lcov(cov, f, &opts);
    else
        rc = tt_coverage_write_cobertura(cov, f, &opts);
    errno = 0;
    if (fclose(f) != 0 && rc == 0)
        rc = TT_EIO;
    if (rc < 0) {
        if (rc == TT_EIO && outb)
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, out);
        else
            capture_raise_tt(module, rc, "writing the coverage report");
        goto done;
    }
    if (outb == NULL) {
        text = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)len, "replace");
        if (text == NULL)
            goto done;
    } else {
        text = Py_NewRef(Py_None);
    }
    tt_coverage_totals(cov, &t);
    tot = summary_dict(&t, 1, lo.branch);
    if (tot != NULL)
        res = PyTuple_Pack(3, text, warnings, tot);
done:
    free(buf);
    tt_coverage_free(cov);
    Py_XDECREF(outb);
    Py_XDECREF(text);
    Py_XDECREF(tot);
    Py_XDECREF(warnings);
    return res;
}

/* The source paths of cov's files, in order: a list of str. */
static PyObject *
file_paths(const tt_coverage_t *cov)
{
    uint32_t i, n = tt_coverage_n_files(cov);
    PyObject *list = PyList_New(n);
    for (i = 0; list != NULL && i < n; i++) {
        PyObject *p = PyUnicode_DecodeFSDefault(tt_coverage_file(cov, i)->path);
        if (p == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, i, p);
    }
    return list;
}

/* coverage_annotate(readers, targets) -> (problems, warnings): reads the
 * recordings once and writes the .cover text of each source file that
 * `targets` names: a dict {source: (output path, the source's bytes or
 * why there are none)}, or a callable that gets the list of source files
 * (sorted) and returns that dict. `problems`
 * lists (source, message) for sources that could not be read or outputs
 * that could not be written. */
static PyObject *
coverage_annotate(PyObject *module, PyObject *args)
{
    PyObject *paths, *targets, *warnings = NULL, *problems = NULL;
    PyObject *res = NULL, *made = NULL;
    tt_coverage_t *cov = NULL;
    load_opts_t lo;
    uint32_t i;

    opts_init(&lo);
    if (!PyArg_ParseTuple(args, "OO", &paths, &targets))
        return NULL;
    if (!PyDict_Check(targets) && !PyCallable_Check(targets)) {
        PyErr_SetString(PyExc_TypeError,
                        "targets must be a dict or a callable");
        return NULL;
    }
    warnings = PyList_New(0);
    problems = PyList_New(0);
    if (warnings == NULL || problems == NULL)
        goto done;
    cov = load(module, paths, warnings, &lo);
    if (cov == NULL)
        goto done;
    if (!PyDict_Check(targets)) {
        PyObject *files = file_paths(cov);
        made = files ? PyObject_CallOneArg(targets, files) : NULL;
        Py_XDECREF(files);
        if (made == NULL)
            goto done;
        if (!PyDict_Check(made)) {
            PyErr_SetString(PyExc_TypeError,
                            "targets() must return a dict");
            goto done;
        }
        targets = made;
    }
    for (i = 0; i < tt_coverage_n_files(cov); i++) {
        const tt_cov_file_t *cf = tt_coverage_file(cov, i);
        PyObject *key = PyUnicode_DecodeFSDefault(cf->path), *dest, *db = NULL;
        PyObject *why = NULL, *text;
        FILE *src = NULL, *dst = NULL;
        int rc;
        if (key == NULL)
            goto done;
        dest = PyDict_GetItemWithError(targets, key);      /* borrowed */
        if (dest == NULL) {
            Py_DECREF(key);
            if (PyErr_Occurred())
                goto done;
            continue;
        }
        /* (output path, source): the source read by tracetap/_source.py
         * (bytes), or why it gave none (str). This function opens no
         * source itself: which files may be shown is _source.py's rule. */
        if (!PyTuple_Check(dest) || PyTuple_GET_SIZE(dest) != 2) {
            PyErr_SetString(PyExc_TypeError,
                            "targets values must be (path, bytes or str)");
            Py_DECREF(key);
            goto done;
        }
        text = PyTuple_GET_ITEM(dest, 1);
        if (!PyUnicode_FSConverter(PyTuple_GET_ITEM(dest, 0), &db)) {
            Py_DECREF(key);
            goto done;
        }
        if (PyUnicode_Check(text)) {
            why = PyUnicode_FromFormat("cannot show the source: %U", text);
        } else if (!PyBytes_Check(text)) {
            PyErr_SetString(PyExc_TypeError,
                            "targets values must be (path, bytes or str)");
        } else if ((src = PyBytes_GET_SIZE(text) > 0
                    ? fmemopen(PyBytes_AS_STRING(text),
                               (size_t)PyBytes_GET_SIZE(text), "rb")
                    : fopen("/dev/null", "rb")) == NULL) {
            why = PyUnicode_FromFormat("cannot read the source: %s",
                                       strerror(errno));
        } else if ((dst = fopen(PyBytes_AS_STRING(db), "w")) == NULL) {
            why = PyUnicode_FromFormat("cannot write %s: %s",
                                       PyBytes_AS_STRING(db), strerror(errno));
        } else {
            rc = tt_coverage_write_annotate(cf, src, dst);
            if (fclose(dst) != 0 && rc == 0)
                rc = TT_EIO;
            if (rc < 0)
                why = PyUnicode_FromFormat("cannot write %s: %s",
                                           PyBytes_AS_STRING(db),
                                           tt_strerror(rc));
        }
        if (src)
            fclose(src);
        Py_DECREF(db);
        if (why != NULL) {
            PyObject *t = PyTuple_Pack(2, key, why);
            Py_DECREF(why);
            if (t == NULL || PyList_Append(problems, t) < 0) {
                Py_XDECREF(t);
                Py_DECREF(key);
                goto done;
            }
            Py_DECREF(t);
        } else if (PyErr_Occurred()) {
            Py_DECREF(key);
            goto done;
        }
        Py_DECREF(key);
    }
    res = PyTuple_Pack(2, problems, warnings);
done:
    tt_coverage_free(cov);
    Py_XDECREF(made);
    Py_XDECREF(warnings);
    Py_XDECREF(problems);
    return res;
}

PyMethodDef capture_coverage_methods[] = {
    {"coverage_data", (PyCFunction)(void (*)(void))coverage_data,
     METH_VARARGS | METH_KEYWORDS,
     "coverage_data(readers, *, view=None, sources=None, arcs=False, "
     "branch=False) -> (data, warnings): the coverage of one or "
     "more recordings (Readers, or paths; counts summed) as the JSON export "
     "has it, with lines as ints; warnings name skipped chunks. `sources`: "
     "files to list though no recording names them; `arcs`: collect the "
     "executed arcs of full recordings; `view(path, raw_lines, raw_hits, "
     "arcs)` returns None (leave the file out), True (keep it as recorded) "
     "or (lines, hits, branches), "
     "the statement view the report shows; `branch`: branch fields."},
    {"coverage_export", (PyCFunction)(void (*)(void))coverage_export,
     METH_VARARGS | METH_KEYWORDS,
     "coverage_export(readers, format, out=None, *, show_missing=False, "
     "root=None, test_name=None, version=None, timestamp_ms=0, view=None, "
     "sources=None, arcs=False, branch=False) -> "
     "(str or None, warnings, totals): a text, json, lcov or cobertura "
     "report, written to `out` or returned, and the totals."},
    {"coverage_annotate", coverage_annotate, METH_VARARGS,
     "coverage_annotate(readers, targets) -> (problems, warnings): reads "
     "the recordings once and writes a stdlib-trace style .cover file for "
     "each source named in `targets` ({source: (output path, source bytes "
     "or why none)}, or a callable "
     "that maps the sorted list of sources to that dict)."},
    {NULL, NULL, 0, NULL},
};
