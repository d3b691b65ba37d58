/* golden_gen.c - the script that writes tests/data/golden-v1.ttrace.
 *
 * Owns golden_write(), shared by the tt_gen_golden program (which
 * regenerates the checked-in file: `tt_gen_golden tests/data/golden-v1.ttrace`)
 * and by the test that checks the writer still produces it byte for byte.
 * test_golden.c spells out the events this must decode to; change both
 * together, and only with a format version bump.
 */
#include "tt.h"
#include "tt_internal.h"

int golden_write(const char *path);

int golden_write(const char *path)
{
    static const char *argv[] = {"golden.py", "-x"};
    static const char *opnames[] = {"CACHE", "POP_TOP", "PUSH_NULL"};
    static const tt_line_range_t r0[] = {{0, 2, TT_NO_LINE}, {2, 10, 1},
                                         {10, 20, 3}};
    static const tt_line_range_t r1[] = {{0, 4, 5}, {4, 12, 6}, {12, 16, 7}};
    static const char *strs[] = {"golden.py", "<module>", "fib",
                                 "ZeroDivisionError", "builtins.list"};
    tt_header_t h = {0};
    tt_code_def_t cd = {0};
    tt_type_def_t td = {0};
    tt_writer_t *w;
    tt_tbuf_t *t0, *t1;
    uint32_t id;
    const uint64_t T = 1000000;
    size_t saved_cap = tt__tbuf_cap;
    int rc;

    h.python_impl = "cpython";
    h.python_version = "3.12.7";
    h.python_build = "3.12.7 (golden)";
    h.argc = 2;
    h.argv = argv;
    h.start_unix_ns = 1700000000000000000ull;
    h.start_tick = T;
    h.clock_name = "monotonic";
    h.clock_hz = 1000000000ull;
    h.options = TT_OPT_CALLS | TT_OPT_LINES | TT_OPT_OPCODES | TT_OPT_OBJECTS;
    h.options_text = "--opcodes --objects";
    h.n_opnames = 3;
    h.opnames = opnames;
    tt__tbuf_cap = 64 * 1024;
    rc = tt_writer_open(&w, path, &h);
    if (rc < 0)
        return rc;
    for (int i = 0; i < 5; i++)
        tt_writer_string(w, strs[i], __builtin_strlen(strs[i]), &id);
    cd.filename = 0;
    cd.qualname = 1;
    cd.firstlineno = 1;
    cd.flags = TT_CODE_TRACED;
    cd.parent = TT_NO_PARENT;
    cd.n_ranges = 3;
    cd.ranges = r0;
    tt_writer_code(w, &cd, &id);
    cd.qualname = 2;
    cd.firstlineno = 5;
    cd.parent = 0;
    cd.ranges = r1;
    tt_writer_code(w, &cd, &id);
    td.name = 4;
    td.basicsize = 56;
    td.flags = TT_TYPE_GC;
    tt_writer_type(w, &td, &id);
    tt_writer_thread(w, 140000000001ull, "MainThread", &t0);
    tt_writer_thread(w, 140000000002ull, NULL, &t1);
    tt_writer_note(w, "golden", "v1");

    tt_tbuf_call(t0, T + 10, 0, 1);
    tt_tbuf_line(t0, T + 20, 0, 1);
    tt_tbuf_call(t0, T + 30, 1, 5);
    tt_tbuf_line(t0, T + 35, 1, 6);
    tt_tbuf_opcode(t0, T + 36, 1, 6, 4, 90);
    tt_tbuf_line(t0, T + 40, 1, 7);
    tt_tbuf_exception(t0, T + 45, 1, 7, 3);
    tt_tbuf_return(t0, T + 50, 1, 7);
    tt_tbuf_call(t1, T + 15, 1, 5);
    tt_tbuf_line(t1, T + 25, 1, 6);
    tt_writer_flush(w);

    tt_tbuf_line(t1, T + 26, 1, 7);          /* lost to a failed write */
    tt_tbuf_line(t1, T + 27, 1, 6);
    tt__io_fail_at(1, 0);
    tt_writer_flush(w);
    tt__io_fail_at(0, 0);

    tt_tbuf_line(t0, T + 60, 0, 3);
    tt_tbuf_obj_create(t0, T + 61, 0, 0x7f3a00001010ull, 56, 0, 3,
                       TT_NO_OFFSET);
    tt_tbuf_obj_create(t0, T + 62, 0, 0x7f3a00001050ull, 88, 0, 3, 12);
    tt_tbuf_obj_destroy(t0, T + 70, 0x7f3a00001010ull);
    tt_tbuf_return(t0, T + 80, 0, 3);
    tt_tbuf_line(t1, T + 85, 1, 400);        /* DROPPED(2) goes first */
    tt_tbuf_return(t1, T + 90, 1, 400);
    tt_tbuf_obj_destroy(t1, T + 91, 0x7f3a00001057ull);
    tt_writer_thread_name(w, 1, "worker");
    rc = tt_writer_close(w);                 /* TT_EIO: events were lost */
    tt__tbuf_cap = saved_cap;
    return rc == TT_EIO ? 0 : (rc == 0 ? TT_ESTATE : rc);
}
