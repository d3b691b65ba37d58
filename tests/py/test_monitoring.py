"""The sys.monitoring backend's plumbing (issue 17): the tool id taken at
start and given back at stop, a program's own use of the id reported, the
backend named in the file, and its refusal on 3.11. The reference is
sys.monitoring itself (get_tool, get_events), read in the recorded
process."""

import json
import sys

import pytest

from conftest import capture_python, capture_tracetap, capture_write

needs_monitoring = pytest.mark.skipif(
    sys.version_info < (3, 12),
    reason="sys.monitoring exists from CPython 3.12 on")


def _run(tmp_path, source):
    """Runs `source` in a child; returns what it printed as JSON."""
    capture_write(tmp_path, "prog.py", source)
    r = capture_python("prog.py", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])


@needs_monitoring
def test_tool_id_is_taken_and_given_back(tmp_path):
    out = _run(tmp_path, """
        import json, sys
        import tracetap
        from tracetap import _tracetap
        M = sys.monitoring
        before = [M.get_tool(i) for i in range(6)]
        _tracetap.start("a.ttrace", calls=False, backend=1)
        during = [M.get_tool(i) for i in range(6)]
        s = _tracetap.stop()
        after = [M.get_tool(i) for i in range(6)]
        notes = dict(tracetap.load("a.ttrace").info()["notes"])
        print(json.dumps([before, during, after, s["warnings"], notes]))
    """)
    before, during, after, warnings, notes = out
    assert before == [None] * 6 and after == [None] * 6
    assert during == [None, None, None, None, "tracetap", None]
    assert warnings == []
    assert notes["backend"] == "monitoring" and notes["monitoring_tool"] == "4"


@needs_monitoring
def test_next_id_when_4_is_held_and_refusal_when_both_are(tmp_path):
    out = _run(tmp_path, """
        import json, sys
        from tracetap import _tracetap
        M = sys.monitoring
        M.use_tool_id(4, "other")
        _tracetap.start("a.ttrace", calls=False, backend=1)
        during = M.get_tool(3)
        _tracetap.stop()
        M.use_tool_id(3, "third")
        try:
            _tracetap.start("b.ttrace", calls=False, backend=1)
            err = None
        except RuntimeError as e:
            err = str(e)
        import os
        print(json.dumps([during, M.get_tool(4), M.get_tool(3), err,
                          os.path.exists("b.ttrace")]))
    """)
    during, four, three, err, b_exists = out
    assert during == "tracetap"
    assert (four, three) == ("other", "third")      # never overwritten
    assert "4 and 3 are taken" in err and "'other'" in err and "'third'" in err
    assert not b_exists


@needs_monitoring
def test_program_changing_our_events_or_freeing_the_id_is_reported(tmp_path):
    out = _run(tmp_path, """
        import json, sys
        import tracetap
        from tracetap import _tracetap
        M = sys.monitoring
        _tracetap.start("a.ttrace", calls=False, backend=1)
        M.set_events(4, M.events.PY_START)         # the program's own use
        s1 = _tracetap.stop()
        n1 = dict(tracetap.load("a.ttrace").info()["notes"])
        _tracetap.start("b.ttrace", calls=False, backend=1)
        M.free_tool_id(4)
        M.use_tool_id(4, "intruder")
        s2 = _tracetap.stop()
        n2 = dict(tracetap.load("b.ttrace").info()["notes"])
        print(json.dumps([s1["warnings"], n1, s2["warnings"], n2,
                          M.get_tool(4), M.get_events(4)]))
    """)
    w1, n1, w2, n2, holder, events = out
    assert len(w1) == 1 and "changed tracetap's sys.monitoring events" in w1[0]
    assert n1["monitoring_events"] == w1[0]
    assert len(w2) == 1 and "'intruder'" in w2[0]
    assert n2["monitoring_taken"] == w2[0]
    assert holder == "intruder"          # the intruder's id is left alone
    assert events == 0


@needs_monitoring
def test_legacy_recording_writes_no_backend_note(tmp_path):
    out = _run(tmp_path, """
        import json, sys
        import tracetap
        with tracetap.record("a.ttrace", backend="legacy"):
            sum(range(3))
        print(json.dumps(dict(tracetap.load("a.ttrace").info()["notes"])))
    """)
    assert "backend" not in out


@needs_monitoring
def test_monitoring_refuses_modes_it_does_not_record(tmp_path):
    capture_write(tmp_path, "p.py", "print(1)\n")
    r = capture_tracetap("run", "--backend", "monitoring", "p.py", cwd=tmp_path)
    assert r.returncode == 2
    assert "--backend monitoring records --coverage, or calls" in r.stderr
    r = capture_tracetap("run", "--backend", "nope", "p.py", cwd=tmp_path)
    assert r.returncode == 2 and "invalid choice: 'nope'" in r.stderr


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.11's refusal")
def test_monitoring_is_refused_before_3_12(tmp_path):
    capture_write(tmp_path, "p.py", "print(1)\n")
    out = _run(tmp_path, """
        import json
        import tracetap
        from tracetap import _tracetap
        try:
            tracetap.record("a.ttrace", calls=False, backend="monitoring")
            api = None
        except ValueError as e:
            api = str(e)
        try:
            _tracetap.start("b.ttrace", calls=False, backend=1)
            _tracetap.stop()
            ext = None
        except RuntimeError as e:
            ext = str(e)
        auto = tracetap.record("c.ttrace").backend
        print(json.dumps([api, ext, auto]))
    """)
    api, ext, auto = out
    assert "needs CPython 3.12" in api
    assert "needs CPython 3.12" in ext
    assert auto == "legacy"
    r = capture_tracetap("run", "--backend", "monitoring", "--no-calls",
                         "p.py", cwd=tmp_path)
    assert r.returncode != 0 and "needs CPython 3.12" in r.stderr


@pytest.mark.skipif(sys.version_info < (3, 13),
                    reason="--objects (PyRefTracer) needs CPython 3.13+")
def test_objects_beside_the_monitoring_backend(tmp_path):
    """--objects --no-calls on the monitoring backend: the reference tracer
    works beside a held tool id; the births it reports are the legacy
    backend's for the same program."""
    out = _run(tmp_path, """
        import json, sys
        import tracetap

        class Thing:
            pass

        def make():
            return [Thing() for _ in range(50)]

        res = []
        for backend in ("monitoring", "legacy"):
            with tracetap.record(backend + ".ttrace", calls=False, objects=True,
                                 backend=backend):
                held = sys.monitoring.get_tool(4)
                keep = make()
            o = tracetap.load(backend + ".ttrace").objects()
            births = {n: s["created"] for n, s in o["types"].items()}
            res.append([held, births.get("__main__.Thing")])
        print(json.dumps(res))
    """)
    (mon_held, mon_things), (leg_held, leg_things) = out
    assert mon_held == "tracetap" and leg_held is None
    assert mon_things == leg_things == 50
