/* test_graph.c - shape inference (src/graph/infer.c) and constant folding
 * (src/graph/fold.c) on small hand-built graphs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/graph/graph.h"
#include "test.h"

/* ---- builders ------------------------------------------------------------------- */

/* Shape literal: SHP(2, 3) is a pointer to {2, 3}. */
#define SHP(...) ((const int64_t[]){__VA_ARGS__})
#define NARGS(...) ((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))

static int in_f(tt_graph *g, const char *name, int nd, const int64_t *s)
{
    return tt_graph_input(g, name, TT_DT_FLOAT, nd, s, NULL);
}

static int const_i64(tt_graph *g, const char *name, int n, const int64_t *v)
{
    int64_t len = n;
    return tt_graph_const(g, name, TT_DT_INT64, 1, &len, v, NULL);
}

static int const_f(tt_graph *g, const char *name, int nd, const int64_t *s)
{
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= s[i];
    float *d = malloc((size_t)(n ? n : 1) * sizeof *d);
    for (int64_t i = 0; i < n; i++)
        d[i] = (float)i * 0.5f - 1.0f;
    return tt_graph_const_owned(g, name, TT_DT_FLOAT, nd, s, d, NULL);
}

static int op(tt_graph *g, tt_gop o, const char *name, int nin, const int *in)
{
    return tt_graph_op1(g, o, name, nin, in, NULL);
}

static int last(const tt_graph *g)
{
    return g->nnodes - 1;
}

static int shape_is(const tt_tensor *t, int nd, const int64_t *s)
{
    if (t->ndim != nd)
        return 0;
    for (int i = 0; i < nd; i++)
        if (t->shape[i] != s[i])
            return 0;
    return 1;
}
#define SHAPE_IS(t, ...) shape_is((t), NARGS(__VA_ARGS__), (int64_t[]){__VA_ARGS__})

/* Infer g; on failure keep the message in err. */
static int ndead(const tt_graph *g)
{
    int n = 0;
    for (int i = 0; i < g->nnodes; i++)
        n += g->nodes[i].dead;
    return n;
}

static int infer(tt_graph *g, tt_err *err)
{
    tt_err_clear(err);
    return tt_graph_infer(g, err);
}

/* ---- inference ------------------------------------------------------------------ */

static void test_broadcast(void)
{
    tt_graph *g = tt_graph_new("b");
    int a = in_f(g, "a", 3, SHP(2, 1, 4)), b = in_f(g, "b", 2, SHP(3, 1));
    int y = op(g, TT_GOP_ADD, "add", 2, (int[]){a, b});
    int s = in_f(g, "s", 0, NULL);
    int z = op(g, TT_GOP_MUL, "mul", 2, (int[]){y, s});
    tt_err err = {0};
    CHECK(infer(g, &err) == 0);
    CHECK(SHAPE_IS(&g->tensors[y], 2, 3, 4));
    CHECK(SHAPE_IS(&g->tensors[z], 2, 3, 4));
    CHECK(g->tensors[z].dtype == TT_DT_FLOAT);
    int c = in_f(g, "c", 1, SHP(5));
    op(g, TT_GOP_SUB, "bad", 2, (int[]){y, c});
    CHECK(infer(g, &err) != 0);
    CHECK_MSG(strstr(err.msg, "node 'bad' (Sub)") && strstr(err.msg, "do not broadcast"), "%s",
              err.msg);
    tt_graph_free(g);

    /* Where broadcasts three ways; Equal gives bool. */
    g = tt_graph_new("w");
    a = in_f(g, "a", 2, SHP(3, 1));
    b = in_f(g, "b", 1, SHP(4));
    int e = op(g, TT_GOP_EQUAL, "eq", 2, (int[]){a, b});
    int w = op(g, TT_GOP_WHERE, "wh", 3, (int[]){e, a, b});
    CHECK(infer(g, &err) == 0);
    CHECK(g->tensors[e].dtype == TT_DT_BOOL && SHAPE_IS(&g->tensors[e], 3, 4));
    CHECK(g->tensors[w].dtype == TT_DT_FLOAT && SHAPE_IS(&g->tensors[w], 3, 4));
    tt_graph_free(g);
}

static tt_graph *conv_graph(const int64_t *xs, const int64_t *ws, int *out)
{
    tt_graph *g = tt_graph_new("c");
    int x = in_f(g, "x", 4, xs);
    int w = const_f(g, "w", 4, ws);
    *out = op(g, TT_GOP_CONV, "conv1", 2, (int[]){x, w});
    return g;
}

