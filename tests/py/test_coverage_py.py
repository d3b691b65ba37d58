"""tracetap coverage agrees with coverage.py (the reference) on a small
project: statements, missing lines, executed and missing branch arcs and
percentages, from a full recording; plus the defaults (installed packages
not recorded), --fail-under, the pyproject configuration, LCOV branches
through genhtml and Cobertura branches against the DTD.

The project (tests/py/covproject) is copied to a fresh directory and run
three ways in child processes:

    python -m coverage run --branch --source=covpkg main.py; coverage json
    python -m tracetap run -o full.ttrace main.py
    python -m tracetap coverage --format json --branch --source covpkg ...

Where coverage.py's view differs from tracetap's, the difference is listed
in EXPECTED_DIFFERENCES with its reason, and asserted to be exactly that.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import coverage_support as cs
import oracle_support as osup
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.join(HERE, "covproject")

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("tracetap") is None,
                       reason="tracetap is not installed"),
    pytest.mark.skipif(importlib.util.find_spec("coverage") is None,
                       reason="coverage.py (the reference) is not installed"),
]

# (file, kind) -> what differs and why. Empty: on this project tracetap
# and coverage.py agree exactly on every file and number.
EXPECTED_DIFFERENCES: dict = {}


def _run(args, cwd, check=True):
    proc = osup.run([sys.executable, *args], cwd)
    if check and proc.returncode != 0:
        raise AssertionError("%s exited %s\n%s\n%s" % (
            args, proc.returncode, proc.stdout[-2000:], proc.stderr[-3000:]))
    return proc


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A fresh copy of covproject with coverage.py's JSON, a full and a
    --count recording; returns (dir, coverage.py's data)."""
    root = tmp_path_factory.mktemp("covproject")
    work = str(root / "p")
    shutil.copytree(PROJECT, work,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _run(["-m", "coverage", "run", "--branch", "--source=covpkg",
          "--data-file=" + os.path.join(work, ".coverage"), "main.py"], work)
    _run(["-m", "coverage", "json", "--data-file=" +
          os.path.join(work, ".coverage"), "-o", "cov.json"], work)
    with open(os.path.join(work, "cov.json")) as f:
        ref = json.load(f)
    cs.record(["main.py"], work, os.path.join(work, "full.ttrace"))
    _run(["-m", "tracetap", "run", "--count", "--branch", "-o",
          os.path.join(work, "count.ttrace"), "main.py"], work)
    return work, ref


def _ours(work, *extra, rec="full.ttrace"):
    proc = cs.tracetap(["coverage", "--format", "json", "--branch",
                        "--source", "covpkg", *extra, rec], work)
    return json.loads(proc.stdout)


def _compare(ref_file, ours_file):
    """{kind: (reference, ours)} for every kind that differs."""
    rs, os_ = ref_file["summary"], ours_file["summary"]
    stmts = sorted(ref_file["executed_lines"] + ref_file["missing_lines"])
    ran = sorted(int(k) for k in ours_file["counts"])
    pairs = {
        "statements": (stmts, ours_file["executable"]),
        "missing": (ref_file["missing_lines"],
                    [n for n in ours_file["executable"] if n not in ran]),
        "executed_branches": (sorted(map(tuple, ref_file["executed_branches"])),
                              sorted(map(tuple, ours_file["executed_branches"]))),
        "missing_branches": (sorted(map(tuple, ref_file["missing_branches"])),
                             sorted(map(tuple, ours_file["missing_branches"]))),
        "branches": ((rs["num_branches"], rs["covered_branches"],
                      rs["num_partial_branches"]),
                     (os_["branches"], os_["branches_hit"], os_["partial"])),
        "percent": (round(rs["percent_covered"], 2), os_["percent"]),
    }
    return {k: v for k, v in pairs.items() if v[0] != v[1]}


@pytest.mark.parametrize("rec", ["full.ttrace", "count.ttrace"])
def test_recording_agrees_with_coverage_py(project, rec):
    """A full recording (arcs from its LINE events) and a --count --branch
    one (arcs counted in capture) both give coverage.py's numbers."""
    work, ref = project
    ours = _ours(work, rec=rec)
    ref_files = {os.path.join(work, k): v for k, v in ref["files"].items()}
    assert sorted(ref_files) == sorted(ours["files"])
    assert len(ref_files) == 3          # __init__, branches, never_imported
    for path, rf in ref_files.items():
        diff = _compare(rf, ours["files"][path])
        rel = os.path.relpath(path, work)
        want = {k: v for (f, k), v in EXPECTED_DIFFERENCES.items() if f == rel}
        assert diff == want, (rel, diff)
    # The project exercises what the issue names, so the comparison means
    # something: partial branches, missed lines, a never-imported file.
    br = ours["files"][os.path.join(work, "covpkg", "branches.py")]
    assert br["missing_branches"] and br["summary"]["partial"] > 0
    never = ours["files"][os.path.join(work, "covpkg", "never_imported.py")]
    assert never["counts"] == {} and never["summary"]["percent"] == 0.0
    t = ours["totals"]
    assert round(ref["totals"]["percent_covered"], 2) == t["percent"]


def test_raw_lines_are_kept(project):
    """The statement view replaces CPython's lines in the report, but the
    JSON keeps them: a multi-line statement is one statement and several
    raw lines; docstrings are raw lines (module and class ones run)."""
    work, _ = project
    f = _ours(work)["files"][os.path.join(work, "covpkg", "branches.py")]
    raw, stmts = set(f["raw_lines"]), set(f["executable"])
    with open(os.path.join(work, "covpkg", "branches.py")) as src:
        lines = src.read().splitlines()
    total = lines.index("    total = (") + 1
    span = set(range(total + 1, total + 5))
    assert total in stmts and not span & stmts  # one statement...
    assert span & raw                           # ...over several raw lines
    assert 1 in raw and 1 not in stmts          # the module docstring
    never = lines.index("    def never(self):  # pragma: no cover") + 1
    assert never not in stmts and never in raw


def test_text_report_shows_partial_branches_like_coverage_py(project):
    work, _ = project
    ref = _run(["-m", "coverage", "report", "-m", "--data-file=" +
                os.path.join(work, ".coverage")], work).stdout
    ours = cs.tracetap(["coverage", "--branch", "--missing", "--source",
                        "covpkg", "full.ttrace"], work).stdout

    def missing_of(text, name):
        row = [l for l in text.splitlines() if l.startswith(name)]
        assert len(row) == 1, text
        cells = row[0].split("%", 1)
        return cells[1].strip() if len(cells) > 1 else ""

    name = os.path.join("covpkg", "branches.py")
    assert missing_of(ours, name) == missing_of(ref, name)
    assert "->" in missing_of(ours, name)
    header = ours.splitlines()[0].split()
    assert header[4:6] == ["Branch", "BrPart"]


def test_fail_under_exit_codes(project):
    work, ref = project
    pct = ref["totals"]["percent_covered"]
    base = ["coverage", "--branch", "--source", "covpkg", "full.ttrace"]
    ok = cs.tracetap([*base, "--fail-under", "%.2f" % (pct - 1)], work)
    assert ok.returncode == 0 and "failure" not in ok.stderr
    low = cs.tracetap([*base, "--fail-under", "%.2f" % (pct + 1)], work,
                      check=False)
    assert low.returncode == 2
    assert "below --fail-under" in low.stderr
    assert "TOTAL" in low.stdout                 # the report is still written
    full = cs.tracetap([*base, "--fail-under", "100"], work, check=False)
    assert full.returncode == 2


def test_pyproject_config_and_precedence(project, tmp_path):
    work, ref = project
    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    # Relative entries are relative to the file's directory.
    rel = os.path.relpath(work, cfg_dir)
    (cfg_dir / "pyproject.toml").write_text(
        "[tool.tracetap]\n"
        "branch = true\n"
        "source = ['%s/covpkg']\n"
        "omit = ['*/never_imported.py']\n"
        "fail-under = 99.5\n"
        "exclude-also = ['return \"polygon\"']\n" % rel)
    rec = os.path.join(work, "full.ttrace")
    proc = cs.tracetap(["coverage", "--format", "json", rec], str(cfg_dir),
                       check=False)
    assert proc.returncode == 2, proc.stderr     # fail-under from the file
    data = json.loads(proc.stdout)
    files = sorted(os.path.relpath(p, work) for p in data["files"])
    assert files == [os.path.join("covpkg", "__init__.py"),
                     os.path.join("covpkg", "branches.py")]
    br = data["files"][os.path.join(work, "covpkg", "branches.py")]
    assert "missing_branches" in br              # branch = true
    with open(os.path.join(work, "covpkg", "branches.py")) as src:
        polygon = src.read().splitlines().index('        return "polygon"') + 1
    assert polygon not in br["executable"]       # exclude-also
    ref_br = ref["files"][os.path.join("covpkg", "branches.py")]
    assert len(br["executable"]) == ref_br["summary"]["num_statements"] - 1
    # The command line wins over the file: a value, or a whole list.
    proc = cs.tracetap(["coverage", "--format", "json", "--fail-under", "1",
                        "--omit", "*/__init__.py", rec], str(cfg_dir))
    data = json.loads(proc.stdout)
    assert sorted(os.path.basename(p) for p in data["files"]) == [
        "branches.py", "never_imported.py"]
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "pyproject.toml").write_text("[tool.tracetap]\nbranchy = 1\n")
    proc = cs.tracetap(["coverage", rec], str(bad), check=False)
    assert proc.returncode == 2 and "branchy" in proc.stderr


