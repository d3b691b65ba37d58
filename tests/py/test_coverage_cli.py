"""`tracetap coverage`: every output format, merging, the Python API and
usage errors, on recordings of the scenario programs.

- text: the table agrees with the JSON numbers; --missing ranges are
  recomputed here from the JSON;
- annotate: each .cover file equals what stdlib trace's own
  CoverageResults.write_results writes for the same counts, except on the
  documented docstring lines;
- lcov: genhtml (Debian's lcov) renders it with no warning;
- cobertura: valid against tests/data/coverage-04.dtd (lxml, else xmllint);
- json / API: tracetap.load(p).coverage() is the JSON's data;
- merging A and B sums the counts.
"""

import glob
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import trace

import coverage_support as cs
import oracle_support as osup
import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tracetap") is None,
    reason="tracetap is not installed for %s" % sys.executable)

SCENARIO = "classes"            # the recordings most tests below read
MERGE_SCENARIO = "generators"


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    """rec(name, count=False) -> path of a recording of a scenario."""
    workdir = str(tmp_path_factory.mktemp("covcli"))
    cache = {}

    def get(name, count=False):
        key = (name, count)
        if key not in cache:
            s = osup.scenario_by_name(name)
            out = os.path.join(workdir, "%s.%d.ttrace" % (name, count))
            cs.record([s.path, *s.args], workdir, out, count=count)
            cache[key] = out
        return cache[key]
    get.workdir = workdir
    return get


def _scenario_file(name):
    return osup.scenario_by_name(name).path


def test_text_table_and_missing(rec):
    path = rec(SCENARIO)
    cov = cs.coverage_json([path], rec.workdir, raw=False)
    text = cs.tracetap(["coverage", path], rec.workdir).stdout
    missing = cs.tracetap(["coverage", "--missing", path], rec.workdir).stdout
    assert text.splitlines()[0].split() == ["File", "Lines", "Ran", "Missed",
                                            "Cover"]
    assert missing.splitlines()[0].split()[-1] == "Missing"
    target = _scenario_file(SCENARIO)
    data = cov["files"][target]
    s = data["summary"]
    rows = [l for l in missing.splitlines()
            if l.split() and target.endswith(l.split()[0])]
    assert len(rows) == 1, missing
    fields = rows[0].split(None, 5)
    assert [int(x) for x in fields[1:4]] == [s["executable"], s["covered"],
                                             s["missed"]]
    want = cs.missing_ranges(data["executable"], data["counts"])
    assert want, "the scenario should miss some lines"
    assert fields[5].strip() == want
    total = [l for l in text.splitlines() if l.startswith("TOTAL")][0].split()
    t = cov["totals"]
    assert [int(x) for x in total[1:4]] == [t["executable"], t["covered"],
                                           t["missed"]]


def test_annotate_matches_stdlib_trace_layout(rec, tmp_path):
    name = SCENARIO
    target = _scenario_file(name)
    cov = cs.coverage_json([rec(name)], rec.workdir)
    ours_dir = tmp_path / "ours"
    cs.tracetap(["coverage", "--format", "annotate", "-o", str(ours_dir),
                 rec(name)], rec.workdir)
    # trace's own writer, fed the same counts
    counts = {(target, int(k)): v
              for k, v in cov["files"][target]["counts"].items()}
    theirs_dir = tmp_path / "theirs"
    trace.CoverageResults(counts=counts).write_results(
        show_missing=True, summary=False, coverdir=str(theirs_dir))
    theirs = glob.glob(str(theirs_dir / ("*" + name + ".cover")))
    ours = glob.glob(str(ours_dir / ("*" + name + ".cover")))
    assert len(theirs) == 1 and len(ours) == 1, (theirs, ours)
    with open(theirs[0], encoding="utf-8") as f:
        t_lines = f.read().splitlines()
    with open(ours[0], encoding="utf-8") as f:
        o_lines = f.read().splitlines()
    assert len(t_lines) == len(o_lines)
    docstrings = set(trace._find_strings(target))
    differ = [i + 1 for i, (a, b) in enumerate(zip(t_lines, o_lines)) if a != b]
    for n in differ:
        assert n in docstrings, (
            "line %d: trace %r, tracetap %r" % (n, t_lines[n - 1],
                                                o_lines[n - 1]))
        assert t_lines[n - 1].startswith("       ")
        assert o_lines[n - 1].startswith(">>>>>> ")
    assert any(l.startswith(">>>>>> ") for l in o_lines)
    assert any(re.match(r"^ {0,4}\d+: ", l) for l in o_lines)


def _genhtml():
    exe = shutil.which("genhtml")
    if exe is None:
        pytest.skip("genhtml (Debian package lcov) is not installed and the "
                    "test driver could not install it (needs root and "
                    "apt-get: apt-get install lcov)")
    return exe


