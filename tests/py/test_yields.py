"""Generator, coroutine and async generator resumptions and suspensions
(issue 13 item 16; FORMAT.md §19, docs/calls.md).

- capture: every call and return of the program's own code carries the
  mark an independent reference gives for the same run
  (yield_reference.py: sys.monitoring's PY_RESUME/PY_YIELD on 3.12+,
  f_lasti and dis on 3.11), over generators, generator expressions,
  yield from, send/throw/close, async generators and coroutines driven by
  asyncio, and exceptions raised inside a generator;
- `events`: the text says resume/yield where the reference does, the JSON
  keeps sys.settrace's call/return and adds "resume"/"yield";
- `calls`: a generator resumed 3000 times is 1 call and 3000 resumes in
  text and JSON, also when its yield is on its first line (which the line
  rule of older recordings got wrong), while the pstats export counts
  cProfile's way and equals cProfile's (nc, cc) for every function.
"""

from __future__ import annotations

import json
import os
import pstats
import textwrap

import pytest
from conftest import capture_calls_backends, capture_python, capture_tracetap

import tracetap

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
REFERENCE = os.path.join(HERE, "yield_reference.py")
TIMEOUT = 300

SUSPENDS = '''
import asyncio
import types


def first_line(n): yield from range(n)


def raises_inside():
    yield 1
    raise KeyError("inside")


def fresh():
    yield "never"


def with_finally():
    try:
        yield 1
        yield 2
    finally:
        cleanup.append("closed")


def many(n):
    for i in range(n):
        yield i


@types.coroutine
def bare_yield():
    value = yield "suspend"
    return value


async def uses_bare():
    return await bare_yield()


async def ticker(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i


async def agen_ctl():
    try:
        got = yield "a"
        yield got
    except ValueError:
        yield "caught"


async def worker(name, n):
    out = []
    async for v in ticker(n):
        out.append((name, v))
    return out


async def amain():
    res = await asyncio.gather(worker("x", 3), worker("y", 2))
    ag = agen_ctl()
    first = await ag.asend(None)
    second = await ag.asend("sent")
    ag2 = agen_ctl()
    await ag2.asend(None)
    caught = await ag2.athrow(ValueError("v"))
    await ag2.aclose()
    await ag.aclose()
    return res, first, second, caught


def drive_bare():
    co = uses_bare()
    sent = co.send(None)
    try:
        co.send("back")
    except StopIteration as stop:
        return sent, stop.value


cleanup = []


def main():
    out = [sum(x * x for x in range(5)), list(first_line(3))]
    g = raises_inside()
    next(g)
    try:
        next(g)
    except KeyError:
        out.append("raised inside")
    f = fresh()
    try:
        f.throw(OSError("fresh"))
    except OSError:
        out.append("thrown into a fresh generator")
    w = with_finally()
    next(w)
    w.close()
    out.append(drive_bare())
    out.append(asyncio.run(amain()))
    out.append(len(list(many(3000))))
    print(out, cleanup)


main()
'''


def _run(args, cwd):
    return capture_python(*args, cwd=cwd, timeout=TIMEOUT)


def _cli(*args, cwd):
    return capture_tracetap(*args, cwd=cwd, timeout=TIMEOUT)


def _program(tmp_path, name):
    if name == "suspends":
        path = tmp_path / "suspends.py"
        path.write_text(textwrap.dedent(SUSPENDS))
        return str(path)
    return os.path.join(PROGRAMS, name + ".py")


def _reference(tmp_path, script):
    out = tmp_path / "ref.json"
    proc = _run([REFERENCE, str(out), script], tmp_path)
    assert proc.returncode == 0, proc.stderr
    return [tuple(e) for e in json.loads(out.read_text())]


