/* infer.c - shape and type inference for the model graph (see graph.h).
 *
 * One rule per ONNX operator, looked up by op_type in a table.  A rule reads
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
 */
#include "graph.h"
#include "infer_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXD TT_GRAPH_MAX_DIMS
/* Upper bound on a dimension and on an element count (see the file comment). */
#define INF_MAX_NUMEL ((int64_t)1 << 32)
/* Upper bound on strides and dilations: keeps window arithmetic in int64. */
#define INF_MAX_STEP ((int64_t)1 << 20)

typedef struct ictx {
    tt_graph *g;
    int n;
    tt_node *nd;
    tt_err *err;
} ictx;

int tt_infer_node_err(tt_err *err, const tt_node *nd, const char *fmt, va_list ap)
{
    char msg[TT_ERR_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return tt_err_set(err, "node '%s' (%s): %s", nd->name, nd->op, msg);
}

const tt_tensor *tt_infer_input(const tt_graph *g, const tt_node *nd, int i)
{
    if (i >= nd->nin || nd->in[i] < 0)
        return NULL;
    return &g->tensors[nd->in[i]];
}

__attribute__((format(printf, 2, 3))) static int nerr(ictx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = tt_infer_node_err(c->err, c->nd, fmt, ap);
    va_end(ap);
    return rc;
}

/* Input i, or NULL when omitted or beyond the node's inputs. */
static const tt_tensor *in_t(ictx *c, int i) { return tt_infer_input(c->g, c->nd, i); }

int64_t tt_infer_iattr(const tt_node *nd, const char *name, int64_t dflt)
{
    const tt_attr *a = tt_node_attr(nd, name);
    if (!a)
        return dflt;
    return a->kind == TT_ATTR_INT ? a->i : INT64_MIN;
}
#define iattr tt_infer_iattr

static int is_num(tt_dtype t)
{
    return t == TT_DT_FLOAT || t == TT_DT_INT32 || t == TT_DT_INT64;
}

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *s)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, cap - k, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? "," : "", (long long)s[i]);
    if (k < cap)
        snprintf(buf + k, cap - k, "]");
}

/* Write output k's type and shape, checking the size bounds. */
static int set_out(ictx *c, int k, tt_dtype dt, int ndim, const int64_t *shape)
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

static int same_out(ictx *c, int k, const tt_tensor *x)
{
    return set_out(c, k, x->dtype, x->ndim, x->shape);
}

