/* tt_pb.h - a small protocol-buffers encoder for the Perfetto exporter:
 * varint, fixed-free length-delimited fields and nested messages, written
 * into one growable buffer (a message at a time; no schema, no library).
 * Must not: print or abort; a failure is sticky in pb->err and the caller
 * checks it once per message. No thread concerns (one owner).
 */
#ifndef TT_PB_H
#define TT_PB_H

#include "tt_internal.h"

#define TT_PB_DEPTH 8             /* nested messages open at once */

typedef struct {
    uint8_t *buf;                 /* owned (tt__malloc) */
    size_t len, cap;
    size_t open[TT_PB_DEPTH];     /* offsets of the length bytes of the
                                     open nested messages */
    int depth;
    int err;                      /* 0, TT_ENOMEM or TT_ELIMIT (too deep) */
} tt_pb_t;

#define TT_PB_VARINT 0u           /* wire types */
#define TT_PB_LEN    2u

/* Bytes a varint of v takes (1..10). */
static inline size_t tt__pb_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Makes room for `more` bytes; on failure sets pb->err and returns -1. */
int tt__pb_reserve(tt_pb_t *pb, size_t more);

/* Empties the buffer (keeps its memory); clears nothing else but len and
 * depth: a sticky error stays until the caller clears pb->err. */
static inline void tt__pb_reset(tt_pb_t *pb)
{
    pb->len = 0;
    pb->depth = 0;
}

/* Frees the buffer; pb is empty and reusable afterwards. */
void tt__pb_free(tt_pb_t *pb);

static inline void tt__pb_raw_varint(tt_pb_t *pb, uint64_t v)
{
    if (tt__pb_reserve(pb, 10) < 0)
        return;
    while (v >= 0x80) {
        pb->buf[pb->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    pb->buf[pb->len++] = (uint8_t)v;
}

/* A varint field (int32/int64/uint32/uint64/bool/enum: negative int64
 * values are passed as their two's complement). */
static inline void tt__pb_varint(tt_pb_t *pb, uint32_t field, uint64_t v)
{
    tt__pb_raw_varint(pb, (uint64_t)field << 3 | TT_PB_VARINT);
    tt__pb_raw_varint(pb, v);
}

/* A length-delimited field holding n bytes (string, bytes). */
void tt__pb_bytes(tt_pb_t *pb, uint32_t field, const void *p, size_t n);

/* A string field from a NUL-terminated string (NULL: the empty string). */
void tt__pb_str(tt_pb_t *pb, uint32_t field, const char *s);

/* Opens a nested message field; every begin needs its end. The length is
 * written at end in its shortest form (the body moves when it needs more
 * than one byte), so the output is canonical. */
void tt__pb_begin(tt_pb_t *pb, uint32_t field);
void tt__pb_end(tt_pb_t *pb);

#endif /* TT_PB_H */
