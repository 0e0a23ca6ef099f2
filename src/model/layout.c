/* layout.c - NCHW -> NHWC.
 *
 * TOPI's x86 schedules that Ansor's records were tuned on are NHWC with HWIO
 * weights, and NHWC keeps the channel loop innermost, where vectors go.  The
 * pass walks the nodes in order and decides each rank-4 activation's layout:
 *
 *   Conv, MaxPool, AveragePool, GlobalAveragePool   input NHWC, output NHWC
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
        int nd = mp_node(g, "Transpose", base, 1, &t, y);
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
        mp_node(g, "tt.Alias", base, 1, &t, y);
    } else {
        int nd = mp_node(g, "Transpose", base, 1, &t, y);
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

static int is_elementwise(const char *op)
{
    static const char *const ew[] = {"Add",     "Sub",  "Mul",  "Div",  "Pow",         "Max",
                                     "Min",     "Relu", "Clip", "Sigmoid", "Tanh",     "Erf",
                                     "Sqrt",    "Exp",  "Neg",  "HardSigmoid", "HardSwish",
                                     "LeakyRelu", NULL};
    for (int i = 0; ew[i]; i++)
        if (!strcmp(op, ew[i]))
            return 1;
    return 0;
}

static int is_spatial(const char *op)
{
    return !strcmp(op, "Conv") || !strcmp(op, "MaxPool") || !strcmp(op, "AveragePool") ||
           !strcmp(op, "GlobalAveragePool");
}

int mp_layout_nhwc(tt_graph *g, tt_err *err)
{
    lay L = {g, 0, NULL, NULL};
    lay_grow(&L);
    int nn = g->nnodes;
    for (int i = 0; i < nn; i++) {
        if (g->nodes[i].dead)
            continue;
        const char *op = g->nodes[i].op;
        int nin = g->nodes[i].nin, out = g->nodes[i].out[0];
        if (is_spatial(op) && g->tensors[g->nodes[i].in[0]].ndim == 4) {
            int x = to_nhwc(&L, g->nodes[i].in[0]);
            g->nodes[i].in[0] = x;
            set_nhwc_shape(&g->tensors[out]);
            continue;
        }
        int any = 0;
        for (int k = 0; k < nin; k++)
            any |= is_nhwc(g, g->nodes[i].in[k]);
        if (!any)
            continue;
        if (is_elementwise(op) && g->tensors[out].ndim == 4) {
            int ok = 1;
            for (int k = 0; k < nin && ok; k++) {
                int t = g->nodes[i].in[k];
                if (t < 0 || is_nhwc(g, t))
                    continue;
                if (is_act(g, t))
                    ok = g->tensors[t].ndim == 4 || tt_tensor_numel(&g->tensors[t]) == 1;
                else
                    ok = g->tensors[t].ndim <= 4;
            }
            if (ok) {
                for (int k = 0; k < nin; k++) {
                    int t = g->nodes[i].in[k];
                    if (t < 0 || is_nhwc(g, t))
                        continue;
                    int y = is_act(g, t) ? (g->tensors[t].ndim == 4 ? to_nhwc(&L, t) : t)
                                         : const_nhwc(&L, t);
                    g->nodes[i].in[k] = y;
                }
                set_nhwc_shape(&g->tensors[out]);
                continue;
            }
        }
        if (!strcmp(op, "Concat") && g->tensors[out].ndim == 4) {
            int64_t ax = tt_node_int(&g->nodes[i], "axis", 0);
            if (ax < 0)
                ax += 4;
            for (int k = 0; k < nin; k++)
                g->nodes[i].in[k] = to_nhwc(&L, g->nodes[i].in[k]);
            tt_node_set_int(g, i, "axis", to_phys[ax]);
            set_nhwc_shape(&g->tensors[out]);
            continue;
        }
        if ((!strcmp(op, "Softmax") || !strcmp(op, "LogSoftmax")) && g->tensors[out].ndim == 4) {
            int64_t ax = tt_node_int(&g->nodes[i], "axis", -1);
            if (ax < 0)
                ax += 4;
            tt_node_set_int(g, i, "axis", to_phys[ax]);
            set_nhwc_shape(&g->tensors[out]);
            continue;
        }
        if (!strcmp(op, "ReduceMean") && nin == 1) {
            const tt_attr *a = tt_node_attr(&g->nodes[i], "axes");
            int keep = (int)tt_node_int(&g->nodes[i], "keepdims", 1);
            if (a && a->n >= 1 && a->n <= 4) {
                int64_t ax[4];
                int red[4] = {0};
                for (int k = 0; k < a->n; k++) {
                    ax[k] = a->ints[k] < 0 ? a->ints[k] + 4 : a->ints[k];
                    red[ax[k] & 3] = 1;
                }
                /* Without keepdims the remaining dims must read the same in
                 * both layouts: only C (and N) left, or only H, W. */
                int left_c = !red[1], left_hw = !red[2] || !red[3];
                if (keep || !(left_c && left_hw)) {
                    int64_t pax[4];
                    for (int k = 0; k < a->n; k++)
                        pax[k] = to_phys[ax[k] & 3];
                    tt_node_set_ints(g, i, "axes", a->n, pax);
                    if (keep)
                        set_nhwc_shape(&g->tensors[out]);
                    continue;
                }
            }
        }
        /* Everything else reads NCHW. */
        for (int k = 0; k < nin; k++) {
            int t = g->nodes[i].in[k];
            if (is_nhwc(g, t))
                g->nodes[i].in[k] = to_plain(&L, t);
        }
    }
    for (int i = 0; i < g->noutputs; i++) {
        int t = g->outputs[i];
        if (is_nhwc(g, t)) {
            int y = to_plain(&L, t);
            g->tensors[t].is_output = 0;
            g->tensors[y].is_output = 1;
            g->outputs[i] = y;
        }
    }
    free(L.nhwc);
    free(L.plain);
    (void)err;
    return 0;
}
