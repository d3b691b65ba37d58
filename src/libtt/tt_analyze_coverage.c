/* tt_analyze_coverage.c - the coverage analysis: recordings -> per-file executable
 * lines, hit counts and function call counts, merged over recordings.
 *
 * Owns: the per-file tables (executable lines as the union of co_lines()
 * over the file's code objects; hits from LINE events or 0x80 chunks) and
 * their merge; the arcs are tt_analyze_coverage_arcs.c's, views
 * tt_analyze_coverage_view.c's. Must not: print, or allocate more than the recordings'
 * sizes justify (flat per-code arrays are budgeted; past the budget hits
 * go to a sparse list). Threads: a tt_coverage_t belongs to one thread.
 */
#include <stdlib.h>
#include <string.h>

#include "tt_coverage_int.h"

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;          /* FNV-1a */
    while (*s)
        h = (h ^ (uint8_t)*s++) * 1099511628211ull;
    return h;
}

/* 1 for a name that is not a real file: "", "<string>", "<frozen x>". */
static int pseudo_file(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n == 0 || (s[0] == '<' && s[n - 1] == '>');
}

int tt_coverage_new(tt_coverage_t **out)
{
    tt_coverage_t *cov;
    if (out == NULL)
        return TT_EINVAL;
    cov = tt__malloc(sizeof *cov);
    *out = NULL;
    if (cov == NULL)
        return TT_ENOMEM;
    memset(cov, 0, sizeof *cov);
    cov->slot_bits = 6;
    cov->slots = tt__malloc(((size_t)1 << cov->slot_bits) * sizeof(uint32_t));
    if (cov->slots == NULL) {
        tt__free(cov);
        return TT_ENOMEM;
    }
    memset(cov->slots, 0, ((size_t)1 << cov->slot_bits) * sizeof(uint32_t));
    *out = cov;
    return 0;
}

void tt_coverage_free(tt_coverage_t *cov)
{
    if (cov == NULL)
        return;
    for (uint32_t i = 0; i < cov->n_files; i++) {
        cov_file *f = cov->files[i];
        tt__free(f->pairs);
        tt__free(f->funcs);
        tt__free(f->lines);
        tt__free(f->hits);
        tt__free(f->arcs);
        tt__view_drop(f);
        tt__free(f);
    }
    tt__free(cov->files);
    tt__free(cov->slots);
    tt__free(cov->sorted);
    tt__arena_free(&cov->arena);
    tt__free(cov);
}

/* Doubles the file hash table when it is half full. 0 or TT_ENOMEM. */
static int slots_reserve(tt_coverage_t *cov)
{
    uint32_t bits = cov->slot_bits + 1, *slots;
    size_t n = (size_t)1 << bits, mask = n - 1;

    if (((size_t)cov->n_files + 1) * 2 <= ((size_t)1 << cov->slot_bits))
        return 0;
    slots = tt__malloc(n * sizeof *slots);
    if (slots == NULL)
        return TT_ENOMEM;
    memset(slots, 0, n * sizeof *slots);
    for (uint32_t i = 0; i < cov->n_files; i++) {
        size_t j = (size_t)(cov->files[i]->hash >> (64 - bits));
        while (slots[j])
            j = (j + 1) & mask;
        slots[j] = i + 1;
    }
    tt__free(cov->slots);
    cov->slots = slots;
    cov->slot_bits = bits;
    return 0;
}

/* The index of the file named `path`, added on first sight. 0 or
 * TT_ENOMEM. */
