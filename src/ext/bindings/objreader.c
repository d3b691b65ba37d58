/* objreader.c - _tracetap.objects(reader): libtt's object analysis
 * (tt_objects_analyze) over an open Reader, as a dict for
 * tracetap.load(path).objects() and `tracetap objects`.
 *
 * Owns: the conversion of tt_objects_t into Python objects (names, files,
 * lifetimes in ns). Must not: analyse anything itself (libtt does) or
 * trust the file. GIL: held.
 */
#include "bindings_int.h"

#include <string.h>

/* A lifetime percentile in ns, or None when nothing died. */
static PyObject *
lifetime_ns(tt_reader_t *r, const tt_objstat_t *s, double q)
{
    uint64_t t = tt_objstat_lifetime(s, q);
    if (t == UINT64_MAX)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(tt_reader_span_ns(r, t));
}

static PyObject *
stat_dict(tt_reader_t *r, const tt_objstat_t *s)
{
    PyObject *d, *hist;
    int b, last = -1;

    hist = PyList_New(0);
    if (hist == NULL)
        return NULL;
    for (b = 0; b < TT_OBJ_BUCKETS; b++)
        if (s->lifetime[b])
            last = b;
    for (b = 0; b <= last; b++) {
        PyObject *v = PyLong_FromUnsignedLongLong(s->lifetime[b]);
        if (v == NULL || PyList_Append(hist, v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(hist);
            return NULL;
        }
        Py_DECREF(v);
    }
    d = Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:N,s:N,s:N,s:N,s:N}",
                      "created", (unsigned long long)s->created,
                      "destroyed", (unsigned long long)s->destroyed,
                      "survived", (unsigned long long)s->survived,
                      "unverified", (unsigned long long)s->unverified,
                      "survived_import",
                      (unsigned long long)s->survived_import,
                      "unverified_import",
                      (unsigned long long)s->unverified_import,
                      "died_unseen", (unsigned long long)s->died_unseen,
                      "lifetime_p50_ns", lifetime_ns(r, s, 0.50),
                      "lifetime_p90_ns", lifetime_ns(r, s, 0.90),
                      "lifetime_p99_ns", lifetime_ns(r, s, 0.99),
                      "lifetime_max_ns", lifetime_ns(r, s, 1.0),
                      "lifetime_log2_ticks", hist);
    return d;
}

static int
set_str(PyObject *d, const char *key, const char *v)
{
    /* Keys too come from the file (type names, note keys): decoded as
     * every string of a recording is, never strictly. */
    PyObject *k = capture_text(key), *s = capture_text(v);
    int rc = k != NULL && s != NULL ? PyDict_SetItem(d, k, s) : -1;
    Py_XDECREF(k);
    Py_XDECREF(s);
    return rc;
}

static const char *
type_name(tt_reader_t *r, uint32_t type)
{
    const tt_type_def_t *t = tt_reader_type(r, type);
    return t ? tt_reader_string(r, t->name) : "?";
}

static PyObject *
site_dict(tt_reader_t *r, const tt_objstat_t *s)
{
    const tt_code_def_t *c = s->code == TT_NO_CODE ? NULL
                                                   : tt_reader_code(r, s->code);
    PyObject *d = stat_dict(r, s), *line, *file;
    int rc;
    if (d == NULL)
        return NULL;
    file = capture_decode_fs(c ? tt_reader_string(r, c->filename) : NULL);
    rc = file == NULL ? -1 : PyDict_SetItemString(d, "file", file);
    Py_XDECREF(file);
    line = s->line == TT_NO_LINE ? Py_NewRef(Py_None) : PyLong_FromLong(s->line);
    if (rc < 0 || line == NULL || PyDict_SetItemString(d, "line", line) < 0 ||
        set_str(d, "func", c ? tt_reader_string(r, c->qualname) : NULL) < 0 ||
        set_str(d, "type", type_name(r, s->type)) < 0) {
        Py_XDECREF(line);
        Py_DECREF(d);
        return NULL;
    }
    Py_DECREF(line);
    return d;
}

/* The referrer chains recorded at stop: [{"chain": [{"kind", "name"}],
 * "site": site dict or None}], NULL + exception on failure. */
