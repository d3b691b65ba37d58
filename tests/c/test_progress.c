/* test_progress.c - tt_reader_set_progress: how often the callback runs,
 * what it is told, and stopping a read (and the analyses over it) from it.
 */
#include "tt_test.h"

/* A recording of 2 threads x `per` line events (and one object each). */
static const char *write_lines(uint32_t per)
{
    const char *path = tmp_path("progress.ttrace");
    tt_writer_t *w;
    tt_tbuf_t *tb[2];
    uint32_t s_file, s_f, code, ty, s_int;
    tt_code_def_t cd;
    tt_type_def_t td;

    CHECK_OK(tt_writer_open(&w, path, test_header()));
    CHECK_OK(tt_writer_string(w, "app.py", 6, &s_file));
    CHECK_OK(tt_writer_string(w, "f", 1, &s_f));
    CHECK_OK(tt_writer_string(w, "int", 3, &s_int));
    memset(&cd, 0, sizeof cd);
    cd.filename = s_file;
    cd.qualname = s_f;
    cd.firstlineno = 1;
    cd.flags = TT_CODE_TRACED;
    cd.parent = TT_NO_PARENT;
    CHECK_OK(tt_writer_code(w, &cd, &code));
    memset(&td, 0, sizeof td);
    td.name = s_int;
    td.basicsize = 32;
    CHECK_OK(tt_writer_type(w, &td, &ty));
    CHECK_OK(tt_writer_thread(w, 1, "a", &tb[0]));
    CHECK_OK(tt_writer_thread(w, 2, "b", &tb[1]));
    for (uint32_t k = 0; k < 2; k++) {
        uint64_t t = test_header()->start_tick + 10 + k;
        tt_tbuf_obj_create(tb[k], t, ty, 0x1000 + 16 * k, 32, code, 1,
                           TT_NO_OFFSET);
        for (uint32_t i = 0; i < per; i++)
            tt_tbuf_line(tb[k], t + 2 * i + 2, code, 1 + (int32_t)(i % 7));
    }
    CHECK_OK(tt_writer_close(w));
    return path;
}

typedef struct {
    uint64_t calls, last_done, total;
    uint64_t stop_at;            /* 0: never */
} seen_t;

static int on_progress(void *ctx, uint64_t done, uint64_t total)
{
    seen_t *s = ctx;
    CHECK(done > s->last_done);
    CHECK_EQ_U64(done % TT_PROGRESS_EVERY, 0);
    s->calls++;
    s->last_done = done;
    s->total = total;
    return s->stop_at != 0 && done >= s->stop_at;
}

static uint64_t read_all(tt_reader_t *r, int *last_rc)
{
    tt_event_t ev;
    uint64_t n = 0;
    int rc;
    while ((rc = tt_reader_next(r, &ev)) != 0) {
        if (rc < 0)
            break;
        n++;
    }
    *last_rc = rc;
    return n;
}

void test_reader_progress(void)
{
    const uint32_t per = 3 * TT_PROGRESS_EVERY / 2 + 5;
    const uint64_t all = 2 * ((uint64_t)per + 1);
    const char *path = write_lines(per);
    seen_t s = {0};
    tt_reader_t *r;
    int rc;

    CHECK_OK(tt_reader_open(&r, path, TT_READ_MERGED));
    tt_reader_set_progress(r, on_progress, &s);
    CHECK_EQ_U64(read_all(r, &rc), all);
    CHECK_EQ(rc, 0);
    CHECK_EQ_U64(s.calls, all / TT_PROGRESS_EVERY);
    CHECK_EQ_U64(s.total, all);

    /* One thread: its own total; the count starts again at the rewind. */
    memset(&s, 0, sizeof s);
    CHECK_OK(tt_reader_select_thread(r, 1));
    CHECK_EQ_U64(read_all(r, &rc), (uint64_t)per + 1);
    CHECK_EQ_U64(s.calls, ((uint64_t)per + 1) / TT_PROGRESS_EVERY);
    CHECK_EQ_U64(s.total, (uint64_t)per + 1);

    /* Stopping: the event that ran the callback is delivered, then every
     * call says TT_ECANCELED, until a rewind. */
    memset(&s, 0, sizeof s);
    s.stop_at = 2 * TT_PROGRESS_EVERY;
    CHECK_OK(tt_reader_select_thread(r, UINT32_MAX));
    CHECK_EQ_U64(read_all(r, &rc), 2 * TT_PROGRESS_EVERY);
    CHECK_EQ(rc, TT_ECANCELED);
    {
        tt_event_t ev;
        CHECK_EQ(tt_reader_next(r, &ev), TT_ECANCELED);
    }
    CHECK(strcmp(tt_strerror(TT_ECANCELED), "stopped by the caller") == 0);
    memset(&s, 0, sizeof s);
    CHECK_OK(tt_reader_select_thread(r, UINT32_MAX));
    CHECK_EQ_U64(read_all(r, &rc), all);
    CHECK_EQ(rc, 0);

    /* The analyses pass the stop on, and leave nothing behind. */
    {
        static char not_null;
        tt_objects_t *o = (tt_objects_t *)&not_null;  /* must become NULL */
        tt_coverage_t *cov;
        memset(&s, 0, sizeof s);
        s.stop_at = TT_PROGRESS_EVERY;
        CHECK_EQ(tt_objects_analyze(r, &o), TT_ECANCELED);
        CHECK(o == NULL);
        CHECK_EQ_U64(s.calls, 1);
        s.last_done = 0;
        CHECK_OK(tt_coverage_new(&cov));
        CHECK_EQ(tt_coverage_add(cov, r), TT_ECANCELED);
        CHECK_EQ_U64(s.calls, 2);
        tt_coverage_free(cov);
        /* Without a stop they read it all. */
        memset(&s, 0, sizeof s);
        CHECK_OK(tt_objects_analyze(r, &o));
        CHECK_EQ_U64(s.calls, all / TT_PROGRESS_EVERY);
        CHECK_EQ_U64(tt_objects_summary(o)->created, 2);
        tt_objects_free(o);
    }
    tt_reader_set_progress(r, NULL, NULL);
    tt_reader_close(r);
}
