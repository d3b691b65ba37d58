/* tt_export_flamegraph.c - the interactive flame graph: a
 * self-contained SVG (inline script and style, nothing fetched) drawn from
 * the call tree of tt_calls_analyze, one frame per node at or above a
 * width threshold. Owns the layout and the page's script (recorded names
 * go through tt_text.c's XML rule, tt__xml_text). Must not: print anywhere but `out`, or trust names.
 * Threads: one call, one thread; c and r are only read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_internal.h"

#define NONE UINT32_MAX
#define FRAME_H 16          /* px per level */
#define FONT_PX 12
#define CHAR_PX 7           /* estimated advance of a 12 px Verdana char */
#define PAD_X 10
#define TOP_H 66            /* title, subtitle, buttons */
#define BOTTOM_H 34         /* details line */
#define DEFAULT_WIDTH 1200
#define DEFAULT_MIN_SHARE 0.0005
#define DEFAULT_MAX_FRAMES 20000  /* a browser stays quick; ~10 MB of SVG */

/* ------------------------------------------------------------ weights */

typedef struct {
    uint32_t node;        /* tt_calls node, or NONE for a synthetic frame */
    uint32_t parent;      /* frame index, NONE for the root */
    uint32_t code;        /* TT_NO_CODE for synthetic frames */
    uint32_t depth;
    uint64_t x, w, self;  /* offset and width in weight units */
    uint64_t calls;       /* activations, for the tooltip */
    char label[96];       /* synthetic frames only */
} frame_t;

typedef struct {
    const tt_calls_t *c;
    const tt_reader_t *r;
    const tt_flame_opts_t *o;
    uint32_t n_nodes;
    uint64_t *incl;        /* per node: inclusive weight */
    uint32_t *kids;        /* node ids by (parent, name rank, id) */
    uint32_t *first;       /* per node + 1 roots slot per thread ... */
    uint32_t *rank;        /* per code: order of its name */
    frame_t *fr;           /* drawn frames, preorder */
    size_t n_fr, cap_fr;
    uint64_t thresh;
    tt_flame_stats_t st;
} lay_t;

static uint64_t self_weight(const lay_t *L, const tt_callnode_t *n)
{
    switch (L->o->weight) {
    case TT_FLAME_CALLS:
        return n->calls + n->resumes;
    case TT_FLAME_OBJECTS:
        return n->objects;
    case TT_FLAME_BYTES:
        return n->bytes;
    default:
        return n->tottime_ns;
    }
}

static int want_thread(const lay_t *L, uint32_t thread)
{
    return L->o->thread == TT_CALLS_ALL_THREADS || L->o->thread == thread;
}

static const char *code_str(const lay_t *L, uint32_t code, int file)
{
    const tt_code_def_t *d = tt_reader_code(L->r, code);
    const char *s = d ? tt_reader_string(L->r, file ? d->filename
                                                    : d->qualname) : NULL;
    return s ? s : "?";
}

/* Name rank of every code, so that siblings sort by name with plain
 * qsort (no context argument in C11). */
static const lay_t *g_sort_ctx; /* only during code_rank's qsort; one
                                   thread per call (file header) */

static int cmp_code_name(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    int d = strcmp(code_str(g_sort_ctx, x, 0), code_str(g_sort_ctx, y, 0));
    if (d == 0)
        d = strcmp(code_str(g_sort_ctx, x, 1), code_str(g_sort_ctx, y, 1));
    return d ? d : (x < y ? -1 : x > y);
}

typedef struct {
    uint32_t parent, rank, id;
} kid_t;

