/* tt_writer.c - the .ttrace writer: header, definitions, chunks, flush, close.
 *
 * Owns: the file descriptor, the definition tables and pending DEFS records,
 * chunk framing (header CRC + payload CRC) and the END chunk. Event encoding
 * is tt_tbuf.h/tt_writer_tbuf.c. Sealed chunks go to the file inline with write(2):
 * bench_codec measured a background writer thread as no faster (FORMAT.md
 * §9). Must not: print, abort, or leave a partial chunk in the file after an
 * I/O error. Threads: one thread at a time per writer (the GIL in capture),
 * except tt_writer_flush_emergency, which a signal handler may call from
 * any thread: the calls that change what it reads take the writer's guard
 * (tt__writer_enter), the appends do not (see its contract).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "tt_internal.h"
#include "tt_varint.h"

#define DEFS_FLUSH_AT  (64 * 1024)   /* write definitions beyond this */
#define REC_ROOM       11            /* record kind + longest length varint */

int tt__bytes_reserve(tt__bytes *b, size_t more)
{
    void *p = b->p;
    int rc;
    if (more > SIZE_MAX - b->len)
        return TT_ENOMEM;
    rc = tt__grow(&p, &b->cap, b->len + more, 1);
    if (rc < 0)
        return TT_ENOMEM;
    b->p = p;
    return 0;
}

void tt__writer_error(tt_writer_t *w, int err)
{
    if (w->last_error == 0)
        w->last_error = err;
}

/* The 16 bytes of a chunk header. */
static void chunk_head(uint8_t *h, uint8_t type, uint32_t thread,
                       size_t payload_len)
{
    h[0] = type;
    h[1] = 0;
    h[2] = 0;
    h[3] = 0;
    tt__put_le32(h + 4, thread);
    tt__put_le32(h + 8, (uint32_t)payload_len);
    tt__put_le32(h + 12, tt__crc32c(0, h, 12));
}

/* After a failed write: cuts a torn chunk off so later chunks stay
 * reachable. Failures here leave at worst a damaged tail, which readers
 * report. Async-signal-safe (lseek, ftruncate). */
static int chunk_failed(tt_writer_t *w)
{
    if (w->last_errno == 0)
        w->last_errno = errno ? errno : EIO;
    (void)!lseek(w->fd, (off_t)w->off, SEEK_SET);
    (void)!ftruncate(w->fd, (off_t)w->off);
    tt__writer_error(w, TT_EIO);
    return TT_EIO;
}

static void chunk_written(tt_writer_t *w, size_t total)
{
    w->off += total;
    w->bytes += total;
    w->chunks++;
}

int tt__writer_chunk(tt_writer_t *w, uint8_t *buf, size_t payload_len,
                     uint8_t type, uint32_t thread)
{
    size_t total = TT__CHUNK_HEAD + payload_len + TT__CHUNK_TAIL;

    TT_ASSERT(payload_len <= TT__MAX_PAYLOAD);
    chunk_head(buf, type, thread, payload_len);
    tt__put_le32(buf + TT__CHUNK_HEAD + payload_len,
                 tt__crc32c(0, buf + TT__CHUNK_HEAD, payload_len));
    if (tt__write_all(w->fd, buf, total) < 0)
        return chunk_failed(w);
    chunk_written(w, total);
    return 0;
}

/* Every DEFS chunk starts with a BASE record (FORMAT.md §5): the ids
 * defined before it, counted back from the totals over the pending
 * records, so that a reader that lost an earlier DEFS chunk can place
 * these. Without memory for it the chunk goes out without one (still a
 * valid file; readers then treat ids after a loss as unknown). */
