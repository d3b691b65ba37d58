/* test_inprogress.c - the writer's "being written" lock and its error
 * report: tt_file_being_written before, during and after a recording, in a
 * forked child, and the errno a failed write leaves in the stats.
 */
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tt_test.h"

/* Writes one event so that the writer has something to flush. */
static tt_tbuf_t *one_thread(tt_writer_t *w, uint32_t *code)
{
    tt_code_def_t cd = {0};
    tt_tbuf_t *b;
    uint32_t s;

    CHECK_OK(tt_writer_string(w, "f.py", 4, &s));
    cd.filename = cd.qualname = s;
    cd.parent = TT_NO_PARENT;
    CHECK_OK(tt_writer_code(w, &cd, code));
    CHECK_OK(tt_writer_thread(w, 7, "main", &b));
    return b;
}

/* Open: 1 (here, from another open file description of this process);
 * closed: 0; no file: TT_EIO with errno. */
void test_being_written(void)
{
    const char *path = tmp_path("inprogress.ttrace");
    tt_writer_t *w;
    tt_tbuf_t *b;
    uint32_t code;

    errno = 0;
    CHECK_EQ(tt_file_being_written(tmp_path("nothing-here.ttrace")), TT_EIO);
    CHECK_EQ(errno, ENOENT);
    CHECK_EQ(tt_file_being_written(NULL), TT_EINVAL);
    CHECK_OK(tt_writer_open(&w, path, test_header()));
    CHECK_EQ(tt_file_being_written(path), 1);
    b = one_thread(w, &code);
    tt_tbuf_line(b, 1001, code, 1);
    CHECK_OK(tt_writer_flush(w));
    CHECK_EQ(tt_file_being_written(path), 1);
    CHECK_EQ(tt_file_being_written(path), 1);     /* asking changes nothing */
    CHECK_OK(tt_writer_close(w));
    CHECK_EQ(tt_file_being_written(path), 0);
}

/* A forked child shares the writer's open file description. The child's
 * abandon (closing its copy of the descriptor) must not end the parent's
 * mark; the parent's close must end it even while a child still holds a
 * copy of the descriptor. */
void test_being_written_fork(void)
{
    const char *path = tmp_path("forked.ttrace");
    int go[2], status;
    tt_writer_t *w;
    pid_t pid;
    char c = 0;

    CHECK_OK(tt_writer_open(&w, path, test_header()));
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        tt_writer_abandon(w);
        _exit(tt_file_being_written(path) == 1 ? 0 : 3);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(tt_file_being_written(path), 1);     /* still the parent's */

    CHECK(pipe(go) == 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {                  /* keeps its copy until told to go */
        close(go[1]);
        (void)!read(go[0], &c, 1);
        _exit(0);
    }
    close(go[0]);
    CHECK_OK(tt_writer_close(w));
    CHECK_EQ(tt_file_being_written(path), 0);
    close(go[1]);
    CHECK(waitpid(pid, &status, 0) == pid);
}

/* A write that fails with ENOSPC: the stats keep the first errno (a later
 * EIO does not replace it), close reports TT_EIO, and the file counts the
 * loss (storage works again by then, as on a disk where the truncation
 * freed room). */
void test_write_error_errno(void)
{
    const char *path = tmp_path("enospc.ttrace");
    tt_writer_stats_t st;
    tt_writer_t *w;
    tt_reader_t *r;
    tt_tbuf_t *b;
    uint32_t code, i;
    uint64_t counts[TT_EV__COUNT], dropped;

    tt__tbuf_cap = 256;
    CHECK_OK(tt_writer_open(&w, path, test_header()));
    b = one_thread(w, &code);
    CHECK_OK(tt_writer_flush(w));
    tt__io_fail_errno(ENOSPC);
    tt__io_fail_at(1, 1);
    for (i = 0; i < 500; i++)
        tt_tbuf_line(b, 2000 + i, code, 1 + (int32_t)(i % 5));
    tt_writer_stats(w, &st);
    CHECK_EQ(st.last_error, TT_EIO);
    CHECK_EQ(st.last_errno, ENOSPC);
    CHECK(st.dropped > 0);
    tt__io_fail_errno(EIO);
    for (i = 0; i < 500; i++)
        tt_tbuf_line(b, 3000 + i, code, 1 + (int32_t)(i % 5));
    tt_writer_stats(w, &st);
    CHECK_EQ(st.last_errno, ENOSPC);
    tt__io_fail_at(0, 0);
    tt__io_fail_errno(0);
    CHECK_EQ(tt_writer_close(w), TT_EIO);
    tt__tbuf_cap = 64 * 1024;

    CHECK_OK(tt_reader_open(&r, path, 0));
    tt_reader_counts(r, counts, &dropped);
    CHECK(dropped > 0);
    CHECK(tt_reader_damage(r)->clean_end);
    tt_reader_close(r);
}

/* No failure, no errno. */
void test_write_ok_no_note(void)
{
    const char *path = tmp_path("fine.ttrace");
    tt_writer_stats_t st;
    tt_writer_t *w;
    tt_reader_t *r;
    tt_tbuf_t *b;
    uint32_t code;

    CHECK_OK(tt_writer_open(&w, path, test_header()));
    b = one_thread(w, &code);
    tt_tbuf_line(b, 1001, code, 1);
    tt_writer_stats(w, &st);
    CHECK_EQ(st.last_errno, 0);
    CHECK_OK(tt_writer_close(w));
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_EQ(tt_reader_damage(r)->clean_end, 1);
    tt_reader_close(r);
}
