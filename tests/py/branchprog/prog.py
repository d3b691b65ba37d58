"""Branch shapes for --coverage --branch on sys.monitoring
(test_coverage_branch_monitoring.py): every exit some run takes, and
some it never takes."""
import asyncio
import sys
import threading


def if_at_end(x):
    y = x * 2
    if y > 3:
        y += 1


def if_else(x):
    if x:
        r = 1
    else:
        r = 2
    return r


def for_else(items, stop):
    for i in items:
        if i == stop:
            break
    else:
        return -1
    return i


def while_else(n):
    while n > 0:
        n -= 1
        if n == 7:
            break
    else:
        n = 100
    return n


def nested(n):
    total = 0
    for i in range(n):
        for j in range(i):
            if (i + j) % 3 == 0:
                continue
            total += j
        if i > 5:
            break
    return total


def short_circuit(a, b, c):
    if (a and
            b or
            c):
        return 1
    return 0


def ternary_cond(a, b):
    if (1 if a else 0) and b:
        return "yes"
    return "no"


def matcher(v):
    match v:
        case 0:
            return "zero"
        case [x, y]:
            return "pair"
        case {"k": k}:
            return "map"
        case str() if len(v) > 2:
            return "long"
        case _:
            return "other"


def tries(x):
    try:
        r = 10 // x
    except ZeroDivisionError:
        r = -1
    except TypeError:
        r = -2
    else:
        r += 1
    finally:
        r *= 2
    return r


class Ctx:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def with_if(x):
    with Ctx():
        y = x + 1
        if y > 2:
            y = 0
    return y


def gen(n):
    for i in range(n):
        if i % 2:
            yield i
    if n > 100:
        yield -1


def comps(n):
    a = [i for i in range(n) if i % 2]
    b = {i: j for i in range(n) for j in range(i) if j}
    return len(a) + len(b)


async def agen(n):
    for i in range(n):
        await asyncio.sleep(0)
        if i > 1:
            yield i


async def amain(n):
    out = []
    async for v in agen(n):
        if v:
            out.append(v)
    return out


async def abreak(n):
    got = 0
    async for v in agen(n):
        if v > 2:
            break
        got += v
    acomp = [v async for v in agen(n) if v % 2]
    async for w in agen(0):
        got += w
    return got + len(acomp)


def delegate(n):
    yield from gen(n)
    if n:
        yield 0


def while_and(xs):
    i = 0
    while (i < len(xs)
           and xs[i] >= 0):
        i += 1
    return i


def try_if_end(x):
    try:
        if x > 1:
            x = 1 // (x - 2)
    except ZeroDivisionError:
        if x:
            x = -x


def hot(n):
    s = 0
    for i in range(n):
        if i >= 0:
            s += i
    return s


def one_liners(x):
    if x: return 1
    while x > 5: x -= 1
    return 0


def threaded(k):
    if k % 2:
        return "odd"
    return "even"


def main():
    for x in (1, 2):
        if_at_end(x)
    if_else(1)
    for_else([1, 2, 3], 2)
    for_else([1, 2], 9)
    while_else(3)
    nested(8)
    short_circuit(1, 1, 0)
    short_circuit(0, 0, 0)
    ternary_cond(True, False)
    for v in (0, [1, 2], {"k": 1}, "abcd", 3.5):
        matcher(v)
    tries(0)
    tries(5)
    with_if(0)
    with_if(5)
    list(gen(5))
    comps(6)
    print(asyncio.run(amain(4)))
    asyncio.run(abreak(6))
    asyncio.run(abreak(2))
    list(delegate(3))
    while_and([1, 2, -1, 3])
    while_and([])
    try_if_end(2)
    try_if_end(0)
    hot(20000)
    one_liners(0)
    one_liners(8)
    ts = [threading.Thread(target=threaded, args=(k,)) for k in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if len(sys.argv) > 5:
        print("never")


main()
