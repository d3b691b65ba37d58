/* test_contexts.c - context marks (0x84 chunks, FORMAT.md §17):
 * the round trip, the context of each event (by tick) and of each --count
 * record (by file order), tick windows, the per-line context sets, a
 * malformed mark, a file cut after a mark, and allocation failures.
 */
#include "tt_test.h"
#include "tt_format.h"
#include "tt_internal.h"

/* One file, /src/t.py: code 0 (lines 1-3), code 1 (lines 10-12). */
static void define(tt_writer_t *w)
{
    static const tt_line_range_t r0[] = {{0, 2, 1}, {2, 4, 2}, {4, 6, 3}};
    static const tt_line_range_t r1[] = {{0, 2, 10}, {2, 4, 11}, {4, 6, 12}};
    uint32_t fn, q, id;
    tt_code_def_t d = {0};

    CHECK_OK(tt_writer_string(w, "/src/t.py", 9, &fn));
    CHECK_OK(tt_writer_string(w, "f", 1, &q));
    d.filename = fn;
    d.qualname = q;
    d.flags = TT_CODE_TRACED;
    d.parent = TT_NO_PARENT;
    d.firstlineno = 1;
    d.n_ranges = 3;
    d.ranges = r0;
    CHECK_OK(tt_writer_code(w, &d, &id));
    d.firstlineno = 10;
    d.ranges = r1;
    CHECK_OK(tt_writer_code(w, &d, &id));
}

/* Full: lines 1, 2 before any mark; "a" at 2010: 2, 10 (thread 2: 11);
 * "b" at 2020: 3, 10; "" at 2030: 12. The header's start_tick is 1000. */
static const char *write_full(const char *name)
{
    const char *path = tmp_path(name);
    tt_writer_t *w;
    tt_tbuf_t *b0, *b1;

    CHECK_OK(tt_writer_open(&w, path, test_header()));
    define(w);
    CHECK_OK(tt_writer_thread(w, 1, "MainThread", &b0));
    CHECK_OK(tt_writer_thread(w, 2, "worker", &b1));
    tt_tbuf_call(b0, 2000, 0, 1);
    tt_tbuf_line(b0, 2001, 0, 1);
    tt_tbuf_line(b0, 2002, 0, 2);
    CHECK_OK(tt_writer_context(w, 1, 2010, "a"));
    tt_tbuf_line(b0, 2010, 0, 2);              /* at the mark: "a" */
    tt_tbuf_call(b0, 2011, 1, 10);
    tt_tbuf_line(b0, 2012, 1, 10);
    tt_tbuf_call(b1, 2013, 1, 10);
    tt_tbuf_line(b1, 2014, 1, 11);             /* another thread: by tick */
    CHECK_OK(tt_writer_context(w, 1, 2020, "b"));
    tt_tbuf_line(b1, 2019, 1, 11);             /* written after, still "a" */
    tt_tbuf_line(b0, 2021, 1, 10);
    tt_tbuf_return(b0, 2022, 1, 10);
    tt_tbuf_line(b0, 2023, 0, 3);
    CHECK_OK(tt_writer_context(w, 1, 2030, ""));
    tt_tbuf_line(b1, 2031, 1, 12);
    CHECK_OK(tt_writer_close(w));
    return path;
}

static int has(const tt_line_context_t *v, size_t n, uint32_t code,
               int32_t line, uint32_t ctx)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].code == code && v[i].line == line && v[i].context == ctx)
            return 1;
    return 0;
}

