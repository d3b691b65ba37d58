/* tt.h - the one public header of libtt, tracetap's pure-C11 core.
 *
 * Owns the contract between capture (src/ext), the .ttrace file format
 * (docs/FORMAT.md) and everything that reads recordings. No Python.h here or
 * anywhere in libtt. libtt never prints, never aborts, and reports failure as
 * 0 or a negative TT_E* code (tt_strerror() names it).
 *
 * Threading: a tt_writer_t and its tt_tbuf_t buffers are used by one thread at
 * a time (capture holds the GIL), except tt_writer_flush_emergency, which a
 * signal handler may call from any thread. A tt_reader_t belongs to one
 * thread.
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
    X(STATE,    -10, "operation not valid in this state")                   \
    X(CANCELED, -11, "stopped by the caller")

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

/* Event flags (tt_event_t.flags), from 0x86 chunks (FORMAT.md §19). The
 * kind stays what sys.settrace says: a resumption is a CALL, a suspension
 * a RETURN. Files without 0x86 chunks read with flags 0. */
#define TT_EVF_RESUME 0x01u   /* CALL: a suspended generator, coroutine or
                                 async generator frame resumes (next, send,
                                 throw, close, an await's wake-up) */
#define TT_EVF_YIELD  0x02u   /* RETURN: the frame is suspended (yield,
                                 yield from, await), not finished */

#define TT_NO_LINE   (-1)          /* an instruction with no line number */
#define TT_NO_OFFSET UINT32_MAX
#define TT_NO_CODE   UINT32_MAX    /* no code object, e.g. an OBJ_CREATE site
                                      outside any Python frame; never a
                                      valid code id) */

/* One decoded event. Fields that do not apply to the kind are zero, except
 * line (TT_NO_LINE) and offset (TT_NO_OFFSET). */
typedef struct {
    uint8_t  kind;         /* tt_event_kind_t */
    uint8_t  opcode;       /* OPCODE: the instruction's opcode number */
    uint8_t  flags;        /* TT_EVF_*: CALL/RETURN of a suspendable frame
                              (0x86 marks, FORMAT.md §19); 0 otherwise */
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
#define TT_CODE_CFUNCTION  0x8u   /* a C function (--c-calls): file
                                     "<built-in>", firstlineno 0, no ranges;
                                     its CALL/RETURN/EXCEPTION events are
                                     c_call/c_return/c_exception */

/* A Python type as recorded (OBJ_CREATE names types by id). */
typedef struct {
    uint32_t name;         /* string id of the qualified name, module.Name */
    uint64_t basicsize;
    uint32_t flags;        /* TT_TYPE_* */
} tt_type_def_t;

/* What identified a source file when the recording first saw code from it
 * (ancillary DEFS record 0x81, FORMAT.md §5): a reader shows the file's
 * lines only if the file on disk still matches. */
typedef struct {
    uint32_t filename;     /* string id: the path CODE records name */
    uint32_t flags;        /* TT_SOURCE_* */
    uint64_t size;         /* st_size, bytes */
    int64_t mtime_ns;      /* st_mtime, ns since the Unix epoch */
    uint32_t crc32c;       /* of the whole content (TT_SOURCE_HASHED) */
} tt_source_def_t;

#define TT_SOURCE_HASHED   0x1u   /* crc32c is set (the file was read whole:
                                     at most TT_SOURCE_MAX_HASH bytes) */
#define TT_SOURCE_MAX_HASH (16u << 20)

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
#define TT_OPT_C_CALLS  0x80u     /* C function calls recorded (--c-calls) */
#define TT_OPT_MARKS    0x100u    /* the capture marks resumptions and
                                     suspensions (0x86 chunks, FORMAT.md
                                     §19): an unflagged CALL is a first
                                     entry. Without it, nothing is known */

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

/* Creates `path` (truncating it) and writes the header. While the writer
 * is open its descriptor holds an advisory flock(LOCK_EX), the mark that
 * tt_file_being_written looks for (not taken on file systems without
 * flock; the recording works the same).
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

/* The thread will append nothing more (it has exited): writes its pending
 * events as a chunk and frees its buffer (64 KiB), so that a program that
 * starts many short-lived threads does not hold a buffer per thread until
 * close. The thread id stays valid for tt_writer_thread_name and the stats;
 * an append after this is dropped and counted. Returns the flush's error,
 * or TT_EINVAL for a buffer of another writer; ends it either way. */
int tt_writer_thread_end(tt_writer_t *w, tt_tbuf_t *b);

/* Records (or replaces) a thread's name. */
int tt_writer_thread_name(tt_writer_t *w, uint32_t thread, const char *name);

/* Records a key/value note in the file: warnings and facts found during the
 * recording ("hook_replaced", "destroy_gap.eval_loop", ...). */
int tt_writer_note(tt_writer_t *w, const char *key, const char *value);

/* Records a source file's identity (ancillary record 0x81); def->filename
 * must be a defined string id. 0, TT_EINVAL, TT_ENOMEM, TT_ESTATE (after
 * tt_writer_flush_emergency). */
int tt_writer_source(tt_writer_t *w, const tt_source_def_t *def);

/* tt_chunk_source.c: fills *out (but filename) for the file at path: size and
 * mtime from fstat, and the CRC-32C of its content when it has at most
 * TT_SOURCE_MAX_HASH bytes. Opens with O_NONBLOCK and reads only a
 * regular file, so a FIFO or a device never blocks it. Returns 0, or
 * TT_EIO (errno set; also for a file that is not regular, errno EINVAL)
 * with *out zeroed. Allocates nothing (a stack buffer). */
int tt_source_identify(const char *path, tt_source_def_t *out);
/* The CRC-32C (Castagnoli) of len bytes, continuing from crc (0 to start):
 * the hash of tt_source_def_t.crc32c. */
uint32_t tt_crc32c(uint32_t crc, const void *data, size_t len);

/* Writes every buffer's pending events as complete chunks and syncs the file
 * to the OS, so that a kill after this loses nothing recorded so far. */
int tt_writer_flush(tt_writer_t *w);

/* For a signal handler of a dying process (SIGSEGV, SIGABRT, ...):
 * writes what can be written safely, as complete chunks with their CRCs:
 * the pending definitions, then a NOTE record key=value (if both are
 * non-NULL; cut to 40 and 86 bytes), then each thread's events appended
 * so far (of the chunk being filled). Async-signal-safe: no allocation,
 * no lock, only write(2), lseek(2) and ftruncate(2); callable from any
 * thread, while an append runs on another (events not yet complete are
 * left out).
 * Returns 0; TT_ESTATE with nothing written when another libtt call on w is
 * under way (it may be the one the signal interrupted: nothing half-made
 * is written) or when an emergency flush already ran; TT_EINVAL for NULL;
 * TT_EIO when a write failed (the file is cut back to its last complete
 * chunk). Pending DROPPED reports and the END chunk are not written.
 * Afterwards the writer is finished: every other call returns TT_ESTATE
 * (appends are dropped and counted), tt_writer_close frees it without
 * writing more (and returns TT_ESTATE), so a process that survives the
 * signal does not write its events twice. The caller must keep w alive
 * (not closed, abandoned or being closed) while this runs. */
int tt_writer_flush_emergency(tt_writer_t *w, const char *key,
                              const char *value);

/* Asks tt_writer_flush_emergency to write one more ancillary chunk of
 * `type` (0x80..0xFF), after the pending definitions and before the
 * events: its payload is what fill(ctx, buf, cap) puts in a buffer of
 * `cap` (512) bytes on the handler's stack (0: none). fill runs in the
 * signal handler: it must be async-signal-safe. fill NULL clears it.
 * 0, or TT_EINVAL (NULL writer, or a type below 0x80). */
int tt_writer_set_emergency_extra(tt_writer_t *w, uint8_t type,
                                  size_t (*fill)(void *ctx, uint8_t *buf,
                                                 size_t cap),
                                  void *ctx);

/* Flushes, writes the end-of-recording chunk, closes the file and frees
 * everything, buffers included; w is invalid afterwards whatever it returns.
 * Releases the "being written" lock (tt_file_being_written). */
int tt_writer_close(tt_writer_t *w);

/* Closes the file descriptor and frees everything, buffers included,
 * without writing a byte: what a forked child does with the writer its
 * parent goes on using. The parent's "being written" lock stays (it belongs
 * to the open file the parent still holds). w is invalid afterwards; NULL
 * is a no-op. */
void tt_writer_abandon(tt_writer_t *w);

/* Counters since open. */
typedef struct {
    uint64_t events[TT_EV__COUNT];  /* appended, by kind */
    uint64_t dropped;               /* events lost (no memory, I/O error) */
    uint64_t bytes;                 /* bytes written to the file so far */
    uint64_t chunks;
    int last_error;                 /* first TT_E* met while writing, or 0 */
    int last_errno;                 /* the errno of the first failed write
                                       (ENOSPC, EDQUOT, EIO...), or 0 */
    uint64_t marks;                 /* events marked (tt_writer_mark_event) */
    uint64_t marks_lost;            /* marks not stored (no memory) */
} tt_writer_stats_t;

void tt_writer_stats(const tt_writer_t *w, tt_writer_stats_t *out);

