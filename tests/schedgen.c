/* schedgen.c - see schedgen.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/record/record.h"
#include "schedgen.h"

/* ---- small helpers ------------------------------------------------------------ */

static int64_t rnd(tt_rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)tt_rng_below(r, (uint64_t)(hi - lo + 1));
}

static int chance(tt_rng *r, double p) { return tt_rng_unit(r) < p; }

int sg_env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

void sg_rm_tree(const char *dir)
{
    if (dir && dir[0])
        tt_remove_tree(dir);
}

/* ---- DAGs ------------------------------------------------------------------------ */


const char *const sg_kind_names[K_COUNT] = {
    "matmul_add", "dense",       "dense+bias+relu", "batch_matmul", "conv2d+bias+relu", "conv2d+residual",
    "depthwise",  "grouped_conv", "max_pool",       "avg_pool",     "global_avg_pool",  "softmax",
    "conv2d_winograd",
};

static void conv_shape(tt_rng *r, tt_conv2d_params *p)
{
    memset(p, 0, sizeof *p);
    for (;;) {
        p->n = chance(r, 0.8) ? 1 : 2;
        p->h = rnd(r, 3, 12);
        p->w = rnd(r, 3, 12);
        p->kh = rnd(r, 1, 3);
        p->kw = rnd(r, 1, 3);
        p->stride_h = rnd(r, 1, 2);
        p->stride_w = rnd(r, 1, 2);
        p->dil_h = chance(r, 0.75) ? 1 : 2;
        p->dil_w = chance(r, 0.75) ? 1 : 2;
        p->pad_t = rnd(r, 0, 2);
        p->pad_l = rnd(r, 0, 2);
        p->pad_b = rnd(r, 0, 2);
        p->pad_r = rnd(r, 0, 2);
        if (p->h + p->pad_t + p->pad_b >= (p->kh - 1) * p->dil_h + 1 &&
            p->w + p->pad_l + p->pad_r >= (p->kw - 1) * p->dil_w + 1)
            return;
    }
}

