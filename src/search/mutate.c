/* mutate.c - Ansor's evolutionary mutations (sketch_policy_rules.cc:
 * MutateTileSize, MutateAutoUnroll, MutateComputeLocation, MutateParallel).
 * Each edits the step list of a concrete state and replays it on a fresh
 * state of the DAG, so a mutated state is valid by construction or refused. */
#include "search_int.h"

#include <stdlib.h>
#include <string.h>

#define MUT_MAX_STEPS 512 /* steps a mutation considers */

const char *const tt_mutation_names[TT_MUT_COUNT] = {"tile_size", "auto_unroll", "compute_location",
                                                     "parallel"};
_Static_assert(sizeof tt_mutation_names / sizeof tt_mutation_names[0] == TT_MUT_COUNT,
               "tt_mutation_names");

/* Replay steps on a fresh state; 1 (not applicable) if a step fails or the
 * result has nested parallel loops (Ansor prunes those). */
static int replay(const tt_dag *d, const tt_step *steps, int n, tt_state **out, tt_err *err)
{
    tt_state *s = tt_state_new(d);
    if (tt_state_apply_all(s, steps, n, err)) {
        tt_state_free(s);
        return 1;
    }
    if (tt_state_has_nested_parallel(s)) {
        tt_state_free(s);
        tt_err_set(err, "nested parallel loops");
        return 1;
    }
    *out = s;
    return 0;
}

static tt_step *copy_steps(const tt_state *s)
{
    tt_step *v = tt_xmalloc(sizeof(tt_step) * (size_t)(s->nsteps + 1));
    memcpy(v, s->steps, sizeof(tt_step) * (size_t)s->nsteps);
    return v;
}

static int64_t rnd(tt_rng *r, int64_t n) { return (int64_t)tt_rng_below(r, (uint64_t)n); }

/* MutateTileSize: move a random factor of one tile level (including the
 * implicit outermost) to the next level of a random permutation, keeping the
 * innermost length <= max_innermost_split_factor. */
static int mutate_tile(const tt_state *s, tt_rng *r, const tt_search_params *p, tt_state **out,
                       tt_err *err)
{
    int ids[MUT_MAX_STEPS], n = 0;
    for (int i = 0; i < s->nsteps && n < MUT_MAX_STEPS; i++) {
        const tt_step *x = &s->steps[i];
        if (x->tag == TT_STEP_SP && x->extent > 0 && x->nlen > 0 &&
            x->len[x->nlen - 1] <= p->max_innermost_split_factor)
            ids[n++] = i;
    }
    if (n == 0)
        return 1;
    int retry = 0, sid;
    int64_t extent;
    do {
        sid = ids[rnd(r, n)];
        extent = s->steps[sid].extent;
        retry++;
    } while (retry < n << 2 && (extent == 1 || extent == 0));
    if (extent <= 1)
        return 1;
    const tt_step *x = &s->steps[sid];
    int nl = x->nlen + 1;
    int64_t len[TT_MAX_SPLIT + 1], prod = 1;
    for (int i = 0; i < x->nlen; i++) {
        len[i + 1] = x->len[i];
        prod *= x->len[i];
    }
    len[0] = extent / prod;
    int perm[TT_MAX_SPLIT + 1];
    for (int i = 0; i < nl; i++)
        perm[i] = i;
    for (int i = nl - 1; i > 0; i--) {
        int j = (int)rnd(r, i + 1);
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int i = 0; i < nl; i++) {
        int src = perm[i];
        if (len[src] <= 1)
            continue;
        int dst = perm[(i + 1) % nl];
        int64_t f[4096];
        int nf = ts_factors(len[src], f, 4096);
        int64_t div;
        if (dst == nl - 1) {
            int mi = nf - 1;
            for (; mi >= 1; mi--)
                if (f[mi] * len[dst] <= p->max_innermost_split_factor)
                    break;
            if (mi == 0)
                continue;
            div = f[1 + rnd(r, mi)];
        } else {
            div = f[1 + rnd(r, nf - 1)];
        }
        tt_step *v = copy_steps(s);
        for (int j = 1; j < nl; j++)
            v[sid].len[j - 1] = j == src ? len[j] / div : j == dst ? len[j] * div : len[j];
        int rc = replay(s->dag, v, s->nsteps, out, err);
        free(v);
        return rc;
    }
    return 1;
}

