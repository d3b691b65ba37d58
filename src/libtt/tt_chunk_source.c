/* tt_chunk_source.c - what identifies a source file: size, mtime and a CRC-32C
 * of its content, taken when a recording first sees code from the file
 * (the 0x81 DEFS record), so that readers can tell a changed file.
 *
 * Owns: tt_source_identify and the public tt_crc32c. Must not: block on a
 * file that is not regular (FIFO, device), or allocate. Threads: any; the
 * capture calls it with the GIL held, once per file.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tt_internal.h"

uint32_t tt_crc32c(uint32_t crc, const void *data, size_t len)
{
    return tt__crc32c(crc, data, len);
}

int tt_source_identify(const char *path, tt_source_def_t *out)
{
    uint8_t buf[1u << 15];
    struct stat st;
    uint64_t left;
    uint32_t crc = 0;
    int fd, err;

    if (out == NULL)
        return TT_EINVAL;
    memset(out, 0, sizeof *out);
    if (path == NULL)
        return TT_EINVAL;
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return TT_EIO;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        err = S_ISREG(st.st_mode) ? errno : EINVAL;
        close(fd);
        errno = err;
        return TT_EIO;
    }
    out->size = (uint64_t)st.st_size;
    out->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
                    st.st_mtim.tv_nsec;
    if (out->size <= TT_SOURCE_MAX_HASH) {
        for (left = out->size; left > 0;) {
            ssize_t n = read(fd, buf, left < sizeof buf ? (size_t)left
                                                        : sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;              /* shrank meanwhile: size says so */
            crc = tt__crc32c(crc, buf, (size_t)n);
            left -= (uint64_t)n;
        }
        if (left == 0) {
            out->crc32c = crc;
            out->flags |= TT_SOURCE_HASHED;
        }
    }
    close(fd);
    return 0;
}
