/* identify.c - infer candidate DAGs from a workload key's shapes.
 *
 * Each op family has a matcher that splits the key's ints into tensors the
 * way that family lays them out (old keys are one flat list), checks that
 * the shapes are consistent, infers the missing parameters and builds every
 * plausible DAG with a plausibility score (lower is better):
 *
 *   conv2d   [N,H,W,CI] [KH,KW,CI/g,CO] {[1,1,1,CO] | [CO] | [N,OH,OW,CO]}* [N,OH,OW,CO]
 *   winograd [N,H,W,CI] [A,A,CO,CI] {...}* [N,OH,OW,CO]   (A = 4, 6, 8: F(A-2, 3))
 *   pool2d   [N,H,W,C] {[1,1,1,C] | [C] | [N,OH,OW,C]}* [N,OH,OW,C]
 *   dense    [M,K] [N,K] {[N] | [M,N]}* [M,N]
 *   batch_mm [B,M,K] [B,N,K] {[1,1,N] | [N] | [B,M,N]}* [B,M,N]
 *   softmax  S S
 *
 * Stride and padding come from the output size: for each stride 1..4 the
 * "same"-style symmetric padding (K-1)/2 is tried first, then other
 * symmetric paddings, then asymmetric ones, then dilations.  The epilogue
 * tensors are read in key order (Relay lists a fused function's parameters
 * in the order the ops use them): two per-channel tensors in a row are a
 * folded batch norm (multiply, then add), a single one a bias add, a
 * full-shape one a residual add; the other readings follow.  Whether a relu
 * (or clip) ends the kernel is read from the stage count when known.
 *
 * All candidates are then ordered by stage-count fit first, score second,
 * generation order third; duplicates are dropped, and every candidate's I/O
 * shapes are checked against the key once more.
 */
#include "identify.h"
#include "../sched/sched.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_MAX_TENSORS 64
#define ID_MAX_MIDS 6     /* epilogue tensors considered */
#define ID_MAX_GEOMS 4    /* geometry pairs tried per kernel */

typedef struct id_shape {
    int nd;
    int64_t d[TT_MAX_DIMS];
} id_shape;

typedef struct id_cand {
    tt_dag *dag;
    char desc[160];
    double score;
    int seq;
    uint64_t hash;           /* of the concrete print, to drop duplicates */
} id_cand;

typedef struct id_ctx {
    const tt_wkey *k;
    int max_stage;
    id_cand *v;
    int n, cap, seq;
} id_ctx;

/* ---- collecting candidates ------------------------------------------------ */

/* 1 if the DAG's placeholders (op order) then its output spell the key. */
static int id_io_matches(const tt_wkey *k, const tt_dag *d)
{
    int pos = 0, t = 0;
    for (int i = 0; i <= d->nops; i++) {
        const tt_op *op;
        if (i < d->nops) {
            op = d->ops[i];
            if (op->kind != TT_OP_PLACEHOLDER)
                continue;
        } else {
            op = d->ops[d->nops - 1];
        }
        if (k->nested && (t >= k->ntensors || k->tensor_start[t] != pos))
            return 0;
        for (int j = 0; j < op->ndim; j++, pos++)
            if (pos >= k->nints || k->ints[pos] != op->axis[j].extent)
                return 0;
        t++;
    }
    return pos == k->nints && (!k->nested || t == k->ntensors);
}

/* Take ownership of dag (NULL is ignored: a builder refused the shapes). */
static void id_add(id_ctx *c, tt_dag *dag, double score, const char *desc)
{
    if (!dag)
        return;
    if (!id_io_matches(c->k, dag)) {
        tt_dag_free(dag);
        return;
    }
    if (c->max_stage >= 0) {
        int want = c->max_stage + 1;
        if (dag->nops > want)
            score += 1e6 * (dag->nops - want);
        else if (dag->nops < want)
            score += 1e9 * (want - dag->nops);
    }
    char *text = tt_dag_print(dag, 0);
    uint64_t h = tt_hash64(text, strlen(text));
    free(text);
    for (int i = 0; i < c->n; i++)
        if (c->v[i].hash == h) { /* the same DAG again: keep its best reading */
            if (score < c->v[i].score) {
                c->v[i].score = score;
                snprintf(c->v[i].desc, sizeof c->v[i].desc, "%s", desc);
            }
            tt_dag_free(dag);
            return;
        }
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 32;
        c->v = tt_xrealloc(c->v, (size_t)c->cap * sizeof *c->v);
    }
    id_cand *x = &c->v[c->n++];
    x->dag = dag;
    snprintf(x->desc, sizeof x->desc, "%s", desc);
    x->score = score;
    x->seq = c->seq++;
    x->hash = h;
}

