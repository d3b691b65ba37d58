/* test_coverage.c - the 0x80 line-count chunk (round trip, bad
 * arguments, crafted and damaged chunks), the coverage analysis over full
 * and --count recordings (they must agree), merging, every exporter's exact
 * output, and allocation failures throughout.
 */
#define _POSIX_C_SOURCE 200809L    /* open_memstream, fmemopen */
#include "tt_test.h"
#include "tt_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* ------------------------------------------------------------ fixture */

/* Code ids of the sample program (see define_codes). */
enum { C_MOD, C_F, C_G, C_LAM1, C_LAM2, C_PMOD, C_K, C_STR, C_LIB, N_CODES };

#define FN (TT_CODE_TRACED | TT_CODE_FUNCTION)

/* /src/app.py: <module> (lines 0 1 2 5 9), f (2 3 4), g (5 6 7, never
 * called), two lambdas (9 and 10); /src/pkg/mod.py: <module> (1 2), k (2 3,
 * never called); "<string>" (a pseudo file) and an untraced /lib/x.py. */
static void define_codes(tt_writer_t *w)
{
    static const tt_line_range_t r_mod[] = {{0, 2, 0}, {2, 6, 1}, {6, 10, 2},
                                            {10, 14, 5}, {14, 20, 9}};
    static const tt_line_range_t r_f[] = {{0, 2, 2}, {2, 8, 3}, {8, 12, 4},
                                          {12, 14, 3}};
    static const tt_line_range_t r_g[] = {{0, 2, 5}, {2, 4, 6}, {4, 6, 7}};
    static const tt_line_range_t r_l1[] = {{0, 4, 9}};
    static const tt_line_range_t r_l2[] = {{0, 4, 10}, {4, 6, TT_NO_LINE}};
    static const tt_line_range_t r_pm[] = {{0, 2, 1}, {2, 4, 2}};
    static const tt_line_range_t r_k[] = {{0, 2, 2}, {2, 4, 3}};
    static const tt_line_range_t r_one[] = {{0, 2, 1}};
    const char *names[] = {"/src/app.py", "<module>", "f", "g", "<lambda>",
                           "/src/pkg/mod.py", "k", "<string>", "/lib/x.py"};
    uint32_t s[9], id;
    struct {
        int file, name, first, flags, parent;
        const tt_line_range_t *r;
        uint32_t n;
    } c[N_CODES] = {
        {0, 1, 1, TT_CODE_TRACED, -1, r_mod, 5},
        {0, 2, 2, FN, C_MOD, r_f, 4},
        {0, 3, 5, FN | TT_CODE_GENERATOR, C_MOD, r_g, 3},
        {0, 4, 9, FN, C_MOD, r_l1, 1},
        {0, 4, 10, FN, C_MOD, r_l2, 2},
        {5, 1, 1, TT_CODE_TRACED, -1, r_pm, 2},
        {5, 6, 2, FN, C_PMOD, r_k, 2},
        {7, 1, 1, TT_CODE_TRACED, -1, r_one, 1},
        {8, 1, 1, 0, -1, r_one, 1},
    };

    for (int i = 0; i < 9; i++)
        CHECK_OK(tt_writer_string(w, names[i], strlen(names[i]), &s[i]));
    for (int i = 0; i < N_CODES; i++) {
        tt_code_def_t d = {0};
        d.filename = s[c[i].file];
        d.qualname = s[c[i].name];
        d.firstlineno = c[i].first;
        d.flags = (uint32_t)c[i].flags;
        d.parent = c[i].parent < 0 ? TT_NO_PARENT : (uint32_t)c[i].parent;
        d.n_ranges = c[i].n;
        d.ranges = c[i].r;
        CHECK_OK(tt_writer_code(w, &d, &id));
        CHECK_EQ(id, i);
    }
}

