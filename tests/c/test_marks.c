/* test_marks.c - resumption and suspension marks (0x86 chunks, FORMAT.md
 * §19): the round trip over many chunks (a full mark list writes its chunk
 * early), old files and files whose 0x86 chunks were removed, damaged,
 * forged, misplaced or wrong marks, the writer's refusals and allocation
 * failure, the emergency flush, and the worked example's bytes.
 */
#include "tt_test.h"
#include "tt_format.h"
#include "tt_internal.h"

/* Code 0: a generator at line 1 (yield at 2); code 1: its caller at 10. */
static void define(tt_writer_t *w, uint32_t *gen, uint32_t *caller)
{
    static const tt_line_range_t r0[] = {{0, 2, 1}, {2, 8, 2}};
    static const tt_line_range_t r1[] = {{0, 2, 10}, {2, 8, 11}};
    uint32_t fn;

    CHECK_OK(tt_writer_string(w, "/src/g.py", 9, &fn));
    *gen = test_code(w, fn, "gen", 1, TT_CODE_GENERATOR, r0, 2);
    *caller = test_code(w, fn, "main", 10, 0, r1, 2);
}

/* Opens path with the two codes and thread 1. */
static tt_writer_t *open_one(const char *path, tt_tbuf_t **b, uint32_t *gen,
                             uint32_t *caller)
{
    tt_writer_t *w;
    CHECK_OK(tt_writer_open(&w, path, test_header()));
    define(w, gen, caller);
    CHECK_OK(tt_writer_thread(w, 1, "MainThread", b));
    return w;
}

/* A marked append, and the event the model expects with its flag. */
static void m_mark(model *m, tt_tbuf_t *b, unsigned flag)
{
    CHECK_OK(tt_writer_mark_event(b, flag));
    m->exp.ev[m->exp.n - 1].flags = (uint8_t)flag;
}

/* Threads a and b each drive a generator `rounds` times: the first CALL is
 * the creation's first run, every later one a resumption, every RETURN
 * but the last a suspension. Events in between stay unmarked. */
static const char *write_marked(const char *name, model *m, int rounds,
                                uint64_t *marks)
{
    const char *path = tmp_path(name);
    tt_writer_t *w;
    tt_tbuf_t *b[2];
    tt_writer_stats_t st;
    uint32_t gen, caller;
    uint64_t t = 1000;

    model_init(m, test_header()->start_tick);
    CHECK_OK(tt_writer_open(&w, path, test_header()));
    define(w, &gen, &caller);
    CHECK_OK(tt_writer_thread(w, 1, "MainThread", &b[0]));
    CHECK_OK(tt_writer_thread(w, 2, "worker", &b[1]));
    for (int k = 0; k < 2; k++)
        m_call(m, b[k], t++, caller, 10);
    *marks = 0;
    for (int i = 0; i < rounds; i++) {
        for (int k = 0; k < 2; k++) {
            m_line(m, b[k], t++, caller, 11);
            m_call(m, b[k], t++, gen, i ? 2 : 1);
            if (i) {
                m_mark(m, b[k], TT_EVF_RESUME);
                ++*marks;
            }
            m_line(m, b[k], t++, gen, 2);
            m_return(m, b[k], t++, gen, 2);
            if (i + 1 < rounds) {
                m_mark(m, b[k], TT_EVF_YIELD);
                ++*marks;
            }
        }
    }
    for (int k = 0; k < 2; k++)
        m_return(m, b[k], t++, caller, 11);
    tt_writer_stats(w, &st);
    CHECK_EQ_U64(st.marks, *marks);
    CHECK_EQ_U64(st.marks_lost, 0);
    CHECK_OK(tt_writer_close(w));
    return path;
}

