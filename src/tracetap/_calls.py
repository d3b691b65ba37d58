"""Where the time goes: ``Trace.calls()`` and ``tracetap calls``.

The analysis (shadow stacks, the call tree, cProfile's primitive calls and
cumtime, generator resumptions, frames closed at drops or at the end) is
libtt's (``tt_analyze_calls.c``, rules in docs/calls.md); this module names the
rows and writes them as a table, JSON, a ``pstats`` file (marshal, the
format ``pstats.Stats`` loads) or collapsed stacks for flame graphs.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import marshal
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, TextIO

from . import _tracetap
from ._text import open_output, printable

if TYPE_CHECKING:
    from ._trace import Trace

__all__ = ["analyze", "format_text", "format_json", "write_pstats",
           "format_collapsed", "add_parser", "cmd_calls", "human_ns"]

SORT_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "tottime": lambda f: (-f["tottime_ns"], f["func"]),
    "cumtime": lambda f: (-f["cumtime_ns"], f["func"]),
    "calls": lambda f: (-(f["calls"] + f["resumes"]), f["func"]),
    "name": lambda f: (f["func"], f["file"], f["line"]),
}

CALLS_EPILOG = """\
Reading the table (like pstats):
  ncalls   calls, as "total/primitive" when they differ: a call is
           primitive when the function was not already running in that
           thread (recursion), as in cProfile
  resumes  generator and coroutine resumptions (next, send, an await
           waking up): they are not calls, but their time is the
           generator's (time it spends suspended is nobody's)
  tottime  time in the function itself, without the functions it called
  cumtime  time from call to return, counted once per outermost call
  percall  tottime/ncalls and cumtime/primitive calls; max is the longest
           single call or resumption
Only traced code is timed: time in untraced code (the standard library by
default) is the tottime of the traced function that called it. Frames still
open when the recording ended (a kill, a thread that never returned) are
closed at their thread's last event, and the report says so.

Formats:
  text       the table (default)
  json       functions, callers/callees, the call tree and per-thread totals
  pstats     the file pstats.Stats loads (-o required; none, exit 1, when
             nothing was timed): snakeviz, gprof2dot;
             counted cProfile's way, each resumption a call (ncalls =
             calls + resumes), so it equals cProfile's for the same run
  collapsed  "a;b;c 1234" stacks weighted by tottime in us (--weight
             calls: by calls) for flamegraph.pl and speedscope

examples:
  tracetap run app.py && tracetap calls app.ttrace
  tracetap calls app.ttrace --sort cumtime --limit 15
  tracetap calls app.ttrace --func 'parse*' --callers 'parse_row'
  tracetap calls app.ttrace --thread 1 --file '*/myapp/*'
  tracetap calls app.ttrace --format pstats -o app.prof && python -m pstats app.prof
  tracetap calls app.ttrace --format collapsed | flamegraph.pl > app.svg
  tracetap calls app.ttrace --format json | jq '.functions[:5]'
