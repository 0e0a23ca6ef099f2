/* test_python.c - the Python package (python/transtune) through its own
 * tests (tests/python/test_transtune.py), run with Debian's /usr/bin/python3
 * (numpy from python3-numpy, which scripts/install-deps.sh installs; a
 * missing numpy fails the test rather than skipping it). */
#include <stdlib.h>
#include <string.h>

#include "test_cli.h"

static void test_package(void)
{
    if (!have_transtune())
        return;
    setenv("TRANSTUNE", TRANSTUNE, 1);
    setenv("PYTHONPATH", "python", 1);
    char *const argv[] = {"/usr/bin/python3", "tests/python/test_transtune.py", NULL};
    CHECK(run_argv(600, argv) == 0);
    CHECK_MSG(R.exited && R.code == 0, "exit %d\n%s%s", R.code, R.out ? R.out : "", R.err ? R.err : "");
    CHECK_MSG(R.out && strstr(R.out, "ok compile_and_call") && strstr(R.out, "ok tune_and_transfer"), "%s",
              R.out ? R.out : "");
    unsetenv("TRANSTUNE");
    unsetenv("PYTHONPATH");
}

const tt_test tests_python[] = {
    {"package", test_package},
    {NULL, NULL},
};
