/* test_timeline.c - the protobuf encoder (tt_pb.h) against bytes worked
 * out by hand from the protobuf encoding rules, and the timeline exporter
 * (tt_timeline_write) on the sample recording: its Perfetto output walked
 * with the strict varint reader (balanced slices per track, ids interned
 * before use, every call a slice), its Chrome JSON counted, allocation
 * and write failures.
 */
#include "tt_test.h"
#include "tt_pb.h"
#include "tt_varint.h"

static void check_bytes(const tt_pb_t *pb, const uint8_t *want, size_t n)
{
    CHECK_EQ(pb->err, 0);
    CHECK_EQ(pb->len, n);
    for (size_t i = 0; i < n; i++)
        if (pb->buf[i] != want[i])
            TT_TEST_FAIL("byte %zu: %02x != %02x", i, pb->buf[i], want[i]);
}

void test_pb_varints(void)
{
    tt_pb_t pb;
    static const uint8_t want[] = {
        0x08, 0x00,                               /* 1: 0 */
        0x08, 0x7f,                               /* 1: 127 */
        0x08, 0x80, 0x01,                         /* 1: 128 */
        0x10, 0xac, 0x02,                         /* 2: 300 */
        0x78, 0x01,                               /* 15: 1 */
        0x80, 0x01, 0x05,                         /* 16: 5 (two-byte tag) */
        0xb8, 0x05, 0x01,                         /* 87: 1 */
        0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
    };
    memset(&pb, 0, sizeof pb);
    tt__pb_varint(&pb, 1, 0);
    tt__pb_varint(&pb, 1, 127);
    tt__pb_varint(&pb, 1, 128);
    tt__pb_varint(&pb, 2, 300);
    tt__pb_varint(&pb, 15, 1);
    tt__pb_varint(&pb, 16, 5);
    tt__pb_varint(&pb, 87, 1);
    tt__pb_varint(&pb, 1, UINT64_MAX);      /* also int64 -1 */
    check_bytes(&pb, want, sizeof want);
    CHECK_EQ(tt__pb_varint_len(0), 1);
    CHECK_EQ(tt__pb_varint_len(127), 1);
    CHECK_EQ(tt__pb_varint_len(128), 2);
    CHECK_EQ(tt__pb_varint_len(UINT64_MAX), 10);
    tt__pb_free(&pb);
}

void test_pb_length_delimited(void)
{
    tt_pb_t pb;
    uint8_t big[300], want[400];
    size_t n = 0;
    static const uint8_t small[] = {
        0x12, 0x03, 'a', 'b', 'c',                /* 2: "abc" */
        0x1a, 0x00,                               /* 3: "" */
        0xe2, 0x03, 0x04,                         /* 60: { */
        0x08, 0x07,                               /*   1: 7 */
        0x22, 0x00,                               /*   4: {} */
    };                                            /* } */
    memset(&pb, 0, sizeof pb);
    tt__pb_str(&pb, 2, "abc");
    tt__pb_str(&pb, 3, NULL);
    tt__pb_begin(&pb, 60);
    tt__pb_varint(&pb, 1, 7);
    tt__pb_begin(&pb, 4);
    tt__pb_end(&pb);
    tt__pb_end(&pb);
    check_bytes(&pb, small, sizeof small);

    /* A body of 300 + 3 bytes needs a two-byte length: the body moves. */
    tt__pb_reset(&pb);
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)i;
    tt__pb_begin(&pb, 1);
    tt__pb_begin(&pb, 2);
    tt__pb_bytes(&pb, 3, big, sizeof big);
    tt__pb_end(&pb);
    tt__pb_end(&pb);
    want[n++] = 0x0a;                   /* 1: len 306 = 0xb2 0x02 */
    want[n++] = 0xb2;
    want[n++] = 0x02;
    want[n++] = 0x12;                   /* 2: len 303 = 0xaf 0x02 */
    want[n++] = 0xaf;
    want[n++] = 0x02;
    want[n++] = 0x1a;                   /* 3: len 300 = 0xac 0x02 */
    want[n++] = 0xac;
    want[n++] = 0x02;
    memcpy(want + n, big, sizeof big);
    n += sizeof big;
    check_bytes(&pb, want, n);

    /* Too deep, and an end without a begin, are errors, not overflows. */
    tt__pb_reset(&pb);
    for (int i = 0; i <= TT_PB_DEPTH; i++)
        tt__pb_begin(&pb, 1);
    CHECK_EQ(pb.err, TT_ELIMIT);
    memset(&pb.err, 0, sizeof pb.err);
    tt__pb_reset(&pb);
    tt__pb_end(&pb);
    CHECK_EQ(pb.err, TT_ELIMIT);
    tt__pb_free(&pb);

    /* A failed allocation is sticky and leaves the buffer alone. */
    tt__alloc_fail_at(1, 1);
    tt__pb_str(&pb, 1, "x");
    tt__alloc_fail_at(0, 0);
    CHECK_EQ(pb.err, TT_ENOMEM);
    CHECK_EQ(pb.len, 0);
    tt__pb_free(&pb);
}

