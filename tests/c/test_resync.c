/* test_resync.c - the streaming, resynchronising reader: a bit
 * flipped in each chunk in turn costs that chunk only; lost DEFS chunks
 * give placeholders and keep later ids right (with BASE records) or
 * unknown (without); a file cut or rewritten under an open reader; END's
 * dropped count; lazy opens and tt_reader_scan.
 */
#include <unistd.h>

#include "tt_test.h"

/* Chunk starts of a well-formed file; returns the count (no end). */
static size_t starts_of(const uint8_t *d, size_t len, size_t *out, size_t max)
{
    size_t n = 0, off = TT__FILE_HEAD;
    while (off < len) {
        CHECK(n < max);
        out[n++] = off;
        off += 20 + tt__get_le32(d + off + 8);
    }
    CHECK_EQ(off, len);
    return n;
}

/* The events of chunk `k` decoded on their own: a file of the head, every
 * DEFS chunk before it and that chunk alone (an independent reading). */
static void chunk_alone(const uint8_t *d, const size_t *st, size_t k,
                        evlist *out)
{
    size_t cap = st[k] + 20 + tt__get_le32(d + st[k] + 8), n = st[1];
    uint8_t *f = malloc(cap);
    tt_reader_t *r;

    memcpy(f, d, n);                         /* magic + HEADER */
    for (size_t i = 1; i < k; i++)
        if (d[st[i]] == TT__CH_DEFS) {
            size_t sz = 20 + tt__get_le32(d + st[i] + 8);
            memcpy(f + n, d + st[i], sz);
            n += sz;
        }
    memcpy(f + n, d + st[k], 20 + tt__get_le32(d + st[k] + 8));
    n += 20 + tt__get_le32(d + st[k] + 8);
    CHECK_OK(tt_reader_open_mem(&r, f, n, TT_READ_FILE));
    evlist_read(out, r, 0);
    tt_reader_close(r);
    free(f);
}

/* The model's events minus those of `lost` (a run of one thread's events,
 * found by position), in merged order. */
static void expect_without(const evlist *all, const evlist *lost,
                           evlist *out)
{
    size_t i = 0, j = 0;
    uint32_t th = lost->n ? lost->ev[0].thread : UINT32_MAX;
    /* the run starts at the first event of `th` equal to lost[0] from
     * which all of lost follows in that thread's order */
    size_t at = SIZE_MAX;
    for (i = 0; i < all->n && lost->n && at == SIZE_MAX; i++) {
        size_t a = i, b = 0;
        if (all->ev[i].thread != th || all->ev[i].tick != lost->ev[0].tick)
            continue;
        while (a < all->n && b < lost->n) {
            if (all->ev[a].thread == th) {
                if (memcmp(&all->ev[a], &lost->ev[b], sizeof(tt_event_t)))
                    break;
                b++;
            }
            a++;
        }
        if (b == lost->n)
            at = i;
    }
    CHECK(lost->n == 0 || at != SIZE_MAX);
    for (i = 0; i < all->n; i++) {
        if (at != SIZE_MAX && i >= at && j < lost->n &&
            all->ev[i].thread == th) {
            j++;
            continue;
        }
        evlist_push(out, &all->ev[i]);
    }
    evlist_sort_merged(out);
}

