/* tt_analyze_timeline.c - a recording as a timeline (tt_timeline_write): one pass
 * over the events in merged order, pairing calls with returns by the call
 * analysis's rules (tt_analyze_pair.c), into slices, instants and counters that a
 * format writer (tt_timeline.h) turns into bytes.
 * Owns: the shadow stacks, the live-object table of the counters, the
 * order of what the writer is told. Must not: print, or keep anything per
 * event. Threads: one export, one thread (it drives its reader).
 */
#include <string.h>

#include "tt_timeline.h"

const char *const tt__tl_kind_names[TT__TL__KINDS] = {
    "call", "resume", "line", "exception", "tracetap",
};

#define NO_SLOT UINT32_MAX
#define DEFAULT_PERIOD_NS 1000000u

/* An open activation; the code first, as tt__pair_return reads it. */
typedef struct {
    uint32_t code;
    uint32_t line_open;           /* a line slice is open inside it */
} frame_t;

typedef struct {
    frame_t *st;                  /* owned */
    size_t n, cap;
    uint64_t last_tick;
    int seen;
} thr_t;

/* A live object: its counter slot (a top type, or NO_SLOT). */
typedef struct {
    uint64_t addr;
    uint32_t slot;
    uint32_t used;
} obj_t;

typedef struct {
    int64_t value;
    int64_t written;              /* the value last written */
    uint64_t since_ns;            /* when value became what it is */
    uint64_t last_ns;             /* the last write; UINT64_MAX: never */
} counter_t;

typedef struct {
    tt_reader_t *r;               /* borrowed */
    const tt_timeline_opts_t *o;
    tt__tl_sink_t sink;
    tt_timeline_stats_t st;
    thr_t *thr;                   /* owned, per thread id */
    size_t n_thr;
    uint64_t last_ns;             /* the last event's time */
    /* object counters: counter 0 is every object, 1.. the top types */
    uint32_t *top;                /* owned: type ids of counters 1.. */
    uint32_t n_top;
    counter_t *ctr;               /* owned: 1 + n_top */
    char **ctr_names;             /* owned strings */
    obj_t *live;                  /* owned: open addressing */
    uint32_t live_bits;
    size_t n_live;
} tl_t;

/* ------------------------------------------------------------ threads */

static int thr_get(tl_t *t, uint32_t thread, thr_t **out)
{
    if (thread >= t->n_thr) {
        size_t old = t->n_thr, cap = t->n_thr;
        void *p = t->thr;
        if (thread >= UINT32_MAX - 1)
            return TT_ECORRUPT;
        if (tt__grow(&p, &cap, (size_t)thread + 1, sizeof *t->thr) < 0)
            return TT_ENOMEM;
        t->thr = p;
        memset(t->thr + old, 0, (cap - old) * sizeof *t->thr);
        t->n_thr = cap;
    }
    *out = &t->thr[thread];
    return 0;
}

/* Ends the top frame of thread `id` (its line slice first). */
static int close_top(tl_t *t, uint32_t id, thr_t *h, uint64_t ns)
{
    frame_t *f = &h->st[--h->n];
    int rc;
    if (f->line_open && (rc = t->sink.end(t->sink.ctx, id, ns)) < 0)
        return rc;
    return t->sink.end(t->sink.ctx, id, ns);
}

static int close_all(tl_t *t, uint32_t id, thr_t *h, uint64_t ns,
                     uint64_t *count)
{
    int rc;
    while (h->n > 0) {
        if ((rc = close_top(t, id, h, ns)) < 0)
            return rc;
        ++*count;
    }
    return 0;
}

static int on_call(tl_t *t, thr_t *h, const tt_event_t *ev, uint64_t ns)
{
    frame_t *f;
    if (h->n == h->cap) {
        void *p = h->st;
        if (tt__grow(&p, &h->cap, h->n + 1, sizeof *h->st) < 0)
            return TT_ENOMEM;
        h->st = p;
    }
    f = &h->st[h->n++];
    f->code = ev->code;
    f->line_open = 0;
    t->st.slices++;
    return t->sink.begin(t->sink.ctx, ev->thread, ns,
                         tt_event_resumes(t->r, ev) ? TT__TL_RESUME
                                                    : TT__TL_CALL,
                         ev->code, ev->line);
}

static int on_return(tl_t *t, thr_t *h, const tt_event_t *ev, uint64_t ns)
{
    size_t k = tt__pair_return(h->st, h->n, sizeof *h->st, ev->code);
    int rc;
    for (; k > 0; k--)                    /* 0: entered before the start */
        if ((rc = close_top(t, ev->thread, h, ns)) < 0)
            return rc;
    return 0;
}