/* Normalize an axis in [-r, r-1]; -1 with err when out of range. */
static int norm_axis(ictx *c, int64_t axis, int rank, const char *what)
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
static int attr_ints(ictx *c, const char *name, int count, int64_t dflt, int64_t lo, int64_t hi,
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

static const char *attr_str(const tt_node *nd, const char *name, const char *dflt)
{
    const tt_attr *a = tt_node_attr(nd, name);
    return a && a->kind == TT_ATTR_STRING ? a->s : dflt;
}

/* Read a constant integer input (rank 0 or 1, int64 or int32) into vals (at
 * most max values).  `what` names it in messages.  Returns the count, -1 on
 * error. */
static int const_ints(ictx *c, int i, const char *what, int64_t *vals, int max)
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
static int const_scalar(ictx *c, int i, const char *what, double *v)
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
static int read_axes(ictx *c, int i, int rank, int64_t *axes)
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
static int bcast2(ictx *c, int *on, int64_t *os, const tt_tensor *b)
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
static int unidir(ictx *c, int n, const int64_t *s, const tt_tensor *b, const char *what)
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

/* ---- elementwise ------------------------------------------------------------- */

static int r_unary_float(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    if (x->dtype != TT_DT_FLOAT)
        return nerr(c, "input '%s' must be float, not %s", x->name, tt_dtype_name(x->dtype));
    return same_out(c, 0, x);
}

static int r_unary_num(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    if (!is_num(x->dtype))
        return nerr(c, "input '%s' must be numeric, not %s", x->name, tt_dtype_name(x->dtype));
    return same_out(c, 0, x);
}

static int r_identity(ictx *c)
{
    return same_out(c, 0, in_t(c, 0));
}

static int r_dropout(ictx *c)
{
    const tt_tensor *x = in_t(c, 0), *tm = in_t(c, 2);
    if (tm && tm->data && tm->dtype == TT_DT_BOOL && ((const uint8_t *)tm->data)[0])
        return nerr(c, "training mode is not supported");
    if (same_out(c, 0, x))
        return -1;
    return set_out(c, 1, TT_DT_BOOL, x->ndim, x->shape);
}

static int r_not(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    if (x->dtype != TT_DT_BOOL)
        return nerr(c, "input '%s' must be bool, not %s", x->name, tt_dtype_name(x->dtype));
    return same_out(c, 0, x);
}

/* Variadic broadcast of all present inputs; dtype checks per op kind. */
enum { BIN_ARITH, BIN_POW, BIN_CMP, BIN_LOGIC, BIN_PRELU };

static int binary(ictx *c, int kind)
{
    const tt_tensor *a = in_t(c, 0);
    int on = a->ndim;
    int64_t os[MAXD];
    memcpy(os, a->shape, (size_t)on * sizeof *os);
    for (int i = 1; i < c->nd->nin; i++) {
        const tt_tensor *b = in_t(c, i);
        if (!b)
            return nerr(c, "input %d is missing", i);
        if (kind == BIN_PRELU) {
            if (unidir(c, a->ndim, a->shape, b, "slope"))
                return -1;
        } else if (bcast2(c, &on, os, b))
            return -1;
        if (kind != BIN_POW && b->dtype != a->dtype)
            return nerr(c, "inputs '%s' (%s) and '%s' (%s) differ in type", a->name,
                        tt_dtype_name(a->dtype), b->name, tt_dtype_name(b->dtype));
        if (kind == BIN_POW && !is_num(b->dtype))
            return nerr(c, "exponent '%s' must be numeric", b->name);
    }
    if (kind == BIN_LOGIC && a->dtype != TT_DT_BOOL)
        return nerr(c, "input '%s' must be bool, not %s", a->name, tt_dtype_name(a->dtype));
    if (kind != BIN_LOGIC && kind != BIN_CMP && !is_num(a->dtype))
        return nerr(c, "input '%s' must be numeric, not %s", a->name, tt_dtype_name(a->dtype));
    if (kind == BIN_PRELU && a->dtype != TT_DT_FLOAT)
        return nerr(c, "input '%s' must be float", a->name);
    return set_out(c, 0, kind == BIN_CMP ? TT_DT_BOOL : a->dtype, on, os);
}

static int r_arith(ictx *c) { return binary(c, BIN_ARITH); }
static int r_pow(ictx *c) { return binary(c, BIN_POW); }
static int r_cmp(ictx *c) { return binary(c, BIN_CMP); }
static int r_logic(ictx *c) { return binary(c, BIN_LOGIC); }
static int r_prelu(ictx *c) { return binary(c, BIN_PRELU); }

static int r_where(ictx *c)
{
    const tt_tensor *cond = in_t(c, 0), *x = in_t(c, 1), *y = in_t(c, 2);
    if (cond->dtype != TT_DT_BOOL)
        return nerr(c, "condition '%s' must be bool, not %s", cond->name,
                    tt_dtype_name(cond->dtype));
    if (x->dtype != y->dtype)
        return nerr(c, "inputs '%s' (%s) and '%s' (%s) differ in type", x->name,
                    tt_dtype_name(x->dtype), y->name, tt_dtype_name(y->dtype));
    int on = cond->ndim;
    int64_t os[MAXD];
    memcpy(os, cond->shape, (size_t)on * sizeof *os);
    if (bcast2(c, &on, os, x) || bcast2(c, &on, os, y))
        return -1;
    return set_out(c, 0, x->dtype, on, os);
}

static int r_clip(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    if (!is_num(x->dtype))
        return nerr(c, "input '%s' must be numeric", x->name);
    for (int i = 1; i < 3; i++) {
        const tt_tensor *b = in_t(c, i);
        if (!b)
            continue;
        if (tt_tensor_numel(b) != 1)
            return nerr(c, "%s '%s' must be a scalar", i == 1 ? "min" : "max", b->name);
        if (b->dtype != x->dtype)
            return nerr(c, "%s '%s' must have the input's type %s", i == 1 ? "min" : "max",
                        b->name, tt_dtype_name(x->dtype));
    }
    return same_out(c, 0, x);
}

static int r_cast(ictx *c)
{
    const tt_attr *a = tt_node_attr(c->nd, "to");
    if (!a || a->kind != TT_ATTR_INT)
        return nerr(c, "attribute 'to' is required");
    tt_dtype to = (tt_dtype)a->i;
    if (tt_dtype_size(to) == 0 || a->i != (int64_t)to)
        return nerr(c, "cast to ONNX type %lld is not supported (float, int32, int64, bool are)",
                    (long long)a->i);
    const tt_tensor *x = in_t(c, 0);
    return set_out(c, 0, to, x->ndim, x->shape);
}

/* ---- convolution and pooling ------------------------------------------------- */

/* Shared window arithmetic of Conv and the pools: kernel k (resolved by the
 * caller), attributes strides, dilations, pads, auto_pad, ceil_mode.  Fills
 * the spatial output sizes; resolves auto_pad into explicit pads. */
static int windows(ictx *c, int nsp, const int64_t *in, const int64_t *k, int use_dil,
                   int64_t *out)
{
    int64_t s[MAXD], d[MAXD], p[2 * MAXD];
    if (attr_ints(c, "strides", nsp, 1, 1, INF_MAX_STEP, s) < 0 ||
        attr_ints(c, "dilations", nsp, 1, 1, INF_MAX_STEP, d) < 0 ||
        attr_ints(c, "pads", 2 * nsp, 0, 0, INF_MAX_NUMEL, p) < 0)
        return -1;
    if (!use_dil)
        for (int i = 0; i < nsp; i++)
            if (d[i] != 1 && tt_node_attr(c->nd, "dilations"))
                return nerr(c, "dilations are not supported by this operator");
    int64_t ceil_mode = iattr(c->nd, "ceil_mode", 0);
    const char *ap = attr_str(c->nd, "auto_pad", "NOTSET");
    int same = !strcmp(ap, "SAME_UPPER") ? 1 : !strcmp(ap, "SAME_LOWER") ? 2 : 0;
    int valid = !strcmp(ap, "VALID");
    if (!same && !valid && strcmp(ap, "NOTSET"))
        return nerr(c, "unknown auto_pad '%s'", ap);
    for (int i = 0; i < nsp; i++) {
        int64_t eff = (k[i] - 1) * d[i] + 1;
        if (same) {
            out[i] = (in[i] + s[i] - 1) / s[i];
            int64_t total = (out[i] - 1) * s[i] + eff - in[i];
            if (total < 0)
                total = 0;
            int64_t small = total / 2;
            p[i] = same == 1 ? small : total - small;
            p[i + nsp] = total - p[i];
            continue;
        }
        if (valid)
            p[i] = p[i + nsp] = 0;
        int64_t span = in[i] + p[i] + p[i + nsp] - eff;
        if (span < 0)
            return nerr(c, "window %lld (dilated) is larger than the padded input %lld on "
                           "spatial axis %d",
                        (long long)eff, (long long)(in[i] + p[i] + p[i + nsp]), i);
        out[i] = span / s[i] + 1;
        if (ceil_mode && span % s[i]) {
            out[i]++;
            /* PyTorch's rule (which ONNX's reference later adopted): the last
             * window must start inside the input or its left padding. */
            if ((out[i] - 1) * s[i] >= in[i] + p[i])
                out[i]--;
        }
    }
    if (same || valid) {
        tt_node_set_ints(c->g, c->n, "pads", 2 * nsp, p);
        tt_node_set_string(c->g, c->n, "auto_pad", "NOTSET");
    }
    return 0;
}

static int r_conv(ictx *c)
{
    const tt_tensor *x = in_t(c, 0), *w = in_t(c, 1), *b = in_t(c, 2);
    if (x->dtype != TT_DT_FLOAT || w->dtype != TT_DT_FLOAT)
        return nerr(c, "input and weight must be float");
    if (x->ndim < 3)
        return nerr(c, "input '%s' has rank %d, expected at least 3 (N, C, spatial...)",
                    x->name, x->ndim);
    if (w->ndim != x->ndim)
        return nerr(c, "weight '%s' has rank %d but the input has rank %d", w->name, w->ndim,
                    x->ndim);
    int nsp = x->ndim - 2;
    int64_t grp = iattr(c->nd, "group", 1);
    if (grp < 1 || grp > x->shape[1] || grp > INF_MAX_NUMEL)
        return nerr(c, "group %lld is out of range", (long long)grp);
    if (x->shape[1] % grp || x->shape[1] / grp != w->shape[1])
        return nerr(c, "input has %lld channels but the weight expects %lld (x groups %lld)",
                    (long long)x->shape[1], (long long)w->shape[1], (long long)grp);
    if (w->shape[0] % grp)
        return nerr(c, "%lld output channels are not divisible by group %lld",
                    (long long)w->shape[0], (long long)grp);
    int64_t k[MAXD];
    if (attr_ints(c, "kernel_shape", nsp, 1, 1, INF_MAX_NUMEL, k) < 0)
        return -1;
    for (int i = 0; i < nsp; i++) {
        if (tt_node_attr(c->nd, "kernel_shape") && k[i] != w->shape[2 + i])
            return nerr(c, "kernel_shape %lld differs from the weight's %lld on axis %d",
                        (long long)k[i], (long long)w->shape[2 + i], i);
        k[i] = w->shape[2 + i];
        if (k[i] < 1)
            return nerr(c, "weight '%s' has an empty kernel", w->name);
    }
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
        return nerr(c, "bias '%s' must have shape [%lld]", b->name, (long long)w->shape[0]);
    if (b && b->dtype != TT_DT_FLOAT)
        return nerr(c, "bias '%s' must be float", b->name);
    int64_t os[MAXD];
    os[0] = x->shape[0];
    os[1] = w->shape[0];
    if (windows(c, nsp, x->shape + 2, k, 1, os + 2))
        return -1;
    return set_out(c, 0, TT_DT_FLOAT, x->ndim, os);
}

static int r_pool(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    int ismax = !strcmp(c->nd->op, "MaxPool");
    if (x->dtype != TT_DT_FLOAT)
        return nerr(c, "input '%s' must be float", x->name);
    if (x->ndim < 3)
        return nerr(c, "input '%s' has rank %d, expected at least 3 (N, C, spatial...)",
                    x->name, x->ndim);
    int nsp = x->ndim - 2;
    int64_t k[MAXD];
    int r = attr_ints(c, "kernel_shape", nsp, 1, 1, INF_MAX_NUMEL, k);
    if (r < 0)
        return -1;
    if (r == 0)
        return nerr(c, "attribute 'kernel_shape' is required");
    int64_t os[MAXD];
    os[0] = x->shape[0];
    os[1] = x->shape[1];
    if (windows(c, nsp, x->shape + 2, k, ismax, os + 2))
        return -1;
    if (set_out(c, 0, TT_DT_FLOAT, x->ndim, os))
        return -1;
    if (c->nd->nout > 1 && !ismax)
        return nerr(c, "has %d outputs, expected 1", c->nd->nout);
    return set_out(c, 1, TT_DT_INT64, x->ndim, os);
}

static int r_global_pool(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    if (x->dtype != TT_DT_FLOAT)
        return nerr(c, "input '%s' must be float", x->name);
    if (x->ndim < 3)
        return nerr(c, "input '%s' has rank %d, expected at least 3", x->name, x->ndim);
    int64_t os[MAXD];
    for (int i = 0; i < x->ndim; i++)
        os[i] = i < 2 ? x->shape[i] : 1;
    return set_out(c, 0, TT_DT_FLOAT, x->ndim, os);
}

static int r_batchnorm(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    if (x->dtype != TT_DT_FLOAT)
        return nerr(c, "input '%s' must be float", x->name);
    if (x->ndim < 2)
        return nerr(c, "input '%s' has rank %d, expected at least 2", x->name, x->ndim);
    if (iattr(c->nd, "training_mode", 0) || c->nd->nout > 1)
        return nerr(c, "training mode (running statistics outputs) is not supported");
    static const char *names[] = {"", "scale", "bias", "mean", "variance"};
    for (int i = 1; i < 5; i++) {
        const tt_tensor *p = in_t(c, i);
        if (!p)
            return nerr(c, "input %d (%s) is missing", i, names[i]);
        if (p->ndim != 1 || p->shape[0] != x->shape[1] || p->dtype != TT_DT_FLOAT)
            return nerr(c, "%s '%s' must be float of shape [%lld]", names[i], p->name,
                        (long long)x->shape[1]);
    }
    return same_out(c, 0, x);
}

static int r_layernorm(ictx *c)
{
    const tt_tensor *x = in_t(c, 0), *sc = in_t(c, 1), *b = in_t(c, 2);
    if (x->dtype != TT_DT_FLOAT)
        return nerr(c, "input '%s' must be float", x->name);
    int ax = norm_axis(c, iattr(c->nd, "axis", -1), x->ndim, "axis");
    if (ax < 0)
        return -1;
    int nn = x->ndim - ax;
    const int64_t *ns = x->shape + ax;
    if (unidir(c, nn, ns, sc, "scale") || (b && unidir(c, nn, ns, b, "bias")))
        return -1;
    if (same_out(c, 0, x))
        return -1;
    int64_t ms[MAXD];
    for (int i = 0; i < x->ndim; i++)
        ms[i] = i < ax ? x->shape[i] : 1;
    if (set_out(c, 1, TT_DT_FLOAT, x->ndim, ms))
        return -1;
    return set_out(c, 2, TT_DT_FLOAT, x->ndim, ms);
}

/* ---- matrix products ---------------------------------------------------------- */

static int r_gemm(ictx *c)
{
    const tt_tensor *a = in_t(c, 0), *b = in_t(c, 1), *cc = in_t(c, 2);
    if (a->dtype != TT_DT_FLOAT || b->dtype != TT_DT_FLOAT)
        return nerr(c, "inputs must be float");
    if (a->ndim != 2 || b->ndim != 2)
        return nerr(c, "inputs must be 2-D, got ranks %d and %d", a->ndim, b->ndim);
    int ta = iattr(c->nd, "transA", 0) != 0, tb = iattr(c->nd, "transB", 0) != 0;
    int64_t m = a->shape[ta], ka = a->shape[1 - ta], kb = b->shape[tb], n = b->shape[1 - tb];
    if (ka != kb)
        return nerr(c, "inner dimensions differ: A gives %lld, B gives %lld (transA %d, "
                       "transB %d)",
                    (long long)ka, (long long)kb, ta, tb);
    int64_t os[2] = {m, n};
    if (cc && unidir(c, 2, os, cc, "C"))
        return -1;
    return set_out(c, 0, TT_DT_FLOAT, 2, os);
}

static int r_matmul(ictx *c)
{
    const tt_tensor *a = in_t(c, 0), *b = in_t(c, 1);
    if (a->dtype != b->dtype || !is_num(a->dtype))
        return nerr(c, "inputs must be numeric of one type");
    if (a->ndim < 1 || b->ndim < 1)
        return nerr(c, "inputs must have rank at least 1");
    /* numpy: a 1-D left operand is a row [1,K], a 1-D right one a column
     * [K,1]; the added dimension is removed from the result. */
    int64_t as[MAXD + 1], bs[MAXD + 1];
    int an = a->ndim, bn = b->ndim;
    memcpy(as + (an == 1), a->shape, (size_t)an * sizeof *as);
    memcpy(bs, b->shape, (size_t)bn * sizeof *bs);
    if (an == 1)
        as[0] = 1, an = 2;
    if (bn == 1)
        bs[1] = 1, bn = 2;
    int64_t k1 = as[an - 1], k2 = bs[bn - 2];
    if (k1 != k2)
        return nerr(c, "inner dimensions differ: '%s' has %lld, '%s' has %lld", a->name,
                    (long long)k1, b->name, (long long)k2);
    tt_tensor ba = {0}, bb = {0};
    ba.name = a->name, ba.ndim = an - 2, bb.name = b->name, bb.ndim = bn - 2;
    memcpy(ba.shape, as, (size_t)ba.ndim * sizeof *as);
    memcpy(bb.shape, bs, (size_t)bb.ndim * sizeof *bs);
    int on = ba.ndim;
    int64_t os[MAXD + 2];
    memcpy(os, ba.shape, (size_t)on * sizeof *os);
    if (bcast2(c, &on, os, &bb))
        return -1;
    if (a->ndim > 1)
        os[on++] = as[an - 2];
    if (b->ndim > 1)
        os[on++] = bs[bn - 1];
    return set_out(c, 0, a->dtype, on, os);
}

/* ---- shape manipulation -------------------------------------------------------- */

static int r_concat(ictx *c)
{
    const tt_tensor *a = in_t(c, 0);
    if (!tt_node_attr(c->nd, "axis"))
        return nerr(c, "attribute 'axis' is required");
    if (a->ndim == 0)
        return nerr(c, "cannot concatenate scalars");
    int ax = norm_axis(c, iattr(c->nd, "axis", 0), a->ndim, "axis");
    if (ax < 0)
        return -1;
    int64_t os[MAXD];
    memcpy(os, a->shape, (size_t)a->ndim * sizeof *os);
    os[ax] = 0;
    for (int i = 0; i < c->nd->nin; i++) {
        const tt_tensor *b = in_t(c, i);
        if (!b)
            return nerr(c, "input %d is missing", i);
        if (b->dtype != a->dtype || b->ndim != a->ndim)
            return nerr(c, "input '%s' (%s, rank %d) does not match '%s' (%s, rank %d)", b->name,
                        tt_dtype_name(b->dtype), b->ndim, a->name, tt_dtype_name(a->dtype),
                        a->ndim);
        for (int d = 0; d < a->ndim; d++)
            if (d != ax && b->shape[d] != a->shape[d])
                return nerr(c, "input '%s' has %lld on axis %d, '%s' has %lld", b->name,
                            (long long)b->shape[d], d, a->name, (long long)a->shape[d]);
        os[ax] += b->shape[ax];
        if (os[ax] > INF_MAX_NUMEL)
            return nerr(c, "concatenated axis is too long");
    }
    return set_out(c, 0, a->dtype, a->ndim, os);
}

static int r_flatten(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    int64_t axis = iattr(c->nd, "axis", 1);
    if (axis < 0)
        axis += x->ndim;
    if (axis < 0 || axis > x->ndim)
        return nerr(c, "axis %lld is out of range for rank %d",
                    (long long)iattr(c->nd, "axis", 1), x->ndim);
    int64_t os[2] = {1, 1};
    for (int i = 0; i < x->ndim; i++)
        os[i >= axis] *= x->shape[i];
    return set_out(c, 0, x->dtype, 2, os);
}

static int r_reshape(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    int64_t s[MAXD + 1];
    int n = const_ints(c, 1, "shape", s, MAXD);
    if (n < 0)
        return -1;
    int allowzero = iattr(c->nd, "allowzero", 0) != 0;
    int infer_at = -1;
    int64_t known = 1, total = tt_tensor_numel(x);
    for (int i = 0; i < n; i++) {
        if (s[i] == 0 && !allowzero) {
            if (i >= x->ndim)
                return nerr(c, "shape entry %d is 0 (copy) but the input has rank %d", i,
                            x->ndim);
            s[i] = x->shape[i];
        }
        if (s[i] == -1) {
            if (infer_at >= 0)
                return nerr(c, "shape has more than one -1");
            infer_at = i;
            continue;
        }
        if (s[i] < 0 || s[i] > INF_MAX_NUMEL)
            return nerr(c, "shape entry %d is %lld", i, (long long)s[i]);
        if (s[i] && known > INF_MAX_NUMEL / s[i])
            return nerr(c, "shape is too large");
        known *= s[i];
    }
    if (infer_at >= 0) {
        if (known == 0 || total % known)
            return nerr(c, "cannot reshape %lld elements with -1 and %lld known", (long long)total,
                        (long long)known);
        s[infer_at] = total / known;
    } else if (known != total) {
        char sa[128], sb[128];
        shape_str(sa, sizeof sa, x->ndim, x->shape);
        shape_str(sb, sizeof sb, n, s);
        return nerr(c, "cannot reshape %s (%lld elements) to %s", sa, (long long)total, sb);
    }
    return set_out(c, 0, x->dtype, n, s);
}

static int r_transpose(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    int64_t perm[MAXD];
    const tt_attr *a = tt_node_attr(c->nd, "perm");
    if (a) {
        if (attr_ints(c, "perm", x->ndim, 0, 0, x->ndim - 1, perm) < 0)
            return -1;
    } else
        for (int i = 0; i < x->ndim; i++)
            perm[i] = x->ndim - 1 - i;
    int seen[MAXD] = {0};
    int64_t os[MAXD];
    for (int i = 0; i < x->ndim; i++) {
        if (seen[perm[i]]++)
            return nerr(c, "perm repeats axis %lld", (long long)perm[i]);
        os[i] = x->shape[perm[i]];
    }
    return set_out(c, 0, x->dtype, x->ndim, os);
}

static int r_softmax(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    if (x->dtype != TT_DT_FLOAT)
        return nerr(c, "input '%s' must be float", x->name);
    if (x->ndim == 0)
        return nerr(c, "input '%s' is a scalar", x->name);
    if (norm_axis(c, iattr(c->nd, "axis", -1), x->ndim, "axis") < 0)
        return -1;
    return same_out(c, 0, x);
}

static int r_reduce(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    if (!is_num(x->dtype))
        return nerr(c, "input '%s' must be numeric", x->name);
    int64_t axes[MAXD];
    int n = read_axes(c, 1, x->ndim, axes);
    if (n == -1)
        return -1;
    int keep = iattr(c->nd, "keepdims", 1) != 0;
    int red[MAXD] = {0};
    if (n <= 0) {
        if (iattr(c->nd, "noop_with_empty_axes", 0))
            return same_out(c, 0, x);
        for (int i = 0; i < x->ndim; i++)
            red[i] = 1;
    }
    for (int i = 0; i < n; i++)
        red[axes[i]] = 1;
    int64_t os[MAXD];
    int on = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (red[i] && x->shape[i] == 0 && !strcmp(c->nd->op, "ReduceMean"))
            return nerr(c, "mean over an empty axis %d", i);
        if (!red[i])
            os[on++] = x->shape[i];
        else if (keep)
            os[on++] = 1;
    }
    return set_out(c, 0, x->dtype, on, os);
}