int tt__writer_flush_defs(tt_writer_t *w)
{
    uint32_t n[4] = {w->n_strings, w->tab.n_codes, w->tab.n_types,
                     w->n_threads};
    uint8_t base[TT__REC_BASE_MAX], *p = base + 2, *rec;
    size_t len = w->defs.len - TT__CHUNK_HEAD, blen = 0;
    int rc;

    if (len == 0)
        return 0;
    for (rec = w->defs.p + TT__CHUNK_HEAD; rec < w->defs.p + w->defs.len;) {
        const uint8_t *q = rec + 1;
        uint64_t body = 0;
        (void)tt__get_varint(&q, w->defs.p + w->defs.len, &body);
        if (*rec >= TT__REC_STRING && *rec <= TT__REC_THREAD)
            n[*rec - TT__REC_STRING]--;   /* STRING CODE TYPE THREAD */
        rec = (uint8_t *)q + body;
    }
    if (tt__bytes_reserve(&w->defs, TT__REC_BASE_MAX + TT__CHUNK_TAIL) == 0) {
        for (int i = 0; i < 4; i++)
            p = tt__put_varint(p, n[i]);
        base[0] = TT__REC_BASE;
        base[1] = (uint8_t)(p - base - 2);
        blen = (size_t)(p - base);
        memmove(w->defs.p + TT__CHUNK_HEAD + blen, w->defs.p + TT__CHUNK_HEAD,
                len);
        memcpy(w->defs.p + TT__CHUNK_HEAD, base, blen);
    }
    rc = tt__writer_chunk(w, w->defs.p, blen + len, TT__CH_DEFS,
                          TT__NO_THREAD);
    if (rc == 0)
        w->defs.len = TT__CHUNK_HEAD;
    else if (blen)                  /* stays pending, as it was */
        memmove(w->defs.p + TT__CHUNK_HEAD, w->defs.p + TT__CHUNK_HEAD + blen,
                len);
    return rc;
}

/* ---------------------------------------------------- building payloads */

static uint8_t *put_str(uint8_t *p, const char *s, size_t n)
{
    p = tt__put_varint(p, n);
    if (n)
        memcpy(p, s, n);
    return p + n;
}

/* Opens a definition record of at most max_body bytes and returns where its
 * body goes; tt__writer_rec_end() finishes it. */
static int rec_begin(tt_writer_t *w, size_t max_body, uint8_t **body)
{
    int rc;
    if (max_body > TT__MAX_RECORD)
        return TT_ELIMIT;
    /* Past the threshold, pending definitions go out before this record
     * (not at rec_end: the caller has not counted its id yet, and the
     * BASE record needs the counts). On failure they stay pending. */
    if (w->defs.len >= DEFS_FLUSH_AT)
        (void)tt__writer_flush_defs(w);
    if (w->defs.len - TT__CHUNK_HEAD + REC_ROOM + max_body > TT__MAX_PAYLOAD) {
        /* Pending definitions could not be written; refuse to grow. */
        rc = tt__writer_flush_defs(w);
        if (rc < 0)
            return rc;
    }
    rc = tt__bytes_reserve(&w->defs, REC_ROOM + max_body + TT__CHUNK_TAIL);
    if (rc < 0)
        return rc;
    *body = w->defs.p + w->defs.len + REC_ROOM;
    return 0;
}

static void rec_end(tt_writer_t *w, uint8_t kind, uint8_t *end)
{
    uint8_t *start = w->defs.p + w->defs.len;
    uint8_t *body = start + REC_ROOM;
    size_t n = (size_t)(end - body);
    uint8_t *p = start;

    *p++ = kind;
    p = tt__put_varint(p, n);
    memmove(p, body, n);
    w->defs.len = (size_t)(p + n - w->defs.p);
}

/* ----------------------------------------------------------- public API */

static size_t cstrlen(const char *s)
{
    return s ? strlen(s) : 0;
}

