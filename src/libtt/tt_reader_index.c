/* tt_reader_index.c - the open pass: walk every chunk frame, apply the
 * chunks that hold tables, index EVENTS chunks, resynchronise after damage.
 *
 * Owns: reading the source (pread(2) or the caller's buffer), file-level
 * validation (magic, version, framing, CRCs, chunk order), the EVENTS chunk
 * index with per-thread chains (payloads are decoded later, tt_reader_run.c),
 * the search for the next good chunk after a damaged frame, and the damage
 * report. Must not: read outside the source, keep EVENTS payloads, or
 * allocate beyond what the chunks seen so far justify. One reader, one
 * thread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tt_reader_int.h"
#include "tt_varint.h"

#define RESYNC_WINDOW (64u << 10)

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
        r->reason_len = strlen(d->reason);
    } else {
        snprintf(d->reason + r->reason_len, sizeof d->reason - r->reason_len,
                 " (%u problems in all)", r->n_problems);
    }
}

int tt__reader_read(tt_reader_t *r, uint64_t off, size_t n, uint8_t *buf,
                    const uint8_t **out)
{
    size_t got = 0;

    if (off > r->len || n > r->len - off)
        return TT_ETRUNCATED;
    if (r->fd < 0) {
        *out = r->data + off;
        return 0;
    }
    while (got < n) {
        ssize_t k = pread(r->fd, buf + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return TT_EIO;
        if (k == 0)
            return TT_ETRUNCATED;      /* the file shrank since open */
        got += (size_t)k;
    }
    *out = buf;
    return 0;
}

/* Makes r->wbuf hold n bytes. 0 or TT_ENOMEM. */
static int wbuf_need(tt_reader_t *r, size_t n)
{
    void *p = r->wbuf;
    if (r->fd < 0 || n <= r->wcap)
        return 0;
    if (tt__grow(&p, &r->wcap, n, 1) < 0)
        return TT_ENOMEM;
    r->wbuf = p;
    return 0;
}

/* A chunk frame as read by the walk. */
typedef struct {
    uint8_t type;
    uint32_t thread;
    uint32_t len;
    uint64_t size;               /* header + payload + CRC */
    uint64_t base_tick;          /* EVENTS: the payload's first varint */
    int reserved;                /* flags/reserved/thread break the rules */
} frame;

enum { FR_OK, FR_SHORT, FR_BADHEAD, FR_HUGE, FR_PAST_END };

/* Reads the frame at off. FR_* >= 0, or TT_EIO / TT_ETRUNCATED (the source
 * shrank). */
static int read_frame(tt_reader_t *r, uint64_t off, frame *f)
{
    uint8_t hb[TT__CHUNK_HEAD + 10];
    const uint8_t *h, *p;
    uint64_t left = r->len - off;
    size_t n = left < sizeof hb ? (size_t)left : sizeof hb;
    int rc;

    if (left < TT__CHUNK_HEAD)
        return FR_SHORT;
    if ((rc = tt__reader_read(r, off, n, hb, &h)) < 0)
        return rc;
    if (tt__crc32c(0, h, 12) != tt__get_le32(h + 12))
        return FR_BADHEAD;
    f->type = h[0];
    f->thread = tt__get_le32(h + 4);
    f->len = tt__get_le32(h + 8);
    f->reserved = !(f->type & TT__CH_ANCILLARY) &&
                  ((h[1] | h[2] | h[3]) != 0 ||
                   (f->type != TT__CH_EVENTS && f->thread != TT__NO_THREAD));
    if (f->len > TT__MAX_PAYLOAD)
        return FR_HUGE;
    f->size = (uint64_t)TT__CHUNK_HEAD + f->len + TT__CHUNK_TAIL;
    if (f->size > left)
        return FR_PAST_END;
    p = h + TT__CHUNK_HEAD;
    f->base_tick = 0;
    if (f->type == TT__CH_EVENTS)
        (void)tt__get_varint(&p, h + (n < TT__CHUNK_HEAD + f->len
                                          ? n : TT__CHUNK_HEAD + f->len),
                             &f->base_tick);
    return FR_OK;
}

