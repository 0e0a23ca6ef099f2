/* infer.c - shape and type inference for the model graph (see graph.h).
 *
 * One rule per ONNX operator, in a table indexed by the node's tt_gop.  A rule reads
 * its inputs' dtypes and shapes (and, where ONNX makes an output shape depend
 * on a tensor's *value* - Reshape's shape, Slice's starts, Range's limits -
 * the constant data of that input), checks them, and writes every output's
 * dtype and shape.  Rules follow the opset-13 forms of the operators (the
 * importer normalizes older forms), and also accept the attribute forms of
 * Squeeze/Unsqueeze/Split/Pad/ReduceSum axes that builders may use.
 *
 * Sizes are bounded: every dimension and every tensor's element count must
 * stay below 2^32, so that no later arithmetic on shapes can overflow and a
 * corrupt model cannot ask for an absurd allocation.
 *
 * Side effect on attributes: a Conv, MaxPool or AveragePool node with
 * auto_pad SAME_UPPER/SAME_LOWER/VALID gets its padding resolved into an
 * explicit "pads" attribute and auto_pad "NOTSET", so that later passes read
 * one form only.
 *
 * Integer attributes are read with iattr(), which treats a non-INT attribute
 * as absurd (INT64_MIN) instead of converting a float that may not fit.
 *
 * This file holds the helpers every rule uses, the rule table and the
 * driver; the rules themselves are in infer_ops.c (elementwise, convolution,
 * pooling, normalization, matrix products) and infer_shape.c (data movement,
 * reductions, constants), declared in infer_int.h.
 */
#include "graph.h"
#define TT_INFER_RULES /* the short names of infer_int.h */
#include "infer_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tt_infer_node_err(tt_err *err, const tt_node *nd, const char *fmt, va_list ap)
{
    char msg[TT_ERR_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return tt_err_set(err, "node '%s' (%s): %s", nd->name, tt_gop_names[nd->op], msg);
}

const tt_tensor *tt_infer_input(const tt_graph *g, const tt_node *nd, int i)
{
    if (i >= nd->nin || nd->in[i] < 0)
        return NULL;
    return &g->tensors[nd->in[i]];
}

__attribute__((format(printf, 2, 3))) int nerr(ictx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = tt_infer_node_err(c->err, c->nd, fmt, ap);
    va_end(ap);
    return rc;
}

/* Input i, or NULL when omitted or beyond the node's inputs. */
const tt_tensor *in_t(ictx *c, int i) { return tt_infer_input(c->g, c->nd, i); }

int64_t tt_infer_iattr(const tt_node *nd, const char *name, int64_t dflt)
{
    const tt_attr *a = tt_node_attr(nd, name);
    if (!a)
        return dflt;
    return a->kind == TT_ATTR_INT ? a->i : INT64_MIN;
}

int is_num(tt_dtype t)
{
    return t == TT_DT_FLOAT || t == TT_DT_INT32 || t == TT_DT_INT64;
}

void shape_str(char *buf, size_t cap, int ndim, const int64_t *s)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, cap - k, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? "," : "", (long long)s[i]);
    if (k < cap)
        snprintf(buf + k, cap - k, "]");
}

/* Write output k's type and shape, checking the size bounds. */
int set_out(ictx *c, int k, tt_dtype dt, int ndim, const int64_t *shape)
{
    if (k >= c->nd->nout || c->nd->out[k] < 0)
        return 0;
    if (ndim < 0 || ndim > MAXD)
        return nerr(c, "output rank %d is out of range (at most %d)", ndim, MAXD);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return nerr(c, "output dimension %d is negative (%lld)", i, (long long)shape[i]);
        if (shape[i] > INF_MAX_NUMEL || (shape[i] && n > INF_MAX_NUMEL / shape[i]))
            return nerr(c, "output has more than 2^32 elements");
        n *= shape[i];
    }
    tt_tensor *t = &c->g->tensors[c->nd->out[k]];
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < MAXD; i++)
        t->shape[i] = i < ndim ? shape[i] : -1;
    return 0;
}