tt_dag *sg_make_dag(dkind k, tt_rng *r, char *desc, size_t cap, tt_err *err)
{
    tt_epilogue e;
    memset(&e, 0, sizeof e);
    switch (k) {
    case K_MATMUL_ADD: {
        int64_t n = rnd(r, 1, 40), l = rnd(r, 1, 48), m = rnd(r, 1, 40);
        snprintf(desc, cap, "matmul_add N=%lld L=%lld M=%lld", (long long)n, (long long)l, (long long)m);
        return tt_build_matmul_add(n, l, m, err);
    }
    case K_DENSE:
    case K_DENSE_EPI: {
        int64_t m = rnd(r, 1, 24), n = rnd(r, 1, 40), kk = chance(r, 0.3) ? rnd(r, 100, 400) : rnd(r, 1, 64);
        if (k == K_DENSE_EPI) {
            e.n = 2;
            e.ops[0] = TT_EPI_BIAS_ADD;
            e.ops[1] = TT_EPI_RELU;
        }
        snprintf(desc, cap, "dense M=%lld N=%lld K=%lld epi=%s", (long long)m, (long long)n,
                 (long long)kk, e.n ? "bias,relu" : "none");
        return tt_build_dense(m, n, kk, &e, err);
    }
    case K_BATCH_MATMUL: {
        int64_t b = rnd(r, 1, 3), m = rnd(r, 1, 20), n = rnd(r, 1, 20), kk = rnd(r, 1, 32);
        if (chance(r, 0.5)) {
            e.n = 1;
            e.ops[0] = TT_EPI_RELU;
        }
        snprintf(desc, cap, "batch_matmul B=%lld M=%lld N=%lld K=%lld epi=%s", (long long)b,
                 (long long)m, (long long)n, (long long)kk, e.n ? "relu" : "none");
        return tt_build_batch_matmul(b, m, n, kk, &e, err);
    }
    case K_CONV_BIAS_RELU:
    case K_CONV_RESIDUAL:
    case K_DEPTHWISE:
    case K_GROUPED: {
        tt_conv2d_params p;
        conv_shape(r, &p);
        p.groups = 1;
        if (k == K_DEPTHWISE) {
            p.depthwise = 1;
            p.ci = rnd(r, 1, 8);
            p.co = p.ci * rnd(r, 1, 2);
        } else if (k == K_GROUPED) {
            p.groups = rnd(r, 2, 3);
            p.ci = p.groups * rnd(r, 1, 3);
            p.co = p.groups * rnd(r, 1, 4);
        } else {
            p.ci = rnd(r, 1, 8);
            p.co = rnd(r, 1, 12);
        }
        const char *en = "none";
        if (k == K_CONV_BIAS_RELU) {
            e.n = 2, e.ops[0] = TT_EPI_BIAS_ADD, e.ops[1] = TT_EPI_RELU, en = "bias,relu";
        } else if (k == K_CONV_RESIDUAL) {
            e.n = 3, e.ops[0] = TT_EPI_BIAS_ADD, e.ops[1] = TT_EPI_RESIDUAL_ADD, e.ops[2] = TT_EPI_RELU;
            en = "bias,residual,relu";
        } else if (chance(r, 0.5)) {
            e.n = 1, e.ops[0] = TT_EPI_RELU, en = "relu";
        }
        snprintf(desc, cap,
                 "conv2d N=%lld H=%lld W=%lld CI=%lld CO=%lld K=%lldx%lld stride=%lld,%lld "
                 "pad=%lld,%lld,%lld,%lld dil=%lld,%lld groups=%lld depthwise=%d epi=%s",
                 (long long)p.n, (long long)p.h, (long long)p.w, (long long)p.ci, (long long)p.co,
                 (long long)p.kh, (long long)p.kw, (long long)p.stride_h, (long long)p.stride_w,
                 (long long)p.pad_t, (long long)p.pad_l, (long long)p.pad_b, (long long)p.pad_r,
                 (long long)p.dil_h, (long long)p.dil_w, (long long)p.groups, p.depthwise, en);
        return tt_build_conv2d_nhwc(&p, &e, err);
    }
    case K_MAX_POOL:
    case K_AVG_POOL: {
        tt_pool_params p;
        memset(&p, 0, sizeof p);
        p.kind = k == K_MAX_POOL ? TT_POOL_MAX : TT_POOL_AVG;
        p.n = rnd(r, 1, 2), p.h = rnd(r, 3, 12), p.w = rnd(r, 3, 12), p.c = rnd(r, 1, 12);
        p.kh = rnd(r, 1, 3), p.kw = rnd(r, 1, 3);
        p.stride_h = rnd(r, 1, 2), p.stride_w = rnd(r, 1, 2);
        if (chance(r, 0.6)) {
            p.pad_t = rnd(r, 0, p.kh - 1), p.pad_l = rnd(r, 0, p.kw - 1);
            p.pad_b = rnd(r, 0, p.kh - 1), p.pad_r = rnd(r, 0, p.kw - 1);
        }
        p.count_include_pad = (int)rnd(r, 0, 1);
        if (chance(r, 0.3)) {
            e.n = 1;
            e.ops[0] = TT_EPI_RELU;
        }
        snprintf(desc, cap,
                 "pool2d %s N=%lld H=%lld W=%lld C=%lld K=%lldx%lld stride=%lld,%lld "
                 "pad=%lld,%lld,%lld,%lld count_include_pad=%d epi=%s",
                 k == K_MAX_POOL ? "max" : "avg", (long long)p.n, (long long)p.h, (long long)p.w,
                 (long long)p.c, (long long)p.kh, (long long)p.kw, (long long)p.stride_h,
                 (long long)p.stride_w, (long long)p.pad_t, (long long)p.pad_l, (long long)p.pad_b,
                 (long long)p.pad_r, p.count_include_pad, e.n ? "relu" : "none");
        return tt_build_pool2d_nhwc(&p, &e, err);
    }
    case K_GLOBAL_POOL: {
        int64_t n = rnd(r, 1, 2), h = rnd(r, 1, 9), w = rnd(r, 1, 9), c = rnd(r, 1, 24);
        snprintf(desc, cap, "global_avg_pool N=%lld H=%lld W=%lld C=%lld", (long long)n,
                 (long long)h, (long long)w, (long long)c);
        return tt_build_global_avg_pool_nhwc(n, h, w, c, NULL, err);
    }
    case K_WINOGRAD: {
        /* 3x3 stride 1, odd sizes and any padding; tiles of 2, 4 and 6 */
        tt_conv2d_params p;
        conv_shape(r, &p);
        p.kh = p.kw = 3, p.stride_h = p.stride_w = 1, p.dil_h = p.dil_w = 1, p.groups = 1;
        p.h = rnd(r, 3, 11), p.w = rnd(r, 3, 11);
        p.ci = rnd(r, 1, 8), p.co = rnd(r, 1, 12);
        int m = 2 * (int)rnd(r, 1, 3);
        const char *en = "none";
        if (chance(r, 0.5))
            e.n = 2, e.ops[0] = TT_EPI_BIAS_ADD, e.ops[1] = TT_EPI_RELU, en = "bias,relu";
        snprintf(desc, cap, "conv2d_winograd F(%d,3) N=%lld H=%lld W=%lld CI=%lld CO=%lld pad=%lld,%lld,%lld,%lld epi=%s",
                 m, (long long)p.n, (long long)p.h, (long long)p.w, (long long)p.ci, (long long)p.co,
                 (long long)p.pad_t, (long long)p.pad_l, (long long)p.pad_b, (long long)p.pad_r, en);
        return tt_build_conv2d_winograd_nhwc(&p, m, &e, err);
    }
    case K_SOFTMAX:
    default: {
        int64_t shape[3];
        int nd = chance(r, 0.7) ? 2 : 3;
        if (nd == 2) {
            shape[0] = rnd(r, 1, 6);
            shape[1] = chance(r, 0.5) ? rnd(r, 1, 40) : rnd(r, 40, 300);
        } else {
            shape[0] = rnd(r, 1, 3);
            shape[1] = rnd(r, 1, 5);
            shape[2] = rnd(r, 1, 60);
        }
        if (nd == 2)
            snprintf(desc, cap, "softmax [%lld, %lld]", (long long)shape[0], (long long)shape[1]);
        else
            snprintf(desc, cap, "softmax [%lld, %lld, %lld]", (long long)shape[0],
                     (long long)shape[1], (long long)shape[2]);
        return tt_build_softmax(nd, shape, err);
    }
    }
}

