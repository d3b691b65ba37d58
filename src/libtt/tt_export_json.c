/* tt_export_json.c - coverage as JSON (`tracetap coverage --format json`,
 * and the data behind `Trace.coverage()`).
 *
 * Owns: the JSON layout: {"files": {path: {"executable", "counts",
 * "functions", "summary"}}, "totals": {...}}. Must not: print anywhere but
 * the FILE* it is given. Strings are escaped for JSON, controls (C1 too)
 * as \u; a byte that is not UTF-8 is \udcXX in a file name (json.dumps
 * of os.fsdecode's str) and U+FFFD elsewhere, as the Python readers decode
 * them. Threads: none of its own.
 */
#include <inttypes.h>
#include <string.h>

#include "tt_internal.h"

/* Contract (tt_internal.h): at most 6 bytes, not NUL-terminated. */
size_t tt__json_char(char *out, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    if (c == '"' || c == '\\') {
        out[0] = '\\';
        out[1] = (char)c;
        return 2;
    }
    if (c == '\n' || c == '\t') {
        out[0] = '\\';
        out[1] = c == '\n' ? 'n' : 't';
        return 2;
    }
    if (c < 0x20 || c == 0x7f) {
        memcpy(out, "\\u00", 4);
        out[4] = hex[c >> 4];
        out[5] = hex[c & 15];
        return 6;
    }
    out[0] = (char)c;
    return 1;
}

/* One code point of s into out (6 bytes at most); *used gets the bytes
 * consumed. A byte that is not UTF-8 is U+FFFD, or with fs its
 * surrogate-escape code point U+DC80..U+DCFF: what json.dumps writes for
 * the str os.fsdecode makes of a file name's bytes. */
static size_t json_seq(char *out, const unsigned char *s, size_t *used,
                       int fs)
{
    static const char hex[] = "0123456789abcdef";
    uint32_t cp;
    int n = tt__utf8_seq(s, &cp);

    if (n == 0) {
        *used = 1;
        if (!fs) {
            memcpy(out, "\\ufffd", 6);
            return 6;
        }
        cp = 0xDC00u + s[0];            /* s[0] >= 0x80 here */
    } else {
        *used = (size_t)n;
        if (cp < 0x80)
            return tt__json_char(out, (unsigned char)cp);
        if (!tt__text_unsafe(cp)) {
            memcpy(out, s, (size_t)n);
            return (size_t)n;
        }
    }
    memcpy(out, "\\u", 2);
    for (int i = 0; i < 4; i++)
        out[2 + i] = hex[(cp >> (12 - 4 * i)) & 15];
    return 6;
}

/* Contract (tt_internal.h): by code point: every control a terminal acts
 * on (tt__text_unsafe: C0, DEL, C1, bidi overrides) as \u, a byte that is
 * not UTF-8 as U+FFFD, as every reader output decodes it. */
size_t tt__json_seq(char *out, const unsigned char *s, size_t *used)
{
    return json_seq(out, s, used, 0);
}

/* Contract (tt_internal.h). */
size_t tt__json_fs_seq(char *out, const unsigned char *s, size_t *used)
{
    return json_seq(out, s, used, 1);
}

static void json_str(FILE *out, const char *s, int fs)
{
    const unsigned char *p = (const unsigned char *)s;
    char buf[6];
    size_t used;
    fputc('"', out);
    while (*p) {
        fwrite(buf, 1, json_seq(buf, p, &used, fs), out);
        p += used;
    }
    fputc('"', out);
}

/* Contract (tt_internal.h). */
void tt__json_str(FILE *out, const char *s)
{
    json_str(out, s, 0);
}

/* Contract (tt_internal.h). */
void tt__json_path(FILE *out, const char *s)
{
    json_str(out, s, 1);
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
        tt__json_path(out, f->path);
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
            tt__json_str(out, f->funcs[k].name);
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
