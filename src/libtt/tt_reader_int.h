/* tt_reader_int.h - the reader's private structures, shared by tt_evdec.c,
 * tt_reader_defs.c, tt_reader_index.c and tt_reader.c.
 *
 * Owns no code. Everything reachable from a tt_reader is owned by it and
 * freed by tt_reader_close; pointers into r->data are borrowed from the
 * caller (open_mem) or from r->owned (open). One thread per reader.
 */
#ifndef TT_READER_INT_H
#define TT_READER_INT_H

#include "tt_internal.h"

/* The state of decoding one EVENTS chunk; mirrors the writer's tt_tbuf. */
typedef struct {
    const uint8_t *p;             /* next event */
    const uint8_t *end;
    uint64_t tick;                /* relative to the header's start_tick */
    struct tt__slot mru[3];
    uint64_t last_addr;
    uint32_t last_offset;
    uint32_t last_type;
    uint32_t thread;
    uint32_t n_strings, n_codes, n_types;   /* ids defined before the chunk */
    const tt_code_def_t *codes;
    const tt_type_def_t *types;
    const char *why;              /* set with an error: what was wrong */
} tt__evdec;

/* One EVENTS chunk, as found by the index pass. */
typedef struct {
    uint64_t off;                 /* file offset of the chunk header */
    const uint8_t *payload;
    uint32_t len;                 /* payload bytes */
    uint32_t good;                /* payload bytes that decode cleanly */
    uint32_t thread;
    uint32_t next;                /* next chunk of the thread, or UINT32_MAX */
    uint32_t n_strings, n_codes, n_types;
    int err;                      /* 0, or what stopped decoding at `good` */
} tt__evchunk;

/* A merge cursor: one thread's events, chunk after chunk. */
typedef struct {
    uint32_t thread;
    uint32_t first;               /* first chunk of the thread */
    uint32_t chunk;               /* current chunk, UINT32_MAX when done */
    int active;                   /* dec holds the current chunk */
    tt__evdec dec;
    tt_event_t ev;                /* the next event, when in the heap */
} tt__cursor;

typedef struct {
    uint32_t first_chunk, last_chunk;   /* UINT32_MAX: no events */
} tt__tchain;

/* An ancillary chunk (type 0x80..0xFF) whose CRCs were good; its payload is
 * borrowed from r->data. Kept so analyses can read the ones they know. */
typedef struct {
    uint8_t type;
    uint32_t len;
    const uint8_t *payload;
    uint32_t n_strings, n_codes, n_types;   /* ids defined before the chunk */
} tt__ancchunk;

struct tt_reader {
    const uint8_t *data;
    size_t len;
    uint8_t *owned;               /* the file's bytes, for tt_reader_open */
    unsigned flags;
    tt__arena arena;              /* strings, line tables, header arrays */

    tt_header_t header;
    const char **strings;
    uint32_t n_strings;
    size_t cap_strings;
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
    tt__evchunk *chunks;
    uint32_t n_chunks;
    size_t cap_chunks;
    tt__ancchunk *anc;            /* ancillary chunks, in file order (issue 6) */
    uint32_t n_anc;
    size_t cap_anc;

    tt_damage_t damage;
    uint32_t n_problems;
    uint64_t counts[TT_EV__COUNT];
    uint64_t dropped;

    /* iteration */
    uint32_t sel;                 /* selected thread or UINT32_MAX */
    uint32_t fchunk;              /* file order: current chunk */
    int factive;
    tt__evdec fdec;
    tt__cursor *cursors;          /* one per thread with events */
    uint32_t n_cursors;
    uint32_t *heap;               /* cursor indexes, min-heap by (tick, thread) */
    uint32_t heap_n;
    int pending_err;              /* TT_E* of malformed chunks passed, */
    uint32_t pending_n;           /* not yet returned by tt_reader_next */

    /* progress (tt_reader_set_progress) */
    tt_progress_fn progress;
    void *progress_ctx;
    uint64_t progress_done;       /* events returned since the rewind */
    uint64_t progress_total;      /* events the selection holds */
    int canceled;                 /* the callback asked to stop */

    struct tt__clockmap *clock;   /* tick conversion, built on first use
                                     (tt_clock.c), owned */
};

/* tt_clock.c. Frees the conversion table; NULL is a no-op. */
struct tt__clockmap;
void tt__clock_free(struct tt__clockmap *m);

/* tt_evdec.c. Starts decoding payload[0, len) of a chunk of `thread` with
 * the reader's tables as they stood before the chunk. 0 or TT_ECORRUPT. */
int tt__evdec_start(tt__evdec *d, const tt_reader_t *r, const tt__evchunk *c,
                    size_t len);
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

/* tt_reader_index.c. Walks and validates the whole file, filling every
 * table, the chunk index, the counts and the damage report. Returns 0 when
 * something is usable, else the TT_E* that made the file unusable. */
int tt__reader_index(tt_reader_t *r);
/* Records a problem; the first one names the damage. */
void tt__reader_damage(tt_reader_t *r, int status, uint64_t off,
                       uint64_t lost, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

#endif /* TT_READER_INT_H */
