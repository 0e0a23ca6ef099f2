/* resample.c - resizing and zero-insertion (see dag.h, tt_dag_resize and
 * tt_dag_dilate).
 *
 * Every index is integer arithmetic on the output axis: an output index o
 * reads the source coordinate (a o + b) / den, a rational number, so that
 * floor, ceil and the two roundings of ONNX's nearest modes are exact
 * (floordiv), and linear interpolation's weight is the remainder over den.
 * TOPI's resize computes the coordinate in float; a float coordinate of
 * (o + 0.5) * in / out - 0.5 can round across an integer where the rational
 * one cannot, which matters for nearest.
 */
#include "dag.h"

#include <stdio.h>
#include <string.h>

static tt_expr *ti(tt_dag *d, int64_t v) { return tt_e_int(d->arena, v); }
static tt_expr *tb(tt_dag *d, tt_ekind k, tt_expr *x, tt_expr *y) { return tt_e_bin(d->arena, k, x, y); }

/* a o + b for output axis i */
static tt_expr *coord_num(tt_dag *d, int i, const tt_resample_axis *r)
{
    tt_expr *e = r->a == 1 ? tt_e_axis(d->arena, i) : tb(d, TT_E_MUL, tt_e_axis(d->arena, i), ti(d, r->a));
    return r->b ? tb(d, TT_E_ADD, e, ti(d, r->b)) : e;
}

static tt_expr *clamp(tt_dag *d, tt_expr *x, int64_t lo, int64_t hi)
{
    return tb(d, TT_E_MAX, tb(d, TT_E_MIN, x, ti(d, hi)), ti(d, lo));
}

/* The nearest source index of axis i. */
static tt_expr *nearest_index(tt_dag *d, int i, const tt_resample_axis *r)
{
    tt_expr *num = coord_num(d, i, r);
    int64_t den = r->den;
    tt_expr *idx;
    switch (r->mode) {
    case TT_RS_FLOOR: idx = tb(d, TT_E_FLOORDIV, num, ti(d, den)); break;
    case TT_RS_CEIL: idx = tb(d, TT_E_FLOORDIV, tb(d, TT_E_ADD, num, ti(d, den - 1)), ti(d, den)); break;
    case TT_RS_ROUND_PREFER_FLOOR: /* ceil(x - 1/2) */
        idx = tb(d, TT_E_FLOORDIV, tb(d, TT_E_ADD, tb(d, TT_E_MUL, num, ti(d, 2)), ti(d, den - 1)), ti(d, 2 * den));
        break;
    default: /* round_prefer_ceil: floor(x + 1/2) */
        idx = tb(d, TT_E_FLOORDIV, tb(d, TT_E_ADD, tb(d, TT_E_MUL, num, ti(d, 2)), ti(d, den)), ti(d, 2 * den));
        break;
    }
    return clamp(d, idx, 0, r->in - 1);
}

/* Linear along axis i: the two source indices and the weight of the second
 * (the coordinate clamped to [0, in - 1] first, as ONNX Runtime and PyTorch
 * do). */
static void linear_index(tt_dag *d, int i, const tt_resample_axis *r, tt_expr **i0, tt_expr **i1, tt_expr **w)
{
    tt_expr *num = clamp(d, coord_num(d, i, r), 0, (r->in - 1) * r->den);
    *i0 = tb(d, TT_E_FLOORDIV, num, ti(d, r->den));
    *i1 = tb(d, TT_E_MIN, tb(d, TT_E_ADD, *i0, ti(d, 1)), ti(d, r->in - 1));
    tt_expr *rem = tb(d, TT_E_FLOORMOD, num, ti(d, r->den));
    *w = tb(d, TT_E_DIV, tt_e_un(d->arena, TT_E_CAST, rem), tt_e_float(d->arena, (double)r->den));
}

