"""The ``tracetap`` command line: one subcommand per verb.

Owns argument parsing, exit codes (0 success, 1 an unusable recording or a
failed run, 2 usage errors) and messages on stderr. The work happens in
``_run`` (running a program), ``_show`` (listing and describing recordings)
and the C extension.
"""

from __future__ import annotations

import os
import sys

from . import __version__

# argparse (and re, enum, gettext behind it) is imported only to print help
# or report a usage error, and for the reading commands: `tracetap run`
# must not import modules the program would otherwise import itself.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any

PROG = "tracetap"

RUN_USAGE = (
    "tracetap run [-o FILE] [--count|--coverage [--branch]] [--objects [--bytes [--stack-depth N]]] "
    "[--opcodes] [--no-lines] [--no-calls] [--c-calls] [--threads all|main]\n"
    "                    [--include GLOB]... [--exclude GLOB]... "
    "[--stdlib] [--third-party] [--flush-interval SECONDS]\n"
    "                    [--backend auto|legacy|monitoring] [--no-follow] "
    "[--follow-forks]\n"
    "                    (SCRIPT | -m MODULE) [ARGS...]"
)

RUN_EPILOG = """\
The program runs exactly as `python SCRIPT ARGS` or `python -m MODULE ARGS`
would: the same sys.argv, sys.path[0], __main__, exit status and traceback.
Everything after SCRIPT (or -m MODULE) belongs to the program.

By default calls, returns, exceptions and lines are recorded in every
thread, except in the standard library, in installed third-party packages
(site-packages, dist-packages: the interpreter's and the venv's) and in
tracetap itself, as coverage.py measures by default; --stdlib,
--third-party and --include bring them back. Frames that
tracetap itself runs are never recorded.

What every thread has recorded reaches the file within about one
--flush-interval (1 s by default), whatever the thread is doing, so a
program killed with SIGKILL or ended by os._exit() loses at most about that
much. On a crash (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) everything
recorded up to it is written, then the signal goes on: the exit status,
core dump and faulthandler output are those of an untraced run.

Python processes the program starts (subprocess, os.exec*, multiprocessing
with any start method, ProcessPoolExecutor) are recorded too, each into its
own file: in DIR with -o DIR/ (an existing directory, or a name ending in
/), else in FILE.children/ beside FILE. A plain os.fork() is followed with
--follow-forks only. `tracetap info DIR` shows the process tree; coverage,
calls, lines and report merge the files of a directory. What this changes
in the program's environment: docs/processes.md (TRACETAP_FOLLOW).

examples:
  tracetap run app.py --port 8080        records into app.ttrace next to app.py
  tracetap run -o out/ -m pytest         every Python process into out/
  tracetap run --stdlib -o /tmp/t.ttrace -m http.server 8000
  tracetap run --opcodes --threads main job.py
  tracetap run --count app.py && tracetap coverage --missing app.ttrace
  tracetap run --exclude '*/vendor/*' --include '*/json/*' app.py
"""

EVENTS_EPILOG = """\
The listing shows, per event: the thread number (in order of first event),
seconds since the recording started, the event indented by call depth
(beyond depth 32 the depth is shown as [N]), the location, and for line
events the source text. A generator, coroutine or async generator shows
`resume` where it is resumed (next, send, throw, close, an await waking up)
and `yield` where it is suspended (yield, yield from, await); sys.settrace
reports them as call and return, and JSON keeps those kinds, adding
"resume": true / "yield": true. Recordings made before tracetap marked
them show yields as `return` and guess `resume` from the line (the
listing's header line says which). Recordings made with --objects also list each
object's creation (type, creation site, address) and destruction
(address). Recorded names are shown with control characters escaped
(\\x1b); --json has them exact.

Source text is shown only from a regular file of at most 4 MiB that is
Python source and was not modified after the recording started; for any
other file a warning says why not.

Exit status: 0, with a warning on stderr when the recording is damaged,
lost events while recording (a full disk), is still being recorded, or was
cut while being listed; 1 when it cannot be read, holds no events (made
with --count), was replaced by a new recording while being listed, or the
output cannot be written.

examples:
  tracetap events app.ttrace | less
  tracetap events app.ttrace --thread 1 --limit 200
  tracetap events app.ttrace --thread parser
  tracetap events app.ttrace --json | jq -c 'select(.kind == "exception")'
  tracetap events app.ttrace --json | jq -c 'select(.type == "MyNode")'
"""

