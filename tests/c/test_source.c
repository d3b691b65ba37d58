/* test_source.c - source identities: tt_source_identify against an
 * independent hash of the file (the portable CRC), refusal of files that
 * are not regular without blocking, the 0x81 record's round trip through
 * writer and reader, and no identities in a file of an older writer. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tt_test.h"

void test_source_identify(void)
{
    const char *path = tmp_path("src.py"), *fifo = tmp_path("src.fifo");
    static const char text[] = "def f():\n    return 1\n";
    tt_source_def_t d;
    struct stat st;

    write_file(path, text, sizeof text - 1);
    CHECK_EQ(tt_source_identify(path, &d), 0);
    CHECK(stat(path, &st) == 0);
    CHECK_EQ_U64(d.size, sizeof text - 1);
    CHECK_EQ(d.mtime_ns, (int64_t)st.st_mtim.tv_sec * 1000000000 +
                         st.st_mtim.tv_nsec);
    CHECK(d.flags & TT_SOURCE_HASHED);
    CHECK_EQ_U64(d.crc32c, tt__crc32c_sw(0, text, sizeof text - 1));
    CHECK_EQ_U64(tt_crc32c(0, text, sizeof text - 1), d.crc32c);

    /* One byte changed: another hash, same size. */
    write_file(path, "def f():\n    return 2\n", sizeof text - 1);
    {
        tt_source_def_t e;
        CHECK_EQ(tt_source_identify(path, &e), 0);
        CHECK(e.crc32c != d.crc32c && e.size == d.size);
    }
    /* A FIFO with no writer and a device: refused at once, never read. */
    unlink(fifo);
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK_EQ(tt_source_identify(fifo, &d), TT_EIO);
    CHECK_EQ_U64(d.size, 0);
    CHECK_EQ(tt_source_identify("/dev/zero", &d), TT_EIO);
    CHECK_EQ(tt_source_identify(tmp_path("missing.py"), &d), TT_EIO);
    CHECK_EQ(tt_source_identify(NULL, &d), TT_EINVAL);
    CHECK_EQ(tt_source_identify(path, NULL), TT_EINVAL);
    unlink(fifo);
}

void test_source_records(void)
{
    const char *path = tmp_path("sources.ttrace");
    tt_writer_t *w;
    tt_reader_t *r;
    uint32_t a, b;
    tt_source_def_t d = {0}, e = {0};
    const tt_source_def_t *got;
    char gold[512];

    CHECK_OK(tt_writer_open(&w, path, test_header()));
    CHECK_OK(tt_writer_string(w, "/src/a.py", 9, &a));
    CHECK_OK(tt_writer_string(w, "/src/b.py", 9, &b));
    d.filename = a;
    d.flags = TT_SOURCE_HASHED;
    d.size = 12345;
    d.mtime_ns = -5;                        /* before 1970: zigzag */
    d.crc32c = 0xDEADBEEF;
    CHECK_OK(tt_writer_source(w, &d));
    e.filename = b;
    e.size = UINT64_MAX;
    e.mtime_ns = INT64_MAX;
    CHECK_OK(tt_writer_source(w, &e));
    e.filename = 999;                       /* not a defined string */
    CHECK_EQ(tt_writer_source(w, &e), TT_EINVAL);
    CHECK_EQ(tt_writer_source(w, NULL), TT_EINVAL);
    CHECK_OK(tt_writer_close(w));

    CHECK_OK(tt_reader_open(&r, path, 0));
    CHECK_EQ(tt_reader_n_sources(r), 2);
    got = tt_reader_source(r, 0);
    CHECK(got != NULL && got->filename == a && got->flags == TT_SOURCE_HASHED);
    CHECK(strcmp(tt_reader_string(r, got->filename), "/src/a.py") == 0);
    CHECK_EQ_U64(got->size, 12345);
    CHECK_EQ(got->mtime_ns, -5);
    CHECK_EQ_U64(got->crc32c, 0xDEADBEEF);
    got = tt_reader_source(r, 1);
    CHECK(got != NULL && got->filename == b && got->flags == 0);
    CHECK_EQ_U64(got->size, UINT64_MAX);
    CHECK(got->mtime_ns == INT64_MAX);
    CHECK(tt_reader_source(r, 2) == NULL);
    tt_reader_close(r);

    /* A file of an older writer: read as before, no identities. */
    snprintf(gold, sizeof gold, "%s/golden-v1.ttrace", TT_TEST_DATA_DIR);
    CHECK_OK(tt_reader_open(&r, gold, 0));
    CHECK_EQ(tt_reader_n_sources(r), 0);
    CHECK(tt_reader_source(r, 0) == NULL);
    tt_reader_close(r);
    CHECK_EQ(tt_reader_n_sources(NULL), 0);
}
