/* tt_base_io.c - the one place libtt writes to a file descriptor.
 *
 * Owns: tt__write_all (EINTR and short-write safe) and the test hook that
 * makes the N-th write fail halfway. Must not print or retry forever: a
 * write that makes no progress is an error. Threads: callable from any
 * thread; the hook is a plain global for single-threaded tests.
 */
#include <errno.h>
#include <unistd.h>

#include "tt_internal.h"

static long io_countdown;    /* >0: fail when it reaches 0 (tests only) */
int (*tt__write_hook)(int fd, const void *p, size_t n);   /* bench only */
static int io_sticky;        /* tests only */
static int io_errno;         /* tests only: the injected failure's errno */

void tt__io_fail_at(long n, int sticky)
{
    io_countdown = n > 0 ? n : 0;
    io_sticky = n > 0 && sticky;
}

void tt__io_fail_errno(int err)
{
    io_errno = err;
}

static int raw_write(int fd, const uint8_t *q, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, q, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k == 0)
            errno = EIO;            /* no progress and no reason given */
        if (k <= 0)
            return TT_EIO;
        q += k;
        n -= (size_t)k;
    }
    return 0;
}

int tt__write_all(int fd, const void *p, size_t n)
{
    if (io_countdown > 0 && --io_countdown == 0) {
        if (io_sticky)
            io_countdown = 1;
        (void)raw_write(fd, p, n / 2);     /* a torn write, then failure */
        errno = io_errno ? io_errno : EIO;
        return TT_EIO;
    }
    if (tt__write_hook != NULL)
        return tt__write_hook(fd, p, n);
    return raw_write(fd, p, n);
}
