/* anchors.c - the kernel builders of fusion's anchor ops (conv, dense,
 * batch_matmul, pooling, softmax, layer norm, mean, concat, transpose,
 * slice, pad, resize, dilate): each turns its node into the DAG a kernel
 * starts with (see fuse.c for the grouping around them). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_int.h"

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
    double v = kb_const_scalar(g, n->nin > 2 ? n->in[2] : -1, 0.0);
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

mp_anchor_fn mp_anchor_builder(tt_gop op, int *open)
{
    *open = op < TT_GOP_COUNT && anchor_ops[op].open;
    return op < TT_GOP_COUNT ? anchor_ops[op].build : NULL;
}
