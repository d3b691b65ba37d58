/* filters.c - which code objects are traced, decided by file name.
 *
 * Owns: the include/exclude globs (fnmatch, as Python's fnmatch on POSIX),
 * standard-library detection (under sysconfig's stdlib directories but not
 * in a site-packages/dist-packages directory there, or a frozen module),
 * installed third-party code (under the directories the caller names: the
 * interpreter's and the venv's site-packages), and the rule that
 * tracetap's own code is never traced. Must not: touch Python
 * objects after capture_filter_init(); decisions run inside the trace hook
 * (once per file name) with the GIL held.
 */
#include "capture_int.h"

#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
strv_free(char **v, size_t n)
{
    size_t i;
    if (v == NULL)
        return;
    for (i = 0; i < n; i++)
        PyMem_RawFree(v[i]);
    PyMem_RawFree(v);
}

/* Copies a sequence of str into a PyMem_Raw vector. 0, or -1 + exc. */
static int
strv_from(PyObject *seq, char ***out, size_t *n)
{
    PyObject *fast;
    Py_ssize_t i, len;
    char **v;

    *out = NULL;
    *n = 0;
    if (seq == NULL || seq == Py_None)
        return 0;
    fast = PySequence_Fast(seq, "expected a sequence of str");
    if (fast == NULL)
        return -1;
    len = PySequence_Fast_GET_SIZE(fast);
    v = PyMem_RawCalloc(len ? (size_t)len : 1, sizeof(char *));
    if (v == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < len; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
        Py_ssize_t slen;
        const char *s;
        if (!PyUnicode_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "expected a sequence of str");
            goto error;
        }
        s = PyUnicode_AsUTF8AndSize(item, &slen);
        if (s == NULL)
            goto error;
        v[i] = PyMem_RawMalloc((size_t)slen + 1);
        if (v[i] == NULL) {
            PyErr_NoMemory();
            goto error;
        }
        memcpy(v[i], s, (size_t)slen + 1);
    }
    Py_DECREF(fast);
    *out = v;
    *n = (size_t)len;
    return 0;
error:
    strv_free(v, (size_t)len);
    Py_DECREF(fast);
    return -1;
}

int
capture_filter_init(capture_filter_t *f, PyObject *include, PyObject *exclude,
                    PyObject *stdlib_dirs, PyObject *own_dirs,
                    PyObject *third_party_dirs, int stdlib_traced)
{
    memset(f, 0, sizeof(*f));
    f->stdlib_traced = stdlib_traced;
    if (strv_from(include, &f->include, &f->n_include) < 0 ||
        strv_from(exclude, &f->exclude, &f->n_exclude) < 0 ||
        strv_from(stdlib_dirs, &f->stdlib, &f->n_stdlib) < 0 ||
        strv_from(own_dirs, &f->own, &f->n_own) < 0 ||
        strv_from(third_party_dirs, &f->third, &f->n_third) < 0) {
        capture_filter_free(f);
        return -1;
    }
    return 0;
}

void
capture_filter_free(capture_filter_t *f)
{
    strv_free(f->include, f->n_include);
    strv_free(f->exclude, f->n_exclude);
    strv_free(f->stdlib, f->n_stdlib);
    strv_free(f->own, f->n_own);
    strv_free(f->third, f->n_third);
    memset(f, 0, sizeof(*f));
}

/* posixpath.normpath of an absolute path, in place (the result is never
 * longer than the input). */
static void
normpath(char *path)
{
    char *end = path + strlen(path);
    char *out = path, *p = path;
    size_t root = 1;

    if (p[0] == '/' && p[1] == '/' && p[2] != '/')
        root = 2;                       /* POSIX keeps exactly two */
    while (p < end && *p == '/')
        p++;
    memset(out, '/', root);
    out += root;
    while (p < end) {
        char *seg = p;
        size_t len;
        while (p < end && *p != '/')
            p++;
        len = (size_t)(p - seg);
        while (p < end && *p == '/')
            p++;
        if (len == 1 && seg[0] == '.')
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            /* Drop the previous component; ".." at the root stays there. */
            if (out > path + root) {
                out--;                  /* the '/' after the component */
                while (out > path + root && out[-1] != '/')
                    out--;
            }
            continue;
        }
        memmove(out, seg, len);
        out += len;
        if (p < end)
            *out++ = '/';
    }
    if (out > path + root && out[-1] == '/')
        out--;                          /* no trailing slash */
    *out = '\0';
}

