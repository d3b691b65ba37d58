/* test_objstacks.c - the 0x85 allocations chunk (--bytes):
 * round trip of summary, interned stacks, sites and samples (several
 * records and chunks), stack walks innermost first, the writer's refusals,
 * malformed chunks (records before the bad one kept, chunk counted), an
 * old file without the chunk, and allocation failures while loading.
 */
#include "tt_test.h"
#include "tt_internal.h"

/* A writer with two traced code objects; their ids in c[0], c[1]. */
static tt_writer_t *open_two_codes(const char *path, uint32_t c[2])
{
    tt_writer_t *w;
    uint32_t s[3];
    tt_code_def_t cd;

    CHECK_OK(tt_writer_open(&w, path, test_header()));
    CHECK_OK(tt_writer_string(w, "app.py", 6, &s[0]));
    CHECK_OK(tt_writer_string(w, "helper", 6, &s[1]));
    CHECK_OK(tt_writer_string(w, "main", 4, &s[2]));
    memset(&cd, 0, sizeof cd);
    cd.filename = s[0];
    cd.qualname = s[1];
    cd.firstlineno = 4;
    cd.flags = TT_CODE_TRACED;
    cd.parent = TT_NO_PARENT;
    CHECK_OK(tt_writer_code(w, &cd, &c[0]));
    cd.qualname = s[2];
    cd.firstlineno = 10;
    CHECK_OK(tt_writer_code(w, &cd, &c[1]));
    return w;
}

/* Stacks: 0 = main:12, 1 = helper:5 <- main:12, 2 = main:13,
 * 3 = helper:5 <- main:13. Sites on 1, 3 and none. */
static void write_allocs(tt_writer_t *w, const uint32_t c[2], size_t n_samples)
{
    tt_alloc_summary_t sum = {0, 8, 10, 5000, 4, 900, 4100, 6,
                              9000, 77, 1, 0};
    tt_alloc_frame_t st[] = {{TT_NO_STACK, c[1], 12}, {0, c[0], 5},
                             {TT_NO_STACK, c[1], 13}, {2, c[0], 5}};
    tt_alloc_site_t si[] = {
        {1, 3, 1000, 1, 100, 900, 2, 1000},
        {3, 6, 3900, 2, 800, 3100, 4, 8000},
        {TT_NO_STACK, 1, 100, 1, 0, 100, 0, 0},
    };
    tt_alloc_sample_t *sm = calloc(n_samples ? n_samples : 1, sizeof *sm);
    for (size_t i = 0; i < n_samples; i++) {
        sm[i].tick = 10 * i + 3;
        sm[i].live_bytes = (i % 7) * 1000003u + (i & 1 ? 0 : 5);
    }
    si[2].frees = 0;
    CHECK_OK(tt_writer_allocs(w, &sum, st, 4, si, 3, sm, n_samples));
    free(sm);
}

