"""Per-line time: ``Trace.lines()`` and ``tracetap lines``.

The analysis (segments from a LINE to the frame's next event, time with
and without callees, generators, frames closed at drops or at the end) is
libtt's (``tt_analyze_lines.c``, rules in docs/lines.md); this module names the
rows, groups them per function and writes line_profiler-style listings
with the source, or JSON.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, TextIO

from . import _tracetap
from ._calls import _short, human_ns
from ._text import open_output, printable

if TYPE_CHECKING:
    from ._trace import Trace

__all__ = ["analyze", "select", "format_text", "format_json", "read_source",
           "add_parser", "cmd_lines"]

# The largest source file shown; a bigger one is listed without its text.
SOURCE_LIMIT = 4 << 20
DEFAULT_LIMIT = 10
CODE_FUNCTION = 0x4  # TT_CODE_FUNCTION: a function body, not a module or class

SORT_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "time": lambda f: (-f["time_ns"], f["file"], f["line"]),
    "hits": lambda f: (-f["hits"], -f["time_ns"], f["file"], f["line"]),
    "line": lambda f: (f["file"], f["line"], f["func"]),
}

LINES_EPILOG = """\
Reading a listing (like line_profiler's, for every function at once):
  Hits      times the line started running (its LINE events)
  Time      from the line's start to the next event of the same frame (the
            next line, or the return), callees included: the time the
            program spent because of this line
  Per Hit   Time / Hits
  % Time    share of the function's time
  Own       Time without the traced functions it called; time in untraced
            code (the standard library by default, C functions) stays Own
A function's time is the sum of its lines' times plus the moment from its
call to its first line. A recursive function's nested calls are counted in
the outer call's line and again in their own lines, as line_profiler does.
A generator's time while suspended belongs to no line: the line of a yield
ends when it yields. Frames still running when the recording ended (a kill,
a thread that never returned) are closed at their thread's last event, and
the report says so. Rules: docs/lines.md.

examples:
  tracetap run app.py && tracetap lines app.ttrace
  tracetap lines app.ttrace --function 'parse*' --limit 3
  tracetap lines app.ttrace --file '*/myapp/*' --sort hits
  tracetap lines app.ttrace --thread 1
  tracetap lines app.ttrace --format json | jq '.functions[0].lines'
"""


def read_source(path: str, limit: int = SOURCE_LIMIT, *,
                not_after_ns: int | None = None,
                identity: dict[str, Any] | None = None
                ) -> tuple[list[str] | None, str | None]:
    """The lines of a source file, or (None, why not), through the one
    source reader of every command (_source.read_source: a regular file of
    at most `limit` bytes opened non-blocking, Python source, still the
    file the recording ran when it says what identified it)."""
    from ._source import read_source as read, source_lines

    data, why = read(path, not_after_ns, identity, limit=limit)
    if data is None:
        return None, why
    return [ln.rstrip("\r\n") for ln in source_lines(data)], None


def analyze(trace: Trace | str | os.PathLike[str]) -> dict[str, Any]:
    """The per-line report of a recording (see ``Trace.lines``), read
    through the Trace's open file (a path is opened as a Trace here)."""
    from ._trace import Trace

    if not isinstance(trace, Trace):
        with Trace(trace) as t:
            return analyze(t)
    reader = trace._reader
    raw = _tracetap.lines(reader)
    names = {t["id"]: t for t in reader.threads()}
    for t in raw["threads"]:
        info = names.get(t["thread"], {})
        t["ident"] = info.get("ident")
        t["name"] = info.get("name") or None
    funcs: dict[tuple[int, int], dict[str, Any]] = {}
    for code, line, thread, hits, time_ns, own_ns in raw["rows"]:
        f = funcs.get((code, thread))
        if f is None:
            try:
                file, qualname, first, flags, _parent, ranges = \
                    reader.code(code)
            except IndexError:      # an id no definition names (damage)
                file, qualname, first, flags, ranges = "?", None, 0, 0, []
            file = file or "?"
            last = max((r[2] for r in ranges if r[2] is not None),
                       default=first)
            f = funcs[(code, thread)] = {
                "file": file, "func": qualname or "?", "line": first,
                "last_line": max(last, first), "code": code,
                "is_function": bool(flags & CODE_FUNCTION),
                "thread": None if thread < 0 else thread, "calls": 0,
                "hits": 0, "time_ns": 0, "own_ns": 0, "entry_ns": 0,
                "entry_own_ns": 0, "lines": []}
        f["time_ns"] += time_ns
        f["own_ns"] += own_ns
        if line is None:
            f["calls"] = hits
            f["entry_ns"] = time_ns
            f["entry_own_ns"] = own_ns
        else:
            f["hits"] += hits
            f["lines"].append({"line": line, "hits": hits, "time_ns": time_ns,
                               "own_ns": own_ns})
    return {"summary": raw["summary"], "threads": raw["threads"],
            "functions": list(funcs.values())}