static void test_conv(void)
{
    tt_err err = {0};
    int y;
    /* ResNet's stem: 7x7 stride 2 pad 3 on 224 -> 112. */
    tt_graph *g = conv_graph(SHP(1, 3, 224, 224), SHP(64, 3, 7, 7), &y);
    tt_node_set_ints(g, last(g), "strides", 2, (int64_t[]){2, 2});
    tt_node_set_ints(g, last(g), "pads", 4, (int64_t[]){3, 3, 3, 3});
    CHECK(infer(g, &err) == 0);
    CHECK(SHAPE_IS(&g->tensors[y], 1, 64, 112, 112));
    tt_graph_free(g);

    /* Dilation 2, no padding: effective kernel 5 on 10 -> 6. */
    g = conv_graph(SHP(1, 3, 10, 12), SHP(4, 3, 3, 3), &y);
    tt_node_set_ints(g, last(g), "dilations", 2, (int64_t[]){2, 1});
    CHECK(infer(g, &err) == 0);
    CHECK(SHAPE_IS(&g->tensors[y], 1, 4, 6, 10));
    tt_graph_free(g);

    /* SAME_UPPER, stride 2 on 6: output 3, total pad 1 goes at the end;
     * SAME_LOWER puts it at the start.  Pads become explicit. */
    const char *modes[2] = {"SAME_UPPER", "SAME_LOWER"};
    for (int m = 0; m < 2; m++) {
        g = conv_graph(SHP(1, 3, 6, 5), SHP(8, 3, 3, 3), &y);
        tt_node_set_ints(g, last(g), "strides", 2, (int64_t[]){2, 2});
        tt_node_set_string(g, last(g), "auto_pad", modes[m]);
        CHECK(infer(g, &err) == 0);
        CHECK(SHAPE_IS(&g->tensors[y], 1, 8, 3, 3));
        const tt_attr *p = tt_node_attr(&g->nodes[0], "pads");
        CHECK(p && p->n == 4);
        /* axis 0: in 6 -> total 1; axis 1: in 5 -> total 2 */
        int64_t want[2][4] = {{0, 1, 1, 1}, {1, 1, 0, 1}};
        for (int i = 0; i < 4; i++)
            CHECK_MSG(p->ints[i] == want[m][i], "%s pads[%d] = %lld", modes[m], i,
                      (long long)p->ints[i]);
        CHECK(!strcmp(tt_node_attr(&g->nodes[0], "auto_pad")->s, "NOTSET"));
        tt_graph_free(g);
    }

    /* VALID ignores pads. */
    g = conv_graph(SHP(1, 3, 7, 7), SHP(2, 3, 3, 3), &y);
    tt_node_set_string(g, last(g), "auto_pad", "VALID");
    tt_node_set_ints(g, last(g), "strides", 2, (int64_t[]){2, 2});
    CHECK(infer(g, &err) == 0);
    CHECK(SHAPE_IS(&g->tensors[y], 1, 2, 3, 3));
    tt_graph_free(g);

    /* Depthwise (groups = channels) and a channel mismatch. */
    g = conv_graph(SHP(1, 8, 10, 10), SHP(8, 1, 3, 3), &y);
    tt_node_set_int(g, last(g), "group", 8);
    CHECK(infer(g, &err) == 0);
    CHECK(SHAPE_IS(&g->tensors[y], 1, 8, 8, 8));
    tt_graph_free(g);
    g = conv_graph(SHP(1, 3, 10, 10), SHP(8, 4, 3, 3), &y);
    CHECK(infer(g, &err) != 0);
    CHECK_MSG(!strcmp(err.msg, "node 'conv1' (Conv): input has 3 channels but the weight "
                               "expects 4 (x groups 1)"),
              "%s", err.msg);
    tt_graph_free(g);

    /* A bias of the wrong length. */
    g = tt_graph_new("c");
    int x = in_f(g, "x", 4, SHP(1, 3, 8, 8)), w = const_f(g, "w", 4, SHP(4, 3, 1, 1)),
        b = const_f(g, "b", 1, SHP(5));
    op(g, TT_GOP_CONV, "cb", 3, (int[]){x, w, b});
    CHECK(infer(g, &err) != 0 && strstr(err.msg, "bias 'b' must have shape [4]"));
    tt_graph_free(g);
}