static int id_cand_cmp(const void *a, const void *b)
{
    const id_cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* ---- shapes --------------------------------------------------------------- */

static int id_shape_eq(const id_shape *a, const id_shape *b)
{
    if (a->nd != b->nd)
        return 0;
    for (int i = 0; i < a->nd; i++)
        if (a->d[i] != b->d[i])
            return 0;
    return 1;
}

/* [1,..,1,C] of rank nd. */
static int id_is_perchan(const id_shape *s, int nd, int64_t c)
{
    if (s->nd != nd || s->d[nd - 1] != c)
        return 0;
    for (int i = 0; i < nd - 1; i++)
        if (s->d[i] != 1)
            return 0;
    return 1;
}

/* ---- epilogue readings ----------------------------------------------------- */

/* Classes of epilogue tensors: per-channel [1,..,1,C], per-channel [C], or
 * of the output's shape. */
enum { ID_PERCHAN = 0, ID_PERCHAN1, ID_FULL };

typedef struct id_epis {
    int n;
    tt_epilogue e[64];
    int rank[64];            /* 0 = the preferred reading */
} id_epis;

/* Every reading of the epilogue tensors (classes cls[0..nm)), preferred
 * first: add for each, except that a per-channel tensor followed by another
 * per-channel tensor is a multiply (x * scale + shift, a folded batch norm).
 * Alternatives flip add <-> multiply, at most two flips.  No reading at all
 * if [1,..,1,C] and [C] tensors are mixed (one epilogue has one bias rank). */
static void id_epi_readings(const int *cls, int nm, id_epis *r)
{
    int has_rank_r = 0, has_1d = 0;
    for (int i = 0; i < nm; i++) {
        has_rank_r |= cls[i] == ID_PERCHAN;
        has_1d |= cls[i] == ID_PERCHAN1;
    }
    r->n = 0;
    if (has_rank_r && has_1d)
        return;
    for (int flips = 0; flips <= 2 && flips <= nm; flips++) {
        for (int mask = 0; mask < (1 << nm); mask++) {
            if (__builtin_popcount((unsigned)mask) != flips)
                continue;
            tt_epilogue *e = &r->e[r->n];
            memset(e, 0, sizeof *e);
            e->bias_1d = has_1d;
            for (int i = 0; i < nm; i++) {
                int pc = cls[i] != ID_FULL;
                int mul = pc && i + 1 < nm && cls[i + 1] != ID_FULL;
                if (mask & (1 << i))
                    mul = !mul;
                e->ops[e->n++] = pc ? (mul ? TT_EPI_BIAS_MUL : TT_EPI_BIAS_ADD)
                                    : (mul ? TT_EPI_RESIDUAL_MUL : TT_EPI_RESIDUAL_ADD);
            }
            r->rank[r->n++] = flips;
        }
    }
}

/* Activation choices in order of plausibility: 0 none, 1 relu, 2 clip.
 * base_ops = op count without an activation. */
static void id_act_order(const id_ctx *c, int base_ops, int nmids, int order[3])
{
    int relu_first;
    if (c->max_stage >= 0)
        relu_first = c->max_stage + 1 == base_ops + 1;
    else
        relu_first = nmids > 0;
    order[0] = relu_first ? 1 : 0;
    order[1] = relu_first ? 0 : 1;
    order[2] = 2;
}

/* Append activation `act` to e. */
static void id_epi_act(tt_epilogue *e, int act)
{
    if (act == 1)
        e->ops[e->n++] = TT_EPI_RELU;
    else if (act == 2) {
        e->lo[e->n] = 0;
        e->hi[e->n] = 6;
        e->ops[e->n++] = TT_EPI_CLIP;
    }
}

static void id_epi_desc(const tt_epilogue *e, char *buf, size_t n)
{
    buf[0] = 0;
    for (int i = 0; i < e->n; i++) {
        const char *w = "?";
        switch (e->ops[i]) {
        case TT_EPI_BIAS_ADD: w = "add"; break;
        case TT_EPI_BIAS_MUL: w = "multiply"; break;
        case TT_EPI_RESIDUAL_ADD: w = "residual add"; break;
        case TT_EPI_RESIDUAL_MUL: w = "residual multiply"; break;
        case TT_EPI_RELU: w = "relu"; break;
        case TT_EPI_CLIP: w = "clip"; break;
        case TT_EPI_SCALAR_ADD: w = "scalar add"; break;
        default: break;
        }
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, " + %s", w);
    }
}

/* ---- splitting the key into tensors -----------------------------------------
 * A family's key is `nhead` tensors of rank r, then epilogue tensors, then
 * the output (rank r).  Nested keys give the boundaries; a flat key's middle
 * ints are cut every way that yields epilogue tensors of a known class
 * ([C] takes 1 int, the others r ints), and each cut is offered to the
 * family's matcher (the candidates' scores and the stage count then decide). */

typedef void (*id_family_fn)(id_ctx *c, const id_shape *t, int nhead, int nm, const int *cls);