/* Encodes the header chunk's payload into b (after TT__CHUNK_HEAD bytes). */
static int build_header(tt__bytes *b, const tt_header_t *h)
{
    const char *s1[3] = {h->python_impl, h->python_version, h->python_build};
    size_t need = TT__CHUNK_HEAD + TT__CHUNK_TAIL + 10 * 8;
    uint8_t *p;
    int rc;

    for (int i = 0; i < 3; i++)
        need += 10 + cstrlen(s1[i]);
    for (uint32_t i = 0; i < h->argc; i++)
        need += 10 + cstrlen(h->argv[i]);
    need += 10 + cstrlen(h->clock_name) + 10 + cstrlen(h->options_text);
    for (uint32_t i = 0; i < h->n_opnames; i++)
        need += 10 + cstrlen(h->opnames[i]);
    if (need - TT__CHUNK_HEAD - TT__CHUNK_TAIL > TT__MAX_RECORD)
        return TT_ELIMIT;
    rc = tt__bytes_reserve(b, need);
    if (rc < 0)
        return rc;
    p = b->p + TT__CHUNK_HEAD;
    for (int i = 0; i < 3; i++)
        p = put_str(p, s1[i], cstrlen(s1[i]));
    p = tt__put_varint(p, h->argc);
    for (uint32_t i = 0; i < h->argc; i++)
        p = put_str(p, h->argv[i], cstrlen(h->argv[i]));
    p = tt__put_varint(p, h->start_unix_ns);
    p = tt__put_varint(p, h->start_tick);
    p = put_str(p, h->clock_name, cstrlen(h->clock_name));
    p = tt__put_varint(p, h->clock_hz);
    p = tt__put_varint(p, h->options);
    p = put_str(p, h->options_text, cstrlen(h->options_text));
    p = tt__put_varint(p, h->n_opnames);
    for (uint32_t i = 0; i < h->n_opnames; i++)
        p = put_str(p, h->opnames[i], cstrlen(h->opnames[i]));
    b->len = (size_t)(p - b->p);
    return 0;
}

static void writer_free(tt_writer_t *w)
{
    for (uint32_t i = 0; i < w->n_threads; i++)
        tt__tbuf_free(w->threads[i]);
    tt__free(w->threads);
    tt__free(w->tab.firstline);
    tt__free(w->tab.basicsize);
    tt__free(w->defs.p);
    if (w->fd >= 0)
        (void)close(w->fd);
    tt__free(w);
}

/* Contract (tt.h): 0 and *out, or TT_EINVAL (NULL path/hdr, clock_hz 0, a
 * NULL argv/opnames array with a non-zero count), TT_ENOMEM, TT_ELIMIT or
 * TT_EIO with *out = NULL and nothing left open. NULL header strings are
 * written as "". The writer copies everything it needs from hdr. */
int tt_writer_open(tt_writer_t **out, const char *path, const tt_header_t *hdr)
{
    tt_writer_t *w;
    tt__bytes hb = {0};
    uint8_t head[TT__FILE_HEAD];
    int rc;

    if (out == NULL)
        return TT_EINVAL;
    *out = NULL;
    if (path == NULL || hdr == NULL || hdr->clock_hz == 0 ||
        (hdr->argc && hdr->argv == NULL) ||
        (hdr->n_opnames && hdr->opnames == NULL))
        return TT_EINVAL;
    w = tt__malloc(sizeof *w);
    if (w == NULL)
        return TT_ENOMEM;
    memset(w, 0, sizeof *w);
    w->fd = -1;
    w->start_tick = hdr->start_tick;
    rc = tt__bytes_reserve(&w->defs, 4096);
    if (rc < 0)
        goto error;
    w->defs.len = TT__CHUNK_HEAD;
    hb.len = 0;
    rc = build_header(&hb, hdr);
    if (rc < 0)
        goto error;
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        rc = TT_EIO;
        goto error;
    }
    /* The "being written" mark (tt_file_being_written): held by this open
     * file description until close. Advisory: where flock fails (another
     * writer has it, or the file system lacks it) the recording goes on. */
    (void)flock(w->fd, LOCK_EX | LOCK_NB);
    memcpy(head, TT__MAGIC, TT__MAGIC_LEN);
    tt__put_le16(head + 8, TT__VERSION_MAJOR);
    tt__put_le16(head + 10, TT__VERSION_MINOR);
    rc = tt__write_all(w->fd, head, sizeof head);
    if (rc < 0)
        goto error;
    w->off = w->bytes = TT__FILE_HEAD;
    rc = tt__writer_chunk(w, hb.p, hb.len - TT__CHUNK_HEAD, TT__CH_HEADER,
                          TT__NO_THREAD);
    if (rc < 0)
        goto error;
    tt__free(hb.p);
    *out = w;
    return 0;

error:
    tt__free(hb.p);
    writer_free(w);
    return rc;
}

