/* ewise.c - stages appended to a DAG under construction: elementwise and
 * broadcast ops (TOPI's T_add, T_multiply, T_sigmoid, ...), scalar
 * constants, and the injective and reduction anchors that models need
 * besides the TOPI builders of topi.c (layer norm, mean, concatenate,
 * transpose, strided slice).
 *
 * These are the pieces from which src/model builds a fused kernel's DAG:
 * an anchor (a topi.c builder, or one of the anchors here) followed by the
 * stages of its elementwise epilogue, each stage reading the previous ones
 * and placeholders that the caller appends just before the stage that reads
 * them (TVM's stage order: a placeholder comes right before its first
 * consumer).  After the last stage the caller calls tt_dag_finish() again.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dag.h"

const char *const tt_ew_names[TT_EW_COUNT] = {
    "add", "subtract", "multiply", "divide", "power", "maximum", "minimum",
    "relu", "clip", "sigmoid", "tanh", "erf", "sqrt", "exp", "negative", "log", "abs",
};
_Static_assert(sizeof tt_ew_names / sizeof tt_ew_names[0] == TT_EW_COUNT, "tt_ew_names");

static const char *const py_names[TT_MAX_DIMS] = {"i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7"};

static tt_expr *load_idx(tt_dag *d, int uid, int n, tt_expr **idx)
{
    return tt_e_load(d->arena, uid, n, idx);
}

/* Load of `uid` (rank r) at the output position of a rank-n stage under
 * numpy broadcasting: trailing alignment; a size-1 dimension reads index 0
 * where the output's is larger, else the output's index (TVM's
 * InputIndexFromBroadcast; topi.c's epilogues follow the same rule, so that
 * equal kernels print equal). */
static tt_expr *bcast_load(tt_dag *d, int uid, int n, const int64_t *oshape)
{
    tt_op *op = tt_dag_op(d, uid);
    int r = op->ndim;
    tt_expr *idx[TT_MAX_DIMS];
    for (int i = 0; i < r; i++) {
        int oi = n - r + i;
        if (op->axis[i].extent == 1 && oshape[oi] != 1)
            idx[i] = tt_e_int(d->arena, 0);
        else
            idx[i] = tt_e_axis(d->arena, oi);
    }
    return load_idx(d, uid, r, idx);
}

int tt_dag_broadcast_shape(int ra, const int64_t *a, int rb, const int64_t *b, int64_t *out,
                           tt_err *err)
{
    int n = ra > rb ? ra : rb;
    for (int i = 0; i < n; i++) {
        int ia = i - (n - ra), ib = i - (n - rb);
        int64_t x = ia >= 0 ? a[ia] : 1, y = ib >= 0 ? b[ib] : 1;
        if (x != y && x != 1 && y != 1)
            return tt_err_set(err, "shapes do not broadcast: dimension %d is %lld and %lld", i,
                              (long long)x, (long long)y);
        out[i] = x == 1 ? y : x;
    }
    return n;
}

int tt_dag_const_scalar(tt_dag *d, double v)
{
    /* Relay's compile engine turns a scalar constant into a 0-d compute
     * stage that the consumer reads with no indices. */
    int c = tt_dag_compute(d, "compile_engine_const", "broadcast", 0, NULL, NULL, 0, NULL, NULL,
                           TT_RED_NONE);
    tt_dag_op(d, c)->body = tt_e_float(d->arena, v);
    return c;
}

