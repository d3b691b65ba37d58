"""tracetap export --format perfetto|chrome: timelines.

The Perfetto output is parsed with the perfetto PyPI package's own
protobuf definitions (perfetto.protos.perfetto.trace.perfetto_trace_pb2,
which runs on protobuf's runtime), an implementation independent of our C
encoder; the Chrome output with json. Both are checked for:

- every slice that begins ends on the same track, and slices nest;
- timestamps never go back within a sequence; every interned id (event
  names, source locations, categories) is defined on its sequence before
  use, after the sequence cleared its state;
- per function (file, qualname, first line): the number of slices equals
  calls + resumes of `tracetap calls --format json`, and for functions that
  never recurse the summed slice durations equal its inclusive time;
- thread tracks are named as the program named its threads, under a
  process named after the command; exceptions are instants of their type;
- a SIGKILLed recording exports balanced slices and is marked cut;
- --lines nests each line slice in the slice of its function;
- --objects recordings (3.13+) get counter tracks of live objects;
- usage errors: a --count recording, an unwritable output, a bad format.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest
from conftest import capture_env, capture_python, capture_tracetap, capture_write

TIMEOUT = 300

PROGRAM = """
import threading

def leaf(i):
    return i * 2

def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

def gen(n):
    for i in range(n):
        yield leaf(i)

def boom():
    raise ValueError("no")

def catcher():
    try:
        boom()
    except ValueError:
        pass

def work(k):
    for i in range(200):
        leaf(i)
    fib(8)
    total = sum(gen(20))
    for _ in range(3):
        catcher()
    return total

threads = [threading.Thread(target=work, args=(k,), name=f"worker-{k}")
           for k in range(2)]
for t in threads:
    t.start()
work(0)
for t in threads:
    t.join()
