"""Coverage parity: tracetap's per-line counts equal stdlib trace's.

For every scenario program, and for a few of the interpreter's own test
modules run with `-m unittest`, on the interpreter running pytest:

    python -m tracetap run [--count] -o X.ttrace TARGET
    python -m tracetap coverage --format json X.ttrace
    python trace_oracle.py --only GLOB -o X.json TARGET   (trace.Trace(count=1))

and for the files both count (the scenario programs; the one test module),
the counts must be equal line for line, in both tracetap modes, and the
two modes must agree with each other on every file. Executable lines must
equal trace._find_executable_linenos, except for the one documented
difference (docs/coverage.md): trace leaves out lines of strings that
follow an INDENT (docstrings), tracetap lists every line co_lines() has.

Do not weaken these comparisons; a mismatch is a capture or analysis bug.
"""

import importlib.util
import os
import sys
import trace
import warnings

import coverage_support as cs
import oracle_support as osup
import pytest

SCENARIOS = osup.discover_scenarios()
PROGRAMS_GLOB = os.path.join(osup.PROGRAMS_DIR, "*")
PY = "%d.%d.%d" % sys.version_info[:3]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tracetap") is None,
    reason="tracetap is not installed for %s" % sys.executable)


def _trace_executable(path):
    """trace._find_executable_linenos(path) without None and 0 (3.13+'s
    findlinestarts yields None; 3.11+ gives a module's RESUME line 0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)   # it compiles the file
        lines = trace._find_executable_linenos(path)
    return {n for n in lines if isinstance(n, int) and n >= 1}


def _in_programs(path):
    return path.startswith(osup.PROGRAMS_DIR + os.sep)


@pytest.fixture(scope="module")
def scenario_coverage(scenario_workdir):
    """scenario_coverage(scenario) -> (full json, count json, oracle counts),
    cached per module."""
    cache = {}

    def get(scenario):
        if scenario.name not in cache:
            target = [scenario.path, *scenario.args]
            base = os.path.join(scenario_workdir, "cov-" + scenario.name)
            full, cnt = base + ".full.ttrace", base + ".count.ttrace"
            p1 = cs.record(target, scenario_workdir, full)
            p2 = cs.record(target, scenario_workdir, cnt, count=True)
            assert p1.returncode == scenario.exit_code, p1.stderr[-2000:]
            assert p2.returncode == scenario.exit_code, p2.stderr[-2000:]
            oracle = cs.oracle_counts(target, scenario_workdir,
                                      base + ".oracle.json", [PROGRAMS_GLOB])
            cache[scenario.name] = (
                cs.coverage_json([full], scenario_workdir),
                cs.coverage_json([cnt], scenario_workdir), oracle,
                (full, cnt))
        return cache[scenario.name]
    return get


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_counts_match_stdlib_trace(scenario, scenario_coverage):
    full, cnt, oracle, _ = scenario_coverage(scenario)
    assert oracle, "the oracle counted nothing for %s" % scenario.name
    for mode, cov in (("full recording", full), ("--count", cnt)):
        got = cs.counts_of(cov, keep=_in_programs)
        problem = cs.diff_counts(oracle, got)
        assert problem is None, (
            "%s, %s, Python %s: per-line counts differ from "
            "trace.Trace(count=1)\n%s" % (scenario.name, mode, PY, problem))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_count_mode_equals_full_recording(scenario, scenario_coverage):
    full, cnt, _, paths = scenario_coverage(scenario)
    keep = lambda p: not osup.is_environmental(p)
    problem = cs.diff_counts(cs.counts_of(full, keep), cs.counts_of(cnt, keep))
    assert problem is None, ("%s: --count and a full recording disagree "
                             "(left: full)\n%s" % (scenario.name, problem))
    for path in full["files"]:
        if keep(path):
            assert full["files"][path] == cnt["files"][path], path
    # --count writes no event log: the file holds no events at all
    import tracetap
    with tracetap.load(paths[1]) as t:
        info = t.info()
    assert "count" in info["header"]["options_set"]
    assert sum(info["events"].values()) == 0, info["events"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_executable_lines_match_trace(scenario, scenario_coverage):
    full, cnt, _, _ = scenario_coverage(scenario)
    checked = 0
    for path, data in full["files"].items():
        if not _in_programs(path):
            continue
        ours = set(data["executable"])
        assert ours == set(cnt["files"][path]["executable"]), path
        theirs = _trace_executable(path)
        docstrings = set(trace._find_strings(path))
        assert theirs <= ours, (
            "%s: lines trace finds executable that tracetap does not list: %s"
            % (path, sorted(theirs - ours)))
        extra = ours - theirs
        assert extra <= docstrings, (
            "%s: tracetap lists lines trace does not, and they are not the "
            "documented docstring difference: %s"
            % (path, sorted(extra - docstrings)))
        checked += 1
    assert checked >= 1


def _stdlib_test_params():
    out = []
    for mod in cs.STDLIB_TESTS:
        spec = importlib.util.find_spec(mod)
        out.append(pytest.param(mod, spec.origin if spec else None, id=mod))
    return out


@pytest.mark.parametrize("module,origin", _stdlib_test_params())
def test_stdlib_test_module_counts(module, origin, scenario_workdir):
    if origin is None:
        pytest.skip("%s is not installed with Python %s (no test package)"
                    % (module, PY))
    origin = os.path.abspath(origin)
    glob = "*/" + module.replace(".", "/") + ".py"
    target = ["-m", "unittest", module]
    base = os.path.join(scenario_workdir, "cov-" + module)
    oracle = cs.oracle_counts(target, scenario_workdir, base + ".oracle.json",
                              [glob])
    assert set(oracle) == {origin}, sorted(oracle)
    results = {}
    for mode, count in (("full recording", False), ("--count", True)):
        out = base + (".count" if count else ".full") + ".ttrace"
        proc = cs.record(target, scenario_workdir, out, count=count,
                         include=[glob])
        assert proc.returncode == 0, proc.stderr[-3000:]
        cov = cs.coverage_json([out], scenario_workdir)
        got = cs.counts_of(cov, keep=lambda p: p == origin)
        problem = cs.diff_counts(oracle, got)
        assert problem is None, (
            "%s, %s, Python %s: per-line counts differ from "
            "trace.Trace(count=1)\n%s" % (module, mode, PY, problem))
        results[mode] = cov["files"][origin]
        theirs = _trace_executable(origin)
        ours = set(results[mode]["executable"])
        assert theirs <= ours
        assert ours - theirs <= set(trace._find_strings(origin))
    assert results["full recording"] == results["--count"]


def test_never_called_functions_count_as_missed(tmp_path):
    prog = tmp_path / "prog.py"
    prog.write_text(
        "def used():\n"
        "    return 1\n"
        "\n"
        "def unused(x):\n"
        "    y = x + 1\n"
        "    return y\n"
        "\n"
        "class K:\n"
        "    def method(self):\n"
        "        return [i for i in range(3)]\n"
        "\n"
        "used()\n")
    for count in (False, True):
        out = str(tmp_path / ("p%d.ttrace" % count))
        cs.record([str(prog)], str(tmp_path), out, count=count)
        cov = cs.coverage_json([out], str(tmp_path))
        data = cov["files"][str(prog)]
        assert {4, 5, 6, 9, 10} <= set(data["executable"]), data
        counts = {int(k) for k in data["counts"]}
        assert not counts & {5, 6, 10}
        assert {1, 2, 4, 8, 9, 12} <= counts
        funcs = {(f["name"], f["line"]): f["calls"] for f in data["functions"]}
        assert funcs[("used", 1)] == 1
        assert funcs[("unused", 4)] == 0
        assert funcs[("K.method", 9)] == 0
        assert ("K", 8) not in funcs              # a class body, not a function