void test_allocs_roundtrip(void)
{
    const char *path = tmp_path("allocs.ttrace");
    uint32_t c[2];
    tt_writer_t *w = open_two_codes(path, c);
    tt_reader_t *r;
    tt_allocs_t *a;
    const tt_alloc_summary_t *s;
    const tt_alloc_sample_t *sm;
    tt_alloc_frame_t fr[4];
    size_t n;

    write_allocs(w, c, 1300);            /* three SAMPLES records */
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_OK(tt_allocs_load(r, &a));
    s = tt_allocs_summary(a);
    CHECK(s != NULL);
    CHECK_EQ(s->depth, 8);
    CHECK_EQ(s->alloc_bytes, 5000);
    CHECK_EQ(s->peak_bytes, 9000);
    CHECK_EQ(s->peak_tick, 77);
    CHECK_EQ(s->untracked, 1);
    CHECK_EQ(tt_allocs_bad_chunks(a), 0);
    /* sites by live bytes: stack 3, stack 1, none */
    CHECK_EQ(tt_allocs_site(a, 0)->stack, 3);
    CHECK_EQ(tt_allocs_site(a, 0)->peak_bytes, 8000);
    CHECK_EQ(tt_allocs_site(a, 1)->stack, 1);
    CHECK_EQ(tt_allocs_site(a, 2)->stack, TT_NO_STACK);
    CHECK(tt_allocs_site(a, 3) == NULL);
    /* the two callers of helper:5 are two stacks */
    n = tt_allocs_stack(a, 3, fr, 4);
    CHECK_EQ(n, 2);
    CHECK_EQ(fr[0].code, c[0]);
    CHECK_EQ(fr[0].line, 5);
    CHECK_EQ(fr[1].code, c[1]);
    CHECK_EQ(fr[1].line, 13);
    CHECK_EQ(tt_allocs_stack(a, 1, fr, 1), 2);   /* depth beyond max */
    CHECK_EQ(fr[0].line, 5);
    CHECK_EQ(tt_allocs_stack(a, TT_NO_STACK, fr, 4), 0);
    sm = tt_allocs_samples(a, &n);
    CHECK_EQ(n, 1300);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ(sm[i].tick, 10 * i + 3);
        CHECK_EQ(sm[i].live_bytes, (i % 7) * 1000003u + (i & 1 ? 0 : 5));
    }
    tt_allocs_free(a);
    tt_reader_close(r);
}

void test_allocs_absent_and_refused(void)
{
    const char *path = tmp_path("noallocs.ttrace");
    uint32_t c[2];
    tt_writer_t *w = open_two_codes(path, c);
    tt_alloc_summary_t sum;
    tt_alloc_frame_t bad_parent[] = {{0, c[0], 1}};
    tt_alloc_frame_t bad_code[] = {{TT_NO_STACK, 99, 1}};
    tt_alloc_frame_t ok[] = {{TT_NO_STACK, c[0], 1}};
    tt_alloc_site_t bad_site = {1, 1, 1, 0, 0, 1, 1, 1};
    tt_reader_t *r;
    tt_allocs_t *a;
    size_t n;

    memset(&sum, 0, sizeof sum);
    CHECK_EQ(tt_writer_allocs(w, &sum, bad_parent, 1, NULL, 0, NULL, 0),
             TT_EINVAL);
    CHECK_EQ(tt_writer_allocs(w, &sum, bad_code, 1, NULL, 0, NULL, 0),
             TT_EINVAL);
    CHECK_EQ(tt_writer_allocs(w, &sum, ok, 1, &bad_site, 1, NULL, 0),
             TT_EINVAL);
    CHECK_EQ(tt_writer_allocs(NULL, &sum, NULL, 0, NULL, 0, NULL, 0),
             TT_EINVAL);
    CHECK_OK(tt_writer_close(w));
    /* nothing was written: an empty view */
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_EQ(tt_reader_n_ancillary(r), 0);
    CHECK_OK(tt_allocs_load(r, &a));
    CHECK(tt_allocs_summary(a) == NULL);
    CHECK(tt_allocs_site(a, 0) == NULL);
    (void)tt_allocs_samples(a, &n);
    CHECK_EQ(n, 0);
    tt_allocs_free(a);
    CHECK_EQ(tt_allocs_load(NULL, &a), TT_EINVAL);
    tt_reader_close(r);
}

/* Raw 0x85 chunks: a good one, then records that break each rule. */
static void raw_chunk(tt_writer_t *w, const uint8_t *p, size_t n)
{
    tt__anc o;
    CHECK_OK(tt__anc_open(&o, w, TT_CHUNK_ALLOCS));
    CHECK_OK(tt__bytes_reserve(&o.b, n + TT__CHUNK_TAIL));
    memcpy(o.b.p + o.b.len, p, n);
    o.b.len += n;
    CHECK_OK(tt__anc_flush(&o));
    tt__anc_close(&o);
}

