/* moncoverage.c - `--coverage` on the sys.monitoring backend: which lines
 * ran, each reported once and then switched off (DISABLE), into the
 * --count arrays (countmode.c) with every hit counted 1.
 *
 * Owns: the PY_START/PY_RESUME and LINE callbacks and the code objects'
 * local events. PY_START/PY_RESUME (global) decide per code object: a traced one gets LINE as a
 * local event, and PY_START returns DISABLE either way, so code that is
 * not traced costs nothing after its first call. LINE marks the line and
 * returns DISABLE. With --branch (count_arcs) the branch events are local
 * too: each direction of a branch marks its line arc once (monbranch.c)
 * and is switched off. A context switch re-arms the codes that ran.
 * Must not: raise out of a callback (a failure is counted, the callback
 * returns None), run Python code outside first sight. GIL: held.
 */
#include "capture_int.h"

#include <string.h>

#if TTX_HAVE_MONITORING

static int line_bit = -1;       /* sys.monitoring.events.LINE (GIL) */
static uint32_t local_events;   /* a traced code's local events (GIL) */
static uint32_t global_events;  /* beside PY_START, PY_RESUME (GIL) */

/* The local events of a traced code: LINE. 0, or -1 (counted). */
static int
arm_code(capture_rec_t *rec, capture_code_t *c)
{
    ttx_exc_state_t saved;
    int rc;
    if (c->mon_local)
        return 0;
#if PY_VERSION_HEX < 0x030E0000
    if (rec->count_arcs &&
        (((PyCodeObject *)c->code)->co_flags &
         (CO_COROUTINE | CO_ASYNC_GENERATOR)) &&
        capture_branch_load(c) == 0)
        c->afor = (uint8_t)capture_branch_has_async_for(c);
#endif
    ttx_exc_save(&saved);
    rc = capture_monitoring_set_local(rec, c->code, local_events);
    if (rc < 0) {
        PyErr_Clear();
        rec->problems.code_errors++;
    } else {
        c->mon_local = 1;
    }
    ttx_exc_restore(&saved);
    return rc;
}

/* Whether the code calling the frame that is starting is traced (1 when
 * unknown): the decision code from a pseudo file ("<string>") inherits.
 * Materialises two frame objects: called at a pseudo file's first sight
 * only. */
static TT_NOINLINE int
caller_traced(capture_rec_t *rec)
{
    PyFrameObject *f = PyEval_GetFrame(), *back;
    PyCodeObject *co;
    capture_code_t *c;
    int traced = 1;

    if (f == NULL)
        return 1;
    back = PyFrame_GetBack(f);
    if (back == NULL)
        return 1;
    co = PyFrame_GetCode(back);
    c = capture_codetab_find(&rec->codes, co);
    if (c != NULL)
        traced = c->traced;
    Py_DECREF(co);
    Py_DECREF(back);
    return traced;
}

static int
pseudo_name(PyObject *co)
{
    PyObject *fn = ((PyCodeObject *)co)->co_filename;
    Py_ssize_t n = PyUnicode_Check(fn) ? PyUnicode_GET_LENGTH(fn) : 0;
    return n == 0 || (PyUnicode_READ_CHAR(fn, 0) == '<' &&
                      PyUnicode_READ_CHAR(fn, n - 1) == '>');
}

/* The entry of `code`, registered on first sight. NULL when it could not
 * be (counted). */
static TT_NOINLINE capture_code_t *
first_sight(capture_rec_t *rec, PyObject *code)
{
    int caller = 1;
    if (pseudo_name(code)) {
        ttx_exc_state_t saved;
        ttx_exc_save(&saved);
        caller = caller_traced(rec);
        PyErr_Clear();
        ttx_exc_restore(&saved);
    }
    return capture_code_register(rec, code, caller);
}

static inline int
thread_skipped(const capture_rec_t *rec)
{
    return rec->main_only && PyThread_get_thread_ident() != rec->main_ident;
}

