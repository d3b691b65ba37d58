/* test_objects.c - the object-lifetime analysis and the 0x81 aggregate
 * chunk: replay through the live table (cross-thread frees,
 * address reuse, offset sites, lifetimes), stop-time verdicts, count-mode
 * rows across several chunks, malformed chunks, and allocation failures.
 */
#include "tt_test.h"
#include "tt_objects_int.h"

#define A(i) (0x7f0000100000ull + 16u * (uint64_t)(i))

typedef struct {
    uint32_t code_f, code_g, t_list, t_float, t_list2;
} ids;

/* A writer with two code objects and two types, and two threads. */
static tt_writer_t *open_objects(const char *path, ids *d, tt_tbuf_t **b0,
                                 tt_tbuf_t **b1)
{
    static const tt_line_range_t rf[] = {{0, 10, 5}, {10, 40, 6}, {40, 60, 7}};
    tt_writer_t *w;
    uint32_t s[5];
    tt_code_def_t cd;
    tt_type_def_t td;

    CHECK_OK(tt_writer_open(&w, path, test_header()));
    CHECK_OK(tt_writer_string(w, "app.py", 6, &s[0]));
    CHECK_OK(tt_writer_string(w, "f", 1, &s[1]));
    CHECK_OK(tt_writer_string(w, "g", 1, &s[2]));
    CHECK_OK(tt_writer_string(w, "builtins.list", 13, &s[3]));
    CHECK_OK(tt_writer_string(w, "builtins.float", 14, &s[4]));
    memset(&cd, 0, sizeof cd);
    cd.filename = s[0];
    cd.qualname = s[1];
    cd.firstlineno = 4;
    cd.flags = TT_CODE_TRACED;
    cd.parent = TT_NO_PARENT;
    cd.n_ranges = 3;
    cd.ranges = rf;
    CHECK_OK(tt_writer_code(w, &cd, &d->code_f));
    cd.qualname = s[2];
    cd.firstlineno = 20;
    cd.n_ranges = 0;
    cd.ranges = NULL;
    CHECK_OK(tt_writer_code(w, &cd, &d->code_g));
    td.name = s[3];
    td.basicsize = 40;
    td.flags = TT_TYPE_GC;
    CHECK_OK(tt_writer_type(w, &td, &d->t_list));
    td.name = s[4];
    td.basicsize = 24;
    td.flags = 0;
    CHECK_OK(tt_writer_type(w, &td, &d->t_float));
    td.name = s[3];             /* builtins.list again: a re-registered
                                   type merges with the first */
    td.flags = TT_TYPE_GC;
    CHECK_OK(tt_writer_type(w, &td, &d->t_list2));
    CHECK_OK(tt_writer_thread(w, 1, "MainThread", b0));
    CHECK_OK(tt_writer_thread(w, 2, "worker", b1));
    return w;
}

/* The site row (code, line, type), or fail. */
static const tt_objstat_t *find_site(const tt_objects_t *o, uint32_t code,
                                     int32_t line, uint32_t type)
{
    const tt_objstat_t *s;
    for (uint32_t i = 0; (s = tt_objects_site(o, TT_OBJ_BY_CREATED, i)); i++)
        if (s->code == code && s->line == line && s->type == type)
            return s;
    TT_TEST_FAIL("no site %u:%d type %u", code, (int)line, type);
    return NULL;
}

static const tt_objstat_t *find_type(const tt_objects_t *o, uint32_t type)
{
    const tt_objstat_t *s;
    for (uint32_t i = 0; (s = tt_objects_type(o, i)); i++)
        if (s->type == type)
            return s;
    TT_TEST_FAIL("no type %u", type);
    return NULL;
}

/* The standard stream: 10 lists at f:6 (0..9), thread 1 frees 0..5 with
 * lifetime 100 + i; 5 floats by offset at f (offsets 12 -> line 6 and
 * 45 -> line 7); float at A(100) reused by a list without a DESTROY; a
 * DESTROY of an object born before the recording. */
