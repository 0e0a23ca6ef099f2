/* policy.c - see policy.h.  Semantics: TVM src/auto_scheduler/search_policy/
 * sketch_policy.cc (SampleInitPopulation, EvolutionarySearch,
 * PickStatesWithEpsGreedy, SearchOneRound), rewritten here. */
#include "policy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- a set of 64-bit state keys (open addressing; 0 is never a key) ---- */

typedef struct keyset {
    uint64_t *slot;
    size_t cap, n;
} keyset;

static void ks_free(keyset *s)
{
    free(s->slot);
    memset(s, 0, sizeof *s);
}

static int ks_has(const keyset *s, uint64_t k)
{
    if (!s->cap)
        return 0;
    for (size_t i = k & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->slot[i] == k)
            return 1;
        if (s->slot[i] == 0)
            return 0;
    }
}

#define KS_TOMB 1u /* a deleted key (keys are >= 2) */
static void ks_grow(keyset *s);

/* Returns 1 if k was new. */
static int ks_add(keyset *s, uint64_t k)
{
    if (ks_has(s, k))
        return 0;
    if ((s->n + 1) * 2 > s->cap)
        ks_grow(s);
    size_t i = k & (s->cap - 1);
    while (s->slot[i])
        i = (i + 1) & (s->cap - 1);
    s->slot[i] = k;
    s->n++;
    return 1;
}

static void ks_grow(keyset *s)
{
    keyset t = {tt_xcalloc(s->cap ? s->cap * 2 : 256, sizeof(uint64_t)), s->cap ? s->cap * 2 : 256, 0};
    for (size_t i = 0; i < s->cap; i++)
        if (s->slot[i] > KS_TOMB)
            ks_add(&t, s->slot[i]);
    free(s->slot);
    *s = t;
}

/* Deletion (for the heap's in-heap set) leaves a tombstone. */
static void ks_del(keyset *s, uint64_t k)
{
    if (!s->cap)
        return;
    for (size_t i = k & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->slot[i] == k) {
            s->slot[i] = KS_TOMB;
            return;
        }
        if (s->slot[i] == 0)
            return;
    }
}

static void ks_copy(keyset *dst, const keyset *src)
{
    dst->cap = src->cap;
    dst->n = src->n;
    dst->slot = src->cap ? tt_xmalloc(src->cap * sizeof(uint64_t)) : NULL;
    if (src->cap)
        memcpy(dst->slot, src->slot, src->cap * sizeof(uint64_t));
}

/* Key of a state: a hash of its printed loop nest (Ansor's State::ToStr). */
static uint64_t state_key(const tt_state *s)
{
    char *p = tt_state_print(s);
    uint64_t h = tt_hash64(p, strlen(p));
    free(p);
    return h <= KS_TOMB ? h + 2 : h;
}

/* ---- the policy ------------------------------------------------------------ */

/* A measured state is kept as its step list (a state is ~15 kB a stage; a
 * long search measures thousands) and replayed when it joins a population. */
typedef struct measured {
    tt_step *steps;
    int nsteps;
    double thr;
} measured;

struct tt_policy {
    const tt_dag *dag;
    tt_search_params p;
    tt_rng rng;
    int nsk;
    tt_state **sk;
    int min_pop;                 /* sample_init_min_population, halved on stalls */
    keyset done;                 /* measured (or picked) state keys */
    int nmeas, capmeas;
    measured *meas;
    tt_policy_stats st;
};

tt_policy *tt_policy_new(const tt_dag *d, const tt_search_params *p, uint64_t seed, tt_err *err)
{
    tt_search_params def;
    if (!p) {
        tt_search_params_default(&def);
        p = &def;
    }
    tt_state *tmp[64];
    int n = tt_sketch_generate(d, p, tmp, 64, err);
    if (n < 0)
        return NULL;
    if (n == 0) {
        tt_err_set(err, "no sketch for this workload");
        return NULL;
    }
    if (n > 64)
        n = 64;
    tt_policy *sp = tt_xcalloc(1, sizeof *sp);
    sp->dag = d;
    sp->p = *p;
    tt_rng_seed(&sp->rng, seed);
    sp->nsk = n;
    sp->sk = tt_xmalloc((size_t)n * sizeof(tt_state *));
    memcpy(sp->sk, tmp, (size_t)n * sizeof(tt_state *));
    sp->min_pop = p->sample_init_min_population > 0 ? p->sample_init_min_population : 1;
    return sp;
}

