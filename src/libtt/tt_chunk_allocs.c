/* tt_chunk_allocs.c - the 0x85 "allocations" ancillary chunk (FORMAT.md §18):
 * bytes per creation stack, the peak and live bytes over time, as
 * `--objects --bytes` records them. Its writer (tt_writer_allocs), its
 * strict decoder and the loaded view (tt_allocs_*, stacks by id).
 * Must not: print, or trust a count or an id before checking it. Threads:
 * the writer's owner thread; the loaded view is read-only once built.
 */
#include <stdlib.h>
#include <string.h>

#include "tt_internal.h"
#include "tt_reader_int.h"
#include "tt_varint.h"

#define AL_SUMMARY 0x01
#define AL_STACK   0x02
#define AL_SITE    0x03
#define AL_SAMPLES 0x04
/* 0x80 and up, so that readers before them skip them (§18): */
#define AL_PSITE     0x83            /* SITE of a partial snapshot */
#define AL_PSAMPLES  0x84            /* SAMPLES of a partial snapshot */
#define AL_TYPE      0x86            /* bytes per type */
#define AL_ANCILLARY 0x80            /* 0x80..0xFF: skipped */
#define AL_CHUNK_SOFT (256u * 1024u)
#define AL_REC_MAX 160               /* longest record but SAMPLES */
#define AL_SAMPLES_PER_REC 512       /* 20 bytes each at most */

/* ------------------------------------------------------------ writing */

/* Appends one record (kind, varint length, body) of at most `max` body
 * bytes, built by the caller in `body`. */
static int al_put(tt__anc *o, uint8_t kind, const uint8_t *body, size_t n)
{
    uint8_t *p;
    int rc;
    if (o->b.len - TT__CHUNK_HEAD >= AL_CHUNK_SOFT &&
        (rc = tt__anc_flush(o)) < 0)
        return rc;
    rc = tt__bytes_reserve(&o->b, n + 11 + TT__CHUNK_TAIL);
    if (rc < 0)
        return rc;
    p = o->b.p + o->b.len;
    *p++ = kind;
    p = tt__put_varint(p, n);
    memcpy(p, body, n);
    o->b.len = (size_t)(p + n - o->b.p);
    return 0;
}

/* Writes n varints at p; returns the end. */
static uint8_t *al_put_all(uint8_t *p, const uint64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p = tt__put_varint(p, v[i]);
    return p;
}

/* The SUMMARY body of sum (flags as given); returns the end. */
static uint8_t *al_summary_body(uint8_t *p, const tt_alloc_summary_t *sum,
                                uint32_t flags)
{
    const uint64_t v[] = {flags, sum->depth, sum->allocs, sum->alloc_bytes,
                          sum->frees, sum->freed_bytes, sum->live_bytes,
                          sum->live_blocks, sum->peak_bytes, sum->peak_tick,
                          sum->untracked, sum->lost};
    return al_put_all(p, v, sizeof v / sizeof v[0]);
}

/* See tt.h. */
size_t tt_allocs_encode_summary(const tt_alloc_summary_t *sum, uint8_t *buf,
                                size_t cap)
{
    uint8_t body[AL_REC_MAX], *e;
    size_t n;
    if (sum == NULL || buf == NULL)
        return 0;
    e = al_summary_body(body, sum, sum->flags | TT_ALLOCS_PARTIAL);
    n = (size_t)(e - body);
    if (cap < n + 11)
        return 0;
    buf[0] = AL_SUMMARY;
    e = tt__put_varint(buf + 1, n);
    memcpy(e, body, n);
    return (size_t)(e + n - buf);
}

/* Checks a snapshot against what w has defined. 0 or TT_EINVAL. */
static int al_check(const tt_writer_t *w, const tt_alloc_snapshot_t *s)
{
    uint64_t n_stacks = (uint64_t)s->first_stack + s->n_stacks;
    if (s->sum == NULL || (s->n_stacks && s->stacks == NULL) ||
        (s->n_sites && s->sites == NULL) || (s->n_types && s->types == NULL) ||
        (s->n_samples && s->samples == NULL) || n_stacks >= UINT32_MAX)
        return TT_EINVAL;
    for (size_t i = 0; i < s->n_stacks; i++)
        if ((s->stacks[i].parent != TT_NO_STACK &&
             s->stacks[i].parent >= s->first_stack + i) ||
            (s->stacks[i].code != TT_NO_CODE &&
             s->stacks[i].code >= w->tab.n_codes))
            return TT_EINVAL;
    for (size_t i = 0; i < s->n_sites; i++)
        if (s->sites[i].stack != TT_NO_STACK && s->sites[i].stack >= n_stacks)
            return TT_EINVAL;
    for (size_t i = 0; i < s->n_types; i++)
        if (s->types[i].type != TT_ALLOC_BUFFERS &&
            s->types[i].type >= w->tab.n_types)
            return TT_EINVAL;
    return 0;
}

