"""tracetap export --format flamegraph: the interactive SVG.

The reference is the call tree of ``tracetap calls --format json``: from
it the tests work out, in Python, which nodes reach the threshold, each
one's inclusive weight, where it must sit, and what a search must
highlight; then they compare with

- the page as headless Chromium runs it (tests/py/browser.py): no console
  errors, one frame per node above the threshold, widths proportional to
  weight, each child within its parent one level up, search and zoom
  through the page's own script, and a screenshot kept as an artefact;
- the collapsed stacks (totals agree) and ``tracetap objects`` (creation
  counts per site, --weight objects, 3.13+);
- a SIGKILLed recording (the title says it was cut off), hostile function
  names (the file stays valid XML and shows the names as text), the CLI's
  errors.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import capture_python, capture_tracetap, capture_write

import tracetap

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
ROOT = os.path.dirname(os.path.dirname(HERE))
TIMEOUT = 300
SVG = "{http://www.w3.org/2000/svg}"
HAS_REFTRACER = sys.version_info >= (3, 13)


def _run(args, cwd):
    return capture_python(*args, cwd=cwd, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)


def _cli(*args, cwd):
    return capture_tracetap(*args, cwd=cwd, timeout=TIMEOUT,
                            stdin=subprocess.DEVNULL)


def _record(tmp_path, script, *opts):
    out = str(tmp_path / (os.path.basename(script) + ".ttrace"))
    proc = _cli("run", "-o", out, *opts, script, cwd=tmp_path)
    assert os.path.exists(out), proc.stderr
    return out


_write = capture_write


def _export(rec, out, *opts, cwd):
    proc = _cli("export", rec, "--format", "flamegraph", "-o", str(out),
                *opts, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return proc


def _tree(rec, cwd):
    proc = _cli("calls", rec, "--format", "json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _frames_xml(path):
    """The SVG parsed by a strict XML parser: (root attributes, frames as
    dicts of their data-* attributes, rect geometry, title and text)."""
    doc = ET.parse(path).getroot()
    frames = []
    for g in doc.iter(SVG + "g"):
        if g.get("class") != "f":
            continue
        rect = g.find(SVG + "rect")
        frames.append({
            "id": g.get("id"), "n": int(g.get("data-n")),
            "p": int(g.get("data-p")), "d": int(g.get("data-d")),
            "x": int(g.get("data-x")), "w": int(g.get("data-w")),
            "s": int(g.get("data-s")), "l": g.get("data-l"),
            "f": g.get("data-f") or "", "title": g.find(SVG + "title").text,
            "text": g.find(SVG + "text").text or "",
            "rx": float(rect.get("x")), "rw": float(rect.get("width")),
            "ry": float(rect.get("y"))})
    return doc, frames


def _weights(tree, weight, thread=None):
    """Inclusive weight per node (self + children), worked out from the
    JSON tree, and the selected total."""
    self_w = {"time": lambda n: n["tottime_ns"],
              "calls": lambda n: n["calls"] + n["resumes"],
              "objects": lambda n: n["objects"]}[weight]
    incl = [self_w(n) for n in tree]
    for n in reversed(tree):
        if n["parent"] is not None:
            incl[n["parent"]] += incl[n["id"]]
    total = sum(incl[n["id"]] for n in tree if n["parent"] is None and
                (thread is None or n["thread"] == thread))
    return incl, total


def _expected_nodes(tree, incl, total, share, thread=None):
    """Nodes drawn: nonzero, at least share * total, parent drawn, and
    (all threads) their thread's frame drawn."""
    thresh = int(share * total)
    per_thread: dict[int, int] = {}
    for n in tree:
        if n["parent"] is None:
            per_thread[n["thread"]] = per_thread.get(n["thread"], 0) + incl[n["id"]]
    drawn = set()
    for n in tree:
        if thread is not None and n["thread"] != thread:
            continue
        if thread is None and not (per_thread[n["thread"]] >= max(thresh, 1)):
            continue
        if incl[n["id"]] == 0 or incl[n["id"]] < thresh:
            continue
        if n["parent"] is None or n["parent"] in drawn:
            drawn.add(n["id"])
    return drawn


