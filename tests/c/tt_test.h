/* tt_test.h - the tiny test framework of tests/c and the shared helpers.
 *
 * Owns: CHECK macros (a failed check prints file:line and exits the forked
 * child with status 1), the test list (test_list.h) and helpers declared
 * here, defined in testutil.c. Each test runs in its own child process, so
 * tests may leak on failure paths and may use globals freely.
 */
#ifndef TT_TEST_H
#define TT_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt.h"
#include "tt_internal.h"

#define TT_TEST_FAIL(...)                                                 \
    do {                                                                  \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                 \
        fprintf(stderr, __VA_ARGS__);                                     \
        fprintf(stderr, "\n");                                            \
        exit(1);                                                          \
    } while (0)

#define CHECK(c)                                                          \
    do {                                                                  \
        if (!(c))                                                         \
            TT_TEST_FAIL("CHECK(%s) failed", #c);                         \
    } while (0)

#define CHECK_EQ(a, b)                                                    \
    do {                                                                  \
        long long a_ = (long long)(a), b_ = (long long)(b);               \
        if (a_ != b_)                                                     \
            TT_TEST_FAIL("CHECK_EQ(%s, %s): %lld != %lld", #a, #b, a_, b_); \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                \
    do {                                                                  \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                  \
        if (a_ != b_)                                                     \
            TT_TEST_FAIL("CHECK_EQ_U64(%s, %s): %" PRIu64 " != %" PRIu64, \
                         #a, #b, a_, b_);                                 \
    } while (0)

#define CHECK_OK(x)                                                       \
    do {                                                                  \
        int rc_ = (x);                                                    \
        if (rc_ != 0)                                                     \
            TT_TEST_FAIL("%s returned %d (%s)", #x, rc_,                  \
                         tt_strerror(rc_));                               \
    } while (0)

#define CHECK_STR(a, b)                                                   \
    do {                                                                  \
        const char *a_ = (a), *b_ = (b);                                  \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)              \
            TT_TEST_FAIL("CHECK_STR(%s, %s): \"%s\" != \"%s\"", #a, #b,   \
                         a_ ? a_ : "(null)", b_ ? b_ : "(null)");         \
    } while (0)

/* Declare every test. */
#define TEST(name) void test_##name(void);
#define XFAIL(name) void test_##name(void);
#include "test_list.h"
#undef TEST
#undef XFAIL

/* ------------------------------------------------------------ helpers */

/* A fresh per-process temporary path "<dir>/<name>"; static storage
 * rotating over 8 slots. */
const char *tmp_path(const char *name);
/* Reads a whole file; aborts the test on failure. *len gets its size. */
uint8_t *read_file(const char *path, size_t *len);
void write_file(const char *path, const void *data, size_t len);

/* A header with plausible values (argv, opnames...). */
const tt_header_t *test_header(void);
/* Defines a traced function code `name` in `file` at `line` (flags added
 * to TT_CODE_TRACED | TT_CODE_FUNCTION, co_lines() `ranges`); its id. */
uint32_t test_code(tt_writer_t *w, uint32_t file, const char *name,
                   int32_t line, uint32_t flags,
                   const tt_line_range_t *ranges, uint32_t n_ranges);
/* test_calls.c's worked-out scenario, times from the header's start
 * tick: f [0,100] calls g [10,40] (which calls h [20,25]) and g [50,60];
 * thread b1: h [5,8]. */
void calls_basic_events(tt_tbuf_t *b0, tt_tbuf_t *b1, uint32_t f,
                        uint32_t g, uint32_t h);

/* A list of events (expected or decoded). */
typedef struct {
    tt_event_t *ev;
    size_t n, cap;
} evlist;
void evlist_push(evlist *l, const tt_event_t *e);
void evlist_free(evlist *l);
/* Decodes every event with tt_reader_next; CHECKs no error is returned
 * unless allow_errors. Returns the count of errors returned. */
int evlist_read(evlist *l, tt_reader_t *r, int allow_errors);
/* Compares two events field by field; fails the test with `what`/index. */
void check_event(const tt_event_t *got, const tt_event_t *want,
                 const char *what, size_t i);
void check_evlists(const evlist *got, const evlist *want, const char *what);
/* Stable-sorts by (tick, thread): the merged order. */
void evlist_sort_merged(evlist *l);
/* Keeps only events of one thread. */
void evlist_filter_thread(evlist *out, const evlist *in, uint32_t thread);

/* The model: appends to a tbuf and records the expected event (ticks made
 * relative to start and clamped like the writer does). */
typedef struct {
    evlist exp;
    uint64_t start;
    uint64_t last[4096];      /* per thread: last raw tick (clamped) */
} model;
void model_init(model *m, uint64_t start_tick);
void m_call(model *m, tt_tbuf_t *b, uint64_t t, uint32_t code, int32_t line);
void m_line(model *m, tt_tbuf_t *b, uint64_t t, uint32_t code, int32_t line);
void m_return(model *m, tt_tbuf_t *b, uint64_t t, uint32_t code, int32_t line);
void m_exception(model *m, tt_tbuf_t *b, uint64_t t, uint32_t code,
                 int32_t line, uint32_t exc);
void m_opcode(model *m, tt_tbuf_t *b, uint64_t t, uint32_t code, int32_t line,
              uint32_t offset, uint8_t op);
void m_create(model *m, tt_tbuf_t *b, uint64_t t, uint32_t type, uint64_t addr,
              uint64_t size, uint32_t code, int32_t line, uint32_t offset);
void m_destroy(model *m, tt_tbuf_t *b, uint64_t t, uint64_t addr);

/* A deterministic PRNG (splitmix64). */
uint64_t rnd_next(uint64_t *s);

/* Writes the sample recording used by damage tests (3 threads, every
 * event kind, several chunks each); returns its path and fills *m. */
const char *write_sample(model *m);

/* Frames a chunk into out (which must have len + 20 bytes); returns the
 * chunk's total size. */
size_t frame_chunk(uint8_t *out, uint8_t type, uint32_t thread,
                   const void *payload, size_t len);

/* The writer's output without the BASE records of its DEFS chunks (what a
 * version-1.0 writer wrote); checks each against the ids before it.
 * Returns a malloc'd copy, its length in *out. */
uint8_t *strip_base_records(const uint8_t *d, size_t len, size_t *out);

/* Opens a reader over data and iterates everything and every accessor;
 * returns open's result. Must never crash (used by bit-flip tests and the
 * fuzz corpus replay). */
int exercise_reader(const uint8_t *data, size_t len);

/* The golden recording (golden_gen.c): writes it to path. */
int golden_write(const char *path);

#endif /* TT_TEST_H */
