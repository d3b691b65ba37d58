/* capture_int.h - what the files of capture/ share among themselves and
 * no other part uses: the hooks, the clock's choice and sync points, the
 * code/name/filter tables' management, count mode, threads' bookkeeping,
 * the flusher, the crash handlers and installing the hook.
 *
 * Must not: be included outside capture/. GIL: held unless said.
 */
#ifndef TTX_CAPTURE_INT_H
#define TTX_CAPTURE_INT_H

#include "capture.h"

/* Picks the clock (TSC when the kernel itself uses it and the CPU says it is
 * invariant, else CLOCK_MONOTONIC; TRACETAP_CLOCK=tsc|monotonic overrides)
 * and returns its name and rate through the pointers. The first call
 * calibrates the TSC for ~10 ms; later calls are free. */
void capture_clock_choose(const char **name, uint64_t *hz);

/* A reading of the recording clock paired with CLOCK_MONOTONIC: the
 * tightest of at least 16 brackets mono-tick-mono (clock.c). */
typedef struct {
    uint64_t tick;               /* capture_clock() */
    uint64_t ns;                 /* CLOCK_MONOTONIC, the bracket's middle */
    uint64_t err_ns;             /* half the bracket's width */
} capture_clock_pair_t;
void capture_clock_pair(capture_clock_pair_t *out);

/* Writes a sync point (a fresh pair) into the recording. The tt_writer
 * result: 0, TT_EIO (counted by the writer like any failed chunk) or
 * TT_ESTATE (a crash handler has taken the writer). */
int capture_clock_sync(tt_writer_t *w);

/* threads.c: the threads of this recording that have exited since the
 * last call get their events written and their buffer and stack freed
 * (a thread's 64 KiB buffer would otherwise live until stop). Called with
 * the GIL where a new thread attaches, and at stop. */
struct capture_rec;
void capture_threads_reap(struct capture_rec *rec);

/* capture.c: the Py_tracefunc. Never raises; see the file header. */
int capture_trace(PyObject *obj, PyFrameObject *frame, int what,
                  PyObject *arg);

/* capture.c: makes the calling thread's shadow stack match its running
 * frames, as a debugger's set_trace() would see them: entries of frames
 * that returned unseen (while another tracer held the hook) are dropped,
 * and running frames without an entry (the one holding `with
 * tracetap.record()`, those below it, frames entered while the hook was
 * away) are adopted, so that the rest of their events (LINE, RETURN,
 * EXCEPTION; no CALL) are recorded, each filtered like any code; with
 * --opcodes the traced ones get their opcode events on. Called by start()
 * right after the hook is installed on this thread, and when the hook is
 * put back (install.c); a no-op unless our hook is this thread's. 0, or
 * -1 when memory ran out (counted; frames not adopted stay untracked).
 * No exception. */
int capture_adopt_frames(capture_rec_t *rec);
/* cfuncs.c: --c-calls. The Py_tracefunc installed as the profile
 * function: records C_CALL/C_RETURN/C_EXCEPTION of C functions called by a
 * recorded frame. Never raises. */
int capture_profile(PyObject *obj, PyFrameObject *frame, int what,
                    PyObject *arg);
/* Gives rec its C function table (rec->cfuncs). 0, or -1 + MemoryError. */
int capture_cfuncs_init(capture_rec_t *rec);
/* --c-calls on the monitoring backend (moncalls.c): the code id of the C
 * function a CALL / C_RETURN / C_RAISE event names, given its callable and
 * first argument (self_arg, or `missing`: sys.monitoring.MISSING), as the
 * legacy profile function records it: a builtin function, or a method
 * descriptor as bound to self_arg (nothing without one). The record is
 * written at first sight. CAPTURE_CFUNC_NONE when nothing is recorded.
 * Runs no Python code except at first sight of a method descriptor
 * (binding it); no exception leaves it. */
#define CAPTURE_CFUNC_NONE UINT32_MAX
uint32_t capture_cfunc_callable_id(capture_rec_t *rec, PyObject *callable,
                                   PyObject *self_arg, PyObject *missing);
