/* tt_export_lcov.c - coverage as an LCOV tracefile (geninfo(1) format), for
 * genhtml and the CI services that read lcov.info.
 *
 * Owns: TN/SF/FN/FNDA/FNF/FNH/DA/LF/LH/end_of_record records, and with
 * branches BRDA/BRF/BRH (one block per branch line, one branch per exit;
 * "-" for the exits of a line that never ran, as geninfo writes them). Function
 * names are qualnames; a qualname used by two functions of one file (a
 * property's getter and setter, two lambdas) gets "@LINE" appended so that
 * every FN name is unique in its file, as lcov requires. Must not: print
 * anywhere but the FILE* it is given. Threads: none of its own.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tt_internal.h"

static int cmp_name(const void *a, const void *b)
{
    const tt_cov_func_t *x = *(const tt_cov_func_t *const *)a;
    const tt_cov_func_t *y = *(const tt_cov_func_t *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x > y) - (x < y);
}

/* Marks in dup[] the functions whose name is not unique in the file. 0 or
 * TT_ENOMEM. */
static int find_dups(const tt_cov_file_t *f, uint8_t *dup)
{
    const tt_cov_func_t **v = tt__malloc((size_t)f->n_funcs * sizeof *v + 1);
    if (v == NULL)
        return TT_ENOMEM;
    for (uint32_t i = 0; i < f->n_funcs; i++)
        v[i] = &f->funcs[i];
    qsort(v, f->n_funcs, sizeof *v, cmp_name);
    for (uint32_t i = 0; i + 1 < f->n_funcs; i++) {
        if (strcmp(v[i]->name, v[i + 1]->name) == 0)
            dup[v[i] - f->funcs] = dup[v[i + 1] - f->funcs] = 1;
    }
    tt__free((void *)v);
    return 0;
}

/* LCOV is line-based text: a recorded string goes through the text rule
 * (tt_text_write: controls, newline included, bidi overrides and bytes
 * that are not UTF-8 as \xNN / \uNNNN escapes), so no name can end its
 * line or drive a terminal. In FN/FNDA names a comma, which LCOV splits
 * on, becomes '_' as before. */
static void lcov_name(FILE *out, const tt_cov_func_t *fn, int dup)
{
    for (const char *s = fn->name; *s;) {
        size_t k = strcspn(s, ",");
        tt__text_write_n(out, s, k);
        s += k;
        if (*s == ',') {
            fputc('_', out);
            s++;
        }
    }
    if (dup)
        fprintf(out, "@%" PRId32, fn->line);
}

static void lcov_text(FILE *out, const char *s)
{
    tt_text_write(out, s, 0);
}

static void write_branches(FILE *out, const tt_cov_file_t *f)
{
    uint64_t hit = 0, found = 0;
    uint32_t k = 0, lk = 0;
    while (k < f->n_branches) {
        int32_t line = f->branches[k].line;
        int ran;
        while (lk < f->n_lines && f->lines[lk] < line)
            lk++;
        ran = lk < f->n_lines && f->lines[lk] == line && f->hits[lk];
        for (uint32_t e = 0; k < f->n_branches &&
                             f->branches[k].line == line; k++, e++) {
            if (!f->branches[k].taken &&
                (f->branches[k].flags & TT_BRANCH_IGNORED))
                continue;            /* no "ignored" in LCOV: left out */
            found++;
            fprintf(out, "BRDA:%" PRId32 ",0,%" PRIu32 ",", line, e);
            if (ran)
                fprintf(out, "%" PRIu64 "\n", f->branches[k].taken);
            else
                fputs("-\n", out);
            hit += f->branches[k].taken != 0;
        }
    }
    fprintf(out, "BRF:%" PRIu64 "\nBRH:%" PRIu64 "\n", found, hit);
}

static int write_file(FILE *out, const tt_cov_file_t *f, int branch)
{
    uint8_t *dup = tt__malloc(f->n_funcs + 1);
    uint64_t hit = 0;

    if (dup == NULL)
        return TT_ENOMEM;
    memset(dup, 0, f->n_funcs + 1);
    if (find_dups(f, dup) < 0) {
        tt__free(dup);
        return TT_ENOMEM;
    }
    fputs("SF:", out);
    lcov_text(out, f->path);
    fputc('\n', out);
    for (uint32_t k = 0; k < f->n_funcs; k++) {
        fprintf(out, "FN:%" PRId32 ",", f->funcs[k].line);
        lcov_name(out, &f->funcs[k], dup[k]);
        fputc('\n', out);
    }
    for (uint32_t k = 0; k < f->n_funcs; k++) {
        fprintf(out, "FNDA:%" PRIu64 ",", f->funcs[k].calls);
        lcov_name(out, &f->funcs[k], dup[k]);
        fputc('\n', out);
        hit += f->funcs[k].calls != 0;
    }
    fprintf(out, "FNF:%" PRIu32 "\nFNH:%" PRIu64 "\n", f->n_funcs, hit);
    for (uint32_t k = 0; k < f->n_lines; k++)
        fprintf(out, "DA:%" PRId32 ",%" PRIu64 "\n", f->lines[k], f->hits[k]);
    if (branch)
        write_branches(out, f);
    fprintf(out, "LF:%" PRIu64 "\nLH:%" PRIu64 "\nend_of_record\n",
            f->summary.executable, f->summary.covered);
    tt__free(dup);
    return 0;
}

int tt_coverage_write_lcov(const tt_coverage_t *cov, FILE *out,
                           const tt_cov_opts_t *opts)
{
    uint32_t n = tt_coverage_n_files(cov);
    int rc;

    if (cov == NULL || out == NULL)
        return TT_EINVAL;
    for (uint32_t i = 0; i < n; i++) {
        fputs("TN:", out);
        if (opts && opts->test_name)
            lcov_text(out, opts->test_name);
        fputc('\n', out);
        rc = write_file(out, tt_coverage_file(cov, i),
                        tt_coverage_branch(cov));
        if (rc < 0)
            return rc;
    }
    return ferror(out) ? TT_EIO : 0;
}