int tt_dag_ew_binary(tt_dag *d, tt_ew op, int a, int b, tt_err *err)
{
    if (op < TT_EW_ADD || op > TT_EW_MIN)
        return tt_err_set(err, "'%s' is not a binary elementwise op",
                          op >= 0 && op < TT_EW_COUNT ? tt_ew_names[op] : "?");
    tt_op *A = tt_dag_op(d, a), *B = tt_dag_op(d, b);
    int64_t as[TT_MAX_DIMS], bs[TT_MAX_DIMS], os[TT_MAX_DIMS];
    for (int i = 0; i < A->ndim; i++)
        as[i] = A->axis[i].extent;
    for (int i = 0; i < B->ndim; i++)
        bs[i] = B->axis[i].extent;
    int n = tt_dag_broadcast_shape(A->ndim, as, B->ndim, bs, os, err);
    if (n < 0)
        return -1;
    char name[TT_NAME_MAX];
    snprintf(name, sizeof name, "T_%s", tt_ew_names[op]);
    int y = tt_dag_compute(d, name, "broadcast", n, os, NULL, 0, NULL, NULL, TT_RED_NONE);
    tt_expr *x0 = bcast_load(d, a, n, os), *x1 = bcast_load(d, b, n, os);
    tt_expr *body;
    switch (op) {
    case TT_EW_ADD: body = tt_e_bin(d->arena, TT_E_ADD, x0, x1); break;
    case TT_EW_SUB: body = tt_e_bin(d->arena, TT_E_SUB, x0, x1); break;
    case TT_EW_MUL: body = tt_e_bin(d->arena, TT_E_MUL, x0, x1); break;
    case TT_EW_DIV: body = tt_e_bin(d->arena, TT_E_DIV, x0, x1); break;
    case TT_EW_MAX: body = tt_e_bin(d->arena, TT_E_MAX, x0, x1); break;
    case TT_EW_MIN: body = tt_e_bin(d->arena, TT_E_MIN, x0, x1); break;
    default: {
        tt_expr *args[2] = {x0, x1};
        body = tt_e_call(d->arena, TT_CALL_POW, 2, args);
        break;
    }
    }
    tt_dag_op(d, y)->body = body;
    return y;
}

int tt_dag_ew_unary(tt_dag *d, tt_ew op, int x, double lo, double hi, tt_err *err)
{
    if (op < TT_EW_RELU || op >= TT_EW_COUNT)
        return tt_err_set(err, "'%s' is not a unary elementwise op",
                          op >= 0 && op < TT_EW_COUNT ? tt_ew_names[op] : "?");
    tt_op *X = tt_dag_op(d, x);
    int n = X->ndim;
    int64_t shape[TT_MAX_DIMS];
    for (int i = 0; i < n; i++)
        shape[i] = X->axis[i].extent;
    tt_expr *idx[TT_MAX_DIMS];
    for (int i = 0; i < n; i++)
        idx[i] = tt_e_axis(d->arena, i);
    tt_expr *v = load_idx(d, x, n, idx);
    tt_expr *body;
    int y;
    if (op == TT_EW_CLIP) {
        if (!(lo <= hi))
            return tt_err_set(err, "clip bounds %g > %g", lo, hi);
        /* TOPI's clip is a python compute named "compute" with axes i0.. */
        y = tt_dag_compute(d, "compute", "elemwise", n, shape, py_names, 0, NULL, NULL,
                           TT_RED_NONE);
        body = tt_e_bin(d->arena, TT_E_MAX, tt_e_bin(d->arena, TT_E_MIN, v, tt_e_float(d->arena, hi)),
                        tt_e_float(d->arena, lo));
        snprintf(tt_dag_op(d, y)->attrs, sizeof tt_dag_op(d, y)->attrs, "a_min=%.9g a_max=%.9g",
                 lo, hi);
        tt_dag_op(d, y)->body = body;
        return y;
    }
    char name[TT_NAME_MAX];
    snprintf(name, sizeof name, "T_%s", tt_ew_names[op]);
    y = tt_dag_compute(d, name, "elemwise", n, shape, NULL, 0, NULL, NULL, TT_RED_NONE);
    switch (op) {
    case TT_EW_RELU: body = tt_e_bin(d->arena, TT_E_MAX, v, tt_e_float(d->arena, 0.0)); break;
    case TT_EW_NEG: body = tt_e_bin(d->arena, TT_E_SUB, tt_e_float(d->arena, 0.0), v); break;
    default: {
        tt_call f = op == TT_EW_SIGMOID ? TT_CALL_SIGMOID
                    : op == TT_EW_LOG   ? TT_CALL_LOG
                    : op == TT_EW_ABS   ? TT_CALL_FABS
                    : op == TT_EW_TANH  ? TT_CALL_TANH
                    : op == TT_EW_ERF   ? TT_CALL_ERF
                    : op == TT_EW_SQRT  ? TT_CALL_SQRT
                                        : TT_CALL_EXP;
        body = tt_e_call(d->arena, f, 1, &v);
        break;
    }
    }
    tt_dag_op(d, y)->body = body;
    return y;
}

