/* tasksched.h - Ansor's task scheduler: which of a model's kernels to tune
 * next (docs/reference/ansor.md 3.2).
 *
 * The objective is f = sum_i w_i g_i (w_i: the kernel's weight, g_i: its best
 * latency).  After a round-robin warm-up that tunes every task once, the
 * "gradient" strategy picks argmin_i grad_i with
 *   grad_i   = chain_i * (alpha * backward_i + (1 - alpha) * forward_i)
 *   chain_i  = df/dg_i = w_i
 *   backward = (g_i[t] - g_i[t - window]) / window over the task's rounds
 *   forward  = min(g_i - g_i / t_i, beta * flop_i / max_{j similar}(flop_j / g_j)) - g_i
 * where similar tasks share a tag (class key and int(log_1.618(flops + 1))).
 * Ties (e.g. all zero) are broken at random with the scheduler's seed.
 * A task is dead when a round found nothing new to measure, or when it has
 * gone per_task_early_stopping trials without improving.  Pure logic: no
 * measurement happens here, so it is tested from given latencies.
 */
#ifndef TT_TASKSCHED_H
#define TT_TASKSCHED_H

#include <stdint.h>

#include "../util/util.h"

typedef struct tt_tasksched_params {
    double alpha;                 /* 0.2 */
    double beta;                  /* 2 */
    int backward_window;          /* 3 */
    int per_round;                /* trials per round (for early stopping): 64 */
    int per_task_early_stopping;  /* trials without improvement; 0 = never */
    uint64_t seed;
} tt_tasksched_params;

/* Ansor's defaults. */
tt_tasksched_params tt_tasksched_defaults(void);

typedef struct tt_tasksched tt_tasksched;

/* n tasks with their weights, FLOPs and class keys (copied). */
tt_tasksched *tt_tasksched_new(int n, const double *weight, const double *flops,
                               const char *const *class_key, const tt_tasksched_params *p);
void tt_tasksched_free(tt_tasksched *s);

/* Alternative computes (a direct conv and its Winograd twins): tasks with the
 * same group[i] are forms of one kernel, of which the model runs the
 * fastest.  The objective then counts each group once, at its fastest
 * member's latency, and a member's gradient is the change its predicted
 * latency would make to that minimum: min(g_i + d_i, m) - m, where d_i is the
 * ungrouped estimate alpha * backward + (1 - alpha) * forward and m the
 * group's best (for the fastest member this is d_i itself).  A form that
 * cannot beat its group's best gets no priority.  Without a call every task
 * is its own group. */
void tt_tasksched_set_groups(tt_tasksched *s, const int *group);

/* Seed a task's best latency (e.g. from the database when resuming); counts
 * as one round of that task. */
void tt_tasksched_preload(tt_tasksched *s, int task, double best_latency);

/* The next task to tune, or -1 if every task is dead. */
int tt_tasksched_next(tt_tasksched *s);

/* After a round of `task`: its best latency so far (INFINITY if it has no
 * valid schedule yet) and the number of new states measured (0 marks the
 * task dead: nothing is left to try). */
void tt_tasksched_update(tt_tasksched *s, int task, double best_latency, int measured);

/* f = sum w_i g_i over tasks with a valid schedule; *complete = 1 if all have one. */
double tt_tasksched_objective(const tt_tasksched *s, int *complete);

/* The gradient of the last tt_tasksched_next (for reports and tests). */
double tt_tasksched_gradient(const tt_tasksched *s, int task);

int tt_tasksched_rounds(const tt_tasksched *s, int task);
int tt_tasksched_dead(const tt_tasksched *s, int task);

#endif