static int file_index(tt_coverage_t *cov, const char *path, uint32_t *out)
{
    uint64_t h = hash_str(path);
    size_t mask, j;
    cov_file *f;
    void *arr;

    if (slots_reserve(cov) < 0)
        return TT_ENOMEM;
    mask = ((size_t)1 << cov->slot_bits) - 1;
    j = (size_t)(h >> (64 - cov->slot_bits));
    while (cov->slots[j]) {
        f = cov->files[cov->slots[j] - 1];
        if (f->hash == h && strcmp(f->pub.path, path) == 0) {
            *out = cov->slots[j] - 1;
            return 0;
        }
        j = (j + 1) & mask;
    }
    arr = cov->files;
    if (tt__grow(&arr, &cov->cap_files, (size_t)cov->n_files + 1,
                 sizeof *cov->files) < 0)
        return TT_ENOMEM;
    cov->files = arr;
    f = tt__malloc(sizeof *f);
    if (f == NULL)
        return TT_ENOMEM;
    memset(f, 0, sizeof *f);
    f->pub.path = tt__arena_strdup(&cov->arena, path, strlen(path));
    if (f->pub.path == NULL) {
        tt__free(f);
        return TT_ENOMEM;
    }
    f->hash = h;
    cov->files[cov->n_files] = f;
    cov->slots[j] = ++cov->n_files;
    *out = cov->n_files - 1;
    return 0;
}

static int add_pair(cov_file *f, int32_t line, uint64_t hits)
{
    void *arr = f->pairs;
    if (line < 1)
        return 0;                 /* not a source line (module RESUME: 0) */
    if (f->n_pairs && f->pairs[f->n_pairs - 1].line == line) {
        f->pairs[f->n_pairs - 1].hits += hits;
        return 0;
    }
    if (tt__grow(&arr, &f->cap_pairs, f->n_pairs + 1, sizeof *f->pairs) < 0)
        return TT_ENOMEM;
    f->pairs = arr;
    f->pairs[f->n_pairs].line = line;
    f->pairs[f->n_pairs].hits = hits;
    f->n_pairs++;
    return 0;
}

static int add_func(tt_coverage_t *cov, cov_file *f, const char *name,
                    int32_t line, uint64_t calls)
{
    void *arr = f->funcs;
    const char *copy;
    if (tt__grow(&arr, &f->cap_funcs, f->n_funcs + 1, sizeof *f->funcs) < 0)
        return TT_ENOMEM;
    f->funcs = arr;
    copy = tt__arena_strdup(&cov->arena, name, strlen(name));
    if (copy == NULL)
        return TT_ENOMEM;
    f->funcs[f->n_funcs].name = copy;
    f->funcs[f->n_funcs].line = line;
    f->funcs[f->n_funcs].calls = calls;
    f->n_funcs++;
    return 0;
}

/* Registers the code objects of r: files, executable lines, spans. */
static int add_codes(tt_coverage_t *cov, const tt_reader_t *r,
                     code_info *info, uint32_t n)
{
    for (uint32_t id = 0; id < n; id++) {
        const tt_code_def_t *c = tt_reader_code(r, id);
        const char *path = tt_reader_string(r, c->filename);
        code_info *ci = &info[id];
        int32_t lo = INT32_MAX, hi = INT32_MIN;
        cov_file *f;
        int rc;

        ci->file = NO_FILE;
        ci->firstline = c->firstlineno;
        if (!(c->flags & TT_CODE_TRACED) || pseudo_file(path))
            continue;
        rc = file_index(cov, path, &ci->file);
        if (rc < 0)
            return rc;
        f = cov->files[ci->file];
        for (uint32_t k = 0; k < c->n_ranges; k++) {
            int32_t line = c->ranges[k].line;
            if (line == TT_NO_LINE || c->ranges[k].start == c->ranges[k].end)
                continue;
            if (line < lo)
                lo = line;
            if (line > hi)
                hi = line;
            if ((rc = add_pair(f, line, 0)) < 0)
                return rc;
        }
        if (lo <= hi) {
            ci->base = lo;
            ci->span = (uint32_t)((int64_t)hi - lo + 1);
        }
    }
    return 0;
}

/* Adds `hits` to `line` of code ci: the flat array when the line is in the
 * code's span and the budget allows, else a pair. 0 or TT_ENOMEM. */
