/* tt_reader_index.c - the open pass: walk, check and index every chunk.
 *
 * Owns: file-level validation (magic, version, chunk framing, both CRCs,
 * chunk order), the EVENTS chunk index with per-thread chains, event counts,
 * per-thread first/last ticks and the damage report. It decodes every event
 * once, so damage is known before the first tt_reader_next.
 * Must not: read outside r->data, or allocate beyond what the chunks seen
 * so far justify. Threads: one reader, one thread.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tt_reader_int.h"
#include "tt_varint.h"

void tt__reader_damage(tt_reader_t *r, int status, uint64_t off,
                       uint64_t lost, const char *fmt, ...)
{
    tt_damage_t *d = &r->damage;
    va_list ap;

    d->bytes_lost += lost;
    if (r->n_problems++ == 0) {
        d->status = status;
        d->offset = off;
        va_start(ap, fmt);
        /* leave room for " (N problems in all)" */
        vsnprintf(d->reason, sizeof d->reason - 24, fmt, ap);
        va_end(ap);
    }
}

/* Parsed chunk header. */
typedef struct {
    uint8_t type;
    uint32_t thread;
    uint32_t len;
    const uint8_t *payload;
    uint64_t size;               /* header + payload + CRC */
} chunk;

/* Reads the chunk at `off`. Returns 0, or a status with the damage
 * recorded (everything from off on is lost). */
static int read_chunk(tt_reader_t *r, uint64_t off, chunk *c)
{
    const uint8_t *h = r->data + off;
    uint64_t left = r->len - off;

    if (left < TT__CHUNK_HEAD) {
        tt__reader_damage(r, TT_ETRUNCATED, off, left,
            "the file ends inside a chunk header at byte %llu; the writer "
            "was killed or the file was cut",
            (unsigned long long)off);
        return TT_ETRUNCATED;
    }
    if (tt__crc32c(0, h, 12) != tt__get_le32(h + 12)) {
        tt__reader_damage(r, TT_ECRC, off, left,
            "the chunk header at byte %llu fails its checksum; the file is "
            "corrupt from there on", (unsigned long long)off);
        return TT_ECRC;
    }
    c->type = h[0];
    c->thread = tt__get_le32(h + 4);
    c->len = tt__get_le32(h + 8);
    if (c->len > TT__MAX_PAYLOAD) {
        tt__reader_damage(r, TT_ECORRUPT, off, left,
            "the chunk at byte %llu claims %u bytes, more than any writer "
            "makes", (unsigned long long)off, c->len);
        return TT_ECORRUPT;
    }
    c->size = (uint64_t)TT__CHUNK_HEAD + c->len + TT__CHUNK_TAIL;
    if (c->size > left) {
        tt__reader_damage(r, TT_ETRUNCATED, off, left,
            "the file ends inside the chunk at byte %llu (%llu of %llu "
            "bytes present); the writer was killed or the file was cut",
            (unsigned long long)off, (unsigned long long)left,
            (unsigned long long)c->size);
        return TT_ETRUNCATED;
    }
    c->payload = h + TT__CHUNK_HEAD;
    if (tt__crc32c(0, c->payload, c->len) !=
        tt__get_le32(c->payload + c->len)) {
        tt__reader_damage(r, TT_ECRC, off, left,
            "the chunk at byte %llu fails its checksum; the file is corrupt "
            "from there on", (unsigned long long)off);
        return TT_ECRC;
    }
    if (!(c->type & TT__CH_ANCILLARY) &&
        ((h[1] | h[2] | h[3]) != 0 ||
         (c->type != TT__CH_EVENTS && c->thread != TT__NO_THREAD))) {
        tt__reader_damage(r, TT_ECORRUPT, off, left,
            "the chunk at byte %llu has reserved header fields set",
            (unsigned long long)off);
        return TT_ECORRUPT;
    }
    return 0;
}

/* Indexes and fully decodes one EVENTS chunk. Only ENOMEM is fatal; a
 * malformed stream is recorded as damage and the chunk cut at the last good
 * event. */