static void write_stream(tt_writer_t *w, const ids *d, tt_tbuf_t *b0,
                         tt_tbuf_t *b1, uint64_t start)
{
    uint64_t t = start + 1000;
    for (int i = 0; i < 10; i++)
        tt_tbuf_obj_create(b0, t + (uint64_t)i, d->t_list, A(i), 40,
                           d->code_f, 6, TT_NO_OFFSET);
    for (int i = 0; i < 6; i++)       /* freed in another thread */
        tt_tbuf_obj_destroy(b1, t + (uint64_t)i + 100 + (uint64_t)i,
                            A(i));
    t += 1000;
    for (int i = 0; i < 5; i++)
        tt_tbuf_obj_create(b0, t + (uint64_t)i, d->t_float, A(200 + i), 24,
                           d->code_f, TT_NO_LINE, i < 3 ? 12 : 45);
    for (int i = 0; i < 5; i++)
        tt_tbuf_obj_destroy(b0, t + 10 + (uint64_t)i, A(200 + i));
    t += 100;
    tt_tbuf_obj_create(b0, t, d->t_float, A(100), 24, d->code_g, 21,
                       TT_NO_OFFSET);
    tt_tbuf_obj_create(b0, t + 1, d->t_list2, A(100), 40, d->code_g, 22,
                       TT_NO_OFFSET);
    tt_tbuf_obj_destroy(b0, t + 2, A(999));
}

void test_objects_replay(void)
{
    const char *path = tmp_path("objects.ttrace");
    uint64_t start = test_header()->start_tick;
    tt_tbuf_t *b0, *b1;
    tt_reader_t *r;
    tt_objects_t *o;
    const tt_objects_summary_t *s;
    const tt_objstat_t *st;
    ids d;
    tt_writer_t *w = open_objects(path, &d, &b0, &b1);

    write_stream(w, &d, b0, b1, start);
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_EQ(tt_reader_n_ancillary(r), 0);
    CHECK_OK(tt_objects_analyze(r, &o));
    s = tt_objects_summary(o);
    CHECK_EQ(s->created, 17);
    CHECK_EQ(s->destroyed, 11);
    CHECK_EQ(s->repaired, 1);
    CHECK_EQ(s->died_unseen, 1);
    CHECK_EQ(s->unmatched_destroys, 1);
    CHECK_EQ(s->survived, 5);           /* 4 lists at f:6, 1 at g:22 */
    CHECK_EQ(s->unverified, 5);         /* no stop check in this file */
    CHECK_EQ(s->checked, 0);
    CHECK_EQ(s->complete_deaths, 0);
    CHECK_EQ(s->aggregated, 0);
    st = find_site(o, d.code_f, 6, d.t_list);
    CHECK_EQ(st->created, 10);
    CHECK_EQ(st->destroyed, 6);
    CHECK_EQ(st->survived, 4);
    /* lifetimes 100, 102, ..., 110 ticks: all in bucket 7 [64, 128) */
    CHECK_EQ(st->lifetime[7], 6);
    CHECK_EQ_U64(tt_objstat_lifetime(st, 0.5), 127);
    CHECK_EQ_U64(tt_objstat_lifetime(st, 1.0), 127);
    /* offsets resolved to lines: 12 -> 6, 45 -> 7 */
    st = find_site(o, d.code_f, 6, d.t_float);
    CHECK_EQ(st->created, 3);
    CHECK_EQ(st->destroyed, 3);
    CHECK_EQ(st->lifetime[tt__obj_bucket(10)], 3);
    st = find_site(o, d.code_f, 7, d.t_float);
    CHECK_EQ(st->created, 2);
    CHECK_EQ(st->offset, TT_NO_OFFSET);
    st = find_site(o, d.code_g, 21, d.t_float);
    CHECK_EQ(st->died_unseen, 1);
    CHECK_EQ(st->survived, 0);
    CHECK_EQ(tt_objstat_lifetime(st, 0.5), UINT64_MAX);
    st = find_type(o, d.t_list);
    CHECK_EQ(st->created, 11);
    CHECK_EQ(st->survived, 5);
    CHECK_EQ(st->code, TT_NO_CODE);
    st = find_type(o, d.t_float);
    CHECK_EQ(st->created, 6);
    CHECK_EQ(st->destroyed, 5);
    /* orders: largest survivor group first; most created first */
    CHECK_EQ(tt_objects_site(o, TT_OBJ_BY_SURVIVED, 0)->survived, 4);
    CHECK_EQ(tt_objects_site(o, TT_OBJ_BY_CREATED, 0)->created, 10);
    CHECK(tt_objects_site(o, 0, s->n_sites) == NULL);
    CHECK(tt_objects_type(o, s->n_types) == NULL);
    CHECK_EQ(s->n_types, 2);
    tt_objects_free(o);
    /* analysing twice gives the same result (the reader is rewound) */
    CHECK_OK(tt_objects_analyze(r, &o));
    CHECK_EQ(tt_objects_summary(o)->created, 17);
    tt_objects_free(o);
    tt_reader_close(r);
}