/* PY_START and PY_RESUME (code, instruction_offset): a generator or
 * coroutine made before the recording started resumes without starting. */
static PyObject *
cov_py_start(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    capture_rec_t *rec = capture_rec;
    capture_code_t *c;
    (void)self;

    if (TTX_UNLIKELY(rec == NULL || nargs < 1 || !PyCode_Check(args[0])))
        Py_RETURN_NONE;
    c = capture_codetab_find(&rec->codes, args[0]);
    if (TTX_UNLIKELY(c == NULL))
        c = first_sight(rec, args[0]);
    if (c == NULL || !c->traced || c->counts == NULL)
        return Py_NewRef(rec->mon->disable);
    (void)arm_code(rec, c);
    if (!thread_skipped(rec)) {
        c->calls = 1;                   /* hits only */
        if (!c->ctx_dirty)
            capture_counts_touch(rec, c);
    }
    return Py_NewRef(rec->mon->disable);
}

#if PY_VERSION_HEX < 0x030E0000
/* A first LINE in code with an `async for` (3.12, 3.13): marks the arc of
 * an `async for` entering its body when this LINE is the one it fires.
 * Materialises the frame object: once per line and context, in such code
 * only. */
static TT_NOINLINE void
async_entry(capture_rec_t *rec, capture_code_t *c)
{
    ttx_exc_state_t saved;
    PyFrameObject *f;
    int lasti;
    int32_t from, to;

    ttx_exc_save(&saved);
    f = PyEval_GetFrame();
    lasti = f != NULL ? PyFrame_GetLasti(f) : -1;
    if (lasti >= 0 &&
        capture_branch_async_entry(c, (uint32_t)lasti / 2, &from, &to))
        capture_mark_arc(rec, c, from, to);
    PyErr_Clear();
    ttx_exc_restore(&saved);
}

/* EXCEPTION_HANDLED(code, instruction_offset, exception), global (3.12,
 * 3.13 with --branch): a StopAsyncIteration handled at an END_ASYNC_FOR
 * ends an `async for`: marks its exit arc. */
static PyObject *
cov_handled(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    capture_rec_t *rec = capture_rec;
    capture_code_t *c;
    long off;
    int32_t from, to;
    (void)self;

    if (TTX_UNLIKELY(rec == NULL || nargs < 3) || thread_skipped(rec))
        Py_RETURN_NONE;
    c = capture_codetab_find(&rec->codes, args[0]);
    if (c == NULL || !c->afor || c->counts == NULL ||
        !PyErr_GivenExceptionMatches(args[2], PyExc_StopAsyncIteration))
        Py_RETURN_NONE;
    off = PyLong_AsLong(args[1]);
    if (off < 0) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (capture_branch_async_exit(c, (uint32_t)off / 2, &from, &to)) {
        capture_mark_arc(rec, c, from, to);
        if (!c->ctx_dirty)
            capture_counts_touch(rec, c);
    }
    Py_RETURN_NONE;
}

static PyMethodDef cov_handled_def = {
    "_tracetap_cov_handled", (PyCFunction)(void (*)(void))cov_handled,
    METH_FASTCALL, NULL};
#endif

/* LINE(code, line_number). */
static PyObject *
cov_line(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    capture_rec_t *rec = capture_rec;
    capture_code_t *c;
    long line;
    uint32_t i;
    (void)self;

    if (TTX_UNLIKELY(rec == NULL || nargs < 2))
        Py_RETURN_NONE;
    if (TTX_UNLIKELY(thread_skipped(rec)))
        Py_RETURN_NONE;             /* main's own hit must still come */
    c = capture_codetab_find(&rec->codes, args[0]);
    if (TTX_UNLIKELY(c == NULL || c->counts == NULL))
        return Py_NewRef(rec->mon->disable);
    line = PyLong_AsLong(args[1]);
    i = (uint32_t)line - (uint32_t)c->count_base;
    if (TTX_LIKELY(i < c->count_span))
        c->counts[i] = 1;
    else if (line == -1)
        PyErr_Clear();
    c->calls = 1;                       /* it ran (PY_START may be off) */
    if (TTX_UNLIKELY(!c->ctx_dirty))
        capture_counts_touch(rec, c);
#if PY_VERSION_HEX < 0x030E0000
    if (TTX_UNLIKELY(c->afor))
        async_entry(rec, c);
#endif
    return Py_NewRef(rec->mon->disable);
}