static int index_events(tt_reader_t *r, uint64_t off, const chunk *c)
{
    tt__evchunk *e;
    tt__evdec d;
    tt_event_t ev;
    tt_thread_info_t *t;
    tt__tchain *ch;
    uint64_t n = 0;
    void *arr;
    int rc;

    if (c->thread >= r->n_threads) {
        tt__reader_damage(r, TT_ECORRUPT, off, c->size,
            "the event chunk at byte %llu belongs to thread %u, which was "
            "never defined; skipped", (unsigned long long)off, c->thread);
        return 0;
    }
    arr = r->chunks;
    if (r->n_chunks == UINT32_MAX - 1 ||
        tt__grow(&arr, &r->cap_chunks, (size_t)r->n_chunks + 1,
                 sizeof *e) < 0)
        return TT_ENOMEM;
    r->chunks = arr;
    e = &r->chunks[r->n_chunks];
    memset(e, 0, sizeof *e);
    e->off = off;
    e->payload = c->payload;
    e->len = c->len;
    e->thread = c->thread;
    e->next = UINT32_MAX;
    e->n_strings = r->n_strings;
    e->n_codes = r->n_codes;
    e->n_types = r->n_types;

    t = &r->threads[c->thread];
    rc = tt__evdec_start(&d, r, e, c->len);
    if (rc == 0 && t->events && d.tick < t->last_tick) {
        d.why = "its base tick is before the thread's previous event";
        d.p = e->payload;
        rc = TT_ECORRUPT;
    }
    while (rc == 0) {
        rc = tt__evdec_next(&d, &ev);
        if (rc <= 0)
            break;
        rc = 0;
        r->counts[ev.kind]++;
        if (ev.kind == TT_EV_DROPPED)
            r->dropped += ev.count;
        if (t->events == 0 && n == 0)
            t->first_tick = ev.tick;
        t->last_tick = ev.tick;
        n++;
    }
    e->good = (uint32_t)(d.p - e->payload);
    e->err = rc;
    if (rc < 0)
        tt__reader_damage(r, rc, off + TT__CHUNK_HEAD + e->good,
                          e->len - e->good,
            "thread %u's event chunk at byte %llu is malformed after %llu "
            "events (%s); %u bytes skipped",
            c->thread, (unsigned long long)off, (unsigned long long)n,
            d.why ? d.why : "?", e->len - e->good);
    if (n == 0 && rc == 0)
        return 0;                     /* nothing to iterate: not indexed */
    t->events += n;
    ch = &r->chains[c->thread];
    if (ch->first_chunk == UINT32_MAX)
        ch->first_chunk = r->n_chunks;
    else
        r->chunks[ch->last_chunk].next = r->n_chunks;
    ch->last_chunk = r->n_chunks;
    r->n_chunks++;
    return 0;
}

/* Checks the file head and the HEADER chunk. Returns 0 and *next, or the
 * error that makes the whole file unusable. */
static int read_head(tt_reader_t *r, uint64_t *next)
{
    chunk c;
    const char *why = NULL;
    size_t n = r->len < TT__MAGIC_LEN ? r->len : TT__MAGIC_LEN;
    int rc;

    if (memcmp(r->data, TT__MAGIC, n) != 0)
        return TT_ENOTTRACE;
    if (r->len < TT__FILE_HEAD)
        return TT_ETRUNCATED;
    if (tt__get_le16(r->data + 8) != TT__VERSION_MAJOR)
        return TT_EVERSION;
    rc = read_chunk(r, TT__FILE_HEAD, &c);
    if (rc < 0)
        return rc;
    if (c.type != TT__CH_HEADER)
        return TT_ECORRUPT;
    rc = tt__reader_header(r, c.payload, c.len, &why);
    if (rc < 0)
        return rc;
    *next = TT__FILE_HEAD + c.size;
    return 0;
}

