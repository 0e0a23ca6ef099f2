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

/* Every kernel of one tt_evaluate call, built together: the build items,
 * their sources, and for each the task and the item it belongs to (item -1
 * is the task's reference, -2 its anchor). */
typedef struct eval_batch {
    tt_build_item *bi;
    char **src;
    int *task_of, *item_of;
    int nb;
} eval_batch;

static void eval_batch_alloc(eval_batch *b, const tt_eval_task *tasks, int ntasks)
{
    int total = 0;
    for (int t = 0; t < ntasks; t++)
        total += tasks[t].nitems + 2;
    b->bi = tt_xcalloc((size_t)total, sizeof *b->bi);
    b->src = tt_xcalloc((size_t)total, sizeof(char *));
    b->task_of = tt_xcalloc((size_t)total, sizeof(int));
    b->item_of = tt_xcalloc((size_t)total, sizeof(int));
    b->nb = 0;
}

static void eval_batch_free(eval_batch *b)
{
    for (int k = 0; k < b->nb; k++)
        free(b->src[k]);
    free(b->src);
    free(b->bi);
    free(b->task_of);
    free(b->item_of);
}

/* Generate the C of item i of task t (-1: its reference, -2: its anchor)
 * into the batch.  A failure is the item's result, the task's reference
 * error, or for the anchor nothing (the items are then timed alone). */
static void eval_generate_one(tt_eval_task *tasks, int t, int i, eval_batch *b)
{
    tt_str o;
    tt_str_init(&o);
    tt_err e = {0};
    char fn[64];
    snprintf(fn, sizeof fn, "tt_t%d_%s%d", t, i == -1 ? "ref" : i == -2 ? "anchor" : "c",
             i < 0 ? 0 : i);
    int rc = i == -1   ? tt_codegen_reference(tasks[t].dag, fn, &o, &e)
             : i == -2 ? tt_codegen_candidate(tasks[t].anchor, fn, &o, &e)
                       : tt_codegen_candidate(tasks[t].items[i].state, fn, &o, &e);
    if (rc) {
        tt_str_free(&o);
        if (i == -2) {
            return; /* no anchor: the items are timed alone */
        } else if (i < 0) {
            tasks[t].ref_error = 1;
            snprintf(tasks[t].ref_msg, sizeof tasks[t].ref_msg, "reference: %s", e.msg);
        } else {
            fail_result(&tasks[t].items[i].res, TT_ERR_INSTANTIATION, e.msg);
        }
        return;
    }
    int k = b->nb++;
    b->src[k] = tt_str_take(&o);
    b->bi[k].source = b->src[k];
    snprintf(b->bi[k].fn, sizeof b->bi[k].fn, "%s", fn);
    b->task_of[k] = t;
    b->item_of[k] = i;
    if (i >= 0)
        tasks[t].items[i].res.error = -1; /* pending */
}

/* Code generation of every task: its anchor, its reference unless the
 * caller keeps one, and its items. */
static void eval_generate(tt_eval_task *tasks, int ntasks, eval_batch *b)
{
    for (int t = 0; t < ntasks; t++) {
        tasks[t].ref_error = 0;
        int kept = tasks[t].ref && tasks[t].ref->n > 0;
        for (int i = tasks[t].anchor ? -2 : -1; i < tasks[t].nitems; i++)
            if (!(i == -1 && kept))
                eval_generate_one(tasks, t, i, b);
    }
}

/* Task t's reference into *ref: the caller's kept one, else its built
 * reference run.  Returns whether there is one; if not, T->ref_msg says why. */
static int eval_reference(tt_eval_task *T, int t, const eval_batch *b, const tt_run_opts *ro,
                          const tt_io *io, tt_ref *ref)
{
    if (T->ref && T->ref->n > 0) {
        *ref = *T->ref;
        return 1;
    }
    for (int k = 0; k < b->nb; k++) {
        if (b->task_of[k] != t || b->item_of[k] != -1)
            continue;
        if (b->bi[k].error) {
            T->ref_error = 1;
            snprintf(T->ref_msg, sizeof T->ref_msg, "reference failed to build: %s",
                     b->bi[k].msg);
            return 0;
        }
        tt_err e = {0};
        if (tt_run_reference(ro, b->bi[k].so_path, b->bi[k].fn, io, ref, &e)) {
            T->ref_error = 1;
            snprintf(T->ref_msg, sizeof T->ref_msg, "reference failed to run: %s", e.msg);
            continue;
        }
        return 1;
    }
    return 0;
}

