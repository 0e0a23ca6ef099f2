/* infer_ops.c - shape and type inference rules (see infer.c) of the
 * elementwise operators, convolution, pooling, normalization and matrix
 * products.  The rule table and the helpers the rules share are in infer.c.
 */
#include "graph.h"
#define TT_INFER_RULES /* the short names of infer_int.h */
#include "infer_int.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- elementwise ------------------------------------------------------------- */

int tt_infer_rule_unary_float(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    if (x->dtype != TT_DT_FLOAT)
        return nerr(c, "input '%s' must be float, not %s", x->name, tt_dtype_name(x->dtype));
    return same_out(c, 0, x);
}

int tt_infer_rule_unary_num(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    if (!is_num(x->dtype))
        return nerr(c, "input '%s' must be numeric, not %s", x->name, tt_dtype_name(x->dtype));
    return same_out(c, 0, x);
}

int tt_infer_rule_identity(ictx *c)
{
    return same_out(c, 0, in_t(c, 0));
}

int tt_infer_rule_dropout(ictx *c)
{
    const tt_tensor *x = in_t(c, 0), *tm = in_t(c, 2), *ratio = in_t(c, 1);
    /* training mode drops elements at random, except with ratio 0 (what an
     * exporter writes for F.dropout(x, p=0.0, training=True): the identity) */
    int zero = ratio && ratio->data && ratio->dtype == TT_DT_FLOAT && tt_tensor_numel(ratio) == 1 &&
               ((const float *)ratio->data)[0] == 0.0f;
    if (tm && tm->data && tm->dtype == TT_DT_BOOL && ((const uint8_t *)tm->data)[0] && !zero)
        return nerr(c, "training mode with a dropout ratio other than 0 is not supported");
    if (same_out(c, 0, x))
        return -1;
    return set_out(c, 1, TT_DT_BOOL, x->ndim, x->shape);
}

int tt_infer_rule_not(ictx *c)
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

int tt_infer_rule_arith(ictx *c) { return binary(c, BIN_ARITH); }
int tt_infer_rule_pow(ictx *c) { return binary(c, BIN_POW); }
int tt_infer_rule_cmp(ictx *c) { return binary(c, BIN_CMP); }
int tt_infer_rule_logic(ictx *c) { return binary(c, BIN_LOGIC); }
int tt_infer_rule_prelu(ictx *c) { return binary(c, BIN_PRELU); }

int tt_infer_rule_where(ictx *c)
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

int tt_infer_rule_clip(ictx *c)
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

int tt_infer_rule_cast(ictx *c)
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

int tt_infer_rule_conv(ictx *c)
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

/* ConvTranspose (2-D): x [N, Ci, H, W], w [Ci, Co/g, kh, kw], bias [Co];
 * out = stride (in - 1) + output_padding + (k - 1) dilation + 1 - pads, or
 * output_shape with the pads it implies (ONNX's rule), stored back as
 * explicit "pads" (auto_pad NOTSET, output_shape dropped). */
