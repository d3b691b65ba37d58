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

/* tt_reader_open_why says what is wrong with an unusable file: which
 * version it is and which this reader reads, how short it is, which head
 * check failed; and nothing for a good one. Files are made from a good
 * sample by changing the one thing each case names. */
void test_reader_open_why(void)
{
    model m;
    const char *good, *bad = tmp_path("why.ttrace");
    uint8_t *d;
    size_t len;
    char why[160];
    tt_reader_t *r;

    model_init(&m, 1000);
    good = write_sample(&m);
    evlist_free(&m.exp);                        /* only the file is used */
    d = read_file(good, &len);
    CHECK(d != NULL && len > 64);

    CHECK_EQ(tt_reader_open_why(&r, good, 0, why, sizeof why), 0);
    CHECK(why[0] == '\0');
    tt_reader_close(r);

    d[8] = 9;                                   /* major version 9 */
    write_file(bad, d, len);
    CHECK_EQ(tt_reader_open_why(&r, bad, 0, why, sizeof why), TT_EVERSION);
    CHECK(r == NULL);
    CHECK(strstr(why, "format version 9.0") != NULL);
    CHECK(strstr(why, "reads version 1.x") != NULL);
    d[8] = 1;

    write_file(bad, d, 10);                     /* cut inside the head */
    CHECK_EQ(tt_reader_open_why(&r, bad, 0, why, sizeof why), TT_ETRUNCATED);
    CHECK(strstr(why, "10 bytes") != NULL);

    write_file(bad, d, 20);                     /* cut inside HEADER */
    CHECK_EQ(tt_reader_open_why(&r, bad, 0, why, sizeof why), TT_ETRUNCATED);
    CHECK(strstr(why, "HEADER") != NULL);

    write_file(bad, d, 0);
    CHECK_EQ(tt_reader_open_why(&r, bad, 0, why, sizeof why), TT_ETRUNCATED);
    CHECK(strstr(why, "empty") != NULL);

    d[0] ^= 0xff;                               /* not our magic */
    write_file(bad, d, len);
    CHECK_EQ(tt_reader_open_why(&r, bad, 0, why, sizeof why), TT_ENOTTRACE);
    CHECK(strstr(why, "magic") != NULL);

    CHECK_EQ(tt_reader_open_why(&r, "/dev/null", 0, why, sizeof why), TT_EIO);
    CHECK(strstr(why, "not a regular file") != NULL);
    /* A NULL buffer is allowed. */
    CHECK_EQ(tt_reader_open_why(&r, "/dev/null", 0, NULL, 0), TT_EIO);
    free(d);
}