BUSY = """
    import threading

    def spin(n):
        s = 0
        for i in range(n):
            s += i
        return s

    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    def parse(n):
        spin(3000)
        return fib(n)

    def render(n):
        spin(20000)
        return [parse(k) for k in range(n)]

    def worker():
        for _ in range(3):
            render(8)

    t = threading.Thread(target=worker, name="worker")
    t.start()
    for _ in range(3):
        render(10)
        parse(12)
    t.join()
"""


def test_flamegraph_in_browser(tmp_path, browser):
    """The page in Chromium: frames, widths, nesting, search, zoom."""
    rec = _record(tmp_path, _write(tmp_path, "busy.py", BUSY))
    svg = tmp_path / "busy.svg"
    share = 0.01
    proc = _export(rec, svg, "--min-share", str(share), cwd=tmp_path)
    data = _tree(rec, tmp_path)
    tree = data["tree"]
    incl, total = _weights(tree, "time")
    want = _expected_nodes(tree, incl, total, share)
    omitted = sum(1 for n in tree if incl[n["id"]] > 0 and
                  n["id"] not in want and
                  (n["parent"] is None or n["parent"] in want))
    assert omitted > 0, "the test should exercise the threshold"
    assert f"{omitted:,} call paths narrower" in proc.stderr

    page = browser.open(svg)
    frames = page.eval("""Array.from(document.querySelectorAll('g.f'), g => {
        const r = g.querySelector('rect');
        return {id: g.id, n: +g.dataset.n, p: +g.dataset.p, d: +g.dataset.d,
                l: g.dataset.l, f: g.dataset.f || '',
                x: +r.getAttribute('x'), w: +r.getAttribute('width'),
                y: +r.getAttribute('y'), h: +r.getAttribute('height'),
                text: g.querySelector('text').textContent,
                shown: getComputedStyle(g).display !== 'none'};
    })""")
    pw = page.eval("+document.documentElement.dataset.pw")
    padx = page.eval("+document.documentElement.dataset.padx")
    fh = page.eval("+document.documentElement.dataset.frameH")
    assert page.eval("+document.documentElement.dataset.total") == total
    shot = page.screenshot(tmp_path / "flamegraph.png")
    print(f"\nflame graph screenshot: {shot}")
    assert page.errors == [], page.errors

    # One frame per node above the threshold; synthetic frames: the root
    # and one per thread.
    nodes = {f["n"]: f for f in frames if f["n"] >= 0}
    assert set(nodes) == want
    per_thread: dict[int, int] = {}
    for n in tree:
        if n["parent"] is None:
            per_thread[n["thread"]] = per_thread.get(n["thread"], 0) + incl[n["id"]]
    synth = [f for f in frames if f["n"] < 0]
    assert synth[0]["l"] == "all threads" and synth[0]["d"] == 0
    assert sorted(f["l"].split()[1] for f in synth[1:]) == sorted(
        str(t) for t, w in per_thread.items() if w and w >= int(share * total))
    # Widths proportional to the inclusive weight.
    for n, f in nodes.items():
        assert f["w"] == pytest.approx(incl[n] / total * pw, abs=0.011), f
        assert f["shown"]
    # Nesting: a child within its parent's x-range, one level up.
    by_id = {f["id"]: f for f in frames}
    for f in frames[1:]:
        parent = by_id[f"f{f['p']}"]
        assert f["d"] == parent["d"] + 1
        assert f["y"] == pytest.approx(parent["y"] - fh)
        assert parent["x"] - 0.011 <= f["x"]
        assert f["x"] + f["w"] <= parent["x"] + parent["w"] + 0.02
        if f["n"] >= 0 and parent["n"] >= 0:
            assert tree[f["n"]]["parent"] == parent["n"]
    # Labels: the function's name, file:line to search in.
    for n, f in nodes.items():
        assert f["l"] == tree[n]["func"]
        assert f["f"] == f"{tree[n]['file']}:{tree[n]['line']}"

    # Search, through the page's script: the frames whose name or
    # file:line holds the term, and the share they cover (nested matches
    # counted once).
    # The term: the name drawn most often (a function reached by several
    # paths, so nested and separate matches both occur).
    names = sorted(tree[n]["func"] for n in want)
    term = max(sorted(set(names)), key=names.count)
    res = page.eval(f"ttFlame.search({json.dumps(term)})")
    hits = set(page.eval("Array.from(document.querySelectorAll('g.f.hit'), "
                         "g => +g.dataset.n)"))
    want_hits = {n for n in want if term in tree[n]["func"] or
                 term in f"{tree[n]['file']}:{tree[n]['line']}"}
    assert want_hits and hits == want_hits
    assert res["frames"] == len(want_hits)

    def covered(n):
        p = tree[n]["parent"]
        while p is not None:
            if p in want_hits:
                return True
            p = tree[p]["parent"]
        return False
    share_want = sum(incl[n] for n in want_hits if not covered(n)) / total
    assert res["share"] == pytest.approx(share_want, rel=1e-9)
    assert page.eval("document.getElementById('matched').textContent") == (
        f"Matched: {100 * share_want:.2f}% ({len(want_hits)} frames)")
    fills = page.eval("Array.from(document.querySelectorAll('g.f.hit rect'),"
                      " r => r.getAttribute('fill'))")
    assert set(fills) == {"rgb(230,0,230)"}
    page.eval("ttFlame.search('')")
    assert page.eval("document.querySelectorAll('g.f.hit').length") == 0

    # Zoom into the widest node with children: it fills the width, its
    # subtree scales with it, frames beside it are hidden, ancestors
    # span the width; Reset brings the first layout back.
    z = max((n for n in want if any(tree[k]["parent"] == n for k in want)
             and incl[n] < total), key=lambda n: incl[n])
    zid = nodes[z]["id"]
    page.eval(f"ttFlame.zoom({json.dumps(zid)})")
    after = {f["id"]: f for f in page.eval("""Array.from(
        document.querySelectorAll('g.f'), g => ({id: g.id, n: +g.dataset.n,
        x: +g.querySelector('rect').getAttribute('x'),
        w: +g.querySelector('rect').getAttribute('width'),
        shown: getComputedStyle(g).display !== 'none'}))""")}
    assert after[zid]["x"] == pytest.approx(padx) and after[zid]["w"] == pytest.approx(pw)

    def under(n, top):
        while n is not None:
            if n == top:
                return True
            n = tree[n]["parent"]
        return False
    for n, f in nodes.items():
        a = after[f["id"]]
        if under(n, z):
            assert a["shown"]
            assert a["w"] == pytest.approx(incl[n] / incl[z] * pw, abs=0.011)
        elif under(z, n):
            assert a["shown"] and a["w"] == pytest.approx(pw)
        else:
            assert not a["shown"]
    assert page.eval("ttFlame.current()") == zid
    page.eval("ttFlame.reset()")
    assert page.eval(f"+document.querySelector('#{zid} rect')"
                     ".getAttribute('width')") == pytest.approx(nodes[z]["w"])
    assert page.errors == [], page.errors


