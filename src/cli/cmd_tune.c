/* cmd_tune.c - `transtune tune MODEL` and `transtune tune-kernel OP`: the
 * Ansor-style search, its progress and its report. */
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../transfer/transfer.h"
#include "../tune/tune.h"
#include "cli.h"

static void tune_help(void)
{
    printf(
        "usage: transtune tune MODEL [--db DB] [--trials N] [--time SECONDS] [--threads T]\n"
        "                      [--per-round K] [--early-stopping N] [--seed S] [--warm-start]\n"
        "                      [--json] [--quiet]\n"
        "       transtune tune-kernel OP [shape options] [--db DB] [--trials N] [same options]\n"
        "\n"
        "Search schedules for the kernels of MODEL (a zoo name or an .onnx file) with\n"
        "Ansor's algorithm: sketches, random annotation, evolutionary search guided by an\n"
        "XGBoost cost model, and the gradient task scheduler across kernels.  Kernels with\n"
        "a reduction are searched; elementwise ones keep their default schedule.  A 3x3\n"
        "stride-1 conv's Winograd forms (F(4,3), F(2,3)) are searched as kernels of their\n"
        "own, grouped with it: the scheduler and the estimate count the group at its\n"
        "fastest form, and `run` runs the form fastest in place.  Every\n"
        "trial is built, run and its output checked; every measured batch is committed to\n"
        "the database DB (default $TT_DB, else transtune.db in the user's cache folder,\n"
        "see db --help) in one transaction, so an\n"
        "interrupted search loses at most one batch.  Then `transtune run MODEL --db DB`\n"
        "runs the best records.\n"
        "\n"
        "  --trials N        total trials for this model on this CPU and thread count,\n"
        "                    counting those already in DB (default 64 per kernel searched);\n"
        "                    the same command again resumes an interrupted search\n"
        "  --time SECONDS    stop this run after that much wall time (between rounds)\n"
        "  --threads T       threads of the measured kernels (default: all cores)\n"
        "  --per-round K     trials per round (default min(64, trials / kernels))\n"
        "  --early-stopping N  a kernel stops after N trials without improvement\n"
        "  --seed S          search seed (default 1)\n"
        "  --param NAME=VALUE  a search parameter (Ansor's names and defaults:\n"
        "                    evolutionary_search_population=2048, evolutionary_search_num_iters=4,\n"
        "                    evolutionary_search_mutation_prob=0.85, eps_greedy=0.05,\n"
        "                    sample_init_min_population=50, sample_init_use_measured_ratio=0.2,\n"
        "                    max_innermost_split_factor=64, max_vectorize_size=16,\n"
        "                    unroll=0,16,64,512, tiling_structure=SSRSRS, mutate_tile_size=0.9,\n"
        "                    mutate_auto_unroll=0.04, mutate_compute_location=0.05,\n"
        "                    mutate_parallel=0.01, num_cores=THREADS,\n"
        "                    num_warmup_sample=0 (= kernels x per-round), ...; and ours:\n"
        "                    local_search_ratio=0.25, the share of each round taken from\n"
        "                    neighbours of the best measured schedules, the default among\n"
        "                    them, local_search_mutants=256 of them ranked; 0 = Ansor's\n"
        "                    rounds); repeatable\n"
        "  --checkpoints auto|N1,N2,...  when the model's trial count reaches each Ni,\n"
        "                    build the model with the best records so far and time it end to\n"
        "                    end, alternately with the untuned model (both stored in the\n"
        "                    tuning curve; not counted as search time);\n"
        "                    auto = 1/32, 1/16, 1/8, 1/4, 1/2 and all of --trials\n"
        "  --warm-start      transfer, then search: each kernel's first round also measures\n"
        "                    the candidates `transfer` would measure on it (the other\n"
        "                    models' best tuned or imported records of its class in DB,\n"
        "                    replayed on this kernel; the same code picks them); without\n"
        "                    it the search uses only this model's own records\n"
        "  --no-confirm      believe a candidate's first measurement even when it would\n"
        "                    become its kernel's best (as TVM does); by default such a\n"
        "                    candidate is measured again (10 repeats beside the default\n"
        "                    schedule) and the second measurement is its record\n"
        "  --json            print the final report as one JSON object\n"
        "  --quiet           no progress line\n"
        "\n"
        "tune-kernel tunes one workload given as in `transtune kernel` (OP and shape\n"
        "options, see transtune kernel --help); it is stored as a model named\n"
        "\"kernel:WORKLOAD\".\n"
        "\n"
        "Progress (stderr): trials, elapsed time, estimated model latency (sum of weight x\n"
        "best time over kernels, measured standalone) beside the untuned estimate, kernels\n"
        "with a searched schedule.  Ctrl-C stops after the current batch is committed.\n"
        "Exit status: 0 ok; 1 failure; 2 usage.\n");
}