int tt_infer_rule_conv_transpose(ictx *c)
{
    const tt_tensor *x = in_t(c, 0), *w = in_t(c, 1), *b = in_t(c, 2);
    if (x->dtype != TT_DT_FLOAT || w->dtype != TT_DT_FLOAT)
        return nerr(c, "input and weight must be float");
    if (x->ndim != 4 || w->ndim != 4)
        return nerr(c, "only 2-D transposed convolutions (rank 4) are supported, input has rank %d", x->ndim);
    int64_t grp = iattr(c->nd, "group", 1);
    if (grp < 1 || x->shape[1] % grp || w->shape[0] != x->shape[1])
        return nerr(c, "input has %lld channels, the weight %lld (group %lld)", (long long)x->shape[1],
                    (long long)w->shape[0], (long long)grp);
    int64_t co = w->shape[1] * grp;
    if (b && (b->ndim != 1 || b->shape[0] != co || b->dtype != TT_DT_FLOAT))
        return nerr(c, "bias '%s' must be float [%lld]", b->name, (long long)co);
    int64_t s[2], d[2], p[4], op[2], os[2];
    if (attr_ints(c, "strides", 2, 1, 1, INF_MAX_STEP, s) < 0 || attr_ints(c, "dilations", 2, 1, 1, INF_MAX_STEP, d) < 0 ||
        attr_ints(c, "pads", 4, 0, 0, INF_MAX_NUMEL, p) < 0 ||
        attr_ints(c, "output_padding", 2, 0, 0, INF_MAX_STEP, op) < 0)
        return -1;
    int has_os = attr_ints(c, "output_shape", 2, 1, 1, INF_MAX_NUMEL, os);
    if (has_os < 0)
        return -1;
    const char *ap = attr_str(c->nd, "auto_pad", "NOTSET");
    int upper = !strcmp(ap, "SAME_UPPER"), lower = !strcmp(ap, "SAME_LOWER");
    if (!upper && !lower && strcmp(ap, "NOTSET") && strcmp(ap, "VALID"))
        return nerr(c, "unknown auto_pad '%s'", ap);
    int64_t out[4] = {x->shape[0], co, 0, 0};
    for (int i = 0; i < 2; i++) {
        int64_t k = w->shape[2 + i], eff = (k - 1) * d[i] + 1;
        int64_t full = s[i] * (x->shape[2 + i] - 1) + op[i] + eff;
        if (!strcmp(ap, "VALID"))
            p[i] = p[i + 2] = 0;
        if (has_os || upper || lower) {
            int64_t want = has_os ? os[i] : x->shape[2 + i] * s[i];
            int64_t total = full - want;
            if (total < 0)
                return nerr(c, "output size %lld is larger than the transposed convolution gives (%lld)",
                            (long long)want, (long long)full);
            /* SAME_UPPER puts the extra pad at the end; output_shape and SAME_LOWER at the start */
            p[i] = upper ? total / 2 : total - total / 2;
            p[i + 2] = total - p[i];
        }
        out[2 + i] = full - p[i] - p[i + 2];
        if (out[2 + i] < 1)
            return nerr(c, "the pads leave no output on spatial axis %d", i);
    }
    tt_node_set_ints(c->g, c->n, "pads", 4, p);
    tt_node_set_string(c->g, c->n, "auto_pad", "NOTSET");
    return set_out(c, 0, TT_DT_FLOAT, 4, out);
}

/* Resize: the output shape from sizes (input 3), else floor(in x scales)
 * (input 2; input 1 for opset 10's Resize(X, scales)); both constants. */
int tt_infer_rule_resize(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    const tt_tensor *sc = c->nd->nin == 2 ? in_t(c, 1) : in_t(c, 2), *sz = in_t(c, 3);
    if (x->dtype != TT_DT_FLOAT)
        return nerr(c, "input '%s' must be float", x->name);
    if (tt_node_attr(c->nd, "axes"))
        return nerr(c, "the attribute axes is not supported");
    int64_t out[MAXD];
    if (sz && tt_tensor_numel(sz) > 0) {
        if (!sz->data || sz->dtype != TT_DT_INT64 || tt_tensor_numel(sz) != x->ndim)
            return nerr(c, "sizes must be a constant int64 tensor of %d values", x->ndim);
        for (int i = 0; i < x->ndim; i++) {
            out[i] = ((const int64_t *)sz->data)[i];
            if (out[i] < 1 || out[i] > INF_MAX_NUMEL)
                return nerr(c, "size %lld out of range", (long long)out[i]);
        }
    } else if (sc && tt_tensor_numel(sc) > 0) {
        if (!sc->data || sc->dtype != TT_DT_FLOAT || tt_tensor_numel(sc) != x->ndim)
            return nerr(c, "scales must be a constant float tensor of %d values", x->ndim);
        for (int i = 0; i < x->ndim; i++) {
            double v = floor((double)x->shape[i] * ((const float *)sc->data)[i]);
            if (!(v >= 1 && v <= (double)INF_MAX_NUMEL))
                return nerr(c, "scale %g gives %g elements", ((const float *)sc->data)[i], v);
            out[i] = (int64_t)v;
        }
    } else {
        return nerr(c, "neither scales nor sizes given");
    }
    return set_out(c, 0, TT_DT_FLOAT, x->ndim, out);
}

