/* bench_codec.c - tt_bench_codec: throughput and size of the .ttrace event
 * codec on synthetic but realistic streams (call-heavy, line-heavy, tight
 * loops, object create/destroy, opcodes).
 *
 * For each stream it pre-generates the events, then measures:
 *   - bytes/event of the whole file (header, definitions, framing included);
 *   - encode: tt_tbuf_* appends incl. chunk sealing, CRC and write(2),
 *     to a real file and to /dev/null (the difference is the cost of the
 *     write syscalls, which is all a background writer thread could hide);
 *   - encode with a background writer thread (an experiment through
 *     tt__write_hook: each sealed chunk is copied into a queue of 8 slots
 *     and a second thread write(2)s it), to decide inline vs. background;
 *   - decode: tt_reader_open (the validating index pass decodes every event)
 *     and one full merged iteration.
 * Usage: tt_bench_codec [-n EVENTS] [-c ns|tsc] [-d DIR] [-r REPEATS]
 * Single-threaded; it prints, unlike libtt.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tt.h"
#include "tt_internal.h"

/* ---- the background-writer experiment ---------------------------------- */

#define QSLOTS 8
static struct {
    pthread_mutex_t mu;
    pthread_cond_t nonempty, nonfull;
    uint8_t *buf[QSLOTS];
    size_t cap[QSLOTS], len[QSLOTS];
    int fd[QSLOTS];
    int head, count, stop;
} q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
       PTHREAD_COND_INITIALIZER, {0}, {0}, {0}, {0}, 0, 0, 0};

static void *bg_writer(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&q.mu);
    for (;;) {
        int slot;
        while (q.count == 0 && !q.stop)
            pthread_cond_wait(&q.nonempty, &q.mu);
        if (q.count == 0)
            break;
        slot = q.head;
        pthread_mutex_unlock(&q.mu);
        if (write(q.fd[slot], q.buf[slot], q.len[slot]) != (ssize_t)q.len[slot])
            exit(1);
        pthread_mutex_lock(&q.mu);
        q.head = (q.head + 1) % QSLOTS;
        q.count--;
        pthread_cond_broadcast(&q.nonfull);
    }
    pthread_mutex_unlock(&q.mu);
    return NULL;
}

/* Replaces write(2) in libtt: queue a copy; the END chunk (type 4) waits
 * for the queue to drain, because close(2) follows it. */
static int bg_hook(int fd, const void *p, size_t n)
{
    int slot;
    pthread_mutex_lock(&q.mu);
    while (q.count == QSLOTS)
        pthread_cond_wait(&q.nonfull, &q.mu);
    slot = (q.head + q.count) % QSLOTS;
    pthread_mutex_unlock(&q.mu);
    if (q.cap[slot] < n) {
        q.buf[slot] = realloc(q.buf[slot], n);
        q.cap[slot] = n;
        if (!q.buf[slot])
            exit(1);
    }
    memcpy(q.buf[slot], p, n);
    q.len[slot] = n;
    q.fd[slot] = fd;
    pthread_mutex_lock(&q.mu);
    q.count++;
    pthread_cond_signal(&q.nonempty);
    if (n >= 16 && ((const uint8_t *)p)[0] == 4)
        while (q.count)
            pthread_cond_wait(&q.nonfull, &q.mu);
    pthread_mutex_unlock(&q.mu);
    return 0;
}

enum { K_CALL, K_LINE, K_RETURN, K_EXC, K_OPCODE, K_CREATE, K_DESTROY };

typedef struct {
    uint8_t k;
    uint8_t opcode;
    uint32_t code;
    int32_t line;
    uint32_t offset;
    uint64_t tick;
    uint64_t addr;
} bev;

typedef struct {
    bev *ev;
    size_t n, cap;
    uint64_t tick;
    uint64_t seed;
    int tsc;
} stream;

#define NCODES 64

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Time between two trace events: ~25-90 ns mostly, sometimes much more
 * (a slow C call). In TSC mode, ticks at 3 GHz. */
static uint64_t gap(stream *s)
{
    uint64_t r = rnd(&s->seed), ns;
    if (r % 100 < 95)
        ns = 25 + r % 65;
    else if (r % 100 < 99)
        ns = 100 + (r >> 8) % 2000;
    else
        ns = 5000 + (r >> 8) % 500000;
    return s->tsc ? ns * 3 : ns;
}

static void push(stream *s, uint8_t k, uint32_t code, int32_t line)
{
    bev *e;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1 << 16;
        s->ev = realloc(s->ev, s->cap * sizeof *s->ev);
        if (!s->ev)
            exit(1);
    }
    e = &s->ev[s->n++];
    memset(e, 0, sizeof *e);
    s->tick += gap(s);
    e->k = k;
    e->code = code;
    e->line = line;
    e->tick = s->tick;
}

static int32_t firstline(uint32_t code)
{
    return 10 + 40 * (int32_t)code;
}

