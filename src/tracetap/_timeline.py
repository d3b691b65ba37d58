"""The timeline formats of ``tracetap export`` (``perfetto``, ``chrome``):
their options, and the call into libtt's streaming exporter
(``_tracetap.timeline``, ``src/libtt/tt_analyze_timeline.c``). What each format
holds: docs/export.md."""

from __future__ import annotations

import argparse
from typing import Any

from . import _tracetap

__all__ = ["add_arguments", "export"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of the timeline formats."""
    p.add_argument("--lines", action="store_true",
                   help="perfetto/chrome: also a nested slice per line run "
                   "(a recording with line events; best on short ones)")
    p.add_argument("--top-types", type=_count, default=8, metavar="N",
                   help="perfetto/chrome, --objects recordings: counter tracks "
                   "of live objects for the N types created most (default 8; "
                   "0: only the all-objects track)")


def _count(text: str) -> int:
    n = int(text)
    if n < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return n


def export(trace: Any, fd: int, ns: argparse.Namespace) -> list[str]:
    """Writes trace to fd as ns.format; returns notes for the user."""
    stats = _tracetap.timeline(trace._reader, fd, ns.format, lines=ns.lines,
                               top_types=ns.top_types)
    notes = []
    if stats["truncated"]:
        notes.append(
            f"the recording was cut short: {stats['open_at_end']} slices still "
            "open were closed at their thread's last event; an instant event "
            "'recording cut' marks the end")
    if stats["slices"] == 0:
        notes.append("the recording has no calls (recorded with --no-calls?): "
                     "the timeline holds no slices")
    return notes