void test_allocs_malformed(void)
{
    const char *path = tmp_path("badallocs.ttrace");
    uint32_t c[2];
    tt_writer_t *w = open_two_codes(path, c);
    /* STACK (outermost, code 0, line 3), unknown ancillary 0x90, SITE on
     * it (2 allocs, 64 bytes, 0 frees, 0, 64 live, 2 blocks, 64 peak) */
    static const uint8_t good[] = {0x02, 3, 0, 1, 6, 0x90, 1, 0xEE,
                                   0x03, 8, 1, 2, 64, 0, 0, 64, 2, 64};
    /* a STACK whose parent is not defined yet, then a good SITE (lost) */
    static const uint8_t badparent[] = {0x02, 3, 9, 1, 6,
                                        0x03, 8, 0, 1, 8, 0, 0, 8, 1, 8};
    static const uint8_t badcode[] = {0x02, 3, 0, 40, 6};
    static const uint8_t badkind[] = {0x05, 0};
    static const uint8_t badfrees[] = {0x03, 8, 0, 1, 8, 2, 0, 8, 1, 8};
    static const uint8_t badsamples[] = {0x04, 3, 100, 1, 1};
    static const uint8_t badlen[] = {0x03, 40, 0};
    tt_reader_t *r;
    tt_allocs_t *a;
    tt_alloc_frame_t fr[2];

    raw_chunk(w, good, sizeof good);
    raw_chunk(w, badparent, sizeof badparent);
    raw_chunk(w, badcode, sizeof badcode);
    raw_chunk(w, badkind, sizeof badkind);
    raw_chunk(w, badfrees, sizeof badfrees);
    raw_chunk(w, badsamples, sizeof badsamples);
    raw_chunk(w, badlen, sizeof badlen);
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_EQ(tt_reader_damage(r)->status, 0);   /* not file damage */
    CHECK_OK(tt_allocs_load(r, &a));
    CHECK_EQ(tt_allocs_bad_chunks(a), 6);
    CHECK(tt_allocs_summary(a) == NULL);         /* no SUMMARY record */
    CHECK_EQ(tt_allocs_site(a, 0)->stack, 0);
    CHECK_EQ(tt_allocs_site(a, 0)->live_bytes, 64);
    CHECK(tt_allocs_site(a, 1) == NULL);
    CHECK_EQ(tt_allocs_stack(a, 0, fr, 2), 1);
    CHECK_EQ(fr[0].line, 3);
    tt_allocs_free(a);
    tt_reader_close(r);
}

void test_allocs_load_nomem(void)
{
    const char *path = tmp_path("allocs_nomem.ttrace");
    uint32_t c[2];
    tt_writer_t *w = open_two_codes(path, c);
    tt_reader_t *r;
    tt_allocs_t *a;
    int rc;

    write_allocs(w, c, 700);
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    for (long n = 1;; n++) {
        tt__alloc_fail_at(n, 0);
        rc = tt_allocs_load(r, &a);
        if (rc == 0) {
            tt__alloc_fail_at(0, 0);
            CHECK_EQ(tt_allocs_summary(a)->alloc_bytes, 5000);
            tt_allocs_free(a);
            break;
        }
        tt__alloc_fail_at(0, 0);
        CHECK_EQ(rc, TT_ENOMEM);
        CHECK(a == NULL);
    }
    tt_reader_close(r);
}

/* The call tree takes each site's bytes at its stack's node: the two
 * stacks of helper:5 differ only by the caller's line, so in the tree (a
 * node per path of codes) both land on main -> helper; the flame graph's
 * bytes weight draws them. */
