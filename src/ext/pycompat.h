/* pycompat.h - every CPython version #if of the extension lives here.
 *
 * Owns: the small shims over what differs between 3.11, 3.12, 3.13 and 3.14
 * (installing a trace function on every thread, saving an exception, opcode
 * tracing, module slots). Must not: hold state or include libtt. Everything
 * here is called with the GIL held. See docs/CPYTHON-NOTES.md.
 */
#ifndef TTX_PYCOMPAT_H
#define TTX_PYCOMPAT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>
#include <stddef.h>
#include <string.h>

#if PY_VERSION_HEX < 0x030B0000
#  error "tracetap needs CPython 3.11 or newer"
#endif

/* ---- free-threaded builds are refused at start() for now. */
#ifdef Py_GIL_DISABLED
#  define TTX_FREE_THREADED 1
#else
#  define TTX_FREE_THREADED 0
#endif

/* ---- is the interpreter finalizing? Callable without the GIL (an
 * atomic read): a background thread checks it before PyGILState_Ensure. */
#if PY_VERSION_HEX >= 0x030D0000
#  define TTX_IS_FINALIZING() Py_IsFinalizing()
#else
#  define TTX_IS_FINALIZING() _Py_IsFinalizing()
#endif

/* ---- installing a C trace function on threads (docs/CPYTHON-NOTES.md section 3).
 *
 * TTX_SET_TRACE_ALL: PyEval_SetTraceAllThreads exists (3.12+). It reports
 *   errors (an audit hook's veto) as unraisable, so callers verify through
 *   tstate->c_tracefunc afterwards.
 * TTX_SET_TRACE_TSTATE: _PyEval_SetTrace(tstate, ...) is exported (3.11,
 *   3.12); on 3.13+ the symbol is hidden, so another thread's hook can only
 *   be changed all at once. */
#if PY_VERSION_HEX >= 0x030C0000
#  define TTX_SET_TRACE_ALL 1
#else
#  define TTX_SET_TRACE_ALL 0
#endif
#if PY_VERSION_HEX < 0x030D0000
#  define TTX_SET_TRACE_TSTATE 1
#else
#  define TTX_SET_TRACE_TSTATE 0
#endif

/* Sets the trace function of `ts`. Returns 0, or -1 with an exception set
 * (3.11/3.12 only: the audit hook can refuse). */
#if TTX_SET_TRACE_TSTATE
static inline int
ttx_set_trace_tstate(PyThreadState *ts, Py_tracefunc func, PyObject *obj)
{
    return _PyEval_SetTrace(ts, func, obj);
}
/* The same for the profile function (--c-calls). */
static inline int
ttx_set_profile_tstate(PyThreadState *ts, Py_tracefunc func, PyObject *obj)
{
    return _PyEval_SetProfile(ts, func, obj);
}
#endif

/* ---- opcode events (docs/CPYTHON-NOTES.md section 1, constraint 5).
 *
 * 3.11: setting frame.f_trace_opcodes is enough.
 * 3.12: the setter only marks the interpreter; INSTRUCTION events are turned
 *   on for everyone by the next PyEval_SetTrace. So start() primes the flag
 *   on a frame before installing (TTX_OPCODES_PRIME).
 * 3.13+: opcode tracing is per code object and is enabled at once only if
 *   the frame already has f_trace, so f_trace is set first
 *   (TTX_OPCODES_NEED_F_TRACE). */
#if PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030D0000
#  define TTX_OPCODES_PRIME 1
#else
#  define TTX_OPCODES_PRIME 0
#endif
#if PY_VERSION_HEX >= 0x030D0000
#  define TTX_OPCODES_NEED_F_TRACE 1
#else
#  define TTX_OPCODES_NEED_F_TRACE 0
#endif

/* ---- saving and restoring the exception state around fallible work. */
#if PY_VERSION_HEX >= 0x030C0000
typedef struct { PyObject *exc; } ttx_exc_state_t;
static inline void ttx_exc_save(ttx_exc_state_t *s)
{
    s->exc = PyErr_GetRaisedException();
}
static inline void ttx_exc_restore(ttx_exc_state_t *s)
{
    PyErr_SetRaisedException(s->exc);
    s->exc = NULL;
}
#else
typedef struct { PyObject *type, *value, *tb; } ttx_exc_state_t;
static inline void ttx_exc_save(ttx_exc_state_t *s)
{
    PyErr_Fetch(&s->type, &s->value, &s->tb);
}
static inline void ttx_exc_restore(ttx_exc_state_t *s)
{
    PyErr_Restore(s->type, s->value, s->tb);
    s->type = s->value = s->tb = NULL;
}
#endif