void test_contexts_full(void)
{
    tt_reader_t *r;
    tt_context_t c;
    tt_line_context_t *v;
    size_t n;

    CHECK_OK(tt_reader_open(&r, write_full("ctx-full.ttrace"), TT_READ_MERGED));
    CHECK_EQ(tt_reader_damage(r)->status, 0);
    CHECK_EQ(tt_reader_n_contexts(r), 4);
    CHECK_OK(tt_reader_context(r, 0, &c));
    CHECK_STR(c.name, "");
    CHECK_OK(tt_reader_context(r, 1, &c));
    CHECK_STR(c.name, "a");
    CHECK_EQ_U64(c.tick, 1010);
    CHECK_EQ_U64(c.ident, 1);
    CHECK_OK(tt_reader_context(r, 3, &c));
    CHECK_STR(c.name, "");
    CHECK_EQ(tt_reader_context(r, 4, &c), TT_EINVAL);
    CHECK_EQ(tt_reader_context_at(r, 1009), 0);
    CHECK_EQ(tt_reader_context_at(r, 1010), 1);
    CHECK_EQ(tt_reader_context_at(r, 1019), 1);
    CHECK_EQ(tt_reader_context_at(r, 1020), 2);
    CHECK_EQ(tt_reader_context_at(r, UINT64_MAX), 3);
    CHECK_EQ(tt_reader_bad_contexts(r), 0);

    CHECK_OK(tt_line_contexts(r, &v, &n));
    CHECK_EQ(n, 8);
    CHECK(has(v, n, 0, 1, 0) && has(v, n, 0, 2, 0) && has(v, n, 0, 2, 1));
    CHECK(has(v, n, 1, 10, 1) && has(v, n, 1, 11, 1) && has(v, n, 1, 10, 2));
    CHECK(has(v, n, 0, 3, 2) && has(v, n, 1, 12, 3));
    for (size_t i = 1; i < n; i++)             /* sorted, unique */
        CHECK(v[i - 1].code < v[i].code ||
              (v[i - 1].code == v[i].code && (v[i - 1].line < v[i].line ||
               (v[i - 1].line == v[i].line &&
                v[i - 1].context < v[i].context))));
    tt_line_contexts_free(v);
    tt_reader_close(r);
}

