"""Container growth: lists and dicts grown one append or one insertion at
a time, read back and dropped, plus a few long-lived ones kept to the
end. Each append that outgrows a list reallocates its item array (no new
object); each new key, int and string is an object: a steady mix of
short-lived keys and values and containers that outlive many events."""


def grow_lists(n, width):
    kept = []
    total = 0
    for i in range(n):
        row = []
        for j in range(width):
            row.append(i * width + j)
        total += row[-1] - row[0]
        if i % 64 == 0:
            kept.append(row)
    return total + len(kept)


def grow_dicts(n, width):
    kept = []
    total = 0
    for i in range(n):
        d = {}
        for j in range(width):
            d["k%d" % j] = i + j
        total += len(d) + d["k0"]
        if i % 64 == 0:
            kept.append(d)
    return total + len(kept)


def grow_nested(n):
    index = {}
    for i in range(n):
        index.setdefault(i % 97, []).append((i, i * 3))
    return sum(len(v) for v in index.values())


def work(scale):
    n = int(scale * 12000)
    return (grow_lists(n, 40) + grow_dicts(n // 2, 24)
            + grow_nested(int(scale * 300000)))


if __name__ == "__main__":
    from _harness import main

    main(work)
