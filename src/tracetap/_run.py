"""Running a target program under a recording, as ``python`` would.

Owns ``tracetap run``'s execution model: ``sys.argv``, ``sys.path[0]``, a
fresh ``__main__`` module, ``__file__``/``__spec__``, the exit status, the
traceback of an uncaught exception (without tracetap's frames), waiting for
non-daemon threads, and SIGTERM. The recording starts just before the
target's code runs, and the main thread stops being traced the moment that
code ends, so neither this module nor the standard library it calls shows up
in the recording. It imports as little as it can: a module imported here is
one whose import the program will not do (and so not record) itself.
"""

from __future__ import annotations

import _signal
import builtins
import io
import os
import stat
import sys
import threading

from . import _tracetap
from . import _record
from ._record import RecordingError, record
from ._termhold import TermHold

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import CodeType, ModuleType
    from typing import Any

_OWN_DIR = os.path.dirname(os.path.abspath(__file__))


class UsageError(Exception):
    """A problem with what the user asked for: exit status 2."""


class StartError(RuntimeError):
    """The recording could not start (the output file cannot be created,
    an option the interpreter cannot honour, another tracer holds the
    hook): tracetap's error, exit status 1, and no file is left behind."""


def _start(rec: record) -> None:
    """rec.start(), with its failures as tracetap's own errors rather than
    the program's: StartError (exit 1), or UsageError (exit 2) for an
    option value the session refused."""
    try:
        rec.start()
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        what = exc.strerror or str(exc)
        raise StartError(f"cannot create the recording {rec.path}: {what}") from None
    except RuntimeError as exc:
        raise StartError(str(exc)) from None


class Target:
    """What to run: a script path (file, directory or zip) or a module."""

    def __init__(
        self, name: str, is_module: bool, args: list[str] | None = None
    ) -> None:
        self.name = name
        self.is_module = is_module
        self.args = list(args or [])

    def default_output(self) -> str:
        """``<stem>.ttrace`` next to the script; ``<module>.ttrace`` in the
        current directory for -m."""
        if self.is_module:
            return os.path.join(os.getcwd(), self.name + ".ttrace")
        path = os.path.abspath(self.name).rstrip(os.sep)
        stem = os.path.splitext(os.path.basename(path))[0] or "trace"
        return os.path.join(os.path.dirname(path), stem + ".ttrace")


class Outcome:
    """How the target ended."""

    def __init__(self) -> None:
        self.exit_code = 0
        self.summary: dict[str, Any] | None = None
        self.exception: BaseException | None = None  # uncaught
        self.system_exit: SystemExit | None = None
        self.interrupted = False  # KeyboardInterrupt


def _source_loader() -> Any:
    # importlib.machinery.SourceFileLoader, without importing
    # importlib.machinery: the frozen bootstrap module is always loaded.
    ext = sys.modules.get("_frozen_importlib_external")
    if ext is not None:
        return ext.SourceFileLoader
    import importlib.machinery

    return importlib.machinery.SourceFileLoader


def _fresh_main(attrs: dict[str, Any]) -> ModuleType:
    """A new ``__main__`` module set up like the interpreter's own."""
    old = sys.modules.get("__main__")
    module = type(sys)("__main__")
    module.__dict__.update(attrs)
    module.__builtins__ = builtins  # type: ignore[attr-defined]
    if old is not None and "__annotations__" in vars(old):
        module.__annotations__ = {}  # as pylifecycle's __main__
    sys.modules["__main__"] = module
    return module


def _is_zip(path: str) -> bool:
    import zipimport  # loaded at startup anyway

    try:
        zipimport.zipimporter(path)
    except zipimport.ZipImportError:
        return False
    return True


def _prepare_script(target: Target) -> tuple[CodeType, ModuleType]:
    """Compiles a script, or finds a directory's or zip file's __main__;
    sets up sys.argv, sys.path[0] and __main__. Raises UsageError if the
    script is missing and SyntaxError if it does not compile."""
    script = target.name
    path = os.path.abspath(script)
    if not os.path.exists(path):
        raise UsageError(f"can't open file {path!r}: no such file or directory")
    if os.path.isdir(path) or _is_zip(path):
        # python DIR / python ZIP: run the __main__ module found there.
        import runpy

        sys.path[0] = path
        try:
            _, spec, code = runpy._get_main_module_details()  # type: ignore[attr-defined]
        except ImportError as exc:
            raise UsageError(f"can't find '__main__' module in {script!r}") from exc
        sys.argv[:] = [script] + target.args
        module = _fresh_main(
            {
                "__name__": "__main__",
                "__doc__": None,
                "__package__": "",
                "__loader__": spec.loader,
                "__spec__": spec,
                "__file__": spec.origin,
                "__cached__": spec.cached,
            }
        )
        return code, module
    with io.open_code(path) as f:
        source = f.read()
    code = compile(source, path, "exec", dont_inherit=True)
    sys.argv[:] = [script] + target.args
    sys.path[0] = os.path.dirname(os.path.realpath(path))
    module = _fresh_main(
        {
            "__name__": "__main__",
            "__doc__": None,
            "__package__": None,
            "__loader__": _source_loader()("__main__", path),
            "__spec__": None,
            "__file__": path,
            "__cached__": None,
        }
    )
    return code, module


