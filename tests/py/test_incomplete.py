"""Honest outputs for recordings that are not complete, and one way to
open a recording.

- A recording cut or rewritten while `tracetap events` or
  `load().events()` reads it gives a warning or an error, never SIGBUS.
- On a full disk (a 2 MiB tmpfs; needs root to mount, skipped otherwise)
  every output says the file is incomplete and names ENOSPC.
- A recording still being written is called that, with what it flushed.
- Trace.objects()/coverage() read the Trace's open file; `run --count`
  prints its summary from stop(), without reading the file back.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import tracetap
from conftest import capture_env, capture_python, capture_tracetap, capture_write

HAVE_OBJECTS = sys.version_info >= (3, 13)

APP = """
def f(i):
    return i * 2
total = 0
for i in range(N):
    total += f(i)
print(total)
"""


def _app(tmp_path, n=300_000, name="app.py"):
    return capture_write(tmp_path, name, APP.replace("N", str(n)))


def _record(tmp_path, out, *flags, n=100_000):
    app = _app(tmp_path, n)
    proc = capture_tracetap("run", "-o", str(out), *flags, app, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return proc


def _no_signal(proc):
    """A clear exit: 0 (read, maybe with a warning) or 1 (an error), with
    tracetap's own message; never death by a signal (SIGBUS was -7)."""
    assert proc.returncode in (0, 1), (proc.returncode, proc.stderr)
    for line in proc.stderr.splitlines():
        assert line.startswith("tracetap: "), proc.stderr


# ------------------------------------------------------------- no SIGBUS


def _slow_listing(path, cwd, damage):
    """`tracetap events path` into a pipe this test reads slowly; `damage`
    runs after the first 64 KiB have arrived. Returns (rc, stderr)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracetap", "events", str(path)], cwd=cwd,
        env=capture_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = proc.stdout.read(65536)
        assert first
        damage()
        while proc.stdout.read(65536):
            time.sleep(0.001)
        err = proc.stderr.read().decode()
        return proc.wait(timeout=120), err
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("how", ["truncate", "rewrite"])
def test_events_cli_survives_a_file_cut_while_listing(tmp_path, how):
    out = tmp_path / "big.ttrace"
    _record(tmp_path, out, n=50_000)    # a listing of about 15 MB
    small = _app(tmp_path, 10, name="small.py")

    def damage():
        if how == "truncate":
            os.truncate(out, 1000)
        else:                           # what `tracetap run` does: O_TRUNC
            rerun = capture_tracetap("run", "-o", str(out), small,
                                     cwd=tmp_path)
            assert rerun.returncode == 0, rerun.stderr

    rc, err = _slow_listing(out, tmp_path, damage)
    _no_signal(subprocess.CompletedProcess([], rc, "", err))


LOAD_SCRIPT = """
import os, sys, tracetap
path, how = sys.argv[1], sys.argv[2]
t = tracetap.load(path)
it = t.events()
first = [next(it) for _ in range(1000)]
if how == "truncate":
    os.truncate(path, 1000)
else:
    with tracetap.record(path):     # a new recording into the same file
        sum(range(10))
rest = sum(1 for _ in it)           # the open iteration goes on
cut = t._last_iter.damage()["status"] != 0   # what this iteration met
print("first", len(first), "rest", rest, "cut", int(cut))
try:
    again = sum(1 for _ in t.events())
    print("again", again, t.status()["state"])
except tracetap.TraceError as exc:
    print("error", exc)
"""


@pytest.mark.parametrize("how", ["truncate", "rewrite"])
def test_load_events_survive_a_file_cut_while_iterating(tmp_path, how):
    out = tmp_path / "big.ttrace"
    _record(tmp_path, out)
    total = sum(tracetap.load(out).info()["events"].values())
    script = capture_write(tmp_path, "reader.py", LOAD_SCRIPT)
    proc = capture_python(script, str(out), how, cwd=tmp_path)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    words = proc.stdout.split()
    # The reader streams the file, so the iteration begun before the cut
    # ends where the file now ends, and says so: no signal, no events of
    # the other recording mixed in.
    assert words[:3] == ["first", "1000", "rest"]
    assert int(words[3]) < total - 1000
    assert words[4:6] == ["cut", "1"], proc.stdout
    if how == "truncate":
        # A new iteration reads what is left, and says it is damaged.
        assert words[6] == "again" and int(words[7]) < total
        assert words[8] == "damaged"
    else:
        # Another recording now: refused, not mixed with the first.
        assert words[6] == "error" and "changed since it was opened" in proc.stdout


# ------------------------------------------------------------ one way to open


def test_analyses_read_the_open_file_not_the_path(tmp_path):
    out = tmp_path / "a.ttrace"
    _record(tmp_path, out, *(["--objects"] if HAVE_OBJECTS else []), n=2000)
    other = tmp_path / "other.ttrace"
    _record(tmp_path, other, n=5)
    with tracetap.load(out) as ref:
        want_cov = ref.coverage()
        want_obj = ref.objects() if HAVE_OBJECTS else None
        want_calls = ref.calls()
        want_n = sum(1 for _ in ref.events())
    t = tracetap.load(out)
    os.replace(other, out)              # the path now names another file
    assert t.coverage() == want_cov
    assert sum(1 for _ in t.events()) == want_n
    os.remove(out)                      # and then no file at all
    assert t.coverage() == want_cov
    assert t.calls() == want_calls
    if HAVE_OBJECTS:
        assert t.objects() == want_obj
    assert t.info()["file_size"] > 0
    t.close()
    # The loop ran: the lines' counts are the program's own.
    (counts,) = [f["counts"] for p, f in want_cov["files"].items()
                 if p.endswith("app.py")]
    assert counts[2] == 2000 and counts[5] == 2000


COUNT_SCRIPT = """
import json, sys, tracetap
def f(i):
    if i > 100:
        return 3
    return 1
