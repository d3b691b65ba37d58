#!/usr/bin/env python3
"""Measure what tracing costs: each workload untraced, under the overhead
floor, under each tracetap mode and under peer tools, in fresh processes.

Every run is a new process. Rounds interleave the modes (their order rotates
from round to round), so a slow spell of a shared machine hits all modes
alike. The table shows medians as ratios: to untraced, and to the floor (an
empty C trace function: what CPython itself charges to deliver the events).

Times are the workload's own body, timed inside the process; the wall time
of the whole process (start-up, the tool's final write) is in --json.
Modes whose tool is not installed, or whose tracetap flag is not available
yet, are skipped with a note. See bench/README.md.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import cachegrind

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD_DIR = os.path.join(HERE, "workloads")
TIMING_ENV = "TRACETAP_BENCH_TIMING"

# A runner for modes that must install something before the script starts:
# it then runs the script as `python SCRIPT ARGS` would.
_RUNNER = r"""
import os, runpy, sys
sys.argv[:] = sys.argv[1:]
sys.path[0] = os.path.dirname(os.path.realpath(sys.argv[0]))
%s
runpy.run_path(sys.argv[0], run_name="__main__")
"""

_PROBE_SCRIPT = "def f(x):\n    return x + 1\n\nprint(sum(f(i) for i in range(10)))\n"


@dataclass
class Mode:
    name: str
    help: str
    # argv after the interpreter, given (script, args, tmpdir)
    argv: object
    env: dict = field(default_factory=dict)
    probe_code: str | None = None     # python -c CODE must succeed
    probe_run: bool = False           # also run the mode on a tiny script
    opt_in: str | None = None         # why it runs only when asked for by name


def _tracetap(*flags):
    return lambda script, args, tmp: ["-m", "tracetap", "run", "-o",
                                      os.path.join(tmp, "bench.ttrace"), *flags,
                                      script, *args]


def _coverage_sysmon(name, desc, *flags):
    """coverage run [FLAGS] with its sys.monitoring core."""
    return Mode(name, desc,
                lambda s, a, t: ["-m", "coverage", "run", *flags, "--data-file",
                                 os.path.join(t, ".coverage"), s, *a],
                env={"COVERAGE_CORE": "sysmon"},
                probe_code="import sys, coverage; assert hasattr(sys, "
                           "'monitoring'), 'sys.monitoring needs 3.12+'")


def _runner(setup):
    return lambda script, args, tmp: ["-c", _RUNNER % setup, script, *args]


def _stdlib_dirs_arg(python):
    code = ("import sysconfig; p = sysconfig.get_paths(); "
            "print(os.pathsep.join(sorted({p['stdlib'], p['platstdlib']})))")
    out = subprocess.run([python, "-c", "import os; " + code], capture_output=True,
                         text=True, timeout=60)
    return out.stdout.strip()


# The events legacy tracing (PyEval_SetTrace) subscribes to on 3.12+, each
# delivered to an empty C callback (forward jumps switched off where they
# are, as legacy tracing does): what a sys.monitoring backend would pay
# CPython for the same events (DESIGN.md section 7).
_MONITORING_FLOOR = (
    "import sys; from tracetap import _floor; m = sys.monitoring; E = m.events; "
    "m.use_tool_id(5, 'floor'); "
    "evs = (E.PY_START, E.PY_RESUME, E.PY_RETURN, E.PY_YIELD, E.RAISE, E.LINE, "
    "E.PY_UNWIND, E.PY_THROW, E.STOP_ITERATION); "
    "[m.register_callback(5, e, _floor.monitoring_callback) for e in evs]; "
    "m.register_callback(5, E.JUMP, _floor.monitoring_jump); "
    "m.set_events(5, sum(evs) | E.JUMP)")
_MONITORING_PROBE = ("import sys; from tracetap import _floor; "
                     "assert hasattr(sys, 'monitoring'), 'sys.monitoring needs 3.12+'")


def make_modes(python: str) -> list[Mode]:
    stdlib_dirs = _stdlib_dirs_arg(python)
    return [
        Mode("untraced", "the workload alone", lambda s, a, t: [s, *a]),
        Mode("floor", "empty C trace function (PyEval_SetTrace, all threads)",
             _runner("from tracetap import _floor; _floor.set_trace()"),
             probe_code="from tracetap import _floor"),
        Mode("floor-opcodes", "empty C trace function, opcode events on",
             _runner("from tracetap import _floor; _floor.set_trace(opcodes=True)"),
             probe_code="from tracetap import _floor"),
        Mode("floor-monitoring",
             "empty C sys.monitoring callback (3.12+) for the events legacy "
             "tracing uses: the floor of a sys.monitoring backend",
             _runner(_MONITORING_FLOOR), probe_code=_MONITORING_PROBE),
        Mode("floor-monitoring-disable",
             "the least a sys.monitoring coverage tool costs (3.12+): PY_START "
             "and LINE on all code, each reported once and then DISABLEd",
             _runner("import sys; m = sys.monitoring; E = m.events; "
                     "m.use_tool_id(5, 'floor'); off = lambda *a: m.DISABLE; "
                     "m.register_callback(5, E.PY_START, off); "
                     "m.register_callback(5, E.LINE, off); "
                     "m.set_events(5, E.PY_START | E.LINE)"),
             probe_code=_MONITORING_PROBE),
        Mode("floor-monitoring-opcodes",
             "floor-monitoring with INSTRUCTION events on too: the floor of "
             "opcode capture on a sys.monitoring backend",
             _runner(_MONITORING_FLOOR + "; m.register_callback(5, "
                     "E.INSTRUCTION, _floor.monitoring_callback); "
                     "m.set_events(5, m.get_events(5) | E.INSTRUCTION)"),
             probe_code=_MONITORING_PROBE),
        Mode("floor-monitoring+reftracer",
             "floor-monitoring and an empty PyRefTracer together",
             _runner(_MONITORING_FLOOR + "; _floor.set_reftracer()"),
             probe_code=_MONITORING_PROBE + "; assert _floor.HAS_REFTRACER, "
                        "'PyRefTracer needs CPython 3.13+'"),
        Mode("floor-reftracer", "empty PyRefTracer (3.13+), no trace function",
             _runner("from tracetap import _floor; _floor.set_reftracer()"),
             probe_code="from tracetap import _floor; assert _floor.HAS_REFTRACER, "
                        "'PyRefTracer needs CPython 3.13+'"),
        Mode("tracetap", "tracetap run: calls, lines, returns, exceptions to disk",
             _tracetap(), probe_code="import tracetap", probe_run=True),
        Mode("tracetap-opcodes", "tracetap run --opcodes", _tracetap("--opcodes"),
             probe_code="import tracetap", probe_run=True),
        Mode("tracetap-nolines", "tracetap run --no-lines", _tracetap("--no-lines"),
             probe_code="import tracetap", probe_run=True),
        Mode("tracetap-calls-legacy",
             "tracetap run --no-lines --backend legacy (calls only, trace hook)",
             _tracetap("--no-lines", "--backend", "legacy"),
             probe_code="import tracetap", probe_run=True),
        Mode("tracetap-calls-monitoring",
             "tracetap run --no-lines --backend monitoring (calls only, "
             "sys.monitoring callbacks; 3.12+)",
             _tracetap("--no-lines", "--backend", "monitoring"),
             probe_code="import sys, tracetap; assert sys.version_info >= "
                        "(3, 12), 'sys.monitoring needs CPython 3.12+'",
             probe_run=True),
        Mode("tracetap-c-calls-monitoring",
             "tracetap run --no-lines --c-calls --backend monitoring",
             _tracetap("--no-lines", "--c-calls", "--backend", "monitoring"),
             probe_code="import sys, tracetap; assert sys.version_info >= "
                        "(3, 12), 'sys.monitoring needs CPython 3.12+'",
             probe_run=True),
        Mode("tracetap-c-calls", "tracetap run --c-calls (C function calls too)",
             _tracetap("--c-calls"), probe_code="import tracetap",
             probe_run=True),
        Mode("tracetap-count", "tracetap run --count (line counts, no event log)",
             _tracetap("--count"), probe_code="import tracetap", probe_run=True),
        Mode("tracetap-count-branch",
             "tracetap run --count --branch (line and arc counts, no event log)",
             _tracetap("--count", "--branch"), probe_code="import tracetap",
             probe_run=True),
        Mode("tracetap-coverage",
             "tracetap run --coverage (lines hit, sys.monitoring + DISABLE; "
             "3.12+, else --count)",
             _tracetap("--coverage"), probe_code="import tracetap",
             probe_run=True),
        Mode("tracetap-coverage-branch",
             "tracetap run --coverage --branch (lines hit and arcs out of "
             "branches, sys.monitoring + DISABLE; 3.12+, else --count --branch)",
             _tracetap("--coverage", "--branch"), probe_code="import tracetap",
             probe_run=True),
        Mode("tracetap-objects", "tracetap run --objects",
             _tracetap("--objects"), probe_code="import tracetap", probe_run=True),
        Mode("tracetap-objects-nocalls",
             "tracetap run --objects --no-calls (ref tracer only, frame sites)",
             _tracetap("--objects", "--no-calls"), probe_code="import tracetap",
             probe_run=True),
        Mode("tracetap-objects-bytes",
             "tracetap run --objects --bytes (bytes per creation stack, "
             "default depth 8)",
             _tracetap("--objects", "--bytes"), probe_code="import tracetap",
             probe_run=True),
        Mode("tracetap-objects-bytes1",
             "tracetap run --objects --bytes --stack-depth 1",
             _tracetap("--objects", "--bytes", "--stack-depth", "1"),
             probe_code="import tracetap", probe_run=True),
        Mode("tracetap-objects-nocalls-bytes",
             "tracetap run --objects --no-calls --bytes (depth 8)",
             _tracetap("--objects", "--no-calls", "--bytes"),
             probe_code="import tracetap", probe_run=True),
        Mode("tracetap-objects-count",
             "tracetap run --objects --count (aggregates, no event log)",
             _tracetap("--objects", "--count"), probe_code="import tracetap",
             probe_run=True),
        Mode("floor+reftracer",
             "empty C trace function and empty PyRefTracer together: the "
             "floor of --objects with calls",
             _runner("from tracetap import _floor; _floor.set_trace(); "
                     "_floor.set_reftracer()"),
             probe_code="from tracetap import _floor; assert _floor.HAS_REFTRACER, "
                        "'PyRefTracer needs CPython 3.13+'"),
        Mode("coverage", "coverage run (its default core)",
             lambda s, a, t: ["-m", "coverage", "run", "--data-file",
                              os.path.join(t, ".coverage"), s, *a],
             probe_code="import coverage"),
        Mode("coverage-ctrace", "coverage run, COVERAGE_CORE=ctrace",
             lambda s, a, t: ["-m", "coverage", "run", "--data-file",
                              os.path.join(t, ".coverage"), s, *a],
             env={"COVERAGE_CORE": "ctrace"},
             probe_code="from coverage.tracer import CTracer"),
        _coverage_sysmon("coverage-sysmon",
                         "coverage run, COVERAGE_CORE=sysmon (3.12+)"),
        _coverage_sysmon("coverage-sysmon-branch",
                         "coverage run --branch, COVERAGE_CORE=sysmon (3.14+ "
                         "measures branches on sysmon; 3.12/3.13 fall back "
                         "to ctrace)", "--branch"),
        Mode("trace-count", "stdlib trace --count (stdlib dirs ignored)",
             lambda s, a, t: ["-m", "trace", "--count", "--no-report",
                              "--file", os.path.join(t, "counts"),
                              "--ignore-dir", stdlib_dirs, s, *a]),
        Mode("tracemalloc", "python -X tracemalloc=1",
             lambda s, a, t: ["-X", "tracemalloc=1", s, *a]),
        Mode("tracemalloc-8", "python -X tracemalloc=8 (--bytes' default depth)",
             lambda s, a, t: ["-X", "tracemalloc=8", s, *a]),
        Mode("hunter", "hunter.trace(stdlib=False, action=CallPrinter to /dev/null)",
             _runner("import hunter; hunter.trace(stdlib=False, "
                     "action=hunter.CallPrinter(stream=open(os.devnull, 'w')))"),
             probe_code="import hunter",
             opt_in="very slow (several hundred times untraced); name it in "
                    "--modes, or pass --all"),
        Mode("cprofile", "python -m cProfile -o tmp.prof (C functions timed)",
             lambda s, a, t: ["-m", "cProfile", "-o",
                              os.path.join(t, "bench.prof"), s, *a]),
        Mode("viztracer", "viztracer (default settings, JSON to a temp file)",
             lambda s, a, t: ["-m", "viztracer", "--quiet", "-o",
                              os.path.join(t, "viz.json"), s, *a],
             probe_code="import viztracer"),
    ]


def list_workloads() -> list[str]:
    return sorted(f[:-3] for f in os.listdir(WORKLOAD_DIR)
                  if f.endswith(".py") and not f.startswith("_"))


def child_env(extra: dict) -> dict:
    env = dict(os.environ)
    for key in ("COVERAGE_CORE", "COVERAGE_PROCESS_START", "PYTHONTRACEMALLOC",
                "PYTHONHUNTER", "PYTHONPROFILEIMPORTTIME"):
        env.pop(key, None)
    env["SETUPTOOLS_USE_DISTUTILS"] = "stdlib"
    env.update(extra)
    return env


@dataclass
class Outcome:
    work: float | None = None     # seconds inside the workload body
    wall: float | None = None     # seconds of the whole process
    result: str | None = None     # the workload's result, for a sanity check
    error: str | None = None


def run_once(python, mode: Mode, workload: str, scale: float, timeout: float) -> Outcome:
    script = os.path.join(WORKLOAD_DIR, workload + ".py")
    tmp = tempfile.mkdtemp(prefix="ttbench-")
    timing = os.path.join(tmp, "timing")
    try:
        cmd = [python, *mode.argv(script, [repr(scale)], tmp)]
        env = child_env(dict(mode.env, **{TIMING_ENV: timing}))
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, timeout=timeout)
        except subprocess.TimeoutExpired:
            return Outcome(error="timeout (>%gs)" % timeout)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:]
            return Outcome(wall=wall, error="exit %d: %s" % (
                proc.returncode, tail[0] if tail else ""))
        try:
            with open(timing) as f:
                work, result = f.read().split(None, 1)
        except (OSError, ValueError):
            return Outcome(wall=wall, error="the workload wrote no timing")
        return Outcome(float(work), wall, result.strip())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_cachegrind(python, mode: Mode, workload: str, scale: float,
                   timeout: float) -> Outcome:
    """One (workload, mode) under cachegrind: `work` is the estimated cycles
    of the body, the run at `scale` minus the run at scale 0."""
    script = os.path.join(WORKLOAD_DIR, workload + ".py")
    tmp = tempfile.mkdtemp(prefix="ttbench-")
    timing = os.path.join(tmp, "timing")
    try:
        env = child_env(dict(mode.env, **{TIMING_ENV: timing}))
        est = {}
        for s in (scale, 0.0):
            cmd = [python, *mode.argv(script, [repr(s)], tmp)]
            est[s], err = cachegrind.run_estimate(cmd, tmp, env, timeout)
            if err:
                return Outcome(error=err)
            if s == scale:
                try:
                    with open(timing) as f:
                        result = f.read().split(None, 1)[1].strip()
                except (OSError, ValueError, IndexError):
                    return Outcome(error="the workload wrote no timing")
        return Outcome(max(est[scale] - est[0.0], 1.0), None, result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _why(stderr: str) -> str:
    """The most telling line of a failed probe's stderr."""
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    for ln in lines:
        if "error" in ln.lower() and not ln.startswith("Traceback"):
            return ln
    return lines[-1] if lines else "failed"


