/* tt_export_cobertura.c - coverage as Cobertura XML, laid out as coverage.py
 * writes it (valid against coverage-04.dtd; tests/data holds the DTD).
 *
 * Owns: the source root and the package grouping (a package is a directory
 * relative to the root, "." for the root itself); names are escaped by
 * tt_text.c's XML rule (tt__xml_text: the text rule inside XML).
 * Hits are real counts, as Cobertura's own tool writes them. Must not:
 * print anywhere but the FILE* it is given. Threads: none of its own.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tt_internal.h"

#define DTD_URL "https://raw.githubusercontent.com/cobertura/web/master/" \
                "htdocs/xml/coverage-04.dtd"

/* coverage.py's rate(): "%.4g" of hit/num, "1" for nothing to cover. */
static void rate(char *buf, size_t cap, uint64_t hit, uint64_t num)
{
    if (num == 0)
        snprintf(buf, cap, "1");
    else
        snprintf(buf, cap, "%.4g", (double)hit / (double)num);
}

/* Length of the source root: `root` when every path is under it, else the
 * files' longest common directory (0 when that is "/" itself). */
static size_t root_len(const tt_coverage_t *cov, const char *root)
{
    uint32_t n = tt_coverage_n_files(cov);
    size_t len;
    const char *first;

    if (root && *root) {
        size_t r = strlen(root);
        int all = 1;
        while (r > 1 && root[r - 1] == '/')
            r--;
        for (uint32_t i = 0; i < n && all; i++) {
            const char *p = tt_coverage_file(cov, i)->path;
            all = strncmp(p, root, r) == 0 && p[r] == '/';
        }
        if (all && !(r == 1 && root[0] == '/'))
            return r;
    }
    if (n == 0)
        return 0;
    first = tt_coverage_file(cov, 0)->path;
    len = strlen(first);
    for (uint32_t i = 1; i < n; i++) {
        const char *p = tt_coverage_file(cov, i)->path;
        size_t k = 0;
        while (k < len && p[k] == first[k])
            k++;
        len = k;
    }
    while (len > 0 && first[len - 1] != '/')   /* back to a directory */
        len--;
    return len ? len - 1 : 0;                  /* without the slash */
}

typedef struct {
    const tt_cov_file_t *f;
    const char *rel;          /* path relative to the root */
    size_t dir;               /* length of rel's directory; 0: the root */
} entry;

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    size_t n = x->dir < y->dir ? x->dir : y->dir;
    int c = memcmp(x->rel, y->rel, n);
    if (c == 0 && x->dir != y->dir)
        c = x->dir < y->dir ? -1 : 1;
    return c ? c : strcmp(x->rel, y->rel);
}

static int same_pkg(const entry *a, const entry *b)
{
    return a->dir == b->dir && memcmp(a->rel, b->rel, a->dir) == 0;
}

static void pkg_name(FILE *out, const entry *e)
{
    if (e->dir == 0) {
        fputc('.', out);
        return;
    }
    for (size_t i = 0; i < e->dir;) {
        size_t seg = 0;
        while (i + seg < e->dir && e->rel[i + seg] != '/')
            seg++;
        tt__xml_text_n(out, e->rel + i, seg, SIZE_MAX);
        i += seg;
        if (i < e->dir) {
            fputc('.', out);
            i++;
        }
    }
}

/* The branch attributes of line k of f: branch="true" and
 * condition-coverage="50% (1/2)" (taken exits / exits, as coverage.py
 * writes them) when the line is a branch line of the view. */
static void line_branches(FILE *out, const tt_cov_file_t *f, int32_t line,
                          uint32_t *b)
{
    uint64_t total = 0, taken = 0;
    while (*b < f->n_branches && f->branches[*b].line < line)
        (*b)++;
    for (; *b < f->n_branches && f->branches[*b].line == line; (*b)++) {
        total++;
        taken += f->branches[*b].taken != 0 ||
                 (f->branches[*b].flags & TT_BRANCH_IGNORED);
    }
    if (total)
        fprintf(out, " branch=\"true\" condition-coverage=\"%d%% (%" PRIu64
                "/%" PRIu64 ")\"", (int)(100 * taken / total), taken, total);
}

