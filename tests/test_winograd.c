/* test_winograd.c - Winograd F(m x m, 3 x 3) (dag/winograd.c and the
 * conv2d_winograd_nhwc builder in dag/topi.c): TVM's matrices, the 1-D
 * identity, and the whole DAG against the direct convolution on the same
 * data and weights, in double (the reference) and in float (the default
 * schedule, compiled).  Random schedules of Winograd DAGs are checked by
 * codegen/random_differential (tests/schedgen.c, K_WINOGRAD). */
#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../src/codegen/codegen.h"
#include "../src/exec/exec.h"
#include "../src/measure/measure.h"
#include "../src/record/identify.h"
#include "../src/search/search.h"
#include "schedgen.h"
#include "test.h"

/* TVM's F(2,3) and F(4,3) (docs/reference/kernels.md, "Matrices":
 * TVM's _cook_toom_convolution rerun over rationals). */
static void test_matrices(void)
{
    double A[8 * 8], B[8 * 8], G[8 * 3];
    CHECK(tt_winograd_matrices(2, 3, A, B, G) == 0);
    static const double at2[2][4] = {{1, 1, 1, 0}, {0, -1, 1, 1}};
    static const double g2[4][3] = {{1, 0, 0}, {0.5, -0.5, 0.5}, {0.5, 0.5, 0.5}, {0, 0, 1}};
    static const double bt2[4][4] = {{1, 0, -1, 0}, {0, -1, 1, 0}, {0, 1, 1, 0}, {0, -1, 0, 1}};
    for (int i = 0; i < 4; i++) {
        for (int k = 0; k < 2; k++)
            CHECK(fabs(A[i * 2 + k] - at2[k][i]) < 1e-12);
        for (int j = 0; j < 3; j++)
            CHECK(fabs(G[i * 3 + j] - g2[i][j]) < 1e-12);
        for (int l = 0; l < 4; l++) /* B stored as TVM stores it: B[l][i] = BT[i][l] */
            CHECK(fabs(B[l * 4 + i] - bt2[i][l]) < 1e-12);
    }
    CHECK(tt_winograd_matrices(4, 3, A, B, G) == 0);
    static const double at4[4][6] = {{1, 1, 1, 1, 1, 0},
                                     {0, -1, 1, 0.5, -2, 0},
                                     {0, 1, 1, 0.25, 4, 0},
                                     {0, -1, 1, 0.125, -8, 1}};
    static const double g4[6][3] = {{1, 0, 0},
                                    {-1.0 / 3, 1.0 / 3, -1.0 / 3},
                                    {1.0 / 3, 1.0 / 3, 1.0 / 3},
                                    {-16.0 / 15, -8.0 / 15, -4.0 / 15},
                                    {1.0 / 15, -2.0 / 15, 4.0 / 15},
                                    {0, 0, 1}};
    static const double bt4[6][6] = {{1, -1.5, -2, 1.5, 1, 0},   {0, 1, -2.5, 0.5, 1, 0},
                                     {0, -1, 0.5, 2.5, 1, 0},    {0, -2, -1, 2, 1, 0},
                                     {0, 0.5, -1, -0.5, 1, 0},   {0, 1, -1.5, -2, 1.5, 1}};
    for (int i = 0; i < 6; i++) {
        for (int k = 0; k < 4; k++)
            CHECK(fabs(A[i * 4 + k] - at4[k][i]) < 1e-12);
        for (int j = 0; j < 3; j++)
            CHECK(fabs(G[i * 3 + j] - g4[i][j]) < 1e-12);
        for (int l = 0; l < 6; l++)
            CHECK_MSG(fabs(B[l * 6 + i] - bt4[i][l]) < 1e-12, "F(4,3) BT[%d][%d] = %g, want %g", i, l,
                      B[l * 6 + i], bt4[i][l]);
    }
    CHECK(tt_winograd_matrices(6, 3, A, B, G) == 0);
    CHECK(tt_winograd_matrices(3, 3, A, B, G) != 0 && tt_winograd_matrices(4, 5, A, B, G) != 0);
}

