"""Bounded loss on kills and crashes.

A recording's buffers reach the file every flush interval (1 s by default)
whatever the threads do, so SIGKILL and os._exit() lose at most about that
much; a crash signal writes everything recorded up to it and then goes on
as it would have untraced (exit status, faulthandler's traceback); thread
names known when a thread starts survive a kill.

The programs report their own progress (the index of the last call they
made, in a side file) so that what the file must hold is measured, not
guessed.
"""

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import capture_env, capture_python, capture_tracetap, capture_write

import tracetap

# A call every 0.1 s. What a kill may lose: the interval, plus slack for a
# busy machine (the flusher waits for the GIL and for the scheduler).
PERIOD = 0.1
SLACK = 1.0

KILLED = """
import os, sys, threading, time

def step(i):
    return i

def report(side, i):
    with open(side + ".tmp", "w") as f:
        f.write(str(i))
    os.replace(side + ".tmp", side)

def loop(side):
    for i in range(100000):
        step(i)
        report(side, i)
        time.sleep(PERIOD)

def idler():
    for i in range(50):
        step(-1)
    ready.set()
    time.sleep(1000)            # blocked in C until the kill

mode, side = sys.argv[1], sys.argv[2]
ready = threading.Event()
if mode == "main":
    loop(side)
elif mode == "idle-worker":
    threading.Thread(target=idler, name="idler", daemon=True).start()
    ready.wait()
    loop(side)
elif mode == "sleeping-main":
    for i in range(20):
        step(-2)
    threading.Thread(target=loop, args=(side,), name="looper",
                     daemon=True).start()
    time.sleep(1000)            # blocked in C until the kill
""".replace("PERIOD", repr(PERIOD))


def _run_and_kill(tmp_path, mode, *options, calls=30):
    """Runs KILLED under `tracetap run`, SIGKILLs it once it has made
    `calls` loop calls; returns (trace, index of the last call made)."""
    prog = capture_write(tmp_path, "killed.py", KILLED)
    side = str(tmp_path / "progress")
    out = str(tmp_path / "killed.ttrace")
    # A progress file left by an earlier run in this directory would make
    # the wait below end before this run has started.
    for stale in (side, out):
        if os.path.exists(stale):
            os.unlink(stale)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracetap", "run", "-o", out, *options, prog,
         mode, side],
        cwd=tmp_path, env=capture_env(), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    last = -1
    try:
        while last < calls - 1:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the program made no progress"
            time.sleep(0.05)
            try:
                with open(side) as f:
                    last = int(f.read())
            except (OSError, ValueError):
                pass
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    with open(side) as f:                 # a call may have slipped in
        last = int(f.read())
    return tracetap.load(out), last


def _steps(trace):
    """Calls of step() per thread ordinal, in order."""
    by_thread = {}
    for e in trace.events():
        if e.kind == "call" and e.func == "step":
            by_thread.setdefault(e.thread, 0)
            by_thread[e.thread] += 1
    return by_thread


def _thread_names(trace):
    return {t["ordinal"]: t["name"] for t in trace.info()["threads"]}


def _ordinal(trace, name):
    names = _thread_names(trace)
    matches = [o for o, n in names.items() if n == name]
    assert matches, f"no thread named {name!r} in {names}"
    return matches[0]


def _check_loop_calls(n_recorded, last, interval=1.0):
    # Every call up to about interval + slack before the kill is in.
    made = last + 1
    assert made - n_recorded <= (interval + SLACK) / PERIOD, (n_recorded, made)
    assert n_recorded <= made


def test_kill_loses_at_most_about_one_interval(tmp_path):
    trace, last = _run_and_kill(tmp_path, "main")
    assert trace.info()["damage"]["clean_end"] == 0          # killed
    steps = _steps(trace)
    main = _ordinal(trace, "MainThread")                      # name survived
    _check_loop_calls(steps.get(main, 0), last)


def test_flush_interval_is_honoured(tmp_path):
    # 0: no periodic write; a kill loses whatever is buffered (all of it
    # here), which shows that the default is what saves the events above.
    trace, last = _run_and_kill(tmp_path, "main", "--flush-interval", "0",
                                calls=15)
    assert last >= 14 and sum(_steps(trace).values()) == 0
    trace, last = _run_and_kill(tmp_path, "main", "--flush-interval", "0.3",
                                calls=15)
    _check_loop_calls(sum(_steps(trace).values()), last, interval=0.3)