/* The string id C_EXCEPTION events carry (the empty string: the type is
 * not known to a profile function). Valid once a C function is recorded. */
uint32_t capture_cfunc_unknown_exc(capture_rec_t *rec);
void capture_cfuncs_free(capture_rec_t *rec);    /* no-op when NULL */

int capture_codetab_init(capture_codetab_t *t);      /* 0 or -1 + exc */
void capture_codetab_free(capture_codetab_t *t);     /* drops the refs */
/* Parses a code object's line table into one line per code unit. Returns
 * a PyMem_Raw array of TTX_CODE_UNITS(co) entries, or NULL (no exception). */
int32_t *capture_code_lines(PyCodeObject *co);

/* The line of traced code c at lasti (in bytes, as PyFrame_GetLasti gives
 * it; < 0 before the first instruction, then firstlineno): the line a
 * non-LINE event is reported at, by both backends. O(1). */
static inline int32_t
capture_line_of(const capture_code_t *c, int lasti)
{
    uint32_t unit;
    if (lasti < 0)
        return c->firstlineno;
    unit = (uint32_t)lasti / 2u;
    return unit < c->n_units ? c->lines[unit] : TT_NO_LINE;
}

/* countmode.c: --count. The LINE hook's whole work in count mode. */
static inline void
capture_count_line(capture_code_t *c, int line)
{
    uint32_t i = (uint32_t)line - (uint32_t)c->count_base;
    if (TTX_LIKELY(i < c->count_span))
        c->counts[i]++;
}
/* --count --branch: one more traversal of (from, to) in c. Runs in the
 * hook: no Python object, no exception; a failed allocation is counted
 * (rec->problems.nomem) and the arc is lost. */
void capture_count_arc(capture_rec_t *rec, capture_code_t *c, int32_t from,
                       int32_t to);
/* --coverage --branch: (from, to) ran in c, count 1 however often it is
 * marked (hits only). As capture_count_arc otherwise. */
void capture_mark_arc(capture_rec_t *rec, capture_code_t *c, int32_t from,
                      int32_t to);
/* Gives a traced code its counts array. 0, or -1 (counted). */
int capture_counts_alloc(capture_rec_t *rec, capture_code_t *c);
/* Writes every code's counts as 0x80 chunks, and its arcs (--branch)
 * as 0x83 chunks. 0, or -1 (counted). */
int capture_counts_write(capture_rec_t *rec);
/* At a context switch: writes the counts and arcs gathered since the last
 * one (as capture_counts_write, for the dirty codes and those on a thread's
 * stack), then zeroes them, remembering which lines ever ran for the run
 * summary; the codes on a stack stay dirty. 0, or -1 (counted; the counts
 * are kept). */
int capture_counts_switch(capture_rec_t *rec);
/* At each periodic flush: writes and zeroes the counts and arcs gathered
 * since the last switch or flush, as capture_counts_switch does, but the
 * context goes on (its list of codes that ran stays), so that a killed
 * --count or --coverage recording keeps its counts up to the last flush.
 * 0, or -1 (counted; the counts are kept). */
int capture_counts_periodic(capture_rec_t *rec);
/* Puts c (with counts) on rec's dirty list. No exception; without memory
 * counted (its counts then go to the context in force at stop). */
void capture_counts_touch(capture_rec_t *rec, capture_code_t *c);
/* The lines of c that ran before the last context switch (a byte per
 * count slot, after the counts), or NULL. */
static inline uint8_t *
capture_counts_ran(capture_code_t *c)
{
    return c->counts ? (uint8_t *)(c->counts + c->count_span) : NULL;
}
/* The coverage totals of the counts, as tt_coverage would compute them
 * from the file (files with a traced code, executable lines: the union of
 * the codes' lines >= 1 per file, pseudo files left out; covered: of those,
 * lines that ran), without reading the file: what `run --count` prints.
 * The function counts are left 0. 0, or -1 + MemoryError. */
int capture_counts_totals(capture_rec_t *rec, tt_cov_summary_t *out);

