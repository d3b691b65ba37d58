/* whyalive.c - why a survivor is alive: at stop, for a sample
 * of each of the largest survivor groups (by type), a breadth-first search
 * backwards over the collector's objects, one pass of tp_traverse per
 * level, from the sample to a root (a module, a class, a running frame's
 * local), within a time budget. The chains become PATH records.
 *
 * Must not: run from a hook, or while the ref tracer is ours (it makes
 * objects); run Python code during a traversal. GIL: held (stop()).
 */
#include "objects.h"

#if TTX_HAVE_REFTRACER

#include <string.h>
#include <stdio.h>
#include <time.h>

#define WA_SAMPLES   8           /* survivor groups explained (bits) */
#define WA_DEPTH     (TT_OBJPATH_MAX_STEPS - 2)   /* levels searched */
#define WA_BUDGET_MS 1000.0      /* no new level starts past this */

/* A node of the search: an object that refers, for each sample whose bit
 * is in `mask`, through next[s] toward sample s. Borrowed: everything
 * here is held by the collector's list, the survivors held by stop(), or
 * stop()'s `keep`. */
typedef struct {
    PyObject *op;
    int32_t next[WA_SAMPLES];    /* -1: op is sample s itself */
    uint8_t mask;                /* samples that reached op */
    uint8_t front;               /* of those: reached at the last level */
    uint8_t fresh;               /* of those: reached at this level */
    uint8_t blocked;             /* ours: never a referrer */
} wa_node_t;

typedef struct {
    wa_node_t *nodes;            /* owned (PyMem_Raw) */
    size_t n, cap;
    uint32_t *slots;             /* owned: address -> node index + 1 */
    uint32_t bits;
    uint32_t *level, *next_level;   /* owned: node indexes of the frontier
                                       and of the one being found */
    size_t n_level, n_next, cap_level;
    int nomem;
    uint32_t n_samples;
    uint8_t done;                /* samples with a root */
    int32_t root[WA_SAMPLES];    /* the root node found, or -1 */
    uint32_t kind[WA_SAMPLES];   /* its TT_OBJPATH_* */
    PyObject *cur;               /* the referrer being traversed */
    int32_t cur_k;               /* its node, or -1 while it has none */
    PyObject *frames;            /* owned: frame -> its locals' values */
} wa_t;

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------ the node table */

static int32_t
wa_find(const wa_t *w, PyObject *op)
{
    size_t m = ((size_t)1 << w->bits) - 1;
    size_t i = ttx_live_hash((uint64_t)(uintptr_t)op, w->bits);
    while (w->slots[i]) {
        if (w->nodes[w->slots[i] - 1].op == op)
            return (int32_t)(w->slots[i] - 1);
        i = (i + 1) & m;
    }
    return -1;
}

static void
wa_slot(wa_t *w, PyObject *op, uint32_t idx)
{
    size_t m = ((size_t)1 << w->bits) - 1;
    size_t i = ttx_live_hash((uint64_t)(uintptr_t)op, w->bits);
    while (w->slots[i])
        i = (i + 1) & m;
    w->slots[i] = idx + 1;
}

/* Adds op (not yet a node), reached by no sample. Its index, or -1 when
 * memory ran out (w->nomem set). */
static int32_t
wa_add(wa_t *w, PyObject *op)
{
    wa_node_t *nd;
    if ((w->n + 1) * 2 > ((size_t)1 << w->bits)) {
        uint32_t bits = w->bits + 1;
        uint32_t *s = PyMem_RawCalloc((size_t)1 << bits, sizeof(*s));
        if (s == NULL)
            goto nomem;
        PyMem_RawFree(w->slots);
        w->slots = s;
        w->bits = bits;
        for (size_t k = 0; k < w->n; k++)
            wa_slot(w, w->nodes[k].op, (uint32_t)k);
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 1024;
        void *v = PyMem_RawRealloc(w->nodes, cap * sizeof(*w->nodes));
        if (v == NULL)
            goto nomem;
        w->nodes = v;
        w->cap = cap;
    }
    nd = &w->nodes[w->n];
    memset(nd, 0, sizeof(*nd));
    nd->op = op;
    wa_slot(w, op, (uint32_t)w->n);
    return (int32_t)w->n++;
nomem:
    w->nomem = 1;
    return -1;
}

