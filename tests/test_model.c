/* test_model.c - graph passes, fusion, kernels and the executor, on zoo
 * models, ONNX fixtures with outputs computed by PyTorch, and the shared
 * Ansor log's workloads. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../src/exec/exec.h"
#include "../src/record/identify.h"
#include "../src/util/npy.h"
#include "../src/zoo/zoo.h"
#include "test.h"

static int has_class(const tt_model *m, const char *key)
{
    for (int k = 0; k < m->nkernels; k++)
        if (!strcmp(m->kernels[k].dag->class_key, key))
            return 1;
    return 0;
}

/* The tiny model's kernels: the classes fusion must find, and weights that
 * add up to the calls. */
static void test_tiny_kernels(void)
{
    tt_model *m = NULL;
    tt_err err = {0};
    CHECK_MSG(tt_model_load("tiny", &m, &err) == 0, "%s", err.msg);
    int calls = 0; /* Winograd twins are alternatives: not counted */
    for (int k = 0; k < m->nkernels; k++)
        calls += m->kernels[k].alt_of < 0 ? m->kernels[k].weight : 0;
    int kernel_calls = 0;
    for (int c = 0; c < m->ncalls; c++)
        kernel_calls += m->calls[c].kind == TT_MCALL_KERNEL;
    CHECK(calls == kernel_calls);
    for (int k = 0; k < m->nkernels; k++)
        fprintf(stderr, "    %-40s x%d %s\n", m->kernels[k].dag->class_key, m->kernels[k].weight,
                m->kernels[k].first_node);
    CHECK(has_class(m, "conv2d_nhwc+add+relu"));
    CHECK(has_class(m, "dense+add"));
    CHECK(has_class(m, "adaptive_pool_avg"));
    /* the model input is converted to NHWC by a transpose kernel */
    CHECK(has_class(m, "transpose"));
    tt_model_free(m);
}

/* Run a model with default schedules and with the unscheduled reference
 * executor on the same random input; outputs must agree and be non-trivial. */
static int run_check(const char *name, int threads)
{
    tt_model *m = NULL;
    tt_err err = {0};
    if (tt_model_load(name, &m, &err)) {
        fprintf(stderr, "    %s\n", err.msg);
        return 0;
    }
    const tt_tensor *IT = &m->g->tensors[m->input];
    int64_t in_n = tt_tensor_numel(IT), out_n = tt_tensor_numel(&m->g->tensors[m->output]);
    float *in = malloc((size_t)in_n * sizeof *in), *a = malloc((size_t)out_n * sizeof *a),
          *b = malloc((size_t)out_n * sizeof *b);
    tt_rng r;
    tt_rng_seed(&r, 7);
    for (int64_t i = 0; i < in_n; i++)
        in[i] = (float)(2 * tt_rng_unit(&r) - 1);
    tt_exec *e = NULL, *x = NULL;
    tt_exec_opts o = {.threads = threads};
    int ok = tt_exec_build(m, &o, &e, &err) == 0 && tt_exec_run(e, in, a, &err) == 0;
    /* a second run without new input gives the same output (the input
     * buffer is not reused by the memory plan) */
    float *a2 = malloc((size_t)out_n * sizeof *a2);
    ok = ok && tt_exec_run(e, NULL, a2, &err) == 0;
    if (ok && memcmp(a, a2, (size_t)out_n * sizeof *a)) {
        fprintf(stderr, "    %s: a second run gave another output\n", name);
        ok = 0;
    }
    free(a2);
    /* the footprint: activations as the executor planned them; weights
     * against torchvision's parameter counts (BatchNorm folded into the
     * convs removes only its per-channel parameters, well under 2%) */
    if (ok) {
        int64_t wb, ab;
        tt_exec_footprint(m, &wb, &ab);
        double params = !strcmp(name, "resnet18") ? 11689512 : !strcmp(name, "mobilenet_v2") ? 3504872 : 0;
        if (ab != tt_exec_get_stats(e)->pool_bytes || wb <= 0 ||
            (params > 0 && fabs(wb / 4.0 - params) > 0.02 * params)) {
            fprintf(stderr, "    %s: footprint %lld weight bytes, %lld activation bytes (pool %lld)\n",
                    name, (long long)wb, (long long)ab, (long long)tt_exec_get_stats(e)->pool_bytes);
            ok = 0;
        }
    }
    o.unscheduled = 1;
    ok = ok && tt_exec_build(m, &o, &x, &err) == 0 && tt_exec_run(x, in, b, &err) == 0;
    if (!ok)
        fprintf(stderr, "    %s: %s\n", name, err.msg);
    double max_abs = 0, max_ref = 0, spread = 0;
    for (int64_t i = 0; ok && i < out_n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= max_abs))
            max_abs = isnan(d) ? INFINITY : d;
        if (fabs(b[i]) > max_ref)
            max_ref = fabs(b[i]);
        spread += fabs((double)b[i] - b[0]);
    }
    if (ok) {
        fprintf(stderr, "    %s: %d kernels, %d calls, max|ours-ref|/max|ref| = %.3g (max|ref| %.3g)\n",
                name, m->nkernels, m->ncalls, max_abs / max_ref, max_ref);
        ok = max_ref > 0 && spread > 0 && max_abs <= 1e-3 * max_ref;
    }
    tt_exec_free(e);
    tt_exec_free(x);
    tt_model_free(m);
    free(in), free(a), free(b);
    return ok;
}

static void test_run_check_tiny(void) { CHECK(run_check("tiny", 2)); }
static void test_run_check_resnet18(void) { CHECK(run_check("resnet18", 2)); }
static void test_run_check_mobilenet_v2(void) { CHECK(run_check("mobilenet_v2", 2)); }

