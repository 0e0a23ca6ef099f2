/* evaluate.h - from schedules to checked measurements: the whole path
 * state -> C (codegen) -> shared objects (tt_build) -> runner (tt_run_*),
 * batched over many workloads so that compiles run in parallel and never
 * overlap with timing.
 */
#ifndef TT_EVALUATE_H
#define TT_EVALUATE_H

#include "../codegen/codegen.h"
#include "measure.h"

/* One schedule of a workload to measure. */
typedef struct tt_eval_item {
    const tt_state *state;    /* replayed schedule (borrowed) */
    tt_result res;            /* filled by tt_evaluate */
    double build_s;
} tt_eval_item;

/* One workload: its DAG, its reference, and the schedules to measure. */
typedef struct tt_eval_task {
    const tt_dag *dag;        /* borrowed */
    int nitems;
    tt_eval_item *items;      /* borrowed */
    int ref_error;            /* reference failed: every item gets UNKNOWN */
    char ref_msg[512];
    /* Optional reference kept across calls (a tuning loop measures one
     * workload many times): if ref is not NULL and ref->n > 0 it is used and
     * no reference is built or run; if ref->n == 0 the reference computed is
     * moved into it (the caller frees it with tt_ref_free).  The runner's
     * inputs depend only on the seed and the sizes, so a kept reference stays
     * valid while the run options' seed is the same. */
    tt_ref *ref;
    /* > 0: this task's candidates use this cutoff (tt_run_opts.cutoff_s)
     * instead of the run options' */
    double cutoff_s;
    /* Optional anchor (borrowed): a schedule of the same DAG (in practice its
     * default) built with the items and timed alternately with each item in
     * its runner (tt_run_opts.anchor_so); each result then has anchor_costs
     * (none if the anchor fails to build). */
    const tt_state *anchor;
    /* Filled by tt_evaluate: wall time of the (shared) parallel build and of
     * this task's runs. */
    double build_wall_s, run_wall_s;
} tt_eval_task;

/* Kernel argument sizes of a DAG (placeholders, then the output). */
void tt_eval_io(const tt_dag *d, tt_io *io);

/* Build every item (and one reference per task) in one parallel build, then
 * run them one at a time: per task the reference, then each item, checked
 * against it.  A schedule that fails to lower, build, run or check is a
 * result (its res.error), not a failure of this call.  progress (may be
 * NULL) is called after each run with (ctx, task index, item index). */
typedef void (*tt_eval_progress)(void *ctx, int task, int item);
int tt_evaluate(tt_eval_task *tasks, int ntasks, const tt_build_opts *bo, const tt_run_opts *ro,
                tt_eval_progress progress, void *ctx, tt_err *err);

/* Measuring a choice again before believing it (docs/NOTES.md, "Selection on
 * noise"): the fastest of many noisy measurements is biased low, so tune (a
 * would-be best) and transfer (each kernel's chosen candidate) time their pick
 * once more, TT_AGAIN_REPEAT alternated calls beside the task's anchor with no
 * cutoff, and that independent measurement becomes its result.  Each item's
 * result is put on the scale scale_s[t] of its task's anchor (its default's
 * time; <= 0: the anchor's own median).  Returns tt_evaluate's status. */
#define TT_AGAIN_REPEAT 10
int tt_evaluate_again(tt_eval_task *tasks, int ntasks, const double *scale_s,
                      const tt_build_opts *bo, const tt_run_opts *ro, tt_err *err);

/* Whether a second measurement confirms a pick: checked, and faster than bar_s. */
int tt_result_confirms(const tt_result *r, double bar_s);

#endif
