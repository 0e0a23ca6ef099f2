/* test_dag.c - compute DAGs: TOPI stage lists, flops, class keys, canonical
 * print, workload keys, and identification of the real Ansor logs' keys. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../src/dag/dag.h"
#include "../src/record/identify.h"
#include "test.h"

/* ---- helpers ---------------------------------------------------------------- */

static int names_are(const tt_dag *d, const char *const *names, int n)
{
    if (d->nops != n)
        return 0;
    for (int i = 0; i < n; i++)
        if (strcmp(d->ops[i]->name, names[i]))
            return 0;
    return 1;
}

static int shape_is(const tt_op *op, int n, const int64_t *s)
{
    if (op->ndim != n)
        return 0;
    for (int i = 0; i < n; i++)
        if (op->axis[i].extent != s[i])
            return 0;
    return 1;
}

static tt_conv2d_params conv_params(int64_t h, int64_t ci, int64_t k, int64_t co, int64_t s,
                                    int64_t p)
{
    tt_conv2d_params c = {.n = 1, .h = h, .w = h, .ci = ci, .kh = k, .kw = k, .co = co,
                          .stride_h = s, .stride_w = s, .pad_t = p, .pad_l = p, .pad_b = p,
                          .pad_r = p, .dil_h = 1, .dil_w = 1, .groups = 1};
    return c;
}

/* Text of line `prefix...` of the DAG's concrete print (first match), or "". */
static void print_line(const tt_dag *d, int abstract, const char *prefix, char *out, size_t n)
{
    char *text = tt_dag_print(d, abstract);
    out[0] = 0;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (!strncmp(line, prefix, strlen(prefix))) {
            snprintf(out, n, "%.*s", (int)len, line);
            break;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
}

/* ---- builders --------------------------------------------------------------- */

static void test_conv2d_stages(void)
{
    tt_err err = {0};
    tt_conv2d_params p = conv_params(56, 64, 3, 64, 1, 1);
    tt_epilogue e = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RELU}};
    tt_dag *d = tt_build_conv2d_nhwc(&p, &e, &err);
    CHECK_MSG(d, "%s", err.msg);
    static const char *const names[] = {"data", "PaddedInput", "weight", "Conv2dOutput",
                                        "bias", "T_add", "T_relu"};
    CHECK(names_are(d, names, 7));
    CHECK(d->ops[0]->kind == TT_OP_PLACEHOLDER && d->ops[2]->kind == TT_OP_PLACEHOLDER &&
          d->ops[4]->kind == TT_OP_PLACEHOLDER);
    CHECK(d->ops[2]->is_const == 1 && d->ops[0]->is_const == 0);
    CHECK(!strcmp(d->ops[1]->tag, "injective,pad"));
    CHECK(!strcmp(d->ops[3]->tag, "conv2d_nhwc"));
    CHECK(shape_is(d->ops[1], 4, (int64_t[]){1, 58, 58, 64}));
    CHECK(shape_is(d->ops[2], 4, (int64_t[]){3, 3, 64, 64}));
    CHECK(shape_is(d->ops[3], 4, (int64_t[]){1, 56, 56, 64}));
    CHECK(shape_is(d->ops[4], 4, (int64_t[]){1, 1, 1, 64}));
    const tt_op *c = d->ops[3];
    CHECK(!strcmp(c->axis[0].name, "nn") && !strcmp(c->axis[1].name, "yy") &&
          !strcmp(c->axis[2].name, "xx") && !strcmp(c->axis[3].name, "ff"));
    CHECK(c->nreduce == 3 && c->red == TT_RED_SUM);
    CHECK(!strcmp(c->raxis[0].name, "ry") && c->raxis[0].extent == 3);
    CHECK(!strcmp(c->raxis[1].name, "rx") && c->raxis[1].extent == 3);
    CHECK(!strcmp(c->raxis[2].name, "rc") && c->raxis[2].extent == 64);
    CHECK(!strcmp(d->class_key, "conv2d_nhwc+add+relu"));
    char line[512];
    print_line(d, 0, "  body (mul T1", line, sizeof line);
    CHECK_MSG(!strcmp(line, "  body (mul T1[a0,(add a1 r0),(add a2 r1),r2] T2[r0,r1,r2,a3])"),
              "%s", line);
    print_line(d, 0, "  body (select", line, sizeof line);
    CHECK_MSG(!strcmp(line, "  body (select (and (and (and (ge a1 1) (lt a1 57)) (ge a2 1)) "
                            "(lt a2 57)) T0[a0,(sub a1 1),(sub a2 1),a3] 0f)"),
              "%s", line);
    print_line(d, 0, "  body (add T3", line, sizeof line);
    CHECK_MSG(!strcmp(line, "  body (add T3[a0,a1,a2,a3] T4[a0,0,0,a3])"), "%s", line);
    print_line(d, 0, "  body (max T5", line, sizeof line);
    CHECK_MSG(!strcmp(line, "  body (max T5[a0,a1,a2,a3] 0f)"), "%s", line);
    tt_dag_free(d);

    /* Stride 2, no padding: PaddedInput still exists, as a plain copy. */
    p = conv_params(56, 64, 1, 128, 2, 0);
    d = tt_build_conv2d_nhwc(&p, NULL, &err);
    CHECK_MSG(d, "%s", err.msg);
    CHECK(d->nops == 4 && !strcmp(d->ops[1]->name, "PaddedInput"));
    CHECK(shape_is(d->ops[3], 4, (int64_t[]){1, 28, 28, 128}));
    print_line(d, 0, "  body T0", line, sizeof line);
    CHECK_MSG(!strcmp(line, "  body T0[a0,a1,a2,a3]"), "%s", line);
    print_line(d, 0, "  body (mul", line, sizeof line);
    CHECK_MSG(!strcmp(line, "  body (mul T1[a0,(add (mul a1 2) r0),(add (mul a2 2) r1),r2] "
                            "T2[r0,r1,r2,a3])"),
              "%s", line);
    CHECK(!strcmp(d->class_key, "conv2d_nhwc"));
    CHECK(strstr(d->ops[3]->attrs, "stride=2,2 pad=0,0,0,0 dil=1,1"));
    tt_dag_free(d);
}