static int hit(tt_coverage_t *cov, code_info *ci, int32_t line,
               uint64_t hits, uint64_t *budget)
{
    if (line >= ci->base && (uint64_t)((int64_t)line - ci->base) < ci->span) {
        if (ci->counts == NULL && !ci->no_array) {
            if (ci->span <= *budget) {
                ci->counts = tt__malloc((size_t)ci->span * sizeof(uint64_t));
                if (ci->counts == NULL)
                    return TT_ENOMEM;
                memset(ci->counts, 0, (size_t)ci->span * sizeof(uint64_t));
                *budget -= ci->span;
            } else {
                ci->no_array = 1;
            }
        }
        if (ci->counts != NULL) {
            ci->counts[line - ci->base] += hits;
            return 0;
        }
    }
    return add_pair(cov->files[ci->file], line, hits);
}

static int add_events(tt_coverage_t *cov, tt_reader_t *r, code_info *info,
                      uint32_t n, uint64_t *budget)
{
    tt__arc_walk *walk = NULL;
    tt_event_t evs[256];
    int k = 0, rc;

    rc = tt_reader_select_thread(r, UINT32_MAX);
    if (rc == 0 && cov->want_arcs)
        rc = tt__arc_walk_new(&walk);
    if (rc < 0)
        return rc;
    while (rc == 0 && (k = tt_reader_next_batch(r, evs, 256)) != 0) {
        if (k == TT_ECANCELED || k == TT_ENOMEM) {   /* no chunk buffer */
            rc = k;
            break;
        }
        if (k < 0) {
            cov->skipped++;       /* a malformed chunk: the rest is read */
            continue;
        }
        for (int i = 0; i < k && rc == 0; i++) {
            const tt_event_t *ev = &evs[i];
            code_info *ci;
            if (walk != NULL &&
                (rc = tt__arc_walk_event(walk, ev, info, n)) < 0)
                break;
            if ((ev->kind != TT_EV_LINE && ev->kind != TT_EV_CALL) ||
                ev->code >= n)
                continue;
            ci = &info[ev->code];
            if (ci->file == NO_FILE)
                continue;
            if (ev->kind == TT_EV_CALL)
                ci->calls++;
            else
                rc = hit(cov, ci, ev->line, 1, budget);
        }
    }
    tt__arc_walk_free(walk);
    return rc;
}

/* The arcs of a --count --branch recording (0x83 chunks). */
static int add_arc_counts(tt_coverage_t *cov, const tt_reader_t *r,
                          code_info *info, uint32_t n)
{
    tt_arc_counts_t *ac;
    int rc = tt_arc_counts_read(r, &ac);

    if (rc < 0)
        return rc;
    cov->skipped += tt_arc_counts_bad_chunks(ac);
    for (uint32_t i = 0; i < tt_arc_counts_n(ac) && rc == 0; i++) {
        const tt_code_arcs_t *ca = tt_arc_counts_get(ac, i);
        code_info *ci = ca->code < n ? &info[ca->code] : NULL;
        if (ci == NULL || ci->file == NO_FILE)
            continue;
        for (uint32_t k = 0; k < ca->n && rc == 0; k++)
            rc = tt__arc_add(ci, ca->arcs[k].from, ca->arcs[k].to,
                             ca->arcs[k].count);
    }
    tt_arc_counts_free(ac);
    return rc;
}

static int add_counts(tt_coverage_t *cov, const tt_reader_t *r,
                      code_info *info, uint32_t n, uint64_t *budget)
{
    tt_line_counts_t *lc;
    int rc = tt_line_counts_read(r, &lc);

    if (rc < 0)
        return rc;
    cov->skipped += tt_line_counts_bad_chunks(lc);
    for (uint32_t i = 0; i < tt_line_counts_n(lc) && rc == 0; i++) {
        const tt_code_counts_t *cc = tt_line_counts_get(lc, i);
        code_info *ci = cc->code < n ? &info[cc->code] : NULL;
        if (ci == NULL || ci->file == NO_FILE)
            continue;
        ci->calls += cc->calls;
        for (uint32_t k = 0; k < cc->n && rc == 0; k++)
            rc = hit(cov, ci, cc->lines[k], cc->counts[k], budget);
    }
    tt_line_counts_free(lc);
    if (rc == 0 && cov->want_arcs)
        rc = add_arc_counts(cov, r, info, n);
    return rc;
}

