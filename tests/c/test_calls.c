/* test_calls.c - the call analysis on hand-made recordings
 * whose answers are worked out here by hand: exclusive and inclusive
 * time, cProfile's primitive calls and cumtime under recursion,
 * callers/callees, generator resumptions, lost RETURNs, DROPPED events,
 * frames open at the end, a cut file, and allocation failures.
 * The test header's clock runs at 1 GHz, so a tick is a nanosecond.
 */
#include "tt_test.h"

enum { F, G, H, GEN, N_CODES };

/* Writer with codes f (line 1), g (10), h (20) and a generator gen (30,
 * whose offset 0 is at line 30) and two threads. */
static tt_writer_t *open_calls(const char *path, uint32_t *code,
                               tt_tbuf_t **b0, tt_tbuf_t **b1)
{
    static const tt_line_range_t rgen[] = {{0, 4, 30}, {4, 20, 31},
                                           {20, 40, 32}};
    static const char *names[N_CODES] = {"f", "g", "h", "gen"};
    tt_writer_t *w;
    uint32_t file;

    CHECK_OK(tt_writer_open(&w, path, test_header()));
    CHECK_OK(tt_writer_string(w, "app.py", 6, &file));
    for (int i = 0; i < N_CODES; i++)
        code[i] = i == GEN ? test_code(w, file, names[i], 30,
                                       TT_CODE_GENERATOR, rgen, 3)
                           : test_code(w, file, names[i], 1 + 10 * i, 0,
                                       NULL, 0);
    CHECK_OK(tt_writer_thread(w, 1, "MainThread", b0));
    if (b1)
        CHECK_OK(tt_writer_thread(w, 2, "worker", b1));
    return w;
}

static tt_calls_t *analyze(const char *path, tt_reader_t **rp)
{
    tt_reader_t *r;
    tt_calls_t *c;
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_OK(tt_calls_analyze(r, &c));
    *rp = r;
    return c;
}

static const tt_callstat_t *func(const tt_calls_t *c, uint32_t thread,
                                 uint32_t code)
{
    const tt_callstat_t *f;
    for (uint32_t i = 0; (f = tt_calls_function(c, i)) != NULL; i++)
        if (f->thread == thread && f->code == code)
            return f;
    TT_TEST_FAIL("no row for code %u in thread %u", code, thread);
    return NULL;
}

static const tt_calledge_t *edge(const tt_calls_t *c, uint32_t thread,
                                 uint32_t caller, uint32_t callee)
{
    const tt_calledge_t *e;
    for (uint32_t i = 0; (e = tt_calls_edge(c, i)) != NULL; i++)
        if (e->thread == thread && e->caller == caller && e->callee == callee)
            return e;
    TT_TEST_FAIL("no edge %u -> %u in thread %u", caller, callee, thread);
    return NULL;
}

/* Contract (tt_test.h); with a LINE and an EXCEPTION event that the
 * analysis must skip. */
void calls_basic_events(tt_tbuf_t *b0, tt_tbuf_t *b1, uint32_t f,
                        uint32_t g, uint32_t h)
{
    uint64_t T = test_header()->start_tick;
    tt_tbuf_call(b0, T + 0, f, 1);
    tt_tbuf_line(b0, T + 1, f, 2);
    tt_tbuf_call(b0, T + 10, g, 10);
    tt_tbuf_call(b0, T + 20, h, 20);
    tt_tbuf_return(b0, T + 25, h, 21);
    tt_tbuf_return(b0, T + 40, g, 11);
    tt_tbuf_call(b1, T + 5, h, 20);
    tt_tbuf_return(b1, T + 8, h, 21);
    tt_tbuf_call(b0, T + 50, g, 10);
    tt_tbuf_exception(b0, T + 55, g, 11, 0);
    tt_tbuf_return(b0, T + 60, g, 11);
    tt_tbuf_return(b0, T + 100, f, 3);
}

