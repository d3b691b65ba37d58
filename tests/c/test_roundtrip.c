/* test_roundtrip.c - what the writer writes, the reader reads back: every
 * record and event kind, extreme values, many threads, random streams, the
 * three iteration orders, tick clamping, stats and argument checking.
 */
#include <sys/stat.h>

#include "tt_test.h"

/* Reads path back in merged order and compares with the model. */
static void check_file(const char *path, model *m, uint32_t flags)
{
    tt_reader_t *r;
    evlist got = {0}, want = {0};

    CHECK_OK(tt_reader_open(&r, path, flags));
    CHECK_EQ(tt_reader_damage(r)->status, 0);
    CHECK_EQ(tt_reader_damage(r)->clean_end, 1);
    CHECK_EQ_U64(tt_reader_damage(r)->bytes_lost, 0);
    evlist_read(&got, r, 0);
    for (size_t i = 0; i < m->exp.n; i++)
        evlist_push(&want, &m->exp.ev[i]);
    if (!(flags & TT_READ_FILE)) {
        evlist_sort_merged(&want);
        check_evlists(&got, &want, path);
    } else {
        CHECK_EQ(got.n, want.n);
    }
    tt_reader_close(r);
    evlist_free(&got);
    evlist_free(&want);
}

void test_roundtrip_all_kinds(void)
{
    const char *path = tmp_path("kinds.ttrace");
    const tt_header_t *h = test_header();
    tt_line_range_t ranges[] = {{0, 4, 3}, {4, 10, TT_NO_LINE}, {10, 30, 1}};
    uint32_t s[6], c0, c1, t0, t1;
    tt_code_def_t cd = {0};
    tt_type_def_t td = {0};
    tt_writer_t *w;
    tt_tbuf_t *b;
    tt_reader_t *r;
    model m;
    uint64_t counts[TT_EV__COUNT], dropped;
    const char *k, *v;

    model_init(&m, h->start_tick);
    CHECK_OK(tt_writer_open(&w, path, h));
    CHECK_OK(tt_writer_string(w, "mod.py", 6, &s[0]));
    CHECK_OK(tt_writer_string(w, "<module>", 8, &s[1]));
    CHECK_OK(tt_writer_string(w, "C.meth", 6, &s[2]));
    CHECK_OK(tt_writer_string(w, "KeyError", 8, &s[3]));
    CHECK_OK(tt_writer_string(w, "builtins.list", 13, &s[4]));
    CHECK_OK(tt_writer_string(w, "with\0nul", 8, &s[5]));
    cd.filename = s[0];
    cd.qualname = s[1];
    cd.firstlineno = 1;
    cd.flags = TT_CODE_TRACED;
    cd.parent = TT_NO_PARENT;
    cd.n_ranges = 3;
    cd.ranges = ranges;
    CHECK_OK(tt_writer_code(w, &cd, &c0));
    cd.qualname = s[2];
    cd.firstlineno = 40;
    cd.flags = TT_CODE_TRACED | TT_CODE_GENERATOR;
    cd.parent = c0;
    cd.n_ranges = 0;
    CHECK_OK(tt_writer_code(w, &cd, &c1));
    td.name = s[4];
    td.basicsize = 56;
    td.flags = TT_TYPE_GC;
    CHECK_OK(tt_writer_type(w, &td, &t0));
    td.name = s[3];
    td.basicsize = 80;
    td.flags = TT_TYPE_GC | TT_TYPE_HEAP;
    CHECK_OK(tt_writer_type(w, &td, &t1));
    CHECK_OK(tt_writer_thread(w, 0xdeadbeefcafeull, "MainThread", &b));
    CHECK_OK(tt_writer_note(w, "destroy_gap.eval_loop", "3.13.1"));
    CHECK_OK(tt_writer_note(w, "", ""));
    CHECK_EQ(tt_tbuf_thread(b), 0);

    m_call(&m, b, 1010, c0, 1);
    m_line(&m, b, 1020, c0, 2);
    m_opcode(&m, b, 1021, c0, 2, 0, 151);
    m_opcode(&m, b, 1022, c0, 2, 2, 100);
    m_create(&m, b, 1023, t0, 0x7f12345670, 56, c0, 2, TT_NO_OFFSET);
    m_create(&m, b, 1024, t0, 0x7f12345690, 72, c0, 2, 4);   /* not basicsize */
    m_create(&m, b, 1025, t1, 0x7f12345697, 80, c0, 2, 6);   /* odd address */
    m_create(&m, b, 1025, t1, 0x10, 80, TT_NO_CODE, TT_NO_LINE, TT_NO_OFFSET);
    m_call(&m, b, 1030, c1, 40);
    m_line(&m, b, 1031, c1, 41);
    m_exception(&m, b, 1032, c1, 41, s[3]);
    m_return(&m, b, 1033, c1, 41);
    m_destroy(&m, b, 1034, 0x7f12345690);
    m_destroy(&m, b, 1035, 0x7f12345697);
    m_line(&m, b, 1036, c0, 3);
    m_return(&m, b, 1040, c0, 3);
    CHECK_OK(tt_writer_close(w));

    check_file(path, &m, TT_READ_MERGED);
    check_file(path, &m, TT_READ_FILE);

    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_STR(tt_reader_header(r)->python_impl, "cpython");
    CHECK_STR(tt_reader_header(r)->python_version, "3.13.15");
    CHECK_STR(tt_reader_header(r)->python_build, h->python_build);
    CHECK_EQ(tt_reader_header(r)->argc, 3);
    CHECK_STR(tt_reader_header(r)->argv[0], "app.py");
    CHECK_STR(tt_reader_header(r)->argv[1], "--flag");
    CHECK_STR(tt_reader_header(r)->argv[2], "");
    CHECK_EQ_U64(tt_reader_header(r)->start_unix_ns, h->start_unix_ns);
    CHECK_EQ_U64(tt_reader_header(r)->start_tick, 1000);
    CHECK_STR(tt_reader_header(r)->clock_name, "monotonic");
    CHECK_EQ_U64(tt_reader_header(r)->clock_hz, 1000000000ull);
    CHECK_EQ(tt_reader_header(r)->options, TT_OPT_CALLS | TT_OPT_LINES);
    CHECK_STR(tt_reader_header(r)->options_text, "--threads all");
    CHECK_EQ(tt_reader_header(r)->n_opnames, 5);
    CHECK_STR(tt_reader_header(r)->opnames[0], "CACHE");
    CHECK_STR(tt_reader_header(r)->opnames[1], "");     /* NULL became "" */
    CHECK_STR(tt_reader_header(r)->opnames[4], "POP_TOP");
    CHECK_STR(tt_reader_string(r, s[1]), "<module>");
    CHECK_EQ(memcmp(tt_reader_string(r, s[5]), "with\0nul", 9), 0);
    CHECK(tt_reader_string(r, 6) == NULL);
    CHECK_EQ(tt_reader_n_codes(r), 2);
    CHECK_EQ(tt_reader_code(r, c0)->firstlineno, 1);
    CHECK_EQ(tt_reader_code(r, c0)->parent, TT_NO_PARENT);
    CHECK_EQ(tt_reader_code(r, c0)->n_ranges, 3);
    CHECK_EQ(tt_reader_code(r, c0)->ranges[1].start, 4);
    CHECK_EQ(tt_reader_code(r, c0)->ranges[1].end, 10);
    CHECK_EQ(tt_reader_code(r, c0)->ranges[1].line, TT_NO_LINE);
    CHECK_EQ(tt_code_line_at(tt_reader_code(r, c0), 12), 1);
    CHECK_EQ(tt_reader_code(r, c1)->parent, c0);
    CHECK_EQ(tt_reader_code(r, c1)->flags, TT_CODE_TRACED | TT_CODE_GENERATOR);
    CHECK_EQ(tt_reader_code(r, c1)->qualname, s[2]);
    CHECK_EQ(tt_reader_n_types(r), 2);
    CHECK_EQ(tt_reader_type(r, t1)->name, s[3]);
    CHECK_EQ_U64(tt_reader_type(r, t1)->basicsize, 80);
    CHECK_EQ(tt_reader_type(r, t1)->flags, TT_TYPE_GC | TT_TYPE_HEAP);
    CHECK_EQ(tt_reader_n_threads(r), 1);
    CHECK_EQ_U64(tt_reader_thread(r, 0)->ident, 0xdeadbeefcafeull);
    CHECK_STR(tt_reader_thread(r, 0)->name, "MainThread");
    CHECK_EQ_U64(tt_reader_thread(r, 0)->events, m.exp.n);
    CHECK_EQ_U64(tt_reader_thread(r, 0)->first_tick, 10);
    CHECK_EQ_U64(tt_reader_thread(r, 0)->last_tick, 40);
    CHECK_EQ(tt_reader_n_notes(r), 2);
    CHECK_OK(tt_reader_note(r, 0, &k, &v));
    CHECK_STR(k, "destroy_gap.eval_loop");
    CHECK_STR(v, "3.13.1");
    CHECK_OK(tt_reader_note(r, 1, &k, &v));
    CHECK_STR(k, "");
    CHECK_STR(v, "");
    CHECK_EQ(tt_reader_note(r, 2, &k, &v), TT_EINVAL);
    tt_reader_counts(r, counts, &dropped);
    CHECK_EQ_U64(counts[TT_EV_CALL], 2);
    CHECK_EQ_U64(counts[TT_EV_LINE], 3);
    CHECK_EQ_U64(counts[TT_EV_RETURN], 2);
    CHECK_EQ_U64(counts[TT_EV_EXCEPTION], 1);
    CHECK_EQ_U64(counts[TT_EV_OPCODE], 2);
    CHECK_EQ_U64(counts[TT_EV_OBJ_CREATE], 4);
    CHECK_EQ_U64(counts[TT_EV_OBJ_DESTROY], 2);
    CHECK_EQ_U64(counts[TT_EV_DROPPED], 0);
    CHECK_EQ_U64(dropped, 0);
    tt_reader_close(r);
    evlist_free(&m.exp);
}

