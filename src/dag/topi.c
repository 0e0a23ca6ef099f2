/* topi.c - builders whose stages match TVM's TOPI computes of late 2020.
 *
 * Ansor addresses stages and iterators by position, so a record tuned in TVM
 * replays here only if every builder reproduces TOPI's stage list, stage
 * order (the topological order of Ansor's ComputeDAG: post-order over each
 * op's inputs in the order the body first reads them), spatial-axis order and
 * reduce-axis order.  Each builder lists its stages.  Index expressions fold
 * the trivial constants TVM's operator builders fold (x*1, x+0, x//1, x%1),
 * so a stride-1 conv reads PaddedInput[nn, yy + ry, xx + rx, rc] as in TVM.
 *
 * Epilogues (tt_epilogue) append, per entry and in order:
 *   BIAS_ADD / BIAS_MUL         placeholder [1,..,1,C] ([C] for dense or bias_1d), T_add / T_multiply
 *   RESIDUAL_ADD / RESIDUAL_MUL placeholder of the output shape, T_add / T_multiply
 *   RELU                        T_relu = max(x, 0)
 *   CLIP                        compute = max(min(x, hi), lo)   (TOPI's python clip)
 *   SCALAR_ADD                  compile_engine_const (0-d), T_add
 * i.e. each op's extra input comes right before the op, as the topological
 * order puts it.
 */
#include "dag.h"

#include <float.h>
#include <stdio.h>
#include <string.h>

/* ---- expression helpers (folding what TVM folds) -------------------------- */

static tt_expr *ti(tt_dag *d, int64_t v) { return tt_e_int(d->arena, v); }
static tt_expr *tax(tt_dag *d, int i) { return tt_e_axis(d->arena, i); }
static tt_expr *trax(tt_dag *d, int i) { return tt_e_raxis(d->arena, i); }

static int is_int(const tt_expr *e, int64_t v) { return e->kind == TT_E_INT && e->u.ival == v; }

static tt_expr *tadd(tt_dag *d, tt_expr *x, tt_expr *y)
{
    if (is_int(y, 0))
        return x;
    if (is_int(x, 0))
        return y;
    return tt_e_bin(d->arena, TT_E_ADD, x, y);
}

static tt_expr *tsub(tt_dag *d, tt_expr *x, tt_expr *y)
{
    if (is_int(y, 0))
        return x;
    return tt_e_bin(d->arena, TT_E_SUB, x, y);
}

static tt_expr *tmul(tt_dag *d, tt_expr *x, tt_expr *y)
{
    if (is_int(y, 1))
        return x;
    if (is_int(x, 1))
        return y;
    return tt_e_bin(d->arena, TT_E_MUL, x, y);
}

static tt_expr *tdiv(tt_dag *d, tt_expr *x, int64_t c)
{
    if (c == 1)
        return x;
    return tt_e_bin(d->arena, TT_E_FLOORDIV, x, ti(d, c));
}

static tt_expr *tmod(tt_dag *d, tt_expr *x, int64_t c)
{
    if (c == 1)
        return ti(d, 0);
    return tt_e_bin(d->arena, TT_E_FLOORMOD, x, ti(d, c));
}

static tt_expr *tbin(tt_dag *d, tt_ekind k, tt_expr *x, tt_expr *y)
{
    return tt_e_bin(d->arena, k, x, y);
}

static tt_expr *tload(tt_dag *d, int uid, int n, tt_expr **idx)
{
    return tt_e_load(d->arena, uid, n, idx);
}

/* src[ax0, ax1, ...] over the first n spatial axes of the enclosing op. */
static tt_expr *load_axes(tt_dag *d, int uid, int n)
{
    tt_expr *idx[TT_MAX_DIMS];
    for (int i = 0; i < n; i++)
        idx[i] = tax(d, i);
    return tload(d, uid, n, idx);
}

static int64_t *op_shape(tt_dag *d, int uid, int64_t *shape)
{
    tt_op *op = tt_dag_op(d, uid);
    for (int i = 0; i < op->ndim; i++)
        shape[i] = op->axis[i].extent;
    return shape;
}

static tt_dag *fail(tt_dag *d, tt_err *err, const char *what)
{
    tt_err_set(err, "%s", what);
    tt_dag_free(d);
    return NULL;
}

static tt_dag *finish(tt_dag *d, tt_err *err)
{
    if (tt_dag_finish(d, err)) {
        tt_dag_free(d);
        return NULL;
    }
    return d;
}

static const char *const py_names[TT_MAX_DIMS] = {"i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7"};

/* TOPI pad: out[i] = in bounds ? src[i - before] : value, a dimension padded
 * on neither side read as is (and no select at all when nothing is padded,
 * as TOPI builds it).  Tag "injective,pad". */