/* ---- the schedule generator --------------------------------------------------- */

enum { M_TILE = 0, M_MLT, M_RF };


static int app(sg_gen *g, tt_step x)
{
    if (g->fail)
        return -1;
    tt_err err = {0};
    if (tt_state_apply(g->s, &x, &err)) {
        char *js = tt_steps_write(&x, 1);
        g->fail = 1;
        snprintf(g->msg, sizeof g->msg, "generated step %d %s refused: %s", g->s->nsteps,
                 js ? js : tt_step_tags[x.tag], err.msg);
        free(js);
        return -1;
    }
    return 0;
}

tt_step sg_step0(tt_steptag tag, int stage)
{
    tt_step x;
    memset(&x, 0, sizeof x);
    x.tag = tag;
    x.stage = stage;
    return x;
}

static const tt_relnode *gnode(const tt_state *s, int stage, int iter)
{
    const tt_stage *st = &s->stages[stage];
    return &st->nodes[st->iters[iter].node];
}

static int attached_at(const tt_state *s, int uid, int node)
{
    for (int i = 0; i < s->nstages; i++) {
        const tt_stage *o = &s->stages[i];
        if (o->at == TT_AT_ITER && o->at_uid == uid && o->at_node == node)
            return 1;
    }
    return 0;
}

/* Does e read uid, directly or through stages inlined in the state (inl == NULL)
 * or planned to be inlined in the DAG (inl != NULL)? */
static int reads_uid(const tt_state *s, const tt_dag *d, const int *inl, const tt_expr *e, int uid)
{
    if (!e)
        return 0;
    if (e->kind == TT_E_LOAD) {
        if (e->u.uid == uid)
            return 1;
        if (inl) {
            if (e->u.uid < d->nops && inl[e->u.uid] && reads_uid(s, d, inl, d->ops[e->u.uid]->body, uid))
                return 1;
        } else {
            int si = tt_state_stage_of_uid(s, e->u.uid);
            if (si >= 0 && s->stages[si].at == TT_AT_INLINED &&
                reads_uid(s, d, inl, s->stages[si].op.body, uid))
                return 1;
        }
    }
    for (int i = 0; i < e->n; i++)
        if (reads_uid(s, d, inl, e->args[i], uid))
            return 1;
    return 0;
}

