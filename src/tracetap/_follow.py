"""Following the Python processes a recorded program starts.

Owns the one environment variable tracetap sets for the program
(TRACETAP_FOLLOW: where and how to record), the start of a child's
recording (from the ``tracetap-follow.pth`` file in site-packages for a new
interpreter, from an at-fork hook for a forked child), the process notes
that link each file to its parent, and how a child's recording ends (exit,
``os._exit`` in a forked child, SIGTERM). What it changes in the program's
environment is listed in docs/processes.md; nothing else may change.
Imports only builtin modules before a recording starts (it runs at every
followed interpreter's start-up).
"""

from __future__ import annotations

import marshal
import os
import sys

from ._termhold import TermHold

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._record import record

ENV = "TRACETAP_FOLLOW"
_MP_FORKERS = (
    os.sep + os.path.join("multiprocessing", "popen_fork.py"),
    os.sep + os.path.join("multiprocessing", "forkserver.py"),
)

_config: dict[str, Any] | None = None  # this process follows its children
_rec: record | None = None  # this child's recording (not the root's)
_fork_hook = False  # registered once per process
_term_pending = False  # SIGTERM came while the file was being finished
_real_exit = os._exit


def child_file(directory: str, stem: str, pid: int) -> str:
    """Where process `pid` of a followed run writes: DIR/STEM.PID.ttrace."""
    return os.path.join(directory, f"{stem}.{pid}.ttrace")


def process_notes(how: str, root: int) -> list[tuple[str, str]]:
    """The NOTE records that identify this process in its file."""
    return [
        ("process.pid", str(os.getpid())),
        ("process.ppid", str(os.getppid())),
        ("process.how", how),
        ("process.root", str(root)),
    ]


def children_recorded(directory: str, root: str) -> bool:
    """True if `directory` holds a child's recording (a file other than
    `root`)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return False
    return any(n.endswith(".ttrace") and os.path.join(directory, n) != root
               for n in names)


def clear_old(directory: str, stem: str) -> None:
    """Removes the files a previous run of the same stem left in
    `directory` (STEM.PID.ttrace, regular files only), so that a directory
    holds one run, as a file holds one recording."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        middle = name[len(stem) + 1 : -len(".ttrace")]
        if name.startswith(stem + ".") and name.endswith(".ttrace") and middle.isdigit():
            from ._run import _remove

            _remove(os.path.join(directory, name))


def follow(directory: str, stem: str, options: dict[str, Any], forks: bool) -> None:
    """Called by `tracetap run` before the program starts: children record
    into `directory` with `options` (record()'s keywords, globs already
    absolute). Sets TRACETAP_FOLLOW in os.environ (inherited by every
    child) and an at-fork hook. `forks`: follow every os.fork(), not only
    multiprocessing's."""
    global _config
    _config = {
        "dir": os.path.abspath(directory),
        "stem": stem,
        "options": options,
        "forks": bool(forks),
        "root": os.getpid(),
    }
    os.environ[ENV] = marshal.dumps(_config, 4).hex()
    _register_fork_hook()


def _register_fork_hook() -> None:
    global _fork_hook
    # _record's own at-fork hook (it lets go of the parent's recording) must
    # run before ours starts the child's: hooks run in registration order,
    # and `import tracetap` no longer imports _record.
    from . import _record  # noqa: F401
    if not _fork_hook and hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_term_hold.hold, after_in_parent=_term_hold.release,
                            after_in_child=_after_fork)
        _fork_hook = True


# SIGTERM waits (blocked) from before a fork until the child has armed its
# own handler, so that a terminate() sent to a worker in its first instants
# is neither lost (a Python-level handler replaced before it ran) nor fatal
# to a file not yet started. The program's mask is kept.
_term_hold = TermHold()


def _decode(raw: str) -> dict[str, Any] | None:
    try:
        cfg = marshal.loads(bytes.fromhex(raw))
    except (ValueError, EOFError, TypeError):
        return None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("options"), dict):
        return None
    return cfg


def _is_tracetap_command() -> bool:
    """A nested `tracetap run` (or `python -m tracetap`) records itself."""
    argv = list(getattr(sys, "orig_argv", None) or sys.argv)
    if argv and os.path.basename(argv[0]) == "tracetap":
        return True
    return any(a == "-m" and b == "tracetap" for a, b in zip(argv, argv[1:]))


