/* capture.h - the extension's internal header: recording state, per-thread
 * state, the code table and the clock, shared by the extension's .c files.
 *
 * Owns: the layout of capture_rec_t (one recording per process) and the
 * inline helpers the hot path needs (clock, code lookup). Must not: be
 * included by libtt. All state here is protected by the GIL; the only
 * thread-local is capture_tls, which each thread reads and writes itself.
 */
#ifndef TTX_CAPTURE_H
#define TTX_CAPTURE_H

#include "pycompat.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>
#if defined(__x86_64__) || defined(__i386__)
#  include <x86intrin.h>
#  define TTX_HAVE_TSC 1
#else
#  define TTX_HAVE_TSC 0
#endif

#include "tt.h"

#define TTX_LIKELY(x)   TT_LIKELY(x)
#define TTX_UNLIKELY(x) TT_UNLIKELY(x)

/* ------------------------------------------------------------- the clock */

/* Which clock the hot path reads; chosen once per process by
 * capture_clock_choose(). Written with the GIL before any hook runs. */
extern int capture_clock_tsc;

static inline uint64_t
capture_clock(void)
{
#if TTX_HAVE_TSC
    if (TTX_LIKELY(capture_clock_tsc))
        return __rdtsc();
#endif
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Picks the clock (TSC when the kernel itself uses it and the CPU says it is
 * invariant, else CLOCK_MONOTONIC; TRACETAP_CLOCK=tsc|monotonic overrides)
 * and returns its name and rate through the pointers. The first call
 * calibrates the TSC for ~10 ms; later calls are free. */
void capture_clock_choose(const char **name, uint64_t *hz);

/* Nanoseconds of CLOCK_MONOTONIC, for calibration and summaries. */
uint64_t capture_mono_ns(void);

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

/* ------------------------------------------------------------ code table */

/* What the recording knows about one code object. Created at first sight
 * and kept until stop(); shadow-stack entries point here. */
typedef struct capture_code {
    PyObject *code;          /* owned: keeps the address from being reused */
    uint32_t id;             /* writer code id; valid when traced */
    uint8_t traced;          /* passed the filters and has a CODE record */
    int32_t firstlineno;
    uint32_t n_units;        /* _Py_CODEUNITs in the bytecode */
    int32_t *lines;          /* owned: line of each code unit (TT_NO_LINE
                                for none); NULL when not traced */
    uint8_t *ops;            /* owned: opcode of each code unit; NULL unless
                                traced with opcode capture on */
    /* --count (countmode.c): hits by line - count_base, and CALL events */
    uint64_t *counts;        /* owned; NULL unless counting and traced */
    int32_t count_base;
    uint32_t count_span;     /* entries in counts */
    uint64_t calls;
    /* --count --branch: arc counts, open addressing over 1 << arc_bits
     * slots (count 0: empty); -firstlineno is the entry and the exit */
    tt_cov_arc_t *arcs;      /* owned; NULL until the first arc */
    uint32_t arc_bits, n_arcs;
    uint32_t file_id;        /* writer string id of the file; when traced */
    uint8_t pseudo_file;     /* "<string>", "": coverage leaves it out */
} capture_code_t;

typedef struct {
    capture_code_t **slots;  /* owned: 1 << bits slots; entries owned */
    uint32_t bits;
    uint32_t count;
} capture_codetab_t;

static inline size_t
capture_ptr_hash(const void *p, uint32_t bits)
{
    uint64_t h = ((uint64_t)(uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> (64 - bits));
}

/* The hot lookup: the entry for `code`, or NULL if it was never seen. */
static inline capture_code_t *
capture_codetab_find(const capture_codetab_t *t, const void *code)
{
    size_t mask = ((size_t)1 << t->bits) - 1;
    size_t i = capture_ptr_hash(code, t->bits);
    for (;;) {
        capture_code_t *c = t->slots[i];
        if (c == NULL || c->code == code)
            return c;
        i = (i + 1) & mask;
    }
}

/* ------------------------------------------------------------ strings etc */

/* A string the recording has met (a file name, a qualname, a type name),
 * deduplicated by content. Owned by the names table. */
typedef struct capture_str {
    uint64_t hash;
    uint32_t len;
    uint32_t id;             /* writer string id; valid when defined */
    int8_t defined;          /* written to the file */
    int8_t traced;           /* for a file name: the filter decision, or -1 */
    int8_t identified;       /* for a file name: its SOURCE record was
                                attempted (codetable.c, once per file) */
    char s[];                /* NUL-terminated */
} capture_str_t;

typedef struct capture_type capture_type_t; /* private to names.c */

typedef struct {
    capture_str_t **slots;   /* owned: content-keyed strings */
    uint32_t bits, count;
    capture_type_t **types;  /* owned: exception type -> name string id */
    uint32_t tbits, tcount;
} capture_names_t;

/* ---------------------------------------------------------------- filters */

typedef struct {
    char **include, **exclude;   /* owned: fnmatch patterns */
    size_t n_include, n_exclude;
    char **stdlib;               /* owned: stdlib directories */
    size_t n_stdlib;
    char **own;                  /* owned: tracetap's own directories/files */
    size_t n_own;
    char **third;                /* owned: installed-package directories
                                    (site-packages, dist-packages) left out
                                    unless --third-party or --include */
    size_t n_third;
    int stdlib_traced;           /* --stdlib */
} capture_filter_t;

/* ------------------------------------------------------------- threads */

/* One entry of a thread's shadow stack: a frame whose CALL we saw. */
typedef struct {
    const void *frame;           /* identity only, never dereferenced */
    capture_code_t *code;        /* borrowed from the code table; may be
                                    NULL if registering the code failed */
    int32_t line;                /* the frame's current line */
    uint32_t traced;             /* events of this frame are recorded */
} capture_frame_t;

typedef struct capture_thread {
    capture_frame_t *top;        /* current entry; stack[0] is a sentinel */
    capture_frame_t *stack;      /* owned */
    capture_frame_t *end;        /* one past the last allocated entry */
    tt_tbuf_t *tbuf;             /* borrowed from the writer; NULL until the
                                    thread's first recorded event */
    uint64_t ident;              /* PyThread_get_thread_ident() */
    PyThreadState *tstate;       /* identity only */
    uint64_t gen;                /* the recording this state belongs to */
    int detached;                /* detach_thread() took the hook off */
    int ended;                   /* the OS thread exited: its buffer and
                                    stack are gone (capture_threads_reap) */
    PyObject *name;              /* owned str, or NULL: the name the thread
                                    had when it started (threading) */
    struct ttx_objthread *objects;   /* its --objects state, or NULL */
    /* sys.settrace() through our wrapper (install.c): how often another
     * trace function replaced our hook on this thread, and how often the
     * hook was put back when it was removed again */
    uint32_t hook_replaced, hook_resumed;
    PyObject *replaced_by;       /* owned str: the last one, or NULL */
    int hook_lost;               /* detach_thread() found the hook gone */
} capture_thread_t;

/* What each thread caches about itself; valid only when gen matches
 * capture_gen (a thread that outlives a recording holds a stale pointer). */
typedef struct {
    capture_thread_t *thread;
    uint64_t gen;
} capture_tls_t;

extern __thread capture_tls_t capture_tls
    __attribute__((tls_model("initial-exec")));

/* ------------------------------------------------------------ recording */

/* Problems the hooks met; counted, never raised, reported at stop. */
typedef struct {
    uint64_t nomem;              /* allocations that failed */
    uint64_t code_errors;        /* code objects that could not be recorded */
    uint64_t opcode_errors;      /* frames where opcode tracing failed */
    uint64_t missed_returns;     /* frames popped without their RETURN */
    /* the first distinct codes of such frames, for the note (borrowed
     * from the code table, which outlives them) */
#define TTX_MISSED_SHOWN 3
    const struct capture_code *missed_codes[TTX_MISSED_SHOWN];
    uint64_t untracked;          /* events of frames whose CALL we missed */
    uint64_t writer_errors;      /* libtt calls that failed */
} capture_problems_t;

/* threads.c: the threads of this recording that have exited since the
 * last call get their events written and their buffer and stack freed
 * (a thread's 64 KiB buffer would otherwise live until stop). Called with
 * the GIL where a new thread attaches, and at stop. */
struct capture_rec;
void capture_threads_reap(struct capture_rec *rec);

/* A thread alive when the recording started, with its name then: what a
 * thread is named as soon as its event stream opens. */
typedef struct capture_start_name {
    uint64_t ident;
    char *name;                  /* owned (PyMem_Raw), UTF-8 */
} capture_start_name_t;

typedef struct capture_rec {
    tt_writer_t *w;              /* owned */
    uint64_t gen;                /* == capture_gen while active */
    int calls, lines, opcodes;   /* what to record */
    int opcode_flag_lower;       /* 3.12: stop() lowers the interpreter's
                                    opcode mark (opcode_flag.c) */
    int count;                   /* --count: line counts, no event log */
    int count_arcs;              /* --count --branch: arc counts too */
    int main_only;               /* --threads main */
    uint64_t main_ident;         /* the thread that called start() */
    pid_t pid;                   /* the recording process (fork guard) */
    uint64_t start_tick, start_mono_ns;
    const char *clock_name;      /* static */
    uint64_t clock_hz;
    capture_filter_t filter;     /* owned */
    capture_codetab_t codes;     /* owned */
    capture_names_t names;       /* owned */
    capture_thread_t **threads;  /* owned array of owned states */
    uint32_t n_threads, cap_threads;
    uint32_t threads_ended;      /* reaped by capture_threads_reap */
    PyObject *hook;              /* owned: the c_traceobj we install */
    PyObject *thread_names;      /* owned dict: ident -> name of the threads
                                    that existed at start */
    PyObject *threading;         /* owned: the threading module */
    PyObject *settrace_orig;     /* owned: sys.settrace before we wrapped
                                    it (install.c), or NULL */
    PyObject *settrace_wrapper;  /* owned: what we put there, or NULL */
    PyObject *noop;              /* owned: f_trace for opcode frames */
    PyObject *s_f_trace;         /* owned interned names */
    PyObject *s_f_trace_opcodes;
    PyObject *s_module;
    uint64_t flush_ns;           /* the flush interval; 0: none */
    uint32_t n_start_names;      /* threads alive at start: their names */
    struct capture_start_name *start_names;   /* owned (PyMem_Raw) */
    capture_problems_t problems;
    struct capture_objects *objects;  /* owned (objsession.c): the
                                     --objects state, or NULL */
    struct capture_cfuncs *cfuncs;    /* owned (cfuncs.c): the --c-calls
                                     table, or NULL (no profile function) */
} capture_rec_t;

/* The active recording, or NULL. Protected by the GIL. */
extern capture_rec_t *capture_rec;
/* Bumped at every start and stop so that stale thread-locals are noticed.
 * Protected by the GIL. */
extern uint64_t capture_gen;

/* ------------------------------------------------------------ functions */

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
void capture_cfuncs_free(capture_rec_t *rec);    /* no-op when NULL */

/* codetable.c */
/* Registers `code` (and the code objects nested in its co_consts) on first
 * sight. Returns the entry, or NULL if memory ran out (counted). Never
 * leaves an exception set. `caller_traced`: whether the code calling it is
 * traced (1 when unknown); code from a pseudo file takes that decision. */
capture_code_t *capture_code_register(capture_rec_t *rec, PyObject *code,
                                      int caller_traced);
int capture_codetab_init(capture_codetab_t *t);      /* 0 or -1 + exc */
void capture_codetab_free(capture_codetab_t *t);     /* drops the refs */
/* Parses a code object's line table into one line per code unit. Returns
 * a PyMem_Raw array of TTX_CODE_UNITS(co) entries, or NULL (no exception). */
int32_t *capture_code_lines(PyCodeObject *co);

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
/* Gives a traced code its counts array. 0, or -1 (counted). */
int capture_counts_alloc(capture_rec_t *rec, capture_code_t *c);
/* Writes every code's counts as 0x80 chunks, and its arcs (--branch)
 * as 0x83 chunks. 0, or -1 (counted). */
int capture_counts_write(capture_rec_t *rec);
/* The coverage totals of the counts, as tt_coverage would compute them
 * from the file (files with a traced code, executable lines: the union of
 * the codes' lines >= 1 per file, pseudo files left out; covered: of those,
 * lines that ran), without reading the file: what `run --count` prints.
 * The function counts are left 0. 0, or -1 + MemoryError. */
int capture_counts_totals(capture_rec_t *rec, tt_cov_summary_t *out);

/* names.c */
int capture_names_init(capture_names_t *n);          /* 0 or -1 + exc */
void capture_names_free(capture_names_t *n);
/* The entry for s[0:len], created (not yet written) on first use. NULL when
 * memory runs out (counted). No exception. */
capture_str_t *capture_str_get(capture_rec_t *rec, const char *s, size_t len);
/* Writes the string on first use and returns its id through *id: 0, or a
 * negative TT_E* code (counted). */
int capture_str_define(capture_rec_t *rec, capture_str_t *e, uint32_t *id);
/* capture_str_get + capture_str_define. */
int capture_string_id(capture_rec_t *rec, const char *s, size_t len,
                      uint32_t *id);
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
/* reader.c: a recorded file name or argument as os.fsdecode gives it
 * (undecodable bytes as lone surrogates, so os.fsencode gives the bytes
 * back); None for NULL. New reference, or NULL + exception. */
PyObject *capture_decode_fs(const char *s);
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

/* threads.c */
/* The calling thread's state for the active recording, created on first
 * use. Returns NULL (and removes the stale hook) when nothing records, or
 * when memory runs out (counted). Never raises. */
capture_thread_t *capture_thread_attach(void);
/* Opens the thread's event stream. 0, or -1 (counted; no exception). */
int capture_thread_open(capture_rec_t *rec, capture_thread_t *t);
/* Makes room for one more shadow-stack entry. 0, or -1 (counted). */
int capture_thread_grow(capture_thread_t *t);
/* The entry of `frame` below the top: pops what is above it (missed
 * RETURNs). NULL if the frame is not on the stack. */
capture_frame_t *capture_thread_find(capture_thread_t *t, const void *frame);
void capture_threads_free(capture_rec_t *rec);

/* bgthread.c: a background OS thread that calls tick() every period_ns
 * until stopped; every signal blocked; paused around os.fork() (CPython
 * 3.12+ warns when a forking process has a second thread), gone in a
 * forked child. The struct is static storage, reused by later starts. */
typedef struct ttx_bgthread {
    /* set by the owner */
    long period_ns;
    int takes_gil;               /* tick() takes the GIL: stop releases it
                                    while waiting for the thread to end */
    void (*tick)(struct ttx_bgthread *t, uint64_t epoch);
    /* bgthread.c's (GIL) */
    pthread_t thread;
    int running, paused;
    uint64_t epoch;              /* atomic: bumped by each stop */
    struct ttx_bgthread *next;
} ttx_bgthread_t;
/* Starts the thread (no-op if running). 0, or -1 (no exception). */
int ttx_bgthread_start(ttx_bgthread_t *t);
/* Ends it and waits for it (no-op if not running). */
void ttx_bgthread_stop(ttx_bgthread_t *t);
/* For tick(): 1 once the thread of `epoch` has been asked to end. A tick
 * that took the GIL checks this before touching the recording. */
int ttx_bgthread_quitting(ttx_bgthread_t *t, uint64_t epoch);

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
void capture_crashsig_uninstall(void);

/* session.c: the module-level start/stop/is_recording functions. */
PyObject *capture_start(PyObject *module, PyObject *args, PyObject *kw);
PyObject *capture_stop(PyObject *module, PyObject *args, PyObject *kw);
PyObject *capture_is_recording(PyObject *module, PyObject *unused);
PyObject *capture_after_fork_child(PyObject *module, PyObject *unused);
PyObject *capture_debug_code_lines(PyObject *module, PyObject *code);

/* clock.c: clock_info() for the benchmark notes and the tests. */
PyObject *capture_clock_info(PyObject *module, PyObject *unused);

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
/* _tracetap._settrace(function): sys.settrace(function), and then, when
 * the function is None and the recording covers this thread, our hook goes
 * back on it with its shadow stack resynchronised. */
PyObject *capture_settrace(PyObject *module, PyObject *fn);
/* The type of the object we install as c_traceobj; calling it installs the
 * hook on the calling thread (threading.settrace, sys.settrace(gettrace())).
 */
extern PyType_Spec capture_hook_spec;
/* _tracetap.detach_thread()/attach_thread(): stop and resume tracing the
 * calling thread while the recording goes on elsewhere. */
PyObject *capture_detach_thread(PyObject *module, PyObject *unused);
PyObject *capture_attach_thread(PyObject *module, PyObject *unused);
PyObject *capture_hook_new(PyTypeObject *type);

/* coverage.c: coverage_data/coverage_export/coverage_annotate */
extern PyMethodDef capture_coverage_methods[];

/* objreader.c: _tracetap.objects(reader or path) -> dict (issue 6). */
PyObject *capture_objects_report(PyObject *module, PyObject *arg);

/* callsreader.c: _tracetap.calls(path) -> dict (issue 14). */
PyObject *capture_calls_report(PyObject *module, PyObject *path);
/* linesreader.c: _tracetap.lines(reader) -> dict (issue 14, part 2). */
PyObject *capture_lines_report(PyObject *module, PyObject *arg);

/* timeline.c: _tracetap.timeline(reader, fd, format, *, lines, top_types,
 * process_name) -> stats dict (issue 15). */
PyObject *capture_timeline(PyObject *module, PyObject *args, PyObject *kw);
/* The call analysis of arg (a Reader, or a path opened as one) with
 * progress shown: 0 and *reader (a new reference), *r (lent by it) and *c,
 * all released by capture_calls_close(*reader, *r, *c); or -1 with an
 * exception set and the three NULL. */
int capture_calls_open(PyObject *module, PyObject *arg, PyObject **reader,
                       tt_reader_t **r, tt_calls_t **c);
void capture_calls_close(PyObject *reader, tt_reader_t *r, tt_calls_t *c);

/* flamegraph.c: _tracetap.flamegraph(reader or path, out_path, ...) ->
 * dict (issue 15): the call tree as libtt's interactive SVG. */
PyObject *capture_flamegraph(PyObject *module, PyObject *args, PyObject *kw);

/* progress.c: r's long reads check for Ctrl-C and report to the callable
 * of _tracetap.set_progress(fn) as fn(path, done, total); `path` (borrowed)
 * must outlive the read. A read stopped that way ends in TT_ECANCELED with
 * the Python exception set (capture_raise_tt keeps it). */
void capture_progress_attach(tt_reader_t *r, PyObject *path);
/* _tracetap.set_progress(fn or None) -> the previous one. */
PyObject *capture_set_progress(PyObject *module, PyObject *fn);
/* objsession.c: _tracetap.destroy_gaps() -> dict (issue 6). */
PyObject *capture_objects_selftest(PyObject *module, PyObject *unused);

/* reader.c */
extern PyType_Spec capture_reader_spec;
/* A string from a recording as a str: UTF-8, each byte that is not valid
 * UTF-8 replaced by U+FFFD, as every reader output shows it (issue 13,
 * item 10); None for NULL. New reference, or NULL + exception. */
PyObject *capture_text(const char *s);
extern PyType_Spec capture_eventiter_spec;
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

/* module.c: the module state. */
typedef struct {
    PyTypeObject *hook_type;
    PyTypeObject *reader_type;
    PyTypeObject *eventiter_type;
    PyObject *trace_error;       /* tracetap._tracetap.TraceError */
} capture_state_t;

capture_state_t *capture_get_state(PyObject *module);
extern PyModuleDef capture_module_def;
/* Raises TraceError (or OSError/MemoryError) for a TT_E* code; returns
 * NULL so callers can `return capture_raise_tt(...)`. TT_ECANCELED with an
 * exception already set (a read its progress callback stopped) keeps that
 * exception. */
PyObject *capture_raise_tt(PyObject *module, int err, const char *what);

#endif /* TTX_CAPTURE_H */
