"""Typed stub of tracetap's C extension (src/ext)."""

from collections.abc import Callable, Iterator, Mapping, Sequence
from types import CodeType, FrameType
import os
from typing import Any, final

FREE_THREADED: int

class TraceError(ValueError):
    """A recording cannot be written or read; ``code`` is the TT_E* code."""

    code: int

@final
class Hook:
    """The object installed as the C trace function's object. Calling it
    (threading's start hook, ``sys.settrace(sys.gettrace())``) installs the
    C hook on the calling thread."""

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None: ...

class EventIter(Iterator[
        tuple[int, int, int, int, int | None, int | None, int, int,
              int | None, int | None, bool]]):
    @property
    def errors(self) -> int: ...
    def damage(self) -> dict[str, Any]:
        """What this iteration found wrong with the file (as
        Reader.damage()); shows a file cut since it was opened."""

class Reader:
    """A validated, read-only view of a ``.ttrace`` recording. Holds the
    file open: its iterators and the analyses given it read that file,
    even if the path is replaced or removed."""

    def __init__(self, path: str) -> None: ...
    @property
    def path(self) -> str: ...
    @property
    def size(self) -> int:
        """The open file's size now."""
    def being_written(self) -> bool:
        """A writer still has the file open (a recording in progress)."""
    @property
    def n_codes(self) -> int: ...
    def header(self) -> dict[str, Any]: ...
    def damage(self, *, complete: bool = True) -> dict[str, Any]: ...
    def clock(self) -> dict[str, Any]: ...
    def threads(self, *, complete: bool = True) -> list[dict[str, Any]]: ...
    def counts(self) -> tuple[dict[str, int], int]: ...
    def notes(self) -> list[tuple[str, str]]: ...
    def string(self, id: int, /) -> str: ...
    def code(
        self, id: int, /
    ) -> tuple[str, str, int, int, int, list[tuple[int, int, int | None]]]: ...
    def type(self, id: int, /) -> tuple[str, int, int]:
        """(name, basicsize, flags) of a type that OBJ_CREATE events name."""
    def ns(self, tick: int, /) -> int: ...
    def events(self, thread: int | None = None) -> EventIter:
        """(kind, thread ordinal, t_ns, code id, line, offset, opcode,
        extra, addr, size, resume, yields): extra is the exception type's string id
        for exception events, the count for dropped events and the type id
        for obj_create; addr is set for obj_create and obj_destroy, size for
        obj_create; resume is True for a call that resumes a generator or
        coroutine, yields for a return that suspends one (libtt's
        tt_event_resumes / tt_event_yields: the recording's marks, header
        option 0x100; older recordings: the line rule, no yields)."""
    def set_window(self, spans: list[tuple[int, int]] | None, /) -> None:
        """Later iterations and analyses see only events whose tick lies
        in one of the [lo, hi) spans; None or [] lifts the limit."""
    def sources(self) -> dict[str, dict[str, int | None]]:
        """{filename: {"size", "mtime_ns", "crc32c"}}: each source file's
        identity when code from it was first recorded (crc32c None if it
        was too large to hash); {} for files of older writers."""
    def close(self) -> None: ...

def set_progress(
    fn: Callable[[str, int, int], object] | None, /
) -> Callable[[str, int, int], object] | None:
    """Installs fn(path, done, total), called every 65,536 events of a long
    read (objects, coverage data); returns the previous one. An exception
    it raises stops the read and propagates."""
    ...

def calls(reader: Reader | str, /) -> dict[str, Any]:
    """libtt's call analysis of a recording, read through the Reader (a
    path is opened as one), as tuples (see _calls.py)."""
    ...

def lines(reader: Reader | str, /) -> dict[str, Any]:
    """libtt's per-line time of a recording, read through the Reader (a
    path is opened as one): summary, threads and rows of (code, line or
    None, thread or -1, hits, time_ns, own_ns) (see _lines.py)."""
def timeline(reader: Reader | str, fd: int, format: str, *, lines: bool = False,
             top_types: int = 8, process_name: str | None = None) -> dict[str, Any]:
    """libtt's timeline exporter: the recording as a 'perfetto' protobuf
    trace or 'chrome' Trace Event JSON, written to descriptor fd (which
    stays open); returns counts (see _timeline.py)."""
def flamegraph(reader: Reader | str, path: str | os.PathLike[str], /, *,
               weight: int = ..., icicle: bool = ..., thread: int = ...,
               min_share: float = ..., width: int = ...,
               title: str | None = ...,
               max_frames: int = ...) -> dict[str, Any]:
    """Writes libtt's interactive SVG of the call tree to path (weight 0
    time, 1 calls, 2 objects; thread -1: all threads) and returns its
    numbers (total, frames, omitted, truncated, ...)."""
    ...

