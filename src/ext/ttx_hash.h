/* ttx_hash.h - the one hash of the extension's open-addressing tables:
 * Fibonacci hashing (the top bits of key * 2^64/phi), over addresses with
 * the allocator's 16-byte alignment shifted out, or over a key the table
 * has already mixed (a string's FNV-1a, a packed pair).
 *
 * Must not: include Python.h (livetable.h, unit-tested without Python,
 * uses it). Pure inline functions, no state.
 */
#ifndef TTX_HASH_H
#define TTX_HASH_H

#include <stddef.h>
#include <stdint.h>

#define TTX_FIB 0x9E3779B97F4A7C15ull   /* 2^64 / golden ratio, odd */

/* key * 2^64/phi, all 64 bits: for tables that keep the product. */
static inline uint64_t
ttx_fib(uint64_t key)
{
    return key * TTX_FIB;
}

/* The home slot of `key` in a table of 1 << bits slots (1 <= bits <= 63). */
static inline size_t
ttx_fib_slot(uint64_t key, uint32_t bits)
{
    return (size_t)(ttx_fib(key) >> (64 - bits));
}

/* The home slot of an object address (16-byte aligned). */
static inline size_t
ttx_addr_slot(uint64_t addr, uint32_t bits)
{
    return ttx_fib_slot(addr >> 4, bits);
}

#endif /* TTX_HASH_H */
