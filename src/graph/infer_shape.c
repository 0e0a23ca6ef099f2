/* infer_shape.c - shape and type inference rules (see infer.c) of the
 * operators that move data or make shapes: concat, reshape, transpose, softmax,
 * reductions, gather, split, slice, squeeze, pad, tile, expand, and the
 * constants and shape values.  The rule table and the helpers the rules
 * share are in infer.c.
 */
#include "graph.h"
#define TT_INFER_RULES /* the short names of infer_int.h */
#include "infer_int.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- shape manipulation -------------------------------------------------------- */

int tt_infer_rule_concat(ictx *c)
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

int tt_infer_rule_flatten(ictx *c)
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

int tt_infer_rule_reshape(ictx *c)
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

int tt_infer_rule_transpose(ictx *c)
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

int tt_infer_rule_softmax(ictx *c)
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

int tt_infer_rule_reduce(ictx *c)
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
        if (red[i] && x->shape[i] == 0 && c->nd->op == TT_GOP_REDUCE_MEAN)
            return nerr(c, "mean over an empty axis %d", i);
        if (!red[i])
            os[on++] = x->shape[i];
        else if (keep)
            os[on++] = 1;
    }
    return set_out(c, 0, x->dtype, on, os);
}

int tt_infer_rule_argminmax(ictx *c)
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

int tt_infer_rule_gather(ictx *c)
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

int tt_infer_rule_split(ictx *c)
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

int tt_infer_rule_slice(ictx *c)
{
    const tt_tensor *x = in_t(c, 0);
    int64_t st[MAXD], sp[MAXD], len[MAXD];
    if (tt_infer_slice(c->g, c->n, st, sp, len, c->err))
        return -1;
    return set_out(c, 0, x->dtype, x->ndim, len);
}

int tt_infer_rule_squeeze(ictx *c)
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

int tt_infer_rule_unsqueeze(ictx *c)
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

int tt_infer_rule_pad(ictx *c)
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

int tt_infer_rule_tile(ictx *c)
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

int tt_infer_rule_expand(ictx *c)
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

int tt_infer_rule_constant(ictx *c)
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

int tt_infer_rule_shape(ictx *c)
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

int tt_infer_rule_size(ictx *c)
{
    return set_out(c, 0, TT_DT_INT64, 0, NULL);
}

int tt_infer_rule_range(ictx *c)
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

int tt_infer_rule_constant_of_shape(ictx *c)
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