void test_allocs_call_tree_bytes(void)
{
    const char *path = tmp_path("allocs_tree.ttrace");
    const char *svg = tmp_path("allocs_tree.svg");
    uint64_t T = test_header()->start_tick + 100;
    uint32_t c[2];
    tt_writer_t *w = open_two_codes(path, c);
    tt_tbuf_t *b;
    tt_reader_t *r;
    tt_calls_t *calls;
    tt_flame_opts_t o;
    tt_flame_stats_t st;
    const tt_callnode_t *n;
    uint64_t main_bytes = 0, helper_bytes = 0;
    FILE *fp;

    CHECK_OK(tt_writer_thread(w, 1, "MainThread", &b));
    tt_tbuf_call(b, T, c[1], 10);
    tt_tbuf_call(b, T + 10, c[0], 4);
    tt_tbuf_return(b, T + 20, c[0], 5);
    tt_tbuf_return(b, T + 30, c[1], 14);
    write_allocs(w, c, 2);
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_OK(tt_calls_analyze(r, &calls));
    for (uint32_t i = 0; (n = tt_calls_node(calls, i)) != NULL; i++) {
        if (n->code == c[1] && n->parent == TT_CALLS_NO_NODE)
            main_bytes += n->bytes;
        if (n->code == c[0] && n->parent != TT_CALLS_NO_NODE &&
            tt_calls_node(calls, n->parent)->code == c[1])
            helper_bytes += n->bytes;
    }
    CHECK_EQ(helper_bytes, 1000 + 3900);   /* the sites of stacks 1 and 3 */
    CHECK_EQ(main_bytes, 0);
    CHECK_EQ(tt_calls_summary(calls)->n_nodes, 2);
    memset(&o, 0, sizeof o);
    o.weight = TT_FLAME_BYTES;
    o.thread = TT_CALLS_ALL_THREADS;
    fp = fopen(svg, "wb");
    CHECK(fp != NULL);
    CHECK_OK(tt_flame_write_svg(calls, r, fp, &o, &st));
    fclose(fp);
    CHECK_EQ(st.total, 4900);               /* the stackless site: not drawn */
    {
        size_t len;
        char *doc = (char *)read_file(svg, &len);
        CHECK(strstr(doc, "bytes allocated by creation stack") != NULL);
        CHECK(strstr(doc, "4900 bytes") != NULL);
        free(doc);
    }
    tt_calls_free(calls);
    tt_reader_close(r);
}

/* Without call events (--no-calls) the stacks alone make the tree. */
void test_allocs_call_tree_nocalls(void)
{
    const char *path = tmp_path("allocs_nocalls.ttrace");
    uint32_t c[2];
    tt_writer_t *w = open_two_codes(path, c);
    tt_tbuf_t *b;
    tt_reader_t *r;
    tt_calls_t *calls;
    const tt_callnode_t *n, *p;
    uint32_t helpers = 0;

    CHECK_OK(tt_writer_thread(w, 1, "MainThread", &b));
    write_allocs(w, c, 0);
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_OK(tt_calls_analyze(r, &calls));
    CHECK_EQ(tt_calls_summary(calls)->n_nodes, 2);   /* main, main->helper */
    for (uint32_t i = 0; (n = tt_calls_node(calls, i)) != NULL; i++) {
        if (n->code != c[0])
            continue;
        p = tt_calls_node(calls, n->parent);
        CHECK(p != NULL && p->code == c[1]);
        CHECK_EQ(n->bytes, 4900);
        CHECK_EQ(n->calls, 0);
        helpers++;
    }
    CHECK_EQ(helpers, 1);
    tt_calls_free(calls);
    tt_reader_close(r);
}

/* ------------------------------------------- snapshots (partial, final) */

/* A type "list" defined in w: its id. */
static uint32_t define_type(tt_writer_t *w, const char *name)
{
    tt_type_def_t td = {0};
    uint32_t s, id;
    CHECK_OK(tt_writer_string(w, name, strlen(name), &s));
    td.name = s;
    td.basicsize = 40;
    CHECK_OK(tt_writer_type(w, &td, &id));
    return id;
}

