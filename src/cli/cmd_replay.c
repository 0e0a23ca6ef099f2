/* cmd_replay.c - `transtune replay LOG`: every record of an Ansor log,
 * identified, replayed, built, run, checked, beside the default schedule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

typedef struct rec_line {
    int lineno;
    char *text;
} rec_line;

typedef struct lines {
    int n, cap;
    rec_line *v;
} lines;

static int collect(void *ctx, int lineno, const char *line)
{
    lines *L = ctx;
    if (L->n == L->cap) {
        L->cap = L->cap ? 2 * L->cap : 64;
        L->v = tt_xrealloc(L->v, (size_t)L->cap * sizeof(rec_line));
    }
    L->v[L->n].lineno = lineno;
    L->v[L->n].text = tt_xstrdup(line);
    L->n++;
    return 0;
}

/* One record's journey: parse, identify, replay. */
typedef struct work {
    cli_row row;
    tt_record *rec;
    tt_dag *dag;
    tt_state *rec_state, *def_state;
    tt_eval_item items[2];
    int nitems;
} work;

static void replay_help(void)
{
    printf("usage: transtune replay LOG [--threads N] [--json] [--repeat R] [--flush]\n"
           "                        [--cache warm|flush|l3] [--no-default]\n"
           "\n"
           "For each record of an Ansor JSON log (v0.3, v0.5, v0.6; '#' lines are comments):\n"
           "identify its workload from the key's shapes and the structure its steps imply,\n"
           "build our DAG, replay the steps (every SP's recorded extent must match), compile,\n"
           "run in an isolated runner, check every output element against a double-precision\n"
           "reference, and time it; the default schedule of the same workload is measured\n"
           "beside it.  One row per record; --json prints one JSON object per line.\n"
           "--cache: the state of the caches each timed call starts in: warm (as the\n"
           "previous call left them, the default), flush (every argument but the input\n"
           "evicted, as TVM does; --flush is the same) or l3 (the cores' private caches\n"
           "swept, the arguments left in the last-level cache, the input read back).\n"
           "Exit status: 0 if every record replayed and was correct, 1 otherwise.\n");
}

/* Identify the record's DAG: the first candidate on which every step applies. */
static void identify(work *w, int lanes)
{
    tt_err err = {0};
    if (tt_identify_record(w->rec, &w->dag, &w->rec_state, w->row.workload,
                           sizeof w->row.workload, &err)) {
        w->row.status = "instantiation_error";
        snprintf(w->row.error, sizeof w->row.error, "%s", err.msg);
        return;
    }
    snprintf(w->row.class_key, sizeof w->row.class_key, "%s", w->dag->class_key);
    char *k = tt_dag_workload_key(w->dag);
    snprintf(w->row.wkey, sizeof w->row.wkey, "%s", k);
    free(k);
    w->row.flops = w->dag->flops;
    /* a record tuned for narrower vectors runs with the host's (widen.c) */
    tt_state *t = tt_state_new(w->dag);
    if (tt_state_apply_widened(t, w->rec->steps, w->rec->nsteps, lanes,
                               tt_target_vector_lanes(w->rec->target), &err) > 0) {
        tt_state_free(w->rec_state);
        w->rec_state = t;
    } else {
        tt_state_free(t);
    }
    w->items[0].state = w->rec_state;
    w->nitems = 1;
    w->row.have_record = 1;
}

static void add_default(work *w, int lanes)
{
    tt_step steps[TT_MAX_STEPS];
    int n = 0;
    tt_err e = {0};
    if (tt_default_schedule(w->dag, lanes, steps, TT_MAX_STEPS, &n, &e) == 0) {
        w->def_state = tt_state_new(w->dag);
        if (tt_state_apply_all(w->def_state, steps, n, &e) == 0) {
            w->items[w->nitems++].state = w->def_state;
            w->row.have_default = 1;
            return;
        }
    }
    w->row.have_default = 1;
    w->row.def.error = TT_ERR_INSTANTIATION;
    snprintf(w->row.def.msg, sizeof w->row.def.msg, "default schedule: %s", e.msg);
}

typedef struct progress_ctx {
    int done, total;
} progress_ctx;

static void on_progress(void *ctx, int task, int item)
{
    progress_ctx *p = ctx;
    p->done++;
    if (isatty(2)) {
        fprintf(stderr, "\rtranstune: measured %d/%d", p->done, p->total);
        if (p->done == p->total)
            fprintf(stderr, "\n");
    } else if (p->done == p->total || p->done % 10 == 0) {
        fprintf(stderr, "transtune: measured %d/%d\n", p->done, p->total);
    }
}

/* Parse replay's command line: *path the LOG.  Returns -1 to go on, else
 * the exit status: 0 after --help, 2 after a usage error (message printed). */
static int replay_parse(int argc, char **argv, cli_opts *o, const char **path)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            replay_help();
            return 0;
        }
        int c = cli_common_opt(argc, argv, &i, o);
        if (c < 0)
            return 2;
        if (c)
            continue;
        if (argv[i][0] == '-' || *path) {
            fprintf(stderr, "transtune replay: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
        *path = argv[i];
    }
    if (!*path) {
        fprintf(stderr, "transtune replay: missing LOG (see --help)\n");
        return 2;
    }
    return -1;
}

/* The log's records and what is measured of them: one work per record, one
 * task per identified record (task_work[t] its work's index). */
