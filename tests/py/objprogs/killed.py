"""Killed mid-recording (SIGKILL: nothing of tracetap's runs after it):
enough objects are made first that several chunks reach the file, and
KEEP holds some of them when the process dies."""

import os
import signal

KEEP = []


def main():
    for i in range(200000):
        row = (i, str(i))
        if i % 1000 == 0:
            KEEP.append(row)
    os.kill(os.getpid(), signal.SIGKILL)


main()