void tt_policy_free(tt_policy *sp)
{
    if (!sp)
        return;
    for (int i = 0; i < sp->nsk; i++)
        tt_state_free(sp->sk[i]);
    free(sp->sk);
    for (int i = 0; i < sp->nmeas; i++)
        free(sp->meas[i].steps);
    free(sp->meas);
    ks_free(&sp->done);
    free(sp);
}

int tt_policy_nsketches(const tt_policy *sp) { return sp->nsk; }
int tt_policy_nmeasured(const tt_policy *sp) { return sp->nmeas; }
const tt_policy_stats *tt_policy_last_stats(const tt_policy *sp) { return &sp->st; }

int tt_policy_is_measured(const tt_policy *sp, const tt_state *s)
{
    return ks_has(&sp->done, state_key(s));
}

void tt_policy_add_measured(tt_policy *sp, const tt_state *s, double throughput)
{
    ks_add(&sp->done, state_key(s));
    if (sp->nmeas == sp->capmeas) {
        sp->capmeas = sp->capmeas ? sp->capmeas * 2 : 64;
        sp->meas = tt_xrealloc(sp->meas, (size_t)sp->capmeas * sizeof(measured));
    }
    measured *m = &sp->meas[sp->nmeas];
    m->nsteps = s->nsteps;
    m->steps = tt_xmalloc((size_t)(s->nsteps > 0 ? s->nsteps : 1) * sizeof(tt_step));
    memcpy(m->steps, s->steps, (size_t)s->nsteps * sizeof(tt_step));
    sp->meas[sp->nmeas].thr = isfinite(throughput) && throughput > 0 ? throughput : 0;
    sp->nmeas++;
}

/* ---- a growable list of states ------------------------------------------- */

typedef struct slist {
    int n, cap;
    tt_state **s;
} slist;

static void sl_push(slist *l, tt_state *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->s = tt_xrealloc(l->s, (size_t)l->cap * sizeof(tt_state *));
    }
    l->s[l->n++] = s;
}

static void sl_clear(slist *l)
{
    for (int i = 0; i < l->n; i++)
        tt_state_free(l->s[i]);
    l->n = 0;
}

static void sl_free(slist *l)
{
    sl_clear(l);
    free(l->s);
    memset(l, 0, sizeof *l);
}

static int predict(tt_policy *sp, tt_cost_model *m, const slist *l, double *scores, tt_err *err)
{
    if (!m) {
        for (int i = 0; i < l->n; i++)
            scores[i] = tt_rng_unit(&sp->rng);
        return 0;
    }
    return tt_cost_model_predict(m, l->n, (const tt_state *const *)l->s, scores, err);
}

/* SampleInitPopulation: appends unique valid states to out. */
static int sample_init(tt_policy *sp, tt_cost_model *m, slist *out, tt_err *err)
{
    int population = sp->p.evolutionary_search_population > 0 ? sp->p.evolutionary_search_population : 1;
    keyset seen = {0};
    slist batch = {0};
    double *scores = tt_xmalloc((size_t)population * sizeof(double));
    int unchanged = 0, rc = 0;
    /* a hard stop for degenerate spaces: Ansor loops until the (halved)
     * target is met; one state is always reachable unless every sample is
     * invalid, which this bound turns into an empty population */
    for (int iter = 1; out->n < sp->min_pop && iter <= 200; iter++) {
        sp->st.sample_batches++;
        for (int i = 0; i < population; i++) {
            tt_state *s = NULL;
            tt_err e = {0};
            const tt_state *sk = sp->sk[tt_rng_below(&sp->rng, (uint64_t)sp->nsk)];
            if (tt_sketch_annotate(sk, &sp->rng, &sp->p, &s, NULL, &e) == 0)
                sl_push(&batch, s);
        }
        if (batch.n && predict(sp, m, &batch, scores, err)) {
            rc = -1;
            break;
        }
        int added = 0;
        for (int i = 0; i < batch.n; i++) {
            if (scores[i] > -1e10 && ks_add(&seen, state_key(batch.s[i]))) {
                sl_push(out, batch.s[i]);
                batch.s[i] = NULL;
                added++;
            }
        }
        sl_clear(&batch);
        unchanged = added ? 0 : unchanged + 1;
        if (unchanged == 5) {
            if (sp->min_pop > 1)
                sp->min_pop /= 2;
            unchanged = 0;
        }
    }
    sl_free(&batch);
    free(scores);
    ks_free(&seen);
    return rc;
}

