"""Helpers for the reference-recorder tests and the events parity tests.

Owns: finding the scenario programs and their declared expectations,
running a program plain / under the reference recorder / under tracetap,
turning event streams into per-thread sequences, and the short readable
diff shown when two streams disagree. Imports nothing from tracetap: the
oracle side must stay independent of the code it checks.
"""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS_DIR = os.path.join(HERE, "programs")
RECORDER = os.path.join(HERE, "reference_recorder.py")
KINDS = ("call", "line", "return", "exception", "opcode")
TIMEOUT = float(os.environ.get("TRACETAP_TEST_TIMEOUT", "300"))


# -------------------------------------------------------------- scenarios

@dataclass(frozen=True)
class Scenario:
    """A program in tests/py/programs and what its docstring declares:
    ``scenario-args:`` (argv after the script), ``scenario-exit:`` (the exit
    code of ``python SCRIPT``), ``scenario-threads:`` (threads that run
    traced code, the main thread included) and ``scenario-opcodes: no``
    (too many events to record opcodes in a test)."""

    name: str
    path: str
    args: tuple = ()
    exit_code: int = 0
    threads: int = 1
    opcodes: bool = True

    def __str__(self) -> str:
        return self.name


def _declared(text: str, key: str) -> str | None:
    m = re.search(r"^scenario-%s:[ \t]*(.*)$" % key, text, re.M)
    return m.group(1).strip() if m else None


def discover_scenarios() -> list[Scenario]:
    """Every top-level programs/*.py whose name does not start with '_'."""
    out = []
    for entry in sorted(os.listdir(PROGRAMS_DIR)):
        if not entry.endswith(".py") or entry.startswith("_"):
            continue
        path = os.path.join(PROGRAMS_DIR, entry)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        args = _declared(text, "args")
        exit_code = _declared(text, "exit")
        threads = _declared(text, "threads")
        opcodes = _declared(text, "opcodes")
        out.append(Scenario(
            name=entry[:-3], path=path,
            args=tuple(args.split()) if args else (),
            exit_code=int(exit_code) if exit_code else 0,
            threads=int(threads) if threads else 1,
            opcodes=opcodes != "no"))
    return out


def scenario_by_name(name: str) -> Scenario:
    for s in discover_scenarios():
        if s.name == name:
            return s
    raise KeyError(name)


# -------------------------------------------------------------- running

def child_env() -> dict:
    """The environment for traced children.

    - SETUPTOOLS_USE_DISTUTILS=stdlib keeps setuptools' .pth from installing
      a Python meta-path finder, whose calls on every import would otherwise
      be traced (it lives in site-packages) and would differ with whatever
      the tool had imported before the script started.
    - Coverage's subprocess hooks are removed: a second tracer in the child
      would replace ours.
    """
    env = dict(os.environ)
    env["SETUPTOOLS_USE_DISTUTILS"] = "stdlib"
    env.pop("COVERAGE_PROCESS_START", None)
    for key in list(env):
        if key.startswith("COV_CORE_"):
            del env[key]
    return env


def run(cmd, cwd, timeout=TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=child_env(), capture_output=True,
                          text=True, timeout=timeout)


def run_plain(scenario: Scenario, cwd: str, python=None):
    python = python or sys.executable
    return run([python, scenario.path, *scenario.args], cwd)


@dataclass
class Recording:
    """Events of one run, with the run's exit code and output."""

    events: list
    returncode: int
    stdout: str = ""
    stderr: str = ""
    cwd: str = ""
    extra: dict = field(default_factory=dict)


def run_recorder(scenario: Scenario, workdir: str, *, opcodes=False,
                 stdlib=False, python=None, prelude=None) -> Recording:
    """Run `scenario` under the reference recorder in `workdir`.

    `prelude`, if given, is Python source run in the recorder's process
    before the recorder starts (used to perturb the garbage collector)."""
    python = python or sys.executable
    out = os.path.join(workdir, "%s%s%s.oracle.jsonl" % (
        scenario.name, ".opcodes" if opcodes else "", ".stdlib" if stdlib else ""))
    flags = (["--opcodes"] if opcodes else []) + (["--stdlib"] if stdlib else [])
    argv = [RECORDER, *flags, "-o", out, scenario.path, *scenario.args]
    if prelude:
        boot = (prelude + "\nimport runpy, sys\nsys.argv[:] = sys.argv[1:]\n"
                "runpy.run_path(sys.argv[0], run_name='__main__')\n")
        cmd = [python, "-c", boot, *argv]
    else:
        cmd = [python, *argv]
    proc = run(cmd, workdir)
    if not os.path.exists(out):
        raise AssertionError(
            "the reference recorder wrote no output for %s (exit %s)\n%s"
            % (scenario.name, proc.returncode, proc.stderr[-3000:]))
    return Recording(load_events(out), proc.returncode, proc.stdout,
                     proc.stderr, workdir)


