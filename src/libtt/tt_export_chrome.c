/* tt_export_chrome.c - the Chrome Trace Event writer of the timeline
 * exporter (tt_timeline.h): {"traceEvents": [...]} with process_name and
 * thread_name metadata, B/E events per slice (streamed: an X event would
 * need its end first), "i" instants and "C" counters; ts in microseconds
 * with the nanoseconds as three decimals.
 * Must not: print anywhere but its FILE*. One owner thread.
 */
#include <inttypes.h>
#include <string.h>

#include "tt_timeline.h"

/* A code's "name" and "args" as JSON, escaped once: the hot path (a call
 * slice's begin) copies it. */
typedef struct {
    char *s;                      /* owned; NULL until first needed */
    size_t n;
} body_t;

typedef struct {
    FILE *out;                    /* borrowed; first (tt__tl_sink_new) */
    const tt_reader_t *r;
    const char *const *counter_names;   /* borrowed from the driver */
    uint32_t n_counters;
    int any;                      /* an event was written: next needs ',' */
    body_t *bodies;               /* owned, by code id */
    size_t n_bodies;
    char *line;                   /* owned: the event being formatted */
    size_t line_cap;
} ch_t;

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* Microseconds with the nanoseconds as three decimals. */
static char *put_ts(char *p, uint64_t ns)
{
    unsigned f = (unsigned)(ns % 1000);
    p = put_u64(p, ns / 1000);
    *p++ = '.';
    *p++ = (char)('0' + f / 100);
    *p++ = (char)('0' + f / 10 % 10);
    *p++ = (char)('0' + f % 10);
    return p;
}

/* A JSON string (quoted, escaped) of s, a file name when path; p has
 * room for 6 * len + 2. */
static char *put_json(char *p, const char *s, int path)
{
    const unsigned char *q = (const unsigned char *)s;
    size_t used;
    *p++ = '"';
    while (*q) {    /* by code point: tt__json_str's (tt__json_path's) rule */
        p += path ? tt__json_fs_seq(p, q, &used) : tt__json_seq(p, q, &used);
        q += used;
    }
    *p++ = '"';
    return p;
}

/* "name":"..","args":{"file":"..","firstlineno":N  of code (no closing
 * brace), built on first use. NULL without memory. */
static const body_t *code_body(ch_t *c, uint32_t code)
{
    const tt_code_def_t *def;
    const char *q, *f;
    body_t *b;
    char *p;

    if (code >= c->n_bodies) {
        size_t old = c->n_bodies, cap = c->n_bodies;
        void *m = c->bodies;
        if (code == TT_NO_CODE ||
            tt__grow(&m, &cap, (size_t)code + 1, sizeof *c->bodies) < 0)
            return NULL;
        c->bodies = m;
        memset(c->bodies + old, 0, (cap - old) * sizeof *c->bodies);
        c->n_bodies = cap;
    }
    b = &c->bodies[code];
    if (b->s != NULL)
        return b;
    def = tt_reader_code(c->r, code);
    q = def ? tt_reader_string(c->r, def->qualname) : NULL;
    f = def ? tt_reader_string(c->r, def->filename) : NULL;
    q = q ? q : "?";
    f = f ? f : "?";
    if ((b->s = tt__malloc(6 * (strlen(q) + strlen(f)) + 64)) == NULL)
        return NULL;
    p = put_str(b->s, "\"name\":");
    p = put_json(p, q, 0);
    p = put_str(p, ",\"args\":{\"file\":");
    p = put_json(p, f, 1);
    p = put_str(p, ",\"firstlineno\":");
    if (def && def->firstlineno < 0)
        *p++ = '-';
    p = put_u64(p, def ? (uint64_t)(def->firstlineno < 0
                                     ? -(int64_t)def->firstlineno
                                     : def->firstlineno) : 0);
    b->n = (size_t)(p - b->s);
    return b;
}

/* Room for n bytes in c->line. */
static char *line_room(ch_t *c, size_t n)
{
    void *m = c->line;
    if (n > c->line_cap && tt__grow(&m, &c->line_cap, n, 1) < 0)
        return NULL;
    c->line = m;
    return c->line;
}

/* ,\n{"ph":"X","pid":P,"tid":T,"ts":U.NNN into p (room for 96). */
static char *put_head(ch_t *c, char *p, char ph, uint32_t thread, uint64_t ns)
{
    p = put_str(p, c->any ? ",\n{\"ph\":\"" : "\n{\"ph\":\"");
    c->any = 1;
    *p++ = ph;
    p = put_str(p, "\",\"pid\":");
    p = put_u64(p, TT__TL_PID);
    if (thread != TT__TL_PROCESS) {
        p = put_str(p, ",\"tid\":");
        p = put_u64(p, (uint64_t)TT__TL_PID + thread);
    }
    p = put_str(p, ",\"ts\":");
    return put_ts(p, ns);
}

/* Opens an event: separator, then {"ph":"X","pid":P,"tid":T,"ts":U.NNN */
static void open_ev(ch_t *c, char ph, uint32_t thread, uint64_t ns)
{
    char buf[96];
    fwrite(buf, 1, (size_t)(put_head(c, buf, ph, thread, ns) - buf), c->out);
}

static void meta(ch_t *c, const char *what, uint32_t thread, const char *v)
{
    FILE *o = c->out;
    fputs(c->any ? ",\n{\"ph\":\"M\"" : "\n{\"ph\":\"M\"", o);
    c->any = 1;
    fprintf(o, ",\"pid\":%u", TT__TL_PID);
    if (thread != TT__TL_PROCESS)
        fprintf(o, ",\"tid\":%" PRIu64, (uint64_t)TT__TL_PID + thread);
    fprintf(o, ",\"name\":\"%s\",\"args\":{\"name\":", what);
    tt__json_str(o, v);
    fputs("}}", o);
}

