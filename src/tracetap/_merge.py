"""Merging the call and line reports of several recordings (the processes
of a followed run, or several runs) into one report of the same shape.

Owns the merge rules: a function is the same function in every recording
when its (file, first line, name) agree, and gets one code id; its rows
over all threads (``thread`` None) are summed across recordings; threads
are numbered on (the second recording's first thread comes after the
first recording's last), so per-thread rows stay apart; call trees are put
side by side. Pure Python over the dicts of _calls.analyze and
_lines.analyze; reads no file.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_ALL_OF = ("clean_end",)  # summary booleans that hold only if they hold everywhere


def _summary(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Numbers summed, flags any (clean_end: all), the first damage."""
    out: dict[str, Any] = {}
    for s in parts:
        for k, v in s.items():
            if k not in out:
                out[k] = v
            elif isinstance(v, bool):
                out[k] = (out[k] and v) if k in _ALL_OF else (out[k] or v)
            elif isinstance(v, int) and isinstance(out[k], int):
                out[k] += v
            elif out[k] is None:
                out[k] = v
    return out


class _Ids:
    """One code id per (file, line, func) across recordings."""

    def __init__(self) -> None:
        self.ids: dict[tuple[Any, ...], int] = {}

    def code(self, row: dict[str, Any]) -> int:
        key = (row["file"], row["line"], row["func"], row.get("c_function"))
        return self.ids.setdefault(key, len(self.ids) + 1)


def _renumber_threads(data: dict[str, Any], base: int) -> list[dict[str, Any]]:
    return [dict(t, thread=t["thread"] + base) for t in data["threads"]]


def _fold(rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any],
          add: Callable[[dict[str, Any], dict[str, Any]], None]) -> list[dict[str, Any]]:
    """Rows of every thread kept; rows over all threads (thread None) with
    the same key folded into the first by `add`."""
    out: list[dict[str, Any]] = []
    seen: dict[Any, dict[str, Any]] = {}
    for r in rows:
        if r["thread"] is not None:
            out.append(r)
            continue
        k = key(r)
        if k in seen:
            add(seen[k], r)
        else:
            seen[k] = r
            out.append(r)
    return out


_SUMMED = ("calls", "primitive_calls", "resumes", "primitive_resumes",
           "tottime_ns", "cumtime_ns", "hits", "time_ns", "own_ns",
           "entry_ns", "entry_own_ns")


def _add_sums(into: dict[str, Any], r: dict[str, Any]) -> None:
    for k in _SUMMED:
        if k in into:
            into[k] += r[k]
    for k, pick in (("min_ns", min), ("max_ns", max)):
        if k in into:
            vals = [v for v in (into[k], r[k]) if v is not None]
            into[k] = pick(vals) if vals else None


def _add_lines(into: dict[str, Any], r: dict[str, Any]) -> None:
    _add_sums(into, r)
    into["last_line"] = max(into["last_line"], r["last_line"])
    by_line = {ln["line"]: ln for ln in into["lines"]}
    for ln in r["lines"]:
        if ln["line"] in by_line:
            for k in ("hits", "time_ns", "own_ns"):
                by_line[ln["line"]][k] += ln[k]
        else:
            into["lines"].append(dict(ln))
    into["lines"].sort(key=lambda ln: ln["line"])


def merge_calls(datas: list[dict[str, Any]]) -> dict[str, Any]:
    """One call report (_calls.analyze's shape) from several."""
    ids = _Ids()
    threads: list[dict[str, Any]] = []
    functions: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    tree: list[dict[str, Any]] = []
    for data in datas:
        base = len(threads)
        node_base = len(tree)
        threads += _renumber_threads(data, base)

        def moved(r: dict[str, Any]) -> dict[str, Any]:
            return dict(r, thread=None if r["thread"] is None else r["thread"] + base)

        for f in data["functions"]:
            functions.append(dict(moved(f), code=ids.code(f)))
        for e in data["edges"]:
            caller = e["caller"] and dict(e["caller"], code=ids.code(e["caller"]))
            edges.append(dict(moved(e), caller=caller,
                              callee=dict(e["callee"], code=ids.code(e["callee"]))))
        for n in data["tree"]:
            tree.append(dict(n, id=n["id"] + node_base, code=ids.code(n),
                             thread=n["thread"] + base,
                             parent=None if n["parent"] is None else n["parent"] + node_base))
    functions = _fold(functions, lambda f: f["code"], _add_sums)
    edges = _fold(edges, lambda e: (e["caller"] and e["caller"]["code"],
                                    e["callee"]["code"]), _add_sums)
    return {"summary": _summary([d["summary"] for d in datas]),
            "threads": threads, "functions": functions, "edges": edges, "tree": tree}


def merge_lines(datas: list[dict[str, Any]]) -> dict[str, Any]:
    """One line report (_lines.analyze's shape) from several."""
    ids = _Ids()
    threads: list[dict[str, Any]] = []
    functions: list[dict[str, Any]] = []
    for data in datas:
        base = len(threads)
        threads += _renumber_threads(data, base)
        for f in data["functions"]:
            functions.append(dict(
                f, code=ids.code(f), lines=[dict(ln) for ln in f["lines"]],
                thread=None if f["thread"] is None else f["thread"] + base))
    functions = _fold(functions, lambda f: f["code"], _add_lines)
    return {"summary": _summary([d["summary"] for d in datas]),
            "threads": threads, "functions": functions}
