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

FORMATS = ("text", "annotate", "lcov", "cobertura", "json")


def _paths(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    return [os.path.abspath(os.fspath(p)) for p in paths]


def coverage_data(
    paths: Sequence[str | os.PathLike[str]],
) -> tuple[dict[str, Any], list[str]]:
    """(data, warnings): the coverage of the recordings, counts summed."""
    return _tracetap.coverage_data(_paths(paths))


def export(
    paths: Sequence[str | os.PathLike[str]],
    fmt: str,
    out: str | None = None,
    *,
    show_missing: bool = False,
) -> tuple[str | None, list[str]]:
    """A text, json, lcov or cobertura report: written to `out`, or
    returned as a str. Also returns the warnings."""
    return _tracetap.coverage_export(
        _paths(paths),
        fmt,
        out,
        show_missing=show_missing,
        root=os.getcwd(),
        test_name="",
        version=f"tracetap {__version__}",
        timestamp_ms=int(time.time() * 1000),
    )


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
    paths: Sequence[str | os.PathLike[str]], outdir: str
) -> tuple[list[tuple[str, str]], list[str], int]:
    """Writes one .cover file per source file into outdir. Returns the
    problems (source, why), the warnings and the number of files written."""
    data, warnings = coverage_data(paths)
    os.makedirs(outdir, exist_ok=True)
    names = cover_names(sorted(data["files"]))
    targets = {src: os.path.join(outdir, name) for src, name in names.items()}
    problems, _ = _tracetap.coverage_annotate(_paths(paths), targets)
    return problems, warnings, len(targets) - len(problems)


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
                text, warnings = export(files, fmt, out, show_missing=show_missing)
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
    if text is not None:
        sys.stdout.write(text)
    return 0