/* Reads a chunk's payload and checks its CRC: 0 and *p (valid until the
 * next walk read), TT_ECRC, TT_ENOMEM, TT_EIO or TT_ETRUNCATED. */
static int read_payload(tt_reader_t *r, uint64_t off, uint32_t len,
                        const uint8_t **p)
{
    int rc = wbuf_need(r, (size_t)len + TT__CHUNK_TAIL);
    if (rc < 0)
        return rc;
    rc = tt__reader_read(r, off + TT__CHUNK_HEAD, (size_t)len + TT__CHUNK_TAIL,
                         r->wbuf, p);
    if (rc < 0)
        return rc;
    if (tt__crc32c(0, *p, len) != tt__get_le32(*p + len))
        return TT_ECRC;
    return 0;
}

/* 1 if the payload of the frame at off has a good CRC, 0 if not, or a
 * TT_E*. Reads in blocks, so a candidate costs no big buffer. */
static int payload_good(tt_reader_t *r, uint64_t off, uint32_t len)
{
    uint8_t tail[4];
    const uint8_t *p;
    uint32_t crc = 0, done = 0;
    int rc;

    if ((rc = wbuf_need(r, RESYNC_WINDOW)) < 0)
        return rc;
    off += TT__CHUNK_HEAD;
    while (done < len) {
        uint32_t n = len - done < RESYNC_WINDOW ? len - done : RESYNC_WINDOW;
        if ((rc = tt__reader_read(r, off + done, n, r->wbuf, &p)) < 0)
            return rc;
        crc = tt__crc32c(crc, p, n);
        done += n;
    }
    if ((rc = tt__reader_read(r, off + len, 4, tail, &p)) < 0)
        return rc;
    return crc == tt__get_le32(p);
}

/* Counts a lost chunk (or its cut-off end) against its thread. */
static void thread_lost(tt_reader_t *r, uint32_t thread, uint64_t bytes)
{
    tt_thread_info_t *t;
    r->damage.chunks_lost++;
    if (thread >= r->n_threads)
        return;
    t = &r->threads[thread];
    if (t->chunks_lost++ == 0)
        r->damage.threads_lost++;
    t->bytes_lost += bytes;
}

/* After a damaged frame at `from`: the next offset whose frame has a good
 * header CRC, a known type, a length that fits the file and a good payload
 * CRC; *found = r->len if there is none. Frames on the way with a good
 * header but a bad payload are counted against their thread. 0 or TT_E*. */
static int resync(tt_reader_t *r, uint64_t from, uint64_t *found)
{
    uint8_t *win = NULL;
    uint64_t pos = from + 1;
    int rc = 0;

    *found = r->len;
    if (r->fd >= 0 && (win = tt__malloc(RESYNC_WINDOW + 16)) == NULL)
        return TT_ENOMEM;
    while (rc == 0 && pos + TT__CHUNK_HEAD + TT__CHUNK_TAIL <= r->len) {
        uint64_t left = r->len - pos;
        size_t n = left < RESYNC_WINDOW + 16 ? (size_t)left
                                             : RESYNC_WINDOW + 16;
        const uint8_t *b;
        size_t i;
        if ((rc = tt__reader_read(r, pos, n, win, &b)) < 0)
            break;
        for (i = 0; i + TT__CHUNK_HEAD <= n && i < RESYNC_WINDOW; i++) {
            const uint8_t *h = b + i;
            uint8_t t = h[0];
            uint32_t len, th;
            int good;
            if (t < TT__CH_DEFS || (t > TT__CH_END && t < TT__CH_ANCILLARY))
                continue;
            th = tt__get_le32(h + 4);
            if (t <= TT__CH_END && ((h[1] | h[2] | h[3]) != 0 ||
                                    (t != TT__CH_EVENTS && th != TT__NO_THREAD)))
                continue;
            if (tt__crc32c(0, h, 12) != tt__get_le32(h + 12))
                continue;
            len = tt__get_le32(h + 8);
            if (len > TT__MAX_PAYLOAD ||
                (uint64_t)len + TT__CHUNK_HEAD + TT__CHUNK_TAIL > left - i)
                continue;
            good = payload_good(r, pos + i, len);
            if (good < 0) {
                rc = good;
                break;
            }
            if (good) {
                *found = pos + i;
                goto out;
            }
            if (t == TT__CH_EVENTS)
                thread_lost(r, th, 0);
        }
        pos += i;
    }
out:
    tt__free(win);
    return rc;
}

