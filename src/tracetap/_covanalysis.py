"""Statements and branches of a source file, counted as coverage.py counts
them by default.

Owns the report-time analysis of one source file: its statements (the
first line of each statement that the compiled source's code objects
name, docstrings and excluded code left out), the lines a multi-line
statement spans, the exclusion rules (``# pragma: no cover``, ``if
TYPE_CHECKING:``, ``...`` stubs, user patterns; a clause or a decorated
definition goes whole), and the possible arcs between statements from the
AST (so that branches that never ran are known). Must not run the file or
import it. Results are cached per (path, size, mtime, patterns).

Why source and AST at report time rather than the recorded bytecode:
coverage.py counts statements from the source (a multi-line statement is
one statement, a docstring none), and branches from the AST's control
flow. Bytecode line tables name every line a statement's instructions
carry and every jump the compiler made (``and``/``or`` short circuits,
``with`` exits, exception tables), which coverage.py does not count. The
recording keeps CPython's lines (``raw_lines``); this module only maps
them onto statements.
"""

from __future__ import annotations

import ast
import bisect
import functools
import io
import os
import re
import sys
import token
import tokenize
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import CodeType

# coverage.py's defaults (coverage/config.py of 7.18), as regular
# expressions.
DEFAULT_EXCLUDE = (
    r"#\s*(pragma|PRAGMA)[:\s]?\s*(no|NO)\s*(cover|COVER)",
    r"^\s*(((async )?def .*?)?[\])]+(\s*->.*?)?:\s*)?\.\.\.\s*(#|$)",
    r"^\s*if (typing\.)?TYPE_CHECKING:",
)
DEFAULT_PARTIAL = (r"#\s*(pragma|PRAGMA)[:\s]?\s*(no|NO)\s*(branch|BRANCH)",)
DEFAULT_PARTIAL_ALWAYS = ("while (True|1|False|0):", "if (True|1|False|0):")

Arc = tuple[int, int]


class NotPython(Exception):
    """The file cannot be parsed as Python source."""