/* Moves the per-code arrays and calls into the files. */
static int fold(tt_coverage_t *cov, const tt_reader_t *r, code_info *info,
                uint32_t n)
{
    int rc;
    for (uint32_t id = 0; id < n; id++) {
        code_info *ci = &info[id];
        const tt_code_def_t *c = tt_reader_code(r, id);
        cov_file *f;
        if (ci->file == NO_FILE)
            continue;
        f = cov->files[ci->file];
        for (uint32_t k = 0; ci->counts && k < ci->span; k++) {
            if (ci->counts[k] &&
                (rc = add_pair(f, (int32_t)(ci->base + (int64_t)k),
                               ci->counts[k])) < 0)
                return rc;
        }
        if ((rc = tt__arc_fold(f, ci)) < 0)
            return rc;
        if ((c->flags & TT_CODE_FUNCTION) &&
            (rc = add_func(cov, f, tt_reader_string(r, c->qualname),
                           c->firstlineno, ci->calls)) < 0)
            return rc;
    }
    return 0;
}

/* Contract (tt.h). */
int tt_coverage_add(tt_coverage_t *cov, tt_reader_t *r)
{
    uint32_t n;
    code_info *info;
    uint64_t budget;
    int rc;

    if (cov == NULL || r == NULL)
        return TT_EINVAL;
    n = tt_reader_n_codes(r);
    info = tt__malloc((size_t)n * sizeof *info + 1);
    if (info == NULL)
        return TT_ENOMEM;
    memset(info, 0, (size_t)n * sizeof *info);
    /* Flat arrays may take 16 slots per byte of the file, plus 1M: memory
     * stays proportional to the input whatever its line numbers say. */
    budget = (uint64_t)r->len * 16 + (1u << 20);
    rc = add_codes(cov, r, info, n);
    if (rc == 0)
        rc = add_events(cov, r, info, n, &budget);
    if (rc == 0)
        rc = add_counts(cov, r, info, n, &budget);
    if (rc == 0)
        rc = fold(cov, r, info, n);
    for (uint32_t i = 0; i < n; i++) {
        tt__free(info[i].counts);
        tt__free(info[i].arcs);
    }
    tt__free(info);
    return rc;
}

/* ---------------------------------------------------------------- finish */

static int cmp_pair(const void *a, const void *b)
{
    const cov_pair *x = a, *y = b;
    return (x->line > y->line) - (x->line < y->line);
}

static int cmp_func(const void *a, const void *b)
{
    const tt_cov_func_t *x = a, *y = b;
    if (x->line != y->line)
        return (x->line > y->line) - (x->line < y->line);
    return strcmp(x->name, y->name);
}

static int cmp_file(const void *a, const void *b)
{
    const cov_file *x = *(const cov_file *const *)a;
    const cov_file *y = *(const cov_file *const *)b;
    return strcmp(x->pub.path, y->pub.path);
}

/* Sorts and merges one file's pairs and functions, rebuilding its public
 * view. 0 or TT_ENOMEM (the file's previous view stays). */
