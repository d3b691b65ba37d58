/* cfuncs.c - --c-calls: the profile function that records C function calls
 * beside the trace function, and the table of C functions seen.
 *
 * Owns: capture_profile() (PyTrace_C_CALL/C_RETURN/C_EXCEPTION into CALL,
 * RETURN and EXCEPTION events on a CODE record flagged TT_CODE_CFUNCTION;
 * Python CALL/RETURN are left to the trace function) and the table keyed by
 * PyMethodDef (cProfile's key: one record per C function, whatever its
 * self) with the record's id. Must not: run Python code, create Python
 * objects, raise or touch an in-flight exception. GIL: held throughout.
 */
#include "capture_int.h"
#include "objects_api.h"

#include <string.h>

#define CFUNCS_MIN_BITS 8
#define CFUNC_FAILED UINT32_MAX

typedef struct {
    const PyMethodDef *ml;       /* identity only; never dereferenced here */
    uint32_t id;                 /* code id, or CFUNC_FAILED */
} cfunc_slot_t;

struct capture_cfuncs {
    cfunc_slot_t *slots;         /* owned: 1 << bits; ml NULL marks free */
    uint32_t bits, count;
    uint32_t file_id;            /* "<built-in>", once defined */
    uint32_t unknown_exc;        /* "" : a c_exception's type (unknown) */
    int strings_ok;              /* both ids above are defined */
};

int
capture_cfuncs_init(capture_rec_t *rec)
{
    struct capture_cfuncs *t = PyMem_RawCalloc(1, sizeof(*t));
    if (t != NULL) {
        t->bits = CFUNCS_MIN_BITS;
        t->slots = PyMem_RawCalloc((size_t)1 << t->bits, sizeof(*t->slots));
    }
    if (t == NULL || t->slots == NULL) {
        PyMem_RawFree(t);
        PyErr_NoMemory();
        return -1;
    }
    rec->cfuncs = t;
    return 0;
}

void
capture_cfuncs_free(capture_rec_t *rec)
{
    if (rec->cfuncs == NULL)
        return;
    PyMem_RawFree(rec->cfuncs->slots);
    PyMem_RawFree(rec->cfuncs);
    rec->cfuncs = NULL;
}

/* The slot of `ml`: its entry, or the free slot where it goes. */
static cfunc_slot_t *
cfuncs_slot(struct capture_cfuncs *t, const PyMethodDef *ml)
{
    size_t mask = ((size_t)1 << t->bits) - 1;
    size_t i = capture_ptr_hash(ml, t->bits);
    while (t->slots[i].ml != NULL && t->slots[i].ml != ml)
        i = (i + 1) & mask;
    return &t->slots[i];
}

/* Doubles the table when half full. 0, or -1 (unchanged). */
static int
cfuncs_reserve(struct capture_cfuncs *t)
{
    size_t n = (size_t)1 << t->bits, i;
    cfunc_slot_t *old = t->slots;
    if ((size_t)(t->count + 1) * 2 <= n)
        return 0;
    t->slots = PyMem_RawCalloc(n * 2, sizeof(*t->slots));
    if (t->slots == NULL) {
        t->slots = old;
        return -1;
    }
    t->bits++;
    for (i = 0; i < n; i++) {
        if (old[i].ml != NULL)
            *cfuncs_slot(t, old[i].ml) = old[i];
    }
    PyMem_RawFree(old);
    return 0;
}

/* The type whose tp_methods holds `ml`, searched along tp's MRO: the type
 * that defines the method (list for a list subclass's sort), the one
 * cProfile's name shows. NULL if none does. Reads type slots only. */
static PyTypeObject *
cfunc_owner(PyTypeObject *tp, const PyMethodDef *ml)
{
    PyObject *mro = tp->tp_mro;
    Py_ssize_t i, n = mro != NULL && PyTuple_Check(mro) ? PyTuple_GET_SIZE(mro)
                                                        : 0;
    for (i = 0; i < n; i++) {
        PyTypeObject *k = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        const PyMethodDef *m = k->tp_methods;
        for (; m != NULL && m->ml_name != NULL; m++) {
            if (m == ml)
                return k;
        }
    }
    return NULL;
}

/* The module name of a built-in function: its __module__ (m_module, a str
 * or a module), else the name of the module it is bound to. NULL if none.
 * Borrowed UTF-8. */
