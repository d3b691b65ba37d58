"""Self-tests of the reference recorder (the oracle) and of the scenarios.

They need no tracetap: they check that the recorder runs a program exactly
as `python SCRIPT` does, that its output has the promised shape and
filtering, that it is deterministic (also when the garbage collector runs at
other moments), and that each scenario exercises what it claims to.
"""

import collections
import json
import os
import subprocess
import sys

import pytest

import oracle_support as osup
import reference_recorder as rr

SCENARIOS = osup.discover_scenarios()
OPCODE_SCENARIOS = [s for s in SCENARIOS if s.opcodes]
NOT_ENV = lambda f: not osup.is_environmental(f)          # noqa: E731
STDLIB_DIR = os.path.dirname(os.path.abspath(os.__file__))


def _threads(rec, **kw):
    return osup.per_thread(rec.events, cwd=rec.cwd, keep=NOT_ENV, **kw)


# ------------------------------------------------------------ run fidelity

@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_runs_like_python(scenario, scenario_plain_run, oracle_recording):
    plain = scenario_plain_run(scenario)
    rec = oracle_recording(scenario)
    assert plain.returncode == scenario.exit_code, (
        "the scenario itself does not exit as declared:\n" + plain.stderr[-2000:])
    assert rec.returncode == plain.returncode, rec.stderr[-2000:]
    assert rec.stdout == plain.stdout
    assert rec.stderr == plain.stderr


def test_cli_usage_errors(scenario_workdir):
    for argv in ([], ["-o"], ["-o", "x.jsonl"], ["--bogus", "-o", "x", "s.py"]):
        proc = osup.run([sys.executable, osup.RECORDER, *argv], scenario_workdir)
        assert proc.returncode == 2, (argv, proc.stderr)
        assert proc.stderr.strip()


def test_output_written_on_exit_and_crash(oracle_recording):
    for name, code in (("sys_exit", 3), ("uncaught", 1)):
        rec = oracle_recording(osup.scenario_by_name(name))
        assert rec.returncode == code
        assert rec.events, name
        last = rec.events[-1]
        assert (last["kind"], last["func"]) == ("return", "<module>")
        kinds = collections.Counter(e["kind"] for e in rec.events)
        assert kinds["exception"] >= 3, kinds


def test_uncaught_traceback_hides_the_recorder(oracle_recording):
    rec = oracle_recording(osup.scenario_by_name("uncaught"))
    assert "ConfigError: missing setting port" in rec.stderr
    assert "reference_recorder" not in rec.stderr
    assert "runpy" not in rec.stderr


# ------------------------------------------------------------ output shape

@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_event_shape_and_filter(scenario, oracle_recording):
    rec = oracle_recording(scenario)
    assert rec.events
    for ev in rec.events:
        assert set(ev) >= {"thread", "kind", "file", "line", "func"}, ev
        assert ev["kind"] in osup.KINDS, ev
        assert isinstance(ev["thread"], int) and ev["thread"] >= 0, ev
        assert ev["line"] is None or isinstance(ev["line"], int), ev
        assert "offset" not in ev, ev
        f = ev["file"]
        if not f.startswith("<"):
            assert os.path.isabs(f), ev
            # an independent notion of "the stdlib": where os.py lives
            inside = f.startswith(STDLIB_DIR + os.sep)
            third_party = osup.is_environmental(f)
            assert not inside or third_party, ev
            assert os.path.basename(f) != "reference_recorder.py", ev
        else:
            assert not f.startswith("<frozen"), ev

    first = rec.events[0]
    assert (first["thread"], first["kind"], first["file"], first["func"]) == (
        0, "call", scenario.path, "<module>")
    main = [e for e in rec.events if e["thread"] == 0]
    assert (main[-1]["kind"], main[-1]["func"]) == ("return", "<module>")

    threads = _threads(rec)
    assert len(threads) == scenario.threads, sorted(threads)
    ordinals = sorted({e["thread"] for e in rec.events})
    assert ordinals == list(range(len(ordinals)))
    for tid, seq in threads.items():
        calls = sum(1 for k in seq if k[0] == "call")
        returns = sum(1 for k in seq if k[0] == "return")
        assert calls == returns, (tid, calls, returns)


# ------------------------------------------------------------ determinism