/* MutateAutoUnroll: a random auto_unroll_max_step pragma gets a random value. */
static int mutate_unroll(const tt_state *s, tt_rng *r, const tt_search_params *p, tt_state **out,
                         tt_err *err)
{
    int ids[MUT_MAX_STEPS], n = 0;
    for (int i = 0; i < s->nsteps && n < MUT_MAX_STEPS; i++)
        if (s->steps[i].tag == TT_STEP_PR)
            ids[n++] = i;
    if (n == 0 || p->nunroll <= 0)
        return 1;
    int sid = ids[rnd(r, n)];
    tt_step *v = copy_steps(s);
    v[sid].pragma_value = p->unroll[rnd(r, p->nunroll)];
    int rc = replay(s->dag, v, s->nsteps, out, err);
    free(v);
    return rc;
}

/* GetTargetStageIDInState: the id, in the final state, of the stage that
 * step `sid` addresses (later CHW / CHR / RF steps may have shifted it). */
static int final_stage(const tt_state *s, int sid)
{
    int inc = 0;
    for (int i = sid + 1; i < s->nsteps; i++) {
        tt_steptag t = s->steps[i].tag;
        if ((t == TT_STEP_CHW || t == TT_STEP_CHR || t == TT_STEP_RF) &&
            s->steps[i].stage <= s->steps[sid].stage + inc)
            inc++;
    }
    return s->steps[sid].stage + inc;
}

/* MutateComputeLocation: a random CA of an untiled stage moves to another
 * candidate location (candidates computed on the final state, as Ansor). */
static int mutate_location(const tt_state *s, tt_rng *r, const tt_search_params *p, tt_state **out,
                           tt_err *err)
{
    if (p->disable_change_compute_location)
        return 1;
    int ids[MUT_MAX_STEPS], n = 0;
    for (int i = 0; i < s->nsteps && n < MUT_MAX_STEPS; i++) {
        if (s->steps[i].tag != TT_STEP_CA)
            continue;
        int fs = final_stage(s, i);
        if (fs < 0 || fs >= s->nstages || ts_is_tiled(&s->stages[fs]) || ts_needs_mlt(s, fs))
            continue;
        ids[n++] = i;
    }
    if (n == 0)
        return 1;
    int sid = ids[rnd(r, n)];
    int inc = final_stage(s, sid) - s->steps[sid].stage;
    int cand[128][2];
    int nc = ts_location_candidates(s, s->steps[sid].stage + inc, cand, 128);
    if (nc == 0)
        return 1;
    int k = (int)rnd(r, nc);
    tt_step *v = copy_steps(s);
    v[sid].target_stage = cand[k][0] - inc;
    v[sid].target_iter = cand[k][1];
    int rc = replay(s->dag, v, s->nsteps, out, err);
    free(v);
    return rc;
}

/* MutateParallel: change how many outer iterators a FU + AN parallel pair at
 * iterator 0 fuses, shifting the iterator ids of later AN / PR steps of that
 * stage. */
