"""--include/--omit on the time analyses (`tracetap calls`, `tracetap
lines`): the rule of coverage's options, in every output format. The
reference is the unfiltered report of the same recording: what is kept is
exactly its rows for the files in scope, unchanged; the collapsed stacks'
weights still add up to the traced time (an omitted frame's own time goes
to its caller in scope); pstats (the real consumer) loads the profile.
"""

from __future__ import annotations

import json
import os
import pstats
import subprocess
import sys
import textwrap

TIMEOUT = 300


def _cli(*args, cwd):
    env = dict(os.environ, PYTHONHASHSEED="0")
    return subprocess.run([sys.executable, "-m", "tracetap", *args], cwd=cwd,
                          env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)


def _project(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "__init__.py").write_text("")
    (tmp_path / "lib" / "helper.py").write_text(textwrap.dedent("""
        def work(n):
            total = 0
            for i in range(n):
                total += i * i
            return total
    """))
    (tmp_path / "app.py").write_text(textwrap.dedent("""
        from lib.helper import work

        def step(n):
            return work(n) + 1

        def main():
            return sum(step(2000) for _ in range(30))

        main()
    """))
    rec = str(tmp_path / "app.ttrace")
    proc = _cli("run", "-o", rec, "app.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return rec


def _json(*args, cwd):
    proc = _cli(*args, "--format", "json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _key(f):
    return (f["file"], f["line"], f["func"], f["thread"])


def test_calls_omit_and_include_keep_the_rows_in_scope(tmp_path):
    rec = _project(tmp_path)
    whole = _json("calls", rec, cwd=tmp_path)
    helper = str(tmp_path / "lib" / "helper.py")
    assert any(f["file"] == helper for f in whole["functions"])
    lib = str(tmp_path / "lib") + os.sep
    for args, keep in ((["--omit", "*/lib/*"], lambda p: not p.startswith(lib)),
                       (["--include", "app.py"], lambda p: p.endswith("app.py")),
                       (["--include", "*.py", "--omit", "lib/*"],
                        lambda p: not p.startswith(lib))):
        part = _json("calls", rec, *args, cwd=tmp_path)
        want = {_key(f): f for f in whole["functions"] if keep(f["file"])}
        assert {_key(f): f for f in part["functions"]} == want, args
        assert part["edges"] and all(
            keep(e["callee"]["file"]) and
            (e["caller"] is None or keep(e["caller"]["file"]))
            for e in part["edges"])


def test_collapsed_charges_an_omitted_frame_to_its_caller(tmp_path):
    rec = _project(tmp_path)
    total = round(_json("calls", rec, cwd=tmp_path)["summary"]["traced_ns"]
                  / 1000)
    col = _cli("calls", rec, "--format", "collapsed", "--omit", "*/lib/*",
               cwd=tmp_path)
    assert col.returncode == 0, col.stderr
    stacks = dict(line.rsplit(" ", 1) for line in col.stdout.splitlines())
    assert stacks and not any("helper.py" in s for s in stacks)
    assert sum(int(w) for w in stacks.values()) == total
    # work()'s time now sits on step(), its caller in scope.
    assert any(s.endswith("step (app.py:4)") for s in stacks)


def test_pstats_of_a_scope_loads_in_pstats(tmp_path):
    rec = _project(tmp_path)
    prof = str(tmp_path / "app.prof")
    proc = _cli("calls", rec, "--format", "pstats", "-o", prof,
                "--include", "app.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    st = pstats.Stats(prof)
    assert st.stats and all(k[0].endswith("app.py") for k in st.stats)
    for v in st.stats.values():
        assert all(c[0].endswith("app.py") for c in v[4])
    whole = _json("calls", rec, cwd=tmp_path)
    # pstats counts cProfile's way: resumptions are calls there
    assert st.total_calls == sum(f["calls"] + f["resumes"]
                                 for f in whole["functions"]
                                 if f["thread"] is None and
                                 f["file"].endswith("app.py"))
    shown = subprocess.run(
        [sys.executable, "-c", "import pstats,sys; s=pstats.Stats(sys.argv[1]);"
         "s.print_callers(); s.print_callees()", prof],
        capture_output=True, text=True, timeout=TIMEOUT)
    assert shown.returncode == 0 and "step" in shown.stdout, shown.stderr


def test_lines_scope(tmp_path):
    rec = _project(tmp_path)
    whole = _json("lines", rec, cwd=tmp_path)
    part = _json("lines", rec, "--omit", "*/lib/*", cwd=tmp_path)
    lib = str(tmp_path / "lib") + os.sep
    want = [f for f in whole["functions"] if not f["file"].startswith(lib)]
    assert want and part["functions"] == want
    only = _json("lines", rec, "--include", "lib/*", cwd=tmp_path)
    assert {f["file"] for f in only["functions"]} == {
        str(tmp_path / "lib" / "helper.py"), str(tmp_path / "lib" / "__init__.py")}


def test_help_teaches_the_options(tmp_path):
    for cmd in ("calls", "lines"):
        out = _cli(cmd, "--help", cwd=tmp_path).stdout
        assert "--include GLOB" in out and "--omit GLOB" in out
