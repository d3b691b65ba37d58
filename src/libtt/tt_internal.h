/* tt_internal.h - libtt's private declarations: allocation and I/O hooks,
 * CRC32C, the byte arena, and the writer's structure shared by tt_writer.c
 * and tt_writer_tbuf.c. Never installed, never included outside src/libtt, tests
 * and fuzz. Every non-static name declared here carries the tt__ prefix.
 * Thread assumptions are stated beside each item.
 */
#ifndef TT_INTERNAL_H
#define TT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tt.h"
#include "tt_format.h"

/* ---------------------------------------------------------- tt_base_alloc.c */

/* malloc/realloc/free that tests can make fail. tt__malloc(0) and
 * tt__realloc(p, 0) allocate one byte, so NULL always means failure. */
void *tt__malloc(size_t n);
void *tt__realloc(void *p, size_t n);
void tt__free(void *p);
/* Grows *p (an array of *cap items of `size` bytes) to hold `need` items.
 * Returns 0, or TT_ENOMEM / TT_ELIMIT with *p and *cap unchanged. */
int tt__grow(void **p, size_t *cap, size_t need, size_t size);

/* Test hooks (not thread-safe; tests only): after tt__alloc_fail_at(n) with
 * n > 0, the n-th allocation from now fails, and so does every later one if
 * `sticky`. tt__alloc_fail_at(0, 0) disarms. tt__alloc_count() counts calls
 * since the last arming. */
void tt__alloc_fail_at(long n, int sticky);
long tt__alloc_count(void);

/* ---------------------------------------------------------- tt_base_crc32c.c */

/* CRC32C (Castagnoli) of n bytes, continuing from crc (start with 0).
 * Safe from any thread; chooses SSE4.2 when the CPU has it. */
uint32_t tt__crc32c(uint32_t crc, const void *data, size_t n);
/* The portable slice-by-8 implementation alone (for tests). */
uint32_t tt__crc32c_sw(uint32_t crc, const void *data, size_t n);

/* ---------------------------------------------------------- tt_base_io.c */

/* Writes all n bytes, retrying EINTR and short writes. Returns 0 or TT_EIO
 * with errno saying why (ENOSPC, EDQUOT, EIO...). On failure some prefix
 * may have been written. */
int tt__write_all(int fd, const void *p, size_t n);
/* Test hook (tests only): the n-th write from now fails after writing half
 * its bytes; `sticky` makes every later write fail too. 0 disarms. The
 * failure's errno is EIO, or what tt__io_fail_errno chose (0: EIO). */
void tt__io_fail_at(long n, int sticky);
void tt__io_fail_errno(int err);
/* Benchmark hook (bench_codec's background-writer experiment): when set,
 * tt__write_all hands every write to it. Set it only while no writer is
 * open. */
extern int (*tt__write_hook)(int fd, const void *p, size_t n);

/* ---------------------------------------------------------- tt_base_arena.c */

/* A bump allocator whose blocks never move: pointers stay valid until
 * tt__arena_free. One owner thread. */
typedef struct tt__arena_block tt__arena_block;
typedef struct {
    tt__arena_block *head;
    size_t used;         /* bytes used in head */
    size_t size;         /* bytes available in head */
} tt__arena;

void *tt__arena_alloc(tt__arena *a, size_t n);     /* NULL: no memory */
/* Copies n bytes and a NUL; returns the copy or NULL. */
char *tt__arena_strdup(tt__arena *a, const void *s, size_t n);
void tt__arena_free(tt__arena *a);

/* ---------------------------------------------------------- the writer */

/* A growable byte buffer. */
typedef struct {
    uint8_t *p;
    size_t len;
    size_t cap;
} tt__bytes;

/* Ensures room for `more` bytes after len. 0 or TT_ENOMEM (unchanged). */
int tt__bytes_reserve(tt__bytes *b, size_t more);