void test_objects_verdicts(void)
{
    const char *path = tmp_path("verdicts.ttrace");
    uint64_t start = test_header()->start_tick;
    uint64_t dead[] = {A(7), A(5) /* already freed: ignored */};
    uint64_t unv[] = {A(100), A(12345) /* unknown: ignored */};
    tt_objagg_summary_t sum = {TT_OBJAGG_CHECKED, 3, 42};
    tt_tbuf_t *b0, *b1;
    tt_reader_t *r;
    tt_objects_t *o;
    const tt_objects_summary_t *s;
    ids d;
    tt_writer_t *w = open_objects(path, &d, &b0, &b1);

    write_stream(w, &d, b0, b1, start);
    CHECK_OK(tt_writer_objagg(w, &sum, NULL, 0, dead, 2, unv, 2));
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_EQ(tt_reader_damage(r)->status, 0);
    CHECK_EQ(tt_reader_n_ancillary(r), 1);
    CHECK_OK(tt_objects_analyze(r, &o));
    s = tt_objects_summary(o);
    CHECK_EQ(s->checked, 1);
    CHECK_EQ(s->survived, 4);           /* A(7) proven dead at stop */
    CHECK_EQ(s->died_unseen, 2);
    CHECK_EQ(s->repaired, 4);           /* 1 in the replay + 3 in capture */
    CHECK_EQ(s->filtered, 42);
    CHECK_EQ(s->unverified, 1);         /* A(100) */
    CHECK_EQ(s->complete_deaths, 0);
    CHECK_EQ(find_site(o, d.code_f, 6, d.t_list)->survived, 3);
    CHECK_EQ(find_site(o, d.code_f, 6, d.t_list)->unverified, 0);
    CHECK_EQ(find_site(o, d.code_g, 22, d.t_list)->unverified, 1);
    tt_objects_free(o);
    tt_reader_close(r);

    /* Checked with no verdicts: every survivor verified. */
    w = open_objects(path, &d, &b0, &b1);
    write_stream(w, &d, b0, b1, start);
    CHECK_OK(tt_writer_objagg(w, &sum, NULL, 0, NULL, 0, NULL, 0));
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_OK(tt_objects_analyze(r, &o));
    CHECK_EQ(tt_objects_summary(o)->survived, 5);
    CHECK_EQ(tt_objects_summary(o)->unverified, 0);
    CHECK_EQ(tt_objects_summary(o)->complete_deaths, 1);
    tt_objects_free(o);
    tt_reader_close(r);
}

/* --no-calls: rows of objects born and dead in the capture's ring, beside
 * the event log, in two chunks (a periodic write and the stop one). They
 * add to the replayed events per site and type, and only their creations
 * are `unlogged`. */