static void check_reads(const char *path, const model *m, int marked)
{
    evlist got = {0}, want = {0}, one = {0}, sel = {0};
    tt_reader_t *r;
    tt_marks_info_t mi;

    for (size_t i = 0; i < m->exp.n; i++) {
        tt_event_t e = m->exp.ev[i];
        if (!marked)
            e.flags = 0;
        evlist_push(&want, &e);
    }
    evlist_sort_merged(&want);
    CHECK_OK(tt_reader_open(&r, path, TT_READ_MERGED));
    CHECK_EQ(evlist_read(&got, r, 0), 0);
    check_evlists(&got, &want, "merged");
    tt_reader_marks_info(r, &mi);
    CHECK_EQ(mi.bad, 0);
    CHECK_EQ(mi.unbound, 0);
    CHECK(marked ? mi.chunks > 2 : mi.chunks == 0);
    /* one thread, read again after the other (decoded before) */
    CHECK_OK(tt_reader_select_thread(r, 1));
    CHECK_EQ(evlist_read(&one, r, 0), 0);
    evlist_filter_thread(&sel, &want, 1);
    check_evlists(&one, &sel, "thread 1");
    tt_reader_close(r);
    evlist_free(&got);
    evlist_free(&one);
    evlist_free(&sel);
    got = (evlist){0};
    /* file order, lazily: the same flags on the same events */
    CHECK_OK(tt_reader_open(&r, path, TT_READ_FILE | TT_READ_LAZY));
    CHECK_EQ(evlist_read(&got, r, 0), 0);
    evlist_sort_merged(&got);
    check_evlists(&got, &want, "file order");
    tt_reader_close(r);
    evlist_free(&got);
    evlist_free(&want);
}

void test_marks_roundtrip(void)
{
    model m;
    uint64_t marks;
    const char *path;

    tt__tbuf_cap = 256;                 /* many chunks, each with marks */
    path = write_marked("mk-rt.ttrace", &m, 400, &marks);
    check_reads(path, &m, 1);
    evlist_free(&m.exp);
    /* a big buffer: the mark list fills (an eighth of 4 KiB) first and
     * writes its chunk early */
    tt__tbuf_cap = 4096;
    path = write_marked("mk-full.ttrace", &m, 2000, &marks);
    check_reads(path, &m, 1);
    evlist_free(&m.exp);
}

/* Copies a file keeping the chunks `keep` accepts (type, thread). */
static uint8_t *filter_chunks(const uint8_t *d, size_t len, size_t *out,
                              int (*keep)(uint8_t type))
{
    uint8_t *o = malloc(len);
    size_t off = 12, n = 12;

    CHECK(o != NULL);
    memcpy(o, d, 12);
    while (off + 20 <= len) {
        size_t sz = 20 + tt__get_le32(d + off + 8);
        if (keep(d[off])) {
            memcpy(o + n, d + off, sz);
            n += sz;
        }
        off += sz;
    }
    *out = n;
    return o;
}

static int not_marks(uint8_t type)
{
    return type != TT_CHUNK_MARKS;
}

/* A file without 0x86 chunks (an older writer's, or one whose marks were
 * lost) reads as before: the same events, unflagged, nothing damaged. */
void test_marks_old_file(void)
{
    model m;
    uint64_t marks;
    const char *path, *stripped = tmp_path("mk-old.ttrace");
    uint8_t *d, *o;
    size_t len, n;
    tt_reader_t *r;

    tt__tbuf_cap = 256;
    path = write_marked("mk-o.ttrace", &m, 100, &marks);
    d = read_file(path, &len);
    o = filter_chunks(d, len, &n, not_marks);
    CHECK(n < len);
    write_file(stripped, o, n);
    check_reads(stripped, &m, 0);
    CHECK_OK(tt_reader_open(&r, stripped, 0));
    CHECK_EQ(tt_reader_damage(r)->status, 0);
    tt_reader_close(r);
    free(d);
    free(o);
    evlist_free(&m.exp);
}

/* The offset of the first 0x86 chunk at or after `from`; 0 if none. */
static size_t find_marks(const uint8_t *d, size_t len, size_t from)
{
    size_t off = 12;
    while (off + 20 <= len) {
        if (d[off] == TT_CHUNK_MARKS && off >= from)
            return off;
        off += 20 + tt__get_le32(d + off + 8);
    }
    return 0;
}

static void reframe(uint8_t *d, size_t off)
{
    uint32_t plen = tt__get_le32(d + off + 8);
    tt__put_le32(d + off + 16 + plen, tt__crc32c(0, d + off + 16, plen));
}

/* Counts flagged events and returns the marks info of a variant. */
static uint64_t flagged(const uint8_t *d, size_t len, tt_marks_info_t *mi,
                        int *status)
{
    tt_reader_t *r;
    tt_event_t ev;
    uint64_t n = 0;
    int rc;

    CHECK_OK(tt_reader_open_mem(&r, d, len, TT_READ_FILE));
    while ((rc = tt_reader_next(r, &ev)) != 0)
        if (rc == 1)
            n += ev.flags != 0;
    tt_reader_marks_info(r, mi);
    *status = tt_reader_damage(r)->status;
    tt_reader_close(r);
    return n;
}