static void write_class(FILE *out, const entry *e)
{
    const tt_cov_file_t *f = e->f;
    const char *name = e->dir ? e->rel + e->dir + 1 : e->rel;
    char r[32], br[32];
    uint32_t b = 0;

    rate(r, sizeof r, f->summary.covered, f->summary.executable);
    rate(br, sizeof br, f->summary.branches_hit, f->summary.branches);
    fputs("\t\t\t\t<class name=\"", out);
    tt__xml_text(out, name, SIZE_MAX);
    fputs("\" filename=\"", out);
    tt__xml_text(out, e->rel, SIZE_MAX);
    fprintf(out, "\" complexity=\"0\" line-rate=\"%s\" branch-rate=\"%s\">\n"
            "\t\t\t\t\t<methods/>\n", r, f->summary.branches ? br : "0");
    if (f->n_lines == 0) {
        fputs("\t\t\t\t\t<lines/>\n", out);
    } else {
        fputs("\t\t\t\t\t<lines>\n", out);
        for (uint32_t k = 0; k < f->n_lines; k++) {
            fprintf(out, "\t\t\t\t\t\t<line number=\"%" PRId32 "\" hits=\"%"
                    PRIu64 "\"", f->lines[k], f->hits[k]);
            line_branches(out, f, f->lines[k], &b);
            fputs("/>\n", out);
        }
        fputs("\t\t\t\t\t</lines>\n", out);
    }
    fputs("\t\t\t\t</class>\n", out);
}

int tt_coverage_write_cobertura(const tt_coverage_t *cov, FILE *out,
                                const tt_cov_opts_t *opts)
{
    uint32_t n = tt_coverage_n_files(cov);
    size_t rl;
    entry *v;
    tt_cov_summary_t tot;
    char r[32], br[32];

    if (cov == NULL || out == NULL)
        return TT_EINVAL;
    rl = root_len(cov, opts ? opts->root : NULL);
    v = tt__malloc((size_t)n * sizeof *v + 1);
    if (v == NULL)
        return TT_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        const char *slash;
        v[i].f = tt_coverage_file(cov, i);
        v[i].rel = v[i].f->path + rl + (v[i].f->path[rl] == '/');
        slash = strrchr(v[i].rel, '/');
        v[i].dir = slash ? (size_t)(slash - v[i].rel) : 0;
    }
    qsort(v, n, sizeof *v, cmp_entry);
    tt_coverage_totals(cov, &tot);
    rate(r, sizeof r, tot.covered, tot.executable);
    rate(br, sizeof br, tot.branches_hit, tot.branches);
    fprintf(out, "<?xml version=\"1.0\" ?>\n<coverage version=\"");
    tt__xml_text(out, opts && opts->version ? opts->version : "tracetap",
                 SIZE_MAX);
    fprintf(out, "\" timestamp=\"%" PRIu64 "\" lines-valid=\"%" PRIu64
            "\" lines-covered=\"%" PRIu64 "\" line-rate=\"%s\" "
            "branches-covered=\"%" PRIu64 "\" branches-valid=\"%" PRIu64
            "\" branch-rate=\"%s\" complexity=\"0\">\n",
            opts ? opts->timestamp_ms : 0, tot.executable, tot.covered, r,
            tot.branches_hit, tot.branches, tot.branches ? br : "0");
    fputs("\t<!-- Generated by tracetap -->\n", out);
    fputs("\t<!-- Based on " DTD_URL " -->\n", out);
    fputs("\t<sources>\n\t\t<source>", out);
    if (rl == 0)
        fputc('/', out);
    else
        tt__xml_text_n(out, n ? v[0].f->path : "/", rl, SIZE_MAX);
    fputs("</source>\n\t</sources>\n", out);
    fputs(n ? "\t<packages>\n" : "\t<packages/>\n", out);
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i;
        uint64_t hit = 0, num = 0, bhit = 0, bnum = 0;
        while (j < n && same_pkg(&v[i], &v[j])) {
            hit += v[j].f->summary.covered;
            num += v[j].f->summary.executable;
            bhit += v[j].f->summary.branches_hit;
            bnum += v[j].f->summary.branches;
            j++;
        }
        rate(r, sizeof r, hit, num);
        rate(br, sizeof br, bhit, bnum);
        fputs("\t\t<package name=\"", out);
        pkg_name(out, &v[i]);
        fprintf(out, "\" line-rate=\"%s\" branch-rate=\"%s\" "
                "complexity=\"0\">\n\t\t\t<classes>\n", r,
                bnum ? br : "0");
        for (; i < j; i++)
            write_class(out, &v[i]);
        fputs("\t\t\t</classes>\n\t\t</package>\n", out);
    }
    if (n)
        fputs("\t</packages>\n", out);
    fputs("</coverage>\n", out);
    tt__free(v);
    return ferror(out) ? TT_EIO : 0;
}
