"""`--coverage` (hits only, on the sys.monitoring backend; issue 17):
the lines it records are exactly the lines `--count` counts non-zero, on
every scenario program, and both are stdlib trace's (the oracle); on the
coverage project its report is coverage.py's; threads, --threads main,
filters, running frames, and coexistence with coverage.py's own sysmon
core (tool id 1) in the same process. On 3.11 it falls back to --count
and says so once."""

import importlib.util
import json
import os
import shutil
import sys

import coverage_support as cs
import oracle_support as osup
import pytest

from conftest import capture_python, capture_write

SCENARIOS = osup.discover_scenarios()
PROGRAMS_GLOB = os.path.join(osup.PROGRAMS_DIR, "*")
HERE = os.path.dirname(os.path.abspath(__file__))
MON = sys.version_info >= (3, 12)

needs_monitoring = pytest.mark.skipif(
    not MON, reason="--coverage records on sys.monitoring (3.12+); 3.11 "
    "falls back to --count (test_fallback_on_3_11)")


def _record(target, cwd, out, *flags):
    proc = osup.run([sys.executable, "-m", "tracetap", "run", "-o", out,
                     *flags, *target], cwd)
    assert os.path.exists(out), proc.stderr[-3000:]
    return proc


def _hit_sets(cov, keep=None):
    """{file: set of lines with a non-zero count}."""
    return {p: {ln for ln, n in c.items() if n}
            for p, c in cs.counts_of(cov, keep).items()}


def _in_programs(path):
    return path.startswith(osup.PROGRAMS_DIR + os.sep)


@needs_monitoring
@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_coverage_lines_equal_count_and_trace(scenario, scenario_workdir):
    target = [scenario.path, *scenario.args]
    base = os.path.join(scenario_workdir, "mon-" + scenario.name)
    p1 = _record(target, scenario_workdir, base + ".cov.ttrace", "--coverage")
    p2 = _record(target, scenario_workdir, base + ".cnt.ttrace", "--count")
    assert p1.returncode == scenario.exit_code, p1.stderr[-2000:]
    assert p2.returncode == scenario.exit_code, p2.stderr[-2000:]
    cov = cs.coverage_json([base + ".cov.ttrace"], scenario_workdir)
    cnt = cs.coverage_json([base + ".cnt.ttrace"], scenario_workdir)
    oracle = cs.oracle_counts(target, scenario_workdir, base + ".oracle.json",
                              [PROGRAMS_GLOB])
    got = _hit_sets(cov, _in_programs)
    assert got == _hit_sets(cnt, _in_programs), scenario.name
    want = {p: {ln for ln, n in c.items() if n} for p, c in oracle.items()}
    assert {p: s for p, s in got.items() if s} == \
        {p: s for p, s in want.items() if s}, scenario.name
    # the same executable lines
    for path, f in cov["files"].items():
        assert f["executable"] == cnt["files"][path]["executable"], path


