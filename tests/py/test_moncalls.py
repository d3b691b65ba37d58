"""Calls-only recording on the sys.monitoring backend (issue 17, part B).

For every scenario program, `tracetap run --no-lines --backend monitoring`
records the same events as `--backend legacy` (kind, file, line, function,
exception name, per thread, in order; other threads as a multiset), and
both equal the reference recorder's (sys.settrace, run apart) with its
LINE events left out. The same with --c-calls (the C functions' CALL,
RETURN and EXCEPTION events), with --threads main, and for code the
filters leave out (then DISABLEd: nothing of it may show).

Python 3.11 has no sys.monitoring: the tests skip there, and
`--backend monitoring` is refused (test of the plumbing, A's).
"""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

import oracle_support as osup
import tracetap
from conftest import capture_tracetap, capture_write

SCENARIOS = osup.discover_scenarios()
NOT_ENV = lambda f: not osup.is_environmental(f)          # noqa: E731
PY = "%d.%d.%d" % sys.version_info[:3]
HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("tracetap") is None,
                       reason="tracetap is not installed for %s"
                       % sys.executable),
    pytest.mark.skipif(sys.version_info < (3, 12),
                       reason="sys.monitoring (PEP 669) needs Python 3.12+; "
                       "3.11 has only the legacy backend"),
]


def _keys(events, cwd):
    """per_thread keys with the exception's name added to EXCEPTION events
    (`events --json` gives it as "exception"; the reference recorder has
    none, so its events get None there and are compared without it)."""
    out = []
    for ev in events:
        ev = dict(ev)
        if ev.get("kind") == "exception":
            ev["func"] = "%s!%s" % (ev.get("func"), ev.get("exception"))
        out.append(ev)
    return osup.per_thread(out, cwd=cwd, keep=NOT_ENV)


def _path(scenario, workdir, backend, flags=()):
    """The file osup.run_tracetap writes for these flags."""
    tag = "".join(f.strip("-").replace("-", "_") + "."
                  for f in ("--no-lines", "--backend", backend, *flags))
    return os.path.join(workdir, "%s.%sttrace" % (scenario.name, tag))


def _record(scenario, workdir, backend, *flags):
    rec = osup.run_tracetap(scenario, workdir,
                            flags=("--no-lines", "--backend", backend, *flags))
    info = capture_tracetap("info", _path(scenario, workdir, backend, flags),
                            cwd=workdir)
    assert info.returncode == 0, info.stderr
    # Only the monitoring backend names itself in the header's notes.
    assert ("backend: monitoring" in info.stdout) == (backend == "monitoring")
    return rec


def _calls_only(ref):
    return [e for e in ref.events if e.get("kind") != "line"]


def _without_exc_names(events):
    return [dict(e, exception=None) for e in events]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_calls_only_equals_legacy_and_reference(scenario, scenario_plain_run,
                                                oracle_recording,
                                                scenario_workdir):
    plain = scenario_plain_run(scenario)
    ref = oracle_recording(scenario)
    leg = _record(scenario, scenario_workdir, "legacy")
    mon = _record(scenario, scenario_workdir, "monitoring")
    for r in (leg, mon):
        assert r.returncode == plain.returncode, r.stderr[-2000:]
    assert not any(e.get("kind") == "line" for e in mon.events)
    expected = _keys(leg.events, leg.cwd)
    actual = _keys(mon.events, mon.cwd)
    problem = osup.compare_threads(expected, actual, scenario.path,
                                   names=("legacy backend",
                                          "monitoring backend"))
    assert problem is None, "%s, Python %s, --no-lines:\n%s" % (
        scenario.name, PY, problem)
    problem = osup.compare_threads(_keys(_calls_only(ref), ref.cwd),
                                   _keys(_without_exc_names(mon.events),
                                         mon.cwd),
                                   scenario.path,
                                   names=("reference recorder",
                                          "monitoring backend"))
    assert problem is None, "%s, Python %s, --no-lines:\n%s" % (
        scenario.name, PY, problem)


def _names(scenario, workdir, backend):
    """The thread names of a recording, sorted (the threads' ordinals may
    differ between two runs)."""
    path = _path(scenario, workdir, backend)
    return sorted(t["name"] or "" for t in tracetap.load(path).calls()["threads"])


