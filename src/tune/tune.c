/* tune.c - see tune.h. */
#include "tune.h"

#include "../exec/exec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct ttask {
    const tt_dag *dag;
    const char *wkey;
    int weight;
    int alt_of;                  /* a Winograd twin: the index of its direct kernel; else -1 */
    char name[160];
    int is_task;                 /* has a reduction: searched */
    int sched_id;                /* index in the task scheduler (-1: not a task) */
    int64_t kernel_id;
    tt_policy *pol;
    tt_ref ref;                  /* kept reference output */
    char *default_steps;         /* JSON of the default schedule's steps (NULL: none) */
    tt_state *default_state;
    double default_s;            /* -1: not measured */
    double best_s;               /* INFINITY: no valid record */
    int64_t trials;
    int warm_done;
    tt_step *best_steps;         /* the best record's steps (NULL: none yet) */
    int best_nsteps;
} ttask;

typedef struct tuner {
    tt_db *db;
    int64_t model_id;
    tt_db_target target;
    const tt_tune_opts *o;
    tt_run_opts ro;
    tt_build_opts bo;
    int nk;
    ttask *k;
    int ntasks;
    int *task_of;                /* scheduler index -> k index */
    tt_cost_model *cm;
    tt_tasksched *ts;
    int64_t trials, trials_run, resumed, valid_run;
    double search_base, t0;
    int round;
    double t_search, t_measure, t_build, t_train, t_db;
    double t_excluded;           /* end-to-end checkpoints: not search time */
    const tt_model *model;       /* NULL for a single workload */
    int ncp;                     /* checkpoints measured by this run */
    tt_tune_checkpoint *cp;
    int next_cp;                 /* index in o->checkpoints */
    tt_exec *untuned;            /* the model on default schedules, for checkpoints */
    unsigned char *untuned_alt;  /* its forms (Winograd or direct), chosen in place once */
    /* resume: measured states and throughputs for the cost model */
    int nres, capres;
    tt_state **res_states;
    double *res_thr;
    int *res_task;
    tt_record *scratch;          /* one record row for callbacks */
    int confirm;                 /* re-measure would-be bests (confirm_new_bests) */
    int64_t confirmed, confirm_rejected;
} tuner;

/* The protocol of every search trial and transfer candidate: 3 repeats,
 * each timing calls back to back for at least TUNE_WARM_REPEAT_MS in the
 * cache state of tt_tune_cache_state (warm by default, as Ansor's
 * LocalRunner; TT_CACHE=flush gives 5 repeats of one call after a clflush
 * of every argument but the input, as TVM's enable_cpu_cache_flush), each
 * followed by as many calls of the kernel's default schedule (the anchor,
 * tt_eval_task.anchor) in the same state, on the same buffers.  Costs are
 * then put on the default's scale (measure_batch).
 * Why an anchor (docs/NOTES.md, "Measuring on a drifting machine"): this
 * machine's speed drifts by up to 1.6x within seconds, more than the
 * differences the search ranks, and the ratio to an anchor timed
 * milliseconds apart does not drift.  Why warm loops (NOTES, "Which cache
 * state to time in"): they predict a kernel's time in its model best. */
#define TUNE_WARM_REPEAT_MS 10.0
void tt_tune_default_run_opts(tt_run_opts *ro, int threads, int cache)
{
    memset(ro, 0, sizeof *ro);
    ro->threads = threads;
    ro->number = 1;
    ro->repeat = cache == TT_CACHE_WARM ? 3 : 5; /* a warm repeat is many calls already */
    /* warm: each repeat times calls back to back for at least
     * TUNE_WARM_REPEAT_MS (TVM's min_repeat_ms).  One call timed alone ran
     * small parallel kernels 3-4x slower than in their model on the Xeon
     * host (ResNet-18's maxpool: 0.19 ms alone, 0.046 in a loop, 0.057 in
     * place), while single-threaded schedules kept their time, so a search
     * timing single calls chose serial maxpool, fc and 1x1 schedules that
     * ran 1.5-2.5x slower in the model.  Flushed states time one call (a
     * flush per call is their point) */
    ro->min_repeat_ms = cache == TT_CACHE_WARM ? TUNE_WARM_REPEAT_MS : -1; /* -1: none (0 would mean 100 ms) */
    ro->cache_flush = cache;
    ro->timeout_s = 10;
    ro->seed = 1;
}

int tt_tune_cache_state(const tt_model *m, char *why, size_t n)
{
    const char *env = getenv("TT_CACHE");
    char bad[64] = ""; /* an unknown value is said in `why`, not printed: a library does not print */
    if (env && *env) {
        int c = !strcmp(env, "flush") ? TT_CACHE_FLUSH
                : !strcmp(env, "l3")  ? TT_CACHE_L3
                : !strcmp(env, "warm") ? TT_CACHE_WARM
                                       : -1;
        if (c >= 0) {
            snprintf(why, n, "%s (set by TT_CACHE)", env);
            return c;
        }
        snprintf(bad, sizeof bad, "; TT_CACHE=%.24s ignored: flush, l3 or warm", env);
    }
    /* warm, whatever the footprint: on the Xeon host (260 MB of L3) the
     * flushed single calls predicted which of a record and its default runs
     * faster in ResNet-18 for 1 of 4 kernels that differ by > 10% in place,
     * loops of warm calls for 4 of 4 (mean |log error| of the ratio 0.41
     * against 0.10); see docs/NOTES.md, "Which cache state to time in" */
    if (!m) {
        snprintf(why, n, "warm (a kernel alone%s)", bad);
        return TT_CACHE_WARM;
    }
    int64_t w, a, llc = tt_host_cache_bytes(3);
    tt_exec_footprint(m, &w, &a);
    snprintf(why, n, "warm (one inference touches %.1f MB: weights %.1f, activations %.1f; "
             "last-level cache %.0f MB%s)",
             (w + a) / 1e6, w / 1e6, a / 1e6, llc / 1048576.0, bad);
    return TT_CACHE_WARM;
}