/* 0 and *id, or TT_EINVAL / TT_ENOMEM / TT_ELIMIT with *id unchanged and
 * no id consumed. The bytes are copied; they need not be NUL-terminated.
 * A failed write of the buffered definitions does not fail this call: the
 * definitions stay pending and the error shows in tt_writer_stats. */
static int writer_string(tt_writer_t *w, const char *s, size_t len,
                         uint32_t *id)
{
    uint8_t *p;
    int rc;

    if (w == NULL || id == NULL || (s == NULL && len))
        return TT_EINVAL;
    if (w->n_strings == UINT32_MAX)
        return TT_ELIMIT;
    rc = rec_begin(w, len, &p);
    if (rc < 0)
        return rc;
    if (len)
        memcpy(p, s, len);
    rec_end(w, TT__REC_STRING, p + len);
    *id = w->n_strings++;
    return 0;
}

/* 0 and *id, or TT_EINVAL (a string or parent id not defined yet, ranges
 * out of order or NULL), TT_ENOMEM or TT_ELIMIT with *id unchanged and no
 * id consumed. def and its ranges are copied. */
static int writer_code(tt_writer_t *w, const tt_code_def_t *def,
                       uint32_t *id)
{
    uint8_t *p;
    uint32_t prev_end = 0;
    int32_t prev_line;
    void *arr;
    int rc;

    if (w == NULL || def == NULL || id == NULL ||
        (def->n_ranges && def->ranges == NULL) ||
        def->filename >= w->n_strings || def->qualname >= w->n_strings ||
        (def->parent != TT_NO_PARENT && def->parent >= w->tab.n_codes))
        return TT_EINVAL;
    for (uint32_t i = 0; i < def->n_ranges; i++) {
        if (def->ranges[i].start < prev_end ||
            def->ranges[i].end < def->ranges[i].start)
            return TT_EINVAL;
        prev_end = def->ranges[i].end;
    }
    if (w->tab.n_codes == UINT32_MAX - 1)     /* UINT32_MAX is TT_NO_CODE */
        return TT_ELIMIT;
    if (def->n_ranges > (TT__MAX_RECORD - 64) / 15)
        return TT_ELIMIT;
    arr = w->tab.firstline;
    rc = tt__grow(&arr, &w->cap_codes, (size_t)w->tab.n_codes + 1,
                  sizeof(int32_t));
    if (rc < 0)
        return rc;
    w->tab.firstline = arr;
    rc = rec_begin(w, 64 + (size_t)def->n_ranges * 15, &p);
    if (rc < 0)
        return rc;
    p = tt__put_varint(p, def->filename);
    p = tt__put_varint(p, def->qualname);
    p = tt__put_varint(p, tt__zz((uint64_t)(int64_t)def->firstlineno));
    p = tt__put_varint(p, def->flags);
    p = tt__put_varint(p, (uint32_t)(def->parent + 1u));
    p = tt__put_varint(p, def->n_ranges);
    prev_end = 0;
    prev_line = def->firstlineno;
    for (uint32_t i = 0; i < def->n_ranges; i++) {
        const tt_line_range_t *r = &def->ranges[i];
        p = tt__put_varint(p, r->start - prev_end);
        p = tt__put_varint(p, r->end - r->start);
        p = tt__put_varint(p, tt__zz((uint64_t)((int64_t)r->line - prev_line)));
        prev_end = r->end;
        prev_line = r->line;
    }
    rec_end(w, TT__REC_CODE, p);
    w->tab.firstline[w->tab.n_codes] = def->firstlineno;
    *id = w->tab.n_codes++;
    return 0;
}

/* 0 and *id, or TT_EINVAL (name not a defined string id), TT_ENOMEM or
 * TT_ELIMIT with *id unchanged and no id consumed. */
