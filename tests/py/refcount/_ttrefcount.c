/* _ttrefcount.c - the tests' minimal reference for tracetap --objects: a
 * PyRefTracer (3.13+) that only counts CREATE and DESTROY by type name, and
 * matches DESTROYs to the CREATEs it saw through an address set.
 *
 * Owns: its tracer slot while started (the previous tracer is restored at
 * stop). Must not: create Python objects, touch frames, or set exceptions
 * inside the callback (PyMem_Raw* only). GIL: held by every entry point and
 * by the callback (GIL builds only; the tests never load it elsewhere).
 * Built by tests/py/refcount/build.py with the interpreter's own compiler.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#if PY_VERSION_HEX < 0x030D0000
#  error "_ttrefcount needs CPython 3.13+ (PyRefTracer)"
#endif

/* One type seen: keyed by address while the type lives; the name is ours. */
typedef struct {
    const void *type;       /* NULL once the type object was destroyed */
    char *name;             /* PyMem_Raw copy: "mod.Name" for heap types */
    unsigned long long created, destroyed, unmatched;
} rc_type;

static rc_type *types;      /* GIL */
static size_t n_types, cap_types;
typedef struct { uintptr_t addr; size_t type; } rc_live_t;
static rc_live_t *live;     /* open addressing; addr 0 = empty */
static size_t live_cap, n_live;
static PyRefTracer prev_fn;
static void *prev_data;
static int active;
static unsigned long long nomem;
static PyObject *s_module;  /* interned "__module__" */

static size_t
hash_addr(uintptr_t a, size_t cap)
{
    return (size_t)(((uint64_t)a >> 4) * 0x9E3779B97F4A7C15ull) & (cap - 1);
}

static int
live_grow(void)
{
    size_t ncap = live_cap ? live_cap * 2 : 1 << 16, i;
    rc_live_t *old = live;
    size_t ocap = live_cap;
    live = PyMem_RawCalloc(ncap, sizeof *live);
    if (live == NULL) {
        live = old;
        return -1;
    }
    live_cap = ncap;
    for (i = 0; i < ocap; i++) {
        uintptr_t a = old[i].addr;
        size_t h;
        if (a == 0)
            continue;
        h = hash_addr(a, live_cap);
        while (live[h].addr)
            h = (h + 1) & (live_cap - 1);
        live[h] = old[i];
    }
    PyMem_RawFree(old);
    return 0;
}

/* Index of the slot holding a, or of the empty slot where it would go. */
static size_t
live_slot(uintptr_t a)
{
    size_t h = hash_addr(a, live_cap);
    while (live[h].addr && live[h].addr != a)
        h = (h + 1) & (live_cap - 1);
    return h;
}

static void
live_delete(size_t i)
{
    size_t j = i, mask = live_cap - 1;
    for (;;) {
        size_t k;
        j = (j + 1) & mask;
        if (live[j].addr == 0)
            break;
        k = hash_addr(live[j].addr, live_cap);
        if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
            live[i] = live[j];
            i = j;
        }
    }
    live[i].addr = 0;
    n_live--;
}

static char *
raw_strdup2(const char *a, const char *b)
{
    size_t na = a ? strlen(a) : 0, nb = strlen(b);
    char *s = PyMem_RawMalloc(na + nb + 2);
    if (s == NULL)
        return NULL;
    if (a) {
        memcpy(s, a, na);
        s[na++] = '.';
    }
    memcpy(s + na, b, nb + 1);
    return s;
}

/* The index of `tp`, registered on first sight; (size_t)-1 on no memory.
 * The name is Python's, f"{t.__module__}.{t.__qualname__}" without the
 * module for builtins, computed here on its own: for a heap type from its
 * qualname and the __module__ of its dict, for a static type from tp_name
 * ("mod.Name", or a bare builtin name). Reads the type dict without
 * creating objects (an interned key, a borrowed result). */
static size_t
type_index(PyTypeObject *tp)
{
    const char *mod = NULL, *qual = tp->tp_name, *dot;
    char *modbuf = NULL;
    size_t i;
    for (i = n_types; i-- > 0;)
        if (types[i].type == tp)
            return i;
    if (n_types == cap_types) {
        size_t ncap = cap_types ? cap_types * 2 : 256;
        void *p = PyMem_RawRealloc(types, ncap * sizeof *types);
        if (p == NULL)
            return (size_t)-1;
        types = p;
        cap_types = ncap;
    }
    if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        PyObject *q = ((PyHeapTypeObject *)tp)->ht_qualname;
        const char *u = q && PyUnicode_Check(q) ? PyUnicode_AsUTF8AndSize(q, NULL) : NULL;
        if (u != NULL)
            qual = u;
        if (tp->tp_dict != NULL) {
            PyObject *m = PyDict_GetItemWithError(tp->tp_dict, s_module);
            if (m != NULL && PyUnicode_Check(m))
                mod = PyUnicode_AsUTF8AndSize(m, NULL);
        }
        if (PyErr_Occurred())
            PyErr_Clear();
    } else if ((dot = strrchr(tp->tp_name, '.')) != NULL) {
        modbuf = PyMem_RawMalloc((size_t)(dot - tp->tp_name) + 1);
        if (modbuf == NULL)
            return (size_t)-1;
        memcpy(modbuf, tp->tp_name, (size_t)(dot - tp->tp_name));
        modbuf[dot - tp->tp_name] = '\0';
        mod = modbuf;
        qual = dot + 1;
    }
    if (mod != NULL && strcmp(mod, "builtins") == 0)
        mod = NULL;
    memset(&types[n_types], 0, sizeof *types);
    types[n_types].type = tp;
    types[n_types].name = raw_strdup2(mod, qual);
    PyMem_RawFree(modbuf);
    if (types[n_types].name == NULL)
        return (size_t)-1;
    return n_types++;
}

