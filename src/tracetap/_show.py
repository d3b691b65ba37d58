"""Presentation for the command line: the run summary, ``events`` and
``info``. Owns wording and layout only; the data comes from ``_trace``.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from typing import Any

from . import _tracetap
from ._source import SourceCache
from ._text import printable
from ._trace import Trace, TraceError

# The kinds in the summary, in the format's order (tt.h TT_EV_*); DROPPED
# is reported as loss, not as a kind.
KIND_ORDER = tuple(k for k in _tracetap.kind_names() if k and k != "dropped")


def _n(x: int) -> str:
    return f"{x:,}"


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} bytes"


def _kinds(counts: dict[str, int]) -> str:
    parts = [f"{k} {_n(counts[k])}" for k in KIND_ORDER if counts.get(k)]
    return ", ".join(parts) if parts else "none"


def _err(msg: str) -> None:
    """A message on stderr; what it quotes from a recording is escaped."""
    sys.stderr.write(f"tracetap: {printable(msg, keep_newlines=True)}\n")


def print_summary(summary: dict[str, Any], path: str) -> None:
    """The short report `run` prints to stderr at the end."""
    if not summary:
        _err(f"no recording was made ({path})")
        return
    events = summary.get("events", {})
    total = sum(events.values())
    size = summary.get("bytes")
    if size is None:
        try:
            size = os.path.getsize(path)
        except OSError:
            size = 0
    secs = summary.get("duration_ns", 0) / 1e9
    threads = summary.get("threads", 0)
    counted = summary.get("counted")
    # An output removed during the run has no size to give, nor a path
    # that leads to it.
    gone = not os.path.lexists(path)
    dest = f"{path} (deleted during the run)" if gone else f"{path} ({_size(size)})"
    if counted is not None:
        # --count writes no event log: say what it did count instead.
        what = ("covered lines (hits only, no counts)"
                if summary.get("hits_only") else "counted lines")
        _err(
            f"{what} over {secs:.3f} s -> {dest}: "
            f"{_n(counted['covered'])} of {_n(counted['executable'])} executable "
            f"lines ran in {_n(counted['files'])} file{'s' if counted['files'] != 1 else ''}"
        )
    else:
        _err(
            f"recorded {_n(total)} events in {threads} "
            f"thread{'s' if threads != 1 else ''} over {secs:.3f} s "
            f"-> {dest}"
        )
        _err(f"  {_kinds(events)}; dropped {_n(summary.get('dropped', 0))}")
    if gone:
        _err(f"warning: {path} was deleted during the run: the recording "
             "is lost")
    for w in summary.get("warnings", []):
        _err(f"warning: {w}")
    if summary.get("error"):
        _err(f"error: {summary['error']}")


def _open(path: str) -> Trace | None:
    try:
        return Trace(path)
    except OSError as exc:
        _err(f"error: cannot read {path}: {exc.strerror or exc}")
    except TraceError as exc:
        _err(f"error: {path}: {exc}")
    return None


def _hz(hz: float) -> str:
    return f"{hz / 1e9:.6g} GHz" if hz >= 1e9 else f"{hz:,.0f} Hz"


def _clock_line(h: dict, clock: dict) -> str:
    """The clock and how its ticks became times: by the sync points the
    capture wrote (FORMAT.md §15), or by the calibrated rate alone."""
    line = f"{printable(h['clock_name'])}, {_hz(h['clock_hz'])}"
    n = clock["sync_points"]
    if n >= 2:
        err = clock["max_sync_err_ns"]
        line += (f"; times from {n} sync points with CLOCK_MONOTONIC"
                 f" (measured {_hz(clock['measured_hz'])}, each within"
                 f" {err / 1000:.3g} µs)")
    elif h["clock_hz"] != 1_000_000_000:
        line += "; times from the calibrated rate (no sync points)"
    if clock["bad_sync_records"]:
        line += f"; {clock['bad_sync_records']} bad sync records ignored"
    return line


def loss_sentence(status: dict[str, Any]) -> str | None:
    """Events lost while recording (a full disk, no memory), or None."""
    dropped, reason = status.get("dropped"), status.get("lost_reason")
    if not dropped and not reason:
        return None
    what = f"{_n(dropped)} events were" if dropped else "events were"
    why = f" ({reason})" if reason else ""
    return f"{what} lost while recording{why}; what is shown misses them"


IN_PROGRESS = "still being recorded; showing what has been flushed so far"


def interrupted_sentence(signal_text: str) -> str:
    """What an interrupted recording (status "interrupted") is: whole up to
    the signal, without what only the end of a recording writes."""
    return (f"the program was ended by {signal_text}; tracetap's signal "
            "handler wrote every event recorded up to then, but the file "
            "has no end marker, so what only the end of a recording adds "
            "(the final object survivors, stop-time notes) is missing")


def status_warnings(path: str, status: dict[str, Any], size: int) -> list[str]:
    """What every output says about a recording that is not complete, one
    sentence each (for `tracetap: warning: ...`); empty when complete."""
    out = []
    if status["being_written"]:
        out.append(f"{path}: {IN_PROGRESS}")
    elif status.get("state") == "interrupted":
        out.append(f"{path}: {interrupted_sentence(status['ended_by'])}")
    else:
        sentence = _damage_sentence(status["damage"], size)
        if sentence:
            out.append(f"{path}: {sentence}")
    lost = loss_sentence(status)
    if lost:
        out.append(f"{path}: {lost}")
    return out


def warn_status(trace: Trace, *, counts: bool = True) -> dict[str, Any]:
    """Writes status_warnings of trace to stderr; returns its status."""
    status = trace.status(counts=counts)
    for w in status_warnings(trace.path, status, trace._reader.size):
        _err(f"warning: {w}")
    return status


def _damage_sentence(damage: dict[str, Any], size: int) -> str | None:
    """One sentence a person can act on, or None for a complete file."""
    if damage["status"] == 0 and damage["clean_end"]:
        return None
    reason = (damage.get("reason") or damage.get("status_text") or "").rstrip(".")
    if damage["status"] == 0:
        return (
            (reason + "; " if reason else "")
            + "the recording has no end marker, so the process that wrote "
            "it probably died before finishing; what it wrote is usable"
        )
    lost = damage.get("bytes_lost", 0)
    return (
        f"{reason}; the last {_n(lost)} of {_n(size)} bytes (from byte "
        f"{_n(damage['offset'])} on) are unreadable and the events in "
        f"them are missing; everything before is usable"
    )


def _rel(path: str | None) -> str:
    if not path:
        return "?"
    if path.startswith("<"):
        return path
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith(os.pardir + os.sep) else rel


# Beyond this call depth the indentation stops growing and the depth is
# written as a number: a 60,000-deep recursion would otherwise print
# gigabytes of spaces (output quadratic in the depth).
MAX_INDENT_DEPTH = 32

# Header option bits (tt.h TT_OPT_*): what a recording holds.
_OPT_CALLS, _OPT_OBJECTS, _OPT_COUNT = 0x01, 0x08, 0x10


def thread_ordinal(threads: list[dict[str, Any]], spec: str) -> int | str:
    """--thread's value: an ordinal ("1") or a thread's name ("parser").
    Returns the ordinal, or a message saying why spec names none."""
    if spec.isdigit():
        n = int(spec)
        if n < len(threads):
            return n
        return (f"no thread {n} (it has {len(threads)}: 0.."
                f"{len(threads) - 1})")
    named = [t["ordinal"] for t in threads if t["name"] == spec]
    if len(named) == 1:
        return named[0]
    names = ", ".join(sorted({printable(t["name"]) for t in threads
                              if t["name"]})) or "none"
    if named:
        return (f"{len(named)} threads are named {printable(spec)!r} "
                f"(ordinals {', '.join(map(str, named))}): give the number")
    return f"no thread named {printable(spec)!r} (names: {names})"


def _event_text(ev: Any, src: SourceCache) -> str:
    """One event of the text listing, without thread, time and indent;
    every recorded name escaped (a name cannot forge a line)."""
    p = printable
    if ev.line:
        where = f"{p(_rel(ev.file))}:{ev.line}"
    else:  # a module's call is delivered before its first line (line 0)
        where = p(_rel(ev.file)) if ev.file else "?"
    if ev.kind == "call":
        verb = "resume   " if ev.resume else "call     "
        return f"{verb} {p(ev.func)}  ({where})"
    if ev.kind == "return":
        verb = "yield    " if ev.yields else "return   "
        return f"{verb} {p(ev.func)}  ({where})"
    if ev.kind == "exception":
        return f"exception {p(ev.exception)}  in {p(ev.func)}  ({where})"
    if ev.kind.startswith("c_"):          # --c-calls
        return f"{ev.kind:<9} {p(ev.func)}  (line {ev.line})"
    if ev.kind == "opcode":
        return f"opcode    {p(ev.opcode):<20} {where} @{ev.offset}"
    if ev.kind == "dropped":
        return f"--- {_n(ev.count or 0)} events lost here ---"
    if ev.kind == "obj_create":
        site = where if ev.file else "(no Python frame)"
        return f"create    {p(ev.type):<20} {site}  {ev.addr:#x}"
    if ev.kind == "obj_destroy":
        return f"destroy   {'':<20} {ev.addr:#x}"
    text = ""
    if ev.file and ev.line:
        text = p((src.line(ev.file, ev.line) or "").expandtabs(8))
    return f"{where:<28} {text}"


EVENTS_HEADER = "thr     seconds  event (indented by call depth)\n"
# The header of a listing with calls says what resume and yield mean in it.
EVENTS_HEADER_MARKED = (
    "thr     seconds  event (indented by call depth; resume/yield: a "
    "generator or coroutine resumed/suspended, sys.settrace's call/return)\n")
EVENTS_HEADER_UNMARKED = (
    "thr     seconds  event (indented by call depth; an older recording: "
    "resume is guessed from the line, yields show as return)\n")


def cmd_events(
    path: str, *, as_json: bool, thread: str | None, limit: int | None
) -> int:
    trace = _open(path)
    if trace is None:
        return 1
    with trace:
        header = trace._reader.header()
        if header["options"] & _OPT_COUNT:
            _err(f"error: {printable(path)} holds line counts only (recorded "
                 "with --count): it has no events to list; read it with "
                 "`tracetap coverage`")
            return 1
        if not header["options"] & (_OPT_CALLS | _OPT_OBJECTS):
            _err(f"warning: {printable(path)} was recorded with no call or "
                 "object events")
        ordinal = None
        if thread is not None:
            found = thread_ordinal(trace.threads(counts=False), thread)
            if isinstance(found, str):
                _err(f"error: {printable(path)} has {found}")
                return 1
            ordinal = found
        out = sys.stdout
        src = SourceCache(header["start_unix_ns"], trace._reader.sources())
        depth: dict[int, int] = {}
        n = 0
        stopped = False
        if not as_json:
            out.write(EVENTS_HEADER if not header["options"] & _OPT_CALLS
                      else EVENTS_HEADER_MARKED if trace.marked
                      else EVENTS_HEADER_UNMARKED)
        try:
            for ev in trace.events(ordinal):
                if limit is not None and n >= limit:
                    stopped = True
                    break
                n += 1
                if as_json:
                    out.write(json.dumps(ev.to_json()))
                    out.write("\n")
                    continue
                # A call sits at its caller's depth; the callee's events and
                # its return one step in.
                d = depth.get(ev.thread, 0)
                if ev.kind in ("call", "c_call"):
                    depth[ev.thread] = d + 1
                elif ev.kind in ("return", "c_return", "c_exception"):
                    depth[ev.thread] = max(d - 1, 0)
                if d <= MAX_INDENT_DEPTH:
                    indent = "  " * d
                else:
                    indent = "  " * MAX_INDENT_DEPTH + f"[{d}] "
                out.write(f"{ev.thread:>3} {ev.t_ns / 1e9:>11.6f} {indent}"
                          f"{_event_text(ev, src)}\n")
        except BrokenPipeError:
            raise                       # `| head`: the CLI's to handle
        except (OSError, TraceError) as exc:
            # The file was replaced by a new recording, or could not be
            # read any more, while it was listed (the message names it).
            out.flush()
            _err(f"error: {exc}")
            return 1
        out.flush()
        for file, why in src.problems.items():
            _err(f"warning: source of {printable(_rel(file))} not shown: {why}")
        if header["options"] & _OPT_OBJECTS and not header["options"] & _OPT_CALLS:
            _err("note: recorded with --objects --no-calls: objects born and "
                 "freed within 1024 object events of each other are counted, "
                 "not listed; `tracetap objects` counts every object")
        # --limit: no whole-file count for a listing that stopped early.
        warn_status(trace, counts=not stopped)
    return 0


def hits_only(info: dict[str, Any]) -> bool:
    """True for a --coverage recording made on the monitoring backend: its
    counts are 1 for every line that ran (a "counts: hits only" note)."""
    return dict(info.get("notes") or ()).get("counts") == "hits only"


def _counted_line(trace: Any, info: dict[str, Any]) -> str | None:
    """For a --count recording, its totals ("6 of 8 executable lines ran
    in 1 file; 13 line executions, 4 calls"); None for any other."""
    if "count" not in info["header"]["options_set"]:
        return None
    cov = trace.coverage()
    t = cov["totals"]
    files = "file" if t["files"] == 1 else "files"
    if hits_only(info):
        return (f"{_n(t['covered'])} of {_n(t['executable'])} executable lines "
                f"ran in {t['files']} {files}; hits only: no line or call counts "
                f"(--coverage)")
    hits = calls = 0
    for f in cov["files"].values():
        hits += sum(f["counts"].values())
        calls += sum(fn["calls"] for fn in f["functions"])
    return (f"{_n(t['covered'])} of {_n(t['executable'])} executable lines "
            f"ran in {t['files']} {files}; {_n(hits)} line executions, "
            f"{_n(calls)} calls")


def cmd_info(path: str) -> int:
    trace = _open(path)
    if trace is None:
        return 1
    with trace:
        info = trace.info()
        counted = _counted_line(trace, info)
    h = info["header"]
    w = sys.stdout.write
    start = datetime.datetime.fromtimestamp(h["start_unix_ns"] / 1e9)
    p = printable                 # every recorded string, escaped
    w(f"file:       {p(info['path'])} ({_size(info['file_size'])})\n")
    w(f"python:     {p(h['python_impl'])} {p(h['python_version'])}\n")
    build = p((h.get("python_build") or "").replace("\n", " "))
    if build:
        w(f"build:      {build}\n")
    w(f"command:    {' '.join(p(a) for a in h['argv'])}\n")
    w(f"started:    {start:%Y-%m-%d %H:%M:%S.%f}"[:-3] + " (local time)\n")
    w(f"clock:      {_clock_line(h, info['clock'])}\n")
    recorded = ", ".join(h["options_set"]) or "nothing"
    w(f"options:    {p(h['options_text'] or '(defaults)')}  [records: {recorded}]\n")
    w(f"duration:   {info['duration_ns'] / 1e9:.6f} s\n")
    threads = info["threads"]
    if counted is not None:
        # --count: no threads or events, by design; say what it holds.
        if hits_only(info):
            arcs = (" and the arcs out of the branches taken"
                    if "--branch" in (h["options_text"] or "").split() else "")
            w(f"recording:  a coverage recording (which lines ran{arcs}, hits "
              "only: no counts, no event log; `tracetap coverage` reads "
              "them)\n")
        else:
            w("recording:  a count recording (line and call counts, no event "
              "log; `tracetap coverage` reads them)\n")
        w(f"counts:     {counted}\n")
        threads = []
    else:
        w(f"threads:    {len(threads)}\n")
    for t in threads:
        name = p(t["name"]) if t["name"] else "(unnamed)"
        w(
            f"  {t['ordinal']:>3}  {name:<24} {_n(t['events']):>12} events"
            f"  (ident {t['ident']})\n"
        )
    total = sum(info["events"].values())
    if counted is None or total:
        w(f"events:     {_n(total)}  ({_kinds(info['events'])})\n")
    w(f"codes:      {_n(info['codes'])}\n")
    w(f"dropped:    {_n(info['dropped'])}\n")
    for key, value in info["notes"]:
        w(f"note:       {p(key)}: {p(value)}\n")
    status = info["status"]
    warnings = status_warnings(path, status, info["file_size"])
    if status["state"] == "complete":
        w("status:     complete\n")
        return 0
    label = {"recording": "in progress"}.get(status["state"], status["state"])
    sentences = [s[len(path) + 2:] for s in warnings] or [label]
    w(f"status:     {label}: {p(sentences[0])}\n")
    for more in sentences[1:]:
        w(f"            {p(more)}\n")
    sys.stdout.flush()
    for warning in warnings:
        _err(f"warning: {warning}")
    return 0


def print_children(directory: str, root: str) -> None:
    """After a followed run: where the child processes' files are (said
    only when there are some, so a run without children prints as before)."""
    from ._inputs import InputError, expand

    if not os.path.isdir(directory):
        return
    try:
        files = [f for f in expand([directory]) if os.path.abspath(f) != root]
    except (OSError, InputError):
        return
    if not files:
        return
    n = len(files)
    inside = os.path.dirname(root) == os.path.abspath(directory)
    hint = f"tracetap info {directory}" if inside else f"tracetap info {root} {directory}"
    _err(f"{n} child process{'es' if n != 1 else ''} recorded in "
         f"{directory} (so far; `{hint}` shows the process tree)")


def process_rows(paths: list[str]) -> list[dict[str, Any]] | None:
    """One row per recording for the process tree: pid, ppid, how, argv,
    start_ns, events, status label, path. None (after an error message)
    when a file cannot be read."""
    from ._inputs import process

    rows = []
    for path in paths:
        trace = _open(path)
        if trace is None:
            return None
        with trace:
            info = trace.info()
        h = info["header"]
        row = process(info["notes"])
        state = info["status"]["state"]
        row.update(
            path=path, argv=h["argv"], start_ns=h["start_unix_ns"],
            events=sum(info["events"].values()),
            status={"recording": "in progress"}.get(state, state),
            warnings=status_warnings(path, info["status"], info["file_size"]),
        )
        rows.append(row)
    return rows


def cmd_info_many(paths: list[str]) -> int:
    """`tracetap info DIR` (or several files): the process tree, a line per
    process: pid, parent pid, how it started, status, events, command."""
    from ._inputs import InputError, expand, tree

    try:
        files = expand(paths)
    except InputError as exc:
        _err(f"error: {exc}")
        return 1
    if len(files) == 1 and not os.path.isdir(paths[0]):
        return cmd_info(files[0])
    rows = process_rows(files)
    if rows is None:
        return 1
    w = sys.stdout.write
    p = printable
    w(f"processes:  {len(rows)}\n")
    w(f"  {'PID':>8} {'PPID':>8}  {'HOW':<5} {'STATUS':<12} {'EVENTS':>10}  COMMAND\n")
    for depth, r in tree(rows):
        pid = str(r["pid"]) if r["pid"] is not None else "?"
        ppid = str(r["ppid"]) if r["ppid"] is not None else "?"
        cmd = " ".join(p(a) for a in r["argv"])
        w(f"  {pid:>8} {ppid:>8}  {p(r['how'] or '-'):<5} {r['status']:<12} "
          f"{_n(r['events']):>10}  {'  ' * depth}{cmd}\n")
        w(f"  {'':>8} {'':>8}  {'':<5} {'':<12} {'':>10}  {'  ' * depth}"
          f"({p(_rel(r['path']))})\n")
    sys.stdout.flush()
    for r in rows:
        for warning in r["warnings"]:
            _err(f"warning: {warning}")
    return 0