void test_marks_corrupt(void)
{
    model m;
    uint64_t marks, all;
    const char *path;
    uint8_t *d, *v;
    size_t len, at;
    tt_marks_info_t mi;
    int status;

    tt__tbuf_cap = 256;
    path = write_marked("mk-c.ttrace", &m, 50, &marks);
    d = read_file(path, &len);
    v = malloc(len);
    CHECK(v != NULL);
    all = flagged(d, len, &mi, &status);
    CHECK_EQ_U64(all, marks);
    CHECK_EQ(status, 0);
    at = find_marks(d, len, 0);
    CHECK(at > 0);

    /* a payload CRC failure: that chunk is lost (damage), its events
     * read unmarked, the others keep theirs */
    memcpy(v, d, len);
    v[at + 16 + 4] ^= 0x40;
    CHECK(flagged(v, len, &mi, &status) < all);
    CHECK_EQ(status, TT_ECRC);
    CHECK_EQ(mi.bad, 0);

    /* marks written for another payload (the events CRC differs): not
     * bound, counted, no damage */
    memcpy(v, d, len);
    v[at + 16] ^= 0x01;
    reframe(v, at);
    CHECK(flagged(v, len, &mi, &status) < all);
    CHECK_EQ(mi.unbound, 1);
    CHECK_EQ(status, 0);

    /* a mark naming a LINE (gap + 1): the chunk's marks stop there */
    memcpy(v, d, len);
    v[at + 16 + 4] = (uint8_t)(v[at + 16 + 4] + 2);
    reframe(v, at);
    CHECK(flagged(v, len, &mi, &status) < all);
    CHECK_EQ(mi.bad, 1);
    CHECK_EQ(status, 0);

    /* a mark past the chunk's events */
    memcpy(v, d, len);
    v[at + 16 + 4] = 0x7E;
    reframe(v, at);
    (void)flagged(v, len, &mi, &status);
    CHECK_EQ(mi.bad, 1);

    /* a truncated varint at the end of the list */
    memcpy(v, d, len);
    {
        uint32_t plen = tt__get_le32(v + at + 8);
        v[at + 16 + plen - 1] |= 0x80;
    }
    reframe(v, at);
    (void)flagged(v, len, &mi, &status);
    CHECK_EQ(mi.bad, 1);
    CHECK_EQ(status, 0);

    /* another thread's EVENTS chunk before it: not bound */
    memcpy(v, d, len);
    tt__put_le32(v + at + 4, tt__get_le32(v + at + 4) ^ 1);
    tt__put_le32(v + at + 12, tt__crc32c(0, v + at, 12));
    CHECK(flagged(v, len, &mi, &status) < all);
    CHECK_EQ(mi.unbound, 1);
    CHECK_EQ(status, 0);
    free(v);

    /* a 0x86 chunk after a DEFS chunk (not right after its EVENTS) */
    {
        size_t n = 0;
        uint32_t plen = tt__get_le32(d + at + 8);
        uint8_t defs[64];
        size_t dl = frame_chunk(defs, TT__CH_DEFS, 0xFFFFFFFFu, NULL, 0);
        v = malloc(len + dl);
        memcpy(v, d, at);
        n = at;
        memcpy(v + n, defs, dl);
        n += dl;
        memcpy(v + n, d + at, len - at);
        n += len - at;
        CHECK(flagged(v, n, &mi, &status) < all);
        CHECK_EQ(mi.unbound, 1);
        (void)plen;
        free(v);
    }
    free(d);
    evlist_free(&m.exp);
}

