/* test_tune.c - the task scheduler, from given latencies (no measurement),
 * and a short real search whose records are all checked. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/exec/exec.h"
#include "../src/model/model.h"
#include "../src/tune/tasksched.h"
#include "../src/tune/tune.h"
#include "test.h"

static int near(double a, double b) { return fabs(a - b) <= 1e-9 * (fabs(a) + fabs(b) + 1); }

static void test_warmup_then_gradient(void)
{
    double w[3] = {1, 5, 1}, fl[3] = {1e9, 1e9, 2e9};
    const char *ck[3] = {"conv2d_nhwc+add+relu", "conv2d_nhwc+add+relu", "dense"};
    tt_tasksched *s = tt_tasksched_new(3, w, fl, ck, NULL);
    /* round-robin warm-up: every task once, in order */
    for (int i = 0; i < 3; i++) {
        CHECK(tt_tasksched_next(s) == i);
        tt_tasksched_update(s, i, 0.010, 64);
    }
    /* After one round each: backward 0 (too few rounds), own forward
     * g - g/1 = 0 beats the similarity bound, so forward = -g and
     * grad = w * 0.8 * (-g): the heaviest task goes first. */
    int next = tt_tasksched_next(s);
    CHECK(next == 1);
    CHECK(near(tt_tasksched_gradient(s, 0), -0.8 * 0.010));
    CHECK(near(tt_tasksched_gradient(s, 1), -5 * 0.8 * 0.010));
    CHECK(near(tt_tasksched_gradient(s, 2), -0.8 * 0.010));
    int complete;
    CHECK(near(tt_tasksched_objective(s, &complete), 7 * 0.010) && complete);
    tt_tasksched_free(s);
}

static void test_backward_and_forward(void)
{
    double w[2] = {1, 1}, fl[2] = {1e9, 1e9};
    const char *ck[2] = {"a", "b"}; /* different tags: no similarity bound */
    tt_tasksched *s = tt_tasksched_new(2, w, fl, ck, NULL);
    double ha[4] = {10, 8, 6, 4}, hb[4] = {10, 10, 10, 10};
    for (int r = 0; r < 4; r++) {
        tt_tasksched_preload(s, 0, ha[r]);
        tt_tasksched_preload(s, 1, hb[r]);
    }
    /* A: backward (4-10)/3 = -2, forward min(4 - 4/4, 2*4) - 4 = -1:
     *    grad = 0.2*-2 + 0.8*-1 = -1.2
     * B: backward 0, forward min(10 - 2.5, 20) - 10 = -2.5: grad = -2.0 */
    int next = tt_tasksched_next(s);
    CHECK(near(tt_tasksched_gradient(s, 0), -1.2));
    CHECK(near(tt_tasksched_gradient(s, 1), -2.0));
    CHECK(next == 1);
    tt_tasksched_free(s);
}

static void test_similar_tasks_bound(void)
{
    /* Same tag: the slow task is bounded by beta x the fast one's throughput. */
    double w[2] = {1, 1}, fl[2] = {1e9, 1e9};
    const char *ck[2] = {"conv", "conv"};
    tt_tasksched *s = tt_tasksched_new(2, w, fl, ck, NULL);
    for (int r = 0; r < 2; r++) {
        tt_tasksched_preload(s, 0, 1.0);  /* fast: 1e9 FLOP/s */
        tt_tasksched_preload(s, 1, 10.0); /* slow */
    }
    tt_tasksched_next(s);
    /* slow: own = 10 - 10/2 = 5; similar = 2 * 1e9 / 1e9 = 2 -> forward = 2 - 10 = -8 */
    CHECK(near(tt_tasksched_gradient(s, 1), 0.8 * -8.0));
    /* fast: own 0.5, similar 2 -> forward -0.5 */
    CHECK(near(tt_tasksched_gradient(s, 0), 0.8 * -0.5));
    tt_tasksched_free(s);
}

