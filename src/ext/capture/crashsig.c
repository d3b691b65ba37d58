/* crashsig.c - the crash handlers: on SIGSEGV, SIGBUS, SIGFPE, SIGILL and
 * SIGABRT (and SIGTERM where armed: a followed child process, whose
 * Pool.terminate() must neither lose its events nor wait on a Python-level
 * handler that a blocked C call never lets run) the recording's sealed
 * state goes to the file (libtt's
 * tt_writer_flush_emergency: pending definitions, a "crash_signal" note,
 * every thread's complete events), then the signal goes on exactly as it
 * would have without tracetap: the disposition found at install is put
 * back and the signal raised again (a fault simply happens again on
 * return), so the exit status, a core dump and faulthandler's traceback
 * are the untraced ones, whether faulthandler was enabled before the
 * recording (it gets the signal after us) or after it (it calls us).
 *
 * Owns: the handler, the saved dispositions, an alternate signal stack for
 * the thread that starts recording (if it has none: faulthandler's own is
 * left alone) and the arming state. Must not: allocate, lock or call
 * anything but async-signal-safe functions in the handler; flush twice;
 * flush in a forked child (getpid() is checked).
 * Threads: install/uninstall with the GIL held; the handler on any thread,
 * without the GIL, once per process (the arming state is a CAS).
 */
#include "capture_int.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const struct {
    int sig;
    const char *name;
} crash_sigs[] = {
    {SIGSEGV, "SIGSEGV (segmentation fault)"},
    {SIGBUS, "SIGBUS (bus error)"},
    {SIGFPE, "SIGFPE (arithmetic error)"},
    {SIGILL, "SIGILL (illegal instruction)"},
    {SIGABRT, "SIGABRT (abort)"},
    /* last: armed only on request (capture_crashsig_arm_term) */
    {SIGTERM, "SIGTERM (terminated)"},
};
#define N_CRASH ((int)(sizeof crash_sigs / sizeof crash_sigs[0]))
#define TERM_SLOT (N_CRASH - 1)

enum { IDLE, ARMED, FLUSHING };

static struct sigaction crash_old[N_CRASH];  /* GIL to write; the handler
                                                reads (kept after uninstall:
                                                a handler installed over ours
                                                may still call it) */
static int crash_mine[N_CRASH];         /* GIL: ours is installed */
static tt_writer_t *crash_writer;       /* published before ARMED */
static pid_t crash_pid;
static int crash_state = IDLE;          /* atomic */
static int crash_installed;             /* GIL */
static int crash_passes;                /* atomic: signals passed on */
/* The alternate stack (a stack overflow runs the handler there); static:
 * faulthandler may reinstate a stack it found, so it is never freed. */
static char crash_stack[64 * 1024] __attribute__((aligned(16)));
static int crash_stack_mine;            /* GIL */

static void
crash_handler(int sig, siginfo_t *info, void *uc)
{
    int saved_errno = errno, i, state = ARMED;
    /* raise(), kill() and abort() (si_code <= 0) do not happen again by
     * themselves when the handler returns; a fault does. */
    int sent = info == NULL || info->si_code <= 0;
    (void)uc;

    for (i = 0; i < N_CRASH && crash_sigs[i].sig != sig; i++)
        ;
    if (i == N_CRASH)
        return;
    if (sent && crash_old[i].sa_handler == SIG_IGN) {
        errno = saved_errno;            /* ignored, as without tracetap */
        return;
    }
    if (getpid() == crash_pid &&
        __atomic_compare_exchange_n(&crash_state, &state, FLUSHING, 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        int rc = tt_writer_flush_emergency(crash_writer, "crash_signal",
                                           crash_sigs[i].name);
        /* The writer may be busy on another thread for a moment (the
         * periodic flush, a full buffer being written: a program that
         * appends fast is often there when a thread without the GIL
         * faults). Try again, for up to half a second for SIGTERM (sent,
         * not a fault) and a tenth for a fault; a call under way on this
         * very thread never ends, and the file then ends at its last
         * flush, as a kill leaves it. */
        int tries = i == TERM_SLOT ? 500 : 100;
        for (int n = 0; rc == TT_ESTATE && n < tries; n++) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
            rc = tt_writer_flush_emergency(crash_writer, "crash_signal",
                                           crash_sigs[i].name);
        }
        __atomic_store_n(&crash_state, IDLE, __ATOMIC_RELEASE);
    } else {
        /* Another thread crashed first and is writing (or this handler
         * faulted within itself: then FLUSHING never clears; bounded). */
        struct timespec ms = {0, 1000000};
        int n;
        for (n = 0; n < 2000 && __atomic_load_n(&crash_state,
                                                __ATOMIC_ACQUIRE) == FLUSHING;
             n++)
            nanosleep(&ms, NULL);
    }
    /* On as it would have gone: the old disposition, and the signal again
     * (blocked until we return; SIG_IGN for a fault: the default). Two
     * handlers that each hand the signal to the other (faulthandler enabled
     * during one recording and ours installed over it by the next) would
     * pass it back and forth: once ours has passed it on (and so is no
     * longer installed), a signal that comes back is given the default. */
    if (crash_old[i].sa_handler == SIG_IGN ||
        __atomic_add_fetch(&crash_passes, 1, __ATOMIC_RELAXED) > 1) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(sig, &dfl, NULL);
    } else {
        sigaction(sig, &crash_old[i], NULL);
    }
    if (sent)
        raise(sig);
    errno = saved_errno;
}