void test_resync_flip_each_chunk(void)
{
    model m;
    const char *path = write_sample(&m);
    size_t len, st[512], ns;
    uint8_t *data = read_file(path, &len);
    int events_chunks = 0;

    ns = starts_of(data, len, st, 512);
    CHECK(ns > 12);
    for (size_t k = 1; k < ns; k++) {
        uint8_t type = data[st[k]];
        uint32_t plen = tt__get_le32(data + st[k] + 8);
        for (int where = 0; where < 2; where++) {
            uint8_t *copy = malloc(len);
            size_t pos = where ? st[k] + 16 + plen / 2 : st[k] + 5;
            tt_reader_t *r;
            const tt_damage_t *dm;
            evlist lost = {0}, want = {0}, got = {0};
            int errs;

            if (where && plen == 0)
                continue;
            memcpy(copy, data, len);
            copy[pos] ^= 0x10;
            CHECK_EQ(exercise_reader(copy, len), 0);
            CHECK_OK(tt_reader_open_mem(&r, copy, len, 0));
            dm = tt_reader_damage(r);
            CHECK(dm->status != 0);
            CHECK_EQ_U64(dm->offset, st[k]);
            CHECK(dm->complete);
            if (type == TT__CH_EVENTS)
                chunk_alone(data, st, k, &lost);
            expect_without(&m.exp, &lost, &want);
            if (type == TT__CH_DEFS && k == 1)
                for (size_t i = 0; i < want.n; i++) {  /* all defs lost */
                    if (want.ev[i].code != TT_NO_CODE)
                        want.ev[i].line = TT_NO_LINE;
                    if (want.ev[i].kind == TT_EV_OBJ_CREATE)
                        want.ev[i].size = 0;
                }
            errs = evlist_read(&got, r, 1);
            if (type == TT__CH_END) {
                check_evlists(&got, &want, "END damaged");
                CHECK_EQ(dm->clean_end, 0);
            } else {
                check_evlists(&got, &want, "one chunk damaged");
                CHECK_EQ(dm->clean_end, 1);
            }
            if (where == 0) {            /* a bad frame: a region skipped */
                CHECK_EQ(dm->status, TT_ECRC);
                CHECK_EQ(errs, 0);
                if (type != TT__CH_END) {
                    CHECK_EQ_U64(dm->regions_lost, 1);
                    CHECK_EQ_U64(dm->bytes_unattributed, 20 + plen);
                    CHECK(strstr(dm->reason, "unknown threads") != NULL);
                }
                CHECK_EQ_U64(dm->chunks_lost, 0);
            } else {                     /* a bad payload: that chunk */
                CHECK_EQ(dm->status, TT_ECRC);
                CHECK_EQ_U64(dm->regions_lost, 0);
                CHECK_EQ_U64(dm->chunks_lost, 1);
                CHECK_EQ_U64(dm->bytes_lost, 20 + plen);
                if (type == TT__CH_EVENTS) {
                    uint32_t th = tt__get_le32(data + st[k] + 4);
                    CHECK_EQ(errs, 1);                 /* said once */
                    CHECK_EQ_U64(dm->threads_lost, 1);
                    CHECK_EQ_U64(tt_reader_thread(r, th)->chunks_lost, 1);
                    CHECK_EQ_U64(tt_reader_thread(r, th)->bytes_lost,
                                 20 + plen);
                    CHECK(strstr(dm->reason, "thread") != NULL);
                    CHECK_EQ_U64(dm->events_lost, lost.n);
                    events_chunks++;
                }
            }
            if (type == TT__CH_DEFS) {
                /* the sample's only lost definitions: a thread's rename,
                 * or everything (the first DEFS chunk) */
                if (k == 1) {
                    CHECK_EQ(dm->defs_lost, 1);
                    CHECK_STR(tt_reader_string(r, tt_reader_code(r, 1)->qualname),
                              "<unknown code 1>");
                    CHECK_STR(tt_reader_string(r, 0), "<lost>");
                    CHECK_STR(tt_reader_thread(r, 2)->name, "<lost>");
                } else {
                    CHECK_EQ(dm->defs_lost, 0);
                    CHECK_STR(tt_reader_string(r, tt_reader_code(r, 1)->qualname),
                              "g");
                }
            }
            tt_reader_close(r);
            evlist_free(&lost);
            evlist_free(&want);
            evlist_free(&got);
            free(copy);
        }
    }
    CHECK(events_chunks >= 9);   /* every thread, several chunks each */
    free(data);
    evlist_free(&m.exp);
}

/* Three rounds of definitions, each used by events: A, then B (its DEFS
 * chunk will be damaged), then C, which also uses A again. */