/* ---- reductions ------------------------------------------------------------ */

/* Layer norm over the last axis, as three stages (tag "layer_norm"):
 *   T_layer_norm_sum [..]     sum_k x[.., k]
 *   T_layer_norm_var [..]     sum_k (x[.., k] - sum/K)^2
 *   T_layer_norm     [.., k]  (x - sum/K) / sqrt(var/K + eps) * gamma[k] + beta[k]
 * TOPI computes mean and variance in one tuple reduction; the IR has single-
 * valued reductions, so the two-pass form is used (also the more accurate). */
int tt_dag_layer_norm(tt_dag *d, int x, int gamma, int beta, double eps, tt_err *err)
{
    tt_op *X = tt_dag_op(d, x);
    int n = X->ndim, r = n - 1;
    if (n < 1)
        return tt_err_set(err, "layer_norm of a 0-d tensor");
    int64_t shape[TT_MAX_DIMS];
    for (int i = 0; i < n; i++)
        shape[i] = X->axis[i].extent;
    int64_t k = shape[r];
    if (tt_dag_op(d, gamma)->ndim != 1 || tt_dag_op(d, gamma)->axis[0].extent != k ||
        tt_dag_op(d, beta)->ndim != 1 || tt_dag_op(d, beta)->axis[0].extent != k)
        return tt_err_set(err, "layer_norm: scale and bias must be [%lld]", (long long)k);
    static const char *const kn[1] = {"k"};
    tt_arena *a = d->arena;
    tt_expr *idx[TT_MAX_DIMS];

    int sum = tt_dag_compute(d, "T_layer_norm_sum", "layer_norm", r, shape, NULL, 1, &k, kn,
                             TT_RED_SUM);
    for (int i = 0; i < r; i++)
        idx[i] = tt_e_axis(a, i);
    idx[r] = tt_e_raxis(a, 0);
    tt_dag_op(d, sum)->body = load_idx(d, x, n, idx);

    tt_expr *kf = tt_e_float(a, (double)k);
    int var = tt_dag_compute(d, "T_layer_norm_var", "layer_norm", r, shape, NULL, 1, &k, kn,
                             TT_RED_SUM);
    for (int i = 0; i < r; i++)
        idx[i] = tt_e_axis(a, i);
    idx[r] = tt_e_raxis(a, 0);
    tt_expr *xv = load_idx(d, x, n, idx);
    tt_expr *mean = tt_e_bin(a, TT_E_DIV, load_idx(d, sum, r, idx), kf);
    tt_expr *dv = tt_e_bin(a, TT_E_SUB, xv, mean);
    tt_dag_op(d, var)->body = tt_e_bin(a, TT_E_MUL, dv, dv);

    int out = tt_dag_compute(d, "T_layer_norm", "elemwise,layer_norm", n, shape, NULL, 0, NULL,
                             NULL, TT_RED_NONE);
    for (int i = 0; i < n; i++)
        idx[i] = tt_e_axis(a, i);
    tt_expr *xo = load_idx(d, x, n, idx);
    tt_expr *m2 = tt_e_bin(a, TT_E_DIV, load_idx(d, sum, r, idx), kf);
    tt_expr *v2 = tt_e_bin(a, TT_E_ADD, tt_e_bin(a, TT_E_DIV, load_idx(d, var, r, idx), kf),
                           tt_e_float(a, eps));
    tt_expr *sd = tt_e_call(a, TT_CALL_SQRT, 1, &v2);
    tt_expr *kk = tt_e_axis(a, r);
    tt_expr *body = tt_e_bin(a, TT_E_DIV, tt_e_bin(a, TT_E_SUB, xo, m2), sd);
    body = tt_e_bin(a, TT_E_MUL, body, load_idx(d, gamma, 1, &kk));
    body = tt_e_bin(a, TT_E_ADD, body, load_idx(d, beta, 1, &kk));
    tt_op *op = tt_dag_op(d, out);
    op->body = body;
    snprintf(op->attrs, sizeof op->attrs, "eps=%.9g", eps);
    return out;
}

