/* test_damage.c - damaged, foreign and hostile files: truncation at every
 * byte, random bit flips (raw and with CRCs recomputed), a writer killed
 * after a flush, bad headers, and hand-made chunks and event streams that
 * break one rule each.
 */
#include "tt_test.h"
#include "tt_reader_int.h"

/* Chunk starts of a well-formed file, ending with its length. */
static size_t chunk_starts(const uint8_t *d, size_t len, size_t *out,
                           size_t max)
{
    size_t n = 0, off = TT__FILE_HEAD;
    while (off < len && n < max) {
        out[n++] = off;
        off += 20 + tt__get_le32(d + off + 8);
    }
    CHECK_EQ(off, len);
    CHECK(n < max);
    out[n++] = len;
    return n;
}

void test_truncate_every_offset(void)
{
    model m;
    const char *path = write_sample(&m);
    size_t len, starts[4096], ns, hdr_end;
    uint8_t *data = read_file(path, &len);
    uint64_t *events_before;   /* by chunk index: events in earlier chunks */
    tt_reader_t *r;
    evlist full = {0};

    ns = chunk_starts(data, len, starts, 4096);
    CHECK(ns > 12);
    hdr_end = starts[1];
    /* Events per chunk, counted from the reader's own index. */
    CHECK_OK(tt_reader_open_mem(&r, data, len, TT_READ_FILE));
    evlist_read(&full, r, 0);
    CHECK_EQ(full.n, m.exp.n);
    events_before = calloc(ns, sizeof *events_before);
    for (size_t i = 0, c = 0; i + 1 < ns; i++) {
        events_before[i + 1] = events_before[i];
        if (c < r->n_chunks && r->chunks[c].off == starts[i]) {
            CHECK_EQ(r->chunks[c].state, TT__CK_DONE);   /* open scanned */
            events_before[i + 1] += r->chunks[c].events;
            c++;
        }
    }
    CHECK_EQ_U64(events_before[ns - 1], full.n);
    tt_reader_close(r);

    for (size_t cut = 0; cut <= len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);   /* ASan sees overreads */
        size_t b = 0;
        int rc;
        evlist got = {0};

        memcpy(copy, data, cut);
        rc = tt_reader_open_mem(&r, copy, cut, TT_READ_FILE);
        if (cut < hdr_end) {
            CHECK_EQ(rc, TT_ETRUNCATED);
            CHECK(r == NULL);
            free(copy);
            continue;
        }
        CHECK_OK(rc);
        while (b + 1 < ns && starts[b + 1] <= cut)
            b++;
        /* starts[b] is the last chunk start at or before the cut */
        evlist_read(&got, r, 0);
        CHECK_EQ_U64(got.n, events_before[b]);
        for (size_t i = 0; i < got.n; i++)
            check_event(&got.ev[i], &full.ev[i], "truncated", i);
        if (cut == len) {
            CHECK_EQ(tt_reader_damage(r)->status, 0);
            CHECK_EQ(tt_reader_damage(r)->clean_end, 1);
        } else {
            CHECK_EQ(tt_reader_damage(r)->status, TT_ETRUNCATED);
            CHECK_EQ(tt_reader_damage(r)->clean_end, 0);
            CHECK_EQ_U64(tt_reader_damage(r)->offset, starts[b]);
            CHECK_EQ_U64(tt_reader_damage(r)->bytes_lost, cut - starts[b]);
            CHECK(strlen(tt_reader_damage(r)->reason) > 20);
        }
        /* last good tick per thread = tick of its last event read */
        for (uint32_t t = 0; t < tt_reader_n_threads(r); t++) {
            uint64_t last = 0, n = 0;
            for (size_t i = 0; i < got.n; i++)
                if (got.ev[i].thread == t) {
                    last = got.ev[i].tick;
                    n++;
                }
            CHECK_EQ_U64(tt_reader_thread(r, t)->events, n);
            if (n)
                CHECK_EQ_U64(tt_reader_thread(r, t)->last_tick, last);
        }
        tt_reader_close(r);
        evlist_free(&got);
        free(copy);
    }
    free(events_before);
    free(data);
    evlist_free(&full);
    evlist_free(&m.exp);
}

