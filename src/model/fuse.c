/* fuse.c - fusion of the graph (after the passes) into kernels, one compute
 * DAG per kernel, deduplication, and the call list.
 *
 * Fusion follows TVM's FuseOps in the cases that matter for CNNs and
 * transformers: a group starts at an anchor (conv, dense, batch_matmul,
 * pooling, softmax, layer norm, mean, concat, transpose, slice, pad) or at an
 * elementwise op no group took, and absorbs elementwise ops that read it,
 * one at a time, while
 *   - every other input of the op is a constant or an activation that does
 *     not depend on the group (no cycle through the kernel boundary),
 *   - the op's output has the group's output shape (a broadcast that grows
 *     the result is a kernel of its own, e.g. squeeze-excitation's multiply),
 *   - its operands can be expressed in the anchor's index space,
 *   - the group has fewer than FUSE_MAX_NODES nodes (a longer chain is
 *     several kernels in a row).
 * Every tensor inside a group other than its output must be read only inside
 * the group (one output per kernel); the group is cut back until that holds.
 * Reshape-like ops (Reshape, Flatten, Squeeze, Unsqueeze) are aliases: no
 * kernel, the same memory.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_int.h"

typedef enum ncls { NC_NONE = 0, NC_ALIAS, NC_ANCHOR, NC_EW, NC_GATHER, NC_HOST } ncls;

/* Whether node n reads or writes an activation that is not float (int64
 * ids, a boolean mask): kernels compute on floats only (constant operands
 * such as Pad's pads or Slice's starts do not count). */
static int touches_nonfloat(const tt_graph *g, const tt_node *n)
{
    for (int i = 0; i < n->nin; i++)
        if (n->in[i] >= 0 && !g->tensors[n->in[i]].data && g->tensors[n->in[i]].dtype != TT_DT_FLOAT)
            return 1;
    for (int i = 0; i < n->nout; i++)
        if (n->out[i] >= 0 && g->tensors[n->out[i]].dtype != TT_DT_FLOAT)
            return 1;
    return 0;
}

/* What fusion does with node n: an alias (no kernel), an anchor (a kernel
 * starts there: anchor_ops has its builder), an elementwise op (kb_ew), an
 * embedding lookup, an op on integer or boolean tensors that the executor
 * evaluates itself (tt_graph_eval_node: an attention mask's Equal, Cast,
 * Where), or nothing it can (an unsupported operator). */
static ncls classify(const tt_graph *g, const tt_node *n)
{
    switch (n->op) {
    case TT_GOP_RESHAPE:
    case TT_GOP_FLATTEN:
    case TT_GOP_SQUEEZE:
    case TT_GOP_UNSQUEEZE:
    case TT_GOP_ALIAS:
    case TT_GOP_IDENTITY:
    case TT_GOP_DROPOUT: return NC_ALIAS;
    case TT_GOP_GATHER:
        if (n->nin == 2 && g->tensors[n->in[0]].data && g->tensors[n->in[0]].dtype == TT_DT_FLOAT &&
            !g->tensors[n->in[1]].data && tt_node_int(n, "axis", 0) == 0)
            return NC_GATHER;
        break;
    default: break;
    }
    /* kernels compute on floats: any other op on an integer or boolean
     * tensor is the executor's, if it can evaluate it */
    if (touches_nonfloat(g, n))
        return n->nout == 1 && n->nin < TT_MODEL_MAX_ARGS && tt_graph_evaluable(g, (int)(n - g->nodes)) ? NC_HOST
                                                                                                  : NC_NONE;
    switch (n->op) {
    case TT_GOP_CONV:
    case TT_GOP_DENSE:
    case TT_GOP_BATCH_MATMUL:
    case TT_GOP_MAX_POOL:
    case TT_GOP_AVERAGE_POOL:
    case TT_GOP_GLOBAL_AVERAGE_POOL:
    case TT_GOP_SOFTMAX:
    case TT_GOP_LAYER_NORMALIZATION:
    case TT_GOP_REDUCE_MEAN:
    case TT_GOP_CONCAT:
    case TT_GOP_TRANSPOSE:
    case TT_GOP_SLICE:
    case TT_GOP_PAD:
    case TT_GOP_SLICE_AXIS:
    case TT_GOP_RESIZE:
    case TT_GOP_DILATE:
    case TT_GOP_CHANNEL_SHUFFLE: return NC_ANCHOR;
    default:
        if (tt_gop_is_elementwise(n->op))
            return NC_EW;
        /* no kernel for it, but the folding rules evaluate it: the executor's
         * (an activation gathered at more constant indices than slices take,
         * Swin-V2's relative position bias; an Expand or Tile of an activation),
         * a plain loop: right, not fast */
        return n->nout == 1 && n->nin < TT_MODEL_MAX_ARGS && tt_graph_evaluable(g, (int)(n - g->nodes)) ? NC_HOST
                                                                                                   : NC_NONE;
    }
}

/* At most this many graph nodes in one kernel: an anchor and its epilogue,
 * or a run of elementwise nodes (TVM's FuseOps has the same bound,
 * max_depth).  A longer chain becomes several kernels, each starting at the
 * elementwise node the one before could not take and reading its output.
 * 64: the longest elementwise chain that fused correctly before there was a
 * bound (a table of 64 bound tensors overflowed silently, and the member
 * after it read its predecessor's output as an argument no call computes),
 * and kernels stay within what the stages after fusion hold (a layout of
 * TT_LAYOUT_MAX_OPS ops for transfer, TT_MAX_STEPS steps in a record). */
#define FUSE_MAX_NODES 64

/* ---- kernel construction ------------------------------------------------------ */

/* Tensors a kb binds: each member's output and each placeholder kb_operand
 * makes (at most one per kernel argument). */
#define KB_MAX_BOUND (FUSE_MAX_NODES + TT_MODEL_MAX_ARGS)

typedef struct kb {
    tt_graph *g;
    tt_dag *d;
    int nargs;
    int args[TT_MODEL_MAX_ARGS];   /* graph tensor per placeholder, in DAG order */
    int ngt;
    int gt[KB_MAX_BOUND], gu[KB_MAX_BOUND]; /* graph tensor -> DAG uid inside the group */
    /* index frame: the anchor's DAG output shape vs the graph's shape of it */
    int frame_reshaped;
    int dn;
    int64_t dshape[TT_MAX_DIMS];
    tt_err *err;
} kb;

static int kb_uid(const kb *K, int t)
{
    for (int i = 0; i < K->ngt; i++)
        if (K->gt[i] == t)
            return K->gu[i];
    return -1;
}

/* A binding that did not fit would make a later member read tensor t as a
 * placeholder, a tensor no call computes: KB_MAX_BOUND is an invariant. */
static void kb_bind(kb *K, int t, int uid)
{
    if (K->ngt == KB_MAX_BOUND)
        abort();
    K->gt[K->ngt] = t;
    K->gu[K->ngt++] = uid;
}

static int kb_placeholder(kb *K, int t, const char *name, int ndim, const int64_t *shape)
{
    if (K->nargs >= TT_MODEL_MAX_ARGS - 1)
        return tt_err_set(K->err, "a kernel with more than %d inputs", TT_MODEL_MAX_ARGS - 1);
    int uid = tt_dag_placeholder(K->d, name, ndim, shape, K->g->tensors[t].data != NULL);
    K->args[K->nargs++] = t;
    return uid;
}

/* Whether / how an operand of graph shape P (broadcast against the group's
 * graph shape S) is expressed in the kernel's index frame.  Returns the
 * placeholder shape (rank in *rn) or 0 if it cannot be. */
static int frame_shape(const kb *K, const tt_tensor *P, const tt_tensor *S, int64_t *sh, int *rn)
{
    if (!K->frame_reshaped) {
        *rn = P->ndim;
        memcpy(sh, P->shape, sizeof(int64_t) * (size_t)(P->ndim > 0 ? P->ndim : 0));
        return 1;
    }
    int64_t pn = tt_tensor_numel(P), sn = tt_tensor_numel(S);
    if (pn == sn) {
        *rn = K->dn;
        memcpy(sh, K->dshape, sizeof(int64_t) * (size_t)K->dn);
        return 1;
    }
    /* broadcast along the last axis only: [1,..,1,C] or [C] */
    for (int i = 0; i + 1 < P->ndim; i++)
        if (P->shape[i] != 1)
            return 0;
    int64_t last = P->ndim ? P->shape[P->ndim - 1] : 1;
    if (last != 1 && last != K->dshape[K->dn - 1])
        return 0;
    *rn = 1;
    sh[0] = last;
    return 1;
}