void test_marks_writer_errors(void)
{
    const char *path = tmp_path("mk-e.ttrace");
    tt_writer_t *w;
    tt_tbuf_t *b;
    tt_writer_stats_t st;
    tt_reader_t *r;
    tt_event_t ev;
    uint32_t gen, caller;
    int n = 0, rc;

    CHECK_EQ(tt_writer_mark_event(NULL, TT_EVF_RESUME), TT_EINVAL);
    w = open_one(path, &b, &gen, &caller);
    CHECK_EQ(tt_writer_mark_event(b, TT_EVF_RESUME), TT_ESTATE);  /* empty */
    tt_tbuf_call(b, 1000, gen, 1);
    CHECK_EQ(tt_writer_mark_event(b, 0x4), TT_EINVAL);
    tt__alloc_fail_at(1, 0);
    CHECK_EQ(tt_writer_mark_event(b, TT_EVF_RESUME), TT_ENOMEM);
    tt__alloc_fail_at(0, 0);
    tt_tbuf_return(b, 1001, gen, 2);
    CHECK_OK(tt_writer_mark_event(b, TT_EVF_YIELD));
    CHECK_EQ(tt_writer_mark_event(b, TT_EVF_YIELD), TT_EINVAL);   /* twice */
    tt_tbuf_resume(b, 1002, gen, 2);
    tt_tbuf_yield(b, 1003, gen, 2);
    tt_writer_stats(w, &st);
    CHECK_EQ_U64(st.marks, 3);
    CHECK_EQ_U64(st.marks_lost, 1);
    CHECK_OK(tt_writer_flush(w));
    CHECK_OK(tt_writer_flush_emergency(w, NULL, NULL));
    CHECK_EQ(tt_writer_mark_event(b, TT_EVF_YIELD), TT_ESTATE);
    (void)tt_writer_close(w);
    CHECK_OK(tt_reader_open(&r, path, 0));
    {
        static const uint8_t want[] = {0, TT_EVF_YIELD, TT_EVF_RESUME,
                                       TT_EVF_YIELD};
        while ((rc = tt_reader_next(r, &ev)) == 1) {
            CHECK(n < 4);
            CHECK_EQ(ev.flags, want[n]);
            n++;
        }
        CHECK_EQ(rc, 0);
        CHECK_EQ(n, 4);
    }
    tt_reader_close(r);
}

/* A crash: the emergency flush writes each buffer's marks after its
 * events, with no allocation. */
void test_marks_emergency(void)
{
    const char *path = tmp_path("mk-crash.ttrace");
    tt_writer_t *w;
    tt_tbuf_t *b;
    tt_reader_t *r;
    tt_event_t ev;
    uint32_t gen, caller;
    int n = 0, marked = 0;

    w = open_one(path, &b, &gen, &caller);
    tt_tbuf_call(b, 1000, gen, 1);
    tt_tbuf_yield(b, 1001, gen, 2);
    tt_tbuf_resume(b, 1002, gen, 2);
    tt_tbuf_return(b, 1003, gen, 2);
    tt__alloc_fail_at(1, 1);
    CHECK_OK(tt_writer_flush_emergency(w, "crash", "SIGSEGV"));
    CHECK_EQ(tt__alloc_count(), 0);
    tt__alloc_fail_at(0, 0);
    (void)tt_writer_close(w);
    CHECK_OK(tt_reader_open(&r, path, 0));
    while (tt_reader_next(r, &ev) == 1) {
        marked += ev.flags == (n == 1 ? TT_EVF_YIELD : n == 2 ? TT_EVF_RESUME
                                                              : 0);
        n++;
    }
    CHECK_EQ(n, 4);
    CHECK_EQ(marked, 4);
    tt_reader_close(r);
}

/* FORMAT.md §19's worked example: in a chunk of 6 events, event 1 is a
 * resumption and event 4 a suspension. */
void test_marks_example_bytes(void)
{
    const char *path = tmp_path("mk-ex.ttrace");
    tt_writer_t *w;
    tt_tbuf_t *b;
    uint32_t gen, caller;
    uint8_t *d;
    size_t len, at;

    w = open_one(path, &b, &gen, &caller);
    tt_tbuf_call(b, 1000, caller, 10);
    tt_tbuf_resume(b, 1001, gen, 2);
    tt_tbuf_line(b, 1002, gen, 2);
    tt_tbuf_line(b, 1003, gen, 2);
    tt_tbuf_yield(b, 1004, gen, 2);
    tt_tbuf_return(b, 1005, caller, 11);
    CHECK_OK(tt_writer_close(w));
    d = read_file(path, &len);
    at = find_marks(d, len, 0);
    CHECK(at > 0);
    CHECK_EQ(tt__get_le32(d + at + 8), 6);            /* u32 + 2 varints */
    CHECK_EQ(d[at + 16 + 4], 0x02);                   /* gap 1, resume */
    CHECK_EQ(d[at + 16 + 5], 0x05);                   /* gap 2, yield */
    CHECK_EQ(tt__get_le32(d + at + 16), tt__get_le32(d + at - 4));
    CHECK_EQ(find_marks(d, len, at + 1), 0);
    free(d);
}
