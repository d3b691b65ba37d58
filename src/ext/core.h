/* core.h - what every part of the extension may use: the module state,
 * the one conversion of libtt error codes into Python exceptions (core.c),
 * the compatibility layer (pycompat.h) and libtt's public header.
 *
 * Must not: name anything of capture/, objects/ or bindings/. GIL: held.
 */
#ifndef TTX_CORE_H
#define TTX_CORE_H

#include "pycompat.h"
#include "tt.h"
#include "ttx_hash.h"

#define TTX_LIKELY(x)   TT_LIKELY(x)
#define TTX_UNLIKELY(x) TT_UNLIKELY(x)
/* core.c: the module state. */
typedef struct {
    PyTypeObject *hook_type;
    PyTypeObject *reader_type;
    PyTypeObject *eventiter_type;
    PyObject *trace_error;       /* tracetap._tracetap.TraceError */
} capture_state_t;

capture_state_t *capture_get_state(PyObject *module);
/* Raises TraceError (or OSError/MemoryError) for a TT_E* code; returns
 * NULL so callers can `return capture_raise_tt(...)`. TT_ECANCELED with an
 * exception already set (a read its progress callback stopped) keeps that
 * exception. */
PyObject *capture_raise_tt(PyObject *module, int err, const char *what);
/* The module object a heap type of ours belongs to (PyType_GetModuleByDef
 * with the definition module.c registered through capture_core_init), or
 * NULL + TypeError. Borrowed. */
PyObject *capture_module_of(PyTypeObject *tp);
/* module.c, once at import: remembers the module definition. */
void capture_core_init(PyModuleDef *def);

#endif /* TTX_CORE_H */