typedef struct id_seg {
    id_ctx *c;
    int r, nhead, allow_perchan;
    id_family_fn fn;
    id_shape out;
    id_shape t[ID_MAX_TENSORS];
    int cls[ID_MAX_MIDS];
} id_seg;

static int id_mid_class(const id_seg *s, const id_shape *m)
{
    int64_t ch = s->out.d[s->r - 1];
    if (m->nd == 1 && m->d[0] == ch)
        return ID_PERCHAN1;
    if (s->allow_perchan && id_is_perchan(m, s->r, ch))
        return ID_PERCHAN;
    if (id_shape_eq(m, &s->out))
        return ID_FULL;
    return -1;
}

static void id_seg_flat(id_seg *s, const int64_t *mid, int len, int nm)
{
    if (len == 0) {
        s->t[s->nhead + nm] = s->out;
        s->fn(s->c, s->t, s->nhead, nm, s->cls);
        return;
    }
    if (nm >= ID_MAX_MIDS)
        return;
    int widths[2] = {1, s->r};
    for (int i = 0; i < 2; i++) {
        int w = widths[i];
        if (w > len)
            continue;
        id_shape m = {.nd = w};
        for (int j = 0; j < w; j++)
            m.d[j] = mid[j];
        int k = id_mid_class(s, &m);
        if (k < 0)
            continue;
        s->t[s->nhead + nm] = m;
        s->cls[nm] = k;
        id_seg_flat(s, mid + w, len - w, nm + 1);
    }
}

/* Offer every reading of the key as nhead rank-r tensors, epilogue tensors
 * and a rank-r output to fn.  allow_perchan: [1,..,1,C] tensors may occur
 * (dense's per-channel tensors are [N] only). */
static void id_segment(id_ctx *c, int r, int nhead, int allow_perchan, id_family_fn fn)
{
    const tt_wkey *k = c->k;
    id_seg *s = tt_xcalloc(1, sizeof *s);
    s->c = c, s->r = r, s->nhead = nhead, s->allow_perchan = allow_perchan, s->fn = fn;
    for (int i = 0; i < k->nints; i++)
        if (k->ints[i] <= 0)
            goto done;
    if (k->nested) {
        int nt = k->ntensors, nm = nt - nhead - 1;
        if (nm < 0 || nm > ID_MAX_MIDS)
            goto done;
        for (int t = 0; t < nt; t++) {
            int end = t + 1 < nt ? k->tensor_start[t + 1] : k->nints;
            int len = end - k->tensor_start[t];
            if (len < 1 || len > TT_MAX_DIMS || ((t < nhead || t == nt - 1) && len != r))
                goto done;
            s->t[t].nd = len;
            for (int i = 0; i < len; i++)
                s->t[t].d[i] = k->ints[k->tensor_start[t] + i];
        }
        s->out = s->t[nt - 1];
        for (int i = 0; i < nm; i++)
            if ((s->cls[i] = id_mid_class(s, &s->t[nhead + i])) < 0)
                goto done;
        fn(c, s->t, nhead, nm, s->cls);
    } else {
        if (k->nints < (nhead + 1) * r)
            goto done;
        for (int t = 0; t < nhead; t++) {
            s->t[t].nd = r;
            for (int i = 0; i < r; i++)
                s->t[t].d[i] = k->ints[t * r + i];
        }
        s->out.nd = r;
        for (int i = 0; i < r; i++)
            s->out.d[i] = k->ints[k->nints - r + i];
        id_seg_flat(s, k->ints + nhead * r, k->nints - (nhead + 1) * r, 0);
    }
done:
    free(s);
}

/* A flat key that also reads with [1,..,1,C] tensors should: [C] tensors
 * cost a little. */
static double id_cls_penalty(const int *cls, int nm)
{
    double p = 0;
    for (int i = 0; i < nm; i++)
        p += cls[i] == ID_PERCHAN1 ? 50 : 0;
    return p;
}

/* ---- geometry ------------------------------------------------------------- */

typedef struct id_geo1 {
    int64_t k, s, pb, pa, dil;
    int rank;
} id_geo1;

typedef struct id_geo {
    id_geo1 h, w;
} id_geo;

static int id_geo_fits(int64_t in, int64_t out, const id_geo1 *g)
{
    int64_t dk = (g->k - 1) * g->dil + 1, span = in + g->pb + g->pa;
    return span >= dk && (span - dk) / g->s + 1 == out;
}

static void id_geo_push(id_geo1 *v, int *n, int max, int64_t in, int64_t out, id_geo1 g)
{
    if (*n >= max || !id_geo_fits(in, out, &g))
        return;
    for (int i = 0; i < *n; i++)
        if (v[i].k == g.k && v[i].s == g.s && v[i].pb == g.pb && v[i].pa == g.pa &&
            v[i].dil == g.dil)
            return;
    v[(*n)++] = g;
}

