"""tracetap --objects --bytes, bytes per type and bytes that survive a
killed process, against independent references on the same program
(objprogs/bytestypes.py): tracemalloc's per-line totals (run by the test
in a separate process) and the program's own sys.getsizeof.

- the block each object is created in goes to its type: per type, within
  TOLERANCE of tracemalloc's line total less the list holding them (and of
  N x sys.getsizeof where that is the block: __slots__ instances, empty
  dicts, bytearray objects); a bytearray's data and a list grown by
  appends go to "buffers (no object)"; the groups add up to the total;
- a program killed by SIGKILL after a periodic flush, by SIGTERM, or
  crashing (SIGSEGV) keeps its bytes per type; the file reads as cut short
  (damaged at its end after SIGKILL, interrupted after a signal tracetap's
  handler flushed on), not as corrupt data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import bytes_support as bs
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PROG = os.path.join(HERE, "objprogs", "bytestypes.py")
TIMEOUT = bs.TIMEOUT
# Relative tolerance: an object taken from a freelist whose block was made
# before the recording (dicts: up to 80 of 3000) is not counted.
TOLERANCE = 0.05
N = 3000

needs_313 = bs.needs_313

REFERENCE = r"""
import json, runpy, sys, tracemalloc
prog = sys.argv[1]
tracemalloc.start(1)
sys.argv = [prog]
ns = runpy.run_path(prog, run_name="__main__")
snap = tracemalloc.take_snapshot()
tracemalloc.stop()
lines = {}
for st in snap.statistics("lineno"):
    if st.traceback[0].filename == prog:
        lines[st.traceback[0].lineno] = st.size
