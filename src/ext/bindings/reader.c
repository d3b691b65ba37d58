/* reader.c - the Python binding of tt_reader: Reader and its event
 * iterator, and the cursors the analyses read through (one way to open).
 *
 * Owns: the one open descriptor of a Reader's file (libtt reads it through
 * /proc/self/fd/N, so that every cursor of one Reader reads the same file
 * even if its path is replaced or removed; no mmap, so a file truncated
 * while read cannot SIGBUS us), lending the Reader's own tt_reader to one
 * user at a time (more users open their own over the same descriptor),
 * the thread ordinals (threads numbered in order of their first event),
 * and the conversion of headers, tables and events into Python objects.
 * Must not: trust the file; libtt validates and reports damage. GIL: held;
 * a Reader is not meant to be shared between threads.
 */
#include "bindings_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    PyObject_HEAD
    tt_reader_t *r;          /* owned: metadata, and a cursor to lend */
    int fd;                  /* owned: the file as opened, or -1 */
    PyObject *src;           /* owned bytes: what libtt opens, the fd's
                                /proc/self/fd/N or else the path */
    PyObject *path;          /* owned str */
    uint32_t n_threads;
    uint32_t *ordinal;       /* owned: thread id -> ordinal; NULL until
                                first needed */
    uint32_t *by_ordinal;    /* owned: ordinal -> thread id */
    uint32_t n_users;        /* live iterators and analyses */
    int lent;                /* r is lent to an iterator or an analysis */
    int closed;              /* close() was called */
    uint64_t *win;           /* owned (PyMem): set_window's tick spans */
    size_t n_win;            /* 0: no window */
} ReaderObject;

typedef struct {
    PyObject_HEAD
    ReaderObject *reader;    /* owned: keeps the descriptor open */
    tt_reader_t *r;          /* this iterator's cursor: the Reader's own
                                (lent) or owned */
    uint64_t errors;         /* malformed streams skipped */
} EventIterObject;

PyObject *
capture_text(const char *s)
{
    if (s == NULL)
        Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
}

PyObject *
capture_decode_fs(const char *s)
{
    if (s == NULL)
        Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "surrogateescape");
}

/* ------------------------------------------------------------ ordinals */

typedef struct {
    uint64_t first;
    uint32_t id;
    int empty;
} ord_key_t;

static int
ord_cmp(const void *a, const void *b)
{
    const ord_key_t *x = a, *y = b;
    if (x->empty != y->empty)
        return x->empty - y->empty;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Numbers threads by their first event (ties by id), as a merged reading
 * meets them; once, when first needed. 0, or -1 + MemoryError. */
static int
reader_ordinals(ReaderObject *self)
{
    uint32_t i, n;
    ord_key_t *keys;

    if (self->ordinal != NULL)
        return 0;
    n = tt_reader_n_threads(self->r);
    keys = PyMem_Calloc(n ? n : 1, sizeof(*keys));
    self->ordinal = PyMem_Calloc(n ? n : 1, sizeof(uint32_t));
    self->by_ordinal = PyMem_Calloc(n ? n : 1, sizeof(uint32_t));
    if (keys == NULL || self->ordinal == NULL || self->by_ordinal == NULL) {
        PyMem_Free(keys);
        PyMem_Free(self->ordinal);
        PyMem_Free(self->by_ordinal);
        self->ordinal = self->by_ordinal = NULL;
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < n; i++) {
        const tt_thread_info_t *t = tt_reader_thread(self->r, i);
        keys[i].id = i;
        keys[i].empty = t == NULL || t->events == 0;
        keys[i].first = t ? t->first_tick : 0;
    }
    qsort(keys, n, sizeof(*keys), ord_cmp);
    for (i = 0; i < n; i++) {
        self->ordinal[keys[i].id] = i;
        self->by_ordinal[i] = keys[i].id;
    }
    self->n_threads = n;
    PyMem_Free(keys);
    return 0;
}

/* --------------------------------------------------------------- Reader */

/* Raises for a failed tt_reader_open of the Reader's file: OSError
 * naming the path for TT_EIO with an errno, else TraceError. */
static void
raise_open(ReaderObject *self, int rc, const char *what)
{
    PyObject *module;
    if (rc == TT_EIO && errno != 0) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, self->path);
        return;
    }
    module = capture_module_of(Py_TYPE(self));
    if (module != NULL)
        capture_raise_tt(module, rc, what);
}