/* Roulette wheel over max(score, 0) (uniform if every weight is 0). */
static int roulette(tt_rng *r, const double *prefix, int n)
{
    double total = prefix[n - 1];
    if (!(total > 0))
        return (int)tt_rng_below(r, (uint64_t)n);
    double x = tt_rng_unit(r) * total;
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (prefix[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* ---- the heap of the best unmeasured states (min-heap on score) ---- */

typedef struct hitem {
    tt_state *s;
    double score;
    uint64_t key;
} hitem;

static void heap_up(hitem *h, int i)
{
    while (i > 0) {
        int p = (i - 1) / 2;
        if (h[p].score <= h[i].score)
            break;
        hitem t = h[p];
        h[p] = h[i];
        h[i] = t;
        i = p;
    }
}

static void heap_down(hitem *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].score < h[m].score)
            m = l;
        if (r < n && h[r].score < h[m].score)
            m = r;
        if (m == i)
            return;
        hitem t = h[m];
        h[m] = h[i];
        h[i] = t;
        i = m;
    }
}

static int cmp_hitem_desc(const void *a, const void *b)
{
    double x = ((const hitem *)a)->score, y = ((const hitem *)b)->score;
    return x > y ? -1 : x < y ? 1 : 0;
}

/* EvolutionarySearch: the best out_size unmeasured states, best first, in
 * best (caller frees).  pop is consumed. */
static int evolve(tt_policy *sp, tt_cost_model *m, slist *pop, int out_size, int num_iters,
                  slist *best, tt_err *err)
{
    int population = sp->p.evolutionary_search_population > 0 ? sp->p.evolutionary_search_population : 1;
    hitem *heap = tt_xcalloc((size_t)out_size + 1, sizeof *heap);
    int nh = 0, rc = 0;
    keyset in_heap;
    ks_copy(&in_heap, &sp->done);
    double w[TT_MUT_COUNT] = {sp->p.mutate_tile_size, sp->p.mutate_auto_unroll,
                              sp->p.mutate_compute_location, sp->p.mutate_parallel};
    double wsum = 0;
    for (int i = 0; i < TT_MUT_COUNT; i++)
        wsum += w[i] > 0 ? w[i] : 0;
    slist next = {0};
    double *scores = NULL, *prefix = NULL;
    int cap = 0;
    for (int k = 0; k <= num_iters; k++) {
        if (pop->n == 0)
            break;
        if (pop->n > cap) {
            cap = pop->n;
            scores = tt_xrealloc(scores, (size_t)cap * sizeof(double));
            prefix = tt_xrealloc(prefix, (size_t)cap * sizeof(double));
        }
        if (predict(sp, m, pop, scores, err)) {
            rc = -1;
            break;
        }
        /* Ansor prunes states that fail to lower: -inf scores leave */
        for (int i = 0; i < pop->n; i++) {
            if (!(scores[i] > -1e10))
                continue;
            uint64_t key = state_key(pop->s[i]);
            if (ks_has(&in_heap, key))
                continue;
            if (nh < out_size) {
                heap[nh] = (hitem){tt_state_copy(pop->s[i]), scores[i], key};
                heap_up(heap, nh);
                nh++;
                ks_add(&in_heap, key);
            } else if (scores[i] > heap[0].score) {
                ks_del(&in_heap, heap[0].key);
                tt_state_free(heap[0].s);
                heap[0] = (hitem){tt_state_copy(pop->s[i]), scores[i], key};
                heap_down(heap, nh, 0);
                ks_add(&in_heap, key);
            }
        }
        if (k == num_iters)
            break;
        sp->st.evolve_iters++;
        double acc = 0;
        for (int i = 0; i < pop->n; i++) {
            acc += scores[i] > 0 && isfinite(scores[i]) ? scores[i] : 0;
            prefix[i] = acc;
        }
        int attempts = 0;
        while (next.n < population && attempts < population * 20) {
            attempts++;
            int idx = roulette(&sp->rng, prefix, pop->n);
            if (!(scores[idx] > -1e10))
                continue;
            if (wsum > 0 && tt_rng_unit(&sp->rng) < sp->p.evolutionary_search_mutation_prob) {
                tt_state *t = NULL;
                tt_err e = {0};
                int r = tt_state_mutate_random(pop->s[idx], &sp->rng, &sp->p, &t, NULL, &e);
                if (r == 0) {
                    sl_push(&next, t);
                    sp->st.mutations_ok++;
                } else {
                    sp->st.mutations_failed++;
                }
            } else {
                sl_push(&next, tt_state_copy(pop->s[idx]));
            }
        }
        sl_clear(pop);
        slist t = *pop;
        *pop = next;
        next = t;
    }
    qsort(heap, (size_t)nh, sizeof *heap, cmp_hitem_desc);
    for (int i = 0; i < nh; i++)
        sl_push(best, heap[i].s);
    sp->st.heap = nh;
    free(heap);
    free(scores);
    free(prefix);
    sl_free(&next);
    ks_free(&in_heap);
    return rc;
}