/* The basic scenario (calls_basic_events). */
void test_calls_basic_times(void)
{
    const char *path = tmp_path("calls1.ttrace");
    uint32_t code[N_CODES];
    tt_tbuf_t *b0, *b1;
    tt_writer_t *w = open_calls(path, code, &b0, &b1);
    const tt_callstat_t *f;
    const tt_calledge_t *e;
    const tt_callnode_t *n;
    tt_reader_t *r;
    tt_calls_t *c;
    uint64_t tot = 0;

    calls_basic_events(b0, b1, code[F], code[G], code[H]);
    CHECK_OK(tt_writer_close(w));
    c = analyze(path, &r);

    CHECK_EQ(tt_calls_summary(c)->truncated, 0);
    CHECK_EQ(tt_calls_summary(c)->has_calls, 1);
    CHECK_EQ_U64(tt_calls_summary(c)->activations, 5);
    CHECK_EQ_U64(tt_calls_summary(c)->open_at_end, 0);
    CHECK_EQ_U64(tt_calls_summary(c)->unmatched_returns, 0);
    f = func(c, 0, code[F]);
    CHECK_EQ_U64(f->calls, 1);
    CHECK_EQ_U64(f->cumtime_ns, 100);
    CHECK_EQ_U64(f->tottime_ns, 100 - 30 - 10);
    f = func(c, 0, code[G]);
    CHECK_EQ_U64(f->calls, 2);
    CHECK_EQ_U64(f->prim_calls, 2);
    CHECK_EQ_U64(f->cumtime_ns, 40);
    CHECK_EQ_U64(f->tottime_ns, 35);
    CHECK_EQ_U64(f->min_ns, 10);
    CHECK_EQ_U64(f->max_ns, 30);
    f = func(c, TT_CALLS_ALL_THREADS, code[H]);
    CHECK_EQ_U64(f->calls, 2);
    CHECK_EQ_U64(f->tottime_ns, 8);
    CHECK_EQ_U64(func(c, 1, code[H])->cumtime_ns, 3);
    e = edge(c, 0, code[F], code[G]);
    CHECK_EQ_U64(e->calls, 2);
    CHECK_EQ_U64(e->cumtime_ns, 40);
    e = edge(c, TT_CALLS_ALL_THREADS, TT_NO_CODE, code[H]);
    CHECK_EQ_U64(e->calls, 1);            /* thread 1's root */
    CHECK_EQ_U64(tt_calls_thread(c, 0)->traced_ns, 100);
    CHECK_EQ_U64(tt_calls_thread(c, 1)->traced_ns, 3);
    CHECK_EQ_U64(tt_calls_summary(c)->traced_ns, 103);
    /* Tree: 4 nodes (f, f;g, f;g;h, and h in thread 1), parents first,
     * and the tottimes sum to the traced time. */
    CHECK_EQ(tt_calls_summary(c)->n_nodes, 4);
    for (uint32_t i = 0; (n = tt_calls_node(c, i)) != NULL; i++) {
        CHECK(n->parent == TT_CALLS_NO_NODE || n->parent < i);
        CHECK(n->cumtime_ns >= n->tottime_ns);
        tot += n->tottime_ns;
    }
    CHECK_EQ_U64(tot, 103);
    CHECK(tt_calls_node(c, 4) == NULL);
    CHECK(tt_calls_thread(c, 2) == NULL);
    tt_calls_free(c);
    tt_reader_close(r);
}

/* f -> f -> g -> f: cProfile counts 3 calls of f, 1 primitive; cumtime
 * only for the outermost; the f -> f edge once primitive. */
