"""Recording: ``tracetap.record`` and the options it shares with ``run``.

Owns the validation of recording options and the translation into the
extension's ``start()`` arguments. Must not call any standard-library Python
function between ``_tracetap.start()`` and ``_tracetap.stop()``: with
``stdlib=True`` such calls would show up in the recording.
"""

from __future__ import annotations

import atexit
import os
import sys
import sysconfig
import threading

from . import _options, _tracetap

# Kept out of the import footprint: `tracetap run` must leave the program's
# own imports to the program (see _run.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any, Self

__all__ = ["NotAvailableError", "RecordingError", "context", "record"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class NotAvailableError(NotImplementedError):
    """An option that tracetap does not provide yet."""


class RecordingError(RuntimeError):
    """The recording could not be finished completely."""


def context(name: str) -> bool:
    """Marks the start of the context `name` in the active recording (the
    pytest plugin marks each test's setup, call and teardown as
    "<node id>|setup", "|run", "|teardown"). Everything recorded from now
    until the next mark belongs to it: `tracetap coverage --contexts` lists
    the contexts that ran each line, `tracetap calls --context NAME` times
    one. "" returns to no context. Returns False (and does nothing) when
    nothing is being recorded. Raises OSError when the mark cannot be
    written."""
    return _tracetap.context(name)


def _not_available(what: str) -> NotAvailableError:
    return NotAvailableError(f"{what} is not available yet in this version of tracetap")


def stdlib_dirs() -> list[str]:
    """The directories whose files count as the standard library."""
    paths = sysconfig.get_paths()
    dirs: set[str] = set()
    for key in ("stdlib", "platstdlib"):
        p = paths.get(key)
        if p:
            dirs.add(os.path.normpath(os.path.abspath(p)))
            dirs.add(os.path.normpath(os.path.realpath(p)))
    return sorted(dirs)


def third_party_dirs() -> list[str]:
    """The directories of installed third-party packages, as coverage.py
    counts them: the site-packages/dist-packages of the running interpreter
    (the venv's) and of its base installation, and the user site."""
    import site

    dirs: set[str] = set()
    bases = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    for scheme_vars in (None, bases):
        paths = sysconfig.get_paths(vars=scheme_vars)
        for key in ("purelib", "platlib"):
            if paths.get(key):
                dirs.add(paths[key])
    try:
        dirs.update(site.getsitepackages())
    except AttributeError:  # an old virtualenv's site.py
        pass
    user = getattr(site, "getusersitepackages", lambda: None)()
    if user:
        dirs.add(user)
    out: set[str] = set()
    for d in dirs:
        out.add(os.path.normpath(os.path.abspath(d)))
        out.add(os.path.normpath(os.path.realpath(d)))
    return sorted(out)


def own_dirs() -> list[str]:
    """tracetap's own package directory: never traced."""
    return sorted({_PACKAGE_DIR, os.path.realpath(_PACKAGE_DIR)})


def launcher_files() -> list[str]:
    """The file of the outermost frame on this thread's stack (the
    installed console script, bin/tracetap or bin/pytest; runpy's for
    `python -m`): the command the program runs inside, never its code.
    Its frame is running when the recording starts and would otherwise be
    recorded, a 0 % file in every coverage report."""
    outer = sys._getframe()
    while outer.f_back is not None:
        outer = outer.f_back
    name = outer.f_code.co_filename
    return [] if name.startswith("<") else [os.path.abspath(name)]


def _globs(value: str | Iterable[str] | None, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        value = [value]
    out = []
    for g in value:
        g = os.fspath(g)
        if not isinstance(g, str) or not g:
            raise ValueError(f"{name}: expected non-empty glob strings")
        # A pattern that starts like a relative path is relative to the
        # current directory (as coverage.py does); file names are absolute.
        if not g.startswith(("/", "*", "?", "[")):
            g = os.path.join(os.getcwd(), g)
        out.append(g)
    return out


# The modes `auto` records on sys.monitoring: those measured faster there
# (docs/DESIGN.md section 7): --coverage (lines, and with --branch the arcs
# out of branches), and calls only (--no-lines, with or without --c-calls):
# no LINE event is delivered at all.
def _monitoring_wins(rec: Any) -> bool:
    if rec.coverage:
        return True
    return rec.calls and not rec.lines and not rec.count and not rec.opcodes


def coverage_fallback(rec: Any) -> str:
    """Why a --coverage recording is made as --count on the legacy
    backend (the sentence its summary and notes carry)."""
    if sys.version_info < (3, 12):
        why = f"CPython {sys.version.split()[0]} has no sys.monitoring"
    else:
        why = "--backend legacy was asked for"
    return (f"--coverage was recorded as --count on the legacy backend: {why}; "
            f"the file holds line counts")


def choose_backend(backend: str, rec: Any) -> str:
    """The backend a recording uses: "legacy" or "monitoring". `backend`
    is record()'s keyword; `rec` holds the mode (calls, lines, count...).
    ValueError for an unknown name, or for "monitoring" before 3.12."""
    if backend not in ("auto", "legacy", "monitoring"):
        raise ValueError(f"backend must be 'auto', 'legacy' or 'monitoring', "
                         f"not {backend!r}")
    if backend == "monitoring" and sys.version_info < (3, 12):
        raise ValueError(
            "backend='monitoring' (--backend monitoring) needs CPython 3.12 "
            f"or newer (sys.monitoring); this is {sys.version.split()[0]}: "
            "use the legacy backend")
    if backend == "auto":
        return "monitoring" if sys.version_info >= (3, 12) and \
            _monitoring_wins(rec) else "legacy"
    return backend


class record:
    """Record the calling program into a ``.ttrace`` file.

    Use it as a context manager::

        with tracetap.record("app.ttrace"):
            main()

    or call :meth:`start` and :meth:`stop`. The keywords mirror
    ``tracetap run``'s flags:

    - ``calls``: install the trace function at all (``--no-calls``);
    - ``lines``: record line events (``--no-lines``);
    - ``opcodes``: record every bytecode instruction (``--opcodes``);
    - ``c_calls``: also record calls of C functions (built-ins, methods of
      built-in types) made by recorded code, through a profile function
      (``--c-calls``), so that ``calls()`` times them under their own
      names as cProfile does;
    - ``threads``: ``"all"`` (threads already running and threads started
      later) or ``"main"`` (only the main thread; start from it);
    - ``include``/``exclude``: fnmatch globs on absolute file names;
      ``include`` forces files in (even from the standard library),
      ``exclude`` keeps them out and wins over ``include``;
    - ``stdlib``: trace the standard library too.
    - ``branch``: with ``count``, count the line-to-line arcs too, for
      ``tracetap coverage --branch`` (a full recording has them anyway);
      with ``coverage`` (monitoring backend), mark the arcs out of every
      branch taken (hits only; not the other line-to-line arcs);
    - ``third_party``: trace installed packages too (site-packages and
      dist-packages of the interpreter and the venv, and the user site;
      left out by default, as coverage.py does).

    - ``count``: count line executions per line in C and write only the
      counts (and code records) at stop, no event log (``--count``; read
      it with ``tracetap coverage`` or ``load(path).coverage()``).

    - ``objects`` (CPython 3.13+): record object births and deaths through
      PyRefTracer (``--objects``; read them with ``tracetap objects`` or
      ``load(path).objects()``); with ``count``, per-site aggregates only.
    - ``bytes`` (with ``objects``, not ``count``): count the bytes each
      creation stack allocates through CPython's allocators, live bytes
      over time and the peak (``--bytes``); ``stack_depth`` traced frames
      are kept per stack (``--stack-depth``, default 8).
      Refused (RuntimeError) before 3.13, on free-threaded builds, and
      while tracemalloc holds the reference tracer.

    - ``backend``: ``"auto"`` (default), ``"legacy"`` or ``"monitoring"``
      (``--backend``): how events reach tracetap, PyEval_SetTrace or
      sys.monitoring callbacks (CPython 3.12+; ValueError before). ``auto``
      takes, per mode, the backend measured faster for it (see
      ``choose_backend``).

    - ``coverage``: which lines ran, for test suites (``--coverage``): on
      the monitoring backend each line is reported once (DISABLE), so the
      file holds hits (every count 1, a ``counts: hits only`` note); on
      3.11 and with ``backend="legacy"`` it is recorded as
      ``count`` on the legacy backend, and the summary's first warning and
      a ``coverage_fallback`` note say so.

    - ``flush_interval``: seconds between two writes of what every thread
      has buffered (``--flush-interval``; default 1.0), so that a program
      that is killed (SIGKILL, ``os._exit``) loses about that much at most;
      0 writes only full buffers (64 KiB per thread) and at stop. A crash
      (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) writes everything recorded
      up to it in any case.

    ``ring`` is not available yet and raises :class:`NotAvailableError`.

    The frames of the calling thread that are already running when the
    recording starts (the one holding the ``with`` statement, a notebook
    cell, and those below it) are traced from that point on, as a
    debugger's ``set_trace()`` would: their lines, exceptions and returns
    are recorded (without a call event, which happened before), and so is
    everything they call. Other threads' running frames are not. tracetap's
    own code is never traced.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        calls: bool = True,
        lines: bool = True,
        opcodes: bool = False,
        c_calls: bool = False,
        objects: bool = False,
        bytes: bool = False,
        stack_depth: int = 8,
        count: bool = False,
        threads: str = "all",
        include: str | Iterable[str] | None = None,
        exclude: str | Iterable[str] | None = None,
        stdlib: bool = False,
        third_party: bool = False,
        branch: bool = False,
        ring: Any = None,
        flush_interval: float = 1.0,
        backend: str = "auto",
        coverage: bool = False,
        _argv: Sequence[str] | None = None,
        _options_text: str | None = None,
        _own: Sequence[str] = (),
        _notes: Sequence[tuple[str, str]] = (),
    ) -> None:
        if ring is not None:
            raise _not_available("flight-recorder mode (ring=..., --ring)")
        if threads not in ("all", "main"):
            raise ValueError(f"threads must be 'all' or 'main', not {threads!r}")
        problem = _options.conflict(
            {"calls": calls, "lines": lines, "opcodes": opcodes, "c_calls": c_calls,
             "count": count, "objects": objects, "branch": branch, "bytes": bytes,
             "stack_depth": stack_depth, "backend": backend,
             "coverage": coverage}, _options.spell_api)
        if problem:
            raise ValueError(problem)
        self.path = os.path.abspath(os.fspath(path))
        self.calls = bool(calls)
        self.lines = bool(lines) and self.calls
        self.opcodes = bool(opcodes)
        self.c_calls = bool(c_calls)
        # --objects: 1 = event log, 2 = per-site aggregates (with count)
        self.objects = (2 if count else 1) if objects else 0
        # --bytes: frames kept per creation stack (0: bytes off)
        self.alloc_depth = int(stack_depth) if bytes else 0
        self.count = bool(count)
        self.coverage = bool(coverage)
        self.threads = threads
        self.include = _globs(include, "include")
        self.exclude = _globs(exclude, "exclude")
        self.stdlib = bool(stdlib)
        self.third_party = bool(third_party)
        # Full recordings hold every arc anyway; --count needs a table.
        self.branch = bool(branch) and (self.count or self.coverage)
        self.flush_interval = float(flush_interval)
        self.backend = choose_backend(backend, self)
        # --coverage where the monitoring backend cannot record it (3.11,
        # --backend legacy): --count on legacy, said once.
        self.fallback: str | None = None
        if self.coverage and self.backend == "legacy":
            self.fallback = coverage_fallback(self)
        self._argv = list(sys.argv if _argv is None else _argv)
        self._options_text = (
            self._describe() if _options_text is None else _options_text
        )
        self._own = list(_own)
        self._notes = list(_notes)
        self._state = "new"
        self.summary: dict[str, Any] | None = None

    def _describe(self) -> str:
        """The options text the recording stores (_options.describe)."""
        return _options.describe({
            "calls": self.calls, "lines": self.lines, "opcodes": self.opcodes,
            "c_calls": self.c_calls, "count": self.count, "branch": self.branch,
            "coverage": self.coverage, "objects": self.objects,
            "threads": self.threads,
            "include": self.include, "exclude": self.exclude,
            "stdlib": self.stdlib, "third_party": self.third_party,
            "flush_interval": self.flush_interval,
            "bytes": bool(self.alloc_depth), "stack_depth": self.alloc_depth,
        })

    # -- control ------------------------------------------------------------

    def start(self) -> record:
        """Start recording. Raises RuntimeError if another tracer holds the
        trace hook or a recording is already running."""
        if self._state != "new":
            raise RuntimeError(
                "this recording was already started; make a "
                "new tracetap.record() to record again"
            )
        if (
            self.threads == "main"
            and threading.current_thread() is not threading.main_thread()
        ):
            raise RuntimeError(
                "threads='main' records the main thread only; "
                "start it from the main thread"
            )
        names = {t.ident: t.name for t in threading.enumerate()}
        opnames: list[str] = []
        if self.opcodes:
            import opcode

            opnames = list(opcode.opname)
        args = {
            "calls": self.calls,
            "lines": self.lines,
            "opcodes": self.opcodes,
            "count": self.count or self.coverage,
            "main_only": self.threads == "main",
            "include": self.include,
            "exclude": self.exclude,
            "stdlib_dirs": stdlib_dirs(),
            "own_dirs": own_dirs() + self._own,
            "stdlib": self.stdlib,
            "third_party_dirs": [] if self.third_party else third_party_dirs(),
            "arcs": self.branch,
            # as the OS gave them: undecodable bytes survive (surrogateescape)
            "argv": [os.fsencode(a) for a in self._argv],
            "options_text": self._options_text,
            "opnames": opnames,
            "thread_names": names,
            "python_version": sys.version.split()[0],
            "python_build": sys.version,
            "flush_interval": self.flush_interval,
        }
        if self.backend == "monitoring":
            args["backend"] = 1
            if self.coverage:
                args["coverage"] = True
        if self.objects:
            args["objects"] = self.objects
        if self.alloc_depth:
            args["alloc_depth"] = self.alloc_depth
        if self.c_calls:
            args["c_calls"] = True
        notes = list(self._notes)
        if self.fallback:
            notes.append(("coverage_fallback", self.fallback))
        if notes:
            args["notes"] = notes
        atexit.register(self._stop_at_exit)
        # An audit hook that vetoes sys.settrace has its exception reported
        # as unraisable by CPython; it belongs in start()'s error instead.
        vetoes: list[Any] = []
        old_hook = sys.unraisablehook
        sys.unraisablehook = vetoes.append
        try:
            _tracetap.start(self.path, **args)
        except BaseException as exc:
            atexit.unregister(self._stop_at_exit)
            if vetoes and isinstance(exc, RuntimeError):
                v = vetoes[0].exc_value
                raise RuntimeError(
                    f"{exc} ({type(v).__name__}: {v})"
                ) from None
            raise
        finally:
            sys.unraisablehook = old_hook
        self._state = "recording"  # no library calls after start
        global _active
        _active = self
        for u in vetoes:  # not ours: as CPython would have reported them
            old_hook(u)
        return self

    def stop(self) -> dict[str, Any]:
        """Stop recording, finish the file and return a summary: events by
        kind, dropped, threads (recorded), threads_ended (of those, how
        many exited while recording and had their buffers released),
        duration_ns, bytes and warnings. Raises
        RecordingError if the file could not be completed."""
        if self._state != "recording":
            raise RuntimeError("this recording is not running")
        # "stopping" while the extension finishes the file: a signal
        # handler that runs meanwhile (Python code runs inside stop) sees
        # that the file is being finished (_follow defers its SIGTERM).
        self._state = "stopping"
        try:
            summary = _tracetap.stop()  # nothing of ours is recorded
        finally:
            self._state = "stopped"
        global _active
        if _active is self:
            _active = None
        atexit.unregister(self._stop_at_exit)
        try:
            summary["bytes"] = os.path.getsize(self.path)
        except OSError:
            pass
        summary["path"] = self.path
        if self.fallback:
            summary["warnings"] = [self.fallback, *summary.get("warnings", [])]
        elif self.coverage:
            summary["hits_only"] = True
        self.summary = summary
        if summary.get("error"):
            raise RecordingError(f"{self.path}: {summary['error']}")
        return summary

    def _stop_at_exit(self) -> None:
        if self._state == "recording":
            try:
                self.stop()
            except Exception:  # noqa: BLE001, S110 - the process is exiting
                pass

    @property
    def recording(self) -> bool:
        """True between start() and stop()."""
        return self._state == "recording"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        if self._state == "recording":
            self.stop()

    def __repr__(self) -> str:
        return f"<tracetap.record {self.path!r} ({self._state})>"


# The record that is recording in this process (one at most; the
# extension refuses a second). A forked child lets go of it.
_active: record | None = None


def _after_fork_in_child() -> None:
    """A forked child neither writes into its parent's file nor stops it
    at exit: the extension lets go of the file (without flushing the
    parent's buffers), and the parent's record turns "abandoned"."""
    global _active
    _tracetap._after_fork_child()
    if _active is not None:
        atexit.unregister(_active._stop_at_exit)
        if _active._state == "recording":
            _active._state = "abandoned"
        _active = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