/* The sample program as a full recording: two threads. */
static const char *write_full(const char *name)
{
    const char *path = tmp_path(name);
    tt_writer_t *w;
    tt_tbuf_t *b0, *b1;
    uint64_t t = 2000;

    CHECK_OK(tt_writer_open(&w, path, test_header()));
    define_codes(w);
    CHECK_OK(tt_writer_thread(w, 1, "MainThread", &b0));
    CHECK_OK(tt_writer_thread(w, 2, "worker", &b1));
    tt_tbuf_call(b0, t++, C_MOD, 1);
    tt_tbuf_line(b0, t++, C_MOD, 1);
    tt_tbuf_line(b0, t++, C_MOD, 2);
    tt_tbuf_call(b0, t++, C_F, 2);
    for (int i = 0; i < 2; i++) {
        tt_tbuf_line(b0, t++, C_F, 3);
        tt_tbuf_line(b0, t++, C_F, 4);
    }
    tt_tbuf_return(b0, t++, C_F, 4);
    tt_tbuf_line(b0, t++, C_MOD, 5);
    tt_tbuf_line(b0, t++, C_MOD, 9);
    tt_tbuf_call(b0, t++, C_LAM1, 9);
    tt_tbuf_line(b0, t++, C_LAM1, 9);
    tt_tbuf_return(b0, t++, C_LAM1, 9);
    tt_tbuf_call(b0, t++, C_PMOD, 1);
    tt_tbuf_line(b0, t++, C_PMOD, 1);
    tt_tbuf_line(b0, t++, C_PMOD, 2);
    tt_tbuf_return(b0, t++, C_PMOD, 2);
    tt_tbuf_call(b0, t++, C_STR, 1);
    tt_tbuf_line(b0, t++, C_STR, 1);
    tt_tbuf_return(b0, t++, C_STR, 1);
    tt_tbuf_return(b0, t++, C_MOD, 9);
    tt_tbuf_call(b1, t++, C_F, 2);
    tt_tbuf_line(b1, t++, C_F, 3);
    tt_tbuf_line(b1, t++, C_F, 4);
    tt_tbuf_return(b1, t++, C_F, 4);
    CHECK_OK(tt_writer_close(w));
    return path;
}

/* The same program as a --count recording: flat tables, no events. */
static const char *write_counts(const char *name)
{
    const char *path = tmp_path(name);
    static const uint64_t mod[] = {1, 1, 0, 0, 1, 0, 0, 0, 1};  /* 1..9 */
    static const uint64_t f[] = {0, 3, 3};                      /* 2..4 */
    static const uint64_t lam[] = {1};
    static const uint64_t pmod[] = {1, 1};
    static const uint64_t str[] = {1};
    static const uint64_t none[] = {0, 0, 0};
    const tt_count_table_t tabs[] = {
        {C_MOD, 1, 1, 9, mod}, {C_F, 2, 2, 3, f}, {C_G, 0, 5, 3, none},
        {C_LAM1, 1, 9, 1, lam}, {C_PMOD, 1, 1, 2, pmod},
        {C_STR, 1, 1, 1, str},
    };
    tt_header_t h = *test_header();
    tt_writer_t *w;

    h.options = TT_OPT_CALLS | TT_OPT_COUNT;
    CHECK_OK(tt_writer_open(&w, path, &h));
    define_codes(w);
    CHECK_OK(tt_writer_line_counts(w, tabs, sizeof tabs / sizeof tabs[0]));
    CHECK_OK(tt_writer_close(w));
    return path;
}

/* Runs an exporter into a string (caller frees). */
enum { X_TEXT, X_TEXT_MISSING, X_JSON, X_LCOV, X_COBERTURA };

static char *export(const tt_coverage_t *cov, int kind, int *rc)
{
    tt_cov_opts_t o = {0, "/src", "unit", "9.9", 1700000000000ull};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    CHECK(f != NULL);
    switch (kind) {
    case X_TEXT_MISSING: o.show_missing = 1; /* fall through */
    case X_TEXT: *rc = tt_coverage_write_text(cov, f, &o); break;
    case X_JSON: *rc = tt_coverage_write_json(cov, f); break;
    case X_LCOV: *rc = tt_coverage_write_lcov(cov, f, &o); break;
    default: *rc = tt_coverage_write_cobertura(cov, f, &o); break;
    }
    CHECK(fclose(f) == 0);
    return buf;
}

