/* layout.c - NCHW -> NHWC.
 *
 * TOPI's x86 schedules that Ansor's records were tuned on are NHWC with HWIO
 * weights, and NHWC keeps the channel loop innermost, where vectors go.  The
 * pass walks the nodes in order and decides each rank-4 activation's layout:
 *
 *   Conv, MaxPool, AveragePool, GlobalAveragePool, Resize, tt.Dilate
 *                                   input NHWC, output NHWC
 *   elementwise ops                 NHWC if an activation input is NHWC; the
 *                                   other inputs follow (constants permuted)
 *   Concat                          NHWC along the permuted axis
 *   Softmax, ReduceMean             axes remapped
 *   anything else (Flatten, Reshape, MatMul, ...)   reads NCHW: an NHWC input
 *                                   is transposed back (free when H = W = 1)
 *
 * A conversion is a Transpose node (a kernel); each tensor is converted at
 * most once each way.  An NHWC tensor's stored shape is its physical shape
 * [N,H,W,C] and its `layout` says so.  Graph outputs are returned to NCHW.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_int.h"

typedef struct lay {
    tt_graph *g;
    int cap;
    int *nhwc, *plain; /* per tensor: its converted twin, or -1 */
} lay;

static void lay_grow(lay *L)
{
    int n = L->g->ntensors;
    if (n <= L->cap)
        return;
    int cap = n * 2;
    L->nhwc = tt_xrealloc(L->nhwc, (size_t)cap * sizeof *L->nhwc);
    L->plain = tt_xrealloc(L->plain, (size_t)cap * sizeof *L->plain);
    for (int i = L->cap; i < cap; i++)
        L->nhwc[i] = L->plain[i] = -1;
    L->cap = cap;
}

/* logical NCHW axis -> physical NHWC position */
static const int to_phys[4] = {0, 3, 1, 2};

static int is_act(const tt_graph *g, int t) { return t >= 0 && !g->tensors[t].data; }

static int is_nhwc(const tt_graph *g, int t)
{
    return t >= 0 && g->tensors[t].layout == TT_LAYOUT_NHWC;
}

static void set_nhwc_shape(tt_tensor *t)
{
    int64_t n = t->shape[0], c = t->shape[1], h = t->shape[2], w = t->shape[3];
    t->shape[0] = n;
    t->shape[1] = h;
    t->shape[2] = w;
    t->shape[3] = c;
    t->layout = TT_LAYOUT_NHWC;
}

static int to_nhwc(lay *L, int t)
{
    tt_graph *g = L->g;
    if (is_nhwc(g, t) || g->tensors[t].ndim != 4)
        return t;
    lay_grow(L);
    if (L->nhwc[t] >= 0)
        return L->nhwc[t];
    const tt_tensor *x = &g->tensors[t];
    int64_t shp[4] = {x->shape[0], x->shape[2], x->shape[3], x->shape[1]};
    char base[200];
    snprintf(base, sizeof base, "%.150s_nhwc", x->name);
    int y;
    if (x->data) {
        /* a constant: permute its data */
        const float *d = x->data;
        int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
        float *p = tt_xmalloc((size_t)(N * C * H * W) * sizeof *p);
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = 0; c < C; c++)
                for (int64_t h = 0; h < H; h++)
                    for (int64_t w = 0; w < W; w++)
                        p[((n * H + h) * W + w) * C + c] = d[((n * C + c) * H + h) * W + w];
        y = mp_new_const(g, base, 4, shp, p);
    } else {
        y = mp_new_tensor(g, base, TT_DT_FLOAT, 4, shp);
        int nd = mp_node(g, TT_GOP_TRANSPOSE, base, 1, &t, y);
        int64_t perm[4] = {0, 2, 3, 1};
        tt_node_set_ints(g, nd, "perm", 4, perm);
    }
    g->tensors[y].layout = TT_LAYOUT_NHWC;
    lay_grow(L);
    L->nhwc[t] = y;
    L->plain[y] = t;
    return y;
}