/* The DAG uid for input t of an epilogue op: a group tensor, a scalar
 * constant stage, or a new placeholder. -1 with err if not expressible. */
static int kb_operand(kb *K, int t, int out)
{
    int u = kb_uid(K, t);
    if (u >= 0)
        return u;
    const tt_tensor *P = &K->g->tensors[t];
    if (P->data && P->dtype == TT_DT_FLOAT && tt_tensor_numel(P) == 1)
        return tt_dag_const_scalar(K->d, ((const float *)P->data)[0]);
    if (P->dtype != TT_DT_FLOAT)
        return tt_err_set(K->err, "operand '%s' is not float", P->name);
    int64_t sh[TT_MAX_DIMS];
    int rn;
    if (!frame_shape(K, P, &K->g->tensors[out], sh, &rn))
        return tt_err_set(K->err, "operand '%s' cannot be indexed in the kernel", P->name);
    u = kb_placeholder(K, t, P->data ? "const" : "input", rn, sh);
    if (u >= 0)
        kb_bind(K, t, u);
    return u;
}

static double const_scalar(const tt_graph *g, int t, double dflt)
{
    if (t < 0)
        return dflt;
    const tt_tensor *x = &g->tensors[t];
    if (!x->data || tt_tensor_numel(x) != 1)
        return NAN;
    if (x->dtype == TT_DT_FLOAT)
        return ((const float *)x->data)[0];
    if (x->dtype == TT_DT_INT64)
        return (double)((const int64_t *)x->data)[0];
    return NAN;
}

/* The DAG's elementwise op of each graph operator that maps to one: binary
 * (arity 2) or unary (arity 1); arity 0 for the others (kb_ew composes
 * Clip, HardSigmoid and HardSwish itself). */
static const struct {
    tt_ew ew;
    int arity;
} ew_ops[TT_GOP_COUNT] = {
    [TT_GOP_ADD] = {TT_EW_ADD, 2},
    [TT_GOP_SUB] = {TT_EW_SUB, 2},
    [TT_GOP_MUL] = {TT_EW_MUL, 2},
    [TT_GOP_DIV] = {TT_EW_DIV, 2},
    [TT_GOP_POW] = {TT_EW_POW, 2},
    [TT_GOP_MAX] = {TT_EW_MAX, 2},
    [TT_GOP_MIN] = {TT_EW_MIN, 2},
    [TT_GOP_RELU] = {TT_EW_RELU, 1},
    [TT_GOP_SIGMOID] = {TT_EW_SIGMOID, 1},
    [TT_GOP_TANH] = {TT_EW_TANH, 1},
    [TT_GOP_ERF] = {TT_EW_ERF, 1},
    [TT_GOP_SQRT] = {TT_EW_SQRT, 1},
    [TT_GOP_EXP] = {TT_EW_EXP, 1},
    [TT_GOP_NEG] = {TT_EW_NEG, 1},
    [TT_GOP_LOG] = {TT_EW_LOG, 1},
    [TT_GOP_ABS] = {TT_EW_ABS, 1},
};

/* The activations composed of simpler elementwise ops, exactly where the
 * float results agree with PyTorch's (1e-7 relative, tests/ops):
 *   LeakyRelu(x, a)  max(x, a x) for a <= 1, else min(x, a x)
 *   PRelu(x, s)      max(x, 0) + s min(x, 0)     (s broadcast: [C, 1, 1])
 *   Elu(x, a)        max(x, 0) + a (exp(min(x, 0)) - 1)
 *   Selu(x, a, g)    g Elu(x, a)
 *   Softplus(x)      max(x, 0) + log(1 + exp(-|x|))   (no overflow for large x)
 * (Mish is exported as x tanh(Softplus(x)).)  Returns the output uid, -1. */
static int kb_activation(kb *K, const tt_node *n, int a)
{
    tt_dag *d = K->d;
    tt_err *e = K->err;
    int zero = tt_dag_const_scalar(d, 0.0);
    switch (n->op) {
    case TT_GOP_LEAKY_RELU: {
        double al = tt_node_float(n, "alpha", 0.01);
        int ax = tt_dag_ew_binary(d, TT_EW_MUL, a, tt_dag_const_scalar(d, al), e);
        return ax < 0 ? -1 : tt_dag_ew_binary(d, al <= 1 ? TT_EW_MAX : TT_EW_MIN, a, ax, e);
    }
    case TT_GOP_PRELU: {
        int s = kb_operand(K, n->in[1], n->out[0]);
        int pos = s < 0 ? -1 : tt_dag_ew_binary(d, TT_EW_MAX, a, zero, e);
        int neg = pos < 0 ? -1 : tt_dag_ew_binary(d, TT_EW_MIN, a, zero, e);
        int sn = neg < 0 ? -1 : tt_dag_ew_binary(d, TT_EW_MUL, s, neg, e);
        return sn < 0 ? -1 : tt_dag_ew_binary(d, TT_EW_ADD, pos, sn, e);
    }
    case TT_GOP_ELU:
    case TT_GOP_SELU: {
        int selu = n->op == TT_GOP_SELU;
        double al = tt_node_float(n, "alpha", selu ? 1.67326319217681884765625 : 1.0);
        double ga = selu ? tt_node_float(n, "gamma", 1.05070102214813232421875) : 1.0;
        int pos = tt_dag_ew_binary(d, TT_EW_MAX, a, zero, e);
        int neg = pos < 0 ? -1 : tt_dag_ew_binary(d, TT_EW_MIN, a, zero, e);
        int ex = neg < 0 ? -1 : tt_dag_ew_unary(d, TT_EW_EXP, neg, 0, 0, e);
        int em = ex < 0 ? -1 : tt_dag_ew_binary(d, TT_EW_SUB, ex, tt_dag_const_scalar(d, 1.0), e);
        int sc = em < 0 ? -1 : tt_dag_ew_binary(d, TT_EW_MUL, em, tt_dag_const_scalar(d, al), e);
        int y = sc < 0 ? -1 : tt_dag_ew_binary(d, TT_EW_ADD, pos, sc, e);
        return y < 0 || !selu ? y : tt_dag_ew_binary(d, TT_EW_MUL, y, tt_dag_const_scalar(d, ga), e);
    }
    case TT_GOP_SOFTPLUS: {
        int pos = tt_dag_ew_binary(d, TT_EW_MAX, a, zero, e);
        int ab = pos < 0 ? -1 : tt_dag_ew_unary(d, TT_EW_ABS, a, 0, 0, e);
        int ng = ab < 0 ? -1 : tt_dag_ew_unary(d, TT_EW_NEG, ab, 0, 0, e);
        int ex = ng < 0 ? -1 : tt_dag_ew_unary(d, TT_EW_EXP, ng, 0, 0, e);
        int on = ex < 0 ? -1 : tt_dag_ew_binary(d, TT_EW_ADD, ex, tt_dag_const_scalar(d, 1.0), e);
        int lg = on < 0 ? -1 : tt_dag_ew_unary(d, TT_EW_LOG, on, 0, 0, e);
        return lg < 0 ? -1 : tt_dag_ew_binary(d, TT_EW_ADD, pos, lg, e);
    }
    default: return -1;
    }
}

