/* test_lines.c - per-line time on hand-made recordings
 * whose answers are worked out in the comments: segments with and without
 * callees, recursion, a generator's yield and resumption, lost RETURNs, a
 * frame entered before the recording, a DROPPED event, frames open at the
 * end, a cut file, and allocation failures. A tick is a nanosecond.
 */
#include "tt_test.h"

enum { F, G, H, GEN, N_CODES };

/* Codes of app.py: f (line 1), g (10), h (20) and the generator gen (30;
 * offset 0 at line 30); n_threads (1 or 2) threads' buffers in b. */
static tt_writer_t *open_lines(const char *path, uint32_t *code,
                               tt_tbuf_t **b, int n_threads)
{
    static const tt_line_range_t gen_ranges[] = {{0, 4, 30}, {4, 20, 31},
                                                 {20, 40, 32}};
    static const struct { const char *name; int32_t first; } defs[] = {
        {"f", 1}, {"g", 10}, {"h", 20}, {"gen", 30}};
    tt_writer_t *w;
    uint32_t file;

    CHECK_OK(tt_writer_open(&w, path, test_header()));
    CHECK_OK(tt_writer_string(w, "app.py", 6, &file));
    for (int i = 0; i < N_CODES; i++) {
        tt_code_def_t cd = {0};
        CHECK_OK(tt_writer_string(w, defs[i].name, strlen(defs[i].name),
                                  &cd.qualname));
        cd.filename = file;
        cd.firstlineno = defs[i].first;
        cd.parent = TT_NO_PARENT;
        cd.flags = TT_CODE_TRACED | TT_CODE_FUNCTION;
        if (i == GEN) {
            cd.flags |= TT_CODE_GENERATOR;
            cd.ranges = gen_ranges;
            cd.n_ranges = 3;
        }
        CHECK_OK(tt_writer_code(w, &cd, &code[i]));
    }
    CHECK_OK(tt_writer_thread(w, 1, "MainThread", &b[0]));
    if (n_threads > 1)
        CHECK_OK(tt_writer_thread(w, 2, "worker", &b[1]));
    return w;
}

static tt_lines_t *lines_of(const char *path, tt_reader_t **rp)
{
    tt_lines_t *L;
    CHECK_OK(tt_reader_open(rp, path, 0));
    CHECK_OK(tt_lines_analyze(*rp, &L));
    return L;
}

/* One event of a script: kind 'c'all, 'l'ine, 'r'eturn or e'x'ception,
 * in thread b[thread], at start_tick + tick, of code c[code]. */
typedef struct {
    char kind;
    uint8_t thread, code;
    uint16_t tick;
    int16_t line;
} ev_t;

static void emit(tt_tbuf_t **b, const uint32_t *c, const ev_t *ev, size_t n)
{
    uint64_t T = test_header()->start_tick;
    for (size_t i = 0; i < n; i++) {
        tt_tbuf_t *t = b[ev[i].thread];
        uint64_t tick = T + ev[i].tick;
        uint32_t code = c[ev[i].code];
        switch (ev[i].kind) {
        case 'c': tt_tbuf_call(t, tick, code, ev[i].line); break;
        case 'l': tt_tbuf_line(t, tick, code, ev[i].line); break;
        case 'r': tt_tbuf_return(t, tick, code, ev[i].line); break;
        default: tt_tbuf_exception(t, tick, code, ev[i].line, 0); break;
        }
    }
}
#define EMIT(b, c, evs) emit(b, c, evs, sizeof evs / sizeof evs[0])

/* Writes the script into a closed recording of n_threads threads and
 * analyses it; *r stays open for the rows' ids. */
