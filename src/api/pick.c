/* pick.c - each kernel's record and form (see pick.h). */
#include "pick.h"

#include <stdlib.h>
#include <string.h>

#include "../db/db.h"
#include "../record/identify.h"

void tt_pick_init(tt_pick *P, const tt_model *m)
{
    size_t n = (size_t)m->nkernels + 1;
    memset(P, 0, sizeof *P);
    P->m = m;
    P->steps = tt_xcalloc(n, sizeof(tt_step *));
    P->nsteps = tt_xcalloc(n, sizeof(int));
    P->lanes = tt_xcalloc(n, sizeof(int));
    P->cost = tt_xcalloc(n, sizeof(double));
    P->lost = tt_xcalloc(n, 1);
    P->t_rec = tt_xcalloc(n, sizeof(double));
    P->t_def = tt_xcalloc(n, sizeof(double));
    P->use_alt = tt_xcalloc(n, 1);
}

void tt_pick_free(tt_pick *P)
{
    if (!P->m)
        return;
    for (int k = 0; k < P->m->nkernels; k++)
        free(P->steps[k]);
    free(P->steps), free(P->nsteps), free(P->lanes), free(P->cost), free(P->lost), free(P->t_rec), free(P->t_def);
    free(P->use_alt);
    memset(P, 0, sizeof *P);
}

/* Kernel k takes steps (n of them, tuned for `lanes`) at mean cost c. */
static void take(tt_pick *P, int k, const tt_step *steps, int n, int lanes, double c)
{
    free(P->steps[k]);
    P->steps[k] = tt_xmalloc((size_t)(n ? n : 1) * sizeof(tt_step));
    memcpy(P->steps[k], steps, (size_t)n * sizeof(tt_step));
    P->nsteps[k] = n;
    P->lanes[k] = lanes;
    P->cost[k] = c;
}

static int pick_line(void *ctx, int lineno, const char *line)
{
    tt_pick *P = ctx;
    P->lines++;
    tt_record *rec = tt_xmalloc(sizeof *rec);
    tt_err e = {0};
    tt_dag *d = NULL;
    if (tt_record_parse(line, rec, &e) || tt_identify_record(rec, &d, NULL, NULL, 0, &e)) {
        if (P->skipped)
            P->skipped(P->ctx, lineno, e.msg);
        free(rec);
        return 0;
    }
    P->parsed++;
    double cost = 0;
    for (int i = 0; i < rec->ncosts; i++)
        cost += rec->costs[i] / rec->ncosts;
    char *key = tt_dag_workload_key(d);
    for (int k = 0; k < P->m->nkernels; k++) {
        if (strcmp(P->m->kernels[k].workload_key, key) || rec->error_no != 0 || rec->ncosts < 1)
            continue;
        P->matched++;
        if (!P->steps[k] || P->cost[k] > cost)
            take(P, k, rec->steps, rec->nsteps, tt_target_vector_lanes(rec->target), cost);
    }
    free(key);
    tt_dag_free(d);
    free(rec);
    return 0;
}

int tt_pick_log(tt_pick *P, const char *path, tt_err *err) { return tt_log_foreach(path, pick_line, P, err); }

int tt_pick_db(tt_pick *P, const char *path, tt_err *err)
{
    const tt_model *m = P->m;
    tt_db *db = NULL;
    if (tt_db_open(path, TT_DB_READONLY, &db, err))
        return -1;
    tt_db_row *row = tt_xmalloc(sizeof *row);
    int rc = 0;
    for (int k = 0; k < m->nkernels; k++) {
        int got = tt_db_best_record(db, m->kernels[k].workload_key, NULL, row, err);
        if (got < 0) {
            rc = -1;
            break;
        }
        if (got == 0 || (P->steps[k] && P->cost[k] <= row->mean_cost))
            continue;
        take(P, k, row->rec.steps, row->rec.nsteps, tt_target_vector_lanes(row->rec.target), row->mean_cost);
        P->from_db++;
    }
    free(row);
    tt_db_close(db);
    return rc;
}

tt_exec_opts tt_pick_exec_opts(const tt_pick *P, int threads)
{
    tt_exec_opts eo;
    memset(&eo, 0, sizeof eo);
    eo.threads = threads;
    eo.steps = (const tt_step *const *)P->steps;
    eo.nsteps = P->nsteps;
    eo.from_lanes = P->lanes;
    eo.use_alt = P->use_alt;
    return eo;
}

int tt_pick_choose(tt_pick *P, int threads, tt_pick_forms forms, int trust, const void *input, int *timed,
                   tt_err *err)
{
    const tt_model *m = P->m;
    int nwith = 0, nrec = 0, nk = m->nkernels;
    for (int k = 0; k < nk; k++) {
        nwith += m->kernels[k].nalt > 0;
        nrec += P->steps[k] != NULL;
    }
    memset(P->use_alt, 0, (size_t)(nk > 0 ? nk : 0) + 1);
    if (forms == TT_FORMS_ON)
        for (int k = 0; k < nk; k++)
            P->use_alt[k] = m->kernels[k].nalt > 0;
    int by_time = forms == TT_FORMS_AUTO && nwith > 0, versus = nrec > 0 && !trust;
    *timed = by_time || versus;
    if (!*timed)
        return 0;
    tt_exec_opts eo = tt_pick_exec_opts(P, threads);
    eo.use_alt = NULL;
    unsigned char *keep = tt_xcalloc((size_t)nk + 1, 1), *ua = tt_xcalloc((size_t)nk + 1, 1);
    tt_exec_choice ch = {ua, versus ? keep : NULL, P->t_rec, P->t_def};
    int rc = tt_exec_choose(m, &eo, input, 10, &ch, err);
    if (rc == 0 && by_time)
        memcpy(P->use_alt, ua, (size_t)nk);
    for (int k = 0; k < nk && rc == 0 && versus; k++)
        if (P->steps[k] && !keep[k]) {
            free(P->steps[k]);
            P->steps[k] = NULL;
            P->lost[k] = 1;
        }
    free(keep), free(ua);
    return rc;
}

double tt_pick_time(const tt_pick *P, int q)
{
    const double *t = P->t_rec, *td = P->t_def;
    if (P->lost[q])
        return td[q];
    if (!P->steps[q] && td[q] > 0 && (t[q] <= 0 || td[q] < t[q]))
        return td[q];
    return t[q];
}

int tt_pick_record_runs(const tt_pick *P, int k)
{
    const tt_model *m = P->m;
    const tt_kernel *K = &m->kernels[k];
    if (K->alt_of < 0)
        return !P->use_alt[k];
    int u = P->use_alt[K->alt_of];
    return u > 0 && m->kernels[K->alt_of].alts[u - 1] == k;
}