/* Partial snapshot k (1 or 2) of a recording: k stacks more, sites and
 * types as they stand (bytes grow with k), ten samples more. */
static void write_partial(tt_writer_t *w, const uint32_t c[2], uint32_t ty,
                          int k)
{
    tt_alloc_summary_t sum = {TT_ALLOCS_PARTIAL, 8, 10u * k, 1000u * k, 0, 0,
                              1000u * k, 10u * k, 1000u * k, 5, 0, 0};
    tt_alloc_frame_t st1[] = {{TT_NO_STACK, c[1], 12}, {0, c[0], 5}};
    tt_alloc_frame_t st2[] = {{TT_NO_STACK, c[1], 13}, {2, c[0], 5}};
    tt_alloc_site_t si[] = {{1, 5u * k, 600u * k, 0, 0, 600u * k, 5u * k,
                             600u * k},
                            {k == 2 ? 3 : 0, 5u * k, 400u * k, 0, 0,
                             400u * k, 5u * k, 400u * k}};
    tt_alloc_type_t ty_rows[] = {{ty, 4u * k, 224u * k, 0, 0, 224u * k,
                                  4u * k, 224u * k},
                                 {TT_ALLOC_BUFFERS, 6u * k, 776u * k, 0, 0,
                                  776u * k, 6u * k, 776u * k}};
    tt_alloc_sample_t sm[10];
    tt_alloc_snapshot_t s = {0};
    for (int i = 0; i < 10; i++) {
        sm[i].tick = (uint64_t)(10 * (k - 1) + i) * 7;
        sm[i].live_bytes = (uint64_t)(10 * (k - 1) + i) * 100;
    }
    s.sum = &sum;
    s.stacks = k == 1 ? st1 : st2;
    s.n_stacks = 2;
    s.first_stack = k == 1 ? 0 : 2;
    s.sites = si;
    s.n_sites = 2;
    s.types = ty_rows;
    s.n_types = 2;
    s.samples = sm;
    s.n_samples = 10;
    CHECK_OK(tt_writer_allocs_snapshot(w, &s));
}

/* Two partial snapshots, then (kill) nothing more: the last partial one
 * stands, samples of both in order, the stacks of both; an emergency
 * summary after them updates the totals and keeps the sites. */