"""


def _cli(*args, cwd):
    return capture_tracetap(*args, cwd=cwd, timeout=TIMEOUT)


def _run(args, cwd):
    return capture_python(*args, cwd=cwd, timeout=TIMEOUT)


def _write(tmp_path, name, source):
    return capture_write(tmp_path, name, source)


def _record(tmp_path, source, *opts, name="prog.py"):
    script = _write(tmp_path, name, source)
    out = str(tmp_path / (name + ".ttrace"))
    proc = _cli("run", *opts, "-o", out, script, cwd=tmp_path)
    assert os.path.exists(out), proc.stderr
    return out


def _export(path, fmt, *opts, cwd):
    suffix = ".perfetto-trace" if fmt == "perfetto" else ".json"
    out = path + suffix
    proc = _cli("export", path, "--format", fmt, "-o", out, *opts, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return out, proc.stderr


def _calls_json(path, cwd):
    proc = _cli("calls", path, "--format", "json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    return data, {(f["file"], f["func"], f["line"]): f
                  for f in data["functions"] if f["thread"] is None}


# ------------------------------------------------------------- Perfetto

def _pb2():
    return pytest.importorskip(
        "perfetto.protos.perfetto.trace.perfetto_trace_pb2",
        reason="the perfetto package (test requirement) is not installed")


Slice = collections.namedtuple(
    "Slice", "track cat name src start end depth parent")


def _parse_perfetto(data):
    """Checks the stream rules and returns (slices, instants, counters,
    tracks): slices as Slice, src = (file, function, line)."""
    pb = _pb2()
    trace = pb.Trace()
    trace.ParseFromString(data)
    SEQ_CLEARED = pb.TracePacket.SEQ_INCREMENTAL_STATE_CLEARED
    TE = pb.TrackEvent
    state = {}             # seq -> {"names", "srcs", "cats"}
    last_ts = {}
    tracks = {}            # uuid -> descriptor
    stacks = collections.defaultdict(list)
    slices, instants, counters = [], [], collections.defaultdict(list)
    for pkt in trace.packet:
        seq = pkt.trusted_packet_sequence_id
        assert seq > 0
        if pkt.sequence_flags & SEQ_CLEARED:
            state[seq] = {"names": {}, "srcs": {}, "cats": {}}
        if pkt.HasField("interned_data"):
            st = state[seq]     # interned data only after a clear
            for n in pkt.interned_data.event_names:
                st["names"][n.iid] = n.name
            for s in pkt.interned_data.source_locations:
                st["srcs"][s.iid] = (s.file_name, s.function_name, s.line_number)
            for c in pkt.interned_data.event_categories:
                st["cats"][c.iid] = c.name
        if pkt.HasField("timestamp"):
            assert pkt.timestamp >= last_ts.get(seq, 0), "time went back"
            last_ts[seq] = pkt.timestamp
        if pkt.HasField("track_descriptor"):
            td = pkt.track_descriptor
            assert td.uuid not in tracks
            tracks[td.uuid] = td
        if not pkt.HasField("track_event"):
            continue
        ev = pkt.track_event
        assert ev.track_uuid in tracks, "event before its track"
        if ev.type == TE.TYPE_COUNTER:       # no interned data: no state
            assert not ev.HasField("name_iid")
            counters[ev.track_uuid].append((pkt.timestamp, ev.counter_value))
            continue
        st = state[seq]
        if ev.type == TE.TYPE_SLICE_END:
            stack = stacks[ev.track_uuid]
            assert stack, "an end without a begin on its track"
            s = stack.pop()
            sl = s._replace(end=pkt.timestamp)
            assert sl.end >= sl.start
            if sl.parent is not None:
                assert sl.parent.start <= sl.start
            slices.append(sl)
            if stack:           # the parent ends no earlier (checked at its end)
                pass
            continue
        cats = [st["cats"][i] for i in ev.category_iids]
        name = st["names"][ev.name_iid] if ev.HasField("name_iid") else ev.name
        src = (st["srcs"][ev.source_location_iid]
               if ev.HasField("source_location_iid") else None)
        if ev.type == TE.TYPE_INSTANT:
            instants.append((ev.track_uuid, cats[0], name, src, pkt.timestamp))
            continue
        assert ev.type == TE.TYPE_SLICE_BEGIN
        stack = stacks[ev.track_uuid]
        parent = stack[-1] if stack else None
        stack.append(Slice(ev.track_uuid, cats[0], name, src, pkt.timestamp,
                           None, len(stack), parent))
    assert all(not s for s in stacks.values()), "slices left open"
    # Nesting: a child ends no later than its parent.
    ends = {}
    for s in slices:
        ends[(s.track, s.start, s.depth)] = s.end
    for s in slices:
        if s.parent is not None:
            assert s.end <= ends[(s.track, s.parent.start, s.parent.depth)]
    return slices, instants, counters, tracks


def _thread_names(tracks):
    return {td.thread.thread_name for td in tracks.values()
            if td.HasField("thread")}


def _check_against_calls(slices, funcs):
    got = collections.Counter(s.src for s in slices if s.cat in ("call", "resume"))
    dur = collections.Counter()
    for s in slices:
        if s.cat in ("call", "resume"):
            dur[s.src] += s.end - s.start
    want = {k: f["calls"] + f["resumes"] for k, f in funcs.items()}
    assert dict(got) == want
    for k, f in funcs.items():
        if f["primitive_calls"] == f["calls"]:          # never recursed
            assert dur[k] == f["cumtime_ns"], k
    return got


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    return tmp, _record(tmp, PROGRAM)


def test_perfetto_matches_calls(recording):
    tmp, path = recording
    out, _ = _export(path, "perfetto", cwd=tmp)
    with open(out, "rb") as f:
        slices, instants, _, tracks = _parse_perfetto(f.read())
    data, funcs = _calls_json(path, tmp)
    got = _check_against_calls(slices, funcs)
    by_func = {k[1]: n for k, n in got.items()}
    assert by_func["fib"] == 3 * 67               # fib(8) makes 67 calls
    assert by_func["gen"] == 3 * (1 + 20)         # a creation, 20 resumptions
    resumes = [s for s in slices if s.cat == "resume"]
    assert len(resumes) == sum(f["resumes"] for f in funcs.values()) > 0
    # Thread tracks named as the program named them, under the process.
    assert {"MainThread", "worker-0", "worker-1"} <= _thread_names(tracks)
    assert _thread_names(tracks) == {t["name"] for t in data["threads"]}
    procs = [td for td in tracks.values() if td.HasField("process")]
    assert len(procs) == 1 and "prog.py" in procs[0].process.process_name
    for td in tracks.values():
        if td.HasField("thread"):
            assert td.parent_uuid == procs[0].uuid
    # Exceptions: one instant per EXCEPTION event, named by its type.
    import tracetap
    with tracetap.load(path) as t:
        exc = sum(1 for e in t.events() if e.kind == "exception")
    got_exc = [i for i in instants if i[1] == "exception"]
    assert len(got_exc) == exc > 0
    assert {i[2] for i in got_exc} == {"ValueError"}
    assert not [i for i in instants if i[2] == "recording cut"]


def test_chrome_matches_calls(recording):
    tmp, path = recording
    out, _ = _export(path, "chrome", cwd=tmp)
    with open(out) as f:
        doc = json.load(f)
    _, funcs = _calls_json(path, tmp)
    events = doc["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in events
             if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"MainThread", "worker-0", "worker-1"} <= set(names.values())
    stacks = collections.defaultdict(list)
    count, dur = collections.Counter(), collections.Counter()
    last = {}
    for e in events:
        if e["ph"] in ("B", "E"):
            assert e["ts"] >= last.get(e["tid"], 0)
            last[e["tid"]] = e["ts"]
        if e["ph"] == "B":
            stacks[e["tid"]].append(e)
        elif e["ph"] == "E":
            b = stacks[e["tid"]].pop()
            if b["cat"] in ("call", "resume"):
                k = (b["args"]["file"], b["name"], b["args"]["firstlineno"])
                count[k] += 1
                dur[k] += round((e["ts"] - b["ts"]) * 1000)
    assert all(not s for s in stacks.values())
    assert dict(count) == {k: f["calls"] + f["resumes"] for k, f in funcs.items()}
    for k, f in funcs.items():
        if f["primitive_calls"] == f["calls"]:
            # each duration is rounded from µs with 3 decimals: <= 1 ns off
            assert abs(dur[k] - f["cumtime_ns"]) <= count[k], k
    exc = [e for e in events if e["ph"] == "i" and e["cat"] == "exception"]
    assert exc and {e["name"] for e in exc} == {"ValueError"}


def test_chrome_to_stdout(recording):
    tmp, path = recording
    proc = _cli("export", path, "--format", "chrome", "-o", "-", cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert sum(1 for e in doc["traceEvents"] if e["ph"] == "B") == \
        sum(1 for e in doc["traceEvents"] if e["ph"] == "E") > 0


def test_lines_nest_in_their_function(tmp_path):
    path = _record(tmp_path, PROGRAM)
    out, _ = _export(path, "perfetto", "--lines", cwd=tmp_path)
    with open(out, "rb") as f:
        slices, _, _, _ = _parse_perfetto(f.read())
    _, funcs = _calls_json(path, tmp_path)
    _check_against_calls(slices, funcs)     # lines change no call slice
    lines = [s for s in slices if s.cat == "line"]
    assert lines
    for s in lines:
        assert s.parent is not None and s.parent.cat in ("call", "resume")
        assert s.src == s.parent.src        # a line of that very function
    work = [s for s in lines if s.src[1] == "work"]
    src = textwrap.dedent(PROGRAM).lstrip("\n").splitlines()
    want = {i + 1 for i, text in enumerate(src)
            if text.strip() in ("fib(8)", "total = sum(gen(20))", "return total")}
    assert len(want) == 3
    assert {int(s.name.split()[1]) for s in work} >= want


KILLED = """
import os, signal, sys, threading, tracetap