void test_bitflip_detected(void)
{
    model m;
    const char *path = write_sample(&m);
    size_t len;
    uint8_t *data = read_file(path, &len);
    uint64_t seed = 12345;

    for (int it = 0; it < 3000; it++) {
        uint8_t *copy = malloc(len);
        size_t pos = (size_t)(rnd_next(&seed) % len);
        int bit = (int)(rnd_next(&seed) % 8), rc;
        tt_reader_t *r;

        memcpy(copy, data, len);
        copy[pos] ^= (uint8_t)(1u << bit);
        (void)exercise_reader(copy, len);            /* traps on misbehaviour */
        rc = tt_reader_open_mem(&r, copy, len, 0);
        if (pos == 10 || pos == 11) {
            /* the minor version: any value is readable by design */
            CHECK_OK(rc);
            CHECK_EQ(tt_reader_damage(r)->status, 0);
        } else if (rc == 0) {
            /* CRC32C catches every single-bit error */
            if (tt_reader_damage(r)->status == 0)
                TT_TEST_FAIL("flip at byte %zu bit %d went unnoticed", pos, bit);
            CHECK(tt_reader_damage(r)->offset <= pos);
        } else {
            CHECK(rc == TT_ENOTTRACE || rc == TT_EVERSION || rc == TT_ECRC);
            CHECK(pos < 12 + 20 + 200);  /* only the head can be fatal */
        }
        tt_reader_close(r);
        free(copy);
    }
    free(data);
    evlist_free(&m.exp);
}

/* Recomputes every CRC it can, walking the (possibly wrong) chunk lengths. */
static void fix_crcs(uint8_t *d, size_t len)
{
    size_t off = TT__FILE_HEAD;
    while (off + 16 <= len) {
        uint32_t n = tt__get_le32(d + off + 8);
        tt__put_le32(d + off + 12, tt__crc32c(0, d + off, 12));
        if (n > len - off - 16 || len - off - 16 - n < 4)
            return;
        tt__put_le32(d + off + 16 + n, tt__crc32c(0, d + off + 16, n));
        off += 20 + (size_t)n;
    }
}

void test_bitflip_crc_fixed(void)
{
    model m;
    const char *path = write_sample(&m);
    size_t len;
    uint8_t *data = read_file(path, &len);
    uint64_t seed = 777;
    int opened = 0, damaged = 0;

    for (int it = 0; it < 4000; it++) {
        uint8_t *copy = malloc(len);
        int flips = 1 + (int)(rnd_next(&seed) % 4);
        tt_reader_t *r;

        memcpy(copy, data, len);
        for (int k = 0; k < flips; k++) {
            size_t pos = 12 + (size_t)(rnd_next(&seed) % (len - 12));
            copy[pos] ^= (uint8_t)(1u << (rnd_next(&seed) % 8));
        }
        fix_crcs(copy, len);
        if (exercise_reader(copy, len) == 0)
            opened++;
        if (tt_reader_open_mem(&r, copy, len, 0) == 0) {
            damaged += tt_reader_damage(r)->status != 0;
            tt_reader_close(r);
        }
        free(copy);
    }
    /* Validation, not just the CRC, caught a good share of them. */
    CHECK(opened > 1000);
    CHECK(damaged > 500);
    free(data);
    evlist_free(&m.exp);
}