static tt_lines_t *run_script(const char *name, int n_threads,
                              const ev_t *ev, size_t n, uint32_t *c,
                              tt_reader_t **r)
{
    const char *path = tmp_path(name);
    tt_tbuf_t *b[2];
    tt_writer_t *w = open_lines(path, c, b, n_threads);

    emit(b, c, ev, n);
    CHECK_OK(tt_writer_close(w));
    return lines_of(path, r);
}
#define RUN(name, n_threads, evs, c, r) \
    run_script(name, n_threads, evs, sizeof evs / sizeof evs[0], c, r)

/* Checks the row (thread, code, line): hits, time and own time. */
static void row_is(const tt_lines_t *L, uint32_t thread, uint32_t code,
                   int32_t line, uint64_t hits, uint64_t time, uint64_t own)
{
    const tt_linestat_t *x;
    for (uint32_t i = 0; (x = tt_lines_row(L, i)) != NULL; i++) {
        if (x->thread != thread || x->code != code || x->line != line)
            continue;
        if (x->hits != hits || x->time_ns != time || x->own_ns != own)
            TT_TEST_FAIL("row %u:%d (thread %u): hits %llu time %llu own "
                         "%llu, expected %llu %llu %llu", code, (int)line,
                         thread, (unsigned long long)x->hits,
                         (unsigned long long)x->time_ns,
                         (unsigned long long)x->own_ns,
                         (unsigned long long)hits, (unsigned long long)time,
                         (unsigned long long)own);
        return;
    }
    TT_TEST_FAIL("no row %u:%d in thread %u", code, (int)line, thread);
}

/* Rows come by (thread, code, line), all-thread rows last. */
static void rows_sorted(const tt_lines_t *L)
{
    const tt_linestat_t *a, *b;
    for (uint32_t i = 1; (b = tt_lines_row(L, i)) != NULL; i++) {
        a = tt_lines_row(L, i - 1);
        CHECK(a->thread < b->thread ||
              (a->thread == b->thread && (a->code < b->code ||
               (a->code == b->code && a->line < b->line))));
        CHECK(b->own_ns <= b->time_ns);
    }
}

/* Thread 0: f [0,40]: entry [0,2], line 2 [2,5], line 3 [5,25] around g
 * [10,20] (entry [10,12], line 11 [12,20]), line 3 again [25,30], line 4
 * [30,40]. Thread 1: g from 5, line 11 at 6, line 12 at 9, never returns. */
void test_lines_basic(void)
{
    static const ev_t evs[] = {
        {'c', 0, F, 0, 1}, {'l', 0, F, 2, 2}, {'l', 0, F, 5, 3},
        {'c', 0, G, 10, 10}, {'l', 0, G, 12, 11},
        {'x', 0, G, 15, 11},                /* does not split */
        {'r', 0, G, 20, 11}, {'l', 0, F, 25, 3}, {'l', 0, F, 30, 4},
        {'r', 0, F, 40, 4},
        {'c', 1, G, 5, 10}, {'l', 1, G, 6, 11}, {'l', 1, G, 9, 12},
    };
    uint32_t c[N_CODES], A = TT_LINES_ALL_THREADS;
    const tt_lines_summary_t *s;
    tt_reader_t *r;
    tt_lines_t *L = RUN("lines1.ttrace", 2, evs, c, &r);

    s = tt_lines_summary(L);
    CHECK_EQ(s->has_lines, 1);
    CHECK_EQ(s->has_calls, 1);
    CHECK_EQ(s->truncated, 0);
    CHECK_EQ_U64(s->lines, 7);
    CHECK_EQ_U64(s->calls, 3);
    row_is(L, 0, c[F], TT_NO_LINE, 1, 2, 2);
    row_is(L, 0, c[F], 2, 1, 3, 3);
    row_is(L, 0, c[F], 3, 2, 25, 15);   /* 20 with g's 10, then 5 */
    row_is(L, 0, c[F], 4, 1, 10, 10);
    row_is(L, 0, c[G], TT_NO_LINE, 1, 2, 2);
    row_is(L, 0, c[G], 11, 1, 8, 8);
    row_is(L, 1, c[G], TT_NO_LINE, 1, 1, 1);
    row_is(L, 1, c[G], 11, 1, 3, 3);
    row_is(L, 1, c[G], 12, 1, 0, 0);    /* closed at its own last event */
    row_is(L, A, c[G], 11, 2, 11, 11);
    row_is(L, A, c[F], 3, 2, 25, 15);
    CHECK_EQ_U64(tt_lines_thread(L, 0)->traced_ns, 40);
    CHECK_EQ_U64(tt_lines_thread(L, 0)->open_at_end, 0);
    CHECK_EQ_U64(tt_lines_thread(L, 1)->open_at_end, 1);
    CHECK_EQ_U64(tt_lines_thread(L, 1)->traced_ns, 4);
    CHECK_EQ_U64(s->traced_ns, 44);
    CHECK_EQ(s->n_rows, 9 + 7);         /* 9 per thread, 7 (code, line) */
    CHECK(tt_lines_row(L, s->n_rows) == NULL);
    CHECK(tt_lines_thread(L, 2) == NULL);
    rows_sorted(L);
    tt_lines_free(L);
    tt_reader_close(r);
}

