/* tt_reader_int.h - the reader's private structures, shared by tt_reader_evdec.c,
 * tt_reader_defs.c, tt_reader_index.c, tt_reader_run.c and tt_reader.c.
 *
 * Owns no code. Everything reachable from a tt_reader is owned by it and
 * freed by tt_reader_close. The reader reads its source (a file descriptor
 * it owns, read with pread(2), or a caller's buffer) chunk by chunk; only
 * tables, the chunk index and ancillary payloads stay in memory.
 * One thread per reader.
 */
#ifndef TT_READER_INT_H
#define TT_READER_INT_H

#include "tt_internal.h"

/* Names of placeholders (ids lost with a DEFS chunk) live in a second
 * string table whose ids start here; real string ids stay below it. */
#define TT__XSTR_BASE 0xF0000000u

/* The state of decoding one EVENTS chunk; mirrors the writer's tt_tbuf. */
typedef struct {
    const uint8_t *p;             /* next event */
    const uint8_t *end;
    const uint8_t *start;         /* the payload */
    uint64_t tick;                /* relative to the header's start_tick */
    struct tt__slot mru[3];
    uint64_t last_addr;
    uint32_t last_offset;
    uint32_t last_type;
    uint32_t thread;
    uint32_t n_strings, n_codes, n_types;   /* ids usable by the chunk */
    int lax;                      /* ids may name lost definitions: accept
                                     any id (tables give placeholders) */
    int lossy;                    /* some codes are placeholders: their
                                     lines are unknown (TT_NO_LINE) */
    const tt_code_def_t *codes;
    const tt_type_def_t *types;
    uint32_t tab_codes, tab_types;          /* sizes of codes/types */
    const char *why;              /* set with an error: what was wrong */
} tt__evdec;

#define TT__CK_NEW   0            /* payload not decoded yet */
#define TT__CK_DONE  1            /* decoded once: good/err/stats known */

/* One EVENTS chunk whose frame (header CRC) was good. */
typedef struct {
    uint64_t off;                 /* file offset of the chunk header */
    uint64_t base_tick;           /* first varint of the payload, read by
                                     the open pass (a lower bound of the
                                     chunk's ticks if the payload is good) */
    uint64_t events;              /* DONE: events in the good part */
    uint64_t first_tick, last_tick;   /* DONE, if events */
    uint64_t carry_tick;          /* DONE: the thread's last tick up to and
                                     including this chunk (has_carry) */
    uint32_t len;                 /* payload bytes */
    uint32_t good;                /* DONE: payload bytes that decode */
    uint32_t thread;
    uint32_t next, prev;          /* chain of the thread, UINT32_MAX: none */
    uint32_t n_strings, n_codes, n_types;   /* ids defined before it */
    int err;                      /* DONE: 0, or what stopped decoding */
    uint32_t marks;               /* the 0x86 chunk right after it (index
                                     in anc), UINT32_MAX: none */
    uint8_t state;                /* TT__CK_* */
    uint8_t lax;                  /* after a loss of definitions */
    uint8_t has_carry;
} tt__evchunk;

/* Decoding chunk after chunk: a merge cursor, the file-order iterator and
 * the scan each own one. Results of a chunk's first decode are committed
 * to the reader (counts, thread info, damage) when it ends. */
typedef struct {
    tt__evdec dec;
    uint32_t chunk;               /* loaded chunk, UINT32_MAX: none */
    int fresh;                    /* the chunk was NEW when loaded */
    uint8_t *buf;                 /* file source: payload + CRC, owned */
    size_t cap;
    uint64_t counts[TT_EV__COUNT];    /* of the fresh chunk so far */
    uint64_t dropped, n, first, last;
    /* the chunk's 0x86 marks (tt_chunk_marks.c) */
    const uint8_t *mp, *mend;     /* marks not read yet; mp NULL: none */
    uint64_t evi;                 /* index of the next event in the chunk */
    uint64_t mark_at;             /* the next marked event, UINT64_MAX: none */
    uint64_t mnext;               /* lowest index the next mark may take */
    uint8_t mark_flag;            /* its TT_EVF_* */
} tt__run;

/* A merge cursor: one thread's events, chunk after chunk. */
typedef struct {
    uint32_t thread;
    uint32_t first;               /* first chunk of the thread */
    uint32_t next;                /* next chunk to load, UINT32_MAX: none */
    int loaded;                   /* ev is a real event; else ev.tick is a
                                     lower bound of the next chunk's ticks */
    uint64_t floor;               /* tick of the last event it gave */
    tt__run run;
    tt_event_t ev;                /* the next event, or the key */
} tt__cursor;

typedef struct {
    uint32_t first_chunk, last_chunk;   /* UINT32_MAX: no events */
} tt__tchain;

/* An ancillary chunk (type 0x80..0xFF) whose CRCs were good; its payload
 * is owned (a copy) for a file, borrowed for open_mem. */
