/* tt_timeline.h - what the timeline driver (tt_analyze_timeline.c) tells a format
 * writer (tt_export_perfetto.c, tt_export_chrome.c): tracks, then slices,
 * instants and counter values, each thread's in time order.
 * Must not: be included outside libtt. One owner thread.
 */
#ifndef TT_TIMELINE_H
#define TT_TIMELINE_H

#include "tt_internal.h"

#define TT__TL_PID 10000u          /* the process id the tracks carry (a
                                      recording has none): thread i gets
                                      tid PID + i, so thread 0 is main */
#define TT__TL_PROCESS UINT32_MAX  /* instants on the process track */

typedef enum {                     /* what a slice or an instant is */
    TT__TL_CALL = 0,               /* an activation that is a call */
    TT__TL_RESUME = 1,             /* a generator resumption */
    TT__TL_LINE = 2,               /* a line (TT_TIMELINE_LINES) */
    TT__TL_EXCEPTION = 3,          /* an exception passing a frame */
    TT__TL_NOTE = 4,               /* lost events, the cut */
    TT__TL__KINDS = 5
} tt__tl_kind_t;

/* The category names of the kinds, indexed by tt__tl_kind_t. */
extern const char *const tt__tl_kind_names[TT__TL__KINDS];

typedef struct {
    const tt_reader_t *r;          /* names: codes, strings, threads */
    const char *process_name;
    uint32_t n_threads;
    uint32_t n_counters;           /* counter tracks, 0 .. n_counters-1 */
    const char *const *counter_names;
} tt__tl_meta_t;

/* A format writer. Every call returns 0 or a negative TT_E*; the driver
 * stops at the first failure and calls close either way. */
typedef struct {
    void *ctx;
    int (*start)(void *ctx, const tt__tl_meta_t *m);
    /* A slice begins on a thread's track: kind CALL/RESUME names the code
     * (qualname, file:firstlineno), LINE names `line` of it. */
    int (*begin)(void *ctx, uint32_t thread, uint64_t ns, int kind,
                 uint32_t code, int32_t line);
    /* The innermost open slice of the thread ends. */
    int (*end)(void *ctx, uint32_t thread, uint64_t ns);
    /* An instant on a thread's track (or TT__TL_PROCESS); `code` may be
     * TT_NO_CODE. */
    int (*instant)(void *ctx, uint32_t thread, uint64_t ns, int kind,
                   const char *name, uint32_t code, int32_t line);
    int (*counter)(void *ctx, uint32_t track, uint64_t ns, int64_t value);
    /* Writes what closes the output; 0 or TT_EIO. */
    int (*finish)(void *ctx);
    void (*close)(void *ctx);      /* frees ctx */
} tt__tl_sink_t;

/* For the writers' constructors: a zeroed context of `size` bytes whose
 * first member is the FILE * out, with *sink = *ops and sink->ctx set.
 * NULL without memory (sink unchanged). */
void *tt__tl_sink_new(tt__tl_sink_t *sink, const tt__tl_sink_t *ops,
                      size_t size, FILE *out);

/* The writers: 0 and *sink, or TT_ENOMEM. They write to out and check
 * ferror(out) in finish. */
int tt__tl_perfetto(FILE *out, tt__tl_sink_t *sink);
int tt__tl_chrome(FILE *out, tt__tl_sink_t *sink);

#endif /* TT_TIMELINE_H */