def allocs(reader: Reader | str, /) -> dict[str, Any] | None:
    """The bytes per creation stack of an --objects --bytes recording
    (totals, sites, samples), or None without such data."""
    ...

def objects(reader: Reader | str, /) -> dict[str, Any]:
    """libtt's object analysis of a recording, read through the Reader (a
    path is opened as one) (see Trace.objects)."""
    ...

def destroy_gaps() -> dict[str, Any]:
    """Runs --objects' start-up self-test for missing DESTROY events:
    eval_loop, trashcan (bools), the float and list counts it saw, ms.
    Raises RuntimeError where --objects is refused."""
    ...

def start(
    path: str,
    *,
    calls: bool = ...,
    lines: bool = ...,
    opcodes: bool = ...,
    main_only: bool = ...,
    include: Sequence[str] | None = ...,
    exclude: Sequence[str] | None = ...,
    stdlib_dirs: Sequence[str] | None = ...,
    own_dirs: Sequence[str] | None = ...,
    stdlib: bool = ...,
    objects: int = ...,
    argv: Sequence[str] | None = ...,
    options_text: str | None = ...,
    opnames: Sequence[str] | None = ...,
    thread_names: Mapping[int, str] | None = ...,
    python_version: str | None = ...,
    python_build: str | None = ...,
    count: bool = ...,
    flush_interval: float = ...,
    c_calls: bool = ...,
    third_party_dirs: Sequence[str] | None = ...,
    arcs: bool = ...,
    notes: Sequence[tuple[str, str]] | None = ...,
    alloc_depth: int = ...,
) -> None: ...
def stop(thread_names: Mapping[int, str] | None = ...) -> dict[str, Any]: ...
def is_recording() -> bool: ...
def context(name: str, /) -> bool:
    """Marks the start of context `name` in the active recording (FORMAT.md
    §17); False when nothing is recorded."""
def contexts(reader: Reader, /) -> list[tuple[str, int, int]]:
    """(name, tick, ident) of each context; index 0 is ("", 0, 0)."""
def line_contexts(reader: Reader, /) -> list[tuple[str, int, int]]:
    """(filename, line, context index), each once."""
def context_spans(reader: Reader, name: str, prefix: bool = False, /
                  ) -> list[tuple[int, int]]:
    """The [lo, hi) tick spans of the contexts named `name` (or starting
    with it)."""
# view(path, raw_lines, raw_hits, arcs) -> None (leave the file out), True
# (keep it as recorded) or (lines, hits, [(line, to, taken[, ignored])]).
CoverageView = Callable[[str, list[int], list[int], list[tuple[int, int, int]]], Any]

def coverage_data(
    readers: Sequence[Reader | str],
    *,
    view: CoverageView | None = ...,
    sources: Sequence[str] | None = ...,
    arcs: bool = ...,
    branch: bool = ...,
) -> tuple[dict[str, Any], list[str]]: ...
def coverage_export(
    readers: Sequence[Reader | str],
    format: str,
    out: str | None = ...,
    *,
    show_missing: bool = ...,
    root: str | None = ...,
    test_name: str | None = ...,
    version: str | None = ...,
    timestamp_ms: int = ...,
    view: CoverageView | None = ...,
    sources: Sequence[str] | None = ...,
    arcs: bool = ...,
    branch: bool = ...,
) -> tuple[str | None, list[str], dict[str, Any]]: ...
def coverage_annotate(
    readers: Sequence[Reader | str],
    targets: dict[str, str] | Callable[[list[str]], dict[str, str]],
    /,
) -> tuple[list[tuple[str, str]], list[str]]: ...
def detach_thread() -> None: ...
def attach_thread() -> None: ...
def clock_info() -> dict[str, Any]: ...
def kind_names() -> tuple[str, ...]: ...

OPTION_NAMES: dict[int, str]
NO_CODE: int
CODE_CFUNCTION: int
def _after_fork_child() -> None: ...
def _arm_sigterm() -> None: ...
def _notes(notes: Sequence[tuple[str, str]]) -> None: ...

# sys.settrace while recording: the real one, then tracetap's hook goes
# back on the thread when another tracer is removed with None.
def _settrace(function: object, /) -> None: ...
def _noop_trace(*args: Any) -> None: ...
def _code_lines(code: CodeType, /) -> list[tuple[int, int, int | None]]: ...

def crc32c(data: bytes, /) -> int:
    """The CRC-32C of data: the hash of Reader.sources()."""
