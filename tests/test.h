/* test.h - the plain C test harness.  Each module's test file defines a table
 *   const tt_test tests_<module>[] = { {"name", fn}, ..., {NULL, NULL} };
 * listed in tests/main.c.  A test fails by CHECK; the runner prints one line
 * per failure and ends with "N passed, N failed". */
#ifndef TT_TEST_H
#define TT_TEST_H

#include <stdio.h>

typedef struct tt_test {
    const char *name;
    void (*fn)(void);
} tt_test;

extern int tt_test_failed_flag;
void tt_test_fail(const char *file, int line, const char *what);

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

/* Path of the shared data folder (../shared/data by default, $TT_SHARED_DATA). */
const char *tt_test_shared_data(void);

#endif
