"""Hostile input through every reader command (items 7-13, 16,
17): recordings whose file names, qualnames, argv, thread names, notes
and exception names hold C0/C1 controls, escape sequences and bytes that
are not UTF-8, and whose code names /dev/zero, a FIFO, /dev/stdin and
/etc/passwd. Every subcommand's text and JSON output runs with a timeout:
no raw control character in text, valid JSON, no hang, no traceback, and
only the documented exit statuses.
"""

import json
import os
import re
import stat
import subprocess
import sys

import pytest

import tracetap
from conftest import capture_env, capture_tracetap, capture_write

HAVE_OBJECTS = sys.version_info >= (3, 13)

# What a terminal acts on: C0 but newline, DEL, C1 (as UTF-8), and the
# bidirectional overrides.
RAW_CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

ESC = "\x1b]0;PWNED\x07"          # sets a terminal's title
CSI = "\x1b[2J\x9b31m"             # clears the screen; 8-bit CSI

HOSTILE = r'''
import os, sys, threading
ESC, CSI = sys.argv[1], sys.argv[2]
special = sys.argv[3:]
E = type("Err" + CSI + "\u202e" + "\u00e9" * 300, (Exception,), {})
src = "def f():\n    raise E('x')\n"
g = {"E": E}
exec(compile(src, ESC + "name.py", "exec"), g)
# Code that names special files as its source.
for path in special:
    exec(compile("x = 1\ny = 2\n", path, "exec"), {})
def h():
    try:
        g["f"]()
    except Exception:
        pass
h.__code__ = h.__code__.replace(co_qualname="h" + CSI + "\nfake line")
t = threading.Thread(target=h, name="worker" + ESC)
t.start(); t.join()
h()
def gen():
    x = 0
    while x < 5:
        yield x
        x += 1
assert sum(gen()) == 10
if "--objects" in os.environ.get("HOSTILE_MODE", ""):
    keep = [type("T" + CSI + "x" + "\u00e9" * 300, (), {})() for _ in range(3)]
'''


def _no_raw_controls(text, what):
    m = RAW_CONTROL.search(text)
    assert m is None, f"{what}: raw {m.group()!r} in {text[max(0, m.start() - 60):m.end() + 20]!r}"


