/* flamegraph.c - _tracetap.flamegraph(reader, out_path, ...): the call
 * analysis of a recording drawn as libtt's interactive SVG
 * (tt_flame_write_svg) into a file, for `tracetap export --format
 * flamegraph` (src/tracetap/_flamegraph.py checks the options).
 * Owns: the glue only. Must not: lay out or escape anything itself (libtt
 * does). GIL: held (the analysis reports progress to Python).
 */
#include "bindings_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define U64(v) ((unsigned long long)(v))

/* flamegraph(reader, path, *, weight=0, icicle=False, thread=-1,
 * min_share=0.0, width=0, title=None, max_frames=0) -> dict of the
 * drawing's numbers. */
PyObject *
capture_flamegraph(PyObject *module, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"reader", "path", "weight", "icicle", "thread",
                             "min_share", "width", "title", "max_frames",
                             NULL};
    PyObject *arg, *path = NULL, *reader = NULL, *res = NULL;
    PyObject *title_obj = Py_None;
    const tt_damage_t *dmg;
    const tt_calls_summary_t *s;
    tt_flame_opts_t o;
    tt_flame_stats_t st;
    tt_reader_t *r = NULL;
    tt_calls_t *c = NULL;
    FILE *out = NULL;
    int weight = TT_FLAME_TIME, icicle = 0, rc;
    long long thread = -1;
    double min_share = 0;
    unsigned int width = 0, max_frames = 0;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO&|$ipLdIOI", kwlist, &arg,
                                     PyUnicode_FSConverter, &path, &weight,
                                     &icicle, &thread, &min_share, &width,
                                     &title_obj, &max_frames))
        return NULL;
    memset(&o, 0, sizeof o);
    o.weight = weight;
    o.icicle = icicle;
    o.thread = thread < 0 ? TT_CALLS_ALL_THREADS : (uint32_t)thread;
    o.min_share = min_share;
    o.width = width;
    o.max_frames = max_frames;
    if (title_obj != Py_None) {
        o.title = PyUnicode_AsUTF8(title_obj);
        if (o.title == NULL)
            goto done;
    }
    if (capture_calls_open(module, arg, &reader, &r, &c) < 0)
        goto done;
    s = tt_calls_summary(c);
    if (thread >= 0 && (uint64_t)thread >= s->n_threads) {
        PyErr_Format(PyExc_ValueError, "no thread %lld in the recording "
                     "(%u threads)", thread, (unsigned)s->n_threads);
        goto done;
    }
    out = fopen(PyBytes_AS_STRING(path), "wb");
    if (out == NULL) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        goto done;
    }
    rc = tt_flame_write_svg(c, r, out, &o, &st);
    if (fclose(out) != 0 && rc == 0)
        rc = TT_EIO;
    out = NULL;
    if (rc < 0) {
        capture_raise_tt(module, rc, "writing the flame graph failed");
        goto done;
    }
    dmg = tt_reader_damage(r);
    res = Py_BuildValue(
        "{s:K,s:I,s:I,s:K,s:I,s:d,s:O,s:N,s:O,s:K,s:I,s:K,s:K}",
        "total", U64(st.total), "frames", (unsigned)st.frames,
        "omitted", (unsigned)st.omitted,
        "omitted_weight", U64(st.omitted_weight),
        "max_depth", (unsigned)st.max_depth, "min_share", st.min_share,
        "truncated", s->truncated ? Py_True : Py_False,
        "damage", dmg && dmg->status
                      ? PyUnicode_DecodeUTF8(dmg->reason,
                                             (Py_ssize_t)strlen(dmg->reason),
                                             "replace")
                      : Py_NewRef(Py_None),
        "has_calls", s->has_calls ? Py_True : Py_False,
        "objects", U64(s->objects), "n_threads", (unsigned)s->n_threads,
        "open_at_end", U64(s->open_at_end), "dropped", U64(s->dropped));
done:
    if (out != NULL)
        fclose(out);
    capture_calls_close(reader, r, c);
    Py_XDECREF(path);
    return res;
}