static void test_pool(void)
{
    tt_err err = {0};
    struct {
        int64_t in, k, s, pad, ceil, want;
    } cases[] = {
        {112, 3, 2, 0, 0, 55},  /* floor */
        {112, 3, 2, 0, 1, 56},  /* ceil adds the partial window */
        {111, 3, 2, 0, 1, 55},  /* exact: ceil changes nothing */
        {5, 2, 2, 1, 1, 3},     /* PyTorch's rule drops a window starting in the end pad */
        {6, 3, 3, 1, 1, 3},     /* span 5 -> ceil 3; last window starts at 6 < 6+1 */
        {224, 3, 2, 1, 0, 112}, /* ResNet's maxpool */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tt_graph *g = tt_graph_new("p");
        int x = in_f(g, "x", 4, SHP(1, 2, cases[i].in, cases[i].in));
        int y = op(g, i % 2 ? TT_GOP_MAX_POOL : TT_GOP_AVERAGE_POOL, "pool", 1, &x);
        int n = last(g);
        tt_node_set_ints(g, n, "kernel_shape", 2, (int64_t[]){cases[i].k, cases[i].k});
        tt_node_set_ints(g, n, "strides", 2, (int64_t[]){cases[i].s, cases[i].s});
        int64_t p = cases[i].pad;
        tt_node_set_ints(g, n, "pads", 4, (int64_t[]){p, p, p, p});
        tt_node_set_int(g, n, "ceil_mode", cases[i].ceil);
        CHECK(infer(g, &err) == 0);
        CHECK_MSG(SHAPE_IS(&g->tensors[y], 1, 2, cases[i].want, cases[i].want),
                  "case %zu: got %lld, want %lld", i, (long long)g->tensors[y].shape[2],
                  (long long)cases[i].want);
        tt_graph_free(g);
    }
    /* Global pooling, and a kernel larger than the input. */
    tt_graph *g = tt_graph_new("p");
    int x = in_f(g, "x", 4, SHP(2, 7, 5, 5));
    int y = op(g, TT_GOP_GLOBAL_AVERAGE_POOL, "gap", 1, &x);
    CHECK(infer(g, &err) == 0 && SHAPE_IS(&g->tensors[y], 2, 7, 1, 1));
    op(g, TT_GOP_MAX_POOL, "big", 1, &x);
    tt_node_set_ints(g, last(g), "kernel_shape", 2, (int64_t[]){6, 6});
    CHECK(infer(g, &err) != 0 && strstr(err.msg, "node 'big' (MaxPool): window 6"));
    tt_graph_free(g);
}

static void test_reshape(void)
{
    tt_err err = {0};
    tt_graph *g = tt_graph_new("r");
    int x = in_f(g, "x", 3, SHP(2, 3, 4));
    int s1 = const_i64(g, "s1", 2, (int64_t[]){0, -1});
    int s2 = const_i64(g, "s2", 3, (int64_t[]){-1, 0, 2});
    int y1 = op(g, TT_GOP_RESHAPE, "r1", 2, (int[]){x, s1});
    int y2 = op(g, TT_GOP_RESHAPE, "r2", 2, (int[]){x, s2});
    int f = op(g, TT_GOP_FLATTEN, "f", 1, &x);
    tt_node_set_int(g, last(g), "axis", -1);
    CHECK(infer(g, &err) == 0);
    CHECK(SHAPE_IS(&g->tensors[y1], 2, 12));
    CHECK(SHAPE_IS(&g->tensors[y2], 4, 3, 2));
    CHECK(SHAPE_IS(&g->tensors[f], 6, 4));
    int s3 = const_i64(g, "s3", 2, (int64_t[]){5, -1});
    op(g, TT_GOP_RESHAPE, "r3", 2, (int[]){x, s3});
    CHECK(infer(g, &err) != 0);
    CHECK_MSG(strstr(err.msg, "node 'r3' (Reshape): cannot reshape 24 elements"), "%s", err.msg);
    tt_graph_free(g);

    /* A shape computed at run time is an error for inference alone. */
    g = tt_graph_new("r");
    x = in_f(g, "x", 2, SHP(2, 3));
    int sh = op(g, TT_GOP_SHAPE, "sh", 1, &x);
    op(g, TT_GOP_RESHAPE, "rr", 2, (int[]){x, sh});
    CHECK(infer(g, &err) != 0 && strstr(err.msg, "must be a constant"));
    tt_graph_free(g);
}

static void test_matmul_gemm(void)
{
    tt_err err = {0};
    tt_graph *g = tt_graph_new("m");
    int a = in_f(g, "a", 4, SHP(2, 1, 3, 4)), b = in_f(g, "b", 3, SHP(5, 4, 6));
    int v = in_f(g, "v", 1, SHP(4)), m = in_f(g, "m", 2, SHP(3, 4));
    int y1 = op(g, TT_GOP_MATMUL, "mm1", 2, (int[]){a, b});
    int y2 = op(g, TT_GOP_MATMUL, "mm2", 2, (int[]){v, b});
    int y3 = op(g, TT_GOP_MATMUL, "mm3", 2, (int[]){m, v});
    int y4 = op(g, TT_GOP_MATMUL, "mm4", 2, (int[]){v, v});
    int w = const_f(g, "w", 2, SHP(10, 4)), c = const_f(g, "c", 1, SHP(10));
    int y5 = op(g, TT_GOP_GEMM, "fc", 3, (int[]){m, w, c});
    tt_node_set_int(g, last(g), "transB", 1);
    CHECK(infer(g, &err) == 0);
    CHECK(SHAPE_IS(&g->tensors[y1], 2, 5, 3, 6));
    CHECK(SHAPE_IS(&g->tensors[y2], 5, 6));
    CHECK(SHAPE_IS(&g->tensors[y3], 3));
    CHECK(g->tensors[y4].ndim == 0);
    CHECK(SHAPE_IS(&g->tensors[y5], 3, 10));
    op(g, TT_GOP_GEMM, "fc2", 2, (int[]){m, w});
    CHECK(infer(g, &err) != 0 && strstr(err.msg, "node 'fc2' (Gemm): inner dimensions differ"));
    tt_graph_free(g);
}

