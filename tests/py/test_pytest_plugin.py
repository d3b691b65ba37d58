"""The pytest plugin (`pytest --tracetap[=MODE]`) against coverage.py.

tests/py/covproject/suite (fixtures, parametrisation, the branchy covpkg)
is run in child processes:

- under `pytest --tracetap` (count and full modes, one process and with
  pytest-xdist's two workers);
- under coverage.py 7.18 (`coverage run --branch -m pytest -p covref`),
  where covref is the small plugin below that switches coverage.py's
  context at the same hooks as pytest-cov's `--cov-context=test` does
  ("<node id>|setup", "|run", "|teardown");
- each test alone under coverage.py: the reference for "which tests ran a
  line" that does not depend on context switching at all.

Executed lines, arcs and each line's contexts must equal coverage.py's.
"""

import json
import os
import shutil
import subprocess
import sys

import coverage_support as cs
import oracle_support as osup
import pytest
# The same project, reference and skip conditions as test_coverage_py.
from test_coverage_py import (EXPECTED_DIFFERENCES, PROJECT,  # noqa: F401
                              _compare, pytestmark)

# coverage.py's side of the context switches: what pytest-cov's
# --cov-context=test does, at the same hooks as tracetap's plugin.
COVREF = '''
import coverage
import pytest


def _switch(name):
    cov = coverage.Coverage.current()
    if cov is not None:
        cov.switch_context(name)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_setup(item):
    _switch(item.nodeid + "|setup")
    yield


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_call(item):
    _switch(item.nodeid + "|run")
    yield


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    _switch(item.nodeid + "|teardown")
    yield
    _switch("")
'''

PYTEST = ["-m", "pytest", "-p", "no:cacheprovider", "-q"]


