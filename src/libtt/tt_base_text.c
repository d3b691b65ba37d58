/* tt_base_text.c - recorded strings made safe for a terminal: the escaping
 * rule of every text report libtt writes (the Python side's is _text.py),
 * and the same rule inside XML (Cobertura, the flame graph's SVG).
 *
 * Owns: the rule only. Must not: allocate, or write anywhere but the FILE*
 * it is given. Threads: none; pure functions of their arguments.
 */
#include <stdint.h>
#include <stdio.h>
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

/* Walks the first n bytes of s (up to its NUL); with out, writes them
 * escaped. Returns the escaped length. A UTF-8 sequence cut by n is
 * written as its bytes' escapes. */
static size_t walk(const char *s, size_t n, FILE *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = 0, i = 0;
    while (i < n && p[i]) {
        uint32_t cp;
        int k = tt__utf8_seq(p + i, &cp);
        if (k > 0 && (size_t)k > n - i)
            k = 0;
        if (k == 0) {                       /* not UTF-8: the byte */
            if (out)
                fprintf(out, "\\x%02x", p[i]);
            len += 4;
            i++;
        } else if (tt__text_unsafe(cp)) {
            if (out)
                fprintf(out, cp <= 0xFF ? "\\x%02x" : "\\u%04x",
                        (unsigned)cp);
            len += cp <= 0xFF ? 4 : 6;
            i += (size_t)k;
        } else {
            if (out)
                fwrite(p + i, 1, (size_t)k, out);
            len += 1;                       /* one column per code point */
            i += (size_t)k;
        }
    }
    return len;
}

/* Contract (tt_internal.h). */
void tt__text_write_n(FILE *out, const char *s, size_t n)
{
    walk(s, n, out);
}

size_t tt_text_width(const char *s)
{
    return s ? walk(s, SIZE_MAX, NULL) : 0;
}

int tt_text_write(FILE *out, const char *s, size_t width)
{
    size_t n;
    if (out == NULL || s == NULL)
        return TT_EINVAL;
    n = walk(s, SIZE_MAX, out);
    for (; n < width; n++)
        fputc(' ', out);
    return ferror(out) ? TT_EIO : 0;
}

/* Whether XML 1.0 allows code point cp in character data (tab and newline
 * aside, which no one-line name or attribute wants either). */
static int xml_char_ok(uint32_t cp)
{
    return cp >= 0x20 && cp != 0xFFFE && cp != 0xFFFF;
}

/* Contract (tt_internal.h). */
size_t tt__xml_text_n(FILE *out, const char *s, size_t n, size_t max_cp)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t i = 0, cps = 0;

    while (i < n && p[i]) {
        uint32_t cp;
        int len = tt__utf8_seq(p + i, &cp);
        if (len == 0 || (size_t)len > n - i)
            len = 0;                    /* a byte that is not UTF-8 */
        if (cps++ >= max_cp || out == NULL) {
            i += len ? (size_t)len : 1;
            continue;
        }
        if (len == 0) {
            /* As the text rule (and _text.printable for a surrogate-
             * escaped file name) writes it: the byte, faithfully. */
            fprintf(out, "\\x%02x", p[i++]);
            continue;
        }
        i += (size_t)len;
        if (!xml_char_ok(cp) || tt__text_unsafe(cp)) {
            /* Controls are not allowed in XML 1.0 even as references;
             * C1 and bidi overrides are, but drive what a reader sees:
             * all as the text rule's visible escape. */
            fprintf(out, cp <= 0xFF ? "\\x%02x" : "\\u%04x", (unsigned)cp);
            continue;
        }
        switch (cp) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fwrite(p + i - (size_t)len, 1, (size_t)len, out); break;
        }
    }
    return cps;
}

/* Contract (tt_internal.h). */
size_t tt__xml_text(FILE *out, const char *s, size_t max_cp)
{
    return tt__xml_text_n(out, s, SIZE_MAX, max_cp);
}
