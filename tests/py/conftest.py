"""Shared pytest fixtures for tests/py.

Fixtures named oracle_* and scenario_* belong to the reference-recorder and
parity tests (oracle_support.py holds their helpers). Other owners append
their own fixtures below; nothing here may be removed or renamed by them.
"""

import pytest

import oracle_support


# ---------------------------------------------------------- oracle / scenario

@pytest.fixture(scope="session")
def scenario_workdir(tmp_path_factory):
    """One directory per session: every child runs with it as its cwd."""
    return str(tmp_path_factory.mktemp("scenarios"))


@pytest.fixture(scope="session")
def scenario_plain_run(scenario_workdir):
    """scenario_plain_run(scenario) -> CompletedProcess of `python SCRIPT
    ARGS` with the current interpreter (cached for the session)."""
    cache = {}

    def get(scenario):
        if scenario.name not in cache:
            cache[scenario.name] = oracle_support.run_plain(scenario, scenario_workdir)
        return cache[scenario.name]
    return get


@pytest.fixture(scope="session")
def oracle_recording(scenario_workdir):
    """oracle_recording(scenario, opcodes=False, stdlib=False) -> Recording
    from the reference recorder with the current interpreter (cached)."""
    cache = {}

    def get(scenario, opcodes=False, stdlib=False):
        key = (scenario.name, opcodes, stdlib)
        if key not in cache:
            cache[key] = oracle_support.run_recorder(
                scenario, scenario_workdir, opcodes=opcodes, stdlib=stdlib)
        return cache[key]
    return get


# ---------------------------------------------------------------- capture
# Helpers for test_run_semantics, test_api, test_info and test_stress (the
# capture engineer's tests). Names start with capture_.

import os as _capture_os
import subprocess as _capture_subprocess
import sys as _capture_sys
import textwrap as _capture_textwrap


def capture_env():
    """Environment for tracetap children: no coverage hooks (a second
    tracer would be refused), no setuptools finder noise."""
    return oracle_support.child_env()


def capture_tracetap(*args, cwd, timeout=120, **kw):
    """`python -m tracetap ARGS` in `cwd` -> CompletedProcess (text)."""
    return _capture_subprocess.run(
        [_capture_sys.executable, "-m", "tracetap", *args], cwd=cwd,
        env=capture_env(), capture_output=True, text=True, timeout=timeout,
        **kw)


def capture_tracetap_script(*args, cwd, timeout=120, **kw):
    """The installed `tracetap` console script (beside this interpreter)
    with ARGS in `cwd` -> CompletedProcess (text): the command users run."""
    script = _capture_os.path.join(_capture_os.path.dirname(_capture_sys.executable),
                                   "tracetap")
    return _capture_subprocess.run(
        [script, *args], cwd=cwd, env=capture_env(), capture_output=True,
        text=True, timeout=timeout, **kw)


def capture_python(*args, cwd, timeout=120, **kw):
    """`python ARGS` in `cwd` -> CompletedProcess (text)."""
    return _capture_subprocess.run(
        [_capture_sys.executable, *args], cwd=cwd, env=capture_env(),
        capture_output=True, text=True, timeout=timeout, **kw)


def capture_write(directory, name, source):
    """Writes dedented `source` to directory/name; returns the path."""
    path = _capture_os.path.join(str(directory), name)
    _capture_os.makedirs(_capture_os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(_capture_textwrap.dedent(source).lstrip("\n"))
    return path


def capture_calls_backends():
    """pytest params of the run flags a calls test records with: the
    default recording ("default") and calls only on the sys.monitoring
    backend ("moncalls"; skipped before 3.12, which has no
    sys.monitoring). tests/py/test_moncalls.py compares the two directly."""
    return [
        pytest.param((), id="default"),
        pytest.param(("--no-lines", "--backend", "monitoring"), id="moncalls",
                     marks=pytest.mark.skipif(
                         _capture_sys.version_info < (3, 12),
                         reason="sys.monitoring (PEP 669) needs Python 3.12+")),
    ]


def capture_without_summary(stderr):
    """stderr with tracetap's own summary lines removed."""
    return "".join(line for line in stderr.splitlines(keepends=True)
                   if not line.startswith("tracetap: "))


@pytest.fixture
def capture_no_tracer():
    """Asserts the test leaves no trace hook behind in this thread or for
    new threads, and clears one if it does (so later tests still run)."""
    import threading
    yield
    leftover = (_capture_sys.gettrace(), threading.gettrace())
    _capture_sys.settrace(None)
    threading.settrace(None)
    assert leftover == (None, None), "a trace hook was left installed: %r" % (leftover,)


# ---------------------------------------------------------------- browser
# Headless Chromium (tests/py/browser.py) for the pages tracetap writes:
# the flame graph (test_flamegraph) and the HTML report (test_report).


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module; skips without Chromium."""
    from browser import Browser, chromium_path

    if chromium_path() is None:
        pytest.skip("headless Chromium is not installed (Debian package "
                    "'chromium'; scripts/test_matrix.py installs it as root)")
    with Browser() as b:
        yield b


# ------------------------------------------------------------ pytest plugin

# covproject/suite is a test project run in child processes by
# test_pytest_plugin.py, not part of this suite.
collect_ignore = ["covproject"]


# ----------------------------------------------------------- sanitizer run
# scripts/test_matrix.py's ASan+UBSan stage stages an instrumented build and
# names it in TRACETAP_EXPECT_PACKAGE: the session refuses to run against
# anything else, and checks that the sanitizer runtime is loaded, so that a
# green ASan run cannot come from the uninstrumented installed package.

def pytest_sessionstart(session):
    import os
    from pathlib import Path

    expected = os.environ.get("TRACETAP_EXPECT_PACKAGE")
    if not expected:
        return
    import tracetap._tracetap as ext

    got = Path(ext.__file__).resolve().parent
    if got != Path(expected).resolve():
        pytest.exit(f"TRACETAP_EXPECT_PACKAGE is {expected} but tracetap is {got}", 2)
    with open("/proc/self/maps") as maps:
        if "libasan" not in maps.read():
            pytest.exit("TRACETAP_EXPECT_PACKAGE is set but libasan is not loaded", 2)
