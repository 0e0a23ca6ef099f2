/* passes.c - graph passes that run before fusion.  Each is a rewrite over
 * the live nodes in order; nodes are marked dead, never removed, and new
 * nodes are appended (a final toposort puts them in place).
 *
 *   fold       constants, including torch's Shape->Gather->Concat->Reshape chains
 *   simplify   Identity, Dropout and 1x1/stride-1 AveragePool vanish
 *   bn         BatchNormalization folded into the Conv before it, else a
 *              per-channel Mul and Add (Relay's SimplifyInference)
 *   matmul     Gemm and MatMul with constant weights -> tt.Dense (weights
 *              [N,K], TOPI's dense layout); MatMul of two activations ->
 *              tt.BatchMatMul with the second operand transposed ([B,N,K])
 *   layernorm  torch's decomposed LayerNorm -> LayerNormalization
 *   layout     NCHW -> NHWC for every rank-4 activation (model.h)
 *   dce        nodes whose outputs nobody reads
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_int.h"

/* ---- helpers --------------------------------------------------------------- */

int mp_new_tensor(tt_graph *g, const char *base, tt_dtype dt, int ndim, const int64_t *shape)
{
    char name[256];
    for (int k = g->ntensors;; k++) {
        snprintf(name, sizeof name, "%.200s__%d", base, k);
        if (tt_graph_find(g, name) < 0)
            break;
    }
    int t = tt_graph_tensor(g, name, dt, ndim, shape, NULL);
    if (t < 0)
        abort(); /* names are unique by construction */
    return t;
}

int mp_new_const(tt_graph *g, const char *base, int ndim, const int64_t *shape, float *data)
{
    int t = mp_new_tensor(g, base, TT_DT_FLOAT, ndim, shape);
    g->tensors[t].data = data;
    return t;
}

int mp_node(tt_graph *g, tt_gop op, const char *name, int nin, const int *in, int out)
{
    g->tensors[out].producer = -1;
    int n = tt_graph_node(g, op, name, nin, in, 1, &out, NULL);
    if (n < 0)
        abort();
    return n;
}

void mp_replace_uses(tt_graph *g, int from, int to)
{
    for (int i = 0; i < g->nnodes; i++) {
        tt_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] == from)
                n->in[k] = to;
    }
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == from) {
            g->outputs[i] = to;
            g->tensors[from].is_output = 0;
            g->tensors[to].is_output = 1;
        }
}

const float *mp_fdata(const tt_graph *g, int t)
{
    if (t < 0 || g->tensors[t].dtype != TT_DT_FLOAT)
        return NULL;
    return g->tensors[t].data;
}

static int nusers(const tt_graph *g, int t)
{
    int dummy;
    return tt_graph_users(g, t, &dummy, 1) + g->tensors[t].is_output;
}

static int user1(const tt_graph *g, int t)
{
    int u[2];
    int n = tt_graph_users(g, t, u, 2);
    return n == 1 && !g->tensors[t].is_output ? u[0] : -1;
}

static int is_op(const tt_graph *g, int n, tt_gop op)
{
    return n >= 0 && !g->nodes[n].dead && g->nodes[n].op == op;
}

/* A constant float equal to v (every element). */
static int const_is(const tt_graph *g, int t, double v)
{
    const float *d = mp_fdata(g, t);
    int64_t n = d ? tt_tensor_numel(&g->tensors[t]) : 0;
    if (n < 1)
        return 0;
    for (int64_t i = 0; i < n; i++)
        if (fabs(d[i] - v) > 1e-6 * fabs(v) + 1e-12)
            return 0;
    return 1;
}

/* ---- simplify --------------------------------------------------------------- */

static int pass_simplify(tt_graph *g)
{
    for (int i = 0; i < g->nnodes; i++) {
        tt_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        int vanish = 0;
        if (n->op == TT_GOP_IDENTITY)
            vanish = 1;
        else if (n->op == TT_GOP_DROPOUT)
            vanish = n->nout == 1 || nusers(g, n->out[1]) == 0;
        else if (n->op == TT_GOP_AVERAGE_POOL || n->op == TT_GOP_MAX_POOL) {
            const tt_attr *k = tt_node_attr(n, "kernel_shape"), *s = tt_node_attr(n, "strides"),
                          *p = tt_node_attr(n, "pads");
            int ones = k && k->kind == TT_ATTR_INTS;
            for (int j = 0; ones && j < k->n; j++)
                ones = k->ints[j] == 1;
            for (int j = 0; ones && s && j < s->n; j++)
                ones = s->ints[j] == 1;
            for (int j = 0; ones && p && j < p->n; j++)
                ones = p->ints[j] == 0;
            vanish = ones && n->nout == 1;
        }
        /* A vanishing node whose input is a graph input and whose output is a
         * graph output would leave an empty program: keep it then. */
        if (vanish && !(g->tensors[n->in[0]].is_input && g->tensors[n->out[0]].is_output)) {
            n->dead = 1;
            mp_replace_uses(g, n->out[0], n->in[0]);
        }
    }
    return 0;
}

/* Gather of an activation at constant indices (qkv[0] in attention, a class
 * token x[:, 0]) -> slices: one tt.SliceAxis for a run of consecutive
 * indices, else one per index and a Concat; then a tt.Alias to the Gather's
 * shape where the index tensor's rank removes or adds dimensions.  (A
 * constant table at activation ids stays a gather: the embedding lookup.)
 * Returns 1 if a node was rewritten (appended nodes: toposort), -1 on error. */