"""


def human_ns(v: float | None) -> str:
    """A duration in ns as a person reads it: 850ns, 12.3us, 4.56ms, 1.2s."""
    if v is None:
        return "-"
    if v < 1_000:
        return f"{v:.0f}ns"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if v >= scale:
            x = v / scale
            return f"{x:.3g}{unit}" if x < 100 else f"{x:.0f}{unit}"
    return f"{v:.0f}ns"  # pragma: no cover - unreachable


def analyze(trace: Trace | str | os.PathLike[str]) -> dict[str, Any]:
    """The call report of a recording (see ``Trace.calls``), read through
    the Trace's open file (a path is opened as a Trace here)."""
    from ._trace import Trace

    if not isinstance(trace, Trace):
        with Trace(trace) as t:
            return analyze(t)
    raw = _tracetap.calls(trace._reader)
    codes = raw["codes"]

    def where(code: int) -> dict[str, Any]:
        file, func, line, cfunc = codes.get(code, ("?", None, 0, False))
        return {"file": file, "line": line, "func": func or "?",
                "c_function": cfunc}

    functions = []
    for (code, thread, calls, pcalls, resumes, presumes, tt, ct, mn,
         mx) in raw["functions"]:
        functions.append({
            **where(code), "code": code,
            "thread": None if thread < 0 else thread,
            "calls": calls, "primitive_calls": pcalls, "resumes": resumes,
            "primitive_resumes": presumes, "tottime_ns": tt,
            "cumtime_ns": ct, "min_ns": mn if calls + resumes else None,
            "max_ns": mx if calls + resumes else None})
    edges = []
    for (caller, callee, thread, calls, pcalls, resumes, presumes, tt,
         ct) in raw["edges"]:
        edges.append({
            "caller": None if caller < 0 else where(caller) | {"code": caller},
            "callee": where(callee) | {"code": callee},
            "thread": None if thread < 0 else thread,
            "calls": calls, "primitive_calls": pcalls, "resumes": resumes,
            "primitive_resumes": presumes, "tottime_ns": tt,
            "cumtime_ns": ct})
    tree = []
    for i, (parent, code, thread, calls, resumes, tt, ct, flags,
            objects) in enumerate(raw["nodes"]):
        tree.append({"id": i, "parent": None if parent < 0 else parent,
                     **where(code), "code": code, "thread": thread,
                     "calls": calls, "resumes": resumes, "tottime_ns": tt,
                     "cumtime_ns": ct, "objects": objects,
                     "primitive": bool(flags & 1),
                     "closed_without_return": bool(flags & 4)})
    return {"summary": raw["summary"], "threads": raw["threads"],
            "functions": functions, "edges": edges, "tree": tree}


def select(data: dict[str, Any], thread: int | None = None,
           file: str | None = None, func: str | None = None,
           sort: str = "tottime") -> list[dict[str, Any]]:
    """Function rows of one thread (None: all threads together), filtered
    by file and function globs, sorted."""
    rows = [f for f in data["functions"] if f["thread"] == thread]
    if file:
        rows = [f for f in rows if fnmatch.fnmatchcase(f["file"], file)]
    if func:
        rows = [f for f in rows if _func_match(f, func)]
    return sorted(rows, key=SORT_KEYS[sort])


def _func_match(f: dict[str, Any], pat: str) -> bool:
    name = f["func"]
    return (fnmatch.fnmatchcase(name, pat) or
            fnmatch.fnmatchcase(name.rsplit(".", 1)[-1], pat))


def _label(f: dict[str, Any]) -> str:
    if f.get("c_function"):
        return f"{printable(f['func'])} (built-in)"
    return f"{printable(f['func'])} ({printable(_short(f['file']))}:{f['line']})"