/* A LINE of the top frame closes its previous line and opens this one. */
static int on_line(tl_t *t, thr_t *h, const tt_event_t *ev, uint64_t ns)
{
    frame_t *f;
    int rc;
    if (h->n == 0 || h->st[h->n - 1].code != ev->code)
        return 0;                         /* a frame we did not see enter */
    f = &h->st[h->n - 1];
    if (f->line_open && (rc = t->sink.end(t->sink.ctx, ev->thread, ns)) < 0)
        return rc;
    f->line_open = 1;
    t->st.slices++;
    return t->sink.begin(t->sink.ctx, ev->thread, ns, TT__TL_LINE, ev->code,
                         ev->line);
}

/* ------------------------------------------------------------ objects */

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static obj_t *obj_slot(const tl_t *t, uint64_t addr)
{
    size_t mask = ((size_t)1 << t->live_bits) - 1, h = mix(addr) & mask;
    while (t->live[h].used && t->live[h].addr != addr)
        h = (h + 1) & mask;
    return &t->live[h];
}

static int obj_grow(tl_t *t)
{
    obj_t *old = t->live;
    size_t n_old = old ? (size_t)1 << t->live_bits : 0;
    uint32_t bits = old ? t->live_bits + 1 : 10;
    obj_t *n = tt__malloc(((size_t)1 << bits) * sizeof *n);
    if (n == NULL)
        return TT_ENOMEM;
    memset(n, 0, ((size_t)1 << bits) * sizeof *n);
    t->live = n;
    t->live_bits = bits;
    for (size_t i = 0; i < n_old; i++)
        if (old[i].used)
            *obj_slot(t, old[i].addr) = old[i];
    tt__free(old);
    return 0;
}

/* Removes e by shifting later entries of its run back (no tombstones). */
static void obj_remove(tl_t *t, obj_t *e)
{
    size_t mask = ((size_t)1 << t->live_bits) - 1;
    size_t i = (size_t)(e - t->live), j = i;
    for (;;) {
        size_t k;
        j = (j + 1) & mask;
        if (!t->live[j].used)
            break;
        k = mix(t->live[j].addr) & mask;
        if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
            t->live[i] = t->live[j];
            i = j;
        }
    }
    t->live[i].used = 0;
    t->n_live--;
}

/* Counters are sampled, not written at every change: a value is written
 * (at the time it took effect) when it held for a period, or when a period
 * has passed since the last write, and at the end. So a value held long
 * enough to see is always there, and churn costs one value per period.
 * Each counter's writes are in time order (its own sequence). */
static int ctr_flush(tl_t *t, uint32_t i, uint64_t ns, int force)
{
    counter_t *c = &t->ctr[i];
    uint64_t period = t->o->counter_period_ns ? t->o->counter_period_ns
                                              : DEFAULT_PERIOD_NS;
    if (c->value == c->written && c->last_ns != UINT64_MAX)
        return 0;
    if (!force && ns - c->since_ns < period &&
        (c->last_ns != UINT64_MAX && ns - c->last_ns < period))
        return 0;
    c->written = c->value;
    c->last_ns = c->since_ns;
    t->st.counter_values++;
    return t->sink.counter(t->sink.ctx, i, c->since_ns, c->value);
}

static int ctr_change(tl_t *t, uint32_t i, int64_t d, uint64_t ns)
{
    int rc = ctr_flush(t, i, ns, 0);
    t->ctr[i].value += d;
    t->ctr[i].since_ns = ns;
    return rc;
}

static int ctr_add(tl_t *t, uint32_t slot, int64_t d, uint64_t ns)
{
    int rc = ctr_change(t, 0, d, ns);
    if (rc < 0 || slot == NO_SLOT)
        return rc;
    return ctr_change(t, slot, d, ns);
}

static int on_obj(tl_t *t, const tt_event_t *ev, uint64_t ns)
{
    obj_t *e;
    int rc;
    if (t->ctr == NULL)
        return 0;
    if (ev->kind == TT_EV_OBJ_DESTROY) {
        uint32_t slot;
        if (t->live == NULL || !(e = obj_slot(t, ev->addr))->used)
            return 0;                     /* born before the recording */
        slot = e->slot;
        obj_remove(t, e);
        return ctr_add(t, slot, -1, ns);
    }
    if ((t->live == NULL || (t->n_live + 1) * 4 > ((size_t)3 << t->live_bits))
        && (rc = obj_grow(t)) < 0)
        return rc;
    e = obj_slot(t, ev->addr);
    if (e->used && (rc = ctr_add(t, e->slot, -1, ns)) < 0)
        return rc;                        /* reused: the old one died */
    if (!e->used)
        t->n_live++;
    e->used = 1;
    e->addr = ev->addr;
    e->slot = NO_SLOT;
    for (uint32_t i = 0; i < t->n_top; i++)
        if (t->top[i] == ev->type)
            e->slot = i + 1;
    return ctr_add(t, e->slot, 1, ns);
}

