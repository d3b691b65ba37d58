/* tt_chunk_counts.c - the 0x80 "line counts" ancillary chunk (FORMAT.md §13): its
 * writer (tt_writer_line_counts) and its strict decoder (tt_line_counts_*).
 *
 * Owns: the record encoding of per-code-object line hit counts and call
 * counts, as `tracetap run --count` writes them at stop. Must not: print,
 * trust a count before checking it against the bytes left, or write a
 * record naming an undefined code id. Threads: the writer's owner thread
 * (the GIL in capture); a tt_line_counts_t belongs to one thread.
 */
#include <string.h>

#include "tt_reader_int.h"
#include "tt_varint.h"

#define LC_CHUNK_SOFT  (256u * 1024u)   /* start a new chunk beyond this */
#define LC_REC_HEAD    (5 + 10 + 5)     /* code, calls, n */
#define LC_PAIR_MAX    (10 + 10)        /* a line step and a count */

/* ------------------------------------------------------------- writing */

typedef tt__anc lc_out;         /* the 0x80 chunk being built */

/* Checks one table; returns its number of non-zero slots through *nz. */
static int lc_check(const tt_writer_t *w, const tt_count_table_t *t,
                    uint32_t *nz)
{
    uint32_t n = 0;
    if (t->code >= w->tab.n_codes || (t->n_slots && t->counts == NULL))
        return TT_EINVAL;
    if (t->n_slots && (t->base_line < 0 ||
                       (uint64_t)t->base_line + t->n_slots - 1 > INT32_MAX))
        return TT_EINVAL;
    for (uint32_t i = 0; i < t->n_slots; i++)
        n += t->counts[i] != 0;
    if ((uint64_t)n * LC_PAIR_MAX > TT__MAX_RECORD)
        return TT_ELIMIT;
    *nz = n;
    return 0;
}

/* Appends the record of one table (nz non-zero slots) to the chunk. */
static int lc_record(lc_out *o, const tt_count_table_t *t, uint32_t nz)
{
    size_t max = LC_REC_HEAD + (size_t)nz * LC_PAIR_MAX;
    int32_t prev = 0;
    uint8_t *p;
    int rc, first = 1;

    if (o->b.len - TT__CHUNK_HEAD >= LC_CHUNK_SOFT ||
        o->b.len - TT__CHUNK_HEAD + max > TT__MAX_PAYLOAD) {
        rc = tt__anc_flush(o);
        if (rc < 0)
            return rc;
    }
    rc = tt__bytes_reserve(&o->b, max + TT__CHUNK_TAIL);
    if (rc < 0)
        return rc;
    p = o->b.p + o->b.len;
    p = tt__put_varint(p, t->code);
    p = tt__put_varint(p, t->calls);
    p = tt__put_varint(p, nz);
    for (uint32_t i = 0; i < t->n_slots; i++) {
        int32_t line;
        if (t->counts[i] == 0)
            continue;
        line = (int32_t)(t->base_line + (int64_t)i);
        if (first)
            p = tt__put_varint(p, tt__zz((uint64_t)((int64_t)line -
                                   o->w->tab.firstline[t->code])));
        else
            p = tt__put_varint(p, (uint64_t)(line - prev - 1));
        p = tt__put_varint(p, t->counts[i]);
        prev = line;
        first = 0;
    }
    o->b.len = (size_t)(p - o->b.p);
    return 0;
}

/* Contract (tt.h): 0, or TT_EINVAL (an undefined code id, a NULL counts
 * array, lines outside 0..INT32_MAX) / TT_ELIMIT before anything is
 * written, or TT_ENOMEM / TT_EIO with the chunks written before the
 * failure left in the file (each is complete and valid on its own). Tables
 * with no call and no count write nothing. Pending definitions go first. */
int tt_writer_line_counts(tt_writer_t *w, const tt_count_table_t *tabs,
                          size_t n)
{
    lc_out o;
    uint32_t nz = 0;
    int rc;

    if (w == NULL || (n && tabs == NULL))
        return TT_EINVAL;
    for (size_t i = 0; i < n; i++) {
        rc = lc_check(w, &tabs[i], &nz);
        if (rc < 0)
            return rc;
    }
    rc = tt__anc_open(&o, w, TT_CHUNK_LINE_COUNTS);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        (void)lc_check(w, &tabs[i], &nz);
        if (nz == 0 && tabs[i].calls == 0)
            continue;
        rc = lc_record(&o, &tabs[i], nz);
    }
    if (rc == 0)
        rc = tt__anc_flush(&o);
    tt__anc_close(&o);
    if (rc < 0)
        tt__writer_error(w, rc);
    return rc;
}

/* ------------------------------------------------------------- reading */

struct tt_line_counts {
    tt_code_counts_t *recs;   /* owned; lines/counts point into `arena` */
    uint32_t n;
    size_t cap;
    uint32_t bad_chunks;
    tt__arena arena;
};