/* Every workload of the shared ResNet-50 log is a kernel of resnet50_tvm:
 * the zoo model, our passes and fusion give exactly the DAGs TVM tuned. */
static void test_resnet50_tvm_covers_log(void)
{
    tt_model *m = NULL;
    tt_err err = {0};
    CHECK_MSG(tt_model_load("resnet50_tvm", &m, &err) == 0, "%s", err.msg);
    char path[512];
    snprintf(path, sizeof path, "%s/ansor/resnet-50-NHWC-B1-llvm.json", tt_test_shared_data());
    size_t len;
    char *text = tt_read_file(path, &len, &err);
    CHECK_MSG(text, "%s", err.msg);
    int lines = 0, covered = 0;
    tt_record *rec = malloc(sizeof *rec);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] != '{')
            continue;
        lines++;
        tt_dag *d = NULL;
        char desc[160];
        tt_err e = {0};
        if (tt_record_parse(line, rec, &e) || tt_identify_record(rec, &d, NULL, desc, sizeof desc, &e)) {
            fprintf(stderr, "    record %d: %s\n", lines, e.msg);
            continue;
        }
        char *key = tt_dag_workload_key(d);
        int found = 0;
        for (int k = 0; k < m->nkernels; k++)
            found |= !strcmp(m->kernels[k].workload_key, key);
        covered += found;
        if (!found)
            fprintf(stderr, "    not in resnet50_tvm: %s  %s\n", desc, key);
        free(key);
        tt_dag_free(d);
    }
    free(rec);
    free(text);
    fprintf(stderr, "    %d of %d log workloads are kernels of resnet50_tvm (%d kernels)\n", covered,
            lines, m->nkernels);
    tt_model_free(m);
    CHECK(lines == 26 && covered == lines);
}

/* ONNX fixtures (scripts/make-onnx-fixtures.py): our output on the stored
 * input equals PyTorch's stored output. */
static void test_onnx_fixtures_match_torch(void)
{
    static const char *const names[] = {"convnet", "transformer", "shapechain", "catsplit", "resblocks", "densebits",
                                        "legacy10", "shuffle", NULL};
    for (int i = 0; names[i]; i++) {
        char path[256], inp[256], outp[256];
        snprintf(path, sizeof path, "tests/data/onnx/%s.onnx", names[i]);
        snprintf(inp, sizeof inp, "tests/data/onnx/%s.in.npy", names[i]);
        snprintf(outp, sizeof outp, "tests/data/onnx/%s.out.npy", names[i]);
        tt_model *m = NULL;
        tt_err err = {0};
        tt_npy in = {0}, want = {0};
        CHECK_MSG(tt_model_load(path, &m, &err) == 0, "%s", err.msg);
        CHECK_MSG(tt_npy_read(inp, &in, &err) == 0 && tt_npy_read(outp, &want, &err) == 0, "%s",
                  err.msg);
        CHECK(want.numel == tt_tensor_numel(&m->g->tensors[m->output]));
        if (!strcmp(names[i], "shuffle")) {
            /* the layout pass keeps the shuffle block NHWC: its Reshape ->
             * Transpose -> Reshape is one channel shuffle kernel, and no
             * transpose is left but the model's input and output ones */
            int shuffles = 0, transposes = 0;
            for (int k = 0; k < m->nkernels; k++) {
                shuffles += !strcmp(m->kernels[k].dag->class_key, "channel_shuffle");
                transposes += !strcmp(m->kernels[k].dag->class_key, "transpose");
            }
            CHECK_MSG(shuffles == 1 && transposes <= 2, "shuffle kernels %d, transposes %d", shuffles,
                      transposes);
        }
        float *got = malloc((size_t)want.numel * sizeof *got);
        tt_exec *e = NULL;
        tt_exec_opts o = {.threads = 2};
        CHECK_MSG(tt_exec_build(m, &o, &e, &err) == 0 && tt_exec_run(e, in.data, got, &err) == 0,
                  "%s: %s", names[i], err.msg);
        double max_abs = 0, max_ref = 0;
        const float *w = want.data;
        for (int64_t k = 0; k < want.numel; k++) {
            double d = fabs((double)got[k] - w[k]);
            max_abs = d > max_abs || isnan(d) ? d : max_abs;
            max_ref = fabs(w[k]) > max_ref ? fabs(w[k]) : max_ref;
        }
        fprintf(stderr, "    %-12s %d kernels: max|ours - torch| / max|torch| = %.3g\n", names[i],
                m->nkernels, max_abs / max_ref);
        tt_exec_free(e);
        tt_model_free(m);
        free(got);
        tt_npy_free(&in);
        tt_npy_free(&want);
        CHECK(max_ref > 0 && max_abs <= 1e-4 * max_ref);
    }
    /* integer activations (Equal/Where on token ids) are not supported: a
     * clear error naming the operator and the node */
    tt_model *m = NULL;
    tt_err err = {0};
    CHECK(tt_model_load("tests/data/onnx/embed17.onnx", &m, &err) != 0 && !m);
    CHECK_MSG(strstr(err.msg, "unsupported operator 'Equal' (node '/Equal')"), "%s", err.msg);
}

const tt_test tests_model[] = {
    {"onnx_fixtures_match_torch", test_onnx_fixtures_match_torch},
    {"tiny_kernels", test_tiny_kernels},
    {"run_check_tiny", test_run_check_tiny},
    {"resnet50_tvm_covers_log", test_resnet50_tvm_covers_log},
    {"run_check_resnet18", test_run_check_resnet18},
    {"run_check_mobilenet_v2", test_run_check_mobilenet_v2},
    {NULL, NULL},
};