/* The counters of an objects recording: the top types by creations come
 * from the object analysis (one more pass). 0, TT_ENOMEM, TT_ECANCELED. */
static int objects_setup(tl_t *t)
{
    uint64_t counts[TT_EV__COUNT], dropped;
    tt_objects_t *ob = NULL;
    const tt_objstat_t *s;
    uint32_t n = 0;
    int rc;

    tt_reader_counts(t->r, counts, &dropped);
    if (counts[TT_EV_OBJ_CREATE] == 0)
        return 0;
    if (t->o->top_types > 0) {
        if ((rc = tt_objects_analyze(t->r, &ob)) < 0)
            return rc;
        while (n < t->o->top_types && tt_objects_type(ob, n) != NULL)
            n++;
    }
    rc = TT_ENOMEM;
    if ((t->ctr_names = tt__malloc((n + 1) * sizeof *t->ctr_names)) == NULL)
        goto done;
    memset(t->ctr_names, 0, (n + 1) * sizeof *t->ctr_names);
    t->n_top = n;                         /* the names to free */
    t->top = tt__malloc((n + 1) * sizeof *t->top);
    t->ctr = tt__malloc((n + 1) * sizeof *t->ctr);
    if (t->top == NULL || t->ctr == NULL)
        goto done;
    for (uint32_t i = 0; i <= n; i++) {
        const char *name = "live objects";
        size_t len;
        t->ctr[i].value = t->ctr[i].written = 0;
        t->ctr[i].since_ns = 0;
        t->ctr[i].last_ns = UINT64_MAX;
        if (i > 0) {
            const tt_type_def_t *td;
            s = tt_objects_type(ob, i - 1);
            t->top[i - 1] = s->type;
            td = tt_reader_type(t->r, s->type);
            name = td ? tt_reader_string(t->r, td->name) : NULL;
            name = name ? name : "?";
        }
        len = strlen(name);
        if ((t->ctr_names[i] = tt__malloc(len + 7)) == NULL)
            goto done;
        memcpy(t->ctr_names[i], i ? "live: " : "", i ? 6 : 0);
        memcpy(t->ctr_names[i] + (i ? 6 : 0), name, len + 1);
    }
    rc = 0;
done:
    tt_objects_free(ob);
    return rc;
}

/* ------------------------------------------------------------ the walk */

static int walk(tl_t *t)
{
    tt_event_t ev;
    thr_t *h;
    int rc;

    while ((rc = tt__replay_next(t->r, &ev, &t->st.bad_chunks)) > 0) {
        uint64_t ns;
        t->st.events++;
        if ((rc = thr_get(t, ev.thread, &h)) < 0)
            return rc;
        ns = tt_reader_ns(t->r, ev.tick);
        h->seen = 1;
        h->last_tick = ev.tick;
        t->last_ns = ns;
        switch (ev.kind) {
        case TT_EV_CALL:
            rc = on_call(t, h, &ev, ns);
            break;
        case TT_EV_RETURN:
            rc = on_return(t, h, &ev, ns);
            break;
        case TT_EV_LINE:
            if (t->o->flags & TT_TIMELINE_LINES)
                rc = on_line(t, h, &ev, ns);
            break;
        case TT_EV_EXCEPTION: {
            const char *name = tt_reader_string(t->r, ev.exc_type);
            t->st.instants++;
            rc = t->sink.instant(t->sink.ctx, ev.thread, ns, TT__TL_EXCEPTION,
                                 name && name[0] ? name : "?", ev.code,
                                 ev.line);
            /* a C function that raised ends here (--c-calls) */
            if (rc == 0 && tt__pair_cexception(t->r, h->st, h->n,
                                               sizeof *h->st, ev.code))
                rc = close_top(t, ev.thread, h, ns);
            break;
        }
        case TT_EV_DROPPED: {
            uint64_t closed = 0;
            t->st.instants++;
            if ((rc = close_all(t, ev.thread, h, ns, &closed)) == 0)
                rc = t->sink.instant(t->sink.ctx, ev.thread, ns, TT__TL_NOTE,
                                     "events lost", TT_NO_CODE, TT_NO_LINE);
            break;
        }
        case TT_EV_OBJ_CREATE:
        case TT_EV_OBJ_DESTROY:
            rc = on_obj(t, &ev, ns);
            break;
        default:
            break;
        }
        if (rc < 0)
            return rc;
    }
    return rc;
}

/* Closes every thread's open slices at its last event, writes the final
 * counter values and marks a cut. */