char *
capture_filter_abspath(const char *name)
{
    size_t n = strlen(name);
    char cwd[PATH_MAX];
    char *out;

    if (name[0] == '<') {               /* "<string>", "<frozen os>" */
        out = PyMem_RawMalloc(n + 1);
        if (out != NULL)
            memcpy(out, name, n + 1);
        return out;
    }
    if (name[0] == '/') {
        out = PyMem_RawMalloc(n + 1);
        if (out == NULL)
            return NULL;
        memcpy(out, name, n + 1);
    } else {
        size_t c;
        if (getcwd(cwd, sizeof(cwd)) == NULL)
            strcpy(cwd, "/");
        c = strlen(cwd);
        out = PyMem_RawMalloc(c + 1 + n + 1);
        if (out == NULL)
            return NULL;
        memcpy(out, cwd, c);
        out[c] = '/';
        memcpy(out + c + 1, name, n + 1);
    }
    normpath(out);
    return out;
}

static int
globs_match(char *const *globs, size_t n, const char *name)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (fnmatch(globs[i], name, FNM_NOESCAPE) == 0)
            return 1;
    }
    return 0;
}

/* `path` is `dir` itself or inside it; *rest gets what follows the '/'. */
static int
under(const char *path, const char *dir, const char **rest)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (strncmp(path, dir, n) != 0 || path[n] != '/')
        return 0;
    if (rest != NULL)
        *rest = path + n + 1;
    return 1;
}

/* `path` is one of `dirs` (a file) or inside one of them. */
static int
under_any(char *const *dirs, size_t n, const char *path)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (strcmp(path, dirs[i]) == 0 || under(path, dirs[i], NULL))
            return 1;
    }
    return 0;
}

static int
stdlib_path(const capture_filter_t *f, const char *path)
{
    size_t i;
    for (i = 0; i < f->n_stdlib; i++) {
        const char *rest;
        size_t k;
        if (!under(path, f->stdlib[i], &rest))
            continue;
        k = strcspn(rest, "/");
        if ((k == 13 && strncmp(rest, "site-packages", 13) == 0) ||
            (k == 13 && strncmp(rest, "dist-packages", 13) == 0))
            continue;
        return 1;
    }
    return 0;
}

static int
is_stdlib(const capture_filter_t *f, const char *path)
{
    char real[PATH_MAX];
    if (path[0] == '<')
        return strncmp(path, "<frozen ", 8) == 0;
    if (stdlib_path(f, path))
        return 1;
    return realpath(path, real) != NULL && strcmp(real, path) != 0 &&
           stdlib_path(f, real);
}

/* `path` (or the file it resolves to) is inside one of `dirs`. */
static int
under_any_real(char *const *dirs, size_t n, const char *path)
{
    char real[PATH_MAX];
    if (path[0] == '<' || n == 0)
        return 0;
    if (under_any(dirs, n, path))
        return 1;
    return realpath(path, real) != NULL && under_any(dirs, n, real);
}

static int
is_own(const capture_filter_t *f, const char *path)
{
    return under_any_real(f->own, f->n_own, path);
}

int
capture_filter_inherits(const capture_filter_t *f, const char *filename)
{
    return filename[0] == '<' && strncmp(filename, "<frozen ", 8) != 0 &&
           !is_own(f, filename) &&
           !globs_match(f->exclude, f->n_exclude, filename) &&
           !globs_match(f->include, f->n_include, filename);
}

int
capture_filter_traced(const capture_filter_t *f, const char *filename)
{
    if (is_own(f, filename))
        return 0;                       /* never, whatever the globs say */
    if (globs_match(f->exclude, f->n_exclude, filename))
        return 0;                       /* --exclude wins over --include */
    if (globs_match(f->include, f->n_include, filename))
        return 1;                       /* even in the standard library */
    if (!f->stdlib_traced && is_stdlib(f, filename))
        return 0;
    if (under_any_real(f->third, f->n_third, filename))
        return 0;                       /* installed packages: --third-party */
    return 1;
}