/* The hot path: append one event to a thread's buffer. These never fail
 * visibly; if an event cannot be stored it is counted as dropped and a
 * DROPPED event is written when storage works again. `tick` must not go
 * backwards within one thread. Defined in tt_tbuf.h.
 *
 * Ticks (added by): `tick` is the raw clock value, on the same clock
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
 *
 * A resumption and a suspension (FORMAT.md §19): a CALL and a RETURN as
 * above, marked TT_EVF_RESUME / TT_EVF_YIELD through tt_writer_mark_event
 * when the event was stored (a dropped event is not marked):
 * void tt_tbuf_resume(tt_tbuf_t *b, uint64_t tick, uint32_t code, int32_t line);
 * void tt_tbuf_yield(tt_tbuf_t *b, uint64_t tick, uint32_t code, int32_t line);
 */

/* ------------------------------ resumption marks (tt_chunk_marks.c) */

#define TT_CHUNK_MARKS 0x86        /* resumptions/suspensions, FORMAT.md §19 */

/* Marks the event most recently stored in b (which must be the CALL of a
 * resumption for TT_EVF_RESUME, the RETURN of a suspension for
 * TT_EVF_YIELD) in the 0x86 chunk that follows b's EVENTS chunk. Call it
 * right after an append that stored its event (tt_tbuf_resume/yield do);
 * for the writer's hooks only, with the thread's buffer, never from a
 * signal handler. Returns 0; TT_EINVAL (bad mark, or that event is
 * already marked); TT_ESTATE (nothing stored in the chunk, an ended
 * buffer, or after an emergency flush); TT_ENOMEM (the mark is lost and
 * counted in marks_lost). The first mark of a thread allocates its mark
 * buffer; a full one writes the chunk (and its marks) at once. */
int tt_writer_mark_event(tt_tbuf_t *b, unsigned mark);


/* ---------------------------------------------------------------- reader */

typedef struct tt_reader tt_reader_t;

/* What the reader found of 0x86 chunks. */
typedef struct {
    uint32_t chunks;       /* bound to the EVENTS chunk right before them */
    uint32_t unbound;      /* not right after an EVENTS chunk of their
                              thread, or whose CRC names another payload:
                              ignored */
    uint32_t bad;          /* malformed, or marking an event of the wrong
                              kind or past the chunk: marks from there on
                              ignored */
} tt_marks_info_t;

/* Fills *out. Complete once every EVENTS chunk was decoded (after a
 * non-lazy open, tt_reader_scan or a full iteration). */
void tt_reader_marks_info(const tt_reader_t *r, tt_marks_info_t *out);

/* What was wrong with a file that was still read as far as possible.
 *
 * A reader resynchronises: a damaged chunk costs that chunk,
 * not the rest of the file (FORMAT.md §9). The first five fields describe
 * the first problem; the rest add up over all of them. Problems inside
 * EVENTS payloads (CRC, malformed streams) are found when a chunk is
 * decoded, so the report is complete after open without TT_READ_LAZY,
 * after tt_reader_scan, or after a full iteration (`complete` says so). */
typedef struct {
    int status;              /* 0: clean; TT_ETRUNCATED, TT_ECRC, TT_ECORRUPT,
                                TT_EIO (the file changed under the reader) */
    uint64_t offset;         /* byte offset of the first unusable byte */
    uint64_t bytes_lost;     /* bytes that could not be used, over all
                                problems (a cut or unreadable tail counts
                                to the end of the file) */
    char reason[160];        /* a sentence a person can act on */
    int clean_end;           /* 1 if the end-of-recording chunk was seen */
    /* appended later (resynchronising reader) */
    uint64_t chunks_lost;    /* chunks skipped whole or after a malformed
                                event or record, their frames readable */
    uint64_t regions_lost;   /* unreadable stretches skipped by searching for
                                the next good chunk (their chunks' threads
                                are unknown) */
    uint64_t bytes_unattributed;  /* bytes of those stretches */
    uint32_t threads_lost;   /* threads with lost chunks (see
                                tt_thread_info_t.chunks_lost); when
                                regions_lost > 0 other threads may have
                                lost events too ("unknown threads") */
    int defs_lost;           /* 1 if definitions were lost: some ids are
                                placeholders (tt_reader_code) */
    uint64_t end_events;     /* the END chunk's event count (0 without END) */
    uint64_t end_dropped;    /* the END chunk's dropped count */
    uint64_t events_lost;    /* end_events minus the events decoded, when
                                complete and END was seen; else 0 */
    int complete;            /* 1 once every EVENTS chunk was decoded */
} tt_damage_t;

typedef struct {
    uint64_t ident;          /* threading.get_ident(); 0 for a placeholder */
    const char *name;        /* "" if never named; "<lost>" for a thread
                                whose definition was lost */
    uint64_t events;         /* events decoded for this thread */
    uint64_t first_tick;
    uint64_t last_tick;      /* last good timestamp */
    /* appended later (resynchronising reader) */
    uint64_t chunks_lost;    /* its chunks skipped (damaged) */
    uint64_t bytes_lost;     /* payload bytes of those */
} tt_thread_info_t;

#define TT_READ_MERGED  0x0u  /* all threads, ordered by tick (ties: thread) */
#define TT_READ_FILE    0x1u  /* chunk order as in the file */
#define TT_READ_LAZY    0x2u  /* open walks chunk frames and decodes only
                                 each thread's first chunk (so threads'
                                 first_tick is exact): the first
                                 tt_reader_next comes at once, and counts,
                                 thread events/last_tick and payload damage
                                 are complete after tt_reader_scan or a
                                 full iteration */

/* Opens a recording. Returns 0 and *out on success, including for a
 * damaged file with usable content (see tt_reader_damage); returns
 * TT_ENOTTRACE, TT_EVERSION, TT_EIO, ... and *out = NULL when nothing is
 * usable. The reader keeps the file open and reads it with pread(2), chunk
 * by chunk: memory grows with the recording's tables (strings, codes,
 * types, threads, notes, ancillary chunks, about 80 bytes per EVENTS chunk)
 * and one chunk buffer per thread being merged, not with the file's size.
 * The open pass walks every chunk frame and applies HEADER, DEFS, END and
 * ancillary chunks; without TT_READ_LAZY it then decodes every event once
 * (tt_reader_scan), so counts and damage are complete on return. A file
 * cut or rewritten while open yields damage (TT_ETRUNCATED, TT_ECRC,
 * TT_EIO) and errors from tt_reader_next, never a crash. */
int tt_reader_open(tt_reader_t **out, const char *path, unsigned flags);
/* As tt_reader_open; on failure it also writes into why (cap bytes, NUL-
 * terminated; may be NULL) what was wrong, for a person: which format
 * version the file is and which this reader reads, which check of the
 * file head or HEADER chunk failed, or that the path is not a regular
 * file. why is "" when nothing more specific than the code is known. */
int tt_reader_open_why(tt_reader_t **out, const char *path, unsigned flags,
                       char *why, size_t cap);

/* The same over a caller-owned buffer that must outlive the reader. */
int tt_reader_open_mem(tt_reader_t **out, const uint8_t *data, size_t len,
                       unsigned flags);

void tt_reader_close(tt_reader_t *r);

/* Decodes every EVENTS chunk not decoded yet (the whole file after a
 * TT_READ_LAZY open), so that tt_reader_counts, tt_reader_thread and
 * tt_reader_damage are complete. Calls the progress callback every
 * TT_PROGRESS_EVERY events with (events decoded, END's count or 0). Returns
 * 0, TT_ECANCELED (the callback stopped it; what was decoded stays
 * counted, call again to finish), TT_ENOMEM or TT_EINVAL. Does not move
 * the iteration; damage is reported through tt_reader_damage only. */
int tt_reader_scan(tt_reader_t *r);

/* Restricts tt_reader_next to one thread id, or to all with UINT32_MAX, and
 * rewinds to the first event. */
int tt_reader_select_thread(tt_reader_t *r, uint32_t thread);

/* Decodes the next event into *ev. Returns 1 for an event, 0 at the end,
 * or a negative TT_E* code if a chunk is unusable: TT_ECORRUPT (malformed
 * events: the rest of that chunk is skipped), TT_ECRC (a payload CRC
 * failed: the chunk is skipped), TT_ETRUNCATED / TT_EIO (the file shrank
 * or could not be read since open), TT_ENOMEM (no buffer for the chunk:
 * skipped); each is recorded in tt_reader_damage (except TT_ENOMEM) and
 * reading may continue with the next call. After a progress callback asked
 * to stop, TT_ECANCELED on every call until tt_reader_select_thread
 * rewinds. */
int tt_reader_next(tt_reader_t *r, tt_event_t *ev);

/* The same events as tt_reader_next, in the same order, up to cap at a
 * time (at most TT_BATCH_MAX) into ev[0..cap): for analyses, which then
 * pay no call, heap step or copy per event (a run of one thread's events
 * is decoded straight into ev). Returns how many (> 0), 0 at the end, or
 * a negative TT_E* as tt_reader_next would, at the same point: events
 * before a bad chunk come first, its error with the next call. The
 * progress callback is called when a batch crosses a multiple of
 * TT_PROGRESS_EVERY, and a stop it asks for comes with the next call. The
 * two calls may be mixed. */
#define TT_BATCH_MAX 4096u
int tt_reader_next_batch(tt_reader_t *r, tt_event_t *ev, size_t cap);