static int wind_up(tl_t *t)
{
    int rc;
    for (size_t i = 0; i < t->n_thr; i++) {
        thr_t *h = &t->thr[i];
        if (h->n && (rc = close_all(t, (uint32_t)i, h,
                                    tt_reader_ns(t->r, h->last_tick),
                                    &t->st.open_at_end)) < 0)
            return rc;
    }
    for (uint32_t i = 0; t->ctr != NULL && i <= t->n_top; i++)
        if ((rc = ctr_flush(t, i, t->last_ns, 1)) < 0)
            return rc;
    t->st.truncated = tt__reader_cut(t->r);
    if (t->st.truncated) {
        const tt_damage_t *d = tt_reader_damage(t->r);
        t->st.instants++;
        rc = t->sink.instant(t->sink.ctx, TT__TL_PROCESS, t->last_ns,
                             TT__TL_NOTE,
                             d && d->status && d->status != TT_ETRUNCATED
                                 ? "recording damaged" : "recording cut",
                             TT_NO_CODE, TT_NO_LINE);
        if (rc < 0)
            return rc;
    }
    return t->sink.finish(t->sink.ctx);
}

/* Contract (tt_timeline.h). */
void *tt__tl_sink_new(tt__tl_sink_t *sink, const tt__tl_sink_t *ops,
                      size_t size, FILE *out)
{
    void *ctx = tt__malloc(size);
    if (ctx == NULL)
        return NULL;
    memset(ctx, 0, size);
    memcpy(ctx, &out, sizeof out);       /* FILE *out, the first member */
    *sink = *ops;
    sink->ctx = ctx;
    return ctx;
}

/* The recorded command line, "a b c" (the caller frees it), or NULL. */
static char *command_of(const tt_reader_t *r)
{
    const tt_header_t *h = tt_reader_header(r);
    size_t len = 1;
    char *s;
    if (h == NULL || h->argc == 0)
        return NULL;
    for (uint32_t i = 0; i < h->argc; i++)
        len += strlen(h->argv[i] ? h->argv[i] : "") + 1;
    if ((s = tt__malloc(len)) == NULL)
        return NULL;
    s[0] = '\0';
    for (uint32_t i = 0, at = 0; i < h->argc; i++) {
        const char *a = h->argv[i] ? h->argv[i] : "";
        size_t n = strlen(a);
        if (i)
            s[at++] = ' ';
        memcpy(s + at, a, n + 1);
        at += (uint32_t)n;
    }
    return s;
}

/* Contract (tt.h): 0, TT_EINVAL, TT_ENOMEM, TT_EIO or TT_ECANCELED; out is
 * flushed, never closed. */
int tt_timeline_write(tt_reader_t *r, FILE *out,
                      const tt_timeline_opts_t *opts,
                      tt_timeline_stats_t *stats)
{
    tl_t t;
    tt__tl_meta_t m;
    char *cmd = NULL;
    int rc;

    if (r == NULL || out == NULL || opts == NULL)
        return TT_EINVAL;
    memset(&t, 0, sizeof t);
    t.r = r;
    t.o = opts;
    if (opts->format == TT_TIMELINE_PERFETTO)
        rc = tt__tl_perfetto(out, &t.sink);
    else if (opts->format == TT_TIMELINE_CHROME)
        rc = tt__tl_chrome(out, &t.sink);
    else
        return TT_EINVAL;
    if (rc < 0)
        return rc;
    if ((rc = objects_setup(&t)) < 0)
        goto done;
    if (opts->process_name == NULL && (cmd = command_of(r)) == NULL &&
        tt_reader_header(r) != NULL && tt_reader_header(r)->argc > 0) {
        rc = TT_ENOMEM;
        goto done;
    }
    m.r = r;
    m.process_name = opts->process_name ? opts->process_name
                                        : cmd ? cmd : "python";
    m.n_threads = tt_reader_n_threads(r);
    m.n_counters = t.ctr ? t.n_top + 1 : 0;
    m.counter_names = (const char *const *)t.ctr_names;
    if ((rc = t.sink.start(t.sink.ctx, &m)) < 0)
        goto done;
    if ((rc = tt_reader_select_thread(r, UINT32_MAX)) < 0)
        goto done;
    if ((rc = walk(&t)) < 0)
        goto done;
    rc = wind_up(&t);
done:
    if (fflush(out) != 0 && rc == 0)
        rc = TT_EIO;
    t.sink.close(t.sink.ctx);
    for (size_t i = 0; i < t.n_thr; i++)
        tt__free(t.thr[i].st);
    tt__free(t.thr);
    for (uint32_t i = 0; t.ctr_names && i <= t.n_top; i++)
        tt__free(t.ctr_names[i]);
    tt__free(t.ctr_names);
    tt__free(t.ctr);
    tt__free(t.top);
    tt__free(t.live);
    tt__free(cmd);
    if (rc == TT_ELIMIT || rc == TT_ECORRUPT)
        rc = TT_ENOMEM;
    if (rc == 0 && stats != NULL)
        *stats = t.st;
    return rc;
}
