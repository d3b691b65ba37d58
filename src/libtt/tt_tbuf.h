/* tt_tbuf.h - the per-thread event buffer and its inline append functions.
 *
 * Owns: struct tt_tbuf and the hot-path encoders tt_tbuf_*(), which turn one
 * event into 2-60 bytes of the EVENTS chunk encoding (docs/FORMAT.md §6).
 * Must not: allocate, call into the OS or fail visibly. Only a full buffer
 * leaves the inline path, through the NOINLINE tt__tbuf_make_room().
 * Threads: a buffer is used by one thread at a time (capture holds the GIL).
 * Include tt.h, never this file directly.
 */
#ifndef TT_TBUF_H
#define TT_TBUF_H

#ifndef TT_H
#error "include tt.h, not tt_tbuf.h"
#endif

#include "tt_config.h"

/* ---- the event tag byte (docs/FORMAT.md §6.2) ---------------------------
 * 1ddddddd  LINE, same code as the previous event, line delta ddddddd-32
 * 0kkksslm  kind kkk+1 (CALL..DROPPED); for kinds that carry a code:
 *           ss code selector (0 same, 1/2 recent code #1/#2, 3 explicit),
 *           lm line mode (0 same, 1 +1, 2 explicit zigzag delta, 3 invalid)
 */
#define TT__TAG_SHORT        0x80u
#define TT__SHORT_BIAS       32     /* short line deltas cover [-32, 95] */
#define TT__SEL_EXPLICIT     3u
#define TT__LM_SAME          0u
#define TT__LM_NEXT          1u
#define TT__LM_EXPLICIT      2u
#define TT__CF_SAME_TYPE     0x01u  /* OBJ_CREATE flag byte */
#define TT__CF_BASICSIZE     0x02u
#define TT__CF_NO_OFFSET     0x04u
#define TT__CF_ADDR16        0x08u
#define TT__DF_ADDR16        0x01u  /* OBJ_DESTROY tag low bit */
#define TT__EV_MAX           64     /* no encoded event is longer */
#define TT__CHUNK_HEAD       16     /* chunk header bytes before a payload */
#define TT__CHUNK_TAIL       4      /* CRC32C after a payload */

/* A recent (code, line) pair; slot 0 is the thread's current code. */
struct tt__slot {
    uint32_t code;
    int32_t line;
};

/* Tables the encoder consults, owned and grown by the writer. */
struct tt__deftab {
    int32_t *firstline;     /* by code id */
    uint32_t n_codes;
    uint64_t *basicsize;    /* by type id */
    uint32_t n_types;
};

struct tt_tbuf {
    /* hot: every append */
    uint8_t *pos;              /* next free byte of the chunk payload */
    uint8_t *limit;            /* pos <= limit: TT__EV_MAX bytes fit */
    uint64_t tick;             /* previous tick (raw clock), never decreases */
    struct tt__slot mru[3];    /* most recently used codes, slot 0 current */
    uint64_t counts[TT_EV__COUNT];  /* appended events, by kind */
    /* warm: opcode and object events */
    uint64_t last_addr;
    uint32_t last_offset;
    uint32_t last_type;
    const struct tt__deftab *defs;  /* borrowed from the writer */
    /* cold: the slow path only (tt_writer_tbuf.c) */
    uint8_t *buf;              /* owned; TT__CHUNK_HEAD + payload + CRC */
    uint8_t *start;            /* after the chunk's prologue: the chunk
                                  holds events when pos > start */
    size_t cap;
    uint64_t chunk_base;       /* sum(counts) when the chunk was started */
    uint64_t dropped_pending;  /* lost, not yet reported by a DROPPED event */
    uint64_t dropped_in_chunk; /* carried by a DROPPED event in this chunk */
    uint64_t dropped_total;
    tt_writer_t *w;            /* borrowed: the owner */
    uint32_t thread;
    /* 0x86 marks of the current chunk (tt_chunk_marks.c) */
    uint8_t *mbuf;             /* owned, NULL until the first mark:
                                  chunk head, u32 CRC, varints, CRC */
    size_t mlen;               /* varint bytes after the u32 */
    size_t mcap;               /* varint bytes that fit */
    uint64_t mnext;            /* lowest index the next mark may take */
    uint64_t marks, marks_lost;
};

/* Seals and writes the full chunk, starts a new one and reports earlier
 * losses with a DROPPED event. Returns 1 if an event now fits, 0 if the
 * event must be dropped (it has been counted). Defined in tt_writer_tbuf.c. */
