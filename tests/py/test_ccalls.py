"""tracetap run --c-calls: C functions timed under their
own names.

- per-function call counts of the C functions the scenario's code calls
  equal cProfile's (run in a subprocess on the same program; its names,
  ``<built-in method time.sleep>`` and ``<method 'sort' of 'list'
  objects>``, are mapped to ours, ``time.sleep`` and ``list.sort``), and the
  Python functions' counts still equal cProfile's;
- known answer: a 0.2 s ``time.sleep`` is ~0.2 s of ``time.sleep``'s own
  time and no longer its caller's;
- events: the c_call/c_return/c_exception sequence equals what a
  ``sys.setprofile`` function sees in the same program, and a recording
  without --c-calls has no C function in it;
- threads: C calls of worker threads are recorded (threads running before
  the recording started and threads started after);
- C functions called from excluded code are not recorded.
"""

from __future__ import annotations

import json
import os
import pstats
import re
import subprocess
import sys
import textwrap

import pytest

import tracetap
from conftest import capture_calls_backends

TIMEOUT = 300

SCENARIO = """\
import math
import time


def key(x):
    return -x


def double(x):
    return x * 2


class L(list):
    pass


def work(xs):
    sorted(xs, key=key)                 # C calling back into Python
    ys = [3, 1, 2]
    ys.sort()                           # a method of a built-in type
    L([2, 1]).sort()                    # the same C function, a subclass
    len(xs)
    total = sum(map(double, xs))        # map: C calling Python
    d = {}
    d.get(1)
    try:
        math.sqrt(-1)                   # a C function raising
    except ValueError:
        pass
    try:
        d.pop("missing")
    except KeyError:
        pass
    isinstance(total, int)
    return total


def main():
    xs = list(range(20))
    for _ in range(3):
        work(xs)
    time.sleep(0.001)


main()
"""

# A sys.setprofile reference: the C events whose calling frame runs the
# script's code, as (event, C function's __name__), one per line of JSON.
REFERENCE = """\
import json, runpy, sys
script, out = sys.argv[1], sys.argv[2]
seen = []
def prof(frame, event, arg):
    if event.startswith("c_") and frame.f_code.co_filename == script:
        seen.append((event, arg.__name__))
sys.argv[:] = [script]
sys.setprofile(prof)
try:
    runpy.run_path(script, run_name="__main__")
finally:
    sys.setprofile(None)
with open(out, "w") as f:
    json.dump(seen, f)
"""


def _env():
    env = dict(os.environ)
    env.pop("COVERAGE_PROCESS_START", None)
    env["PYTHONHASHSEED"] = "0"
    return env