/* The records after the summary: stacks, sites, types, samples. */
static int al_put_body(tt__anc *o, const tt_alloc_snapshot_t *s, int partial)
{
    uint8_t buf[AL_SAMPLES_PER_REC * 20 + 16], *p;
    uint64_t tick, live;
    int rc = 0;

    for (size_t i = 0; i < s->n_stacks && rc == 0; i++) {
        const tt_alloc_frame_t *f = &s->stacks[i];
        p = buf;
        p = tt__put_varint(p, f->parent == TT_NO_STACK ? 0
                                                       : (uint64_t)f->parent + 1);
        p = tt__put_varint(p, f->code == TT_NO_CODE ? 0 : (uint64_t)f->code + 1);
        p = tt__put_varint(p, tt__zz((uint64_t)(int64_t)f->line));
        rc = al_put(o, AL_STACK, buf, (size_t)(p - buf));
    }
    for (size_t i = 0; i < s->n_sites && rc == 0; i++) {
        const tt_alloc_site_t *t = &s->sites[i];
        const uint64_t v[] = {t->stack == TT_NO_STACK ? 0
                                                      : (uint64_t)t->stack + 1,
                              t->allocs, t->alloc_bytes, t->frees,
                              t->freed_bytes, t->live_bytes, t->live_blocks,
                              t->peak_bytes};
        p = al_put_all(buf, v, sizeof v / sizeof v[0]);
        rc = al_put(o, partial ? AL_PSITE : AL_SITE, buf, (size_t)(p - buf));
    }
    for (size_t i = 0; i < s->n_types && rc == 0; i++) {
        const tt_alloc_type_t *t = &s->types[i];
        const uint64_t v[] = {t->type == TT_ALLOC_BUFFERS
                                  ? 0 : (uint64_t)t->type + 1,
                              t->allocs, t->alloc_bytes, t->frees,
                              t->freed_bytes, t->live_bytes, t->live_blocks,
                              t->peak_bytes};
        p = al_put_all(buf, v, sizeof v / sizeof v[0]);
        rc = al_put(o, AL_TYPE, buf, (size_t)(p - buf));
    }
    for (size_t i = 0; i < s->n_samples && rc == 0;) {
        size_t k = s->n_samples - i < AL_SAMPLES_PER_REC ? s->n_samples - i
                                                         : AL_SAMPLES_PER_REC;
        p = buf;
        p = tt__put_varint(p, k);
        tick = live = 0;            /* each record's deltas start from 0 */
        for (size_t j = 0; j < k; j++, i++) {
            /* deltas from the previous sample (the first from 0, 0) */
            p = tt__put_varint(p, s->samples[i].tick - tick);
            p = tt__put_varint(p, tt__zz(s->samples[i].live_bytes - live));
            tick = s->samples[i].tick;
            live = s->samples[i].live_bytes;
        }
        rc = al_put(o, partial ? AL_PSAMPLES : AL_SAMPLES, buf,
                    (size_t)(p - buf));
    }
    return rc;
}

/* See tt.h. */
int tt_writer_allocs_snapshot(tt_writer_t *w, const tt_alloc_snapshot_t *s)
{
    uint8_t buf[AL_REC_MAX], *p;
    tt__anc o;
    int rc, partial;

    if (w == NULL || s == NULL)
        return TT_EINVAL;
    rc = al_check(w, s);
    if (rc < 0)
        return rc;
    partial = (s->sum->flags & TT_ALLOCS_PARTIAL) != 0;
    rc = tt__anc_open(&o, w, TT_CHUNK_ALLOCS);
    if (rc < 0)
        return rc;
    p = al_summary_body(buf, s->sum, s->sum->flags);
    rc = al_put(&o, AL_SUMMARY, buf, (size_t)(p - buf));
    if (rc == 0)
        rc = al_put_body(&o, s, partial);
    if (rc == 0)
        rc = tt__anc_flush(&o);
    tt__anc_close(&o);
    return rc;
}

