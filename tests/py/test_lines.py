"""tracetap lines: per-line time.

- hits per (file, line) equal stdlib ``trace``'s counts (tests/py/
  trace_oracle.py, run on the same program) on the scenario programs;
- hits equal line_profiler's where it installs (skipped with the reason
  where it does not);
- consistency with ``tracetap calls``, exact (both are sums of the same
  tt_reader_ns values; docs/lines.md, "Identities"): per function and
  thread, the lines' times plus the entry time equal the summed inclusive
  time of all its activations (the call tree's nodes of that code; equal
  to cumtime when no activation is nested in another of the same
  function), the lines' own times plus the entry's equal tottime, and
  own <= time on every line; per thread the traced times agree;
- known answers: a planted sleep line holds the bulk of its function's
  time, a line that calls a slow function has a large time and a small
  own time, a spinning loop's lines hold the spinner's time;
- a SIGKILLed recording gives a report that says it was cut; a --count
  recording is refused with a clear error.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

import coverage_support as cs
import tracetap
from conftest import capture_env, capture_python, capture_tracetap, capture_write

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
TIMEOUT = 300


def _cli(*args, cwd):
    return capture_tracetap(*args, cwd=cwd, timeout=TIMEOUT)


def _record(tmp_path, script, *extra):
    out = str(tmp_path / (os.path.basename(script) + ".ttrace"))
    proc = _cli("run", "-o", out, *extra, script, cwd=tmp_path)
    assert os.path.exists(out), proc.stderr
    return out


def _hits_by_line(data, script):
    """{line: hits} over every code of `script`, all threads."""
    real = os.path.realpath(script)
    out = {}
    for f in data["functions"]:
        if f["thread"] is None and os.path.realpath(f["file"]) == real:
            for x in f["lines"]:
                out[x["line"]] = out.get(x["line"], 0) + x["hits"]
    return out


@pytest.mark.parametrize("program", ["recursion", "generators", "exceptions",
                                     "classes", "threads", "control_flow",
                                     "comprehensions", "context_managers",
                                     "async_tasks"])
def test_hits_equal_stdlib_trace(tmp_path, program):
    script = os.path.join(PROGRAMS, program + ".py")
    ref = cs.oracle_counts([script], str(tmp_path), str(tmp_path / "o.json"),
                           [script])
    ref = next(v for k, v in ref.items()
               if os.path.realpath(k) == os.path.realpath(script))
    data = tracetap.load(_record(tmp_path, script)).lines()
    assert _hits_by_line(data, script) == ref


def _tree_totals(calls):
    """{(code, thread): summed inclusive time of every activation}."""
    out = {}
    for n in calls["tree"]:
        for t in (n["thread"], None):
            k = (n["code"], t)
            out[k] = out.get(k, 0) + n["cumtime_ns"]
    return out


def _check_consistent(lines, calls):
    assert lines["summary"]["adopted"] == 0
    tree = _tree_totals(calls)
    cfun = {(f["code"], f["thread"]): f for f in calls["functions"]}
    assert {(f["code"], f["thread"]) for f in lines["functions"]} == set(cfun)
    for f in lines["functions"]:
        c = cfun[(f["code"], f["thread"])]
        assert sum(x["time_ns"] for x in f["lines"]) + f["entry_ns"] == \
            f["time_ns"] == tree[(f["code"], f["thread"])], f["func"]
        assert sum(x["own_ns"] for x in f["lines"]) + f["entry_own_ns"] == \
            f["own_ns"] == c["tottime_ns"], f["func"]
        assert f["calls"] == c["calls"]
        if c["calls"] == c["primitive_calls"] and \
                c["resumes"] == c["primitive_resumes"]:
            assert f["time_ns"] == c["cumtime_ns"], f["func"]
        for x in f["lines"]:
            assert x["own_ns"] <= x["time_ns"]
    ct = {t["thread"]: t["traced_ns"] for t in calls["threads"]}
    for t in lines["threads"]:
        assert t["traced_ns"] == ct[t["thread"]]


@pytest.mark.parametrize("program", ["recursion", "generators", "threads",
                                     "thread_pool", "async_tasks",
                                     "exceptions", "uncaught", "sys_exit"])
def test_consistent_with_calls(tmp_path, program):
    script = os.path.join(PROGRAMS, program + ".py")
    with tracetap.load(_record(tmp_path, script)) as t:
        lines, calls = t.lines(), t.calls()
    assert lines["summary"]["has_lines"]
    _check_consistent(lines, calls)


KNOWN = """
    import time

    def slow():
        time.sleep(0.2)

    def planted():
        a = [1]
        time.sleep(0.2)
        return a

    def caller():
        x = 1
        slow()
        return x

    def spin(n):
        x = 0
        for i in range(n):
            x += i * i
        return x

    def main():
        planted()
        caller()
        spin(200000)

    main()