struct tt_writer {
    int fd;                     /* owned */
    uint64_t off;               /* end of the last complete chunk */
    uint64_t start_tick;
    struct tt__deftab tab;      /* firstline and basicsize, owned */
    size_t cap_codes, cap_types;
    uint32_t n_strings;
    tt__bytes defs;             /* pending DEFS records after 16 bytes of
                                   chunk-header room, owned */
    tt_tbuf_t **threads;        /* owned, with their buffers */
    uint32_t n_threads;
    size_t cap_threads;
    uint64_t bytes;             /* written to the file */
    uint64_t chunks;
    uint64_t events_written;    /* in chunks that reached the file */
    int last_error;
    int busy;                   /* atomic: guarded calls under way, plus
                                   TT__W_EMERGENCY once
                                   tt_writer_flush_emergency claimed it */
    int last_errno;             /* errno of the first failed write, or 0 */
    /* tt_writer_set_emergency_extra: one more ancillary chunk for the
     * emergency flush, built by fill on the signal handler's stack */
    size_t (*em_fill)(void *ctx, uint8_t *buf, size_t cap);
    void *em_ctx;
    uint8_t em_type;
};

#define TT__W_EMERGENCY (1 << 30)

/* The guard every libtt call that changes what tt_writer_flush_emergency
 * reads (pending definitions, the thread table, a buffer's chunk, the file)
 * takes around its work: 0, or TT_EINVAL for a NULL writer, or TT_ESTATE
 * when an emergency flush has claimed the writer (the caller then changes
 * nothing). Every call, whatever it returned, is paired with
 * tt__writer_leave. Not taken by the inline appends: they only write past
 * the published `pos`, which the emergency flush never reads. */
static inline int tt__writer_enter(tt_writer_t *w)
{
    if (w == NULL)
        return TT_EINVAL;
    if (__atomic_fetch_add(&w->busy, 1, __ATOMIC_ACQUIRE) & TT__W_EMERGENCY)
        return TT_ESTATE;
    return 0;
}

static inline void tt__writer_leave(tt_writer_t *w)
{
    if (w != NULL)
        __atomic_fetch_sub(&w->busy, 1, __ATOMIC_RELEASE);
}

/* Returns `call` (an int expression), run under the writer's guard:
 * TT_ESTATE without running it after an emergency flush. For the public
 * writer calls that write or change what the emergency flush reads. */
#define TT__GUARDED(w, call)            \
    do {                                \
        int rc_ = tt__writer_enter(w);  \
        if (rc_ == 0)                   \
            rc_ = (call);               \
        tt__writer_leave(w);            \
        return rc_;                     \
    } while (0)

/* Seals buf (TT__CHUNK_HEAD bytes of room, then payload_len bytes, then
 * TT__CHUNK_TAIL bytes of room) as one chunk and writes it. On an I/O error
 * the file is cut back to the last complete chunk and TT_EIO returned. */
int tt__writer_chunk(tt_writer_t *w, uint8_t *buf, size_t payload_len,
                     uint8_t type, uint32_t thread);
/* Writes pending definitions, if any, as one DEFS chunk. 0 or TT_EIO
 * (the definitions stay pending). */
int tt__writer_flush_defs(tt_writer_t *w);
/* Remembers the first error. */
void tt__writer_error(tt_writer_t *w, int err);

/* An ancillary chunk being built (line counts, object aggregates):
 * TT__CHUNK_HEAD bytes of room, then records. Writers of such chunks open
 * one, append records to `b`, flush whenever they like and close it. */
typedef struct {
    tt_writer_t *w;             /* borrowed */
    tt__bytes b;                /* owned */
    uint8_t type;               /* the chunk type, 0x80-0xFF */
} tt__anc;

/* Writes pending definitions (records name their ids), then readies `a`.
 * 0, TT_EIO or TT_ENOMEM; on failure nothing needs closing. */
int tt__anc_open(tt__anc *a, tt_writer_t *w, uint8_t type);
/* Writes the records appended since the last flush as one chunk, if there
 * are any. 0, TT_ENOMEM or TT_EIO (the writer has recorded an I/O error). */
int tt__anc_flush(tt__anc *a);
/* Frees the buffer; unflushed records are dropped. */
void tt__anc_close(tt__anc *a);

