/* tasksched.c - the gradient task scheduler (see tasksched.h). */
#include "tasksched.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct task {
    double w, flops;
    char tag[160];
    int nhist, caphist;
    double *hist;      /* best latency after each of its rounds */
    int dead;
    int since_best;    /* rounds since the best improved */
    int group;         /* alternative computes share one (tt_tasksched_set_groups) */
    double grad;
} task;

struct tt_tasksched {
    int n;
    task *t;
    tt_tasksched_params p;
    tt_rng rng;
    int warm;          /* next task of the round-robin warm-up */
};

tt_tasksched_params tt_tasksched_defaults(void)
{
    tt_tasksched_params p = {0.2, 2.0, 3, 64, 0, 0};
    return p;
}

tt_tasksched *tt_tasksched_new(int n, const double *weight, const double *flops,
                               const char *const *class_key, const tt_tasksched_params *p)
{
    tt_tasksched *s = tt_xcalloc(1, sizeof *s);
    s->n = n;
    s->t = tt_xcalloc((size_t)(n > 0 ? n : 1), sizeof *s->t);
    s->p = p ? *p : tt_tasksched_defaults();
    if (s->p.backward_window < 1)
        s->p.backward_window = 1;
    tt_rng_seed(&s->rng, s->p.seed);
    for (int i = 0; i < n; i++) {
        s->t[i].w = weight ? weight[i] : 1;
        s->t[i].flops = flops ? flops[i] : 0;
        s->t[i].group = i;
        /* Ansor's similarity tag: the op tags and the order of magnitude of
         * the FLOPs in base 1.618 */
        snprintf(s->t[i].tag, sizeof s->t[i].tag, "%s_%d", class_key ? class_key[i] : "",
                 (int)(log(s->t[i].flops + 1) / log(1.618)));
    }
    return s;
}

void tt_tasksched_free(tt_tasksched *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        free(s->t[i].hist);
    free(s->t);
    free(s);
}

void tt_tasksched_set_groups(tt_tasksched *s, const int *group)
{
    for (int i = 0; i < s->n; i++)
        s->t[i].group = group ? group[i] : i;
}

static void push(task *t, double g)
{
    if (t->nhist == t->caphist) {
        t->caphist = t->caphist ? 2 * t->caphist : 8;
        t->hist = tt_xrealloc(t->hist, (size_t)t->caphist * sizeof *t->hist);
    }
    double prev = t->nhist ? t->hist[t->nhist - 1] : INFINITY;
    t->since_best = g < prev ? 0 : t->since_best + 1;
    t->hist[t->nhist++] = g;
}

void tt_tasksched_preload(tt_tasksched *s, int task, double best_latency)
{
    if (task >= 0 && task < s->n)
        push(&s->t[task], best_latency);
}

static double best_of(const task *t) { return t->nhist ? t->hist[t->nhist - 1] : INFINITY; }

/* The best latency among task i's group (its alternative computes). */
static double group_best(const tt_tasksched *s, int i)
{
    double m = INFINITY;
    for (int j = 0; j < s->n; j++)
        if (s->t[j].group == s->t[i].group)
            m = fmin(m, best_of(&s->t[j]));
    return m;
}

/* grad_i as Ansor computes it; a task without a valid schedule yet is the
 * most urgent (-inf). */
static double gradient(const tt_tasksched *s, int i)
{
    const task *t = &s->t[i];
    double g = best_of(t);
    if (!isfinite(g))
        return -INFINITY;
    int r = t->nhist, W = s->p.backward_window;
    double backward = r > W ? (t->hist[r - 1] - t->hist[r - 1 - W]) / W : 0.0;
    /* forward: the task's own extrapolation, or reaching beta x the best
     * throughput of a similar task */
    double best_thr = 0;
    for (int j = 0; j < s->n; j++) {
        double gj = best_of(&s->t[j]);
        if (!strcmp(s->t[j].tag, t->tag) && isfinite(gj) && gj > 0)
            best_thr = fmax(best_thr, s->t[j].flops / gj);
    }
    double own = g - g / r;
    double sim = best_thr > 0 ? s->p.beta * t->flops / best_thr : own;
    double forward = fmin(own, sim) - g;
    double d = s->p.alpha * backward + (1 - s->p.alpha) * forward;
    /* the group runs its fastest form: only what goes below it counts */
    double m = group_best(s, i);
    return t->w * (fmin(g + d, m) - m);
}

int tt_tasksched_next(tt_tasksched *s)
{
    /* warm-up: every task once, in order */
    while (s->warm < s->n) {
        int i = s->warm++;
        if (!s->t[i].dead && s->t[i].nhist == 0)
            return i;
    }
    int best = -1, ties = 0;
    double bg = INFINITY;
    for (int i = 0; i < s->n; i++) {
        task *t = &s->t[i];
        if (t->dead)
            continue;
        t->grad = gradient(s, i);
        if (best < 0 || t->grad < bg) {
            best = i, bg = t->grad, ties = 1;
        } else if (t->grad == bg) {
            /* reservoir choice among equal gradients */
            ties++;
            if (tt_rng_below(&s->rng, (uint64_t)ties) == 0)
                best = i;
        }
    }
    return best;
}

void tt_tasksched_update(tt_tasksched *s, int task, double best_latency, int measured)
{
    if (task < 0 || task >= s->n)
        return;
    struct task *t = &s->t[task];
    push(t, best_latency);
    if (measured <= 0)
        t->dead = 1;
    if (s->p.per_task_early_stopping > 0 &&
        t->since_best * s->p.per_round > s->p.per_task_early_stopping)
        t->dead = 1;
}

double tt_tasksched_objective(const tt_tasksched *s, int *complete)
{
    double f = 0;
    int all = 1;
    for (int i = 0; i < s->n; i++) {
        int first = 1; /* each group once, at its fastest form */
        for (int j = 0; j < i && first; j++)
            first = s->t[j].group != s->t[i].group;
        if (!first)
            continue;
        double g = group_best(s, i);
        if (isfinite(g))
            f += s->t[i].w * g;
        else
            all = 0;
    }
    if (complete)
        *complete = all;
    return f;
}

double tt_tasksched_gradient(const tt_tasksched *s, int task)
{
    return task >= 0 && task < s->n ? s->t[task].grad : 0;
}

int tt_tasksched_rounds(const tt_tasksched *s, int task)
{
    return task >= 0 && task < s->n ? s->t[task].nhist : 0;
}

int tt_tasksched_dead(const tt_tasksched *s, int task)
{
    return task >= 0 && task < s->n ? s->t[task].dead : 1;
}