def read_source(path: str) -> str:
    """The file's text as the compiler sees it: decoded by its coding
    cookie or BOM, universal newlines, ending in a newline."""
    from ._source import read_source as read_bounded

    # The one source reader: a regular file of bounded size, opened
    # without blocking (a recorded path may name a FIFO or a device now).
    data, why = read_bounded(os.path.abspath(path))
    if data is None:
        raise OSError(f"{path}: {why}")
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    text = data.decode(encoding, errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text and not text.endswith("\n"):
        text += "\n"
    return text


def _code_objects(code: CodeType) -> Iterable[CodeType]:
    """code and every code object nested in its constants, except the
    lazy-annotation functions (3.14's ``__annotate__``): coverage.py does
    not count them, since they rarely run."""
    stack = [code]
    while stack:
        c = stack.pop()
        stack.extend(k for k in c.co_consts if isinstance(k, CodeType))
        if c.co_name != "__annotate__":
            yield c


def _irrefutable(case: ast.match_case) -> bool:
    """A case that matches whatever reaches it (`case _:`, `case x:`)."""
    pat = case.pattern
    while isinstance(pat, ast.MatchOr):
        pat = pat.patterns[-1]
    while isinstance(pat, ast.MatchAs) and pat.pattern is not None:
        pat = pat.pattern
    return (case.guard is None and isinstance(pat, ast.MatchAs)
            and pat.pattern is None)


def _join(patterns: Sequence[str]) -> str:
    return "|".join(f"(?:{p})" for p in patterns)


@dataclass
class FileAnalysis:
    """What coverage.py's parser knows about one file."""

    statements: set[int] = field(default_factory=set)
    excluded: set[int] = field(default_factory=set)
    multiline: dict[int, int] = field(default_factory=dict)
    arcs: set[Arc] = field(default_factory=set)
    no_branch: set[int] = field(default_factory=set)
    with_fixers: dict[Arc, Arc | None] = field(default_factory=dict)

    def first_line(self, line: int) -> int:
        """The first line of the statement that includes `line` (negative
        lines, entries and exits, map as their absolute value)."""
        if line < 0:
            return -self.multiline.get(-line, -line)
        return self.multiline.get(line, line)

    def exit_counts(self) -> dict[int, int]:
        """Line -> number of possible exits, excluded code left out."""
        counts: dict[int, int] = defaultdict(int)
        for a, b in self.arcs:
            if a in self.excluded or b in self.excluded:
                continue
            counts[a] += 1
        return counts

    def fix_with_jumps(self, arcs: Iterable[Arc]) -> set[Arc]:
        """Arcs as if leaving a ``with`` block went straight to the next
        statement: 3.10+ traces a jump back to the ``with`` line, then on
        to the next statement. with_fixers maps such an arc to the one to
        count instead, or to None (drop it)."""
        out: set[Arc] = set()
        for arc in arcs:
            new = self.with_fixers.get(arc, arc)
            if new is not None:
                out.add(new)
        return out

    def translate_arcs(self, arcs: Iterable[Arc]) -> set[Arc]:
        fl = self.first_line
        return {(fl(a), fl(b)) for a, b in self.fix_with_jumps(arcs)}


def _lines_matching(text: str, regex: str) -> set[int]:
    """Lines that contain a match of regex (1-based)."""
    out: set[int] = set()
    if not regex:
        return out
    starts = [0]
    for m in re.finditer("\n", text):
        starts.append(m.end())
    for m in re.finditer(regex, text, flags=re.MULTILINE):
        first = bisect.bisect_right(starts, m.start())
        last = bisect.bisect_right(starts, m.end())
        out.update(range(first, last + 1))
    return out


def _token_pass(text: str, fa: FileAnalysis) -> None:
    """Multi-line statements, and excluded clauses: a match on a line that
    opens a clause (its ``:``) excludes the clause's whole suite."""
    indent = exclude_indent = 0
    excluding = False
    first_line = 0
    nesting = 0
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        ttype, ttext, (sline, _), (eline, _), _ = tok
        if ttype == token.INDENT:
            indent += 1
        elif ttype == token.DEDENT:
            indent -= 1
        elif ttype == token.OP:
            if ttext == ":" and nesting == 0:
                hit = fa.excluded.intersection(range(first_line, eline + 1))
                if hit and not excluding:
                    fa.excluded.add(eline)
                    exclude_indent = indent
                    excluding = True
            elif ttext in "([{":
                nesting += 1
            elif ttext in ")]}":
                nesting -= 1
        elif ttype == token.NEWLINE:
            if first_line and eline != first_line:
                for n in range(first_line, eline + 1):
                    fa.multiline[n] = first_line
            first_line = 0
        if ttext.strip() and ttype != tokenize.COMMENT:
            if not first_line:
                first_line = sline
                if excluding and indent <= exclude_indent:
                    excluding = False
                if excluding:
                    fa.excluded.add(eline)


def analyze_text(
    text: str,
    filename: str = "<source>",
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    partial: Sequence[str] = DEFAULT_PARTIAL + DEFAULT_PARTIAL_ALWAYS,
) -> FileAnalysis:
    """The analysis of a source text. Raises NotPython."""
    try:
        tree = ast.parse(text)
        code = compile(text, filename, "exec", dont_inherit=True)
        fa = FileAnalysis()
        fa.excluded = _lines_matching(text, _join(exclude))
        _token_pass(text, fa)
    except (SyntaxError, tokenize.TokenError, ValueError) as exc:
        raise NotPython(f"cannot parse {filename} as Python: {exc}") from exc
    raw: set[int] = set()
    if text.strip():
        for c in _code_objects(code):
            raw.update(line for _, _, line in c.co_lines() if line)
    fa.excluded = {fa.first_line(n) for n in fa.excluded}
    docstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                             ast.AsyncFunctionDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr)
                    and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                end = body[0].end_lineno or body[0].lineno
                docstrings.update(range(body[0].lineno, end + 1))
        if isinstance(node, (ast.ClassDef, ast.FunctionDef,
                             ast.AsyncFunctionDef)):
            top = min((d.lineno for d in node.decorator_list),
                      default=node.lineno)
            if fa.excluded.intersection(range(top, node.lineno + 1)):
                end = node.end_lineno or node.lineno
                fa.excluded.update(range(top, end + 1))
        if isinstance(node, ast.match_case) and _irrefutable(node):
            # `case _:` whose body is all excluded goes too, like an else.
            last = node.body[-1].end_lineno or node.body[-1].lineno
            inside = raw & set(range(node.body[0].lineno, last + 1))
            if inside and inside <= fa.excluded:
                pend = node.pattern.end_lineno or node.pattern.lineno
                fa.excluded.update(range(node.pattern.lineno, pend + 1))
    ignore = fa.excluded | docstrings
    fa.statements = {fa.first_line(n) for n in raw - ignore} - ignore
    fa.no_branch = _lines_matching(text, _join(partial))
    _Arcs(fa, raw).run(tree)
    return fa


