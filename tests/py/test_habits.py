"""How `tracetap run` and `tracetap.record()` behave under real
habits: start-up failures are tracetap's errors and leave no file; a
tracer that replaces tracetap's hook and then resets it is reported (and
recording resumes); the body of `with tracetap.record()` is recorded;
summaries that used to mislead say what they mean.

Every case checks against an independent reference: the program run by
plain `python`, a `sys.settrace` recorder, or the file system.
"""

import json
import os
import sys

import pytest
from conftest import capture_python, capture_tracetap, capture_write

import tracetap

HAVE_OBJECTS = sys.version_info >= (3, 13)


def _events(path):
    return list(tracetap.load(path).events())


# ------------------------------------------------------------ item 14

PROGRAM = """
print("the program ran")
"""


def _assert_start_error(proc, out, code=1):
    assert proc.returncode == code, proc.stderr
    assert "the program ran" not in proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("tracetap: error: "), proc.stderr
    assert not os.path.lexists(out) or os.path.islink(out)
    assert not os.path.exists(out)


def test_unwritable_output_is_tracetaps_error(tmp_path):
    script = capture_write(tmp_path, "prog.py", PROGRAM)
    out = tmp_path / "out.ttrace"
    # A dangling symlink: its directory exists (the early check passes),
    # but open(2) fails, whoever runs the test (root included).
    os.symlink(str(tmp_path / "no" / "such" / "dir" / "x.ttrace"), out)
    proc = capture_tracetap("run", "-o", str(out), script, cwd=str(tmp_path))
    _assert_start_error(proc, str(out))
    assert "No such file or directory" in proc.stderr
    assert not os.path.exists(tmp_path / "no")