static int cmp_meas_desc(const void *a, const void *b)
{
    double x = (*(const measured *const *)a)->thr, y = (*(const measured *const *)b)->thr;
    return x > y ? -1 : x < y ? 1 : 0;
}

/* Local search: up to n unmeasured neighbours of the best measured states
 * (one or two mutations of one of the 4 fastest, the fastest half the time),
 * local_search_mutants of them scored, the best-scored n written to out and
 * marked picked.  Returns their count, or -1 with err set. */
static int local_batch(tt_policy *sp, tt_cost_model *m, int n, tt_state **out, tt_err *err)
{
    if (n <= 0 || sp->nmeas == 0)
        return 0;
    const measured **order = tt_xmalloc((size_t)sp->nmeas * sizeof *order);
    for (int i = 0; i < sp->nmeas; i++)
        order[i] = &sp->meas[i];
    qsort(order, (size_t)sp->nmeas, sizeof *order, cmp_meas_desc);
    int nb = sp->nmeas < 4 ? sp->nmeas : 4, np = 0;
    tt_state *parent[4];
    for (int i = 0; i < nb; i++) {
        if (!(order[i]->thr > 0))
            break;
        tt_state *x = tt_state_new(sp->dag);
        tt_err e = {0};
        if (tt_state_apply_all(x, order[i]->steps, order[i]->nsteps, &e) == 0)
            parent[np++] = x;
        else
            tt_state_free(x);
    }
    free(order);
    slist cand = {0};
    keyset seen;
    ks_copy(&seen, &sp->done);
    int want = sp->p.local_search_mutants > 0 ? sp->p.local_search_mutants : 1;
    for (int a = 0; np > 0 && cand.n < want && a < 8 * want; a++) {
        int pi = tt_rng_unit(&sp->rng) < 0.5 ? 0 : (int)tt_rng_below(&sp->rng, (uint64_t)np);
        tt_state *t = NULL, *u = NULL;
        tt_err e = {0};
        if (tt_state_mutate_random(parent[pi], &sp->rng, &sp->p, &t, NULL, &e))
            continue;
        if (tt_rng_unit(&sp->rng) < 0.5 && tt_state_mutate_random(t, &sp->rng, &sp->p, &u, NULL, &e) == 0) {
            tt_state_free(t);
            t = u;
        }
        if (!ks_add(&seen, state_key(t))) {
            tt_state_free(t);
            continue;
        }
        sl_push(&cand, t);
    }
    for (int i = 0; i < np; i++)
        tt_state_free(parent[i]);
    ks_free(&seen);
    int got = 0, rc = 0;
    if (cand.n > 0) {
        double *score = tt_xmalloc((size_t)cand.n * sizeof *score);
        int *idx = tt_xmalloc((size_t)cand.n * sizeof *idx);
        rc = predict(sp, m, &cand, score, err);
        for (int i = 0; i < cand.n; i++)
            idx[i] = i;
        /* the n best by score (partial selection) */
        for (int i = 0; i < cand.n && got < n && rc == 0; i++) {
            int b = i;
            for (int j = i + 1; j < cand.n; j++)
                if (score[idx[j]] > score[idx[b]])
                    b = j;
            int t = idx[i];
            idx[i] = idx[b];
            idx[b] = t;
            if (!(score[idx[i]] > -1e10))
                break; /* fails to lower */
            if (ks_add(&sp->done, state_key(cand.s[idx[i]])))
                out[got++] = tt_state_copy(cand.s[idx[i]]);
        }
        free(score);
        free(idx);
    }
    sl_free(&cand);
    return rc ? -1 : got;
}

