/* liveops.c - the deferred updates of the live-object table (--objects):
 * the ring the ref tracer appends CREATEs and unmatched DESTROYs to, the
 * cancelling of objects that are born and die inside the ring, and the
 * in-order, prefetched application of the rest to the table.
 *
 * Why: a table probe per event is a cache miss per event once the table
 * outgrows the caches, and it was a third of what --objects cost on top of
 * the floors (bench/workloads/alloc_heavy.py). Most objects die within a
 * few hundred events of their birth and now never reach the table.
 *
 * The hook's side (ttx_liveops_create and _destroy) is inline, in
 * objects.h; this file applies the ring. Without calls (the defer mode)
 * the ring is also where object events wait to be encoded: a float made
 * and freed within one expression costs two ring slots and a count, not
 * two encoded events.
 *
 * Owns: o->ring. Must not: create Python objects (it runs inside the ref
 * tracer). GIL: held by every caller; the one ring serves every thread, so
 * updates reach the table in the order they happened.
 */
#include "objects.h"

#if TTX_HAVE_REFTRACER

#include <string.h>

/* How far ahead of the update being applied its table slot is fetched. */
#define RING_PREFETCH 16

void
ttx_liveops_row_died(capture_objects_t *o, uint64_t meta, uint64_t rel)
{
    tt_objstat_t *s = &o->rows[ttx_live_id(meta)].st;
    uint64_t birth = ttx_live_birth(meta);
    uint64_t life = rel > birth ? rel - birth : 0;
    unsigned b = life < 256 ? 8 : 64 - (unsigned)__builtin_clzll(life);
    s->destroyed++;
    s->lifetime[b < TT_OBJ_BUCKETS ? b : TT_OBJ_BUCKETS - 1]++;
}

void
ttx_liveops_unseen(capture_objects_t *o, uint64_t meta)
{
    o->repaired++;
    o->ghosts = 1;
    o->ghost_all = 1;
    if (o->aggregate)
        o->rows[ttx_live_id(meta)].st.died_unseen++;
}

/* Inline in both of the flush's loops (out of line, the default mode's
 * flush cost a call per update: +1.5% on bench/workloads/nbody.py). */
TT_INLINE void
apply_one(capture_objects_t *o, const ttx_liveop_t *op)
{
    uint64_t addr = op->addr & ~(uint64_t)TTX_OP_FLAGS;
    ttx_live_t *e;

    if (op->addr & TTX_OP_DESTROY) {
        e = ttx_livetab_find(&o->live, addr);
        if (e != NULL) {
            ttx_liveops_died(o, e->meta, op->meta);
            ttx_livetab_remove(&o->live, e);
        }
    } else if (op->addr & TTX_OP_DIED) {
        /* Born and dead in the ring, never in the table; but an object
         * the table still holds here died unseen before it was born. Only
         * a missing DESTROY leaves such a ghost: looked for once one is
         * known (a gap, or a reused address seen already). */
        if (!o->ghosts)
            return;
        e = ttx_livetab_lookup(&o->live, addr);
        if (e != NULL) {
            ttx_liveops_unseen(o, e->meta);
            ttx_livetab_remove(&o->live, e);
        }
    } else {
        uint64_t old;
        int rc = ttx_livetab_put(&o->live, addr, op->meta, &old);
        if (rc > 0)
            ttx_liveops_unseen(o, old);
        else if (rc < 0)
            o->nomem++;
    }
}

/* Buckets of a lifetime in ticks: [0] = 0, [b] = [2^(b-1), 2^b). */
static inline unsigned
life_bucket(uint64_t life)
{
    unsigned b = life == 0 ? 0 : 64 - (unsigned)__builtin_clzll(life);
    return b < TT_OBJ_BUCKETS ? b : TT_OBJ_BUCKETS - 1;
}

/* The defer mode's ghost check of an object born and dead in the ring:
 * where the table still holds an object at its address, that one died
 * unseen, and only this object's CREATE proves it. The reader must see
 * that proof too (it replays the events, and the ghost's CREATE is in
 * the log): this object is then logged, CREATE and DESTROY, instead of
 * counted. 1 if so. Where the only known gap is the trashcan's, a ghost
 * is a GC container, which the stop check finds anyway (its survivors are
 * verified against the collector): a non-GC object need not look. */
static int
ghost_found(capture_objects_t *o, const ttx_liveop_t *op,
            const ttx_liveext_t *x)
{
    uint64_t addr = op->addr & ~(uint64_t)TTX_OP_FLAGS, birth;
    uint32_t type = ttx_live_id(op->meta);
    capture_thread_t *t;
    ttx_live_t *e;

    if (!o->ghosts ||
        !(o->ghost_all || type >= o->n_type_ids || o->type_gc[type]) ||
        (e = ttx_livetab_lookup(&o->live, addr)) == NULL)
        return 0;
    ttx_liveops_unseen(o, e->meta);
    ttx_livetab_remove(&o->live, e);
    t = ttx_objthread_capture(o, x->thread);
    if (t != NULL && t->tbuf != NULL && capture_rec != NULL) {
        birth = capture_rec->start_tick + ttx_live_birth(op->meta);
        tt_tbuf_obj_create(t->tbuf, birth, type, addr, x->size, x->code,
                           TT_NO_LINE, x->offset);
        tt_tbuf_obj_destroy(t->tbuf, birth + x->tick, addr);
    }
    return 1;
}

