"""tracetap --objects: survivors made while modules were being
imported are reported apart (module state), and the largest survivor groups
get a referrer chain found at stop (why alive).

- a program that imports json (and a module whose body allocates through a
  function) and leaks three objects reports the three (and what it made
  later at the import's own line) as its survivors, the rest apart;
- a leak kept through a registry (module global -> dict -> list -> object)
  gets the chain that gc.get_referrers finds, in the file, the JSON and the
  text report.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
OBJPROGS = os.path.join(HERE, "objprogs")
TIMEOUT = float(os.environ.get("TRACETAP_TEST_TIMEOUT", "300"))

pytestmark = pytest.mark.skipif(sys.version_info < (3, 13),
                                reason="PyRefTracer needs CPython 3.13+")


def _run(args):
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    env.pop("PYTHONTRACEMALLOC", None)
    return subprocess.run([sys.executable, *args], capture_output=True,
                          text=True, timeout=TIMEOUT, env=env)


def _marks(prog):
    out = {}
    with open(prog, encoding="utf-8") as f:
        for no, text in enumerate(f, 1):
            m = re.search(r"#\s*(LEAK-\w+|LEAK|MAKE)\b(?::\s*(\d+)\s+(\S+))?",
                          text)
            if m:
                out[m.group(1)] = (no, int(m.group(2) or 0), m.group(3))
    return out


def _by_site(rows, path):
    out = {}
    for s in rows:
        if s["file"] == path:
            key = (s["line"], s["type"])
            out[key] = out.get(key, 0) + s["count"]
    return out


@pytest.mark.parametrize("flags", [(), ("--no-calls",)],
                         ids=["calls", "nocalls"])
def test_objects_imports_apart(flags, tmp_path):
    import tracetap

    prog = os.path.join(OBJPROGS, "imports_leak.py")
    helper = os.path.join(OBJPROGS, "importer", "helper.py")
    out = str(tmp_path / "imp.ttrace")
    p = _run(["-m", "tracetap", "run", "-o", out, "--objects", *flags, prog])
    assert p.returncode == 0, p.stderr
    marks = _marks(prog)
    make_line = _marks(helper)["MAKE"][0]
    with tracetap.load(out) as t:
        rep = t.objects()
        mixed = t.objects(imports="mixed")
        hidden = t.objects(imports="hide")
    assert rep["imports"] == "apart" and rep["totals"]["import_spans"] >= 2
    # The program's own survivors: the three bytearrays, and LATE (made
    # by running code at the line whose import-time run made STATE).
    want = {(marks[k][0], marks[k][2]): marks[k][1]
            for k in ("LEAK-A", "LEAK-B", "LEAK-C", "LEAK-P")}
    assert _by_site(rep["survivors"], prog) == want
    assert _by_site(rep["survivors"], helper) == {
        (make_line, "bytearray"): 5, (make_line, "list"): 1}
    # Module state: what `import json` left alive is charged to the import
    # line of the program, and all of it is apart; so is helper's STATE.
    imp = _by_site(rep["import_survivors"], prog)
    json_line = 6                  # `import json`
    assert sum(n for (line, _), n in imp.items() if line == json_line) > 50
    assert all(line != json_line for line, _ in
               _by_site(rep["survivors"], prog))
    assert {k: n for k, n in _by_site(rep["import_survivors"], helper).items()
            if k[0] == make_line} == {(make_line, "bytearray"): 5,
                                      (make_line, "list"): 1}
    # (the module's body made its functions: module state as well)
    assert _by_site(rep["import_survivors"], helper)[(5, "function")] == 1
    # Every verified survivor is in exactly one list; "mixed" adds them up
    # (the pre-issue-19 view), "hide" leaves module state out.
    n_apart = sum(s["count"] for s in rep["survivors"]) + \
        sum(s["count"] for s in rep["import_survivors"])
    assert n_apart == sum(s["count"] for s in mixed["survivors"])
    assert n_apart == rep["totals"]["survived"] - rep["totals"]["unverified"]
    assert "import_survivors" not in hidden
    assert hidden["survivors"] == rep["survivors"]
    # The text report puts module state in its own section, after.
    text = _run(["-m", "tracetap", "objects", out, "--limit", "500"])
    assert text.returncode == 0, text.stderr
    own, state = text.stdout.split("Module state:", 1)
    assert "%s:%d" % (prog, json_line) in state
    assert "%s:%d" % (prog, json_line) not in own.split("Survivors", 1)[1]
    assert "%s:%d" % (prog, marks["LEAK-A"][0]) in own
    no = _run(["-m", "tracetap", "objects", out, "--no-imports"])
    assert no.returncode == 0 and "Module state:" not in no.stdout
    js = json.loads(_run(["-m", "tracetap", "objects", out, "--format",
                          "json", "--imports"]).stdout)
    assert js["imports"] == "mixed" and "import_survivors" not in js


@pytest.mark.parametrize("flags", [(), ("--no-calls",)],
                         ids=["calls", "nocalls"])
def test_objects_why_alive_registry(flags, tmp_path):
    import tracetap

    prog = os.path.join(OBJPROGS, "registry_leak.py")
    out = str(tmp_path / "reg.ttrace")
    p = _run([prog, out, *flags])
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    ref = res["reference"]
    assert ref == ("module '__main__' -> dict['REGISTRY'] -> "
                   "dict['plugins'] -> list -> Plugin")
    summary = res["summary"]
    assert summary["why_alive_paths"] >= 1
    assert 0 < summary["why_alive_ms"] < 1000
    line = _marks(prog)["LEAK"][0]
    with tracetap.load(out) as t:
        rep = t.objects()
    group = [s for s in rep["survivors"]
             if s["file"] == prog and s["line"] == line]
    assert len(group) == 1 and group[0]["count"] == 3
    assert group[0]["type"] == "__main__.Plugin"
    assert group[0]["why_alive"] == ref
    assert [s["kind"] for s in group[0]["why_alive_chain"]] == \
        ["module", "object", "object", "object", "object"]
    assert any(pth["text"] == ref for pth in rep["paths"])
    text = _run(["-m", "tracetap", "objects", out])
    assert "alive through: " + ref in text.stdout


def test_objects_import_wrapper_restored(tmp_path):
    """importlib gets its own _find_and_load back at stop; a reference to
    the wrapper taken during the recording still imports afterwards."""
    code = """
import sys, _frozen_importlib as boot, tracetap
orig = boot._find_and_load
with tracetap.record(sys.argv[1], objects=True, calls=False):
    held = boot._find_and_load
    import colorsys
assert held is not orig, "not wrapped while recording"
assert boot._find_and_load is orig, "not restored"
mod = held("fractions", boot._gcd_import)
assert mod is sys.modules["fractions"]
print("ok")
"""
    p = _run(["-c", code, str(tmp_path / "w.ttrace")])
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "ok"