TT_NOINLINE int tt__tbuf_make_room(tt_tbuf_t *b, uint64_t tick);
/* Marks the event just stored (contract in tt.h, tt_chunk_marks.c). */
int tt_writer_mark_event(tt_tbuf_t *b, unsigned mark);

TT_INLINE uint8_t *tt__put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Zigzag of a two's-complement 64-bit value given as unsigned. */
TT_INLINE uint64_t tt__zz(uint64_t v)
{
    return (v << 1) ^ (0 - (v >> 63));
}

TT_INLINE int32_t tt__tbuf_firstline(const tt_tbuf_t *b, uint32_t code)
{
    const struct tt__deftab *t = b->defs;
    return code < t->n_codes ? t->firstline[code] : 0;
}

/* Starts an event: clamps the tick, makes room, writes the tick delta after
 * a tag byte left for the caller at *t. Returns 0 if the event is dropped. */
TT_INLINE int tt__tbuf_begin(tt_tbuf_t *b, uint64_t *tick, uint8_t **t,
                             uint8_t **p)
{
    if (TT_UNLIKELY(*tick < b->tick))
        *tick = b->tick;
    if (TT_UNLIKELY(b->pos > b->limit) && !tt__tbuf_make_room(b, *tick))
        return 0;
    *t = b->pos;
    *p = tt__put_varint(*t + 1, *tick - b->tick);
    b->tick = *tick;
    return 1;
}

/* Encodes the code selector and line; returns the tag's low four bits. */
TT_INLINE unsigned tt__tbuf_site(tt_tbuf_t *b, uint8_t **pp, uint32_t code,
                                 int32_t line, int is_call)
{
    uint8_t *p = *pp;
    unsigned sel;
    int32_t base;
    int64_t d;
    struct tt__slot s;

    if (TT_LIKELY(code == b->mru[0].code)) {
        sel = 0;
        base = is_call ? tt__tbuf_firstline(b, code) : b->mru[0].line;
    } else if (code == b->mru[1].code) {
        s = b->mru[1];
        b->mru[1] = b->mru[0];
        b->mru[0] = s;
        sel = 1;
        base = is_call ? tt__tbuf_firstline(b, code) : s.line;
    } else if (code == b->mru[2].code) {
        s = b->mru[2];
        b->mru[2] = b->mru[1];
        b->mru[1] = b->mru[0];
        b->mru[0] = s;
        sel = 2;
        base = is_call ? tt__tbuf_firstline(b, code) : s.line;
    } else {
        b->mru[2] = b->mru[1];
        b->mru[1] = b->mru[0];
        b->mru[0].code = code;
        sel = TT__SEL_EXPLICIT;
        base = tt__tbuf_firstline(b, code);
        p = tt__put_varint(p, (uint32_t)(code + 1u));
    }
    d = (int64_t)line - base;
    b->mru[0].line = line;
    if (d == 0) {
        *pp = p;
        return sel << 2 | TT__LM_SAME;
    }
    if (d == 1) {
        *pp = p;
        return sel << 2 | TT__LM_NEXT;
    }
    *pp = tt__put_varint(p, tt__zz((uint64_t)d));
    return sel << 2 | TT__LM_EXPLICIT;
}

/* CALL, LINE (long form), RETURN and EXCEPTION share this shape. */
TT_INLINE uint8_t *tt__tbuf_coded(tt_tbuf_t *b, unsigned kind, uint64_t tick,
                                  uint32_t code, int32_t line)
{
    uint8_t *p, *t;
    if (TT_UNLIKELY(!tt__tbuf_begin(b, &tick, &t, &p)))
        return NULL;
    *t = (uint8_t)((kind - 1) << 4 |
                   tt__tbuf_site(b, &p, code, line, kind == TT_EV_CALL));
    b->counts[kind]++;
    return p;
}

TT_INLINE void tt_tbuf_call(tt_tbuf_t *b, uint64_t tick, uint32_t code,
                            int32_t line)
{
#ifndef TT_DO_NOTHING
    uint8_t *p = tt__tbuf_coded(b, TT_EV_CALL, tick, code, line);
    if (TT_LIKELY(p != NULL))
        b->pos = p;
#else
    (void)b; (void)tick; (void)code; (void)line;
#endif
}

