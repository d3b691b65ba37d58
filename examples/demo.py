"""A small program for `make demo`: calls, a loop, an exception, a thread,
a generator and a few objects, so every part of a recording shows up."""
import argparse
import threading


class Point:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y


def squares(n):
    for i in range(n):
        yield i * i


def parse(text):
    try:
        return int(text)
    except ValueError:
        return None


def worker(results, n):
    results.append(sum(squares(n)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    points = [Point(i, i * 2) for i in range(5)]
    parsed = [parse(t) for t in ("1", "two", "3")]
    results = []
    t = threading.Thread(target=worker, args=(results, 4), name="demo-worker")
    t.start()
    t.join()
    total = 0
    for r in range(args.rounds):
        total += sum(squares(3)) + len(points)
    print(f"parsed={parsed} worker={results} total={total}")


if __name__ == "__main__":
    main()
