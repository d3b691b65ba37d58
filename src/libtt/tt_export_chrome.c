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

typedef struct {
    FILE *out;                    /* borrowed */
    const tt_reader_t *r;
    const char *const *counter_names;   /* borrowed from the driver */
    uint32_t n_counters;
    int any;                      /* an event was written: next needs ',' */
} ch_t;

/* Opens an event: separator, then {"ph":"X","pid":P,"tid":T,"ts":U.NNN */
static void open_ev(ch_t *c, char ph, uint32_t thread, uint64_t ns)
{
    FILE *o = c->out;
    fputs(c->any ? ",\n{\"ph\":\"" : "\n{\"ph\":\"", o);
    c->any = 1;
    fputc(ph, o);
    fprintf(o, "\",\"pid\":%u", TT__TL_PID);
    if (thread != TT__TL_PROCESS)
        fprintf(o, ",\"tid\":%" PRIu64, (uint64_t)TT__TL_PID + thread);
    fprintf(o, ",\"ts\":%" PRIu64 ".%03u", ns / 1000, (unsigned)(ns % 1000));
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
        tt__json_str(o, f ? f : "?");
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
    char buf[32];
    open_ev(c, 'B', thread, ns);
    if (kind == TT__TL_LINE) {
        snprintf(buf, sizeof buf, "line %ld", (long)line);
        body(c, kind, buf, code, line);
    } else {
        body(c, kind, NULL, code, line);
    }
    return ferror(c->out) ? TT_EIO : 0;   /* a full disk stops it */
}

static int ch_end(void *ctx, uint32_t thread, uint64_t ns)
{
    ch_t *c = ctx;
    open_ev(c, 'E', thread, ns);
    fputc('}', c->out);
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
    tt__free(ctx);
}

/* Contract (tt_timeline.h): 0 and *sink, or TT_ENOMEM. */
int tt__tl_chrome(FILE *out, tt__tl_sink_t *sink)
{
    ch_t *c = tt__malloc(sizeof *c);
    if (c == NULL)
        return TT_ENOMEM;
    memset(c, 0, sizeof *c);
    c->out = out;
    sink->ctx = c;
    sink->start = ch_start;
    sink->begin = ch_begin;
    sink->end = ch_end;
    sink->instant = ch_instant;
    sink->counter = ch_counter;
    sink->finish = ch_finish;
    sink->close = ch_close;
    return 0;
}