@functools.lru_cache(maxsize=256)
def _cached(path: str, size: int, mtime: int, exclude: tuple[str, ...],
            partial: tuple[str, ...]) -> FileAnalysis:
    return analyze_text(read_source(path), path, exclude, partial)


def analyze(path: str, exclude: Sequence[str] = DEFAULT_EXCLUDE,
            partial: Sequence[str] = DEFAULT_PARTIAL + DEFAULT_PARTIAL_ALWAYS,
            ) -> FileAnalysis:
    """The analysis of the file at path, cached while the file keeps its
    size and mtime. Raises OSError, NotPython."""
    st = os.stat(path)
    return _cached(path, st.st_size, st.st_mtime_ns, tuple(exclude),
                   tuple(partial))


# ------------------------------------------------------------------ arcs
#
# The control flow between statements, per code object (module, class,
# function: lambdas and comprehensions have no branches of their own).
# A handler returns the "exits" of a statement: the lines from which
# control goes on to whatever follows it. Entries and exits of a code
# object are -start. This is the model coverage.py's AST analysis uses;
# only its result (which arcs are possible) has to agree.


class _Frame:
    """One enclosing construct that catches break/continue/raise/return."""

    kind = ""

    def __init__(self, start: int = 0, handler: int | None = None) -> None:
        self.start = start
        self.handler = handler
        self.breaks: set[int] = set()