/* Indexes one EVENTS chunk; its payload is read when iterated or scanned.
 * Only ENOMEM is fatal. */
static int index_events(tt_reader_t *r, uint64_t off, const frame *f)
{
    tt__evchunk *e;
    tt__tchain *ch;
    void *arr;

    if (f->thread >= r->n_threads && r->ids_uncertain &&
        (uint64_t)f->thread + 1 - r->n_threads <= r->unread_bytes / 2 &&
        tt__reader_fill_threads(r, f->thread + 1) < 0)
        return TT_ENOMEM;          /* defined in what was lost */
    if (f->thread >= r->n_threads) {
        tt__reader_damage(r, TT_ECORRUPT, off, f->size,
            "the event chunk at byte %llu belongs to thread %u, which was "
            "never defined; skipped", (unsigned long long)off, f->thread);
        r->damage.chunks_lost++;
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
    e->base_tick = f->base_tick;
    e->len = f->len;
    e->thread = f->thread;
    e->next = UINT32_MAX;
    e->n_strings = r->n_strings;
    e->n_codes = r->n_codes;
    e->n_types = r->n_types;
    e->lax = (uint8_t)r->ids_uncertain;
    e->marks = UINT32_MAX;
    e->state = TT__CK_NEW;
    if (e->lax)
        r->lax = 1;
    ch = &r->chains[f->thread];
    e->prev = ch->last_chunk;
    if (ch->first_chunk == UINT32_MAX)
        ch->first_chunk = r->n_chunks;
    else
        r->chunks[ch->last_chunk].next = r->n_chunks;
    ch->last_chunk = r->n_chunks;
    r->n_chunks++;
    r->n_new++;
    return 0;
}

/* Checks the file head and the HEADER chunk. Returns 0 and *next, or the
 * error that makes the whole file unusable. */
static int read_head(tt_reader_t *r, uint64_t *next)
{
    uint8_t head[TT__FILE_HEAD];
    const uint8_t *h, *p;
    frame f;
    const char *why = NULL;
    size_t n = r->len < TT__FILE_HEAD ? (size_t)r->len : TT__FILE_HEAD;
    char *w = r->open_why;
    size_t wn = sizeof r->open_why;
    int rc;

    if ((rc = tt__reader_read(r, 0, n, head, &h)) < 0)
        return rc;
    if (memcmp(h, TT__MAGIC, n < TT__MAGIC_LEN ? n : TT__MAGIC_LEN) != 0) {
        snprintf(w, wn, "the file does not start with the tracetap magic "
                 "bytes");
        return TT_ENOTTRACE;
    }
    if (r->len < TT__FILE_HEAD) {
        snprintf(w, wn, "the file is %llu bytes, shorter than the %d-byte "
                 "file head", (unsigned long long)r->len, TT__FILE_HEAD);
        return TT_ETRUNCATED;
    }
    if (tt__get_le16(h + 8) != TT__VERSION_MAJOR) {
        snprintf(w, wn, "the file is format version %u.%u; this reader "
                 "reads version %d.x", tt__get_le16(h + 8),
                 tt__get_le16(h + 10), TT__VERSION_MAJOR);
        return TT_EVERSION;
    }
    rc = read_frame(r, TT__FILE_HEAD, &f);
    if (rc == FR_SHORT || rc == FR_PAST_END) {
        snprintf(w, wn, "the file ends inside its HEADER chunk (%llu bytes)",
                 (unsigned long long)r->len);
        return TT_ETRUNCATED;
    }
    if (rc == FR_BADHEAD) {
        snprintf(w, wn, "the HEADER chunk's frame fails its checksum");
        return TT_ECRC;
    }
    if (rc == FR_HUGE || (rc == FR_OK && (f.reserved || f.type != TT__CH_HEADER))) {
        snprintf(w, wn, rc == FR_HUGE ? "the first chunk claims an "
                 "impossible length" : f.reserved ? "the first chunk's "
                 "reserved bits are set" : "the first chunk is of type %u, "
                 "not HEADER", rc == FR_HUGE ? 0u : (unsigned)f.type);
        return TT_ECORRUPT;
    }
    if (rc < 0)
        return rc;
    if ((rc = read_payload(r, TT__FILE_HEAD, f.len, &p)) < 0) {
        snprintf(w, wn, "the HEADER chunk cannot be read (%s)",
                 tt_strerror(rc));
        return rc;
    }
    rc = tt__reader_header(r, p, f.len, &why);
    if (rc < 0) {
        snprintf(w, wn, "the HEADER chunk is malformed: %s",
                 why ? why : tt_strerror(rc));
        return rc;
    }
    *next = TT__FILE_HEAD + f.size;
    return 0;
}

/* Remembers a good ancillary chunk (a copy of its payload for a file).
 * 0 or TT_ENOMEM. */
static int keep_ancillary(tt_reader_t *r, const frame *f, const uint8_t *p)
{
    void *arr = r->anc;
    tt__ancchunk *a;
    uint8_t *copy = NULL;

    if (tt__grow(&arr, &r->cap_anc, (size_t)r->n_anc + 1, sizeof *r->anc) < 0)
        return TT_ENOMEM;
    r->anc = arr;
    if (r->fd >= 0) {
        if ((copy = tt__malloc(f->len)) == NULL)
            return TT_ENOMEM;
        if (f->len)
            memcpy(copy, p, f->len);
        p = copy;
    }
    a = &r->anc[r->n_anc++];
    a->type = f->type;
    a->len = f->len;
    a->payload = p;
    a->owned = copy;
    a->n_strings = r->n_strings;
    a->n_codes = r->n_codes;
    a->n_types = r->n_types;
    a->context = r->n_ctxs;
    if (a->type == TT_CHUNK_CONTEXT)
        return tt__context_add(r, a->payload, a->len);  /* a->context + 1 */
    return 0;
}

/* Applies one chunk that is not EVENTS, its payload checked. Returns 1 to
 * stop the walk, 0 to go on, or TT_ENOMEM. */
static int apply_chunk(tt_reader_t *r, uint64_t off, const frame *f,
                       const uint8_t *p)
{
    const char *why;
    size_t bad;
    int rc;

    switch (f->type) {
    case TT__CH_DEFS:
        rc = tt__reader_defs(r, p, f->len, &why, &bad);
        if (rc == TT_ENOMEM)
            return rc;
        if (rc < 0) {
            uint64_t at = off + TT__CHUNK_HEAD + bad;
            tt__reader_damage(r, TT_ECORRUPT, at, f->len - bad,
                "definitions at byte %llu are malformed (%s); the rest of "
                "that chunk was skipped", (unsigned long long)off,
                why ? why : "?");
            r->damage.chunks_lost++;
            r->unread_bytes += f->len - bad;
            tt__reader_defs_lost(r);
        }
        return 0;
    case TT__CH_END: {
        const uint8_t *q = p, *pe = p + f->len;
        if (tt__get_varint(&q, pe, &r->damage.end_events) < 0 ||
            tt__get_varint(&q, pe, &r->damage.end_dropped) < 0) {
            r->damage.end_events = r->damage.end_dropped = 0;
            tt__reader_damage(r, TT_ECORRUPT, off, r->len - off,
                "the end-of-recording chunk at byte %llu is unreadable",
                (unsigned long long)off);
            r->end_off = off;
        } else {
            r->has_end = 1;
            r->damage.clean_end = 1;
            r->end_off = off + f->size;
        }
        return 1;
    }
    case TT__CH_HEADER:
        tt__reader_damage(r, TT_ECORRUPT, off, r->len - off,
            "a second header chunk at byte %llu", (unsigned long long)off);
        r->end_off = off;
        return 1;
    default:
        if (!(f->type & TT__CH_ANCILLARY)) {
            tt__reader_damage(r, TT_ECORRUPT, off, r->len - off,
                "the chunk at byte %llu has unknown required type 0x%02x "
                "(written by a newer tracetap?)", (unsigned long long)off,
                f->type);
            r->end_off = off;
            return 1;
        }
        return keep_ancillary(r, f, p);   /* kept for the analyses */
    }
}

/* A damaged frame at off: skips to the next good chunk. Returns 1 to stop
 * (nothing good follows), 0 with *off moved, or a TT_E*. */
static int skip_region(tt_reader_t *r, uint64_t *off, int status,
                       const char *what)
{
    uint64_t next;
    int rc = resync(r, *off, &next);
    if (rc < 0)
        return rc;
    if (next >= r->len) {
        tt__reader_damage(r, status, *off, r->len - *off,
            "the chunk header at byte %llu %s and no good chunk follows; "
            "the file is unreadable from there on",
            (unsigned long long)*off, what);
        r->end_off = *off;
        return 1;
    }
    tt__reader_damage(r, status, *off, next - *off,
        "the chunk header at byte %llu %s; %llu bytes (of unknown threads) "
        "skipped to the next good chunk at byte %llu",
        (unsigned long long)*off, what, (unsigned long long)(next - *off),
        (unsigned long long)next);
    r->damage.regions_lost++;
    r->damage.bytes_unattributed += next - *off;
    r->unread_bytes += next - *off;
    tt__reader_defs_lost(r);
    *off = next;
    return 0;
}

/* The source could not be read at off (it shrank, or an I/O error):
 * the walk stops there. */
static void read_failed(tt_reader_t *r, uint64_t off, int rc)
{
    tt__reader_damage(r, rc, off, r->len - off,
        "reading the chunk at byte %llu failed (%s)",
        (unsigned long long)off, tt_strerror(rc));
    r->end_off = off;
}

/* A 0x86 chunk (FORMAT.md §19) binds to the EVENTS chunk right before it
 * in the file, of the same thread (`last`: that chunk's index, or
 * UINT32_MAX when the chunk before was anything else); otherwise it is
 * counted and ignored. Its CRC is checked when the events are decoded. */
static void bind_marks(tt_reader_t *r, const frame *f, uint32_t last,
                       uint32_t n_anc_before)
{
    if (r->n_anc == n_anc_before)
        return;                     /* not kept */
    if (last != UINT32_MAX && r->chunks[last].thread == f->thread &&
        r->chunks[last].marks == UINT32_MAX)
        r->chunks[last].marks = r->n_anc - 1;
    else
        r->marks.unbound++;
}

int tt__reader_index(tt_reader_t *r)
{
    uint64_t off = 0;
    uint32_t last_events = UINT32_MAX;  /* the chunk just walked, if EVENTS */
    int rc;

    rc = read_head(r, &off);
    if (rc < 0)
        return rc;
    r->end_off = r->len;
    while (off < r->len) {
        const uint8_t *p;
        frame f;
        rc = read_frame(r, off, &f);
        if (rc == FR_SHORT) {
            tt__reader_damage(r, TT_ETRUNCATED, off, r->len - off,
                "the file ends inside a chunk header at byte %llu; the "
                "writer was killed or the file was cut",
                (unsigned long long)off);
            r->end_off = off;
            break;
        }
        if (rc == FR_BADHEAD || rc == FR_HUGE) {
            rc = rc == FR_BADHEAD
                     ? skip_region(r, &off, TT_ECRC, "fails its checksum")
                     : skip_region(r, &off, TT_ECORRUPT,
                                   "claims more bytes than any writer makes");
            if (rc < 0)
                return rc;
            if (rc)
                break;
            last_events = UINT32_MAX;
            continue;
        }
        if (rc == FR_PAST_END) {
            tt__reader_damage(r, TT_ETRUNCATED, off, r->len - off,
                "the file ends inside the chunk at byte %llu (%llu of %llu "
                "bytes present); the writer was killed or the file was cut",
                (unsigned long long)off, (unsigned long long)(r->len - off),
                (unsigned long long)f.size);
            r->end_off = off;
            break;
        }
        if (rc < 0) {
            read_failed(r, off, rc);
            break;
        }
        if (f.reserved) {
            tt__reader_damage(r, TT_ECORRUPT, off, r->len - off,
                "the chunk at byte %llu has reserved header fields set",
                (unsigned long long)off);
            r->end_off = off;
            break;
        }
        if (f.type == TT__CH_EVENTS) {
            uint32_t n = r->n_chunks;
            if (index_events(r, off, &f) < 0)
                return TT_ENOMEM;
            last_events = r->n_chunks > n ? n : UINT32_MAX;
            off += f.size;
            continue;
        }
        rc = read_payload(r, off, f.len, &p);
        if (rc == TT_ENOMEM)
            return rc;
        if (rc == TT_ECRC) {
            tt__reader_damage(r, TT_ECRC, off, f.size,
                "the %s chunk at byte %llu fails its checksum; skipped",
                f.type == TT__CH_DEFS ? "definitions" : f.type == TT__CH_END
                    ? "end-of-recording" : "ancillary",
                (unsigned long long)off);
            r->damage.chunks_lost++;
            r->unread_bytes += f.size;
            if (f.type == TT__CH_DEFS || f.type == TT__CH_HEADER)
                tt__reader_defs_lost(r);
            off += f.size;
            last_events = UINT32_MAX;
            continue;
        }
        if (rc < 0) {
            read_failed(r, off, rc);
            break;
        }
        {
            uint32_t n_anc = r->n_anc;
            rc = apply_chunk(r, off, &f, p);
            if (rc < 0)
                return rc;
            if (f.type == TT_CHUNK_MARKS)
                bind_marks(r, &f, last_events, n_anc);
        }
        last_events = UINT32_MAX;
        if (rc)
            break;
        off += f.size;
    }
    if (r->has_end && r->end_off < r->len)
        tt__reader_damage(r, TT_ECORRUPT, r->end_off, r->len - r->end_off,
            "%llu bytes follow the end-of-recording chunk",
            (unsigned long long)(r->len - r->end_off));
    else if (!r->has_end && r->n_problems == 0)
        tt__reader_damage(r, TT_ETRUNCATED, r->len, 0,
            "no end-of-recording chunk: the writer stopped before closing "
            "the file (killed?); events after its last flush are lost");
    if (r->n_new == 0)
        tt__reader_finish(r);
    return 0;
}

void tt__reader_finish(tt_reader_t *r)
{
    uint64_t events = 0;

    if (r->finished || r->n_new != 0)
        return;
    r->finished = 1;
    for (int k = 0; k < TT_EV__COUNT; k++)
        events += r->counts[k];
    r->damage.complete = 1;
    if (!r->has_end)
        return;
    if (r->damage.end_events > events)
        r->damage.events_lost = r->damage.end_events - events;
    if (r->n_problems == 0 && r->damage.end_events != events)
        tt__reader_damage(r, TT_ECORRUPT, r->len, 0,
            "the end-of-recording chunk counts %llu events but the file "
            "holds %llu", (unsigned long long)r->damage.end_events,
            (unsigned long long)events);
}
