"""Text from a recording made safe to print: the one escaping rule of every
text output (``events``, ``info``, ``objects``, ``calls``, ``coverage``,
warnings and errors on stderr).

A recording holds strings a program chose (file names given to compile(),
qualnames, argv, thread names, exception names, notes): written raw, a
control character in one of them drives the terminal that shows it. This
module owns the rule; JSON outputs need none (json escapes them). The C
text exporters follow the same rule (tt_fput_printable in libtt).
"""

from __future__ import annotations

import re
from typing import Any, TextIO

__all__ = ["OutputError", "open_output", "printable", "SafeText"]

# C0 controls, DEL, C1 controls (U+0080-U+009F: 8-bit CSI, OSC...), lone
# surrogates (bytes that were not UTF-8, decoded with surrogateescape) and
# the bidirectional overrides that reorder what a terminal shows.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
_UNSAFE_KEEP_NL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    if 0xDC80 <= c <= 0xDCFF:  # an undecodable byte (surrogateescape)
        return f"\\x{c - 0xDC00:02x}"
    if c <= 0xFF:
        return f"\\x{c:02x}"
    return f"\\u{c:04x}"


def printable(s: Any, *, keep_newlines: bool = False) -> str:
    """``str(s)`` with every control character, undecodable byte and
    bidirectional override written as a backslash escape (``\\x1b``,
    ``\\x9b``, ``\\u202e``). With keep_newlines, newlines stay (for
    whole reports, whose layout is ours); without, a name cannot start a
    line of its own."""
    s = str(s)
    pattern = _UNSAFE_KEEP_NL if keep_newlines else _UNSAFE
    return pattern.sub(_escape, s)


class OutputError(Exception):
    """Writing the output failed (a full disk, /dev/full): not an OSError,
    so that code reading a recording cannot take it for a read error."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(exc.strerror or str(exc))
        self.errno = exc.errno


class SafeText:
    """A text stream that writes through :func:`printable` (newlines
    kept): what a reading command prints to stdout or stderr goes through
    one of these, so no recorded string reaches the terminal raw. A failed
    write raises OutputError (BrokenPipeError stays itself: `| head`)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    @property
    def raw_stream(self) -> TextIO:
        """The stream below, for the progress line's own "\\r" (_progress)."""
        return self._stream

    def write(self, s: str) -> int:
        try:
            self._stream.write(printable(s, keep_newlines=True))
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(exc) from None
        return len(s)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(exc) from None

    def fileno(self) -> int:
        return self._stream.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def open_output(path: str) -> SafeText:
    """The file a reading command writes with ``-o`` (``lines``, ``calls``):
    the same rule as its stdout, so that a report written to a file holds
    no raw control character either (a JSON report is unchanged by it:
    json escapes them itself). The caller closes it (``.close()``)."""
    return SafeText(open(path, "w", encoding="utf-8"))
