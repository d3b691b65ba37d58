"""The offline HTML report: ``tracetap report FILE... -o DIR``,
``tracetap.report()`` and ``Trace.report()``.

Owns what the report shows and where it goes: it reads each recording
through the existing analyses (``Trace.calls``, ``lines``, ``objects``,
``status``, the merged coverage, the flame graph SVG), merges what adds up
across recordings (calls per function, coverage, line hits and times) and
writes DIR/index.html, one page per source file under DIR/src/ and the flame
graphs. Markup, escaping and the page's script are ``_report_html``'s.
Sources are read only through ``_lines.read_source`` (regular files of
bounded size, never blocking).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import __version__
from ._calls import _notes as calls_notes
from ._calls import human_ns
from ._report_html import Col, esc, heat, page, table, td

if TYPE_CHECKING:
    from ._trace import Trace

__all__ = ["ReportError", "add_parser", "cmd_report", "report"]

MARKER = ".tracetap-report"      # in DIR: what a previous report wrote
TOP_FUNCTIONS = 500
TOP_FILES = 200
TOP_ROWS = 50                    # object tables
_OPT_OBJECTS = 0x08              # TT_OPT_OBJECTS (header "options")
_OPT_LINES_OR_COUNT = 0x02 | 0x10   # TT_OPT_LINES, TT_OPT_COUNT
NO_LINES = ("no recording has line events (made with --no-lines or "
            "--no-calls): which lines ran is unknown, so none is marked "
            "missed")

REPORT_EPILOG = """\
The report is a directory of static pages that open offline in any browser
(no network, nothing fetched; each page allows only its own inline script
and style): start at DIR/index.html.

index.html     per recording: the command, interpreter, duration, threads,
               events and whether it is complete (what is missing and why);
               a bar per thread from its first to its last event; the flame
               graph (flame-N.svg next to it); the call table (click a header
               to sort; a function links to its lines); the source files with
               their coverage; for --objects recordings the object tables
