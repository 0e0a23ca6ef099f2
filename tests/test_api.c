/* test_api.c - the public API (include/transtune.h), used as an application
 * would: this file includes nothing of src/.  A model loaded, described,
 * built, run on the caller's buffers and timed; a model of three inputs
 * against PyTorch's output; export; tune and transfer into a database and a
 * build that uses it; and the errors a caller can make. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "transtune.h"

/* tiny: load, describe, build, run, time, export; errors */
static void test_api_tiny(void)
{
    transtune_error err = {""};
    transtune_model *m = NULL;
    CHECK_MSG(transtune_load("tiny", NULL, 0, &m, &err) == 0 && m, "%s", err.msg);
    if (!m)
        return;
    transtune_tensor_info in, out;
    CHECK(transtune_num_inputs(m) == 1 && transtune_input_info(m, 0, &in) == 0 && transtune_output_info(m, &out) == 0);
    CHECK(in.ndim == 4 && in.shape[1] == 3 && !strcmp(in.dtype, "float32") && in.numel == 3 * 32 * 32);
    CHECK(transtune_input_info(m, 1, &in) == -1 && transtune_num_kernels(m) >= 5 && transtune_gflop(m) > 0);
    float *x = calloc((size_t)in.numel, sizeof *x), *y = calloc((size_t)out.numel, sizeof *y);
    for (int64_t i = 0; i < in.numel; i++)
        x[i] = (float)sin((double)i);
    const void *ins[1] = {x};
    /* not built yet */
    CHECK(transtune_run(m, ins, 1, y, out.numel, &err) == -1 && strstr(err.msg, "not built"));
    transtune_build_opts bo = {.threads = 1, .winograd = TRANSTUNE_WINOGRAD_OFF};
    transtune_build_info bi;
    CHECK_MSG(transtune_build(m, &bo, &bi, &err) == 0, "%s", err.msg);
    CHECK(bi.kernels >= 5 && bi.kernels_from_records == 0);
    CHECK_MSG(transtune_run(m, ins, 1, y, out.numel, &err) == 0, "%s", err.msg);
    double s = 0;
    for (int64_t i = 0; i < out.numel; i++)
        s += fabs(y[i]);
    CHECK(s > 0 && isfinite(s));
    CHECK(transtune_run(m, ins, 2, y, out.numel, &err) == -1 && strstr(err.msg, "the model takes 1"));
    CHECK(transtune_run(m, ins, 1, y, out.numel - 1, &err) == -1 && strstr(err.msg, "room for"));
    double ms = 0;
    CHECK_MSG(transtune_time(m, 3, &ms, &err) == 0 && ms > 0, "%s", err.msg);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/tt-test-api.XXXXXX", tt_test_tmpdir());
    CHECK(mkdtemp(dir) != NULL);
    CHECK_MSG(transtune_export(m, dir, "tinyapi", &err) == 0, "%s", err.msg);
    char p[600];
    snprintf(p, sizeof p, "%s/libtinyapi.so", dir);
    CHECK(access(p, R_OK) == 0);
    snprintf(p, sizeof p, "rm -rf '%s'", dir);
    CHECK(system(p) == 0);
    free(x), free(y);
    transtune_free(m);
    /* loading errors */
    CHECK(transtune_load("no_such_model", NULL, 0, &m, &err) == -1 && !m && strstr(err.msg, "no_such_model"));
    transtune_shape sh = {"input", 2, {1, 3}};
    CHECK(transtune_load("tiny", &sh, 1, &m, &err) == -1 && strstr(err.msg, "--shape applies to ONNX files"));
    CHECK(transtune_load(NULL, NULL, 0, &m, &err) == -1);
    CHECK(transtune_zoo_name(0) != NULL && transtune_zoo_name(100000) == NULL);
}

