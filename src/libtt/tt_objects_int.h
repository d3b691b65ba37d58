/* tt_objects_int.h - private declarations of the object-lifetime code of
 * libtt: the 0x81 chunk's record kinds and its decoder, shared by
 * tt_chunk_objagg.c (encoding and decoding) and tt_analyze_objects.c (the analysis).
 * Never included outside src/libtt, tests and fuzz. No state, no threads.
 */
#ifndef TT_OBJECTS_INT_H
#define TT_OBJECTS_INT_H

#include "tt_internal.h"

/* Record kinds inside a 0x81 payload (FORMAT.md §14). */
#define TT__OA_SUMMARY   0x01
#define TT__OA_ROW       0x02
#define TT__OA_VERDICT   0x03
#define TT__OA_ANCILLARY 0x80        /* 0x80..0xFF: skipped by old readers */
#define TT__OA_IMPORTS   0x80        /* import spans */
#define TT__OA_PATH      0x81        /* a survivor's referrer chain */

/* VERDICT statuses. */
#define TT__OA_DEAD        1         /* survivor proven gone at stop */
#define TT__OA_UNVERIFIED  2         /* survivor that could not be checked */

/* What the decoder hands out, record by record. A callback returning a
 * negative code stops decoding with that code. */
typedef struct {
    int (*summary)(void *ctx, const tt_objagg_summary_t *s);
    int (*row)(void *ctx, const tt_objstat_t *row);
    int (*verdict)(void *ctx, int status, uint64_t addr);
    /* Optional (NULL: the records are checked and skipped). */
    int (*span)(void *ctx, const tt_objspan_t *s);
    /* `path` owns the block (tt__malloc'd: steps, then their labels) and
     * frees it with tt__free, also when it fails. */
    int (*path)(void *ctx, uint64_t addr, tt_objpath_step_t *steps,
                uint32_t n);
} tt__objagg_sink;

/* tt_chunk_objextra.c: decodes the body of an IMPORTS or PATH record and hands
 * it to the sink. 0, TT_ECORRUPT, TT_ENOMEM or a callback's code. */
int tt__objagg_decode_spans(const uint8_t *b, const uint8_t *be,
                            const tt__objagg_sink *sink, void *ctx);
int tt__objagg_decode_path(const uint8_t *b, const uint8_t *be,
                           const tt__objagg_sink *sink, void *ctx);

/* Decodes one 0x81 payload. Code and type ids must be below n_codes and
 * n_types (the definitions before the chunk). Returns 0, TT_ECORRUPT (the
 * records before the bad one were delivered) or a callback's code. */
int tt__objagg_decode(const uint8_t *p, size_t len, uint32_t n_codes,
                      uint32_t n_types, const tt__objagg_sink *sink,
                      void *ctx);

/* The log2 bucket of a lifetime in ticks: 0 for 0, else bit length. */
static inline unsigned tt__obj_bucket(uint64_t ticks)
{
    unsigned b = 0;
    while (ticks) {
        b++;
        ticks >>= 1;
    }
    return b < TT_OBJ_BUCKETS ? b : TT_OBJ_BUCKETS - 1;
}

#endif /* TT_OBJECTS_INT_H */
