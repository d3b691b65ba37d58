/* testutil.c - helpers shared by the tests in tests/c: temporary files, event
 * lists, the reference model of the writer (expected events), the sample
 * recording and a chunk framer for hand-made files.
 * Runs inside one forked test child; not thread-safe, needs no cleanup
 * discipline beyond removing its temporary directory at exit.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tt_test.h"
#include "tt_format.h"
#include "tt_varint.h"

int tt_fuzz_exercise(const uint8_t *data, size_t len);

static char tmp_dir[256];

static void remove_tmp_dir(void)
{
    DIR *d;
    struct dirent *e;
    char p[512];

    if (!tmp_dir[0] || (d = opendir(tmp_dir)) == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", tmp_dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(tmp_dir);
}

const char *tmp_path(const char *name)
{
    static char slots[8][512];
    static int next;
    char *p;

    if (!tmp_dir[0]) {
        const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(tmp_dir, sizeof tmp_dir, "%s/tt_tests.XXXXXX", base);
        CHECK(mkdtemp(tmp_dir) != NULL);
        atexit(remove_tmp_dir);
    }
    p = slots[next++ % 8];
    snprintf(p, 512, "%s/%s", tmp_dir, name);
    return p;
}

uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;

    CHECK(f != NULL);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    n = ftell(f);
    CHECK(n >= 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    CHECK(buf != NULL);
    CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(data, 1, len, f) == len);
    CHECK(fclose(f) == 0);
}

uint32_t test_code(tt_writer_t *w, uint32_t file, const char *name,
                   int32_t line, uint32_t flags,
                   const tt_line_range_t *ranges, uint32_t n_ranges)
{
    tt_code_def_t cd;
    uint32_t id;

    memset(&cd, 0, sizeof cd);
    CHECK_OK(tt_writer_string(w, name, strlen(name), &cd.qualname));
    cd.filename = file;
    cd.firstlineno = line;
    cd.flags = TT_CODE_TRACED | TT_CODE_FUNCTION | flags;
    cd.parent = TT_NO_PARENT;
    cd.n_ranges = n_ranges;
    cd.ranges = ranges;
    CHECK_OK(tt_writer_code(w, &cd, &id));
    return id;
}

const tt_header_t *test_header(void)
{
    static const char *argv[] = {"app.py", "--flag", ""};
    static const char *opnames[] = {"CACHE", NULL, "", "NOP", "POP_TOP"};
    static tt_header_t h;

    memset(&h, 0, sizeof h);
    h.python_impl = "cpython";
    h.python_version = "3.13.15";
    h.python_build = "3.13.15 (main, Nov 30 2025) [GCC 12.2.0]";
    h.argc = 3;
    h.argv = argv;
    h.start_unix_ns = 1764500000123456789ull;
    h.start_tick = 1000;
    h.clock_name = "monotonic";
    h.clock_hz = 1000000000ull;
    h.options = TT_OPT_CALLS | TT_OPT_LINES;
    h.options_text = "--threads all";
    h.n_opnames = 5;
    h.opnames = opnames;
    return &h;
}

/* ------------------------------------------------------------ evlists */

void evlist_push(evlist *l, const tt_event_t *e)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->ev = realloc(l->ev, l->cap * sizeof *l->ev);
        CHECK(l->ev != NULL);
    }
    l->ev[l->n++] = *e;
}

void evlist_free(evlist *l)
{
    free(l->ev);
    memset(l, 0, sizeof *l);
}

int evlist_read(evlist *l, tt_reader_t *r, int allow_errors)
{
    tt_event_t ev;
    int rc, errors = 0;

    while ((rc = tt_reader_next(r, &ev)) != 0) {
        if (rc < 0) {
            if (!allow_errors)
                TT_TEST_FAIL("tt_reader_next: %s", tt_strerror(rc));
            errors++;
            continue;
        }
        evlist_push(l, &ev);
    }
    return errors;
}

