/* test_model.c - graph passes, fusion, kernels and the executor, on zoo
 * models, ONNX fixtures with outputs computed by PyTorch, and the shared
 * Ansor log's workloads. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    if (!tt_test_shared_file(path, sizeof path, "ansor/resnet-50-NHWC-B1-llvm.json"))
        return;
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

/* The stored input of fixture `name` as tt_exec_run takes it: NAME.in.npy,
 * or for a model of several inputs NAME.in.INPUT.npy each (malloc'd; NULL
 * with err). */
static void *fixture_input(const tt_model *m, const char *name, tt_err *err)
{
    char *blob = tt_xmalloc((size_t)tt_model_input_bytes(m) + 1);
    for (int i = 0; i < m->ninputs; i++) {
        const tt_tensor *t = &m->g->tensors[m->inputs[i]];
        char path[256];
        if (m->ninputs == 1)
            snprintf(path, sizeof path, "tests/data/onnx/%s.in.npy", name);
        else
            snprintf(path, sizeof path, "tests/data/onnx/%s.in.%s.npy", name, t->name);
        tt_npy in = {0};
        if (tt_npy_read(path, &in, err) || in.dtype != t->dtype || in.numel != tt_tensor_numel(t)) {
            if (!err->msg[0])
                tt_err_set(err, "%s: not the input '%s'", path, t->name);
            tt_npy_free(&in);
            free(blob);
            return NULL;
        }
        memcpy(blob + tt_model_input_offset(m, i), in.data, (size_t)(in.numel * tt_dtype_size(t->dtype)));
        tt_npy_free(&in);
    }
    return blob;
}

/* ONNX fixtures (scripts/make-onnx-fixtures.py): our output on the stored
 * input equals PyTorch's stored output.  embed17 and masked compute on
 * integer ids and masks at run time (Equal, Cast, Where: host calls), masked
 * with three inputs; external is convnet with its weights in external.data. */
