/* tt_varint.h - bounds-checked decoding of LEB128 varints and zigzag.
 *
 * Owns: the strict varint reader used by every parser in libtt. It rejects
 * truncated, overlong (non-canonical) and overflowing encodings.
 * Must not: read past `end`, ever. Encoding lives in tt_tbuf.h (hot path).
 * No state, no thread concerns.
 */
#ifndef TT_VARINT_H
#define TT_VARINT_H

#include "tt.h"

/* Reads one varint at *pp (< end) into *out and advances *pp. Returns 0, or
 * TT_ECORRUPT with *pp and *out unchanged. */
TT_INLINE int tt__get_varint(const uint8_t **pp, const uint8_t *end,
                             uint64_t *out)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;
    unsigned shift = 0;
    uint8_t c;

    if (TT_LIKELY(p < end && *p < 0x80)) {
        *out = *p;
        *pp = p + 1;
        return 0;
    }
    for (;;) {
        if (TT_UNLIKELY(p >= end))
            return TT_ECORRUPT;                 /* runs off the end */
        c = *p++;
        if (TT_UNLIKELY(shift == 63 && c > 1))
            return TT_ECORRUPT;                 /* more than 64 bits */
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            break;
        shift += 7;
    }
    if (TT_UNLIKELY(c == 0 && shift != 0))
        return TT_ECORRUPT;                     /* overlong: trailing zero */
    *out = v;
    *pp = p;
    return 0;
}

/* The same for a value that must fit 32 bits. */
TT_INLINE int tt__get_u32(const uint8_t **pp, const uint8_t *end,
                          uint32_t *out)
{
    uint64_t v;
    const uint8_t *p = *pp;
    if (tt__get_varint(&p, end, &v) < 0 || v > UINT32_MAX)
        return TT_ECORRUPT;
    *out = (uint32_t)v;
    *pp = p;
    return 0;
}

/* Inverse of tt__zz: the two's-complement value, held unsigned. */
TT_INLINE uint64_t tt__unzz(uint64_t v)
{
    return (v >> 1) ^ (0 - (v & 1));
}

/* A zigzag value as a signed 64-bit integer, without implementation-defined
 * conversions. */
TT_INLINE int64_t tt__unzz_s(uint64_t v)
{
    uint64_t u = tt__unzz(v);
    return u <= (uint64_t)INT64_MAX ? (int64_t)u
                                    : -(int64_t)(~u) - 1;
}

#endif /* TT_VARINT_H */