static int topi_pad(tt_dag *d, int src, const char *name, const int64_t *before,
                    const int64_t *after, double value, const char *const *names)
{
    tt_op *s = tt_dag_op(d, src);
    int n = s->ndim;
    int64_t shape[TT_MAX_DIMS];
    for (int i = 0; i < n; i++)
        shape[i] = s->axis[i].extent + before[i] + after[i];
    int64_t in_shape[TT_MAX_DIMS];
    op_shape(d, src, in_shape);
    int uid = tt_dag_compute(d, name, "injective,pad", n, shape, names, 0, NULL, NULL, TT_RED_NONE);
    tt_expr *idx[TT_MAX_DIMS], *cond = NULL;
    for (int i = 0; i < n; i++) {
        idx[i] = tax(d, i);
        if (before[i]) {
            tt_expr *c = tbin(d, TT_E_GE, tax(d, i), ti(d, before[i]));
            cond = cond ? tbin(d, TT_E_AND, cond, c) : c;
            idx[i] = tsub(d, tax(d, i), ti(d, before[i]));
        }
        if (after[i]) {
            tt_expr *c = tbin(d, TT_E_LT, tax(d, i), ti(d, in_shape[i] + before[i]));
            cond = cond ? tbin(d, TT_E_AND, cond, c) : c;
        }
    }
    tt_op *op = tt_dag_op(d, uid);
    tt_expr *ld = tload(d, src, n, idx);
    op->body = cond ? tt_e_select(d->arena, cond, ld, tt_e_float(d->arena, value)) : ld;
    snprintf(op->attrs, sizeof op->attrs, "pad=");
    for (int i = 0; i < n; i++)
        snprintf(op->attrs + strlen(op->attrs), sizeof op->attrs - strlen(op->attrs), "%s%lld:%lld",
                 i ? "," : "", (long long)before[i], (long long)after[i]);
    return uid;
}

/* Append the epilogue ops after op x; returns the uid of the last op, or -1
 * with err set.  bias_1d: a per-channel tensor is [C] (dense) rather than
 * [1,..,1,C]. */
static int topi_epilogue(tt_dag *d, int x, const tt_epilogue *epi, int bias_1d, tt_err *err)
{
    if (!epi)
        return x;
    if (epi->n < 0 || epi->n > 8)
        return tt_err_set(err, "epilogue has %d ops (at most 8)", epi->n);
    bias_1d |= epi->bias_1d;
    for (int k = 0; k < epi->n; k++) {
        tt_op *xo = tt_dag_op(d, x);
        int n = xo->ndim;
        int64_t shape[TT_MAX_DIMS];
        op_shape(d, x, shape);
        if (n < 1)
            return tt_err_set(err, "epilogue on a 0-d tensor");
        tt_expr *idx[TT_MAX_DIMS];
        int y = -1;
        tt_op *op;
        switch (epi->ops[k]) {
        case TT_EPI_BIAS_ADD:
        case TT_EPI_BIAS_MUL: {
            int add = epi->ops[k] == TT_EPI_BIAS_ADD;
            int64_t bshape[TT_MAX_DIMS];
            int bn = bias_1d ? 1 : n;
            for (int i = 0; i < bn; i++)
                bshape[i] = 1;
            bshape[bn - 1] = shape[n - 1];
            int b = tt_dag_placeholder(d, add ? "bias" : "scale", bn, bshape, 1);
            /* index 0 where the output is broadcast, as TVM does */
            for (int i = 0; i < bn; i++) {
                int oi = n - bn + i;
                idx[i] = i == bn - 1 || shape[oi] == 1 ? tax(d, oi) : ti(d, 0);
            }
            y = tt_dag_compute(d, add ? "T_add" : "T_multiply", "broadcast", n, shape, NULL, 0,
                               NULL, NULL, TT_RED_NONE);
            op = tt_dag_op(d, y);
            op->body = tbin(d, add ? TT_E_ADD : TT_E_MUL, load_axes(d, x, n), tload(d, b, bn, idx));
            break;
        }
        case TT_EPI_RESIDUAL_ADD:
        case TT_EPI_RESIDUAL_MUL: {
            int add = epi->ops[k] == TT_EPI_RESIDUAL_ADD;
            int r = tt_dag_placeholder(d, "residual", n, shape, 0);
            y = tt_dag_compute(d, add ? "T_add" : "T_multiply", "broadcast", n, shape, NULL, 0,
                               NULL, NULL, TT_RED_NONE);
            op = tt_dag_op(d, y);
            op->body = tbin(d, add ? TT_E_ADD : TT_E_MUL, load_axes(d, x, n), load_axes(d, r, n));
            break;
        }
        case TT_EPI_RELU:
            y = tt_dag_compute(d, "T_relu", "elemwise", n, shape, NULL, 0, NULL, NULL, TT_RED_NONE);
            op = tt_dag_op(d, y);
            op->body = tbin(d, TT_E_MAX, load_axes(d, x, n), tt_e_float(d->arena, 0.0));
            break;
        case TT_EPI_CLIP:
            if (!(epi->lo[k] <= epi->hi[k]))
                return tt_err_set(err, "clip bounds %g > %g", epi->lo[k], epi->hi[k]);
            y = tt_dag_compute(d, "compute", "elemwise", n, shape, py_names, 0, NULL, NULL,
                               TT_RED_NONE);
            op = tt_dag_op(d, y);
            op->body = tbin(d, TT_E_MAX,
                            tbin(d, TT_E_MIN, load_axes(d, x, n), tt_e_float(d->arena, epi->hi[k])),
                            tt_e_float(d->arena, epi->lo[k]));
            snprintf(op->attrs, sizeof op->attrs, "a_min=%.9g a_max=%.9g", epi->lo[k], epi->hi[k]);
            break;
        case TT_EPI_SCALAR_ADD: {
            /* Relay's compile engine turns a scalar constant into a 0-d
             * compute stage; the add then reads it with no indices. */
            int c = tt_dag_compute(d, "compile_engine_const", "broadcast", 0, NULL, NULL, 0, NULL,
                                   NULL, TT_RED_NONE);
            tt_dag_op(d, c)->body = tt_e_float(d->arena, epi->lo[k]);
            y = tt_dag_compute(d, "T_add", "broadcast", n, shape, NULL, 0, NULL, NULL, TT_RED_NONE);
            op = tt_dag_op(d, y);
            op->body = tbin(d, TT_E_ADD, load_axes(d, x, n), tload(d, c, 0, NULL));
            break;
        }
        default:
            return tt_err_set(err, "unknown epilogue op %d", (int)epi->ops[k]);
        }
        x = y;
    }
    return x;
}

