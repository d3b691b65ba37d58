/* tt_reader_evdec.c - decoding and validating the events of one EVENTS chunk.
 *
 * Owns: the inverse of tt_tbuf.h's encoders (docs/FORMAT.md §6), with every
 * check the format allows: tag values, varints, tick overflow, line and
 * offset ranges, ids defined before the chunk (any id after a loss of
 * definitions: the reader's tables answer with placeholders). Must not: read outside
 * [p, end), allocate, or trust anything it decodes. Threads: the decoder
 * state belongs to one reader, hence to one thread.
 */
#include <string.h>

#include "tt_reader_int.h"
#include "tt_varint.h"

#define FAIL(d, msg)           \
    do {                       \
        (d)->why = (msg);      \
        return TT_ECORRUPT;    \
    } while (0)

#define GET(d, pp, v, msg)                                   \
    do {                                                     \
        if (tt__get_varint((pp), (d)->end, (v)) < 0)         \
            FAIL(d, msg);                                    \
    } while (0)

int tt__evdec_start(tt__evdec *d, const tt_reader_t *r, const tt__evchunk *c,
                    const uint8_t *payload, size_t len)
{
    uint64_t base;
    const uint8_t *p = payload;

    memset(d, 0, sizeof *d);
    d->start = payload;
    d->end = payload + len;
    d->thread = c->thread;
    d->lax = c->lax;
    d->n_strings = c->lax ? TT__XSTR_BASE : c->n_strings;
    d->n_codes = c->lax ? UINT32_MAX - 1 : c->n_codes;
    d->n_types = c->lax ? UINT32_MAX : c->n_types;
    d->codes = r->codes;
    d->types = r->types;
    d->tab_codes = c->lax ? r->n_codes : c->n_codes;
    d->lossy = c->lax || r->damage.defs_lost;
    d->tab_types = c->lax ? r->n_types : c->n_types;
    for (int i = 0; i < 3; i++) {
        d->mru[i].code = TT_NO_CODE;
        d->mru[i].line = 0;
    }
    /* An empty chunk has no prologue; the writer never makes one. */
    if (tt__get_varint(&p, d->end, &base) < 0) {
        d->p = payload;
        FAIL(d, "the chunk's base tick is unreadable");
    }
    d->tick = base;
    d->p = p;
    return 0;
}

static int32_t firstline(const tt__evdec *d, uint32_t code)
{
    return code < d->tab_codes ? d->codes[code].firstlineno : 0;
}

/* Decodes the code selector and line of a code-carrying event. */
static int decode_site(tt__evdec *d, const uint8_t **pp, unsigned tag,
                       int is_call, tt_event_t *ev)
{
    unsigned sel = (tag >> 2) & 3, lm = tag & 3;
    struct tt__slot s;
    int64_t base, line;
    uint64_t v;

    switch (sel) {
    case 0:
        break;
    case 1:
        s = d->mru[1];
        d->mru[1] = d->mru[0];
        d->mru[0] = s;
        break;
    case 2:
        s = d->mru[2];
        d->mru[2] = d->mru[1];
        d->mru[1] = d->mru[0];
        d->mru[0] = s;
        break;
    default:
        GET(d, pp, &v, "an event's code id is unreadable");
        if (v > UINT32_MAX)
            FAIL(d, "an event's code id is out of range");
        s.code = (uint32_t)v - 1u;            /* 0 is TT_NO_CODE */
        if (s.code != TT_NO_CODE && s.code >= d->n_codes)
            FAIL(d, "an event names a code id not defined before it");
        s.line = firstline(d, s.code);
        d->mru[2] = d->mru[1];
        d->mru[1] = d->mru[0];
        d->mru[0] = s;
        break;
    }
    base = is_call ? firstline(d, d->mru[0].code) : d->mru[0].line;
    switch (lm) {
    case 0:
        line = base;
        break;
    case 1:
        line = base + 1;
        break;
    case 2:
        GET(d, pp, &v, "an event's line delta is unreadable");
        {
            int64_t dl = tt__unzz_s(v);
            if (dl > (int64_t)INT32_MAX - base ||
                dl < (int64_t)INT32_MIN - base)
                FAIL(d, "an event's line is outside the 32-bit range");
            line = base + dl;
        }
        break;
    default:
        FAIL(d, "an event uses the reserved line mode 3");
    }
    if (line > INT32_MAX)
        FAIL(d, "an event's line is outside the 32-bit range");
    d->mru[0].line = (int32_t)line;
    ev->code = d->mru[0].code;
    ev->line = (int32_t)line;
    return 0;
}

static int decode_offset(tt__evdec *d, const uint8_t **pp, uint32_t *out)
{
    uint64_t v;
    int64_t off;

    GET(d, pp, &v, "an event's bytecode offset is unreadable");
    off = tt__unzz_s(v);
    /* off + last + 2 must land in [0, UINT32_MAX]. */
    if (off > (int64_t)UINT32_MAX || off < -(int64_t)UINT32_MAX - 2)
        FAIL(d, "an event's bytecode offset is out of range");
    off += (int64_t)d->last_offset + 2;
    if (off < 0 || off > (int64_t)UINT32_MAX)
        FAIL(d, "an event's bytecode offset is out of range");
    d->last_offset = (uint32_t)off;
    *out = (uint32_t)off;
    return 0;
}