void test_objagg_rows_beside_events(void)
{
    const char *path = tmp_path("beside.ttrace");
    uint64_t start = test_header()->start_tick;
    tt_objagg_summary_t none = {0, 0, 0};
    tt_objagg_summary_t sum = {TT_OBJAGG_CHECKED, 0, 0};
    tt_objstat_t row;
    tt_tbuf_t *b0, *b1;
    tt_reader_t *r;
    tt_objects_t *o;
    const tt_objects_summary_t *s;
    const tt_objstat_t *site;
    uint64_t ev_created, ev_destroyed, ev_survived, site_created;
    uint64_t site_b0, site_b3;
    ids d;
    tt_writer_t *w = open_objects(path, &d, &b0, &b1);

    /* The events alone first: the reference the rows must add to. */
    write_stream(w, &d, b0, b1, start);
    CHECK_OK(tt_writer_objagg(w, &sum, NULL, 0, NULL, 0, NULL, 0));
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_OK(tt_objects_analyze(r, &o));
    s = tt_objects_summary(o);
    CHECK_EQ(s->unlogged, 0);
    ev_created = s->created;
    ev_destroyed = s->destroyed;
    ev_survived = s->survived;
    site = find_site(o, d.code_f, 6, d.t_float);
    site_created = site->created;
    site_b0 = site->lifetime[0];
    site_b3 = site->lifetime[3];
    tt_objects_free(o);
    tt_reader_close(r);

    w = open_objects(path, &d, &b0, &b1);
    write_stream(w, &d, b0, b1, start);
    memset(&row, 0, sizeof row);
    row.code = d.code_f;
    row.line = TT_NO_LINE;
    row.offset = 12;                    /* line 6 by the code's ranges */
    row.type = d.t_float;
    row.created = row.destroyed = 1000;
    row.lifetime[0] = 600;
    row.lifetime[3] = 400;
    CHECK_OK(tt_writer_objagg(w, &none, &row, 1, NULL, 0, NULL, 0));
    row.created = row.destroyed = 24;
    row.lifetime[0] = 24;
    row.lifetime[3] = 0;
    CHECK_OK(tt_writer_objagg(w, &sum, &row, 1, NULL, 0, NULL, 0));
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_EQ(tt_reader_n_ancillary(r), 2);
    CHECK_OK(tt_objects_analyze(r, &o));
    s = tt_objects_summary(o);
    CHECK_EQ(s->aggregated, 0);
    CHECK_EQ(s->checked, 1);
    CHECK_EQ(s->unlogged, 1024);
    CHECK_EQ(s->created, ev_created + 1024);
    CHECK_EQ(s->destroyed, ev_destroyed + 1024);
    CHECK_EQ(s->survived, ev_survived);
    site = find_site(o, d.code_f, 6, d.t_float);
    CHECK_EQ(site->created, site_created + 1024);
    CHECK_EQ(site->lifetime[0], site_b0 + 624);
    CHECK_EQ(site->lifetime[3], site_b3 + 400);
    CHECK(find_type(o, d.t_float)->created >= 1024);
    tt_objects_free(o);
    tt_reader_close(r);
}

/* Count mode: many rows and a long verdict list span several chunks. */
void test_objagg_rows_chunks(void)
{
    const char *path = tmp_path("rows.ttrace");
    enum { NR = 3000, NA = 2500 };
    tt_objstat_t *rows = calloc(NR, sizeof *rows);
    uint64_t *addrs = calloc(NA, sizeof *addrs);
    tt_objagg_summary_t sum = {TT_OBJAGG_ROWS | TT_OBJAGG_CHECKED, 0, 0};
    uint64_t seed = 7, created = 0, survived = 0, unverified = 0;
    tt_tbuf_t *b0, *b1;
    tt_reader_t *r;
    tt_objects_t *o;
    const tt_objstat_t *st;
    uint32_t n_chunks = 0;
    ids d;
    tt_writer_t *w = open_objects(path, &d, &b0, &b1);

    CHECK(rows && addrs);
    for (int i = 0; i < NR; i++) {
        tt_objstat_t *x = &rows[i];
        x->code = i % 7 == 0 ? TT_NO_CODE : (i & 1 ? d.code_f : d.code_g);
        x->line = x->code == TT_NO_CODE ? TT_NO_LINE : 1000 + i;
        x->offset = TT_NO_OFFSET;
        x->type = i % 3 ? d.t_list : d.t_float;
        x->created = 1 + rnd_next(&seed) % 1000000;
        x->survived = x->created / 3;
        x->unverified = x->survived / 2;
        x->died_unseen = 1;
        x->destroyed = x->created - x->survived - 1;
        for (int b = 0; b < TT_OBJ_BUCKETS; b += 1 + i % 5)
            x->lifetime[b] = rnd_next(&seed) % 100000;
        created += x->created;
        survived += x->survived;
        unverified += x->unverified;
    }
    rows[1].offset = 41;                /* an offset site: line 7 */
    rows[1].line = TT_NO_LINE;
    for (int i = 0; i < NA; i++)
        addrs[i] = rnd_next(&seed);
    CHECK_OK(tt_writer_objagg(w, &sum, rows, NR, addrs, NA, addrs, 10));
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_EQ(tt_reader_damage(r)->status, 0);
    for (uint32_t i = 0; i < tt_reader_n_ancillary(r); i++) {
        uint8_t type;
        const uint8_t *p;
        size_t len;
        CHECK_OK(tt_reader_ancillary(r, i, &type, &p, &len));
        CHECK_EQ(type, TT_CHUNK_OBJAGG);
        CHECK(len > 0 && len <= 300 * 1024);
        n_chunks++;
    }
    CHECK(n_chunks >= 2);
    CHECK_EQ(tt_reader_ancillary(r, n_chunks, NULL, NULL, NULL), TT_EINVAL);
    CHECK_OK(tt_objects_analyze(r, &o));
    CHECK_EQ(tt_objects_summary(o)->aggregated, 1);
    CHECK_EQ(tt_objects_summary(o)->bad_chunks, 0);
    CHECK_EQ_U64(tt_objects_summary(o)->created, created);
    CHECK_EQ_U64(tt_objects_summary(o)->survived, survived);
    CHECK_EQ_U64(tt_objects_summary(o)->unverified, unverified);
    /* rows without a code (every 7th) merge by type: 2 sites remain */
    CHECK_EQ(tt_objects_summary(o)->n_sites, NR - (NR + 6) / 7 + 2);
    st = find_site(o, d.code_f, 7, rows[1].type);
    CHECK_EQ_U64(st->created, rows[1].created);
    st = find_site(o, rows[2].code, rows[2].line, rows[2].type);
    for (int b = 0; b < TT_OBJ_BUCKETS; b++)
        CHECK_EQ_U64(st->lifetime[b], rows[2].lifetime[b]);
    tt_objects_free(o);
    tt_reader_close(r);
    free(rows);
    free(addrs);
}

