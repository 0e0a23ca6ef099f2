/* test_util.c - the temporary-directory helpers that every build relies on
 * to leave nothing behind; outside files read with bounds; out-of-memory
 * reported; error-message prefixes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/util/util.h"
#include "test.h"

static int exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

static int write_file(const char *p)
{
    FILE *f = fopen(p, "w");
    return f && fputs("x\n", f) >= 0 && fclose(f) == 0;
}

/* A fresh directory under $TMPDIR; removing a tree takes nested files and
 * directories but never follows a symbolic link out of it. */
static void test_temp_dir_remove_tree(void)
{
    tt_err err = {0};
    char a[4096], b[4096], p[8192];
    CHECK_MSG(tt_temp_dir("tt-test-util", a, sizeof a, &err) == 0, "%s", err.msg);
    CHECK_MSG(tt_temp_dir("tt-test-util", b, sizeof b, &err) == 0, "%s", err.msg);
    CHECK(strcmp(a, b) != 0 && a[0] == '/' && strstr(a, "/tt-test-util-"));
    snprintf(p, sizeof p, "%s/keep", b);
    CHECK(write_file(p));
    snprintf(p, sizeof p, "%s/sub", a);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/sub/deeper", a);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/sub/deeper/f.so", a);
    CHECK(write_file(p));
    snprintf(p, sizeof p, "%s/link", a);
    CHECK(symlink(b, p) == 0);
    CHECK(tt_remove_tree(a) == 0);
    CHECK(!exists(a));
    snprintf(p, sizeof p, "%s/keep", b);
    CHECK_MSG(exists(p), "removing a tree followed a symbolic link out of it");
    CHECK(tt_remove_tree(b) == 0 && !exists(b));
    CHECK(tt_remove_tree(b) == -1); /* nothing there */
    char small[8];
    CHECK(tt_temp_dir("tt-test-util", small, sizeof small, &err) == -1 && err.set);
}

/* A fresh temporary directory for a test's files, or NULL (the test fails). */
static const char *util_dir(char *buf, size_t n)
{
    tt_err err = {0};
    if (tt_temp_dir("tt-test-util", buf, n, &err)) {
        fprintf(stderr, "    %s\n", err.msg);
        return NULL;
    }
    return buf;
}

/* Outside files are regular files only: /dev/zero, a symbolic link to it, a
 * FIFO (without a writer, which must not block the reader) and a directory
 * are refused with a message that names the file; a symbolic link to a
 * regular file is read. */
static void test_read_file_refuses_non_regular(void)
{
    char dir[4096], p[8192];
    CHECK(util_dir(dir, sizeof dir));
    tt_err err = {0};
    size_t len = 1;
    char *got = tt_read_file("/dev/zero", &len, &err);
    CHECK_MSG(!got && strstr(err.msg, "/dev/zero") && strstr(err.msg, "not a regular file") &&
              strstr(err.msg, "character device"), "'%s'", err.msg);
    const char *kinds[] = {"zero.npy", "fifo", "sub"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, kinds[i]);
        CHECK(i == 0 ? symlink("/dev/zero", p) == 0 : i == 1 ? mkfifo(p, 0600) == 0
                                                              : mkdir(p, 0700) == 0);
        err = (tt_err){0};
        got = tt_read_file(p, &len, &err);
        CHECK_MSG(!got && strstr(err.msg, p) && strstr(err.msg, "not a regular file"), "%s: '%s'",
                  kinds[i], err.msg);
    }
    snprintf(p, sizeof p, "%s/real", dir);
    CHECK(write_file(p));
    char link[8192];
    snprintf(link, sizeof link, "%s/link", dir);
    CHECK(symlink(p, link) == 0);
    err = (tt_err){0};
    got = tt_read_file(link, &len, &err);
    CHECK_MSG(got && len == 2 && !strcmp(got, "x\n"), "'%s'", err.msg);
    free(got);
    CHECK(tt_remove_tree(dir) == 0);
}

/* TT_MAX_INPUT_BYTES bounds what an outside file may hold: a file past it
 * is refused with a message that names the file, its size, the limit and
 * the variable; one at the limit is read; a value that is no size is an
 * error, not ignored. */