/* The batch index of task t's anchor if it built, else -1. */
static int eval_anchor(const eval_batch *b, int t)
{
    int ka = -1;
    for (int k = 0; k < b->nb; k++)
        if (b->task_of[k] == t && b->item_of[k] == -2 && !b->bi[k].error)
            ka = k;
    return ka;
}

/* Run and check the candidate at batch index k of task T (anchor at ka, or
 * -1) into its item's result. */
static void eval_run_item(tt_eval_task *T, const eval_batch *b, int k, int ka, int have_ref,
                          const tt_ref *ref, const tt_run_opts *ro, const tt_io *io, double tol)
{
    tt_eval_item *it = &T->items[b->item_of[k]];
    it->build_s = b->bi[k].build_s;
    if (b->bi[k].error) {
        fail_result(&it->res, b->bi[k].error, b->bi[k].msg);
    } else if (!have_ref) {
        fail_result(&it->res, TT_ERR_UNKNOWN, T->ref_msg);
    } else {
        tt_err e = {0};
        tt_run_opts rot = *ro;
        if (T->cutoff_s > 0)
            rot.cutoff_s = T->cutoff_s;
        if (ka >= 0) {
            rot.anchor_so = b->bi[ka].so_path;
            rot.anchor_fn = b->bi[ka].fn;
        }
        if (tt_run_candidate(&rot, b->bi[k].so_path, b->bi[k].fn, io, ref, tol, &it->res, &e))
            fail_result(&it->res, TT_ERR_UNKNOWN, e.msg);
    }
}

/* Task t's runs: its reference, then each built item checked against it;
 * a reference computed here is moved into T->ref if the caller keeps one. */
static void eval_run_task(tt_eval_task *tasks, int t, const eval_batch *b, const tt_run_opts *ro,
                          double build_wall_s, tt_eval_progress progress, void *ctx)
{
    tt_eval_task *T = &tasks[t];
    double tr = tt_now();
    T->build_wall_s = build_wall_s;
    tt_io io;
    tt_eval_io(T->dag, &io);
    tt_ref ref = {0};
    int have_ref = eval_reference(T, t, b, ro, &io, &ref);
    double tol = tt_codegen_tolerance(T->dag);
    int ka = eval_anchor(b, t);
    for (int k = 0; k < b->nb; k++) {
        if (b->task_of[k] != t || b->item_of[k] < 0)
            continue;
        eval_run_item(T, b, k, ka, have_ref, &ref, ro, &io, tol);
        if (progress)
            progress(ctx, t, b->item_of[k]);
    }
    if (T->ref && T->ref->n > 0)
        ; /* the caller's: kept */
    else if (T->ref && have_ref)
        *T->ref = ref;
    else
        tt_ref_free(&ref);
    T->run_wall_s = tt_now() - tr;
}

int tt_evaluate(tt_eval_task *tasks, int ntasks, const tt_build_opts *bo, const tt_run_opts *ro,
                tt_eval_progress progress, void *ctx, tt_err *err)
{
    /* the build's files live in a private directory removed at the end (a
     * search makes thousands of them; the runners are done with them when
     * this returns), unless the caller chose a work dir: then they are kept */
    tt_build_opts b = bo ? *bo : (tt_build_opts){0};
    char own[PATH_MAX] = "";
    if (!b.workdir) {
        if (tt_temp_dir("tt-eval", own, sizeof own, err))
            return -1;
        b.workdir = own;
    }
    eval_batch batch;
    eval_batch_alloc(&batch, tasks, ntasks);
    eval_generate(tasks, ntasks, &batch);
    int rc = 0;
    double tb = tt_now();
    if (batch.nb > 0 && tt_build(&b, tt_codegen_prelude(), batch.bi, batch.nb, err))
        rc = -1;
    tb = tt_now() - tb;
    /* runs: never overlapping with builds (the build above has finished) */
    for (int t = 0; t < ntasks && rc == 0; t++)
        eval_run_task(tasks, t, &batch, ro, tb, progress, ctx);
    eval_batch_free(&batch);
    if (own[0])
        tt_remove_tree(own);
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