static void test_conv2d_flops(void)
{
    tt_err err = {0};
    tt_conv2d_params p = conv_params(56, 64, 3, 64, 1, 1);
    tt_dag *d = tt_build_conv2d_nhwc(&p, NULL, &err);
    CHECK_MSG(d, "%s", err.msg);
    double conv = 2.0 * 56 * 56 * 64 * 3 * 3 * 64, pad = 58.0 * 58 * 64;
    CHECK_MSG(d->flops == conv + pad, "%.0f", d->flops);
    tt_dag_free(d);
    tt_epilogue e = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RELU}};
    d = tt_build_conv2d_nhwc(&p, &e, &err);
    CHECK(d && d->flops == conv + pad + 2.0 * 56 * 56 * 64);
    tt_dag_free(d);
}

static void test_depthwise_grouped(void)
{
    tt_err err = {0};
    tt_conv2d_params p = conv_params(112, 32, 3, 32, 1, 1);
    p.depthwise = 1;
    tt_epilogue e = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_CLIP}, .lo = {0, 0}, .hi = {0, 6}};
    tt_dag *d = tt_build_conv2d_nhwc(&p, &e, &err);
    CHECK_MSG(d, "%s", err.msg);
    static const char *const names[] = {"data", "PaddedInput", "weight", "DepthwiseConv2d",
                                        "bias", "T_add", "compute"};
    CHECK(names_are(d, names, 7));
    CHECK(shape_is(d->ops[2], 4, (int64_t[]){3, 3, 32, 1}));
    const tt_op *c = d->ops[3];
    CHECK(c->nreduce == 2 && !strcmp(c->raxis[0].name, "di") && !strcmp(c->raxis[1].name, "dj"));
    CHECK(!strcmp(c->tag, "depthwise_conv2d_nhwc"));
    CHECK_MSG(!strcmp(d->class_key, "depthwise_conv2d_nhwc+add+clip"), "%s", d->class_key);
    char line[512];
    print_line(d, 0, "  body (mul", line, sizeof line);
    CHECK_MSG(!strcmp(line, "  body (mul T1[a0,(add a1 r0),(add a2 r1),a3] T2[r0,r1,a3,0])"), "%s",
              line);
    print_line(d, 0, "  body (max (min", line, sizeof line);
    CHECK_MSG(!strcmp(line, "  body (max (min T5[a0,a1,a2,a3] 6f) 0f)"), "%s", line);
    tt_dag_free(d);

    /* channel multiplier 2 */
    p.co = 64;
    d = tt_build_conv2d_nhwc(&p, NULL, &err);
    CHECK(d && shape_is(d->ops[2], 4, (int64_t[]){3, 3, 32, 2}));
    print_line(d, 0, "  body (mul", line, sizeof line);
    CHECK_MSG(!strcmp(line, "  body (mul T1[a0,(add a1 r0),(add a2 r1),(floordiv a3 2)] "
                            "T2[r0,r1,(floordiv a3 2),(floormod a3 2)])"),
              "%s", line);
    tt_dag_free(d);

    p = conv_params(28, 64, 3, 128, 1, 1);
    p.groups = 4;
    d = tt_build_conv2d_nhwc(&p, NULL, &err);
    CHECK_MSG(d, "%s", err.msg);
    CHECK(shape_is(d->ops[2], 4, (int64_t[]){3, 3, 16, 128}));
    CHECK(!strcmp(d->ops[3]->tag, "group_conv2d_nhwc") && d->ops[3]->raxis[2].extent == 16);
    print_line(d, 0, "  body (mul", line, sizeof line);
    CHECK_MSG(!strcmp(line, "  body (mul T1[a0,(add a1 r0),(add a2 r1),(add (mul (floordiv a3 32) "
                            "16) r2)] T2[r0,r1,r2,a3])"),
              "%s", line);
    CHECK(!strcmp(d->class_key, "group_conv2d_nhwc") && strstr(d->ops[3]->attrs, "groups=4"));
    tt_dag_free(d);

    p = conv_params(28, 64, 3, 128, 1, 1);
    p.groups = 3; /* 64 % 3 != 0 */
    d = tt_build_conv2d_nhwc(&p, NULL, &err);
    CHECK(!d && err.set);
}