@pytest.mark.parametrize("name", ["threads", "thread_pool", "async_tasks"])
def test_threads_named_and_main_only(name, scenario_workdir):
    scenario = osup.scenario_by_name(name)
    leg = _record(scenario, scenario_workdir, "legacy")
    mon = _record(scenario, scenario_workdir, "monitoring")
    assert _names(scenario, scenario_workdir, "monitoring") == \
        _names(scenario, scenario_workdir, "legacy")
    leg = _record(scenario, scenario_workdir, "legacy", "--threads", "main")
    mon = _record(scenario, scenario_workdir, "monitoring", "--threads",
                  "main")
    e, a = _keys(leg.events, leg.cwd), _keys(mon.events, mon.cwd)
    assert len(a) == 1, "--threads main recorded %d threads" % len(a)
    assert a == {k: v for k, v in e.items()}


CCALL_SCENARIOS = ["classes", "comprehensions", "exceptions", "generators",
                   "stdlib_callbacks", "threads", "context_managers"]


@pytest.mark.parametrize("name", CCALL_SCENARIOS)
def test_c_calls_equal_legacy(name, scenario_workdir):
    scenario = osup.scenario_by_name(name)
    leg = _record(scenario, scenario_workdir, "legacy", "--c-calls")
    mon = _record(scenario, scenario_workdir, "monitoring", "--c-calls")

    def keys(rec):
        """{thread: [(kind, file, line, func, exception)]}, the C
        functions' c_call / c_return / c_exception events included."""
        out = {}
        for e in rec.events:
            if e.get("file") != "<built-in>" and not NOT_ENV(e.get("file")):
                continue
            out.setdefault(e["thread"], []).append(
                (e["kind"], e.get("file"), e.get("line"), e.get("func"),
                 e.get("exception")))
        return out
    e, a = keys(leg), keys(mon)
    assert any(k[0] == "c_call" for seq in a.values() for k in seq)
    problem = osup.compare_threads(e, a, scenario.path,
                                   names=("legacy backend",
                                          "monitoring backend"))
    assert problem is None, "%s, Python %s, --no-lines --c-calls:\n%s" % (
        name, PY, problem)


def test_filtered_code_is_disabled_and_absent(tmp_path):
    """--exclude: the helper module's functions never appear; the traced
    ones still do, around them, with the right depth."""
    capture_write(tmp_path, "helper.py", """
        def inner(n):
            return sum(range(n))

        def outer(f, n):
            return f(n) + inner(n)
    """)
    main = capture_write(tmp_path, "main.py", """
        import helper

        def mine(n):
            return n * 2

        def run():
            total = 0
            for i in range(200):
                total += helper.outer(mine, i)
            return total

        print(run())
    """)
    out = {}
    for backend in ("legacy", "monitoring"):
        path = str(tmp_path / ("%s.ttrace" % backend))
        proc = capture_tracetap("run", "--no-lines", "--backend", backend,
                                "--exclude", "*helper.py", "-o", path, main,
                                cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        ev = capture_tracetap("events", "--json", path, cwd=tmp_path)
        out[backend] = osup.parse_events(ev.stdout)
    for evs in out.values():
        funcs = {e["func"] for e in evs if e.get("kind") == "call"}
        assert "mine" in funcs and "run" in funcs
        assert not funcs & {"inner", "outer"}
    assert _keys(out["monitoring"], str(tmp_path)) == \
        _keys(out["legacy"], str(tmp_path))
    calls = [e for e in out["monitoring"] if e.get("kind") == "call"
             and e["func"] == "mine"]
    assert len(calls) == 200


def test_record_api_adopts_running_frames(tmp_path):
    """record(lines=False, backend="monitoring") started inside a function:
    the function's own RETURN is recorded (it was running at start), as
    legacy records it."""
    script = capture_write(tmp_path, "api.py", """
        import sys
        import tracetap

        def work(n):
            if n:
                return work(n - 1) + 1
            return 0

        rec = tracetap.record(sys.argv[2], lines=False, backend=sys.argv[1])

        def main():
            rec.start()
            work(3)
            return 1

        main()
        rec.stop()
    """)
    out = {}
    for backend in ("legacy", "monitoring"):
        path = str(tmp_path / ("%s.ttrace" % backend))
        run = osup.run([sys.executable, script, backend, path], str(tmp_path))
        assert run.returncode == 0, run.stderr
        ev = capture_tracetap("events", "--json", path, cwd=tmp_path)
        assert ev.returncode == 0, ev.stderr
        out[backend] = [(e["kind"], e["func"], e.get("line"))
                        for e in osup.parse_events(ev.stdout)
                        if e.get("kind") in ("call", "return", "exception")
                        and e.get("file", "").endswith("api.py")]
    assert out["monitoring"] == out["legacy"]
    assert out["monitoring"].count(("call", "work", 4)) == 4
    # main() was running at start: its return is recorded, not its call
    # (the reference: legacy's adoption of the running frames).
    assert [k[0] for k in out["monitoring"] if k[1] == "main"] == ["return"]
