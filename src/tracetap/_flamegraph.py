"""The interactive flame graph: ``tracetap export --format flamegraph`` and
``tracetap.export_flamegraph()``.

libtt draws it (``tt_export_flamegraph.c``: layout, escaping, the page's
script; rules in docs/flamegraph.md) from the call tree of its call
analysis; this module checks the options against the recording, writes
the file atomically and says what the drawing left out.
"""

from __future__ import annotations

import argparse
import io
import os
import stat
import sys
import tempfile
from typing import IO, TYPE_CHECKING, Any

from . import _tracetap

if TYPE_CHECKING:
    from ._trace import Trace

__all__ = [
    "WEIGHTS",
    "add_arguments",
    "add_flamegraph_arguments",
    "export",
    "export_flamegraph",
]

WEIGHTS = {"time": 0, "calls": 1, "objects": 2, "bytes": 3}
DEFAULT_MIN_SHARE = 0.0005   # tt_export_flamegraph.c's defaults
MAX_FRAMES = 20000
_OPT_OBJECTS = 0x08          # TT_OPT_OBJECTS (header "options")

EPILOG = """\
The flame graph (--format flamegraph) is one self-contained SVG file:
open it in a browser (no network needed). Each box is a function reached
through one call path; its width is the weight of that path (the function
and what it called), its colour stays the same for a function in every
graph. Hover for the function, file:line, weight and share; click a box to
zoom into it, "Reset Zoom" (or Escape) to go back; "Search" (or Ctrl-F)
highlights the functions whose name or file:line contains the text and
shows the share they cover.

  --weight time     exclusive time of traced code (default)
  --weight calls    activations (calls and generator resumptions)
  --weight objects  objects created, charged to the creation site's call
                    path (a recording made with --objects, CPython 3.13+)
  --weight bytes    bytes allocated, charged to each creation stack (a
                    recording made with --objects --bytes; also without
                    call events: --no-calls draws the stacks alone)

Boxes narrower than --min-share of the total (default 0.05%, about half
a pixel at the default width) are not drawn, with what they called; the
subtitle says how many. At most 20,000 boxes are drawn (a browser stays
quick): when there would be more, the threshold is raised until they fit.
The title is the recorded command; a recording that was cut off (killed)
says so under it.

examples:
  tracetap run app.py && tracetap export app.ttrace --format flamegraph -o app.svg
  tracetap export app.ttrace --format flamegraph --icicle --thread 0 -o main.svg
  tracetap run --objects app.py
  tracetap export app.ttrace --format flamegraph --weight objects -o allocs.svg
"""