typedef struct {
    uint8_t type;
    uint32_t len;
    const uint8_t *payload;
    uint8_t *owned;
    uint32_t n_strings, n_codes, n_types;   /* ids defined before the chunk */
    uint32_t context;             /* 0x84 chunks before it: its context */
} tt__ancchunk;

struct tt_reader {
    const uint8_t *data;          /* open_mem: the caller's bytes */
    int fd;                       /* open: owned, else -1 */
    uint64_t len;                 /* source size at open */
    unsigned flags;
    tt__arena arena;              /* strings, line tables, header arrays */
    uint8_t *wbuf;                /* open pass scratch (file source) */
    size_t wcap;
    char open_why[160];           /* why the open failed (read_head) */

    tt_header_t header;
    const char **strings;
    uint32_t n_strings;
    size_t cap_strings;
    const char **xstrings;        /* placeholder names, TT__XSTR_BASE + i */
    uint32_t n_xstrings;
    size_t cap_xstrings;
    tt_code_def_t *codes;
    uint32_t n_codes;
    size_t cap_codes;
    tt_type_def_t *types;
    uint32_t n_types;
    size_t cap_types;
    tt_thread_info_t *threads;
    tt__tchain *chains;           /* parallel to threads */
    uint32_t n_threads;
    size_t cap_threads, cap_chains;
    const char **note_keys, **note_values;
    uint32_t n_notes;
    size_t cap_note_keys, cap_note_values;
    tt_source_def_t *sources;     /* 0x81 records, in file order */
    uint32_t n_sources;
    size_t cap_sources;
    tt__evchunk *chunks;
    uint32_t n_chunks;
    size_t cap_chunks;
    uint32_t n_new;               /* chunks not decoded yet */
    tt__ancchunk *anc;            /* ancillary chunks, in file order */
    uint32_t n_anc;
    size_t cap_anc;

    /* definitions after a loss (FORMAT.md §5, the BASE record) */
    int ids_uncertain;            /* definitions may have been lost and no
                                     BASE record has placed them since */
    int lax;                      /* some events may name ids no table
                                     holds: accessors give placeholders */
    uint64_t unread_bytes;        /* bytes lost so far (bounds a BASE) */
    tt_code_def_t unk_code;       /* placeholder for such ids */
    tt_type_def_t unk_type;

    tt_damage_t damage;
    uint32_t n_problems;
    size_t reason_len;            /* of the first problem's sentence */
    uint64_t counts[TT_EV__COUNT];
    uint64_t dropped;             /* sum of DROPPED events */
    int has_end;
    int finished;                 /* the END check ran */
    uint64_t end_off;             /* where the walk stopped */

    /* iteration */
    uint32_t sel;                 /* selected thread or UINT32_MAX */
    /* context marks (0x84 chunks, tt_chunk_contexts.c), in file order */
    tt_context_t *ctxs;           /* names in arena */
    uint32_t n_ctxs, bad_ctxs;
    size_t cap_ctxs;
    uint64_t *win;                /* tt_reader_set_window: sorted [lo, hi) */
    size_t n_win;
    int windowed;                 /* next/next_batch drop events outside */
    uint32_t fchunk;              /* file order: next chunk to load */
    tt__run frun;
    tt__cursor *cursors;          /* one per thread with event chunks */
    uint32_t n_cursors;
    uint32_t *heap;               /* cursor indexes, min-heap by (tick, thread) */
    uint32_t heap_n;
    int pending_err;              /* TT_E* of a bad chunk passed, */
    uint32_t pending_n;           /* not yet returned by tt_reader_next */

    /* progress (tt_reader_set_progress) */
    tt_progress_fn progress;
    void *progress_ctx;
    uint64_t progress_done;       /* events returned since the rewind */
    uint64_t progress_total;      /* events the selection holds */
    int canceled;                 /* the callback asked to stop */

    struct tt__clockmap *clock;   /* tick conversion, built on first use
                                     (tt_chunk_clock.c), owned */
    tt_marks_info_t marks;        /* 0x86 chunks: counted at first decode */
};

/* tt_chunk_clock.c. Frees the conversion table; NULL is a no-op. */
struct tt__clockmap;
void tt__clock_free(struct tt__clockmap *m);

/* tt_reader_evdec.c. Starts decoding payload[0, len) of chunk c with the reader's
 * tables as they stood before the chunk. 0 or TT_ECORRUPT. */
int tt__evdec_start(tt__evdec *d, const tt_reader_t *r, const tt__evchunk *c,
                    const uint8_t *payload, size_t len);
/* 1 and *ev for an event, 0 at the end, TT_ECORRUPT (d->why says why; d->p
 * stays at the bad event). */
int tt__evdec_next(tt__evdec *d, tt_event_t *ev);