def _func_match(f: dict[str, Any], pat: str) -> bool:
    name = f["func"]
    return (fnmatch.fnmatchcase(name, pat) or
            fnmatch.fnmatchcase(name.rsplit(".", 1)[-1], pat))


def select(data: dict[str, Any], thread: int | None = None,
           file: str | None = None, function: str | None = None,
           sort: str = "time") -> list[dict[str, Any]]:
    """Functions of one thread (None: all threads together), filtered by
    file and function globs, sorted by SORT_KEYS[sort]."""
    rows = [f for f in data["functions"] if f["thread"] == thread]
    if file:
        rows = [f for f in rows if fnmatch.fnmatchcase(f["file"], file)]
    if function:
        rows = [f for f in rows if _func_match(f, function)]
    return sorted(rows, key=SORT_KEYS[sort])


def notes(data: dict[str, Any]) -> list[str]:
    """Sentences that qualify the numbers: `calls`' (what was cut, lost or
    closed without a return; the summaries share those keys), and the
    frames first seen at a line."""
    from ._calls import _notes

    out = _notes(data)
    if data["summary"]["adopted"]:
        out.append(f"{data['summary']['adopted']:,} frames were already "
                   "running when the recording started: timed from their "
                   "first recorded line")
    return out


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}" if whole else "-"


def _listing(f: dict[str, Any], src: list[str] | None, out: TextIO) -> None:
    """One function's table: every line from its first to its last, or
    only the lines that ran for a module or class body (it spans the
    functions defined in it), a span over 400 lines or a missing source."""
    by_line = {x["line"]: x for x in f["lines"]}
    span = range(f["line"], f["last_line"] + 1)
    whole = src is not None and f["is_function"] and len(span) <= 400
    shown = span if whole else sorted(by_line)
    total = f["time_ns"]
    out.write(f"{'Line #':>6} {'Hits':>10} {'Time':>9} {'Per Hit':>9} "
              f"{'% Time':>7} {'Own':>9}  Line Contents\n")
    out.write("=" * 78 + "\n")
    for n in shown:
        text = src[n - 1].expandtabs(8) if src and 0 < n <= len(src) else ""
        x = by_line.get(n)
        if x is None:
            out.write(f"{n:>6} {'':>10} {'':>9} {'':>9} {'':>7} {'':>9}  "
                      f"{text}\n".rstrip() + "\n")
            continue
        per = x["time_ns"] / x["hits"] if x["hits"] else None
        out.write(f"{n:>6} {x['hits']:>10,} {human_ns(x['time_ns']):>9} "
                  f"{human_ns(per):>9} {_pct(x['time_ns'], total):>7} "
                  f"{human_ns(x['own_ns']):>9}  {text}".rstrip() + "\n")


def format_text(data: dict[str, Any], out: TextIO, *, thread: int | None = None,
                sort: str = "time", limit: int = DEFAULT_LIMIT,
                file: str | None = None, function: str | None = None,
                source: Callable[[str], tuple[list[str] | None, str | None]]
                = read_source) -> list[str]:
    """Writes the listings; returns the notes about missing sources (one
    per file), which the caller shows once."""
    rows = select(data, thread, file, function, sort)
    shown = rows[:limit] if limit > 0 else rows
    for n in notes(data):
        out.write(f"note: {n}\n")
    if thread is None:
        where = "all threads" if len(data["threads"]) != 1 else "1 thread"
    else:
        t = next((t for t in data["threads"] if t["thread"] == thread), {})
        where = f"thread {thread}" + (f" ({printable(t['name'])})"
                                      if t.get("name") else "")
    sources: dict[str, list[str] | None] = {}
    missing: list[str] = []
    for f in shown:
        if f["file"] not in sources:
            src, why = source(f["file"])
            sources[f["file"]] = src
            if src is None:
                missing.append(f"source of {printable(f['file'])} not shown: "
                               f"{why}")
        calls = f"{f['calls']:,} calls" if f["calls"] != 1 else "1 call"
        # Recorded names through printable: a newline in one must not
        # start a line of its own (the stream keeps our newlines only).
        out.write(f"\nFile: {printable(_short(f['file']))}\nFunction: "
                  f"{printable(f['func'])} at line "
                  f"{f['line']} ({where})\nTotal time: "
                  f"{human_ns(f['time_ns'])} (own {human_ns(f['own_ns'])}; "
                  f"{calls}; {human_ns(f['entry_ns'])} before the first "
                  "line)\n\n")
        _listing(f, sources[f["file"]], out)
    if len(shown) < len(rows):
        out.write(f"\n{len(rows) - len(shown)} more functions not shown "
                  f"(--limit {limit}; --limit 0 shows all)\n")
    elif not rows:
        out.write("\nno function with recorded lines matches\n")
    return missing