/* ---- conv2d ----------------------------------------------------------------
 * conv2d_nhwc (groups 1), group_conv2d_nhwc, depthwise_conv2d_nhwc:
 *   0 data [N,H,W,CI]
 *   1 PaddedInput [N,H+pt+pb,W+pl+pr,CI]      (always built, even for pad 0)
 *   2 weight HWIO [KH,KW,CI/g,CO]  (depthwise: [KH,KW,CI,CO/CI])
 *   3 Conv2dOutput [nn,yy,xx,ff] sum over [ry,rx,rc]:
 *       PaddedInput[nn, yy*sh + ry*dh, xx*sw + rx*dw, rc] * weight[ry,rx,rc,ff]
 *     grouped: channel index ff // (CO/g) * (CI/g) + rc
 *     depthwise (DepthwiseConv2d [b,i,j,c] sum over [di,dj]):
 *       PaddedInput[b, i*sh + di*dh, j*sw + dj*dw, c // m] * weight[di, dj, c // m, c % m]
 *   4.. epilogue
 * For depthwise, co is the number of output channels (ci * multiplier). */
tt_dag *tt_build_conv2d_nhwc(const tt_conv2d_params *p, const tt_epilogue *epi, tt_err *err)
{
    tt_dag *d = tt_dag_new();
    int64_t g = p->groups > 0 ? p->groups : 1;
    if (p->n <= 0 || p->h <= 0 || p->w <= 0 || p->ci <= 0 || p->kh <= 0 || p->kw <= 0 ||
        p->co <= 0)
        return fail(d, err, "conv2d: non-positive shape");
    if (p->stride_h <= 0 || p->stride_w <= 0 || p->dil_h <= 0 || p->dil_w <= 0)
        return fail(d, err, "conv2d: stride and dilation must be positive");
    if (p->pad_t < 0 || p->pad_l < 0 || p->pad_b < 0 || p->pad_r < 0)
        return fail(d, err, "conv2d: negative padding");
    if (p->depthwise && p->co % p->ci)
        return fail(d, err, "depthwise conv2d: output channels not a multiple of input channels");
    if (!p->depthwise && (p->ci % g || p->co % g))
        return fail(d, err, "conv2d: channels not divisible by groups");
    int64_t dkh = (p->kh - 1) * p->dil_h + 1, dkw = (p->kw - 1) * p->dil_w + 1;
    int64_t hp = p->h + p->pad_t + p->pad_b, wp = p->w + p->pad_l + p->pad_r;
    if (hp < dkh || wp < dkw)
        return fail(d, err, "conv2d: kernel larger than the padded input");
    int64_t oh = (hp - dkh) / p->stride_h + 1, ow = (wp - dkw) / p->stride_w + 1;

    int64_t dshape[4] = {p->n, p->h, p->w, p->ci};
    int data = tt_dag_placeholder(d, "data", 4, dshape, 0);
    int64_t before[4] = {0, p->pad_t, p->pad_l, 0}, after[4] = {0, p->pad_b, p->pad_r, 0};
    int pad = topi_pad(d, data, "PaddedInput", before, after, 0.0, py_names);
    int64_t mult = p->depthwise ? p->co / p->ci : 1;
    int64_t wshape[4] = {p->kh, p->kw, p->depthwise ? p->ci : p->ci / g,
                         p->depthwise ? mult : p->co};
    int weight = tt_dag_placeholder(d, "weight", 4, wshape, 1);
    int64_t oshape[4] = {p->n, oh, ow, p->co};
    int conv;
    tt_expr *pi[4], *wi[4];
    if (p->depthwise) {
        static const char *const an[4] = {"b", "i", "j", "c"}, *const rn[2] = {"di", "dj"};
        int64_t rext[2] = {p->kh, p->kw};
        conv = tt_dag_compute(d, "DepthwiseConv2d", "depthwise_conv2d_nhwc", 4, oshape, an, 2, rext,
                              rn, TT_RED_SUM);
        pi[0] = tax(d, 0);
        pi[1] = tadd(d, tmul(d, tax(d, 1), ti(d, p->stride_h)), tmul(d, trax(d, 0), ti(d, p->dil_h)));
        pi[2] = tadd(d, tmul(d, tax(d, 2), ti(d, p->stride_w)), tmul(d, trax(d, 1), ti(d, p->dil_w)));
        pi[3] = tdiv(d, tax(d, 3), mult);
        wi[0] = trax(d, 0);
        wi[1] = trax(d, 1);
        wi[2] = tdiv(d, tax(d, 3), mult);
        wi[3] = tmod(d, tax(d, 3), mult);
    } else {
        static const char *const an[4] = {"nn", "yy", "xx", "ff"}, *const rn[3] = {"ry", "rx", "rc"};
        int64_t rext[3] = {p->kh, p->kw, p->ci / g};
        conv = tt_dag_compute(d, g == 1 ? "Conv2dOutput" : "group_conv2d_nhwc",
                              g == 1 ? "conv2d_nhwc" : "group_conv2d_nhwc", 4, oshape, an, 3, rext,
                              rn, TT_RED_SUM);
        pi[0] = tax(d, 0);
        pi[1] = tadd(d, tmul(d, tax(d, 1), ti(d, p->stride_h)), tmul(d, trax(d, 0), ti(d, p->dil_h)));
        pi[2] = tadd(d, tmul(d, tax(d, 2), ti(d, p->stride_w)), tmul(d, trax(d, 1), ti(d, p->dil_w)));
        pi[3] = g == 1 ? trax(d, 2)
                       : tadd(d, tmul(d, tdiv(d, tax(d, 3), p->co / g), ti(d, p->ci / g)), trax(d, 2));
        wi[0] = trax(d, 0);
        wi[1] = trax(d, 1);
        wi[2] = trax(d, 2);
        wi[3] = tax(d, 3);
    }
    tt_op *op = tt_dag_op(d, conv);
    op->body = tbin(d, TT_E_MUL, tload(d, pad, 4, pi), tload(d, weight, 4, wi));
    /* The group count is structure (ResNeXt's 32 groups), but a depthwise
     * conv's equals its channel count, a shape: it prints as a flag. */
    char gtext[32];
    if (p->depthwise)
        snprintf(gtext, sizeof gtext, "depthwise");
    else
        snprintf(gtext, sizeof gtext, "groups=%lld", (long long)g);
    snprintf(op->attrs, sizeof op->attrs, "stride=%lld,%lld pad=%lld,%lld,%lld,%lld dil=%lld,%lld %s",
             (long long)p->stride_h, (long long)p->stride_w, (long long)p->pad_t,
             (long long)p->pad_l, (long long)p->pad_b, (long long)p->pad_r, (long long)p->dil_h,
             (long long)p->dil_w, gtext);
    if (topi_epilogue(d, conv, epi, 0, err) < 0) {
        tt_dag_free(d);
        return NULL;
    }
    return finish(d, err);
}

