"""Speed, size and memory of the timeline exporters (`tracetap export
--format perfetto|chrome`).

Records a call-heavy program once (calls, lines, returns and a generator;
about 10 events per loop iteration), then exports it in fresh processes,
once per format, and reports events/s, the output's size and the peak RSS
of the exporting process (ru_maxrss, which includes the interpreter: the
baseline of a process that only imports tracetap is printed beside it).

    python bench/bench_export.py [--n 5000000] [--repeat 1] [--keep FILE]
                                 [--recording FILE] [--out-dir DIR]

--n 5000000 records about 50 M events. The outputs are written to
--out-dir (a temporary directory by default) and removed afterwards.
Needs tracetap installed in the running interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

# The same call-heavy program as the call analysis's benchmark, and its
# import-only baseline (this directory is sys.path[0] when run as a script).
from bench_calls import BASE, PROGRAM

EXPORT = """
import json, os, resource, sys, time
from tracetap import _tracetap
fd = os.open(sys.argv[3], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
t0 = time.perf_counter()
st = _tracetap.timeline(sys.argv[1], fd, sys.argv[2])
dt = time.perf_counter() - t0
os.close(fd)
print(json.dumps({"seconds": dt, "events": st["events"], "slices": st["slices"],
                  "bytes": os.path.getsize(sys.argv[3]),
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5_000_000,
                    help="loop iterations of the recorded program "
                    "(about 10 events each)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--keep", metavar="FILE", help="keep the recording here")
    ap.add_argument("--recording", metavar="FILE",
                    help="export this recording instead of making one")
    ap.add_argument("--out-dir", metavar="DIR", help="where outputs go")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rec = a.recording
        if rec is None:
            prog = os.path.join(tmp, "callheavy.py")
            with open(prog, "w") as fp:
                fp.write(textwrap.dedent(PROGRAM))
            rec = a.keep or os.path.join(tmp, "callheavy.ttrace")
            subprocess.run([sys.executable, "-m", "tracetap", "run", "-o", rec,
                            prog, str(a.n)], check=True, capture_output=True)
        base = json.loads(subprocess.run([sys.executable, "-c", BASE],
                                         check=True, capture_output=True,
                                         text=True).stdout)
        print(f"recording: {os.path.getsize(rec) / 1e6:.1f} MB")
        print(f"{'format':<10} {'events':>12} {'slices':>12} {'seconds':>8} "
              f"{'M ev/s':>7} {'output MB':>10} {'B/slice':>8} {'RSS MiB':>8}")
        for fmt in ("perfetto", "chrome"):
            out = os.path.join(a.out_dir or tmp, "export." + fmt)
            runs = []
            for _ in range(a.repeat):
                res = subprocess.run([sys.executable, "-c", EXPORT, rec, fmt, out],
                                     check=True, capture_output=True, text=True)
                runs.append(json.loads(res.stdout))
            os.unlink(out)
            b = min(runs, key=lambda r: r["seconds"])
            print(f"{fmt:<10} {b['events']:>12,} {b['slices']:>12,} "
                  f"{b['seconds']:>8.2f} {b['events'] / b['seconds'] / 1e6:>7.1f} "
                  f"{b['bytes'] / 1e6:>10.1f} {b['bytes'] / max(b['slices'], 1):>8.1f} "
                  f"{b['maxrss_kb'] / 1024:>8.1f}")
        print(f"import-only baseline RSS: {base['maxrss_kb'] / 1024:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
