/* tt_reader.c - the reader's public face: open, close, accessors, iteration.
 *
 * Owns: loading a file (one whole-file read, no mmap, so a file cut while
 * open cannot SIGBUS us), the file-order iterator and the k-way merge over
 * per-thread chunk chains (a binary heap keyed by (tick, thread)).
 * Validation lives in tt_reader_index.c; tt_reader_next never allocates.
 * Threads: a reader belongs to one thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tt_reader_int.h"

static void reader_free(tt_reader_t *r)
{
    tt__arena_free(&r->arena);
    tt__free(r->strings);
    tt__free(r->codes);
    tt__free(r->types);
    tt__free(r->threads);
    tt__free(r->chains);
    tt__free((void *)r->note_keys);
    tt__free((void *)r->note_values);
    tt__free(r->chunks);
    tt__free(r->anc);
    tt__free(r->cursors);
    tt__free(r->heap);
    tt__clock_free(r->clock);
    tt__free(r->owned);
    tt__free(r);
}

/* Frees the reader and everything it handed out (strings, tables, the
 * file buffer of tt_reader_open); NULL is a no-op. */
void tt_reader_close(tt_reader_t *r)
{
    if (r != NULL)
        reader_free(r);
}

/* Allocates the merge cursors: one per thread that has event chunks. */
static int make_cursors(tt_reader_t *r)
{
    uint32_t n = 0;

    for (uint32_t t = 0; t < r->n_threads; t++)
        n += r->chains[t].first_chunk != UINT32_MAX;
    r->cursors = tt__malloc((size_t)n * sizeof *r->cursors);
    r->heap = tt__malloc((size_t)n * sizeof *r->heap);
    if (r->cursors == NULL || r->heap == NULL)
        return TT_ENOMEM;
    n = 0;
    for (uint32_t t = 0; t < r->n_threads; t++) {
        if (r->chains[t].first_chunk == UINT32_MAX)
            continue;
        memset(&r->cursors[n], 0, sizeof r->cursors[n]);
        r->cursors[n].thread = t;
        r->cursors[n].first = r->chains[t].first_chunk;
        n++;
    }
    r->n_cursors = n;
    return 0;
}

/* Contract (tt.h): 0 and *out, also for a damaged file with a readable
 * header; else TT_EINVAL, TT_ENOMEM, TT_ENOTTRACE, TT_EVERSION,
 * TT_ETRUNCATED, TT_ECRC or TT_ECORRUPT with *out = NULL. data is borrowed
 * and must outlive the reader. Validates and indexes the whole file now. */
