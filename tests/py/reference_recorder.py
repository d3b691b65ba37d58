#!/usr/bin/env python3
"""Reference event recorder: the pure-Python oracle for tracetap's trace events.

Owns: a sys.settrace/threading.settrace recorder that runs SCRIPT as
``python SCRIPT`` would and writes one JSON object per event. It must not
import tracetap or share any code with it: it is the independent reference.
Threads: one trace function per thread, state shared under the GIL.

    python reference_recorder.py [--opcodes] [--stdlib] -o OUT.jsonl SCRIPT [ARGS...]

Each output line is ``{"thread", "kind", "file", "line", "func"}`` plus
``"offset"`` for opcode events, where

- thread: ordinal of the thread in order of its first recorded event (the
  main thread, which runs ``<module>``, is 0);
- kind:   call | line | return | exception | opcode;
- file:   os.path.abspath(co_filename); a pseudo file name such as
          ``<string>`` or ``<generated>`` is kept verbatim, because abspath
          would invent a path that does not exist;
- line:   frame.f_lineno at that event (null when the interpreter has none);
- func:   co_qualname;
- offset: frame.f_lasti (a byte offset), opcode events only.

What is recorded (tracetap's default rules, DESIGN.md section 5):

- Filtering is per code object. The global trace function returns None for
  an excluded frame, so that frame yields no events, but the frames it calls
  are judged on their own: a user callback called from the stdlib is traced.
- Excluded by default: the standard library, i.e. files under
  sysconfig.get_paths()['stdlib'] or ['platstdlib'] that are not in a
  site-packages/dist-packages directory there, plus frozen modules
  (co_filename ``<frozen ...>``). ``--stdlib`` brings them back. Other pseudo
  files (``<string>``, ``<generated>``, ...) have no file to judge: a code
  object from one takes the decision of the frame that first calls it (the
  ``<string>`` helpers the stdlib execs for itself are the stdlib's; code a
  script execs is the script's), and keeps it.
- Never recorded: this recorder's own code, and the runner, i.e. anything
  that runs before the script's ``<module>`` frame starts or after it ends
  (``tracetap run`` never traces itself either). Recording stops when the
  main ``<module>`` frame returns (normally or by an exception); threads
  still running after that are not recorded any further.
- ``--opcodes``: the call event sets frame.f_trace and then
  frame.f_trace_opcodes = True on every recorded frame (docs/CPYTHON-NOTES.md
  constraint 5). On 3.12, where INSTRUCTION events are switched on
  interpreter-wide only by the next sys.settrace after some frame set the
  flag, the flag is primed on the recorder's own frame before tracing starts,
  so opcode events flow from the script's first frame on.

How SCRIPT runs (as ``python SCRIPT`` does): a fresh ``__main__`` module with
``__file__`` = the absolute script path, a SourceFileLoader, ``__spec__`` =
None; sys.argv = [SCRIPT as given, *ARGS]; sys.path[0] = the directory of the
script's real path. A directory or zip file is run with runpy.run_path. The
exit code is preserved: SystemExit propagates unchanged, and an uncaught
exception prints its traceback (without the recorder's frames) and exits 1.
The output file is written in every one of these cases, before exiting.
"""

import io
import itertools
import os
import sys
import sysconfig
import threading

__all__ = ["main", "stdlib_prefixes", "is_stdlib_file"]

_SELF_FILES = {os.path.abspath(__file__), os.path.realpath(__file__)}
_SELF_FILES |= {f[:-1] for f in _SELF_FILES if f.endswith((".pyc", ".pyo"))}


def stdlib_prefixes():
    """Return the directories whose files count as the standard library."""
    paths = sysconfig.get_paths()
    prefixes = set()
    for key in ("stdlib", "platstdlib"):
        p = paths.get(key)
        if p:
            prefixes.add(os.path.normpath(os.path.abspath(p)))
            prefixes.add(os.path.normpath(os.path.realpath(p)))
    return tuple(sorted(prefixes))


_SITE_DIRS = ("site-packages", "dist-packages")