static void test_alternative_groups(void)
{
    /* tasks 0 and 1: two computes of one kernel (a direct conv and its
     * Winograd twin); task 2 alone.  Different tags: no similarity bound. */
    double w[3] = {2, 2, 1}, fl[3] = {1e9, 1e9, 1e9};
    const char *ck[3] = {"a", "b", "c"};
    int group[3] = {0, 0, 2};
    tt_tasksched *s = tt_tasksched_new(3, w, fl, ck, NULL);
    tt_tasksched_set_groups(s, group);
    for (int r = 0; r < 2; r++) {
        tt_tasksched_preload(s, 0, 10.0);
        tt_tasksched_preload(s, 1, 1.0);
        tt_tasksched_preload(s, 2, 5.0);
    }
    /* the group counts once, at its fastest form */
    int complete;
    CHECK(near(tt_tasksched_objective(s, &complete), 2 * 1.0 + 1 * 5.0) && complete);
    int next = tt_tasksched_next(s);
    /* task 0: own forward 10 - 5 = 5 -> d = 0.8 * -5 = -4; 10 - 4 = 6 is still
     * above the group's 1: no gain.  task 1: d = 0.8 * -0.5, all below the
     * group's best: 2 * -0.4.  task 2: 0.8 * -2.5 = -2. */
    CHECK(near(tt_tasksched_gradient(s, 0), 0.0));
    CHECK(near(tt_tasksched_gradient(s, 1), 2 * -0.4));
    CHECK(near(tt_tasksched_gradient(s, 2), -2.0));
    CHECK(next == 2);
    /* the slow form far ahead of the fast one: only what it goes below 1 counts */
    tt_tasksched_update(s, 0, 1.2, 64); /* 3 rounds: no backward term yet */
    tt_tasksched_next(s);
    double d = 0.8 * ((1.2 - 1.2 / 3) - 1.2); /* 1.2 + d = 0.88 */
    CHECK(near(tt_tasksched_gradient(s, 0), 2 * (fmin(1.2 + d, 1.0) - 1.0)));
    CHECK(tt_tasksched_gradient(s, 0) < 0);
    /* without groups, the same tasks are independent again */
    tt_tasksched_set_groups(s, NULL);
    CHECK(near(tt_tasksched_objective(s, &complete), 2 * 1.2 + 2 * 1.0 + 1 * 5.0));
    tt_tasksched_free(s);
}

static void test_dead_tasks_and_no_schedule(void)
{
    tt_tasksched_params p = tt_tasksched_defaults();
    p.per_task_early_stopping = 128; /* 2 rounds of 64 */
    tt_tasksched *s = tt_tasksched_new(3, NULL, NULL, NULL, &p);
    for (int i = 0; i < 3; i++)
        CHECK(tt_tasksched_next(s) == i);
    tt_tasksched_update(s, 0, 1.0, 64);
    tt_tasksched_update(s, 1, INFINITY, 64); /* no valid schedule yet: most urgent */
    tt_tasksched_update(s, 2, 1.0, 0);       /* nothing left to measure: dead */
    CHECK(tt_tasksched_dead(s, 2));
    int complete;
    tt_tasksched_objective(s, &complete);
    CHECK(!complete);
    CHECK(tt_tasksched_next(s) == 1);
    tt_tasksched_update(s, 1, 2.0, 64);
    /* task 0 stops improving: dead after more than 128 trials without gain */
    for (int r = 0; r < 3; r++)
        tt_tasksched_update(s, 0, 1.0, 64);
    CHECK(tt_tasksched_dead(s, 0));
    CHECK(tt_tasksched_next(s) == 1);
    tt_tasksched_update(s, 1, 2.0, 0);
    CHECK(tt_tasksched_next(s) == -1);
    tt_tasksched_free(s);
}

/* ---- a real search ----------------------------------------------------------- */

typedef struct walk {
    int n, ok, wrong_origin, wrong_model;
    int64_t model;
    double best;
    tt_step *steps;          /* the best record's steps */
    int nsteps;
    int best_index, best_ncosts; /* the best record's place (0 = first) and its costs */
    char *seen[128];
    int dup;
} walk;

static int on_row(void *ctx, const tt_db_row *row)
{
    walk *w = ctx;
    w->wrong_origin += row->origin != TT_ORIGIN_TUNED;
    w->wrong_model += row->source_model != w->model;
    char *j = tt_steps_write(row->rec.steps, row->rec.nsteps);
    for (int i = 0; i < w->n && i < 128; i++)
        if (w->seen[i] && !strcmp(w->seen[i], j))
            w->dup++;
    if (w->n < 128)
        w->seen[w->n] = j;
    else
        free(j);
    w->n++;
    if (row->rec.error_no == 0 && row->mean_cost > 0) {
        w->ok++;
        if (row->mean_cost < w->best) {
            w->best = row->mean_cost;
            w->best_index = w->n - 1;
            w->best_ncosts = row->rec.ncosts;
            memcpy(w->steps, row->rec.steps, (size_t)row->rec.nsteps * sizeof(tt_step));
            w->nsteps = row->rec.nsteps;
        }
    }
    return 0;
}