def step(i):
    return i + 1

def inner(n):
    for i in range(n):
        step(i)
    os.kill(os.getpid(), signal.SIGKILL)

def outer():
    inner(200000)

threading.current_thread().name = "killer"
rec = tracetap.record(sys.argv[1]).start()
outer()
"""


def test_killed_recording_exports_and_is_marked_cut(tmp_path):
    script = _write(tmp_path, "killme.py", KILLED)
    path = str(tmp_path / "killed.ttrace")
    proc = _run([script, path], tmp_path)
    assert proc.returncode == -signal.SIGKILL
    out, err = _export(path, "perfetto", cwd=tmp_path)
    assert "cut short" in err
    with open(out, "rb") as f:
        slices, instants, _, tracks = _parse_perfetto(f.read())
    cut = [i for i in instants if i[2] == "recording cut"]
    assert len(cut) == 1
    assert cut[0][4] >= max(s.end for s in slices)
    _, funcs = _calls_json(path, tmp_path)
    _check_against_calls(slices, funcs)
    names = {s.src[1] for s in slices}
    assert {"outer", "inner", "step"} <= names
    assert "killer" in _thread_names(tracks)
    # Chrome JSON likewise.
    out, _ = _export(path, "chrome", cwd=tmp_path)
    with open(out) as f:
        doc = json.load(f)
    ev = doc["traceEvents"]
    assert sum(e["ph"] == "B" for e in ev) == sum(e["ph"] == "E" for e in ev)
    assert [e for e in ev if e["ph"] == "i" and e["name"] == "recording cut"]


OBJECTS = """
import time