def start_child() -> None:
    """Run by tracetap-follow.pth at a new interpreter's start-up: records
    this process if TRACETAP_FOLLOW asks for it. Never raises: a process
    that cannot be recorded runs unrecorded, with one line on stderr."""
    global _config
    raw = os.environ.get(ENV)
    if not raw or _config is not None or _is_tracetap_command():
        return
    cfg = _decode(raw)
    if cfg is None:
        return
    _config = cfg
    _register_fork_hook()
    _begin("exec")


def _in_multiprocessing() -> bool:
    """True when the fork being returned from is multiprocessing's (its
    fork start method, or a forkserver's child)."""
    f = sys._getframe(1)
    while f is not None:
        if f.f_code.co_filename.endswith(_MP_FORKERS):
            return True
        f = f.f_back
    return False


def _after_fork() -> None:
    """at-fork hook in the child, after _record's (which let go of the
    parent's file): a fork that is followed starts its own recording."""
    global _rec
    _rec = None  # the parent's, abandoned
    try:
        if _config is None:
            return
        if _config["forks"] or _in_multiprocessing():
            _begin("fork")
            if _rec is not None and getattr(os._exit, "__module__", None) != __name__:
                os._exit = _exit  # type: ignore[assignment]
    finally:
        _term_hold.release()  # a SIGTERM held since the fork is acted on now


def _begin(how: str) -> None:
    global _rec
    from ._record import record

    assert _config is not None
    argv = list(getattr(sys, "orig_argv", None) or sys.argv)
    path = child_file(_config["dir"], _config["stem"], os.getpid())
    try:
        os.makedirs(_config["dir"], exist_ok=True)
        rec = record(path, _argv=argv, _notes=process_notes(how, _config["root"]),
                     **_config["options"])
        rec.start()
    except Exception as exc:  # noqa: BLE001 - the process runs on unrecorded
        try:
            sys.stderr.write(f"tracetap: process {os.getpid()} is not recorded: {exc}\n")
        except Exception:  # noqa: BLE001, S110 - no stderr
            pass
        return
    _rec = rec
    # Runs after the record's own stop at exit (atexit is last in, first
    # out): a SIGTERM deferred meanwhile is acted on then.
    import atexit

    atexit.register(_die_if_terminated)
    atexit.unregister(rec._stop_at_exit)
    atexit.register(rec._stop_at_exit)
    _install_sigterm()


def finish() -> None:
    """Finishes this child's recording (at os._exit, SIGTERM); the root's is
    finished by _run."""
    global _rec
    rec = _rec
    if rec is not None and rec.recording:
        try:
            rec.stop()
        except Exception:  # noqa: BLE001, S110 - the process is ending
            pass
    _rec = None


def _exit(status: int) -> None:
    """os._exit in a followed forked child (multiprocessing ends its fork
    children so): finish the recording, then exit as asked."""
    finish()
    _die_if_terminated()
    _real_exit(status)


def _die_if_terminated() -> None:
    if _term_pending:
        _die_of_sigterm()


def _die_of_sigterm() -> None:
    import _signal

    _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)
    os.kill(os.getpid(), _signal.SIGTERM)


def on_term(signum: int, frame: Any) -> None:
    """SIGTERM in a followed process (also through the root's handler that a
    forked child inherits): finish the file, then die of the signal. While the file is
    already being finished (the process is exiting: Python code runs
    inside the extension's stop), dying now would cut it: the signal is
    acted on once the file is whole (_die_if_terminated)."""
    global _term_pending
    if _rec is not None and _rec._state == "stopping":
        _term_pending = True
        return
    finish()
    _die_of_sigterm()


def _install_sigterm() -> None:
    """SIGTERM (a pool's terminate()) writes the child's events to its file,
    then kills it as before, where SIGTERM had its default action or the
    root's handler (inherited through fork). It is handled in C, as a crash
    signal is (an emergency flush in the signal handler): a Python-level
    handler never runs in a worker that the signal meets just before it
    blocks in a lock's C wait (multiprocessing's SemLock), and terminate()
    would then wait for that worker for ever."""
    import _signal
    import threading

    from . import _tracetap

    if threading.current_thread() is not threading.main_thread():
        return
    try:
        old = _signal.getsignal(_signal.SIGTERM)
        if old == _signal.SIG_DFL or getattr(old, "_tracetap", False):
            _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)
            _tracetap._arm_sigterm()
    except (ValueError, OSError, RuntimeError):
        pass


on_term._tracetap = True  # type: ignore[attr-defined]
