/* test_cli.c - the `transtune` command as a user runs it: build/transtune is
 * started as a child process from the repository root (as `make test` runs
 * the tests) and judged by its exit status, its stdout (one JSON object a
 * line with --json, parsed with jansson) and its stderr.
 *
 * A command that crashes (dies of a signal) or hangs (killed after a timeout)
 * fails the test that ran it.  Every test is skipped, with a message, when
 * build/transtune is missing (`make all`).  Kept fast on purpose: --repeat 1,
 * small shapes, and the ResNet-50 log is not replayed here (too slow); the
 * whole table runs in about 30 s, mostly the 1024^3 matmul.json replay.
 *
 * tests/data/bad-records.json says what each of its records must produce in
 * a "# expect ..." comment line before it (see that file's header). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../src/db/db.h"
#include "../src/util/npy.h"
#include "test.h"

#define TRANSTUNE TT_TEST_BUILD_DIR "/transtune"
#define BAD_RECORDS "tests/data/bad-records.json"
#define MAX_ARGS 64

/* ---- running a command ---------------------------------------------------- */

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
static cli_run R;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *slurp_fd(int fd)
{
    size_t n = 0, cap = 4096;
    char *b = malloc(cap);
    if (!b)
        abort();
    lseek(fd, 0, SEEK_SET);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            b = realloc(b, cap);
            if (!b)
                abort();
        }
        ssize_t k = read(fd, b + n, cap - n - 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    b[n] = 0;
    return b;
}

/* A temporary file, already unlinked: the child writes it, we read it back. */
static int temp_fd(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tt-test-cli.XXXXXX", tt_test_tmpdir());
    int fd = mkstemp(path);
    if (fd >= 0)
        unlink(path);
    return fd;
}

/* Run argv (argv[0] a path, relative to the repository root) with stdin from
 * /dev/null, stdout and stderr captured, in its own process group so that a
 * timeout kills it together with the compilers and runners it started.
 * Fills R (the previous R is freed).  Returns 0 if the command ran to its end
 * (whatever its status), -1 if it could not start or timed out. */
static int run_argv(double timeout_s, char *const argv[])
{
    free(R.out);
    free(R.err);
    memset(&R, 0, sizeof R);
    int fo = temp_fd(), fe = temp_fd();
    if (fo < 0 || fe < 0) {
        fprintf(stderr, "    cannot create temporary files: %s\n", strerror(errno));
        if (fo >= 0)
            close(fo);
        if (fe >= 0)
            close(fe);
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "    fork: %s\n", strerror(errno));
        close(fo);
        close(fe);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0)
            dup2(in, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid); /* also here: no race with the kill below */
    int st = 0;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            fprintf(stderr, "    waitpid: %s\n", strerror(errno));
            break;
        }
        if (now_s() - t0 > timeout_s) {
            kill(-pid, SIGKILL);
            waitpid(pid, &st, 0);
            R.timed_out = 1;
            break;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    R.secs = now_s() - t0;
    R.out = slurp_fd(fo);
    R.err = slurp_fd(fe);
    close(fo);
    close(fe);
    if (R.timed_out) {
        fprintf(stderr, "    %s %s ... timed out after %.0f s\n", argv[0], argv[1] ? argv[1] : "", timeout_s);
        return -1;
    }
    R.started = 1;
    if (WIFEXITED(st)) {
        R.exited = 1;
        R.code = WEXITSTATUS(st);
        if (R.code == 127 && strstr(R.err, "exec "))
            R.started = 0;
    } else if (WIFSIGNALED(st)) {
        R.signaled = 1;
        R.sig = WTERMSIG(st);
        fprintf(stderr, "    %s died of signal %d (%s)\n", argv[0], R.sig, strsignal(R.sig));
    }
    return R.started ? 0 : -1;
}

/* run_argv of build/transtune with the arguments given, NULL-terminated. */
static int run_tt(double timeout_s, ...)
{
    char *argv[MAX_ARGS];
    int n = 0;
    argv[n++] = TRANSTUNE;
    va_list ap;
    va_start(ap, timeout_s);
    for (const char *a; n < MAX_ARGS - 1 && (a = va_arg(ap, const char *));)
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    return run_argv(timeout_s, argv);
}

/* Print what the last command wrote (on a failure, to see why). */
static void show_run(void)
{
    fprintf(stderr, "    exit %s%d after %.1f s\n    stdout: %.2000s\n    stderr: %.2000s\n",
            R.signaled ? "signal " : "", R.signaled ? R.sig : R.code, R.secs, R.out ? R.out : "",
            R.err ? R.err : "");
}

/* 1 if build/transtune is there; else the test is skipped (the caller returns). */
static int have_transtune(void)
{
    if (access(TRANSTUNE, X_OK) == 0)
        return 1;
    tt_test_skip("%s is missing (run `make all` in the repository root)", TRANSTUNE);
    return 0;
}

/* Ended normally with exactly this status (not a signal, not a timeout). */
#define CHECK_EXIT(want)                                                                           \
    CHECK_MSG(R.started && R.exited && R.code == (want), "expected exit status %d", (want))

/* Ended normally with a status other than 0. */
#define CHECK_FAILED()                                                                             \
    CHECK_MSG(R.started && R.exited && R.code != 0, "expected a non-zero exit status")

/* ---- JSON rows ------------------------------------------------------------ */

typedef struct rows {
    int n;
    json_t *v[64];
} rows;

static void rows_free(rows *r)
{
    for (int i = 0; i < r->n; i++)
        json_decref(r->v[i]);
    r->n = 0;
}

/* Parse text as one JSON object a line (blank lines skipped).  -1 with a
 * message on the first line that is not a JSON object. */
static int rows_parse(const char *text, rows *r)
{
    r->n = 0;
    const char *p = text;
    int lineno = 0;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        lineno++;
        if (len > 0) {
            json_error_t je;
            json_t *o = json_loadb(p, len, 0, &je);
            if (!json_is_object(o) || r->n == (int)(sizeof r->v / sizeof r->v[0])) {
                fprintf(stderr, "    stdout line %d is not a JSON object (%s): %.*s\n", lineno,
                        o ? "or too many rows" : je.text, (int)(len > 300 ? 300 : len), p);
                json_decref(o);
                rows_free(r);
                return -1;
            }
            r->v[r->n++] = o;
        }
        p += len + (e ? 1 : 0);
    }
    return 0;
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static int jtrue(const json_t *o, const char *key)
{
    return json_is_true(json_object_get(o, key));
}

/* A number > 0 (jansson writes 1e-5 as a real, but accept integers too). */
static int jpositive(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) && json_number_value(v) > 0;
}

/* ---- tests: help and usage -------------------------------------------------- */

static void test_help(void)
{
    if (!have_transtune())
        return;
    const char *forms[][2] = {{"--help", NULL}, {"help", NULL}, {"-h", NULL},
                              {"replay", "--help"}, {"kernel", "--help"}, {"kernel", "-h"}};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        CHECK(run_tt(10, forms[i][0], forms[i][1], (char *)NULL) == 0);
        CHECK_MSG(R.exited && R.code == 0, "transtune %s %s: exit %d", forms[i][0],
                  forms[i][1] ? forms[i][1] : "", R.code);
        CHECK_MSG(strstr(R.out, "usage: transtune"), "transtune %s %s printed no usage on stdout",
                  forms[i][0], forms[i][1] ? forms[i][1] : "");
    }
    CHECK(run_tt(10, "replay", "--help", (char *)NULL) == 0);
    CHECK(strstr(R.out, "transtune replay LOG"));
    CHECK(run_tt(10, "kernel", "--help", (char *)NULL) == 0);
    CHECK(strstr(R.out, "transtune kernel OP") && strstr(R.out, "conv2d"));
}