void test_roundtrip_extremes(void)
{
    const char *path = tmp_path("extremes.ttrace");
    tt_header_t h = *test_header();
    tt_line_range_t ranges[] = {{0, 0, INT32_MIN}, {0, UINT32_MAX, INT32_MAX}};
    static char longstr[200001];
    uint32_t s0, s1, s2, c0, c1, t0;
    tt_code_def_t cd = {0};
    tt_type_def_t td = {0};
    tt_writer_t *w;
    tt_tbuf_t *b;
    tt_reader_t *r;
    model m;
    uint64_t t;

    h.start_tick = 0;
    memset(longstr, 'x', sizeof longstr - 1);
    model_init(&m, 0);
    CHECK_OK(tt_writer_open(&w, path, &h));
    CHECK_OK(tt_writer_string(w, "", 0, &s0));
    CHECK_OK(tt_writer_string(w, NULL, 0, &s1));
    CHECK_OK(tt_writer_string(w, longstr, sizeof longstr - 1, &s2));
    cd.filename = s2;
    cd.qualname = s0;
    cd.firstlineno = INT32_MAX;
    cd.flags = UINT32_MAX;
    cd.parent = TT_NO_PARENT;
    cd.n_ranges = 2;
    cd.ranges = ranges;
    CHECK_OK(tt_writer_code(w, &cd, &c0));
    cd.firstlineno = INT32_MIN;
    cd.n_ranges = 0;
    cd.parent = c0;
    CHECK_OK(tt_writer_code(w, &cd, &c1));
    td.name = s1;
    td.basicsize = UINT64_MAX;
    td.flags = UINT32_MAX;
    CHECK_OK(tt_writer_type(w, &td, &t0));
    CHECK_OK(tt_writer_thread(w, UINT64_MAX, longstr + 100000, &b));

    t = 0;
    m_line(&m, b, t, c0, 0);                   /* line 0 */
    m_line(&m, b, t, c0, TT_NO_LINE);
    m_line(&m, b, t, c0, INT32_MAX);           /* big jumps both ways */
    m_line(&m, b, t, c0, INT32_MIN);
    m_call(&m, b, t, c1, INT32_MAX);
    m_call(&m, b, t, c0, INT32_MIN);
    m_return(&m, b, t, c0, INT32_MAX);
    m_exception(&m, b, t, TT_NO_CODE, TT_NO_LINE, s2);
    m_line(&m, b, t, TT_NO_CODE, 5);
    m_opcode(&m, b, t, c0, 0, UINT32_MAX, 255);
    m_opcode(&m, b, t, c0, 0, 0, 0);
    m_opcode(&m, b, t, c0, 0, UINT32_MAX - 1, 1);
    m_create(&m, b, t, t0, UINT64_MAX, UINT64_MAX, c1, INT32_MIN, UINT32_MAX - 1);
    m_create(&m, b, t, t0, 0, 0, c1, INT32_MAX, 0);
    m_create(&m, b, t, t0, 0x8000000000000000ull, UINT64_MAX, c1, 0, 0);
    m_destroy(&m, b, t, UINT64_MAX);
    m_destroy(&m, b, t, 0);
    m_destroy(&m, b, t, 0x8000000000000000ull);
    m_destroy(&m, b, t, 0x7ffffffffffffff0ull);
    /* ticks: huge deltas, then up to the very top of uint64 */
    m_line(&m, b, 1, c0, 1);
    m_line(&m, b, UINT64_MAX / 2, c0, 2);
    m_line(&m, b, UINT64_MAX - 1, c0, 3);
    m_line(&m, b, UINT64_MAX, c0, 4);
    m_line(&m, b, UINT64_MAX, c0, 5);
    m_line(&m, b, 5, c0, 6);                    /* backwards: clamped */
    CHECK_OK(tt_writer_close(w));

    check_file(path, &m, TT_READ_MERGED);
    check_file(path, &m, TT_READ_FILE);
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_STR(tt_reader_string(r, s0), "");
    CHECK_STR(tt_reader_string(r, s1), "");
    CHECK_EQ(strlen(tt_reader_string(r, s2)), sizeof longstr - 1);
    CHECK_EQ(strlen(tt_reader_thread(r, 0)->name), 100000);
    CHECK_EQ_U64(tt_reader_thread(r, 0)->ident, UINT64_MAX);
    CHECK_EQ_U64(tt_reader_thread(r, 0)->last_tick, UINT64_MAX);
    CHECK_EQ(tt_reader_code(r, c0)->firstlineno, INT32_MAX);
    CHECK_EQ(tt_reader_code(r, c0)->flags, UINT32_MAX);
    CHECK_EQ(tt_reader_code(r, c0)->ranges[0].line, INT32_MIN);
    CHECK_EQ(tt_reader_code(r, c0)->ranges[1].end, UINT32_MAX);
    CHECK_EQ(tt_reader_code(r, c1)->firstlineno, INT32_MIN);
    CHECK_EQ_U64(tt_reader_type(r, t0)->basicsize, UINT64_MAX);
    tt_reader_close(r);
    evlist_free(&m.exp);
}