/* ---- dense, batch_matmul, matmul_add --------------------------------------- */

/* TOPI nn.dense:
 *   0 data [M,K]   1 weight [N,K] (const)
 *   2 T_dense [i,j] sum over [k] of data[i,k] * weight[j,k]   (tag "dense")
 *   3.. epilogue (a bias is 1-D [N], Relay's bias_add on the last axis) */
tt_dag *tt_build_dense(int64_t m, int64_t n, int64_t k, const tt_epilogue *epi, tt_err *err)
{
    tt_dag *d = tt_dag_new();
    if (m <= 0 || n <= 0 || k <= 0)
        return fail(d, err, "dense: non-positive shape");
    int64_t ds[2] = {m, k}, ws[2] = {n, k}, os[2] = {m, n};
    int data = tt_dag_placeholder(d, "data", 2, ds, 0);
    int weight = tt_dag_placeholder(d, "weight", 2, ws, 1);
    static const char *const an[2] = {"i", "j"}, *const rn[1] = {"k"};
    int out = tt_dag_compute(d, "T_dense", "dense", 2, os, an, 1, &k, rn, TT_RED_SUM);
    tt_expr *a[2] = {tax(d, 0), trax(d, 0)}, *b[2] = {tax(d, 1), trax(d, 0)};
    tt_dag_op(d, out)->body = tbin(d, TT_E_MUL, tload(d, data, 2, a), tload(d, weight, 2, b));
    if (topi_epilogue(d, out, epi, 1, err) < 0) {
        tt_dag_free(d);
        return NULL;
    }
    return finish(d, err);
}

/* TOPI nn.batch_matmul (transposed B):
 *   0 A [B,M,K]   1 B [B,N,K]
 *   2 T_batch_matmul_NT [b,i,j] sum over [k] of A[b,i,k] * B[b,j,k]  (tag "batch_matmul")
 *   3.. epilogue (a per-channel tensor is [1,1,N]) */
tt_dag *tt_build_batch_matmul(int64_t b, int64_t m, int64_t n, int64_t k, const tt_epilogue *epi,
                              tt_err *err)
{
    tt_dag *d = tt_dag_new();
    if (b <= 0 || m <= 0 || n <= 0 || k <= 0)
        return fail(d, err, "batch_matmul: non-positive shape");
    int64_t as[3] = {b, m, k}, bs[3] = {b, n, k}, os[3] = {b, m, n};
    int x = tt_dag_placeholder(d, "A", 3, as, 0);
    int y = tt_dag_placeholder(d, "B", 3, bs, 0);
    static const char *const an[3] = {"b", "i", "j"}, *const rn[1] = {"k"};
    int out = tt_dag_compute(d, "T_batch_matmul_NT", "batch_matmul", 3, os, an, 1, &k, rn,
                             TT_RED_SUM);
    tt_expr *xi[3] = {tax(d, 0), tax(d, 1), trax(d, 0)}, *yi[3] = {tax(d, 0), tax(d, 2), trax(d, 0)};
    tt_dag_op(d, out)->body = tbin(d, TT_E_MUL, tload(d, x, 3, xi), tload(d, y, 3, yi));
    if (topi_epilogue(d, out, epi, 0, err) < 0) {
        tt_dag_free(d);
        return NULL;
    }
    return finish(d, err);
}

