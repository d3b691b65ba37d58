"""Peak memory and time of reading a big recording.

Makes (or reuses) a large recording by tracing bench workloads at a large
scale, then measures, each in a fresh process whose peak RSS comes from
wait4(2):

  open + full iteration     tt_bench_reader FILE        (libtt, merged order)
  first 10 events           tt_bench_reader FILE 10     (and `lazy` where
                                                         libtt has TT_READ_LAZY)
  tracetap events --limit 10 / info / coverage / objects FILE  (the CLI)

Run it once per build to compare, e.g. main against this branch:

  python bench/reader_memory.py --make 2.0 --file /work/big.ttrace \\
      --python VENV/bin/python --reader build/c/tests/c/tt_bench_reader

--make GB records FILE first: one `tracetap run --objects` of a driver
that repeats the line_heavy, call_heavy and objects_churn workloads until
the file (flushed as it grows) holds GB gigabytes. Prints one line per
measurement; --json for machine-readable output.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

DRIVER = r"""
import os, sys
sys.path.insert(0, {wl!r})
import line_heavy, objects_churn, call_heavy
target = int({target})
path = {path!r}
while os.path.getsize(path) < target:
    line_heavy.work(2.0)
    call_heavy.work(2.0)
    objects_churn.work(0.5)
"""


def measure(cmd: list[str]) -> dict:
    """Runs cmd, returns wall seconds, peak RSS (MiB) and its output."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    out = p.stdout.read() if p.stdout else ""
    err = p.stderr.read() if p.stderr else ""
    p.returncode = os.waitstatus_to_exitcode(status)
    return {"cmd": " ".join(cmd), "wall_s": round(wall, 2),
            "peak_rss_mib": round(ru.ru_maxrss / 1024, 1),
            "rc": p.returncode, "out": out.strip()[-200:], "err": err.strip()[-300:]}


def make(python: str, path: Path, gb: float) -> None:
    code = DRIVER.format(wl=str(HERE / "workloads"), target=gb * 2**30, path=str(path))
    drv = path.with_suffix(".driver.py")
    drv.write_text(code)
    t0 = time.monotonic()
    subprocess.run([python, "-m", "tracetap", "run", "--objects", "-o", str(path), str(drv)],
                   check=True, stdout=subprocess.DEVNULL)
    print(f"made {path}: {path.stat().st_size / 2**30:.2f} GiB in "
          f"{time.monotonic() - t0:.0f} s", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", required=True, type=Path)
    ap.add_argument("--make", type=float, metavar="GB",
                    help="record FILE first, until it holds GB gigabytes")
    ap.add_argument("--python", default=sys.executable,
                    help="an interpreter with tracetap installed")
    ap.add_argument("--reader", help="tt_bench_reader built against the libtt to measure")
    ap.add_argument("--lazy", action="store_true", help="the reader has TT_READ_LAZY")
    ap.add_argument("--skip", default="", help="comma-separated names to skip")
    ap.add_argument("--label", default="")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    if args.make and not args.file.exists():
        make(args.python, args.file, args.make)
    f = str(args.file)
    runs: list[tuple[str, list[str]]] = []
    if args.reader:
        runs.append(("open+iterate", [args.reader, f]))
        runs.append(("first 10", [args.reader, f, "10"]))
        if args.lazy:
            runs.append(("first 10 (lazy)", [args.reader, f, "10", "lazy"]))
    runs.append(("tracetap events 10", [args.python, "-m", "tracetap", "events",
                                         "--limit", "10", f]))
    for sub in ("info", "coverage", "objects"):
        runs.append((f"tracetap {sub}", [args.python, "-m", "tracetap", sub, f]))
    skip = set(filter(None, args.skip.split(",")))
    results = []
    size = args.file.stat().st_size
    for name, cmd in runs:
        if name in skip:
            continue
        r = measure(cmd)
        r["name"] = name
        r["label"] = args.label
        r["file_gib"] = round(size / 2**30, 2)
        results.append(r)
        if not args.json:
            extra = f"  [{r['out'].splitlines()[-1] if r['out'] else r['err'][-80:]}]" \
                if name.startswith(("open", "first")) or r["rc"] else ""
            print(f"{args.label:8} {name:18} {r['wall_s']:8.2f} s  "
                  f"{r['peak_rss_mib']:9.1f} MiB  rc={r['rc']}{extra}", flush=True)
    if args.json:
        json.dump(results, sys.stdout, indent=1)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
