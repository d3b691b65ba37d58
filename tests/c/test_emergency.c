/* test_emergency.c - tt_writer_flush_emergency: what a crash handler
 * writes (pending definitions, a note, every buffer's complete events),
 * what it refuses (a guarded call under way, a second call), that it
 * allocates nothing, works from a signal handler, and that the writer
 * writes nothing more afterwards. Each test runs in its own child.
 */
#include <signal.h>
#include <unistd.h>

#include "tt_test.h"

/* A writer with one code object and two threads: `a` holds `n_a` line
 * events, `b` a CALL; nothing has been flushed, so the definitions are
 * pending too. */
typedef struct {
    tt_writer_t *w;
    tt_tbuf_t *a, *b;
    uint32_t code;
} scene;

static void scene_open(scene *s, const char *path, int n_a)
{
    tt_code_def_t cd = {0};
    uint32_t str;

    CHECK_OK(tt_writer_open(&s->w, path, test_header()));
    CHECK_OK(tt_writer_string(s->w, "mod.f", 5, &str));
    cd.filename = cd.qualname = str;
    cd.firstlineno = 1;
    cd.parent = TT_NO_PARENT;
    CHECK_OK(tt_writer_code(s->w, &cd, &s->code));
    CHECK_OK(tt_writer_thread(s->w, 11, "main", &s->a));
    CHECK_OK(tt_writer_thread(s->w, 22, NULL, &s->b));
    CHECK_OK(tt_writer_thread_name(s->w, 1, "worker"));
    for (int i = 0; i < n_a; i++)
        tt_tbuf_line(s->a, 2000 + (uint64_t)i, s->code, 1 + i % 30);
    tt_tbuf_call(s->b, 1500, s->code, 1);
}

static size_t file_size(const char *path)
{
    size_t len;
    free(read_file(path, &len));
    return len;
}

/* The file as a crashed process leaves it: every event, the note, the
 * names, and no END. */
static void check_crashed_file(const char *path, int n_a)
{
    tt_reader_t *r;
    const char *k, *v;
    evlist got = {0};

    CHECK_OK(tt_reader_open(&r, path, TT_READ_FILE));
    CHECK_EQ(tt_reader_damage(r)->status, TT_ETRUNCATED);
    CHECK_EQ(tt_reader_damage(r)->clean_end, 0);
    CHECK_EQ_U64(tt_reader_damage(r)->bytes_lost, 0);
    CHECK_EQ(evlist_read(&got, r, 0), 0);
    CHECK_EQ(got.n, n_a + 1);
    for (int i = 0; i < n_a; i++) {
        CHECK_EQ(got.ev[i].kind, TT_EV_LINE);
        CHECK_EQ(got.ev[i].thread, 0);
        CHECK_EQ(got.ev[i].line, 1 + i % 30);
        CHECK_EQ_U64(got.ev[i].tick, 1000 + (uint64_t)i);
    }
    CHECK_EQ(got.ev[n_a].kind, TT_EV_CALL);
    CHECK_EQ(got.ev[n_a].thread, 1);
    CHECK_STR(tt_reader_thread(r, 0)->name, "main");
    CHECK_STR(tt_reader_thread(r, 1)->name, "worker");
    CHECK_EQ(tt_reader_n_notes(r), 1);
    CHECK_OK(tt_reader_note(r, 0, &k, &v));
    CHECK_STR(k, "crash");
    CHECK_STR(v, "SIGSEGV");
    tt_reader_close(r);
    evlist_free(&got);
}