static void decode_addr(tt__evdec *d, uint64_t v, int scaled, uint64_t *out)
{
    uint64_t delta = tt__unzz(v);
    if (scaled)
        delta <<= 4;
    d->last_addr += delta;
    *out = d->last_addr;
}

int tt__evdec_next(tt__evdec *d, tt_event_t *ev)
{
    const uint8_t *p = d->p;
    uint64_t dt, v;
    unsigned tag, kind;

    if (p >= d->end)
        return 0;
    tag = *p++;
    GET(d, &p, &dt, "an event's tick delta is unreadable");
    if (dt > UINT64_MAX - d->tick)
        FAIL(d, "an event's tick overflows 64 bits");

    memset(ev, 0, sizeof *ev);
    ev->line = TT_NO_LINE;
    ev->offset = TT_NO_OFFSET;
    ev->thread = d->thread;
    ev->tick = d->tick + dt;

    if (tag & TT__TAG_SHORT) {
        int64_t line = (int64_t)d->mru[0].line +
                       (int64_t)(tag & 0x7f) - TT__SHORT_BIAS;
        if (line > INT32_MAX || line < INT32_MIN)
            FAIL(d, "an event's line is outside the 32-bit range");
        d->mru[0].line = (int32_t)line;
        ev->kind = TT_EV_LINE;
        ev->code = d->mru[0].code;
        ev->line = (int32_t)line;
        goto done;
    }
    kind = (tag >> 4) + 1;
    ev->kind = (uint8_t)kind;
    switch (kind) {
    case TT_EV_CALL:
    case TT_EV_LINE:
    case TT_EV_RETURN:
        if (decode_site(d, &p, tag, kind == TT_EV_CALL, ev) < 0)
            return TT_ECORRUPT;
        break;
    case TT_EV_EXCEPTION:
        if (decode_site(d, &p, tag, 0, ev) < 0)
            return TT_ECORRUPT;
        GET(d, &p, &v, "an exception's type name is unreadable");
        if (v >= d->n_strings)
            FAIL(d, "an exception names a string id not defined before it");
        ev->exc_type = (uint32_t)v;
        break;
    case TT_EV_OPCODE:
        if (decode_site(d, &p, tag, 0, ev) < 0)
            return TT_ECORRUPT;
        if (p >= d->end)
            FAIL(d, "an opcode event is cut short");
        ev->opcode = *p++;
        if (decode_offset(d, &p, &ev->offset) < 0)
            return TT_ECORRUPT;
        break;
    case TT_EV_OBJ_CREATE: {
        unsigned flags;
        if (decode_site(d, &p, tag, 0, ev) < 0)
            return TT_ECORRUPT;
        if (p >= d->end)
            FAIL(d, "an object event is cut short");
        flags = *p++;
        if (flags & 0xf0)
            FAIL(d, "an object event uses reserved flag bits");
        if (!(flags & TT__CF_SAME_TYPE)) {
            GET(d, &p, &v, "an object event's type id is unreadable");
            if (v > UINT32_MAX)
                FAIL(d, "an object event's type id is out of range");
            d->last_type = (uint32_t)v;
        }
        if (d->last_type >= d->n_types)
            FAIL(d, "an object event names a type id not defined before it");
        ev->type = d->last_type;
        if (flags & TT__CF_BASICSIZE)      /* 0 for a lost type */
            ev->size = ev->type < d->tab_types
                           ? d->types[ev->type].basicsize : 0;
        else
            GET(d, &p, &ev->size, "an object event's size is unreadable");
        if (!(flags & TT__CF_NO_OFFSET) &&
            decode_offset(d, &p, &ev->offset) < 0)
            return TT_ECORRUPT;
        GET(d, &p, &v, "an object event's address is unreadable");
        decode_addr(d, v, flags & TT__CF_ADDR16, &ev->addr);
        break;
    }
    case TT_EV_OBJ_DESTROY:
        if (tag & 0x0e)
            FAIL(d, "a destroy event uses reserved tag bits");
        GET(d, &p, &v, "a destroy event's address is unreadable");
        ev->code = 0;
        ev->line = TT_NO_LINE;
        decode_addr(d, v, tag & TT__DF_ADDR16, &ev->addr);
        break;
    default: /* TT_EV_DROPPED: kind is at most 8 by construction */
        if (tag & 0x0f)
            FAIL(d, "a dropped-events record uses reserved tag bits");
        GET(d, &p, &ev->count, "a dropped-events count is unreadable");
        if (ev->count == 0)
            FAIL(d, "a dropped-events record counts zero events");
        break;
    }
done:
    if (TT_UNLIKELY(d->lossy) && ev->code != TT_NO_CODE &&
        ev->line != TT_NO_LINE &&
        (ev->code >= d->tab_codes ||
         d->codes[ev->code].filename >= TT__XSTR_BASE))
        ev->line = TT_NO_LINE;    /* counted from a lost firstlineno */
    d->tick = ev->tick;
    d->p = p;
    return 1;
}