def _check_module(name: str) -> None:
    """Fails early (UsageError) if the top-level package cannot be found;
    looking it up imports nothing."""
    import importlib.util

    if not name or name.startswith("."):
        raise UsageError(f"relative module names are not supported: {name!r}")
    top = name.partition(".")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError) as exc:
        raise UsageError(f"no module named {name!r} ({exc})") from exc
    if spec is None:
        raise UsageError(f"no module named {name!r}")


def _wait_for_threads() -> None:
    """What the interpreter does at exit: wait for non-daemon threads."""
    me = threading.current_thread()
    while True:
        pending = [
            t
            for t in threading.enumerate()
            if t is not me and not t.daemon and t.is_alive()
        ]
        if not pending:
            return
        for t in pending:
            t.join()


def _strip_own_frames(tb: Any) -> Any:
    """Drops the leading traceback entries that belong to tracetap (and to
    runpy, which -m goes through)."""
    while tb is not None:
        fn = os.path.abspath(tb.tb_frame.f_code.co_filename)
        if os.path.dirname(fn) != _OWN_DIR and os.path.basename(fn) != "runpy.py":
            break
        tb = tb.tb_next
    return tb


def run(
    target: Target,
    rec_options: dict[str, Any],
    output: str,
    on_summary: Callable[[dict[str, Any]], None],
    follow: tuple[str, str, bool] | None = None,
) -> Outcome:
    """Runs the target under a recording into `output`. The summary goes to
    `on_summary` once the recording is finished (also on SIGTERM, before
    the process dies of it). Raises UsageError for a missing script or
    module or an option value the recording refuses, SyntaxError if the
    script does not compile, and StartError (a RuntimeError) if the
    recording cannot start; then the program has not run and no file is
    left. `follow`: (directory, stem, forks) to record the Python processes
    the program starts into directory/stem.PID.ttrace (_follow.py); the
    root's file then carries its process notes too."""
    extra_own: list[str] = []
    code: CodeType | None = None
    module: ModuleType | None = None
    if target.is_module:
        import runpy

        # As `python -m`: the current directory comes first on sys.path,
        # also for the installed `tracetap` command (whose sys.path[0] is
        # its bin directory), and before the module is looked up.
        sys.path[0] = os.getcwd()
        _check_module(target.name)
        sys.argv[:] = ["-m"] + target.args
        # Finding the module imports its parent packages, which is the
        # program's own code: that happens under the recording, with
        # runpy's frames kept out.
        extra_own.append(os.path.abspath(runpy.__file__))
    else:
        code, module = _prepare_script(target)
    argv = ["-m", target.name] + target.args if target.is_module else list(sys.argv)
    # The program runs inside the frames of tracetap's command, which are
    # never its code.
    extra_own += _record.launcher_files()
    if follow is not None:
        from . import _follow
    try:
        rec = record(output, _argv=argv, _own=extra_own, **rec_options)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
    if follow is not None:
        directory, stem, forks = follow
        _follow.clear_old(directory, stem)
        # A forked child goes on in frames of tracetap's command: never
        # traced (extra_own has them).
        child_options = dict(rec_options, include=rec.include, exclude=rec.exclude,
                             _own=list(extra_own))
        _follow.follow(directory, stem, child_options, forks)
    outcome = Outcome()
    recorder_pid = os.getpid()
    old_term = _install_sigterm(rec, on_summary, recorder_pid, follow)
    try:
        _start(rec)
    except BaseException:
        _restore_sigterm(old_term)
        raise
    try:
        if target.is_module:
            try:
                _, spec, code = runpy._get_module_details(target.name)  # type: ignore[attr-defined]
            except ImportError as exc:
                _tracetap.detach_thread()
                rec.stop()
                _remove(output)
                raise UsageError(
                    str(exc) or f"no module named {target.name!r}"
                ) from None
            # ModuleSpec's properties are standard-library code: set up
            # __main__ with this thread untraced for a moment.
            _tracetap.detach_thread()
            sys.argv[0] = spec.origin
            module = _fresh_main(
                {
                    "__name__": "__main__",
                    "__doc__": None,
                    "__package__": spec.parent,
                    "__loader__": spec.loader,
                    "__spec__": spec,
                    "__file__": spec.origin,
                    "__cached__": spec.cached,
                }
            )
            _tracetap.attach_thread()
            exec(code, module.__dict__)  # noqa: S102 - running it is the job
        else:
            exec(code, module.__dict__)  # type: ignore[union-attr]  # noqa: S102
    except SystemExit as exc:
        _tracetap.detach_thread()
        outcome.system_exit = exc
    except KeyboardInterrupt as exc:
        _tracetap.detach_thread()
        outcome.interrupted = True
        outcome.exception = exc
    except UsageError:
        _restore_sigterm(old_term)
        raise
    except BaseException as exc:  # noqa: BLE001 - reported below
        _tracetap.detach_thread()
        outcome.exception = exc
    else:
        _tracetap.detach_thread()
    # The target is over and this thread is no longer traced; the others
    # still are, until they finish (the interpreter waits for them too).
    if outcome.exception is not None:
        exc = outcome.exception
        tb = _strip_own_frames(exc.__traceback__)
        exc.__traceback__ = tb
        sys.excepthook(type(exc), exc, tb)
        outcome.exit_code = 1
        del exc, tb
    try:
        _wait_for_threads()
    except KeyboardInterrupt:
        outcome.interrupted = True
    _restore_sigterm(old_term)
    if os.getpid() != recorder_pid:
        # A forked child that ran on to the program's end: the recording is
        # its parent's (the child let go of it at the fork), so it has no
        # summary to give.
        return outcome
    if rec.recording:
        _root_notes(follow, output)
        try:
            outcome.summary = rec.stop()
        except Exception as exc:  # noqa: BLE001 - reported
            outcome.summary = dict(rec.summary or {})
            if not isinstance(exc, RecordingError):  # that one is "error"
                outcome.summary.setdefault("warnings", []).append(str(exc))
    _give_summary(on_summary, outcome.summary or {})
    return outcome


