/* fuzz_resync.c - libFuzzer target for the resynchronising reader.
 *
 * Owns: tt_fuzz_resync_one(), which damages a valid recording (made once,
 * in process, by libtt's writer: 3 threads, dozens of small chunks) as the
 * input says (flip bytes, cut, insert or delete ranges), then checks that
 * the reader never crashes, hangs or reads out of bounds (tt_fuzz_exercise
 * drives every API over it), and that every event of the undamaged chunks
 * before the first damaged byte is returned, in order. A broken promise is
 * __builtin_trap(). tests/c runs it over deterministic inputs too.
 * Must not: print. Threads: single-threaded.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tt.h"

/* From libtt (tt_internal.h); declared here to keep this file standalone. */
extern size_t tt__tbuf_cap;
int tt_fuzz_exercise(const uint8_t *data, size_t len);
int tt_fuzz_resync_one(const uint8_t *data, size_t len);

#define EXPECT(c)                 \
    do {                          \
        if (!(c))                 \
            __builtin_trap();     \
    } while (0)

#define MAX_CHUNKS 512

static uint8_t *clean;            /* the valid recording */
static size_t clean_len;
static size_t n_bounds;           /* chunk ends, file order */
static size_t bound[MAX_CHUNKS];
static uint64_t before[MAX_CHUNKS];  /* events in chunks ending <= bound */
static tt_event_t *ref;           /* every event, file order */
static uint64_t n_ref;

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Events in file order of data[0, len) (errors skipped), into out. */
static uint64_t read_all(const uint8_t *d, size_t len, tt_event_t *out,
                         uint64_t max)
{
    tt_reader_t *r;
    tt_event_t ev;
    uint64_t n = 0;
    int rc;
    if (tt_reader_open_mem(&r, d, len, TT_READ_FILE) < 0)
        return 0;
    while ((rc = tt_reader_next(r, &ev)) != 0) {
        if (rc < 0)
            continue;
        if (out != NULL && n < max)
            out[n] = ev;
        n++;
    }
    tt_reader_close(r);
    return n;
}

static void make_recording(void)
{
    char path[] = "/tmp/tt_fuzz_resync.XXXXXX";
    tt_header_t h;
    tt_writer_t *w;
    tt_tbuf_t *b[3];
    uint32_t s, c[4], ty;
    uint64_t t = 1000;
    FILE *f;
    int fd = mkstemp(path);

    EXPECT(fd >= 0);
    close(fd);
    memset(&h, 0, sizeof h);
    h.python_impl = h.python_version = h.python_build = "x";
    h.clock_name = "monotonic";
    h.options_text = "";
    h.clock_hz = 1000000000u;
    tt__tbuf_cap = 256;
    EXPECT(tt_writer_open(&w, path, &h) == 0);
    for (int i = 0; i < 3; i++)
        EXPECT(tt_writer_thread(w, 100u + (unsigned)i, "t", &b[i]) == 0);
    for (int round = 0; round < 4; round++) {     /* DEFS between events */
        tt_code_def_t cd = {0};
        tt_type_def_t td = {0};
        char name[16];
        int n = snprintf(name, sizeof name, "f%d", round);
        EXPECT(tt_writer_string(w, name, (size_t)n, &s) == 0);
        cd.filename = cd.qualname = s;
        cd.firstlineno = 5 + round;
        cd.parent = TT_NO_PARENT;
        EXPECT(tt_writer_code(w, &cd, &c[round]) == 0);
        td.name = s;
        td.basicsize = 32;
        EXPECT(tt_writer_type(w, &td, &ty) == 0);
        for (int i = 0; i < 60; i++)
            for (int k = 0; k < 3; k++) {
                t += 3;
                tt_tbuf_call(b[k], t, c[round], cd.firstlineno);
                tt_tbuf_line(b[k], t + 1, c[i % (round + 1)], 7 + i % 5);
                tt_tbuf_obj_create(b[k], t + 2, ty, 0x1000u + 16u * (unsigned)i,
                                   32, c[round], 8, TT_NO_OFFSET);
                tt_tbuf_return(b[k], t + 2, c[round], 9);
            }
        EXPECT(tt_writer_flush(w) == 0);
    }
    EXPECT(tt_writer_close(w) == 0);
    tt__tbuf_cap = 64 * 1024;
    f = fopen(path, "rb");
    EXPECT(f != NULL);
    fseek(f, 0, SEEK_END);
    clean_len = (size_t)ftell(f);
    rewind(f);
    clean = malloc(clean_len);
    EXPECT(clean != NULL && fread(clean, 1, clean_len, f) == clean_len);
    fclose(f);
    unlink(path);

    n_ref = read_all(clean, clean_len, NULL, 0);
    ref = malloc((size_t)n_ref * sizeof *ref + 1);
    EXPECT(ref != NULL && read_all(clean, clean_len, ref, n_ref) == n_ref);
    /* chunk ends and the events before each (an independent prefix read) */
    for (size_t off = 12; off < clean_len;) {
        off += 20 + le32(clean + off + 8);
        EXPECT(n_bounds < MAX_CHUNKS);
        bound[n_bounds] = off;
        before[n_bounds++] = read_all(clean, off, NULL, 0);
    }
}

/* Applies the input's edits to a copy of the recording. Each edit: op
 * byte, 2-byte position (scaled to the file), then op-specific bytes.
 * Returns the copy; *first is the lowest offset changed. */
static uint8_t *damage(const uint8_t *in, size_t n, size_t *len,
                       size_t *first)
{
    size_t cap = clean_len + n + 16, l = clean_len;
    uint8_t *d = malloc(cap);

    EXPECT(d != NULL);
    memcpy(d, clean, clean_len);
    *first = SIZE_MAX;
    while (n >= 4 && l > 0) {
        unsigned op = in[0] % 4;
        size_t pos = ((size_t)in[1] | (size_t)in[2] << 8) * l / 65536;
        size_t k = in[3];
        in += 4;
        n -= 4;
        switch (op) {
        case 0:                                  /* flip bits */
            d[pos] ^= (uint8_t)(k ? k : 1);
            break;
        case 1:                                  /* cut */
            l = pos;
            break;
        case 2:                                  /* insert k input bytes */
            if (k > n)
                k = n;
            memmove(d + pos + k, d + pos, l - pos);
            memcpy(d + pos, in, k);
            in += k;
            n -= k;
            l += k;
            break;
        default:                                 /* delete k bytes */
            if (k > l - pos)
                k = l - pos;
            memmove(d + pos, d + pos + k, l - pos - k);
            l -= k;
            break;
        }
        if (pos < *first)
            *first = pos;
    }
    *len = l;
    return d;
}

int tt_fuzz_resync_one(const uint8_t *data, size_t len)
{
    size_t dlen, first, i;
    uint64_t keep = 0, n;
    uint8_t *d;
    tt_event_t *got;

    if (clean == NULL)
        make_recording();
    d = damage(data, len, &dlen, &first);
    (void)tt_fuzz_exercise(d, dlen);             /* traps on misbehaviour */
    for (i = 0; i < n_bounds && bound[i] <= first; i++)
        keep = before[i];
    got = malloc((size_t)n_ref * sizeof *got + 1);
    EXPECT(got != NULL);
    n = read_all(d, dlen, got, n_ref);
    EXPECT(n >= keep);
    for (uint64_t k = 0; k < keep; k++)
        EXPECT(memcmp(&got[k], &ref[k], sizeof *got) == 0);
    free(got);
    free(d);
    return 0;
}

#ifdef TT_FUZZ_RESYNC_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    return tt_fuzz_resync_one(data, len);
}
#endif