static tt_coverage_t *coverage_of(const char *const *paths, int n)
{
    tt_coverage_t *cov;
    CHECK_OK(tt_coverage_new(&cov));
    for (int i = 0; i < n; i++) {
        tt_reader_t *r;
        CHECK_OK(tt_reader_open(&r, paths[i], TT_READ_MERGED));
        CHECK_OK(tt_coverage_add(cov, r));
        tt_reader_close(r);
    }
    CHECK_OK(tt_coverage_finish(cov));
    return cov;
}

static const char JSON_ONE[] =
    "{\"files\": {\n"
    "  \"/src/app.py\": {\"executable\": [1, 2, 3, 4, 5, 6, 7, 9, 10], "
    "\"counts\": {\"1\": 1, \"2\": 1, \"3\": 3, \"4\": 3, \"5\": 1, \"9\": 2}, "
    "\"functions\": [{\"name\": \"f\", \"line\": 2, \"calls\": 2}, "
    "{\"name\": \"g\", \"line\": 5, \"calls\": 0}, "
    "{\"name\": \"<lambda>\", \"line\": 9, \"calls\": 1}, "
    "{\"name\": \"<lambda>\", \"line\": 10, \"calls\": 0}], \"summary\": "
    "{\"executable\": 9, \"covered\": 6, \"missed\": 3, \"percent\": 66.67, "
    "\"functions\": 4, \"functions_hit\": 2}},\n"
    "  \"/src/pkg/mod.py\": {\"executable\": [1, 2, 3], \"counts\": "
    "{\"1\": 1, \"2\": 1}, \"functions\": [{\"name\": \"k\", \"line\": 2, "
    "\"calls\": 0}], \"summary\": {\"executable\": 3, \"covered\": 2, "
    "\"missed\": 1, \"percent\": 66.67, \"functions\": 1, "
    "\"functions_hit\": 0}}\n"
    "}, \"totals\": {\"files\": 2, \"executable\": 12, \"covered\": 8, "
    "\"missed\": 4, \"percent\": 66.67, \"functions\": 5, "
    "\"functions_hit\": 2}}\n";

/* ------------------------------------------------------------ counts */

void test_counts_roundtrip(void)
{
    const char *path = write_counts("counts.ttrace");
    tt_reader_t *r;
    tt_line_counts_t *lc;
    const tt_code_counts_t *c;

    CHECK_OK(tt_reader_open(&r, path, TT_READ_MERGED));
    CHECK_EQ(tt_reader_damage(r)->status, 0);
    CHECK_OK(tt_line_counts_read(r, &lc));
    CHECK_EQ(tt_line_counts_bad_chunks(lc), 0);
    CHECK_EQ(tt_line_counts_n(lc), 5);          /* g: nothing, not written */
    c = tt_line_counts_get(lc, 0);
    CHECK_EQ(c->code, C_MOD);
    CHECK_EQ(c->calls, 1);
    CHECK_EQ(c->n, 4);
    CHECK_EQ(c->lines[0], 1);
    CHECK_EQ(c->lines[1], 2);
    CHECK_EQ(c->lines[2], 5);
    CHECK_EQ(c->lines[3], 9);
    c = tt_line_counts_get(lc, 1);
    CHECK_EQ(c->code, C_F);
    CHECK_EQ(c->calls, 2);
    CHECK_EQ(c->n, 2);
    CHECK_EQ(c->lines[0], 3);
    CHECK_EQ(c->counts[0], 3);
    CHECK_EQ(c->lines[1], 4);
    CHECK(tt_line_counts_get(lc, 5) == NULL);
    tt_line_counts_free(lc);
    tt_reader_close(r);
}