/* Remembers a good ancillary chunk. 0 or TT_ENOMEM. */
static int keep_ancillary(tt_reader_t *r, const chunk *c)
{
    void *p = r->anc;
    tt__ancchunk *a;
    if (tt__grow(&p, &r->cap_anc, (size_t)r->n_anc + 1, sizeof *r->anc) < 0)
        return TT_ENOMEM;
    r->anc = p;
    a = &r->anc[r->n_anc++];
    a->type = c->type;
    a->len = c->len;
    a->payload = c->payload;
    a->n_strings = r->n_strings;
    a->n_codes = r->n_codes;
    a->n_types = r->n_types;
    return 0;
}

int tt__reader_index(tt_reader_t *r)
{
    uint64_t off = 0, end_events = 0, end_dropped = 0, events = 0;
    const char *why;
    size_t bad;
    chunk c;
    int rc;

    rc = read_head(r, &off);
    if (rc < 0)
        return rc;
    while (off < r->len) {
        int stop = 0;
        if (read_chunk(r, off, &c) < 0)
            break;
        switch (c.type) {
        case TT__CH_DEFS:
            rc = tt__reader_defs(r, c.payload, c.len, &why, &bad);
            if (rc == TT_ENOMEM)
                return rc;
            if (rc < 0) {
                tt__reader_damage(r, TT_ECORRUPT, off + TT__CHUNK_HEAD + bad,
                    r->len - (off + TT__CHUNK_HEAD + bad),
                    "definitions at byte %llu are malformed (%s); reading "
                    "stopped there",
                    (unsigned long long)off, why ? why : "?");
                stop = 1;
            }
            break;
        case TT__CH_EVENTS:
            if (index_events(r, off, &c) < 0)
                return TT_ENOMEM;
            break;
        case TT__CH_END: {
            const uint8_t *p = c.payload, *pe = c.payload + c.len;
            if (tt__get_varint(&p, pe, &end_events) < 0 ||
                tt__get_varint(&p, pe, &end_dropped) < 0) {
                tt__reader_damage(r, TT_ECORRUPT, off, r->len - off,
                    "the end-of-recording chunk at byte %llu is unreadable",
                    (unsigned long long)off);
            } else {
                r->damage.clean_end = 1;
                off += c.size;
            }
            stop = 1;
            break;
        }
        case TT__CH_HEADER:
            tt__reader_damage(r, TT_ECORRUPT, off, r->len - off,
                "a second header chunk at byte %llu", (unsigned long long)off);
            stop = 1;
            break;
        default:
            if (!(c.type & TT__CH_ANCILLARY)) {
                tt__reader_damage(r, TT_ECORRUPT, off, r->len - off,
                    "the chunk at byte %llu has unknown required type 0x%02x "
                    "(written by a newer tracetap?)", (unsigned long long)off,
                    c.type);
                stop = 1;
            } else if (keep_ancillary(r, &c) < 0) {
                return TT_ENOMEM;   /* ancillary: kept for the analyses */
            }
            break;
        }
        if (stop)
            break;
        off += c.size;
    }
    for (int k = 0; k < TT_EV__COUNT; k++)
        events += r->counts[k];
    if (r->damage.clean_end) {
        if (off < r->len)
            tt__reader_damage(r, TT_ECORRUPT, off, r->len - off,
                "%llu bytes follow the end-of-recording chunk",
                (unsigned long long)(r->len - off));
        else if (r->n_problems == 0 && end_events != events)
            tt__reader_damage(r, TT_ECORRUPT, off, 0,
                "the end-of-recording chunk counts %llu events but the file "
                "holds %llu", (unsigned long long)end_events,
                (unsigned long long)events);
    } else if (r->n_problems == 0) {
        tt__reader_damage(r, TT_ETRUNCATED, r->len, 0,
            "no end-of-recording chunk: the writer stopped before closing "
            "the file (killed?); events after its last flush are lost");
    }
    (void)end_dropped;
    if (r->n_problems > 1) {
        size_t n = strlen(r->damage.reason);
        if (n < sizeof r->damage.reason - 1)
            snprintf(r->damage.reason + n, sizeof r->damage.reason - n,
                     " (%u problems in all)", r->n_problems);
    }
    return 0;
}