static void test_shape_ops(void)
{
    tt_err err = {0};
    tt_graph *g = tt_graph_new("s");
    int x = in_f(g, "x", 3, SHP(2, 10, 4));
    /* Slice axis 1 from -3 to the end; axis 2 backwards from the end. */
    int st = const_i64(g, "st", 2, (int64_t[]){-3, -1});
    int en = const_i64(g, "en", 2, (int64_t[]){INT64_MAX, INT64_MIN});
    int ax = const_i64(g, "ax", 2, (int64_t[]){1, 2});
    int sp = const_i64(g, "sp", 2, (int64_t[]){1, -2});
    int y1 = op(g, TT_GOP_SLICE, "sl", 5, (int[]){x, st, en, ax, sp});
    int t = op(g, TT_GOP_TRANSPOSE, "tr", 1, &x);
    tt_node_set_ints(g, last(g), "perm", 3, (int64_t[]){2, 0, 1});
    int a1 = const_i64(g, "a1", 2, (int64_t[]){0, -1});
    int u = op(g, TT_GOP_UNSQUEEZE, "un", 2, (int[]){x, a1});
    int a2 = const_i64(g, "a2", 1, (int64_t[]){0});
    int sq = op(g, TT_GOP_SQUEEZE, "sq", 2, (int[]){u, a2});
    int sm = op(g, TT_GOP_SOFTMAX, "smx", 1, &x);
    int rm = op(g, TT_GOP_REDUCE_MEAN, "rm", 1, &x);
    tt_node_set_ints(g, last(g), "axes", 1, (int64_t[]){-1});
    int rk = op(g, TT_GOP_REDUCE_MEAN, "rk", 1, &x);
    tt_node_set_ints(g, last(g), "axes", 2, (int64_t[]){0, 2});
    tt_node_set_int(g, last(g), "keepdims", 0);
    int pads = const_i64(g, "pads", 6, (int64_t[]){0, 1, 2, 0, 3, -1});
    int pd = op(g, TT_GOP_PAD, "pad", 2, (int[]){x, pads});
    int c = op(g, TT_GOP_CONCAT, "cat", 3, (int[]){x, x, x});
    tt_node_set_int(g, last(g), "axis", 0);
    int idx = const_i64(g, "idx", 3, (int64_t[]){0, -1, 3});
    int ga = op(g, TT_GOP_GATHER, "ga", 2, (int[]){x, idx});
    tt_node_set_int(g, last(g), "axis", 1);
    int spl = const_i64(g, "spl", 2, (int64_t[]){3, 7});
    int o1 = tt_graph_tensor(g, "o1", TT_DT_UNDEF, -1, NULL, NULL);
    int o2 = tt_graph_tensor(g, "o2", TT_DT_UNDEF, -1, NULL, NULL);
    tt_graph_node(g, TT_GOP_SPLIT, "split", 2, (int[]){x, spl}, 2, (int[]){o1, o2}, NULL);
    tt_node_set_int(g, last(g), "axis", 1);
    int ln_s = const_f(g, "ln_s", 1, SHP(4));
    int ln = op(g, TT_GOP_LAYER_NORMALIZATION, "ln", 2, (int[]){x, ln_s});
    CHECK_MSG(infer(g, &err) == 0, "%s", err.msg);
    CHECK(SHAPE_IS(&g->tensors[y1], 2, 3, 2));
    CHECK(SHAPE_IS(&g->tensors[t], 4, 2, 10));
    CHECK(SHAPE_IS(&g->tensors[u], 1, 2, 10, 4, 1));
    CHECK(SHAPE_IS(&g->tensors[sq], 2, 10, 4, 1));
    CHECK(SHAPE_IS(&g->tensors[sm], 2, 10, 4));
    CHECK(SHAPE_IS(&g->tensors[rm], 2, 10, 1));
    CHECK(SHAPE_IS(&g->tensors[rk], 10));
    CHECK(SHAPE_IS(&g->tensors[pd], 2, 14, 5));
    CHECK(SHAPE_IS(&g->tensors[c], 6, 10, 4));
    CHECK(SHAPE_IS(&g->tensors[ga], 2, 3, 4));
    CHECK(SHAPE_IS(&g->tensors[o1], 2, 3, 4) && SHAPE_IS(&g->tensors[o2], 2, 7, 4));
    CHECK(SHAPE_IS(&g->tensors[ln], 2, 10, 4));
    tt_graph_free(g);

    /* Concat of mismatched shapes names both tensors. */
    g = tt_graph_new("s");
    x = in_f(g, "x", 2, SHP(2, 3));
    int z = in_f(g, "z", 2, SHP(3, 3));
    op(g, TT_GOP_CONCAT, "cat", 2, (int[]){x, z});
    tt_node_set_int(g, last(g), "axis", 1);
    CHECK(infer(g, &err) != 0);
    CHECK_MSG(strstr(err.msg, "input 'z' has 3 on axis 0, 'x' has 2"), "%s", err.msg);
    tt_graph_free(g);

    /* Gather with a constant index out of range; Squeeze of a non-1 axis. */
    g = tt_graph_new("s");
    x = in_f(g, "x", 2, SHP(2, 3));
    idx = const_i64(g, "idx", 1, (int64_t[]){3});
    op(g, TT_GOP_GATHER, "g", 2, (int[]){x, idx});
    tt_node_set_int(g, last(g), "axis", 1);
    CHECK(infer(g, &err) != 0 && strstr(err.msg, "index 3 is out of range"));
    tt_graph_free(g);
    g = tt_graph_new("s");
    x = in_f(g, "x", 2, SHP(2, 3));
    a2 = const_i64(g, "a", 1, (int64_t[]){1});
    op(g, TT_GOP_SQUEEZE, "sq", 2, (int[]){x, a2});
    CHECK(infer(g, &err) != 0 && strstr(err.msg, "cannot squeeze axis 1 of size 3"));
    tt_graph_free(g);
}