void test_counts_big_and_invalid(void)
{
    const char *path = tmp_path("big.ttrace");
    enum { N = 200000 };
    uint64_t *big = malloc(N * sizeof *big);
    tt_count_table_t t = {C_MOD, 7, 1, N, big}, bad;
    tt_writer_t *w;
    tt_reader_t *r;
    tt_line_counts_t *lc;
    uint64_t sum = 0, want = 0, calls = 0;

    for (uint32_t i = 0; i < N; i++) {
        big[i] = i % 3 ? (uint64_t)i * 1000003u : 0;   /* 2..9-byte counts */
        want += big[i];
    }
    CHECK_OK(tt_writer_open(&w, path, test_header()));
    define_codes(w);
    bad = t;
    bad.code = N_CODES;                           /* undefined */
    CHECK_EQ(tt_writer_line_counts(w, &bad, 1), TT_EINVAL);
    bad = t;
    bad.base_line = -1;
    CHECK_EQ(tt_writer_line_counts(w, &bad, 1), TT_EINVAL);
    bad = t;
    bad.base_line = INT32_MAX;
    CHECK_EQ(tt_writer_line_counts(w, &bad, 1), TT_EINVAL);
    bad = t;
    bad.counts = NULL;
    CHECK_EQ(tt_writer_line_counts(w, &bad, 1), TT_EINVAL);
    CHECK_EQ(tt_writer_line_counts(NULL, &t, 1), TT_EINVAL);
    CHECK_OK(tt_writer_line_counts(w, NULL, 0));
    /* Three copies: more than one chunk, and records that must add up. */
    for (int i = 0; i < 3; i++)
        CHECK_OK(tt_writer_line_counts(w, &t, 1));
    CHECK_OK(tt_writer_close(w));

    CHECK_OK(tt_reader_open(&r, path, TT_READ_MERGED));
    CHECK_EQ(tt_reader_damage(r)->status, 0);
    CHECK(tt_reader_n_ancillary(r) >= 3);
    CHECK_OK(tt_line_counts_read(r, &lc));
    CHECK_EQ(tt_line_counts_n(lc), 3);
    for (uint32_t i = 0; i < tt_line_counts_n(lc); i++) {
        const tt_code_counts_t *c = tt_line_counts_get(lc, i);
        CHECK_EQ(c->n, N - (N + 2) / 3);
        for (uint32_t k = 0; k < c->n; k++) {
            CHECK_EQ_U64(c->counts[k], big[c->lines[k] - 1]);
            sum += c->counts[k];
        }
        calls += c->calls;
    }
    CHECK_EQ_U64(sum, 3 * want);
    CHECK_EQ_U64(calls, 21);
    tt_line_counts_free(lc);
    tt_reader_close(r);
    free(big);
}

/* A file: the header and DEFS of a real recording, then hand-made 0x80
 * chunks, then END. */
static size_t with_chunks(uint8_t *out, const uint8_t *const *payloads,
                          const size_t *lens, int n)
{
    const char *path = tmp_path("defs.ttrace");
    tt_writer_t *w;
    uint8_t *base;
    size_t len, off;
    uint8_t end[] = {0, 0};

    CHECK_OK(tt_writer_open(&w, path, test_header()));
    define_codes(w);
    CHECK_OK(tt_writer_flush(w));
    CHECK_OK(tt_writer_close(w));
    base = read_file(path, &len);
    CHECK(len > 22);
    off = len - 22;                               /* drop END (2-byte body) */
    memcpy(out, base, off);
    for (int i = 0; i < n; i++)
        off += frame_chunk(out + off, TT_CHUNK_LINE_COUNTS, UINT32_MAX,
                           payloads[i], lens[i]);
    off += frame_chunk(out + off, TT__CH_END, UINT32_MAX, end, 2);
    free(base);
    return off;
}

