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

/* See tt.h. */
int tt_writer_allocs(tt_writer_t *w, const tt_alloc_summary_t *sum,
                     const tt_alloc_frame_t *stacks, size_t n_stacks,
                     const tt_alloc_site_t *sites, size_t n_sites,
                     const tt_alloc_sample_t *samples, size_t n_samples)
{
    uint8_t buf[AL_SAMPLES_PER_REC * 20 + 16], *p;
    tt__anc o;
    uint64_t tick = 0, live = 0;
    int rc;

    if (w == NULL || sum == NULL || (n_stacks && stacks == NULL) ||
        (n_sites && sites == NULL) || (n_samples && samples == NULL) ||
        n_stacks >= UINT32_MAX)
        return TT_EINVAL;
    for (size_t i = 0; i < n_stacks; i++)
        if ((stacks[i].parent != TT_NO_STACK && stacks[i].parent >= i) ||
            (stacks[i].code != TT_NO_CODE &&
             stacks[i].code >= w->tab.n_codes))
            return TT_EINVAL;
    for (size_t i = 0; i < n_sites; i++)
        if (sites[i].stack != TT_NO_STACK && sites[i].stack >= n_stacks)
            return TT_EINVAL;
    rc = tt__anc_open(&o, w, TT_CHUNK_ALLOCS);
    if (rc < 0)
        return rc;
    {
        const uint64_t v[] = {sum->flags, sum->depth, sum->allocs,
                              sum->alloc_bytes, sum->frees, sum->freed_bytes,
                              sum->live_bytes, sum->live_blocks,
                              sum->peak_bytes, sum->peak_tick, sum->untracked,
                              sum->lost};
        p = al_put_all(buf, v, sizeof v / sizeof v[0]);
        rc = al_put(&o, AL_SUMMARY, buf, (size_t)(p - buf));
    }
    for (size_t i = 0; i < n_stacks && rc == 0; i++) {
        const tt_alloc_frame_t *f = &stacks[i];
        p = buf;
        p = tt__put_varint(p, f->parent == TT_NO_STACK ? 0
                                                       : (uint64_t)f->parent + 1);
        p = tt__put_varint(p, f->code == TT_NO_CODE ? 0 : (uint64_t)f->code + 1);
        p = tt__put_varint(p, tt__zz((uint64_t)(int64_t)f->line));
        rc = al_put(&o, AL_STACK, buf, (size_t)(p - buf));
    }
    for (size_t i = 0; i < n_sites && rc == 0; i++) {
        const tt_alloc_site_t *s = &sites[i];
        const uint64_t v[] = {s->stack == TT_NO_STACK ? 0
                                                      : (uint64_t)s->stack + 1,
                              s->allocs, s->alloc_bytes, s->frees,
                              s->freed_bytes, s->live_bytes, s->live_blocks,
                              s->peak_bytes};
        p = al_put_all(buf, v, sizeof v / sizeof v[0]);
        rc = al_put(&o, AL_SITE, buf, (size_t)(p - buf));
    }
    for (size_t i = 0; i < n_samples && rc == 0;) {
        size_t k = n_samples - i < AL_SAMPLES_PER_REC ? n_samples - i
                                                      : AL_SAMPLES_PER_REC;
        p = buf;
        p = tt__put_varint(p, k);
        tick = live = 0;            /* each record's deltas start from 0 */
        for (size_t j = 0; j < k; j++, i++) {
            /* deltas from the previous sample (the first from 0, 0) */
            p = tt__put_varint(p, samples[i].tick - tick);
            p = tt__put_varint(p, tt__zz(samples[i].live_bytes - live));
            tick = samples[i].tick;
            live = samples[i].live_bytes;
        }
        rc = al_put(&o, AL_SAMPLES, buf, (size_t)(p - buf));
    }
    if (rc == 0)
        rc = tt__anc_flush(&o);
    tt__anc_close(&o);
    return rc;
}

/* ------------------------------------------------------------ reading */

struct tt_allocs {
    tt_alloc_summary_t sum;
    int present;                     /* a SUMMARY was read */
    uint32_t bad_chunks;
    tt_alloc_frame_t *stacks;
    size_t n_stacks, cap_stacks;
    tt_alloc_site_t *sites;
    size_t n_sites, cap_sites;
    tt_alloc_sample_t *samples;
    size_t n_samples, cap_samples;
};

