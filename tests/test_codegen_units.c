/* test_codegen_units.c - generated C as the compiler sees it: the prelude's
 * math against libm, lowerings that must be refused, and several kernels
 * sharing one translation unit (the split of test_codegen.c by concept). */
#include <dlfcn.h>
#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../src/codegen/codegen.h"
#include "../src/codegen/lower.h"
#include "../src/measure/measure.h"
#include "../src/record/identify.h"
#include "../src/record/record.h"
#include "../src/record/identify.h"
#include "schedgen.h"
#include "test.h"

/* a plain NHWC conv DAG (test_codegen.c) */
tt_dag *conv_plain(int64_t h, int64_t w, int64_t ci, int64_t co, int64_t k, int64_t pad, const tt_epilogue *e);

/* The prelude's exp, tanh, erf and sigmoid (no libm calls, so loops over them
 * vectorize) against libm in double over a fine grid of each one's range:
 * the worst relative error in float ulps (2^-23), and special values. */
static void test_prelude_math(void)
{
    static const char *src =
        "void tt_math_errors(double *out) {\n"
        "    double w[4] = {0, 0, 0, 0};\n"
        "    for (float x = -87.3f; x < 88.7f; x += 0.000731f) {\n"
        "        double e = exp((double)x), s = 1.0 / (1.0 + exp(-(double)x));\n"
        "        double d0 = fabs(tt_expf(x) - e) / e, d3 = fabs(tt_sigmoidf(x) - s) / s;\n"
        "        w[0] = d0 > w[0] ? d0 : w[0];\n"
        "        w[3] = d3 > w[3] ? d3 : w[3];\n"
        "    }\n"
        "    for (float x = -12.0f; x < 12.0f; x += 0.0000913f) {\n"
        "        double t = tanh((double)x), f = erf((double)x);\n"
        "        if (t != 0) { double d = fabs(tt_tanhf(x) - t) / fabs(t); w[1] = d > w[1] ? d : w[1]; }\n"
        "        if (f != 0) { double d = fabs(tt_erff(x) - f) / fabs(f); w[2] = d > w[2] ? d : w[2]; }\n"
        "    }\n"
        "    for (int i = 0; i < 4; i++) out[i] = w[i] * 8388608.0;\n"
        "    out[4] = tt_expf(-200.0f); out[5] = tt_expf(100.0f); out[6] = tt_expf(NAN);\n"
        "    out[7] = tt_tanhf(NAN); out[8] = tt_erff(-INFINITY); out[9] = tt_sigmoidf(-200.0f);\n"
        "    out[10] = tt_expf(0.0f); out[11] = tt_tanhf(-30.0f); out[12] = tt_erff(0.0f);\n"
        /* the vector forms (16 and 8 lanes), on the same grid and edge cases */
        "    double v[2] = {0, 0};\n"
        "    for (float x0 = -87.3f; x0 < 88.7f; x0 += 16 * 0.000731f) {\n"
        "        tt_v16 x; for (int k = 0; k < 16; k++) x[k] = x0 + k * 0.000731f;\n"
        "        tt_v16 y = tt_vexp16(x), z = tt_vsigmoid16(x);\n"
        "        for (int k = 0; k < 16; k++) {\n"
        "            double e = exp((double)x[k]), sg = 1.0 / (1.0 + exp(-(double)x[k]));\n"
        "            double d0 = fabs(y[k] - e) / e, d1 = fabs(z[k] - sg) / sg;\n"
        "            v[0] = d0 > v[0] ? d0 : v[0]; v[1] = d1 > v[1] ? d1 : v[1];\n"
        "        }\n"
        "    }\n"
        "    out[13] = v[0] * 8388608.0; out[14] = v[1] * 8388608.0;\n"
        "    tt_v8 e8 = {-200.0f, 100.0f, NAN, 0.0f, INFINITY, -INFINITY, 1.0f, -1.0f};\n"
        "    tt_v8 r8 = tt_vexp8(e8), s8 = tt_vsigmoid8(e8);\n"
        "    for (int k = 0; k < 8; k++) { out[15 + k] = r8[k]; out[23 + k] = s8[k]; }\n"
        "}\n";
    char dir[256];
    snprintf(dir, sizeof dir, "%s/tt-test-math-XXXXXX", tt_test_tmpdir());
    CHECK(mkdtemp(dir) != NULL);
    tt_build_item it;
    memset(&it, 0, sizeof it);
    it.source = src;
    snprintf(it.fn, sizeof it.fn, "tt_math_errors");
    tt_build_opts bo;
    memset(&bo, 0, sizeof bo);
    bo.workdir = dir;
    bo.timeout_s = 120;
    tt_err err = {0};
    CHECK_MSG(tt_build(&bo, tt_codegen_prelude(), &it, 1, &err) == 0 && it.error == 0, "%s %s",
              err.msg, it.msg);
    void *h = it.error == 0 && it.so_path[0] ? dlopen(it.so_path, RTLD_NOW | RTLD_LOCAL) : NULL;
    void (*f)(double *) = NULL;
    if (h)
        *(void **)&f = dlsym(h, "tt_math_errors");
    CHECK(f != NULL);
    if (f) {
        double o[31];
        f(o);
        fprintf(stderr, "    worst error in ulps: exp %.1f, tanh %.1f, erf %.1f, sigmoid %.1f\n", o[0],
                o[1], o[2], o[3]);
        CHECK_MSG(o[0] <= 8 && o[1] <= 16 && o[2] <= 16 && o[3] <= 8, "%g %g %g %g", o[0], o[1], o[2],
                  o[3]);
        CHECK(o[4] == 0 && isinf(o[5]) && o[5] > 0 && isnan(o[6]) && isnan(o[7]));
        CHECK(o[8] == -1 && o[9] == 0 && o[10] == 1 && o[11] == -1 && o[12] == 0);
        fprintf(stderr, "    vector forms: exp %.1f, sigmoid %.1f ulps\n", o[13], o[14]);
        CHECK_MSG(o[13] <= 8 && o[14] <= 8, "%g %g", o[13], o[14]);
        /* exp: -200 -> 0, 100 -> inf, nan, 1, inf, 0, e, 1/e; sigmoid likewise */
        CHECK(o[15] == 0 && isinf(o[16]) && o[16] > 0 && isnan(o[17]) && o[18] == 1);
        CHECK(isinf(o[19]) && o[20] == 0 && fabs(o[21] - M_E) < 1e-6 && fabs(o[22] - 1 / M_E) < 1e-6);
        CHECK(o[23] == 0 && o[24] == 1 && isnan(o[25]) && o[26] == 0.5 && o[27] == 1 && o[28] == 0);
    }
    if (h)
        dlclose(h);
    sg_rm_tree(dir);
}