def _constant_truth(node: ast.expr) -> bool | None:
    """True/False for a test the compiler folds, else None."""
    if isinstance(node, ast.Constant):
        return bool(node.value)
    if isinstance(node, ast.Name) and node.id in ("True", "False", "None",
                                                   "__debug__"):
        return {"True": True, "False": False, "None": False,
                "__debug__": True}[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        v = _constant_truth(node.operand)
        return None if v is None else not v
    if isinstance(node, ast.BoolOp):
        vals = [_constant_truth(v) for v in node.values]
        if any(v is None for v in vals):
            return None
        return any(vals) if isinstance(node.op, ast.Or) else all(vals)
    return None


class _Arcs:
    def __init__(self, fa: FileAnalysis, raw: set[int]) -> None:
        self.fa = fa
        self.stmts = {fa.first_line(n) for n in raw}
        self.frames: list[_Frame] = []
        self.with_starts: set[int] = set()
        self.with_entries: set[Arc] = set()
        self.with_exits: set[Arc] = set()
        self.open_withs: set[int] = set()
        self.raw_arcs: set[Arc] = set()

    def run(self, tree: ast.Module) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Module):
                if node.body:
                    for x in self.body(node.body, set()):
                        self.arc(x, -1)
                else:
                    self.arc(1, -1)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                fr = _Frame(self.line(node))
                fr.kind = "function"
                self.frames.append(fr)
                self.to_function_exit(self.body(node.body, set()))
                self.frames.pop()
            elif isinstance(node, ast.ClassDef):
                start = self.line(node)
                for x in self.body(node.body, set()):
                    self.arc(x, -start)
        fa = self.fa
        fa.with_fixers = self.fixers()
        arcs = fa.fix_with_jumps(self.raw_arcs) if fa.with_fixers else self.raw_arcs
        for a, b in arcs:
            a, b = fa.first_line(a), fa.first_line(b)
            if a != b:
                fa.arcs.add((a, b))

    def arc(self, a: int, b: int) -> None:
        self.raw_arcs.add((a, b))
        if a in self.open_withs:
            self.with_entries.add((a, b))

    def fixers(self) -> dict[Arc, Arc | None]:
        """The arc rewrites for ``with`` statements (see fix_with_jumps):
        the jump from the end of a body back to its ``with`` line becomes a
        jump to where the chain of enclosing ``with`` exits lands, and the
        ``with`` line's own onward arc is dropped (unless the body sits on
        the ``with`` line itself)."""
        nexts: dict[int, int] = {}
        for start in self.with_starts:
            onward = {b for a, b in self.raw_arcs
                      if a == start and (a, b) not in self.with_entries}
            if len(onward) == 1:
                nexts[start] = onward.pop()

        def landing(start: int) -> int:
            nxt = nexts[start]
            while (start, nxt) in self.with_exits and nxt in nexts:
                start, nxt = nxt, nexts[nxt]
            return nxt

        out: dict[Arc, Arc | None] = {}
        for end, start in self.with_exits:
            if start in nexts:
                out[(end, start)] = (end, landing(start))
        for start, nxt in nexts.items():
            if (start, start) not in self.with_exits:
                out[(start, nxt)] = None
        return out

    def line(self, node: ast.AST) -> int:
        """The line coverage.py attributes a statement or expression to."""
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                             ast.ClassDef)) and node.decorator_list:
            n = node.decorator_list[0].lineno
        elif isinstance(node, ast.Assign):
            return self.line(node.value)
        elif isinstance(node, ast.Dict) and node.keys:
            k = node.keys[0]
            n = k.lineno if k is not None else node.values[0].lineno
        elif isinstance(node, ast.List) and node.elts:
            return self.line(node.elts[0])
        elif isinstance(node, ast.Module):
            n = 1
        else:
            n = getattr(node, "lineno", 1)
        return self.fa.multiline.get(n, n)

    # -- leaving by break/continue/raise/return -----------------------------

    def to_loop(self, exits: set[int], brk: bool) -> None:
        for fr in reversed(self.frames):
            if fr.kind == "loop":
                if brk:
                    fr.breaks |= exits
                else:
                    for x in exits:
                        self.arc(x, fr.start)
                return

    def to_raise(self, exits: set[int]) -> None:
        for fr in reversed(self.frames):
            if fr.kind == "try":
                # Caught here, or (in a try/finally, or a handler of one)
                # gone through the finally clause: no arc is claimed.
                for x in exits if fr.handler is not None else ():
                    self.arc(x, fr.handler)
                return
            if fr.kind == "function":
                for x in exits:
                    self.arc(x, -fr.start)
                return

    def to_function_exit(self, exits: set[int]) -> None:
        for fr in reversed(self.frames):
            if fr.kind == "function":
                for x in exits:
                    self.arc(x, -fr.start)
                return

    # -- statements ----------------------------------------------------------

    def body(self, stmts: Sequence[ast.stmt], prev: set[int]) -> set[int]:
        """Arcs through a statement list entered from `prev`; its exits."""
        for node in stmts:
            here = self.line(node)
            if here not in self.stmts:
                continue            # compiled away (e.g. under `if 0:`)
            for p in prev:
                self.arc(p, here)
            prev = self.stmt(node)
        return prev

    def stmt(self, node: ast.stmt) -> set[int]:
        here = self.line(node)
        if isinstance(node, ast.Break):
            self.to_loop({here}, True)
            return set()
        if isinstance(node, ast.Continue):
            self.to_loop({here}, False)
            return set()
        if isinstance(node, ast.Raise):
            self.to_raise({here})
            return set()
        if isinstance(node, ast.Return):
            self.to_function_exit({here})
            return set()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                             ast.ClassDef)):
            last = node.lineno
            if node.decorator_list:
                prev = None
                for d in node.decorator_list:
                    d_line = self.line(d)
                    if prev is not None and d_line != prev:
                        self.arc(prev, d_line)
                    prev = d_line
                assert prev is not None
                self.arc(prev, node.lineno)
            return {last}
        if isinstance(node, (ast.For, ast.AsyncFor)):
            return self.loop(self.line(node.iter), node.body, node.orelse,
                             always=False)
        if isinstance(node, ast.While):
            truth = _constant_truth(node.test)
            return self.loop(self.line(node.test), node.body, node.orelse,
                             always=truth is not None)
        if isinstance(node, ast.If):
            start = self.line(node.test)
            truth = _constant_truth(node.test)
            exits: set[int] = set()
            if truth is not False:
                exits |= self.body(node.body, {start})
            if truth is not True:
                exits |= self.body(node.orelse, {start})
            return exits
        if isinstance(node, ast.Match):
            return self.match(node)
        if isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            return self.try_(node)
        if isinstance(node, (ast.With, ast.AsyncWith)):
            return self.with_(node)
        return {here}

    def loop(self, start: int, body: Sequence[ast.stmt],
             orelse: Sequence[ast.stmt], always: bool) -> set[int]:
        fr = _Frame(start)
        fr.kind = "loop"
        self.frames.append(fr)
        for x in self.body(body, {start}):
            self.arc(x, start)
        self.frames.pop()
        exits = set(fr.breaks)
        if orelse:
            exits |= self.body(orelse, {start})
        elif not always:
            exits.add(start)
        return exits

    def match(self, node: ast.Match) -> set[int]:
        prev = self.line(node)
        exits: set[int] = set()
        case_line = prev
        case = node.cases[-1]
        for case in node.cases:
            case_line = self.line(case.pattern)
            self.arc(prev, case_line)
            exits |= self.body(case.body, {case_line})
            prev = case_line
        if not _irrefutable(case):
            exits.add(case_line)
        return exits

    def try_(self, node: ast.Try) -> set[int]:
        handler = self.line(node.handlers[0]) if node.handlers else None
        fr = _Frame(handler=handler)
        fr.kind = "try"
        self.frames.append(fr)
        exits = self.body(node.body, {self.line(node)})
        if node.finalbody:
            fr.handler = None       # a raise in a handler goes further out
        else:
            self.frames.pop()
        handled: set[int] = set()
        for h in node.handlers:
            handled |= self.body(h.body, {self.line(h)})
        if node.orelse:
            exits = self.body(node.orelse, exits)
        exits |= handled
        if node.finalbody:
            self.frames.pop()
            final = self.body(node.finalbody, exits)
            if exits:
                exits = final
        return exits

    def with_(self, node: ast.With) -> set[int]:
        # 3.12.6+ traces the exit through each context manager's line.
        if sys.version_info >= (3, 12, 6):
            starts = [self.line(i.context_expr) for i in node.items]
        else:
            starts = [self.line(node)]
        self.open_withs.update(starts)
        self.with_starts.update(starts)
        start = starts[-1]
        exits = self.body(node.body, {start})
        self.open_withs.discard(start)
        if not exits:
            return set()
        for x in exits:
            self.arc(x, start)
            self.with_exits.add((x, start))
        return {start}


