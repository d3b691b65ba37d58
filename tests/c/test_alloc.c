/* test_alloc.c - failure injection: every allocation of the writer and the
 * reader made to fail in turn (ASan checks nothing leaks), and write(2)
 * failures that must turn into DROPPED events, never into a broken file.
 */
#include "tt_test.h"

/* The writer script: every API call, tolerating ENOMEM anywhere. Returns
 * the number of non-DROPPED events it appended, or -1 if open failed. */
static long writer_script(const char *path, int *close_rc)
{
    tt_writer_t *w;
    tt_tbuf_t *b[3] = {NULL, NULL, NULL};
    tt_line_range_t ranges[] = {{0, 4, 1}, {4, 8, 2}};
    tt_code_def_t cd = {0};
    tt_type_def_t td = {0};
    uint32_t s = UINT32_MAX, c = TT_NO_CODE, ty = UINT32_MAX, id;
    long events = 0;
    int rc;

#define OK_OR_NOMEM(x)                                               \
    do {                                                             \
        rc = (x);                                                    \
        if (rc != 0 && rc != TT_ENOMEM)                              \
            TT_TEST_FAIL("%s: %s", #x, tt_strerror(rc));             \
    } while (0)

    rc = tt_writer_open(&w, path, test_header());
    if (rc != 0) {
        CHECK_EQ(rc, TT_ENOMEM);
        CHECK(w == NULL);
        return -1;
    }
    id = 12345;
    OK_OR_NOMEM(tt_writer_string(w, "file.py", 7, &id));
    if (rc == 0)
        s = id;
    else
        CHECK_EQ(id, 12345);           /* unchanged on failure */
    if (s != UINT32_MAX) {
        cd.filename = cd.qualname = s;
        cd.firstlineno = 3;
        cd.parent = TT_NO_PARENT;
        cd.n_ranges = 2;
        cd.ranges = ranges;
        id = 12345;
        OK_OR_NOMEM(tt_writer_code(w, &cd, &id));
        if (rc == 0)
            c = id;
        else
            CHECK_EQ(id, 12345);
        td.name = s;
        td.basicsize = 16;
        OK_OR_NOMEM(tt_writer_type(w, &td, &id));
        if (rc == 0)
            ty = id;
    }
    for (int i = 0; i < 3; i++) {
        OK_OR_NOMEM(tt_writer_thread(w, (uint64_t)i, i ? NULL : "main", &b[i]));
        CHECK(rc == 0 ? b[i] != NULL : b[i] == NULL);
    }
    OK_OR_NOMEM(tt_writer_note(w, "k", "v"));
    for (int i = 0; i < 3; i++)
        if (b[i] != NULL && i > 0)
            OK_OR_NOMEM(tt_writer_thread_name(w, tt_tbuf_thread(b[i]), "x"));
    for (int round = 0; round < 400; round++)
        for (int i = 0; i < 3; i++) {
            if (b[i] == NULL)
                continue;
            tt_tbuf_call(b[i], 2000 + (uint64_t)round, c, 3);
            tt_tbuf_line(b[i], 2001 + (uint64_t)round, c, 4);
            events += 2;
            if (ty != UINT32_MAX) {
                tt_tbuf_obj_create(b[i], 2002 + (uint64_t)round, ty,
                                   0x1000 + 16 * (uint64_t)round, 16, c, 4,
                                   TT_NO_OFFSET);
                events++;
            }
        }
    CHECK_EQ(tt_writer_flush(w), 0);
    *close_rc = tt_writer_close(w);
    return events;
#undef OK_OR_NOMEM
}

static void check_written(const char *path, long events)
{
    tt_reader_t *r;
    evlist got = {0};

    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_EQ(tt_reader_damage(r)->status, 0);
    CHECK_EQ(tt_reader_damage(r)->clean_end, 1);
    evlist_read(&got, r, 0);
    CHECK_EQ(got.n, events);
    tt_reader_close(r);
    evlist_free(&got);
}

void test_alloc_fail_writer(void)
{
    const char *path = tmp_path("alloc-w.ttrace");
    long total, failures = 0;
    int close_rc = 0;

    tt__tbuf_cap = 512;
    tt__alloc_fail_at(0, 0);
    total = writer_script(path, &close_rc);
    CHECK_OK(close_rc);
    check_written(path, total);
    for (int sticky = 0; sticky < 2; sticky++) {
        for (long n = 1;; n++) {
            long events;
            tt__alloc_fail_at(n, sticky);
            events = writer_script(path, &close_rc);
            if (tt__alloc_count() < n) {
                tt__alloc_fail_at(0, 0);
                CHECK_EQ(events, total);       /* nothing failed */
                break;
            }
            tt__alloc_fail_at(0, 0);
            failures++;
            if (events < 0)
                continue;                      /* open failed cleanly */
            CHECK_OK(close_rc);                /* no I/O went wrong */
            check_written(path, events);
        }
    }
    CHECK(failures > 15);
    tt__tbuf_cap = 64 * 1024;
}

/* Fails each allocation of open and iteration in turn, over the buffer and
 * the file, eager and lazy (TT_READ_LAZY: chunks are decoded only while
 * iterating). A file's chunks are read into a buffer per thread. A failed open is TT_ENOMEM with no
 * reader; a failure while iterating is TT_ENOMEM from tt_reader_next for
 * the chunk it hit, and a rewind then reads everything as a clean run. */
static void reader_alloc_sweep(const uint8_t *data, size_t len,
                               const char *path)
{
    tt_reader_t *r;
    evlist ref = {0};
    tt_damage_t dmg;
    int rc;

    tt__alloc_fail_at(0, 0);
    CHECK_OK(tt_reader_open_mem(&r, data, len, 0));
    evlist_read(&ref, r, 1);
    dmg = *tt_reader_damage(r);
    tt_reader_close(r);
    for (int mode = 0; mode < 4; mode++)
        for (long n = 1;; n++) {
            evlist got = {0};
            unsigned flags = mode & 2 ? TT_READ_LAZY : 0;
            tt_event_t ev;
            int nomem = 0;
            tt__alloc_fail_at(n, 0);
            rc = mode & 1 ? tt_reader_open(&r, path, flags)
                          : tt_reader_open_mem(&r, data, len, flags);
            if (rc != 0) {
                tt__alloc_fail_at(0, 0);
                CHECK_EQ(rc, TT_ENOMEM);
                CHECK(r == NULL);
                continue;
            }
            while ((rc = tt_reader_next(r, &ev)) != 0) {
                if (rc == TT_ENOMEM)
                    nomem++;
                else if (rc == 1)
                    evlist_push(&got, &ev);
            }
            if (tt__alloc_count() < n) {       /* nothing failed: all read */
                tt__alloc_fail_at(0, 0);
                CHECK_EQ(nomem, 0);
                check_evlists(&got, &ref, "after alloc sweep");
                CHECK_EQ(tt_reader_damage(r)->status, dmg.status);
                CHECK_EQ_U64(tt_reader_damage(r)->offset, dmg.offset);
                tt_reader_close(r);
                evlist_free(&got);
                break;
            }
            tt__alloc_fail_at(0, 0);
            /* only a file reader allocates while iterating (chunk buffers) */
            if (!(mode & 1))
                TT_TEST_FAIL("allocation %ld failed but open succeeded", n);
            CHECK_EQ(nomem, 1);
            CHECK(got.n < ref.n);
            evlist_free(&got);
            CHECK_OK(tt_reader_select_thread(r, UINT32_MAX));
            evlist_read(&got, r, 1);
            check_evlists(&got, &ref, "after a failed chunk buffer");
            CHECK_EQ(tt_reader_damage(r)->status, dmg.status);
            tt_reader_close(r);
            evlist_free(&got);
        }
    evlist_free(&ref);
}

void test_alloc_fail_reader(void)
{
    model m;
    const char *path = write_sample(&m);
    const char *cut = tmp_path("cut.ttrace");
    size_t len;
    uint8_t *data = read_file(path, &len);

    reader_alloc_sweep(data, len, path);
    write_file(cut, data, len * 2 / 3);       /* and a damaged one */
    reader_alloc_sweep(data, len * 2 / 3, cut);
    /* resynchronisation and placeholders: the first DEFS chunk's header
     * and, separately, its payload damaged */
    {
        size_t defs = 12 + 20 + tt__get_le32(data + 12 + 8);
        const char *bad = tmp_path("bad-defs.ttrace");
        CHECK_EQ(data[defs], TT__CH_DEFS);
        for (size_t at = defs + 5; at <= defs + 20; at += 15) {
            data[at] ^= 4;
            write_file(bad, data, len);
            reader_alloc_sweep(data, len, bad);
            data[at] ^= 4;
        }
    }
    free(data);
    evlist_free(&m.exp);
    /* Source identities (0x81 records): their table grows too. */
    {
        char seed[1024];
        snprintf(seed, sizeof seed, "%s/seed-sources", TT_FUZZ_CORPUS_DIR);
        data = read_file(seed, &len);
        CHECK(data != NULL);
        reader_alloc_sweep(data, len, seed);
        free(data);
    }
}

/* Appends n line events to b; returns n. */
static uint64_t burst(tt_tbuf_t *b, uint32_t c, uint64_t *t, int n)
{
    for (int i = 0; i < n; i++)
        tt_tbuf_line(b, (*t)++, c, i % 7);
    return (uint64_t)n;
}

void test_io_fail_drops_and_recovers(void)
{
    const char *path = tmp_path("io.ttrace");
    int saw_dropped_event = 0, saw_lost_end = 0;

    tt__tbuf_cap = 256;
    for (int sticky = 0; sticky < 2; sticky++)
        for (long k = 1; k < 40; k++) {
            tt_writer_t *w;
            tt_tbuf_t *b[2];
            tt_writer_stats_t st;
            tt_reader_t *r;
            uint64_t appended = 0, t = 1000, counts[TT_EV__COUNT], dropped;
            uint32_t s, c;
            tt_code_def_t cd = {0};
            int rc, close_rc;
            evlist got = {0};

            tt__io_fail_at(k, sticky);
            rc = tt_writer_open(&w, path, test_header());
            if (rc != 0) {
                CHECK_EQ(rc, TT_EIO);
                CHECK(w == NULL);
                continue;
            }
            CHECK_OK(tt_writer_string(w, "f", 1, &s));
            cd.filename = cd.qualname = s;
            cd.parent = TT_NO_PARENT;
            CHECK_OK(tt_writer_code(w, &cd, &c));
            CHECK_OK(tt_writer_thread(w, 1, "a", &b[0]));
            CHECK_OK(tt_writer_thread(w, 2, "b", &b[1]));
            for (int round = 0; round < 8; round++) {
                appended += burst(b[round % 2], c, &t, 150);
                if (round == 3)
                    (void)tt_writer_flush(w);
                if (round == 5)
                    tt__io_fail_at(0, 0);     /* storage works again */
            }
            (void)tt_writer_flush(w);
            tt_writer_stats(w, &st);
            close_rc = tt_writer_close(w);
            if (st.last_error)
                CHECK_EQ(close_rc, st.last_error);
            else
                CHECK(close_rc == 0 || close_rc == TT_EIO);   /* the END */

            rc = tt_reader_open(&r, path, 0);
            CHECK_OK(rc);
            CHECK(tt_reader_damage(r)->status == 0 ||
                  tt_reader_damage(r)->status == TT_ETRUNCATED);
            CHECK_EQ_U64(tt_reader_damage(r)->bytes_lost, 0); /* cut back */
            evlist_read(&got, r, 0);
            tt_reader_counts(r, counts, &dropped);
            /* every event is either in the file or counted as dropped */
            CHECK_EQ_U64(got.n - counts[TT_EV_DROPPED] + st.dropped, appended);
            CHECK(dropped <= st.dropped);
            if (st.dropped) {
                CHECK_EQ(close_rc, TT_EIO);
                saw_dropped_event += dropped == st.dropped;
            }
            if (!tt_reader_damage(r)->clean_end)
                saw_lost_end++;
            tt_reader_close(r);
            evlist_free(&got);
        }
    CHECK(saw_dropped_event > 5);
    CHECK(saw_lost_end < 10);
    tt__io_fail_at(0, 0);
    tt__tbuf_cap = 64 * 1024;
}
