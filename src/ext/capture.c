/* capture.c - the Py_tracefunc: CPython's trace events into per-thread
 * event buffers.
 *
 * Owns: capture_trace() and the per-event work (shadow stack, line, clock,
 * append). Must not: create Python objects per event, raise, set or clear
 * an exception, run Python code, or release the GIL; first sight of a code
 * object (codetable.c) and of a thread (threads.c) are the only slow paths.
 * GIL: held by CPython for every call. State is the thread's own (TLS) plus
 * the recording, which only start/stop change, also under the GIL.
 */
#include "capture.h"
#include "objects.h"

/* The hook never changes these while a recording is active. */
capture_rec_t *capture_rec = NULL;      /* GIL */
uint64_t capture_gen = 0;               /* GIL */
__thread capture_tls_t capture_tls
    __attribute__((tls_model("initial-exec"))) = {NULL, 0};

/* The line a frame is at, as frame.f_lineno shows it to a Python trace
 * function for a non-LINE event: the line of the last instruction
 * (PyCode_Addr2Line of f_lasti), co_firstlineno before the first one.
 * O(1) through the per-code array; never PyFrame_GetLineNumber, which is
 * O(n) on 3.12-3.13.2 (CPYTHON-NOTES constraint 3). */
static inline int32_t
capture_line_at(const capture_code_t *c, PyFrameObject *frame)
{
    int lasti = PyFrame_GetLasti(frame);
    uint32_t unit;
    if (lasti < 0)
        return c->firstlineno;
    unit = (uint32_t)lasti / 2u;
    return unit < c->n_units ? c->lines[unit] : TT_NO_LINE;
}

/* The shadow-stack entry of `frame`: the top one in the common case. */
static inline capture_frame_t *
capture_entry(capture_thread_t *t, PyFrameObject *frame)
{
    capture_frame_t *top = t->top;
    if (TTX_LIKELY(top->frame == (const void *)frame))
        return top;
    return capture_thread_find(t, frame);
}

/* Opcode capture on a frame we trace (CPYTHON-NOTES constraint 5). The
 * setters run no Python code unless replacing an old f_trace runs a
 * finaliser, which could let another thread stop the recording: so `rec`
 * is re-read before it is touched again. A failure is counted and cleared
 * so that no exception escapes the hook. */
static TT_NOINLINE void
capture_enable_opcodes(capture_rec_t *rec, PyFrameObject *frame)
{
    ttx_exc_state_t saved;
    int rc = 0;
    ttx_exc_save(&saved);
#if TTX_OPCODES_NEED_F_TRACE
    rc = PyObject_SetAttr((PyObject *)frame, rec->s_f_trace, rec->noop);
#endif
    if (rc == 0 && capture_rec == rec)
        rc = PyObject_SetAttr((PyObject *)frame, rec->s_f_trace_opcodes,
                              Py_True);
    if (rc < 0) {
        PyErr_Clear();
        if (capture_rec == rec)
            rec->problems.opcode_errors++;
    }
    ttx_exc_restore(&saved);
}

static TT_NOINLINE int
capture_on_call(capture_rec_t *rec, capture_thread_t *t, PyFrameObject *frame)
{
    PyCodeObject *co = PyFrame_GetCode(frame);
    capture_code_t *c;
    capture_frame_t *e;

    /* Borrow: the frame keeps its code alive (CPYTHON-NOTES constraint 2). */
    Py_DECREF(co);
    c = capture_codetab_find(&rec->codes, co);
    if (TTX_UNLIKELY(c == NULL))
        TTX_OBJ_OWN(c = capture_code_register(rec, (PyObject *)co));
    if (TTX_UNLIKELY(t->top + 1 == t->end) && capture_thread_grow(t) < 0)
        return 0;
    e = ++t->top;
    e->frame = frame;
    e->code = c;
    e->traced = 0;
    if (c == NULL || !c->traced)
        return 0;
    if (rec->count) {
        /* --count: the entry stays untraced (no event is written for this
         * frame); LINE events count through e->code. */
        c->calls++;
        return 0;
    }
    if (TTX_UNLIKELY(t->tbuf == NULL) && capture_thread_open(rec, t) < 0)
        return 0;
    e->traced = 1;
    e->line = capture_line_at(c, frame);
    tt_tbuf_call(t->tbuf, capture_clock(), c->id, e->line);
    if (rec->opcodes)
        TTX_OBJ_OWN(capture_enable_opcodes(rec, frame));
    return 0;
}

int
capture_trace(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    capture_thread_t *t = capture_tls.thread;
    capture_rec_t *rec = capture_rec;
    capture_frame_t *e;
    (void)obj;

    /* --objects: drop the frame object / boxed offset legacy tracing made
     * to deliver this very event (reftracer.c). */
    capture_objects_settle(frame, what, arg);

    /* A thread-local from an earlier recording, or none yet. capture_gen
     * changes at every start and stop, so a match implies rec != NULL. */
    if (TTX_UNLIKELY(capture_tls.gen != capture_gen)) {
        t = capture_thread_attach();
        if (t == NULL)
            return 0;
    }
    switch (what) {
    case PyTrace_LINE:
        e = capture_entry(t, frame);
        if (e == NULL)
            return 0;
        if (TTX_UNLIKELY(!e->traced)) {
            /* --count: one increment, no clock, no buffer (countmode.c) */
            if (rec->count && e->code != NULL && e->code->counts != NULL)
                capture_count_line(e->code, PyFrame_GetLineNumber(frame));
            return 0;
        }
        /* f_lineno is set before a LINE event on every version: O(1). */
        e->line = PyFrame_GetLineNumber(frame);
        if (rec->lines)
            tt_tbuf_line(t->tbuf, capture_clock(), e->code->id, e->line);
        return 0;
    case PyTrace_CALL:
        return capture_on_call(rec, t, frame);
    case PyTrace_RETURN:
        e = capture_entry(t, frame);
        if (e == NULL)
            return 0;
        if (e->traced)
            tt_tbuf_return(t->tbuf, capture_clock(), e->code->id,
                           capture_line_at(e->code, frame));
        t->top = e - 1;
        return 0;
    case PyTrace_EXCEPTION:
        e = capture_entry(t, frame);
        if (e == NULL || !e->traced)
            return 0;
        {
            uint32_t type = UINT32_MAX;
            if (arg != NULL && PyTuple_Check(arg) && PyTuple_GET_SIZE(arg) > 0)
                TTX_OBJ_OWN(type = capture_exc_type_id(
                                rec, PyTuple_GET_ITEM(arg, 0)));
            tt_tbuf_exception(t->tbuf, capture_clock(), e->code->id,
                              capture_line_at(e->code, frame), type);
        }
        return 0;
    case PyTrace_OPCODE:
        e = capture_entry(t, frame);
        if (e == NULL || !e->traced || e->code->ops == NULL)
            return 0;
        {
            const capture_code_t *c = e->code;
            int lasti = PyFrame_GetLasti(frame);
            uint32_t unit = lasti < 0 ? 0 : (uint32_t)lasti / 2u;
            if (lasti < 0 || unit >= c->n_units)
                return 0;
            tt_tbuf_opcode(t->tbuf, capture_clock(), c->id, c->lines[unit],
                           (uint32_t)lasti, c->ops[unit]);
        }
        return 0;
    default:
        return 0;
    }
}
