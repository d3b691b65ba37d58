/* objsession.c - starting and stopping --objects: the refusals (3.11,
 * 3.12, free-threaded builds, another tool holding the ref tracer), the
 * DESTROY-gap self-test and its notes, and at stop the survivor check
 * against the collector's view, the references held while the report is
 * written, the 0x81 chunk and the summary.
 *
 * Must not: run from a hook. GIL: held; start and stop run on the thread
 * that calls tracetap's start()/stop().
 */
#include "objects.h"

#include <string.h>

#if !TTX_HAVE_REFTRACER

int
capture_objects_precheck(void)
{
    if (TTX_FREE_THREADED)
        PyErr_SetString(PyExc_RuntimeError,
                        "--objects is not supported on a free-threaded "
                        "Python build; use a regular build");
    else
        PyErr_Format(PyExc_RuntimeError,
                     "--objects needs CPython 3.13 or newer (it uses "
                     "PyRefTracer, new in 3.13); this is Python %d.%d.%d",
                     PY_MAJOR_VERSION, PY_MINOR_VERSION, PY_MICRO_VERSION);
    return -1;
}

int
capture_objects_start(capture_rec_t *rec, int mode)
{
    (void)rec;
    (void)mode;
    return capture_objects_precheck();
}

PyObject *
capture_objects_stop(capture_rec_t *rec, PyObject *warnings)
{
    (void)rec;
    (void)warnings;
    Py_RETURN_NONE;
}

void
capture_objects_enable(capture_rec_t *rec)
{
    (void)rec;
}

PyObject *
capture_objects_selftest(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    if (capture_objects_precheck() < 0)
        return NULL;
    Py_RETURN_NONE;
}

void
capture_objects_abort(capture_rec_t *rec)
{
    (void)rec;
}

#else

/* The live table allocates with PyMem_Raw: no Python object, so it is
 * safe inside the ref tracer. Its growth is ours, not the program's:
 * --bytes does not charge it. */
static void *
live_calloc(size_t n, size_t size)
{
    void *p;
    TTX_OBJ_OWN(p = PyMem_RawCalloc(n, size));
    return p;
}

static const ttx_livealloc_t live_alloc = {live_calloc, PyMem_RawFree};

/* ------------------------------------------------------------- helpers */

static void
objects_free(capture_objects_t *o)
{
    if (o == NULL)
        return;
    ttx_livetab_free(&o->live);
    capture_objects_free_threads(o);
    PyMem_RawFree(o->types);
    PyMem_RawFree(o->type_gc);
    PyMem_RawFree(o->rows);
    PyMem_RawFree(o->row_heads);
    PyMem_RawFree(o->ext);
    PyMem_RawFree(o->dead);
    Py_XDECREF(o->s_module);
    PyMem_RawFree(o);
}

static void
note(capture_rec_t *rec, const char *key, const char *value)
{
    if (tt_writer_note(rec->w, key, value) < 0)
        rec->problems.writer_errors++;
}

/* A copy of the rows' statistics for the writer (PyMem_Raw), or NULL when
 * there are none or memory ran out. */
static tt_objstat_t *
rows_copy(const capture_objects_t *o)
{
    tt_objstat_t *rows;
    uint32_t i;
    if (o->n_rows == 0)
        return NULL;
    rows = PyMem_RawMalloc(o->n_rows * sizeof(*rows));
    if (rows != NULL)
        for (i = 0; i < o->n_rows; i++)
            rows[i] = o->rows[i].st;
    return rows;
}

void
capture_objects_write_rows(capture_objects_t *o)
{
    capture_rec_t *rec = capture_rec;
    tt_objagg_summary_t sum;
    tt_objstat_t *rows;

    if (rec == NULL || o->n_rows == 0)
        return;
    rows = rows_copy(o);
    memset(&sum, 0, sizeof(sum));
    if (rows == NULL ||
        tt_writer_objagg(rec->w, &sum, rows, o->n_rows, NULL, 0, NULL, 0) < 0) {
        rec->problems.writer_errors++;
        PyMem_RawFree(rows);
        return;                  /* kept: the next write or stop tries */
    }
    PyMem_RawFree(rows);
    o->n_rows = 0;
    memset(o->row_heads, 0xff, ((size_t)1 << o->rbits) * sizeof(uint32_t));
    ttx_liveops_rowcache_clear(o);
}