/* Mean over the given axes (sorted, distinct), keeping them as size 1 when
 * keepdims (tag "mean"):
 *   T_mean_sum [kept dims]   sum over the reduced axes
 *   T_mean     [kept dims]   sum / count       (tag "elemwise,mean") */
int tt_dag_mean(tt_dag *d, int x, int naxes, const int *axes, int keepdims, tt_err *err)
{
    tt_op *X = tt_dag_op(d, x);
    int n = X->ndim;
    if (naxes < 1 || naxes > TT_MAX_RAXES)
        return tt_err_set(err, "mean: %d axes", naxes);
    int red[TT_MAX_DIMS] = {0};
    for (int i = 0; i < naxes; i++) {
        if (axes[i] < 0 || axes[i] >= n || red[axes[i]])
            return tt_err_set(err, "mean: bad axis %d for rank %d", axes[i], n);
        red[axes[i]] = 1;
    }
    int64_t oshape[TT_MAX_DIMS], rext[TT_MAX_RAXES];
    int on = 0, nr = 0;
    double count = 1;
    for (int i = 0; i < n; i++) {
        if (red[i]) {
            rext[nr++] = X->axis[i].extent;
            count *= (double)X->axis[i].extent;
            if (keepdims)
                oshape[on++] = 1;
        } else {
            oshape[on++] = X->axis[i].extent;
        }
    }
    tt_arena *a = d->arena;
    int sum = tt_dag_compute(d, "T_mean_sum", "mean", on, oshape, NULL, nr, rext, NULL, TT_RED_SUM);
    tt_expr *idx[TT_MAX_DIMS];
    int oi = 0, ri = 0;
    for (int i = 0; i < n; i++) {
        if (red[i]) {
            idx[i] = tt_e_raxis(a, ri++);
            if (keepdims)
                oi++;
        } else {
            idx[i] = tt_e_axis(a, oi++);
        }
    }
    tt_dag_op(d, sum)->body = load_idx(d, x, n, idx);
    int out = tt_dag_compute(d, "T_mean", "elemwise,mean", on, oshape, NULL, 0, NULL, NULL,
                             TT_RED_NONE);
    tt_expr *oidx[TT_MAX_DIMS];
    for (int i = 0; i < on; i++)
        oidx[i] = tt_e_axis(a, i);
    tt_dag_op(d, out)->body = tt_e_bin(a, TT_E_DIV, load_idx(d, sum, on, oidx), tt_e_float(a, count));
    return out;
}

/* ---- injective ------------------------------------------------------------- */

/* T_concat along axis: out[.., j, ..] = x_i[.., j - off_i, ..] for the input
 * whose range holds j (a select chain, as TOPI's concatenate). */
