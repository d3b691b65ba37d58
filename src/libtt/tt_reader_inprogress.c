/* tt_reader_inprogress.c - is a recording still being written?
 *
 * Owns: tt_file_being_written, the reader's side of the writer's advisory
 * flock(LOCK_EX) (tt_writer_open takes it, tt_writer_close drops it). Must
 * not: block, or leave a lock behind. Threads: any; it keeps no state.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "tt_internal.h"

/* Contract (tt.h): 1 while a writer's open file description holds the
 * lock, 0 otherwise (also where flock is not supported), TT_EINVAL for a
 * NULL path, TT_EIO with errno set when the file cannot be opened. A shared
 * lock is tried without blocking and dropped at once: it conflicts only
 * with the writer's exclusive one, so readers never disturb each other. */
int tt_file_being_written(const char *path)
{
    int fd, rc = 0;

    if (path == NULL)
        return TT_EINVAL;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return TT_EIO;
    if (flock(fd, LOCK_SH | LOCK_NB) == 0)
        (void)flock(fd, LOCK_UN);
    else if (errno == EWOULDBLOCK)
        rc = 1;
    (void)close(fd);
    return rc;
}
