/* frameaddr.c - where an object is born when no trace function runs
 * (--objects --no-calls): reads the calling thread's interpreter frames as
 * tracemalloc and external profilers do, through the layout CPython
 * publishes in _PyRuntime.debug_offsets (docs/CPYTHON-NOTES.md §5).
 *
 * Owns: the offsets, read and cross-checked once at start. Must not:
 * materialise a frame object, take a reference, allocate or call any
 * CPython function in ttx_frameaddr_site (it runs inside the ref tracer).
 * GIL: held (the frames read are the calling thread's own).
 */
#include "objects.h"

#if TTX_HAVE_REFTRACER

#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

/* Offsets read from _Py_DebugOffsets; written once by init (GIL). The
 * hook of the defer mode reads them inline (objects.h). */
ttx_frameoff_t ttx_frameoff;
#define off ttx_frameoff

static uint64_t
u64_at(const char *base, size_t o)
{
    uint64_t v;
    memcpy(&v, base + o, sizeof(v));
    return v;
}

int
ttx_frameaddr_init(const char **why)
{
    const char *rt;
    uint64_t version, fsize, csize;

    if (off.ok)
        return 0;
    if (!TTX_FRAMEADDR_KNOWN) {
        *why = "the frame layout of this Python version is not known";
        return -1;
    }
    /* _PyRuntime is exported for debuggers; dlsym avoids a link-time
     * dependency on an internal symbol. */
    rt = (const char *)dlsym(RTLD_DEFAULT, "_PyRuntime");
    if (rt == NULL) {
        *why = "the interpreter does not export _PyRuntime";
        return -1;
    }
    if (memcmp(rt, "xdebugpy", 8) != 0) {
        *why = "_PyRuntime.debug_offsets has no \"xdebugpy\" cookie";
        return -1;
    }
    version = u64_at(rt, 8);
    if ((version >> 16) != ((uint64_t)PY_VERSION_HEX >> 16)) {
        *why = "_Py_DebugOffsets is from another Python version";
        return -1;
    }
    if (u64_at(rt, 16) != 0) {
        *why = "free-threaded layout";
        return -1;
    }
    off.ts_current_frame = (size_t)u64_at(rt, TTX_DBGOFF_TSTATE + 4 * 8);
    fsize = u64_at(rt, TTX_DBGOFF_IFRAME);
    off.f_previous = (size_t)u64_at(rt, TTX_DBGOFF_IFRAME + 1 * 8);
    off.f_executable = (size_t)u64_at(rt, TTX_DBGOFF_IFRAME + 2 * 8);
    off.f_instr_ptr = (size_t)u64_at(rt, TTX_DBGOFF_IFRAME + 3 * 8);
    off.f_owner = (size_t)u64_at(rt, TTX_DBGOFF_IFRAME + 5 * 8);
    csize = u64_at(rt, TTX_DBGOFF_CODE);
    off.co_code_adaptive = (size_t)u64_at(rt, TTX_DBGOFF_CODE + 9 * 8);
    /* Cross-check against the public structs this build was compiled
     * with: a wrong guess of the layout fails here, not in the hook. */
    if (off.ts_current_frame != offsetof(PyThreadState, current_frame) ||
        off.co_code_adaptive != offsetof(PyCodeObject, co_code_adaptive) ||
        csize != sizeof(PyCodeObject) || fsize < 32 || fsize > 512 ||
        off.f_previous >= fsize || off.f_executable >= fsize ||
        off.f_instr_ptr >= fsize || off.f_owner >= fsize) {
        *why = "_Py_DebugOffsets does not match this build's structures";
        return -1;
    }
    off.ok = 1;
    return 0;
}

