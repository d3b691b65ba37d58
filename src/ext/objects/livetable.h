/* livetable.h - the live-object table of --objects (livetable.c): open
 * addressing keyed by object address, with a may-contain bitmap in front.
 *
 * Must not: include Python.h (the allocator is injected, so tests/c
 * unit-tests the table without Python). GIL: held by every caller in the
 * extension; the table itself has no lock.
 */
#ifndef TTX_LIVETABLE_H
#define TTX_LIVETABLE_H

#include <stddef.h>
#include <stdint.h>

#include "tt_config.h"
#include "ttx_hash.h"

/* The table's allocator: PyMem_RawCalloc/PyMem_RawFree in the extension
 * (they create no Python object, so they are safe inside the ref tracer),
 * a failing one in the tests. calloc returns NULL when memory runs out. */
typedef struct {
    void *(*calloc)(size_t n, size_t size);
    void (*free)(void *p);
} ttx_livealloc_t;

/* ------------------------------------------------------ the live table */

/* One live object: 16 bytes. `meta` packs the row or type id (low 24 bits)
 * and the birth time (high 40 bits, in units of 2^TTX_LIVE_TICK_SHIFT
 * ticks since the recording's start: 2^48 ticks, over a day at 3 GHz).
 * addr 0 marks a free slot. */
typedef struct {
    uint64_t addr;
    uint64_t meta;
} ttx_live_t;

#define TTX_LIVE_ID_BITS     24
#define TTX_LIVE_ID_MAX      ((1u << TTX_LIVE_ID_BITS) - 1u)
#define TTX_LIVE_TICK_SHIFT  8

/* `maybe` is a bitmap keyed by address (TTX_LIVE_MAYBE_BITS): a clear bit
 * proves the address is not in the table, so the ghost checks of objects
 * that lived and died in the ring (interpreters with a DESTROY gap, where
 * most objects take one) and the frees decided at once (destroy_now)
 * mostly cost no probe of the table.
 * Bits are set on insert and cleared only by a rebuild from the slots,
 * once enough removals have made them stale. */
#define TTX_LIVE_MAYBE_BITS 20   /* 128 KiB */

typedef struct {
    const ttx_livealloc_t *alloc;   /* borrowed: outlives the table */
    ttx_live_t *slots;           /* owned (alloc): 1 << bits slots */
    uint32_t bits;
    uint64_t count;
    uint64_t peak;               /* most live objects at once */
    uint64_t peak_bytes;         /* table size at its largest */
    uint64_t *maybe;             /* owned: 1 << TTX_LIVE_MAYBE_BITS bits */
    uint64_t stale;              /* removals since the bitmap was rebuilt */
} ttx_livetab_t;

/* Fibonacci hashing of the address (allocator alignment shifted out). A
 * locality-preserving variant (neighbouring objects in neighbouring
 * slots) was measured 1.3x slower on bench/workloads/alloc_heavy.py:
 * linear probing clusters on dense pools. */
static inline size_t
ttx_live_hash(uint64_t addr, uint32_t bits)
{
    return ttx_addr_slot(addr, bits);
}

static inline size_t
ttx_live_maybe_bit(uint64_t addr)
{
    return (size_t)(((addr >> 4) * 0xC2B2AE3D27D4EB4Full) >>
                    (64 - TTX_LIVE_MAYBE_BITS));
}

/* 0 when addr is certainly not in the table. */
static inline int
ttx_livetab_maybe(const ttx_livetab_t *t, uint64_t addr)
{
    size_t b = ttx_live_maybe_bit(addr);
    return (int)((t->maybe[b >> 6] >> (b & 63)) & 1);
}

/* The slot holding addr, or NULL. */
static inline ttx_live_t *
ttx_livetab_find(const ttx_livetab_t *t, uint64_t addr)
{
    TT_ASSERT(addr != 0);
    size_t mask = ((size_t)1 << t->bits) - 1;
    size_t i = ttx_live_hash(addr, t->bits);
    for (;;) {
        ttx_live_t *e = &t->slots[i];
        if (e->addr == addr)
            return e;
        if (e->addr == 0)
            return NULL;
        i = (i + 1) & mask;
    }
}

/* livetable.c */
/* An empty table using `alloc`. 0, or -1 when memory ran out (t is then
 * empty and may be freed). */
int ttx_livetab_init(ttx_livetab_t *t, const ttx_livealloc_t *alloc);
void ttx_livetab_free(ttx_livetab_t *t);
/* Inserts addr, or replaces the meta if addr is held already (in one
 * probe): 0 inserted, 1 replaced (the old meta in *old), -1 when the table
 * cannot grow (nothing changed; the caller counts it). */
int ttx_livetab_put(ttx_livetab_t *t, uint64_t addr, uint64_t meta,
                    uint64_t *old);
/* Removes the entry e points to (backward shift: no tombstones). */
void ttx_livetab_remove(ttx_livetab_t *t, ttx_live_t *e);
/* The slot of addr when the bitmap allows it, else NULL: find() for
 * addresses that are mostly absent. */
static inline ttx_live_t *
ttx_livetab_lookup(const ttx_livetab_t *t, uint64_t addr)
{
    return ttx_livetab_maybe(t, addr) ? ttx_livetab_find(t, addr) : NULL;
}

static inline uint64_t
ttx_live_meta(uint32_t id, uint64_t rel_tick)
{
    return (rel_tick >> TTX_LIVE_TICK_SHIFT) << TTX_LIVE_ID_BITS |
           (id & TTX_LIVE_ID_MAX);
}
static inline uint32_t ttx_live_id(uint64_t meta)
{
    return (uint32_t)(meta & TTX_LIVE_ID_MAX);
}
static inline uint64_t ttx_live_birth(uint64_t meta)
{
    return (meta >> TTX_LIVE_ID_BITS) << TTX_LIVE_TICK_SHIFT;
}

#endif /* TTX_LIVETABLE_H */
