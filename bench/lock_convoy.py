#!/usr/bin/env python3
"""Lock contention under tracing: runs contention/tee_consumers.py (100
threads on one lock, as more-itertools' concurrent_tee test) several times
untraced and under each chosen mode of bench/run.py, and reports per mode
the median and worst time of the workload body, the ratio of the median to
untraced, and the median voluntary context switches and system time of the
process (from wait4's rusage): a convoy shows as thousands of times more
voluntary switches and seconds of system time. Wall-clock by nature
(cachegrind runs one thread at a time and sees no convoy); --busy N adds N
busy-looping processes for the length of the run, the "busy machine" of a
CI runner. See bench/README.md, "Lock contention".
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as bench  # noqa: E402  (bench/run.py: the modes and their probes)

WORKLOAD = os.path.join(HERE, "contention", "tee_consumers.py")
DEFAULT_MODES = "untraced,floor,tracetap-count,tracetap,coverage-ctrace,coverage"


def run_round(python: str, mode: bench.Mode, scale: float, timeout: float) -> dict:
    """One run: body seconds, voluntary switches, system seconds, or error."""
    tmp = tempfile.mkdtemp(prefix="ttconvoy-")
    timing = os.path.join(tmp, "timing")
    try:
        cmd = [python, *mode.argv(WORKLOAD, [repr(scale)], tmp)]
        env = bench.child_env(dict(mode.env, **{bench.TIMING_ENV: timing}))
        proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                return {"error": "timeout (>%gs)" % timeout}
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
        if proc.returncode != 0:
            return {"error": "exit %d: %s" % (proc.returncode, err.splitlines()[-1:])}
        with open(timing) as f:
            work = float(f.read().split()[0])
        return {"work": work, "nvcsw": usage.ru_nvcsw, "stime": usage.ru_stime}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def busy_loops(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(n)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="bench/lock_convoy.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  python bench/lock_convoy.py --rounds 5 --busy 2 "
               "--modes 'untraced,tracetap-count,coverage*'")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter that runs the workload and the tools "
                         "(default: this one)")
    ap.add_argument("--modes", default=DEFAULT_MODES, metavar="M1,M2",
                    help="modes of bench/run.py, names or globs (default: "
                         "%(default)s; untraced is always added)")
    ap.add_argument("--rounds", type=int, default=5,
                    help="runs per mode, interleaved (default %(default)s)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="1.0 is 100,000 items (about 1-3 s untraced)")
    ap.add_argument("--busy", type=int, default=0, metavar="N",
                    help="busy-looping processes beside the runs (default 0)")
    ap.add_argument("--timeout", type=float, default=300,
                    help="seconds before a run is abandoned (default %(default)s)")
    args = ap.parse_args(argv)
    if args.rounds < 1 or args.scale <= 0 or args.busy < 0:
        ap.error("--rounds must be >= 1, --scale > 0 and --busy >= 0")

    modes = {m.name: m for m in bench.make_modes(args.python)}
    names = bench._select(args.modes, list(modes), "mode")
    if "untraced" not in names:
        names.insert(0, "untraced")
    chosen = []
    for name in names:
        why = bench.probe(args.python, modes[name])
        if why:
            print(f"{name}: skipped ({why})", file=sys.stderr)
        else:
            chosen.append(modes[name])

    loops = busy_loops(args.busy)
    results: dict[str, list[dict]] = {m.name: [] for m in chosen}
    try:
        for r in range(args.rounds):
            for m in chosen:
                out = run_round(args.python, m, args.scale, args.timeout)
                results[m.name].append(out)
                print(f"round {r + 1}/{args.rounds} {m.name}: "
                      + (out.get("error") or f"{out['work']:.2f} s, "
                         f"{out['nvcsw']} voluntary switches"),
                      file=sys.stderr, flush=True)
    finally:
        for p in loops:
            p.kill()
            p.wait()

    base = statistics.median(o["work"] for o in results["untraced"] if "work" in o) \
        if any("work" in o for o in results["untraced"]) else None
    print(f"lock contention: {os.path.basename(WORKLOAD)}, scale {args.scale}, "
          f"{args.rounds} rounds, {args.busy} busy loops, {args.python}")
    print(f"{'mode':<24}{'median s':>10}{'worst s':>10}{'x untraced':>12}"
          f"{'vol. switches':>15}{'sys s':>8}")
    for name, outs in results.items():
        ok = [o for o in outs if "work" in o]
        if not ok:
            print(f"{name:<24}  failed: {outs[0]['error']}")
            continue
        med = statistics.median(o["work"] for o in ok)
        ratio = f"{med / base:.2f}" if base else "-"
        print(f"{name:<24}{med:>10.2f}{max(o['work'] for o in ok):>10.2f}{ratio:>12}"
              f"{int(statistics.median(o['nvcsw'] for o in ok)):>15}"
              f"{statistics.median(o['stime'] for o in ok):>8.2f}"
              + (f"  ({len(outs) - len(ok)} failed)" if len(ok) < len(outs) else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