void test_contexts_window(void)
{
    tt_reader_t *r;
    tt_event_t ev, evs[4];
    uint64_t *s;
    size_t n;
    int k, got = 0, rc;

    CHECK_OK(tt_reader_open(&r, write_full("ctx-win.ttrace"), TT_READ_MERGED));
    CHECK_OK(tt_reader_context_spans(r, "a", 0, &s, &n));
    CHECK_EQ(n, 1);
    CHECK_EQ_U64(s[0], 1010);
    CHECK_EQ_U64(s[1], 1020);
    CHECK_OK(tt_reader_set_window(r, s, n));
    while ((rc = tt_reader_next(r, &ev)) == 1) {
        CHECK(ev.tick >= 1010 && ev.tick < 1020);
        got++;
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(got, 6);                          /* 2010..2014 and 2019 */
    /* batches see the same events */
    CHECK_OK(tt_reader_select_thread(r, UINT32_MAX));
    got = 0;
    while ((k = tt_reader_next_batch(r, evs, 4)) > 0)
        got += k;
    CHECK_EQ(got, 6);
    tt_spans_free(s);
    /* "" names two spans: before "a" and after the last mark */
    CHECK_OK(tt_reader_context_spans(r, "", 0, &s, &n));
    CHECK_EQ(n, 2);
    CHECK_EQ_U64(s[1], 1010);
    CHECK_EQ_U64(s[2], 1030);
    CHECK_EQ_U64(s[3], UINT64_MAX);
    tt_spans_free(s);
    CHECK_OK(tt_reader_context_spans(r, "nothing", 1, &s, &n));
    CHECK_EQ(n, 0);
    tt_spans_free(s);
    CHECK_OK(tt_reader_set_window(r, NULL, 0));  /* lifted */
    got = 0;
    while (tt_reader_next(r, &ev) == 1)
        got++;
    CHECK_EQ(got, 13);
    tt_reader_close(r);
}

/* --count: a table per context, each after its mark in file order. */
static const char *write_counts(const char *name)
{
    const char *path = tmp_path(name);
    static const uint64_t c0[] = {1, 1, 0}, c1[] = {0, 2, 1}, c2[] = {3};
    const tt_count_table_t before = {0, 1, 1, 3, c0};
    const tt_count_table_t in_a[] = {{0, 0, 1, 3, c1}, {1, 1, 10, 1, c2}};
    tt_header_t h = *test_header();
    tt_writer_t *w;

    h.options = TT_OPT_CALLS | TT_OPT_COUNT;
    CHECK_OK(tt_writer_open(&w, path, &h));
    define(w);
    CHECK_OK(tt_writer_line_counts(w, &before, 1));
    CHECK_OK(tt_writer_context(w, 7, 5000, "a"));
    CHECK_OK(tt_writer_line_counts(w, in_a, 2));
    CHECK_OK(tt_writer_context(w, 7, 6000, "b"));   /* nothing ran */
    CHECK_OK(tt_writer_close(w));
    return path;
}

void test_contexts_counts(void)
{
    tt_reader_t *r;
    tt_line_counts_t *lc;
    tt_line_context_t *v;
    size_t n;

    CHECK_OK(tt_reader_open(&r, write_counts("ctx-count.ttrace"),
                            TT_READ_MERGED));
    CHECK_EQ(tt_reader_n_contexts(r), 3);
    CHECK_OK(tt_line_counts_read(r, &lc));
    CHECK_EQ(tt_line_counts_n(lc), 3);
    CHECK_EQ(tt_line_counts_get(lc, 0)->context, 0);
    CHECK_EQ(tt_line_counts_get(lc, 1)->context, 1);
    CHECK_EQ(tt_line_counts_get(lc, 2)->context, 1);
    tt_line_counts_free(lc);
    CHECK_OK(tt_line_contexts(r, &v, &n));
    CHECK_EQ(n, 5);
    CHECK(has(v, n, 0, 1, 0) && has(v, n, 0, 2, 0));
    CHECK(has(v, n, 0, 2, 1) && has(v, n, 0, 3, 1) && has(v, n, 1, 10, 1));
    tt_line_contexts_free(v);
    tt_reader_close(r);
}

/* A mark whose payload is malformed still ends the context before it; a
 * mark going back in time is raised to the previous one. */
void test_contexts_crafted(void)
{
    const char *path = tmp_path("ctx-bad.ttrace");
    tt_writer_t *w;
    tt_reader_t *r;
    tt_context_t c;
    uint8_t bad[TT__CHUNK_HEAD + 3 + TT__CHUNK_TAIL] = {0};

    CHECK_OK(tt_writer_open(&w, path, test_header()));
    CHECK_OK(tt_writer_context(w, 1, 3000, "x"));
    bad[TT__CHUNK_HEAD] = 0x01;                /* ident, then a cut tick */
    bad[TT__CHUNK_HEAD + 1] = 0x80;
    CHECK_OK(tt__writer_chunk(w, bad, 2, TT_CHUNK_CONTEXT, TT__NO_THREAD));
    CHECK_OK(tt_writer_context(w, 1, 2500, "back"));
    CHECK_EQ(tt_writer_context(w, 1, 1, NULL), TT_EINVAL);
    CHECK_EQ(tt_writer_context(NULL, 1, 1, "x"), TT_EINVAL);
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, TT_READ_MERGED));
    CHECK_EQ(tt_reader_damage(r)->status, 0);  /* not file damage */
    CHECK_EQ(tt_reader_n_contexts(r), 4);
    CHECK_EQ(tt_reader_bad_contexts(r), 1);
    CHECK_OK(tt_reader_context(r, 2, &c));
    CHECK_STR(c.name, "");
    CHECK_EQ_U64(c.tick, 2000);
    CHECK_OK(tt_reader_context(r, 3, &c));
    CHECK_STR(c.name, "back");
    CHECK_EQ_U64(c.tick, 2000);
    tt_reader_close(r);
}

