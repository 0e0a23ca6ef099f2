/* evaluate.c - see evaluate.h. */
#include "evaluate.h"
#include "measure_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tt_eval_io(const tt_dag *d, tt_io *io)
{
    memset(io, 0, sizeof *io);
    for (int i = 0; i < d->nops; i++)
        if (d->ops[i]->kind == TT_OP_PLACEHOLDER && io->nin < TT_MAX_ARGS - 1)
            io->numel[io->nin++] = tt_op_numel(d->ops[i]);
    io->numel[io->nin] = tt_op_numel(d->ops[d->nops - 1]);
}

/* r failed with `code` and `msg`; the rest of r cleared. */
static void fail_result(tt_result *r, int code, const char *msg)
{
    memset(r, 0, sizeof *r);
    measure_result_fail(r, code);
    snprintf(r->msg, sizeof r->msg, "%s", msg);
}

static tt_jobs_backend g_backend;
static void *g_backend_ctx;

void tt_evaluate_set_backend(tt_jobs_backend fn, void *ctx)
{
    g_backend = fn;
    g_backend_ctx = ctx;
}

/* The C of task t's reference (i -1), anchor (-2) or item i into *src and
 * fn; a failure is the item's result, the task's reference error, or for the
 * anchor nothing (the items are then timed alone).  0 if there is C. */
static int gen_one(tt_eval_task *tasks, int t, int i, char **src, char *fn, size_t fncap)
{
    tt_str o;
    tt_str_init(&o);
    tt_err e = {0};
    snprintf(fn, fncap, "tt_t%d_%s%d", t, i == -1 ? "ref" : i == -2 ? "anchor" : "c", i < 0 ? 0 : i);
    int rc = i == -1   ? tt_codegen_reference(tasks[t].dag, fn, &o, &e)
             : i == -2 ? tt_codegen_candidate(tasks[t].anchor, fn, &o, &e)
                       : tt_codegen_candidate(tasks[t].items[i].state, fn, &o, &e);
    if (rc == 0) {
        *src = tt_str_take(&o);
        return 0;
    }
    tt_str_free(&o);
    if (i == -1) {
        tasks[t].ref_error = 1;
        snprintf(tasks[t].ref_msg, sizeof tasks[t].ref_msg, "reference: %s", e.msg);
    } else if (i >= 0) {
        fail_result(&tasks[t].items[i].res, TT_ERR_INSTANTIATION, e.msg);
    }
    return -1;
}

/* Task t as a job: its C (the anchor's, the reference's unless the caller
 * keeps one, the items'), its sizes, tolerance and cutoff. */
static void make_job(tt_eval_task *tasks, int t, tt_job *J)
{
    tt_eval_task *T = &tasks[t];
    memset(J, 0, sizeof *J);
    T->ref_error = 0;
    J->task = t;
    tt_eval_io(T->dag, &J->io);
    J->tol = tt_codegen_tolerance(T->dag);
    J->cutoff_s = T->cutoff_s;
    if (T->ref && T->ref->n > 0)
        J->ref = *T->ref; /* borrowed: given back in take_results */
    else if (gen_one(tasks, t, -1, &J->ref_src, J->ref_fn, sizeof J->ref_fn)) {
        J->ref_error = 1;
        snprintf(J->ref_msg, sizeof J->ref_msg, "%s", T->ref_msg);
    }
    if (T->anchor && gen_one(tasks, t, -2, &J->anchor_src, J->anchor_fn, sizeof J->anchor_fn))
        J->anchor_src = NULL;
    J->items = tt_xcalloc((size_t)T->nitems + 1, sizeof *J->items);
    for (int i = 0; i < T->nitems; i++) {
        tt_job_item *it = &J->items[J->nitems];
        if (gen_one(tasks, t, i, &it->src, it->fn, sizeof it->fn))
            continue;
        it->item = i;
        T->items[i].res.error = -1; /* pending */
        J->nitems++;
    }
}

/* A job's results back into its task; a reference computed for a task whose
 * caller keeps one moves into it. */
static void take_results(tt_eval_task *tasks, tt_job *J)
{
    tt_eval_task *T = &tasks[J->task];
    for (int i = 0; i < J->nitems; i++) {
        tt_eval_item *it = &T->items[J->items[i].item];
        it->res = J->items[i].res;
        it->build_s = J->items[i].build_s;
    }
    T->ref_error = J->ref_error;
    memcpy(T->ref_msg, J->ref_msg, sizeof T->ref_msg);
    T->build_wall_s = J->build_wall_s;
    T->run_wall_s = J->run_wall_s;
    if (T->ref && T->ref->n > 0)
        memset(&J->ref, 0, sizeof J->ref); /* the caller's, lent */
    else if (T->ref && J->ref.n > 0 && !J->ref_error) {
        *T->ref = J->ref;
        memset(&J->ref, 0, sizeof J->ref);
    }
}

int tt_evaluate(tt_eval_task *tasks, int ntasks, const tt_build_opts *bo, const tt_run_opts *ro,
                tt_eval_progress progress, void *ctx, tt_err *err)
{
    tt_job *jobs = tt_xcalloc((size_t)ntasks + 1, sizeof *jobs);
    for (int t = 0; t < ntasks; t++)
        make_job(tasks, t, &jobs[t]);
    int rc = g_backend ? g_backend(g_backend_ctx, jobs, ntasks, bo, ro, progress, ctx, err)
                       : tt_jobs_run(jobs, ntasks, bo, ro, progress, ctx, err);
    for (int t = 0; t < ntasks; t++) {
        if (rc == 0)
            take_results(tasks, &jobs[t]);
        else if (tasks[t].ref && tasks[t].ref->n > 0)
            memset(&jobs[t].ref, 0, sizeof jobs[t].ref);
        tt_job_free(&jobs[t]);
    }
    free(jobs);
    return rc;
}

int tt_evaluate_again(tt_eval_task *tasks, int ntasks, const double *scale_s,
                      const tt_build_opts *bo, const tt_run_opts *ro, tt_err *err)
{
    tt_run_opts again = *ro;
    again.repeat = TT_AGAIN_REPEAT;
    again.cutoff_s = 0;
    for (int t = 0; t < ntasks; t++)
        tasks[t].cutoff_s = 0;
    if (tt_evaluate(tasks, ntasks, bo, &again, NULL, NULL, err))
        return -1;
    for (int t = 0; t < ntasks; t++)
        for (int i = 0; i < tasks[t].nitems; i++) {
            tt_result *r = &tasks[t].items[i].res;
            tt_result_anchor_scale(r, scale_s[t] > 0 ? scale_s[t] : tt_result_anchor_median(r));
        }
    return 0;
}

int tt_result_confirms(const tt_result *r, double bar_s)
{
    return r->error == 0 && r->correct && r->mean > 0 && r->mean < bar_s;
}