void tt_tune_result_free(tt_tune_result *r)
{
    if (!r)
        return;
    free(r->tasks);
    r->tasks = NULL;
    free(r->checkpoints);
    r->checkpoints = NULL;
}

static int dag_has_reduce(const tt_dag *d)
{
    for (int i = 0; i < d->nops; i++)
        if (d->ops[i]->kind != TT_OP_PLACEHOLDER && d->ops[i]->nreduce > 0)
            return 1;
    return 0;
}

static int ncores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static double latency_of(const ttask *t)
{
    if (isfinite(t->best_s))
        return t->best_s;
    return t->default_s;
}

/* Estimated model latency with the best schedules (best = 1) or the default
 * ones; -1 if a kernel's is unknown. */
static double estimate(const tuner *T, int best)
{
    double s = 0;
    for (int i = 0; i < T->nk; i++) {
        if (T->k[i].alt_of >= 0)
            continue;
        double l = best ? latency_of(&T->k[i]) : T->k[i].default_s;
        if (!(l > 0))
            return -1;
        /* a conv with Winograd twins runs its fastest known form */
        for (int j = 0; j < T->nk; j++) {
            double lj = best ? latency_of(&T->k[j]) : T->k[j].default_s;
            if (T->k[j].alt_of == i && lj > 0 && lj < l)
                l = lj;
        }
        s += T->k[i].weight * l;
    }
    return s;
}

static void push_resumed(tuner *T, tt_state *s, double thr, int task)
{
    if (T->nres == T->capres) {
        T->capres = T->capres ? T->capres * 2 : 256;
        T->res_states = tt_xrealloc(T->res_states, (size_t)T->capres * sizeof(tt_state *));
        T->res_thr = tt_xrealloc(T->res_thr, (size_t)T->capres * sizeof(double));
        T->res_task = tt_xrealloc(T->res_task, (size_t)T->capres * sizeof(int));
    }
    T->res_states[T->nres] = s;
    T->res_thr[T->nres] = thr;
    T->res_task[T->nres] = task;
    T->nres++;
}

/* The filter of this model's own tuned records on this target (what resume
 * reads and the budget counts). */
static tt_db_filter own_records(const tuner *T)
{
    tt_db_filter f;
    memset(&f, 0, sizeof f);
    f.cpu = T->target.cpu;
    f.isa = T->target.isa;
    f.threads = T->target.threads;
    f.origins = 1u << TT_ORIGIN_TUNED;
    f.only_model = T->model_id;
    return f;
}

/* Commit a measured batch, within the trial budget: in one write
 * transaction, the model's tuned records on this target are counted and at
 * most budget - count of the batch stored (*keep), so that two tuners on one
 * database stop at the budget together (each alone stored its own budget:
 * two `tune --trials 50` left 100 records).  The rest of the batch is
 * dropped unrecorded. */
static int commit_within_budget(tuner *T, int n, const tt_db_rec *in, int *keep, tt_err *err)
{
    if (tt_db_begin(T->db, err))
        return -1;
    tt_db_filter f = own_records(T);
    int64_t have = 0;
    int rc = tt_db_count_records(T->db, &f, &have, err);
    int64_t room = T->o->trials - have;
    *keep = rc == 0 ? (int)(room < 0 ? 0 : room < n ? room : n) : 0;
    if (rc == 0 && *keep > 0)
        rc = tt_db_add_records(T->db, *keep, in, NULL, err);
    if (rc == 0)
        rc = tt_db_commit(T->db, err);
    if (rc) {
        tt_db_rollback(T->db);
        return -1;
    }
    /* the model's records on this target, whoever wrote them (accounting the
     * batch adds *keep): with another tuner at work the loop then stops at
     * the budget */
    if (have > T->trials)
        T->trials = have;
    return 0;
}

/* Account a measured (or resumed) record of kernel ki. */
static void account(tuner *T, int ki, const char *steps_json, const tt_step *steps, int nsteps,
                    int ok, double mean)
{
    ttask *t = &T->k[ki];
    t->trials++;
    T->trials++;
    if (!ok)
        return;
    if (t->default_steps && steps_json && !strcmp(steps_json, t->default_steps) &&
        (t->default_s < 0 || mean < t->default_s))
        t->default_s = mean;
    if (mean < t->best_s) {
        t->best_s = mean;
        free(t->best_steps);
        t->best_steps = tt_xmalloc((size_t)(nsteps > 0 ? nsteps : 1) * sizeof(tt_step));
        memcpy(t->best_steps, steps, (size_t)nsteps * sizeof(tt_step));
        t->best_nsteps = nsteps;
    }
}

static double search_time(const tuner *T)
{
    return T->search_base + (tt_now() - T->t0) - T->t_excluded;
}

typedef struct resume_ctx {
    tuner *T;
    int ki;
} resume_ctx;