def probe(python, mode: Mode, timeout=120) -> str | None:
    """None if the mode can run here, else why not (one line)."""
    if mode.probe_code:
        p = subprocess.run([python, "-c", mode.probe_code], capture_output=True,
                           text=True, timeout=timeout, env=child_env({}))
        if p.returncode != 0:
            return "not available: " + _why(p.stderr)
    if mode.probe_run:
        tmp = tempfile.mkdtemp(prefix="ttbench-probe-")
        try:
            script = os.path.join(tmp, "probe.py")
            with open(script, "w") as f:
                f.write(_PROBE_SCRIPT)
            p = subprocess.run([python, *mode.argv(script, [], tmp)], cwd=tmp,
                               capture_output=True, text=True, timeout=timeout,
                               env=child_env(mode.env))
            if p.returncode != 0:
                return "not available: " + _why(p.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return None


def interpreter_info(python) -> dict:
    code = ("import json, platform, sys; print(json.dumps({'version': "
            "platform.python_version(), 'implementation': "
            "platform.python_implementation(), 'executable': sys.executable}))")
    p = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise SystemExit("bench: cannot run %s: %s" % (python, p.stderr.strip()))
    return json.loads(p.stdout)


# ---------------------------------------------------------------- report

def geomean(values):
    values = [v for v in values if v and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def summarize(raw, workloads, modes, stat="median"):
    """raw[workload][mode] -> list of Outcome. Returns the JSON-ready dict;
    ratios are of `stat` ("median" or "min") of each cell's times."""
    results = {}
    for w in workloads:
        per = {}
        for m in modes:
            outs = raw[w][m]
            ok = [o for o in outs if o.error is None]
            errors = sorted({o.error for o in outs if o.error})
            per[m] = {
                "work": [o.work for o in ok],
                "wall": [o.wall for o in ok],
                "median": statistics.median([o.work for o in ok]) if ok else None,
                "median_wall": statistics.median([o.wall for o in ok]) if ok else None,
                "min": min(o.work for o in ok) if ok else None,
                "errors": errors,
            }
        base = per.get("untraced", {}).get(stat)
        floor = per.get("floor", {}).get(stat)
        expected = {o.result for o in raw[w].get("untraced", []) if o.error is None}
        for m in modes:
            med = per[m][stat]
            per[m]["ratio_untraced"] = med / base if med and base else None
            per[m]["ratio_floor"] = med / floor if med and floor else None
            got = {o.result for o in raw[w][m] if o.error is None}
            if expected and got and got != expected:
                per[m]["errors"].append("different result: %s vs untraced %s"
                                        % (sorted(got), sorted(expected)))
        results[w] = per
    return results


def _cell(v, width, fmt="%.2f"):
    return (fmt % v if v is not None else "-").rjust(width)


def format_table(info, args, workloads, modes, results, skipped) -> str:
    lines = []
    lines.append("tracetap bench: %s %s (%s), %d round(s), scale %g, %s CPU(s), %s"
                 % (info["implementation"], info["version"], info["executable"],
                    args.rounds, args.scale, os.cpu_count(), platform.machine()))
    if args.cachegrind:
        lines.append("estimated cycles of the workload body under cachegrind "
                     "(deterministic; see bench/cachegrind.py)")
    else:
        lines.append("%s time of the workload body; ratios of %ss"
                     % (args.stat, args.stat))
    width = max(12, max((len(w) for w in workloads), default=0) + 1)
    name_w = max(18, max((len(m) for m in modes), default=0) + 2)
    header = ("mode".ljust(name_w) + "".join(w.rjust(width) for w in workloads)
              + "geomean".rjust(width))
    for title, key in (("ratio to untraced", "ratio_untraced"),
                       ("ratio to the floor (empty C trace function)", "ratio_floor")):
        lines.append("")
        lines.append(title)
        lines.append(header)
        for m in modes:
            vals = [results[w][m][key] for w in workloads]
            row = m.ljust(name_w) + "".join(_cell(v, width) for v in vals)
            row += _cell(geomean(vals) if all(v is not None for v in vals) else None, width)
            lines.append(row)
    lines.append("")
    if args.cachegrind:
        lines.append("untraced (Gcycles)".ljust(name_w) + "".join(
            _cell((results[w].get("untraced", {}).get(args.stat) or 0) / 1e9,
                  width, "%.3f") for w in workloads))
    else:
        lines.append(("untraced %s (s)" % args.stat).ljust(name_w) + "".join(
            _cell(results[w].get("untraced", {}).get(args.stat), width, "%.3f")
            for w in workloads))
    notes = []
    for m, why in skipped.items():
        notes.append("  %-18s skipped: %s" % (m, why))
    for w in workloads:
        for m in modes:
            for e in results[w][m]["errors"]:
                notes.append("  %-18s %s: %s" % (m, w, e))
    if notes:
        lines.append("")
        lines.append("notes")
        lines.extend(notes)
    return "\n".join(lines)


# ---------------------------------------------------------------- main

def _select(names, available, what, opt_in=()):
    """Names matching the comma-separated globs in `names` (all if empty).
    Names in `opt_in` are chosen only when spelled out exactly."""
    if not names:
        return [n for n in available if n not in opt_in]
    chosen = []
    for pat in names.split(","):
        pat = pat.strip()
        hits = [n for n in available if n == pat or
                (n not in opt_in and fnmatch.fnmatchcase(n, pat))]
        if not hits:
            raise SystemExit("bench: unknown %s %r (choose from: %s)"
                             % (what, pat, ", ".join(available)))
        chosen += [h for h in hits if h not in chosen]
    return chosen


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  python bench/run.py --quick\n"
               "  python bench/run.py --modes 'untraced,floor,tracetap*' --rounds 7\n"
               "  python bench/run.py --python /path/to/venv-3.14/bin/python "
               "--workloads call_heavy --json\n"
               "  python bench/run.py --list\n"
               "  python bench/run.py --cachegrind --workloads alloc_heavy "
               "--modes 'untraced,floor*,tracetap-objects*'")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter that runs the workloads and tools "
                         "(default: this one, %(default)s)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="runs of each (workload, mode); the median is kept "
                         "(default 5, or 2 with --quick)")
    ap.add_argument("--stat", choices=("median", "min"), default="median",
                    help="what summarises a cell's rounds (default median). "
                         "min is the steadier on a shared machine: noise "
                         "from other tenants only ever adds time")
    ap.add_argument("--workloads", metavar="W1,W2",
                    help="comma-separated workload names or globs (default: all)")
    ap.add_argument("--modes", metavar="M1,M2",
                    help="comma-separated mode names or globs (default: all but "
                         "the opt-in ones; untraced and floor are always added, "
                         "for the ratios)")
    ap.add_argument("--all", action="store_true",
                    help="also run the opt-in modes (hunter)")
    ap.add_argument("--scale", type=float, default=None,
                    help="multiply every workload's size (default 1.0, which "
                         "runs ~0.3-1 s untraced; 0.25 with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="a fast smoke run: 2 rounds at scale 0.25")
    ap.add_argument("--timeout", type=float, default=300,
                    help="seconds before one run is abandoned; the mode is then "
                         "dropped for that workload (default %(default)s)")
    ap.add_argument("--cachegrind", action="store_true",
                    help="instead of timing, estimate each run's cycles under "
                         "valgrind's cachegrind (deterministic, about 50x "
                         "slower: one round, default scale 0.2); for tuning "
                         "a hot path on a noisy machine")
    ap.add_argument("--json", action="store_true",
                    help="print the results as JSON instead of the table")
    ap.add_argument("--save", metavar="FILE",
                    help="also write the JSON results to FILE")
    ap.add_argument("--list", action="store_true",
                    help="list workloads and modes (with availability) and exit")
    ap.add_argument("-q", "--quiet", action="store_true",
                    help="no progress lines on stderr")
    args = ap.parse_args(argv)
    if args.cachegrind:
        why = cachegrind.available()
        if why:
            ap.error("--cachegrind: " + why)
        if args.rounds not in (None, 1):
            ap.error("--cachegrind is deterministic: one round (drop --rounds)")
        args.rounds = 1
        if args.scale is None:
            args.scale = 0.05 if args.quick else 0.2
    if args.rounds is None:
        args.rounds = 2 if args.quick else 5
    if args.scale is None:
        args.scale = 0.25 if args.quick else 1.0
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    info = interpreter_info(args.python)
    all_modes = make_modes(args.python)
    by_name = {m.name: m for m in all_modes}
    workloads = _select(args.workloads, list_workloads(), "workload")
    opt_in = () if args.all else {m.name for m in all_modes if m.opt_in}
    names = _select(args.modes, list(by_name), "mode", opt_in)
    for required in ("floor", "untraced"):
        if required not in names:
            names.insert(0, required)
    names.sort(key=list(by_name).index)

    skipped = {m.name: "opt-in: " + m.opt_in for m in all_modes
               if m.opt_in and m.name not in names}
    for n in names:
        why = probe(args.python, by_name[n])
        if why:
            skipped[n] = why
    if args.list:
        print("workloads: " + ", ".join(list_workloads()))
        print("modes:")
        for m in all_modes:
            why = skipped.get(m.name)
            print("  %-18s %s%s" % (m.name, m.help, "  [%s]" % why if why else ""))
        return 0
    modes = [n for n in names if n not in skipped]
    if "untraced" not in modes:
        raise SystemExit("bench: the untraced mode cannot run: %s" % skipped["untraced"])

    raw = {w: {m: [] for m in modes} for w in workloads}
    dropped = set()                     # (workload, mode) that timed out
    total = args.rounds * len(workloads) * len(modes)
    done = 0
    for r in range(args.rounds):
        for w in workloads:
            k = r % len(modes)
            for m in modes[k:] + modes[:k]:          # rotate the order each round
                done += 1
                if (w, m) in dropped:
                    continue
                run = run_cachegrind if args.cachegrind else run_once
                out = run(args.python, by_name[m], w, args.scale, args.timeout)
                raw[w][m].append(out)
                if out.error and out.error.startswith("timeout"):
                    dropped.add((w, m))
                if not args.quiet:
                    if out.error:
                        state = out.error
                    elif args.cachegrind:
                        state = "%.1f Mcycles (estimated)" % (out.work / 1e6)
                    else:
                        state = "%.3fs (wall %.3fs)" % (out.work, out.wall)
                    print("[%d/%d] round %d  %-14s %-18s %s"
                          % (done, total, r + 1, w, m, state), file=sys.stderr, flush=True)

    results = summarize(raw, workloads, modes, args.stat)
    doc = {"python": info, "rounds": args.rounds, "scale": args.scale, "stat": args.stat,
           "measure": "cachegrind-estimated-cycles" if args.cachegrind else "seconds",
           "cpus": os.cpu_count(), "machine": platform.machine(),
           "modes": {m: by_name[m].help for m in modes},
           "skipped": skipped, "results": results}
    if args.save:
        with open(args.save, "w") as f:
            json.dump(doc, f, indent=1)
    if args.json:
        print(json.dumps(doc, indent=1))
    else:
        print(format_table(info, args, workloads, modes, results, skipped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
