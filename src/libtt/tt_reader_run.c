/* tt_reader_run.c - decoding EVENTS chunks on demand, and tt_reader_scan.
 *
 * Owns: loading one chunk's payload (pread into the run's own buffer, or a
 * pointer into open_mem's bytes), its CRC and base-tick checks, and the
 * commit of a chunk's first full decode to the reader: counts by kind,
 * per-thread events and ticks, and the damage report. A chunk is committed
 * once, whichever of the merge, the file-order iterator or the scan decodes
 * it first. Must not: trust a payload read before (the file may change
 * under the reader), or allocate beyond one buffer per run. One thread.
 */
#include <string.h>

#include "tt_reader_int.h"

void tt__run_drop(tt__run *u)
{
    u->chunk = UINT32_MAX;
}

void tt__run_free(tt__run *u)
{
    tt__free(u->buf);
    u->buf = NULL;
    u->cap = 0;
    u->chunk = UINT32_MAX;
}

/* The chunk's first decode is over: good bytes, events and err. */
static void commit(tt_reader_t *r, tt__evchunk *e, const tt__run *u,
                   uint32_t good, int err, const char *why)
{
    tt_thread_info_t *t = &r->threads[e->thread];
    const tt__evchunk *prev = e->prev != UINT32_MAX ? &r->chunks[e->prev]
                                                    : NULL;

    if (e->state == TT__CK_DONE)    /* a scan during the iteration did it */
        return;
    e->state = TT__CK_DONE;
    e->good = good;
    e->err = err;
    e->events = u->n;
    if (u->n) {
        e->first_tick = u->first;
        e->last_tick = u->last;
        e->carry_tick = u->last;
        e->has_carry = 1;
        if (t->events == 0 || u->first < t->first_tick)
            t->first_tick = u->first;
        if (t->events == 0 || u->last > t->last_tick)
            t->last_tick = u->last;
        t->events += u->n;
        for (int k = 0; k < TT_EV__COUNT; k++)
            r->counts[k] += u->counts[k];
        r->dropped += u->dropped;
    } else if (prev && prev->state == TT__CK_DONE && prev->has_carry) {
        e->carry_tick = prev->carry_tick;
        e->has_carry = 1;
    }
    if (err < 0) {
        uint64_t lost = err == TT_ECORRUPT ? e->len - good
                                           : (uint64_t)e->len + 20;
        uint64_t at = err == TT_ECORRUPT ? e->off + TT__CHUNK_HEAD + good
                                         : e->off;
        if (err == TT_ECORRUPT)
            tt__reader_damage(r, err, at, lost,
                "thread %u's event chunk at byte %llu is malformed after "
                "%llu events (%s); %llu bytes skipped", e->thread,
                (unsigned long long)e->off, (unsigned long long)u->n,
                why ? why : "?", (unsigned long long)lost);
        else
            tt__reader_damage(r, err, at, lost,
                "thread %u's event chunk at byte %llu %s; skipped",
                e->thread, (unsigned long long)e->off,
                err == TT_ECRC ? "fails its checksum"
                               : "could not be read (the file changed "
                                 "since it was opened?)");
        r->damage.chunks_lost++;
        if (t->chunks_lost++ == 0)
            r->damage.threads_lost++;
        t->bytes_lost += lost;
    }
    if (--r->n_new == 0)
        tt__reader_finish(r);
}

/* A chunk decoded before fails now: the file changed under the reader. */
static int changed(tt_reader_t *r, const tt__evchunk *e, int err)
{
    tt__reader_damage(r, err == TT_ECRC ? TT_EIO : err, e->off, 0,
        "thread %u's event chunk at byte %llu changed or vanished after it "
        "was first read; the file was modified while open",
        e->thread, (unsigned long long)e->off);
    return err == TT_ECRC ? TT_EIO : err;
}