static int r_argminmax(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    int ax = norm_axis(c, iattr(c->nd, "axis", 0), x->ndim, "axis");
    if (ax < 0)
        return -1;
    if (x->shape[ax] == 0)
        return nerr(c, "axis %d is empty", ax);
    int keep = iattr(c->nd, "keepdims", 1) != 0;
    int64_t os[MAXD];
    int on = 0;
    for (int i = 0; i < x->ndim; i++)
        if (i != ax)
            os[on++] = x->shape[i];
        else if (keep)
            os[on++] = 1;
    return set_out(c, 0, TT_DT_INT64, on, os);
}

static int r_gather(ictx *c)
{
    const tt_tensor *x = in_t(c, 0), *ix = in_t(c, 1);
    if (ix->dtype != TT_DT_INT64 && ix->dtype != TT_DT_INT32)
        return nerr(c, "indices '%s' must be int64 or int32", ix->name);
    if (x->ndim == 0)
        return nerr(c, "data '%s' is a scalar", x->name);
    int ax = norm_axis(c, iattr(c->nd, "axis", 0), x->ndim, "axis");
    if (ax < 0)
        return -1;
    if (x->ndim - 1 + ix->ndim > MAXD)
        return nerr(c, "output rank exceeds %d", MAXD);
    if (ix->data) {
        int64_t n = tt_tensor_numel(ix), d = x->shape[ax];
        for (int64_t i = 0; i < n; i++) {
            int64_t v = ix->dtype == TT_DT_INT64 ? ((const int64_t *)ix->data)[i]
                                                 : ((const int32_t *)ix->data)[i];
            if (v < -d || v >= d)
                return nerr(c, "index %lld is out of range for axis %d of size %lld",
                            (long long)v, ax, (long long)d);
        }
    }
    int64_t os[MAXD];
    int on = 0;
    for (int i = 0; i < ax; i++)
        os[on++] = x->shape[i];
    for (int i = 0; i < ix->ndim; i++)
        os[on++] = ix->shape[i];
    for (int i = ax + 1; i < x->ndim; i++)
        os[on++] = x->shape[i];
    return set_out(c, 0, x->dtype, on, os);
}