/* The auto-scheduler tutorial's registered workload matmul_add(N, L, M):
 *   0 A [N,L]   1 B [L,M] (const)   2 matmul [i,j] sum over [k] of A[i,k] * B[k,j]
 *   3 C [N,M]   4 out = matmul[i,j] + C[i,j]
 * Both computes carry the tag "matmul_add" so the class key is that name. */
tt_dag *tt_build_matmul_add(int64_t n, int64_t l, int64_t m, tt_err *err)
{
    tt_dag *d = tt_dag_new();
    if (n <= 0 || l <= 0 || m <= 0)
        return fail(d, err, "matmul_add: non-positive shape");
    int64_t as[2] = {n, l}, bs[2] = {l, m}, os[2] = {n, m};
    int a = tt_dag_placeholder(d, "A", 2, as, 0);
    int b = tt_dag_placeholder(d, "B", 2, bs, 1);
    static const char *const an[2] = {"i", "j"}, *const rn[1] = {"k"};
    int mm = tt_dag_compute(d, "matmul", "matmul_add", 2, os, an, 1, &l, rn, TT_RED_SUM);
    tt_expr *ai[2] = {tax(d, 0), trax(d, 0)}, *bi[2] = {trax(d, 0), tax(d, 1)};
    tt_dag_op(d, mm)->body = tbin(d, TT_E_MUL, tload(d, a, 2, ai), tload(d, b, 2, bi));
    int c = tt_dag_placeholder(d, "C", 2, os, 0);
    int out = tt_dag_compute(d, "out", "elemwise,matmul_add", 2, os, an, 0, NULL, NULL,
                             TT_RED_NONE);
    tt_dag_op(d, out)->body = tbin(d, TT_E_ADD, load_axes(d, mm, 2), load_axes(d, c, 2));
    return finish(d, err);
}

/* ---- pooling ---------------------------------------------------------------
 * TOPI C++ pool_impl, NHWC:
 *   0 data [N,H,W,C]
 *   1 pad_temp (only if some padding is nonzero; pad value: the float lowest
 *     for max, 0 for avg)
 *   . tensor [ax0..ax3] reduce [rv0 (KH), rv1 (KW)] of
 *       src[ax0, ax1*sh + rv0, ax2*sw + rv1, ax3]   max ("pool_max") or sum ("pool_sum")
 *   . avg only: tensor = sum / count, count = KH*KW (count_include_pad) or
 *     the number of in-bounds window elements   (tag "elemwise,pool_avg")
 *   .. epilogue
 * Ceil mode is expressed by the caller as extra bottom/right padding, which
 * is what TOPI does with it. */
