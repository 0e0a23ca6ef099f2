/* test_policy.c - a task's search round (src/search/policy.c): determinism,
 * never proposing a measured state, and selection that follows the cost
 * model, all from given (synthetic) throughputs: no timing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../src/record/record.h"
#include "../src/search/policy.h"
#include "test.h"

static tt_dag *dense64(void)
{
    tt_err err = {0};
    tt_dag *d = tt_build_dense(64, 64, 64, NULL, &err);
    if (!d)
        fprintf(stderr, "    %s\n", err.msg);
    return d;
}

static char *steps_of(const tt_state *s) { return tt_steps_write(s->steps, s->nsteps); }

/* A known synthetic throughput of a state: larger innermost tiles of the
 * 4-level (spatial) splits are better: 1 + sum log2(innermost length). */
static double synthetic(const tt_state *s)
{
    double f = 1;
    for (int i = 0; i < s->nsteps; i++) {
        const tt_step *x = &s->steps[i];
        if (x->tag == TT_STEP_SP && x->nlen == 3 && x->len[2] > 0)
            f += log2((double)x->len[2]);
    }
    return f;
}

static tt_policy *new_policy(const tt_dag *d, uint64_t seed, int population)
{
    tt_search_params p;
    tt_search_params_default(&p);
    p.num_cores = 2;
    p.evolutionary_search_population = population;
    tt_err err = {0};
    tt_policy *sp = tt_policy_new(d, &p, seed, &err);
    if (!sp)
        fprintf(stderr, "    %s\n", err.msg);
    return sp;
}

/* Same seed, same proposals; different seed, different ones. */
static void test_deterministic(void)
{
    tt_dag *d = dense64();
    CHECK(d);
    tt_policy *a = new_policy(d, 5, 256), *b = new_policy(d, 5, 256), *c = new_policy(d, 6, 256);
    CHECK(a && b && c);
    CHECK(tt_policy_nsketches(a) >= 2);
    tt_state *sa[16], *sb[16], *sc[16];
    tt_err err = {0};
    int na = tt_policy_next_batch(a, NULL, 16, sa, &err);
    int nb = tt_policy_next_batch(b, NULL, 16, sb, &err);
    int nc = tt_policy_next_batch(c, NULL, 16, sc, &err);
    CHECK_MSG(na == 16 && nb == 16 && nc == 16, "%d %d %d: %s", na, nb, nc, err.msg);
    int same = 1, differ = 0;
    for (int i = 0; i < 16; i++) {
        char *x = steps_of(sa[i]), *y = steps_of(sb[i]), *z = steps_of(sc[i]);
        same &= !strcmp(x, y);
        differ += strcmp(x, z) != 0;
        free(x);
        free(y);
        free(z);
        tt_state_free(sa[i]);
        tt_state_free(sb[i]);
        tt_state_free(sc[i]);
    }
    CHECK(same);
    CHECK(differ > 0);
    tt_policy_free(a);
    tt_policy_free(b);
    tt_policy_free(c);
    tt_dag_free(d);
}

/* Rounds never repeat a state, and states marked measured (as a resumed
 * search marks its database records) are never proposed. */