/* ------------------------------------------------ the Perfetto output */

typedef struct {
    uint64_t begins, ends, instants, counters, packets;
    uint64_t depth[8];                 /* per thread track */
    int names_defined[64];             /* per sequence 0..7: bit per iid */
} walk_t;

/* Reads one field's tag and, for LEN, its body. 0 at the end. */
static int field(const uint8_t **p, const uint8_t *end, uint32_t *num,
                 uint64_t *v, const uint8_t **body)
{
    uint64_t tag;
    if (*p >= end)
        return 0;
    CHECK_OK(tt__get_varint(p, end, &tag));
    *num = (uint32_t)(tag >> 3);
    CHECK((tag & 7) == 0 || (tag & 7) == 2);
    CHECK_OK(tt__get_varint(p, end, v));
    if ((tag & 7) == 2) {
        CHECK(*v <= (uint64_t)(end - *p));
        *body = *p;
        *p += *v;
    } else {
        *body = NULL;
    }
    return 1;
}

/* The iids of InternedData.event_names in [p, end) into *mask. */
static void interned_names(const uint8_t *p, const uint8_t *end, int *mask)
{
    uint32_t num, n2;
    uint64_t v, v2;
    const uint8_t *b, *b2;
    while (field(&p, end, &num, &v, &b))
        if (num == 2) {                       /* event_names: EventName */
            const uint8_t *q = b;
            while (field(&q, b + v, &n2, &v2, &b2))
                if (n2 == 1)
                    *mask |= 1 << v2;
        }
}

static void walk_packet(walk_t *w, const uint8_t *p, const uint8_t *end)
{
    uint32_t num, n2, type = 0, name_iid = 0;
    uint64_t v, v2, seq = 0, track = 0;
    const uint8_t *b, *b2, *te = NULL;
    uint64_t te_len = 0;
    while (field(&p, end, &num, &v, &b)) {
        if (num == 10)
            seq = v;
        else if (num == 12) {
            CHECK(seq > 0 && seq < 8);        /* seq id comes first */
            interned_names(b, b + v, &w->names_defined[seq]);
        } else if (num == 11) {
            te = b;
            te_len = v;
        }
    }
    w->packets++;
    if (te == NULL)
        return;
    p = te;
    while (field(&p, te + te_len, &n2, &v2, &b2)) {
        if (n2 == 9)
            type = (uint32_t)v2;
        else if (n2 == 11)
            track = v2;
        else if (n2 == 10)
            name_iid = (uint32_t)v2;
    }
    if (name_iid)
        CHECK(w->names_defined[seq] >> name_iid & 1);
    if (type == 4) {
        w->counters++;
        return;
    }
    if (type == 3) {
        w->instants++;
        return;
    }
    CHECK(track >= 2 && track < 10);            /* thread i: uuid i + 2 */
    CHECK_EQ(seq, track);                       /* on its own sequence */
    if (type == 1) {
        w->begins++;
        w->depth[track - 2]++;
    } else {
        CHECK_EQ(type, 2);
        CHECK(w->depth[track - 2] > 0);
        w->ends++;
        w->depth[track - 2]--;
    }
}

