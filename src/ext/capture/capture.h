/* capture.h - what the capture part offers the other parts: the recording
 * (capture_rec_t, one per process) and its per-thread state, the code and
 * name tables' entries, the clock, the background-thread helper, and the
 * start/stop/settrace entry points of the method table. What only
 * capture/'s own files share is in capture_int.h.
 *
 * Owns: the layout of capture_rec_t and the inline helpers the hot path
 * needs (clock, code lookup). Must not: be included by libtt. All state
 * here is protected by the GIL; the only thread-local is capture_tls,
 * which each thread reads and writes itself.
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
#include "core.h"


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


/* Nanoseconds of CLOCK_MONOTONIC, for calibration and summaries. */
uint64_t capture_mono_ns(void);


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
    /* A generator, coroutine or async generator (FORMAT.md §19): */
    uint8_t *yields;         /* owned: per code unit, 1 where a RETURN
                                event reports a suspension (a YIELD_VALUE
                                and the unit after it, where 3.13 reports
                                it); NULL for other code or untraced */
    int start_lasti;         /* the first RESUME's offset: a CALL whose
                                frame is past it resumes the frame */
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
    uint8_t ctx_dirty;       /* --count: in rec->dirty (may have counts
                                since the last context switch) */
    uint8_t mon_local;       /* monitoring backend: its local events are
                                set (moncoverage.c) */
    /* --coverage --branch (monbranch.c), from its first branch event: */
    uint8_t *bc;             /* owned: co_code, deoptimised (2 bytes/unit) */
    uint8_t *br;             /* owned: per unit, the directions of the
                                branch there seen in this context (bit 0:
                                not taken / left, bit 1: taken / right) */
    uint8_t afor;            /* 3.12, 3.13: has an `async for` (bc loaded) */
} capture_code_t;

typedef struct {
    capture_code_t **slots;  /* owned: 1 << bits slots; entries owned */
    uint32_t bits;
    uint32_t count;
} capture_codetab_t;