static int to_plain(lay *L, int t)
{
    tt_graph *g = L->g;
    if (!is_nhwc(g, t))
        return t;
    lay_grow(L);
    if (L->plain[t] >= 0)
        return L->plain[t];
    const tt_tensor *x = &g->tensors[t];
    int64_t shp[4] = {x->shape[0], x->shape[3], x->shape[1], x->shape[2]};
    int trivial = x->shape[1] == 1 && x->shape[2] == 1;
    char base[200];
    snprintf(base, sizeof base, "%.150s_nchw", x->name);
    int y = mp_new_tensor(g, base, TT_DT_FLOAT, 4, shp);
    if (trivial) {
        /* [N,1,1,C] and [N,C,1,1] have the same memory order: an alias */
        mp_node(g, TT_GOP_ALIAS, base, 1, &t, y);
    } else {
        int nd = mp_node(g, TT_GOP_TRANSPOSE, base, 1, &t, y);
        int64_t perm[4] = {0, 3, 1, 2};
        tt_node_set_ints(g, nd, "perm", 4, perm);
    }
    lay_grow(L);
    L->plain[t] = y;
    L->nhwc[y] = t;
    return y;
}

/* A constant of rank <= 4 broadcast against an NHWC activation: pad its
 * shape to rank 4 with leading 1s and permute it. */
static int const_nhwc(lay *L, int t)
{
    tt_graph *g = L->g;
    const tt_tensor *x = &g->tensors[t];
    if (x->dtype != TT_DT_FLOAT || tt_tensor_numel(x) <= 1)
        return t;
    if (x->ndim > 4)
        return -1;
    if (x->ndim == 4)
        return to_nhwc(L, t);
    lay_grow(L);
    if (L->nhwc[t] >= 0)
        return L->nhwc[t];
    int64_t s4[4] = {1, 1, 1, 1};
    for (int i = 0; i < x->ndim; i++)
        s4[4 - x->ndim + i] = x->shape[i];
    int64_t n = tt_tensor_numel(x);
    float *d = tt_xmalloc((size_t)n * sizeof *d);
    memcpy(d, x->data, (size_t)n * sizeof *d);
    char base[200];
    snprintf(base, sizeof base, "%.150s_r4", x->name);
    int r4 = mp_new_const(g, base, 4, s4, d);
    int y = to_nhwc(L, r4);
    L->nhwc[t] = y;
    return y;
}

static int is_elementwise(tt_gop op)
{
    return tt_gop_is_elementwise(op) || op == TT_GOP_LEAKY_RELU;
}

static int is_spatial(tt_gop op)
{
    return op == TT_GOP_CONV || op == TT_GOP_MAX_POOL || op == TT_GOP_AVERAGE_POOL ||
           op == TT_GOP_GLOBAL_AVERAGE_POOL || op == TT_GOP_RESIZE || op == TT_GOP_DILATE;
}

/* The one live node that reads tensor t (t not a graph output), else -1. */
static int sole_user(const tt_graph *g, int t)
{
    int u;
    return !g->tensors[t].is_output && tt_graph_users(g, t, &u, 1) == 1 ? u : -1;
}

/* ShuffleNet's channel shuffle of an NHWC tensor x (logical [N,C,H,W]):
 *   Reshape [N,g,C/g,H,W] -> Transpose [0,2,1,3,4] -> Reshape [N,C,H,W]
 * starting at node i becomes one tt.ChannelShuffle (groups g) on the NHWC
 * tensor, NHWC out: a gather along the channels, where the NCHW spelling would
 * cost a transpose to NCHW, the 5-D transpose and one back (three copies).
 * Returns 1 if rewritten. */