static int pass_gather_slices(tt_graph *g, tt_err *err)
{
    int changed = 0, nn = g->nnodes;
    for (int i = 0; i < nn; i++) {
        tt_node *n = &g->nodes[i];
        if (n->dead || n->op != TT_GOP_GATHER || n->nin != 2 || g->tensors[n->in[0]].data ||
            !g->tensors[n->in[1]].data)
            continue;
        int x = n->in[0], ix = n->in[1], out = n->out[0], r = g->tensors[x].ndim;
        const tt_tensor *I = &g->tensors[ix];
        int64_t ax = tt_node_int(n, "axis", 0), m = tt_tensor_numel(I);
        if (ax < 0)
            ax += r;
        if (ax < 0 || ax >= r || m < 1 || (I->dtype != TT_DT_INT64 && I->dtype != TT_DT_INT32))
            return tt_err_set(err, "node '%s' (Gather): bad axis or indices", n->name);
        if (m > TT_NODE_MAX_IO)
            continue; /* too many for slices: the executor gathers (a host call, fuse.c) */
        int64_t E = g->tensors[x].shape[ax], *v = tt_xmalloc((size_t)m * sizeof *v);
        int run = 1;
        for (int64_t j = 0; j < m; j++) {
            v[j] = I->dtype == TT_DT_INT64 ? ((const int64_t *)I->data)[j] : ((const int32_t *)I->data)[j];
            if (v[j] < 0)
                v[j] += E;
            if (v[j] < 0 || v[j] >= E) {
                free(v);
                return tt_err_set(err, "node '%s' (Gather): index %lld out of range [0, %lld)", n->name,
                                  (long long)v[j], (long long)E);
            }
            run &= j == 0 || v[j] == v[j - 1] + 1;
        }
        char base[200];
        snprintf(base, sizeof base, "%.190s", n->name);
        n->dead = 1;
        /* [.., m, ..]: the slices joined along the axis */
        int64_t shape[TT_GRAPH_MAX_DIMS];
        memcpy(shape, g->tensors[x].shape, (size_t)r * sizeof *shape);
        shape[ax] = m;
        int same = g->tensors[out].ndim == r && !memcmp(g->tensors[out].shape, shape, (size_t)r * sizeof *shape);
        int joined = same ? out : mp_new_tensor(g, base, g->tensors[x].dtype, r, shape);
        if (run) {
            int nd = mp_node(g, TT_GOP_SLICE_AXIS, base, 1, &x, joined);
            tt_node_set_int(g, nd, "axis", ax);
            tt_node_set_int(g, nd, "start", v[0]);
        } else {
            int parts[TT_NODE_MAX_IO];
            shape[ax] = 1;
            for (int64_t j = 0; j < m; j++) {
                parts[j] = mp_new_tensor(g, base, g->tensors[x].dtype, r, shape);
                int nd = mp_node(g, TT_GOP_SLICE_AXIS, base, 1, &x, parts[j]);
                tt_node_set_int(g, nd, "axis", ax);
                tt_node_set_int(g, nd, "start", v[j]);
            }
            g->tensors[joined].producer = -1;
            int nd = tt_graph_node(g, TT_GOP_CONCAT, base, (int)m, parts, 1, &joined, NULL);
            if (nd < 0)
                abort();
            tt_node_set_int(g, nd, "axis", ax);
        }
        if (!same)
            mp_node(g, TT_GOP_ALIAS, base, 1, &joined, out);
        free(v);
        changed = 1;
    }
    return changed;
}

/* A Concat of more inputs than a kernel takes (DenseNet-169's last blocks
 * join 32 and more maps): the first CONCAT_MAX_IN joined first, that
 * result then joined with the rest, again until each Concat fits.  Returns
 * 1 if a node was split (nodes appended: toposort). */
#define CONCAT_MAX_IN 24
static int pass_split_concat(tt_graph *g)
{
    int changed = 0;
    for (int i = 0; i < g->nnodes; i++) {
        tt_node *n = &g->nodes[i];
        if (n->dead || n->op != TT_GOP_CONCAT || n->nin <= CONCAT_MAX_IN)
            continue;
        int out = n->out[0], r = g->tensors[out].ndim;
        int64_t ax = tt_node_int(n, "axis", 0);
        if (ax < 0)
            ax += r;
        if (ax < 0 || ax >= r)
            continue; /* shape inference refused it already */
        int64_t shape[TT_GRAPH_MAX_DIMS];
        memcpy(shape, g->tensors[out].shape, (size_t)r * sizeof *shape);
        shape[ax] = 0;
        for (int k = 0; k < CONCAT_MAX_IN; k++)
            shape[ax] += g->tensors[n->in[k]].shape[ax];
        char base[200];
        snprintf(base, sizeof base, "%.190s", n->name);
        int part = mp_new_tensor(g, base, g->tensors[out].dtype, r, shape);
        int in[TT_NODE_MAX_IO];
        memcpy(in, g->nodes[i].in, (size_t)g->nodes[i].nin * sizeof *in);
        int nin = g->nodes[i].nin;
        g->tensors[part].producer = -1;
        int nd = tt_graph_node(g, TT_GOP_CONCAT, base, CONCAT_MAX_IN, in, 1, &part, NULL);
        if (nd < 0)
            abort();
        tt_node_set_int(g, nd, "axis", ax);
        /* this node now joins the part and the rest (g->nodes may have moved) */
        n = &g->nodes[i];
        n->in[0] = part;
        for (int k = CONCAT_MAX_IN; k < nin; k++)
            n->in[k - CONCAT_MAX_IN + 1] = in[k];
        n->nin = nin - CONCAT_MAX_IN + 1;
        changed = 1;
        i--; /* this node again, in case the rest still does not fit */
    }
    return changed;
}