@needs_monitoring
def test_coverage_report_equals_count_and_coverage_py(tmp_path):
    """covproject: the text and JSON reports of --coverage are those of
    --count, line for line, and the statements and missing lines are
    coverage.py's (the reference)."""
    if importlib.util.find_spec("coverage") is None:
        pytest.skip("coverage.py (the reference) is not installed")
    work = str(tmp_path / "p")
    shutil.copytree(os.path.join(HERE, "covproject"), work,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env_run = osup.run
    env_run([sys.executable, "-m", "coverage", "run", "--source=covpkg",
             "--data-file=" + os.path.join(work, ".coverage"), "main.py"], work)
    env_run([sys.executable, "-m", "coverage", "json", "--data-file=" +
             os.path.join(work, ".coverage"), "-o", "cov.json"], work)
    with open(os.path.join(work, "cov.json")) as f:
        ref = {os.path.join(work, k): v for k, v in json.load(f)["files"].items()}
    _record(["main.py"], work, os.path.join(work, "c.ttrace"), "--coverage")
    _record(["main.py"], work, os.path.join(work, "n.ttrace"), "--count")
    reports = {}
    for rec in ("c.ttrace", "n.ttrace"):
        text = cs.tracetap(["coverage", "--missing", "--source", "covpkg", rec],
                           work).stdout
        js = json.loads(cs.tracetap(["coverage", "--format", "json", "--source",
                                     "covpkg", rec], work).stdout)
        reports[rec] = (text, js)
    assert reports["c.ttrace"][0] == reports["n.ttrace"][0]
    ours = reports["c.ttrace"][1]["files"]
    assert sorted(ours) == sorted(ref)
    for path, rf in ref.items():
        o = ours[path]
        ran = {int(k) for k in o["counts"]}
        assert o["executable"] == sorted(rf["executed_lines"] + rf["missing_lines"])
        assert [n for n in o["executable"] if n not in ran] == rf["missing_lines"]
        assert o["summary"] == reports["n.ttrace"][1]["files"][path]["summary"]


@needs_monitoring
def test_threads_filters_and_running_frames(tmp_path):
    capture_write(tmp_path, "lib/skip.py", """
        def skipped(x):
            return x + 1
    """)
    capture_write(tmp_path, "prog.py", """
        import sys, threading
        sys.path.insert(0, "lib")
        import skip
        import tracetap

        def in_thread():
            a = 1
            return a

        def main_only():
            return skip.skipped(1)

        def run(path, **kw):
            with tracetap.record(path, coverage=True, **kw) as r:
                t = threading.Thread(target=in_thread)
                t.start(); t.join()
                main_only()
                after = 1
            return r.summary

        s1 = run("all.ttrace", exclude=["*/lib/*"])
        s2 = run("main.ttrace", threads="main")
        print(s1["warnings"], s2["warnings"])
    """)
    r = capture_python("prog.py", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[] []"
    prog = str(tmp_path / "prog.py")
    skip = str(tmp_path / "lib" / "skip.py")
    src = (tmp_path / "prog.py").read_text().splitlines()

    def line(text):
        return next(i for i, s in enumerate(src, 1) if s.strip() == text)

    hits = {}
    for name in ("all", "main"):
        cov = cs.coverage_json([name + ".ttrace"], str(tmp_path))
        hits[name] = _hit_sets(cov)
    a, ret = line("a = 1"), line("return a")
    # the running frame of run() is adopted: its lines after start count
    assert line("after = 1") in hits["all"][prog]
    assert {a, ret} <= hits["all"][prog]                 # the thread's lines
    assert skip not in hits["all"]                       # --exclude
    assert not {a, ret} & hits["main"][prog]             # --threads main
    assert hits["main"][skip] == {2}                     # traced by default
    assert line("return skip.skipped(1)") in hits["main"][prog]


@needs_monitoring
def test_beside_coverage_py_sysmon(tmp_path):
    """coverage.py's sysmon core (tool id 1) and tracetap --coverage (its
    own id) measure the same run in one process: each sees every line
    (DISABLE is per tool), and they agree."""
    if importlib.util.find_spec("coverage") is None:
        pytest.skip("coverage.py is not installed")
    capture_write(tmp_path, "mod.py", """
        def f(n):
            total = 0
            for i in range(n):
                if i % 2:
                    total += i
                else:
                    total -= 1
            return total

        def never():
            return 0
    """)
    capture_write(tmp_path, "prog.py", """
        import json, os, sys
        import coverage
        cov = coverage.Coverage(data_file=None, include=["*/mod.py"])
        cov.start()
        import tracetap
        with tracetap.record("t.ttrace", coverage=True):
            import mod
            mod.f(5)
        cov.stop()
        core = cov._collector.tracer_name() if hasattr(cov._collector, "tracer_name") else ""
        data = cov.get_data()
        path = os.path.abspath("mod.py")
        print(json.dumps([sorted(data.lines(path) or []), str(core)]))
    """)
    env = osup.child_env()
    env["COVERAGE_CORE"] = "sysmon"
    import subprocess
    r = subprocess.run([sys.executable, "prog.py"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    ref_lines, core = json.loads(r.stdout.splitlines()[-1])
    ours = _hit_sets(cs.coverage_json(["t.ttrace"], str(tmp_path)))
    got = ours[str(tmp_path / "mod.py")]
    assert ref_lines and got == set(ref_lines)
    assert 11 not in got                                  # never()
    assert "Sys" in core or core == ""


@pytest.mark.skipif(MON, reason="3.11's fallback")
def test_fallback_on_3_11(tmp_path):
    capture_write(tmp_path, "p.py", "x = 1\nif x:\n    y = 2\n")
    r = capture_python("-m", "tracetap", "run", "--coverage", "-o", "c.ttrace",
                       "p.py", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    said = [ln for ln in r.stderr.splitlines() if "--coverage was recorded" in ln]
    assert len(said) == 1 and "has no sys.monitoring" in said[0]
    cov = cs.coverage_json(["c.ttrace"], str(tmp_path))
    assert _hit_sets(cov) == {str(tmp_path / "p.py"): {1, 2, 3}}


@needs_monitoring
def test_legacy_falls_back_to_count_and_branch_does_not(tmp_path):
    capture_write(tmp_path, "p.py", "x = 1\nif x:\n    y = 2\n")
    for flags in (["--backend", "legacy"], ["--backend", "legacy", "--branch"]):
        r = capture_python("-m", "tracetap", "run", "--coverage", *flags, "-o",
                           "c.ttrace", "p.py", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        said = [ln for ln in r.stderr.splitlines()
                if "--coverage was recorded as --count" in ln]
        assert len(said) == 1 and "--backend legacy was asked" in said[0], \
            r.stderr
        info = capture_python("-m", "tracetap", "info", "c.ttrace", cwd=tmp_path)
        assert "backend: monitoring" not in info.stdout
        assert "coverage_fallback:" in info.stdout
    # --branch records on monitoring (test_coverage_branch_monitoring.py)
    for flags in ([], ["--backend", "monitoring"]):
        r = capture_python("-m", "tracetap", "run", "--coverage", "--branch",
                           *flags, "-o", "b.ttrace", "p.py", cwd=tmp_path)
        assert r.returncode == 0 and "--coverage was recorded" not in r.stderr
        info = capture_python("-m", "tracetap", "info", "b.ttrace", cwd=tmp_path)
        assert "backend: monitoring" in info.stdout
        assert "coverage_fallback:" not in info.stdout


@needs_monitoring
def test_info_and_summary_say_hits_only(tmp_path):
    capture_write(tmp_path, "p.py", "for i in range(3):\n    x = i\n")
    r = capture_python("-m", "tracetap", "run", "--coverage", "-o", "c.ttrace",
                       "p.py", cwd=tmp_path)
    assert "covered lines (hits only, no counts)" in r.stderr
    info = capture_python("-m", "tracetap", "info", "c.ttrace", cwd=tmp_path).stdout
    assert "hits only: no line or call counts" in info
    assert "backend: monitoring" in info and "counts: hits only" in info
    r = capture_python("-m", "tracetap", "run", "--count", "-o", "n.ttrace",
                       "p.py", cwd=tmp_path)
    info = capture_python("-m", "tracetap", "info", "n.ttrace", cwd=tmp_path).stdout
    assert "7 line executions" in info and "hits only" not in info


@needs_monitoring
def test_generator_made_before_the_recording(tmp_path):
    """A generator created before start() and resumed inside the recording
    (no PY_START, only PY_RESUME): its lines count, as --count counts them."""
    capture_write(tmp_path, "prog.py", """
        import sys
        import tracetap

        def gen():
            yield 1
            x = 2
            yield x
            y = 3
            yield y

        g = gen()
        next(g)
        with tracetap.record(sys.argv[1], coverage=sys.argv[2] == "cov",
                             count=sys.argv[2] == "count"):
            next(g)
            next(g)
    """)
    hits = {}
    for mode in ("cov", "count"):
        r = capture_python("prog.py", mode + ".ttrace", mode, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        hits[mode] = _hit_sets(cs.coverage_json([mode + ".ttrace"],
                                                str(tmp_path)))
    prog = str(tmp_path / "prog.py")
    assert {6, 7, 8, 9} <= hits["count"][prog]
    assert hits["cov"] == hits["count"]


@needs_monitoring
def test_run_module_installs_no_trace_hook(tmp_path):
    """`tracetap run --coverage -m MOD` (runpy's set-up with the thread
    detached, then attached again): no legacy trace function is ever
    installed beside the monitoring backend, and MOD's lines are covered."""
    capture_write(tmp_path, "mod.py", """
        import sys, threading
        print(repr(sys.gettrace()), repr(threading.gettrace()))
        x = 1
    """)
    r = capture_python("-m", "tracetap", "run", "--coverage", "-o", "c.ttrace",
                       "-m", "mod", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "None None"
    hits = _hit_sets(cs.coverage_json(["c.ttrace"], str(tmp_path)))
    assert hits[str(tmp_path / "mod.py")] == {1, 2, 3}