void test_calls_recursion(void)
{
    const char *path = tmp_path("calls2.ttrace");
    uint64_t T = test_header()->start_tick;
    uint32_t code[N_CODES];
    tt_tbuf_t *b0;
    tt_writer_t *w = open_calls(path, code, &b0, NULL);
    const tt_callstat_t *f;
    const tt_calledge_t *e;
    tt_reader_t *r;
    tt_calls_t *c;

    tt_tbuf_call(b0, T + 0, code[F], 1);       /* f1 [0, 100] */
    tt_tbuf_call(b0, T + 10, code[F], 1);      /* f2 [10, 90] */
    tt_tbuf_call(b0, T + 20, code[G], 10);     /* g [20, 80] */
    tt_tbuf_call(b0, T + 30, code[F], 1);      /* f3 [30, 40] */
    tt_tbuf_call(b0, T + 32, code[F], 1);      /* f4 [32, 35] */
    tt_tbuf_return(b0, T + 35, code[F], 2);
    tt_tbuf_return(b0, T + 40, code[F], 2);
    tt_tbuf_return(b0, T + 80, code[G], 11);
    tt_tbuf_return(b0, T + 90, code[F], 2);
    tt_tbuf_return(b0, T + 100, code[F], 2);
    CHECK_OK(tt_writer_close(w));
    c = analyze(path, &r);
    f = func(c, 0, code[F]);
    CHECK_EQ_U64(f->calls, 4);
    CHECK_EQ_U64(f->prim_calls, 1);
    CHECK_EQ_U64(f->cumtime_ns, 100);
    /* f's own time: 100 - 60 (g) = 40; f3: 10 - 3 = 7; f4: 3. */
    CHECK_EQ_U64(f->tottime_ns, 40 + 7 + 3);
    CHECK_EQ_U64(f->min_ns, 3);
    CHECK_EQ_U64(f->max_ns, 100);
    f = func(c, 0, code[G]);
    CHECK_EQ_U64(f->cumtime_ns, 60);
    CHECK_EQ_U64(f->tottime_ns, 50);
    /* f -> f: f2 (pair new) and f4 (pair f->f already on the stack). */
    e = edge(c, 0, code[F], code[F]);
    CHECK_EQ_U64(e->calls, 2);
    CHECK_EQ_U64(e->prim_calls, 1);
    CHECK_EQ_U64(e->cumtime_ns, 80);
    e = edge(c, 0, code[G], code[F]);
    CHECK_EQ_U64(e->calls, 1);
    CHECK_EQ_U64(e->prim_calls, 1);         /* the pair is new... */
    CHECK_EQ_U64(e->cumtime_ns, 10);        /* ...so its time counts */
    CHECK_EQ_U64(tt_calls_thread(c, 0)->traced_ns, 100);
    tt_calls_free(c);
    tt_reader_close(r);
}

/* gen created by f (CALL at line 30), yields (RETURN at 31), resumed at
 * 31 by f and later by g, finishes at 32. Suspended time is not its. */
void test_calls_generator(void)
{
    const char *path = tmp_path("calls3.ttrace");
    uint64_t T = test_header()->start_tick;
    uint32_t code[N_CODES];
    tt_tbuf_t *b0;
    tt_writer_t *w = open_calls(path, code, &b0, NULL);
    const tt_callstat_t *f;
    tt_reader_t *r;
    tt_calls_t *c;

    tt_tbuf_call(b0, T + 0, code[F], 1);
    tt_tbuf_call(b0, T + 10, code[GEN], 30);   /* creation: [10, 15] */
    tt_tbuf_return(b0, T + 15, code[GEN], 31);
    tt_tbuf_call(b0, T + 40, code[GEN], 31);   /* resumption: [40, 42] */
    tt_tbuf_return(b0, T + 42, code[GEN], 31);
    tt_tbuf_call(b0, T + 50, code[G], 10);
    tt_tbuf_call(b0, T + 60, code[GEN], 31);   /* resumption: [60, 70] */
    tt_tbuf_return(b0, T + 70, code[GEN], 32);
    tt_tbuf_return(b0, T + 80, code[G], 11);
    tt_tbuf_return(b0, T + 100, code[F], 2);
    CHECK_OK(tt_writer_close(w));
    c = analyze(path, &r);
    f = func(c, 0, code[GEN]);
    CHECK_EQ_U64(f->calls, 1);
    CHECK_EQ_U64(f->resumes, 2);
    CHECK_EQ_U64(f->prim_resumes, 2);
    CHECK_EQ_U64(f->tottime_ns, 5 + 2 + 10);
    CHECK_EQ_U64(f->cumtime_ns, 17);
    CHECK_EQ_U64(edge(c, 0, code[G], code[GEN])->resumes, 1);
    CHECK_EQ_U64(edge(c, 0, code[F], code[GEN])->calls, 1);
    CHECK_EQ_U64(func(c, 0, code[F])->tottime_ns, 100 - 5 - 2 - 30);
    tt_calls_free(c);
    tt_reader_close(r);
}

/* Lost RETURNs (f -> g -> h, then f returns), a RETURN with no CALL, a
 * DROPPED event closing the stack, and frames open at the end. */
