/* bert.c - BERT-base and MobileBERT as the ONNX graphs that PyTorch 1.13
 * exports (opset 13) for scripts/export-onnx.py's implementations.
 *
 * Each helper below emits the nodes the export writes for one torch module
 * or function, in the export's order and operand order.  Linear on a [1,S,K]
 * activation, for instance, is not Gemm but
 *     MatMul(x, W^T)  then  Add(bias, .)      (W^T constant-folded to [K,N])
 * and LayerNorm is the decomposition
 *     m = ReduceMean(x, axes [-1]); d = Sub(x, m); v = ReduceMean(Pow(d, 2));
 *     y = Add(Mul(Div(d, Sqrt(Add(v, eps))), gamma), beta)
 * Node names follow the export's ("/layers.3/query/MatMul"); weights are
 * named after the torch parameters.
 *
 * Weights are seeded per tensor from (model name, seed, tensor name), like
 * the rest of the zoo, so a tensor's values do not depend on build order.
 * Magnitudes follow Hugging Face's init, which keeps these random models
 * finite and non-degenerate: Linear and Embedding weights uniform with
 * standard deviation 0.02, biases +-0.02, LayerNorm / NoNorm gamma in
 * [0.5, 1.5] and beta in +-0.1.
 */
#include "bert.h"
#include "zoo_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define BB_NAME_MAX 160
#define BB_SEQ 256
#define BB_VOCAB 30522

/* The builder: graph under construction, weight seed, first failure.  Every
 * helper returns its output tensor, or -1 once anything failed (a failed
 * input included), so model bodies need no error checks. */
typedef struct bb {
    tt_graph *g;
    tt_err err;
    uint64_t seed;
} bb;

static void bb_begin(bb *b, const char *model, uint64_t seed)
{
    memset(b, 0, sizeof *b);
    b->g = tt_graph_new(model);
    /* The zoo's rule (src/zoo/layers.c): different models with the same seed get unrelated
     * weights. */
    b->seed = tt_hash64(model, strlen(model)) ^
              (seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull);
}

static tt_graph *bb_finish(bb *b, int out, tt_err *err)
{
    if (!b->err.set && out < 0)
        tt_err_set(&b->err, "no output");
    if (b->err.set) {
        tt_err_set(err, "zoo model '%s': %s", b->g->name, b->err.msg);
        tt_graph_free(b->g);
        return NULL;
    }
    tt_graph_mark_output(b->g, out);
    return b->g;
}

static const char *bb_fmt(bb *b, char *buf, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const char *bb_fmt(bb *b, char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, BB_NAME_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= BB_NAME_MAX)
        tt_err_set(&b->err, "name too long: '%.64s...'", buf);
    return buf;
}

/* Node `op` named "<scope>/<op_name>" with one fresh output. */
static int bb_node(bb *b, tt_gop op, const char *scope, const char *op_name, int nin,
                   const int *in)
{
    if (b->err.set)
        return -1;
    for (int i = 0; i < nin; i++)
        if (in[i] < 0)
            return tt_err_set(&b->err, "an input of '%s/%s' is missing", scope, op_name);
    char name[BB_NAME_MAX];
    bb_fmt(b, name, "%s/%s", scope, op_name);
    return tt_graph_op1(b->g, op, name, nin, in, &b->err);
}

static int bb_last(const bb *b) { return b->g->nnodes - 1; }

/* A float weight uniform in [lo, hi], from its own stream. */
static int bb_uniform(bb *b, const char *name, int ndim, const int64_t *shape, float lo, float hi)
{
    if (b->err.set)
        return -1;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    float *d = tt_zoo_uniform_data(b->seed, name, n, lo, hi);
    return tt_graph_const_owned(b->g, name, TT_DT_FLOAT, ndim, shape, d, &b->err);
}

/* Standard deviation 0.02 (HF's initializer_range) as a uniform bound. */
#define BB_W 0.034641016f