/* Called by tt_reader_next every TT_PROGRESS_EVERY events it returns, with
 * the events returned since the last rewind and the number the selection
 * holds (exact when the file was scanned; otherwise END's count for all
 * threads, or 0 if unknown). A nonzero return stops the reading
 * (TT_ECANCELED): for a caller's Ctrl-C, or a progress display that was
 * closed. */
typedef int (*tt_progress_fn)(void *ctx, uint64_t done, uint64_t total);
#define TT_PROGRESS_EVERY (1u << 16)
/* Installs fn (NULL removes it); kept across rewinds. */
void tt_reader_set_progress(tt_reader_t *r, tt_progress_fn fn, void *ctx);

/* Borrowed views; valid until tt_reader_close. Ids whose definitions were
 * lost with a damaged DEFS chunk (tt_damage_t.defs_lost) give placeholders:
 * a string "<lost>", a code named "<unknown code N>" (file "<lost>", no
 * line table), a type "<unknown type N>" (basicsize 0); their names have
 * string ids of 0xF0000000 and above. After a loss in a file of an older
 * writer (no BASE records), events may name ids beyond the tables: those
 * give one shared placeholder code, type and string instead of NULL. */
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
/* The source identities of the file (0x81 records), in the order written;
 * NULL past the end. A file of an older writer has none. Borrowed. */
uint32_t tt_reader_n_sources(const tt_reader_t *r);
const tt_source_def_t *tt_reader_source(const tt_reader_t *r, uint32_t i);
int tt_reader_note(const tt_reader_t *r, uint32_t i,
                   const char **key, const char **value);

/* Event counts by kind over the whole file (complete after a scan or a
 * full iteration, as tt_reader_damage says), and the dropped total:
 * max(sum of the DROPPED events' counts, the END chunk's `dropped`), so
 * that a file whose writer lost events it could not report in the stream
 * (a full disk) is not presented as nearly complete. */
void tt_reader_counts(const tt_reader_t *r, uint64_t counts[TT_EV__COUNT],
                      uint64_t *dropped);

/* Whether a writer still has `path` open (tt_reader_inprogress.c): 1 if another
 * open file description holds the writer's advisory lock (a recording in
 * progress, in this process or another), 0 if not (finished, or its writer
 * died), or TT_EIO (errno set) if the file cannot be opened. A file system
 * without flock answers 0. Takes and drops a shared lock; never blocks. */
int tt_file_being_written(const char *path);

/* ------------------------------------------------ the clock (tt_chunk_clock.c) */

#define TT_CHUNK_CLOCK 0x82        /* clock sync points, FORMAT.md §15 */

/* Writes a sync point now, as its own 0x82 chunk: the recording clock read
 * `tick` (raw, on the header's clock) while CLOCK_MONOTONIC read `mono_ns`
 * +- `err_ns`. Capture writes one at start, about once a second and at
 * stop. Returns 0, TT_EINVAL, TT_ESTATE (after tt_writer_flush_emergency),
 * or TT_EIO (the file is cut back to its last complete chunk and the error
 * remembered, as for any chunk). */
int tt_writer_clock_sync(tt_writer_t *w, uint64_t tick, uint64_t mono_ns,
                         uint64_t err_ns);

/* Ticks to nanoseconds since the recording's start. With two or more sync
 * points, by linear interpolation between the two around the tick
 * (extrapolating the first or last segment outside them), so a clock rate
 * the capture mis-estimated does not matter; otherwise by the header's
 * clock_hz. Never decreasing in tick. 0 for a NULL reader. */
uint64_t tt_reader_ns(const tt_reader_t *r, uint64_t tick);
/* A duration in ticks (an object's lifetime) as ns, at the recording's
 * average rate: the span of its sync points, or the header's clock_hz. */
uint64_t tt_reader_span_ns(const tt_reader_t *r, uint64_t ticks);

typedef struct {
    uint64_t header_hz;      /* the rate the capture calibrated at start */
    double measured_hz;      /* ticks per second between the first and the
                                last sync point (header_hz if fewer than 2) */
    uint32_t n_sync;         /* usable sync points */
    uint32_t bad_records;    /* sync records rejected (malformed or going
                                backwards); their chunk's later ones too */
    uint64_t max_err_ns;     /* widest bracket of a sync point */
    uint64_t span_ns;        /* monotonic time from first to last point */
} tt_clock_info_t;

/* How the recording's clock was converted. 0, or TT_EINVAL, or TT_ENOMEM
 * (no table: *out then describes the header's rate alone and the
 * conversions above use it). */
int tt_reader_clock(const tt_reader_t *r, tt_clock_info_t *out);

/* Line of a bytecode offset in a code object, by its ranges; TT_NO_LINE if
 * the offset has no line or is out of range. */
int32_t tt_code_line_at(const tt_code_def_t *code, uint32_t offset);

/* 1 if a CALL event of `code` at `line` resumes a generator, coroutine or
 * async generator (TT_CODE_GENERATOR) rather than starting it, else 0 (and
 * for NULL). The rule of docs/calls.md: a generator starts at
 * co_firstlineno or the line of offset 0, and resumes at the line of the
 * yield or await it left from; a yield on its first line reads as a start.
 * The rule lives in tt_analyze_pair.c (tt__genrule), which the call analysis and
 * the timelines use too. */
int tt_code_is_resume(const tt_code_def_t *code, int32_t line);

/* 1 if r's recording marks resumptions and suspensions (header option
 * TT_OPT_MARKS, 0x86 chunks): flags are then exact, and an unflagged
 * event is not one. 0 for older recordings (and NULL). */
int tt_reader_marked(const tt_reader_t *r);
/* Whether a CALL event resumes a suspended frame: its TT_EVF_RESUME flag
 * when the recording is marked, else the line rule of tt_code_is_resume
 * (exact only for a yield off the first line). 0 for other kinds. */
int tt_event_resumes(const tt_reader_t *r, const tt_event_t *ev);
/* Whether a RETURN event suspends its frame (yield, await): its
 * TT_EVF_YIELD flag; 0 for other kinds and in unmarked recordings, which
 * cannot tell (tt_reader_marked says which). */
int tt_event_yields(const tt_reader_t *r, const tt_event_t *ev);

/* ------------------------------------------- ancillary chunks */

/* Ancillary chunks (types 0x80..0xFF, FORMAT.md §3) whose CRCs were good,
 * in file order, including types this libtt has no analysis for. The
 * payload is borrowed and valid until tt_reader_close. */
uint32_t tt_reader_n_ancillary(const tt_reader_t *r);
/* 0 and the i-th one's type, payload and length (any pointer may be NULL),
 * or TT_EINVAL for a bad index. */
int tt_reader_ancillary(const tt_reader_t *r, uint32_t i, uint8_t *type,
                        const uint8_t **payload, size_t *len);

/* ------------------------------------ contexts (tt_chunk_contexts.c) */

#define TT_CHUNK_CONTEXT 0x84      /* a context mark, FORMAT.md §17 */

/* A named phase of the recording (a test's setup, call or teardown): from
 * `tick` (relative to start_tick) until the next mark. `ident` is the
 * thread (threading.get_ident()) that set it. */
typedef struct {
    uint64_t tick;
    uint64_t ident;
    const char *name;          /* borrowed from the reader; "" for none */
} tt_context_t;

/* Writes a context mark now, as its own 0x84 chunk (pending definitions
 * first), under the writer's guard. `tick` is raw (the header's clock);
 * names longer than 4096 bytes are cut. Returns 0, TT_EINVAL, TT_ENOMEM,
 * TT_ESTATE (after an emergency flush) or TT_EIO (the file is cut back to
 * its last complete chunk and the error remembered). In a --count
 * recording the caller writes the counts of the context that ends first:
 * 0x80/0x83 chunks belong to the last mark before them in file order. */
int tt_writer_context(tt_writer_t *w, uint64_t ident, uint64_t tick,
                      const char *name);

/* The contexts of a recording: 1 + the number of marks (context 0 is the
 * implicit "" before the first mark; 0 for NULL). */
uint32_t tt_reader_n_contexts(const tt_reader_t *r);
/* 0 and context i, or TT_EINVAL. A malformed mark reads as "" starting at
 * the previous mark's tick, and marks never go back in time (a tick below
 * the previous mark's is raised to it). */
int tt_reader_context(const tt_reader_t *r, uint32_t i, tt_context_t *out);
/* Marks whose payload was malformed (counted, read as ""). */
uint32_t tt_reader_bad_contexts(const tt_reader_t *r);
/* The context of an event at `tick`: the last mark whose tick is <= it. */
uint32_t tt_reader_context_at(const tt_reader_t *r, uint64_t tick);
/* The tick spans [lo, hi) of the contexts named `name` (prefix != 0: whose
 * name starts with it), as 2*n values in *out (free with tt_spans_free), or
 * TT_EINVAL / TT_ENOMEM with *out = NULL. */
int tt_reader_context_spans(const tt_reader_t *r, const char *name,
                            int prefix, uint64_t **out, size_t *n);
void tt_spans_free(uint64_t *spans);
/* Limits tt_reader_next and tt_reader_next_batch to events whose tick lies
 * in one of n spans [spans[2i], spans[2i+1]) (n = 0: no limit), and
 * rewinds as tt_reader_select_thread does. Every analysis over the reader
 * then sees only those events. 0, TT_EINVAL or TT_ENOMEM (unchanged). */
int tt_reader_set_window(tt_reader_t *r, const uint64_t *spans, size_t n);