/* See tt.h. */
int tt_writer_allocs(tt_writer_t *w, const tt_alloc_summary_t *sum,
                     const tt_alloc_frame_t *stacks, size_t n_stacks,
                     const tt_alloc_site_t *sites, size_t n_sites,
                     const tt_alloc_sample_t *samples, size_t n_samples)
{
    tt_alloc_snapshot_t s;
    memset(&s, 0, sizeof s);
    s.sum = sum;
    s.stacks = stacks;
    s.n_stacks = n_stacks;
    s.sites = sites;
    s.n_sites = n_sites;
    s.samples = samples;
    s.n_samples = n_samples;
    return tt_writer_allocs_snapshot(w, &s);
}

/* ------------------------------------------------------------ reading */

/* A growable array of elem-sized items (tt__malloc). */
typedef struct {
    void *p;
    size_t n, cap;
} al_vec;

struct tt_allocs {
    tt_alloc_summary_t sum;          /* the last SUMMARY read */
    int present;                     /* a SUMMARY was read */
    uint32_t bad_chunks;
    uint32_t gen;                    /* SUMMARY records read */
    uint32_t psite_gen, type_gen;    /* the snapshot psites, types are of */
    al_vec stacks;                   /* tt_alloc_frame_t, all chunks */
    al_vec sites, psites;            /* tt_alloc_site_t: final, partial */
    al_vec types;                    /* tt_alloc_type_t, the last snapshot */
    al_vec samples, psamples;        /* tt_alloc_sample_t: final, partial */
    const al_vec *use_sites, *use_samples;   /* chosen at load */
};

/* Room for `more` items past v->n. 0 or TT_ENOMEM (v unchanged). */
static int al_grow(al_vec *v, size_t more, size_t elem)
{
    size_t c = v->cap ? v->cap : 64, need = v->n + more;
    void *q;
    if (need < v->n)
        return TT_ENOMEM;
    if (need <= v->cap)
        return 0;
    while (c < need)
        c *= 2;
    if (c > SIZE_MAX / elem)
        return TT_ENOMEM;
    q = tt__malloc(c * elem);
    if (q == NULL)
        return TT_ENOMEM;
    if (v->n)
        memcpy(q, v->p, v->n * elem);
    tt__free(v->p);
    v->p = q;
    v->cap = c;
    return 0;
}

/* Reads n varints in order into *v[0..n-1]. 0 or TT_ECORRUPT. */
static int al_get_all(const uint8_t **b, const uint8_t *e,
                      uint64_t *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (tt__get_varint(b, e, v[i]) < 0)
            return TT_ECORRUPT;
    return 0;
}

static int al_summary(tt_allocs_t *a, const uint8_t *b, const uint8_t *e)
{
    tt_alloc_summary_t s;
    uint64_t *const v[] = {&s.allocs, &s.alloc_bytes, &s.frees,
                           &s.freed_bytes, &s.live_bytes, &s.live_blocks,
                           &s.peak_bytes, &s.peak_tick, &s.untracked, &s.lost};
    if (tt__get_u32(&b, e, &s.flags) < 0 || tt__get_u32(&b, e, &s.depth) < 0 ||
        al_get_all(&b, e, v, sizeof v / sizeof v[0]) < 0)
        return TT_ECORRUPT;
    a->sum = s;
    a->present = 1;
    a->gen++;
    return 0;
}

static int al_stack(tt_allocs_t *a, const uint8_t *b, const uint8_t *e,
                    uint32_t n_codes)
{
    uint32_t parent1, code1;
    uint64_t v;
    int64_t line;
    tt_alloc_frame_t *f;
    int rc;
    if (tt__get_u32(&b, e, &parent1) < 0 || tt__get_u32(&b, e, &code1) < 0 ||
        tt__get_varint(&b, e, &v) < 0)
        return TT_ECORRUPT;
    line = tt__unzz_s(v);
    if ((parent1 != 0 && parent1 - 1 >= a->stacks.n) ||
        (code1 != 0 && code1 - 1 >= n_codes) || line < INT32_MIN ||
        line > INT32_MAX || a->stacks.n >= UINT32_MAX - 1)
        return TT_ECORRUPT;
    rc = al_grow(&a->stacks, 1, sizeof *f);
    if (rc < 0)
        return rc;
    f = (tt_alloc_frame_t *)a->stacks.p + a->stacks.n++;
    f->parent = parent1 ? parent1 - 1 : TT_NO_STACK;
    f->code = code1 ? code1 - 1 : TT_NO_CODE;
    f->line = (int32_t)line;
    return 0;
}