static int shuffle_rewrite(lay *L, int i)
{
    tt_graph *g = L->g;
    int x = g->nodes[i].in[0], r5 = g->nodes[i].out[0];
    const tt_tensor *X = &g->tensors[x], *R5 = &g->tensors[r5];
    if (g->nodes[i].op != TT_GOP_RESHAPE || !is_nhwc(g, x) || X->ndim != 4 || R5->ndim != 5)
        return 0;
    int64_t N = X->shape[0], H = X->shape[1], W = X->shape[2], C = X->shape[3];
    int64_t G = R5->shape[1];
    if (R5->shape[0] != N || G < 1 || C % G || R5->shape[2] != C / G || R5->shape[3] != H ||
        R5->shape[4] != W)
        return 0;
    int j = sole_user(g, r5);
    if (j < 0 || g->nodes[j].op != TT_GOP_TRANSPOSE)
        return 0;
    const tt_attr *pa = tt_node_attr(&g->nodes[j], "perm");
    static const int64_t want[5] = {0, 2, 1, 3, 4};
    if (!pa || pa->n != 5 || memcmp(pa->ints, want, sizeof want))
        return 0;
    int t5 = g->nodes[j].out[0];
    int k = sole_user(g, t5);
    if (k < 0 || g->nodes[k].op != TT_GOP_RESHAPE)
        return 0;
    int y = g->nodes[k].out[0];
    const tt_tensor *Y = &g->tensors[y];
    if (Y->ndim != 4 || Y->shape[0] != N || Y->shape[1] != C || Y->shape[2] != H || Y->shape[3] != W)
        return 0;
    char name[200];
    snprintf(name, sizeof name, "%.190s", g->nodes[k].name);
    g->nodes[i].dead = g->nodes[j].dead = g->nodes[k].dead = 1;
    int nd = mp_node(g, TT_GOP_CHANNEL_SHUFFLE, name, 1, &x, y);
    tt_node_set_int(g, nd, "groups", G);
    set_nhwc_shape(&g->tensors[y]);
    return 1;
}

/* A slice of an NHWC tensor along one axis: tt.SliceAxis on the permuted
 * axis (a Slice with constant starts and unit steps is first reduced to that
 * form).  Returns 1 if done, 0 if the node must read NCHW. */
static int slice_nhwc(lay *L, int i)
{
    tt_graph *g = L->g;
    tt_node *n = &g->nodes[i];
    int x = n->in[0], out = n->out[0];
    const tt_tensor *X = &g->tensors[x], *O = &g->tensors[out];
    if (!is_nhwc(g, x) || X->ndim != 4 || O->ndim != 4)
        return 0;
    int64_t ax = -1, start = 0;
    if (n->op == TT_GOP_SLICE_AXIS) {
        ax = tt_node_int(n, "axis", 0);
        start = tt_node_int(n, "start", 0);
    } else if (n->op == TT_GOP_SLICE) {
        const tt_tensor *S = n->nin > 1 && n->in[1] >= 0 ? &g->tensors[n->in[1]] : NULL;
        const tt_tensor *A = n->nin > 3 && n->in[3] >= 0 ? &g->tensors[n->in[3]] : NULL;
        const tt_tensor *P = n->nin > 4 && n->in[4] >= 0 ? &g->tensors[n->in[4]] : NULL;
        if (!S || !S->data || S->dtype != TT_DT_INT64 || (A && (!A->data || A->dtype != TT_DT_INT64)) ||
            (P && (!P->data || P->dtype != TT_DT_INT64)))
            return 0;
        int64_t cnt = tt_tensor_numel(S);
        if ((A && tt_tensor_numel(A) != cnt) || (P && tt_tensor_numel(P) != cnt))
            return 0; /* malformed: left to the NCHW path and its checks */
        for (int64_t k = 0; k < cnt; k++) {
            int64_t a = A ? ((const int64_t *)A->data)[k] : k;
            if (a < 0)
                a += 4;
            if (a < 0 || a > 3 || (P && ((const int64_t *)P->data)[k] != 1))
                return 0;
            /* the logical (NCHW) extent of axis a in X */
            int64_t dim = X->shape[to_phys[a]];
            int64_t s0 = ((const int64_t *)S->data)[k];
            if (s0 < 0)
                s0 += dim;
            s0 = s0 < 0 ? 0 : s0 > dim ? dim : s0;
            if (s0 == 0 && O->shape[a] == dim)
                continue; /* this axis is whole */
            if (ax >= 0 && ax != a)
                return 0; /* more than one axis sliced */
            ax = a;
            start = s0;
        }
        if (ax < 0)
            ax = 1, start = 0; /* a copy */
    } else {
        return 0;
    }
    if (ax < 0 || ax > 3)
        return 0;
    for (int d = 0; d < 4; d++)
        if (d != ax && O->shape[d] != X->shape[to_phys[d]])
            return 0;
    char name[200];
    snprintf(name, sizeof name, "%.190s", n->name);
    n->dead = 1;
    int nd = mp_node(g, TT_GOP_SLICE_AXIS, name, 1, &x, out);
    tt_node_set_int(g, nd, "axis", to_phys[ax]);
    tt_node_set_int(g, nd, "start", start);
    set_nhwc_shape(&g->tensors[out]);
    return 1;
}