int tt_reader_open_mem(tt_reader_t **out, const uint8_t *data, size_t len,
                       unsigned flags)
{
    tt_reader_t *r;
    int rc;

    if (out == NULL)
        return TT_EINVAL;
    *out = NULL;
    if ((data == NULL && len) || (flags & ~TT_READ_FILE))
        return TT_EINVAL;
    if (len == 0)
        return TT_ETRUNCATED;
    r = tt__malloc(sizeof *r);
    if (r == NULL)
        return TT_ENOMEM;
    memset(r, 0, sizeof *r);
    r->data = data;
    r->len = len;
    r->flags = flags;
    r->sel = UINT32_MAX;
    rc = tt__reader_index(r);
    if (rc == 0)
        rc = make_cursors(r);
    if (rc == 0)
        rc = tt_reader_select_thread(r, UINT32_MAX);
    if (rc < 0) {
        reader_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* Reads a whole file into a fresh buffer. */
static int slurp(const char *path, uint8_t **out, size_t *len)
{
    struct stat st;
    size_t cap, n = 0;
    uint8_t *buf;
    int fd, rc = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return TT_EIO;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return TT_EIO;
    }
    cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
    buf = tt__malloc(cap);
    if (buf == NULL) {
        close(fd);
        return TT_ENOMEM;
    }
    for (;;) {
        ssize_t k;
        if (n == cap) {             /* the file grew, or is not regular */
            void *p = buf;
            rc = tt__grow(&p, &cap, cap + 1, 1);
            if (rc < 0)
                break;
            buf = p;
        }
        k = read(fd, buf + n, cap - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = TT_EIO;
            break;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    if (rc < 0) {
        tt__free(buf);
        return rc == TT_ELIMIT ? TT_ENOMEM : rc;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* As tt_reader_open_mem over the file's bytes, which the reader reads
 * whole and owns; TT_EIO if the file cannot be opened or read. */
int tt_reader_open(tt_reader_t **out, const char *path, unsigned flags)
{
    uint8_t *buf;
    size_t len;
    int rc;

    if (out == NULL)
        return TT_EINVAL;
    *out = NULL;
    if (path == NULL || (flags & ~TT_READ_FILE))
        return TT_EINVAL;
    rc = slurp(path, &buf, &len);
    if (rc < 0)
        return rc;
    rc = tt_reader_open_mem(out, buf, len, flags);
    if (rc < 0) {
        tt__free(buf);
        return rc;
    }
    (*out)->owned = buf;
    return 0;
}

/* ------------------------------------------------------------ iteration */

static int ev_less(const tt_event_t *a, const tt_event_t *b)
{
    return a->tick < b->tick || (a->tick == b->tick && a->thread < b->thread);
}

static void sift_down(tt_reader_t *r, uint32_t i)
{
    uint32_t n = r->heap_n, *h = r->heap;
    for (;;) {
        uint32_t m = i, lc = 2 * i + 1, rc = lc + 1;
        if (lc < n && ev_less(&r->cursors[h[lc]].ev, &r->cursors[h[m]].ev))
            m = lc;
        if (rc < n && ev_less(&r->cursors[h[rc]].ev, &r->cursors[h[m]].ev))
            m = rc;
        if (m == i)
            return;
        uint32_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Loads the cursor's next event into c->ev. Returns 1, 0 when the thread
 * is done, or the TT_E* of a malformed chunk it just left (call again). */
static int cursor_next(tt_reader_t *r, tt__cursor *c)
{
    for (;;) {
        const tt__evchunk *e;
        int rc;
        if (c->chunk == UINT32_MAX)
            return 0;
        e = &r->chunks[c->chunk];
        if (!c->active) {
            (void)tt__evdec_start(&c->dec, r, e, e->good);
            c->active = 1;
        }
        rc = tt__evdec_next(&c->dec, &c->ev);
        if (rc == 1)
            return 1;
        /* The good part is over: the index pass already vouched for it. */
        c->active = 0;
        c->chunk = e->next;
        if (e->err < 0)
            return e->err;
    }
}

/* 0, or TT_EINVAL (NULL reader, unknown thread) with the selection and
 * position unchanged. Never allocates. */
int tt_reader_select_thread(tt_reader_t *r, uint32_t thread)
{
    if (r == NULL || (thread != UINT32_MAX && thread >= r->n_threads))
        return TT_EINVAL;
    r->sel = thread;
    r->progress_done = 0;
    r->canceled = 0;
    if (thread == UINT32_MAX) {
        r->progress_total = 0;
        for (uint32_t i = 0; i < r->n_threads; i++)
            r->progress_total += r->threads[i].events;
    } else {
        r->progress_total = r->threads[thread].events;
    }
    r->fchunk = 0;
    r->factive = 0;
    r->pending_err = 0;
    r->pending_n = 0;
    r->heap_n = 0;
    if (r->flags & TT_READ_FILE)
        return 0;
    for (uint32_t i = 0; i < r->n_cursors; i++) {
        tt__cursor *c = &r->cursors[i];
        int rc;
        if (thread != UINT32_MAX && c->thread != thread)
            continue;
        c->chunk = c->first;
        c->active = 0;
        while ((rc = cursor_next(r, c)) < 0) {
            r->pending_err = rc;
            r->pending_n++;
        }
        if (rc == 1)
            r->heap[r->heap_n++] = i;
    }
    for (uint32_t i = r->heap_n / 2; i-- > 0;)
        sift_down(r, i);
    return 0;
}

static int next_file(tt_reader_t *r, tt_event_t *ev)
{
    for (;;) {
        const tt__evchunk *e;
        int rc;
        if (!r->factive) {
            while (r->fchunk < r->n_chunks && r->sel != UINT32_MAX &&
                   r->chunks[r->fchunk].thread != r->sel)
                r->fchunk++;
            if (r->fchunk >= r->n_chunks)
                return 0;
            e = &r->chunks[r->fchunk];
            (void)tt__evdec_start(&r->fdec, r, e, e->good);
            r->factive = 1;
        }
        e = &r->chunks[r->fchunk];
        rc = tt__evdec_next(&r->fdec, ev);
        if (rc == 1)
            return 1;
        r->factive = 0;
        r->fchunk++;
        if (e->err < 0)
            return e->err;
    }
}

static int next_merged(tt_reader_t *r, tt_event_t *ev)
{
    tt__cursor *c;
    int rc;

    if (r->pending_n) {           /* one report per malformed chunk */
        r->pending_n--;
        return r->pending_err;
    }
    if (r->heap_n == 0)
        return 0;
    c = &r->cursors[r->heap[0]];
    *ev = c->ev;
    while ((rc = cursor_next(r, c)) < 0) {
        r->pending_err = rc;
        r->pending_n++;
    }
    if (rc == 0)
        r->heap[0] = r->heap[--r->heap_n];
    if (r->heap_n)
        sift_down(r, 0);
    return 1;
}

/* 1 and *ev, 0 at the end (and on every later call), TT_EINVAL for NULL
 * arguments, or TT_ECORRUPT once per malformed chunk at the point where its
 * good events end (*ev untouched). Never allocates. */
int tt_reader_next(tt_reader_t *r, tt_event_t *ev)
{
    int rc;
    if (r == NULL || ev == NULL)
        return TT_EINVAL;
    if (TT_UNLIKELY(r->canceled))
        return TT_ECANCELED;
    rc = (r->flags & TT_READ_FILE) ? next_file(r, ev) : next_merged(r, ev);
    if (rc == 1 && TT_UNLIKELY(++r->progress_done % TT_PROGRESS_EVERY == 0) &&
        r->progress != NULL &&
        r->progress(r->progress_ctx, r->progress_done,
                    r->progress_total) != 0)
        r->canceled = 1;         /* this event stands; the next call stops */
    return rc;
}

void tt_reader_set_progress(tt_reader_t *r, tt_progress_fn fn, void *ctx)
{
    if (r == NULL)
        return;
    r->progress = fn;
    r->progress_ctx = ctx;
}

/* ------------------------------------------------------------ accessors */

/* All accessors return borrowed pointers valid until tt_reader_close, and
 * NULL (or 0) for a NULL reader or an id out of range. */

const tt_header_t *tt_reader_header(const tt_reader_t *r)
{
    return r ? &r->header : NULL;
}

const tt_damage_t *tt_reader_damage(const tt_reader_t *r)
{
    return r ? &r->damage : NULL;
}

const char *tt_reader_string(const tt_reader_t *r, uint32_t id)
{
    return r && id < r->n_strings ? r->strings[id] : NULL;
}

const tt_code_def_t *tt_reader_code(const tt_reader_t *r, uint32_t id)
{
    return r && id < r->n_codes ? &r->codes[id] : NULL;
}

const tt_type_def_t *tt_reader_type(const tt_reader_t *r, uint32_t id)
{
    return r && id < r->n_types ? &r->types[id] : NULL;
}

const tt_thread_info_t *tt_reader_thread(const tt_reader_t *r, uint32_t id)
{
    return r && id < r->n_threads ? &r->threads[id] : NULL;
}

uint32_t tt_reader_n_codes(const tt_reader_t *r)
{
    return r ? r->n_codes : 0;
}

uint32_t tt_reader_n_types(const tt_reader_t *r)
{
    return r ? r->n_types : 0;
}

uint32_t tt_reader_n_threads(const tt_reader_t *r)
{
    return r ? r->n_threads : 0;
}

uint32_t tt_reader_n_ancillary(const tt_reader_t *r)
{
    return r ? r->n_anc : 0;
}

/* 0 and the i-th good ancillary chunk (borrowed payload), or TT_EINVAL. */
int tt_reader_ancillary(const tt_reader_t *r, uint32_t i, uint8_t *type,
                        const uint8_t **payload, size_t *len)
{
    if (r == NULL || i >= r->n_anc)
        return TT_EINVAL;
    if (type)
        *type = r->anc[i].type;
    if (payload)
        *payload = r->anc[i].payload;
    if (len)
        *len = r->anc[i].len;
    return 0;
}

uint32_t tt_reader_n_notes(const tt_reader_t *r)
{
    return r ? r->n_notes : 0;
}

/* 0 with *key and *value (either may be NULL to skip it) borrowed until
 * tt_reader_close, or TT_EINVAL for an index out of range. */
int tt_reader_note(const tt_reader_t *r, uint32_t i, const char **key,
                   const char **value)
{
    if (r == NULL || i >= r->n_notes)
        return TT_EINVAL;
    if (key)
        *key = r->note_keys[i];
    if (value)
        *value = r->note_values[i];
    return 0;
}

/* Events decoded at open, by kind (index 0 unused), and the sum of the
 * DROPPED events' counts; either pointer may be NULL. */
void tt_reader_counts(const tt_reader_t *r, uint64_t counts[TT_EV__COUNT],
                      uint64_t *dropped)
{
    for (int k = 0; counts && k < TT_EV__COUNT; k++)
        counts[k] = r ? r->counts[k] : 0;
    if (dropped)
        *dropped = r ? r->dropped : 0;
}


/* Binary search over the ranges (sorted and disjoint, as the reader
 * guarantees); TT_NO_LINE for NULL, a gap, or an offset past the end. */
int32_t tt_code_line_at(const tt_code_def_t *code, uint32_t offset)
{
    uint32_t lo = 0, hi;

    if (code == NULL || code->ranges == NULL)
        return TT_NO_LINE;
    hi = code->n_ranges;
    while (lo < hi) {               /* first range with end > offset */
        uint32_t mid = lo + (hi - lo) / 2;
        if (code->ranges[mid].end <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < code->n_ranges && code->ranges[lo].start <= offset &&
        offset < code->ranges[lo].end)
        return code->ranges[lo].line;
    return TT_NO_LINE;
}