/* Append the stages of elementwise node n; binds its output. */
static int kb_ew(kb *K, int ni)
{
    tt_graph *g = K->g;
    const tt_node *n = &g->nodes[ni];
    const char *opname = tt_gop_names[n->op];
    int out = n->out[0];
    tt_dag *d = K->d;
    int arity = ew_ops[n->op].arity;
    int y = -1;
    if (arity) {
        if (arity == 2 && n->nin != 2)
            return tt_err_set(K->err, "node '%s' (%s): needs 2 inputs", n->name, opname);
        int a = kb_operand(K, n->in[0], out);
        if (a < 0)
            return -1;
        int b = arity == 2 ? kb_operand(K, n->in[1], out) : 0;
        if (b < 0)
            return -1;
        y = arity == 2 ? tt_dag_ew_binary(d, ew_ops[n->op].ew, a, b, K->err)
                       : tt_dag_ew_unary(d, ew_ops[n->op].ew, a, 0, 0, K->err);
    }
    if (n->op == TT_GOP_CLIP) {
        double lo = const_scalar(g, n->nin > 1 ? n->in[1] : -1, -FLT_MAX);
        double hi = const_scalar(g, n->nin > 2 ? n->in[2] : -1, FLT_MAX);
        if (isnan(lo) || isnan(hi))
            return tt_err_set(K->err, "node '%s' (Clip): min and max must be constant scalars",
                              n->name);
        int a = kb_operand(K, n->in[0], out);
        if (a < 0)
            return -1;
        y = tt_dag_ew_unary(d, TT_EW_CLIP, a, lo, hi, K->err);
    }
    if (n->op == TT_GOP_LEAKY_RELU || n->op == TT_GOP_PRELU || n->op == TT_GOP_ELU || n->op == TT_GOP_SELU ||
        n->op == TT_GOP_SOFTPLUS) {
        if (n->op == TT_GOP_PRELU && n->nin != 2)
            return tt_err_set(K->err, "node '%s' (PRelu): needs 2 inputs", n->name);
        int a = kb_operand(K, n->in[0], out);
        y = a < 0 ? -1 : kb_activation(K, n, a);
    }
    if (n->op == TT_GOP_HARD_SIGMOID || n->op == TT_GOP_HARD_SWISH) {
        /* Relay: clip(alpha * x + beta, 0, 1) (times x for HardSwish) */
        int sw = n->op == TT_GOP_HARD_SWISH;
        double alpha = sw ? 1.0 / 6 : tt_node_float(n, "alpha", 0.2);
        double beta = sw ? 0.5 : tt_node_float(n, "beta", 0.5);
        int a = kb_operand(K, n->in[0], out);
        if (a < 0)
            return -1;
        int m = tt_dag_ew_binary(d, TT_EW_MUL, a, tt_dag_const_scalar(d, alpha), K->err);
        int s = m < 0 ? -1 : tt_dag_ew_binary(d, TT_EW_ADD, m, tt_dag_const_scalar(d, beta), K->err);
        y = s < 0 ? -1 : tt_dag_ew_unary(d, TT_EW_CLIP, s, 0.0, 1.0, K->err);
        if (sw && y >= 0)
            y = tt_dag_ew_binary(d, TT_EW_MUL, a, y, K->err);
    }
    if (y < 0)
        return tt_err_set(K->err, "node '%s' (%s): not an elementwise op", n->name, opname);
    kb_bind(K, out, y);
    return y;
}

/* Conv weights OIHW -> HWIO ([KH,KW,CI/g,CO]); depthwise -> [KH,KW,C,M]. */
static int conv_weight(tt_graph *g, int w, int depthwise, int64_t mult)
{
    const tt_tensor *W = &g->tensors[w];
    int64_t O = W->shape[0], I = W->shape[1], KH = W->shape[2], KW = W->shape[3];
    const float *s = W->data;
    float *p = tt_xmalloc((size_t)(O * I * KH * KW) * sizeof *p);
    int64_t shp[4];
    if (depthwise) {
        int64_t C = O / mult;
        shp[0] = KH, shp[1] = KW, shp[2] = C, shp[3] = mult;
        for (int64_t c = 0; c < C; c++)
            for (int64_t m = 0; m < mult; m++)
                for (int64_t h = 0; h < KH; h++)
                    for (int64_t x = 0; x < KW; x++)
                        p[((h * KW + x) * C + c) * mult + m] = s[((c * mult + m) * KH + h) * KW + x];
    } else {
        shp[0] = KH, shp[1] = KW, shp[2] = I, shp[3] = O;
        for (int64_t o = 0; o < O; o++)
            for (int64_t i = 0; i < I; i++)
                for (int64_t h = 0; h < KH; h++)
                    for (int64_t x = 0; x < KW; x++)
                        p[((h * KW + x) * I + i) * O + o] = s[((o * I + i) * KH + h) * KW + x];
    }
    char base[200];
    snprintf(base, sizeof base, "%.150s_hwio", W->name);
    return mp_new_const(g, base, 4, shp, p);
}

static int ints_attr(const tt_node *n, const char *name, int count, int64_t *v, int64_t dflt)
{
    const tt_attr *a = tt_node_attr(n, name);
    for (int i = 0; i < count; i++)
        v[i] = dflt;
    if (!a || a->kind != TT_ATTR_INTS)
        return 0;
    if (a->n != count)
        return -1;
    memcpy(v, a->ints, (size_t)count * sizeof *v);
    return 0;
}

/* ---- anchors: one builder per anchor op ---------------------------------------
 * A builder starts the kernel's DAG (K->d) at anchor node ai, makes the
 * anchor's inputs kernel arguments, and returns the DAG uid of the anchor's
 * result, or -1: with K->err set, or unset for kb_anchor's "cannot build".
 * Builders marked open in anchor_ops get an empty DAG from kb_anchor and add
 * their stages to it. */

/* Conv strides, dilations and pads into p, auto_pad SAME_* / VALID applied
 * (ONNX: output = ceil(in / stride)).  Needs p's input and kernel sizes;
 * 0, or -1 with err set for a malformed attribute. */
static int conv_window(const tt_node *n, tt_conv2d_params *p, tt_err *err)
{
    int64_t st[2], dl[2], pd[4];
    if (ints_attr(n, "strides", 2, st, 1) || ints_attr(n, "dilations", 2, dl, 1) ||
        ints_attr(n, "pads", 4, pd, 0))
        return tt_err_set(err, "node '%s' (Conv): bad strides, dilations or pads", n->name);
    p->stride_h = st[0], p->stride_w = st[1], p->dil_h = dl[0], p->dil_w = dl[1];
    p->pad_t = pd[0], p->pad_l = pd[1], p->pad_b = pd[2], p->pad_r = pd[3];
    const tt_attr *ap = tt_node_attr(n, "auto_pad");
    if (ap && ap->kind == TT_ATTR_STRING && !strncmp(ap->s, "SAME", 4)) {
        /* ONNX: output = ceil(in / stride); the odd pixel goes at the end
         * (SAME_UPPER) or the beginning (SAME_LOWER) */
        int64_t in[2] = {p->h, p->w}, k[2] = {p->kh, p->kw}, b[2], e[2];
        for (int q = 0; q < 2; q++) {
            int64_t o = (in[q] + st[q] - 1) / st[q];
            int64_t tot = (o - 1) * st[q] + (k[q] - 1) * dl[q] + 1 - in[q];
            tot = tot > 0 ? tot : 0;
            b[q] = strcmp(ap->s, "SAME_LOWER") ? tot / 2 : tot - tot / 2;
            e[q] = tot - b[q];
        }
        p->pad_t = b[0], p->pad_l = b[1], p->pad_b = e[0], p->pad_r = e[1];
    } else if (ap && ap->kind == TT_ATTR_STRING && !strcmp(ap->s, "VALID")) {
        p->pad_t = p->pad_l = p->pad_b = p->pad_r = 0;
    }
    return 0;
}

/* Conv: 2-D only, constant weights, NHWC input (after the layout pass).
 * Arguments: the input, the weights reordered to HWIO (depthwise
 * [KH,KW,C,M]); a bias is a T_add of a [1,1,1,CO] placeholder. */