/* Zero padding of H and W read only by an AveragePool of no padding of its
 * own (torch's avg_pool2d with count_include_pad, as Inception exports it) is
 * that pool with the pads and count_include_pad = 1: one kernel instead of a
 * padded copy and a pool.  Returns 1 if the Pad node i was folded away. */
static int pad_into_avgpool(lay *L, int i)
{
    tt_graph *g = L->g;
    const tt_node *n = &g->nodes[i];
    int x = n->in[0], out = n->out[0];
    const tt_tensor *P = &g->tensors[n->in[1]];
    if (P->dtype != TT_DT_INT64 || tt_tensor_numel(P) != 8)
        return 0;
    const int64_t *pd = P->data;
    /* NCHW order: [n0, c0, h0, w0, n1, c1, h1, w1]; only H and W, none negative */
    if (pd[0] || pd[1] || pd[4] || pd[5] || pd[2] < 0 || pd[3] < 0 || pd[6] < 0 || pd[7] < 0)
        return 0;
    if (n->nin > 2 && n->in[2] >= 0) {
        const tt_tensor *V = &g->tensors[n->in[2]];
        if (!V->data || V->dtype != TT_DT_FLOAT || tt_tensor_numel(V) != 1 || ((const float *)V->data)[0] != 0)
            return 0;
    }
    const tt_attr *va = tt_node_attr(n, "value");
    if (va && va->f != 0)
        return 0;
    int u = sole_user(g, out);
    if (u < 0 || g->nodes[u].op != TT_GOP_AVERAGE_POOL || g->nodes[u].in[0] != out)
        return 0;
    const tt_node *pool = &g->nodes[u];
    const tt_attr *pp = tt_node_attr(pool, "pads");
    if (pp)
        for (int k = 0; k < pp->n; k++)
            if (pp->ints[k])
                return 0;
    const tt_attr *ap = tt_node_attr(pool, "auto_pad");
    if (tt_node_int(pool, "ceil_mode", 0) ||
        (ap && (ap->kind != TT_ATTR_STRING || !ap->s || strcmp(ap->s, "NOTSET"))))
        return 0;
    int64_t pads[4] = {pd[2], pd[3], pd[6], pd[7]};
    tt_node_set_ints(g, u, "pads", 4, pads);
    tt_node_set_int(g, u, "count_include_pad", 1);
    g->nodes[u].in[0] = x;
    g->nodes[i].dead = 1;
    return 1;
}

/* ---- the pass: one step per kind of node ----------------------------------------
 * Each step (the lay_* below, shuffle_rewrite and slice_nhwc above) returns
 * 1 if node i now works in NHWC (its NHWC inputs read as they are), 0 if it
 * must read NCHW (mp_layout_nhwc then converts its NHWC inputs back); a
 * step that returns 0 has changed nothing. */

/* Conv and the pools on a rank-4 input: the input converted to NHWC, the
 * output NHWC. */