static void test_dense_batch_matmul(void)
{
    tt_err err = {0};
    tt_epilogue e = {.n = 1, .ops = {TT_EPI_BIAS_ADD}};
    tt_dag *d = tt_build_dense(1, 1000, 2048, &e, &err);
    CHECK_MSG(d, "%s", err.msg);
    static const char *const names[] = {"data", "weight", "T_dense", "bias", "T_add"};
    CHECK(names_are(d, names, 5));
    CHECK(shape_is(d->ops[0], 2, (int64_t[]){1, 2048}));
    CHECK(shape_is(d->ops[1], 2, (int64_t[]){1000, 2048}) && d->ops[1]->is_const);
    CHECK(shape_is(d->ops[3], 1, (int64_t[]){1000}));
    CHECK(d->ops[2]->nreduce == 1 && d->ops[2]->raxis[0].extent == 2048 &&
          !strcmp(d->ops[2]->raxis[0].name, "k"));
    CHECK(!strcmp(d->class_key, "dense+add"));
    CHECK(d->flops == 2.0 * 1000 * 2048 + 1000);
    char line[256];
    print_line(d, 0, "  body (mul", line, sizeof line);
    CHECK_MSG(!strcmp(line, "  body (mul T0[a0,r0] T1[a1,r0])"), "%s", line);
    print_line(d, 0, "  body (add", line, sizeof line);
    CHECK_MSG(!strcmp(line, "  body (add T2[a0,a1] T3[a1])"), "%s", line);
    tt_dag_free(d);

    d = tt_build_batch_matmul(12, 128, 64, 128, NULL, &err);
    CHECK_MSG(d, "%s", err.msg);
    static const char *const bn[] = {"A", "B", "T_batch_matmul_NT"};
    CHECK(names_are(d, bn, 3));
    CHECK(shape_is(d->ops[1], 3, (int64_t[]){12, 64, 128}));
    CHECK(shape_is(d->ops[2], 3, (int64_t[]){12, 128, 64}));
    CHECK(!strcmp(d->class_key, "batch_matmul"));
    print_line(d, 0, "  body (mul", line, sizeof line);
    CHECK_MSG(!strcmp(line, "  body (mul T0[a0,a1,r0] T1[a0,a2,r0])"), "%s", line);
    tt_dag_free(d);

    d = tt_build_matmul_add(1024, 512, 256, &err);
    CHECK_MSG(d, "%s", err.msg);
    static const char *const mn[] = {"A", "B", "matmul", "C", "out"};
    CHECK(names_are(d, mn, 5));
    CHECK(shape_is(d->ops[1], 2, (int64_t[]){512, 256}) && d->ops[1]->is_const);
    CHECK(d->ops[2]->raxis[0].extent == 512 && !strcmp(d->ops[2]->raxis[0].name, "k"));
    CHECK(shape_is(d->ops[4], 2, (int64_t[]){1024, 256}));
    CHECK_MSG(!strcmp(d->class_key, "matmul_add"), "%s", d->class_key);
    print_line(d, 0, "  body (mul", line, sizeof line);
    CHECK_MSG(!strcmp(line, "  body (mul T0[a0,r0] T1[r0,a1])"), "%s", line);
    tt_dag_free(d);
}

static void test_pool(void)
{
    tt_err err = {0};
    tt_pool_params p = {.kind = TT_POOL_MAX, .n = 1, .h = 112, .w = 112, .c = 64, .kh = 3,
                        .kw = 3, .stride_h = 2, .stride_w = 2, .pad_t = 1, .pad_l = 1,
                        .pad_b = 1, .pad_r = 1};
    tt_epilogue e = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RELU}};
    tt_dag *d = tt_build_pool2d_nhwc(&p, &e, &err);
    CHECK_MSG(d, "%s", err.msg);
    static const char *const names[] = {"data", "pad_temp", "tensor", "bias", "T_add", "T_relu"};
    CHECK(names_are(d, names, 6));
    CHECK(shape_is(d->ops[1], 4, (int64_t[]){1, 114, 114, 64}));
    CHECK(shape_is(d->ops[2], 4, (int64_t[]){1, 56, 56, 64}));
    CHECK(shape_is(d->ops[3], 4, (int64_t[]){1, 1, 1, 64}));
    const tt_op *op = d->ops[2];
    CHECK(op->red == TT_RED_MAX && op->nreduce == 2 && !strcmp(op->tag, "pool_max"));
    CHECK(!strcmp(op->raxis[0].name, "rv0") && op->raxis[0].extent == 3);
    CHECK(op->body->kind == TT_E_LOAD && op->body->u.uid == 1);
    const tt_expr *pb = d->ops[1]->body;
    CHECK(pb->kind == TT_E_SELECT && pb->args[2]->kind == TT_E_FLOAT && pb->args[2]->u.fval < -3e38);
    CHECK_MSG(!strcmp(d->class_key, "pool_max+add+relu"), "%s", d->class_key);
    tt_dag_free(d);

    /* No padding: no pad_temp stage (TOPI pads only when some pad is nonzero). */
    p.pad_t = p.pad_l = p.pad_b = p.pad_r = 0;
    p.kh = p.kw = 2;
    d = tt_build_pool2d_nhwc(&p, NULL, &err);
    CHECK(d && d->nops == 2 && !strcmp(d->class_key, "pool_max"));
    tt_dag_free(d);

    p.kind = TT_POOL_AVG;
    p.kh = p.kw = 3;
    p.stride_h = p.stride_w = 1;
    p.pad_t = p.pad_l = p.pad_b = p.pad_r = 1;
    d = tt_build_pool2d_nhwc(&p, NULL, &err);
    CHECK_MSG(d, "%s", err.msg);
    static const char *const an[] = {"data", "pad_temp", "tensor", "tensor"};
    CHECK(names_are(d, an, 4));
    CHECK(!strcmp(d->ops[2]->tag, "pool_sum") && d->ops[2]->red == TT_RED_SUM);
    CHECK(d->ops[1]->body->args[2]->u.fval == 0.0);
    CHECK_MSG(!strcmp(d->class_key, "pool_avg"), "%s", d->class_key);
    tt_dag_free(d);

    /* The 0-d constant epilogue some Relay kernels carry. */
    p.kind = TT_POOL_MAX;
    p.stride_h = p.stride_w = 2;
    tt_epilogue s = {.n = 2, .ops = {TT_EPI_SCALAR_ADD, TT_EPI_RELU}, .lo = {0.5}};
    d = tt_build_pool2d_nhwc(&p, &s, &err);
    CHECK_MSG(d, "%s", err.msg);
    static const char *const sn[] = {"data", "pad_temp", "tensor", "compile_engine_const",
                                     "T_add", "T_relu"};
    CHECK(names_are(d, sn, 6));
    CHECK(d->ops[3]->ndim == 0 && d->ops[3]->kind == TT_OP_COMPUTE);
    CHECK(d->ops[4]->body->args[1]->kind == TT_E_LOAD && d->ops[4]->body->args[1]->n == 0);
    CHECK_MSG(!strcmp(d->class_key, "pool_max+add+relu"), "%s", d->class_key);
    tt_dag_free(d);
}