static int anchor_conv(kb *K, int ai)
{
    tt_graph *g = K->g;
    const tt_node *n = &g->nodes[ai];
    tt_err *err = K->err;
    const tt_tensor *X = &g->tensors[n->in[0]], *W = &g->tensors[n->in[1]];
    if (X->layout != TT_LAYOUT_NHWC || W->ndim != 4 || !W->data)
        return tt_err_set(err, "node '%s' (Conv): only 2-D convolutions with constant weights",
                          n->name);
    tt_conv2d_params p = {0};
    p.n = X->shape[0], p.h = X->shape[1], p.w = X->shape[2], p.ci = X->shape[3];
    p.kh = W->shape[2], p.kw = W->shape[3], p.co = W->shape[0];
    if (conv_window(n, &p, err))
        return -1;
    p.groups = tt_node_int(n, "group", 1);
    int dw = p.groups > 1 && p.groups == p.ci;
    int64_t mult = dw ? p.co / p.ci : 1;
    if (dw)
        p.depthwise = 1;
    K->d = tt_build_conv2d_nhwc(&p, NULL, err);
    if (!K->d)
        return -1;
    int wt = conv_weight(g, n->in[1], dw, mult);
    K->args[K->nargs++] = g->nodes[ai].in[0];
    K->args[K->nargs++] = wt;
    int y = tt_dag_output(K->d);
    if (g->nodes[ai].nin >= 3 && g->nodes[ai].in[2] >= 0) {
        /* bias: T_add with a [1,1,1,CO] constant (Relay's bias_add after layout change) */
        int b = g->nodes[ai].in[2];
        int64_t bs[4] = {1, 1, 1, p.co};
        int u = kb_placeholder(K, b, "bias", 4, bs);
        if (u < 0)
            return -1;
        y = tt_dag_ew_binary(K->d, TT_EW_ADD, y, u, err);
    }
    return y;
}

/* tt.Dense: [M,K] x [N,K]^T with M every leading axis of the input; a graph
 * output of rank other than 2 is a reshaped frame. */
static int anchor_dense(kb *K, int ai)
{
    tt_graph *g = K->g;
    const tt_node *n = &g->nodes[ai];
    const tt_tensor *X = &g->tensors[n->in[0]], *W = &g->tensors[n->in[1]];
    const tt_tensor *O = &g->tensors[n->out[0]];
    int64_t N = W->shape[0], Kd = W->shape[1], M = tt_tensor_numel(X) / Kd;
    K->d = tt_build_dense(M, N, Kd, NULL, K->err);
    if (!K->d)
        return -1;
    K->args[K->nargs++] = n->in[0];
    K->args[K->nargs++] = n->in[1];
    K->frame_reshaped = O->ndim != 2;
    return tt_dag_output(K->d);
}

/* tt.BatchMatMul: [B,M,K] x [B,N,K]^T with B every axis before the last two;
 * a graph output of rank other than 3 is a reshaped frame. */
static int anchor_batch_matmul(kb *K, int ai)
{
    tt_graph *g = K->g;
    const tt_node *n = &g->nodes[ai];
    const tt_tensor *A = &g->tensors[n->in[0]], *B = &g->tensors[n->in[1]];
    const tt_tensor *O = &g->tensors[n->out[0]];
    int r = A->ndim;
    int64_t M = A->shape[r - 2], Kd = A->shape[r - 1], N = B->shape[r - 2];
    int64_t Bn = tt_tensor_numel(A) / (M * Kd);
    K->d = tt_build_batch_matmul(Bn, M, N, Kd, NULL, K->err);
    if (!K->d)
        return -1;
    K->args[K->nargs++] = n->in[0];
    K->args[K->nargs++] = n->in[1];
    K->frame_reshaped = O->ndim != 3;
    return tt_dag_output(K->d);
}

/* MaxPool / AveragePool on NHWC, no dilation; ceil_mode becomes extra
 * bottom / right padding, up to the output shape inference found. */
static int anchor_pool(kb *K, int ai)
{
    tt_graph *g = K->g;
    const tt_node *n = &g->nodes[ai];
    const tt_tensor *X = &g->tensors[n->in[0]], *O = &g->tensors[n->out[0]];
    tt_pool_params p = {0};
    p.kind = n->op == TT_GOP_MAX_POOL ? TT_POOL_MAX : TT_POOL_AVG;
    p.n = X->shape[0], p.h = X->shape[1], p.w = X->shape[2], p.c = X->shape[3];
    int64_t k[2], st[2], pd[4], dl[2];
    if (ints_attr(n, "kernel_shape", 2, k, 1) || ints_attr(n, "strides", 2, st, 1) ||
        ints_attr(n, "pads", 4, pd, 0) || ints_attr(n, "dilations", 2, dl, 1) || dl[0] != 1 ||
        dl[1] != 1)
        return tt_err_set(K->err, "node '%s' (%s): bad kernel_shape, strides or pads", n->name,
                          tt_gop_names[n->op]);
    p.kh = k[0], p.kw = k[1], p.stride_h = st[0], p.stride_w = st[1];
    p.pad_t = pd[0], p.pad_l = pd[1], p.pad_b = pd[2], p.pad_r = pd[3];
    p.count_include_pad = (int)tt_node_int(n, "count_include_pad", 0);
    /* ceil_mode: extra bottom/right padding up to the shape inference found */
    int64_t oh = O->shape[1], ow = O->shape[2];
    int64_t needh = (oh - 1) * st[0] + k[0] - (p.h + p.pad_t + p.pad_b);
    int64_t needw = (ow - 1) * st[1] + k[1] - (p.w + p.pad_l + p.pad_r);
    if (needh > 0)
        p.pad_b += needh;
    if (needw > 0)
        p.pad_r += needw;
    K->d = tt_build_pool2d_nhwc(&p, NULL, K->err);
    if (!K->d)
        return -1;
    K->args[K->nargs++] = n->in[0];
    return tt_dag_output(K->d);
}

/* GlobalAveragePool on NHWC. */
static int anchor_global_avg_pool(kb *K, int ai)
{
    tt_graph *g = K->g;
    const tt_node *n = &g->nodes[ai];
    const tt_tensor *X = &g->tensors[n->in[0]];
    K->d = tt_build_global_avg_pool_nhwc(X->shape[0], X->shape[1], X->shape[2], X->shape[3],
                                         NULL, K->err);
    if (!K->d)
        return -1;
    K->args[K->nargs++] = n->in[0];
    return tt_dag_output(K->d);
}

/* Softmax over the last axis only. */
static int anchor_softmax(kb *K, int ai)
{
    tt_graph *g = K->g;
    const tt_node *n = &g->nodes[ai];
    const tt_tensor *X = &g->tensors[n->in[0]];
    int64_t ax = tt_node_int(n, "axis", -1);
    if (ax < 0)
        ax += X->ndim;
    if (ax != X->ndim - 1)
        return tt_err_set(K->err, "node '%s' (Softmax): only the last axis is supported",
                          n->name);
    K->d = tt_build_softmax(X->ndim, X->shape, K->err);
    if (!K->d)
        return -1;
    K->args[K->nargs++] = n->in[0];
    return tt_dag_output(K->d);
}

/* LayerNormalization (open DAG) over the last axis, constant scale and bias. */
static int anchor_layer_norm(kb *K, int ai)
{
    tt_graph *g = K->g;
    const tt_node *n = &g->nodes[ai];
    tt_err *err = K->err;
    const tt_tensor *X = &g->tensors[n->in[0]];
    int64_t ax = tt_node_int(n, "axis", -1);
    if (ax != -1 && ax != X->ndim - 1)
        return tt_err_set(err, "node '%s' (LayerNormalization): only the last axis", n->name);
    if (n->nin < 3 || !mp_fdata(g, n->in[1]) || !mp_fdata(g, n->in[2]))
        return tt_err_set(err, "node '%s' (LayerNormalization): constant scale and bias "
                          "needed", n->name);
    int64_t k = X->shape[X->ndim - 1];
    int x = kb_placeholder(K, n->in[0], "data", X->ndim, X->shape);
    int ga = kb_placeholder(K, n->in[1], "gamma", 1, &k);
    int be = kb_placeholder(K, n->in[2], "beta", 1, &k);
    if (x < 0 || ga < 0 || be < 0)
        return -1;
    return tt_dag_layer_norm(K->d, x, ga, be, tt_node_float(n, "epsilon", 1e-5), err);
}

/* ReduceMean (open DAG) over its axes attribute (every axis without one),
 * normalized to [0, rank) and sorted. */