def _short(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith("..") else path


def _ncalls(calls: int, prim: int) -> str:
    return f"{calls}/{prim}" if calls != prim else str(calls)


def _notes(data: dict[str, Any]) -> list[str]:
    s = data["summary"]
    notes = []
    if not s["has_calls"]:
        notes.append("this recording has no call events (made with --count "
                     "or --no-calls): nothing to time")
    if s["truncated"]:
        why = s["damage"] or "it has no end-of-recording chunk"
        notes.append(f"the recording was cut off ({why}); frames still open "
                     "were closed at their thread's last event")
    if s["open_at_end"]:
        notes.append(f"{s['open_at_end']:,} frames had not returned when the "
                     "recording ended: timed up to their thread's last event")
    if s["dropped"]:
        notes.append(f"{s['dropped']:,} events were lost while recording; "
                     f"{s['closed_at_drop']:,} open frames were closed where "
                     "the loss happened, so their times are lower bounds")
    if s["mismatched"]:
        notes.append(f"{s['mismatched']:,} frames never got their return "
                     "event and were closed when a frame below them returned")
    if s["unmatched_returns"]:
        notes.append(f"{s['unmatched_returns']:,} returns of frames entered "
                     "before the recording started (or lost) were ignored")
    if s["bad_chunks"]:
        notes.append(f"{s['bad_chunks']} damaged event chunks were skipped")
    return notes


def format_text(data: dict[str, Any], out: TextIO, *, thread: int | None = None,
                sort: str = "tottime", limit: int = 30, file: str | None = None,
                func: str | None = None) -> None:
    """Writes the pstats-like table (and the notes that qualify it)."""
    rows = select(data, thread, file, func, sort)
    if thread is None:
        traced = data["summary"]["traced_ns"]
        where = f"{len(data['threads'])} threads" if len(
            data["threads"]) != 1 else "1 thread"
    else:
        t = next((t for t in data["threads"] if t["thread"] == thread), None)
        traced = t["traced_ns"] if t else 0
        where = f"thread {thread}" + (f" ({printable(t['name'])})" if t and t["name"]
                                      else "")
    allrows = [f for f in data["functions"] if f["thread"] == thread]
    calls = sum(f["calls"] for f in allrows)
    prim = sum(f["primitive_calls"] for f in allrows)
    resumes = sum(f["resumes"] for f in allrows)
    out.write(f"{calls:,} calls ({prim:,} primitive)")
    if resumes:
        out.write(f", {resumes:,} resumptions")
    out.write(f" in {where}; {human_ns(traced)} in traced code\n")
    for n in _notes(data):
        out.write(f"note: {n}\n")
    shown = rows[:limit] if limit > 0 else rows
    out.write(f"\nOrdered by {sort}" +
              (f"; {len(shown)} of {len(rows)} functions" if len(shown) <
               len(rows) else "") + "\n\n")
    gen = any(f["resumes"] for f in rows)
    head = f"{'ncalls':>10} " + (f"{'resumes':>8} " if gen else "")
    out.write(head + f"{'tottime':>8} {'percall':>8} {'cumtime':>8} "
              f"{'percall':>8} {'max':>8}  function (file:line)\n")
    for f in shown:
        nc = f["calls"] + f["resumes"]
        pc = f["primitive_calls"] + f["primitive_resumes"]
        line = f"{_ncalls(f['calls'], f['primitive_calls']):>10} "
        if gen:
            line += f"{f['resumes']:>8} "
        line += (f"{human_ns(f['tottime_ns']):>8} "
                 f"{human_ns(f['tottime_ns'] / nc if nc else None):>8} "
                 f"{human_ns(f['cumtime_ns']):>8} "
                 f"{human_ns(f['cumtime_ns'] / pc if pc else None):>8} "
                 f"{human_ns(f['max_ns']):>8}  {_label(f)}\n")
        out.write(line)


def format_relatives(data: dict[str, Any], out: TextIO, name: str,
                     callers: bool, *, thread: int | None = None,
                     sort: str = "tottime") -> int:
    """Writes who called (callers=True) or was called by the functions
    matching `name`. Returns how many functions matched."""
    targets = select(data, thread, None, name, sort)
    side, other = ("callee", "caller") if callers else ("caller", "callee")
    for f in targets:
        out.write(f"\n{_label(f)}: {f['calls'] + f['resumes']:,} activations, "
                  f"tottime {human_ns(f['tottime_ns'])}, cumtime "
                  f"{human_ns(f['cumtime_ns'])}\n")
        rel = [e for e in data["edges"] if e["thread"] == thread and
               e[side] is not None and e[side]["code"] == f["code"]]
        rel.sort(key=lambda e: (-e["cumtime_ns"], -e["calls"]))
        out.write(f"  {'was called by' if callers else 'called'}:\n" if rel
                  else f"  {'no traced callers (called from untraced code)' if callers else 'called no traced function'}\n")
        for e in rel:
            o = e[other]
            who = _label(o) if o is not None else "<untraced code>"
            res = f" +{e['resumes']} resumes" if e["resumes"] else ""
            out.write(f"    {_ncalls(e['calls'], e['primitive_calls']):>10}"
                      f"{res}  tottime {human_ns(e['tottime_ns']):>8}  "
                      f"cumtime {human_ns(e['cumtime_ns']):>8}  {who}\n")
    return len(targets)


def format_json(data: dict[str, Any], out: TextIO) -> None:
    json.dump(data, out, indent=1)
    out.write("\n")


def _pkey(f: dict[str, Any]) -> tuple[str, int, str]:
    """cProfile's key: (co_filename, co_firstlineno, co_name)."""
    name = f["func"]
    if f.get("c_function"):                 # as cProfile keys C functions
        return ("~", 0, f"<built-in method {name}>")
    # co_name is the last part of the qualname, but a qualname such as
    # "f.<locals>.<lambda>" or "C.m" keeps the dots of its owners.
    return (f["file"], f["line"], name.rsplit(".", 1)[-1])


def pstats_dict(data: dict[str, Any], thread: int | None = None
                ) -> dict[tuple[str, int, str], tuple[Any, ...]]:
    """The dict pstats.Stats loads: {(file, line, name): (cc, nc, tt, ct,
    {caller: (nc, cc, tt, ct)})}, times in seconds. cc is primitive calls,
    nc calls, counted cProfile's way: a generator's or coroutine's every
    resumption is a call (calls + resumes), so the file equals what
    cProfile writes for the same run (the text and JSON keep the two
    apart, docs/calls.md). The callers' tuples are in the order pstats
    reads them (nc first, as cProfile writes them)."""
    stats: dict[tuple[str, int, str], list[Any]] = {}
    for f in data["functions"]:
        if f["thread"] != thread:
            continue
        k = _pkey(f)
        row = stats.setdefault(k, [0, 0, 0.0, 0.0, {}])
        row[0] += f["primitive_calls"] + f["primitive_resumes"]
        row[1] += f["calls"] + f["resumes"]
        row[2] += f["tottime_ns"] / 1e9
        row[3] += f["cumtime_ns"] / 1e9
    for e in data["edges"]:
        if e["thread"] != thread or e["caller"] is None:
            continue
        callers = stats[_pkey(e["callee"])][4]
        ck = _pkey(e["caller"])
        prev = callers.get(ck, (0, 0, 0.0, 0.0))
        callers[ck] = (prev[0] + e["calls"] + e["resumes"],
                       prev[1] + e["primitive_calls"] + e["primitive_resumes"],
                       prev[2] + e["tottime_ns"] / 1e9,
                       prev[3] + e["cumtime_ns"] / 1e9)
    return {k: (v[0], v[1], v[2], v[3], v[4]) for k, v in stats.items()}


def write_pstats(data: dict[str, Any], path: str,
                 thread: int | None = None) -> None:
    with open(path, "wb") as fp:
        marshal.dump(pstats_dict(data, thread), fp)


def collapsed(data: dict[str, Any], thread: int | None = None,
              weight: str = "time") -> dict[str, int]:
    """Stacks "root;...;leaf" -> weight: exclusive time in us (rounded
    so that the weights sum to the rounded total) or activations."""
    tree = data["tree"]
    names: list[str] = []
    for n in tree:
        label = printable(
            f"{n['func']} (built-in)" if n.get("c_function") else
            f"{n['func']} ({os.path.basename(n['file'])}:{n['line']})")
        label = label.replace(";", ":")
        names.append(label if n["parent"] is None
                     else names[n["parent"]] + ";" + label)
    out: dict[str, int] = {}
    acc = 0
    done = 0
    for n, stack in zip(tree, names):
        if thread is not None and n["thread"] != thread:
            continue
        if weight == "calls":
            w = n["calls"] + n["resumes"]
        else:
            acc += n["tottime_ns"]
            w = round(acc / 1000) - done
            done += w
        if w > 0:
            out[stack] = out.get(stack, 0) + w
    return out


def format_collapsed(data: dict[str, Any], out: TextIO,
                     thread: int | None = None, weight: str = "time") -> None:
    for stack, w in collapsed(data, thread, weight).items():
        out.write(f"{stack} {w}\n")


# ------------------------------------------------------------------ CLI


def add_parser(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Registers `tracetap calls` on cli.py's subparsers."""
    p = sub.add_parser(
        "calls", help="where the time goes: per-function call times",
        description="Per-function calls and times of a recording, like "
        "cProfile/pstats but for every thread and from a recording: "
        "exclusive (tottime) and inclusive (cumtime) time, callers and "
        "callees, and the call tree for flame graphs.",
        epilog=CALLS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="a .ttrace recording; several, or a directory of "
                   "them (a followed run's processes), are summed per "
                   "function, their threads numbered on")
    p.add_argument("--format", choices=("text", "json", "pstats", "collapsed"),
                   default="text", help="report format (default: text)")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="write to OUT instead of stdout (required for pstats)")
    p.add_argument("--sort", choices=tuple(SORT_KEYS), default="tottime",
                   help="text: order of the table (default: tottime)")
    p.add_argument("--limit", type=int, default=30, metavar="N",
                   help="text: rows to show, 0 for all (default 30)")
    p.add_argument("--thread", type=int, metavar="N",
                   help="only thread N (0 is the first thread to run); "
                   "default: all threads together")
    p.add_argument("--context", metavar="NAME",
                   help="only what ran in the context NAME (a test's node id "
                   "from `pytest --tracetap=full`: its setup, call and "
                   "teardown; or one phase, NODEID|run)")
    p.add_argument("--file", metavar="GLOB", dest="file_glob",
                   help="text: only functions whose file matches GLOB")
    from ._filescope import add_arguments
    add_arguments(p)
    p.add_argument("--func", metavar="GLOB",
                   help="text: only functions whose name matches GLOB")
    p.add_argument("--callers", metavar="NAME",
                   help="text: who called the functions matching NAME (a glob)")
    p.add_argument("--callees", metavar="NAME",
                   help="text: what the functions matching NAME called")
    p.add_argument("--weight", choices=("time", "calls"), default="time",
                   help="collapsed: weigh stacks by exclusive time in us "
                   "(default) or by calls")
    p.set_defaults(_calls_parser=p)


def cmd_calls(ns: argparse.Namespace) -> int:
    """Runs `tracetap calls` from its parsed arguments."""
    from ._progress import shown
    from ._show import warn_status
    from ._trace import Trace, TraceError

    p = ns._calls_parser
    if ns.format == "pstats" and not ns.output:
        p.error("--format pstats needs -o FILE (a binary file)")
    if ns.limit < 0:
        p.error("--limit must be 0 or more")
    from ._inputs import InputError, expand
    from ._merge import merge_calls

    datas = []
    try:
        for path in expand(ns.files):
            with Trace(path) as trace, shown(sys.stderr):
                if ns.context is not None:
                    from ._contexts import select
                    if not select(trace, ns.context):
                        p.error(f"no context {ns.context!r} in {path} "
                                "(tracetap.load(FILE).contexts() lists them)")
                datas.append(analyze(trace))
                # In progress, incomplete or damaged: said as every analysis says it.
                warn_status(trace)
    except (OSError, TraceError, InputError) as exc:
        print(f"tracetap: error: {exc}", file=sys.stderr)
        return 1
    data = datas[0] if len(datas) == 1 else merge_calls(datas)
    from ._filescope import from_args, restrict_calls
    scope = from_args(ns)
    if scope is not None:
        data = restrict_calls(data, scope)
    if ns.thread is not None and not any(
            t["thread"] == ns.thread for t in data["threads"]):
        p.error(f"no thread {ns.thread} in the recording "
                f"({len(data['threads'])} threads: 0..{len(data['threads']) - 1})")
    for n in _notes(data) if ns.format != "text" else ():
        print(f"tracetap: note: {n}", file=sys.stderr)
    if ns.format == "pstats":
        if not pstats_dict(data, ns.thread):
            # pstats.Stats refuses an empty profile: no file that fails later.
            print("tracetap: error: no function was timed, so no pstats file "
                  "was written (the recording needs call events: not --count, "
                  "--coverage or --no-calls)", file=sys.stderr)
            return 1
        write_pstats(data, ns.output, ns.thread)
        return 0
    out = open_output(ns.output) if ns.output else sys.stdout
    try:
        if ns.format == "json":
            format_json(data, out)
        elif ns.format == "collapsed":
            format_collapsed(data, out, ns.thread, ns.weight)
        elif ns.callers or ns.callees:
            found = 0
            if ns.callers:
                found += format_relatives(data, out, ns.callers, True,
                                          thread=ns.thread, sort=ns.sort)
            if ns.callees:
                found += format_relatives(data, out, ns.callees, False,
                                          thread=ns.thread, sort=ns.sort)
            if not found:
                print("tracetap: no traced function matches "
                      f"{ns.callers or ns.callees!r}", file=sys.stderr)
                return 1
        else:
            format_text(data, out, thread=ns.thread, sort=ns.sort,
                        limit=ns.limit, file=ns.file_glob, func=ns.func)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0