/* Split -> one tt.SliceAxis per output (axis, start). */
static int pass_split(tt_graph *g, tt_err *err)
{
    int nn = g->nnodes;
    for (int i = 0; i < nn; i++) {
        if (g->nodes[i].dead || g->nodes[i].op != TT_GOP_SPLIT)
            continue;
        int x = g->nodes[i].in[0], nout = g->nodes[i].nout;
        int r = g->tensors[x].ndim;
        int64_t ax = tt_node_int(&g->nodes[i], "axis", 0);
        if (ax < 0)
            ax += r;
        if (ax < 0 || ax >= r)
            return tt_err_set(err, "node '%s' (Split): bad axis", g->nodes[i].name);
        int outs[TT_NODE_MAX_IO];
        memcpy(outs, g->nodes[i].out, (size_t)nout * sizeof *outs);
        char name[200];
        snprintf(name, sizeof name, "%s", g->nodes[i].name);
        g->nodes[i].dead = 1;
        int64_t start = 0;
        for (int k = 0; k < nout; k++) {
            int nd = mp_node(g, TT_GOP_SLICE_AXIS, name, 1, &x, outs[k]);
            tt_node_set_int(g, nd, "axis", ax);
            tt_node_set_int(g, nd, "start", start);
            start += g->tensors[outs[k]].shape[ax];
        }
        if (start != g->tensors[x].shape[ax])
            return tt_err_set(err, "node '%s' (Split): outputs do not add up to the input", name);
    }
    return 0;
}

/* ---- BatchNorm ---------------------------------------------------------------- */

static int pass_bn(tt_graph *g, tt_err *err)
{
    for (int i = 0; i < g->nnodes; i++) {
        tt_node *n = &g->nodes[i];
        if (n->dead || n->op != TT_GOP_BATCH_NORMALIZATION)
            continue;
        if (n->nin < 5)
            return tt_err_set(err, "node '%s' (BatchNormalization): needs 5 inputs", n->name);
        const float *sc = mp_fdata(g, n->in[1]), *bi = mp_fdata(g, n->in[2]),
                    *mu = mp_fdata(g, n->in[3]), *va = mp_fdata(g, n->in[4]);
        if (!sc || !bi || !mu || !va)
            return tt_err_set(err,
                              "node '%s' (BatchNormalization): scale, bias, mean and variance must "
                              "be constants (inference mode)",
                              n->name);
        /* a copy: adding tensors below moves the tensor array */
        const tt_tensor x0 = g->tensors[n->in[0]], *x = &x0;
        int64_t c = g->tensors[n->in[1]].shape[0];
        if (x->ndim < 2 || x->shape[1] != c)
            return tt_err_set(err, "node '%s' (BatchNormalization): %lld channels, input has %lld",
                              n->name, (long long)c, (long long)(x->ndim >= 2 ? x->shape[1] : -1));
        double eps = tt_node_float(n, "epsilon", 1e-5);
        float *s = tt_xmalloc((size_t)c * sizeof *s), *t = tt_xmalloc((size_t)c * sizeof *t);
        for (int64_t k = 0; k < c; k++) {
            s[k] = (float)(sc[k] / sqrt((double)va[k] + eps));
            t[k] = (float)(bi[k] - (double)mu[k] * s[k]);
        }
        int src = n->in[0], out = n->out[0];
        int conv = g->tensors[src].producer;
        if (is_op(g, conv, TT_GOP_CONV) && user1(g, src) == i &&
            mp_fdata(g, g->nodes[conv].in[1])) {
            /* Conv then BN: W'[o] = W[o] s[o], b'[o] = b[o] s[o] + t[o]. */
            tt_node *cv = &g->nodes[conv];
            const tt_tensor *w = &g->tensors[cv->in[1]];
            int64_t per = tt_tensor_numel(w) / c;
            float *nw = tt_xmalloc((size_t)(per * c) * sizeof *nw);
            const float *ow = mp_fdata(g, cv->in[1]);
            for (int64_t o = 0; o < c; o++)
                for (int64_t j = 0; j < per; j++)
                    nw[o * per + j] = ow[o * per + j] * s[o];
            const float *ob = cv->nin >= 3 ? mp_fdata(g, cv->in[2]) : NULL;
            for (int64_t o = 0; o < c; o++)
                t[o] += ob ? ob[o] * s[o] : 0.0f;
            int64_t wshape[TT_GRAPH_MAX_DIMS];
            memcpy(wshape, w->shape, sizeof wshape);
            int nwt = mp_new_const(g, g->tensors[cv->in[1]].name, w->ndim, wshape, nw);
            int nbt = mp_new_const(g, "bias", 1, &c, t);
            cv = &g->nodes[conv]; /* the tensor array may have moved, nodes not */
            if (cv->nin < 3) {
                cv->in = tt_xrealloc(cv->in, 3 * sizeof *cv->in);
                cv->nin = 3;
            }
            cv->in[1] = nwt;
            cv->in[2] = nbt;
            free(s);
            g->nodes[i].dead = 1;
            mp_replace_uses(g, out, src);
            continue;
        }
        /* Stand-alone BN: x * s + t with s, t shaped [C,1,..] to broadcast. */
        int64_t shp[TT_GRAPH_MAX_DIMS];
        int r = x->ndim - 1;
        shp[0] = c;
        for (int k = 1; k < r; k++)
            shp[k] = 1;
        char name[200];
        snprintf(name, sizeof name, "%s_scale", n->name);
        int st = mp_new_const(g, name, r, shp, s);
        snprintf(name, sizeof name, "%s_shift", n->name);
        int tt = mp_new_const(g, name, r, shp, t);
        int mid = mp_new_tensor(g, name, TT_DT_FLOAT, x->ndim, x->shape);
        g->nodes[i].dead = 1;
        int in1[2] = {src, st}, in2[2] = {mid, tt};
        mp_node(g, TT_GOP_MUL, g->nodes[i].name, 2, in1, mid);
        mp_node(g, TT_GOP_ADD, g->nodes[i].name, 2, in2, out);
    }
    return 0;
}