static int finish_file(cov_file *f)
{
    size_t n = 0, m = 0;
    int32_t *lines;
    uint64_t *hits;
    tt_cov_summary_t *s = &f->pub.summary;

    if (f->n_pairs > 1)
        qsort(f->pairs, f->n_pairs, sizeof *f->pairs, cmp_pair);
    for (size_t i = 0; i < f->n_pairs; i++) {
        if (n && f->pairs[n - 1].line == f->pairs[i].line)
            f->pairs[n - 1].hits += f->pairs[i].hits;
        else
            f->pairs[n++] = f->pairs[i];
    }
    f->n_pairs = n;
    if (f->n_funcs > 1)
        qsort(f->funcs, f->n_funcs, sizeof *f->funcs, cmp_func);
    for (size_t i = 0; i < f->n_funcs; i++) {
        if (m && cmp_func(&f->funcs[m - 1], &f->funcs[i]) == 0)
            f->funcs[m - 1].calls += f->funcs[i].calls;
        else
            f->funcs[m++] = f->funcs[i];
    }
    f->n_funcs = m;
    lines = tt__malloc(n * sizeof *lines + 1);
    hits = tt__malloc(n * sizeof *hits + 1);
    if (lines == NULL || hits == NULL) {
        tt__free(lines);
        tt__free(hits);
        return TT_ENOMEM;
    }
    memset(s, 0, sizeof *s);
    s->files = 1;
    for (size_t i = 0; i < n; i++) {
        lines[i] = f->pairs[i].line;
        hits[i] = f->pairs[i].hits;
        s->covered += hits[i] != 0;
    }
    s->executable = n;
    s->functions = m;
    for (size_t i = 0; i < m; i++)
        s->functions_hit += f->funcs[i].calls != 0;
    tt__free(f->lines);
    tt__free(f->hits);
    f->lines = lines;
    f->hits = hits;
    f->pub.n_lines = (uint32_t)n;
    f->pub.lines = lines;
    f->pub.hits = hits;
    f->pub.n_funcs = (uint32_t)m;
    f->pub.funcs = f->funcs;
    f->pub.n_raw = (uint32_t)n;
    f->pub.raw_lines = lines;
    f->pub.raw_hits = hits;
    tt__arc_finish(f);
    tt__view_drop(f);
    return 0;
}

int tt_coverage_finish(tt_coverage_t *cov)
{
    cov_file **sorted;
    int rc;

    if (cov == NULL)
        return TT_EINVAL;
    sorted = tt__malloc((size_t)cov->n_files * sizeof *sorted + 1);
    if (sorted == NULL)
        return TT_ENOMEM;
    for (uint32_t i = 0; i < cov->n_files; i++) {
        rc = finish_file(cov->files[i]);
        if (rc < 0) {
            tt__free(sorted);
            return rc;
        }
        sorted[i] = cov->files[i];
    }
    qsort(sorted, cov->n_files, sizeof *sorted, cmp_file);
    tt__free(cov->sorted);
    cov->sorted = sorted;
    cov->n_sorted = cov->n_files;
    return 0;
}

uint32_t tt_coverage_n_files(const tt_coverage_t *cov)
{
    return cov ? cov->n_sorted : 0;
}

const tt_cov_file_t *tt_coverage_file(const tt_coverage_t *cov, uint32_t i)
{
    return cov && i < cov->n_sorted ? &cov->sorted[i]->pub : NULL;
}

void tt_coverage_totals(const tt_coverage_t *cov, tt_cov_summary_t *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof *out);
    for (uint32_t i = 0; cov && i < cov->n_sorted; i++) {
        const tt_cov_summary_t *s = &cov->sorted[i]->pub.summary;
        out->files++;
        out->executable += s->executable;
        out->covered += s->covered;
        out->functions += s->functions;
        out->functions_hit += s->functions_hit;
        out->branches += s->branches;
        out->branches_hit += s->branches_hit;
        out->partial += s->partial;
    }
}

uint64_t tt_coverage_skipped(const tt_coverage_t *cov)
{
    return cov ? cov->skipped : 0;
}

int tt_coverage_want_arcs(tt_coverage_t *cov)
{
    if (cov == NULL)
        return TT_EINVAL;
    cov->want_arcs = 1;
    return 0;
}

int tt_coverage_add_source(tt_coverage_t *cov, const char *path)
{
    uint32_t i;
    if (cov == NULL || path == NULL || pseudo_file(path))
        return TT_EINVAL;
    return file_index(cov, path, &i);
}
