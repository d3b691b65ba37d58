/* tt_export_pb.c - the spill paths of the protobuf encoder (tt_pb.h): growing the
 * buffer and closing nested messages.
 * Must not: print or abort; errors are sticky in pb->err. One owner.
 */
#include <string.h>

#include "tt_pb.h"

/* Contract (tt_pb.h): 0, or -1 with pb->err set and the buffer unchanged. */
int tt__pb_reserve(tt_pb_t *pb, size_t more)
{
    void *p;
    if (TT_UNLIKELY(pb->err))
        return -1;
    if (TT_LIKELY(pb->cap - pb->len >= more))
        return 0;
    p = pb->buf;
    if (tt__grow(&p, &pb->cap, pb->len + more, 1) < 0) {
        pb->err = TT_ENOMEM;
        return -1;
    }
    pb->buf = p;
    return 0;
}

void tt__pb_free(tt_pb_t *pb)
{
    tt__free(pb->buf);
    memset(pb, 0, sizeof *pb);
}

/* Contract (tt_pb.h): on failure pb->err is set and nothing is written. */
void tt__pb_bytes(tt_pb_t *pb, uint32_t field, const void *p, size_t n)
{
    tt__pb_raw_varint(pb, (uint64_t)field << 3 | TT_PB_LEN);
    tt__pb_raw_varint(pb, n);
    if (n == 0 || tt__pb_reserve(pb, n) < 0)
        return;
    memcpy(pb->buf + pb->len, p, n);
    pb->len += n;
}

void tt__pb_str(tt_pb_t *pb, uint32_t field, const char *s)
{
    tt__pb_bytes(pb, field, s ? s : "", s ? strlen(s) : 0);
}

/* Contract (tt_pb.h): more than TT_PB_DEPTH open messages set TT_ELIMIT. */
void tt__pb_begin(tt_pb_t *pb, uint32_t field)
{
    if (pb->depth == TT_PB_DEPTH) {
        pb->err = pb->err ? pb->err : TT_ELIMIT;
        return;
    }
    tt__pb_raw_varint(pb, (uint64_t)field << 3 | TT_PB_LEN);
    if (tt__pb_reserve(pb, 1) < 0)
        return;
    pb->open[pb->depth++] = pb->len++;    /* one length byte for now */
}

void tt__pb_end(tt_pb_t *pb)
{
    size_t at, body, n;
    if (pb->err || pb->depth == 0) {
        if (!pb->err)
            pb->err = TT_ELIMIT;          /* an end without a begin */
        return;
    }
    at = pb->open[--pb->depth];
    body = pb->len - at - 1;
    n = tt__pb_varint_len(body);
    if (n > 1) {
        if (tt__pb_reserve(pb, n - 1) < 0)
            return;
        memmove(pb->buf + at + n, pb->buf + at + 1, body);
        pb->len += n - 1;
    }
    for (size_t i = 0; i + 1 < n; i++, body >>= 7)
        pb->buf[at + i] = (uint8_t)(body | 0x80);
    pb->buf[at + n - 1] = (uint8_t)body;
}
