/* main.c - runs every module's test table; `build/tests [filter]` runs the
 * tests whose "module/name" contains filter.  One line a test on stdout
 * ("ok", "FAIL" or "skip" with its reason); ends with
 * "N passed, N failed, N skipped" and exits 1 if any test failed. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

int tt_test_failed_flag;
static int skipped_flag;
static char skip_reason[512];

void tt_test_fail(const char *file, int line, const char *what)
{
    /* what is missing made the check fail: the test stays a skip */
    if (skipped_flag && !tt_test_failed_flag) {
        fprintf(stderr, "    (after the skip, not counted) %s:%d: %s\n", file, line, what);
        return;
    }
    fprintf(stderr, "    FAILED %s:%d: %s\n", file, line, what);
    tt_test_failed_flag = 1;
}

void tt_test_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char why[sizeof skip_reason];
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    fprintf(stderr, "    SKIP: %s\n", why);
    /* the first reason is the one reported */
    if (!skipped_flag)
        snprintf(skip_reason, sizeof skip_reason, "%s", why);
    skipped_flag = 1;
}

/* The folders a data file is looked for in, in order: $TT_SHARED_DATA when
 * set (an explicit choice wins), then the repository's own tests/data (the
 * tests run from the repository root), then ../shared/data, a folder beside
 * the repository read when present but never required (the files the tests
 * need are all in tests/data). */
static size_t data_dirs(const char *dirs[3])
{
    size_t n = 0;
    const char *p = getenv("TT_SHARED_DATA");
    if (p && *p)
        dirs[n++] = p;
    dirs[n++] = "tests/data";
    dirs[n++] = "../shared/data";
    return n;
}

const char *tt_test_shared_file(char *buf, size_t n, const char *rel, ...)
{
    char r[512];
    va_list ap;
    va_start(ap, rel);
    vsnprintf(r, sizeof r, rel, ap);
    va_end(ap);
    const char *dirs[3];
    size_t nd = data_dirs(dirs);
    for (size_t i = 0; i < nd; i++) {
        snprintf(buf, n, "%s/%s", dirs[i], r);
        if (access(buf, R_OK) == 0)
            return buf;
    }
    tt_test_skip("%s not found in tests/data (nor $TT_SHARED_DATA, ../shared/data)", r);
    return NULL;
}

const char *tt_test_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

extern const tt_test tests_util[], tests_dag[], tests_record[], tests_sched[], tests_codegen[], tests_codegen_units[],
    tests_measure[], tests_cli[], tests_cli_run[], tests_graph[], tests_zoo[], tests_npy[],
    tests_onnx[],
    tests_model[], tests_bert[], tests_tune[], tests_db[], tests_db_rows[], tests_search[], tests_cost[],
    tests_policy[], tests_transfer[], tests_winograd[], tests_fuzz[], tests_layers[],
    tests_docs[], tests_python[], tests_api[], tests_mpi[], tests_hmac[], tests_remote[];

static const struct {
    const char *module;
    const tt_test *tests;
} tables[] = {
    {"util", tests_util},       {"dag", tests_dag},         {"record", tests_record},
    {"sched", tests_sched},     {"codegen", tests_codegen}, {"codegen", tests_codegen_units}, {"measure", tests_measure},
    {"cli", tests_cli},         {"graph", tests_graph},     {"zoo", tests_zoo},
    {"cli", tests_cli_run},
    {"npy", tests_npy},         {"onnx", tests_onnx},       {"model", tests_model},
    {"bert", tests_bert},         {"tune", tests_tune},
    {"db", tests_db},
    {"db", tests_db_rows},
    {"search", tests_search},
    {"cost", tests_cost},
    {"policy", tests_policy},
    {"transfer", tests_transfer},
    {"winograd", tests_winograd},
    {"fuzz", tests_fuzz},
    {"layers", tests_layers},
    {"docs", tests_docs},
    {"python", tests_python},
    {"api", tests_api},
    {"mpi", tests_mpi},
    {"hmac", tests_hmac},
    {"remote", tests_remote},
};

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0, skipped = 0;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        for (const tt_test *x = tables[t].tests; x->name; x++) {
            char full[256];
            snprintf(full, sizeof full, "%s/%s", tables[t].module, x->name);
            if (filter && !strstr(full, filter))
                continue;
            tt_test_failed_flag = 0;
            skipped_flag = 0;
            skip_reason[0] = 0;
            fprintf(stderr, "%s ...\n", full);
            x->fn();
            if (tt_test_failed_flag) {
                failed++;
                printf("FAIL %s\n", full);
            } else if (skipped_flag) {
                skipped++;
                printf("skip %s: %s\n", full, skip_reason);
            } else {
                passed++;
                printf("ok   %s\n", full);
            }
            fflush(stdout);
        }
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