/* ---- matmuls ------------------------------------------------------------------- */

/* W [N,K] (as float) = alpha * (trans ? B : B^T) for a constant B. */
static float *dense_weight(const tt_graph *g, int b, int trans, double alpha, int64_t *n,
                           int64_t *k)
{
    const tt_tensor *B = &g->tensors[b];
    const float *d = mp_fdata(g, b);
    int64_t r = B->shape[0], c = B->shape[1];
    *n = trans ? r : c;
    *k = trans ? c : r;
    float *w = tt_xmalloc((size_t)(r * c) * sizeof *w);
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < c; j++) {
            float v = (float)(alpha * d[i * c + j]);
            if (trans)
                w[i * c + j] = v;
            else
                w[j * r + i] = v;
        }
    return w;
}

/* Einsum of a batched matrix product (the forms tt_einsum_matmul accepts,
 * which shape inference already checked) as MatMul, its second operand
 * transposed first where the equation contracts its last letter ("b i k,
 * b j k -> b i j", attention's Q K^T); pass_matmul then treats it as any
 * MatMul.  Returns 1 if a node was rewritten (the graph then needs a new
 * topological order: the transposes are appended). */
static int pass_einsum(tt_graph *g)
{
    int changed = 0, nn = g->nnodes;
    for (int i = 0; i < nn; i++) {
        tt_node *n = &g->nodes[i];
        int tb = 0;
        if (n->dead || n->op != TT_GOP_EINSUM || n->nin != 2)
            continue;
        const tt_attr *eq = tt_node_attr(n, "equation");
        int b = n->in[1], rank = g->tensors[b].ndim;
        if (!eq || eq->kind != TT_ATTR_STRING ||
            tt_einsum_matmul(eq->s, g->tensors[n->in[0]].ndim, rank, &tb))
            continue;
        if (tb) {
            int64_t shape[TT_GRAPH_MAX_DIMS], perm[TT_GRAPH_MAX_DIMS];
            for (int d = 0; d < rank; d++) {
                perm[d] = d < rank - 2 ? d : d == rank - 2 ? rank - 1 : rank - 2;
                shape[d] = g->tensors[b].shape[perm[d]];
            }
            char base[200];
            snprintf(base, sizeof base, "%.180s_bT", g->nodes[i].name);
            int t = mp_new_tensor(g, base, TT_DT_FLOAT, rank, shape);
            int nd = mp_node(g, TT_GOP_TRANSPOSE, base, 1, &b, t);
            tt_node_set_ints(g, nd, "perm", rank, perm);
            g->nodes[i].in[1] = t; /* g->nodes may have moved */
        }
        g->nodes[i].op = TT_GOP_MATMUL;
        changed = 1;
    }
    return changed;
}

static int pass_matmul(tt_graph *g, tt_err *err)
{
    int nn = g->nnodes;
    for (int i = 0; i < nn; i++) {
        tt_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        int gemm = n->op == TT_GOP_GEMM;
        if (!gemm && n->op != TT_GOP_MATMUL)
            continue;
        int a = n->in[0], b = n->in[1], out = n->out[0];
        /* copies: adding tensors below moves the tensor array */
        const tt_tensor A0 = g->tensors[a], B0 = g->tensors[b], *A = &A0, *B = &B0;
        char name[200];
        snprintf(name, sizeof name, "%s", n->name);
        if (gemm) {
            if (tt_node_int(n, "transA", 0))
                return tt_err_set(err, "node '%s' (Gemm): transA=1 is not supported", n->name);
            if (!mp_fdata(g, b) || B->ndim != 2)
                return tt_err_set(err, "node '%s' (Gemm): B must be a constant matrix", n->name);
            int64_t N, K;
            float *w = dense_weight(g, b, (int)tt_node_int(n, "transB", 0),
                                    tt_node_float(n, "alpha", 1.0), &N, &K);
            int64_t ws[2] = {N, K};
            int wt = mp_new_const(g, "dense_weight", 2, ws, w);
            int c = n->nin >= 3 ? n->in[2] : -1;
            double beta = tt_node_float(n, "beta", 1.0);
            g->nodes[i].dead = 1;
            int in[2] = {a, wt};
            if (c < 0 || beta == 0) {
                mp_node(g, TT_GOP_DENSE, name, 2, in, out);
                continue;
            }
            int64_t ys[2] = {A->shape[0], N};
            int y = mp_new_tensor(g, name, TT_DT_FLOAT, 2, ys);
            mp_node(g, TT_GOP_DENSE, name, 2, in, y);
            int ct = c;
            if (beta != 1.0) {
                const float *cd = mp_fdata(g, c);
                if (!cd)
                    return tt_err_set(err, "node '%s' (Gemm): beta != 1 needs a constant C", name);
                int64_t cn = tt_tensor_numel(&g->tensors[c]);
                float *nc = tt_xmalloc((size_t)cn * sizeof *nc);
                for (int64_t j = 0; j < cn; j++)
                    nc[j] = (float)(beta * cd[j]);
                ct = mp_new_const(g, "gemm_c", g->tensors[c].ndim, g->tensors[c].shape, nc);
            }
            int in2[2] = {y, ct};
            mp_node(g, TT_GOP_ADD, name, 2, in2, out);
            continue;
        }
        /* MatMul */
        if (A->ndim < 2 || B->ndim < 2)
            return tt_err_set(err, "node '%s' (MatMul): 1-D operands are not supported", name);
        if (mp_fdata(g, b) && B->ndim == 2) {
            int64_t N, K;
            float *w = dense_weight(g, b, 0, 1.0, &N, &K);
            int64_t ws[2] = {N, K};
            int wt = mp_new_const(g, "dense_weight", 2, ws, w);
            g->nodes[i].dead = 1;
            int in[2] = {a, wt};
            mp_node(g, TT_GOP_DENSE, name, 2, in, out);
            continue;
        }
        if (A->ndim != B->ndim)
            return tt_err_set(err, "node '%s' (MatMul): operands of ranks %d and %d (broadcast "
                              "batch dimensions are not supported)", name, A->ndim, B->ndim);
        for (int k = 0; k < A->ndim - 2; k++)
            if (A->shape[k] != B->shape[k])
                return tt_err_set(err, "node '%s' (MatMul): batch dimensions differ", name);
        /* B^T over the last two dims; a Transpose feeding B is composed away. */
        int r = B->ndim, src = b;
        int perm[TT_GRAPH_MAX_DIMS];
        for (int k = 0; k < r; k++)
            perm[k] = k;
        int p = B->producer;
        if (is_op(g, p, TT_GOP_TRANSPOSE)) {
            const tt_attr *pa = tt_node_attr(&g->nodes[p], "perm");
            if (pa && pa->n == r) {
                src = g->nodes[p].in[0];
                for (int k = 0; k < r; k++)
                    perm[k] = (int)pa->ints[k];
            }
        }
        int t = perm[r - 1];
        perm[r - 1] = perm[r - 2];
        perm[r - 2] = t;
        int ident = 1;
        for (int k = 0; k < r; k++)
            ident &= perm[k] == k;
        int bt = src;
        if (!ident) {
            int64_t shp[TT_GRAPH_MAX_DIMS], pp[TT_GRAPH_MAX_DIMS];
            for (int k = 0; k < r; k++) {
                shp[k] = g->tensors[src].shape[perm[k]];
                pp[k] = perm[k];
            }
            bt = mp_new_tensor(g, "matmul_bt", TT_DT_FLOAT, r, shp);
            int nd = mp_node(g, TT_GOP_TRANSPOSE, name, 1, &src, bt);
            tt_node_set_ints(g, nd, "perm", r, pp);
        }
        g->nodes[i].dead = 1;
        int in[2] = {a, bt};
        mp_node(g, TT_GOP_BATCH_MATMUL, name, 2, in, out);
    }
    return 0;
}

