/* opcode_flag.c - 3.12 only: the interpreter-wide "some frame asked for
 * opcode events" flag (PyInterpreterState.f_opcode_trace_set).
 *
 * On 3.12 the f_trace_opcodes setter raises that flag and nothing ever
 * lowers it; every later PyEval_SetTrace, by any tool, then turns
 * INSTRUCTION events on for the whole interpreter (docs/CPYTHON-NOTES.md section
 * 1). start() raises it to record opcodes (install.c, prime_opcodes), so
 * stop() puts back what it found: otherwise the program's next
 * sys.settrace (a debugger, coverage) runs about 2.7x slower for the rest
 * of the process.
 *
 * Owns: the one read and write of that internal field. The field is
 * reached through CPython's internal header, so it is checked against the
 * setter's behaviour before it is ever written (ttx_opcode_flag_read).
 * GIL: held by every caller.
 */

/* The internal header needs Py_BUILD_CORE before Python.h, which changes
 * what Python.h declares: this file includes nothing else of tracetap's
 * (pycompat.h decides TTX_OPCODES_PRIME the same way, by version). */
#define Py_BUILD_CORE 1
#include <Python.h>

#if PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030D0000

#include "internal/pycore_interp.h"

#include "opcode_flag.h"

int
ttx_opcode_flag_read(void)
{
    return PyInterpreterState_Get()->f_opcode_trace_set ? 1 : 0;
}

void
ttx_opcode_flag_clear(void)
{
    PyInterpreterState_Get()->f_opcode_trace_set = false;
}

#endif /* 3.12 */
