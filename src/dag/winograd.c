/* winograd.c - the transform matrices of Winograd's minimal filtering
 * algorithm F(m x m, r x r) as TVM builds them, and the weight transform.
 *
 * TVM (topi/nn/winograd_util.py) derives A, B and G by Cook-Toom from fixed
 * interpolation points (Barabasz et al., arXiv:1803.10986) plus the point at
 * infinity; the same points give the same matrices and the same rounding, so
 * a schedule tuned there computes the same values here.  With the finite
 * points a_0..a_{n-1} (n = alpha - 1, alpha = m + r - 1):
 *
 *   A[i][k] = a_i^k                 (alpha x m; the last row e_{m-1})
 *   G[i][j] = a_i^j / f_i           (alpha x r; the last row e_{r-1})
 *   f_i     = prod_{k != i} (a_i - a_k), with f_0 made positive
 *
 * and B follows from A and G: the 1-D identity
 *   y = A^T [(G g) .* (B^T d)]
 * holds for every g, d exactly when sum_i A[i][k] G[i][j] B^T[i][l] =
 * [l == k + j], and A[i][k] G[i][j] depends on k + j only (a_i^(k+j) / f_i;
 * at infinity [k + j == alpha - 1]), so B^T is the inverse of the alpha x
 * alpha matrix V[s][i] = a_i^s / f_i (V[s][inf] = [s == alpha - 1]).
 * TVM stores B (its data_pack reads B[r_a][eps]), not B^T.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dag.h"

/* The finite interpolation points of F(m, 3) (TVM's _interpolation_points). */
static int points(int m, double *a)
{
    static const double p2[] = {0, -1, 1};
    static const double p4[] = {0, -1, 1, 0.5, -2};
    static const double p6[] = {0, -1, 1, 0.5, -0.5, 2, -2};
    const double *p = m == 2 ? p2 : m == 4 ? p4 : m == 6 ? p6 : NULL;
    if (!p)
        return -1;
    memcpy(a, p, (size_t)(m + 1) * sizeof *a);
    return m + 1;
}

/* Invert the n x n matrix M (row-major) into R by Gauss-Jordan elimination
 * with partial pivoting; -1 if singular. */
static int invert(int n, const double *M, double *R)
{
    double W[TT_WINO_MAX_ALPHA * 2 * TT_WINO_MAX_ALPHA];
    int w = 2 * n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < w; j++)
            W[i * w + j] = j < n ? M[i * n + j] : (j - n == i);
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int i = c + 1; i < n; i++)
            if (fabs(W[i * w + c]) > fabs(W[piv * w + c]))
                piv = i;
        if (fabs(W[piv * w + c]) < 1e-12)
            return -1;
        for (int j = 0; j < w; j++) {
            double t = W[c * w + j];
            W[c * w + j] = W[piv * w + j];
            W[piv * w + j] = t;
        }
        double d = W[c * w + c];
        for (int j = 0; j < w; j++)
            W[c * w + j] /= d;
        for (int i = 0; i < n; i++) {
            if (i == c || W[i * w + c] == 0)
                continue;
            double f = W[i * w + c];
            for (int j = 0; j < w; j++)
                W[i * w + j] -= f * W[c * w + j];
        }
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            R[i * n + j] = W[i * w + n + j];
    return 0;
}

int tt_winograd_matrices(int m, int r, double *A, double *B, double *G)
{
    double a[TT_WINO_MAX_ALPHA];
    if (r != 3 || points(m, a) < 0)
        return -1;
    int alpha = m + r - 1, n = alpha - 1;
    double f[TT_WINO_MAX_ALPHA];
    for (int i = 0; i < n; i++) {
        f[i] = 1;
        for (int k = 0; k < n; k++)
            if (k != i)
                f[i] *= a[i] - a[k];
    }
    if (f[0] < 0)
        f[0] = -f[0];
    for (int i = 0; i < alpha; i++) {
        for (int k = 0; k < m; k++)
            A[i * m + k] = i < n ? pow(a[i], k) : (k == m - 1);
        for (int j = 0; j < r; j++)
            G[i * r + j] = i < n ? pow(a[i], j) / f[i] : (j == r - 1);
    }
    double V[TT_WINO_MAX_ALPHA * TT_WINO_MAX_ALPHA], BT[TT_WINO_MAX_ALPHA * TT_WINO_MAX_ALPHA];
    for (int s = 0; s < alpha; s++)
        for (int i = 0; i < alpha; i++)
            V[s * alpha + i] = i < n ? pow(a[i], s) / f[i] : (s == alpha - 1);
    if (invert(alpha, V, BT))
        return -1;
    /* BT = V^-1 is B^T: B[l][i] = BT[i][l] */
    for (int l = 0; l < alpha; l++)
        for (int i = 0; i < alpha; i++) {
            double v = BT[i * alpha + l];
            /* the entries are small rationals: drop the elimination's dust */
            B[l * alpha + i] = fabs(v) < 1e-13 ? 0 : v;
        }
    return 0;
}