/* Samples `bits` reach node c through node k (c refers to k). */
static void
wa_reach(wa_t *w, int32_t c, int32_t k, uint8_t bits)
{
    wa_node_t *nd = &w->nodes[c];
    bits &= (uint8_t)~nd->mask;
    if (bits == 0)
        return;
    for (uint32_t s = 0; s < w->n_samples; s++)
        if (bits & (1u << s))
            nd->next[s] = k;
    if (nd->fresh == 0) {
        if (w->n_next == w->cap_level) {
            size_t cap = w->cap_level ? 2 * w->cap_level : 1024;
            void *a = PyMem_RawRealloc(w->level, cap * sizeof(*w->level));
            void *b = a ? PyMem_RawRealloc(w->next_level,
                                           cap * sizeof(*w->next_level))
                        : NULL;
            if (a != NULL)
                w->level = a;
            if (b == NULL) {
                w->nomem = 1;
                return;
            }
            w->next_level = b;
            w->cap_level = cap;
        }
        w->next_level[w->n_next++] = (uint32_t)c;
    }
    nd->mask |= bits;
    nd->fresh |= bits;
}

/* ------------------------------------------------------------- search */

/* tp_traverse visitor: w->cur refers to `op`. Every sample without a root
 * that reached op at the last level now reaches cur. */
static int
wa_visit(PyObject *op, void *arg)
{
    wa_t *w = arg;
    int32_t k;
    uint8_t bits;
    if (op == NULL || (k = wa_find(w, op)) < 0)
        return 0;
    bits = w->nodes[k].front & (uint8_t)~w->done;
    if (bits == 0)
        return 0;
    if (w->cur_k < 0 && (w->cur_k = wa_add(w, w->cur)) < 0)
        return 1;
    wa_reach(w, w->cur_k, k, bits);
    return 0;
}

/* The root kind of an object, or 0: modules and classes. */
static uint32_t
wa_root_kind(PyObject *op)
{
    if (PyModule_Check(op))
        return TT_OBJPATH_MODULE;
    if (PyType_Check(op))
        return TT_OBJPATH_CLASS;
    return 0;
}

/* The running frame one of whose locals is op, or NULL (borrowed). */
static PyObject *
wa_frame_of(wa_t *w, PyObject *op)
{
    Py_ssize_t pos = 0;
    PyObject *f, *vals;
    if (w->frames == NULL)
        return NULL;
    while (PyDict_Next(w->frames, &pos, &f, &vals))
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(vals); i++)
            if (PyList_GET_ITEM(vals, i) == op)
                return f;
    return NULL;
}

static void
wa_set_root(wa_t *w, int32_t k, uint8_t bits, uint32_t kind)
{
    for (uint32_t s = 0; s < w->n_samples; s++)
        if (bits & (1u << s)) {
            w->root[s] = k;
            w->kind[s] = kind;
        }
    w->done |= bits;
}

/* Ends a level: the nodes found become the frontier, and the roots among
 * them end their samples' searches (a module or class first, else a
 * running frame's local, which gets the frame in front of it). */
