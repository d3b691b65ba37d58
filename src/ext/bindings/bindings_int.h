/* bindings_int.h - the helpers the bindings share among themselves: one
 * way to open a recording (a Reader, lent cursors), the progress callback,
 * the text and file-name conversions of what a recording holds.
 *
 * Must not: be included outside bindings/. GIL: held.
 */
#ifndef TTX_BINDINGS_INT_H
#define TTX_BINDINGS_INT_H

#include "bindings.h"

/* The call analysis of arg (a Reader, or a path opened as one) with
 * progress shown: 0 and *reader (a new reference), *r (lent by it) and *c,
 * all released by capture_calls_close(*reader, *r, *c); or -1 with an
 * exception set and the three NULL. */
int capture_calls_open(PyObject *module, PyObject *arg, PyObject **reader,
                       tt_reader_t **r, tt_calls_t **c);
void capture_calls_close(PyObject *reader, tt_reader_t *r, tt_calls_t *c);

/* progress.c: r's long reads check for Ctrl-C and report to the callable
 * of _tracetap.set_progress(fn) as fn(path, done, total); `path` (borrowed)
 * must outlive the read. A read stopped that way ends in TT_ECANCELED with
 * the Python exception set (capture_raise_tt keeps it). */
void capture_progress_attach(tt_reader_t *r, PyObject *path);

/* reader.c */

/* A string from a recording as a str: UTF-8, each byte that is not valid
 * UTF-8 replaced by U+FFFD, as every reader output shows it;
 * None for NULL. New reference, or NULL + exception. */
PyObject *capture_text(const char *s);

/* The one way the analyses open a recording: a Reader. Returns a new
 * reference to `item` if it is a Reader, else a new Reader(item) (a path),
 * or NULL + OSError/TraceError. */
PyObject *capture_reader_get(PyObject *module, PyObject *item);
/* Lends a cursor over the Reader `obj`'s open file for one analysis: the
 * Reader's own tt_reader when no iterator uses it, else a new one over the
 * same descriptor. 0 and *out, or -1 + exception (TypeError for a
 * non-Reader, ValueError for a closed one, TraceError if the file changed
 * since it was opened). The cursor's position is unspecified: analyses
 * rewind. Give it back (its progress callback is removed) with
 * capture_reader_give_back(obj, *out) while obj is still referenced. */
int capture_reader_lend(PyObject *module, PyObject *obj, tt_reader_t **out);
void capture_reader_give_back(PyObject *obj, tt_reader_t *r);
/* The Reader's path as given (borrowed str). */
PyObject *capture_reader_path(PyObject *obj);

/* reader.c: a recorded file name or argument as os.fsdecode gives it
 * (undecodable bytes as lone surrogates, so os.fsencode gives the bytes
 * back); None for NULL. New reference, or NULL + exception. */
PyObject *capture_decode_fs(const char *s);

#endif /* TTX_BINDINGS_INT_H */