static int
is_ours(const struct sigaction *sa)
{
    return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == crash_handler;
}

int
capture_crashsig_install(tt_writer_t *w)
{
    struct sigaction sa;
    stack_t ss;
    int i;

    if (crash_installed)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = crash_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    crash_writer = w;
    crash_pid = getpid();
    crash_passes = 0;
    __atomic_store_n(&crash_state, ARMED, __ATOMIC_RELEASE);
    for (i = 0; i < TERM_SLOT; i++) {
        struct sigaction old;
        if (sigaction(crash_sigs[i].sig, NULL, &old) < 0 || is_ours(&old))
            continue;                   /* (ours already: keep its old) */
        crash_old[i] = old;
        crash_mine[i] = sigaction(crash_sigs[i].sig, &sa, NULL) == 0;
    }
    if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_DISABLE)) {
        ss.ss_sp = crash_stack;
        ss.ss_size = sizeof crash_stack;
        ss.ss_flags = 0;
        crash_stack_mine = sigaltstack(&ss, NULL) == 0;
    }
    crash_installed = 1;
    return 0;
}

int
capture_crashsig_arm_term(void)
{
    struct sigaction sa, old;

    if (!crash_installed || crash_mine[TERM_SLOT])
        return crash_installed ? 0 : -1;
    if (sigaction(SIGTERM, NULL, &old) < 0)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = crash_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    crash_old[TERM_SLOT] = old;
    crash_mine[TERM_SLOT] = sigaction(SIGTERM, &sa, NULL) == 0;
    return crash_mine[TERM_SLOT] ? 0 : -1;
}

void
capture_crashsig_uninstall(void)
{
    int i, state = ARMED;
    stack_t ss;

    if (!crash_installed)
        return;
    /* Disarm; a handler writing on another thread is let finish (the
     * process is dying of it) before w may be closed. */
    while (!__atomic_compare_exchange_n(&crash_state, &state, IDLE, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) &&
           state == FLUSHING) {
        struct timespec ms = {0, 1000000};
        state = ARMED;
        nanosleep(&ms, NULL);
    }
    crash_writer = NULL;
    for (i = 0; i < N_CRASH; i++) {
        struct sigaction cur;
        /* Someone installed over ours (faulthandler.enable()): theirs
         * stays, and may still call ours, which then only passes on. */
        if (crash_mine[i] && sigaction(crash_sigs[i].sig, NULL, &cur) == 0 &&
            is_ours(&cur))
            sigaction(crash_sigs[i].sig, &crash_old[i], NULL);
        crash_mine[i] = 0;
    }
    if (crash_stack_mine && sigaltstack(NULL, &ss) == 0 &&
        ss.ss_sp == (void *)crash_stack && !(ss.ss_flags & SS_ONSTACK)) {
        ss.ss_flags = SS_DISABLE;
        (void)sigaltstack(&ss, NULL);
    }
    crash_stack_mine = 0;
    crash_installed = 0;
}