rec = tracetap.record(sys.argv[1], count=True)
rec.start()
for i in range(10):
    f(i)
print(json.dumps(rec.stop()["counted"]))
"""


def test_count_summary_comes_from_stop(tmp_path):
    out = tmp_path / "c.ttrace"
    script = capture_write(tmp_path, "counted.py", COUNT_SCRIPT)
    proc = capture_python(script, str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    counted = json.loads(proc.stdout)
    with tracetap.load(out) as t:       # the reference: the file, read
        totals = t.coverage()["totals"]
    assert counted == {k: totals[k] for k in ("files", "executable", "covered")}
    assert 0 < counted["covered"] < counted["executable"]  # `return 3`: never


def test_run_count_prints_the_summary_without_reading_the_file(tmp_path, capsys):
    from tracetap import _show

    gone = str(tmp_path / "never-written.ttrace")
    _show.print_summary({"events": {}, "duration_ns": 10**9, "bytes": 2048,
                         "counted": {"files": 2, "executable": 30,
                                     "covered": 21}}, gone)
    err = capsys.readouterr().err
    assert "21 of 30 executable lines ran in 2 files" in err, err


def test_run_count_summary_line(tmp_path):
    out = tmp_path / "c.ttrace"
    proc = _record(tmp_path, out, "--count", n=50)
    with tracetap.load(out) as t:
        tot = t.coverage()["totals"]
    assert (f"{tot['covered']} of {tot['executable']} executable lines ran in "
            f"{tot['files']} file") in proc.stderr


# ---------------------------------------------------------------- disk full


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs, mounted for the test (root only)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs",
                           str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


FULL_SCRIPT = """
import json, sys, tracetap
def f(i):
    return i * 2
rec = tracetap.record(sys.argv[1], objects=sys.argv[2] == "objects")
rec.start()
for i in range(300000):
    f(i)
try:
    rec.stop()
except tracetap.RecordingError as exc:
    print(json.dumps({"error": str(exc), **rec.summary}))
