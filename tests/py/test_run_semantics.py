"""`tracetap run` runs a program exactly as `python SCRIPT` / `python -m
MODULE` would: argv, sys.path[0], __main__, exit status, traceback, signals,
and a complete recording in every case; usage errors exit 2.

Each case runs the program both ways and compares what the program saw and
how it ended, then checks the recording itself. Every case runs twice:
through `python -m tracetap` and through the installed `tracetap` command,
whose sys.path[0] is its bin directory, not the current one.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import conftest
from conftest import (
    capture_env,
    capture_python,
    capture_without_summary,
    capture_write,
)

import tracetap

LAUNCHERS = {
    "python -m tracetap": lambda: [sys.executable, "-m", "tracetap"],
    "tracetap": lambda: [os.path.join(os.path.dirname(sys.executable), "tracetap")],
}


@pytest.fixture(autouse=True, params=sorted(LAUNCHERS))
def launcher(request):
    """Which command runs tracetap in this case; capture_tracetap and
    _tracetap_cmd follow it."""
    global _launcher
    _launcher = request.param
    yield request.param


_launcher = "python -m tracetap"


def _tracetap_cmd():
    return LAUNCHERS[_launcher]()


def capture_tracetap(*args, cwd, **kw):
    if _launcher == "tracetap":
        return conftest.capture_tracetap_script(*args, cwd=cwd, **kw)
    return conftest.capture_tracetap(*args, cwd=cwd, **kw)

PROBE = """
import json, os, sys
import __main__
seen = {
    "argv": sys.argv,
    "path0": sys.path[0],
    "name": __name__,
    "file": __file__,
    "package": __package__,
    "spec": None if __spec__ is None else __spec__.name,
    "loader": type(__loader__).__name__,
    "main_is_me": __main__.__dict__ is globals(),
    "dunders": sorted(k for k in globals() if k.startswith("__")),
}
print(json.dumps(seen))
"""


def _seen(proc):
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1]
    return json.loads(line)


def _info(path, cwd):
    return capture_tracetap("info", path, cwd=cwd)


def _events(path, cwd):
    proc = capture_tracetap("events", "--json", path, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _assert_complete(path, cwd):
    info = _info(path, cwd)
    assert info.returncode == 0, info.stderr
    assert "status:     complete" in info.stdout, info.stdout
    assert info.stderr == ""


def test_script_sees_what_python_gives_it(tmp_path):
    script = capture_write(tmp_path / "sub", "probe.py", PROBE)
    out = str(tmp_path / "probe.ttrace")
    args = ["a", "-b", "--c", "--", "-o", "x"]
    plain = capture_python(os.path.join("sub", "probe.py"), *args, cwd=tmp_path)
    traced = capture_tracetap(
        "run", "-o", out, os.path.join("sub", "probe.py"), *args, cwd=tmp_path
    )
    assert plain.returncode == traced.returncode == 0, traced.stderr
    assert _seen(traced) == _seen(plain)
    assert _seen(traced)["argv"] == [os.path.join("sub", "probe.py")] + args
    assert _seen(traced)["path0"] == os.path.dirname(os.path.realpath(script))
    _assert_complete(out, tmp_path)
    events = _events(out, tmp_path)
    assert events[0]["kind"] == "call" and events[0]["func"] == "<module>"
    assert events[0]["file"] == script
    assert events[-1]["kind"] == "return" and events[-1]["func"] == "<module>"
    # Nothing of tracetap's own, and not the runner's standard library use.
    pkg = os.path.dirname(tracetap.__file__)
    assert not [e for e in events if e["file"].startswith(pkg + os.sep)]
    # (<string> code the stdlib generates for itself is the stdlib's.)
    assert {e["file"] for e in events} == {script}


def test_main_guard_and_default_output(tmp_path):
    capture_write(
        tmp_path,
        "guarded.py",
        """
        def main():
            print("main ran")

        if __name__ == "__main__":
            main()
    """,
    )
    proc = capture_tracetap("run", "guarded.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "main ran\n"
    out = tmp_path / "guarded.ttrace"  # next to the script
    assert out.exists()
    funcs = [(e["kind"], e["func"]) for e in _events(str(out), tmp_path)]
    assert ("call", "main") in funcs and ("return", "main") in funcs
    assert "recorded" in proc.stderr and str(out) in proc.stderr


@pytest.mark.parametrize(
    "code,status",
    [
        ("sys.exit(3)", 3),
        ("sys.exit(0)", 0),
        ("sys.exit()", 0),
        ("sys.exit('bye')", 1),
        ("raise SystemExit(7)", 7),
        ("sys.exit(None)", 0),
    ],
)
def test_exit_status_matches_python(tmp_path, code, status):
    capture_write(
        tmp_path,
        "ex.py",
        f"""
        import os, sys
        def leave():
            try:
                {code}
            finally:
                print("finally ran")
        leave()
        print("not reached")
    """,
    )
    plain = capture_python("ex.py", cwd=tmp_path)
    traced = capture_tracetap("run", "-o", "ex.ttrace", "ex.py", cwd=tmp_path)
    assert plain.returncode == status
    assert traced.returncode == status, traced.stderr
    assert traced.stdout == plain.stdout == "finally ran\n"
    assert capture_without_summary(traced.stderr) == plain.stderr
    _assert_complete(str(tmp_path / "ex.ttrace"), tmp_path)
    kinds = [e["kind"] for e in _events(str(tmp_path / "ex.ttrace"), tmp_path)]
    assert "exception" in kinds and kinds[-1] == "return"


def test_uncaught_exception_traceback_is_pythons(tmp_path):
    capture_write(
        tmp_path,
        "boom.py",
        """
        class Oops(Exception):
            pass

        def inner():
            raise Oops("deep")

        def outer():
            try:
                inner()
            except Oops as exc:
                raise ValueError("wrapped") from exc

        outer()
    """,
    )
    plain = capture_python("boom.py", cwd=tmp_path)
    traced = capture_tracetap("run", "-o", "boom.ttrace", "boom.py", cwd=tmp_path)
    assert plain.returncode == traced.returncode == 1
    assert capture_without_summary(traced.stderr) == plain.stderr
    assert "tracetap" not in capture_without_summary(traced.stderr)
    assert "_run.py" not in traced.stderr
    events = _events(str(tmp_path / "boom.ttrace"), tmp_path)
    exc = [(e["func"], e["exception"]) for e in events if e["kind"] == "exception"]
    assert exc[0] == ("inner", "__main__.Oops")
    assert ("outer", "ValueError") in exc and ("<module>", "ValueError") in exc
    _assert_complete(str(tmp_path / "boom.ttrace"), tmp_path)


def test_syntax_error_is_reported_like_python(tmp_path):
    capture_write(tmp_path, "bad.py", "def f(:\n    pass\n")
    plain = capture_python("bad.py", cwd=tmp_path)
    traced = capture_tracetap("run", "bad.py", cwd=tmp_path)
    assert plain.returncode == traced.returncode == 1
    assert "SyntaxError" in traced.stderr
    assert plain.stderr.strip().splitlines()[-1] in traced.stderr
    # python's report, and none of tracetap's own frames
    shown = capture_without_summary(traced.stderr)
    assert shown.startswith(plain.stderr), shown
    assert "_run.py" not in shown and "cli.py" not in shown and "Traceback" not in shown


def test_module_mode(tmp_path):
    capture_write(tmp_path, "pkg/__init__.py", "print('pkg init')\n")
    capture_write(
        tmp_path,
        "pkg/tool.py",
        PROBE
        + """