def run_tracetap(scenario: Scenario, workdir: str, *, flags=(),
                 python=None) -> Recording:
    """`tracetap run -o X.ttrace [flags] SCRIPT ARGS`, then
    `tracetap events --json X.ttrace`, both with `python -m tracetap`."""
    python = python or sys.executable
    tag = "".join(f.strip("-").replace("-", "_") + "." for f in flags)
    ttrace = os.path.join(workdir, "%s.%sttrace" % (scenario.name, tag))
    proc = run([python, "-m", "tracetap", "run", "-o", ttrace, *flags,
                scenario.path, *scenario.args], workdir)
    if not os.path.exists(ttrace):
        raise AssertionError(
            "tracetap run wrote no %s for %s (exit %s)\nstdout:\n%s\nstderr:\n%s"
            % (ttrace, scenario.name, proc.returncode, proc.stdout[-2000:],
               proc.stderr[-3000:]))
    ev = run([python, "-m", "tracetap", "events", "--json", ttrace], workdir)
    if ev.returncode != 0:
        raise AssertionError("tracetap events --json failed (exit %s):\n%s"
                             % (ev.returncode, ev.stderr[-3000:]))
    return Recording(parse_events(ev.stdout), proc.returncode, proc.stdout,
                     proc.stderr, workdir, {"events_stderr": ev.stderr})


# -------------------------------------------------------------- events

def load_events(path: str) -> list:
    with open(path, encoding="utf-8") as f:
        return parse_events(f.read())


def parse_events(text: str) -> list:
    """JSON lines (one object per line) or one JSON array of objects."""
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _norm_file(file, cwd):
    if file is None or file.startswith("<"):
        return file
    return os.path.normpath(os.path.join(cwd or os.getcwd(), file))


def _norm_line(line):
    return None if line is None or line < 0 else line


def is_environmental(file) -> bool:
    """Events whose presence depends on what the tool's own process had
    imported before the script began, not on the script: code in
    site-packages (import hooks such as editable-install finders) and
    ``<string>`` code that the stdlib generates at import time (namedtuple
    and friends). Both recorders record them; the parity tests leave them
    out of the comparison."""
    if file is None:
        return False
    if file == "<string>":
        return True
    parts = file.replace("\\", "/").split("/")
    return "site-packages" in parts or "dist-packages" in parts


def per_thread(events, *, cwd="", opcodes=False, keep=None) -> dict:
    """{thread: [event key, ...]} where a key is (kind, file, line, func)
    plus the offset for opcode events (when `opcodes`). Events of other
    kinds (e.g. tracetap's "dropped") are counted under the key None.
    `keep(file)` may drop events by file; threads left empty vanish."""
    threads = collections.OrderedDict()
    for ev in events:
        kind = ev.get("kind")
        if kind not in KINDS:
            threads.setdefault(("other", kind), []).append(ev)
            continue
        if kind == "opcode" and not opcodes:
            continue
        file = _norm_file(ev.get("file"), cwd)
        if keep is not None and not keep(file):
            continue
        key = (kind, file, _norm_line(ev.get("line")), ev.get("func"))
        if kind == "opcode":
            key += (ev.get("offset"),)
        threads.setdefault(ev.get("thread"), []).append(key)
    return threads


def main_thread_of(threads: dict, script: str):
    """The thread whose first event is the call of the script's <module>."""
    for tid, seq in threads.items():
        if isinstance(tid, tuple):
            continue
        if seq and seq[0][0] == "call" and seq[0][1] == script and seq[0][3] == "<module>":
            return tid
    return None


# -------------------------------------------------------------- diffs

def _short(file):
    if file is None:
        return "?"
    if file.startswith(PROGRAMS_DIR + os.sep):
        return file[len(PROGRAMS_DIR) + 1:]
    return file