static int
Reader_init(ReaderObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", NULL};
    PyObject *path = NULL, *b;
    struct stat sb;
    char proc[64], why[160];
    int rc;

    if (self->r != NULL || self->path != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Reader is already open");
        return -1;
    }
    self->fd = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&", kwlist,
                                     PyUnicode_FSDecoder, &path))
        return -1;
    self->path = path;
    b = PyUnicode_EncodeFSDefault(path);
    if (b == NULL)
        return -1;
    self->fd = open(PyBytes_AS_STRING(b), O_RDONLY | O_CLOEXEC);
    if (self->fd < 0 || fstat(self->fd, &sb) < 0 ||
        (S_ISDIR(sb.st_mode) && (errno = EISDIR, 1))) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        Py_DECREF(b);
        return -1;
    }
    /* Every cursor reads the file this descriptor holds, wherever its
     * path points later; without /proc, the path itself. */
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", self->fd);
    if (access(proc, R_OK) == 0) {
        Py_DECREF(b);
        b = PyBytes_FromString(proc);
        if (b == NULL)
            return -1;
    }
    self->src = b;
    if (!S_ISREG(sb.st_mode)) {
        /* `tracetap info <(cat x.ttrace)`: not "truncated", but unread. */
        PyErr_Format(PyExc_OSError, "%R is not a regular file (a pipe or a "
                     "device): a recording is read from a file; save it to "
                     "one first", path);
        return -1;
    }
    errno = 0;
    /* Lazy: the first event is at hand at once; counts wait for the
     * first question that needs them (reader_complete). */
    rc = tt_reader_open_why(&self->r, PyBytes_AS_STRING(self->src),
                            TT_READ_MERGED | TT_READ_LAZY, why, sizeof why);
    if (rc < 0) {
        char what[sizeof why + 64];
        self->r = NULL;
        snprintf(what, sizeof what, "not a usable tracetap recording%s%s",
                 why[0] ? " (" : "", why[0] ? why : "");
        if (why[0])
            strcat(what, ")");
        raise_open(self, rc, what);
        return -1;
    }
    return 0;
}

static void
Reader_release(ReaderObject *self)
{
    if (self->r != NULL)
        tt_reader_close(self->r);
    self->r = NULL;
    /* fd is meaningful once init has set the path (a Reader that init
     * never ran on has fd 0 from tp_alloc: not ours to close). */
    if (self->path != NULL && self->fd >= 0)
        close(self->fd);
    self->fd = -1;
    PyMem_Free(self->ordinal);
    PyMem_Free(self->by_ordinal);
    self->ordinal = self->by_ordinal = NULL;
    PyMem_Free(self->win);
    self->win = NULL;
    self->n_win = 0;
}