int tt_dag_concat(tt_dag *d, int n, const int *xs, int axis, tt_err *err)
{
    if (n < 1)
        return tt_err_set(err, "concat of no tensors");
    tt_op *X0 = tt_dag_op(d, xs[0]);
    int r = X0->ndim;
    if (axis < 0 || axis >= r)
        return tt_err_set(err, "concat: axis %d out of range for rank %d", axis, r);
    int64_t shape[TT_MAX_DIMS];
    for (int i = 0; i < r; i++)
        shape[i] = X0->axis[i].extent;
    int64_t total = 0;
    for (int k = 0; k < n; k++) {
        tt_op *X = tt_dag_op(d, xs[k]);
        if (X->ndim != r)
            return tt_err_set(err, "concat: inputs of ranks %d and %d", r, X->ndim);
        for (int i = 0; i < r; i++)
            if (i != axis && X->axis[i].extent != shape[i])
                return tt_err_set(err, "concat: dimension %d differs (%lld vs %lld)", i,
                                  (long long)X->axis[i].extent, (long long)shape[i]);
        total += X->axis[axis].extent;
    }
    shape[axis] = total;
    tt_arena *a = d->arena;
    int y = tt_dag_compute(d, "T_concat", "injective", r, shape, NULL, 0, NULL, NULL, TT_RED_NONE);
    /* Build from the last input backwards: sel = j >= off_k ? x_k[j - off_k] : sel */
    int64_t off[64];
    if (n > 64)
        return tt_err_set(err, "concat of %d tensors (at most 64)", n);
    int64_t o = 0;
    for (int k = 0; k < n; k++) {
        off[k] = o;
        o += tt_dag_op(d, xs[k])->axis[axis].extent;
    }
    tt_expr *body = NULL;
    for (int k = n - 1; k >= 0; k--) {
        tt_expr *idx[TT_MAX_DIMS];
        for (int i = 0; i < r; i++)
            idx[i] = tt_e_axis(a, i);
        if (off[k])
            idx[axis] = tt_e_bin(a, TT_E_SUB, tt_e_axis(a, axis), tt_e_int(a, off[k]));
        tt_expr *v = load_idx(d, xs[k], r, idx);
        if (!body)
            body = v;
        else
            body = tt_e_select(a, tt_e_bin(a, TT_E_LT, tt_e_axis(a, axis), tt_e_int(a, off[k + 1])),
                               v, body);
    }
    tt_op *op = tt_dag_op(d, y);
    op->body = body;
    snprintf(op->attrs, sizeof op->attrs, "axis=%d", axis);
    return y;
}

/* Transpose: out[i0..] = x[i_{perm^-1}]; out dim k is x's dim perm[k]. */
int tt_dag_transpose(tt_dag *d, int x, const int *perm, const char *name, tt_err *err)
{
    tt_op *X = tt_dag_op(d, x);
    int r = X->ndim;
    int seen[TT_MAX_DIMS] = {0};
    int64_t shape[TT_MAX_DIMS];
    for (int k = 0; k < r; k++) {
        if (perm[k] < 0 || perm[k] >= r || seen[perm[k]])
            return tt_err_set(err, "transpose: bad permutation");
        seen[perm[k]] = 1;
        shape[k] = X->axis[perm[k]].extent;
    }
    int y = tt_dag_compute(d, name ? name : "T_transpose", "injective", r, shape, NULL, 0, NULL,
                           NULL, TT_RED_NONE);
    tt_expr *idx[TT_MAX_DIMS];
    for (int k = 0; k < r; k++)
        idx[perm[k]] = tt_e_axis(d->arena, k);
    tt_op *op = tt_dag_op(d, y);
    op->body = load_idx(d, x, r, idx);
    snprintf(op->attrs, sizeof op->attrs, "perm=");
    for (int k = 0; k < r; k++)
        snprintf(op->attrs + strlen(op->attrs), sizeof op->attrs - strlen(op->attrs), "%s%d",
                 k ? "," : "", perm[k]);
    return y;
}

int tt_dag_channel_shuffle(tt_dag *d, int x, int64_t groups, tt_err *err)
{
    tt_op *X = tt_dag_op(d, x);
    int r = X->ndim;
    if (r < 1)
        return tt_err_set(err, "channel shuffle of a scalar");
    int64_t C = X->axis[r - 1].extent;
    if (groups < 1 || C % groups)
        return tt_err_set(err, "channel shuffle: %lld groups do not divide %lld channels",
                          (long long)groups, (long long)C);
    int64_t shape[TT_MAX_DIMS];
    for (int k = 0; k < r; k++)
        shape[k] = X->axis[k].extent;
    int y = tt_dag_compute(d, "T_channel_shuffle", "injective", r, shape, NULL, 0, NULL, NULL,
                           TT_RED_NONE);
    tt_arena *a = d->arena;
    tt_expr *idx[TT_MAX_DIMS];
    for (int k = 0; k < r - 1; k++)
        idx[k] = tt_e_axis(a, k);
    tt_expr *c = tt_e_axis(a, r - 1);
    idx[r - 1] = tt_e_bin(a, TT_E_ADD,
                          tt_e_bin(a, TT_E_MUL, tt_e_bin(a, TT_E_FLOORMOD, c, tt_e_int(a, groups)),
                                   tt_e_int(a, C / groups)),
                          tt_e_bin(a, TT_E_FLOORDIV, tt_e_axis(a, r - 1), tt_e_int(a, groups)));
    tt_op *op = tt_dag_op(d, y);
    op->body = load_idx(d, x, r, idx);
    snprintf(op->attrs, sizeof op->attrs, "groups=%lld", (long long)groups);
    return y;
}