def test_totals_agree_with_collapsed(tmp_path):
    """Time (us, rounded as collapsed rounds) and calls, all threads and
    one thread; frames' self weights sum to the total."""
    rec = _record(tmp_path, os.path.join(PROGRAMS, "threads.py"))
    data = _tree(rec, tmp_path)
    main = next(t["thread"] for t in data["threads"] if t["name"] == "MainThread")
    for weight in ("time", "calls"):
        for thread in (None, main):
            opts = ["--weight", weight, "--min-share", "0"]
            copts = ["--weight", weight]
            if thread is not None:
                opts += ["--thread", str(thread)]
                copts += ["--thread", str(thread)]
            svg = tmp_path / f"{weight}-{thread}.svg"
            _export(rec, svg, *opts, cwd=tmp_path)
            col = _cli("calls", rec, "--format", "collapsed", *copts,
                       cwd=tmp_path)
            assert col.returncode == 0, col.stderr
            csum = sum(int(line.rsplit(" ", 1)[1])
                       for line in col.stdout.splitlines())
            doc, frames = _frames_xml(svg)
            total = int(doc.get("data-total"))
            assert frames[0]["w"] == total
            assert sum(f["s"] for f in frames) == total  # every node drawn
            if weight == "time":
                assert round(total / 1000) == csum
            else:
                assert total == csum
            assert doc.get("data-weight") == weight


