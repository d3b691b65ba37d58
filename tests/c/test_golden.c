/* test_golden.c - the checked-in golden recording pins format version 1:
 * the reader must decode tests/data/golden-v1.ttrace to exactly the events
 * below, and the writer must still produce it byte for byte (golden_gen.c).
 * Also replays the fuzz seed corpus through the fuzz target's checks.
 */
#include <dirent.h>

#include "tt_test.h"
#include "tt_varint.h"

#ifndef TT_TEST_DATA_DIR
#error "TT_TEST_DATA_DIR must name tests/data"
#endif
#ifndef TT_FUZZ_CORPUS_DIR
#error "TT_FUZZ_CORPUS_DIR must name fuzz/corpus"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

#define GOLDEN TT_TEST_DATA_DIR "/golden-v1.ttrace"
#define N TT_NO_LINE
#define NO TT_NO_OFFSET

/* kind, thread, tick, code, line, opcode, offset, exc, type, addr, size,
 * count - in merged order. */
static const struct {
    int kind;
    uint32_t thread;
    uint64_t tick;
    uint32_t code;
    int32_t line;
    uint8_t opcode;
    uint32_t offset, exc, type;
    uint64_t addr, size, count;
} expected[] = {
    {TT_EV_CALL, 0, 10, 0, 1, 0, NO, 0, 0, 0, 0, 0},
    {TT_EV_CALL, 1, 15, 1, 5, 0, NO, 0, 0, 0, 0, 0},
    {TT_EV_LINE, 0, 20, 0, 1, 0, NO, 0, 0, 0, 0, 0},
    {TT_EV_LINE, 1, 25, 1, 6, 0, NO, 0, 0, 0, 0, 0},
    {TT_EV_CALL, 0, 30, 1, 5, 0, NO, 0, 0, 0, 0, 0},
    {TT_EV_LINE, 0, 35, 1, 6, 0, NO, 0, 0, 0, 0, 0},
    {TT_EV_OPCODE, 0, 36, 1, 6, 90, 4, 0, 0, 0, 0, 0},
    {TT_EV_LINE, 0, 40, 1, 7, 0, NO, 0, 0, 0, 0, 0},
    {TT_EV_EXCEPTION, 0, 45, 1, 7, 0, NO, 3, 0, 0, 0, 0},
    {TT_EV_RETURN, 0, 50, 1, 7, 0, NO, 0, 0, 0, 0, 0},
    {TT_EV_LINE, 0, 60, 0, 3, 0, NO, 0, 0, 0, 0, 0},
    {TT_EV_OBJ_CREATE, 0, 61, 0, 3, 0, NO, 0, 0, 0x7f3a00001010ull, 56, 0},
    {TT_EV_OBJ_CREATE, 0, 62, 0, 3, 0, 12, 0, 0, 0x7f3a00001050ull, 88, 0},
    {TT_EV_OBJ_DESTROY, 0, 70, 0, N, 0, NO, 0, 0, 0x7f3a00001010ull, 0, 0},
    {TT_EV_RETURN, 0, 80, 0, 3, 0, NO, 0, 0, 0, 0, 0},
    {TT_EV_DROPPED, 1, 85, 0, N, 0, NO, 0, 0, 0, 0, 2},
    {TT_EV_LINE, 1, 85, 1, 400, 0, NO, 0, 0, 0, 0, 0},
    {TT_EV_RETURN, 1, 90, 1, 400, 0, NO, 0, 0, 0, 0, 0},
    {TT_EV_OBJ_DESTROY, 1, 91, 0, N, 0, NO, 0, 0, 0x7f3a00001057ull, 0, 0},
};

