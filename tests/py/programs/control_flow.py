"""Control flow and line numbers: match statements, for/while with else,
break/continue, one-line loops (backward jumps that stay on one line),
statements and expressions spread over several lines, assert, chained
comparisons, try inside loops, global and del.

scenario-exit: 0
scenario-threads: 1
"""

calls = 0


class Point:
    __match_args__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y


def classify(obj):
    match obj:
        case []:
            return "empty"
        case [x]:
            return "one %r" % (x,)
        case [_, *rest] if len(rest) > 2:
            return "long"
        case {"kind": "point", "x": x, "y": y}:
            return "point %d,%d" % (x, y)
        case Point(0, y):
            return "on the y axis at %d" % y
        case str() | bytes():
            return "text"
        case _:
            return "other"


def search(items, target):
    for i, item in enumerate(items):
        if item == target:
            break
    else:
        return -1
    return i


def countdown(n):
    while n > 0:
        n -= 1
        if n == 5:
            continue
        if n == 2:
            break
    else:
        return "exhausted"
    return "broke at %d" % n


def one_liners(n):
    total = 0
    for i in range(n): total += i          # noqa: E701
    while total > 10: total //= 2          # noqa: E701
    return total


def spread(a, b):
    value = (
        a
        + b
        * 2
    )
    result = max(
        value,
        a,
        b,
    )
    return [
        result if result > 3 else -result,
        1 < a < b <= 10,
    ]


def checks(x):
    assert x >= 0, "negative"
    try:
        assert x < 3, "too big: %d" % x
    except AssertionError as exc:
        return str(exc)
    return "ok"


def retry(attempts):
    log = []
    for n in range(attempts):
        try:
            if n < 2:
                raise ConnectionError(n)
            log.append("ok %d" % n)
            break
        except ConnectionError:
            log.append("retry %d" % n)
            continue
        finally:
            log.append("finally %d" % n)
    return log


def bump():
    global calls
    calls += 1
    scratch = [calls]
    del scratch
    return calls


def main():
    samples = [[], [1], [1, 2, 3, 4], {"kind": "point", "x": 1, "y": 2},
               Point(0, 7), Point(1, 1), "s", b"b", 3.5]
    out = [classify(s) for s in samples]
    out += [search([4, 5, 6], 5), search([4, 5, 6], 9)]
    out += [countdown(8), countdown(1), one_liners(9)]
    out += spread(1, 2) + spread(5, 3)
    out += [checks(1), checks(4), retry(4), bump(), bump()]
    print(out)


main()