/* A SITE, PSITE or TYPE body: `id + 1` (0: none) below `limit`, then the
 * seven counters, checked. Sites and types share the layout. */
static int al_row(const uint8_t *b, const uint8_t *e, uint32_t limit,
                  tt_alloc_site_t *s)
{
    uint64_t *const v[] = {&s->allocs, &s->alloc_bytes, &s->frees,
                           &s->freed_bytes, &s->live_bytes, &s->live_blocks,
                           &s->peak_bytes};
    uint32_t id1;
    if (tt__get_u32(&b, e, &id1) < 0 ||
        al_get_all(&b, e, v, sizeof v / sizeof v[0]) < 0)
        return TT_ECORRUPT;
    if ((id1 != 0 && id1 - 1 >= limit) || s->frees > s->allocs ||
        s->live_blocks > s->allocs)
        return TT_ECORRUPT;
    s->stack = id1 ? id1 - 1 : UINT32_MAX;
    return 0;
}

/* Appends a row to v; a row of a later snapshot than *gen first empties
 * it (gen NULL: the final records, never emptied). */
static int al_add_row(tt_allocs_t *a, al_vec *v, uint32_t *gen,
                      const uint8_t *b, const uint8_t *e, uint32_t limit,
                      size_t elem)
{
    tt_alloc_site_t s;
    int rc = al_row(b, e, limit, &s);
    if (rc < 0)
        return rc;
    if (gen != NULL && *gen != a->gen) {
        v->n = 0;
        *gen = a->gen;
    }
    rc = al_grow(v, 1, elem);
    if (rc < 0)
        return rc;
    if (elem == sizeof(tt_alloc_type_t)) {
        tt_alloc_type_t t = {s.stack, s.allocs, s.alloc_bytes, s.frees,
                             s.freed_bytes, s.live_bytes, s.live_blocks,
                             s.peak_bytes};
        ((tt_alloc_type_t *)v->p)[v->n++] = t;
    } else {
        ((tt_alloc_site_t *)v->p)[v->n++] = s;
    }
    return 0;
}

static int al_samples(al_vec *out, const uint8_t *b, const uint8_t *e)
{
    uint64_t k, tick = 0, live = 0, dt, dl;
    tt_alloc_sample_t *sm;
    int rc;
    if (tt__get_varint(&b, e, &k) < 0 || k > (uint64_t)(e - b) / 2)
        return TT_ECORRUPT;
    rc = al_grow(out, (size_t)k, sizeof *sm);
    if (rc < 0)
        return rc;
    sm = out->p;
    for (uint64_t i = 0; i < k; i++) {
        if (tt__get_varint(&b, e, &dt) < 0 || tt__get_varint(&b, e, &dl) < 0)
            return TT_ECORRUPT;
        tick += dt;
        live += tt__unzz(dl);
        sm[out->n].tick = tick;
        sm[out->n].live_bytes = live;
        out->n++;
    }
    return 0;
}

/* Decodes one 0x85 payload into a. 0, TT_ECORRUPT (the records before the
 * bad one stay) or TT_ENOMEM. */
static int al_decode(tt_allocs_t *a, const tt__ancchunk *c)
{
    const uint8_t *p = c->payload, *end = p + c->len;
    uint32_t n_stacks;
    int rc = 0;
    while (p < end && rc == 0) {
        uint8_t kind = *p++;
        uint64_t n;
        const uint8_t *b;
        if (tt__get_varint(&p, end, &n) < 0 || n > (uint64_t)(end - p))
            return TT_ECORRUPT;
        b = p;
        p += n;
        n_stacks = (uint32_t)a->stacks.n;
        if (kind == AL_SUMMARY)
            rc = al_summary(a, b, p);
        else if (kind == AL_STACK)
            rc = al_stack(a, b, p, c->n_codes);
        else if (kind == AL_SITE)
            rc = al_add_row(a, &a->sites, NULL, b, p, n_stacks,
                            sizeof(tt_alloc_site_t));
        else if (kind == AL_PSITE)
            rc = al_add_row(a, &a->psites, &a->psite_gen, b, p, n_stacks,
                            sizeof(tt_alloc_site_t));
        else if (kind == AL_TYPE)
            rc = al_add_row(a, &a->types, &a->type_gen, b, p, c->n_types,
                            sizeof(tt_alloc_type_t));
        else if (kind == AL_SAMPLES)
            rc = al_samples(&a->samples, b, p);
        else if (kind == AL_PSAMPLES)
            rc = al_samples(&a->psamples, b, p);
        else if (!(kind & AL_ANCILLARY))
            rc = TT_ECORRUPT;
    }
    return rc;
}

