/* tt_chunk_objextra.c - the issue-19 records of the 0x81 chunk (FORMAT.md §14):
 * IMPORTS (spans of a thread's time spent importing modules) and PATH (a
 * survivor's referrer chain found at stop), their writers and decoders.
 * Must not: print, or trust a count or a length before checking it against
 * the bytes left. Threads: the writer's owner thread; decoders are pure.
 */
#include <stdlib.h>
#include <string.h>

#include "tt_objects_int.h"
#include "tt_varint.h"

#define SPANS_PER_RECORD 256          /* 256 x 30 bytes at most */

/* Appends one record (kind, varint length, body) to a; the body is built
 * in `tmp` (len bytes). */
static int put_record(tt__anc *a, uint8_t kind, const uint8_t *body,
                      size_t len)
{
    uint8_t *p;
    int rc = tt__bytes_reserve(&a->b, 1 + 10 + len + TT__CHUNK_TAIL);
    if (rc < 0)
        return rc;
    p = a->b.p + a->b.len;
    *p++ = kind;
    p = tt__put_varint(p, len);
    memcpy(p, body, len);
    a->b.len = (size_t)(p + len - a->b.p);
    return 0;
}

/* See tt.h. */
int tt_writer_objspans(tt_writer_t *w, const tt_objspan_t *spans, size_t n)
{
    uint8_t body[10 + SPANS_PER_RECORD * 30], *p;
    tt__anc a;
    size_t i = 0;
    int rc;

    if (w == NULL || (n && spans == NULL))
        return TT_EINVAL;
    for (size_t k = 0; k < n; k++)
        if (spans[k].end < spans[k].start)
            return TT_EINVAL;
    if (n == 0)
        return 0;
    rc = tt__anc_open(&a, w, TT_CHUNK_OBJAGG);
    if (rc < 0)
        return rc;
    while (i < n && rc == 0) {
        size_t k = n - i < SPANS_PER_RECORD ? n - i : SPANS_PER_RECORD;
        p = tt__put_varint(body, k);
        for (size_t j = 0; j < k; j++, i++) {
            p = tt__put_varint(p, spans[i].thread);
            p = tt__put_varint(p, spans[i].start);
            p = tt__put_varint(p, spans[i].end - spans[i].start);
        }
        rc = put_record(&a, TT__OA_IMPORTS, body, (size_t)(p - body));
    }
    if (rc == 0)
        rc = tt__anc_flush(&a);
    tt__anc_close(&a);
    return rc;
}

/* See tt.h. */
int tt_writer_objpath(tt_writer_t *w, uint64_t addr,
                      const tt_objpath_step_t *steps, size_t n)
{
    uint8_t body[20 + TT_OBJPATH_MAX_STEPS * (2 + 2 + TT_OBJPATH_MAX_LABEL)];
    uint8_t *p = body;
    tt__anc a;
    int rc;

    if (w == NULL || steps == NULL || n == 0 || n > TT_OBJPATH_MAX_STEPS)
        return TT_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (steps[i].kind < TT_OBJPATH_MODULE ||
            steps[i].kind > TT_OBJPATH_OBJECT || steps[i].label == NULL)
            return TT_EINVAL;
    p = tt__put_varint(p, addr);
    p = tt__put_varint(p, n);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(steps[i].label);
        if (len > TT_OBJPATH_MAX_LABEL)
            len = TT_OBJPATH_MAX_LABEL;
        /* Never cut inside a UTF-8 sequence. */
        while (len > 0 && len < strlen(steps[i].label) &&
               ((uint8_t)steps[i].label[len] & 0xC0) == 0x80)
            len--;
        p = tt__put_varint(p, steps[i].kind);
        p = tt__put_varint(p, len);
        memcpy(p, steps[i].label, len);
        p += len;
    }
    rc = tt__anc_open(&a, w, TT_CHUNK_OBJAGG);
    if (rc < 0)
        return rc;
    rc = put_record(&a, TT__OA_PATH, body, (size_t)(p - body));
    if (rc == 0)
        rc = tt__anc_flush(&a);
    tt__anc_close(&a);
    return rc;
}

/* See tt_objects_int.h. */
int tt__objagg_decode_spans(const uint8_t *b, const uint8_t *be,
                            const tt__objagg_sink *sink, void *ctx)
{
    uint64_t count, len;
    tt_objspan_t s;
    int rc;

    if (tt__get_varint(&b, be, &count) < 0 || count > (uint64_t)(be - b))
        return TT_ECORRUPT;
    for (uint64_t i = 0; i < count; i++) {
        if (tt__get_u32(&b, be, &s.thread) < 0 ||
            tt__get_varint(&b, be, &s.start) < 0 ||
            tt__get_varint(&b, be, &len) < 0 ||
            len > UINT64_MAX - s.start)
            return TT_ECORRUPT;
        s.end = s.start + len;
        if (sink->span && (rc = sink->span(ctx, &s)) < 0)
            return rc;
    }
    return 0;
}

/* See tt_objects_int.h. */
int tt__objagg_decode_path(const uint8_t *b, const uint8_t *be,
                           const tt__objagg_sink *sink, void *ctx)
{
    uint64_t addr, n, kind, len;
    const uint8_t *first;
    tt_objpath_step_t *steps;
    char *text;

    if (tt__get_varint(&b, be, &addr) < 0 || tt__get_varint(&b, be, &n) < 0 ||
        n == 0 || n > TT_OBJPATH_MAX_STEPS || 2 * n > (uint64_t)(be - b))
        return TT_ECORRUPT;
    first = b;
    for (uint64_t i = 0; i < n; i++) {          /* checked before use */
        if (tt__get_varint(&b, be, &kind) < 0 ||
            kind < TT_OBJPATH_MODULE || kind > TT_OBJPATH_OBJECT ||
            tt__get_varint(&b, be, &len) < 0 || len > (uint64_t)(be - b))
            return TT_ECORRUPT;
        b += len;
    }
    if (sink->path == NULL)
        return 0;
    /* One block: the steps, then their labels (together at most the
     * bytes of the body, plus a NUL each). */
    steps = tt__malloc((size_t)n * sizeof *steps + (size_t)(be - first) +
                       (size_t)n);
    if (steps == NULL)
        return TT_ENOMEM;
    text = (char *)(steps + n);
    b = first;
    for (uint64_t i = 0; i < n; i++) {
        (void)tt__get_varint(&b, be, &kind);
        (void)tt__get_varint(&b, be, &len);
        steps[i].kind = (uint32_t)kind;
        steps[i].label = text;
        memcpy(text, b, (size_t)len);
        text[len] = '\0';
        text += len + 1;
        b += len;
    }
    return sink->path(ctx, addr, steps, (uint32_t)n);
}