/* A branch of `code` from byte offset args[1] to args[2] went direction
 * `dir` (1: not taken / left, 2: taken / right, 0: tell from the
 * destination): marks its line arc the first time in this context.
 * Returns whether the instruction has now been seen both ways (3.12,
 * 3.13: a DISABLEd BRANCH is off in both directions). */
static int
branch_seen(capture_rec_t *rec, PyObject *const *args, int dir)
{
    capture_code_t *c = capture_codetab_find(&rec->codes, args[0]);
    long so, d;
    uint32_t s;
    int32_t from, to;

    if (TTX_UNLIKELY(c == NULL || c->counts == NULL))
        return 1;
    so = PyLong_AsLong(args[1]);
    d = PyLong_AsLong(args[2]);
    if (TTX_UNLIKELY(so < 0 || d < 0 || so / 2 >= c->n_units ||
                     d / 2 > c->n_units)) {
        PyErr_Clear();
        return 1;
    }
    if (TTX_UNLIKELY(c->bc == NULL) && capture_branch_load(c) < 0) {
        rec->problems.code_errors++;
        return 1;
    }
    s = (uint32_t)so / 2;
    if (dir == 0)
        dir = capture_branch_next(c, s) == (uint32_t)d / 2 ? 1 : 2;
    if (!(c->br[s] & dir)) {
        c->br[s] |= (uint8_t)dir;
        if (capture_branch_arc(c, s, (uint32_t)d / 2, &from, &to, NULL))
            capture_mark_arc(rec, c, from, to);
        c->calls = 1;
        if (TTX_UNLIKELY(!c->ctx_dirty))
            capture_counts_touch(rec, c);
    }
    return c->br[s] == 3;
}

/* BRANCH (3.12, 3.13), BRANCH_LEFT and BRANCH_RIGHT (3.14+):
 * (code, instruction_offset, destination_offset). */
static PyObject *
branch_event(PyObject *const *args, Py_ssize_t nargs, int dir)
{
    capture_rec_t *rec = capture_rec;

    if (TTX_UNLIKELY(rec == NULL || nargs < 3))
        Py_RETURN_NONE;
    if (TTX_UNLIKELY(thread_skipped(rec)))
        Py_RETURN_NONE;
    if (branch_seen(rec, args, dir) || dir != 0)
        return Py_NewRef(rec->mon->disable);
    Py_RETURN_NONE;
}

static PyObject *
cov_branch(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    return branch_event(args, nargs, 0);
}

static PyObject *
cov_branch_left(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    return branch_event(args, nargs, 1);
}

static PyObject *
cov_branch_right(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    return branch_event(args, nargs, 2);
}

static PyMethodDef cov_branch_def[3] = {
    {"_tracetap_cov_branch", (PyCFunction)(void (*)(void))cov_branch,
     METH_FASTCALL, NULL},
    {"_tracetap_cov_branch_left",
     (PyCFunction)(void (*)(void))cov_branch_left, METH_FASTCALL, NULL},
    {"_tracetap_cov_branch_right",
     (PyCFunction)(void (*)(void))cov_branch_right, METH_FASTCALL, NULL},
};

/* --branch: registers the branch callbacks; adds their events to
 * local_events. 0, or -1 + exc. */