"""


def _func(data, name):
    return next(f for f in data["functions"]
                if f["thread"] is None and f["func"] == name)


def _line(f, n):
    return next(x for x in f["lines"] if x["line"] == n)


def test_known_answers(tmp_path):
    script = capture_write(tmp_path, "known.py", KNOWN)
    rec = _record(tmp_path, script)
    data = tracetap.load(rec).lines()
    # The sleep is untraced: its line's own time. The tolerance allows for
    # a loaded machine, never for less than asked.
    planted = _func(data, "planted")
    sleep = _line(planted, 8)
    assert 0.2e9 <= sleep["time_ns"] < 0.35e9
    assert sleep["own_ns"] == sleep["time_ns"]
    assert sleep["time_ns"] >= 0.99 * planted["time_ns"]
    # A line calling a slow traced function: the callee's time is the
    # line's, not its own.
    call = _line(_func(data, "caller"), 13)
    assert 0.2e9 <= call["time_ns"] < 0.35e9
    assert call["own_ns"] < 0.01 * call["time_ns"]
    # The loop's two lines hold the spinner's time; each ran n (+1) times.
    spin = _func(data, "spin")
    assert (_line(spin, 18)["hits"], _line(spin, 19)["hits"]) == (200001,
                                                                  200000)
    loop = _line(spin, 18)["time_ns"] + _line(spin, 19)["time_ns"]
    assert loop >= 0.95 * spin["time_ns"]
    # main's line 24 (caller()) includes the sleep in slow().
    assert _line(_func(data, "main"), 24)["time_ns"] >= 0.2e9
    proc = _cli("lines", rec, "--function", "planted", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    row = next(l for l in proc.stdout.splitlines() if "time.sleep(0.2)" in l)
    assert row.split()[0] == "8" and "ms" in row
    assert "Function: planted at line 6" in proc.stdout
    assert "Total time:" in proc.stdout


LP_PROGRAM = """
    import json, os, sys

    def leaf(i):
        if i % 3 == 0:
            return 0
        return i & 7

    def work(n):
        total = 0
        for i in range(n):
            try:
                total += leaf(i)
                if i % 7 == 0:
                    raise ValueError(i)
            except ValueError:
                total -= 1
        return total

    def main():
        return work(500) + sum(work(k) for k in range(20))

    if os.environ.get("LP_OUT"):
        import line_profiler
        lp = line_profiler.LineProfiler(leaf, work, main)
        lp.runcall(main)
        st = lp.get_stats()
        hits = {}
        for (file, first, name), rows in st.timings.items():
            for line, n, t in rows:
                hits[line] = hits.get(line, 0) + n
        with open(os.environ["LP_OUT"], "w") as fp:
            json.dump(hits, fp)
    else:
        main()