static int al_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    size_t c = *cap ? *cap : 64;
    void *v;
    if (need <= *cap)
        return 0;
    while (c < need)
        c *= 2;
    if (c > SIZE_MAX / elem)
        return TT_ENOMEM;
    v = tt__malloc(c * elem);
    if (v == NULL)
        return TT_ENOMEM;
    if (*cap)
        memcpy(v, *arr, *cap * elem);
    tt__free(*arr);
    *arr = v;
    *cap = c;
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
    if ((parent1 != 0 && parent1 - 1 >= a->n_stacks) ||
        (code1 != 0 && code1 - 1 >= n_codes) || line < INT32_MIN ||
        line > INT32_MAX || a->n_stacks >= UINT32_MAX - 1)
        return TT_ECORRUPT;
    rc = al_grow((void **)&a->stacks, &a->cap_stacks, a->n_stacks + 1,
                 sizeof *a->stacks);
    if (rc < 0)
        return rc;
    f = &a->stacks[a->n_stacks++];
    f->parent = parent1 ? parent1 - 1 : TT_NO_STACK;
    f->code = code1 ? code1 - 1 : TT_NO_CODE;
    f->line = (int32_t)line;
    return 0;
}

static int al_site(tt_allocs_t *a, const uint8_t *b, const uint8_t *e)
{
    tt_alloc_site_t s;
    uint64_t *const v[] = {&s.allocs, &s.alloc_bytes, &s.frees,
                           &s.freed_bytes, &s.live_bytes, &s.live_blocks,
                           &s.peak_bytes};
    uint32_t stack1;
    int rc;
    if (tt__get_u32(&b, e, &stack1) < 0 ||
        al_get_all(&b, e, v, sizeof v / sizeof v[0]) < 0)
        return TT_ECORRUPT;
    if ((stack1 != 0 && stack1 - 1 >= a->n_stacks) || s.frees > s.allocs ||
        s.live_blocks > s.allocs)
        return TT_ECORRUPT;
    s.stack = stack1 ? stack1 - 1 : TT_NO_STACK;
    rc = al_grow((void **)&a->sites, &a->cap_sites, a->n_sites + 1,
                 sizeof *a->sites);
    if (rc < 0)
        return rc;
    a->sites[a->n_sites++] = s;
    return 0;
}

static int al_samples(tt_allocs_t *a, const uint8_t *b, const uint8_t *e)
{
    uint64_t k, tick = 0, live = 0, dt, dl;
    int rc;
    if (tt__get_varint(&b, e, &k) < 0 || k > (uint64_t)(e - b) / 2)
        return TT_ECORRUPT;
    rc = al_grow((void **)&a->samples, &a->cap_samples,
                 a->n_samples + (size_t)k, sizeof *a->samples);
    if (rc < 0)
        return rc;
    for (uint64_t i = 0; i < k; i++) {
        if (tt__get_varint(&b, e, &dt) < 0 || tt__get_varint(&b, e, &dl) < 0)
            return TT_ECORRUPT;
        tick += dt;
        live += tt__unzz(dl);
        a->samples[a->n_samples].tick = tick;
        a->samples[a->n_samples].live_bytes = live;
        a->n_samples++;
    }
    return 0;
}

/* Decodes one 0x85 payload into a. 0, TT_ECORRUPT (the records before the
 * bad one stay) or TT_ENOMEM. */
static int al_decode(tt_allocs_t *a, const uint8_t *p, size_t len,
                     uint32_t n_codes)
{
    const uint8_t *end = p + len;
    int rc = 0;
    while (p < end && rc == 0) {
        uint8_t kind = *p++;
        uint64_t n;
        const uint8_t *b;
        if (tt__get_varint(&p, end, &n) < 0 || n > (uint64_t)(end - p))
            return TT_ECORRUPT;
        b = p;
        p += n;
        if (kind == AL_SUMMARY)
            rc = al_summary(a, b, p);
        else if (kind == AL_STACK)
            rc = al_stack(a, b, p, n_codes);
        else if (kind == AL_SITE)
            rc = al_site(a, b, p);
        else if (kind == AL_SAMPLES)
            rc = al_samples(a, b, p);
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
        rc = al_decode(a, c->payload, c->len, c->n_codes);
        if (rc == TT_ENOMEM) {
            tt_allocs_free(a);
            return rc;
        }
        if (rc < 0)
            a->bad_chunks++;
    }
    if (a->n_sites > 1)
        qsort(a->sites, a->n_sites, sizeof *a->sites, cmp_site);
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
    return a != NULL && i < a->n_sites ? &a->sites[i] : NULL;
}

size_t tt_allocs_stack(const tt_allocs_t *a, uint32_t stack,
                       tt_alloc_frame_t *out, size_t max)
{
    size_t n = 0;
    if (a == NULL)
        return 0;
    /* Parents precede their children (checked at load): this ends. */
    while (stack != TT_NO_STACK && stack < a->n_stacks) {
        if (n < max && out != NULL)
            out[n] = a->stacks[stack];
        n++;
        stack = a->stacks[stack].parent;
    }
    return n;
}

const tt_alloc_sample_t *tt_allocs_samples(const tt_allocs_t *a, size_t *n)
{
    *n = a ? a->n_samples : 0;
    return a ? a->samples : NULL;
}

void tt_allocs_free(tt_allocs_t *a)
{
    if (a == NULL)
        return;
    tt__free(a->stacks);
    tt__free(a->sites);
    tt__free(a->samples);
    tt__free(a);
}