static void test_lowering_refusals(void)
{
    tt_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.n = 1, p.h = 6, p.w = 6, p.ci = 3, p.kh = 3, p.kw = 3, p.co = 4;
    p.stride_h = p.stride_w = 1, p.pad_t = p.pad_l = p.pad_b = p.pad_r = 1, p.dil_h = p.dil_w = 1;
    p.groups = 1;
    tt_epilogue e = {.n = 1, .ops = {TT_EPI_RELU}};
    tt_err err = {0};
    tt_dag *d = tt_build_conv2d_nhwc(&p, &e, &err); /* 0 data 1 PaddedInput 2 weight 3 conv 4 relu */
    CHECK(d);
    /* PaddedInput computed at relu, which does not read it */
    tt_state *s = tt_state_new(d);
    tt_step x = sg_step0(TT_STEP_CA, 1);
    x.target_stage = 4;
    x.target_iter = 1;
    CHECK(tt_state_apply(s, &x, &err) == 0);
    tt_str o;
    tt_str_init(&o);
    CHECK(tt_codegen_candidate(s, "f", &o, &err) != 0);
    CHECK_MSG(strstr(err.msg, "PaddedInput"), "message: %s", err.msg);
    tt_str_free(&o);
    tt_state_free(s);
    /* PaddedInput computed at conv, but also read outside it once conv is at root
     * and PaddedInput is read by ... only conv: fine; the untouched state lowers */
    s = tt_state_new(d);
    tt_str_init(&o);
    tt_err_clear(&err);
    CHECK(tt_codegen_candidate(s, "f", &o, &err) == 0 && o.len > 0);
    CHECK(strstr(o.buf, "void f(float *const *args)"));
    tt_str_free(&o);
    tt_state_free(s);
    tt_dag_free(d);
}

/* Two kernels in one translation unit (tt_build's per_unit, as the search
 * and the executor build): their parallel bodies are static functions named
 * after each kernel, so the unit compiles as one (a clash of names made
 * every such unit fail and be rebuilt kernel by kernel). */
static void test_kernels_share_a_unit(void)
{
    tt_err err = {0};
    tt_build_item it[2];
    char *src[2] = {NULL, NULL};
    memset(it, 0, sizeof it);
    for (int i = 0; i < 2; i++) {
        tt_dag *d = conv_plain(14, 14, 32 * (i + 1), 32, 1, 0, NULL);
        CHECK(d);
        if (!d)
            return;
        tt_step *steps = tt_xmalloc(TT_MAX_STEPS * sizeof *steps);
        int n = 0;
        CHECK(tt_default_schedule(d, tt_codegen_vector_lanes(), steps, TT_MAX_STEPS, &n, &err) == 0);
        tt_state *s = tt_state_new(d);
        CHECK_MSG(tt_state_apply_all(s, steps, n, &err) == 0, "%s", err.msg);
        snprintf(it[i].fn, sizeof it[i].fn, "k%d", i);
        tt_str o;
        tt_str_init(&o);
        CHECK_MSG(tt_codegen_candidate(s, it[i].fn, &o, &err) == 0, "%s", err.msg);
        CHECK_MSG(strstr(o.buf, "_par"), "kernel %d has no parallel body function", i);
        src[i] = tt_str_take(&o);
        it[i].source = src[i];
        tt_state_free(s);
        free(steps);
        tt_dag_free(d);
    }
    char dir[256];
    snprintf(dir, sizeof dir, "%s/tt-test-unit-XXXXXX", tt_test_tmpdir());
    CHECK(mkdtemp(dir) != NULL);
    tt_build_opts bo;
    memset(&bo, 0, sizeof bo);
    bo.workdir = dir;
    bo.per_unit = 2;
    CHECK_MSG(tt_build(&bo, tt_codegen_prelude(), it, 2, &err) == 0, "%s", err.msg);
    CHECK_MSG(it[0].error == 0 && it[1].error == 0, "%s / %s", it[0].msg, it[1].msg);
    CHECK_MSG(!strcmp(it[0].so_path, it[1].so_path), "built apart: %s, %s", it[0].so_path, it[1].so_path);
    sg_rm_tree(dir);
    free(src[0]);
    free(src[1]);
}

const tt_test tests_codegen_units[] = {
    {"prelude_math", test_prelude_math},
    {"lowering_refusals", test_lowering_refusals},
    {"kernels_share_a_unit", test_kernels_share_a_unit},
    {NULL, NULL},
};