static int
tracer(PyObject *op, PyRefTracerEvent event, void *data)
{
    if (event == PyRefTracer_CREATE) {
        size_t t = type_index(Py_TYPE(op)), i;
        if (t == (size_t)-1) {
            nomem++;
            return 0;
        }
        types[t].created++;
        if ((n_live + 1) * 2 > live_cap && live_grow() < 0) {
            nomem++;
            return 0;
        }
        i = live_slot((uintptr_t)op);
        if (live[i].addr == 0)
            n_live++;
        live[i].addr = (uintptr_t)op;
        live[i].type = t;
    } else if (event == PyRefTracer_DESTROY) {
        size_t i;
        if (live_cap) {
            i = live_slot((uintptr_t)op);
            if (live[i].addr) {
                types[live[i].type].destroyed++;
                live_delete(i);
            }
        }
        if (PyType_Check(op)) {
            /* A dying type: a new type at this address is a new entry. */
            for (i = 0; i < n_types; i++)
                if (types[i].type == op)
                    types[i].type = NULL;
        }
    }
    return 0;
}

static PyObject *
rc_start(PyObject *m, PyObject *unused)
{
    if (active) {
        PyErr_SetString(PyExc_RuntimeError, "already started");
        return NULL;
    }
    prev_fn = PyRefTracer_GetTracer(&prev_data);
    if (PyRefTracer_SetTracer(tracer, NULL) < 0)
        return NULL;
    active = 1;
    Py_RETURN_NONE;
}

static PyObject *
rc_stop(PyObject *m, PyObject *unused)
{
    void *data;
    int ours = PyRefTracer_GetTracer(&data) == tracer;
    if (!active)
        Py_RETURN_NONE;
    if (ours && PyRefTracer_SetTracer(prev_fn, prev_data) < 0)
        return NULL;
    active = 0;
    return PyBool_FromLong(ours);
}

/* counts() -> {name: (created, destroyed, alive)}; alive = created but not
 * seen destroyed. Entries of the same name (a type recreated at another
 * address) are summed. Call it after stop(). */
static PyObject *
rc_counts(PyObject *m, PyObject *unused)
{
    PyObject *d;
    size_t i;
    unsigned long long *alive;
    if (active) {
        PyErr_SetString(PyExc_RuntimeError, "stop() first");
        return NULL;
    }
    alive = PyMem_RawCalloc(n_types + 1, sizeof *alive);
    d = PyDict_New();
    if (alive == NULL || d == NULL)
        goto error;
    for (i = 0; i < live_cap; i++)
        if (live[i].addr)
            alive[live[i].type]++;
    for (i = 0; i < n_types; i++) {
        unsigned long long c = types[i].created, x = types[i].destroyed;
        unsigned long long a = alive[i];
        PyObject *old = PyDict_GetItemString(d, types[i].name), *v;
        if (old != NULL) {
            c += PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(old, 0));
            x += PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(old, 1));
            a += PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(old, 2));
        }
        v = Py_BuildValue("(KKK)", c, x, a);
        if (v == NULL || PyDict_SetItemString(d, types[i].name, v) < 0) {
            Py_XDECREF(v);
            goto error;
        }
        Py_DECREF(v);
    }
    PyMem_RawFree(alive);
    return d;
error:
    PyMem_RawFree(alive);
    Py_XDECREF(d);
    return PyErr_Occurred() ? NULL : PyErr_NoMemory();
}

/* live() -> list of (address, type name) still alive, for the gc checks. */
static PyObject *
rc_live(PyObject *m, PyObject *unused)
{
    PyObject *l = PyList_New(0);
    size_t i;
    if (l == NULL || active) {
        Py_XDECREF(l);
        if (active)
            PyErr_SetString(PyExc_RuntimeError, "stop() first");
        return NULL;
    }
    for (i = 0; i < live_cap; i++) {
        PyObject *t;
        if (!live[i].addr)
            continue;
        t = Py_BuildValue("(Ks)", (unsigned long long)live[i].addr,
                          types[live[i].type].name);
        if (t == NULL || PyList_Append(l, t) < 0) {
            Py_XDECREF(t);
            Py_DECREF(l);
            return NULL;
        }
        Py_DECREF(t);
    }
    return l;
}

static PyObject *
rc_reset(PyObject *m, PyObject *unused)
{
    size_t i;
    if (active) {
        PyErr_SetString(PyExc_RuntimeError, "stop() first");
        return NULL;
    }
    for (i = 0; i < n_types; i++)
        PyMem_RawFree(types[i].name);
    PyMem_RawFree(types);
    PyMem_RawFree(live);
    types = NULL;
    live = NULL;
    n_types = cap_types = live_cap = n_live = 0;
    nomem = 0;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"start", rc_start, METH_NOARGS, "Install the counting ref tracer."},
    {"stop", rc_stop, METH_NOARGS,
     "Restore the previous tracer; True if ours was still installed."},
    {"counts", rc_counts, METH_NOARGS, "{type: (created, destroyed, alive)}"},
    {"live", rc_live, METH_NOARGS, "[(address, type)] still alive"},
    {"reset", rc_reset, METH_NOARGS, "Forget everything counted."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "_ttrefcount",
                                 "Counting reference ref tracer (tests).", -1,
                                 methods};

PyMODINIT_FUNC
PyInit__ttrefcount(void)
{
    s_module = PyUnicode_InternFromString("__module__");
    if (s_module == NULL)
        return NULL;
    return PyModule_Create(&def);
}
