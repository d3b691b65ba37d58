/* timeline.c - _tracetap.timeline(reader, fd, format, ...): libtt's timeline
 * exporter (tt_timeline_write) writing to a file descriptor the caller
 * opened (an output file, or stdout), for `tracetap export`.
 * Owns: a dup of the descriptor as a buffered FILE for the export's
 * duration. Must not: export anything itself (libtt does) or close the
 * caller's descriptor. GIL: held (the progress callback calls Python).
 */
#include "bindings_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define U64(v) ((unsigned long long)(v))

PyObject *
capture_timeline(PyObject *module, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"reader", "fd", "format", "lines", "top_types",
                             "process_name", NULL};
    PyObject *arg, *reader = NULL, *res = NULL;
    const char *fmt, *pname = NULL;
    int fd, lines = 0, dupfd = -1, rc, close_rc, saved;
    unsigned int top = 8;
    tt_timeline_opts_t o;
    tt_timeline_stats_t st;
    tt_reader_t *r = NULL;
    FILE *out = NULL;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "Ois|$pIz:timeline", kwlist,
                                     &arg, &fd, &fmt, &lines, &top, &pname))
        return NULL;
    memset(&o, 0, sizeof o);
    if (strcmp(fmt, "perfetto") == 0)
        o.format = TT_TIMELINE_PERFETTO;
    else if (strcmp(fmt, "chrome") == 0)
        o.format = TT_TIMELINE_CHROME;
    else
        return PyErr_Format(PyExc_ValueError,
                            "unknown timeline format %R (perfetto, chrome)",
                            PyTuple_GET_ITEM(args, 2));
    o.flags = lines ? TT_TIMELINE_LINES : 0;
    o.top_types = top;
    o.process_name = pname;
    reader = capture_reader_get(module, arg);
    if (reader == NULL)
        return NULL;
    if (capture_reader_lend(module, reader, &r) < 0)
        goto done;
    dupfd = dup(fd);
    if (dupfd < 0 || (out = fdopen(dupfd, "wb")) == NULL) {
        PyErr_SetFromErrno(PyExc_OSError);
        if (dupfd >= 0)
            close(dupfd);
        goto done;
    }
    setvbuf(out, NULL, _IOFBF, 1 << 20);
    capture_progress_attach(r, capture_reader_path(reader));
    errno = 0;
    rc = tt_timeline_write(r, out, &o, &st);
    saved = errno;                         /* a failed write's reason */
    close_rc = fclose(out);                /* closes dupfd */
    if (rc == TT_EIO && saved != 0) {
        errno = saved;
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    if (rc < 0) {
        capture_raise_tt(module, rc, "export failed");
        goto done;
    }
    if (close_rc != 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    res = Py_BuildValue(
        "{s:K,s:K,s:K,s:K,s:K,s:K,s:O}",
        "events", U64(st.events), "slices", U64(st.slices),
        "instants", U64(st.instants),
        "counter_values", U64(st.counter_values),
        "open_at_end", U64(st.open_at_end), "bad_chunks", U64(st.bad_chunks),
        "truncated", st.truncated ? Py_True : Py_False);
done:
    if (r != NULL)
        capture_reader_give_back(reader, r);
    Py_DECREF(reader);
    return res;
}