int
ttx_frameaddr_site(int (*skip)(void *ctx, PyObject *code), void *ctx,
                   PyObject **code, uint32_t *offset)
{
    PyThreadState *ts = PyThreadState_GetUnchecked();
    const char *f;
    int depth;

    if (!off.ok || ts == NULL)
        return -1;
    memcpy(&f, (const char *)ts + off.ts_current_frame, sizeof(f));
    for (depth = 0; f != NULL && depth < 256; depth++) {
        uint8_t owner = *(const uint8_t *)(f + off.f_owner);
        uintptr_t exe;
        const char *ip;
        PyObject *co;
        memcpy(&exe, f + off.f_executable, sizeof(exe));
        exe &= ~(uintptr_t)TTX_FRAME_EXEC_TAG_MASK;
        co = (PyObject *)exe;
        if (owner != TTX_FRAME_OWNER_CSTACK &&
            owner != TTX_FRAME_OWNER_INTERP && co != NULL &&
            Py_IS_TYPE(co, &PyCode_Type)) {
            ptrdiff_t d;
            memcpy(&ip, f + off.f_instr_ptr, sizeof(ip));
            d = ip - ((const char *)co + off.co_code_adaptive);
            if (d >= 0 && d < (ptrdiff_t)TTX_CODE_UNITS(co) * 2 &&
                !(skip && skip(ctx, co))) {
                *code = co;
                *offset = (uint32_t)d;
                return 0;
            }
        }
        memcpy(&f, f + off.f_previous, sizeof(f));
    }
    return -1;
}

/* The code object of frame f when f runs one (not a C-stack shim or an
 * interpreter entry frame), else NULL. */
static inline PyObject *
frame_code(const char *f)
{
    uint8_t owner = *(const uint8_t *)(f + off.f_owner);
    uintptr_t exe;
    PyObject *co;
    memcpy(&exe, f + off.f_executable, sizeof(exe));
    exe &= ~(uintptr_t)TTX_FRAME_EXEC_TAG_MASK;
    co = (PyObject *)exe;
    if (owner == TTX_FRAME_OWNER_CSTACK || owner == TTX_FRAME_OWNER_INTERP ||
        co == NULL || !Py_IS_TYPE(co, &PyCode_Type))
        return NULL;
    return co;
}

int
ttx_frameaddr_innermost(PyThreadState *ts, PyObject **code,
                        uint32_t *offset)
{
    const char *f, *ip;
    PyObject *co;
    ptrdiff_t d;

    if (!off.ok || ts == NULL)
        return -1;
    memcpy(&f, (const char *)ts + off.ts_current_frame, sizeof(f));
    if (f == NULL || (co = frame_code(f)) == NULL)
        return -1;
    memcpy(&ip, f + off.f_instr_ptr, sizeof(ip));
    d = ip - ((const char *)co + off.co_code_adaptive);
    if (d < 0 || d >= (ptrdiff_t)TTX_CODE_UNITS(co) * 2)
        return -1;
    *code = co;
    *offset = (uint32_t)d;
    return 0;
}

uint32_t
ttx_frameaddr_innermost_units(PyThreadState *ts)
{
    const char *f;
    PyObject *co;

    if (!off.ok || ts == NULL)
        return UINT32_MAX;
    memcpy(&f, (const char *)ts + off.ts_current_frame, sizeof(f));
    if (f == NULL || (co = frame_code(f)) == NULL)
        return 0;
    return TTX_CODE_UNITS(co);
}

int
ttx_frameaddr_stack(int (*skip)(void *ctx, PyObject *code), void *ctx,
                    PyObject **codes, uint32_t *offsets, int max)
{
    PyThreadState *ts = PyThreadState_GetUnchecked();
    const char *f, *ip;
    int depth, n = 0;

    if (!off.ok || ts == NULL)
        return 0;
    memcpy(&f, (const char *)ts + off.ts_current_frame, sizeof(f));
    for (depth = 0; f != NULL && depth < 256 && n < max; depth++) {
        PyObject *co = frame_code(f);
        if (co != NULL) {
            ptrdiff_t d;
            memcpy(&ip, f + off.f_instr_ptr, sizeof(ip));
            d = ip - ((const char *)co + off.co_code_adaptive);
            if (d >= 0 && d < (ptrdiff_t)TTX_CODE_UNITS(co) * 2 &&
                !(skip && skip(ctx, co))) {
                codes[n] = co;
                offsets[n++] = (uint32_t)d;
            }
        }
        memcpy(&f, f + off.f_previous, sizeof(f));
    }
    return n;
}

#endif /* TTX_HAVE_REFTRACER */