def _run(args, cwd, timeout=60):
    """A reader command whose stdin is a pipe nobody writes: reading it
    would hang (what /dev/stdin as a source did)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracetap", *args], cwd=cwd,
        env=capture_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"tracetap {' '.join(args)} hung")
    finally:
        if proc.stdin:
            proc.stdin.close()
    return (proc.returncode, out.decode("utf-8", "surrogateescape"),
            err.decode("utf-8", "surrogateescape"))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    capture_write(d, "hostile.py", HOSTILE)
    fifo = str(d / "fifo.py")
    os.mkfifo(fifo)
    special = ["/dev/zero", fifo, "/dev/stdin", "/etc/passwd"]
    mode = ["--objects"] if HAVE_OBJECTS else []
    env = {**capture_env(), "HOSTILE_MODE": " ".join(mode)}
    proc = subprocess.run(
        [sys.executable, "-m", "tracetap", "run", *mode, "-o", "h.ttrace",
         "hostile.py", ESC, CSI, *special],
        cwd=d, env=env, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    _no_raw_controls(proc.stderr, "run's summary")
    return d, str(d / "h.ttrace")


COMMANDS = [
    ["events"], ["events", "--json"], ["info"],
    ["objects"], ["objects", "--format", "json"],
    ["calls"], ["calls", "--format", "json"],
    ["calls", "--format", "collapsed"],
    ["coverage"], ["coverage", "--missing"], ["coverage", "--format", "json"],
    ["coverage", "--format", "lcov"], ["coverage", "--format", "cobertura"],
    ["lines"], ["lines", "--format", "json"],
    ["export", "--format", "chrome", "-o", "-"],
]


@pytest.mark.parametrize("cmd", COMMANDS, ids=" ".join)
def test_every_output_escapes_and_never_hangs(hostile, cmd):
    d, path = hostile
    rc, out, err = _run([*cmd, path], d)
    if cmd[0] == "objects" and not HAVE_OBJECTS:
        # Recorded without --objects (3.11, 3.12): nothing to answer.
        assert rc == 1 and out == "" and "has no object data" in err, err
    else:
        assert rc == 0, err                   # a readable recording: 0
    assert "Traceback" not in err
    _no_raw_controls(err, "stderr")
    _no_raw_controls(out, "stdout")            # JSON escapes them itself
    # A recorded newline (the qualname's) cannot forge a line of its own,
    # in any output: the stream keeps only the report's own newlines.
    for stream in (out, err):
        assert not any(ln.lstrip().startswith("fake line")
                       for ln in stream.splitlines()), stream
    if "json" in cmd and out:
        if cmd[0] == "events":
            assert [json.loads(line) for line in out.splitlines()]
        else:
            json.loads(out)
    if cmd in (["events"], ["coverage"], ["calls"]):
        # The same rule in Python (events, calls) and in C (the coverage
        # table): the name as the escapes spell it.
        assert "\\x1b]0;PWNED\\x07name.py" in out
    if cmd == ["events"]:
        # The qualname's newline cannot forge a line of its own.
        assert not any(line.startswith("fake line") for line in out.splitlines())
        assert "\\x1b]0;PWNED\\x07name.py" in out
        # No special file was read: the warnings say why, once each.
        for name, why in (("/dev/zero", "not a regular file"),
                          ("fifo.py", "not a regular file"),
                          ("/dev/stdin", "not a regular file"),
                          ("/etc/passwd", "not Python source")):
            assert any(name in ln and why in ln for ln in err.splitlines()), \
                (name, err)
        assert "root:" not in out


def test_json_events_keep_names_exact(hostile):
    d, path = hostile
    rc, out, err = _run(["events", "--json", path], d)
    events = [json.loads(line) for line in out.splitlines()]
    files = {e["file"] for e in events}
    assert os.path.abspath(os.path.join(d, ESC + "name.py")) in files or \
        ESC + "name.py" in files
    funcs = {e["func"] for e in events}
    assert "h" + CSI + "\nfake line" in funcs
    names = {e.get("exception") for e in events} - {None}
    assert names and all("Err" + CSI in n for n in names)


def test_annotate_copies_no_special_file(hostile, tmp_path):
    d, path = hostile
    out = tmp_path / "cover"
    rc, _, err = _run(["coverage", "--format", "annotate", "-o", str(out),
                       path], d)
    assert rc == 0, err
    assert "Traceback" not in err
    _no_raw_controls(err, "annotate's stderr")
    written = {p.name: p.read_text(errors="replace") for p in out.iterdir()}
    # The real script's report, named after its path below the common
    # directory of all (which is / here: /dev/zero is one of them).
    assert any(n.endswith(".hostile.cover") for n in written), written.keys()
    assert not any("root:" in text for text in written.values())
    for name in ("passwd", "zero", "stdin", "fifo"):
        assert not any(name in n for n in written), written.keys()
        assert any(name in ln and "cannot show the source" in ln
                   for ln in err.splitlines()), (name, err)


def test_thread_by_name_and_resumptions(hostile):
    d, path = hostile
    rc, out, err = _run(["events", "--json", "--thread", "worker" + ESC, path],
                        d)
    assert rc == 0, err
    mine = [json.loads(line) for line in out.splitlines()]
    assert mine and {e["thread"] for e in mine} == {1}
    rc, _, err = _run(["events", "--thread", "nobody", path], d)
    assert rc == 1 and "no thread named 'nobody'" in err
    _no_raw_controls(err, "stderr")
    # gen() yields 5 times: one start, then 5 resumptions (the last ends
    # the loop); JSON keeps settrace's "call" and marks the resumptions.
    rc, out, _ = _run(["events", "--json", path], d)
    calls = [json.loads(line) for line in out.splitlines()]
    calls = [e for e in calls if e["kind"] == "call" and e["func"] == "gen"]
    assert len(calls) == 6
    assert [e.get("resume", False) for e in calls] == [False] + [True] * 5
    rc, out, _ = _run(["events", "--thread", "0", path], d)
    text = [ln for ln in out.splitlines() if " gen  (" in ln]
    assert sum("resume    gen" in ln for ln in text) == 5
    assert sum("call      gen" in ln for ln in text) == 1


def test_deep_recursion_output_is_linear(tmp_path):
    capture_write(tmp_path, "deep.py", """
        import sys
        sys.setrecursionlimit(10000)
        def down(n):
            return 0 if n == 0 else down(n - 1)
        down(3000)
    """)
    proc = capture_tracetap("run", "deep.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rc, out, err = _run(["events", "deep.ttrace"], tmp_path)
    assert rc == 0, err
    lines = out.splitlines()
    # Unbounded indentation was 2 columns per level: 6,000 at the bottom.
    assert max(len(ln) for ln in lines) < 200
    assert any("[3001] call      down" in ln for ln in lines)


def test_no_lines_and_count_recordings_say_what_they_lack(tmp_path):
    capture_write(tmp_path, "p.py", "def f():\n    return 1\nf()\n")
    assert capture_tracetap("run", "--no-lines", "-o", "nl.ttrace", "p.py",
                            cwd=tmp_path).returncode == 0
    assert capture_tracetap("run", "--count", "-o", "c.ttrace", "p.py",
                            cwd=tmp_path).returncode == 0
    rc, out, err = _run(["coverage", "nl.ttrace"], tmp_path)
    assert rc == 1 and out == ""
    assert "without line events" in err and "%" not in out
    # With a recording that has counts, the other is named, not averaged.
    rc, out, err = _run(["coverage", "nl.ttrace", "c.ttrace"], tmp_path)
    assert rc == 0 and "without line events" in err and "p.py" in out
    rc, out, err = _run(["events", "c.ttrace"], tmp_path)
    assert rc == 1 and "--count" in err and "tracetap coverage" in err


def _crc32c(data):
    """CRC-32C, bit by bit: the reference for the recorded hashes."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def test_source_identity_is_recorded_and_checked(tmp_path):
    import tracetap

    original = "a = 1\nb = 2\n"
    src = tmp_path / "s.py"
    capture_write(tmp_path, "s.py", original)
    assert capture_tracetap("run", "s.py", cwd=tmp_path).returncode == 0
    with tracetap.load(tmp_path / "s.ttrace") as t:
        ident = t._reader.sources()[str(src)]
    st = os.stat(src)
    assert ident == {"size": len(original), "mtime_ns": st.st_mtime_ns,
                     "crc32c": _crc32c(original.encode())}
    rc, out, err = _run(["events", "s.ttrace"], tmp_path)
    assert "a = 1" in out and "b = 2" in out and "not shown" not in err

    # One line inserted at the top: every line would be off by one.
    src.write_text("# one line inserted\n" + original)
    rc, out, err = _run(["events", "s.ttrace"], tmp_path)
    assert rc == 0
    assert "# one line inserted" not in out and "a = 1" not in out
    assert "changed since the recording" in err
    rc, _, err = _run(["coverage", "--format", "annotate", "-o", "cov",
                       "s.ttrace"], tmp_path)
    assert "changed since the recording" in err
    assert not (tmp_path / "cov" / "s.cover").exists()
    # Same size, other content: the hash tells.
    src.write_text(original.replace("1", "7"))
    rc, out, err = _run(["events", "s.ttrace"], tmp_path)
    assert "a = 7" not in out and "other content" in err
    # The same content again, newer mtime: it is the file that ran.
    src.write_text(original)
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 10**10))
    rc, out, err = _run(["events", "s.ttrace"], tmp_path)
    assert "a = 1" in out and "not shown" not in err