/* install.c: the name of the live thread `key` (its ident, an int) in
 * threading._active, as a str (new reference), or NULL with no exception
 * set (not running, no name, a failed lookup). The one place thread names
 * are read from threading: the hook that notes a thread's name as it
 * starts, and stop, which names every thread. Attribute reads may run
 * Python code; never called from the event hook itself. */
PyObject *capture_thread_live_name(PyObject *threading, PyObject *key);
/* install.c: notes the calling thread's name (threading._active) in its
 * capture state, as the hook threading.settrace() installs does. Runs
 * Python code (attribute reads): the recording may have ended after it.
 * Failures are ignored; no exception. */
void capture_thread_note_name(capture_rec_t *rec, unsigned long ident);

/* moncalls.c: calls-only recording (--no-lines) on the sys.monitoring
 * backend: registers its callbacks (with --c-calls, CALL / C_RETURN /
 * C_RAISE too), adopts the calling thread's running frames and sets the
 * events. 0, or -1 + exception (RuntimeError on 3.11 or when the frame
 * layout is not the expected one). */
int capture_moncalls_install(capture_rec_t *rec);

/* names.c */
int capture_names_init(capture_names_t *n);          /* 0 or -1 + exc */
void capture_names_free(capture_names_t *n);
/* The entry for s[0:len], created (not yet written) on first use. NULL when
 * memory runs out (counted). No exception. */
capture_str_t *capture_str_get(capture_rec_t *rec, const char *s, size_t len);
/* Writes the string on first use and returns its id through *id: 0, or a
 * negative TT_E* code (counted). */
int capture_str_define(capture_rec_t *rec, capture_str_t *e, uint32_t *id);

/* The UTF-8 text of a str, or NULL (exception cleared; the caller uses a
 * placeholder). Borrowed from the str object. */
const char *capture_utf8(PyObject *s, Py_ssize_t *len);
/* A file name as os.fsencode gives it on a UTF-8 file system: UTF-8, with
 * the lone surrogates U+DC80..U+DCFF (how Python holds undecodable bytes,
 * surrogateescape) turned back into those bytes. A PyMem_Raw,
 * NUL-terminated copy the caller frees, and its length in *len; NULL if
 * memory ran out or another lone surrogate is in s. No exception; creates
 * no Python object (the hook's slow path calls it). */
char *capture_fsencode(PyObject *s, size_t *len);

/* The string id of an exception type's name ("ValueError",
 * "pkg.mod.MyError"), cached per type. Returns UINT32_MAX on failure
 * (counted). Runs no Python code; no exception leaves this function. */
uint32_t capture_exc_type_id(capture_rec_t *rec, PyObject *type);

/* filters.c */
/* Copies the patterns and prefixes (sequences of str). 0, or -1 + exc. */
int capture_filter_init(capture_filter_t *f, PyObject *include,
                        PyObject *exclude, PyObject *stdlib_dirs,
                        PyObject *own_dirs, PyObject *third_party_dirs,
                        int stdlib_traced);
void capture_filter_free(capture_filter_t *f);
/* 1 if a code object from `filename` (already absolute) is to be traced. */
int capture_filter_traced(const capture_filter_t *f, const char *filename);
/* A pseudo file name ("<string>", "<generated>"; not "<frozen ...>"):
 * such code has no file of its own to judge, so it takes the decision of
 * the code that first calls it, unless --include/--exclude name it. 1 if
 * `filename` is one whose decision is inherited. */
int capture_filter_inherits(const capture_filter_t *f, const char *filename);
/* Writes os.path.abspath(name) for a real file name, `name` itself for a
 * pseudo one ("<string>"), into a PyMem_Raw buffer the caller frees.
 * Returns NULL when out of memory. */
char *capture_filter_abspath(const char *name);

/* Makes room for one more shadow-stack entry. 0, or -1 (counted). */
int capture_thread_grow(capture_thread_t *t);
/* The entry of `frame` below the top: pops what is above it (missed
 * RETURNs). NULL if the frame is not on the stack. */
