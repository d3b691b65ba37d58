"""Generators: send/throw/close, yield from, return values, early close.

scenario-exit: 0
scenario-threads: 1
"""


def counter(limit):
    n = 0
    while n < limit:
        received = yield n
        if received is not None:
            n = received
        else:
            n += 1
    return "counted"


def accumulator():
    total = 0
    try:
        while True:
            try:
                value = yield total
            except ValueError as exc:
                total = -len(str(exc))
                continue
            total += value
    finally:
        cleanup_log.append(("accumulator closed", total))


def delegate():
    result = yield from counter(3)
    inner = yield from (x * 10 for x in range(2))
    return (result, inner)


def closes_on_exit():
    try:
        yield "first"
        yield "second"
    except GeneratorExit:
        cleanup_log.append("got GeneratorExit")
        raise


def swallow_throw():
    while True:
        try:
            yield "ready"
        except KeyError:
            yield "recovered"
            return


cleanup_log = []


def main():
    gen = counter(5)
    seen = [next(gen), gen.send(3), next(gen)]
    try:
        next(gen)
        next(gen)
    except StopIteration as stop:
        seen.append(stop.value)

    acc = accumulator()
    next(acc)
    acc.send(4)
    acc.send(6)
    seen.append(acc.throw(ValueError("bad")))
    seen.append(acc.send(2))
    acc.close()

    d = delegate()
    seen.extend(list(d))

    c = closes_on_exit()
    seen.append(next(c))
    c.close()

    s = swallow_throw()
    next(s)
    seen.append(s.throw(KeyError("k")))
    try:
        next(s)
    except StopIteration:
        seen.append("done")

    squares = (i * i for i in range(10))
    seen.append(next(squares))
    seen.append(next(squares))
    squares.close()

    print(seen)
    print(cleanup_log)


main()