tt_dag *tt_build_pool2d_nhwc(const tt_pool_params *p, const tt_epilogue *epi, tt_err *err)
{
    tt_dag *d = tt_dag_new();
    if (p->kind != TT_POOL_MAX && p->kind != TT_POOL_AVG)
        return fail(d, err, "pool2d: unknown pool kind");
    if (p->n <= 0 || p->h <= 0 || p->w <= 0 || p->c <= 0 || p->kh <= 0 || p->kw <= 0)
        return fail(d, err, "pool2d: non-positive shape");
    if (p->stride_h <= 0 || p->stride_w <= 0)
        return fail(d, err, "pool2d: non-positive stride");
    if (p->pad_t < 0 || p->pad_l < 0 || p->pad_b < 0 || p->pad_r < 0)
        return fail(d, err, "pool2d: negative padding");
    int64_t hp = p->h + p->pad_t + p->pad_b, wp = p->w + p->pad_l + p->pad_r;
    if (hp < p->kh || wp < p->kw)
        return fail(d, err, "pool2d: window larger than the padded input");
    int64_t oh = (hp - p->kh) / p->stride_h + 1, ow = (wp - p->kw) / p->stride_w + 1;
    int max = p->kind == TT_POOL_MAX;

    int64_t dshape[4] = {p->n, p->h, p->w, p->c};
    int src = tt_dag_placeholder(d, "data", 4, dshape, 0);
    if (p->pad_t || p->pad_l || p->pad_b || p->pad_r) {
        int64_t before[4] = {0, p->pad_t, p->pad_l, 0}, after[4] = {0, p->pad_b, p->pad_r, 0};
        src = topi_pad(d, src, "pad_temp", before, after, max ? -(double)FLT_MAX : 0.0, NULL);
    }
    int64_t oshape[4] = {p->n, oh, ow, p->c}, rext[2] = {p->kh, p->kw};
    int pool = tt_dag_compute(d, "tensor", max ? "pool_max" : "pool_sum", 4, oshape, NULL, 2, rext,
                              NULL, max ? TT_RED_MAX : TT_RED_SUM);
    tt_expr *idx[4] = {tax(d, 0), tadd(d, tmul(d, tax(d, 1), ti(d, p->stride_h)), trax(d, 0)),
                       tadd(d, tmul(d, tax(d, 2), ti(d, p->stride_w)), trax(d, 1)), tax(d, 3)};
    tt_op *op = tt_dag_op(d, pool);
    op->body = tload(d, src, 4, idx);
    snprintf(op->attrs, sizeof op->attrs, "kernel=%lld,%lld stride=%lld,%lld pad=%lld,%lld,%lld,%lld",
             (long long)p->kh, (long long)p->kw, (long long)p->stride_h, (long long)p->stride_w,
             (long long)p->pad_t, (long long)p->pad_l, (long long)p->pad_b, (long long)p->pad_r);
    int out = pool;
    if (!max) {
        out = tt_dag_compute(d, "tensor", "elemwise,pool_avg", 4, oshape, NULL, 0, NULL, NULL,
                             TT_RED_NONE);
        tt_expr *count;
        if (p->count_include_pad) {
            count = ti(d, p->kh * p->kw);
        } else {
            /* max((min(hs + kh, H) - max(hs, 0)) * (min(ws + kw, W) - max(ws, 0)), 1)
             * with hs = ax1*sh - pt, ws = ax2*sw - pl, as TOPI writes it. */
            tt_expr *hs = tsub(d, tmul(d, tax(d, 1), ti(d, p->stride_h)), ti(d, p->pad_t));
            tt_expr *ws = tsub(d, tmul(d, tax(d, 2), ti(d, p->stride_w)), ti(d, p->pad_l));
            tt_expr *he = tbin(d, TT_E_MIN, tadd(d, hs, ti(d, p->kh)), ti(d, p->h));
            tt_expr *we = tbin(d, TT_E_MIN, tadd(d, ws, ti(d, p->kw)), ti(d, p->w));
            tt_expr *h0 = tbin(d, TT_E_MAX, hs, ti(d, 0)), *w0 = tbin(d, TT_E_MAX, ws, ti(d, 0));
            count = tbin(d, TT_E_MAX,
                         tbin(d, TT_E_MUL, tbin(d, TT_E_SUB, he, h0), tbin(d, TT_E_SUB, we, w0)),
                         ti(d, 1));
        }
        tt_op *div = tt_dag_op(d, out);
        div->body = tbin(d, TT_E_DIV, load_axes(d, pool, 4), tt_e_un(d->arena, TT_E_CAST, count));
        snprintf(div->attrs, sizeof div->attrs, "count_include_pad=%d", p->count_include_pad != 0);
    }
    if (topi_epilogue(d, out, epi, 0, err) < 0) {
        tt_dag_free(d);
        return NULL;
    }
    return finish(d, err);
}

/* TOPI global_pool (adaptive_pool to 1x1), average, NHWC:
 *   0 data [N,H,W,C]
 *   1 tensor [ax0..ax3] = [N,1,1,C], sum over [rv0 (H), rv1 (W)] of
 *       data[ax0, ax1*H + rv0, ax2*W + rv1, ax3]          (tag "adaptive_pool_sum")
 *   2 tensor = sum / (H*W)                                (tag "elemwise,adaptive_pool_avg")
 *   3.. epilogue */
tt_dag *tt_build_global_avg_pool_nhwc(int64_t n, int64_t h, int64_t w, int64_t c,
                                      const tt_epilogue *epi, tt_err *err)
{
    tt_dag *d = tt_dag_new();
    if (n <= 0 || h <= 0 || w <= 0 || c <= 0)
        return fail(d, err, "global_avg_pool: non-positive shape");
    int64_t dshape[4] = {n, h, w, c}, oshape[4] = {n, 1, 1, c}, rext[2] = {h, w};
    int data = tt_dag_placeholder(d, "data", 4, dshape, 0);
    int sum = tt_dag_compute(d, "tensor", "adaptive_pool_sum", 4, oshape, NULL, 2, rext, NULL,
                             TT_RED_SUM);
    tt_expr *idx[4] = {tax(d, 0), tadd(d, tmul(d, tax(d, 1), ti(d, h)), trax(d, 0)),
                       tadd(d, tmul(d, tax(d, 2), ti(d, w)), trax(d, 1)), tax(d, 3)};
    tt_dag_op(d, sum)->body = tload(d, data, 4, idx);
    int avg = tt_dag_compute(d, "tensor", "elemwise,adaptive_pool_avg", 4, oshape, NULL, 0, NULL,
                             NULL, TT_RED_NONE);
    tt_dag_op(d, avg)->body =
        tbin(d, TT_E_DIV, load_axes(d, sum, 4), tt_e_un(d->arena, TT_E_CAST, ti(d, h * w)));
    if (topi_epilogue(d, avg, epi, 0, err) < 0) {
        tt_dag_free(d);
        return NULL;
    }
    return finish(d, err);
}

/* ---- softmax ---------------------------------------------------------------
 * TOPI nn.softmax over the last axis (all stages tagged "softmax_output"):
 *   0 data S
 *   1 T_softmax_maxelem  S minus the last dim, max over k of data[i.., k]
 *   2 T_softmax_exp      S, exp(data[i..] - maxelem[i.. without last])
 *   3 T_softmax_expsum   S minus the last dim, sum over k of exp[i.., k]
 *   4 T_softmax_norm     S, exp[i..] / expsum[i.. without last]
 * The reduce axis is the last iterator of stages 1 and 3. */