void check_event(const tt_event_t *got, const tt_event_t *want,
                 const char *what, size_t i)
{
#define F(field)                                                          \
    if (got->field != want->field)                                       \
        TT_TEST_FAIL("%s: event %zu (%s): " #field " is %" PRIu64         \
                     ", want %" PRIu64, what, i,                          \
                     tt_event_kind_name(want->kind),                      \
                     (uint64_t)got->field, (uint64_t)want->field)
    F(kind);
    F(thread);
    F(tick);
    F(code);
    if (got->line != want->line)
        TT_TEST_FAIL("%s: event %zu (%s): line is %d, want %d", what, i,
                     tt_event_kind_name(want->kind), got->line, want->line);
    F(opcode);
    F(offset);
    F(exc_type);
    F(type);
    F(addr);
    F(size);
    F(count);
    F(flags);
#undef F
}

void check_evlists(const evlist *got, const evlist *want, const char *what)
{
    size_t n = got->n < want->n ? got->n : want->n;
    for (size_t i = 0; i < n; i++)
        check_event(&got->ev[i], &want->ev[i], what, i);
    if (got->n != want->n)
        TT_TEST_FAIL("%s: %zu events, want %zu", what, got->n, want->n);
}

static int cmp_merged(const void *a, const void *b)
{
    const tt_event_t *x = a, *y = b;
    if (x->tick != y->tick)
        return x->tick < y->tick ? -1 : 1;
    if (x->thread != y->thread)
        return x->thread < y->thread ? -1 : 1;
    return 0;
}

void evlist_sort_merged(evlist *l)
{
    /* Stable: insertion sort would be slow, so sort (key, index) pairs by
     * abusing the count field is not allowed; do a merge sort. */
    tt_event_t *tmp = malloc((l->n ? l->n : 1) * sizeof *tmp);
    CHECK(tmp != NULL);
    for (size_t w = 1; w < l->n; w *= 2) {
        for (size_t lo = 0; lo < l->n; lo += 2 * w) {
            size_t mid = lo + w < l->n ? lo + w : l->n;
            size_t hi = lo + 2 * w < l->n ? lo + 2 * w : l->n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = cmp_merged(&l->ev[j], &l->ev[i]) < 0 ? l->ev[j++]
                                                                : l->ev[i++];
            while (i < mid)
                tmp[k++] = l->ev[i++];
            while (j < hi)
                tmp[k++] = l->ev[j++];
        }
        memcpy(l->ev, tmp, l->n * sizeof *tmp);
    }
    free(tmp);
}

void evlist_filter_thread(evlist *out, const evlist *in, uint32_t thread)
{
    for (size_t i = 0; i < in->n; i++)
        if (in->ev[i].thread == thread)
            evlist_push(out, &in->ev[i]);
}

/* ------------------------------------------------------------ the model */

void model_init(model *m, uint64_t start_tick)
{
    memset(m, 0, sizeof *m);
    m->start = start_tick;
    for (size_t i = 0; i < sizeof m->last / sizeof m->last[0]; i++)
        m->last[i] = start_tick;
}

static tt_event_t *m_new(model *m, tt_tbuf_t *b, int kind, uint64_t t)
{
    tt_event_t e;
    uint32_t th = tt_tbuf_thread(b);

    CHECK(th < sizeof m->last / sizeof m->last[0]);
    if (t < m->last[th])
        t = m->last[th];
    m->last[th] = t;
    memset(&e, 0, sizeof e);
    e.kind = (uint8_t)kind;
    e.thread = th;
    e.tick = t - m->start;
    e.line = TT_NO_LINE;
    e.offset = TT_NO_OFFSET;
    evlist_push(&m->exp, &e);
    return &m->exp.ev[m->exp.n - 1];
}

void m_call(model *m, tt_tbuf_t *b, uint64_t t, uint32_t code, int32_t line)
{
    tt_event_t *e = m_new(m, b, TT_EV_CALL, t);
    e->code = code;
    e->line = line;
    tt_tbuf_call(b, t, code, line);
}

void m_line(model *m, tt_tbuf_t *b, uint64_t t, uint32_t code, int32_t line)
{
    tt_event_t *e = m_new(m, b, TT_EV_LINE, t);
    e->code = code;
    e->line = line;
    tt_tbuf_line(b, t, code, line);
}