static int r_split(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    if (x->ndim == 0)
        return nerr(c, "input '%s' is a scalar", x->name);
    int ax = norm_axis(c, iattr(c->nd, "axis", 0), x->ndim, "axis");
    if (ax < 0)
        return -1;
    int nout = c->nd->nout;
    int64_t sp[TT_NODE_MAX_IO];
    int n = -2;
    const tt_attr *a = tt_node_attr(c->nd, "split");
    if (in_t(c, 1)) {
        n = const_ints(c, 1, "split", sp, TT_NODE_MAX_IO);
        if (n < 0)
            return -1;
    } else if (a) {
        if (attr_ints(c, "split", a->n <= TT_NODE_MAX_IO ? a->n : 0, 0, 0, INF_MAX_NUMEL, sp) <
            0)
            return -1;
        n = a->n;
    }
    int64_t d = x->shape[ax];
    if (n >= 0) {
        if (n != nout)
            return nerr(c, "split has %d sizes for %d outputs", n, nout);
        int64_t sum = 0;
        for (int i = 0; i < n; i++) {
            if (sp[i] < 0 || sp[i] > INF_MAX_NUMEL)
                return nerr(c, "split size %lld is out of range", (long long)sp[i]);
            sum += sp[i];
        }
        if (sum != d)
            return nerr(c, "split sizes add up to %lld, axis %d has %lld", (long long)sum, ax,
                        (long long)d);
    } else {
        /* Equal parts; opset 18 lets the last one be smaller. */
        int64_t part = (d + nout - 1) / nout;
        if (part * (nout - 1) > d)
            return nerr(c, "axis %d of size %lld cannot be split into %d parts", ax,
                        (long long)d, nout);
        for (int i = 0; i < nout; i++)
            sp[i] = i < nout - 1 ? part : d - part * (nout - 1);
    }
    int64_t os[MAXD];
    memcpy(os, x->shape, (size_t)x->ndim * sizeof *os);
    for (int i = 0; i < nout; i++) {
        os[ax] = sp[i];
        if (set_out(c, i, x->dtype, x->ndim, os))
            return -1;
    }
    return 0;
}