tt_dag *tt_build_softmax(int ndim, const int64_t *shape, tt_err *err)
{
    tt_dag *d = tt_dag_new();
    if (ndim < 1 || ndim > TT_MAX_DIMS)
        return fail(d, err, "softmax: rank out of range");
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0)
            return fail(d, err, "softmax: non-positive shape");
    int r = ndim - 1;
    int64_t k = shape[r];
    static const char *const kn[1] = {"k"};
    int data = tt_dag_placeholder(d, "data", ndim, shape, 0);
    tt_expr *idx[TT_MAX_DIMS];

    int maxe = tt_dag_compute(d, "T_softmax_maxelem", "softmax_output", r, shape, py_names, 1, &k,
                              kn, TT_RED_MAX);
    for (int i = 0; i < r; i++)
        idx[i] = tax(d, i);
    idx[r] = trax(d, 0);
    tt_dag_op(d, maxe)->body = tload(d, data, ndim, idx);

    int ex = tt_dag_compute(d, "T_softmax_exp", "softmax_output", ndim, shape, py_names, 0, NULL,
                            NULL, TT_RED_NONE);
    tt_expr *diff = tbin(d, TT_E_SUB, load_axes(d, data, ndim), load_axes(d, maxe, r));
    tt_dag_op(d, ex)->body = tt_e_call(d->arena, TT_CALL_EXP, 1, &diff);

    int sum = tt_dag_compute(d, "T_softmax_expsum", "softmax_output", r, shape, py_names, 1, &k, kn,
                             TT_RED_SUM);
    for (int i = 0; i < r; i++)
        idx[i] = tax(d, i);
    idx[r] = trax(d, 0);
    tt_dag_op(d, sum)->body = tload(d, ex, ndim, idx);

    int norm = tt_dag_compute(d, "T_softmax_norm", "softmax_output", ndim, shape, py_names, 0, NULL,
                              NULL, TT_RED_NONE);
    tt_op *op = tt_dag_op(d, norm);
    op->body = tbin(d, TT_E_DIV, load_axes(d, ex, ndim), load_axes(d, sum, r));
    snprintf(op->attrs, sizeof op->attrs, "axis=%d", r);
    return finish(d, err);
}

/* ---- Winograd --------------------------------------------------------------- */

/* TOPI's const_matrix: out[i][j] = the matrix's (i, j) entry, spelt as a
 * chain of selects on (i % rows == ii && j % cols == jj), the last entry
 * outermost, every value a float32 constant. */
static int const_matrix(tt_dag *d, const char *name, const double *v, int rows, int cols)
{
    static const char *const an[2] = {"i", "j"};
    int64_t shape[2] = {rows, cols};
    int uid = tt_dag_compute(d, name, "conv2d_winograd_nhwc,const_matrix", 2, shape, an, 0, NULL, NULL,
                             TT_RED_NONE);
    tt_expr *now = tt_e_float(d->arena, 0.0);
    for (int ii = 0; ii < rows; ii++)
        for (int jj = 0; jj < cols; jj++) {
            tt_expr *c = tbin(d, TT_E_AND, tbin(d, TT_E_EQ, tmod(d, tax(d, 0), rows), ti(d, ii)),
                              tbin(d, TT_E_EQ, tmod(d, tax(d, 1), cols), ti(d, jj)));
            now = tt_e_select(d->arena, c, tt_e_float(d->arena, (float)v[ii * cols + jj]), now);
        }
    tt_dag_op(d, uid)->body = now;
    return uid;
}

/* A transform stage of TOPI's (data_pack = B^T d B, inverse = A^T M A):
 *   out[x, y, p, c] = sum_{r_a, r_b} in[r_a, r_b, p, c] * (M[r_a, x] * M[r_b, y])
 * over alpha x alpha, its constant axes (x, y, r_a, r_b) named in attrs as
 * TOPI's auto_scheduler_simplify_const_tensor_indices.  TOPI multiplies
 * (in * M) * M; grouped, the two entries fold to one literal (or to nothing). */
static int wino_transform(tt_dag *d, const char *name, int in, int mat, const int64_t *shape,
                          const char *const *axes, int64_t alpha)
{
    static const char *const rn[2] = {"r_a", "r_b"};
    int64_t rext[2] = {alpha, alpha};
    char tag[TT_NAME_MAX];
    snprintf(tag, sizeof tag, "conv2d_winograd_nhwc,%s", name);
    int uid = tt_dag_compute(d, name, tag, 4, shape, axes, 2, rext, rn, TT_RED_SUM);
    tt_expr *x[4] = {trax(d, 0), trax(d, 1), tax(d, 2), tax(d, 3)};
    tt_expr *m1[2] = {trax(d, 0), tax(d, 0)}, *m2[2] = {trax(d, 1), tax(d, 1)};
    tt_op *op = tt_dag_op(d, uid);
    op->body = tbin(d, TT_E_MUL, tload(d, in, 4, x), tbin(d, TT_E_MUL, tload(d, mat, 2, m1), tload(d, mat, 2, m2)));
    snprintf(op->attrs, sizeof op->attrs, "const_axes=%s,%s,r_a,r_b", axes[0], axes[1]);
    return uid;
}