@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_deterministic_under_gc_pressure(scenario, oracle_recording, scenario_workdir):
    """A collection at other moments must not change the events (no
    generator or __del__ left to the cyclic GC), nor must a second run."""
    base = oracle_recording(scenario)
    gc_dir = os.path.join(scenario_workdir, "gc")
    os.makedirs(gc_dir, exist_ok=True)
    again = osup.run_recorder(scenario, gc_dir,
                              prelude="import gc\ngc.set_threshold(3)")
    assert again.returncode == base.returncode
    problem = osup.compare_threads(_threads(base), _threads(again), scenario.path,
                                   names=("normal run", "gc-pressure run"))
    assert problem is None, problem


# ------------------------------------------------------------ --opcodes

@pytest.mark.parametrize("scenario", OPCODE_SCENARIOS, ids=str)
def test_opcodes(scenario, oracle_recording):
    base = oracle_recording(scenario)
    rec = oracle_recording(scenario, opcodes=True)
    assert rec.returncode == base.returncode
    without = osup.per_thread(rec.events, cwd=rec.cwd, keep=NOT_ENV)
    problem = osup.compare_threads(_threads(base), without, scenario.path,
                                   names=("default run", "--opcodes run"))
    assert problem is None, "opcode capture changed the other events:\n" + problem

    with_lines = collections.Counter()
    with_opcodes = collections.Counter()
    for ev in rec.events:
        where = (ev["thread"], ev["file"], ev["func"])
        if ev["kind"] == "opcode":
            assert isinstance(ev["offset"], int) and ev["offset"] >= 0, ev
            assert ev["offset"] % 2 == 0, ev
            with_opcodes[where] += 1
        else:
            assert "offset" not in ev
            if ev["kind"] == "line":
                with_lines[where] += 1
    missing = [w for w in with_lines if not with_opcodes[w]]
    assert not missing, "functions with line events but no opcode events: %s" % missing[:5]
    assert rec.events[1]["kind"] == "line" and rec.events[2]["kind"] == "opcode", rec.events[:3]


# ------------------------------------------------------------ --stdlib

STDLIB_SCENARIOS = ["stdlib_callbacks", "context_managers", "imports_and_argv"]


@pytest.mark.parametrize("name", STDLIB_SCENARIOS)
def test_stdlib_flag(name, oracle_recording):
    scenario = osup.scenario_by_name(name)
    base = oracle_recording(scenario)
    rec = oracle_recording(scenario, stdlib=True)
    assert rec.returncode == base.returncode
    std_files = {e["file"] for e in rec.events if rr.is_stdlib_file(e["file"])}
    assert std_files
    if name == "stdlib_callbacks":
        for mod in ("re", "json", "textwrap", "copy", "string"):
            assert any(os.path.sep + mod in f for f in std_files), (mod, std_files)
    # Filtering is per code object: dropping the stdlib's events from a
    # --stdlib recording leaves exactly the default recording.
    narrowed = osup.per_thread(
        rec.events, cwd=rec.cwd,
        keep=lambda f: NOT_ENV(f) and not rr.is_stdlib_file(f))
    problem = osup.compare_threads(_threads(base), narrowed, scenario.path,
                                   names=("default run", "--stdlib run"))
    assert problem is None, problem
    assert not any(os.path.basename(e["file"]) == "reference_recorder.py"
                   for e in rec.events)
    assert not any(e["file"].endswith(os.sep + "runpy.py") for e in rec.events)


def test_is_stdlib_file():
    assert rr.is_stdlib_file(json.__file__)
    assert rr.is_stdlib_file(os.__file__)
    assert rr.is_stdlib_file(subprocess.__file__)
    assert rr.is_stdlib_file("<frozen importlib._bootstrap>")
    assert not rr.is_stdlib_file("<string>")
    assert not rr.is_stdlib_file("<generated>")
    assert not rr.is_stdlib_file(pytest.__file__)          # site-packages
    assert not rr.is_stdlib_file(__file__)
    assert not rr.is_stdlib_file(os.path.join(STDLIB_DIR, "site-packages", "x.py"))


# ------------------------------------------------------------ coverage of the scenarios