void m_return(model *m, tt_tbuf_t *b, uint64_t t, uint32_t code, int32_t line)
{
    tt_event_t *e = m_new(m, b, TT_EV_RETURN, t);
    e->code = code;
    e->line = line;
    tt_tbuf_return(b, t, code, line);
}

void m_exception(model *m, tt_tbuf_t *b, uint64_t t, uint32_t code,
                 int32_t line, uint32_t exc)
{
    tt_event_t *e = m_new(m, b, TT_EV_EXCEPTION, t);
    e->code = code;
    e->line = line;
    e->exc_type = exc;
    tt_tbuf_exception(b, t, code, line, exc);
}

void m_opcode(model *m, tt_tbuf_t *b, uint64_t t, uint32_t code, int32_t line,
              uint32_t offset, uint8_t op)
{
    tt_event_t *e = m_new(m, b, TT_EV_OPCODE, t);
    e->code = code;
    e->line = line;
    e->offset = offset;
    e->opcode = op;
    tt_tbuf_opcode(b, t, code, line, offset, op);
}

void m_create(model *m, tt_tbuf_t *b, uint64_t t, uint32_t type, uint64_t addr,
              uint64_t size, uint32_t code, int32_t line, uint32_t offset)
{
    tt_event_t *e = m_new(m, b, TT_EV_OBJ_CREATE, t);
    e->type = type;
    e->addr = addr;
    e->size = size;
    e->code = code;
    e->line = line;
    e->offset = offset;
    tt_tbuf_obj_create(b, t, type, addr, size, code, line, offset);
}

void m_destroy(model *m, tt_tbuf_t *b, uint64_t t, uint64_t addr)
{
    tt_event_t *e = m_new(m, b, TT_EV_OBJ_DESTROY, t);
    e->addr = addr;
    tt_tbuf_obj_destroy(b, t, addr);
}

uint64_t rnd_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ------------------------------------------------------ sample recording */

const char *write_sample(model *m)
{
    const char *path = tmp_path("sample.ttrace");
    tt_writer_t *w;
    tt_tbuf_t *tb[3];
    uint32_t s_file, s_f, s_g, s_exc, s_int, code_f, code_g, ty;
    tt_line_range_t ranges[] = {{0, 6, 10}, {6, 20, 11}, {20, 30, 12}};
    tt_code_def_t cd;
    tt_type_def_t td;
    uint64_t t = 1000;

    tt__tbuf_cap = 300;                 /* many small chunks */
    model_init(m, test_header()->start_tick);
    CHECK_OK(tt_writer_open(&w, path, test_header()));
    CHECK_OK(tt_writer_string(w, "app.py", 6, &s_file));
    CHECK_OK(tt_writer_string(w, "f", 1, &s_f));
    CHECK_OK(tt_writer_string(w, "g", 1, &s_g));
    CHECK_OK(tt_writer_string(w, "ValueError", 10, &s_exc));
    CHECK_OK(tt_writer_string(w, "builtins.int", 12, &s_int));
    memset(&cd, 0, sizeof cd);
    cd.filename = s_file;
    cd.qualname = s_f;
    cd.firstlineno = 10;
    cd.flags = TT_CODE_TRACED;
    cd.parent = TT_NO_PARENT;
    cd.n_ranges = 3;
    cd.ranges = ranges;
    CHECK_OK(tt_writer_code(w, &cd, &code_f));
    cd.qualname = s_g;
    cd.firstlineno = 20;
    cd.parent = code_f;
    cd.n_ranges = 0;
    cd.ranges = NULL;
    CHECK_OK(tt_writer_code(w, &cd, &code_g));
    td.name = s_int;
    td.basicsize = 32;
    td.flags = 0;
    CHECK_OK(tt_writer_type(w, &td, &ty));
    CHECK_OK(tt_writer_thread(w, 111, "MainThread", &tb[0]));
    CHECK_OK(tt_writer_thread(w, 222, NULL, &tb[1]));
    CHECK_OK(tt_writer_thread(w, 333, "worker-2", &tb[2]));
    CHECK_OK(tt_writer_note(w, "hook_replaced", "no"));
    for (int i = 0; i < 40; i++) {
        for (int k = 0; k < 3; k++) {
            tt_tbuf_t *b = tb[k];
            t += 7 + (uint64_t)k;
            m_call(m, b, t, code_f, 10);
            m_line(m, b, t + 3, code_f, 11);
            m_call(m, b, t + 5, code_g, 20);
            m_line(m, b, t + 6, code_g, 21);
            if (i % 5 == 0)
                m_exception(m, b, t + 7, code_g, 21, s_exc);
            m_return(m, b, t + 8, code_g, 21);
            m_line(m, b, t + 9, code_f, 12);
            if (i % 3 == 0)
                m_opcode(m, b, t + 9, code_f, 12, 22, 4);
            m_create(m, b, t + 10, ty, 0x7f0000001000ull + 32u * (uint64_t)i,
                     32, code_f, 12, TT_NO_OFFSET);
            if (i % 2)
                m_destroy(m, b, t + 11, 0x7f0000001000ull + 32u * (uint64_t)i);
            m_return(m, b, t + 12, code_f, 12);
        }
        if (i == 20)
            CHECK_OK(tt_writer_thread_name(w, 1, "renamed"));
    }
    CHECK_OK(tt_writer_close(w));
    tt__tbuf_cap = 64 * 1024;
    return path;
}