/* Who holds the ref tracer, for a message: tracemalloc or "another tool". */
static const char *
holder_name(void)
{
    PyObject *tm = PyImport_ImportModule("tracemalloc"), *r = NULL;
    int tracing = 0;
    if (tm != NULL)
        r = PyObject_CallMethod(tm, "is_tracing", NULL);
    if (r != NULL)
        tracing = PyObject_IsTrue(r) == 1;
    Py_XDECREF(r);
    Py_XDECREF(tm);
    PyErr_Clear();
    return tracing ? "tracemalloc" : "another tool";
}

/* The DESTROY gaps to assume when the self-test could not run. */
static void
gaps_by_version(ttx_gaps_t *g)
{
    g->eval_loop = PY_VERSION_HEX >= 0x030D0000 &&
                   PY_VERSION_HEX < 0x030D0300;
    g->trashcan = PY_VERSION_HEX >= 0x030E0000 &&
                  PY_VERSION_HEX < 0x030F0000;
}

/* --------------------------------------------------------------- start */

int
capture_objects_precheck(void)
{
    void *data = NULL;
    if (PyRefTracer_GetTracer(&data) != NULL) {
        PyErr_Format(PyExc_RuntimeError,
                     "--objects needs CPython's reference tracer "
                     "(PyRefTracer), but %s holds it; stop it first (for "
                     "tracemalloc: tracemalloc.stop(), or unset "
                     "PYTHONTRACEMALLOC) or record without --objects",
                     holder_name());
        return -1;
    }
    return 0;
}