/* Conv geometries along one dimension for kernel k, in order of preference. */
static int id_conv_geo1(int64_t in, int64_t out, int64_t k, id_geo1 *v, int max)
{
    int n = 0;
    for (int64_t s = 1; s <= 4; s++) /* "same"-style symmetric padding */
        id_geo_push(v, &n, max, in, out, (id_geo1){k, s, (k - 1) / 2, (k - 1) / 2, 1, 0});
    for (int64_t s = 1; s <= 4; s++)
        for (int64_t p = 0; p < k; p++)
            id_geo_push(v, &n, max, in, out, (id_geo1){k, s, p, p, 1, 1});
    for (int64_t s = 1; s <= 4; s++)
        for (int64_t p = 0; p < k; p++) {
            id_geo_push(v, &n, max, in, out, (id_geo1){k, s, p, p + 1, 1, 2});
            id_geo_push(v, &n, max, in, out, (id_geo1){k, s, p + 1, p, 1, 2});
        }
    for (int64_t dil = 2; dil <= 4 && k > 1; dil++)
        for (int64_t s = 1; s <= 4; s++)
            for (int64_t p = 0; p < (k - 1) * dil + 1; p++)
                id_geo_push(v, &n, max, in, out, (id_geo1){k, s, p, p, dil, 3});
    return n;
}

/* Pool windows along one dimension, in order of preference: the windows of
 * common CNNs first (3/2/1 ResNet, 2/2/0 VGG, 3/2/0 AlexNet, 3/1/1
 * Inception, ceil-mode variants), then any window up to 12. */
static int id_pool_geo1(int64_t in, int64_t out, id_geo1 *v, int max)
{
    static const int64_t common[][4] = {{3, 2, 1, 1}, {2, 2, 0, 0}, {3, 2, 0, 0}, {3, 1, 1, 1},
                                        {3, 2, 0, 1}, {2, 2, 0, 1}, {3, 2, 1, 2}, {5, 1, 2, 2}};
    int n = 0;
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
        id_geo_push(v, &n, max, in, out,
                    (id_geo1){common[i][0], common[i][1], common[i][2], common[i][3], 1, 0});
    for (int64_t k = 1; k <= 12 && k <= in + 2; k++)
        for (int64_t s = 1; s <= k; s++)
            for (int64_t p = 0; p <= k / 2; p++)
                id_geo_push(v, &n, max, in, out, (id_geo1){k, s, p, p, 1, 1});
    for (int64_t k = 1; k <= 12 && k <= in + 2; k++)
        for (int64_t s = 2; s <= k; s++)
            for (int64_t p = 0; p <= k / 2; p++)
                for (int64_t extra = 1; extra < s; extra++)
                    id_geo_push(v, &n, max, in, out, (id_geo1){k, s, p, p + extra, 1, 2});
    return n;
}

/* Combine per-dimension choices, preferring low ranks, then equal windows,
 * strides and paddings along H and W. */
static int id_geo_pairs(const id_geo1 *hv, int nh, const id_geo1 *wv, int nw, id_geo *out,
                        int max)
{
    int64_t keys[16 * 16];
    id_geo all[16 * 16];
    int n = 0;
    for (int i = 0; i < nh && i < 16; i++) /* the lists are in preference order */
        for (int j = 0; j < nw && j < 16; j++) {
            const id_geo1 *h = &hv[i], *w = &wv[j];
            int64_t key = (int64_t)(h->rank + w->rank) * 100000;
            key += (h->k != w->k) * 40000 + (h->s != w->s) * 20000 + (h->dil != w->dil) * 20000;
            key += (h->pb != w->pb || h->pa != w->pa) * 10000 + i + j;
            keys[n] = key;
            all[n++] = (id_geo){*h, *w};
        }
    int m = 0;
    while (m < max) { /* selection of the max best, stable */
        int best = -1;
        for (int i = 0; i < n; i++)
            if (keys[i] >= 0 && (best < 0 || keys[i] < keys[best]))
                best = i;
        if (best < 0)
            break;
        out[m++] = all[best];
        keys[best] = -1;
    }
    return m;
}

static void id_geo_desc(const id_geo *g, char *buf, size_t n)
{
    char s[32], p[64], dl[32] = "";
    if (g->h.s == g->w.s)
        snprintf(s, sizeof s, "s%lld", (long long)g->h.s);
    else
        snprintf(s, sizeof s, "s%lld,%lld", (long long)g->h.s, (long long)g->w.s);
    if (g->h.pb == g->h.pa && g->w.pb == g->w.pa && g->h.pb == g->w.pb)
        snprintf(p, sizeof p, "p%lld", (long long)g->h.pb);
    else
        snprintf(p, sizeof p, "p%lld,%lld,%lld,%lld", (long long)g->h.pb, (long long)g->w.pb,
                 (long long)g->h.pa, (long long)g->w.pa);
    if (g->h.dil != 1 || g->w.dil != 1)
        snprintf(dl, sizeof dl, " d%lld,%lld", (long long)g->h.dil, (long long)g->w.dil);
    snprintf(buf, n, "%lldx%lld %s %s%s", (long long)g->h.k, (long long)g->w.k, s, p, dl);
}