"""

ENOSPC = os.strerror(28).lower()        # "no space left on device"


def _fill(tmp_path, disk, mode):
    """Records FULL_SCRIPT onto the small disk; (file, stop()'s summary),
    which must name ENOSPC."""
    out = disk / f"{mode}.ttrace"
    script = capture_write(tmp_path, "full.py", FULL_SCRIPT)
    proc = capture_python(script, str(out), mode, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["write_error"] == ENOSPC
    assert ENOSPC in summary["error"] and "input/output" not in summary["error"]
    return out, summary


def test_disk_full_is_reported_everywhere(tmp_path, small_disk):
    out, summary = _fill(tmp_path, small_disk, "plain")
    appended = sum(summary["events"].values())
    assert summary["dropped"] > 0

    with tracetap.load(out) as t:
        st = t.status()
        in_file = sum(1 for e in t.events() if e.kind != "dropped")
    # Every appended event is in the file or counted as lost.
    assert in_file + summary["dropped"] == appended
    assert st["state"] == "incomplete"
    assert ENOSPC in st["lost_reason"]
    # The file counts what reached it of the loss (its DROPPED events,
    # and the END chunk's count when the reader gives it).
    assert 0 < st["dropped"] <= summary["dropped"]
    lost = f"{st['dropped']:,} events were lost while recording"

    info = capture_tracetap("info", str(out), cwd=tmp_path)
    assert info.returncode == 0
    assert "status:     complete" not in info.stdout
    assert "status:     incomplete" in info.stdout and ENOSPC in info.stdout
    assert lost in info.stderr

    text = capture_tracetap("coverage", str(out), cwd=tmp_path)
    assert text.returncode == 0
    assert lost in text.stderr and ENOSPC in text.stderr
    cov = json.loads(capture_tracetap("coverage", "--format", "json",
                                      str(out), cwd=tmp_path).stdout)
    (rec,) = cov["recordings"]
    assert rec["state"] == "incomplete" and rec["dropped"] == st["dropped"]
    assert ENOSPC in rec["lost_reason"]

    # --limit: cheap, so no count, but the reason all the same.
    ev = capture_tracetap("events", "--limit", "100", str(out), cwd=tmp_path)
    assert ev.returncode == 0 and len(ev.stdout.splitlines()) == 1 + 100
    assert "events were lost while recording" in ev.stderr
    assert ENOSPC in ev.stderr


@pytest.mark.skipif(not HAVE_OBJECTS, reason="--objects needs CPython 3.13+")
def test_disk_full_objects_report(tmp_path, small_disk):
    out, _ = _fill(tmp_path, small_disk, "objects")
    text = capture_tracetap("objects", str(out), cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "events were lost while recording" in text.stdout
    assert ENOSPC in text.stdout and ENOSPC in text.stderr
    data = json.loads(capture_tracetap("objects", "--format", "json",
                                       str(out), cwd=tmp_path).stdout)
    assert data["recording"]["state"] == "incomplete"
    assert ENOSPC in data["recording"]["lost_reason"]
    assert data["recording"]["dropped"] > 0


# -------------------------------------------------------------- in progress


WAITER = """
import os, sys, tracetap
def f(i):
    return i + 1
with tracetap.record(sys.argv[1], flush_interval=float(sys.argv[3])):
    for i in range(int(sys.argv[2])):
        f(i)
    if len(sys.argv) > 4:
        r, w = os.pipe()
        if os.fork() == 0:              # a child that lingers until the
            os.close(w)                 # parent exits (EOF on the pipe)
            os.read(r, 1)
            os._exit(0)
        os.close(r)
    print("ready", flush=True)
    sys.stdin.readline()
print("stopped", flush=True)
sys.stdin.readline()
"""


@contextlib.contextmanager
def _waiting(tmp_path, out, n, *extra, flush_interval=1.0):
    """Runs WAITER until it says "ready" (recording, n calls made)."""
    script = capture_write(tmp_path, "waiter.py", WAITER)
    proc = subprocess.Popen([sys.executable, script, str(out), str(n),
                             str(flush_interval), *extra],
                            cwd=tmp_path, env=capture_env(), text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _stop(proc):
    """Lets WAITER stop its recording; returns once it has."""
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "stopped"


def test_a_recording_in_progress_says_so(tmp_path):
    out = tmp_path / "live.ttrace"
    # No periodic flush: what the file holds while the program waits is
    # then whole 64 KiB buffers only, whatever the machine's load (with
    # the 1 s flusher, a slow `info` let the tail reach the file: the race
    # this test once lost). The last event before "ready", the LINE of the
    # print, is always in the buffer still held.
    ready = WAITER.lstrip("\n").splitlines().index('    print("ready", flush=True)') + 1
    with _waiting(tmp_path, out, 100_000, flush_interval=0) as proc:
        info = capture_tracetap("info", str(out), cwd=tmp_path)
        assert info.returncode == 0
        assert "status:     in progress: still being recorded" in info.stdout
        assert "killed" not in info.stdout + info.stderr
        assert "still being recorded" in info.stderr
        text = capture_tracetap("coverage", str(out), cwd=tmp_path)
        assert "still being recorded; showing what has been flushed" in text.stderr
        cov = json.loads(capture_tracetap("coverage", "--format", "json",
                                          str(out), cwd=tmp_path).stdout)
        assert cov["recordings"][0]["state"] == "recording"
        (counts,) = cov["files"].values()
        # What was flushed: whole chunks of the loop, not yet all of it.
        assert 0 < counts["counts"]["3"] <= 100_000
        assert str(ready) not in counts["counts"]
        with tracetap.load(out) as t:
            assert t.status()["being_written"] is True
        _stop(proc)
        info = capture_tracetap("info", str(out), cwd=tmp_path)
        assert "status:     complete" in info.stdout, info.stdout
        done = json.loads(capture_tracetap("coverage", "--format", "json",
                                           str(out), cwd=tmp_path).stdout)
        (counts,) = done["files"].values()
        assert counts["counts"]["3"] == 100_000
        assert counts["counts"][str(ready)] == 1


def test_nothing_flushed_yet_is_not_100_percent(tmp_path):
    # No periodic flush (as above): on a slow machine the 1 s flusher could
    # write the few events before `coverage` reads the file.
    with _waiting(tmp_path, tmp_path / "early.ttrace", 3, flush_interval=0):
        text = capture_tracetap("coverage", str(tmp_path / "early.ttrace"),
                                cwd=tmp_path)
        assert text.returncode == 0
        assert "100.0%" not in text.stdout
        assert "No line has been recorded yet" in text.stdout
        assert "still being recorded" in text.stderr


def test_a_forked_child_does_not_keep_the_file_in_progress(tmp_path):
    out = tmp_path / "forked.ttrace"
    with _waiting(tmp_path, out, 10, "fork") as proc:
        with tracetap.load(out) as t:
            assert t.status()["being_written"] is True
        _stop(proc)
        # The child still runs (until the parent exits) but let go of the
        # file at fork: the recording is finished.
        with tracetap.load(out) as t:
            st = t.status()
        assert st["being_written"] is False and st["state"] == "complete"


def test_sigbus_would_be_a_signal_exit(tmp_path):
    """The check _no_signal makes is the one that matters: a death by
    SIGBUS shows as -SIGBUS from subprocess."""
    proc = capture_python("-c", "import os, signal; os.kill(os.getpid(), "
                          "signal.SIGBUS)", cwd=tmp_path)
    assert proc.returncode == -signal.SIGBUS
    with pytest.raises(AssertionError):
        _no_signal(proc)


def test_a_reader_never_initialised_closes_nothing():
    """Reader.__new__ without __init__ holds no descriptor: freeing it must
    not close descriptor 0 (what its zeroed memory would name)."""
    from tracetap import _tracetap

    try:
        saved = os.dup(0)
    except OSError:                     # no stdin here: make one
        saved = None
    fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(fd, 0)
    os.close(fd)
    try:
        mine = os.fstat(0)
        r = _tracetap.Reader.__new__(_tracetap.Reader)
        with pytest.raises(ValueError):
            r.header()
        del r
        assert os.fstat(0).st_ino == mine.st_ino
    finally:
        if saved is not None:
            os.dup2(saved, 0)
            os.close(saved)
        else:
            os.close(0)


# ------------------------------------- counts survive a SIGKILL (--count)

COUNTED = """
import sys, time
def f(i):
    return i * 2
total = 0
for i in range(2500):
    total += f(i)
print("ready", flush=True)
if sys.argv[1:] == ["kill-me"]:
    time.sleep(120)
"""


@pytest.mark.parametrize("mode", [["--count"], ["--count", "--branch"],
                                  ["--coverage"], ["--coverage", "--branch"]],
                         ids=["count", "branch", "coverage", "coverage-branch"])
def test_a_killed_count_recording_keeps_its_counts(tmp_path, mode):
    """Counts live in memory; each periodic flush writes what was counted
    since the last one. SIGKILLed after a flush, the file holds every
    count made before it: those of the same program run to the end,
    bar the lines after the kill point (the sleep it died in, which had
    started, and the end)."""
    prog = capture_write(tmp_path, "counted.py", COUNTED)
    with open(prog, encoding="utf-8") as f:
        sleep = [n for n, text in enumerate(f, 1) if "sleep(120)" in text][0]
    done = tmp_path / "done.ttrace"
    proc = capture_tracetap("run", *mode, "-o", str(done), prog, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    killed = tmp_path / "killed.ttrace"
    child = subprocess.Popen(
        [sys.executable, "-m", "tracetap", "run", *mode, "--flush-interval",
         "0.05", "-o", str(killed), prog, "kill-me"],
        cwd=tmp_path, env=capture_env(), text=True, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL)
    try:
        assert child.stdout.readline().strip() == "ready"
        # Until a flush after "ready" has written the sleep line's count
        # (its LINE event came before the sleep): then all before it is in.
        deadline = time.monotonic() + 60
        while True:
            with tracetap.load(killed) as t:
                (counts,) = t.coverage()["files"].values() or ({"counts": {}},)
            if sleep in counts["counts"] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    with tracetap.load(killed) as t:
        assert t.status()["state"] != "complete"
        (got,) = t.coverage()["files"].values()
    with tracetap.load(done) as t:
        (want,) = t.coverage()["files"].values()
    assert got["counts"].pop(sleep) == 1
    assert got["counts"] == want["counts"]
    assert ([fn["calls"] for fn in got["functions"]] ==
            [fn["calls"] for fn in want["functions"]])
    if "--branch" in mode:
        br = {}
        for name, path in (("got", killed), ("want", done)):
            rep = capture_tracetap("coverage", "--branch", "--format", "json",
                                   str(path), cwd=tmp_path)
            (f,) = json.loads(rep.stdout)["files"].values()
            # The `if` before the sleep went one way, and the other way
            # in the run to the end.
            br[name] = [b for b in f["executed_branches"] if b[0] != sleep - 1]
        assert br["got"] == br["want"] and br["want"]
