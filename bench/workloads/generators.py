"""Generators: a pipeline of generators and generator expressions, send()
and yield from; every resume and suspend is a call and a return event."""


def numbers(n):
    for i in range(n):
        yield i


def evens(source):
    for x in source:
        if x % 2 == 0:
            yield x


def windows(source, size):
    buf = []
    for x in source:
        buf.append(x)
        if len(buf) == size:
            yield tuple(buf)
            buf.pop(0)


def flatten(items):
    for item in items:
        yield from item


def averager():
    total = count = 0
    avg = None
    while True:
        value = yield avg
        total += value
        count += 1
        avg = total / count


def work(scale):
    n = int(scale * 1000000)
    total = sum(w[0] + w[-1] for w in windows(evens(numbers(n)), 3))
    total += sum(flatten((i, i + 1) for i in range(n // 2)))
    avg = averager()
    next(avg)
    last = 0.0                   # scale 0 (bench --cachegrind) sends nothing
    for i in range(n // 2):
        last = avg.send(i)
    return total + int(last)


if __name__ == "__main__":
    from _harness import main

    main(work)
