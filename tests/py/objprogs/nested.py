"""Deeply nested lists freed while the C stack is short (a 256 KiB
thread), so that CPython's trashcan defers part of the deallocation: on
3.14.x up to at least 3.14.7 those frees fire no DESTROY (gh-156371).
Plus planted survivors that the stop-time check must still verify."""
import threading

KEEP = []                                               # LEAK-KEEP


def nest(depth):
    lst = []
    for _ in range(depth):
        lst = [lst]                                     # NEST
    holder = [lst]
    del lst
    holder.clear()


def main():
    for _ in range(5):
        nest(5000)
    for i in range(40):
        KEEP.append([i])                                # LEAK-A: 40 list
        KEEP.append((i, i))                             # LEAK-B: 40 tuple


threading.stack_size(256 * 1024)
t = threading.Thread(target=main, name="nest")
t.start()
t.join()
threading.stack_size(0)
del t, main, nest
