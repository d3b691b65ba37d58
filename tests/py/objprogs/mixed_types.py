"""Creations whose types alternate from one to the next, from one site
(a list and its ints, a dict and its keys and values, tuples and the
floats in them), some kept to the end and some dropped at once: the
defer mode's CREATE fast path for a type other than the last one."""


def main():
    kept = []
    total = 0
    for i in range(3000):
        row = [i * 1000 + j for j in range(12)]
        d = {"k%d" % j: i * 1000 + j for j in range(6)}
        pair = (i * 0.5, i * 1.5, str(i))
        total += row[-1] - row[0] + len(d) + len(pair[2])
        if i % 50 == 0:
            kept.append((row, d, pair))
    return total + len(kept)


main()
del main
