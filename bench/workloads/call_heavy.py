"""Call-heavy: many tiny Python functions and methods, recursion, closures.
Few lines per call, so the per-call cost of a tracer dominates."""


def add(a, b):
    return a + b


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


class Vec:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def dot(self, other):
        return mul(self.x, other.x) + mul(self.y, other.y)


def mul(a, b):
    return a * b


def make_counter():
    n = 0

    def bump():
        nonlocal n
        n = add(n, 1)
        return n
    return bump


def work(scale):
    total = 0
    for _ in range(int(scale * 100)):
        total += fib(18)
    bump = make_counter()
    v = Vec(1, 2)
    for i in range(int(scale * 500000)):
        total += v.dot(Vec(i, 1)) + bump()
    return total


if __name__ == "__main__":
    from _harness import main

    main(work)
