#!/usr/bin/env python3
"""A real test suite under tracetap: more-itertools' own tests, from its
PyPI source distribution (pinned), run plain, under coverage.py (its
default core), under `tracetap run --count -m pytest` and under
`pytest --tracetap` (count and full), each in a fresh process.

The sdist is downloaded once with pip into the cache (TRACETAP_CACHE,
default ~/.cache/tracetap, under bench-src/) and imported from its source
tree, so its package is the program's own code for every tool (not an
installed third-party package). The subset: tests/test_more.py without its
three slowest classes (DiscreteFourierTransformTests, IsliceExtendedTests,
DistinctPermutationsTests: 4 of the suite's 9 s in three tests, which says
little about many small tests), 521 tests.

Rounds interleave the modes (rotating their order), and the table shows
medians of the wall clock and of the CPU time (user + system of the child,
steadier on a shared machine) with their ratios to the plain run.
`make bench-pytest` (VERSIONS='3.13.15 3.14.7') runs it; results in
bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

PACKAGE, VERSION = "more-itertools", "10.5.0"
SUBSET = ["tests/test_more.py", "-k",
          "not DiscreteFourierTransformTests and not IsliceExtendedTests "
          "and not DistinctPermutationsTests"]


def source_tree(cache: str, python: str) -> str:
    """The unpacked sdist (downloaded with pip on first use)."""
    top = os.path.join(cache, "bench-src")
    tree = os.path.join(top, f"{PACKAGE.replace('-', '_')}-{VERSION}")
    alt = os.path.join(top, f"{PACKAGE}-{VERSION}")
    for d in (tree, alt):
        if os.path.isdir(os.path.join(d, "tests")):
            return d
    os.makedirs(top, exist_ok=True)
    subprocess.run([python, "-m", "pip", "download", "-q", "--no-deps",
                    "--no-binary", ":all:", f"{PACKAGE}=={VERSION}", "-d", top],
                   check=True)
    sdist = next(os.path.join(top, f) for f in os.listdir(top)
                 if f.endswith(".tar.gz") and VERSION in f)
    with tarfile.open(sdist) as tf:
        tf.extractall(top, filter="data")
    return next(d for d in (tree, alt) if os.path.isdir(d))


def modes(python: str, out: str) -> dict[str, list[str]]:
    pytest = ["-m", "pytest", "-q", "-p", "no:cacheprovider", *SUBSET]
    return {
        "plain": [python, *pytest],
        "coverage.py": [python, "-m", "coverage", "run",
                        "--data-file=" + out + ".coverage", *pytest],
        "coverage.py sysmon": [python, "-m", "coverage", "run",
                               "--data-file=" + out + ".coverage-sysmon",
                               *pytest],
        "run --count": [python, "-m", "tracetap", "run", "--count", "-o",
                        out + "-run.ttrace", *pytest],
        "run --coverage": [python, "-m", "tracetap", "run", "--coverage", "-o",
                           out + "-runcov.ttrace", *pytest],
        "pytest --tracetap=coverage": [python, *pytest, "--tracetap=coverage",
                                       "--tracetap-output",
                                       out + "-plugincov.ttrace"],
        "pytest --tracetap": [python, *pytest, "--tracetap", "--tracetap-output",
                              out + "-plugin.ttrace"],
        "pytest --tracetap=full": [python, *pytest, "--tracetap=full",
                                   "--tracetap-output", out + "-full.ttrace"],
        # branches: coverage.py's and tracetap's (--tracetap-branch: coverage
        # mode on sys.monitoring, 3.12+; count mode: legacy arcs)
        "coverage.py --branch": [python, "-m", "coverage", "run", "--branch",
                                 "--data-file=" + out + ".coverage-br", *pytest],
        "coverage.py sysmon --branch": [
            python, "-m", "coverage", "run", "--branch",
            "--data-file=" + out + ".coverage-sysmon-br", *pytest],
        "pytest --tracetap --tracetap-branch": [
            python, *pytest, "--tracetap", "--tracetap-branch",
            "--tracetap-output", out + "-pluginbr.ttrace"],
        "pytest --tracetap=count --tracetap-branch": [
            python, *pytest, "--tracetap=count", "--tracetap-branch",
            "--tracetap-output", out + "-plugincntbr.ttrace"],
    }


# Environment per mode (coverage.py's core is chosen by COVERAGE_CORE).
ENV = {"coverage.py sysmon": {"COVERAGE_CORE": "sysmon"},
       "coverage.py sysmon --branch": {"COVERAGE_CORE": "sysmon"}}


def run_once(cmd: list[str], cwd: str, name: str = "") -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=cwd, **ENV.get(name, {}))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n"
                         f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--python", default=sys.executable,
                    help="the interpreter (with pytest, coverage and tracetap)")
    ap.add_argument("--json", metavar="FILE", help="also write the results")
    ap.add_argument("--modes", help="comma-separated subset of the modes "
                    "(plain is always run)")
    ns = ap.parse_args()
    cache = os.environ.get("TRACETAP_CACHE",
                           os.path.expanduser("~/.cache/tracetap"))
    tree = source_tree(cache, ns.python)
    version = subprocess.run([ns.python, "-c", "import platform; print("
                              "platform.python_version())"],
                             capture_output=True, text=True).stdout.strip()
    times: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cmds = modes(ns.python, os.path.join(tmp, "out"))
        if ns.modes:
            keep = {"plain", *ns.modes.split(",")}
            cmds = {k: v for k, v in cmds.items() if k in keep}
        names = list(cmds)
        for r in range(ns.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                times.setdefault(name, []).append(run_once(cmds[name], tree, name))
    base_w = statistics.median(w for w, _ in times["plain"])
    base_c = statistics.median(c for _, c in times["plain"])
    print(f"{PACKAGE} {VERSION}, {' '.join(SUBSET)}; Python {version}, "
          f"median of {ns.rounds} rounds")
    print(f"{'mode':24s} {'wall s':>8s} {'ratio':>6s} {'cpu s':>8s} {'ratio':>6s}")
    res = {}
    for name in names:
        w = statistics.median(x for x, _ in times[name])
        c = statistics.median(x for _, x in times[name])
        res[name] = {"wall": w, "cpu": c, "wall_ratio": w / base_w,
                     "cpu_ratio": c / base_c}
        print(f"{name:24s} {w:8.2f} {w / base_w:6.2f} {c:8.2f} {c / base_c:6.2f}")
    if ns.json:
        with open(ns.json, "w") as f:
            json.dump({"python": version, "package": f"{PACKAGE}=={VERSION}",
                       "subset": SUBSET, "rounds": ns.rounds, "modes": res}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