void test_golden_decode(void)
{
    const size_t n = sizeof expected / sizeof expected[0];
    tt_reader_t *r;
    const tt_header_t *h;
    const tt_code_def_t *c;
    tt_event_t ev;
    uint64_t counts[TT_EV__COUNT], dropped;
    const char *k, *v;

    CHECK_OK(tt_reader_open(&r, GOLDEN, TT_READ_MERGED));
    CHECK_EQ(tt_reader_damage(r)->status, 0);
    CHECK_EQ(tt_reader_damage(r)->clean_end, 1);
    h = tt_reader_header(r);
    CHECK_STR(h->python_impl, "cpython");
    CHECK_STR(h->python_version, "3.12.7");
    CHECK_STR(h->python_build, "3.12.7 (golden)");
    CHECK_EQ(h->argc, 2);
    CHECK_STR(h->argv[0], "golden.py");
    CHECK_STR(h->argv[1], "-x");
    CHECK_EQ_U64(h->start_unix_ns, 1700000000000000000ull);
    CHECK_EQ_U64(h->start_tick, 1000000);
    CHECK_STR(h->clock_name, "monotonic");
    CHECK_EQ_U64(h->clock_hz, 1000000000ull);
    CHECK_EQ(h->options, TT_OPT_CALLS | TT_OPT_LINES | TT_OPT_OPCODES |
                         TT_OPT_OBJECTS);
    CHECK_STR(h->options_text, "--opcodes --objects");
    CHECK_EQ(h->n_opnames, 3);
    CHECK_STR(h->opnames[2], "PUSH_NULL");
    CHECK_STR(tt_reader_string(r, 0), "golden.py");
    CHECK_STR(tt_reader_string(r, 3), "ZeroDivisionError");
    CHECK(tt_reader_string(r, 5) == NULL);
    CHECK_EQ(tt_reader_n_codes(r), 2);
    c = tt_reader_code(r, 1);
    CHECK_EQ(c->filename, 0);
    CHECK_EQ(c->qualname, 2);
    CHECK_EQ(c->firstlineno, 5);
    CHECK_EQ(c->flags, TT_CODE_TRACED);
    CHECK_EQ(c->parent, 0);
    CHECK_EQ(c->n_ranges, 3);
    CHECK_EQ(c->ranges[2].start, 12);
    CHECK_EQ(c->ranges[2].end, 16);
    CHECK_EQ(c->ranges[2].line, 7);
    CHECK_EQ(tt_code_line_at(tt_reader_code(r, 0), 1), TT_NO_LINE);
    CHECK_EQ(tt_code_line_at(tt_reader_code(r, 0), 10), 3);
    CHECK_EQ(tt_reader_n_types(r), 1);
    CHECK_EQ(tt_reader_type(r, 0)->name, 4);
    CHECK_EQ_U64(tt_reader_type(r, 0)->basicsize, 56);
    CHECK_EQ(tt_reader_type(r, 0)->flags, TT_TYPE_GC);
    CHECK_EQ(tt_reader_n_threads(r), 2);
    CHECK_EQ_U64(tt_reader_thread(r, 0)->ident, 140000000001ull);
    CHECK_STR(tt_reader_thread(r, 0)->name, "MainThread");
    CHECK_STR(tt_reader_thread(r, 1)->name, "worker");
    CHECK_EQ_U64(tt_reader_thread(r, 1)->first_tick, 15);
    CHECK_EQ_U64(tt_reader_thread(r, 1)->last_tick, 91);
    CHECK_EQ(tt_reader_n_notes(r), 1);
    CHECK_OK(tt_reader_note(r, 0, &k, &v));
    CHECK_STR(k, "golden");
    CHECK_STR(v, "v1");
    tt_reader_counts(r, counts, &dropped);
    CHECK_EQ_U64(counts[TT_EV_LINE], 6);
    CHECK_EQ_U64(counts[TT_EV_DROPPED], 1);
    CHECK_EQ_U64(dropped, 2);

    for (size_t i = 0; i < n; i++) {
        tt_event_t want;
        memset(&want, 0, sizeof want);
        want.kind = (uint8_t)expected[i].kind;
        want.thread = expected[i].thread;
        want.tick = expected[i].tick;
        want.code = expected[i].code;
        want.line = expected[i].line;
        want.opcode = expected[i].opcode;
        want.offset = expected[i].offset;
        want.exc_type = expected[i].exc;
        want.type = expected[i].type;
        want.addr = expected[i].addr;
        want.size = expected[i].size;
        want.count = expected[i].count;
        CHECK_EQ(tt_reader_next(r, &ev), 1);
        check_event(&ev, &want, "golden", i);
    }
    CHECK_EQ(tt_reader_next(r, &ev), 0);
    tt_reader_close(r);
}

void test_golden_writer_bytes(void)
{
    const char *path = tmp_path("golden.ttrace");
    size_t a, b, c;
    uint8_t *want, *got, *stripped;
    tt_reader_t *r1, *r2;
    evlist e1 = {0}, e2 = {0};

    CHECK_OK(golden_write(path));
    want = read_file(GOLDEN, &a);
    got = read_file(path, &b);
    stripped = strip_base_records(got, b, &c);
    if (a != c || memcmp(want, stripped, a) != 0) {
        size_t i = 0;
        while (i < a && i < c && want[i] == stripped[i])
            i++;
        TT_TEST_FAIL("the writer no longer produces %s (first difference "
                     "at byte %zu of %zu/%zu, BASE records left out); if "
                     "the format changed on purpose, bump the version and "
                     "regenerate it with tt_gen_golden", GOLDEN, i, a, c);
    }
    /* and both mean the same */
    CHECK_OK(tt_reader_open_mem(&r1, want, a, 0));
    CHECK_OK(tt_reader_open_mem(&r2, got, b, 0));
    CHECK_EQ(tt_reader_damage(r2)->status, 0);
    evlist_read(&e1, r1, 0);
    evlist_read(&e2, r2, 0);
    check_evlists(&e2, &e1, "new writer vs golden");
    CHECK_EQ(tt_reader_n_codes(r1), tt_reader_n_codes(r2));
    tt_reader_close(r1);
    tt_reader_close(r2);
    evlist_free(&e1);
    evlist_free(&e2);
    free(want);
    free(got);
    free(stripped);
}

void test_fuzz_corpus_replay(void)
{
    DIR *d = opendir(TT_FUZZ_CORPUS_DIR);
    struct dirent *e;
    int files = 0, valid = 0;

    CHECK(d != NULL);
    while ((e = readdir(d)) != NULL) {
        char path[1024];
        size_t len;
        uint8_t *data;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", TT_FUZZ_CORPUS_DIR, e->d_name);
        data = read_file(path, &len);
        if (exercise_reader(data, len) == 0)
            valid++;
        (void)LLVMFuzzerTestOneInput(data, len);   /* + CRC-repaired pass */
        files++;
        free(data);
    }
    closedir(d);
    CHECK(files >= 4);
    CHECK(valid >= 3);
}