COVERAGE_EPILOG = """\
Counts come from full recordings and from `tracetap run --count` alike;
several recordings are merged (counts summed, executable lines united).
Lines are counted as coverage.py counts statements (a multi-line
statement is one, docstrings none; `# pragma: no cover`, `if
TYPE_CHECKING:` and `...` stubs are left out); --raw-lines counts
CPython's executable lines instead. Functions that never ran are missed
lines. Pseudo files such as <string> are left out. --branch adds branch
coverage (partial branches shown as 17->12). Settings come from
[tool.tracetap] in pyproject.toml (branch, include, omit, source,
fail-under, exclude-lines, exclude-also, partial-branches, statements);
options given here win. Exit status: 0; 1 when a recording cannot be read;
2 when the total is below --fail-under. Formats:
  text       a table per file: lines, ran, missed, cover % (--missing adds
             the missed line ranges)             default; to stdout or -o
  annotate   stdlib-trace style .cover files     -o DIR required
  lcov       an LCOV tracefile (genhtml)         to stdout or -o FILE
  cobertura  Cobertura XML, as coverage.py writes it
  json       {"files": {path: {"executable", "counts", "functions",
             "summary"}}, "totals"}

A recording made without line events (--no-lines, --no-calls) says nothing
about coverage: it is named in a warning, and if no recording given has
line counts the command fails (exit 1) rather than report 0 %. Annotate
shows only sources that are still the files that ran (see `tracetap
events --help`); the others are named on stderr.

examples:
  tracetap coverage app.ttrace
  tracetap coverage --missing app.ttrace unit.ttrace
  tracetap coverage --format annotate -o cover/ app.ttrace
  tracetap coverage --format lcov -o lcov.info app.ttrace && genhtml -o html lcov.info
  tracetap coverage --format cobertura -o coverage.xml *.ttrace
  tracetap coverage --branch --missing --source src --fail-under 90 app.ttrace
"""

OBJECTS_EPILOG = """\
Reading the report:
  - A creation site is the innermost line of traced code that was running:
    objects the standard library makes for your call (json.loads, an
    import) are charged to your line, so `import x` lines show what the
    import allocated and kept.
  - "survived" counts objects still alive at stop that were born during
    the recording. They are leaks only if nothing should still hold them:
    caches and module state survive on purpose.
  - Module state: survivors made while a module was being imported (its
    body, the imports it makes, what it calls) are listed apart, after the
    program's own (--no-imports: left out; --imports: counted with them).
  - "alive through": for the largest groups, a chain of references from a
    root (a module, a class, a running function's local) to one of them,
    found at stop (docs/objects.md).
  - On CPython 3.13.0-3.13.2 (gh-130382: frees in the eval loop) and 3.14.x
    (gh-156371, through at least 3.14.7: objects deferred by the trashcan,
    i.e. deeply nested containers) some deaths are never reported by the
    interpreter. tracetap detects the gap with a self-test at start; at
    stop it checks every survivor of an affected type against the garbage
    collector, and lists only the ones verified alive; a new object born at
    an address it still held live proves an unseen death, which is counted
    ("died without a DESTROY event"). The report mentions the gap only when
    it changed something: unverified survivors (kept out of the leak list)
    or inferred deaths. `tracetap info` shows the recording's notes in
    full. Creation counts are exact everywhere.
  - Lifetimes are upper bounds of log2 buckets of the object clock.

examples:
  tracetap run --objects app.py && tracetap objects app.ttrace
  tracetap run --objects --no-calls app.py     # cheapest: objects only
  tracetap objects app.ttrace --limit 50
  tracetap objects app.ttrace --format json | jq '.sites[:5]'
"""

INFO_EPILOG = """\
The status line says "complete", or why not: "in progress" (a recording
still being written: what it has flushed so far is shown), "incomplete"
(events were lost while recording, e.g. to a full disk: how many and why),
"interrupted" (a signal such as SIGTERM or SIGSEGV ended the program and
tracetap's handler flushed every event up to it; what only the end of a
recording writes is missing), or "damaged" (cut off or corrupt: what is
missing).

Exit status: 0 for a complete recording; 0 with a warning on stderr for an
incomplete, in-progress, interrupted or damaged one that is still readable; 1 if nothing
is usable.

example:
  tracetap info app.ttrace
"""