/* Stages (not inlined) whose bodies read stage idx, seeing through inlined ones. */
static int eff_consumers(const tt_state *s, int idx, int *out)
{
    int n = 0, uid = s->stages[idx].op.uid;
    for (int D = idx + 1; D < s->nstages; D++) {
        const tt_stage *st = &s->stages[D];
        if (st->op.kind != TT_OP_COMPUTE || st->at == TT_AT_INLINED)
            continue;
        if (reads_uid(s, NULL, NULL, st->op.body, uid) || reads_uid(s, NULL, NULL, st->op.cond, uid))
            out[n++] = D;
    }
    return n;
}

/* The same on the DAG with the planned inlining. */
static int plan_consumers(const sg_gen *g, int u, int *out)
{
    int n = 0;
    for (int v = u + 1; v < g->d->nops; v++) {
        const tt_op *op = g->d->ops[v];
        if (op->kind != TT_OP_COMPUTE || g->inl[v])
            continue;
        if (reads_uid(NULL, g->d, g->inl, op->body, u) || reads_uid(NULL, g->d, g->inl, op->cond, u))
            out[n++] = v;
    }
    return n;
}

static int same_shape(const tt_op *a, const tt_op *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->axis[i].extent != b->axis[i].extent)
            return 0;
    return 1;
}

/* Split lengths for an iterator of extent E (<= 0: unknown): a perfect tiling
 * (divisors) or arbitrary small lengths that need not divide E. */
static void gen_lengths(tt_rng *r, int64_t E, int n, int64_t *len)
{
    if (E > 0 && chance(r, 0.45)) {
        int64_t rem = E;
        for (int i = n - 1; i >= 0; i--) {
            int64_t divs[64];
            int nd = 0;
            for (int64_t q = 1; q <= rem && nd < 64; q++)
                if (rem % q == 0 && q <= 16)
                    divs[nd++] = q;
            len[i] = divs[tt_rng_below(r, (uint64_t)nd)];
            rem /= len[i];
        }
        return;
    }
    int64_t hi = E > 0 ? (E < 7 ? E : 7) : 6;
    for (int i = 0; i < n; i++) {
        len[i] = rnd(r, 1, hi);
        if (chance(r, 0.06) && E > 0)
            len[i] = E + rnd(r, 1, 3); /* longer than the extent */
    }
    /* innermost a power of two (vector lanes) */
    if (chance(r, 0.35))
        len[n - 1] = (int64_t)1 << rnd(r, 1, 4);
}

static int sp(sg_gen *g, int stage, int iter, int n, const int64_t *len)
{
    tt_step x = sg_step0(TT_STEP_SP, stage);
    x.iter = iter;
    int64_t E = gnode(g->s, stage, iter)->extent;
    x.extent = E > 0 && chance(g->r, 0.8) ? E : 0;
    x.nlen = n;
    for (int i = 0; i < n; i++)
        x.len[i] = len[i];
    x.inner_to_outer = 1;
    int id = g->s->nsteps;
    return app(g, x) ? -1 : id;
}

static int sp_random(sg_gen *g, int stage, int iter, int n)
{
    int64_t len[TT_MAX_SPLIT];
    gen_lengths(g->r, gnode(g->s, stage, iter)->extent, n, len);
    return sp(g, stage, iter, n, len);
}

static void re(sg_gen *g, int stage, int n, const int *order)
{
    tt_step x = sg_step0(TT_STEP_RE, stage);
    x.nids = n;
    memcpy(x.ids, order, (size_t)n * sizeof(int));
    app(g, x);
}

static void fu(sg_gen *g, int stage, int first, int n)
{
    tt_step x = sg_step0(TT_STEP_FU, stage);
    x.nids = n;
    for (int i = 0; i < n; i++)
        x.ids[i] = first + i;
    app(g, x);
}

static void an(sg_gen *g, int stage, int iter, tt_ann a)
{
    tt_step x = sg_step0(TT_STEP_AN, stage);
    x.iter = iter;
    x.ann = a;
    app(g, x);
}

static void ca(sg_gen *g, int stage, int target, int titer)
{
    tt_step x = sg_step0(TT_STEP_CA, stage);
    x.target_stage = target;
    x.target_iter = titer;
    app(g, x);
}

