"""An independent reference for resumption and suspension marks.

Run as ``python yield_reference.py OUT.json PROGRAM [ARGS...]``: runs
PROGRAM as ``__main__`` under a ``sys.settrace`` tracer and writes, for
every ``call`` and ``return`` event of PROGRAM's own code, ``[func, event,
mark]`` where mark is ``"resume"`` (the call resumes a suspended frame),
``"yield"`` (the return suspends it) or ``""``. The mark comes from a
source other than tracetap's capture:

- 3.12+: a ``sys.monitoring`` tool recording PY_START / PY_RESUME /
  PY_THROW / PY_YIELD / PY_RETURN / PY_UNWIND. sys.settrace is itself a
  monitoring tool (id 7): for one event both are called, one right after
  the other, so each tracer event is paired with the tool's event adjacent
  to it on the same frame (the order is found at the first event). A
  PY_THROW resumes only a frame that had started (a throw() into a fresh
  generator starts it).
- 3.11: ``dis``: a call resumes when ``f_lasti`` is past the code's first
  RESUME; a return suspends when ``f_lasti`` is at a YIELD_VALUE and the
  frame is not unwinding (its previous event was not an ``exception`` that
  no handler took: a handler's line event comes between).
"""

from __future__ import annotations

import dis
import json
import os
import runpy
import sys


def main() -> None:
    out, program = sys.argv[1], os.path.abspath(sys.argv[2])
    sys.argv = sys.argv[2:]
    sys.path.insert(0, os.path.dirname(program))
    log: list[list[str]] = []
    pending: dict[int, str] = {}      # id(frame) -> the tool's last event
    started: set[int] = set()
    keep: list[object] = []           # frames stay alive: ids stay unique
    last: dict[int, str] = {}         # id(frame) -> previous trace event
    firsts: dict[object, int] = {}    # code -> its first RESUME's offset
    yields: dict[object, set[int]] = {}

    def mine(code: object) -> bool:
        return getattr(code, "co_filename", None) == program

    if sys.version_info >= (3, 12):
        mon = sys.monitoring
        tool = 3
        mon.use_tool_id(tool, "yield-reference")
        E = mon.events
        open_entry: dict[int, list[str]] = {}   # id(frame) -> its last
        order: list[str] = []                   # log entry, unresolved

        def classify(frame, entry: list[str], kind: str) -> None:
            if entry[1] == "call":
                resumed = kind == "resume" or (kind == "throw" and
                                               id(frame) in started)
                started.add(id(frame))
                entry[2] = "resume" if resumed else ""
            else:
                entry[2] = "yield" if kind == "yield" else ""

        def note(kind: str):
            def cb(code, *args):
                if not mine(code):
                    return
                f = sys._getframe(1)
                keep.append(f)
                if not order:
                    order.append("monitoring first")
                entry = open_entry.pop(id(f), None)
                if order[0] == "tracer first":
                    if entry is not None:       # the tracer's same event
                        classify(f, entry, kind)
                else:
                    pending[id(f)] = kind
            return cb

        for ev, kind in ((E.PY_START, "start"), (E.PY_RESUME, "resume"),
                         (E.PY_THROW, "throw"), (E.PY_YIELD, "yield"),
                         (E.PY_RETURN, "return"), (E.PY_UNWIND, "unwind")):
            mon.register_callback(tool, ev, note(kind))
        mon.set_events(tool, E.PY_START | E.PY_RESUME | E.PY_THROW |
                       E.PY_YIELD | E.PY_RETURN | E.PY_UNWIND)

        # CPython calls the tools of one event in an order of its own (by
        # tool id): the first paired event tells which comes first, and
        # each tracer event is then paired with the tool's event adjacent
        # to it on the same frame.
        def mark(frame, entry: list[str]) -> None:
            if not order:
                order.append("tracer first")
            if order[0] == "tracer first":
                open_entry[id(frame)] = entry
            else:
                classify(frame, entry, pending.pop(id(frame), ""))
    else:
        def facts(code):
            if code not in firsts:
                ins = list(dis.get_instructions(code))
                firsts[code] = next((i.offset for i in ins
                                     if i.opname == "RESUME"), 0)
                yields[code] = {i.offset for i in ins
                                if i.opname == "YIELD_VALUE"}
            return firsts[code], yields[code]

        def mark(frame, entry: list[str]) -> None:
            first, ys = facts(frame.f_code)
            if entry[1] == "call":
                entry[2] = "resume" if frame.f_lasti > first else ""
            else:
                unwinding = last.get(id(frame)) == "exception"
                entry[2] = ("yield" if frame.f_lasti in ys and
                            not unwinding else "")

    def tracer(frame, event, arg):
        if mine(frame.f_code):
            keep.append(frame)
            if event in ("call", "return"):
                entry = [frame.f_code.co_qualname, event, ""]
                log.append(entry)
                mark(frame, entry)
            last[id(frame)] = event
        return tracer

    sys.settrace(tracer)
    try:
        runpy.run_path(program, run_name="__main__")
    finally:
        sys.settrace(None)
        with open(out, "w") as fp:
            json.dump(log, fp)


if __name__ == "__main__":
    main()