static void test_global_pool_softmax(void)
{
    tt_err err = {0};
    tt_dag *d = tt_build_global_avg_pool_nhwc(1, 7, 7, 2048, NULL, &err);
    CHECK_MSG(d, "%s", err.msg);
    CHECK(d->nops == 3);
    CHECK(shape_is(d->ops[1], 4, (int64_t[]){1, 1, 1, 2048}));
    CHECK(d->ops[1]->nreduce == 2 && d->ops[1]->raxis[0].extent == 7 &&
          d->ops[1]->raxis[1].extent == 7 && !strcmp(d->ops[1]->raxis[1].name, "rv1"));
    CHECK(!strcmp(d->ops[1]->tag, "adaptive_pool_sum"));
    CHECK_MSG(!strcmp(d->class_key, "adaptive_pool_avg"), "%s", d->class_key);
    tt_dag_free(d);

    int64_t shape[2] = {1, 1000};
    d = tt_build_softmax(2, shape, &err);
    CHECK_MSG(d, "%s", err.msg);
    static const char *const names[] = {"data", "T_softmax_maxelem", "T_softmax_exp",
                                        "T_softmax_expsum", "T_softmax_norm"};
    CHECK(names_are(d, names, 5));
    CHECK(shape_is(d->ops[1], 1, (int64_t[]){1}) && d->ops[1]->red == TT_RED_MAX);
    CHECK(d->ops[1]->nreduce == 1 && d->ops[1]->raxis[0].extent == 1000);
    CHECK(shape_is(d->ops[2], 2, shape));
    CHECK(shape_is(d->ops[3], 1, (int64_t[]){1}) && d->ops[3]->red == TT_RED_SUM);
    CHECK(d->ops[3]->raxis[0].extent == 1000 && d->ops[3]->body->u.uid == 2);
    CHECK(shape_is(d->ops[4], 2, shape));
    CHECK_MSG(!strcmp(d->class_key, "softmax"), "%s", d->class_key);
    char line[256];
    print_line(d, 0, "  body (exp", line, sizeof line);
    CHECK_MSG(!strcmp(line, "  body (exp (sub T0[a0,a1] T1[a0]))"), "%s", line);
    tt_dag_free(d);
}

/* ---- validation, rewriting ---------------------------------------------------- */

static tt_expr *rw_axis0(void *ctx, tt_arena *a, const tt_expr *e)
{
    (void)ctx;
    if (e->kind == TT_E_AXIS && e->u.axis == 0)
        return tt_e_int(a, 5);
    return NULL;
}

static void test_finish_and_rewrite(void)
{
    tt_err err = {0};
    int64_t s[2] = {4, 8};
    tt_dag *d = tt_dag_new();
    int x = tt_dag_placeholder(d, "x", 2, s, 0);
    int y = tt_dag_compute(d, "y", "elemwise", 2, s, NULL, 0, NULL, NULL, TT_RED_NONE);
    tt_expr *idx[2] = {tt_e_axis(d->arena, 0), tt_e_axis(d->arena, 1)};
    tt_dag_op(d, y)->body = tt_e_load(d->arena, x, 1, idx); /* wrong rank */
    CHECK(tt_dag_finish(d, &err) != 0 && strstr(err.msg, "indices"));
    tt_err_clear(&err);
    tt_dag_op(d, y)->body = tt_e_load(d->arena, y, 2, idx); /* reads itself */
    CHECK(tt_dag_finish(d, &err) != 0 && strstr(err.msg, "earlier"));
    tt_err_clear(&err);
    tt_expr *bad[2] = {tt_e_axis(d->arena, 0), tt_e_axis(d->arena, 2)};
    tt_dag_op(d, y)->body = tt_e_load(d->arena, x, 2, bad); /* axis 2 of a 2-d op */
    CHECK(tt_dag_finish(d, &err) != 0 && strstr(err.msg, "axis 2"));
    tt_err_clear(&err);
    tt_expr *ld = tt_e_load(d->arena, x, 2, idx);
    tt_dag_op(d, y)->body = tt_e_bin(d->arena, TT_E_ADD, ld, tt_e_float(d->arena, 1.0));
    CHECK_MSG(tt_dag_finish(d, &err) == 0, "%s", err.msg);
    CHECK(d->flops == 32 && !strcmp(d->class_key, "y"));
    CHECK(tt_dag_ninputs(d) == 1 && tt_dag_input(d, 0) == 0 && tt_dag_input(d, 1) == -1);
    CHECK(tt_dag_output(d) == 1 && tt_op_numel(d->ops[1]) == 32);

    /* types */
    CHECK(ld->type == TT_T_FLOAT && idx[0]->type == TT_T_INT);
    CHECK(tt_e_bin(d->arena, TT_E_LT, ld, ld)->type == TT_T_BOOL);
    CHECK(tt_e_bin(d->arena, TT_E_FLOORDIV, idx[0], idx[1])->type == TT_T_INT);
    CHECK(tt_e_un(d->arena, TT_E_CAST, idx[0])->type == TT_T_FLOAT);

    tt_arena *a = tt_arena_new();
    tt_expr *r = tt_expr_rewrite(a, tt_dag_op(d, y)->body, rw_axis0, NULL);
    CHECK(r != tt_dag_op(d, y)->body && r->kind == TT_E_ADD);
    CHECK(r->args[0]->kind == TT_E_LOAD && r->args[0]->args[0]->kind == TT_E_INT &&
          r->args[0]->args[0]->u.ival == 5 && r->args[0]->args[1]->kind == TT_E_AXIS);
    CHECK(tt_dag_op(d, y)->body->args[0]->args[0]->kind == TT_E_AXIS); /* original intact */
    tt_arena_free(a);
    tt_dag_free(d);
}

