"""tracetap.record()/start()/stop() and tracetap.load(): what is recorded
through the Python API, refusing to start beside another tracer, noticing
a tracer that replaced ours, threads that existed before the recording, and
the pieces the capture builds on (line tables, code records)."""

import dis
import itertools
import os
import sys
import threading
import time
import types

import pytest
from conftest import capture_python, capture_write

import tracetap
from tracetap import _tracetap

pytestmark = pytest.mark.usefixtures("capture_no_tracer")

HERE = os.path.abspath(__file__)


# ------------------------------------------------------------ a workload


def gen(n):
    for i in range(n):  # noqa: UP028 - the loop's events are the point
        yield i
    try:
        yield -1
    finally:
        cleanup()


def cleanup():
    return None


class Boom(Exception):
    pass


def raiser():
    try:
        raise Boom("x")
    finally:
        cleanup()


def workload():
    total = 0
    for v in gen(2):
        total += v
    g = gen(1)
    next(g)
    g.close()
    try:
        raiser()
    except Boom:
        total += 1
    return [x * 2 for x in range(2)], total


def _python_reference(func):
    """What a pure-Python sys.settrace recorder sees for func() (events of
    this file only): (kind, line, qualname)."""
    events = []

    def tracer(frame, event, arg):
        if frame.f_code.co_filename != HERE:
            return None
        events.append((event, frame.f_lineno, frame.f_code.co_qualname))
        return tracer

    sys.settrace(tracer)
    try:
        func()
    finally:
        sys.settrace(None)
    return events


def _mine(trace, thread=None):
    return [(e.kind, e.line, e.func) for e in trace.events(thread) if e.file == HERE]


# ------------------------------------------------------------------ tests


def test_context_manager_records_what_settrace_sees(tmp_path):
    expected = _python_reference(workload)
    path = tmp_path / "w.ttrace"
    with tracetap.record(path) as rec:
        workload()
    assert not rec.recording
    trace = tracetap.load(path)
    got = _mine(trace)
    # The frame holding the `with` was already running: not traced, only
    # what it calls (the same as what the Python tracer saw).
    assert got == expected
    assert {k for k, _, _ in got} >= {"call", "line", "return", "exception"}
    info = trace.info()
    assert info["damage"]["status"] == 0 and info["damage"]["clean_end"]
    assert info["header"]["python_version"] == sys.version.split()[0]


def test_start_stop_summary_matches_file(tmp_path):
    path = str(tmp_path / "s.ttrace")
    rec = tracetap.record(path, lines=False).start()
    assert rec.recording and _tracetap.is_recording()
    workload()
    summary = rec.stop()
    assert not _tracetap.is_recording()
    assert summary["path"] == path
    assert summary["events"]["line"] == 0
    assert summary["events"]["call"] >= 6 and summary["events"]["return"] >= 6
    info = tracetap.load(path).info()
    assert info["events"] == summary["events"]
    assert info["dropped"] == summary["dropped"] == 0
    assert summary["bytes"] == os.path.getsize(path)
    assert summary["threads"] == 1 and summary["warnings"] == []
    with pytest.raises(RuntimeError):
        rec.stop()
    with pytest.raises(RuntimeError):
        rec.start()  # a record() object is used once


def test_event_fields(tmp_path):
    path = tmp_path / "f.ttrace"
    with tracetap.record(path):
        raiser_caught()
    events = [e for e in tracetap.load(path).events() if e.file == HERE]
    first = events[0]
    assert isinstance(first, tuple)  # an Event is a named tuple
    assert first.kind == "call" and first.func == "raiser_caught"
    assert first.line == raiser_caught.__code__.co_firstlineno
    assert first.thread == 0
    exc = [e for e in events if e.kind == "exception"]
    assert exc[0].exception == "test_api.Boom" and exc[0].func == "raiser"
    ts = [e.t_ns for e in events]
    assert ts == sorted(ts) and ts[0] >= 0
    as_json = first.to_json()
    assert set(as_json) == {"thread", "kind", "file", "line", "func", "t_ns"}


def raiser_caught():
    try:
        raiser()
    except Boom:
        pass


def test_opcodes(tmp_path):
    path = tmp_path / "o.ttrace"
    with tracetap.record(path, opcodes=True):
        cleanup()
    ops = [
        e
        for e in tracetap.load(path).events()
        if e.kind == "opcode" and e.func == "cleanup"
    ]
    code = cleanup.__code__
    instrs = {i.offset: i.opname for i in dis.get_instructions(code)}
    assert ops, "no opcode events"
    for e in ops:
        assert e.opcode == dis.opname[code.co_code[e.offset]]
        assert e.offset in instrs
    assert ops[-1].opcode.startswith("RETURN")


