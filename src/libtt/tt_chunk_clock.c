/* tt_chunk_clock.c - clock sync points: writing them, and ticks to nanoseconds.
 *
 * Owns: the 0x82 CLOCK chunk (FORMAT.md §15) on both sides, and every
 * conversion of recorded ticks to nanoseconds (tt_reader_ns,
 * tt_reader_span_ns, tt_reader_clock). A recording's ticks come from a
 * clock whose rate the capture can only estimate (a TSC calibrated in a few
 * milliseconds); sync points pair a tick with CLOCK_MONOTONIC, and the
 * reader interpolates between them, so times rest on the kernel's clock.
 * Threads: the writer's and the reader's (one thread each).
 */
#include <string.h>

#include "tt_reader_int.h"
#include "tt_varint.h"

/* One sync point, ticks relative to the header's start_tick. */
typedef struct {
    uint64_t tick;
    uint64_t ns;                  /* CLOCK_MONOTONIC */
    uint64_t err_ns;              /* half-width of the bracket */
} sync_point;

/* The reader's conversion table, built on first use (tt__clock_map). */
struct tt__clockmap {
    sync_point *pts;              /* strictly increasing tick and ns */
    uint32_t n;
    uint32_t bad;                 /* records rejected (malformed, backwards) */
    uint32_t last;                /* segment of the previous lookup */
    double last_slope;            /* its ns per tick; 0: none yet */
    uint64_t lo, hi;              /* ticks the segment answers for (its
                                     ends, open at the first and last) */
    double lo_tick, lo_ns;        /* its first point, as doubles */
    double mono0;                 /* monotonic ns at tick 0 (n >= 2) */
    double ns_per_tick;           /* over the whole span; header rate if n < 2 */
};

/* ------------------------------------------------------------ the writer */

#define SYNC_REC_MAX (3 * 10)              /* three varints of <= 10 bytes */

static int clock_sync(tt_writer_t *w, uint64_t tick, uint64_t mono_ns,
                      uint64_t err_ns)
{
    uint8_t buf[TT__CHUNK_HEAD + SYNC_REC_MAX + TT__CHUNK_TAIL];
    uint8_t *p = buf + TT__CHUNK_HEAD;

    p = tt__put_varint(p, tick > w->start_tick ? tick - w->start_tick : 0);
    p = tt__put_varint(p, mono_ns);
    p = tt__put_varint(p, err_ns);
    return tt__writer_chunk(w, buf, (size_t)(p - buf - TT__CHUNK_HEAD),
                            TT_CHUNK_CLOCK, TT__NO_THREAD);
}

/* Contract (tt.h): writes one 0x82 chunk now, under the writer's guard (a
 * crash handler's emergency flush never meets it half-written). 0, or
 * TT_EINVAL (NULL writer), TT_ESTATE (after an emergency flush), TT_EIO
 * (the file is cut back; the error is remembered). */
int tt_writer_clock_sync(tt_writer_t *w, uint64_t tick, uint64_t mono_ns,
                         uint64_t err_ns)
{
    TT__GUARDED(w, clock_sync(w, tick, mono_ns, err_ns));
}

/* ------------------------------------------------------------ the reader */

/* Appends the valid records of one payload. A record that is malformed,
 * or does not move forward in both clocks, ends the chunk (counted). */
static int map_add_chunk(struct tt__clockmap *m, size_t *cap,
                         const uint8_t *p, const uint8_t *end)
{
    while (p < end) {
        sync_point s;
        void *arr = m->pts;
        if (tt__get_varint(&p, end, &s.tick) < 0 ||
            tt__get_varint(&p, end, &s.ns) < 0 ||
            tt__get_varint(&p, end, &s.err_ns) < 0 ||
            (m->n > 0 && (s.tick <= m->pts[m->n - 1].tick ||
                          s.ns < m->pts[m->n - 1].ns))) {
            m->bad++;
            return 0;
        }
        if (tt__grow(&arr, cap, (size_t)m->n + 1, sizeof *m->pts) < 0)
            return TT_ENOMEM;
        m->pts = arr;
        m->pts[m->n++] = s;
    }
    return 0;
}

static double mono_at(struct tt__clockmap *m, uint64_t tick);

static double header_ns_per_tick(const tt_reader_t *r)
{
    return r->header.clock_hz ? 1e9 / (double)r->header.clock_hz : 0.0;
}

/* Builds the table from the 0x82 chunks. NULL without memory: callers then
 * fall back to the header's rate. */
static struct tt__clockmap *map_build(const tt_reader_t *r)
{
    struct tt__clockmap *m = tt__malloc(sizeof *m);
    size_t cap = 0;

    if (m == NULL)
        return NULL;
    memset(m, 0, sizeof *m);
    for (uint32_t i = 0; i < tt_reader_n_ancillary(r); i++) {
        uint8_t type;
        const uint8_t *payload;
        size_t len;
        if (tt_reader_ancillary(r, i, &type, &payload, &len) < 0 ||
            type != TT_CHUNK_CLOCK)
            continue;
        if (map_add_chunk(m, &cap, payload, payload + len) < 0) {
            tt__free(m->pts);
            tt__free(m);
            return NULL;
        }
    }
    m->ns_per_tick = header_ns_per_tick(r);
    if (m->n >= 2) {
        const sync_point *a = &m->pts[0], *b = &m->pts[m->n - 1];
        m->ns_per_tick = (double)(b->ns - a->ns) / (double)(b->tick - a->tick);
    }
    if (m->n >= 2)
        m->mono0 = mono_at(m, 0);
    return m;
}

