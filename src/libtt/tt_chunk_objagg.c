/* tt_chunk_objagg.c - the 0x81 "object aggregates" ancillary chunk (FORMAT.md
 * §14): its writer (tt_writer_objagg) and its strict decoder.
 *
 * Owns: the record encoding of summaries, (site, type) rows and survivor
 * verdict lists. Must not: print, trust a count before checking it against
 * the bytes left, or write a row naming an undefined id. Threads: the
 * writer's owner thread (the GIL in capture); the decoder is pure.
 */
#include <stdlib.h>
#include <string.h>

#include "tt_objects_int.h"
#include "tt_varint.h"

#define OA_CHUNK_SOFT  (256u * 1024u)   /* start a new chunk beyond this */
#define OA_REC_MAX     (16 + 10 * (12 + TT_OBJ_BUCKETS))  /* longest record */

/* ------------------------------------------------------------ writing */

typedef tt__anc oa_out;         /* the 0x81 chunk being built */

/* Makes room for one record of at most OA_REC_MAX bytes; returns where its
 * body goes (after the kind byte and a 2-byte length slot). */
static int oa_begin(oa_out *o, uint8_t **body)
{
    int rc;
    if (o->b.len - TT__CHUNK_HEAD >= OA_CHUNK_SOFT) {
        rc = tt__anc_flush(o);
        if (rc < 0)
            return rc;
    }
    rc = tt__bytes_reserve(&o->b, OA_REC_MAX + TT__CHUNK_TAIL);
    if (rc < 0)
        return rc;
    *body = o->b.p + o->b.len + 3;
    return 0;
}

/* Finishes the record begun by oa_begin: kind, varint length, body. Bodies
 * are shorter than 2^14, so the length takes at most two bytes. */