static int writer_type(tt_writer_t *w, const tt_type_def_t *def,
                       uint32_t *id)
{
    uint8_t *p;
    void *arr;
    int rc;

    if (w == NULL || def == NULL || id == NULL || def->name >= w->n_strings)
        return TT_EINVAL;
    if (w->tab.n_types == UINT32_MAX)
        return TT_ELIMIT;
    arr = w->tab.basicsize;
    rc = tt__grow(&arr, &w->cap_types, (size_t)w->tab.n_types + 1,
                  sizeof(uint64_t));
    if (rc < 0)
        return rc;
    w->tab.basicsize = arr;
    rc = rec_begin(w, 30, &p);
    if (rc < 0)
        return rc;
    p = tt__put_varint(p, def->name);
    p = tt__put_varint(p, def->basicsize);
    p = tt__put_varint(p, def->flags);
    rec_end(w, TT__REC_TYPE, p);
    w->tab.basicsize[w->tab.n_types] = def->basicsize;
    *id = w->tab.n_types++;
    return 0;
}

/* 0 and *out (owned by w until tt_writer_close), or TT_EINVAL / TT_ENOMEM
 * / TT_ELIMIT with *out = NULL and no thread id consumed. The buffer is
 * allocated here, once: appends never allocate. */
static int writer_thread(tt_writer_t *w, uint64_t ident, const char *name,
                         tt_tbuf_t **out)
{
    size_t n = cstrlen(name);
    tt_tbuf_t *b;
    uint8_t *p;
    void *arr;
    int rc;

    if (out == NULL)
        return TT_EINVAL;
    *out = NULL;
    if (w == NULL)
        return TT_EINVAL;
    if (w->n_threads == UINT32_MAX - 1)
        return TT_ELIMIT;
    arr = w->threads;
    rc = tt__grow(&arr, &w->cap_threads, (size_t)w->n_threads + 1,
                  sizeof(tt_tbuf_t *));
    if (rc < 0)
        return rc;
    w->threads = arr;
    b = tt__tbuf_new(w, w->n_threads);
    if (b == NULL)
        return TT_ENOMEM;
    rc = rec_begin(w, 20 + n, &p);
    if (rc < 0) {
        tt__tbuf_free(b);
        return rc;
    }
    p = tt__put_varint(p, w->n_threads);
    p = tt__put_varint(p, ident);
    if (n)
        memcpy(p, name, n);
    rec_end(w, TT__REC_THREAD, p + n);
    w->threads[w->n_threads++] = b;
    *out = b;
    return 0;
}

int tt_writer_thread_end(tt_writer_t *w, tt_tbuf_t *b)
{
    if (w == NULL || b == NULL || b->w != w)
        return TT_EINVAL;
    TT__GUARDED(w, tt__tbuf_end(b));
}

/* 0, or TT_EINVAL (unknown thread, NULL name) / TT_ENOMEM with nothing
 * recorded. The last name recorded for a thread wins. */
static int writer_thread_name(tt_writer_t *w, uint32_t thread,
                              const char *name)
{
    size_t n = cstrlen(name);
    uint8_t *p;
    int rc;

    if (w == NULL || name == NULL || thread >= w->n_threads)
        return TT_EINVAL;
    rc = rec_begin(w, 10 + n, &p);
    if (rc < 0)
        return rc;
    p = tt__put_varint(p, thread);
    memcpy(p, name, n);
    rec_end(w, TT__REC_THREAD_NAME, p + n);
    return 0;
}

/* 0, or TT_EINVAL (NULL key or value) / TT_ENOMEM / TT_ELIMIT with nothing
 * recorded. Notes keep their order; keys may repeat. */
static int writer_note(tt_writer_t *w, const char *key, const char *value)
{
    size_t nk, nv;
    uint8_t *p;
    int rc;

    if (w == NULL || key == NULL || value == NULL)
        return TT_EINVAL;
    nk = strlen(key);
    nv = strlen(value);
    if (nk > TT__MAX_RECORD || nv > TT__MAX_RECORD)
        return TT_ELIMIT;
    rc = rec_begin(w, 10 + nk + nv, &p);
    if (rc < 0)
        return rc;
    p = put_str(p, key, nk);
    memcpy(p, value, nv);
    rec_end(w, TT__REC_NOTE, p + nv);
    return 0;
}

