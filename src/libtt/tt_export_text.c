/* tt_export_text.c - coverage for people: the text table (`tracetap
 * coverage`, the default format), missed line ranges, and stdlib trace's
 * .cover annotation of one source file.
 *
 * Owns: layout only; the numbers come from tt_analyze_coverage.c. Must not: print
 * anywhere but the FILE* it is given, or open files itself (the caller
 * opens the source and the output). Threads: none of its own.
 */
#include <string.h>

#include "tt_internal.h"

static int done(FILE *out)
{
    return ferror(out) ? TT_EIO : 0;
}

/* The path as shown: relative to root when under it. */
static const char *shown(const char *path, const char *root)
{
    size_t n;
    if (root == NULL || *root == '\0')
        return path;
    n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    if (n == 1 && root[0] == '/')
        return path[0] == '/' && path[1] ? path + 1 : path;
    if (strncmp(path, root, n) == 0 && path[n] == '/' && path[n + 1])
        return path + n + 1;
    return path;
}

/* Cover % with one decimal that never rounds to 100.0 (or 0.0) unless it
 * is exactly that: "99.9" for 1999 of 2000 lines. */
static void percent(char *buf, size_t cap, const tt_cov_summary_t *s)
{
    double p = tt_coverage_percent(s);
    uint64_t covered = s->covered + s->branches_hit;
    if (covered < s->executable + s->branches && p > 99.9)
        p = 99.9;
    if (covered > 0 && p < 0.1)
        p = 0.1;
    snprintf(buf, cap, "%.1f%%", p);
}

/* 1 if `line` is a statement of f that never ran. */
static int missed_line(const tt_cov_file_t *f, int32_t line)
{
    uint32_t k = tt_coverage_line_index(f->lines, f->n_lines, line);
    return k < f->n_lines && f->hits[k] == 0;
}

/* Writes the untaken exits of branch line f->branches[*b].line that ran
 * (coverage.py leaves out a line that never ran, and exits into one). */
static void missing_exits(const tt_cov_file_t *f, uint32_t *b, FILE *out,
                          const char **sep)
{
    int32_t line = f->branches[*b].line;
    for (; *b < f->n_branches && f->branches[*b].line == line; (*b)++) {
        const tt_cov_branch_t *br = &f->branches[*b];
        if (br->taken || (br->flags & TT_BRANCH_IGNORED) ||
            missed_line(f, line) || missed_line(f, br->to))
            continue;
        if (br->to > 0)
            fprintf(out, "%s%d->%d", *sep, (int)line, (int)br->to);
        else
            fprintf(out, "%s%d->exit", *sep, (int)line);
        *sep = ", ";
    }
}

int tt_coverage_write_missing(const tt_cov_file_t *f, FILE *out)
{
    const char *sep = "";
    uint32_t b = 0;
    if (f == NULL || out == NULL)
        return TT_EINVAL;
    for (uint32_t i = 0; i < f->n_lines; i++) {
        uint32_t j = i;
        while (b < f->n_branches && f->branches[b].line < f->lines[i])
            missing_exits(f, &b, out, &sep);
        if (f->hits[i])
            continue;
        while (j + 1 < f->n_lines && f->hits[j + 1] == 0)
            j++;
        if (j == i)
            fprintf(out, "%s%d", sep, (int)f->lines[i]);
        else
            fprintf(out, "%s%d-%d", sep, (int)f->lines[i], (int)f->lines[j]);
        sep = ", ";
        i = j;
    }
    while (b < f->n_branches)
        missing_exits(f, &b, out, &sep);
    return done(out);
}

static void row(FILE *out, int w, const char *name,
                const tt_cov_summary_t *s, int branch)
{
    char pct[16];
    percent(pct, sizeof pct, s);
    tt_text_write(out, name, (size_t)w);    /* a recorded path: escaped */
    fprintf(out, " %7llu %7llu %7llu",
            (unsigned long long)s->executable,
            (unsigned long long)s->covered,
            (unsigned long long)(s->executable - s->covered));
    if (branch)
        fprintf(out, " %7llu %7llu", (unsigned long long)s->branches,
                (unsigned long long)s->partial);
    fprintf(out, " %7s", pct);
}