static void test_usage_errors(void)
{
    if (!have_transtune())
        return;
    CHECK(run_tt(10, (char *)NULL) == 0); /* no command */
    CHECK_FAILED();
    CHECK(strstr(R.err, "usage:"));
    CHECK(run_tt(10, "frobnicate", (char *)NULL) == 0);
    CHECK_FAILED();
    CHECK(strstr(R.err, "frobnicate"));
    CHECK(run_tt(10, "replay", (char *)NULL) == 0); /* no LOG */
    CHECK_FAILED();
    CHECK(strstr(R.err, "LOG"));
    CHECK(run_tt(10, "replay", BAD_RECORDS, "--repeat", "x", (char *)NULL) == 0);
    CHECK_FAILED();
    CHECK(strstr(R.err, "--repeat") && strstr(R.err, "'x'"));
    CHECK(run_tt(10, "replay", BAD_RECORDS, "--threads", (char *)NULL) == 0);
    CHECK_FAILED();
    CHECK(strstr(R.err, "--threads"));
    CHECK(run_tt(10, "replay", BAD_RECORDS, "--bogus", (char *)NULL) == 0);
    CHECK_FAILED();
    CHECK(strstr(R.err, "--bogus"));
    CHECK(R.out[0] == 0); /* nothing measured, nothing printed */
}

/* ---- tests: replay ---------------------------------------------------------- */

static void test_replay_missing_file(void)
{
    if (!have_transtune())
        return;
    const char *path = "tests/data/no-such-log.json";
    CHECK(run_tt(10, "replay", (char *)path, "--json", (char *)NULL) == 0);
    CHECK_FAILED();
    CHECK_MSG(strstr(R.err, path), "the message does not name %s: %s", path, R.err);
    CHECK(R.out[0] == 0);
    /* a folder is not a log either */
    CHECK(run_tt(10, "replay", "tests/data", (char *)NULL) == 0);
    CHECK_FAILED();
    CHECK(strstr(R.err, "tests/data"));
}

/* What bad-records.json says one record line must produce. */
typedef struct expect {
    int line;               /* 1-based line of the record */
    int ok;                 /* 1: status ok and correct */
    char text[64];          /* else: a substring of "error" (any case) */
    int seen;
} expect;

/* Read the expectations of tests/data/bad-records.json: every record line
 * (not blank, not '#') must follow a "# expect ok" or "# expect error "TEXT""
 * comment.  Returns how many records, or -1 with a message. */
static int read_expectations(const char *path, expect *ex, int max)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "    cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    static char buf[1 << 16];
    int n = 0, lineno = 0, have = 0;
    expect cur = {0};
    while (fgets(buf, sizeof buf, f)) {
        lineno++;
        const char *p = buf + strspn(buf, " \t");
        if (*p == '\n' || *p == 0)
            continue;
        if (*p == '#') {
            const char *q;
            if (!strncmp(p, "# expect ok", 11)) {
                memset(&cur, 0, sizeof cur);
                cur.ok = 1;
                have = 1;
            } else if (!strncmp(p, "# expect error \"", 16) && (q = strchr(p + 16, '"'))) {
                memset(&cur, 0, sizeof cur);
                snprintf(cur.text, sizeof cur.text, "%.*s", (int)(q - (p + 16)), p + 16);
                have = 1;
            }
            continue;
        }
        if (!have || n == max) {
            fprintf(stderr, "    %s:%d: a record without a \"# expect\" line before it\n", path, lineno);
            fclose(f);
            return -1;
        }
        cur.line = lineno;
        ex[n++] = cur;
        have = 0;
    }
    fclose(f);
    return n;
}

static void test_replay_bad_records(void)
{
    if (!have_transtune())
        return;
    expect ex[32];
    int nex = read_expectations(BAD_RECORDS, ex, 32);
    CHECK(nex > 0);
    int ngood = 0;
    for (int i = 0; i < nex; i++)
        ngood += ex[i].ok;
    CHECK(ngood >= 1 && ngood < nex);

    CHECK(run_tt(120, "replay", BAD_RECORDS, "--json", "--repeat", "1", (char *)NULL) == 0);
    if (!(R.exited && R.code == 1))
        show_run();
    CHECK_EXIT(1); /* some records failed; not a crash, not a usage error */
    rows rs;
    CHECK(rows_parse(R.out, &rs) == 0);
    if (rs.n != nex)
        show_run();
    CHECK_MSG(rs.n == nex, "%d JSON rows for %d records", rs.n, nex);
    for (int i = 0; i < rs.n; i++) {
        const json_t *o = rs.v[i];
        json_int_t line = json_integer_value(json_object_get(o, "line"));
        expect *e = NULL;
        for (int k = 0; k < nex; k++)
            if (ex[k].line == line)
                e = &ex[k];
        if (!e) {
            rows_free(&rs);
            CHECK_MSG(0, "row %d has line %lld, which is not a record line", i, (long long)line);
        }
        e->seen++;
        const char *status = jstr(o, "status"), *error = jstr(o, "error");
        int good = e->ok ? !strcmp(status, "ok") && jtrue(o, "correct") && jpositive(o, "time_s") &&
                               jpositive(o, "gflops") && !json_object_get(o, "error")
                         : strcmp(status, "ok") && status[0] && !jtrue(o, "correct") &&
                               json_is_null(json_object_get(o, "time_s")) && strcasestr(error, e->text);
        if (!good) {
            char *s = json_dumps(o, JSON_COMPACT);
            fprintf(stderr, "    line %d: expected %s%s%s, got %s\n", e->line,
                    e->ok ? "ok and correct" : "an error mentioning \"", e->ok ? "" : e->text,
                    e->ok ? "" : "\"", s);
            free(s);
            rows_free(&rs);
            CHECK(good);
        }
    }
    rows_free(&rs);
    for (int k = 0; k < nex; k++)
        CHECK_MSG(ex[k].seen == 1, "line %d reported %d times", ex[k].line, ex[k].seen);
}

/* The same log as a table, without the default schedules: one "error:" line
 * per bad record and the summary line. */
static void test_replay_bad_records_table(void)
{
    if (!have_transtune())
        return;
    expect ex[32];
    int nex = read_expectations(BAD_RECORDS, ex, 32);
    CHECK(nex > 0);
    int ngood = 0;
    for (int i = 0; i < nex; i++)
        ngood += ex[i].ok;
    CHECK(run_tt(120, "replay", BAD_RECORDS, "--repeat", "1", "--no-default", (char *)NULL) == 0);
    if (!(R.exited && R.code == 1))
        show_run();
    CHECK_EXIT(1);
    char want[128];
    snprintf(want, sizeof want, "%d records: %d ok and correct, %d failed", nex, ngood, nex - ngood);
    CHECK_MSG(strstr(R.out, want), "no \"%s\" in:\n%s", want, R.out);
    int nerr = 0;
    for (const char *p = R.out; (p = strstr(p, "\n      error: ")); p++)
        nerr++;
    CHECK_MSG(nerr == nex - ngood, "%d error lines for %d bad records", nerr, nex - ngood);
    CHECK(strstr(R.out, "status") && strstr(R.out, "invalid_record") &&
          strstr(R.out, "instantiation_error"));
}

static void test_replay_matmul(void)
{
    if (!have_transtune())
        return;
    char path[1024];
    if (!tt_test_shared_file(path, sizeof path, "ansor/matmul.json"))
        return;
    CHECK(run_tt(180, "replay", path, "--json", "--repeat", "1", (char *)NULL) == 0);
    if (!(R.exited && R.code == 0))
        show_run();
    CHECK_EXIT(0);
    rows rs;
    CHECK(rows_parse(R.out, &rs) == 0);
    CHECK_MSG(rs.n == 1, "%d rows for matmul.json's one record", rs.n);
    const json_t *o = rs.v[0];
    int good = !strcmp(jstr(o, "status"), "ok") && jtrue(o, "correct") && jpositive(o, "time_s") &&
               jpositive(o, "gflops") && jpositive(o, "flops") && jpositive(o, "default_time_s") &&
               jtrue(o, "default_correct") && !strcmp(jstr(o, "class"), "matmul_add") &&
               strstr(jstr(o, "ansor_key"), "matmul_add") &&
               json_integer_value(json_object_get(o, "line")) == 2;
    /* 2 * 1024^3 flops, plus the 1024^2 adds */
    double flops = json_number_value(json_object_get(o, "flops"));
    good = good && flops >= 2.0 * 1024 * 1024 * 1024 && flops < 2.01 * 1024 * 1024 * 1024;
    if (!good)
        show_run();
    rows_free(&rs);
    CHECK(good);
}