static const char *write_rounds(model *m, uint32_t ids[3][2])
{
    const char *path = tmp_path("rounds.ttrace");
    tt_writer_t *w;
    tt_tbuf_t *b;
    uint64_t t = 2000;

    model_init(m, test_header()->start_tick);
    CHECK_OK(tt_writer_open(&w, path, test_header()));
    CHECK_OK(tt_writer_thread(w, 1, "main", &b));
    for (int round = 0; round < 3; round++) {
        static const char *names[3] = {"alpha", "beta", "gamma"};
        tt_code_def_t cd = {0};
        uint32_t s;
        tt_type_def_t td = {0};
        CHECK_OK(tt_writer_string(w, names[round], strlen(names[round]), &s));
        cd.filename = cd.qualname = s;
        cd.firstlineno = 10 * (round + 1);
        cd.parent = TT_NO_PARENT;
        CHECK_OK(tt_writer_code(w, &cd, &ids[round][0]));
        td.name = s;
        td.basicsize = 16u * (round + 1u);
        CHECK_OK(tt_writer_type(w, &td, &ids[round][1]));
        for (int i = 0; i < 20; i++) {
            m_call(m, b, t++, ids[round][0], cd.firstlineno);
            m_create(m, b, t++, ids[round][1], 0x1000u + 16u * (uint64_t)i,
                     td.basicsize, ids[round][0], cd.firstlineno + 1,
                     TT_NO_OFFSET);
            if (round == 2)
                m_line(m, b, t++, ids[0][0], 11);
        }
        CHECK_OK(tt_writer_flush(w));
    }
    CHECK_OK(tt_writer_close(w));
    return path;
}

void test_resync_lost_defs(void)
{
    model m;
    uint32_t ids[3][2];
    const char *path = write_rounds(&m, ids);
    size_t len, olen, st[64], ns, defs[3], nd = 0;
    uint8_t *data = read_file(path, &len), *old = NULL;

    ns = starts_of(data, len, st, 64);
    for (size_t k = 1; k < ns; k++)
        if (data[st[k]] == TT__CH_DEFS && nd < 3)
            defs[nd++] = k;
    CHECK_EQ(nd, 3);
    for (int older = 0; older < 2; older++) {
        uint8_t *f = data;
        size_t n = len, ost[64];
        tt_reader_t *r;
        evlist got = {0};
        const tt_code_def_t *c;
        if (older) {                 /* as a writer before BASE records */
            old = strip_base_records(data, len, &olen);
            f = old;
            n = olen;
            CHECK_EQ(starts_of(f, n, ost, 64), ns);
        } else {
            memcpy(ost, st, sizeof st);
        }
        f[ost[defs[1]] + 16 + 3] ^= 1;      /* round B's definitions */
        CHECK_EQ(exercise_reader(f, n), 0);
        CHECK_OK(tt_reader_open_mem(&r, f, n, 0));
        CHECK_EQ(tt_reader_damage(r)->status, TT_ECRC);
        CHECK_EQ(tt_reader_damage(r)->defs_lost, 1);
        CHECK_EQ(tt_reader_damage(r)->clean_end, 1);
        /* every event decodes, with its recorded ids; lines of code
         * objects whose definitions are lost (they count from the lost
         * firstlineno) are unknown */
        evlist_read(&got, r, 0);
        {
            evlist want = {0};
            for (size_t i = 0; i < m.exp.n; i++) {
                tt_event_t e = m.exp.ev[i];
                if (e.code == ids[1][0] || (older && e.code == ids[2][0]))
                    e.line = TT_NO_LINE;
                if (e.kind == TT_EV_OBJ_CREATE &&   /* basicsize lost */
                    (e.type == ids[1][1] || (older && e.type == ids[2][1])))
                    e.size = 0;
                evlist_push(&want, &e);
            }
            check_evlists(&got, &want, older ? "older writer" : "with BASE");
            evlist_free(&want);
        }
        /* A: real names */
        c = tt_reader_code(r, ids[0][0]);
        CHECK_STR(tt_reader_string(r, c->qualname), "alpha");
        CHECK_EQ(c->firstlineno, 10);
        /* B: placeholders, never a wrong name */
        c = tt_reader_code(r, ids[1][0]);
        CHECK(c != NULL);
        CHECK(strncmp(tt_reader_string(r, c->qualname), "<unknown code", 13)
              == 0);
        CHECK_EQ(c->n_ranges, 0);
        CHECK(strncmp(tt_reader_string(r, tt_reader_type(r, ids[1][1])->name),
                      "<unknown type", 13) == 0);
        CHECK_STR(tt_reader_string(r, 1), "<lost>");     /* "beta" */
        c = tt_reader_code(r, ids[2][0]);
        if (!older) {                /* C placed at its real ids */
            CHECK_STR(tt_reader_string(r, c->qualname), "gamma");
            CHECK_EQ(c->firstlineno, 30);
            CHECK_EQ_U64(tt_reader_type(r, ids[2][1])->basicsize, 48);
            CHECK_EQ(tt_reader_n_codes(r), 3);
        } else {                     /* C cannot be placed: unknown */
            CHECK_STR(tt_reader_string(r, c->qualname), "<unknown code>");
            CHECK_EQ(tt_reader_n_codes(r), 1);
            CHECK_STR(tt_reader_string(r, 2), "<lost>");
        }
        {   /* the analyses take placeholders in their stride */
            tt_objects_t *o;
            CHECK_OK(tt_objects_analyze(r, &o));
            CHECK_EQ_U64(tt_objects_summary(o)->created, older ? 20 : 60);
            tt_objects_free(o);
        }
        tt_reader_close(r);
        evlist_free(&got);
        if (older)
            free(old);
        else
            f[ost[defs[1]] + 16 + 3] ^= 1;
    }
    free(data);
    evlist_free(&m.exp);
}