static int count_rows(void *ctx, const tt_objstat_t *row)
{
    (void)row;
    ++*(int *)ctx;
    return 0;
}

static int keep_row(void *ctx, const tt_objstat_t *row)
{
    *(tt_objstat_t *)ctx = *row;
    return 0;
}

static int keep_summary(void *ctx, const tt_objagg_summary_t *s)
{
    (void)s;
    ((tt_objstat_t *)ctx)->offset = 77;     /* marks: summary seen */
    return 0;
}

/* The worked example of FORMAT.md §14, byte for byte. */
void test_objagg_format_example(void)
{
    static const uint8_t ex[] = {0x01, 0x03, 0x02, 0x00, 0x00,
        0x02, 0x12, 0x01, 0x0C, 0x00, 0x01, 0x0A, 0x06, 0x04, 0x00, 0x00,
        0x08, 0, 0, 0, 0, 0, 0, 0, 0x06};
    tt__objagg_sink sink = {keep_summary, keep_row, NULL, NULL, NULL};
    tt_objstat_t row, seen;

    memset(&seen, 0, sizeof seen);
    CHECK_OK(tt__objagg_decode(ex, 5, 2, 2, &sink, &seen));
    CHECK_EQ(seen.offset, 77);
    CHECK_OK(tt__objagg_decode(ex + 5, sizeof ex - 5, 1, 2, &sink, &row));
    CHECK_EQ(row.code, 0);
    CHECK_EQ(row.line, 6);
    CHECK_EQ(row.offset, TT_NO_OFFSET);
    CHECK_EQ(row.type, 1);
    CHECK_EQ(row.created, 10);
    CHECK_EQ(row.destroyed, 6);
    CHECK_EQ(row.survived, 4);
    CHECK_EQ(row.lifetime[7], 6);
}

