#!/usr/bin/env python3
"""The cost of one context switch (tracetap.context) in --count and full
mode, by how many code objects ran since the previous switch: N functions
of 3 lines each are called once, then a context is set, 2000 times; the
calls of tracetap.context() alone are timed (the counts of the context
that ends are written within it). Prints the median microseconds per
switch of the best of 5 runs. See bench/README.md, "pytest --tracetap".
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import tracetap


def main() -> int:
    tmp = tempfile.mkdtemp()
    src = "".join(f"def f{i}(x):\n    y = x + 1\n    return y\n\n"
                  for i in range(500))
    src += "FUNCS = [" + ", ".join(f"f{i}" for i in range(500)) + "]\n"
    with open(os.path.join(tmp, "bench_many.py"), "w") as f:
        f.write(src)
    sys.path.insert(0, tmp)
    import bench_many

    def once(n: int, count: bool) -> float:
        rec = tracetap.record(os.path.join(tmp, "o.ttrace"), count=count)
        rec.start()
        fs = bench_many.FUNCS[:n]
        names = [f"t{k}" for k in range(2000)]
        spent = []
        clock, context = time.perf_counter, tracetap.context
        for name in names:
            for fn in fs:
                fn(1)
            t0 = clock()
            context(name)
            spent.append(clock() - t0)
        rec.stop()
        spent.sort()
        return spent[len(spent) // 2] * 1e6

    print("codes run between switches -> us per switch (median; best of 5)")
    for count in (True, False):
        for n in (0, 10, 100, 500):
            best = min(once(n, count) for _ in range(5))
            print(f"  {'--count' if count else 'full   '} {n:4d}: {best:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
