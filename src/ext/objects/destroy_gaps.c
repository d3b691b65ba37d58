/* destroy_gaps.c - the start-up self-test that finds the interpreter's
 * missing DESTROY events (docs/CPYTHON-NOTES.md §4): floats churned through the
 * eval loop (gh-130382, 3.13.0-3.13.2) and a deeply nested list freed on a
 * thread with a small C stack, so that the trashcan defers part of it
 * (gh-156371, 3.14.x up to at least 3.14.7). About a millisecond.
 *
 * Owns: a private counting ref tracer, installed only while the test code
 * runs. Must not: run while another ref tracer is installed (the caller
 * checks), or leave its tracer installed. GIL: held; the test's helper
 * thread takes it in turn.
 */
#include "objects.h"

#if TTX_HAVE_REFTRACER

#include <string.h>

/* Counters of the private tracer (GIL). `phase` selects what counts:
 * 1 floats, 2 lists; 0 nothing. */
static int phase;
static uint64_t fc, fd, lc, ld;

/* Only addresses created during a phase count as destroyed, so frees of
 * older objects do not hide a gap. A small table is enough: the test
 * makes a few thousand objects. */
#define SEEN_BITS 15
static uintptr_t *seen;          /* PyMem_Raw, 1 << SEEN_BITS */

/* Fibonacci hashing: the test's objects sit 16 or 32 bytes apart, and a
 * plain mask put them in one cluster that every probe walked (the
 * self-test took ~10 ms, most of it here). */
static inline size_t
seen_home(uintptr_t a)
{
    return ttx_addr_slot((uint64_t)a, SEEN_BITS);
}

static int
seen_add(uintptr_t a)
{
    size_t m = ((size_t)1 << SEEN_BITS) - 1, i = seen_home(a), n;
    uintptr_t *hole = NULL;
    for (n = 0; n <= m; n++, i = (i + 1) & m) {
        if (seen[i] == a)
            return 0;
        if (seen[i] == 1 && hole == NULL)
            hole = &seen[i];     /* reused below unless a is further on */
        if (seen[i] == 0) {
            *(hole ? hole : &seen[i]) = a;
            return 1;
        }
    }
    if (hole == NULL)
        return 0;                /* full: not counted */
    *hole = a;
    return 1;
}

static int
seen_del(uintptr_t a)
{
    size_t m = ((size_t)1 << SEEN_BITS) - 1, i = seen_home(a), n;
    for (n = 0; n <= m; n++, i = (i + 1) & m) {
        if (seen[i] == a) {
            seen[i] = 1;         /* tombstone: never a real address */
            return 1;
        }
        if (seen[i] == 0)
            return 0;
    }
    return 0;
}

static int
gaps_tracer(PyObject *op, PyRefTracerEvent event, void *data)
{
    PyTypeObject *want = phase == 1 ? &PyFloat_Type
                       : phase == 2 ? &PyList_Type : NULL;
    (void)data;
    if (want == NULL || Py_TYPE(op) != want)
        return 0;
    if (event == PyRefTracer_CREATE) {
        /* Every creation counts; an address already seen is one whose
         * death was not reported (the gap itself), so it stays listed. */
        (void)seen_add((uintptr_t)op);
        (*(phase == 1 ? &fc : &lc))++;
    } else if (event == PyRefTracer_DESTROY) {
        if (seen_del((uintptr_t)op))
            (*(phase == 1 ? &fd : &ld))++;
    }
    return 0;
}

/* The test program. _churn keeps its float in a local, so the eval loop
 * frees each old value; _nest frees a 4000-deep list from C (list.clear)
 * on a 256 KiB stack, where 3.14.7 defers a part through the trashcan. */
static const char gaps_source[] =
    "def _churn(phase):\n"
    "    phase(1)\n"
    "    t = 0.0\n"
    "    for i in range(3000):\n"
    "        t = t + i * 0.5\n"
    "    phase(0)\n"
    "    return t\n"
    "def _nest(phase):\n"
    "    phase(2)\n"
    "    l = []\n"
    "    for _ in range(4000):\n"
    "        l = [l]\n"
    "    holder = [l]\n"
    "    del l\n"
    "    holder.clear()\n"
    "    phase(0)\n"
    "def _run(phase, threading):\n"
    "    _churn(phase)\n"
    "    try:\n"
    "        old = threading.stack_size(256 * 1024)\n"
    "    except (ValueError, RuntimeError):\n"
    "        old = None\n"
    "    try:\n"
    "        th = threading.Thread(target=_nest, args=(phase,),\n"
    "                              name='tracetap-selftest', daemon=True)\n"
    "        th.start()\n"
    "        th.join()\n"
    "    finally:\n"
    "        if old is not None:\n"
    "            threading.stack_size(old)\n";

static PyObject *
set_phase(PyObject *self, PyObject *arg)
{
    phase = (int)PyLong_AsLong(arg);
    if (phase == -1 && PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef phase_def = {"phase", set_phase, METH_O, NULL};

int
ttx_gaps_selftest(ttx_gaps_t *g)
{
    PyObject *ns = NULL, *code = NULL, *res = NULL, *run, *ph = NULL;
    PyObject *threading = NULL;
    uint64_t t0 = capture_mono_ns();
    int rc = -1;

    memset(g, 0, sizeof(*g));
    seen = PyMem_RawCalloc((size_t)1 << SEEN_BITS, sizeof(*seen));
    if (seen == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    phase = 0;
    fc = fd = lc = ld = 0;
    ns = PyDict_New();
    ph = PyCFunction_New(&phase_def, NULL);
    threading = PyImport_ImportModule("threading");
    if (ns == NULL || ph == NULL || threading == NULL ||
        PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) < 0)
        goto done;
    code = Py_CompileString(gaps_source, "<tracetap destroy-gap self-test>",
                            Py_file_input);
    if (code == NULL)
        goto done;
    res = PyEval_EvalCode(code, ns, ns);
    if (res == NULL)
        goto done;
    Py_CLEAR(res);
    run = PyDict_GetItemString(ns, "_run");       /* borrowed */
    if (run == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "self-test code is broken");
        goto done;
    }
    if (PyRefTracer_SetTracer(gaps_tracer, NULL) < 0)
        goto done;
    res = PyObject_CallFunctionObjArgs(run, ph, threading, NULL);
    phase = 0;
    (void)PyRefTracer_SetTracer(NULL, NULL);
    if (res == NULL)
        goto done;
    g->floats_created = fc;
    g->floats_destroyed = fd;
    g->lists_created = lc;
    g->lists_destroyed = ld;
    /* The eval loop frees ~3000 floats: missing half means the gap. */
    g->eval_loop = fc >= 1000 && fd * 2 < fc;
    /* A gap in the loop also hides the outermost list's death (its last
     * reference is a local): only more than one missing list is the
     * trashcan's. */
    g->trashcan = lc >= 1000 && lc - ld > 1;
    g->ran = 1;
    rc = 0;
done:
    g->ms = (double)(capture_mono_ns() - t0) / 1e6;
    Py_XDECREF(res);
    Py_XDECREF(code);
    Py_XDECREF(ns);
    Py_XDECREF(ph);
    Py_XDECREF(threading);
    PyMem_RawFree(seen);
    seen = NULL;
    return rc;
}

#endif /* TTX_HAVE_REFTRACER */