/* One (code, line, context): `line` of `code` ran in context `context`. */
typedef struct {
    uint32_t code;
    int32_t line;              /* >= 1 */
    uint32_t context;
} tt_line_context_t;

/* Every (code, line, context) of the recording, once each, sorted by
 * code, line, context: LINE events (context by tick) and 0x80 records
 * (context by file order). Rewinds r (all threads). 0 and *out (free with
 * tt_line_contexts_free), or TT_EINVAL / TT_ENOMEM / TT_ECANCELED with
 * *out = NULL. Malformed chunks are skipped. */
int tt_line_contexts(tt_reader_t *r, tt_line_context_t **out, size_t *n);
void tt_line_contexts_free(tt_line_context_t *v);

/* ------------------------------------------- object lifetimes */

#define TT_CHUNK_OBJAGG  0x81      /* object aggregates, FORMAT.md §14 */
#define TT_OBJ_BUCKETS   64        /* log2 lifetime buckets, in ticks:
                                      [0] = 0, [b] = [2^(b-1), 2^b) */

/* Statistics of one (site, type) pair, or of one type (code = TT_NO_CODE).
 * The site is where objects were created: a code id and line, or a code id
 * and instruction offset (--no-calls; tt_objects_analyze resolves it to a
 * line with tt_code_line_at). */
typedef struct {
    uint32_t code;         /* code id, or TT_NO_CODE (no Python frame) */
    int32_t  line;         /* TT_NO_LINE if unknown */
    uint32_t offset;       /* TT_NO_OFFSET unless the site is by offset */
    uint32_t type;         /* type id */
    uint64_t created;      /* CREATE events (exact on every interpreter) */
    uint64_t destroyed;    /* DESTROY events matched to these creations */
    uint64_t survived;     /* still alive, as far as the data shows, at stop */
    uint64_t unverified;   /* of `survived`: not proven alive at stop, so a
                              known DESTROY gap may have hidden their death */
    uint64_t died_unseen;  /* deaths proven without a DESTROY: a CREATE
                              reused the address, or the stop check found
                              the object gone */
    uint64_t lifetime[TT_OBJ_BUCKETS];  /* destroyed objects by lifetime */
    uint64_t survived_import;   /* of `survived`: created while a module was
                                   being imported (an import span, below);
                                   the analysis fills it, ROW records do not
                                   carry it */
    uint64_t unverified_import; /* of `survived_import`: not proven alive */
} tt_objstat_t;

/* tt_objagg_summary_t.flags */
#define TT_OBJAGG_ROWS     0x1u   /* the chunk's rows are the recording's
                                     object data (--objects --count: no
                                     OBJ_* events were logged) */
#define TT_OBJAGG_CHECKED  0x2u   /* survivors were checked at stop: the
                                     verdict lists are exhaustive, every
                                     other survivor is verified alive */

typedef struct {
    uint32_t flags;        /* TT_OBJAGG_* */
    uint64_t repaired;     /* unseen deaths the capture proved by a CREATE
                              at an address it held live */
    uint64_t filtered;     /* events dropped as tracetap's own noise */
} tt_objagg_summary_t;

/* Writes one or more 0x81 chunks (FORMAT.md §14): the summary, `rows`
 * (site/type aggregates; their lifetime buckets included), and the
 * addresses of survivors proven dead at stop (`dead`) or left unverified
 * (`unverified`), in any order. Pending definitions are written first, so
 * every id the rows use must already be defined. Returns 0, or TT_EINVAL
 * (a row names an undefined code or type), TT_ENOMEM or TT_EIO; on failure
 * chunks already written stay in the file and are self-consistent. The
 * arrays stay the caller's. */
int tt_writer_objagg(tt_writer_t *w, const tt_objagg_summary_t *sum,
                     const tt_objstat_t *rows, size_t n_rows,
                     const uint64_t *dead, size_t n_dead,
                     const uint64_t *unverified, size_t n_unverified);

/* A stretch of one thread's time during which a module was being
 * imported (the outermost import of a nesting). */
typedef struct {
    uint32_t thread;       /* thread id from tt_writer_thread */
    uint64_t start, end;   /* ticks since the recording's start, start <= end */
} tt_objspan_t;

/* Writes import spans as IMPORTS records of a 0x81 chunk (FORMAT.md §14).
 * 0, TT_EINVAL (end < start, NULL spans with n > 0), TT_ENOMEM or TT_EIO;
 * on failure what was written stays valid. The array stays the caller's. */
int tt_writer_objspans(tt_writer_t *w, const tt_objspan_t *spans, size_t n);

/* One step of a referrer chain (why a survivor is alive): step 0 is the
 * root, the last step the survivor itself. */
#define TT_OBJPATH_MODULE  1u      /* a module; label: its name */
#define TT_OBJPATH_CLASS   2u      /* a class; label: its qualified name */
#define TT_OBJPATH_FRAME   3u      /* a running frame; label: "func (file:line)" */
#define TT_OBJPATH_OBJECT  4u      /* any other object; label: its type name */
#define TT_OBJPATH_MAX_STEPS 64u
#define TT_OBJPATH_MAX_LABEL 255u  /* longer labels are cut by the writer */
typedef struct {
    uint32_t kind;         /* TT_OBJPATH_* */
    const char *label;     /* NUL-terminated UTF-8 */
} tt_objpath_step_t;

/* Writes a PATH record of a 0x81 chunk: the referrer chain found at stop
 * from a root to the survivor at `addr` (steps[0] the root). 0, TT_EINVAL
 * (no steps, more than TT_OBJPATH_MAX_STEPS, an unknown kind, a NULL
 * label), TT_ENOMEM or TT_EIO. The steps stay the caller's. */
int tt_writer_objpath(tt_writer_t *w, uint64_t addr,
                      const tt_objpath_step_t *steps, size_t n);

/* The object analysis: replays OBJ_CREATE/OBJ_DESTROY in merged order
 * through a live table keyed by address, then applies the 0x81 chunks. */
typedef struct tt_objects tt_objects_t;

typedef struct {
    uint64_t created, destroyed, survived, unverified, died_unseen;
    uint64_t repaired;           /* unseen deaths proven by address reuse,
                                    in the capture or in this replay */
    uint64_t unmatched_destroys; /* DESTROYs of objects born before the
                                    recording (or filtered) */
    uint64_t unlogged;           /* objects counted in 0x81 rows beside an
                                    event log: born and dead within the
                                    capture's ring (--no-calls), so never
                                    logged as OBJ_* events */
    uint64_t filtered;           /* noise the capture dropped */
    uint32_t n_sites, n_types;
    int checked;                 /* survivors were checked at stop */
    int aggregated;              /* the data came from 0x81 rows */
    int complete_deaths;         /* 1 when the capture checked the survivors
                                    at stop and every survivor is verified
                                    alive */
    int bad_chunks;              /* malformed 0x81 chunks that were ignored */
    uint64_t survived_import;    /* survivors created during an import span */
    uint64_t unverified_import;  /* of those: not proven alive */
    uint32_t n_import_spans;     /* IMPORTS spans in the file */
    uint32_t n_paths;            /* PATH records (tt_objects_path) */
} tt_objects_summary_t;

#define TT_OBJ_BY_CREATED   0    /* created desc, then survived desc */
#define TT_OBJ_BY_SURVIVED  1    /* survived desc, then created desc */

/* Analyses r's object data. Rewinds r (all threads selected) and leaves it
 * at the end. Returns 0 and *out (the caller frees it with
 * tt_objects_free), or TT_ENOMEM or TT_ECANCELED (r's progress callback
 * stopped it) with *out = NULL. Malformed event chunks
 * and 0x81 chunks are skipped (the latter counted in bad_chunks). */
int tt_objects_analyze(tt_reader_t *r, tt_objects_t **out);
const tt_objects_summary_t *tt_objects_summary(const tt_objects_t *o);
/* The i-th (site, type) in `order` (TT_OBJ_BY_*), or NULL past the end.
 * Borrowed; valid until tt_objects_free. */
const tt_objstat_t *tt_objects_site(const tt_objects_t *o, int order,
                                    uint32_t i);
/* The i-th type's totals, by created desc; code is TT_NO_CODE. */
const tt_objstat_t *tt_objects_type(const tt_objects_t *o, uint32_t i);
/* The lifetime (ticks) below which a fraction q (0..1) of the destroyed
 * objects died, as the upper bound of its log2 bucket; UINT64_MAX when
 * nothing was destroyed. */
uint64_t tt_objstat_lifetime(const tt_objstat_t *s, double q);
/* The i-th referrer chain recorded at stop (i < n_paths, in file order):
 * 0, *steps and *n (borrowed, valid until tt_objects_free), and *site, the
 * (site, type) row of the survivor it explains, or NULL when the file does
 * not show that survivor alive (its CREATE was lost, or it was proven
 * dead). TT_EINVAL for a bad index or a NULL argument. */
int tt_objects_path(const tt_objects_t *o, uint32_t i,
                    const tt_objstat_t **site,
                    const tt_objpath_step_t **steps, uint32_t *n);
void tt_objects_free(tt_objects_t *o);

/* ------------------------------- bytes and creation stacks */

#define TT_CHUNK_ALLOCS  0x85      /* allocations, FORMAT.md §18 */
#define TT_NO_STACK      UINT32_MAX
#define TT_ALLOCS_PARTIAL 1u       /* summary flag: written before stop (a
                                      periodic or emergency flush) */
