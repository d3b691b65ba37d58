"""tracetap: record what a CPython program does, and read it back.

    with tracetap.record("app.ttrace"):
        main()

    for ev in tracetap.load("app.ttrace").events():
        print(ev.thread, ev.kind, ev.file, ev.line, ev.func)

The command line does the same: ``tracetap run app.py`` records,
``tracetap events app.ttrace`` lists, ``tracetap info app.ttrace`` describes.
The recording itself happens in C (``tracetap._tracetap``); this package only
parses options, runs programs and presents results.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._record import NotAvailableError, RecordingError, context, record
    from ._flamegraph import export_flamegraph
    from ._report import report
    from ._trace import Event, Trace, TraceError, load


def __getattr__(name: str) -> object:
    # Everything loads on first use: `tracetap run` imports as little as
    # possible before the program, and `import tracetap` (the pytest
    # plugin's entry point) does not load the extension.
    if name in ("NotAvailableError", "RecordingError", "context", "record"):
        from . import _record

        return getattr(_record, name)
    if name in ("Event", "Trace", "TraceError", "load"):
        from . import _trace

        return getattr(_trace, name)
    if name == "export_flamegraph":
        from ._flamegraph import export_flamegraph

        return export_flamegraph
    if name == "report":
        from ._report import report

        return report
    raise AttributeError(f"module 'tracetap' has no attribute {name!r}")


__all__ = [
    "Event",
    "NotAvailableError",
    "RecordingError",
    "Trace",
    "TraceError",
    "__version__",
    "context",
    "export_flamegraph",
    "load",
    "record",
    "report",
]

__version__ = "0.1.0"
