"""tracetap --objects --bytes: bytes per creation stack through
CPython's allocator hooks, checked against tracemalloc run by the test on
the same program (objprogs/bytesplant.py) in a separate process:

- live bytes of planted allocations (bytearrays, a list grown by appends,
  a dict) per line are within TOLERANCE of tracemalloc's;
- two callers of one allocating helper are told apart, with the bytes
  tracemalloc's tracebacks give each;
- the peak is the planted peak (its rise over the end's live bytes is
  tracemalloc's), and the line that held it is named;
- the file reads back with `tracetap objects` (text, --stacks, JSON).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import bytes_support as bs
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PROG = os.path.join(HERE, "objprogs", "bytesplant.py")
TIMEOUT = bs.TIMEOUT
# Relative tolerance against tracemalloc, plus a small absolute slack for
# the few blocks the two tools see differently at a line (tracemalloc's
# own start-up, the recording's first allocations).
TOLERANCE = 0.05
SLACK = 4096

needs_313 = bs.needs_313

# tracemalloc as the reference: the program run under it, then its view of
# the program's lines (live bytes per line, per (line, caller) for the
# helper) and its peak.
REFERENCE = r"""
import json, runpy, sys, tracemalloc
prog = sys.argv[1]
tracemalloc.start(8)
ns = runpy.run_path(prog, run_name="__main__")   # keeps `keep` alive
snap = tracemalloc.take_snapshot()
current, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
lines, callers = {}, {}
for tr in snap.traces:
    # oldest frame first (3.7+): the innermost is the last
    frames = [f for f in reversed(tr.traceback) if f.filename == prog]
    if not frames or tr.traceback[-1].filename != prog:
        continue
    inner = frames[0]
    lines[inner.lineno] = lines.get(inner.lineno, 0) + tr.size
    key = "%d<-%s" % (inner.lineno,
                      ",".join(str(f.lineno) for f in frames[1:2]))
    callers[key] = callers.get(key, 0) + tr.size
print(json.dumps({"lines": lines, "callers": callers, "peak": peak,
                  "current": current}))
