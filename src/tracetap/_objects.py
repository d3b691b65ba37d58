"""Object lifetimes: ``Trace.objects()`` and ``tracetap objects``.

The analysis (the live-table replay, per-type and per-site statistics,
lifetimes, survivor verification) is libtt's (``tt_analyze_objects.c``); this
module names things and lays them out. A survivor is presented as a leak
only when the recording verified it alive at stop: on interpreters with a
known DESTROY gap the others are listed apart, with the reason.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, TextIO

from . import _tracetap
from ._text import printable

if TYPE_CHECKING:
    from ._trace import Trace

__all__ = ["analyze", "format_text", "format_json", "chain_text",
           "IMPORTS_MODES"]

# How survivors made while importing modules are presented: apart from the
# program's (default), left out, or mixed in with them.
IMPORTS_MODES = ("apart", "hide", "mixed")

# Notes that explain an incomplete view of deaths, in presentation order.
_GAP_NOTES = ("objects.tracer_replaced", "destroy_gap.eval_loop",
              "destroy_gap.trashcan", "destroy_gap.address_reuse",
              "destroy_gap.selftest", "objects.check_failed",
              "objects.out_of_memory", "objects.survivors",
              "objects.no_sites")
# Of those, the interpreter's known DESTROY gaps (and what tracetap did
# about them): they change the report only through unverified survivors
# and deaths proven missing, so they are shown only then, in one line; the
# whole story is in `tracetap objects --help` and docs/objects.md.
_INTERPRETER_GAPS = {"destroy_gap.eval_loop": "gh-130382",
                     "destroy_gap.trashcan": "gh-156371"}
_GAP_DETAILS = ("destroy_gap.address_reuse", "destroy_gap.selftest",
                "objects.survivors")


def chain_text(chain: list[dict[str, str]]) -> str:
    """A referrer chain as one line: ``module 'app' -> dict['REG'] -> Bus``
    (names are the recording's: pass the result through ``printable``
    before a terminal)."""
    def step(s: dict[str, str]) -> str:
        if s["kind"] == "module":
            return f"module '{s['name']}'"
        if s["kind"] == "class":
            return f"class '{s['name']}'"
        if s["kind"] == "frame":
            return f"frame {s['name']}"
        return s["name"]
    return " -> ".join(step(s) for s in chain)


def analyze(trace: Trace | str | os.PathLike[str],
            imports: str = "apart") -> dict[str, Any]:
    """The object report of a recording (see ``Trace.objects``), read
    through the Trace's open file (a path is opened as a Trace here).

    ``survivors`` are the verified survivors the program made while it
    ran; those made while a module was being imported (module state) are
    in ``import_survivors`` with ``imports="apart"`` (default), left out
    with ``"hide"``, or counted in ``survivors`` with ``"mixed"``. A
    survivor group whose sample's referrer chain was found at stop has
    ``why_alive`` (the chain as text) and ``why_alive_chain``."""
    from ._trace import Trace

    if imports not in IMPORTS_MODES:
        raise ValueError(f"imports must be one of {IMPORTS_MODES}, "
                         f"not {imports!r}")
    if not isinstance(trace, Trace):
        with Trace(trace) as t:
            return analyze(t, imports)
    data = _tracetap.objects(trace._reader)
    st = trace.status()
    data["recording"] = {"path": trace.path, **st}
    why = {}
    for p in data["paths"]:
        p["text"] = chain_text(p["chain"])
        if p["site"] is not None:
            why.setdefault(_ident(p["site"]), p)
    survivors, from_imports, unverified = [], [], []
    for site in data["sites"]:
        verified = site["survived"] - site["unverified"]
        by_import = site["survived_import"] - site["unverified_import"]
        if imports != "mixed":
            verified -= by_import
        key = _key(site)
        p = why.get(_ident(site))
        if p is not None:
            key["why_alive"] = p["text"]
            key["why_alive_chain"] = p["chain"]
        if verified > 0:
            survivors.append({**key, "count": verified})
        if by_import > 0 and imports == "apart":
            from_imports.append({**key, "count": by_import})
        if site["unverified"] > 0:
            unverified.append({**_key(site), "count": site["unverified"]})
    for lst in (survivors, from_imports, unverified):
        lst.sort(key=lambda s: (-s["count"], s["file"] or "", s["line"] or 0))
    data["survivors"] = survivors
    data["imports"] = imports
    if imports == "apart":
        data["import_survivors"] = from_imports
    data["unverified_survivors"] = unverified
    data["bytes"] = _bytes(_tracetap.allocs(trace._reader))
    return data


def _ident(site: dict[str, Any]) -> tuple[Any, ...]:
    return (site["file"], site["line"], site["func"], site["type"])


def _bytes(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """The --bytes data grouped by innermost line: each line's totals, and
    its creation stacks (innermost frame first) with theirs."""
    if raw is None:
        return None
    keys = ("allocs", "alloc_bytes", "frees", "freed_bytes", "live_bytes",
            "live_blocks", "peak_bytes")
    lines: dict[tuple[Any, ...], dict[str, Any]] = {}
    for site in raw["sites"]:
        top = site["stack"][0] if site["stack"] else \
            {"file": None, "line": None, "func": None}
        k = (top["file"], top["line"], top["func"])
        row = lines.get(k)
        if row is None:
            row = lines[k] = {"file": top["file"], "line": top["line"],
                              "func": top["func"], **{n: 0 for n in keys},
                              "stacks": []}
        for n in keys:
            row[n] += site[n]
        row["stacks"].append(site)
    rows = sorted(lines.values(), key=lambda r: (-r["live_bytes"],
                                                 -r["alloc_bytes"]))
    for r in rows:
        r["stacks"].sort(key=lambda st: (-st["live_bytes"], -st["alloc_bytes"]))
    types = [{**{n: t[n] for n in keys}, "type": t["type"],
              "buffers": t["type"] is None} for t in raw.get("types", [])]
    return {"totals": raw["totals"], "lines": rows, "types": types,
            "samples": raw["samples"]}


BUFFERS = "buffers (no object)"


def _type_name(t: dict[str, Any]) -> str:
    return BUFFERS if t["type"] is None else printable(t["type"])


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _format_bytes(b: dict[str, Any], out: TextIO, limit: int,
                  stacks: bool) -> None:
    t = b["totals"]
    out.write(f"\nBytes (--bytes, stacks of up to {t['depth']} traced "
              f"frames): {_size(t['alloc_bytes'])} in {t['allocs']:,} "
              f"blocks allocated, {_size(t['live_bytes'])} alive at stop, "
              f"peak {_size(t['peak_bytes'])} at "
              f"{t['peak_ns'] / 1e9:.3f} s\n")
    if t["lost"]:
        out.write(f"  {t['lost']:,} block(s) not tracked (out of memory)\n")
    if t.get("partial"):
        out.write("  the recording was cut short: bytes per line and type "
                  "as of its last flush, totals as of its end\n")
    if b["types"]:
        out.write("\nBytes per type (the block each object was created in; "
                  f"{BUFFERS}: every other block):\n")
        w = max([len("type")] + [len(_type_name(r)) for r in b["types"][:limit]])
        out.write(f"  {'type':<{w}}  {'live':>10}  {'at peak':>10}  "
                  f"{'allocated':>10}  {'blocks':>10}\n")
        for r in b["types"][:limit]:
            out.write(f"  {_type_name(r):<{w}}  {_size(r['live_bytes']):>10}  "
                      f"{_size(r['peak_bytes']):>10}  "
                      f"{_size(r['alloc_bytes']):>10}  {r['allocs']:>10,}\n")
        if len(b["types"]) > limit:
            out.write(f"  ... {len(b['types']) - limit} more types\n")
    for title, key in (("Top lines by live bytes at stop", "live_bytes"),
                       ("At the peak", "peak_bytes"),
                       ("Top lines by bytes allocated", "alloc_bytes")):
        rows = sorted((r for r in b["lines"] if r[key]),
                      key=lambda r: -r[key])[:limit]
        out.write(f"\n{title}:\n")
        if not rows:
            out.write("  none\n")
        for r in rows:
            func = f" ({printable(r['func'])})" if r["func"] else ""
            out.write(f"  {_size(r[key]):>10}  {_where(r)}{func}\n")
            if not stacks:
                continue
            for st in r["stacks"]:
                if not st[key]:
                    continue
                out.write(f"    {_size(st[key]):>10}  ")
                out.write(" <- ".join(
                    f"{_where(f)}" for f in st["stack"]) or
                    "<no Python frame>")
                out.write("\n")


def _key(site: dict[str, Any]) -> dict[str, Any]:
    return {"file": site["file"], "line": site["line"],
            "func": site["func"], "type": site["type"]}


def _where(site: dict[str, Any]) -> str:
    if site["file"] is None:
        return "<no Python frame>"
    line = site["line"] if site["line"] is not None else "?"
    return f"{printable(site['file'])}:{line}"


def _ns(v: int | None) -> str:
    if v is None:
        return "-"
    if v == 0:
        return "0"              # below the object clock's resolution
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if v >= scale:
            return f"<{v / scale:.3g}{unit}"
    return f"<{v}ns"


def format_text(data: dict[str, Any], out: TextIO, limit: int = 20,
                stacks: bool = False) -> None:
    """Writes the human report: totals, gaps, per type, top creation sites
    and the verified survivors grouped by site; with --bytes data, bytes
    by line (each expanded to its creation stacks with ``stacks``)."""
    if not data["recorded"]:
        out.write("This recording has no object data (record with "
                  "--objects, CPython 3.13+).\n")
        return
    rec = data.get("recording", {})
    if rec.get("state", "complete") != "complete":
        from ._show import IN_PROGRESS, loss_sentence

        if rec["being_written"]:
            out.write(f"Warning: this recording is {IN_PROGRESS}.\n")
        lost = loss_sentence(rec)
        if lost:
            out.write(f"Warning: {lost}.\n")
    t = data["totals"]
    end = "alive at stop" if data["checked"] else "alive when the file ends"
    out.write(f"Objects: {t['created']:,} created, {t['destroyed']:,} "
              f"destroyed, {t['survived']:,} {end}"
              f" ({t['survived'] - t['unverified']:,} verified)\n")
    if t["died_unseen"]:
        out.write(f"  {t['died_unseen']:,} died without a DESTROY event "
                  f"(proven by address reuse or at stop)\n")
    if t["filtered"]:
        out.write(f"  {t['filtered']:,} frame/int objects made by "
                  f"tracetap's own tracing were left out\n")
    notes = data["notes"]
    shown = [k for k in _GAP_NOTES if k in notes and k not in _INTERPRETER_GAPS
             and k not in _GAP_DETAILS]
    gaps = [bug for k, bug in _INTERPRETER_GAPS.items() if k in notes]
    if gaps and (t["unverified"] or t["died_unseen"]):
        out.write(f"  deaths are incomplete on this interpreter "
                  f"({', '.join(gaps)}): that is why "
                  + " and ".join(x for x in (
                      f"{t['unverified']:,} survivor(s) are unverified"
                      if t["unverified"] else "",
                      f"{t['died_unseen']:,} death(s) were inferred"
                      if t["died_unseen"] else "") if x)
                  + " (see tracetap objects --help)\n")
    elif not gaps:
        shown = [k for k in _GAP_NOTES if k in notes]
    if shown:
        out.write("\nDeaths are incomplete in this recording:\n")
        for k in shown:
            out.write(f"  {k}: {printable(notes[k])}\n")

    out.write("\nPer type (lifetimes: upper bound of the log2 bucket):\n")
    rows = sorted(((printable(n), s) for n, s in data["types"].items()),
                  key=lambda kv: -kv[1]["created"])
    w = max([len("type")] + [len(n) for n, _ in rows[:limit]])
    out.write(f"  {'type':<{w}}  {'created':>10}  {'destroyed':>10}  "
              f"{'alive':>8}  {'p50':>8}  {'p90':>8}  {'p99':>8}\n")
    for name, s in rows[:limit]:
        out.write(f"  {name:<{w}}  {s['created']:>10,}  {s['destroyed']:>10,}"
                  f"  {s['survived']:>8,}  {_ns(s['lifetime_p50_ns']):>8}"
                  f"  {_ns(s['lifetime_p90_ns']):>8}"
                  f"  {_ns(s['lifetime_p99_ns']):>8}\n")
    if len(rows) > limit:
        out.write(f"  ... {len(rows) - limit} more types\n")

    out.write("\nTop creation sites:\n")
    sites = data["sites"][:limit]
    ww = max([len("file:line")] + [len(_where(s)) for s in sites])
    wt = max([len("type")] + [len(printable(s["type"])) for s in sites])
    out.write(f"  {'file:line':<{ww}}  {'type':<{wt}}  {'created':>10}  "
              f"{'survived':>8}\n")
    for s in sites:
        out.write(f"  {_where(s):<{ww}}  {printable(s['type']):<{wt}}  "
                  f"{s['created']:>10,}  {s['survived']:>8,}\n")
    if len(data["sites"]) > limit:
        out.write(f"  ... {len(data['sites']) - limit} more sites\n")

    imports = data.get("imports", "mixed")
    _survivor_list(out, data["survivors"], limit,
                   "Survivors (verified alive at stop), largest first"
                   + (", made by the program as it ran (module state made "
                      "by imports is below)" if imports == "apart" else
                      ", module state made by imports left out"
                      if imports == "hide" else "") + ":")
    if imports == "apart":
        _survivor_list(out, data["import_survivors"], limit,
                       "Module state: survivors made while modules were "
                       "being imported (tracetap objects --no-imports "
                       "leaves them out):")
    unv = data["unverified_survivors"]
    if unv:
        n = sum(s["count"] for s in unv)
        why = ("its reference tracer was replaced"
               if "objects.tracer_replaced" in notes else
               "the recording ended before the stop-time check"
               if not data["checked"] else
               "a known DESTROY gap could have hidden their deaths and the "
               "collector could not confirm them alive")
        out.write(f"\n{n:,} further object(s) outlived the recording as far "
                  f"as the events show, but are not reported as leaks: "
                  f"{why}.\n")
    elif not data["checked"]:
        out.write("\nNo survivor can be reported: the recording ended before "
                  "the stop-time check, and the events of the objects made "
                  "last (still buffered when it ended) did not reach the "
                  "file.\n")
    if data.get("bytes") is not None:
        _format_bytes(data["bytes"], out, limit, stacks)


def _survivor_list(out: TextIO, surv: list[dict[str, Any]], limit: int,
                   title: str) -> None:
    out.write(f"\n{title}\n")
    if not surv:
        out.write("  none\n")
    for s in surv[:limit]:
        func = f" ({printable(s['func'])})" if s["func"] else ""
        out.write(f"  {s['count']:>8,}  {printable(s['type'])}  "
                  f"{_where(s)}{func}\n")
        if "why_alive" in s:
            out.write(f"            alive through: "
                      f"{printable(s['why_alive'])}\n")
    if len(surv) > limit:
        out.write(f"  ... {len(surv) - limit} more sites\n")


def format_json(data: dict[str, Any], out: TextIO) -> None:
    """Writes the report as JSON (``tracetap objects --format json``)."""
    json.dump(data, out, indent=1, sort_keys=False)
    out.write("\n")