void test_counts_crafted(void)
{
    /* code, calls, n, then (line step, count) pairs; C_F's first line 2 */
    static const uint8_t good[] = {C_F, 5, 2, 2, 4, 0, 9};  /* 3:4, 4:9 */
    static const uint8_t undef[] = {N_CODES, 1, 0};
    static const uint8_t zero[] = {C_F, 1, 1, 2, 0};        /* count 0 */
    static const uint8_t toomany[] = {C_F, 1, 9, 2, 1};
    static const uint8_t neg[] = {C_F, 1, 1, 5, 1};         /* line -1 */
    static const uint8_t cut[] = {C_F, 1, 2, 2, 1, 0};
    static const uint8_t over[] = {C_F, 1, 2, 2, 1, 0xff, 0xff, 0xff, 0xff,
                                   0x0f, 1};                /* > INT32_MAX */
    static const uint8_t good_then_bad[] = {C_G, 0, 1, 0, 1, C_F, 1, 1, 2, 0};
    const uint8_t *bads[] = {undef, zero, toomany, neg, cut, over};
    const size_t bad_lens[] = {sizeof undef, sizeof zero, sizeof toomany,
                               sizeof neg, sizeof cut, sizeof over};
    static uint8_t file[8192];
    tt_reader_t *r;
    tt_line_counts_t *lc;

    for (int i = 0; i < 6; i++) {
        const uint8_t *p[3] = {good, bads[i], good};
        size_t l[3] = {sizeof good, bad_lens[i], sizeof good};
        size_t len = with_chunks(file, p, l, 3);
        CHECK_OK(tt_reader_open_mem(&r, file, len, TT_READ_MERGED));
        CHECK_EQ(tt_reader_damage(r)->status, 0);    /* CRCs are fine */
        CHECK_OK(tt_line_counts_read(r, &lc));
        CHECK_EQ(tt_line_counts_bad_chunks(lc), 1);
        CHECK_EQ(tt_line_counts_n(lc), 2);           /* both good ones */
        CHECK_EQ(tt_line_counts_get(lc, 1)->lines[1], 4);
        CHECK_EQ(tt_line_counts_get(lc, 1)->counts[1], 9);
        tt_line_counts_free(lc);
        tt_reader_close(r);
        CHECK_EQ(exercise_reader(file, len), 0);
    }
    {
        const uint8_t *p[1] = {good_then_bad};
        size_t l[1] = {sizeof good_then_bad};
        size_t len = with_chunks(file, p, l, 1);
        CHECK_OK(tt_reader_open_mem(&r, file, len, TT_READ_MERGED));
        CHECK_OK(tt_line_counts_read(r, &lc));
        CHECK_EQ(tt_line_counts_bad_chunks(lc), 1);
        CHECK_EQ(tt_line_counts_n(lc), 1);           /* the record before */
        CHECK_EQ(tt_line_counts_get(lc, 0)->code, C_G);
        CHECK_EQ(tt_line_counts_get(lc, 0)->lines[0], 5);
        tt_line_counts_free(lc);
        tt_reader_close(r);
    }
}

/* Every truncation and many bit flips of a --count file: never a crash
 * (the fuzz target's checks run over each), and a cut file still yields
 * the records of its complete chunks. */
void test_counts_damage(void)
{
    const char *path = write_counts("dmg.ttrace");
    size_t len;
    uint8_t *data = read_file(path, &len);
    uint64_t seed = 42;

    for (size_t cut = 0; cut <= len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, data, cut);
        (void)LLVMFuzzerTestOneInput(copy, cut);
        free(copy);
    }
    for (int i = 0; i < 3000; i++) {
        uint8_t *copy = malloc(len);
        memcpy(copy, data, len);
        copy[rnd_next(&seed) % len] ^= (uint8_t)(1u << (rnd_next(&seed) % 8));
        if (i % 2)
            copy[rnd_next(&seed) % len] = (uint8_t)rnd_next(&seed);
        (void)LLVMFuzzerTestOneInput(copy, len);
        free(copy);
    }
    free(data);
}

/* ------------------------------------------------------------ coverage */

