"""Exceptions: raised a few frames deep and caught, re-raised, chained,
with finally blocks; every raise is exception events in each frame."""


class Invalid(ValueError):
    pass


def check(x):
    if x % 3 == 0:
        raise Invalid(x)
    return x


def middle(x):
    try:
        return check(x)
    finally:
        x += 1


def outer(x):
    try:
        return middle(x)
    except Invalid as exc:
        if x % 9 == 0:
            raise KeyError(x) from exc
        return -1


def lookup(table, key):
    try:
        return table[key]
    except KeyError:
        return None


def work(scale):
    total = 0
    table = {i: i for i in range(0, 1000, 2)}
    for i in range(int(scale * 500000)):
        try:
            total += outer(i)
        except KeyError:
            total += 2
        v = lookup(table, i % 1000)
        if v is not None:
            total += v
    return total


if __name__ == "__main__":
    from _harness import main

    main(work)