def is_stdlib_file(filename, prefixes=None):
    """True if co_filename `filename` belongs to the standard library."""
    if filename.startswith("<"):
        return filename.startswith("<frozen ")
    if prefixes is None:
        prefixes = stdlib_prefixes()
    candidates = {os.path.abspath(filename)}
    candidates.add(os.path.realpath(filename))
    for path in candidates:
        for prefix in prefixes:
            if path.startswith(prefix + os.sep):
                first = path[len(prefix) + 1:].split(os.sep, 1)[0]
                if first not in _SITE_DIRS:
                    return True
    return False


class Recorder:
    """Collects events from all threads into one list (appends are atomic
    under the GIL); the ordinal of a thread lives in a threading.local, so a
    reused thread ident never merges two threads."""

    def __init__(self, script, opcodes=False, stdlib=False):
        self.script = os.path.abspath(script)
        self.opcodes = opcodes
        self.stdlib = stdlib
        self.events = []
        self.active = False        # recording on
        self.started = False       # the script's <module> frame has begun
        self.main_frame = None     # that frame, to notice when it ends
        self._prefixes = stdlib_prefixes()
        self._codes = {}           # id(code) -> (code, file|None, qualname)
        self._tls = threading.local()
        self._ordinals = itertools.count()

    # -- per code object decisions, made once ------------------------------

    def _classify(self, code, frame):
        filename = code.co_filename
        qualname = getattr(code, "co_qualname", code.co_name)
        if filename.startswith("<"):
            file = filename
        else:
            file = os.path.abspath(filename)
        if filename.startswith("<") and not filename.startswith("<frozen "):
            caller = frame.f_back if frame is not None else None
            if caller is None:
                excluded = False
            else:
                info = self._codes.get(id(caller.f_code))
                if info is None or info[0] is not caller.f_code:
                    info = self._classify(caller.f_code, caller)
                excluded = info[1] is None
        else:
            excluded = (
                file in _SELF_FILES
                or os.path.realpath(file) in _SELF_FILES
                or (not self.stdlib and is_stdlib_file(filename, self._prefixes))
            )
        info = (code, None if excluded else file, qualname)
        self._codes[id(code)] = info   # holds `code`, so its id stays unique
        return info

    def _thread(self):
        tls = self._tls
        try:
            return tls.ordinal
        except AttributeError:
            tls.ordinal = n = next(self._ordinals)
            return n

    # -- the trace functions ------------------------------------------------

    def global_trace(self, frame, event, arg):
        if not self.active:
            return None
        code = frame.f_code
        info = self._codes.get(id(code))
        if info is None or info[0] is not code:
            info = self._classify(code, frame)
        file = info[1]
        if file is None:
            return None
        if not self.started:
            # The runner's frames (runpy, a frozen importlib, ...) come first;
            # recording begins with the script's own <module> frame.
            if (code.co_name != "<module>" or file != self.script
                    or threading.current_thread() is not threading.main_thread()):
                return None
            self.started = True
            self.main_frame = frame
        self.events.append((self._thread(), event, file, frame.f_lineno, info[2], None))
        local = self.local_trace
        if self.opcodes:
            frame.f_trace = local          # before the flag: 3.13+ needs it set
            frame.f_trace_opcodes = True
        return local

    def local_trace(self, frame, event, arg):
        if not self.active:
            return None
        code = frame.f_code
        info = self._codes.get(id(code))
        if info is None or info[0] is not code:    # cannot happen; be safe
            info = self._classify(code, frame)
        if info[1] is None:
            return None
        if event == "opcode":
            offset = frame.f_lasti
        else:
            offset = None
        self.events.append((self._thread(), event, info[1], frame.f_lineno, info[2], offset))
        if event == "return" and frame is self.main_frame:
            self.active = False            # the script is over
            self.main_frame = None
        return self.local_trace

    # -- control ------------------------------------------------------------

    def start(self):
        if self.opcodes and sys.version_info[:2] == (3, 12):
            me = sys._getframe()
            me.f_trace_opcodes = True      # sets interp->f_opcode_trace_set
            me.f_trace_opcodes = False
        self.active = True
        threading.settrace(self.global_trace)
        sys.settrace(self.global_trace)    # last: nothing of ours after it

    def stop(self):
        self.active = False
        sys.settrace(None)
        threading.settrace(None)
        if hasattr(threading, "settrace_all_threads"):
            threading.settrace_all_threads(None)

    def write(self, path):
        import json
        with open(path, "w", encoding="utf-8") as out:
            for thread, kind, file, line, func, offset in self.events:
                ev = {"thread": thread, "kind": kind, "file": file,
                      "line": line, "func": func}
                if kind == "opcode":
                    ev["offset"] = offset
                out.write(json.dumps(ev))
                out.write("\n")