/* ---- reductions ------------------------------------------------------------------
 * The reductions kernels have are means (TOPI's mean): ReduceSum, ReduceSumSquare
 * and ReduceL2 (F.normalize: Swin-V2's cosine attention) become a mean times
 * the count reduced (ReduceL2: the square root of that, over x * x); and
 * axes given as an input (opset 13's ReduceSum, opset 18's ReduceMean)
 * become the attribute the kernel builder reads. */

static int pass_reduce(tt_graph *g, tt_err *err)
{
    for (int i = 0; i < g->nnodes; i++) {
        tt_node *n = &g->nodes[i];
        tt_gop op = n->op;
        if (n->dead || (op != TT_GOP_REDUCE_MEAN && op != TT_GOP_REDUCE_SUM && op != TT_GOP_REDUCE_SUM_SQUARE &&
                        op != TT_GOP_REDUCE_L2) ||
            g->tensors[n->in[0]].data || g->tensors[n->in[0]].dtype != TT_DT_FLOAT)
            continue;
        const tt_tensor x0 = g->tensors[n->in[0]];
        int64_t ax[TT_GRAPH_MAX_DIMS];
        int na = -1;
        const tt_attr *a = tt_node_attr(n, "axes");
        if (a && a->kind == TT_ATTR_INTS && a->n <= x0.ndim) {
            na = a->n;
            memcpy(ax, a->ints, (size_t)na * sizeof *ax);
        } else if (n->nin > 1 && n->in[1] >= 0) {
            const tt_tensor *A = &g->tensors[n->in[1]];
            if (!A->data || A->dtype != TT_DT_INT64 || tt_tensor_numel(A) > x0.ndim)
                return tt_err_set(err, "node '%s' (%s): axes must be a constant", n->name, tt_gop_names[op]);
            na = (int)tt_tensor_numel(A);
            memcpy(ax, A->data, (size_t)na * sizeof *ax);
        }
        if (na == 0 && tt_node_int(n, "noop_with_empty_axes", 0))
            return tt_err_set(err, "node '%s' (%s): noop_with_empty_axes is not supported", n->name,
                              tt_gop_names[op]);
        if (na <= 0) /* all of them */
            for (na = 0; na < x0.ndim; na++)
                ax[na] = na;
        double count = 1;
        for (int k = 0; k < na; k++)
            count *= (double)x0.shape[ax[k] < 0 ? ax[k] + x0.ndim : ax[k]];
        tt_node_set_ints(g, i, "axes", na, ax);
        n = &g->nodes[i];
        n->nin = 1;
        if (op == TT_GOP_REDUCE_MEAN)
            continue;
        char name[200];
        snprintf(name, sizeof name, "%.150s", n->name);
        int src = n->in[0], out = n->out[0];
        const tt_tensor o0 = g->tensors[out];
        if (op != TT_GOP_REDUCE_SUM) { /* over x * x */
            int sq = mp_new_tensor(g, name, TT_DT_FLOAT, x0.ndim, x0.shape);
            mp_node(g, TT_GOP_MUL, name, 2, (int[]){src, src}, sq);
            src = sq;
        }
        int mean = mp_new_tensor(g, name, TT_DT_FLOAT, o0.ndim, o0.shape);
        float *c = tt_xmalloc(sizeof *c);
        *c = (float)count;
        int ct = mp_new_const(g, "reduce_count", 0, NULL, c);
        int nd = mp_node(g, TT_GOP_REDUCE_MEAN, name, 1, &src, mean);
        tt_node_set_ints(g, nd, "axes", na, ax);
        tt_node_set_int(g, nd, "keepdims", tt_node_int(&g->nodes[i], "keepdims", 1));
        g->nodes[i].dead = 1;
        if (op == TT_GOP_REDUCE_L2) {
            int sum = mp_new_tensor(g, name, TT_DT_FLOAT, o0.ndim, o0.shape);
            mp_node(g, TT_GOP_MUL, name, 2, (int[]){mean, ct}, sum);
            mp_node(g, TT_GOP_SQRT, name, 1, &sum, out);
        } else {
            mp_node(g, TT_GOP_MUL, name, 2, (int[]){mean, ct}, out);
        }
    }
    return 0;
}

