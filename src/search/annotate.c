/* annotate.c - from a sketch to a concrete state: Ansor's initial-population
 * rules (InitFillTileSize, InitChangeComputeLocation, InitParallel,
 * InitUnroll, InitVectorization), with every random choice an explicit
 * decision (search.h), and the reading of a record's decisions.
 *
 * As in Ansor, the compute-location rule works on the sketch's iterators
 * (split parts have unknown extents), the later rules on the replayed state
 * after bound inference; bound inference is the lowering's (codegen), which
 * is TVM's InferBound on affine index forms.
 */
#include "search_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../codegen/codegen.h"

void tt_decisions_init(tt_decisions *dec)
{
    memset(dec, 0, sizeof *dec);
    for (int i = 0; i < TT_DEC_MAX_STAGES; i++) {
        dec->loc[i].kind = TT_LOC_SAMPLE;
        dec->par[i] = TT_DEC_SAMPLE;
        dec->unroll[i] = TT_DEC_SAMPLE;
        dec->vec[i] = TT_DEC_SAMPLE;
    }
}

typedef struct an_ctx {
    const tt_search_params *p;
    tt_rng *r;
    const tt_decisions *dec;
    tt_decisions *taken;
    tt_err *err;
    int64_t (*ext)[TT_MAX_NODES]; /* node extents after bound inference, per stage */
    int ninf[TS_MAX_STAGES];      /* nodes that existed at inference time */
} an_ctx;

/* Status of a rule: 0 ok, 1 outside the space / invalid sample, -1 error. */
#define AN_INVALID 1

static int pick(an_ctx *c, uint64_t n, const char *what, int64_t *out)
{
    if (!c->r)
        return tt_err_set(c->err, "%s is not decided and no random generator was given", what);
    *out = (int64_t)tt_rng_below(c->r, n);
    return 0;
}