static int cmp_site(const void *x, const void *y)
{
    const tt_alloc_site_t *a = x, *b = y;
    if (a->live_bytes != b->live_bytes)
        return a->live_bytes < b->live_bytes ? 1 : -1;
    if (a->alloc_bytes != b->alloc_bytes)
        return a->alloc_bytes < b->alloc_bytes ? 1 : -1;
    return a->stack < b->stack ? -1 : a->stack > b->stack;
}

static int cmp_type(const void *x, const void *y)
{
    const tt_alloc_type_t *a = x, *b = y;
    if (a->live_bytes != b->live_bytes)
        return a->live_bytes < b->live_bytes ? 1 : -1;
    if (a->alloc_bytes != b->alloc_bytes)
        return a->alloc_bytes < b->alloc_bytes ? 1 : -1;
    return a->type < b->type ? -1 : a->type > b->type;
}

/* See tt.h. */
int tt_allocs_load(tt_reader_t *r, tt_allocs_t **out)
{
    tt_allocs_t *a;
    if (r == NULL || out == NULL)
        return TT_EINVAL;
    *out = NULL;
    a = tt__malloc(sizeof *a);
    if (a == NULL)
        return TT_ENOMEM;
    memset(a, 0, sizeof *a);
    for (uint32_t i = 0; i < r->n_anc; i++) {
        const tt__ancchunk *c = &r->anc[i];
        int rc;
        if (c->type != TT_CHUNK_ALLOCS)
            continue;
        rc = al_decode(a, c);
        if (rc == TT_ENOMEM) {
            tt_allocs_free(a);
            return rc;
        }
        if (rc < 0)
            a->bad_chunks++;
    }
    /* A final snapshot (stop) holds everything; when the last summary is
     * a partial one (a killed or crashed process), the last partial
     * snapshot stands. */
    if (a->present && (a->sum.flags & TT_ALLOCS_PARTIAL)) {
        a->use_sites = &a->psites;
        a->use_samples = &a->psamples;
    } else {
        a->use_sites = &a->sites;
        a->use_samples = &a->samples;
    }
    if (a->use_sites->n > 1)
        qsort(a->use_sites->p, a->use_sites->n, sizeof(tt_alloc_site_t),
              cmp_site);
    if (a->types.n > 1)
        qsort(a->types.p, a->types.n, sizeof(tt_alloc_type_t), cmp_type);
    *out = a;
    return 0;
}

const tt_alloc_summary_t *tt_allocs_summary(const tt_allocs_t *a)
{
    return a != NULL && a->present ? &a->sum : NULL;
}

uint32_t tt_allocs_bad_chunks(const tt_allocs_t *a)
{
    return a ? a->bad_chunks : 0;
}

const tt_alloc_site_t *tt_allocs_site(const tt_allocs_t *a, size_t i)
{
    return a != NULL && i < a->use_sites->n
               ? (const tt_alloc_site_t *)a->use_sites->p + i : NULL;
}

const tt_alloc_type_t *tt_allocs_type(const tt_allocs_t *a, size_t i)
{
    return a != NULL && i < a->types.n
               ? (const tt_alloc_type_t *)a->types.p + i : NULL;
}

size_t tt_allocs_stack(const tt_allocs_t *a, uint32_t stack,
                       tt_alloc_frame_t *out, size_t max)
{
    size_t n = 0;
    if (a == NULL)
        return 0;
    /* Parents precede their children (checked at load): this ends. */
    while (stack != TT_NO_STACK && stack < a->stacks.n) {
        const tt_alloc_frame_t *f = (const tt_alloc_frame_t *)a->stacks.p +
                                    stack;
        if (n < max && out != NULL)
            out[n] = *f;
        n++;
        stack = f->parent;
    }
    return n;
}

const tt_alloc_sample_t *tt_allocs_samples(const tt_allocs_t *a, size_t *n)
{
    *n = a ? a->use_samples->n : 0;
    return a ? a->use_samples->p : NULL;
}

void tt_allocs_free(tt_allocs_t *a)
{
    if (a == NULL)
        return;
    tt__free(a->stacks.p);
    tt__free(a->sites.p);
    tt__free(a->psites.p);
    tt__free(a->types.p);
    tt__free(a->samples.p);
    tt__free(a->psamples.p);
    tt__free(a);
}