/* tt_writer_tbuf.c: a new buffer for thread `thread`, or NULL without memory. */
tt_tbuf_t *tt__tbuf_new(tt_writer_t *w, uint32_t thread);
/* Writes the buffer's pending events (and a pending DROPPED report) as one
 * chunk. 0 or TT_EIO (the events are then counted as dropped). */
int tt__tbuf_flush(tt_tbuf_t *b);
void tt__tbuf_free(tt_tbuf_t *b);
/* Flushes and frees the buffer memory, keeping the struct (counts, id);
 * later appends are dropped. Returns the flush's result. */
int tt__tbuf_end(tt_tbuf_t *b);
/* Buffer size for new tbufs; tests shrink it to get many chunks. */
extern size_t tt__tbuf_cap;
/* Events stored in the buffer's current chunk (DROPPED ones included):
 * tt__tbuf_chunk_len, tt_tbuf.h. */
/* Writes the current chunk (and its 0x86 marks) if it holds events and
 * starts a new one. The caller holds the writer's guard. 0 or TT_EIO. */
int tt__tbuf_write(tt_tbuf_t *b);

/* tt_chunk_marks.c, the writer's side of 0x86 chunks (FORMAT.md §19).
 * tt__marks_write: right after b's EVENTS chunk was written with payload
 * CRC events_crc, writes its marks as a 0x86 chunk (none: nothing). 0 or
 * TT_EIO (the marks are lost; the events read unmarked).
 * tt__marks_payload: the first mlen varint bytes of the same payload, for
 * the emergency flush to write (mlen read before the events' pos: marks
 * are published after their events): its length (0: no marks) and
 * *payload, inside b's mark buffer. */
int tt__marks_write(tt_tbuf_t *b, uint32_t events_crc);
size_t tt__marks_payload(tt_tbuf_t *b, size_t mlen, uint32_t events_crc,
                         const uint8_t **payload);


/* tt_analyze_pair.c: the rules that pair CALLs with RETURNs (docs/calls.md),
 * shared by the call analysis (tt_analyze_calls.c) and the timeline exporters
 * (tt_analyze_timeline.c), so that both see the same activations. */

/* A code's generator rule: a CALL of a generator code at a line other than
 * its first line (or the line of offset 0) resumes it. */
typedef struct {
    int gen;                    /* the code is a generator / coroutine */
    int32_t line_a, line_b;     /* the lines a creation is reported at */
} tt__genrule_t;

/* Fills *g for def (NULL: not a generator). */
void tt__genrule(const tt_code_def_t *def, tt__genrule_t *g);

/* Whether a CALL at `line` is a resumption under g. */
static inline int tt__genrule_resumes(const tt__genrule_t *g, int32_t line)
{
    return g->gen && line != g->line_a && line != g->line_b;
}

/* Whether CALL ev (of the code g was made for) resumes: its flag in a
 * marked recording (tt_reader_marked), else the line rule. */
static inline int tt__pair_resumes(int marked, const tt__genrule_t *g,
                                   const tt_event_t *ev)
{
    return marked ? (ev->flags & TT_EVF_RESUME) != 0
                  : tt__genrule_resumes(g, ev->line);
}

/* A RETURN of `code` against a thread's shadow stack of n frames, each
 * `stride` bytes with the code id (uint32_t) as its first member: returns
 * how many frames it closes, counting from the top: 1 when the top
 * matches, k > 1 when a frame below does (the k - 1 above it lost their
 * RETURNs and are closed at the same moment), 0 when none does (a frame
 * entered before the recording started: ignore the RETURN). */
size_t tt__pair_return(const void *frames, size_t n, size_t stride,
                       uint32_t code);

/* An EXCEPTION of `code` (frames as for tt__pair_return): 1 when it ends
 * the top frame, a C function (--c-calls) that raised (c_exception: no
 * RETURN follows); 0 otherwise (a Python frame's EXCEPTION ends nothing). */
int tt__pair_cexception(const tt_reader_t *r, const void *frames, size_t n,
                        size_t stride, uint32_t code);

