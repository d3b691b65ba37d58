/* tt_chunk_marks.c - resumption and suspension marks (FORMAT.md §19).
 *
 * Owns: the 0x86 MARKS chunk on both sides: the writer's per-buffer mark
 * list (written right after the buffer's EVENTS chunk, bound to it by that
 * chunk's payload CRC) and the reader's binding and per-event flags
 * (tt_event_t.flags). Never prints or aborts. Threads: a buffer's marks
 * belong to its thread (the GIL in capture); the reader's to its thread.
 */
#include <string.h>

#include "tt_reader_int.h"
#include "tt_tbuf.h"
#include "tt_varint.h"

/* ------------------------------------------------------------ the writer */

#define MK_CRC        TT__MK_CRC    /* the bound chunk's payload CRC */
#define MK_VARINT_MAX TT__MK_VARINT_MAX

/* Varint bytes a buffer's mark list holds before its chunk is written
 * early: an eighth of the event buffer (a generator's resume, line and
 * yield take about 6 event bytes and 2 mark bytes). */
static size_t marks_cap(const tt_tbuf_t *b)
{
    size_t n = b->cap / 8;
    return n < 64 ? 64 : n;
}

/* Contract (tt.h). Under the writer's guard: an emergency flush either
 * runs before (the mark is not taken) or after (it sees the whole mark).
 * The slow path of tt_tbuf_resume/yield too (tt_tbuf.h, tt__tbuf_marked,
 * which stores most marks inline); mlen is published as it does. */
int tt_writer_mark_event(tt_tbuf_t *b, unsigned mark)
{
    uint64_t n, idx;
    int rc;

    if (b == NULL || (mark != TT_EVF_RESUME && mark != TT_EVF_YIELD))
        return TT_EINVAL;
    rc = tt__writer_enter(b->w);
    if (rc < 0)
        goto out;
    n = tt__tbuf_chunk_len(b);
    if (b->buf == NULL || n == 0) {
        rc = TT_ESTATE;
        goto out;
    }
    idx = n - 1;
    if (idx < b->mnext) {
        rc = TT_EINVAL;
        goto out;
    }
    if (b->mbuf == NULL) {
        size_t cap = marks_cap(b);
        b->mbuf = tt__malloc(TT__CHUNK_HEAD + MK_CRC + cap + TT__CHUNK_TAIL);
        if (b->mbuf == NULL) {
            b->marks_lost++;
            rc = TT_ENOMEM;
            goto out;
        }
        b->mcap = cap;
        b->mlen = 0;
    }
    tt__tbuf_mark_put(b, idx, mark);
    if (b->mcap - b->mlen < MK_VARINT_MAX)
        (void)tt__tbuf_write(b);    /* full: the chunk and its marks now */
out:
    tt__writer_leave(b->w);
    return rc;
}

/* Contract (tt_internal.h). */
int tt__marks_write(tt_tbuf_t *b, uint32_t events_crc)
{
    if (b->mbuf == NULL || b->mlen == 0)
        return 0;
    tt__put_le32(b->mbuf + TT__CHUNK_HEAD, events_crc);
    return tt__writer_chunk(b->w, b->mbuf, MK_CRC + b->mlen, TT_CHUNK_MARKS,
                            b->thread);
}

/* Contract (tt_internal.h). */
size_t tt__marks_payload(tt_tbuf_t *b, size_t mlen, uint32_t events_crc,
                         const uint8_t **payload)
{
    if (b->mbuf == NULL || mlen == 0)
        return 0;
    tt__put_le32(b->mbuf + TT__CHUNK_HEAD, events_crc);
    *payload = b->mbuf + TT__CHUNK_HEAD;
    return MK_CRC + mlen;
}

/* ------------------------------------------------------------ the reader */

/* Reads the next mark of u's list into mark_at/mark_flag; none left (or a
 * malformed one, counted) leaves mark_at at UINT64_MAX. */
static void next_mark(tt_reader_t *r, tt__run *u)
{
    uint64_t v;

    u->mark_at = UINT64_MAX;
    if (u->mp == NULL || u->mp >= u->mend)
        return;
    if (tt__get_varint(&u->mp, u->mend, &v) < 0 ||
        (v >> 1) > UINT64_MAX - 1 - u->mnext) {
        if (u->fresh)
            r->marks.bad++;
        u->mp = NULL;
        return;
    }
    u->mark_at = u->mnext + (v >> 1);
    u->mark_flag = (v & 1) ? TT_EVF_YIELD : TT_EVF_RESUME;
    u->mnext = u->mark_at + 1;
}

/* Contract (tt_reader_int.h). */
void tt__marks_start(tt_reader_t *r, tt__run *u, const tt__evchunk *e,
                     uint32_t crc)
{
    const tt__ancchunk *a;

    u->mp = u->mend = NULL;
    u->mnext = u->evi = 0;
    u->mark_at = UINT64_MAX;
    if (e->marks == UINT32_MAX)
        return;
    a = &r->anc[e->marks];
    if (a->len < MK_CRC || tt__get_le32(a->payload) != crc) {
        if (u->fresh)
            r->marks.unbound++;     /* written for another payload */
        return;
    }
    if (u->fresh)
        r->marks.chunks++;
    u->mp = a->payload + MK_CRC;
    u->mend = a->payload + a->len;
    next_mark(r, u);
}

/* Contract (tt_reader_int.h). */
void tt__marks_apply(tt_reader_t *r, tt__run *u, tt_event_t *ev)
{
    unsigned want = u->mark_flag == TT_EVF_RESUME ? TT_EV_CALL : TT_EV_RETURN;

    if (ev->kind != want) {
        if (u->fresh)
            r->marks.bad++;         /* marks from here on are not trusted */
        u->mp = NULL;
        u->mark_at = UINT64_MAX;
        return;
    }
    ev->flags = u->mark_flag;
    next_mark(r, u);
}

/* Contract (tt_reader_int.h). */
void tt__marks_end(tt_reader_t *r, tt__run *u)
{
    if (u->fresh && u->mark_at != UINT64_MAX)
        r->marks.bad++;             /* a mark past the chunk's events */
    u->mp = NULL;
    u->mark_at = UINT64_MAX;
}

/* Contract (tt.h). */
void tt_reader_marks_info(const tt_reader_t *r, tt_marks_info_t *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof *out);
    if (r != NULL)
        *out = r->marks;
}
