/* core.c - what every part of the extension shares at run time: the module
 * state and the one place where libtt error codes become Python
 * exceptions. Must not: know any part (capture, objects, bindings) or
 * the method table (module.c). GIL: held.
 */
#include "core.h"

#include <errno.h>
#include <string.h>

capture_state_t *
capture_get_state(PyObject *module)
{
    return (capture_state_t *)PyModule_GetState(module);
}

PyObject *
capture_raise_tt(PyObject *module, int err, const char *what)
{
    capture_state_t *st = module ? capture_get_state(module) : NULL;
    PyObject *exc, *code;

    /* A read stopped by its progress callback (progress.c): the reason
     * (KeyboardInterrupt, the callback's own exception) is already set. */
    if (err == TT_ECANCELED && PyErr_Occurred())
        return NULL;
    if (err == TT_ENOMEM)
        return PyErr_NoMemory();
    if (err == TT_EIO && errno != 0)
        return PyErr_Format(PyExc_OSError, "%s: %s (%s)", what,
                            tt_strerror(err), strerror(errno));
    if (st == NULL || st->trace_error == NULL)
        return PyErr_Format(PyExc_ValueError, "%s: %s", what,
                            tt_strerror(err));
    exc = PyUnicode_FromFormat("%s: %s", what, tt_strerror(err));
    if (exc == NULL)
        return NULL;
    {
        PyObject *inst = PyObject_CallOneArg(st->trace_error, exc);
        Py_DECREF(exc);
        if (inst == NULL)
            return NULL;
        code = PyLong_FromLong(err);
        if (code == NULL || PyObject_SetAttrString(inst, "code", code) < 0) {
            Py_XDECREF(code);
            Py_DECREF(inst);
            return NULL;
        }
        Py_DECREF(code);
        PyErr_SetObject(st->trace_error, inst);
        Py_DECREF(inst);
    }
    return NULL;
}

static PyModuleDef *core_module_def;     /* set once at import (GIL) */

void
capture_core_init(PyModuleDef *def)
{
    core_module_def = def;
}

PyObject *
capture_module_of(PyTypeObject *tp)
{
    return PyType_GetModuleByDef(tp, core_module_def);
}