/* f [0,10] calls f [2,6]: every activation's lines count, so the rows sum
 * to 10 + 4 (line_profiler's rule), and the own times to the 10 traced. */
void test_lines_recursion(void)
{
    static const ev_t evs[] = {
        {'c', 0, F, 0, 1}, {'l', 0, F, 1, 2}, {'c', 0, F, 2, 1},
        {'l', 0, F, 3, 2}, {'l', 0, F, 4, 3}, {'r', 0, F, 6, 3},
        {'l', 0, F, 8, 3}, {'r', 0, F, 10, 3},
    };
    uint32_t c[N_CODES];
    tt_reader_t *r;
    tt_lines_t *L = RUN("lines2.ttrace", 1, evs, c, &r);

    row_is(L, 0, c[F], TT_NO_LINE, 2, 2, 2);
    row_is(L, 0, c[F], 2, 2, 7 + 1, 3 + 1);
    row_is(L, 0, c[F], 3, 2, 2 + 2, 2 + 2);
    CHECK_EQ_U64(tt_lines_thread(L, 0)->traced_ns, 10);
    tt_lines_free(L);
    tt_reader_close(r);
}

/* f calls gen (created at 10, line 31 at 12, yields at 15), runs line 3
 * from 20, resumes gen at 40 at line 31 (no hit: the line goes on), gen
 * runs line 32 from 44 and returns at 50; f returns at 60. The 25 ns gen
 * is suspended belong to no line of gen. */
void test_lines_generator(void)
{
    static const ev_t evs[] = {
        {'c', 0, F, 0, 1}, {'l', 0, F, 1, 2}, {'c', 0, GEN, 10, 30},
        {'l', 0, GEN, 12, 31}, {'r', 0, GEN, 15, 31}, {'l', 0, F, 20, 3},
        {'c', 0, GEN, 40, 31}, {'l', 0, GEN, 44, 32}, {'r', 0, GEN, 50, 32},
        {'r', 0, F, 60, 3},
    };
    uint32_t c[N_CODES];
    tt_reader_t *r;
    tt_lines_t *L = RUN("lines3.ttrace", 1, evs, c, &r);

    row_is(L, 0, c[GEN], TT_NO_LINE, 1, 2, 2);
    row_is(L, 0, c[GEN], 31, 1, 3 + 4, 3 + 4);
    row_is(L, 0, c[GEN], 32, 1, 6, 6);
    row_is(L, 0, c[F], 2, 1, 19, 14);
    row_is(L, 0, c[F], 3, 1, 40, 30);
    CHECK_EQ_U64(tt_lines_summary(L)->calls, 2);
    CHECK_EQ_U64(tt_lines_summary(L)->resumes, 1);
    CHECK_EQ_U64(tt_lines_thread(L, 0)->traced_ns, 60);
    tt_lines_free(L);
    tt_reader_close(r);
}

