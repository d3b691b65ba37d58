/* test_coverage_branch.c - the arcs of full recordings (per
 * thread and frame, generator resumptions, entries and exits), the 0x83
 * arc-count chunk (round trip, bad arguments, a damaged chunk), statement
 * views with branches and every exporter's branch output, and allocation
 * failures throughout.
 */
#define _POSIX_C_SOURCE 200809L    /* open_memstream */
#include "tt_test.h"
#include "tt_internal.h"

/* /b/app.py:
 *   1  <module>            lines 1, 2, 8, 12
 *   2  def f(x):           f: 3 4 5
 *   3      if x:
 *   4          x = 1
 *   5      return x
 *   8  def g():            g (generator): 9 10
 *   9      yield 1
 *  10      yield 2
 */
enum { B_MOD, B_F, B_G, B_N };

static void define(tt_writer_t *w)
{
    static const tt_line_range_t r_mod[] = {{0, 2, 1}, {2, 4, 2}, {4, 6, 8},
                                            {6, 8, 12}};
    static const tt_line_range_t r_f[] = {{0, 2, 2}, {2, 4, 3}, {4, 6, 4},
                                          {6, 8, 5}};
    static const tt_line_range_t r_g[] = {{0, 2, 8}, {2, 4, 9}, {4, 6, 10}};
    static const struct {
        const char *name;
        int first, flags;
        const tt_line_range_t *r;
        uint32_t n;
    } c[B_N] = {
        {"<module>", 1, TT_CODE_TRACED, r_mod, 4},
        {"f", 2, TT_CODE_TRACED | TT_CODE_FUNCTION, r_f, 4},
        {"g", 8, TT_CODE_TRACED | TT_CODE_FUNCTION | TT_CODE_GENERATOR, r_g, 3},
    };
    uint32_t file, name, id;

    CHECK_OK(tt_writer_string(w, "/b/app.py", 9, &file));
    for (int i = 0; i < B_N; i++) {
        tt_code_def_t d = {0};
        CHECK_OK(tt_writer_string(w, c[i].name, strlen(c[i].name), &name));
        d.filename = file;
        d.qualname = name;
        d.firstlineno = c[i].first;
        d.flags = (uint32_t)c[i].flags;
        d.parent = i ? B_MOD : TT_NO_PARENT;
        d.n_ranges = c[i].n;
        d.ranges = c[i].r;
        CHECK_OK(tt_writer_code(w, &d, &id));
        CHECK_EQ(id, i);
    }
}

/* f(1), f(0) and both yields of g on the main thread; f(1) on a second
 * thread whose events interleave with the main thread's. */
static const char *write_full(const char *name)
{
    const char *path = tmp_path(name);
    tt_writer_t *w;
    tt_tbuf_t *a, *b;
    uint64_t t = 100;

    CHECK_OK(tt_writer_open(&w, path, test_header()));
    define(w);
    CHECK_OK(tt_writer_thread(w, 1, "MainThread", &a));
    CHECK_OK(tt_writer_thread(w, 2, "worker", &b));
    tt_tbuf_call(a, t++, B_MOD, 1);
    tt_tbuf_line(a, t++, B_MOD, 1);
    tt_tbuf_line(a, t++, B_MOD, 2);
    tt_tbuf_call(a, t++, B_F, 2);           /* f(1) */
    tt_tbuf_call(b, t++, B_F, 2);           /* worker: f(1) */
    tt_tbuf_line(a, t++, B_F, 3);
    tt_tbuf_line(b, t++, B_F, 3);
    tt_tbuf_line(a, t++, B_F, 4);
    tt_tbuf_line(b, t++, B_F, 4);
    tt_tbuf_line(a, t++, B_F, 5);
    tt_tbuf_line(b, t++, B_F, 5);
    tt_tbuf_return(a, t++, B_F, 5);
    tt_tbuf_return(b, t++, B_F, 5);
    tt_tbuf_call(a, t++, B_F, 2);           /* f(0) */
    tt_tbuf_line(a, t++, B_F, 3);
    tt_tbuf_line(a, t++, B_F, 5);
    tt_tbuf_return(a, t++, B_F, 5);
    tt_tbuf_line(a, t++, B_MOD, 8);
    tt_tbuf_call(a, t++, B_G, 8);           /* next(g): start */
    tt_tbuf_line(a, t++, B_G, 9);
    tt_tbuf_return(a, t++, B_G, 9);         /* yield 1 */
    tt_tbuf_call(a, t++, B_G, 9);           /* next(g): resumes at 9 */
    tt_tbuf_line(a, t++, B_G, 10);
    tt_tbuf_return(a, t++, B_G, 10);
    tt_tbuf_line(a, t++, B_MOD, 12);
    tt_tbuf_return(a, t++, B_MOD, 12);
    CHECK_OK(tt_writer_close(w));
    return path;
}