def _record(tmp_path, script, flags=()):
    out = str(tmp_path / "rec.ttrace")
    proc = _cli("run", "-o", out, *flags, script, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return out


def _ours(rec, script):
    real = os.path.realpath(script)
    got = []
    with tracetap.load(rec) as trace:
        assert trace.marked
        for ev in trace.events():
            if ev.kind in ("call", "return") and ev.file and \
                    os.path.realpath(ev.file) == real:
                got.append((ev.func, ev.kind, "resume" if ev.resume else
                            "yield" if ev.yields else ""))
    return got


@pytest.mark.parametrize("flags", capture_calls_backends())
@pytest.mark.parametrize("program", ["suspends", "generators",
                                     "async_tasks"])
def test_marks_equal_the_reference(tmp_path, program, flags):
    """The legacy hook tells them from the frame's position; the monitoring
    backend (calls only) from PY_RESUME / PY_YIELD / PY_THROW."""
    script = _program(tmp_path, program)
    ref = _reference(tmp_path, script)
    got = _ours(_record(tmp_path, script, flags), script)
    marks = {m for _, _, m in ref}
    assert {"resume", "yield"} <= marks, "the program suspends nothing"
    assert len(got) == len(ref)
    diff = [(i, a, b) for i, (a, b) in enumerate(zip(got, ref)) if a != b]
    assert not diff, diff[:10]


def test_events_text_and_json(tmp_path):
    script = _program(tmp_path, "suspends")
    ref = _reference(tmp_path, script)
    rec = _record(tmp_path, script)
    base = os.path.basename(script)
    js = _cli("events", "--json", rec, cwd=tmp_path)
    assert js.returncode == 0, js.stderr
    evs = [json.loads(line) for line in js.stdout.splitlines()]
    mine = [e for e in evs if e["kind"] in ("call", "return") and
            e["file"] and os.path.basename(e["file"]) == base]
    # sys.settrace's kinds stay; the marks are added fields, only when set
    assert [(e["func"], e["kind"], "resume" if e.get("resume") else
             "yield" if e.get("yield") else "") for e in mine] == ref
    assert all(e.get("resume") in (None, True) and
               e.get("yield") in (None, True) for e in evs)
    assert not any(e.get("resume") and e["kind"] != "call" or
                   e.get("yield") and e["kind"] != "return" for e in evs)
    text = _cli("events", rec, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    head = text.stdout.splitlines()[0]
    assert "resume/yield: a generator or coroutine resumed/suspended" in head
    rows = [ln for ln in text.stdout.splitlines()[1:]
            if f"({base}:" in ln or f"({base})" in ln]
    verbs = [ln.split()[2] for ln in rows
             if ln.split()[2] in ("call", "resume", "return", "yield")]
    want = [("resume" if m == "resume" else "yield" if m == "yield"
             else k) for _, k, m in ref]
    assert verbs == want


def _calls_rows(data, func):
    return [f for f in data["functions"] if f["thread"] is None and
            f["func"] == func]


@pytest.mark.parametrize("flags", capture_calls_backends())
def test_calls_count_resumptions_apart(tmp_path, flags):
    script = _program(tmp_path, "suspends")
    ref = _reference(tmp_path, script)
    rec = _record(tmp_path, script, flags)
    js = _cli("calls", "--format", "json", rec, cwd=tmp_path)
    assert js.returncode == 0, js.stderr
    data = json.loads(js.stdout)
    # the reference's starts and resumptions, per function
    want: dict[str, list[int]] = {}
    for func, kind, mark in ref:
        if kind == "call":
            w = want.setdefault(func, [0, 0])
            w[mark == "resume"] += 1
    for func, (calls, resumes) in want.items():
        rows = _calls_rows(data, func)
        assert len(rows) == 1, func
        assert (rows[0]["calls"], rows[0]["resumes"]) == (calls, resumes), func
    # 3000 resumptions of one generator: 1 call (the 3001st next() ends it)
    assert want["many"] == [1, 3000]
    # a yield on the first line and a generator expression: still 1 call
    assert want["first_line"][0] == 1 and want["first_line"][1] > 1
    assert want["main.<locals>.<genexpr>"][0] == 1
    text = _cli("calls", rec, "--func", "many", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    head = next(i for i, ln in enumerate(lines) if "function (file:line)" in ln)
    assert lines[head].split()[:2] == ["ncalls", "resumes"]
    row = next(ln for ln in lines[head + 1:] if " many (" in ln)
    assert row.split()[:2] == ["1", "3000"]


def _cprofile(tmp_path, script):
    out = str(tmp_path / "cprof.out")
    proc = _run(["-m", "cProfile", "-o", out, script], tmp_path)
    assert proc.returncode == 0, proc.stderr
    real = os.path.realpath(script)
    return {(line, name): (v[1], v[0])
            for (file, line, name), v in pstats.Stats(out).stats.items()
            if os.path.realpath(file) == real}


@pytest.mark.parametrize("flags", capture_calls_backends())
def test_pstats_export_equals_cprofile(tmp_path, flags):
    script = _program(tmp_path, "generators")
    rec = _record(tmp_path, script, flags)
    prof = str(tmp_path / "ours.prof")
    proc = _cli("calls", rec, "--format", "pstats", "-o", prof, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    real = os.path.realpath(script)
    ours = {(line, name): (v[1], v[0])
            for (file, line, name), v in pstats.Stats(prof).stats.items()
            if os.path.realpath(file) == real}
    ref = _cprofile(tmp_path, script)
    assert ref and ours == ref


def _varint(d, i):
    v = shift = 0
    while True:
        b = d[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return v, i


def _put_varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _as_older_writer(data):
    """The recording as a writer before the marks made it: no 0x86 chunks,
    no TT_OPT_MARKS (0x100) in the header (FORMAT.md §2-4, §19)."""
    def crc32c(b):
        c = 0xFFFFFFFF
        for x in b:
            c ^= x
            for _ in range(8):
                c = (c >> 1) ^ (0x82F63B78 & -(c & 1))
        return c ^ 0xFFFFFFFF

    def frame(t, thread, payload):
        head = bytes([t, 0, 0, 0]) + thread.to_bytes(4, "little") + \
            len(payload).to_bytes(4, "little")
        return head + crc32c(head).to_bytes(4, "little") + payload + \
            crc32c(payload).to_bytes(4, "little")

    out = bytearray(data[:12])
    off = 12
    while off + 20 <= len(data):
        t = data[off]
        thread = int.from_bytes(data[off + 4:off + 8], "little")
        n = int.from_bytes(data[off + 8:off + 12], "little")
        payload = data[off + 16:off + 16 + n]
        off += 20 + n
        if t == 0x86:
            continue
        if t == 0x01:                      # HEADER: clear TT_OPT_MARKS
            i = 0
            for _ in range(3):             # impl, version, build
                ln, i = _varint(payload, i)
                i += ln
            argc, i = _varint(payload, i)
            for _ in range(argc):
                ln, i = _varint(payload, i)
                i += ln
            _, i = _varint(payload, i)     # start_unix_ns
            _, i = _varint(payload, i)     # start_tick
            ln, i = _varint(payload, i)    # clock_name
            i += ln
            _, i = _varint(payload, i)     # clock_hz
            opts, j = _varint(payload, i)
            assert opts & 0x100
            payload = payload[:i] + _put_varint(opts & ~0x100) + payload[j:]
            out += frame(t, thread, payload)
            continue
        out += data[off - 20 - n:off]
    return bytes(out)


OLDER = '''
def gen(n):
    i = 0
    while i < n:
        yield i
        i += 1


def first_line(n): yield from range(n)


print(list(gen(4)), list(first_line(3)))
'''


def test_older_recordings_read_as_before(tmp_path):
    script = str(tmp_path / "older.py")
    with open(script, "w") as fp:
        fp.write(textwrap.dedent(OLDER))
    rec = _record(tmp_path, script)
    old = str(tmp_path / "older.ttrace")
    with open(rec, "rb") as fp:
        data = fp.read()
    with open(old, "wb") as fp:
        fp.write(_as_older_writer(data))
    with tracetap.load(old) as trace:
        assert not trace.marked
        assert trace.status()["state"] == "complete"
        evs = [e for e in trace.events() if e.func in ("gen", "first_line")]
    with tracetap.load(rec) as trace:
        new = [e for e in trace.events() if e.func in ("gen", "first_line")]
    # the same events; no yields; resumptions by the line rule: exact for
    # gen (its yield is off its first line), every call for first_line
    assert [(e.kind, e.t_ns) for e in evs] == [(e.kind, e.t_ns) for e in new]
    assert not any(e.yields for e in evs) and any(e.yields for e in new)
    gen_old = [e.resume for e in evs if e.func == "gen" and e.kind == "call"]
    gen_new = [e.resume for e in new if e.func == "gen" and e.kind == "call"]
    assert gen_old == gen_new == [False] + [True] * 4
    assert not any(e.resume for e in evs if e.func == "first_line")
    text = _cli("events", old, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "an older recording" in text.stdout.splitlines()[0]
    verbs = [ln.split()[2] for ln in text.stdout.splitlines()[1:]
             if len(ln.split()) > 2]
    assert "yield" not in verbs and "resume" in verbs
    js = _cli("events", "--json", old, cwd=tmp_path)
    assert all("yield" not in json.loads(ln) for ln in js.stdout.splitlines())