def test_lcov_branches_render_with_genhtml(project, tmp_path):
    genhtml = shutil.which("genhtml")
    if genhtml is None:
        pytest.skip("genhtml (lcov) is not installed")
    work, ref = project
    info = tmp_path / "lcov.info"
    cs.tracetap(["coverage", "--format", "lcov", "--branch", "--source",
                 "covpkg", "-o", str(info), "full.ttrace"], work)
    text = info.read_text()
    brda = [l for l in text.splitlines() if l.startswith("BRDA:")]
    ref_br = ref["files"][os.path.join("covpkg", "branches.py")]["summary"]
    # Every branch exit is a BRDA record (none is under `no branch` and
    # never taken here, the one kind LCOV cannot say).
    assert "BRF:%d" % ref_br["num_branches"] in text
    assert "BRH:%d" % ref_br["covered_branches"] in text
    assert len(brda) == sum(f["summary"]["num_branches"]
                            for f in ref["files"].values())
    proc = subprocess.run([genhtml, "--branch-coverage", "-o",
                           str(tmp_path / "html"), str(info)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in (proc.stdout + proc.stderr).upper(), proc.stderr


def test_cobertura_branches_validate(project, tmp_path):
    work, ref = project
    out = tmp_path / "coverage.xml"
    cs.tracetap(["coverage", "--format", "cobertura", "--branch", "--source",
                 "covpkg", "-o", str(out), "full.ttrace"], work)
    from test_coverage_cli import _validate_dtd
    problem = _validate_dtd(out)
    assert problem is None, problem
    import xml.etree.ElementTree as ET
    root = ET.parse(out).getroot()
    t = ref["totals"]
    assert int(root.get("branches-valid")) == t["num_branches"]
    assert int(root.get("branches-covered")) == t["covered_branches"]
    conds = [l.get("condition-coverage") for l in root.iter("line")
             if l.get("branch") == "true"]
    assert len(conds) == sum(1 for f in ref["files"].values()
                             for _ in _branch_lines(f))


def _branch_lines(ref_file):
    lines = {a for a, _ in ref_file["executed_branches"]}
    lines |= {a for a, _ in ref_file["missing_branches"]}
    return sorted(lines)


def test_installed_packages_are_not_recorded_by_default(tmp_path):
    """A program that imports a site-packages module (pytest's own
    `iniconfig`, or `_pytest`) records none of it by default; --third-party
    brings it back."""
    import _pytest
    site_file = os.path.realpath(_pytest.__file__)
    prog = tmp_path / "prog.py"
    prog.write_text("import _pytest.outcomes as o\n"
                    "try:\n    o.skip('x')\nexcept BaseException:\n    pass\n")
    out = str(tmp_path / "d.ttrace")
    cs.record([str(prog)], str(tmp_path), out)
    files = cs.coverage_json([out], str(tmp_path))["files"]
    assert str(prog) in files
    site_dir = os.path.dirname(site_file)
    assert not [f for f in files if os.path.realpath(f).startswith(site_dir)]
    out3 = str(tmp_path / "t.ttrace")
    proc = osup.run([sys.executable, "-m", "tracetap", "run", "--third-party",
                     "-o", out3, str(prog)], str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    files = cs.coverage_json([out3], str(tmp_path))["files"]
    assert [f for f in files if os.path.realpath(f).startswith(site_dir)]
    # --include brings one package back without --third-party.
    out4 = str(tmp_path / "i.ttrace")
    cs.record([str(prog)], str(tmp_path), out4,
              include=[os.path.join(os.path.dirname(_pytest.__file__),
                                    "outcomes.py")])
    files = cs.coverage_json([out4], str(tmp_path))["files"]
    assert [os.path.basename(f) for f in files
            if f.startswith(os.path.dirname(_pytest.__file__))] == ["outcomes.py"]


def test_full_and_count_give_the_same_branch_counts(project):
    """The same run recorded both ways: the taken counts of every branch
    exit are equal (not only taken/not taken)."""
    work, _ = project
    kw = ["--format", "lcov", "--branch", "--source", "covpkg"]
    full = cs.tracetap(["coverage", *kw, "full.ttrace"], work).stdout
    cnt = cs.tracetap(["coverage", *kw, "count.ttrace"], work).stdout
    brda = [l for l in full.splitlines() if l.startswith("BRDA:")]
    assert brda and any(not l.endswith((",0", ",-")) for l in brda)
    assert brda == [l for l in cnt.splitlines() if l.startswith("BRDA:")]


def test_analysis_equals_coverage_py_parser_on_stdlib():
    """Statements, exclusions and possible arcs (hence branch lines and
    their exits) equal coverage.py's own parser's on a spread of standard
    library modules of the interpreter running the tests (every one of
    them agreed when this was written; a sample keeps the test quick)."""
    from coverage.config import DEFAULT_EXCLUDE
    from coverage.misc import join_regex
    from coverage.parser import PythonParser
    from tracetap import _covanalysis as ca

    libdir = os.path.dirname(os.__file__)
    names = sorted(n for n in os.listdir(libdir) if n.endswith(".py"))
    checked = 0
    for name in names[::4]:
        path = os.path.join(libdir, name)
        text = ca.read_source(path)
        ref = PythonParser(text=text, filename=path,
                           exclude=join_regex(DEFAULT_EXCLUDE))
        ref.parse_source()
        ours = ca.analyze_text(text, path)
        assert ours.statements == ref.statements, name
        assert ours.excluded == ref.excluded, name
        assert ours.arcs == ref.arcs(), name
        assert dict(ours.exit_counts()) == dict(ref.exit_counts()), name
        checked += 1
    assert checked > 30