def test_cover_names_never_collide():
    from tracetap._coverage import cover_names

    files = ["/p/a/b.py", "/p/a.b.py", "/p/A.b.py", "rel.py", "/p/c.py"]
    names = cover_names(files)           # mixed: no ValueError
    assert set(names) == set(files)
    assert len({n.lower() for n in names.values()}) == len(files)
    assert names["/p/c.py"] == "c.cover" and names["rel.py"] == "rel.cover"
    assert all(n.endswith(".cover") and "/" not in n for n in names.values())


def test_messages_say_what_is_wrong(tmp_path, hostile):
    d, path = hostile
    data = open(path, "rb").read()
    bad = tmp_path / "v9.ttrace"
    bad.write_bytes(data[:8] + b"\x09\x00" + data[10:])
    rc, _, err = _run(["info", str(bad)], tmp_path)
    assert rc == 1 and "format version 9.0" in err and "reads version 1.x" in err
    # A complete recording through a pipe is not "truncated".
    r, w = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracetap", "info", f"/dev/fd/{r}"],
        cwd=tmp_path, env=capture_env(), pass_fds=(r,),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.close(r)
    os.write(w, data[:4096])
    os.close(w)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "not a regular file" in err and "truncated" not in err
    if not stat.S_ISCHR(os.stat("/dev/full").st_mode):
        pytest.skip("/dev/full is not the full device here")
    readers = [["events"], ["info"], ["calls"], ["coverage"]]
    if HAVE_OBJECTS:            # else `objects` refuses before writing
        readers.append(["objects"])
    for cmd in readers:
        with open("/dev/full", "w") as full:
            p = subprocess.run([sys.executable, "-m", "tracetap", *cmd, path],
                               cwd=d, env=capture_env(), stdout=full,
                               stderr=subprocess.PIPE, text=True, timeout=60)
        assert p.returncode == 1, (cmd, p.stderr)
        assert "Traceback" not in p.stderr
        assert "cannot write the output: No space left on device" in p.stderr


