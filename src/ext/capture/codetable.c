/* codetable.c - code object -> small id, made once per code object.
 *
 * Owns: the pointer-keyed code table (a strong reference to every code
 * object seen, so an address cannot be reused while recording), the filter
 * decision cached beside each id, the per-code offset->line array parsed
 * from co_linetable, the CODE records (with co_lines() ranges) written
 * through tt_writer_code, and one SOURCE record per file. Must not: run Python code or leave an exception
 * set; first sight happens inside the trace hook. GIL: held throughout.
 */
#include "capture_int.h"

#include <errno.h>
#include <string.h>
/* YIELD_VALUE and RESUME, on every version (3.13+: through opcode_ids.h).
 * Only here: the header defines a macro for every opcode name. */
#include <opcode.h>

#define CODETAB_MIN_BITS 10
#define NESTING_LIMIT    64      /* code objects nested in co_consts */

int
capture_codetab_init(capture_codetab_t *t)
{
    t->bits = CODETAB_MIN_BITS;
    t->count = 0;
    t->slots = PyMem_RawCalloc((size_t)1 << t->bits, sizeof(*t->slots));
    if (t->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void
code_free(capture_code_t *c)
{
    Py_XDECREF(c->code);
    PyMem_RawFree(c->lines);
    PyMem_RawFree(c->ops);
    PyMem_RawFree(c->yields);
    PyMem_RawFree(c->counts);
    PyMem_RawFree(c->arcs);
    PyMem_RawFree(c->bc);
    PyMem_RawFree(c->br);
    PyMem_RawFree(c);
}

void
capture_codetab_free(capture_codetab_t *t)
{
    size_t i, n = t->slots ? (size_t)1 << t->bits : 0;
    for (i = 0; i < n; i++) {
        if (t->slots[i] != NULL)
            code_free(t->slots[i]);
    }
    PyMem_RawFree(t->slots);
    t->slots = NULL;
    t->count = 0;
}

/* Doubles the table when it is half full. 0, or -1 (the table is
 * unchanged). */
static int
codetab_reserve(capture_codetab_t *t)
{
    capture_code_t **slots;
    uint32_t bits = t->bits + 1;
    size_t i, j, n = (size_t)1 << t->bits, mask = ((size_t)1 << bits) - 1;

    if ((size_t)(t->count + 1) * 2 <= n)
        return 0;
    slots = PyMem_RawCalloc((size_t)1 << bits, sizeof(*slots));
    if (slots == NULL)
        return -1;
    for (i = 0; i < n; i++) {
        capture_code_t *c = t->slots[i];
        if (c == NULL)
            continue;
        j = capture_ptr_hash(c->code, bits);
        while (slots[j] != NULL)
            j = (j + 1) & mask;
        slots[j] = c;
    }
    PyMem_RawFree(t->slots);
    t->slots = slots;
    t->bits = bits;
    return 0;
}

/* Inserts an entry known to be absent; codetab_reserve() made room. */
static void
codetab_insert(capture_codetab_t *t, capture_code_t *c)
{
    size_t mask = ((size_t)1 << t->bits) - 1;
    size_t i = capture_ptr_hash(c->code, t->bits);
    while (t->slots[i] != NULL)
        i = (i + 1) & mask;
    t->slots[i] = c;
    t->count++;
}

/* ---- the location table (Objects/locations.md; the same from 3.11 to
 * 3.14): entries of 1-8 code units, each starting with a byte 1cccclll. */

static int
lt_varint(const uint8_t **pp, const uint8_t *end)
{
    const uint8_t *p = *pp;
    unsigned int val, shift = 0, b;
    if (p >= end)
        return 0;
    b = *p++;
    val = b & 63;
    while ((b & 64) && p < end && shift < 24) {
        b = *p++;
        shift += 6;
        val |= (b & 63u) << shift;
    }
    *pp = p;
    return (int)val;
}

static int
lt_svarint(const uint8_t **pp, const uint8_t *end)
{
    unsigned int u = (unsigned int)lt_varint(pp, end);
    return (u & 1) ? -(int)(u >> 1) : (int)(u >> 1);
}

int32_t *
capture_code_lines(PyCodeObject *co)
{
    uint32_t n = TTX_CODE_UNITS(co), u = 0, k;
    int32_t *lines = PyMem_RawMalloc((n ? n : 1) * sizeof(int32_t));
    PyObject *table = TTX_CODE_LINETABLE(co);
    const uint8_t *p, *end;
    int line = co->co_firstlineno;

    if (lines == NULL)
        return NULL;
    for (k = 0; k < n; k++)
        lines[k] = TT_NO_LINE;
    if (table == NULL || !PyBytes_Check(table))
        return lines;
    p = (const uint8_t *)PyBytes_AS_STRING(table);
    end = p + PyBytes_GET_SIZE(table);
    while (p < end && u < n) {
        unsigned int first = *p, code = (first >> 3) & 15u;
        uint32_t len = (first & 7u) + 1u;
        const uint8_t *q = p + 1;
        int32_t value;
        if (!(first & 0x80u)) {          /* not an entry start: resync */
            p++;
            continue;
        }
        if (code == 13 || code == 14)    /* no-column and long forms */
            line += lt_svarint(&q, end);
        else if (code >= 10 && code <= 12)
            line += (int)code - 10;      /* one-line forms */
        value = code == 15 ? TT_NO_LINE : line;
        for (k = 0; k < len && u < n; k++)
            lines[u++] = value;
        p++;
        while (p < end && !(*p & 0x80u))
            p++;
    }
    return lines;
}

/* co_lines() of a code object, rebuilt from its per-unit line array: runs
 * of equal lines, as byte offsets. Returns a PyMem_Raw array and *n, or
 * NULL when out of memory. */
static tt_line_range_t *
code_ranges(const capture_code_t *c, uint32_t *n)
{
    uint32_t i, count = 0;
    tt_line_range_t *r;
    for (i = 0; i < c->n_units; i++) {
        if (i == 0 || c->lines[i] != c->lines[i - 1])
            count++;
    }
    r = PyMem_RawMalloc((count ? count : 1) * sizeof(*r));
    if (r == NULL)
        return NULL;
    count = 0;
    for (i = 0; i < c->n_units; i++) {
        if (i == 0 || c->lines[i] != c->lines[i - 1]) {
            r[count].start = i * 2u;
            r[count].line = c->lines[i];
            count++;
        }
        r[count - 1].end = (i + 1) * 2u;
    }
    *n = count;
    return r;
}

/* The opcode of each code unit, from co_code (deoptimised and without
 * instrumentation on every version). NULL on failure; no exception. */
static uint8_t *
code_opcodes(PyCodeObject *co, uint32_t n)
{
    PyObject *bytes = PyCode_GetCode(co);
    uint8_t *ops;
    uint32_t i;
    if (bytes == NULL) {
        PyErr_Clear();
        return NULL;
    }
    ops = PyMem_RawMalloc(n ? n : 1);
    if (ops != NULL) {
        const uint8_t *b = (const uint8_t *)PyBytes_AS_STRING(bytes);
        uint32_t have = (uint32_t)(PyBytes_GET_SIZE(bytes) / 2);
        for (i = 0; i < n; i++)
            ops[i] = i < have ? b[2 * i] : 0;
    }
    Py_DECREF(bytes);
    return ops;
}

/* For a code that can suspend: where its RETURN events are suspensions
 * and where its frames start (FORMAT.md §19). The hook then tells a
 * resumption and a yield from the frame's position alone (f_lasti),
 * creating nothing. A RETURN at a YIELD_VALUE is a yield (3.11, 3.12,
 * 3.14 report it there; 3.13 at the unit after it, which is always its
 * RESUME); the first RESUME comes before every YIELD_VALUE, and a frame
 * is entered at it (or before it: a throw() into a generator that never
 * ran), so a CALL past it resumes. NULL on failure; no exception. */
static uint8_t *
code_yields(PyCodeObject *co, uint32_t n, int *start_lasti)
{
    PyObject *bytes = PyCode_GetCode(co);     /* deoptimised: no
                                                 INSTRUMENTED_ opcodes */
    uint8_t *y;
    uint32_t i, have;
    const uint8_t *b;

    if (bytes == NULL) {
        PyErr_Clear();
        return NULL;
    }
    b = (const uint8_t *)PyBytes_AS_STRING(bytes);
    have = (uint32_t)(PyBytes_GET_SIZE(bytes) / 2);
    y = PyMem_RawCalloc(n ? n : 1, 1);
    *start_lasti = -1;
    if (y != NULL) {
        for (i = 0; i < n && i < have; i++) {
            if (b[2 * i] == RESUME && *start_lasti < 0)
                *start_lasti = (int)(2 * i);
            if (b[2 * i] == YIELD_VALUE) {
                y[i] = 1;
                if (i + 1 < n)
                    y[i + 1] = 1;
            }
        }
        if (*start_lasti < 0)
            *start_lasti = 0;
    }
    Py_DECREF(bytes);
    return y;
}

/* Decides the filter for a code object's file name and, for a traced one,
 * returns its string entry (whose id the CODE record uses). */
static capture_str_t *
code_file(capture_rec_t *rec, PyCodeObject *co)
{
    Py_ssize_t len;
    const char *name = capture_utf8(co->co_filename, &len);
    char *raw = NULL;                   /* a name with undecodable bytes */
    size_t rawlen;
    capture_str_t *e;
    char *abs;

    if (name == NULL)
        name = raw = capture_fsencode(co->co_filename, &rawlen);
    if (name == NULL) {
        name = "<undecodable file name>";
        len = (Py_ssize_t)strlen(name);
    }
    abs = capture_filter_abspath(name);
    PyMem_RawFree(raw);
    if (abs == NULL) {
        rec->problems.nomem++;
        return NULL;
    }
    e = capture_str_get(rec, abs, strlen(abs));
    if (e != NULL && e->traced < 0)
        e->traced = (int8_t)capture_filter_traced(&rec->filter, e->s);
    PyMem_RawFree(abs);
    return e;
}

/* First code from a file: records what identifies the file (size, mtime,
 * CRC-32C; FORMAT.md §5, record 0x81) so that readers can tell when it
 * changed since. Once per file, on this slow path (a code's first sight,
 * which already builds its line table); reads the file once, never
 * blocks on one that is not regular. A file that cannot be read gets no
 * record (readers then fall back to its mtime); a write failure is
 * counted. */
static void
source_identify(capture_rec_t *rec, capture_str_t *file, uint32_t id)
{
    tt_source_def_t sd;
    int saved = errno;

    file->identified = 1;
    if (tt_source_identify(file->s, &sd) == 0) {
        sd.filename = id;
        if (tt_writer_source(rec->w, &sd) < 0)
            rec->problems.writer_errors++;
    }
    errno = saved;
}

/* Fills in and writes the CODE record of a traced code. 0, or -1 (the
 * code is then left untraced; counted). */
static int
code_define(capture_rec_t *rec, capture_code_t *c, PyCodeObject *co,
            capture_str_t *file, uint32_t parent)
{
    tt_code_def_t def;
    tt_line_range_t *ranges;
    Py_ssize_t qlen;
    const char *qual = capture_utf8(TTX_CODE_QUALNAME(co), &qlen);
    int rc;

    c->lines = capture_code_lines(co);
    if (c->lines == NULL)
        goto nomem;
    if (rec->opcodes) {
        c->ops = code_opcodes(co, c->n_units);
        if (c->ops == NULL)
            rec->problems.opcode_errors++;
    }
    memset(&def, 0, sizeof(def));
    if (qual == NULL) {
        qual = "<undecodable name>";
        qlen = (Py_ssize_t)strlen(qual);
    }
    if (capture_str_define(rec, file, &def.filename) < 0 ||
        capture_string_id(rec, qual, (size_t)qlen, &def.qualname) < 0)
        return -1;
    c->file_id = def.filename;
    c->pseudo_file = file->len == 0 ||
                     (file->s[0] == '<' && file->s[file->len - 1] == '>');
    if (!file->identified && !c->pseudo_file)
        source_identify(rec, file, def.filename);
    ranges = code_ranges(c, &def.n_ranges);
    if (ranges == NULL)
        goto nomem;
    def.firstlineno = c->firstlineno;
    def.flags = TT_CODE_TRACED;
    if (co->co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR |
                        CO_ITERABLE_COROUTINE)) {
        def.flags |= TT_CODE_GENERATOR;
        if (rec->calls && !rec->count) {
            c->yields = code_yields(co, c->n_units, &c->start_lasti);
            if (c->yields == NULL)
                rec->problems.nomem++;    /* its events go unmarked */
        }
    }
    if (co->co_flags & CO_OPTIMIZED)         /* a function, not a module or
                                                class body */
        def.flags |= TT_CODE_FUNCTION;
    def.parent = parent;
    def.ranges = ranges;
    rc = tt_writer_code(rec->w, &def, &c->id);
    PyMem_RawFree(ranges);
    if (rc < 0) {
        rec->problems.writer_errors++;
        return -1;
    }
    if (rec->count)
        (void)capture_counts_alloc(rec, c);   /* failure: counted, no counts */
    return 0;
nomem:
    rec->problems.nomem++;
    return -1;
}

static capture_code_t *
code_register(capture_rec_t *rec, PyCodeObject *co, uint32_t parent,
              int depth, int caller_traced)
{
    capture_code_t *c = capture_codetab_find(&rec->codes, co);
    capture_str_t *file;
    PyObject *consts;
    Py_ssize_t i;

    if (c != NULL)
        return c;
    if (codetab_reserve(&rec->codes) < 0)
        goto nomem;
    c = PyMem_RawCalloc(1, sizeof(*c));
    if (c == NULL)
        goto nomem;
    c->code = Py_NewRef((PyObject *)co);
    c->firstlineno = co->co_firstlineno;
    c->n_units = TTX_CODE_UNITS(co);
    file = TTX_CODE_IS_SHIM(co) ? NULL : code_file(rec, co);
    if (file != NULL && (capture_filter_inherits(&rec->filter, file->s)
                         ? caller_traced : file->traced == 1)) {
        if (code_define(rec, c, co, file, parent) == 0) {
            c->traced = 1;
        } else {
            rec->problems.code_errors++;
            PyMem_RawFree(c->lines);
            PyMem_RawFree(c->ops);
            PyMem_RawFree(c->yields);
            c->lines = NULL;
            c->ops = NULL;
            c->yields = NULL;
        }
    } else if (file == NULL && !TTX_CODE_IS_SHIM(co)) {
        rec->problems.code_errors++;
    }
    codetab_insert(&rec->codes, c);

    /* Define the functions, classes and comprehensions the code contains,
     * so that coverage knows about the ones that never run. */
    consts = co->co_consts;
    if (c->traced && depth < NESTING_LIMIT && consts != NULL &&
        PyTuple_Check(consts)) {
        for (i = 0; i < PyTuple_GET_SIZE(consts); i++) {
            PyObject *k = PyTuple_GET_ITEM(consts, i);
            if (PyCode_Check(k))
                code_register(rec, (PyCodeObject *)k, c->id, depth + 1,
                              caller_traced);
        }
    }
    return c;
nomem:
    rec->problems.nomem++;
    return NULL;
}

capture_code_t *
capture_code_register(capture_rec_t *rec, PyObject *code, int caller_traced)
{
    capture_code_t *c;
    ttx_exc_state_t saved;

    ttx_exc_save(&saved);
    c = code_register(rec, (PyCodeObject *)code, TT_NO_PARENT, 0,
                      caller_traced);
    if (PyErr_Occurred())       /* never leak a failure into the program */
        PyErr_Clear();
    ttx_exc_restore(&saved);
    return c;
}