void test_allocs_partial_snapshots(void)
{
    const char *path = tmp_path("allocs_partial.ttrace");
    uint32_t c[2], ty;
    tt_writer_t *w = open_two_codes(path, c);
    tt_alloc_summary_t em = {0, 8, 99, 5555, 0, 0, 4444, 1, 6666, 9, 0, 0};
    uint8_t buf[256];
    size_t n = 0;
    tt_reader_t *r;
    tt_allocs_t *a;
    const tt_alloc_sample_t *sm;
    const tt_alloc_type_t *t;
    tt_alloc_frame_t fr[4];

    ty = define_type(w, "list");
    write_partial(w, c, ty, 1);
    write_partial(w, c, ty, 2);
    CHECK_EQ(tt_allocs_encode_summary(&em, buf, 8), 0);   /* too small */
    n = tt_allocs_encode_summary(&em, buf, sizeof buf);
    CHECK(n > 0);
    raw_chunk(w, buf, n);
    /* no close: the file ends as a killed process leaves it */
    CHECK_OK(tt_writer_flush(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_EQ(tt_reader_damage(r)->status, TT_ETRUNCATED);   /* incomplete */
    CHECK_OK(tt_allocs_load(r, &a));
    CHECK_EQ(tt_allocs_bad_chunks(a), 0);
    CHECK(tt_allocs_summary(a)->flags & TT_ALLOCS_PARTIAL);
    CHECK_EQ(tt_allocs_summary(a)->alloc_bytes, 5555);   /* the emergency's */
    CHECK_EQ(tt_allocs_site(a, 0)->stack, 1);           /* snapshot 2's */
    CHECK_EQ(tt_allocs_site(a, 0)->live_bytes, 1200);
    CHECK_EQ(tt_allocs_site(a, 1)->stack, 3);
    CHECK_EQ(tt_allocs_site(a, 1)->live_bytes, 800);
    CHECK(tt_allocs_site(a, 2) == NULL);
    CHECK_EQ(tt_allocs_stack(a, 3, fr, 4), 2);
    CHECK_EQ(fr[1].line, 13);
    t = tt_allocs_type(a, 0);
    CHECK_EQ(t->type, TT_ALLOC_BUFFERS);
    CHECK_EQ(t->live_bytes, 1552);
    CHECK_EQ(tt_allocs_type(a, 1)->type, ty);
    CHECK_EQ(tt_allocs_type(a, 1)->alloc_bytes, 448);
    CHECK(tt_allocs_type(a, 2) == NULL);
    sm = tt_allocs_samples(a, &n);
    CHECK_EQ(n, 20);
    for (size_t i = 0; i < n; i++)
        CHECK_EQ(sm[i].live_bytes, i * 100);
    tt_allocs_free(a);
    tt_reader_close(r);
    CHECK_OK(tt_writer_close(w));
}

/* Partial snapshots, then the final one at stop: the final's sites, types
 * and samples only. */
void test_allocs_final_after_partial(void)
{
    const char *path = tmp_path("allocs_final.ttrace");
    uint32_t c[2], ty;
    tt_writer_t *w = open_two_codes(path, c);
    tt_alloc_summary_t sum = {0, 8, 3, 300, 1, 100, 200, 2, 250, 4, 0, 0};
    tt_alloc_site_t si = {1, 3, 300, 1, 100, 200, 2, 250};
    tt_alloc_type_t tr = {0, 1, 56, 0, 0, 56, 1, 56};
    tt_alloc_sample_t sm[3] = {{1, 100}, {2, 250}, {3, 200}};
    tt_alloc_snapshot_t s = {0};
    tt_reader_t *r;
    tt_allocs_t *a;
    size_t n;

    ty = define_type(w, "bytearray");
    write_partial(w, c, ty, 1);
    tr.type = ty;
    s.sum = &sum;
    s.first_stack = 2;                  /* no new stack */
    s.sites = &si;
    s.n_sites = 1;
    s.types = &tr;
    s.n_types = 1;
    s.samples = sm;
    s.n_samples = 3;
    CHECK_OK(tt_writer_allocs_snapshot(w, &s));
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_OK(tt_allocs_load(r, &a));
    CHECK_EQ(tt_allocs_summary(a)->flags, 0);
    CHECK_EQ(tt_allocs_site(a, 0)->live_bytes, 200);
    CHECK(tt_allocs_site(a, 1) == NULL);
    CHECK_EQ(tt_allocs_type(a, 0)->type, ty);
    CHECK(tt_allocs_type(a, 1) == NULL);
    (void)tt_allocs_samples(a, &n);
    CHECK_EQ(n, 3);
    tt_allocs_free(a);
    tt_reader_close(r);
}

/* The snapshot writer's refusals, and malformed new records: a TYPE of an
 * undefined type, a PSITE of an undefined stack. */
void test_allocs_snapshot_malformed(void)
{
    const char *path = tmp_path("allocs_badsnap.ttrace");
    uint32_t c[2], ty;
    tt_writer_t *w = open_two_codes(path, c);
    tt_alloc_summary_t sum = {TT_ALLOCS_PARTIAL, 8, 0, 0, 0, 0, 0, 0, 0, 0,
                              0, 0};
    tt_alloc_frame_t st = {1, c[0], 1};  /* parent 1 >= first_stack 1 + 0 */
    tt_alloc_type_t badty = {77, 1, 1, 0, 0, 1, 1, 1};
    tt_alloc_site_t badsite = {5, 1, 1, 0, 0, 1, 1, 1};
    tt_alloc_snapshot_t s = {0};
    /* SUMMARY (partial), TYPE on type 0 (good), TYPE on type 9 (bad) */
    static const uint8_t types[] = {0x01, 12, 1, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                    0, 0x86, 8, 1, 1, 56, 0, 0, 56, 1, 56,
                                    0x86, 8, 10, 1, 56, 0, 0, 56, 1, 56};
    /* a PSITE of stack 4, none defined */
    static const uint8_t psite[] = {0x83, 8, 5, 1, 8, 0, 0, 8, 1, 8};
    tt_reader_t *r;
    tt_allocs_t *a;

    ty = define_type(w, "dict");
    CHECK_EQ(ty, 0);
    s.sum = &sum;
    s.first_stack = 1;
    s.stacks = &st;
    s.n_stacks = 1;
    CHECK_EQ(tt_writer_allocs_snapshot(w, &s), TT_EINVAL);
    s.n_stacks = 0;
    s.types = &badty;
    s.n_types = 1;
    CHECK_EQ(tt_writer_allocs_snapshot(w, &s), TT_EINVAL);
    s.n_types = 0;
    s.sites = &badsite;
    s.n_sites = 1;
    CHECK_EQ(tt_writer_allocs_snapshot(w, &s), TT_EINVAL);
    CHECK_EQ(tt_writer_allocs_snapshot(w, NULL), TT_EINVAL);
    raw_chunk(w, types, sizeof types);
    raw_chunk(w, psite, sizeof psite);
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_EQ(tt_reader_n_ancillary(r), 2);   /* the refused wrote nothing */
    CHECK_OK(tt_allocs_load(r, &a));
    CHECK_EQ(tt_allocs_bad_chunks(a), 2);
    CHECK_EQ(tt_allocs_type(a, 0)->type, ty);   /* the record before */
    CHECK_EQ(tt_allocs_type(a, 0)->live_bytes, 56);
    CHECK(tt_allocs_type(a, 1) == NULL);
    CHECK(tt_allocs_site(a, 0) == NULL);
    tt_allocs_free(a);
    tt_reader_close(r);
}

/* The emergency flush writes the extra chunk its filler builds: the file
 * of a crashed process has the bytes summary of the moment. */
static size_t fill_summary(void *ctx, uint8_t *buf, size_t cap)
{
    return tt_allocs_encode_summary(ctx, buf, cap);
}

void test_allocs_emergency_extra(void)
{
    const char *path = tmp_path("allocs_emerg.ttrace");
    uint32_t c[2];
    tt_writer_t *w = open_two_codes(path, c);
    tt_alloc_summary_t sum = {0, 8, 7, 700, 0, 0, 700, 7, 900, 3, 0, 0};
    tt_reader_t *r;
    tt_allocs_t *a;

    CHECK_EQ(tt_writer_set_emergency_extra(w, 0x10, fill_summary, &sum),
             TT_EINVAL);
    CHECK_EQ(tt_writer_set_emergency_extra(NULL, TT_CHUNK_ALLOCS, NULL, NULL),
             TT_EINVAL);
    CHECK_OK(tt_writer_set_emergency_extra(w, TT_CHUNK_ALLOCS, fill_summary,
                                           &sum));
    CHECK_OK(tt_writer_flush_emergency(w, "crash_signal", "SIGTERM"));
    CHECK_EQ(tt_writer_close(w), TT_ESTATE);
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_EQ(tt_reader_damage(r)->status, TT_ETRUNCATED);
    CHECK_OK(tt_allocs_load(r, &a));
    CHECK(tt_allocs_summary(a)->flags & TT_ALLOCS_PARTIAL);
    CHECK_EQ(tt_allocs_summary(a)->peak_bytes, 900);
    CHECK(tt_allocs_site(a, 0) == NULL);
    tt_allocs_free(a);
    tt_reader_close(r);
}