static int on_resumed(void *vctx, const tt_db_row *row)
{
    resume_ctx *c = vctx;
    tuner *T = c->T;
    ttask *t = &T->k[c->ki];
    int ok = row->rec.error_no == 0 && row->mean_cost > 0;
    char *json = tt_steps_write(row->rec.steps, row->rec.nsteps);
    account(T, c->ki, json, row->rec.steps, row->rec.nsteps, ok, row->mean_cost);
    free(json);
    T->resumed++;
    if (!t->is_task)
        return 0;
    tt_state *s = tt_state_new(t->dag);
    tt_err e = {0};
    if (tt_state_apply_all(s, row->rec.steps, row->rec.nsteps, &e)) {
        tt_state_free(s); /* written by other code: counted, not replayed */
        return 0;
    }
    double thr = ok ? 1.0 / row->mean_cost : 0;
    tt_policy_add_measured(t->pol, s, thr);
    push_resumed(T, s, thr, t->sched_id);
    return 0;
}

void tt_tune_fill_record(tt_record *rec, const tt_state *s, const tt_result *res, double build_s,
                         const tt_db_target *t)
{
    memset(rec, 0, sizeof *rec);
    snprintf(rec->target, sizeof rec->target, "llvm -keys=cpu -mattr=+%s", t->isa[0] ? t->isa : "sse2");
    rec->nhw = 8;
    rec->hw[0] = t->threads;
    rec->hw[1] = tt_host_vector_lanes() * 4;
    rec->hw[2] = 64;
    rec->layout_rewrite = 0;
    int n = s->nsteps < TT_MAX_STEPS ? s->nsteps : TT_MAX_STEPS;
    rec->nsteps = n;
    memcpy(rec->steps, s->steps, (size_t)n * sizeof(tt_step));
    rec->ncosts = res->ncosts > 0 ? res->ncosts : 1;
    if (res->ncosts > 0)
        memcpy(rec->costs, res->costs, (size_t)res->ncosts * sizeof(double));
    else
        rec->costs[0] = 1e10;
    rec->error_no = res->error;
    double run = 0;
    for (int i = 0; i < res->ncosts; i++)
        run += res->costs[i] * (res->number > 0 ? res->number : 1);
    rec->all_cost = build_s + (res->error ? 0 : run);
    rec->timestamp = (double)time(NULL);
    snprintf(rec->version, sizeof rec->version, "v0.6");
}

/* Measure n states of kernel ki (one batch), commit them, account them.
 * owned: states are freed here.  *nok: correct ones. */
/* Candidates that would become their kernel's best are measured again before
 * they are believed (tt_evaluate_again): a search keeps the minimum of many
 * noisy measurements, so the one that looks best is most often the one whose
 * calls ran luckiest; re-measured, MobileNet-v2's chosen records were often
 * slower than the default they had "beaten".  Up to TUNE_CONFIRM_MAX of a
 * batch at a time, fastest first, are measured again, and that independent
 * measurement replaces the first as their result (and record); again until
 * no candidate measured once would be the best.  Returns 0, or -1 with err
 * set if the evaluation itself fails. */
#define TUNE_CONFIRM_MAX 8
static int confirm_new_bests(tuner *T, int ki, const tt_eval_task *et, tt_state **states, int n,
                             tt_err *err)
{
    ttask *t = &T->k[ki];
    if (!(t->default_s > 0) || !isfinite(t->best_s) || !T->confirm)
        return 0;
    /* rounds of up to TUNE_CONFIRM_MAX, until no candidate measured once
     * would be the best: a batch with more would-be bests than one round
     * takes (the search's neighbours of the best make many) must not leave
     * the best to a single measurement */
    unsigned char *again = tt_xcalloc((size_t)n + 1, 1);
    int rc = 0;
    for (;;) {
        double bar = t->best_s;
        for (int i = 0; i < n; i++) {
            const tt_result *r = &et->items[i].res;
            if (again[i] && !r->error && r->correct && r->mean > 0 && r->mean < bar)
                bar = r->mean;
        }
        int idx[TUNE_CONFIRM_MAX], nc = 0;
        for (int i = 0; i < n; i++) {
            const tt_result *r = &et->items[i].res;
            if (again[i] || r->error || !r->correct || !(r->mean > 0) || !(r->mean < bar))
                continue;
            /* keep the TUNE_CONFIRM_MAX fastest, sorted by insertion */
            int j = nc < TUNE_CONFIRM_MAX ? nc++ : TUNE_CONFIRM_MAX;
            if (j == TUNE_CONFIRM_MAX && !(r->mean < et->items[idx[j - 1]].res.mean))
                continue;
            if (j == TUNE_CONFIRM_MAX)
                j--;
            while (j > 0 && r->mean < et->items[idx[j - 1]].res.mean) {
                idx[j] = idx[j - 1];
                j--;
            }
            idx[j] = i;
        }
        if (nc == 0)
            break;
        tt_eval_item *ci = tt_xcalloc((size_t)nc, sizeof *ci);
        for (int j = 0; j < nc; j++)
            ci[j].state = states[idx[j]];
        tt_eval_task ct = *et;
        ct.nitems = nc;
        ct.items = ci;
        double tm = tt_now();
        rc = tt_evaluate_again(&ct, 1, &t->default_s, &T->bo, &T->ro, err);
        T->t_measure += tt_now() - tm;
        T->t_build += ct.build_wall_s;
        for (int j = 0; j < nc && rc == 0; j++) {
            tt_eval_item *it = &et->items[idx[j]];
            T->confirmed++;
            if (!tt_result_confirms(&ci[j].res, t->best_s))
                T->confirm_rejected++;
            it->res = ci[j].res;
            it->build_s += ci[j].build_s;
            again[idx[j]] = 1;
        }
        free(ci);
        if (rc)
            break;
    }
    free(again);
    return rc;
}

