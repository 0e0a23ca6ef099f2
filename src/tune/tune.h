/* tune.h - the search loop: tasks (kernels with a reduction) tuned round by
 * round with Ansor's task scheduler, one shared cost model, checked
 * measurements, and every measured batch committed to the database.
 *
 * A round (Ansor's TaskScheduler::TuneTaskRound and
 * SketchPolicy::ContinueSearchOneRound):
 *   1. the task scheduler picks a task (round-robin warm-up, then gradient);
 *   2. its policy proposes up to per_round new states (policy.h); in the
 *      task's first round of a run its default schedule is measured too, so
 *      that the tuned result is never worse than untuned and the estimate of
 *      the model's latency is known from the start;
 *   3. the batch is built in parallel and run one at a time, every output
 *      checked against the reference (tt_evaluate; the reference is computed
 *      once per task and kept);
 *   4. the batch is written to the database in one transaction (origin
 *      tuned, source model = the model being tuned, target = this CPU, its
 *      ISA and the thread count), failed and wrong runs included with their
 *      error code, as Ansor logs them;
 *   5. the cost model is retrained on every measurement of the run, and the
 *      tuning curve gets a point (search time, trials, estimated latency =
 *      sum of weight * best latency over all kernels, untuned kernels at
 *      their default schedule's time).
 *
 * Resuming: the model's own tuned records on this target (same CPU, ISA and
 * threads) are loaded first: replayed into the policies (never proposed
 * again), fed to the cost model, and their best latencies preload the task
 * scheduler; the curve continues from its last point.  The trial budget is
 * the total for the model on this target, so running the same command again
 * after an interruption finishes the budget.  Records of other models or
 * imported logs are never read (a warm start gets them from the caller).
 *
 * Simple kernels (no reduction: elementwise, injective) are not tasks, as in
 * TVM's task extraction without include_simple_tasks; they run their default
 * schedule.
 */
#ifndef TT_TUNE_H
#define TT_TUNE_H

#include "../cost/cost.h"
#include "../db/db.h"
#include "../measure/evaluate.h"
#include "../search/policy.h"
#include "tasksched.h"

/* What a progress callback sees after every round. */
typedef struct tt_tune_status {
    int round;                  /* rounds of this run */
    int task, ntasks;           /* the task of this round */
    const char *task_name;      /* its description (first node, class) */
    int64_t trials;             /* the model's trials on this target, resumed ones included */
    int64_t trials_run;         /* trials measured by this run */
    int64_t budget;             /* trial budget (total) */
    double elapsed_s;           /* this run's wall time */
    double search_s;            /* search time including resumed runs */
    double est_latency_s;       /* estimated model latency (s) */
    double untuned_latency_s;   /* the same with default schedules */
    int tasks_tuned;            /* tasks searched for at least one round */
    int tasks_dead;
    int batch, batch_ok;        /* states measured this round, correct ones */
    double batch_best_s;        /* best latency of the task after this round */
} tt_tune_status;

typedef struct tt_tune_opts {
    int64_t trials;             /* total trial budget of the model on this target; 0 = 64 per task */
    double time_s;              /* wall-time budget of this run; 0 = none */
    int threads;                /* kernel threads when measuring (and the policies' num_cores);
                                   0 = all cores */
    int per_round;              /* 0 = min(64, trials / tasks), at least 1 */
    int early_stopping;         /* per task: trials without improvement before it is dead; 0 = never */
    /* Warm start ("transfer, then search"): kernel k's first round also
     * measures warm_cand[k][0..warm_n[k]) (k < warm_nkernels; borrowed, those
     * measured already skipped).  The kernels are tt_tune_model's m's (one,
     * for tt_tune_dag); the CLI's --warm-start gives the schedules
     * transfer-tuning would try (tt_transfer_candidates).  NULL: none. */
    int warm_nkernels;
    const int *warm_n;
    tt_state *const *const *warm_cand;
    uint64_t seed;              /* 0 = 1 */
    int no_confirm;             /* take a candidate's first measurement as final even when it
                                   would become its kernel's best (TVM's way); by default such
                                   candidates are measured again first (tune.c, confirm_new_bests) */
    const tt_search_params *search; /* NULL = Ansor's defaults (num_cores set from threads) */
    const tt_cost_opts *cost;   /* NULL = defaults (num_warmup_sample = tasks * per_round) */
    const tt_build_opts *build; /* NULL = defaults */
    const tt_run_opts *run;     /* NULL = the tuning defaults (threads overridden) */
    /* Called after every round (may be NULL); also called once with
     * round = 0 after resuming, before the first round. */
    void (*progress)(void *ctx, const tt_tune_status *st);
    void *ctx;
    /* End-to-end checkpoints (tt_tune_model only): when the trial count first
     * reaches checkpoints[i] (ascending), the model is built with every
     * kernel's best record so far and timed alternately with the untuned model
     * (3 rounds of checkpoint_repeat runs, 0 = 10; the best median of each);
     * the point goes to the curve with meas_latency and meas_untuned.  Their time is
     * not counted as search time, as Ansor's evaluations are not. */
    int ncheckpoints;
    const int64_t *checkpoints;
    int checkpoint_repeat;
    /* Set to nonzero (e.g. from a signal handler) to stop after the batch
     * being measured is committed. */
    volatile int *stop;
} tt_tune_opts;