/* out = the concatenation of up to four strings, truncated to n - 1 chars. */
static void id_cat(char *out, size_t n, const char *a, const char *b, const char *c, const char *d)
{
    const char *parts[4] = {a, b, c, d};
    size_t len = 0;
    for (int i = 0; i < 4; i++)
        for (const char *p = parts[i]; p && *p && len + 1 < n; p++)
            out[len++] = *p;
    out[len] = 0;
}

/* ---- families ------------------------------------------------------------- */

/* Builds the DAG of one candidate from its epilogue (ctx: the op's params). */
typedef tt_dag *(*id_builder)(const void *ctx, const tt_epilogue *e);

/* One candidate per epilogue reading and trailing activation: built by
 * `build`, described as head + the epilogue, scored base + the reading's rank
 * and order, + act_pen when the candidate adds an activation. */
static void id_add_variants(id_ctx *c, const id_epis *ep, const int act[3], double base,
                            double act_pen, const char *head, id_builder build, const void *ctx)
{
    for (int ei = 0; ei < ep->n; ei++)
        for (int ai = 0; ai < 3; ai++) {
            tt_epilogue e = ep->e[ei];
            id_epi_act(&e, act[ai]);
            char edesc[128], desc[160];
            id_epi_desc(&e, edesc, sizeof edesc);
            id_cat(desc, sizeof desc, head, edesc, NULL, NULL);
            id_add(c, build(ctx, &e),
                   base + (act[ai] ? act_pen : 0.0) + ei * 100.0 + ep->rank[ei] * 1000.0 + ai, desc);
        }
}

static tt_dag *id_build_conv(const void *p, const tt_epilogue *e)
{
    return tt_build_conv2d_nhwc(p, e, NULL);
}

static tt_dag *id_build_pool(const void *p, const tt_epilogue *e)
{
    return tt_build_pool2d_nhwc(p, e, NULL);
}

static tt_dag *id_build_global_pool(const void *x, const tt_epilogue *e)
{
    const id_shape *s = x;
    return tt_build_global_avg_pool_nhwc(s->d[0], s->d[1], s->d[2], s->d[3], e, NULL);
}

/* t: the key's shapes, A first and B second; batch_matmul when A is 3-D. */
static tt_dag *id_build_matmul(const void *t, const tt_epilogue *e)
{
    const id_shape *a = t, *b = a + 1;
    return a->nd == 3 ? tt_build_batch_matmul(a->d[0], a->d[1], b->d[1], a->d[2], e, NULL)
                      : tt_build_dense(a->d[0], b->d[0], a->d[1], e, NULL);
}

/* conv2d / group / depthwise: t = data, weight, epilogue tensors, output. */
static void id_conv_fn(id_ctx *c, const id_shape *t, int nhead, int nm, const int *cls)
{
    const id_shape *x = &t[0], *w = &t[1], *o = &t[nhead + nm];
    if (o->d[0] != x->d[0])
        return;
    struct {
        int depthwise;
        int64_t groups;
    } kinds[2];
    int nk = 0;
    if (x->d[3] % w->d[2] == 0 && w->d[3] == o->d[3] && o->d[3] % (x->d[3] / w->d[2]) == 0) {
        kinds[nk].depthwise = 0;
        kinds[nk++].groups = x->d[3] / w->d[2];
    }
    if (w->d[2] == x->d[3] && o->d[3] == x->d[3] * w->d[3]) {
        kinds[nk].depthwise = 1;
        kinds[nk++].groups = 1;
    }
    if (!nk)
        return;

    id_geo1 hv[32], wv[32];
    int nh = id_conv_geo1(x->d[1], o->d[1], w->d[0], hv, 32);
    int nw = id_conv_geo1(x->d[2], o->d[2], w->d[1], wv, 32);
    id_geo geos[ID_MAX_GEOMS];
    int ng = id_geo_pairs(hv, nh, wv, nw, geos, ID_MAX_GEOMS);
    id_epis *ep = tt_xmalloc(sizeof *ep);
    id_epi_readings(cls, nm, ep);
    int act[3];
    id_act_order(c, 4 + 2 * nm, nm, act);

    for (int ki = 0; ki < nk; ki++) {
        double fam = id_cls_penalty(cls, nm);
        const char *name = "conv2d_nhwc";
        if (kinds[ki].depthwise) {
            name = "depthwise_conv2d_nhwc";
            fam += ki ? 500 : 0; /* CI == 1: a plain conv reads the key as well */
        } else if (kinds[ki].groups > 1) {
            name = "group_conv2d_nhwc";
            /* A 1x1 weight [1,1,1,C] with one channel per group is more
             * likely a per-channel tensor of a pooling kernel. */
            fam += (w->d[0] == 1 && w->d[1] == 1 && w->d[2] == 1) ? 5000 : 1000;
        }
        for (int gi = 0; gi < ng; gi++) {
            tt_conv2d_params p = {
                .n = x->d[0], .h = x->d[1], .w = x->d[2], .ci = x->d[3],
                .kh = w->d[0], .kw = w->d[1], .co = o->d[3],
                .stride_h = geos[gi].h.s, .stride_w = geos[gi].w.s,
                .pad_t = geos[gi].h.pb, .pad_l = geos[gi].w.pb,
                .pad_b = geos[gi].h.pa, .pad_r = geos[gi].w.pa,
                .dil_h = geos[gi].h.dil, .dil_w = geos[gi].w.dil,
                .groups = kinds[ki].groups, .depthwise = kinds[ki].depthwise,
            };
            char gdesc[192];
            id_geo_desc(&geos[gi], gdesc, sizeof gdesc);
            char head[256];
            id_cat(head, sizeof head, name, " ", gdesc, NULL);
            id_add_variants(c, ep, act, fam + gi * 10000.0, 0.0, head, id_build_conv, &p);
        }
    }
    free(ep);
}