def _root_notes(follow: tuple[str, str, bool] | None, output: str) -> None:
    """A followed run whose program started Python children: the root's
    file gets its process notes at the end (a run without children stays
    as it was), so that the tree links the children to it."""
    if follow is None:
        return
    from . import _follow

    if _follow.children_recorded(follow[0], output):
        try:
            _tracetap._notes(_follow.process_notes("root", os.getpid()))
        except (RuntimeError, OSError):
            pass


def _give_summary(on_summary: Callable[[dict[str, Any]], None],
                  summary: dict[str, Any]) -> None:
    """The summary goes to stderr, which the program may have closed (a
    daemon closes fds 1 and 2): then there is none, and the program's exit
    status stays what python would give."""
    try:
        on_summary(summary)
    except (OSError, ValueError):
        pass


def _remove(path: str) -> None:
    """Removes what tracetap wrote at path: a regular file only, never a
    device or a FIFO the output named (`-o /dev/null` as root)."""
    try:
        if stat.S_ISREG(os.lstat(path).st_mode):
            os.unlink(path)
    except OSError:
        pass


def _install_sigterm(
    rec: record, on_summary: Callable[[dict[str, Any]], None], recorder_pid: int,
    follow: tuple[str, str, bool] | None = None,
) -> Any:
    """SIGTERM: finish the file, then die of SIGTERM as python would. Left
    alone if the program's environment already handles or ignores it. A
    forked child inherits the handler but not the recording: it just dies
    of the signal, as it would untraced (a fork pool's terminate())."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def on_term(signum: int, frame: Any) -> None:
        if os.getpid() != recorder_pid:
            follower = sys.modules.get(__package__ + "._follow")
            if follower is not None:  # a followed fork child's own file
                follower.on_term(signum, frame)
                return
            _signal.signal(signum, _signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if rec.recording:
            _root_notes(follow, rec.path)
        summary = rec.stop() if rec.recording else dict(rec.summary or {})
        summary.setdefault("warnings", []).append(
            "the program was terminated by SIGTERM"
        )
        _give_summary(on_summary, summary)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110 - dying of the signal
                pass
        _signal.signal(signum, _signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    # Marked as tracetap's: a followed forked child replaces it with its own
    # C-level handler (_follow._install_sigterm) instead of keeping this
    # Python-level one, which a worker blocked in a C wait never runs.
    on_term._tracetap = True  # type: ignore[attr-defined]
    try:
        old = _signal.getsignal(_signal.SIGTERM)
        if old != _signal.SIG_DFL:
            return None
        _signal.signal(_signal.SIGTERM, on_term)
    except (ValueError, OSError):
        return None
    global _fork_hook
    if not _fork_hook and hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_term_hold.hold,
                            after_in_parent=_term_hold.release,
                            after_in_child=_default_sigterm_in_child)
        _fork_hook = True
    return old


_fork_hook = False   # _default_sigterm_in_child is registered
_term_hold = TermHold()


def _default_sigterm_in_child() -> None:
    """A forked child gets SIGTERM's default action back in place of the
    root's Python-level handler, which a child blocked in a C wait would
    not run (a followed child arms its own C-level handler: _follow). The
    signal is held from before the fork until then: one that came in
    between acts on the new disposition instead of tripping a handler that
    is gone (which Python reports as "ignored due to race condition")."""
    try:
        if getattr(_signal.getsignal(_signal.SIGTERM), "_tracetap", False):
            _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)
    except (ValueError, OSError):
        pass
    _term_hold.release()


def _restore_sigterm(old: Any) -> None:
    if old is None:
        return
    try:
        _signal.signal(_signal.SIGTERM, old)
    except (ValueError, OSError):
        pass