void test_coverage_full_equals_count(void)
{
    const char *full = write_full("full.ttrace");
    const char *cnt = write_counts("count.ttrace");
    tt_coverage_t *a = coverage_of(&full, 1), *b = coverage_of(&cnt, 1);
    const tt_cov_file_t *f;
    tt_cov_summary_t tot;
    char *ja, *jb;
    int rc;

    CHECK_EQ(tt_coverage_n_files(a), 2);        /* no "<string>", no lib */
    f = tt_coverage_file(a, 0);
    CHECK_STR(f->path, "/src/app.py");
    CHECK_EQ(f->n_lines, 9);
    CHECK_EQ(f->summary.covered, 6);
    CHECK(tt_coverage_file(a, 2) == NULL);
    tt_coverage_totals(a, &tot);
    CHECK_EQ(tot.files, 2);
    CHECK_EQ(tot.executable, 12);
    CHECK_EQ(tot.covered, 8);
    CHECK_EQ(tot.functions, 5);
    CHECK_EQ(tot.functions_hit, 2);
    CHECK_EQ(tt_coverage_skipped(a), 0);
    ja = export(a, X_JSON, &rc);
    CHECK_OK(rc);
    CHECK_STR(ja, JSON_ONE);
    jb = export(b, X_JSON, &rc);
    CHECK_OK(rc);
    CHECK_STR(jb, ja);                          /* --count == full */
    free(ja);
    free(jb);
    tt_coverage_free(a);
    tt_coverage_free(b);
}

void test_coverage_merge(void)
{
    const char *p[3];
    tt_coverage_t *cov;
    const tt_cov_file_t *f;

    p[0] = write_full("m1.ttrace");
    p[1] = write_counts("m2.ttrace");
    p[2] = write_full("m3.ttrace");
    cov = coverage_of(p, 3);
    f = tt_coverage_file(cov, 0);
    CHECK_EQ(f->n_lines, 9);
    CHECK_EQ(f->lines[2], 3);
    CHECK_EQ(f->hits[2], 9);                   /* 3 hits x 3 recordings */
    CHECK_EQ(f->hits[7], 6);                   /* line 9 */
    CHECK_EQ(f->funcs[0].calls, 6);            /* f */
    CHECK_EQ(f->n_funcs, 4);
    /* Adding after a finish, then finishing again, keeps summing. */
    {
        tt_reader_t *r;
        CHECK_OK(tt_reader_open(&r, p[0], TT_READ_MERGED));
        CHECK_OK(tt_coverage_add(cov, r));
        tt_reader_close(r);
        CHECK_OK(tt_coverage_finish(cov));
        CHECK_EQ(tt_coverage_file(cov, 0)->hits[2], 12);
    }
    tt_coverage_free(cov);
}