size_t frame_chunk(uint8_t *out, uint8_t type, uint32_t thread,
                   const void *payload, size_t len)
{
    out[0] = type;
    out[1] = out[2] = out[3] = 0;
    tt__put_le32(out + 4, thread);
    tt__put_le32(out + 8, (uint32_t)len);
    tt__put_le32(out + 12, tt__crc32c(0, out, 12));
    if (len)
        memcpy(out + 16, payload, len);
    tt__put_le32(out + 16 + len, tt__crc32c(0, out + 16, len));
    return 20 + len;
}

/* The writer's output without the BASE records that current writers
 * put first in every DEFS chunk (FORMAT.md §5): what a version-1.0 writer
 * wrote. Checks each BASE record against the ids defined before its
 * chunk. Returns a malloc'd copy and its length. */
uint8_t *strip_base_records(const uint8_t *d, size_t len, size_t *out)
{
    uint8_t *o = malloc(len), *payload = malloc(len);
    size_t off = TT__FILE_HEAD, n = TT__FILE_HEAD;
    uint64_t defined[4] = {0, 0, 0, 0};
    int bases = 0;

    CHECK(o != NULL && payload != NULL);
    memcpy(o, d, TT__FILE_HEAD);
    while (off < len) {
        uint32_t plen = tt__get_le32(d + off + 8);
        const uint8_t *p = d + off + 16, *end = p + plen;
        if (d[off] == TT__CH_DEFS) {
            size_t k = 0;
            const uint8_t *q;
            uint64_t v, body;
            CHECK(plen > 2 && p[0] == TT__REC_BASE);
            q = p + 2;
            for (int i = 0; i < 4; i++) {
                CHECK(tt__get_varint(&q, end, &v) == 0);
                CHECK_EQ_U64(v, defined[i]);
            }
            CHECK(q == p + 2 + p[1]);
            bases++;
            for (q = p + 2 + p[1]; q < end; q += body) {   /* count ids */
                const uint8_t *rec = q++;
                CHECK(tt__get_varint(&q, end, &body) == 0);
                if (*rec >= TT__REC_STRING && *rec <= TT__REC_THREAD)
                    defined[*rec - TT__REC_STRING]++;
                memcpy(payload + k, rec, (size_t)(q - rec) + body);
                k += (size_t)(q - rec) + body;
            }
            n += frame_chunk(o + n, TT__CH_DEFS, TT__NO_THREAD, payload, k);
        } else {
            memcpy(o + n, d + off, 20 + (size_t)plen);
            n += 20 + (size_t)plen;
        }
        off += 20 + (size_t)plen;
    }
    CHECK(bases > 0);
    free(payload);
    *out = n;
    return o;
}

int exercise_reader(const uint8_t *data, size_t len)
{
    return tt_fuzz_exercise(data, len);
}