/* Resolve one axis of Slice (ONNX's clamping rules); returns the length. */
static int64_t slice_axis(int64_t dim, int64_t *start, int64_t end, int64_t step)
{
    int64_t s = *start, e = end;
    if (s < 0)
        s = s < -dim ? 0 : s + dim;
    if (e < 0)
        e = e < -dim ? -1 : e + dim;
    if (step > 0) {
        s = s > dim ? dim : s;
        e = e < 0 ? 0 : e > dim ? dim : e;
    } else {
        s = s > dim - 1 ? dim - 1 : s;
        e = e > dim - 1 ? dim - 1 : e;
    }
    *start = s;
    if (step > 0)
        return e > s ? (e - s + step - 1) / step : 0;
    return s > e ? (s - e + (-step) - 1) / (-step) : 0;
}

int tt_infer_slice(tt_graph *g, int n, int64_t *start, int64_t *step, int64_t *len, tt_err *err)
{
    ictx cc = {g, n, &g->nodes[n], err}, *c = &cc;
    const tt_tensor *x = in_t(c, 0);
    int64_t st[MAXD], en[MAXD], ax[MAXD], sp[MAXD];
    int ns, ne, na, nsp;
    const tt_attr *as = tt_node_attr(c->nd, "starts");
    if (!in_t(c, 1) && as) {
        /* Slice-1 form (attributes), accepted for builders. */
        const tt_attr *ae = tt_node_attr(c->nd, "ends"), *aa = tt_node_attr(c->nd, "axes");
        if (!ae || as->kind != TT_ATTR_INTS || ae->kind != TT_ATTR_INTS || as->n > MAXD ||
            ae->n > MAXD || (aa && (aa->kind != TT_ATTR_INTS || aa->n > MAXD)))
            return nerr(c, "bad 'starts'/'ends'/'axes' attributes");
        ns = as->n, ne = ae->n;
        memcpy(st, as->ints, (size_t)ns * sizeof *st);
        memcpy(en, ae->ints, (size_t)ne * sizeof *en);
        na = aa ? aa->n : -2;
        if (aa)
            memcpy(ax, aa->ints, (size_t)na * sizeof *ax);
        nsp = -2;
    } else {
        if ((ns = const_ints(c, 1, "starts", st, MAXD)) < 0 ||
            (ne = const_ints(c, 2, "ends", en, MAXD)) < 0)
            return -1;
        na = in_t(c, 3) ? const_ints(c, 3, "axes", ax, MAXD) : -2;
        nsp = in_t(c, 4) ? const_ints(c, 4, "steps", sp, MAXD) : -2;
        if (na == -1 || nsp == -1)
            return -1;
    }
    if (ns != ne || (na >= 0 && na != ns) || (nsp >= 0 && nsp != ns))
        return nerr(c, "starts, ends, axes and steps differ in length");
    for (int i = 0; i < x->ndim; i++)
        start[i] = 0, step[i] = 1, len[i] = x->shape[i];
    int used[MAXD] = {0};
    for (int i = 0; i < ns; i++) {
        int a = na >= 0 ? norm_axis(c, ax[i], x->ndim, "axis") : i;
        if (a < 0)
            return -1;
        if (a >= x->ndim)
            return nerr(c, "%d starts for rank %d", ns, x->ndim);
        if (used[a]++)
            return nerr(c, "axis %d is repeated", a);
        int64_t stp = nsp >= 0 ? sp[i] : 1;
        if (stp == 0 || stp < -INF_MAX_NUMEL || stp > INF_MAX_NUMEL)
            return nerr(c, "step %lld is invalid", (long long)stp);
        start[a] = st[i];
        step[a] = stp;
        len[a] = slice_axis(x->shape[a], &start[a], en[i], stp);
    }
    return 0;
}