/* Many threads, several chunks each, huge code ids. */
void test_roundtrip_many_threads(void)
{
    const char *path = tmp_path("threads.ttrace");
    enum { NT = 300, NC = 70000 };
    static tt_tbuf_t *tb[NT];
    tt_code_def_t cd = {0};
    uint32_t s0, code = 0;
    tt_writer_t *w;
    tt_reader_t *r;
    uint64_t seed = 1;
    model m;

    tt__tbuf_cap = 512;
    model_init(&m, 1000);
    CHECK_OK(tt_writer_open(&w, path, test_header()));
    CHECK_OK(tt_writer_string(w, "f.py", 4, &s0));
    cd.filename = cd.qualname = s0;
    cd.parent = TT_NO_PARENT;
    for (uint32_t i = 0; i < NC; i++) {
        cd.firstlineno = (int32_t)i;
        CHECK_OK(tt_writer_code(w, &cd, &code));
        CHECK_EQ(code, i);
    }
    for (uint32_t i = 0; i < NT; i++) {
        char name[32];
        snprintf(name, sizeof name, "T%u", i);
        CHECK_OK(tt_writer_thread(w, 1000 + i, i % 2 ? name : NULL, &tb[i]));
        CHECK_EQ(tt_tbuf_thread(tb[i]), i);
    }
    for (int round = 0; round < 60; round++)
        for (uint32_t i = 0; i < NT; i++) {
            uint32_t c = (uint32_t)(rnd_next(&seed) % NC);
            uint64_t t = 2000 + (uint64_t)round * 100 + rnd_next(&seed) % 50;
            m_call(&m, tb[i], t, c, (int32_t)c);
            m_line(&m, tb[i], t + 1, c, (int32_t)c + 1);
            m_return(&m, tb[i], t + 2, c, (int32_t)c + 1);
        }
    CHECK_OK(tt_writer_close(w));
    tt__tbuf_cap = 64 * 1024;
    check_file(path, &m, TT_READ_MERGED);
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_EQ(tt_reader_n_threads(r), NT);
    CHECK_STR(tt_reader_thread(r, 7)->name, "T7");
    CHECK_STR(tt_reader_thread(r, 8)->name, "");
    CHECK_EQ_U64(tt_reader_thread(r, 299)->ident, 1299);
    CHECK_EQ_U64(tt_reader_thread(r, 299)->events, 180);
    CHECK_EQ(tt_reader_n_codes(r), NC);
    tt_reader_close(r);
    evlist_free(&m.exp);
}