#define TT_ALLOC_BUFFERS UINT32_MAX /* tt_alloc_type_t.type: blocks no
                                      object was created in */

/* What `--objects --bytes` counted: blocks requested through CPython's
 * RAW, MEM and OBJ allocator domains while the recording ran (docs/
 * objects.md says what is and is not in them). */
typedef struct {
    uint32_t flags;              /* TT_ALLOCS_PARTIAL or 0 */
    uint32_t depth;              /* --stack-depth: frames kept per stack */
    uint64_t allocs, alloc_bytes;   /* blocks made (a realloc counts one,
                                       of its new size) */
    uint64_t frees, freed_bytes;    /* of those, freed (or reallocated) */
    uint64_t live_bytes, live_blocks;   /* still held at stop */
    uint64_t peak_bytes;         /* most bytes held at once */
    uint64_t peak_tick;          /* when (ticks since the start) */
    uint64_t untracked;          /* blocks made with no Python frame to
                                    charge (counted at stack TT_NO_STACK) */
    uint64_t lost;               /* blocks not tracked: no memory */
} tt_alloc_summary_t;

/* One interned stack: its innermost frame and the stack it was called
 * from (TT_NO_STACK: the outermost recorded frame). Ids are the order of
 * the STACK records; a parent always has a smaller id. */
typedef struct {
    uint32_t parent;
    uint32_t code;               /* code id, or TT_NO_CODE */
    int32_t line;                /* TT_NO_LINE if unknown */
} tt_alloc_frame_t;

/* Bytes charged to one creation stack. */
typedef struct {
    uint32_t stack;              /* TT_NO_STACK: no Python frame */
    uint64_t allocs, alloc_bytes;
    uint64_t frees, freed_bytes;
    uint64_t live_bytes, live_blocks;   /* held at stop */
    uint64_t peak_bytes;         /* held at the moment of the peak */
} tt_alloc_site_t;

/* Bytes charged to one type: the blocks objects of that type were
 * created in (the object's own memory, GC header and pre-header
 * included), or TT_ALLOC_BUFFERS for every other block (a list's items,
 * a dict's keys, a bytearray's data, interpreter memory). */
typedef struct {
    uint32_t type;               /* type id, or TT_ALLOC_BUFFERS */
    uint64_t allocs, alloc_bytes;
    uint64_t frees, freed_bytes;
    uint64_t live_bytes, live_blocks;
    uint64_t peak_bytes;
} tt_alloc_type_t;

/* Live bytes at a moment (ticks since the start). */
typedef struct {
    uint64_t tick;
    uint64_t live_bytes;
} tt_alloc_sample_t;

/* Writes a 0x85 chunk (or several past 256 KiB). Stacks must name codes
 * already defined and parents before themselves; sites name stacks below
 * n_stacks. 0; TT_EINVAL (nothing written); TT_ENOMEM or TT_EIO (part may
 * be written; readers keep what they got). Nothing is retained. */
int tt_writer_allocs(tt_writer_t *w, const tt_alloc_summary_t *sum,
                     const tt_alloc_frame_t *stacks, size_t n_stacks,
                     const tt_alloc_site_t *sites, size_t n_sites,
                     const tt_alloc_sample_t *samples, size_t n_samples);

/* A snapshot of the byte counts (FORMAT.md §18), as a recording writes
 * it at each periodic flush and at stop. `stacks` are the stacks new since
 * the last snapshot, numbered from `first_stack` (the count written
 * before); `sites` and `types` are complete as of now; `samples` are new
 * since the last partial snapshot when sum->flags has TT_ALLOCS_PARTIAL,
 * else all of them. */
typedef struct {
    const tt_alloc_summary_t *sum;
    const tt_alloc_frame_t *stacks;
    size_t n_stacks;
    uint32_t first_stack;
    const tt_alloc_site_t *sites;
    size_t n_sites;
    const tt_alloc_type_t *types;  /* type ids already defined */
    size_t n_types;
    const tt_alloc_sample_t *samples;
    size_t n_samples;
} tt_alloc_snapshot_t;

/* Writes one snapshot as 0x85 chunks. Checks as tt_writer_allocs, and a
 * type must be defined or TT_ALLOC_BUFFERS. 0; TT_EINVAL (nothing
 * written); TT_ENOMEM or TT_EIO (part may be written). Nothing is
 * retained. */
int tt_writer_allocs_snapshot(tt_writer_t *w, const tt_alloc_snapshot_t *s);

/* Encodes a lone partial SUMMARY record (flags forced to
 * TT_ALLOCS_PARTIAL) as the payload of a 0x85 chunk into buf: its length,
 * or 0 if cap is too small. No allocation: async-signal-safe (for the
 * emergency flush). */
size_t tt_allocs_encode_summary(const tt_alloc_summary_t *sum, uint8_t *buf,
                                size_t cap);

typedef struct tt_allocs tt_allocs_t;
/* Reads every 0x85 chunk of r. 0 and *out (free with tt_allocs_free;
 * independent of r afterwards), or TT_EINVAL / TT_ENOMEM with *out NULL.
 * A malformed chunk keeps the records before the bad one and is counted
 * (tt_allocs_bad_chunks); a file without the chunk gives an empty view
 * whose summary is NULL. */
int tt_allocs_load(tt_reader_t *r, tt_allocs_t **out);
const tt_alloc_summary_t *tt_allocs_summary(const tt_allocs_t *a);
uint32_t tt_allocs_bad_chunks(const tt_allocs_t *a);
/* The i-th site by live bytes at stop, then bytes allocated (descending);
 * NULL past the end. Borrowed until tt_allocs_free. */
const tt_alloc_site_t *tt_allocs_site(const tt_allocs_t *a, size_t i);
/* A site's creation stack, innermost frame first: fills up to max frames
 * of out and returns the stack's full depth (0 for TT_NO_STACK). */
size_t tt_allocs_stack(const tt_allocs_t *a, uint32_t stack,
                       tt_alloc_frame_t *out, size_t max);
/* Live bytes over time, in tick order; *n gets the count. Borrowed. */
const tt_alloc_sample_t *tt_allocs_samples(const tt_allocs_t *a, size_t *n);
/* The i-th type group by live bytes, then bytes allocated (descending);
 * NULL past the end (and for files written before types were counted).
 * Borrowed until tt_allocs_free. */
const tt_alloc_type_t *tt_allocs_type(const tt_allocs_t *a, size_t i);
void tt_allocs_free(tt_allocs_t *a);

/* ------------------------------------- line counts and coverage */

#include <stdio.h>

#define TT_CHUNK_LINE_COUNTS 0x80  /* per-code line counts, FORMAT.md §13 */
#define TT_CODE_FUNCTION   0x4u   /* a function body (CO_OPTIMIZED): not a
                                     module or class body; coverage lists it
                                     as a function */

/* One code object's counts as capture holds them: a flat array indexed by
 * line - base_line. Input of tt_writer_line_counts. */
typedef struct {
    uint32_t code;             /* code id, defined with tt_writer_code */
    uint64_t calls;            /* times the code was entered (CALL events,
                                  generator resumptions included) */
    int32_t base_line;         /* the line of counts[0]; >= 0 */
    uint32_t n_slots;
    const uint64_t *counts;    /* counts[i]: times line base_line+i ran */
} tt_count_table_t;

/* Writes the tables as 0x80 chunks (zero slots are left out; a table with
 * no calls and no counts writes nothing). Pending definitions are written
 * first. Returns 0, TT_EINVAL (an undefined code id, lines outside
 * 0..INT32_MAX, NULL counts) or TT_ELIMIT with nothing written, or
 * TT_ENOMEM / TT_EIO; chunks written before a failure stay in the file and
 * are valid. The tables stay the caller's. */
int tt_writer_line_counts(tt_writer_t *w, const tt_count_table_t *tabs,
                          size_t n);

/* One decoded 0x80 record. A code may have several records (in one file
 * or across chunks); their counts add up. */
typedef struct {
    uint32_t code;             /* a code id defined before the chunk */
    uint64_t calls;
    uint32_t n;                /* lines that ran */
    const int32_t *lines;      /* ascending, each >= 0 */
    const uint64_t *counts;    /* parallel to lines, each >= 1 */
    uint32_t context;          /* the context in force (0x84 chunks before
                                  the record's chunk; tt_reader_context) */
} tt_code_counts_t;

typedef struct tt_line_counts tt_line_counts_t;

/* Decodes every 0x80 chunk of r. Returns 0 and *out (freed with
 * tt_line_counts_free; independent of r afterwards), or TT_EINVAL /
 * TT_ENOMEM with *out = NULL. A malformed chunk keeps the records before
 * the bad one and is counted by tt_line_counts_bad_chunks. */
int tt_line_counts_read(const tt_reader_t *r, tt_line_counts_t **out);
uint32_t tt_line_counts_n(const tt_line_counts_t *lc);
/* The i-th record in file order (borrowed), or NULL past the end. */
const tt_code_counts_t *tt_line_counts_get(const tt_line_counts_t *lc,
                                           uint32_t i);
uint32_t tt_line_counts_bad_chunks(const tt_line_counts_t *lc);
void tt_line_counts_free(tt_line_counts_t *lc);

#define TT_CHUNK_ARC_COUNTS 0x83  /* per-code arc counts, FORMAT.md §16 */