static int r_slice(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    int64_t st[MAXD], sp[MAXD], len[MAXD];
    if (tt_infer_slice(c->g, c->n, st, sp, len, c->err))
        return -1;
    return set_out(c, 0, x->dtype, x->ndim, len);
}

static int r_squeeze(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    int64_t axes[MAXD];
    int n = read_axes(c, 1, x->ndim, axes);
    if (n == -1)
        return -1;
    int drop[MAXD] = {0};
    for (int i = 0; i < x->ndim; i++)
        drop[i] = n < 0 && x->shape[i] == 1;
    for (int i = 0; i < n; i++) {
        if (x->shape[axes[i]] != 1)
            return nerr(c, "cannot squeeze axis %lld of size %lld", (long long)axes[i],
                        (long long)x->shape[axes[i]]);
        drop[axes[i]] = 1;
    }
    int64_t os[MAXD];
    int on = 0;
    for (int i = 0; i < x->ndim; i++)
        if (!drop[i])
            os[on++] = x->shape[i];
    return set_out(c, 0, x->dtype, on, os);
}

static int r_unsqueeze(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    int64_t raw[MAXD];
    int n;
    if (in_t(c, 1))
        n = const_ints(c, 1, "axes", raw, MAXD);
    else {
        const tt_attr *a = tt_node_attr(c->nd, "axes");
        if (!a || a->kind != TT_ATTR_INTS)
            return nerr(c, "axes are required");
        n = a->n > MAXD ? MAXD + 1 : a->n;
        if (n <= MAXD)
            memcpy(raw, a->ints, (size_t)n * sizeof *raw);
    }
    if (n < 0)
        return -1;
    int r = x->ndim + n;
    if (r > MAXD)
        return nerr(c, "output rank %d exceeds %d", r, MAXD);
    int ins[MAXD] = {0};
    for (int i = 0; i < n; i++) {
        int a = norm_axis(c, raw[i], r, "axis");
        if (a < 0)
            return -1;
        if (ins[a]++)
            return nerr(c, "axis %d is repeated", a);
    }
    int64_t os[MAXD];
    for (int i = 0, k = 0; i < r; i++)
        os[i] = ins[i] ? 1 : x->shape[k++];
    return set_out(c, 0, x->dtype, r, os);
}