static void export_file(const char *src, const char *dst, int format,
                        unsigned flags, tt_timeline_stats_t *st)
{
    tt_reader_t *r;
    tt_timeline_opts_t o;
    FILE *f = fopen(dst, "wb");
    CHECK(f != NULL);
    memset(&o, 0, sizeof o);
    o.format = format;
    o.flags = flags;
    o.top_types = 3;
    CHECK_OK(tt_reader_open(&r, src, 0));
    CHECK_OK(tt_timeline_write(r, f, &o, st));
    fclose(f);
    tt_reader_close(r);
}

void test_timeline_perfetto(void)
{
    model m;
    const char *src = write_sample(&m), *dst = tmp_path("t.pftrace");
    tt_timeline_stats_t st;
    walk_t w;
    size_t len;
    uint8_t *d;
    const uint8_t *p, *b;
    uint32_t num;
    uint64_t v;

    for (unsigned flags = 0; flags <= TT_TIMELINE_LINES; flags++) {
        export_file(src, dst, TT_TIMELINE_PERFETTO, flags, &st);
        d = read_file(dst, &len);
        memset(&w, 0, sizeof w);
        p = d;
        while (field(&p, d + len, &num, &v, &b)) {
            CHECK_EQ(num, 1);                     /* Trace.packet */
            walk_packet(&w, b, b + v);
        }
        /* write_sample: 3 threads x 40 x (f, g), 8 exceptions each;
         * lines: f 11, g 21, f 12 per round. */
        CHECK_EQ(w.begins, flags ? 3 * 40 * 5 : 3 * 40 * 2);
        CHECK_EQ(w.begins, st.slices);
        CHECK_EQ(w.ends, w.begins);
        for (int i = 0; i < 8; i++)
            CHECK_EQ(w.depth[i], 0);
        CHECK_EQ(w.instants, 3 * 8);
        CHECK(w.counters > 0);
        CHECK_EQ(w.counters, st.counter_values);
        CHECK_EQ(st.open_at_end, 0);
        CHECK_EQ(st.truncated, 0);
        free(d);
    }
    evlist_free(&m.exp);
}

static size_t count_str(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *s = hay; (s = strstr(s, needle)) != NULL; s++)
        n++;
    return n;
}

void test_timeline_chrome(void)
{
    model m;
    const char *src = write_sample(&m), *dst = tmp_path("t.json");
    tt_timeline_stats_t st;
    size_t len;
    char *d;

    export_file(src, dst, TT_TIMELINE_CHROME, 0, &st);
    d = (char *)read_file(dst, &len);
    d = realloc(d, len + 1);
    d[len] = '\0';
    CHECK_EQ(count_str(d, "\"ph\":\"B\""), 3 * 40 * 2);
    CHECK_EQ(count_str(d, "\"ph\":\"E\""), 3 * 40 * 2);
    CHECK_EQ(count_str(d, "\"ph\":\"i\""), 3 * 8);
    CHECK_EQ(count_str(d, "\"name\":\"thread_name\""), 3);
    CHECK(strstr(d, "{\"name\":\"renamed\"}") != NULL);
    CHECK(strstr(d, "\"name\":\"app.py --flag \"") != NULL);
    CHECK(strstr(d, "\"ts\":0.007,") != NULL);  /* 7 ns after the start */
    CHECK_EQ(d[len - 2], '}');
    free(d);
    evlist_free(&m.exp);
}

/* The Perfetto file at path: every begin ends on its track, `slices`
 * of them, and `mark` is there. */
static void check_balanced(const char *path, uint64_t slices,
                           const char *mark)
{
    walk_t w;
    size_t len;
    uint8_t *d = read_file(path, &len);
    const uint8_t *p = d, *b;
    uint32_t num;
    uint64_t v;

    memset(&w, 0, sizeof w);
    while (field(&p, d + len, &num, &v, &b))
        walk_packet(&w, b, b + v);
    CHECK_EQ(w.begins, slices);
    CHECK_EQ(w.ends, w.begins);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(w.depth[i], 0);
    CHECK(memmem(d, len, mark, strlen(mark)) != NULL);
    free(d);
}