int
capture_objects_start(capture_rec_t *rec, int mode)
{
    capture_objects_t *o = NULL;
    const char *why = NULL;
    char buf[600];

    if (capture_objects_precheck() < 0)
        return -1;
    o = PyMem_RawCalloc(1, sizeof(*o));
    if (o == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    o->aggregate = mode == 2;
    o->shadow_sites = rec->calls && (rec->lines || rec->count);
    /* Without calls, only object events go to the buffers: they can wait
     * in the ring and leave it in order (liveops.c). */
    o->defer = mode == 1 && !rec->calls;
    if (o->defer)
        o->ext = PyMem_RawMalloc(TTX_RING_OPS * sizeof(*o->ext));
    o->tbits = 8;
    o->types = PyMem_RawCalloc((size_t)1 << o->tbits, sizeof(*o->types));
    o->rbits = 8;
    o->row_heads = PyMem_RawMalloc(((size_t)1 << o->rbits) * sizeof(uint32_t));
    o->s_module = PyUnicode_InternFromString("__module__");
    if (o->types == NULL || o->row_heads == NULL || o->s_module == NULL ||
        (o->defer && o->ext == NULL) ||
        ttx_livetab_init(&o->live, &live_alloc) < 0) {
        objects_free(o);
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        return -1;
    }
    memset(o->row_heads, 0xff, ((size_t)1 << o->rbits) * sizeof(uint32_t));
    ttx_liveops_rowcache_clear(o);
    o->frames_ok = ttx_frameaddr_init(&why) == 0;
    capture_objects_site_cache_clear();
    if (!o->frames_ok && !o->shadow_sites) {
        snprintf(buf, sizeof(buf), "creation sites are unknown: %s", why);
        note(rec, "objects.no_sites", buf);
    }

    if (ttx_gaps_selftest(&o->gaps) < 0) {
        PyObject *t, *v, *tb, *s;
        PyErr_Fetch(&t, &v, &tb);
        s = v ? PyObject_Str(v) : NULL;
        snprintf(buf, sizeof(buf), "the start-up DESTROY-gap self-test "
                 "failed (%s); gaps are assumed from the version",
                 s ? PyUnicode_AsUTF8(s) : "?");
        PyErr_Clear();
        Py_XDECREF(s);
        Py_XDECREF(t);
        Py_XDECREF(v);
        Py_XDECREF(tb);
        note(rec, "destroy_gap.selftest", buf);
        gaps_by_version(&o->gaps);
    }
    if (o->gaps.eval_loop) {
        snprintf(buf, sizeof(buf),
                 "objects freed by the interpreter loop fire no DESTROY "
                 "(gh-130382, CPython 3.13.0-3.13.2; self-test: %llu floats "
                 "created, %llu destroyed). Deaths of any type may be "
                 "missing: destroyed counts and lifetimes are low, and a "
                 "survivor is reported as a leak only if found alive at "
                 "stop. Creation counts are exact.",
                 (unsigned long long)o->gaps.floats_created,
                 (unsigned long long)o->gaps.floats_destroyed);
        note(rec, "destroy_gap.eval_loop", buf);
    }
    if (o->gaps.trashcan) {
        snprintf(buf, sizeof(buf),
                 "objects deferred by the trashcan (deeply nested "
                 "containers) fire no DESTROY (gh-156371, CPython 3.14 up "
                 "to at least 3.14.7; self-test: %llu of %llu nested lists "
                 "lost theirs). Only GC container types are affected: their "
                 "survivors are checked against the collector at stop; "
                 "other types are exact. Creation counts are exact.",
                 (unsigned long long)(o->gaps.lists_created -
                                      o->gaps.lists_destroyed),
                 (unsigned long long)o->gaps.lists_created);
        note(rec, "destroy_gap.trashcan", buf);
    }

    o->ghosts = o->gaps.eval_loop || o->gaps.trashcan;
    o->ghost_all = o->gaps.eval_loop;
    rec->objects = o;
    o->main_ot = capture_objects_thread(rec, o);
    if (o->main_ot == NULL) {
        rec->objects = NULL;
        capture_objects_free_threads(o);
        objects_free(o);
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        return -1;
    }
    ttx_imports_install(rec);
    /* With line events the buffer's clock is never more than a line
     * behind; without them only the ticker bounds how stale a time is. */
    if (!(rec->calls && rec->lines) && ttx_objclock_start() < 0)
        note(rec, "objects.clock_ticker", "the clock ticker thread could "
             "not start: an object event's time is that of the thread's "
             "last trace event or of its last 16th object event");
    return 0;
}

PyObject *
capture_objects_selftest(PyObject *module, PyObject *unused)
{
    ttx_gaps_t g;
    (void)module;
    (void)unused;
    if (capture_rec != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "a recording is running");
        return NULL;
    }
    if (capture_objects_precheck() < 0 || ttx_gaps_selftest(&g) < 0)
        return NULL;
    return Py_BuildValue("{s:O,s:O,s:K,s:K,s:K,s:K,s:d}",
                         "eval_loop", g.eval_loop ? Py_True : Py_False,
                         "trashcan", g.trashcan ? Py_True : Py_False,
                         "floats_created", (unsigned long long)g.floats_created,
                         "floats_destroyed",
                         (unsigned long long)g.floats_destroyed,
                         "lists_created", (unsigned long long)g.lists_created,
                         "lists_destroyed",
                         (unsigned long long)g.lists_destroyed,
                         "ms", g.ms);
}

void
capture_objects_enable(capture_rec_t *rec)
{
    /* Cannot fail with the GIL held (3.13, 3.14: two stores). */
    if (rec->objects != NULL)
        (void)PyRefTracer_SetTracer(capture_objects_hook(rec->objects),
                                    rec->objects);
}

void
capture_objects_abort(capture_rec_t *rec)
{
    capture_objects_t *o = rec->objects;
    void *data;
    if (o == NULL)
        return;
    if (PyRefTracer_GetTracer(&data) == capture_objects_hook(o) &&
        data == o)
        (void)PyRefTracer_SetTracer(NULL, NULL);
    ttx_objclock_stop();
    ttx_imports_uninstall(rec, 0);
    rec->objects = NULL;
    objects_free(o);
}

/* ------------------------------------------------------- the stop check */

void
capture_objects_stop_dead(capture_objects_t *o, ttx_live_t *e)
{
    if (o->n_dead == o->cap_dead) {
        size_t cap = o->cap_dead ? 2 * o->cap_dead : 256;
        void *v = PyMem_RawRealloc(o->dead, cap * sizeof(*o->dead));
        if (v == NULL) {
            o->nomem++;
            return;
        }
        o->dead = v;
        o->cap_dead = cap;
    }
    o->dead[o->n_dead++] = e->addr;
    if (o->aggregate)
        o->rows[ttx_live_id(e->meta)].st.died_unseen++;
    o->stop_dead++;
    ttx_livetab_remove(&o->live, e);
}

