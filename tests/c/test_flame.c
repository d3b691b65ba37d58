/* test_flame.c - the flame graph writer: XML escaping of hostile
 * names (markup, control characters, invalid UTF-8), the layout of a
 * hand-made call tree whose weights and positions are worked out here
 * (flame and icicle, one thread, the threshold), object creations charged
 * to their site's node, and failures (allocation, write, arguments).
 * The test header's clock runs at 1 GHz, so a tick is a nanosecond.
 */
#include "tt_test.h"

#define NEAR(a, b, eps) ((a) - (b) < (eps) && (b) - (a) < (eps))

enum { F, G, H, N_CODES };

/* ------------------------------------------------------------ helpers */

/* Everything `fn` wrote to a temporary file, NUL-terminated (free it). */
static char *slurp(FILE *fp, size_t *len)
{
    long n;
    char *buf;
    CHECK(fflush(fp) == 0);
    n = ftell(fp);
    CHECK(n >= 0);
    buf = malloc((size_t)n + 1);
    CHECK(buf != NULL);
    rewind(fp);
    CHECK_EQ((long)fread(buf, 1, (size_t)n, fp), n);
    buf[n] = '\0';
    if (len)
        *len = (size_t)n;
    return buf;
}

static char *escaped(const char *s, size_t max_cp, size_t *cps)
{
    FILE *fp = tmpfile();
    char *out;
    CHECK(fp != NULL);
    *cps = tt__xml_text(fp, s, max_cp);
    out = slurp(fp, NULL);
    fclose(fp);
    return out;
}

static void check_escape(const char *in, const char *want, size_t want_cps)
{
    size_t cps;
    char *got = escaped(in, SIZE_MAX, &cps);
    CHECK_STR(got, want);
    CHECK_EQ(cps, want_cps);
    free(got);
}

/* The value of attribute `name` in the element starting at `el`. */
static long long attr(const char *el, const char *name)
{
    char key[64];
    const char *p, *end = strchr(el, '>');
    snprintf(key, sizeof key, " %s=\"", name);
    p = strstr(el, key);
    CHECK(p != NULL && (end == NULL || p < end));
    return strtoll(p + strlen(key), NULL, 10);
}

static double rect_attr(const char *frame, const char *name)
{
    char key[64];
    const char *r = strstr(frame, "<rect "), *p;
    CHECK(r != NULL);
    snprintf(key, sizeof key, " %s=\"", name);
    p = strstr(r, key);
    CHECK(p != NULL);
    return strtod(p + strlen(key), NULL);
}

/* The i-th frame element (<g class="f" ...) of svg, or NULL. */
static const char *frame_at(const char *svg, int i)
{
    const char *p = svg;
    for (int k = 0; (p = strstr(p, "<g class=\"f\"")) != NULL; k++, p++)
        if (k == i)
            return p;
    return NULL;
}

static int n_frames(const char *svg)
{
    int n = 0;
    while (frame_at(svg, n) != NULL)
        n++;
    return n;
}

/* Codes f (line 1), g (11), h (21) in "app<&>.py", threads MainThread and
 * worker; the writer. */
static tt_writer_t *open_flame(const char *path, uint32_t *code,
                               tt_tbuf_t **b0, tt_tbuf_t **b1)
{
    static const char *names[N_CODES] = {"f", "g", "h"};
    tt_writer_t *w;
    uint32_t file;

    CHECK_OK(tt_writer_open(&w, path, test_header()));
    CHECK_OK(tt_writer_string(w, "app<&>.py", 9, &file));
    for (int i = 0; i < N_CODES; i++)
        code[i] = test_code(w, file, names[i], 1 + 10 * i, 0, NULL, 0);
    CHECK_OK(tt_writer_thread(w, 1, "MainThread", b0));
    CHECK_OK(tt_writer_thread(w, 2, "worker", b1));
    return w;
}

/* test_calls.c's basic scenario (calls_basic_events): f [0,100] calls
 * g [10,40] (which calls h [20,25]) and g [50,60]; worker: h [5,8]. */
static const char *flame_recording(const char *name, uint32_t *code)
{
    const char *path = tmp_path(name);
    tt_tbuf_t *b0, *b1;
    tt_writer_t *w = open_flame(path, code, &b0, &b1);

    calls_basic_events(b0, b1, code[F], code[G], code[H]);
    CHECK_OK(tt_writer_close(w));
    return path;
}