/* ---- tests: kernel ---------------------------------------------------------- */

static void test_kernel_conv2d(void)
{
    if (!have_transtune())
        return;
    CHECK(run_tt(120, "kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "16", "--kh", "3",
                 "--epilogue", "bias,relu", "--json", "--repeat", "1", (char *)NULL) == 0);
    if (!(R.exited && R.code == 0))
        show_run();
    CHECK_EXIT(0);
    rows rs;
    CHECK(rows_parse(R.out, &rs) == 0);
    CHECK_MSG(rs.n == 1, "%d rows", rs.n);
    const json_t *o = rs.v[0];
    /* 8x8 outputs x 16 channels x (3*3*8 multiply-adds + bias + relu) */
    double flops = json_number_value(json_object_get(o, "flops"));
    int good = !strcmp(jstr(o, "status"), "ok") && jtrue(o, "correct") && jpositive(o, "time_s") &&
               jpositive(o, "gflops") && !strcmp(jstr(o, "class"), "conv2d_nhwc+add+relu") &&
               flops >= 8 * 8 * 16 * 3 * 3 * 8 * 2 && !json_object_get(o, "error");
    if (!good)
        show_run();
    rows_free(&rs);
    CHECK(good);
}

/* Grouped and depthwise (multiplier 2) conv2d under the default schedule: the
 * register tile of a reduction whose update stays scalar (the weight index
 * divides the output channel) must keep its loads and stores scalar too
 * (commit e22af3a emitted `float acc[..] = tt_vload8(..)`: compile_host_error). */