/* A float scalar (rank 0), as the export's Constant nodes hold them. */
static int bb_scalar(bb *b, const char *name, float v)
{
    if (b->err.set)
        return -1;
    return tt_graph_const(b->g, name, TT_DT_FLOAT, 0, NULL, &v, &b->err);
}

/* A 1-D int64 constant (shapes, slice bounds, pads). */
static int bb_ints(bb *b, const char *name, int n, const int64_t *v)
{
    if (b->err.set)
        return -1;
    int64_t s[1] = {n};
    return tt_graph_const(b->g, name, TT_DT_INT64, 1, s, v, &b->err);
}

/* ---- torch modules and functions ------------------------------------------ */

/* x (op) scalar c: Add/Sub/Mul/Div/Pow with a rank-0 constant "<scope>/<op_name>/c". */
static int bb_op_scalar(bb *b, tt_gop op, int x, float c, const char *scope,
                        const char *op_name)
{
    char cn[BB_NAME_MAX];
    int in[2] = {x, bb_scalar(b, bb_fmt(b, cn, "%s/%s/c", scope, op_name), c)};
    return bb_node(b, op, scope, op_name, 2, in);
}

static int bb_op2(bb *b, tt_gop op, int x, int y, const char *scope, const char *op_name)
{
    int in[2] = {x, y};
    return bb_node(b, op, scope, op_name, 2, in);
}

/* nn.Linear(k, n) on [1,S,k]: MatMul(x, W [k,n]) "<mod>/MatMul", Add(bias [n], .) "<mod>/Add";
 * weights "<mod>.weight" (stored transposed, as the export folds it) and "<mod>.bias". */
static int bb_linear(bb *b, int x, int64_t k, int64_t n, const char *mod)
{
    char wn[BB_NAME_MAX], scope[BB_NAME_MAX];
    int64_t ws[2] = {k, n}, bs[1] = {n};
    bb_fmt(b, scope, "/%s", mod);
    int w = bb_uniform(b, bb_fmt(b, wn, "%s.weight", mod), 2, ws, -BB_W, BB_W);
    int bias = bb_uniform(b, bb_fmt(b, wn, "%s.bias", mod), 1, bs, -0.02f, 0.02f);
    int mm = bb_op2(b, TT_GOP_MATMUL, x, w, scope, "MatMul");
    return bb_op2(b, TT_GOP_ADD, bias, mm, scope, "Add");
}

static int bb_affine_params(bb *b, const char *mod, int64_t n, int *gamma, int *beta)
{
    char wn[BB_NAME_MAX];
    int64_t s[1] = {n};
    *gamma = bb_uniform(b, bb_fmt(b, wn, "%s.weight", mod), 1, s, 0.5f, 1.5f);
    *beta = bb_uniform(b, bb_fmt(b, wn, "%s.bias", mod), 1, s, -0.1f, 0.1f);
    return 0;
}

/* nn.LayerNorm(n, eps) over the last axis, decomposed as opset 13 exports it. */
static int bb_layernorm(bb *b, int x, int64_t n, float eps, const char *mod)
{
    char scope[BB_NAME_MAX];
    bb_fmt(b, scope, "/%s", mod);
    int gamma, beta;
    bb_affine_params(b, mod, n, &gamma, &beta);
    const int64_t last[1] = {-1};
    int m = bb_node(b, TT_GOP_REDUCE_MEAN, scope, "ReduceMean", 1, &x);
    if (m >= 0)
        tt_node_set_ints(b->g, bb_last(b), "axes", 1, last);
    int d = bb_op2(b, TT_GOP_SUB, x, m, scope, "Sub");
    int p = bb_op_scalar(b, TT_GOP_POW, d, 2.0f, scope, "Pow");
    int v = bb_node(b, TT_GOP_REDUCE_MEAN, scope, "ReduceMean_1", 1, &p);
    if (v >= 0)
        tt_node_set_ints(b->g, bb_last(b), "axes", 1, last);
    int ve = bb_op_scalar(b, TT_GOP_ADD, v, eps, scope, "Add");
    int sd = bb_node(b, TT_GOP_SQRT, scope, "Sqrt", 1, &ve);
    int y = bb_op2(b, TT_GOP_DIV, d, sd, scope, "Div");
    y = bb_op2(b, TT_GOP_MUL, y, gamma, scope, "Mul");
    return bb_op2(b, TT_GOP_ADD, y, beta, scope, "Add_1");
}