def test_lcov_renders_with_genhtml_without_warnings(rec, tmp_path):
    genhtml = _genhtml()
    info = tmp_path / "lcov.info"
    cs.tracetap(["coverage", "--format", "lcov", "-o", str(info),
                 rec(SCENARIO), rec(MERGE_SCENARIO, count=True)], rec.workdir)
    text = info.read_text()
    assert text.count("end_of_record") == text.count("SF:") >= 2
    for tag in ("TN:", "FN:", "FNDA:", "FNF:", "FNH:", "DA:", "LF:", "LH:"):
        assert tag in text
    proc = subprocess.run([genhtml, "-o", str(tmp_path / "html"), str(info)],
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "warning" not in out.lower(), out
    assert (tmp_path / "html" / "index.html").exists()


def _validate_dtd(xml_path):
    """None if valid, else the validator's complaint."""
    try:
        from lxml import etree
    except ImportError:
        etree = None
    if etree is not None:
        with open(cs.DTD, "rb") as f:
            dtd = etree.DTD(f)
        doc = etree.parse(str(xml_path))
        return None if dtd.validate(doc) else str(dtd.error_log.filter_from_errors())
    xmllint = shutil.which("xmllint")
    if xmllint is None:
        pytest.skip("neither lxml nor xmllint is available to validate "
                    "against the DTD")
    p = subprocess.run([xmllint, "--noout", "--dtdvalid", cs.DTD,
                        str(xml_path)], capture_output=True, text=True)
    return None if p.returncode == 0 else p.stderr


def test_cobertura_is_valid_and_consistent(rec, tmp_path):
    out = tmp_path / "coverage.xml"
    paths = [rec(SCENARIO), rec(MERGE_SCENARIO, count=True)]
    cs.tracetap(["coverage", "--format", "cobertura", "-o", str(out), *paths],
                rec.workdir)
    problem = _validate_dtd(out)
    assert problem is None, problem
    import xml.etree.ElementTree as ET
    root = ET.parse(out).getroot()
    cov = cs.coverage_json(paths, rec.workdir, raw=False)
    assert int(root.get("lines-valid")) == cov["totals"]["executable"]
    assert int(root.get("lines-covered")) == cov["totals"]["covered"]
    source = root.find("sources/source").text
    seen = {}
    for cls in root.iter("class"):
        path = os.path.join(source, cls.get("filename"))
        seen[path] = {int(l.get("number")): int(l.get("hits"))
                      for l in cls.iter("line")}
    for path, data in cov["files"].items():
        want = {l: int(data["counts"].get(str(l), 0))
                for l in data["executable"]}
        assert seen[path] == want, path


def test_json_equals_api_and_merge_sums(rec):
    full, cnt = rec(MERGE_SCENARIO), rec(MERGE_SCENARIO, count=True)
    one = cs.coverage_json([full], rec.workdir)
    import tracetap
    with tracetap.load(full) as t:
        api = t.coverage()
    assert json.loads(json.dumps(api)) == one
    merged = cs.coverage_json([full, cnt], rec.workdir)
    for path, data in one["files"].items():
        m = merged["files"][path]
        assert m["executable"] == data["executable"]
        assert m["counts"] == {k: 2 * v for k, v in data["counts"].items()}
        assert m["summary"]["covered"] == data["summary"]["covered"]
    assert merged["totals"]["executable"] == one["totals"]["executable"]


def test_usage_errors(rec, tmp_path):
    path = rec(SCENARIO)
    for args in (["coverage"],
                 ["coverage", "--format", "annotate", path],
                 ["coverage", "--format", "nope", path]):
        p = cs.tracetap(args, rec.workdir, check=False)
        assert p.returncode == 2, (args, p.stderr)
        assert "usage" in p.stderr.lower()
        assert p.stdout == ""
    p = cs.tracetap(["coverage", str(tmp_path / "missing.ttrace")],
                    rec.workdir, check=False)
    assert p.returncode == 1 and "missing.ttrace" in p.stderr
    junk = tmp_path / "junk.ttrace"
    junk.write_bytes(b"not a recording")
    p = cs.tracetap(["coverage", str(junk)], rec.workdir, check=False)
    assert p.returncode == 1 and p.stderr
    help_ = cs.tracetap(["coverage", "--help"], rec.workdir)
    assert "examples:" in help_.stdout and "--format" in help_.stdout
    for flag in ("--opcodes", "--no-lines"):
        p = cs.tracetap(["run", "--count", flag, "x.py"], rec.workdir,
                        check=False)
        assert p.returncode == 2 and "cannot be combined" in p.stderr, p.stderr
    import tracetap
    for kw in ({"opcodes": True}, {"lines": False}):
        with pytest.raises(ValueError, match="no event log"):
            tracetap.record(tmp_path / "n.ttrace", count=True, **kw)


def test_count_run_summary_says_what_was_counted(tmp_path):
    """`run --count` writes no event log, so its summary reports the lines
    it counted (matching the coverage totals), not "0 events"."""
    out = str(tmp_path / "c.ttrace")
    proc = cs.record([_scenario_file(SCENARIO)], str(tmp_path), out, count=True)
    totals = json.loads(cs.tracetap(["coverage", "--format", "json",
                                     "--raw-lines", out],
                                    str(tmp_path)).stdout)["totals"]
    m = re.search(r"counted lines over [\d.]+ s -> .*: ([\d,]+) of ([\d,]+) "
                  r"executable lines ran in ([\d,]+) files?", proc.stderr)
    assert m, proc.stderr
    ran, executable, files = (int(g.replace(",", "")) for g in m.groups())
    assert (ran, executable, files) == (totals["covered"], totals["executable"],
                                        totals["files"])
    assert totals["covered"] > 0
    assert "0 events" not in proc.stderr