static PyObject *
paths_list(tt_reader_t *r, const tt_objects_t *o, uint32_t n)
{
    static const char *kinds[] = {"?", "module", "class", "frame", "object"};
    PyObject *list = PyList_New(0);
    for (uint32_t i = 0; list != NULL && i < n; i++) {
        const tt_objstat_t *site;
        const tt_objpath_step_t *steps;
        uint32_t ns;
        PyObject *chain, *sd, *p;
        if (tt_objects_path(o, i, &site, &steps, &ns) < 0)
            continue;
        chain = PyList_New(0);
        for (uint32_t k = 0; chain != NULL && k < ns; k++) {
            PyObject *step = PyDict_New();
            if (step == NULL ||
                set_str(step, "kind", kinds[steps[k].kind <= 4
                                            ? steps[k].kind : 0]) < 0 ||
                set_str(step, "name", steps[k].label) < 0 ||
                PyList_Append(chain, step) < 0)
                Py_CLEAR(chain);
            Py_XDECREF(step);
        }
        sd = site != NULL ? site_dict(r, site) : Py_NewRef(Py_None);
        p = chain != NULL && sd != NULL
            ? Py_BuildValue("{s:O,s:O}", "chain", chain, "site", sd) : NULL;
        if (p == NULL || PyList_Append(list, p) < 0)
            Py_CLEAR(list);
        Py_XDECREF(p);
        Py_XDECREF(sd);
        Py_XDECREF(chain);
    }
    return list;
}

/* objects(reader) -> dict; a path is opened as a Reader first. */
PyObject *
capture_objects_report(PyObject *module, PyObject *arg)
{
    PyObject *reader, *res = NULL, *types = NULL, *sites = NULL;
    PyObject *notes = NULL, *v, *paths = NULL;
    tt_reader_t *r = NULL;
    tt_objects_t *o = NULL;
    const tt_objects_summary_t *s;
    const tt_objstat_t *st;
    uint32_t i;
    int rc;

    reader = capture_reader_get(module, arg);
    if (reader == NULL)
        return NULL;
    if (capture_reader_lend(module, reader, &r) < 0)
        goto done;
    capture_progress_attach(r, capture_reader_path(reader));
    rc = tt_objects_analyze(r, &o);
    if (rc < 0) {
        capture_raise_tt(module, rc, "object analysis failed");
        goto done;
    }
    s = tt_objects_summary(o);
    types = PyDict_New();
    sites = PyList_New(0);
    notes = PyDict_New();
    paths = paths_list(r, o, s->n_paths);
    if (types == NULL || sites == NULL || notes == NULL || paths == NULL)
        goto done;
    for (i = 0; (st = tt_objects_type(o, i)) != NULL; i++) {
        PyObject *name;
        v = stat_dict(r, st);
        name = v != NULL ? capture_text(type_name(r, st->type)) : NULL;
        if (name == NULL || PyDict_SetItem(types, name, v) < 0) {
            Py_XDECREF(name);
            Py_XDECREF(v);
            goto done;
        }
        Py_DECREF(name);
        Py_DECREF(v);
    }
    for (i = 0; (st = tt_objects_site(o, TT_OBJ_BY_CREATED, i)) != NULL;
         i++) {
        v = site_dict(r, st);
        if (v == NULL || PyList_Append(sites, v) < 0) {
            Py_XDECREF(v);
            goto done;
        }
        Py_DECREF(v);
    }
    for (i = 0; i < tt_reader_n_notes(r); i++) {
        const char *k, *val;
        if (tt_reader_note(r, i, &k, &val) < 0)
            continue;
        if (strncmp(k, "destroy_gap.", 12) != 0 &&
            strncmp(k, "objects.", 8) != 0)
            continue;
        if (set_str(notes, k, val) < 0)
            goto done;
    }
    res = Py_BuildValue(
        "{s:O,s:O,s:O,s:O,s:{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:i,"
        "s:K,s:K,s:I},s:O,s:O,s:O,s:O}",
        "complete_deaths", s->complete_deaths ? Py_True : Py_False,
        "checked", s->checked ? Py_True : Py_False,
        "aggregated", s->aggregated ? Py_True : Py_False,
        "recorded", (tt_reader_header(r)->options & TT_OPT_OBJECTS)
                        ? Py_True : Py_False,
        "totals",
        "created", (unsigned long long)s->created,
        "destroyed", (unsigned long long)s->destroyed,
        "survived", (unsigned long long)s->survived,
        "unverified", (unsigned long long)s->unverified,
        "died_unseen", (unsigned long long)s->died_unseen,
        "repaired", (unsigned long long)s->repaired,
        "unmatched_destroys", (unsigned long long)s->unmatched_destroys,
        "filtered", (unsigned long long)s->filtered,
        "unlogged", (unsigned long long)s->unlogged,
        "bad_chunks", s->bad_chunks,
        "survived_import", (unsigned long long)s->survived_import,
        "unverified_import", (unsigned long long)s->unverified_import,
        "import_spans", (unsigned int)s->n_import_spans,
        "types", types, "sites", sites, "notes", notes, "paths", paths);
done:
    Py_XDECREF(types);
    Py_XDECREF(sites);
    Py_XDECREF(notes);
    Py_XDECREF(paths);
    tt_objects_free(o);
    capture_reader_give_back(reader, r);
    Py_DECREF(reader);
    return res;
}