/* tt_reader_defs.c. Applies the records of one DEFS payload. Returns 0,
 * TT_ENOMEM, or TT_ECORRUPT with *why and *bad (offset in the payload) set;
 * records before the bad one stay applied. */
int tt__reader_defs(tt_reader_t *r, const uint8_t *p, size_t len,
                    const char **why, size_t *bad);
/* Parses the HEADER payload into r->header. 0, TT_ENOMEM or TT_ECORRUPT. */
int tt__reader_header(tt_reader_t *r, const uint8_t *p, size_t len,
                      const char **why);
/* Definitions may have been lost here (a DEFS chunk, or bytes that could
 * not be attributed): later ids are uncertain until a BASE record. */
void tt__reader_defs_lost(tt_reader_t *r);
/* After the open pass: the shared placeholders tt_reader_code/type/string
 * give for ids past the tables when r->lax. 0 or TT_ENOMEM. */
int tt__reader_placeholders(tt_reader_t *r);
/* Threads below `id` that were never defined become placeholders ("<lost>"
 * name, ident 0). 0 or TT_ENOMEM. */
int tt__reader_fill_threads(tt_reader_t *r, uint32_t id);

/* tt_reader_index.c. The open pass: walks every chunk frame, applies
 * HEADER, DEFS, END and ancillary chunks, indexes EVENTS chunks and
 * resynchronises after damage. Returns 0 when something is usable, else
 * the TT_E* that made the file unusable. */
int tt__reader_index(tt_reader_t *r);
/* Reads n bytes at off: *out points at them (into buf for a file, which
 * must hold n bytes). 0, TT_ETRUNCATED (the source is shorter now) or
 * TT_EIO. */
int tt__reader_read(tt_reader_t *r, uint64_t off, size_t n, uint8_t *buf,
                    const uint8_t **out);
/* Records a problem; the first one names the damage. */
void tt__reader_damage(tt_reader_t *r, int status, uint64_t off,
                       uint64_t lost, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
/* Once every chunk was decoded: compares END's event count with the
 * events decoded. Idempotent. */
void tt__reader_finish(tt_reader_t *r);

/* tt_reader_run.c. Loads chunk i into u (reads it, checks its CRC and base
 * tick). 0, or the TT_E* that made the chunk unusable (committed as damage
 * on its first load; call again with the next chunk). TT_ENOMEM leaves
 * the chunk NEW. */
int tt__run_load(tt_reader_t *r, tt__run *u, uint32_t i);
/* 1 and *ev, 0 at the chunk's end, or the TT_E* that ends its good part;
 * after 0 or an error the run holds no chunk. */
int tt__run_next(tt_reader_t *r, tt__run *u, tt_event_t *ev);
/* tt_chunk_contexts.c: appends one 0x84 payload to r's marks. 0 or TT_ENOMEM. */
int tt__context_add(tt_reader_t *r, const uint8_t *p, size_t len);
/* 1 if tick lies in one of r's windows (r->windowed), else 0. */
int tt__in_window(const tt_reader_t *r, uint64_t tick);
/* tt_chunk_counts.c. Calls decode(ctx, &p, end, chunk) for each record of
 * every ancillary chunk of `type`, in file order, until the chunk ends or
 * decode fails: TT_ENOMEM stops everything (returned), another error
 * ends that chunk only and counts in *bad. 0 or TT_ENOMEM. */
typedef int (*tt__anc_record_fn)(void *ctx, const uint8_t **pp,
                                 const uint8_t *end, const tt__ancchunk *a);
int tt__anc_records(const tt_reader_t *r, uint8_t type,
                    tt__anc_record_fn decode, void *ctx, uint32_t *bad);
/* tt_chunk_marks.c, the reader's side of 0x86 chunks (FORMAT.md §19).
 * tt__marks_start: chunk e was loaded into u, its payload CRC `crc`; binds
 * its marks if their CRC names that payload. tt__marks_apply: the event at
 * u->mark_at was decoded into ev: flags it (or, of the wrong kind, stops
 * the marks, counted). tt__marks_end: the chunk's events are over (a mark
 * left is counted as bad). Counts only on a fresh chunk's decode. */
void tt__marks_start(tt_reader_t *r, tt__run *u, const tt__evchunk *e,
                     uint32_t crc);
void tt__marks_apply(tt_reader_t *r, tt__run *u, tt_event_t *ev);
void tt__marks_end(tt_reader_t *r, tt__run *u);
/* Drops the loaded chunk (results of a partial fresh decode are lost). */
void tt__run_drop(tt__run *u);
void tt__run_free(tt__run *u);
/* Decodes each thread's chunks from its first until one has events, so
 * that after a TT_READ_LAZY open every thread's first_tick is exact (its
 * events and last_tick are still partial). 0 or TT_ENOMEM. */
int tt__reader_scan_heads(tt_reader_t *r);

#endif /* TT_READER_INT_H */