static void test_read_file_limit(void)
{
    char dir[4096], p[8192];
    CHECK(util_dir(dir, sizeof dir));
    snprintf(p, sizeof p, "%s/big", dir);
    FILE *f = fopen(p, "w");
    CHECK(f);
    for (int i = 0; i < 5000; i++)
        fputc('a', f);
    CHECK(fclose(f) == 0);
    const char *old = getenv("TT_MAX_INPUT_BYTES");
    char *saved = old ? strdup(old) : NULL;
    tt_err err = {0};
    size_t len = 0;
    setenv("TT_MAX_INPUT_BYTES", "4096", 1);
    char *small = tt_read_file(p, &len, &err);
    setenv("TT_MAX_INPUT_BYTES", "5000", 1);
    tt_err err2 = {0};
    char *exact = tt_read_file(p, &len, &err2);
    setenv("TT_MAX_INPUT_BYTES", "4K", 1);
    tt_err err3 = {0};
    char *k4 = tt_read_file(p, NULL, &err3);
    setenv("TT_MAX_INPUT_BYTES", "lots", 1);
    tt_err err4 = {0};
    char *bad = tt_read_file(p, NULL, &err4);
    if (saved)
        setenv("TT_MAX_INPUT_BYTES", saved, 1);
    else
        unsetenv("TT_MAX_INPUT_BYTES");
    free(saved);
    int ok_small = !small && strstr(err.msg, p) && strstr(err.msg, "5000 bytes") &&
                   strstr(err.msg, "4096") && strstr(err.msg, "TT_MAX_INPUT_BYTES");
    int ok_exact = exact && len == 5000;
    free(small), free(exact), free(k4), free(bad);
    tt_remove_tree(dir);
    CHECK_MSG(ok_small, "'%s'", err.msg);
    CHECK_MSG(ok_exact, "'%s'", err2.msg);
    CHECK_MSG(!k4 && strstr(err3.msg, "4096"), "'%s'", err3.msg);
    CHECK_MSG(!bad && strstr(err4.msg, "TT_MAX_INPUT_BYTES") && strstr(err4.msg, "lots"), "'%s'",
              err4.msg);
}

/* Out of memory in tt_xmalloc: one line on stderr saying how many bytes,
 * never a bare abort (run in a child, whose stderr is read back). */
static void test_xmalloc_failure_message(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        /* no core file for the expected death */
        struct rlimit rl = {0, 0};
        setrlimit(RLIMIT_CORE, &rl);
        volatile size_t huge = SIZE_MAX / 4;
        void *q = tt_xmalloc(huge);
        _exit(q ? 3 : 4);
    }
    close(fds[1]);
    char buf[1024];
    size_t n = 0;
    ssize_t k;
    while (n < sizeof buf - 1 && (k = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = 0;
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    char want[64];
    snprintf(want, sizeof want, "%zu bytes", SIZE_MAX / 4);
    CHECK_MSG(!(WIFEXITED(st) && WEXITSTATUS(st) == 3), "malloc of SIZE_MAX/4 succeeded");
    CHECK_MSG(strstr(buf, "out of memory") && strstr(buf, want), "stderr: '%s'", buf);
    /* the variant for sizes from outside input reports through tt_err */
    tt_err err = {0};
    volatile size_t huge = SIZE_MAX / 4;
    void *p = tt_try_malloc(huge, "in.npy", &err);
    free(p);
    CHECK_MSG(!p && strstr(err.msg, want) && strstr(err.msg, "for in.npy"), "'%s'", err.msg);
    void *q = tt_try_malloc(16, "x", &err);
    err = (tt_err){0};
    void *r = q ? tt_try_realloc(q, huge, "x", &err) : NULL;
    free(r ? r : q); /* a failed realloc leaves q allocated */
    CHECK_MSG(q && !r && strstr(err.msg, want), "'%s'", err.msg);
}

/* An error message gets one ": " between a context and the message, even
 * from a context written with its own separator; a context that already
 * heads the message is not repeated. */
static void test_err_prefix_separators(void)
{
    tt_err err = {0};
    tt_err_set(&err, "bad thing");
    tt_err_prefix(&err, "%s: ", "file.npy");
    tt_err_prefix(&err, "header:");
    tt_err_prefix(&err, "run");
    CHECK_MSG(!strcmp(err.msg, "run: header: file.npy: bad thing"), "'%s'", err.msg);
    tt_err_prefix(&err, "run");
    CHECK_MSG(!strcmp(err.msg, "run: header: file.npy: bad thing"), "'%s'", err.msg);
}

const tt_test tests_util[] = {
    {"temp_dir_remove_tree", test_temp_dir_remove_tree},
    {"read_file_refuses_non_regular", test_read_file_refuses_non_regular},
    {"read_file_limit", test_read_file_limit},
    {"xmalloc_failure_message", test_xmalloc_failure_message},
    {"err_prefix_separators", test_err_prefix_separators},
    {NULL, NULL},
};