static int anchor_mean(kb *K, int ai)
{
    tt_graph *g = K->g;
    const tt_node *n = &g->nodes[ai];
    const tt_tensor *X = &g->tensors[n->in[0]];
    const tt_attr *a = tt_node_attr(n, "axes");
    int axes[TT_MAX_DIMS], na = 0;
    if (!a) {
        for (int i = 0; i < X->ndim; i++)
            axes[na++] = i;
    } else {
        for (int i = 0; i < a->n && i < TT_MAX_DIMS; i++)
            axes[na++] = (int)(a->ints[i] < 0 ? a->ints[i] + X->ndim : a->ints[i]);
    }
    for (int i = 1; i < na; i++) /* sort */
        for (int j = i; j > 0 && axes[j - 1] > axes[j]; j--) {
            int t = axes[j];
            axes[j] = axes[j - 1];
            axes[j - 1] = t;
        }
    int x = kb_placeholder(K, n->in[0], "data", X->ndim, X->shape);
    if (x < 0)
        return -1;
    return tt_dag_mean(K->d, x, na, axes, (int)tt_node_int(n, "keepdims", 1), K->err);
}

/* Concat (open DAG) of up to 64 inputs, each a placeholder of its own shape. */
static int anchor_concat(kb *K, int ai)
{
    tt_graph *g = K->g;
    const tt_node *n = &g->nodes[ai];
    const tt_tensor *O = &g->tensors[n->out[0]];
    int xs[64];
    if (n->nin > 64)
        return tt_err_set(K->err, "node '%s' (Concat): too many inputs", n->name);
    for (int i = 0; i < n->nin; i++) {
        const tt_tensor *X = &g->tensors[n->in[i]];
        xs[i] = kb_placeholder(K, n->in[i], "input", X->ndim, X->shape);
        if (xs[i] < 0)
            return -1;
    }
    int64_t ax = tt_node_int(n, "axis", 0);
    if (ax < 0)
        ax += O->ndim;
    return tt_dag_concat(K->d, n->nin, xs, (int)ax, K->err);
}

/* Transpose (open DAG); no perm attribute reverses the axes, as ONNX says. */
static int anchor_transpose(kb *K, int ai)
{
    tt_graph *g = K->g;
    const tt_node *n = &g->nodes[ai];
    const tt_tensor *X = &g->tensors[n->in[0]];
    int perm[TT_MAX_DIMS];
    const tt_attr *a = tt_node_attr(n, "perm");
    for (int i = 0; i < X->ndim; i++)
        perm[i] = a && a->n == X->ndim ? (int)a->ints[i] : X->ndim - 1 - i;
    int x = kb_placeholder(K, n->in[0], "data", X->ndim, X->shape);
    if (x < 0)
        return -1;
    return tt_dag_transpose(K->d, x, perm, NULL, K->err);
}

/* tt.ChannelShuffle (open DAG) with its groups attribute. */
static int anchor_channel_shuffle(kb *K, int ai)
{
    tt_graph *g = K->g;
    const tt_node *n = &g->nodes[ai];
    const tt_tensor *X = &g->tensors[n->in[0]];
    int x = kb_placeholder(K, n->in[0], "data", X->ndim, X->shape);
    if (x < 0)
        return -1;
    return tt_dag_channel_shuffle(K->d, x, tt_node_int(n, "groups", 1), K->err);
}

/* The start and step of every axis of ONNX Slice node n on X (0 and 1 for
 * the axes it does not slice), from its int64 constant starts, axes and
 * steps; starts clamped as ONNX says.  0, or -1 with err set. */
static int slice_starts(const tt_graph *g, const tt_node *n, const tt_tensor *X, int64_t *start,
                        int64_t *step, tt_err *err)
{
    const tt_tensor *S = &g->tensors[n->in[1]];
    const tt_tensor *A = n->nin > 3 && n->in[3] >= 0 ? &g->tensors[n->in[3]] : NULL;
    const tt_tensor *P = n->nin > 4 && n->in[4] >= 0 ? &g->tensors[n->in[4]] : NULL;
    if (!S->data || S->dtype != TT_DT_INT64 || (A && (!A->data || A->dtype != TT_DT_INT64)) ||
        (P && (!P->data || P->dtype != TT_DT_INT64)))
        return tt_err_set(err, "node '%s' (Slice): starts, axes and steps must be "
                          "int64 constants", n->name);
    int64_t cnt = tt_tensor_numel(S);
    for (int64_t i = 0; i < cnt; i++) {
        int64_t ax = A ? ((int64_t *)A->data)[i] : i;
        if (ax < 0)
            ax += X->ndim;
        if (ax < 0 || ax >= X->ndim)
            return tt_err_set(err, "node '%s' (Slice): bad axis", n->name);
        int64_t s0 = ((int64_t *)S->data)[i], dim = X->shape[ax];
        int64_t sp = P ? ((int64_t *)P->data)[i] : 1;
        if (sp == 0)
            return tt_err_set(err, "node '%s' (Slice): step 0", n->name);
        if (s0 < 0)
            s0 += dim;
        /* ONNX clamps to [0, dim] going forward, [0, dim-1] going back */
        if (sp > 0)
            s0 = s0 < 0 ? 0 : s0 > dim ? dim : s0;
        else
            s0 = s0 < 0 ? 0 : s0 > dim - 1 ? dim - 1 : s0;
        start[ax] = s0;
        step[ax] = sp;
    }
    return 0;
}

/* Slice / tt.SliceAxis (open DAG): the output shape comes from shape
 * inference, the starts and steps from the node. */
static int anchor_slice(kb *K, int ai)
{
    tt_graph *g = K->g;
    const tt_node *n = &g->nodes[ai];
    const tt_tensor *X = &g->tensors[n->in[0]], *O = &g->tensors[n->out[0]];
    int64_t start[TT_MAX_DIMS], step[TT_MAX_DIMS];
    for (int i = 0; i < X->ndim; i++)
        start[i] = 0, step[i] = 1;
    if (n->op == TT_GOP_SLICE_AXIS) {
        start[tt_node_int(n, "axis", 0)] = tt_node_int(n, "start", 0);
    } else {
        /* the starts (clamped as ONNX says) of the sliced axes; the
         * output shape comes from shape inference */
        if (slice_starts(g, n, X, start, step, K->err))
            return -1;
    }
    int x = kb_placeholder(K, n->in[0], "data", X->ndim, X->shape);
    if (x < 0)
        return -1;
    return tt_dag_slice(K->d, x, start, step, O->shape, K->err);
}

/* Pad (open DAG): constant mode only, int64 constant pads (given in NCHW
 * axis order, permuted for an NHWC input), the value 0 if absent or NaN. */
static int anchor_pad(kb *K, int ai)
{
    tt_graph *g = K->g;
    const tt_node *n = &g->nodes[ai];
    tt_err *err = K->err;
    const tt_tensor *X = &g->tensors[n->in[0]];
    const tt_attr *mode = tt_node_attr(n, "mode");
    if (mode && (mode->kind != TT_ATTR_STRING || !mode->s || strcmp(mode->s, "constant")))
        return tt_err_set(err, "node '%s' (Pad): only constant mode", n->name);
    const tt_tensor *Pd = n->nin > 1 ? &g->tensors[n->in[1]] : NULL;
    if (!Pd || !Pd->data || Pd->dtype != TT_DT_INT64 || tt_tensor_numel(Pd) != 2 * X->ndim)
        return tt_err_set(err, "node '%s' (Pad): pads must be an int64 constant", n->name);
    int64_t before[TT_MAX_DIMS], after[TT_MAX_DIMS];
    const int64_t *pp = Pd->data;
    int r = X->ndim;
    /* pads are given in NCHW axis order; for NHWC inputs permute */
    int map[TT_MAX_DIMS];
    for (int i = 0; i < r; i++)
        map[i] = i;
    if (X->layout == TT_LAYOUT_NHWC)
        map[0] = 0, map[1] = 3, map[2] = 1, map[3] = 2;
    for (int i = 0; i < r; i++) {
        before[map[i]] = pp[i];
        after[map[i]] = pp[r + i];
    }
    double v = const_scalar(g, n->nin > 2 ? n->in[2] : -1, 0.0);
    int x = kb_placeholder(K, n->in[0], "data", X->ndim, X->shape);
    if (x < 0)
        return -1;
    return tt_dag_pad(K->d, x, before, after, isnan(v) ? 0.0 : v, err);
}

