"""The pytest plugin: ``pytest --tracetap[=MODE]`` records the test run,
each test's setup, call and teardown marked as a context.

Registered through the ``pytest11`` entry point. Inactive unless
``--tracetap`` is given: this module then imports nothing of tracetap but
itself (the extension is loaded only when recording starts). Recording
starts in ``pytest_load_initial_conftests`` (before the test modules, and
the conftest files, are imported, so their module-level lines are
covered, as pytest-cov does) and stops at the end of the session.

pytest-xdist: each worker records its own file, ``PATH`` with the worker
id before the suffix (``.tracetap.gw0.ttrace``); the controller records
nothing and names the files in its summary. ``tracetap coverage`` (and
``tracetap.merge_line_contexts``) accept them all and merge.
"""

from __future__ import annotations

import glob
import os
import sys
from typing import Any

import pytest

MODES = ("count", "coverage", "full", "objects")
# `--tracetap` alone: coverage where sys.monitoring can switch each line off
# after its first event (3.12+: cheapest, and a slow traced lock section
# cannot start a lock convoy, bench/README.md), with --tracetap-branch too
# (the arcs out of branches), count before.
# The option's value then is None (const); absent, it is False (default).
DEFAULT_OUTPUT = ".tracetap.ttrace"
_KEY = "_tracetap_plugin"


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("tracetap", "tracetap: record the test run")
    group.addoption(
        "--tracetap", nargs="?", const=None, default=False,
        choices=MODES, metavar="MODE",
        help="record the test run with tracetap, each test's setup, call "
        "and teardown marked as a context (for `tracetap coverage "
        "--contexts`). MODE: coverage (which lines each test ran, without "
        "counts: the cheapest, on sys.monitoring; the default on CPython "
        "3.12+), count (line counts per test; the default on 3.11), full (every call and line, with times: "
        "`tracetap calls --context`), objects (full plus object lifetimes)")
    group.addoption(
        "--tracetap-output", default=None, metavar="PATH",
        help=f"where the recording goes (default: {DEFAULT_OUTPUT} in the "
        "rootdir; with xdist, one file per worker: PATH with the worker id "
        "before the suffix)")
    group.addoption(
        "--tracetap-branch", action="store_true", default=False,
        help="count and coverage modes: record arcs too (`tracetap "
        "coverage --branch`; coverage mode marks the arcs out of the "
        "branches taken)")


def _worker_path(path: str, worker: str) -> str:
    stem, ext = os.path.splitext(path)
    return f"{stem}.{worker}{ext or '.ttrace'}"


def _output(ns: Any, rootdir: str) -> str:
    path = ns.tracetap_output or os.path.join(rootdir, DEFAULT_OUTPUT)
    return os.path.abspath(path)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: Any, parser: Any,
                                  args: Any) -> None:
    ns = early_config.known_args_namespace
    mode = getattr(ns, "tracetap", False)
    if mode is False:
        return
    if mode is None:
        mode = "coverage" if sys.version_info >= (3, 12) else "count"
    path = _output(ns, str(early_config.rootpath))
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None and getattr(ns, "numprocesses", None):
        # The xdist controller runs no test: its workers record.
        for stale in glob.glob(glob.escape(os.path.splitext(path)[0]) +
                               ".gw*" + (os.path.splitext(path)[1] or ".ttrace")):
            os.unlink(stale)
        early_config.stash[_state_key] = _State(mode, path, None, controller=True)
        return
    if worker is not None:
        path = _worker_path(path, worker)
    from tracetap import _record

    try:
        rec = _record.record(path, count=mode == "count",
                             coverage=mode == "coverage",
                             objects=mode == "objects",
                             branch=mode in ("count", "coverage")
                             and ns.tracetap_branch,
                             _own=_record.launcher_files())
        rec.start()
    except (OSError, RuntimeError, NotImplementedError, ValueError) as exc:
        # another tracer holds the hook (coverage run), an output that
        # cannot be created, --tracetap=objects before 3.13: said, no run
        raise pytest.UsageError(f"--tracetap: the recording could not "
                                f"start: {exc}") from exc
    early_config.stash[_state_key] = _State(mode, path, rec)


class _State:
    def __init__(self, mode: str, path: str, rec: Any,
                 controller: bool = False) -> None:
        self.mode, self.path, self.rec = mode, path, rec
        self.controller = controller
        self.error: str | None = None
        self.summary: Any = None


_state_key = pytest.StashKey[_State]()


def _mark(item: Any, phase: str) -> None:
    st = item.config.stash.get(_state_key, None)
    if st is not None and st.rec is not None:
        from tracetap import _record

        _record.context(f"{item.nodeid}|{phase}" if phase else "")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_setup(item: Any) -> Any:
    _mark(item, "setup")
    yield


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_call(item: Any) -> Any:
    _mark(item, "run")
    yield


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: Any, nextitem: Any) -> Any:
    _mark(item, "teardown")
    yield
    _mark(item, "")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: Any, exitstatus: Any) -> None:
    st = session.config.stash.get(_state_key, None)
    if st is None or st.rec is None:
        return
    rec, st.rec = st.rec, None
    try:
        st.summary = rec.stop()
    except Exception as exc:    # the test run's result stands; say why
        st.error = f"{type(exc).__name__}: {exc}"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: Any,
                            config: Any) -> None:
    st = config.stash.get(_state_key, None)
    if st is None:
        return
    tr = terminalreporter
    tr.write_sep("-", "tracetap")
    if st.controller:
        stem, ext = os.path.splitext(st.path)
        files = sorted(glob.glob(glob.escape(stem) + ".gw*" + (ext or ".ttrace")))
        tr.write_line(f"tracetap: {len(files)} worker recording(s) "
                      f"({st.mode} mode):")
        for f in files:
            tr.write_line(f"  {f}")
        if files:
            tr.write_line("read them together: tracetap coverage --contexts "
                          + " ".join(os.path.relpath(f) for f in files))
        return
    if st.error:
        tr.write_line(f"tracetap: the recording {st.path} is incomplete: "
                      f"{st.error}")
        return
    tr.write_line(f"tracetap: recorded {st.path} ({st.mode} mode)")
    if st.rec is not None and st.rec.fallback:
        tr.write_line(f"tracetap: {st.rec.fallback}")
    tr.write_line(f"read it: tracetap coverage --contexts {os.path.relpath(st.path)}")