void test_flush_then_kill(void)
{
    const char *path = tmp_path("killed.ttrace");
    const char *copy = tmp_path("killed-copy.ttrace");
    tt_code_def_t cd = {0};
    tt_writer_t *w;
    tt_tbuf_t *b;
    tt_reader_t *r;
    uint32_t s, c;
    size_t len, flushed_len;
    uint8_t *data;
    evlist got = {0};

    CHECK_OK(tt_writer_open(&w, path, test_header()));
    CHECK_OK(tt_writer_string(w, "f", 1, &s));
    cd.filename = cd.qualname = s;
    cd.parent = TT_NO_PARENT;
    CHECK_OK(tt_writer_code(w, &cd, &c));
    CHECK_OK(tt_writer_thread(w, 1, "main", &b));
    for (int i = 0; i < 1000; i++)
        tt_tbuf_line(b, 2000 + (uint64_t)i, c, i % 50);
    CHECK_OK(tt_writer_flush(w));
    data = read_file(path, &flushed_len);
    free(data);
    for (int i = 0; i < 500; i++)               /* after the flush: lost */
        tt_tbuf_line(b, 5000 + (uint64_t)i, c, 7);
    CHECK_OK(tt_writer_note(w, "late", "note"));
    data = read_file(path, &len);
    CHECK_EQ(len, flushed_len);                 /* nothing spilled since */
    write_file(copy, data, len);                /* "kill -9" now */
    free(data);
    CHECK_OK(tt_writer_close(w));

    CHECK_OK(tt_reader_open(&r, copy, 0));
    evlist_read(&got, r, 0);
    CHECK_EQ(got.n, 1000);
    CHECK_EQ_U64(got.ev[999].tick, 2000 + 999 - 1000);
    CHECK_EQ(got.ev[999].line, 999 % 50);
    CHECK_EQ(tt_reader_damage(r)->status, TT_ETRUNCATED);
    CHECK_EQ(tt_reader_damage(r)->clean_end, 0);
    CHECK_EQ_U64(tt_reader_damage(r)->offset, len);
    CHECK_EQ_U64(tt_reader_damage(r)->bytes_lost, 0);
    CHECK(strstr(tt_reader_damage(r)->reason, "no end-of-recording") != NULL);
    CHECK_EQ_U64(tt_reader_thread(r, 0)->last_tick, 999 + 1000);
    CHECK_EQ(tt_reader_n_notes(r), 0);
    tt_reader_close(r);
    evlist_free(&got);

    CHECK_OK(tt_reader_open(&r, path, 0));       /* the closed original */
    CHECK_EQ(tt_reader_damage(r)->status, 0);
    CHECK_EQ(tt_reader_damage(r)->clean_end, 1);
    CHECK_EQ_U64(tt_reader_thread(r, 0)->events, 1500);
    CHECK_EQ(tt_reader_n_notes(r), 1);
    tt_reader_close(r);
}

/* ------------------------------------------------- hand-made recordings */

typedef struct {
    uint8_t d[8192];
    size_t n;
} fbuf;

/* The file head and HEADER chunk of a real recording. */
static void fb_head(fbuf *f)
{
    const char *path = tmp_path("head.ttrace");
    tt_writer_t *w;
    size_t len;
    uint8_t *data;

    CHECK_OK(tt_writer_open(&w, path, test_header()));
    CHECK_OK(tt_writer_close(w));
    data = read_file(path, &len);
    f->n = 12 + 20 + tt__get_le32(data + 12 + 8);
    memcpy(f->d, data, f->n);
    free(data);
}

static void fb_chunk(fbuf *f, uint8_t type, uint32_t thread, const void *p,
                     size_t len)
{
    CHECK(f->n + len + 20 <= sizeof f->d);
    f->n += frame_chunk(f->d + f->n, type, thread, p, len);
}

/* DEFS: strings "f.py" (0) and "f" (1), code 0 (firstline 10), type 0
 * (basicsize 32), thread 0. */
static void fb_defs(fbuf *f)
{
    static const uint8_t defs[] = {
        0x01, 4, 'f', '.', 'p', 'y',
        0x01, 1, 'f',
        0x02, 6, 0, 1, 20, 1, 0, 0,        /* code: zz(10)=20, no parent */
        0x03, 3, 1, 32, 0,                 /* type */
        0x04, 3, 0, 7, 'm',                /* thread 0, ident 7, "m" */
        0x85, 2, 0xaa, 0xbb,               /* ancillary record: skipped */
    };
    fb_chunk(f, TT__CH_DEFS, TT__NO_THREAD, defs, sizeof defs);
}

static void fb_end(fbuf *f, uint64_t events)
{
    uint8_t p[20], *q = tt__put_varint(p, events);
    q = tt__put_varint(q, 0);
    fb_chunk(f, TT__CH_END, TT__NO_THREAD, p, (size_t)(q - p));
}