_LATER_TRACER = """
import sys, tracetap
def f():
    x = 1
    return x + 1
def g():
    y = 2
    return y * 2
if sys.argv[1] == "record":
    with tracetap.record("o.ttrace", opcodes=True):
        f()
seen = []
def tr(frame, event, arg):
    if event == "call" and frame.f_code is g.__code__:
        frame.f_trace_opcodes = True
    seen.append(event)
    return tr
sys.settrace(tr)
g()
sys.settrace(None)
print(sorted(set(seen)), seen.count("opcode"))
"""


def test_opcodes_leave_later_tracers_as_they_were(tmp_path):
    # 3.12 raises an interpreter-wide mark when a frame asks for opcode
    # events, never lowers it, and then turns INSTRUCTION events on for
    # every later sys.settrace (2.7x slower). After a recording with
    # opcodes, a later tracer of code the recording never ran must see what
    # it sees where tracetap never ran: the same events, and no opcode
    # events switched on behind its back. (3.13+ arms opcode events per
    # code object, and disarms a code object at its first instruction
    # under a tracer that did not ask for them.)
    capture_write(tmp_path, "later.py", _LATER_TRACER)
    plain = capture_python("later.py", "plain", cwd=tmp_path)
    after = capture_python("later.py", "record", cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert after.returncode == 0, after.stderr
    assert "'line'" in plain.stdout
    assert after.stdout == plain.stdout


def test_refuses_when_another_tracer_holds_the_hook(tmp_path):
    def other(frame, event, arg):
        return None

    sys.settrace(other)
    try:
        with pytest.raises(RuntimeError, match="another trace function"):
            tracetap.record(tmp_path / "r.ttrace").start()
        assert sys.gettrace() is other  # left alone
        assert not _tracetap.is_recording()
    finally:
        sys.settrace(None)
    threading.settrace(other)
    try:
        with pytest.raises(RuntimeError, match="threading.settrace"):
            tracetap.record(tmp_path / "r2.ttrace").start()
        assert threading.gettrace() is other
    finally:
        threading.settrace(None)
    # With the hook free again, recording works.
    with tracetap.record(tmp_path / "ok.ttrace"):
        cleanup()


def test_refuses_a_second_recording(tmp_path):
    with (
        tracetap.record(tmp_path / "a.ttrace"),
        pytest.raises(RuntimeError, match="already running"),
    ):
        tracetap.record(tmp_path / "b.ttrace").start()


def test_replaced_hook_is_reported_at_stop(tmp_path):
    def other(frame, event, arg):
        return None

    path = tmp_path / "rep.ttrace"
    rec = tracetap.record(path).start()
    try:
        cleanup()
        sys.settrace(other)  # a debugger takes over
        cleanup()
    finally:
        summary = rec.stop()
    try:
        assert sys.gettrace() is other  # theirs is left in place
    finally:
        sys.settrace(None)
    assert any(
        "replaced tracetap's hook" in w and "other" in w for w in summary["warnings"]
    ), summary["warnings"]
    notes = dict(tracetap.load(path).info()["notes"])
    assert "hook_replaced" in notes
    calls = [
        e
        for e in tracetap.load(path).events()
        if e.kind == "call" and e.func == "cleanup"
    ]
    assert len(calls) == 1  # only the one before


def test_removed_hook_is_reported_at_stop(tmp_path):
    rec = tracetap.record(tmp_path / "rm.ttrace").start()
    cleanup()
    sys.settrace(None)
    summary = rec.stop()
    assert any("removed" in w for w in summary["warnings"]), summary


def test_settrace_gettrace_round_trip_keeps_recording(tmp_path):
    path = tmp_path / "rt.ttrace"
    rec = tracetap.record(path).start()
    saved = sys.gettrace()
    sys.settrace(None)  # what some libraries do
    sys.settrace(saved)
    cleanup()
    summary = rec.stop()
    assert summary["warnings"] == []
    assert sys.gettrace() is None
    calls = [e.func for e in tracetap.load(path).events() if e.kind == "call"]
    assert "cleanup" in calls


def _spin(stop, ready):
    while not stop.is_set():
        ready.set()
        cleanup()
        time.sleep(0.001)
    return sys.gettrace()


def test_threads_that_existed_before_are_traced(tmp_path):
    stop, ready = threading.Event(), threading.Event()
    seen = {}
    t = threading.Thread(
        target=lambda: seen.setdefault("after", _spin(stop, ready)), name="early-bird"
    )
    t.start()
    ready.wait(5)
    path = tmp_path / "pre.ttrace"
    try:
        with tracetap.record(path):
            time.sleep(0.2)
            late = threading.Thread(target=cleanup, name="late-comer")
            late.start()
            late.join()
    finally:
        stop.set()
        t.join()
    assert seen["after"] is None  # no hook left in that thread
    trace = tracetap.load(path)
    names = {th["name"]: th for th in trace.info()["threads"]}
    assert "early-bird" in names and "late-comer" in names
    early = names["early-bird"]["ordinal"]
    calls = [e for e in trace.events(early) if e.kind == "call"]
    assert len(calls) > 5 and all(e.func == "cleanup" for e in calls)


def test_threads_main_only(tmp_path):
    path = tmp_path / "main.ttrace"
    with tracetap.record(path, threads="main"):
        t = threading.Thread(target=cleanup)
        t.start()
        t.join()
        cleanup()
    trace = tracetap.load(path)
    assert len(trace.info()["threads"]) == 1
    assert trace.info()["header"]["options"] & 0x40
    assert [e.func for e in trace.events() if e.kind == "call"] == ["cleanup"]

    errors = []

    def off_main():
        try:
            tracetap.record(tmp_path / "x.ttrace", threads="main").start()
        except RuntimeError as exc:
            errors.append(str(exc))

    t = threading.Thread(target=off_main)
    t.start()
    t.join()
    assert errors and "main thread" in errors[0]


def test_stop_from_another_thread(tmp_path):
    path = tmp_path / "other.ttrace"
    rec = tracetap.record(path).start()
    cleanup()
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("s", rec.stop()))
    t.start()
    t.join()
    assert out["s"]["warnings"] == []
    assert sys.gettrace() is None and threading.gettrace() is None
    assert tracetap.load(path).info()["damage"]["clean_end"]