/* conv2d_winograd_nhwc (TOPI's, weight pre-transformed): t = data
 * [N,H,W,CI], weight [alpha,alpha,CO,CI], epilogue tensors, output
 * [N,OH,OW,CO]; 3x3, stride 1, output tile alpha - 2 (2, 4 or 6). */
typedef struct id_wino {
    tt_conv2d_params p;
    int m;
} id_wino;

static tt_dag *id_build_wino(const void *x, const tt_epilogue *e)
{
    const id_wino *w = x;
    return tt_build_conv2d_winograd_nhwc(&w->p, w->m, e, NULL);
}

static void id_wino_fn(id_ctx *c, const id_shape *t, int nhead, int nm, const int *cls)
{
    const id_shape *x = &t[0], *w = &t[1], *o = &t[nhead + nm];
    int64_t alpha = w->d[0];
    if (o->d[0] != x->d[0] || w->d[1] != alpha || (alpha != 4 && alpha != 6 && alpha != 8) ||
        w->d[2] != o->d[3] || w->d[3] != x->d[3])
        return;
    id_geo1 hv[32], wv[32];
    int nh = id_conv_geo1(x->d[1], o->d[1], 3, hv, 32);
    int nw = id_conv_geo1(x->d[2], o->d[2], 3, wv, 32);
    id_geo geos[ID_MAX_GEOMS];
    int ng = id_geo_pairs(hv, nh, wv, nw, geos, ID_MAX_GEOMS);
    id_epis *ep = tt_xmalloc(sizeof *ep);
    id_epi_readings(cls, nm, ep);
    int act[3];
    id_act_order(c, 10 + 2 * nm, nm, act);
    for (int gi = 0; gi < ng; gi++) {
        if (geos[gi].h.s != 1 || geos[gi].w.s != 1 || geos[gi].h.dil != 1 || geos[gi].w.dil != 1)
            continue;
        id_wino wp = {{.n = x->d[0], .h = x->d[1], .w = x->d[2], .ci = x->d[3], .kh = 3, .kw = 3,
                       .co = o->d[3], .stride_h = 1, .stride_w = 1, .pad_t = geos[gi].h.pb,
                       .pad_l = geos[gi].w.pb, .pad_b = geos[gi].h.pa, .pad_r = geos[gi].w.pa,
                       .dil_h = 1, .dil_w = 1, .groups = 1},
                      (int)alpha - 2};
        char gdesc[192], head[256], name[48];
        id_geo_desc(&geos[gi], gdesc, sizeof gdesc);
        snprintf(name, sizeof name, "conv2d_winograd_nhwc F(%d,3)", wp.m);
        id_cat(head, sizeof head, name, " ", gdesc, NULL);
        id_add_variants(c, ep, act, id_cls_penalty(cls, nm) + gi * 10000.0, 0.0, head, id_build_wino, &wp);
    }
    free(ep);
}