if __name__ == "__main__":
    raise SystemExit(4)
""",
    )
    plain = capture_python("-m", "pkg.tool", "x", "--y", cwd=tmp_path)
    traced = capture_tracetap("run", "-m", "pkg.tool", "x", "--y", cwd=tmp_path)
    assert plain.returncode == traced.returncode == 4, traced.stderr
    assert _seen(traced) == _seen(plain)
    assert _seen(traced)["argv"] == [str(tmp_path / "pkg" / "tool.py"), "x", "--y"]
    out = str(tmp_path / "pkg.tool.ttrace")  # -m: MODULE.ttrace in the cwd
    _assert_complete(out, tmp_path)
    files = [e["file"] for e in _events(out, tmp_path) if e["kind"] == "call"]
    # The parent package's import is the program's own code: recorded.
    assert files[0] == str(tmp_path / "pkg" / "__init__.py")
    assert str(tmp_path / "pkg" / "tool.py") in files
    assert not [f for f in files if f.endswith("runpy.py")]


def test_directory_with_main(tmp_path):
    capture_write(tmp_path, "app/__main__.py", PROBE)
    plain = capture_python("app", "z", cwd=tmp_path)
    traced = capture_tracetap("run", "app", "z", cwd=tmp_path)
    assert plain.returncode == traced.returncode == 0, traced.stderr
    assert _seen(traced) == _seen(plain)
    _assert_complete(str(tmp_path / "app.ttrace"), tmp_path)


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["run", "missing.py"], "can't open file"),
        (["run", "-m", "no_such_module_xyz"], "no module named"),
        (["run", "-m", "json.no_such_submodule"], "No module named"),
        (["run"], "SCRIPT or -m MODULE"),
        (["run", "--ring", "1M", "x.py"], "not available yet"),
        (["run", "--threads", "some", "x.py"], "invalid choice"),
        (["run", "--bogus", "x.py"], "unrecognized arguments"),
        (["run", "--no-calls", "--opcodes", "x.py"], "cannot be combined"),
        (["run", "--count", "--branch", "--objects", "x.py"], "cannot be combined"),
        (["run", "-m"], "expected one argument"),
        (["events"], "required"),
        (["coverage", "--bogus", "x", "f.ttrace"], "tracetap coverage: error: unrecognized"),
        (["events", "--bogus", "f.ttrace"], "tracetap events: error: unrecognized"),
        # info takes several files (a followed run's processes)
        (["info", "--bogus", "a"], "tracetap info: error: unrecognized"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2(tmp_path, argv, needle):
    capture_write(tmp_path, "x.py", "print('ran')\n")
    proc = capture_tracetap(*argv, cwd=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert needle in proc.stderr
    assert "ran" not in proc.stdout
    assert not list(tmp_path.glob("*.ttrace"))


def test_help_texts(tmp_path):
    top = capture_tracetap("--help", cwd=tmp_path)
    assert top.returncode == 0
    for verb in ("run", "events", "info", "objects", "coverage"):
        assert verb in top.stdout
        sub = capture_tracetap(verb, "--help", cwd=tmp_path)
        assert sub.returncode == 0, sub.stderr
        assert "example" in sub.stdout
    run_help = capture_tracetap("run", "--help", cwd=tmp_path).stdout
    for flag in (
        "--opcodes",
        "--no-lines",
        "--no-calls",
        "--threads",
        "--include",
        "--exclude",
        "--stdlib",
        "-m MODULE",
    ):
        assert flag in run_help
    assert "not yet available" in run_help


def test_options_after_script_belong_to_the_program(tmp_path):
    capture_write(tmp_path, "p.py", "import sys; print(sys.argv[1:])\n")
    proc = capture_tracetap(
        "run", "--no-lines", "p.py", "--opcodes", "-o", "x", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "['--opcodes', '-o', 'x']\n"
    kinds = {e["kind"] for e in _events(str(tmp_path / "p.ttrace"), tmp_path)}
    assert kinds == {"call", "return"}


def test_waits_for_threads_like_python(tmp_path):
    capture_write(
        tmp_path,
        "late.py",
        """
        import threading, time

        def work():
            time.sleep(0.2)
            finish()

        def finish():
            print("thread done")

        threading.Thread(target=work).start()
        print("main done")
    """,
    )
    proc = capture_tracetap("run", "late.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "main done\nthread done\n"
    calls = {
        e["func"]
        for e in _events(str(tmp_path / "late.ttrace"), tmp_path)
        if e["kind"] == "call"
    }
    assert "finish" in calls  # the thread was recorded to its end


def _default_signals():
    """In the child: SIGINT and SIGTERM as a shell started from a terminal
    leaves them, whatever this test process inherited (a background job
    inherits SIGINT ignored, and Python then installs no
    KeyboardInterrupt handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.fixture
def children():
    """Popen objects started by the test; killed if still running when the
    test ends, passed or failed."""
    started = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _start_and_wait(cmd, cwd, children):
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=capture_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_signals,
    )
    children.append(proc)
    assert proc.stdout.readline() == "ready\n"
    time.sleep(0.3)
    return proc


