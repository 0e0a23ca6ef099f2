/* fuzz_jobs.c - libFuzzer target for the measurement-job reader
 * (tt_jobs_unpack, tt_jobs_unpack_results), which reads what transtune-mpi's
 * rank 0 sends its workers and what the remote runner receives over the
 * network (after its tag is checked; the tag is no defence against the
 * key's holder).
 *
 *   make fuzz
 *   mkdir -p build/corpus_jobs
 *   ./build/fuzz_jobs -max_total_time=300 build/corpus_jobs fuzz/corpus_jobs
 *
 * Seeds in fuzz/corpus_jobs: jobs packed by tt_jobs_pack in its three modes
 * (sources, results, built), written by `FUZZ_JOBS_SEEDS=DIR build/fuzz-replay/jobs`.
 *
 * Properties checked (a violation aborts):
 *   - a refused input leaves no jobs and a printable message;
 *   - accepted jobs have counts, sizes and strings within their bounds, and
 *     pack back into bytes that unpack to the same jobs' shape;
 *   - results unpacked into jobs of another shape are refused.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/measure/evaluate.h"

static void check_msg(const tt_err *err)
{
    if (!err->msg[0])
        abort();
    for (const char *p = err->msg; *p; p++)
        if ((unsigned char)*p < 0x20)
            abort();
}

/* Seeds: one message per mode. */
static void write_seeds(const char *dir)
{
    tt_job j;
    memset(&j, 0, sizeof j);
    j.task = 1, j.io.nin = 1, j.io.numel[0] = 8, j.io.numel[1] = 8, j.tol = 4;
    snprintf(j.ref_fn, sizeof j.ref_fn, "ref");
    j.ref_src = "void ref(void) {}";
    j.nitems = 1;
    tt_job_item it;
    memset(&it, 0, sizeof it);
    snprintf(it.fn, sizeof it.fn, "c0");
    it.src = "void c0(void) {}";
    j.items = &it;
    tt_run_opts ro = {.threads = 1, .repeat = 3, .timeout_s = 10, .seed = 1};
    for (int mode = 0; mode < 3; mode++) {
        tt_str s;
        tt_str_init(&s);
        tt_jobs_pack(&j, 1, &ro, mode, &s);
        char path[512];
        snprintf(path, sizeof path, "%s/mode%d", dir, mode);
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(s.buf, 1, s.len, f);
            fclose(f);
        }
        tt_str_free(&s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int seeded;
    if (!seeded++ && getenv("FUZZ_JOBS_SEEDS"))
        write_seeds(getenv("FUZZ_JOBS_SEEDS"));
    tt_job *jobs = NULL;
    int n = 0;
    tt_run_opts ro;
    tt_err err = {0};
    if (tt_jobs_unpack(data, size, &jobs, &n, &ro, &err)) {
        check_msg(&err);
        if (jobs || n)
            abort();
        return 0;
    }
    if (n < 0 || n > 4096)
        abort();
    for (int j = 0; j < n; j++) {
        const tt_job *J = &jobs[j];
        if (J->io.nin < 0 || J->io.nin >= TT_MAX_ARGS || J->nitems < 0 || J->ref.n < 0 ||
            strnlen(J->ref_fn, sizeof J->ref_fn) == sizeof J->ref_fn)
            abort();
        for (int i = 0; i < J->nitems; i++)
            if (strnlen(J->items[i].fn, sizeof J->items[i].fn) == sizeof J->items[i].fn ||
                J->items[i].res.ncosts < 0 || J->items[i].res.ncosts > TT_MAX_COSTS)
                abort();
    }
    /* pack and read back: the same shape */
    tt_str s;
    tt_str_init(&s);
    tt_jobs_pack(jobs, n, &ro, 1, &s);
    tt_job *back = NULL;
    int nb = 0;
    if (tt_jobs_unpack(s.buf, s.len, &back, &nb, NULL, &err) || nb != n)
        abort();
    for (int j = 0; j < n; j++)
        if (back[j].nitems != jobs[j].nitems || back[j].task != jobs[j].task)
            abort();
    /* results for other jobs: refused */
    if (n > 0 && tt_jobs_unpack_results(s.buf, s.len, jobs, n - 1, &err) == 0)
        abort();
    for (int j = 0; j < nb; j++)
        tt_job_free(&back[j]);
    free(back);
    for (int j = 0; j < n; j++)
        tt_job_free(&jobs[j]);
    free(jobs);
    tt_str_free(&s);
    return 0;
}