/* ---- layer norm ------------------------------------------------------------------
 * torch exports LayerNorm (opset < 17) as
 *   m = ReduceMean(x, [-1]); d = Sub(x, m); v = ReduceMean(Pow(d, 2), [-1]);
 *   y = Add(Mul(Div(d, Sqrt(Add(v, eps))), gamma), beta)                    */

static int last_axis_mean(const tt_graph *g, int n)
{
    if (!is_op(g, n, TT_GOP_REDUCE_MEAN))
        return 0;
    const tt_node *nd = &g->nodes[n];
    const tt_attr *ax = tt_node_attr(nd, "axes");
    int r = g->tensors[nd->in[0]].ndim;
    return ax && ax->n == 1 && (ax->ints[0] == -1 || ax->ints[0] == r - 1) &&
           tt_node_int(nd, "keepdims", 1) == 1;
}

static int pass_layernorm(tt_graph *g)
{
    for (int i = 0; i < g->nnodes; i++) {
        if (!last_axis_mean(g, i))
            continue;
        int x = g->nodes[i].in[0], m = g->nodes[i].out[0];
        int sub = user1(g, m);
        if (!is_op(g, sub, TT_GOP_SUB) || g->nodes[sub].in[0] != x || g->nodes[sub].in[1] != m)
            continue;
        int d = g->nodes[sub].out[0];
        int us[3];
        if (tt_graph_users(g, d, us, 3) != 2 || g->tensors[d].is_output)
            continue;
        int pw = is_op(g, us[0], TT_GOP_POW) ? us[0] : us[1], dv = pw == us[0] ? us[1] : us[0];
        if (!is_op(g, pw, TT_GOP_POW) || !const_is(g, g->nodes[pw].in[1], 2.0) ||
            !is_op(g, dv, TT_GOP_DIV) || g->nodes[dv].in[0] != d)
            continue;
        int m2 = user1(g, g->nodes[pw].out[0]);
        if (!last_axis_mean(g, m2))
            continue;
        int ad = user1(g, g->nodes[m2].out[0]);
        if (!is_op(g, ad, TT_GOP_ADD))
            continue;
        int epst = g->nodes[ad].in[1];
        const float *ep = mp_fdata(g, epst);
        if (!ep || tt_tensor_numel(&g->tensors[epst]) != 1)
            continue;
        int sq = user1(g, g->nodes[ad].out[0]);
        if (!is_op(g, sq, TT_GOP_SQRT) || user1(g, g->nodes[sq].out[0]) != dv ||
            g->nodes[dv].in[1] != g->nodes[sq].out[0])
            continue;
        int mu = user1(g, g->nodes[dv].out[0]);
        if (!is_op(g, mu, TT_GOP_MUL))
            continue;
        int gam = g->nodes[mu].in[1];
        int ab = user1(g, g->nodes[mu].out[0]);
        if (!is_op(g, ab, TT_GOP_ADD))
            continue;
        int bet = g->nodes[ab].in[1];
        int64_t k = g->tensors[x].shape[g->tensors[x].ndim - 1];
        if (!mp_fdata(g, gam) || !mp_fdata(g, bet) || tt_tensor_numel(&g->tensors[gam]) != k ||
            tt_tensor_numel(&g->tensors[bet]) != k)
            continue;
        int chain[9] = {i, sub, pw, dv, m2, ad, sq, mu, ab};
        int out = g->nodes[ab].out[0];
        char name[200];
        snprintf(name, sizeof name, "%s", g->nodes[i].name);
        for (int j = 0; j < 9; j++)
            g->nodes[chain[j]].dead = 1;
        /* gamma/beta as 1-D [K] (they may be stored with leading 1s) */
        float *gd = tt_xmalloc((size_t)k * sizeof *gd), *bd = tt_xmalloc((size_t)k * sizeof *bd);
        memcpy(gd, mp_fdata(g, gam), (size_t)k * sizeof *gd);
        memcpy(bd, mp_fdata(g, bet), (size_t)k * sizeof *bd);
        int gt = mp_new_const(g, "ln_gamma", 1, &k, gd), bt = mp_new_const(g, "ln_beta", 1, &k, bd);
        int in[3] = {x, gt, bt};
        int nd = mp_node(g, TT_GOP_LAYER_NORMALIZATION, name, 3, in, out);
        tt_node_set_int(g, nd, "axis", -1);
        tt_node_set_float(g, nd, "epsilon", ep[0]);
    }
    return 0;
}

/* InstanceNormalization(x [N, C, D..], scale, B) as a layer norm over the
 * flattened D.. of each (n, c) row, then the per-channel affine:
 *   Reshape [N, C, L] -> LayerNormalization(ones[L], zeros[L], eps) ->
 *   Reshape [N, C, D..] -> Mul scale [C, 1..] -> Add B [C, 1..]
 * (torch exports GroupNorm as Reshape [N, G, -1] -> InstanceNormalization ->
 * Reshape -> Mul -> Add, which this covers too).  The layer norm kernel
 * computes mean and variance in two passes, as ONNX Runtime's does. */
