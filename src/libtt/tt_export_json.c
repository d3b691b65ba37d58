/* tt_export_json.c - coverage as JSON (`tracetap coverage --format json`,
 * and the data behind `Trace.coverage()`).
 *
 * Owns: the JSON layout: {"files": {path: {"executable", "counts",
 * "functions", "summary"}}, "totals": {...}}. Must not: print anywhere but
 * the FILE* it is given. Strings are escaped for JSON; bytes >= 0x80 pass
 * through (paths are UTF-8). Threads: none of its own.
 */
#include <inttypes.h>
#include <string.h>

#include "tt_internal.h"

static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void summary(FILE *out, const tt_cov_summary_t *s, int with_files,
                    int branch)
{
    double pct = tt_coverage_percent(s);
    fputc('{', out);
    if (with_files)
        fprintf(out, "\"files\": %" PRIu32 ", ", s->files);
    fprintf(out, "\"executable\": %" PRIu64 ", \"covered\": %" PRIu64
            ", \"missed\": %" PRIu64 ", \"percent\": %.2f, "
            "\"functions\": %" PRIu64 ", \"functions_hit\": %" PRIu64,
            s->executable, s->covered, s->executable - s->covered, pct,
            s->functions, s->functions_hit);
    if (branch)
        fprintf(out, ", \"branches\": %" PRIu64 ", \"branches_hit\": %"
                PRIu64 ", \"partial\": %" PRIu64, s->branches,
                s->branches_hit, s->partial);
    fputc('}', out);
}

/* "executed_branches"/"missing_branches": [[line, to], ...] of f's view. */
static void branch_lists(FILE *out, const tt_cov_file_t *f)
{
    for (int taken = 1; taken >= 0; taken--) {
        const char *sep = "";
        fputs(taken ? ", \"executed_branches\": [" : ", \"missing_branches\": [",
              out);
        for (uint32_t k = 0; k < f->n_branches; k++) {
            if ((f->branches[k].taken != 0) != taken ||
                (!taken && (f->branches[k].flags & TT_BRANCH_IGNORED)))
                continue;           /* no branch: never missing, as in
                                       coverage.py's JSON */
            fprintf(out, "%s[%" PRId32 ", %" PRId32 "]", sep,
                    f->branches[k].line, f->branches[k].to);
            sep = ", ";
        }
        fputc(']', out);
    }
}

/* "raw_lines": CPython's executable lines, when a view replaced them. */
static void raw_lines(FILE *out, const tt_cov_file_t *f)
{
    if (f->lines == f->raw_lines)
        return;
    fputs(", \"raw_lines\": [", out);
    for (uint32_t k = 0; k < f->n_raw; k++)
        fprintf(out, "%s%" PRId32, k ? ", " : "", f->raw_lines[k]);
    fputc(']', out);
}

int tt_coverage_write_json(const tt_coverage_t *cov, FILE *out)
{
    uint32_t n = tt_coverage_n_files(cov);
    int branch = tt_coverage_branch(cov);
    tt_cov_summary_t tot;

    if (cov == NULL || out == NULL)
        return TT_EINVAL;
    fputs("{\"files\": {", out);
    for (uint32_t i = 0; i < n; i++) {
        const tt_cov_file_t *f = tt_coverage_file(cov, i);
        const char *sep = "";
        fputs(i ? ",\n  " : "\n  ", out);
        json_str(out, f->path);
        fputs(": {\"executable\": [", out);
        for (uint32_t k = 0; k < f->n_lines; k++)
            fprintf(out, "%s%" PRId32, k ? ", " : "", f->lines[k]);
        fputs("], \"counts\": {", out);
        for (uint32_t k = 0; k < f->n_lines; k++) {
            if (f->hits[k] == 0)
                continue;
            fprintf(out, "%s\"%" PRId32 "\": %" PRIu64, sep, f->lines[k],
                    f->hits[k]);
            sep = ", ";
        }
        fputs("}, \"functions\": [", out);
        for (uint32_t k = 0; k < f->n_funcs; k++) {
            fputs(k ? ", {\"name\": " : "{\"name\": ", out);
            json_str(out, f->funcs[k].name);
            fprintf(out, ", \"line\": %" PRId32 ", \"calls\": %" PRIu64 "}",
                    f->funcs[k].line, f->funcs[k].calls);
        }
        fputc(']', out);
        raw_lines(out, f);
        if (branch)
            branch_lists(out, f);
        fputs(", \"summary\": ", out);
        summary(out, &f->summary, 0, branch);
        fputc('}', out);
    }
    fputs(n ? "\n}, \"totals\": " : "}, \"totals\": ", out);
    tt_coverage_totals(cov, &tot);
    summary(out, &tot, 1, branch);
    fputs("}\n", out);
    return ferror(out) ? TT_EIO : 0;
}