/* A call: CALL, a few lines (maybe nested calls), RETURN. */
static void gen_call(stream *s, uint32_t code, int depth, size_t limit)
{
    int32_t line = firstline(code);
    int nlines = 1 + (int)(rnd(&s->seed) % 4);
    push(s, K_CALL, code, line);
    for (int i = 0; i < nlines && s->n < limit; i++) {
        line += 1 + (int32_t)(rnd(&s->seed) % 3 == 0);
        push(s, K_LINE, code, line);
        if (depth < 6 && rnd(&s->seed) % 3 == 0)
            gen_call(s, (code * 7 + 1 + (uint32_t)i) % NCODES, depth + 1, limit);
    }
    push(s, K_RETURN, code, line);
}

static void gen_calls(stream *s, size_t n)
{
    while (s->n < n)
        gen_call(s, (uint32_t)(rnd(&s->seed) % 8), 0, n);
}

/* Long function bodies: mostly LINE, rare calls. */
static void gen_lines(stream *s, size_t n)
{
    uint32_t code = 1;
    int32_t line = firstline(code);
    while (s->n < n) {
        uint64_t r = rnd(&s->seed);
        if (r % 40 == 0) {
            gen_call(s, 2 + (uint32_t)(r >> 8) % 20, 5, n);
            continue;
        }
        line += r % 10 < 8 ? 1 : (int32_t)((r >> 8) % 30) - 15;
        if (line < firstline(code))
            line = firstline(code) + 1;
        push(s, K_LINE, code, line);
    }
}

/* for i in range(n): a; b; if c: f(i) - the loop header and a short body. */
static void gen_loops(stream *s, size_t n)
{
    uint32_t code = 3;
    int32_t head = firstline(code) + 2;
    push(s, K_CALL, code, firstline(code));
    while (s->n < n) {
        push(s, K_LINE, code, head);
        push(s, K_LINE, code, head + 1);
        push(s, K_LINE, code, head + 2);
        if (rnd(&s->seed) % 4 == 0) {
            push(s, K_LINE, code, head + 3);
            push(s, K_CALL, 9, firstline(9));
            push(s, K_LINE, 9, firstline(9) + 1);
            push(s, K_RETURN, 9, firstline(9) + 1);
        }
    }
}

/* Object churn: temporaries made and freed, a few survivors. */
static void gen_objects(stream *s, size_t n)
{
    uint64_t base = 0x7f3a12340000ull, live[64] = {0};
    uint32_t code = 4;
    int32_t line = firstline(code);
    while (s->n < n) {
        uint64_t r = rnd(&s->seed);
        int slot = (int)(r % 64);
        if (r % 5 == 0) {
            line += 1;
            push(s, K_LINE, code, line);
        } else if (live[slot] && (r >> 8) % 4) {
            push(s, K_DESTROY, 0, 0);
            s->ev[s->n - 1].addr = live[slot];
            live[slot] = 0;
        } else {
            push(s, K_CREATE, code, line);
            live[slot] = base + 16 * (uint64_t)((r >> 16) % 4096);
            s->ev[s->n - 1].addr = live[slot];
            s->ev[s->n - 1].offset = TT_NO_OFFSET;
        }
    }
}