def _parser_class() -> type[argparse.ArgumentParser]:
    import argparse

    class _Parser(argparse.ArgumentParser):
        """argparse with errors that say how to get help."""

        def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
            # A subcommand's unknown option is its own usage error (argparse
            # would report it with the top-level usage).
            ns, extras = super().parse_known_args(args, namespace)
            if extras:
                self.error("unrecognized arguments: " + " ".join(extras))
            return ns, extras

        def error(self, message: str) -> Any:  # type: ignore[override]
            self.print_usage(sys.stderr)
            self.exit(
                2,
                f"{self.prog}: error: {message}\n"
                f"Try '{self.prog} --help' for more information.\n",
            )

    return _Parser


def _run_parser() -> argparse.ArgumentParser:
    import argparse

    p = _parser_class()(
        prog=f"{PROG} run",
        usage=RUN_USAGE,
        description="Run a Python program and record what it does into a .ttrace file.",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from ._options import RUN_OPTIONS

    for o in RUN_OPTIONS:
        kw: dict[str, Any] = {"dest": o.dest, "help": o.help}
        if o.kind == "flag":
            kw["action"] = "store_true"
        elif o.kind == "append":
            kw.update(action="append", default=[], metavar=o.metavar)
        elif o.kind == "choice":
            kw.update(choices=o.choices, default=o.default)
        elif o.kind == "seconds":
            kw.update(type=float, default=o.default, metavar=o.metavar)
        elif o.kind == "int":
            kw.update(type=int, default=o.default, metavar=o.metavar)
        else:
            kw["metavar"] = o.metavar
        p.add_argument(*o.flags, **kw)
    p.add_argument(
        "-m",
        dest="module",
        metavar="MODULE",
        help="run library module MODULE as a script",
    )
    return p


def _main_parser() -> argparse.ArgumentParser:
    import argparse

    _Parser = _parser_class()
    p = _Parser(
        prog=PROG,
        description="Record what a CPython program does, then look at it.",
        epilog="Run 'tracetap COMMAND --help' for a command's options and examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.add_parser(
        "run", help="run a program and record it", usage=RUN_USAGE, add_help=False
    )
    ev = sub.add_parser(
        "events",
        help="list the recorded events",
        description="List the events of a recording, like `python -m trace --trace`.",
        epilog=EVENTS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ev.add_argument("file", metavar="FILE", help="a .ttrace recording")
    ev.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per line: thread, kind, file, "
        "line, func, t_ns (+ offset, opcode for opcode "
        "events, exception for exception events, type, addr, size for "
        "obj_create and addr for obj_destroy)",
    )
    ev.add_argument(
        "--thread",
        metavar="N|NAME",
        help="only thread N (0 is the first thread to run), or the thread "
        "named NAME",
    )
    ev.add_argument("--limit", type=int, metavar="N", help="stop after N events")
    info = sub.add_parser(
        "info",
        help="describe a recording",
        description="Describe a recording: interpreter, "
        "command line, clock, options, threads, "
        "event counts, notes and damage.",
        epilog=INFO_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    info.add_argument("files", nargs="+", metavar="FILE",
                      help="a .ttrace recording; a directory or several "
                      "files: the process tree of a followed run")
    obj = sub.add_parser("objects", help="object lifetimes and survivors",
                         description="Object lifetimes of a recording made "
                                     "with --objects: per type, top creation "
                                     "sites, and the objects still alive at "
                                     "the end, grouped by site. Survivors are "
                                     "shown as leaks only when verified alive "
                                     "(see the notes on DESTROY gaps).",
                         epilog=OBJECTS_EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    obj.add_argument("file", metavar="FILE", help="a .ttrace recording")
    obj.add_argument("--format", choices=("text", "json"), default="text",
                     help="text (default) or one JSON document")
    obj.add_argument("--limit", type=int, default=20, metavar="N",
                     help="rows per table in text (default 20)")
    imp = obj.add_mutually_exclusive_group()
    imp.add_argument("--imports", dest="imports", action="store_const",
                     const="mixed", default="apart",
                     help="count survivors made while modules were being "
                     "imported with the program's (default: listed apart, "
                     "below them, as module state)")
    imp.add_argument("--no-imports", dest="imports", action="store_const",
                     const="hide",
                     help="leave survivors made while modules were being "
                     "imported out of the survivor lists")
    obj.add_argument("--stacks", action="store_true",
                     help="with --bytes data: expand each line to the "
                     "creation stacks that allocated there. (--bytes data "
                     "also gives bytes per type: an object's own block, "
                     "GC header included, goes to its type; a list's "
                     "items, a dict's keys, a bytearray's data and other "
                     "blocks no object was created in go to 'buffers (no "
                     "object)'. An object taken from a freelist whose block "
                     "predates the recording is not counted.)")
    cov = sub.add_parser(
        "coverage",
        help="line counts and coverage reports",
        description="How often each line ran, and which lines never ran, "
        "in one of several report formats.",
        epilog=COVERAGE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cov.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="one or more .ttrace recordings (merged)",
    )
    cov.add_argument(
        "--format",
        default="text",
        choices=("text", "annotate", "lcov", "cobertura", "json"),
        help="the report format (default: text)",
    )
    cov.add_argument(
        "--missing",
        action="store_true",
        help="text: list the missed line ranges, e.g. 12-15, 40",
    )
    cov.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="write the report to OUT (a directory for annotate) instead of stdout",
    )
    cov.add_argument(
        "--branch", action="store_true", default=None,
        help="branch coverage: the exits of each branch line, taken or not "
        "(needs full recordings, or --count --branch ones)",
    )
    cov.add_argument(
        "--include", action="append", default=[], metavar="GLOB",
        help="report only files matching GLOB (fnmatch on the absolute "
        "path; relative: to the current directory); repeatable",
    )
    cov.add_argument(
        "--omit", action="append", default=[], metavar="GLOB",
        help="leave out files matching GLOB; repeatable",
    )
    cov.add_argument(
        "--source", action="append", default=[], metavar="DIR",
        help="report only files under DIR, and list the .py files there "
        "that never ran at 0 %%; repeatable",
    )
    cov.add_argument(
        "--fail-under", type=float, default=None, metavar="PCT",
        help="exit 2 when the total coverage is below PCT",
    )
    cov.add_argument(
        "--raw-lines", action="store_true", default=None,
        help="count CPython's executable lines (as stdlib trace does) "
        "instead of coverage.py's statements",
    )
    cov.add_argument(
        "--config", metavar="FILE", default=None,
        help="read [tool.tracetap] from FILE (default: the nearest "
        "pyproject.toml at or above the current directory)",
    )
    cov.add_argument(
        "--contexts", action="store_true",
        help="which contexts (tests, with `pytest --tracetap`) ran each "
        "line: text lists them per line, json has coverage.py's "
        "show_contexts shape (files -> path -> contexts -> line -> names)",
    )
    cov.set_defaults(_coverage_parser=cov)
    from . import _calls
    _calls.add_parser(sub, _Parser)
    from . import _lines
    _lines.add_parser(sub)
    from . import _export

    _export.add_parser(sub, _Parser)
    from . import _report

    _report.add_parser(sub, _Parser)
    return p


def _split_run_args(
    argv: Sequence[str],
) -> tuple[list[str], str | None, str | None, list[str]]:
    """Splits `run`'s arguments into tracetap's options and the target:
    everything from SCRIPT (or after -m MODULE) on belongs to the program.
    Returns (options, script, module, program args)."""
    from ._options import RUN_OPTIONS

    takes_value = {f for o in RUN_OPTIONS if o.kind != "flag" for f in o.flags}
    i = 0
    argv = list(argv)
    while i < len(argv):
        a = argv[i]
        if a == "--":
            if i + 1 < len(argv):
                return argv[:i], argv[i + 1], None, argv[i + 2 :]
            return argv[:i], None, None, []
        if a == "-m":
            if i + 1 < len(argv):
                return argv[:i], None, argv[i + 1], argv[i + 2 :]
            return argv[: i + 1], None, None, []  # argparse reports it
        if a.startswith("-m") and not a.startswith("--"):
            return argv[:i], None, a[2:], argv[i + 1 :]
        if a in takes_value:
            i += 2
            continue
        if a.startswith("-") and a != "-":
            i += 1
            continue
        return argv[:i], a, None, argv[i + 1 :]
    return argv, None, None, []


def _err(msg: str) -> None:
    """A message on stderr; what it quotes (a path, a recorded name) is
    escaped by the one rule of every output (_text.printable)."""
    from ._text import printable  # here: `run` imports nothing up front

    sys.stderr.write(f"{PROG}: {printable(msg, keep_newlines=True)}\n")


class _RunOptions:
    """`run`'s options, parsed by hand so that argparse is not imported on
    the way to running the program (see the module docstring); one
    attribute per option of _options.RUN_OPTIONS, at its default."""

    def __init__(self) -> None:
        from ._options import RUN_OPTIONS

        for o in RUN_OPTIONS:
            setattr(self, o.dest, list(o.default) if o.kind == "append" else o.default)


def _run_tables() -> tuple[dict[str, str], dict[str, str]]:
    """(flag -> dest for the options without a value, option -> dest for
    the others), from _options.RUN_OPTIONS."""
    from ._options import RUN_OPTIONS

    flags = {f: o.dest for o in RUN_OPTIONS if o.kind == "flag" for f in o.flags}
    values = {f: o.dest for o in RUN_OPTIONS if o.kind != "flag" for f in o.flags}
    return flags, values


def _parse_run_options(opts: Sequence[str]) -> _RunOptions:
    """Parses the options before SCRIPT/-m. Help and errors go through
    argparse (exit 0 for --help, 2 for a usage error)."""
    ns = _RunOptions()
    _RUN_FLAGS, _RUN_VALUES = _run_tables()
    i = 0
    while i < len(opts):
        a = opts[i]
        if a in ("-h", "--help") or (
            a.startswith("--")
            and "=" not in a
            and a not in _RUN_FLAGS
            and a not in _RUN_VALUES
        ):
            _run_parser().parse_args(list(opts))  # prints, exits
            raise AssertionError("unreachable")
        if a in _RUN_FLAGS:
            setattr(ns, _RUN_FLAGS[a], True)
            i += 1
            continue
        key, value = a, None
        if a.startswith("--") and "=" in a:
            key, value = a.split("=", 1)
        elif a.startswith("-o") and len(a) > 2:
            key, value = "-o", a[2:]
        if key not in _RUN_VALUES:
            _run_parser().parse_args(list(opts))  # reports, exits 2
            raise AssertionError("unreachable")
        if value is None:
            if i + 1 >= len(opts):
                _usage_error(f"argument {key}: expected one argument")
            value = opts[i + 1]
            i += 1
        i += 1
        name = _RUN_VALUES[key]
        if name in ("include", "exclude"):
            getattr(ns, name).append(value)
        elif name == "threads" and value not in ("all", "main"):
            _usage_error(
                f"argument --threads: invalid choice: {value!r} "
                f"(choose from 'all', 'main')"
            )
        elif name == "backend" and value not in ("auto", "legacy", "monitoring"):
            _usage_error(
                f"argument --backend: invalid choice: {value!r} "
                f"(choose from 'auto', 'legacy', 'monitoring')"
            )
        elif name == "flush_interval":
            ns.flush_interval = _flush_interval(value)
        elif name == "stack_depth":
            try:
                ns.stack_depth = int(value)
            except ValueError:
                _usage_error(f"argument --stack-depth: invalid int value: {value!r}")
        else:
            setattr(ns, name, value)
    return ns


def _flush_interval(value: str) -> float:
    """--flush-interval's value: 0, or 0.01 to 3600 seconds (the range the
    extension accepts); a usage error otherwise."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not (seconds == 0 or 0.01 <= seconds <= 3600):
        _usage_error(
            f"argument --flush-interval: expected 0 or 0.01 to 3600 seconds, "
            f"not {value!r}"
        )
    return seconds


def _usage_error(message: str) -> None:
    _run_parser().error(message)
    raise AssertionError("unreachable")


def _cmd_run(argv: Sequence[str]) -> int:
    from . import _run

    opts, script, module, args = _split_run_args(argv)
    ns = _parse_run_options(opts)
    for flag, given in (
        ("--ring", ns.ring is not None),
    ):
        if given:
            _usage_error(f"{flag} is not available yet in this version of tracetap")
    if script is None and module is None:
        _usage_error("a SCRIPT or -m MODULE to run is required")
    from . import _options

    rec_options = _options.api_values(ns)
    rec_options.pop("ring")
    problem = _options.conflict(rec_options, _options.spell_cli)
    if problem:
        _usage_error(problem)
    target = _run.Target(
        module if module is not None else script,  # type: ignore[arg-type]
        is_module=module is not None,
        args=list(args),
    )
    if ns.no_follow and ns.follow_forks:
        _usage_error("--follow-forks follows processes; it cannot be "
                     "combined with --no-follow")
    output = os.path.abspath(ns.output) if ns.output else target.default_output()
    follow: tuple[str, str, bool] | None = None
    stem = os.path.basename(target.default_output())[: -len(".ttrace")]
    if ns.output and not ns.no_follow and (
            os.path.isdir(output) or ns.output.endswith(("/", os.sep))):
        # -o DIR/: every process into DIR, the root included.
        from ._follow import child_file

        if not os.path.isdir(os.path.dirname(output)):
            _usage_error(f"cannot create {output}: "
                         f"{os.path.dirname(output)} does not exist")
        try:
            os.makedirs(output, exist_ok=True)
        except OSError as exc:
            _usage_error(f"cannot create {output}: {exc.strerror}")
        follow = (output, stem, ns.follow_forks)
        output = child_file(output, stem, os.getpid())
    elif os.path.isdir(output):
        _usage_error(f"-o {ns.output}: is a directory")
    elif not ns.no_follow:
        base = os.path.basename(output)
        stem = base[: -len(".ttrace")] if base.endswith(".ttrace") else base
        follow = (output + ".children", stem, ns.follow_forks)
    out_dir = os.path.dirname(output)
    if not os.path.isdir(out_dir):
        _usage_error(f"cannot write {output}: {out_dir} does not exist")
    rec_options["include"] = ns.include or None
    rec_options["exclude"] = ns.exclude or None

    def summary(s: dict[str, Any]) -> None:
        from . import _show

        _show.print_summary(s, output)
        if follow is not None:
            _show.print_children(follow[0], output)

    try:
        outcome = _run.run(target, rec_options, output, on_summary=summary,
                           follow=follow)
    except _run.UsageError as exc:
        _err(f"error: {exc}")
        return 2
    except SyntaxError as exc:
        # As python shows it: the program's file and line, none of ours.
        exc.__traceback__ = None
        exc.__context__ = exc.__cause__ = None
        sys.excepthook(type(exc), exc, None)
        _err("the program did not compile; nothing was recorded")
        return 1
    except RuntimeError as exc:  # refused to start
        _err(f"error: {exc}")
        return 1
    if outcome.interrupted:
        import _signal

        _die_of(_signal.SIGINT, 130)
    if outcome.system_exit is not None:
        raise outcome.system_exit  # exit status as python would
    return outcome.exit_code


def _cmd_objects(path: str, fmt: str, limit: int,
                 imports: str = "apart", stacks: bool = False) -> int:
    from . import _objects, _show
    from ._progress import shown
    from ._trace import Trace, TraceError
    try:
        with Trace(path) as trace, shown(sys.stderr):
            data = _objects.analyze(trace, imports)
            rec = data["recording"]
            for w in _show.status_warnings(path, rec, trace._reader.size):
                _err(f"warning: {w}")
    except (OSError, TraceError) as exc:
        _err(f"error: {exc}")
        return 1
    if not data["recorded"]:
        # Nothing can be answered (as coverage and events refuse).
        from ._text import printable
        _err(f"error: {printable(path)} has no object data: record with "
             "--objects (CPython 3.13+)")
        return 1
    if fmt == "json":
        _objects.format_json(data, sys.stdout)
    else:
        _objects.format_text(data, sys.stdout, limit=max(limit, 1),
                             stacks=stacks)
    return 0


def _die_of(signum: int, fallback: int) -> None:
    """Exit the way python does on an uncaught KeyboardInterrupt: flush,
    run atexit handlers, and die of the signal so the parent sees it."""
    import _signal
    import atexit

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001, S110 - exiting anyway
            pass
    atexit._run_exitfuncs()
    try:
        _signal.signal(signum, _signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    except OSError:
        pass
    os._exit(fallback)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tracetap`` command. Returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "run":
        return _cmd_run(argv[1:])
    parser = _main_parser()
    ns = parser.parse_args(argv)
    if ns.command is None:
        parser.print_help(sys.stderr)
        return 2
    from ._text import OutputError, SafeText

    # Every text a reading command prints goes through the one escaping
    # rule (_text.printable): no recorded string reaches a terminal raw.
    real_out, real_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = SafeText(real_out), SafeText(real_err)
    try:
        status = _dispatch(parser, ns)
        sys.stdout.flush()
        return status
    except KeyboardInterrupt:
        # Ctrl-C during a long read (the C reader checks for it).
        _flush_quietly(sys.stdout)
        _err("interrupted")
        return 130
    except BrokenPipeError:
        # `tracetap events big.ttrace | head`: the reader went away.
        _silence(real_out)
        return 0
    except OutputError as exc:
        # `tracetap events x.ttrace > /dev/full`: say so, no traceback.
        _silence(real_out)
        _err(f"error: cannot write the output: {exc}")
        return 1
    finally:
        sys.stdout, sys.stderr = real_out, real_err


def _flush_quietly(stream: Any) -> None:
    try:
        stream.flush()
    except Exception:  # noqa: BLE001, S110 - reporting another error
        pass


def _silence(stream: Any) -> None:
    """Points the stream's descriptor at /dev/null and drops what it
    buffered, so that the interpreter's flush at exit adds no traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stream.fileno())
    os.close(devnull)
    _flush_quietly(stream)


def _refuse_directory(path: str, command: str) -> int:
    """1 after an error for a directory given to a one-recording command."""
    from ._inputs import refuse_directory

    msg = refuse_directory(path, command)
    if msg is None:
        return 0
    _err(f"error: {msg}")
    return 1


def _dispatch(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> int:
    """Runs a reading command; returns its exit status."""
    from . import _show

    if ns.command == "events":
        if ns.limit is not None and ns.limit < 0:
            parser.error("--limit must be 0 or more")
        refused = _refuse_directory(ns.file, "events")
        if refused:
            return refused
        return _show.cmd_events(
            ns.file, as_json=ns.json, thread=ns.thread, limit=ns.limit
        )
    if ns.command == "info":
        return _show.cmd_info_many(ns.files)
    if ns.command == "objects":
        return _cmd_objects(ns.file, ns.format, ns.limit, ns.imports,
                            ns.stacks)
    if ns.command == "calls":
        from . import _calls
        return _calls.cmd_calls(ns)
    if ns.command == "lines":
        from . import _lines
        return _lines.cmd_lines(ns)
    if ns.command == "export":
        refused = _refuse_directory(ns.file, "export")
        if refused:
            return refused
        from . import _export
        return _export.cmd_export(ns)
    if ns.command == "report":
        from . import _report
        return _report.cmd_report(ns)
    if ns.command == "coverage":
        cp = ns._coverage_parser
        if ns.format == "annotate" and not ns.output:
            cp.error(
                "--format annotate needs -o DIR, the directory for the .cover files"
            )
        if ns.missing and ns.format != "text":
            cp.error("--missing applies to --format text")
        if ns.contexts and ns.format not in ("text", "json"):
            cp.error("--contexts applies to --format text or json")
        from . import _coverage

        try:
            config = _coverage.load_config(
                ns.config, branch=ns.branch, include=ns.include,
                omit=ns.omit, source=ns.source, fail_under=ns.fail_under,
                statements=False if ns.raw_lines else None)
        except (OSError, _coverage.ConfigError) as exc:
            cp.error(str(exc))
        from ._inputs import InputError, expand

        try:
            files = expand(ns.files)
        except InputError as exc:
            _err(f"error: {exc}")
            return 1
        if ns.contexts:
            from . import _contexts
            return _contexts.cmd_contexts(files, ns.format, ns.output,
                                          config)
        return _coverage.cmd_coverage(files, ns.format, ns.output,
                                      ns.missing, config)
    parser.error(f"unknown command {ns.command!r}")
    return 2
