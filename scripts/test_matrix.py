#!/usr/bin/env python3
"""Run tracetap's whole test suite: the libtt C tests (plain and under
ASan+UBSan), then pytest on every interpreter of the matrix.

Each interpreter gets a cached venv with the test dependencies; tracetap is
(re)installed into it from this checkout with a persistent meson build dir, so
a second run only rebuilds what changed. Ends with one line
`N passed, M failed` and exits non-zero if anything failed or an interpreter
of the matrix is missing.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("TRACETAP_CACHE", Path.home() / ".cache" / "tracetap"))
BUILD = ROOT / "build"
TEST_REQUIREMENTS = ["meson-python>=0.15", "meson>=1.1", "ninja", "pytest>=7",
                     "lxml",   # lxml: the Cobertura DTD check (tests/py/test_coverage_cli.py)
                     # perfetto ships perfetto_trace_pb2, which needs protobuf's
                     # runtime: the independent parser of tests/py/test_export_perfetto.py
                     "perfetto", "protobuf",
                     "coverage>=7.18,<7.19",   # the reference of tests/py/test_coverage_py.py
                     "pytest-xdist>=3"]        # tests/py/test_pytest_plugin.py
# Installed where they install (a wheel may be missing for a new interpreter);
# the tests that use them skip with the reason where they are absent.
OPTIONAL_TEST_REQUIREMENTS = ["line_profiler"]  # tests/py/test_lines.py
# The extension under ASan+UBSan (ext_asan): one interpreter, the tests of
# capture, objects and stress. On this interpreter `make test` adds about
# the time of these files under ASan (see docs/DESIGN.md, section 6).
ASAN_VERSION = "3.14.7"
ASAN_TESTS = ["tests/py/test_events_parity.py", "tests/py/test_objects.py",
              "tests/py/test_stress.py", "tests/py/test_thread_churn.py"]
C_SUMMARY = re.compile(r"^tests/c: (\d+) passed, (\d+) failed", re.M)


class Tally:
    def __init__(self) -> None:
        self.passed = self.failed = self.skipped = 0
        self.lines: list[str] = []

    def add(self, label: str, passed: int, failed: int, skipped: int = 0, note: str = "") -> None:
        self.passed += passed
        self.failed += failed
        self.skipped += skipped
        extra = f", {skipped} skipped" if skipped else ""
        self.lines.append(f"  {label:<22} {passed} passed, {failed} failed{extra}{note}")


def say(msg: str) -> None:
    print(f"[test] {msg}", flush=True)


def run(cmd: list[str], log: Path | None = None, **kw) -> subprocess.CompletedProcess:
    """Run cmd; with `log`, capture output there and show its tail on failure."""
    if log is None:
        return subprocess.run(cmd, **kw)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, **kw)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-40:]
        print("\n".join(tail), file=sys.stderr)
        say(f"FAILED: {' '.join(cmd)} (full log: {log})")
    return proc


def tools_venv() -> Path:
    """A cached venv holding meson and ninja, so the C build needs nothing
    preinstalled but a Python 3."""
    venv = CACHE / "venvs" / "tools"
    if not (venv / ".tracetap-ready").exists():
        say(f"creating the build-tools venv in {venv}")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                        "meson>=1.1", "ninja"], check=True)
        (venv / ".tracetap-ready").write_text("meson ninja\n")
    return venv / "bin"


def c_tests(tally: Tally, variant: str, extra: list[str]) -> None:
    bdir = BUILD / variant
    tools = tools_venv()
    if not (bdir / "build.ninja").exists():
        args = [str(tools / "meson"), "setup", str(bdir), "-Dext=false", "-Dctests=true", *extra]
        if run(args, BUILD / f"{variant}-setup.log", cwd=ROOT).returncode:
            tally.add(f"C tests ({variant})", 0, 1, note="  (meson setup failed)")
            return
    if run([str(tools / "ninja"), "-C", str(bdir)], BUILD / f"{variant}-build.log").returncode:
        tally.add(f"C tests ({variant})", 0, 1, note="  (build failed)")
        return
    say(f"C tests, {variant}")
    proc = subprocess.run([str(bdir / "tests" / "c" / "tt_tests")], capture_output=True, text=True,
                          cwd=ROOT)
    sys.stdout.write(proc.stdout[-4000:])
    sys.stderr.write(proc.stderr[-4000:])
    m = C_SUMMARY.search(proc.stdout)
    if not m:
        tally.add(f"C tests ({variant})", 0, 1, note=f"  (runner crashed, exit {proc.returncode})")
        return
    passed, failed = int(m[1]), int(m[2])
    if proc.returncode != 0 and failed == 0:
        failed = 1   # the runner said all passed but exited non-zero: count it
    tally.add(f"C tests ({variant})", passed, failed)


def matrix() -> tuple[list[tuple[str, str]], bool]:
    # stderr is not captured: building a missing interpreter takes minutes,
    # and its progress lines should reach the terminal as they happen.
    proc = subprocess.run([str(ROOT / "scripts" / "pythons")], stdout=subprocess.PIPE, text=True)
    found = [tuple(line.split(None, 1)) for line in proc.stdout.splitlines() if line.strip()]
    return found, proc.returncode == 0


def ensure_venv(version: str, python: str) -> Path | None:
    stamp_text = "\n".join([python, *TEST_REQUIREMENTS, *OPTIONAL_TEST_REQUIREMENTS])
    venv = CACHE / "venvs" / f"{version}-{hashlib.sha1(stamp_text.encode()).hexdigest()[:8]}"
    vpy = venv / "bin" / "python"
    stamp = venv / ".tracetap-ready"
    if stamp.exists() and vpy.exists():
        return vpy
    say(f"creating venv for {version} in {venv}")
    log = BUILD / f"venv-{version}.log"
    if run([python, "-m", "venv", "--clear", str(venv)], log).returncode:
        return None
    if run([str(vpy), "-m", "pip", "install", "-q", *TEST_REQUIREMENTS], log).returncode:
        return None
    for req in OPTIONAL_TEST_REQUIREMENTS:
        if run([str(vpy), "-m", "pip", "install", "-q", req],
               BUILD / f"venv-{version}-{req}.log").returncode:
            say(f"{req} does not install on {version}: its tests will skip")
    stamp.write_text(stamp_text)
    return vpy


def ensure_genhtml() -> None:
    """The LCOV test renders with genhtml (Debian's lcov package): install it
    when it is missing and this machine lets us (root and apt-get)."""
    import shutil
    if shutil.which("genhtml") or not shutil.which("apt-get") or os.geteuid() != 0:
        return
    say("installing lcov (genhtml) with apt-get for the coverage tests")
    log = BUILD / "apt-lcov.log"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "lcov"]
    if run(cmd, log, env=env).returncode:
        run(["apt-get", "update", "-q"], BUILD / "apt-update.log", env=env)
        run(cmd, log, env=env)


def ensure_chromium() -> None:
    """The flame graph tests (and later the HTML report's) open pages in
    headless Chromium (Debian's chromium package, driven by
    tests/py/browser.py): install it when it is missing and this machine
    lets us (root and apt-get); otherwise those tests skip and say why."""
    import shutil
    if (shutil.which("chromium") or not shutil.which("apt-get")
            or os.geteuid() != 0):
        return
    say("installing chromium with apt-get for the browser tests")
    log = BUILD / "apt-chromium.log"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
    if run(cmd, log, env=env).returncode:
        run(["apt-get", "update", "-q"], BUILD / "apt-update.log", env=env)
        run(cmd, log, env=env)


def layering(tally: Tally, version: str) -> None:
    """The extension's part graph (scripts/layering.py) from the objects
    of the build just installed: one check per interpreter, since what is
    compiled depends on the version (no ref tracer before 3.13)."""
    proc = run([sys.executable, str(ROOT / "scripts" / "layering.py"), str(BUILD / f"py-{version}")],
               BUILD / f"layering-{version}.log")
    tally.add(f"layering ({version})", int(proc.returncode == 0), int(proc.returncode != 0))


def py_tests(tally: Tally, version: str, python: str, pytest_args: list[str]) -> None:
    label = f"pytest ({version})"
    vpy = ensure_venv(version, python)
    if vpy is None:
        tally.add(label, 0, 1, note="  (venv setup failed)")
        return
    say(f"installing tracetap into the {version} venv")
    install = [str(vpy), "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps",
               "--force-reinstall", f"-Cbuild-dir={BUILD / ('py-' + version)}", str(ROOT)]
    if run(install, BUILD / f"install-{version}.log").returncode:
        tally.add(label, 0, 1, note="  (install failed)")
        return
    layering(tally, version)
    junit = BUILD / f"junit-{version}.xml"
    say(f"pytest on {version}")
    pytest(tally, label, vpy, ["tests/py", *pytest_args], junit)
    if version == ASAN_VERSION and not pytest_args:
        ext_asan(tally, version, vpy)


def pytest(tally: Tally, label: str, vpy: Path, args: list[str], junit: Path,
           env: dict[str, str] | None = None) -> None:
    """Runs pytest with args in the venv of vpy and tallies its junit report."""
    junit.unlink(missing_ok=True)
    proc = subprocess.run([str(vpy), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           f"--junitxml={junit}", *args], cwd=ROOT, env=env)
    if not junit.exists():
        tally.add(label, 0, 1, note=f"  (pytest exited {proc.returncode} without a report)")
        return
    suites = ET.parse(junit).getroot()
    if suites.tag == "testsuite":
        suites = [suites]
    total = failures = skipped = 0
    for s in suites:
        total += int(s.get("tests", 0))
        failures += int(s.get("failures", 0)) + int(s.get("errors", 0))
        skipped += int(s.get("skipped", 0))
    passed = total - failures - skipped
    if total == 0:
        tally.add(label, 0, 1, note="  (no tests ran)")
    elif proc.returncode not in (0, 1) and failures == 0:
        tally.add(label, passed, 1, skipped, note=f"  (pytest exited {proc.returncode})")
    else:
        tally.add(label, passed, failures, skipped)


def ext_asan(tally: Tally, version: str, vpy: Path) -> None:
    """The extension built with ASan+UBSan (debug asserts on) and the
    capture, objects and stress tests run against it on one interpreter.
    The interpreter itself is not instrumented: libasan is preloaded, leak
    detection is off (CPython's own allocations would be reported), and the
    instrumented package is staged ahead of the installed one on
    PYTHONPATH, which the tests' child processes inherit."""
    label = f"pytest ASan ({version})"
    bdir = BUILD / f"asan-py-{version}"
    tools = vpy.parent
    if not (bdir / "build.ninja").exists():
        args = [str(tools / "meson"), "setup", str(bdir), "-Db_sanitize=address,undefined",
                "-Db_lundef=false", "-Dbuildtype=debug", "-Ddebug_asserts=true",
                "-Dc_args=-fno-sanitize-recover=undefined"]
        if run(args, BUILD / f"asan-py-{version}-setup.log", cwd=ROOT).returncode:
            tally.add(label, 0, 1, note="  (meson setup failed)")
            return
    if run([str(tools / "ninja"), "-C", str(bdir)], BUILD / f"asan-py-{version}-build.log").returncode:
        tally.add(label, 0, 1, note="  (build failed)")
        return
    stage = bdir / "stage"
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(ROOT / "src" / "tracetap", stage / "tracetap",
                    ignore=shutil.ignore_patterns("meson.build", "__pycache__"))
    for so in [*(bdir / "src" / "ext").glob("_tracetap*.so"), *(bdir / "bench").glob("_floor*.so")]:
        shutil.copy2(so, stage / "tracetap" / so.name)
    libasan = subprocess.run(["cc", "-print-file-name=libasan.so"], capture_output=True,
                             text=True).stdout.strip()
    env = dict(os.environ, PYTHONPATH=str(stage), LD_PRELOAD=libasan,
               ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:exitcode=86",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    say(f"pytest on {version}, extension under ASan+UBSan")
    env["TRACETAP_EXPECT_PACKAGE"] = str(stage / "tracetap")
    pytest(tally, label, vpy, ASAN_TESTS,
           BUILD / f"junit-asan-{version}.xml", env)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", action="append", metavar="VERSION",
                    help="only these matrix versions (e.g. 3.13.15); repeatable")
    ap.add_argument("--no-c", action="store_true", help="skip the C unit tests")
    ap.add_argument("--no-py", action="store_true", help="skip the Python tests")
    ap.add_argument("pytest_args", nargs="*", help="extra arguments for pytest (after --)")
    args = ap.parse_args()

    started = time.monotonic()
    tally = Tally()
    if not args.no_c:
        c_tests(tally, "c", [])
        c_tests(tally, "asan", ["-Db_sanitize=address,undefined", "-Db_lundef=false",
                                "-Dbuildtype=debug", "-Ddebug_asserts=true",
                                "-Dc_args=-fno-sanitize-recover=undefined"])
    if not args.no_py:
        found, complete = matrix()
        if args.python:
            found = [(v, p) for v, p in found if v in args.python]
            missing = set(args.python) - {v for v, _ in found}
            if missing:
                tally.add("interpreters", 0, len(missing), note=f"  (missing: {', '.join(sorted(missing))})")
        elif not complete:
            tally.add("interpreters", 0, 1, note="  (the matrix is incomplete, see above)")
        ensure_genhtml()
        ensure_chromium()
        for version, python in found:
            py_tests(tally, version, python, args.pytest_args)

    print("\nSummary:")
    print("\n".join(tally.lines))
    print(f"  ({time.monotonic() - started:.0f}s)")
    skipped = f", {tally.skipped} skipped" if tally.skipped else ""
    print(f"{tally.passed} passed, {tally.failed} failed{skipped}")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