/* MobileBERT's NoNorm(n): Mul(x, gamma), Add(., beta). */
static int bb_nonorm(bb *b, int x, int64_t n, const char *mod)
{
    char scope[BB_NAME_MAX];
    bb_fmt(b, scope, "/%s", mod);
    int gamma, beta;
    bb_affine_params(b, mod, n, &gamma, &beta);
    int y = bb_op2(b, TT_GOP_MUL, x, gamma, scope, "Mul");
    return bb_op2(b, TT_GOP_ADD, y, beta, scope, "Add");
}

/* t.reshape(1, S, heads, hd).permute(perm): Reshape with a constant shape, Transpose. */
static int bb_split_heads(bb *b, int x, int64_t heads, int64_t hd, const int64_t perm[4],
                          const char *scope, const char *tag)
{
    char nm[BB_NAME_MAX], cn[BB_NAME_MAX];
    const int64_t shape[4] = {1, BB_SEQ, heads, hd};
    int in[2] = {x, bb_ints(b, bb_fmt(b, cn, "%s/%s/shape", scope, tag), 4, shape)};
    int r = bb_node(b, TT_GOP_RESHAPE, scope, bb_fmt(b, nm, "%s/Reshape", tag), 2, in);
    int t = bb_node(b, TT_GOP_TRANSPOSE, scope, bb_fmt(b, nm, "%s/Transpose", tag), 1, &r);
    if (t >= 0)
        tt_node_set_ints(b->g, bb_last(b), "perm", 4, perm);
    return t;
}

static const int64_t bb_perm_0213[4] = {0, 2, 1, 3}, bb_perm_0231[4] = {0, 2, 3, 1};

/* Scaled dot-product attention of q [1,h,S,d], kt [1,h,d,S], v [1,h,S,d], no mask:
 * MatMul, Div(sqrt(d)), Softmax(-1), MatMul, Transpose 0213, Reshape [1,S,h*d]. */
static int bb_attention(bb *b, int q, int kt, int v, int64_t heads, int64_t hd,
                        const char *scope)
{
    char cn[BB_NAME_MAX];
    int s = bb_op2(b, TT_GOP_MATMUL, q, kt, scope, "MatMul");
    s = bb_op_scalar(b, TT_GOP_DIV, s, (float)sqrt((double)hd), scope, "Div");
    int p = bb_node(b, TT_GOP_SOFTMAX, scope, "Softmax", 1, &s);
    if (p >= 0)
        tt_node_set_int(b->g, bb_last(b), "axis", -1);
    int c = bb_op2(b, TT_GOP_MATMUL, p, v, scope, "MatMul_1");
    c = bb_node(b, TT_GOP_TRANSPOSE, scope, "ctx/Transpose", 1, &c);
    if (c >= 0)
        tt_node_set_ints(b->g, bb_last(b), "perm", 4, bb_perm_0213);
    const int64_t shape[3] = {1, BB_SEQ, heads * hd};
    int in[2] = {c, bb_ints(b, bb_fmt(b, cn, "%s/ctx/shape", scope), 3, shape)};
    return bb_node(b, TT_GOP_RESHAPE, scope, "ctx/Reshape", 2, in);
}

/* F.gelu (erf form): Div(x, sqrt 2), Erf, Add 1, Mul(x, .), Mul(., 0.5). */
static int bb_gelu(bb *b, int x, const char *scope)
{
    int t = bb_op_scalar(b, TT_GOP_DIV, x, (float)M_SQRT2, scope, "gelu/Div");
    t = bb_node(b, TT_GOP_ERF, scope, "gelu/Erf", 1, &t);
    t = bb_op_scalar(b, TT_GOP_ADD, t, 1.0f, scope, "gelu/Add");
    t = bb_op2(b, TT_GOP_MUL, x, t, scope, "gelu/Mul");
    return bb_op_scalar(b, TT_GOP_MUL, t, 0.5f, scope, "gelu/Mul_1");
}

