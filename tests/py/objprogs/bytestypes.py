"""Planted objects of known types for --bytes per type
(test_objbytes_types.py): bytearrays, a list grown by appends, empty dicts,
instances of a class without and with __slots__. Each line makes one kind
(its tag ends the line); argv[1], if given, gets sys.getsizeof of each
kind as JSON; argv[2], if given, is a signal the program then sends
itself after a pause (a periodic flush passes meanwhile)."""

import json
import os
import signal
import sys
import time

N = 3000
N_BA = 3
N_APPEND = 200_000


class Plain:
    def __init__(self):
        self.a = None
        self.b = None


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self):
        self.a = None
        self.b = None


def main():
    ba = [bytearray(1_000_000) for _ in range(N_BA)]  # BYTEARRAY
    grown = []
    for _ in range(N_APPEND):
        grown.append(None)  # APPEND
    ds = [{} for _ in range(N)]  # DICTS
    ps = [Plain() for _ in range(N)]  # PLAIN
    ss = [Slotted() for _ in range(N)]  # SLOTTED
    return {"ba": ba, "grown": grown, "ds": ds, "ps": ps, "ss": ss}


keep = main()
if len(sys.argv) > 1:
    empty = sys.getsizeof([])
    with open(sys.argv[1], "w") as f:
        json.dump({
            "bytearray": sys.getsizeof(bytearray()),
            "dict": sys.getsizeof({}),
            "slotted": sys.getsizeof(keep["ss"][0]),
            "grown_items": sys.getsizeof(keep["grown"]) - empty,
            "list_items": {k: sys.getsizeof(keep[k]) - empty
                           for k in ("ba", "ds", "ps", "ss")},
        }, f)
if len(sys.argv) > 2:
    time.sleep(1.5)
    os.kill(os.getpid(), getattr(signal, sys.argv[2]))
    time.sleep(10)