static int lay_spatial(lay *L, int i)
{
    tt_graph *g = L->g;
    if (!is_spatial(g->nodes[i].op) || g->tensors[g->nodes[i].in[0]].ndim != 4)
        return 0;
    int out = g->nodes[i].out[0];
    int x = to_nhwc(L, g->nodes[i].in[0]);
    g->nodes[i].in[0] = x;
    set_nhwc_shape(&g->tensors[out]);
    return 1;
}

/* An elementwise op of rank-4 output stays NHWC if every input that is not
 * NHWC can follow: a rank-4 activation (converted), a one-element
 * activation (as it is), a constant of rank <= 4 (permuted, const_nhwc). */
static int lay_elementwise(lay *L, int i)
{
    tt_graph *g = L->g;
    int nin = g->nodes[i].nin, out = g->nodes[i].out[0];
    if (g->tensors[out].ndim != 4)
        return 0;
    for (int k = 0; k < nin; k++) {
        int t = g->nodes[i].in[k];
        if (t < 0 || is_nhwc(g, t))
            continue;
        int ok = is_act(g, t) ? g->tensors[t].ndim == 4 || tt_tensor_numel(&g->tensors[t]) == 1
                              : g->tensors[t].ndim <= 4;
        if (!ok)
            return 0;
    }
    for (int k = 0; k < nin; k++) {
        int t = g->nodes[i].in[k];
        if (t < 0 || is_nhwc(g, t))
            continue;
        int y = is_act(g, t) ? (g->tensors[t].ndim == 4 ? to_nhwc(L, t) : t) : const_nhwc(L, t);
        g->nodes[i].in[k] = y;
    }
    set_nhwc_shape(&g->tensors[out]);
    return 1;
}

/* Concat of rank 4: every input NHWC, along the permuted axis. */
static int lay_concat(lay *L, int i)
{
    tt_graph *g = L->g;
    int nin = g->nodes[i].nin, out = g->nodes[i].out[0];
    if (g->tensors[out].ndim != 4)
        return 0;
    int64_t ax = tt_node_int(&g->nodes[i], "axis", 0);
    if (ax < 0)
        ax += 4;
    for (int k = 0; k < nin; k++)
        g->nodes[i].in[k] = to_nhwc(L, g->nodes[i].in[k]);
    tt_node_set_int(g, i, "axis", to_phys[ax]);
    set_nhwc_shape(&g->tensors[out]);
    return 1;
}

/* Softmax and LogSoftmax of rank 4: along the permuted axis. */
static int lay_softmax(lay *L, int i)
{
    tt_graph *g = L->g;
    int out = g->nodes[i].out[0];
    if (g->tensors[out].ndim != 4)
        return 0;
    int64_t ax = tt_node_int(&g->nodes[i], "axis", -1);
    if (ax < 0)
        ax += 4;
    tt_node_set_int(g, i, "axis", to_phys[ax]);
    set_nhwc_shape(&g->tensors[out]);
    return 1;
}

/* ReduceMean with 1 to 4 axes: over the permuted axes. */
static int lay_reduce_mean(lay *L, int i)
{
    tt_graph *g = L->g;
    int out = g->nodes[i].out[0];
    const tt_attr *a = tt_node_attr(&g->nodes[i], "axes");
    int keep = (int)tt_node_int(&g->nodes[i], "keepdims", 1);
    if (g->nodes[i].nin != 1 || !a || a->n < 1 || a->n > 4)
        return 0;
    int na = a->n;
    int64_t ax[4];
    int red[4] = {0};
    for (int k = 0; k < na; k++) {
        ax[k] = a->ints[k] < 0 ? a->ints[k] + 4 : a->ints[k];
        red[ax[k] & 3] = 1;
    }
    /* Without keepdims the remaining dims must read the same in both
     * layouts: only C (and N) left, or only H, W. */
    int left_c = !red[1], left_hw = !red[2] || !red[3];
    if (!keep && left_c && left_hw)
        return 0;
    int64_t pax[4];
    for (int k = 0; k < na; k++)
        pax[k] = to_phys[ax[k] & 3];
    tt_node_set_ints(g, i, "axes", na, pax);
    if (keep)
        set_nhwc_shape(&g->tensors[out]);
    return 1;
}