/* The next event of a replay in merged order: 1 and *ev, 0 at the end,
 * or TT_ENOMEM / TT_ECANCELED (stop). A malformed chunk is skipped and
 * counted in *bad_chunks. */
int tt__replay_next(tt_reader_t *r, tt_event_t *ev, uint64_t *bad_chunks);
/* The same, up to cap events at a time (tt_reader_next_batch): n > 0
 * events in evs, 0 at the end, or TT_ENOMEM / TT_ECANCELED. */
int tt__replay_batch(tt_reader_t *r, tt_event_t *evs, size_t cap,
                     uint64_t *bad_chunks);

/* Whether r's recording was cut (no end-of-recording chunk: a kill) or
 * damaged: frames open at the end are then closed at their thread's last
 * event and reports say so. */
int tt__reader_cut(const tt_reader_t *r);

/* tt_export_json.c: writes s as a JSON string (quotes, escapes; controls,
 * C1 and bidi overrides as \u; bytes that are not UTF-8 as U+FFFD).
 * tt__json_path: the same for a recorded file name, whose bytes that are
 * not UTF-8 become \udc80..\udcff, as json.dumps writes the str
 * os.fsdecode (surrogateescape) makes of them: json.loads and os.fsencode
 * give the path's bytes back, and the JSON equals json.dumps of what
 * Trace.coverage() returns. */
void tt__json_str(FILE *out, const char *s);
void tt__json_path(FILE *out, const char *s);
/* c as it goes inside a JSON string, into out (room for 6 bytes);
 * returns the bytes written. */
size_t tt__json_char(char *out, unsigned char c);
/* ------------------------------------------- tt_export_flamegraph.c */

/* tt_text.c: the text rule inside XML. Writes at most max_cp code points
 * of the NUL-terminated s as XML 1.0 character data, valid in element text
 * and in quoted attributes: <, >, &, " and ' as references; what the text
 * rule escapes (C0 and C1 controls, DEL, bidi overrides: XML 1.0 does not
 * allow C0 even as references) and U+FFFE/U+FFFF as its visible \xNN or
 * \uNNNN; a byte that is not UTF-8 as \xNN (as _text.printable writes a
 * surrogate-escaped file name). Writes nothing when out is NULL. Returns
 * the number of code points of s (each invalid byte counting as one).
 * NULL s is "". tt__xml_text_n: the same for at most the first n bytes
 * (a UTF-8 sequence that n cuts counts as invalid bytes). */
#include <stdio.h>
size_t tt__xml_text_n(FILE *out, const char *s, size_t n, size_t max_cp);
size_t tt__xml_text(FILE *out, const char *s, size_t max_cp);

/* The UTF-8 sequence at s as it goes inside a JSON string (tt__json_str's
 * rule), into out (room for 6 bytes, never more than 6 per byte of s
 * consumed); *used gets the bytes of s consumed (1-4). Returns the bytes
 * written. */
size_t tt__json_seq(char *out, const unsigned char *s, size_t *used);
/* The same with tt__json_path's rule for bytes that are not UTF-8. */
size_t tt__json_fs_seq(char *out, const unsigned char *s, size_t *used);

/* tt_base_text.c: the escaping rule's parts, for the exporters that escape in
 * their own syntax (JSON). tt__utf8_seq: the length (1-4) of the valid
 * UTF-8 sequence at s and its code point in *cp, or 0 for a byte that does
 * not start one (stray, overlong, surrogate, cut by the NUL).
 * tt__text_unsafe: 1 for a code point a terminal acts on (C0, DEL, C1,
 * bidirectional overrides and isolates). */
int tt__utf8_seq(const unsigned char *s, uint32_t *cp);
int tt__text_unsafe(uint32_t c);
/* The text rule (tt_text_write) on the first n bytes of s at most (up to
 * its NUL), for formats that split a string on a byte of their own (LCOV's
 * comma). Writes nothing else; errors show in ferror(out). */
void tt__text_write_n(FILE *out, const char *s, size_t n);

#endif /* TT_INTERNAL_H */