/* tests/data/onnx/masked.onnx: three int64 inputs, PyTorch's output */
static void test_api_masked(void)
{
    transtune_error err = {""};
    transtune_model *m = NULL;
    CHECK_MSG(transtune_load("tests/data/onnx/masked.onnx", NULL, 0, &m, &err) == 0, "%s", err.msg);
    if (!m)
        return;
    CHECK(transtune_num_inputs(m) == 3);
    /* the .npy files: int64 [1, 10] after a 128-byte header (numpy's v1 format for small arrays) */
    static const char *const names[3] = {"input_ids", "attention_mask", "token_type_ids"};
    int64_t buf[3][10];
    const void *ins[3];
    for (int i = 0; i < 3; i++) {
        transtune_tensor_info ti;
        CHECK(transtune_input_info(m, i, &ti) == 0 && !strcmp(ti.name, names[i]) && !strcmp(ti.dtype, "int64"));
        char p[256];
        snprintf(p, sizeof p, "tests/data/onnx/masked.in.%s.npy", names[i]);
        FILE *f = fopen(p, "rb");
        CHECK(f && fseek(f, 128, SEEK_SET) == 0 && fread(buf[i], 8, 10, f) == 10);
        if (f)
            fclose(f);
        ins[i] = buf[i];
    }
    float y[160], ref[160];
    FILE *f = fopen("tests/data/onnx/masked.out.npy", "rb");
    CHECK(f && fseek(f, 128, SEEK_SET) == 0 && fread(ref, 4, 160, f) == 160);
    if (f)
        fclose(f);
    CHECK_MSG(transtune_build(m, NULL, NULL, &err) == 0 && transtune_run(m, ins, 3, y, 160, &err) == 0, "%s",
              err.msg);
    double md = 0, mr = 0;
    for (int i = 0; i < 160; i++) {
        md = fmax(md, fabs((double)y[i] - ref[i]));
        mr = fmax(mr, fabs(ref[i]));
    }
    CHECK_MSG(mr > 0 && md <= 1e-4 * mr, "%g of %g", md, mr);
    transtune_free(m);
}

static void on_progress(void *ctx, int64_t trials, double est_ms)
{
    (*(int *)ctx)++;
    (void)trials, (void)est_ms;
}

/* tune tiny into a fresh database, transfer to tiny_wide from it, build
 * tiny with the database */
static void test_api_tune_transfer(void)
{
    char dir[512], db[600];
    snprintf(dir, sizeof dir, "%s/tt-test-api-db.XXXXXX", tt_test_tmpdir());
    CHECK(mkdtemp(dir) != NULL);
    snprintf(db, sizeof db, "%s/t.db", dir);
    transtune_error err = {""};
    transtune_model *m = NULL, *w = NULL;
    CHECK_MSG(transtune_load("tiny", NULL, 0, &m, &err) == 0, "%s", err.msg);
    if (!m)
        return;
    int rounds = 0;
    transtune_tune_opts to = {.db = db, .trials = 24, .threads = 1, .seed = 3, .progress = on_progress, .ctx = &rounds};
    transtune_tune_result tr;
    CHECK_MSG(transtune_tune(m, &to, &tr, &err) == 0, "%s", err.msg);
    CHECK(tr.trials >= 24 && tr.trials_run >= 24 && tr.untuned_ms > 0 && tr.est_ms > 0 && rounds > 0);
    transtune_build_opts bo = {.db = db, .threads = 1};
    transtune_build_info bi;
    CHECK_MSG(transtune_build(m, &bo, &bi, &err) == 0, "%s", err.msg);
    /* every kernel has a record in the database: each runs it or lost to its default in place */
    CHECK(bi.kernels_from_records + bi.records_dropped >= 1);
    CHECK_MSG(transtune_load("tiny_wide", NULL, 0, &w, &err) == 0, "%s", err.msg);
    const char *from[1] = {"tiny"};
    transtune_transfer_opts xo = {.db = db, .from = from, .nfrom = 1, .threads = 1};
    transtune_transfer_result xr;
    CHECK_MSG(w && transtune_transfer(w, &xo, &xr, &err) == 0, "%s", err.msg);
    CHECK(xr.untuned_ms > 0 && xr.transferred_ms > 0 && xr.speedup > 0);
    CHECK(transtune_tune(m, NULL, &tr, &err) == -1);
    transtune_free(w);
    transtune_free(m);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

const tt_test tests_api[] = {
    {"tiny", test_api_tiny},
    {"masked", test_api_masked},
    {"tune_transfer", test_api_tune_transfer},
    {NULL, NULL},
};