"""


def _line(tag):
    return bs.tagged_line(PROG, tag)


def _close(ours, ref):
    return bs.close(ours, ref, TOLERANCE, SLACK)


@pytest.fixture(scope="module")
def reference():
    p = subprocess.run([sys.executable, "-c", REFERENCE, PROG],
                       capture_output=True, text=True, timeout=TIMEOUT,
                       env=bs.env())
    assert p.returncode == 0, p.stderr
    ref = json.loads(p.stdout)
    ref["lines"] = {int(k): v for k, v in ref["lines"].items()}
    return ref


def _record(tmp_path, *opts):
    out = str(tmp_path / "b.ttrace")
    p = subprocess.run([sys.executable, "-m", "tracetap", "run", "--objects",
                        "--bytes", *opts, "-o", out, PROG],
                       capture_output=True, text=True, timeout=TIMEOUT,
                       env=bs.env(), cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    import tracetap
    with tracetap.load(out) as t:
        return out, t.objects()["bytes"]


def _ours(b):
    lines = {}
    for r in b["lines"]:
        if r["file"] == PROG:
            lines[r["line"]] = r
    return lines


@needs_313
@pytest.mark.parametrize("mode", [[], ["--no-calls"]], ids=["calls", "nocalls"])
def test_bytes_per_line_match_tracemalloc(tmp_path, reference, mode):
    _, b = _record(tmp_path, *mode)
    ours = _ours(b)
    for tag in ("HELPER", "APPEND", "DICT"):
        ln = _line(tag)
        ref = reference["lines"].get(ln, 0)
        assert ref > 50_000, (tag, reference["lines"])
        assert _close(ours[ln]["live_bytes"], ref), (tag, ours[ln], ref)
    # the list's growth is charged to the appending line: its final array
    # alone is at least 8 bytes per item
    assert ours[_line("APPEND")]["live_bytes"] >= 8 * 50_000
    # the peak: above what is left at the end by what tracemalloc saw (the
    # two tools' totals also hold their own start-up, which differs), and
    # the 5 MB bytearray held it
    t = b["totals"]
    ref_rise = reference["peak"] - reference["current"]
    assert _close(t["peak_bytes"] - t["live_bytes"], ref_rise), (t, reference)
    pk = ours[_line("PEAK")]
    assert 5_000_000 <= pk["peak_bytes"] <= 5_000_000 + 256
    assert pk["live_bytes"] == 0 and pk["alloc_bytes"] >= 5_000_000
    assert t["live_bytes"] < t["peak_bytes"] - 4_900_000
    # live bytes over time reach the peak's neighbourhood and come back
    samples = [v for _, v in b["samples"]]
    assert max(samples) >= t["peak_bytes"] - 600_000


@needs_313
def test_two_callers_told_apart(tmp_path, reference):
    _, b = _record(tmp_path)
    helper, a, bb = _line("HELPER"), _line("CALLER_A"), _line("CALLER_B")
    row = _ours(b)[helper]
    by_caller = {}
    for st in row["stacks"]:
        assert st["stack"][0]["line"] == helper
        by_caller[st["stack"][1]["line"]] = st["live_bytes"]
    for caller in (a, bb):
        ref = reference["callers"][f"{helper}<-{caller}"]
        assert _close(by_caller[caller], ref), (caller, by_caller, ref)
    assert by_caller[bb] > 2.5 * by_caller[a]


@needs_313
def test_stack_depth_one_merges_callers(tmp_path):
    _, b = _record(tmp_path, "--stack-depth", "1")
    row = _ours(b)[_line("HELPER")]
    assert b["totals"]["depth"] == 1
    assert len(row["stacks"]) == 1 and len(row["stacks"][0]["stack"]) == 1
    assert row["live_bytes"] >= 400_000


@needs_313
def test_report_text_and_json(tmp_path):
    out, _ = _record(tmp_path)
    env = bs.env()
    p = subprocess.run([sys.executable, "-m", "tracetap", "objects", out,
                        "--stacks"], capture_output=True, text=True,
                       timeout=TIMEOUT, env=env)
    assert p.returncode == 0, p.stderr
    helper = f"{PROG}:{_line('HELPER')}"
    assert "Bytes (--bytes" in p.stdout and "At the peak:" in p.stdout
    assert f"{helper} <- {PROG}:{_line('CALLER_B')}" in p.stdout
    p = subprocess.run([sys.executable, "-m", "tracetap", "objects", out,
                        "--format", "json"], capture_output=True, text=True,
                       timeout=TIMEOUT, env=env)
    data = json.loads(p.stdout)
    assert data["bytes"]["totals"]["peak_bytes"] > 5_000_000
    assert any(len(s["stacks"]) == 2 for s in data["bytes"]["lines"])


@needs_313
def test_bytes_needs_objects(tmp_path):
    p = subprocess.run([sys.executable, "-m", "tracetap", "run", "--bytes",
                        "-o", str(tmp_path / "x.ttrace"), PROG],
                       capture_output=True, text=True, timeout=TIMEOUT,
                       env=bs.env())
    assert p.returncode == 2 and "--bytes" in p.stderr


@needs_313
@pytest.mark.parametrize("mode", [[], ["--no-calls"]], ids=["calls", "nocalls"])
def test_flamegraph_bytes_weight(tmp_path, mode):
    out, b = _record(tmp_path, *mode)
    import tracetap
    from tracetap import _flamegraph
    svg = str(tmp_path / "b.svg")
    with tracetap.load(out) as t:
        stats = _flamegraph.export_flamegraph(t, svg, weight="bytes",
                                              min_share=0)
    # every site with a stack of traced frames is drawn, nothing else
    drawn = sum(st["alloc_bytes"] for r in b["lines"] for st in r["stacks"]
                if st["stack"])
    assert stats["total"] == drawn
    text = open(svg, encoding="utf-8").read()
    assert "caller_b" in text and "helper" in text


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="3.11/3.12 only")
def test_bytes_refused_before_313(tmp_path):
    p = subprocess.run([sys.executable, "-m", "tracetap", "run", "--objects",
                        "--bytes", "-o", str(tmp_path / "x.ttrace"), PROG],
                       capture_output=True, text=True, timeout=TIMEOUT,
                       env=bs.env())
    assert p.returncode != 0 and "3.13" in p.stderr