/* A set of object addresses (PyMem_Raw), and the walk that fills it. */
typedef struct {
    uintptr_t *s;
    size_t bits, n;
    PyObject **stack;
    size_t sn, scap;
    int nomem;
} reach_t;

static int
reach_has(const reach_t *r, uintptr_t a)
{
    size_t m = ((size_t)1 << r->bits) - 1, i = ttx_live_hash(a, (uint32_t)r->bits);
    while (r->s[i]) {
        if (r->s[i] == a)
            return 1;
        i = (i + 1) & m;
    }
    return 0;
}

/* 1 if added, 0 if already there or out of memory. */
static int
reach_add(reach_t *r, PyObject *op)
{
    uintptr_t a = (uintptr_t)op;
    size_t m, i;
    if ((r->n + 1) * 2 > ((size_t)1 << r->bits)) {
        size_t bits = r->bits + 1, k, n = (size_t)1 << r->bits;
        uintptr_t *s = PyMem_RawCalloc((size_t)1 << bits, sizeof(*s));
        if (s == NULL) {
            r->nomem = 1;
            return 0;
        }
        for (k = 0; k < n; k++) {
            size_t j;
            if (!r->s[k])
                continue;
            j = ttx_live_hash(r->s[k], (uint32_t)bits);
            while (s[j])
                j = (j + 1) & (((size_t)1 << bits) - 1);
            s[j] = r->s[k];
        }
        PyMem_RawFree(r->s);
        r->s = s;
        r->bits = bits;
    }
    m = ((size_t)1 << r->bits) - 1;
    i = ttx_live_hash(a, (uint32_t)r->bits);
    while (r->s[i]) {
        if (r->s[i] == a)
            return 0;
        i = (i + 1) & m;
    }
    r->s[i] = a;
    r->n++;
    return 1;
}

static void
reach_push(reach_t *r, PyObject *op)
{
    if (r->sn == r->scap) {
        size_t cap = r->scap ? 2 * r->scap : 4096;
        void *v = PyMem_RawRealloc(r->stack, cap * sizeof(*r->stack));
        if (v == NULL) {
            r->nomem = 1;
            return;
        }
        r->stack = v;
        r->scap = cap;
    }
    r->stack[r->sn++] = op;
}

/* Referents of a container: new ones are recorded; untracked containers
 * (gc does not list them) are walked in turn. */
static int
reach_visit(PyObject *op, void *arg)
{
    reach_t *r = arg;
    if (op != NULL && reach_add(r, op) && PyObject_IS_GC(op) &&
        !PyObject_GC_IsTracked(op))
        reach_push(r, op);
    return 0;
}

/* Fills r with every object reachable from what the collector tracks and
 * from every thread's frame locals. `keep` receives the lists that hold
 * those roots alive (the caller drops it after using r). 0, or -1 + exc. */