def test_icicle_one_thread(tmp_path):
    rec = _record(tmp_path, os.path.join(PROGRAMS, "threads.py"))
    data = _tree(rec, tmp_path)
    worker = next(t for t in data["threads"] if t["name"] != "MainThread"
                  and t["traced_ns"] > 0)
    svg = tmp_path / "icicle.svg"
    _export(rec, svg, "--icicle", "--thread", str(worker["thread"]),
            "--weight", "calls", "--min-share", "0", cwd=tmp_path)
    doc, frames = _frames_xml(svg)
    tree = data["tree"]
    incl, total = _weights(tree, "calls", worker["thread"])
    assert frames[0]["l"].startswith(f"thread {worker['thread']}")
    assert {f["n"] for f in frames[1:]} == {
        n["id"] for n in tree if n["thread"] == worker["thread"] and incl[n["id"]]}
    by_id = {f["id"]: f for f in frames}
    for f in frames[1:]:
        assert f["ry"] == by_id[f"f{f['p']}"]["ry"] + 16   # top-down
    assert int(doc.get("data-total")) == total
    assert "Icicle graph" in "".join(doc.find(f".//{SVG}text[@id='subtitle']").itertext())


@pytest.mark.skipif(not HAS_REFTRACER, reason="--objects needs CPython 3.13+")
def test_weight_objects_matches_objects_report(tmp_path):
    script = _write(tmp_path, "alloc.py", """
        import threading

        class Box:
            def __init__(self, v):
                self.v = v

        def leaf(n):
            return [Box(i) for i in range(n)]

        def middle(n):
            out = leaf(n)
            out.append({"k": n})
            return out

        def work():
            keep = []
            for i in range(30):
                keep.extend(middle(i))
            return keep

        t = threading.Thread(target=work)
        t.start()
        work()
        t.join()
    """)
    rec = _record(tmp_path, script, "--objects")
    svg = tmp_path / "objects.svg"
    _export(rec, svg, "--weight", "objects", "--min-share", "0", cwd=tmp_path)
    doc, frames = _frames_xml(svg)
    proc = _cli("objects", rec, "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    sites = json.loads(proc.stdout)["sites"]
    want: dict[tuple, int] = {}
    for s in sites:
        key = (s["func"], s["file"]) if s["file"] is not None else None
        want[key] = want.get(key, 0) + s["created"]
    got: dict[tuple, int] = {}
    for f in frames:
        if f["n"] >= 0:
            key = (f["l"], f["f"].rsplit(":", 1)[0])
        elif f["l"] == "[no Python frame]":
            key = None
        else:
            continue
        got[key] = got.get(key, 0) + f["s"]
    assert {k: v for k, v in got.items() if v} == {k: v for k, v in want.items() if v}
    assert int(doc.get("data-total")) == sum(s["created"] for s in sites)
    # The call paths are kept: Box.__init__ made nothing itself, leaf did,
    # under middle, under work, in both threads.
    leaf = [f for f in frames if f["l"] == "leaf"]
    assert len(leaf) == 2 and all(f["s"] > 0 for f in leaf)


def test_killed_recording_is_marked(tmp_path):
    """SIGKILL from three calls deep: what was flushed is drawn, open
    frames closed at the last event, and the title says it was cut."""
    script = _write(tmp_path, "killme.py", """
        import os, signal, sys, tracetap

        def leaf(i):
            return i * 2

        def middle(n, last):
            for i in range(n):
                leaf(i)
            if last:
                os.kill(os.getpid(), signal.SIGKILL)

        tracetap.record(sys.argv[1]).start()
        for k in range(1, 4):
            middle(60000 * k, k == 3)
    """)
    out = str(tmp_path / "killed.ttrace")
    assert _run([script, out], tmp_path).returncode == -signal.SIGKILL
    svg = tmp_path / "killed.svg"
    exp = _export(out, svg, cwd=tmp_path)
    assert "cut off" in exp.stderr
    doc, frames = _frames_xml(svg)
    title = doc.find(f".//{SVG}text[@id='title']").text
    assert title.endswith("[cut off]") and "killme.py" in title
    cut = doc.find(f".//{SVG}text[@id='cut']").text
    assert "cut off" in cut and "closed at their thread's last event" in cut
    assert doc.get("data-cut") == "1"
    assert {"middle", "leaf"} <= {f["l"] for f in frames}
    data = _tree(out, tmp_path)
    assert data["summary"]["truncated"] and data["summary"]["open_at_end"] >= 1
    _, total = _weights(data["tree"], "time")
    assert int(doc.get("data-total")) == total


def test_hostile_names_stay_text(tmp_path, browser):
    names = ["a<b>&c\"d'e", "ctl\x01\x1b[31m\x7f", "]]><script>alert(1)</script>",
             "wide\u2028\U0001F600", "x</text></g><g>"]
    script = _write(tmp_path, "hostile.py", f"""
        NAMES = {names!r}

        def make(qual):
            def f(n):
                return n + 1
            f.__code__ = f.__code__.replace(co_name=qual, co_qualname=qual)
            return f

        FS = [make(q) for q in NAMES]

        def main():
            for f in FS:
                for i in range(50):
                    f(i)

        main()
    """)
    rec = _record(tmp_path, script, "--no-lines")
    svg = tmp_path / "hostile.svg"
    _export(rec, svg, "--min-share", "0", "--title", "t<&>\x02", cwd=tmp_path)
    doc, frames = _frames_xml(svg)    # a strict XML parser accepts it

    def shown(s):
        return "".join(c if 0x20 <= ord(c) and not 0x7F <= ord(c) <= 0x9F
                       else f"\\x{ord(c):02x}" for c in s)
    labels = {f["l"] for f in frames}
    assert {shown(n) for n in names} <= labels
    assert doc.find(f".//{SVG}text[@id='title']").text == "t<&>\\x02"
    assert len(list(doc.iter(f"{SVG}script"))) == 1
    page = browser.open(svg)
    assert page.eval("document.querySelectorAll('script').length") == 1
    got = set(page.eval("Array.from(document.querySelectorAll('g.f'), "
                        "g => g.dataset.l)"))
    assert {shown(n) for n in names} <= got
    res = page.eval("ttFlame.search('<script>')")
    assert res["frames"] == 1
    assert page.errors == [], page.errors


def test_cli_errors_and_help(tmp_path):
    rec = _record(tmp_path, os.path.join(PROGRAMS, "recursion.py"))
    out = tmp_path / "x.svg"
    p = _cli("export", rec, "--format", "flamegraph", "--weight", "objects",
             "-o", str(out), cwd=tmp_path)
    assert p.returncode == 1 and "--objects" in p.stderr and not out.exists()
    p = _cli("export", rec, "--format", "flamegraph", "--thread", "7",
             "-o", str(out), cwd=tmp_path)
    assert p.returncode == 2 and "no thread 7" in p.stderr
    p = _cli("export", rec, "--format", "flamegraph", cwd=tmp_path)
    assert p.returncode == 2 and "-o" in p.stderr
    p = _cli("export", rec, "--format", "flamegraph", "--min-share", "2",
             "-o", str(out), cwd=tmp_path)
    assert p.returncode == 2 and "min-share" in p.stderr
    p = _cli("export", str(tmp_path / "missing.ttrace"), "--format",
             "flamegraph", "-o", str(out), cwd=tmp_path)
    assert p.returncode == 1 and "error" in p.stderr
    p = _cli("export", rec, "--format", "flamegraph", "-o",
             str(tmp_path / "no" / "such" / "dir.svg"), cwd=tmp_path)
    assert p.returncode == 1 and "error" in p.stderr
    count = _record(tmp_path, _write(tmp_path, "c.py", "def f():\n  pass\nf()\n"),
                    "--count")
    p = _cli("export", count, "--format", "flamegraph", "-o", str(out),
             cwd=tmp_path)
    assert p.returncode == 1 and "recorded with --count" in p.stderr
    assert not out.exists()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tracetap-")]
    h = _cli("export", "--help", cwd=tmp_path)
    assert h.returncode == 0 and "--weight" in h.stdout and "examples" in h.stdout


def test_api_writes_to_a_file_object(tmp_path):
    import io
    rec = _record(tmp_path, os.path.join(PROGRAMS, "recursion.py"))
    buf = io.StringIO()
    stats = tracetap.export_flamegraph(rec, buf, weight="calls", min_share=0)
    text = buf.getvalue()
    root = ET.fromstring(text)
    assert int(root.get("data-total")) == stats["total"] > 0
    assert stats["omitted"] == 0
    assert stats["frames"] == len([g for g in root.iter(SVG + "g")
                                   if g.get("class") == "f"])
    small = tracetap.export_flamegraph(rec, tmp_path / "small.svg",
                                       min_share=0, max_frames=5)
    assert small["frames"] <= 5 < stats["frames"]
    assert small["min_share"] > 0 and small["omitted"] > 0
    with pytest.raises(ValueError, match="weight"):
        tracetap.export_flamegraph(rec, buf, weight="bytes")
