/* test_text.c - tt_text_write/tt_text_width: the escaping rule of the text
 * reports (controls, C1, bytes that are not UTF-8, bidi overrides), checked
 * against hand-written expectations. */
#include "tt_test.h"

/* s as tt_text_write writes it with `width`, in a static buffer. */
static const char *escaped(const char *s, size_t width)
{
    static char buf[512];
    FILE *f = tmpfile();
    size_t n;
    CHECK(f != NULL);
    CHECK_EQ(tt_text_write(f, s, width), 0);
    rewind(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Code points of valid UTF-8 s: its bytes that do not continue one. */
static size_t code_points(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

#define CHECK_ESC(in, want)                                               \
    do {                                                                  \
        const char *got_ = escaped(in, 0);                                \
        if (strcmp(got_, want) != 0)                                      \
            TT_TEST_FAIL("escape: got \"%s\", want \"%s\"", got_, want);  \
        CHECK_EQ(tt_text_width(in), code_points(want));                   \
    } while (0)

void test_text_escape(void)
{
    CHECK_ESC("plain/path.py", "plain/path.py");
    CHECK_ESC("\x1b]0;PWNED\x07.py", "\\x1b]0;PWNED\\x07.py");
    CHECK_ESC("a\nb\tc\rd\x7f", "a\\x0ab\\x09c\\x0dd\\x7f");
    CHECK_ESC("\xc2\x9b" "31m", "\\x9b31m");                 /* C1 CSI */
    CHECK_ESC("caf\xc3\xa9", "caf\xc3\xa9");                 /* é stays */
    CHECK_ESC("x\xff" "y", "x\\xffy");                       /* not UTF-8 */
    CHECK_ESC("\xc0\xaf", "\\xc0\\xaf");                     /* overlong */
    CHECK_ESC("\xed\xa0\x80", "\\xed\\xa0\\x80");            /* surrogate */
    CHECK_ESC("\xe2\x80\xae" "evil", "\\u202eevil");         /* RLO */
    CHECK_ESC("\xe2\x81\xa6", "\\u2066");                    /* LRI */
    CHECK_ESC("cut\xe2\x80", "cut\\xe2\\x80");               /* cut short */
    /* Width counts code points, and pads to it. */
    CHECK_EQ(tt_text_width("caf\xc3\xa9"), 4);
    CHECK(strcmp(escaped("ab", 4), "ab  ") == 0);
    CHECK(strcmp(escaped("\x01", 6), "\\x01  ") == 0);
    CHECK_EQ(tt_text_width(NULL), 0);
    CHECK_EQ(tt_text_write(NULL, "x", 0), TT_EINVAL);
    CHECK_EQ(tt_text_write(stdout, NULL, 0), TT_EINVAL);
}