static void shuffle(tt_rng *r, int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)tt_rng_below(r, (uint64_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* A random split of 0..2 iterators, maybe a FFSP, maybe a reorder. */
static void tile_random(sg_gen *g, int idx)
{
    const tt_stage *st = &g->s->stages[idx];
    int nsplit = (int)rnd(g->r, 0, 2);
    for (int k = 0; k < nsplit && !g->fail; k++) {
        int it = (int)rnd(g->r, 0, st->niters - 1);
        sp_random(g, idx, it, (int)rnd(g->r, 1, 2));
    }
    if (!g->fail && chance(g->r, 0.2)) {
        /* FFSP by the product of one level of earlier splits */
        int ids[4], n = 0, minlen = TT_MAX_SPLIT;
        for (int i = 0; i < g->s->nsteps && n < 2; i++)
            if (g->s->steps[i].tag == TT_STEP_SP && chance(g->r, 0.5)) {
                ids[n++] = i;
                if (g->s->steps[i].nlen < minlen)
                    minlen = g->s->steps[i].nlen;
            }
        if (n > 0) {
            tt_step x = sg_step0(TT_STEP_FFSP, idx);
            x.iter = (int)rnd(g->r, 0, st->niters - 1);
            x.nids = n;
            memcpy(x.ids, ids, sizeof(int) * (size_t)n);
            x.level = (int)rnd(g->r, 0, minlen - 1);
            /* by factor (Ansor's cooperative fetch) or, on a known extent, by nparts */
            x.inner_to_outer = gnode(g->s, idx, x.iter)->extent > 0 && chance(g->r, 0.3) ? 0 : 1;
            app(g, x);
        }
    }
    if (!g->fail && st->niters > 1 && chance(g->r, 0.5)) {
        int order[TT_MAX_ITERS], n = st->niters;
        for (int i = 0; i < n; i++)
            order[i] = i;
        if (st->op.nreduce > 0 && chance(g->r, 0.5)) {
            /* spatial first, each group shuffled */
            int sp_[TT_MAX_ITERS], rd[TT_MAX_ITERS], ns = 0, nr = 0;
            for (int i = 0; i < n; i++)
                if (gnode(g->s, idx, i)->kind == TT_ITER_SPATIAL)
                    sp_[ns++] = i;
                else
                    rd[nr++] = i;
            shuffle(g->r, sp_, ns);
            shuffle(g->r, rd, nr);
            memcpy(order, sp_, sizeof(int) * (size_t)ns);
            memcpy(order + ns, rd, sizeof(int) * (size_t)nr);
        } else {
            shuffle(g->r, order, n);
        }
        re(g, idx, n, order);
    }
}

/* Ansor's multi-level tiling of an untouched stage: every spatial iterator in
 * ps parts, every reduce iterator in pr parts, reordered by the structure
 * string (CPU default "SSRSRS").  sp_steps[i] = the SP step of spatial axis i. */
static void mlt_tile(sg_gen *g, int idx, int *sp_steps)
{
    static const struct {
        const char *s;
        int ps, pr;
    } structs[] = {{"SSRSRS", 4, 2}, {"SRS", 2, 1}, {"SRSRS", 3, 2}, {"SSRSRS", 4, 2}};
    int which = (int)tt_rng_below(g->r, 4);
    const char *structure = structs[which].s;
    int ps = structs[which].ps, pr = structs[which].pr;
    const tt_stage *st = &g->s->stages[idx];
    int nsp = st->op.ndim, nred = st->op.nreduce;
    int part[TT_MAX_DIMS + TT_MAX_RAXES][4];
    int pos = 0;
    for (int i = 0; i < nsp + nred && !g->fail; i++) {
        int parts = i < nsp ? ps : pr;
        if (parts > 1) {
            int id = sp_random(g, idx, pos, parts - 1);
            if (i < nsp)
                sp_steps[i] = id;
        } else if (i < nsp) {
            sp_steps[i] = -1;
        }
        for (int l = 0; l < parts; l++)
            part[i][l] = pos + l;
        pos += parts;
    }
    if (g->fail)
        return;
    int order[TT_MAX_ITERS], n = 0, sl = 0, rl = 0;
    for (const char *c = structure; *c; c++) {
        if (*c == 'S') {
            for (int i = 0; i < nsp; i++)
                order[n++] = part[i][sl];
            sl++;
        } else {
            for (int j = 0; j < nred; j++)
                order[n++] = part[nsp + j][rl];
            rl++;
        }
    }
    if (chance(g->r, 0.12))
        shuffle(g->r, order, n);
    re(g, idx, n, order);
    g->tiled[g->s->stages[idx].op.uid] = 1;
}

/* Ansor's FollowTiling + compute_at (MultiLevelTilingWithFusion): consumer C
 * follows the spatial splits of S at `level`, S is computed at C's iterator
 * level * nsp - 1. */
static void fuse_into(sg_gen *g, int S, int C, const int *sp_steps, int level)
{
    int nsp = g->s->stages[C].op.ndim;
    for (int j = 0; j < nsp && !g->fail; j++) {
        tt_step x = sg_step0(TT_STEP_FSP, C);
        x.iter = j * (level + 1);
        x.src_step = sp_steps[j];
        x.n_split = level;
        app(g, x);
    }
    int order[TT_MAX_ITERS], n = 0;
    for (int l = 0; l <= level; l++)
        for (int j = 0; j < nsp; j++)
            order[n++] = j * (level + 1) + l;
    re(g, C, n, order);
    ca(g, S, C, level * nsp - 1);
}

/* Compute stage idx at an iterator of its only consumer, with probability p. */
static void attach_maybe(sg_gen *g, int idx, double p)
{
    if (g->fail || !chance(g->r, p) || idx == g->s->nstages - 1)
        return;
    int cons[MAXU];
    if (eff_consumers(g->s, idx, cons) != 1)
        return;
    int C = cons[0];
    int nit = g->s->stages[C].niters;
    if (nit == 0)
        return;
    int k = chance(g->r, 0.5) ? (int)rnd(g->r, 0, nit - 1 < 2 ? nit - 1 : 2) : (int)rnd(g->r, 0, nit - 1);
    ca(g, idx, C, k);
}

/* Ansor's AddRfactor: fuse the reduce iterators, split, rfactor one part. */
static void rf_turn(sg_gen *g, int idx)
{
    const tt_stage *st = &g->s->stages[idx];
    int nsp = st->op.ndim, nred = st->op.nreduce;
    if (nred > 1)
        fu(g, idx, nsp, nred);
    if (g->fail)
        return;
    sp_random(g, idx, nsp, 1);
    int nleaves = 2;
    if (!g->fail && chance(g->r, 0.3)) {
        sp_random(g, idx, nsp + (int)rnd(g->r, 0, 1), 1); /* a part split again */
        nleaves = 3;
    }
    if (g->fail)
        return;
    int part = (int)rnd(g->r, 0, nleaves - 1);
    int fi = chance(g->r, 0.7) ? nsp : (int)rnd(g->r, 0, nsp);
    tt_step x = sg_step0(TT_STEP_RF, idx);
    x.iter = nsp + part;
    x.target_iter = fi;
    if (app(g, x))
        return;
    /* the rf stage is at idx: axes (nsp + 1, the factor axis at fi), one reduce */
    const tt_stage *rf = &g->s->stages[idx];
    int n = rf->niters, order[TT_MAX_ITERS], k = 0;
    if (part == nleaves - 1 && chance(g->r, 0.8)) {
        for (int i = 0; i < n; i++)
            if (i != fi)
                order[k++] = i;
        order[k++] = fi;
        re(g, idx, n, order);
    } else if (chance(g->r, 0.3)) {
        for (int i = 0; i < n; i++)
            order[i] = i;
        shuffle(g->r, order, n);
        re(g, idx, n, order);
    }
}

static int is_mlt_op(const tt_op *op)
{
    static const char *const tags[] = {"dense", "conv2d_nhwc", "group_conv2d_nhwc",
                                       "depthwise_conv2d_nhwc", "batch_matmul", "matmul_add"};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        if (!strcmp(op->tag, tags[i]))
            return 1;
    return 0;
}

static void plan(sg_gen *g)
{
    const tt_dag *d = g->d;
    int out = tt_dag_output(d);
    for (int u = 0; u < d->nops; u++) {
        const tt_op *op = d->ops[u];
        g->fuse_target[u] = -1;
        if (op->kind == TT_OP_COMPUTE && op->nreduce == 0 && u != out)
            g->inl[u] = chance(g->r, 0.45);
    }
    for (int u = d->nops - 1; u >= 0; u--) {
        const tt_op *op = d->ops[u];
        if (op->kind != TT_OP_COMPUTE || op->nreduce == 0)
            continue;
        double x = tt_rng_unit(g->r);
        if (is_mlt_op(op))
            g->mode[u] = x < 0.62 ? M_MLT : x < 0.80 ? M_RF : M_TILE;
        else
            g->mode[u] = x < 0.35 ? M_RF : x < 0.55 ? M_MLT : M_TILE;
        if (g->mode[u] == M_MLT) {
            g->chw[u] = chance(g->r, 0.3);
            g->fuse_level[u] = chance(g->r, 0.75) ? (int)rnd(g->r, 1, 2) : 0;
            if (!g->chw[u] && g->fuse_level[u]) {
                int cons[MAXU];
                int n = plan_consumers(g, u, cons);
                if (n == 1 && d->ops[cons[0]]->nreduce == 0 && same_shape(op, d->ops[cons[0]]) &&
                    !g->reserved[cons[0]]) {
                    g->reserved[cons[0]] = 1;
                    g->fuse_target[u] = cons[0];
                } else {
                    g->fuse_level[u] = 0;
                }
            }
        } else if (g->mode[u] == M_TILE) {
            g->chw[u] = chance(g->r, 0.2);
        }
    }
}

static int chain_has_parallel(const tt_state *s, int idx)
{
    for (int t = idx; s->stages[t].at == TT_AT_ITER;) {
        t = tt_state_stage_of_uid(s, s->stages[t].at_uid);
        if (t < 0)
            return 1;
        for (int i = 0; i < s->stages[t].niters; i++)
            if (s->stages[t].iters[i].ann == TT_ANN_PARALLEL)
                return 1;
    }
    return 0;
}

/* InitParallel, InitUnroll, InitVectorization and some compute-location
 * mutations, from the last stage to the first. */
static void annotate(sg_gen *g)
{
    tt_state *s = g->s;
    for (int idx = s->nstages - 1; idx >= 0 && !g->fail; idx--) {
        tt_stage *st = &s->stages[idx];
        if (st->op.kind != TT_OP_COMPUTE || st->at == TT_AT_INLINED)
            continue;
        int uid = st->op.uid;
        if (st->at == TT_AT_ITER ? chance(g->r, 0.07) : chance(g->r, 0.04))
            app(g, sg_step0(TT_STEP_CR, idx));
        /* MutateComputeLocation: a new place among the consumer's loops, which
         * may now be fused and parallel (not vectorized or unrolled ones) */
        if (!g->tiled[uid] && idx < s->nstages - 1 && chance(g->r, 0.08)) {
            int cons[MAXU];
            if (eff_consumers(s, idx, cons) == 1) {
                const tt_stage *cs = &s->stages[cons[0]];
                int k = cs->niters > 0 ? (int)rnd(g->r, 0, cs->niters - 1) : -1;
                if (k >= 0 && (cs->iters[k].ann == TT_ANN_NONE || cs->iters[k].ann == TT_ANN_PARALLEL))
                    ca(g, idx, cons[0], k);
            }
        }
        /* parallel */
        if (st->at == TT_AT_ROOT && chance(g->r, 0.75)) {
            int maxc = (int)rnd(g->r, 1, 3), cnt = 0;
            for (int i = 0; i < st->niters && cnt < maxc; i++) {
                const tt_relnode *n = gnode(s, idx, i);
                if (n->kind != TT_ITER_SPATIAL || st->iters[i].ann != TT_ANN_NONE)
                    break;
                cnt++;
                if (attached_at(s, uid, st->iters[i].node))
                    break;
            }
            if (cnt > 1)
                fu(g, idx, 0, cnt);
            if (cnt > 0)
                an(g, idx, 0, TT_ANN_PARALLEL);
        } else if (st->at == TT_AT_ITER && st->niters > 0 && !chain_has_parallel(s, idx) &&
                   chance(g->r, 0.3) && gnode(s, idx, 0)->kind == TT_ITER_SPATIAL &&
                   st->iters[0].ann == TT_ANN_NONE) {
            an(g, idx, 0, TT_ANN_PARALLEL);
        }
        if (g->fail)
            return;
        /* auto_unroll_max_step */
        int64_t unroll = 0;
        if (st->niters > 0 && chance(g->r, st->op.nreduce ? 0.6 : 0.15)) {
            static const int64_t vals[4] = {0, 16, 64, 512};
            tt_step x = sg_step0(TT_STEP_PR, idx);
            x.iter = 0;
            x.pragma_value = unroll = vals[tt_rng_below(g->r, 4)];
            app(g, x);
        }
        /* vectorize the innermost spatial iterator(s) */
        int last = st->niters - 1;
        if (last >= 0 && chance(g->r, 0.6) && gnode(s, idx, last)->kind == TT_ITER_SPATIAL &&
            st->iters[last].ann == TT_ANN_NONE && !attached_at(s, uid, st->iters[last].node)) {
            int cnt = 1;
            int64_t prod = gnode(s, idx, last)->extent;
            if (!g->tiled[uid] && st->at == TT_AT_ROOT && chance(g->r, 0.4)) {
                for (int j = last - 1; j >= 0; j--) {
                    const tt_relnode *n = gnode(s, idx, j);
                    if (n->kind != TT_ITER_SPATIAL || st->iters[j].ann != TT_ANN_NONE ||
                        attached_at(s, uid, st->iters[j].node) || n->extent <= 0 || prod <= 0 ||
                        prod * n->extent > 16)
                        break;
                    prod *= n->extent;
                    cnt++;
                }
                cnt = (int)rnd(g->r, 1, cnt);
            }
            if (cnt > 1)
                fu(g, idx, last - cnt + 1, cnt);
            an(g, idx, last - cnt + 1, TT_ANN_VECTORIZE);
        }
        if (g->fail)
            return;
        /* one explicit unroll of a short loop */
        if (st->niters > 1 && unroll < 512 && chance(g->r, 0.25)) {
            int i = (int)rnd(g->r, 0, st->niters - 1);
            int64_t e = gnode(s, idx, i)->extent;
            if (st->iters[i].ann == TT_ANN_NONE && e > 0 && e <= 8)
                an(g, idx, i, TT_ANN_UNROLL);
        }
    }
}

/* Generate and apply a random schedule for s (a fresh state of its DAG). */
void sg_generate(sg_gen *g)
{
    tt_state *s = g->s;
    plan(g);
    for (int idx = s->nstages - 1; idx >= 0 && !g->fail; idx--) {
        const tt_stage *st = &s->stages[idx];
        if (st->op.kind != TT_OP_COMPUTE)
            continue;
        int u = st->op.uid;
        int is_out = idx == s->nstages - 1;
        if (st->op.nreduce == 0) {
            if (g->inl[u]) {
                app(g, sg_step0(TT_STEP_CI, idx));
                continue;
            }
            if (g->reserved[u])
                continue;
            if (chance(g->r, 0.6))
                tile_random(g, idx);
            if (!is_out)
                attach_maybe(g, idx, 0.45);
            continue;
        }
        int sp_steps[TT_MAX_DIMS];
        switch (g->mode[u]) {
        case M_RF:
            rf_turn(g, idx);
            attach_maybe(g, idx + 1, 0.4); /* the original, at its consumer */
            attach_maybe(g, idx, 0.25);    /* the rf stage, at the original */
            break;
        case M_MLT:
            if (g->chw[u]) {
                tt_step x = sg_step0(TT_STEP_CHW, idx);
                snprintf(x.scope, sizeof x.scope, "local");
                if (app(g, x))
                    break;
                mlt_tile(g, idx, sp_steps);
                if (g->fuse_level[u])
                    fuse_into(g, idx, idx + 1, sp_steps, g->fuse_level[u]);
                else
                    attach_maybe(g, idx, 0.5);
            } else {
                int C = g->fuse_target[u] >= 0 ? tt_state_stage_of_uid(s, g->fuse_target[u]) : -1;
                if (C >= 0) {
                    int cons[MAXU];
                    const tt_stage *cs = &s->stages[C];
                    if (eff_consumers(s, idx, cons) != 1 || cons[0] != C || cs->nrels ||
                        cs->at != TT_AT_ROOT) {
                        g->fail = 1;
                        snprintf(g->msg, sizeof g->msg, "generator: fusion target %s of %s changed",
                                 cs->op.name, st->op.name);
                        break;
                    }
                }
                mlt_tile(g, idx, sp_steps);
                if (C >= 0)
                    fuse_into(g, idx, C, sp_steps, g->fuse_level[u]);
                else
                    attach_maybe(g, idx, 0.3);
            }
            break;
        default:
            if (g->chw[u]) {
                tt_step x = sg_step0(TT_STEP_CHW, idx);
                snprintf(x.scope, sizeof x.scope, "local");
                if (app(g, x))
                    break;
            }
            tile_random(g, idx);
            attach_maybe(g, idx, g->chw[u] ? 0.5 : 0.35);
            break;
        }
    }
    if (!g->fail)
        annotate(g);
}

