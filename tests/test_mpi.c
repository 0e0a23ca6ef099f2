/* test_mpi.c - transtune-mpi under mpirun (Open MPI, oversubscribed on this
 * host): a search whose candidates the worker ranks measure gives checked
 * records; a worker killed mid-run costs its chunk only and the run
 * finishes; a rank of another CPU class is refused and the run goes on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/util/util.h"
#include "test.h"

/* mpirun with the options every test uses (root allowed: CI runs as root) */
#define MPIRUN "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout 600 mpirun --oversubscribe " \
               "--enable-recovery"

static int have_mpi(void)
{
    char p[256];
    snprintf(p, sizeof p, "%s/transtune-mpi", TT_TEST_BUILD_DIR);
    if (access(p, X_OK) != 0) {
        tt_test_skip("%s is missing (Open MPI's libopenmpi-dev: scripts/install-deps.sh, then make)", p);
        return 0;
    }
    if (system("command -v mpirun > /dev/null 2>&1") != 0) {
        tt_test_skip("mpirun is missing (openmpi-bin: scripts/install-deps.sh)");
        return 0;
    }
    return 1;
}

/* Run `mpi` (an mpirun command line) then `db check` on the database; the
 * folder, the two outputs in out and err. */
static int run_mpi(const char *dir, const char *mpi, char **out, char **err)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && %s > mpi.out 2> mpi.err", dir, mpi);
    int st = system(cmd);
    char p[600];
    snprintf(p, sizeof p, "%s/mpi.out", dir);
    *out = tt_read_file_max(p, 1 << 24, NULL, NULL);
    snprintf(p, sizeof p, "%s/mpi.err", dir);
    *err = tt_read_file_max(p, 1 << 24, NULL, NULL);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `transtune db check` then `db stats` of dir/name: their output (malloc'd) */
static char *db_check(const char *dir, const char *name)
{
    char cmd[1200], p[600];
    snprintf(cmd, sizeof cmd, "%s/transtune db check --db '%s/%s' > '%s/check.out' 2>&1 && %s/transtune db stats --db '%s/%s' >> '%s/check.out' 2>&1",
             TT_TEST_BUILD_DIR, dir, name, dir, TT_TEST_BUILD_DIR, dir, name, dir);
    if (system(cmd) != 0)
        return NULL;
    snprintf(p, sizeof p, "%s/check.out", dir);
    return tt_read_file_max(p, 1 << 20, NULL, NULL);
}

static void mpi_case(const char *mpi_args, int trials, const char *want_err, const char *want_check)
{
    if (!have_mpi())
        return;
    char dir[512], bin[1024], mpi[3072];
    snprintf(dir, sizeof dir, "%s/tt-test-mpi.XXXXXX", tt_test_tmpdir());
    CHECK(mkdtemp(dir) != NULL);
    char cwd[1024];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(bin, sizeof bin, "%s/%s/transtune-mpi tune tiny --db m.db --trials %d --threads 1", cwd,
             TT_TEST_BUILD_DIR, trials);
    snprintf(mpi, sizeof mpi, MPIRUN " %s", mpi_args);
    /* the argument list may name the binary twice (MPMD): %1$s */
    char full[4096];
    snprintf(full, sizeof full, mpi, bin, bin);
    char *out = NULL, *err = NULL;
    int code = run_mpi(dir, full, &out, &err);
    /* after a rank died, Open MPI's finalize can hang (mpi_main.c, finalize):
     * then the ranks leave after TT_MPI_FINALIZE_S and say so, and mpirun's
     * status is its own; what must hold is the command's work, checked below */
    int overdue = err && strstr(err, "MPI_Finalize did not return") && strstr(mpi_args, "TEST_DIE");
    CHECK_MSG(code == 0 || overdue, "exit %d: %s\n%s", code, full, err ? err : "");
    CHECK_MSG(err && strstr(err, want_err), "stderr lacks '%s': %s", want_err, err ? err : "");
    char *chk = db_check(dir, "m.db");
    /* every record measured on a worker and checked there: none with an error */
    char clean[96];
    snprintf(clean, sizeof clean, "(%d measured without error)", trials);
    CHECK_MSG(chk && strstr(chk, want_check) && strstr(chk, clean), "db check and stats: %s", chk ? chk : "(failed)");
    free(out), free(err), free(chk);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* two workers measure; the records check */
static void test_mpi_tune(void) { mpi_case("-np 3 %s", 24, "3 rank(s), 2 worker(s) measuring", "ok (24 records)"); }

/* rank 1 kills itself at its second chunk: given up, its chunk measured by
 * rank 2, every trial recorded */
static void test_mpi_worker_dies(void)
{
    mpi_case("-x TT_MPI_TEST_DIE=1:2 -x TT_MPI_SILENCE_S=4 -x TT_MPI_FINALIZE_S=20 -np 3 %s", 24, "rank 1 given up (silent)", "ok (24 records)");
}

/* rank 1 poses as another CPU class: refused, rank 0 measures alone */
static void test_mpi_class_refused(void)
{
    mpi_case("-np 1 %s : -np 1 -x TT_MPI_CPU_CLASS=another-machine %s", 8, "rank 1 refused: its CPU class (another-machine)",
             "ok (8 records)");
}

const tt_test tests_mpi[] = {
    {"tune", test_mpi_tune},
    {"worker_dies", test_mpi_worker_dies},
    {"class_refused", test_mpi_class_refused},
    {NULL, NULL},
};