/* The SVG of `path` with opts; *stats filled. */
static char *draw(const char *path, const tt_flame_opts_t *o,
                  tt_flame_stats_t *st)
{
    tt_reader_t *r;
    tt_calls_t *c;
    FILE *fp = tmpfile();
    char *svg;

    CHECK(fp != NULL);
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_OK(tt_calls_analyze(r, &c));
    CHECK_OK(tt_flame_write_svg(c, r, fp, o, st));
    svg = slurp(fp, NULL);
    fclose(fp);
    tt_calls_free(c);
    tt_reader_close(r);
    return svg;
}

/* ------------------------------------------------------------ tests */

void test_flame_xml_escape(void)
{
    size_t cps;
    char *s;

    check_escape("plain", "plain", 5);
    check_escape("a<b>&\"'", "a&lt;b&gt;&amp;&quot;&#39;", 7);
    check_escape("]]>", "]]&gt;", 3);
    /* Control characters (C0, DEL, C1) are not XML 1.0 characters. */
    check_escape("\x01\t\n\x1f\x7f", "\\x01\\x09\\x0a\\x1f\\x7f", 5);
    check_escape("\xc2\x85", "\\x85", 1);
    /* Valid UTF-8 passes: e-acute, euro, an emoji, U+2028. */
    check_escape("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xe2\x80\xa8",
                 "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xe2\x80\xa8", 4);
    /* Invalid UTF-8: a stray byte, an overlong '/', a surrogate, a cut
     * sequence, a value above U+10FFFF: each byte as \xNN, the text rule
     * (and _text.printable of a surrogate-escaped name); U+FFFE is no XML
     * character; a bidi override is escaped as in every text output. */
    check_escape("a\xff" "b", "a\\xffb", 3);
    check_escape("\xc0\xaf", "\\xc0\\xaf", 2);
    check_escape("\xed\xa0\x80", "\\xed\\xa0\\x80", 3);
    check_escape("x\xe2\x82", "x\\xe2\\x82", 3);
    check_escape("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80", 4);
    check_escape("\xef\xbf\xbe", "\\ufffe", 1);
    check_escape("\x80\xbf", "\\x80\\xbf", 2);
    check_escape("a\xe2\x80\xae" "b", "a\\u202eb", 3);
    check_escape("", "", 0);
    check_escape(NULL, "", 0);
    /* At most max_cp code points are written; all are counted. */
    s = escaped("h\xc3\xa9<lo", 3, &cps);
    CHECK_STR(s, "h\xc3\xa9&lt;");
    CHECK_EQ(cps, 5);
    free(s);
    CHECK_EQ(tt__xml_text(NULL, "\xc3\xa9\xff", 0), 2);
    /* tt__xml_text_n stops after n bytes; a sequence n cuts is bytes. */
    {
        FILE *fp = tmpfile();
        CHECK(fp != NULL);
        CHECK_EQ(tt__xml_text_n(fp, "ab\xc3\xa9/c", 3, SIZE_MAX), 3);
        s = slurp(fp, NULL);
        fclose(fp);
        CHECK_STR(s, "ab\\xc3");
        free(s);
    }
}