TT_INLINE void tt_tbuf_line(tt_tbuf_t *b, uint64_t tick, uint32_t code,
                            int32_t line)
{
#ifndef TT_DO_NOTHING
    /* begin() may start a new chunk, which resets the code state: decide
     * the form only after it. */
    uint8_t *p, *t;
    uint64_t d;
    if (TT_UNLIKELY(!tt__tbuf_begin(b, &tick, &t, &p)))
        return;
    if (TT_LIKELY(code == b->mru[0].code)) {
        /* The short form: one tag byte holds kind and line delta. */
        d = (uint64_t)((int64_t)line - b->mru[0].line + TT__SHORT_BIAS);
        if (TT_LIKELY(d < 128)) {
            *t = (uint8_t)(TT__TAG_SHORT | d);
            b->mru[0].line = line;
            b->counts[TT_EV_LINE]++;
            b->pos = p;
            return;
        }
    }
    *t = (uint8_t)((TT_EV_LINE - 1) << 4 | tt__tbuf_site(b, &p, code, line, 0));
    b->counts[TT_EV_LINE]++;
    b->pos = p;
#else
    (void)b; (void)tick; (void)code; (void)line;
#endif
}

TT_INLINE void tt_tbuf_return(tt_tbuf_t *b, uint64_t tick, uint32_t code,
                              int32_t line)
{
#ifndef TT_DO_NOTHING
    uint8_t *p = tt__tbuf_coded(b, TT_EV_RETURN, tick, code, line);
    if (TT_LIKELY(p != NULL))
        b->pos = p;
#else
    (void)b; (void)tick; (void)code; (void)line;
#endif
}

TT_INLINE void tt_tbuf_exception(tt_tbuf_t *b, uint64_t tick, uint32_t code,
                                 int32_t line, uint32_t exc_type)
{
#ifndef TT_DO_NOTHING
    uint8_t *p = tt__tbuf_coded(b, TT_EV_EXCEPTION, tick, code, line);
    if (TT_LIKELY(p != NULL))
        b->pos = tt__put_varint(p, exc_type);
#else
    (void)b; (void)tick; (void)code; (void)line; (void)exc_type;
#endif
}

TT_INLINE void tt_tbuf_opcode(tt_tbuf_t *b, uint64_t tick, uint32_t code,
                              int32_t line, uint32_t offset, uint8_t opcode)
{
#ifndef TT_DO_NOTHING
    uint8_t *p, *t;
    if (TT_UNLIKELY(!tt__tbuf_begin(b, &tick, &t, &p)))
        return;
    *t = (uint8_t)((TT_EV_OPCODE - 1) << 4 | tt__tbuf_site(b, &p, code, line, 0));
    *p++ = opcode;
    p = tt__put_varint(p, tt__zz((uint64_t)((int64_t)offset -
                                            (int64_t)b->last_offset - 2)));
    b->last_offset = offset;
    b->counts[TT_EV_OPCODE]++;
    b->pos = p;
#else
    (void)b; (void)tick; (void)code; (void)line; (void)offset; (void)opcode;
#endif
}

/* Arithmetic shift right by 4 of a two's-complement value held unsigned. */
TT_INLINE uint64_t tt__sar4(uint64_t v)
{
    return (v >> 4) | ((0 - (v >> 63)) << 60);
}

TT_INLINE void tt_tbuf_obj_create(tt_tbuf_t *b, uint64_t tick, uint32_t type,
                                  uint64_t addr, uint64_t size, uint32_t code,
                                  int32_t line, uint32_t offset)
{
#ifndef TT_DO_NOTHING
    uint8_t *p, *f, flags = 0;
    uint64_t da;
    const struct tt__deftab *defs = b->defs;
    uint8_t *t;
    if (TT_UNLIKELY(!tt__tbuf_begin(b, &tick, &t, &p)))
        return;
    *t = (uint8_t)((TT_EV_OBJ_CREATE - 1) << 4 |
                   tt__tbuf_site(b, &p, code, line, 0));
    f = p++;
    if (type == b->last_type) {
        flags |= TT__CF_SAME_TYPE;
    } else {
        p = tt__put_varint(p, type);
        b->last_type = type;
    }
    if (type < defs->n_types && defs->basicsize[type] == size)
        flags |= TT__CF_BASICSIZE;
    else
        p = tt__put_varint(p, size);
    if (offset == TT_NO_OFFSET) {
        flags |= TT__CF_NO_OFFSET;
    } else {
        p = tt__put_varint(p, tt__zz((uint64_t)((int64_t)offset -
                                                (int64_t)b->last_offset - 2)));
        b->last_offset = offset;
    }
    da = addr - b->last_addr;
    b->last_addr = addr;
    if ((da & 15) == 0) {
        flags |= TT__CF_ADDR16;
        da = tt__sar4(da);
    }
    p = tt__put_varint(p, tt__zz(da));
    *f = flags;
    b->counts[TT_EV_OBJ_CREATE]++;
    b->pos = p;
#else
    (void)b; (void)tick; (void)type; (void)addr; (void)size; (void)code;
    (void)line; (void)offset;
#endif
}