void test_emergency_flush(void)
{
    const char *path = tmp_path("crash.ttrace");
    scene s;
    tt_tbuf_t *ended;
    size_t len;
    uint32_t id;

    scene_open(&s, path, 700);
    /* A thread that ended has written its events already. */
    CHECK_OK(tt_writer_thread(s.w, 33, "gone", &ended));
    tt_tbuf_line(ended, 1200, s.code, 4);
    CHECK_OK(tt_writer_thread_end(s.w, ended));
    len = file_size(path);
    /* An append under way on thread a: bytes past pos, not yet published,
     * must not reach the file. */
    memset(s.a->pos, 0xFF, TT__EV_MAX);

    tt__alloc_fail_at(1, 1);                    /* no allocation allowed */
    CHECK_OK(tt_writer_flush_emergency(s.w, "crash", "SIGSEGV"));
    CHECK_EQ(tt__alloc_count(), 0);
    tt__alloc_fail_at(0, 0);
    CHECK(file_size(path) > len);

    /* The writer is finished: nothing more reaches the file. */
    len = file_size(path);
    CHECK_EQ(tt_writer_flush_emergency(s.w, "crash", "again"), TT_ESTATE);
    CHECK_EQ(tt_writer_string(s.w, "x", 1, &id), TT_ESTATE);
    CHECK_EQ(tt_writer_note(s.w, "late", "note"), TT_ESTATE);
    CHECK_EQ(tt_writer_clock_sync(s.w, 1, 2, 3), TT_ESTATE);
    CHECK_EQ(tt_writer_flush(s.w), TT_ESTATE);
    for (int i = 0; i < 100000; i++)           /* fills and overflows a */
        tt_tbuf_line(s.a, 5000 + (uint64_t)i, s.code, 3);
    {
        tt_writer_stats_t st;
        tt_writer_stats(s.w, &st);
        CHECK(st.dropped > 0);
    }
    CHECK_EQ(tt_writer_close(s.w), TT_ESTATE);
    CHECK_EQ(file_size(path), len);

    /* The reader sees the crashed state, with thread 2's events. */
    {
        tt_reader_t *r;
        CHECK_OK(tt_reader_open(&r, path, 0));
        CHECK_EQ(tt_reader_n_threads(r), 3);
        CHECK_EQ_U64(tt_reader_thread(r, 2)->events, 1);
        tt_reader_close(r);
    }
    {
        /* Without the ended thread the file is exactly the scene. */
        const char *p2 = tmp_path("crash2.ttrace");
        scene_open(&s, p2, 700);
        CHECK_OK(tt_writer_flush_emergency(s.w, "crash", "SIGSEGV"));
        check_crashed_file(p2, 700);
        (void)tt_writer_close(s.w);
    }
}

void test_emergency_flush_refused_while_busy(void)
{
    const char *path = tmp_path("busy.ttrace");
    scene s;
    size_t len;

    scene_open(&s, path, 50);
    len = file_size(path);
    /* As if the signal interrupted a definition or a chunk being sealed. */
    CHECK_OK(tt__writer_enter(s.w));
    CHECK_EQ(tt_writer_flush_emergency(s.w, "crash", "SIGSEGV"), TT_ESTATE);
    CHECK_EQ(file_size(path), len);
    tt__writer_leave(s.w);
    /* Once it is over the writer works as before. */
    CHECK_OK(tt_writer_flush_emergency(s.w, "crash", "SIGSEGV"));
    check_crashed_file(path, 50);
    (void)tt_writer_close(s.w);
}

void test_emergency_flush_io_failure(void)
{
    const char *path = tmp_path("eio.ttrace");
    scene s;
    size_t len;

    scene_open(&s, path, 50);
    CHECK_OK(tt_writer_flush(s.w));
    tt_tbuf_line(s.a, 9000, s.code, 2);
    len = file_size(path);
    tt__io_fail_at(2, 0);           /* the payload write is torn */
    CHECK_EQ(tt_writer_flush_emergency(s.w, NULL, NULL), TT_EIO);
    tt__io_fail_at(0, 0);
    CHECK_EQ(file_size(path), len); /* cut back to the last whole chunk */
    (void)tt_writer_close(s.w);
}

static tt_writer_t *handler_writer;
static volatile int handler_rc = 1;

static void on_usr1(int sig)
{
    (void)sig;
    handler_rc = tt_writer_flush_emergency(handler_writer, "crash",
                                           "SIGSEGV");
}

void test_emergency_flush_in_signal_handler(void)
{
    const char *path = tmp_path("sig.ttrace");
    struct sigaction sa;
    scene s;

    scene_open(&s, path, 300);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    handler_writer = s.w;
    CHECK_EQ(raise(SIGUSR1), 0);
    CHECK_EQ(handler_rc, 0);
    check_crashed_file(path, 300);
    (void)tt_writer_close(s.w);
}