tt_dag *tt_build_conv2d_winograd_nhwc(const tt_conv2d_params *p, int m, const tt_epilogue *epi,
                                      tt_err *err)
{
    tt_dag *d = tt_dag_new();
    if (!tt_winograd_applies(p))
        return fail(d, err, "conv2d winograd: needs a 3x3 kernel, stride 1, no dilation, no groups");
    int64_t alpha = m + 2;
    double A[TT_WINO_MAX_ALPHA * 8], B[TT_WINO_MAX_ALPHA * TT_WINO_MAX_ALPHA], G[TT_WINO_MAX_ALPHA * 3];
    if (tt_winograd_matrices(m, 3, A, B, G))
        return fail(d, err, "conv2d winograd: the output tile must be 2, 4 or 6");
    int64_t oh = p->h + p->pad_t + p->pad_b - 2, ow = p->w + p->pad_l + p->pad_r - 2;
    if (oh <= 0 || ow <= 0)
        return fail(d, err, "conv2d winograd: kernel larger than the padded input");
    int64_t nh = (oh + m - 1) / m, nw = (ow + m - 1) / m, P = p->n * nh * nw;
    /* TOPI pads the bottom and right up to whole tiles (its pad_extra; per
     * dimension here, which is TOPI's value for square inputs) */
    int64_t extra_h = nh * m - oh, extra_w = nw * m - ow;
    int64_t dshape[4] = {p->n, p->h, p->w, p->ci};
    int data = tt_dag_placeholder(d, "data", 4, dshape, 0);
    int64_t before[4] = {0, p->pad_t, p->pad_l, 0};
    int64_t after[4] = {0, p->pad_b + extra_h, p->pad_r + extra_w, 0};
    int pad = topi_pad(d, data, "data_pad", before, after, 0.0, py_names);

    static const char *const tn[4] = {"eps", "nu", "p", "ci"};
    int64_t tshape[4] = {alpha, alpha, P, p->ci};
    int tile = tt_dag_compute(d, "input_tile", "conv2d_winograd_nhwc,input_tile", 4, tshape, tn, 0, NULL,
                              NULL, TT_RED_NONE);
    tt_expr *pi[4] = {
        tdiv(d, tax(d, 2), nh * nw),
        tadd(d, tmul(d, tmod(d, tdiv(d, tax(d, 2), nw), nh), ti(d, m)), tax(d, 0)),
        tadd(d, tmul(d, tmod(d, tax(d, 2), nw), ti(d, m)), tax(d, 1)),
        tax(d, 3),
    };
    tt_dag_op(d, tile)->body = tload(d, pad, 4, pi);

    int bm = const_matrix(d, "B", B, (int)alpha, (int)alpha);
    int pack = wino_transform(d, "data_pack", tile, bm, tshape, tn, alpha);

    int64_t wshape[4] = {alpha, alpha, p->co, p->ci};
    int weight = tt_dag_placeholder(d, "weight", 4, wshape, 1);
    static const char *const gn[4] = {"eps", "nu", "p", "co"}, *const gr[1] = {"ci"};
    int64_t gshape[4] = {alpha, alpha, P, p->co}, gext[1] = {p->ci};
    int bgemm = tt_dag_compute(d, "bgemm", "conv2d_winograd_nhwc,bgemm", 4, gshape, gn, 1, gext, gr,
                               TT_RED_SUM);
    {
        tt_expr *a[4] = {tax(d, 0), tax(d, 1), tax(d, 2), trax(d, 0)};
        tt_expr *w[4] = {tax(d, 0), tax(d, 1), tax(d, 3), trax(d, 0)};
        tt_dag_op(d, bgemm)->body = tbin(d, TT_E_MUL, tload(d, pack, 4, a), tload(d, weight, 4, w));
    }

    int am = const_matrix(d, "A", A, (int)alpha, m);
    static const char *const vn[4] = {"vh", "vw", "p", "co"};
    int64_t vshape[4] = {m, m, P, p->co};
    int inv = wino_transform(d, "inverse", bgemm, am, vshape, vn, alpha);

    static const char *const on[4] = {"n", "h", "w", "co"};
    int64_t oshape[4] = {p->n, oh, ow, p->co};
    int out = tt_dag_compute(d, "conv2d_winograd", "conv2d_winograd_nhwc", 4, oshape, on, 0, NULL, NULL,
                             TT_RED_NONE);
    {
        tt_expr *ptile = tadd(d, tadd(d, tmul(d, tax(d, 0), ti(d, nh * nw)), tmul(d, tdiv(d, tax(d, 1), m), ti(d, nw))),
                              tdiv(d, tax(d, 2), m));
        tt_expr *i[4] = {tmod(d, tax(d, 1), m), tmod(d, tax(d, 2), m), ptile, tax(d, 3)};
        tt_op *op = tt_dag_op(d, out);
        op->body = tload(d, inv, 4, i);
        snprintf(op->attrs, sizeof op->attrs, "winograd m=%d pad=%lld,%lld,%lld,%lld", m, (long long)p->pad_t,
                 (long long)p->pad_l, (long long)p->pad_b, (long long)p->pad_r);
    }
    if (topi_epilogue(d, out, epi, 0, err) < 0) {
        tt_dag_free(d);
        return NULL;
    }
    return finish(d, err);
}

int tt_winograd_applies(const tt_conv2d_params *p)
{
    return p->kh == 3 && p->kw == 3 && p->stride_h == 1 && p->stride_w == 1 && p->dil_h == 1 &&
           p->dil_w == 1 && (p->groups <= 1) && !p->depthwise && p->n > 0 && p->ci > 0 && p->co > 0;
}
