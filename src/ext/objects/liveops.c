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
 * objects.h; this file applies the ring.
 *
 * Owns: o->ring. Must not: create Python objects (it runs inside the ref
 * tracer). GIL: held by every caller; the one ring serves every thread, so
 * updates reach the table in the order they happened.
 */
#include "objects.h"

#if TTX_HAVE_REFTRACER

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
    if (o->aggregate)
        o->rows[ttx_live_id(meta)].st.died_unseen++;
}

static void
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
    for (i = 0; i < n; i++) {
        /* A grow during apply_one moves the slots: a prefetch of the old
         * array is wasted, never wrong. */
        if (i + RING_PREFETCH < n)
            prefetch_slot(&o->live, &r->ops[i + RING_PREFETCH]);
        apply_one(o, &r->ops[i]);
    }
    r->applied += n;
    /* The index is not cleared: an entry is trusted only if the op it
     * names is a CREATE of the same address below n. */
    r->n = 0;
}

#endif /* TTX_HAVE_REFTRACER */
