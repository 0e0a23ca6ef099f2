/* test_tune.c - the task scheduler, from given latencies (no measurement). */
#include <math.h>
#include <stdlib.h>

#include "../src/tune/tasksched.h"
#include "test.h"

static int near(double a, double b) { return fabs(a - b) <= 1e-9 * (fabs(a) + fabs(b) + 1); }

static void test_warmup_then_gradient(void)
{
    double w[3] = {1, 5, 1}, fl[3] = {1e9, 1e9, 2e9};
    const char *ck[3] = {"conv2d_nhwc+add+relu", "conv2d_nhwc+add+relu", "dense"};
    tt_tasksched *s = tt_tasksched_new(3, w, fl, ck, NULL);
    /* round-robin warm-up: every task once, in order */
    for (int i = 0; i < 3; i++) {
        CHECK(tt_tasksched_next(s) == i);
        tt_tasksched_update(s, i, 0.010, 64);
    }
    /* After one round each: backward 0 (too few rounds), own forward
     * g - g/1 = 0 beats the similarity bound, so forward = -g and
     * grad = w * 0.8 * (-g): the heaviest task goes first. */
    int next = tt_tasksched_next(s);
    CHECK(next == 1);
    CHECK(near(tt_tasksched_gradient(s, 0), -0.8 * 0.010));
    CHECK(near(tt_tasksched_gradient(s, 1), -5 * 0.8 * 0.010));
    CHECK(near(tt_tasksched_gradient(s, 2), -0.8 * 0.010));
    int complete;
    CHECK(near(tt_tasksched_objective(s, &complete), 7 * 0.010) && complete);
    tt_tasksched_free(s);
}

static void test_backward_and_forward(void)
{
    double w[2] = {1, 1}, fl[2] = {1e9, 1e9};
    const char *ck[2] = {"a", "b"}; /* different tags: no similarity bound */
    tt_tasksched *s = tt_tasksched_new(2, w, fl, ck, NULL);
    double ha[4] = {10, 8, 6, 4}, hb[4] = {10, 10, 10, 10};
    for (int r = 0; r < 4; r++) {
        tt_tasksched_preload(s, 0, ha[r]);
        tt_tasksched_preload(s, 1, hb[r]);
    }
    /* A: backward (4-10)/3 = -2, forward min(4 - 4/4, 2*4) - 4 = -1:
     *    grad = 0.2*-2 + 0.8*-1 = -1.2
     * B: backward 0, forward min(10 - 2.5, 20) - 10 = -2.5: grad = -2.0 */
    int next = tt_tasksched_next(s);
    CHECK(near(tt_tasksched_gradient(s, 0), -1.2));
    CHECK(near(tt_tasksched_gradient(s, 1), -2.0));
    CHECK(next == 1);
    tt_tasksched_free(s);
}

static void test_similar_tasks_bound(void)
{
    /* Same tag: the slow task is bounded by beta x the fast one's throughput. */
    double w[2] = {1, 1}, fl[2] = {1e9, 1e9};
    const char *ck[2] = {"conv", "conv"};
    tt_tasksched *s = tt_tasksched_new(2, w, fl, ck, NULL);
    for (int r = 0; r < 2; r++) {
        tt_tasksched_preload(s, 0, 1.0);  /* fast: 1e9 FLOP/s */
        tt_tasksched_preload(s, 1, 10.0); /* slow */
    }
    tt_tasksched_next(s);
    /* slow: own = 10 - 10/2 = 5; similar = 2 * 1e9 / 1e9 = 2 -> forward = 2 - 10 = -8 */
    CHECK(near(tt_tasksched_gradient(s, 1), 0.8 * -8.0));
    /* fast: own 0.5, similar 2 -> forward -0.5 */
    CHECK(near(tt_tasksched_gradient(s, 0), 0.8 * -0.5));
    tt_tasksched_free(s);
}

static void test_dead_tasks_and_no_schedule(void)
{
    tt_tasksched_params p = tt_tasksched_defaults();
    p.per_task_early_stopping = 128; /* 2 rounds of 64 */
    tt_tasksched *s = tt_tasksched_new(3, NULL, NULL, NULL, &p);
    for (int i = 0; i < 3; i++)
        CHECK(tt_tasksched_next(s) == i);
    tt_tasksched_update(s, 0, 1.0, 64);
    tt_tasksched_update(s, 1, INFINITY, 64); /* no valid schedule yet: most urgent */
    tt_tasksched_update(s, 2, 1.0, 0);       /* nothing left to measure: dead */
    CHECK(tt_tasksched_dead(s, 2));
    int complete;
    tt_tasksched_objective(s, &complete);
    CHECK(!complete);
    CHECK(tt_tasksched_next(s) == 1);
    tt_tasksched_update(s, 1, 2.0, 64);
    /* task 0 stops improving: dead after more than 128 trials without gain */
    for (int r = 0; r < 3; r++)
        tt_tasksched_update(s, 0, 1.0, 64);
    CHECK(tt_tasksched_dead(s, 0));
    CHECK(tt_tasksched_next(s) == 1);
    tt_tasksched_update(s, 1, 2.0, 0);
    CHECK(tt_tasksched_next(s) == -1);
    tt_tasksched_free(s);
}

const tt_test tests_tune[] = {
    {"tasksched_warmup_then_gradient", test_warmup_then_gradient},
    {"tasksched_backward_and_forward", test_backward_and_forward},
    {"tasksched_similar_tasks_bound", test_similar_tasks_bound},
    {"tasksched_dead_tasks", test_dead_tasks_and_no_schedule},
    {NULL, NULL},
};
