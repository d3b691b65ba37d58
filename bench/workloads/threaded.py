"""Threaded: four threads doing CPU-bound Python work under the GIL. Each
thread writes its own slot, so the result does not depend on scheduling."""
import threading


def collatz_len(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def task(start, count, out, slot):
    best = 0
    for n in range(start, start + count):
        best = max(best, collatz_len(n))
    out[slot] = best


def work(scale):
    count = int(scale * 7000)
    out = [0] * 4
    threads = [threading.Thread(target=task, args=(1 + i * count, count, out, i))
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(out)


if __name__ == "__main__":
    from _harness import main

    main(work)