LOOP = """
import time
def tick(i):
    return i + 1
i = 0
print("ready", flush=True)
while True:
    i = tick(i)
    time.sleep(0.001)
"""


def test_sigterm_finishes_the_file_and_dies_of_sigterm(tmp_path, children):
    capture_write(tmp_path, "loop.py", LOOP)
    plain = _start_and_wait([sys.executable, "loop.py"], tmp_path, children)
    plain.send_signal(signal.SIGTERM)
    plain.communicate(timeout=30)
    traced = _start_and_wait(
        [*_tracetap_cmd(), "run", "-o", "loop.ttrace", "loop.py"],
        tmp_path,
        children,
    )
    traced.send_signal(signal.SIGTERM)
    _, err = traced.communicate(timeout=30)
    assert plain.returncode == traced.returncode == -signal.SIGTERM
    assert "terminated by SIGTERM" in err
    _assert_complete(str(tmp_path / "loop.ttrace"), tmp_path)
    ticks = [
        e
        for e in _events(str(tmp_path / "loop.ttrace"), tmp_path)
        if e["kind"] == "call" and e["func"] == "tick"
    ]
    assert len(ticks) > 10


def test_sigint_is_a_keyboardinterrupt_as_in_python(tmp_path, children):
    capture_write(tmp_path, "loop.py", LOOP)
    plain = _start_and_wait([sys.executable, "loop.py"], tmp_path, children)
    plain.send_signal(signal.SIGINT)
    _, plain_err = plain.communicate(timeout=30)
    traced = _start_and_wait(
        [*_tracetap_cmd(), "run", "-o", "loop.ttrace", "loop.py"],
        tmp_path,
        children,
    )
    traced.send_signal(signal.SIGINT)
    _, err = traced.communicate(timeout=30)
    assert plain.returncode == traced.returncode == -signal.SIGINT
    assert plain_err.splitlines()[-1] == "KeyboardInterrupt"
    assert "KeyboardInterrupt" in capture_without_summary(err)
    assert "_run.py" not in err
    _assert_complete(str(tmp_path / "loop.ttrace"), tmp_path)
    kinds = [e["kind"] for e in _events(str(tmp_path / "loop.ttrace"), tmp_path)]
    assert "exception" in kinds and kinds[-1] == "return"


