"""Allocation-heavy: many short-lived and some long-lived objects (instances,
dicts, lists, tuples, strings), a tree built and torn down; the workload for
object tracking (--objects, tracemalloc, the reference-tracer floor)."""


class Node:
    def __init__(self, key, left=None, right=None):
        self.key = key
        self.left = left
        self.right = right


def build(lo, hi):
    if lo > hi:
        return None
    mid = (lo + hi) // 2
    return Node(mid, build(lo, mid - 1), build(mid + 1, hi))


def depth_sum(node, depth=0):
    if node is None:
        return 0
    return depth + depth_sum(node.left, depth + 1) + depth_sum(node.right, depth + 1)


def churn(n):
    keep = []
    total = 0
    for i in range(n):
        row = {"i": i, "sq": [i, i * i], "pair": (i, str(i))}
        total += len(row["pair"][1])
        if i % 50 == 0:
            keep.append(row)
    return total + len(keep)


def work(scale):
    total = 0
    for _ in range(int(scale * 12)):
        tree = build(0, 20000)
        total += depth_sum(tree)
        del tree
    total += churn(int(scale * 360000))
    return total


if __name__ == "__main__":
    from _harness import main

    main(work)