typedef struct tt_cov_arc tt_cov_arc_t;

/* One code object's arcs as `run --count --branch` counts them (input of
 * tt_writer_arc_counts, output of tt_arc_counts_get). */
typedef struct {
    uint32_t code;             /* a code id defined before the chunk */
    uint32_t n;
    const tt_cov_arc_t *arcs;  /* (from, to, count); count 0 is skipped
                                  when writing and never read back */
} tt_code_arcs_t;

/* Writes the tables as 0x83 chunks. Pending definitions are written
 * first. Returns 0, TT_EINVAL (an undefined code id, NULL arcs) or
 * TT_ELIMIT with nothing written, or TT_ENOMEM / TT_EIO; chunks written
 * before a failure stay in the file and are valid. The tables stay the
 * caller's. */
int tt_writer_arc_counts(tt_writer_t *w, const tt_code_arcs_t *tabs,
                         size_t n);

typedef struct tt_arc_counts tt_arc_counts_t;
/* Decodes every 0x83 chunk of r. Returns 0 and *out (freed with
 * tt_arc_counts_free; independent of r), or TT_EINVAL / TT_ENOMEM with
 * *out = NULL. A malformed chunk keeps the records before the bad one and
 * is counted by tt_arc_counts_bad_chunks. */
int tt_arc_counts_read(const tt_reader_t *r, tt_arc_counts_t **out);
uint32_t tt_arc_counts_n(const tt_arc_counts_t *ac);
/* The i-th record in file order (borrowed), or NULL past the end. A code
 * may have several records; their counts add up. */
const tt_code_arcs_t *tt_arc_counts_get(const tt_arc_counts_t *ac,
                                        uint32_t i);
uint32_t tt_arc_counts_bad_chunks(const tt_arc_counts_t *ac);
void tt_arc_counts_free(tt_arc_counts_t *ac);

/* Coverage: per source file, the executable lines (the union of co_lines()
 * over the file's recorded code objects, nested ones included) and how
 * often each ran (LINE events of a full recording, or 0x80 chunks of a
 * --count recording), summed over any number of recordings. Pseudo files
 * ("<string>", "<frozen ...>") and lines below 1 are left out. */
typedef struct tt_coverage tt_coverage_t;

typedef struct {
    uint32_t files;
    uint64_t executable;       /* executable lines */
    uint64_t covered;          /* of those, lines that ran */
    uint64_t functions;        /* function code objects (TT_CODE_FUNCTION) */
    uint64_t functions_hit;    /* of those, entered at least once */
    uint64_t branches;         /* exits of branch lines (views only) */
    uint64_t branches_hit;     /* of those, taken at least once */
    uint64_t partial;          /* exits never taken from lines that ran */
} tt_cov_summary_t;

typedef struct {
    const char *name;          /* qualname */
    int32_t line;              /* co_firstlineno */
    uint64_t calls;            /* CALL events, generator resumptions too */
} tt_cov_func_t;

/* An arc: control went from line `from` to line `to` within one frame,
 * `count` times. -firstlineno of the code stands for its entry (as
 * `from`) and its exit (as `to`), as coverage.py writes arcs. */
struct tt_cov_arc {
    int32_t from, to;
    uint64_t count;
};

/* One exit of a branch line in a statement view: `line` can go to `to`
 * (negative: out of the code, shown "exit"); `taken` times it did.
 * TT_BRANCH_IGNORED (`# pragma: no branch`): the exit counts as taken and
 * is never reported missing, as coverage.py counts it; LCOV leaves it
 * out unless it was taken. */
#define TT_BRANCH_IGNORED 0x1u
typedef struct {
    int32_t line, to;
    uint64_t taken;
    uint32_t flags;            /* TT_BRANCH_* */
} tt_cov_branch_t;

typedef struct {
    const char *path;          /* absolute */
    uint32_t n_lines;
    const int32_t *lines;      /* executable lines (or the statements of a
                                  view, tt_coverage_set_view), ascending */
    const uint64_t *hits;      /* parallel to lines; 0: never ran */
    uint32_t n_funcs;
    const tt_cov_func_t *funcs;  /* by line, then name */
    tt_cov_summary_t summary;  /* files = 1 */
    /* What the recordings hold, whatever the view: CPython's lines (the
     * union of co_lines()) and their hits, and with tt_coverage_want_arcs
     * the executed arcs, by (from, to). */
    uint32_t n_raw;
    const int32_t *raw_lines;
    const uint64_t *raw_hits;
    uint32_t n_arcs;
    const tt_cov_arc_t *arcs;
    /* A view's branch exits, by (line, to); none without a view. */
    uint32_t n_branches;
    const tt_cov_branch_t *branches;
} tt_cov_file_t;

/* An empty coverage table: 0 and *out, or TT_EINVAL / TT_ENOMEM. */
int tt_coverage_new(tt_coverage_t **out);
/* Adds one recording: rewinds r (all threads) and reads it to the end.
 * Malformed event chunks and 0x80 chunks are skipped (counted in
 * tt_coverage_skipped). Returns 0, or TT_EINVAL / TT_ENOMEM /
 * TT_ECANCELED (r's progress callback stopped it), after which cov may
 * hold part of the recording (free it). Call tt_coverage_finish
 * before reading results. */
int tt_coverage_add(tt_coverage_t *cov, tt_reader_t *r);
/* Sorts and merges what was added; the accessors show the state as of the
 * last finish. 0 or TT_ENOMEM (the previous results stay). */
int tt_coverage_finish(tt_coverage_t *cov);
/* Files by path (strcmp order); borrowed until the next tt_coverage_add,
 * tt_coverage_finish or tt_coverage_free. */
uint32_t tt_coverage_n_files(const tt_coverage_t *cov);
const tt_cov_file_t *tt_coverage_file(const tt_coverage_t *cov, uint32_t i);
void tt_coverage_totals(const tt_coverage_t *cov, tt_cov_summary_t *out);
/* Malformed chunks skipped by tt_coverage_add, over all recordings. */
uint64_t tt_coverage_skipped(const tt_coverage_t *cov);
void tt_coverage_free(tt_coverage_t *cov);

/* Makes the following tt_coverage_add calls also collect the arcs of full
 * recordings: per thread, the line-to-line transitions within each frame
 * (a CALL at co_firstlineno enters from -firstlineno, a resumption from
 * the line it resumes at; a RETURN exits to -firstlineno). 0 or
 * TT_EINVAL. */
int tt_coverage_want_arcs(tt_coverage_t *cov);
/* Adds a file that no recording names (a source never imported): it is
 * listed with no lines until a view gives it statements. Call before
 * tt_coverage_finish. 0, TT_EINVAL or TT_ENOMEM (cov unchanged). */
int tt_coverage_add_source(tt_coverage_t *cov, const char *path);

/* A statement view of one file, made by the caller from the file's raw
 * lines and arcs (the Python side counts statements and branches as
 * coverage.py does). `branch`: the report shows branch columns. */
typedef struct {
    uint32_t n_lines;
    const int32_t *lines;      /* ascending */
    const uint64_t *hits;
    uint32_t n_branches;
    const tt_cov_branch_t *branches;   /* by (line, to) */
} tt_cov_view_t;

/* Replaces file i's lines, hits and summary with the view's (copied); the
 * raw lines and arcs stay. Valid until the next tt_coverage_finish, which
 * drops views. 0, or TT_EINVAL (i out of range, lines not ascending,
 * branches not sorted) / TT_ENOMEM, with the file unchanged. */
int tt_coverage_set_view(tt_coverage_t *cov, uint32_t i,
                         const tt_cov_view_t *v);
/* Sets whether the exporters show branch columns (BRDA, branch-rate...). */
void tt_coverage_set_branch(tt_coverage_t *cov, int branch);
int tt_coverage_branch(const tt_coverage_t *cov);
/* Keeps the files i with keep[i] != 0 (n = tt_coverage_n_files), in
 * order; the others leave the report and the totals until the next
 * tt_coverage_finish. 0 or TT_EINVAL. */
int tt_coverage_retain(tt_coverage_t *cov, const uint8_t *keep, uint32_t n);
/* The cover percentage of a summary, as coverage.py computes it: (lines
 * that ran + branch exits taken) / (lines + branch exits); 100 when there
 * is nothing to cover. */
double tt_coverage_percent(const tt_cov_summary_t *s);
/* The index of `line` in the ascending lines[0..n), or n if absent. */
uint32_t tt_coverage_line_index(const int32_t *lines, uint32_t n,
                                int32_t line);

/* Exporters. Each writes the finished coverage to `out` and returns 0, or
 * TT_EINVAL (NULL arguments) / TT_EIO (a write failed; `out` then holds a
 * prefix of the report). They never print anywhere else. */
typedef struct {
    int show_missing;          /* text: add the missed line ranges */
    const char *root;          /* text: show paths under this directory
                                  relative to it; cobertura: the source
                                  root when every file is under it; NULL:
                                  absolute paths / the files' common dir */
    const char *test_name;     /* lcov: the TN: value; NULL: empty */
    const char *version;       /* cobertura: the version attribute */
    uint64_t timestamp_ms;     /* cobertura: the timestamp attribute */
} tt_cov_opts_t;

/* A table: file, lines, ran, missed, cover %, and with show_missing the
 * missed line ranges; then a TOTAL row. With tt_coverage_branch, Branch
 * and BrPart columns come before Cover, and the missed ranges include the
 * branch exits never taken from lines that ran ("17->12", "4->exit"). */