/* Random realistic streams with small buffers: exercises every encoder
 * branch (recent-code hits, short and long line forms, chunk resets). */
void test_roundtrip_random_streams(void)
{
    const char *path = tmp_path("random.ttrace");
    enum { NCODE = 9, NTH = 3 };
    tt_code_def_t cd = {0};
    tt_type_def_t td = {0};
    uint32_t s0, codes[NCODE], types[3];
    tt_tbuf_t *tb[NTH];
    tt_writer_t *w;
    uint64_t seed = 99, t[NTH] = {5000, 5000, 5000};
    int32_t line[NTH] = {0};
    uint32_t cur[NTH] = {0}, off[NTH] = {0};
    uint64_t addr = 0x7f0000000000ull;
    model m;

    for (int cap = 0; cap < 3; cap++) {
        static const size_t caps[] = {256, 1000, 65536};
        tt__tbuf_cap = caps[cap];
        model_init(&m, 1000);
        CHECK_OK(tt_writer_open(&w, path, test_header()));
        CHECK_OK(tt_writer_string(w, "x", 1, &s0));
        cd.filename = cd.qualname = s0;
        cd.parent = TT_NO_PARENT;
        for (int i = 0; i < NCODE; i++) {
            cd.firstlineno = 10 * i;
            CHECK_OK(tt_writer_code(w, &cd, &codes[i]));
        }
        for (int i = 0; i < 3; i++) {
            td.name = s0;
            td.basicsize = 16u << i;
            CHECK_OK(tt_writer_type(w, &td, &types[i]));
        }
        for (int i = 0; i < NTH; i++)
            CHECK_OK(tt_writer_thread(w, (uint64_t)i, NULL, &tb[i]));
        for (int i = 0; i < 20000; i++) {
            int th = (int)(rnd_next(&seed) % NTH);
            uint64_t r = rnd_next(&seed);
            tt_tbuf_t *b = tb[th];
            t[th] += r % 300 < 250 ? r % 120 : r % 100000;
            switch (r >> 60) {
            case 0: case 1:
                cur[th] = codes[(r >> 20) % NCODE];
                line[th] = 10 * (int32_t)cur[th];
                m_call(&m, b, t[th], cur[th], line[th]);
                break;
            case 2:
                m_return(&m, b, t[th], cur[th], line[th]);
                cur[th] = codes[(r >> 24) % 3];
                break;
            case 3:
                m_exception(&m, b, t[th], cur[th], line[th], s0);
                break;
            case 4:
                off[th] += 2 * (uint32_t)((r >> 8) % 4);
                m_opcode(&m, b, t[th], cur[th], line[th], off[th],
                         (uint8_t)(r >> 30));
                break;
            case 5: case 6:
                addr += 16 * ((r >> 8) % 64) - 400;
                m_create(&m, b, t[th], types[(r >> 16) % 3], addr,
                         (r >> 40) % 4 ? 16u << ((r >> 16) % 3) : r % 1000,
                         cur[th], line[th],
                         (r >> 50) % 2 ? TT_NO_OFFSET : off[th]);
                break;
            case 7:
                m_destroy(&m, b, t[th], addr - 16 * ((r >> 8) % 8) + (r & 8));
                break;
            default:
                line[th] += (int32_t)((r >> 8) % 300) - 100;
                if ((r >> 40) % 16 == 0)
                    cur[th] = codes[(r >> 20) % NCODE];
                m_line(&m, b, t[th], cur[th], line[th]);
                break;
            }
            if (i % 5000 == 4999)
                CHECK_OK(tt_writer_flush(w));
        }
        CHECK_OK(tt_writer_close(w));
        check_file(path, &m, TT_READ_MERGED);
        evlist_free(&m.exp);
    }
    tt__tbuf_cap = 64 * 1024;
}