def test_summary_of_a_deleted_output(tmp_path):
    capture_write(tmp_path, "rm.py", "import os, sys\nos.remove(sys.argv[1])\n")
    out = str(tmp_path / "gone.ttrace")
    proc = capture_tracetap("run", "-o", out, "rm.py", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "deleted during the run" in proc.stderr
    assert "bytes)" not in proc.stderr.splitlines()[0]


@pytest.mark.skipif(not HAVE_OBJECTS, reason="--objects needs CPython 3.13+")
def test_objects_survives_non_utf8_names(hostile):
    d, path = hostile
    # The type name is cut at 511 bytes inside a two-byte character (the
    # capture's limit): the
    # file holds bytes that are not UTF-8; every command shows U+FFFD.
    rc, out, err = _run(["objects", "--format", "json", path], d)
    assert rc == 0 and "UnicodeDecodeError" not in err, err
    data = json.loads(out)
    names = [n for n in data["types"] if n.startswith("__main__.T")]
    assert names and names[0].endswith("\ufffd")


def test_printable_rule():
    from tracetap._text import SafeText, printable

    assert printable("a\x1b[1mb\n\x9b\udcff\u202e\x7f") == \
        "a\\x1b[1mb\\x0a\\x9b\\xff\\u202e\\x7f"
    assert printable("x\ny\tz", keep_newlines=True) == "x\ny\\x09z"
    assert printable("caf\u00e9 \u4e2d") == "caf\u00e9 \u4e2d"

    class Sink:
        def __init__(self):
            self.parts = []

        def write(self, s):
            self.parts.append(s)

    sink = Sink()
    out = SafeText(sink)
    out.write("row\x1b[2J\n")
    assert sink.parts == ["row\\x1b[2J\n"] and out.raw_stream is sink


# ------------------------------------------------ every file written (-o)

# A module in a directory whose name is not UTF-8, under a file name with an
# escape sequence, a bidi override, a comma and a newline; its function's
# qualname holds controls, a comma and a newline too. NAMES_OUT gets the
# names as the program's own str (ascii()), the independent reference.
FILE_NAMES = r'''
import os, sys
d = os.fsdecode(b"dir\xff\xfe")
name = os.path.join(os.getcwd(), d, "m\x1b]0;T\x07\u202e,\nx.py")
src = open(name, encoding="utf-8").read()
g = {}
exec(compile(src, name, "exec"), g)
with open("names.txt", "w") as f:
    f.write(ascii([name, g["f"].__code__.co_qualname]))
'''

MODULE = '''def f(x):
    if x:
        return 1
    return 2
f.__code__ = f.__code__.replace(co_qualname="f\\x1b[31m,\\u202e\\nq")
for i in range(3):
    f(i)
'''

OUTPUTS = [  # (command, file, how its consumer reads it)
    (["coverage"], "cov.txt", "text"),
    (["coverage", "--format", "json"], "cov.json", "json"),
    (["coverage", "--format", "lcov"], "cov.info", "lcov"),
    (["coverage", "--format", "cobertura"], "cov.xml", "xml"),
    (["lines"], "lines.txt", "text"),
    (["lines", "--format", "json"], "lines.json", "json"),
    (["calls"], "calls.txt", "text"),
    (["calls", "--format", "json"], "calls.json", "json"),
    (["calls", "--format", "collapsed"], "calls.folded", "text"),
    (["export", "--format", "chrome"], "trace.json", "json"),
    (["export", "--format", "flamegraph"], "flame.svg", "xml"),
    (["export", "--format", "perfetto"], "trace.pftrace", "binary"),
    (["calls", "--format", "pstats"], "calls.pstats", "binary"),
    (["report"], "report", "html"),
]


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory):
    import ast

    d = tmp_path_factory.mktemp("names")
    sub = os.path.join(os.fsencode(str(d)), b"dir\xff\xfe")
    os.mkdir(sub)
    with open(os.path.join(sub, "m\x1b]0;T\x07\u202e,\nx.py".encode()), "w") as f:
        f.write(MODULE)
    capture_write(d, "main.py", FILE_NAMES)
    proc = capture_tracetap("run", "-o", "n.ttrace", "main.py", cwd=d)
    assert proc.returncode == 0, proc.stderr
    with open(d / "names.txt") as f:
        name, qualname = ast.literal_eval(f.read())
    return d, str(d / "n.ttrace"), name, qualname