/* Thread 0: f was entered before the recording (first seen at its LINE 2
 * at 1), calls g at 3 (line 11 at 4), g calls h at 5 (line 21 at 6), g
 * returns at 10 without h's RETURN, f at 12; one more RETURN of f at 13
 * matches nothing. Thread 1: g from 10, a lost LINE at 20 and a DROPPED
 * at 40 (closing g there), h [40,45], a RETURN of the closed g, then f
 * from 60 still running at 75. */
void test_lines_unwinding_and_drops(void)
{
    const char *path = tmp_path("lines4.ttrace");
    uint32_t c[N_CODES];
    tt_tbuf_t *b[2];
    tt_writer_t *w = open_lines(path, c, b, 2);
    static const ev_t before[] = {
        {'l', 0, F, 1, 2}, {'c', 0, G, 3, 10}, {'l', 0, G, 4, 11},
        {'c', 0, H, 5, 20}, {'l', 0, H, 6, 21}, {'r', 0, G, 10, 11},
        {'r', 0, F, 12, 2}, {'r', 0, F, 13, 2}, {'c', 1, G, 10, 10},
    }, lost[] = {
        {'l', 1, G, 20, 11},
    }, after[] = {
        {'c', 1, H, 40, 20},                /* DROPPED(1) goes first */
        {'r', 1, H, 45, 21}, {'r', 1, G, 47, 11}, {'c', 1, F, 60, 1},
        {'l', 1, F, 75, 2},
    };
    const tt_lines_thread_t *t0, *t1;
    tt_reader_t *r;
    tt_lines_t *L;

    EMIT(b, c, before);
    CHECK_OK(tt_writer_flush(w));
    EMIT(b, c, lost);
    tt__io_fail_at(1, 0);
    tt_writer_flush(w);
    tt__io_fail_at(0, 0);
    EMIT(b, c, after);
    CHECK_EQ(tt_writer_close(w), TT_EIO);
    L = lines_of(path, &r);
    t0 = tt_lines_thread(L, 0);
    t1 = tt_lines_thread(L, 1);
    CHECK_EQ_U64(t0->adopted, 1);
    CHECK_EQ_U64(t0->mismatched, 1);
    CHECK_EQ_U64(t0->unmatched_returns, 1);
    row_is(L, 0, c[H], 21, 1, 4, 4);
    row_is(L, 0, c[G], 11, 1, 6, 1);          /* h's 5 ns inside */
    row_is(L, 0, c[F], 2, 1, 11, 4);          /* g's 7 ns inside */
    CHECK_EQ_U64(t0->traced_ns, 11);
    CHECK_EQ_U64(t1->dropped, 1);
    CHECK_EQ_U64(t1->closed_at_drop, 1);
    CHECK_EQ_U64(t1->unmatched_returns, 1);
    CHECK_EQ_U64(t1->open_at_end, 1);
    CHECK_EQ_U64(t1->lines, 1);
    row_is(L, 1, c[G], TT_NO_LINE, 1, 30, 30);
    row_is(L, 1, c[H], TT_NO_LINE, 1, 5, 5);
    row_is(L, 1, c[F], TT_NO_LINE, 1, 15, 15);
    row_is(L, 1, c[F], 2, 1, 0, 0);
    CHECK_EQ_U64(t1->traced_ns, 30 + 5 + 15);
    CHECK_EQ(tt_lines_summary(L)->truncated, 0);
    tt_lines_free(L);
    tt_reader_close(r);
}

/* A kill: no END chunk. The open frame closes at the last event, the
 * summary says the file was cut, and every prefix of the file analyses. */
