/* callsreader.c - _tracetap.calls(path): libtt's call analysis
 * (tt_calls_analyze) as plain tuples for tracetap.load(path).calls() and
 * `tracetap calls` (src/tracetap/_calls.py names and lays them out).
 *
 * Owns: the conversion of tt_calls_t into Python objects. Must not:
 * analyse anything itself (libtt does) or trust the file. GIL: held.
 */
#include "bindings_int.h"

#include <string.h>

#define U64(v) ((unsigned long long)(v))

/* A code id as an int, TT_NO_CODE / TT_CALLS_* sentinels as -1. */
static long long id_or_neg(uint32_t v)
{
    return v == UINT32_MAX ? -1LL : (long long)v;
}

/* Appends the result of Py_BuildValue to list; steals nothing. -1 on
 * failure. */
static int append_new(PyObject *list, PyObject *v)
{
    int rc;
    if (v == NULL)
        return -1;
    rc = PyList_Append(list, v);
    Py_DECREF(v);
    return rc;
}

/* {code id: (file, qualname, firstlineno)} for every code a row names. */
static PyObject *codes_dict(tt_reader_t *r, const tt_calls_t *c)
{
    PyObject *d = PyDict_New();
    const tt_callstat_t *f;
    uint32_t i;

    if (d == NULL)
        return NULL;
    for (i = 0; (f = tt_calls_function(c, i)) != NULL; i++) {
        const tt_code_def_t *cd = tt_reader_code(r, f->code);
        PyObject *k, *v;
        int rc;
        if (f->thread != TT_CALLS_ALL_THREADS)
            continue;
        k = PyLong_FromUnsignedLong(f->code);
        v = cd ? Py_BuildValue("(NNiO)",
                               capture_decode_fs(tt_reader_string(r, cd->filename)),
                               capture_text(tt_reader_string(r, cd->qualname)),
                               (int)cd->firstlineno,
                               (cd->flags & TT_CODE_CFUNCTION) ? Py_True
                                                               : Py_False)
               : Py_BuildValue("(sOiO)", "?", Py_None, 0, Py_False);
        rc = (k == NULL || v == NULL) ? -1 : PyDict_SetItem(d, k, v);
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (rc < 0) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

static PyObject *threads_list(tt_reader_t *r, const tt_calls_t *c)
{
    PyObject *l = PyList_New(0);
    uint32_t i;

    if (l == NULL)
        return NULL;
    for (i = 0; i < tt_calls_summary(c)->n_threads; i++) {
        const tt_calls_thread_t *t = tt_calls_thread(c, i);
        const tt_thread_info_t *ti = tt_reader_thread(r, i);
        if (t == NULL || ti == NULL)
            continue;
        if (append_new(l, Py_BuildValue(
                "{s:I,s:K,s:N,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K}",
                "thread", (unsigned)i, "ident", U64(ti->ident),
                "name", capture_text(ti->name),
                "traced_ns", U64(t->traced_ns), "first_ns", U64(t->first_ns),
                "last_ns", U64(t->last_ns),
                "activations", U64(t->activations),
                "unmatched_returns", U64(t->unmatched_returns),
                "mismatched", U64(t->mismatched),
                "closed_at_drop", U64(t->closed_at_drop),
                "open_at_end", U64(t->open_at_end),
                "dropped", U64(t->dropped))) < 0) {
            Py_DECREF(l);
            return NULL;
        }
    }
    return l;
}

/* functions, edges and nodes as lists of tuples (see _calls.py). */
static int rows(const tt_calls_t *c, PyObject *funcs, PyObject *edges,
                PyObject *nodes)
{
    const tt_callstat_t *f;
    const tt_calledge_t *e;
    const tt_callnode_t *n;
    uint32_t i;

    for (i = 0; (f = tt_calls_function(c, i)) != NULL; i++)
        if (append_new(funcs, Py_BuildValue(
                "(ILKKKKKKKK)", (unsigned)f->code, id_or_neg(f->thread),
                U64(f->calls), U64(f->prim_calls), U64(f->resumes),
                U64(f->prim_resumes), U64(f->tottime_ns), U64(f->cumtime_ns),
                U64(f->min_ns == UINT64_MAX ? 0 : f->min_ns),
                U64(f->max_ns))) < 0)
            return -1;
    for (i = 0; (e = tt_calls_edge(c, i)) != NULL; i++)
        if (append_new(edges, Py_BuildValue(
                "(LILKKKKKK)", id_or_neg(e->caller), (unsigned)e->callee,
                id_or_neg(e->thread), U64(e->calls), U64(e->prim_calls),
                U64(e->resumes), U64(e->prim_resumes), U64(e->tottime_ns),
                U64(e->cumtime_ns))) < 0)
            return -1;
    for (i = 0; (n = tt_calls_node(c, i)) != NULL; i++)
        if (append_new(nodes, Py_BuildValue(
                "(LIIKKKKIK)", id_or_neg(n->parent), (unsigned)n->code,
                (unsigned)n->thread, U64(n->calls), U64(n->resumes),
                U64(n->tottime_ns), U64(n->cumtime_ns),
                (unsigned)n->flags, U64(n->objects))) < 0)
            return -1;
    return 0;
}

/* Contract (capture.h). */
int capture_calls_open(PyObject *module, PyObject *arg, PyObject **reader,
                       tt_reader_t **r, tt_calls_t **c)
{
    PyObject *rd;
    int rc;

    *reader = NULL;
    *r = NULL;
    *c = NULL;
    rd = capture_reader_get(module, arg);
    if (rd == NULL)
        return -1;
    if (capture_reader_lend(module, rd, r) < 0) {
        Py_DECREF(rd);
        return -1;
    }
    capture_progress_attach(*r, capture_reader_path(rd));
    rc = tt_calls_analyze(*r, c);
    if (rc < 0) {
        capture_raise_tt(module, rc, "call analysis failed");
        capture_reader_give_back(rd, *r);
        Py_DECREF(rd);
        *r = NULL;
        return -1;
    }
    *reader = rd;
    return 0;
}

void capture_calls_close(PyObject *reader, tt_reader_t *r, tt_calls_t *c)
{
    tt_calls_free(c);
    if (reader != NULL) {
        capture_reader_give_back(reader, r);
        Py_DECREF(reader);
    }
}

/* calls(reader) -> dict; a path is opened as a Reader first. */
PyObject *
capture_calls_report(PyObject *module, PyObject *arg)
{
    PyObject *reader = NULL, *res = NULL, *funcs = NULL, *edges = NULL;
    PyObject *nodes = NULL, *codes = NULL, *threads = NULL;
    const tt_damage_t *dmg;
    const tt_calls_summary_t *s;
    tt_reader_t *r = NULL;
    tt_calls_t *c = NULL;

    if (capture_calls_open(module, arg, &reader, &r, &c) < 0)
        return NULL;
    s = tt_calls_summary(c);
    dmg = tt_reader_damage(r);
    funcs = PyList_New(0);
    edges = PyList_New(0);
    nodes = PyList_New(0);
    if (funcs == NULL || edges == NULL || nodes == NULL ||
        rows(c, funcs, edges, nodes) < 0)
        goto done;
    codes = codes_dict(r, c);
    if (codes == NULL)
        goto done;
    threads = threads_list(r, c);
    if (threads == NULL)
        goto done;
    res = Py_BuildValue(
        "{s:{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:O,s:i,s:O,s:N,s:O},"
        "s:O,s:O,s:O,s:O,s:O}",
        "summary",
        "events", U64(s->events), "activations", U64(s->activations),
        "unmatched_returns", U64(s->unmatched_returns),
        "mismatched", U64(s->mismatched),
        "closed_at_drop", U64(s->closed_at_drop),
        "open_at_end", U64(s->open_at_end), "dropped", U64(s->dropped),
        "traced_ns", U64(s->traced_ns),
        "truncated", s->truncated ? Py_True : Py_False,
        "bad_chunks", s->bad_chunks,
        "has_calls", s->has_calls ? Py_True : Py_False,
        "damage", capture_text(dmg && dmg->status ? dmg->reason : NULL),
        "clean_end", dmg && dmg->clean_end ? Py_True : Py_False,
        "codes", codes, "threads", threads, "functions", funcs,
        "edges", edges, "nodes", nodes);
done:
    Py_XDECREF(funcs);
    Py_XDECREF(edges);
    Py_XDECREF(nodes);
    Py_XDECREF(codes);
    Py_XDECREF(threads);
    capture_calls_close(reader, r, c);
    return res;
}