static int measure_batch(tuner *T, int ki, tt_state **states, int n, const tt_state *anchor, int *nok,
                         tt_err *err)
{
    ttask *t = &T->k[ki];
    tt_eval_item *items = tt_xcalloc((size_t)n, sizeof *items);
    for (int i = 0; i < n; i++)
        items[i].state = states[i];
    tt_eval_task et;
    memset(&et, 0, sizeof et);
    et.dag = t->dag;
    et.nitems = n;
    et.items = items;
    et.ref = &t->ref;
    et.anchor = anchor;
    /* a candidate 3x slower than the best (in its first call after the
     * warm-up) is hopeless: that call is its time */
    T->ro.cutoff_s = isfinite(t->best_s) ? 3 * t->best_s : 0;
    double tm = tt_now();
    int rc = tt_evaluate(&et, 1, &T->bo, &T->ro, NULL, NULL, err);
    T->t_measure += tt_now() - tm;
    T->t_build += et.build_wall_s;
    tt_record *recs = NULL;
    tt_db_rec *in = NULL;
    double *thr = NULL;
    if (rc)
        goto done;
    recs = tt_xcalloc((size_t)n, sizeof *recs);
    in = tt_xcalloc((size_t)n, sizeof *in);
    thr = tt_xcalloc((size_t)n, sizeof *thr);
    /* every candidate was timed alternately with the kernel's default
     * schedule: its cost is put on the scale of the default's first
     * measurement (cost / anchor x default_s), so costs taken minutes apart
     * compare despite the machine's drift */
    for (int i = 0; i < n; i++) {
        tt_result *r = &items[i].res;
        tt_result_anchor_scale(r, t->default_s > 0 ? t->default_s : tt_result_anchor_median(r));
    }
    if (!et.ref_error && (rc = confirm_new_bests(T, ki, &et, states, n, err)) != 0)
        goto done;
    for (int i = 0; i < n; i++) {
        tt_result *r = &items[i].res;
        if (et.ref_error && !r->error) {
            r->error = TT_ERR_UNKNOWN;
            snprintf(r->msg, sizeof r->msg, "%s", et.ref_msg);
        }
        int ok = r->error == 0 && r->correct && r->mean > 0 && r->mean < 1e9;
        if (!ok && r->error == 0)
            r->error = TT_ERR_WRONG_ANSWER;
        tt_tune_fill_record(&recs[i], states[i], r, items[i].build_s, &T->target);
        in[i] = (tt_db_rec){t->kernel_id, &recs[i], &T->target, TT_ORIGIN_TUNED, T->model_id};
        thr[i] = ok ? 1.0 / r->mean : 0;
    }
    double tdb = tt_now();
    int keep = n;
    if (commit_within_budget(T, n, in, &keep, err)) {
        rc = -1;
        goto done;
    }
    T->t_db += tt_now() - tdb;
    *nok = 0;
    for (int i = 0; i < keep; i++) {
        int ok = thr[i] > 0;
        *nok += ok;
        char *json = tt_steps_write(states[i]->steps, states[i]->nsteps);
        account(T, ki, json, states[i]->steps, states[i]->nsteps, ok, items[i].res.mean);
        free(json);
        T->trials_run++;
        T->valid_run += ok;
        if (t->is_task)
            tt_policy_add_measured(t->pol, states[i], thr[i]);
    }
    if (t->is_task) {
        int *tid = tt_xmalloc((size_t)n * sizeof(int));
        for (int i = 0; i < n; i++)
            tid[i] = t->sched_id;
        double tt = tt_now();
        rc = tt_cost_model_update(T->cm, n, (const tt_state *const *)states, thr, tid, err);
        T->t_train += tt_now() - tt;
        free(tid);
    }
done:
    free(items);
    free(recs);
    free(in);
    free(thr);
    return rc;
}

static void status_fill(const tuner *T, int ki, int batch, int ok, tt_tune_status *st)
{
    memset(st, 0, sizeof *st);
    st->round = T->round;
    st->task = ki >= 0 ? T->k[ki].sched_id : -1;
    st->ntasks = T->ntasks;
    st->task_name = ki >= 0 ? T->k[ki].name : "";
    st->trials = T->trials;
    st->trials_run = T->trials_run;
    st->budget = T->o->trials;
    st->elapsed_s = tt_now() - T->t0;
    st->search_s = search_time(T);
    st->est_latency_s = estimate(T, 1);
    st->untuned_latency_s = estimate(T, 0);
    for (int i = 0; i < T->nk; i++) {
        const ttask *t = &T->k[i];
        if (!t->is_task)
            continue;
        if (T->ts && tt_tasksched_rounds(T->ts, t->sched_id) > 0)
            st->tasks_tuned++;
        if (T->ts && tt_tasksched_dead(T->ts, t->sched_id))
            st->tasks_dead++;
    }
    st->batch = batch;
    st->batch_ok = ok;
    st->batch_best_s = ki >= 0 ? T->k[ki].best_s : -1;
}

static int append_curve(tuner *T, tt_err *err)
{
    tt_db_curve_point p;
    p.search_s = search_time(T);
    p.trials = T->trials;
    p.est_latency = estimate(T, 1);
    p.meas_latency = -1;
    p.meas_untuned = -1;
    return tt_db_curve_append(T->db, T->model_id, &T->target, &p, err);
}