static int r_pad(ictx *c)
{
    const tt_tensor *x = in_t(c, 0), *cv = in_t(c, 2);
    const char *mode = attr_str(c->nd, "mode", "constant");
    if (strcmp(mode, "constant") && strcmp(mode, "reflect") && strcmp(mode, "edge"))
        return nerr(c, "unknown mode '%s'", mode);
    int64_t pads[2 * MAXD], axes[MAXD];
    int np;
    if (in_t(c, 1))
        np = const_ints(c, 1, "pads", pads, 2 * MAXD);
    else {
        const tt_attr *a = tt_node_attr(c->nd, "pads");
        if (!a || a->kind != TT_ATTR_INTS || a->n > 2 * MAXD)
            return nerr(c, "pads are required");
        np = a->n;
        memcpy(pads, a->ints, (size_t)np * sizeof *pads);
    }
    if (np < 0)
        return -1;
    int na = x->ndim;
    for (int i = 0; i < na; i++)
        axes[i] = i;
    if (in_t(c, 3) && (na = read_axes(c, 3, x->ndim, axes)) < 0)
        return -1;
    if (np != 2 * na)
        return nerr(c, "%d pads for %d axes", np, na);
    if (cv && (tt_tensor_numel(cv) != 1 || cv->dtype != x->dtype))
        return nerr(c, "constant_value '%s' must be a scalar of the input's type", cv->name);
    int64_t os[MAXD];
    memcpy(os, x->shape, (size_t)x->ndim * sizeof *os);
    for (int i = 0; i < na; i++) {
        int64_t b = pads[i], e = pads[i + na];
        if (b < -INF_MAX_NUMEL || b > INF_MAX_NUMEL || e < -INF_MAX_NUMEL || e > INF_MAX_NUMEL)
            return nerr(c, "pad %lld/%lld is out of range", (long long)b, (long long)e);
        os[axes[i]] += b + e;
        if (os[axes[i]] < 0)
            return nerr(c, "padding makes axis %lld negative", (long long)axes[i]);
        if (strcmp(mode, "constant") && x->shape[axes[i]] == 0 && b + e > 0)
            return nerr(c, "cannot %s-pad an empty axis", mode);
    }
    return set_out(c, 0, x->dtype, x->ndim, os);
}

static int r_tile(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    int64_t rep[MAXD];
    int n = const_ints(c, 1, "repeats", rep, MAXD);
    if (n < 0)
        return -1;
    if (n != x->ndim)
        return nerr(c, "%d repeats for rank %d", n, x->ndim);
    int64_t os[MAXD];
    for (int i = 0; i < n; i++) {
        if (rep[i] < 0 || (x->shape[i] && rep[i] > INF_MAX_NUMEL / x->shape[i]))
            return nerr(c, "repeat %lld is out of range", (long long)rep[i]);
        os[i] = x->shape[i] * rep[i];
    }
    return set_out(c, 0, x->dtype, n, os);
}

static int r_expand(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    tt_tensor st = {0};
    st.name = "shape";
    int n = const_ints(c, 1, "shape", st.shape, MAXD);
    if (n < 0)
        return -1;
    st.ndim = n;
    for (int i = 0; i < n; i++)
        if (st.shape[i] < 0 || st.shape[i] > INF_MAX_NUMEL)
            return nerr(c, "shape entry %lld is out of range", (long long)st.shape[i]);
    int on = x->ndim;
    int64_t os[MAXD];
    memcpy(os, x->shape, (size_t)on * sizeof *os);
    if (bcast2(c, &on, os, &st))
        return -1;
    return set_out(c, 0, x->dtype, on, os);
}

/* ---- constants and shape values ------------------------------------------------ */

static int r_constant(ictx *c)
{
    const tt_attr *a;
    if ((a = tt_node_attr(c->nd, "value"))) {
        if (a->kind != TT_ATTR_TENSOR || a->tensor < 0 || a->tensor >= c->g->ntensors)
            return nerr(c, "attribute 'value' must be a tensor");
        const tt_tensor *t = &c->g->tensors[a->tensor];
        if (!t->data)
            return nerr(c, "attribute 'value' has no data");
        return same_out(c, 0, t);
    }
    if ((a = tt_node_attr(c->nd, "value_float")) && a->kind == TT_ATTR_FLOAT)
        return set_out(c, 0, TT_DT_FLOAT, 0, NULL);
    if ((a = tt_node_attr(c->nd, "value_int")) && a->kind == TT_ATTR_INT)
        return set_out(c, 0, TT_DT_INT64, 0, NULL);
    int isf = (a = tt_node_attr(c->nd, "value_floats")) && a->kind == TT_ATTR_FLOATS;
    if (isf || ((a = tt_node_attr(c->nd, "value_ints")) && a->kind == TT_ATTR_INTS)) {
        int64_t len = a->n;
        return set_out(c, 0, isf ? TT_DT_FLOAT : TT_DT_INT64, 1, &len);
    }
    return nerr(c, "no supported value attribute (value, value_float(s), value_int(s))");
}

static int r_shape(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    int64_t r = x->ndim, s = iattr(c->nd, "start", 0), e = iattr(c->nd, "end", r);
    s = s < 0 ? s + r : s;
    e = e < 0 ? e + r : e;
    s = s < 0 ? 0 : s > r ? r : s;
    e = e < 0 ? 0 : e > r ? r : e;
    int64_t n = e > s ? e - s : 0;
    return set_out(c, 0, TT_DT_INT64, 1, &n);
}

static int r_size(ictx *c)
{
    return set_out(c, 0, TT_DT_INT64, 0, NULL);
}

static int r_range(ictx *c)
{
    const tt_tensor *s = in_t(c, 0), *l = in_t(c, 1), *d = in_t(c, 2);
    if (s->dtype != l->dtype || s->dtype != d->dtype || !is_num(s->dtype))
        return nerr(c, "start, limit and delta must be numeric of one type");
    double vs, vl, vd;
    if (const_scalar(c, 0, "start", &vs) || const_scalar(c, 1, "limit", &vl) ||
        const_scalar(c, 2, "delta", &vd))
        return -1;
    if (vd == 0)
        return nerr(c, "delta is 0");
    double n = ceil((vl - vs) / vd);
    if (n < 0)
        n = 0;
    if (n > (double)INF_MAX_NUMEL)
        return nerr(c, "range of %g elements is too large", n);
    int64_t len = (int64_t)n;
    return set_out(c, 0, s->dtype, 1, &len);
}

