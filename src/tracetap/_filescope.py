"""Report-time file scope of the time analyses: ``--include``/``--omit`` on
``tracetap calls`` and ``tracetap lines``, with the rule coverage's options
follow (``CoverageConfig.wanted``: fnmatch globs on absolute paths, relative
globs relative to the current directory, ``--omit`` wins).

Owns: the two options and what they keep of a call or line report. A C
function (``--c-calls``) has no file: ``--include`` leaves it out, ``--omit``
keeps it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._coverage import CoverageConfig


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--include", action="append", default=[], metavar="GLOB",
                   help="only functions whose file matches GLOB (fnmatch on "
                   "the absolute path; relative globs are relative to the "
                   "current directory; repeatable), in every format")
    p.add_argument("--omit", action="append", default=[], metavar="GLOB",
                   help="leave out functions whose file matches GLOB "
                   "(repeatable; wins over --include), in every format")


@dataclass(frozen=True)
class Scope:
    """The files in scope: coverage's rule over the two options."""
    config: CoverageConfig
    has_include: bool    # --include given: C functions (no file) are out

    def keeps(self, f: dict[str, Any]) -> bool:
        """Whether a function row (file, c_function) is in scope."""
        if f.get("c_function"):
            return not self.has_include
        return self.config.wanted(f["file"])


def from_args(ns: argparse.Namespace) -> Scope | None:
    """The scope of the parsed options, or None when both are absent
    (everything is kept)."""
    if not ns.include and not ns.omit:
        return None
    from ._coverage import CoverageConfig

    return Scope(CoverageConfig(include=list(ns.include), omit=list(ns.omit)),
                 bool(ns.include))


def restrict_calls(data: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """A call report (``_calls.analyze``) limited to the functions in scope:
    their rows, the caller/callee pairs between two of them, and the call
    tree with every frame out of scope removed, its own time charged to the
    nearest frame in scope above it (dropped where there is none) and its
    children hung there. Functions keep their measured times."""
    functions = [f for f in data["functions"] if scope.keeps(f)]
    edges = [e for e in data["edges"] if scope.keeps(e["callee"]) and
             (e["caller"] is None or scope.keeps(e["caller"]))]
    tree: list[dict[str, Any]] = []
    new_id: dict[int, int | None] = {}     # old node -> kept node (or None)
    for n in data["tree"]:                 # parents come before children
        up = None if n["parent"] is None else new_id[n["parent"]]
        if scope.keeps(n):
            node = dict(n, id=len(tree), parent=up)
            new_id[n["id"]] = node["id"]
            tree.append(node)
        else:
            new_id[n["id"]] = up
            if up is not None:
                kept = tree[up]
                kept["tottime_ns"] += n["tottime_ns"]
                kept["objects"] += n.get("objects", 0)
    return dict(data, functions=functions, edges=edges, tree=tree)


def restrict_lines(data: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """A line report (``_lines.analyze``) limited to the functions in scope."""
    return dict(data, functions=[f for f in data["functions"]
                                 if scope.keeps(f)])