void test_order_merged_file_selected(void)
{
    model m;
    const char *path = write_sample(&m);
    tt_reader_t *r;
    evlist want = {0}, got = {0}, sub = {0}, fsub = {0};

    /* merged: sorted by (tick, thread), per-thread order kept */
    for (size_t i = 0; i < m.exp.n; i++)
        evlist_push(&want, &m.exp.ev[i]);
    evlist_sort_merged(&want);
    CHECK_OK(tt_reader_open(&r, path, TT_READ_MERGED));
    evlist_read(&got, r, 0);
    check_evlists(&got, &want, "merged");
    /* one thread at a time, and back to all */
    for (uint32_t t = 0; t < 3; t++) {
        evlist_free(&got);
        evlist_free(&sub);
        CHECK_OK(tt_reader_select_thread(r, t));
        evlist_read(&got, r, 0);
        evlist_filter_thread(&sub, &m.exp, t);
        CHECK(sub.n > 0);
        check_evlists(&got, &sub, "selected thread");
    }
    CHECK_EQ(tt_reader_select_thread(r, 3), TT_EINVAL);
    evlist_free(&got);
    CHECK_OK(tt_reader_select_thread(r, UINT32_MAX));
    evlist_read(&got, r, 0);
    check_evlists(&got, &want, "merged again");
    tt_reader_close(r);

    /* file order: each thread's events in order, threads interleaved by
     * chunk, i.e. not the merged order. */
    evlist_free(&got);
    CHECK_OK(tt_reader_open(&r, path, TT_READ_FILE));
    evlist_read(&got, r, 0);
    CHECK_EQ(got.n, m.exp.n);
    {
        int differs = 0;
        for (size_t i = 0; i < got.n && !differs; i++)
            differs = got.ev[i].thread != want.ev[i].thread;
        CHECK(differs);
        /* runs of one thread: chunks */
        size_t runs = 1;
        for (size_t i = 1; i < got.n; i++)
            runs += got.ev[i].thread != got.ev[i - 1].thread;
        CHECK(runs > 6 && runs < got.n / 4);
    }
    for (uint32_t t = 0; t < 3; t++) {
        evlist_free(&sub);
        evlist_free(&fsub);
        evlist_filter_thread(&sub, &m.exp, t);
        evlist_filter_thread(&fsub, &got, t);
        check_evlists(&fsub, &sub, "file order, per thread");
        evlist_free(&fsub);
        CHECK_OK(tt_reader_select_thread(r, t));
        evlist_read(&fsub, r, 0);
        check_evlists(&fsub, &sub, "file order, selected");
    }
    tt_reader_close(r);
    evlist_free(&want);
    evlist_free(&got);
    evlist_free(&sub);
    evlist_free(&fsub);
    evlist_free(&m.exp);
}

