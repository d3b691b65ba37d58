/* test_clock.c - clock sync points (tt_chunk_clock.c, FORMAT.md §15): ticks to
 * ns by interpolation, a mis-calibrated header rate corrected, bad records
 * rejected, and the fallback to the header's rate without sync points or
 * without memory. */
#include "tt_test.h"

/* A file whose header claims 3 GHz while the sync points say the clock
 * ran at 2.5 GHz (what a preempted calibration produced in the field). */
static const char *write_synced(uint64_t start, int extra_bad)
{
    tt_header_t h = *test_header();
    const char *path = tmp_path("clock.ttrace");
    tt_writer_t *w;

    h.clock_hz = 3000000000ull;
    h.start_tick = start;
    CHECK_OK(tt_writer_open(&w, path, &h));
    CHECK_OK(tt_writer_clock_sync(w, start, 5000, 40));
    CHECK_OK(tt_writer_clock_sync(w, start + 2500000000ull,
                                  1000005000ull, 70));
    if (extra_bad)     /* goes backwards in ns: rejected */
        CHECK_OK(tt_writer_clock_sync(w, start + 3000000000ull, 4000, 1));
    CHECK_OK(tt_writer_clock_sync(w, start + 5000000000ull,
                                  2000005000ull, 30));
    CHECK_OK(tt_writer_close(w));
    return path;
}

void test_clock_sync_points(void)
{
    tt_reader_t *r;
    tt_clock_info_t c;

    CHECK_OK(tt_reader_open(&r, write_synced(1000, 0), 0));
    CHECK_EQ_U64(tt_reader_ns(r, 0), 0);
    CHECK_EQ_U64(tt_reader_ns(r, 2500000000ull), 1000000000ull);
    CHECK_EQ_U64(tt_reader_ns(r, 1250000000ull), 500000000ull);
    CHECK_EQ_U64(tt_reader_ns(r, 5000000000ull), 2000000000ull);
    /* past the last point: the last segment's rate */
    CHECK_EQ_U64(tt_reader_ns(r, 7500000000ull), 3000000000ull);
    /* lookups out of order use the same table */
    CHECK_EQ_U64(tt_reader_ns(r, 250000000ull), 100000000ull);
    CHECK_EQ_U64(tt_reader_span_ns(r, 250000000ull), 100000000ull);
    CHECK_OK(tt_reader_clock(r, &c));
    CHECK_EQ(c.n_sync, 3);
    CHECK_EQ(c.bad_records, 0);
    CHECK_EQ_U64(c.header_hz, 3000000000ull);
    CHECK(c.measured_hz > 2499999999.0 && c.measured_hz < 2500000001.0);
    CHECK_EQ_U64(c.max_err_ns, 70);
    CHECK_EQ_U64(c.span_ns, 2000000000ull);
    tt_reader_close(r);

    CHECK_OK(tt_reader_open(&r, write_synced(0, 1), 0));
    CHECK_OK(tt_reader_clock(r, &c));
    CHECK_EQ(c.n_sync, 3);           /* the backwards one is left out */
    CHECK_EQ(c.bad_records, 1);
    CHECK_EQ_U64(tt_reader_ns(r, 5000000000ull), 2000000000ull);
    tt_reader_close(r);
}

/* Non-decreasing in tick across segments of different rates. */
void test_clock_monotone(void)
{
    tt_header_t h = *test_header();
    const char *path = tmp_path("mono.ttrace");
    tt_writer_t *w;
    tt_reader_t *r;
    uint64_t prev = 0;

    h.clock_hz = 1000;
    h.start_tick = 0;
    CHECK_OK(tt_writer_open(&w, path, &h));
    CHECK_OK(tt_writer_clock_sync(w, 0, 100, 0));
    CHECK_OK(tt_writer_clock_sync(w, 10, 1000100, 0));      /* 100 us/tick */
    CHECK_OK(tt_writer_clock_sync(w, 1000, 2000100, 0));    /* ~1 us/tick */
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    for (uint64_t t = 0; t < 2000; t++) {
        uint64_t ns = tt_reader_ns(r, t);
        CHECK(ns >= prev);
        prev = ns;
    }
    CHECK_EQ_U64(tt_reader_ns(r, 10), 1000000);
    CHECK_EQ_U64(tt_reader_ns(r, 1000), 2000000);
    tt_reader_close(r);
}

/* No sync points (an older file) and one sync point: the header's rate,
 * exactly. Without memory for the table: the same, and tt_reader_clock
 * says so. */
void test_clock_fallbacks(void)
{
    tt_header_t h = *test_header();
    const char *path = tmp_path("fallback.ttrace");
    tt_writer_t *w;
    tt_reader_t *r;
    tt_clock_info_t c;

    h.clock_hz = 3000000000ull;
    h.start_tick = 0;
    CHECK_OK(tt_writer_open(&w, path, &h));
    CHECK_OK(tt_writer_clock_sync(w, 0, 777, 0));
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_EQ_U64(tt_reader_ns(r, 3000000000ull), 1000000000ull);
    CHECK_EQ_U64(tt_reader_ns(r, UINT64_MAX), UINT64_MAX / 3);
    CHECK_OK(tt_reader_clock(r, &c));
    CHECK_EQ(c.n_sync, 1);
    CHECK(c.measured_hz == 3000000000.0);
    tt_reader_close(r);

    CHECK_OK(tt_reader_open(&r, write_synced(0, 0), 0));
    tt__alloc_fail_at(1, 1);
    CHECK_EQ(tt_reader_clock(r, &c), TT_ENOMEM);
    CHECK_EQ_U64(tt_reader_ns(r, 3000000000ull), 1000000000ull);
    tt__alloc_fail_at(0, 0);
    tt_reader_close(r);
    CHECK_EQ(tt_reader_clock(NULL, &c), TT_EINVAL);
    CHECK_EQ(tt_writer_clock_sync(NULL, 0, 0, 0), TT_EINVAL);
}