static int r_constant_of_shape(ictx *c)
{
    int64_t s[MAXD];
    int n = const_ints(c, 0, "shape", s, MAXD);
    if (n < 0)
        return -1;
    tt_dtype dt = TT_DT_FLOAT;
    const tt_attr *a = tt_node_attr(c->nd, "value");
    if (a) {
        if (a->kind != TT_ATTR_TENSOR || a->tensor < 0 || a->tensor >= c->g->ntensors)
            return nerr(c, "attribute 'value' must be a tensor");
        const tt_tensor *t = &c->g->tensors[a->tensor];
        if (tt_tensor_numel(t) != 1 || !t->data)
            return nerr(c, "attribute 'value' must hold one element");
        dt = t->dtype;
    }
    return set_out(c, 0, dt, n, s);
}

/* ---- the rule table ------------------------------------------------------------- */

typedef struct rule {
    const char *op;
    int (*fn)(ictx *c);
    int min_in, max_in; /* input count bounds (max -1: any) */
    int max_out;        /* output count bound (-1: any) */
} rule;

static const rule rules[] = {
    {"Abs", r_unary_num, 1, 1, 1},
    {"Add", r_arith, 2, 2, 1},
    {"And", r_logic, 2, 2, 1},
    {"ArgMax", r_argminmax, 1, 1, 1},
    {"ArgMin", r_argminmax, 1, 1, 1},
    {"AveragePool", r_pool, 1, 1, 1},
    {"BatchNormalization", r_batchnorm, 5, 5, 5},
    {"Cast", r_cast, 1, 1, 1},
    {"Ceil", r_unary_float, 1, 1, 1},
    {"Clip", r_clip, 1, 3, 1},
    {"Concat", r_concat, 1, -1, 1},
    {"Constant", r_constant, 0, 0, 1},
    {"ConstantOfShape", r_constant_of_shape, 1, 1, 1},
    {"Conv", r_conv, 2, 3, 1},
    {"Cos", r_unary_float, 1, 1, 1},
    {"Div", r_arith, 2, 2, 1},
    {"Dropout", r_dropout, 1, 3, 2},
    {"Elu", r_unary_float, 1, 1, 1},
    {"Equal", r_cmp, 2, 2, 1},
    {"Erf", r_unary_float, 1, 1, 1},
    {"Exp", r_unary_float, 1, 1, 1},
    {"Expand", r_expand, 2, 2, 1},
    {"Flatten", r_flatten, 1, 1, 1},
    {"Floor", r_unary_float, 1, 1, 1},
    {"Gather", r_gather, 2, 2, 1},
    {"Gemm", r_gemm, 2, 3, 1},
    {"GlobalAveragePool", r_global_pool, 1, 1, 1},
    {"GlobalMaxPool", r_global_pool, 1, 1, 1},
    {"Greater", r_cmp, 2, 2, 1},
    {"GreaterOrEqual", r_cmp, 2, 2, 1},
    {"HardSigmoid", r_unary_float, 1, 1, 1},
    {"HardSwish", r_unary_float, 1, 1, 1},
    {"Identity", r_identity, 1, 1, 1},
    {"LayerNormalization", r_layernorm, 2, 3, 3},
    {"LeakyRelu", r_unary_float, 1, 1, 1},
    {"Less", r_cmp, 2, 2, 1},
    {"LessOrEqual", r_cmp, 2, 2, 1},
    {"Log", r_unary_float, 1, 1, 1},
    {"LogSoftmax", r_softmax, 1, 1, 1},
    {"MatMul", r_matmul, 2, 2, 1},
    {"Max", r_arith, 1, -1, 1},
    {"MaxPool", r_pool, 1, 1, 2},
    {"Mean", r_arith, 1, -1, 1},
    {"Min", r_arith, 1, -1, 1},
    {"Mod", r_arith, 2, 2, 1},
    {"Mul", r_arith, 2, 2, 1},
    {"Neg", r_unary_num, 1, 1, 1},
    {"Not", r_not, 1, 1, 1},
    {"Or", r_logic, 2, 2, 1},
    {"PRelu", r_prelu, 2, 2, 1},
    {"Pad", r_pad, 1, 4, 1},
    {"Pow", r_pow, 2, 2, 1},
    {"Range", r_range, 3, 3, 1},
    {"Reciprocal", r_unary_float, 1, 1, 1},
    {"ReduceL2", r_reduce, 1, 2, 1},
    {"ReduceMax", r_reduce, 1, 2, 1},
    {"ReduceMean", r_reduce, 1, 2, 1},
    {"ReduceMin", r_reduce, 1, 2, 1},
    {"ReduceProd", r_reduce, 1, 2, 1},
    {"ReduceSum", r_reduce, 1, 2, 1},
    {"ReduceSumSquare", r_reduce, 1, 2, 1},
    {"Relu", r_unary_num, 1, 1, 1},
    {"Reshape", r_reshape, 2, 2, 1},
    {"Round", r_unary_float, 1, 1, 1},
    {"Selu", r_unary_float, 1, 1, 1},
    {"Shape", r_shape, 1, 1, 1},
    {"Sigmoid", r_unary_float, 1, 1, 1},
    {"Sign", r_unary_num, 1, 1, 1},
    {"Sin", r_unary_float, 1, 1, 1},
    {"Size", r_size, 1, 1, 1},
    {"Slice", r_slice, 1, 5, 1},
    {"Softmax", r_softmax, 1, 1, 1},
    {"Softplus", r_unary_float, 1, 1, 1},
    {"Split", r_split, 1, 2, -1},
    {"Sqrt", r_unary_float, 1, 1, 1},
    {"Squeeze", r_squeeze, 1, 2, 1},
    {"Sub", r_arith, 2, 2, 1},
    {"Sum", r_arith, 1, -1, 1},
    {"Tanh", r_unary_float, 1, 1, 1},
    {"Tile", r_tile, 2, 2, 1},
    {"Transpose", r_transpose, 1, 1, 1},
    {"Unsqueeze", r_unsqueeze, 1, 2, 1},
    {"Where", r_where, 3, 3, 1},
};

static int rule_cmp(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const rule *)elem)->op);
}

static const rule *find_rule(const char *op)
{
    return bsearch(op, rules, sizeof rules / sizeof rules[0], sizeof rules[0], rule_cmp);
}

int tt_graph_infer_node(tt_graph *g, int n, tt_err *err)
{
    tt_node *nd = &g->nodes[n];
    ictx c = {g, n, nd, err};
    const rule *r = find_rule(nd->op);
    if (!r)
        return tt_err_set(err, "unsupported operator '%s' (node '%s')", nd->op, nd->name);
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
