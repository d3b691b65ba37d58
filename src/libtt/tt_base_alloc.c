/* tt_base_alloc.c - every heap allocation libtt makes, and its failure hook.
 *
 * Owns: tt__malloc/tt__realloc/tt__free, tt__grow (array doubling with
 * overflow checks) and the test hook that fails the N-th allocation.
 * Must not: print, abort, or be bypassed by other libtt files (no bare malloc).
 * Threads: the functions are thread-safe as libc's are; the hook state is
 * plain globals meant for single-threaded tests.
 */
#include <stdlib.h>

#include "tt_internal.h"

static long fail_countdown;   /* >0: fail when it reaches 0 (tests only) */
static int fail_sticky;       /* keep failing once failed (tests only) */
static long alloc_calls;      /* since the last arming (tests only) */

void tt__alloc_fail_at(long n, int sticky)
{
    fail_countdown = n > 0 ? n : 0;
    fail_sticky = n > 0 && sticky;
    alloc_calls = 0;
}

long tt__alloc_count(void)
{
    return alloc_calls;
}

/* Returns 1 if this allocation must fail. */
static int should_fail(void)
{
    alloc_calls++;
    if (fail_countdown <= 0)
        return 0;
    if (fail_countdown == 1) {
        if (!fail_sticky)
            fail_countdown = 0;
        return 1;
    }
    fail_countdown--;
    return 0;
}

void *tt__malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *tt__realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void tt__free(void *p)
{
    free(p);
}

int tt__grow(void **p, size_t *cap, size_t need, size_t size)
{
    size_t ncap;
    void *np;

    if (need <= *cap)
        return 0;
    ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return TT_ELIMIT;
        ncap *= 2;
    }
    if (size && ncap > SIZE_MAX / size)
        return TT_ELIMIT;
    np = tt__realloc(*p, ncap * size);
    if (np == NULL)
        return TT_ENOMEM;
    *p = np;
    *cap = ncap;
    return 0;
}
