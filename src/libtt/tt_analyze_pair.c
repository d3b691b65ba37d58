/* tt_analyze_pair.c - how CALLs pair with RETURNs (docs/calls.md): the generator
 * rule, the matching of a RETURN against a shadow stack and the replay's
 * reading loop, shared by the call analysis and the timeline exporters so
 * they agree on activations.
 * Must not: allocate or print. No state; no thread concerns.
 */
#include <string.h>

#include "tt_internal.h"

/* The generator rule (docs/calls.md): the events carry no frame identity,
 * but a generator's first CALL is delivered before its first instruction,
 * at co_firstlineno (or the line of offset 0), while a resumption is
 * delivered at the line of the yield or await it resumes from. */
void tt__genrule(const tt_code_def_t *def, tt__genrule_t *g)
{
    memset(g, 0, sizeof *g);
    if (def == NULL || !(def->flags & TT_CODE_GENERATOR) ||
        (def->flags & TT_CODE_CFUNCTION))      /* never a generator */
        return;
    g->gen = 1;
    g->line_a = def->firstlineno;
    g->line_b = tt_code_line_at(def, 0);
    if (g->line_b == TT_NO_LINE)
        g->line_b = def->firstlineno;
}

/* Contract (tt.h): the same rule, public, for the event readers (the
 * `resume` mark of `tracetap events`). */
int tt_code_is_resume(const tt_code_def_t *code, int32_t line)
{
    tt__genrule_t g;
    tt__genrule(code, &g);
    return tt__genrule_resumes(&g, line);
}

/* Contract (tt.h). */
int tt_reader_marked(const tt_reader_t *r)
{
    const tt_header_t *h = r != NULL ? tt_reader_header(r) : NULL;
    return h != NULL && (h->options & TT_OPT_MARKS) != 0;
}

/* Contract (tt.h). */
int tt_event_resumes(const tt_reader_t *r, const tt_event_t *ev)
{
    tt__genrule_t g;

    if (ev == NULL || ev->kind != TT_EV_CALL)
        return 0;
    if (tt_reader_marked(r))
        return (ev->flags & TT_EVF_RESUME) != 0;
    tt__genrule(tt_reader_code(r, ev->code), &g);
    return tt__genrule_resumes(&g, ev->line);
}

/* Contract (tt.h). */
int tt_event_yields(const tt_reader_t *r, const tt_event_t *ev)
{
    (void)r;
    return ev != NULL && ev->kind == TT_EV_RETURN &&
           (ev->flags & TT_EVF_YIELD) != 0;
}

/* Contract (tt_internal.h): frames to close from the top, 0 if none. */
size_t tt__pair_return(const void *frames, size_t n, size_t stride,
                       uint32_t code)
{
    const unsigned char *p = frames;
    uint32_t c;

    for (size_t k = n; k-- > 0;) {
        memcpy(&c, p + k * stride, sizeof c);
        if (c == code)
            return n - k;
    }
    return 0;
}

/* Contract (tt_internal.h). */
int tt__replay_next(tt_reader_t *r, tt_event_t *ev, uint64_t *bad_chunks)
{
    int rc;
    while ((rc = tt_reader_next(r, ev)) < 0) {
        if (rc == TT_ENOMEM || rc == TT_ECANCELED)
            return rc;
        ++*bad_chunks;                    /* a malformed chunk: skipped */
    }
    return rc;
}

/* Contract (tt_internal.h). */
int tt__pair_cexception(const tt_reader_t *r, const void *frames, size_t n,
                        size_t stride, uint32_t code)
{
    const tt_code_def_t *def;
    uint32_t top;

    if (n == 0)
        return 0;
    memcpy(&top, (const char *)frames + (n - 1) * stride, sizeof top);
    if (top != code)
        return 0;
    def = tt_reader_code(r, code);
    return def != NULL && (def->flags & TT_CODE_CFUNCTION) != 0;
}

/* Contract (tt_internal.h). */
int tt__replay_batch(tt_reader_t *r, tt_event_t *evs, size_t cap,
                     uint64_t *bad_chunks)
{
    int n;
    while ((n = tt_reader_next_batch(r, evs, cap)) < 0) {
        if (n == TT_ENOMEM || n == TT_ECANCELED || n == TT_EINVAL)
            return n;
        ++*bad_chunks;                    /* a malformed chunk: skipped */
    }
    return n;
}

/* Contract (tt_internal.h). */
int tt__reader_cut(const tt_reader_t *r)
{
    const tt_damage_t *dmg = tt_reader_damage(r);
    return dmg != NULL && (dmg->status != 0 || !dmg->clean_end);
}
