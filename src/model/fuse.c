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

#include "fuse_int.h"

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

int kb_placeholder(kb *K, int t, const char *name, int ndim, const int64_t *shape)
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

double kb_const_scalar(const tt_graph *g, int t, double dflt)
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
        double lo = kb_const_scalar(g, n->nin > 1 ? n->in[1] : -1, -FLT_MAX);
        double hi = kb_const_scalar(g, n->nin > 2 ? n->in[2] : -1, FLT_MAX);
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
    int open = 0;
    mp_anchor_fn build = mp_anchor_builder(n->op, &open);
    /* an op without a builder gets an empty DAG and "cannot build" below */
    if (!build || open)
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