static void
wa_next_level(wa_t *w)
{
    uint32_t *t;
    for (size_t i = 0; i < w->n_level; i++)
        w->nodes[w->level[i]].front = 0;
    for (size_t i = 0; i < w->n_next; i++) {
        wa_node_t *nd = &w->nodes[w->next_level[i]];
        nd->front = nd->fresh;
        nd->fresh = 0;
    }
    t = w->level;
    w->level = w->next_level;
    w->next_level = t;
    w->n_level = w->n_next;
    w->n_next = 0;
    for (size_t i = 0; i < w->n_level; i++) {
        int32_t k = (int32_t)w->level[i];
        uint8_t bits = w->nodes[k].front & (uint8_t)~w->done;
        uint32_t kind;
        if (bits && (kind = wa_root_kind(w->nodes[k].op)) != 0)
            wa_set_root(w, k, bits, kind);
    }
    for (size_t i = 0; i < w->n_level && w->frames != NULL; i++) {
        int32_t k = (int32_t)w->level[i], f;
        uint8_t bits = w->nodes[k].front & (uint8_t)~w->done;
        PyObject *fo;
        if (bits == 0 || (fo = wa_frame_of(w, w->nodes[k].op)) == NULL)
            continue;
        f = wa_find(w, fo);
        if (f < 0 && (f = wa_add(w, fo)) < 0)
            return;
        for (uint32_t s = 0; s < w->n_samples; s++)
            if (bits & (1u << s))
                w->nodes[f].next[s] = k;
        w->nodes[f].mask |= bits;
        wa_set_root(w, f, bits, TT_OBJPATH_FRAME);
    }
}

/* Running function frames (module and class bodies are found through
 * their module): frame -> list of its locals' values, in w->frames. Kept
 * alive by `keep`. Errors are cleared: a frame we cannot read is no
 * root. */
static void
wa_frames(wa_t *w, PyObject *keep)
{
    PyObject *cur = _PyThread_CurrentFrames(), *tf;
    Py_ssize_t pos = 0;
    w->frames = PyDict_New();
    if (cur == NULL || w->frames == NULL || PyList_Append(keep, cur) < 0)
        goto done;
    while (PyDict_Next(cur, &pos, NULL, &tf)) {
        PyFrameObject *f = (PyFrameObject *)tf;
        Py_XINCREF(f);
        while (f != NULL) {
            PyCodeObject *co = PyFrame_GetCode(f);
            PyFrameObject *back = PyFrame_GetBack(f);
            if (co->co_flags & CO_OPTIMIZED) {
                PyObject *loc = PyFrame_GetLocals(f);
                PyObject *vals = loc ? PyMapping_Values(loc) : NULL;
                if (vals == NULL || PyList_Append(keep, loc) < 0 ||
                    PyDict_SetItem(w->frames, (PyObject *)f, vals) < 0)
                    PyErr_Clear();
                Py_XDECREF(vals);
                Py_XDECREF(loc);
            }
            Py_DECREF(co);
            Py_DECREF(f);
            f = back;
        }
    }
done:
    PyErr_Clear();
    Py_XDECREF(cur);
}

/* ------------------------------------------------------------- labels */

/* The label of a step: a module's name, a class's qualified name, a
 * frame's "func (file:line)", or an object's type name ("dict['key']" for
 * a dict that holds the next step under a str key). */
static void
wa_label(const wa_node_t *nd, PyObject *target, uint32_t kind, char *buf,
         size_t n)
{
    PyObject *op = nd->op;
    const char *s = NULL;
    if (kind == TT_OBJPATH_MODULE) {
        s = PyModule_GetName(op);
    } else if (kind == TT_OBJPATH_CLASS) {
        PyTypeObject *tp = (PyTypeObject *)op;
        s = tp->tp_name;
        if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE)
            s = PyUnicode_AsUTF8(((PyHeapTypeObject *)tp)->ht_qualname);
    } else if (kind == TT_OBJPATH_FRAME) {
        PyCodeObject *co = PyFrame_GetCode((PyFrameObject *)op);
        const char *q = PyUnicode_AsUTF8(co->co_qualname);
        const char *f = PyUnicode_AsUTF8(co->co_filename);
        snprintf(buf, n, "%s (%s:%d)", q ? q : "?", f ? f : "?",
                 PyFrame_GetLineNumber((PyFrameObject *)op));
        Py_DECREF(co);
        PyErr_Clear();
        return;
    } else if (PyDict_CheckExact(op) && target != NULL) {
        PyObject *key, *val;
        Py_ssize_t pos = 0;
        while (PyDict_Next(op, &pos, &key, &val)) {
            if (val == target && PyUnicode_Check(key)) {
                const char *k = PyUnicode_AsUTF8(key);
                if (k != NULL) {
                    snprintf(buf, n, "dict['%s']", k);
                    return;
                }
            }
        }
    }
    if (s == NULL)
        s = Py_TYPE(op)->tp_name;
    PyErr_Clear();
    snprintf(buf, n, "%s", s ? s : "?");
}