static int cmp_kid(const void *a, const void *b)
{
    const kid_t *x = a, *y = b;
    if (x->parent != y->parent)
        return x->parent < y->parent ? -1 : 1;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* incl, rank, kids and first: the children of node p are kids[first[p]
 * .. first[p + 1]) by name, the roots (all threads) kids[first[n] ..
 * first[n + 1]). 0 or TT_ENOMEM. */
static int prepare(lay_t *L)
{
    uint32_t n = L->n_nodes, nc = tt_reader_n_codes(L->r), i;
    uint32_t *codes = NULL;
    kid_t *kv = NULL;
    int rc = TT_ENOMEM;

    L->incl = tt__malloc(((size_t)n + 1) * sizeof *L->incl);
    L->kids = tt__malloc(((size_t)n + 1) * sizeof *L->kids);
    L->first = tt__malloc(((size_t)n + 2) * sizeof *L->first);
    L->rank = tt__malloc(((size_t)nc + 1) * sizeof *L->rank);
    codes = tt__malloc(((size_t)nc + 1) * sizeof *codes);
    kv = tt__malloc(((size_t)n + 1) * sizeof *kv);
    if (!L->incl || !L->kids || !L->first || !L->rank || !codes || !kv)
        goto done;
    for (i = 0; i < nc; i++)
        codes[i] = i;
    g_sort_ctx = L;
    qsort(codes, nc, sizeof *codes, cmp_code_name);
    g_sort_ctx = NULL;
    for (i = 0; i < nc; i++)
        L->rank[codes[i]] = i;
    for (i = 0; i < n; i++)
        L->incl[i] = self_weight(L, tt_calls_node(L->c, i));
    /* Parents come before children: one backward pass sums subtrees. */
    for (i = n; i-- > 0;) {
        uint32_t p = tt_calls_node(L->c, i)->parent;
        if (p != TT_CALLS_NO_NODE)
            L->incl[p] += L->incl[i];
    }
    memset(L->first, 0, ((size_t)n + 2) * sizeof *L->first);
    for (i = 0; i < n; i++) {
        const tt_callnode_t *nd = tt_calls_node(L->c, i);
        kv[i].parent = nd->parent == TT_CALLS_NO_NODE ? n : nd->parent;
        kv[i].rank = nd->code < nc ? L->rank[nd->code] : nc;
        kv[i].id = i;
        L->first[kv[i].parent + 1]++;
    }
    for (i = 1; i < n + 2; i++)
        L->first[i] += L->first[i - 1];
    if (n)
        qsort(kv, n, sizeof *kv, cmp_kid);
    for (i = 0; i < n; i++)
        L->kids[i] = kv[i].id;
    rc = 0;
done:
    tt__free(codes);
    tt__free(kv);
    return rc;
}

static int add_frame(lay_t *L, const frame_t *f, uint32_t *idx)
{
    void *p = L->fr;
    if (tt__grow(&p, &L->cap_fr, L->n_fr + 1, sizeof *L->fr) < 0)
        return TT_ENOMEM;
    L->fr = p;
    L->fr[L->n_fr] = *f;
    *idx = (uint32_t)L->n_fr++;
    if (f->depth > L->st.max_depth)
        L->st.max_depth = f->depth;
    return 0;
}

/* Lays out the children (node ids kids[a..b) of one thread) of frame
 * `pf` from offset x, depth-first with an explicit stack. */
typedef struct {
    uint32_t pf;          /* parent frame */
    uint32_t next, end;   /* remaining kids[] range */
    uint64_t x;           /* where the next child starts */
} walk_t;

static int layout_under(lay_t *L, uint32_t pf, uint32_t a, uint32_t b,
                        uint32_t thread)
{
    walk_t *st = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    void *p;

    if (tt__grow((void **)&st, &cap, 1, sizeof *st) < 0)
        return TT_ENOMEM;
    st[n++] = (walk_t){pf, a, b, L->fr[pf].x};
    while (n > 0 && rc == 0) {
        walk_t *top = &st[n - 1];
        uint32_t id, fi;
        const tt_callnode_t *nd;
        frame_t f;

        if (top->next == top->end) {
            n--;
            continue;
        }
        id = L->kids[top->next++];
        nd = tt_calls_node(L->c, id);
        if (nd->thread != thread)
            continue;
        if (L->incl[id] == 0 || L->incl[id] < L->thresh) {
            if (L->incl[id] > 0) {
                L->st.omitted++;
                L->st.omitted_weight += L->incl[id];
            }
            top->x += L->incl[id];
            continue;
        }
        memset(&f, 0, sizeof f);
        f.node = id;
        f.parent = top->pf;
        f.code = nd->code;
        f.depth = L->fr[top->pf].depth + 1;
        f.x = top->x;
        f.w = L->incl[id];
        f.self = self_weight(L, nd);
        f.calls = nd->calls + nd->resumes;
        top->x += f.w;
        if ((rc = add_frame(L, &f, &fi)) < 0)
            break;
        p = st;
        if (tt__grow(&p, &cap, n + 1, sizeof *st) < 0) {
            rc = TT_ENOMEM;
            break;
        }
        st = p;
        st[n++] = (walk_t){fi, L->first[id], L->first[id + 1], f.x};
    }
    tt__free(st);
    return rc;
}

static uint64_t thread_weight(const lay_t *L, uint32_t t)
{
    const tt_calls_thread_t *ti = tt_calls_thread(L->c, t);
    uint64_t w = 0;
    for (uint32_t k = L->first[L->n_nodes]; k < L->first[L->n_nodes + 1];
         k++) {
        const tt_callnode_t *nd = tt_calls_node(L->c, L->kids[k]);
        if (nd->thread == t)
            w += L->incl[L->kids[k]];
    }
    if (L->o->weight == TT_FLAME_OBJECTS && ti != NULL)
        w += ti->objects_no_frame;
    return w;
}

static void thread_label(const lay_t *L, uint32_t t, char *buf, size_t n)
{
    const tt_thread_info_t *ti = tt_reader_thread(L->r, t);
    if (ti != NULL && ti->name != NULL && ti->name[0] != '\0')
        snprintf(buf, n, "thread %u (%s)", (unsigned)t, ti->name);
    else
        snprintf(buf, n, "thread %u", (unsigned)t);
}

/* A synthetic frame (all threads, a thread, objects made outside any
 * Python frame) of weight w at x under frame `parent`, if it reaches the
 * threshold (else it is counted as omitted). *idx is NONE if omitted. */
static int add_synthetic(lay_t *L, uint32_t parent, uint64_t x, uint64_t w,
                         const char *label, uint32_t *idx)
{
    frame_t f;

    *idx = NONE;
    if (parent != NONE && (w == 0 || w < L->thresh)) {
        if (w > 0) {
            L->st.omitted++;
            L->st.omitted_weight += w;
        }
        return 0;
    }
    memset(&f, 0, sizeof f);
    f.node = NONE;
    f.parent = parent;
    f.code = TT_NO_CODE;
    f.depth = parent == NONE ? 0 : L->fr[parent].depth + 1;
    f.x = x;
    f.w = w;
    snprintf(f.label, sizeof f.label, "%s", label);
    return add_frame(L, &f, idx);
}

/* The synthetic frames and the tree under them, in preorder. */
static int layout(lay_t *L)
{
    uint32_t nt = tt_calls_summary(L->c)->n_threads, t, root, pf, fi;
    uint64_t total = 0, x = 0;
    int all = L->o->thread == TT_CALLS_ALL_THREADS, rc;
    double share = L->st.min_share;
    char label[sizeof L->fr->label];

    L->n_fr = 0;
    L->st.omitted = 0;
    L->st.omitted_weight = 0;
    L->st.max_depth = 0;
    for (t = 0; t < nt; t++)
        if (want_thread(L, t))
            total += thread_weight(L, t);
    L->st.total = total;
    L->thresh = share >= 1 ? total : (uint64_t)(share * (double)total);
    if (all)
        snprintf(label, sizeof label, "all threads");
    else
        thread_label(L, L->o->thread, label, sizeof label);
    if ((rc = add_synthetic(L, NONE, 0, total, label, &root)) < 0)
        return rc;
    for (t = 0; t < nt; t++) {
        const tt_calls_thread_t *ti = tt_calls_thread(L->c, t);
        uint64_t tw, nf = 0;
        if (!want_thread(L, t))
            continue;
        tw = thread_weight(L, t);
        pf = root;
        if (all) {
            thread_label(L, t, label, sizeof label);
            rc = add_synthetic(L, root, x, tw, label, &pf);
            x += tw;
            if (rc < 0)
                return rc;
            if (pf == NONE)
                continue;
        }
        if ((rc = layout_under(L, pf, L->first[L->n_nodes],
                               L->first[L->n_nodes + 1], t)) < 0)
            return rc;
        if (L->o->weight == TT_FLAME_OBJECTS && ti != NULL)
            nf = ti->objects_no_frame;
        if (nf && (rc = add_synthetic(L, pf, L->fr[pf].x + L->fr[pf].w - nf,
                                      nf, "[no Python frame]", &fi)) < 0)
            return rc;
        if (nf && fi != NONE)
            L->fr[fi].self = nf;
    }
    return 0;
}

/* ------------------------------------------------------------ writing */

/* The page's script: zoom (click a frame; "Reset Zoom"), search (the
 * "Search" button or Ctrl-F; a substring of a function's name or of its
 * file:line), the details line on hover. It reads everything from the
 * frames' data-* attributes and sets text with textContent only, so no
 * recorded name is ever parsed as markup or code. window.ttFlame is its
 * interface for tests: zoom(frameId), reset(), search(term) -> {share,
 * frames}. */
static const char SCRIPT[] =
"(function () {\n"
"\"use strict\";\n"
"var svg = document.documentElement;\n"
"var PW = +svg.getAttribute(\"data-pw\"), PX = +svg.getAttribute(\"data-padx\");\n"
"var CW = +svg.getAttribute(\"data-cw\"), TOTAL = +svg.getAttribute(\"data-total\");\n"
"var HIT = \"rgb(230,0,230)\";\n"
"var fr = Array.prototype.map.call(document.querySelectorAll(\"g.f\"), function (g) {\n"
"  return {g: g, id: g.id, x: +g.getAttribute(\"data-x\"), w: +g.getAttribute(\"data-w\"),\n"
"    d: +g.getAttribute(\"data-d\"), r: g.querySelector(\"rect\"), t: g.querySelector(\"text\"),\n"
"    l: g.getAttribute(\"data-l\") || \"\", f: g.getAttribute(\"data-f\") || \"\",\n"
"    fill: g.querySelector(\"rect\").getAttribute(\"fill\"), hit: false};\n"
"});\n"
"var byId = {};\n"
"fr.forEach(function (o) { byId[o.id] = o; });\n"
"var details = document.getElementById(\"details\");\n"
"var matched = document.getElementById(\"matched\");\n"
"var unzoom = document.getElementById(\"unzoom\");\n"
"var cur = fr[0], term = \"\";\n"
"function fit(o, wpx) {\n"
"  var n = Math.floor((wpx - 6) / CW);\n"
"  if (n < 3) return \"\";\n"
"  return o.l.length <= n ? o.l : o.l.slice(0, n - 2) + \"..\";\n"
"}\n"
"function place(o, x, w) {\n"
"  o.r.setAttribute(\"x\", x.toFixed(2));\n"
"  o.r.setAttribute(\"width\", w.toFixed(2));\n"
"  o.t.setAttribute(\"x\", (x + 3).toFixed(2));\n"
"  o.t.textContent = fit(o, w);\n"
"  o.g.classList.remove(\"hide\");\n"
"}\n"
"function zoom(z) {\n"
"  if (typeof z === \"string\") z = byId[z];\n"
"  if (!z) return false;\n"
"  cur = z;\n"
"  var span = z.w > 0 ? z.w : 1;\n"
"  fr.forEach(function (o) {\n"
"    o.g.classList.remove(\"anc\");\n"
"    if (o.d >= z.d && o.x >= z.x && o.x + o.w <= z.x + z.w && (o.d > z.d || o === z)) {\n"
"      place(o, PX + (o.x - z.x) / span * PW, o.w / span * PW);\n"
"    } else if (o.d < z.d && o.x <= z.x && o.x + o.w >= z.x + z.w) {\n"
"      place(o, PX, PW);\n"
"      o.g.classList.add(\"anc\");\n"
"    } else {\n"
"      o.g.classList.add(\"hide\");\n"
"    }\n"
"  });\n"
"  unzoom.classList.toggle(\"off\", z === fr[0]);\n"
"  return true;\n"
"}\n"
"function reset() { return zoom(fr[0]); }\n"
"function search(t) {\n"
"  term = t == null ? \"\" : String(t);\n"
"  var spans = [], n = 0;\n"
"  fr.forEach(function (o) {\n"
"    o.hit = term !== \"\" && (o.l.indexOf(term) >= 0 || o.f.indexOf(term) >= 0);\n"
"    o.r.setAttribute(\"fill\", o.hit ? HIT : o.fill);\n"
"    o.g.classList.toggle(\"hit\", o.hit);\n"
"    if (o.hit) { n++; spans.push([o.x, o.x + o.w]); }\n"
"  });\n"
"  spans.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });\n"
"  var sum = 0, end = -1;\n"
"  spans.forEach(function (s) {\n"
"    if (s[0] >= end) { sum += s[1] - s[0]; end = s[1]; }\n"
"    else if (s[1] > end) { sum += s[1] - end; end = s[1]; }\n"
"  });\n"
"  var share = TOTAL > 0 ? sum / TOTAL : 0;\n"
"  matched.textContent = term === \"\" ? \"\" : \"Matched: \" + (100 * share).toFixed(2) + \"% (\" + n + \" frames)\";\n"
"  return {share: share, frames: n};\n"
"}\n"
"function ask() {\n"
"  var t = window.prompt(\"Search: part of a function name or file:line (empty clears)\", term);\n"
"  if (t !== null) search(t);\n"
"}\n"
"fr.forEach(function (o) {\n"
"  o.g.addEventListener(\"click\", function () { zoom(o); });\n"
"  o.g.addEventListener(\"mouseover\", function () {\n"
"    details.textContent = o.g.querySelector(\"title\").textContent.replace(/\\n/g, \"  |  \");\n"
"  });\n"
"  o.g.addEventListener(\"mouseout\", function () { details.textContent = \" \"; });\n"
"});\n"
"unzoom.addEventListener(\"click\", reset);\n"
"document.getElementById(\"search\").addEventListener(\"click\", ask);\n"
"window.addEventListener(\"keydown\", function (e) {\n"
"  if ((e.ctrlKey || e.metaKey) && e.key === \"f\") { e.preventDefault(); ask(); }\n"
"  else if (e.key === \"Escape\") { reset(); }\n"
"});\n"
"window.ttFlame = {zoom: zoom, reset: reset, search: search, current: function () { return cur.id; }};\n"
"reset();\n"
"})();\n";

static const char STYLE[] =
"text { font-family: Verdana, 'DejaVu Sans', sans-serif; font-size: 12px; fill: #000; }\n"
"g.f text { pointer-events: none; }\n"
"g.f:hover rect { stroke: #000; stroke-width: 0.5; cursor: pointer; }\n"
"g.f.anc rect { opacity: 0.6; }\n"
".hide { display: none; }\n"
".btn { cursor: pointer; fill: #036; text-decoration: underline; }\n"
".btn.off { opacity: 0; }\n"
"#title { font-size: 17px; }\n"
"#cut { fill: #b00; }\n";

/* A weight as a person reads it. */
static void fmt_weight(char *b, size_t n, int kind, uint64_t v)
{
    static const struct { const char *u; double s; } units[] = {
        {"s", 1e9}, {"ms", 1e6}, {"us", 1e3}};
    if (kind == TT_FLAME_CALLS) {
        snprintf(b, n, "%llu calls", (unsigned long long)v);
        return;
    }
    if (kind == TT_FLAME_OBJECTS) {
        snprintf(b, n, "%llu objects", (unsigned long long)v);
        return;
    }
    if (kind == TT_FLAME_BYTES) {
        snprintf(b, n, "%llu bytes", (unsigned long long)v);
        return;
    }
    for (size_t i = 0; i < 3; i++)
        if ((double)v >= units[i].s) {
            double x = (double)v / units[i].s;
            snprintf(b, n, x < 100 ? "%.3g%s" : "%.0f%s", x, units[i].u);
            return;
        }
    snprintf(b, n, "%lluns", (unsigned long long)v);
}

/* FNV-1a of a function's name and file: its colour in every graph. */
static void frame_fill(const lay_t *L, const frame_t *f, char *b, size_t n)
{
    uint32_t h = 2166136261u;
    const char *s[2];

    if (f->node == NONE) {
        snprintf(b, n, "rgb(200,200,200)");
        return;
    }
    s[0] = code_str(L, f->code, 0);
    s[1] = code_str(L, f->code, 1);
    for (int k = 0; k < 2; k++) {
        for (const unsigned char *p = (const unsigned char *)s[k]; *p; p++)
            h = (h ^ *p) * 16777619u;
        h = (h ^ 0xFF) * 16777619u;
    }
    if (L->o->weight == TT_FLAME_OBJECTS ||
        L->o->weight == TT_FLAME_BYTES)       /* greens: memory */
        snprintf(b, n, "rgb(%u,%u,%u)", 50 + (h % 60), 160 + (h >> 8) % 80,
                 50 + (h >> 16) % 60);
    else                                      /* reds to yellows: time */
        snprintf(b, n, "rgb(%u,%u,%u)", 205 + (h % 50), (h >> 8) % 230,
                 (h >> 16) % 55);
}

static const char *frame_label(const lay_t *L, const frame_t *f)
{
    return f->node == NONE ? f->label : code_str(L, f->code, 0);
}

static void write_frame(const lay_t *L, FILE *out, uint32_t i, double pw,
                        uint32_t levels)
{
    const frame_t *f = &L->fr[i];
    const tt_code_def_t *d = f->node == NONE ? NULL
                             : tt_reader_code(L->r, f->code);
    double tot = L->st.total ? (double)L->st.total : 1.0;
    double x = PAD_X + (double)f->x / tot * pw;
    double w = L->st.total ? (double)f->w / tot * pw : pw;
    double y = TOP_H + (double)(L->o->icicle ? f->depth
                                             : levels - 1 - f->depth) * FRAME_H;
    const char *label = frame_label(L, f);
    char fill[32], wt[48], st[48];
    size_t room = w > 6 ? (size_t)((w - 6) / CHAR_PX) : 0;

    fmt_weight(wt, sizeof wt, L->o->weight, f->w);
    fmt_weight(st, sizeof st, L->o->weight, f->self);
    frame_fill(L, f, fill, sizeof fill);
    fprintf(out, "<g class=\"f\" id=\"f%u\" data-n=\"%lld\" data-p=\"%lld\" "
            "data-d=\"%u\" data-x=\"%llu\" data-w=\"%llu\" data-s=\"%llu\" "
            "data-l=\"", (unsigned)i,
            f->node == NONE ? -1LL : (long long)f->node,
            f->parent == NONE ? -1LL : (long long)f->parent,
            (unsigned)f->depth, (unsigned long long)f->x,
            (unsigned long long)f->w, (unsigned long long)f->self);
    tt__xml_text(out, label, SIZE_MAX);
    fputs("\"", out);
    if (d != NULL) {
        fputs(" data-f=\"", out);
        tt__xml_text(out, code_str(L, f->code, 1), SIZE_MAX);
        fprintf(out, ":%d\"", (int)d->firstlineno);
    }
    fputs("><title>", out);
    tt__xml_text(out, label, SIZE_MAX);
    if (d != NULL) {
        fputs(" (", out);
        tt__xml_text(out, code_str(L, f->code, 1), SIZE_MAX);
        fprintf(out, ":%d)", (int)d->firstlineno);
    }
    fprintf(out, "\n%s, %.2f%%", wt, 100.0 * (double)f->w / tot);
    if (f->node != NONE)
        fprintf(out, "; self %s; %llu activations", st,
                (unsigned long long)f->calls);
    fprintf(out, "</title><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
            "height=\"%d\" fill=\"%s\" rx=\"2\" ry=\"2\"/>"
            "<text x=\"%.2f\" y=\"%.1f\">", x, y, w, FRAME_H - 1, fill,
            x + 3, y + FRAME_H - 4.5);
    if (room >= 3) {
        /* The label as it fits; the script redoes this on every zoom. */
        if (tt__xml_text(NULL, label, 0) <= room) {
            tt__xml_text(out, label, room);
        } else {
            tt__xml_text(out, label, room - 2);
            fputs("..", out);
        }
    }
    fputs("</text></g>\n", out);
}

/* The title: the recorded command (opts->title overrides). */
static void write_title(const lay_t *L, FILE *out)
{
    const tt_header_t *h = tt_reader_header(L->r);
    if (L->o->title != NULL) {
        tt__xml_text(out, L->o->title, SIZE_MAX);
    } else if (h != NULL && h->argc > 0) {
        for (uint32_t i = 0; i < h->argc; i++) {
            if (i)
                fputc(' ', out);
            tt__xml_text(out, h->argv[i], SIZE_MAX);
        }
    } else {
        fputs("(unknown command)", out);
    }
}

static void write_doc(const lay_t *L, FILE *out, int cut)
{
    static const char *what[] = {"exclusive time of traced Python code",
                                 "calls (activations)",
                                 "object creations by creation site",
                                 "bytes allocated by creation stack"};
    uint32_t W = L->o->width >= 200 ? L->o->width : DEFAULT_WIDTH;
    double pw = (double)W - 2 * PAD_X;
    uint32_t levels = L->st.max_depth + 1, H = TOP_H + levels * FRAME_H +
                                                BOTTOM_H;
    const tt_damage_t *dmg = tt_reader_damage(L->r);
    char tw[48];
    double share = L->st.min_share;

    fmt_weight(tw, sizeof tw, L->o->weight, L->st.total);
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
            "<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" "
            "width=\"%u\" height=\"%u\" viewBox=\"0 0 %u %u\" "
            "data-pw=\"%.2f\" data-padx=\"%d\" data-cw=\"%d\" "
            "data-total=\"%llu\" data-weight=\"%s\" data-icicle=\"%d\" "
            "data-frame-h=\"%d\" data-omitted=\"%u\" data-cut=\"%d\">\n",
            W, H, W, H, pw, PAD_X, CHAR_PX, (unsigned long long)L->st.total,
            L->o->weight == TT_FLAME_CALLS ? "calls"
            : L->o->weight == TT_FLAME_OBJECTS ? "objects" : "time",
            L->o->icicle ? 1 : 0, FRAME_H, (unsigned)L->st.omitted, cut);
    fprintf(out, "<style>\n%s</style>\n", STYLE);
    fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%u\" height=\"%u\" "
            "fill=\"#f8f8f4\"/>\n", W, H);
    fprintf(out, "<text id=\"title\" x=\"%u\" y=\"22\" "
            "text-anchor=\"middle\">", W / 2);
    write_title(L, out);
    if (cut)
        fputs(" [cut off]", out);
    fprintf(out, "</text>\n<text id=\"subtitle\" x=\"%u\" y=\"40\" "
            "text-anchor=\"middle\">%s%s: total %s; %zu frames",
            W / 2, L->o->icicle ? "Icicle graph of " : "Flame graph of ",
            what[L->o->weight], tw, L->n_fr);
    if (L->st.omitted)
        fprintf(out, "; %u narrower than %.3g%% of the total not drawn",
                (unsigned)L->st.omitted, 100.0 * share);
    fputs("</text>\n", out);
    if (cut) {
        fprintf(out, "<text id=\"cut\" x=\"%u\" y=\"56\" "
                "text-anchor=\"middle\">The recording was cut off (", W / 2);
        tt__xml_text(out, dmg && dmg->status ? dmg->reason
                     : "it has no end-of-recording chunk", SIZE_MAX);
        fputs("): frames still open were closed at their thread's last "
              "event.</text>\n", out);
    }
    fprintf(out, "<text id=\"unzoom\" class=\"btn off\" x=\"%d\" y=\"22\">"
            "Reset Zoom</text>\n", PAD_X);
    fprintf(out, "<text id=\"search\" class=\"btn\" x=\"%u\" y=\"22\" "
            "text-anchor=\"end\">Search</text>\n", W - PAD_X);
    fprintf(out, "<text id=\"matched\" x=\"%u\" y=\"%u\" "
            "text-anchor=\"end\"></text>\n", W - PAD_X, H - 12);
    fprintf(out, "<text id=\"details\" x=\"%d\" y=\"%u\"> </text>\n", PAD_X,
            H - 12);
    for (uint32_t i = 0; i < L->n_fr; i++)
        write_frame(L, out, i, pw, levels);
    fprintf(out, "<script type=\"text/ecmascript\"><![CDATA[\n%s]]></script>\n"
            "</svg>\n", SCRIPT);
}

