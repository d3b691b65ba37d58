"""tracetap calls: where the time goes.

- call counts per Python function equal cProfile's (run in a subprocess on
  the same program) for the functions of the scenario's own file; cProfile
  counts a generator resumption as a call, tracetap counts it apart, so the
  comparison is of calls + resumes (docs/calls.md);
- consistency: cumtime >= tottime, per thread the tottimes sum to the
  thread's traced time, a node's children never outlast it;
- known answers: a 0.2 s sleep, a spinning loop, generator resumptions;
- the pstats file loads in pstats.Stats with the JSON's totals, and the
  collapsed stacks' weights sum to the total;
- a SIGKILLed recording and one with lost events give a report that says
  what is missing.
"""

from __future__ import annotations

import json
import os
import pstats
import signal
import subprocess
import sys
import textwrap

import pytest

import tracetap
from conftest import capture_calls_backends

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
GOLDEN = os.path.join(os.path.dirname(HERE), "data", "golden-v1.ttrace")
TIMEOUT = 300


def _env():
    env = dict(os.environ)
    env.pop("COVERAGE_PROCESS_START", None)
    env["PYTHONHASHSEED"] = "0"
    return env


def _run(args, cwd, **kw):
    return subprocess.run([sys.executable, *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=TIMEOUT,
                          **kw)


def _cli(*args, cwd):
    return _run(["-m", "tracetap", *args], cwd)


def _record(tmp_path, script, *args, flags=()):
    out = str(tmp_path / (os.path.basename(script) + ".ttrace"))
    proc = _cli("run", "-o", out, *flags, script, *args, cwd=tmp_path)
    assert os.path.exists(out), proc.stderr
    return out


def _write(tmp_path, name, source):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return str(path)


def _main_thread(data):
    return next(t["thread"] for t in data["threads"]
                if t["name"] == "MainThread")


def _cprofile(tmp_path, script):
    """{(line, co_name): (nc, cc)} of `script`'s own functions under
    cProfile (main thread only, as cProfile profiles)."""
    out = str(tmp_path / "prof.out")
    _run(["-m", "cProfile", "-o", out, script], tmp_path)
    st = pstats.Stats(out).stats
    return {(line, name): (v[1], v[0]) for (file, line, name), v in st.items()
            if os.path.realpath(file) == os.path.realpath(script)}


# The default recording, and calls only on sys.monitoring (conftest.py).
BACKENDS = capture_calls_backends()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("program", ["recursion", "generators", "exceptions",
                                     "classes", "threads", "sys_exit",
                                     "context_managers", "decorators_lambdas"])
def test_call_counts_equal_cprofile(tmp_path, program, backend):
    script = os.path.join(PROGRAMS, program + ".py")
    ref = _cprofile(tmp_path, script)
    assert ref, "cProfile saw no function of the program"
    data = tracetap.load(_record(tmp_path, script, flags=backend)).calls()
    # cProfile profiles the thread that enabled it on 3.11; from 3.12 it
    # rides sys.monitoring, which reports every thread.
    thread = None if sys.version_info >= (3, 12) else _main_thread(data)
    ours = {}
    for f in data["functions"]:
        if f["thread"] != thread or os.path.realpath(f["file"]) != \
                os.path.realpath(script):
            continue
        key = (f["line"], f["func"].rsplit(".", 1)[-1])
        ours.setdefault(key, []).append(
            (f["calls"] + f["resumes"],
             f["primitive_calls"] + f["primitive_resumes"]))
    assert set(ours) == set(ref)
    for key, counts in ours.items():
        # Two code objects with one (file, line, name), such as two lambdas
        # on a line, are one key to cProfile: the last one stored wins.
        assert ref[key] in counts if len(counts) > 1 else \
            ref[key] == counts[0], key


def _check_consistent(data):
    for f in data["functions"]:
        # Every activation is primitive or nested in a primitive one.
        assert f["cumtime_ns"] >= f["tottime_ns"], f
        if f["max_ns"] is not None:
            assert f["min_ns"] <= f["max_ns"]
    for t in data["threads"]:
        rows = [f for f in data["functions"] if f["thread"] == t["thread"]]
        assert sum(f["tottime_ns"] for f in rows) == t["traced_ns"]
        assert t["traced_ns"] <= t["last_ns"] - t["first_ns"]
    tree = data["tree"]
    kids = {}
    for n in tree:
        assert n["cumtime_ns"] >= n["tottime_ns"]
        if n["parent"] is not None:
            assert n["parent"] < n["id"]
            assert tree[n["parent"]]["thread"] == n["thread"]
            kids[n["parent"]] = kids.get(n["parent"], 0) + n["cumtime_ns"]
    for pid, total in kids.items():
        assert total + tree[pid]["tottime_ns"] == tree[pid]["cumtime_ns"]
    roots = sum(n["cumtime_ns"] for n in tree if n["parent"] is None)
    assert roots == data["summary"]["traced_ns"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("program", ["threads", "thread_pool", "async_tasks",
                                     "generators", "uncaught"])
def test_times_are_consistent(tmp_path, program, backend):
    script = os.path.join(PROGRAMS, program + ".py")
    data = tracetap.load(_record(tmp_path, script, flags=backend)).calls()
    assert data["summary"]["has_calls"]
    _check_consistent(data)


KNOWN = """
    import time

    def sleeper():
        time.sleep(0.2)

    def spin(n):
        x = 0
        for i in range(n):
            x += i * i
        return x

    def light():
        return 1

    def gen(n):
        for i in range(n):
            yield i

    def main():
        sleeper()
        spin(300000)
        for _ in range(100):
            light()
        g = gen(5)
        assert list(g) == [0, 1, 2, 3, 4]

    main()
"""


def test_known_answers(tmp_path):
    script = _write(tmp_path, "known.py", KNOWN)
    data = tracetap.load(_record(tmp_path, script)).calls()
    rows = {f["func"]: f for f in data["functions"] if f["thread"] is None}
    # time.sleep is untraced, so its 0.2 s is sleeper's own time; the
    # tolerance allows for a loaded machine, never for less than asked.
    assert 0.2e9 <= rows["sleeper"]["tottime_ns"] < 0.35e9
    assert rows["sleeper"]["cumtime_ns"] == rows["sleeper"]["tottime_ns"]
    # spin is the only other function that does real work.
    rest = rows["main"]["cumtime_ns"] - rows["sleeper"]["cumtime_ns"]
    assert rows["spin"]["tottime_ns"] > 0.8 * rest
    assert rows["light"]["calls"] == 100
    # list(gen(5)): one creation, five resumptions (5 yields + the end).
    assert (rows["gen"]["calls"], rows["gen"]["resumes"]) == (1, 5)
    _check_consistent(data)
    proc = _cli("calls", script[:-3] + ".py.ttrace", "--limit", "3",
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    first = next(i for i, l in enumerate(lines) if "function (file:line)" in l)
    # The two costly functions lead; which first depends on how fast the
    # spin ran (on a loaded machine it can outlast the 0.2 s sleep).
    top = lines[first + 1] + lines[first + 2]
    assert "sleeper" in top and "spin" in top
    assert "ms" in lines[first + 1]


def test_pstats_of_a_recording_without_calls_is_refused(tmp_path):
    """A --count recording times nothing: pstats.Stats would refuse the
    empty profile later, so no file is written and the exit status says
    so (as pstats itself, the real consumer, confirms of an empty one)."""
    script = os.path.join(PROGRAMS, "recursion.py")
    rec = _record(tmp_path, script, flags=("--count",))
    prof = tmp_path / "out.prof"
    proc = _cli("calls", rec, "--format", "pstats", "-o", str(prof),
                cwd=tmp_path)
    assert proc.returncode == 1
    assert "no pstats file was written" in proc.stderr
    assert not prof.exists()
    empty = tmp_path / "empty.prof"
    empty.write_bytes(__import__("marshal").dumps({}))
    with pytest.raises(TypeError):
        pstats.Stats(str(empty))


def test_pstats_and_collapsed_agree_with_json(tmp_path):
    script = os.path.join(PROGRAMS, "recursion.py")
    rec = _record(tmp_path, script)
    prof = str(tmp_path / "out.prof")
    proc = _cli("calls", rec, "--format", "pstats", "-o", prof, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(_cli("calls", rec, "--format", "json",
                           cwd=tmp_path).stdout)
    rows = [f for f in data["functions"] if f["thread"] is None]
    st = pstats.Stats(prof)
    # counted cProfile's way: a resumption is a call there
    assert st.total_calls == sum(f["calls"] + f["resumes"] for f in rows)
    assert st.prim_calls == sum(f["primitive_calls"] + f["primitive_resumes"]
                                for f in rows)
    assert st.total_tt == pytest.approx(data["summary"]["traced_ns"] / 1e9)
    fib = next(v for k, v in st.stats.items() if k[2] == "fib")
    ours = next(f for f in rows if f["func"] == "fib")
    assert fib[:2] == (ours["primitive_calls"], ours["calls"])
    assert fib[3] == pytest.approx(ours["cumtime_ns"] / 1e9)
    # fib's callers: main once, fib itself for the rest.
    assert sum(v[0] for v in fib[4].values()) == ours["calls"]
    out = _cli("calls", prof.replace(".prof", ".none"), cwd=tmp_path)
    assert out.returncode == 1 and "error" in out.stderr
    # pstats prints it (the real consumer).
    shown = _run(["-c", "import pstats,sys; pstats.Stats(sys.argv[1])"
                  ".sort_stats('tottime').print_stats(5)", prof], tmp_path)
    assert shown.returncode == 0 and "fib" in shown.stdout
    # Collapsed stacks: "a;b;c weight", weights sum to the total.
    for weight, total in (("time", round(data["summary"]["traced_ns"] / 1000)),
                          ("calls", data["summary"]["activations"])):
        col = _cli("calls", rec, "--format", "collapsed", "--weight", weight,
                   cwd=tmp_path)
        assert col.returncode == 0, col.stderr
        got = 0
        for line in col.stdout.splitlines():
            stack, w = line.rsplit(" ", 1)
            assert stack and int(w) > 0
            got += int(w)
        assert got == total
    assert "main (recursion.py:54);fib (recursion.py:8);fib" in col.stdout


def test_killed_recording_says_so(tmp_path):
    script = _write(tmp_path, "killme.py", """
        import os, signal, sys, tracetap

        def step(i):
            return i + 1

        def outer():
            for i in range(300000):
                step(i)
            os.kill(os.getpid(), signal.SIGKILL)

        rec = tracetap.record(sys.argv[1]).start()
        outer()
    """)
    out = str(tmp_path / "killed.ttrace")
    proc = _run([script, out], tmp_path)
    assert proc.returncode == -signal.SIGKILL
    data = tracetap.load(out).calls()
    assert data["summary"]["truncated"]
    assert data["summary"]["open_at_end"] >= 1
    step = next(f for f in data["functions"]
                if f["thread"] is None and f["func"] == "step")
    assert 1000 < step["calls"] <= 300000
    _check_consistent(data)
    txt = _cli("calls", out, cwd=tmp_path)
    assert txt.returncode == 0, txt.stderr
    assert "cut off" in txt.stdout and "had not returned" in txt.stdout


def test_lost_events_are_reported(tmp_path):
    # The golden recording (tests/c/golden_gen.c) has a DROPPED event in
    # thread 1 while fib was running, and a RETURN of a frame from before.
    proc = _cli("calls", GOLDEN, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "2 events were lost" in proc.stdout
    data = json.loads(_cli("calls", GOLDEN, "--format", "json",
                           cwd=tmp_path).stdout)
    assert data["summary"]["dropped"] == 2
    assert data["summary"]["closed_at_drop"] == 1


def test_cli_usage_and_help(tmp_path):
    h = _cli("calls", "--help", cwd=tmp_path)
    assert h.returncode == 0
    for word in ("tottime", "cumtime", "primitive", "--format pstats",
                 "flamegraph.pl", "examples:"):
        assert word in h.stdout
    assert "calls" in _cli("--help", cwd=tmp_path).stdout
    e = _cli("calls", GOLDEN, "--format", "pstats", cwd=tmp_path)
    assert e.returncode == 2 and "needs -o" in e.stderr
    e = _cli("calls", GOLDEN, "--thread", "9", cwd=tmp_path)
    assert e.returncode == 2 and "no thread 9" in e.stderr
    e = _cli("calls", GOLDEN, "--sort", "bogus", cwd=tmp_path)
    assert e.returncode == 2


def test_callers_callees_and_filters(tmp_path):
    script = os.path.join(PROGRAMS, "recursion.py")
    rec = _record(tmp_path, script)
    out = _cli("calls", rec, "--callers", "fib", cwd=tmp_path).stdout
    assert "was called by" in out and "main (" in out
    out = _cli("calls", rec, "--callees", "main", cwd=tmp_path).stdout
    assert "fib (" in out and "hanoi (" in out
    out = _cli("calls", rec, "--func", "is_*", "--limit", "0",
               cwd=tmp_path).stdout
    names = {l.split()[-2] for l in out.splitlines() if "recursion.py:" in l}
    assert names == {"is_even", "is_odd"}
    miss = _cli("calls", rec, "--callers", "nosuch", cwd=tmp_path)
    assert miss.returncode == 1 and "no traced function" in miss.stderr