def export_flamegraph(trace_or_path: Trace | str | os.PathLike[str],
                      out: str | os.PathLike[str] | IO[Any], *,
                      weight: str = "time", icicle: bool = False,
                      thread: int | None = None,
                      min_share: float | None = None,
                      width: int | None = None,
                      title: str | None = None,
                      max_frames: int | None = None) -> dict[str, Any]:
    """Writes the recording's call tree as an interactive SVG to `out` (a
    path, replaced only once the file is complete, or a file object) and
    returns the drawing's numbers: ``total`` (the root's weight: ns,
    activations or objects), ``frames``, ``omitted`` (nodes below the
    threshold), ``truncated`` (the recording was cut off), ...

    weight: "time", "calls" or "objects"; thread: one thread id, or None
    for all threads (one frame per thread under the root); min_share: the
    threshold as a fraction of the total (0: draw every node with a
    nonzero weight); max_frames (default 20000): more frames than this
    raise the threshold until they fit (``min_share`` in the result says
    the one used). Raises ValueError for options the recording cannot
    answer (no call events, no object events, no such thread),
    OSError / TraceError for files."""
    from ._trace import Trace

    if weight not in WEIGHTS:
        raise ValueError(f"weight must be one of {', '.join(WEIGHTS)}, "
                         f"not {weight!r}")
    if min_share is not None and not 0 <= min_share < 1:
        raise ValueError("min_share must be at least 0 and below 1")
    if not isinstance(trace_or_path, Trace):
        with Trace(trace_or_path) as t:
            return export_flamegraph(t, out, weight=weight, icicle=icicle,
                                     thread=thread, min_share=min_share,
                                     width=width, title=title,
                                     max_frames=max_frames)
    header = trace_or_path._reader.header()
    if weight == "objects" and not header["options"] & _OPT_OBJECTS:
        raise ValueError("--weight objects needs a recording made with "
                         "--objects (this one has no object events)")
    if weight == "bytes" and _tracetap.allocs(trace_or_path._reader) is None:
        raise ValueError("--weight bytes needs a recording made with "
                         "--objects --bytes (this one has no byte counts)")
    kw: dict[str, Any] = {
        "weight": WEIGHTS[weight], "icicle": icicle,
        "thread": -1 if thread is None else thread,
        # libtt: 0 is its default, a negative share draws every node.
        "min_share": (0.0 if min_share is None else
                      -1.0 if min_share == 0 else float(min_share)),
        "width": width or 0, "title": title, "max_frames": max_frames or 0}
    if thread is not None and thread < 0:
        raise ValueError(f"no thread {thread} in the recording")
    if hasattr(out, "write"):
        with tempfile.TemporaryDirectory(prefix="tracetap-") as d:
            tmp = os.path.join(d, "flame.svg")
            stats = _draw(trace_or_path, tmp, kw, weight)
            with open(tmp, "rb") as fp:
                data = fp.read()
        stream: Any = out
        stream.write(data.decode("utf-8") if isinstance(stream, io.TextIOBase)
                     else data)
        return stats
    path = os.fspath(out)
    try:
        regular = stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        regular = True
    if not regular:     # a device or a FIFO: written in place, never replaced
        with open(path, "wb") as stream:
            return export_flamegraph(trace_or_path, stream, weight=weight,
                                     icicle=icicle, thread=thread,
                                     min_share=min_share, width=width,
                                     title=title, max_frames=max_frames)
    fd, tmp = tempfile.mkstemp(prefix=".tracetap-", suffix=".svg",
                               dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    try:
        stats = _draw(trace_or_path, tmp, kw, weight)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return stats


def _umask() -> int:
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def _draw(trace: Trace, path: str, kw: dict[str, Any],
          weight: str) -> dict[str, Any]:
    stats = _tracetap.flamegraph(trace._reader, path, **kw)
    if weight not in ("objects", "bytes") and not stats["has_calls"]:
        raise ValueError("this recording has no call events (made with "
                         "--count or --no-calls): nothing to draw")
    return stats


def notes(stats: dict[str, Any]) -> list[str]:
    """What the drawing left out or qualifies, one sentence each."""
    out = []
    if stats["truncated"]:
        why = stats["damage"] or "it has no end-of-recording chunk"
        out.append(f"the recording was cut off ({why}); frames still open "
                   "were closed at their thread's last event (the graph's "
                   "title says so)")
    if stats["omitted"]:
        out.append(f"{stats['omitted']:,} call paths narrower than "
                   f"{100 * stats['min_share']:.3g}% of the total were not "
                   "drawn (--min-share lowers the threshold, down to the "
                   f"{MAX_FRAMES:,}-frame limit)")
    if stats["dropped"]:
        out.append(f"{stats['dropped']:,} events were lost while recording; "
                   "the times around them are lower bounds")
    return out


# ------------------------------------------------------------------ CLI


def _share(value: str) -> float:
    try:
        v = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError("must be at least 0 and below 1 "
                                         "(a fraction of the total)")
    return v


def add_flamegraph_arguments(p: argparse.ArgumentParser) -> None:
    """Adds the flame graph's options to an export parser (--thread is
    shared with the other formats and added here only if missing)."""
    g = p.add_argument_group("flamegraph")
    g.add_argument("--weight", choices=tuple(WEIGHTS), default="time",
                   help="box widths: exclusive time (default), calls, "
                   "objects created (an --objects recording) or bytes "
                   "allocated (an --objects --bytes recording)")
    g.add_argument("--icicle", action="store_true",
                   help="draw top-down: the root at the top")
    g.add_argument("--min-share", type=_share, metavar="FRACTION",
                   help="do not draw call paths narrower than this fraction "
                   f"of the total (default {DEFAULT_MIN_SHARE}; 0 draws all)")
    g.add_argument("--width", type=int, metavar="PX",
                   help="image width in pixels (default 1200)")
    g.add_argument("--title", help="title (default: the recorded command)")
    if not any("--thread" in a.option_strings for a in p._actions):
        g.add_argument("--thread", type=int, metavar="N",
                       help="only thread N (default: every thread, each "
                       "under its own frame)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """`tracetap export`'s hook (_export.FORMATS): the flame graph's
    options."""
    add_flamegraph_arguments(p)


def export(trace: Trace, fd: int, ns: argparse.Namespace) -> list[str]:
    """`tracetap export --format flamegraph`'s hook (_export.FORMATS): draws
    trace into the open descriptor fd; returns the notes for the user.
    Options the recording cannot answer exit with a usage error (2), and
    a recording with nothing to draw raises ValueError (1)."""
    parser = ns._export_parser
    if ns.width is not None and not 200 <= ns.width <= 100_000:
        parser.error("--width must be between 200 and 100000")
    nt = len(trace.threads(counts=False))
    if ns.thread is not None and not 0 <= ns.thread < nt:
        parser.error(f"no thread {ns.thread} in the recording "
                     f"({nt} threads: 0..{nt - 1})")
    with os.fdopen(os.dup(fd), "wb") as out:
        stats = export_flamegraph(
            trace, out, weight=ns.weight, icicle=ns.icicle, thread=ns.thread,
            min_share=ns.min_share, width=ns.width, title=ns.title)
    return notes(stats)