static int
install_branches(capture_rec_t *rec)
{
#if PY_VERSION_HEX >= 0x030E0000
    int left = capture_monitoring_event(rec, "BRANCH_LEFT");
    int right = capture_monitoring_event(rec, "BRANCH_RIGHT");
    if (left < 0 || right < 0 ||
        capture_monitoring_register(rec, left, &cov_branch_def[1]) < 0 ||
        capture_monitoring_register(rec, right, &cov_branch_def[2]) < 0)
        return -1;
    local_events |= (1u << left) | (1u << right);
#else
    int branch = capture_monitoring_event(rec, "BRANCH");
    int handled = capture_monitoring_event(rec, "EXCEPTION_HANDLED");
    if (branch < 0 || handled < 0 ||
        capture_monitoring_register(rec, branch, &cov_branch_def[0]) < 0 ||
        capture_monitoring_register(rec, handled, &cov_handled_def) < 0)
        return -1;
    local_events |= 1u << branch;
    global_events |= 1u << handled;
#endif
    return 0;
}

static PyMethodDef cov_py_start_def = {
    "_tracetap_cov_py_start", (PyCFunction)(void (*)(void))cov_py_start,
    METH_FASTCALL, NULL};
static PyMethodDef cov_line_def = {
    "_tracetap_cov_line", (PyCFunction)(void (*)(void))cov_line,
    METH_FASTCALL, NULL};

/* The frames already running on this thread (the one holding `with
 * tracetap.record()`, those below it) never start again: their codes are
 * armed now, so the rest of their lines are seen. Failures are counted. */
static void
adopt_running(capture_rec_t *rec)
{
    PyFrameObject *f = (PyFrameObject *)Py_XNewRef(PyEval_GetFrame());
    while (f != NULL) {
        PyCodeObject *co = PyFrame_GetCode(f);
        capture_code_t *c = capture_codetab_find(&rec->codes, co);
        if (c == NULL)
            c = capture_code_register(rec, (PyObject *)co, 1);
        if (c != NULL && c->traced && c->counts != NULL)
            (void)arm_code(rec, c);
        Py_DECREF(co);
        Py_SETREF(f, PyFrame_GetBack(f));
    }
}

int
capture_moncoverage_install(capture_rec_t *rec)
{
    int start_bit = capture_monitoring_event(rec, "PY_START");
    int resume_bit = capture_monitoring_event(rec, "PY_RESUME");
    line_bit = capture_monitoring_event(rec, "LINE");
    if (start_bit < 0 || resume_bit < 0 || line_bit < 0 ||
        capture_monitoring_register(rec, start_bit, &cov_py_start_def) < 0 ||
        capture_monitoring_register(rec, resume_bit, &cov_py_start_def) < 0 ||
        capture_monitoring_register(rec, line_bit, &cov_line_def) < 0)
        return -1;
    local_events = 1u << line_bit;
    global_events = 0;
    if (rec->count_arcs && install_branches(rec) < 0)
        return -1;
    adopt_running(rec);
    return capture_monitoring_set_events(rec, (1u << start_bit) |
                                              (1u << resume_bit) |
                                              global_events);
}

int
capture_moncoverage_switch(capture_rec_t *rec)
{
    uint32_t i;
    int rc = 0;

    /* Only the codes that ran since the last switch have lines DISABLEd
     * (the dirty list: every LINE puts its code there): their local
     * events are taken off and put back, which re-arms every line of
     * theirs. restart_events() would re-arm every location of every code
     * and tool (PY_START of all the code left out too), and each would
     * call back again in the next context. */
    for (i = 0; i < rec->n_dirty; i++) {
        capture_code_t *c = rec->dirty[i];
        if (!c->mon_local)
            continue;
        if (capture_monitoring_set_local(rec, c->code, 0) < 0 ||
            capture_monitoring_set_local(rec, c->code, local_events) < 0)
            rc = -1;
        if (c->br != NULL)              /* each direction fires again */
            memset(c->br, 0, c->n_units);
    }
    return rc;
}

#else  /* 3.11: the plumbing refuses before this is reached */

int
capture_moncoverage_install(capture_rec_t *rec)
{
    return capture_monitoring_begin(rec);
}

int
capture_moncoverage_switch(capture_rec_t *rec)
{
    (void)rec;
    return 0;
}

#endif
