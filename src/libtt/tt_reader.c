/* tt_reader.c - the reader's public face: open, close, accessors, iteration.
 *
 * Owns: opening a file (kept open, read with pread(2): no mmap, so a file
 * cut while open cannot SIGBUS us, and no whole-file buffer), the
 * file-order iterator and the k-way merge over per-thread chunk chains (a
 * binary heap keyed by (tick, thread); a thread's next chunk waits in the
 * heap under its base tick and is read only when it comes to the top).
 * The open pass lives in tt_reader_index.c, chunk decoding in
 * tt_reader_run.c. Threads: a reader belongs to one thread.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tt_reader_int.h"

static void reader_free(tt_reader_t *r)
{
    tt__arena_free(&r->arena);
    tt__free((void *)r->strings);
    tt__free((void *)r->xstrings);
    tt__free(r->codes);
    tt__free(r->types);
    tt__free(r->threads);
    tt__free(r->chains);
    tt__free((void *)r->note_keys);
    tt__free((void *)r->note_values);
    tt__free(r->sources);
    tt__free(r->chunks);
    for (uint32_t i = 0; i < r->n_anc; i++)
        tt__free(r->anc[i].owned);
    tt__free(r->anc);
    tt__free(r->ctxs);
    tt__free(r->win);
    for (uint32_t i = 0; i < r->n_cursors; i++)
        tt__run_free(&r->cursors[i].run);
    tt__free(r->cursors);
    tt__free(r->heap);
    tt__clock_free(r->clock);
    tt__run_free(&r->frun);
    tt__free(r->wbuf);
    if (r->fd >= 0)
        close(r->fd);
    tt__free(r);
}

/* Frees the reader and everything it handed out (strings, tables, chunk
 * buffers) and closes its file; NULL is a no-op. */
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
        r->cursors[n].run.chunk = UINT32_MAX;
        n++;
    }
    r->n_cursors = n;
    return 0;
}

/* The open shared by both sources: index, cursors, optional scan. */
static int reader_start(tt_reader_t *r)
{
    int rc = tt__reader_index(r);
    if (rc == 0)
        rc = tt__reader_placeholders(r);
    if (rc == 0)
        rc = make_cursors(r);
    if (rc == 0)
        rc = r->flags & TT_READ_LAZY ? tt__reader_scan_heads(r)
                                     : tt_reader_scan(r);
    if (rc == 0)
        rc = tt_reader_select_thread(r, UINT32_MAX);
    tt__free(r->wbuf);              /* the open pass's scratch */
    r->wbuf = NULL;
    r->wcap = 0;
    return rc;
}

static tt_reader_t *reader_new(unsigned flags)
{
    tt_reader_t *r = tt__malloc(sizeof *r);
    if (r == NULL)
        return NULL;
    memset(r, 0, sizeof *r);
    r->fd = -1;
    r->flags = flags;
    r->sel = UINT32_MAX;
    r->frun.chunk = UINT32_MAX;
    return r;
}

/* Contract (tt.h): 0 and *out, also for a damaged file with a readable
 * header; else TT_EINVAL, TT_ENOMEM, TT_ENOTTRACE, TT_EVERSION,
 * TT_ETRUNCATED, TT_ECRC or TT_ECORRUPT with *out = NULL. data is borrowed
 * and must outlive the reader. */
