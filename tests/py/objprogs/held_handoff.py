"""Ints made on one line of a big function (over 128 code units: there
tracetap holds ints back until the thread's next trace event, in case
legacy tracing boxed them) and freed by another thread before the maker's
next trace event (no event between: a C call that sleeps). Each must be
recorded as created, then destroyed. argv[1]: how many (300)."""
import collections
import sys
import threading
import time

box = collections.deque()
done = threading.Event()


def taker():
    while not done.is_set() or box:
        try:
            x = box.popleft()
        except IndexError:
            time.sleep(0.0002)
            continue
        del x


def maker(n):
    a, b, c = 0, 1, 2
    a = a + b * c - 0
    a = a + b * c - 1
    a = a + b * c - 2
    a = a + b * c - 3
    a = a + b * c - 4
    a = a + b * c - 5
    a = a + b * c - 6
    a = a + b * c - 7
    a = a + b * c - 8
    a = a + b * c - 9
    a = a + b * c - 10
    a = a + b * c - 11
    a = a + b * c - 12
    a = a + b * c - 13
    a = a + b * c - 14
    a = a + b * c - 15
    a = a + b * c - 16
    a = a + b * c - 17
    a = a + b * c - 18
    a = a + b * c - 19
    a = a + b * c - 20
    a = a + b * c - 21
    a = a + b * c - 22
    a = a + b * c - 23
    a = a + b * c - 24
    a = a + b * c - 25
    a = a + b * c - 26
    a = a + b * c - 27
    a = a + b * c - 28
    a = a + b * c - 29
    a = a + b * c - 30
    a = a + b * c - 31
    a = a + b * c - 32
    a = a + b * c - 33
    a = a + b * c - 34
    a = a + b * c - 35
    a = a + b * c - 36
    a = a + b * c - 37
    a = a + b * c - 38
    a = a + b * c - 39
    for i in range(n):
        box.append(i + 100000); time.sleep(0.0005)   # HANDOFF-INT
    return a


t = threading.Thread(target=taker)
t.start()
maker(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
done.set()
t.join()
del t