void test_flame_layout(void)
{
    uint32_t code[N_CODES];
    const char *path = flame_recording("flame1.ttrace", code);
    tt_flame_opts_t o = {TT_FLAME_TIME, 0, TT_CALLS_ALL_THREADS, -1, 0, NULL, 0};
    tt_flame_stats_t st;
    /* Preorder: all, thread 0, f, g, h, thread 1, h. Inclusive weights:
     * f = 100 (its time), f;g = 40 (two activations of 30 and 10), f;g;h
     * = 5, thread 1's h = 3; total 103. */
    static const long long w[] = {103, 100, 100, 40, 5, 3, 3};
    static const long long x[] = {0, 0, 0, 0, 0, 100, 100};
    static const long long s[] = {0, 0, 60, 35, 5, 0, 3};
    static const int depth[] = {0, 1, 2, 3, 4, 1, 2};
    char *svg = draw(path, &o, &st);
    const double pw = 1200 - 20;

    CHECK_EQ_U64(st.total, 103);
    CHECK_EQ(st.frames, 7);
    CHECK_EQ(st.omitted, 0);
    CHECK_EQ(st.max_depth, 4);
    CHECK_EQ(n_frames(svg), 7);
    CHECK(strncmp(svg, "<?xml version=\"1.0\" encoding=\"UTF-8\"", 36) == 0);
    CHECK_EQ(attr(strstr(svg, "<svg "), "data-total"), 103);
    for (int i = 0; i < 7; i++) {
        const char *f = frame_at(svg, i);
        CHECK_EQ(attr(f, "data-w"), w[i]);
        CHECK_EQ(attr(f, "data-x"), x[i]);
        CHECK_EQ(attr(f, "data-s"), s[i]);
        CHECK_EQ(attr(f, "data-d"), depth[i]);
        /* Width and position proportional to weight; the flame grows
         * upwards from the bottom level (depth 4 is the top row). */
        CHECK(NEAR(rect_attr(f, "width"), (double)w[i] / 103 * pw, 0.006));
        CHECK(NEAR(rect_attr(f, "x"), (10 + (double)x[i] / 103 * pw), 0.006));
        CHECK(NEAR(rect_attr(f, "y"), (66 + (4 - depth[i]) * 16), 0.01));
    }
    CHECK(strstr(frame_at(svg, 1), "data-l=\"thread 0 (MainThread)\"") != NULL);
    CHECK(strstr(frame_at(svg, 5), "data-l=\"thread 1 (worker)\"") != NULL);
    CHECK(strstr(frame_at(svg, 2), "data-l=\"f\" data-f=\"app&lt;&amp;&gt;.py:1\"") != NULL);
    CHECK_EQ(attr(frame_at(svg, 3), "data-n"), 2);   /* nodes in time
                                                        order: f, h (t1), g */
    CHECK_EQ(attr(frame_at(svg, 3), "data-p"), 2);
    /* Hover text in human units, share of the total. */
    CHECK(strstr(frame_at(svg, 3), "<title>g (app&lt;&amp;&gt;.py:11)\n40ns, 38.83%; self 35ns; 2 activations</title>") != NULL);
    /* Same function, same colour; the title is the recorded argv. */
    {
        const char *a = strstr(frame_at(svg, 4), "fill=\"");
        const char *b = strstr(frame_at(svg, 6), "fill=\"");
        CHECK(strncmp(a, b, 24) == 0);
    }
    CHECK(strstr(svg, "<text id=\"title\" x=\"600\" y=\"22\" text-anchor=\"middle\">app.py --flag </text>") != NULL);
    CHECK(strstr(svg, "id=\"cut\"") == NULL);
    CHECK(strstr(svg, "http://www.w3.org/2000/svg") != NULL);
    CHECK(strstr(svg, "href") == NULL);           /* nothing fetched */
    free(svg);

    /* Icicle: depth d at row d from the top. */
    o.icicle = 1;
    svg = draw(path, &o, &st);
    CHECK(NEAR(rect_attr(frame_at(svg, 4), "y"), (66 + 4 * 16), 0.01));
    CHECK(NEAR(rect_attr(frame_at(svg, 0), "y"), 66, 0.01));
    CHECK(strstr(svg, "Icicle graph of exclusive time") != NULL);
    free(svg);

    /* The threshold: 10% of 103 is 10; h (5) and thread 1 (3) are not
     * drawn, and counted. */
    o.icicle = 0;
    o.min_share = 0.1;
    svg = draw(path, &o, &st);
    CHECK_EQ(st.frames, 4);
    CHECK_EQ(st.omitted, 2);
    CHECK_EQ_U64(st.omitted_weight, 8);
    CHECK_EQ(st.max_depth, 3);
    CHECK_EQ(n_frames(svg), 4);
    CHECK(strstr(svg, "2 narrower than 10% of the total not drawn") != NULL);
    free(svg);

    /* At most max_frames: the threshold doubles from 1/40000 until g (40)
     * goes too: 2^14/40000 = 0.4096, 42 of 103. */
    o.min_share = -1;
    o.max_frames = 3;
    svg = draw(path, &o, &st);
    CHECK_EQ(st.frames, 3);
    CHECK(NEAR(st.min_share, 0.4096, 1e-12));
    CHECK_EQ(st.omitted, 2);              /* g under f, thread 1 */
    CHECK_EQ(n_frames(svg), 3);
    CHECK(strstr(svg, "narrower than 41% of the total") != NULL);
    free(svg);
    o.max_frames = 0;

    /* One thread, by calls: h of thread 1 alone. */
    o.min_share = 0;
    o.thread = 1;
    o.weight = TT_FLAME_CALLS;
    o.title = "t<&>";
    svg = draw(path, &o, &st);
    CHECK_EQ_U64(st.total, 1);
    CHECK_EQ(n_frames(svg), 2);
    CHECK(strstr(frame_at(svg, 0), "data-l=\"thread 1 (worker)\"") != NULL);
    CHECK(strstr(svg, ">t&lt;&amp;&gt;</text>") != NULL);
    CHECK(strstr(frame_at(svg, 1), "1 calls, 100.00%") != NULL);
    free(svg);
}

