"""A pool left by `with` (terminate(): SIGTERM to its workers) after each
worker has run tasks; prints the workers' pids. argv[1]: start method."""
import multiprocessing as mp
import os
import sys
import time


def task(i):
    time.sleep(0.2)
    return os.getpid()


if __name__ == "__main__":
    with mp.get_context(sys.argv[1]).Pool(2) as p:
        pids = set(p.map(task, range(6), chunksize=1))
    print(" ".join(map(str, sorted(pids))))
