"""Source text of recorded files: the one way every command that shows
source (``events``, ``coverage --format annotate``) reads it.

A recording names files it did not choose (compile() takes any name) and
may come from elsewhere, so a named path is read only if it is a regular
file of bounded size, opened without blocking (a FIFO, a terminal or
/dev/zero is refused before any read), that is Python source (it compiles:
/etc/passwd does not), and that is still the file that ran: the same size
and CRC-32C as the recording's SOURCE record says (FORMAT.md §5), or, in
a recording without one, not modified after the recording started.
Anything else gives no source and a reason, said once per file.
"""

from __future__ import annotations

import io
import os
import stat
from typing import Any

__all__ = ["MAX_SOURCE_BYTES", "SourceCache", "read_source", "source_lines"]

MAX_SOURCE_BYTES = 4 << 20  # larger "source" is not shown


def read_source(path: str, not_after_ns: int | None = None,
                identity: dict[str, Any] | None = None, *,
                limit: int = MAX_SOURCE_BYTES
                ) -> tuple[bytes | None, str | None]:
    """(the file's bytes, None), or (None, why not). `identity`: what the
    recording says identified the file (Reader.sources(): size, mtime_ns,
    crc32c); the file must still match it (same size and content, or same
    size and mtime when it was not hashed). Without one (a recording of an
    older tracetap), `not_after_ns`, the recording's start (Unix ns): a
    file modified after it has changed since it ran. Never blocks, never
    reads more than `limit` + 1 bytes, never raises OSError."""
    if not path or path.startswith("<") or not os.path.isabs(path):
        return None, "not a file"
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | \
        getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        return None, exc.strerror or str(exc)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, "not a regular file"
        if st.st_size > limit:
            return None, f"larger than {limit >> 20} MiB"
        if identity is None and not_after_ns is not None and \
                st.st_mtime_ns > not_after_ns:
            return None, "modified after the recording started, so its " \
                "lines may not be the recorded ones"
        chunks, left = [], limit + 1
        while left > 0:
            b = os.read(fd, min(left, 1 << 16))
            if not b:
                break
            chunks.append(b)
            left -= len(b)
        data = b"".join(chunks)
    except OSError as exc:
        return None, exc.strerror or str(exc)
    finally:
        os.close(fd)
    if len(data) > limit:
        return None, f"larger than {limit >> 20} MiB"
    if identity is not None:
        why = _changed(identity, data, st.st_mtime_ns)
        if why is not None:
            return None, why
    import warnings

    try:
        with warnings.catch_warnings():  # its SyntaxWarnings are not ours
            warnings.simplefilter("ignore")
            compile(data, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):  # ValueError: a NUL byte
        return None, "not Python source"
    return data, None


def _changed(identity: dict[str, Any], data: bytes, mtime_ns: int
             ) -> str | None:
    """Why the file's content is not the recorded one, or None."""
    from . import _tracetap

    if len(data) != identity["size"]:
        return (f"changed since the recording ({len(data):,} bytes now, "
                f"{identity['size']:,} when recorded), so its lines are not "
                "the recorded ones")
    if identity["crc32c"] is not None:
        if _tracetap.crc32c(data) != identity["crc32c"]:
            return ("changed since the recording (same size, other "
                    "content), so its lines are not the recorded ones")
    elif mtime_ns != identity["mtime_ns"]:
        return ("modified since the recording (too large to have been "
                "hashed), so its lines may not be the recorded ones")
    return None


def source_lines(data: bytes) -> list[str]:
    """The lines as the interpreter numbers them (\\n, \\r\\n or \\r),
    decoded as the file declares (PEP 263), bad bytes replaced."""
    import tokenize

    try:
        enc, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        enc = "utf-8"
    text = io.TextIOWrapper(io.BytesIO(data), encoding=enc, errors="replace",
                            newline=None)
    return text.readlines()


class SourceCache:
    """Lines of recorded files, each file read once through read_source
    (with its recorded identity, if any). ``problems`` maps each file that
    gave no source to the reason."""

    def __init__(self, not_after_ns: int | None = None,
                 identities: dict[str, dict[str, Any]] | None = None) -> None:
        self._not_after = not_after_ns
        self._ids = identities or {}
        self._files: dict[str, list[str] | None] = {}
        self.problems: dict[str, str] = {}

    def line(self, path: str, lineno: int) -> str | None:
        """Line `lineno` (1-based) of path without its newline, "" past
        the end, or None when the file gives no source."""
        lines = self._files.get(path, ())
        if lines == ():
            data, why = read_source(path, self._not_after,
                                    self._ids.get(path))
            lines = source_lines(data) if data is not None else None
            self._files[path] = lines
            if why is not None and not path.startswith("<"):
                self.problems[path] = why
        if lines is None:
            return None
        if 1 <= lineno <= len(lines):
            return lines[lineno - 1].rstrip("\r\n")
        return ""