/* ---- code objects: the fields read at first sight (cpython/code.h). */
#define TTX_CODE_UNITS(co)    ((uint32_t)Py_SIZE(co))  /* _Py_CODEUNITs */
#define TTX_CODE_LINETABLE(co) ((co)->co_linetable)    /* bytes, PEP 626/657 */
#define TTX_CODE_QUALNAME(co) ((co)->co_qualname)
/* The interpreter's own shim code, never a program's: 3.13+ runs a Python
 * `__init__` called through a specialised class call above a frame of
 * `_Py_InitCleanup`, whose file and name are "__init__" and which has no
 * lines; it is flagged CO_NO_MONITORING_EVENTS (sends no events). A walk
 * over the interpreter's frames (the --no-calls creation site, --bytes
 * stacks) meets it. */
#ifdef CO_NO_MONITORING_EVENTS
#define TTX_CODE_IS_SHIM(co)  (((co)->co_flags & CO_NO_MONITORING_EVENTS) != 0)
#else
#define TTX_CODE_IS_SHIM(co)  0
#endif

/* ---- module slots. */
#if PY_VERSION_HEX >= 0x030C0000
#  define TTX_SLOT_SUBINTERP \
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#else
#  define TTX_SLOT_SUBINTERP
#endif
#if PY_VERSION_HEX >= 0x030D0000
#  define TTX_SLOT_GIL {Py_mod_gil, Py_MOD_GIL_USED},
#else
#  define TTX_SLOT_GIL
#endif

/* ---- sys.monitoring (PEP 669; monitoring.c). TTX_HAVE_MONITORING: the
 * module and its tool ids exist (3.12+). TTX_MON_BRANCH_LR: branches are
 * reported as BRANCH_LEFT/BRANCH_RIGHT (3.14+), not BRANCH (3.12, 3.13).
 * Event numbers differ between versions: monitoring.c reads them by name
 * from sys.monitoring.events, never from a constant. */
#if PY_VERSION_HEX >= 0x030C0000
#  define TTX_HAVE_MONITORING 1
#else
#  define TTX_HAVE_MONITORING 0
#endif
#if PY_VERSION_HEX >= 0x030E0000
#  define TTX_MON_BRANCH_LR 1
#else
#  define TTX_MON_BRANCH_LR 0
#endif

/* ---- object capture (--objects; docs/CPYTHON-NOTES.md sections 4, 5).
 *
 * TTX_HAVE_REFTRACER: PyRefTracer exists (3.13+) on a GIL build.
 * For the frame reader (frameaddr.c): where the thread_state,
 *   interpreter_frame and code_object blocks start inside
 *   _Py_DebugOffsets (Include/internal/pycore_runtime.h in 3.13,
 *   pycore_debug_offsets.h in 3.14; their fields are read at run time and
 *   cross-checked against this build), the frame owners that are not
 *   Python frames, and the tag bits of f_executable (a _PyStackRef in
 *   3.14). TTX_FRAMEADDR_KNOWN is 0 where the layout was not checked. */
#if PY_VERSION_HEX >= 0x030D0000 && !defined(Py_GIL_DISABLED)
#  define TTX_HAVE_REFTRACER 1
#else
#  define TTX_HAVE_REFTRACER 0
#endif
#if PY_VERSION_HEX >= 0x030E0000 && PY_VERSION_HEX < 0x030F0000
#  define TTX_FRAMEADDR_KNOWN 1
#  define TTX_DBGOFF_TSTATE 176
#  define TTX_DBGOFF_IFRAME 248
#  define TTX_DBGOFF_CODE 312
#  define TTX_FRAME_OWNER_INTERP 3
#  define TTX_FRAME_OWNER_CSTACK 4
#  define TTX_FRAME_EXEC_TAG_MASK 3
#elif PY_VERSION_HEX >= 0x030D0000 && PY_VERSION_HEX < 0x030E0000
#  define TTX_FRAMEADDR_KNOWN 1
#  define TTX_DBGOFF_TSTATE 152
#  define TTX_DBGOFF_IFRAME 224
#  define TTX_DBGOFF_CODE 272
#  define TTX_FRAME_OWNER_INTERP 255     /* no such owner in 3.13 */
#  define TTX_FRAME_OWNER_CSTACK 3
#  define TTX_FRAME_EXEC_TAG_MASK 0
#else
#  define TTX_FRAMEADDR_KNOWN 0
#  define TTX_DBGOFF_TSTATE 0
#  define TTX_DBGOFF_IFRAME 0
#  define TTX_DBGOFF_CODE 0
#  define TTX_FRAME_OWNER_INTERP 255
#  define TTX_FRAME_OWNER_CSTACK 255
#  define TTX_FRAME_EXEC_TAG_MASK 0
#endif