/* A recording cut before its end: open slices close at the thread's last
 * event and the cut is marked; a damaged one likewise. */
void test_timeline_cut(void)
{
    model m;
    const char *src = write_sample(&m), *cut = tmp_path("cut.ttrace");
    const char *dst = tmp_path("cut.pftrace");
    tt_timeline_stats_t st;
    size_t len;
    uint8_t *d = read_file(src, &len);

    write_file(cut, d, len * 2 / 3);
    evlist_free(&m.exp);
    export_file(cut, dst, TT_TIMELINE_PERFETTO, 0, &st);
    CHECK_EQ(st.truncated, 1);
    CHECK(st.slices > 0);
    CHECK(st.instants >= 1);
    check_balanced(dst, st.slices, "recording cut");

    /* Damage in the middle (a flipped byte): the chunk is lost, the rest
     * exports, balanced, and the end says "damaged". */
    d[len / 2] ^= 0x40;
    write_file(cut, d, len);
    free(d);
    export_file(cut, dst, TT_TIMELINE_PERFETTO, 0, &st);
    CHECK_EQ(st.truncated, 1);
    check_balanced(dst, st.slices, "recording damaged");
}

void test_timeline_failures(void)
{
    model m;
    const char *src = write_sample(&m);
    tt_timeline_opts_t o;
    tt_reader_t *r;
    long total;
    FILE *f;

    evlist_free(&m.exp);

    memset(&o, 0, sizeof o);
    o.format = TT_TIMELINE_PERFETTO;
    o.flags = TT_TIMELINE_LINES;
    o.top_types = 2;
    CHECK_OK(tt_reader_open(&r, src, 0));
    f = fopen("/dev/null", "wb");
    CHECK(f != NULL);
    CHECK_OK(tt_timeline_write(r, f, &o, NULL));   /* warm the reader */
    tt__alloc_fail_at(INT32_MAX, 0);
    CHECK_OK(tt_timeline_write(r, f, &o, NULL));
    total = tt__alloc_count();
    tt__alloc_fail_at(0, 0);
    CHECK(total > 3);
    for (long n = 1; n <= total; n++) {
        /* A fresh, warmed reader each time: a failure may leave the
         * reader's caches (chunk buffers) to be allocated again. */
        tt_reader_t *r2;
        int rc;
        CHECK_OK(tt_reader_open(&r2, src, 0));
        CHECK_OK(tt_timeline_write(r2, f, &o, NULL));
        tt__alloc_fail_at(n, 0);
        rc = tt_timeline_write(r2, f, &o, NULL);
        tt__alloc_fail_at(0, 0);
        tt_reader_close(r2);
        if (rc != TT_ENOMEM)
            TT_TEST_FAIL("allocation %ld of %ld failed: %d", n, total, rc);
    }
    o.format = 7;
    CHECK_EQ(tt_timeline_write(r, f, &o, NULL), TT_EINVAL);
    CHECK_EQ(tt_timeline_write(NULL, f, &o, NULL), TT_EINVAL);
    fclose(f);
    /* A full device: TT_EIO, for both formats (where /dev/full is one:
     * some sandboxes accept its writes). */
    f = fopen("/dev/full", "wb");
    if (f != NULL && fputc('x', f) != EOF && fflush(f) == 0) {
        fclose(f);                     /* not full here: nothing to test */
        f = NULL;
    }
    if (f != NULL) {
        clearerr(f);
        o.format = TT_TIMELINE_PERFETTO;
        CHECK_EQ(tt_timeline_write(r, f, &o, NULL), TT_EIO);
        o.format = TT_TIMELINE_CHROME;
        CHECK_EQ(tt_timeline_write(r, f, &o, NULL), TT_EIO);
        fclose(f);
    }
    tt_reader_close(r);
}