static const char *
cfunc_module(PyCFunctionObject *fn, Py_ssize_t *len)
{
    PyObject *m = fn->m_module;
    const char *s = NULL;
    if (m != NULL && PyUnicode_Check(m))
        return capture_utf8(m, len);
    if (m == NULL && fn->m_self != NULL && PyModule_Check(fn->m_self))
        m = fn->m_self;
    if (m != NULL && PyModule_Check(m)) {
        s = PyModule_GetName(m);
        if (s == NULL)
            PyErr_Clear();
        else
            *len = (Py_ssize_t)strlen(s);
    }
    return s;
}

/* The qualified name (docs/calls.md): "type.method" for a method (the
 * defining type's tp_name: "list.sort", "collections.deque.append"; for a
 * class method, of the type it is bound to: "dict.fromkeys"),
 * "module.function" for a module-level function ("builtins.sorted",
 * "time.sleep"), else the bare name. Writes at most cap - 1 bytes and a
 * NUL; returns the length. */
static size_t
cfunc_name(PyCFunctionObject *fn, char *buf, size_t cap)
{
    PyObject *self = fn->m_self;
    const char *ml_name = fn->m_ml->ml_name ? fn->m_ml->ml_name : "?";
    const char *prefix = NULL;
    Py_ssize_t plen = 0;
    int n;

    if (self == NULL || PyModule_Check(self)) {
        prefix = cfunc_module(fn, &plen);
    } else {
        PyTypeObject *tp = PyType_Check(self) ? (PyTypeObject *)self
                                              : Py_TYPE(self);
        PyTypeObject *owner = cfunc_owner(tp, fn->m_ml);
        if (owner == NULL && PyType_Check(self))
            owner = cfunc_owner(Py_TYPE(self), fn->m_ml);   /* type.mro */
        prefix = (owner != NULL ? owner : Py_TYPE(self))->tp_name;
        plen = (Py_ssize_t)strlen(prefix);
    }
    if (prefix != NULL)
        n = snprintf(buf, cap, "%.*s.%s", (int)plen, prefix, ml_name);
    else
        n = snprintf(buf, cap, "%s", ml_name);
    if (n < 0)
        n = 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Writes the two strings every C function record uses. 0, or -1. */
static int
cfuncs_strings(capture_rec_t *rec, struct capture_cfuncs *t)
{
    static const char file[] = "<built-in>";
    if (t->strings_ok)
        return 0;
    if (capture_string_id(rec, file, sizeof(file) - 1, &t->file_id) < 0 ||
        capture_string_id(rec, "", 0, &t->unknown_exc) < 0)
        return -1;
    t->strings_ok = 1;
    return 0;
}

/* First sight of a C function: its CODE record (no line ranges, firstlineno
 * 0, flags TT_CODE_CFUNCTION; not TT_CODE_TRACED, so coverage never lists
 * it). Returns the id, or CFUNC_FAILED (counted; remembered, so a function
 * that failed once is not retried at every call). */
static TT_NOINLINE uint32_t
cfunc_define(capture_rec_t *rec, cfunc_slot_t *slot, PyCFunctionObject *fn)
{
    struct capture_cfuncs *t = rec->cfuncs;
    tt_code_def_t def;
    char buf[512];
    size_t len;
    ttx_exc_state_t saved;
    int rc;

    ttx_exc_save(&saved);
    len = cfunc_name(fn, buf, sizeof(buf));
    if (PyErr_Occurred())
        PyErr_Clear();
    ttx_exc_restore(&saved);
    slot->ml = fn->m_ml;
    slot->id = CFUNC_FAILED;
    t->count++;
    memset(&def, 0, sizeof(def));
    if (cfuncs_strings(rec, t) < 0 ||
        capture_string_id(rec, buf, len, &def.qualname) < 0) {
        rec->problems.code_errors++;
        return CFUNC_FAILED;
    }
    def.filename = t->file_id;
    def.firstlineno = 0;
    def.flags = TT_CODE_CFUNCTION;
    def.parent = TT_NO_PARENT;
    rc = tt_writer_code(rec->w, &def, &slot->id);
    if (rc < 0) {
        slot->id = CFUNC_FAILED;
        rec->problems.writer_errors++;
    }
    return slot->id;
}

/* The code id of fn's C function, or CFUNC_FAILED. */
static inline uint32_t
cfunc_id(capture_rec_t *rec, PyCFunctionObject *fn)
{
    struct capture_cfuncs *t = rec->cfuncs;
    cfunc_slot_t *s = cfuncs_slot(t, fn->m_ml);
    if (TTX_LIKELY(s->ml != NULL))
        return s->id;
    if (cfuncs_reserve(t) < 0) {
        rec->problems.nomem++;
        return CFUNC_FAILED;
    }
    return cfunc_define(rec, cfuncs_slot(t, fn->m_ml), fn);
}

uint32_t
capture_cfunc_callable_id(capture_rec_t *rec, PyObject *callable,
                          PyObject *self_arg, PyObject *missing)
{
    PyObject *meth;
    cfunc_slot_t *s;
    uint32_t id = CFUNC_FAILED;
    ttx_exc_state_t saved;

    if (PyCFunction_Check(callable)) {
        TTX_OBJ_OWN(id = cfunc_id(rec, (PyCFunctionObject *)callable));
        return id;
    }
    if (!Py_IS_TYPE(callable, &PyMethodDescr_Type) || self_arg == missing)
        return CFUNC_FAILED;
    /* Keyed by the descriptor's PyMethodDef, as the bound method legacy
     * makes of it would be; the bound method is made only at first sight,
     * for the name. */
    s = cfuncs_slot(rec->cfuncs, ((PyMethodDescrObject *)callable)->d_method);
    if (TTX_LIKELY(s->ml != NULL))
        return s->id;
    ttx_exc_save(&saved);
    TTX_OBJ_OWN(meth = Py_TYPE(callable)->tp_descr_get(
                    callable, self_arg, (PyObject *)Py_TYPE(self_arg)));
    if (meth != NULL && PyCFunction_Check(meth))
        TTX_OBJ_OWN(id = cfunc_id(rec, (PyCFunctionObject *)meth));
    Py_XDECREF(meth);
    PyErr_Clear();
    ttx_exc_restore(&saved);
    return id;
}

uint32_t
capture_cfunc_unknown_exc(capture_rec_t *rec)
{
    return rec->cfuncs->unknown_exc;
}

/* A profile hook of ours that outlived its recording, or one on a thread
 * --threads main leaves out: take it off this thread. */
static TT_NOINLINE void
profile_remove_here(void)
{
    if (PyThreadState_Get()->c_profilefunc == capture_profile)
        PyEval_SetProfile(NULL, NULL);
}

int
capture_profile(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    capture_thread_t *t = capture_tls.thread;
    capture_rec_t *rec = capture_rec;
    capture_frame_t *e;
    uint32_t id;
    (void)obj;

    if (what != PyTrace_C_CALL && what != PyTrace_C_RETURN &&
        what != PyTrace_C_EXCEPTION)
        return 0;               /* Python CALL/RETURN: the trace function's */
    if (TTX_UNLIKELY(capture_tls.gen != capture_gen)) {
        if (rec == NULL || rec->cfuncs == NULL) {
            profile_remove_here();
            return 0;
        }
        t = capture_thread_attach();
        if (t == NULL) {
            profile_remove_here();
            return 0;
        }
    } else if (TTX_UNLIKELY(rec->cfuncs == NULL)) {
        profile_remove_here();  /* left by an earlier --c-calls recording */
        return 0;
    }
    /* Only C functions called by a recorded frame (the filters): that frame
     * is the top of the shadow stack; anything else is not recorded. */
    e = t->top;
    if (e->frame != (const void *)frame || !e->traced ||
        arg == NULL || !PyCFunction_Check(arg))
        return 0;
    TTX_OBJ_OWN(id = cfunc_id(rec, (PyCFunctionObject *)arg));
    if (TTX_UNLIKELY(id == CFUNC_FAILED))
        return 0;
    switch (what) {
    case PyTrace_C_CALL:
        tt_tbuf_call(t->tbuf, capture_clock(), id, e->line);
        break;
    case PyTrace_C_RETURN:
        tt_tbuf_return(t->tbuf, capture_clock(), id, e->line);
        break;
    default:
        /* CPython hides the exception from the profile function during
         * C_EXCEPTION (3.11 fetches it, 3.12+ takes it), so its type is
         * recorded as unknown: the empty string. */
        tt_tbuf_exception(t->tbuf, capture_clock(), id, e->line,
                          rec->cfuncs->unknown_exc);
        break;
    }
    return 0;
}