void test_resync_file_changes(void)
{
    model m;
    const char *path = write_sample(&m);
    const char *work = tmp_path("changing.ttrace");
    size_t len;
    uint8_t *data = read_file(path, &len);

    for (int what = 0; what < 4; what++) {
        tt_reader_t *r;
        tt_event_t ev;
        uint64_t n = 0;
        int rc, errs = 0;
        unsigned flags = what & 1 ? TT_READ_LAZY : 0;
        write_file(work, data, len);
        CHECK_OK(tt_reader_open(&r, work, flags));
        CHECK_EQ(tt_reader_next(r, &ev), 1);
        if (what < 2) {
            CHECK_EQ(truncate(work, (off_t)(len / 2)), 0);
        } else {                     /* rewritten in place */
            uint8_t *junk = malloc(len);
            memset(junk, 0x5a, len);
            memcpy(junk, data, len / 3);
            write_file(work, junk, len);
            free(junk);
        }
        while ((rc = tt_reader_next(r, &ev)) != 0) {
            if (rc < 0) {
                CHECK(rc == TT_ETRUNCATED || rc == TT_EIO || rc == TT_ECRC ||
                      rc == TT_ECORRUPT);
                errs++;
                continue;
            }
            n++;
        }
        CHECK(errs > 0);
        CHECK(n < m.exp.n);
        if (what & 1)                /* it noticed the chunks it read */
            CHECK(tt_reader_damage(r)->status != 0);
        else                         /* the eager open had seen it whole */
            CHECK(tt_reader_damage(r)->status == TT_ETRUNCATED ||
                  tt_reader_damage(r)->status == TT_EIO);
        CHECK(strstr(tt_reader_damage(r)->reason, "byte") != NULL);
        tt_reader_close(r);
    }
    free(data);
    evlist_free(&m.exp);
}

/* Replaces the END chunk (the last one) with one counting `dropped`. */
static size_t set_end(uint8_t *d, size_t len, uint64_t events,
                      uint64_t dropped)
{
    size_t st[4096], n = starts_of(d, len, st, 4096);
    uint8_t p[24], *q;
    CHECK_EQ(d[st[n - 1]], TT__CH_END);
    q = tt__put_varint(p, events);
    q = tt__put_varint(q, dropped);
    return st[n - 1] + frame_chunk(d + st[n - 1], TT__CH_END, TT__NO_THREAD,
                                   p, (size_t)(q - p));
}