/* Writes sample i's chain as a PATH record. 0, or -1 (counted). */
static int
wa_write(capture_rec_t *rec, wa_t *w, uint32_t i)
{
    tt_objpath_step_t steps[TT_OBJPATH_MAX_STEPS];
    static char text[TT_OBJPATH_MAX_STEPS][TT_OBJPATH_MAX_LABEL + 1];
    int32_t k = w->root[i], sample = -1;
    size_t n = 0;

    while (k >= 0 && n < TT_OBJPATH_MAX_STEPS) {
        const wa_node_t *nd = &w->nodes[k];
        int32_t next = nd->next[i];
        /* Past the root, every step is shown by its type. */
        wa_label(nd, next >= 0 ? w->nodes[next].op : NULL,
                 n == 0 ? w->kind[i] : TT_OBJPATH_OBJECT, text[n],
                 sizeof(text[n]));
        steps[n].kind = n == 0 ? w->kind[i] : TT_OBJPATH_OBJECT;
        steps[n].label = text[n];
        n++;
        sample = k;
        k = next;
    }
    if (n == 0 || k >= 0 ||
        tt_writer_objpath(rec->w, (uint64_t)(uintptr_t)w->nodes[sample].op,
                          steps, n) < 0) {
        rec->problems.writer_errors++;
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ samples */

/* Up to WA_SAMPLES survivors: one per type, of the types with the most
 * survivors found alive that the program made (not during an import),
 * then of the types with the most made by imports; within a type, the
 * program's newest first (a leak grows while the program runs; module
 * state was made at import). Birth times are those of the live table
 * (2^TTX_LIVE_TICK_SHIFT ticks): an object made within that of an
 * import's edge may be sorted wrongly, which only changes the choice. */
static uint32_t
wa_samples(capture_objects_t *o, PyObject **held, size_t n_held,
           PyObject **out)
{
    uint32_t nt = o->n_type_ids, n = 0;
    uint64_t *count = PyMem_RawCalloc(2 * ((size_t)nt + 1), sizeof(*count));
    uint64_t *imported = count + nt + 1;
    uint64_t *best = PyMem_RawCalloc(nt + 1, sizeof(*best));
    size_t *pick = PyMem_RawCalloc(nt + 1, sizeof(*pick));

    if (count == NULL || best == NULL || pick == NULL)
        goto done;
    for (size_t i = 0; i < n_held; i++) {
        ttx_live_t *e = ttx_livetab_find(&o->live,
                                         (uint64_t)(uintptr_t)held[i]);
        uint32_t id, type;
        uint64_t birth, score;
        if (e == NULL)
            continue;
        id = ttx_live_id(e->meta);
        type = o->aggregate ? o->rows[id].st.type : id;
        if (type >= nt)
            continue;
        birth = e->meta >> TTX_LIVE_ID_BITS;
        /* not imported first, then newest; +1 so that 0 means none */
        if (ttx_imports_contain(birth << TTX_LIVE_TICK_SHIFT)) {
            score = birth + 1;
            imported[type]++;
        } else {
            score = ((uint64_t)1 << 62) + birth + 1;
            count[type]++;
        }
        if (score > best[type]) {
            best[type] = score;
            pick[type] = i;
        }
    }
    while (n < WA_SAMPLES) {
        uint32_t top = UINT32_MAX;
        uint64_t *by = count;
        for (uint32_t t = 0; t < nt; t++)
            if (count[t] && (top == UINT32_MAX || count[t] > count[top]))
                top = t;
        if (top == UINT32_MAX) {
            by = imported;
            for (uint32_t t = 0; t < nt; t++)
                if (imported[t] && (top == UINT32_MAX ||
                                    imported[t] > imported[top]))
                    top = t;
        }
        if (top == UINT32_MAX)
            break;
        out[n++] = held[pick[top]];
        by[top] = 0;
        count[top] = imported[top] = 0;
    }
done:
    PyMem_RawFree(count);
    PyMem_RawFree(best);
    PyMem_RawFree(pick);
    return n;
}

/* ----------------------------------------------------------------- api */

/* See objects.h. */
uint32_t
ttx_whyalive(capture_rec_t *rec, capture_objects_t *o, PyObject **held,
             size_t n_held, PyObject *keep, double *ms)
{
    PyObject *exc = PyErr_GetRaisedException();
    PyObject *samples[WA_SAMPLES], *gc = NULL, *objs = NULL;
    double t0 = now_ms();
    PyObject *block[3];
    uint32_t written = 0;
    uint8_t all;
    int32_t k;
    wa_t w;

    memset(&w, 0, sizeof(w));
    *ms = 0;
    if (held == NULL || n_held == 0 || keep == NULL)
        goto done;
    w.n_samples = wa_samples(o, held, n_held, samples);
    if (w.n_samples == 0)
        goto done;
    w.bits = 10;
    w.slots = PyMem_RawCalloc((size_t)1 << w.bits, sizeof(*w.slots));
    gc = PyImport_ImportModule("gc");
    objs = gc ? PyObject_CallMethod(gc, "get_objects", NULL) : NULL;
    if (w.slots == NULL || objs == NULL || !PyList_Check(objs))
        goto done;
    wa_frames(&w, keep);
    /* Our own containers refer to everything: never referrers. */
    block[0] = objs;
    block[1] = keep;
    block[2] = w.frames;
    for (int b = 0; b < 3; b++)
        if (block[b] != NULL && (k = wa_add(&w, block[b])) >= 0)
            w.nodes[k].blocked = 1;
    /* The lists stop() made (values of frames' locals, the collector's
     * list); not what else it keeps (a module frame's locals are its
     * module's globals). */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(keep); i++)
        if (PyList_CheckExact(PyList_GET_ITEM(keep, i)) &&
            wa_find(&w, PyList_GET_ITEM(keep, i)) < 0 &&
            (k = wa_add(&w, PyList_GET_ITEM(keep, i))) >= 0)
            w.nodes[k].blocked = 1;
    for (uint32_t i = 0; i < w.n_samples && !w.nomem; i++) {
        w.root[i] = -1;
        k = wa_find(&w, samples[i]);
        if (k < 0)
            k = wa_add(&w, samples[i]);
        if (k >= 0) {
            w.nodes[k].next[i] = -1;
            wa_reach(&w, k, -1, (uint8_t)(1u << i));
        }
    }
    wa_next_level(&w);
    all = (uint8_t)((1u << w.n_samples) - 1);
    for (int level = 0; level < WA_DEPTH && !w.nomem; level++) {
        if (w.done == all || w.n_level == 0 || now_ms() - t0 > WA_BUDGET_MS)
            break;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(objs) && !w.nomem; i++) {
            PyObject *op = PyList_GET_ITEM(objs, i);
            traverseproc tr = Py_TYPE(op)->tp_traverse;
            int32_t c;
            if (tr == NULL)
                continue;
            c = wa_find(&w, op);
            if (c >= 0 && w.nodes[c].blocked)
                continue;
            w.cur = op;
            w.cur_k = c;
            (void)tr(op, wa_visit, &w);
        }
        wa_next_level(&w);
    }
    for (uint32_t i = 0; i < w.n_samples; i++)
        if (w.root[i] >= 0 && wa_write(rec, &w, i) == 0)
            written++;
done:
    PyErr_Clear();
    Py_XDECREF(objs);
    Py_XDECREF(gc);
    Py_XDECREF(w.frames);
    PyMem_RawFree(w.nodes);
    PyMem_RawFree(w.slots);
    PyMem_RawFree(w.level);
    PyMem_RawFree(w.next_level);
    *ms = now_ms() - t0;
    PyErr_SetRaisedException(exc);
    return written;
}

#endif /* TTX_HAVE_REFTRACER */