int tt__run_load(tt_reader_t *r, tt__run *u, uint32_t i)
{
    tt__evchunk *e = &r->chunks[i];
    const uint8_t *p;
    size_t need = (size_t)e->len + TT__CHUNK_TAIL;
    int rc;

    u->chunk = UINT32_MAX;
    if (e->state == TT__CK_DONE && e->err < 0 && e->good == 0)
        return e->err;              /* nothing usable in it */
    if (r->fd >= 0 && need > u->cap) {
        void *b = u->buf;
        if (tt__grow(&b, &u->cap, need, 1) < 0)
            return TT_ENOMEM;
        u->buf = b;
    }
    u->fresh = e->state == TT__CK_NEW;
    memset(u->counts, 0, sizeof u->counts);
    u->dropped = u->n = u->first = u->last = 0;
    u->mp = NULL;
    u->mark_at = UINT64_MAX;
    rc = tt__reader_read(r, e->off + TT__CHUNK_HEAD, need, u->buf, &p);
    if (rc == 0 && tt__crc32c(0, p, e->len) != tt__get_le32(p + e->len))
        rc = TT_ECRC;
    if (rc < 0) {
        if (!u->fresh)
            return changed(r, e, rc);
        commit(r, e, u, 0, rc, NULL);
        return rc;
    }
    rc = tt__evdec_start(&u->dec, r, e, p, u->fresh ? e->len : e->good);
    if (rc == 0 && u->fresh && e->prev != UINT32_MAX) {
        const tt__evchunk *pv = &r->chunks[e->prev];
        if (pv->state == TT__CK_DONE && pv->has_carry &&
            u->dec.tick < pv->carry_tick) {
            u->dec.why = "its base tick is before the thread's previous "
                         "event";
            u->dec.p = p;
            rc = TT_ECORRUPT;
        }
    }
    if (rc < 0) {
        if (!u->fresh)
            return e->err < 0 ? e->err : changed(r, e, rc);
        commit(r, e, u, 0, rc, u->dec.why);
        return rc;
    }
    tt__marks_start(r, u, e, tt__get_le32(p + e->len));
    u->chunk = i;
    return 0;
}

int tt__run_next(tt_reader_t *r, tt__run *u, tt_event_t *ev)
{
    tt__evchunk *e = &r->chunks[u->chunk];
    int rc = tt__evdec_next(&u->dec, ev);

    if (TT_LIKELY(rc == 1)) {
        ev->flags = 0;
        if (TT_UNLIKELY(u->evi++ == u->mark_at))
            tt__marks_apply(r, u, ev);
        if (u->fresh) {
            if (u->n++ == 0)
                u->first = ev->tick;
            u->last = ev->tick;
            u->counts[ev->kind]++;
            if (ev->kind == TT_EV_DROPPED)
                u->dropped += ev->count;
        }
        return 1;
    }
    if (rc == 0)
        tt__marks_end(r, u);
    u->chunk = UINT32_MAX;
    if (u->fresh) {
        commit(r, e, u, (uint32_t)(u->dec.p - u->dec.start), rc, u->dec.why);
        return rc;
    }
    if (rc < 0)                     /* the good part failed: changed file */
        return changed(r, e, TT_ECORRUPT);
    return e->err;                  /* the end of the good part */
}

/* ------------------------------------------------------------ the scan */

/* Decodes NEW chunk i to its end with u, committing it. Counts the events
 * into *done and asks the progress callback every TT_PROGRESS_EVERY when
 * `report`. 0, TT_ENOMEM, or TT_ECANCELED (the callback stopped it: the
 * chunk is still committed whole). A damaged chunk is not an error here:
 * its damage is committed. */
static int decode_chunk(tt_reader_t *r, tt__run *u, uint32_t i,
                        uint64_t *done, int report)
{
    tt_event_t ev;
    int k, rc = 0;

    k = tt__run_load(r, u, i);
    if (k == TT_ENOMEM)
        return k;
    if (k < 0)
        return 0;
    while ((k = tt__run_next(r, u, &ev)) == 1) {
        if (TT_UNLIKELY(++*done % TT_PROGRESS_EVERY == 0) && report &&
            r->progress != NULL &&
            r->progress(r->progress_ctx, *done, r->damage.end_events))
            rc = TT_ECANCELED;
    }
    return rc;
}

int tt_reader_scan(tt_reader_t *r)
{
    tt__run u;
    uint64_t done = 0;
    int rc = 0;

    if (r == NULL)
        return TT_EINVAL;
    if (r->n_new == 0)
        return 0;
    memset(&u, 0, sizeof u);
    u.chunk = UINT32_MAX;
    for (uint32_t i = 0; i < r->n_chunks && r->n_new && rc == 0; i++) {
        if (r->chunks[i].state == TT__CK_NEW)
            rc = decode_chunk(r, &u, i, &done, 1);
    }
    tt__run_free(&u);
    return rc;
}

int tt__reader_scan_heads(tt_reader_t *r)
{
    tt__run u;
    uint64_t done = 0;
    int rc = 0;

    memset(&u, 0, sizeof u);
    u.chunk = UINT32_MAX;
    for (uint32_t t = 0; t < r->n_threads && rc == 0; t++) {
        uint32_t i = r->chains[t].first_chunk;
        for (; i != UINT32_MAX && r->threads[t].events == 0 && rc == 0;
             i = r->chunks[i].next) {
            if (r->chunks[i].state == TT__CK_NEW)
                rc = decode_chunk(r, &u, i, &done, 0);
        }
    }
    tt__run_free(&u);
    return rc;
}
