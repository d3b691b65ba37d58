/* test_livetable.c - the extension's live-object table (src/ext/objects/
 * livetable.c, linked here without Python): inserts, replacements and
 * backward-shift removals checked against a plain reference array over
 * many random operations with growth and colliding probe chains; the
 * may-contain bitmap never hides a held address; allocation failures at
 * init and at growth leave the table as the contract says.
 */
#include "tt_test.h"
#include "livetable.h"

/* ------------------------------------------------ a failing allocator */

static int alloc_left = -1;      /* allocations until failure; -1 never */
static size_t alloc_live;        /* blocks handed out and not freed */

static void *
test_calloc(size_t n, size_t size)
{
    void *p;
    if (alloc_left == 0)
        return NULL;
    if (alloc_left > 0)
        alloc_left--;
    p = calloc(n, size);
    if (p != NULL)
        alloc_live++;
    return p;
}

static void
test_free(void *p)
{
    if (p != NULL)
        alloc_live--;
    free(p);
}

static const ttx_livealloc_t alloc = {test_calloc, test_free};

/* ------------------------------------------------------ the reference */

/* What the table must hold: by pool index, the meta and whether held. */
typedef struct {
    uint64_t addr, meta;
    int held;
} ref_t;

static uint64_t rng = 88172645463325252ull;
static uint64_t
next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Every held address is found with its meta (and the bitmap admits it),
 * every other one is absent, and the count matches the used slots. */
static void
check_same(const ttx_livetab_t *t, const ref_t *ref, size_t n, size_t held)
{
    size_t i, used = 0, slots = (size_t)1 << t->bits;
    CHECK_EQ_U64(t->count, held);
    for (i = 0; i < n; i++) {
        ttx_live_t *e = ttx_livetab_find(t, ref[i].addr);
        if (!ref[i].held) {
            CHECK(e == NULL);
            CHECK(ttx_livetab_lookup(t, ref[i].addr) == NULL);
            continue;
        }
        CHECK(e != NULL);
        CHECK_EQ_U64(e->meta, ref[i].meta);
        CHECK(ttx_livetab_maybe(t, ref[i].addr));
        CHECK(ttx_livetab_lookup(t, ref[i].addr) == e);
    }
    for (i = 0; i < slots; i++)
        used += t->slots[i].addr != 0;
    CHECK_EQ_U64(used, held);
}

void
test_livetable_against_reference(void)
{
    ttx_livetab_t t;
    /* Addresses from a pool (so that inserts replace and removes hit) of
     * 16-aligned values in two dense runs: dense runs make the long probe
     * chains whose removal the backward shift must get right. */
    enum { POOL = 60000, OPS = 400000 };
    ref_t *ref = calloc(POOL, sizeof(*ref));
    size_t i, held = 0, peak = 0;

    CHECK(ref != NULL);
    for (i = 0; i < POOL; i++)
        ref[i].addr = (i & 1 ? 0x7f0000000000ull : 0x55550000ull) + 16u * (uint64_t)i;
    CHECK_EQ(ttx_livetab_init(&t, &alloc), 0);
    for (i = 0; i < OPS; i++) {
        uint64_t r = next_rand();
        ref_t *x = &ref[r % POOL];
        ttx_live_t *e = ttx_livetab_find(&t, x->addr);
        CHECK(x->held == (e != NULL));
        if ((r >> 32) % 3 != 0) {            /* put: insert or replace */
            uint64_t meta = ttx_live_meta((uint32_t)(r >> 40), r >> 8), old = 0;
            int rc = ttx_livetab_put(&t, x->addr, meta, &old);
            CHECK_EQ(rc, x->held);
            if (x->held)
                CHECK_EQ_U64(old, x->meta);
            else
                held++;
            x->meta = meta;
            x->held = 1;
        } else if (e != NULL) {              /* remove */
            ttx_livetab_remove(&t, e);
            x->held = 0;
            held--;
            CHECK(ttx_livetab_find(&t, x->addr) == NULL);
        }
        if (held > peak)
            peak = held;
        if (i % 50000 == 0)
            check_same(&t, ref, POOL, held);
    }
    check_same(&t, ref, POOL, held);
    CHECK_EQ_U64(t.peak, peak);
    CHECK(t.bits > 14);                      /* it grew */
    CHECK(t.peak_bytes >= ((uint64_t)1 << t.bits) * sizeof(ttx_live_t));
    /* remove everything: the table ends empty, every slot free */
    for (i = 0; i < POOL; i++) {
        if (!ref[i].held)
            continue;
        ttx_livetab_remove(&t, ttx_livetab_find(&t, ref[i].addr));
        ref[i].held = 0;
        held--;
    }
    check_same(&t, ref, POOL, held);
    ttx_livetab_free(&t);
    CHECK_EQ_U64(alloc_live, 0);
    free(ref);
}