void test_objagg_malformed(void)
{
    const char *path = tmp_path("bad.ttrace");
    tt_objstat_t row;
    tt_objagg_summary_t sum = {TT_OBJAGG_CHECKED, 0, 0};
    tt__objagg_sink sink = {NULL, count_rows, NULL, NULL, NULL};
    tt_tbuf_t *b0, *b1;
    tt_reader_t *r;
    tt_objects_t *o;
    uint8_t *data, *buf;
    size_t len, n;
    int rows = 0;
    ids d;
    tt_writer_t *w = open_objects(path, &d, &b0, &b1);
    /* ROW then unknown ancillary record 0x90, then a ROW naming code 9 */
    static const uint8_t good[] = {0x02, 12, 1, 12, 0, 0, 5, 1, 4, 0, 0, 1,
                                   0x01, 0x07, 0x90, 2, 0xAA, 0xBB};
    static const uint8_t badid[] = {0x02, 11, 10, 2, 0, 0, 1, 1, 0, 0, 0, 0};
    static const uint8_t badkind[] = {0x05, 0};
    static const uint8_t badlen[] = {0x02, 40, 1};
    static const uint8_t badverdict[] = {0x03, 3, 7, 1, 2};

    /* the decoder alone */
    CHECK_OK(tt__objagg_decode(good, sizeof good, 2, 2, &sink, &rows));
    CHECK_EQ(rows, 1);
    CHECK_EQ(tt__objagg_decode(badid, sizeof badid, 2, 2, &sink, &rows),
             TT_ECORRUPT);
    CHECK_EQ(tt__objagg_decode(badkind, sizeof badkind, 2, 2, &sink, &rows),
             TT_ECORRUPT);
    CHECK_EQ(tt__objagg_decode(badlen, sizeof badlen, 2, 2, &sink, &rows),
             TT_ECORRUPT);
    CHECK_EQ(tt__objagg_decode(badverdict, sizeof badverdict, 2, 2, &sink,
                               &rows), TT_ECORRUPT);

    /* the writer refuses undefined ids and unverified > survived */
    memset(&row, 0, sizeof row);
    row.code = 9;
    row.offset = TT_NO_OFFSET;
    CHECK_EQ(tt_writer_objagg(w, &sum, &row, 1, NULL, 0, NULL, 0), TT_EINVAL);
    row.code = TT_NO_CODE;
    row.type = 7;
    CHECK_EQ(tt_writer_objagg(w, &sum, &row, 1, NULL, 0, NULL, 0), TT_EINVAL);
    row.type = 0;
    row.unverified = 1;
    CHECK_EQ(tt_writer_objagg(w, &sum, &row, 1, NULL, 0, NULL, 0), TT_EINVAL);
    CHECK_EQ(tt_writer_objagg(NULL, &sum, NULL, 0, NULL, 0, NULL, 0),
             TT_EINVAL);
    tt_tbuf_obj_create(b0, test_header()->start_tick + 5, d.t_list, A(1), 40,
                       d.code_f, 6, TT_NO_OFFSET);
    CHECK_OK(tt_writer_close(w));

    /* A file with a malformed 0x81 chunk spliced in before END, and a
     * foreign ancillary chunk: the analysis skips the bad one and counts
     * it; the survivor stays unverified (no valid summary). */
    data = read_file(path, &len);
    buf = malloc(len + 200);
    CHECK(buf != NULL);
    memcpy(buf, data, len - 22);        /* END: 20 + 2 payload bytes */
    n = len - 22;
    n += frame_chunk(buf + n, TT_CHUNK_OBJAGG, UINT32_MAX, badkind,
                     sizeof badkind);
    n += frame_chunk(buf + n, 0xF0, UINT32_MAX, "xyz", 3);
    memcpy(buf + n, data + len - 22, 22);
    n += 22;
    CHECK_OK(tt_reader_open_mem(&r, buf, n, 0));
    CHECK_EQ(tt_reader_damage(r)->status, 0);
    CHECK_EQ(tt_reader_n_ancillary(r), 2);
    CHECK_OK(tt_objects_analyze(r, &o));
    CHECK_EQ(tt_objects_summary(o)->bad_chunks, 1);
    CHECK_EQ(tt_objects_summary(o)->survived, 1);
    CHECK_EQ(tt_objects_summary(o)->unverified, 1);
    CHECK_EQ(exercise_reader(buf, n), 0);
    tt_objects_free(o);
    tt_reader_close(r);
    free(buf);
    free(data);
}

/* Verdict lists longer than one record (1000 addresses) all apply. */
void test_objagg_long_verdicts(void)
{
    const char *path = tmp_path("longverdicts.ttrace");
    enum { N = 3500 };
    uint64_t start = test_header()->start_tick, *dead, *unv;
    tt_objagg_summary_t sum = {TT_OBJAGG_CHECKED, 0, 0};
    tt_tbuf_t *b0, *b1;
    tt_reader_t *r;
    tt_objects_t *o;
    ids d;
    tt_writer_t *w = open_objects(path, &d, &b0, &b1);

    dead = calloc(N, sizeof *dead);
    unv = calloc(N, sizeof *unv);
    CHECK(dead && unv);
    for (int i = 0; i < 3 * N; i++)
        tt_tbuf_obj_create(b0, start + 1 + (uint64_t)i, d.t_list,
                           A(7919u * (uint64_t)i), 40, d.code_f, 6,
                           TT_NO_OFFSET);
    for (int i = 0; i < N; i++) {
        dead[i] = A(7919u * (uint64_t)(3 * i));
        unv[i] = A(7919u * (uint64_t)(3 * i + 1));
    }
    CHECK_OK(tt_writer_objagg(w, &sum, NULL, 0, dead, N, unv, N));
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_OK(tt_objects_analyze(r, &o));
    CHECK_EQ(tt_objects_summary(o)->died_unseen, N);
    CHECK_EQ(tt_objects_summary(o)->survived, 2 * N);
    CHECK_EQ(tt_objects_summary(o)->unverified, N);
    tt_objects_free(o);
    tt_reader_close(r);
    free(dead);
    free(unv);
}

