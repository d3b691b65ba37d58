"""Object churn for --objects: instances with a __dict__, small dicts and
tuples made and dropped in a loop (most die young), a long-lived cache that
keeps every 64th record (survivors), and floats through the eval loop; the
second allocation-heavy workload next to alloc_heavy.py."""


class Record:
    def __init__(self, key, value):
        self.key = key
        self.value = value
        self.tags = (key % 7, key % 11)


def pipeline(n, cache):
    acc = 0.0
    for i in range(n):
        r = Record(i, {"v": i, "w": -i})
        acc = acc + r.value["v"] * 0.5
        if i % 64 == 0:
            cache.append(r)
    return acc


def work(scale):
    cache = []
    total = 0.0
    for _ in range(4):
        total += pipeline(int(scale * 120000), cache)
    return total + len(cache)


if __name__ == "__main__":
    from _harness import main

    main(work)