int same_out(ictx *c, int k, const tt_tensor *x)
{
    return set_out(c, k, x->dtype, x->ndim, x->shape);
}

/* Normalize an axis in [-r, r-1]; -1 with err when out of range. */
int norm_axis(ictx *c, int64_t axis, int rank, const char *what)
{
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank) {
        nerr(c, "%s %lld is out of range for rank %d", what, (long long)axis, rank);
        return -1;
    }
    return (int)a;
}

/* ---- attribute and constant-input readers ------------------------------------ */

/* An INTS attribute with exactly `count` values in [lo, hi]; dflt fills an
 * absent one.  Returns 1 if present, 0 if defaulted, -1 on error. */
int attr_ints(ictx *c, const char *name, int count, int64_t dflt, int64_t lo, int64_t hi,
              int64_t *out)
{
    const tt_attr *a = tt_node_attr(c->nd, name);
    if (!a) {
        for (int i = 0; i < count; i++)
            out[i] = dflt;
        return 0;
    }
    if (a->kind != TT_ATTR_INTS)
        return nerr(c, "attribute '%s' must be a list of ints", name);
    if (a->n != count)
        return nerr(c, "attribute '%s' has %d values, expected %d", name, a->n, count);
    for (int i = 0; i < count; i++) {
        if (a->ints[i] < lo || a->ints[i] > hi)
            return nerr(c, "attribute '%s' value %lld is out of range [%lld, %lld]", name,
                        (long long)a->ints[i], (long long)lo, (long long)hi);
        out[i] = a->ints[i];
    }
    return 1;
}

const char *attr_str(const tt_node *nd, const char *name, const char *dflt)
{
    const tt_attr *a = tt_node_attr(nd, name);
    return a && a->kind == TT_ATTR_STRING ? a->s : dflt;
}

/* Read a constant integer input (rank 0 or 1, int64 or int32) into vals (at
 * most max values).  `what` names it in messages.  Returns the count, -1 on
 * error. */
int const_ints(ictx *c, int i, const char *what, int64_t *vals, int max)
{
    const tt_tensor *t = in_t(c, i);
    if (!t)
        return nerr(c, "missing input %d (%s)", i, what);
    if (!t->data)
        return nerr(c, "%s '%s' must be a constant; it is computed at run time", what, t->name);
    if (t->dtype != TT_DT_INT64 && t->dtype != TT_DT_INT32)
        return nerr(c, "%s '%s' must be int64, not %s", what, t->name, tt_dtype_name(t->dtype));
    if (t->ndim > 1)
        return nerr(c, "%s '%s' must be 1-D, has rank %d", what, t->name, t->ndim);
    int64_t n = tt_tensor_numel(t);
    if (n < 0 || n > max)
        return nerr(c, "%s '%s' has %lld values, at most %d allowed", what, t->name, (long long)n,
                    max);
    for (int64_t k = 0; k < n; k++)
        vals[k] = t->dtype == TT_DT_INT64 ? ((const int64_t *)t->data)[k]
                                          : ((const int32_t *)t->data)[k];
    return (int)n;
}

/* A constant scalar (one element) as a double; for Range. */
int const_scalar(ictx *c, int i, const char *what, double *v)
{
    const tt_tensor *t = in_t(c, i);
    if (!t)
        return nerr(c, "missing input %d (%s)", i, what);
    if (!t->data)
        return nerr(c, "%s '%s' must be a constant; it is computed at run time", what, t->name);
    if (tt_tensor_numel(t) != 1)
        return nerr(c, "%s '%s' must be a scalar", what, t->name);
    switch (t->dtype) {
    case TT_DT_FLOAT: *v = ((const float *)t->data)[0]; break;
    case TT_DT_INT64: *v = (double)((const int64_t *)t->data)[0]; break;
    case TT_DT_INT32: *v = ((const int32_t *)t->data)[0]; break;
    default: return nerr(c, "%s '%s' has unsupported type %s", what, t->name, tt_dtype_name(t->dtype));
    }
    if (!isfinite(*v))
        return nerr(c, "%s '%s' is not finite", what, t->name);
    return 0;
}

