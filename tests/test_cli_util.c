/* test_cli_util.c - the command runner of the CLI tests (test_cli.h):
 * build/transtune started as a child process from the repository root (as
 * `make test` runs the tests), its stdout and stderr captured in temporary
 * files, a timeout that kills its whole process group; and the JSON rows
 * of its stdout, parsed with jansson. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "test_cli.h"

/* ---- running a command ---------------------------------------------------- */

cli_run R;

double now_s(void)
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
int run_argv(double timeout_s, char *const argv[])
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
int run_tt(double timeout_s, ...)
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
void show_run(void)
{
    fprintf(stderr, "    exit %s%d after %.1f s\n    stdout: %.2000s\n    stderr: %.2000s\n",
            R.signaled ? "signal " : "", R.signaled ? R.sig : R.code, R.secs, R.out ? R.out : "",
            R.err ? R.err : "");
}

/* 1 if build/transtune is there; else the test is skipped (the caller returns). */
int have_transtune(void)
{
    if (access(TRANSTUNE, X_OK) == 0)
        return 1;
    tt_test_skip("%s is missing (run `make all` in the repository root)", TRANSTUNE);
    return 0;
}

/* ---- JSON rows ------------------------------------------------------------ */

void rows_free(rows *r)
{
    for (int i = 0; i < r->n; i++)
        json_decref(r->v[i]);
    r->n = 0;
}

/* Parse text as one JSON object a line (blank lines skipped).  -1 with a
 * message on the first line that is not a JSON object. */
int rows_parse(const char *text, rows *r)
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

const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

int jtrue(const json_t *o, const char *key)
{
    return json_is_true(json_object_get(o, key));
}

/* A number > 0 (jansson writes 1e-5 as a real, but accept integers too). */
int jpositive(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) && json_number_value(v) > 0;
}