/* The kernels' default schedules that are not known yet, in one batch per
 * kernel but built together: one tt_evaluate over every kernel. */
static int measure_defaults(tuner *T, tt_err *err)
{
    /* one kernel per batch (each commits its own record); builds of one
     * state are quick, so this costs little */
    for (int i = 0; i < T->nk; i++) {
        ttask *t = &T->k[i];
        if (!t->default_state || t->default_s >= 0)
            continue;
        if (T->o->stop && *T->o->stop)
            break;
        tt_state *s = tt_state_copy(t->default_state);
        int ok = 0;
        /* the default itself is timed alone: beside itself (its anchor) it
         * would only take twice as long */
        int rc = measure_batch(T, i, &s, 1, NULL, &ok, err);
        tt_state_free(s);
        if (rc)
            return -1;
        if (T->o->progress) {
            tt_tune_status st;
            status_fill(T, i, 1, ok, &st);
            T->o->progress(T->o->ctx, &st);
        }
    }
    return 0;
}

/* Warm start ("transfer, then search"): the caller's candidates of kernel
 * ki (tt_tune_opts.warm_cand, the schedules transfer-tuning would try) as
 * part of its first round: copies of at most max of them, never one
 * measured already.  Returns the count written to out. */
static int warm_candidates(tuner *T, int ki, tt_state **out, int max)
{
    const tt_tune_opts *o = T->o;
    if (!o->warm_n || ki >= o->warm_nkernels)
        return 0;
    int n = 0;
    for (int i = 0; i < o->warm_n[ki] && n < max; i++) {
        const tt_state *s = o->warm_cand[ki][i];
        if (!tt_policy_is_measured(T->k[ki].pol, s))
            out[n++] = tt_state_copy(s);
    }
    return n;
}

/* An end-to-end measurement of the model with every kernel's best record so
 * far (its default schedule where it has none), timed against the untuned
 * model in interleaved pairs (tt_exec_time_pair) and appended to the curve
 * with both latencies: the curve's speedups are then ratios of timings from
 * one window.  Its time is not search time (as Ansor's checkpoints). */
static int checkpoint(tuner *T, tt_err *err)
{
    const tt_model *m = T->model;
    double t0 = tt_now();
    const tt_step **steps = tt_xcalloc((size_t)m->nkernels + 1, sizeof(tt_step *));
    int *nsteps = tt_xcalloc((size_t)m->nkernels + 1, sizeof(int));
    for (int i = 0; i < T->nk && i < m->nkernels; i++) {
        steps[i] = T->k[i].best_steps;
        nsteps[i] = T->k[i].best_nsteps;
    }
    tt_exec_opts eo;
    memset(&eo, 0, sizeof eo);
    eo.threads = T->target.threads;
    eo.build = &T->bo;
    tt_exec *e = NULL;
    void *input = tt_xmalloc((size_t)tt_model_input_bytes(m) + 1);
    tt_model_random_input(m, input);
    double lat = 0, unt = 0;
    /* the convs with Winograd twins run the form that is fastest in place,
     * as `run` chooses: for the tuned model with this checkpoint's records,
     * for the untuned one (defaults do not change) once per run */
    unsigned char *alt = tt_xcalloc((size_t)m->nkernels + 1, 1);
    int rc = 0;
    if (!T->untuned_alt) {
        T->untuned_alt = tt_xcalloc((size_t)m->nkernels + 1, 1);
        rc = tt_exec_choose(m, &eo, input, 5, &(tt_exec_choice){.use_alt = T->untuned_alt}, err);
    }
    /* the untuned model is built afresh each time, after the tuned one: an
     * executor built minutes earlier, idle while the search ran, timed slower
     * than a fresh one beside it (1.01-1.07x with identical schedules), which
     * would credit the search; built second, any such edge goes to untuned */
    eo.steps = steps;
    eo.nsteps = nsteps;
    if (rc == 0)
        rc = tt_exec_choose(m, &eo, input, 5, &(tt_exec_choice){.use_alt = alt}, err);
    eo.use_alt = alt;
    if (rc == 0)
        rc = tt_exec_build(m, &eo, &e, err);
    eo.steps = NULL;
    eo.nsteps = NULL;
    eo.use_alt = T->untuned_alt;
    tt_exec_free(T->untuned);
    T->untuned = NULL;
    if (rc == 0)
        rc = tt_exec_build(m, &eo, &T->untuned, err);
    if (rc == 0)
        rc = tt_exec_time_pair(e, T->untuned, input,
                               T->o->checkpoint_repeat > 0 ? T->o->checkpoint_repeat : 10, 3, &lat,
                               &unt, err);
    tt_exec_free(e);
    free(input);
    free(steps);
    free(nsteps);
    free(alt);
    T->t_excluded += tt_now() - t0;
    if (rc)
        return -1;
    tt_db_curve_point p;
    p.search_s = search_time(T);
    p.trials = T->trials;
    p.est_latency = estimate(T, 1);
    p.meas_latency = lat;
    p.meas_untuned = unt;
    if (tt_db_curve_append(T->db, T->model_id, &T->target, &p, err))
        return -1;
    T->cp = tt_xrealloc(T->cp, (size_t)(T->ncp + 1) * sizeof *T->cp);
    T->cp[T->ncp].trials = p.trials;
    T->cp[T->ncp].search_s = p.search_s;
    T->cp[T->ncp].latency_s = lat;
    T->cp[T->ncp].untuned_s = unt;
    T->cp[T->ncp].est_latency_s = p.est_latency;
    T->ncp++;
    return 0;
}