/* nn.Embedding(vocab, d)(ids): Gather(table, ids) (axis 0, the default: no attribute). */
static int bb_embedding(bb *b, int ids, int64_t vocab, int64_t d, const char *mod)
{
    char wn[BB_NAME_MAX], scope[BB_NAME_MAX];
    int64_t s[2] = {vocab, d};
    bb_fmt(b, scope, "/%s", mod);
    int in[2] = {bb_uniform(b, bb_fmt(b, wn, "%s.weight", mod), 2, s, -BB_W, BB_W), ids};
    return bb_node(b, TT_GOP_GATHER, scope, "Gather", 2, in);
}

static int bb_input(bb *b)
{
    const int64_t s[2] = {1, BB_SEQ};
    if (b->err.set)
        return -1;
    return tt_graph_input(b->g, "input", TT_DT_INT64, 2, s, &b->err);
}

/* ---- BERT-base -------------------------------------------------------------- */

#define BERT_H 768
#define BERT_HEADS 12
#define BERT_FFN 3072
#define BERT_LAYERS 12
#define BERT_EPS 1e-12f

/* One encoder layer (see BertLayer in scripts/export-onnx.py). */
static int bert_layer(bb *b, int x, int l)
{
    char m[BB_NAME_MAX], scope[BB_NAME_MAX];
    const int64_t hd = BERT_H / BERT_HEADS;
    bb_fmt(b, scope, "/layers.%d", l);
    int q = bb_linear(b, x, BERT_H, BERT_H, bb_fmt(b, m, "layers.%d.query", l));
    q = bb_split_heads(b, q, BERT_HEADS, hd, bb_perm_0213, scope, "q");
    int k = bb_linear(b, x, BERT_H, BERT_H, bb_fmt(b, m, "layers.%d.key", l));
    k = bb_split_heads(b, k, BERT_HEADS, hd, bb_perm_0231, scope, "k");
    int v = bb_linear(b, x, BERT_H, BERT_H, bb_fmt(b, m, "layers.%d.value", l));
    v = bb_split_heads(b, v, BERT_HEADS, hd, bb_perm_0213, scope, "v");
    int c = bb_attention(b, q, k, v, BERT_HEADS, hd, scope);
    int a = bb_linear(b, c, BERT_H, BERT_H, bb_fmt(b, m, "layers.%d.attn_out", l));
    a = bb_op2(b, TT_GOP_ADD, a, x, scope, "Add");
    a = bb_layernorm(b, a, BERT_H, BERT_EPS, bb_fmt(b, m, "layers.%d.attn_norm", l));
    int f = bb_linear(b, a, BERT_H, BERT_FFN, bb_fmt(b, m, "layers.%d.intermediate", l));
    f = bb_gelu(b, f, scope);
    f = bb_linear(b, f, BERT_FFN, BERT_H, bb_fmt(b, m, "layers.%d.output", l));
    f = bb_op2(b, TT_GOP_ADD, f, a, scope, "Add_1");
    return bb_layernorm(b, f, BERT_H, BERT_EPS, bb_fmt(b, m, "layers.%d.out_norm", l));
}

tt_graph *tt_zoo_bert_base(uint64_t seed, tt_err *err)
{
    bb b;
    bb_begin(&b, "bert_base", seed);
    int ids = bb_input(&b);
    int x = bb_embedding(&b, ids, BB_VOCAB, BERT_H, "word_embeddings");
    /* + token_type_embeddings.weight[0] ([768]) + position_embeddings.weight[:256] ([256,768]):
     * the export folds both to constants. */
    const int64_t s1[1] = {BERT_H}, s2[2] = {BB_SEQ, BERT_H};
    x = bb_op2(&b, TT_GOP_ADD, x,
               bb_uniform(&b, "token_type_embeddings.row0", 1, s1, -BB_W, BB_W), "", "Add");
    x = bb_op2(&b, TT_GOP_ADD, x,
               bb_uniform(&b, "position_embeddings.rows", 2, s2, -BB_W, BB_W), "", "Add_1");
    x = bb_layernorm(&b, x, BERT_H, BERT_EPS, "emb_norm");
    for (int l = 0; l < BERT_LAYERS; l++)
        x = bert_layer(&b, x, l);
    return bb_finish(&b, x, err);
}