void test_coverage_exports(void)
{
    const char *full = write_full("x.ttrace");
    tt_coverage_t *cov = coverage_of(&full, 1);
    char *s;
    int rc;

    s = export(cov, X_TEXT, &rc);
    CHECK_OK(rc);
    CHECK_STR(s,
        "File         Lines     Ran  Missed   Cover\n"
        "------------------------------------------\n"
        "app.py           9       6       3   66.7%\n"
        "pkg/mod.py       3       2       1   66.7%\n"
        "------------------------------------------\n"
        "TOTAL           12       8       4   66.7%\n");
    free(s);
    s = export(cov, X_TEXT_MISSING, &rc);
    CHECK_OK(rc);
    CHECK_STR(s,
        "File         Lines     Ran  Missed   Cover   Missing\n"
        "----------------------------------------------------\n"
        "app.py           9       6       3   66.7%   6-7, 10\n"
        "pkg/mod.py       3       2       1   66.7%   3\n"
        "----------------------------------------------------\n"
        "TOTAL           12       8       4   66.7%\n");
    free(s);
    s = export(cov, X_LCOV, &rc);
    CHECK_OK(rc);
    CHECK_STR(s,
        "TN:unit\nSF:/src/app.py\n"
        "FN:2,f\nFN:5,g\nFN:9,<lambda>@9\nFN:10,<lambda>@10\n"
        "FNDA:2,f\nFNDA:0,g\nFNDA:1,<lambda>@9\nFNDA:0,<lambda>@10\n"
        "FNF:4\nFNH:2\n"
        "DA:1,1\nDA:2,1\nDA:3,3\nDA:4,3\nDA:5,1\nDA:6,0\nDA:7,0\nDA:9,2\n"
        "DA:10,0\nLF:9\nLH:6\nend_of_record\n"
        "TN:unit\nSF:/src/pkg/mod.py\nFN:2,k\nFNDA:0,k\nFNF:1\nFNH:0\n"
        "DA:1,1\nDA:2,1\nDA:3,0\nLF:3\nLH:2\nend_of_record\n");
    free(s);
    s = export(cov, X_COBERTURA, &rc);
    CHECK_OK(rc);
    CHECK_STR(s,
        "<?xml version=\"1.0\" ?>\n"
        "<coverage version=\"9.9\" timestamp=\"1700000000000\" "
        "lines-valid=\"12\" lines-covered=\"8\" line-rate=\"0.6667\" "
        "branches-covered=\"0\" branches-valid=\"0\" branch-rate=\"0\" "
        "complexity=\"0\">\n"
        "\t<!-- Generated by tracetap -->\n"
        "\t<!-- Based on https://raw.githubusercontent.com/cobertura/web/"
        "master/htdocs/xml/coverage-04.dtd -->\n"
        "\t<sources>\n\t\t<source>/src</source>\n\t</sources>\n"
        "\t<packages>\n"
        "\t\t<package name=\".\" line-rate=\"0.6667\" branch-rate=\"0\" "
        "complexity=\"0\">\n\t\t\t<classes>\n"
        "\t\t\t\t<class name=\"app.py\" filename=\"app.py\" complexity=\"0\" "
        "line-rate=\"0.6667\" branch-rate=\"0\">\n"
        "\t\t\t\t\t<methods/>\n\t\t\t\t\t<lines>\n"
        "\t\t\t\t\t\t<line number=\"1\" hits=\"1\"/>\n"
        "\t\t\t\t\t\t<line number=\"2\" hits=\"1\"/>\n"
        "\t\t\t\t\t\t<line number=\"3\" hits=\"3\"/>\n"
        "\t\t\t\t\t\t<line number=\"4\" hits=\"3\"/>\n"
        "\t\t\t\t\t\t<line number=\"5\" hits=\"1\"/>\n"
        "\t\t\t\t\t\t<line number=\"6\" hits=\"0\"/>\n"
        "\t\t\t\t\t\t<line number=\"7\" hits=\"0\"/>\n"
        "\t\t\t\t\t\t<line number=\"9\" hits=\"2\"/>\n"
        "\t\t\t\t\t\t<line number=\"10\" hits=\"0\"/>\n"
        "\t\t\t\t\t</lines>\n\t\t\t\t</class>\n"
        "\t\t\t</classes>\n\t\t</package>\n"
        "\t\t<package name=\"pkg\" line-rate=\"0.6667\" branch-rate=\"0\" "
        "complexity=\"0\">\n\t\t\t<classes>\n"
        "\t\t\t\t<class name=\"mod.py\" filename=\"pkg/mod.py\" "
        "complexity=\"0\" line-rate=\"0.6667\" branch-rate=\"0\">\n"
        "\t\t\t\t\t<methods/>\n\t\t\t\t\t<lines>\n"
        "\t\t\t\t\t\t<line number=\"1\" hits=\"1\"/>\n"
        "\t\t\t\t\t\t<line number=\"2\" hits=\"1\"/>\n"
        "\t\t\t\t\t\t<line number=\"3\" hits=\"0\"/>\n"
        "\t\t\t\t\t</lines>\n\t\t\t\t</class>\n"
        "\t\t\t</classes>\n\t\t</package>\n"
        "\t</packages>\n</coverage>\n");
    free(s);
    tt_coverage_free(cov);
}

