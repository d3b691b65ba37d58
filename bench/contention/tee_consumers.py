"""Lock contention: 100 threads read one shared iterator through a tee
that guards the iterator with one lock, as more-itertools' concurrent_tee
does (its TestConcurrentTee.test_concurrent_consumers). Every thread gets
every item; the checksum does not depend on scheduling. Under a tracer, or
on a busy machine, the lock can fall into a convoy: each item then costs a
handoff of the lock and of the GIL between sleeping threads (see
bench/README.md, "Lock contention"). Scale 1.0 is 100,000 items."""
import os
import sys
from threading import Lock, Thread


class ConcurrentTee:
    """One reader's position in a shared, lock-guarded linked list of items."""
    __slots__ = ("iterator", "link", "lock")

    def __init__(self, iterable):
        if isinstance(iterable, ConcurrentTee):
            self.iterator, self.link, self.lock = (iterable.iterator, iterable.link,
                                                   iterable.lock)
        else:
            self.iterator, self.link, self.lock = iter(iterable), [None, None], Lock()

    def __iter__(self):
        return self

    def __next__(self):
        link = self.link
        if link[1] is None:
            with self.lock:
                if link[1] is None:
                    link[0] = next(self.iterator)
                    link[1] = [None, None]
        value, self.link = link
        return value


def producer(limit):
    for x in range(limit):
        yield x


def work(scale, threads=100):
    limit = int(scale * 100_000)
    first = ConcurrentTee(producer(limit))
    tees = [first] + [ConcurrentTee(first) for _ in range(threads - 1)]
    sums = []

    def consumer(it):
        sums.append(sum([x for x in it]))

    workers = [Thread(target=consumer, args=(t,)) for t in tees]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(sums) == threads and len(set(sums)) == 1, sums
    return sums[0]


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    os.pardir, "workloads"))
    from _harness import main

    main(work)