void test_lines_cut_file(void)
{
    const char *path = tmp_path("lines5.ttrace");
    const char *cut = tmp_path("lines5cut.ttrace");
    uint64_t T = test_header()->start_tick;
    uint32_t c[N_CODES];
    tt_tbuf_t *b[1];
    tt_writer_t *w = open_lines(path, c, b, 1);
    tt_reader_t *r;
    tt_lines_t *L;
    uint8_t *data;
    size_t len;

    tt_tbuf_call(b[0], T, c[F], 1);
    for (int i = 0; i < 200; i++) {
        tt_tbuf_line(b[0], T + 10 + 10 * (uint64_t)i, c[F], 2 + (i & 1));
        if (i % 50 == 49)
            CHECK_OK(tt_writer_flush(w));
    }
    CHECK_OK(tt_writer_flush(w));
    data = read_file(path, &len);
    tt_writer_abandon(w);
    write_file(cut, data, len);
    L = lines_of(cut, &r);
    CHECK_EQ(tt_lines_summary(L)->truncated, 1);
    CHECK_EQ_U64(tt_lines_summary(L)->open_at_end, 1);
    row_is(L, 0, c[F], TT_NO_LINE, 1, 10, 10);
    row_is(L, 0, c[F], 2, 100, 1000, 1000);
    row_is(L, 0, c[F], 3, 100, 990, 990);     /* the last one: 0 ns */
    tt_lines_free(L);
    tt_reader_close(r);
    for (size_t n = 0; n <= len; n += 7) {
        write_file(cut, data, n);
        if (tt_reader_open(&r, cut, 0) != 0)
            continue;
        CHECK_OK(tt_lines_analyze(r, &L));
        CHECK(L != NULL);
        rows_sorted(L);
        tt_lines_free(L);
        tt_reader_close(r);
    }
    free(data);
}

void test_alloc_fail_lines(void)
{
    const char *path = tmp_path("linesalloc.ttrace");
    uint64_t T = test_header()->start_tick;
    uint32_t c[N_CODES];
    tt_tbuf_t *b[2];
    tt_writer_t *w = open_lines(path, c, b, 2);
    tt_reader_t *r;
    tt_lines_t *L;
    long n, total;

    /* A deep stack (stack growth) and many lines (row and slot growth). */
    for (int i = 0; i < 300; i++) {
        tt_tbuf_call(b[0], T + 3 * (uint64_t)i, c[i % 3], 1);
        tt_tbuf_line(b[0], T + 3 * (uint64_t)i + 1, c[i % 3], 2 + i);
    }
    for (int i = 299; i >= 0; i--)
        tt_tbuf_return(b[0], T + 2000 - (uint64_t)i, c[i % 3], 1);
    tt_tbuf_call(b[1], T + 5, c[H], 20);
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_OK(tt_lines_analyze(r, &L));       /* warms the reader's caches */
    tt_lines_free(L);
    tt__alloc_fail_at(INT32_MAX, 0);
    CHECK_OK(tt_lines_analyze(r, &L));
    total = tt__alloc_count();
    tt__alloc_fail_at(0, 0);
    /* 300 line rows + 3 entry rows in thread 0, 1 in thread 1; all-thread
     * rows: 300 lines + 3 entries. */
    CHECK_EQ(tt_lines_summary(L)->n_rows, 304 + 303);
    tt_lines_free(L);
    CHECK(total > 5);
    for (n = 1; n <= total; n++) {
        int rc;
        tt__alloc_fail_at(n, 0);
        rc = tt_lines_analyze(r, &L);
        tt__alloc_fail_at(0, 0);
        CHECK_EQ(rc, TT_ENOMEM);
        CHECK(L == NULL);
    }
    CHECK_EQ(tt_lines_analyze(NULL, &L), TT_EINVAL);
    CHECK_EQ(tt_lines_analyze(r, NULL), TT_EINVAL);
    CHECK(tt_lines_summary(NULL) == NULL);
    CHECK(tt_lines_row(NULL, 0) == NULL);
    tt_lines_free(NULL);
    tt_reader_close(r);
}