static int
reach_build(reach_t *r, PyObject *keep)
{
    PyObject *gc = NULL, *objs = NULL, *frames = NULL, *it, *f;
    Py_ssize_t i;
    int rc = -1;

    r->bits = 16;
    r->s = PyMem_RawCalloc((size_t)1 << r->bits, sizeof(*r->s));
    if (r->s == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    gc = PyImport_ImportModule("gc");
    if (gc == NULL)
        goto done;
    objs = PyObject_CallMethod(gc, "get_objects", NULL);
    if (objs == NULL || !PyList_Check(objs) || PyList_Append(keep, objs) < 0)
        goto done;
    for (i = 0; i < PyList_GET_SIZE(objs); i++) {
        PyObject *op = PyList_GET_ITEM(objs, i);
        if (reach_add(r, op))
            reach_push(r, op);
    }
    /* Live frames are not GC objects: their locals are roots too. */
    frames = _PyThread_CurrentFrames();
    if (frames == NULL || PyList_Append(keep, frames) < 0)
        goto done;
    it = PyDict_Values(frames);
    if (it == NULL || PyList_Append(keep, it) < 0) {
        Py_XDECREF(it);
        goto done;
    }
    Py_DECREF(it);
    for (i = 0; i < PyList_GET_SIZE(it); i++) {
        for (f = PyList_GET_ITEM(it, i); f != NULL && f != Py_None;) {
            PyObject *loc = PyFrame_GetLocals((PyFrameObject *)f), *vals;
            PyObject *back;
            if (loc == NULL) {
                PyErr_Clear();
            } else {
                vals = PyMapping_Values(loc);
                if (vals == NULL || PyList_Append(keep, vals) < 0 ||
                    PyList_Append(keep, loc) < 0) {
                    Py_XDECREF(vals);
                    Py_DECREF(loc);
                    PyErr_Clear();
                } else {
                    Py_ssize_t k;
                    for (k = 0; k < PyList_GET_SIZE(vals); k++) {
                        PyObject *v = PyList_GET_ITEM(vals, k);
                        if (reach_add(r, v))
                            reach_push(r, v);
                    }
                    Py_DECREF(vals);
                    Py_DECREF(loc);
                }
            }
            back = (PyObject *)PyFrame_GetBack((PyFrameObject *)f);
            if (back == NULL)
                break;
            if (PyList_Append(keep, back) < 0) {
                Py_DECREF(back);
                goto done;
            }
            Py_DECREF(back);
            f = back;
        }
    }
    while (r->sn > 0 && !r->nomem) {
        PyObject *op = r->stack[--r->sn];
        traverseproc tr = Py_TYPE(op)->tp_traverse;
        if (PyObject_IS_GC(op) && tr != NULL)
            (void)tr(op, reach_visit, r);
    }
    if (r->nomem) {
        PyErr_NoMemory();
        goto done;
    }
    rc = 0;
done:
    Py_XDECREF(gc);
    Py_XDECREF(objs);
    Py_XDECREF(frames);
    return rc;
}

/* Appends addr to a PyMem_Raw vector; counts a failure. */
static void
vec_push(capture_objects_t *o, uint64_t **v, size_t *n, size_t *cap,
         uint64_t addr)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 256;
        void *p = PyMem_RawRealloc(*v, c * sizeof(**v));
        if (p == NULL) {
            o->nomem++;
            return;
        }
        *v = p;
        *cap = c;
    }
    (*v)[(*n)++] = addr;
}

/* ---------------------------------------------------------------- stop */

