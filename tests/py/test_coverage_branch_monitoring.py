"""`--coverage --branch` on the sys.monitoring backend (issue 17): the
arcs it marks from BRANCH events (BRANCH_LEFT/RIGHT on 3.14) are arcs
that legacy `--count --branch` records (the reference: every LINE event
of the same run), and every arc legacy records out of a line with two or
more possible exits is among them, so the branch reports of the two are
equal, exit for exit; on the coverage project both are coverage.py's."""

import importlib.util
import json
import os
import shutil
import sys

import coverage_support as cs
import oracle_support as osup
import pytest

from tracetap import _covanalysis as ca
from tracetap import _tracetap
from tracetap._trace import Trace

HERE = os.path.dirname(os.path.abspath(__file__))

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 12),
    reason="--coverage records on sys.monitoring (3.12+); 3.11 falls back "
    "to --count --branch (test_coverage_monitoring.py)")


def _run(args, cwd):
    proc = osup.run([sys.executable, *args], cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _raw_arcs(path):
    """{file: {(from, to)}} as the recording holds them."""
    got = {}

    def view(fname, lines, hits, arcs):
        got[fname] = {(a, b) for a, b, n in arcs if n}
        return True

    t = Trace(path)
    try:
        _tracetap.coverage_data([t._reader], view=view, arcs=True,
                                branch=True)
    finally:
        t.close()
    return got


def _branches(work, rec, *flags):
    """{file: (executed branches, missing branches)} of `tracetap coverage
    --branch FLAGS REC`."""
    proc = cs.tracetap(["coverage", "--format", "json", "--branch", *flags,
                        rec], work)
    files = json.loads(proc.stdout)["files"]
    return {p: (sorted(map(tuple, f["executed_branches"])),
                sorted(map(tuple, f["missing_branches"])))
            for p, f in files.items()}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    work = str(tmp_path_factory.mktemp("branchprog"))
    shutil.copy(os.path.join(HERE, "branchprog", "prog.py"), work)
    _run(["-m", "tracetap", "run", "--coverage", "--branch", "-o", "mon.ttrace",
          "prog.py"], work)
    _run(["-m", "tracetap", "run", "--backend", "legacy", "--count",
          "--branch", "-o", "leg.ttrace", "prog.py"], work)
    return work


def test_recorded_on_monitoring_hits_only(recorded):
    info = cs.tracetap(["info", "mon.ttrace"], recorded).stdout
    assert "backend: monitoring" in info and "hits only" in info
    assert "coverage_fallback" not in info
    assert "which lines ran and the arcs out of the branches taken" in info
    arcs = _raw_arcs(os.path.join(recorded, "mon.ttrace"))
    prog = os.path.join(recorded, "prog.py")
    assert arcs[prog]


def test_branch_report_equals_legacy(recorded):
    mon = _branches(recorded, "mon.ttrace", "--source", recorded)
    leg = _branches(recorded, "leg.ttrace", "--source", recorded)
    prog = os.path.join(recorded, "prog.py")
    assert mon == leg
    executed, missing = leg[prog]
    assert len(executed) > 40 and missing    # the program means something


def test_arcs_subset_and_branch_exits_complete(recorded):
    """Every marked arc is one legacy recorded; every arc legacy recorded
    out of a line with two or more possible exits, to one of them, is
    marked (legacy also records a suspension in `async for` as an exit
    arc, which no report reads)."""
    prog = os.path.join(recorded, "prog.py")
    mon = _raw_arcs(os.path.join(recorded, "mon.ttrace"))[prog]
    leg = _raw_arcs(os.path.join(recorded, "leg.ttrace"))[prog]
    assert mon <= leg, sorted(mon - leg)
    fa = ca.analyze(prog, list(ca.DEFAULT_EXCLUDE),
                    list(ca.DEFAULT_PARTIAL + ca.DEFAULT_PARTIAL_ALWAYS))
    exits = fa.exit_counts()
    want = {(a, b) for a, b in leg
            if a > 0 and exits.get(fa.first_line(a), 0) >= 2
            and (fa.first_line(a), fa.first_line(b)) in fa.arcs}
    assert want <= mon, sorted(want - mon)
    # far fewer arcs than legacy: only those out of branches
    assert len(mon) < len(leg)


def test_every_count_is_one(recorded):
    got = {}

    def view(fname, lines, hits, arcs):
        got[fname] = [n for a, b, n in arcs if n]
        return True

    t = Trace(os.path.join(recorded, "mon.ttrace"))
    try:
        _tracetap.coverage_data([t._reader], view=view, arcs=True, branch=True)
    finally:
        t.close()
    assert got and all(set(v) <= {1} for v in got.values())


def test_covproject_equals_coverage_py(tmp_path):
    """The coverage project: the branch report of --coverage --branch is
    that of legacy --count --branch and coverage.py's own."""
    if importlib.util.find_spec("coverage") is None:
        pytest.skip("coverage.py (the reference) is not installed")
    work = str(tmp_path / "p")
    shutil.copytree(os.path.join(HERE, "covproject"), work,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _run(["-m", "coverage", "run", "--branch", "--source=covpkg",
          "--data-file=" + os.path.join(work, ".coverage"), "main.py"], work)
    _run(["-m", "coverage", "json", "--data-file=" +
          os.path.join(work, ".coverage"), "-o", "cov.json"], work)
    _run(["-m", "tracetap", "run", "--coverage", "--branch", "-o", "mon.ttrace",
          "main.py"], work)
    _run(["-m", "tracetap", "run", "--backend", "legacy", "--count", "--branch",
          "-o", "leg.ttrace", "main.py"], work)
    mon = _branches(work, "mon.ttrace", "--source", "covpkg")
    assert mon == _branches(work, "leg.ttrace", "--source", "covpkg")
    with open(os.path.join(work, "cov.json")) as f:
        ref = json.load(f)["files"]
    for rel, rf in ref.items():
        got = mon[os.path.join(work, rel)]
        assert got == (sorted(map(tuple, rf["executed_branches"])),
                       sorted(map(tuple, rf["missing_branches"]))), rel
    assert any(m for _, m in mon.values())


SCENARIOS = osup.discover_scenarios()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_scenario_branch_reports_equal_legacy(scenario, scenario_workdir):
    """Every scenario program of the suite: the same branch report from
    both recordings (and the marked arcs a subset of legacy's)."""
    target = [scenario.path, *scenario.args]
    out = {}
    for name, flags in (("mon", ["--coverage", "--branch"]),
                        ("leg", ["--backend", "legacy", "--count", "--branch"])):
        path = os.path.join(scenario_workdir, f"{scenario.name}.{name}.ttrace")
        proc = osup.run([sys.executable, "-m", "tracetap", "run", "-o", path,
                         *flags, *target], scenario_workdir)
        assert proc.returncode == scenario.exit_code, proc.stderr[-2000:]
        out[name] = path
    src = os.path.dirname(scenario.path)
    mon = _branches(scenario_workdir, out["mon"], "--source", src)
    leg = _branches(scenario_workdir, out["leg"], "--source", src)
    assert mon == leg, scenario.name
    leg_arcs = _raw_arcs(out["leg"])
    for f, arcs in _raw_arcs(out["mon"]).items():
        assert arcs <= leg_arcs.get(f, set()), (f, sorted(arcs - leg_arcs[f]))


@pytest.mark.parametrize("module", ["textwrap", "argparse"])
def test_stdlib_module_branch_report_equals_legacy(tmp_path, module):
    """A standard library module under its own tests (branchy code not
    written for this test): the same executed and missing branches."""
    work = str(tmp_path)
    paths = {}
    for name, flags in (("mon", ["--coverage", "--branch"]),
                        ("leg", ["--backend", "legacy", "--count", "--branch"])):
        paths[name] = os.path.join(work, name + ".ttrace")
        proc = osup.run([sys.executable, "-m", "tracetap", "run", "-o",
                         paths[name], *flags, "--include", f"*/{module}.py",
                         "-m", "unittest", "-q", f"test.test_{module}"], work)
        if "No module named" in proc.stderr:
            pytest.skip(f"test.test_{module} is not installed")
        assert os.path.exists(paths[name]), proc.stderr[-2000:]
    got = {name: _branches(work, path, "--include", f"*/{module}.py")
           for name, path in paths.items()}
    assert got["mon"] == got["leg"]
    (executed, _), = got["leg"].values()
    assert len(executed) > 20