src/*.html     one page per source file: each line's hits (as `tracetap
               coverage` counts them), time and own time (`tracetap lines`),
               objects created there (--objects), coloured as a heat map;
               lines that never ran are marked red (exactly the missed lines
               of `tracetap coverage`)

Several recordings are merged where the numbers add up (calls per function,
coverage, line hits and times); the summary, threads, flame graph and object
tables are shown per recording. Large recordings stay readable: at most
--top functions and --top-files source pages are written, the rest is
summarised in one line.

DIR must not exist, be empty, or hold a previous report (which is replaced);
--force writes into any directory (leaving its other files alone).

examples:
  tracetap run app.py && tracetap report app.ttrace -o app-report
  tracetap report unit.ttrace integration.ttrace -o report/ --force
  tracetap run --objects app.py && tracetap report app.ttrace -o objects/
"""


class ReportError(Exception):
    """The report cannot be made (a bad output directory or recording)."""


# ----------------------------------------------------------- output dir


def _prepare(out_dir: str, force: bool) -> set[str]:
    """Makes `out_dir` ready; returns the files a previous report wrote
    (to remove the ones this one does not rewrite)."""
    if not os.path.isdir(out_dir):
        if os.path.lexists(out_dir):
            raise ReportError(f"{out_dir} exists and is not a directory")
        try:
            os.makedirs(out_dir)
        except OSError as exc:
            raise ReportError(f"cannot create {out_dir}: "
                              f"{exc.strerror or exc}") from None
        return set()
    try:
        names = os.listdir(out_dir)
    except OSError as exc:
        raise ReportError(f"cannot read {out_dir}: {exc.strerror or exc}") from None
    previous: set[str] = set()
    if MARKER in names:
        try:
            with open(os.path.join(out_dir, MARKER), encoding="utf-8") as f:
                previous = set(json.load(f)["files"])
        except (OSError, ValueError, KeyError, TypeError):
            previous = set()
    elif names and not force:
        raise ReportError(f"{out_dir} is not empty and holds no tracetap "
                          "report: choose another directory, or --force to "
                          "write into it")
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise ReportError(f"cannot write into {out_dir}: permission denied")
    return previous


def _write(out_dir: str, name: str, text: str) -> None:
    path = os.path.join(out_dir, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


# ------------------------------------------------------------- reading


class _Rec:
    """What the report shows of one recording."""

    def __init__(self, index: int, trace: Trace) -> None:
        self.index = index
        self.trace = trace
        self.info = trace.info()
        self.calls = trace.calls()
        # The flame graph draws the tree in C; only the rows are kept here.
        self.calls.pop("tree", None)
        self.calls.pop("edges", None)
        self.lines = trace.lines() if self.calls["summary"]["has_calls"] \
            else None
        self.objects = (trace.objects() if self.info["header"]["options"]
                        & _OPT_OBJECTS else None)
        # What identified each source file when it ran, and
        # when the recording started: a source changed since is not shown.
        self.sources = trace._reader.sources()
        self.start_ns = self.info["header"]["start_unix_ns"]
        self.flame: str | None = None          # file name in DIR
        self.flame_height = 0
        self.flame_notes: list[str] = []


def _short_paths(paths: Sequence[str]) -> dict[str, str]:
    """Each path relative to the files' common directory (for display)."""
    real = [p for p in paths if os.path.isabs(p)]
    if len(real) < 2:
        return {p: os.path.basename(p) or p for p in paths}
    common = os.path.commonpath([os.path.dirname(p) for p in real])
    return {p: os.path.relpath(p, common) if p in real else p for p in paths}


def _page_name(rank: int, path: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", os.path.basename(path))[:60]
    return f"src/{rank:04d}-{base or 'file'}.html"


def _pseudo(path: str) -> bool:
    return not path or path == "?" or path.startswith("<")


class _Merged:
    """Calls per function and, per source file, line hits, times and
    objects, summed over the recordings."""

    def __init__(self, recs: list[_Rec], coverage: dict[str, Any]) -> None:
        self.functions: dict[tuple[str, str, int], dict[str, Any]] = {}
        # Without line events every line would look missed: say unknown.
        self.has_lines = any(r.info["header"]["options"] & _OPT_LINES_OR_COUNT
                             for r in recs)
        self.coverage = coverage["files"] if self.has_lines else {}
        # --coverage (monitoring): which lines ran, not how often: the
        # hits column says "hit", never a number.
        from ._show import hits_only
        self.hits_only = bool(recs) and all(hits_only(r.info) for r in recs)
        self.line_time: dict[str, dict[int, list[int]]] = {}
        self.line_objects: dict[str, dict[int, int]] = {}
        # A source must be the file every recording ran (each one's
        # identity of it, checked against the first that has one).
        self.sources: dict[str, dict[str, Any]] = {}
        for r in recs:
            for path, ident in r.sources.items():
                self.sources.setdefault(path, ident)
        self.not_after_ns = min((r.start_ns for r in recs), default=None)
        for r in recs:
            for f in r.calls["functions"]:
                if f["thread"] is not None:
                    continue
                k = (f["file"], f["func"], f["line"])
                m = self.functions.get(k)
                if m is None:
                    m = self.functions[k] = {
                        "file": f["file"], "func": f["func"], "line": f["line"],
                        "calls": 0, "primitive_calls": 0, "resumes": 0,
                        "tottime_ns": 0, "cumtime_ns": 0, "max_ns": 0}
                for key in ("calls", "primitive_calls", "resumes",
                            "tottime_ns", "cumtime_ns"):
                    m[key] += f[key]
                m["max_ns"] = max(m["max_ns"], f["max_ns"] or 0)
            for f in (r.lines or {}).get("functions", ()):
                if f["thread"] is not None:
                    continue
                per = self.line_time.setdefault(f["file"], {})
                for x in f["lines"]:
                    t = per.setdefault(x["line"], [0, 0])
                    t[0] += x["time_ns"]
                    t[1] += x["own_ns"]
            for s in (r.objects or {}).get("sites", ()):
                if s["file"] is None or s["line"] is None:
                    continue
                per_o = self.line_objects.setdefault(s["file"], {})
                per_o[s["line"]] = per_o.get(s["line"], 0) + s["created"]
        files = (set(self.coverage) | set(self.line_time)
                 | set(self.line_objects))
        self.files = sorted((f for f in files if not _pseudo(f)),
                            key=lambda f: (-self.own(f), -self.hits(f), f))

    def own(self, path: str) -> int:
        return sum(t[1] for t in self.line_time.get(path, {}).values())

    def hits(self, path: str) -> int:
        c = self.coverage.get(path)
        return sum(c["counts"].values()) if c else 0


# ------------------------------------------------------------ sections


def _kv(pairs: Sequence[tuple[str, str]]) -> str:
    """A definition list; values are HTML already."""
    return ('<dl class="kv">' + "".join(
        f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>")


def _status_html(r: _Rec) -> tuple[str, list[str]]:
    """The state as a word and the sentences that say what is missing."""
    from ._show import status_warnings

    st = r.info["status"]
    said = [w.split(": ", 1)[-1] if w.startswith(r.trace.path + ": ") else w
            for w in status_warnings(r.trace.path, st, r.info["file_size"])]
    said += calls_notes(r.calls)
    if r.objects is not None:
        said += list(r.objects.get("notes", {}).values())
    klass = "ok" if st["state"] == "complete" else "bad"
    state = {"recording": "in progress (still being written)",
             "damaged": "cut off or damaged",
             "interrupted": "ended by a signal (flushed up to it)",
             "incomplete": "incomplete (events lost)"}.get(st["state"],
                                                           st["state"])
    return f'<span class="{klass}" id="state-{r.index}">{esc(state)}</span>', said


def _summary(r: _Rec, label: str) -> str:
    info, h = r.info, r.info["header"]
    argv = " ".join(shlex.quote(a) for a in h.get("argv") or [])
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC",
                            time.gmtime(h["start_unix_ns"] / 1e9))
    events = ", ".join(f"{n:,} {k}" for k, n in info["events"].items() if n)
    state, said = _status_html(r)
    pairs = [
        ("recording", f"<code>{esc(info['path'])}</code>"),
        ("command", f"<code>{esc(argv or '?')}</code>"),
        ("interpreter", esc(f"{h['python_impl']} {h['python_build']}")),
        ("options", esc(h.get("options_text") or "")),
        ("started", esc(started)),
        ("duration", esc(human_ns(info["duration_ns"]))),
        ("threads", esc(len(info["threads"]))),
        ("events", esc(events or "none")),
        ("status", state),
    ]
    notes = "".join(f'<li class="note">{esc(s)}</li>' for s in said)
    notes = f'<ul id="notes-{r.index}">{notes}</ul>' if notes else ""
    return (f'<h2 id="rec-{r.index}">Recording {r.index}: {esc(label)}</h2>'
            + _kv(pairs) + notes)


def _timeline(r: _Rec) -> str:
    """One bar per thread from its first to its last event over the
    recording; its shade is the share of that span in traced code."""
    threads = r.calls["threads"] or [
        {"thread": t["id"], "name": t["name"], "first_ns": t["first_ns"],
         "last_ns": t["last_ns"], "traced_ns": 0, "activations": 0}
        for t in r.info["threads"]]
    events = {t["id"]: t["events"] for t in r.info["threads"]}
    total = max([r.info["duration_ns"]] + [t["last_ns"] for t in threads]) or 1
    width, label_w, row = 900, 260, 22
    shown = threads[:TOP_FILES]
    parts = [(f'<svg class="timeline" id="timeline-{r.index}" '
             f'xmlns="http://www.w3.org/2000/svg" width="100%" '
             f'viewBox="0 0 {width + label_w + 4} {row * len(shown) + 24}">')]
    for i, t in enumerate(shown):
        y = i * row
        x0 = label_w + width * t["first_ns"] / total
        w = max(width * (t["last_ns"] - t["first_ns"]) / total, 1.5)
        span = max(t["last_ns"] - t["first_ns"], 1)
        share = min(t["traced_ns"] / span, 1.0)
        name = t.get("name") or f"thread {t['thread']}"
        label = f"{t['thread']}: {name}"[:40]
        tip = (f"thread {t['thread']} ({name}): {human_ns(t['first_ns'])} to "
               f"{human_ns(t['last_ns'])}, {events.get(t['thread'], 0):,} "
               f"events, {t['activations']:,} calls, traced "
               f"{human_ns(t['traced_ns'])} ({100 * share:.0f}% of its span)")
        parts.append(
            f'<g class="thread" data-thread="{t["thread"]}"><title>{esc(tip)}'
            f'</title><text x="0" y="{y + 15}">{esc(label)}'
            f'</text><rect x="{x0:.1f}" y="{y + 3}" width="{w:.1f}" '
            f'height="{row - 6}" fill="#4a7fd0" fill-opacity="'
            f'{0.25 + 0.75 * share:.2f}"/></g>')
    axis_y = row * len(shown) + 16
    parts.append(f'<text x="{label_w}" y="{axis_y}">0</text><text '
                 f'x="{label_w + width}" y="{axis_y}" text-anchor="end">'
                 f'{esc(human_ns(total))}</text></svg>')
    more = len(threads) - len(shown)
    extra = (f'<p class="muted">{more:,} more threads not drawn.</p>'
             if more > 0 else "")
    return "".join(parts) + extra


def _flame(r: _Rec) -> str:
    if r.flame is None:
        return "".join(f'<p class="note">{esc(n)}</p>' for n in r.flame_notes)
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in r.flame_notes)
    return (f'<p><a href="{r.flame}">open the flame graph alone</a> (hover a '
            "box for its numbers, click to zoom, Ctrl-F to search)</p>"
            f'<iframe class="flame" id="flame-{r.index}" src="{r.flame}" '
            f'height="{r.flame_height + 20}" title="flame graph of recording '
            f'{r.index}"></iframe>' + notes)


def _call_table(m: _Merged, pages: dict[str, str], top: int) -> str:
    rows = sorted(m.functions.values(),
                  key=lambda f: (-f["tottime_ns"], f["func"], f["file"]))
    shown = rows[:top]
    cols = [Col("function"), Col("file:line"), Col("calls", True),
            Col("primitive", True, "calls that were not recursive"),
            Col("resumes", True, "generator and coroutine resumptions"),
            Col("tottime", True, "time in the function itself"),
            Col("cumtime", True, "time from call to return"),
            Col("per call", True, "cumtime / primitive calls"),
            Col("max", True, "longest single call")]
    out = []
    for f in shown:
        link = pages.get(f["file"])
        name = (f'<a href="{link}#L{f["line"]}">{esc(f["func"])}</a>'
                if link else esc(f["func"]))
        per = f["cumtime_ns"] / f["primitive_calls"] \
            if f["primitive_calls"] else 0
        out.append([
            td("", html_text=name, cls="func"),
            td(f"{f['file']}:{f['line']}", cls="where"),
            td(f"{f['calls']:,}", v=f["calls"], cls="r"),
            td(f"{f['primitive_calls']:,}", v=f["primitive_calls"], cls="r"),
            td(f"{f['resumes']:,}", v=f["resumes"], cls="r"),
            td(human_ns(f["tottime_ns"]), v=f["tottime_ns"], cls="r"),
            td(human_ns(f["cumtime_ns"]), v=f["cumtime_ns"], cls="r"),
            td(human_ns(per), v=per, cls="r"),
            td(human_ns(f["max_ns"]), v=f["max_ns"], cls="r")])
    html_out = table(cols, out, table_id="calls")
    rest = rows[top:]
    if rest:
        html_out += (f'<p class="muted" id="calls-rest">{len(rest):,} more '
                     "functions not shown (tottime "
                     f"{human_ns(sum(f['tottime_ns'] for f in rest))}, "
                     f"{sum(f['calls'] for f in rest):,} calls; --top "
                     "shows more)</p>")
    if not rows:
        html_out = ('<p class="muted">No call events (recorded with --count '
                    "or --no-calls).</p>")
    return html_out


def _files_table(m: _Merged, pages: dict[str, str], short: dict[str, str],
                 top: int) -> str:
    cols = [Col("file"), Col("lines", True, "executable lines"),
            Col("ran", True), Col("missed", True), Col("cover %", True),
            Col("hits", True, "line executions"),
            Col("own time", True, "time on its lines without callees")]
    rows = []
    for f in m.files[:top]:
        c = m.coverage.get(f)
        ex = len(c["executable"]) if c else 0
        ran = sum(1 for n in c["executable"] if c["counts"].get(n)) if c else 0
        pct = 100.0 * ran / ex if ex else 100.0
        rows.append([
            td("", html_text=f'<a href="{pages[f]}">{esc(short[f])}</a>'),
            td(f"{ex:,}", v=ex, cls="r"), td(f"{ran:,}", v=ran, cls="r"),
            td(f"{ex - ran:,}", v=ex - ran, cls="r"),
            td(f"{pct:.1f}" if m.has_lines else "-",
               v=pct if m.has_lines else -1, cls="r"),
            td("-" if m.hits_only else f"{m.hits(f):,}",
               v=-1 if m.hits_only else m.hits(f), cls="r"),
            td(human_ns(m.own(f)), v=m.own(f), cls="r")])
    out = table(cols, rows, table_id="files")
    rest = m.files[top:]
    if rest:
        out += (f'<p class="muted" id="files-rest">{len(rest):,} more files '
                f"without a page ({sum(m.hits(f) for f in rest):,} line hits, "
                f"own time {human_ns(sum(m.own(f) for f in rest))}; "
                "--top-files writes more)</p>")
    return out


def _where(s: dict[str, Any], pages: dict[str, str]) -> str:
    if s["file"] is None:
        return esc("<no Python frame>")
    text = esc(f"{s['file']}:{s['line'] if s['line'] is not None else '?'}")
    link = pages.get(s["file"])
    return f'<a href="{link}#L{s["line"]}">{text}</a>' if link and s["line"] \
        else text


def _objects(r: _Rec, pages: dict[str, str], top: int) -> str:
    o = r.objects
    assert o is not None
    tot = o["totals"]
    parts = [f'<h3>Objects of recording {r.index}</h3><p>'
             + esc(", ".join(f"{k} {v:,}" for k, v in tot.items()
                             if isinstance(v, int)))
             + ("" if o["complete_deaths"] else
                " (some deaths were not reported: see the notes above)")
             + "</p>"]

    def rest(rows: list[Any], what: str) -> str:
        n = len(rows) - top
        return (f'<p class="muted">{n:,} more {what} not shown.</p>'
                if n > 0 else "")

    types = sorted(o["types"].items(), key=lambda kv: -kv[1]["created"])
    life = Col("median life", True, "lifetime p50 (upper bound)")
    # --bytes: the bytes of the blocks each type's objects were created in
    nbytes = {t["type"]: t for t in (o.get("bytes") or {}).get("types", [])}
    bcols = [Col("live bytes", True, "bytes of the objects' blocks alive "
                 "at stop (--bytes)"),
             Col("bytes allocated", True)] if nbytes else []

    def bcells(name: str) -> list[Any]:
        if not nbytes:
            return []
        t = nbytes.get(name, {"live_bytes": 0, "alloc_bytes": 0})
        return [td(f"{t['live_bytes']:,}", v=t["live_bytes"], cls="r"),
                td(f"{t['alloc_bytes']:,}", v=t["alloc_bytes"], cls="r")]

    parts.append("<h4>Types</h4>" + table(
        [Col("type"), Col("created", True), Col("destroyed", True),
         Col("survived", True), life, *bcols],
        ([td(name), td(f"{t['created']:,}", v=t["created"], cls="r"),
          td(f"{t['destroyed']:,}", v=t["destroyed"], cls="r"),
          td(f"{t['survived']:,}", v=t["survived"], cls="r"),
          td(human_ns(t["lifetime_p50_ns"]), v=t["lifetime_p50_ns"] or 0,
             cls="r"), *bcells(name)] for name, t in types[:top]),
        table_id=f"types-{r.index}") + rest(types, "types"))
    if None in nbytes:
        buf = nbytes[None]
        parts.append(f'<p class="muted">Buffers (no object: list items, '
                     f'dict keys, bytearray data, interpreter memory): '
                     f'{buf["live_bytes"]:,} bytes alive at stop, '
                     f'{buf["alloc_bytes"]:,} allocated.</p>')
    sites = o["sites"]
    parts.append("<h4>Creation sites</h4>" + table(
        [Col("site"), Col("function"), Col("type"), Col("created", True),
         Col("survived", True)],
        ([td("", html_text=_where(s, pages)), td(s["func"] or ""),
          td(s["type"]), td(f"{s['created']:,}", v=s["created"], cls="r"),
          td(f"{s['survived']:,}", v=s["survived"], cls="r")]
         for s in sites[:top]),
        table_id=f"sites-{r.index}") + rest(sites, "sites"))
    for key, title in (("survivors", "Survivors (verified alive at the "
                        "end, made by the program as it ran)"),
                       ("import_survivors", "Module state (survivors made "
                        "while modules were being imported)")):
        surv = o.get(key, [])
        parts.append(f"<h4>{esc(title)}</h4>" + (table(
            [Col("site"), Col("function"), Col("type"), Col("alive", True),
             Col("alive through", False, "a referrer chain from a root to "
                 "one of them, found at stop")],
            ([td("", html_text=_where(s, pages)), td(s["func"] or ""),
              td(s["type"]), td(f"{s['count']:,}", v=s["count"], cls="r"),
              td(s.get("why_alive", ""))]
             for s in surv[:top]),
            table_id=f"{key}-{r.index}") + rest(surv, "survivor sites")
            if surv else '<p class="muted">none</p>'))
    return "".join(parts)


def _source_page(path: str, m: _Merged, funcs: list[dict[str, Any]],
                 label: str) -> str:
    from ._lines import read_source

    src, why = read_source(path, not_after_ns=m.not_after_ns,
                           identity=m.sources.get(path))
    cov = m.coverage.get(path, {"executable": [], "counts": {}})
    executable = set(cov["executable"])
    counts = cov["counts"]
    times = m.line_time.get(path, {})
    objs = m.line_objects.get(path, {})
    top_own = max((t[1] for t in times.values()), default=0)
    top_obj = max(objs.values(), default=0)
    last = max([len(src or ())] + list(executable) + list(times) + list(objs)
               + [0])
    numbers = range(1, last + 1) if src is not None else sorted(
        executable | set(times) | set(objs))
    cols = [Col("line"), Col("hits"), Col("time"), Col("own")]
    if objs:
        cols.append(Col("objects"))
    cols.append(Col("source"))
    rows, attrs = [], []
    for n in numbers:
        hits = counts.get(n, 0)
        missed = n in executable and not hits
        t = times.get(n)
        cells = [td("", html_text=f'<a href="#L{n}">{n}</a>', cls="n"),
                 td(("hit" if hits else "0") if m.hits_only and (hits or missed)
                    else f"{hits:,}" if hits or missed else "", cls="r hits"),
                 td(human_ns(t[0]) if t else "", cls="r"),
                 td(human_ns(t[1]) if t else "",
                    cls="r " + heat(t[1], top_own) if t else "r")]
        if objs:
            c = objs.get(n, 0)
            cells.append(td(f"{c:,}" if c else "",
                            cls="r " + heat(c, top_obj, "o")))
        text = src[n - 1] if src is not None and n <= len(src) else ""
        cells.append(td(text, cls="code"))
        rows.append(cells)
        klass = "miss" if missed else "ran" if hits else ""
        attrs.append(f' id="L{n}"' + (f' class="{klass}"' if klass else ""))
    ex = len(executable)
    ran = sum(1 for n in executable if counts.get(n))
    missed_n = ex - ran
    head = [(f'<p><a href="../index.html">&larr; report</a></p>'
            f"<h1><code>{esc(label)}</code></h1>"),
            _kv([("path", f"<code>{esc(path)}</code>"),
                 ("coverage", esc(f"{ran:,} of {ex:,} executable lines ran, "
                                  f"{missed_n:,} missed")
                  + (f" ({100.0 * ran / ex:.1f}%)" if ex else "")
                  if m.has_lines else "unknown (no line events)"),
                 ("own time", esc(human_ns(sum(t[1] for t in times.values())))),
                 ("objects created", esc(f"{sum(objs.values()):,}"))])]
    if not m.has_lines:
        head.append(f'<p class="note">{esc(NO_LINES)}</p>')
    if src is None:
        head.append(f'<p class="note" id="no-source">source not shown: '
                    f"{esc(why)}</p>")
    if funcs:
        links = ", ".join(
            f'<a href="#L{f["line"]}">{esc(f["func"])}</a> '
            f'<span class="muted">{esc(human_ns(f["tottime_ns"]))}</span>'
            for f in sorted(funcs, key=lambda f: f["line"]))
        head.append(f"<p>functions: {links}</p>")
    head.append('<p class="muted">hits: as <code>tracetap coverage</code> '
                "counts them; time: from the line to the frame's next event, "
                "callees included; own: without them (the colour). Red: "
                "never ran.</p>")
    body = "".join(head) + table(cols, rows, sortable=False, css="src",
                                 table_id="source", row_attrs=attrs)
    return page(f"{label} - tracetap report", body,
                data={"path": path, "missed": sorted(
                    n for n in executable if not counts.get(n))})


# --------------------------------------------------------------- report


def report(paths: Sequence[str | os.PathLike[str] | Trace]
           | str | os.PathLike[str],
           out_dir: str | os.PathLike[str], *, force: bool = False,
           top: int = TOP_FUNCTIONS, top_files: int = TOP_FILES,
           progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Writes the HTML report of one or more recordings into `out_dir`
    (see ``tracetap report --help``; Traces are read through their open
    file, paths are opened here) and returns ``{"index": path of
    index.html, "files": the files written, relative to out_dir, "notes":
    what was left out, "warnings": what is incomplete in the recordings,
    as `tracetap coverage` says it}``. Raises ReportError for an output directory it
    must not use (not empty and not a previous report, without `force`)
    or cannot write, OSError / TraceError for recordings that cannot be
    read. `progress` is called with a short sentence per step."""
    from ._coverage import coverage_data
    from ._flamegraph import export_flamegraph
    from ._flamegraph import notes as flame_notes
    from ._trace import Trace

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if not paths:
        raise ReportError("no recording given")
    say = progress or (lambda _msg: None)
    out = os.path.abspath(os.fspath(out_dir))
    traces: list[Trace] = []
    opened: list[Trace] = []
    written: list[str] = []
    notes: list[str] = []
    warnings: list[str] = []
    try:
        for p in paths:        # bad recordings first: DIR stays untouched
            if not isinstance(p, Trace):
                p = Trace(p)
                opened.append(p)
            traces.append(p)
        previous = _prepare(out, force)
        _write(out, MARKER, json.dumps({"tracetap": __version__,
                                        "files": sorted(previous)}))
        recs = []
        for i, t in enumerate(traces, 1):
            say(f"reading {os.path.basename(t.path)}")
            recs.append(_Rec(i, t))
        say("merging coverage")
        coverage, warnings = coverage_data(traces)
        for r in recs:
            # Without calls, an --objects recording still has its objects'
            # call paths (each site under the frames it was made in).
            weight = "time" if r.calls["summary"]["has_calls"] else \
                "objects" if r.objects is not None else None
            if weight is None:
                r.flame_notes.append("no flame graph: this recording has no "
                                     "call events")
                continue
            say(f"drawing the flame graph of recording {r.index}")
            name = f"flame-{r.index}.svg"
            try:
                stats = export_flamegraph(r.trace, os.path.join(out, name),
                                          weight=weight)
            except ValueError as exc:
                r.flame_notes.append(f"no flame graph: {exc}")
                continue
            written.append(name)
            r.flame, r.flame_height = name, _svg_height(os.path.join(out, name))
            r.flame_notes += flame_notes(stats)
        merged = _Merged(recs, coverage)
        shown = merged.files[:top_files]
        pages = {f: _page_name(i, f) for i, f in enumerate(shown, 1)}
        short = _short_paths(merged.files)
        by_file: dict[str, list[dict[str, Any]]] = {}
        for f in merged.functions.values():
            by_file.setdefault(f["file"], []).append(f)
        for n, f in enumerate(shown, 1):
            if n % 50 == 1:
                say(f"writing source pages {n}-{min(n + 49, len(shown))} of "
                    f"{len(shown)}")
            _write(out, pages[f], _source_page(f, merged, by_file.get(f, []),
                                               short[f]))
            written.append(pages[f])
        if len(merged.functions) > top:
            notes.append(f"{len(merged.functions) - top:,} functions not in "
                         "the call table")
        if len(merged.files) > top_files:
            notes.append(f"{len(merged.files) - top_files:,} files without "
                         "a page")
        say("writing index.html")
        _write(out, "index.html", _index(recs, merged, pages, short, coverage,
                                         top, top_files))
        written.append("index.html")
    finally:
        for t in opened:
            t.close()
    for stale in previous - set(written):
        if stale == "index.html" or re.fullmatch(
                r"flame-\d+\.svg|src/\d{4}-[A-Za-z0-9_.-]+\.html", stale):
            try:
                os.unlink(os.path.join(out, stale))
            except OSError:
                pass
    _write(out, MARKER, json.dumps({"tracetap": __version__,
                                    "files": sorted(written)}))
    return {"index": os.path.join(out, "index.html"), "files": written,
            "notes": notes, "warnings": warnings}


def _svg_height(path: str) -> int:
    with open(path, "rb") as f:
        head = f.read(4096).decode("utf-8", "replace")
    m = re.search(r'<svg[^>]*\sheight="(\d+(?:\.\d+)?)"', head)
    return int(float(m.group(1))) if m else 600


def _index(recs: list[_Rec], m: _Merged, pages: dict[str, str],
           short: dict[str, str], coverage: dict[str, Any], top: int,
           top_files: int) -> str:
    labels = _short_paths([r.trace.path for r in recs])
    body = ["<h1>tracetap report</h1>",
            f"<p>{len(recs)} recording{'s' if len(recs) != 1 else ''}"
            + (" (calls, coverage and line times merged)" if len(recs) > 1
               else "") + ": " + ", ".join(
                f'<a href="#rec-{r.index}">{esc(labels[r.trace.path])}</a>'
                for r in recs) + "</p>"]
    for r in recs:
        body.append(_summary(r, labels[r.trace.path]))
        body.append(f"<h3>Threads</h3>{_timeline(r)}")
        body.append(f"<h3>Flame graph</h3>{_flame(r)}")
    body.append('<h2 id="calls-h">Calls</h2><p class="muted">Per function, '
                "all threads"
                + (" and recordings" if len(recs) > 1 else "")
                + " together; click a header to sort.</p>"
                + _call_table(m, pages, top))
    tot = coverage["totals"]
    body.append('<h2 id="files-h">Source files</h2><p>'
                + esc(f"{tot['covered']:,} of {tot['executable']:,} "
                      f"executable lines ran ({tot['percent']}%)"
                      if m.has_lines else NO_LINES)
                + "</p>" + _files_table(m, pages, short, top_files))
    if any(r.objects is not None for r in recs):
        body.append('<h2 id="objects-h">Objects</h2>')
        body += [_objects(r, pages, TOP_ROWS) for r in recs
                 if r.objects is not None]
    data = {"generator": f"tracetap {__version__}", "recordings": [
        {"path": r.trace.path, "argv": r.info["header"].get("argv"),
         "state": r.info["status"]["state"],
         "threads": [t["name"] for t in r.info["threads"]]} for r in recs]}
    return page("tracetap report", "\n".join(body), data=data)


# ------------------------------------------------------------------ CLI


def add_parser(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Registers `tracetap report` on cli.py's subparsers."""
    p = sub.add_parser(
        "report", help="an HTML report that opens offline",
        description="Write a self-contained HTML report of one or more "
        "recordings: summary, threads, flame graph, sortable call table, "
        "each source file with its hits, times, objects and missed lines, "
        "and the object tables.",
        epilog=REPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="one or more .ttrace recordings, or directories of them")
    p.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="the report's directory (index.html is the start)")
    p.add_argument("--force", action="store_true",
                   help="write into DIR even if it holds other files")
    p.add_argument("--top", type=int, default=TOP_FUNCTIONS, metavar="N",
                   help=f"functions in the call table (default "
                   f"{TOP_FUNCTIONS})")
    p.add_argument("--top-files", type=int, default=TOP_FILES, metavar="N",
                   help=f"source files with a page (default {TOP_FILES})")
    p.set_defaults(_report_parser=p)


def cmd_report(ns: argparse.Namespace) -> int:
    """Runs `tracetap report`: 0, 1 for an unusable recording or output
    directory, 2 for usage errors."""
    from ._progress import _isatty, shown
    from ._trace import TraceError

    if ns.top < 1 or ns.top_files < 0:
        ns._report_parser.error("--top must be 1 or more and --top-files 0 "
                                "or more")
    tty = _isatty(sys.stderr)
    width = 0

    def say(msg: str) -> None:
        nonlocal width
        if tty:
            text = f"tracetap: report: {msg}"
            sys.stderr.write("\r" + text.ljust(width))
            sys.stderr.flush()
            width = len(text)

    from ._inputs import InputError, expand

    try:
        files = expand(ns.files)
        with shown(sys.stderr):
            result = report(files, ns.output, force=ns.force, top=ns.top,
                            top_files=ns.top_files, progress=say)
    except (ReportError, OSError, TraceError, InputError) as exc:
        if width:
            sys.stderr.write("\r" + " " * width + "\r")
        print(f"tracetap: error: {exc}", file=sys.stderr)
        return 1
    if width:
        sys.stderr.write("\r" + " " * width + "\r")
    for w in result["warnings"]:
        print(f"tracetap: warning: {w}", file=sys.stderr)
    for n in result["notes"]:
        print(f"tracetap: note: {n}", file=sys.stderr)
    print(f"tracetap: wrote {len(result['files'])} files; open "
          f"{result['index']}", file=sys.stderr)
    return 0