static void test_errors(void)
{
    tt_err err = {0};
    tt_graph *g = tt_graph_new("e");
    int x = in_f(g, "x", 2, SHP(2, 3));
    /* the passes' own operators have no inference rule */
    op(g, TT_GOP_DENSE, "bar", 1, &x);
    CHECK(infer(g, &err) != 0);
    CHECK_MSG(!strcmp(err.msg, "unsupported operator 'tt.Dense' (node 'bar')"), "%s", err.msg);
    tt_graph_free(g);
    /* no node of an operator that is not a tt_gop */
    g = tt_graph_new("e");
    x = in_f(g, "x", 2, SHP(2, 3));
    tt_err_clear(&err);
    CHECK(tt_graph_op1(g, TT_GOP_COUNT, "bad", 1, &x, &err) < 0 && strstr(err.msg, "not a tt_gop"));
    tt_graph_free(g);

    /* Huge shapes are refused, not overflowed. */
    g = tt_graph_new("e");
    x = in_f(g, "x", 2, SHP(1 << 20, 1 << 20));
    int s = const_i64(g, "s", 2, (int64_t[]){1 << 20, 1 << 20});
    op(g, TT_GOP_EXPAND, "ex", 2, (int[]){x, s});
    CHECK(infer(g, &err) != 0 && strstr(err.msg, "2^32"));
    tt_graph_free(g);

    /* A Gemm whose input rank is wrong; a Relu reading a never-computed tensor. */
    g = tt_graph_new("e");
    x = in_f(g, "x", 3, SHP(2, 3, 4));
    int w = const_f(g, "w", 2, SHP(4, 4));
    op(g, TT_GOP_GEMM, "fc", 2, (int[]){x, w});
    CHECK(infer(g, &err) != 0 && strstr(err.msg, "node 'fc' (Gemm): inputs must be 2-D"));
    tt_graph_free(g);
    g = tt_graph_new("e");
    int t = tt_graph_tensor(g, "ghost", TT_DT_FLOAT, -1, NULL, NULL);
    op(g, TT_GOP_RELU, "r", 1, &t);
    CHECK(infer(g, &err) != 0 && strstr(err.msg, "input 'ghost' has an unknown shape"));
    tt_graph_free(g);
}

/* ---- folding -------------------------------------------------------------------- */