def fmt_event(key) -> str:
    if key is None:
        return "(end of sequence)"
    kind, file, line, func = key[:4]
    text = "%-9s %s:%s  %s" % (kind, _short(file), "?" if line is None else line, func)
    if len(key) > 4:
        text += "  @%s" % key[4]
    return text


def first_difference(a, b):
    """Index of the first position where sequences a and b differ, or None."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return None if len(a) == len(b) else n


def diff_text(title, expected, actual, *, names=("reference recorder", "tracetap"),
              context=4, following=3) -> str:
    """A few lines around the first difference of two event sequences;
    `names` label the two sides."""
    i = first_difference(expected, actual)
    if i is None:
        return "%s: identical" % title
    tags = list(names)
    width = max(len(t) for t in tags)
    lines = ["%s: first difference at event #%d (%s has %d events, %s %d)"
             % (title, i, names[0], len(expected), names[1], len(actual))]
    pad = " " * (width + 2)
    for j in range(max(0, i - context), i):
        lines.append("%s#%-6d %s" % (pad, j, fmt_event(expected[j])))
    for j in range(i, i + following):
        e = expected[j] if j < len(expected) else None
        a = actual[j] if j < len(actual) else None
        if j > i and e is None and a is None:
            break
        if e == a:
            lines.append("%s#%-6d %s" % (pad, j, fmt_event(e)))
        else:
            lines.append("%s  #%-6d %s" % (tags[0].rjust(width), j, fmt_event(e)))
            lines.append("%s  #%-6d %s" % (tags[1].rjust(width), j, fmt_event(a)))
    return "\n".join(lines)


def compare_threads(expected: dict, actual: dict, script: str, *,
                    names=("reference recorder", "tracetap")) -> str | None:
    """None if the main threads are equal and the other threads' sequences
    are equal as a multiset; otherwise a short explanation. `names` label
    the expected and the actual side."""
    en, an = names
    problems = []
    other_kinds = {k[1]: len(v) for k, v in actual.items() if isinstance(k, tuple)}
    if other_kinds:
        problems.append("%s also reported %s events" % (an, ", ".join(
            "%d %r" % (n, k) for k, n in other_kinds.items())))
    exp = {k: v for k, v in expected.items() if not isinstance(k, tuple)}
    act = {k: v for k, v in actual.items() if not isinstance(k, tuple)}
    em, am = main_thread_of(exp, script), main_thread_of(act, script)
    for name, m, threads in ((en, em, exp), (an, am, act)):
        if m is None:
            problems.append("%s: no thread starts with the call of %s <module>; "
                            "its threads start with:\n%s" % (
                                name, _short(script), "\n".join(
                                    "  thread %s: %s" % (t, fmt_event(s[0]))
                                    for t, s in list(threads.items())[:8])))
    if em is not None and am is not None and exp[em] != act[am]:
        problems.append(diff_text("main thread", exp[em], act[am], names=names))
    e_rest = sorted(v for k, v in exp.items() if k != em)
    a_rest = sorted(v for k, v in act.items() if k != am)
    if e_rest != a_rest:
        e_left = list(e_rest)
        a_left = list(a_rest)
        for seq in e_rest:
            if seq in a_left:
                a_left.remove(seq)
                e_left.remove(seq)
        problems.append("other threads: %s has %d, %s %d; %d of the first "
                        "have no equal in the second"
                        % (en, len(e_rest), an, len(a_rest), len(e_left)))
        for seq in e_left[:2]:
            if a_left:
                best = max(a_left, key=lambda s: (_common_prefix(seq, s),
                                                  -abs(len(s) - len(seq))))
                problems.append(diff_text("thread starting with [%s]" % fmt_event(seq[0]),
                                          seq, best, names=names))
            else:
                problems.append("%s thread of %d events starting with %s has "
                                "no counterpart" % (en, len(seq), fmt_event(seq[0])))
        for seq in a_left[len(e_left):][:2]:
            problems.append("extra %s thread of %d events starting with %s"
                            % (an, len(seq), fmt_event(seq[0]) if seq else "nothing"))
    return "\n\n".join(problems) if problems else None


def _common_prefix(a, b) -> int:
    i = first_difference(a, b)
    return min(len(a), len(b)) if i is None else i
