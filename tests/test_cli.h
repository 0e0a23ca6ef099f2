/* test_cli.h - running build/transtune as a child process, for the tests of
 * the `transtune` command (test_cli.c: help, usage, replay, kernel, models;
 * test_cli_run.c: run, tune, db).  The helpers are test_cli_util.c's.
 *
 * A command that crashes (dies of a signal) or hangs (killed after a timeout)
 * fails the test that ran it; a test calls have_transtune() first and returns
 * (skipped) when build/transtune is missing. */
#ifndef TT_TEST_CLI_H
#define TT_TEST_CLI_H

#include <jansson.h>

#include "test.h"

#define TRANSTUNE TT_TEST_BUILD_DIR "/transtune"
#define BAD_RECORDS "tests/data/bad-records.json"
#define MAX_ARGS 64

/* What one command did.  out and err hold its whole stdout and stderr. */
typedef struct cli_run {
    int started;            /* fork and exec worked */
    int timed_out;          /* killed after the timeout */
    int exited, code;       /* exited normally, with this status */
    int signaled, sig;      /* died of this signal */
    double secs;            /* wall time */
    char *out, *err;
} cli_run;

/* The last run; freed by the next run so that a failing CHECK leaks nothing. */
extern cli_run R;

/* Seconds on the monotonic clock. */
double now_s(void);

/* Run argv (argv[0] a path, relative to the repository root) with stdin from
 * /dev/null, stdout and stderr captured, in its own process group so that a
 * timeout kills it together with the compilers and runners it started.
 * Fills R (the previous R is freed).  Returns 0 if the command ran to its end
 * (whatever its status), -1 if it could not start or timed out. */
int run_argv(double timeout_s, char *const argv[]);

/* run_argv of build/transtune with the arguments given, NULL-terminated. */
int run_tt(double timeout_s, ...);

/* Print what the last command wrote (on a failure, to see why). */
void show_run(void);

/* 1 if build/transtune is there; else the test is skipped (the caller returns). */
int have_transtune(void);

/* Ended normally with exactly this status (not a signal, not a timeout). */
#define CHECK_EXIT(want)                                                                           \
    CHECK_MSG(R.started && R.exited && R.code == (want), "expected exit status %d", (want))

/* Ended normally with a status other than 0. */
#define CHECK_FAILED()                                                                             \
    CHECK_MSG(R.started && R.exited && R.code != 0, "expected a non-zero exit status")

/* The JSON rows of a command's stdout (--json: one object a line). */
typedef struct rows {
    int n;
    json_t *v[64];
} rows;

void rows_free(rows *r);
/* Parse text as one JSON object a line (blank lines skipped).  -1 with a
 * message on the first line that is not a JSON object. */
int rows_parse(const char *text, rows *r);
/* o's string member key, or "" if it has none. */
const char *jstr(const json_t *o, const char *key);
/* 1 if o's member key is true. */
int jtrue(const json_t *o, const char *key);
/* A number > 0 (jansson writes 1e-5 as a real, but accept integers too). */
int jpositive(const json_t *o, const char *key);

#endif