static volatile int g_stop;

static void on_sigint(int sig)
{
    (void)sig;
    g_stop = 1;
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C kills at once */
}

typedef struct prog {
    int tty, quiet;
    int last_len;
} prog;

static void fmt_ms(char *b, size_t n, double s)
{
    if (s > 0)
        snprintf(b, n, "%.3f ms", s * 1e3);
    else
        snprintf(b, n, "?");
}

static void on_progress(void *ctx, const tt_tune_status *st)
{
    prog *p = ctx;
    if (p->quiet)
        return;
    char est[32], unt[32], line[512];
    fmt_ms(est, sizeof est, st->est_latency_s);
    fmt_ms(unt, sizeof unt, st->untuned_latency_s);
    int el = (int)st->elapsed_s;
    int n = snprintf(line, sizeof line,
                     "[%lld/%lld trials] %d:%02d  est %s (untuned %s)  kernels %d/%d searched",
                     (long long)st->trials, (long long)st->budget, el / 60, el % 60, est, unt,
                     st->tasks_tuned, st->ntasks);
    if (st->round == 0 && st->batch == 0 && st->trials > 0)
        n += snprintf(line + n, sizeof line - (size_t)n, "  (resumed)");
    else if (st->batch > 0 && st->task >= 0)
        n += snprintf(line + n, sizeof line - (size_t)n, "  | %s: %d/%d ok", st->task_name,
                      st->batch_ok, st->batch);
    else if (st->batch > 0)
        n += snprintf(line + n, sizeof line - (size_t)n, "  | default of %s", st->task_name);
    if (p->tty) {
        fprintf(stderr, "\r%-*s", p->last_len, line);
        p->last_len = n < (int)sizeof line ? n : (int)sizeof line - 1;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

typedef struct tune_args {
    const char *what;          /* MODEL or OP */
    const char *db_path;
    int64_t trials, threads, per_round, early, seed;
    double time_s;
    int warm, json, quiet, no_confirm;
    int nparams;
    const char *params[32];    /* --param NAME=VALUE */
    int auto_cp, ncp;          /* --checkpoints */
    int64_t cp[64];
} tune_args;

/* Options shared by tune and tune-kernel: 1 consumed, 0 not ours, -1 bad. */
static int tune_opt(int argc, char **argv, int *i, tune_args *a, const char *cmd)
{
    const char *o = argv[*i];
    if (!strcmp(o, "--json")) {
        a->json = 1;
        return 1;
    }
    if (!strcmp(o, "--quiet")) {
        a->quiet = 1;
        return 1;
    }
    if (!strcmp(o, "--warm-start")) {
        a->warm = 1;
        return 1;
    }
    if (!strcmp(o, "--no-confirm")) {
        a->no_confirm = 1;
        return 1;
    }
    static const char *const valued[] = {"--db",    "--trials", "--time",  "--threads",
                                         "--per-round", "--early-stopping", "--seed", "--param",
                                         "--checkpoints"};
    int k = -1;
    for (int j = 0; j < (int)(sizeof valued / sizeof valued[0]); j++)
        if (!strcmp(o, valued[j]))
            k = j;
    if (k < 0)
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "transtune %s: %s needs a value\n", cmd, o);
        return -1;
    }
    const char *v = argv[++*i];
    if (k == 0) {
        a->db_path = v;
        return 1;
    }
    if (k == 8) {
        if (!strcmp(v, "auto")) {
            a->auto_cp = 1;
            return 1;
        }
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", v);
        a->ncp = 0;
        for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
            int64_t x;
            if (a->ncp == 64 || cli_parse_i64(tok, &x) || x < 1 ||
                (a->ncp > 0 && x <= a->cp[a->ncp - 1])) {
                fprintf(stderr, "transtune %s: --checkpoints takes 'auto' or up to 64 ascending "
                                "trial counts separated by commas, got '%s'\n", cmd, v);
                return -1;
            }
            a->cp[a->ncp++] = x;
        }
        if (a->ncp == 0) {
            fprintf(stderr, "transtune %s: --checkpoints needs trial counts\n", cmd);
            return -1;
        }
        return 1;
    }
    if (k == 7) {
        tt_search_params p;
        tt_search_params_default(&p);
        tt_err e = {0};
        char name[64];
        const char *eq = strchr(v, '=');
        size_t n = eq ? (size_t)(eq - v) : 0;
        if (!eq || n == 0 || n >= sizeof name) {
            fprintf(stderr, "transtune %s: --param needs NAME=VALUE, got '%s'\n", cmd, v);
            return -1;
        }
        memcpy(name, v, n);
        name[n] = 0;
        if (tt_search_params_set(&p, name, eq + 1, &e)) { /* checked now, applied later */
            fprintf(stderr, "transtune %s: --param: %s\n", cmd, e.msg);
            return -1;
        }
        if (a->nparams == 32) {
            fprintf(stderr, "transtune %s: at most 32 --param options\n", cmd);
            return -1;
        }
        a->params[a->nparams++] = v;
        return 1;
    }
    if (k == 2) {
        char *end;
        double t = strtod(v, &end);
        if (*end || !(t > 0) || !isfinite(t)) {
            fprintf(stderr, "transtune %s: --time needs a positive number of seconds, got '%s'\n", cmd, v);
            return -1;
        }
        a->time_s = t;
        return 1;
    }
    int64_t x;
    if (cli_parse_i64(v, &x) || (k == 1 && x < 1) || (k == 3 && x > 4096) ||
        (k == 4 && (x < 1 || x > 4096))) {
        fprintf(stderr, "transtune %s: %s needs a %s integer, got '%s'\n", cmd, o,
                k == 1 || k == 4 ? "positive" : "non-negative", v);
        return -1;
    }
    if (k == 1)
        a->trials = x;
    else if (k == 3)
        a->threads = x;
    else if (k == 4)
        a->per_round = x;
    else if (k == 5)
        a->early = x;
    else
        a->seed = x;
    return 1;
}

