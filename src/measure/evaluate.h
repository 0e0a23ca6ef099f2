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

/* ---- measurement jobs ----------------------------------------------------------
 * tt_evaluate in two halves: code generation here, then jobs: C sources with
 * everything needed to build, run and check them and nothing else (no DAG,
 * no schedule), so that another process or machine can take them
 * (transtune-mpi's workers; job.c packs them into bytes and back). */

typedef struct tt_job_item {
    int item;                  /* its index in the task's items */
    char fn[64];
    char *src;                 /* the candidate's C (owned) */
    tt_result res;             /* out */
    double build_s;            /* out */
    char so[512];              /* built: its shared object ("" until built, or on a build error) */
} tt_job_item;

typedef struct tt_job {
    int task;                  /* the caller's task index */
    tt_io io;
    double tol;                /* tt_codegen_tolerance of the DAG */
    double cutoff_s;           /* > 0: the task's cutoff */
    char ref_fn[64];
    char *ref_src;             /* the reference's C (owned), NULL when ref holds a kept one */
    tt_ref ref;                /* in: a kept reference (n > 0); out: the one computed here */
    char anchor_fn[64];
    char *anchor_src;          /* NULL: no anchor */
    int nitems;
    tt_job_item *items;        /* owned */
    /* out */
    int ref_error;
    char ref_msg[512];
    double build_wall_s, run_wall_s;
    char ref_so[512], anchor_so[512]; /* built ("": none) */
} tt_job;

void tt_job_free(tt_job *j);
/* Build every job's sources in one parallel build, then run them one job at
 * a time (its reference, then its items checked against it), as
 * tt_evaluate always has.  progress as tt_evaluate's (task and item of the
 * jobs). */
int tt_jobs_run(tt_job *jobs, int n, const tt_build_opts *bo, const tt_run_opts *ro, tt_eval_progress progress,
                void *ctx, tt_err *err);
/* tt_jobs_run's halves: every source built into workdir (bo->workdir, which
 * must be set), the shared objects' paths (or build errors) into the jobs;
 * then every job measured from them, with the runner on this machine.  The
 * remote runner builds on the host and measures on the device. */
int tt_jobs_build(tt_job *jobs, int n, const tt_build_opts *bo, tt_err *err);
/* The build options to build jobs with: bo's (NULL: defaults), and when bo
 * names no work dir, a fresh private one (its path into own, own[0] = 0
 * otherwise) that the caller removes with tt_remove_tree once the runs are
 * done: a search makes thousands of files, and keeps them only where asked. */
int tt_jobs_workdir(const tt_build_opts *bo, tt_build_opts *out, char *own, size_t cap, tt_err *err);
void tt_jobs_measure(tt_job *jobs, int n, const tt_run_opts *ro, tt_eval_progress progress, void *ctx);
/* Jobs (with their run options) into bytes, and back: results = 0 packs what
 * a worker needs, results = 1 what it sends back (each item's result, the
 * computed reference, the job's errors and times), results = 2 the jobs
 * without sources (built elsewhere: the remote runner sends shared objects
 * beside them).  Unpacking checks every
 * length against the buffer (the bytes may come over a network): -1 with err
 * on anything malformed, nothing allocated left behind. */
void tt_jobs_pack(const tt_job *jobs, int n, const tt_run_opts *ro, int results, tt_str *out);
int tt_jobs_unpack(const void *buf, size_t len, tt_job **jobs, int *n, tt_run_opts *ro, tt_err *err);
/* Copy the results of packed jobs (results = 1) into jobs, matched by task
 * and item.  -1 with err when the bytes do not parse or do not match. */
int tt_jobs_unpack_results(const void *buf, size_t len, tt_job *jobs, int n, tt_err *err);

/* Where tt_evaluate sends its jobs: the local build and runner (NULL, the
 * default), or a backend that runs them elsewhere (transtune-mpi's rank 0
 * sends them to its workers), filling the same results. */
typedef int (*tt_jobs_backend)(void *ctx, tt_job *jobs, int n, const tt_build_opts *bo, const tt_run_opts *ro,
                               tt_eval_progress progress, void *pctx, tt_err *err);
void tt_evaluate_set_backend(tt_jobs_backend fn, void *ctx);

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