int tt_infer_rule_pool(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    int ismax = c->nd->op == TT_GOP_MAX_POOL;
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

int tt_infer_rule_global_pool(ictx *c)
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

int tt_infer_rule_batchnorm(ictx *c)
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

/* InstanceNormalization: x [N, C, D1..], scale and B [C]; y as x. */
int tt_infer_rule_instnorm(ictx *c)
{
    const tt_tensor *x = in_t(c, 0), *sc = in_t(c, 1), *b = in_t(c, 2);
    if (x->dtype != TT_DT_FLOAT)
        return nerr(c, "input '%s' must be float", x->name);
    if (x->ndim < 2)
        return nerr(c, "input '%s' has rank %d (N, C, ... expected)", x->name, x->ndim);
    if (sc->ndim != 1 || b->ndim != 1 || sc->shape[0] != x->shape[1] || b->shape[0] != x->shape[1])
        return nerr(c, "scale and B must be [%lld] (the channels)", (long long)x->shape[1]);
    return same_out(c, 0, x);
}

int tt_infer_rule_layernorm(ictx *c)
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

int tt_infer_rule_gemm(ictx *c)
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

int tt_infer_rule_matmul(ictx *c)
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

/* Einsum: the batched matrix products tt_einsum_matmul accepts (the passes
 * rewrite them into MatMul). */
int tt_infer_rule_einsum(ictx *c)
{
    if (c->nd->nin != 2)
        return nerr(c, "Einsum of %d operands: only two (a matrix product) are supported", c->nd->nin);
    const tt_tensor *a = in_t(c, 0), *b = in_t(c, 1);
    const char *eq = attr_str(c->nd, "equation", NULL);
    int tb = 0;
    if (!eq || tt_einsum_matmul(eq, a->ndim, b->ndim, &tb))
        return nerr(c, "Einsum equation '%s': only batched matrix products are supported "
                       "(\"b i k, b k j -> b i j\" or \"b i k, b j k -> b i j\", same batch letters)",
                    eq ? eq : "(none)");
    if (a->dtype != TT_DT_FLOAT || b->dtype != TT_DT_FLOAT)
        return nerr(c, "Einsum: float operands only");
    int n = a->ndim;
    int64_t os[MAXD];
    for (int d = 0; d < n - 2; d++) {
        if (a->shape[d] != b->shape[d])
            return nerr(c, "Einsum: batch dimension %d differs (%lld, %lld)", d, (long long)a->shape[d],
                        (long long)b->shape[d]);
        os[d] = a->shape[d];
    }
    int64_t k1 = a->shape[n - 1], k2 = tb ? b->shape[n - 1] : b->shape[n - 2];
    if (k1 != k2)
        return nerr(c, "Einsum: contracted dimensions differ (%lld, %lld)", (long long)k1, (long long)k2);
    os[n - 2] = a->shape[n - 2];
    os[n - 1] = tb ? b->shape[n - 2] : b->shape[n - 1];
    return set_out(c, 0, TT_DT_FLOAT, n, os);
}

/* ScatterND: data's shape and type (folded when every input is a constant,
 * as the masks of shifted-window attention are). */
int tt_infer_rule_scatter_nd(ictx *c)
{
    const tt_tensor *data = in_t(c, 0), *idx = in_t(c, 1), *upd = in_t(c, 2);
    if (idx->dtype != TT_DT_INT64)
        return nerr(c, "indices '%s' must be int64", idx->name);
    if (upd->dtype != data->dtype)
        return nerr(c, "updates '%s' and data '%s' differ in type", upd->name, data->name);
    int q = idx->ndim;
    if (q < 1 || idx->shape[q - 1] < 1 || idx->shape[q - 1] > data->ndim)
        return nerr(c, "indices '%s': the last dimension must be 1..%d", idx->name, data->ndim);
    if (strcmp(attr_str(c->nd, "reduction", "none"), "none"))
        return nerr(c, "ScatterND reduction '%s': only 'none' is supported", attr_str(c->nd, "reduction", ""));
    return same_out(c, 0, data);
}