def format_json(data: dict[str, Any], out: TextIO, functions: list[dict[
        str, Any]]) -> None:
    """summary, threads and the selected functions, each with its lines;
    times in ns."""
    json.dump({"summary": data["summary"], "threads": data["threads"],
               "functions": functions}, out, indent=1)
    out.write("\n")


# ------------------------------------------------------------------ CLI


def add_parser(sub: Any) -> None:
    """Registers `tracetap lines` on cli.py's subparsers."""
    p = sub.add_parser(
        "lines", help="per-line time of every function (line_profiler style)",
        description="Time per source line of every recorded function, from "
        "a full recording, without registering anything: hits, time with "
        "callees, time per hit, share of the function and own time, per "
        "thread or for all threads together, shown beside the source.",
        epilog=LINES_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="a .ttrace recording made without --count; "
                   "several, or a directory of them (a followed run's "
                   "processes), are summed per function and line")
    p.add_argument("--function", metavar="GLOB",
                   help="only functions whose name (qualified or not) "
                   "matches GLOB")
    p.add_argument("--file", metavar="GLOB", dest="file_glob",
                   help="only functions whose file matches GLOB")
    from ._filescope import add_arguments
    add_arguments(p)
    p.add_argument("--thread", type=int, metavar="N",
                   help="only thread N (as `tracetap calls` numbers them); "
                   "default: all threads together")
    p.add_argument("--limit", type=int, metavar="N",
                   help=f"functions to show, 0 for all (text default "
                   f"{DEFAULT_LIMIT}, json default all)")
    p.add_argument("--sort", choices=tuple(SORT_KEYS), default="time",
                   help="order of the functions: most time first (default), "
                   "most line hits first, or by file and line")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="text listings with the source (default) or JSON "
                   "(one object per function with its lines, times in ns)")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="write to OUT instead of stdout")
    p.set_defaults(_lines_parser=p)


def cmd_lines(ns: argparse.Namespace) -> int:
    """Runs `tracetap lines` from its parsed arguments."""
    from ._progress import shown
    from ._show import warn_status
    from ._trace import Trace, TraceError

    p = ns._lines_parser
    if ns.limit is not None and ns.limit < 0:
        p.error("--limit must be 0 or more")
    from ._inputs import InputError, expand
    from ._merge import merge_lines

    datas, starts, identities = [], [], {}
    try:
        for path in expand(ns.files):
            with Trace(path) as trace, shown(sys.stderr):
                datas.append(analyze(trace))
                warn_status(trace)
                starts.append(trace._reader.header()["start_unix_ns"])
                for k, v in trace._reader.sources().items():
                    identities.setdefault(k, v)
    except (OSError, TraceError, InputError) as exc:
        print(f"tracetap: error: {exc}", file=sys.stderr)
        return 1
    data = datas[0] if len(datas) == 1 else merge_lines(datas)
    from ._filescope import from_args, restrict_lines
    scope = from_args(ns)
    if scope is not None:
        data = restrict_lines(data, scope)
    start = min(starts)
    if not data["summary"]["has_lines"]:
        print(f"tracetap: error: {' '.join(ns.files)} has no line events (it was made "
              "with --count, --no-lines or --objects --no-calls): nothing to "
              "time per line; record with `tracetap run` and its defaults",
              file=sys.stderr)
        return 1
    if ns.thread is not None and not any(
            t["thread"] == ns.thread for t in data["threads"]):
        p.error(f"no thread {ns.thread} in the recording "
                f"({len(data['threads'])} threads: 0..{len(data['threads']) - 1})")
    out = open_output(ns.output) if ns.output else sys.stdout
    try:
        if ns.format == "json":
            for n in notes(data):
                print(f"tracetap: note: {n}", file=sys.stderr)
            rows = select(data, ns.thread, ns.file_glob, ns.function, ns.sort)
            format_json(data, out, rows[:ns.limit] if ns.limit else rows)
        else:
            missing = format_text(
                data, out, thread=ns.thread, sort=ns.sort,
                limit=DEFAULT_LIMIT if ns.limit is None else ns.limit,
                file=ns.file_glob, function=ns.function,
                source=lambda p: read_source(p, not_after_ns=start,
                                             identity=identities.get(p)))
            for m in missing:
                print(f"tracetap: note: {m}", file=sys.stderr)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0