def _run(args, cwd):
    return subprocess.run([sys.executable, *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=TIMEOUT)


def _write(tmp_path, name, source):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return str(path)


def _record(tmp_path, script, *opts):
    out = str(tmp_path / "rec.ttrace")
    proc = _run(["-m", "tracetap", "run", "-o", out, *opts, script], tmp_path)
    assert proc.returncode == 0, proc.stderr
    return out


def _cprofile_name(name):
    """Our name for a cProfile C function entry, or None if it is not
    one of the two forms the scenario's C functions take."""
    m = re.fullmatch(r"<built-in method ([\w.]+)>", name)
    if m:
        return m.group(1)
    m = re.fullmatch(r"<method '(\w+)' of '([\w.]+)' objects>", name)
    if m:
        return f"{m.group(2)}.{m.group(1)}"
    return None


def _cprofile(tmp_path, script):
    """cProfile on the script: ({C name: calls made from the script's
    code}, {(line, co_name): ncalls} of the script's functions)."""
    out = str(tmp_path / "prof.out")
    proc = _run(["-m", "cProfile", "-o", out, script], tmp_path)
    assert proc.returncode == 0, proc.stderr
    st = pstats.Stats(out).stats
    mine = os.path.realpath(script)
    cfuncs, pyfuncs = {}, {}
    for (file, line, name), (cc, nc, tt, ct, callers) in st.items():
        if file == "~":
            from_script = sum(v[0] for (cf, _, _), v in callers.items()
                              if os.path.realpath(cf) == mine)
            if from_script:
                ours = _cprofile_name(name)
                assert ours is not None, name
                cfuncs[ours] = from_script
        elif os.path.realpath(file) == mine:
            pyfuncs[(line, name)] = nc
    return cfuncs, pyfuncs


def _ours(data, script):
    """The same two tables from a --c-calls recording's calls()."""
    mine = os.path.realpath(script)
    cfuncs, pyfuncs = {}, {}
    for e in data["edges"]:
        caller, callee = e["caller"], e["callee"]
        if e["thread"] is not None or caller is None or \
                not callee["c_function"] or caller["c_function"]:
            continue
        if os.path.realpath(caller["file"]) == mine:
            cfuncs[callee["func"]] = cfuncs.get(callee["func"], 0) + e["calls"]
    for f in data["functions"]:
        if f["thread"] is None and not f["c_function"] and \
                os.path.realpath(f["file"]) == mine:
            pyfuncs[(f["line"], f["func"].rsplit(".", 1)[-1])] = f["calls"]
    return cfuncs, pyfuncs


# The default recording, and calls only on sys.monitoring (conftest.py).
BACKENDS = capture_calls_backends()


@pytest.mark.parametrize("backend", BACKENDS)
def test_counts_equal_cprofile(tmp_path, backend):
    script = _write(tmp_path, "scenario.py", SCENARIO)
    ref_c, ref_py = _cprofile(tmp_path, script)
    data = tracetap.load(_record(tmp_path, script, "--c-calls",
                                 *backend)).calls()
    ours_c, ours_py = _ours(data, script)
    for name in ("builtins.sorted", "list.sort", "builtins.len",
                 "builtins.sum", "dict.get", "math.sqrt", "dict.pop",
                 "builtins.isinstance", "time.sleep"):
        assert name in ref_c, (name, ref_c)     # the scenario covers it
    assert ours_c == ref_c
    assert ours_py == ref_py
    # C calling back into Python: key's caller is sorted, double's is sum
    # (map's iteration runs inside sum).
    callers = {(e["caller"]["func"], e["callee"]["func"]): e["calls"]
               for e in data["edges"]
               if e["thread"] is None and e["caller"] is not None}
    assert callers[("builtins.sorted", "key")] == 60
    assert callers[("builtins.sum", "double")] == 60


def test_sleep_is_its_own_time(tmp_path):
    script = _write(tmp_path, "sleeper.py", """\
        import time

        def sleeper():
            time.sleep(0.2)

        sleeper()
    """)
    data = tracetap.load(_record(tmp_path, script, "--c-calls")).calls()
    rows = {f["func"]: f for f in data["functions"] if f["thread"] is None}
    assert rows["time.sleep"]["c_function"]
    assert rows["time.sleep"]["calls"] == 1
    assert 0.2e9 <= rows["time.sleep"]["tottime_ns"] < 0.35e9
    assert rows["sleeper"]["cumtime_ns"] >= 0.2e9
    assert rows["sleeper"]["tottime_ns"] < 0.05e9
    # Without --c-calls the sleep is the caller's own time, as before.
    plain = tracetap.load(_record(tmp_path, script)).calls()
    rows = {f["func"]: f for f in plain["functions"] if f["thread"] is None}
    assert "time.sleep" not in rows
    assert rows["sleeper"]["tottime_ns"] >= 0.2e9


def _c_events(path):
    proc = _run(["-m", "tracetap", "events", "--json", path],
                os.path.dirname(path))
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.mark.parametrize("backend", BACKENDS)
def test_events_match_setprofile(tmp_path, backend):
    script = _write(tmp_path, "scenario.py", SCENARIO)
    ref_out = str(tmp_path / "ref.json")
    ref_py = _write(tmp_path, "reference.py", REFERENCE)
    proc = _run([ref_py, script, ref_out], tmp_path)
    assert proc.returncode == 0, proc.stderr
    with open(ref_out) as f:
        ref = [tuple(x) for x in json.load(f)]
    assert ("c_exception", "sqrt") in ref and ("c_return", "sort") in ref
    events = _c_events(_record(tmp_path, script, "--c-calls", *backend))
    # The C events whose calling frame (the innermost open Python frame;
    # one thread) runs the script's code, as the reference keeps them.
    ours, stack = [], []
    for e in events:
        if e["kind"] == "call":
            stack.append(e["file"])
        elif e["kind"] == "return":
            stack.pop()
        elif e["kind"].startswith("c_") and stack and stack[-1] == script:
            ours.append((e["kind"], e["func"].rsplit(".", 1)[-1]))
    assert ours == ref
    for e in events:
        if e["kind"].startswith("c_"):
            assert e["file"] == "<built-in>" and e["line"] >= 1, e
    # Without --c-calls: Python events only, as sys.settrace shows them.
    plain = _c_events(_record(tmp_path, script, *backend))
    assert {e["kind"] for e in plain} <= {"call", "line", "return",
                                          "exception"}
    assert all(e["file"] != "<built-in>" for e in plain)
    py_only = [(e["kind"], e["func"], e["line"]) for e in events
               if not e["kind"].startswith("c_")]
    assert py_only == [(e["kind"], e["func"], e["line"]) for e in plain]


def test_threads(tmp_path):
    # One thread runs before the recording starts (its work() frames are
    # entered after), one is started during it.
    script = _write(tmp_path, "threads_c.py", """\
        import threading
        import tracetap

        go = threading.Event()

        def work(n):
            return sorted(range(n), key=abs)

        def early():
            go.wait()
            for _ in range(4):
                work(5)

        def late():
            for _ in range(3):
                work(5)

        t1 = threading.Thread(target=early, name="early")
        t1.start()
        with tracetap.record("threads.ttrace", c_calls=True):
            go.set()
            t2 = threading.Thread(target=late, name="late")
            t2.start()
            t2.join()
            t1.join()
        import sys
        assert sys.getprofile() is None and sys.gettrace() is None
        results = []
        t3 = threading.Thread(target=lambda: results.append(sys.getprofile()))
        t3.start()
        t3.join()
        assert results == [None]
    """)
    proc = _run([script], tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = tracetap.load(str(tmp_path / "threads.ttrace")).calls()
    names = {t["thread"]: t["name"] for t in data["threads"]}
    sorted_by = {names[f["thread"]]: f["calls"] for f in data["functions"]
                 if f["thread"] is not None and f["func"] == "builtins.sorted"}
    assert sorted_by == {"early": 4, "late": 3}


@pytest.mark.parametrize("backend", BACKENDS)
def test_excluded_code_not_recorded(tmp_path, backend):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "helper.py").write_text("def helper(xs):\n    return sorted(xs)\n")
    script = _write(tmp_path, "main_ex.py", """\
        import sys
        sys.path.insert(0, "lib")
        from helper import helper

        def main():
            helper([2, 1])
            return max(1, 2)

        main()
    """)
    data = tracetap.load(_record(tmp_path, script, "--c-calls",
                                 "--exclude", "*/lib/*", *backend)).calls()
    names = {f["func"] for f in data["functions"] if f["thread"] is None}
    assert "builtins.max" in names
    assert "builtins.sorted" not in names and "helper" not in names


def test_usage_errors(tmp_path):
    script = _write(tmp_path, "x.py", "pass\n")
    for bad in (["--count"], ["--no-calls"]):
        proc = _run(["-m", "tracetap", "run", "--c-calls", *bad, script],
                    tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert "--c-calls" in proc.stderr
    with pytest.raises(ValueError):
        tracetap.record(str(tmp_path / "x.ttrace"), c_calls=True, count=True)
    # Another profile function holds the hook: refused, nothing left behind.
    busy = _write(tmp_path, "busy.py", """\
        import sys
        import tracetap

        def prof(frame, event, arg):
            pass

        sys.setprofile(prof)
        try:
            tracetap.record("busy.ttrace", c_calls=True).start()
        except RuntimeError as exc:
            assert "profile function" in str(exc), exc
            assert sys.getprofile() is prof and sys.gettrace() is None
            print("refused")
    """)
    proc = _run([busy], tmp_path)
    assert proc.returncode == 0 and proc.stdout == "refused\n", proc.stderr


def test_pstats_names_c_functions(tmp_path):
    script = _write(tmp_path, "sleeper2.py", """\
        import time

        def f():
            time.sleep(0.01)

        f()
    """)
    rec = _record(tmp_path, script, "--c-calls")
    out = str(tmp_path / "out.prof")
    proc = _run(["-m", "tracetap", "calls", rec, "--format", "pstats", "-o",
                 out], tmp_path)
    assert proc.returncode == 0, proc.stderr
    st = pstats.Stats(out).stats
    key = ("~", 0, "<built-in method time.sleep>")
    assert key in st and st[key][1] == 1
    assert any(os.path.basename(c[0]) == "sleeper2.py" for c in st[key][4])


def test_lines_and_timeline_agree_with_calls(tmp_path):
    """With --c-calls, a C function is a callee of the line that called it
    (its time leaves that line's own time, as it leaves the caller's
    tottime), with no line rows of its own; a timeline gives it a slice,
    which a c_exception closes (no RETURN follows)."""
    from test_export_perfetto import _check_against_calls, _parse_perfetto
    from test_lines import _check_consistent

    script = _write(tmp_path, "scenario.py", SCENARIO)
    path = _record(tmp_path, script, "--c-calls")
    with tracetap.load(path) as t:
        lines, calls = t.lines(), t.calls()
    python_only = dict(calls, functions=[f for f in calls["functions"]
                                         if not f["c_function"]])
    assert len(python_only["functions"]) < len(calls["functions"])
    _check_consistent(lines, python_only)
    assert not [f for f in lines["functions"] if f["file"] == "<built-in>"]

    out = str(tmp_path / "scenario.perfetto-trace")
    proc = _run(["-m", "tracetap", "export", path, "--format", "perfetto",
                 "-o", out], tmp_path)
    assert proc.returncode == 0, proc.stderr
    with open(out, "rb") as f:
        slices, _, _, _ = _parse_perfetto(f.read())   # balanced, nested
    funcs = {(f["file"], f["func"], f["line"]): f
             for f in calls["functions"] if f["thread"] is None}
    got = _check_against_calls(slices, funcs)
    by_func = {k[1]: n for k, n in got.items()}
    assert by_func["math.sqrt"] == 3 and by_func["dict.pop"] == 3   # raised
