"""Coverage: ``Trace.coverage()`` and ``tracetap coverage``.

Owns the presentation around libtt's coverage analysis and exporters (in
C): which recordings, which files (report-time include/omit/source), the
configuration (``[tool.tracetap]`` in pyproject.toml, overridden by the
command line), the statement view (``_covanalysis``: statements and
branches as coverage.py counts them) handed to C, --fail-under, where a
report goes, and the names of the annotate format's ``.cover`` files. The
numbers and the report formats are made in C (src/libtt/tt_coverage*.c,
tt_export_*.c, bound in src/ext/bindings/coverage.c).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import __version__, _tracetap

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._trace import Trace

FORMATS = ("text", "annotate", "lcov", "cobertura", "json")


@dataclasses.dataclass
class CoverageConfig:
    """How a coverage report is made. ``statements``: count statements as
    coverage.py does (False: CPython's executable lines, as stdlib trace
    counts them). ``include``/``omit``: fnmatch globs on absolute paths
    (relative ones are relative to ``base``). ``source``: report only
    files under these directories, and list their never-imported .py
    files at 0 %. ``fail_under``: the total percentage below which
    ``tracetap coverage`` exits 2."""

    statements: bool = True
    branch: bool = False
    include: list[str] = dataclasses.field(default_factory=list)
    omit: list[str] = dataclasses.field(default_factory=list)
    source: list[str] = dataclasses.field(default_factory=list)
    fail_under: float | None = None
    exclude_lines: list[str] | None = None     # None: coverage.py's defaults
    exclude_also: list[str] = dataclasses.field(default_factory=list)
    partial_branches: list[str] | None = None  # None: coverage.py's defaults
    base: str = ""                               # "": the current directory

    def _abs(self, p: str) -> str:
        if p.startswith(("/", "*", "?", "[")):
            return p
        return os.path.join(self.base or os.getcwd(), p)

    def wanted(self, path: str) -> bool:
        """The file is in the report (include/omit/source)."""
        if self.source and not any(
                path == d or path.startswith(d.rstrip("/") + "/")
                for d in self.source_dirs()):
            return False
        if self.include and not any(fnmatch.fnmatchcase(path, self._abs(g))
                                    for g in self.include):
            return False
        return not any(fnmatch.fnmatchcase(path, self._abs(g))
                       for g in self.omit)

    def source_dirs(self) -> list[str]:
        return [os.path.normpath(self._abs(d)) for d in self.source]

    def unimported(self) -> list[str]:
        """The .py files under the source directories: the top directory's
        and those of packages (directories with __init__.py) below it, as
        coverage.py finds them."""
        out = []
        for top in self.source_dirs():
            if os.path.isfile(top):
                out.append(top)
                continue
            for d, subdirs, files in os.walk(top):
                subdirs[:] = sorted(s for s in subdirs if os.path.isfile(
                    os.path.join(d, s, "__init__.py")))
                out += [os.path.join(d, f) for f in sorted(files)
                        if f.endswith(".py")]
        return [p for p in out if self.wanted(p)]


# pyproject.toml [tool.tracetap] key -> (CoverageConfig field, type)
_CONFIG_KEYS: dict[str, tuple[str, type]] = {
    "branch": ("branch", bool),
    "include": ("include", list),
    "omit": ("omit", list),
    "source": ("source", list),
    "fail-under": ("fail_under", float),
    "exclude-lines": ("exclude_lines", list),
    "exclude-also": ("exclude_also", list),
    "partial-branches": ("partial_branches", list),
    "statements": ("statements", bool),
}


class ConfigError(ValueError):
    """A [tool.tracetap] table that cannot be used."""


def find_pyproject(start: str | None = None) -> str | None:
    """The nearest pyproject.toml in start (the current directory) or
    above it, or None."""
    d = os.path.abspath(start or os.getcwd())
    while True:
        p = os.path.join(d, "pyproject.toml")
        if os.path.isfile(p):
            return p
        up = os.path.dirname(d)
        if up == d:
            return None
        d = up


def load_config(path: str | None = None, **overrides: Any) -> CoverageConfig:
    """A CoverageConfig from ``[tool.tracetap]`` of the pyproject.toml at
    `path` (default: the nearest one, see find_pyproject; none: defaults),
    then `overrides` (None values are ignored: the command line's "not
    given"). Relative paths and globs in the file are relative to its
    directory. Raises ConfigError, OSError."""
    import tomllib

    cfg = CoverageConfig()
    path = path or find_pyproject()
    if path is not None:
        with open(path, "rb") as f:
            try:
                table = tomllib.load(f).get("tool", {}).get("tracetap", {})
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{path}: {exc}") from exc
        cfg.base = os.path.dirname(os.path.abspath(path))
        for key, value in table.items():
            if key not in _CONFIG_KEYS:
                raise ConfigError(f"{path}: [tool.tracetap]: unknown key {key!r}"
                                  f" (known: {', '.join(sorted(_CONFIG_KEYS))})")
            name, kind = _CONFIG_KEYS[key]
            if kind is list and isinstance(value, str):
                value = [value]
            ok = (isinstance(value, list) and all(isinstance(v, str) for v in value)
                  if kind is list else
                  isinstance(value, (int, float)) and not isinstance(value, bool)
                  if kind is float else isinstance(value, bool))
            if not ok:
                raise ConfigError(f"{path}: [tool.tracetap] {key}: expected "
                                  f"{ {list: 'a list of strings', float: 'a number', bool: 'true or false'}[kind] }")
            setattr(cfg, name, float(value) if kind is float else value)
    for name, value in overrides.items():
        if value is None or value == []:
            continue
        if name in ("include", "omit", "source"):
            # Given on the command line: relative to the current directory.
            value = [os.path.abspath(v) if not v.startswith(("*", "?", "["))
                     else v for v in value]
        setattr(cfg, name, value)
    return cfg


def _make_view(cfg: CoverageConfig, warnings: list[str]) -> Callable[..., Any]:
    """The view callable of the C binding: per file, None (not in the
    report) or (statements, hits, branches)."""
    from . import _covanalysis as ca

    exclude = list(ca.DEFAULT_EXCLUDE if cfg.exclude_lines is None
                   else cfg.exclude_lines) + list(cfg.exclude_also)
    partial = list(ca.DEFAULT_PARTIAL + ca.DEFAULT_PARTIAL_ALWAYS
                   if cfg.partial_branches is None else cfg.partial_branches)

    def view(path: str, lines: list[int], hits: list[int],
             arcs: list[tuple[int, int, int]]) -> Any:
        if not cfg.wanted(path):
            return None
        if not cfg.statements:
            return True             # CPython's lines, as recorded
        try:
            fa = ca.analyze(path, exclude, partial)
        except (OSError, ca.NotPython, UnicodeDecodeError) as exc:
            warnings.append(f"{path}: {exc}; its lines are reported as recorded")
            return True
        return ca.file_view(fa, lines, hits, arcs, cfg.branch)

    return view


def _config_kw(cfg: CoverageConfig | None,
               warnings: list[str]) -> dict[str, Any]:
    """The binding's keyword arguments for a config (none: raw lines, all
    files, as Trace.coverage() has them)."""
    if cfg is None:
        return {}
    return {"view": _make_view(cfg, warnings),
            "sources": cfg.unimported() if cfg.source else None,
            "arcs": cfg.branch, "branch": cfg.branch}

Recordings = Sequence["str | os.PathLike[str] | Trace"]


def _open(items: Recordings) -> tuple[list[Trace], list[Trace]]:
    """(traces, the ones opened here): one Trace (one open file) each."""
    from ._trace import Trace

    traces, opened = [], []
    try:
        for item in items:
            if not isinstance(item, Trace):
                item = Trace(item)
                opened.append(item)
            traces.append(item)
    except BaseException:
        for t in opened:
            t.close()
        raise
    return traces, opened


def _completeness(traces: list[Trace]) -> tuple[list[dict[str, Any]], list[str]]:
    """Per recording, what the outputs say about its completeness (the
    JSON's "recordings": path and Trace.status() without the damage
    report), and the same in words for stderr."""
    from ._show import status_warnings

    recs, warnings = [], []
    for t in traces:
        st = t.status()
        recs.append({"path": t.path, "state": st["state"],
                     "being_written": st["being_written"],
                     "dropped": st["dropped"],
                     "lost_reason": st["lost_reason"]})
        warnings += status_warnings(t.path, st, t._reader.size)
    return recs, warnings


def coverage_data(items: Recordings, config: CoverageConfig | None = None,
                  ) -> tuple[dict[str, Any], list[str]]:
    """(data, warnings): the coverage of the recordings (Traces, or paths
    opened here), counts summed, each read once. ``data["recordings"]``
    says how complete each one was; the warnings say it in words. With a
    config: statements (and branches) as coverage.py counts them, each
    file with its "raw_lines" too, files chosen by the config."""
    traces, opened = _open(items)
    try:
        said_view: list[str] = []
        data, warnings = _tracetap.coverage_data(
            [t._reader for t in traces], **_config_kw(config, said_view))
        warnings = said_view + warnings
        recs, said = _completeness(traces)
        return {"recordings": recs, **data}, said + warnings
    finally:
        for t in opened:
            t.close()


def export(
    items: Recordings,
    fmt: str,
    out: str | None = None,
    *,
    show_missing: bool = False,
    config: CoverageConfig | None = None,
) -> tuple[str | None, list[str], dict[str, Any], list[dict[str, Any]]]:
    """A text, json, lcov or cobertura report: written to `out`, or
    returned as a str. Also returns the warnings, the totals and the
    completeness of each recording (JSON reports carry it as
    "recordings"). `config`: see coverage_data."""
    traces, opened = _open(items)
    said_view: list[str] = []
    try:
        direct = out if fmt != "json" else None
        text, warnings, totals = _tracetap.coverage_export(
            [t._reader for t in traces],
            fmt,
            direct,
            show_missing=show_missing,
            root=os.getcwd(),
            test_name="",
            version=f"tracetap {__version__}",
            timestamp_ms=int(time.time() * 1000),
            **_config_kw(config, said_view),
        )
        recs, said = _completeness(traces)
        warnings = said + said_view + warnings
    finally:
        for t in opened:
            t.close()
    if fmt == "json":
        import json

        # {"recordings": [...], "files": ..., "totals": ...}: the C report
        # with the completeness of each recording in front.
        assert text is not None and text.startswith("{")
        text = '{"recordings": ' + json.dumps(recs) + ", " + text[1:]
        if out is not None:
            with open(out, "w", encoding="utf-8") as f:
                f.write(text)
            text = None
    return text, warnings, totals, recs

def cover_names(files: Sequence[str]) -> dict[str, str]:
    """Source path -> .cover file name: the path relative to the absolute
    files' common directory (a relative name as it is), with dots for the
    separators and no extension (what stdlib trace's _fullmodname makes
    relative to sys.path), control characters escaped. Names that would
    collide (``a/b.py`` and ``a.b.py``) each get a digest of their path,
    so no report overwrites another."""
    import hashlib

    from ._text import printable

    if not files:
        return {}
    absolute = [f for f in files if os.path.isabs(f)]
    common = (os.path.commonpath([os.path.dirname(f) for f in absolute])
              if absolute else "")
    out = {}
    for f in files:
        rel = os.path.relpath(f, common) if os.path.isabs(f) else f
        rel = os.path.splitext(rel)[0]
        stem = printable(rel.replace(os.sep, ".").lstrip(".")) or "_"
        out[f] = stem
    seen: dict[str, int] = {}
    for stem in out.values():
        seen[stem.lower()] = seen.get(stem.lower(), 0) + 1
    for f, stem in out.items():
        if seen[stem.lower()] > 1:   # also apart on case-insensitive disks
            digest = hashlib.sha1(os.fsencode(f)).hexdigest()[:8]
            stem = f"{stem}.{digest}"
        out[f] = stem + ".cover"
    return out


def annotate(
    items: Recordings, outdir: str
) -> tuple[list[tuple[str, str]], list[str], int]:
    """Writes one .cover file per source file into outdir, reading each
    recording once and each source through _source.read_source (a source
    it refuses is a problem, not a report). Returns the problems (source,
    why), the warnings and the number of files written."""
    from ._source import read_source

    made: dict[str, tuple[str, bytes | str]] = {}
    traces, opened = _open(items)
    start: int | None = None
    identities: dict[str, Any] = {}

    def targets(files: list[str]) -> dict[str, tuple[str, bytes | str]]:
        os.makedirs(outdir, exist_ok=True)
        names = cover_names(sorted(files))
        for src, n in names.items():
            data, why = read_source(src, start, identities.get(src))
            made[src] = (os.path.join(outdir, n),
                         data if data is not None else str(why))
        return made

    try:
        # A source modified after the earliest recording started is not
        # the one that ran; what identified each source when recorded: the
        # first recording that says wins (a later one may have run an
        # edited file, and is refused).
        start = min((t._reader.header()["start_unix_ns"] for t in traces),
                    default=None)
        for t in traces:
            for path, ident in t._reader.sources().items():
                identities.setdefault(path, ident)
        problems, warnings = _tracetap.coverage_annotate(
            [t._reader for t in traces], targets)
        _, said = _completeness(traces)
        warnings = said + warnings
    finally:
        for t in opened:
            t.close()
    return problems, warnings, len(made) - len(problems)


# Header option bits (tt.h TT_OPT_LINES, TT_OPT_COUNT).
_OPT_LINES, _OPT_COUNT = 0x02, 0x10


def _lacking(traces: list[Trace]) -> tuple[int, list[str]]:
    """(how many of the recordings hold line counts, a warning for each
    one that does not): a recording made with --no-lines or --no-calls
    has no line events, so its coverage would read as a silent 0 %."""
    have, said = 0, []
    for t in traces:
        if t._reader.header()["options"] & (_OPT_LINES | _OPT_COUNT):
            have += 1
        else:
            said.append(f"{t.path}: recorded without line events (--no-lines "
                        "or --no-calls), so it says nothing about coverage")
    return have, said


def _safe(s: object) -> str:
    from ._text import printable

    return printable(s)


def fails_under(totals: dict[str, Any], fail_under: float) -> float | None:
    """The total percentage when it is below fail_under, else None. The
    exact ratio is compared (100 needs every line and branch)."""
    num = totals["covered"] + totals.get("branches_hit", 0)
    den = totals["executable"] + totals.get("branches", 0)
    pct = 100.0 * num / den if den else 100.0
    return pct if pct < fail_under else None


def cmd_coverage(
    files: Sequence[str], fmt: str, out: str | None, show_missing: bool,
    config: CoverageConfig | None = None,
) -> int:
    """`tracetap coverage`. Returns the exit status: 0; 1 when a
    recording cannot be read or the report cannot be written; 2 when the
    total is below config.fail_under (said on stderr)."""

    def warn(lines: list[str]) -> None:
        from ._text import printable

        for w in lines:
            sys.stderr.write(f"tracetap: warning: {printable(w)}\n")

    from ._progress import shown

    traces: list[Trace] = []
    try:
        traces, _ = _open(files)
        have, lacking = _lacking(traces)
        if not have:
            # Nothing can be answered: not "TOTAL 0 0 0" nor 0 %.
            for line in lacking:
                sys.stderr.write(f"tracetap: error: {_safe(line)}\n")
            sys.stderr.write("tracetap: error: no line counts to report; "
                             "record with line events (the default) or "
                             "--count\n")
            return 1
        warn(lacking)
        with shown(sys.stderr):
            if fmt == "annotate":
                assert out is not None
                problems, warnings, written = annotate(traces, out)
            else:
                text, warnings, totals, recs = export(
                    traces, fmt, out, show_missing=show_missing, config=config)
        if fmt == "annotate":
            warn(warnings)
            for src, why in problems:
                sys.stderr.write(f"tracetap: {_safe(src)}: {_safe(why)}\n")
            sys.stderr.write(f"tracetap: wrote {written} .cover file(s) to "
                             f"{_safe(out)}\n")
            return 1 if problems and not written else 0
    except OSError as exc:
        sys.stderr.write(f"tracetap: {_safe(exc)}\n")
        return 1
    except _tracetap.TraceError as exc:
        sys.stderr.write(f"tracetap: {_safe(exc)}\n")
        return 1
    finally:
        for t in traces:
            t.close()
    warn(warnings)
    if fmt == "text" and totals["executable"] == 0 and any(
            r["state"] != "complete" for r in recs):
        # Not "TOTAL 0 0 0 100.0%": nothing has been seen yet.
        text = "No line has been recorded yet: " + (
            "the recording is still in progress.\n"
            if any(r["being_written"] for r in recs)
            else "the recording is incomplete.\n")
        if out is not None:
            with open(out, "w", encoding="utf-8") as f:
                f.write(text)
            return 0
    if text is not None:
        sys.stdout.write(text)
    if config is not None and config.fail_under is not None:
        low = fails_under(totals, config.fail_under)
        if low is not None:
            sys.stderr.write(
                f"tracetap: coverage failure: total of {low:.2f}% is below "
                f"--fail-under={config.fail_under:g}\n")
            return 2
    return 0