static int pass_instnorm(tt_graph *g, tt_err *err)
{
    for (int i = 0; i < g->nnodes; i++) {
        tt_node *n = &g->nodes[i];
        if (n->dead || n->op != TT_GOP_INSTANCE_NORMALIZATION)
            continue;
        const float *sc = mp_fdata(g, n->in[1]), *bi = mp_fdata(g, n->in[2]);
        if (!sc || !bi)
            return tt_err_set(err, "node '%s' (InstanceNormalization): scale and B must be constants", n->name);
        const tt_tensor x0 = g->tensors[n->in[0]];
        int64_t c = x0.shape[1], l = 1;
        for (int d = 2; d < x0.ndim; d++)
            l *= x0.shape[d];
        double eps = tt_node_float(n, "epsilon", 1e-5);
        char name[200];
        snprintf(name, sizeof name, "%.150s", n->name);
        int src = n->in[0], out = n->out[0];
        n->dead = 1;
        float *one = tt_xmalloc((size_t)l * sizeof *one), *zero = tt_xcalloc((size_t)l, sizeof *zero);
        for (int64_t k = 0; k < l; k++)
            one[k] = 1.0f;
        int gt = mp_new_const(g, "in_gamma", 1, &l, one), bt = mp_new_const(g, "in_beta", 1, &l, zero);
        int64_t sh3[3] = {x0.shape[0], c, l}, shc[TT_GRAPH_MAX_DIMS];
        shc[0] = c;
        for (int d = 1; d < x0.ndim - 1; d++)
            shc[d] = 1;
        float *s = tt_xmalloc((size_t)c * sizeof *s), *b = tt_xmalloc((size_t)c * sizeof *b);
        memcpy(s, sc, (size_t)c * sizeof *s);
        memcpy(b, bi, (size_t)c * sizeof *b);
        int st = mp_new_const(g, "in_scale", x0.ndim - 1, shc, s), btc = mp_new_const(g, "in_shift", x0.ndim - 1, shc, b);
        int shape3 = mp_new_tensor(g, "in_shape3", TT_DT_INT64, 1, (int64_t[]){3});
        g->tensors[shape3].data = tt_xmalloc(3 * sizeof(int64_t));
        memcpy(g->tensors[shape3].data, sh3, sizeof sh3);
        int back = mp_new_tensor(g, "in_shape", TT_DT_INT64, 1, (int64_t[]){x0.ndim});
        g->tensors[back].data = tt_xmalloc((size_t)x0.ndim * sizeof(int64_t));
        memcpy(g->tensors[back].data, x0.shape, (size_t)x0.ndim * sizeof(int64_t));
        int r = mp_new_tensor(g, name, TT_DT_FLOAT, 3, sh3), ln = mp_new_tensor(g, name, TT_DT_FLOAT, 3, sh3);
        int y = mp_new_tensor(g, name, TT_DT_FLOAT, x0.ndim, x0.shape);
        int ys = mp_new_tensor(g, name, TT_DT_FLOAT, x0.ndim, x0.shape);
        mp_node(g, TT_GOP_RESHAPE, name, 2, (int[]){src, shape3}, r);
        int nd = mp_node(g, TT_GOP_LAYER_NORMALIZATION, name, 3, (int[]){r, gt, bt}, ln);
        tt_node_set_int(g, nd, "axis", -1);
        tt_node_set_float(g, nd, "epsilon", eps);
        mp_node(g, TT_GOP_RESHAPE, name, 2, (int[]){ln, back}, y);
        mp_node(g, TT_GOP_MUL, name, 2, (int[]){y, st}, ys);
        mp_node(g, TT_GOP_ADD, name, 2, (int[]){ys, btc}, out);
    }
    return 0;
}

/* ConvTranspose as TOPI computes conv2d_transpose: the input dilated by the
 * strides (tt.Dilate: stride - 1 zeros between elements), then a stride-1
 * Conv with the kernel flipped and its in/out channels swapped per group,
 * padded by (k - 1) dilation - pad (plus output_padding at the end).  A
 * stride-2 layer so spends 3/4 of its multiply-adds on inserted zeros, as
 * TVM's does; a direct kernel would not (NOTES: "Transposed convolution"). */