void test_coverage_annotate(void)
{
    static const int32_t lines[] = {1, 2, 3, 4, 6};
    static const uint64_t hits[] = {5, 0, 0, 0, 123456};
    static char src[] = "\xEF\xBB\xBF" "a = 1\r\n\tdef f():\n"
                        "  x = 2 #pragma NO COVER\n\xC3\xA9\ty=3\r\rz";
    tt_cov_file_t f = {0};
    char *buf = NULL;
    size_t len = 0;
    FILE *in, *out;

    f.path = "/x.py";
    f.n_lines = 5;
    f.lines = lines;
    f.hits = hits;
    in = fmemopen(src, sizeof src - 1, "r");
    out = open_memstream(&buf, &len);
    CHECK(in != NULL && out != NULL);
    CHECK_OK(tt_coverage_write_annotate(&f, in, out));
    fclose(in);
    fclose(out);
    CHECK_STR(buf,
        "\xEF\xBB\xBF"
        "    5: a = 1\n"
        ">>>>>>         def f():\n"
        "         x = 2 #pragma NO COVER\n"
        ">>>>>> \xC3\xA9       y=3\n"
        "       \n"
        "123456: z\n");
    free(buf);
    CHECK_EQ(tt_coverage_write_annotate(NULL, stdin, stdout), TT_EINVAL);
}

/* Every allocation of analysis and exporters failed in turn. */
void test_alloc_fail_coverage(void)
{
    const char *p[2];
    char *want, *got = NULL;
    int rc, failed_any = 1;

    p[0] = write_full("af1.ttrace");
    p[1] = write_counts("af2.ttrace");
    {
        tt_coverage_t *cov = coverage_of(p, 2);
        want = export(cov, X_LCOV, &rc);
        CHECK_OK(rc);
        tt_coverage_free(cov);
    }
    for (long n = 1; failed_any; n++) {
        tt_coverage_t *cov = NULL;
        tt_reader_t *r[2] = {NULL, NULL};
        int ok = 1;

        for (int i = 0; i < 2; i++)
            CHECK_OK(tt_reader_open(&r[i], p[i], TT_READ_MERGED));
        tt__alloc_fail_at(n, 0);
        rc = tt_coverage_new(&cov);
        for (int i = 0; i < 2 && rc == 0; i++)
            rc = tt_coverage_add(cov, r[i]);
        if (rc == 0)
            rc = tt_coverage_finish(cov);
        if (rc == 0) {
            free(got);
            got = export(cov, X_LCOV, &rc);
        }
        failed_any = tt__alloc_count() >= n;
        tt__alloc_fail_at(0, 0);
        if (rc != 0) {
            CHECK_EQ(rc, TT_ENOMEM);
            ok = 0;
        }
        if (ok)
            CHECK_STR(got, want);
        CHECK(ok || failed_any);
        tt_coverage_free(cov);
        tt_reader_close(r[0]);
        tt_reader_close(r[1]);
        CHECK(n < 100000);
    }
    CHECK(got != NULL);
    CHECK_STR(got, want);
    free(got);
    free(want);
}

void test_alloc_fail_counts_writer(void)
{
    const char *path = tmp_path("afw.ttrace");
    static const uint64_t f[] = {0, 3, 3};
    const tt_count_table_t t = {C_F, 2, 2, 3, f};
    int failed_any = 1;

    for (long n = 1; failed_any; n++) {
        tt_writer_t *w;
        tt_reader_t *r;
        tt_line_counts_t *lc;
        int rc;

        CHECK_OK(tt_writer_open(&w, path, test_header()));
        define_codes(w);
        tt__alloc_fail_at(n, 0);
        rc = tt_writer_line_counts(w, &t, 1);
        failed_any = tt__alloc_count() >= n;
        tt__alloc_fail_at(0, 0);
        CHECK(rc == 0 || rc == TT_ENOMEM);
        (void)tt_writer_close(w);
        CHECK_OK(tt_reader_open(&r, path, TT_READ_MERGED));
        CHECK_OK(tt_line_counts_read(r, &lc));
        CHECK_EQ(tt_line_counts_n(lc), rc == 0 ? 1 : 0);
        tt_line_counts_free(lc);
        tt_reader_close(r);
        CHECK(n < 1000);
    }
}