/* ---- canonical print and keys --------------------------------------------------- */

static void test_print_and_keys(void)
{
    tt_err err = {0};
    tt_epilogue e = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RELU}};
    tt_conv2d_params p1 = conv_params(56, 64, 3, 64, 1, 1), p2 = conv_params(28, 128, 3, 128, 1, 1);
    tt_conv2d_params p3 = conv_params(56, 64, 3, 64, 2, 1);
    tt_dag *a = tt_build_conv2d_nhwc(&p1, &e, &err), *b = tt_build_conv2d_nhwc(&p2, &e, &err);
    tt_dag *c = tt_build_conv2d_nhwc(&p3, &e, &err);
    CHECK(a && b && c);
    char *pa = tt_dag_print(a, 1), *pb = tt_dag_print(b, 1), *pc = tt_dag_print(c, 1);
    char *ca = tt_dag_print(a, 0), *cb = tt_dag_print(b, 0);
    int same_abstract = !strcmp(pa, pb), diff_stride = strcmp(pa, pc) != 0;
    int diff_concrete = strcmp(ca, cb) != 0, versioned = !strncmp(pa, "tt-dag-v2\n", 10);
    int hides = !strstr(pa, "56") && strstr(pa, "shape=[?,?,?,?]") && strstr(ca, "[1,56,56,64]");
    free(pa), free(pb), free(pc), free(ca), free(cb);
    CHECK(same_abstract && diff_stride && diff_concrete && versioned && hides);

    char *ka = tt_dag_workload_key(a), *kb = tt_dag_workload_key(b);
    CHECK_MSG(strlen(ka) > 20 && ka[0] == '[' && ka[1] == '"' && ka[18] == '"', "%s", ka);
    for (int i = 2; i < 18; i++)
        CHECK(strchr("0123456789abcdef", ka[i]));
    CHECK_MSG(!strcmp(ka + 19, ", [1, 56, 56, 64], [3, 3, 64, 64], [1, 1, 1, 64], [1, 56, 56, 64]]"),
              "%s", ka);
    CHECK(!strncmp(ka, kb, 19) && strcmp(ka, kb));
    /* Round trip through the key parser. */
    tt_wkey *k = malloc(sizeof *k);
    int rc = tt_wkey_parse(ka, k, &err);
    CHECK_MSG(rc == 0 && k->nested && k->ntensors == 4 && k->nints == 16, "%s", err.msg);
    free(k);
    free(ka), free(kb);
    tt_dag_free(a), tt_dag_free(b), tt_dag_free(c);
}

/* ---- identification ---------------------------------------------------------- */

static void test_identify_roundtrip(void)
{
    tt_err err = {0};
    tt_wl_candidate cand[16];
    /* Our own nested keys identify back to the DAG that made them. */
    tt_conv2d_params ps[4] = {conv_params(56, 64, 3, 64, 1, 1), conv_params(224, 3, 7, 64, 2, 3),
                              conv_params(56, 256, 1, 512, 2, 0), conv_params(112, 32, 3, 32, 2, 1)};
    ps[3].depthwise = 1;
    tt_epilogue es[4] = {{.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RELU}},
                         {.n = 3, .ops = {TT_EPI_BIAS_MUL, TT_EPI_BIAS_ADD, TT_EPI_RELU}},
                         {.n = 1, .ops = {TT_EPI_RESIDUAL_ADD}},
                         {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_CLIP}, .hi = {0, 6}}};
    tt_epilogue bias1d = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RELU}, .bias_1d = 1};
    tt_pool_params pp = {.kind = TT_POOL_AVG, .n = 1, .h = 28, .w = 28, .c = 192, .kh = 3,
                         .kw = 3, .stride_h = 1, .stride_w = 1, .pad_t = 1, .pad_l = 1,
                         .pad_b = 1, .pad_r = 1};
    tt_epilogue none = {0};
    tt_dag *dags[9];
    int nd = 0;
    for (int i = 0; i < 4; i++)
        dags[nd++] = tt_build_conv2d_nhwc(&ps[i], &es[i], &err);
    dags[nd++] = tt_build_conv2d_nhwc(&ps[0], &bias1d, &err);
    dags[nd++] = tt_build_pool2d_nhwc(&pp, &none, &err);
    dags[nd++] = tt_build_batch_matmul(12, 128, 128, 64, &es[2], &err);
    dags[nd++] = tt_build_dense(16, 768, 3072, &bias1d, &err);
    int64_t sm[3] = {12, 128, 128};
    dags[nd++] = tt_build_softmax(3, sm, &err);
    for (int i = 0; i < nd; i++) {
        tt_dag *d = dags[i];
        CHECK_MSG(d, "case %d: %s", i, err.msg);
        char *key = tt_dag_workload_key(d);
        int n = tt_identify_candidates(key, d->nops - 1, cand, 16, &err);
        CHECK_MSG(n >= 1, "%s: %s", key, err.msg);
        /* relu and clip end a kernel with the same stage count: the key
         * cannot tell them apart, and relu is ranked first. */
        int want_at = strstr(d->class_key, "clip") ? 1 : 0, found = -1;
        char *want = tt_dag_print(d, 0);
        for (int j = 0; j < n && found < 0; j++) {
            char *got = tt_dag_print(cand[j].dag, 0);
            if (!strcmp(want, got))
                found = j;
            free(got);
        }
        free(want), free(key);
        CHECK_MSG(found == want_at, "case %d (%s): found at %d, first %s", i, d->class_key, found,
                  cand[0].desc);
        tt_identify_free(cand, n);
    }
    for (int i = 0; i < nd; i++)
        tt_dag_free(dags[i]);
    /* A flat key with a 1-D bias. */
    int n = tt_identify_candidates("[\"00112233445566778899aabbccddeeff\", 1, 56, 56, 64, 3, 3, 64, "
                                   "64, 64, 1, 56, 56, 64]",
                                   6, cand, 16, &err);
    CHECK_MSG(n >= 1 && !strcmp(cand[0].dag->class_key, "conv2d_nhwc+add+relu"), "%s", err.msg);
    CHECK(cand[0].dag->ops[4]->ndim == 1 && strstr(cand[0].dag->ops[3]->attrs, "pad=1,1,1,1"));
    tt_identify_free(cand, n);
    /* A flat dense key and a registered-function key. */
    n = tt_identify_candidates("[\"0123456789abcdef0123456789abcdef\", 1, 2048, 1000, 2048, "
                                   "1000, 1, 1000]",
                                   4, cand, 16, &err);
    CHECK_MSG(n >= 1 && !strcmp(cand[0].dag->class_key, "dense+add"), "%s", err.msg);
    CHECK(cand[0].dag->ops[3]->ndim == 1);
    tt_identify_free(cand, n);
    n = tt_identify_candidates("[\"matmul_add\", 128, 64, 32, \"float32\"]", -1, cand, 16, &err);
    CHECK(n == 1 && !strcmp(cand[0].dag->class_key, "matmul_add"));
    tt_identify_free(cand, n);
    CHECK(tt_identify_candidates("[\"no_such_function\", 1, 2]", -1, cand, 16, &err) == 0);
    CHECK(tt_identify_candidates("not json", -1, cand, 16, &err) == -1 && err.set);

    tt_step steps[3];
    memset(steps, 0, sizeof steps);
    steps[0].tag = TT_STEP_CHW, steps[0].stage = 3;
    steps[1].tag = TT_STEP_CA, steps[1].stage = 3, steps[1].target_stage = 4;
    steps[2].tag = TT_STEP_AN, steps[2].stage = 4;
    CHECK(tt_identify_max_stage(steps, 3) == 3 && tt_identify_max_stage(steps, 0) == -1);
}