/* The arcs write_full's events make, by (from, to). */
static const tt_cov_arc_t ARCS[] = {
    {-8, 9, 1}, {-2, 3, 3}, {-1, 1, 1}, {1, 2, 1}, {2, 8, 1}, {3, 4, 2},
    {3, 5, 1}, {4, 5, 2}, {5, -2, 3}, {8, 12, 1}, {9, -8, 1}, {9, 10, 1},
    {10, -8, 1}, {12, -1, 1},
};
#define N_ARCS (sizeof ARCS / sizeof ARCS[0])

/* The same run as `--count --branch`: line counts and arc counts. */
static const char *write_counts(const char *name)
{
    static const uint64_t mod[] = {1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1};
    static const uint64_t f[] = {3, 2, 3};
    static const uint64_t g[] = {1, 1};
    const tt_count_table_t tabs[] = {
        {B_MOD, 1, 1, 12, mod}, {B_F, 3, 3, 3, f}, {B_G, 2, 9, 2, g},
    };
    static const tt_cov_arc_t a_mod[] = {{-1, 1, 1}, {1, 2, 1}, {2, 8, 1},
                                         {8, 12, 1}, {12, -1, 1}};
    static const tt_cov_arc_t a_f1[] = {{-2, 3, 2}, {3, 4, 2}, {4, 5, 2},
                                        {5, -2, 2}};
    static const tt_cov_arc_t a_f2[] = {{-2, 3, 1}, {3, 5, 1}, {5, -2, 1},
                                        {7, 7, 0}};   /* 0: not written */
    static const tt_cov_arc_t a_g[] = {{-8, 9, 1}, {9, -8, 1}, {9, 10, 1},
                                       {10, -8, 1}};
    /* f's arcs in two records (their counts add up), as capture writes
     * one per code and a file may hold several chunks. */
    const tt_code_arcs_t arcs[] = {
        {B_G, 4, a_g}, {B_F, 4, a_f1}, {B_MOD, 5, a_mod}, {B_F, 4, a_f2},
    };
    const char *path = tmp_path(name);
    tt_header_t h = *test_header();
    tt_writer_t *w;

    h.options = TT_OPT_CALLS | TT_OPT_COUNT;
    CHECK_OK(tt_writer_open(&w, path, &h));
    define(w);
    CHECK_OK(tt_writer_line_counts(w, tabs, 3));
    CHECK_OK(tt_writer_arc_counts(w, arcs, 4));
    CHECK_OK(tt_writer_close(w));
    return path;
}

static tt_coverage_t *load(const char *path, int arcs)
{
    tt_coverage_t *cov;
    tt_reader_t *r;
    CHECK_OK(tt_coverage_new(&cov));
    if (arcs)
        CHECK_OK(tt_coverage_want_arcs(cov));
    CHECK_OK(tt_reader_open(&r, path, TT_READ_MERGED));
    CHECK_OK(tt_coverage_add(cov, r));
    tt_reader_close(r);
    CHECK_OK(tt_coverage_finish(cov));
    return cov;
}

/* Every arc of ARCS that does not come from or go to g, whose arcs the
 * count fixture splits differently: all of them, compared exactly. */
static void check_arcs(const tt_cov_file_t *f)
{
    CHECK_EQ(f->n_arcs, N_ARCS);
    for (uint32_t k = 0; k < f->n_arcs; k++) {
        CHECK_EQ(f->arcs[k].from, ARCS[k].from);
        CHECK_EQ(f->arcs[k].to, ARCS[k].to);
        CHECK_EQ_U64(f->arcs[k].count, ARCS[k].count);
    }
}

void test_coverage_arcs_full(void)
{
    tt_coverage_t *cov = load(write_full("arcs.ttrace"), 1);
    const tt_cov_file_t *f = tt_coverage_file(cov, 0);

    CHECK_EQ(tt_coverage_n_files(cov), 1);
    check_arcs(f);
    /* The raw lines stay what the recording says. */
    CHECK_EQ(f->n_raw, f->n_lines);
    CHECK(f->raw_lines == f->lines);
    tt_coverage_free(cov);
    /* Without want_arcs nothing is collected. */
    cov = load(tmp_path("arcs.ttrace"), 0);
    CHECK_EQ(tt_coverage_file(cov, 0)->n_arcs, 0);
    tt_coverage_free(cov);
}