/* Logical (ONNX) axis i of a tensor of rank r -> its position in memory. */
static int phys_axis(const tt_tensor *t, int i)
{
    static const int nhwc[4] = {0, 3, 1, 2};
    return t->layout == TT_LAYOUT_NHWC && t->ndim == 4 ? nhwc[i] : i;
}

static const char *str_attr(const tt_node *n, const char *name, const char *dflt)
{
    const tt_attr *a = tt_node_attr(n, name);
    return a && a->kind == TT_ATTR_STRING && a->s ? a->s : dflt;
}

/* Resize, nearest or linear, in any of ONNX's coordinate modes but
 * tf_crop_and_resize and tf_half_pixel_for_nn: each resized axis's source
 * coordinate as a rational of the output index (tt_dag_resize). */
static int anchor_resize(kb *K, int ai)
{
    tt_graph *g = K->g;
    const tt_node *n = &g->nodes[ai];
    tt_err *err = K->err;
    const tt_tensor *X = &g->tensors[n->in[0]], *O = &g->tensors[n->out[0]];
    const char *mode = str_attr(n, "mode", "nearest"), *ct = str_attr(n, "coordinate_transformation_mode", "half_pixel");
    const char *nm = str_attr(n, "nearest_mode", "round_prefer_floor");
    int linear = !strcmp(mode, "linear");
    if ((!linear && strcmp(mode, "nearest")) || tt_node_int(n, "antialias", 0))
        return tt_err_set(err, "node '%s' (Resize): mode '%s'%s is not supported (nearest and linear are)", n->name,
                          mode, tt_node_int(n, "antialias", 0) ? " with antialias" : "");
    tt_rs_mode rm = linear                                 ? TT_RS_LINEAR
                    : !strcmp(nm, "floor")                 ? TT_RS_FLOOR
                    : !strcmp(nm, "ceil")                  ? TT_RS_CEIL
                    : !strcmp(nm, "round_prefer_ceil")     ? TT_RS_ROUND_PREFER_CEIL
                                                           : TT_RS_ROUND_PREFER_FLOOR;
    int sc = n->nin == 2 ? n->in[1] : n->nin > 2 ? n->in[2] : -1, sz = n->nin > 3 ? n->in[3] : -1;
    int by_size = sz >= 0 && tt_tensor_numel(&g->tensors[sz]) > 0;
    tt_resample_axis ax[TT_MAX_DIMS];
    int na = 0;
    for (int i = 0; i < X->ndim; i++) {
        int p = phys_axis(X, i);
        int64_t in = X->shape[p], out = O->shape[p];
        if (!by_size) {
            double f = ((const float *)g->tensors[sc].data)[i];
            if ((double)in * f != (double)out)
                return tt_err_set(err, "node '%s' (Resize): scale %g of axis %d (%lld) is not a whole number of "
                                       "elements; give sizes instead",
                                  n->name, f, i, (long long)in);
        }
        if (in == out)
            continue;
        tt_resample_axis *r = &ax[na++];
        r->axis = p, r->in = in, r->out = out, r->mode = rm;
        if (!strcmp(ct, "half_pixel") || !strcmp(ct, "pytorch_half_pixel")) {
            /* (o + 1/2) in / out - 1/2 */
            r->a = 2 * in, r->b = in - out, r->den = 2 * out;
            if (out == 1 && ct[0] == 'p')
                r->a = 0, r->b = 0, r->den = 1;
        } else if (!strcmp(ct, "align_corners")) {
            r->a = out > 1 ? in - 1 : 0, r->b = 0, r->den = out > 1 ? out - 1 : 1;
        } else if (!strcmp(ct, "asymmetric")) {
            r->a = in, r->b = 0, r->den = out;
        } else {
            return tt_err_set(err, "node '%s' (Resize): coordinate_transformation_mode '%s' is not supported", n->name,
                              ct);
        }
    }
    int x = kb_placeholder(K, n->in[0], "data", X->ndim, X->shape);
    if (x < 0)
        return -1;
    return tt_dag_resize(K->d, x, na, ax, err);
}

/* tt.Dilate (a transposed convolution's first step): strides per logical axis. */
static int anchor_dilate(kb *K, int ai)
{
    tt_graph *g = K->g;
    const tt_node *n = &g->nodes[ai];
    const tt_tensor *X = &g->tensors[n->in[0]];
    const tt_attr *a = tt_node_attr(n, "strides");
    if (!a || a->kind != TT_ATTR_INTS || a->n != X->ndim)
        return tt_err_set(K->err, "node '%s' (tt.Dilate): strides per axis needed", n->name);
    int64_t st[TT_MAX_DIMS];
    for (int i = 0; i < X->ndim; i++)
        st[phys_axis(X, i)] = a->ints[i];
    int x = kb_placeholder(K, n->in[0], "data", X->ndim, X->shape);
    if (x < 0)
        return -1;
    return tt_dag_dilate(K->d, x, st, K->err);
}

/* The anchor ops (classify's NC_ANCHOR) and their builders.  open: the
 * builder adds stages to an empty DAG kb_anchor makes; otherwise the
 * builder makes the whole DAG with a tt_build_* call. */
static const struct {
    int (*build)(kb *K, int ai);
    int open;
} anchor_ops[TT_GOP_COUNT] = {
    [TT_GOP_CONV] = {anchor_conv, 0},
    [TT_GOP_DENSE] = {anchor_dense, 0},
    [TT_GOP_BATCH_MATMUL] = {anchor_batch_matmul, 0},
    [TT_GOP_MAX_POOL] = {anchor_pool, 0},
    [TT_GOP_AVERAGE_POOL] = {anchor_pool, 0},
    [TT_GOP_GLOBAL_AVERAGE_POOL] = {anchor_global_avg_pool, 0},
    [TT_GOP_SOFTMAX] = {anchor_softmax, 0},
    [TT_GOP_LAYER_NORMALIZATION] = {anchor_layer_norm, 1},
    [TT_GOP_REDUCE_MEAN] = {anchor_mean, 1},
    [TT_GOP_CONCAT] = {anchor_concat, 1},
    [TT_GOP_TRANSPOSE] = {anchor_transpose, 1},
    [TT_GOP_CHANNEL_SHUFFLE] = {anchor_channel_shuffle, 1},
    [TT_GOP_SLICE] = {anchor_slice, 1},
    [TT_GOP_SLICE_AXIS] = {anchor_slice, 1},
    [TT_GOP_PAD] = {anchor_pad, 1},
    [TT_GOP_RESIZE] = {anchor_resize, 1},
    [TT_GOP_DILATE] = {anchor_dilate, 1},
};

/* Start the kernel with anchor node ai: its op's builder makes the DAG, then
 * the frame (the DAG output's shape) is recorded, the element count checked
 * against the graph's output tensor, and that tensor bound to the result.
 * Returns the result's uid, or -1 with K->err set. */
static int kb_anchor(kb *K, int ai)
{
    tt_graph *g = K->g;
    const tt_node *n = &g->nodes[ai];
    tt_err *err = K->err;
    int out = n->out[0];
    const char *op = tt_gop_names[n->op];
    int y = -1;
    K->frame_reshaped = 0;
    int (*build)(kb *K, int ai) = anchor_ops[n->op].build;
    /* an op without a builder gets an empty DAG and "cannot build" below */
    if (!build || anchor_ops[n->op].open)
        K->d = tt_dag_new();
    if (build)
        y = build(K, ai);
    if (y < 0)
        return err->set ? -1 : tt_err_set(err, "node '%s' (%s): cannot build", n->name, op);
    {
        tt_op *yo = tt_dag_op(K->d, y);
        K->dn = yo->ndim;
        for (int i = 0; i < yo->ndim; i++)
            K->dshape[i] = yo->axis[i].extent;
    }
    const tt_tensor *O = &g->tensors[out]; /* the tensor array may have moved (new weights) */
    if (!K->frame_reshaped && tt_tensor_numel(O) != tt_op_numel(tt_dag_op(K->d, y)))
        return tt_err_set(err, "node '%s' (%s): kernel output has %lld elements, the graph "
                          "says %lld", n->name, op, (long long)tt_op_numel(tt_dag_op(K->d, y)),
                          (long long)tt_tensor_numel(O));
    kb_bind(K, out, y);
    return y;
}