static inline size_t
capture_ptr_hash(const void *p, uint32_t bits)
{
    return ttx_addr_slot((uint64_t)(uintptr_t)p, bits);
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
    uint8_t traced;              /* events of this frame are recorded */
    uint8_t raised;              /* an EXCEPTION came since its last LINE
                                    (or its CALL): a RETURN now unwinds */
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


/* A thread alive when the recording started, with its name then: what a
 * thread is named as soon as its event stream opens. */
typedef struct capture_start_name {
    uint64_t ident;
    char *name;                  /* owned (PyMem_Raw), UTF-8 */
} capture_start_name_t;

/* Which backend delivers the events (DESIGN.md §3): PyEval_SetTrace, or
 * sys.monitoring callbacks (3.12+; monitoring.c). */
#define CAPTURE_BACKEND_LEGACY 0
#define CAPTURE_BACKEND_MONITORING 1

/* The sys.monitoring backend's state (monitoring.c). Event bits are
 * indices into sys.monitoring.events (read by name: they differ between
 * versions). */
#define TTX_MON_EVENTS 24
typedef struct capture_monitoring {
    int tool;                    /* our tool id, -1 before it is taken */
    PyObject *mod;               /* owned: sys.monitoring */
    PyObject *events_ns;         /* owned: sys.monitoring.events */
    PyObject *disable;           /* owned: sys.monitoring.DISABLE */
    PyObject *missing;           /* owned: sys.monitoring.MISSING */
    PyObject *callbacks[TTX_MON_EVENTS];  /* owned: registered per bit */
    uint32_t events;             /* the global events we set */
} capture_monitoring_t;

typedef struct capture_rec {
    tt_writer_t *w;              /* owned */
    int backend;                 /* CAPTURE_BACKEND_*; fixed at start */
    capture_monitoring_t *mon;   /* owned: monitoring backend, else NULL */
    uint64_t gen;                /* == capture_gen while active */
    int calls, lines, opcodes;   /* what to record */
    int opcode_flag_lower;       /* 3.12: stop() lowers the interpreter's
                                    opcode mark (opcode_flag.c) */
    int count;                   /* --count: line counts, no event log */
    int count_arcs;              /* --count --branch: arc counts too */
    int coverage;                /* --coverage: hits only (moncoverage.c),
                                    with count set: the --count arrays */
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
    /* --count (countmode.c): the codes that may have counts since the last
     * context switch (entered since, or on a stack then), so a switch
     * (context.c) writes and clears only those */
    capture_code_t **dirty;      /* owned array; entries borrowed */
    uint32_t n_dirty, cap_dirty;
    uint32_t n_contexts;         /* context marks written (context.c) */
} capture_rec_t;

/* The active recording, or NULL. Protected by the GIL. */
extern capture_rec_t *capture_rec;
/* Bumped at every start and stop so that stale thread-locals are noticed.
 * Protected by the GIL. */
extern uint64_t capture_gen;

/* ------------------------------------------------------------ functions */


/* codetable.c */
/* Registers `code` (and the code objects nested in its co_consts) on first
 * sight. Returns the entry, or NULL if memory ran out (counted). Never
 * leaves an exception set. `caller_traced`: whether the code calling it is
 * traced (1 when unknown); code from a pseudo file takes that decision. */
capture_code_t *capture_code_register(capture_rec_t *rec, PyObject *code,
                                      int caller_traced);


/* The one name a type goes by in a recording, for exception events and
 * object events alike: "module.QualName" as f"{t.__module__}.
 * {t.__qualname__}" gives it, or "QualName" when the module is builtins.
 * Written NUL-terminated into buf (truncated to cap - 1 bytes, cap > 0);
 * returns the length written. Reads only type fields and, for heap types,
 * the type's own dict through the interned key s_module ("__module__");
 * creates no Python object and leaves no exception (the caller saves the
 * one in flight around it). */
size_t capture_type_name(PyTypeObject *tp, PyObject *s_module, char *buf,
                         size_t cap);
/* capture_str_get + capture_str_define. */
int capture_string_id(capture_rec_t *rec, const char *s, size_t len,
                      uint32_t *id);


/* threads.c */
/* The calling thread's state for the active recording, created on first
 * use. Returns NULL (and removes the stale hook) when nothing records, or
 * when memory runs out (counted). Never raises. */
capture_thread_t *capture_thread_attach(void);
/* Opens the thread's event stream. 0, or -1 (counted; no exception). */
int capture_thread_open(capture_rec_t *rec, capture_thread_t *t);

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


/* session.c: the module-level start/stop/is_recording functions. */
PyObject *capture_start(PyObject *module, PyObject *args, PyObject *kw);
PyObject *capture_stop(PyObject *module, PyObject *args, PyObject *kw);
PyObject *capture_is_recording(PyObject *module, PyObject *unused);
PyObject *capture_after_fork_child(PyObject *module, PyObject *unused);
PyObject *capture_arm_sigterm(PyObject *module, PyObject *unused);
PyObject *capture_add_notes(PyObject *module, PyObject *notes);
/* context.c: tracetap.context(name), the module function. */
PyObject *capture_context(PyObject *module, PyObject *name);
PyObject *capture_debug_code_lines(PyObject *module, PyObject *code);

/* clock.c: clock_info() for the benchmark notes and the tests. */
PyObject *capture_clock_info(PyObject *module, PyObject *unused);

/* _tracetap._settrace(function): sys.settrace(function), and then, when
 * the function is None and the recording covers this thread, our hook goes
 * back on it with its shadow stack resynchronised. */
PyObject *capture_settrace(PyObject *module, PyObject *fn);
/* The type of the object we install as c_traceobj; calling it installs the
 * hook on the calling thread (threading.settrace, sys.settrace(gettrace())).
 */
extern PyType_Spec capture_hook_spec;
/* _tracetap.detach_thread()/attach_thread(): stop and resume tracing the
 * calling thread while the recording goes on elsewhere. On the monitoring
 * backend they only set t->detached (no hook is ever put on a thread);
 * --coverage, which keeps no thread state, ignores it. */
PyObject *capture_detach_thread(PyObject *module, PyObject *unused);
PyObject *capture_attach_thread(PyObject *module, PyObject *unused);



#endif /* TTX_CAPTURE_H */
