"""Coverage: ``Trace.coverage()`` and ``tracetap coverage``.

Owns the presentation around libtt's coverage analysis and exporters (in
C): which recordings, where a report goes, and the names of the annotate
format's ``.cover`` files. The numbers and the report formats are made in
C (src/libtt/tt_coverage.c, tt_export_*.c, bound in src/ext/coverage.c).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from . import __version__, _tracetap

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._trace import Trace

FORMATS = ("text", "annotate", "lcov", "cobertura", "json")

Recordings = Sequence["str | os.PathLike[str] | Trace"]


def _open(items: Recordings) -> tuple[list[Trace], list[Trace]]:
    """(traces, the ones opened here): one Trace (one open file) each."""
    from ._trace import Trace

    traces, opened = [], []
    try:
        for item in items:
            if not isinstance(item, Trace):
                item = Trace(item)
                opened.append(item)
            traces.append(item)
    except BaseException:
        for t in opened:
            t.close()
        raise
    return traces, opened


def _completeness(traces: list[Trace]) -> tuple[list[dict[str, Any]], list[str]]:
    """Per recording, what the outputs say about its completeness (the
    JSON's "recordings": path and Trace.status() without the damage
    report), and the same in words for stderr."""
    from ._show import status_warnings

    recs, warnings = [], []
    for t in traces:
        st = t.status()
        recs.append({"path": t.path, "state": st["state"],
                     "being_written": st["being_written"],
                     "dropped": st["dropped"],
                     "lost_reason": st["lost_reason"]})
        warnings += status_warnings(t.path, st, t._reader.size)
    return recs, warnings


def coverage_data(items: Recordings) -> tuple[dict[str, Any], list[str]]:
    """(data, warnings): the coverage of the recordings (Traces, or paths
    opened here), counts summed, each read once. ``data["recordings"]``
    says how complete each one was; the warnings say it in words."""
    traces, opened = _open(items)
    try:
        data, warnings = _tracetap.coverage_data([t._reader for t in traces])
        recs, said = _completeness(traces)
        return {"recordings": recs, **data}, said + warnings
    finally:
        for t in opened:
            t.close()


def export(
    items: Recordings,
    fmt: str,
    out: str | None = None,
    *,
    show_missing: bool = False,
) -> tuple[str | None, list[str], dict[str, Any], list[dict[str, Any]]]:
    """A text, json, lcov or cobertura report: written to `out`, or
    returned as a str. Also returns the warnings, the totals and the
    completeness of each recording (JSON reports carry it as
    "recordings")."""
    traces, opened = _open(items)
    try:
        direct = out if fmt != "json" else None
        text, warnings, totals = _tracetap.coverage_export(
            [t._reader for t in traces],
            fmt,
            direct,
            show_missing=show_missing,
            root=os.getcwd(),
            test_name="",
            version=f"tracetap {__version__}",
            timestamp_ms=int(time.time() * 1000),
        )
        recs, said = _completeness(traces)
        warnings = said + warnings
    finally:
        for t in opened:
            t.close()
    if fmt == "json":
        import json

        # {"recordings": [...], "files": ..., "totals": ...}: the C report
        # with the completeness of each recording in front.
        assert text is not None and text.startswith("{")
        text = '{"recordings": ' + json.dumps(recs) + ", " + text[1:]
        if out is not None:
            with open(out, "w", encoding="utf-8") as f:
                f.write(text)
            text = None
    return text, warnings, totals, recs

def cover_names(files: Sequence[str]) -> dict[str, str]:
    """Source path -> .cover file name: the path relative to the files'
    common directory, with dots for the separators and no extension (what
    stdlib trace's _fullmodname makes relative to sys.path)."""
    if not files:
        return {}
    common = os.path.commonpath([os.path.dirname(f) for f in files])
    out = {}
    for f in files:
        rel = os.path.splitext(os.path.relpath(f, common))[0]
        out[f] = rel.replace(os.sep, ".").lstrip(".") + ".cover"
    return out


def annotate(
    items: Recordings, outdir: str
) -> tuple[list[tuple[str, str]], list[str], int]:
    """Writes one .cover file per source file into outdir, reading each
    recording once. Returns the problems (source, why), the warnings and
    the number of files written."""
    made: dict[str, str] = {}

    def targets(files: list[str]) -> dict[str, str]:
        os.makedirs(outdir, exist_ok=True)
        names = cover_names(sorted(files))
        made.update((src, os.path.join(outdir, n)) for src, n in names.items())
        return made

    traces, opened = _open(items)
    try:
        problems, warnings = _tracetap.coverage_annotate(
            [t._reader for t in traces], targets)
        _, said = _completeness(traces)
        warnings = said + warnings
    finally:
        for t in opened:
            t.close()
    return problems, warnings, len(made) - len(problems)


def cmd_coverage(
    files: Sequence[str], fmt: str, out: str | None, show_missing: bool
) -> int:
    """`tracetap coverage`. Returns the exit status: 0, or 1 when a
    recording cannot be read or the report cannot be written."""

    def warn(lines: list[str]) -> None:
        for w in lines:
            sys.stderr.write(f"tracetap: warning: {w}\n")

    from ._progress import shown

    try:
        with shown(sys.stderr):
            if fmt == "annotate":
                assert out is not None
                problems, warnings, written = annotate(files, out)
            else:
                text, warnings, totals, recs = export(
                    files, fmt, out, show_missing=show_missing)
        if fmt == "annotate":
            warn(warnings)
            for src, why in problems:
                sys.stderr.write(f"tracetap: {src}: {why}\n")
            sys.stderr.write(f"tracetap: wrote {written} .cover file(s) to {out}\n")
            return 1 if problems and not written else 0
    except OSError as exc:
        sys.stderr.write(f"tracetap: {exc}\n")
        return 1
    except _tracetap.TraceError as exc:
        sys.stderr.write(f"tracetap: {exc}\n")
        return 1
    warn(warnings)
    if fmt == "text" and totals["executable"] == 0 and any(
            r["state"] != "complete" for r in recs):
        # Not "TOTAL 0 0 0 100.0%": nothing has been seen yet.
        text = "No line has been recorded yet: " + (
            "the recording is still in progress.\n"
            if any(r["being_written"] for r in recs)
            else "the recording is incomplete.\n")
        if out is not None:
            with open(out, "w", encoding="utf-8") as f:
                f.write(text)
            return 0
    if text is not None:
        sys.stdout.write(text)
    return 0