int tt_reader_open_mem(tt_reader_t **out, const uint8_t *data, size_t len,
                       unsigned flags)
{
    tt_reader_t *r;
    int rc;

    if (out == NULL)
        return TT_EINVAL;
    *out = NULL;
    if ((data == NULL && len) || (flags & ~(TT_READ_FILE | TT_READ_LAZY)))
        return TT_EINVAL;
    if (len == 0)
        return TT_ETRUNCATED;
    if ((r = reader_new(flags)) == NULL)
        return TT_ENOMEM;
    r->data = data;
    r->len = len;
    rc = reader_start(r);
    if (rc < 0) {
        reader_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* As tt_reader_open_mem over the file, which the reader keeps open (its
 * size at open is what it reads); TT_EIO if the file cannot be opened or
 * is not a regular file. */
int tt_reader_open(tt_reader_t **out, const char *path, unsigned flags)
{
    return tt_reader_open_why(out, path, flags, NULL, 0);
}

int tt_reader_open_why(tt_reader_t **out, const char *path, unsigned flags,
                       char *why, size_t cap)
{
    struct stat st;
    tt_reader_t *r;
    int rc;

    if (why != NULL && cap > 0)
        why[0] = '\0';
    if (out == NULL)
        return TT_EINVAL;
    *out = NULL;
    if (path == NULL || (flags & ~(TT_READ_FILE | TT_READ_LAZY)))
        return TT_EINVAL;
    if ((r = reader_new(flags)) == NULL)
        return TT_ENOMEM;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0 || fstat(r->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (r->fd >= 0 && why != NULL && cap > 0 && !S_ISREG(st.st_mode))
            snprintf(why, cap, "not a regular file (a pipe or a device): "
                     "a recording is read from a file");
        reader_free(r);
        return TT_EIO;
    }
    r->len = (uint64_t)st.st_size;
    if (r->len == 0)
        snprintf(r->open_why, sizeof r->open_why, "the file is empty");
    rc = r->len == 0 ? TT_ETRUNCATED : reader_start(r);
    if (rc < 0) {
        if (why != NULL && cap > 0)
            snprintf(why, cap, "%s", r->open_why);
        reader_free(r);
        return rc;
    }
    *out = r;
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

/* Sets the cursor's key to its next chunk's base tick, unread. Returns 1,
 * or 0 when the thread is done. */
static int cursor_park(tt_reader_t *r, tt__cursor *c)
{
    const tt__evchunk *e;

    if (c->next == UINT32_MAX) {
        tt__run_free(&c->run);      /* the thread is over: its buffer too */
        return 0;
    }
    c->loaded = 0;
    /* The key must not exceed any later event of the thread. The base tick
     * of a decoded chunk with events bounds them and, by the base-tick
     * check, every later chunk's; a chunk not decoded yet may be damaged
     * (its base tick anything), so it waits under the thread's last tick. */
    e = &r->chunks[c->next];
    c->ev.tick = e->state == TT__CK_DONE && e->events > 0 ? e->base_tick
                                                          : c->floor;
    c->ev.thread = c->thread;
    return 1;
}

/* Advances the cursor to a real next event (c->loaded) or a parked chunk.
 * Returns 1, 0 when the thread is done, or the TT_E* of a chunk it just
 * gave up (call again). */
static int cursor_next(tt_reader_t *r, tt__cursor *c)
{
    int rc;
    if (c->run.chunk != UINT32_MAX) {
        rc = tt__run_next(r, &c->run, &c->ev);
        if (rc == 1) {
            c->loaded = 1;
            c->floor = c->ev.tick;
            return 1;
        }
        if (rc < 0)
            return rc;
        return cursor_park(r, c);
    }
    return cursor_park(r, c);
}

/* Loads a parked cursor's chunk and its first event. As cursor_next. */
static int cursor_load(tt_reader_t *r, tt__cursor *c)
{
    uint32_t i = c->next;
    int rc;
    c->next = r->chunks[i].next;
    rc = tt__run_load(r, &c->run, i);
    if (rc < 0) {
        (void)cursor_park(r, c);
        return rc;
    }
    return cursor_next(r, c);
}

/* Selected events, as far as known: exact once every chunk was decoded. */
static uint64_t selection_total(const tt_reader_t *r, uint32_t thread)
{
    uint64_t n = 0;
    if (thread != UINT32_MAX)
        return r->threads[thread].events;
    if (r->n_new && r->has_end)
        return r->damage.end_events;
    for (uint32_t i = 0; i < r->n_threads; i++)
        n += r->threads[i].events;
    return n;
}

/* 0, or TT_EINVAL (NULL reader, unknown thread) with the selection and
 * position unchanged. Reads nothing. */
int tt_reader_select_thread(tt_reader_t *r, uint32_t thread)
{
    if (r == NULL || (thread != UINT32_MAX && thread >= r->n_threads))
        return TT_EINVAL;
    r->sel = thread;
    r->progress_done = 0;
    r->canceled = 0;
    r->progress_total = selection_total(r, thread);
    r->fchunk = 0;
    tt__run_drop(&r->frun);
    r->pending_err = 0;
    r->pending_n = 0;
    r->heap_n = 0;
    for (uint32_t i = 0; i < r->n_cursors; i++) {
        tt__cursor *c = &r->cursors[i];
        tt__run_drop(&c->run);
        if (r->flags & TT_READ_FILE)
            continue;
        if (thread != UINT32_MAX && c->thread != thread)
            continue;
        c->next = c->first;
        c->floor = 0;
        if (cursor_park(r, c))
            r->heap[r->heap_n++] = i;
    }
    for (uint32_t i = r->heap_n / 2; i-- > 0;)
        sift_down(r, i);
    return 0;
}

static int next_file(tt_reader_t *r, tt_event_t *ev)
{
    for (;;) {
        int rc;
        if (r->frun.chunk == UINT32_MAX) {
            while (r->fchunk < r->n_chunks && r->sel != UINT32_MAX &&
                   r->chunks[r->fchunk].thread != r->sel)
                r->fchunk++;
            if (r->fchunk >= r->n_chunks)
                return 0;
            rc = tt__run_load(r, &r->frun, r->fchunk++);
            if (rc < 0)
                return rc;
        }
        rc = tt__run_next(r, &r->frun, ev);
        if (rc != 0)
            return rc;
    }
}

static int next_merged(tt_reader_t *r, tt_event_t *ev)
{
    for (;;) {
        tt__cursor *c;
        int rc, out = 0;
        if (r->pending_n) {       /* one report per bad chunk */
            r->pending_n--;
            return r->pending_err;
        }
        if (r->heap_n == 0)
            return 0;
        c = &r->cursors[r->heap[0]];
        if (c->loaded) {
            *ev = c->ev;
            out = 1;
            rc = cursor_next(r, c);
        } else {                  /* a parked chunk reached the top */
            rc = cursor_load(r, c);
        }
        while (rc < 0) {
            r->pending_err = rc;
            r->pending_n++;
            rc = cursor_next(r, c);
        }
        if (rc == 0)
            r->heap[0] = r->heap[--r->heap_n];
        if (r->heap_n)
            sift_down(r, 0);
        if (out)
            return 1;
    }
}

/* The batch form of next_merged: the top cursor's events are decoded
 * straight into the caller's array while they stay before the runner-up
 * (the smaller key of the root's children), with no heap work and no copy
 * per event. The same events in the same order, and the same error
 * points: an error found after some events ends the batch and is given
 * by the next call. */
static int merged_batch(tt_reader_t *r, tt_event_t *ev, size_t cap)
{
    size_t n = 0;

    while (n < cap) {
        tt__cursor *c;
        const tt_event_t *bound = NULL;
        uint32_t *h = r->heap;
        int rc;

        if (r->pending_n) {
            if (n > 0)
                break;
            r->pending_n--;
            return r->pending_err;
        }
        if (r->heap_n == 0)
            break;
        c = &r->cursors[h[0]];
        if (!c->loaded) {
            rc = cursor_load(r, c);
        } else {
            if (r->heap_n > 1)
                bound = &r->cursors[h[1]].ev;
            if (r->heap_n > 2 && ev_less(&r->cursors[h[2]].ev, bound))
                bound = &r->cursors[h[2]].ev;
            ev[n++] = c->ev;
            for (;;) {
                tt_event_t *e = &ev[n];
                if (n == cap || c->run.chunk == UINT32_MAX) {
                    rc = cursor_next(r, c);
                    break;
                }
                rc = tt__run_next(r, &c->run, e);
                if (rc != 1) {
                    if (rc == 0)
                        rc = cursor_park(r, c);
                    break;
                }
                c->floor = e->tick;
                if (bound != NULL && !ev_less(e, bound)) {
                    c->ev = *e;            /* another thread's turn */
                    c->loaded = 1;
                    break;
                }
                n++;
            }
        }
        while (rc < 0) {
            r->pending_err = rc;
            r->pending_n++;
            rc = cursor_next(r, c);
        }
        if (rc == 0)
            h[0] = h[--r->heap_n];
        if (r->heap_n)
            sift_down(r, 0);
    }
    return (int)n;
}

static int file_batch(tt_reader_t *r, tt_event_t *ev, size_t cap)
{
    size_t n = 0;
    while (n < cap) {
        int rc = next_file(r, &ev[n]);
        if (rc == 1) {
            n++;
            continue;
        }
        if (rc < 0 && n == 0)
            return rc;
        if (rc < 0) {              /* given by the next call */
            r->pending_err = rc;
            r->pending_n = 1;
        }
        break;
    }
    return (int)n;
}

/* Contract (tt.h). */
int tt_reader_next_batch(tt_reader_t *r, tt_event_t *ev, size_t cap)
{
    uint64_t before;
    int n;

    if (r == NULL || ev == NULL || cap == 0)
        return TT_EINVAL;
    if (TT_UNLIKELY(r->canceled))
        return TT_ECANCELED;
    if (cap > TT_BATCH_MAX)
        cap = TT_BATCH_MAX;
    do {
        if (r->flags & TT_READ_FILE) {
            if (r->pending_n) {
                r->pending_n = 0;
                return r->pending_err;
            }
            n = file_batch(r, ev, cap);
        } else {
            n = merged_batch(r, ev, cap);
        }
        if (n <= 0)
            return n;
        if (TT_UNLIKELY(r->windowed)) {   /* keep the events in a window */
            int m = 0;
            for (int i = 0; i < n; i++)
                if (tt__in_window(r, ev[i].tick))
                    ev[m++] = ev[i];
            n = m;
        }
    } while (n == 0);
    before = r->progress_done;
    r->progress_done += (uint64_t)n;
    if (TT_UNLIKELY(before / TT_PROGRESS_EVERY !=
                    r->progress_done / TT_PROGRESS_EVERY) &&
        r->progress != NULL &&
        r->progress(r->progress_ctx, r->progress_done,
                    r->progress_total) != 0)
        r->canceled = 1;         /* these events stand; the next call stops */
    return n;
}

/* 1 and *ev, 0 at the end (and on every later call), TT_EINVAL for NULL
 * arguments, or the TT_E* of a bad chunk once, at the point where its good
 * events end (*ev untouched). Allocates only a chunk buffer per thread for
 * a file (TT_ENOMEM: that chunk is skipped). */
int tt_reader_next(tt_reader_t *r, tt_event_t *ev)
{
    int rc;
    if (r == NULL || ev == NULL)
        return TT_EINVAL;
    if (TT_UNLIKELY(r->canceled))
        return TT_ECANCELED;
    do {
        if (!(r->flags & TT_READ_FILE))
            rc = next_merged(r, ev);
        else if (r->pending_n)         /* left by tt_reader_next_batch */
            rc = (r->pending_n = 0, r->pending_err);
        else
            rc = next_file(r, ev);
    } while (TT_UNLIKELY(r->windowed) && rc == 1 &&
             !tt__in_window(r, ev->tick));
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

/* Past the tables, a reader whose events may name lost ids (r->lax)
 * answers with one shared placeholder, never NULL. */
const char *tt_reader_string(const tt_reader_t *r, uint32_t id)
{
    if (r == NULL)
        return NULL;
    if (id < r->n_strings)
        return r->strings[id];
    if (id >= TT__XSTR_BASE && id - TT__XSTR_BASE < r->n_xstrings)
        return r->xstrings[id - TT__XSTR_BASE];
    return r->lax && id < TT__XSTR_BASE ? "<lost>" : NULL;
}

const tt_code_def_t *tt_reader_code(const tt_reader_t *r, uint32_t id)
{
    if (r == NULL)
        return NULL;
    if (id < r->n_codes)
        return &r->codes[id];
    return r->lax && id != TT_NO_CODE ? &r->unk_code : NULL;
}

const tt_type_def_t *tt_reader_type(const tt_reader_t *r, uint32_t id)
{
    if (r == NULL)
        return NULL;
    if (id < r->n_types)
        return &r->types[id];
    return r->lax ? &r->unk_type : NULL;
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

/* Events decoded so far (all of them after a scan), by kind (index 0
 * unused), and max(the DROPPED events' sum, END's dropped); either pointer
 * may be NULL. */
void tt_reader_counts(const tt_reader_t *r, uint64_t counts[TT_EV__COUNT],
                      uint64_t *dropped)
{
    for (int k = 0; counts && k < TT_EV__COUNT; k++)
        counts[k] = r ? r->counts[k] : 0;
    if (dropped)
        *dropped = r == NULL ? 0
                   : r->dropped > r->damage.end_dropped ? r->dropped
                                                        : r->damage.end_dropped;
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
