/* xgb.c - the pack-sum XGBoost cost model (Ansor's XGBModel, see cost.h).
 *
 * Training data are "packs": the rows of one measured state.  XGBoost sees
 * the rows; the objective sees the packs.  Each boosting round:
 *   pred_r  = the current trees' output for row r
 *   sum_p   = sum of pred_r over the rows r of pack p
 *   grad_r  = (sum_p - y_p) * y_p,   hess_r = y_p        (pack_sum_square_error)
 *   XGBoosterBoostOneIter(grad, hess)
 * and every eval_every rounds the training p-rmse, sqrt(mean_p (sum_p - y_p)^2),
 * decides early stopping (Ansor's custom_callback with skip_every = 2).  As
 * in Ansor every tree is kept after early stopping.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xgboost/c_api.h>

#include "cost.h"

struct tt_cost_model {
    tt_cost_opts o;
    BoosterHandle booster; /* NULL until trained or loaded */
    int nrounds;
    int trained;           /* trees usable regardless of the warm-up */
    int last_train_len;
    tt_rng rng;
    /* records: packs of rows */
    int nrec, rec_cap;
    int *rec_rows;         /* rows of record i */
    double *rec_thr;       /* raw throughput */
    int *rec_task;
    size_t nrows, row_cap; /* all rows, row-major */
    float *rows;
};

void tt_cost_opts_default(tt_cost_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_depth = 10;
    o->gamma = 0.001;
    o->min_child_weight = 0;
    o->eta = 0.2;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    o->nthread = ncpu >= 2 ? (int)(ncpu / 2) : 1;
    o->seed = 43;
    o->max_rounds = 10000;
    o->early_stopping = 50;
    o->eval_every = 2;
    o->num_warmup_sample = 100;
    o->adaptive_training = 0;
    snprintf(o->tree_method, sizeof o->tree_method, "hist");
}

static int xgb_fail(tt_err *err, const char *what)
{
    return tt_err_set(err, "xgboost: %s: %s", what, XGBGetLastError());
}

tt_cost_model *tt_cost_model_new(const tt_cost_opts *opts, tt_err *err)
{
    tt_cost_model *m = tt_xcalloc(1, sizeof *m);
    if (opts)
        m->o = *opts;
    else
        tt_cost_opts_default(&m->o);
    if (m->o.nthread < 1)
        m->o.nthread = 1;
    if (m->o.eval_every < 1)
        m->o.eval_every = 1;
    tt_rng_seed(&m->rng, (uint64_t)m->o.seed);
    return m;
}

void tt_cost_model_free(tt_cost_model *m)
{
    if (!m)
        return;
    if (m->booster)
        XGBoosterFree(m->booster);
    free(m->rec_rows);
    free(m->rec_thr);
    free(m->rec_task);
    free(m->rows);
    free(m);
}

int tt_cost_model_nrecords(const tt_cost_model *m) { return m->nrec; }
int tt_cost_model_nrounds(const tt_cost_model *m) { return m->nrounds; }

/* A booster with Ansor's parameters (no default objective evaluation). */
static int new_booster(tt_cost_model *m, DMatrixHandle *dm, int ndm, BoosterHandle *out,
                       tt_err *err)
{
    if (XGBoosterCreate(dm, (bst_ulong)ndm, out))
        return xgb_fail(err, "create booster");
    char v[64];
    struct {
        const char *k;
        double v;
        int is_int;
    } p[] = {
        {"max_depth", m->o.max_depth, 1}, {"gamma", m->o.gamma, 0},
        {"min_child_weight", m->o.min_child_weight, 0}, {"eta", m->o.eta, 0},
        {"nthread", m->o.nthread, 1}, {"seed", m->o.seed, 1},
        {"verbosity", 0, 1}, {"disable_default_eval_metric", 1, 1},
    };
    if (m->o.tree_method[0] && XGBoosterSetParam(*out, "tree_method", m->o.tree_method)) {
        XGBoosterFree(*out);
        *out = NULL;
        return xgb_fail(err, "set tree_method");
    }
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
        if (p[i].is_int)
            snprintf(v, sizeof v, "%d", (int)p[i].v);
        else
            snprintf(v, sizeof v, "%.17g", p[i].v);
        if (XGBoosterSetParam(*out, p[i].k, v)) {
            XGBoosterFree(*out);
            *out = NULL;
            return xgb_fail(err, "set parameter");
        }
    }
    return 0;
}

/* Sums of the row predictions of each pack (rows of pack p: first[p] ..). */
static void pack_sums(int npacks, const int *nrows_of, const float *pred, double *sums)
{
    size_t r = 0;
    for (int p = 0; p < npacks; p++) {
        double s = 0;
        for (int k = 0; k < nrows_of[p]; k++)
            s += pred[r++];
        sums[p] = s;
    }
}