/* Axes from input `i` if present, else attribute "axes"; normalized against
 * `rank`, checked unique.  Returns the count (-2 when neither is given), -1
 * on error. */
int read_axes(ictx *c, int i, int rank, int64_t *axes)
{
    int n;
    if (in_t(c, i)) {
        n = const_ints(c, i, "axes", axes, MAXD);
        if (n < 0)
            return -1;
    } else {
        const tt_attr *a = tt_node_attr(c->nd, "axes");
        if (!a)
            return -2;
        if (a->kind != TT_ATTR_INTS)
            return nerr(c, "attribute 'axes' must be a list of ints");
        if (a->n > MAXD)
            return nerr(c, "attribute 'axes' has %d values (at most %d)", a->n, MAXD);
        n = a->n;
        memcpy(axes, a->ints, (size_t)n * sizeof *axes);
    }
    for (int k = 0; k < n; k++) {
        int ax = norm_axis(c, axes[k], rank, "axis");
        if (ax < 0)
            return -1;
        axes[k] = ax;
        for (int j = 0; j < k; j++)
            if (axes[j] == ax)
                return nerr(c, "axis %d is repeated", ax);
    }
    return n;
}

/* ---- broadcasting ------------------------------------------------------------ */

/* numpy (multidirectional) broadcasting of b into the running shape out. */
int bcast2(ictx *c, int *on, int64_t *os, const tt_tensor *b)
{
    int r = *on > b->ndim ? *on : b->ndim;
    int64_t res[MAXD];
    for (int i = 0; i < r; i++) {
        int ia = i - (r - *on), ib = i - (r - b->ndim);
        int64_t da = ia >= 0 ? os[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da == db || db == 1)
            res[i] = da;
        else if (da == 1)
            res[i] = db;
        else {
            char sa[128], sb[128];
            shape_str(sa, sizeof sa, *on, os);
            shape_str(sb, sizeof sb, b->ndim, b->shape);
            return nerr(c, "shapes %s and %s (input '%s') do not broadcast", sa, sb, b->name);
        }
    }
    *on = r;
    memcpy(os, res, (size_t)r * sizeof *res);
    return 0;
}

/* Can b be broadcast *to* shape (n, s) (ONNX unidirectional)? */
int unidir(ictx *c, int n, const int64_t *s, const tt_tensor *b, const char *what)
{
    int ok = b->ndim <= n;
    for (int i = 0; ok && i < b->ndim; i++) {
        int64_t db = b->shape[b->ndim - 1 - i], da = s[n - 1 - i];
        ok = db == da || db == 1;
    }
    if (!ok) {
        char sa[128], sb[128];
        shape_str(sa, sizeof sa, n, s);
        shape_str(sb, sizeof sb, b->ndim, b->shape);
        return nerr(c, "%s '%s' of shape %s does not broadcast to %s", what, b->name, sb, sa);
    }
    return 0;
}

/* ---- the rule table ------------------------------------------------------------- */

typedef struct rule {
    int (*fn)(ictx *c); /* NULL: no rule (the internal operators) */
    int min_in, max_in; /* input count bounds (max -1: any) */
    int max_out;        /* output count bound (-1: any) */
} rule;

