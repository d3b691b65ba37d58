"""`tracetap info` and `tracetap events` on good, truncated, corrupt and
garbage files: exit 0 for a good file, 0 with a warning on stderr for a
damaged but usable one, 1 when nothing is usable."""

import json
import os
import signal

import pytest
from conftest import capture_python, capture_tracetap, capture_write

import tracetap

WORK = """
import sys, threading

def leaf(i):
    return i * 2

def branch(n):
    return sum(leaf(i) for i in range(n))

def worker():
    branch(50)

t = threading.Thread(target=worker, name="helper")
t.start()
t.join()
for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 20):
    branch(30)
"""


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    d = tmp_path_factory.mktemp("info")
    capture_write(d, "work.py", WORK)
    proc = capture_tracetap("run", "-o", "good.ttrace", "work.py", "400", cwd=d)
    assert proc.returncode == 0, proc.stderr
    return d, str(d / "good.ttrace")


def _bytes(path):
    with open(path, "rb") as f:
        return f.read()


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


def test_good_file(good):
    d, path = good
    proc = capture_tracetap("info", path, cwd=d)
    assert proc.returncode == 0
    assert proc.stderr == ""
    out = proc.stdout
    assert (
        "python:     cpython " + ".".join(map(str, __import__("sys").version_info[:3]))
        in out
    )
    assert "command:    work.py 400" in out
    assert "status:     complete" in out
    assert "MainThread" in out and "helper" in out
    assert "threads:    2" in out
    assert "dropped:    0" in out
    info = tracetap.load(path).info()
    total = sum(info["events"].values())
    assert f"events:     {total:,}" in out
    assert info["events"]["call"] == info["events"]["return"] > 400