/* Cut anywhere, the file keeps the marks before the cut (whole chunks). */
void test_contexts_truncated(void)
{
    const char *path = write_full("ctx-cut.ttrace");
    const char *cut = tmp_path("ctx-cut2.ttrace");
    size_t len, prev = 0;
    uint8_t *data = read_file(path, &len);

    for (size_t at = 12; at <= len; at++) {
        tt_reader_t *r;
        tt_line_context_t *v;
        size_t n;
        uint32_t k;
        write_file(cut, data, at);
        if (tt_reader_open(&r, cut, TT_READ_MERGED) < 0)
            continue;
        k = tt_reader_n_contexts(r);
        CHECK(k >= 1 && k <= 4 && k >= prev);  /* only ever more marks */
        prev = k;
        CHECK_OK(tt_line_contexts(r, &v, &n));
        for (size_t i = 0; i < n; i++)
            CHECK(v[i].context < k);
        tt_line_contexts_free(v);
        tt_reader_close(r);
    }
    free(data);
}

void test_contexts_alloc_fail(void)
{
    const char *full = write_full("ctx-af.ttrace");
    const char *cnt = write_counts("ctx-afc.ttrace");
    const char *paths[] = {full, cnt};
    long failures = 0;

    for (int p = 0; p < 2; p++) {
        for (long n = 1;; n++) {
            tt_reader_t *r;
            tt_line_context_t *v;
            size_t k;
            int rc;
            tt__alloc_fail_at(n, 0);
            rc = tt_reader_open(&r, paths[p], TT_READ_MERGED);
            if (rc == 0) {
                rc = tt_line_contexts(r, &v, &k);
                if (rc == 0)
                    tt_line_contexts_free(v);
                else
                    CHECK(rc == TT_ENOMEM && v == NULL);
                tt_reader_close(r);
            } else {
                CHECK_EQ(rc, TT_ENOMEM);
            }
            if (tt__alloc_count() < n)
                break;
            failures++;
        }
        tt__alloc_fail_at(0, 0);
    }
    CHECK(failures > 10);
    /* the writer: a failed mark leaves a valid file */
    {
        const char *path = tmp_path("ctx-afw.ttrace");
        tt_writer_t *w;
        tt_reader_t *r;
        CHECK_OK(tt_writer_open(&w, path, test_header()));
        tt__alloc_fail_at(1, 0);
        CHECK_EQ(tt_writer_context(w, 1, 2000, "a"), TT_ENOMEM);
        tt__alloc_fail_at(0, 0);
        CHECK_OK(tt_writer_context(w, 1, 2001, "b"));
        (void)tt_writer_close(w);
        CHECK_OK(tt_reader_open(&r, path, TT_READ_MERGED));
        CHECK_EQ(tt_reader_n_contexts(r), 2);
        tt_reader_close(r);
    }
}

/* FORMAT.md §17's worked example, byte for byte. */
void test_contexts_example_bytes(void)
{
    static const uint8_t want[] = {0x07, 0xAC, 0x02, 0x08, 't', ':', ':',
                                   'a', '|', 'r', 'u', 'n'};
    const char *path = tmp_path("ctx-ex.ttrace");
    tt_writer_t *w;
    tt_reader_t *r;
    const uint8_t *p;
    size_t len;
    uint8_t type;

    CHECK_OK(tt_writer_open(&w, path, test_header()));
    CHECK_OK(tt_writer_context(w, 7, 1000 + 300, "t::a|run"));
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, TT_READ_MERGED));
    CHECK_EQ(tt_reader_n_ancillary(r), 1);
    CHECK_OK(tt_reader_ancillary(r, 0, &type, &p, &len));
    CHECK_EQ(type, TT_CHUNK_CONTEXT);
    CHECK_EQ(len, sizeof want);
    CHECK(memcmp(p, want, len) == 0);
    tt_reader_close(r);
}