/* ---- MobileBERT ------------------------------------------------------------- */

#define MB_EMB 128
#define MB_H 512
#define MB_INNER 128
#define MB_HEADS 4
#define MB_FFN 512
#define MB_NFFN 4
#define MB_LAYERS 24

/* One layer (see MobileBertLayer in scripts/export-onnx.py). */
static int mobilebert_layer(bb *b, int x, int l)
{
    char m[BB_NAME_MAX], scope[BB_NAME_MAX], nm[BB_NAME_MAX];
    const int64_t hd = MB_INNER / MB_HEADS;
    bb_fmt(b, scope, "/layers.%d", l);
    int inner = bb_linear(b, x, MB_H, MB_INNER, bb_fmt(b, m, "layers.%d.bn_input", l));
    inner = bb_nonorm(b, inner, MB_INNER, bb_fmt(b, m, "layers.%d.bn_input_norm", l));
    int shared = bb_linear(b, x, MB_H, MB_INNER, bb_fmt(b, m, "layers.%d.bn_attention", l));
    shared = bb_nonorm(b, shared, MB_INNER, bb_fmt(b, m, "layers.%d.bn_attention_norm", l));
    int q = bb_linear(b, shared, MB_INNER, MB_INNER, bb_fmt(b, m, "layers.%d.query", l));
    q = bb_split_heads(b, q, MB_HEADS, hd, bb_perm_0213, scope, "q");
    int k = bb_linear(b, shared, MB_INNER, MB_INNER, bb_fmt(b, m, "layers.%d.key", l));
    k = bb_split_heads(b, k, MB_HEADS, hd, bb_perm_0231, scope, "k");
    int v = bb_linear(b, x, MB_H, MB_INNER, bb_fmt(b, m, "layers.%d.value", l));
    v = bb_split_heads(b, v, MB_HEADS, hd, bb_perm_0213, scope, "v");
    int c = bb_attention(b, q, k, v, MB_HEADS, hd, scope);
    int a = bb_linear(b, c, MB_INNER, MB_INNER, bb_fmt(b, m, "layers.%d.attn_out", l));
    a = bb_op2(b, TT_GOP_ADD, a, inner, scope, "Add");
    a = bb_nonorm(b, a, MB_INNER, bb_fmt(b, m, "layers.%d.attn_norm", l));
    /* MB_NFFN - 1 stacked FFNs, then the layer's own intermediate/output */
    for (int f = 0; f < MB_NFFN; f++) {
        const int last = f == MB_NFFN - 1;
        int t = last ? bb_linear(b, a, MB_INNER, MB_FFN, bb_fmt(b, m, "layers.%d.intermediate", l))
                     : bb_linear(b, a, MB_INNER, MB_FFN, bb_fmt(b, m, "layers.%d.ffn_in.%d", l, f));
        t = bb_node(b, TT_GOP_RELU, scope, bb_fmt(b, nm, "Relu_%d", f), 1, &t);
        t = last ? bb_linear(b, t, MB_FFN, MB_INNER, bb_fmt(b, m, "layers.%d.output", l))
                 : bb_linear(b, t, MB_FFN, MB_INNER, bb_fmt(b, m, "layers.%d.ffn_out.%d", l, f));
        t = bb_op2(b, TT_GOP_ADD, t, a, scope, bb_fmt(b, nm, "Add_%d", f + 1));
        a = last ? bb_nonorm(b, t, MB_INNER, bb_fmt(b, m, "layers.%d.out_norm", l))
                 : bb_nonorm(b, t, MB_INNER, bb_fmt(b, m, "layers.%d.ffn_norm.%d", l, f));
    }
    int o = bb_linear(b, a, MB_INNER, MB_H, bb_fmt(b, m, "layers.%d.out_bottleneck", l));
    o = bb_op2(b, TT_GOP_ADD, o, x, scope, "Add_5");
    return bb_nonorm(b, o, MB_H, bb_fmt(b, m, "layers.%d.out_bottleneck_norm", l));
}