static void test_fold_shape_chain(void)
{
    /* PyTorch's x.view(x.size(0), -1): Shape -> Gather(0) -> Unsqueeze ->
     * Concat(.., [-1]) -> Reshape. */
    tt_graph *g = tt_graph_new("f");
    int x = in_f(g, "x", 4, SHP(2, 3, 4, 5));
    int r = op(g, TT_GOP_RELU, "relu", 1, &x);
    int sh = op(g, TT_GOP_SHAPE, "shape", 1, &r);
    int zero = tt_graph_const(g, "zero", TT_DT_INT64, 0, NULL, (int64_t[]){0}, NULL);
    int ga = op(g, TT_GOP_GATHER, "gather", 2, (int[]){sh, zero});
    int ax = const_i64(g, "ax", 1, (int64_t[]){0});
    int un = op(g, TT_GOP_UNSQUEEZE, "unsq", 2, (int[]){ga, ax});
    int m1 = const_i64(g, "m1", 1, (int64_t[]){-1});
    int cat = op(g, TT_GOP_CONCAT, "concat", 2, (int[]){un, m1});
    tt_node_set_int(g, last(g), "axis", 0);
    int y = op(g, TT_GOP_RESHAPE, "reshape", 2, (int[]){r, cat});
    tt_graph_mark_output(g, y);
    tt_err err = {0};
    CHECK(tt_graph_toposort(g, &err) == 0);
    CHECK_MSG(tt_graph_fold_constants(g, &err) == 0, "%s", err.msg);
    CHECK_MSG(ndead(g) == 4, "folded %d", ndead(g));
    const tt_tensor *tc = &g->tensors[cat];
    CHECK(tc->data && tc->producer == -1 && SHAPE_IS(tc, 2));
    CHECK(((int64_t *)tc->data)[0] == 2 && ((int64_t *)tc->data)[1] == -1);
    CHECK(SHAPE_IS(&g->tensors[y], 2, 60));
    int live = 0;
    for (int i = 0; i < g->nnodes; i++)
        if (!g->nodes[i].dead) {
            live++;
            CHECK(g->nodes[i].op == TT_GOP_RELU || g->nodes[i].op == TT_GOP_RESHAPE);
        }
    CHECK(live == 2);
    tt_graph_free(g);
}

