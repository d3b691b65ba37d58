/* test_basic.c - unit tests of the small pieces: CRC32C, the strict varint
 * reader, error and kind names, tt_code_line_at, tt_reader_ns, and the two
 * tests that must fail so the runner proves it can see failures.
 */
#include <signal.h>

#include "tt_test.h"
#include "tt_varint.h"

void test_crc32c_vectors(void)
{
    uint8_t buf[4096];
    uint64_t s = 42;

    /* The standard check value and RFC 3720 (iSCSI) vectors. */
    CHECK_EQ(tt__crc32c(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ(tt__crc32c_sw(0, "123456789", 9), 0xE3069283u);
    memset(buf, 0, 32);
    CHECK_EQ(tt__crc32c(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, 32);
    CHECK_EQ(tt__crc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    CHECK_EQ(tt__crc32c(0, buf, 32), 0x46DD794Eu);
    CHECK_EQ(tt__crc32c(0, buf, 0), 0);
    /* Hardware and software agree at every length and alignment, and
     * incremental use matches one shot. */
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)rnd_next(&s);
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n < 300; n += 7) {
            uint32_t a = tt__crc32c(0, buf + off, n);
            CHECK_EQ(a, tt__crc32c_sw(0, buf + off, n));
            CHECK_EQ(a, tt__crc32c(tt__crc32c(0, buf + off, n / 3),
                                   buf + off + n / 3, n - n / 3));
        }
}

static int dec(const uint8_t *p, size_t n, uint64_t *v)
{
    const uint8_t *q = p;
    int rc = tt__get_varint(&q, p + n, v);
    if (rc == 0)
        CHECK_EQ(q - p, (long long)n);   /* consumed exactly */
    else
        CHECK(q == p);                   /* unchanged on failure */
    return rc;
}

void test_varint_strict(void)
{
    uint8_t buf[16];
    uint64_t v, s = 7;
    uint32_t v32;
    const uint8_t *q;
    static const uint64_t samples[] = {0, 1, 127, 128, 16383, 16384,
                                       UINT32_MAX, (uint64_t)UINT32_MAX + 1,
                                       INT64_MAX, UINT64_MAX - 1, UINT64_MAX};

    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        size_t n = (size_t)(tt__put_varint(buf, samples[i]) - buf);
        CHECK(n >= 1 && n <= 10);
        CHECK_OK(dec(buf, n, &v));
        CHECK_EQ_U64(v, samples[i]);
        /* Every proper prefix is cut short. */
        for (size_t k = 0; k < n; k++)
            CHECK_EQ(dec(buf, k, &v), TT_ECORRUPT);
    }
    for (int i = 0; i < 10000; i++) {
        uint64_t x = rnd_next(&s) >> (rnd_next(&s) % 64);
        size_t n = (size_t)(tt__put_varint(buf, x) - buf);
        CHECK_OK(dec(buf, n, &v));
        CHECK_EQ_U64(v, x);
        CHECK_EQ_U64(tt__unzz(tt__zz(x)), x);
    }
    /* Overlong: a trailing zero group. */
    buf[0] = 0x80;
    buf[1] = 0x00;
    CHECK_EQ(dec(buf, 2, &v), TT_ECORRUPT);
    buf[0] = 0x81;
    buf[1] = 0x80;
    buf[2] = 0x00;
    CHECK_EQ(dec(buf, 3, &v), TT_ECORRUPT);
    /* Overflow: 10th byte above 1, and an 11-byte varint. */
    memset(buf, 0xff, 9);
    buf[9] = 0x02;
    CHECK_EQ(dec(buf, 10, &v), TT_ECORRUPT);
    buf[9] = 0x01;
    CHECK_OK(dec(buf, 10, &v));
    CHECK_EQ_U64(v, UINT64_MAX);
    memset(buf, 0x80, 10);
    buf[10] = 0x01;
    CHECK_EQ(dec(buf, 11, &v), TT_ECORRUPT);
    /* 32-bit reader. */
    q = buf;
    tt__put_varint(buf, (uint64_t)UINT32_MAX + 1);
    CHECK_EQ(tt__get_u32(&q, buf + 5, &v32), TT_ECORRUPT);
    CHECK(q == buf);
    tt__put_varint(buf, UINT32_MAX);
    CHECK_OK(tt__get_u32(&q, buf + 5, &v32));
    CHECK_EQ_U64(v32, UINT32_MAX);
    /* Zigzag of signed values. */
    CHECK_EQ_U64(tt__zz((uint64_t)-1), 1);
    CHECK_EQ_U64(tt__zz(1), 2);
    CHECK(tt__unzz_s(tt__zz((uint64_t)INT64_MIN)) == INT64_MIN);
    CHECK(tt__unzz_s(tt__zz((uint64_t)INT64_MAX)) == INT64_MAX);
    CHECK(tt__unzz_s(tt__zz((uint64_t)(int64_t)-12345)) == -12345);
}

void test_names_and_errors(void)
{
    CHECK_STR(tt_strerror(0), "success");
    CHECK_STR(tt_strerror(TT_ENOMEM), "out of memory");
    CHECK_STR(tt_strerror(TT_ESTATE), "operation not valid in this state");
    CHECK_STR(tt_strerror(-999), "unknown error");
    CHECK_STR(tt_strerror(5), "unknown error");
    for (int e = TT_ECANCELED; e <= TT_ENOMEM; e++)
        CHECK(strcmp(tt_strerror(e), "unknown error") != 0);
    CHECK_STR(tt_event_kind_name(TT_EV_CALL), "call");
    CHECK_STR(tt_event_kind_name(TT_EV_LINE), "line");
    CHECK_STR(tt_event_kind_name(TT_EV_RETURN), "return");
    CHECK_STR(tt_event_kind_name(TT_EV_EXCEPTION), "exception");
    CHECK_STR(tt_event_kind_name(TT_EV_OPCODE), "opcode");
    CHECK_STR(tt_event_kind_name(TT_EV_OBJ_CREATE), "obj_create");
    CHECK_STR(tt_event_kind_name(TT_EV_OBJ_DESTROY), "obj_destroy");
    CHECK_STR(tt_event_kind_name(TT_EV_DROPPED), "dropped");
    CHECK_STR(tt_event_kind_name(0), "?");
    CHECK_STR(tt_event_kind_name(TT_EV__COUNT), "?");
    CHECK_STR(tt_event_kind_name(-1), "?");
}

void test_code_line_at(void)
{
    tt_line_range_t r[] = {{0, 2, 5}, {2, 2, 99}, {2, 10, TT_NO_LINE},
                           {10, 16, 7}, {20, 24, 8}};
    tt_code_def_t c;

    memset(&c, 0, sizeof c);
    c.ranges = r;
    c.n_ranges = 5;
    CHECK_EQ(tt_code_line_at(&c, 0), 5);
    CHECK_EQ(tt_code_line_at(&c, 1), 5);
    CHECK_EQ(tt_code_line_at(&c, 2), TT_NO_LINE);   /* empty range skipped */
    CHECK_EQ(tt_code_line_at(&c, 9), TT_NO_LINE);
    CHECK_EQ(tt_code_line_at(&c, 10), 7);
    CHECK_EQ(tt_code_line_at(&c, 15), 7);
    CHECK_EQ(tt_code_line_at(&c, 16), TT_NO_LINE);  /* a gap */
    CHECK_EQ(tt_code_line_at(&c, 23), 8);
    CHECK_EQ(tt_code_line_at(&c, 24), TT_NO_LINE);
    CHECK_EQ(tt_code_line_at(&c, UINT32_MAX), TT_NO_LINE);
    c.n_ranges = 0;
    CHECK_EQ(tt_code_line_at(&c, 0), TT_NO_LINE);
    CHECK_EQ(tt_code_line_at(NULL, 0), TT_NO_LINE);
}

void test_reader_ns(void)
{
    tt_header_t h = *test_header();
    const char *path = tmp_path("ns.ttrace");
    tt_writer_t *w;
    tt_reader_t *r;

    h.clock_hz = 3000000000ull;              /* a 3 GHz TSC */
    CHECK_OK(tt_writer_open(&w, path, &h));
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_EQ_U64(tt_reader_ns(r, 3000000000ull), 1000000000ull);
    CHECK_EQ_U64(tt_reader_ns(r, 3), 1);
    CHECK_EQ_U64(tt_reader_ns(r, UINT64_MAX), UINT64_MAX / 3);
    CHECK_EQ_U64(tt_reader_header(r)->clock_hz, 3000000000ull);
    tt_reader_close(r);
    h.clock_hz = 1000;                        /* milliseconds: saturates */
    CHECK_OK(tt_writer_open(&w, path, &h));
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_EQ_U64(tt_reader_ns(r, 5), 5000000ull);
    CHECK_EQ_U64(tt_reader_ns(r, UINT64_MAX), UINT64_MAX);
    tt_reader_close(r);
    CHECK_EQ_U64(tt_reader_ns(NULL, 5), 0);
}

/* Must fail: a false CHECK. The runner counts it as passed only if so. */
void test_runner_catches_failure(void)
{
    CHECK_EQ(1 + 1, 3);
}

/* Must fail: the child dies of a signal (SIGABRT). */
void test_runner_catches_crash(void)
{
    abort();
}