/* ---- the running interpreter frame, read without a frame object (the
 * sys.monitoring callbacks, capture/moncalls.c): its address identifies
 * the frame for the shadow stack, its instruction pointer gives lasti as
 * PyFrame_GetLasti would. The layout of _PyInterpreterFrame (an internal
 * struct) is the same in its first eight words on 3.12-3.14: f_code /
 * f_executable (a tagged _PyStackRef on 3.14), previous, ..., frame_obj
 * (word 6), prev_instr / instr_ptr (word 7); then `owner` at a byte offset
 * that differs. moncalls.c checks the layout against the frame objects at
 * every start before it relies on it. */
#if PY_VERSION_HEX >= 0x030C0000
#  define TTX_IFRAME_KNOWN 1
#  define TTX_IFRAME_W_PREVIOUS 1
#  define TTX_IFRAME_W_FRAMEOBJ 6
#  define TTX_IFRAME_W_INSTR 7
#  if PY_VERSION_HEX >= 0x030E0000
#    define TTX_IFRAME_OWNER_BYTE 74
#    define TTX_IFRAME_CODE_TAG 3
#    define TTX_IFRAME_NOT_PY(owner) ((owner) >= 3)   /* interpreter, C stack */
#  elif PY_VERSION_HEX >= 0x030D0000
#    define TTX_IFRAME_OWNER_BYTE 70
#    define TTX_IFRAME_CODE_TAG 0
#    define TTX_IFRAME_NOT_PY(owner) ((owner) >= 3)   /* C stack */
#  else
#    define TTX_IFRAME_OWNER_BYTE 70
#    define TTX_IFRAME_CODE_TAG 0
#    define TTX_IFRAME_NOT_PY(owner) ((owner) >= 2)   /* C stack */
#  endif
/* The calling thread's innermost interpreter frame (identity), or NULL. */
static inline const char *
ttx_iframe_current(PyThreadState *ts)
{
#  if PY_VERSION_HEX >= 0x030D0000
    return (const char *)ts->current_frame;
#  else
    return (const char *)ts->cframe->current_frame;
#  endif
}
static inline const void *
ttx_iframe_word(const char *f, int w)
{
    const void *v;
    memcpy(&v, f + (size_t)w * sizeof(void *), sizeof(v));
    return v;
}
/* The code object f runs, or NULL for a shim (an entry frame, a C-stack
 * frame) or anything but code. */
static inline PyObject *
ttx_iframe_code(const char *f)
{
    uintptr_t exe = (uintptr_t)ttx_iframe_word(f, 0) &
                    ~(uintptr_t)TTX_IFRAME_CODE_TAG;
    PyObject *co = (PyObject *)exe;
    if (TTX_IFRAME_NOT_PY(*(const unsigned char *)(f + TTX_IFRAME_OWNER_BYTE))
        || co == NULL || !Py_IS_TYPE(co, &PyCode_Type))
        return NULL;
    return co;
}
/* lasti of frame f running co, in bytes, as PyFrame_GetLasti gives it:
 * -1 before the first instruction. */
static inline int
ttx_iframe_lasti(const char *f, PyObject *co)
{
    const char *ip = (const char *)ttx_iframe_word(f, TTX_IFRAME_W_INSTR);
    ptrdiff_t d = ip - (const char *)((PyCodeObject *)co)->co_code_adaptive;
    return d < 0 ? -1 : (int)d;
}
#else
#  define TTX_IFRAME_KNOWN 0
#endif

#endif /* TTX_PYCOMPAT_H */