/* A fresh folder for a test database (dir) and the database's path in it. */
static int tmp_db(char *dir, size_t dn, char *path, size_t pn)
{
    if (tt_temp_dir("tt-test-tune", dir, dn, NULL))
        return 0;
    snprintf(path, pn, "%s/t.db", dir);
    return 1;
}

static void tmp_done(const char *dir)
{
    if (tt_remove_tree(dir))
        fprintf(stderr, "    could not remove %s\n", dir);
}

/* About 64 trials of a small dense layer: every trial measured and checked,
 * committed with origin tuned and this model as the source, the best no
 * slower than the default schedule, and the best record correct when it is
 * replayed and measured again on its own.  Another model's record of the
 * same kernel in the database is not used (no warm start). */
static void test_short_search(void)
{
    char dir[256], path[300];
    CHECK(tmp_db(dir, sizeof dir, path, sizeof path));
    tt_err err = {0};
    tt_epilogue epi = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RELU}};
    tt_dag *d = tt_build_dense(16, 64, 64, &epi, &err);
    CHECK_MSG(d, "%s", err.msg);
    tt_db *db = NULL;
    CHECK_MSG(tt_db_open(path, 0, &db, &err) == 0, "%s", err.msg);
    /* another model's record of the same kernel, absurdly fast: the search
     * must neither resume from it nor count it (no --warm-start) */
    {
        int64_t other = 0, kid = 0;
        CHECK_MSG(tt_db_add_model(db, "other model", "test", NULL, &other, NULL, &err) == 0, "%s", err.msg);
        CHECK_MSG(tt_db_kernel_id(db, NULL, NULL, d, &kid, &err) == 0, "%s", err.msg);
        tt_step *ds = tt_xmalloc(TT_MAX_STEPS * sizeof(tt_step));
        int nds = 0;
        CHECK(tt_default_schedule(d, tt_host_vector_lanes(), ds, TT_MAX_STEPS, &nds, &err) == 0);
        tt_state *s0 = tt_state_new(d);
        CHECK(tt_state_apply_all(s0, ds, nds, &err) == 0);
        free(ds);
        tt_result fake;
        memset(&fake, 0, sizeof fake);
        fake.ncosts = 1;
        fake.costs[0] = fake.mean = 1e-9;
        fake.correct = 1;
        tt_db_target tg;
        tt_db_target_host(&tg, 1);
        tt_record *rec = tt_xcalloc(1, sizeof *rec);
        tt_tune_fill_record(rec, s0, &fake, 0, &tg);
        tt_db_rec in = {kid, rec, &tg, TT_ORIGIN_TUNED, other};
        CHECK_MSG(tt_db_add_records(db, 1, &in, NULL, &err) == 0, "%s", err.msg);
        free(rec);
        tt_state_free(s0);
    }
    tt_tune_opts o;
    memset(&o, 0, sizeof o);
    o.trials = 64;
    o.threads = 1;
    o.per_round = 21;
    o.seed = 7;
    tt_tune_result r;
    int rc = tt_tune_dag(db, "kernel:test dense", d, &o, &r, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    fprintf(stderr, "    %lld trials, %lld correct, %.1f s (search %.1f, build %.1f, run %.1f); "
            "best %.4f ms, default %.4f ms; %lld would-be bests measured again, %lld not "
            "confirmed\n", (long long)r.trials_run, (long long)r.valid_run,
            r.elapsed_s, r.time_search_s, r.time_build_s, r.time_measure_s - r.time_build_s,
            r.est_latency_s * 1e3, r.untuned_latency_s * 1e3, (long long)r.confirmed,
            (long long)r.confirm_rejected);
    CHECK(r.trials == 64 && r.trials_run == 64 && r.resumed == 0);
    CHECK(r.est_latency_s > 1e-8); /* the other model's 1 ns record was not used */
    CHECK(r.ntasks == 1 && r.tasks[0].trials == 64);
    CHECK(!strcmp(r.stop_reason, "trials"));
    CHECK(r.valid_run >= 48); /* most random schedules of a dense layer work */
    /* the model's estimates are its one task's latencies (weight 1); not
     * est <= untuned, which cannot fail: the default schedule is a trial */
    CHECK(r.tasks[0].weight == 1 && r.tasks[0].default_s > 0 && r.tasks[0].best_s > 0);
    CHECK_MSG(r.est_latency_s == r.tasks[0].best_s && r.untuned_latency_s == r.tasks[0].default_s,
              "estimated %.6g s, untuned %.6g s; task best %.6g s, default %.6g s",
              r.est_latency_s, r.untuned_latency_s, r.tasks[0].best_s, r.tasks[0].default_s);
    int64_t mid = 0;
    CHECK(tt_db_model_id(db, "kernel:test dense", &mid, &err) == 1);
    walk w = {.model = mid, .best = INFINITY};
    w.steps = tt_xmalloc(TT_MAX_STEPS * sizeof(tt_step));
    char *wk = tt_dag_workload_key(d);
    tt_db_filter only;
    memset(&only, 0, sizeof only);
    only.only_model = mid;
    CHECK(tt_db_foreach_record(db, 0, wk, &only, on_row, &w, &err) == 0);
    free(wk);
    CHECK_MSG(w.n == 64 && w.ok == r.valid_run && w.wrong_origin == 0 && w.wrong_model == 0,
              "%d records, %d ok, %d wrong origin, %d wrong model", w.n, w.ok, w.wrong_origin,
              w.wrong_model);
    CHECK_MSG(w.dup == 0, "%d states measured twice", w.dup);
    CHECK(fabs(w.best - r.est_latency_s) <= 1e-12);
    /* the best record is the default schedule (the first record: 5 costs) or
     * a candidate measured again before it was believed (10 costs) */
    CHECK_MSG(w.best_index == 0 || w.best_ncosts == 10, "best record %d has %d costs", w.best_index,
              w.best_ncosts);
    CHECK(r.confirm_rejected <= r.confirmed);
    /* the best record, replayed and measured again: correct */
    tt_state *s = tt_state_new(d);
    CHECK_MSG(tt_state_apply_all(s, w.steps, w.nsteps, &err) == 0, "%s", err.msg);
    tt_eval_item it;
    memset(&it, 0, sizeof it);
    it.state = s;
    tt_eval_task task = {.dag = d, .nitems = 1, .items = &it};
    tt_run_opts ro;
    tt_tune_default_run_opts(&ro, 1, TT_CACHE_FLUSH);
    tt_build_opts bo = {0};
    CHECK(tt_evaluate(&task, 1, &bo, &ro, NULL, NULL, &err) == 0);
    CHECK_MSG(it.res.error == 0 && it.res.correct, "%s", it.res.msg);
    /* the curve: one point per round, trials growing */
    tt_db_curve_point *pts = NULL;
    int np = 0;
    CHECK(tt_db_curve_read(db, mid, NULL, &pts, &np, &err) == 0);
    CHECK(np >= 3 && pts[np - 1].trials == 64);
    for (int i = 1; i < np; i++)
        CHECK(pts[i].trials >= pts[i - 1].trials && pts[i].est_latency <= pts[i - 1].est_latency);
    free(pts);
    tt_state_free(s);
    for (int i = 0; i < w.n && i < 128; i++)
        free(w.seen[i]);
    free(w.steps);
    tt_tune_result_free(&r);
    tt_db_close(db);
    tt_dag_free(d);
    tmp_done(dir);
}