@pytest.mark.parametrize("cmd,out,kind", OUTPUTS, ids=[o[1] for o in OUTPUTS])
def test_every_file_output_is_valid_for_its_consumer(hostile_files, cmd, out,
                                                     kind, tmp_path):
    """What `-o` writes follows its format's rule
    (text, LCOV: the escapes of every text output; XML: the same inside
    XML 1.0; JSON: json's escapes, a file name's undecodable bytes as
    json.dumps writes os.fsdecode's str) and its real consumer reads it."""
    d, path, name, qualname = hostile_files
    target = str(tmp_path / out)
    proc = capture_tracetap(*cmd, path, "-o", target, cwd=d)
    assert proc.returncode == 0, proc.stderr
    if kind == "binary":
        # Other programs' formats (protobuf, marshal): strings as recorded,
        # read back by the consumer.
        if cmd[-1] == "pstats":
            import pstats

            funcs = pstats.Stats(target).stats
            assert any(fn[2] == qualname for fn in funcs), list(funcs)[:5]
        else:
            assert os.path.getsize(target) > 0
        return
    if kind == "html":
        from html.parser import HTMLParser

        pages = [os.path.join(target, n) for n in sorted(os.listdir(target))
                 if n.endswith(".html")]
        assert pages
        for page in pages:
            with open(page, encoding="utf-8") as f:   # strict UTF-8
                html = f.read()
            _no_raw_controls(html.replace("\n", "").replace("\t", ""), page)
            HTMLParser().feed(html)
        return
    with open(target, "rb") as f:
        data = f.read()
    text = data.decode("utf-8")             # strict: valid UTF-8 throughout
    assert "\x1b" not in text and "\u202e" not in text
    if kind == "json":
        _no_raw_controls(text, out)
        doc = json.loads(text)
        blob = json.dumps(doc)
        # The names as the program had them, exact (json.dumps of the str).
        assert json.dumps(name)[1:-1] in blob or cmd[0] == "calls" and \
            json.dumps(qualname)[1:-1] in blob, blob[:400]
        if cmd[0] == "coverage":
            assert name in doc["files"]
            with tracetap.load(path) as t:
                assert name in t.coverage()["files"]
            assert os.fsencode(name).endswith(
                b"/dir\xff\xfe/m\x1b]0;T\x07\xe2\x80\xae,\nx.py")
    else:
        # (newlines and tabs of the format's own layout aside)
        _no_raw_controls(text.replace("\n", "").replace("\t", ""), out)
        assert not any(ln.lstrip().startswith(("x.py", "q "))
                       for ln in text.splitlines()), out
        # Every text-like format spells the name as _text.printable does.
        from tracetap._text import printable

        if cmd[0] != "calls" or kind == "xml":
            assert printable(os.path.basename(name)) in text or \
                printable(qualname) in text, text[:600]
        assert "\\xff\\xfe" in text or cmd[0] == "calls"
    if kind == "xml":
        import xml.etree.ElementTree as ET

        ET.fromstring(data)                  # expat: XML 1.0 well-formed
    if kind == "lcov":
        import shutil

        if shutil.which("genhtml") is None:
            pytest.skip("genhtml (lcov) is not installed")
        html = tmp_path / "html"
        gen = subprocess.run(
            ["genhtml", "--ignore-errors", "source", "-q", "-o", str(html),
             target], capture_output=True, text=True, timeout=120)
        assert gen.returncode == 0, gen.stderr
        assert (html / "index.html").exists()
        # The file's record keeps the name on one line: \x0a, not a break.
        assert any(ln.startswith("SF:") and ln.endswith("\\x0ax.py")
                   for ln in text.splitlines())