void test_flame_objects(void)
{
    uint32_t code[N_CODES], type;
    const char *path = tmp_path("flame2.ttrace");
    uint64_t T = test_header()->start_tick;
    tt_flame_opts_t o = {TT_FLAME_OBJECTS, 0, TT_CALLS_ALL_THREADS, -1, 0,
                         NULL, 0};
    tt_type_def_t td = {0, 32, 0};
    tt_flame_stats_t st;
    const tt_callnode_t *n;
    const tt_callstat_t *f;
    tt_tbuf_t *b0, *b1;
    tt_writer_t *w = open_flame(path, code, &b0, &b1);
    tt_reader_t *r;
    tt_calls_t *c;
    uint64_t sum = 0;
    char *svg;

    CHECK_OK(tt_writer_string(w, "Obj", 3, &td.name));
    CHECK_OK(tt_writer_type(w, &td, &type));
    /* MainThread: f [0,30] calls g [10,20]; 2 objects made in f, 1 in g,
     * 1 at site h while g is on top (a child g;h with no calls), 1
     * outside any Python frame. worker: 1 at site g with nothing on its
     * stack (a root g with no calls). */
    tt_tbuf_call(b0, T + 0, code[F], 1);
    tt_tbuf_obj_create(b0, T + 1, type, 0x1000, 32, code[F], 2, TT_NO_OFFSET);
    tt_tbuf_obj_create(b0, T + 2, type, 0x1010, 32, code[F], 2, TT_NO_OFFSET);
    tt_tbuf_call(b0, T + 10, code[G], 11);
    tt_tbuf_obj_create(b0, T + 11, type, 0x1020, 32, code[G], 12, TT_NO_OFFSET);
    tt_tbuf_obj_create(b0, T + 12, type, 0x1030, 32, code[H], 22, TT_NO_OFFSET);
    tt_tbuf_obj_create(b0, T + 13, type, 0x1040, 32, TT_NO_CODE, TT_NO_LINE,
                       TT_NO_OFFSET);
    tt_tbuf_return(b0, T + 20, code[G], 12);
    tt_tbuf_return(b0, T + 30, code[F], 2);
    tt_tbuf_obj_create(b1, T + 1, type, 0x2000, 32, code[G], 12, TT_NO_OFFSET);
    CHECK_OK(tt_writer_close(w));

    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_OK(tt_calls_analyze(r, &c));
    CHECK_EQ_U64(tt_calls_summary(c)->objects, 6);
    CHECK_EQ_U64(tt_calls_thread(c, 0)->objects, 5);
    CHECK_EQ_U64(tt_calls_thread(c, 0)->objects_no_frame, 1);
    CHECK_EQ_U64(tt_calls_thread(c, 1)->objects, 1);
    CHECK_EQ(tt_calls_summary(c)->n_nodes, 4);   /* f, f;g, f;g;h, g */
    for (uint32_t i = 0; (n = tt_calls_node(c, i)) != NULL; i++) {
        sum += n->objects;
        if (n->code == code[F])
            CHECK_EQ_U64(n->objects, 2);
        if (n->code == code[G] && n->thread == 0)
            CHECK_EQ_U64(n->objects, 1);
        if (n->code == code[H] || n->thread == 1) {
            CHECK_EQ_U64(n->objects, 1);
            CHECK_EQ_U64(n->calls, 0);
        }
        if (n->thread == 1)
            CHECK(n->parent == TT_CALLS_NO_NODE);
    }
    CHECK_EQ_U64(sum, 5);
    /* A node that only holds objects makes no function row. */
    for (uint32_t i = 0; (f = tt_calls_function(c, i)) != NULL; i++)
        CHECK(f->code != code[H] && f->thread != 1);
    tt_calls_free(c);
    tt_reader_close(r);

    /* all 6 > MainThread 5 > f 4 (self 2) > g 2 (self 1) > h 1, and
     * [no Python frame] 1; worker 1 > g 1. */
    svg = draw(path, &o, &st);
    CHECK_EQ_U64(st.total, 6);
    CHECK_EQ(st.frames, 8);
    CHECK(strstr(svg, "data-l=\"[no Python frame]\"") != NULL);
    CHECK(strstr(svg, "6 objects, 100.00%") != NULL);
    CHECK(strstr(svg, "<title>g (app&lt;&amp;&gt;.py:11)\n2 objects, 33.33%; self 1 objects") != NULL);
    CHECK(strstr(svg, "Flame graph of object creations") != NULL);
    free(svg);
}

