"""Child processes: `tracetap run` records the Python processes
a program starts, one file per process, linked by pid and parent pid.

References: the lines each child ran are checked against the same function
run under sys.settrace in this process; the process tree against the pids
the program itself reports; the environment against an untraced run."""

import json
import os
import shutil
import sys
import time

import pytest

import tracetap
from conftest import capture_python, capture_tracetap, capture_tracetap_script

HERE = os.path.dirname(os.path.abspath(__file__))
PROGS = os.path.join(HERE, "children")
sys.path.insert(0, PROGS)
import family  # noqa: E402


def _settrace_counts(func, *args):
    """{line: hits} of func's own frame, as sys.settrace reports them."""
    counts = {}

    def tracer(frame, event, arg):
        if frame.f_code is not func.__code__:
            return None
        if event == "line":
            counts[frame.f_lineno] = counts.get(frame.f_lineno, 0) + 1
        return tracer

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        func(*args)
    finally:
        sys.settrace(old)
    return counts


def _work_counts(path):
    """work()'s {line: hits} in one recording, from `tracetap coverage`."""
    cov = tracetap.load(path).coverage()
    code = family.work.__code__
    last = max(ln for _, _, ln in code.co_lines() if ln is not None)
    for fname, f in cov["files"].items():
        if os.path.basename(fname) == "family.py":
            return {ln: n for ln, n in f["counts"].items()
                    if code.co_firstlineno < ln <= last}
    return {}


def _wait_complete(directory, timeout=20):
    """multiprocessing's helpers (resource tracker, forkserver) outlive the
    program a moment: wait until no file is still being written."""
    deadline = time.monotonic() + timeout
    while True:
        files = [os.path.join(directory, n) for n in os.listdir(directory)]
        busy = [f for f in files if tracetap.load(f).status()["being_written"]]
        if not busy or time.monotonic() > deadline:
            return files
        time.sleep(0.1)


def _processes(files):
    out = {}
    for f in files:
        notes = dict(tracetap.load(f).info()["notes"])
        if "process.pid" not in notes:  # a root without children
            continue
        out[int(notes["process.pid"])] = (int(notes["process.ppid"]),
                                          notes["process.how"], f)
    return out