int tt_coverage_write_text(const tt_coverage_t *cov, FILE *out,
                           const tt_cov_opts_t *opts)
{
    uint32_t n = tt_coverage_n_files(cov);
    int show_missing = opts && opts->show_missing;
    int branch = tt_coverage_branch(cov);
    const char *root = opts ? opts->root : NULL;
    tt_cov_summary_t tot;
    size_t w = 5, rule;

    if (cov == NULL || out == NULL)
        return TT_EINVAL;
    for (uint32_t i = 0; i < n; i++) {
        size_t k = tt_text_width(shown(tt_coverage_file(cov, i)->path, root));
        if (k > w)
            w = k;
    }
    if (w > 200)
        w = 200;
    rule = w + (branch ? 6 : 4) * 8 + (show_missing ? 10 : 0);
    fprintf(out, "%-*s %7s %7s %7s", (int)w, "File", "Lines", "Ran",
            "Missed");
    if (branch)
        fprintf(out, " %7s %7s", "Branch", "BrPart");
    fprintf(out, " %7s%s\n", "Cover", show_missing ? "   Missing" : "");
    for (size_t i = 0; i < rule; i++)
        fputc('-', out);
    fputc('\n', out);
    for (uint32_t i = 0; i < n; i++) {
        const tt_cov_file_t *f = tt_coverage_file(cov, i);
        row(out, (int)w, shown(f->path, root), &f->summary, branch);
        if (show_missing && (f->summary.covered < f->summary.executable ||
                             f->summary.partial)) {
            fputs("   ", out);
            if (tt_coverage_write_missing(f, out) < 0)
                return TT_EIO;
        }
        fputc('\n', out);
    }
    for (size_t i = 0; i < rule; i++)
        fputc('-', out);
    fputc('\n', out);
    tt_coverage_totals(cov, &tot);
    row(out, (int)w, "TOTAL", &tot, branch);
    fputc('\n', out);
    return done(out);
}

/* ------------------------------------------------------------ annotate */

#define PRAGMA_NOCOVER "#pragma NO COVER"   /* as stdlib trace spells it */

/* Writes one source line (without its terminator) with tabs expanded to
 * 8 columns, counting UTF-8 sequences as one column each, as str.expandtabs
 * does on the decoded text. */
static void expand_tabs(FILE *out, const char *s, size_t n)
{
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\t') {
            do
                fputc(' ', out);
            while (++col % 8);
            continue;
        }
        fputc(c, out);
        if ((c & 0xC0) != 0x80)
            col++;
    }
}

/* Reads the whole source into a fresh buffer. 0, TT_ENOMEM or TT_EIO. */
static int slurp(FILE *src, char **out, size_t *len)
{
    char *buf = NULL;
    size_t cap = 0, n = 0, k;
    void *p;

    for (;;) {
        if (n + 4096 + 1 > cap) {
            p = buf;
            if (tt__grow(&p, &cap, n + 4096 + 1, 1) < 0) {
                tt__free(buf);
                return TT_ENOMEM;
            }
            buf = p;
        }
        k = fread(buf + n, 1, cap - n - 1, src);
        n += k;
        if (k == 0)
            break;
    }
    if (ferror(src)) {
        tt__free(buf);
        return TT_EIO;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* 1 if s[0:n] contains the pragma. */
static int has_pragma(const char *s, size_t n)
{
    size_t m = sizeof PRAGMA_NOCOVER - 1;
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(s + i, PRAGMA_NOCOVER, m) == 0)
            return 1;
    return 0;
}

int tt_coverage_write_annotate(const tt_cov_file_t *f, FILE *src, FILE *out)
{
    char *text;
    size_t len, i = 0;
    uint32_t k = 0;
    int32_t lineno = 0;
    int rc;

    if (f == NULL || src == NULL || out == NULL)
        return TT_EINVAL;
    rc = slurp(src, &text, &len);
    if (rc < 0)
        return rc;
    /* A UTF-8 BOM stays first in the file, as trace's utf-8-sig does. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        fputs("\xEF\xBB\xBF", out);
        i = 3;
    }
    while (i < len) {
        size_t start = i, end;
        /* universal newlines: \n, \r\n and \r end a line */
        while (i < len && text[i] != '\n' && text[i] != '\r')
            i++;
        end = i;
        if (i < len && text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
            i += 2;
        else if (i < len)
            i++;
        lineno++;
        while (k < f->n_lines && f->lines[k] < lineno)
            k++;
        if (k < f->n_lines && f->lines[k] == lineno && f->hits[k])
            fprintf(out, "%5llu: ", (unsigned long long)f->hits[k]);
        else if (k < f->n_lines && f->lines[k] == lineno &&
                 !has_pragma(text + start, end - start))
            fputs(">>>>>> ", out);
        else
            fputs("       ", out);
        expand_tabs(out, text + start, end - start);
        fputc('\n', out);           /* linecache ends every line */
    }
    tt__free(text);
    return done(out);
}