void test_end_dropped_count(void)
{
    const char *path = tmp_path("dropped.ttrace");
    tt_writer_t *w;
    tt_tbuf_t *b;
    tt_reader_t *r;
    uint32_t s;
    uint64_t counts[TT_EV__COUNT], dropped, sent = 0;
    size_t len;
    uint8_t *data, *big;

    CHECK_OK(tt_writer_open(&w, path, test_header()));
    CHECK_OK(tt_writer_string(w, "x", 1, &s));
    CHECK_OK(tt_writer_thread(w, 1, "main", &b));
    tt__io_fail_at(2, 0);   /* DEFS, then the first EVENTS chunk is lost */
    for (int i = 0; i < 10; i++)
        tt_tbuf_line(b, 2000 + (uint64_t)i, TT_NO_CODE, i);
    (void)tt_writer_flush(w);
    for (int i = 0; i < 3; i++, sent++)
        tt_tbuf_line(b, 3000 + (uint64_t)i, TT_NO_CODE, i);
    (void)tt_writer_close(w);
    data = read_file(path, &len);
    CHECK_OK(tt_reader_open_mem(&r, data, len, 0));
    tt_reader_counts(r, counts, &dropped);
    CHECK_EQ(counts[TT_EV_DROPPED], 1);
    CHECK_EQ_U64(dropped, 10);        /* the DROPPED event; END agrees */
    CHECK_EQ_U64(tt_reader_damage(r)->end_dropped, 10);
    tt_reader_close(r);

    /* a full disk: END knows of far more than the stream could say */
    big = malloc(len + 32);
    memcpy(big, data, len);
    len = set_end(big, len, counts[TT_EV_LINE] + 1, 5511564);
    CHECK_OK(tt_reader_open_mem(&r, big, len, 0));
    tt_reader_counts(r, counts, &dropped);
    CHECK_EQ_U64(dropped, 5511564);
    CHECK_EQ(tt_reader_damage(r)->status, 0);
    CHECK_EQ_U64(tt_reader_damage(r)->end_dropped, 5511564);
    tt_reader_close(r);
    /* END below the stream's own reports: the stream's sum stands */
    len = set_end(big, len, counts[TT_EV_LINE] + 1, 2);
    CHECK_OK(tt_reader_open_mem(&r, big, len, 0));
    tt_reader_counts(r, NULL, &dropped);
    CHECK_EQ_U64(dropped, 10);
    tt_reader_close(r);
    free(big);
    free(data);
    (void)sent;
}

static int stop_at_first(void *ctx, uint64_t done, uint64_t total)
{
    uint64_t *seen = ctx;
    seen[0] = done;
    seen[1] = total;
    return 1;
}