/* Kernel starting at an elementwise node: its activation inputs are
 * placeholders with their own shapes. */
static int kb_ew_start(kb *K, int ni)
{
    K->d = tt_dag_new();
    K->frame_reshaped = 0;
    int y = kb_ew(K, ni);
    if (y < 0)
        return -1;
    tt_op *yo = tt_dag_op(K->d, y);
    K->dn = yo->ndim;
    for (int i = 0; i < yo->ndim; i++)
        K->dshape[i] = yo->axis[i].extent;
    return y;
}

/* ---- grouping ----------------------------------------------------------------
 * Every step here is linear in the group's size and its tensors' users, not
 * in the graph's: a pass over the whole graph per group (dependences, users,
 * the next node to join, resetting flags) made a chain of n nodes cost n^2
 * (100,000 Relus: 24 s). */

typedef struct fz {
    tt_graph *g;
    int *group;      /* per node: group id or -1 */
    /* the live nodes that read tensor t < nt0, in node order, each once:
     * user[ustart[t] .. ustart[t + 1]) (the graph does not change here) */
    int *ustart, *user;
    /* the current group */
    int first;       /* its first node */
    char *dep;       /* per node: depends on node `first` (valid below dep_end) */
    int dep_end;
    char *in_group;  /* per tensor: produced inside the group */
    int *cand;       /* users of the group's tensors: the nodes that may join */
    int ncand, capcand;
} fz;

static void users_index(fz *F, int nt0)
{
    tt_graph *g = F->g;
    F->ustart = tt_xcalloc((size_t)nt0 + 2, sizeof *F->ustart);
    for (int pass = 0; pass < 2; pass++) {
        /* pass 0 counts into ustart[t + 2], pass 1 fills from ustart[t + 1] */
        for (int i = 0; i < g->nnodes; i++) {
            const tt_node *n = &g->nodes[i];
            for (int k = 0; k < n->nin && !n->dead; k++) {
                int t = n->in[k], dup = 0;
                for (int q = 0; q < k; q++)
                    dup |= n->in[q] == t;
                if (t < 0 || t >= nt0 || dup)
                    continue;
                if (pass == 0)
                    F->ustart[t + 2]++;
                else
                    F->user[F->ustart[t + 1]++] = i;
            }
        }
        for (int t = 0; pass == 0 && t < nt0; t++)
            F->ustart[t + 2] += F->ustart[t + 1];
        if (pass == 0)
            F->user = tt_xmalloc(((size_t)F->ustart[nt0 + 1] + 1) * sizeof *F->user);
    }
}

/* Whether node p is node `first` or downstream of it.  Computed in node
 * order up to p on demand: joining needs it only for the producers of
 * candidates' other inputs, which are near the group in a chain. */
static int depends(fz *F, int p)
{
    tt_graph *g = F->g;
    if (p < F->first)
        return 0;
    for (; F->dep_end <= p; F->dep_end++) {
        int j = F->dep_end;
        const tt_node *n = &g->nodes[j];
        F->dep[j] = j == F->first;
        for (int k = 0; k < n->nin && !F->dep[j] && !n->dead; k++) {
            int t = n->in[k];
            int q = t >= 0 ? g->tensors[t].producer : -1;
            if (q >= F->first && q < j && F->dep[q])
                F->dep[j] = 1;
        }
    }
    return F->dep[p];
}

/* Tensor t (< nt0) joins the group: its readers become candidates. */
static void enter_tensor(fz *F, int t)
{
    F->in_group[t] = 1;
    int nu = F->ustart[t + 1] - F->ustart[t];
    if (F->ncand + nu > F->capcand) {
        F->capcand = 2 * (F->ncand + nu);
        F->cand = tt_xrealloc(F->cand, (size_t)F->capcand * sizeof *F->cand);
    }
    if (nu > 0)
        memcpy(F->cand + F->ncand, F->user + F->ustart[t], (size_t)nu * sizeof *F->cand);
    F->ncand += nu;
}

