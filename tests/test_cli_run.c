/* test_cli_run.c - the `transtune` commands that run models and fill the
 * database, as a user runs them: tune killed and resumed, two tuners at
 * once, run (--check, --winograd, --records, --db, --vs-untuned, --input),
 * db import / check / export with bad rows, and outside files that must be
 * refused up front.  The command runner is test_cli_util.c's (test_cli.h);
 * these tests are module "cli" too. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
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
#include "test_cli.h"

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
            /* stderr kept in DIR/errN, shown if the tuner fails */
            char ep[320];
            snprintf(ep, sizeof ep, "%s/err%d", dir, i);
            int nul = open("/dev/null", O_RDWR), ef = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (nul >= 0) {
                dup2(nul, 0);
                dup2(nul, 1);
            }
            if (ef >= 0)
                dup2(ef, 2);
            execv(argv[0], argv);
            _exit(127);
        }
    }
    int ok = 1;
    for (int i = 0; i < 2; i++) {
        int st = 0;
        waitpid(pid[i], &st, 0);
        int good = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (!good) {
            char ep[320], line[512];
            snprintf(ep, sizeof ep, "%s/err%d", dir, i);
            FILE *f = fopen(ep, "r");
            fprintf(stderr, "    tuner %d: %s %d; its stderr:\n", i, WIFEXITED(st) ? "exit" : "signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            while (f && fgets(line, sizeof line, f))
                fprintf(stderr, "      %s", line);
            if (f)
                fclose(f);
        }
        ok &= good;
    }
    CHECK_MSG(ok, "a tuner failed");
    int64_t n = db_records(db);
    CHECK_MSG(n == 25, "%lld records for a budget of 25", (long long)n);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "    could not remove %s\n", dir);
}

/* ---- tests: run ------------------------------------------------------------ */

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

/* compile: tiny as a library, its weights, header and example; the example
 * program built against the folder alone (cc, no transtune) runs; a
 * truncated weights file, another model's weights and a missing file are
 * refused with a message and exit 1 (no crash); a bad name is a usage
 * error before anything is written. */
static char *slurp(const char *path)
{
    tt_err e = {0};
    size_t n = 0;
    return tt_read_file(path, &n, &e);
}