/* Strided slice: out[i..] = x[start_k + i_k * step_k ..] (steps nonzero). */
int tt_dag_slice(tt_dag *d, int x, const int64_t *start, const int64_t *step,
                 const int64_t *oshape, tt_err *err)
{
    tt_op *X = tt_dag_op(d, x);
    int r = X->ndim;
    for (int k = 0; k < r; k++) {
        int64_t last = start[k] + (oshape[k] - 1) * step[k];
        if (step[k] == 0 || start[k] < 0 || start[k] >= X->axis[k].extent || oshape[k] < 1 ||
            last < 0 || last >= X->axis[k].extent)
            return tt_err_set(err, "slice: dimension %d out of range", k);
    }
    int y = tt_dag_compute(d, "T_strided_slice", "injective", r, oshape, NULL, 0, NULL, NULL,
                           TT_RED_NONE);
    tt_arena *a = d->arena;
    tt_expr *idx[TT_MAX_DIMS];
    for (int k = 0; k < r; k++) {
        tt_expr *e = tt_e_axis(a, k);
        if (step[k] != 1)
            e = tt_e_bin(a, TT_E_MUL, e, tt_e_int(a, step[k]));
        if (start[k])
            e = tt_e_bin(a, TT_E_ADD, e, tt_e_int(a, start[k]));
        idx[k] = e;
    }
    tt_op *op = tt_dag_op(d, y);
    op->body = load_idx(d, x, r, idx);
    snprintf(op->attrs, sizeof op->attrs, "begin=");
    for (int k = 0; k < r; k++)
        snprintf(op->attrs + strlen(op->attrs), sizeof op->attrs - strlen(op->attrs), "%s%lld:%lld",
                 k ? "," : "", (long long)start[k], (long long)step[k]);
    return y;
}

/* Constant padding (TOPI pad, tag "injective,pad"): out = in bounds ? x : value. */
int tt_dag_pad(tt_dag *d, int x, const int64_t *before, const int64_t *after, double value,
               tt_err *err)
{
    tt_op *X = tt_dag_op(d, x);
    int r = X->ndim;
    int64_t shape[TT_MAX_DIMS];
    for (int k = 0; k < r; k++) {
        if (before[k] < 0 || after[k] < 0)
            return tt_err_set(err, "pad: negative padding");
        shape[k] = X->axis[k].extent + before[k] + after[k];
    }
    tt_arena *a = d->arena;
    /* Named T_pad with a plain injective tag: a stand-alone pad is a kernel of
     * its own and must keep a class key (pad stages inside an anchor do not). */
    int y = tt_dag_compute(d, "T_pad", "injective", r, shape, NULL, 0, NULL, NULL, TT_RED_NONE);
    tt_expr *idx[TT_MAX_DIMS], *cond = NULL;
    for (int k = 0; k < r; k++) {
        idx[k] = tt_e_axis(a, k);
        if (before[k]) {
            tt_expr *c = tt_e_bin(a, TT_E_GE, tt_e_axis(a, k), tt_e_int(a, before[k]));
            cond = cond ? tt_e_bin(a, TT_E_AND, cond, c) : c;
            idx[k] = tt_e_bin(a, TT_E_SUB, tt_e_axis(a, k), tt_e_int(a, before[k]));
        }
        if (after[k]) {
            tt_expr *c = tt_e_bin(a, TT_E_LT, tt_e_axis(a, k), tt_e_int(a, X->axis[k].extent + before[k]));
            cond = cond ? tt_e_bin(a, TT_E_AND, cond, c) : c;
        }
    }
    tt_expr *v = load_idx(d, x, r, idx);
    tt_op *op = tt_dag_op(d, y);
    op->body = cond ? tt_e_select(a, cond, v, tt_e_float(a, value)) : v;
    snprintf(op->attrs, sizeof op->attrs, "pad_value=%.9g", value);
    return y;
}
