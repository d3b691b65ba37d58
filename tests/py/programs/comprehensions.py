"""Comprehensions: list, dict, set, nested, with calls and conditions, and
generator expressions (consumed fully, partially, and short-circuited).

scenario-exit: 0
scenario-threads: 1
"""


def keep(x):
    return x % 3 != 0


def label(x):
    return "n%d" % x


def main():
    data = list(range(12))
    squares = [x * x for x in data if keep(x)]
    names = {label(x): x for x in data[:5]}
    residues = {x % 4 for x in data}
    grid = [[r * c for c in range(3)] for r in range(3)]
    flat = [v for row in grid for v in row if v]
    total = sum(x for x in data if keep(x))
    first_big = next(x for x in data if x > 6)
    has_neg = any(label(x) == "n4" for x in data)          # stops early
    all_small = all(x < 100 for x in data)
    pairs = dict(zip("abc", (n * n for n in range(3))))
    counted = [(y := x * 2) for x in range(3)]
    nested_gen = list(sum(c for c in range(r)) for r in range(4))
    print(squares, names, sorted(residues), flat)
    print(total, first_big, has_neg, all_small, pairs, counted, y, nested_gen)


main()