void test_tick_clamp_and_stats(void)
{
    const char *path = tmp_path("clamp.ttrace");
    tt_writer_stats_t st;
    tt_writer_t *w;
    tt_tbuf_t *b;
    tt_reader_t *r;
    tt_event_t ev;
    uint32_t s, c;
    tt_code_def_t cd = {0};

    CHECK_OK(tt_writer_open(&w, path, test_header()));   /* start tick 1000 */
    CHECK_OK(tt_writer_string(w, "a", 1, &s));
    cd.filename = cd.qualname = s;
    cd.parent = TT_NO_PARENT;
    CHECK_OK(tt_writer_code(w, &cd, &c));
    CHECK_OK(tt_writer_thread(w, 1, "t", &b));
    tt_tbuf_line(b, 5, c, 1);          /* before the start tick: 0 */
    tt_tbuf_line(b, 1500, c, 2);
    tt_tbuf_line(b, 1400, c, 3);       /* backwards: stays at 500 */
    tt_tbuf_obj_destroy(b, 1600, 16);
    tt_writer_stats(w, &st);
    CHECK_EQ_U64(st.events[TT_EV_LINE], 3);
    CHECK_EQ_U64(st.events[TT_EV_OBJ_DESTROY], 1);
    CHECK_EQ_U64(st.dropped, 0);
    CHECK_EQ(st.last_error, 0);
    CHECK(st.bytes > 12);
    CHECK_EQ_U64(st.chunks, 1);        /* the header so far */
    CHECK_OK(tt_writer_flush(w));
    tt_writer_stats(w, &st);
    CHECK_EQ_U64(st.chunks, 3);        /* + definitions + events */
    {
        size_t len;
        uint8_t *data = read_file(path, &len);
        CHECK_EQ_U64(len, st.bytes);
        free(data);
    }
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_EQ(tt_reader_next(r, &ev), 1);
    CHECK_EQ_U64(ev.tick, 0);
    CHECK_EQ(tt_reader_next(r, &ev), 1);
    CHECK_EQ_U64(ev.tick, 500);
    CHECK_EQ(tt_reader_next(r, &ev), 1);
    CHECK_EQ_U64(ev.tick, 500);
    CHECK_EQ(ev.line, 3);
    CHECK_EQ(tt_reader_next(r, &ev), 1);
    CHECK_EQ(ev.kind, TT_EV_OBJ_DESTROY);
    CHECK_EQ_U64(ev.addr, 16);
    CHECK_EQ(ev.code, 0);
    CHECK_EQ(ev.line, TT_NO_LINE);
    CHECK_EQ(ev.offset, TT_NO_OFFSET);
    CHECK_EQ(tt_reader_next(r, &ev), 0);
    CHECK_EQ(tt_reader_next(r, &ev), 0);
    tt_reader_close(r);
}