/* Measure the checkpoints the trial count has reached (each once: those a
 * resumed run had passed already are skipped). */
static int checkpoints_due(tuner *T, tt_err *err)
{
    const tt_tune_opts *o = T->o;
    if (!T->model)
        return 0;
    int due = 0;
    while (T->next_cp < o->ncheckpoints && T->trials >= o->checkpoints[T->next_cp]) {
        T->next_cp++;
        due = 1;
    }
    return due ? checkpoint(T, err) : 0;
}

/* The kernels of a tune_kernels call (see its arguments). */
typedef struct kernel_list {
    int nk;
    const tt_dag *const *dags;
    const char *const *wkeys;
    const int *weights;
    const char *const *names;
    const int *alt_of;           /* NULL: no alternatives */
    const int64_t *kernel_ids;
} kernel_list;

/* Every kernel: its default schedule; those with a reduction and a policy
 * become the scheduler's tasks (task_of). */
static void init_tasks(tuner *T, const kernel_list *K, const tt_search_params *sp, uint64_t seed)
{
    int nk = K->nk, lanes = tt_host_vector_lanes();
    T->nk = nk;
    T->k = tt_xcalloc((size_t)nk, sizeof *T->k);
    T->task_of = tt_xcalloc((size_t)nk, sizeof(int));
    for (int i = 0; i < nk; i++) {
        ttask *t = &T->k[i];
        t->dag = K->dags[i];
        t->wkey = K->wkeys[i];
        t->weight = K->weights[i] > 0 ? K->weights[i] : 1;
        t->alt_of = K->alt_of ? K->alt_of[i] : -1;
        snprintf(t->name, sizeof t->name, "%s", K->names[i]);
        t->kernel_id = K->kernel_ids[i];
        t->default_s = -1;
        t->best_s = INFINITY;
        t->sched_id = -1;
        tt_step *steps = tt_xmalloc(TT_MAX_STEPS * sizeof(tt_step));
        int ns = 0;
        tt_err e = {0};
        if (tt_default_schedule(t->dag, lanes, steps, TT_MAX_STEPS, &ns, &e) == 0) {
            tt_state *s = tt_state_new(t->dag);
            if (tt_state_apply_all(s, steps, ns, &e) == 0) {
                t->default_state = s;
                t->default_steps = tt_steps_write(s->steps, s->nsteps);
            } else {
                tt_state_free(s);
            }
        }
        free(steps);
        if (dag_has_reduce(t->dag)) {
            tt_err pe = {0};
            t->pol = tt_policy_new(t->dag, sp, seed * 1000003u + (uint64_t)i, &pe);
            if (t->pol) {
                t->is_task = 1;
                t->sched_id = T->ntasks;
                T->task_of[T->ntasks++] = i;
            }
        }
    }
}

/* The task scheduler over the tasks; a direct conv and its Winograd twins
 * are one group (its kernel index). */
static void init_scheduler(tuner *T, int per_round, int early_stopping, uint64_t seed)
{
    int n = T->ntasks;
    double *w = tt_xcalloc((size_t)n + 1, sizeof(double));
    double *fl = tt_xcalloc((size_t)n + 1, sizeof(double));
    const char **ck = tt_xcalloc((size_t)n + 1, sizeof(char *));
    int *grp = tt_xcalloc((size_t)n + 1, sizeof(int));
    for (int j = 0; j < n; j++) {
        const ttask *t = &T->k[T->task_of[j]];
        w[j] = t->weight;
        fl[j] = t->dag->flops;
        ck[j] = t->dag->class_key;
        grp[j] = t->alt_of >= 0 ? t->alt_of : T->task_of[j];
    }
    tt_tasksched_params tp = tt_tasksched_defaults();
    tp.per_round = per_round;
    tp.per_task_early_stopping = early_stopping;
    tp.seed = seed;
    T->ts = tt_tasksched_new(n, w, fl, ck, &tp);
    tt_tasksched_set_groups(T->ts, grp);
    free(grp);
    free(w);
    free(fl);
    free(ck);
}

/* Resume: this model's own tuned records on this target, into the policies,
 * the cost model and the scheduler; the curve's search time continues.
 * *meas_trials: the trial count of the last checkpoint measured end to end
 * (-1 none).  Then the checkpoints an earlier run passed are skipped, but one
 * it passed without measuring (stopped between its last trials and their
 * checkpoint) is measured now, once, at the resumed state. */
static int resume(tuner *T, tt_err *err)
{
    int64_t meas_trials = -1;
    tt_db_filter f = own_records(T);
    for (int i = 0; i < T->nk; i++) {
        resume_ctx c = {T, i};
        if (tt_db_foreach_record(T->db, 0, T->k[i].wkey, &f, on_resumed, &c, err) < 0)
            return -1;
    }
    if (T->nres > 0 &&
        tt_cost_model_update(T->cm, T->nres, (const tt_state *const *)T->res_states, T->res_thr,
                             T->res_task, err))
        return -1;
    for (int j = 0; j < T->ntasks; j++) {
        const ttask *t = &T->k[T->task_of[j]];
        if (t->trials > 0)
            tt_tasksched_preload(T->ts, j, t->best_s);
    }
    tt_db_curve_point *pts = NULL;
    int np = 0;
    if (tt_db_curve_read(T->db, T->model_id, &T->target, &pts, &np, err))
        return -1;
    if (np > 0)
        T->search_base = pts[np - 1].search_s;
    for (int i = 0; i < np; i++)
        if (pts[i].meas_latency > 0 && pts[i].trials > meas_trials)
            meas_trials = pts[i].trials;
    free(pts);
    const tt_tune_opts *o = T->o;
    int missed_cp = 0;
    while (T->next_cp < o->ncheckpoints && o->checkpoints[T->next_cp] <= T->trials) {
        if (o->checkpoints[T->next_cp] > meas_trials)
            missed_cp = 1;
        T->next_cp++;
    }
    return missed_cp && T->model ? checkpoint(T, err) : 0;
}