def test_include_and_exclude(tmp_path):
    capture_write(tmp_path, "lib/helper.py", "def help():\n    return 1\n")
    capture_write(
        tmp_path,
        "main.py",
        """
        import sys, json
        sys.path.insert(0, "lib")
        import helper
        helper.help()
        json.dumps([1])
    """,
    )
    proc = capture_tracetap(
        "run",
        "--exclude",
        "lib/*",
        "--include",
        "*/json/encoder.py",
        "main.py",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    files = {
        os.path.basename(e["file"])
        for e in _events(str(tmp_path / "main.ttrace"), tmp_path)
    }
    assert "helper.py" not in files  # --exclude (relative glob)
    assert "encoder.py" in files  # --include beats stdlib
    assert "__init__.py" not in files  # json/__init__ stays stdlib


@pytest.mark.parametrize("mode", ["--count", "--coverage", "--calls-and-lines"])
def test_the_command_itself_is_never_the_programs_code(tmp_path, mode):
    """The installed console script (bin/tracetap) is the outermost frame
    the program runs in, and runpy's is for `python -m tracetap`: neither
    is the program's code, so neither is in its coverage or its events."""
    capture_write(tmp_path, "helper.py", "def help():\n    return 1\n")
    capture_write(tmp_path, "main.py", "import helper\nhelper.help()\n")
    flags = [] if mode == "--calls-and-lines" else [mode]
    proc = capture_tracetap("run", *flags, "main.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    path = str(tmp_path / "main.ttrace")
    report = capture_tracetap("coverage", "--format", "json", path, cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    files = sorted(json.loads(report.stdout)["files"])
    assert files == [str(tmp_path / "helper.py"), str(tmp_path / "main.py")]
    if mode == "--calls-and-lines":
        seen = {e["file"] for e in _events(path, tmp_path) if "file" in e}
        assert seen == set(files)


PSEUDO = """
import argparse, collections, dataclasses

P = collections.namedtuple("P", "x y")


@dataclasses.dataclass
class D:
    a: int
    b: int = 2


def main():
    p = P(1, 2)
    d = D(1)
    ns = {}
    exec(compile("def gen(v):\\n    return v * 2\\n", "<generated>", "exec"), ns)
    parser = argparse.ArgumentParser()
    parser.add_argument("--x")
    parser.parse_args([])
    return ns["gen"](p.x + d.a)


main()
"""


def test_pseudo_files_take_their_callers_decision(tmp_path):
    """Code from a pseudo file ("<string>", "<generated>") has no file to
    judge: the stdlib's own generated helpers (dataclass and namedtuple
    builders, argparse internals) are the stdlib's and not recorded; what
    the script calls or execs itself is recorded."""
    script = capture_write(tmp_path, "pseudo.py", PSEUDO)
    out = str(tmp_path / "pseudo.ttrace")
    proc = capture_tracetap("run", "-o", out, script, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    calls = {(e["file"], e["func"]) for e in _events(out, tmp_path)
             if e["kind"] == "call"}
    assert ("<generated>", "<module>") in calls
    assert ("<generated>", "gen") in calls
    generated = {func for file, func in calls if file == "<string>"}
    # The dataclass __init__ and the namedtuple __new__ (a lambda) run
    # because main() called them; nothing the stdlib ran for itself.
    # (3.13 names the first "__create_fn__.<locals>.__init__".)
    last = {func.rsplit(".", 1)[-1] for func in generated}
    assert "__init__" in last, calls
    assert last <= {"__init__", "__new__", "<lambda>"}, generated
    assert "__create_fn__" not in generated
    assert {file for file, _ in calls} == {script, "<generated>", "<string>"}


FORKER = """
import os, signal, sys, time

def work():
    return 1

work()
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    print("default SIGTERM", signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, flush=True)
    work()
    if sys.argv[1] == "term":
        os.write(w, b"x")
        time.sleep(30)
    sys.exit(0)            # runs on to the program's end, as a fork child may
os.close(w)
if sys.argv[1] == "term":
    os.read(r, 1)
    os.kill(pid, signal.SIGTERM)
_, status = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(status), flush=True)
"""


@pytest.mark.parametrize("how", ["term", "exit"])
def test_fork_child_ends_as_without_tracetap(tmp_path, how):
    """A forked child inherits neither the recording nor tracetap's SIGTERM
    handling: its SIGTERM disposition is the default again (a Python-level
    handler would not run while the child waits in C), SIGTERM kills it as
    it would untraced (a fork pool's terminate()), and a child that runs to
    the program's end prints no summary of its own."""
    capture_write(tmp_path, "forker.py", FORKER)
    plain = capture_python("forker.py", how, cwd=tmp_path)
    traced = capture_tracetap("run", "-o", "f.ttrace", "forker.py", how, cwd=tmp_path)
    assert plain.returncode == traced.returncode == 0, traced.stderr
    assert traced.stdout == plain.stdout
    assert plain.stdout == "default SIGTERM True\n" + (
        "child -15\n" if how == "term" else "child 0\n")
    assert "RuntimeError" not in traced.stderr, traced.stderr
    summaries = [ln for ln in traced.stderr.splitlines()
                 if ln.startswith("tracetap: recorded")]
    assert len(summaries) == 1, traced.stderr
    _assert_complete(str(tmp_path / "f.ttrace"), tmp_path)


@pytest.mark.parametrize("closing", [
    "sys.stderr.close()",
    "os.close(1); os.close(2)",
])
def test_program_that_closes_stderr_exits_as_in_python(tmp_path, closing):
    """A program that closes stderr (or fds 1 and 2, daemon style) exits as
    it would untraced; the recording is complete, only the summary is not
    shown."""
    capture_write(tmp_path, "closer.py",
                  f"import os, sys\ndef f():\n    return 1\nf()\n{closing}\n")
    plain = capture_python("closer.py", cwd=tmp_path)
    traced = capture_tracetap("run", "-o", "c.ttrace", "closer.py", cwd=tmp_path)
    assert plain.returncode == traced.returncode == 0, traced.stderr
    _assert_complete(str(tmp_path / "c.ttrace"), tmp_path)
