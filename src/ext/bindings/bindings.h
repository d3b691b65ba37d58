/* bindings.h - what the bindings part offers the module's method table:
 * the Reader types and the analyses' entry points (reader.c, coverage.c,
 * objreader.c, callsreader.c, linesreader.c, timeline.c, flamegraph.c,
 * progress.c). Their shared helpers are in bindings_int.h.
 *
 * Must not: use capture/ or objects/ (a binding reads files, never the
 * recording in progress). GIL: held.
 */
#ifndef TTX_BINDINGS_H
#define TTX_BINDINGS_H

#include "core.h"

/* coverage.c: coverage_data/coverage_export/coverage_annotate */
extern PyMethodDef capture_coverage_methods[];

/* objreader.c: _tracetap.objects(reader or path) -> dict. */
PyObject *capture_objects_report(PyObject *module, PyObject *arg);
/* allocreader.c: _tracetap.allocs(reader) (--objects --bytes). */
PyObject *capture_allocs_report(PyObject *module, PyObject *arg);
/* contextreader.c: the module functions contexts, line_contexts and
 * context_spans over a Reader. */
PyObject *capture_contexts(PyObject *module, PyObject *reader);
PyObject *capture_line_contexts(PyObject *module, PyObject *reader);
PyObject *capture_context_spans(PyObject *module, PyObject *args);

/* callsreader.c: _tracetap.calls(path) -> dict. */
PyObject *capture_calls_report(PyObject *module, PyObject *path);
/* linesreader.c: _tracetap.lines(reader) -> dict. */
PyObject *capture_lines_report(PyObject *module, PyObject *arg);

/* timeline.c: _tracetap.timeline(reader, fd, format, *, lines, top_types,
 * process_name) -> stats dict. */
PyObject *capture_timeline(PyObject *module, PyObject *args, PyObject *kw);

/* flamegraph.c: _tracetap.flamegraph(reader or path, out_path, ...) ->
 * dict: the call tree as libtt's interactive SVG. */
PyObject *capture_flamegraph(PyObject *module, PyObject *args, PyObject *kw);

/* _tracetap.set_progress(fn or None) -> the previous one. */
PyObject *capture_set_progress(PyObject *module, PyObject *fn);

/* reader.c: the Reader and its event iterator (heap types made by
 * module.c from these specs). */

extern PyType_Spec capture_reader_spec;

extern PyType_Spec capture_eventiter_spec;

#endif /* TTX_BINDINGS_H */
