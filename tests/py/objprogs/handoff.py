"""Objects created in a worker thread and freed in the main thread, and
the other way round, through queues. Nothing survives. argv[1]: how many
each way (2000)."""
import queue
import sys
import threading


class Parcel:
    __slots__ = ("n",)

    def __init__(self, n):
        self.n = n


def worker(q_out, q_in, n):
    for i in range(n):
        q_out.put(Parcel(i))                           # HANDOFF-WORKER
    for _ in range(n):
        p = q_in.get()
        del p


def run(n=2000):
    to_main, to_worker = queue.Queue(), queue.Queue()
    t = threading.Thread(target=worker, args=(to_main, to_worker, n))
    t.start()
    for i in range(n):
        to_worker.put(Parcel(-i))                      # HANDOFF-MAIN
    got = 0
    for _ in range(n):
        p = to_main.get()
        got += 1
        del p
    t.join()
    return got


run(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
del run, worker