/* Contract (tt_reader_int.h). */
int tt__anc_records(const tt_reader_t *r, uint8_t type,
                    tt__anc_record_fn decode, void *ctx, uint32_t *bad)
{
    for (uint32_t i = 0; i < r->n_anc; i++) {
        const tt__ancchunk *a = &r->anc[i];
        const uint8_t *p = a->payload, *end = a->payload + a->len;
        if (a->type != type)
            continue;
        while (p < end) {
            int rc = decode(ctx, &p, end, a);
            if (rc == TT_ENOMEM)
                return rc;
            if (rc < 0) {
                (*bad)++;
                break;
            }
        }
    }
    return 0;
}

typedef struct {
    tt_line_counts_t *lc;
    const tt_reader_t *r;
} lc_ctx;

/* Decodes one record at *pp. 0 (advancing *pp), TT_ECORRUPT or TT_ENOMEM. */
static int lc_decode(void *ctx, const uint8_t **pp, const uint8_t *end,
                     const tt__ancchunk *a)
{
    uint32_t n_codes = a->n_codes;
    tt_line_counts_t *lc = ((lc_ctx *)ctx)->lc;
    const tt_reader_t *r = ((lc_ctx *)ctx)->r;
    const uint8_t *p = *pp;
    tt_code_counts_t rec;
    int32_t *lines;
    uint64_t *counts;
    int64_t line = 0;
    void *arr;

    memset(&rec, 0, sizeof rec);
    if (tt__get_u32(&p, end, &rec.code) < 0 || rec.code >= n_codes ||
        tt__get_varint(&p, end, &rec.calls) < 0 ||
        tt__get_u32(&p, end, &rec.n) < 0 ||
        rec.n > (uint64_t)(end - p) / 2)       /* each pair takes >= 2 */
        return TT_ECORRUPT;
    lines = tt__arena_alloc(&lc->arena, (size_t)rec.n * sizeof *lines + 1);
    counts = tt__arena_alloc(&lc->arena, (size_t)rec.n * sizeof *counts + 1);
    if (lines == NULL || counts == NULL)
        return TT_ENOMEM;
    for (uint32_t i = 0; i < rec.n; i++) {
        uint64_t u;
        if (tt__get_varint(&p, end, &u) < 0)
            return TT_ECORRUPT;
        if (i == 0) {
            int64_t d = tt__unzz_s(u);
            const tt_code_def_t *c = tt_reader_code(r, rec.code);
            if (d < -((int64_t)1 << 40) || d > ((int64_t)1 << 40))
                return TT_ECORRUPT;
            line = (int64_t)c->firstlineno + d;
        } else {
            if (u > INT32_MAX)
                return TT_ECORRUPT;
            line += (int64_t)u + 1;
        }
        if (line < 0 || line > INT32_MAX)
            return TT_ECORRUPT;
        lines[i] = (int32_t)line;
        if (tt__get_varint(&p, end, &counts[i]) < 0 || counts[i] == 0)
            return TT_ECORRUPT;
    }
    rec.lines = lines;
    rec.counts = counts;
    rec.context = a->context;
    arr = lc->recs;
    if (tt__grow(&arr, &lc->cap, (size_t)lc->n + 1, sizeof *lc->recs) < 0)
        return TT_ENOMEM;
    lc->recs = arr;
    lc->recs[lc->n++] = rec;
    *pp = p;
    return 0;
}

/* Contract (tt.h): 0 and *out, or TT_EINVAL / TT_ENOMEM with *out = NULL.
 * A malformed chunk keeps the records before the bad one and counts in
 * bad_chunks; reading goes on with the next chunk. */
int tt_line_counts_read(const tt_reader_t *r, tt_line_counts_t **out)
{
    tt_line_counts_t *lc;

    if (out == NULL)
        return TT_EINVAL;
    *out = NULL;
    if (r == NULL)
        return TT_EINVAL;
    lc = tt__malloc(sizeof *lc);
    if (lc == NULL)
        return TT_ENOMEM;
    memset(lc, 0, sizeof *lc);
    {
        lc_ctx ctx = {lc, r};
        if (tt__anc_records(r, TT_CHUNK_LINE_COUNTS, lc_decode, &ctx,
                            &lc->bad_chunks) < 0) {
            tt_line_counts_free(lc);
            return TT_ENOMEM;
        }
    }
    *out = lc;
    return 0;
}

uint32_t tt_line_counts_n(const tt_line_counts_t *lc)
{
    return lc ? lc->n : 0;
}

const tt_code_counts_t *tt_line_counts_get(const tt_line_counts_t *lc,
                                           uint32_t i)
{
    return lc && i < lc->n ? &lc->recs[i] : NULL;
}

uint32_t tt_line_counts_bad_chunks(const tt_line_counts_t *lc)
{
    return lc ? lc->bad_chunks : 0;
}

void tt_line_counts_free(tt_line_counts_t *lc)
{
    if (lc == NULL)
        return;
    tt__arena_free(&lc->arena);
    tt__free(lc->recs);
    tt__free(lc);
}