/* pool2d and global average pool: t = data, epilogue tensors, output. */
static void id_pool_fn(id_ctx *c, const id_shape *t, int nhead, int nm, const int *cls)
{
    const id_shape *x = &t[0], *o = &t[nhead + nm];
    if (o->d[0] != x->d[0] || o->d[3] != x->d[3])
        return;
    id_epis *ep = tt_xmalloc(sizeof *ep);
    id_epi_readings(cls, nm, ep);
    double pen = id_cls_penalty(cls, nm);

    /* Global average pooling: [N,H,W,C] -> [N,1,1,C]. */
    if (o->d[1] == 1 && o->d[2] == 1) {
        int act[3];
        id_act_order(c, 3 + 2 * nm, nm, act);
        id_add_variants(c, ep, act, pen, 0.0, "global_avg_pool", id_build_global_pool, x);
    }

    id_geo1 hv[48], wv[48];
    int nh = id_pool_geo1(x->d[1], o->d[1], hv, 48);
    int nw = id_pool_geo1(x->d[2], o->d[2], wv, 48);
    id_geo geos[ID_MAX_GEOMS];
    int ng = id_geo_pairs(hv, nh, wv, nw, geos, ID_MAX_GEOMS);
    for (int gi = 0; gi < ng; gi++) {
        const id_geo *g = &geos[gi];
        int padded = g->h.pb || g->h.pa || g->w.pb || g->w.pa;
        char gdesc[192];
        id_geo_desc(g, gdesc, sizeof gdesc);
        /* kind 0: max; 1: avg without the padding in the count; 2: avg with. */
        for (int kind = 0; kind < 3; kind++) {
            if (kind == 2 && !padded)
                continue; /* identical to kind 1 */
            tt_pool_params p = {
                .kind = kind ? TT_POOL_AVG : TT_POOL_MAX,
                .n = x->d[0], .h = x->d[1], .w = x->d[2], .c = x->d[3],
                .kh = g->h.k, .kw = g->w.k, .stride_h = g->h.s, .stride_w = g->w.s,
                .pad_t = g->h.pb, .pad_l = g->w.pb, .pad_b = g->h.pa, .pad_r = g->w.pa,
                .count_include_pad = kind == 2,
            };
            int act[3];
            id_act_order(c, 2 + padded + (kind > 0) + 2 * nm, nm, act);
            double base = pen + 2000.0 + (g->h.rank + g->w.rank) * 100000.0 + kind * 10000.0 +
                          gi * 20000.0;
            /* Networks apply relu before pooling, so an activation right on a
             * pool's output is less likely than an average pool's extra stage. */
            double bare = nm == 0 ? 15000.0 : 0.0;
            char head[128];
            id_cat(head, sizeof head, kind ? "pool_avg " : "pool_max ", gdesc,
                   kind == 2 ? " count_include_pad" : "", NULL);
            id_add_variants(c, ep, act, base, bare, head, id_build_pool, &p);
        }
    }
    free(ep);
}

/* dense: t = data [M,K], weight [N,K], epilogue tensors ([N] or [M,N]), [M,N];
 * batch_matmul: t = A [B,M,K], B [B,N,K], epilogue tensors, [B,M,N]. */
static void id_matmul_fn(id_ctx *c, const id_shape *t, int nhead, int nm, const int *cls)
{
    const id_shape *a = &t[0], *b = &t[1], *o = &t[nhead + nm];
    int bmm = a->nd == 3;
    const char *name = bmm ? "batch_matmul" : "dense";
    if (bmm ? (a->d[0] != b->d[0] || a->d[2] != b->d[2] || o->d[0] != a->d[0] ||
               o->d[1] != a->d[1] || o->d[2] != b->d[1])
            : (a->d[1] != b->d[1] || o->d[0] != a->d[0] || o->d[1] != b->d[0]))
        return;
    id_epis *ep = tt_xmalloc(sizeof *ep);
    id_epi_readings(cls, nm, ep);
    int act[3];
    id_act_order(c, 3 + 2 * nm, nm, act);
    double pen = bmm ? id_cls_penalty(cls, nm) : 0;
    id_add_variants(c, ep, act, pen + 100.0, 0.0, name, id_build_matmul, t);
    free(ep);
}

static void id_softmax(id_ctx *c)
{
    const tt_wkey *k = c->k;
    int rank;
    if (k->nested) {
        if (k->ntensors != 2)
            return;
        rank = k->tensor_start[1];
        if (k->nints != 2 * rank)
            return;
    } else {
        if (k->nints % 2)
            return;
        rank = k->nints / 2;
    }
    if (rank < 1 || rank > TT_MAX_DIMS)
        return;
    for (int i = 0; i < rank; i++)
        if (k->ints[i] != k->ints[rank + i])
            return;
    /* Softmax of rank-4 tensors is rare next to 1x1 pooling of them. */
    id_add(c, tt_build_softmax(rank, k->ints, NULL), rank >= 4 ? 3000000.0 : 0.0, "softmax");
}

/* ---- entry points --------------------------------------------------------- */

/* Largest stage id the steps touch, in initial-DAG ids (see identify.h). */
int tt_identify_max_stage(const tt_step *steps, int n)
{
    int hi = -1, inserted = 0;
    for (int i = 0; i < n; i++) {
        const tt_step *s = &steps[i];
        if (s->stage > hi)
            hi = s->stage;
        if (s->tag == TT_STEP_CA && s->target_stage > hi)
            hi = s->target_stage;
        if (s->tag == TT_STEP_CHW || s->tag == TT_STEP_CHR || s->tag == TT_STEP_RF)
            inserted++;
    }
    if (hi < 0)
        return -1;
    return hi - inserted > 0 ? hi - inserted : 0;
}