void test_flame_hostile_and_cut(void)
{
    const char *cut = tmp_path("flame3cut.ttrace");
    uint64_t T = test_header()->start_tick;
    tt_flame_opts_t o = {TT_FLAME_TIME, 0, TT_CALLS_ALL_THREADS, -1, 0, NULL, 0};
    tt_flame_stats_t st;
    tt_writer_t *w;
    tt_tbuf_t *b0;
    uint32_t file, bad;
    size_t len;
    uint8_t *data;
    char *svg;

    /* A recording that calls the hostile code, cut before its end chunk. */
    CHECK_OK(tt_writer_open(&w, cut, test_header()));
    CHECK_OK(tt_writer_string(w, "a\x01.py", 5, &file));
    bad = test_code(w, file, "x<y&\"z\x01\xff\xc0\xaf", 7, 0, NULL, 0);
    CHECK_OK(tt_writer_thread(w, 1, "Main\x02<&>", &b0));
    tt_tbuf_call(b0, T + 0, bad, 7);
    tt_tbuf_call(b0, T + 10, bad, 7);
    CHECK_OK(tt_writer_flush(w));
    data = read_file(cut, &len);
    CHECK_OK(tt_writer_close(w));
    write_file(cut, data, len);          /* as if killed after the flush */
    free(data);
    svg = draw(cut, &o, &st);
    CHECK(strstr(svg, "data-l=\"x&lt;y&amp;&quot;z\\x01\\xff\\xc0\\xaf\"") != NULL);
    CHECK(strstr(svg, "data-f=\"a\\x01.py:7\"") != NULL);
    CHECK(strstr(svg, "thread 0 (Main\\x02&lt;&amp;&gt;)") != NULL);
    CHECK(strstr(svg, "x<y") == NULL);
    CHECK(strstr(svg, "\x01") == NULL && strstr(svg, "\xff") == NULL);
    CHECK(strstr(svg, " [cut off]</text>") != NULL);
    CHECK(strstr(svg, "<text id=\"cut\"") != NULL);
    CHECK(strstr(svg, "data-cut=\"1\"") != NULL);
    CHECK_EQ(st.frames, 3);              /* all, thread, x; x;x was open
                                            0 ns at the cut: no width */
    free(svg);
}

void test_flame_failures(void)
{
    uint32_t code[N_CODES];
    const char *path = flame_recording("flame4.ttrace", code);
    tt_flame_opts_t o = {TT_FLAME_TIME, 0, TT_CALLS_ALL_THREADS, -1, 0, NULL, 0};
    tt_reader_t *r;
    tt_calls_t *c;
    long n, total;
    FILE *fp = tmpfile(), *full;

    CHECK(fp != NULL);
    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_OK(tt_calls_analyze(r, &c));
    CHECK_EQ(tt_flame_write_svg(NULL, r, fp, &o, NULL), TT_EINVAL);
    CHECK_EQ(tt_flame_write_svg(c, NULL, fp, &o, NULL), TT_EINVAL);
    CHECK_EQ(tt_flame_write_svg(c, r, NULL, &o, NULL), TT_EINVAL);
    o.thread = 2;
    CHECK_EQ(tt_flame_write_svg(c, r, fp, &o, NULL), TT_EINVAL);
    o.thread = TT_CALLS_ALL_THREADS;
    o.weight = 4;
    CHECK_EQ(tt_flame_write_svg(c, r, fp, &o, NULL), TT_EINVAL);
    o.weight = TT_FLAME_TIME;
    CHECK_EQ(ftell(fp), 0);
    /* Every allocation failure: TT_ENOMEM and nothing written. */
    tt__alloc_fail_at(INT32_MAX, 0);
    CHECK_OK(tt_flame_write_svg(c, r, fp, &o, NULL));
    total = tt__alloc_count();
    tt__alloc_fail_at(0, 0);
    CHECK(total >= 6);
    for (n = 1; n <= total; n++) {
        FILE *t = tmpfile();
        int rc;
        CHECK(t != NULL);
        tt__alloc_fail_at(n, 0);
        rc = tt_flame_write_svg(c, r, t, &o, NULL);
        tt__alloc_fail_at(0, 0);
        CHECK_EQ(rc, TT_ENOMEM);
        CHECK_EQ(ftell(t), 0);
        fclose(t);
    }
    /* A write that fails: a stream open for reading only. */
    write_file(tmp_path("flame4.svg"), "", 0);
    full = fopen(tmp_path("flame4.svg"), "r");
    CHECK(full != NULL);
    CHECK_EQ(tt_flame_write_svg(c, r, full, &o, NULL), TT_EIO);
    fclose(full);
    fclose(fp);
    tt_calls_free(c);
    tt_reader_close(r);
}