capture_frame_t *capture_thread_find(capture_thread_t *t, const void *frame);
void capture_threads_free(capture_rec_t *rec);

/* flusher.c: every flush interval, with the GIL held, capture_periodic()
 * writes what every thread has buffered. */
/* Starts the flusher for rec (none when rec->flush_ns is 0). 0, or -1
 * (no exception). */
int capture_flusher_start(struct capture_rec *rec);
/* Stops it and waits for it; the GIL is released meanwhile, so other
 * threads (a concurrent stop) may run: re-check capture_rec after. */
void capture_flusher_stop(void);
/* The periodic work of a recording, once per flush interval, with the GIL
 * held, on the flusher's thread: writes a clock sync point, then every
 * thread's buffered events and the pending definitions (thread names
 * included). Never raises; failures are counted. */
void capture_periodic(struct capture_rec *rec);

/* crashsig.c: the crash handlers (SIGSEGV, SIGBUS, SIGFPE, SIGILL,
 * SIGABRT) that write the recording's sealed state before the signal goes
 * on as it would have without tracetap. */
/* Installs them for w (GIL held). 0, or -1 with nothing changed (no
 * exception). */
int capture_crashsig_install(tt_writer_t *w);
/* Disarms them (waiting for a crash handler busy with w to finish) and
 * restores the dispositions found at install where ours are still in
 * place. w may be closed afterwards. No-op when not installed. */
/* Adds SIGTERM to the handled signals for this recording (a followed
 * child: the emergency flush, then the disposition found here, SIG_DFL as
 * _follow sets it, kills the process). 0, or -1 (not recording, or
 * sigaction failed). GIL held. */
int capture_crashsig_arm_term(void);
void capture_crashsig_uninstall(void);

/* install.c: putting the hook on threads and taking it off again. */
/* Refuses (RuntimeError, -1) if another trace function is installed on any
 * thread the recording would cover, or on threading's start hook. */
int capture_check_free(capture_rec_t *rec);
/* Installs the hook. 0, or -1 with an exception and nothing installed. */
int capture_install(capture_rec_t *rec);
/* Removes the hook from every thread and threading's start hook; appends
 * a sentence to `warnings` (a list) for each problem found. The recording
 * must already be detached (capture_rec == NULL). 0, or -1 + exc. */
int capture_uninstall(capture_rec_t *rec, PyObject *warnings,
                      PyObject *foreign);
/* Finds the threads whose hook is not ours any more, before detaching:
 * appends (ident, description) to `foreign`. 0, or -1 + exc. */
int capture_survey(capture_rec_t *rec, PyObject *foreign);
/* Puts _tracetap._settrace in place of sys.settrace for the recording
 * (so a tracer that replaces our hook and later removes it is noticed and
 * the hook put back), or takes it away again if it is still ours. Never
 * fail: a problem leaves sys.settrace alone (no exception). */
void capture_settrace_wrap(capture_rec_t *rec, PyObject *module);
void capture_settrace_unwrap(capture_rec_t *rec);

PyObject *capture_hook_new(PyTypeObject *type);

/* monitoring.c: the sys.monitoring backend's plumbing (3.12+). On 3.11
 * every int function fails with RuntimeError ("needs CPython 3.12"). GIL
 * held; none may be called from a monitoring callback unless said. */
/* Takes a tool id for "tracetap" (4, else 3), fills rec->mon, and
 * re-arms every DISABLEd location (restart_events: an earlier recording's
 * DISABLE on the same id would otherwise hide them). 0, or -1 + exception
 * (RuntimeError naming who holds both ids) with rec->mon NULL. */
int capture_monitoring_begin(capture_rec_t *rec);
/* The bit index of sys.monitoring.events.<name> ("LINE", "BRANCH_LEFT")
 * on this interpreter, or -1 + exception (no such event). */
int capture_monitoring_event(capture_rec_t *rec, const char *name);
/* Registers def (METH_FASTCALL, self NULL; CPython calls it by vectorcall
 * with the event's arguments) as our callback for the event `event_bit`.
 * The function object is kept in rec->mon until end. 0, or -1 + exc. */