int tt_dag_resize(tt_dag *d, int x, int naxes, const tt_resample_axis *ax, tt_err *err)
{
    tt_op *X = tt_dag_op(d, x);
    int n = X->ndim;
    int64_t shape[TT_MAX_DIMS];
    for (int i = 0; i < n; i++)
        shape[i] = X->axis[i].extent;
    const tt_resample_axis *per[TT_MAX_DIMS] = {0};
    int nlin = 0;
    for (int k = 0; k < naxes; k++) {
        const tt_resample_axis *r = &ax[k];
        if (r->axis < 0 || r->axis >= n || per[r->axis] || r->in != shape[r->axis] || r->out < 1 || r->den < 1)
            return tt_err_set(err, "resize: bad axis %d", r->axis);
        per[r->axis] = r;
        shape[r->axis] = r->out;
        nlin += r->mode == TT_RS_LINEAR;
    }
    if (nlin > 3)
        return tt_err_set(err, "resize: linear along more than 3 axes");
    int y = tt_dag_compute(d, "resize", "injective,resize", n, shape, NULL, 0, NULL, NULL, TT_RED_NONE);
    /* per linear axis: its two indices and weight; the body sums the 2^nlin
     * corners, nested as PyTorch's upsample kernels: w0 (w0' x00 + w1' x01) + w1 (..) */
    tt_expr *lo[TT_MAX_DIMS], *hi[TT_MAX_DIMS], *wt[TT_MAX_DIMS];
    int lin_axis[3], l = 0;
    tt_expr *base[TT_MAX_DIMS];
    for (int i = 0; i < n; i++) {
        const tt_resample_axis *r = per[i];
        if (!r) {
            base[i] = tt_e_axis(d->arena, i);
        } else if (r->mode == TT_RS_LINEAR) {
            linear_index(d, i, r, &lo[i], &hi[i], &wt[i]);
            base[i] = lo[i];
            lin_axis[l++] = i;
        } else {
            base[i] = nearest_index(d, i, r);
        }
    }
    tt_expr *body = NULL;
    /* corners by recursion over the linear axes, innermost last */
    tt_expr *acc[1 << 3];
    for (int c = 0; c < (1 << nlin); c++) {
        tt_expr *idx[TT_MAX_DIMS];
        memcpy(idx, base, sizeof idx);
        for (int k = 0; k < nlin; k++)
            if (c >> (nlin - 1 - k) & 1)
                idx[lin_axis[k]] = hi[lin_axis[k]];
        acc[c] = tt_e_load(d->arena, x, n, idx);
    }
    for (int k = nlin - 1; k >= 0; k--) {
        tt_expr *w1 = wt[lin_axis[k]], *w0 = tb(d, TT_E_SUB, tt_e_float(d->arena, 1.0), w1);
        for (int c = 0; c < (1 << k); c++)
            acc[c] = tb(d, TT_E_ADD, tb(d, TT_E_MUL, acc[2 * c], w0), tb(d, TT_E_MUL, acc[2 * c + 1], w1));
    }
    body = acc[0];
    tt_op *op = tt_dag_op(d, y);
    op->body = body;
    snprintf(op->attrs, sizeof op->attrs, "resize");
    return y;
}

int tt_dag_dilate(tt_dag *d, int x, const int64_t *strides, tt_err *err)
{
    tt_op *X = tt_dag_op(d, x);
    int n = X->ndim;
    int64_t shape[TT_MAX_DIMS];
    for (int i = 0; i < n; i++) {
        if (strides[i] < 1)
            return tt_err_set(err, "dilate: stride %lld", (long long)strides[i]);
        shape[i] = (X->axis[i].extent - 1) * strides[i] + 1;
    }
    /* TOPI's nn.dilate: "DilatedInput", tag injective,dilate */
    int y = tt_dag_compute(d, "DilatedInput", "injective,dilate", n, shape, NULL, 0, NULL, NULL, TT_RED_NONE);
    tt_expr *idx[TT_MAX_DIMS], *cond = NULL;
    for (int i = 0; i < n; i++) {
        tt_expr *a = tt_e_axis(d->arena, i);
        if (strides[i] == 1) {
            idx[i] = a;
            continue;
        }
        idx[i] = tb(d, TT_E_FLOORDIV, a, ti(d, strides[i]));
        tt_expr *c = tb(d, TT_E_EQ, tb(d, TT_E_FLOORMOD, a, ti(d, strides[i])), ti(d, 0));
        cond = cond ? tb(d, TT_E_AND, cond, c) : c;
    }
    tt_op *op = tt_dag_op(d, y);
    tt_expr *ld = tt_e_load(d->arena, x, n, idx);
    op->body = cond ? tt_e_select(d->arena, cond, ld, tt_e_float(d->arena, 0.0)) : ld;
    return y;
}
