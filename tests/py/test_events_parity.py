"""Parity: tracetap's recorded events equal the reference recorder's.

For every scenario program and the interpreter running pytest:

    python -m tracetap run -o X.ttrace [--opcodes] PROGRAM ARGS
    python -m tracetap events --json X.ttrace
    python reference_recorder.py [--opcodes] -o X.jsonl PROGRAM ARGS

and the per-thread sequences of (kind, file, line, func) must be equal (plus
the offset of opcode events): the main thread's exactly, the other threads'
as a multiset, because thread ordinals follow first appearance and racing
threads may appear in either order. Exit codes must equal `python PROGRAM`'s.

Left out of the comparison, on both sides alike: events in site-packages
code and in "<string>" code (see oracle_support.is_environmental). They come
from import hooks and stdlib-generated code that run when the script imports
a module the tool's own process had not imported yet, so they differ between
any two tools for reasons that have nothing to do with capture.

A failure here means tracetap disagrees with CPython's own trace events as
sys.settrace sees them. Do not weaken the comparison; fix the capture (or,
if the recorder is wrong, the recorder and its self-tests).
"""

import importlib.util
import sys

import pytest

import oracle_support as osup

SCENARIOS = osup.discover_scenarios()
OPCODE_SCENARIOS = [s for s in SCENARIOS if s.opcodes]
NOT_ENV = lambda f: not osup.is_environmental(f)          # noqa: E731
PY = "%d.%d.%d" % sys.version_info[:3]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tracetap") is None,
    reason="tracetap is not installed for %s; build and install it first"
    % sys.executable)


def _check_exit_codes(scenario, plain, ref, tt):
    assert plain.returncode == scenario.exit_code, plain.stderr[-2000:]
    assert ref.returncode == plain.returncode, ref.stderr[-2000:]
    assert tt.returncode == plain.returncode, (
        "%s on Python %s: `tracetap run` exited %s, `python %s` exited %s\n"
        "tracetap stderr:\n%s" % (scenario.name, PY, tt.returncode,
                                  scenario.name, plain.returncode, tt.stderr[-2000:]))


def _compare(scenario, ref, tt, *, opcodes, what):
    expected = osup.per_thread(ref.events, cwd=ref.cwd, opcodes=opcodes, keep=NOT_ENV)
    actual = osup.per_thread(tt.events, cwd=tt.cwd, opcodes=opcodes, keep=NOT_ENV)
    problem = osup.compare_threads(expected, actual, scenario.path)
    assert problem is None, (
        "%s, %s, Python %s: tracetap's events differ from the reference "
        "recorder's\n%s" % (scenario.name, what, PY, problem))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_events_match_reference(scenario, scenario_plain_run, oracle_recording,
                                scenario_workdir):
    plain = scenario_plain_run(scenario)
    ref = oracle_recording(scenario)
    tt = osup.run_tracetap(scenario, scenario_workdir)
    _check_exit_codes(scenario, plain, ref, tt)
    _compare(scenario, ref, tt, opcodes=False, what="default events")


@pytest.mark.parametrize("scenario", OPCODE_SCENARIOS, ids=str)
def test_opcode_events_match_reference(scenario, scenario_plain_run,
                                       oracle_recording, scenario_workdir):
    plain = scenario_plain_run(scenario)
    ref = oracle_recording(scenario, opcodes=True)
    tt = osup.run_tracetap(scenario, scenario_workdir, flags=("--opcodes",))
    _check_exit_codes(scenario, plain, ref, tt)
    _compare(scenario, ref, tt, opcodes=True, what="--opcodes")


def _call_window(seq, script, func):
    """The events of the first call of `func` in `script`, through its
    matching return (generator resumes would need more; main() is plain)."""
    start = next((i for i, k in enumerate(seq)
                  if k[0] == "call" and k[1] == script and k[3] == func), None)
    if start is None:
        return []
    depth = 0
    for i in range(start, len(seq)):
        if seq[i][0] == "call":
            depth += 1
        elif seq[i][0] == "return":
            depth -= 1
            if depth == 0:
                return seq[start:i + 1]
    return seq[start:]


def test_stdlib_events_match_reference(scenario_plain_run, oracle_recording,
                                       scenario_workdir):
    """--stdlib: user callbacks with the stdlib frames between them. Only
    the events inside main() are compared: what the module-level imports
    trace depends on what the tool had already imported."""
    scenario = osup.scenario_by_name("stdlib_callbacks")
    plain = scenario_plain_run(scenario)
    ref = oracle_recording(scenario, stdlib=True)
    tt = osup.run_tracetap(scenario, scenario_workdir, flags=("--stdlib",))
    _check_exit_codes(scenario, plain, ref, tt)
    e = osup.per_thread(ref.events, cwd=ref.cwd, keep=NOT_ENV)
    a = osup.per_thread(tt.events, cwd=tt.cwd, keep=NOT_ENV)
    em = osup.main_thread_of(e, scenario.path)
    am = osup.main_thread_of(a, scenario.path)
    assert em is not None and am is not None, (em, am)
    ew = _call_window(e[em], scenario.path, "main")
    aw = _call_window(a[am], scenario.path, "main")
    assert len(ew) > 100 and any(k[1] != scenario.path for k in ew), len(ew)
    assert ew == aw, ("stdlib_callbacks, --stdlib, Python %s: tracetap's events "
                      "differ from the reference recorder's\n%s"
                      % (PY, osup.diff_text("main()", ew, aw)))
