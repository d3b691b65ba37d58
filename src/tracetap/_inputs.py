"""What the reading commands take as input: files and directories.

Owns the one rule by which a directory stands for the recordings in it (a
followed run writes one file per process there, _follow.py), and the
process tree read from those files' process notes. Reads headers and notes
only; the analyses merge what they read.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any


class InputError(ValueError):
    """A path that names no recording (an empty directory)."""


def expand(paths: Iterable[str]) -> list[str]:
    """The recordings `paths` name, in order: a directory stands for its
    *.ttrace files (sorted by name, not recursively), anything else for
    itself (opening it reports what is wrong). Raises InputError for a
    directory without recordings."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            found = sorted(
                os.path.join(p, n) for n in os.listdir(p)
                if n.endswith(".ttrace") and os.path.isfile(os.path.join(p, n))
            )
            if not found:
                raise InputError(f"cannot read {p}: a directory with no .ttrace recordings")
            out += found
        else:
            out.append(p)
    return out


def refuse_directory(path: str, command: str) -> str | None:
    """For the commands that show one recording (events, export): an error
    message when `path` is a directory, else None."""
    if not os.path.isdir(path):
        return None
    return (f"{path} is a directory; `tracetap {command}` shows one "
            f"recording: give one of its files (`tracetap info {path}` "
            "lists the processes and their files)")


def process(notes: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The process notes of a file (pid, ppid, how, root; None when the
    file has none: a recording made without following)."""
    d = dict(notes)
    out: dict[str, Any] = {}
    for key in ("pid", "ppid", "root"):
        v = d.get("process." + key)
        out[key] = int(v) if v is not None and v.isdigit() else None
    out["how"] = d.get("process." + "how")
    return out


def tree(rows: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Orders processes (dicts with "pid" and "ppid") as a tree, depth
    first, children by start time: [(depth, row)]. A process whose parent
    was not recorded (a shell in between, or a file not given) is a root."""
    by_pid = {r["pid"]: r for r in rows if r["pid"] is not None}
    kids: dict[Any, list[dict[str, Any]]] = {}
    roots = []
    for r in rows:
        parent = r["ppid"] if r["ppid"] in by_pid and r["ppid"] != r["pid"] else None
        if parent is None:
            roots.append(r)
        else:
            kids.setdefault(parent, []).append(r)
    out: list[tuple[int, dict[str, Any]]] = []

    def walk(r: dict[str, Any], depth: int) -> None:
        out.append((depth, r))
        for k in sorted(kids.get(r["pid"], []), key=lambda x: x["start_ns"]):
            walk(k, depth + 1)

    for r in sorted(roots, key=lambda x: x["start_ns"]):
        walk(r, 0)
    return out