void test_alloc_fail_objects(void)
{
    const char *path = tmp_path("objalloc.ttrace");
    uint64_t start = test_header()->start_tick;
    uint64_t dead[] = {A(7)};
    tt_objagg_summary_t sum = {TT_OBJAGG_CHECKED, 0, 0};
    tt_objstat_t row;
    tt_tbuf_t *b0, *b1;
    tt_reader_t *r;
    tt_objects_t *o;
    ids d;
    long n, total;
    tt_writer_t *w = open_objects(path, &d, &b0, &b1);

    /* Enough objects that the live table and the site table grow. */
    for (int i = 0; i < 3000; i++)
        tt_tbuf_obj_create(b0, start + 10 + (uint64_t)i, d.t_list, A(i), 40,
                           d.code_f, 100 + i % 200, TT_NO_OFFSET);
    memset(&row, 0, sizeof row);
    row.code = d.code_g;
    row.offset = TT_NO_OFFSET;
    row.created = 3;
    for (n = 1;; n++) {
        int rc;
        tt__alloc_fail_at(n, 0);
        rc = tt_writer_objagg(w, &sum, &row, 1, dead, 1, NULL, 0);
        tt__alloc_fail_at(0, 0);
        if (rc == 0)
            break;
        CHECK_EQ(rc, TT_ENOMEM);
        CHECK(n < 100);
    }
    {
        /* import spans and a chain, and their allocations */
        const tt_objspan_t spans[] = {{0, 100, 200}, {0, 50, 60}};
        const tt_objpath_step_t chain[] = {{TT_OBJPATH_MODULE, "m"},
                                           {TT_OBJPATH_OBJECT, "list"}};
        for (n = 1;; n++) {
            int rc;
            tt__alloc_fail_at(n, 0);
            rc = tt_writer_objspans(w, spans, 2);
            if (rc == 0)
                rc = tt_writer_objpath(w, A(2999), chain, 2);
            tt__alloc_fail_at(0, 0);
            if (rc == 0)
                break;
            CHECK_EQ(rc, TT_ENOMEM);
            CHECK(n < 100);
        }
    }
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_EQ(tt_reader_damage(r)->status, 0);
    tt__alloc_fail_at(INT32_MAX, 0);
    CHECK_OK(tt_objects_analyze(r, &o));
    total = tt__alloc_count();
    tt__alloc_fail_at(0, 0);
    tt_objects_free(o);
    CHECK(total > 5);
    for (n = 1; n <= total; n++) {
        tt__alloc_fail_at(n, 0);
        CHECK_EQ(tt_objects_analyze(r, &o), TT_ENOMEM);
        CHECK(o == NULL);
        tt__alloc_fail_at(0, 0);
    }
    CHECK_OK(tt_objects_analyze(r, &o));
    CHECK_EQ(tt_objects_summary(o)->created, 3003);
    CHECK_EQ(tt_objects_summary(o)->survived, 2999);   /* A(7) dead */
    tt_objects_free(o);
    tt_reader_close(r);
}

/* Import spans mark the survivors made while a module was being
 * imported (per thread: a span of another thread changes nothing), and a
 * PATH record is attached to the row of the survivor it names. */
