/* livetable.c - the live-object table of --objects: open addressing with
 * linear probing keyed by object address, 16 bytes per slot, grown at 3/4
 * load, entries removed by backward shift (no tombstones), and the
 * may-contain bitmap in front of it.
 *
 * Owns: the slot array and the bitmap (through the injected allocator).
 * Must not: touch the objects it lists, or include Python.h (tests/c
 * links this file). GIL: held by every caller (the ref tracer, start and
 * stop).
 */
#include "livetable.h"

#include <string.h>

#define LIVE_MIN_BITS 14          /* 16384 slots, 256 KiB */
#define MAYBE_WORDS   (((size_t)1 << TTX_LIVE_MAYBE_BITS) / 64)
/* The bitmap is rebuilt once the removals since the last rebuild exceed
 * the live count plus this: amortised O(1) per removal. */
#define MAYBE_SLACK   65536

static inline void
maybe_set(ttx_livetab_t *t, uint64_t addr)
{
    size_t b = ttx_live_maybe_bit(addr);
    t->maybe[b >> 6] |= (uint64_t)1 << (b & 63);
}

static void
maybe_rebuild(ttx_livetab_t *t)
{
    size_t n = (size_t)1 << t->bits, i;
    memset(t->maybe, 0, MAYBE_WORDS * sizeof(*t->maybe));
    for (i = 0; i < n; i++)
        if (t->slots[i].addr != 0)
            maybe_set(t, t->slots[i].addr);
    t->stale = 0;
}

int
ttx_livetab_init(ttx_livetab_t *t, const ttx_livealloc_t *alloc)
{
    memset(t, 0, sizeof(*t));
    t->alloc = alloc;
    t->bits = LIVE_MIN_BITS;
    t->slots = alloc->calloc((size_t)1 << t->bits, sizeof(*t->slots));
    t->maybe = alloc->calloc(MAYBE_WORDS, sizeof(*t->maybe));
    if (t->slots == NULL || t->maybe == NULL) {
        ttx_livetab_free(t);
        return -1;
    }
    t->peak_bytes = ((uint64_t)1 << t->bits) * sizeof(*t->slots);
    return 0;
}

void
ttx_livetab_free(ttx_livetab_t *t)
{
    if (t->alloc == NULL)
        return;                  /* never initialised, or freed already */
    t->alloc->free(t->slots);
    t->alloc->free(t->maybe);
    t->slots = NULL;
    t->maybe = NULL;
    t->count = 0;
}

/* Doubles the table. 0, or -1 with the table unchanged. */
static int
livetab_grow(ttx_livetab_t *t)
{
    uint32_t bits = t->bits + 1;
    size_t n = (size_t)1 << t->bits, mask = ((size_t)1 << bits) - 1, i;
    ttx_live_t *s;

    if (bits > 40)
        return -1;
    s = t->alloc->calloc((size_t)1 << bits, sizeof(*s));
    if (s == NULL)
        return -1;
    for (i = 0; i < n; i++) {
        size_t j;
        if (t->slots[i].addr == 0)
            continue;
        j = ttx_live_hash(t->slots[i].addr, bits);
        while (s[j].addr != 0)
            j = (j + 1) & mask;
        s[j] = t->slots[i];
    }
    t->alloc->free(t->slots);
    t->slots = s;
    t->bits = bits;
    if (((uint64_t)1 << bits) * sizeof(*s) > t->peak_bytes)
        t->peak_bytes = ((uint64_t)1 << bits) * sizeof(*s);
    return 0;
}

int
ttx_livetab_put(ttx_livetab_t *t, uint64_t addr, uint64_t meta,
                uint64_t *old)
{
    size_t mask, i;
    TT_ASSERT(addr != 0 && t->slots != NULL);
    if ((t->count + 1) * 4 > ((uint64_t)3 << t->bits) &&
        livetab_grow(t) < 0) {
        ttx_live_t *e = ttx_livetab_find(t, addr);
        if (e == NULL)
            return -1;
        *old = e->meta;
        e->meta = meta;
        return 1;
    }
    mask = ((size_t)1 << t->bits) - 1;
    for (i = ttx_live_hash(addr, t->bits); t->slots[i].addr != 0;
         i = (i + 1) & mask) {
        if (t->slots[i].addr == addr) {
            *old = t->slots[i].meta;
            t->slots[i].meta = meta;
            return 1;
        }
    }
    t->slots[i].addr = addr;
    t->slots[i].meta = meta;
    maybe_set(t, addr);
    TT_ASSERT(ttx_livetab_find(t, addr) == &t->slots[i]);
    if (++t->count > t->peak)
        t->peak = t->count;
    return 0;
}

void
ttx_livetab_remove(ttx_livetab_t *t, ttx_live_t *e)
{
    size_t mask = ((size_t)1 << t->bits) - 1;
    size_t i = (size_t)(e - t->slots), j = i;
    TT_ASSERT(e >= t->slots && i <= mask && e->addr != 0 && t->count > 0);
    for (;;) {
        size_t k;
        j = (j + 1) & mask;
        if (t->slots[j].addr == 0)
            break;
        k = ttx_live_hash(t->slots[j].addr, t->bits);
        /* Move j into the hole at i unless its home k lies cyclically in
         * (i, j]: then it is still reachable where it is. */
        if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].addr = 0;
    t->slots[i].meta = 0;
    t->count--;
    if (++t->stale > t->count + MAYBE_SLACK)
        maybe_rebuild(t);
}