/* Retrain from scratch on every record. */
static int train(tt_cost_model *m, tt_err *err)
{
    if (m->nrows == 0)
        return 0;
    /* labels: throughput / best throughput of the task (Ansor: min_cost / cost) */
    double *y = tt_xcalloc((size_t)m->nrec, sizeof(double));
    int ntasks = 0, *tid = tt_xcalloc((size_t)m->nrec, sizeof(int));
    int *slot = tt_xcalloc((size_t)m->nrec, sizeof(int));
    double *tbest = tt_xcalloc((size_t)m->nrec, sizeof(double));
    for (int i = 0; i < m->nrec; i++) {
        int t = 0;
        while (t < ntasks && tid[t] != m->rec_task[i]) /* few tasks: a linear scan */
            t++;
        if (t == ntasks)
            tid[ntasks++] = m->rec_task[i];
        slot[i] = t;
        if (m->rec_thr[i] > tbest[t])
            tbest[t] = m->rec_thr[i];
    }
    for (int i = 0; i < m->nrec; i++)
        y[i] = tbest[slot[i]] > 0 ? m->rec_thr[i] / tbest[slot[i]] : 0;
    free(tid);
    free(slot);
    free(tbest);
    /* packs = records with rows */
    int npacks = 0;
    int *prow = tt_xcalloc((size_t)m->nrec, sizeof(int));
    double *py = tt_xcalloc((size_t)m->nrec, sizeof(double));
    for (int i = 0; i < m->nrec; i++)
        if (m->rec_rows[i] > 0) {
            prow[npacks] = m->rec_rows[i];
            py[npacks++] = y[i];
        }
    free(y);
    size_t n = m->nrows;
    float *grad = tt_xcalloc(n, sizeof(float)), *hess = tt_xcalloc(n, sizeof(float));
    float *label = tt_xcalloc(n, sizeof(float));
    double *sums = tt_xcalloc((size_t)npacks, sizeof(double));
    for (int p = 0, r = 0; p < npacks; p++)
        for (int k = 0; k < prow[p]; k++)
            label[r++] = (float)py[p];
    DMatrixHandle dm = NULL;
    BoosterHandle b = NULL;
    int rc = -1;
    if (XGDMatrixCreateFromMat(m->rows, (bst_ulong)n, TT_FEAT_COUNT, NAN, &dm)) {
        xgb_fail(err, "create matrix");
        goto done;
    }
    if (XGDMatrixSetFloatInfo(dm, "label", label, (bst_ulong)n)) {
        xgb_fail(err, "set labels");
        goto done;
    }
    if (new_booster(m, &dm, 1, &b, err))
        goto done;
    double best = INFINITY;
    int best_it = 0, it;
    for (it = 0; it < m->o.max_rounds; it++) {
        bst_ulong len = 0;
        const float *pred = NULL;
        if (XGBoosterPredict(b, dm, 0, 0, 1, &len, &pred) || len != n) {
            xgb_fail(err, "predict");
            goto done;
        }
        pack_sums(npacks, prow, pred, sums);
        /* early stopping on the model after round it - 1, evaluated on the
         * rounds Ansor's callback evaluates (every eval_every-th) */
        if (it > 0 && (it - 1) % m->o.eval_every == 0) {
            double se = 0;
            for (int p = 0; p < npacks; p++)
                se += (sums[p] - py[p]) * (sums[p] - py[p]);
            double rmse = sqrt(se / npacks);
            if (rmse < best) {
                best = rmse;
                best_it = it - 1;
            } else if (it - 1 - best_it >= m->o.early_stopping) {
                break;
            }
        }
        for (int p = 0, r = 0; p < npacks; p++)
            for (int k = 0; k < prow[p]; k++, r++) {
                grad[r] = (float)((sums[p] - py[p]) * py[p]);
                hess[r] = (float)py[p];
            }
        if (XGBoosterBoostOneIter(b, dm, grad, hess, (bst_ulong)n)) {
            xgb_fail(err, "boost");
            goto done;
        }
    }
    if (m->booster)
        XGBoosterFree(m->booster);
    m->booster = b;
    b = NULL;
    m->nrounds = it;
    m->last_train_len = m->nrec;
    rc = 0;
done:
    if (b)
        XGBoosterFree(b);
    if (dm)
        XGDMatrixFree(dm);
    free(grad);
    free(hess);
    free(label);
    free(sums);
    free(prow);
    free(py);
    return rc;
}

int tt_cost_model_update_features(tt_cost_model *m, int n, const tt_features *feats,
                                  const double *throughputs, const int *task_ids, tt_err *err)
{
    if (n <= 0)
        return 0;
    if (m->nrec + n > m->rec_cap) {
        m->rec_cap = (m->nrec + n) * 2;
        m->rec_rows = tt_xrealloc(m->rec_rows, (size_t)m->rec_cap * sizeof(int));
        m->rec_thr = tt_xrealloc(m->rec_thr, (size_t)m->rec_cap * sizeof(double));
        m->rec_task = tt_xrealloc(m->rec_task, (size_t)m->rec_cap * sizeof(int));
    }
    for (int i = 0; i < n; i++) {
        size_t add = (size_t)feats[i].nrows;
        if (m->nrows + add > m->row_cap) {
            m->row_cap = (m->nrows + add) * 2;
            m->rows = tt_xrealloc(m->rows, m->row_cap * TT_FEAT_COUNT * sizeof(float));
        }
        if (add)
            memcpy(&m->rows[m->nrows * TT_FEAT_COUNT], feats[i].rows,
                   add * TT_FEAT_COUNT * sizeof(float));
        m->nrows += add;
        m->rec_rows[m->nrec] = feats[i].nrows;
        double t = throughputs[i];
        m->rec_thr[m->nrec] = isfinite(t) && t > 0 ? t : 0;
        m->rec_task[m->nrec] = task_ids ? task_ids[i] : 0;
        m->nrec++;
    }
    /* adaptive training: only once the data grew by 20% since the last fit */
    if (m->o.adaptive_training && m->booster &&
        m->nrec - m->last_train_len < m->last_train_len / 5)
        return 0;
    return train(m, err);
}

