/* linesreader.c - _tracetap.lines(reader): libtt's per-line time
 * (tt_lines_analyze) as plain tuples and dicts for Trace.lines() and
 * `tracetap lines` (src/tracetap/_lines.py names the codes through the
 * Reader and lays the rows out).
 *
 * Owns: the conversion of tt_lines_t into Python objects. Must not:
 * analyse anything itself (libtt does) or trust the file. GIL: held.
 */
#include "bindings_int.h"

#include <string.h>

#define U64(v) ((unsigned long long)(v))

/* The counters a thread and the summary share, as dict items. */
#define LINES_COUNTERS_FMT \
    "s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K"
#define LINES_COUNTERS(x)                                                  \
    "traced_ns", U64((x)->traced_ns), "lines", U64((x)->lines),          \
    "calls", U64((x)->calls), "resumes", U64((x)->resumes),              \
    "adopted", U64((x)->adopted),                                        \
    "unmatched_returns", U64((x)->unmatched_returns),                    \
    "mismatched", U64((x)->mismatched),                                  \
    "closed_at_drop", U64((x)->closed_at_drop),                          \
    "open_at_end", U64((x)->open_at_end), "dropped", U64((x)->dropped)

/* [(code, line or None, thread or -1, hits, time_ns, own_ns)], then the
 * per-thread dicts. 0, or -1 with an exception set. */
static int lines_lists(const tt_lines_t *L, PyObject *rows, PyObject *thr)
{
    const tt_linestat_t *x;
    const tt_lines_thread_t *t;
    uint32_t i;

    for (i = 0; (x = tt_lines_row(L, i)) != NULL; i++) {
        PyObject *v = Py_BuildValue(
            "(INLKKK)", (unsigned)x->code,
            x->line == TT_NO_LINE ? Py_NewRef(Py_None) : PyLong_FromLong(x->line),
            x->thread == TT_LINES_ALL_THREADS ? -1LL : (long long)x->thread,
            U64(x->hits), U64(x->time_ns), U64(x->own_ns));
        int rc = v == NULL ? -1 : PyList_Append(rows, v);
        Py_XDECREF(v);
        if (rc < 0)
            return -1;
    }
    for (i = 0; (t = tt_lines_thread(L, i)) != NULL; i++) {
        PyObject *v = Py_BuildValue(
            "{s:I,s:K,s:K," LINES_COUNTERS_FMT "}", "thread", (unsigned)i,
            "first_ns", U64(t->first_ns), "last_ns", U64(t->last_ns),
            LINES_COUNTERS(t));
        int rc = v == NULL ? -1 : PyList_Append(thr, v);
        Py_XDECREF(v);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* lines(reader) -> dict; a path is opened as a Reader first. */
PyObject *
capture_lines_report(PyObject *module, PyObject *arg)
{
    PyObject *reader, *res = NULL, *rows = NULL, *thr = NULL, *sum;
    const tt_lines_summary_t *s;
    const tt_damage_t *dmg;
    tt_reader_t *r = NULL;
    tt_lines_t *L = NULL;
    int rc;

    reader = capture_reader_get(module, arg);
    if (reader == NULL)
        return NULL;
    if (capture_reader_lend(module, reader, &r) < 0)
        goto done;
    capture_progress_attach(r, capture_reader_path(reader));
    rc = tt_lines_analyze(r, &L);
    if (rc < 0) {
        capture_raise_tt(module, rc, "line analysis failed");
        goto done;
    }
    s = tt_lines_summary(L);
    dmg = tt_reader_damage(r);
    rows = PyList_New(0);
    thr = PyList_New(0);
    if (rows == NULL || thr == NULL || lines_lists(L, rows, thr) < 0)
        goto done;
    sum = Py_BuildValue(
        "{" LINES_COUNTERS_FMT ",s:K,s:O,s:i,s:O,s:O,s:N,s:O}",
        LINES_COUNTERS(s), "events", U64(s->events),
        "truncated", s->truncated ? Py_True : Py_False,
        "bad_chunks", s->bad_chunks,
        "has_calls", s->has_calls ? Py_True : Py_False,
        "has_lines", s->has_lines ? Py_True : Py_False,
        "damage", dmg && dmg->status
                      ? PyUnicode_DecodeUTF8(dmg->reason,
                                             (Py_ssize_t)strlen(dmg->reason),
                                             "replace")
                      : Py_NewRef(Py_None),
        "clean_end", dmg && dmg->clean_end ? Py_True : Py_False);
    if (sum == NULL)
        goto done;
    res = Py_BuildValue("{s:N,s:O,s:O}", "summary", sum, "threads", thr,
                        "rows", rows);
done:
    Py_XDECREF(rows);
    Py_XDECREF(thr);
    tt_lines_free(L);
    capture_reader_give_back(reader, r);
    Py_DECREF(reader);
    return res;
}