def test_not_available_and_bad_options(tmp_path):
    for kw in ({"ring": "64M"},):
        with pytest.raises(tracetap.NotAvailableError, match="not available yet"):
            tracetap.record(tmp_path / "n.ttrace", **kw)
        assert issubclass(tracetap.NotAvailableError, NotImplementedError)
    with pytest.raises(ValueError):
        tracetap.record(tmp_path / "n.ttrace", threads="some")
    with pytest.raises(ValueError):
        tracetap.record(tmp_path / "n.ttrace", calls=False, opcodes=True)
    assert not os.path.exists(tmp_path / "n.ttrace")


def test_no_calls_installs_nothing(tmp_path):
    path = tmp_path / "nc.ttrace"
    with tracetap.record(path, calls=False):
        assert sys.gettrace() is None and threading.gettrace() is None
        cleanup()
    info = tracetap.load(path).info()
    assert sum(info["events"].values()) == 0
    assert info["damage"]["clean_end"]


def test_filters(tmp_path):
    import json

    path = tmp_path / "flt.ttrace"
    with tracetap.record(path, exclude=[HERE]):
        cleanup()
        json.dumps([1])
    assert not [e for e in tracetap.load(path).events()]
    path = tmp_path / "std.ttrace"
    with tracetap.record(path, stdlib=True):
        json.dumps([1])
    files = {e.file for e in tracetap.load(path).events()}
    assert any(f.endswith(os.path.join("json", "__init__.py")) for f in files)
    assert not [f for f in files if f.startswith(os.path.dirname(tracetap.__file__))]