TT_INLINE void tt_tbuf_obj_destroy(tt_tbuf_t *b, uint64_t tick, uint64_t addr)
{
#ifndef TT_DO_NOTHING
    uint8_t *p, *t;
    uint64_t da;
    unsigned tag = (TT_EV_OBJ_DESTROY - 1) << 4;
    if (TT_UNLIKELY(!tt__tbuf_begin(b, &tick, &t, &p)))
        return;
    da = addr - b->last_addr;
    b->last_addr = addr;
    if ((da & 15) == 0) {
        tag |= TT__DF_ADDR16;
        da = tt__sar4(da);
    }
    *t = (uint8_t)tag;
    b->pos = tt__put_varint(p, tt__zz(da));
    b->counts[TT_EV_OBJ_DESTROY]++;
#else
    (void)b; (void)tick; (void)addr;
#endif
}

/* The 0x86 mark list's layout (tt_chunk_marks.c): after the chunk head,
 * the bound chunk's u32 payload CRC, then one varint per mark. */
#define TT__MK_CRC           4u
#define TT__MK_VARINT_MAX    10u    /* one mark: a varint of at most 64 bits */

/* Events in the current chunk (the next event's index there). */
TT_INLINE uint64_t tt__tbuf_chunk_len(const tt_tbuf_t *b)
{
    uint64_t n = 0;
    for (int k = 0; k < TT_EV__COUNT; k++)
        n += b->counts[k];
    return n - b->chunk_base;
}

/* Appends the mark of the chunk's event `idx` (>= mnext) to b's mark list,
 * which has room for it: its varint first, then mlen published (release:
 * after pos and the varint, for the emergency flush to read first). */
TT_INLINE void tt__tbuf_mark_put(tt_tbuf_t *b, uint64_t idx, unsigned mark)
{
    uint8_t *m0 = b->mbuf + TT__CHUNK_HEAD + TT__MK_CRC;
    uint8_t *m = tt__put_varint(m0 + b->mlen, (idx - b->mnext) << 1 |
                                                  (mark == TT_EVF_YIELD));
    b->mnext = idx + 1;
    b->marks++;
    __atomic_store_n(&b->mlen, (size_t)(m - m0), __ATOMIC_RELEASE);
}

/* A CALL or RETURN marked (TT_EVF_*) once it was stored. While the mark
 * list has room for two more marks, the mark's varint is stored inline
 * (a generator's every resume and yield come here: out of line and
 * guarded it cost about 80 instructions a mark); the first mark of a
 * thread (the allocation), a nearly full list (the chunk is written) and
 * any failure go through tt_writer_mark_event. Unguarded, as the appends
 * are: the varint is written past the published mlen, then mlen is
 * published after pos, and the emergency flush reads mlen before pos, so
 * every mark it writes names an event it writes (tt_writer.c). */
TT_INLINE void tt__tbuf_marked(tt_tbuf_t *b, unsigned kind, unsigned mark,
                               uint64_t tick, uint32_t code, int32_t line)
{
#ifndef TT_DO_NOTHING
    uint8_t *p = tt__tbuf_coded(b, kind, tick, code, line);
    if (TT_UNLIKELY(p == NULL))
        return;
    b->pos = p;
    if (TT_UNLIKELY(b->mcap - b->mlen < 2 * TT__MK_VARINT_MAX))
        (void)tt_writer_mark_event(b, mark);
    else    /* >= mnext: this event is new */
        tt__tbuf_mark_put(b, tt__tbuf_chunk_len(b) - 1, mark);
#else
    (void)b; (void)kind; (void)mark; (void)tick; (void)code; (void)line;
#endif
}

/* A CALL that resumes a suspended frame, marked TT_EVF_RESUME. */
TT_INLINE void tt_tbuf_resume(tt_tbuf_t *b, uint64_t tick, uint32_t code,
                              int32_t line)
{
    tt__tbuf_marked(b, TT_EV_CALL, TT_EVF_RESUME, tick, code, line);
}

/* A RETURN that suspends the frame (yield, await), marked TT_EVF_YIELD. */
TT_INLINE void tt_tbuf_yield(tt_tbuf_t *b, uint64_t tick, uint32_t code,
                             int32_t line)
{
    tt__tbuf_marked(b, TT_EV_RETURN, TT_EVF_YIELD, tick, code, line);
}

/* The thread id tt_writer_thread assigned to this buffer. */
TT_INLINE uint32_t tt_tbuf_thread(const tt_tbuf_t *b)
{
    return b->thread;
}

#endif /* TT_TBUF_H */