static int writer_source(tt_writer_t *w, const tt_source_def_t *def)
{
    uint8_t *p;
    int rc;

    if (w == NULL || def == NULL || def->filename >= w->n_strings)
        return TT_EINVAL;
    rc = rec_begin(w, 40, &p);
    if (rc < 0)
        return rc;
    p = tt__put_varint(p, def->filename);
    p = tt__put_varint(p, def->flags);
    p = tt__put_varint(p, def->size);
    p = tt__put_varint(p, tt__zz((uint64_t)def->mtime_ns));
    tt__put_le32(p, def->crc32c);
    rec_end(w, TT__REC_SOURCE, p + 4);
    return 0;
}

/* The public definition calls: each runs under the writer's guard, so
 * that an emergency flush never sees a definition half-made. Contracts
 * (tt.h, and above each worker): TT_ESTATE with nothing recorded after an
 * emergency flush. */

int tt_writer_string(tt_writer_t *w, const char *s, size_t len, uint32_t *id)
{
    TT__GUARDED(w, writer_string(w, s, len, id));
}

int tt_writer_code(tt_writer_t *w, const tt_code_def_t *def, uint32_t *id)
{
    TT__GUARDED(w, writer_code(w, def, id));
}

int tt_writer_type(tt_writer_t *w, const tt_type_def_t *def, uint32_t *id)
{
    TT__GUARDED(w, writer_type(w, def, id));
}

int tt_writer_thread(tt_writer_t *w, uint64_t ident, const char *name,
                     tt_tbuf_t **out)
{
    if (out == NULL)
        return TT_EINVAL;
    *out = NULL;
    TT__GUARDED(w, writer_thread(w, ident, name, out));
}

int tt_writer_thread_name(tt_writer_t *w, uint32_t thread, const char *name)
{
    TT__GUARDED(w, writer_thread_name(w, thread, name));
}

int tt_writer_note(tt_writer_t *w, const char *key, const char *value)
{
    TT__GUARDED(w, writer_note(w, key, value));
}

int tt_writer_source(tt_writer_t *w, const tt_source_def_t *def)
{
    TT__GUARDED(w, writer_source(w, def));
}

/* One chunk whose payload is read where it lies, header and CRC built on
 * the stack: three write(2)s, cut back on failure. Async-signal-safe. */
static int emergency_chunk(tt_writer_t *w, const uint8_t *payload,
                           size_t len, uint8_t type, uint32_t thread,
                           uint32_t *crc)
{
    uint8_t head[TT__CHUNK_HEAD], tail[TT__CHUNK_TAIL];
    uint32_t c = tt__crc32c(0, payload, len);

    if (crc != NULL)
        *crc = c;
    chunk_head(head, type, thread, len);
    tt__put_le32(tail, c);
    if (tt__write_all(w->fd, head, sizeof head) < 0 ||
        tt__write_all(w->fd, payload, len) < 0 ||
        tt__write_all(w->fd, tail, sizeof tail) < 0)
        return chunk_failed(w);
    chunk_written(w, TT__CHUNK_HEAD + len + TT__CHUNK_TAIL);
    return 0;
}

/* Contract (tt.h). The claim (busy 0 -> TT__W_EMERGENCY) succeeds only
 * when no guarded call is under way, and turns every later one away, so
 * what is read below cannot change meanwhile, except each buffer's `pos`,
 * which an append running on another thread may still advance: the bytes
 * before the value read here are complete events (every append publishes
 * pos after writing its bytes), the bytes after it are not read. */