/* Events: base tick 0; CALL code 0 line 10 (explicit code); LINE 11. */
static const uint8_t ev_ok[] = {0, 0x0c, 5, 1, 0x80 | 33, 2};

static tt_reader_t *open_fb(const fbuf *f, unsigned flags)
{
    tt_reader_t *r;
    CHECK_OK(tt_reader_open_mem(&r, f->d, f->n, flags));
    CHECK_EQ(exercise_reader(f->d, f->n), 0);
    return r;
}

void test_foreign_and_bad_headers(void)
{
    tt_reader_t *r = (tt_reader_t *)&r;
    fbuf f;
    uint8_t buf[64];

    CHECK_EQ(tt_reader_open_mem(&r, (const uint8_t *)"", 0, 0), TT_ETRUNCATED);
    CHECK(r == NULL);
    CHECK_EQ(tt_reader_open_mem(&r, (const uint8_t *)"hello, world", 12, 0),
             TT_ENOTTRACE);
    CHECK_EQ(tt_reader_open_mem(&r, (const uint8_t *)"\x7f" "ELF\2\1\1", 7, 0),
             TT_ENOTTRACE);
    CHECK_EQ(tt_reader_open_mem(&r, (const uint8_t *)"\x89TTR", 4, 0),
             TT_ETRUNCATED);
    CHECK_EQ(tt_reader_open_mem(&r, (const uint8_t *)"\x89TTRACE\n\1", 9, 0),
             TT_ETRUNCATED);
    fb_head(&f);
    memcpy(buf, f.d, 12);
    CHECK_EQ(tt_reader_open_mem(&r, buf, 12, 0), TT_ETRUNCATED);
    buf[8] = 2;                                  /* major version 2 */
    CHECK_EQ(tt_reader_open_mem(&r, buf, 12, 0), TT_EVERSION);
    buf[8] = 0;
    CHECK_EQ(tt_reader_open_mem(&r, buf, 12, 0), TT_EVERSION);
    buf[8] = 1;
    buf[10] = 9;                                 /* minor 9: fine */
    memcpy(f.d, buf, 12);
    r = open_fb(&f, 0);
    CHECK_EQ(tt_reader_damage(r)->status, TT_ETRUNCATED);   /* no END */
    tt_reader_close(r);

    /* HEADER chunk broken in various ways: nothing is usable. */
    fb_head(&f);
    f.d[12 + 16 + 3] ^= 1;                       /* payload: CRC */
    CHECK_EQ(tt_reader_open_mem(&r, f.d, f.n, 0), TT_ECRC);
    fb_head(&f);
    f.d[12 + 13] ^= 1;                           /* header CRC */
    CHECK_EQ(tt_reader_open_mem(&r, f.d, f.n, 0), TT_ECRC);
    {
        fbuf g;
        memcpy(g.d, f.d, 12);
        g.n = 12;
        fb_defs(&g);                             /* first chunk not HEADER */
        CHECK_EQ(tt_reader_open_mem(&r, g.d, g.n, 0), TT_ECORRUPT);
        g.n = 12;
        fb_chunk(&g, TT__CH_HEADER, TT__NO_THREAD, "\5ab", 3);  /* garbage */
        CHECK_EQ(tt_reader_open_mem(&r, g.d, g.n, 0), TT_ECORRUPT);
        /* argc claims 2^32-1 strings: refused before allocating */
        static const uint8_t argc_huge[] = {0, 0, 0, 0xff, 0xff, 0xff, 0xff,
                                            0x0f};
        g.n = 12;
        fb_chunk(&g, TT__CH_HEADER, TT__NO_THREAD, argc_huge, sizeof argc_huge);
        tt__alloc_fail_at(0, 0);
        CHECK_EQ(tt_reader_open_mem(&r, g.d, g.n, 0), TT_ECORRUPT);
        CHECK(tt__alloc_count() < 10);
        /* clock_hz zero */
        static const uint8_t hz0[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        g.n = 12;
        fb_chunk(&g, TT__CH_HEADER, TT__NO_THREAD, hz0, sizeof hz0);
        CHECK_EQ(tt_reader_open_mem(&r, g.d, g.n, 0), TT_ECORRUPT);
        /* the smallest valid header: all empty, hz 1; trailing bytes ok */
        static const uint8_t tiny[] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 9};
        g.n = 12;
        fb_chunk(&g, TT__CH_HEADER, TT__NO_THREAD, tiny, sizeof tiny);
        fb_end(&g, 0);
        r = open_fb(&g, 0);
        CHECK_EQ(tt_reader_damage(r)->status, 0);
        CHECK_EQ(tt_reader_damage(r)->clean_end, 1);
        CHECK_STR(tt_reader_header(r)->python_impl, "");
        CHECK_EQ_U64(tt_reader_header(r)->clock_hz, 1);
        tt_reader_close(r);
    }
}