static int same_shape(const tt_tensor *a, const tt_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

/* Can elementwise node j join the group whose tensors are in_group and
 * whose current output is `out`? */
static int can_join(fz *F, int j, int out)
{
    tt_graph *g = F->g;
    const tt_node *n = &g->nodes[j];
    if (n->dead || F->group[j] >= 0 || classify(g, n) != NC_EW || n->nout != 1)
        return 0;
    if (!same_shape(&g->tensors[n->out[0]], &g->tensors[out]))
        return 0;
    int reads = 0;
    for (int k = 0; k < n->nin; k++) {
        int t = n->in[k];
        if (t < 0)
            continue;
        if (F->in_group[t]) {
            reads = 1;
            continue;
        }
        int p = g->tensors[t].producer;
        if (p >= 0 && !g->tensors[t].data && depends(F, p))
            return 0; /* depends on the group: joining would make a cycle */
    }
    return reads;
}

/* Grow group gid from node i (an anchor or an elementwise node no group
 * took) into members[]: the node after i that can join, lowest first (only
 * readers of the group's tensors can), while there is one and the group
 * has fewer than FUSE_MAX_NODES; then cut back until every member's output
 * but the last is read only inside the group.  Returns the member count. */
static int grow_group(fz *F, int i, int gid, int *members)
{
    tt_graph *g = F->g;
    int nm = 0;
    members[nm++] = i;
    F->group[i] = gid;
    F->first = F->dep_end = i;
    F->ncand = 0;
    int out = g->nodes[i].out[0];
    enter_tensor(F, out);
    while (nm < FUSE_MAX_NODES && !g->tensors[out].is_output) {
        int pick = -1;
        for (int c = 0; c < F->ncand; c++) {
            int j = F->cand[c];
            if (j > i && (pick < 0 || j < pick) && can_join(F, j, out))
                pick = j;
        }
        if (pick < 0)
            break;
        members[nm++] = pick;
        F->group[pick] = gid;
        out = g->nodes[pick].out[0];
        enter_tensor(F, out);
    }
    /* the group's flags back to clear for the next one */
    for (int k = 0; k < nm; k++)
        F->in_group[g->nodes[members[k]].out[0]] = 0;
    memset(F->dep + i, 0, (size_t)(F->dep_end - i));
    for (;;) {
        int bad = 0;
        for (int k = 0; k < nm - 1 && !bad; k++) {
            int t = g->nodes[members[k]].out[0];
            bad = g->tensors[t].is_output;
            for (int u = F->ustart[t]; u < F->ustart[t + 1] && !bad; u++)
                bad = F->group[F->user[u]] != gid;
        }
        if (!bad)
            return nm;
        F->group[members[--nm]] = -1;
    }
}

/* Winograd twins of the direct 3x3 stride-1 convs (TT_WINOGRAD_TILES), after
 * every direct kernel; none with $TT_WINOGRAD=0. */
static void add_winograd_twins(tt_model *m)
{
    const char *wv = getenv("TT_WINOGRAD");
    if (wv && !strcmp(wv, "0"))
        return;
    int ndirect = m->nkernels;
    for (int k = 0; k < ndirect; k++) {
        for (int i = 0; i < TT_WINOGRAD_NTILES; i++) {
            tt_err terr = {0};
            tt_dag *t = tt_dag_winograd_twin(m->kernels[k].dag, TT_WINOGRAD_TILES[i], &terr);
            if (!t)
                break;
            m->kernels = tt_xrealloc(m->kernels, (size_t)(m->nkernels + 1) * sizeof *m->kernels);
            tt_kernel *kn = &m->kernels[m->nkernels];
            *kn = m->kernels[k];
            kn->dag = t;
            kn->workload_key = tt_dag_workload_key(t);
            kn->nalt = 0;
            kn->alt_of = k;
            kn->wino_m = TT_WINOGRAD_TILES[i];
            m->kernels[k].alts[m->kernels[k].nalt++] = m->nkernels++;
        }
    }
}

/* The kernel of DAG d (taken): an existing one with d's workload key, one
 * more call of it, or a new one first called at node `first`. */
static int add_kernel(tt_model *m, tt_dag *d, const char *first)
{
    char *key = tt_dag_workload_key(d);
    for (int k = 0; k < m->nkernels; k++)
        if (!strcmp(m->kernels[k].workload_key, key)) {
            free(key);
            tt_dag_free(d);
            m->kernels[k].weight++;
            return k;
        }
    m->kernels = tt_xrealloc(m->kernels, (size_t)(m->nkernels + 1) * sizeof *m->kernels);
    tt_kernel *kn = &m->kernels[m->nkernels];
    memset(kn, 0, sizeof *kn);
    kn->dag = d;
    kn->workload_key = key;
    kn->weight = 1;
    kn->nalt = 0;
    kn->alt_of = -1;
    kn->wino_m = 0;
    snprintf(kn->first_node, sizeof kn->first_node, "%s", first);
    return m->nkernels++;
}

/* Every call reads only what earlier calls wrote (or inputs, constants). */
static int check_call_order(const tt_model *m, tt_err *err)
{
    const tt_graph *g = m->g;
    char *ready = tt_xcalloc((size_t)g->ntensors, 1);
    for (int t = 0; t < g->ntensors; t++)
        ready[t] = g->tensors[t].data || g->tensors[t].is_input;
    int rc = 0;
    for (int c = 0; c < m->ncalls && rc == 0; c++) {
        const tt_mcall *mc = &m->calls[c];
        for (int a = 0; a + 1 < mc->nargs && rc == 0; a++)
            if (!ready[m->alias_of[mc->args[a]]])
                rc = tt_err_set(err, "internal error: call %d (node '%s') reads '%s' before it is "
                                "computed", c, g->nodes[mc->node].name,
                                g->tensors[mc->args[a]].name);
        ready[m->alias_of[mc->args[mc->nargs - 1]]] = 1;
    }
    free(ready);
    return rc;
}

static int call_cmp(const void *a, const void *b)
{
    int x = ((const tt_mcall *)a)->last_node, y = ((const tt_mcall *)b)->last_node;
    return (x > y) - (x < y);
}

/* The DAG of the group of node i (members[0..*nm), grown by grow_group)
 * into K: an epilogue op that cannot be expressed ends the group before it
 * (*nm shrinks, the rest ungrouped).  0, or -1 with err. */
static int build_group(fz *F, int i, const int *members, int *nm, kb *K, tt_err *err)
{
    tt_graph *g = F->g;
    tt_err kerr = {0};
    for (;;) {
        const tt_node *n = &g->nodes[i];
        memset(K, 0, sizeof *K);
        K->g = g;
        K->err = &kerr;
        tt_err_clear(&kerr);
        int y = classify(g, n) == NC_ANCHOR ? kb_anchor(K, i) : kb_ew_start(K, i);
        if (y < 0) {
            tt_dag_free(K->d);
            return tt_err_set(err, "%s", kerr.msg);
        }
        int k;
        for (k = 1; k < *nm; k++)
            if (kb_ew(K, members[k]) < 0)
                break;
        if (k < *nm) {
            tt_dag_free(K->d);
            for (int q = k; q < *nm; q++)
                F->group[members[q]] = -1;
            *nm = k;
            continue;
        }
        n = &g->nodes[i]; /* weights may have been added */
        if (tt_dag_finish(K->d, &kerr)) {
            tt_dag_free(K->d);
            return tt_err_set(err, "node '%s' (%s): %s", n->name, tt_gop_names[n->op], kerr.msg);
        }
        return 0;
    }
}

/* Fuse the live nodes of m->g (after the passes) into m's kernels and
 * calls, as the header of this file says; calls in execution order, each
 * reading only what an earlier one wrote.  Time linear in the graph for
 * chains (grouping above).  Returns 0, or -1 with err. */
int mp_fuse(tt_model *m, tt_err *err)
{
    tt_graph *g = m->g;
    int nn = g->nnodes, nt0 = g->ntensors; /* kernels add weight tensors; none is a node output */
    fz F = {.g = g, .group = tt_xmalloc((size_t)(nn ? nn : 1) * sizeof(int)),
            .dep = tt_xcalloc((size_t)nn + 1, 1), .in_group = tt_xcalloc((size_t)nt0 + 1, 1)};
    for (int i = 0; i < nn; i++)
        F.group[i] = -1;
    users_index(&F, nt0);
    m->alias_of = tt_xmalloc((size_t)g->ntensors * sizeof *m->alias_of);
    for (int t = 0; t < g->ntensors; t++)
        m->alias_of[t] = t;
    int capc = 16, rc = 0, ngroups = 0;
    m->calls = tt_xmalloc((size_t)capc * sizeof *m->calls);
    int members[FUSE_MAX_NODES];
    for (int i = 0; i < nn && rc == 0; i++) {
        tt_node *n = &g->nodes[i];
        if (n->dead || F.group[i] >= 0)
            continue;
        const char *op = tt_gop_names[n->op];
        ncls c = classify(g, n);
        if (c == NC_NONE) {
            rc = tt_err_set(err, "unsupported operator '%s' (node '%s'%s; the supported ones: docs/cli.md, \"ONNX "
                                 "support\")",
                            op, n->name, touches_nonfloat(g, n) ? ", on integer or boolean tensors" : "");
            break;
        }
        if (c == NC_ALIAS) {
            if (tt_tensor_numel(&g->tensors[n->out[0]]) != tt_tensor_numel(&g->tensors[n->in[0]])) {
                rc = tt_err_set(err, "node '%s' (%s): output size differs from input size",
                                n->name, op);
                break;
            }
            m->alias_of[n->out[0]] = m->alias_of[n->in[0]];
            continue;
        }
        if (m->ncalls == capc) {
            capc *= 2;
            m->calls = tt_xrealloc(m->calls, (size_t)capc * sizeof *m->calls);
        }
        tt_mcall *call = &m->calls[m->ncalls];
        memset(call, 0, sizeof *call);
        call->node = i;
        call->last_node = i;
        if (c == NC_GATHER) {
            call->kind = TT_MCALL_GATHER;
            call->nargs = 3;
            call->args[0] = n->in[0];
            call->args[1] = n->in[1];
            call->args[2] = n->out[0];
            F.group[i] = ngroups++;
            m->ncalls++;
            continue;
        }
        if (c == NC_HOST) {
            /* its present inputs in order, then its output */
            call->kind = TT_MCALL_HOST;
            for (int a = 0; a < n->nin; a++)
                if (n->in[a] >= 0)
                    call->args[call->nargs++] = n->in[a];
            call->args[call->nargs++] = n->out[0];
            F.group[i] = ngroups++;
            m->ncalls++;
            continue;
        }
        int gid = ngroups++;
        int nm = grow_group(&F, i, gid, members);
        kb K;
        if (build_group(&F, i, members, &nm, &K, err)) {
            rc = -1;
            break;
        }
        /* the current node pointer may be stale (weights were added) */
        n = &g->nodes[i];
        int gout = g->nodes[members[nm - 1]].out[0];
        call->kind = TT_MCALL_KERNEL;
        call->nargs = K.nargs + 1;
        memcpy(call->args, K.args, (size_t)K.nargs * sizeof *K.args);
        call->args[K.nargs] = gout;
        call->kernel = add_kernel(m, K.d, n->name);
        call->last_node = members[nm - 1];
        m->ncalls++;
    }
    /* A group runs when its last node would: an epilogue may read an
     * activation produced after the anchor (a residual from a later branch),
     * and every producer group ends before that node (its output is read
     * outside it, so it is its last node's output).  No two calls have
     * the same last node. */
    qsort(m->calls, (size_t)m->ncalls, sizeof *m->calls, call_cmp);
    if (rc == 0)
        add_winograd_twins(m);
    m->alias_of = tt_xrealloc(m->alias_of, (size_t)g->ntensors * sizeof *m->alias_of);
    for (int t = nt0; t < g->ntensors; t++)
        m->alias_of[t] = t;
    if (rc == 0)
        rc = check_call_order(m, err);
    free(F.group);
    free(F.dep);
    free(F.in_group);
    free(F.ustart);
    free(F.user);
    free(F.cand);
    return rc;
}