void test_coverage_arc_counts(void)
{
    const char *full = write_full("ac-full.ttrace");
    const char *cnt = write_counts("ac-count.ttrace");
    tt_coverage_t *a = load(full, 1), *b = load(cnt, 1);
    const tt_cov_file_t *fa = tt_coverage_file(a, 0);
    const tt_cov_file_t *fb = tt_coverage_file(b, 0);
    tt_arc_counts_t *ac;
    tt_reader_t *r;
    tt_writer_t *w;
    const tt_code_arcs_t bad = {B_N, 0, NULL};

    check_arcs(fb);
    CHECK_EQ(fa->n_lines, fb->n_lines);
    for (uint32_t k = 0; k < fa->n_lines; k++) {
        CHECK_EQ(fa->lines[k], fb->lines[k]);
        CHECK_EQ_U64(fa->hits[k], fb->hits[k]);
    }
    tt_coverage_free(a);
    tt_coverage_free(b);
    /* The records read back as written, in file order. */
    CHECK_OK(tt_reader_open(&r, cnt, TT_READ_MERGED));
    CHECK_OK(tt_arc_counts_read(r, &ac));
    CHECK_EQ(tt_arc_counts_n(ac), 4);
    CHECK_EQ(tt_arc_counts_get(ac, 3)->code, B_F);
    CHECK_EQ(tt_arc_counts_get(ac, 3)->n, 3);          /* the 0 left out */
    CHECK_EQ(tt_arc_counts_get(ac, 3)->arcs[2].to, -2);
    CHECK(tt_arc_counts_get(ac, 4) == NULL);
    CHECK_EQ(tt_arc_counts_bad_chunks(ac), 0);
    tt_arc_counts_free(ac);
    CHECK_EQ(tt_arc_counts_read(r, NULL), TT_EINVAL);
    tt_reader_close(r);
    /* Bad arguments write nothing. */
    CHECK_OK(tt_writer_open(&w, tmp_path("ac-bad.ttrace"), test_header()));
    define(w);
    CHECK_EQ(tt_writer_arc_counts(w, &bad, 1), TT_EINVAL);
    CHECK_EQ(tt_writer_arc_counts(NULL, &bad, 1), TT_EINVAL);
    CHECK_OK(tt_writer_arc_counts(w, NULL, 0));
    CHECK_OK(tt_writer_close(w));
}

/* A 0x83 chunk whose second record claims more arcs than its bytes hold:
 * the reader still opens the file (an ancillary chunk), the arc reader
 * keeps the first record and counts one bad chunk, and coverage counts it
 * as skipped. */
void test_coverage_arc_counts_damaged(void)
{
    static const uint8_t payload[] = {
        0x01, 0x01, 0x06, 0x02, 0x01,   /* f: 3 -> 4, once */
        0x01, 0x7F, 0x06, 0x02, 0x01,   /* f: 127 arcs in 3 bytes */
    };
    const char *path = tmp_path("ac-damaged.ttrace");
    tt_header_t h = *test_header();
    tt_arc_counts_t *ac;
    tt_coverage_t *cov;
    tt_reader_t *r;
    tt_writer_t *w;
    tt__anc o;

    h.options = TT_OPT_CALLS | TT_OPT_COUNT;
    CHECK_OK(tt_writer_open(&w, path, &h));
    define(w);
    CHECK_OK(tt__anc_open(&o, w, TT_CHUNK_ARC_COUNTS));
    CHECK_OK(tt__bytes_reserve(&o.b, sizeof payload + TT__CHUNK_TAIL));
    memcpy(o.b.p + o.b.len, payload, sizeof payload);
    o.b.len += sizeof payload;
    CHECK_OK(tt__anc_flush(&o));
    tt__anc_close(&o);
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, TT_READ_MERGED));
    CHECK_OK(tt_arc_counts_read(r, &ac));
    CHECK_EQ(tt_arc_counts_n(ac), 1);
    CHECK_EQ(tt_arc_counts_get(ac, 0)->arcs[0].from, 3);
    CHECK_EQ(tt_arc_counts_get(ac, 0)->arcs[0].to, 4);
    CHECK_EQ(tt_arc_counts_bad_chunks(ac), 1);
    tt_arc_counts_free(ac);
    CHECK_OK(tt_coverage_new(&cov));
    CHECK_OK(tt_coverage_want_arcs(cov));
    CHECK_OK(tt_coverage_add(cov, r));
    CHECK_OK(tt_coverage_finish(cov));
    CHECK_EQ_U64(tt_coverage_skipped(cov), 1);
    CHECK_EQ(tt_coverage_file(cov, 0)->n_arcs, 1);
    tt_coverage_free(cov);
    tt_reader_close(r);
}