/* Iterator bookkeeping to check a record's SP extents against a DAG:
 * per stage, each current iterator's original axis (or -1 once derived). */
typedef struct sim_stage {
    int uid, n, attached;
    int orig[64];
} sim_stage;

static int64_t orig_extent(const tt_op *op, int j)
{
    return j < op->ndim ? op->axis[j].extent : op->raxis[j - op->ndim].extent;
}

/* Replay the iterator-changing steps that need no bound inference; returns
 * 0 if every SP on an original axis records that axis's extent. */
static int check_split_extents(const tt_dag *d, json_t *steps, char *why, size_t whylen)
{
    sim_stage st[64];
    int ns = d->nops;
    for (int i = 0; i < ns; i++) {
        st[i].uid = i, st[i].attached = 0;
        st[i].n = d->ops[i]->ndim + d->ops[i]->nreduce;
        for (int j = 0; j < st[i].n; j++)
            st[i].orig[j] = j;
    }
    size_t si;
    json_t *s;
    json_array_foreach(steps, si, s)
    {
        const char *tag = json_string_value(json_array_get(s, 0));
        int sid = (int)json_integer_value(json_array_get(s, 1));
        if (!strcmp(tag, "RF"))
            return 0; /* rfactor's iterators need more than this sketch */
        if (sid < 0 || sid >= ns) {
            snprintf(why, whylen, "step %zu: stage %d of %d", si, sid, ns);
            return -1;
        }
        sim_stage *t = &st[sid];
        if (!strcmp(tag, "CHW")) {
            if (ns >= 63)
                return -1;
            memmove(&st[sid + 1], &st[sid], (size_t)(ns - sid) * sizeof st[0]);
            ns++;
            sim_stage *orig = &st[sid + 1];
            orig->n = d->ops[orig->uid]->ndim; /* the original becomes a spatial copy */
            for (int j = 0; j < orig->n; j++)
                orig->orig[j] = j;
        } else if (!strcmp(tag, "SP") || !strcmp(tag, "FSP")) {
            int it = (int)json_integer_value(json_array_get(s, 2));
            if (it < 0 || it >= t->n) {
                snprintf(why, whylen, "step %zu: iterator %d of %d", si, it, t->n);
                return -1;
            }
            int parts;
            if (tag[0] == 'S') {
                int64_t ext = json_integer_value(json_array_get(s, 3));
                parts = (int)json_array_size(json_array_get(s, 4)) + 1;
                int o = t->orig[it];
                if (o >= 0 && !t->attached && ext &&
                    ext != orig_extent(d->ops[t->uid], o)) {
                    snprintf(why, whylen, "step %zu: SP extent %lld, axis has %lld", si,
                             (long long)ext, (long long)orig_extent(d->ops[t->uid], o));
                    return -1;
                }
            } else {
                parts = (int)json_integer_value(json_array_get(s, 4)) + 1; /* n_split lengths */
            }
            if (t->n + parts - 1 > 64)
                return -1;
            memmove(&t->orig[it + parts], &t->orig[it + 1], (size_t)(t->n - it - 1) * sizeof(int));
            for (int j = 0; j < parts; j++)
                t->orig[it + j] = -1;
            t->n += parts - 1;
        } else if (!strcmp(tag, "RE")) {
            json_t *ord = json_array_get(s, 2);
            int tmp[64];
            if ((int)json_array_size(ord) != t->n) {
                snprintf(why, whylen, "step %zu: RE of %zu iterators, stage has %d", si,
                         json_array_size(ord), t->n);
                return -1;
            }
            for (int j = 0; j < t->n; j++)
                tmp[j] = t->orig[json_integer_value(json_array_get(ord, (size_t)j))];
            memcpy(t->orig, tmp, (size_t)t->n * sizeof(int));
        } else if (!strcmp(tag, "FU")) {
            json_t *ids = json_array_get(s, 2);
            int first = (int)json_integer_value(json_array_get(ids, 0)), cnt = (int)json_array_size(ids);
            if (first < 0 || first + cnt > t->n)
                return -1;
            memmove(&t->orig[first + 1], &t->orig[first + cnt],
                    (size_t)(t->n - first - cnt) * sizeof(int));
            t->orig[first] = -1;
            t->n -= cnt - 1;
        } else if (!strcmp(tag, "CA")) {
            t->attached = 1;
            if ((int)json_integer_value(json_array_get(s, 2)) >= ns)
                return -1;
        } else if (!strcmp(tag, "AN") || !strcmp(tag, "PR")) {
            if ((int)json_integer_value(json_array_get(s, 2)) >= t->n) {
                snprintf(why, whylen, "step %zu: %s on iterator out of range", si, tag);
                return -1;
            }
        }
    }
    return 0;
}

