/* tt_writer_tbuf.c - the slow path of the per-thread event buffers.
 *
 * Owns: creating, sealing, writing, resetting, ending and freeing a
 * tt_tbuf, and the DROPPED bookkeeping (the 0x86 marks are tt_chunk_marks.c's;
 * their buffer is allocated at a thread's first mark). The inline fast path lives in tt_tbuf.h.
 * Must not: allocate after tt__tbuf_new (a spill reuses the buffer), print,
 * or let a failed write reach the file as a partial chunk (tt__writer_chunk
 * cuts it back). Threads: whoever holds the buffer (the GIL in capture).
 */
#include <string.h>

#include "tt_internal.h"

size_t tt__tbuf_cap = 64 * 1024;    /* tests shrink it before opening */

static uint64_t sum_counts(const tt_tbuf_t *b)
{
    uint64_t n = 0;
    for (int k = 0; k < TT_EV__COUNT; k++)
        n += b->counts[k];
    return n;
}

static uint8_t *real_limit(const tt_tbuf_t *b)
{
    return b->buf + b->cap - TT__CHUNK_TAIL - TT__EV_MAX;
}

/* Starts an empty chunk: prologue (the base tick) and fresh coder state. */
static void tbuf_reset(tt_tbuf_t *b)
{
    uint8_t *p = b->buf + TT__CHUNK_HEAD;

    p = tt__put_varint(p, b->tick - b->w->start_tick);
    b->pos = b->start = p;
    /* With losses to report, a limit below pos sends the next append to
     * tt__tbuf_make_room, which puts the DROPPED event first. */
    b->limit = b->dropped_pending ? b->buf : real_limit(b);
    for (int i = 0; i < 3; i++) {
        b->mru[i].code = TT_NO_CODE;
        b->mru[i].line = 0;
    }
    b->last_addr = 0;
    b->last_offset = 0;
    b->last_type = 0;
    b->chunk_base = sum_counts(b);
    b->dropped_in_chunk = 0;
    b->mlen = 0;                    /* the marks went with the chunk */
    b->mnext = 0;
}

tt_tbuf_t *tt__tbuf_new(tt_writer_t *w, uint32_t thread)
{
    size_t cap = tt__tbuf_cap < 256 ? 256 : tt__tbuf_cap;
    tt_tbuf_t *b = tt__malloc(sizeof *b);

    if (b == NULL)
        return NULL;
    memset(b, 0, sizeof *b);
    if (cap > TT__MAX_PAYLOAD)
        cap = TT__MAX_PAYLOAD;
    b->buf = tt__malloc(cap);
    if (b->buf == NULL) {
        tt__free(b);
        return NULL;
    }
    b->cap = cap;
    b->w = w;
    b->thread = thread;
    b->defs = &w->tab;
    b->tick = w->start_tick;
    tbuf_reset(b);
    return b;
}

void tt__tbuf_free(tt_tbuf_t *b)
{
    if (b == NULL)
        return;
    tt__free(b->buf);
    tt__free(b->mbuf);
    tt__free(b);
}

/* Appends DROPPED(count = dropped_pending) at `tick`; there must be room. */
static void emit_dropped(tt_tbuf_t *b, uint64_t tick)
{
    uint8_t *p = b->pos;

    TT_ASSERT(p <= real_limit(b));
    if (tick < b->tick)
        tick = b->tick;
    *p++ = (uint8_t)((TT_EV_DROPPED - 1) << 4);
    p = tt__put_varint(p, tick - b->tick);
    p = tt__put_varint(p, b->dropped_pending);
    b->tick = tick;
    b->pos = p;
    b->counts[TT_EV_DROPPED]++;
    b->dropped_in_chunk = b->dropped_pending;
    b->dropped_pending = 0;
    b->limit = real_limit(b);
}

/* Writes the current chunk if it holds events, then its marks (0x86), then
 * resets the buffer. Definitions go first, so no event reaches the file
 * before the ids it names. On failure the chunk's events become dropped
 * ones. Contract (tt_internal.h, tt__tbuf_write). */
int tt__tbuf_write(tt_tbuf_t *b)
{
    tt_writer_t *w = b->w;
    uint64_t n = sum_counts(b) - b->chunk_base;
    int rc;

    if (n == 0)
        return 0;
    rc = tt__writer_flush_defs(w);
    if (rc == 0)
        rc = tt__writer_chunk(w, b->buf,
                              (size_t)(b->pos - (b->buf + TT__CHUNK_HEAD)),
                              TT__CH_EVENTS, b->thread);
    if (rc == 0) {
        w->events_written += n;
        /* The marks right after their chunk, bound by the payload CRC
         * tt__writer_chunk put at pos; a lost 0x86 chunk leaves the
         * events unmarked. */
        (void)tt__marks_write(b, tt__get_le32(b->pos));
    } else {
        uint64_t lost = n - (b->dropped_in_chunk ? 1 : 0);
        b->dropped_total += lost;
        b->dropped_pending += lost + b->dropped_in_chunk;
    }
    tbuf_reset(b);
    return rc;
}

/* An ended buffer points pos one past this byte and limit at it, so
 * every append takes the slow path below and is dropped. */
static uint8_t ended_mark;

TT_NOINLINE int tt__tbuf_make_room(tt_tbuf_t *b, uint64_t tick)
{
    int room = 0;

    /* After an emergency flush the buffer is left as it was: full, so
     * every later append comes here and is dropped. */
    if (TT_UNLIKELY(b->buf == NULL)) {
        b->dropped_total++;
        return 0;
    }
    if (tt__writer_enter(b->w) < 0) {
        b->dropped_total++;
        goto out;
    }
    if (b->pos > real_limit(b))
        (void)tt__tbuf_write(b);          /* a failure is counted as dropped */
    if (b->dropped_pending)
        emit_dropped(b, tick);
    room = b->pos <= b->limit;
out:
    tt__writer_leave(b->w);
    return room;
}

/* Callers hold the writer's guard (tt__writer_enter). */
int tt__tbuf_flush(tt_tbuf_t *b)
{
    if (b->buf == NULL)
        return 0;                     /* ended: written already */
    if (b->dropped_pending) {
        if (b->pos > real_limit(b))
            (void)tt__tbuf_write(b);
        emit_dropped(b, b->tick);
    }
    return tt__tbuf_write(b);
}

/* Callers hold the writer's guard (tt__writer_enter). */
int tt__tbuf_end(tt_tbuf_t *b)
{
    int rc = tt__tbuf_flush(b);

    tt__free(b->buf);
    b->buf = NULL;
    b->cap = 0;
    b->pos = &ended_mark + 1;
    b->limit = &ended_mark;
    return rc;
}