static const rule rules[TT_GOP_COUNT] = {
    [TT_GOP_ABS] = {tt_infer_rule_unary_num, 1, 1, 1},
    [TT_GOP_ADD] = {tt_infer_rule_arith, 2, 2, 1},
    [TT_GOP_AND] = {tt_infer_rule_logic, 2, 2, 1},
    [TT_GOP_ARG_MAX] = {tt_infer_rule_argminmax, 1, 1, 1},
    [TT_GOP_ARG_MIN] = {tt_infer_rule_argminmax, 1, 1, 1},
    [TT_GOP_AVERAGE_POOL] = {tt_infer_rule_pool, 1, 1, 1},
    [TT_GOP_BATCH_NORMALIZATION] = {tt_infer_rule_batchnorm, 5, 5, 5},
    [TT_GOP_CAST] = {tt_infer_rule_cast, 1, 1, 1},
    [TT_GOP_CEIL] = {tt_infer_rule_unary_float, 1, 1, 1},
    [TT_GOP_CLIP] = {tt_infer_rule_clip, 1, 3, 1},
    [TT_GOP_CONCAT] = {tt_infer_rule_concat, 1, -1, 1},
    [TT_GOP_CONSTANT] = {tt_infer_rule_constant, 0, 0, 1},
    [TT_GOP_CONSTANT_OF_SHAPE] = {tt_infer_rule_constant_of_shape, 1, 1, 1},
    [TT_GOP_CONV] = {tt_infer_rule_conv, 2, 3, 1},
    [TT_GOP_CONV_TRANSPOSE] = {tt_infer_rule_conv_transpose, 2, 3, 1},
    [TT_GOP_COS] = {tt_infer_rule_unary_float, 1, 1, 1},
    [TT_GOP_DIV] = {tt_infer_rule_arith, 2, 2, 1},
    [TT_GOP_DROPOUT] = {tt_infer_rule_dropout, 1, 3, 2},
    [TT_GOP_EINSUM] = {tt_infer_rule_einsum, 1, 8, 1},
    [TT_GOP_ELU] = {tt_infer_rule_unary_float, 1, 1, 1},
    [TT_GOP_EQUAL] = {tt_infer_rule_cmp, 2, 2, 1},
    [TT_GOP_ERF] = {tt_infer_rule_unary_float, 1, 1, 1},
    [TT_GOP_EXP] = {tt_infer_rule_unary_float, 1, 1, 1},
    [TT_GOP_EXPAND] = {tt_infer_rule_expand, 2, 2, 1},
    [TT_GOP_FLATTEN] = {tt_infer_rule_flatten, 1, 1, 1},
    [TT_GOP_FLOOR] = {tt_infer_rule_unary_float, 1, 1, 1},
    [TT_GOP_GATHER] = {tt_infer_rule_gather, 2, 2, 1},
    [TT_GOP_GEMM] = {tt_infer_rule_gemm, 2, 3, 1},
    [TT_GOP_GLOBAL_AVERAGE_POOL] = {tt_infer_rule_global_pool, 1, 1, 1},
    [TT_GOP_GLOBAL_MAX_POOL] = {tt_infer_rule_global_pool, 1, 1, 1},
    [TT_GOP_GREATER] = {tt_infer_rule_cmp, 2, 2, 1},
    [TT_GOP_GREATER_OR_EQUAL] = {tt_infer_rule_cmp, 2, 2, 1},
    [TT_GOP_HARD_SIGMOID] = {tt_infer_rule_unary_float, 1, 1, 1},
    [TT_GOP_HARD_SWISH] = {tt_infer_rule_unary_float, 1, 1, 1},
    [TT_GOP_IDENTITY] = {tt_infer_rule_identity, 1, 1, 1},
    [TT_GOP_INSTANCE_NORMALIZATION] = {tt_infer_rule_instnorm, 3, 3, 1},
    [TT_GOP_LAYER_NORMALIZATION] = {tt_infer_rule_layernorm, 2, 3, 3},
    [TT_GOP_LEAKY_RELU] = {tt_infer_rule_unary_float, 1, 1, 1},
    [TT_GOP_LESS] = {tt_infer_rule_cmp, 2, 2, 1},
    [TT_GOP_LESS_OR_EQUAL] = {tt_infer_rule_cmp, 2, 2, 1},
    [TT_GOP_LOG] = {tt_infer_rule_unary_float, 1, 1, 1},
    [TT_GOP_LOG_SOFTMAX] = {tt_infer_rule_softmax, 1, 1, 1},
    [TT_GOP_MATMUL] = {tt_infer_rule_matmul, 2, 2, 1},
    [TT_GOP_MAX] = {tt_infer_rule_arith, 1, -1, 1},
    [TT_GOP_MAX_POOL] = {tt_infer_rule_pool, 1, 1, 2},
    [TT_GOP_MEAN] = {tt_infer_rule_arith, 1, -1, 1},
    [TT_GOP_MIN] = {tt_infer_rule_arith, 1, -1, 1},
    [TT_GOP_MOD] = {tt_infer_rule_arith, 2, 2, 1},
    [TT_GOP_MUL] = {tt_infer_rule_arith, 2, 2, 1},
    [TT_GOP_NEG] = {tt_infer_rule_unary_num, 1, 1, 1},
    [TT_GOP_NOT] = {tt_infer_rule_not, 1, 1, 1},
    [TT_GOP_OR] = {tt_infer_rule_logic, 2, 2, 1},
    [TT_GOP_PRELU] = {tt_infer_rule_prelu, 2, 2, 1},
    [TT_GOP_PAD] = {tt_infer_rule_pad, 1, 4, 1},
    [TT_GOP_POW] = {tt_infer_rule_pow, 2, 2, 1},
    [TT_GOP_RANGE] = {tt_infer_rule_range, 3, 3, 1},
    [TT_GOP_RECIPROCAL] = {tt_infer_rule_unary_float, 1, 1, 1},
    [TT_GOP_REDUCE_L2] = {tt_infer_rule_reduce, 1, 2, 1},
    [TT_GOP_REDUCE_MAX] = {tt_infer_rule_reduce, 1, 2, 1},
    [TT_GOP_REDUCE_MEAN] = {tt_infer_rule_reduce, 1, 2, 1},
    [TT_GOP_REDUCE_MIN] = {tt_infer_rule_reduce, 1, 2, 1},
    [TT_GOP_REDUCE_PROD] = {tt_infer_rule_reduce, 1, 2, 1},
    [TT_GOP_REDUCE_SUM] = {tt_infer_rule_reduce, 1, 2, 1},
    [TT_GOP_REDUCE_SUM_SQUARE] = {tt_infer_rule_reduce, 1, 2, 1},
    [TT_GOP_RELU] = {tt_infer_rule_unary_num, 1, 1, 1},
    [TT_GOP_RESHAPE] = {tt_infer_rule_reshape, 2, 2, 1},
    [TT_GOP_RESIZE] = {tt_infer_rule_resize, 1, 4, 1},
    [TT_GOP_ROUND] = {tt_infer_rule_unary_float, 1, 1, 1},
    [TT_GOP_SCATTER_ND] = {tt_infer_rule_scatter_nd, 3, 3, 1},
    [TT_GOP_SELU] = {tt_infer_rule_unary_float, 1, 1, 1},
    [TT_GOP_SHAPE] = {tt_infer_rule_shape, 1, 1, 1},
    [TT_GOP_SIGMOID] = {tt_infer_rule_unary_float, 1, 1, 1},
    [TT_GOP_SIGN] = {tt_infer_rule_unary_num, 1, 1, 1},
    [TT_GOP_SIN] = {tt_infer_rule_unary_float, 1, 1, 1},
    [TT_GOP_SIZE] = {tt_infer_rule_size, 1, 1, 1},
    [TT_GOP_SLICE] = {tt_infer_rule_slice, 1, 5, 1},
    [TT_GOP_SOFTMAX] = {tt_infer_rule_softmax, 1, 1, 1},
    [TT_GOP_SOFTPLUS] = {tt_infer_rule_unary_float, 1, 1, 1},
    [TT_GOP_SPLIT] = {tt_infer_rule_split, 1, 2, -1},
    [TT_GOP_SQRT] = {tt_infer_rule_unary_float, 1, 1, 1},
    [TT_GOP_SQUEEZE] = {tt_infer_rule_squeeze, 1, 2, 1},
    [TT_GOP_SUB] = {tt_infer_rule_arith, 2, 2, 1},
    [TT_GOP_SUM] = {tt_infer_rule_arith, 1, -1, 1},
    [TT_GOP_TANH] = {tt_infer_rule_unary_float, 1, 1, 1},
    [TT_GOP_TILE] = {tt_infer_rule_tile, 2, 2, 1},
    [TT_GOP_TRANSPOSE] = {tt_infer_rule_transpose, 1, 1, 1},
    [TT_GOP_UNSQUEEZE] = {tt_infer_rule_unsqueeze, 1, 2, 1},
    [TT_GOP_WHERE] = {tt_infer_rule_where, 3, 3, 1},
};