/* ------------------------------------------------------------- views */

/* Statements 1 2 3 4 5 8 (4 never ran); branch line 3 with exits 4
 * (never taken) and 5; line 8 with an ignored exit and a taken one. */
static const int32_t V_LINES[] = {1, 2, 3, 4, 5, 8};
static const uint64_t V_HITS[] = {1, 1, 3, 0, 3, 1};
static const tt_cov_branch_t V_BR[] = {
    {3, 4, 0, 0}, {3, 5, 3, 0}, {8, -1, 0, TT_BRANCH_IGNORED}, {8, 12, 1, 0},
};
static const tt_cov_view_t VIEW = {6, V_LINES, V_HITS, 4, V_BR};

static void set_view(tt_coverage_t *cov)
{
    tt_coverage_set_branch(cov, 1);
    CHECK_OK(tt_coverage_set_view(cov, 0, &VIEW));
}

static char *export(const tt_coverage_t *cov, int kind)
{
    tt_cov_opts_t o = {1, "/b", "unit", "9.9", 1700000000000ull};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc;

    CHECK(f != NULL);
    if (kind == 0)
        rc = tt_coverage_write_text(cov, f, &o);
    else if (kind == 1)
        rc = tt_coverage_write_lcov(cov, f, &o);
    else if (kind == 2)
        rc = tt_coverage_write_json(cov, f);
    else
        rc = tt_coverage_write_cobertura(cov, f, &o);
    CHECK_OK(rc);
    CHECK(fclose(f) == 0);
    return buf;
}

void test_coverage_view_exports(void)
{
    tt_coverage_t *cov = load(write_full("view.ttrace"), 1);
    const tt_cov_file_t *f;
    tt_cov_summary_t t;
    char *s;
    static const int32_t unsorted[] = {2, 1};
    static const uint64_t zero[] = {0, 0};
    const tt_cov_view_t bad = {2, unsorted, zero, 0, NULL};

    CHECK_EQ(tt_coverage_set_view(cov, 0, &bad), TT_EINVAL);
    CHECK_EQ(tt_coverage_set_view(cov, 1, &bad), TT_EINVAL);
    set_view(cov);
    f = tt_coverage_file(cov, 0);
    /* 6 statements, 5 ran; 4 exits: 3->5 and 8->12 taken, 8->exit
     * ignored (counts as taken), 3->4 missed from a line that ran. */
    CHECK_EQ_U64(f->summary.executable, 6);
    CHECK_EQ_U64(f->summary.covered, 5);
    CHECK_EQ_U64(f->summary.branches, 4);
    CHECK_EQ_U64(f->summary.branches_hit, 3);
    CHECK_EQ_U64(f->summary.partial, 1);
    CHECK(f->raw_lines != f->lines && f->n_raw == 9);
    tt_coverage_totals(cov, &t);
    CHECK(tt_coverage_percent(&t) > 79.99 && tt_coverage_percent(&t) < 80.01);

    s = export(cov, 0);
    CHECK_STR(s,
        "File     Lines     Ran  Missed  Branch  BrPart   Cover   Missing\n"
        "----------------------------------------------------------------\n"
        "app.py       6       5       1       4       1   80.0%   4\n"
        "----------------------------------------------------------------\n"
        "TOTAL        6       5       1       4       1   80.0%\n");
    free(s);
    s = export(cov, 1);
    CHECK(strstr(s, "BRDA:3,0,0,0\nBRDA:3,0,1,3\nBRDA:8,0,1,1\n"
                    "BRF:3\nBRH:2\n") != NULL);
    free(s);
    s = export(cov, 2);
    CHECK(strstr(s, "\"executed_branches\": [[3, 5], [8, 12]], "
                    "\"missing_branches\": [[3, 4]]") != NULL);
    CHECK(strstr(s, "\"branches\": 4, \"branches_hit\": 3, "
                    "\"partial\": 1}") != NULL);
    CHECK(strstr(s, "\"executable\": [1, 2, 3, 4, 5, 8], ") != NULL);
    CHECK(strstr(s, "\"raw_lines\": [1, 2, 3, 4, 5, 8, 9, 10, 12]") != NULL);
    free(s);
    s = export(cov, 3);
    CHECK(strstr(s, "branches-covered=\"3\" branches-valid=\"4\" "
                    "branch-rate=\"0.75\"") != NULL);
    CHECK(strstr(s, "<line number=\"3\" hits=\"3\" branch=\"true\" "
                    "condition-coverage=\"50% (1/2)\"/>") != NULL);
    CHECK(strstr(s, "<line number=\"8\" hits=\"1\" branch=\"true\" "
                    "condition-coverage=\"100% (2/2)\"/>") != NULL);
    free(s);
    tt_coverage_free(cov);
}