typedef struct replay_batch {
    lines L;
    work *W;
    tt_eval_task *tasks;
    int *task_work;
    int ntasks, nruns; /* nruns: kernels to build and run over all tasks */
} replay_batch;

/* Parse, identify and replay every record of b->L; a task for each record
 * identified (with its default schedule unless no_default).  A record that
 * fails keeps its status and error in its row. */
static void replay_prepare(replay_batch *b, int no_default)
{
    int lanes = tt_host_vector_lanes();
    b->W = tt_xcalloc((size_t)b->L.n, sizeof(work));
    b->tasks = tt_xcalloc((size_t)b->L.n, sizeof(tt_eval_task));
    b->task_work = tt_xcalloc((size_t)b->L.n, sizeof(int));
    for (int i = 0; i < b->L.n; i++) {
        work *w = &b->W[i];
        w->row.line = b->L.v[i].lineno;
        w->row.status = "ok";
        w->rec = tt_xcalloc(1, sizeof(tt_record));
        tt_err e = {0};
        if (tt_record_parse(b->L.v[i].text, w->rec, &e)) {
            w->row.status = "invalid_record";
            snprintf(w->row.error, sizeof w->row.error, "%s", e.msg);
            snprintf(w->row.workload, sizeof w->row.workload, "?");
            continue;
        }
        snprintf(w->row.ansor_key, sizeof w->row.ansor_key, "%s", w->rec->workload_key);
        identify(w, lanes);
        if (!w->dag)
            continue;
        if (!no_default)
            add_default(w, lanes);
        b->tasks[b->ntasks].dag = w->dag;
        b->tasks[b->ntasks].items = w->items;
        b->tasks[b->ntasks].nitems = w->nitems;
        b->task_work[b->ntasks] = i;
        b->ntasks++;
        b->nruns += w->nitems;
    }
}

/* The measured results into their rows, every row printed, and (as a table)
 * the summary line.  Returns how many records failed. */
static int replay_report(replay_batch *b, int json)
{
    int failures = 0;
    for (int t = 0; t < b->ntasks; t++) {
        work *w = &b->W[b->task_work[t]];
        w->row.rec = w->items[0].res;
        if (w->def_state)
            w->row.def = w->items[1].res;
        if (b->tasks[t].ref_error) {
            w->row.status = "unknown_error";
            snprintf(w->row.error, sizeof w->row.error, "%s", b->tasks[t].ref_msg);
        } else if (w->row.rec.error) {
            w->row.status = w->row.rec.error < TT_ERR_COUNT ? tt_errno_names[w->row.rec.error] : "unknown_error";
        }
    }
    if (!json)
        cli_print_header();
    double geo_rec = 0, geo_def = 0;
    int ngeo = 0;
    for (int i = 0; i < b->L.n; i++) {
        work *w = &b->W[i];
        if (strcmp(w->row.status, "ok") || !w->row.rec.correct)
            failures++;
        cli_print_row(&w->row, json);
        if (w->row.have_record && w->row.rec.correct && w->row.have_default && w->row.def.error == 0 &&
            w->row.def.correct) {
            geo_rec += __builtin_log(w->row.rec.mean);
            geo_def += __builtin_log(w->row.def.mean);
            ngeo++;
        }
    }
    if (!json) {
        printf("\n%d records: %d ok and correct, %d failed", b->L.n, b->L.n - failures, failures);
        if (ngeo)
            printf("; geometric-mean speedup of the records over the default schedule: %.2fx (%d workloads)",
                   __builtin_exp((geo_def - geo_rec) / ngeo), ngeo);
        printf("\n");
    }
    return failures;
}

static void replay_free(replay_batch *b)
{
    for (int i = 0; i < b->L.n; i++) {
        free(b->L.v[i].text);
        tt_state_free(b->W[i].rec_state);
        tt_state_free(b->W[i].def_state);
        if (b->W[i].dag)
            tt_dag_free(b->W[i].dag);
        free(b->W[i].rec);
    }
    free(b->L.v);
    free(b->W);
    free(b->tasks);
    free(b->task_work);
}

int cmd_replay(int argc, char **argv)
{
    cli_opts o = {0};
    const char *path = NULL;
    int rc = replay_parse(argc, argv, &o, &path);
    if (rc >= 0)
        return rc;
    replay_batch b;
    memset(&b, 0, sizeof b);
    tt_err err = {0};
    if (tt_log_foreach(path, collect, &b.L, &err)) {
        fprintf(stderr, "transtune replay: %s\n", err.msg);
        return 2;
    }
    if (b.L.n == 0) {
        fprintf(stderr, "transtune replay: %s holds no records\n", path);
        return 1;
    }
    replay_prepare(&b, o.no_default);
    tt_run_opts ro;
    tt_build_opts bo;
    cli_fill_run_opts(&o, &ro, &bo);
    fprintf(stderr, "transtune: %d records, %d identified; building %d kernels and %d references\n", b.L.n,
            b.ntasks, b.nruns, b.ntasks);
    progress_ctx pc = {0, b.nruns};
    if (b.ntasks && tt_evaluate(b.tasks, b.ntasks, &bo, &ro, on_progress, &pc, &err)) {
        fprintf(stderr, "transtune replay: %s\n", err.msg);
        return 2;
    }
    int failures = replay_report(&b, o.json);
    replay_free(&b);
    return failures ? 1 : 0;
}