int tt_winograd_transform_weight(int m, int64_t ci, int64_t co, const float *hwio, float *out)
{
    double A[TT_WINO_MAX_ALPHA * 8], B[TT_WINO_MAX_ALPHA * TT_WINO_MAX_ALPHA], G[TT_WINO_MAX_ALPHA * 3];
    if (tt_winograd_matrices(m, 3, A, B, G))
        return -1;
    int alpha = m + 2;
    /* out[eps][nu][o][c] = sum_{kh,kw} G[eps][kh] g[kh][kw][c][o] G[nu][kw] */
    for (int64_t c = 0; c < ci; c++)
        for (int64_t o = 0; o < co; o++) {
            double g[3][3], t[TT_WINO_MAX_ALPHA][3];
            for (int kh = 0; kh < 3; kh++)
                for (int kw = 0; kw < 3; kw++)
                    g[kh][kw] = hwio[((kh * 3 + kw) * ci + c) * co + o];
            for (int e = 0; e < alpha; e++)
                for (int kw = 0; kw < 3; kw++)
                    t[e][kw] = G[e * 3 + 0] * g[0][kw] + G[e * 3 + 1] * g[1][kw] + G[e * 3 + 2] * g[2][kw];
            for (int e = 0; e < alpha; e++)
                for (int u = 0; u < alpha; u++)
                    out[((e * alpha + u) * co + o) * ci + c] =
                        (float)(t[e][0] * G[u * 3 + 0] + t[e][1] * G[u * 3 + 1] + t[e][2] * G[u * 3 + 2]);
        }
    return 0;
}

/* ---- the Winograd twin of a direct conv kernel ---------------------------------- */

typedef struct remap {
    tt_dag *w;
    int map[TT_LAYOUT_MAX_OPS * 4];
    int n;
    int bad;
} remap;

static tt_expr *remap_fn(void *ctx, tt_arena *a, const tt_expr *e)
{
    remap *r = ctx;
    if (e->kind != TT_E_LOAD)
        return NULL;
    int u = e->u.uid < r->n ? r->map[e->u.uid] : -1;
    if (u < 0) {
        r->bad = 1;
        u = 0;
    }
    tt_expr *idx[TT_MAX_DIMS];
    for (int i = 0; i < e->n && i < TT_MAX_DIMS; i++)
        idx[i] = tt_expr_rewrite(a, e->args[i], remap_fn, ctx);
    return tt_e_load(a, u, e->n, idx);
}

int tt_dag_conv_params(const tt_dag *d, tt_conv2d_params *p)
{
    memset(p, 0, sizeof *p);
    if (d->nops < 4)
        return -1;
    const tt_op *x = d->ops[0], *w = d->ops[2], *c = d->ops[3];
    if (x->kind != TT_OP_PLACEHOLDER || w->kind != TT_OP_PLACEHOLDER || c->kind != TT_OP_COMPUTE ||
        strcmp(c->tag, "conv2d_nhwc") || strcmp(c->name, "Conv2dOutput") || x->ndim != 4 || w->ndim != 4)
        return -1;
    long long sh, sw, pt, pl, pb, pr, dh, dw, g;
    if (sscanf(c->attrs, "stride=%lld,%lld pad=%lld,%lld,%lld,%lld dil=%lld,%lld groups=%lld", &sh, &sw, &pt,
               &pl, &pb, &pr, &dh, &dw, &g) != 9)
        return -1;
    p->n = x->axis[0].extent, p->h = x->axis[1].extent, p->w = x->axis[2].extent, p->ci = x->axis[3].extent;
    p->kh = w->axis[0].extent, p->kw = w->axis[1].extent, p->co = w->axis[3].extent;
    p->stride_h = sh, p->stride_w = sw, p->pad_t = pt, p->pad_l = pl, p->pad_b = pb, p->pad_r = pr;
    p->dil_h = dh, p->dil_w = dw, p->groups = g;
    return 0;
}

tt_dag *tt_dag_winograd_twin(const tt_dag *d, int m, tt_err *err)
{
    tt_conv2d_params p;
    if (tt_dag_conv_params(d, &p) || !tt_winograd_applies(&p)) {
        tt_err_set(err, "not a 3x3, stride-1, ungrouped conv2d_nhwc kernel");
        return NULL;
    }
    if (d->nops > (int)(sizeof ((remap *)0)->map / sizeof(int))) {
        tt_err_set(err, "conv kernel with too many stages for a Winograd twin");
        return NULL;
    }
    tt_dag *w = tt_build_conv2d_winograd_nhwc(&p, m, NULL, err);
    if (!w)
        return NULL;
    remap r = {w, {0}, d->nops, 0};
    for (int u = 0; u < d->nops; u++)
        r.map[u] = -1;
    r.map[0] = 0;                 /* data */
    r.map[2] = 5;                 /* weight: the transformed one */
    r.map[3] = w->nops - 1;       /* Conv2dOutput -> conv2d_winograd */
    /* the epilogue, op by op, its loads renumbered */
    for (int u = 4; u < d->nops && !r.bad; u++) {
        const tt_op *op = d->ops[u];
        int64_t shape[TT_MAX_DIMS], rext[TT_MAX_RAXES];
        const char *an[TT_MAX_DIMS], *rn[TT_MAX_RAXES];
        for (int i = 0; i < op->ndim; i++)
            shape[i] = op->axis[i].extent, an[i] = op->axis[i].name;
        for (int i = 0; i < op->nreduce; i++)
            rext[i] = op->raxis[i].extent, rn[i] = op->raxis[i].name;
        int v;
        if (op->kind == TT_OP_PLACEHOLDER) {
            v = tt_dag_placeholder(w, op->name, op->ndim, shape, op->is_const);
        } else {
            v = tt_dag_compute(w, op->name, op->tag, op->ndim, shape, an, op->nreduce, rext, rn, op->red);
            tt_op *n = tt_dag_op(w, v);
            n->body = tt_expr_rewrite(w->arena, op->body, remap_fn, &r);
            n->cond = op->cond ? tt_expr_rewrite(w->arena, op->cond, remap_fn, &r) : NULL;
            snprintf(n->attrs, sizeof n->attrs, "%s", op->attrs);
        }
        r.map[u] = v;
    }
    if (r.bad) {
        tt_dag_free(w);
        tt_err_set(err, "the conv's epilogue reads its padded input");
        return NULL;
    }
    if (tt_dag_finish(w, err)) {
        tt_dag_free(w);
        return NULL;
    }
    return w;
}
