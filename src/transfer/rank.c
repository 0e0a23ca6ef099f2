/* rank.c - which candidates transfer-tuning builds: the conv forms and
 * kernels worth measuring (from the untuned model in place), and, ranked by
 * a cost model, the few best candidates of each (transfer_int.h; the rule,
 * tt_transfer_rank_keep, in transfer.h).
 *
 * Why one model for the run, trained on the source kernels' own records:
 * the question per target kernel is "which of these schedules, each the best
 * of some other kernel, is fastest here".  The source kernels' measured
 * records (the shipped ones, or everything a search stored) say which
 * schedule shapes beat others on kernels of the same classes; the pack-sum
 * model learns that from each record's features on its own DAG, with each
 * source kernel's throughputs normalized by its best (a task), and predicts
 * on the candidates' features on the target's DAG.  One training per run
 * instead of one per target kernel (the --top-k of before replayed every
 * source record onto every target kernel: ResNet-18 ranked in 12 s).
 */
#include "transfer_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cost/cost.h"
#include "../record/identify.h"

/* Training rows per source kernel at most: enough to see which shapes win,
 * few enough that a searched database (hundreds per kernel) trains in
 * seconds. */
#define RANK_ROWS_PER_KERNEL 64

typedef struct rank_rows {
    int n, cap;
    tt_state **s;
    double *thr;
    int *task;
    /* the source kernel being read */
    int cur_task, cur_n;
    tt_dag *dag;                 /* identified from its first record; NULL until then */
    int failed;                  /* its DAG could not be identified */
} rank_rows;

static void rows_push(rank_rows *R, tt_state *s, double thr)
{
    if (R->n == R->cap) {
        R->cap = R->cap ? 2 * R->cap : 256;
        R->s = tt_xrealloc(R->s, (size_t)R->cap * sizeof *R->s);
        R->thr = tt_xrealloc(R->thr, (size_t)R->cap * sizeof *R->thr);
        R->task = tt_xrealloc(R->task, (size_t)R->cap * sizeof *R->task);
    }
    R->s[R->n] = s;
    R->thr[R->n] = thr;
    R->task[R->n] = R->cur_task;
    R->n++;
    R->cur_n++;
}

static int on_row(void *ctx, const tt_db_row *row)
{
    rank_rows *R = ctx;
    if (R->failed || R->cur_n >= RANK_ROWS_PER_KERNEL || row->rec.error_no != 0 || !(row->mean_cost > 0))
        return 0;
    tt_err e = {0};
    tt_state *s = NULL;
    if (!R->dag) {
        char desc[160];
        if (tt_identify_record(&row->rec, &R->dag, &s, desc, sizeof desc, &e)) {
            R->failed = 1;
            return 0;
        }
    } else {
        s = tt_state_new(R->dag);
        if (tt_state_apply_all(s, row->rec.steps, row->rec.nsteps, &e)) {
            tt_state_free(s);
            return 0;
        }
    }
    rows_push(R, s, 1.0 / row->mean_cost);
    return 0;
}

/* Every kernel's candidates scored (higher = predicted faster) into
 * K[k].score by one cost model, trained on the measured records of the pool
 * entries some kernel has a candidate of (each record on its own kernel's
 * DAG, one task per source kernel, so that it learns which schedules are
 * fast relative to others of the same kernel), predicting on the target
 * kernels' DAGs.  *rows gets the number of records it was trained on.  A
 * source kernel whose DAG cannot be identified from its workload key only
 * adds no rows; with no rows at all every score is 0 (pool order decides).
 * 0, or -1 with err set. */
static int xfer_score(tt_db *db, const tt_model *m, const pool *P, const int64_t *src_id, tkern *K, int *rows,
                      tt_err *err)
{
    rank_rows R;
    memset(&R, 0, sizeof R);
    /* the DAGs outlive their states until the features are taken */
    tt_dag **dags = tt_xcalloc((size_t)P->n + 1, sizeof *dags);
    unsigned char *used = tt_xcalloc((size_t)P->n + 1, 1);
    for (int k = 0; k < m->nkernels; k++)
        for (int c = 0; c < K[k].ncand; c++)
            used[K[k].cand_pool[c]] = 1;
    int rc = 0;
    for (int i = 0; i < P->n && rc == 0; i++) {
        const pool_ent *e = &P->e[i];
        if (!used[i])
            continue;
        tt_db_filter f;
        memset(&f, 0, sizeof f);
        f.origins = (1u << TT_ORIGIN_TUNED) | (1u << TT_ORIGIN_IMPORTED);
        f.only_model = src_id[e->source];
        f.ok_only = 1;
        R.cur_task = i;
        R.cur_n = 0;
        R.dag = NULL;
        R.failed = 0;
        if (tt_db_foreach_record(db, 0, e->wkey, &f, on_row, &R, err) < 0)
            rc = -1;
        dags[i] = R.dag;
    }
    free(used);
    *rows = R.n;
    tt_cost_model *cm = NULL;
    if (rc == 0 && R.n > 0) {
        tt_cost_opts co;
        tt_cost_opts_default(&co);
        co.num_warmup_sample = 0;
        cm = tt_cost_model_new(&co, err);
        if (!cm || tt_cost_model_update(cm, R.n, (const tt_state *const *)R.s, R.thr, R.task, err))
            rc = -1;
    }
    for (int i = 0; i < R.n; i++)
        tt_state_free(R.s[i]);
    free(R.s), free(R.thr), free(R.task);
    for (int i = 0; i < P->n; i++)
        tt_dag_free(dags[i]);
    free(dags);
    for (int k = 0; k < m->nkernels && rc == 0; k++) {
        tkern *T = &K[k];
        free(T->score);
        T->score = tt_xcalloc((size_t)T->ncand + 1, sizeof *T->score);
        if (cm && T->ncand > 0 &&
            tt_cost_model_predict(cm, T->ncand, (const tt_state *const *)T->cand, T->score, err))
            rc = -1;
    }
    tt_cost_model_free(cm);
    return rc;
}

