"""Volume: a few hundred thousand events in three threads, enough to fill
many of tracetap's per-thread event chunks and to interleave the threads'
chunks in the file. No opcode run: it would be millions of events.

scenario-exit: 0
scenario-threads: 3
scenario-opcodes: no
"""
import threading

N = 12000


def step(i):
    if i % 3:
        return i
    return -i


def spin(n, out, slot):
    total = 0
    for i in range(n):
        total += step(i)
    out[slot] = total


def main():
    out = [0, 0, 0]
    workers = [threading.Thread(target=spin, args=(N, out, k)) for k in (1, 2)]
    for t in workers:
        t.start()
    spin(N, out, 0)
    for t in workers:
        t.join()
    print(out)


main()