/* y = A^T [(G g) .* (B^T d)] is the correlation of d with g, for each tile. */
static void test_identity_1d(void)
{
    tt_rng r;
    tt_rng_seed(&r, 7);
    for (int m = 2; m <= 6; m += 2) {
        int alpha = m + 2;
        double A[8 * 8], B[8 * 8], G[8 * 3], g[3], dd[8], u[8], v[8];
        CHECK(tt_winograd_matrices(m, 3, A, B, G) == 0);
        for (int j = 0; j < 3; j++)
            g[j] = tt_rng_unit(&r) - 0.5;
        for (int l = 0; l < alpha; l++)
            dd[l] = tt_rng_unit(&r) - 0.5;
        for (int i = 0; i < alpha; i++) {
            u[i] = G[i * 3] * g[0] + G[i * 3 + 1] * g[1] + G[i * 3 + 2] * g[2];
            v[i] = 0;
            for (int l = 0; l < alpha; l++)
                v[i] += B[l * alpha + i] * dd[l];
        }
        for (int k = 0; k < m; k++) {
            double y = 0, want = g[0] * dd[k] + g[1] * dd[k + 1] + g[2] * dd[k + 2];
            for (int i = 0; i < alpha; i++)
                y += A[i * m + k] * u[i] * v[i];
            CHECK_MSG(fabs(y - want) < 1e-12, "F(%d,3) output %d: %g, want %g", m, k, y, want);
        }
    }
}

/* ---- the DAG against the direct convolution ----------------------------------- */

typedef void (*ref_fn)(float *const *, double *, double *);
typedef void (*cand_fn)(float *const *);

/* Build the given sources (one function each) and look them up. */
static int build_fns(const char *const *src, const char *const *fn, int n, void **out, char *dir)
{
    tt_build_item it[4];
    memset(it, 0, sizeof it);
    for (int i = 0; i < n; i++) {
        it[i].source = src[i];
        snprintf(it[i].fn, sizeof it[i].fn, "%s", fn[i]);
    }
    tt_build_opts bo;
    memset(&bo, 0, sizeof bo);
    bo.workdir = dir;
    tt_err err = {0};
    if (tt_build(&bo, tt_codegen_prelude(), it, n, &err)) {
        fprintf(stderr, "    build: %s\n", err.msg);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (it[i].error) {
            fprintf(stderr, "    build %s: %s\n", fn[i], it[i].msg);
            return -1;
        }
        void *h = dlopen(it[i].so_path, RTLD_NOW | RTLD_LOCAL);
        out[i] = h ? dlsym(h, fn[i]) : NULL;
        if (!out[i])
            return -1;
    }
    return 0;
}

/* One shape: the direct conv's reference, the Winograd DAG's reference and
 * its default schedule, on the same data and weights (+ bias, relu).
 * *err_ref, *err_f32: max |x - direct| / max |direct|. */
