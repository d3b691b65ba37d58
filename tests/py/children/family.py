"""A program that starts Python children every way tracetap follows, for
tests/py/test_children.py. Each child runs work(n) and reports its pid and
parent pid; the parent writes them, with its own, to the JSON file
argv[1]. argv[2:] name the ways to use (default: all)."""
import json
import multiprocessing as mp
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor


def work(n):
    total = 0
    for i in range(n):
        if i % 3 == 0:
            total += i
        else:
            total -= 1
    return total, os.getpid(), os.getppid()


def pool(method, n):
    ctx = mp.get_context(method)
    p = ctx.Pool(1)
    try:
        return p.apply(work, (n,))
    finally:
        p.close()
        p.join()


def executor(n):
    """The default start method: fork up to 3.13, forkserver on 3.14."""
    with ProcessPoolExecutor(1) as ex:
        return ex.submit(work, n).result()


def subproc(n):
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([sys.executable, os.path.join(here, "child.py"), str(n)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def forked(n):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.write(w, json.dumps(work(n)).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 4096):
        data += chunk
    os.waitpid(pid, 0)
    return json.loads(data)


WAYS = {
    "spawn": lambda: pool("spawn", 5),
    "fork": lambda: pool("fork", 6),
    "forkserver": lambda: pool("forkserver", 7),
    "executor": lambda: executor(8),
    "subprocess": lambda: subproc(9),
    "os.fork": lambda: forked(10),
}
ARGS = {"spawn": 5, "fork": 6, "forkserver": 7, "executor": 8,
        "subprocess": 9, "os.fork": 10}


def main():
    ways = sys.argv[2:] or list(WAYS)
    report = {"root": os.getpid(), "children": {},
              "default_method": mp.get_context().get_start_method()}
    for way in ways:
        total, pid, ppid = WAYS[way]()
        report["children"][way] = {"pid": pid, "ppid": ppid, "total": total}
    with open(sys.argv[1], "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main()