def test_truncated_file_is_usable_with_a_warning(good, tmp_path):
    _, path = good
    data = _bytes(path)
    cut = _write(tmp_path / "cut.ttrace", data[: len(data) * 2 // 3])
    proc = capture_tracetap("info", cut, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("tracetap: warning: ")
    assert "missing" in proc.stderr and "usable" in proc.stderr
    assert "status:     damaged" in proc.stdout
    full = tracetap.load(path).info()
    part = tracetap.load(cut).info()
    assert part["damage"]["status"] != 0
    assert 0 < sum(part["events"].values()) < sum(full["events"].values())
    ev = capture_tracetap("events", "--json", cut, cwd=tmp_path)
    assert ev.returncode == 0
    assert "warning" in ev.stderr
    assert len(ev.stdout.splitlines()) == sum(part["events"].values())


def test_corrupt_byte_is_reported(good, tmp_path):
    _, path = good
    data = bytearray(_bytes(path))
    data[len(data) // 2] ^= 0xFF
    bad = _write(tmp_path / "flip.ttrace", bytes(data))
    proc = capture_tracetap("info", bad, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "warning" in proc.stderr and "status:     damaged" in proc.stdout


def test_killed_recording_reads_back(tmp_path):
    capture_write(
        tmp_path,
        "killme.py",
        """
        import os, signal, sys, tracetap

        def step(i):
            return i + 1

        rec = tracetap.record(sys.argv[1]).start()
        for i in range(300000):
            step(i)
        os.kill(os.getpid(), signal.SIGKILL)
    """,
    )
    out = str(tmp_path / "killed.ttrace")
    proc = capture_python("killme.py", out, cwd=tmp_path)
    assert proc.returncode == -signal.SIGKILL
    info = capture_tracetap("info", out, cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert "warning" in info.stderr and "status:     damaged" in info.stdout
    counts = tracetap.load(out).info()["events"]
    assert counts["call"] > 1000  # the flushed chunks survive


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"hello world\n" * 50,
        os.urandom(4096),
        b"\x00" * 100,
    ],
)
def test_garbage_exits_1(tmp_path, content):
    path = _write(tmp_path / "junk.ttrace", content)
    for verb in ("info", "events"):
        proc = capture_tracetap(verb, path, cwd=tmp_path)
        assert proc.returncode == 1, (verb, proc.stdout, proc.stderr)
        assert proc.stdout == ""
        assert proc.stderr.startswith("tracetap: error: ")
        assert "junk.ttrace" in proc.stderr
    with pytest.raises(tracetap.TraceError):
        tracetap.load(path)


def test_header_only_fragment_exits_1(good, tmp_path):
    _, path = good
    frag = _write(tmp_path / "frag.ttrace", _bytes(path)[:20])
    proc = capture_tracetap("info", frag, cwd=tmp_path)
    assert proc.returncode == 1
    assert "error" in proc.stderr


def test_missing_file_and_directory_exit_1(tmp_path):
    for target in ("nope.ttrace", "."):
        proc = capture_tracetap("info", target, cwd=tmp_path)
        assert proc.returncode == 1
        assert proc.stderr.startswith("tracetap: error: cannot read")


def test_events_listing_and_json(good):
    d, path = good
    listing = capture_tracetap("events", path, "--limit", "40", cwd=d)
    assert listing.returncode == 0, listing.stderr
    header, *lines = listing.stdout.splitlines()
    assert header.split()[:3] == ["thr", "seconds", "event"]
    assert len(lines) == 40
    # A module's call comes before its first line (line 0 on 3.12+, where
    # it is shown without one; co_firstlineno on 3.11): never ":0".
    assert lines[0].endswith(("call      <module>  (work.py)",
                              "call      <module>  (work.py:1)"))
    assert any("import sys, threading" in ln for ln in lines)  # source text
    js = capture_tracetap("events", "--json", path, cwd=d)
    events = [json.loads(ln) for ln in js.stdout.splitlines()]
    assert len(events) == sum(tracetap.load(path).info()["events"].values())
    for e in events:
        assert {"thread", "kind", "file", "line", "func", "t_ns"} <= set(e)
    assert {e["thread"] for e in events} == {0, 1}
    one = capture_tracetap("events", "--json", "--thread", "1", path, cwd=d)
    mine = [json.loads(ln) for ln in one.stdout.splitlines()]
    assert mine == [e for e in events if e["thread"] == 1]
    assert mine[0]["func"] == "worker"
    bad = capture_tracetap("events", "--thread", "9", path, cwd=d)
    assert bad.returncode == 1 and "no thread 9" in bad.stderr


def test_info_of_an_opcode_recording_names_opcodes(tmp_path):
    capture_write(tmp_path, "op.py", "def f():\n    return 1\nf()\n")
    proc = capture_tracetap("run", "--opcodes", "op.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    js = capture_tracetap("events", "--json", "op.ttrace", cwd=tmp_path)
    ops = [json.loads(ln) for ln in js.stdout.splitlines()]
    ops = [e for e in ops if e["kind"] == "opcode"]
    assert ops and all(
        isinstance(e["offset"], int) and e["opcode"].isupper() for e in ops
    )
    info = capture_tracetap("info", "op.ttrace", cwd=tmp_path)
    assert "--opcodes" in info.stdout and "opcode" in info.stdout


def test_format_constants_come_from_tt_h():
    """The constants the Python side reads from the extension are tt.h's,
    parsed here from the header itself: the option bits (with a name for
    each), TT_NO_CODE and TT_CODE_CFUNCTION; and the summary's kinds are
    the event kinds in TT_EV_* order, without DROPPED."""
    import re
    from pathlib import Path

    from tracetap import _show, _trace, _tracetap

    h = (Path(__file__).resolve().parents[2] / "src" / "libtt" / "tt.h").read_text()
    opts = {int(v, 16) for v in re.findall(r"#define TT_OPT_\w+\s+0x([0-9a-fA-F]+)u", h)}
    assert opts and set(_trace.OPTION_NAMES) == opts
    assert all(isinstance(n, str) and n for n in _trace.OPTION_NAMES.values())
    assert "#define TT_NO_CODE   UINT32_MAX" in h and _tracetap.NO_CODE == 2**32 - 1
    cf = re.search(r"#define TT_CODE_CFUNCTION\s+0x([0-9a-fA-F]+)u", h)
    assert _tracetap.CODE_CFUNCTION == int(cf[1], 16)
    kinds = re.findall(r"TT_EV_(\w+) = (\d+),", h)
    order = [k.lower() for k, v in sorted(kinds, key=lambda kv: int(kv[1])) if k != "DROPPED"]
    assert list(_show.KIND_ORDER) == order
