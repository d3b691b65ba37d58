"""Branchy functions: if/elif/else, loops with break/else, while, match,
try/except/finally, with, comprehensions, lambdas and pragmas."""

from __future__ import annotations

import contextlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable


class Shape:
    """A class docstring: no statement for coverage.py."""

    sides = 0

    def __init__(self, sides: int) -> None:
        self.sides = sides

    def describe(self) -> str:
        if self.sides == 3:
            return "triangle"
        elif self.sides == 4:
            return "square"
        return "polygon"

    def never(self):  # pragma: no cover
        return "never"


def classify(n: int) -> str:
    total = (
        n
        + 1
        + 2
    )
    if n < 0:
        return "negative"
    if n == 0:  # pragma: no branch
        return "zero"
    if total > 100:
        return "big"
    return "small"


def loop_sum(items: Iterable[int]) -> int:
    acc = 0
    for x in items:
        if x < 0:
            break
        if x == 7:
            continue
        acc += x
    else:
        acc += 1000
    return acc


def countdown(n: int) -> int:
    steps = 0
    while n > 0:
        n -= 1
        steps += 1
    return steps


def matcher(value: object) -> str:
    match value:
        case 0:
            return "zero"
        case [x, y]:
            return f"pair {x} {y}"
        case str():
            return "str"
    return "other"


def guarded(f) -> str:
    try:
        f()
    except ValueError:
        return "value"
    except KeyError:  # pragma: no cover
        return "key"
    finally:
        pass
    return "ok"


def with_block(flag: bool) -> int:
    with contextlib.suppress(ZeroDivisionError):
        if flag:
            return 1 // 0
        x = 2
    return 3


def lambdas() -> list[int]:
    square = lambda v: v * v  # noqa: E731
    never_called = lambda v: (  # noqa: E731
        v + 1
    )
    squares = [square(i) for i in range(3) if i != 1]
    return squares


def generator(n: int):
    for i in range(n):
        if i % 2:
            yield i


def stub() -> None: ...


def unused(a: int) -> int:
    """A function docstring.

    Spanning lines."""
    if a:
        return a
    return -a


def maybe_double(x: int, flag: bool) -> int:
    if flag:
        x *= 2
    return x