typedef struct log_ctx {
    int lines, failed;
    char first_fail[512];
} log_ctx;

static const char *expected_class(const char *key)
{
    static const struct {
        const char *prefix, *cls;
    } want[] = {
        {"[\"875556", "conv2d_nhwc+add+multiply+add+relu"},
        {"[\"1b524a", "conv2d_nhwc+add+add+relu"},
        {"[\"1cc666", "conv2d_nhwc+add"},
        {"[\"6b7583", "conv2d_nhwc+add+relu"},
        {"[\"de7d16", "conv2d_nhwc+add+relu"},
        {"[\"2350d1", "conv2d_nhwc+add+relu"},
        {"[\"12b88b", "conv2d_nhwc+add+relu"},
        {"[\"f4380b", "conv2d_nhwc"},
        {"[\"7006235", "conv2d_nhwc"},
        {"[\"a5612f", "pool_max+add+relu"},
        {"[\"69115f", "adaptive_pool_avg"},
        {"[\"d7b656", "softmax"},
        {"[\"matmul_add", "matmul_add"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strncmp(key, want[i].prefix, strlen(want[i].prefix)))
            return want[i].cls;
    return NULL;
}

static int log_line(void *vctx, int lineno, const char *line)
{
    log_ctx *c = vctx;
    char why[256] = "";
    json_error_t je;
    json_t *root = json_loads(line, 0, &je);
    tt_wl_candidate cand[8];
    int n = 0, ok = 0;
    c->lines++;
    json_t *in = root ? json_object_get(root, "i") : NULL;
    const char *key = json_string_value(json_array_get(json_array_get(in, 0), 0));
    json_t *steps = json_array_get(json_array_get(in, 1), 1);
    if (!key || !json_is_array(steps)) {
        snprintf(why, sizeof why, "unparsable line");
        goto done;
    }
    /* max stage in initial-DAG ids */
    int hi = -1, ins = 0;
    size_t si;
    json_t *s;
    json_array_foreach(steps, si, s)
    {
        const char *tag = json_string_value(json_array_get(s, 0));
        int st = (int)json_integer_value(json_array_get(s, 1));
        if (st > hi)
            hi = st;
        if (!strcmp(tag, "CA") && json_integer_value(json_array_get(s, 2)) > hi)
            hi = (int)json_integer_value(json_array_get(s, 2));
        if (!strcmp(tag, "CHW") || !strcmp(tag, "RF") || !strcmp(tag, "CHR"))
            ins++;
    }
    int ms = hi - ins;
    tt_err err = {0};
    n = tt_identify_candidates(key, ms, cand, 8, &err);
    if (n < 1) {
        snprintf(why, sizeof why, "no candidate (%s)", err.msg);
        goto done;
    }
    const tt_dag *d = cand[0].dag;
    if (d->nops < ms + 1) {
        snprintf(why, sizeof why, "%s has %d ops, steps need %d", cand[0].desc, d->nops, ms + 1);
        goto done;
    }
    /* The DAG's I/O shapes spell the key's ints (after the name). */
    if (strncmp(key, "[\"matmul_add\"", 13)) {
        const char *p = strchr(key, ',');
        int pos = 0;
        for (int i = 0; i <= d->nops; i++) {
            const tt_op *op = i < d->nops ? d->ops[i] : d->ops[d->nops - 1];
            if (i < d->nops && op->kind != TT_OP_PLACEHOLDER)
                continue;
            for (int j = 0; j < op->ndim; j++, pos++) {
                char *end;
                long long v = p ? strtoll(p + 1, &end, 10) : -1;
                if (v != op->axis[j].extent) {
                    snprintf(why, sizeof why, "shape int %d: key %lld, DAG %lld", pos, v,
                             (long long)op->axis[j].extent);
                    goto done;
                }
                p = strchr(end, ',');
            }
        }
        if (p) {
            snprintf(why, sizeof why, "key has more ints than the DAG's I/O");
            goto done;
        }
    }
    const char *cls = expected_class(key);
    if (cls && strcmp(cls, d->class_key)) {
        snprintf(why, sizeof why, "class %s, want %s (%s)", d->class_key, cls, cand[0].desc);
        goto done;
    }
    if (!strncmp(key, "[\"12b88b", 8) && !strstr(d->ops[3]->attrs, "stride=2,2 pad=3,3,3,3")) {
        snprintf(why, sizeof why, "stem conv attrs %s", d->ops[3]->attrs);
        goto done;
    }
    if (check_split_extents(d, steps, why, sizeof why))
        goto done;
    ok = 1;
done:
    if (!ok) {
        c->failed++;
        if (!c->first_fail[0])
            snprintf(c->first_fail, sizeof c->first_fail, "line %d %.60s: %s", lineno,
                     key ? key : "?", why);
    }
    tt_identify_free(cand, n > 0 ? n : 0);
    json_decref(root);
    return 0;
}

static void identify_log(const char *file, int want_lines)
{
    char path[1024];
    if (!tt_test_shared_file(path, sizeof path, "ansor/%s", file))
        return;
    log_ctx c = {0};
    tt_err err = {0};
    CHECK_MSG(tt_log_foreach(path, log_line, &c, &err) == 0, "%s", err.msg);
    CHECK_MSG(c.lines == want_lines, "%d lines", c.lines);
    CHECK_MSG(c.failed == 0, "%d failed; first: %s", c.failed, c.first_fail);
}

static void test_identify_resnet50_log(void) { identify_log("resnet-50-NHWC-B1-llvm.json", 26); }
static void test_identify_matmul_log(void) { identify_log("matmul.json", 1); }

/* Shapes from the command line go up to 2^40 each: a DAG whose loops would
 * overflow int64 is refused with a message (found by fuzz/fuzz_cli.c). */
static void test_too_large(void)
{
    tt_err err = {0};
    tt_epilogue none;
    memset(&none, 0, sizeof none);
    tt_dag *d = tt_build_global_avg_pool_nhwc(1, (int64_t)1 << 30, (int64_t)1 << 30, 64, &none, &err);
    CHECK_MSG(!d && strstr(err.msg, "too large"), "%s", err.msg);
    tt_dag_free(d);
    tt_err_clear(&err);
    d = tt_build_global_avg_pool_nhwc(1, 7, 7, 512, &none, &err);
    CHECK_MSG(d != NULL, "%s", err.msg);
    tt_dag_free(d);
}


/* The layout (anchor prefix and epilogue) from a DAG and read back from its
 * print, concrete and abstract; malformed prints refused, never a crash. */
static void test_layout(void)
{
    tt_err err = {0};
    tt_epilogue e1 = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RELU}};
    tt_epilogue e2 = {.n = 3, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RESIDUAL_ADD, TT_EPI_CLIP},
                      .lo = {0, 0, 0}, .hi = {0, 0, 6}};
    tt_epilogue e0 = {.n = 0};
    tt_conv2d_params p = conv_params(14, 8, 3, 16, 1, 1);
    tt_dag *d[4] = {tt_build_conv2d_nhwc(&p, &e1, &err), tt_build_conv2d_nhwc(&p, &e2, &err),
                    tt_build_conv2d_nhwc(&p, &e0, &err), tt_build_dense(1, 10, 32, &e1, &err)};
    CHECK_MSG(d[0] && d[1] && d[2] && d[3], "%s", err.msg);
    /* data, pad, weight, conv | bias, T_add, T_relu; dense: data, weight, dense | ... */
    int want_prefix[4] = {4, 4, 4, 3}, want_nops[4] = {7, 9, 4, 6};
    tt_dag_layout *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    for (int i = 0; i < 4; i++) {
        CHECK(tt_dag_layout_of(d[i], a, &err) == 0);
        CHECK_MSG(a->nops == want_nops[i] && a->prefix == want_prefix[i], "dag %d: %d ops, prefix %d",
                  i, a->nops, a->prefix);
        for (int abstract = 0; abstract < 2; abstract++) {
            char *txt = tt_dag_print(d[i], abstract);
            int rc = tt_dag_layout_parse(txt, b, &err);
            CHECK_MSG(rc == 0, "dag %d: %s", i, err.msg);
            CHECK_MSG(!memcmp(a, b, sizeof *a), "dag %d (abstract %d): the parsed layout differs", i,
                      abstract);
            /* every truncation is refused or parses to fewer ops, never crashes */
            size_t n = strlen(txt);
            for (size_t cut = 0; cut + 1 < n; cut += 7) {
                char *t = malloc(cut + 1);
                memcpy(t, txt, cut);
                t[cut] = 0;
                tt_err e = {0};
                if (tt_dag_layout_parse(t, b, &e) == 0)
                    CHECK(b->nops <= a->nops);
                else
                    CHECK(e.msg[0]);
                free(t);
            }
            free(txt);
        }
    }
    const char *bad[] = {"", "tt-dag-v1\nop 0 placeholder const=0 shape=[1]\n",
                         "tt-dag-v2\nop 1 placeholder const=0 shape=[1]\n",
                         "tt-dag-v2\nop 0 placeholder const=0 shape=[1]\n",
                         "tt-dag-v2\nop 0 compute \"x\" tag=\"\" attrs=\"\" shape=[1,] reduce=none[]\n",
                         "tt-dag-v2\nop 0 compute \"x\" tag=\"\" attrs=\"\" shape=[1] reduce=sum[]\n",
                         "tt-dag-v2\nop 0 compute \"x\" tag=\"\" attrs=\"\" shape=[1] reduce=none[] x\n",
                         "tt-dag-v2\n  body 1\n", NULL};
    for (int i = 0; bad[i]; i++) {
        tt_err e = {0};
        CHECK_MSG(tt_dag_layout_parse(bad[i], b, &e) == -1 && e.msg[0], "bad print %d accepted", i);
    }
    CHECK(tt_dag_layout_parse(NULL, b, &err) == -1);
    free(a), free(b);
    for (int i = 0; i < 4; i++)
        tt_dag_free(d[i]);
}

const tt_test tests_dag[] = {
    {"too_large", test_too_large},
    {"conv2d_stages", test_conv2d_stages},
    {"conv2d_flops", test_conv2d_flops},
    {"depthwise_grouped", test_depthwise_grouped},
    {"dense_batch_matmul", test_dense_batch_matmul},
    {"pool", test_pool},
    {"global_pool_softmax", test_global_pool_softmax},
    {"finish_and_rewrite", test_finish_and_rewrite},
    {"print_and_keys", test_print_and_keys},
    {"layout", test_layout},
    {"identify_roundtrip", test_identify_roundtrip},
    {"identify_resnet50_log", test_identify_resnet50_log},
    {"identify_matmul_log", test_identify_matmul_log},
    {NULL, NULL},
};
