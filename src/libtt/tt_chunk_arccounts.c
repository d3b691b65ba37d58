/* tt_chunk_arccounts.c - the 0x83 "arc counts" ancillary chunk (FORMAT.md §16):
 * its writer (tt_writer_arc_counts) and its strict decoder
 * (tt_arc_counts_*), for `tracetap run --count --branch`.
 *
 * Owns: the record encoding of per-code-object arc counts. Must not:
 * print, trust a count before checking it against the bytes left, or write
 * a record naming an undefined code id. Threads: the writer's owner thread
 * (the GIL in capture); a tt_arc_counts_t belongs to one thread.
 */
#include <string.h>

#include "tt_reader_int.h"
#include "tt_varint.h"

#define AC_CHUNK_SOFT  (256u * 1024u)   /* start a new chunk beyond this */
#define AC_REC_HEAD    (5 + 5)          /* code, n */
#define AC_ARC_MAX     (10 + 10 + 10)   /* from, to - from, count */

/* Contract (tt.h). */
int tt_writer_arc_counts(tt_writer_t *w, const tt_code_arcs_t *tabs,
                         size_t n)
{
    tt__anc o;
    int rc;

    if (w == NULL || (n && tabs == NULL))
        return TT_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (tabs[i].code >= w->tab.n_codes ||
            (tabs[i].n && tabs[i].arcs == NULL))
            return TT_EINVAL;
        if ((uint64_t)tabs[i].n * AC_ARC_MAX > TT__MAX_RECORD)
            return TT_ELIMIT;
    }
    rc = tt__anc_open(&o, w, TT_CHUNK_ARC_COUNTS);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const tt_code_arcs_t *t = &tabs[i];
        size_t max = AC_REC_HEAD + (size_t)t->n * AC_ARC_MAX;
        uint32_t nz = 0;
        uint8_t *p;

        for (uint32_t k = 0; k < t->n; k++)
            nz += t->arcs[k].count != 0;
        if (nz == 0)
            continue;
        if (o.b.len - TT__CHUNK_HEAD >= AC_CHUNK_SOFT ||
            o.b.len - TT__CHUNK_HEAD + max > TT__MAX_PAYLOAD) {
            if ((rc = tt__anc_flush(&o)) < 0)
                break;
        }
        if ((rc = tt__bytes_reserve(&o.b, max + TT__CHUNK_TAIL)) < 0)
            break;
        p = o.b.p + o.b.len;
        p = tt__put_varint(p, t->code);
        p = tt__put_varint(p, nz);
        for (uint32_t k = 0; k < t->n; k++) {
            const tt_cov_arc_t *a = &t->arcs[k];
            if (a->count == 0)
                continue;
            p = tt__put_varint(p, tt__zz((uint64_t)(int64_t)a->from));
            p = tt__put_varint(p, tt__zz((uint64_t)((int64_t)a->to - a->from)));
            p = tt__put_varint(p, a->count);
        }
        o.b.len = (size_t)(p - o.b.p);
    }
    if (rc == 0)
        rc = tt__anc_flush(&o);
    tt__anc_close(&o);
    if (rc < 0)
        tt__writer_error(w, rc);
    return rc;
}

struct tt_arc_counts {
    tt_code_arcs_t *recs;     /* owned; arcs point into `arena` */
    uint32_t n;
    size_t cap;
    uint32_t bad_chunks;
    tt__arena arena;
};

/* Decodes one record at *pp. 0 (advancing *pp), TT_ECORRUPT or TT_ENOMEM. */
static int ac_decode(void *ctx, const uint8_t **pp, const uint8_t *end,
                     const tt__ancchunk *a)
{
    uint32_t n_codes = a->n_codes;
    tt_arc_counts_t *ac = ctx;
    const uint8_t *p = *pp;
    tt_code_arcs_t rec;
    tt_cov_arc_t *arcs;
    void *arr;

    memset(&rec, 0, sizeof rec);
    if (tt__get_u32(&p, end, &rec.code) < 0 || rec.code >= n_codes ||
        tt__get_u32(&p, end, &rec.n) < 0 ||
        rec.n > (uint64_t)(end - p) / 3)       /* each arc takes >= 3 */
        return TT_ECORRUPT;
    arcs = tt__arena_alloc(&ac->arena, (size_t)rec.n * sizeof *arcs + 1);
    if (arcs == NULL)
        return TT_ENOMEM;
    for (uint32_t i = 0; i < rec.n; i++) {
        uint64_t uf, ut;
        int64_t from, to;
        if (tt__get_varint(&p, end, &uf) < 0 ||
            tt__get_varint(&p, end, &ut) < 0 ||
            tt__get_varint(&p, end, &arcs[i].count) < 0 ||
            arcs[i].count == 0)
            return TT_ECORRUPT;
        from = tt__unzz_s(uf);
        if (from < INT32_MIN + 1 || from > INT32_MAX)
            return TT_ECORRUPT;
        to = tt__unzz_s(ut);
        if (to < -((int64_t)1 << 33) || to > ((int64_t)1 << 33))
            return TT_ECORRUPT;
        to += from;
        if (to < INT32_MIN + 1 || to > INT32_MAX)
            return TT_ECORRUPT;
        arcs[i].from = (int32_t)from;
        arcs[i].to = (int32_t)to;
    }
    rec.arcs = arcs;
    arr = ac->recs;
    if (tt__grow(&arr, &ac->cap, (size_t)ac->n + 1, sizeof *ac->recs) < 0)
        return TT_ENOMEM;
    ac->recs = arr;
    ac->recs[ac->n++] = rec;
    *pp = p;
    return 0;
}

/* Contract (tt.h). */
int tt_arc_counts_read(const tt_reader_t *r, tt_arc_counts_t **out)
{
    tt_arc_counts_t *ac;

    if (out == NULL)
        return TT_EINVAL;
    *out = NULL;
    if (r == NULL)
        return TT_EINVAL;
    ac = tt__malloc(sizeof *ac);
    if (ac == NULL)
        return TT_ENOMEM;
    memset(ac, 0, sizeof *ac);
    if (tt__anc_records(r, TT_CHUNK_ARC_COUNTS, ac_decode, ac,
                        &ac->bad_chunks) < 0) {
        tt_arc_counts_free(ac);
        return TT_ENOMEM;
    }
    *out = ac;
    return 0;
}

uint32_t tt_arc_counts_n(const tt_arc_counts_t *ac)
{
    return ac ? ac->n : 0;
}

const tt_code_arcs_t *tt_arc_counts_get(const tt_arc_counts_t *ac,
                                        uint32_t i)
{
    return ac && i < ac->n ? &ac->recs[i] : NULL;
}

uint32_t tt_arc_counts_bad_chunks(const tt_arc_counts_t *ac)
{
    return ac ? ac->bad_chunks : 0;
}

void tt_arc_counts_free(tt_arc_counts_t *ac)
{
    if (ac == NULL)
        return;
    tt__arena_free(&ac->arena);
    tt__free(ac->recs);
    tt__free(ac);
}