void test_lazy_open_and_scan(void)
{
    model m;
    const char *path;
    tt_reader_t *eager, *lazy;
    evlist a = {0}, b = {0};
    uint64_t ce[TT_EV__COUNT], cl[TT_EV__COUNT], de, dl, seen[2] = {0, 0};
    tt_event_t ev;

    tt__tbuf_cap = 300;
    path = write_sample(&m);
    CHECK_OK(tt_reader_open(&eager, path, 0));
    CHECK_OK(tt_reader_open(&lazy, path, TT_READ_LAZY));
    CHECK_EQ(tt_reader_damage(eager)->complete, 1);
    CHECK_EQ(tt_reader_damage(lazy)->complete, 0);
    /* only each thread's first chunk is decoded, which gives the exact
     * first tick of every thread (the order of threads) without a scan */
    tt_reader_counts(lazy, cl, NULL);
    tt_reader_counts(eager, ce, NULL);
    CHECK(cl[TT_EV_CALL] > 0 && cl[TT_EV_CALL] < ce[TT_EV_CALL]);
    for (uint32_t t = 0; t < tt_reader_n_threads(eager); t++) {
        CHECK(tt_reader_thread(lazy, t)->events > 0);
        CHECK(tt_reader_thread(lazy, t)->events <
              tt_reader_thread(eager, t)->events);
        CHECK_EQ_U64(tt_reader_thread(lazy, t)->first_tick,
                     tt_reader_thread(eager, t)->first_tick);
    }
    CHECK_EQ(tt_reader_next(lazy, &ev), 1);
    CHECK(tt_reader_damage(lazy)->complete == 0);
    CHECK_OK(tt_reader_scan(lazy));
    CHECK_EQ(tt_reader_damage(lazy)->complete, 1);
    tt_reader_counts(eager, ce, &de);
    tt_reader_counts(lazy, cl, &dl);
    for (int k = 0; k < TT_EV__COUNT; k++)
        CHECK_EQ_U64(cl[k], ce[k]);
    for (uint32_t t = 0; t < tt_reader_n_threads(eager); t++) {
        CHECK_EQ_U64(tt_reader_thread(lazy, t)->events,
                     tt_reader_thread(eager, t)->events);
        CHECK_EQ_U64(tt_reader_thread(lazy, t)->first_tick,
                     tt_reader_thread(eager, t)->first_tick);
        CHECK_EQ_U64(tt_reader_thread(lazy, t)->last_tick,
                     tt_reader_thread(eager, t)->last_tick);
    }
    CHECK_OK(tt_reader_select_thread(lazy, UINT32_MAX));
    evlist_read(&a, eager, 0);
    evlist_read(&b, lazy, 0);
    check_evlists(&b, &a, "lazy vs eager");
    tt_reader_close(eager);
    tt_reader_close(lazy);
    evlist_free(&a);
    evlist_free(&b);

    /* a scan in the middle of an iteration: nothing counted twice */
    CHECK_OK(tt_reader_open(&lazy, path, TT_READ_LAZY));
    for (int i = 0; i < 100; i++)
        CHECK_EQ(tt_reader_next(lazy, &ev), 1);
    CHECK_OK(tt_reader_scan(lazy));
    evlist_read(&a, lazy, 0);
    CHECK_EQ_U64(a.n + 100, m.exp.n);
    tt_reader_counts(lazy, cl, NULL);
    for (int k = 0; k < TT_EV__COUNT; k++)
        CHECK_EQ_U64(cl[k], ce[k]);
    CHECK_EQ(tt_reader_damage(lazy)->status, 0);
    tt_reader_close(lazy);
    evlist_free(&a);

    /* a full iteration completes a lazy reader too, counted once */
    CHECK_OK(tt_reader_open(&lazy, path, TT_READ_LAZY | TT_READ_FILE));
    evlist_read(&a, lazy, 0);
    CHECK_EQ(tt_reader_damage(lazy)->complete, 1);
    CHECK_OK(tt_reader_select_thread(lazy, UINT32_MAX));
    evlist_read(&a, lazy, 0);
    tt_reader_counts(lazy, cl, NULL);
    CHECK_EQ_U64(cl[TT_EV_CALL] + cl[TT_EV_LINE] + cl[TT_EV_RETURN] +
                 cl[TT_EV_EXCEPTION] + cl[TT_EV_OPCODE] +
                 cl[TT_EV_OBJ_CREATE] + cl[TT_EV_OBJ_DESTROY], m.exp.n);
    CHECK_EQ_U64(a.n, 2 * m.exp.n);
    CHECK_EQ(tt_reader_damage(lazy)->status, 0);
    tt_reader_close(lazy);
    evlist_free(&a);
    evlist_free(&m.exp);
    tt__tbuf_cap = 64 * 1024;

    {   /* a scan stopped by the progress callback, then finished */
        const char *big = tmp_path("big.ttrace");
        tt_writer_t *w;
        tt_tbuf_t *tb;
        uint64_t n = 3 * TT_PROGRESS_EVERY;    /* chunks after the first */
        CHECK_OK(tt_writer_open(&w, big, test_header()));
        CHECK_OK(tt_writer_thread(w, 1, "main", &tb));
        for (uint64_t i = 0; i < n; i++)
            tt_tbuf_line(tb, 2000 + i, TT_NO_CODE, (int32_t)(i % 9));
        CHECK_OK(tt_writer_close(w));
        CHECK_OK(tt_reader_open(&lazy, big, TT_READ_LAZY));
        tt_reader_set_progress(lazy, stop_at_first, seen);
        CHECK_EQ(tt_reader_scan(lazy), TT_ECANCELED);
        CHECK_EQ_U64(seen[0], TT_PROGRESS_EVERY);
        CHECK_EQ_U64(seen[1], n);               /* END's count */
        CHECK_EQ(tt_reader_damage(lazy)->complete, 0);
        tt_reader_counts(lazy, cl, NULL);
        CHECK(cl[TT_EV_LINE] >= TT_PROGRESS_EVERY && cl[TT_EV_LINE] < n);
        tt_reader_set_progress(lazy, NULL, NULL);
        CHECK_OK(tt_reader_scan(lazy));
        tt_reader_counts(lazy, cl, NULL);
        CHECK_EQ_U64(cl[TT_EV_LINE], n);
        CHECK_EQ(tt_reader_damage(lazy)->complete, 1);
        CHECK_EQ(tt_reader_damage(lazy)->status, 0);
        tt_reader_close(lazy);
    }
}

