"""Runs a program between start() and stop() of either the tests'
counting reference ref tracer or tracetap, the same way, so that their
per-type counts can be compared.

    python harness.py ref  OUT.json PROGRAM
    python harness.py tt   OUT.ttrace PROGRAM [calls|nocalls|count|moncalls]
"""
import builtins
import json
import os
import sys

mode, out, prog = sys.argv[1:4]
variant = sys.argv[4] if len(sys.argv) > 4 else "nocalls"
with open(prog, encoding="utf-8") as f:
    code = compile(f.read(), prog, "exec", dont_inherit=True)
g = {"__name__": "__main__", "__file__": prog, "__builtins__": builtins}
sys.argv = [prog]
# Both sides import the same modules before starting, so that a module
# the program imports is (or is not) already loaded on both.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tracetap  # noqa: E402
from tracetap import _record  # noqa: E402
from refcount.build import load  # noqa: E402
# What record.start() computes before it starts (sysconfig, its regular
# expressions in re's cache...), done on both sides.
_record.stdlib_dirs()
_record.own_dirs()
ref = load() if sys.version_info >= (3, 13) else None
sys.path[0] = os.path.dirname(prog)
if mode == "ref":
    # tracetap runs its DESTROY-gap self-test before it starts; it compiles
    # and runs a little code (interning names, warming caches): so here too.
    tracetap._tracetap.destroy_gaps()
    if variant == "calls":
        # CPython allocates differently under a trace function (frame
        # objects, boxed offsets, exception tuples, StopIteration...): the
        # reference then runs under the empty one, the floor.
        from tracetap import _floor
        _floor.set_trace()
    if variant == "moncalls":
        # ... and under sys.monitoring, an empty C callback for the events
        # tracetap's calls-only mode takes (instrumented code allocates
        # differently too: a generator closed at a yield gets a
        # GeneratorExit thrown in).
        from tracetap import _floor
        m = sys.monitoring
        E = m.events
        evs = (E.PY_START, E.PY_RESUME, E.PY_THROW, E.PY_RETURN, E.PY_YIELD,
               E.PY_UNWIND, E.RAISE, E.STOP_ITERATION)
        m.use_tool_id(5, "floor")
        for e in evs:
            m.register_callback(5, e, _floor.monitoring_callback)
        m.set_events(5, sum(evs))
        # tracetap's start adopts the frames already running (their RETURNs
        # are recorded), which gives each of them its frame object: a frame
        # object the program would otherwise have made itself later (3.13.0:
        # one in context_managers.py). The same frames get theirs here.
        f = sys._getframe()
        while f is not None:
            f = f.f_back
    ref.start()
    exec(code, g)
    ref.stop()
    if variant == "calls":
        _floor.clear_trace()
    if variant == "moncalls":
        m.set_events(5, 0)
        m.free_tool_id(5)
    with open(out, "w") as f:
        json.dump(ref.counts(), f)
else:
    # moncalls: calls only on the sys.monitoring backend (its noise, the
    # boxed offsets and STOP_ITERATION's exception, is dropped by address).
    mon = {"lines": False, "backend": "monitoring"} if variant == "moncalls" else {}
    rec = tracetap.record(out, objects=True,
                          calls=variant in ("calls", "moncalls"),
                          count=variant == "count", **mon)
    rec.start()
    exec(code, g)
    summary = rec.stop()
    with open(out + ".json", "w") as f:
        json.dump(summary.get("objects"), f)