print(json.dumps(lines))
"""


def _line(tag):
    return bs.tagged_line(PROG, tag)


def _close(ours, ref):
    return bs.close(ours, ref, TOLERANCE)


@pytest.fixture(scope="module")
def tracemalloc_lines():
    p = subprocess.run([sys.executable, "-c", REFERENCE, PROG],
                       capture_output=True, text=True, timeout=TIMEOUT,
                       env=bs.env())
    assert p.returncode == 0, p.stderr
    return {int(k): v for k, v in json.loads(p.stdout).items()}


def _record(tmp_path, *args, opts=(), rc=0):
    out = str(tmp_path / "t.ttrace")
    sizes = str(tmp_path / "sizes.json")
    p = subprocess.run([sys.executable, "-m", "tracetap", "run", "--objects",
                        "--bytes", *opts, "-o", out, PROG, sizes, *args],
                       capture_output=True, text=True, timeout=TIMEOUT,
                       env=bs.env(), cwd=str(tmp_path))
    assert p.returncode == rc, p.stderr
    with open(sizes) as f:
        return out, json.load(f)


def _types(out):
    import tracetap
    with tracetap.load(out) as t:
        b = t.objects()["bytes"]
        status = t.status()
    return b, {r["type"]: r for r in b["types"]}, status


@needs_313
@pytest.mark.parametrize("mode", [[], ["--no-calls"]], ids=["calls", "nocalls"])
def test_bytes_per_type(tmp_path, tracemalloc_lines, mode):
    out, size = _record(tmp_path, opts=mode)
    b, types, status = _types(out)
    assert status["state"] == "complete"
    assert not b["totals"]["partial"]
    # Every block is in one group: the groups add up to the totals.
    for k in ("live_bytes", "alloc_bytes", "allocs", "live_blocks"):
        assert sum(r[k] for r in b["types"]) == b["totals"][k], k
    # Blocks that are the object (sys.getsizeof counts the GC header).
    slotted = types["__main__.Slotted"]
    assert slotted["live_bytes"] == N * size["slotted"]
    assert slotted["live_blocks"] == N
    assert types["dict"]["live_bytes"] >= (1 - TOLERANCE) * N * size["dict"]
    ba = types["bytearray"]
    assert 3 * size["bytearray"] <= ba["live_bytes"] <= \
        3 * size["bytearray"] + 4 * size["bytearray"]
    # Per line, tracemalloc's total less the list holding the objects.
    for tag, name, key in (("PLAIN", "__main__.Plain", "ps"),
                           ("SLOTTED", "__main__.Slotted", "ss"),
                           ("DICTS", "dict", "ds")):
        ref = tracemalloc_lines[_line(tag)] - size["list_items"][key]
        ours = types[name]["live_bytes"]
        if name == "dict":       # other dicts of the program are in it too
            assert ours >= ref * (1 - TOLERANCE), (tag, ours, ref)
        else:
            assert _close(ours, ref), (tag, ours, ref)
    # A bytearray's data and a list's items are buffers: no object was
    # created in them; tracemalloc's lines hold them.
    buf = types[None]
    assert buf["buffers"]
    need = size["grown_items"] + 3 * 1_000_000
    assert buf["live_bytes"] >= need
    assert _close(tracemalloc_lines[_line("APPEND")], size["grown_items"])
    assert _close(tracemalloc_lines[_line("BYTEARRAY")] -
                  size["list_items"]["ba"], 3 * (1_000_000 + 1) +
                  3 * size["bytearray"])


@needs_313
def test_bytes_per_type_in_outputs(tmp_path):
    out, size = _record(tmp_path)
    p = subprocess.run([sys.executable, "-m", "tracetap", "objects", out],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    assert "Bytes per type" in p.stdout
    assert "buffers (no object)" in p.stdout
    row = next(ln for ln in p.stdout.splitlines()
               if ln.strip().startswith("__main__.Slotted ") and "KiB" in ln)
    assert f"{N * size['slotted'] / 1024:.1f} KiB" in row
    p = subprocess.run([sys.executable, "-m", "tracetap", "objects", out,
                        "--format", "json"],
                       capture_output=True, text=True, timeout=TIMEOUT)
    data = json.loads(p.stdout)
    js = {t["type"]: t for t in data["bytes"]["types"]}
    assert js["__main__.Slotted"]["live_bytes"] == N * size["slotted"]
    assert js[None]["buffers"] is True
    site = tmp_path / "report"
    p = subprocess.run([sys.executable, "-m", "tracetap", "report", out,
                        "-o", str(site)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    text = "".join(f.read_text(encoding="utf-8")
                   for f in site.rglob("*.html"))
    assert "live bytes" in text and f"{N * size['slotted']:,}" in text


@needs_313
@pytest.mark.parametrize("sig,rc", [("SIGKILL", -9), ("SIGTERM", -15),
                                    ("SIGSEGV", -11)])
def test_killed_keeps_bytes(tmp_path, sig, rc):
    out, size = _record(tmp_path, sig, opts=("--flush-interval", "0.2"),
                        rc=rc)
    b, types, status = _types(out)
    slotted = types["__main__.Slotted"]
    assert slotted["live_bytes"] == N * size["slotted"]
    assert types[None]["live_bytes"] >= size["grown_items"] + 3 * 1_000_000
    assert b["lines"], "bytes per line kept"
    if sig == "SIGTERM":         # the root finishes its file, then dies
        assert status["state"] == "complete"
        assert not b["totals"]["partial"]
    else:                        # cut short at its end, nothing corrupt
        # SIGSEGV: flushed by tracetap's handler, so "interrupted";
        # SIGKILL: no handler ran, "damaged" (no end chunk).
        assert status["state"] == ("damaged" if sig == "SIGKILL"
                                   else "interrupted"), status
        assert b["totals"]["partial"]
        assert b["totals"]["bad_chunks"] == 0
        p = subprocess.run([sys.executable, "-m", "tracetap", "objects",
                            out], capture_output=True, text=True,
                           timeout=TIMEOUT)
        assert p.returncode == 0, p.stderr
        assert "cut short" in p.stdout
        assert ("no end-of-recording chunk" if sig == "SIGKILL"
                else "the program was ended by SIGSEGV") in p.stderr


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="3.11/3.12 only")
def test_bytes_types_refused_before_313(tmp_path):
    p = subprocess.run([sys.executable, "-m", "tracetap", "run", "--objects",
                        "--bytes", "-o", str(tmp_path / "t.ttrace"), PROG],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode != 0 and "3.13" in p.stderr
