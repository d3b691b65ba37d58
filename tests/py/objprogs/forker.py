"""os.fork() during an --objects recording: CPython 3.12+ raises a
DeprecationWarning (an error here) when a forking process has more than one
OS thread, so tracetap's clock ticker must not be running at that moment;
the child exits at once, the parent reports its exit code and goes on."""

import os
import warnings

warnings.simplefilter("error", DeprecationWarning)


def main():
    keep = [object() for _ in range(10)]
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    _, status = os.waitpid(pid, 0)
    print("CHILD", os.waitstatus_to_exitcode(status))
    after = [object() for _ in range(10)]
    return len(keep) + len(after)


main()