int capture_monitoring_register(capture_rec_t *rec, int event_bit,
                                PyMethodDef *def);
/* Sets our global events (a mask of 1 << bit). 0, or -1 + exc. */
int capture_monitoring_set_events(capture_rec_t *rec, uint32_t events);
/* Sets our local events on one code object. 0, or -1 + exc. May be
 * called from a callback's first-sight slow path (it allocates). */
int capture_monitoring_set_local(capture_rec_t *rec, PyObject *code,
                                 uint32_t events);
/* sys.monitoring.restart_events(): every DISABLEd location fires again
 * (for every tool). 0, or -1 + exc. */
int capture_monitoring_restart(capture_rec_t *rec);
/* Sets no events, unregisters every callback, frees the tool id and
 * frees rec->mon (no-op when NULL). A program that freed or took over the
 * id, changed our global events or replaced a callback while recording
 * is reported: a NOTE in the file (monitoring_taken, monitoring_events,
 * monitoring_callback) and a sentence appended to `warnings` (a list, or
 * NULL). Never fails; leaves the exception state as it found it. */
void capture_monitoring_end(capture_rec_t *rec, PyObject *warnings);
/* Our tool id, or -1 when the backend is not active. */
int capture_monitoring_tool(const capture_rec_t *rec);

/* moncoverage.c: --coverage on the monitoring backend. Registers its
 * callbacks and sets its events. 0, or -1 + exc (the caller ends the
 * backend). */
int capture_moncoverage_install(capture_rec_t *rec);
/* A context switch in --coverage, before capture_counts_switch: re-arms
 * the lines (and branches, forgetting the directions seen) of the codes
 * that ran since the last switch (rec->dirty), the only ones with
 * DISABLEd events, so the next context sees them again.
 * 0, or -1 + exc (some codes stay disarmed). */
int capture_moncoverage_switch(capture_rec_t *rec);

/* monbranch.c (3.12+): the arcs of --coverage --branch. */
/* Gives c its bytecode copy (c->bc) and direction bits (c->br), once.
 * 0, or -1 (no memory or no bytecode; c is unchanged). No exception is
 * left set; runs no Python code but PyCode_GetCode. */
int capture_branch_load(capture_code_t *c);
/* The unit of the instruction after the one at unit i (inline caches
 * skipped); c->bc loaded. */
uint32_t capture_branch_next(const capture_code_t *c, uint32_t i);
/* The arc legacy --count --branch records when the branch at unit s goes
 * to unit d: *from is s's line, *to the line of the next LINE event
 * CPython fires after d (or -co_firstlineno: a return or yield first),
 * *at (unless NULL) the unit where that event fires. 1 with the arc; 0
 * when no arc is claimed (s has no line; another branch of the same
 * line, or a raise, comes first). c->bc loaded; allocates nothing. */
int capture_branch_arc(const capture_code_t *c, uint32_t s, uint32_t d,
                       int32_t *from, int32_t *to, uint32_t *at);
#if PY_VERSION_HEX < 0x030E0000
/* 3.12, 3.13 (no branch event for `async for`); c->bc loaded. Whether c
 * has an `async for` (an END_ASYNC_FOR). */
int capture_branch_has_async_for(const capture_code_t *c);
/* Whether the LINE event at unit u is the one an `async for` fires when
 * it enters its body; 1 with that arc, else 0. */
int capture_branch_async_entry(const capture_code_t *c, uint32_t u,
                               int32_t *from, int32_t *to);
/* The arc of an `async for` whose iterator ended (StopAsyncIteration
 * handled at unit h, its END_ASYNC_FOR): 1 with it, else 0. */
int capture_branch_async_exit(const capture_code_t *c, uint32_t h,
                              int32_t *from, int32_t *to);
#endif

/* bgthread.c */
/* For tick(): 1 once the thread of `epoch` has been asked to end. A tick
 * that took the GIL checks this before touching the recording. */
int ttx_bgthread_quitting(ttx_bgthread_t *t, uint64_t epoch);

#endif /* TTX_CAPTURE_INT_H */
