/* tt.h - the one public header of libtt, tracetap's pure-C11 core.
 *
 * Owns the contract between capture (src/ext), the .ttrace file format
 * (docs/FORMAT.md) and everything that reads recordings. No Python.h here or
 * anywhere in libtt. libtt never prints, never aborts, and reports failure as
 * 0 or a negative TT_E* code (tt_strerror() names it).
 *
 * Threading: a tt_writer_t and its tt_tbuf_t buffers are used by one thread at
 * a time (capture holds the GIL). A tt_reader_t belongs to one thread.
 */
#ifndef TT_H
#define TT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- errors */

#define TT_ERRNO_MAP(X)                                                      \
    X(NOMEM,     -1, "out of memory")                                        \
    X(IO,        -2, "input/output error")                                   \
    X(INVAL,     -3, "invalid argument")                                     \
    X(NOTTRACE,  -4, "not a tracetap recording (bad magic)")                 \
    X(VERSION,   -5, "unsupported format version")                          \
    X(CORRUPT,   -6, "corrupt recording")                                    \
    X(CRC,       -7, "checksum mismatch")                                    \
    X(TRUNCATED, -8, "recording is truncated")                              \
    X(LIMIT,     -9, "a size limit was exceeded")                           \
    X(STATE,    -10, "operation not valid in this state")

typedef enum {
#define TT__ERR_ENUM(name, value, text) TT_E##name = value,
    TT_ERRNO_MAP(TT__ERR_ENUM)
#undef TT__ERR_ENUM
} tt_errno_t;

/* Returns a static, never-NULL description of a TT_E* code (or of 0). */
const char *tt_strerror(int err);

/* ---------------------------------------------------------------- events */

typedef enum {
    TT_EV_CALL = 1,        /* a Python frame starts or resumes */
    TT_EV_LINE = 2,        /* a new line starts executing */
    TT_EV_RETURN = 3,      /* a frame returns or yields */
    TT_EV_EXCEPTION = 4,   /* an exception is raised or passes through */
    TT_EV_OPCODE = 5,      /* one bytecode instruction (opt-in) */
    TT_EV_OBJ_CREATE = 6,  /* PyRefTracer CREATE */
    TT_EV_OBJ_DESTROY = 7, /* PyRefTracer DESTROY */
    TT_EV_DROPPED = 8,     /* `count` events of this thread were lost here */
    TT_EV__COUNT = 9
} tt_event_kind_t;

/* Returns "call", "line", ... for a kind; "?" for anything else. */
const char *tt_event_kind_name(int kind);

#define TT_NO_LINE   (-1)          /* an instruction with no line number */
#define TT_NO_OFFSET UINT32_MAX
#define TT_NO_CODE   UINT32_MAX    /* no code object, e.g. an OBJ_CREATE site
                                      outside any Python frame (added by
                                      issue 3; never a valid code id) */

/* One decoded event. Fields that do not apply to the kind are zero, except
 * line (TT_NO_LINE) and offset (TT_NO_OFFSET). */
typedef struct {
    uint8_t  kind;         /* tt_event_kind_t */
    uint8_t  opcode;       /* OPCODE: the instruction's opcode number */
    uint32_t thread;       /* thread id from tt_writer_thread (0, 1, ...) */
    uint64_t tick;         /* clock ticks since the recording's start tick */
    uint32_t code;         /* code id: CALL..OPCODE and the OBJ_CREATE site */
    int32_t  line;         /* line number, or TT_NO_LINE */
    uint32_t offset;       /* OPCODE, and OBJ_CREATE sites known by offset:
                              the instruction's byte offset in co_code */
    uint32_t exc_type;     /* EXCEPTION: string id of the type's name */
    uint32_t type;         /* OBJ_CREATE: type id */
    uint64_t addr;         /* OBJ_CREATE / OBJ_DESTROY: object address */
    uint64_t size;         /* OBJ_CREATE: tp_basicsize (a size class) */
    uint64_t count;        /* DROPPED: number of events lost */
} tt_event_t;

/* ---------------------------------------------------------------- tables */

/* One row of co_lines(): bytecode offsets [start, end) run `line`. */
typedef struct {
    uint32_t start;
    uint32_t end;
    int32_t  line;         /* TT_NO_LINE for None */
} tt_line_range_t;

/* A code object as recorded. Strings are ids into the string table. */
typedef struct {
    uint32_t filename;     /* string id */
    uint32_t qualname;     /* string id */
    int32_t  firstlineno;
    uint32_t flags;        /* TT_CODE_* */
    uint32_t parent;       /* code id of the enclosing code object (the one
                              whose co_consts holds it), or TT_NO_PARENT */
    uint32_t n_ranges;
    const tt_line_range_t *ranges;   /* co_lines(), in offset order */
} tt_code_def_t;

#define TT_NO_PARENT UINT32_MAX
#define TT_CODE_TRACED     0x1u   /* passed the filters; events may name it */
#define TT_CODE_GENERATOR  0x2u   /* generator, coroutine or async generator */
#define TT_CODE_FUNCTION   0x4u   /* a function body (CO_OPTIMIZED): not a
                                     module or class body */

