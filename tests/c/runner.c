/* runner.c - tt_tests: runs each test of test_list.h in a forked child with
 * a timeout, libuv style, and prints one line per test and a summary line
 * "tests/c: N passed, M failed". Exit status is 1 if M > 0.
 *
 * Usage: tt_tests [-l] [-n] [-t SECONDS] [SUBSTRING...]
 *   -l  list the tests;  -n  run in-process (no fork, for debuggers);
 *   SUBSTRING  run only tests whose names contain one of them.
 * XFAIL tests must fail; one that passes counts as a failure, so a runner
 * that cannot see failures cannot pass.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tt_test.h"

typedef struct {
    const char *name;
    void (*fn)(void);
    int xfail;
} test_case;

static const test_case tests[] = {
#define TEST(name) {#name, test_##name, 0},
#define XFAIL(name) {#name, test_##name, 1},
#include "test_list.h"
#undef TEST
#undef XFAIL
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs one test in a child. Returns 1 if it passed, writes a description
 * of how it ended into what. */
static int run_forked(const test_case *t, int timeout, char *what, size_t n)
{
    int status;
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        snprintf(what, n, "fork failed");
        return 0;
    }
    if (pid == 0) {
        alarm((unsigned)timeout);
        t->fn();
        exit(0);        /* runs atexit cleanups and LeakSanitizer */
    }
    while (waitpid(pid, &status, 0) < 0)
        ;
    if (WIFEXITED(status)) {
        snprintf(what, n, "exit %d", WEXITSTATUS(status));
        return WEXITSTATUS(status) == 0;
    }
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
        snprintf(what, n, "timeout after %ds", timeout);
        return 0;
    }
    snprintf(what, n, "signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : -1);
    return 0;
}

static int selected(const char *name, int argc, char **argv, int first)
{
    if (first >= argc)
        return 1;
    for (int i = first; i < argc; i++)
        if (strstr(name, argv[i]))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    int list = 0, nofork = 0, timeout = 300, first = 1;
    int passed = 0, failed = 0;
    const size_t n_tests = sizeof tests / sizeof tests[0];

    while (first < argc && argv[first][0] == '-') {
        if (strcmp(argv[first], "-l") == 0)
            list = 1;
        else if (strcmp(argv[first], "-n") == 0)
            nofork = 1;
        else if (strcmp(argv[first], "-t") == 0 && first + 1 < argc)
            timeout = atoi(argv[++first]);
        else {
            fprintf(stderr, "usage: %s [-l] [-n] [-t SECONDS] [NAME...]\n",
                    argv[0]);
            return 2;
        }
        first++;
    }
    if (getenv("TT_TEST_TIMEOUT"))
        timeout = atoi(getenv("TT_TEST_TIMEOUT"));
    if (timeout <= 0)
        timeout = 300;

    for (size_t i = 0; i < n_tests; i++) {
        const test_case *t = &tests[i];
        char what[64] = "";
        double t0;
        int ok;

        if (!selected(t->name, argc, argv, first))
            continue;
        if (list) {
            printf("%s%s\n", t->name, t->xfail ? " (xfail)" : "");
            continue;
        }
        t0 = now();
        if (nofork) {
            t->fn();             /* a failure exits the process */
            ok = 1;
            snprintf(what, sizeof what, "exit 0");
        } else {
            ok = run_forked(t, timeout, what, sizeof what);
        }
        if (t->xfail) {
            if (!ok) {
                printf("PASS %s (xfail: failed as expected, %s) %.2fs\n",
                       t->name, what, now() - t0);
                passed++;
            } else {
                printf("FAIL %s (xfail: expected a failure, but it passed)\n",
                       t->name);
                failed++;
            }
        } else if (ok) {
            printf("PASS %s %.2fs\n", t->name, now() - t0);
            passed++;
        } else {
            printf("FAIL %s (%s) %.2fs\n", t->name, what, now() - t0);
            failed++;
        }
        fflush(stdout);
    }
    if (list)
        return 0;
    printf("tests/c: %d passed, %d failed\n", passed, failed);
    return failed > 0;
}
