/* tt_base_text.c - recorded strings made safe for a terminal: the escaping rule
 * of every text report libtt writes (the Python side's is _text.py).
 *
 * Owns: the rule only. Must not: allocate, or write anywhere but the FILE*
 * it is given. Threads: none; pure functions of their arguments.
 */
#include <string.h>

#include "tt_internal.h"

/* The length of the valid UTF-8 sequence at s (1-4), its code point in
 * *cp; 0 when s does not start one (a stray byte, an overlong form, a
 * surrogate, or a sequence cut by the NUL). */
int tt__utf8_seq(const unsigned char *s, uint32_t *cp)
{
    uint32_t c = s[0], min;
    int n, i;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) { n = 2; c &= 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; c &= 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; c &= 0x07; min = 0x10000; }
    else return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

/* Whether code point c is written as an escape: C0, DEL, C1, and the
 * bidirectional embeddings, overrides and isolates. */
int tt__text_unsafe(uint32_t c)
{
    return c < 0x20 || (c >= 0x7F && c <= 0x9F) ||
           (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

/* Walks s; with out, writes it escaped. Returns the escaped length. */
static size_t walk(const char *s, FILE *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = 0;
    while (*p) {
        uint32_t cp;
        int n = tt__utf8_seq(p, &cp);
        if (n == 0) {                       /* not UTF-8: the byte */
            if (out)
                fprintf(out, "\\x%02x", *p);
            len += 4;
            p++;
        } else if (tt__text_unsafe(cp)) {
            if (out)
                fprintf(out, cp <= 0xFF ? "\\x%02x" : "\\u%04x",
                        (unsigned)cp);
            len += cp <= 0xFF ? 4 : 6;
            p += n;
        } else {
            if (out)
                fwrite(p, 1, (size_t)n, out);
            len += 1;                       /* one column per code point */
            p += n;
        }
    }
    return len;
}

size_t tt_text_width(const char *s)
{
    return s ? walk(s, NULL) : 0;
}

int tt_text_write(FILE *out, const char *s, size_t width)
{
    size_t n;
    if (out == NULL || s == NULL)
        return TT_EINVAL;
    n = walk(s, out);
    for (; n < width; n++)
        fputc(' ', out);
    return ferror(out) ? TT_EIO : 0;
}
