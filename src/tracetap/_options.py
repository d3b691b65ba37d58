"""The run options, once: what `tracetap run` accepts and `tracetap.record()`
takes. The CLI's hand parser, its `--help` (argparse, built from this
table), the options text a recording stores (``describe``) and the
conflict checks of both the CLI and the API (``conflict``) are all derived
from ``RUN_OPTIONS`` and ``CONFLICTS``.

Imports nothing beyond the standard types: `tracetap run` reads it on the
way to running the program.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple


class RunOption(NamedTuple):
    flags: tuple[str, ...]   # CLI spellings; the last is the long one
    dest: str                # attribute of the CLI's parsed options
    kind: str                # "flag", "value", "append", "choice", "seconds", "int"
    api: str | None          # record()'s keyword, None for CLI-only options
    negate: bool = False     # the flag sets the keyword False (--no-calls)
    default: Any = None      # the CLI's default
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    serial: int = 0          # place in the recording's options text (0: none)
    help: str = ""

    @property
    def long(self) -> str:
        return self.flags[-1]


# In --help order. `serial` orders the options text recordings store (the
# order existing recordings have, kept).
RUN_OPTIONS: tuple[RunOption, ...] = (
    RunOption(("-o", "--output"), "output", "value", None, metavar="FILE",
              help="where to write the recording (default: SCRIPT's stem + "
              ".ttrace next to the script; for -m, MODULE.ttrace in the "
              "current directory); a directory (existing, or ending in /) "
              "holds one file per process, STEM.PID.ttrace"),
    RunOption(("--no-follow",), "no_follow", "flag", None, default=False,
              help="record this process only, not the Python processes it starts"),
    RunOption(("--follow-forks",), "follow_forks", "flag", None, default=False,
              help="also record the child of every os.fork() (multiprocessing's "
              "forks are followed anyway)"),
    RunOption(("--opcodes",), "opcodes", "flag", "opcodes", default=False, serial=3,
              help="also record every bytecode instruction (slow)"),
    RunOption(("--c-calls",), "c_calls", "flag", "c_calls", default=False, serial=4,
              help="also record calls of C functions (built-ins, methods of "
              "built-in types) made by recorded code, so that `tracetap calls` "
              "times them under their own names as cProfile does. Costs 1.2x to "
              "1.5x the default recording (measured with cachegrind on 3.13: "
              "call-heavy 1.3x, stdlib-heavy 1.4x, generators 1.5x, exceptions "
              "1.2x; cProfile costs 0.7x to 1.3x of it)"),
    RunOption(("--no-lines",), "no_lines", "flag", "lines", negate=True, default=False,
              serial=2, help="do not record line events"),
    RunOption(("--no-calls",), "no_calls", "flag", "calls", negate=True, default=False,
              serial=1, help="install no trace function at all (implies "
              "--no-lines; for use with --objects: objects born and freed "
              "within 1024 object events are then counted per site, not listed "
              "by `tracetap events`)"),
    RunOption(("--threads",), "threads", "choice", "threads", default="all",
              choices=("all", "main"), serial=8,
              help="trace every thread (default) or the main thread only"),
    RunOption(("--include",), "include", "append", "include", default=(), metavar="GLOB",
              serial=9, help="always trace files matching GLOB (fnmatch on the "
              "absolute path, even in the standard library); repeatable"),
    RunOption(("--exclude",), "exclude", "append", "exclude", default=(), metavar="GLOB",
              serial=10, help="never trace files matching GLOB; wins over --include; "
              "repeatable"),
    RunOption(("--stdlib",), "stdlib", "flag", "stdlib", default=False, serial=11,
              help="trace the standard library too (code from a pseudo file such "
              "as <string> follows the code that first calls it)"),
    RunOption(("--branch",), "branch", "flag", "branch", default=False, serial=6,
              help="with --count: count the arcs between lines too, for "
              "`tracetap coverage --branch` (full recordings always have them); "
              "with --coverage on sys.monitoring: mark the arcs out of the "
              "branches taken (hits only)"),
    RunOption(("--third-party",), "third_party", "flag", "third_party", default=False,
              serial=12, help="trace installed packages too (site-packages and "
              "dist-packages of the interpreter and the venv, the user site)"),
    RunOption(("--objects",), "objects", "flag", "objects", default=False, serial=7,
              help="record object births and deaths (CPython 3.13+; with "
              "--count: per-site aggregates, no event log)"),
    RunOption(("--bytes",), "bytes", "flag", "bytes", default=False, serial=7,
              help="with --objects: count the bytes each creation stack allocates "
              "(CPython's allocator domains, as tracemalloc), live bytes over time "
              "and the peak, and per type: the block each object was created in "
              "(its GC header and pre-header included) goes to its type, every "
              "other block (list items, dict keys, bytearray data) to 'buffers "
              "(no object)'; written at each flush too, so a killed program "
              "keeps them; read them with `tracetap objects`"),
    RunOption(("--stack-depth",), "stack_depth", "int", "stack_depth", default=8,
              metavar="N", help="with --bytes: traced frames kept per creation "
              "stack (1-64, default 8)"),
    RunOption(("--count",), "count", "flag", "count", default=False, serial=5,
              help="count how often each line runs, in C, and write only the counts: "
              "no event log (read them with `tracetap coverage`)"),
    RunOption(("--backend",), "backend", "choice", "backend", default="auto",
              choices=("auto", "legacy", "monitoring"),
              help="how events reach tracetap: legacy (PyEval_SetTrace, every "
              "CPython), monitoring (sys.monitoring callbacks, CPython 3.12+; "
              "for the modes it records: --coverage, --no-lines calls), or "
              "auto (default: per mode, the one measured faster: monitoring "
              "for --coverage, legacy for the rest). The file's header notes "
              "say which recorded it (`tracetap info`)"),
    RunOption(("--coverage",), "coverage", "flag", "coverage", default=False,
              serial=14,
              help="which lines ran, for test suites (`tracetap coverage`): "
              "each line is seen once (sys.monitoring, DISABLE), so the file "
              "holds hits, not counts (every count is 1); with --branch, the "
              "arcs out of the branches taken. CPython 3.12+; on 3.11 and "
              "with --backend legacy it is recorded as --count on the "
              "legacy backend, and the summary says so"),
    RunOption(("--flush-interval",), "flush_interval", "seconds", "flush_interval",
              default=1.0, metavar="SECONDS", serial=13,
              help="write what every thread has buffered at least this often "
              "(default 1; 0: only full 64 KiB buffers and at the end), which "
              "bounds what a kill loses"),
    RunOption(("--ring",), "ring", "value", "ring", metavar="SIZE",
              help="keep only the newest events (not yet available)"),
)

BY_FLAG = {f: o for o in RUN_OPTIONS for f in o.flags}
BY_API = {o.api: o for o in RUN_OPTIONS if o.api}


def api_values(cli: Any) -> dict[str, Any]:
    """record()'s keywords from the CLI's parsed options (an object with
    one attribute per option's dest)."""
    out: dict[str, Any] = {}
    for o in RUN_OPTIONS:
        if o.api is None:
            continue
        v = getattr(cli, o.dest)
        out[o.api] = (not v) if o.negate else v
    return out


def spell_cli(api: str, value: Any) -> str:
    """An option as `tracetap run` spells it: calls=False -> --no-calls."""
    o = BY_API[api]
    if o.kind == "choice":
        return f"{o.long} {value}"
    return o.long if o.kind != "flag" or bool(value) != o.negate else f"--{api.replace('_', '-')}"


def spell_api(api: str, value: Any) -> str:
    """An option as record() spells it: calls=False -> calls=False."""
    return f"{api}={value!r}"


# The combinations neither the CLI nor the API accepts: (test over record()'s
# keywords, the offending settings, what they do, the settings they exclude).
Setting = tuple[str, Any]
Rule = tuple[Callable[[dict[str, Any]], bool], tuple[Setting, ...], str, tuple[Setting, ...]]
CONFLICTS: tuple[Rule, ...] = (
    (lambda v: v["opcodes"] and not v["calls"], (("opcodes", True),),
     "needs the trace function", (("calls", False),)),
    (lambda v: v["c_calls"] and (not v["calls"] or v["count"] or v["objects"]),
     (("c_calls", True),), "records C calls into the event log",
     (("calls", False), ("count", True), ("objects", True))),
    (lambda v: v["count"] and (v["opcodes"] or not v["lines"]), (("count", True),),
     "writes no event log", (("opcodes", True), ("lines", False))),
    (lambda v: v["count"] and v["branch"] and v["objects"],
     (("count", True), ("branch", True)),
     "counts arcs where the object analysis keeps creation sites",
     (("objects", True),)),
    (lambda v: v.get("bytes") and not v["objects"], (("bytes", True),),
     "counts allocated bytes beside the object event log; it needs {objects}",
     ()),
    (lambda v: v.get("bytes") and v["count"], (("bytes", True),),
     "counts allocated bytes beside the object event log", (("count", True),)),
    (lambda v: v.get("coverage") and (v["count"] or v["opcodes"] or not v["lines"]
                                      or v["objects"] or v["c_calls"]),
     (("coverage", True),), "records which lines ran, nothing else",
     (("count", True), ("opcodes", True), ("lines", False), ("objects", True),
      ("c_calls", True))),
    (lambda v: v.get("backend") == "monitoring" and v["calls"]
     and not v.get("coverage") and (v["lines"] or v["count"] or v["opcodes"]),
     (("backend", "monitoring"),),
     "records --coverage, or calls without line events: it needs "
     "--coverage, --no-lines or --no-calls, and no --count or --opcodes", ()),
    (lambda v: not 1 <= int(v.get("stack_depth", 8)) <= 64, (("stack_depth", None),),
     "must be 1 to 64", ()),
)


def conflict(values: dict[str, Any], spell: Callable[[str, Any], str]) -> str | None:
    """The first rule `values` (record()'s keywords) break, as a sentence
    with the options spelled by `spell` (spell_cli or spell_api), or None."""
    for test, settings, what, others in CONFLICTS:
        if test(values):
            # A setting given as None is named with its value ("must be").
            who = " ".join(spell(n, v) if v is not None
                           else _spell_value(spell, n, values.get(n))
                           for n, v in settings)
            what = what.format(objects=spell("objects", True))
            if not others:
                return f"{who} {what}"
            names = [spell(n, v) for n, v in others]
            listed = names[0] if len(names) == 1 else \
                ", ".join(names[:-1]) + " or " + names[-1]
            return f"{who} {what}; it cannot be combined with {listed}"
    return None


def _spell_value(spell: Callable[[str, Any], str], api: str, value: Any) -> str:
    """An option with its value: --stack-depth 100, stack_depth=100."""
    named = spell(api, value)
    return named if "=" in named else f"{named} {value}"


def describe(values: dict[str, Any]) -> str:
    """The options text a recording stores (`tracetap info` shows it):
    the settings that differ from a plain run, in `serial` order, as
    `tracetap run` spells them. --threads is always named; --no-lines is
    left out when --no-calls implies it."""
    parts: list[str] = []
    for o in sorted((o for o in RUN_OPTIONS if o.serial), key=lambda o: o.serial):
        v = values[o.api]  # type: ignore[index]
        if o.kind == "flag":
            if o.api == "lines" and not values["calls"]:
                continue
            if bool(v) != o.negate:
                parts.append(o.long)
                if o.api == "bytes":
                    parts.append(f"--stack-depth {values.get('stack_depth', 8)}")
        elif o.kind == "choice":
            parts.append(f"{o.long} {v}")
        elif o.kind == "append":
            parts += [f"{o.long} {g}" for g in v]
        elif o.kind == "seconds" and v != o.default:
            parts.append(f"{o.long} {v:g}")
    return " ".join(parts)
