"""Long reads (`tracetap objects`, `tracetap coverage`): the C reader
reports how far it is to _tracetap.set_progress()'s callable, an exception
from that callable stops the read, and so does a signal (Ctrl-C) that
arrives while the read runs in C. The CLI's progress line shows only on a
terminal, only after a second, and is erased at the end."""

import io
import signal
import sys

import pytest
from conftest import capture_tracetap, capture_write

import tracetap
from tracetap import _progress, _tracetap

pytestmark = pytest.mark.usefixtures("capture_no_tracer")

EVERY = 1 << 16

PROGRAM = """
def step(i):
    x = i * 2
    return x

for i in range(N):
    step(i)
"""


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """A recording of about 1.6 million events."""
    d = tmp_path_factory.mktemp("progress")
    capture_write(d, "loop.py", PROGRAM.replace("N", "300000"))
    p = capture_tracetap("run", "-o", "loop.ttrace", "loop.py", cwd=d)
    assert p.returncode == 0, p.stderr
    return str(d / "loop.ttrace")


@pytest.fixture
def progress():
    """Restores the module's progress callable after the test."""
    old = _tracetap.set_progress(None)
    yield
    _tracetap.set_progress(old)


def _total(path):
    with tracetap.load(path) as t:
        return sum(th["events"] for th in t.info()["threads"])


def test_progress_reports_done_and_total(recording, progress):
    for read in (lambda p: tracetap.load(p).objects(),
                 lambda p: _tracetap.coverage_data([p])):
        calls = []
        _tracetap.set_progress(lambda *a: calls.append(a))
        read(recording)
        _tracetap.set_progress(None)
        total = _total(recording)
        assert total > 1_000_000
        assert len(calls) == total // EVERY
        assert all(path == recording and t == total for path, _, t in calls)
        assert [d for _, d, _ in calls] == [EVERY * (k + 1)
                                            for k in range(len(calls))]


def test_set_progress_returns_the_previous_one(progress):
    def f(*a):
        return None
    assert _tracetap.set_progress(f) is None
    assert _tracetap.set_progress(None) is f
    with pytest.raises(TypeError):
        _tracetap.set_progress(42)


class Stop(Exception):
    pass


def test_an_exception_from_the_callable_stops_the_read(recording, progress):
    calls = []

    def stop(path, done, total):
        calls.append(done)
        if done >= 3 * EVERY:
            raise Stop

    _tracetap.set_progress(stop)
    with pytest.raises(Stop):
        tracetap.load(recording).objects()
    assert calls == [EVERY, 2 * EVERY, 3 * EVERY]
    calls.clear()
    with pytest.raises(Stop):
        _tracetap.coverage_data([recording])
    assert calls == [EVERY, 2 * EVERY, 3 * EVERY]
    # Nothing is left half-done: without the callable it reads it all.
    _tracetap.set_progress(None)
    data, _ = _tracetap.coverage_data([recording])
    (counts,) = [f["counts"] for name, f in data["files"].items()
                 if name.endswith("loop.py")]
    assert counts[3] == 300000                      # x = i * 2


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
def test_a_signal_during_the_read_stops_it(recording, progress):
    """No Python code runs during the read; the reader's check for signals
    runs the handler there, and the read ends with its exception."""
    stages = []

    def on_alarm(signum, frame):
        raise Stop

    old = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.002)
        try:
            _tracetap.coverage_data([recording])
            stages.append("returned")
        except Stop:
            stages.append("stopped")
        signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, old)
    assert stages == ["stopped"]


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_line_waits_throttles_and_erases():
    clock, out = FakeClock(), FakeTTY()
    line = _progress.ProgressLine(out, after=1.0, every=0.25, clock=clock)
    line("/x/big.ttrace", EVERY, 10 * EVERY)
    assert out.getvalue() == ""                     # not in the first second
    clock.t = 1.5
    line("/x/big.ttrace", 5 * EVERY, 10 * EVERY)
    first = out.getvalue()
    assert first == "\rtracetap: reading big.ttrace 50% (327,680 of 655,360 events)"
    clock.t = 1.6
    line("/x/big.ttrace", 6 * EVERY, 10 * EVERY)
    assert out.getvalue() == first                  # at most every 0.25 s
    clock.t = 2.0
    line("/x/big.ttrace", 10 * EVERY, 10 * EVERY)
    assert out.getvalue().endswith("99% (655,360 of 655,360 events)")
    line.close()
    assert out.getvalue().endswith("\r" + " " * len(first.lstrip("\r")) + "\r")


def test_progress_line_only_on_a_terminal(recording, progress):
    plain = io.StringIO()
    with _progress.shown(plain):
        assert _tracetap.set_progress(None) is None  # nothing installed
    tty = FakeTTY()
    with _progress.shown(tty):
        installed = _tracetap.set_progress(None)
        assert isinstance(installed, _progress.ProgressLine)
        _tracetap.set_progress(installed)
    assert _tracetap.set_progress(None) is None      # restored on exit


def test_cli_says_interrupted(recording, tmp_path):
    """Ctrl-C during `tracetap coverage` ends with 'interrupted' and status
    130, not a traceback."""
    script = capture_write(tmp_path, "ctrlc.py", f"""
        import sys
        from tracetap import _tracetap, cli
        def ctrl_c(path, done, total):
            raise KeyboardInterrupt
        _tracetap.set_progress(ctrl_c)
        from tracetap import _progress
        _progress.shown = lambda stream: __import__("contextlib").nullcontext()
        sys.exit(cli.main(["coverage", {recording!r}]))
        """)
    from conftest import capture_python
    p = capture_python(script, cwd=tmp_path)
    assert p.returncode == 130, p.stderr
    assert "interrupted" in p.stderr and "Traceback" not in p.stderr