static void free_batch(tt_state **batch, int n)
{
    for (int i = 0; i < n; i++)
        tt_state_free(batch[i]);
}

/* One round: the scheduler's task, its batch (warm-start candidates first,
 * then the policy's), measured and committed.  *reason is set when the
 * search is over.  Returns 0 or -1 with err set. */
static int one_round(tuner *T, int64_t budget, int per_round, tt_state **batch, const char **reason,
                     tt_err *err)
{
    const tt_tune_opts *o = T->o;
    if (o->stop && *o->stop)
        return *reason = "interrupted", 0;
    if (T->trials >= budget)
        return *reason = "trials", 0;
    if (o->time_s > 0 && tt_now() - T->t0 >= o->time_s)
        return *reason = "time", 0;
    int j = T->ntasks == 0 ? -1 : tt_tasksched_next(T->ts);
    if (j < 0)
        return *reason = "exhausted", 0;
    int ki = T->task_of[j];
    ttask *t = &T->k[ki];
    int want = per_round;
    if (budget - T->trials < want)
        want = (int)(budget - T->trials);
    int n = 0;
    if (!t->warm_done) {
        t->warm_done = 1;
        n = warm_candidates(T, ki, batch, want);
    }
    double ts0 = tt_now();
    int got = tt_policy_next_batch(t->pol, T->cm, want - n > 0 ? want - n : 0, batch + n, err);
    T->t_search += tt_now() - ts0;
    if (got < 0) {
        free_batch(batch, n);
        return -1;
    }
    n += got;
    T->round++;
    int ok = 0;
    int rc = n > 0 ? measure_batch(T, ki, batch, n, T->k[ki].default_state, &ok, err) : 0;
    free_batch(batch, n);
    if (rc)
        return -1;
    tt_tasksched_update(T->ts, j, t->best_s, n);
    if (append_curve(T, err) || checkpoints_due(T, err))
        return -1;
    if (o->progress) {
        tt_tune_status st;
        status_fill(T, ki, n, ok, &st);
        o->progress(o->ctx, &st);
    }
    return 0;
}

/* The run's figures and the per-task results into r; T's memory freed. */
static void finish(tuner *T, tt_tune_result *r)
{
    r->trials = T->trials;
    r->trials_run = T->trials_run;
    r->confirmed = T->confirmed;
    r->confirm_rejected = T->confirm_rejected;
    r->valid_run = T->valid_run;
    r->elapsed_s = tt_now() - T->t0;
    r->time_search_s = T->t_search;
    r->time_measure_s = T->t_measure;
    r->time_build_s = T->t_build;
    r->time_train_s = T->t_train;
    r->time_db_s = T->t_db;
    r->search_s = search_time(T);
    r->ncheckpoints = T->ncp;
    r->checkpoints = T->cp;
    T->cp = NULL;
    r->est_latency_s = estimate(T, 1);
    r->untuned_latency_s = estimate(T, 0);
    r->tasks = tt_xcalloc((size_t)(T->nk ? T->nk : 1), sizeof *r->tasks);
    r->ntasks = 0;
    for (int i = 0; i < T->nk; i++) {
        ttask *t = &T->k[i];
        if (t->is_task) {
            tt_tune_task_result *x = &r->tasks[r->ntasks++];
            snprintf(x->name, sizeof x->name, "%s", t->name);
            snprintf(x->class_key, sizeof x->class_key, "%s", t->dag->class_key);
            x->weight = t->weight;
            x->flops = t->dag->flops;
            x->trials = t->trials;
            x->default_s = t->default_s;
            x->best_s = isfinite(t->best_s) ? t->best_s : -1;
        }
        tt_policy_free(t->pol);
        free(t->best_steps);
        tt_ref_free(&t->ref);
        free(t->default_steps);
        tt_state_free(t->default_state);
    }
    for (int i = 0; i < T->nres; i++)
        tt_state_free(T->res_states[i]);
    free(T->res_states);
    free(T->res_thr);
    free(T->res_task);
    free(T->k);
    free(T->cp);
    tt_exec_free(T->untuned);
    free(T->untuned_alt);
    free(T->task_of);
    tt_cost_model_free(T->cm);
    tt_tasksched_free(T->ts);
}