static void test_compile_artifact(void)
{
    if (!have_transtune())
        return;
    char dir[300], d2[340], w[400], cmd[1400];
    snprintf(dir, sizeof dir, "%s/tt-test-compile.XXXXXX", tt_test_tmpdir());
    CHECK(mkdtemp(dir));
    snprintf(d2, sizeof d2, "%s/wide", dir);
    CHECK(run_tt(300, "compile", "tiny", "-o", dir, "--json", (char *)NULL) == 0);
    CHECK_MSG(R.exited && R.code == 0, "exit %d: %s", R.code, R.err);
    rows r;
    CHECK_MSG(rows_parse(R.out, &r) == 0 && r.n == 1, "%s", R.out);
    if (r.n == 1) {
        CHECK(json_integer_value(json_object_get(r.v[0], "kernels")) >= 5);
        CHECK_MSG(json_number_value(json_object_get(r.v[0], "max_rel_err")) <= 1e-3, "%s", R.out);
        CHECK(jpositive(r.v[0], "library_ms"));
    }
    rows_free(&r);
    /* the example, against the folder alone */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && cc -O1 -o tiny_example tiny_example.c -L. -ltiny -Wl,-rpath,'$ORIGIN' 2>cc.log && "
             "./tiny_example tiny.weights > ex.out 2>&1",
             dir);
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
    snprintf(w, sizeof w, "%s/ex.out", dir);
    char *ex = slurp(w);
    CHECK_MSG(ex && strstr(ex, "top-1"), "%s", ex ? ex : "(no output)");
    free(ex);
    /* a truncated weights file, a missing one, another model's */
    snprintf(cmd, sizeof cmd, "cd '%s' && head -c 100 tiny.weights > t.weights && ./tiny_example t.weights 2> bad.out",
             dir);
    int st = system(cmd);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d", st);
    snprintf(w, sizeof w, "%s/bad.out", dir);
    ex = slurp(w);
    CHECK_MSG(ex && strstr(ex, "truncated or corrupted"), "%s", ex ? ex : "(no output)");
    free(ex);
    CHECK(run_tt(300, "compile", "tiny_wide", "-o", d2, "--name", "tiny", (char *)NULL) == 0);
    CHECK_MSG(R.exited && R.code == 0, "exit %d: %s", R.code, R.err);
    snprintf(cmd, sizeof cmd, "cd '%s' && ./tiny_example wide/tiny.weights 2> bad.out; test $? -eq 1 && "
                              "grep -q 'another model' bad.out && ./tiny_example nosuch.weights 2> bad.out; "
                              "test $? -eq 1 && grep -q 'cannot open' bad.out", dir);
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
    CHECK(run_tt(60, "compile", "tiny", "-o", d2, "--name", "9bad-name", (char *)NULL) == 0);
    CHECK_EXIT(2);
    CHECK_MSG(strstr(R.err, "name '9bad-name'"), "%s", R.err);
    CHECK(run_tt(60, "compile", "tiny", (char *)NULL) == 0);
    CHECK_EXIT(2);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* make install PREFIX=DIR: the installed transtune finds its runner and the
 * shipped schedules (PREFIX/share/transtune/schedules, the host's ISA), and
 * the installed Python package finds the installed transtune on PATH. */
static void test_install(void)
{
    if (!have_transtune())
        return;
    char dir[300], cmd[2000];
    snprintf(dir, sizeof dir, "%s/tt-test-install.XXXXXX", tt_test_tmpdir());
    CHECK(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "make -s install B=%s PREFIX='%s' > '%s/make.log' 2>&1", TT_TEST_BUILD_DIR, dir, dir);
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && TT_DB='%s/t.db' bin/transtune transfer tiny --from nosuch > t.out 2>&1; "
             "grep -q 'shipped schedules %s/share/transtune/schedules/avx' t.out && "
             "bin/transtune run tiny --repeat 1 > r.out 2>&1 && "
             "PATH='%s/bin':\"$PATH\" PYTHONPATH='%s/share/transtune/python' /usr/bin/python3 -c "
             "'import transtune; p = transtune._program(); assert p.startswith(\"%s/bin/\"), p' > p.out 2>&1",
             dir, dir, dir, dir, dir, dir);
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
    /* a program on the installed header and library, through pkg-config; the
     * runner found on PATH (not for the sanitizer build: its library needs
     * the sanitizers' runtime, which pkg-config's flags do not name) */
    if (strcmp(TT_TEST_BUILD_DIR, "build"))
        goto done;
    snprintf(cmd, sizeof cmd,
             "cd '%s' && printf '%%s\\n' '#include <stdio.h>' '#include <transtune.h>' "
             "'int main(void) { transtune_error e; transtune_model *m; float y[10]; double ms;' "
             "'  if (transtune_load(\"tiny\", 0, 0, &m, &e) || transtune_build(m, 0, 0, &e) ||' "
             "'      transtune_time(m, 2, &ms, &e)) { puts(e.msg); return 1; }' "
             "'  printf(\"ok %%s %%d kernels\\\\n\", transtune_name(m), transtune_num_kernels(m));' "
             "'  transtune_free(m); return 0; }' > app.c && "
             "PKG_CONFIG_PATH='%s/lib/pkgconfig' cc -o app app.c $(PKG_CONFIG_PATH='%s/lib/pkgconfig' pkg-config "
             "--cflags --libs transtune) > cc.log 2>&1 && cd / && PATH='%s/bin':\"$PATH\" '%s/app' > '%s/app.out' 2>&1 && "
             "grep -q '^ok tiny' '%s/app.out'",
             dir, dir, dir, dir, dir, dir, dir);
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
done:
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
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

/* A model of several inputs (tests/data/onnx/masked.onnx: token ids, an
 * attention mask, token types): --input INPUT=FILE in any order, or FILE in
 * the model's order, gives PyTorch's output; a missing, doubled or extra
 * input is refused with a message naming it. */
static void test_run_several_inputs(void)
{
    if (!have_transtune())
        return;
    char out[4096];
    tt_err err = {0};
    CHECK_MSG(tt_temp_dir("tt-test-cli-inputs", out, sizeof out, &err) == 0, "%s", err.msg);
    char y[4352];
    snprintf(y, sizeof y, "%s/y.npy", out);
    const char *M = "tests/data/onnx/masked.onnx";
    const char *ids = "tests/data/onnx/masked.in.input_ids.npy", *mask = "tests/data/onnx/masked.in.attention_mask.npy",
               *typ = "tests/data/onnx/masked.in.token_type_ids.npy";
    char a1[256], a2[256], a3[256];
    snprintf(a1, sizeof a1, "attention_mask=%s", mask);
    snprintf(a2, sizeof a2, "token_type_ids=%s", typ);
    snprintf(a3, sizeof a3, "input_ids=%s", ids);
    CHECK(run_tt(120, "run", M, "--input", a1, "--input", a2, "--input", a3, "--output", y, "--repeat", "1",
                 (char *)NULL) == 0);
    CHECK_MSG(R.exited && R.code == 0, "exit %d: %s", R.code, R.err);
    tt_npy got = {0}, want = {0};
    CHECK_MSG(tt_npy_read(y, &got, &err) == 0 && tt_npy_read("tests/data/onnx/masked.out.npy", &want, &err) == 0, "%s",
              err.msg);
    double md = 0, mr = 0;
    for (int64_t i = 0; got.numel == want.numel && i < got.numel; i++) {
        double d = fabs((double)((float *)got.data)[i] - ((float *)want.data)[i]);
        md = d > md || isnan(d) ? d : md;
        mr = fabs(((float *)want.data)[i]) > mr ? fabs(((float *)want.data)[i]) : mr;
    }
    CHECK_MSG(got.numel == want.numel && mr > 0 && md <= 1e-4 * mr, "max diff %g of %g", md, mr);
    tt_npy_free(&got);
    /* in order, unnamed: the same */
    CHECK(run_tt(120, "run", M, "--input", ids, "--input", mask, "--input", typ, "--repeat", "1", (char *)NULL) == 0);
    CHECK_MSG(R.exited && R.code == 0, "exit %d: %s", R.code, R.err);
    /* an all-ones mask changes the output (the mask is really applied) */
    int64_t sh[2] = {1, 10};
    char ones[4352];
    snprintf(ones, sizeof ones, "%s/ones.npy", out);
    int64_t one[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(tt_npy_write(ones, TT_DT_INT64, 2, sh, one, &err) == 0);
    snprintf(a1, sizeof a1, "attention_mask=%s", ones);
    CHECK(run_tt(120, "run", M, "--input", a1, "--input", a2, "--input", a3, "--output", y, "--repeat", "1",
                 (char *)NULL) == 0);
    CHECK_MSG(R.exited && R.code == 0, "exit %d: %s", R.code, R.err);
    CHECK(tt_npy_read(y, &got, &err) == 0);
    md = 0;
    for (int64_t i = 0; got.numel == want.numel && i < got.numel; i++) {
        double d = fabs((double)((float *)got.data)[i] - ((float *)want.data)[i]);
        md = d > md ? d : md;
    }
    CHECK_MSG(md > 1e-2 * mr, "the mask changed nothing: %g", md);
    tt_npy_free(&got);
    tt_npy_free(&want);
    /* refusals */
    CHECK(run_tt(60, "run", M, "--input", ids, (char *)NULL) == 0);
    CHECK_MSG(R.exited && R.code == 1 && strstr(R.err, "no --input for the model's input 'attention_mask'"), "%s",
              R.err);
    CHECK(run_tt(60, "run", M, "--input", a3, "--input", a3, (char *)NULL) == 0);
    CHECK_MSG(R.exited && R.code == 1 && strstr(R.err, "input 'input_ids' is given twice"), "%s", R.err);
    CHECK(run_tt(60, "run", M, "--input", ids, "--input", mask, "--input", typ, "--input", typ, (char *)NULL) == 0);
    CHECK_MSG(R.exited && R.code == 1 && strstr(R.err, "the model has 3 input(s), all given already"), "%s", R.err);
    tt_remove_tree(out);
}

/* Artifacts of models with host calls: masked (three int64 inputs; Equal,
 * Cast, Where on the mask) and reduces (a Gather of an activation at 100
 * scattered indices): the library's output equals run's. */
static void test_compile_host_calls(void)
{
    if (!have_transtune())
        return;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/tt-test-compile-host.XXXXXX", tt_test_tmpdir());
    CHECK(mkdtemp(dir) != NULL);
    static const char *const models[] = {"tests/data/onnx/masked.onnx", "tests/data/onnx/reduces.onnx"};
    for (int i = 0; i < 2; i++) {
        char out[600];
        snprintf(out, sizeof out, "%s/m%d", dir, i);
        CHECK(run_tt(300, "compile", models[i], "-o", out, "--json", (char *)NULL) == 0);
        CHECK_MSG(R.exited && R.code == 0 && strstr(R.out, "\"max_rel_err\": 0,"), "%s: exit %d: %s%s", models[i],
                  R.code, R.out, R.err);
    }
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* --shape binds a symbolic dimension (shapechain's batch) for run and
 * kernels; a wrong name, rank, fixed dimension or a zoo model is refused. */
static void test_run_shape(void)
{
    if (!have_transtune())
        return;
    const char *M = "tests/data/onnx/shapechain.onnx";
    CHECK(run_tt(120, "kernels", M, "--shape", "input=3x4x5x5", "--json", (char *)NULL) == 0);
    CHECK_MSG(R.exited && R.code == 0 && strstr(R.out, "[3, 4, 5, 5]"), "exit %d: %s%s", R.code, R.out, R.err);
    CHECK(run_tt(120, "run", M, "--shape", "input=3x4x5x5", "--check", "--repeat", "1", (char *)NULL) == 0);
    CHECK_MSG(R.exited && R.code == 0 && strstr(R.out, "PASSED"), "exit %d: %s%s", R.code, R.out, R.err);
    static const struct {
        const char *what, *shape, *msg;
    } bad[] = {
        {"tests/data/onnx/shapechain.onnx", "x=3x4x5x5", "--shape x: the model has no input of that name (its inputs: input)"},
        {"tests/data/onnx/shapechain.onnx", "input=3x5x5x5", "dimension 1 is fixed at 4 in the model, 5 given"},
        {"tests/data/onnx/shapechain.onnx", "input=3x4", "2 dimensions given, the input has 4"},
        {"tiny", "input=1x3x32x32", "--shape applies to ONNX files"},
        {"tiny", "input=1x0", "--shape takes INPUT=DIMS"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(run_tt(60, "run", bad[i].what, "--shape", bad[i].shape, (char *)NULL) == 0);
        CHECK_MSG(R.exited && R.code != 0 && strstr(R.err, bad[i].msg), "%s: exit %d: %s", bad[i].shape, R.code,
                  R.err);
    }
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

const tt_test tests_cli_run[] = {
    {"run_db", test_run_db},
    {"run_input_shape", test_run_input_shape},
    {"run_several_inputs", test_run_several_inputs},
    {"run_shape", test_run_shape},
    {"compile_host_calls", test_compile_host_calls},
    {"input_files_bounded", test_input_files_bounded},
    {"run_records", test_run_records},
    {"run_record_vs_default", test_run_record_vs_default},
    {"run_vs_untuned", test_run_vs_untuned},
    {"run_check_json", test_run_check_json},
    {"run_winograd", test_run_winograd},
    {"tune_kill_resume", test_tune_kill_resume},
    {"tune_two_at_once", test_tune_two_at_once},
    {"db_import_refuses", test_db_import_refuses},
    {"db_check_fix", test_db_check_fix},
    {"db_run_bad_row", test_db_run_bad_row},
    {"compile_artifact", test_compile_artifact},
    {"install", test_install},
    {NULL, NULL},
};