def test_refused_hook_leaves_no_file(tmp_path):
    """An audit hook that vetoes sys.settrace makes the install fail after
    the file was created: the file goes again."""
    capture_write(tmp_path / "site", "sitecustomize.py", """
        import sys
        def _veto(event, args):
            if event == "sys.settrace":
                raise RuntimeError("no tracing here")
        sys.addaudithook(_veto)
    """)
    script = capture_write(tmp_path, "prog.py", PROGRAM)
    out = tmp_path / "prog.ttrace"
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))
    import subprocess
    proc = subprocess.run([sys.executable, "-m", "tracetap", "run", script],
                          cwd=str(tmp_path), env=env, capture_output=True,
                          text=True, timeout=120)
    _assert_start_error(proc, str(out))
    assert "no tracing here" in proc.stderr  # the veto, said once
    # The reference: without tracetap the program runs.
    plain = subprocess.run([sys.executable, script], cwd=str(tmp_path),
                           env=env, capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0 and "the program ran" in plain.stdout


@pytest.mark.skipif(HAVE_OBJECTS, reason="--objects is refused before 3.13")
def test_objects_refused_is_tracetaps_error(tmp_path):
    script = capture_write(tmp_path, "prog.py", PROGRAM)
    proc = capture_tracetap("run", "--objects", script, cwd=str(tmp_path))
    _assert_start_error(proc, str(tmp_path / "prog.ttrace"))
    assert "3.13" in proc.stderr


def test_bad_option_value_is_usage_error(tmp_path):
    script = capture_write(tmp_path, "prog.py", PROGRAM)
    proc = capture_tracetap("run", "--include", "", script, cwd=str(tmp_path))
    _assert_start_error(proc, str(tmp_path / "prog.ttrace"), code=2)


# ------------------------------------------------------------- item 6

WITH_BODY = """
import json, sys
import tracetap

def f(x):
    return x + 1

def g(n):
    try:
        raise ValueError(n)
    except ValueError:
        return -n

class Reference:
    # What a debugger's set_trace() sees: sys.settrace for what is called,
    # f_trace on every running frame for the rest of theirs.
    def __init__(self):
        self.events = []
    def _tr(self, frame, event, arg):
        if frame.f_code.co_filename == __file__ and frame.f_code.co_qualname \
                not in ("Reference._tr", "Reference.__exit__"):
            self.events.append([event, frame.f_code.co_qualname, frame.f_lineno])
        return self._tr
    def __enter__(self):
        sys.settrace(self._tr)
        frame = sys._getframe(1)
        while frame is not None:
            frame.f_trace = self._tr
            frame = frame.f_back
    def __exit__(self, *exc):
        sys.settrace(None)

def work(rec):
    with rec:
        total = 0
        for i in range(3):
            total += f(i)
        total += g(2)
    return total

mode, out = sys.argv[1], sys.argv[2]
if mode == "reference":
    ref = Reference()
    work(ref)
    with open(out, "w") as fh:
        json.dump(ref.events, fh)
else:
    work(tracetap.record(out, count=(mode == "count")))
"""


def _with_body(tmp_path, mode):
    """Runs WITH_BODY under the set_trace reference and under tracetap in
    `mode`: (script, the reference's events, the recording's path)."""
    script = capture_write(tmp_path, "body.py", WITH_BODY)
    ref_out, out = str(tmp_path / "ref.json"), str(tmp_path / "body.ttrace")
    for how, path in (("reference", ref_out), (mode, out)):
        p = capture_python(script, how, path, cwd=str(tmp_path))
        assert p.returncode == 0, p.stderr
    with open(ref_out) as fh:
        return script, [tuple(e) for e in json.load(fh)], out


def test_with_body_is_recorded_like_set_trace(tmp_path, capture_no_tracer):
    script, expected, out = _with_body(tmp_path, "record")
    got = [(e.kind, e.func, e.line) for e in _events(out) if e.file == script]
    assert got == expected
    body = {e[2] for e in expected if e[0] == "line" and e[1] == "work"}
    assert len(body) >= 4           # the with-body's lines are all there
    trace = tracetap.load(out)
    assert trace.status()["state"] == "complete", trace.status()


def test_with_body_is_counted(tmp_path, capture_no_tracer):
    script, events, out = _with_body(tmp_path, "count")
    expected = {}
    for kind, _func, line in events:
        if kind == "line":
            expected[line] = expected.get(line, 0) + 1
    counts = tracetap.load(out).coverage()["files"][script]["counts"]
    assert {int(k): v for k, v in counts.items()} == expected


# ------------------------------------------------------------- item 2

REPLACED = """
import sys, threading

calls_untraced_by_mine = []   # the reference: what tracetap can see

def g(i):
    return i * 2

def mine(frame, event, arg):
    return None

def session(tag, reset):
    g((tag, 0)); calls_untraced_by_mine.append((tag, 0))
    sys.settrace(mine)
    g((tag, 1))
    if reset:
        sys.settrace(None)
        for k in (2, 3, 4):
            g((tag, k)); calls_untraced_by_mine.append((tag, k))

reset = sys.argv[1] == "reset"
session("main", reset)
t = threading.Thread(target=session, args=("thread", reset))
t.start(); t.join()
print(sorted(calls_untraced_by_mine))
"""


def _g_calls(path, script):
    """The argument of every recorded call of g, read from the line event
    that follows it... g's argument is not recorded, so count per thread."""
    per_thread = {}
    for e in _events(path):
        if e.file == script and e.kind == "call" and e.func == "g":
            per_thread[e.thread] = per_thread.get(e.thread, 0) + 1
    return per_thread


@pytest.mark.parametrize("reset", ["reset", "keep"])
def test_replaced_hook_is_reported_and_resumed(tmp_path, reset):
    script = capture_write(tmp_path, "replaced.py", REPLACED)
    out = str(tmp_path / "replaced.ttrace")
    plain = capture_python(script, reset, cwd=str(tmp_path))
    proc = capture_tracetap("run", "-o", out, script, reset, cwd=str(tmp_path))
    assert proc.returncode == plain.returncode == 0, proc.stderr
    assert proc.stdout == plain.stdout
    expected = eval(plain.stdout)              # the calls made without mine
    counts = _g_calls(out, script)
    # Every call made while tracetap's hook could be on is recorded, in
    # both threads: the one before mine, and (after the reset) the rest.
    assert sorted(counts.values()) == [
        sum(1 for tag, _ in expected if tag == which)
        for which in ("main", "thread")]
    info = capture_tracetap("info", out, cwd=str(tmp_path))
    notes = [ln for ln in info.stdout.splitlines() if ln.startswith("note:")]
    key = "hook_resumed" if reset == "reset" else "hook_replaced"
    assert len([n for n in notes if key in n]) == 2, info.stdout
    assert all("mine" in n for n in notes if key in n)
    assert proc.stderr.count("replaced tracetap's hook") == 2, proc.stderr


PDB_SESSION = """
import bdb, pdb, sys
free = []            # the reference: g's calls that pdb was not tracing
def g(i):
    free.append(not isinstance(getattr(sys.gettrace(), "__self__", None),
                               bdb.Bdb))
    return i * 2
g(0)
pdb.Pdb(nosigint=True, readrc=False).set_trace()
g(1)
for i in range(2, 5):
    g(i)
print("free calls:", sum(free))
"""


def test_pdb_session_resumes(tmp_path):
    script = capture_write(tmp_path, "dbg.py", PDB_SESSION)
    out = str(tmp_path / "dbg.ttrace")
    commands = "next\ncontinue\n"
    plain = capture_python(script, cwd=str(tmp_path), input=commands)
    proc = capture_tracetap("run", "-o", out, script, cwd=str(tmp_path),
                            input=commands)
    assert proc.returncode == plain.returncode == 0, proc.stderr
    import re
    free = re.findall(r"free calls: (\d+)", plain.stdout)
    assert free and re.findall(r"free calls: (\d+)", proc.stdout) == free
    expected = int(free[0])
    assert expected >= 4                 # pdb's own stepping differs by version
    # Every call pdb did not trace is recorded, after `continue` too.
    assert _g_calls(out, script) == {0: expected}
    assert "hook_resumed" in capture_tracetap("info", out, cwd=str(tmp_path)).stdout
    assert "without a return event" not in proc.stderr, proc.stderr


# ------------------------------------------------------------ item 18

MISSED = """
import sys
import tracetap

real_settrace = sys.settrace      # taken before the recording wraps it

def hidden():
    pass

def leaves_unseen():
    saved = sys.gettrace()
    real_settrace(None)           # tracetap's hook off, not through sys
    hidden()
    real_settrace(saved)          # back through the Python trampoline

def main():
    leaves_unseen()
    hidden()

with tracetap.record(sys.argv[1]) as rec:
    main()
"""


def _open_frames(path, script):
    """(file, func) of the frames whose call has no return, by replaying
    the recorded events of `script` on a stack: the reference."""
    stack, unmatched = [], []
    for e in _events(path):
        if e.file != script:
            continue
        if e.kind == "call":
            stack.append((e.file, e.func))
        elif e.kind == "return":
            # A return below the top closes the frames above unseen.
            while stack and stack[-1] != (e.file, e.func):
                unmatched.append(stack.pop())
            if stack:
                stack.pop()
    return unmatched


def test_missed_returns_are_named(tmp_path):
    script = capture_write(tmp_path, "missed.py", MISSED)
    out = str(tmp_path / "missed.ttrace")
    p = capture_python(script, out, cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    expected = _open_frames(out, script)
    assert expected, "the scenario must lose a return"
    info = capture_tracetap("info", out, cwd=str(tmp_path)).stdout
    note = [ln for ln in info.splitlines()
            if ln.startswith("note:") and "missed_returns" in ln]
    assert len(note) == 1, info
    assert f"{len(expected)} frame(s) ended without a return event" in note[0]
    for file, func in expected:
        assert f"{file}:{func}" in note[0]


def test_info_on_count_recording(tmp_path):
    script = capture_write(tmp_path, "counted.py", """
        def f(i):
            return i + 1
        for i in range(5):
            f(i)
    """)
    out = str(tmp_path / "counted.ttrace")
    run = capture_tracetap("run", "--count", "-o", out, script, cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr
    info = capture_tracetap("info", out, cwd=str(tmp_path))
    assert info.returncode == 0, info.stderr
    # The reference: the coverage of the same file (what --count holds).
    cov = tracetap.load(out).coverage()
    totals = cov["totals"]
    text = info.stdout
    assert "count recording" in text, text
    assert "events:     0" not in text and "threads:    0" not in text, text
    assert (f"{totals['covered']} of {totals['executable']} executable lines "
            f"ran") in text, text
    line_hits = sum(cov["files"][script]["counts"].values())
    assert f"{line_hits} line executions" in text, text
    dur = [ln for ln in text.splitlines() if ln.startswith("duration:")][0]
    assert float(dur.split()[1]) > 0, dur


# ------------------------------------------------------------ item 19

@pytest.mark.skipif(not HAVE_OBJECTS, reason="--objects needs CPython 3.13+")
@pytest.mark.parametrize("prog", ["flat", "nested"])
def test_gap_said_only_where_it_changes_the_report(tmp_path, prog):
    if prog == "flat":
        script = capture_write(tmp_path, "flat.py", """
            class A:
                pass
            keep = [A() for _ in range(3)]
            total = sum(len(str(i)) for i in range(100))
        """)
    else:
        script = os.path.join(os.path.dirname(__file__), "objprogs", "nested.py")
    out = str(tmp_path / "o.ttrace")
    run = capture_tracetap("run", "--objects", "-o", out, script, cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr
    data = tracetap.load(out).objects()
    t = data["totals"]
    gap = [b for k, b in (("destroy_gap.eval_loop", "gh-130382"),
                          ("destroy_gap.trashcan", "gh-156371"))
           if k in data["notes"]]
    changed = bool(gap) and bool(t["unverified"] or t["died_unseen"])
    report = capture_tracetap("objects", out, cwd=str(tmp_path)).stdout
    for bug in gap:
        assert (bug in run.stderr) == changed, run.stderr
        assert (bug in report) == changed, report
    assert ("Deaths are incomplete" in report) == (not gap and any(
        k in data["notes"] for k in ("destroy_gap.address_reuse",
                                     "objects.survivors"))), report
    if changed:                       # briefly: one line each, no essay
        assert len([ln for ln in report.splitlines() if gap[0] in ln]) == 1
    if prog == "flat" and "destroy_gap.eval_loop" not in data["notes"]:
        assert not t["unverified"]     # the trashcan gap alone cannot hide
                                       # anything here
    # The full story stays in the file's notes and in objects --help.
    helptext = capture_tracetap("objects", "--help", cwd=str(tmp_path)).stdout
    assert "gh-156371" in helptext and "gh-130382" in helptext


# ------------------------------------------------------------- item 4

def test_undecodable_names_round_trip(tmp_path):
    import subprocess
    base = os.fsencode(str(tmp_path))
    folder = base + b"/d\xff\xfe"
    try:
        os.mkdir(folder)
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses non-UTF-8 names")
    script = folder + b"/s\xe9.py"
    with open(script, "wb") as fh:
        fh.write(b"import sys\n"
                 b"def f(a):\n"
                 b"    return len(a)\n"
                 b"print([f(a) for a in sys.argv])\n"
                 b"print(repr(sys.argv))\n")
    out = folder + b"/out.ttrace"
    arg = b"arg\xfe\x80"
    env = dict(os.environ)
    plain = subprocess.run([sys.executable, script, arg], env=env,
                           capture_output=True, cwd=base, timeout=60)
    traced = subprocess.run([sys.executable, "-m", "tracetap", "run", "-o",
                             out, script, arg], env=env, capture_output=True,
                            cwd=base, timeout=120)
    assert plain.returncode == 0, plain.stderr
    assert traced.returncode == 0, traced.stderr
    assert traced.stdout == plain.stdout         # the program saw the same
    trace = tracetap.load(os.fsdecode(out))
    argv = [os.fsencode(a) for a in trace.info()["header"]["argv"]]
    assert argv == [script, arg]
    files = {os.fsencode(e.file) for e in trace.events()}
    assert files == {script}
    cov = trace.coverage()
    (name, data), = cov["files"].items()
    assert os.fsencode(name) == script
    lines = sorted({e.line for e in trace.events() if e.kind == "line"})
    assert sorted(int(k) for k in data["counts"]) == lines
    assert len(lines) == 5
    # annotate reads the source through the recorded (byte) name
    ann = folder + b"/ann"
    p = subprocess.run([sys.executable, "-m", "tracetap", "coverage",
                        "--format", "annotate", "-o", ann, out], env=env,
                       capture_output=True, cwd=base, timeout=120)
    assert p.returncode == 0, p.stderr
    (cover,) = os.listdir(ann)
    with open(os.path.join(ann, cover), "rb") as fh:
        text = fh.read()
    assert b"return len(a)" in text and b"print(repr(sys.argv))" in text