static int compare_steps(const tt_conv2d_params *p, int m, const tt_step *given, int ngiven, double *err_ref,
                         double *err_f32)
{
    tt_err err = {0};
    tt_epilogue e = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RELU}};
    tt_dag *dd = tt_build_conv2d_nhwc(p, &e, &err);
    tt_dag *dw = tt_build_conv2d_winograd_nhwc(p, m, &e, &err);
    if (!dd || !dw) {
        fprintf(stderr, "    DAG: %s\n", err.msg);
        return -1;
    }
    tt_step steps[TT_MAX_STEPS];
    int ns = 0;
    tt_state *s = tt_state_new(dw);
    if (given) {
        if (tt_state_apply_all(s, given, ngiven, &err)) {
            fprintf(stderr, "    given steps: %s\n", err.msg);
            return -1;
        }
    } else if (tt_default_schedule(dw, tt_codegen_vector_lanes(), steps, TT_MAX_STEPS, &ns, &err) ||
               tt_state_apply_all(s, steps, ns, &err)) {
        fprintf(stderr, "    default schedule: %s\n", err.msg);
        return -1;
    }
    tt_str src[3];
    for (int i = 0; i < 3; i++)
        tt_str_init(&src[i]);
    int rc = tt_codegen_reference(dd, "wd_direct", &src[0], &err) || tt_codegen_reference(dw, "wd_wref", &src[1], &err) ||
             tt_codegen_candidate(s, "wd_wcand", &src[2], &err);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/tt-wino-XXXXXX", tt_test_tmpdir());
    void *fns[3] = {0};
    const char *srcs[3] = {src[0].buf, src[1].buf, src[2].buf};
    const char *names[3] = {"wd_direct", "wd_wref", "wd_wcand"};
    if (rc || !mkdtemp(dir) || build_fns(srcs, names, 3, fns, dir)) {
        fprintf(stderr, "    codegen or build failed %s\n", err.msg);
        return -1;
    }
    int64_t alpha = m + 2;
    int64_t nin = p->n * p->h * p->w * p->ci, nwt = 9 * p->ci * p->co, nu = alpha * alpha * p->co * p->ci;
    int64_t oh = p->h + p->pad_t + p->pad_b - 2, ow = p->w + p->pad_l + p->pad_r - 2;
    int64_t nout = p->n * oh * ow * p->co;
    float *x = malloc((size_t)nin * 4), *g = malloc((size_t)nwt * 4), *u = malloc((size_t)nu * 4);
    float *bias = malloc((size_t)p->co * 4), *y = malloc((size_t)nout * 4);
    double *r0 = malloc((size_t)nout * 8), *r1 = malloc((size_t)nout * 8), *mag = malloc((size_t)nout * 8);
    tt_rng r;
    tt_rng_seed(&r, 11);
    for (int64_t i = 0; i < nin; i++)
        x[i] = (float)(tt_rng_unit(&r) * 2 - 1);
    for (int64_t i = 0; i < nwt; i++)
        g[i] = (float)(tt_rng_unit(&r) - 0.5);
    for (int64_t i = 0; i < p->co; i++)
        bias[i] = (float)(tt_rng_unit(&r) * 0.2 - 0.1);
    rc = tt_winograd_transform_weight(m, p->ci, p->co, g, u);
    float *ad[3] = {x, g, bias}, *aw[4] = {x, u, bias, y};
    ((ref_fn)fns[0])(ad, r0, mag);
    ((ref_fn)fns[1])(aw, r1, mag);
    ((cand_fn)fns[2])(aw);
    double top = 0, e1 = 0, e2 = 0;
    for (int64_t i = 0; i < nout; i++) {
        top = fmax(top, fabs(r0[i]));
        e1 = fmax(e1, fabs(r1[i] - r0[i]));
        e2 = fmax(e2, fabs(y[i] - r0[i]));
        if (isnan(y[i]) || isnan(r1[i]))
            e1 = e2 = INFINITY;
    }
    *err_ref = top > 0 ? e1 / top : e1;
    *err_f32 = top > 0 ? e2 / top : e2;
    free(x), free(g), free(u), free(bias), free(y), free(r0), free(r1), free(mag);
    for (int i = 0; i < 3; i++)
        tt_str_free(&src[i]);
    tt_state_free(s);
    tt_dag_free(dd);
    tt_dag_free(dw);
    sg_rm_tree(dir);
    return rc;
}

static int compare(const tt_conv2d_params *p, int m, double *err_ref, double *err_f32)
{
    return compare_steps(p, m, NULL, 0, err_ref, err_f32);
}

/* A record in TVM's format for a Winograd task, written by hand from TOPI's
 * stage list (no TVM Winograd log is at hand): ResNet-18's 28x28x128 -> 128
 * 3x3 conv + bias + relu as conv2d_winograd_nhwc F(4,3), its key listing the
 * data, the transformed weight (6, 6, CO, CI), the bias and the output.  The
 * steps follow Ansor's sketch rules for it: the elementwise stages, A, B and
 * input_tile inlined; data_pack and inverse with their constant axes (eps,
 * nu / vh, vw and r_a, r_b) unrolled and the others split, fused and
 * parallel (SimplifyComputeWithConstTensor); bgemm tiled 7 pixels x 32
 * channels; the output stage fused and vectorized.  It must be identified
 * from its key, replay, and compute the convolution. */