/* Constant padding of an NHWC tensor stays NHWC: kernel building (fuse.c)
 * reads the NCHW-ordered pads in the input's layout.  Inception's Pad
 * before every AveragePool cost two transposes; that Pad is folded into the
 * pool where it can be (pad_into_avgpool). */
static int lay_pad(lay *L, int i)
{
    tt_graph *g = L->g;
    const tt_node *n = &g->nodes[i];
    int out = n->out[0];
    if (g->tensors[out].ndim != 4 || !is_nhwc(g, n->in[0]))
        return 0;
    const tt_attr *mode = tt_node_attr(n, "mode");
    int const_pads = n->nin > 1 && n->in[1] >= 0 && g->tensors[n->in[1]].data;
    if ((mode && (mode->kind != TT_ATTR_STRING || !mode->s || strcmp(mode->s, "constant"))) ||
        !const_pads)
        return 0;
    if (pad_into_avgpool(L, i))
        return 1;
    set_nhwc_shape(&g->tensors[out]);
    return 1;
}

/* Node i, which reads an NHWC tensor, by its operator; anything without a
 * step of its own (Flatten, MatMul, a Reshape other than a channel shuffle,
 * ...) reads NCHW. */
static int lay_node(lay *L, int i)
{
    tt_gop op = L->g->nodes[i].op;
    switch (op) {
    case TT_GOP_CONCAT: return lay_concat(L, i);
    case TT_GOP_SOFTMAX:
    case TT_GOP_LOG_SOFTMAX: return lay_softmax(L, i);
    case TT_GOP_REDUCE_MEAN: return lay_reduce_mean(L, i);
    case TT_GOP_RESHAPE: return shuffle_rewrite(L, i);
    case TT_GOP_SLICE:
    case TT_GOP_SLICE_AXIS: return slice_nhwc(L, i);
    case TT_GOP_PAD: return lay_pad(L, i);
    default: return is_elementwise(op) && lay_elementwise(L, i);
    }
}

/* Whether node i reads an NHWC tensor. */
static int reads_nhwc(const tt_graph *g, int i)
{
    for (int k = 0; k < g->nodes[i].nin; k++)
        if (is_nhwc(g, g->nodes[i].in[k]))
            return 1;
    return 0;
}

/* Node i reads NCHW: each NHWC input converted back. */
static void lay_plain_inputs(lay *L, int i)
{
    tt_graph *g = L->g;
    for (int k = 0; k < g->nodes[i].nin; k++) {
        int t = g->nodes[i].in[k];
        if (is_nhwc(g, t))
            g->nodes[i].in[k] = to_plain(L, t);
    }
}

/* Graph outputs are returned to NCHW. */
static void lay_plain_outputs(lay *L)
{
    tt_graph *g = L->g;
    for (int i = 0; i < g->noutputs; i++) {
        int t = g->outputs[i];
        if (is_nhwc(g, t)) {
            int y = to_plain(L, t);
            g->tensors[t].is_output = 0;
            g->tensors[y].is_output = 1;
            g->outputs[i] = y;
        }
    }
}

int mp_layout_nhwc(tt_graph *g, tt_err *err)
{
    lay L = {g, 0, NULL, NULL};
    lay_grow(&L);
    /* the nodes the pass appends (conversions, rewrites) are not visited */
    int nn = g->nnodes;
    for (int i = 0; i < nn; i++) {
        if (g->nodes[i].dead || lay_spatial(&L, i) || !reads_nhwc(g, i))
            continue;
        if (!lay_node(&L, i))
            lay_plain_inputs(&L, i);
    }
    lay_plain_outputs(&L);
    free(L.nhwc);
    free(L.plain);
    (void)err;
    return 0;
}