static int invalid(an_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int invalid(an_ctx *c, const char *fmt, ...)
{
    char msg[TT_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tt_err_set(c->err, "%s", msg);
    return AN_INVALID;
}

/* ---- tile sizes ----------------------------------------------------------- */

typedef struct fact_enum {
    int n;
    int64_t maxinner;
    int64_t stack[TT_MAX_SPLIT];
    int64_t count, want;
    int64_t *out;
} fact_enum;

/* SplitFactorizationMemo::DfsEnumerate: ordered tuples of divisors whose
 * product divides the extent, innermost <= maxinner, in Ansor's order. */
static void fact_dfs(fact_enum *e, int now, int64_t remaining)
{
    if (now == e->n) {
        if (e->stack[e->n - 1] <= e->maxinner) {
            if (e->count == e->want)
                memcpy(e->out, e->stack, sizeof(int64_t) * (size_t)e->n);
            e->count++;
        }
        return;
    }
    int64_t f[4096];
    int nf = ts_factors(remaining, f, 4096);
    for (int i = 0; i < nf; i++) {
        e->stack[now] = f[i];
        fact_dfs(e, now + 1, remaining / f[i]);
    }
}

static int fill_tiles(an_ctx *c, tt_step *steps, int nsteps)
{
    int k = 0;
    for (int i = 0; i < nsteps; i++) {
        tt_step *x = &steps[i];
        if (x->tag != TT_STEP_SP)
            continue;
        int defined = 1;
        for (int j = 0; j < x->nlen; j++)
            defined &= x->len[j] > 0;
        if (defined)
            continue;
        if (k >= TT_DEC_MAX_TILES)
            return tt_err_set(c->err, "more than %d splits", TT_DEC_MAX_TILES);
        if (x->extent <= 0)
            return tt_err_set(c->err, "split step %d has no extent", i);
        const tt_tile_dec *d = &c->dec->tile[k];
        if (k < c->dec->ntiles && d->nlen > 0) {
            if (d->nlen != x->nlen)
                return invalid(c, "split step %d has %d lengths, the decision %d", i, x->nlen, d->nlen);
            int64_t prod = 1;
            for (int j = 0; j < d->nlen; j++) {
                if (d->len[j] <= 0)
                    return invalid(c, "split step %d: length %lld", i, (long long)d->len[j]);
                prod *= d->len[j];
            }
            if (x->extent % prod)
                return invalid(c, "split step %d: lengths (product %lld) do not divide %lld", i,
                               (long long)prod, (long long)x->extent);
            if (d->len[d->nlen - 1] > c->p->max_innermost_split_factor)
                return invalid(c, "split step %d: innermost length %lld > %d", i,
                               (long long)d->len[d->nlen - 1], c->p->max_innermost_split_factor);
            memcpy(x->len, d->len, sizeof x->len);
        } else {
            fact_enum e = {.n = x->nlen, .maxinner = c->p->max_innermost_split_factor, .want = -1};
            fact_dfs(&e, 0, x->extent);
            if (e.count == 0)
                return invalid(c, "split step %d: no factorization of %lld", i, (long long)x->extent);
            int64_t w = 0;
            if (pick(c, (uint64_t)e.count, "a tile size", &w))
                return -1;
            e.want = w;
            e.count = 0;
            e.out = x->len;
            fact_dfs(&e, 0, x->extent);
        }
        if (c->taken) {
            c->taken->tile[k].nlen = x->nlen;
            memcpy(c->taken->tile[k].len, x->len, sizeof x->len);
            c->taken->ntiles = k + 1;
        }
        k++;
    }
    return 0;
}

/* ---- compute location ----------------------------------------------------- */

static int change_locations(an_ctx *c, tt_state *L)
{
    if (c->p->disable_change_compute_location)
        return 0;
    for (int si = L->nstages - 1; si >= 0; si--) {
        const tt_stage *st = &L->stages[si];
        if (st->op.kind != TT_OP_COMPUTE || st->at == TT_AT_INLINED)
            continue;
        if (ts_is_tiled(st) || ts_needs_mlt(L, si))
            continue;
        if (si >= TT_DEC_MAX_STAGES)
            return tt_err_set(c->err, "stage %d beyond the decision table", si);
        int cand[128][2];
        int nc = ts_location_candidates(L, si, cand, 128);
        tt_loc_dec d = c->dec->loc[si];
        if (d.kind == TT_LOC_SAMPLE) {
            int64_t ch = 0;
            if (pick(c, (uint64_t)nc + 2, "a compute location", &ch))
                return -1;
            d.kind = ch == 0 ? TT_LOC_INLINE : ch == 1 ? TT_LOC_ROOT : TT_LOC_AT;
            if (ch >= 2) {
                d.stage = cand[ch - 2][0];
                d.iter = cand[ch - 2][1];
            }
        } else if (d.kind == TT_LOC_AT) {
            int found = 0;
            for (int k = 0; k < nc; k++)
                found |= cand[k][0] == d.stage && cand[k][1] == d.iter;
            if (!found)
                return invalid(c, "compute location of stage %d at (%d, %d) is not a candidate", si,
                               d.stage, d.iter);
        } else if (d.kind < 0 || d.kind >= TT_LOC_COUNT) {
            return tt_err_set(c->err, "bad compute location kind %d", (int)d.kind);
        }
        if (c->taken)
            c->taken->loc[si] = d;
        tt_step x;
        memset(&x, 0, sizeof x);
        x.stage = si;
        if (d.kind == TT_LOC_INLINE) {
            /* Ansor inlines only a stage that is attached somewhere */
            if (ts_has_reduce(st) || st->at != TT_AT_ITER)
                continue;
            x.tag = TT_STEP_CI;
        } else if (d.kind == TT_LOC_ROOT) {
            x.tag = TT_STEP_CR;
        } else {
            x.tag = TT_STEP_CA;
            x.target_stage = d.stage;
            x.target_iter = d.iter;
        }
        if (tt_state_apply(L, &x, c->err))
            return AN_INVALID;
    }
    return 0;
}

/* ---- bound inference ------------------------------------------------------ */

static int infer(an_ctx *c, const tt_state *s)
{
    if (tt_codegen_extents(s, c->ext, c->err))
        return AN_INVALID;
    for (int si = 0; si < s->nstages; si++)
        c->ninf[si] = s->stages[si].nnodes;
    return 0;
}

static int64_t node_ext(const an_ctx *c, const tt_state *s, int si, int node)
{
    if (node < c->ninf[si])
        return c->ext[si][node];
    const tt_stage *st = &s->stages[si];
    for (int r = 0; r < st->nrels; r++) {
        const tt_rel *rel = &st->rels[r];
        if (rel->kind == TT_REL_FUSE && rel->other == node) {
            int64_t e = 1;
            for (int i = 0; i < rel->n; i++) {
                int64_t x = node_ext(c, s, si, rel->nodes[i]);
                if (x < 0)
                    return -1;
                e *= x;
            }
            return e;
        }
    }
    return -1;
}

static int64_t iter_ext(const an_ctx *c, const tt_state *s, int si, int iter)
{
    return node_ext(c, s, si, s->stages[si].iters[iter].node);
}

/* ---- parallel, unroll, vectorize ------------------------------------------- */

static int emit(an_ctx *c, tt_state *s, const tt_step *x)
{
    return tt_state_apply(s, x, c->err) ? -1 : 0;
}

/* FU of iterators [first, first + n) (if n > 1), then AN ann on the result. */
static int fuse_annotate(an_ctx *c, tt_state *s, int si, int first, int n, tt_ann ann)
{
    tt_step x;
    if (n > 1) {
        memset(&x, 0, sizeof x);
        x.tag = TT_STEP_FU;
        x.stage = si;
        x.nids = n;
        for (int i = 0; i < n; i++)
            x.ids[i] = first + i;
        if (emit(c, s, &x))
            return -1;
    }
    memset(&x, 0, sizeof x);
    x.tag = TT_STEP_AN;
    x.stage = si;
    x.iter = first;
    x.ann = ann;
    return emit(c, s, &x);
}

/* InitParallel's annotate_parallel: fuse the outermost iterators from `off`
 * until a reduce or annotated iterator, enough parallelism (16 * cores) or an
 * attach point, and parallelize:
 *   for i.0 (4) for j.0 (64) ...  ->  for i.0@j.0@ (256) parallel ...
 * With nothing to parallelize (degree 1) at an attach point, the stages
 * attached there are parallelized instead, then the rest of this stage. */
static int annotate_parallel(an_ctx *c, tt_state *s, int si, int off)
{
    const tt_stage *st = &s->stages[si];
    int64_t limit = (int64_t)c->p->num_cores * 16;
    int64_t degree = 1;
    int it = off, nfuse = 0;
    for (; it < st->niters; it++) {
        const tt_relnode *n = &st->nodes[st->iters[it].node];
        if (n->kind == TT_ITER_REDUCE || st->iters[it].ann != TT_ANN_NONE)
            break;
        nfuse++;
        degree *= iter_ext(c, s, si, it);
        if (degree > limit)
            break;
        if (ts_is_attach_point(s, si, it))
            break;
    }
    int n = nfuse;
    if (off == 0 && si < TT_DEC_MAX_STAGES && c->dec->par[si] != TT_DEC_SAMPLE) {
        n = c->dec->par[si];
        /* Reachable counts: the init rule stops at enough parallelism, but a
         * later tile-size mutation changes the extents and keeps the fuse,
         * and MutateParallel picks any count before the attach point; so any
         * count up to the first reduce or annotated iterator or attach point
         * (included) is in the space. */
        int maxf = 0;
        while (maxf < st->niters && st->nodes[st->iters[maxf].node].kind != TT_ITER_REDUCE &&
               st->iters[maxf].ann == TT_ANN_NONE) {
            maxf++;
            if (ts_is_attach_point(s, si, maxf - 1))
                break;
        }
        if (n < 0 || n > maxf || (n == 0 && maxf > 0))
            return invalid(c, "parallel: stage %d fuses %d outer iterators; the rules allow 1..%d",
                           si, n, maxf);
    }
    if (off == 0 && c->taken && si < TT_DEC_MAX_STAGES)
        c->taken->par[si] = n;
    if (degree == 1 && it < st->niters && ts_is_attach_point(s, si, it)) {
        int uid = st->op.uid, node = st->iters[it].node;
        for (int k = 0; k < s->nstages; k++) {
            const tt_stage *o = &s->stages[k];
            if (o->at == TT_AT_ITER && o->at_uid == uid && o->at_node == node) {
                int rc = annotate_parallel(c, s, k, 0);
                if (rc)
                    return rc;
            }
        }
        int rc = annotate_parallel(c, s, si, it + 1);
        if (rc)
            return rc;
    }
    if (n > 0)
        return fuse_annotate(c, s, si, off, n, TT_ANN_PARALLEL);
    return 0;
}

static int init_parallel(an_ctx *c, tt_state *s)
{
    for (int si = 0; si < s->nstages; si++) {
        if (s->stages[si].at != TT_AT_ROOT || s->stages[si].op.kind != TT_OP_COMPUTE)
            continue;
        int rc = annotate_parallel(c, s, si, 0);
        if (rc)
            return rc;
    }
    return 0;
}

/* InitUnroll: every stage with a reduction gets
 * pragma auto_unroll_max_step$v on its outermost iterator. */
static int init_unroll(an_ctx *c, tt_state *s)
{
    for (int si = 0; si < s->nstages; si++) {
        const tt_stage *st = &s->stages[si];
        if (st->at == TT_AT_INLINED || st->op.kind != TT_OP_COMPUTE)
            continue;
        int64_t v = si < TT_DEC_MAX_STAGES ? c->dec->unroll[si] : TT_DEC_SAMPLE;
        if (!ts_has_reduce(st)) {
            if (v >= 0)
                return invalid(c, "unroll: stage %d has no reduction and gets no pragma", si);
            continue;
        }
        if (v == TT_DEC_NONE)
            return invalid(c, "unroll: stage %d has a reduction and must get a pragma", si);
        if (v == TT_DEC_SAMPLE) {
            int64_t k = 0;
            if (pick(c, (uint64_t)c->p->nunroll, "an unroll depth", &k))
                return -1;
            v = c->p->unroll[k];
        } else if (v < 0) {
            return tt_err_set(c->err, "bad unroll decision %lld", (long long)v);
        }
        if (c->taken && si < TT_DEC_MAX_STAGES)
            c->taken->unroll[si] = v;
        tt_step x;
        memset(&x, 0, sizeof x);
        x.tag = TT_STEP_PR;
        x.stage = si;
        x.iter = 0;
        x.pragma_value = v;
        if (emit(c, s, &x))
            return -1;
    }
    return 0;
}

/* InitVectorization: fuse and vectorize innermost spatial iterators while
 * their product stays <= max_vectorize_size (a tiled stage: only the
 * innermost one), at most n - 1 of n candidates when n > 1:
 *   for ff.3 (16)  ->  for ff.3 (16) vectorize */
static int init_vectorize(an_ctx *c, tt_state *s)
{
    for (int si = 0; si < s->nstages; si++) {
        const tt_stage *st = &s->stages[si];
        if (st->at == TT_AT_INLINED || st->op.kind != TT_OP_COMPUTE)
            continue;
        int64_t cum = 1;
        int num = 0;
        while (num < st->niters) {
            int it = st->niters - 1 - num;
            if (ts_is_attach_point(s, si, it))
                break;
            const tt_relnode *n = &st->nodes[st->iters[it].node];
            if (n->kind == TT_ITER_REDUCE || st->iters[it].ann != TT_ANN_NONE)
                break;
            /* a tiled stage: memory is not contiguous beyond the innermost */
            if (ts_is_tiled(st) && num != 0)
                break;
            cum *= iter_ext(c, s, si, it);
            if (cum > c->p->max_vectorize_size)
                break;
            num++;
        }
        int v = si < TT_DEC_MAX_STAGES ? c->dec->vec[si] : TT_DEC_SAMPLE;
        if (v == TT_DEC_SAMPLE) {
            v = num;
            if (num > 1) {
                int64_t k = 0;
                if (pick(c, (uint64_t)num - 1, "a vectorization", &k))
                    return -1;
                v = 1 + (int)k;
            }
        } else {
            /* Reachable counts: the extents the init rule saw may have been
             * changed since by a tile-size mutation, so only the structure
             * bounds a given count (and none at all is reachable). */
            int ns = 0;
            while (ns < st->niters) {
                int it = st->niters - 1 - ns;
                if (ts_is_attach_point(s, si, it) || st->nodes[st->iters[it].node].kind == TT_ITER_REDUCE ||
                    st->iters[it].ann != TT_ANN_NONE || (ts_is_tiled(st) && ns != 0))
                    break;
                ns++;
            }
            int maxv = ns > 1 ? ns - 1 : ns;
            if (v < 0 || v > maxv)
                return invalid(c, "vectorize: stage %d fuses %d innermost iterators; the rules allow 0..%d",
                               si, v, maxv);
        }
        if (c->taken && si < TT_DEC_MAX_STAGES)
            c->taken->vec[si] = v;
        if (v > 0 && fuse_annotate(c, s, si, st->niters - v, v, TT_ANN_VECTORIZE))
            return -1;
    }
    return 0;
}

/* ---- nested parallel ------------------------------------------------------- */

static int count_parallel(const tt_state *s, int si)
{
    const tt_stage *st = &s->stages[si];
    if (st->at == TT_AT_INLINED)
        return 0;
    int n = 0;
    for (int i = 0; i < st->niters; i++) {
        if (st->iters[i].ann == TT_ANN_PARALLEL)
            n++;
        for (int k = 0; k < s->nstages; k++) {
            const tt_stage *o = &s->stages[k];
            if (o->at == TT_AT_ITER && o->at_uid == st->op.uid && o->at_node == st->iters[i].node)
                n += count_parallel(s, k);
        }
    }
    return n;
}

int tt_state_has_nested_parallel(const tt_state *s)
{
    for (int si = 0; si < s->nstages; si++)
        if (s->stages[si].at == TT_AT_ROOT && s->stages[si].op.kind == TT_OP_COMPUTE &&
            count_parallel(s, si) >= 2)
            return 1;
    return 0;
}

/* ---- fill / annotate ------------------------------------------------------- */

int tt_sketch_fill(const tt_state *sketch, const tt_decisions *dec, tt_rng *r,
                   const tt_search_params *p0, tt_state **out, tt_decisions *taken, tt_err *err)
{
    tt_search_params tmp;
    an_ctx c = {ts_params(p0, &tmp), r, dec, taken, err, NULL, {0}};
    *out = NULL;
    if (sketch->nstages > TS_MAX_STAGES)
        return tt_err_set(err, "sketch has %d stages (limit %d)", sketch->nstages, TS_MAX_STAGES);
    if (taken)
        tt_decisions_init(taken);
    int rc;
    /* 1. tile sizes, in the sketch's step list */
    int nsk = sketch->nsteps;
    tt_step *steps = tt_xmalloc(sizeof(tt_step) * (size_t)(nsk + 1));
    memcpy(steps, sketch->steps, sizeof(tt_step) * (size_t)nsk);
    tt_state *L = NULL, *C = NULL;
    rc = fill_tiles(&c, steps, nsk);
    if (rc)
        goto done;
    /* 2. compute locations, on the sketch's iterators */
    L = tt_state_copy(sketch);
    rc = change_locations(&c, L);
    if (rc)
        goto done;
    /* 3. replay everything on the DAG: the concrete state, then its bounds */
    C = tt_state_new(sketch->dag);
    if (tt_state_apply_all(C, steps, nsk, err) ||
        tt_state_apply_all(C, L->steps + nsk, L->nsteps - nsk, err)) {
        rc = AN_INVALID;
        goto done;
    }
    c.ext = tt_xmalloc(sizeof(int64_t[TT_MAX_NODES]) * (size_t)C->nstages);
    rc = infer(&c, C);
    if (rc)
        goto done;
    /* 4. parallel, unroll, vectorize */
    if ((rc = init_parallel(&c, C)) || (rc = init_unroll(&c, C)) || (rc = init_vectorize(&c, C)))
        goto done;
    if (tt_state_has_nested_parallel(C)) {
        rc = invalid(&c, "nested parallel loops");
        goto done;
    }
done:
    free(steps);
    free(c.ext);
    tt_state_free(L);
    if (rc) {
        tt_state_free(C);
        return rc;
    }
    *out = C;
    return 0;
}

int tt_sketch_annotate(const tt_state *sketch, tt_rng *r, const tt_search_params *p, tt_state **out,
                       tt_decisions *taken, tt_err *err)
{
    tt_decisions dec;
    tt_decisions_init(&dec);
    if (!r)
        return tt_err_set(err, "annotate: no random generator");
    return tt_sketch_fill(sketch, &dec, r, p, out, taken, err);
}

/* ---- decisions of a record -------------------------------------------------- */

static int same_structure(const tt_step *a, const tt_step *b)
{
    if (a->tag != b->tag || a->stage != b->stage)
        return 0;
    switch (a->tag) {
    case TT_STEP_SP:
        return a->iter == b->iter && a->extent == b->extent && a->nlen == b->nlen &&
               a->inner_to_outer == b->inner_to_outer;
    case TT_STEP_FSP:
        return a->iter == b->iter && a->src_step == b->src_step && a->n_split == b->n_split;
    case TT_STEP_FFSP:
        if (a->iter != b->iter || a->level != b->level || a->inner_to_outer != b->inner_to_outer)
            return 0;
        __attribute__((fallthrough)); /* and the ids */
    case TT_STEP_RE:
    case TT_STEP_FU:
        if (a->nids != b->nids)
            return 0;
        for (int i = 0; i < a->nids; i++)
            if (a->ids[i] != b->ids[i])
                return 0;
        return 1;
    case TT_STEP_CA:
        return a->target_stage == b->target_stage && a->target_iter == b->target_iter;
    case TT_STEP_RF:
        return a->iter == b->iter && a->target_iter == b->target_iter;
    case TT_STEP_CHW:
        return !strcmp(a->scope, b->scope);
    case TT_STEP_AN:
        return a->iter == b->iter && a->ann == b->ann;
    case TT_STEP_PR:
        return a->iter == b->iter && a->pragma_value == b->pragma_value;
    default:
        return 1;
    }
}

int tt_decisions_from_steps(const tt_state *sketch, const tt_step *steps, int n, tt_decisions *dec,
                            tt_err *err)
{
    memset(dec, 0, sizeof *dec);
    for (int i = 0; i < TT_DEC_MAX_STAGES; i++) {
        dec->loc[i].kind = TT_LOC_INLINE;
        dec->unroll[i] = TT_DEC_NONE;
    }
    int ns = sketch->nsteps;
    if (n < ns)
        return tt_err_set(err, "%d steps, fewer than the sketch's %d", n, ns), 1;
    for (int i = 0; i < ns; i++) {
        const tt_step *a = &sketch->steps[i], *b = &steps[i];
        if (!same_structure(a, b))
            return tt_err_set(err, "step %d (%s) differs from the sketch's (%s)", i,
                              tt_step_tags[b->tag], tt_step_tags[a->tag]), 1;
        if (a->tag == TT_STEP_SP) {
            if (dec->ntiles >= TT_DEC_MAX_TILES)
                return tt_err_set(err, "too many splits");
            tt_tile_dec *t = &dec->tile[dec->ntiles++];
            t->nlen = b->nlen;
            memcpy(t->len, b->len, sizeof t->len);
        }
    }
    for (int i = ns; i < n; i++) {
        const tt_step *x = &steps[i];
        if (x->stage < 0 || x->stage >= TT_DEC_MAX_STAGES)
            return tt_err_set(err, "step %d: stage %d out of range", i, x->stage), 1;
        int s = x->stage;
        switch (x->tag) {
        case TT_STEP_CA:
            dec->loc[s].kind = TT_LOC_AT;
            dec->loc[s].stage = x->target_stage;
            dec->loc[s].iter = x->target_iter;
            break;
        case TT_STEP_CR:
            dec->loc[s].kind = TT_LOC_ROOT;
            break;
        case TT_STEP_CI:
            dec->loc[s].kind = TT_LOC_INLINE;
            break;
        case TT_STEP_FU:
        case TT_STEP_AN: {
            int nf = 1;
            const tt_step *an = x;
            if (x->tag == TT_STEP_FU) {
                if (i + 1 >= n || steps[i + 1].tag != TT_STEP_AN || steps[i + 1].stage != s ||
                    x->nids < 1 || steps[i + 1].iter != x->ids[0])
                    return tt_err_set(err, "step %d: a fuse not followed by its annotation", i), 1;
                an = &steps[++i];
                nf = x->nids;
            }
            if (an->ann == TT_ANN_PARALLEL) {
                if (an->iter == 0)
                    dec->par[s] = nf;
                /* parallel loops further in come from the rule itself */
            } else if (an->ann == TT_ANN_VECTORIZE) {
                dec->vec[s] = nf;
            } else {
                return tt_err_set(err, "step %d: annotation %s is not made by the rules", i,
                                  tt_ann_names[an->ann]), 1;
            }
            break;
        }
        case TT_STEP_PR:
            dec->unroll[s] = x->pragma_value;
            break;
        default:
            return tt_err_set(err, "step %d (%s) is not an annotation step", i,
                              tt_step_tags[x->tag]), 1;
        }
    }
    return 0;
}