static const char *const wino_record =
    "{\"i\": [[\"[\\\"0f3a5e1d2c4b6a798877665544332211\\\", 1, 28, 28, 128, 6, 6, 128, 128, 1, 1, 1, 128, "
    "1, 28, 28, 128]\", \"llvm -keys=cpu -mcpu=core-avx2\", [8, 64, 64, 0, 0, 0, 0, 0], \"\", 2], "
    "[[], [[\"CI\", 11], [\"CI\", 9], [\"CI\", 7], [\"CI\", 3], [\"CI\", 2], "
    "[\"SP\", 4, 2, 49, [7], 1], [\"SP\", 4, 4, 128, [16], 1], [\"RE\", 4, [2, 4, 3, 0, 1, 6, 7, 5]], "
    "[\"AN\", 4, 3, 1], [\"AN\", 4, 4, 1], [\"AN\", 4, 5, 1], [\"AN\", 4, 6, 1], [\"FU\", 4, [0, 1]], "
    "[\"AN\", 4, 0, 3], [\"AN\", 4, 6, 2], "
    "[\"SP\", 6, 2, 49, [7], 1], [\"SP\", 6, 4, 128, [32], 1], [\"SP\", 6, 6, 128, [8], 1], "
    "[\"RE\", 6, [0, 1, 2, 4, 6, 7, 3, 5]], [\"FU\", 6, [0, 1, 2, 3]], [\"AN\", 6, 0, 3], "
    "[\"AN\", 6, 3, 1], [\"AN\", 6, 4, 2], [\"PR\", 6, 0, \"auto_unroll_max_step$64\"], "
    "[\"SP\", 8, 2, 49, [7], 1], [\"SP\", 8, 4, 128, [16], 1], [\"RE\", 8, [2, 4, 3, 0, 1, 6, 7, 5]], "
    "[\"AN\", 8, 3, 1], [\"AN\", 8, 4, 1], [\"AN\", 8, 5, 1], [\"AN\", 8, 6, 1], [\"FU\", 8, [0, 1]], "
    "[\"AN\", 8, 0, 3], [\"AN\", 8, 6, 2], "
    "[\"FU\", 12, [0, 1, 2]], [\"SP\", 12, 1, 128, [16], 1], [\"AN\", 12, 0, 3], [\"AN\", 12, 2, 2], "
    "[\"FU\", 1, [0, 1, 2]], [\"AN\", 1, 0, 3]]]], "
    "\"r\": [[0.000301], 0, 0.5, 1606961878], \"v\": \"v0.5\"}";

static void test_tvm_record(void)
{
    tt_record *rec = tt_xcalloc(1, sizeof *rec);
    tt_err err = {0};
    CHECK_MSG(tt_record_parse(wino_record, rec, &err) == 0, "%s", err.msg);
    tt_dag *d = NULL;
    tt_state *st = NULL;
    char desc[256];
    CHECK_MSG(tt_identify_record(rec, &d, &st, desc, sizeof desc, &err) == 0, "%s", err.msg);
    fprintf(stderr, "    identified: %s (%s)\n", desc, d->class_key);
    CHECK(!strcmp(d->class_key, "conv2d_winograd_nhwc+add+relu") && d->nops == 13);
    CHECK(st && st->nsteps == rec->nsteps);
    tt_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.n = 1, p.h = p.w = 28, p.ci = p.co = 128, p.kh = p.kw = 3, p.stride_h = p.stride_w = 1;
    p.dil_h = p.dil_w = 1, p.groups = 1, p.pad_t = p.pad_l = p.pad_b = p.pad_r = 1;
    double er = 0, ef = 0;
    CHECK(compare_steps(&p, 4, rec->steps, rec->nsteps, &er, &ef) == 0);
    fprintf(stderr, "    the record's schedule against the direct conv: %.2e\n", ef);
    CHECK(ef < 1e-3);
    /* in a model: it is the record of ResNet-18's layer2.1.conv1 F(4,3) twin
     * (same workload key), and the model runs it there, computing what the
     * direct model computes */
    char *key = tt_dag_workload_key(d);
    tt_model *m = NULL;
    CHECK_MSG(tt_model_load("resnet18", &m, &err) == 0, "%s", err.msg);
    int k = -1;
    for (int i = 0; i < m->nkernels; i++)
        if (!strcmp(m->kernels[i].workload_key, key))
            k = i;
    CHECK_MSG(k >= 0 && m->kernels[k].alt_of >= 0 && m->kernels[k].wino_m == 4, "no kernel %s", key);
    const tt_step **steps = tt_xcalloc((size_t)m->nkernels, sizeof *steps);
    int *nsteps = tt_xcalloc((size_t)m->nkernels, sizeof *nsteps);
    unsigned char *use = tt_xcalloc((size_t)m->nkernels, 1);
    steps[k] = rec->steps;
    nsteps[k] = rec->nsteps;
    int64_t on = tt_tensor_numel(&m->g->tensors[m->output]);
    float *in = tt_xmalloc((size_t)tt_tensor_numel(&m->g->tensors[m->input]) * sizeof *in);
    float *y[2] = {tt_xmalloc((size_t)on * sizeof(float)), tt_xmalloc((size_t)on * sizeof(float))};
    tt_model_random_input(m, in);
    for (int v = 0; v < 2; v++) {
        use[m->kernels[k].alt_of] = (unsigned char)(v ? 1 : 0); /* 1: alts[0], F(4,3) */
        tt_exec_opts o = {0};
        o.threads = 2;
        o.steps = steps;
        o.nsteps = nsteps;
        o.use_alt = use;
        tt_exec *e = NULL;
        CHECK_MSG(tt_exec_build(m, &o, &e, &err) == 0 && tt_exec_run(e, in, y[v], &err) == 0, "%s", err.msg);
        CHECK(tt_exec_get_stats(e)->kernels_given == v);
        tt_exec_free(e);
    }
    double top = 0, dev = 0;
    for (int64_t i = 0; i < on; i++) {
        top = fmax(top, fabs(y[0][i]));
        dev = fmax(dev, fabs(y[1][i] - y[0][i]));
    }
    fprintf(stderr, "    resnet18 with the record on its twin: %.2e of the direct model's output\n", dev / top);
    CHECK(top > 0 && dev / top < 1e-4);
    free(y[0]), free(y[1]), free(in), free(use), free(steps), free(nsteps), free(key);
    tt_model_free(m);
    tt_state_free(st);
    tt_dag_free(d);
    free(rec);
}

