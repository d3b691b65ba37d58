"""Allocation-heavy: instances, floats, tuples, dicts, strings, a tree
built and torn down; everything dies."""


class Node:
    __slots__ = ("key", "left", "right")

    def __init__(self, key, left=None, right=None):
        self.key, self.left, self.right = key, left, right


def build(lo, hi):
    if lo > hi:
        return None
    mid = (lo + hi) // 2
    return Node(mid, build(lo, mid - 1), build(mid + 1, hi))


def main():
    total = 0.0
    for i in range(20000):
        total = total + i * 0.25
        d = {"a": i, "b": (i, i + 1)}
        s = f"item-{i}"
        total += len(s) + d["a"]
    for _ in range(5):
        tree = build(0, 2000)
        del tree
    return total


main()
del main, build, Node