/* Extract the features of n states in parallel; failed states get 0 rows. */
static tt_features *extract_all(const tt_cost_model *m, int n, const tt_state *const *states)
{
    tt_features *f = tt_xcalloc((size_t)(n ? n : 1), sizeof *f);
#pragma omp parallel for schedule(dynamic) num_threads(m->o.nthread)
    for (int i = 0; i < n; i++) {
        tt_err e = {0};
        if (tt_features_extract(states[i], 0, &f[i], &e))
            memset(&f[i], 0, sizeof f[i]);
    }
    return f;
}

static void free_all(tt_features *f, int n)
{
    for (int i = 0; i < n; i++)
        tt_features_free(&f[i]);
    free(f);
}

int tt_cost_model_update(tt_cost_model *m, int n, const tt_state *const *states,
                         const double *throughputs, const int *task_ids, tt_err *err)
{
    tt_features *f = extract_all(m, n, states);
    int rc = tt_cost_model_update_features(m, n, f, throughputs, task_ids, err);
    free_all(f, n);
    return rc;
}

int tt_cost_model_is_random(const tt_cost_model *m)
{
    return !(m->booster && (m->trained || m->nrec > m->o.num_warmup_sample));
}

int tt_cost_model_predict_features(tt_cost_model *m, int n, const tt_features *feats,
                                   double *scores, tt_err *err)
{
    if (tt_cost_model_is_random(m)) {
        for (int i = 0; i < n; i++)
            scores[i] = feats[i].nrows > 0 ? tt_rng_unit(&m->rng) : -INFINITY;
        return 0;
    }
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += (size_t)feats[i].nrows;
    for (int i = 0; i < n; i++)
        scores[i] = -INFINITY;
    if (total == 0)
        return 0;
    float *x = tt_xmalloc(total * TT_FEAT_COUNT * sizeof(float));
    int *nrows_of = tt_xcalloc((size_t)n, sizeof(int));
    size_t r = 0;
    for (int i = 0; i < n; i++) {
        if (feats[i].nrows > 0)
            memcpy(&x[r * TT_FEAT_COUNT], feats[i].rows,
                   (size_t)feats[i].nrows * TT_FEAT_COUNT * sizeof(float));
        r += (size_t)feats[i].nrows;
        nrows_of[i] = feats[i].nrows;
    }
    DMatrixHandle dm = NULL;
    int rc = -1;
    bst_ulong len = 0;
    const float *pred = NULL;
    if (XGDMatrixCreateFromMat(x, (bst_ulong)total, TT_FEAT_COUNT, NAN, &dm)) {
        xgb_fail(err, "create matrix");
        goto done;
    }
    if (XGBoosterPredict(m->booster, dm, 0, 0, 0, &len, &pred) || len != total) {
        xgb_fail(err, "predict");
        goto done;
    }
    pack_sums(n, nrows_of, pred, scores);
    for (int i = 0; i < n; i++)
        if (nrows_of[i] == 0)
            scores[i] = -INFINITY;
    rc = 0;
done:
    if (dm)
        XGDMatrixFree(dm);
    free(x);
    free(nrows_of);
    return rc;
}

int tt_cost_model_predict(tt_cost_model *m, int n, const tt_state *const *states, double *scores,
                          tt_err *err)
{
    tt_features *f = extract_all(m, n, states);
    int rc = tt_cost_model_predict_features(m, n, f, scores, err);
    free_all(f, n);
    return rc;
}

int tt_cost_model_save(const tt_cost_model *m, const char *path, tt_err *err)
{
    if (!m->booster)
        return tt_err_set(err, "cost model: nothing to save (not trained)");
    if (XGBoosterSaveModel(m->booster, path))
        return xgb_fail(err, path);
    return 0;
}

int tt_cost_model_load(tt_cost_model *m, const char *path, tt_err *err)
{
    BoosterHandle b = NULL;
    if (new_booster(m, NULL, 0, &b, err))
        return -1;
    if (XGBoosterLoadModel(b, path)) {
        XGBoosterFree(b);
        return xgb_fail(err, path);
    }
    /* the loaded model's own parameters may differ; ours apply to retraining */
    if (m->booster)
        XGBoosterFree(m->booster);
    m->booster = b;
    int rounds = 0;
    m->nrounds = XGBoosterBoostedRounds(b, &rounds) ? 0 : rounds;
    m->trained = 1;
    return 0;
}