static void test_fold_values(void)
{
    tt_err err = {0};
    tt_graph *g = tt_graph_new("f");
    /* Float elementwise with broadcasting: a [2,3] = i*0.5-1, b [3]. */
    int a = const_f(g, "a", 2, SHP(2, 3)), b = const_f(g, "b", 1, SHP(3));
    int add = op(g, TT_GOP_ADD, "add", 2, (int[]){a, b});
    int sq = op(g, TT_GOP_MUL, "mul", 2, (int[]){add, add});
    int sr = op(g, TT_GOP_SQRT, "sqrt", 1, &sq);
    /* Integer shape arithmetic: Range, Slice with a negative step, Cast, Where. */
    int s0 = tt_graph_const(g, "s0", TT_DT_INT64, 0, NULL, (int64_t[]){2}, NULL);
    int s1 = tt_graph_const(g, "s1", TT_DT_INT64, 0, NULL, (int64_t[]){11}, NULL);
    int s2 = tt_graph_const(g, "s2", TT_DT_INT64, 0, NULL, (int64_t[]){3}, NULL);
    int rg = op(g, TT_GOP_RANGE, "range", 3, (int[]){s0, s1, s2}); /* 2 5 8 */
    int st = const_i64(g, "st", 1, (int64_t[]){-1}), en = const_i64(g, "en", 1, (int64_t[]){-100});
    int ax = const_i64(g, "ax", 1, (int64_t[]){0}), sp = const_i64(g, "sp", 1, (int64_t[]){-2});
    int sl = op(g, TT_GOP_SLICE, "slice", 5, (int[]){rg, st, en, ax, sp}); /* 8 2 */
    int cf = op(g, TT_GOP_CAST, "cast", 1, &sl);
    tt_node_set_int(g, last(g), "to", TT_DT_FLOAT);
    int cs = const_i64(g, "cs", 1, (int64_t[]){3});
    int cos_ = op(g, TT_GOP_CONSTANT_OF_SHAPE, "cos", 1, &cs);
    int eq = op(g, TT_GOP_EQUAL, "eq", 2, (int[]){rg, (const_i64(g, "five", 1, (int64_t[]){5}))});
    int wh = op(g, TT_GOP_WHERE, "where", 3, (int[]){eq, rg, (const_i64(g, "m", 1, (int64_t[]){-7}))});
    int perm_in = const_f(g, "pin", 2, SHP(2, 3));
    int tr = op(g, TT_GOP_TRANSPOSE, "tr", 1, &perm_in);
    int ex = op(g, TT_GOP_EXPAND, "ex", 2, (int[]){b, (const_i64(g, "es", 2, (int64_t[]){2, 1}))});
    int dv = op(g, TT_GOP_DIV, "div", 2, (int[]){rg, s2});
    CHECK(tt_graph_toposort(g, &err) == 0);
    CHECK_MSG(tt_graph_fold_constants(g, &err) == 0, "%s", err.msg);
    CHECK_MSG(ndead(g) == 12, "folded %d", ndead(g));
    const float *fa = g->tensors[add].data, *fs = g->tensors[sr].data;
    /* a = [-1,-.5,0,.5,1,1.5], b = [-1,-.5,0] */
    float want_add[6] = {-2, -1, 0, -0.5f, 0.5f, 1.5f};
    for (int i = 0; i < 6; i++) {
        CHECK(fa[i] == want_add[i]);
        CHECK(fs[i] == (want_add[i] < 0 ? -want_add[i] : want_add[i]));
    }
    const int64_t *r = g->tensors[rg].data, *s = g->tensors[sl].data, *w = g->tensors[wh].data;
    CHECK(SHAPE_IS(&g->tensors[rg], 3) && r[0] == 2 && r[1] == 5 && r[2] == 8);
    CHECK(SHAPE_IS(&g->tensors[sl], 2) && s[0] == 8 && s[1] == 2);
    CHECK(((float *)g->tensors[cf].data)[0] == 8.0f);
    CHECK(g->tensors[cos_].dtype == TT_DT_FLOAT && SHAPE_IS(&g->tensors[cos_], 3));
    CHECK(w[0] == -7 && w[1] == 5 && w[2] == -7);
    const float *ft = g->tensors[tr].data; /* [[-1,-.5,0],[.5,1,1.5]]^T */
    CHECK(SHAPE_IS(&g->tensors[tr], 3, 2) && ft[0] == -1 && ft[1] == 0.5f && ft[5] == 1.5f);
    const float *fe = g->tensors[ex].data;
    CHECK(SHAPE_IS(&g->tensors[ex], 2, 3) && fe[3] == -1 && fe[5] == 0);
    const int64_t *d = g->tensors[dv].data;
    CHECK(d[0] == 0 && d[1] == 1 && d[2] == 2);
    tt_graph_free(g);

    /* Split (equal parts), Tile, Squeeze and a Constant node on constants. */
    g = tt_graph_new("f");
    int r6 = const_f(g, "r6", 2, SHP(2, 3)); /* [[-1,-.5,0],[.5,1,1.5]] */
    int p1 = tt_graph_tensor(g, "p1", TT_DT_UNDEF, -1, NULL, NULL);
    int p2 = tt_graph_tensor(g, "p2", TT_DT_UNDEF, -1, NULL, NULL);
    tt_graph_node(g, TT_GOP_SPLIT, "split", 1, &r6, 2, (int[]){p1, p2}, NULL);
    int ti = op(g, TT_GOP_TILE, "tile", 2, (int[]){p2, (const_i64(g, "rep", 2, (int64_t[]){1, 2}))});
    int sqz = op(g, TT_GOP_SQUEEZE, "sqz", 2, (int[]){p1, (const_i64(g, "a0", 1, (int64_t[]){0}))});
    int k = op(g, TT_GOP_CONSTANT, "k", 0, NULL);
    tt_node_set_ints(g, last(g), "value_ints", 2, (int64_t[]){7, 9});
    CHECK_MSG(tt_graph_fold_constants(g, &err) == 0 && ndead(g) == 4, "%d dead: %s", ndead(g), err.msg);
    const float *q1 = g->tensors[p1].data, *q2 = g->tensors[p2].data, *qt = g->tensors[ti].data;
    CHECK(SHAPE_IS(&g->tensors[p1], 1, 3) && q1[0] == -1 && q1[2] == 0);
    CHECK(SHAPE_IS(&g->tensors[p2], 1, 3) && q2[0] == 0.5f && q2[2] == 1.5f);
    CHECK(SHAPE_IS(&g->tensors[ti], 1, 6) && qt[3] == 0.5f && qt[5] == 1.5f);
    CHECK(SHAPE_IS(&g->tensors[sqz], 3) && ((float *)g->tensors[sqz].data)[1] == -0.5f);
    CHECK(SHAPE_IS(&g->tensors[k], 2) && ((int64_t *)g->tensors[k].data)[1] == 9);
    tt_graph_free(g);

    /* Integer division by zero is an error naming the node. */
    g = tt_graph_new("f");
    int one = const_i64(g, "one", 1, (int64_t[]){1}), z = const_i64(g, "z", 1, (int64_t[]){0});
    op(g, TT_GOP_DIV, "dz", 2, (int[]){one, z});
    tt_err_clear(&err);
    CHECK(tt_graph_fold_constants(g, &err) < 0 && strstr(err.msg, "node 'dz' (Div)"));
    tt_graph_free(g);

    /* A node with a non-constant input is not folded. */
    g = tt_graph_new("f");
    int x = in_f(g, "x", 1, SHP(3));
    op(g, TT_GOP_NEG, "neg", 1, &x);
    tt_err_clear(&err);
    CHECK(tt_graph_fold_node(g, 0, &err) == 0 && !g->nodes[0].dead);
    tt_graph_free(g);
}

/* Tensor lookup by name (hashed): every tensor of a graph that grew its
 * table many times is found, an absent name is not, a name is refused twice. */
