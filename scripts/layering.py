#!/usr/bin/env python3
"""The symbol-reference graph of the extension (src/ext), from its objects.

Reads `nm` of every object file of a built extension (a meson build dir,
e.g. build/py-3.14.7), maps each defined global symbol to the file that
defines it, and each undefined one to the file that needs it, then:

  --files     prints every file -> file edge (who uses whom);
  --parts     prints the part -> part edges with the symbols behind them;
  (default)   checks the layering rule and exits 1 when it is broken.

The rule (docs/DESIGN.md, "The extension's parts"): a part is the folder a
file lives in (src/ext/capture, src/ext/objects, src/ext/bindings);
src/ext/module.c (the method table) is "module", the other files at
src/ext's top level (core.c) are "core". Allowed edges:

  module   -> capture, objects, bindings, core   (the method table)
  capture, objects, bindings -> core             (state, error conversion)
  objects  -> capture        (capture's published interface)
  capture  -> objects        (the one documented back edge: the hooks call
                              the objects side's settle/own/thread-ended
                              hooks, and start/stop drive it)

Any other part edge, or a strongly connected set of files that spans more
than capture and objects, is an error. Each part's public header
(core.h, capture/capture.h, objects/objects_api.h, bindings/bindings.h)
must declare exactly the functions and variables of that part that other
parts use: one used elsewhere but not declared there, or declared there
but used by no other part (checked on builds with the ref tracer, 3.13+),
is an error too. Usage:

  python3 scripts/layering.py build/py-3.14.7 [--files|--parts]
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

PARTS = ("capture", "objects", "bindings")
ALLOWED = {
    ("module", "capture"), ("module", "objects"), ("module", "bindings"),
    ("module", "core"),
    ("capture", "core"), ("objects", "core"), ("bindings", "core"),
    ("objects", "capture"), ("capture", "objects"),
}
PUBLIC = {"core": "core.h", "capture": "capture/capture.h",
          "objects": "objects/objects_api.h", "bindings": "bindings/bindings.h"}


def part_of(src: str) -> str:
    """The part of a source path relative to src/ext ('capture/x.c')."""
    head = src.split("/", 1)[0]
    if head in PARTS and "/" in src:
        return head
    return "module" if src == "module.c" else "core"


def objects(build: Path) -> dict[str, Path]:
    """source path under src/ext -> its object file, for one build dir."""
    found: dict[str, Path] = {}
    for d in (build / "src" / "ext").glob("_tracetap*.so.p"):
        for o in d.rglob("*.o"):
            rel = o.relative_to(d).as_posix()[:-2]          # capture_capture.c
            # meson flattens 'capture/capture.c' into 'capture_capture.c'
            # or keeps the folder, depending on its version: map both.
            found[rel] = o
    return found


def source_name(obj_rel: str, ext_dir: Path) -> str:
    if (ext_dir / obj_rel).exists():
        return obj_rel
    for part in PARTS:
        if obj_rel.startswith(part + "_") and (ext_dir / part / obj_rel[len(part) + 1:]).exists():
            return f"{part}/{obj_rel[len(part) + 1:]}"
    return obj_rel


def nm(o: Path) -> tuple[set[str], set[str]]:
    out = subprocess.run(["nm", "-g", str(o)], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 2 and f[0] == "U":
            undefined.add(f[1])
        elif len(f) == 3 and f[1] not in "Uw":
            defined.add(f[2])
    return defined, undefined


def graph(build: Path, ext_dir: Path) -> dict[tuple[str, str], set[str]]:
    """(user file, provider file) -> the symbols the user takes from it;
    the key (file, "") holds every global symbol the file defines."""
    owner: dict[str, str] = {}
    needs: dict[str, set[str]] = {}
    for rel, o in sorted(objects(build).items()):
        src = source_name(rel, ext_dir)
        d, u = nm(o)
        for s in d:
            owner[s] = src
        needs[src] = u
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for s, src in owner.items():
        edges[(src, "")].add(s)
    for src, u in needs.items():
        for s in u:
            if s in owner and owner[s] != src:
                edges[(src, owner[s])].add(s)
    return edges


def declared(header: Path) -> set[str]:
    """Names a header declares as functions or variables (not inline
    functions, macros or types): prototypes and extern declarations."""
    text = re.sub(r"/\*.*?\*/", " ", header.read_text(), flags=re.S)
    text = re.sub(r"^\s*#.*$", " ", text, flags=re.M)
    names = set()
    depth = 0
    stmt = ""
    skip = False               # the statement ends a struct or typedef
    for ch in text:            # top-level statements only (skip bodies)
        if ch == "{":
            depth += 1
            if depth == 1:
                skip = "(" not in stmt   # else an inline function's body
                stmt = ""
        elif ch == "}":
            depth -= 1
        elif depth == 0:
            if ch == ";":
                s = " ".join(stmt.split())
                stmt, was_skip, skip = "", skip, False
                if was_skip or not s or s.startswith(("typedef", "struct")):
                    continue
                s = re.sub(r"__attribute__\s*\(\(.*\)\)", "", s)
                m = re.search(r"(\w+)\s*\((?:[^()]|\([^()]*\))*\)\s*$", s)  # prototype
                if m is None:
                    m = re.search(r"(\w+)\s*(\[\s*\w*\s*\])?\s*$", s)  # variable
                if m:
                    names.add(m.group(1))
            else:
                stmt += ch
    return names


def sccs(nodes: set[str], edges: set[tuple[str, str]]) -> list[set[str]]:
    """Tarjan's strongly connected components with more than one node."""
    succ: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        succ[a].append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in succ[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build", type=Path, help="a meson build dir of the extension")
    ap.add_argument("--files", action="store_true", help="print the file graph")
    ap.add_argument("--parts", action="store_true", help="print the part graph with symbols")
    args = ap.parse_args()
    ext_dir = Path(__file__).resolve().parent.parent / "src" / "ext"
    edges = graph(args.build, ext_dir)
    defines = {a: syms for (a, b), syms in edges.items() if b == ""}
    edges = {k: v for k, v in edges.items() if k[1] != ""}
    if not edges:
        print(f"layering: no extension objects under {args.build}", file=sys.stderr)
        return 2
    if args.files:
        for (a, b), syms in sorted(edges.items()):
            print(f"{a} -> {b}: {', '.join(sorted(syms))}")
    parts: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (a, b), syms in edges.items():
        pa, pb = part_of(a), part_of(b)
        if pa != pb:
            parts[(pa, pb)].update(syms)
    if args.parts:
        for (a, b), syms in sorted(parts.items()):
            print(f"{a} -> {b} ({len(syms)}): {', '.join(sorted(syms))}")
    bad = 0
    for (a, b), syms in sorted(parts.items()):
        if (a, b) not in ALLOWED:
            print(f"layering: {a} -> {b} is not allowed: {', '.join(sorted(syms))}")
            bad += 1
    # Without the ref tracer (3.11, 3.12) objects/ compiles to its refusals
    # and uses little of capture: what the headers declare for it (inside
    # #if TTX_HAVE_REFTRACER, which this reader does not evaluate) is then
    # legitimately unused or undefined, so that direction is checked on
    # 3.13+ builds.
    full = any("capture_reftrace" in syms for syms in defines.values())
    for part, header in PUBLIC.items():
        path = ext_dir / header
        decl = declared(path) if path.exists() else set()
        mine = set().union(*(syms for f, syms in defines.items() if part_of(f) == part))
        used = set().union(*(syms for (a, b), syms in parts.items() if b == part))
        for name in sorted(used - decl):
            print(f"layering: {name} ({part}) is used by another part but not declared in {header}")
            bad += 1
        for name in sorted((decl & mine) - used) if full else ():
            print(f"layering: {header} declares {name}, which no other part uses")
            bad += 1
        for name in sorted(decl - mine) if full else ():
            print(f"layering: {header} declares {name}, which {part} does not define")
            bad += 1
    nodes = {a for a, _ in edges} | {b for _, b in edges}
    for comp in sccs(nodes, set(edges)):
        spanned = {part_of(f) for f in comp}
        if not spanned <= {"capture", "objects"}:
            print(f"layering: a cycle spans {sorted(spanned)}: {' '.join(sorted(comp))}")
            bad += 1
    part_cycles = sccs({p for e in parts for p in e}, set(parts))
    for comp in part_cycles:
        if comp != {"capture", "objects"}:
            print(f"layering: parts in a cycle: {sorted(comp)}")
            bad += 1
    n_files = len(nodes)
    print(f"layering: {n_files} files, {len(edges)} file edges, "
          f"{len(parts)} part edges, {bad} problem(s)"
          + ("" if full else " (no ref tracer in this build: unused declarations not checked)"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