def test_fork_child_does_not_write_into_the_parent_file(tmp_path):
    script = capture_write(
        tmp_path,
        "forker.py",
        """
        import os, sys, tracetap
        def parent_side():
            return 1
        def child_side():
            return 2
        with tracetap.record(sys.argv[1]):
            parent_side()
            pid = os.fork()
            if pid == 0:
                for _ in range(1000):
                    child_side()
                os._exit(0)
            os.waitpid(pid, 0)
            parent_side()
        print(sys.gettrace())
    """,
    )
    out = str(tmp_path / "fork.ttrace")
    proc = capture_python(script, out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    trace = tracetap.load(out)
    assert trace.info()["damage"]["status"] == 0
    funcs = [e.func for e in trace.events() if e.kind == "call"]
    assert funcs.count("parent_side") == 2 and "child_side" not in funcs


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_fork_child_lets_go_of_the_parent_file(tmp_path):
    """The forked child closes its copy of the trace file's descriptor (and
    frees the rest of the recording) without writing; the parent's file
    stays whole."""
    script = capture_write(
        tmp_path,
        "forker_fd.py",
        """
        import os, sys, tracetap
        path = os.path.realpath(sys.argv[1])
        def open_on_trace():
            return [fd for fd in os.listdir("/proc/self/fd")
                    if os.path.realpath("/proc/self/fd/" + fd) == path]
        with tracetap.record(sys.argv[1]):
            assert open_on_trace(), "the parent writes through a descriptor"
            pid = os.fork()
            if pid == 0:
                code = 3 if open_on_trace() else (4 if sys.gettrace() else 0)
                os._exit(code)
            _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
    """,
    )
    out = str(tmp_path / "fork-fd.ttrace")
    proc = capture_python(script, out, cwd=tmp_path)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    trace = tracetap.load(out)
    assert trace.info()["damage"]["status"] == 0


def make_class():
    class Local:
        x = 1

    return Local


def _all_codes(code):
    yield code
    for k in code.co_consts:
        if isinstance(k, types.CodeType):
            yield from _all_codes(k)


def _merged_co_lines(code):
    out = []
    for start, end, line in code.co_lines():
        if start == end:
            continue
        if out and out[-1][2] == line and out[-1][1] == start:
            out[-1] = (out[-1][0], end, line)
        else:
            out.append((start, end, line))
    return out


@pytest.mark.parametrize(
    "module",
    ["json.decoder", "asyncio.base_events", "argparse", "dataclasses", "test_api"],
)
def test_line_table_parser_matches_co_lines(module):
    mod = __import__(module, fromlist=["_"])
    with open(mod.__file__, encoding="utf-8") as f:
        top = compile(f.read(), mod.__file__, "exec")
    n = 0
    for code in _all_codes(top):
        assert _tracetap._code_lines(code) == _merged_co_lines(code), code
        n += 1
    assert n > 10


def test_code_records(tmp_path):
    path = tmp_path / "c.ttrace"
    with tracetap.record(path):
        workload()
        make_class()
    reader = _tracetap.Reader(str(path))
    by_name = {}
    for cid in range(reader.n_codes):
        file, qual, first, flags, parent, ranges = reader.code(cid)
        by_name[(file, qual)] = (first, flags, parent, ranges)
    first, flags, parent, ranges = by_name[(HERE, "gen")]
    assert first == gen.__code__.co_firstlineno
    assert flags & 0x2  # a generator
    assert flags & 0x4  # a function body
    body = by_name[(HERE, "make_class.<locals>.Local")]
    assert not body[1] & 0x4  # a class body
    assert reader.code(body[2])[1] == "make_class"  # its parent code
    assert ranges == _merged_co_lines(gen.__code__)
    # workload's comprehension (3.11) or nothing nested (3.12+ inlines it).
    assert by_name[(HERE, "workload")][1] & 0x1


def test_a_recording_left_running_is_finished_at_exit(tmp_path):
    script = capture_write(
        tmp_path,
        "forgot.py",
        """
        import sys, tracetap
        def step():
            return 1
        tracetap.record(sys.argv[1]).start()
        step()
        """,
    )
    out = str(tmp_path / "forgot.ttrace")
    proc = capture_python(script, out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    info = tracetap.load(out).info()
    assert info["damage"]["status"] == 0 and info["damage"]["clean_end"]
    assert info["events"]["call"] == 1


def _busy(n):
    for _ in range(n):
        cleanup()


def test_open_decodes_only_what_is_asked(tmp_path):
    """A Trace opens without decoding the file: the threads' order, names
    and first times are known at once (each thread's first chunk), the
    first events come without a whole-file pass, and counts are decoded
    when first asked for, equal to what a full read gives."""
    path = tmp_path / "lazy.ttrace"
    with tracetap.record(path):
        _busy(20_000)                     # several chunks of the main thread
        for i in range(3):
            t = threading.Thread(target=_busy, args=(5_000,), name=f"w{i}")
            t.start()
            t.join()
    with tracetap.load(path) as trace:
        lazy = trace.threads(counts=False)
        first = list(itertools.islice(trace.events(), 10))
        assert len(first) == 10
        status = trace.status(counts=False)
        assert status["dropped"] is None and status["state"] == "complete"
        partial = trace.threads(counts=False)
        full = trace.threads()
        counts = trace.info()["events"]
    assert [t["name"] for t in full] == ["MainThread", "w0", "w1", "w2"]
    keys = ("ordinal", "id", "ident", "name", "first_ns")
    assert [{k: t[k] for k in keys} for t in lazy] == \
           [{k: t[k] for k in keys} for t in full]
    # Only the first chunks were decoded before counts were asked for.
    assert sum(t["events"] for t in partial) < sum(t["events"] for t in full)
    assert partial[0]["events"] < full[0]["events"]
    assert sum(t["events"] for t in full) == sum(counts.values())
    with tracetap.load(path) as again:          # the same as a full read
        seen = sum(1 for _ in again.events())
        assert again.threads(counts=False) == full
    assert seen == sum(counts.values())