/* ---- which candidates are measured (the fast path of tt_transfer_model) ----------- */

/* Drop kernel k's candidates (they are not measured). */
static void drop_candidates(tkern *T)
{
    for (int i = 0; i < T->ncand; i++)
        tt_state_free(T->cand[i]);
    T->ncand = 0;
}

/* 3b. (fast path) the forms each conv with Winograd twins runs in the untuned model,
 * chosen in place now (end_to_end uses them): a form slower in place than
 * the conv's fastest by more than TT_TRANSFER_FORM_SLACK gets no
 * candidates measured.  The builds are the defaults' C, which the kernel
 * cache then has for their measurement. */
int xfer_forms_first(xfer *X, tt_err *err)
{
    const tt_model *m = X->m;
    int nk = m->nkernels, nwith = 0, skipped = 0;
    for (int k = 0; k < nk; k++)
        nwith += m->kernels[k].nalt > 0 && X->K[k].ncand + (m->kernels[k].nalt > 0) > 0;
    if (nwith == 0)
        return 0;
    xfer_say(X->o, "choosing the direct or Winograd form of %d convs in place (untuned)", nwith);
    double *times = tt_xcalloc((size_t)nk + 1, sizeof *times);
    int rc = xfer_build_exec(m, X->o->threads, &X->bo, X->K, 0, NULL, X->alt_u, 1, xfer_input(X), times, NULL, err);
    for (int k = 0; k < nk && rc == 0; k++) {
        const tt_kernel *K = &m->kernels[k];
        if (K->alt_of >= 0 || K->nalt == 0)
            continue;
        double best = 0;
        for (int f = 0; f <= K->nalt; f++) {
            double t = times[f == 0 ? k : K->alts[f - 1]];
            if (t > 0 && (best == 0 || t < best))
                best = t;
        }
        for (int f = 0; f <= K->nalt && best > 0; f++) {
            int q = f == 0 ? k : K->alts[f - 1];
            if (times[q] > 0 && times[q] <= TT_TRANSFER_FORM_SLACK * best)
                continue;
            X->r->k[q].form_skipped = 1;
            skipped += X->K[q].ncand > 0;
            drop_candidates(&X->K[q]);
        }
    }
    free(times);
    if (rc == 0) {
        X->forms_chosen = 1;
        if (skipped)
            xfer_say(X->o, "  %d kernel form%s more than %.2fx slower in place than another: not measured",
                skipped, skipped == 1 ? "" : "s", TT_TRANSFER_FORM_SLACK);
    }
    return rc;
}

/* 3c. (fast path) where the untuned model spends its time (its forms as chosen, one
 * profile): the direct kernels whose calls together take the smallest
 * 1 - TT_TRANSFER_TIME_COVER of its kernel time, smallest first, and
 * their twins get no candidates measured. */