/* Opcode tracing: LINE then a few instructions per line. */
static void gen_opcodes(stream *s, size_t n)
{
    uint32_t code = 5, off = 0;
    int32_t line = firstline(code);
    while (s->n < n) {
        uint64_t r = rnd(&s->seed);
        line += 1;
        push(s, K_LINE, code, line);
        for (int i = 0; i < 2 + (int)(r % 4); i++) {
            push(s, K_OPCODE, code, line);
            s->ev[s->n - 1].offset = off;
            s->ev[s->n - 1].opcode = (uint8_t)(r >> (8 * i));
            off += 2 * (1 + (uint32_t)((r >> (8 * i + 4)) % 3 == 0) * 4);
        }
        if (r % 50 == 0)
            off = 0, line = firstline(code);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes the stream; returns seconds spent in the append loop + close. */
static double encode(const stream *s, const char *path, int tsc, int bg)
{
    pthread_t th;
    static const char *argv[] = {"bench.py"};
    tt_header_t h = {0};
    tt_code_def_t cd = {0};
    tt_type_def_t td = {0};
    tt_writer_t *w;
    tt_tbuf_t *b;
    uint32_t id, ty;
    double t0, t1;

    h.python_impl = "cpython";
    h.python_version = "3.13.15";
    h.argc = 1;
    h.argv = argv;
    h.clock_name = tsc ? "tsc" : "monotonic";
    h.clock_hz = tsc ? 3000000000ull : 1000000000ull;
    if (bg) {
        q.stop = 0;
        if (pthread_create(&th, NULL, bg_writer, NULL) != 0)
            exit(1);
        tt__write_hook = bg_hook;
    }
    if (tt_writer_open(&w, path, &h) < 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    tt_writer_string(w, "bench.py", 8, &id);
    cd.filename = cd.qualname = id;
    cd.parent = TT_NO_PARENT;
    for (uint32_t c = 0; c < NCODES; c++) {
        cd.firstlineno = firstline(c);
        tt_writer_code(w, &cd, &id);
    }
    td.name = 0;
    td.basicsize = 48;
    tt_writer_type(w, &td, &ty);
    tt_writer_thread(w, 1, "MainThread", &b);

    t0 = now();
    for (size_t i = 0; i < s->n; i++) {
        const bev *e = &s->ev[i];
        switch (e->k) {
        case K_CALL:
            tt_tbuf_call(b, e->tick, e->code, e->line);
            break;
        case K_LINE:
            tt_tbuf_line(b, e->tick, e->code, e->line);
            break;
        case K_RETURN:
            tt_tbuf_return(b, e->tick, e->code, e->line);
            break;
        case K_EXC:
            tt_tbuf_exception(b, e->tick, e->code, e->line, 0);
            break;
        case K_OPCODE:
            tt_tbuf_opcode(b, e->tick, e->code, e->line, e->offset, e->opcode);
            break;
        case K_CREATE:
            tt_tbuf_obj_create(b, e->tick, ty, e->addr, 48, e->code, e->line,
                               e->offset);
            break;
        default:
            tt_tbuf_obj_destroy(b, e->tick, e->addr);
            break;
        }
    }
    if (tt_writer_close(w) < 0) {
        fprintf(stderr, "write failed\n");
        exit(1);
    }
    t1 = now();
    if (bg) {
        tt__write_hook = NULL;
        pthread_mutex_lock(&q.mu);
        q.stop = 1;
        pthread_cond_signal(&q.nonempty);
        pthread_mutex_unlock(&q.mu);
        pthread_join(th, NULL);
    }
    return t1 - t0;
}

static void decode(const char *path, size_t n, double *t_open, double *t_iter)
{
    tt_reader_t *r;
    tt_event_t ev;
    size_t got = 0;
    double t0 = now(), t1, t2;
    uint64_t sum = 0;

    if (tt_reader_open(&r, path, TT_READ_MERGED) < 0) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    t1 = now();
    while (tt_reader_next(r, &ev) == 1) {
        sum += ev.tick;
        got++;
    }
    t2 = now();
    tt_reader_close(r);
    if (got != n || sum == 0) {
        fprintf(stderr, "decoded %zu events, wrote %zu\n", got, n);
        exit(1);
    }
    *t_open = t1 - t0;
    *t_iter = t2 - t1;
}

static double best(double a, double b)
{
    return a < b ? a : b;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*gen)(stream *, size_t);
    } kinds[] = {
        {"call-heavy", gen_calls},
        {"line-heavy", gen_lines},
        {"loops", gen_loops},
        {"objects", gen_objects},
        {"opcodes", gen_opcodes},
    };
    size_t n = 5000000;
    int tsc = 0, repeats = 3;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char path[1024];
    double total_bytes = 0, total_events = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = (size_t)atof(argv[++i]);
        else if (!strcmp(argv[i], "-c") && i + 1 < argc)
            tsc = !strcmp(argv[++i], "tsc");
        else if (!strcmp(argv[i], "-d") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "-r") && i + 1 < argc)
            repeats = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [-n EVENTS] [-c ns|tsc] [-d DIR] "
                    "[-r REPEATS]\n", argv[0]);
            return 2;
        }
    }
    snprintf(path, sizeof path, "%s/tt_bench_codec.%d.ttrace", dir,
             (int)getpid());
    printf("tt_bench_codec: %zu events per stream, %s ticks, best of %d\n", n,
           tsc ? "3 GHz TSC" : "nanosecond", repeats);
    printf("%-11s %7s %9s %9s %9s %8s %9s %9s\n", "stream", "B/event",
           "enc", "enc-bg", "enc-null", "write%", "open", "iter");
    printf("%-11s %7s %9s %9s %9s %8s %9s %9s\n", "", "", "Mev/s",
           "Mev/s", "Mev/s", "", "Mev/s", "Mev/s");
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        stream s = {0};
        struct stat st;
        double te = 1e9, tn = 1e9, tb = 1e9, to = 1e9, ti = 1e9;
        s.seed = 0x5eed + k;
        s.tsc = tsc;
        kinds[k].gen(&s, n);
        for (int r = 0; r < repeats; r++) {
            double a, b;
            te = best(te, encode(&s, path, tsc, 0));
            tb = best(tb, encode(&s, path, tsc, 1));
            tn = best(tn, encode(&s, "/dev/null", tsc, 0));
            decode(path, s.n, &a, &b);
            to = best(to, a);
            ti = best(ti, b);
        }
        if (stat(path, &st) < 0)
            return 1;
        printf("%-11s %7.2f %9.1f %9.1f %9.1f %7.1f%% %9.1f %9.1f\n",
               kinds[k].name, (double)st.st_size / (double)s.n,
               (double)s.n / te / 1e6, (double)s.n / tb / 1e6,
               (double)s.n / tn / 1e6,
               te > tn ? 100.0 * (te - tn) / te : 0.0,
               (double)s.n / to / 1e6, (double)s.n / ti / 1e6);
        if (k < 3) {
            total_bytes += (double)st.st_size;
            total_events += (double)s.n;
        }
        free(s.ev);
    }
    printf("call/line streams together: %.2f bytes/event (target <= 4)\n",
           total_bytes / total_events);
    unlink(path);
    return 0;
}