int tt_graph_infer_node(tt_graph *g, int n, tt_err *err)
{
    tt_node *nd = &g->nodes[n];
    ictx c = {g, n, nd, err};
    const rule *r = &rules[nd->op];
    if (!r->fn)
        return tt_err_set(err, "unsupported operator '%s' (node '%s')", tt_gop_names[nd->op],
                          nd->name);
    int present = 0;
    for (int i = 0; i < nd->nin; i++)
        present = nd->in[i] >= 0 ? i + 1 : present;
    if (present < r->min_in || (r->max_in >= 0 && present > r->max_in))
        return nerr(&c, "has %d inputs, expected %d..%d", present, r->min_in,
                    r->max_in >= 0 ? r->max_in : TT_NODE_MAX_IO);
    if (r->max_out >= 0 && nd->nout > r->max_out)
        return nerr(&c, "has %d outputs, the operator produces at most %d", nd->nout,
                    r->max_out);
    for (int i = 0; i < r->min_in; i++)
        if (nd->in[i] < 0)
            return nerr(&c, "required input %d is missing", i);
    for (int i = 0; i < nd->nin; i++) {
        if (nd->in[i] < 0)
            continue;
        const tt_tensor *t = &g->tensors[nd->in[i]];
        if (t->ndim < 0 || t->ndim > MAXD || tt_tensor_numel(t) < 0)
            return nerr(&c, "input '%s' has an unknown shape (not computed before this node?)",
                        t->name);
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] > INF_MAX_NUMEL || (t->shape[d] && numel > INF_MAX_NUMEL / t->shape[d]))
                return nerr(&c, "input '%s' has more than 2^32 elements", t->name);
            numel *= t->shape[d];
        }
        if (tt_dtype_size(t->dtype) == 0)
            return nerr(&c, "input '%s' has an unsupported type", t->name);
    }
    for (int i = 0; i < nd->nout; i++)
        if (nd->out[i] >= 0 && g->tensors[nd->out[i]].data)
            return nerr(&c, "output '%s' is a constant", g->tensors[nd->out[i]].name);
    return r->fn(&c);
}

int tt_graph_infer(tt_graph *g, tt_err *err)
{
    for (int i = 0; i < g->ninputs; i++) {
        const tt_tensor *t = &g->tensors[g->inputs[i]];
        if (t->ndim < 0 || tt_tensor_numel(t) < 0)
            return tt_err_set(err, "graph input '%s' has an unknown shape", t->name);
    }
    for (int n = 0; n < g->nnodes; n++)
        if (!g->nodes[n].dead && tt_graph_infer_node(g, n, err))
            return -1;
    for (int i = 0; i < g->noutputs; i++) {
        const tt_tensor *t = &g->tensors[g->outputs[i]];
        if (t->ndim < 0)
            return tt_err_set(err, "graph output '%s' is never computed", t->name);
    }
    return 0;
}