class Node:
    def __init__(self, i):
        self.i = i

def build(n):
    return [Node(i) for i in range(n)]

keep = build(3000)
time.sleep(0.05)        # held long enough to be sampled (1 ms)
del keep
"""


@pytest.mark.skipif(sys.version_info < (3, 13), reason="--objects needs 3.13+")
def test_objects_counter_tracks(tmp_path):
    path = _record(tmp_path, OBJECTS, "--objects", name="objs.py")
    out, _ = _export(path, "perfetto", "--top-types", "3", cwd=tmp_path)
    with open(out, "rb") as f:
        _, _, counters, tracks = _parse_perfetto(f.read())
    by_name = {tracks[u].name: v for u, v in counters.items()}
    assert "live objects" in by_name
    assert "live: __main__.Node" in by_name or "live: Node" in by_name, by_name
    node = by_name.get("live: __main__.Node") or by_name["live: Node"]
    assert max(v for _, v in node) >= 3000
    assert max(v for _, v in by_name["live objects"]) >= 3000
    assert len(by_name) == 4                    # all + the top 3 types
    for values in by_name.values():
        ts = [t for t, _ in values]
        assert ts == sorted(ts) and all(v >= 0 for _, v in values)


def test_usage_errors(tmp_path):
    script = _write(tmp_path, "small.py", "def f():\n    return 1\nf()\n")
    counted = str(tmp_path / "count.ttrace")
    _cli("run", "--count", "-o", counted, script, cwd=tmp_path)
    proc = _cli("export", counted, "--format", "perfetto", "-o",
                str(tmp_path / "x.pf"), cwd=tmp_path)
    assert proc.returncode == 1 and "--count" in proc.stderr
    assert not os.path.exists(tmp_path / "x.pf")
    full = _record(tmp_path, "def f():\n    return 1\nf()\n", name="full.py")
    proc = _cli("export", full, "--format", "svgz", "-o", "x", cwd=tmp_path)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    proc = _cli("export", full, "--format", "chrome", cwd=tmp_path)
    assert proc.returncode == 2 and "-o" in proc.stderr
    proc = _cli("export", full, "--format", "chrome", "-o",
                str(tmp_path / "no" / "such" / "dir.json"), cwd=tmp_path)
    assert proc.returncode == 1 and "cannot write" in proc.stderr
    proc = _cli("export", str(tmp_path / "missing.ttrace"), "--format",
                "chrome", "-o", str(tmp_path / "m.json"), cwd=tmp_path)
    assert proc.returncode == 1 and "error" in proc.stderr


def _small_file_limit():
    # In the child: files may not grow past 200 bytes, and a write past
    # that fails with EFBIG instead of killing it (SIGXFSZ ignored).
    import resource
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))


@pytest.mark.parametrize("fmt", ["perfetto", "chrome"])
def test_write_failure_is_an_error(tmp_path, fmt):
    path = _record(tmp_path, PROGRAM)
    out = tmp_path / "out.trace"
    proc = subprocess.run(
        [sys.executable, "-m", "tracetap", "export", path, "--format", fmt,
         "-o", str(out)], cwd=tmp_path, env=capture_env(), capture_output=True,
        text=True, timeout=TIMEOUT, preexec_fn=_small_file_limit)
    assert proc.returncode == 1, proc.stderr
    assert "error" in proc.stderr and "File too large" in proc.stderr
    assert not out.exists()                 # no partial output left behind


@pytest.mark.skipif(shutil.which("trace_processor_shell") is None,
                    reason="trace_processor needs its shell binary, which the "
                    "perfetto package downloads from the network at first use "
                    "(no network here); set it on PATH to run this")
def test_trace_processor_slice_table(recording):     # pragma: no cover
    from perfetto.trace_processor import TraceProcessor, TraceProcessorConfig
    tmp, path = recording
    out, _ = _export(path, "perfetto", cwd=tmp)
    _, funcs = _calls_json(path, tmp)
    tp = TraceProcessor(trace=out, config=TraceProcessorConfig(
        bin_path=shutil.which("trace_processor_shell")))
    rows = tp.query("select name, count(*) as n from slice "
                    "where category in ('call', 'resume') group by name")
    got = {r.name: r.n for r in rows}
    want = collections.Counter()
    for (_, func, _), f in funcs.items():
        want[func] += f["calls"] + f["resumes"]
    assert got == dict(want)
    tp.close()