/* A direct-mapped cache in front of ttx_objrow_get for the rows of
 * objects that died in the ring (o->rowcache): a float-heavy loop counts
 * a few (site, type) rows over and over. An entry holds its whole key in
 * 16 bytes, so a hit reads no row; the cache is emptied (type UINT32_MAX
 * never matches) whenever the rows are (ttx_liveops_rowcache_clear). */
static inline uint32_t
died_row(capture_objects_t *o, uint32_t code, uint32_t offset, uint32_t type)
{
    uint64_t site = (uint64_t)code << 32 | offset;
    size_t h = (size_t)(ttx_fib(site ^ (uint64_t)type << 40) >>
                        (64 - TTX_ROWCACHE_BITS));
    ttx_rowcache_t *c = &o->rowcache[h];
    uint32_t row;
    if (TTX_LIKELY(c->site == site && c->type == type))
        return c->row;
    row = ttx_objrow_get(o, code, TT_NO_LINE, offset, type);
    if (row != UINT32_MAX) {
        c->site = site;
        c->type = type;
        c->row = row;
    }
    return row;
}

void
ttx_liveops_rowcache_clear(capture_objects_t *o)
{
    memset(o->rowcache, 0xff, sizeof(o->rowcache));
}

/* The defer mode's object born and dead in the ring: counted in its
 * (site, type) row, unless it proves a ghost (then logged). */
static inline void
died_deferred(capture_objects_t *o, const ttx_liveop_t *op,
              const ttx_liveext_t *x)
{
    uint32_t row;
    tt_objstat_t *st;

    if (TTX_UNLIKELY(o->ghosts) && ghost_found(o, op, x))
        return;
    row = died_row(o, x->code, x->offset, ttx_live_id(op->meta));
    if (TTX_UNLIKELY(row == UINT32_MAX)) {
        o->nomem++;
        return;
    }
    st = &o->rows[row].st;
    st->created++;
    st->destroyed++;
    st->lifetime[life_bucket(x->tick)]++;
}

/* The defer mode's op leaving the ring: its event is encoded (in the
 * buffer of the thread it happened in, in ring order, which is the order
 * of the events), or, for an object born and dead in the ring, counted in
 * its (site, type) row. Then the table is updated as apply_one does. */
static void
apply_deferred(capture_objects_t *o, const ttx_liveop_t *op,
               const ttx_liveext_t *x)
{
    uint64_t addr = op->addr & ~(uint64_t)TTX_OP_FLAGS;
    capture_thread_t *t = ttx_objthread_capture(o, x->thread);

    if (t != NULL && t->tbuf != NULL) {
        if (op->addr & TTX_OP_DESTROY)
            tt_tbuf_obj_destroy(t->tbuf, x->tick, addr);
        else
            tt_tbuf_obj_create(t->tbuf, x->tick, ttx_live_id(op->meta), addr,
                               x->size, x->code, TT_NO_LINE, x->offset);
    }
    apply_one(o, op);
}

static inline void
prefetch_slot(const ttx_livetab_t *t, const ttx_liveop_t *op)
{
    uint64_t addr = op->addr & ~(uint64_t)TTX_OP_FLAGS;
    /* A CREATE or DESTROY probes the table. (The ghost probes of deaths
     * in the ring run only where a gap is known, and go unprefetched.) */
    if ((op->addr & TTX_OP_DIED) == 0)
        __builtin_prefetch(&t->slots[ttx_live_hash(addr, t->bits)], 1);
}

void
ttx_liveops_flush(capture_objects_t *o)
{
    ttx_livering_t *r = &o->ring;
    uint32_t i, n = r->n;

    for (i = 0; i < n && i < RING_PREFETCH; i++)
        prefetch_slot(&o->live, &r->ops[i]);
    /* A grow during apply_one moves the slots: a prefetch of the old
     * array is wasted, never wrong. */
    if (o->defer) {
        for (i = 0; i < n; i++) {
            if (i + RING_PREFETCH < n)
                prefetch_slot(&o->live, &r->ops[i + RING_PREFETCH]);
            if (r->ops[i].addr & TTX_OP_DIED)
                died_deferred(o, &r->ops[i], &o->ext[i]);
            else
                apply_deferred(o, &r->ops[i], &o->ext[i]);
        }
    } else {
        for (i = 0; i < n; i++) {
            if (i + RING_PREFETCH < n)
                prefetch_slot(&o->live, &r->ops[i + RING_PREFETCH]);
            apply_one(o, &r->ops[i]);
        }
    }
    r->applied += n;
    if (o->defer && n > 0 && ++o->flushes >= TTX_ROWS_EVERY) {
        o->flushes = 0;
        capture_objects_write_rows(o);
    }
    /* The index is not cleared: an entry is trusted only if the op it
     * names is a CREATE of the same address below n. */
    r->n = 0;
}

#endif /* TTX_HAVE_REFTRACER */
