/* names.c - string ids for file names, qualnames and exception type names.
 *
 * Owns: the content-keyed string table (one writer string per distinct
 * text, plus the filter decision cached per file name) and the exception
 * type -> name id cache (holding a reference to each type). Must not: run
 * Python code or leave an exception set; it is called from the trace hook
 * on first sight. GIL: held throughout.
 */
#include "capture_int.h"

#include <string.h>

#define NAMES_MIN_BITS 8

struct capture_type {
    PyObject *type;          /* owned */
    uint32_t name;           /* string id */
};

int
capture_names_init(capture_names_t *n)
{
    memset(n, 0, sizeof(*n));
    n->bits = n->tbits = NAMES_MIN_BITS;
    n->slots = PyMem_RawCalloc((size_t)1 << n->bits, sizeof(*n->slots));
    n->types = PyMem_RawCalloc((size_t)1 << n->tbits, sizeof(*n->types));
    if (n->slots == NULL || n->types == NULL) {
        capture_names_free(n);
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

void
capture_names_free(capture_names_t *n)
{
    size_t i;
    if (n->slots != NULL) {
        for (i = 0; i < (size_t)1 << n->bits; i++)
            PyMem_RawFree(n->slots[i]);
    }
    if (n->types != NULL) {
        for (i = 0; i < (size_t)1 << n->tbits; i++) {
            if (n->types[i] != NULL) {
                Py_DECREF(n->types[i]->type);
                PyMem_RawFree(n->types[i]);
            }
        }
    }
    PyMem_RawFree(n->slots);
    PyMem_RawFree(n->types);
    n->slots = NULL;
    n->types = NULL;
}

static uint64_t
fnv1a(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i;
    for (i = 0; i < len; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Doubles a pointer table whose entries hash through `hash_of`. */
static int
grow(void ***slots, uint32_t *bits, uint32_t count,
     uint64_t (*hash_of)(const void *))
{
    size_t n = (size_t)1 << *bits, i;
    uint32_t nbits = *bits + 1;
    size_t mask = ((size_t)1 << nbits) - 1;
    void **ns;
    if ((size_t)(count + 1) * 2 <= n)
        return 0;
    ns = PyMem_RawCalloc((size_t)1 << nbits, sizeof(void *));
    if (ns == NULL)
        return -1;
    for (i = 0; i < n; i++) {
        void *e = (*slots)[i];
        size_t j;
        if (e == NULL)
            continue;
        j = (size_t)(hash_of(e) >> (64 - nbits));
        while (ns[j] != NULL)
            j = (j + 1) & mask;
        ns[j] = e;
    }
    PyMem_RawFree(*slots);
    *slots = ns;
    *bits = nbits;
    return 0;
}

static uint64_t
str_hash_of(const void *e)
{
    return ttx_fib(((const capture_str_t *)e)->hash);
}

static uint64_t
type_hash_of(const void *e)
{
    return ttx_fib((uint64_t)(uintptr_t)((const capture_type_t *)e)->type >> 4);
}

capture_str_t *
capture_str_get(capture_rec_t *rec, const char *s, size_t len)
{
    capture_names_t *n = &rec->names;
    uint64_t h = fnv1a(s, len) | 1u;    /* never 0 */
    size_t mask, i;
    capture_str_t *e;

    if (len > UINT32_MAX - 1)
        return NULL;
    mask = ((size_t)1 << n->bits) - 1;
    i = ttx_fib_slot(h, n->bits);
    for (; (e = n->slots[i]) != NULL; i = (i + 1) & mask) {
        if (e->hash == h && e->len == len && memcmp(e->s, s, len) == 0)
            return e;
    }
    /* Absent: make room, then insert (re-probing the grown table). */
    if (grow((void ***)&n->slots, &n->bits, n->count, str_hash_of) < 0)
        goto nomem;
    e = PyMem_RawMalloc(sizeof(*e) + len + 1);
    if (e == NULL)
        goto nomem;
    e->hash = h;
    e->len = (uint32_t)len;
    e->id = 0;
    e->defined = 0;
    e->traced = -1;
    e->identified = 0;
    memcpy(e->s, s, len);
    e->s[len] = '\0';
    mask = ((size_t)1 << n->bits) - 1;
    i = ttx_fib_slot(h, n->bits);
    while (n->slots[i] != NULL)
        i = (i + 1) & mask;
    n->slots[i] = e;
    n->count++;
    return e;
nomem:
    rec->problems.nomem++;
    return NULL;
}

int
capture_str_define(capture_rec_t *rec, capture_str_t *e, uint32_t *id)
{
    int rc;
    if (e == NULL)
        return TT_ENOMEM;
    if (!e->defined) {
        rc = tt_writer_string(rec->w, e->s, e->len, &e->id);
        if (rc < 0) {
            rec->problems.writer_errors++;
            return rc;
        }
        e->defined = 1;
    }
    *id = e->id;
    return 0;
}

int
capture_string_id(capture_rec_t *rec, const char *s, size_t len, uint32_t *id)
{
    return capture_str_define(rec, capture_str_get(rec, s, len), id);
}

const char *
capture_utf8(PyObject *s, Py_ssize_t *len)
{
    const char *u;
    if (s == NULL || !PyUnicode_Check(s))
        return NULL;
    u = PyUnicode_AsUTF8AndSize(s, len);
    if (u == NULL)              /* lone surrogates: not UTF-8 encodable */
        PyErr_Clear();
    return u;
}

char *
capture_fsencode(PyObject *s, size_t *len)
{
    Py_ssize_t i, n;
    int kind;
    const void *data;
    char *out, *p;

    if (s == NULL || !PyUnicode_Check(s))
        return NULL;
    n = PyUnicode_GET_LENGTH(s);
    kind = PyUnicode_KIND(s);
    data = PyUnicode_DATA(s);
    out = PyMem_RawMalloc((size_t)n * 4 + 1);
    if (out == NULL)
        return NULL;
    for (p = out, i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c < 0x80) {
            *p++ = (char)c;
        } else if (c < 0x800) {
            *p++ = (char)(0xC0 | (c >> 6));
            *p++ = (char)(0x80 | (c & 0x3F));
        } else if (c >= 0xDC80 && c <= 0xDCFF) {
            *p++ = (char)(c - 0xDC00);  /* surrogateescape: the raw byte */
        } else if (c >= 0xD800 && c <= 0xDFFF) {
            PyMem_RawFree(out);         /* not a file name's byte */
            return NULL;
        } else if (c < 0x10000) {
            *p++ = (char)(0xE0 | (c >> 12));
            *p++ = (char)(0x80 | ((c >> 6) & 0x3F));
            *p++ = (char)(0x80 | (c & 0x3F));
        } else {
            *p++ = (char)(0xF0 | (c >> 18));
            *p++ = (char)(0x80 | ((c >> 12) & 0x3F));
            *p++ = (char)(0x80 | ((c >> 6) & 0x3F));
            *p++ = (char)(0x80 | (c & 0x3F));
        }
    }
    *p = '\0';
    *len = (size_t)(p - out);
    return out;
}

size_t
capture_type_name(PyTypeObject *tp, PyObject *s_module, char *buf,
                  size_t cap)
{
    const char *qual = NULL, *mod = NULL;
    Py_ssize_t qlen = 0, mlen = 0;
    const char *dot;
    int n;

    if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        PyHeapTypeObject *ht = (PyHeapTypeObject *)tp;
        PyObject *m = NULL;
        qual = capture_utf8(ht->ht_qualname, &qlen);
        if (tp->tp_dict != NULL) {
            m = PyDict_GetItemWithError(tp->tp_dict, s_module);
            if (m == NULL)
                PyErr_Clear();
        }
        if (m != NULL)
            mod = capture_utf8(m, &mlen);
    } else {
        dot = strrchr(tp->tp_name, '.');
        if (dot != NULL) {
            mod = tp->tp_name;
            mlen = dot - tp->tp_name;
            qual = dot + 1;
        } else {
            qual = tp->tp_name;
        }
        qlen = (Py_ssize_t)strlen(qual);
    }
    if (qual == NULL) {
        qual = tp->tp_name;
        qlen = (Py_ssize_t)strlen(qual);
    }
    if (mod != NULL && !(mlen == 8 && memcmp(mod, "builtins", 8) == 0))
        n = snprintf(buf, cap, "%.*s.%.*s", (int)mlen, mod, (int)qlen, qual);
    else
        n = snprintf(buf, cap, "%.*s", (int)qlen, qual);
    if (n < 0)
        n = 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

uint32_t
capture_exc_type_id(capture_rec_t *rec, PyObject *type)
{
    capture_names_t *n = &rec->names;
    uint64_t h;
    size_t mask, i, len;
    capture_type_t *e;
    char buf[512];
    uint32_t id;
    ttx_exc_state_t saved;

    if (type == NULL || !PyType_Check(type))
        return UINT32_MAX;
    h = ttx_fib((uint64_t)(uintptr_t)type >> 4);
    mask = ((size_t)1 << n->tbits) - 1;
    for (i = (size_t)(h >> (64 - n->tbits)); (e = n->types[i]) != NULL;
         i = (i + 1) & mask) {
        if (e->type == type)
            return e->name;
    }
    /* First sight of this type. */
    ttx_exc_save(&saved);
    len = capture_type_name((PyTypeObject *)type, rec->s_module, buf,
                            sizeof(buf));
    if (PyErr_Occurred())
        PyErr_Clear();
    ttx_exc_restore(&saved);
    if (len >= sizeof(buf))
        len = sizeof(buf) - 1;
    if (capture_string_id(rec, buf, len, &id) < 0)
        return UINT32_MAX;
    if (grow((void ***)&n->types, &n->tbits, n->tcount, type_hash_of) < 0)
        goto nomem;
    e = PyMem_RawMalloc(sizeof(*e));
    if (e == NULL)
        goto nomem;
    e->type = Py_NewRef(type);
    e->name = id;
    mask = ((size_t)1 << n->tbits) - 1;
    i = (size_t)(h >> (64 - n->tbits));
    while (n->types[i] != NULL)
        i = (i + 1) & mask;
    n->types[i] = e;
    n->tcount++;
    return id;
nomem:
    rec->problems.nomem++;
    return id;
}