int xfer_time_cover(xfer *X, tt_err *err)
{
    const tt_model *m = X->m;
    int nd = tt_model_ndirect(m), skipped = 0;
    tt_exec *eu = NULL;
    double *call = tt_xcalloc((size_t)m->ncalls + 1, sizeof *call);
    double *t = tt_xcalloc((size_t)nd + 1, sizeof *t);
    int *order = tt_xmalloc((size_t)(nd + 1) * sizeof *order);
    int rc = xfer_build_exec(m, X->o->threads, &X->bo, X->K, 0, NULL, X->forms_chosen ? X->alt_u : NULL, 0, NULL, NULL,
                        &eu, err);
    if (rc == 0)
        rc = tt_exec_profile(eu, xfer_input(X), 3, call, err);
    double total = 0, cut = 0;
    for (int c = 0; c < m->ncalls && rc == 0; c++)
        if (m->calls[c].kind == TT_MCALL_KERNEL) {
            t[m->calls[c].kernel] += call[c];
            total += call[c];
        }
    for (int g = 0; g < nd; g++) {
        order[g] = g;
        X->r->k[xfer_running_kernel(m, X->forms_chosen ? X->alt_u : NULL, g)].inplace_s = t[g];
    }
    /* smallest first (insertion sort: a model has at most a few hundred) */
    for (int i = 1; i < nd; i++)
        for (int j = i; j > 0 && t[order[j]] < t[order[j - 1]]; j--) {
            int x = order[j];
            order[j] = order[j - 1];
            order[j - 1] = x;
        }
    for (int i = 0; i < nd && rc == 0 && total > 0; i++) {
        int g = order[i];
        if (cut + t[g] > (1 - TT_TRANSFER_TIME_COVER) * total)
            break;
        cut += t[g];
        const tt_kernel *K = &m->kernels[g];
        for (int f = 0; f <= K->nalt; f++) {
            int q = f == 0 ? g : K->alts[f - 1];
            skipped += X->K[q].ncand > 0;
            if (X->K[q].ncand > 0)
                X->r->k[q].time_skipped = 1;
            drop_candidates(&X->K[q]);
        }
    }
    if (rc == 0 && skipped)
        xfer_say(X->o, "  %d kernels with %.1f%% of the untuned model's kernel time: not measured", skipped,
            100 * cut / total);
    tt_exec_free(eu);
    free(call), free(t), free(order);
    return rc;
}

/* 3d. the ranking: every candidate scored by one cost model (xfer_score, rank.c),
 * then per kernel only those tt_transfer_rank_keep picks are measured (all
 * with top_k < 0).  Each candidate's score goes into the result. */
int xfer_rank_candidates(xfer *X, tt_err *err)
{
    const tt_model *m = X->m;
    const tt_transfer_opts *o = X->o;
    int nk = m->nkernels, total = 0, kept = 0, rows = 0;
    for (int k = 0; k < nk; k++)
        total += X->K[k].ncand;
    if (total == 0)
        return 0;
    xfer_say(o, "ranking %d candidates with a cost model", total);
    double t0 = tt_now();
    if (xfer_score(X->db, m, &X->P, X->src_id, X->K, &rows, err))
        return -1;
    for (int k = 0; k < nk; k++) {
        tkern *T = &X->K[k];
        tt_transfer_kernel *x = &X->r->k[k];
        if (T->ncand == 0)
            continue;
        x->ncands = T->ncand;
        x->cands = tt_xcalloc((size_t)T->ncand, sizeof *x->cands);
        T->cand_info = tt_xmalloc((size_t)T->ncand * sizeof *T->cand_info);
        int *keep = tt_xcalloc((size_t)T->ncand, sizeof *keep);
        for (int i = 0; i < T->ncand; i++) {
            x->cands[i] = (tt_transfer_cand){
                .source = T->cand_src[i],
                .score = T->score[i],
                .dist = tt_transfer_shape_distance(X->P.e[T->cand_pool[i]].wkey, m->kernels[k].workload_key),
                .time_s = -1};
            keep[i] = 1;
        }
        if (o->top_k > 0)
            tt_transfer_rank_keep(T->ncand, T->score, o->top_k, o->top_k, -1, keep);
        else if (o->top_k == 0)
            tt_transfer_rank_keep(T->ncand, T->score, TT_TRANSFER_RANK_MIN, TT_TRANSFER_RANK_MAX,
                                  TT_TRANSFER_RANK_MARGIN, keep);
        int n = 0;
        for (int i = 0; i < T->ncand; i++) {
            if (!keep[i]) {
                tt_state_free(T->cand[i]);
                continue;
            }
            x->cands[i].measured = 1;
            T->cand[n] = T->cand[i];
            T->cand_src[n] = T->cand_src[i];
            T->cand_pool[n] = T->cand_pool[i];
            T->score[n] = T->score[i];
            T->cand_info[n] = i;
            n++;
        }
        x->ranked_out = T->ncand - n;
        T->ncand = n;
        kept += n;
        free(keep);
    }
    xfer_say(o, "  trained on %d records in %.1f s; measuring %d of %d candidates", rows, tt_now() - t0, kept,
        total);
    return 0;
}

/* ---- the rule, from given scores ------------------------------------------------ */

int tt_transfer_rank_keep(int n, const double *score, int kmin, int kmax, double margin, int *keep)
{
    int *order = tt_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    for (int i = 0; i < n; i++) {
        order[i] = i;
        keep[i] = 0;
    }
    /* insertion sort, best score first; equal scores keep index order */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && score[order[j]] > score[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    if (kmax < kmin)
        kmax = kmin;
    int kept = 0;
    for (int r = 0; r < n && kept < kmax; r++) {
        double gap = score[order[0]] - score[order[r]];
        if (r >= kmin && !(gap <= margin))
            break;
        keep[order[r]] = 1;
        kept++;
    }
    free(order);
    return kept;
}