/* Random shapes (odd sizes, uneven padding, partial edge tiles) for every
 * tile size: the Winograd DAG's double reference equals the direct conv to
 * rounding, and its default schedule in float stays within the models'
 * check (1e-3 of the largest output). */
static void test_against_direct(void)
{
    tt_rng r;
    tt_rng_seed(&r, 2026);
    double worst_ref[7] = {0}, worst_f32[7] = {0};
    for (int c = 0; c < 9; c++) {
        int m = 2 + 2 * (c % 3);
        tt_conv2d_params p;
        memset(&p, 0, sizeof p);
        p.n = 1 + (c == 4);
        p.h = 3 + (int64_t)(tt_rng_unit(&r) * 12);
        p.w = 3 + (int64_t)(tt_rng_unit(&r) * 12);
        p.ci = 1 + (int64_t)(tt_rng_unit(&r) * 40);
        p.co = 1 + (int64_t)(tt_rng_unit(&r) * 40);
        p.kh = p.kw = 3, p.stride_h = p.stride_w = 1, p.dil_h = p.dil_w = 1, p.groups = 1;
        p.pad_t = c % 2, p.pad_l = 1, p.pad_b = (c / 2) % 2, p.pad_r = c % 3 == 0;
        double er = 0, ef = 0;
        CHECK_MSG(compare(&p, m, &er, &ef) == 0, "F(%d,3) %lldx%lldx%lld -> %lld failed", m, (long long)p.h,
                  (long long)p.w, (long long)p.ci, (long long)p.co);
        fprintf(stderr, "    F(%d,3) N=%lld %lldx%lldx%lld -> %lld pad %lld,%lld,%lld,%lld: error %.2e (double), %.2e (float)\n",
                m, (long long)p.n, (long long)p.h, (long long)p.w, (long long)p.ci, (long long)p.co,
                (long long)p.pad_t, (long long)p.pad_l, (long long)p.pad_b, (long long)p.pad_r, er, ef);
        worst_ref[m] = fmax(worst_ref[m], er);
        worst_f32[m] = fmax(worst_f32[m], ef);
    }
    for (int m = 2; m <= 6; m += 2) {
        CHECK_MSG(worst_ref[m] < 1e-5, "F(%d,3) double error %.2e", m, worst_ref[m]);
        CHECK_MSG(worst_f32[m] < 1e-3, "F(%d,3) float error %.2e", m, worst_f32[m]);
    }
}