static void
Reader_dealloc(ReaderObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Reader_release(self);
    Py_CLEAR(self->path);
    Py_CLEAR(self->src);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static int
reader_check(ReaderObject *self)
{
    if (self->r == NULL || self->closed) {
        PyErr_SetString(PyExc_ValueError, "the Reader is closed");
        return -1;
    }
    return 0;
}

static PyObject *
Reader_header(ReaderObject *self, PyObject *unused)
{
    const tt_header_t *h;
    PyObject *argv, *ops, *d;
    uint32_t i;

    if (reader_check(self) < 0)
        return NULL;
    h = tt_reader_header(self->r);
    argv = PyList_New(h->argc);
    ops = PyList_New(h->n_opnames);
    if (argv == NULL || ops == NULL)
        goto error;
    for (i = 0; i < h->argc; i++) {
        PyObject *s = capture_decode_fs(h->argv ? h->argv[i] : NULL);
        if (s == NULL)
            goto error;
        PyList_SET_ITEM(argv, i, s);
    }
    for (i = 0; i < h->n_opnames; i++) {
        const char *n = h->opnames ? h->opnames[i] : NULL;
        PyObject *s = capture_text(n != NULL && n[0] != '\0' ? n : NULL);
        if (s == NULL)
            goto error;
        PyList_SET_ITEM(ops, i, s);
    }
    d = Py_BuildValue("{s:N,s:N,s:N,s:N,s:K,s:K,s:N,s:K,s:I,s:N,s:N}",
                      "python_impl", capture_text(h->python_impl),
                      "python_version", capture_text(h->python_version),
                      "python_build", capture_text(h->python_build),
                      "argv", argv,
                      "start_unix_ns", (unsigned long long)h->start_unix_ns,
                      "start_tick", (unsigned long long)h->start_tick,
                      "clock_name", capture_text(h->clock_name),
                      "clock_hz", (unsigned long long)h->clock_hz,
                      "options", (unsigned int)h->options,
                      "options_text", capture_text(h->options_text),
                      "opnames", ops);
    return d;
error:
    Py_XDECREF(argv);
    Py_XDECREF(ops);
    return NULL;
}

/* Decodes what the lazy open left (tt_reader_scan), once, so that counts,
 * per-thread events and payload damage are whole-file answers; an
 * analysis or iteration that already read everything leaves nothing to
 * do. Interruptible, with the CLI's progress line. 0, or -1 with an
 * exception. */
static int
reader_complete(ReaderObject *self)
{
    int rc;
    if (reader_check(self) < 0)
        return -1;
    capture_progress_attach(self->r, self->path);
    rc = tt_reader_scan(self->r);
    if (!self->lent)
        tt_reader_set_progress(self->r, NULL, NULL);
    if (rc < 0) {
        PyObject *module = capture_module_of(Py_TYPE(self));
        if (module != NULL)
            capture_raise_tt(module, rc, "cannot read the recording");
        return -1;
    }
    return 0;
}

/* `complete=False` (keyword) asks for what is known without decoding the
 * rest of the file; the default answers for the whole file. -1 with an
 * exception, or 0 and *complete. */
static int
parse_complete(PyObject *args, PyObject *kw, int *complete)
{
    static char *kwlist[] = {"complete", NULL};
    *complete = 1;
    return PyArg_ParseTupleAndKeywords(args, kw, "|$p", kwlist, complete)
           ? 0 : -1;
}

static PyObject *
damage_dict(const tt_damage_t *d)
{
    return Py_BuildValue("{s:i,s:s,s:K,s:K,s:N,s:O}",
                         "status", d->status,
                         "status_text", tt_strerror(d->status),
                         "offset", (unsigned long long)d->offset,
                         "bytes_lost", (unsigned long long)d->bytes_lost,
                         "reason", PyUnicode_DecodeUTF8(
                             d->reason, (Py_ssize_t)strnlen(
                                 d->reason, sizeof(d->reason)), "replace"),
                         "clean_end", d->clean_end ? Py_True : Py_False);
}

static PyObject *
Reader_clock(ReaderObject *self, PyObject *unused)
{
    tt_clock_info_t c;
    if (reader_check(self) < 0)
        return NULL;
    if (tt_reader_clock(self->r, &c) == TT_ENOMEM)
        return PyErr_NoMemory();
    return Py_BuildValue("{s:K,s:d,s:I,s:I,s:K,s:K}",
                         "header_hz", (unsigned long long)c.header_hz,
                         "measured_hz", c.measured_hz,
                         "sync_points", (unsigned int)c.n_sync,
                         "bad_sync_records", (unsigned int)c.bad_records,
                         "max_sync_err_ns", (unsigned long long)c.max_err_ns,
                         "sync_span_ns", (unsigned long long)c.span_ns);
}

static PyObject *
Reader_damage(ReaderObject *self, PyObject *args, PyObject *kw)
{
    int complete;
    if (parse_complete(args, kw, &complete) < 0 || reader_check(self) < 0 ||
        (complete && reader_complete(self) < 0))
        return NULL;
    return damage_dict(tt_reader_damage(self->r));
}

/* True while a writer still has the file open (tt_file_being_written on
 * the open file, not on whatever the path names now). */
static PyObject *
Reader_being_written(ReaderObject *self, PyObject *unused)
{
    int rc;
    if (reader_check(self) < 0)
        return NULL;
    errno = 0;
    rc = tt_file_being_written(PyBytes_AS_STRING(self->src));
    if (rc < 0)
        return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError,
                                                    self->path);
    return PyBool_FromLong(rc);
}

static PyObject *
Reader_threads(ReaderObject *self, PyObject *args, PyObject *kw)
{
    PyObject *list;
    uint32_t i;
    int complete;
    if (parse_complete(args, kw, &complete) < 0 || reader_check(self) < 0 ||
        (complete && reader_complete(self) < 0) || reader_ordinals(self) < 0)
        return NULL;
    list = PyList_New(self->n_threads);
    if (list == NULL)
        return NULL;
    for (i = 0; i < self->n_threads; i++) {
        uint32_t id = self->by_ordinal[i];
        const tt_thread_info_t *t = tt_reader_thread(self->r, id);
        PyObject *d;
        if (t == NULL) {
            Py_DECREF(list);
            PyErr_SetString(PyExc_RuntimeError, "thread table changed");
            return NULL;
        }
        d = Py_BuildValue("{s:I,s:I,s:K,s:N,s:K,s:K,s:K}",
                          "ordinal", i, "id", id,
                          "ident", (unsigned long long)t->ident,
                          "name", capture_text(t->name ? t->name : ""),
                          "events", (unsigned long long)t->events,
                          "first_ns", (unsigned long long)
                              tt_reader_ns(self->r, t->first_tick),
                          "last_ns", (unsigned long long)
                              tt_reader_ns(self->r, t->last_tick));
        if (d == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, d);
    }
    return list;
}