static const struct tt__clockmap *clock_map(const tt_reader_t *r)
{
    tt_reader_t *mut = (tt_reader_t *)r;   /* a cache; one thread per reader */
    if (mut->clock == NULL)
        mut->clock = map_build(r);
    return mut->clock;
}

void tt__clock_free(struct tt__clockmap *m)
{
    if (m != NULL) {
        tt__free(m->pts);
        tt__free(m);
    }
}

static uint64_t clamp_ns(double ns)
{
    if (!(ns > 0.0))
        return 0;
    return ns >= 18446744073709549568.0 ? UINT64_MAX : (uint64_t)ns;
}

/* tick * 1e9 / clock_hz, rounded down, saturating; exact (no sync points:
 * a recording from before they existed, or one cut before its second). */
static uint64_t header_ns(const tt_reader_t *r, uint64_t tick)
{
    uint64_t hz = r->header.clock_hz;
    if (hz == 0)
        return 0;
    if (hz == 1000000000u)
        return tick;
#ifdef __SIZEOF_INT128__
    {
        unsigned __int128 ns = (unsigned __int128)tick * 1000000000u / hz;
        return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
    }
#else
    return clamp_ns((double)tick * header_ns_per_tick(r));
#endif
}

/* Makes m->last the segment [pts[i], pts[i+1]] holding tick, with i
 * clamped to the ends (ticks outside the sync points extrapolate the
 * nearest segment), and m->last_slope its rate. Events come in time order,
 * so the previous segment almost always holds the next tick. */
static void segment(struct tt__clockmap *m, uint64_t tick)
{
    uint32_t lo = 0, hi = m->n - 2, i = m->last;
    const sync_point *a, *b;

    if (m->last_slope > 0.0 && (i == 0 || m->pts[i].tick <= tick) &&
        (i == hi || tick <= m->pts[i + 1].tick))
        return;
    while (lo < hi) {                      /* last i with pts[i].tick <= tick */
        uint32_t mid = lo + (hi - lo + 1) / 2;
        if (m->pts[mid].tick <= tick)
            lo = mid;
        else
            hi = mid - 1;
    }
    a = &m->pts[lo];
    b = a + 1;
    m->last = lo;
    m->last_slope = (double)(b->ns - a->ns) / (double)(b->tick - a->tick);
    if (!(m->last_slope > 0.0))            /* equal ns: a flat segment */
        m->last_slope = 1e-300;
    m->lo = lo == 0 ? 0 : a->tick;
    m->hi = lo == m->n - 2 ? UINT64_MAX : b->tick;
    m->lo_tick = (double)a->tick;
    m->lo_ns = (double)a->ns;
}

/* Monotonic ns of a tick, by the sync points. Requires m->n >= 2. */
static double mono_at(struct tt__clockmap *m, uint64_t tick)
{
    if (TT_UNLIKELY(!(m->last_slope > 0.0) || tick < m->lo || tick > m->hi))
        segment(m, tick);
    return m->lo_ns + ((double)tick - m->lo_tick) * m->last_slope;
}

/* Contract (tt.h): ns since the recording's start for a tick; 0 for a NULL
 * reader or a zero clock rate. */
uint64_t tt_reader_ns(const tt_reader_t *r, uint64_t tick)
{
    struct tt__clockmap *m;

    if (r == NULL)
        return 0;
    m = (struct tt__clockmap *)clock_map(r);
    if (m == NULL || m->n < 2)
        return header_ns(r, tick);
    return clamp_ns(mono_at(m, tick) - m->mono0);
}

/* Contract (tt.h): a duration in ticks as ns, at the recording's average
 * rate (the sync points' span, or the header's rate). */
uint64_t tt_reader_span_ns(const tt_reader_t *r, uint64_t ticks)
{
    const struct tt__clockmap *m;

    if (r == NULL)
        return 0;
    m = clock_map(r);
    return clamp_ns((double)ticks *
                    (m ? m->ns_per_tick : header_ns_per_tick(r)));
}

/* Contract (tt.h): fills *out; 0, or TT_EINVAL / TT_ENOMEM (the table
 * could not be built; *out then describes the header's rate alone). */
int tt_reader_clock(const tt_reader_t *r, tt_clock_info_t *out)
{
    const struct tt__clockmap *m;

    if (r == NULL || out == NULL)
        return TT_EINVAL;
    memset(out, 0, sizeof *out);
    out->header_hz = r->header.clock_hz;
    out->measured_hz = (double)r->header.clock_hz;
    m = clock_map(r);
    if (m == NULL)
        return TT_ENOMEM;
    out->n_sync = m->n;
    out->bad_records = m->bad;
    for (uint32_t i = 0; i < m->n; i++)
        if (m->pts[i].err_ns > out->max_err_ns)
            out->max_err_ns = m->pts[i].err_ns;
    if (m->n >= 2) {
        out->span_ns = m->pts[m->n - 1].ns - m->pts[0].ns;
        out->measured_hz = 1e9 / m->ns_per_tick;
    }
    return 0;
}
