/* test_fuzz.c - the fuzz corpora replayed: each fuzz/corpus_<target> through
 * its libFuzzer entry point, built with the plain driver fuzz/replay.c into
 * build/fuzz-replay/<target> (make builds them with build/tests).  The
 * replay runs as a child process: a target that finds one of its properties
 * broken aborts, which fails the test here (not the runner), with the input
 * it was running in the output shown.
 *
 * A corpus folder is part of the repository: an empty or missing one fails.
 * A missing driver (the runner built alone) is a skip. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../src/util/util.h"
#include "test.h"

/* Files in a folder (not counting dot files); -1 if it cannot be listed. */
static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Run the driver on the corpus, stdout and stderr to log; the wait status,
 * or -1 if it could not be started.  *timed_out is set if it ran past
 * limit_s seconds (a hang: it is then killed). */
static int run_replay(const char *driver, const char *corpus, const char *log, double limit_s,
                      int *timed_out)
{
    *timed_out = 0;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* only async-signal-safe calls: the runner may have live OpenMP threads */
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        execl(driver, driver, corpus, (char *)NULL);
        _exit(127);
    }
    double t0 = tt_now();
    int status;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            return status;
        if (w < 0)
            return -1;
        if (tt_now() - t0 > limit_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            *timed_out = 1;
            return status;
        }
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
}

/* Replay fuzz/corpus_<target> through build/fuzz-replay/<target>. */
static void replay(const char *target)
{
    char driver[256], corpus[256], log[256];
    snprintf(driver, sizeof driver, "%s/fuzz-replay/%s", TT_TEST_BUILD_DIR, target);
    snprintf(corpus, sizeof corpus, "fuzz/corpus_%s", target);
    int nfiles = count_files(corpus);
    CHECK_MSG(nfiles > 0, "%s: %s", corpus, nfiles < 0 ? "cannot be listed" : "empty");
    if (access(driver, X_OK) != 0)
        SKIP("%s is missing (run `make build/tests` in the repository root)", driver);
    snprintf(log, sizeof log, "%s/tt-fuzz-replay-%s-%d.log", tt_test_tmpdir(), target,
             (int)getpid());
    int timed_out;
    /* a hang guard only: the largest corpus replays in well under a second
     * when the host is idle */
    int status = run_replay(driver, corpus, log, 600, &timed_out);
    char *out = tt_read_file_max(log, 1 << 20, NULL, NULL);
    unlink(log);
    int ok = status >= 0 && !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    /* the driver says how many inputs it ran: every file of the folder */
    char want[64];
    snprintf(want, sizeof want, "replayed %d inputs", nfiles);
    ok = ok && out && strstr(out, want);
    if (!ok) {
        /* from the last "replay:" line, which names the input that failed,
         * to the end (a sanitizer's report, an abort's message) */
        const char *s = out ? out : "", *last = s;
        for (const char *p = strstr(s, "replay: "); p; p = strstr(p + 1, "replay: "))
            last = p;
        fprintf(stderr, "    %s %s: %s%s%d\n    %.8000s\n", driver, corpus,
                timed_out ? "timed out, " : "",
                status >= 0 && WIFSIGNALED(status) ? "signal " : "exit ",
                status < 0 ? -1 : WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                last);
    }
    free(out);
    CHECK(ok);
}

static void test_record(void) { replay("record"); }
static void test_onnx(void) { replay("onnx"); }
static void test_npy(void) { replay("npy"); }
static void test_db(void) { replay("db"); }
static void test_params(void) { replay("params"); }
static void test_layout(void) { replay("layout"); }
static void test_cli(void) { replay("cli"); }
static void test_weights(void) { replay("weights"); }
static void test_jobs(void) { replay("jobs"); }

const tt_test tests_fuzz[] = {
    {"replay_record", test_record}, {"replay_onnx", test_onnx},     {"replay_npy", test_npy},
    {"replay_db", test_db},         {"replay_params", test_params}, {"replay_layout", test_layout},
    {"replay_cli", test_cli},       {"replay_weights", test_weights}, {"replay_jobs", test_jobs},
    {NULL, NULL},
};