int tt_fuzz_resync_one(const uint8_t *data, size_t len);

/* The resync fuzz target over deterministic inputs: single flips
 * everywhere, cuts, inserted and deleted ranges, and random mixes. */
void test_fuzz_resync_replay(void)
{
    uint64_t seed = 4242;
    uint8_t in[64];

    for (int i = 0; i < 600; i++) {
        size_t n = 4 * (1 + (size_t)(rnd_next(&seed) % 4));
        for (size_t k = 0; k < n; k++)
            in[k] = (uint8_t)rnd_next(&seed);
        if (i < 200) {                   /* one edit of each kind */
            n = 4;
            in[0] = (uint8_t)(i % 4);
        }
        CHECK_EQ(tt_fuzz_resync_one(in, n), 0);
    }
}

static int count_progress(void *ctx, uint64_t done, uint64_t total)
{
    uint64_t *seen = ctx;
    CHECK(done / TT_PROGRESS_EVERY == seen[0] + 1);   /* once per multiple */
    seen[0]++;
    seen[1] = total;
    return seen[0] == seen[2];                        /* stop there */
}

/* tt_reader_next_batch mixed with tt_reader_next: every event once, in
 * order; progress once per TT_PROGRESS_EVERY; a stop asked by the callback
 * comes with the next call. (Equality with tt_reader_next on damaged
 * files is checked by the fuzz target's batch_checks, which
 * exercise_reader runs in the resync tests.) */
void test_batch_progress_and_mixing(void)
{
    const char *big = tmp_path("batch.ttrace");
    tt_writer_t *w;
    tt_tbuf_t *tb;
    tt_reader_t *r;
    tt_event_t ev, evs[1000];
    uint64_t n = 3 * TT_PROGRESS_EVERY + 17, got = 0, seen[3] = {0, 0, 0};
    uint64_t t0 = 2000 - test_header()->start_tick;   /* ticks are relative */
    int calls = 0, k;

    CHECK_OK(tt_writer_open(&w, big, test_header()));
    CHECK_OK(tt_writer_thread(w, 1, "main", &tb));
    for (uint64_t i = 0; i < n; i++)
        tt_tbuf_line(tb, 2000 + i, TT_NO_CODE, (int32_t)(i % 9));
    CHECK_OK(tt_writer_close(w));

    CHECK_OK(tt_reader_open(&r, big, TT_READ_LAZY));
    tt_reader_set_progress(r, count_progress, seen);
    CHECK_EQ(tt_reader_next_batch(r, evs, 0), TT_EINVAL);
    for (;;) {
        if (++calls % 10 == 0) {
            k = tt_reader_next(r, &ev);
            CHECK(k >= 0);
            if (k == 0)
                break;
            CHECK_EQ_U64(ev.tick, t0 + got);
            got++;
            continue;
        }
        k = tt_reader_next_batch(r, evs, 1000);
        CHECK(k >= 0 && k <= 1000);
        if (k == 0)
            break;
        for (int i = 0; i < k; i++)
            CHECK_EQ_U64(evs[i].tick, t0 + got + (uint64_t)i);
        got += (uint64_t)k;
    }
    CHECK_EQ_U64(got, n);
    CHECK_EQ_U64(seen[0], 3);
    CHECK_EQ_U64(seen[1], n);            /* END's count for a lazy reader */
    CHECK_EQ(tt_reader_next_batch(r, evs, 1000), 0);

    seen[0] = 0;
    seen[2] = 2;                         /* stop at the second report */
    CHECK_OK(tt_reader_select_thread(r, UINT32_MAX));
    got = 0;
    while ((k = tt_reader_next_batch(r, evs, 1000)) > 0)
        got += (uint64_t)k;
    CHECK_EQ(k, TT_ECANCELED);
    CHECK(got >= 2 * TT_PROGRESS_EVERY && got < 2 * TT_PROGRESS_EVERY + 1000);
    CHECK_EQ(tt_reader_next(r, &ev), TT_ECANCELED);
    tt_reader_close(r);
}