static void test_find_names(void)
{
    tt_graph *g = tt_graph_new("names");
    char name[32];
    int ok = 1;
    for (int i = 0; i < 5000 && ok; i++) {
        snprintf(name, sizeof name, "t%d", i);
        ok = tt_graph_tensor(g, name, TT_DT_FLOAT, -1, NULL, NULL) == i;
    }
    for (int i = 0; i < 5000 && ok; i++) {
        snprintf(name, sizeof name, "t%d", i);
        ok = tt_graph_find(g, name) == i;
    }
    tt_err err = {0};
    int absent = tt_graph_find(g, "t5000"), twice = tt_graph_tensor(g, "t17", TT_DT_FLOAT, -1, NULL, &err);
    tt_graph_free(g);
    CHECK(ok);
    CHECK(absent == -1 && twice == -1);
    CHECK_MSG(strstr(err.msg, "'t17' is defined twice"), "%s", err.msg);
    tt_graph *e = tt_graph_new("empty");
    CHECK(tt_graph_find(e, "x") == -1);
    tt_graph_free(e);
}

/* The operators' name table: every tt_gop has a name, no two the same, and
 * tt_gop_lookup finds each under it; the passes' own ("tt.*") are exactly
 * those from TT_GOP_FIRST_INTERNAL on; unknown names and near misses are
 * not found. */
static void test_gop_names(void)
{
    int ok = 1;
    for (int i = 0; i < TT_GOP_COUNT; i++) {
        const char *n = tt_gop_names[i];
        CHECK_MSG(n && *n, "tt_gop %d has no name", i);
        if (!n || !*n) {
            ok = 0;
            continue;
        }
        for (int j = 0; j < i; j++)
            CHECK_MSG(!tt_gop_names[j] || strcmp(n, tt_gop_names[j]), "tt_gop %d and %d: '%s'", j,
                      i, n);
        CHECK_MSG(tt_gop_lookup(n) == (tt_gop)i, "'%s' looks up as %d, is %d", n,
                  (int)tt_gop_lookup(n), i);
        CHECK_MSG((i >= TT_GOP_FIRST_INTERNAL) == !strncmp(n, "tt.", 3), "'%s' (%d)", n, i);
    }
    CHECK(ok);
    CHECK(!strcmp(tt_gop_names[TT_GOP_CONV], "Conv") &&
          !strcmp(tt_gop_names[TT_GOP_SLICE_AXIS], "tt.SliceAxis"));
    CHECK(tt_gop_lookup("Foo") == TT_GOP_COUNT && tt_gop_lookup("conv") == TT_GOP_COUNT &&
          tt_gop_lookup("Conv ") == TT_GOP_COUNT && tt_gop_lookup("") == TT_GOP_COUNT &&
          tt_gop_lookup(NULL) == TT_GOP_COUNT);
}

/* Einsum equations that are batched matrix products, and ones that are not. */
static void test_einsum_forms(void)
{
    int tb = -1;
    CHECK(tt_einsum_matmul("bhid,bhjd->bhij", 4, 4, &tb) == 0 && tb == 1);
    CHECK(tt_einsum_matmul("B G H I D, B G H J D -> B G H I J", 5, 5, &tb) == 0 && tb == 1);
    CHECK(tt_einsum_matmul("bij,bjk->bik", 3, 3, &tb) == 0 && tb == 0);
    CHECK(tt_einsum_matmul("ik,kj->ij", 2, 2, &tb) == 0 && tb == 0);
    CHECK(tt_einsum_matmul("bij,bjk->bik", 3, 4, &tb) == -1);  /* ranks */
    CHECK(tt_einsum_matmul("bij,cjk->bik", 3, 3, &tb) == -1);  /* batch letters */
    CHECK(tt_einsum_matmul("bij,bjk->bki", 3, 3, &tb) == -1);  /* transposed output */
    CHECK(tt_einsum_matmul("bii,bij->bij", 3, 3, &tb) == -1);  /* a repeated letter */
    CHECK(tt_einsum_matmul("ij,jk,kl->il", 2, 2, &tb) == -1);  /* three operands */
    CHECK(tt_einsum_matmul("...ij,...jk->...ik", 3, 3, &tb) == -1); /* ellipsis */
    CHECK(tt_einsum_matmul("bij->bji", 3, 3, &tb) == -1);
    CHECK(tt_einsum_matmul(NULL, 3, 3, &tb) == -1);
}

const tt_test tests_graph[] = {
    {"einsum_forms", test_einsum_forms},
    {"gop_names", test_gop_names},
    {"infer_broadcast", test_broadcast},
    {"infer_conv", test_conv},
    {"infer_pool", test_pool},
    {"infer_reshape", test_reshape},
    {"infer_matmul_gemm", test_matmul_gemm},
    {"infer_shape_ops", test_shape_ops},
    {"infer_errors", test_errors},
    {"fold_shape_chain", test_fold_shape_chain},
    {"fold_values", test_fold_values},
    {"find_names", test_find_names},
    {NULL, NULL},
};