/* The builder refuses what Winograd cannot compute. */
static void test_refusals(void)
{
    tt_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.n = 1, p.h = p.w = 8, p.ci = 4, p.co = 4, p.kh = p.kw = 3, p.stride_h = p.stride_w = 1;
    p.dil_h = p.dil_w = 1, p.groups = 1;
    tt_err err = {0};
    tt_dag *d = tt_build_conv2d_winograd_nhwc(&p, 4, NULL, &err);
    CHECK(d && !strcmp(d->class_key, "conv2d_winograd_nhwc"));
    CHECK(d->nops == 10 && !strcmp(d->ops[3]->name, "B") && !strcmp(d->ops[6]->name, "bgemm") &&
          !strcmp(d->ops[9]->name, "conv2d_winograd"));
    tt_dag_free(d);
    p.stride_h = 2;
    CHECK(!tt_build_conv2d_winograd_nhwc(&p, 4, NULL, &err));
    p.stride_h = 1, p.kh = 5;
    CHECK(!tt_build_conv2d_winograd_nhwc(&p, 4, NULL, &err));
    p.kh = 3;
    CHECK(!tt_build_conv2d_winograd_nhwc(&p, 3, NULL, &err));
    CHECK(!tt_build_conv2d_winograd_nhwc(&p, 8, NULL, &err));
}

/* A kernel that packs its constant weights frees the packed copies when
 * called with no arguments (the executor does so when it is freed: the
 * forms `run` tries would otherwise keep every copy), and packs again on
 * its next call: the output is the same, and new weights at the same
 * address after a release are packed anew, not served from the old copy. */
static void test_release_packed(void)
{
    tt_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.n = 1, p.h = p.w = 8, p.ci = 64, p.co = 256, p.kh = p.kw = 1, p.stride_h = p.stride_w = 1;
    p.dil_h = p.dil_w = 1, p.groups = 1;
    tt_err err = {0};
    tt_dag *d = tt_build_conv2d_nhwc(&p, NULL, &err);
    CHECK(d);
    tt_step steps[TT_MAX_STEPS];
    int ns = 0;
    tt_state *s = tt_state_new(d);
    CHECK(tt_default_schedule(d, tt_codegen_vector_lanes(), steps, TT_MAX_STEPS, &ns, &err) == 0 &&
          tt_state_apply_all(s, steps, ns, &err) == 0);
    tt_str src;
    tt_str_init(&src);
    CHECK(tt_codegen_candidate(s, "rel_k", &src, &err) == 0 && strstr(src.buf, "if (!args)"));
    CHECK(strstr(src.buf, "free(kc")); /* it packs: 256 channels in tiles */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/tt-rel-XXXXXX", tt_test_tmpdir());
    CHECK(mkdtemp(dir));
    void *fn = NULL;
    const char *srcs[1] = {src.buf}, *names[1] = {"rel_k"};
    CHECK(build_fns(srcs, names, 1, &fn, dir) == 0);
    enum { NX = 8 * 8 * 64, NW = 64 * 256, NY = 8 * 8 * 256 };
    float *x = malloc(NX * 4), *w = malloc(NW * 4), *y1 = malloc(NY * 4), *y2 = malloc(NY * 4);
    for (int i = 0; i < NX; i++)
        x[i] = (float)(i % 7) - 3;
    for (int i = 0; i < NW; i++)
        w[i] = (float)(i % 5) * 0.25f;
    float *a1[3] = {x, w, y1}, *a2[3] = {x, w, y2};
    ((cand_fn)fn)(a1);
    ((cand_fn)fn)(NULL);
    ((cand_fn)fn)(a2);
    CHECK(memcmp(y1, y2, NY * 4) == 0);
    /* other weights in the same buffer, after a release: packed anew */
    for (int i = 0; i < NW; i++)
        w[i] = -w[i];
    ((cand_fn)fn)(NULL);
    ((cand_fn)fn)(a2);
    int negated = 1;
    for (int i = 0; i < NY; i++)
        negated &= y2[i] == -y1[i];
    CHECK(negated);
    ((cand_fn)fn)(NULL);
    free(x), free(w), free(y1), free(y2);
    tt_str_free(&src);
    tt_state_free(s);
    tt_dag_free(d);
    sg_rm_tree(dir);
    /* the whole-tensor workspaces of root stages (a Winograd kernel's
     * data_pack, bgemm and inverse: 3 x 36 x P x C floats) are released too */
    p.kh = p.kw = 3, p.pad_t = p.pad_l = p.pad_b = p.pad_r = 1;
    d = tt_build_conv2d_winograd_nhwc(&p, 4, NULL, &err);
    CHECK(d);
    s = tt_state_new(d);
    CHECK(tt_default_schedule(d, tt_codegen_vector_lanes(), steps, TT_MAX_STEPS, &ns, &err) == 0 &&
          tt_state_apply_all(s, steps, ns, &err) == 0);
    tt_str_init(&src);
    CHECK(tt_codegen_candidate(s, "rel_w", &src, &err) == 0);
    const char *rel = strstr(src.buf, "if (!args) {");
    CHECK(rel && strstr(rel, "free(w") && strstr(rel, "free(w") < strstr(rel, "return;"));
    tt_str_free(&src);
    tt_state_free(s);
    tt_dag_free(d);
}