static int id_is_hash(const char *s)
{
    size_t n = strlen(s);
    if (n < 16)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Candidates for a parsed key (see tt_identify_candidates). */
int tt_identify_wkey(const tt_wkey *key, int max_stage, tt_wl_candidate *out, int max,
                     tt_err *err)
{
    if (max <= 0)
        return tt_err_set(err, "identify: no room for candidates");
    id_ctx c = {.k = key, .max_stage = max_stage};
    if (!id_is_hash(key->name)) {
        /* A registered function: only the tutorial's matmul_add is known. */
        if (!strcmp(key->name, "matmul_add") && key->nints == 3) {
            tt_dag *d = tt_build_matmul_add(key->ints[0], key->ints[1], key->ints[2], NULL);
            if (d) {
                out[0].dag = d;
                snprintf(out[0].desc, sizeof out[0].desc, "matmul_add %lldx%lldx%lld",
                         (long long)key->ints[0], (long long)key->ints[1], (long long)key->ints[2]);
                return 1;
            }
        }
        return 0;
    }
    id_segment(&c, 4, 2, 1, id_conv_fn);
    id_segment(&c, 4, 2, 1, id_wino_fn);
    id_segment(&c, 4, 1, 1, id_pool_fn);
    id_segment(&c, 2, 2, 0, id_matmul_fn);
    id_segment(&c, 3, 2, 1, id_matmul_fn);
    id_softmax(&c);
    /* no candidate: c.v is NULL, which qsort must not get even for 0 items */
    if (c.n > 1)
        qsort(c.v, (size_t)c.n, sizeof *c.v, id_cand_cmp);
    int n = c.n < max ? c.n : max;
    for (int i = 0; i < c.n; i++) {
        if (i < n) {
            out[i].dag = c.v[i].dag;
            snprintf(out[i].desc, sizeof out[i].desc, "%s", c.v[i].desc);
        } else {
            tt_dag_free(c.v[i].dag);
        }
    }
    free(c.v);
    return n;
}

/* Parse workload_key with tt_wkey_parse() and identify it. */
int tt_identify_candidates(const char *workload_key, int max_stage, tt_wl_candidate *out, int max,
                           tt_err *err)
{
    tt_wkey *k = tt_xmalloc(sizeof *k);
    if (tt_wkey_parse(workload_key, k, err)) {
        free(k);
        return -1;
    }
    int n = tt_identify_wkey(k, max_stage, out, max, err);
    free(k);
    return n;
}

/* Free the DAGs of n candidates. */
void tt_identify_free(tt_wl_candidate *c, int n)
{
    for (int i = 0; i < n; i++) {
        tt_dag_free(c[i].dag);
        c[i].dag = NULL;
    }
}

/* ---- a whole record --------------------------------------------------------- */

#define ID_MAX_CANDIDATES 32

int tt_identify_record(const tt_record *rec, tt_dag **dag, tt_state **state, char *desc,
                       size_t desc_len, tt_err *err)
{
    *dag = NULL;
    if (state)
        *state = NULL;
    tt_wl_candidate cand[ID_MAX_CANDIDATES];
    int max_stage = tt_identify_max_stage(rec->steps, rec->nsteps);
    int n = tt_identify_candidates(rec->workload_key, max_stage, cand, ID_MAX_CANDIDATES, err);
    if (n < 0) {
        tt_err_prefix(err, "workload key");
        return -1;
    }
    if (n == 0)
        return tt_err_set(err, "no supported workload has the shapes of key %s", rec->workload_key);
    char first_err[TT_ERR_MAX] = "";
    int chosen = -1;
    for (int i = 0; i < n && chosen < 0; i++) {
        tt_state *s = tt_state_new(cand[i].dag);
        tt_err e = {0};
        if (tt_state_apply_all(s, rec->steps, rec->nsteps, &e) == 0) {
            chosen = i;
            if (state)
                *state = s;
            else
                tt_state_free(s);
        } else {
            if (!first_err[0])
                snprintf(first_err, sizeof first_err, "%s (as %s)", e.msg, cand[i].desc);
            tt_state_free(s);
        }
    }
    if (chosen < 0) {
        tt_identify_free(cand, n);
        return tt_err_set(err, "the steps replay on no candidate DAG: %s", first_err);
    }
    *dag = cand[chosen].dag;
    cand[chosen].dag = NULL;
    if (desc && desc_len)
        snprintf(desc, desc_len, "%s", cand[chosen].desc);
    tt_identify_free(cand, n);
    return 0;
}
