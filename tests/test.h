/* test.h - the plain C test harness.  Each module's test file defines a table
 *   const tt_test tests_<module>[] = { {"name", fn}, ..., {NULL, NULL} };
 * listed in tests/main.c.  A test fails by CHECK and is skipped by SKIP; the
 * runner prints one line per test and ends with
 * "N passed, N failed, N skipped".
 *
 * The one rule for what a test needs from outside this repository and its
 * build (a tool such as gcc or python3 with numpy, a data file that is
 * neither in tests/data nor in $TT_SHARED_DATA, a program `make` builds,
 * such as build/transtune, when only the runner was built): when it is
 * missing the test is skipped with a reason that names it, never passed; when
 * it is there but fails, the test fails. */
#ifndef TT_TEST_H
#define TT_TEST_H

#include <stddef.h>
#include <stdio.h>

/* The folder of the programs the tests run (build/transtune,
 * build/transtune-runner, build/fuzz-replay/...): the Makefile's build
 * folder B, passed as -DTT_TEST_BUILD_DIR='"build"' (build-san for make
 * test-sanitize, whose tests run its sanitized programs). */
#ifndef TT_TEST_BUILD_DIR
#define TT_TEST_BUILD_DIR "build"
#endif

typedef struct tt_test {
    const char *name;
    void (*fn)(void);
} tt_test;

extern int tt_test_failed_flag;
void tt_test_fail(const char *file, int line, const char *what);

/* Mark the running test skipped, with a reason (printf format) that says what
 * is missing and how to get it.  The caller returns; a CHECK that fails after
 * the skip (the consequence of what is missing) is printed but not counted. */
void tt_test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            tt_test_fail(__FILE__, __LINE__, #cond);                                               \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "    " __VA_ARGS__);                                                   \
            fprintf(stderr, "\n");                                                                 \
            tt_test_fail(__FILE__, __LINE__, #cond);                                               \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* Skip the running test with a reason (printf format) and return from it. */
#define SKIP(...)                                                                                  \
    do {                                                                                           \
        tt_test_skip(__VA_ARGS__);                                                                 \
        return;                                                                                    \
    } while (0)

/* The folder for a test's temporary files: $TMPDIR, or /tmp when it is
 * unset or empty.  A test never writes to a fixed path under /tmp. */
const char *tt_test_tmpdir(void);

/* The path of a data file of the tests, rel (printf format, e.g.
 * "ansor/%s"), written to buf and returned: the first readable one of
 * $TT_SHARED_DATA/rel (when set), tests/data/rel and ../shared/data/rel (a
 * folder beside the repository, optional).  If none can be read the running
 * test is skipped (tt_test_skip, naming the file) and NULL returned: the
 * caller then returns. */
const char *tt_test_shared_file(char *buf, size_t n, const char *rel, ...)
    __attribute__((format(printf, 3, 4)));

#endif