static int pass_conv_transpose(tt_graph *g, tt_err *err)
{
    for (int i = 0; i < g->nnodes; i++) {
        tt_node *n = &g->nodes[i];
        if (n->dead || n->op != TT_GOP_CONV_TRANSPOSE)
            continue;
        const float *w = mp_fdata(g, n->in[1]);
        if (!w)
            return tt_err_set(err, "node '%s' (ConvTranspose): the weight must be a constant", n->name);
        const tt_tensor x0 = g->tensors[n->in[0]], w0 = g->tensors[n->in[1]];
        int64_t grp = tt_node_int(n, "group", 1), s[2] = {1, 1}, d[2] = {1, 1}, p[4] = {0}, op[2] = {0};
        const tt_attr *a;
        if ((a = tt_node_attr(n, "strides")) && a->n == 2)
            memcpy(s, a->ints, sizeof s);
        if ((a = tt_node_attr(n, "dilations")) && a->n == 2)
            memcpy(d, a->ints, sizeof d);
        if ((a = tt_node_attr(n, "pads")) && a->n == 4)
            memcpy(p, a->ints, sizeof p);
        if ((a = tt_node_attr(n, "output_padding")) && a->n == 2)
            memcpy(op, a->ints, sizeof op);
        int64_t ci = w0.shape[0], cog = w0.shape[1], kh = w0.shape[2], kw = w0.shape[3], cig = ci / grp;
        int64_t cp[4] = {d[0] * (kh - 1) - p[0], d[1] * (kw - 1) - p[1], d[0] * (kh - 1) - p[2] + op[0],
                         d[1] * (kw - 1) - p[3] + op[1]};
        for (int k = 0; k < 4; k++)
            if (cp[k] < 0)
                return tt_err_set(err, "node '%s' (ConvTranspose): pads beyond the kernel's reach (%lld) are not "
                                       "supported",
                                  n->name, (long long)(k & 1 ? d[1] * (kw - 1) : d[0] * (kh - 1)));
        float *nw = tt_xmalloc((size_t)(ci * cog * kh * kw) * sizeof *nw);
        for (int64_t gi = 0; gi < grp; gi++)
            for (int64_t c = 0; c < cig; c++)
                for (int64_t o = 0; o < cog; o++)
                    for (int64_t y = 0; y < kh; y++)
                        for (int64_t xx = 0; xx < kw; xx++)
                            nw[(((gi * cog + o) * cig + c) * kh + (kh - 1 - y)) * kw + (kw - 1 - xx)] =
                                w[(((gi * cig + c) * cog + o) * kh + y) * kw + xx];
        char name[200];
        snprintf(name, sizeof name, "%.150s", n->name);
        int src = n->in[0], bias = n->nin > 2 ? n->in[2] : -1, out = n->out[0];
        n->dead = 1;
        int64_t wsh[4] = {grp * cog, cig, kh, kw};
        int wt = mp_new_const(g, "convt_weight", 4, wsh, nw);
        if (s[0] > 1 || s[1] > 1) {
            int64_t dsh[4] = {x0.shape[0], x0.shape[1], (x0.shape[2] - 1) * s[0] + 1, (x0.shape[3] - 1) * s[1] + 1};
            int dil = mp_new_tensor(g, name, TT_DT_FLOAT, 4, dsh);
            int nd = mp_node(g, TT_GOP_DILATE, name, 1, &src, dil);
            tt_node_set_ints(g, nd, "strides", 4, (int64_t[]){1, 1, s[0], s[1]});
            src = dil;
        }
        int in[3] = {src, wt, bias};
        int nd = mp_node(g, TT_GOP_CONV, name, bias >= 0 ? 3 : 2, in, out);
        tt_node_set_ints(g, nd, "pads", 4, cp);
        tt_node_set_ints(g, nd, "dilations", 2, d);
        tt_node_set_ints(g, nd, "strides", 2, (int64_t[]){1, 1});
        tt_node_set_ints(g, nd, "kernel_shape", 2, (int64_t[]){kh, kw});
        tt_node_set_int(g, nd, "group", grp);
    }
    return 0;
}

/* ---- dead code --------------------------------------------------------------------- */

/* Whether a tensor node i writes is read (uses > 0). */
static int dce_used(const tt_graph *g, int i, const int *uses)
{
    const tt_node *n = &g->nodes[i];
    for (int k = 0; k < n->nout; k++)
        if (n->out[k] >= 0 && uses[n->out[k]] > 0)
            return 1;
    return 0;
}

/* Nodes none of whose outputs is read by a live node or is a graph output
 * die, then the nodes only they read, and so on: a worklist over use counts,
 * linear in the graph (sweeps that counted a tensor's users by scanning
 * every node were quadratic: 20,000 Relus took 2.3 s). */
static void pass_dce(tt_graph *g)
{
    int *uses = tt_xcalloc((size_t)g->ntensors + 1, sizeof *uses);
    int *prod = tt_xmalloc(((size_t)g->ntensors + 1) * sizeof *prod);
    /* pushed: the nodes unused at first, then a node each time one of its
     * outputs loses its last reader (once per tensor) */
    int *work = tt_xmalloc(((size_t)g->nnodes + (size_t)g->ntensors + 1) * sizeof *work);
    for (int t = 0; t < g->ntensors; t++) {
        uses[t] = g->tensors[t].is_output;
        prod[t] = -1;
    }
    for (int i = 0; i < g->nnodes; i++) {
        const tt_node *n = &g->nodes[i];
        for (int k = 0; k < n->nin && !n->dead; k++)
            if (n->in[k] >= 0)
                uses[n->in[k]]++;
        for (int k = 0; k < n->nout && !n->dead; k++)
            if (n->out[k] >= 0)
                prod[n->out[k]] = i;
    }
    int nw = 0;
    for (int i = g->nnodes - 1; i >= 0; i--)
        if (!g->nodes[i].dead && !dce_used(g, i, uses))
            work[nw++] = i;
    while (nw > 0) {
        tt_node *n = &g->nodes[work[--nw]];
        if (n->dead || dce_used(g, (int)(n - g->nodes), uses))
            continue;
        n->dead = 1;
        for (int k = 0; k < n->nin; k++) {
            int t = n->in[k];
            if (t >= 0 && --uses[t] == 0 && prod[t] >= 0)
                work[nw++] = prod[t];
        }
    }
    free(uses);
    free(prod);
    free(work);
}

int tt_model_passes(tt_graph *g, tt_err *err)
{
    if (tt_graph_toposort(g, err) || tt_graph_fold_constants(g, err))
        return -1;
    pass_simplify(g);
    if (pass_einsum(g) && tt_graph_toposort(g, err))
        return -1;
    int gs = pass_gather_slices(g, err);
    if (gs < 0 || (gs > 0 && tt_graph_toposort(g, err)))
        return -1;
    if (pass_split_concat(g) && tt_graph_toposort(g, err))
        return -1;
    if (pass_split(g, err) || pass_reduce(g, err) || pass_bn(g, err) || pass_instnorm(g, err) || pass_conv_transpose(g, err) || pass_matmul(g, err))
        return -1;
    pass_layernorm(g);
    pass_dce(g);
    if (tt_graph_toposort(g, err))
        return -1;
    if (mp_layout_nhwc(g, err))
        return -1;
    pass_dce(g);
    return tt_graph_toposort(g, err);
}