PyObject *
capture_objects_stop(capture_rec_t *rec, PyObject *warnings)
{
    capture_objects_t *o = rec->objects;
    PyObject *keep = NULL, *res = NULL, **held = NULL, *s;
    uint64_t *unv = NULL, survivors = 0, verified = 0, trusted = 0;
    uint32_t n_paths = 0;
    double wa_ms = 0;
    size_t n_unv = 0, cap_unv = 0, n_held = 0, i, nslots;
    reach_t reach;
    tt_objagg_summary_t sum;
    void *data = NULL;
    int ours, check, reach_ok = 0, rc;
    char buf[600];

    if (o == NULL)
        Py_RETURN_NONE;
    memset(&reach, 0, sizeof(reach));
    ttx_imports_uninstall(rec, 1);
    capture_objects_flush_pending(o);
    ours = PyRefTracer_GetTracer(&data) == capture_objects_hook(o) &&
        data == o;
    /* With a known gap (or deaths already proven missing), survivors must
     * be found alive to count as verified. Without one they are trusted;
     * the walk still runs, because only objects it finds through real
     * references are safe to hold (an unknown gap must not become a
     * double free). */
    check = o->gaps.eval_loop || o->gaps.trashcan || o->repaired > 0;
    nslots = (size_t)1 << o->live.bits;
    keep = PyList_New(0);
    held = PyMem_RawMalloc((o->live.count + 1) * sizeof(*held));
    if (keep == NULL || held == NULL) {
        PyErr_Clear();
        o->nomem++;
    }
    if (ours) {
        o->stopping = 1;
        o->fast_ot = NULL;
        if (o->live.count > 0 && keep != NULL) {
            if (reach_build(&reach, keep) == 0) {
                reach_ok = 1;
            } else {
                PyErr_Clear();
                note(rec, "objects.check_failed", "the collector's view "
                     "could not be read at stop; survivors are unverified");
            }
        }
        for (i = 0; i < nslots; i++) {
            ttx_live_t *e = &o->live.slots[i];
            uint32_t type;
            int ok = 0;
            if (e->addr == 0)
                continue;
            survivors++;
            type = o->aggregate ? o->rows[ttx_live_id(e->meta)].st.type
                                : ttx_live_id(e->meta);
            if (reach_ok && reach_has(&reach, (uintptr_t)e->addr)) {
                /* Found through real references: a live object. The
                 * type must match too (a new object at a reused
                 * address would not). */
                PyObject *op = (PyObject *)(uintptr_t)e->addr;
                uint32_t now = capture_objects_type_id(rec, o, Py_TYPE(op));
                ok = now == type;
                verified += ok;
                if (ok && held != NULL)
                    held[n_held++] = Py_NewRef(op);
            } else if (!check ||
                       (!o->gaps.eval_loop && o->repaired == 0 &&
                        type < o->n_type_ids && !o->type_gc[type])) {
                /* No gap can hide this death (a trashcan gap touches
                 * GC containers only). */
                ok = 1;
                trusted++;
            }
            if (!ok) {
                if (o->aggregate)
                    o->rows[ttx_live_id(e->meta)].st.unverified++;
                else
                    vec_push(o, &unv, &n_unv, &cap_unv, e->addr);
            }
            if (o->aggregate)
                o->rows[ttx_live_id(e->meta)].st.survived++;
        }
        /* The survivors found alive are held: a free elsewhere cannot
         * race the report. (Trusted ones are not touched: nothing runs
         * between this scan and the report that could free them.) */
        (void)PyRefTracer_SetTracer(NULL, NULL);
        o->stopping = 0;
        ttx_objclock_stop();
        /* Why the largest groups are alive (the tracer is off: this makes
         * objects). */
        n_paths = ttx_whyalive(rec, o, held, n_held, keep, &wa_ms);
    } else {
        snprintf(buf, sizeof(buf),
                 "%s replaced tracetap's reference tracer during the "
                 "recording (tracetap left it in place); object events after "
                 "the replacement are missing, so counts are low and no "
                 "survivor is verified", holder_name());
        note(rec, "objects.tracer_replaced", buf);
        ttx_objclock_stop();
        s = PyUnicode_FromString(buf);
        if (s == NULL || PyList_Append(warnings, s) < 0)
            PyErr_Clear();
        Py_XDECREF(s);
        for (i = 0; i < nslots; i++) {
            ttx_live_t *e = &o->live.slots[i];
            if (e->addr == 0)
                continue;
            survivors++;
            if (o->aggregate) {
                o->rows[ttx_live_id(e->meta)].st.survived++;
                o->rows[ttx_live_id(e->meta)].st.unverified++;
            }
        }
    }
    PyMem_RawFree(reach.s);
    PyMem_RawFree(reach.stack);

    memset(&sum, 0, sizeof(sum));
    sum.flags = (o->aggregate ? TT_OBJAGG_ROWS : 0) |
                (ours && o->nomem == 0 ? TT_OBJAGG_CHECKED : 0);
    sum.repaired = o->repaired;
    sum.filtered = o->filtered;
    {
        tt_objstat_t *rows = rows_copy(o);
        rc = tt_writer_objagg(rec->w, &sum, rows, rows ? o->n_rows : 0,
                              o->aggregate ? NULL : o->dead,
                              o->aggregate ? 0 : o->n_dead, unv, n_unv);
        PyMem_RawFree(rows);
        if (rc < 0 || (o->n_rows && rows == NULL))
            rec->problems.writer_errors++;
    }
    if (o->repaired) {
        snprintf(buf, sizeof(buf), "%llu object(s) were created at an "
                 "address tracetap held live: their predecessors died "
                 "without a DESTROY event (counted as died unseen)",
                 (unsigned long long)o->repaired);
        note(rec, "destroy_gap.address_reuse", buf);
    }
    if (o->gaps.eval_loop || o->gaps.trashcan || o->repaired) {
        snprintf(buf, sizeof(buf), "%s%s%sof %llu survivor(s), %llu were "
                 "found alive at stop, %llu cannot have been hidden by the "
                 "gap, %llu are unverified and not reported as leaks",
                 o->gaps.eval_loop ? "eval-loop DESTROY gap; " : "",
                 o->gaps.trashcan ? "trashcan DESTROY gap; " : "",
                 o->repaired ? "deaths proven missing; " : "",
                 (unsigned long long)survivors, (unsigned long long)verified,
                 (unsigned long long)trusted,
                 (unsigned long long)(survivors - verified - trusted));
        note(rec, "objects.survivors", buf);
    }
    /* The user hears of the gap only where it changed the report: the NOTEs
     * above have the whole story (tracetap info), `objects --help` the
     * explanation. */
    if ((o->gaps.eval_loop || o->gaps.trashcan || o->repaired) &&
        (survivors - verified - trusted > 0 || o->repaired || o->stop_dead)) {
        s = PyUnicode_FromFormat(
            "object deaths are incomplete on this interpreter (%s): "
            "%llu survivor(s) unverified (not reported as leaks), %llu "
            "death(s) without a DESTROY event inferred; see tracetap "
            "objects --help",
            o->gaps.eval_loop ? "gh-130382"
            : o->gaps.trashcan ? "gh-156371" : "address reuse",
            (unsigned long long)(survivors - verified - trusted),
            (unsigned long long)(o->repaired + o->stop_dead));
        if (s == NULL || PyList_Append(warnings, s) < 0)
            PyErr_Clear();
        Py_XDECREF(s);
    }
    if (o->nomem) {
        snprintf(buf, sizeof(buf), "memory ran out %llu time(s) while "
                 "tracking objects; survivors are unverified",
                 (unsigned long long)o->nomem);
        note(rec, "objects.out_of_memory", buf);
    }
    res = Py_BuildValue(
        "{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:d,s:O,s:O,s:O,"
        "s:d,s:O,s:{s:K,s:K,s:K,s:K},s:K,s:K,s:K,s:I,s:d}",
        "created", (unsigned long long)o->created,
        "destroyed", (unsigned long long)o->destroyed,
        "survivors", (unsigned long long)survivors,
        "verified", (unsigned long long)verified,
        "trusted", (unsigned long long)trusted,
        "unverified", (unsigned long long)(survivors - verified - trusted),
        "dead_at_stop", (unsigned long long)o->stop_dead,
        "repaired", (unsigned long long)o->repaired,
        "filtered", (unsigned long long)o->filtered,
        "live_peak", (unsigned long long)o->live.peak,
        "table_bytes", (unsigned long long)o->live.peak_bytes,
        "bytes_per_live", o->live.peak
            ? (double)o->live.peak_bytes / (double)o->live.peak : 0.0,
        "gap_eval_loop", o->gaps.eval_loop ? Py_True : Py_False,
        "gap_trashcan", o->gaps.trashcan ? Py_True : Py_False,
        "tracer_replaced", ours ? Py_False : Py_True,
        "selftest_ms", o->gaps.ms,
        "aggregate", o->aggregate ? Py_True : Py_False,
        "filtered_by_type",
        "int", (unsigned long long)o->filtered_kind[0],
        "frame", (unsigned long long)o->filtered_kind[1],
        "tuple", (unsigned long long)o->filtered_kind[2],
        "other", (unsigned long long)o->filtered_kind[3],
        "fixed_bytes", (unsigned long long)(sizeof(o->ring) +
                                            (o->ext ? TTX_RING_OPS *
                                             sizeof(*o->ext) : 0) +
                                            ((size_t)1 << TTX_LIVE_MAYBE_BITS) / 8),
        "died_in_ring", (unsigned long long)o->ring.cancelled,
        "table_updates", (unsigned long long)o->ring.applied,
        "why_alive_paths", (unsigned int)n_paths,
        "why_alive_ms", wa_ms);
    /* The report is written: let the survivors go. */
    for (i = 0; i < n_held; i++)
        Py_DECREF(held[i]);
    PyMem_RawFree(held);
    PyMem_RawFree(unv);
    Py_XDECREF(keep);
    ttx_imports_free();
    rec->objects = NULL;
    objects_free(o);
    return res;
}

#endif /* TTX_HAVE_REFTRACER */
