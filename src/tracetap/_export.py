"""``tracetap export``: a recording in a format another tool opens.

This module owns the subcommand's skeleton: the arguments every format
shares (FILE, ``--format``, ``-o``), opening the output, progress, the
status warnings and the exit status. Each format lives in its own module
and is one entry of :data:`FORMATS`; a new format adds an entry (and its
module), nothing else here."""

from __future__ import annotations

import argparse
import os
import stat
import sys
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["FORMATS", "ExportFormat", "add_parser", "cmd_export"]


@dataclass(frozen=True)
class ExportFormat:
    """One ``--format`` choice. ``add_arguments(parser)`` adds its options;
    ``export(trace, fd, ns)`` writes the recording to the open descriptor
    and returns what to tell the user (a list of notes). ``binary`` formats
    are not written to a terminal."""

    help: str
    binary: bool
    module: str                     # tracetap.<module> holds the two callables

    def functions(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        import importlib
        mod = importlib.import_module(f"tracetap.{self.module}")
        return mod.add_arguments, mod.export


FORMATS: dict[str, ExportFormat] = {
    "perfetto": ExportFormat(
        "Perfetto's protobuf trace: ui.perfetto.dev, trace_processor",
        binary=True, module="_timeline"),
    "chrome": ExportFormat(
        "Chrome Trace Event JSON: chrome://tracing, other viewers",
        binary=False, module="_timeline"),
    "flamegraph": ExportFormat(
        "an interactive flame graph: one SVG file for any browser",
        binary=False, module="_flamegraph"),
}

EXPORT_EPILOG = """\
Formats:
{formats}

Timelines (perfetto, chrome) show one track per thread, named as the
program named it, under a process named after the recorded command: a
slice per call, nested as the calls were (its function, file and line);
a generator's every resumption is its own slice (category "resume");
exceptions are instant events named after their type; --lines adds a
nested slice per line (for short recordings: it multiplies the size). A
recording made with --objects adds counter tracks of live objects, all and
per type (--top-types). A recording cut short (SIGKILL, a crash) or damaged
exports what it has: slices still open are closed at their thread's last
event and an instant "recording cut" marks the end.

Exit status: 0, with a warning on stderr when the recording is damaged or
incomplete; 1 when it cannot be read or the output cannot be written (the
partial output is removed); 2 for a usage error.

examples:
  tracetap export app.ttrace --format perfetto -o app.perfetto-trace
      then open https://ui.perfetto.dev and drop the file on it
  tracetap export app.ttrace --format chrome -o app.json
      then open chrome://tracing (or about:tracing) and load app.json
  tracetap export app.ttrace --format chrome -o - | gzip > app.json.gz
  tracetap export small.ttrace --format perfetto --lines -o small.perfetto-trace
"""


def add_parser(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Registers ``tracetap export`` on cli.py's subparsers."""
    import importlib
    formats = "\n".join(f"  {name:<10} {f.help}" for name, f in FORMATS.items())
    # A format module may explain itself further (its EPILOG).
    extra = []
    for module in dict.fromkeys(f.module for f in FORMATS.values()):
        text = getattr(importlib.import_module(f"tracetap.{module}"), "EPILOG", None)
        if text:
            extra.append(text)
    p = sub.add_parser(
        "export", help="write a recording for another tool (Perfetto, Chrome "
        "tracing, a flame graph)",
        description="Write a recording in a format another tool opens: a "
        "timeline for Perfetto or Chrome's trace viewer, or an interactive "
        "flame graph for a browser.",
        epilog="\n".join([EXPORT_EPILOG.format(formats=formats), *extra]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE", help="a .ttrace recording")
    p.add_argument("--format", required=True, choices=tuple(FORMATS),
                   help="what to write (required): " + ", ".join(FORMATS))
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="the file to write (required); '-' for stdout "
                   "(not a terminal, for a binary format)")
    seen: set[Callable[..., Any]] = set()
    for f in FORMATS.values():
        add_arguments, _ = f.functions()
        if add_arguments not in seen:
            seen.add(add_arguments)
            add_arguments(p)
    p.set_defaults(_export_parser=p)


def _err(msg: str) -> None:
    print(f"tracetap: {msg}", file=sys.stderr)


def cmd_export(ns: argparse.Namespace) -> int:
    """Runs ``tracetap export`` from its parsed arguments."""
    from ._progress import shown
    from ._show import warn_status
    from ._trace import Trace, TraceError

    p = ns._export_parser
    fmt = FORMATS[ns.format]
    _, export = fmt.functions()
    to_stdout = ns.output == "-"
    if to_stdout and fmt.binary and _isatty(sys.stdout):
        p.error(f"--format {ns.format} writes binary data: give -o FILE, "
                "or redirect stdout to a file or a pipe")
    try:
        trace = Trace(ns.file)
    except (OSError, TraceError) as exc:
        _err(f"error: {exc}")
        return 1
    fd = -1
    done = False
    try:
        if trace._reader.header()["options"] & 0x10:   # TT_OPT_COUNT
            _err(f"error: {ns.file} was recorded with --count: it holds line "
                 "counts, not events, so there is nothing to export "
                 "(record without --count; `tracetap coverage` reads counts)")
            return 1
        try:
            if to_stdout:
                sys.stdout.flush()
                fd = sys.stdout.fileno()
            else:
                fd = os.open(ns.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        except OSError as exc:
            _err(f"error: cannot write {ns.output}: {exc.strerror or exc}")
            return 1
        try:
            with shown(sys.stderr):
                notes = export(trace, fd, ns)
            done = True
        except (TraceError, ValueError) as exc:
            # ValueError: an option this recording cannot answer
            # (a flame graph of objects from a recording without them).
            _err(f"error: {exc}")
            return 1
        except OSError as exc:
            _err(f"error: writing {ns.output}: {exc.strerror or exc}")
            return 1
        warn_status(trace)
        for n in notes:
            _err(f"note: {n}")
        return 0
    finally:
        if fd >= 0 and not to_stdout:
            os.close(fd)
            if not done:
                _remove(ns.output)
        trace.close()


def _remove(path: str) -> None:
    """Removes what tracetap wrote at path: a regular file only, never a
    device or a FIFO the output named (`-o /dev/null` as root)."""
    try:
        if stat.S_ISREG(os.lstat(path).st_mode):
            os.unlink(path)
    except OSError:
        pass


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