def _copy_progs(tmp_path):
    dest = tmp_path / "progs"
    shutil.copytree(PROGS, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@pytest.mark.parametrize("runner", [capture_tracetap, capture_tracetap_script])
def test_every_way_of_starting_a_child_is_followed(tmp_path, runner):
    progs = _copy_progs(tmp_path)
    work = tmp_path / "elsewhere"
    work.mkdir()
    report = work / "report.json"
    proc = runner("run", "--follow-forks", "-o", "out/",
                  str(progs / "family.py"), str(report), cwd=work)
    assert proc.returncode == 0, proc.stderr
    files = _wait_complete(work / "out")
    rep = json.loads(report.read_text())
    procs = _processes(files)
    root = rep["root"]
    assert procs[root][1] == "root"
    for way, child in rep["children"].items():
        pid = child["pid"]
        assert pid in procs, (way, sorted(procs))
        ppid, how, path = procs[pid]
        assert ppid == child["ppid"], way
        assert how == ("exec" if way in ("spawn", "subprocess") else "fork")
        status = tracetap.load(path).status()
        assert status["state"] == "complete", (way, status)
        # the lines work() ran in that child, as sys.settrace counts them
        want = _settrace_counts(family.work, family.ARGS[way])
        assert _work_counts(path) == want, way
        assert family.work(family.ARGS[way])[0] == child["total"]
        # a forked child's file starts at the fork: none of the parent's
        # buffered events (main() was called before it) came along
        calls = [ev.func for ev in tracetap.load(path).events() if ev.kind == "call"]
        assert "main" not in calls and calls.count("work") == 1, (way, calls)
    # and no child's events went into the program's own file
    root_calls = [ev.func for ev in tracetap.load(procs[root][2]).events()
                  if ev.kind == "call"]
    assert root_calls.count("main") == 1 and "work" not in root_calls
    # the tree: the pool workers and the subprocess are the root's children
    # (the forkserver's workers are the forkserver's)
    for way in ("spawn", "fork", "subprocess", "os.fork"):
        assert procs[rep["children"][way]["pid"]][0] == root
    server = procs[rep["children"]["forkserver"]["pid"]][0]
    assert procs[server][0] == root and procs[server][1] == "exec"
    expected = server if rep["default_method"] == "forkserver" else root
    assert procs[rep["children"]["executor"]["pid"]][0] == expected
    info = capture_tracetap("info", "out", cwd=work)
    assert info.returncode == 0, info.stderr
    lines = info.stdout.splitlines()
    assert lines[0] == f"processes:  {len(files)}"
    rows = {int(ln.split()[0]): ln for ln in lines[2:] if ln.split()[0].isdigit()}
    assert set(rows) == set(procs)
    cmd_at = lines[1].index("COMMAND")

    def depth(pid):
        cmd = rows[pid][cmd_at:]
        return (len(cmd) - len(cmd.lstrip(" "))) // 2

    for pid, (ppid, how, _) in procs.items():
        fields = rows[pid].split()
        assert fields[1:4] == [str(ppid), how, "complete"], rows[pid]
        assert depth(pid) == (0 if pid == root else depth(ppid) + 1)
    assert depth(rep["children"]["forkserver"]["pid"]) == 2


def test_merged_coverage_sums_the_children(tmp_path):
    """coverage over the directory sums every process's counts: work()'s
    line counts are the sum of the per-child settrace references."""
    progs = _copy_progs(tmp_path)
    ways = ["spawn", "fork", "subprocess"]
    proc = capture_tracetap("run", "-o", "out/", str(progs / "family.py"),
                            str(tmp_path / "r.json"), *ways, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    files = _wait_complete(tmp_path / "out")
    want = {}
    for way in ways:
        for ln, n in _settrace_counts(family.work, family.ARGS[way]).items():
            want[ln] = want.get(ln, 0) + n
    got = json.loads(capture_tracetap(
        "coverage", "out", "--raw-lines", "--format", "json", cwd=tmp_path).stdout)
    fam = next(f for p, f in got["files"].items() if p.endswith("family.py"))
    code = family.work.__code__
    counts = {int(k): v for k, v in fam["counts"].items()
              if int(k) > code.co_firstlineno and int(k) in want}
    assert counts == want
    assert len(got["recordings"]) == len(files)
    # calls: work() once in each child, summed over the processes
    calls = json.loads(capture_tracetap("calls", "out", "--format", "json",
                                        cwd=tmp_path).stdout)
    rows = [f for f in calls["functions"]
            if f["func"] == "work" and f["thread"] is None]
    assert len(rows) == 1 and rows[0]["calls"] == len(ways)
    per_thread = [f for f in calls["functions"]
                  if f["func"] == "work" and f["thread"] is not None]
    assert sorted(f["calls"] for f in per_thread) == [1] * len(ways)
    # lines: per-line hits summed, as the references add up
    lines = json.loads(capture_tracetap("lines", "out", "--format", "json",
                                        "--function", "work", cwd=tmp_path).stdout)
    (fn,) = [f for f in lines["functions"] if f["thread"] is None]
    assert {ln["line"]: ln["hits"] for ln in fn["lines"]} == want
    # the HTML report takes the directory too, one recording per process
    rep = capture_tracetap("report", "out", "-o", "html", cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert (tmp_path / "html" / "index.html").exists()


def test_plain_fork_is_followed_only_when_asked(tmp_path):
    progs = _copy_progs(tmp_path)
    for flag, followed in (([], False), (["--follow-forks"], True)):
        out = tmp_path / f"out{len(flag)}"
        rep = tmp_path / f"r{len(flag)}.json"
        proc = capture_tracetap("run", *flag, "-o", f"{out}/", str(progs / "family.py"),
                                str(rep), "os.fork", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        pid = json.loads(rep.read_text())["children"]["os.fork"]["pid"]
        assert (pid in _processes(_wait_complete(out))) is followed


def test_a_killed_child_loses_only_its_own_events(tmp_path):
    progs = _copy_progs(tmp_path)
    proc = capture_tracetap("run", "--flush-interval", "0.05", "-o", "k.ttrace",
                            str(progs / "killed.py"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    victim, rc = map(int, proc.stdout.split())
    assert rc == -9
    assert tracetap.load(str(tmp_path / "k.ttrace")).status()["state"] == "complete"
    files = _wait_complete(tmp_path / "k.ttrace.children")
    procs = _processes(files)
    assert len(procs) == 2 and victim in procs
    for pid, (_, _, path) in procs.items():
        t = tracetap.load(path)
        state = t.status()["state"]
        assert state == ("damaged" if pid == victim else "complete"), pid
        if pid == victim:  # what it flushed before the kill is there
            assert any(ev.func == "spin" for ev in t.events())
    info = capture_tracetap("info", "k.ttrace", "k.ttrace.children", cwd=tmp_path)
    assert info.returncode == 0
    row = next(ln for ln in info.stdout.splitlines() if ln.split()[:1] == [str(victim)])
    assert "damaged" in row
    cov = capture_tracetap("coverage", "k.ttrace", "k.ttrace.children", cwd=tmp_path)
    assert cov.returncode == 0, cov.stderr
    assert "family.py" in cov.stdout and "spin.py" in cov.stdout


def test_the_environment_changes_by_one_variable(tmp_path):
    """Exactly TRACETAP_FOLLOW is added, for the program and its children;
    sys.path is untouched; --no-follow adds nothing."""
    progs = _copy_progs(tmp_path)
    plain = json.loads(capture_python(str(progs / "envdump.py"), "x", cwd=tmp_path).stdout)
    traced = capture_tracetap("run", "-o", "e.ttrace", str(progs / "envdump.py"), "x",
                              cwd=tmp_path)
    assert traced.returncode == 0, traced.stderr
    got = json.loads(traced.stdout)
    for mine, ref in ((got, plain), (got["child"], plain["child"])):
        extra = set(mine["env"]) - set(ref["env"])
        assert extra == {"TRACETAP_FOLLOW"}
        assert {k: v for k, v in mine["env"].items() if k != "TRACETAP_FOLLOW"} == ref["env"]
        assert mine["path"] == ref["path"]
    unfollowed = capture_tracetap("run", "--no-follow", "-o", "n.ttrace",
                                  str(progs / "envdump.py"), "x", cwd=tmp_path)
    assert json.loads(unfollowed.stdout)["env"] == plain["env"]
    assert not (tmp_path / "n.ttrace.children").exists()
    assert len(os.listdir(tmp_path / "e.ttrace.children")) == 1


def test_one_recording_commands_refuse_a_directory(tmp_path):
    (tmp_path / "d").mkdir()
    for args in (("events", "d"), ("export", "d", "--format", "chrome", "-o", "x.json")):
        proc = capture_tracetap(*args, cwd=tmp_path)
        assert proc.returncode == 1
        assert "is a directory" in proc.stderr


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_a_terminated_pool_worker_finishes_its_file(tmp_path, method):
    """Pool.terminate() sends SIGTERM: each worker's file holds its tasks,
    complete or ended by the SIGTERM handler's emergency flush (the
    crash_signal note, nothing lost); the pool never waits on a worker
    (a Python-level handler could be lost to a worker blocked in a C
    wait: the run would hang, and the subprocess timeout fails the test)."""
    progs = _copy_progs(tmp_path)
    proc = capture_tracetap("run", "-o", "out/", str(progs / "terminated.py"), method,
                            cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    pids = set(map(int, proc.stdout.split()))
    procs = _processes(_wait_complete(tmp_path / "out"))
    assert pids <= set(procs)
    for pid in pids:
        t = tracetap.load(procs[pid][2])
        status = t.status()
        if status["state"] != "complete":
            assert status["state"] == "interrupted", (pid, status)
            assert status["ended_by"].startswith("SIGTERM"), (pid, status)
            assert status["damage"]["bytes_lost"] == 0, (pid, status)
        assert any(ev.kind == "call" and ev.func == "task" for ev in t.events())


def test_a_program_without_children_is_recorded_as_before(tmp_path):
    """No child: the same file, notes and summary as with --no-follow, and
    no FILE.children directory."""
    prog = tmp_path / "alone.py"
    prog.write_text("def f(x):\n    return x * 2\nprint(f(21))\n")
    runs = {}
    for flag in ([], ["--no-follow"]):
        out = tmp_path / f"alone{len(flag)}.ttrace"
        proc = capture_tracetap("run", *flag, "-o", str(out), str(prog), cwd=tmp_path)
        assert proc.returncode == 0 and proc.stdout == "42\n", proc.stderr
        assert not (tmp_path / f"alone{len(flag)}.ttrace.children").exists()
        info = tracetap.load(str(out)).info()
        lines = [ln.split(" over ")[0] for ln in proc.stderr.splitlines()]
        runs[bool(flag)] = (info["notes"], info["events"], len(lines), lines[0])
    assert runs[False] == runs[True]
    assert runs[False][0] == []