static int tune_kernels(tt_db *db, int64_t model_id, const tt_model *model, const kernel_list *K,
                        const tt_tune_opts *o, tt_tune_result *r, tt_err *err)
{
    memset(r, 0, sizeof *r);
    tuner T;
    memset(&T, 0, sizeof T);
    T.db = db;
    T.model_id = model_id;
    T.o = o;
    T.model = model;
    T.t0 = tt_now();
    T.confirm = !o->no_confirm;
    int threads = o->threads > 0 ? o->threads : ncores();
    tt_db_target_host(&T.target, threads);
    if (o->run) {
        T.ro = *o->run;
        T.ro.threads = threads;
        snprintf(r->cache_why, sizeof r->cache_why, "%d (set by the caller)", T.ro.cache_flush);
    } else {
        tt_tune_default_run_opts(&T.ro, threads, tt_tune_cache_state(model, r->cache_why,
                                                                     sizeof r->cache_why));
    }
    r->cache = T.ro.cache_flush;
    if (o->build)
        T.bo = *o->build;
    tt_search_params sp;
    if (o->search)
        sp = *o->search;
    else {
        tt_search_params_default(&sp);
        sp.num_cores = threads;
    }
    int rc = -1;
    uint64_t seed = o->seed ? o->seed : 1;
    init_tasks(&T, K, &sp, seed);
    int per_round = o->per_round;
    int64_t budget = o->trials > 0 ? o->trials : (int64_t)64 * (T.ntasks ? T.ntasks : 1);
    if (per_round <= 0) {
        per_round = T.ntasks ? (int)(budget / T.ntasks) : 64;
        if (per_round > 64)
            per_round = 64;
        if (per_round < 1)
            per_round = 1;
    }
    tt_tune_opts o2 = *o;
    o2.trials = budget;
    T.o = &o2;
    tt_cost_opts co;
    if (o->cost)
        co = *o->cost;
    else {
        tt_cost_opts_default(&co);
        co.nthread = ncores(); /* the search never overlaps with measurement */
        co.num_warmup_sample = sp.num_warmup_sample > 0 ? sp.num_warmup_sample : T.ntasks * per_round;
    }
    tt_state **batch = tt_xcalloc((size_t)per_round + 2, sizeof(tt_state *));
    const char *reason = NULL;
    T.cm = tt_cost_model_new(&co, err);
    if (!T.cm)
        goto out;
    init_scheduler(&T, per_round, o->early_stopping, seed);
    if (resume(&T, err))
        goto out;
    r->resumed = T.resumed;
    if (o->progress) {
        tt_tune_status st;
        status_fill(&T, -1, 0, 0, &st);
        o->progress(o->ctx, &st);
    }
    if (T.trials >= budget)
        reason = "budget already met";
    /* round 0: every kernel's default schedule */
    if (!reason && (measure_defaults(&T, err) || checkpoints_due(&T, err)))
        goto out;
    while (!reason)
        if (one_round(&T, budget, per_round, batch, &reason, err))
            goto out;
    if (T.trials_run > 0 && append_curve(&T, err))
        goto out;
    rc = 0;
    r->stop_reason = reason;
out:
    free(batch);
    finish(&T, r);
    return rc;
}

int tt_tune_model(tt_db *db, const char *name, const char *source, const tt_model *m,
                  const tt_tune_opts *o, tt_tune_result *r, tt_err *err)
{
    int64_t model_id = 0;
    int64_t *kids = tt_xcalloc((size_t)m->nkernels + 1, sizeof(int64_t));
    if (tt_db_add_model(db, name, source, m, &model_id, kids, err)) {
        free(kids);
        memset(r, 0, sizeof *r);
        return -1;
    }
    /* every kernel, the Winograd twins as tasks of their own, grouped with
     * their direct conv: the search tunes both computes and the model runs
     * the faster (the task scheduler and the estimate count a group once) */
    int nk = m->nkernels;
    const tt_dag **dags = tt_xcalloc((size_t)nk + 1, sizeof(tt_dag *));
    const char **wk = tt_xcalloc((size_t)nk + 1, sizeof(char *));
    char **names = tt_xcalloc((size_t)nk + 1, sizeof(char *));
    int *w = tt_xcalloc((size_t)nk + 1, sizeof(int));
    int *alt_of = tt_xcalloc((size_t)nk + 1, sizeof(int));
    for (int i = 0; i < nk; i++) {
        const tt_kernel *K = &m->kernels[i];
        dags[i] = K->dag;
        wk[i] = K->workload_key;
        tt_str nm;
        tt_str_init(&nm);
        tt_str_cat(&nm, K->first_node);
        if (K->alt_of >= 0)
            tt_str_catf(&nm, " [Winograd F(%d,3)]", K->wino_m);
        names[i] = tt_str_take(&nm);
        w[i] = K->weight;
        alt_of[i] = K->alt_of;
    }
    kernel_list K = {nk, dags, wk, w, (const char *const *)names, alt_of, kids};
    int rc = tune_kernels(db, model_id, m, &K, o, r, err);
    for (int i = 0; i < nk; i++)
        free(names[i]);
    free(dags);
    free(wk);
    free(names);
    free(w);
    free(alt_of);
    free(kids);
    return rc;
}

int tt_tune_dag(tt_db *db, const char *name, const tt_dag *d, const tt_tune_opts *o,
                tt_tune_result *r, tt_err *err)
{
    int64_t model_id = 0, kid = 0;
    memset(r, 0, sizeof *r);
    if (tt_db_add_model(db, name, "kernel", NULL, &model_id, NULL, err))
        return -1;
    char *wk = tt_dag_workload_key(d);
    if (tt_db_kernel_id(db, wk, NULL, d, &kid, err)) {
        free(wk);
        return -1;
    }
    const tt_dag *dags[1] = {d};
    const char *wks[1] = {wk};
    const char *names[1] = {name};
    int w[1] = {1};
    kernel_list K = {1, dags, wks, w, names, NULL, &kid};
    int rc = tune_kernels(db, model_id, NULL, &K, o, r, err);
    free(wk);
    return rc;
}