/* A Python type as recorded (OBJ_CREATE names types by id). */
typedef struct {
    uint32_t name;         /* string id of the qualified name, module.Name */
    uint64_t basicsize;
    uint32_t flags;        /* TT_TYPE_* */
} tt_type_def_t;

#define TT_TYPE_GC    0x1u        /* Py_TPFLAGS_HAVE_GC */
#define TT_TYPE_HEAP  0x2u        /* Py_TPFLAGS_HEAPTYPE */

/* Recording options (header field "options"). */
#define TT_OPT_CALLS    0x01u
#define TT_OPT_LINES    0x02u
#define TT_OPT_OPCODES  0x04u
#define TT_OPT_OBJECTS  0x08u
#define TT_OPT_COUNT    0x10u
#define TT_OPT_STDLIB   0x20u
#define TT_OPT_MAIN_THREAD_ONLY 0x40u

/* What a recording says about itself, written once at the start. All
 * strings are NUL-terminated UTF-8 and are copied by the writer. */
typedef struct {
    const char *python_impl;       /* "cpython" */
    const char *python_version;    /* "3.13.15" */
    const char *python_build;      /* free text, e.g. sys.version */
    uint32_t argc;
    const char *const *argv;       /* the traced program's sys.argv */
    uint64_t start_unix_ns;        /* wall clock at start */
    uint64_t start_tick;           /* the clock's value at start */
    const char *clock_name;        /* "monotonic", "tsc", ... */
    uint64_t clock_hz;             /* ticks per second */
    uint32_t options;              /* TT_OPT_* */
    const char *options_text;      /* the options as the user gave them */
    uint32_t n_opnames;            /* opcode-name table, indexed by opcode */
    const char *const *opnames;    /* entries may be NULL or "" */
} tt_header_t;

/* ---------------------------------------------------------------- writer */

typedef struct tt_writer tt_writer_t;
typedef struct tt_tbuf tt_tbuf_t;

/* Creates `path` (truncating it) and writes the header.
 * On success *out owns the open file; on failure *out is NULL, nothing is
 * left open, and the file may exist but is not a valid recording. */
int tt_writer_open(tt_writer_t **out, const char *path, const tt_header_t *hdr);

/* Defines a string and returns its id through *id. The writer does not
 * deduplicate; callers cache ids. On failure *id is unchanged. */
int tt_writer_string(tt_writer_t *w, const char *s, size_t len, uint32_t *id);

/* Defines a code object; the writer copies `def` (ranges included) and
 * assigns ids 0, 1, 2, ... in call order. */
int tt_writer_code(tt_writer_t *w, const tt_code_def_t *def, uint32_t *id);

/* Defines a type; ids 0, 1, 2, ... in call order. */
int tt_writer_type(tt_writer_t *w, const tt_type_def_t *def, uint32_t *id);

/* Starts a thread's event stream: assigns it the next thread id and returns
 * its buffer through *out. The writer owns the buffer until tt_writer_close.
 * `ident` is threading.get_ident(); `name` may be NULL and set later. */
int tt_writer_thread(tt_writer_t *w, uint64_t ident, const char *name,
                     tt_tbuf_t **out);

/* Records (or replaces) a thread's name. */
int tt_writer_thread_name(tt_writer_t *w, uint32_t thread, const char *name);

/* Records a key/value note in the file: warnings and facts found during the
 * recording ("hook_replaced", "destroy_gap.eval_loop", ...). */
int tt_writer_note(tt_writer_t *w, const char *key, const char *value);

/* Writes every buffer's pending events as complete chunks and syncs the file
 * to the OS, so that a kill after this loses nothing recorded so far. */
int tt_writer_flush(tt_writer_t *w);

/* Flushes, writes the end-of-recording chunk, closes the file and frees
 * everything, buffers included; w is invalid afterwards whatever it returns. */
int tt_writer_close(tt_writer_t *w);

/* Counters since open. */
typedef struct {
    uint64_t events[TT_EV__COUNT];  /* appended, by kind */
    uint64_t dropped;               /* events lost (no memory, I/O error) */
    uint64_t bytes;                 /* bytes written to the file so far */
    uint64_t chunks;
    int last_error;                 /* first TT_E* met while writing, or 0 */
} tt_writer_stats_t;

void tt_writer_stats(const tt_writer_t *w, tt_writer_stats_t *out);

/* The hot path: append one event to a thread's buffer. These never fail
 * visibly; if an event cannot be stored it is counted as dropped and a
 * DROPPED event is written when storage works again. `tick` must not go
 * backwards within one thread. Defined in tt_tbuf.h.
 *
 * Ticks (added by issue 3): `tick` is the raw clock value, on the same clock
 * as tt_header_t.start_tick; the file stores, and the reader returns, ticks
 * relative to start_tick. A tick below the thread's previous tick (or below
 * start_tick) is recorded as equal to it. `code` is an id from
 * tt_writer_code or TT_NO_CODE; `type` an id from tt_writer_type; `exc_type`
 * an id from tt_writer_string. */
