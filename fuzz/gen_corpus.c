/* gen_corpus.c - tt_gen_corpus DIR: writes the fuzz seed corpus, a handful
 * of tiny recordings that between them use every chunk, record and event
 * form, so the fuzzer starts from valid structure. The checked-in files in
 * fuzz/corpus/ come from this program; rerun it after a format change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt.h"
#include "tt_internal.h"

static const char *dir;

static tt_writer_t *start(const char *name, tt_tbuf_t **b, uint32_t *code,
                          uint32_t *type)
{
    static const char *argv[] = {"s.py"};
    static const char *opn[] = {"NOP", "POP_TOP"};
    static const tt_line_range_t ranges[] = {{0, 6, 1}, {6, 10, TT_NO_LINE},
                                             {10, 30, 3}};
    char path[1024];
    tt_header_t h = {0};
    tt_code_def_t cd = {0};
    tt_type_def_t td = {0};
    tt_writer_t *w;
    uint32_t s;

    h.python_impl = "cpython";
    h.python_version = "3.13.0";
    h.argc = 1;
    h.argv = argv;
    h.start_tick = 100;
    h.clock_name = "tsc";
    h.clock_hz = 3000000000ull;
    h.n_opnames = 2;
    h.opnames = opn;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (tt_writer_open(&w, path, &h) < 0)
        exit(1);
    tt_writer_string(w, "s.py", 4, &s);
    tt_writer_string(w, "f", 1, &s);
    cd.filename = 0;
    cd.qualname = 1;
    cd.firstlineno = 1;
    cd.parent = TT_NO_PARENT;
    cd.n_ranges = 3;
    cd.ranges = ranges;
    tt_writer_code(w, &cd, code);
    cd.parent = *code;
    cd.firstlineno = 7;
    cd.n_ranges = 1;
    tt_writer_code(w, &cd, &s);
    td.name = 1;
    td.basicsize = 32;
    tt_writer_type(w, &td, type);
    tt_writer_thread(w, 1, "main", b);
    return w;
}

int main(int argc, char **argv)
{
    tt_writer_t *w;
    tt_tbuf_t *b, *b2;
    uint32_t c, t;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];

    w = start("seed-calls", &b, &c, &t);
    for (int i = 0; i < 6; i++) {
        tt_tbuf_call(b, 110 + 10 * (uint64_t)i, c + (i & 1), 1 + 6 * (i & 1));
        tt_tbuf_line(b, 112 + 10 * (uint64_t)i, c + (i & 1), 2 + 6 * (i & 1));
        tt_tbuf_line(b, 113 + 10 * (uint64_t)i, c + (i & 1), 90);
        tt_tbuf_exception(b, 114 + 10 * (uint64_t)i, c, 3, 1);
        tt_tbuf_return(b, 115 + 10 * (uint64_t)i, c + (i & 1), 3);
    }
    tt_writer_note(w, "seed", "calls");
    tt_writer_close(w);

    /* --c-calls: a C function (TT_CODE_CFUNCTION) called by f, calling
     * back into the nested code, returning once and raising once (its
     * EXCEPTION ends the call). */
    w = start("seed-ccalls", &b, &c, &t);
    {
        tt_code_def_t cd = {0};
        uint32_t file, name, empty, cf;
        tt_writer_string(w, "<built-in>", 10, &file);
        tt_writer_string(w, "builtins.sorted", 15, &name);
        tt_writer_string(w, "", 0, &empty);
        cd.filename = file;
        cd.qualname = name;
        cd.flags = TT_CODE_CFUNCTION;
        cd.parent = TT_NO_PARENT;
        tt_writer_code(w, &cd, &cf);
        tt_tbuf_call(b, 110, c, 1);
        for (int i = 0; i < 2; i++) {
            uint64_t k = 120 + 20 * (uint64_t)i;
            tt_tbuf_call(b, k, cf, 3);
            tt_tbuf_call(b, k + 2, c + 1, 7);
            tt_tbuf_return(b, k + 4, c + 1, 7);
            if (i == 0)
                tt_tbuf_return(b, k + 6, cf, 3);
            else
                tt_tbuf_exception(b, k + 6, cf, 3, empty);
        }
        tt_tbuf_return(b, 170, c, 3);
        tt_writer_close(w);
    }
    /* Source identities (DEFS record 0x81): one hashed, one
     * too large to hash, one with an mtime before 1970. */
    w = start("seed-sources", &b, &c, &t);
    {
        tt_source_def_t sd = {0};
        sd.filename = 0;
        sd.flags = TT_SOURCE_HASHED;
        sd.size = 22;
        sd.mtime_ns = 1700000000123456789ll;
        sd.crc32c = 0x1234abcdu;
        tt_writer_source(w, &sd);
        sd.filename = 1;
        sd.flags = 0;
        sd.size = 1ull << 40;
        sd.mtime_ns = -1;
        sd.crc32c = 0;
        tt_writer_source(w, &sd);
    }
    tt_tbuf_call(b, 110, c, 1);
    tt_tbuf_line(b, 111, c, 3);
    tt_tbuf_return(b, 112, c, 3);
    tt_writer_close(w);

    /* Clock sync points (0x82) around a few calls, one going backwards. */
    w = start("seed-clock", &b, &c, &t);
    tt_writer_clock_sync(w, 100, 5000, 40);
    for (int i = 0; i < 4; i++) {
        tt_tbuf_call(b, 110 + 10 * (uint64_t)i, c, 1);
        tt_tbuf_return(b, 115 + 10 * (uint64_t)i, c, 3);
        tt_writer_clock_sync(w, 118 + 10 * (uint64_t)i,
                             i == 2 ? 100 : 6000 + 900 * (uint64_t)i, 7);
    }
    tt_writer_close(w);

    w = start("seed-objects", &b, &c, &t);
    for (int i = 0; i < 8; i++) {
        tt_tbuf_obj_create(b, 200 + (uint64_t)i, t, 0x7f0000000000ull +
                           48 * (uint64_t)i + (i == 3), 32 + 8 * (i & 1), c,
                           3, i & 2 ? 12u : TT_NO_OFFSET);
        if (i & 1)
            tt_tbuf_obj_destroy(b, 201 + (uint64_t)i, 0x7f0000000000ull);
        tt_tbuf_opcode(b, 202 + (uint64_t)i, c, 3, 2 * (uint32_t)i, 100);
    }
    tt_writer_close(w);

    /* 0x81 object aggregates: summary, rows, both verdict lists. */
    w = start("seed-objagg", &b, &c, &t);
    tt_tbuf_obj_create(b, 200, t, 0x7f0000000040ull, 32, c, 3, TT_NO_OFFSET);
    tt_tbuf_obj_create(b, 210, t, 0x7f0000000080ull, 32, c, 3, TT_NO_OFFSET);
    {
        tt_objstat_t rows[2] = {{0}};
        uint64_t dead[] = {0x7f0000000040ull}, unv[] = {0x7f0000000080ull};
        tt_objagg_summary_t sum = {TT_OBJAGG_CHECKED | TT_OBJAGG_ROWS, 1, 2};
        rows[0].code = c;
        rows[0].line = 3;
        rows[0].offset = TT_NO_OFFSET;
        rows[0].type = t;
        rows[0].created = 5;
        rows[0].destroyed = 3;
        rows[0].survived = 2;
        rows[0].unverified = 1;
        rows[0].lifetime[4] = 3;
        rows[1].code = TT_NO_CODE;
        rows[1].line = TT_NO_LINE;
        rows[1].offset = 12;
        rows[1].type = t;
        rows[1].created = 1;
        rows[1].died_unseen = 1;
        tt_writer_objagg(w, &sum, rows, 2, dead, 1, unv, 1);
    }
    tt_writer_close(w);

    /* import spans and a referrer chain beside an event log */
    w = start("seed-objextra", &b, &c, &t);
    tt_tbuf_obj_create(b, 200, t, 0x7f0000000040ull, 32, c, 3, TT_NO_OFFSET);
    tt_tbuf_obj_create(b, 210, t, 0x7f0000000080ull, 32, c, 3, TT_NO_OFFSET);
    {
        const tt_objspan_t spans[] = {{0, 150, 205}, {0, 300, 300}};
        const tt_objpath_step_t chain[] = {{TT_OBJPATH_MODULE, "app"},
                                           {TT_OBJPATH_OBJECT, "dict"},
                                           {TT_OBJPATH_CLASS, "Bus"},
                                           {TT_OBJPATH_OBJECT, "list"}};
        tt_objagg_summary_t sum = {TT_OBJAGG_CHECKED, 0, 0};
        tt_writer_objspans(w, spans, 2);
        tt_writer_objpath(w, 0x7f0000000080ull, chain, 4);
        tt_writer_objagg(w, &sum, NULL, 0, NULL, 0, NULL, 0);
    }
    tt_writer_close(w);

    /* a 0x85 allocations chunk (--objects --bytes): two
     * callers of one helper, a site without a stack, samples. */
    w = start("seed-allocs", &b, &c, &t);
    tt_tbuf_obj_create(b, 200, t, 0x7f0000000040ull, 32, c, 3, TT_NO_OFFSET);
    {
        tt_alloc_summary_t sum = {0, 8, 4, 700, 1, 100, 600, 3, 650, 9, 1, 0};
        tt_alloc_frame_t st[] = {{TT_NO_STACK, c, 7}, {0, c, 3},
                                 {TT_NO_STACK, c, 8}, {2, c, 3}};
        tt_alloc_site_t si[] = {{1, 1, 100, 0, 0, 100, 1, 100},
                                {3, 2, 500, 1, 100, 400, 1, 500},
                                {TT_NO_STACK, 1, 100, 0, 0, 100, 1, 50}};
        tt_alloc_sample_t sm[] = {{10, 100}, {20, 650}, {30, 600}};
        tt_writer_allocs(w, &sum, st, 4, si, 3, sm, 3);
    }
    tt_writer_close(w);

    /* 0x85 as snapshots: a partial one (PSITE, TYPE, PSAMPLES), then the
     * lone partial summary of an emergency flush; no final one (killed) */
    w = start("seed-allocs-partial", &b, &c, &t);
    tt_tbuf_obj_create(b, 200, t, 0x7f0000000040ull, 32, c, 3, TT_NO_OFFSET);
    {
        tt_alloc_summary_t sum = {TT_ALLOCS_PARTIAL, 8, 3, 600, 0, 0, 600, 3,
                                  600, 9, 0, 0};
        tt_alloc_frame_t st[] = {{TT_NO_STACK, c, 7}, {0, c, 3}};
        tt_alloc_site_t si[] = {{1, 3, 600, 0, 0, 600, 3, 600}};
        tt_alloc_type_t ty[] = {{t, 1, 32, 0, 0, 32, 1, 32},
                                {TT_ALLOC_BUFFERS, 2, 568, 0, 0, 568, 2, 568}};
        tt_alloc_sample_t sm[] = {{10, 100}, {20, 600}};
        tt_alloc_snapshot_t s = {&sum, st, 2, 0, si, 1, ty, 2, sm, 2};
        tt_writer_allocs_snapshot(w, &s);
        sum.live_bytes = 700;
        s.stacks = NULL;
        s.n_stacks = 0;
        s.first_stack = 2;
        s.n_sites = 0;
        s.n_types = 0;
        s.n_samples = 0;
        tt_writer_allocs_snapshot(w, &s);  /* summary only, as an emergency */
    }
    tt_writer_abandon(w);

    /* a --count recording: 0x80 line-count chunks, no events */
    w = start("seed-counts", &b, &c, &t);
    {
        static const uint64_t hits[] = {4, 0, 9};
        const tt_count_table_t tabs[] = {{c, 2, 1, 3, hits},
                                         {c + 1, 1, 7, 1, hits}};
        tt_writer_line_counts(w, tabs, 2);
    }
    tt_writer_close(w);

    /* context marks in a full and in a --count recording */
    w = start("seed-contexts", &b, &c, &t);
    tt_tbuf_line(b, 200, c, 2);
    tt_writer_context(w, 1, 205, "t.py::test_a|run");
    tt_tbuf_line(b, 206, c, 3);
    tt_writer_context(w, 1, 210, "");
    tt_tbuf_line(b, 211, c, 2);
    {
        static const uint64_t hits[] = {1, 2};
        const tt_count_table_t tab = {c, 1, 1, 2, hits};
        tt_writer_line_counts(w, &tab, 1);
        tt_writer_context(w, 1, 220, "t.py::test_b|setup");
        tt_writer_line_counts(w, &tab, 1);
    }
    tt_writer_close(w);

    /* resumption and suspension marks (0x86) over several chunks, with
     * an early write of a full mark list */
    tt__tbuf_cap = 256;
    w = start("seed-marks", &b, &c, &t);
    tt_tbuf_call(b, 230, c, 1);
    for (int i = 0; i < 40; i++) {
        tt_tbuf_resume(b, 231 + 3 * (uint64_t)i, c + 1, 7);
        tt_tbuf_line(b, 232 + 3 * (uint64_t)i, c + 1, 7);
        tt_tbuf_yield(b, 233 + 3 * (uint64_t)i, c + 1, 7);
    }
    tt_tbuf_return(b, 400, c, 3);
    tt_writer_close(w);

    w = start("seed-threads", &b, &c, &t);
    tt_writer_thread(w, 2, NULL, &b2);
    for (int i = 0; i < 40; i++) {
        tt_tbuf_line(i & 1 ? b : b2, 300 + (uint64_t)i, c, i % 5);
        if (i == 20)
            tt_writer_flush(w);
    }
    tt_writer_thread_name(w, 1, "late-name");
    tt_writer_close(w);
    tt__tbuf_cap = 64 * 1024;

    w = start("seed-dropped", &b, &c, &t);
    tt_tbuf_line(b, 400, c, 1);
    tt__io_fail_at(1, 0);
    tt_writer_flush(w);
    tt__io_fail_at(0, 0);
    tt_tbuf_line(b, 401, c, 2);
    tt_writer_close(w);

    /* a recording cut in its last chunk: exercises the damage paths */
    {
        char path[1024];
        FILE *f;
        long n;
        char *buf;
        w = start("seed-cut", &b, &c, &t);
        tt_tbuf_line(b, 500, c, 1);
        tt_writer_close(w);
        snprintf(path, sizeof path, "%s/seed-cut", dir);
        f = fopen(path, "rb+");
        if (!f)
            return 1;
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        buf = malloc((size_t)n);
        rewind(f);
        if (fread(buf, 1, (size_t)n, f) != (size_t)n)
            return 1;
        fclose(f);
        f = fopen(path, "wb");
        fwrite(buf, 1, (size_t)n - 7, f);
        fclose(f);
        free(buf);
    }
    return 0;
}
