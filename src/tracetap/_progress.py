"""A progress line on stderr for long reads (``tracetap objects``,
``tracetap coverage``): the C reader calls back every 65,536 events
(``_tracetap.set_progress``); the line appears only on a terminal, only
once a read has taken a second, and is erased when the read ends.
Ctrl-C stops a read whether or not the line is shown."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Callable, TextIO

from . import _tracetap
from ._text import printable

__all__ = ["ProgressLine", "shown"]


class ProgressLine:
    """The callable handed to the reader: ``line(path, done, total)``."""

    def __init__(self, stream: TextIO, *, after: float = 1.0,
                 every: float = 0.25,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.after = after
        self.every = every
        self.clock = clock
        self.started = clock()
        self.last = 0.0
        self.width = 0           # of what is on the line now

    def __call__(self, path: str | os.PathLike[str], done: int,
                 total: int) -> None:
        now = self.clock()
        if now - self.started < self.after or now - self.last < self.every:
            return
        self.last = now
        pct = f"{min(done * 100 // total, 99):>2}%" if total else ""
        name = printable(os.path.basename(os.fspath(path)))
        text = f"tracetap: reading {name} {pct} ({_m(done)} of {_m(total)} events)"
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def close(self) -> None:
        """Erases the line, if one was written."""
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


def _m(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1_000_000 else f"{n:,}"


@contextmanager
def shown(stream: TextIO) -> Iterator[None]:
    """Shows a progress line on `stream` (if it is a terminal) for the
    reads made inside the block."""
    # The line's own "\r" must reach the terminal: below the escaping
    # wrapper of the reading commands (the name is escaped above).
    stream = getattr(stream, "raw_stream", stream)
    line = ProgressLine(stream) if _isatty(stream) else None
    old = _tracetap.set_progress(line)
    try:
        yield
    finally:
        _tracetap.set_progress(old)
        if line is not None:
            line.close()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