int tt_coverage_write_text(const tt_coverage_t *cov, FILE *out,
                           const tt_cov_opts_t *opts);
/* {"files": {path: {"executable": [..], "counts": {"line": hits},
 * "functions": [..], "summary": {..}}}, "totals": {..}} */
int tt_coverage_write_json(const tt_coverage_t *cov, FILE *out);
/* An LCOV tracefile: TN, then per file SF, FN/FNDA/FNF/FNH, DA, LF/LH,
 * end_of_record. */
int tt_coverage_write_lcov(const tt_coverage_t *cov, FILE *out,
                           const tt_cov_opts_t *opts);
/* Cobertura XML as coverage.py writes it (coverage-04.dtd). */
int tt_coverage_write_cobertura(const tt_coverage_t *cov, FILE *out,
                                const tt_cov_opts_t *opts);
/* One file in the layout of stdlib trace's .cover files: "%5d: " for lines
 * that ran, ">>>>>> " for executable lines that did not (unless the line
 * has "#pragma NO COVER"), 7 spaces otherwise, then the source line with
 * tabs expanded to 8 columns. `src` is the file's source. */
int tt_coverage_write_annotate(const tt_cov_file_t *f, FILE *src, FILE *out);
/* Writes the missed line ranges of f ("12-15, 40": a range runs over
 * consecutive executable lines) to out, and f's branch exits never taken
 * from lines that ran ("17->12", "4->exit"), in line order as coverage.py
 * writes them. 0 or TT_EIO. */
int tt_coverage_write_missing(const tt_cov_file_t *f, FILE *out);

/* tt_base_text.c: a recorded string (a path, a name) as a text report shows it,
 * under the rule of every text output (tracetap/_text.py): C0 and C1
 * controls, DEL and bytes that are not UTF-8 become \xNN, bidirectional
 * overrides \uNNNN; all else is copied. tt_text_write writes s so, then
 * spaces up to `width` columns; 0, TT_EINVAL (NULL), or TT_EIO. Allocates
 * nothing. tt_text_width is the columns it takes (a code point each; 0
 * for NULL). */
int tt_text_write(FILE *out, const char *s, size_t width);
size_t tt_text_width(const char *s);


/* ------------------------------------------ call analysis */

/* tt_analyze_calls.c: where the time goes. One pass over CALL/RETURN (LINE,
 * EXCEPTION and OBJ_* events are skipped) in merged order keeps a shadow
 * stack per thread and a call tree (one node per distinct call path and
 * thread); per-function and caller/callee statistics are derived from the
 * tree at the end, so memory is bounded by the number of call paths, not
 * by the recording. Rules (docs/calls.md): a call is primitive when its
 * code is not already on the thread's stack (cProfile); cumtime counts
 * primitive activations only; a CALL of a generator code
 * (TT_CODE_GENERATOR) at a line other than its first line (or the line of
 * its offset 0) is a resumption, not a call; frames still open at a
 * DROPPED event or at the end are closed there and counted. Times are ns
 * through tt_reader_ns. OBJ_CREATE events are charged to the node of
 * their creation site (tt_callnode_t.objects), for flame graphs weighted
 * by object creations. */
typedef struct tt_calls tt_calls_t;

#define TT_CALLS_ALL_THREADS UINT32_MAX
#define TT_CALLS_NO_NODE     UINT32_MAX

/* One node of the call tree: a code reached through one path of calls in
 * one thread. Activations are calls and generator resumptions alike. */
typedef struct {
    uint32_t parent;         /* node index, or TT_CALLS_NO_NODE for a root
                                (a frame with no traced frame below it) */
    uint32_t code;           /* code id */
    uint32_t thread;
    uint32_t flags;          /* TT_CALLNODE_* */
    uint64_t calls;          /* activations that were calls (creations) */
    uint64_t resumes;        /* generator resumptions */
    uint64_t tottime_ns;     /* exclusive: minus the time in child nodes */
    uint64_t cumtime_ns;     /* inclusive, summed over its activations */
    uint64_t min_ns, max_ns; /* inclusive time of one activation */
    uint64_t objects;        /* OBJ_CREATE events whose creation site was
                                this node (the innermost frame of the
                                shadow stack at the creation; docs/
                                flamegraph.md). A site whose code is not
                                the top of the stack (--no-calls, a lost
                                CALL) gets a child node of the top with no
                                activations, which the function and edge
                                rows leave out */
    uint64_t bytes;          /* --objects --bytes: bytes allocated at this
                                node's creation stacks (the 0x85 chunk's
                                sites, each followed from its outermost
                                recorded frame under the first thread) */
} tt_callnode_t;

#define TT_CALLNODE_PRIMITIVE 0x1u  /* code not among its ancestors */
#define TT_CALLNODE_EDGE_PRIM 0x2u  /* (parent code, code) not among the
                                       ancestors' (parent, node) pairs */
#define TT_CALLNODE_CLOSED    0x4u  /* some activation was closed without
                                       its RETURN (drop, end, cut file) */

/* Per function (code), in one thread or all (thread =
 * TT_CALLS_ALL_THREADS): cProfile's numbers plus resumptions. */
typedef struct {
    uint32_t code;
    uint32_t thread;
    uint64_t calls;          /* calls (creations for generators) */
    uint64_t prim_calls;     /* of those, primitive */
    uint64_t resumes;        /* generator resumptions */
    uint64_t prim_resumes;   /* of those, primitive */
    uint64_t tottime_ns;     /* exclusive time */
    uint64_t cumtime_ns;     /* inclusive, primitive activations only */
    uint64_t min_ns, max_ns; /* inclusive time of one activation; min is
                                UINT64_MAX when there was none */
} tt_callstat_t;

/* Caller -> callee, in one thread or all. caller is TT_NO_CODE for calls
 * from untraced code (the roots). Times are the callee's while called
 * from this caller; cumtime counts activations where the pair was not
 * already on the stack (cProfile's rule for its callers table). */
typedef struct {
    uint32_t caller, callee;
    uint32_t thread;
    uint64_t calls, prim_calls, resumes, prim_resumes;
    uint64_t tottime_ns, cumtime_ns;
} tt_calledge_t;

typedef struct {
    uint64_t traced_ns;      /* time inside traced frames: the sum of the
                                roots' cumtime (= the sum of all tottimes) */
    uint64_t first_ns, last_ns;  /* first and last event of the thread */
    uint64_t activations;    /* calls + resumptions */
    uint64_t unmatched_returns;  /* RETURNs of frames entered before the
                                    recording (or lost to a drop): ignored */
    uint64_t mismatched;     /* RETURNs of a frame below the top: the
                                frames above were closed there */
    uint64_t closed_at_drop; /* frames closed at a DROPPED event */
    uint64_t open_at_end;    /* frames still open at the thread's last
                                event, closed there */
    uint64_t dropped;        /* events lost (DROPPED counts) */
    uint64_t objects;        /* OBJ_CREATE events of the thread */
    uint64_t objects_no_frame;  /* of those, made outside any Python frame
                                   (site TT_NO_CODE): in no node */
} tt_calls_thread_t;

typedef struct {
    uint64_t events;         /* events read */
    uint64_t activations;
    uint64_t unmatched_returns, mismatched, closed_at_drop, open_at_end;
    uint64_t dropped;
    uint64_t traced_ns;      /* over all threads */
    uint32_t n_threads;      /* threads in the recording */
    uint32_t n_nodes, n_functions, n_edges;  /* rows, all-thread ones
                                                included */
    int truncated;           /* the file was cut (kill) or damaged: open
                                frames were closed at the last event */
    int bad_chunks;          /* malformed event streams skipped */
    int has_calls;           /* the recording has CALL events (not
                                --count / --no-calls) */
    uint64_t objects;        /* OBJ_CREATE events, all threads */
} tt_calls_summary_t;

/* Analyses r's calls. Rewinds r (all threads) and leaves it at the end.
 * Returns 0 and *out (free it with tt_calls_free; independent of r except
 * that ids refer to r's tables), or TT_EINVAL, TT_ENOMEM or TT_ECANCELED
 * (r's progress callback stopped it) with *out = NULL. Malformed event
 * chunks are skipped and counted. */
int tt_calls_analyze(tt_reader_t *r, tt_calls_t **out);
const tt_calls_summary_t *tt_calls_summary(const tt_calls_t *c);
/* Per-thread totals; NULL for a thread id out of range. */
const tt_calls_thread_t *tt_calls_thread(const tt_calls_t *c, uint32_t thread);
/* Node i (0 .. n_nodes-1); a parent's index is below its children's.
 * Borrowed until tt_calls_free; NULL past the end. */
const tt_callnode_t *tt_calls_node(const tt_calls_t *c, uint32_t i);
/* Function rows, by (thread, code), the all-thread rows
 * (TT_CALLS_ALL_THREADS) last; NULL past the end. */
const tt_callstat_t *tt_calls_function(const tt_calls_t *c, uint32_t i);
/* Edge rows, by (thread, callee, caller), all-thread rows last. */
const tt_calledge_t *tt_calls_edge(const tt_calls_t *c, uint32_t i);
void tt_calls_free(tt_calls_t *c);

/* ------------------------------------ per-line time */