/* End-to-end checkpoints of a short model search: each is timed beside the
 * untuned model and both land in the curve; the first (all defaults) is
 * the untuned model against itself. */
/* The cache state a model is timed in: warm by default (with the model's
 * footprint in the explanation: ResNet-50 touches over 100 MB), warm for a
 * kernel alone, and TT_CACHE overrides. */
static void test_cache_state(void)
{
    tt_err err = {0};
    tt_model *big = NULL, *tiny = NULL;
    CHECK_MSG(tt_model_load("resnet50", &big, &err) == 0, "%s", err.msg);
    CHECK_MSG(tt_model_load("tiny", &tiny, &err) == 0, "%s", err.msg);
    char why[200] = "";
    const char *saved = getenv("TT_CACHE");
    char keep[32] = "";
    if (saved)
        snprintf(keep, sizeof keep, "%s", saved);
    unsetenv("TT_CACHE");
    double mb = 0;
    if (big)
        CHECK_MSG(tt_tune_cache_state(big, why, sizeof why) == TT_CACHE_WARM, "%s", why);
    CHECK_MSG(sscanf(why, "warm (one inference touches %lf MB", &mb) == 1 && mb > 100, "%s", why);
    if (tiny)
        CHECK(tt_tune_cache_state(tiny, why, sizeof why) == TT_CACHE_WARM);
    CHECK(tt_tune_cache_state(NULL, why, sizeof why) == TT_CACHE_WARM);
    setenv("TT_CACHE", "l3", 1);
    CHECK(tt_tune_cache_state(big, why, sizeof why) == TT_CACHE_L3 && strstr(why, "TT_CACHE"));
    setenv("TT_CACHE", "flush", 1);
    CHECK(tt_tune_cache_state(NULL, why, sizeof why) == TT_CACHE_FLUSH && strstr(why, "TT_CACHE"));
    setenv("TT_CACHE", "bogus", 1); /* ignored, and said so */
    CHECK(tt_tune_cache_state(NULL, why, sizeof why) == TT_CACHE_WARM && strstr(why, "bogus ignored"));
    if (keep[0])
        setenv("TT_CACHE", keep, 1);
    else
        unsetenv("TT_CACHE");
    tt_model_free(big);
    tt_model_free(tiny);
}