static int mutate_parallel(const tt_state *s, tt_rng *r, const tt_search_params *p, tt_state **out,
                           tt_err *err)
{
    int ids[MUT_MAX_STEPS], n = 0;
    for (int i = 1; i < s->nsteps && n < MUT_MAX_STEPS; i++) {
        const tt_step *x = &s->steps[i], *f = &s->steps[i - 1];
        if (x->tag == TT_STEP_AN && x->ann == TT_ANN_PARALLEL && x->iter == 0 && f->tag == TT_STEP_FU &&
            f->ids[0] == 0)
            ids[n++] = i;
    }
    if (n == 0)
        return 1;
    int sid = ids[rnd(r, n)];
    const tt_step *fu = &s->steps[sid - 1];
    int si = fu->stage;
    tt_state *t = tt_state_new(s->dag);
    int rc = 1;
    tt_step *v = NULL;
    if (tt_state_apply_all(t, s->steps, sid - 1, err))
        goto done;
    const tt_stage *st = &t->stages[si];
    int maxf = 0;
    for (; maxf < st->niters; maxf++) {
        if (st->nodes[st->iters[maxf].node].kind == TT_ITER_REDUCE || st->iters[maxf].ann != TT_ANN_NONE)
            break;
        if (ts_is_attach_point(t, si, maxf))
            break;
    }
    if (maxf == 0)
        goto done;
    int to = (int)rnd(r, maxf) + 1;
    int offset = fu->ids[fu->nids - 1] - (to - 1);
    if (offset == 0)
        goto done;
    v = copy_steps(s);
    v[sid - 1].nids = to;
    for (int i = 0; i < to; i++)
        v[sid - 1].ids[i] = i;
    for (int i = sid + 1; i < s->nsteps; i++) {
        tt_step *x = &v[i];
        if (x->tag == TT_STEP_CHW || x->tag == TT_STEP_CHR || x->tag == TT_STEP_RF)
            goto done; /* never after parallel in practice; Ansor gives up too */
        if (x->stage != si)
            continue;
        if (x->tag != TT_STEP_AN && x->tag != TT_STEP_PR)
            goto done;
        if (x->iter != 0)
            x->iter += offset;
    }
    rc = replay(s->dag, v, s->nsteps, out, err);
done:
    free(v);
    tt_state_free(t);
    return rc;
}

int tt_state_mutate(const tt_state *s, tt_mutation m, tt_rng *r, const tt_search_params *p0,
                    tt_state **out, tt_err *err)
{
    tt_search_params tmp;
    const tt_search_params *p = ts_params(p0, &tmp);
    *out = NULL;
    if (!r)
        return tt_err_set(err, "mutate: no random generator");
    switch (m) {
    case TT_MUT_TILE_SIZE: return mutate_tile(s, r, p, out, err);
    case TT_MUT_AUTO_UNROLL: return mutate_unroll(s, r, p, out, err);
    case TT_MUT_COMPUTE_LOCATION: return mutate_location(s, r, p, out, err);
    case TT_MUT_PARALLEL: return mutate_parallel(s, r, p, out, err);
    default: return tt_err_set(err, "mutate: unknown mutation %d", (int)m);
    }
}

int tt_state_mutate_random(const tt_state *s, tt_rng *r, const tt_search_params *p0, tt_state **out,
                           tt_mutation *which, tt_err *err)
{
    tt_search_params tmp;
    const tt_search_params *p = ts_params(p0, &tmp);
    double w[TT_MUT_COUNT] = {p->mutate_tile_size, p->mutate_auto_unroll, p->mutate_compute_location,
                              p->mutate_parallel};
    double sum = 0;
    for (int i = 0; i < TT_MUT_COUNT; i++)
        sum += w[i] > 0 ? w[i] : 0;
    if (!r)
        return tt_err_set(err, "mutate: no random generator");
    if (!(sum > 0))
        return tt_err_set(err, "mutate: all mutation weights are zero");
    double x = tt_rng_unit(r) * sum, acc = 0;
    int m = TT_MUT_COUNT - 1;
    for (int i = 0; i < TT_MUT_COUNT; i++) {
        acc += w[i] > 0 ? w[i] : 0;
        if (x < acc) {
            m = i;
            break;
        }
    }
    if (which)
        *which = (tt_mutation)m;
    return tt_state_mutate(s, (tt_mutation)m, r, p, out, err);
}