/* tt_analyze_lines.c: line_profiler's numbers for every line of every traced
 * function. One pass over CALL/LINE/RETURN/DROPPED in merged order keeps
 * a shadow stack per thread and cuts each frame into segments: from its
 * CALL to its first LINE (the entry row, line TT_NO_LINE), and from each
 * LINE to the frame's next LINE or its RETURN. A segment's time includes
 * the traced callees that ran in it (line_profiler's rule); own time
 * excludes them (time in untraced code stays own). Generators: a
 * resumption (the rule of tt_calls_analyze) continues the yield's line
 * without a hit; suspended time is nobody's. Frames still open at a
 * DROPPED event, at a RETURN of a frame below them, or at the end close
 * there and are counted. Memory: the distinct (code, line, thread) rows
 * and the deepest stack. Rules and identities: docs/lines.md. */
typedef struct tt_lines tt_lines_t;

#define TT_LINES_ALL_THREADS UINT32_MAX

/* One (code, line) in one thread or all (thread = TT_LINES_ALL_THREADS).
 * line TT_NO_LINE is the entry row: the time from a CALL to the frame's
 * first LINE; its hits are the calls (resumptions excluded). */
typedef struct {
    uint32_t code;
    int32_t line;
    uint32_t thread;
    uint32_t pad_;
    uint64_t hits;           /* LINE events (entry row: calls) */
    uint64_t time_ns;        /* with callees, summed over all segments */
    uint64_t own_ns;         /* without the traced callees' time */
} tt_linestat_t;

typedef struct {
    uint64_t traced_ns;      /* time inside traced frames (the outermost
                                frames' durations) */
    uint64_t first_ns, last_ns;  /* the thread's first and last event */
    uint64_t lines;          /* LINE events */
    uint64_t calls, resumes; /* CALLs: new frames and resumptions */
    uint64_t adopted;        /* frames first seen at a LINE (entered
                                before the recording, or CALL lost) */
    uint64_t unmatched_returns;  /* RETURNs of no open frame: ignored */
    uint64_t mismatched;     /* frames closed without their RETURN when a
                                frame below them returned or ran a line */
    uint64_t closed_at_drop; /* frames closed at a DROPPED event */
    uint64_t open_at_end;    /* frames closed at the thread's last event */
    uint64_t dropped;        /* events lost (DROPPED counts) */
} tt_lines_thread_t;

typedef struct {
    uint64_t events;         /* events read */
    uint64_t lines, calls, resumes, adopted;
    uint64_t unmatched_returns, mismatched, closed_at_drop, open_at_end;
    uint64_t dropped;
    uint64_t traced_ns;      /* over all threads */
    uint32_t n_threads;      /* threads in the recording */
    uint32_t n_rows;         /* rows, all-thread ones included */
    int truncated;           /* cut (kill) or damaged: open frames were
                                closed at their thread's last event */
    int bad_chunks;          /* malformed event streams skipped */
    int has_calls, has_lines;  /* the recording has CALL / LINE events */
} tt_lines_summary_t;

/* Analyses r's lines. Rewinds r (all threads) and leaves it at the end.
 * Returns 0 and *out (free it with tt_lines_free; ids refer to r's
 * tables), or TT_EINVAL, TT_ENOMEM or TT_ECANCELED (r's progress callback
 * stopped it) with *out = NULL. Malformed chunks are skipped, counted. */
int tt_lines_analyze(tt_reader_t *r, tt_lines_t **out);
const tt_lines_summary_t *tt_lines_summary(const tt_lines_t *L);
/* Per-thread totals; NULL for a thread id out of range. */
const tt_lines_thread_t *tt_lines_thread(const tt_lines_t *L, uint32_t thread);
/* Row i (0 .. n_rows-1), by (thread, code, line), the all-thread rows
 * last. Borrowed until tt_lines_free; NULL past the end. */
const tt_linestat_t *tt_lines_row(const tt_lines_t *L, uint32_t i);
void tt_lines_free(tt_lines_t *L);

/* ------------------------------------------ timelines */

/* tt_analyze_timeline.c: a recording as a timeline for trace viewers, streamed:
 * one pass over the events in merged order, memory bounded by the stack
 * depths, the threads and the interned names (plus, for object counters,
 * the objects alive). One process track named after the recorded command,
 * one track per thread named as the program named it; a slice per
 * activation (a call, or a generator resumption: calls are paired with
 * returns by the call analysis's rules, docs/calls.md), nested as the
 * calls were; exceptions and lost events as instants; with
 * TT_TIMELINE_LINES, a nested slice per line; for a recording with object
 * events, counter tracks of live objects (all, and the top types by
 * creations). Slices still open at a thread's last event are closed there;
 * a cut or damaged recording gets a "recording cut" instant at its last
 * event. Times are ns since the recording's start (tt_reader_ns). */
#define TT_TIMELINE_PERFETTO 1   /* Perfetto's protobuf trace (Trace of
                                    TracePackets with TrackEvents) */
#define TT_TIMELINE_CHROME   2   /* Chrome Trace Event JSON (B/E events) */

#define TT_TIMELINE_LINES    0x1u  /* line events as nested slices */

typedef struct {
    int format;                  /* TT_TIMELINE_PERFETTO / _CHROME */
    unsigned flags;              /* TT_TIMELINE_* */
    uint32_t top_types;          /* object counter tracks for this many
                                    types (by creations); the all-objects
                                    track is always there */
    uint64_t counter_period_ns;  /* a counter is written at most once per
                                    period (and at the end); 0: 1 ms */
    const char *process_name;    /* NULL: the recorded argv */
} tt_timeline_opts_t;

typedef struct {
    uint64_t events;             /* events read */
    uint64_t slices;             /* slices begun (every one is ended) */
    uint64_t instants;
    uint64_t counter_values;
    uint64_t open_at_end;        /* slices closed at a thread's last event */
    uint64_t bad_chunks;         /* malformed event streams skipped */
    int truncated;               /* the recording was cut or damaged */
} tt_timeline_stats_t;

/* Writes r's recording to out in opts->format. Rewinds r (all threads) and
 * leaves it at its end; r's progress callback is called as for any read.
 * Returns 0 (and *stats if not NULL), TT_EINVAL (NULL arguments, unknown
 * format), TT_ENOMEM, TT_EIO (a write to out failed: out holds a prefix)
 * or TT_ECANCELED (the progress callback stopped it: out holds a prefix).
 * out stays the caller's (not closed; flushed). */
int tt_timeline_write(tt_reader_t *r, FILE *out,
                      const tt_timeline_opts_t *opts,
                      tt_timeline_stats_t *stats);

/* ------------------------------- interactive flame graph */

/* tt_export_flamegraph.c: a self-contained SVG (inline script and style,
 * no network) of a call tree, one frame per node whose inclusive weight
 * reaches min_share of the total; narrower nodes are not drawn with their
 * subtrees, and are counted (docs/flamegraph.md). A frame's width is its
 * inclusive weight: its self weight (tottime, activations or objects
 * created there) plus its children's. Under the root ("all threads", or
 * the selected thread) comes one frame per thread when all threads are
 * shown. Hover, click-to-zoom, Reset Zoom and Search work in a browser;
 * every recorded string is escaped (tt__xml_text). */
#define TT_FLAME_TIME    0         /* exclusive time, ns */
#define TT_FLAME_CALLS   1         /* activations (calls + resumptions) */
#define TT_FLAME_OBJECTS 2         /* object creations (tt_callnode_t.objects) */
#define TT_FLAME_BYTES   3         /* bytes allocated (tt_callnode_t.bytes) */

typedef struct {
    int weight;                /* TT_FLAME_* */
    int icicle;                /* 1: root at the top (top-down) */
    uint32_t thread;           /* a thread id, or TT_CALLS_ALL_THREADS */
    double min_share;          /* threshold as a fraction of the total:
                                  0 = default (0.0005, 0.6 px of the
                                  default width), negative = draw every
                                  node with a nonzero weight */
    uint32_t width;            /* px; below 200 = default 1200 */
    const char *title;         /* NULL: the recorded command (argv) */
    uint32_t max_frames;       /* 0: 20000. More frames than this: the
                                  threshold doubles until they fit (stats
                                  says the share used) */
} tt_flame_opts_t;

typedef struct {
    uint64_t total;            /* the root's weight */
    uint32_t frames;           /* frames drawn, synthetic ones included */
    uint32_t omitted;          /* nonzero-weight nodes (and thread frames)
                                  below the threshold, not drawn; their
                                  descendants are not counted */
    uint64_t omitted_weight;   /* their summed inclusive weight */
    uint32_t max_depth;        /* of the frames drawn; the root is 0 */
    double min_share;          /* the threshold used (see max_frames) */
} tt_flame_stats_t;

/* Writes the SVG of c (ids resolved through r, the reader c was made
 * from, still open) to out. opts NULL: defaults (time, flame, all
 * threads). Returns 0 and *stats (if stats is not NULL), TT_EINVAL (NULL
 * c, r or out; an unknown weight; a thread out of range) or TT_ENOMEM
 * with nothing written, or TT_EIO (a write failed: out holds a prefix).
 * The memory used is bounded by the tree's node count, the output by
 * max_frames. */
int tt_flame_write_svg(const tt_calls_t *c, const tt_reader_t *r, FILE *out,
                       const tt_flame_opts_t *opts, tt_flame_stats_t *stats);

#ifdef __cplusplus
}
#endif
#endif /* TT_H */