void test_crafted_chunks(void)
{
    fbuf f;
    tt_reader_t *r;
    evlist got = {0};
    size_t at;

    /* ancillary chunk and record: skipped, file clean */
    fb_head(&f);
    fb_defs(&f);
    fb_chunk(&f, 0x80, 5, "future", 6);
    fb_chunk(&f, TT__CH_EVENTS, 0, ev_ok, sizeof ev_ok);
    fb_chunk(&f, 0xfe, TT__NO_THREAD, "", 0);
    fb_end(&f, 2);
    r = open_fb(&f, 0);
    CHECK_EQ(tt_reader_damage(r)->status, 0);
    CHECK_EQ(tt_reader_damage(r)->clean_end, 1);
    evlist_read(&got, r, 0);
    CHECK_EQ(got.n, 2);
    CHECK_EQ(got.ev[0].kind, TT_EV_CALL);
    CHECK_EQ(got.ev[0].code, 0);
    CHECK_EQ(got.ev[0].line, 10);
    CHECK_EQ_U64(got.ev[0].tick, 5);
    CHECK_EQ(got.ev[1].kind, TT_EV_LINE);
    CHECK_EQ(got.ev[1].line, 11);
    CHECK_EQ_U64(got.ev[1].tick, 7);
    CHECK_STR(tt_reader_thread(r, 0)->name, "m");
    tt_reader_close(r);
    evlist_free(&got);

    /* unknown required chunk type: reading stops there */
    fb_head(&f);
    fb_defs(&f);
    fb_chunk(&f, TT__CH_EVENTS, 0, ev_ok, sizeof ev_ok);
    at = f.n;
    fb_chunk(&f, 0x05, TT__NO_THREAD, "x", 1);
    fb_chunk(&f, TT__CH_EVENTS, 0, ev_ok, sizeof ev_ok);
    fb_end(&f, 4);
    r = open_fb(&f, 0);
    CHECK_EQ(tt_reader_damage(r)->status, TT_ECORRUPT);
    CHECK_EQ_U64(tt_reader_damage(r)->offset, at);
    CHECK_EQ_U64(tt_reader_damage(r)->bytes_lost, f.n - at);
    CHECK_EQ(tt_reader_damage(r)->clean_end, 0);
    CHECK(strstr(tt_reader_damage(r)->reason, "0x05") != NULL);
    CHECK_EQ_U64(tt_reader_thread(r, 0)->events, 2);
    tt_reader_close(r);

    /* events of an undefined thread: that chunk skipped, the rest read */
    fb_head(&f);
    fb_defs(&f);
    at = f.n;
    fb_chunk(&f, TT__CH_EVENTS, 3, ev_ok, sizeof ev_ok);
    fb_chunk(&f, TT__CH_EVENTS, 0, ev_ok, sizeof ev_ok);
    fb_end(&f, 2);
    r = open_fb(&f, 0);
    CHECK_EQ(tt_reader_damage(r)->status, TT_ECORRUPT);
    CHECK_EQ_U64(tt_reader_damage(r)->offset, at);
    CHECK_EQ_U64(tt_reader_damage(r)->bytes_lost, 20 + sizeof ev_ok);
    CHECK_EQ(tt_reader_damage(r)->clean_end, 1);
    CHECK_EQ_U64(tt_reader_thread(r, 0)->events, 2);
    tt_reader_close(r);

    /* bytes after END; END counting wrong; second HEADER; reserved bits;
     * huge length; a non-event chunk naming a thread */
    fb_head(&f);
    fb_defs(&f);
    fb_end(&f, 0);
    at = f.n;
    memcpy(f.d + f.n, "junk", 4);
    f.n += 4;
    r = open_fb(&f, 0);
    CHECK_EQ(tt_reader_damage(r)->status, TT_ECORRUPT);
    CHECK_EQ_U64(tt_reader_damage(r)->offset, at);
    CHECK_EQ_U64(tt_reader_damage(r)->bytes_lost, 4);
    CHECK_EQ(tt_reader_damage(r)->clean_end, 1);
    tt_reader_close(r);

    fb_head(&f);
    fb_defs(&f);
    fb_end(&f, 5);
    r = open_fb(&f, 0);
    CHECK_EQ(tt_reader_damage(r)->status, TT_ECORRUPT);
    CHECK(strstr(tt_reader_damage(r)->reason, "counts 5 events") != NULL);
    tt_reader_close(r);

    fb_head(&f);
    at = f.n;
    memcpy(f.d + f.n, f.d + 12, at - 12);        /* the header again */
    f.n += at - 12;
    r = open_fb(&f, 0);
    CHECK_EQ(tt_reader_damage(r)->status, TT_ECORRUPT);
    CHECK_EQ_U64(tt_reader_damage(r)->offset, at);
    tt_reader_close(r);

    fb_head(&f);
    at = f.n;
    fb_defs(&f);
    f.d[at + 1] = 1;                             /* reserved flags */
    tt__put_le32(f.d + at + 12, tt__crc32c(0, f.d + at, 12));
    r = open_fb(&f, 0);
    CHECK_EQ(tt_reader_damage(r)->status, TT_ECORRUPT);
    CHECK_EQ_U64(tt_reader_damage(r)->offset, at);
    tt_reader_close(r);

    fb_head(&f);
    at = f.n;
    fb_chunk(&f, TT__CH_DEFS, 0, "", 0);         /* defs with a thread */
    r = open_fb(&f, 0);
    CHECK_EQ(tt_reader_damage(r)->status, TT_ECORRUPT);
    tt_reader_close(r);

    fb_head(&f);
    at = f.n;
    fb_defs(&f);
    tt__put_le32(f.d + at + 8, 0x7fffffff);      /* length beyond the limit */
    tt__put_le32(f.d + at + 12, tt__crc32c(0, f.d + at, 12));
    r = open_fb(&f, 0);
    CHECK_EQ(tt_reader_damage(r)->status, TT_ECORRUPT);
    CHECK_EQ_U64(tt_reader_damage(r)->bytes_lost, f.n - at);
    tt_reader_close(r);

    fb_head(&f);
    at = f.n;
    fb_defs(&f);
    tt__put_le32(f.d + at + 8, 5000);            /* length beyond the file */
    tt__put_le32(f.d + at + 12, tt__crc32c(0, f.d + at, 12));
    r = open_fb(&f, 0);
    CHECK_EQ(tt_reader_damage(r)->status, TT_ETRUNCATED);
    CHECK_EQ_U64(tt_reader_damage(r)->offset, at);
    tt_reader_close(r);

    /* definition records breaking rules */
    {
        static const struct {
            const char *what;
            uint8_t rec[24];
            size_t n;
        } bad[] = {
            {"unknown required kind", {0x7f, 1, 0}, 3},
            {"length past the chunk", {0x01, 9, 'a'}, 3},
            {"code names undefined string", {0x02, 6, 9, 0, 0, 0, 0, 0}, 8},
            {"code parent undefined", {0x02, 6, 0, 0, 0, 0, 5, 0}, 8},
            {"code ranges beyond the record", {0x02, 7, 0, 0, 0, 0, 0, 9, 0}, 9},
            {"line-table row beyond 2^32",
             {0x02, 16, 0, 0, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0,
              1, 0, 0}, 18},
            {"type names undefined string", {0x03, 3, 9, 0, 0}, 5},
            {"thread out of sequence", {0x04, 2, 1, 0}, 4},
            {"thread-name of undefined thread", {0x05, 2, 4, 'x'}, 4},
            {"note key past record", {0x06, 2, 5, 'k'}, 4},
            {"firstlineno beyond int32", {0x02, 10, 0, 0, 0xff, 0xff, 0xff,
                                          0xff, 0x7f, 0, 0, 0}, 12},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            uint8_t p[64];
            static const uint8_t str[] = {0x01, 1, 's'};
            memcpy(p, str, 3);
            memcpy(p + 3, bad[i].rec, bad[i].n);
            fb_head(&f);
            at = f.n;
            fb_chunk(&f, TT__CH_DEFS, TT__NO_THREAD, p, 3 + bad[i].n);
            fb_end(&f, 0);
            r = open_fb(&f, 0);
            if (tt_reader_damage(r)->status != TT_ECORRUPT)
                TT_TEST_FAIL("defs case '%s' not caught", bad[i].what);
            CHECK_EQ_U64(tt_reader_damage(r)->offset, at + 16 + 3);
            CHECK_EQ(tt_reader_damage(r)->clean_end, 1);   /* the rest of that chunk is lost, not the file */
            CHECK_EQ_U64(tt_reader_damage(r)->chunks_lost, 1);
            CHECK_STR(tt_reader_string(r, 0), "s");   /* earlier ones kept */
            tt_reader_close(r);
        }
    }
}