static void test_checkpoints(void)
{
    char dir[256], path[300];
    CHECK(tmp_db(dir, sizeof dir, path, sizeof path));
    tt_err err = {0};
    tt_model *m = NULL;
    CHECK_MSG(tt_model_load("tiny", &m, &err) == 0, "%s", err.msg);
    tt_db *db = NULL;
    CHECK_MSG(tt_db_open(path, 0, &db, &err) == 0, "%s", err.msg);
    int64_t cps[2] = {m->nkernels, m->nkernels + 6};
    tt_tune_opts o;
    memset(&o, 0, sizeof o);
    o.threads = 1;
    o.per_round = 2;
    o.trials = cps[1];
    o.ncheckpoints = 2;
    o.checkpoints = cps;
    o.checkpoint_repeat = 3;
    tt_tune_result r;
    int rc = tt_tune_model(db, "tiny", "tiny", m, &o, &r, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK_MSG(r.ncheckpoints == 2, "%d checkpoints", r.ncheckpoints);
    for (int i = 0; i < r.ncheckpoints; i++) {
        const tt_tune_checkpoint *c = &r.checkpoints[i];
        fprintf(stderr, "    checkpoint %d: %lld trials, %.4f ms, untuned %.4f ms\n", i,
                (long long)c->trials, c->latency_s * 1e3, c->untuned_s * 1e3);
        CHECK(c->latency_s > 0 && c->untuned_s > 0);
    }
    /* the first: every kernel on its default schedule, timed against itself */
    CHECK(r.checkpoints[0].latency_s < 3 * r.checkpoints[0].untuned_s &&
          r.checkpoints[0].untuned_s < 3 * r.checkpoints[0].latency_s);
    int64_t mid = 0;
    CHECK(tt_db_model_id(db, "tiny", &mid, &err) == 1);
    tt_db_curve_point *pts = NULL;
    int np = 0, measured = 0;
    CHECK(tt_db_curve_read(db, mid, NULL, &pts, &np, &err) == 0);
    for (int i = 0; i < np; i++)
        if (pts[i].meas_latency >= 0) {
            CHECK(pts[i].meas_untuned > 0 && measured < 2 &&
                  pts[i].meas_untuned == r.checkpoints[measured].untuned_s);
            measured++;
        } else {
            CHECK(pts[i].meas_untuned < 0);
        }
    CHECK(measured == 2);
    free(pts);
    tt_tune_result_free(&r);

    /* resumed with the budget met and every checkpoint measured: nothing more */
    rc = tt_tune_model(db, "tiny", "tiny", m, &o, &r, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK_MSG(r.ncheckpoints == 0, "%d checkpoints", r.ncheckpoints);
    tt_tune_result_free(&r);
    tt_db_close(db);

    /* a run stopped after its last trials but before their checkpoint (here:
     * one without checkpoints): the resumed run measures the missed one once */
    CHECK(unlink(path) == 0);
    CHECK_MSG(tt_db_open(path, 0, &db, &err) == 0, "%s", err.msg);
    o.ncheckpoints = 0;
    rc = tt_tune_model(db, "tiny", "tiny", m, &o, &r, &err);
    CHECK_MSG(rc == 0 && r.ncheckpoints == 0, "%s", err.msg);
    tt_tune_result_free(&r);
    o.ncheckpoints = 2;
    rc = tt_tune_model(db, "tiny", "tiny", m, &o, &r, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK_MSG(r.ncheckpoints == 1 && r.checkpoints[0].trials == cps[1], "%d checkpoints",
              r.ncheckpoints);
    tt_tune_result_free(&r);
    tt_db_close(db);
    tt_model_free(m);
    tmp_done(dir);
}

/* Building and measuring leave nothing in $TMPDIR (a search makes thousands
 * of builds; they used to pile up there), and a caller's work dir is kept. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

static void test_builds_clean_up(void)
{
    tt_err err = {0};
    char tmp[1024], keep[1100];
    CHECK_MSG(tt_temp_dir("tt-test-clean", tmp, sizeof tmp, &err) == 0, "%s", err.msg);
    char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    setenv("TMPDIR", tmp, 1);
    tt_epilogue epi = {.n = 1, .ops = {TT_EPI_RELU}};
    tt_dag *d = tt_build_dense(4, 16, 16, &epi, &err);
    tt_state *s = d ? tt_state_new(d) : NULL;
    tt_eval_item it = {.state = s};
    tt_eval_task task = {.dag = d, .nitems = 1, .items = &it};
    tt_run_opts ro;
    tt_tune_default_run_opts(&ro, 1, TT_CACHE_FLUSH);
    tt_build_opts bo = {0};
    int ev = d ? tt_evaluate(&task, 1, &bo, &ro, NULL, NULL, &err) : -1;
    int after_eval = dir_entries(tmp);
    tt_model *m = NULL;
    tt_exec *e = NULL;
    tt_exec_opts eo = {.threads = 1};
    int ex = tt_model_load("tiny", &m, &err) || tt_exec_build(m, &eo, &e, &err);
    int after_exec = dir_entries(tmp);
    /* a work dir of the caller's own: its files stay */
    snprintf(keep, sizeof keep, "%s/keep", tmp);
    bo.workdir = keep;
    it.res.error = 0;
    int ev2 = d ? tt_evaluate(&task, 1, &bo, &ro, NULL, NULL, &err) : -1;
    int kept = dir_entries(keep);
    if (old)
        setenv("TMPDIR", old, 1);
    else
        unsetenv("TMPDIR");
    free(old);
    tt_exec_free(e);
    tt_model_free(m);
    tt_state_free(s);
    tt_dag_free(d);
    tt_remove_tree(tmp);
    CHECK_MSG(ev == 0 && ex == 0 && ev2 == 0, "%s", err.msg);
    CHECK_MSG(it.res.error == 0 && it.res.correct, "%s", it.res.msg);
    CHECK_MSG(after_eval == 0, "tt_evaluate left %d entries in TMPDIR", after_eval);
    CHECK_MSG(after_exec == 0, "tt_exec_build left %d entries in TMPDIR", after_exec);
    CHECK_MSG(kept == 1, "the caller's work dir has %d entries, not its build folder", kept);
}

const tt_test tests_tune[] = {
    {"tasksched_warmup_then_gradient", test_warmup_then_gradient},
    {"tasksched_backward_and_forward", test_backward_and_forward},
    {"tasksched_similar_tasks_bound", test_similar_tasks_bound},
    {"tasksched_dead_tasks", test_dead_tasks_and_no_schedule},
    {"tasksched_alternative_groups", test_alternative_groups},
    {"short_search", test_short_search},
    {"checkpoints", test_checkpoints},
    {"cache_state", test_cache_state},
    {"builds_clean_up", test_builds_clean_up},
    {NULL, NULL},
};
