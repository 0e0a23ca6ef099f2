/* evaluate.c - see evaluate.h. */
#include "evaluate.h"

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

static void fail_result(tt_result *r, int code, const char *msg)
{
    memset(r, 0, sizeof *r);
    r->error = code;
    r->ncosts = 1;
    r->costs[0] = 1e10;
    r->mean = 1e10;
    snprintf(r->msg, sizeof r->msg, "%s", msg);
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
    bo = &b;
    int total = 0;
    for (int t = 0; t < ntasks; t++)
        total += tasks[t].nitems + 2;
    tt_build_item *bi = tt_xcalloc((size_t)total, sizeof *bi);
    char **src = tt_xcalloc((size_t)total, sizeof(char *));
    int *task_of = tt_xcalloc((size_t)total, sizeof(int));
    int *item_of = tt_xcalloc((size_t)total, sizeof(int));
    int nb = 0;
    /* code generation; item -1 is the reference, -2 the anchor */
    for (int t = 0; t < ntasks; t++) {
        tasks[t].ref_error = 0;
        int kept = tasks[t].ref && tasks[t].ref->n > 0;
        for (int i = tasks[t].anchor ? -2 : -1; i < tasks[t].nitems; i++) {
            if (i == -1 && kept)
                continue;
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
                    continue; /* no anchor: the items are timed alone */
                } else if (i < 0) {
                    tasks[t].ref_error = 1;
                    snprintf(tasks[t].ref_msg, sizeof tasks[t].ref_msg, "reference: %s", e.msg);
                } else {
                    fail_result(&tasks[t].items[i].res, TT_ERR_INSTANTIATION, e.msg);
                }
                continue;
            }
            src[nb] = tt_str_take(&o);
            bi[nb].source = src[nb];
            snprintf(bi[nb].fn, sizeof bi[nb].fn, "%s", fn);
            task_of[nb] = t;
            item_of[nb] = i;
            if (i >= 0)
                tasks[t].items[i].res.error = -1; /* pending */
            nb++;
        }
    }
    int rc = 0;
    double tb = tt_now();
    if (nb > 0 && tt_build(bo, tt_codegen_prelude(), bi, nb, err))
        rc = -1;
    tb = tt_now() - tb;
    /* runs: never overlapping with builds (the build above has finished) */
    for (int t = 0; t < ntasks && rc == 0; t++) {
        tt_eval_task *T = &tasks[t];
        double tr = tt_now();
        T->build_wall_s = tb;
        tt_io io;
        tt_eval_io(T->dag, &io);
        tt_ref ref = {0};
        int have_ref = 0;
        if (T->ref && T->ref->n > 0) {
            ref = *T->ref;
            have_ref = 1;
        }
        for (int k = 0; k < nb && !have_ref; k++) {
            if (task_of[k] != t || item_of[k] != -1)
                continue;
            if (bi[k].error) {
                T->ref_error = 1;
                snprintf(T->ref_msg, sizeof T->ref_msg, "reference failed to build: %s", bi[k].msg);
                break;
            }
            tt_err e = {0};
            if (tt_run_reference(ro, bi[k].so_path, bi[k].fn, &io, &ref, &e)) {
                T->ref_error = 1;
                snprintf(T->ref_msg, sizeof T->ref_msg, "reference failed to run: %s", e.msg);
            } else {
                have_ref = 1;
            }
        }
        double tol = tt_codegen_tolerance(T->dag);
        int ka = -1;
        for (int k = 0; k < nb; k++)
            if (task_of[k] == t && item_of[k] == -2 && !bi[k].error)
                ka = k;
        for (int k = 0; k < nb; k++) {
            if (task_of[k] != t || item_of[k] < 0)
                continue;
            tt_eval_item *it = &T->items[item_of[k]];
            it->build_s = bi[k].build_s;
            if (bi[k].error) {
                fail_result(&it->res, bi[k].error, bi[k].msg);
            } else if (!have_ref) {
                fail_result(&it->res, TT_ERR_UNKNOWN, T->ref_msg);
            } else {
                tt_err e = {0};
                tt_run_opts rot = *ro;
                if (T->cutoff_s > 0)
                    rot.cutoff_s = T->cutoff_s;
                if (ka >= 0) {
                    rot.anchor_so = bi[ka].so_path;
                    rot.anchor_fn = bi[ka].fn;
                }
                if (tt_run_candidate(&rot, bi[k].so_path, bi[k].fn, &io, &ref, tol, &it->res, &e))
                    fail_result(&it->res, TT_ERR_UNKNOWN, e.msg);
            }
            if (progress)
                progress(ctx, t, item_of[k]);
        }
        if (T->ref && T->ref->n > 0)
            ; /* the caller's: kept */
        else if (T->ref && have_ref)
            *T->ref = ref;
        else
            tt_ref_free(&ref);
        T->run_wall_s = tt_now() - tr;
    }
    for (int k = 0; k < nb; k++)
        free(src[k]);
    free(src);
    free(bi);
    free(task_of);
    free(item_of);
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
