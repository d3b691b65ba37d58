"""Threads: started before the main work (running beside it), started after
it, a Thread subclass overriding run(), a thread that starts its own thread,
threading.local, and a thread that dies of an uncaught exception.

Every thread's own event order is fixed; only the interleaving varies.

scenario-exit: 0
scenario-threads: 8
"""
import threading

lock = threading.Lock()
results = {}
local = threading.local()


def step(i):
    return i * i % 7


def crunch(name, n):
    total = 0
    for i in range(n):
        total += step(i)
    with lock:
        results[name] = total
    return total


class Worker(threading.Thread):
    def __init__(self, n):
        super().__init__(name="worker-%d" % n)
        self.n = n

    def run(self):
        crunch(self.name, self.n)


def remember(value):
    local.value = value
    return describe_local()


def describe_local():
    with lock:
        results["local"] = getattr(local, "value", None)
    return local.value


def parent():
    child = threading.Thread(target=crunch, args=("child", 5))
    child.start()
    child.join()
    crunch("parent", 3)


def doomed():
    raise RuntimeError("this thread fails on purpose")


def main():
    early = [threading.Thread(target=crunch, args=("early%d" % i, 40)) for i in range(2)]
    for t in early:
        t.start()
    crunch("main", 100)                  # main work, beside the early threads
    for t in early:
        t.join()

    late = [Worker(20), threading.Thread(target=remember, args=(42,)),
            threading.Thread(target=parent)]
    for t in late:
        t.start()
    for t in late:
        t.join()

    bad = threading.Thread(target=doomed)
    bad.start()
    bad.join()

    print(sorted(results.items()))
    print(getattr(local, "value", "main has no local value"))


main()