#include "tt_tbuf.h"
/*
 * void tt_tbuf_call(tt_tbuf_t *b, uint64_t tick, uint32_t code, int32_t line);
 * void tt_tbuf_line(tt_tbuf_t *b, uint64_t tick, uint32_t code, int32_t line);
 * void tt_tbuf_return(tt_tbuf_t *b, uint64_t tick, uint32_t code, int32_t line);
 * void tt_tbuf_exception(tt_tbuf_t *b, uint64_t tick, uint32_t code,
 *                        int32_t line, uint32_t exc_type);
 * void tt_tbuf_opcode(tt_tbuf_t *b, uint64_t tick, uint32_t code,
 *                     int32_t line, uint32_t offset, uint8_t opcode);
 * void tt_tbuf_obj_create(tt_tbuf_t *b, uint64_t tick, uint32_t type,
 *                         uint64_t addr, uint64_t size,
 *                         uint32_t code, int32_t line, uint32_t offset);
 * void tt_tbuf_obj_destroy(tt_tbuf_t *b, uint64_t tick, uint64_t addr);
 * uint32_t tt_tbuf_thread(const tt_tbuf_t *b);
 */

/* ---------------------------------------------------------------- reader */

typedef struct tt_reader tt_reader_t;

/* What was wrong with a file that was still read as far as possible. */
typedef struct {
    int status;              /* 0: clean; TT_ETRUNCATED, TT_ECRC, TT_ECORRUPT */
    uint64_t offset;         /* byte offset of the first unusable byte */
    uint64_t bytes_lost;     /* bytes from there to the end of the file */
    char reason[160];        /* a sentence a person can act on */
    int clean_end;           /* 1 if the end-of-recording chunk was seen */
} tt_damage_t;

typedef struct {
    uint64_t ident;          /* threading.get_ident() */
    const char *name;        /* "" if never named */
    uint64_t events;         /* events decoded for this thread */
    uint64_t first_tick;
    uint64_t last_tick;      /* last good timestamp */
} tt_thread_info_t;

#define TT_READ_MERGED  0x0u  /* all threads, ordered by tick (ties: thread) */
#define TT_READ_FILE    0x1u  /* chunk order as in the file */

/* Opens and validates a recording. Returns 0 and *out on success, including
 * for a damaged file with usable content (see tt_reader_damage); returns
 * TT_ENOTTRACE, TT_EVERSION, TT_EIO, ... and *out = NULL when nothing is
 * usable. The reader never trusts a length field: allocation is bounded by
 * the file's size. */
int tt_reader_open(tt_reader_t **out, const char *path, unsigned flags);

/* The same over a caller-owned buffer that must outlive the reader. */
int tt_reader_open_mem(tt_reader_t **out, const uint8_t *data, size_t len,
                       unsigned flags);

void tt_reader_close(tt_reader_t *r);

/* Restricts tt_reader_next to one thread id, or to all with UINT32_MAX, and
 * rewinds to the first event. */
int tt_reader_select_thread(tt_reader_t *r, uint32_t thread);

/* Decodes the next event into *ev. Returns 1 for an event, 0 at the end,
 * or a negative TT_E* code if an event stream is malformed (the rest of
 * that chunk is skipped, recorded in tt_reader_damage, and reading may
 * continue with the next call). */
int tt_reader_next(tt_reader_t *r, tt_event_t *ev);

/* Borrowed views; valid until tt_reader_close. */
const tt_header_t     *tt_reader_header(const tt_reader_t *r);
const tt_damage_t     *tt_reader_damage(const tt_reader_t *r);
const char            *tt_reader_string(const tt_reader_t *r, uint32_t id);
const tt_code_def_t   *tt_reader_code(const tt_reader_t *r, uint32_t id);
const tt_type_def_t   *tt_reader_type(const tt_reader_t *r, uint32_t id);
const tt_thread_info_t *tt_reader_thread(const tt_reader_t *r, uint32_t id);
uint32_t tt_reader_n_codes(const tt_reader_t *r);
uint32_t tt_reader_n_types(const tt_reader_t *r);
uint32_t tt_reader_n_threads(const tt_reader_t *r);
uint32_t tt_reader_n_notes(const tt_reader_t *r);
int tt_reader_note(const tt_reader_t *r, uint32_t i,
                   const char **key, const char **value);

/* Event counts by kind over the whole file, and the dropped total. */
void tt_reader_counts(const tt_reader_t *r, uint64_t counts[TT_EV__COUNT],
                      uint64_t *dropped);

/* Ticks to nanoseconds, using the header's clock_hz. */
uint64_t tt_reader_ns(const tt_reader_t *r, uint64_t tick);

/* Line of a bytecode offset in a code object, by its ranges; TT_NO_LINE if
 * the offset has no line or is out of range. */
int32_t tt_code_line_at(const tt_code_def_t *code, uint32_t offset);

#ifdef __cplusplus
}
#endif
#endif /* TT_H */
