"""bench/run.py --cachegrind: a deterministic cost estimate of one run.

On a shared machine one mode's wall time moves by 10% between identical
runs even as a minimum of several, which hides the changes a hot path is
tuned by. Cachegrind simulates the run instead: the same process always
gives the same counts. Each (workload, mode) is run twice under
`valgrind --tool=cachegrind --cache-sim=yes --branch-sim=yes`, at the
chosen scale and at scale 0 (start-up, imports and the tool's own set-up
and final write, without the workload body); the difference is the body's.

Counts become estimated cycles with the usual weights:

    est = Ir + 10 * (L1 misses) + 100 * (last-level misses)
             + 15 * (mispredicted branches)

It is a model, not the machine (the simulated caches are this host's
sizes, the branch predictor is a simple one): use it for ratios between
modes and between builds, and check a result that matters with wall time.
On 2026-11-30 it put `--objects` at 1.75x both floors on alloc_heavy
(3.13.15, scale 0.2) where wall-clock minima gave 1.74x; it charges the
empty ref tracer less than the machine does (1.02x the trace floor against
1.07x).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

WEIGHTS = {"Ir": 1, "I1mr": 10, "D1mr": 10, "D1mw": 10, "ILmr": 100,
           "DLmr": 100, "DLmw": 100, "Bcm": 15, "Bim": 15}


def available() -> str | None:
    """None if cachegrind can run here, else why not."""
    if shutil.which("valgrind") is None:
        return "valgrind is not installed (Debian: apt-get install valgrind)"
    return None


def estimate(out_file: str) -> float:
    """Estimated cycles from a cachegrind output file's summary line."""
    events = summary = None
    with open(out_file) as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("summary:"):
                summary = [int(v) for v in line.split()[1:]]
    if events is None or summary is None:
        raise ValueError("%s has no events/summary line" % out_file)
    counts = dict(zip(events, summary))
    missing = [k for k in WEIGHTS if k not in counts]
    if missing:
        raise ValueError("cachegrind did not count %s (needs --cache-sim=yes "
                         "--branch-sim=yes)" % ", ".join(missing))
    return float(sum(w * counts[k] for k, w in WEIGHTS.items()))


def run_estimate(cmd: list[str], cwd: str, env: dict, timeout: float):
    """Runs cmd under cachegrind. Returns (estimated cycles, None) or
    (None, why it failed)."""
    fd, out = tempfile.mkstemp(prefix="cachegrind-", dir=cwd)
    os.close(fd)
    try:
        vg = ["valgrind", "--tool=cachegrind", "--cache-sim=yes",
              "--branch-sim=yes", "--cachegrind-out-file=" + out]
        try:
            proc = subprocess.run(vg + cmd, cwd=cwd, env=env,
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, "timeout (>%gs under cachegrind)" % timeout
        if proc.returncode != 0:
            # The program's own last words, not valgrind's summary lines.
            lines = proc.stderr.decode(errors="replace").strip().splitlines()
            tail = [ln for ln in lines if not ln.startswith("==")][-1:]
            return None, "exit %d under cachegrind: %s" % (
                proc.returncode, tail[0] if tail else "")
        keep = os.environ.get("TT_BENCH_CG_KEEP")
        if keep:    # for cg_annotate (bench/README.md): the output and its command
            n = len(os.listdir(keep))
            shutil.copy(out, os.path.join(keep, "cg.%03d" % n))
            with open(os.path.join(keep, "cg.%03d.cmd" % n), "w") as f:
                f.write(" ".join(cmd) + "\n")
        try:
            return estimate(out), None
        except (OSError, ValueError) as e:
            return None, str(e)
    finally:
        try:
            os.unlink(out)
        except OSError:
            pass
