"""concurrent.futures.ThreadPoolExecutor: a 3-worker pool whose tasks meet
at a barrier (so each worker runs exactly one task per round, whatever the
scheduling), and a 1-worker pool driven by map().

scenario-exit: 0
scenario-threads: 5
"""
import threading
from concurrent.futures import ThreadPoolExecutor

WORKERS = 3


def compute(i):
    total = 0
    for k in range(3):
        total += k * i
    return total


def task(barrier, i):
    barrier.wait()
    return compute(i)


def scale(x):
    return x * 10


def run_round(pool, first):
    barrier = threading.Barrier(WORKERS, timeout=60)
    futures = [pool.submit(task, barrier, first + i) for i in range(WORKERS)]
    return [f.result() for f in futures]


def main():
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        out = run_round(pool, 0) + run_round(pool, 10)
    with ThreadPoolExecutor(max_workers=1) as single:
        out += list(single.map(scale, range(4)))
        out.append(single.submit(compute, 5).result())
    print(out)


main()
