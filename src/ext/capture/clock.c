/* clock.c - the recording clock: which one, its rate, and sync points.
 *
 * Owns: the choice between the TSC and CLOCK_MONOTONIC (once per process),
 * the TSC's calibration, and the (tick, monotonic ns) pairs written into a
 * recording as sync points (tt_writer_clock_sync), from which readers turn
 * ticks into nanoseconds. A pair is the tightest of several brackets
 * mono-tick-mono, so a thread preempted while reading one still gets a
 * precise pair. Must not: be called from a hook (it loops). GIL: held.
 */
#include "capture_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if TTX_HAVE_TSC
#  include <cpuid.h>
#endif

int capture_clock_tsc = 0;              /* GIL (written once, first start) */
static int clock_chosen = 0;            /* GIL */
static uint64_t clock_tsc_hz = 0;       /* GIL */
static uint64_t clock_calib_err_ppb = 0;/* GIL: the calibration's bound */

#define PAIR_TRIES      16              /* brackets per pair, at least */
#define PAIR_TRIES_MAX  512             /* when the machine keeps us waiting */
#define PAIR_GOOD_NS    2000            /* a bracket this tight ends the search */
#define CALIB_WINDOW_NS 10000000u       /* 10 ms between the two pairs */

uint64_t
capture_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
capture_clock_pair(capture_clock_pair_t *out)
{
    uint64_t best = UINT64_MAX;
    int i;

    for (i = 0; i < PAIR_TRIES_MAX; i++) {
        uint64_t a = capture_mono_ns();
        uint64_t t = capture_clock();
        uint64_t b = capture_mono_ns();
        if (b - a < best) {
            best = b - a;
            out->tick = t;
            out->ns = a + (b - a) / 2;
            out->err_ns = (b - a + 1) / 2;
        }
        if (i + 1 >= PAIR_TRIES && best <= PAIR_GOOD_NS)
            break;
    }
}

int
capture_clock_sync(tt_writer_t *w)
{
    capture_clock_pair_t p;
    capture_clock_pair(&p);
    return tt_writer_clock_sync(w, p.tick, p.ns, p.err_ns);
}

#if TTX_HAVE_TSC
/* The kernel picks "tsc" as its clocksource only when the TSC is invariant
 * and synchronised across CPUs; we also ask the CPU (CPUID 0x80000007,
 * EDX bit 8: invariant TSC). */
static int
tsc_trusted(void)
{
    char buf[32] = {0};
    unsigned a, b, c, d;
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/"
                    "current_clocksource", "r");
    if (f == NULL)
        return 0;
    if (fgets(buf, sizeof(buf), f) == NULL)
        buf[0] = '\0';
    fclose(f);
    if (strncmp(buf, "tsc", 3) != 0 || (buf[3] != '\n' && buf[3] != '\0'))
        return 0;
    if (!__get_cpuid(0x80000007u, &a, &b, &c, &d))
        return 0;
    return (d >> 8) & 1u;
}

/* TSC ticks per second against CLOCK_MONOTONIC, from two tight pairs
 * ~10 ms apart. Preemption between them does not matter; within a pair it
 * is what the tightest-bracket search rejects. 0 if the TSC went
 * backwards. */
static uint64_t
tsc_calibrate(void)
{
    capture_clock_pair_t p0, p1;
    double hz;

    capture_clock_pair(&p0);
    while (capture_mono_ns() - p0.ns < CALIB_WINDOW_NS)
        ;
    capture_clock_pair(&p1);
    if (p1.tick <= p0.tick || p1.ns <= p0.ns)
        return 0;
    hz = (double)(p1.tick - p0.tick) * 1e9 / (double)(p1.ns - p0.ns);
    clock_calib_err_ppb = (p0.err_ns + p1.err_ns) * 1000000000u /
                          (p1.ns - p0.ns);
    return (uint64_t)(hz + 0.5);
}
#endif

void
capture_clock_choose(const char **name, uint64_t *hz)
{
    if (!clock_chosen) {
        const char *want = getenv("TRACETAP_CLOCK");
        clock_chosen = 1;
#if TTX_HAVE_TSC
        if (want == NULL || strcmp(want, "monotonic") != 0) {
            if ((want != NULL && strcmp(want, "tsc") == 0) || tsc_trusted()) {
                capture_clock_tsc = 1;     /* capture_clock_pair reads it */
                clock_tsc_hz = tsc_calibrate();
                capture_clock_tsc = clock_tsc_hz > 1000000u;
            }
        }
#else
        (void)want;
#endif
    }
    *name = capture_clock_tsc ? "tsc" : "monotonic";
    *hz = capture_clock_tsc ? clock_tsc_hz : 1000000000u;
}

PyObject *
capture_clock_info(PyObject *module, PyObject *unused)
{
    const char *name;
    uint64_t hz, t0, m0, m1;
    capture_clock_pair_t p;
    int i;

    capture_clock_choose(&name, &hz);
    /* The cost of one reading, for the benchmark notes. */
    m0 = capture_mono_ns();
    t0 = 0;
    for (i = 0; i < 1000000; i++)
        t0 += capture_clock();
    m1 = capture_mono_ns();
    (void)t0;
    capture_clock_pair(&p);
    return Py_BuildValue("{s:s,s:K,s:d,s:K,s:K}", "name", name,
                         "hz", (unsigned long long)hz,
                         "read_ns", (double)(m1 - m0) / 1e6,
                         "pair_err_ns", (unsigned long long)p.err_ns,
                         "calibration_err_ppb",
                         (unsigned long long)clock_calib_err_ppb);
}
