"""Contexts: which test ran each line (``tracetap coverage --contexts``),
the per-context filter of the analyses, and the merge of several
recordings (pytest-xdist's per-worker files).

Owns the presentation of context data; the marks themselves are written by
the extension (``_tracetap.context``, FORMAT.md §17) and read in C
(``_tracetap.contexts``, ``line_contexts``, ``context_spans``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any, TextIO

from . import _tracetap

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._coverage import CoverageConfig
    from ._trace import Trace



def contexts(trace: Trace) -> list[dict[str, Any]]:
    """The recording's context marks in order: name, start (ns since the
    recording's start) and the thread ident that set it. The first entry is
    the implicit context "" before any mark."""
    reader = trace._reader
    return [{"name": name, "start_ns": reader.ns(tick), "ident": ident}
            for name, tick, ident in _tracetap.contexts(reader)]


def select(trace: Trace, name: str | None) -> int:
    """Limits every later analysis and iteration of `trace` to the context
    `name`: a full name ("tests/t.py::test_a|run"), or a test's node id
    (all its phases), or None to lift the limit. Returns the number of
    spans selected (0: no such context)."""
    if name is None:
        trace._reader.set_window(None)
        return 0
    spans = _tracetap.context_spans(trace._reader, name, False)
    if not spans:
        spans = _tracetap.context_spans(trace._reader, name + "|", True)
    # No span: an empty window, so the analyses see nothing.
    trace._reader.set_window(spans or [(0, 0)])
    return len(spans)


def merge_line_contexts(paths: Sequence[str | os.PathLike[str]]
                        ) -> dict[str, dict[int, set[str]]]:
    """{file: {line: {context names}}} over several recordings (one per
    pytest-xdist worker, or any others): CPython's lines, each with the
    contexts that ran it. A line of one file may be run in several
    recordings; the sets are united."""
    from ._trace import Trace

    out: dict[str, dict[int, set[str]]] = {}
    for p in paths:
        with Trace(p) as t:
            names = [c[0] for c in _tracetap.contexts(t._reader)]
            for fn, line, ctx in _tracetap.line_contexts(t._reader):
                out.setdefault(fn, {}).setdefault(line, set()).add(names[ctx])
    return out


def report_contexts(raw: dict[str, dict[int, set[str]]],
                    config: CoverageConfig | None
                    ) -> dict[str, dict[int, list[str]]]:
    """The report's view: the files config wants, each line as recorded
    (CPython's line numbers, as coverage.py's ``contexts_by_lineno`` has
    them: a multi-line statement's lines each, a module docstring's line
    too), with its contexts sorted."""
    out: dict[str, dict[int, list[str]]] = {}
    for fn in sorted(raw):
        if fn.startswith("<") or (config is not None and not config.wanted(fn)):
            continue
        out[fn] = {ln: sorted(raw[fn][ln]) for ln in sorted(raw[fn])}
    return out


def format_text(data: dict[str, dict[int, list[str]]], out: TextIO) -> None:
    """Per file, each line that ran and the contexts that ran it ("" is
    shown as "(no context)")."""
    from ._text import printable

    for fn, lines in data.items():
        out.write(f"{printable(fn)}\n")
        for line, ctxs in lines.items():
            shown = ", ".join(printable(c) if c else "(no context)" for c in ctxs)
            out.write(f"  {line:6d}  {shown}\n")


def format_json(data: dict[str, dict[int, list[str]]], out: TextIO) -> None:
    """coverage.py's JSON report shape for contexts (``--show-contexts``):
    files -> path -> contexts -> line (a string) -> [names]; the lines are
    the recorded ones, as in coverage.py's."""
    from . import __version__

    doc = {"meta": {"format": 1, "tracetap_version": __version__,
                    "show_contexts": True},
           "files": {fn: {"contexts": {str(ln): c for ln, c in lines.items()}}
                     for fn, lines in data.items()}}
    json.dump(doc, out, indent=1)
    out.write("\n")


def cmd_contexts(files: Sequence[str], fmt: str, out_path: str | None,
                 config: CoverageConfig | None) -> int:
    """`tracetap coverage --contexts`: 0, or 1 when a recording cannot be
    read or the report cannot be written."""
    import sys

    from ._trace import TraceError

    try:
        raw = merge_line_contexts(files)
    except (OSError, TraceError) as exc:
        sys.stderr.write(f"tracetap: error: {exc}\n")
        return 1
    data = report_contexts(raw, config)
    try:
        out = open(out_path, "w", encoding="utf-8") if out_path else sys.stdout
    except OSError as exc:
        sys.stderr.write(f"tracetap: error: {exc}\n")
        return 1
    try:
        (format_json if fmt == "json" else format_text)(data, out)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0