void
test_livetable_meta_packing(void)
{
    uint64_t m = ttx_live_meta(TTX_LIVE_ID_MAX, (uint64_t)12345 << TTX_LIVE_TICK_SHIFT);
    CHECK_EQ_U64(ttx_live_id(m), TTX_LIVE_ID_MAX);
    CHECK_EQ_U64(ttx_live_birth(m), (uint64_t)12345 << TTX_LIVE_TICK_SHIFT);
    /* ids wrap into their 24 bits; birth loses the ticks below the shift */
    m = ttx_live_meta(TTX_LIVE_ID_MAX + 2u, 1000);
    CHECK_EQ_U64(ttx_live_id(m), 1);
    CHECK_EQ_U64(ttx_live_birth(m), 1000u >> TTX_LIVE_TICK_SHIFT << TTX_LIVE_TICK_SHIFT);
}

void
test_livetable_alloc_failures(void)
{
    ttx_livetab_t t;
    uint64_t old, a;
    size_t cap;

    /* init: either allocation failing leaves nothing allocated */
    alloc_left = 0;
    CHECK_EQ(ttx_livetab_init(&t, &alloc), -1);
    CHECK_EQ_U64(alloc_live, 0);
    alloc_left = 1;
    CHECK_EQ(ttx_livetab_init(&t, &alloc), -1);
    CHECK_EQ_U64(alloc_live, 0);
    ttx_livetab_free(&t);                    /* a second free is harmless */

    /* growth fails: a new address is refused with the table unchanged,
     * a held one is still replaced in place */
    alloc_left = -1;
    CHECK_EQ(ttx_livetab_init(&t, &alloc), 0);
    cap = (size_t)1 << t.bits;
    for (a = 1; t.count * 4 + 4 <= (uint64_t)3 * cap; a++)
        CHECK_EQ(ttx_livetab_put(&t, a * 16, a, &old), 0);
    alloc_left = 0;
    CHECK_EQ(ttx_livetab_put(&t, a * 16, a, &old), -1);
    CHECK(ttx_livetab_find(&t, a * 16) == NULL);
    CHECK_EQ_U64(t.count, a - 1);
    CHECK_EQ(t.bits, (uint32_t)__builtin_ctzll(cap));
    CHECK_EQ(ttx_livetab_put(&t, 16, 777, &old), 1);
    CHECK_EQ_U64(old, 1);
    CHECK_EQ_U64(ttx_livetab_find(&t, 16)->meta, 777);
    /* memory comes back: the same insert grows the table and succeeds */
    alloc_left = -1;
    CHECK_EQ(ttx_livetab_put(&t, a * 16, a, &old), 0);
    CHECK_EQ(t.bits, (uint32_t)__builtin_ctzll(cap) + 1);
    for (old = 2; old <= a; old++)
        CHECK_EQ_U64(ttx_livetab_find(&t, old * 16)->meta, old);
    ttx_livetab_free(&t);
    CHECK_EQ_U64(alloc_live, 0);
}