void test_writer_invalid_args(void)
{
    const char *path = tmp_path("inval.ttrace");
    tt_header_t h = *test_header();
    tt_code_def_t cd = {0};
    tt_type_def_t td = {0};
    tt_line_range_t bad[] = {{4, 8, 1}, {6, 10, 2}};
    tt_writer_t *w = (tt_writer_t *)&h;
    tt_reader_t *r = (tt_reader_t *)&h;
    tt_tbuf_t *b = (tt_tbuf_t *)&h;
    uint32_t id = 77, s;
    tt_writer_stats_t st;

    CHECK_EQ(tt_writer_open(NULL, path, &h), TT_EINVAL);
    CHECK_EQ(tt_writer_open(&w, NULL, &h), TT_EINVAL);
    CHECK(w == NULL);
    CHECK_EQ(tt_writer_open(&w, path, NULL), TT_EINVAL);
    h.clock_hz = 0;
    CHECK_EQ(tt_writer_open(&w, path, &h), TT_EINVAL);
    h.clock_hz = 1;
    h.argv = NULL;
    CHECK_EQ(tt_writer_open(&w, path, &h), TT_EINVAL);
    h = *test_header();
    CHECK_EQ(tt_writer_open(&w, "/nonexistent-dir/x.ttrace", &h), TT_EIO);
    CHECK(w == NULL);
    CHECK_EQ(tt_writer_open(&w, "/dev/full", &h), TT_EIO);
    CHECK(w == NULL);

    CHECK_OK(tt_writer_open(&w, path, &h));
    CHECK_EQ(tt_writer_string(w, NULL, 3, &id), TT_EINVAL);
    CHECK_EQ(tt_writer_string(w, "x", 1, NULL), TT_EINVAL);
    CHECK_EQ(tt_writer_string(NULL, "x", 1, &id), TT_EINVAL);
    CHECK_EQ(id, 77);
    cd.parent = TT_NO_PARENT;
    CHECK_EQ(tt_writer_code(w, &cd, &id), TT_EINVAL);   /* string 0 undefined */
    CHECK_OK(tt_writer_string(w, "x", 1, &s));
    cd.parent = 0;
    CHECK_EQ(tt_writer_code(w, &cd, &id), TT_EINVAL);   /* parent undefined */
    cd.parent = TT_NO_PARENT;
    cd.n_ranges = 2;
    CHECK_EQ(tt_writer_code(w, &cd, &id), TT_EINVAL);   /* ranges NULL */
    cd.ranges = bad;
    CHECK_EQ(tt_writer_code(w, &cd, &id), TT_EINVAL);   /* overlapping */
    bad[1].start = 8;
    bad[1].end = 7;
    CHECK_EQ(tt_writer_code(w, &cd, &id), TT_EINVAL);   /* end < start */
    CHECK_EQ(id, 77);
    td.name = 5;
    CHECK_EQ(tt_writer_type(w, &td, &id), TT_EINVAL);
    CHECK_EQ(tt_writer_type(w, NULL, &id), TT_EINVAL);
    CHECK_EQ(tt_writer_thread(w, 1, NULL, NULL), TT_EINVAL);
    CHECK_EQ(tt_writer_thread(NULL, 1, NULL, &b), TT_EINVAL);
    CHECK(b == NULL);
    CHECK_EQ(tt_writer_thread_name(w, 0, "x"), TT_EINVAL);   /* no thread 0 */
    CHECK_OK(tt_writer_thread(w, 1, NULL, &b));
    CHECK_EQ(tt_writer_thread_name(w, 0, NULL), TT_EINVAL);
    CHECK_EQ(tt_writer_note(w, NULL, "v"), TT_EINVAL);
    CHECK_EQ(tt_writer_note(w, "k", NULL), TT_EINVAL);
    CHECK_EQ(tt_writer_flush(NULL), TT_EINVAL);
    CHECK_EQ(tt_writer_close(NULL), TT_EINVAL);
    tt_writer_stats(NULL, &st);
    CHECK_EQ_U64(st.bytes, 0);
    tt_writer_stats(w, NULL);
    CHECK_OK(tt_writer_close(w));

    CHECK_EQ(tt_reader_open(&r, NULL, 0), TT_EINVAL);
    CHECK(r == NULL);
    CHECK_EQ(tt_reader_open(&r, path, 0x10), TT_EINVAL);
    CHECK_EQ(tt_reader_open(&r, "/nonexistent-dir/x.ttrace", 0), TT_EIO);
    CHECK_EQ(tt_reader_open_mem(&r, NULL, 5, 0), TT_EINVAL);
    CHECK_EQ(tt_reader_open(NULL, path, 0), TT_EINVAL);
    CHECK_EQ(tt_reader_next(NULL, NULL), TT_EINVAL);
    CHECK_EQ(tt_reader_select_thread(NULL, 0), TT_EINVAL);
    CHECK(tt_reader_header(NULL) == NULL);
    CHECK(tt_reader_string(NULL, 0) == NULL);
    CHECK_EQ(tt_reader_n_codes(NULL), 0);
    tt_reader_close(NULL);
}

/* Definitions are on disk before the first event chunk that uses them,
 * even when the definitions come after the thread started. */
void test_defs_before_use(void)
{
    const char *path = tmp_path("defs.ttrace");
    const char *copy = tmp_path("defs-copy.ttrace");
    tt_code_def_t cd = {0};
    tt_writer_t *w;
    tt_tbuf_t *b;
    tt_reader_t *r;
    uint32_t s, c;
    size_t len;
    uint8_t *data;
    evlist got = {0};

    tt__tbuf_cap = 256;
    CHECK_OK(tt_writer_open(&w, path, test_header()));
    CHECK_OK(tt_writer_thread(w, 1, "t", &b));
    for (int i = 0; i < 200; i++) {
        /* a new code for each event: each spill must carry its defs */
        CHECK_OK(tt_writer_string(w, "f", 1, &s));
        cd.filename = cd.qualname = s;
        cd.parent = TT_NO_PARENT;
        cd.firstlineno = i;
        CHECK_OK(tt_writer_code(w, &cd, &c));
        tt_tbuf_call(b, 2000 + (uint64_t)i, c, i);
    }
    /* Copy without closing: only spilled chunks are there. */
    data = read_file(path, &len);
    write_file(copy, data, len);
    free(data);
    CHECK_OK(tt_reader_open(&r, copy, TT_READ_FILE));
    CHECK_EQ(tt_reader_damage(r)->status, TT_ETRUNCATED);
    CHECK_EQ(tt_reader_damage(r)->clean_end, 0);
    CHECK_EQ_U64(tt_reader_damage(r)->bytes_lost, 0);
    evlist_read(&got, r, 0);
    CHECK(got.n > 100);
    for (size_t i = 0; i < got.n; i++) {
        CHECK_EQ(got.ev[i].code, i);
        CHECK_EQ(got.ev[i].line, (int32_t)i);
    }
    tt_reader_close(r);
    CHECK_OK(tt_writer_close(w));
    tt__tbuf_cap = 64 * 1024;
    evlist_free(&got);
}

