/* fuzz_reader.c - libFuzzer target over the whole reader API.
 *
 * Owns: tt_fuzz_exercise(), which opens a buffer with tt_reader_open_mem in
 * both iteration modes, drains every iterator (merged, file order, each
 * thread), calls every accessor on every id and checks the invariants the
 * reader promises; a broken promise is __builtin_trap(), so the fuzzer (and
 * tests/c, which replays fuzz/corpus through it) report it as a crash.
 * Must not: print. Threads: single-threaded.
 */
#define _POSIX_C_SOURCE 200809L   /* fmemopen (coverage exporters) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tt.h"

/* From libtt (tt_internal.h); declared here to keep this file standalone. */
uint32_t tt__crc32c(uint32_t crc, const void *data, size_t n);

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

int tt_fuzz_exercise(const uint8_t *data, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

#define EXPECT(c)                 \
    do {                          \
        if (!(c))                 \
            __builtin_trap();     \
    } while (0)

static volatile uint64_t sink;    /* keeps reads from being optimised out */

static void touch(const char *s)
{
    EXPECT(s != NULL);
    sink += strlen(s);
}

static int known_error(int rc)
{
    return rc == TT_ENOMEM || rc == TT_ENOTTRACE || rc == TT_EVERSION ||
           rc == TT_ECORRUPT || rc == TT_ECRC || rc == TT_ETRUNCATED ||
           rc == TT_ELIMIT || rc == TT_EINVAL || rc == TT_EIO;
}

static void check_event(const tt_reader_t *r, const tt_event_t *ev)
{
    EXPECT(ev->kind >= TT_EV_CALL && ev->kind < TT_EV__COUNT);
    EXPECT(ev->thread < tt_reader_n_threads(r));
    /* after a loss of definitions, ids past the tables give placeholders */
    EXPECT(ev->code == TT_NO_CODE || tt_reader_code(r, ev->code) != NULL ||
           ev->kind == TT_EV_OBJ_DESTROY || ev->kind == TT_EV_DROPPED);
    if (ev->kind == TT_EV_EXCEPTION)
        touch(tt_reader_string(r, ev->exc_type));
    if (ev->kind == TT_EV_OBJ_CREATE)
        EXPECT(tt_reader_type(r, ev->type) != NULL);
    if (ev->kind == TT_EV_DROPPED)
        EXPECT(ev->count > 0);
    /* 0x86 marks flag only the kind they name (FORMAT.md §19) */
    EXPECT(ev->flags == 0 ||
           (ev->flags == TT_EVF_RESUME && ev->kind == TT_EV_CALL) ||
           (ev->flags == TT_EVF_YIELD && ev->kind == TT_EV_RETURN));
    EXPECT(!tt_event_yields(r, ev) || ev->kind == TT_EV_RETURN);
    sink += (unsigned)tt_event_resumes(r, ev);
    sink += tt_event_kind_name(ev->kind)[0];
}

/* Drains the iterator; checks per-thread ticks never go backwards and, when
 * merged, that (tick, thread) never decreases. Returns the event count. */
static uint64_t drain(tt_reader_t *r, int merged)
{
    uint32_t nt = tt_reader_n_threads(r);
    uint64_t n = 0, last_tick = 0, errors = 0;
    uint32_t last_thread = 0;
    uint64_t last_by_thread[64] = {0};
    tt_event_t ev;
    int rc;

    while ((rc = tt_reader_next(r, &ev)) != 0) {
        if (rc < 0) {
            EXPECT(known_error(rc));
            EXPECT(++errors < 1000000);
            continue;
        }
        EXPECT(rc == 1);
        check_event(r, &ev);
        if (ev.thread < 64) {
            EXPECT(ev.tick >= last_by_thread[ev.thread]);
            last_by_thread[ev.thread] = ev.tick;
        }
        if (merged && n)
            EXPECT(ev.tick > last_tick ||
                   (ev.tick == last_tick && ev.thread >= last_thread));
        last_tick = ev.tick;
        last_thread = ev.thread;
        n++;
    }
    EXPECT(tt_reader_next(r, &ev) == 0);      /* stays at the end */
    (void)nt;
    return n;
}

static void accessors(tt_reader_t *r)
{
    const tt_header_t *h = tt_reader_header(r);
    const tt_damage_t *d = tt_reader_damage(r);
    uint64_t counts[TT_EV__COUNT], dropped, total = 0, per_thread = 0;
    int lossy;

    EXPECT(h != NULL && d != NULL);
    touch(h->python_impl);
    touch(h->python_version);
    touch(h->python_build);
    touch(h->clock_name);
    touch(h->options_text);
    EXPECT(h->clock_hz > 0);
    for (uint32_t i = 0; i < h->argc; i++)
        touch(h->argv[i]);
    for (uint32_t i = 0; i < h->n_opnames; i++)
        touch(h->opnames[i]);
    EXPECT(memchr(d->reason, '\0', sizeof d->reason) != NULL);
    EXPECT(d->status == 0 || d->status == TT_ETRUNCATED ||
           d->status == TT_ECRC || d->status == TT_ECORRUPT);
    EXPECT(d->complete);                   /* open scanned everything */
    EXPECT(d->status != 0 || (d->chunks_lost == 0 && d->regions_lost == 0 &&
                              !d->defs_lost));
    EXPECT(d->bytes_unattributed <= d->bytes_lost);
    lossy = d->chunks_lost || d->regions_lost;
    for (uint32_t i = 0; i < tt_reader_n_codes(r); i++) {
        const tt_code_def_t *c = tt_reader_code(r, i);
        EXPECT(c != NULL);
        touch(tt_reader_string(r, c->filename));
        touch(tt_reader_string(r, c->qualname));
        EXPECT(c->parent == TT_NO_PARENT || c->parent < i);
        for (uint32_t k = 0; k < c->n_ranges; k++) {
            EXPECT(c->ranges[k].start <= c->ranges[k].end);
            EXPECT(k == 0 || c->ranges[k].start >= c->ranges[k - 1].end);
            if (c->ranges[k].start < c->ranges[k].end)
                EXPECT(tt_code_line_at(c, c->ranges[k].start) ==
                       c->ranges[k].line);
        }
        sink += (uint64_t)tt_code_line_at(c, 0) + tt_code_line_at(c, 7);
    }
    EXPECT(lossy || tt_reader_code(r, tt_reader_n_codes(r)) == NULL);
    for (uint32_t i = 0; i < tt_reader_n_types(r); i++)
        touch(tt_reader_string(r, tt_reader_type(r, i)->name));
    EXPECT(lossy || tt_reader_type(r, tt_reader_n_types(r)) == NULL);
    for (uint32_t i = 0; i < tt_reader_n_threads(r); i++) {
        const tt_thread_info_t *t = tt_reader_thread(r, i);
        touch(t->name);
        EXPECT(t->first_tick <= t->last_tick);
        per_thread += t->events;
    }
    EXPECT(tt_reader_thread(r, tt_reader_n_threads(r)) == NULL);
    for (uint32_t i = 0; i < tt_reader_n_notes(r); i++) {
        const char *k, *v;
        EXPECT(tt_reader_note(r, i, &k, &v) == 0);
        touch(k);
        touch(v);
    }
    EXPECT(tt_reader_note(r, tt_reader_n_notes(r), NULL, NULL) == TT_EINVAL);
    /* Source identities name defined strings (the reader skips others). */
    for (uint32_t i = 0; i < tt_reader_n_sources(r); i++) {
        const tt_source_def_t *sd = tt_reader_source(r, i);
        EXPECT(sd != NULL);
        touch(tt_reader_string(r, sd->filename));
    }
    EXPECT(tt_reader_source(r, tt_reader_n_sources(r)) == NULL);
    tt_reader_counts(r, counts, &dropped);
    for (int k = 0; k < TT_EV__COUNT; k++)
        total += counts[k];
    EXPECT(total == per_thread);
    sink += tt_reader_ns(r, UINT64_MAX) + tt_reader_ns(r, 12345);
}

/* Clock sync points (0x82, FORMAT.md §15): whatever they say, conversion
 * never decreases with the tick and the info is consistent. */
static void clock_checks(tt_reader_t *r)
{
    tt_clock_info_t c;
    uint64_t prev = 0;
    int rc = tt_reader_clock(r, &c);

    EXPECT(rc == 0 || rc == TT_ENOMEM);
    EXPECT(c.header_hz == tt_reader_header(r)->clock_hz);
    EXPECT(rc != 0 || c.n_sync >= 2 || c.measured_hz == (double)c.header_hz);
    for (uint64_t t = 0; t < (1ull << 40); t = t * 3 + 1) {
        uint64_t ns = tt_reader_ns(r, t);
        EXPECT(ns >= prev);
        prev = ns;
    }
    sink += tt_reader_span_ns(r, 1000) + tt_reader_span_ns(r, UINT64_MAX);
}

/* The call analysis: one pass, and its totals hold together. */
static void calls_checks(tt_reader_t *r)
{
    tt_calls_t *c = NULL;
    const tt_callnode_t *n;
    const tt_callstat_t *f;
    int rc = tt_calls_analyze(r, &c);

    if (rc < 0) {
        EXPECT(c == NULL && rc == TT_ENOMEM);
        return;
    }
    for (uint32_t i = 0; (n = tt_calls_node(c, i)) != NULL; i++) {
        const tt_code_def_t *def = tt_reader_code(r, n->code);
        EXPECT(n->parent == TT_CALLS_NO_NODE || n->parent < i);
        EXPECT(n->tottime_ns <= n->cumtime_ns);
        /* A C function (--c-calls) is never resumed, whatever other
         * flags its record carries. */
        if (def != NULL && (def->flags & TT_CODE_CFUNCTION))
            EXPECT(n->resumes == 0);
    }
    for (uint32_t i = 0; (f = tt_calls_function(c, i)) != NULL; i++) {
        EXPECT(f->prim_calls <= f->calls && f->prim_resumes <= f->resumes);
        sink += f->tottime_ns + f->cumtime_ns;
    }
    sink += tt_calls_summary(c)->events;
    tt_calls_free(c);
}

/* The line analysis: rows in order, own <= time, and
 * every LINE and CALL (not resumption) is one hit of one per-thread row
 * (a LINE without a line number, in a crafted file, hits the entry row). */
static void lines_checks(tt_reader_t *r)
{
    tt_lines_t *L = NULL;
    const tt_linestat_t *x, *prev = NULL;
    uint64_t hits = 0;
    int rc = tt_lines_analyze(r, &L);

    if (rc < 0) {
        EXPECT(L == NULL && rc == TT_ENOMEM);
        return;
    }
    for (uint32_t i = 0; (x = tt_lines_row(L, i)) != NULL; prev = x, i++) {
        EXPECT(x->own_ns <= x->time_ns);
        EXPECT(prev == NULL || prev->thread < x->thread ||
               (prev->thread == x->thread &&
                (prev->code < x->code ||
                 (prev->code == x->code && prev->line < x->line))));
        if (x->thread != TT_LINES_ALL_THREADS)
            hits += x->hits;
    }
    EXPECT(hits == tt_lines_summary(L)->lines + tt_lines_summary(L)->calls);
    sink += tt_lines_summary(L)->traced_ns;
    tt_lines_free(L);
}

/* The object analysis over whatever the file holds: events and
 * 0x81 aggregate chunks. Checks its promises about counts and orders. */
static void objects(tt_reader_t *r)
{
    tt_objects_t *o = NULL;
    const tt_objects_summary_t *s;
    const tt_objstat_t *st, *prev = NULL;
    uint64_t created = 0, survived = 0, unverified = 0;
    int rc = tt_objects_analyze(r, &o);

    if (rc < 0) {
        EXPECT(o == NULL && rc == TT_ENOMEM);
        return;
    }
    s = tt_objects_summary(o);
    EXPECT(s->unverified <= s->survived);
    EXPECT(s->complete_deaths == (s->checked && s->unverified == 0));
    for (uint32_t i = 0; (st = tt_objects_site(o, TT_OBJ_BY_SURVIVED, i));
         i++) {
        EXPECT(i < s->n_sites);
        EXPECT(st->type < tt_reader_n_types(r));
        EXPECT(st->code == TT_NO_CODE || tt_reader_code(r, st->code));
        EXPECT(st->unverified <= st->survived);
        EXPECT(prev == NULL || prev->survived >= st->survived);
        sink += tt_objstat_lifetime(st, 0.5) + tt_objstat_lifetime(st, 0.99);
        created += st->created;
        survived += st->survived;
        unverified += st->unverified;
        prev = st;
    }
    EXPECT(created == s->created && survived == s->survived &&
           unverified == s->unverified);
    for (uint32_t i = 0; (st = tt_objects_type(o, i)); i++) {
        EXPECT(i < s->n_types);
        EXPECT(st->code == TT_NO_CODE);
        touch(tt_reader_string(r, tt_reader_type(r, st->type)->name));
    }
    for (uint32_t i = 0; i < tt_reader_n_ancillary(r); i++) {
        uint8_t type;
        const uint8_t *p;
        size_t len;
        EXPECT(tt_reader_ancillary(r, i, &type, &p, &len) == 0);
        EXPECT(type >= 0x80);
        sink += len ? p[len - 1] : 0;
    }
    tt_objects_free(o);
}

/* Context marks, the context of every line, and tick windows. */
static void context_checks(tt_reader_t *r)
{
    uint32_t n = tt_reader_n_contexts(r);
    tt_line_context_t *v = NULL;
    uint64_t *s = NULL, prev = 0;
    size_t k = 0;
    tt_event_t ev;
    int rc;

    EXPECT(n >= 1);
    for (uint32_t i = 0; i < n; i++) {
        tt_context_t c;
        EXPECT(tt_reader_context(r, i, &c) == 0 && c.name != NULL);
        EXPECT(c.tick >= prev);           /* marks never go back */
        EXPECT(tt_reader_context_at(r, c.tick) >= i);
        prev = c.tick;
        touch(c.name);
    }
    rc = tt_line_contexts(r, &v, &k);
    EXPECT(rc == 0 || rc == TT_ENOMEM || rc == TT_ECANCELED);
    for (size_t i = 0; rc == 0 && i < k; i++)
        EXPECT(v[i].context < n && v[i].line >= 1);  /* any code: lax ids */
    tt_line_contexts_free(v);
    if (n < 2 || tt_reader_context_spans(r, "", 0, &s, &k) != 0)
        return;
    if (tt_reader_set_window(r, s, k) == 0) {
        while ((rc = tt_reader_next(r, &ev)) != 0 && rc != TT_ENOMEM) {
            tt_context_t c;
            if (rc != 1)
                continue;
            EXPECT(tt_reader_context(r, tt_reader_context_at(r, ev.tick),
                                     &c) == 0 && c.name[0] == '\0');
        }
        EXPECT(tt_reader_set_window(r, NULL, 0) == 0);
    }
    tt_spans_free(s);
}

/* The 0x85 allocations chunk. Sites in order, every stack
 * walk ends and names defined codes. */
static void allocs(tt_reader_t *r)
{
    tt_allocs_t *a = NULL;
    const tt_alloc_site_t *st, *prev = NULL;
    const tt_alloc_type_t *ty, *prevt = NULL;
    tt_alloc_frame_t fr[8];
    const tt_alloc_sample_t *sm;
    size_t n;
    int rc = tt_allocs_load(r, &a);

    if (rc < 0) {
        EXPECT(a == NULL && rc == TT_ENOMEM);
        return;
    }
    for (size_t i = 0; (st = tt_allocs_site(a, i)); i++) {
        size_t d = tt_allocs_stack(a, st->stack, fr, 8);
        EXPECT(st->frees <= st->allocs && st->live_blocks <= st->allocs);
        EXPECT(prev == NULL || prev->live_bytes >= st->live_bytes);
        for (size_t k = 0; k < d && k < 8; k++)
            EXPECT(fr[k].code == TT_NO_CODE || tt_reader_code(r, fr[k].code));
        prev = st;
    }
    for (size_t i = 0; (ty = tt_allocs_type(a, i)); i++) {
        EXPECT(ty->frees <= ty->allocs && ty->live_blocks <= ty->allocs);
        EXPECT(ty->type == TT_ALLOC_BUFFERS || tt_reader_type(r, ty->type));
        EXPECT(prevt == NULL || prevt->live_bytes >= ty->live_bytes);
        prevt = ty;
    }
    sm = tt_allocs_samples(a, &n);
    for (size_t i = 0; i < n; i++)
        sink += sm[i].live_bytes;
    if (tt_allocs_summary(a))
        sink += tt_allocs_summary(a)->peak_bytes;
    tt_allocs_free(a);
}

/* The 0x80 line-count records and the coverage analysis with
 * every exporter, over whatever the reader accepted. */
static void coverage_checks(tt_reader_t *r)
{
    tt_line_counts_t *lc = NULL;
    tt_coverage_t *cov = NULL;
    tt_cov_opts_t opts = {1, "/", "t", "v", 1};
    tt_cov_summary_t tot;
    uint64_t exec = 0;
    FILE *out, *src;
    int rc;

    rc = tt_line_counts_read(r, &lc);
    EXPECT(rc == 0 || (rc == TT_ENOMEM && lc == NULL));
    for (uint32_t i = 0; lc && i < tt_line_counts_n(lc); i++) {
        const tt_code_counts_t *cc = tt_line_counts_get(lc, i);
        EXPECT(cc != NULL && cc->code < tt_reader_n_codes(r));
        for (uint32_t k = 0; k < cc->n; k++) {
            EXPECT(cc->lines[k] >= 0 && cc->counts[k] >= 1);
            EXPECT(k == 0 || cc->lines[k] > cc->lines[k - 1]);
        }
        sink += cc->calls;
    }
    if (lc)
        EXPECT(tt_line_counts_get(lc, tt_line_counts_n(lc)) == NULL);
    tt_line_counts_free(lc);

    if (tt_coverage_new(&cov) != 0)
        return;
    rc = tt_coverage_add(cov, r);
    EXPECT(rc == 0 || rc == TT_ENOMEM);
    if (rc == 0 && tt_coverage_finish(cov) == 0) {
        for (uint32_t i = 0; i < tt_coverage_n_files(cov); i++) {
            const tt_cov_file_t *f = tt_coverage_file(cov, i);
            EXPECT(f->summary.covered <= f->summary.executable);
            for (uint32_t k = 0; k < f->n_lines; k++)
                EXPECT(f->lines[k] >= 1 && (k == 0 ||
                                            f->lines[k] > f->lines[k - 1]));
            exec += f->n_lines;
        }
        tt_coverage_totals(cov, &tot);
        EXPECT(tot.executable == exec);
        out = fopen("/dev/null", "w");
        if (out != NULL) {
            EXPECT(tt_coverage_write_text(cov, out, &opts) >= TT_ENOMEM);
            EXPECT(tt_coverage_write_json(cov, out) >= TT_ENOMEM);
            EXPECT(tt_coverage_write_lcov(cov, out, &opts) >= TT_ENOMEM);
            EXPECT(tt_coverage_write_cobertura(cov, out, &opts) >= TT_ENOMEM);
            for (uint32_t i = 0; i < tt_coverage_n_files(cov) && i < 4; i++) {
                static char text[] = "a\n\tb\r\nc\rd";
                src = fmemopen(text, sizeof text - 1, "r");
                if (src == NULL)
                    continue;
                EXPECT(tt_coverage_write_annotate(tt_coverage_file(cov, i),
                                                  src, out) >= TT_ENOMEM);
                fclose(src);
            }
            fclose(out);
        }
    }
    tt_coverage_free(cov);
}

static int same_event(const tt_event_t *a, const tt_event_t *b)
{
    return a->kind == b->kind && a->opcode == b->opcode &&
           a->thread == b->thread && a->tick == b->tick &&
           a->code == b->code && a->line == b->line &&
           a->offset == b->offset && a->exc_type == b->exc_type &&
           a->type == b->type && a->addr == b->addr && a->size == b->size &&
           a->count == b->count && a->flags == b->flags;
}

/* tt_reader_next_batch gives exactly tt_reader_next's sequence of events
 * and errors, whatever the batch size. */
static void batch_checks(const uint8_t *data, size_t len, unsigned flags,
                         size_t cap)
{
    tt_reader_t *one = NULL, *many = NULL;
    tt_event_t ev, *evs = malloc(cap * sizeof *evs);
    uint64_t errors = 0;

    if (evs == NULL)
        return;
    if (tt_reader_open_mem(&one, data, len, flags) < 0 ||
        tt_reader_open_mem(&many, data, len, flags) < 0)
        goto out;                 /* only an allocation failure can */
    for (;;) {
        int n = tt_reader_next_batch(many, evs, cap);
        if (n > 0) {
            EXPECT((size_t)n <= cap);
            for (int i = 0; i < n; i++) {
                EXPECT(tt_reader_next(one, &ev) == 1);
                EXPECT(same_event(&ev, &evs[i]));
            }
            continue;
        }
        EXPECT(tt_reader_next(one, &ev) == n);
        if (n == 0 || n == TT_ENOMEM || ++errors > 100000)
            break;
    }
out:
    tt_reader_close(one);
    tt_reader_close(many);
    free(evs);
}

int tt_fuzz_exercise(const uint8_t *data, size_t len)
{
    tt_reader_t *r = NULL;
    uint64_t counts[TT_EV__COUNT], dropped, total = 0, n;
    int rc;

    rc = tt_reader_open_mem(&r, data, len, TT_READ_MERGED);
    if (rc < 0) {
        EXPECT(r == NULL && known_error(rc));
        sink += tt_strerror(rc)[0];
        return rc;
    }
    EXPECT(r != NULL);
    accessors(r);
    coverage_checks(r);         /* leaves r at the end: rewind */
    EXPECT(tt_reader_select_thread(r, UINT32_MAX) == 0);
    tt_reader_counts(r, counts, &dropped);
    for (int k = 0; k < TT_EV__COUNT; k++)
        total += counts[k];
    n = drain(r, 1);
    EXPECT(n == total);
    for (uint32_t t = 0; t < tt_reader_n_threads(r) && t < 16; t++) {
        EXPECT(tt_reader_select_thread(r, t) == 0);
        EXPECT(drain(r, 1) == tt_reader_thread(r, t)->events);
    }
    EXPECT(tt_reader_select_thread(r, tt_reader_n_threads(r)) == TT_EINVAL);
    objects(r);
    allocs(r);
    clock_checks(r);
    context_checks(r);
    calls_checks(r);
    lines_checks(r);
    tt_reader_close(r);

    rc = tt_reader_open_mem(&r, data, len, TT_READ_FILE);
    EXPECT(rc == 0 && r != NULL);
    EXPECT(drain(r, 0) == total);
    if (tt_reader_n_threads(r) > 0) {
        EXPECT(tt_reader_select_thread(r, 0) == 0);
        EXPECT(drain(r, 0) == tt_reader_thread(r, 0)->events);
    }
    tt_reader_close(r);
    batch_checks(data, len, TT_READ_MERGED | TT_READ_LAZY, 1 + len % 7);
    batch_checks(data, len, TT_READ_MERGED, TT_BATCH_MAX);
    batch_checks(data, len, TT_READ_FILE | TT_READ_LAZY, 1 + len % 5);
    return 0;
}

/* Recomputes both CRCs of every chunk it can walk to, so that mutations
 * reach the parsers behind the checksums instead of dying at them. */
static void fix_crcs(uint8_t *d, size_t len)
{
    size_t off = 12;
    while (off + 16 <= len) {
        uint32_t n = (uint32_t)d[off + 8] | (uint32_t)d[off + 9] << 8 |
                     (uint32_t)d[off + 10] << 16 | (uint32_t)d[off + 11] << 24;
        put_le32(d + off + 12, tt__crc32c(0, d + off, 12));
        if (n > len - off - 16 || len - off - 16 - n < 4)
            return;
        put_le32(d + off + 16 + n, tt__crc32c(0, d + off + 16, n));
        off += 20 + (size_t)n;
    }
}

#ifndef TT_FUZZ_NO_MAIN   /* fuzz_resync.c reuses tt_fuzz_exercise */
/* Each input is read twice: as it is (the checksum paths) and with its
 * checksums repaired (everything behind them). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    uint8_t *copy;

    (void)tt_fuzz_exercise(data, len);
    copy = malloc(len ? len : 1);
    if (copy == NULL)
        return 0;
    if (len)
        memcpy(copy, data, len);
    fix_crcs(copy, len);
    (void)tt_fuzz_exercise(copy, len);
    free(copy);
    return 0;
}
#endif
