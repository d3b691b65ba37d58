"""Planted allocations of known sizes for the --bytes tests (line numbers
are part of the test: test_objbytes.py names them)."""
keep = []


def helper(n):
    return bytearray(n)                      # HELPER


def caller_a():
    return helper(100_000)                   # CALLER_A


def caller_b():
    return helper(300_000)                   # CALLER_B


def grow():
    lst = []
    for i in range(50_000):
        lst.append(i)                        # APPEND
    return lst


def dicts():
    return {i: None for i in range(20_000)}  # DICT


def peak():
    big = bytearray(5_000_000)               # PEAK
    del big


keep.append(caller_a())
keep.append(caller_b())
keep.append(grow())
keep.append(dicts())
peak()