/* The search's sketches of a Winograd DAG (Ansor's
 * SimplifyComputeWithConstTensor rule, search/sketch.c): data_pack and
 * inverse get their constant axes unrolled and the others split in two and
 * ordered outer, inner, unrolled; random samples of every sketch (the
 * initial population's annotation) compute the convolution. */
static void test_search_sketches(void)
{
    tt_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.n = 1, p.h = p.w = 10, p.ci = 16, p.co = 32, p.kh = p.kw = 3, p.stride_h = p.stride_w = 1;
    p.dil_h = p.dil_w = 1, p.groups = 1, p.pad_t = p.pad_l = p.pad_b = p.pad_r = 1;
    tt_err err = {0};
    tt_epilogue e = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RELU}};
    tt_dag *d = tt_build_conv2d_winograd_nhwc(&p, 4, &e, &err);
    CHECK(d);
    tt_search_params sp;
    tt_search_params_default(&sp);
    sp.num_cores = 2;
    tt_state *sk[16];
    int n = tt_sketch_generate(d, &sp, sk, 16, &err);
    CHECK_MSG(n > 0, "%s", err.msg);
    for (int i = 0; i < n; i++) {
        /* data_pack (stage 4): 4 unroll annotations, then p.0 ci.0 p.1 ci.1 eps nu r_a r_b */
        int unrolls = 0;
        for (int j = 0; j < sk[i]->nsteps; j++)
            unrolls += sk[i]->steps[j].tag == TT_STEP_AN && sk[i]->steps[j].stage == 4 &&
                       sk[i]->steps[j].ann == TT_ANN_UNROLL;
        const tt_stage *st = &sk[i]->stages[4];
        CHECK_MSG(unrolls == 4 && st->niters == 8 && st->iters[7].ann == TT_ANN_UNROLL &&
                      st->iters[0].ann == TT_ANN_NONE,
                  "sketch %d: %d unrolls, %d iterators", i, unrolls, st->niters);
    }
    int checked = 0;
    for (int trial = 0; trial < 12 && checked < 4; trial++) {
        tt_rng r;
        tt_rng_seed(&r, 77 + (uint64_t)trial);
        tt_state *s = NULL;
        tt_err e2 = {0};
        if (tt_sketch_annotate(sk[trial % n], &r, &sp, &s, NULL, &e2) != 0)
            continue;
        double er = 0, ef = 0;
        CHECK_MSG(compare_steps(&p, 4, s->steps, s->nsteps, &er, &ef) == 0, "trial %d", trial);
        CHECK_MSG(ef < 1e-3, "trial %d: error %.2e", trial, ef);
        checked++;
        tt_state_free(s);
    }
    fprintf(stderr, "    %d sketches, %d annotated samples checked against the direct conv\n", n, checked);
    CHECK(checked >= 2);
    for (int i = 0; i < n; i++)
        tt_state_free(sk[i]);
    tt_dag_free(d);
}

/* The choice among a kernel's forms, from given times (no timing here):
 * the fastest that ran (> 0), the direct one (0) when none did. */