void test_objects_imports_paths(void)
{
    const char *path = tmp_path("imports.ttrace");
    uint64_t start = test_header()->start_tick;
    tt_objagg_summary_t sum = {TT_OBJAGG_CHECKED, 0, 0};
    /* f:6 lists A(6..9) survive, born at 1006..1009 in thread 0 */
    tt_objspan_t spans[] = {{0, 1007, 1008}, {1, 1000, 1010},
                            {0, 1007, 1007} /* nested view: merged */};
    tt_objpath_step_t chain[] = {{TT_OBJPATH_MODULE, "app"},
                                 {TT_OBJPATH_OBJECT, "dict"},
                                 {TT_OBJPATH_OBJECT, "list"}};
    tt_objpath_step_t bad = {9, "x"};
    const tt_objpath_step_t *steps;
    const tt_objstat_t *site;
    const tt_objects_summary_t *s;
    uint32_t n;
    tt_tbuf_t *b0, *b1;
    tt_reader_t *r;
    tt_objects_t *o;
    ids d;
    tt_writer_t *w = open_objects(path, &d, &b0, &b1);

    write_stream(w, &d, b0, b1, start);
    CHECK_EQ(tt_writer_objspans(w, NULL, 1), TT_EINVAL);
    spans[0].end = 1;
    CHECK_EQ(tt_writer_objspans(w, spans, 3), TT_EINVAL);
    spans[0].end = 1008;
    CHECK_EQ(tt_writer_objpath(w, A(9), &bad, 1), TT_EINVAL);
    CHECK_EQ(tt_writer_objpath(w, A(9), chain, 0), TT_EINVAL);
    CHECK_OK(tt_writer_objspans(w, spans, 3));
    CHECK_OK(tt_writer_objpath(w, A(9), chain, 3));
    CHECK_OK(tt_writer_objpath(w, A(12345), chain, 1));
    CHECK_OK(tt_writer_objagg(w, &sum, NULL, 0, NULL, 0, NULL, 0));
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_OK(tt_objects_analyze(r, &o));
    s = tt_objects_summary(o);
    CHECK_EQ(s->bad_chunks, 0);
    CHECK_EQ(s->n_import_spans, 2);
    CHECK_EQ(s->survived, 5);
    CHECK_EQ(s->survived_import, 2);    /* A(7), A(8) */
    CHECK_EQ(s->unverified_import, 0);
    site = find_site(o, d.code_f, 6, d.t_list);
    CHECK_EQ(site->survived, 4);
    CHECK_EQ(site->survived_import, 2);
    CHECK_EQ(find_site(o, d.code_g, 22, d.t_list)->survived_import, 0);
    CHECK_EQ(find_type(o, d.t_list)->survived_import, 2);
    CHECK_EQ(s->n_paths, 2);
    CHECK_OK(tt_objects_path(o, 0, &site, &steps, &n));
    CHECK(site == find_site(o, d.code_f, 6, d.t_list));
    CHECK_EQ(n, 3);
    CHECK_EQ(steps[0].kind, TT_OBJPATH_MODULE);
    CHECK(strcmp(steps[0].label, "app") == 0);
    CHECK(strcmp(steps[2].label, "list") == 0);
    CHECK_OK(tt_objects_path(o, 1, &site, &steps, &n));
    CHECK(site == NULL);                /* not a survivor of this file */
    CHECK_EQ(n, 1);
    CHECK_EQ(tt_objects_path(o, 2, &site, &steps, &n), TT_EINVAL);
    tt_objects_free(o);
    tt_reader_close(r);
}

/* A malformed IMPORTS or PATH record stops its chunk (bad_chunks), and a
 * reader that does not ask for them still checks them. */
void test_objagg_extras_malformed(void)
{
    static const uint8_t spans_short[] = {0x80, 0x02, 0x05, 0x00};
    static const uint8_t path_kind[] = {0x81, 0x05, 0x10, 0x01, 0x07, 0x01,
                                        'x'};
    static const uint8_t path_len[] = {0x81, 0x05, 0x10, 0x01, 0x01, 0x09,
                                       'x'};
    static const uint8_t ok[] = {0x80, 0x04, 0x01, 0x00, 0x05, 0x02,
                                 0x81, 0x06, 0x10, 0x01, 0x01, 0x02, 'a',
                                 'b'};
    tt__objagg_sink none = {NULL, NULL, NULL, NULL, NULL};

    CHECK_EQ(tt__objagg_decode(spans_short, sizeof spans_short, 0, 0, &none,
                               NULL), TT_ECORRUPT);
    CHECK_EQ(tt__objagg_decode(path_kind, sizeof path_kind, 0, 0, &none,
                               NULL), TT_ECORRUPT);
    CHECK_EQ(tt__objagg_decode(path_len, sizeof path_len, 0, 0, &none,
                               NULL), TT_ECORRUPT);
    CHECK_OK(tt__objagg_decode(ok, sizeof ok, 0, 0, &none, NULL));
}