/* tt_writer_abandon (a forked child's way out): not a byte more reaches
 * the file, what was written stays readable, and nothing leaks (the ASan
 * build checks). */
void test_writer_abandon(void)
{
    const char *path = tmp_path("abandoned.ttrace");
    tt_code_def_t cd = {0};
    tt_tbuf_t *a;
    tt_writer_t *w;
    tt_reader_t *r;
    uint32_t s0, code;
    struct stat before, after;

    CHECK_OK(tt_writer_open(&w, path, test_header()));
    CHECK_OK(tt_writer_string(w, "f.py", 4, &s0));
    cd.filename = cd.qualname = s0;
    cd.parent = TT_NO_PARENT;
    CHECK_OK(tt_writer_code(w, &cd, &code));
    CHECK_OK(tt_writer_thread(w, 11, "main", &a));
    for (int i = 0; i < 100; i++)
        tt_tbuf_line(a, 1000 + (uint64_t)i, code, 1 + i % 7);
    CHECK_OK(tt_writer_flush(w));
    CHECK(stat(path, &before) == 0);
    for (int i = 0; i < 100; i++)
        tt_tbuf_line(a, 2000 + (uint64_t)i, code, 1 + i % 7);
    CHECK_OK(tt_writer_string(w, "g.py", 4, &s0));   /* a pending def too */
    tt_writer_abandon(w);
    tt_writer_abandon(NULL);                           /* a no-op */
    CHECK(stat(path, &after) == 0);
    CHECK_EQ_U64((uint64_t)after.st_size, (uint64_t)before.st_size);
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_EQ(tt_reader_n_threads(r), 1);
    CHECK_EQ_U64(tt_reader_thread(r, 0)->events, 100);
    tt_reader_close(r);
}

/* tt_writer_thread_end: a thread's pending events reach the file at once,
 * its buffer is freed, appends after the end are dropped and counted (in
 * the END chunk, not the stream), its name can still be set, and the
 * other threads go on unaffected. */
void test_thread_end(void)
{
    const char *path = tmp_path("ended.ttrace");
    tt_code_def_t cd = {0};
    tt_tbuf_t *a, *b;
    tt_writer_t *w;
    tt_writer_stats_t st;
    tt_reader_t *r;
    uint32_t s0, code;
    model m;

    model_init(&m, 1000);
    CHECK_OK(tt_writer_open(&w, path, test_header()));
    CHECK_OK(tt_writer_string(w, "f.py", 4, &s0));
    cd.filename = cd.qualname = s0;
    cd.parent = TT_NO_PARENT;
    CHECK_OK(tt_writer_code(w, &cd, &code));
    CHECK_OK(tt_writer_thread(w, 11, "short", &a));
    CHECK_OK(tt_writer_thread(w, 12, "long", &b));
    for (int i = 0; i < 100; i++) {
        m_call(&m, a, 2000 + 10 * (uint64_t)i, code, 1);
        m_return(&m, a, 2001 + 10 * (uint64_t)i, code, 2);
        m_line(&m, b, 2002 + 10 * (uint64_t)i, code, 3);
    }
    CHECK_OK(tt_writer_thread_end(w, a));
    CHECK(a->buf == NULL);
    CHECK_EQ(tt_writer_thread_end(w, NULL), TT_EINVAL);
    CHECK_OK(tt_writer_thread_end(w, a));            /* twice: no-op */
    /* Not in the model: dropped. */
    tt_tbuf_line(a, 5000, code, 4);
    tt_tbuf_call(a, 5001, code, 1);
    CHECK_OK(tt_writer_thread_name(w, tt_tbuf_thread(a), "short-renamed"));
    for (int i = 0; i < 100; i++)
        m_line(&m, b, 6000 + (uint64_t)i, code, 3);
    tt_writer_stats(w, &st);
    CHECK_EQ_U64(st.dropped, 2);
    CHECK_OK(tt_writer_close(w));
    check_file(path, &m, TT_READ_MERGED);
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_EQ(tt_reader_n_threads(r), 2);
    CHECK_STR(tt_reader_thread(r, 0)->name, "short-renamed");
    CHECK_EQ_U64(tt_reader_thread(r, 0)->events, 200);
    CHECK_EQ_U64(tt_reader_thread(r, 1)->events, 200);
    tt_reader_close(r);
    evlist_free(&m.exp);
}
