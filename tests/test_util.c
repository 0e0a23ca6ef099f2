/* test_util.c - the temporary-directory helpers that every build relies on
 * to leave nothing behind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

const tt_test tests_util[] = {
    {"temp_dir_remove_tree", test_temp_dir_remove_tree},
    {NULL, NULL},
};