void test_coverage_partial_arc_shown(void)
{
    /* A missed exit into a statement that ran is shown "3->5", as
     * coverage.py does; one into a missed line is not (the line is). */
    tt_coverage_t *cov = load(write_full("shown.ttrace"), 1);
    static const int32_t lines[] = {3, 4, 5};
    static const uint64_t hits[] = {2, 2, 2};
    static const tt_cov_branch_t br[] = {{3, 4, 2, 0}, {3, 5, 0, 0},
                                         {5, -2, 0, 0}, {5, 9, 2, 0}};
    const tt_cov_view_t v = {3, lines, hits, 4, br};
    char *s;

    tt_coverage_set_branch(cov, 1);
    CHECK_OK(tt_coverage_set_view(cov, 0, &v));
    s = export(cov, 0);
    CHECK(strstr(s, "  3->5, 5->exit\n") != NULL);
    free(s);
    tt_coverage_free(cov);
}

void test_coverage_retain_and_sources(void)
{
    tt_coverage_t *cov;
    tt_reader_t *r;
    uint8_t keep[2] = {0, 1};
    tt_cov_summary_t t;

    CHECK_OK(tt_coverage_new(&cov));
    CHECK_EQ(tt_coverage_add_source(cov, "<string>"), TT_EINVAL);
    CHECK_OK(tt_coverage_add_source(cov, "/b/zz_never.py"));
    CHECK_OK(tt_reader_open(&r, write_full("keep.ttrace"), TT_READ_MERGED));
    CHECK_OK(tt_coverage_add(cov, r));
    tt_reader_close(r);
    CHECK_OK(tt_coverage_finish(cov));
    CHECK_EQ(tt_coverage_n_files(cov), 2);
    CHECK_STR(tt_coverage_file(cov, 1)->path, "/b/zz_never.py");
    CHECK_EQ(tt_coverage_file(cov, 1)->n_lines, 0);
    CHECK_EQ(tt_coverage_retain(cov, keep, 1), TT_EINVAL);
    CHECK_OK(tt_coverage_retain(cov, keep, 2));
    CHECK_EQ(tt_coverage_n_files(cov), 1);
    tt_coverage_totals(cov, &t);
    CHECK_EQ(t.files, 1);
    CHECK_EQ_U64(t.executable, 0);
    CHECK(tt_coverage_percent(&t) == 100.0);
    tt_coverage_free(cov);
}

void test_alloc_fail_coverage_branch(void)
{
    const char *p[2];
    char *want, *got = NULL;
    int failed_any = 1;

    p[0] = write_full("afb1.ttrace");
    p[1] = write_counts("afb2.ttrace");
    {
        tt_coverage_t *cov;
        tt_reader_t *r;
        CHECK_OK(tt_coverage_new(&cov));
        CHECK_OK(tt_coverage_want_arcs(cov));
        for (int i = 0; i < 2; i++) {
            CHECK_OK(tt_reader_open(&r, p[i], TT_READ_MERGED));
            CHECK_OK(tt_coverage_add(cov, r));
            tt_reader_close(r);
        }
        CHECK_OK(tt_coverage_finish(cov));
        set_view(cov);
        want = export(cov, 1);
        tt_coverage_free(cov);
    }
    for (long n = 1; failed_any; n++) {
        tt_coverage_t *cov = NULL;
        tt_reader_t *r[2] = {NULL, NULL};
        int rc;

        for (int i = 0; i < 2; i++)
            CHECK_OK(tt_reader_open(&r[i], p[i], TT_READ_MERGED));
        tt__alloc_fail_at(n, 0);
        rc = tt_coverage_new(&cov);
        if (rc == 0)
            rc = tt_coverage_want_arcs(cov);
        for (int i = 0; i < 2 && rc == 0; i++)
            rc = tt_coverage_add(cov, r[i]);
        if (rc == 0)
            rc = tt_coverage_finish(cov);
        if (rc == 0) {
            tt_coverage_set_branch(cov, 1);
            rc = tt_coverage_set_view(cov, 0, &VIEW);
        }
        failed_any = tt__alloc_count() >= n;
        tt__alloc_fail_at(0, 0);
        if (rc == 0) {
            free(got);
            got = export(cov, 1);
            CHECK_STR(got, want);
        } else {
            CHECK_EQ(rc, TT_ENOMEM);
            CHECK(failed_any);
        }
        tt_coverage_free(cov);
        for (int i = 0; i < 2; i++)
            tt_reader_close(r[i]);
    }
    free(want);
    free(got);
}