static int ch_start(void *ctx, const tt__tl_meta_t *m)
{
    ch_t *c = ctx;
    c->r = m->r;
    c->counter_names = m->counter_names;
    c->n_counters = m->n_counters;
    fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", c->out);
    meta(c, "process_name", TT__TL_PROCESS, m->process_name);
    for (uint32_t i = 0; i < m->n_threads; i++) {
        const tt_thread_info_t *ti = tt_reader_thread(m->r, i);
        char buf[32];
        const char *name = ti && ti->name && ti->name[0] ? ti->name : NULL;
        if (name == NULL) {
            snprintf(buf, sizeof buf, "thread %u", (unsigned)i);
            name = buf;
        }
        meta(c, "thread_name", i, name);
    }
    return ferror(c->out) ? TT_EIO : 0;
}

/* ,"cat":"..","name":"..","args":{"file":"..","line":N} and the closing
 * brace; the name is `name` or the code's qualname. */
static void body(ch_t *c, int kind, const char *name, uint32_t code,
                 int32_t line)
{
    const tt_code_def_t *def = code != TT_NO_CODE ? tt_reader_code(c->r, code)
                                                  : NULL;
    const char *f = def ? tt_reader_string(c->r, def->filename) : NULL;
    FILE *o = c->out;

    if (name == NULL)
        name = def ? tt_reader_string(c->r, def->qualname) : NULL;
    fprintf(o, ",\"cat\":\"%s\",\"name\":", tt__tl_kind_names[kind]);
    tt__json_str(o, name ? name : "?");
    fputs(",\"args\":{", o);
    if (def != NULL) {
        fputs("\"file\":", o);
        tt__json_path(o, f ? f : "?");
        fprintf(o, ",\"firstlineno\":%ld", (long)def->firstlineno);
    }
    if (line != TT_NO_LINE)
        fprintf(o, "%s\"line\":%ld", def ? "," : "", (long)line);
    fputs("}}", o);
}

static int ch_begin(void *ctx, uint32_t thread, uint64_t ns, int kind,
                    uint32_t code, int32_t line)
{
    ch_t *c = ctx;
    char buf[32], *p;
    const body_t *b;

    if (kind == TT__TL_LINE) {
        snprintf(buf, sizeof buf, "line %ld", (long)line);
        open_ev(c, 'B', thread, ns);
        body(c, kind, buf, code, line);
        return ferror(c->out) ? TT_EIO : 0;
    }
    /* A call or a resumption: one formatted write. */
    if ((b = code_body(c, code)) == NULL ||
        (p = line_room(c, b->n + 160)) == NULL)
        return TT_ENOMEM;
    p = put_head(c, p, 'B', thread, ns);
    p = put_str(p, kind == TT__TL_RESUME ? ",\"cat\":\"resume\","
                                         : ",\"cat\":\"call\",");
    memcpy(p, b->s, b->n);
    p += b->n;
    if (kind == TT__TL_RESUME && line != TT_NO_LINE) {
        p = put_str(p, ",\"line\":");
        if (line < 0)
            *p++ = '-';
        p = put_u64(p, (uint64_t)(line < 0 ? -(int64_t)line : line));
    }
    p = put_str(p, "}}");
    fwrite(c->line, 1, (size_t)(p - c->line), c->out);
    return ferror(c->out) ? TT_EIO : 0;   /* a full disk stops it */
}

static int ch_end(void *ctx, uint32_t thread, uint64_t ns)
{
    ch_t *c = ctx;
    char buf[100], *p = put_head(c, buf, 'E', thread, ns);
    *p++ = '}';
    fwrite(buf, 1, (size_t)(p - buf), c->out);
    return ferror(c->out) ? TT_EIO : 0;   /* a full disk stops it */
}

static int ch_instant(void *ctx, uint32_t thread, uint64_t ns, int kind,
                      const char *name, uint32_t code, int32_t line)
{
    ch_t *c = ctx;
    open_ev(c, 'i', thread, ns);
    fputs(thread == TT__TL_PROCESS ? ",\"s\":\"p\"" : ",\"s\":\"t\"", c->out);
    body(c, kind, name, code, line);
    return ferror(c->out) ? TT_EIO : 0;   /* a full disk stops it */
}

static int ch_counter(void *ctx, uint32_t track, uint64_t ns, int64_t v)
{
    ch_t *c = ctx;
    open_ev(c, 'C', TT__TL_PROCESS, ns);
    fputs(",\"name\":", c->out);
    tt__json_str(c->out, track < c->n_counters ? c->counter_names[track]
                                               : "?");
    fprintf(c->out, ",\"args\":{\"live\":%" PRId64 "}}", v);
    return ferror(c->out) ? TT_EIO : 0;   /* a full disk stops it */
}

static int ch_finish(void *ctx)
{
    ch_t *c = ctx;
    fputs("\n]}\n", c->out);
    return ferror(c->out) ? TT_EIO : 0;
}

static void ch_close(void *ctx)
{
    ch_t *c = ctx;
    for (size_t i = 0; i < c->n_bodies; i++)
        tt__free(c->bodies[i].s);
    tt__free(c->bodies);
    tt__free(c->line);
    tt__free(c);
}

/* Contract (tt_timeline.h): 0 and *sink, or TT_ENOMEM. */
int tt__tl_chrome(FILE *out, tt__tl_sink_t *sink)
{
    static const tt__tl_sink_t ops = {NULL, ch_start, ch_begin, ch_end,
                                      ch_instant, ch_counter, ch_finish,
                                      ch_close};
    return tt__tl_sink_new(sink, &ops, sizeof(ch_t), out) ? 0 : TT_ENOMEM;
}