/* One malformed event stream per case, between two good chunks. */
void test_crafted_events(void)
{
    static const struct {
        const char *what;
        uint8_t ev[24];
        size_t n;
        int good_events;      /* decodable before the bad one */
    } bad[] = {
        {"empty chunk (no base tick)", {0}, 0, 0},
        {"overlong tick varint", {0, 0x80, 0x80, 0x00}, 4, 0},
        {"tick varint cut short", {0, 0x80, 0x85}, 3, 0},
        {"code id undefined", {0, 0x0c, 1, 3}, 4, 0},
        {"code id above 32 bits", {0, 0x0c, 1, 0xff, 0xff, 0xff, 0xff, 0x1f}, 8, 0},
        {"line mode 3", {0, 0x0f, 1, 1}, 4, 0},
        {"tick overflow", {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                           0xff, 0x01, 0x80, 2}, 12, 0},
        {"short-form line below int32",
         {0, 0x0e, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x80, 1}, 11, 1},
        {"explicit line beyond int32", {0, 0x0e, 1, 1, 0xfe, 0xff, 0xff, 0xff,
                                         0x1f}, 9, 0},
        {"exception string undefined", {0, 0x3c, 1, 1, 7}, 5, 0},
        {"opcode cut short", {0, 0x4c, 1, 1}, 4, 0},
        {"opcode offset below 0", {0, 0x4c, 1, 1, 9, 7}, 6, 0},
        {"create reserved flags", {0, 0x5c, 1, 1, 0x10, 0}, 6, 0},
        {"create type undefined", {0, 0x5c, 1, 1, 0x00, 4, 0, 0}, 8, 0},
        {"destroy reserved bits", {0, 0x62, 1, 0}, 4, 0},
        {"dropped count zero", {0, 0x70, 1, 0}, 4, 0},
        {"dropped reserved bits", {0, 0x71, 1, 3}, 4, 0},
        {"address varint cut short", {0, 0x60, 1, 0xff}, 4, 0},
    };
    fbuf f;
    tt_reader_t *r;
    evlist got = {0};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t at;
        int errs;
        for (int mode = 0; mode < 2; mode++) {
            fb_head(&f);
            fb_defs(&f);
            fb_chunk(&f, TT__CH_EVENTS, 0, ev_ok, sizeof ev_ok);
            at = f.n;
            {   /* base tick 7: where ev_ok left the thread */
                uint8_t p[24];
                memcpy(p, bad[i].ev, bad[i].n);
                if (bad[i].n && p[0] == 0)
                    p[0] = 7;
                fb_chunk(&f, TT__CH_EVENTS, 0, p, bad[i].n);
            }
            {   /* a later chunk of the same thread, later ticks */
                static const uint8_t later[] = {0xff, 0xff, 0xff, 0xff, 0x0f,
                                                0x0c, 0, 1};
                fb_chunk(&f, TT__CH_EVENTS, 0, later, sizeof later);
            }
            fb_end(&f, 3);
            r = open_fb(&f, mode ? TT_READ_FILE : TT_READ_MERGED);
            if (tt_reader_damage(r)->status != TT_ECORRUPT)
                TT_TEST_FAIL("event case '%s' not caught (status %d)",
                             bad[i].what, tt_reader_damage(r)->status);
            CHECK(tt_reader_damage(r)->offset >= at + 16);
            CHECK(tt_reader_damage(r)->offset < at + 16 + bad[i].n + 1);
            CHECK_EQ(tt_reader_damage(r)->clean_end, 1);
            errs = evlist_read(&got, r, 1);
            if (errs != 1 || got.n != 2 + (size_t)bad[i].good_events + 1)
                TT_TEST_FAIL("event case '%s': %d errors, %zu events",
                             bad[i].what, errs, got.n);
            CHECK_EQ(got.ev[got.n - 1].kind, TT_EV_CALL);
            CHECK_EQ_U64(got.ev[got.n - 1].tick, 0xffffffffu);
            CHECK_EQ_U64(tt_reader_thread(r, 0)->last_tick, 0xffffffffu);
            tt_reader_close(r);
            evlist_free(&got);
        }
    }

    /* ids used before their definition: code 1 defined after its use */
    fb_head(&f);
    fb_defs(&f);
    {
        static const uint8_t use1[] = {0, 0x0c, 1, 2};
        static const uint8_t def1[] = {0x02, 6, 0, 1, 0, 0, 0, 0};
        fb_chunk(&f, TT__CH_EVENTS, 0, use1, sizeof use1);
        fb_chunk(&f, TT__CH_DEFS, TT__NO_THREAD, def1, sizeof def1);
        fb_chunk(&f, TT__CH_EVENTS, 0, use1, sizeof use1);
    }
    fb_end(&f, 1);
    r = open_fb(&f, 0);
    CHECK_EQ(tt_reader_damage(r)->status, TT_ECORRUPT);
    CHECK(strstr(tt_reader_damage(r)->reason, "not defined before") != NULL);
    CHECK_EQ_U64(tt_reader_thread(r, 0)->events, 1);   /* the second use */
    tt_reader_close(r);

    /* two malformed chunks: each reported once, in both orders */
    for (int mode = 0; mode < 2; mode++) {
        static const uint8_t bad1[] = {9, 0x0f, 1, 1};       /* line mode 3 */
        int errs;
        fb_head(&f);
        fb_defs(&f);
        fb_chunk(&f, TT__CH_EVENTS, 0, ev_ok, sizeof ev_ok);
        fb_chunk(&f, TT__CH_EVENTS, 0, bad1, sizeof bad1);
        fb_chunk(&f, TT__CH_EVENTS, 0, bad1, sizeof bad1);
        fb_chunk(&f, TT__CH_EVENTS, 0, ev_ok + 0, 0);        /* empty */
        fb_end(&f, 2);
        r = open_fb(&f, mode ? TT_READ_FILE : TT_READ_MERGED);
        errs = evlist_read(&got, r, 1);
        CHECK_EQ(errs, 3);
        CHECK_EQ(got.n, 2);
        CHECK(strstr(tt_reader_damage(r)->reason, "(3 problems in all)"));
        tt_reader_close(r);
        evlist_free(&got);
    }

    /* a chunk whose base tick goes back before the previous chunk's end */
    fb_head(&f);
    fb_defs(&f);
    {
        static const uint8_t a[] = {100, 0x0c, 0, 1};
        static const uint8_t b[] = {50, 0x0c, 0, 1};
        fb_chunk(&f, TT__CH_EVENTS, 0, a, sizeof a);
        fb_chunk(&f, TT__CH_EVENTS, 0, b, sizeof b);
    }
    fb_end(&f, 1);
    r = open_fb(&f, 0);
    CHECK_EQ(tt_reader_damage(r)->status, TT_ECORRUPT);
    CHECK(strstr(tt_reader_damage(r)->reason, "base tick") != NULL);
    tt_reader_close(r);
}
