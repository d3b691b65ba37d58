"""The coverage oracle: run a program under stdlib ``trace.Trace(count=1)``
and write the per-line counts it reports as JSON.

    python trace_oracle.py -o OUT.json --only GLOB [--only GLOB]...
                           (SCRIPT | -m MODULE) [ARGS...]

Counting is trace's own (``Trace.localtrace_count`` and ``Trace.results()``).
Two changes: which frames are counted (those whose absolute
``co_filename`` matches an ``--only`` glob, instead of trace's module-name
and directory ignore lists, which cannot single out one file of the
standard library such as ``test/test_textwrap.py``), and a lock around
each count (trace's own update is not thread-safe: see below). The program is run as
``python -m trace --count`` runs it (``trace.main``). Imports nothing from
tracetap.

OUT.json: {"counts": {file: {line: count}}, "exit": status, "error": text}.
"""

import fnmatch
import io
import json
import os
import sys
import threading
import trace


def _target(argv):
    """(code, globals) the way trace.main prepares them."""
    if argv[0] == "-m":
        import runpy
        mod_name, mod_spec, code = runpy._get_module_details(argv[1])
        sys.argv = [code.co_filename, *argv[2:]]
        globs = {"__name__": "__main__", "__file__": code.co_filename,
                 "__package__": mod_spec.parent, "__loader__": mod_spec.loader,
                 "__spec__": mod_spec, "__cached__": None}
        return code, globs
    prog = os.path.abspath(argv[0])
    sys.argv = [prog, *argv[1:]]
    sys.path[0] = os.path.dirname(prog)
    with io.open_code(prog) as fp:
        code = compile(fp.read(), prog, "exec")
    return code, {"__file__": prog, "__name__": "__main__",
                  "__package__": None, "__cached__": None}


def main():
    args = sys.argv[1:]
    out, only = None, []
    while args and args[0] in ("-o", "--only"):
        if args[0] == "-o":
            out = args[1]
        else:
            only.append(args[1])
        args = args[2:]
    if out is None or not args:
        sys.exit(__doc__)
    t = trace.Trace(count=1, trace=0)
    count_line = t.localtrace                   # Trace.localtrace_count
    lock = threading.Lock()

    # trace's counting, one thread at a time: localtrace_count's
    # `counts[key] = counts.get(key, 0) + 1` is Python code, and a thread
    # switch inside it loses updates (volume.py: 33578 of 36000 counted).
    def counting(frame, why, arg):
        with lock:
            count_line(frame, why, arg)
        return counting

    t.localtrace = counting                     # what localtrace_count returns

    def globaltrace(frame, why, arg):
        if why == "call":
            name = os.path.abspath(frame.f_code.co_filename)
            if any(fnmatch.fnmatch(name, g) for g in only):
                return counting
        return None

    t.globaltrace = globaltrace                 # what runctx installs
    code, globs = _target(args)
    status, error = 0, None
    try:
        t.runctx(code, globs, globs)
    except SystemExit as exc:
        code = exc.code
        status = int(code) if isinstance(code, int) else int(code is not None)
    except BaseException as exc:
        status, error = 1, "%s: %s" % (type(exc).__name__, exc)
    finally:
        sys.settrace(None)
        threading.settrace(None)
        counts = {}
        for (filename, line), n in t.results().counts.items():
            counts.setdefault(os.path.abspath(filename), {})[str(line)] = n
        with open(out, "w", encoding="utf-8") as f:
            json.dump({"counts": counts, "exit": status, "error": error}, f)
    sys.exit(status)


if __name__ == "__main__":
    main()