void test_calls_unwinding_and_drops(void)
{
    const char *path = tmp_path("calls4.ttrace");
    uint64_t T = test_header()->start_tick;
    uint32_t code[N_CODES];
    tt_tbuf_t *b0, *b1;
    tt_writer_t *w = open_calls(path, code, &b0, &b1);
    const tt_calls_summary_t *s;
    const tt_calls_thread_t *ti;
    tt_reader_t *r;
    tt_calls_t *c;

    tt_tbuf_return(b0, T + 1, code[H], 20);   /* entered before: ignored */
    tt_tbuf_call(b0, T + 10, code[F], 1);
    tt_tbuf_call(b0, T + 20, code[G], 10);
    tt_tbuf_call(b0, T + 30, code[H], 20);
    tt_tbuf_return(b0, T + 50, code[F], 2);   /* g and h close at 50 */
    /* Thread 1: g open, events lost to a failed write, then more. */
    tt_tbuf_call(b1, T + 10, code[G], 10);
    CHECK_OK(tt_writer_flush(w));
    tt_tbuf_line(b1, T + 20, code[G], 11);
    tt__io_fail_at(1, 0);
    tt_writer_flush(w);
    tt__io_fail_at(0, 0);
    tt_tbuf_call(b1, T + 40, code[H], 20);    /* DROPPED(1) goes first */
    tt_tbuf_return(b1, T + 45, code[H], 21);
    tt_tbuf_return(b1, T + 47, code[G], 11);  /* g was closed: unmatched */
    tt_tbuf_call(b1, T + 60, code[F], 1);     /* open at the end */
    tt_tbuf_line(b1, T + 75, code[F], 2);
    CHECK_EQ(tt_writer_close(w), TT_EIO);     /* the failed write, remembered */
    c = analyze(path, &r);
    s = tt_calls_summary(c);
    ti = tt_calls_thread(c, 0);
    CHECK_EQ_U64(ti->unmatched_returns, 1);
    CHECK_EQ_U64(ti->mismatched, 2);
    CHECK_EQ_U64(ti->traced_ns, 40);
    CHECK_EQ_U64(func(c, 0, code[H])->cumtime_ns, 20);
    CHECK_EQ_U64(func(c, 0, code[G])->cumtime_ns, 30);
    CHECK_EQ_U64(func(c, 0, code[F])->tottime_ns, 10);
    ti = tt_calls_thread(c, 1);
    CHECK_EQ_U64(ti->dropped, 1);
    CHECK_EQ_U64(ti->closed_at_drop, 1);
    CHECK_EQ_U64(ti->unmatched_returns, 1);
    CHECK_EQ_U64(ti->open_at_end, 1);
    CHECK_EQ_U64(ti->traced_ns, 30 + 5 + 15); /* g closed at the drop, f at
                                                 its last event */
    CHECK_EQ_U64(func(c, 1, code[F])->cumtime_ns, 15);
    CHECK_EQ_U64(s->dropped, 1);
    CHECK_EQ_U64(s->open_at_end, 1);
    CHECK_EQ(s->truncated, 0);
    tt_calls_free(c);
    tt_reader_close(r);
}

/* A recording cut by a kill: frames close at the last event, and the
 * summary says the file was truncated. Every prefix must analyse. */
void test_calls_cut_file(void)
{
    const char *path = tmp_path("calls5.ttrace");
    const char *cut = tmp_path("calls5cut.ttrace");
    uint64_t T = test_header()->start_tick;
    uint32_t code[N_CODES];
    tt_tbuf_t *b0;
    tt_writer_t *w = open_calls(path, code, &b0, NULL);
    tt_reader_t *r;
    tt_calls_t *c;
    uint8_t *data;
    size_t len;

    tt_tbuf_call(b0, T + 0, code[F], 1);
    for (int i = 0; i < 200; i++) {
        tt_tbuf_call(b0, T + 10 + 10 * (uint64_t)i, code[G], 10);
        tt_tbuf_return(b0, T + 15 + 10 * (uint64_t)i, code[G], 11);
        if (i % 50 == 49)
            CHECK_OK(tt_writer_flush(w));
    }
    CHECK_OK(tt_writer_flush(w));
    data = read_file(path, &len);
    tt_writer_abandon(w);                      /* a kill: no END chunk */
    write_file(cut, data, len);
    c = analyze(cut, &r);
    CHECK_EQ(tt_calls_summary(c)->truncated, 1);
    CHECK_EQ_U64(tt_calls_summary(c)->open_at_end, 1);
    CHECK_EQ_U64(func(c, 0, code[G])->calls, 200);
    CHECK_EQ_U64(func(c, 0, code[F])->cumtime_ns, 10 + 10 * 199 + 5);
    tt_calls_free(c);
    tt_reader_close(r);
    for (size_t n = 0; n <= len; n += 7) {
        int rc;
        write_file(cut, data, n);
        if (tt_reader_open(&r, cut, 0) != 0)
            continue;
        rc = tt_calls_analyze(r, &c);
        CHECK_OK(rc);
        CHECK(c != NULL);
        tt_calls_free(c);
        tt_reader_close(r);
    }
    free(data);
}

