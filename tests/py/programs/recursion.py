"""Recursion: direct, mutual, through generators, and through a class.

scenario-exit: 0
scenario-threads: 1
"""


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def is_even(n):
    return True if n == 0 else is_odd(n - 1)


def is_odd(n):
    return False if n == 0 else is_even(n - 1)


def walk(tree, depth=0):
    label, children = tree
    yield depth, label
    for child in children:
        yield from walk(child, depth + 1)


def ackermann(m, n):
    if m == 0:
        return n + 1
    if n == 0:
        return ackermann(m - 1, 1)
    return ackermann(m - 1, ackermann(m, n - 1))


class Node:
    def __init__(self, value, *children):
        self.value = value
        self.children = children

    def total(self):
        return self.value + sum(child.total() for child in self.children)


def hanoi(n, src, dst, via, moves):
    if n:
        hanoi(n - 1, src, via, dst, moves)
        moves.append((src, dst))
        hanoi(n - 1, via, dst, src, moves)
    return moves


def main():
    tree = ("root", [("a", [("a1", []), ("a2", [])]), ("b", [])])
    print(fib(8), is_even(7), is_odd(7))
    print(list(walk(tree)))
    print(ackermann(2, 2))
    print(Node(1, Node(2, Node(3)), Node(4)).total())
    print(len(hanoi(4, "A", "C", "B", [])))


main()
