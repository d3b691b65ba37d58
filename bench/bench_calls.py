"""Speed and memory of the call and line analyses (`tracetap calls`,
`tracetap lines`).

Records a call-heavy program once (about 2 * N calls, and their lines),
then runs the analysis in fresh processes and reports events/s and the
peak RSS of the analysing process (ru_maxrss, which includes the
interpreter: the baseline of a process that only imports tracetap is
printed beside it).

    python bench/bench_calls.py [--n 1000000] [--repeat 3] [--keep FILE]
                                [--analysis calls|lines]

Target: >= 30 M events/s. Needs tracetap installed in the
running interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

PROGRAM = """
import sys

def leaf(i):
    return i & 7

def mid(i):
    if i % 3:
        return leaf(i)
    return leaf(i) + leaf(i + 1)

def gen(n):
    for i in range(n):
        yield i

def main(n):
    t = 0
    for i in range(n):
        t += mid(i)
    for x in gen(n // 10):
        t += x
    return t

main(int(sys.argv[1]))
"""

ANALYSE = """
import json, resource, sys, time
from tracetap import _tracetap
t0 = time.perf_counter()
r = getattr(_tracetap, sys.argv[2])(sys.argv[1])
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "events": r["summary"]["events"],
                  "nodes": len(r["nodes"] if "nodes" in r else r["rows"]),
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

BASE = """
import json, resource
from tracetap import _tracetap
print(json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000,
                    help="loop iterations of the recorded program")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", metavar="FILE", help="keep the recording here")
    ap.add_argument("--analysis", choices=("calls", "lines"), default="calls",
                    help="calls: the call tree; lines: per-line time")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        prog = os.path.join(tmp, "callheavy.py")
        with open(prog, "w") as fp:
            fp.write(textwrap.dedent(PROGRAM))
        rec = a.keep or os.path.join(tmp, "callheavy.ttrace")
        subprocess.run([sys.executable, "-m", "tracetap", "run", "-o", rec,
                        prog, str(a.n)], check=True, capture_output=True)
        size = os.path.getsize(rec)
        base = json.loads(subprocess.run([sys.executable, "-c", BASE],
                                         check=True, capture_output=True,
                                         text=True).stdout)
        runs = []
        for _ in range(a.repeat):
            out = subprocess.run([sys.executable, "-c", ANALYSE, rec,
                                  a.analysis],
                                 check=True, capture_output=True, text=True)
            runs.append(json.loads(out.stdout))
        best = min(runs, key=lambda r: r["seconds"])
        what = "call-tree nodes" if a.analysis == "calls" else "line rows"
        print(f"recording: {size / 1e6:.1f} MB, {best['events']:,} events, "
              f"{best['nodes']} {what}")
        print(f"{a.analysis} analysis: best of {a.repeat}: {best['seconds']:.3f} s = "
              f"{best['events'] / best['seconds'] / 1e6:.1f} M events/s")
        print(f"peak RSS: {best['maxrss_kb'] / 1024:.1f} MiB "
              f"(import-only baseline {base['maxrss_kb'] / 1024:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