def test_kill_keeps_a_blocked_threads_events_and_names(tmp_path):
    """A thread blocked in C ever since its calls runs no hook: its events
    and its name reach the file anyway."""
    trace, last = _run_and_kill(tmp_path, "idle-worker")
    steps = _steps(trace)
    assert steps.get(_ordinal(trace, "idler")) == 50
    _check_loop_calls(steps.get(_ordinal(trace, "MainThread"), 0), last)
    # tracetap info shows the names too
    info = capture_tracetap("info", str(tmp_path / "killed.ttrace"),
                            cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert "MainThread" in info.stdout and "idler" in info.stdout


def test_kill_while_the_main_thread_sleeps(tmp_path):
    trace, last = _run_and_kill(tmp_path, "sleeping-main")
    steps = _steps(trace)
    assert steps.get(_ordinal(trace, "MainThread")) == 20
    _check_loop_calls(steps.get(_ordinal(trace, "looper"), 0), last)


# ------------------------------------------------------------------ crashes

CRASH = """
import ctypes, faulthandler, os, sys, time

def step(i):
    return i

how = sys.argv[1]
for i in range(100):
    step(i)
if how == "segv":
    ctypes.string_at(0)
elif how == "abort":
    os.abort()
elif how == "fatal":
    faulthandler._fatal_error_c_thread()     # Py_FatalError in a C thread
elif how == "sigfpe":
    faulthandler._sigfpe()
elif how == "enable-then-segv":
    faulthandler.enable()
    ctypes.string_at(0)
elif how == "exit":
    time.sleep(1.6)                           # a periodic write happens
    os._exit(3)
"""

CRASHES = {
    "segv": (-signal.SIGSEGV, "SIGSEGV"),
    "abort": (-signal.SIGABRT, "SIGABRT"),
    "fatal": (-signal.SIGABRT, "SIGABRT"),
    "sigfpe": (-signal.SIGFPE, "SIGFPE"),
    "exit": (3, None),
}


@pytest.mark.parametrize("how", sorted(CRASHES))
def test_crash_keeps_events_and_exit_status(tmp_path, how):
    prog = capture_write(tmp_path, "crash.py", CRASH)
    out = str(tmp_path / "crash.ttrace")
    plain = capture_python(prog, how, cwd=tmp_path)
    traced = capture_tracetap("run", "-o", out, prog, how, cwd=tmp_path)
    status, signame = CRASHES[how]
    assert plain.returncode == status, plain.stderr
    assert traced.returncode == plain.returncode, traced.stderr
    trace = tracetap.load(out)
    assert _steps(trace) == {_ordinal(trace, "MainThread"): 100}
    info = trace.info()
    assert info["damage"]["clean_end"] == 0
    notes = [v for k, v in info["notes"] if k == "crash_signal"]
    status = trace.status()
    if signame is None:
        assert notes == []
        assert status["state"] == "damaged" and status["ended_by"] is None
    else:
        assert len(notes) == 1 and notes[0].startswith(signame), notes
        # Said as ended by the signal, not as a damaged file.
        assert status["state"] == "interrupted", status
        assert status["ended_by"] == notes[0]
        shown = capture_tracetap("info", out, cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert f"status:     interrupted: the program was ended by {signame}" in shown.stdout
        assert "damaged" not in shown.stdout + shown.stderr


def test_crash_in_a_thread_without_the_gil_while_another_records(tmp_path):
    """A segfault in a thread that let go of the GIL, while the main thread
    appends events as fast as it can: the handler writes the main thread's
    buffer as the append goes on, and the file holds only whole events and
    chunks (nothing cut, no bad CRC), ending just before the crash."""
    prog = capture_write(
        tmp_path,
        "race.py",
        """
        import ctypes, threading, time
        libc = ctypes.CDLL(None)
        def step(i):
            return i
        def crasher():
            time.sleep(0.3)
            libc.strlen(ctypes.c_void_p(8))      # no GIL held in the call
        threading.Thread(target=crasher, daemon=True).start()
        i = 0
        while True:
            step(i)
            i += 1
        """,
    )
    out = str(tmp_path / "race.ttrace")
    proc = capture_tracetap("run", "-o", out, prog, cwd=tmp_path)
    assert proc.returncode == -signal.SIGSEGV, proc.stderr
    trace = tracetap.load(out)
    info = trace.info()
    assert info["damage"]["bytes_lost"] == 0
    assert info["damage"]["clean_end"] == 0
    assert [k for k, _ in info["notes"]] == ["crash_signal"]
    decoded = sum(1 for _ in trace.events())
    assert decoded == sum(info["events"].values())
    assert sum(_steps(trace).values()) > 1000


def _fault_report(stderr):
    """faulthandler's report without the frames of tracetap's own run."""
    lines = [ln for ln in stderr.splitlines()
             if "tracetap" not in ln and "runpy" not in ln
             and not ln.startswith("bash:")]
    return "\n".join(lines)


@pytest.mark.parametrize("how", ["segv", "enable-then-segv"])
def test_crash_keeps_faulthandlers_traceback(tmp_path, how):
    """faulthandler enabled before the recording (-X faulthandler) or by the
    program during it still reports the crash, as it does untraced."""
    prog = capture_write(tmp_path, "crash.py", CRASH)
    out = str(tmp_path / "fh.ttrace")
    flags = ["-X", "faulthandler"] if how == "segv" else []
    env = capture_env()
    plain = subprocess.run([sys.executable, *flags, prog, how], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=60)
    traced = subprocess.run(
        [sys.executable, *flags, "-m", "tracetap", "run", "-o", out, prog,
         how], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=60)
    assert plain.returncode == traced.returncode == -signal.SIGSEGV
    assert "Fatal Python error: Segmentation fault" in plain.stderr
    report = _fault_report(plain.stderr)
    assert 'crash.py", line' in report
    for line in report.splitlines():
        if line.startswith("  File") or line.startswith("Fatal Python error"):
            assert line in traced.stderr, (line, traced.stderr)
    assert _steps(tracetap.load(out)) != {}


def test_faulthandler_enabled_in_an_earlier_recording_reports_once(tmp_path):
    """faulthandler enabled during one recording keeps tracetap's handler as
    the one to call next; the next recording installs over faulthandler.
    A crash then goes to each once, as it would to faulthandler alone."""
    prog = capture_write(
        tmp_path,
        "twice.py",
        """
        import ctypes, faulthandler, sys, tracetap
        def step(i):
            return i
        with tracetap.record(sys.argv[1]):
            faulthandler.enable()
            step(1)
        with tracetap.record(sys.argv[1]):
            step(2)
            ctypes.string_at(0)
        """,
    )
    out = str(tmp_path / "twice.ttrace")
    proc = capture_python(prog, out, cwd=tmp_path, timeout=60)
    assert proc.returncode == -signal.SIGSEGV
    assert proc.stderr.count("Fatal Python error: Segmentation fault") == 1
    assert _steps(tracetap.load(out)) == {0: 1}


def test_forked_child_crash_leaves_the_parent_file_alone(tmp_path):
    """The child of a fork does not keep the crash handlers: its segfault
    writes nothing into the parent's file, which the parent finishes."""
    prog = capture_write(
        tmp_path,
        "forkcrash.py",
        """
        import ctypes, os, sys, tracetap
        def step(i):
            return i
        with tracetap.record(sys.argv[1]):
            for i in range(10):
                step(i)
            pid = os.fork()
            if pid == 0:
                ctypes.string_at(0)
            _, status = os.waitpid(pid, 0)
            step(10)
        print(os.waitstatus_to_exitcode(status))
        """,
    )
    out = str(tmp_path / "forkcrash.ttrace")
    proc = capture_python("-W", "error::DeprecationWarning", prog, out,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(-signal.SIGSEGV)
    trace = tracetap.load(out)
    info = trace.info()
    assert info["damage"]["status"] == 0 and info["notes"] == []
    assert sum(_steps(trace).values()) == 11


def test_flush_interval_option_errors(tmp_path):
    prog = capture_write(tmp_path, "ok.py", "print('ran')\n")
    for bad in ("abc", "-1", "0.001", "nan"):
        proc = capture_tracetap("run", "--flush-interval", bad, prog,
                                cwd=tmp_path)
        assert proc.returncode == 2 and "--flush-interval" in proc.stderr
        assert "ran" not in proc.stdout
    with pytest.raises(ValueError, match="flush_interval"):
        tracetap.record(str(tmp_path / "x.ttrace"), flush_interval=-1).start()
    assert not os.path.exists(tmp_path / "x.ttrace")
    proc = capture_tracetap("run", "--help", cwd=tmp_path)
    assert "--flush-interval SECONDS" in proc.stdout