static void test_never_repeats(void)
{
    tt_dag *d = dense64();
    CHECK(d);
    tt_policy *a = new_policy(d, 9, 256), *b = new_policy(d, 9, 256);
    CHECK(a && b);
    enum { R = 4, N = 24 };
    char *seen[R * N];
    int nseen = 0;
    tt_err err = {0};
    for (int r = 0; r < R; r++) {
        tt_state *s[N];
        int n = tt_policy_next_batch(a, NULL, N, s, &err);
        CHECK_MSG(n == N, "round %d: %d states: %s", r, n, err.msg);
        for (int i = 0; i < n; i++) {
            char *x = steps_of(s[i]);
            for (int j = 0; j < nseen; j++)
                CHECK_MSG(strcmp(x, seen[j]), "round %d proposes a state again", r);
            seen[nseen++] = x;
            tt_policy_add_measured(a, s[i], synthetic(s[i]));
            if (r == 0)
                tt_policy_add_measured(b, s[i], synthetic(s[i])); /* "resumed" into b */
            tt_state_free(s[i]);
        }
    }
    CHECK(tt_policy_nmeasured(a) == R * N);
    tt_state *probe[1];
    CHECK(tt_policy_next_batch(b, NULL, 0, probe, &err) == 0);
    /* b has the same seed as a, so without the preload its first round would
     * be a's; with it, none of those come back */
    tt_state *s[N];
    int n = tt_policy_next_batch(b, NULL, N, s, &err);
    CHECK(n > 0);
    int again = 0;
    for (int i = 0; i < n; i++) {
        char *x = steps_of(s[i]);
        for (int j = 0; j < N; j++)
            again += !strcmp(x, seen[j]);
        free(x);
        tt_state_free(s[i]);
    }
    CHECK_MSG(again == 0, "%d measured states proposed again", again);
    for (int j = 0; j < nseen; j++)
        free(seen[j]);
    tt_policy_free(a);
    tt_policy_free(b);
    tt_dag_free(d);
}

/* With a cost model trained on the synthetic throughput, the evolutionary
 * round proposes states that are better by that measure than the random
 * first round; eps-greedy keeps int(0.05 * 64) = 3 random picks. */
static void test_selection_follows_model(void)
{
    tt_dag *d = dense64();
    CHECK(d);
    tt_policy *sp = new_policy(d, 3, 512);
    CHECK(sp);
    tt_cost_opts co;
    tt_cost_opts_default(&co);
    co.num_warmup_sample = 0;
    co.max_rounds = 200;
    tt_err err = {0};
    tt_cost_model *m = tt_cost_model_new(&co, &err);
    CHECK(m);
    enum { N = 64 };
    tt_state *s[N];
    double thr[N], first = 0, second = 0;
    int n = tt_policy_next_batch(sp, m, N, s, &err);
    CHECK_MSG(n == N, "%d: %s", n, err.msg);
    const tt_policy_stats *st = tt_policy_last_stats(sp);
    CHECK(st->evolve_iters == 0); /* an untrained model: no evolution */
    CHECK(st->local == 0);        /* nothing measured yet: no neighbours */
    for (int i = 0; i < n; i++) {
        thr[i] = synthetic(s[i]);
        first += thr[i] / n;
        tt_policy_add_measured(sp, s[i], thr[i]);
    }
    CHECK_MSG(tt_cost_model_update(m, n, (const tt_state *const *)s, thr, NULL, &err) == 0, "%s",
              err.msg);
    for (int i = 0; i < n; i++)
        tt_state_free(s[i]);
    CHECK(!tt_cost_model_is_random(m));
    n = tt_policy_next_batch(sp, m, N, s, &err);
    CHECK_MSG(n == N, "%d: %s", n, err.msg);
    st = tt_policy_last_stats(sp);
    /* a quarter of the batch: neighbours of the best measured states */
    CHECK_MSG(st->local == N / 4, "%d local", st->local);
    CHECK(st->evolve_iters == 4 && st->mutations_ok > 0 && st->heap == 2 * (N - st->local));
    /* the population holds the best measured states too */
    CHECK(st->population > N);
    double local = 0;
    for (int i = 0; i < n; i++) {
        second += synthetic(s[i]) / n;
        if (i < st->local)
            local += synthetic(s[i]) / st->local;
        tt_state_free(s[i]);
    }
    fprintf(stderr, "    mean synthetic throughput of the neighbours of the best: %.2f\n", local);
    CHECK(local > first * 1.2);
    fprintf(stderr, "    mean synthetic throughput: random round %.2f, evolved round %.2f\n", first,
            second);
    CHECK(second > first * 1.2);
    tt_cost_model_free(m);
    tt_policy_free(sp);
    tt_dag_free(d);
}

const tt_test tests_policy[] = {
    {"deterministic", test_deterministic},
    {"never_repeats", test_never_repeats},
    {"selection_follows_model", test_selection_follows_model},
    {NULL, NULL},
};
