/* livetable.c - the live-object table of --objects: open addressing with
 * linear probing keyed by object address, 16 bytes per slot, grown at 3/4
 * load, entries removed by backward shift (no tombstones).
 *
 * Owns: the slot array (PyMem_Raw, which creates no Python object and so
 * is safe inside the ref tracer). Must not: touch the objects it lists.
 * GIL: held by every caller (the ref tracer, start and stop).
 */
#include "objects.h"

#if TTX_HAVE_REFTRACER

#include <string.h>

#define LIVE_MIN_BITS 14          /* 16384 slots, 256 KiB */

int
ttx_livetab_init(ttx_livetab_t *t)
{
    memset(t, 0, sizeof(*t));
    t->bits = LIVE_MIN_BITS;
    t->slots = PyMem_RawCalloc((size_t)1 << t->bits, sizeof(*t->slots));
    if (t->slots == NULL)
        return -1;
    t->peak_bytes = ((uint64_t)1 << t->bits) * sizeof(*t->slots);
    return 0;
}

void
ttx_livetab_free(ttx_livetab_t *t)
{
    PyMem_RawFree(t->slots);
    t->slots = NULL;
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
    s = PyMem_RawCalloc((size_t)1 << bits, sizeof(*s));
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
    PyMem_RawFree(t->slots);
    t->slots = s;
    t->bits = bits;
    if (((uint64_t)1 << bits) * sizeof(*s) > t->peak_bytes)
        t->peak_bytes = ((uint64_t)1 << bits) * sizeof(*s);
    return 0;
}

int
ttx_livetab_insert(ttx_livetab_t *t, uint64_t addr, uint64_t meta)
{
    size_t mask, i;
    if ((t->count + 1) * 4 > ((uint64_t)3 << t->bits) &&
        livetab_grow(t) < 0)
        return -1;
    mask = ((size_t)1 << t->bits) - 1;
    i = ttx_live_hash(addr, t->bits);
    while (t->slots[i].addr != 0)
        i = (i + 1) & mask;
    t->slots[i].addr = addr;
    t->slots[i].meta = meta;
    if (++t->count > t->peak)
        t->peak = t->count;
    return 0;
}

void
ttx_livetab_remove(ttx_livetab_t *t, ttx_live_t *e)
{
    size_t mask = ((size_t)1 << t->bits) - 1;
    size_t i = (size_t)(e - t->slots), j = i;
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
}

#endif /* TTX_HAVE_REFTRACER */