"""


def test_hits_equal_line_profiler(tmp_path):
    try:
        import line_profiler  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"line_profiler is not installed here ({exc}); "
                    "scripts/test_matrix.py installs it where it can")
    script = capture_write(tmp_path, "lp.py", LP_PROGRAM)
    env = capture_env() | {"LP_OUT": str(tmp_path / "lp.json")}
    proc = subprocess.run([sys.executable, script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "lp.json") as fp:
        ref = {int(k): v for k, v in json.load(fp).items() if v}
    data = tracetap.load(_record(tmp_path, script)).lines()
    ours = {}
    for name in ("leaf", "work", "main"):
        for x in _func(data, name)["lines"]:
            ours[x["line"]] = ours.get(x["line"], 0) + x["hits"]
    assert ours == ref


def test_killed_recording_says_so(tmp_path):
    # Killed in a line of die(), below the module frame that started the
    # recording: what was flushed is reported, the open frames are closed
    # at the last event, and the report says the file was cut.
    script = capture_write(tmp_path, "killme.py", """
        import os, signal, sys, tracetap

        def work(n):
            t = 0
            for i in range(n):
                t += i
            return t

        def die():
            total = work(400000)
            os.kill(os.getpid(), signal.SIGKILL)
            return total

        tracetap.record(sys.argv[1]).start()
        die()
    """)
    out = str(tmp_path / "killed.ttrace")
    proc = capture_python(script, out, cwd=tmp_path, timeout=TIMEOUT)
    assert proc.returncode == -signal.SIGKILL
    with tracetap.load(out) as t:
        data, calls = t.lines(), t.calls()
    s = data["summary"]
    assert s["truncated"] and s["open_at_end"] >= 1
    work = _func(data, "work")
    assert 1000 < _line(work, 6)["hits"] <= 400000
    assert _line(work, 5)["hits"] in (_line(work, 6)["hits"],
                                      _line(work, 6)["hits"] + 1)
    die = _func(data, "die")
    assert _line(die, 10)["time_ns"] >= work["time_ns"]
    # Frames called after the start agree with calls to the nanosecond.
    cfun = {f["code"]: f for f in calls["functions"] if f["thread"] is None}
    for f in (work, die):
        assert f["time_ns"] == cfun[f["code"]]["cumtime_ns"]
        assert f["own_ns"] == cfun[f["code"]]["tottime_ns"]
    txt = _cli("lines", out, cwd=tmp_path)
    assert txt.returncode == 0, txt.stderr
    assert "cut off" in txt.stdout and "had not returned" in txt.stdout
    assert "Function: work at line 3" in txt.stdout


def test_count_recording_is_refused(tmp_path):
    script = capture_write(tmp_path, "tiny.py", """
        def f():
            return 1
        f()
    """)
    rec = _record(tmp_path, script, "--count")
    proc = _cli("lines", rec, cwd=tmp_path)
    assert proc.returncode == 1
    assert "no line events" in proc.stderr and "--count" in proc.stderr
    assert proc.stdout == ""


def test_source_missing_and_special_files(tmp_path):
    script = capture_write(tmp_path, "gone.py", """
        def f(n):
            t = 0
            for i in range(n):
                t += i
            return t
        f(1000)
    """)
    rec = _record(tmp_path, script)
    os.unlink(script)
    proc = _cli("lines", rec, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    notes = [l for l in proc.stderr.splitlines() if "not shown" in l]
    assert len(notes) == 1 and "gone.py" in notes[0]     # once per file
    row = next(l for l in proc.stdout.splitlines()
               if l.split() and l.split()[0] == "4")
    assert row.split()[1] == "1,000"
    # A FIFO where the source was: never opened for a blocking read.
    os.mkfifo(script)
    proc = _cli("lines", rec, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "not a regular file" in proc.stderr
    from tracetap._lines import read_source
    assert read_source(str(tmp_path))[1] == "not a regular file"
    big = tmp_path / "big.py"
    big.write_bytes(b"x = 1\n" * 1000)
    assert read_source(str(big), limit=100) == (None, "larger than 0 MiB")
    assert read_source(str(big))[0][:2] == ["x = 1", "x = 1"]


def test_json_filters_limit_and_help(tmp_path):
    script = os.path.join(PROGRAMS, "recursion.py")
    rec = _record(tmp_path, script)
    proc = _cli("lines", rec, "--format", "json", "--function", "fib",
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [f["func"] for f in doc["functions"]] == ["fib"]
    fib = doc["functions"][0]
    assert fib["thread"] is None and fib["lines"]
    assert all(isinstance(x["time_ns"], int) for x in fib["lines"])
    api = _func(tracetap.load(rec).lines(), "fib")
    assert fib == api
    # Default text: the functions with the most time first, limited, with
    # a line saying how many were left out.
    txt = _cli("lines", rec, "--limit", "2", cwd=tmp_path)
    assert txt.returncode == 0, txt.stderr
    heads = [l for l in txt.stdout.splitlines() if l.startswith("Function: ")]
    assert len(heads) == 2
    doc = json.loads(_cli("lines", rec, "--format", "json", cwd=tmp_path
                          ).stdout)
    n = len(doc["functions"])
    assert f"{n - 2} more functions not shown" in txt.stdout
    times = [f["time_ns"] for f in doc["functions"]]
    assert times == sorted(times, reverse=True)
    by_line = json.loads(_cli("lines", rec, "--format", "json", "--sort",
                              "line", cwd=tmp_path).stdout)["functions"]
    assert [f["line"] for f in by_line] == sorted(f["line"] for f in by_line)
    one = _cli("lines", rec, "--thread", "0", "--file", "*recursion.py",
               "--limit", "0", cwd=tmp_path)
    assert one.returncode == 0 and "(thread 0" in one.stdout
    h = _cli("lines", "--help", cwd=tmp_path)
    assert h.returncode == 0
    for word in ("Hits", "Own", "callees", "suspended", "examples:"):
        assert word in h.stdout
    assert "lines" in _cli("--help", cwd=tmp_path).stdout
    e = _cli("lines", rec, "--thread", "9", cwd=tmp_path)
    assert e.returncode == 2 and "no thread 9" in e.stderr
    e = _cli("lines", rec, "--limit", "-1", cwd=tmp_path)
    assert e.returncode == 2


def test_lost_events_are_reported(tmp_path):
    # The golden recording (tests/c/golden_gen.c) has a DROPPED event in
    # thread 1 while fib was running, and a RETURN of a frame from before.
    golden = os.path.join(os.path.dirname(HERE), "data", "golden-v1.ttrace")
    with tracetap.load(golden) as t:
        data, calls = t.lines(), t.calls()
        counts = t._reader.counts()[0]
    s = data["summary"]
    # Every LINE event is one hit.
    assert s["lines"] == counts["line"] == sum(
        f["hits"] for f in data["functions"] if f["thread"] is None)
    assert (s["dropped"], s["closed_at_drop"]) == (
        calls["summary"]["dropped"], calls["summary"]["closed_at_drop"]) \
        == (2, 1)
    proc = _cli("lines", golden, "--limit", "0", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "2 events were lost" in proc.stdout