def _run(args, cwd, check=True):
    env = osup.child_env()
    env["PYTHONPATH"] = cwd                 # -p covref
    # coverage.py's sys.monitoring core (its default on 3.14) disables a
    # line after its first event, so a context switched by API afterwards
    # never sees it (line 33 of branches.py, run by three tests, was listed
    # for the first only): the reference is its C tracer, which sees every
    # line event as tracetap does.
    env["COVERAGE_CORE"] = "ctrace"
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError("%s exited %s\n%s\n%s" % (
            args, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return proc


def _coverage_py(work, name, *tests):
    """coverage.py's JSON (with contexts) of the suite, or of some tests."""
    data = os.path.join(work, "." + name)
    _run(["-m", "coverage", "run", "--branch", "--source=covpkg",
          "--data-file=" + data, *PYTEST, "-p", "covref", "suite", *tests],
         work)
    _run(["-m", "coverage", "json", "--show-contexts", "--data-file=" + data,
          "-o", name + ".json"], work)
    with open(os.path.join(work, name + ".json")) as f:
        doc = json.load(f)
    return {os.path.join(work, k): v for k, v in doc["files"].items()}


def _contexts(work, *recs, select=("--source", "covpkg")):
    proc = cs.tracetap(["coverage", "--contexts", "--format", "json",
                        *select, *recs], work)
    return {path: {int(k): v for k, v in f["contexts"].items()}
            for path, f in json.loads(proc.stdout)["files"].items()}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A fresh copy of covproject, its suite run under coverage.py, and
    under tracetap's plugin in count (with arcs) and full mode."""
    work = str(tmp_path_factory.mktemp("plugin") / "p")
    shutil.copytree(PROJECT, work,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    with open(os.path.join(work, "covref.py"), "w") as f:
        f.write(COVREF)
    ref = _coverage_py(work, "ref")
    for mode, extra, name in (("count", ["--tracetap-branch"], "count"),
                              ("full", [], "full"), ("coverage", [], "coverage"),
                              ("coverage", ["--tracetap-branch"], "covbranch")):
        proc = _run([*PYTEST, "suite", "--tracetap=" + mode,
                     "--tracetap-output", name + ".ttrace", *extra], work)
        assert f"recorded {os.path.join(work, name + '.ttrace')}" in proc.stdout
    return work, ref


def _ref_contexts(ref):
    return {path: {int(k): sorted(v) for k, v in f["contexts"].items()}
            for path, f in ref.items() if f["contexts"]}


@pytest.mark.parametrize("rec", ["count.ttrace", "full.ttrace",
                                 "covbranch.ttrace"])
def test_lines_and_arcs_equal_coverage_py(project, rec):
    """Executed lines, arcs and the totals of the run under the plugin are
    coverage.py's of the same run (covbranch: coverage mode with
    --tracetap-branch, the arcs out of branches on sys.monitoring)."""
    work, ref = project
    proc = cs.tracetap(["coverage", "--format", "json", "--branch",
                        "--source", "covpkg", rec], work)
    ours = json.loads(proc.stdout)["files"]
    assert sorted(ref) == sorted(ours)
    for path, rf in ref.items():
        rel = os.path.relpath(path, work)
        want = {k: v for (f, k), v in EXPECTED_DIFFERENCES.items() if f == rel}
        assert _compare(rf, ours[path]) == want, rel
    assert ref[os.path.join(work, "covpkg", "branches.py")]["executed_branches"]


@pytest.mark.parametrize("rec", ["count.ttrace", "full.ttrace",
                                 "coverage.ttrace"])
def test_contexts_equal_coverage_py(project, rec):
    """Each line's list of contexts is coverage.py's, with contexts
    switched at the same hooks (setup, run and teardown of every test,
    and "" between tests and during collection)."""
    work, ref = project
    ours = _contexts(work, rec)
    want = _ref_contexts(ref)
    assert ours == want
    # The suite makes the comparison mean something: lines run by several
    # tests, by one parametrisation only, by fixtures' setup and teardown.
    lines = [c for f in ours.values() for c in f.values()]
    assert any(len(c) >= 3 for c in lines)
    assert any(any(n.endswith("|setup") for n in c) for c in lines)
    assert any(any(n.endswith("|teardown") for n in c) for c in lines)
    assert any(c == [""] for c in lines)       # import time: no test


def test_each_line_lists_exactly_the_tests_that_ran_it(project):
    """Against each test run alone under coverage.py: a test's lines
    (any phase) are the lines that test ran on its own."""
    work, _ = project
    ours = _contexts(work, "count.ttrace")
    tests = sorted({n.rsplit("|", 1)[0] for f in ours.values()
                    for c in f.values() for n in c if n})
    assert len(tests) == 7
    for i, node in enumerate(tests):
        alone = _coverage_py(work, f"alone{i}", node)
        want = {(p, int(ln)) for p, f in alone.items()
                for ln, ctxs in f["contexts"].items()
                if any(c.startswith(node + "|") for c in ctxs)}
        got = {(p, ln) for p, f in ours.items() for ln, ctxs in f.items()
               if any(c.startswith(node + "|") for c in ctxs)}
        assert got == want, node
        assert got


def test_xdist_workers_merge_to_the_single_process_result(project):
    """`pytest -p xdist -n 2 --tracetap`: a file per worker, named in the
    summary; together they give the one-process contexts and coverage."""
    work, _ = project
    proc = _run([*PYTEST, "-p", "xdist", "-n", "2", "suite", "--tracetap",
                 "--tracetap-output", "x.ttrace"], work)
    files = [os.path.join(work, f"x.gw{i}.ttrace") for i in range(2)]
    assert all(os.path.exists(f) for f in files)
    assert not os.path.exists(os.path.join(work, "x.ttrace"))
    assert all(f in proc.stdout for f in files)
    assert _contexts(work, *files) == _contexts(work, "count.ttrace")
    merged = json.loads(cs.tracetap(["coverage", "--format", "json",
                                     "--source", "covpkg", *files],
                                    work).stdout)
    single = json.loads(cs.tracetap(["coverage", "--format", "json",
                                     "--source", "covpkg", "count.ttrace"],
                                    work).stdout)
    # Counts add up over the workers (both import the package), so the
    # lines that ran and the totals are what must agree.
    assert merged["totals"] == single["totals"]
    for path, f in single["files"].items():
        assert sorted(merged["files"][path]["counts"]) == sorted(f["counts"])


def _functions(path):
    """{qualname: (first body line, last line)} of a module's functions."""
    import ast

    with open(path) as f:
        tree = ast.parse(f.read())
    out = {}

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out[prefix + child.name] = (child.body[0].lineno,
                                            child.end_lineno)
                walk(child, prefix + child.name + ".<locals>.")
            elif isinstance(child, ast.ClassDef):
                walk(child, prefix + child.name + ".")

    walk(tree, "")
    return out


def test_calls_in_one_context(project):
    """`tracetap calls --context NODEID` times only what ran in that test:
    in covpkg, the functions whose body lines coverage.py saw in that
    test's contexts."""
    work, ref = project
    node = "suite/test_covpkg.py::test_describe"
    path = os.path.join(work, "covpkg", "branches.py")
    ran = {int(ln) for ln, ctxs in ref[path]["contexts"].items()
           if any(c.startswith(node + "|") for c in ctxs)}
    want = {name for name, (lo, hi) in _functions(path).items()
            if ran & set(range(lo, hi + 1))}
    proc = cs.tracetap(["calls", "--format", "json", "--context", node,
                        "full.ttrace"], work)
    got = {f["func"] for f in json.loads(proc.stdout)["functions"]
           if f["file"] == path}
    assert got == want and len(want) >= 2
    proc = cs.tracetap(["calls", "--context", "no such test", "full.ttrace"],
                       work, check=False)
    assert proc.returncode == 2 and "no context" in proc.stderr


@pytest.mark.parametrize("extra", [[], ["--tracetap-branch"]], ids=["plain", "branch"])
def test_the_default_mode(tmp_path, extra):
    """`--tracetap` alone: coverage (hits only, on sys.monitoring; with
    --tracetap-branch too) on 3.12+, count on 3.11; the summary names the
    mode, the file says how it was recorded, and the same lines ran as
    with --tracetap=count."""
    (tmp_path / "test_probe.py").write_text(
        "def f(x):\n    return x + 1\n\ndef test_x():\n    assert f(1) == 2\n")
    work = str(tmp_path)
    want = "coverage" if sys.version_info >= (3, 12) else "count"
    proc = _run([*PYTEST, "test_probe.py", "--tracetap", *extra,
                 "--tracetap-output", "d.ttrace"], work)
    assert f"({want} mode)" in proc.stdout, proc.stdout
    assert "recorded as --count" not in proc.stdout + proc.stderr
    _run([*PYTEST, "test_probe.py", "--tracetap=count", "--tracetap-output",
          "c.ttrace"], work)
    notes = dict(_notes(os.path.join(work, "d.ttrace")))
    assert (notes.get("backend"), notes.get("counts")) == (
        ("monitoring", "hits only") if want == "coverage" else (None, None)), notes
    lines = {}
    for name in ("d.ttrace", "c.ttrace"):
        doc = json.loads(cs.tracetap(["coverage", "--format", "json", name], work).stdout)
        lines[name] = {p: sorted(int(k) for k in f["counts"]) for p, f in doc["files"].items()}
    assert lines["d.ttrace"] == lines["c.ttrace"] and lines["c.ttrace"]


def _notes(path):
    import tracetap
    with tracetap.load(path) as t:
        return t.info()["notes"]


def test_a_recording_that_cannot_start_is_a_usage_error(tmp_path):
    """An output in a directory that does not exist: pytest stops with
    a usage error (exit 4) naming the reason, and runs no test."""
    (tmp_path / "test_probe.py").write_text("def test_x():\n    pass\n")
    proc = _run([*PYTEST, "test_probe.py", "--tracetap", "--tracetap-output",
                 str(tmp_path / "no" / "such" / "dir.ttrace")], str(tmp_path),
                check=False)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "--tracetap: the recording could not start" in proc.stderr
    assert "passed" not in proc.stdout


PROBE = '''
import sys


def test_probe(pytestconfig):
    assert pytestconfig.pluginmanager.hasplugin("tracetap")
    assert "tracetap._tracetap" not in sys.modules
    assert "tracetap._record" not in sys.modules
'''


def test_inactive_without_the_option(tmp_path):
    """Registered, but without --tracetap the extension is never imported;
    with it, it is (the probe fails: the control)."""
    (tmp_path / "test_probe.py").write_text(PROBE)
    work = str(tmp_path)
    assert _run([*PYTEST, "test_probe.py"], work, check=False).returncode == 0
    proc = _run([*PYTEST, "test_probe.py", "--tracetap"], work, check=False)
    assert proc.returncode == 1 and "tracetap._tracetap" in proc.stdout


SPANNING = '''
import sys


def switch(name):
    if sys.argv[1] == "tracetap":
        import tracetap
        tracetap.context(name)
    else:
        import coverage
        coverage.Coverage.current().switch_context(name)


def long_runner():
    a = 1
    switch("A")
    b = 2
    for i in range(2):
        b += i
        switch("B" if i == 0 else "C")
    return a + b


def gen():
    yield 1
    x = 2
    yield x


g = gen()
next(g)
long_runner()
next(g)
switch("")
'''


def test_frames_spanning_a_switch(tmp_path):
    """A frame that runs on across context switches (its lines after a
    switch belong to the new context, in --count mode too: no CALL says
    so) and a generator resumed in a later context: as coverage.py
    attributes them, in count and in full mode."""
    work = str(tmp_path)
    (tmp_path / "span.py").write_text(SPANNING)
    _run(["-m", "coverage", "run", "--data-file=" + work + "/.cov",
          "span.py", "coverage"], work)
    _run(["-m", "coverage", "json", "--show-contexts", "--data-file=" +
          work + "/.cov", "-o", "ref.json"], work)
    # switch() runs different lines under each tool: left out.
    lo, hi = _functions(str(tmp_path / "span.py"))["switch"]
    with open(os.path.join(work, "ref.json")) as f:
        ref = {int(k): sorted(v) for k, v in
               json.load(f)["files"]["span.py"]["contexts"].items()
               if not lo <= int(k) <= hi}
    for flags in (["--count"], [], ["--coverage"]):
        cs.tracetap(["run", *flags, "-o", "span.ttrace", "span.py",
                     "tracetap"], work)
        path = os.path.join(work, "span.py")
        ours = _contexts(work, "span.ttrace", select=("--include", path))
        ours = {ln: c for ln, c in ours[path].items() if not lo <= ln <= hi}
        assert ours == ref, flags
    assert {"A", "B", "C"} <= {c for v in ref.values() for c in v}


@pytest.mark.parametrize("mode", ["coverage", "count"])
def test_the_pytest_command_is_not_in_the_report(tmp_path, mode):
    """Run through the installed `pytest` script, whose frame is running
    when the recording starts: the report lists the tests' files only."""
    (tmp_path / "helper.py").write_text("def f(x):\n    return x + 1\n")
    (tmp_path / "test_probe.py").write_text(
        "import helper\n\ndef test_x():\n    assert helper.f(1) == 2\n")
    work = str(tmp_path)
    script = os.path.join(os.path.dirname(sys.executable), "pytest")
    _run([script, *PYTEST[2:], "test_probe.py", f"--tracetap={mode}",
          "--tracetap-output", "d.ttrace"], work)
    doc = json.loads(cs.tracetap(["coverage", "--format", "json", "d.ttrace"], work).stdout)
    assert sorted(doc["files"]) == [os.path.join(work, "helper.py"),
                                     os.path.join(work, "test_probe.py")]