# (scenario, thread: "main" | "other" | "any", kind, func, at least n times)
EXPECTED_EVENTS = [
    ("generators", "main", "call", "counter", 5),
    ("generators", "main", "exception", "accumulator", 1),
    ("generators", "main", "exception", "closes_on_exit", 1),
    ("generators", "main", "exception", "swallow_throw", 1),
    ("generators", "main", "call", "delegate", 3),
    ("async_tasks", "main", "call", "square", 8),
    ("async_tasks", "main", "call", "ticker", 4),
    ("async_tasks", "main", "call", "Resource.__aexit__", 2),
    ("async_tasks", "main", "call", "managed", 2),
    ("async_tasks", "main", "exception", "failing", 2),
    ("async_tasks", "main", "call", "consumer", 3),
    ("async_tasks", "main", "exception", "resilient", 2),
    ("async_tasks", "main", "call", "producer", 3),
    ("exceptions", "main", "exception", "parse_or_reraise", 2),
    ("exceptions", "main", "exception", "convert", 2),
    ("exceptions", "main", "exception", "group", 1),
    ("exceptions", "main", "call", "deep", 4),
    ("context_managers", "main", "call", "Swallow.__exit__", 8),
    ("context_managers", "main", "exception", "catching", 1),
    ("context_managers", "main", "call", "use_stdlib.<locals>.<lambda>", 1),
    ("recursion", "main", "call", "fib", 67),
    ("recursion", "main", "call", "walk", 10),
    ("recursion", "main", "call", "Node.total.<locals>.<genexpr>", 4),
    ("classes", "main", "call", "Meta.__new__", 3),
    ("classes", "main", "call", "Base.Inner.Deeper", 1),
    ("classes", "main", "call", "Field.__set_name__", 1),
    ("classes", "main", "call", "make_class.<locals>.Local.get", 1),
    ("classes", "main", "call", "Tracked.__del__", 2),
    ("decorators_lambdas", "main", "call", "logged.<locals>.wrapper", 3),
    ("decorators_lambdas", "main", "call", "CountCalls.__call__", 2),
    ("decorators_lambdas", "main", "call", "main.<locals>.<lambda>", 6),
    ("decorators_lambdas", "main", "call", "Widget.expensive", 1),
    ("comprehensions", "main", "call", "main.<locals>.<genexpr>", 6),
    ("comprehensions", "main", "call", "keep", 24),
    ("threads", "other", "call", "Worker.run", 1),
    ("threads", "other", "call", "crunch", 5),
    ("threads", "main", "call", "crunch", 1),
    ("threads", "other", "exception", "doomed", 1),
    ("threads", "other", "call", "describe_local", 1),
    ("thread_pool", "other", "call", "task", 6),
    ("thread_pool", "other", "call", "scale", 4),
    ("thread_pool", "main", "call", "run_round", 2),
    ("sys_exit", "main", "exception", "leave", 1),
    ("sys_exit", "main", "call", "Guard.__exit__", 1),
    ("uncaught", "main", "exception", "start", 1),
    ("uncaught", "main", "exception", "<module>", 1),
    ("imports_and_argv", "main", "call", "Counter.bump", 2),
    ("imports_and_argv", "main", "line", "<module>", 4),
    ("dynamic_code", "main", "call", "generated", 3),
    ("control_flow", "main", "call", "classify", 9),
    ("control_flow", "main", "exception", "checks", 1),
    ("control_flow", "main", "exception", "retry", 2),
    ("control_flow", "main", "line", "one_liners", 12),
    ("volume", "main", "call", "step", 12000),
    ("volume", "other", "call", "step", 24000),
    ("stdlib_callbacks", "main", "call", "shout", 3),
    ("stdlib_callbacks", "main", "call", "hook", 2),
    ("stdlib_callbacks", "main", "call", "compare", 2),
    ("stdlib_callbacks", "main", "call", "Item.__lt__", 2),
    ("stdlib_callbacks", "main", "call", "Item.__deepcopy__", 1),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_scenario_exercises_its_features(scenario, oracle_recording):
    rec = oracle_recording(scenario)
    wanted = [e for e in EXPECTED_EVENTS if e[0] == scenario.name]
    assert wanted, "add the features of %s to EXPECTED_EVENTS" % scenario.name
    counts = collections.Counter()
    for ev in rec.events:
        where = "main" if ev["thread"] == 0 else "other"
        counts[(where, ev["kind"], ev["func"])] += 1
        counts[("any", ev["kind"], ev["func"])] += 1
    for _, where, kind, func, n in wanted:
        assert counts[(where, kind, func)] >= n, (
            "%s: expected at least %d %s events of %s in %s thread(s), got %d"
            % (scenario.name, n, kind, func, where, counts[(where, kind, func)]))


def test_dynamic_code_keeps_pseudo_file_names(oracle_recording):
    rec = oracle_recording(osup.scenario_by_name("dynamic_code"))
    files = {(e["file"], e["func"]) for e in rec.events}
    assert ("<generated>", "generated") in files
    assert ("<generated>", "<module>") in files
    assert ("<expr>", "<module>") in files