void test_alloc_fail_calls(void)
{
    const char *path = tmp_path("callsalloc.ttrace");
    uint64_t T = test_header()->start_tick;
    uint32_t code[N_CODES];
    tt_tbuf_t *b0, *b1;
    tt_writer_t *w = open_calls(path, code, &b0, &b1);
    tt_reader_t *r;
    tt_calls_t *c;
    long n, total;

    /* Deep recursion (stack and node growth) and many distinct paths. */
    for (int i = 0; i < 300; i++)
        tt_tbuf_call(b0, T + (uint64_t)i, code[i % 3], 1);
    for (int i = 299; i >= 0; i--)
        tt_tbuf_return(b0, T + 600 - (uint64_t)i, code[i % 3], 1);
    tt_tbuf_call(b1, T + 5, code[H], 20);
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_OK(tt_calls_analyze(r, &c));     /* warms the reader's own caches */
    tt_calls_free(c);
    tt__alloc_fail_at(INT32_MAX, 0);
    CHECK_OK(tt_calls_analyze(r, &c));
    total = tt__alloc_count();
    tt__alloc_fail_at(0, 0);
    CHECK_EQ(tt_calls_summary(c)->n_nodes, 301);
    tt_calls_free(c);
    CHECK(total > 5);
    for (n = 1; n <= total; n++) {
        int rc;
        tt__alloc_fail_at(n, 0);
        rc = tt_calls_analyze(r, &c);
        tt__alloc_fail_at(0, 0);
        CHECK_EQ(rc, TT_ENOMEM);
        CHECK(c == NULL);
    }
    CHECK_EQ(tt_calls_analyze(NULL, &c), TT_EINVAL);
    CHECK_EQ(tt_calls_analyze(r, NULL), TT_EINVAL);
    CHECK(tt_calls_summary(NULL) == NULL);
    tt_calls_free(NULL);
    tt_reader_close(r);
}

/* --c-calls: C functions are CODE records flagged TT_CODE_CFUNCTION
 * (file "<built-in>", firstlineno 0, no ranges) whose CALL/RETURN are
 * c_call/c_return and whose EXCEPTION (c_exception) ends the call.
 * f [0,100] calls the C function sorted [10,50], which calls back g
 * [20,30]; then the C function pop [60,70] raises (EXCEPTION, no RETURN),
 * and f's own EXCEPTION at 75 ends nothing. The flags and events survive
 * the file, the times are the hand-worked ones, and coverage lists
 * neither C function nor their file. */