def _run_script(script, recorder):
    """Run `script` as `python script` would, under `recorder`."""
    abs_script = os.path.abspath(script)
    if os.path.isdir(abs_script) or not os.path.isfile(abs_script):
        import runpy                       # a directory or zip with __main__.py
        recorder.script = os.path.join(abs_script, "__main__.py")
        recorder.start()
        runpy.run_path(abs_script, run_name="__main__")
        return
    import builtins
    import types
    from importlib.machinery import SourceFileLoader
    with io.open_code(abs_script) as f:
        source = f.read()
    code = compile(source, abs_script, "exec", dont_inherit=True)
    module = types.ModuleType("__main__")
    module.__file__ = abs_script
    module.__cached__ = None
    module.__loader__ = SourceFileLoader("__main__", abs_script)
    module.__package__ = None
    module.__spec__ = None
    module.__builtins__ = builtins
    sys.modules["__main__"] = module
    recorder.start()
    exec(code, module.__dict__)


def _strip_traceback(tb, script):
    """Drop the recorder's and runpy's entries ahead of the script's frames."""
    t = tb
    while t is not None:
        c = t.tb_frame.f_code
        if c.co_name == "<module>" and os.path.abspath(c.co_filename) == script:
            return t
        t = t.tb_next
    return tb


def _parse_args(argv):
    opts = {"opcodes": False, "stdlib": False, "out": None}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--opcodes":
            opts["opcodes"] = True
        elif a == "--stdlib":
            opts["stdlib"] = True
        elif a in ("-o", "--output"):
            i += 1
            if i >= len(argv):
                break
            opts["out"] = argv[i]
        elif a.startswith("--output="):
            opts["out"] = a.split("=", 1)[1]
        elif a in ("-h", "--help"):
            print(__doc__)
            sys.exit(0)
        elif a == "--":
            i += 1
            break
        elif a.startswith("-"):
            sys.stderr.write("reference_recorder: unknown option %r\n" % a)
            sys.exit(2)
        else:
            break
        i += 1
    rest = argv[i:]
    if opts["out"] is None or not rest:
        sys.stderr.write("usage: reference_recorder.py [--opcodes] [--stdlib] "
                         "-o OUT.jsonl SCRIPT [ARGS...]\n")
        sys.exit(2)
    return opts, rest[0], rest[1:]


def main(argv=None):
    opts, script, args = _parse_args(sys.argv[1:] if argv is None else argv)
    out = os.path.abspath(opts["out"])
    if not os.path.exists(script):
        sys.stderr.write("%s: can't open file %r: [Errno 2] No such file or "
                         "directory\n" % (sys.executable, os.path.abspath(script)))
        sys.exit(2)
    sys.argv[:] = [script] + list(args)
    sys.path[0] = os.path.dirname(os.path.realpath(script))
    recorder = Recorder(script, opcodes=opts["opcodes"], stdlib=opts["stdlib"])
    uncaught = None
    try:
        _run_script(script, recorder)
    except SystemExit:
        raise                              # exit code as python SCRIPT
    except BaseException as exc:           # noqa: BLE001 - re-reported below
        uncaught = exc
    finally:
        recorder.stop()
        recorder.write(out)
    if uncaught is not None:
        tb = _strip_traceback(uncaught.__traceback__, recorder.script)
        uncaught.__traceback__ = tb
        sys.excepthook(type(uncaught), uncaught, tb)
        del uncaught, tb
        sys.exit(1)


if __name__ == "__main__":
    main()