typedef struct tt_tune_checkpoint {
    int64_t trials;
    double search_s;            /* search time at the checkpoint */
    double latency_s;           /* measured end to end */
    double untuned_s;           /* the untuned model, timed alternately with it */
    double est_latency_s;       /* the estimate at that point */
} tt_tune_checkpoint;

/* Per task, at the end. */
typedef struct tt_tune_task_result {
    char name[160];             /* first node of the kernel, or the workload */
    char class_key[128];
    int weight;
    double flops;
    int64_t trials;             /* records of this task (resumed included) */
    double default_s;           /* default schedule's latency (-1 unknown) */
    double best_s;              /* best searched-or-default latency (-1 none) */
} tt_tune_task_result;

typedef struct tt_tune_result {
    int ntasks;
    tt_tune_task_result *tasks; /* malloc'ed (tt_tune_result_free) */
    int64_t trials;             /* the model's trials on this target after the run */
    int64_t trials_run;         /* measured by this run */
    int64_t resumed;            /* loaded from the database */
    int64_t valid_run;          /* correct measurements of this run */
    double elapsed_s;           /* this run's wall time */
    double search_s;            /* cumulative search time (curve) */
    double est_latency_s, untuned_latency_s;
    /* this run's time split: sampling and evolution, build and run of the
     * batches (tt_evaluate), cost model training, database commits */
    double time_search_s, time_measure_s, time_train_s, time_db_s;
    double time_build_s;        /* the build part of time_measure_s */
    const char *stop_reason;    /* "trials", "time", "exhausted", "interrupted", "budget already met" */
    int ncheckpoints;           /* measured by this run */
    tt_tune_checkpoint *checkpoints;
    int64_t confirmed;          /* would-be bests measured again (this run) */
    int64_t confirm_rejected;   /* ... that the second measurement did not confirm */
    int cache;                  /* the cache state trials were timed in (TT_CACHE_*) */
    char cache_why[200];        /* ... and why (tt_tune_cache_state) */
} tt_tune_result;

void tt_tune_result_free(tt_tune_result *r);

/* Tune model m (registered in db under name with source).  Returns 0 (the
 * result filled), or -1 with err set if the database or the cost model
 * fails; measurement failures are records, not errors. */
int tt_tune_model(tt_db *db, const char *name, const char *source, const tt_model *m,
                  const tt_tune_opts *o, tt_tune_result *r, tt_err *err);

/* Tune one workload as a model of one kernel named name (e.g.
 * "kernel:conv2d 1x56x56x64 k3x3 ..."), weight 1. */
int tt_tune_dag(tt_db *db, const char *name, const tt_dag *d, const tt_tune_opts *o,
                tt_tune_result *r, tt_err *err);

/* The run options the search and transfer measure with: in the warm state
 * 3 repeats of calls back to back for at least 10 ms each, in a flushed one
 * 5 single calls, each started in cache state `cache` (TT_CACHE_*,
 * tt_tune_cache_state) and followed by as many calls of the kernel's default
 * schedule (the anchor) started the same way when the caller sets one, and
 * candidates 3x slower than the task's best judged by one call (warm: calls
 * for up to 10 ms) alone (see tune.c and docs/NOTES.md). */
void tt_tune_default_run_opts(tt_run_opts *ro, int threads, int cache);

/* The cache state a model's kernels are timed in: TT_CACHE_WARM, or what
 * the environment variable TT_CACHE=flush|l3|warm says.  Flushed single
 * calls (TVM's way for x86, the default until 2026-12-07) and the L3 state
 * predicted in-model times worse (docs/NOTES.md, "Which cache state to time
 * in").  why: one line saying which, and the model's footprint
 * (tt_exec_footprint) beside the last-level cache. */
int tt_tune_cache_state(const tt_model *m, char *why, size_t n);

/* A measured state as an Ansor v0.6 record of this machine: its steps, the
 * result's costs and error, build + run time as all_cost, target string and
 * hardware params from t (workload key left empty: the database fills it). */
void tt_tune_fill_record(tt_record *rec, const tt_state *s, const tt_result *res, double build_s,
                         const tt_db_target *t);

#endif