/* Contract (tt.h): 0 and *stats, or TT_EINVAL / TT_ENOMEM (nothing
 * written) / TT_EIO (out holds part of the document). */
int tt_flame_write_svg(const tt_calls_t *c, const tt_reader_t *r, FILE *out,
                       const tt_flame_opts_t *opts, tt_flame_stats_t *stats)
{
    static const tt_flame_opts_t defaults = {TT_FLAME_TIME, 0,
                                             TT_CALLS_ALL_THREADS, 0, 0,
                                             NULL, 0};
    const tt_calls_summary_t *sum = tt_calls_summary(c);
    lay_t L;
    int rc;

    if (c == NULL || r == NULL || out == NULL)
        return TT_EINVAL;
    memset(&L, 0, sizeof L);
    L.c = c;
    L.r = r;
    L.o = opts ? opts : &defaults;
    L.n_nodes = sum->n_nodes;
    if (L.o->weight < TT_FLAME_TIME || L.o->weight > TT_FLAME_BYTES ||
        (L.o->thread != TT_CALLS_ALL_THREADS &&
         L.o->thread >= sum->n_threads))
        return TT_EINVAL;
    L.st.min_share = L.o->min_share > 0 ? L.o->min_share
                     : L.o->min_share < 0 ? 0 : DEFAULT_MIN_SHARE;
    rc = prepare(&L);
    if (rc == 0)
        rc = layout(&L);
    /* Too many frames for a browser: raise the threshold until they fit
     * (each doubling at least halves the frames a level can hold). */
    while (rc == 0 && L.n_fr > (L.o->max_frames ? L.o->max_frames
                                                : DEFAULT_MAX_FRAMES) &&
           L.st.min_share < 0.5) {
        L.st.min_share = L.st.min_share > 0 ? L.st.min_share * 2
                                             : 1.0 / (2.0 * DEFAULT_MAX_FRAMES);
        rc = layout(&L);
    }
    if (rc == 0) {
        L.st.frames = (uint32_t)L.n_fr;
        write_doc(&L, out, sum->truncated);
        if (fflush(out) != 0 || ferror(out))
            rc = TT_EIO;
        if (stats != NULL)
            *stats = L.st;
    }
    tt__free(L.incl);
    tt__free(L.kids);
    tt__free(L.first);
    tt__free(L.rank);
    tt__free(L.fr);
    return rc;
}