static void test_pick_form(void)
{
    double a[3] = {1.0, 0.5, 0.7}, b[3] = {1.0, 0, 0.7}, c[3] = {0, 0.5, 0}, d[3] = {0, 0, 0},
           e[3] = {0.3, 0.5, 0.7}, f[3] = {0.5, 0.5, 0.4};
    CHECK(tt_exec_pick_form(a, 3) == 1 && tt_exec_pick_form(b, 3) == 2 && tt_exec_pick_form(c, 3) == 1);
    CHECK(tt_exec_pick_form(d, 3) == 0 && tt_exec_pick_form(e, 3) == 0 && tt_exec_pick_form(f, 3) == 2);
    CHECK(tt_exec_pick_form(f, 2) == 0); /* a tie keeps the earlier form */
    /* the agreement of a form's model output with the direct one's (a form
     * that disagrees gets no time, so it is never picked) */
    float ref[3] = {1, -4, 2}, ok[3] = {1.002f, -4, 2}, bad[3] = {1, -4, 2.01f}, nan[3] = {1, NAN, 2},
          inf[3] = {1, INFINITY, 2}, zero[3] = {0, 0, 0};
    CHECK(tt_exec_output_error(ref, ref, 3) == 0);
    CHECK(tt_exec_output_error(ok, ref, 3) <= TT_MODEL_TOLERANCE);
    CHECK(tt_exec_output_error(bad, ref, 3) > TT_MODEL_TOLERANCE);
    CHECK(isinf(tt_exec_output_error(nan, ref, 3)) && isinf(tt_exec_output_error(inf, ref, 3)));
    CHECK(isinf(tt_exec_output_error(ref, nan, 3)));
    CHECK(tt_exec_output_error(zero, zero, 3) == 0 && tt_exec_output_error(ok, zero, 3) > TT_MODEL_TOLERANCE);
}

/* tiny's 3x3 conv has F(4,3) and F(2,3) twins after the direct kernels; the
 * executor running either computes the model's output as the direct one
 * does (the weight transformed at build), and builds only what runs. */
static void test_model_forms(void)
{
    tt_model *m = NULL;
    tt_err err = {0};
    CHECK_MSG(tt_model_load("tiny", &m, &err) == 0, "%s", err.msg);
    int k = -1;
    for (int i = 0; i < m->nkernels; i++)
        if (m->kernels[i].nalt > 0)
            k = i;
    CHECK(k >= 0 && m->kernels[k].nalt == 2 && k < tt_model_ndirect(m));
    CHECK(m->kernels[m->kernels[k].alts[0]].wino_m == 4 && m->kernels[m->kernels[k].alts[1]].wino_m == 2);
    CHECK(m->kernels[m->kernels[k].alts[1]].alt_of == k && m->nkernels == tt_model_ndirect(m) + 2);
    const tt_tensor *IT = &m->g->tensors[m->input], *OT = &m->g->tensors[m->output];
    int64_t on = tt_tensor_numel(OT);
    float *in = tt_xmalloc((size_t)tt_tensor_numel(IT) * sizeof *in);
    tt_model_random_input(m, in);
    float *y[3];
    unsigned char *use = tt_xcalloc((size_t)m->nkernels, 1);
    for (int form = 0; form < 3; form++) {
        use[k] = (unsigned char)form;
        tt_exec_opts o = {0};
        o.threads = 1;
        o.use_alt = use;
        tt_exec *e = NULL;
        y[form] = tt_xmalloc((size_t)on * sizeof(float));
        CHECK_MSG(tt_exec_build(m, &o, &e, &err) == 0 && tt_exec_run(e, in, y[form], &err) == 0, "form %d: %s",
                  form, err.msg);
        const tt_exec_stats *st = tt_exec_get_stats(e);
        CHECK(st->kernels_winograd == (form > 0) && st->kernels_built == tt_model_ndirect(m));
        tt_exec_free(e);
    }
    double top = 0, d1 = 0, d2 = 0;
    for (int64_t i = 0; i < on; i++) {
        top = fmax(top, fabs(y[0][i]));
        d1 = fmax(d1, fabs(y[1][i] - y[0][i]));
        d2 = fmax(d2, fabs(y[2][i] - y[0][i]));
    }
    fprintf(stderr, "    tiny: F(4,3) %.2e, F(2,3) %.2e of the direct output\n", d1 / top, d2 / top);
    CHECK(top > 0 && d1 / top < 1e-4 && d2 / top < 1e-4);
    for (int i = 0; i < 3; i++)
        free(y[i]);
    free(use);
    free(in);
    tt_model_free(m);
}

const tt_test tests_winograd[] = {
    {"pick_form", test_pick_form},
    {"release_packed", test_release_packed},
    {"model_forms", test_model_forms},
    {"matrices", test_matrices},
    {"identity_1d", test_identity_1d},
    {"refusals", test_refusals},
    {"against_direct", test_against_direct},
    {"tvm_record", test_tvm_record},
    {"search_sketches", test_search_sketches},
    {NULL, NULL},
};