static void test_kernel_grouped_conv2d(void)
{
    if (!have_transtune())
        return;
    static const char *const cases[][16] = {
        {"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "16", "--groups", "2"},
        {"kernel", "depthwise_conv2d", "--h", "8", "--w", "8", "--ci", "8", "--multiplier", "2",
         "--epilogue", "bias,relu6"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[MAX_ARGS];
        int n = 0;
        argv[n++] = TRANSTUNE;
        for (int k = 0; cases[i][k]; k++)
            argv[n++] = (char *)cases[i][k];
        argv[n++] = "--json";
        argv[n++] = "--repeat";
        argv[n++] = "1";
        argv[n] = NULL;
        CHECK(run_argv(120, argv) == 0);
        rows rs;
        int good = R.exited && R.code == 0 && rows_parse(R.out, &rs) == 0;
        if (good) {
            good = rs.n == 1 && !strcmp(jstr(rs.v[0], "status"), "ok") && jtrue(rs.v[0], "correct");
            rows_free(&rs);
        }
        if (!good) {
            fprintf(stderr, "    case %zu (%s): expected exit 0, status ok, correct\n", i, cases[i][1]);
            show_run();
        }
        CHECK(good);
    }
}

/* Usage errors of `kernel`: a message on stderr naming the problem, status 2,
 * nothing measured. */
static void test_kernel_usage_errors(void)
{
    if (!have_transtune())
        return;
    static const struct {
        const char *args[16];
        const char *msg; /* in stderr */
    } cases[] = {
        {{"kernel", "frobnicate", "--h", "8", "--json"}, "unknown OP 'frobnicate'"},
        {{"kernel", "--h", "8", "--json"}, "missing OP"},
        {{"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--json"}, "--co"},
        {{"kernel", "dense", "--m", "4", "--n", "4", "--json"}, "--k"},
        {{"kernel", "softmax", "--json"}, "--shape"},
        {{"kernel", "conv2d", "--h", "eight", "--w", "8", "--ci", "8", "--co", "16", "--json"},
         "'eight'"},
        {{"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "-16", "--json"}, "'-16'"},
        {{"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "16x", "--json"}, "'16x'"},
        {{"kernel", "softmax", "--shape", "4,x", "--json"}, "--shape"},
        {{"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "16", "--epilogue", "gelu"},
         "unknown epilogue 'gelu'"},
        {{"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "16", "--threads", "many"},
         "--threads"},
        {{"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "16", "--kh"}, "--kh"},
        {{"kernel", "conv2d", "--h", "0", "--w", "8", "--ci", "8", "--co", "16"}, "non-positive"},
        {{"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "16", "--stride", "0"},
         "stride"},
        {{"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "16", "--groups", "3"},
         "groups"},
        {{"kernel", "conv2d", "--h", "2", "--w", "2", "--ci", "8", "--co", "16", "--kh", "5", "--pad", "0"},
         "larger"},
        {{"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "16", "--record", "{}",
          "--default"},
         "exclude"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[MAX_ARGS];
        int n = 0;
        argv[n++] = TRANSTUNE;
        for (int k = 0; cases[i].args[k]; k++)
            argv[n++] = (char *)cases[i].args[k];
        argv[n] = NULL;
        CHECK(run_argv(30, argv) == 0);
        int good = R.exited && R.code == 2 && strstr(R.err, cases[i].msg) && R.out[0] == 0;
        if (!good) {
            fprintf(stderr, "    case %zu (", i);
            for (int k = 1; k < n; k++)
                fprintf(stderr, "%s%s", k > 1 ? " " : "", argv[k]);
            fprintf(stderr, "): expected exit 2 and \"%s\" on stderr\n", cases[i].msg);
            show_run();
        }
        CHECK(good);
    }
}

/* The last record of bad-records.json: the good conv2d 1x1 7x7x2048 -> 512. */
static char *conv_record(void)
{
    FILE *f = fopen(BAD_RECORDS, "r");
    if (!f)
        return NULL;
    static char buf[1 << 16];
    char *last = NULL;
    while (fgets(buf, sizeof buf, f))
        if (buf[0] == '{') {
            free(last);
            buf[strcspn(buf, "\n")] = 0;
            last = strdup(buf);
        }
    fclose(f);
    return last;
}

/* --record: malformed JSON and a record for another shape are reported as
 * the record's status (exit 1), the workload itself still built. */
static void test_kernel_bad_record(void)
{
    if (!have_transtune())
        return;
    const char *shape[] = {"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "16",
                           "--kh", "1", "--epilogue", "bias,relu", "--json", "--no-default"};
    enum { NSHAPE = sizeof shape / sizeof shape[0] };
    char *rec = conv_record();
    CHECK(rec && strstr(rec, "6b7583cf23c7c37d3212cad9d06e58c1"));
    static const struct {
        const char *record, *status, *msg;
    } cases[] = {
        {"{\"i\": [[", "invalid_record", "malformed JSON"},
        {"{oops", "invalid_record", "malformed JSON"},
        {"", "invalid_record", ""},
        {"[]", "invalid_record", "object"},
        {NULL, "instantiation_error", "does not match"}, /* the 7x7x2048 record on 8x8x8 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[MAX_ARGS];
        int n = 0;
        argv[n++] = TRANSTUNE;
        for (int k = 0; k < NSHAPE; k++)
            argv[n++] = (char *)shape[k];
        argv[n++] = "--record";
        argv[n++] = cases[i].record ? (char *)cases[i].record : rec;
        argv[n] = NULL;
        if (run_argv(60, argv)) {
            free(rec);
            CHECK(0);
        }
        rows rs;
        int good = R.exited && R.code == 1 && rows_parse(R.out, &rs) == 0;
        if (good) {
            good = rs.n == 1 && !strcmp(jstr(rs.v[0], "status"), cases[i].status) &&
                   !jtrue(rs.v[0], "correct") && strcasestr(jstr(rs.v[0], "error"), cases[i].msg) &&
                   jstr(rs.v[0], "error")[0];
            rows_free(&rs);
        }
        if (!good) {
            fprintf(stderr, "    case %zu: expected exit 1, status %s, an error with \"%s\"\n", i,
                    cases[i].status, cases[i].msg);
            show_run();
            free(rec);
            CHECK(good);
        }
    }
    free(rec);
}

/* --record with the record's own shape: replayed, built, correct. */
static void test_kernel_record_ok(void)
{
    if (!have_transtune())
        return;
    char *rec = conv_record();
    CHECK(rec);
    int rc = run_tt(120, "kernel", "conv2d", "--h", "7", "--w", "7", "--ci", "2048", "--co", "512", "--kh",
                    "1", "--epilogue", "bias,relu", "--json", "--repeat", "1", "--no-default", "--record",
                    rec, (char *)NULL);
    free(rec);
    CHECK(rc == 0);
    if (!(R.exited && R.code == 0))
        show_run();
    CHECK_EXIT(0);
    rows rs;
    CHECK(rows_parse(R.out, &rs) == 0);
    int good = rs.n == 1 && !strcmp(jstr(rs.v[0], "status"), "ok") && jtrue(rs.v[0], "correct") &&
               jpositive(rs.v[0], "time_s") &&
               strstr(jstr(rs.v[0], "ansor_key"), "6b7583cf23c7c37d3212cad9d06e58c1");
    rows_free(&rs);
    if (!good)
        show_run();
    CHECK(good);
}

/* ---- scripts/check-avx512.sh -------------------------------------------------- */

static int have_command(const char *name)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

static void test_avx512_script(void)
{
    const char *script = "scripts/check-avx512.sh";
    /* the script is part of the repository: not executable is a failure */
    CHECK_MSG(access(script, X_OK) == 0, "%s missing or not executable", script);
    if (!have_command("gcc") || !have_command("clang") || !have_command("pkg-config"))
        SKIP("check-avx512.sh needs gcc, clang and pkg-config (scripts/install-deps.sh)");
    char *argv[] = {(char *)script, NULL};
    /* a hang guard only (about 10 s on an idle host: two -O3 compiles) */
    CHECK(run_argv(300, argv) == 0);
    if (!(R.exited && R.code == 0) || !strstr(R.out, "PASS gcc") || !strstr(R.out, "PASS clang"))
        show_run();
    CHECK_EXIT(0);
    CHECK(strstr(R.out, "PASS gcc") && strstr(R.out, "PASS clang"));
    CHECK(!strstr(R.out, "FAIL"));
}

/* ---- tests: models, kernels, run --------------------------------------------- */

static void test_models_and_kernels(void)
{
    if (!have_transtune())
        return;
    CHECK(run_tt(30, "models", (char *)NULL) == 0 && R.exited && R.code == 0);
    static const char *const zoo[] = {"resnet18", "resnet50", "alexnet", "vgg16", "mobilenet_v2",
                                      "googlenet", "mnasnet1_0", "efficientnet_b0",
                                      "efficientnet_b4", "bert_base", "mobilebert",
                                      "resnet50_tvm", "tiny", NULL};
    for (int i = 0; zoo[i]; i++)
        CHECK_MSG(strstr(R.out, zoo[i]), "models lacks %s", zoo[i]);
    CHECK(run_tt(60, "kernels", "tiny", "--json", (char *)NULL) == 0 && R.exited && R.code == 0);
    json_error_t je;
    json_t *o = json_loads(R.out, 0, &je);
    CHECK_MSG(o, "kernels --json: %s", je.text);
    json_t *ks = json_object_get(o, "kernels");
    int ok = json_is_array(ks) && json_array_size(ks) >= 5;
    for (size_t k = 0; ok && k < json_array_size(ks); k++) {
        json_t *x = json_array_get(ks, k);
        ok = json_is_string(json_object_get(x, "class_key")) &&
             json_is_string(json_object_get(x, "workload_key")) &&
             json_integer_value(json_object_get(x, "weight")) >= 1 &&
             json_is_array(json_object_get(x, "shapes"));
    }
    json_decref(o);
    CHECK(ok);
}

/* Bad models: a clear message, exit 1, no crash. */
static void test_bad_models(void)
{
    if (!have_transtune())
        return;
    static const struct {
        const char *file, *msg;
    } bad[] = {
        {"tests/data/onnx/bad-truncated.onnx", "not a valid ONNX model"},
        {"tests/data/onnx/bad-random.onnx", "not a valid ONNX model"},
        {"tests/data/onnx/bad-unknown-op.onnx", "unsupported operator 'FooBar' (node 'foo')"},
        {"tests/data/onnx/bad-missing-init.onnx", "bad-missing-init.onnx"},
        {"tests/data/onnx/bad-shapes.onnx", "inner dimensions differ"},
        {"tests/data/onnx/embed17.onnx", "unsupported operator 'Equal' (node '/Equal')"},
        {"tests/data/nonexistent.onnx", "nonexistent.onnx"},
        {"nosuchmodel", "unknown zoo model 'nosuchmodel'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(run_tt(30, "kernels", bad[i].file, (char *)NULL) == 0);
        CHECK_MSG(R.exited && R.code == 1 && strstr(R.err, bad[i].msg),
                  "kernels %s: exit %d, stderr: %s", bad[i].file, R.code, R.err);
        CHECK(run_tt(30, "run", bad[i].file, (char *)NULL) == 0);
        CHECK_MSG(R.exited && R.code == 1 && strstr(R.err, bad[i].msg),
                  "run %s: exit %d, stderr: %s", bad[i].file, R.code, R.err);
    }
    /* an input of the wrong shape, and usage errors */
    CHECK(run_tt(60, "run", "tiny", "--input", "tests/data/onnx/convnet.out.npy", (char *)NULL) == 0);
    CHECK_MSG(R.exited && R.code == 1 && strstr(R.err, "takes float32 (1, 3, 32, 32) (NCHW"), "%s",
              R.err);
    CHECK(run_tt(10, "run", (char *)NULL) == 0);
    CHECK(R.exited && R.code == 2 && strstr(R.err, "usage"));
    CHECK(run_tt(10, "run", "tiny", "--repeat", "0", (char *)NULL) == 0);
    CHECK(R.exited && R.code == 2 && strstr(R.err, "--repeat"));
    CHECK(run_tt(10, "kernels", "tiny", "--bogus", (char *)NULL) == 0);
    CHECK(R.exited && R.code == 2 && strstr(R.err, "--bogus"));
}

/* ---- tune: SIGKILL mid-batch, then resume ------------------------------------ */

static int64_t db_records(const char *path)
{
    tt_db *db = NULL;
    tt_err err = {0};
    if (access(path, F_OK) != 0 || tt_db_open(path, TT_DB_READONLY, &db, &err))
        return -1;
    tt_db_counts c;
    memset(&c, 0, sizeof c);
    int64_t n = tt_db_stats(db, &c, &err) ? -1 : c.records;
    tt_db_counts_free(&c);
    tt_db_close(db);
    return n;
}

typedef struct distinct_steps {
    int n, dup;
    char *s[64];
} distinct_steps;

static int on_steps(void *ctx, const tt_db_row *row)
{
    distinct_steps *d = ctx;
    char *j = tt_steps_write(row->rec.steps, row->rec.nsteps);
    for (int i = 0; i < d->n; i++)
        d->dup += !strcmp(d->s[i], j);
    if (d->n < 64)
        d->s[d->n++] = j;
    else
        free(j);
    return 0;
}

/* `tune-kernel` is killed with SIGKILL while it measures its third batch;
 * the database is intact and holds whole batches only; the same command
 * again resumes (says how many trials it resumed), finishes the budget, and
 * never measures a state twice. */
/* How many processes have their working directory under dir. */
static int procs_with_cwd_under(const char *dir)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    int n = 0;
    size_t len = strlen(dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char link[300], target[1024];
        snprintf(link, sizeof link, "/proc/%s/cwd", e->d_name);
        ssize_t k = readlink(link, target, sizeof target - 1);
        if (k <= 0)
            continue;
        target[k] = 0;
        n += !strncmp(target, dir, len);
    }
    closedir(d);
    return n;
}

static void test_tune_kill_resume(void)
{
    if (!have_transtune())
        return;
    char dir[256], db[300];
    const char *t = getenv("TMPDIR"); /* restored after the run below */
    snprintf(dir, sizeof dir, "%s/tt-test-tune-kill.XXXXXX", tt_test_tmpdir());
    CHECK(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/k.db", dir);
    /* the tuner's temporary folders in a TMPDIR of its own, to see what a
     * kill leaves there */
    char tmpd[320];
    snprintf(tmpd, sizeof tmpd, "%s/tmp", dir);
    CHECK(mkdir(tmpd, 0700) == 0);
    char *argv[] = {TRANSTUNE, "tune-kernel", "dense", "--m", "8", "--n", "32", "--k", "64",
                    "--db", db, "--trials", "41", "--per-round", "8", "--threads", "1",
                    "--quiet", "--json", NULL};
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        setenv("TMPDIR", tmpd, 1);
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 1);
            dup2(nul, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    setpgid(pid, pid);
    /* the default schedule (1 record) and two batches of 8 are committed:
     * the third batch is being built or run */
    double t0 = now_s();
    int64_t n = -1;
    int st = 0, exited = 0;
    while (now_s() - t0 < 240) {
        n = db_records(db);
        if (n >= 17)
            break;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            exited = 1;
            break;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!exited) {
        struct timespec ts = {0, 300 * 1000 * 1000};
        nanosleep(&ts, NULL);
        kill(-pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    CHECK_MSG(!exited && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the search ended before the kill");
    int64_t killed_at = db_records(db);
    fprintf(stderr, "    killed with %lld records committed\n", (long long)killed_at);
    CHECK(killed_at >= 17 && killed_at < 41 && (killed_at - 1) % 8 == 0);
    /* its compilers and runners die with it (they work in its folders):
     * within 0.2 s, where a compile takes longer */
    int left = -1;
    for (int i = 0; i < 20 && left != 0; i++) {
        left = procs_with_cwd_under(tmpd);
        if (left) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    CHECK_MSG(left == 0, "%d processes of the killed tuner still run in %s", left, tmpd);
    /* a folder as a tuner killed in the middle of a build leaves it (whether
     * this one was depends on the moment of the kill) */
    {
        char stale[400];
        snprintf(stale, sizeof stale, "%s/tt-eval-%ld-zzzzzz", tmpd, (long)pid);
        CHECK(mkdir(stale, 0700) == 0);
    }
    {
        tt_db *h = NULL;
        tt_err err = {0};
        CHECK_MSG(tt_db_open(db, 0, &h, &err) == 0, "%s", err.msg);
        int ok = tt_db_check(h, &err) == 0;
        tt_db_close(h);
        CHECK_MSG(ok, "%s", err.msg);
    }
    /* the same command again (in the same TMPDIR): it also removes the
     * folders the killed one left */
    setenv("TMPDIR", tmpd, 1);
    int rr = run_argv(300, argv);
    if (t && *t)
        setenv("TMPDIR", t, 1);
    else
        unsetenv("TMPDIR");
    CHECK(rr == 0);
    CHECK_EXIT(0);
    {
        char pat[64];
        snprintf(pat, sizeof pat, "-%ld-", (long)pid);
        DIR *dd = opendir(tmpd);
        int stale = 0;
        struct dirent *de;
        while (dd && (de = readdir(dd)))
            stale += !strncmp(de->d_name, "tt-", 3) && strstr(de->d_name, pat) != NULL;
        if (dd)
            closedir(dd);
        CHECK_MSG(stale == 0, "%d folders of the killed tuner left in %s", stale, tmpd);
    }
    json_error_t je;
    json_t *o = json_loads(R.out, 0, &je);
    CHECK_MSG(o, "not JSON: %s", R.out);
    int64_t resumed = json_integer_value(json_object_get(o, "resumed"));
    int64_t trials = json_integer_value(json_object_get(o, "trials"));
    int64_t run = json_integer_value(json_object_get(o, "trials_run"));
    json_decref(o);
    CHECK_MSG(resumed == killed_at && trials == 41 && run == 41 - killed_at,
              "resumed %lld, trials %lld, run %lld", (long long)resumed, (long long)trials,
              (long long)run);
    CHECK(db_records(db) == 41);
    /* no state measured twice */
    {
        tt_db *h = NULL;
        tt_err err = {0};
        CHECK_MSG(tt_db_open(db, TT_DB_READONLY, &h, &err) == 0, "%s", err.msg);
        distinct_steps ds = {0};
        int rc = tt_db_foreach_record(h, 0, NULL, NULL, on_steps, &ds, &err);
        tt_db_close(h);
        for (int i = 0; i < ds.n; i++)
            free(ds.s[i]);
        CHECK_MSG(rc == 0 && ds.n == 41 && ds.dup == 0, "%d records, %d repeated", ds.n, ds.dup);
    }
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "    could not remove %s\n", dir);
}

/* Two tuners on one database at once share the trial budget: together they
 * stop at it (each used to store its own: 2 x the budget). */
static void test_tune_two_at_once(void)
{
    if (!have_transtune())
        return;
    char dir[256], db[300];
    snprintf(dir, sizeof dir, "%s/tt-test-tune-two.XXXXXX", tt_test_tmpdir());
    CHECK(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/two.db", dir);
    char *argv[] = {TRANSTUNE, "tune-kernel", "dense", "--m", "8", "--n", "32", "--k", "64",
                    "--db", db, "--trials", "25", "--per-round", "4", "--threads", "1",
                    "--quiet", "--json", NULL};
    fflush(stdout);
    fflush(stderr);
    pid_t pid[2];
    for (int i = 0; i < 2; i++) {
        pid[i] = fork();
        CHECK(pid[i] >= 0);
        if (pid[i] == 0) {
            int nul = open("/dev/null", O_RDWR);
            if (nul >= 0) {
                dup2(nul, 0);
                dup2(nul, 1);
                dup2(nul, 2);
            }
            execv(argv[0], argv);
            _exit(127);
        }
    }
    int ok = 1;
    for (int i = 0; i < 2; i++) {
        int st = 0;
        waitpid(pid[i], &st, 0);
        ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    CHECK_MSG(ok, "a tuner failed");
    int64_t n = db_records(db);
    CHECK_MSG(n == 25, "%lld records for a budget of 25", (long long)n);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "    could not remove %s\n", dir);
}

/* run --check --json on the tiny model: the fields the issue names. */
static void test_run_check_json(void)
{
    if (!have_transtune())
        return;
    CHECK(run_tt(300, "run", "tiny", "--check", "--json", "--repeat", "3", (char *)NULL) == 0);
    CHECK_MSG(R.exited && R.code == 0, "exit %d: %s", R.code, R.err);
    json_error_t je;
    json_t *o = json_loads(R.out, 0, &je);
    CHECK_MSG(o, "run --json: %s (%s)", je.text, R.out);
    int ok = json_real_value(json_object_get(o, "latency_ms")) > 0 &&
             json_integer_value(json_object_get(o, "kernels")) >= 5 &&
             json_is_true(json_object_get(o, "check_passed")) &&
             json_is_number(json_object_get(o, "max_abs_err")) &&
             json_is_number(json_object_get(o, "max_rel_err"));
    json_decref(o);
    CHECK_MSG(ok, "%s", R.out);
}

/* run --winograd: tiny's 3x3 stride-1 conv has a Winograd twin; on runs it
 * (and the model still checks against the direct reference), off does not,
 * auto times both and runs either; a bad value is a usage error. */
static void test_run_winograd(void)
{
    if (!have_transtune())
        return;
    static const char *const modes[3] = {"on", "off", "auto"};
    for (int i = 0; i < 3; i++) {
        CHECK(run_tt(300, "run", "tiny", "--check", "--json", "--repeat", "1", "--winograd", modes[i],
                     (char *)NULL) == 0);
        CHECK_MSG(R.exited && R.code == 0, "--winograd %s: exit %d: %s", modes[i], R.code, R.err);
        json_error_t je;
        json_t *o = json_loads(R.out, 0, &je);
        CHECK_MSG(o, "%s (%s)", je.text, R.out);
        json_int_t w = json_integer_value(json_object_get(o, "winograd"));
        int ok = json_is_true(json_object_get(o, "check_passed")) &&
                 (i == 0 ? w == 1 : i == 1 ? w == 0 : (w == 0 || w == 1));
        json_decref(o);
        CHECK_MSG(ok, "--winograd %s: %s", modes[i], R.out);
    }
    CHECK(run_tt(60, "run", "tiny", "--winograd", "maybe", (char *)NULL) == 0);
    CHECK_MSG(R.exited && R.code == 2 && strstr(R.err, "--winograd"), "exit %d: %s", R.code, R.err);
}

/* run --records: the shared log's records drive resnet50_tvm's kernels (all
 * 26 workloads are kernels of it), and the output still checks. */
static void test_run_records(void)
{
    if (!have_transtune())
        return;
    char log[512];
    if (!tt_test_shared_file(log, sizeof log, "ansor/resnet-50-NHWC-B1-llvm.json"))
        return;
    CHECK(run_tt(900, "run", "resnet50_tvm", "--records", log, "--check", "--json", "--repeat",
                 "1", "--winograd", "off", "--trust-records", (char *)NULL) == 0);
    CHECK_MSG(R.exited && R.code == 0, "exit %d: %s", R.code, R.err);
    json_error_t je;
    json_t *o = json_loads(R.out, 0, &je);
    CHECK_MSG(o, "%s (%s)", je.text, R.out);
    int ok = json_integer_value(json_object_get(o, "kernels_record")) == 26 &&
             json_is_true(json_object_get(o, "check_passed")) &&
             json_real_value(json_object_get(o, "max_abs_err")) > 0; /* records reorder sums */
    json_decref(o);
    CHECK_MSG(ok, "%s", R.out);
}

/* A record slower than the default schedule where it runs (tuned on another
 * machine, say): run times both in place and keeps the default; with
 * --trust-records the record runs.  The record has no steps: the naive loop
 * nest of tiny's 3x3 conv, 4x the default's time at 1 thread here
 * (30 against 7 us). */
static void test_run_record_vs_default(void)
{
    if (!have_transtune())
        return;
    char log[512];
    snprintf(log, sizeof log, "%s/tt-test-slow-record-%d.json", tt_test_tmpdir(), (int)getpid());
    FILE *f = fopen(log, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("{\"i\": [[\"[\\\"7b1588e5d0fd364c\\\", [1, 32, 32, 3], [3, 3, 3, 16], [1, 1, 1, 16], "
          "[1, 32, 32, 16]]\", \"llvm -keys=cpu\", [8, 64, 64, 0, 0, 0, 0, 0], \"\", 0, []], [[], []]], "
          "\"r\": [[0.000001], 0, 0.1, 1600000000], \"v\": \"v0.6\"}\n", f);
    fclose(f);
    for (int trust = 0; trust < 2; trust++) {
        CHECK(run_tt(120, "run", "tiny", "--records", log, "--threads", "1", "--json", "--winograd", "off",
                     trust ? "--trust-records" : "--check", (char *)NULL) == 0);
        CHECK_MSG(R.exited && R.code == 0, "exit %d: %s", R.code, R.err);
        json_error_t je;
        json_t *o = json_loads(R.out, 0, &je);
        CHECK_MSG(o, "%s (%s)", je.text, R.out);
        json_t *rk = json_array_get(json_object_get(o, "record_kernels"), 0);
        int ok = json_integer_value(json_object_get(o, "kernels_record")) == trust &&
                 json_integer_value(json_object_get(rk, "index")) == 1 &&
                 json_is_true(json_object_get(rk, "runs")) == trust &&
                 json_is_true(json_object_get(rk, "default_faster")) == !trust &&
                 (trust || json_is_true(json_object_get(o, "check_passed")));
        if (!trust) /* both timed: the record slower */
            ok = ok && json_real_value(json_object_get(rk, "in_place_s")) >
                           json_real_value(json_object_get(rk, "default_in_place_s"));
        json_decref(o);
        CHECK_MSG(ok, "%s: %s", trust ? "--trust-records" : "timed", R.out);
    }
    remove(log);
}

/* db import of the shared log, then run --db: the records drive the kernels. */
static void test_run_db(void)
{
    if (!have_transtune())
        return;
    char log[512], db[512];
    if (!tt_test_shared_file(log, sizeof log, "ansor/resnet-50-NHWC-B1-llvm.json"))
        return;
    snprintf(db, sizeof db, "%s/tt-test-run-db-%d.db", tt_test_tmpdir(), (int)getpid());
    remove(db);
    CHECK(run_tt(120, "db", "import", log, "--db", db, (char *)NULL) == 0 && R.exited && R.code == 0);
    CHECK(run_tt(900, "run", "resnet50_tvm", "--db", db, "--check", "--json", "--repeat", "1",
                 "--winograd", "off", "--trust-records", (char *)NULL) == 0);
    char wal[520], shm[520];
    snprintf(wal, sizeof wal, "%s-wal", db);
    snprintf(shm, sizeof shm, "%s-shm", db);
    remove(db), remove(wal), remove(shm);
    CHECK_MSG(R.exited && R.code == 0, "exit %d: %s", R.code, R.err);
    json_error_t je;
    json_t *o = json_loads(R.out, 0, &je);
    CHECK_MSG(o, "%s (%s)", je.text, R.out);
    int ok = json_integer_value(json_object_get(o, "kernels_record")) == 26 &&
             json_is_true(json_object_get(o, "check_passed"));
    json_decref(o);
    CHECK_MSG(ok, "%s", R.out);
}

/* ---- the database: bad rows, check --fix, import -------------------------------- */

/* A fresh folder for a test's database files; *db gets DIR/t.db. */
static int db_dir(char *dir, size_t n, char *db, size_t m)
{
    snprintf(dir, n, "%s/tt-test-cli-db.XXXXXX", tt_test_tmpdir());
    if (!mkdtemp(dir))
        return -1;
    snprintf(db, m, "%s/t.db", dir);
    return 0;
}

static void db_dir_done(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "    could not remove %s\n", dir);
}

/* SQL on the file through a raw connection (behind transtune's back). */
static int db_sql(const char *path, const char *sql)
{
    sqlite3 *h;
    if (sqlite3_open(path, &h) != SQLITE_OK)
        return -1;
    int rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
    sqlite3_close(h);
    return rc == SQLITE_OK ? 0 : -1;
}

/* One integer from a query on the file (-1 if none). */
static int64_t db_int(const char *path, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_open(path, &h) != SQLITE_OK)
        return -1;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

/* The shared ResNet-50 log into db with `db import`. */
static int db_import_resnet(const char *db)
{
    char log[512];
    if (!tt_test_shared_file(log, sizeof log, "ansor/resnet-50-NHWC-B1-llvm.json"))
        return -1;
    if (run_tt(120, "db", "import", log, "--db", db, (char *)NULL) || !R.exited || R.code) {
        show_run();
        return -1;
    }
    return 0;
}

/* Write to path record 1 of db (kernel 1, a softmax) keyed by its kernel's
 * workload key, as `db export` writes it, with its first split's recorded
 * extent changed: a line that parses but does not replay on that kernel. */
static int db_unreplayable_line(const char *db, const char *path)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    int rc = -1;
    if (sqlite3_open(db, &h) != SQLITE_OK)
        return -1;
    tt_record *rec = calloc(1, sizeof *rec);
    tt_err err = {0};
    if (rec && sqlite3_prepare_v2(h, "SELECT r.line, k.workload_key FROM records r JOIN kernels k "
                                     "ON k.id = r.kernel WHERE r.id = 1", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW &&
            tt_record_parse((const char *)sqlite3_column_text(st, 0), rec, &err) == 0) {
            snprintf(rec->workload_key, sizeof rec->workload_key, "%s", sqlite3_column_text(st, 1));
            for (int i = 0; i < rec->nsteps && rc; i++)
                if (rec->steps[i].tag == TT_STEP_SP && rec->steps[i].extent > 0) {
                    rec->steps[i].extent++;
                    rc = 0;
                }
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    char *line = rc == 0 ? tt_record_write(rec) : NULL;
    FILE *f = line ? fopen(path, "w") : NULL;
    rc = f && fprintf(f, "%s\n", line) > 0 ? 0 : -1;
    if (f)
        fclose(f);
    free(line);
    free(rec);
    return rc;
}

/* `db import` replays a line keyed by a known kernel on it and refuses one
 * that does not replay (the same line into an empty database is refused by
 * identification); a log whose every line is skipped exits nonzero. */
static void test_db_import_refuses(void)
{
    if (!have_transtune())
        return;
    char dir[256], db[300], bad[300];
    CHECK(db_dir(dir, sizeof dir, db, sizeof db) == 0);
    snprintf(bad, sizeof bad, "%s/bad.json", dir);
    int ok = db_import_resnet(db) == 0 && db_unreplayable_line(db, bad) == 0;
    int code = -1;
    char *err = NULL;
    if (ok && run_tt(120, "db", "import", bad, "--db", db, (char *)NULL) == 0 && R.exited) {
        code = R.code;
        err = strdup(R.err);
    }
    int64_t n = db_int(db, "SELECT count(*) FROM records");
    db_dir_done(dir);
    CHECK(ok);
    CHECK_MSG(code == 1 && err && strstr(err, "do not replay") && strstr(err, "skipped") && n == 26,
              "exit %d, %lld records: %s", code, (long long)n, err ? err : "");
    free(err);
}

/* Bad rows planted by raw SQL beside the 26 good records of the ResNet-50
 * log (a line that does not parse with a tiny cost, injected text, a
 * negative cost, steps that do not replay): export still writes the 26 and
 * warns once; `db check` lists the bad rows by id and exits 1; `check --fix`
 * moves them into records_bad (nothing lost) and a second check is clean;
 * and no read-only command leaves -wal/-shm files behind. */
static void test_db_check_fix(void)
{
    if (!have_transtune())
        return;
    char dir[256], db[300], out[300];
    CHECK(db_dir(dir, sizeof dir, db, sizeof db) == 0);
    snprintf(out, sizeof out, "%s/out.json", dir);
    int ok = db_import_resnet(db) == 0;
    const char *copy = "INSERT INTO records(kernel, steps, line, costs, mean_cost, error_no, cpu, "
                       "isa, threads, origin, source_model, created) SELECT kernel, steps, %s, %s, "
                       "%s, error_no, cpu, isa, threads, origin, source_model, created FROM "
                       "records WHERE id = %d";
    const char *edits[][4] = {
        {"'{\"i\": [[garbage'", "costs", "1e-9", "1"},                  /* record 27 */
        {"line || char(10) || 'DROP TABLE records;'", "costs", "mean_cost", "2"}, /* 28 */
        {"line", "'[-0.002]'", "-0.002", "3"},                          /* 29 */
    };
    char sql[1024];
    for (int i = 0; ok && i < 3; i++) {
        snprintf(sql, sizeof sql, copy, edits[i][0], edits[i][1], edits[i][2], atoi(edits[i][3]));
        ok = db_sql(db, sql) == 0;
    }
    /* record 30: record 4's row with steps that do not replay on its kernel */
    if (ok) {
        char line[300];
        snprintf(line, sizeof line, "%s/line.json", dir);
        tt_record *rec = calloc(1, sizeof *rec);
        tt_err err = {0};
        char *text = NULL;
        ok = db_unreplayable_line(db, line) == 0 && (text = tt_read_file(line, NULL, &err)) &&
             tt_record_parse(text, rec, &err) == 0;
        char *steps = ok ? tt_steps_write(rec->steps, rec->nsteps) : NULL;
        char *l = ok ? tt_record_write(rec) : NULL;
        char *q = sqlite3_mprintf("INSERT INTO records(kernel, steps, line, costs, mean_cost, "
                                  "error_no, cpu, isa, threads, origin, created) SELECT 1, %Q, "
                                  "%Q, costs, mean_cost, 0, cpu, isa, threads, origin, created "
                                  "FROM records WHERE id = 1", steps, l);
        ok = ok && steps && l && db_sql(db, q) == 0;
        sqlite3_free(q);
        free(steps);
        free(l);
        free(text);
        free(rec);
    }
    CHECK(ok);
    CHECK(db_int(db, "SELECT count(*) FROM records") == 30);
    /* export: the 26 good ones, one warning */
    CHECK(run_tt(60, "db", "export", "--db", db, "--output", out, (char *)NULL) == 0);
    CHECK_MSG(R.exited && R.code == 0 && strstr(R.err, "26 records exported") &&
                  strstr(R.err, "skipped 4 bad records") && strstr(R.err, "transtune db check"),
              "export: exit %d: %s", R.code, R.err);
    /* check: the four by id, exit 1 */
    CHECK(run_tt(120, "db", "check", "--db", db, (char *)NULL) == 0);
    CHECK_MSG(R.exited && R.code == 1 && strstr(R.out, "record 27:") && strstr(R.out, "record 28:") &&
                  strstr(R.out, "record 29:") && strstr(R.out, "record 30:") &&
                  strstr(R.out, "do not replay") && !strstr(R.out, "record 26:"),
              "check: exit %d\n%s\n%s", R.code, R.out, R.err);
    char wal[320], shm[320];
    snprintf(wal, sizeof wal, "%s-wal", db);
    snprintf(shm, sizeof shm, "%s-shm", db);
    int left = access(wal, F_OK) == 0 || access(shm, F_OK) == 0;
    /* --fix, then a clean check */
    CHECK(run_tt(120, "db", "check", "--fix", "--db", db, (char *)NULL) == 0);
    CHECK_MSG(R.exited && R.code == 0 && strstr(R.out, "moved 4"), "check --fix: exit %d\n%s\n%s",
              R.code, R.out, R.err);
    CHECK(run_tt(120, "db", "check", "--db", db, (char *)NULL) == 0);
    CHECK_MSG(R.exited && R.code == 0 && strstr(R.out, "ok"), "second check: exit %d\n%s\n%s",
              R.code, R.out, R.err);
    int64_t good = db_int(db, "SELECT count(*) FROM records");
    int64_t aside = db_int(db, "SELECT count(*) FROM records_bad");
    int64_t ids = db_int(db, "SELECT sum(record_id) FROM records_bad");
    db_dir_done(dir);
    CHECK_MSG(!left, "a read-only command left -wal or -shm files");
    CHECK_MSG(good == 26 && aside == 4 && ids == 27 + 28 + 29 + 30, "%lld records, %lld aside (ids "
              "%lld)", (long long)good, (long long)aside, (long long)ids);
}

/* `run --db` with a corrupt row for one of the model's kernels: it runs (the
 * row skipped, one warning naming the fix), where it used to stop with
 * "stored log line does not parse". */
static void test_db_run_bad_row(void)
{
    if (!have_transtune())
        return;
    char dir[256], db[300], log[512];
    if (!tt_test_shared_file(log, sizeof log, "ansor/matmul.json"))
        return;
    CHECK(db_dir(dir, sizeof dir, db, sizeof db) == 0);
    /* tiny's kernels into the database (with the matmul record), then a row
     * of tiny's first kernel whose line is cut short */
    int ok = run_tt(120, "db", "import", log, "--model", "tiny", "--db", db, (char *)NULL) == 0 &&
             R.exited && R.code == 0;
    ok = ok && db_sql(db, "INSERT INTO records(kernel, steps, line, costs, mean_cost, error_no, "
                          "cpu, isa, threads, origin, created) SELECT (SELECT min(mk.kernel) FROM "
                          "model_kernels mk JOIN models m ON m.id = mk.model WHERE m.name = "
                          "'tiny'), steps, substr(line, 1, 40), costs, 1e-9, 0, cpu, isa, "
                          "threads, origin, created FROM records LIMIT 1") == 0;
    int code = -1;
    char *err = NULL;
    if (ok && run_tt(300, "run", "tiny", "--db", db, "--repeat", "1", "--winograd", "off",
                     (char *)NULL) == 0 && R.exited) {
        code = R.code;
        err = strdup(R.err);
    }
    db_dir_done(dir);
    CHECK(ok);
    CHECK_MSG(code == 0 && err && strstr(err, "skipped 1 bad record") &&
                  strstr(err, "does not parse") && strstr(err, "transtune db check"),
              "exit %d: %s", code, err ? err : "");
    free(err);
}

/* run --vs-untuned: the model (here on default schedules too) timed against
 * its untuned build in interleaved pairs; both medians and their ratio in the
 * JSON (6 digits), the ratio that of the two medians. */
static void test_run_vs_untuned(void)
{
    if (!have_transtune())
        return;
    CHECK(run_tt(300, "run", "tiny", "--vs-untuned", "--json", "--repeat", "5", (char *)NULL) == 0);
    CHECK_MSG(R.exited && R.code == 0, "exit %d: %s", R.code, R.err);
    json_error_t je;
    json_t *o = json_loads(R.out, 0, &je);
    CHECK_MSG(o, "%s (%s)", je.text, R.out);
    double p = json_real_value(json_object_get(o, "paired_ms")),
           u = json_real_value(json_object_get(o, "untuned_ms")),
           sp = json_real_value(json_object_get(o, "speedup"));
    json_decref(o);
    CHECK_MSG(p > 0 && u > 0 && fabs(sp - u / p) < 1e-4 * sp && sp > 0.2 && sp < 5, "%s", R.out);
}

/* ---- tests: outside files -------------------------------------------------- */

/* Set (or with NULL unset) an environment variable for the commands that
 * follow; the previous value is kept in *saved for env_restore. */
static void env_set(const char *name, const char *value, char **saved)
{
    const char *old = getenv(name);
    *saved = old ? strdup(old) : NULL;
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
}

static void env_restore(const char *name, char *saved)
{
    if (saved)
        setenv(name, saved, 1);
    else
        unsetenv(name);
    free(saved);
}

/* A float32 (or int64) .npy of this shape, zero-filled, in dir. */
static int write_input(const char *dir, const char *name, tt_dtype dt, int ndim,
                       const int64_t *shape, char *path, size_t n)
{
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++)
        numel *= shape[i];
    void *data = calloc((size_t)numel, 8);
    tt_err err = {0};
    snprintf(path, n, "%s/%s", dir, name);
    int rc = data ? tt_npy_write(path, dt, ndim, shape, data, &err) : -1;
    if (rc)
        fprintf(stderr, "    %s\n", err.msg);
    free(data);
    return rc;
}

/* run --input checks the whole shape, not the element count: tiny takes
 * float32 (1, 3, 32, 32) in its ONNX layout, NCHW; (3, 32, 32) (no batch
 * dimension), (1, 32, 32, 3) (NHWC) and int64 (1, 3, 32, 32) are refused
 * with both shapes and the layout in the message; (1, 3, 32, 32) runs. */
static void test_run_input_shape(void)
{
    if (!have_transtune())
        return;
    char dir[4096], path[4352];
    tt_err err = {0};
    CHECK_MSG(tt_temp_dir("tt-test-cli-input", dir, sizeof dir, &err) == 0, "%s", err.msg);
    static const struct {
        const char *name, *shape_text;
        tt_dtype dt;
        int ndim;
        int64_t shape[4];
    } bad[] = {
        {"chw.npy", "float32 (3, 32, 32)", TT_DT_FLOAT, 3, {3, 32, 32}},
        {"nhwc.npy", "float32 (1, 32, 32, 3)", TT_DT_FLOAT, 4, {1, 32, 32, 3}},
        {"ids.npy", "int64 (1, 3, 32, 32)", TT_DT_INT64, 4, {1, 3, 32, 32}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(write_input(dir, bad[i].name, bad[i].dt, bad[i].ndim, bad[i].shape, path,
                          sizeof path) == 0);
        CHECK(run_tt(60, "run", "tiny", "--input", path, "--repeat", "1", "--winograd", "off",
                     (char *)NULL) == 0);
        CHECK_MSG(R.exited && R.code == 1 && strstr(R.err, path) &&
                  strstr(R.err, bad[i].shape_text) &&
                  strstr(R.err, "the model's input 'input' takes float32 (1, 3, 32, 32) (NCHW"),
                  "%s: exit %d, stderr: %s", bad[i].name, R.code, R.err);
    }
    int64_t nchw[4] = {1, 3, 32, 32};
    CHECK(write_input(dir, "nchw.npy", TT_DT_FLOAT, 4, nchw, path, sizeof path) == 0);
    CHECK(run_tt(300, "run", "tiny", "--input", path, "--repeat", "1", "--winograd", "off",
                 "--json", (char *)NULL) == 0);
    tt_remove_tree(dir);
    CHECK_MSG(R.exited && R.code == 0, "exit %d: %s", R.code, R.err);
}

/* Endless and oversize inputs are refused up front, with a message naming
 * the file, never read until memory runs out: /dev/zero and a symbolic
 * link to it as run's --input, as a model for kernels, as a log for replay
 * and db import; a .npy past TT_MAX_INPUT_BYTES. */
static void test_input_files_bounded(void)
{
    if (!have_transtune())
        return;
    char dir[4096], npy[4352], onnx[4352], db[4352], good[4352];
    tt_err err = {0};
    CHECK_MSG(tt_temp_dir("tt-test-cli-bounded", dir, sizeof dir, &err) == 0, "%s", err.msg);
    snprintf(npy, sizeof npy, "%s/zero.npy", dir);
    snprintf(onnx, sizeof onnx, "%s/zero.onnx", dir);
    snprintf(db, sizeof db, "%s/t.db", dir);
    CHECK(symlink("/dev/zero", npy) == 0 && symlink("/dev/zero", onnx) == 0);
    const struct {
        const char *argv[6]; /* NULL-terminated */
        const char *file;    /* the file the message must name */
    } runs[] = {
        {{"run", "tiny", "--input", "/dev/zero"}, "/dev/zero"},
        {{"run", "tiny", "--input", npy}, npy},
        {{"kernels", onnx}, onnx},
        {{"replay", "/dev/zero"}, "/dev/zero"},
        {{"db", "import", "/dev/zero", "--db", db}, "/dev/zero"},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        const char *const *a = runs[i].argv;
        CHECK(run_tt(60, a[0], a[1], a[2], a[3], a[4], (char *)NULL) == 0);
        CHECK_MSG(R.exited && R.code != 0 && strstr(R.err, runs[i].file) &&
                  strstr(R.err, "not a regular file"),
                  "%s %s: exit %d after %.1f s, stderr: %s", a[0], a[1], R.code, R.secs, R.err);
    }
    int64_t nchw[4] = {1, 3, 32, 32};
    CHECK(write_input(dir, "good.npy", TT_DT_FLOAT, 4, nchw, good, sizeof good) == 0);
    char *saved;
    env_set("TT_MAX_INPUT_BYTES", "4096", &saved);
    int rc = run_tt(60, "run", "tiny", "--input", good, "--repeat", "1", (char *)NULL);
    env_restore("TT_MAX_INPUT_BYTES", saved);
    tt_remove_tree(dir);
    CHECK(rc == 0);
    CHECK_MSG(R.exited && R.code == 1 && strstr(R.err, good) && strstr(R.err, "TT_MAX_INPUT_BYTES"),
              "exit %d, stderr: %s", R.code, R.err);
}

const tt_test tests_cli[] = {
    {"run_db", test_run_db},
    {"run_input_shape", test_run_input_shape},
    {"input_files_bounded", test_input_files_bounded},
    {"run_records", test_run_records},
    {"run_record_vs_default", test_run_record_vs_default},
    {"run_vs_untuned", test_run_vs_untuned},
    {"models_and_kernels", test_models_and_kernels},
    {"bad_models", test_bad_models},
    {"run_check_json", test_run_check_json},
    {"run_winograd", test_run_winograd},
    {"help", test_help},
    {"usage_errors", test_usage_errors},
    {"replay_missing_file", test_replay_missing_file},
    {"replay_bad_records", test_replay_bad_records},
    {"replay_bad_records_table", test_replay_bad_records_table},
    {"replay_matmul", test_replay_matmul},
    {"kernel_conv2d", test_kernel_conv2d},
    {"kernel_grouped_conv2d", test_kernel_grouped_conv2d},
    {"kernel_usage_errors", test_kernel_usage_errors},
    {"kernel_bad_record", test_kernel_bad_record},
    {"kernel_record_ok", test_kernel_record_ok},
    {"avx512_script", test_avx512_script},
    {"tune_kill_resume", test_tune_kill_resume},
    {"tune_two_at_once", test_tune_two_at_once},
    {"db_import_refuses", test_db_import_refuses},
    {"db_check_fix", test_db_check_fix},
    {"db_run_bad_row", test_db_run_bad_row},
    {NULL, NULL},
};
