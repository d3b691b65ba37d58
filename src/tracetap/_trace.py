"""Reading recordings: ``tracetap.load(path) -> Trace``.

Owns the presentation of the extension's Reader as Python objects (Event,
the info and status dicts). A Trace holds one Reader (one open file):
its events, its info and the analyses all read that file, through it.
Decoding and validation happen in C (libtt); this module only names things.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, NamedTuple, Self

from . import _tracetap

__all__ = ["Event", "Trace", "TraceError", "load"]

TraceError = _tracetap.TraceError

_KINDS = _tracetap.kind_names()  # number -> "call", "line", ...
_EV_OPCODE = _KINDS.index("opcode")
_EV_EXCEPTION = _KINDS.index("exception")
_EV_DROPPED = _KINDS.index("dropped")
_EV_OBJ_CREATE = _KINDS.index("obj_create")
_EV_OBJ_DESTROY = _KINDS.index("obj_destroy")
_NO_CODE = _tracetap.NO_CODE  # an OBJ_CREATE with no Python frame (TT_NO_CODE)

# Header option bits (tt.h TT_OPT_*) -> the names `info` shows.
OPTION_NAMES: dict[int, str] = _tracetap.OPTION_NAMES
_OPT_MARKS = 0x100  # tt.h TT_OPT_MARKS: resumptions and yields are marked
_CODE_CFUNCTION = _tracetap.CODE_CFUNCTION  # tt.h: a C function (--c-calls)
# A C function's CALL/RETURN/EXCEPTION, named as sys.setprofile names them.
_C_KINDS = {"call": "c_call", "return": "c_return", "exception": "c_exception"}


class Event(NamedTuple):
    """One recorded event.

    ``thread`` numbers threads in order of their first event (the main
    thread, which runs ``<module>``, is 0). ``kind`` is ``call``, ``line``,
    ``return``, ``exception``, ``opcode`` or ``dropped`` (``count`` events
    of that thread were lost there). ``file`` is absolute (pseudo files such
    as ``<string>`` stay as they are), ``line`` is what ``frame.f_lineno``
    showed (None when the interpreter had none), ``func`` the qualname and
    ``t_ns`` nanoseconds since the recording started. Opcode events carry
    the byte ``offset`` and the ``opcode`` name; exception events the
    ``exception`` type name. A ``call`` whose ``resume`` is True resumes
    a suspended generator, coroutine or async generator rather than
    starting it, and a ``return`` whose ``yields`` is True suspends it
    (``yield``, ``await``) rather than ending it; ``kind`` stays ``call``
    and ``return``, as ``sys.settrace`` names them (JSON: ``"resume":
    true``, ``"yield": true``). The capture marks both exactly
    (``Trace.marked``); in recordings made before it did, ``resume``
    follows the line rule of docs/calls.md and ``yields`` is never set.

    Recordings made with ``--objects`` also hold ``obj_create`` events (the
    object's ``type`` name, its ``addr`` and ``size`` (the type's basic
    size); ``file``, ``line`` and ``func`` are the creation site, None when
    no traced Python code was running) and ``obj_destroy`` events (``addr``
    only). A destroy may name an object made before the recording started:
    ``Trace.objects()`` pairs them up.

    Recordings made with ``--c-calls`` also hold ``c_call``, ``c_return``
    and ``c_exception`` events (``sys.setprofile``'s names): ``func`` is
    the C function's qualified name (``builtins.sorted``, ``list.sort``),
    ``file`` is ``"<built-in>"`` and ``line`` the calling frame's line.
    A ``c_exception`` ends the call (no ``c_return`` follows); its
    ``exception`` is None (a profile function is not shown the exception).
    """

    thread: int
    kind: str
    file: str | None
    line: int | None
    func: str | None
    t_ns: int
    offset: int | None = None
    opcode: str | None = None
    exception: str | None = None
    count: int | None = None
    type: str | None = None
    addr: int | None = None
    size: int | None = None
    resume: bool = False
    yields: bool = False

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON-ready dict (``tracetap events --json``)."""
        d: dict[str, Any] = {
            "thread": self.thread,
            "kind": self.kind,
            "file": self.file,
            "line": self.line,
            "func": self.func,
            "t_ns": self.t_ns,
        }
        if self.resume:
            d["resume"] = True
        if self.yields:
            d["yield"] = True
        if self.kind == "opcode":
            d["offset"] = self.offset
            d["opcode"] = self.opcode
        elif self.kind == "exception":
            d["exception"] = self.exception
        elif self.kind == "dropped":
            d["count"] = self.count
        elif self.kind == "obj_create":
            d["type"] = self.type
            d["addr"] = self.addr
            d["size"] = self.size
        elif self.kind == "obj_destroy":
            d["addr"] = self.addr
        return d


# Notes that say why events were lost, in the order they are named.
LOSS_NOTES = ("write_error", "out_of_memory", "writer_errors")


class Trace:
    """A recording opened for reading. Use :func:`load`.

    The file stays open until :meth:`close`: events, info and the analyses
    all read the file as it was opened, even if its path is then replaced
    or removed."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self._reader = _tracetap.Reader(self.path)
        self._last_iter: Any = None
        self._codes: dict[int, tuple[str | None, str | None, bool]] = {}
        self._strings: dict[int, str] = {}
        self._types: dict[int, str] = {}
        self._opnames: list[str | None] | None = None

    def _code(self, cid: int) -> tuple[str | None, str | None, bool]:
        """(file, qualname, is a C function) of a code id."""
        try:
            return self._codes[cid]
        except KeyError:
            pass
        try:
            file, func, _line, flags = self._reader.code(cid)[:4]
            cfunc = bool(flags & _CODE_CFUNCTION)
        except IndexError:
            file, func, cfunc = None, None, False
        self._codes[cid] = (file, func, cfunc)
        return file, func, cfunc

    def _string(self, sid: int) -> str | None:
        s = self._strings.get(sid)
        if s is None:
            try:
                s = self._reader.string(sid)
            except IndexError:
                return None
            self._strings[sid] = s
        return s

    def _opname(self, op: int) -> str:
        if self._opnames is None:
            self._opnames = self._reader.header()["opnames"]
        names = self._opnames
        name = names[op] if op < len(names) else None
        return name or f"<{op}>"

    def _type(self, tid: int) -> str | None:
        name = self._types.get(tid)
        if name is None:
            try:
                name = self._reader.type(tid)[0]
            except IndexError:
                return None
            self._types[tid] = name
        return name

    def events(self, thread: int | None = None) -> Iterator[Event]:
        """Every event in time order (or one thread's, by ordinal). If the
        file was cut or rewritten since it was opened, iterating raises
        TraceError or ends early, and :meth:`status` says what was lost."""
        it = self._reader.events(thread)
        self._last_iter = it
        return self._events(it)

    def _events(self, it: Any) -> Iterator[Event]:
        code = self._code
        kinds = _KINDS
        new = tuple.__new__
        for kind, th, t_ns, cid, line, offset, op, extra, addr, size, \
                resume, yields in it:
            if kind == _EV_DROPPED:
                yield new(Event, (th, "dropped", None, None, None, t_ns, None,
                                  None, None, extra, None, None, None, False, False))
                continue
            if kind == _EV_OBJ_DESTROY:
                yield new(Event, (th, "obj_destroy", None, None, None, t_ns,
                                  None, None, None, None, None, addr, None,
                                  False, False))
                continue
            file, func, cfunc = code(cid)
            if cfunc:
                name = kinds[kind]
                yield new(Event, (th, _C_KINDS.get(name, name), file, line,
                                  func, t_ns, None, None, None, None, None,
                                  None, None, False, False))
            elif kind == _EV_OPCODE:
                yield new(Event, (th, "opcode", file, line, func, t_ns, offset,
                                  self._opname(op), None, None, None, None,
                                  None, False, False))
            elif kind == _EV_EXCEPTION:
                yield new(Event, (th, "exception", file, line, func, t_ns,
                                  None, None, self._string(extra), None, None,
                                  None, None, False, False))
            elif kind == _EV_OBJ_CREATE:
                if cid == _NO_CODE:
                    file = func = None
                yield new(Event, (th, "obj_create", file, line, func, t_ns,
                                  None, None, None, None, self._type(extra),
                                  addr, size, False, False))
            else:
                yield new(Event, (th, kinds[kind], file, line, func, t_ns,
                                  None, None, None, None, None, None, None,
                                  resume, yields))

    def objects(self, imports: str = "apart") -> dict[str, Any]:
        """Object lifetimes (recordings made with ``--objects``):
        ``complete_deaths`` (the survivors were checked at stop and every
        one shown was verified alive),
        ``types`` (name -> created, destroyed, survived, unverified,
        died_unseen, survived_import, lifetime percentiles in ns),
        ``sites`` (by created: file, line, func, type and the same counts),
        ``survivors`` (verified alive at stop and made by the program as it
        ran, grouped by site, largest first, with ``why_alive`` where a
        referrer chain was found at stop), ``import_survivors`` (made while
        modules were being imported; ``imports="mixed"`` counts them in
        ``survivors``, ``"hide"`` leaves them out), ``paths`` (the referrer
        chains), ``unverified_survivors``, ``totals`` and ``notes`` (the
        DESTROY gaps found while recording, each saying what it affects),
        ``recording`` (:meth:`status`: how complete the file is), and
        ``bytes`` (``--bytes`` recordings, else None: ``totals`` with the
        peak, ``lines`` by innermost line with their creation ``stacks``,
        ``samples`` of live bytes over time as (ns, bytes)). Reads this
        Trace's open file."""
        from ._objects import analyze
        return analyze(self, imports)

    def calls(self) -> dict[str, Any]:
        """Where the time goes (docs/calls.md): ``functions`` (per function
        and thread, ``thread`` None for all threads together: calls,
        primitive_calls, resumes, tottime_ns, cumtime_ns, min_ns, max_ns),
        ``edges`` (caller -> callee with the same counts), ``tree`` (the
        call tree: one node per call path, parents first), ``threads``
        (per-thread traced time and what was closed without a return) and
        ``summary`` (totals, and whether the file was cut off)."""
        from ._calls import analyze
        return analyze(self)

    def lines(self) -> dict[str, Any]:
        """Per-line time (docs/lines.md): ``functions`` (per function and
        thread, ``thread`` None for all threads together: file, func, line,
        calls, hits, time_ns with callees, own_ns without them, entry_ns
        from the call to the first line, and ``lines``: line, hits,
        time_ns, own_ns), ``threads`` (per-thread traced time and what was
        closed without a return) and ``summary`` (totals, has_lines, and
        whether the file was cut off). Reads this Trace's open file."""
        from ._lines import analyze
        return analyze(self)

    @property
    def marked(self) -> bool:
        """Whether the recording marks generator and coroutine
        resumptions and suspensions exactly (``Event.resume``,
        ``Event.yields``; header option 0x100, FORMAT.md §19). Older
        recordings do not: their ``resume`` is the line rule's guess and
        their yields read as plain returns."""
        return bool(self._reader.header()["options"] & _OPT_MARKS)

    def info(self) -> dict[str, Any]:
        """What the file says about itself: header, threads, counts,
        dropped events, duration, notes, damage (status 0 when the file
        is complete) and ``status`` (see :meth:`status`)."""
        r = self._reader
        header = r.header()
        counts, dropped = r.counts()
        threads = r.threads()
        clock = r.clock()
        # The recording's length: to its last event, or to the last sync
        # point (stop writes one from the pair the run summary ends at).
        last = max((t["last_ns"] for t in threads if t["events"]), default=0)
        last = max(last, clock["sync_span_ns"])
        header.pop("opnames", None)
        header["options_set"] = [
            name for bit, name in OPTION_NAMES.items() if header["options"] & bit
        ]
        return {
            "path": self.path,
            "file_size": r.size,
            "header": header,
            "threads": threads,
            "events": counts,
            "dropped": dropped,
            "duration_ns": last,
            "notes": r.notes(),
            "clock": clock,
            "damage": r.damage(),
            "codes": r.n_codes,
            "status": self.status(),
        }

    def status(self, *, counts: bool = True) -> dict[str, Any]:
        """How complete the recording is, as every output reports it:

        - ``state``: ``"complete"``; ``"recording"`` (a writer still has
          the file open: what it has flushed so far); ``"damaged"`` (cut
          off or corrupt: its writer died, or the file was cut);
          ``"interrupted"`` (a signal ended the program and tracetap's
          handler flushed every event recorded up to it: whole, but without
          the end marker and what only stop() writes); or ``"incomplete"``
          (whole, but events were lost while recording);
        - ``being_written``: the recording is in progress;
        - ``dropped``: events lost while recording (DROPPED events and the
          END chunk's count), None with ``counts=False``, which avoids
          decoding the whole file (the damage is then what the open and
          the reading so far found);
        - ``ended_by``: the signal that ended an interrupted recording
          (the ``crash_signal`` note, e.g. "SIGTERM (terminated)"), or None;
        - ``lost_reason``: why, from the file's notes (``write_error``: the
          errno text, such as "no space left on device";
          ``out_of_memory``...), or None;
        - ``damage``: the damage report, the worse of the open file's and
          the last event iteration's (a file cut while being read).
        """
        r = self._reader
        damage = r.damage(complete=counts)
        if self._last_iter is not None:
            seen = self._last_iter.damage()
            if seen["status"] != 0 and (
                damage["status"] == 0 or seen["offset"] < damage["offset"]
            ):
                damage = seen
        dropped = r.counts()[1] if counts else None
        notes = dict(r.notes())
        reason = next(
            (f"{k}: {notes[k]}" for k in LOSS_NOTES if k in notes), None
        )
        being_written = r.being_written()
        # Whole up to its last chunk (cut at a chunk boundary, nothing
        # unreadable) and flushed by the signal handler: ended, not damaged.
        ended_by = (notes.get("crash_signal")
                    if not damage.get("bytes_lost") else None)
        if being_written:
            state = "recording"
        elif ended_by is not None and not damage["clean_end"]:
            state = "interrupted"
        elif damage["status"] != 0 or not damage["clean_end"]:
            state = "damaged"
        elif dropped or reason:
            state = "incomplete"
        else:
            state = "complete"
        return {
            "state": state,
            "being_written": being_written,
            "ended_by": ended_by,
            "dropped": dropped,
            "lost_reason": reason,
            "damage": damage,
        }

    def coverage(self) -> dict[str, Any]:
        """Line coverage: per file (absolute path) the executable lines,
        the counts of the lines that ran, the functions with their call
        counts and a summary; then totals. The data of ``tracetap coverage
        --format json``, with line numbers as ints. A --count recording and
        a full recording of the same run give the same result.
        ``recordings`` says how complete the file was (path and
        :meth:`status` fields but damage). Reads this Trace's open file."""
        from . import _coverage

        data, _warnings = _coverage.coverage_data([self])
        return data

    def report(self, out_dir: str | os.PathLike[str], **options: Any
               ) -> dict[str, Any]:
        """Writes the offline HTML report of this recording into out_dir
        (``tracetap.report``: options force, top, top_files, progress),
        read through this Trace's open file; returns where index.html is,
        the files written and the notes."""
        from ._report import report
        return report([self], out_dir, **options)

    def threads(self, *, counts: bool = True) -> list[dict[str, Any]]:
        """The recorded threads, in order of their first event (the
        ``threads`` of :meth:`info`). ``counts=False`` answers at once
        on a file of any size: names, idents and first times are exact,
        but ``events`` and ``last_ns`` count only what was read so far."""
        return self._reader.threads(complete=counts)

    def contexts(self) -> list[dict[str, Any]]:
        """The context marks (``tracetap.context``; the pytest plugin's
        tests): name, start_ns, ident; the first is the implicit ""."""
        from ._contexts import contexts

        return contexts(self)

    def select_context(self, name: str | None) -> int:
        """Limits the later analyses and ``events()`` of this Trace to the
        context `name` (a full name, or a test's node id for all its
        phases); None lifts it. Returns the number of spans (0: none)."""
        from ._contexts import select

        return select(self, name)

    def line_contexts(self) -> dict[str, dict[int, set[str]]]:
        """{file: {line: {contexts that ran it}}}, CPython's lines."""
        from ._contexts import merge_line_contexts

        return merge_line_contexts([self.path])

    def close(self) -> None:
        """Release the file."""
        self._reader.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<tracetap.Trace {self.path!r}>"


def load(path: str | os.PathLike[str]) -> Trace:
    """Open a recording. Raises OSError if it cannot be read and TraceError
    if it is not a usable tracetap recording; a damaged file that still has
    usable content opens, and ``info()["damage"]`` says what was lost."""
    return Trace(path)