/* e[:, from:to] along axis 1 then F.pad by one row at the end (at_end) or the start:
 * Slice(e, starts, ends, axes [1], steps [1]), Pad(., pads, 0) mode "constant". */
static int mobilebert_shift(bb *b, int e, int64_t from, int64_t to, int at_end, const char *tag)
{
    char cn[BB_NAME_MAX], nm[BB_NAME_MAX];
    const int64_t one[1] = {1}, st[1] = {from}, en[1] = {to};
    const int64_t pads_end[6] = {0, 0, 0, 0, 1, 0}, pads_begin[6] = {0, 1, 0, 0, 0, 0};
    /* One statement per constant: the elements of an initializer list are evaluated in an
     * unspecified order, and the constants share the name buffer. */
    int in[5] = {e};
    in[1] = bb_ints(b, bb_fmt(b, cn, "/%s/starts", tag), 1, st);
    in[2] = bb_ints(b, bb_fmt(b, cn, "/%s/ends", tag), 1, en);
    in[3] = bb_ints(b, bb_fmt(b, cn, "/%s/axes", tag), 1, one);
    in[4] = bb_ints(b, bb_fmt(b, cn, "/%s/steps", tag), 1, one);
    int s = bb_node(b, TT_GOP_SLICE, "", bb_fmt(b, nm, "%s/Slice", tag), 5, in);
    int pin[3] = {s};
    pin[1] = bb_ints(b, bb_fmt(b, cn, "/%s/pads", tag), 6, at_end ? pads_end : pads_begin);
    pin[2] = bb_scalar(b, bb_fmt(b, cn, "/%s/value", tag), 0.0f);
    int p = bb_node(b, TT_GOP_PAD, "", bb_fmt(b, nm, "%s/Pad", tag), 3, pin);
    if (p >= 0)
        tt_node_set_string(b->g, bb_last(b), "mode", "constant");
    return p;
}

tt_graph *tt_zoo_mobilebert(uint64_t seed, tt_err *err)
{
    bb b;
    bb_begin(&b, "mobilebert", seed);
    int ids = bb_input(&b);
    int e = bb_embedding(&b, ids, BB_VOCAB, MB_EMB, "word_embeddings");
    /* Trigram input: cat([pad(e[:, 1:]) at the end, e, pad(e[:, :-1]) at the start], dim 2). */
    int cat[3];
    cat[0] = mobilebert_shift(&b, e, 1, INT64_MAX, 1, "next");
    cat[1] = e;
    cat[2] = mobilebert_shift(&b, e, 0, -1, 0, "prev");
    int x = bb_node(&b, TT_GOP_CONCAT, "", "Concat", 3, cat);
    if (x >= 0)
        tt_node_set_int(b.g, bb_last(&b), "axis", 2);
    x = bb_linear(&b, x, 3 * MB_EMB, MB_H, "embedding_transformation");
    const int64_t s1[1] = {MB_H}, s2[2] = {BB_SEQ, MB_H};
    x = bb_op2(&b, TT_GOP_ADD, x,
               bb_uniform(&b, "position_embeddings.rows", 2, s2, -BB_W, BB_W), "", "Add");
    x = bb_op2(&b, TT_GOP_ADD, x,
               bb_uniform(&b, "token_type_embeddings.row0", 1, s1, -BB_W, BB_W), "", "Add_1");
    x = bb_nonorm(&b, x, MB_H, "emb_norm");
    for (int l = 0; l < MB_LAYERS; l++)
        x = mobilebert_layer(&b, x, l);
    return bb_finish(&b, x, err);
}