int tt_policy_next_batch(tt_policy *sp, tt_cost_model *m, int num_measure, tt_state **out,
                         tt_err *err)
{
    memset(&sp->st, 0, sizeof sp->st);
    if (num_measure <= 0)
        return 0;
    int population = sp->p.evolutionary_search_population > 0 ? sp->p.evolutionary_search_population : 1;
    int nlocal = local_batch(sp, m, (int)(sp->p.local_search_ratio * num_measure + 0.5), out, err);
    if (nlocal < 0)
        return -1;
    sp->st.local = nlocal;
    out += nlocal;
    num_measure -= nlocal;
    if (num_measure <= 0) {
        sp->st.picked = nlocal;
        return nlocal;
    }
    int num_random = (int)(sp->p.eps_greedy * num_measure);
    int num_good = num_measure - num_random;
    double t0 = tt_now();
    slist pop = {0}, best = {0}, rnd = {0};
    int rc = sample_init(sp, m, &pop, err);
    int nsampled = pop.n;
    /* the best measured states join the population */
    if (rc == 0 && sp->nmeas > 0) {
        int use = (int)(sp->p.sample_init_use_measured_ratio * population);
        if (use > sp->nmeas)
            use = sp->nmeas;
        const measured **order = tt_xmalloc((size_t)sp->nmeas * sizeof *order);
        for (int i = 0; i < sp->nmeas; i++)
            order[i] = &sp->meas[i];
        qsort(order, (size_t)sp->nmeas, sizeof *order, cmp_meas_desc);
        for (int i = 0; i < use; i++) {
            tt_state *x = tt_state_new(sp->dag);
            tt_err e = {0};
            if (tt_state_apply_all(x, order[i]->steps, order[i]->nsteps, &e) == 0)
                sl_push(&pop, x);
            else
                tt_state_free(x);
        }
        free(order);
    }
    sp->st.population = pop.n;
    /* random picks for eps-greedy (with replacement, as Ansor) */
    for (int i = 0; i < 3 * num_random && pop.n > 0; i++)
        sl_push(&rnd, tt_state_copy(pop.s[tt_rng_below(&sp->rng, (uint64_t)pop.n)]));
    (void)nsampled;
    sp->st.sample_s = tt_now() - t0;
    double t1 = tt_now();
    int random_model = !m || tt_cost_model_is_random(m);
    int iters = random_model ? 0 : sp->p.evolutionary_search_num_iters;
    if (rc == 0)
        rc = evolve(sp, m, &pop, 2 * num_measure, iters, &best, err);
    sp->st.evolve_s = tt_now() - t1;
    int n = 0;
    if (rc == 0) {
        int ob = 0, orr = 0;
        while (n < num_measure) {
            tt_state *s = NULL;
            int has_best = ob < best.n, has_rnd = orr < rnd.n;
            if (n < num_good) {
                if (has_best)
                    s = best.s[ob++];
                else if (has_rnd)
                    s = rnd.s[orr++];
                else
                    break;
            } else {
                if (has_rnd)
                    s = rnd.s[orr++];
                else if (has_best)
                    s = best.s[ob++];
                else
                    break;
            }
            uint64_t key = state_key(s);
            if (ks_add(&sp->done, key))
                out[n++] = tt_state_copy(s);
        }
    }
    sp->st.picked = n + nlocal;
    sl_free(&pop);
    sl_free(&best);
    sl_free(&rnd);
    return rc ? -1 : n + nlocal;
}
