"""Helpers for the coverage tests (test_coverage*.py): running a target under
tracetap (full or --count) and under the stdlib-trace oracle, reading
``tracetap coverage --format json``, and normalising both sides to
``{file: {line: count}}``.

Runs everything in child processes with oracle_support's environment, so
the tests see what a user of the command line sees.
"""

from __future__ import annotations

import json
import os
import sys

import oracle_support as osup

HERE = os.path.dirname(os.path.abspath(__file__))
ORACLE = os.path.join(HERE, "trace_oracle.py")
DTD = os.path.join(HERE, "..", "data", "coverage-04.dtd")

# Small test modules of the interpreter's own test suite, run with
# `-m unittest`; each is traced through --include of its one file.
STDLIB_TESTS = ("test.test_textwrap", "test.test_colorsys")


def tracetap(args, cwd, *, python=None, check=True):
    """`python -m tracetap ARGS` in cwd; the CompletedProcess."""
    proc = osup.run([python or sys.executable, "-m", "tracetap", *args], cwd)
    if check and proc.returncode != 0:
        raise AssertionError("tracetap %s exited %s\nstdout:\n%s\nstderr:\n%s"
                             % (" ".join(args), proc.returncode,
                                proc.stdout[-2000:], proc.stderr[-3000:]))
    return proc


def record(target, cwd, out, *, count=False, include=(), python=None):
    """`tracetap run -o OUT [--count] [--include G]... TARGET...`; returns
    the run's CompletedProcess (the program's own exit status is kept)."""
    flags = ["--count"] if count else []
    for g in include:
        flags += ["--include", g]
    proc = osup.run([python or sys.executable, "-m", "tracetap", "run", "-o",
                     out, *flags, *target], cwd)
    if not os.path.exists(out):
        raise AssertionError("tracetap run wrote no %s (exit %s)\n%s"
                             % (out, proc.returncode, proc.stderr[-3000:]))
    return proc


def coverage_json(paths, cwd, *, python=None, raw=True):
    """`tracetap coverage --format json [--raw-lines] PATHS...`, parsed.
    raw: CPython's executable lines, what stdlib trace counts."""
    proc = tracetap(["coverage", "--format", "json",
                     *(["--raw-lines"] if raw else []), *paths], cwd,
                    python=python)
    return json.loads(proc.stdout)


def counts_of(cov: dict, keep=None) -> dict:
    """{file: {line: count}} from coverage JSON (lines as ints)."""
    out = {}
    for path, data in cov["files"].items():
        if keep is None or keep(path):
            out[path] = {int(k): v for k, v in data["counts"].items()}
    return out


def oracle_counts(target, cwd, out, only, *, python=None) -> dict:
    """{file: {line: count}} as stdlib trace counts the same run."""
    args = [python or sys.executable, ORACLE, "-o", out]
    for g in only:
        args += ["--only", g]
    proc = osup.run(args + list(target), cwd)
    if not os.path.exists(out):
        raise AssertionError("the trace oracle wrote nothing (exit %s)\n%s"
                             % (proc.returncode, proc.stderr[-3000:]))
    with open(out, encoding="utf-8") as f:
        data = json.load(f)
    return {path: {int(k): v for k, v in lines.items()}
            for path, lines in data["counts"].items()}


def diff_counts(expected: dict, actual: dict, limit=12) -> str | None:
    """A readable list of (file, line, expected, actual) mismatches."""
    rows = []
    for path in sorted(set(expected) | set(actual)):
        e, a = expected.get(path, {}), actual.get(path, {})
        for line in sorted(set(e) | set(a)):
            if e.get(line) != a.get(line):
                rows.append("  %s:%d  trace %s, tracetap %s"
                            % (os.path.basename(path), line, e.get(line),
                               a.get(line)))
    if not rows:
        return None
    more = len(rows) - limit
    return "\n".join(rows[:limit]) + ("\n  ... %d more" % more if more > 0 else "")


def missing_ranges(executable, counts) -> str:
    """The Missing column recomputed from the JSON: runs of consecutive
    executable lines that never ran, "12-15, 40"."""
    out, run = [], []
    for line in executable:
        if counts.get(str(line), 0) == 0:
            run.append(line)
            continue
        if run:
            out.append(run)
            run = []
    if run:
        out.append(run)
    return ", ".join(str(r[0]) if len(r) == 1 else "%d-%d" % (r[0], r[-1])
                     for r in out)