def file_view(
    fa: FileAnalysis,
    raw_lines: Sequence[int],
    raw_hits: Sequence[int],
    arcs: Sequence[tuple[int, int, int]],
    branch: bool,
) -> tuple[list[int], list[int], list[tuple[int, int, int, bool]]]:
    """(statements, hits, branches) of a file from what was recorded:
    a statement's hits are the most any of its lines got; branches are the
    exits (line, to, taken, ignored) of lines with more than one possible
    exit (coverage.py's rules for which count; ignored: the line has
    ``# pragma: no branch`` or is ``while True:``)."""
    hits: dict[int, int] = defaultdict(int)
    for line, n in zip(raw_lines, raw_hits, strict=True):
        s = fa.first_line(line)
        if s in fa.statements and n > hits[s]:
            hits[s] = n
    lines = sorted(fa.statements)
    branches: list[tuple[int, int, int, bool]] = []
    if branch:
        taken = executed_arcs(fa, arcs)
        for line, n in sorted(fa.exit_counts().items()):
            if n < 2 or line not in fa.statements:
                continue
            for to in sorted({b for a, b in fa.arcs if a == line}):
                if to in fa.excluded:
                    continue
                count = taken.get((line, to), 0)
                # `# pragma: no branch`: counted as taken, never missing.
                branches.append((line, to, count, line in fa.no_branch))
    return lines, [hits.get(n, 0) for n in lines], branches


def executed_arcs(fa: FileAnalysis,
                  arcs: Sequence[tuple[int, int, int]]) -> dict[Arc, int]:
    """The recorded arcs mapped onto statements, with counts: ``with``
    exits rewritten (fix_with_jumps), lines mapped to their statements,
    and a jump within one statement dropped unless its line has a single
    possible exit (then it counts as that exit), as coverage.py does."""
    counts: dict[Arc, int] = defaultdict(int)
    for a, b, n in arcs:
        new = fa.with_fixers.get((a, b), (a, b))
        if new is not None:
            counts[(fa.first_line(new[0]), fa.first_line(new[1]))] += n
    dests: dict[int, set[int]] = defaultdict(set)
    for a, b in fa.arcs:
        dests[a].add(b)
    out: dict[Arc, int] = defaultdict(int)
    for (a, b), n in counts.items():
        if a != b:
            out[(a, b)] += n
        elif len(dests.get(a, ())) == 1:
            out[(a, next(iter(dests[a])))] += n
    # coverage.py translates the result once more (with fixes again).
    final: dict[Arc, int] = defaultdict(int)
    for (a, b), n in out.items():
        new = fa.with_fixers.get((a, b), (a, b))
        if new is not None:
            final[new] += n
    return final