static void print_report(const char *name, const char *db_path, const tt_tune_result *r, int json)
{
    double est = r->est_latency_s, unt = r->untuned_latency_s;
    double tps = r->elapsed_s > 0 ? (double)r->trials_run / r->elapsed_s : 0;
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "model", json_string(name));
        json_object_set_new(o, "db", json_string(db_path));
        json_object_set_new(o, "trials", json_integer(r->trials));
        json_object_set_new(o, "trials_run", json_integer(r->trials_run));
        json_object_set_new(o, "resumed", json_integer(r->resumed));
        json_object_set_new(o, "valid_run", json_integer(r->valid_run));
        json_object_set_new(o, "elapsed_s", json_real(r->elapsed_s));
        json_object_set_new(o, "search_s", json_real(r->search_s));
        json_object_set_new(o, "trials_per_s", json_real(tps));
        json_object_set_new(o, "est_latency_ms", est > 0 ? json_real(est * 1e3) : json_null());
        json_object_set_new(o, "untuned_est_ms", unt > 0 ? json_real(unt * 1e3) : json_null());
        json_object_set_new(o, "est_speedup", est > 0 && unt > 0 ? json_real(unt / est) : json_null());
 json_object_set_new(o, "time_search_s", json_real(r->time_search_s));
        json_object_set_new(o, "time_measure_s", json_real(r->time_measure_s));
        json_object_set_new(o, "time_build_s", json_real(r->time_build_s));
        json_object_set_new(o, "time_train_s", json_real(r->time_train_s));
        json_object_set_new(o, "time_db_s", json_real(r->time_db_s));
        json_object_set_new(o, "stop_reason", json_string(r->stop_reason ? r->stop_reason : ""));
        json_object_set_new(o, "cache_state", json_string(r->cache_why));
        json_object_set_new(o, "confirmed", json_integer(r->confirmed));
        json_object_set_new(o, "confirm_rejected", json_integer(r->confirm_rejected));
        json_t *ks = json_array();
        for (int i = 0; i < r->ntasks; i++) {
            const tt_tune_task_result *t = &r->tasks[i];
            json_t *k = json_object();
            json_object_set_new(k, "name", json_string(t->name));
            json_object_set_new(k, "class", json_string(t->class_key));
            json_object_set_new(k, "weight", json_integer(t->weight));
            json_object_set_new(k, "trials", json_integer(t->trials));
            json_object_set_new(k, "default_ms", t->default_s > 0 ? json_real(t->default_s * 1e3) : json_null());
            json_object_set_new(k, "best_ms", t->best_s > 0 ? json_real(t->best_s * 1e3) : json_null());
            json_object_set_new(k, "best_gflops",
                                t->best_s > 0 ? json_real(t->flops / t->best_s * 1e-9) : json_null());
            json_array_append_new(ks, k);
        }
        json_object_set_new(o, "kernels", ks);
        json_t *cps = json_array();
        for (int i = 0; i < r->ncheckpoints; i++) {
            const tt_tune_checkpoint *c = &r->checkpoints[i];
            json_t *x = json_object();
            json_object_set_new(x, "trials", json_integer(c->trials));
            json_object_set_new(x, "search_s", json_real(c->search_s));
            json_object_set_new(x, "latency_ms", json_real(c->latency_s * 1e3));
            json_object_set_new(x, "untuned_ms", json_real(c->untuned_s * 1e3));
            json_object_set_new(x, "est_latency_ms", c->est_latency_s > 0 ? json_real(c->est_latency_s * 1e3) : json_null());
            json_array_append_new(cps, x);
        }
        json_object_set_new(o, "checkpoints", cps);
        char *s = json_dumps(o, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(o);
        return;
    }
    printf("%-40s %-28s %6s %7s %11s %11s %8s %8s\n", "kernel", "class", "weight", "trials",
           "default_ms", "best_ms", "GFLOP/s", "speedup");
    for (int i = 0; i < r->ntasks; i++) {
        const tt_tune_task_result *t = &r->tasks[i];
        char d[32] = "-", b[32] = "-", g[32] = "-", sp[32] = "-";
        if (t->default_s > 0)
            snprintf(d, sizeof d, "%.4f", t->default_s * 1e3);
        if (t->best_s > 0) {
            snprintf(b, sizeof b, "%.4f", t->best_s * 1e3);
            snprintf(g, sizeof g, "%.1f", t->flops / t->best_s * 1e-9);
        }
        if (t->best_s > 0 && t->default_s > 0)
            snprintf(sp, sizeof sp, "%.2fx", t->default_s / t->best_s);
        printf("%-40.40s %-28.28s %6d %7lld %11s %11s %8s %8s\n", t->name, t->class_key, t->weight,
               (long long)t->trials, d, b, g, sp);
    }
    printf("%s: %lld trials (%lld this run, %lld correct; %lld resumed), this run %.1f s = %.2f "
           "trials/s, search time %.1f s; stopped: %s\n",
           name, (long long)r->trials, (long long)r->trials_run, (long long)r->valid_run,
           (long long)r->resumed, r->elapsed_s, tps, r->search_s, r->stop_reason ? r->stop_reason : "?");
    if (r->cache_why[0])
        printf("trials timed in cache state %s\n", r->cache_why);
    if (r->confirmed)
        printf("would-be bests measured again: %lld, of which %lld not confirmed\n",
               (long long)r->confirmed, (long long)r->confirm_rejected);
    for (int i = 0; i < r->ncheckpoints; i++)
        printf("checkpoint: %lld trials, search time %.1f s: %.3f ms end to end, untuned %.3f ms "
               "beside it: %.2fx\n",
               (long long)r->checkpoints[i].trials, r->checkpoints[i].search_s,
               r->checkpoints[i].latency_s * 1e3, r->checkpoints[i].untuned_s * 1e3,
               r->checkpoints[i].untuned_s / r->checkpoints[i].latency_s);
    printf("time: search %.1f s, build %.1f s, run %.1f s, cost model %.1f s, database %.1f s\n",
           r->time_search_s, r->time_build_s, r->time_measure_s - r->time_build_s, r->time_train_s,
           r->time_db_s);
    if (est > 0 && unt > 0)
        printf("estimated latency (kernels standalone): %.4g ms, untuned %.4g ms, %.2fx\n", est * 1e3,
               unt * 1e3, unt / est);
    printf("records in %s; run them with: transtune run MODEL --db %s\n", db_path, db_path);
}

