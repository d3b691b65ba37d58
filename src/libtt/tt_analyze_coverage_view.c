/* tt_analyze_coverage_view.c - statement views of a finished coverage table: the
 * caller's own count of statements and branch exits replaces CPython's
 * executable lines in the reports, and the files it leaves out go.
 *
 * Owns: copying a view into its file, the summary it implies (branches as
 * coverage.py counts them), and retaining a subset of files. Must not:
 * print. One thread.
 */
#include <stdlib.h>
#include <string.h>

#include "tt_coverage_int.h"

void tt__view_drop(cov_file *f)
{
    tt__free(f->vlines);
    tt__free(f->vhits);
    tt__free(f->vbranches);
    f->vlines = NULL;
    f->vhits = NULL;
    f->vbranches = NULL;
    f->pub.n_branches = 0;
    f->pub.branches = NULL;
}

/* 1 if the view's arrays are sorted as the contract says. */
static int view_valid(const tt_cov_view_t *v)
{
    if ((v->n_lines && (v->lines == NULL || v->hits == NULL)) ||
        (v->n_branches && v->branches == NULL))
        return 0;
    for (uint32_t k = 1; k < v->n_lines; k++)
        if (v->lines[k] <= v->lines[k - 1])
            return 0;
    for (uint32_t k = 1; k < v->n_branches; k++) {
        const tt_cov_branch_t *a = &v->branches[k - 1], *b = &v->branches[k];
        if (b->line < a->line || (b->line == a->line && b->to <= a->to))
            return 0;
    }
    return 1;
}

uint32_t tt_coverage_line_index(const int32_t *lines, uint32_t n,
                                int32_t line)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (lines[mid] < line)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && lines[lo] == line ? lo : n;
}

/* The hits of `line` in the view, 0 if it is not a statement. */
static uint64_t line_hits(const tt_cov_view_t *v, int32_t line)
{
    uint32_t k = tt_coverage_line_index(v->lines, v->n_lines, line);
    return k < v->n_lines ? v->hits[k] : 0;
}

int tt_coverage_set_view(tt_coverage_t *cov, uint32_t i,
                         const tt_cov_view_t *v)
{
    cov_file *f;
    int32_t *lines;
    uint64_t *hits;
    tt_cov_branch_t *br;
    tt_cov_summary_t *s;

    if (cov == NULL || v == NULL || i >= cov->n_sorted || !view_valid(v))
        return TT_EINVAL;
    f = cov->sorted[i];
    lines = tt__malloc((size_t)v->n_lines * sizeof *lines + 1);
    hits = tt__malloc((size_t)v->n_lines * sizeof *hits + 1);
    br = tt__malloc((size_t)v->n_branches * sizeof *br + 1);
    if (lines == NULL || hits == NULL || br == NULL) {
        tt__free(lines);
        tt__free(hits);
        tt__free(br);
        return TT_ENOMEM;
    }
    if (v->n_lines) {
        memcpy(lines, v->lines, (size_t)v->n_lines * sizeof *lines);
        memcpy(hits, v->hits, (size_t)v->n_lines * sizeof *hits);
    }
    if (v->n_branches)
        memcpy(br, v->branches, (size_t)v->n_branches * sizeof *br);
    tt__view_drop(f);
    f->vlines = lines;
    f->vhits = hits;
    f->vbranches = br;
    f->pub.n_lines = v->n_lines;
    f->pub.lines = lines;
    f->pub.hits = hits;
    f->pub.n_branches = v->n_branches;
    f->pub.branches = br;
    s = &f->pub.summary;
    s->executable = v->n_lines;
    s->covered = 0;
    for (uint32_t k = 0; k < v->n_lines; k++)
        s->covered += hits[k] != 0;
    s->branches = v->n_branches;
    s->branches_hit = 0;
    s->partial = 0;
    for (uint32_t k = 0; k < v->n_branches; k++) {
        if (br[k].taken || (br[k].flags & TT_BRANCH_IGNORED))
            s->branches_hit++;
        else if (line_hits(v, br[k].line))
            s->partial++;        /* coverage.py's BrPart: from a line that ran */
    }
    return 0;
}

void tt_coverage_set_branch(tt_coverage_t *cov, int branch)
{
    if (cov != NULL)
        cov->branch = branch != 0;
}

int tt_coverage_branch(const tt_coverage_t *cov)
{
    return cov != NULL && cov->branch;
}

int tt_coverage_retain(tt_coverage_t *cov, const uint8_t *keep, uint32_t n)
{
    uint32_t m = 0;
    if (cov == NULL || keep == NULL || n != cov->n_sorted)
        return TT_EINVAL;
    for (uint32_t i = 0; i < n; i++)
        if (keep[i])
            cov->sorted[m++] = cov->sorted[i];
    cov->n_sorted = m;
    return 0;
}

double tt_coverage_percent(const tt_cov_summary_t *s)
{
    uint64_t num = s->covered + s->branches_hit;
    uint64_t den = s->executable + s->branches;
    return den ? 100.0 * (double)num / (double)den : 100.0;
}
