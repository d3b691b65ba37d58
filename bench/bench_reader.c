/* bench_reader.c - time one reading of a recording with libtt's reader:
 * open and iterate everything, or only the first N events.
 *
 * Usage: tt_bench_reader FILE [N] [lazy|batch|lazy,batch]  (N = 0: all;
 * batch: tt_reader_next_batch, 1024 at a time)
 * Prints "events E open_s O read_s R". Peak memory is measured by the
 * caller (bench/reader_memory.py, through wait4). Compiles against older
 * libtt too (no TT_READ_LAZY there). Single-threaded.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tt.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    unsigned flags = TT_READ_MERGED;
    unsigned long long limit = 0, n = 0;
    tt_reader_t *r;
    tt_event_t ev;
    double t0, t1;
    int rc;

    if (argc < 2) {
        fprintf(stderr, "usage: tt_bench_reader FILE [N] [lazy][,batch]\n");
        return 2;
    }
    if (argc > 2)
        limit = strtoull(argv[2], NULL, 10);
#ifdef TT_READ_LAZY
    if (argc > 3 && strstr(argv[3], "lazy") != NULL)
        flags |= TT_READ_LAZY;
#endif
#ifdef TT_BATCH_MAX
    if (argc > 3 && strstr(argv[3], "batch") != NULL) {
        static tt_event_t evs[1024];
        t0 = now();
        if ((rc = tt_reader_open(&r, argv[1], flags)) < 0) {
            fprintf(stderr, "tt_bench_reader: %s\n", tt_strerror(rc));
            return 1;
        }
        t1 = now();
        while ((limit == 0 || n < limit) &&
               (rc = tt_reader_next_batch(r, evs, 1024)) != 0)
            if (rc > 0)
                n += (unsigned long long)rc;
        printf("events %llu open_s %.3f read_s %.3f\n", n, t1 - t0,
               now() - t1);
        tt_reader_close(r);
        return 0;
    }
#endif
    t0 = now();
    rc = tt_reader_open(&r, argv[1], flags);
    if (rc < 0) {
        fprintf(stderr, "tt_bench_reader: %s\n", tt_strerror(rc));
        return 1;
    }
    t1 = now();
    while ((limit == 0 || n < limit) && (rc = tt_reader_next(r, &ev)) != 0)
        if (rc > 0)
            n++;
    printf("events %llu open_s %.3f read_s %.3f\n", n, t1 - t0, now() - t1);
    tt_reader_close(r);
    return 0;
}