int tt_writer_flush_emergency(tt_writer_t *w, const char *key,
                              const char *value)
{
    int busy = 0, rc, first = 0;

    if (w == NULL)
        return TT_EINVAL;
    if (!__atomic_compare_exchange_n(&w->busy, &busy, TT__W_EMERGENCY, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return TT_ESTATE;
    if (w->defs.len > TT__CHUNK_HEAD) {
        rc = emergency_chunk(w, w->defs.p + TT__CHUNK_HEAD,
                             w->defs.len - TT__CHUNK_HEAD, TT__CH_DEFS,
                             TT__NO_THREAD, NULL);
        if (rc < 0)
            return rc;              /* events would name undefined ids */
    }
    if (key != NULL && value != NULL) {
        /* A NOTE record, built on the stack; long texts are cut. */
        uint8_t note[2 + 127];
        size_t nk = strnlen(key, 40), nv = strnlen(value, 86);
        uint8_t *p = note + 2;
        p = put_str(p, key, nk);
        memcpy(p, value, nv);
        p += nv;
        note[0] = TT__REC_NOTE;
        note[1] = (uint8_t)(p - note - 2);      /* < 128: one varint byte */
        first = emergency_chunk(w, note, (size_t)(p - note), TT__CH_DEFS,
                                TT__NO_THREAD, NULL);
    }
    if (w->em_fill != NULL) {
        uint8_t extra[512];
        size_t n = w->em_fill(w->em_ctx, extra, sizeof extra);
        if (n > 0 && n <= sizeof extra) {
            rc = emergency_chunk(w, extra, n, w->em_type, TT__NO_THREAD,
                                 NULL);
            if (rc < 0 && first == 0)
                first = rc;
        }
    }
    for (uint32_t i = 0; i < w->n_threads; i++) {
        tt_tbuf_t *b = w->threads[i];
        const uint8_t *marks;
        size_t mlen;
        uint32_t crc;
        uint8_t *pos;
        if (b->buf == NULL)
            continue;                       /* ended: written already */
        /* The marks first (FORMAT.md §19): a mark is published after its
         * event's append published pos, so every mark of this mlen names
         * an event before the pos read next (tt_tbuf.h, tt__tbuf_marked). */
        mlen = __atomic_load_n(&b->mlen, __ATOMIC_ACQUIRE);
        pos = __atomic_load_n(&b->pos, __ATOMIC_ACQUIRE);
        if (pos <= b->start || pos > b->buf + b->cap - TT__CHUNK_TAIL)
            continue;                       /* empty (or not a position) */
        rc = emergency_chunk(w, b->buf + TT__CHUNK_HEAD,
                             (size_t)(pos - (b->buf + TT__CHUNK_HEAD)),
                             TT__CH_EVENTS, b->thread, &crc);
        /* Its marks, as many as were published before pos was read. */
        if (rc == 0 && (mlen = tt__marks_payload(b, mlen, crc, &marks)) > 0)
            rc = emergency_chunk(w, marks, mlen, TT_CHUNK_MARKS, b->thread,
                                 NULL);
        if (rc < 0 && first == 0)
            first = rc;
    }
    return first;
}

/* Contract (tt.h). Set while no emergency flush can run yet (the caller
 * arms the crash handler after it) or from the writer's owner thread. */
int tt_writer_set_emergency_extra(tt_writer_t *w, uint8_t type,
                                  size_t (*fill)(void *ctx, uint8_t *buf,
                                                 size_t cap),
                                  void *ctx)
{
    if (w == NULL || (fill != NULL && type < 0x80))
        return TT_EINVAL;
    w->em_type = type;
    w->em_ctx = ctx;
    __atomic_store_n(&w->em_fill, fill, __ATOMIC_RELEASE);
    return 0;
}

/* Writes pending definitions, then each thread's pending events (preceded
 * by a DROPPED event if some were lost), as complete chunks. Returns 0, or
 * TT_EIO if a write failed (those events are counted as dropped; the file
 * stays valid up to its last complete chunk). No fsync: data handed to the
 * OS survives the process being killed. */
int tt_writer_flush(tt_writer_t *w)
{
    int rc, first = 0;

    rc = tt__writer_enter(w);
    if (rc < 0) {
        tt__writer_leave(w);
        return rc;
    }
    rc = tt__writer_flush_defs(w);
    if (rc < 0)
        first = rc;
    for (uint32_t i = 0; i < w->n_threads; i++) {
        rc = tt__tbuf_flush(w->threads[i]);
        if (rc < 0 && first == 0)
            first = rc;
    }
    tt__writer_leave(w);
    return first;
}

/* Returns 0 only if the whole recording reached the file: otherwise the
 * first error met since open (events were dropped, see the DROPPED events)
 * or the error of the final flush, END chunk or close(2). */
int tt_writer_close(tt_writer_t *w)
{
    uint8_t buf[TT__CHUNK_HEAD + 2 * 10 + TT__CHUNK_TAIL];
    uint64_t dropped = 0;
    uint8_t *p;
    int rc;

    if (w == NULL)
        return TT_EINVAL;
    rc = tt_writer_flush(w);
    for (uint32_t i = 0; i < w->n_threads; i++)
        dropped += w->threads[i]->dropped_total;
    p = tt__put_varint(buf + TT__CHUNK_HEAD, w->events_written);
    p = tt__put_varint(p, dropped);
    /* The END chunk goes out even after a failed flush: it carries the
     * dropped total, and storage may work again. Not after an emergency
     * flush: the file ends with what that wrote (its events are not in
     * events_written), as a crashed program's would. */
    if (!(__atomic_load_n(&w->busy, __ATOMIC_ACQUIRE) & TT__W_EMERGENCY)) {
        int rc2 = tt__writer_chunk(w, buf, (size_t)(p - buf - TT__CHUNK_HEAD),
                                   TT__CH_END, TT__NO_THREAD);
        if (rc == 0)
            rc = rc2;
    }
    /* Unlock explicitly: a forked child that has not abandoned its copy of
     * the descriptor yet would otherwise keep the mark alive. */
    (void)flock(w->fd, LOCK_UN);
    if (close(w->fd) < 0 && rc == 0)
        rc = TT_EIO;
    w->fd = -1;
    if (w->last_error)
        rc = w->last_error;
    writer_free(w);
    return rc;
}

/* For a forked child: the parent goes on writing the file, so nothing may
 * be flushed from here (that would write the parent's pending events a
 * second time); only the descriptor and the memory are let go. No
 * flock(LOCK_UN): the lock belongs to the open file description the parent
 * shares, and unlocking here would unlock the parent's file; closing the
 * child's descriptor only drops the child's reference to it. */
void tt_writer_abandon(tt_writer_t *w)
{
    if (w != NULL)
        writer_free(w);
}

/* Fills *out (all zero for a NULL writer). events[] counts appends that
 * were stored in a buffer, by kind, including DROPPED events the writer
 * made; dropped counts events lost since open. */
void tt_writer_stats(const tt_writer_t *w, tt_writer_stats_t *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof *out);
    if (w == NULL)
        return;
    for (uint32_t i = 0; i < w->n_threads; i++) {
        const tt_tbuf_t *b = w->threads[i];
        for (int k = 0; k < TT_EV__COUNT; k++)
            out->events[k] += b->counts[k];
        out->dropped += b->dropped_total;
        out->marks += b->marks;
        out->marks_lost += b->marks_lost;
    }
    out->bytes = w->bytes;
    out->chunks = w->chunks;
    out->last_error = w->last_error;
    out->last_errno = w->last_errno;
}

/* ------------------------------------------------- ancillary chunk builder */

int tt__anc_open(tt__anc *a, tt_writer_t *w, uint8_t type)
{
    int rc;
    memset(a, 0, sizeof *a);
    rc = tt__writer_enter(w);
    if (rc == 0)
        rc = tt__writer_flush_defs(w);  /* definitions before use */
    tt__writer_leave(w);
    if (rc < 0)
        return rc;
    rc = tt__bytes_reserve(&a->b, TT__CHUNK_HEAD);
    if (rc < 0)
        return rc;
    a->w = w;
    a->type = type;
    a->b.len = TT__CHUNK_HEAD;
    return 0;
}

int tt__anc_flush(tt__anc *a)
{
    int rc;
    if (a->b.len == TT__CHUNK_HEAD)
        return 0;
    rc = tt__bytes_reserve(&a->b, TT__CHUNK_TAIL);
    if (rc < 0)
        return rc;
    rc = tt__writer_enter(a->w);
    if (rc == 0)
        rc = tt__writer_chunk(a->w, a->b.p, a->b.len - TT__CHUNK_HEAD,
                              a->type, TT__NO_THREAD);
    tt__writer_leave(a->w);
    a->b.len = TT__CHUNK_HEAD;
    return rc;
}

void tt__anc_close(tt__anc *a)
{
    tt__free(a->b.p);
    a->b.p = NULL;
    a->b.len = a->b.cap = 0;
}