static void oa_end(oa_out *o, uint8_t kind, uint8_t *end)
{
    uint8_t *start = o->b.p + o->b.len, *body = start + 3, *p = start;
    size_t n = (size_t)(end - body);

    TT_ASSERT(n < (1u << 14));
    *p++ = kind;
    p = tt__put_varint(p, n);
    memmove(p, body, n);
    o->b.len = (size_t)(p + n - o->b.p);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A VERDICT list: sorted copies, at most 1000 addresses per record. */
static int oa_verdicts(oa_out *o, int status, const uint64_t *addrs, size_t n)
{
    uint64_t *s, prev = 0;
    size_t i = 0;
    int rc = 0;

    if (n == 0)
        return 0;
    if (n > SIZE_MAX / sizeof *s)
        return TT_ENOMEM;
    s = tt__malloc(n * sizeof *s);
    if (s == NULL)
        return TT_ENOMEM;
    memcpy(s, addrs, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_u64);
    while (i < n && rc == 0) {
        size_t k = n - i < 1000 ? n - i : 1000;
        uint8_t *p;
        /* 1000 addresses of <= 10 bytes need their own reservation. */
        if (o->b.len - TT__CHUNK_HEAD >= OA_CHUNK_SOFT)
            rc = tt__anc_flush(o);
        if (rc == 0)
            rc = tt__bytes_reserve(&o->b, 3 + 20 + k * 10 + TT__CHUNK_TAIL);
        if (rc < 0)
            break;
        {
            uint8_t *start = o->b.p + o->b.len, *body = start + 4;
            size_t blen;
            p = body;
            prev = 0;               /* each record's deltas start from 0 */
            p = tt__put_varint(p, (uint64_t)status);
            p = tt__put_varint(p, k);
            for (size_t j = 0; j < k; j++, i++) {
                p = tt__put_varint(p, tt__zz(s[i] - prev));
                prev = s[i];
            }
            blen = (size_t)(p - body);
            /* body < 10022 bytes: a 2-byte varint length at most */
            start[0] = TT__OA_VERDICT;
            p = tt__put_varint(start + 1, blen);
            memmove(p, body, blen);
            o->b.len = (size_t)(p + blen - o->b.p);
        }
    }
    tt__free(s);
    return rc;
}

/* See tt.h. */
int tt_writer_objagg(tt_writer_t *w, const tt_objagg_summary_t *sum,
                     const tt_objstat_t *rows, size_t n_rows,
                     const uint64_t *dead, size_t n_dead,
                     const uint64_t *unverified, size_t n_unverified)
{
    oa_out o;
    uint8_t *p;
    int rc;

    if (w == NULL || sum == NULL || (n_rows && rows == NULL) ||
        (n_dead && dead == NULL) || (n_unverified && unverified == NULL))
        return TT_EINVAL;
    for (size_t i = 0; i < n_rows; i++) {
        const tt_objstat_t *r = &rows[i];
        if ((r->code != TT_NO_CODE && r->code >= w->tab.n_codes) ||
            r->type >= w->tab.n_types || r->unverified > r->survived)
            return TT_EINVAL;
    }
    /* Rows use code and type ids: their definitions go out first. */
    rc = tt__anc_open(&o, w, TT_CHUNK_OBJAGG);
    if (rc < 0)
        return rc;

    rc = oa_begin(&o, &p);
    if (rc < 0)
        goto done;
    p = tt__put_varint(p, sum->flags);
    p = tt__put_varint(p, sum->repaired);
    p = tt__put_varint(p, sum->filtered);
    oa_end(&o, TT__OA_SUMMARY, p);

    for (size_t i = 0; i < n_rows; i++) {
        const tt_objstat_t *r = &rows[i];
        unsigned nb = TT_OBJ_BUCKETS;
        rc = oa_begin(&o, &p);
        if (rc < 0)
            goto done;
        while (nb > 0 && r->lifetime[nb - 1] == 0)
            nb--;
        p = tt__put_varint(p, r->code == TT_NO_CODE ? 0 : (uint64_t)r->code + 1);
        p = tt__put_varint(p, tt__zz((uint64_t)(int64_t)r->line));
        p = tt__put_varint(p, r->offset == TT_NO_OFFSET
                                  ? 0 : (uint64_t)r->offset + 1);
        p = tt__put_varint(p, r->type);
        p = tt__put_varint(p, r->created);
        p = tt__put_varint(p, r->destroyed);
        p = tt__put_varint(p, r->survived);
        p = tt__put_varint(p, r->unverified);
        p = tt__put_varint(p, r->died_unseen);
        p = tt__put_varint(p, nb);
        for (unsigned b = 0; b < nb; b++)
            p = tt__put_varint(p, r->lifetime[b]);
        oa_end(&o, TT__OA_ROW, p);
    }
    rc = oa_verdicts(&o, TT__OA_DEAD, dead, n_dead);
    if (rc == 0)
        rc = oa_verdicts(&o, TT__OA_UNVERIFIED, unverified, n_unverified);
    if (rc == 0)
        rc = tt__anc_flush(&o);
done:
    /* An I/O error is already the writer's (tt__writer_chunk); running out
     * of memory only loses this report, as for definitions. */
    tt__anc_close(&o);
    return rc;
}

/* ------------------------------------------------------------ decoding */

static int get_line(const uint8_t **p, const uint8_t *e, int32_t *line)
{
    uint64_t v;
    int64_t s;
    if (tt__get_varint(p, e, &v) < 0)
        return TT_ECORRUPT;
    s = tt__unzz_s(v);
    if (s < INT32_MIN || s > INT32_MAX)
        return TT_ECORRUPT;
    *line = (int32_t)s;
    return 0;
}

static int decode_row(const uint8_t *p, const uint8_t *e, uint32_t n_codes,
                      uint32_t n_types, tt_objstat_t *r)
{
    uint32_t code1, off1, nb;

    memset(r, 0, sizeof *r);
    if (tt__get_u32(&p, e, &code1) < 0 || get_line(&p, e, &r->line) < 0 ||
        tt__get_u32(&p, e, &off1) < 0 || tt__get_u32(&p, e, &r->type) < 0 ||
        tt__get_varint(&p, e, &r->created) < 0 ||
        tt__get_varint(&p, e, &r->destroyed) < 0 ||
        tt__get_varint(&p, e, &r->survived) < 0 ||
        tt__get_varint(&p, e, &r->unverified) < 0 ||
        tt__get_varint(&p, e, &r->died_unseen) < 0 ||
        tt__get_u32(&p, e, &nb) < 0)
        return TT_ECORRUPT;
    if ((code1 != 0 && code1 - 1 >= n_codes) || r->type >= n_types ||
        r->unverified > r->survived || nb > TT_OBJ_BUCKETS)
        return TT_ECORRUPT;
    r->code = code1 ? code1 - 1 : TT_NO_CODE;
    r->offset = off1 ? off1 - 1 : TT_NO_OFFSET;
    for (uint32_t b = 0; b < nb; b++)
        if (tt__get_varint(&p, e, &r->lifetime[b]) < 0)
            return TT_ECORRUPT;
    return 0;                       /* trailing bytes: room for later fields */
}

/* See tt_objects_int.h. */
int tt__objagg_decode(const uint8_t *p, size_t len, uint32_t n_codes,
                      uint32_t n_types, const tt__objagg_sink *sink,
                      void *ctx)
{
    const uint8_t *end = p + len;
    int rc;

    while (p < end) {
        uint8_t kind = *p++;
        uint64_t n;
        const uint8_t *b, *be;
        if (tt__get_varint(&p, end, &n) < 0 || n > (uint64_t)(end - p))
            return TT_ECORRUPT;
        b = p;
        be = p + n;
        p = be;
        if (kind == TT__OA_SUMMARY) {
            tt_objagg_summary_t s;
            if (tt__get_u32(&b, be, &s.flags) < 0 ||
                tt__get_varint(&b, be, &s.repaired) < 0 ||
                tt__get_varint(&b, be, &s.filtered) < 0)
                return TT_ECORRUPT;
            if (sink->summary && (rc = sink->summary(ctx, &s)) < 0)
                return rc;
        } else if (kind == TT__OA_ROW) {
            tt_objstat_t r;
            if (decode_row(b, be, n_codes, n_types, &r) < 0)
                return TT_ECORRUPT;
            if (sink->row && (rc = sink->row(ctx, &r)) < 0)
                return rc;
        } else if (kind == TT__OA_VERDICT) {
            uint64_t status, count, addr = 0, d;
            if (tt__get_varint(&b, be, &status) < 0 ||
                tt__get_varint(&b, be, &count) < 0 ||
                (status != TT__OA_DEAD && status != TT__OA_UNVERIFIED) ||
                count > (uint64_t)(be - b))
                return TT_ECORRUPT;
            for (uint64_t i = 0; i < count; i++) {
                if (tt__get_varint(&b, be, &d) < 0)
                    return TT_ECORRUPT;
                addr += tt__unzz(d);
                if (sink->verdict &&
                    (rc = sink->verdict(ctx, (int)status, addr)) < 0)
                    return rc;
            }
        } else if (kind == TT__OA_IMPORTS) {
            if ((rc = tt__objagg_decode_spans(b, be, sink, ctx)) < 0)
                return rc;
        } else if (kind == TT__OA_PATH) {
            if ((rc = tt__objagg_decode_path(b, be, sink, ctx)) < 0)
                return rc;
        } else if (!(kind & TT__OA_ANCILLARY)) {
            return TT_ECORRUPT;     /* unknown required record kind */
        }
    }
    return 0;
}