void test_calls_cfunctions(void)
{
    const char *path = tmp_path("calls_cfunc.ttrace");
    uint64_t T = test_header()->start_tick;
    uint32_t code[N_CODES], builtin, s_sorted, s_pop, empty, c_sorted, c_pop;
    tt_tbuf_t *b0;
    tt_writer_t *w = open_calls(path, code, &b0, NULL);
    tt_code_def_t cd;
    const tt_code_def_t *def;
    const tt_callstat_t *f;
    const tt_calledge_t *e;
    tt_reader_t *r;
    tt_calls_t *c;
    tt_event_t ev;
    tt_coverage_t *cov;
    tt_cov_summary_t tot;
    int kinds[16], n = 0;

    CHECK_OK(tt_writer_string(w, "<built-in>", 10, &builtin));
    CHECK_OK(tt_writer_string(w, "builtins.sorted", 15, &s_sorted));
    CHECK_OK(tt_writer_string(w, "dict.pop", 8, &s_pop));
    CHECK_OK(tt_writer_string(w, "", 0, &empty));
    memset(&cd, 0, sizeof cd);
    cd.filename = builtin;
    cd.qualname = s_sorted;
    cd.flags = TT_CODE_CFUNCTION;
    cd.parent = TT_NO_PARENT;
    CHECK_OK(tt_writer_code(w, &cd, &c_sorted));
    cd.qualname = s_pop;
    CHECK_OK(tt_writer_code(w, &cd, &c_pop));

    tt_tbuf_call(b0, T + 0, code[F], 1);
    tt_tbuf_call(b0, T + 10, c_sorted, 2);       /* the caller's line */
    tt_tbuf_call(b0, T + 20, code[G], 10);
    tt_tbuf_return(b0, T + 30, code[G], 11);
    tt_tbuf_return(b0, T + 50, c_sorted, 2);
    tt_tbuf_call(b0, T + 60, c_pop, 3);
    tt_tbuf_exception(b0, T + 70, c_pop, 3, empty);
    tt_tbuf_exception(b0, T + 75, code[F], 3, empty);
    tt_tbuf_return(b0, T + 100, code[F], 4);
    CHECK_OK(tt_writer_close(w));

    c = analyze(path, &r);
    def = tt_reader_code(r, c_sorted);
    CHECK(def != NULL);
    CHECK_EQ(def->flags, TT_CODE_CFUNCTION);
    CHECK_EQ(def->firstlineno, 0);
    CHECK_EQ(def->n_ranges, 0);
    CHECK_STR(tt_reader_string(r, def->filename), "<built-in>");
    CHECK_STR(tt_reader_string(r, def->qualname), "builtins.sorted");
    CHECK_OK(tt_reader_select_thread(r, UINT32_MAX));
    while (tt_reader_next(r, &ev) == 1 && n < 16) {
        kinds[n++] = ev.kind;
        if (ev.code == c_sorted || ev.code == c_pop)
            CHECK_EQ(ev.line, ev.code == c_sorted ? 2 : 3);
    }
    CHECK_EQ(n, 9);
    CHECK_EQ(kinds[1], TT_EV_CALL);
    CHECK_EQ(kinds[4], TT_EV_RETURN);
    CHECK_EQ(kinds[6], TT_EV_EXCEPTION);

    CHECK_EQ_U64(tt_calls_summary(c)->activations, 4);
    CHECK_EQ_U64(tt_calls_summary(c)->unmatched_returns, 0);
    CHECK_EQ_U64(tt_calls_summary(c)->mismatched, 0);
    CHECK_EQ_U64(tt_calls_summary(c)->open_at_end, 0);
    f = func(c, 0, c_sorted);
    CHECK_EQ_U64(f->calls, 1);
    CHECK_EQ_U64(f->cumtime_ns, 40);
    CHECK_EQ_U64(f->tottime_ns, 30);
    f = func(c, 0, c_pop);
    CHECK_EQ_U64(f->calls, 1);
    CHECK_EQ_U64(f->tottime_ns, 10);
    f = func(c, 0, code[F]);
    CHECK_EQ_U64(f->cumtime_ns, 100);
    CHECK_EQ_U64(f->tottime_ns, 100 - 40 - 10);
    e = edge(c, 0, c_sorted, code[G]);
    CHECK_EQ_U64(e->calls, 1);
    CHECK_EQ_U64(e->cumtime_ns, 10);
    e = edge(c, 0, code[F], c_pop);
    CHECK_EQ_U64(e->calls, 1);
    tt_calls_free(c);

    CHECK_OK(tt_coverage_new(&cov));
    CHECK_OK(tt_coverage_add(cov, r));
    CHECK_OK(tt_coverage_finish(cov));
    for (uint32_t i = 0; i < tt_coverage_n_files(cov); i++)
        CHECK(strcmp(tt_coverage_file(cov, i)->path, "<built-in>") != 0);
    tt_coverage_totals(cov, &tot);
    CHECK_EQ_U64(tot.functions, N_CODES);
    tt_coverage_free(cov);
    tt_reader_close(r);
}