static void test_onnx_fixtures_match_torch(void)
{
    static const char *const names[] = {"convnet",   "transformer", "shapechain", "catsplit", "resblocks", "densebits",
                                        "legacy10",  "shuffle",     "attnbits",   "embed17",  "masked",    "acts",      "decoder",   "external",  "reduces",   NULL};
    for (int i = 0; names[i]; i++) {
        char path[256], outp[256];
        snprintf(path, sizeof path, "tests/data/onnx/%s.onnx", names[i]);
        snprintf(outp, sizeof outp, "tests/data/onnx/%s.out.npy", names[i]);
        tt_model *m = NULL;
        tt_err err = {0};
        tt_npy want = {0};
        CHECK_MSG(tt_model_load(path, &m, &err) == 0, "%s", err.msg);
        void *in = fixture_input(m, names[i], &err);
        CHECK_MSG(in && tt_npy_read(outp, &want, &err) == 0, "%s", err.msg);
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
        CHECK_MSG(tt_exec_build(m, &o, &e, &err) == 0 && tt_exec_run(e, in, got, &err) == 0,
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
        free(in);
        tt_npy_free(&want);
        CHECK(max_ref > 0 && max_abs <= 1e-4 * max_ref);
    }
}

/* ---- long elementwise chains --------------------------------------------------
 * A chain of elementwise nodes longer than one kernel may hold becomes several
 * kernels in order, each reading the one before (a chain of 65 Relus was
 * refused: "call 0 reads 'r63_out' before it is computed"), and building a
 * model is linear in the chain's length. */

typedef enum chain_kind { CHAIN_RELU = 0, CHAIN_CONV_RELU, CHAIN_MIXED } chain_kind;

#define CH_ROWS 4
#define CH_COLS 16
#define CH_CI 3
#define CH_CO 4
#define CH_HW 6

/* The constants of the chains, from their position: exact in float. */
static float ch_const(int i, int j) { return 0.0625f * (float)((i * 7 + j * 3) % 11) - 0.25f; }

/* x -> n elementwise nodes -> the output.
 *   CHAIN_RELU       x [4,16], Relu x n
 *   CHAIN_MIXED      x [4,16], node i: Relu, Sigmoid, Add of a constant row
 *                    [16], Add of x (an activation from outside), by i mod 4
 *   CHAIN_CONV_RELU  x [1,3,6,6], a 3x3 pad-1 Conv to 4 channels with bias,
 *                    then Relu x n */
static tt_graph *chain_graph(chain_kind kind, int n, tt_err *err)
{
    tt_graph *g = tt_graph_new(kind == CHAIN_RELU ? "relu_chain" : kind == CHAIN_MIXED ? "mixed_chain"
                                                                                       : "conv_relu_chain");
    int x, y;
    if (kind == CHAIN_CONV_RELU) {
        int64_t xs[4] = {1, CH_CI, CH_HW, CH_HW}, ws[4] = {CH_CO, CH_CI, 3, 3}, bs[1] = {CH_CO};
        float w[CH_CO * CH_CI * 9], b[CH_CO];
        for (int i = 0; i < CH_CO * CH_CI * 9; i++)
            w[i] = ch_const(i, 1);
        for (int i = 0; i < CH_CO; i++)
            b[i] = ch_const(i, 2);
        x = tt_graph_input(g, "x", TT_DT_FLOAT, 4, xs, err);
        int wt = tt_graph_const(g, "w", TT_DT_FLOAT, 4, ws, w, err);
        int bt = tt_graph_const(g, "b", TT_DT_FLOAT, 1, bs, b, err);
        y = tt_graph_op1(g, TT_GOP_CONV, "conv", 3, (int[]){x, wt, bt}, err);
        tt_node_set_ints(g, g->nnodes - 1, "kernel_shape", 2, (int64_t[]){3, 3});
        tt_node_set_ints(g, g->nnodes - 1, "pads", 4, (int64_t[]){1, 1, 1, 1});
    } else {
        y = x = tt_graph_input(g, "x", TT_DT_FLOAT, 2, (int64_t[]){CH_ROWS, CH_COLS}, err);
    }
    for (int i = 0; i < n && y >= 0; i++) {
        char name[32];
        snprintf(name, sizeof name, "r%d", i);
        int r = kind == CHAIN_MIXED ? i % 4 : 0;
        if (r == 2) {
            float c[CH_COLS];
            for (int j = 0; j < CH_COLS; j++)
                c[j] = ch_const(i, j);
            char cname[32];
            snprintf(cname, sizeof cname, "c%d", i);
            int ct = tt_graph_const(g, cname, TT_DT_FLOAT, 1, (int64_t[]){CH_COLS}, c, err);
            y = ct < 0 ? -1 : tt_graph_op1(g, TT_GOP_ADD, name, 2, (int[]){y, ct}, err);
        } else if (r == 3) {
            y = tt_graph_op1(g, TT_GOP_ADD, name, 2, (int[]){y, x}, err);
        } else {
            y = tt_graph_op1(g, r == 1 ? TT_GOP_SIGMOID : TT_GOP_RELU, name, 1, &y, err);
        }
    }
    if (y < 0) {
        tt_graph_free(g);
        return NULL;
    }
    tt_graph_mark_output(g, y);
    return g;
}

/* The chain computed directly, in float as the kernels do; in and out in
 * the ONNX layout. */
static void chain_ref(chain_kind kind, int n, const float *in, float *out)
{
    int64_t numel = kind == CHAIN_CONV_RELU ? CH_CO * CH_HW * CH_HW : CH_ROWS * CH_COLS;
    if (kind == CHAIN_CONV_RELU) {
        for (int o = 0; o < CH_CO; o++)
            for (int h = 0; h < CH_HW; h++)
                for (int w = 0; w < CH_HW; w++) {
                    double acc = ch_const(o, 2);
                    for (int c = 0; c < CH_CI; c++)
                        for (int kh = 0; kh < 3; kh++)
                            for (int kw = 0; kw < 3; kw++) {
                                int ih = h + kh - 1, iw = w + kw - 1;
                                if (ih >= 0 && ih < CH_HW && iw >= 0 && iw < CH_HW)
                                    acc += (double)ch_const(((o * CH_CI + c) * 3 + kh) * 3 + kw, 1) *
                                           in[(c * CH_HW + ih) * CH_HW + iw];
                            }
                    out[(o * CH_HW + h) * CH_HW + w] = (float)acc;
                }
    } else {
        memcpy(out, in, (size_t)numel * sizeof *out);
    }
    for (int i = 0; i < n; i++) {
        int r = kind == CHAIN_MIXED ? i % 4 : 0;
        for (int64_t k = 0; k < numel; k++) {
            float v = out[k];
            out[k] = r == 0 ? (v > 0 ? v : 0)
                   : r == 1 ? 1.0f / (1.0f + expf(-v))
                   : r == 2 ? v + ch_const(i, (int)(k % CH_COLS))
                            : v + in[k];
        }
    }
}

/* Calls form a chain: each kernel call reads the previous call's output (the
 * first, the model input), the last writes the model output, and the chain's
 * n nodes are computed once each (their stages counted in the calls' DAGs). */
static int chain_calls_ok(const tt_model *m, chain_kind kind, int n)
{
    int prev = m->input, stages = 0;
    for (int c = 0; c < m->ncalls; c++) {
        const tt_mcall *mc = &m->calls[c];
        int reads = 0;
        for (int a = 0; a + 1 < mc->nargs; a++)
            reads |= tt_model_root(m, mc->args[a]) == tt_model_root(m, prev);
        if (mc->kind != TT_MCALL_KERNEL || !reads) {
            fprintf(stderr, "    call %d of %d does not read the previous call's output\n", c, m->ncalls);
            return 0;
        }
        prev = mc->args[mc->nargs - 1];
        const tt_dag *d = m->kernels[mc->kernel].dag;
        for (int u = 0; u < d->nops; u++) {
            const char *nm = d->ops[u]->name;
            stages += !strcmp(nm, "T_relu") || !strcmp(nm, "T_sigmoid") ||
                      (kind == CHAIN_MIXED && !strcmp(nm, "T_add"));
        }
    }
    if (tt_model_root(m, prev) != tt_model_root(m, m->output) || stages != n) {
        fprintf(stderr, "    %d calls, %d chain stages in them (want %d)\n", m->ncalls, stages, n);
        return 0;
    }
    return 1;
}

/* Build the chain, check its calls, run it with default schedules and
 * compare with chain_ref.  *ncalls: the model's calls. */
static int chain_run(chain_kind kind, int n, int *ncalls)
{
    tt_err err = {0};
    tt_model *m = NULL;
    tt_graph *g = chain_graph(kind, n, &err);
    if (!g || tt_model_build(g, &m, &err)) {
        fprintf(stderr, "    chain of %d: %s\n", n, err.msg);
        return 0;
    }
    *ncalls = m->ncalls;
    int ok = chain_calls_ok(m, kind, n);
    int64_t in_n = tt_tensor_numel(&m->g->tensors[m->input]);
    int64_t out_n = tt_tensor_numel(&m->g->tensors[m->output]);
    float *in = malloc((size_t)in_n * sizeof *in), *got = malloc((size_t)out_n * sizeof *got),
          *want = malloc((size_t)out_n * sizeof *want);
    tt_model_random_input(m, in);
    chain_ref(kind, n, in, want);
    tt_exec *e = NULL;
    tt_exec_opts o = {.threads = 1};
    if (ok && (tt_exec_build(m, &o, &e, &err) || tt_exec_run(e, in, got, &err))) {
        fprintf(stderr, "    chain of %d: %s\n", n, err.msg);
        ok = 0;
    }
    if (ok) {
        double max_abs = 0, max_ref = 0;
        for (int64_t i = 0; i < out_n; i++) {
            double d = fabs((double)got[i] - want[i]);
            max_abs = d > max_abs || isnan(d) ? d : max_abs;
            max_ref = fabs(want[i]) > max_ref ? fabs(want[i]) : max_ref;
        }
        fprintf(stderr, "    chain of %d: %d kernels, %d calls, max|ours - ref| = %.3g (max|ref| %.3g)\n", n,
                m->nkernels, m->ncalls, max_abs, max_ref);
        ok = max_ref > 0 && max_abs <= 1e-5 * (1 + max_ref);
    }
    tt_exec_free(e);
    tt_model_free(m);
    free(in), free(got), free(want);
    return ok;
}

/* 64 Relus are one kernel (they were before); 65 are at most two. */
/* A Concat of 50 inputs (DenseNet-169's blocks join more than a kernel's
 * argument limit): x and 49 sigmoids of x, each its own tensor, joined on
 * the channel axis of an NCHW map; split into joins of at most 24 by the
 * passes, the output is each input in order. */
static void test_concat_50(void)
{
    tt_err err = {0};
    tt_graph *g = tt_graph_new("concat50");
    int64_t xs[4] = {1, 2, 3, 5};
    int x = tt_graph_input(g, "x", TT_DT_FLOAT, 4, xs, &err);
    int in[50];
    in[0] = x;
    for (int i = 1; i < 50 && in[i - 1] >= 0; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        in[i] = tt_graph_op1(g, i % 2 ? TT_GOP_SIGMOID : TT_GOP_RELU, name, 1, &in[i - 1], &err);
    }
    int y = in[49] < 0 ? -1 : tt_graph_op1(g, TT_GOP_CONCAT, "cat", 50, in, &err);
    if (y >= 0)
        tt_node_set_int(g, g->nnodes - 1, "axis", 1);
    CHECK_MSG(y >= 0, "%s", err.msg);
    if (y < 0) {
        tt_graph_free(g);
        return;
    }
    tt_graph_mark_output(g, y);
    tt_model *m = NULL;
    CHECK_MSG(tt_model_build(g, &m, &err) == 0, "%s", err.msg);
    if (!m)
        return;
    float inp[30], out[1500];
    for (int i = 0; i < 30; i++)
        inp[i] = (float)((i * 37) % 23 - 11) / 7.0f;
    tt_exec *e = NULL;
    tt_exec_opts o = {.threads = 1};
    CHECK_MSG(tt_exec_build(m, &o, &e, &err) == 0 && tt_exec_run(e, inp, out, &err) == 0, "%s", err.msg);
    /* channel block c of the output is input i = c / 2's channel c % 2 */
    float cur[30];
    memcpy(cur, inp, sizeof cur);
    double maxd = 0;
    for (int i = 0; i < 50; i++) {
        if (i > 0)
            for (int k = 0; k < 30; k++)
                cur[k] = i % 2 ? 1.0f / (1.0f + expf(-cur[k])) : (cur[k] > 0 ? cur[k] : 0);
        for (int k = 0; k < 30; k++) {
            double d = fabs((double)out[i * 30 + k] - cur[k]);
            maxd = d > maxd ? d : maxd;
        }
    }
    CHECK_MSG(maxd < 1e-5, "max difference %g", maxd);
    tt_exec_free(e);
    tt_model_free(m);
}

static void test_chain_relu_64(void)
{
    int nc = 0;
    CHECK(chain_run(CHAIN_RELU, 64, &nc));
    CHECK(nc == 1);
}

static void test_chain_relu_65(void)
{
    int nc = 0;
    CHECK(chain_run(CHAIN_RELU, 65, &nc));
    CHECK(nc <= 2);
}

/* A conv kernel's epilogue of 70 Relus; the model's input and output
 * transposes (NHWC) are calls of their own. */
static void test_chain_conv_relu_70(void)
{
    int nc = 0;
    CHECK(chain_run(CHAIN_CONV_RELU, 70, &nc));
    CHECK(nc <= 4);
}

static void test_chain_mixed_100(void)
{
    int nc = 0;
    CHECK(chain_run(CHAIN_MIXED, 100, &nc));
}

/* Thread CPU seconds to build the graph of a Relu chain of n and its model;
 * the model in *out (NULL on failure, with err). */
static double chain_build_time(int n, tt_model **out, tt_err *err)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    tt_graph *g = chain_graph(CHAIN_RELU, n, err);
    *out = NULL;
    if (g)
        tt_model_build(g, out, err);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    return (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
}

/* 20,000 Relus: built in time linear in the chain (10 times the nodes of a
 * chain of 2,000 may take 25 times its thread CPU time, plus 0.1 s for
 * noise; a quadratic build takes 100 times: 2.3 s against 0.02 before),
 * fused into kernels of 64 nodes or more, in order; then run (two unique
 * kernels to compile, 64 and 32 Relus). */
static void test_chain_relu_20000(void)
{
    tt_err err = {0};
    tt_model *m = NULL;
    double t_small = chain_build_time(2000, &m, &err);
    CHECK_MSG(m, "chain of 2000: %s", err.msg);
    tt_model_free(m);
    double t_big = chain_build_time(20000, &m, &err);
    CHECK_MSG(m, "chain of 20000: %s", err.msg);
    fprintf(stderr, "    build: 2,000 nodes %.3f s, 20,000 nodes %.3f s; %d kernels, %d calls\n", t_small,
            t_big, m->nkernels, m->ncalls);
    int calls_ok = chain_calls_ok(m, CHAIN_RELU, 20000), ncalls = m->ncalls;
    tt_model_free(m);
    CHECK(calls_ok);
    CHECK(ncalls <= 20000 / 64 + 1);
    CHECK_MSG(t_big <= 25 * t_small + 0.1, "not linear: %.3f s for 20,000 nodes, %.3f s for 2,000", t_big,
              t_small);
    int nc = 0;
    CHECK(chain_run(CHAIN_RELU, 20000, &nc));
}

const tt_test tests_model[] = {
    {"onnx_fixtures_match_torch", test_onnx_fixtures_match_torch},
    {"tiny_kernels", test_tiny_kernels},
    {"run_check_tiny", test_run_check_tiny},
    {"resnet50_tvm_covers_log", test_resnet50_tvm_covers_log},
    {"run_check_resnet18", test_run_check_resnet18},
    {"run_check_mobilenet_v2", test_run_check_mobilenet_v2},
    {"concat_50", test_concat_50},
    {"chain_relu_64", test_chain_relu_64},
    {"chain_relu_65", test_chain_relu_65},
    {"chain_conv_relu_70", test_chain_conv_relu_70},
    {"chain_mixed_100", test_chain_mixed_100},
    {"chain_relu_20000", test_chain_relu_20000},
    {NULL, NULL},
};