static PyObject *
Reader_counts(ReaderObject *self, PyObject *unused)
{
    uint64_t counts[TT_EV__COUNT], dropped = 0;
    PyObject *d;
    int k;
    if (reader_complete(self) < 0)
        return NULL;
    memset(counts, 0, sizeof(counts));
    tt_reader_counts(self->r, counts, &dropped);
    d = PyDict_New();
    if (d == NULL)
        return NULL;
    for (k = 1; k < TT_EV__COUNT; k++) {
        PyObject *v;
        if (k == TT_EV_DROPPED)
            continue;
        v = PyLong_FromUnsignedLongLong(counts[k]);
        if (v == NULL || PyDict_SetItemString(d, tt_event_kind_name(k), v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(v);
    }
    return Py_BuildValue("(NK)", d, (unsigned long long)dropped);
}

static PyObject *
Reader_notes(ReaderObject *self, PyObject *unused)
{
    PyObject *list;
    uint32_t i, n;
    if (reader_check(self) < 0)
        return NULL;
    n = tt_reader_n_notes(self->r);
    list = PyList_New(0);
    for (i = 0; list != NULL && i < n; i++) {
        const char *k = NULL, *v = NULL;
        PyObject *t;
        if (tt_reader_note(self->r, i, &k, &v) < 0)
            continue;
        t = Py_BuildValue("(NN)", capture_text(k), capture_text(v));
        if (t == NULL || PyList_Append(list, t) < 0)
            Py_CLEAR(list);
        Py_XDECREF(t);
    }
    return list;
}

/* The table id `arg` names, for an open reader: 0, or -1 with an
 * exception (ValueError when closed, IndexError naming `what` above
 * 2^32-1; the caller's lookup decides the rest, with no_such). */
static int
reader_id(ReaderObject *self, PyObject *arg, const char *what, uint32_t *id)
{
    unsigned long v;
    if (reader_check(self) < 0)
        return -1;
    v = PyLong_AsUnsignedLong(arg);
    if (v == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    if (v > UINT32_MAX) {
        PyErr_Format(PyExc_IndexError, "no %s %lu in the recording", what, v);
        return -1;
    }
    *id = (uint32_t)v;
    return 0;
}

static PyObject *
no_such(const char *what, uint32_t id)
{
    PyErr_Format(PyExc_IndexError, "no %s %lu in the recording", what,
                 (unsigned long)id);
    return NULL;
}

static PyObject *
Reader_string(ReaderObject *self, PyObject *arg)
{
    uint32_t id;
    const char *s;
    if (reader_id(self, arg, "string", &id) < 0)
        return NULL;
    s = tt_reader_string(self->r, id);
    return s != NULL ? capture_text(s) : no_such("string", id);
}

/* type(id) -> (name, basicsize, flags) */
static PyObject *
Reader_type(ReaderObject *self, PyObject *arg)
{
    uint32_t id;
    const tt_type_def_t *t;
    if (reader_id(self, arg, "type", &id) < 0)
        return NULL;
    t = tt_reader_type(self->r, id);
    if (t == NULL)
        return no_such("type", id);
    return Py_BuildValue("(NKI)", capture_text(tt_reader_string(self->r, t->name)),
                         (unsigned long long)t->basicsize, t->flags);
}

/* code(id) -> (filename, qualname, firstlineno, flags, parent, ranges) */
static PyObject *
Reader_code(ReaderObject *self, PyObject *arg)
{
    uint32_t id;
    const tt_code_def_t *c;
    PyObject *ranges;
    uint32_t i;

    if (reader_id(self, arg, "code", &id) < 0)
        return NULL;
    c = tt_reader_code(self->r, id);
    if (c == NULL)
        return no_such("code", id);
    ranges = PyList_New(c->n_ranges);
    if (ranges == NULL)
        return NULL;
    for (i = 0; i < c->n_ranges; i++) {
        const tt_line_range_t *r = &c->ranges[i];
        PyObject *t = r->line == TT_NO_LINE
            ? Py_BuildValue("(IIO)", r->start, r->end, Py_None)
            : Py_BuildValue("(IIi)", r->start, r->end, r->line);
        if (t == NULL) {
            Py_DECREF(ranges);
            return NULL;
        }
        PyList_SET_ITEM(ranges, i, t);
    }
    return Py_BuildValue("(NNiIlN)",
                         capture_decode_fs(tt_reader_string(self->r,
                                                            c->filename)),
                         capture_text(tt_reader_string(self->r, c->qualname)),
                         c->firstlineno, c->flags,
                         c->parent == TT_NO_PARENT ? -1L : (long)c->parent,
                         ranges);
}

/* sources() -> {filename: {"size", "mtime_ns", "crc32c"}}: what
 * identified each source file when the recording first saw code from it
 * (crc32c None when the file was too large to hash); {} for a file of an
 * older writer. */
static PyObject *
Reader_sources(ReaderObject *self, PyObject *unused)
{
    PyObject *d;
    uint32_t i;

    if (reader_check(self) < 0)
        return NULL;
    d = PyDict_New();
    for (i = 0; d != NULL && i < tt_reader_n_sources(self->r); i++) {
        const tt_source_def_t *sd = tt_reader_source(self->r, i);
        PyObject *k = capture_decode_fs(tt_reader_string(self->r, sd->filename));
        PyObject *crc = sd->flags & TT_SOURCE_HASHED
            ? PyLong_FromUnsignedLong(sd->crc32c) : Py_NewRef(Py_None);
        PyObject *v = k && crc ? Py_BuildValue(
            "{s:K,s:L,s:O}", "size", (unsigned long long)sd->size,
            "mtime_ns", (long long)sd->mtime_ns, "crc32c", crc) : NULL;
        if (v == NULL || PyDict_SetItem(d, k, v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(k);
        Py_XDECREF(crc);
        Py_XDECREF(v);
    }
    return d;
}

/* set_window(spans): limits every later iteration and analysis of this
 * Reader to events whose tick lies in one of the [lo, hi) spans (a
 * context's, from context_spans()); None or [] lifts the limit. */
static PyObject *
Reader_set_window(ReaderObject *self, PyObject *arg)
{
    PyObject *seq = NULL;
    uint64_t *win = NULL;
    Py_ssize_t i, n = 0;

    if (reader_check(self) < 0)
        return NULL;
    if (arg != Py_None) {
        seq = PySequence_Fast(arg, "set_window() takes a list of (lo, hi)");
        if (seq == NULL)
            return NULL;
        n = PySequence_Fast_GET_SIZE(seq);
        win = PyMem_Malloc((size_t)(n ? n : 1) * 2 * sizeof *win);
        if (win == NULL)
            goto nomem;
        for (i = 0; i < n; i++) {
            unsigned long long lo, hi;
            if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "KK",
                                  &lo, &hi))
                goto error;
            win[2 * i] = lo;
            win[2 * i + 1] = hi;
        }
        Py_DECREF(seq);
    }
    PyMem_Free(self->win);
    self->win = win;
    self->n_win = (size_t)n;
    Py_RETURN_NONE;
nomem:
    PyErr_NoMemory();
error:
    PyMem_Free(win);
    Py_XDECREF(seq);
    return NULL;
}

static PyObject *
Reader_n_codes(ReaderObject *self, void *unused)
{
    if (reader_check(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLong(tt_reader_n_codes(self->r));
}

static PyObject *
Reader_ns(ReaderObject *self, PyObject *arg)
{
    unsigned long long tick;
    if (reader_check(self) < 0)
        return NULL;
    tick = PyLong_AsUnsignedLongLong(arg);
    if (tick == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    return PyLong_FromUnsignedLongLong(tt_reader_ns(self->r, tick));
}

/* Raises for a cursor that could not be opened over the Reader's file,
 * or found a different recording there: the file was truncated or
 * rewritten (a new recording into the same path) since it was opened. */
static void
raise_changed(ReaderObject *self, int rc)
{
    PyObject *module;
    char what[] = "the recording changed since it was opened (truncated, "
                  "or rewritten by a new recording?)";
    if (rc == TT_EIO && errno != 0) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, self->path);
        return;
    }
    module = capture_module_of(Py_TYPE(self));
    if (module == NULL)
        return;
    if (rc == 0)
        rc = TT_ECORRUPT;
    {
        PyObject *msg = PyUnicode_FromFormat("%U: %s", self->path, what);
        const char *m = msg ? PyUnicode_AsUTF8(msg) : NULL;
        if (m != NULL)
            capture_raise_tt(module, rc, m);
        Py_XDECREF(msg);
    }
}

static int
same_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* 1 if b's header is the one a read: the same recording. */
static int
same_recording(const tt_reader_t *a, const tt_reader_t *b)
{
    const tt_header_t *x = tt_reader_header(a), *y = tt_reader_header(b);
    return x->start_unix_ns == y->start_unix_ns &&
           x->start_tick == y->start_tick && x->clock_hz == y->clock_hz &&
           x->options == y->options &&
           same_str(x->python_version, y->python_version);
}

/* A cursor over the Reader's file for one user (an iterator, an
 * analysis): the Reader's own tt_reader when it is free, else a new one
 * opened over the same descriptor. 0 and *out, or -1 with an exception
 * (closed Reader, the file changed, no memory). Give it back with
 * reader_give_back. */
static int
reader_lend(ReaderObject *self, tt_reader_t **out)
{
    int rc;
    *out = NULL;
    if (reader_check(self) < 0)
        return -1;
    if (!self->lent) {
        self->lent = 1;
        *out = self->r;
    } else {
        errno = 0;
        rc = tt_reader_open(out, PyBytes_AS_STRING(self->src),
                            TT_READ_MERGED | TT_READ_LAZY);
        if (rc < 0 || !same_recording(self->r, *out)) {
            tt_reader_close(*out);
            *out = NULL;
            raise_changed(self, rc);
            return -1;
        }
    }
    if (self->n_win && tt_reader_set_window(*out, self->win, self->n_win) < 0) {
        if (*out != self->r)
            tt_reader_close(*out);
        self->lent = *out == self->r ? 0 : self->lent;
        *out = NULL;
        PyErr_NoMemory();
        return -1;
    }
    self->n_users++;
    return 0;
}

static void
reader_give_back(ReaderObject *self, tt_reader_t *r)
{
    if (r == NULL)
        return;
    if (r == self->r) {
        tt_reader_set_progress(r, NULL, NULL);
        if (self->n_win)
            (void)tt_reader_set_window(r, NULL, 0);   /* never fails */
        self->lent = 0;
    } else {
        tt_reader_close(r);
    }
    if (--self->n_users == 0 && self->closed)
        Reader_release(self);
}

/* For the analyses (capture.h): `obj` must be a Reader. */
int
capture_reader_lend(PyObject *module, PyObject *obj, tt_reader_t **out)
{
    capture_state_t *st = capture_get_state(module);
    if (!PyObject_TypeCheck(obj, st->reader_type)) {
        *out = NULL;
        PyErr_Format(PyExc_TypeError, "expected a tracetap Reader, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    return reader_lend((ReaderObject *)obj, out);
}

void
capture_reader_give_back(PyObject *obj, tt_reader_t *r)
{
    reader_give_back((ReaderObject *)obj, r);
}

PyObject *
capture_reader_path(PyObject *obj)
{
    return ((ReaderObject *)obj)->path;
}

PyObject *
capture_reader_get(PyObject *module, PyObject *item)
{
    capture_state_t *st = capture_get_state(module);
    if (PyObject_TypeCheck(item, st->reader_type))
        return Py_NewRef(item);
    return PyObject_CallOneArg((PyObject *)st->reader_type, item);
}

static PyObject *
Reader_close(ReaderObject *self, PyObject *unused)
{
    /* Live iterators and analyses read through the descriptor: the last
     * one releases it. */
    self->closed = 1;
    if (self->n_users == 0)
        Reader_release(self);
    Py_RETURN_NONE;
}

static PyObject *
Reader_events(ReaderObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"thread", NULL};
    PyObject *thread = Py_None, *module;
    capture_state_t *st;
    EventIterObject *it;
    uint32_t sel = UINT32_MAX;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwlist, &thread))
        return NULL;
    if (reader_check(self) < 0 || reader_ordinals(self) < 0)
        return NULL;
    if (thread != Py_None) {
        long ord = PyLong_AsLong(thread);
        if (ord == -1 && PyErr_Occurred())
            return NULL;
        if (ord < 0 || (unsigned long)ord >= self->n_threads) {
            PyErr_Format(PyExc_ValueError,
                         "no thread %ld in the recording (it has %u)", ord,
                         self->n_threads);
            return NULL;
        }
        sel = self->by_ordinal[ord];
    }
    module = capture_module_of(Py_TYPE(self));
    if (module == NULL)
        return NULL;
    st = capture_get_state(module);
    it = PyObject_New(EventIterObject, st->eventiter_type);
    if (it == NULL)
        return NULL;
    it->reader = (ReaderObject *)Py_NewRef(self);
    it->errors = 0;
    if (reader_lend(self, &it->r) < 0) {
        Py_DECREF(it);
        return NULL;
    }
    rc = tt_reader_select_thread(it->r, sel);
    if (rc < 0) {
        Py_DECREF(it);
        return capture_raise_tt(module, rc, "cannot select the thread");
    }
    return (PyObject *)it;
}

static PyMethodDef reader_methods[] = {
    {"header", (PyCFunction)Reader_header, METH_NOARGS,
     "header() -> dict: interpreter, argv, start time, clock, options."},
    {"damage", (PyCFunction)(void (*)(void))Reader_damage,
     METH_VARARGS | METH_KEYWORDS,
     "damage(*, complete=True) -> dict: status, offset, bytes_lost, reason, "
     "clean_end; complete=False: only what is known without decoding the "
     "rest of the file (the open pass and what was read since)."},
    {"clock", (PyCFunction)Reader_clock, METH_NOARGS,
     "clock() -> dict: how ticks become ns: header_hz, measured_hz (between "
     "the first and last sync points), sync_points, bad_sync_records, "
     "max_sync_err_ns, sync_span_ns."},
    {"being_written", (PyCFunction)Reader_being_written, METH_NOARGS,
     "being_written() -> bool: a writer still has the file open (the "
     "recording is in progress)."},
    {"threads", (PyCFunction)(void (*)(void))Reader_threads,
     METH_VARARGS | METH_KEYWORDS,
     "threads(*, complete=True) -> list of dicts, in order of first event; "
     "complete=False does not decode the whole file, so 'events' and "
     "'last_ns' count only what was read so far."},
    {"counts", (PyCFunction)Reader_counts, METH_NOARGS,
     "counts() -> (events by kind, dropped) over the whole file."},
    {"notes", (PyCFunction)Reader_notes, METH_NOARGS,
     "notes() -> list of (key, value) recorded in the file."},
    {"string", (PyCFunction)Reader_string, METH_O,
     "string(id) -> str."},
    {"code", (PyCFunction)Reader_code, METH_O,
     "code(id) -> (filename, qualname, firstlineno, flags, parent, "
     "ranges)."},
    {"type", (PyCFunction)Reader_type, METH_O,
     "type(id) -> (name, basicsize, flags): a type OBJ_CREATE events name."},
    {"ns", (PyCFunction)Reader_ns, METH_O,
     "ns(tick) -> nanoseconds since the recording started."},
    {"events", (PyCFunction)(void (*)(void))Reader_events,
     METH_VARARGS | METH_KEYWORDS,
     "events(thread=None) -> iterator of (kind, thread, t_ns, code, line, "
     "offset, opcode, extra, addr, size, resume, yields) tuples; thread is "
     "an ordinal, resume whether a call resumes a generator or coroutine, "
     "yields whether a return suspends one (marked recordings only: "
     "header option 0x100)."},
    {"set_window", (PyCFunction)Reader_set_window, METH_O,
     "set_window(spans): every later iteration and analysis of this Reader "
     "sees only events whose tick lies in one of the [lo, hi) spans "
     "(context_spans()); None or [] lifts the limit."},
    {"sources", (PyCFunction)Reader_sources, METH_NOARGS,
     "sources() -> {filename: {size, mtime_ns, crc32c}}: each source "
     "file's identity when code from it was first recorded (crc32c None "
     "if too large to hash); {} for files of older writers."},
    {"close", (PyCFunction)Reader_close, METH_NOARGS,
     "close(): release the file (when no iterator or analysis uses "
     "it)."},
    {NULL, NULL, 0, NULL},
};

static PyObject *
Reader_path(ReaderObject *self, void *unused)
{
    return Py_NewRef(self->path ? self->path : Py_None);
}

/* The open file's size now (it grows while a recording is in progress). */
static PyObject *
Reader_size(ReaderObject *self, void *unused)
{
    struct stat sb;
    if (reader_check(self) < 0)
        return NULL;
    if (fstat(self->fd, &sb) < 0)
        return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError,
                                                    self->path);
    return PyLong_FromLongLong((long long)sb.st_size);
}

static PyGetSetDef reader_getset[] = {
    {"n_codes", (getter)Reader_n_codes, NULL, "number of code records", NULL},
    {"path", (getter)Reader_path, NULL, "the recording's path", NULL},
    {"size", (getter)Reader_size, NULL,
     "the open file's size in bytes, now", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot reader_slots[] = {
    {Py_tp_init, (void *)Reader_init},
    {Py_tp_new, (void *)PyType_GenericNew},
    {Py_tp_dealloc, (void *)Reader_dealloc},
    {Py_tp_methods, (void *)reader_methods},
    {Py_tp_getset, (void *)reader_getset},
    {Py_tp_doc, (void *)"Reader(path): a validated, read-only view of a "
                        ".ttrace recording; holds the file open, so its "
                        "iterators and analyses read the same file even if "
                        "the path is replaced."},
    {0, NULL},
};

PyType_Spec capture_reader_spec = {
    .name = "tracetap._tracetap.Reader",
    .basicsize = sizeof(ReaderObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = reader_slots,
};

/* ------------------------------------------------------------ EventIter */

static PyObject *
EventIter_next(EventIterObject *self)
{
    tt_event_t ev;
    PyObject *t;
    ReaderObject *reader = self->reader;
    int rc, is_obj;
    Py_ssize_t i;
    uint64_t extra;

    for (;;) {
        rc = tt_reader_next(self->r, &ev);
        if (rc == 1)
            break;
        if (rc == 0)
            return NULL;                /* StopIteration */
        if (rc == TT_EIO) {             /* the file could not be read */
            raise_changed(reader, rc);
            return NULL;
        }
        /* A malformed stream: libtt skipped the rest of that chunk and
         * recorded it in the damage report (this iterator's damage());
         * go on with the next one. */
        if (++self->errors > 1000000u)
            return NULL;
    }
    extra = ev.kind == TT_EV_EXCEPTION ? ev.exc_type
          : ev.kind == TT_EV_DROPPED ? ev.count
          : ev.kind == TT_EV_OBJ_CREATE ? ev.type : 0;
    if (ev.kind == TT_EV_OBJ_CREATE && ev.line == TT_NO_LINE &&
        ev.offset != TT_NO_OFFSET) {
        /* A site known by offset (--objects --no-calls): its line. */
        const tt_code_def_t *c = tt_reader_code(self->r, ev.code);
        if (c != NULL)
            ev.line = tt_code_line_at(c, ev.offset);
    }
    is_obj = ev.kind == TT_EV_OBJ_CREATE || ev.kind == TT_EV_OBJ_DESTROY;
    t = PyTuple_New(12);
    if (t == NULL)
        return NULL;
    PyTuple_SET_ITEM(t, 0, PyLong_FromLong(ev.kind));
    PyTuple_SET_ITEM(t, 1, PyLong_FromUnsignedLong(
        ev.thread < reader->n_threads ? reader->ordinal[ev.thread]
                                      : ev.thread));
    PyTuple_SET_ITEM(t, 2, PyLong_FromUnsignedLongLong(
        tt_reader_ns(self->r, ev.tick)));
    PyTuple_SET_ITEM(t, 3, PyLong_FromUnsignedLong(ev.code));
    PyTuple_SET_ITEM(t, 4, ev.line == TT_NO_LINE ? Py_NewRef(Py_None)
                                                 : PyLong_FromLong(ev.line));
    PyTuple_SET_ITEM(t, 5, ev.offset == TT_NO_OFFSET
                               ? Py_NewRef(Py_None)
                               : PyLong_FromUnsignedLong(ev.offset));
    PyTuple_SET_ITEM(t, 6, PyLong_FromLong(ev.opcode));
    PyTuple_SET_ITEM(t, 7, PyLong_FromUnsignedLongLong(extra));
    PyTuple_SET_ITEM(t, 8, is_obj ? PyLong_FromUnsignedLongLong(ev.addr)
                                  : Py_NewRef(Py_None));
    PyTuple_SET_ITEM(t, 9, ev.kind == TT_EV_OBJ_CREATE
                               ? PyLong_FromUnsignedLongLong(ev.size)
                               : Py_NewRef(Py_None));
    /* A CALL that resumes a generator and a RETURN that suspends one:
     * the recording's marks (or, in an older one, libtt's line rule for a
     * resumption), as `calls` counts them. */
    PyTuple_SET_ITEM(t, 10, PyBool_FromLong(tt_event_resumes(self->r, &ev)));
    PyTuple_SET_ITEM(t, 11, PyBool_FromLong(tt_event_yields(self->r, &ev)));
    for (i = 0; i < 12; i++) {
        if (PyTuple_GET_ITEM(t, i) == NULL) {
            Py_DECREF(t);
            return NULL;
        }
    }
    return t;
}

static void
EventIter_dealloc(EventIterObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    ReaderObject *reader = self->reader;
    if (reader != NULL) {
        reader_give_back(reader, self->r);
        Py_DECREF(reader);
    }
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *
EventIter_errors(EventIterObject *self, void *unused)
{
    return PyLong_FromUnsignedLongLong(self->errors);
}

/* What this iterator's cursor met: the Reader's damage report, or, when
 * the iterator read the file again, the report of that reading (a file
 * cut since it was opened shows here). */
static PyObject *
EventIter_damage(EventIterObject *self, PyObject *unused)
{
    return damage_dict(tt_reader_damage(self->r));
}

static PyMethodDef eventiter_methods[] = {
    {"damage", (PyCFunction)EventIter_damage, METH_NOARGS,
     "damage() -> dict: what this iteration found wrong with the file "
     "(as Reader.damage())."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef eventiter_getset[] = {
    {"errors", (getter)EventIter_errors, NULL,
     "malformed event streams skipped so far", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot eventiter_slots[] = {
    {Py_tp_iter, (void *)PyObject_SelfIter},
    {Py_tp_iternext, (void *)EventIter_next},
    {Py_tp_dealloc, (void *)EventIter_dealloc},
    {Py_tp_getset, (void *)eventiter_getset},
    {Py_tp_methods, (void *)eventiter_methods},
    {0, NULL},
};

PyType_Spec capture_eventiter_spec = {
    .name = "tracetap._tracetap.EventIter",
    .basicsize = sizeof(EventIterObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = eventiter_slots,
};
