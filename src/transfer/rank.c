/* rank.c - which candidates transfer-tuning builds: a cost model ranks them
 * first (see transfer_int.h, tt_xfer_rank, and transfer.h,
 * tt_transfer_rank_keep).
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

int tt_xfer_rank(tt_db *db, const tt_model *m, const pool *P, const int64_t *src_id, tkern *K,
                 int *rows, tt_err *err)
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