/* --warm-start: the schedules transfer-tuning would try on each kernel of m
 * (or on the one kernel d, as a model of one kernel), into c.  0, or 1 after
 * printing the error. */
static int warm_start_candidates(tt_db *db, const char *name, const tt_model *m, const tt_dag *d,
                                 int threads, tt_transfer_cands *c)
{
    tt_model one;
    tt_kernel k;
    if (!m) {
        memset(&one, 0, sizeof one);
        memset(&k, 0, sizeof k);
        k.dag = (tt_dag *)d;
        k.workload_key = tt_dag_workload_key(d);
        k.weight = 1;
        k.alt_of = -1;
        snprintf(k.first_node, sizeof k.first_node, "%s", name);
        one.nkernels = 1;
        one.kernels = &k;
        m = &one;
    }
    tt_transfer_opts to;
    memset(&to, 0, sizeof to);
    to.threads = threads;
    tt_err err = {0};
    int rc = tt_transfer_candidates(db, name, m, &to, c, &err);
    if (m == &one)
        free(k.workload_key);
    if (rc) {
        fprintf(stderr, "transtune tune: warm start: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static int run_tune(tune_args *a, const tt_model *m, const tt_dag *d, const char *name,
                    const char *source)
{
    const char *db_path = a->db_path ? a->db_path : cli_db_default_path();
    tt_err err = {0};
    tt_db *db = NULL;
    if (tt_db_open(db_path, 0, &db, &err)) {
        fprintf(stderr, "transtune tune: %s\n", err.msg);
        return 1;
    }
    prog p = {isatty(2), a->quiet, 0};
    tt_tune_opts o;
    memset(&o, 0, sizeof o);
    o.trials = a->trials;
    o.time_s = a->time_s;
    o.threads = (int)a->threads;
    o.per_round = (int)a->per_round;
    o.early_stopping = (int)a->early;
    tt_transfer_cands wc;
    memset(&wc, 0, sizeof wc);
    if (a->warm && warm_start_candidates(db, name, m, d, (int)a->threads, &wc)) {
        tt_db_close(db);
        return 1;
    }
    o.warm_nkernels = wc.nkernels;
    o.warm_n = wc.n;
    o.warm_cand = (tt_state *const *const *)wc.cand;
    o.no_confirm = a->no_confirm;
    o.seed = (uint64_t)a->seed;
    tt_search_params sp;
    tt_search_params_default(&sp);
    sp.num_cores = a->threads > 0 ? (int)a->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (sp.num_cores < 1)
        sp.num_cores = 1;
    for (int i = 0; i < a->nparams; i++) {
        char name[64];
        const char *eq = strchr(a->params[i], '=');
        snprintf(name, sizeof name, "%.*s", (int)(eq - a->params[i]), a->params[i]);
        tt_search_params_set(&sp, name, eq + 1, &err); /* validated when parsed */
    }
    o.search = &sp;
    if (a->auto_cp) {
        a->ncp = 0;
        for (int d = 32; d >= 1; d /= 2) {
            int64_t x = a->trials / d;
            if (x >= 1 && (a->ncp == 0 || x > a->cp[a->ncp - 1]))
                a->cp[a->ncp++] = x;
        }
    }
    o.ncheckpoints = a->ncp;
    o.checkpoints = a->cp;
    o.progress = on_progress;
    o.ctx = &p;
    o.stop = &g_stop;
    g_stop = 0;
    signal(SIGINT, on_sigint);
    tt_tune_result r;
    int rc = m ? tt_tune_model(db, name, source, m, &o, &r, &err) : tt_tune_dag(db, name, d, &o, &r, &err);
    signal(SIGINT, SIG_DFL);
    tt_transfer_cands_free(&wc);
    if (p.tty && !p.quiet)
        fprintf(stderr, "\n");
    if (rc) {
        fprintf(stderr, "transtune tune: %s\n", err.msg);
        tt_tune_result_free(&r);
        tt_db_close(db);
        return 1;
    }
    print_report(name, db_path, &r, a->json);
    tt_tune_result_free(&r);
    tt_db_close(db);
    return 0;
}

int cmd_tune(int argc, char **argv)
{
    tune_args a;
    memset(&a, 0, sizeof a);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            tune_help();
            return 0;
        }
        int c = tune_opt(argc, argv, &i, &a, "tune");
        if (c < 0)
            return 2;
        if (c)
            continue;
        if (argv[i][0] == '-') {
            fprintf(stderr, "transtune tune: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        }
        if (a.what) {
            fprintf(stderr, "transtune tune: one MODEL only\n");
            return 2;
        }
        a.what = argv[i];
    }
    if (!a.what) {
        fprintf(stderr, "usage: transtune tune MODEL [--db DB] [--trials N] ... (see --help)\n");
        return 2;
    }
    if (a.auto_cp && a.trials == 0) {
        fprintf(stderr, "transtune tune: --checkpoints auto needs --trials\n");
        return 2;
    }
    tt_model *m = NULL;
    tt_err err = {0};
    if (cli_model_load(a.what, &m, &err)) {
        fprintf(stderr, "transtune tune: %s\n", err.msg);
        return 1;
    }
    const char *name = m->name[0] ? m->name : a.what;
    int rc = run_tune(&a, m, NULL, name, a.what);
    tt_model_free(m);
    return rc;
}

int cmd_tune_kernel(int argc, char **argv)
{
    tune_args a;
    memset(&a, 0, sizeof a);
    cli_shape k;
    memset(&k, 0, sizeof k);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            tune_help();
            return 0;
        }
        int c = tune_opt(argc, argv, &i, &a, "tune-kernel");
        if (c < 0)
            return 2;
        if (c)
            continue;
        c = cli_shape_opt(argc, argv, &i, &k, "tune-kernel");
        if (c < 0)
            return 2;
        if (c)
            continue;
        if (a.what) {
            fprintf(stderr, "transtune tune-kernel: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
        a.what = argv[i];
    }
    if (!a.what) {
        fprintf(stderr, "usage: transtune tune-kernel OP [shape options] [--db DB] [--trials N] (see --help)\n");
        return 2;
    }
    char desc[160], name[192];
    tt_err err = {0};
    tt_dag *d = cli_shape_build(a.what, &k, desc, sizeof desc, &err);
    if (!d) {
        fprintf(stderr, "transtune tune-kernel: %s\n", err.msg);
        return 2;
    }
    snprintf(name, sizeof name, "kernel:%s", desc);
    int rc = run_tune(&a, NULL, d, name, "kernel");
    tt_dag_free(d);
    return rc;
}
