/* monbranch.c - `--coverage --branch` on the sys.monitoring backend: the
 * line arc that legacy `--count --branch` records for a branch event.
 *
 * Owns: each code's copy of its deoptimised bytecode (capture_code_t.bc),
 * its per-instruction "direction seen" bits (.br), and the walk from a
 * branch's destination to the next LINE event CPython 3.12+ would fire
 * there. Must not: run Python code or leave an exception set (the bytecode
 * is read once per code, at its first branch event). GIL: held.
 */
#include "capture_int.h"

#include <string.h>

#if TTX_HAVE_MONITORING

/* Every opcode name as a macro (3.13+: through opcode_ids.h): only here
 * and in codetable.c. */
#include <opcode.h>

int
capture_branch_load(capture_code_t *c)
{
    ttx_exc_state_t saved;
    PyObject *bytes;
    Py_ssize_t size;
    int rc = -1;

    if (c->bc != NULL)
        return 0;
    ttx_exc_save(&saved);
    /* deoptimised, no INSTRUMENTED_ opcodes, inline caches zeroed (CACHE) */
    bytes = PyCode_GetCode((PyCodeObject *)c->code);
    if (bytes == NULL)
        goto done;
    size = PyBytes_GET_SIZE(bytes);
    if ((uint64_t)size < (uint64_t)c->n_units * 2u)
        goto done;
    c->bc = PyMem_RawMalloc(c->n_units ? (size_t)c->n_units * 2u : 1);
    c->br = PyMem_RawCalloc(c->n_units ? c->n_units : 1, 1);
    if (c->bc == NULL || c->br == NULL) {
        PyMem_RawFree(c->bc);
        PyMem_RawFree(c->br);
        c->bc = c->br = NULL;
        goto done;
    }
    memcpy(c->bc, PyBytes_AS_STRING(bytes), (size_t)c->n_units * 2u);
    rc = 0;
done:
    Py_XDECREF(bytes);
    PyErr_Clear();
    ttx_exc_restore(&saved);
    return rc;
}

uint32_t
capture_branch_next(const capture_code_t *c, uint32_t i)
{
    for (i++; i < c->n_units && c->bc[2 * i] == CACHE; i++)
        ;
    return i;
}

/* Whether an instruction never starts a line (CPython's initialize_lines:
 * skipped by the instruction before it, or RESUME). */
static int
never_line_start(int op)
{
    switch (op) {
    case RESUME:
    case END_FOR:
    case END_SEND:
#ifdef END_ASYNC_FOR
    case END_ASYNC_FOR:
#endif
        return 1;
    default:
        return 0;
    }
}

int
capture_branch_arc(const capture_code_t *c, uint32_t s, uint32_t d,
                   int32_t *from, int32_t *to, uint32_t *at)
{
    int32_t prev = c->lines[s];           /* the line of the last executed
                                             instruction */
    uint32_t i = d, steps = 0, ext = 0;

    assert(c->bc != NULL && s < c->n_units);
    /* A branch without a line (compiler-made: except* re-raising, ...):
     * legacy's arc comes from whichever line ran last, which the bytecode
     * does not say. No statement's exits come from such a branch. */
    if (prev < 0)
        return 0;
    *from = prev;
    while (i < c->n_units && steps++ <= c->n_units) {
        int op = c->bc[2 * i];
        uint32_t arg = ext | c->bc[2 * i + 1], next;
        int32_t line = c->lines[i];

        if (op == CACHE) {
            i++;
            continue;
        }
        /* CPython 3.12+ fires LINE at a line start whose line differs from
         * the line of the instruction executed before it. */
        if (line >= 0 && line != prev && !never_line_start(op)) {
            *to = line;
            if (at != NULL)
                *at = i;
            return 1;
        }
        prev = line;
        next = capture_branch_next(c, i);
        ext = 0;
        switch (op) {
        case EXTENDED_ARG:
            ext = arg << 8;
            i = next;
            continue;
        case RETURN_VALUE:
#ifdef RETURN_CONST
        case RETURN_CONST:
#endif
        case YIELD_VALUE:
            /* still on the branch's line: legacy reports the return (or
             * the suspension) from it, the exit arc */
            *to = -c->firstlineno;
            if (at != NULL)
                *at = i;
            return 1;
        case JUMP_FORWARD:
            i = next + arg;
            continue;
        case JUMP_BACKWARD:
        case JUMP_BACKWARD_NO_INTERRUPT:
            if (arg > next)
                return 0;
            i = next - arg;
            continue;
        case POP_JUMP_IF_FALSE:
        case POP_JUMP_IF_TRUE:
        case POP_JUMP_IF_NONE:
        case POP_JUMP_IF_NOT_NONE:
        case FOR_ITER:
        case SEND:
            /* a branch of the same line: its own event gives the arc */
            return 0;
        case RAISE_VARARGS:
        case RERAISE:
            /* where it goes depends on the handlers: no arc claimed */
            return 0;
        default:
            /* an instruction that can raise is assumed not to (the arc
             * of the path that does not raise; docs/DESIGN.md §7) */
            i = next;
            continue;
        }
    }
    return 0;
}

#if PY_VERSION_HEX < 0x030E0000

/* 3.12 and 3.13 fire no branch event for `async for`: it enters its body
 * when the SEND after GET_ANEXT completes (END_SEND) and leaves through
 * its END_ASYNC_FOR exception handler. */

int
capture_branch_has_async_for(const capture_code_t *c)
{
    uint32_t i;
    for (i = 0; i < c->n_units; i++)
        if (c->bc[2 * i] == END_ASYNC_FOR)
            return 1;
    return 0;
}

int
capture_branch_async_entry(const capture_code_t *c, uint32_t u,
                           int32_t *from, int32_t *to)
{
    uint32_t g, e, at;

    for (g = 0; g < c->n_units; g++) {
        if (c->bc[2 * g] != GET_ANEXT)
            continue;
        for (e = g + 1; e < c->n_units && c->bc[2 * e] != END_SEND; e++)
            ;
        if (e < c->n_units &&
            capture_branch_arc(c, e, capture_branch_next(c, e), from, to,
                               &at) && at == u)
            return 1;
    }
    return 0;
}

int
capture_branch_async_exit(const capture_code_t *c, uint32_t h,
                          int32_t *from, int32_t *to)
{
    if (h >= c->n_units || c->bc[2 * h] != END_ASYNC_FOR)
        return 0;
    return capture_branch_arc(c, h, capture_branch_next(c, h), from, to,
                              NULL);
}

#endif  /* < 3.14 */

#endif
