/* main.c - `transtune COMMAND ...`: dispatch, shared options, row printing. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../measure/remote.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: transtune COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  replay LOG [--threads N] [--json]    replay every record of an Ansor log: identify\n"
            "                                        its workload, build, run, check; compare with\n"
            "                                        the default schedule\n"
            "  kernel OP [shape options] [--record LINE | --default] [--json]\n"
            "                                        one workload by hand (see transtune kernel --help)\n"
            "  models                                the built-in model zoo\n"
            "  kernels MODEL [--json]                a model's unique kernels (MODEL: zoo name or .onnx)\n"
            "  run MODEL [--check] [--threads N] [--input X.npy] [--output Y.npy] [--json]\n"
            "                                        compile and run a model end to end\n"
            "  compile MODEL -o DIR [--db DB | --records LOG]\n"
            "                                        the model as a shared library with a C API,\n"
            "                                        its weights and an example program\n"
            "  db stats|import LOG|export|check [--db DB] [--model M]\n"
            "                                        the record database: counts, Ansor logs in and\n"
            "                                        out, integrity (see transtune db --help)\n"
            "  tune MODEL [--db DB] [--trials N] [--time S] [--threads T] [--json]\n"
            "                                        search schedules for a model's kernels (Ansor's\n"
            "                                        search; resumable; see transtune tune --help)\n"
            "  tune-kernel OP [shape options] [--db DB] [--trials N]\n"
            "                                        search schedules for one workload\n"
            "  transfer MODEL [--db DB] [--from M1,M2] [--json]\n"
            "                                        transfer-tuning: other models' schedules on\n"
            "                                        this model's kernels, measured and checked\n"
            "  help                                  this text\n"
            "\n"
            "Each command accepts --help.  tune, tune-kernel, transfer and replay also take\n"
            "--runner tcp://HOST:PORT --key FILE [--target TRIPLE]: kernels built here\n"
            "(cross-compiled for TRIPLE, e.g. aarch64-linux-gnu), measured by the\n"
            "`transtune-runner --listen` there (docs/cli.md).  Every command that loads an\n"
            "ONNX file also takes --shape INPUT=DIMS (e.g. --shape input_ids=1x384): the\n"
            "input's symbolic dimensions (a batch, a sequence length) take these values\n"
            "instead of 1; repeat per input.\n"
            "Environment: CC (kernel compiler), TT_CFLAGS (its optimization flags), TT_RUNNER\n"
            "(path of transtune-runner).\n");
}

int cli_parse_i64(const char *s, int64_t *v)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || *end || x < 0 || x > (1ll << 40))
        return -1;
    *v = x;
    return 0;
}

static int need_value(int argc, char **argv, int i)
{
    if (i + 1 >= argc) {
        fprintf(stderr, "transtune: option %s needs a value\n", argv[i]);
        return -1;
    }
    return 0;
}

int cli_common_opt(int argc, char **argv, int *i, cli_opts *o)
{
    const char *a = argv[*i];
    int64_t v;
    if (!strcmp(a, "--json")) {
        o->json = 1;
        return 1;
    }
    if (!strcmp(a, "--flush")) {
        o->cache_flush = 1;
        return 1;
    }
    if (!strcmp(a, "--cache")) {
        /* the cache state each timed call starts in (measure.h, TT_CACHE_*):
         * which one predicts a kernel's time inside its model depends on the
         * host (docs/NOTES.md, "Which cache state to time in") */
        if (need_value(argc, argv, *i))
            return -1;
        const char *v = argv[*i + 1];
        int c = !strcmp(v, "warm") ? 0 : !strcmp(v, "flush") ? 1 : !strcmp(v, "l3") ? 2 : -1;
        if (c < 0) {
            fprintf(stderr, "transtune: --cache takes warm, flush or l3, got '%s'\n", v);
            return -1;
        }
        o->cache_flush = c;
        (*i)++;
        return 1;
    }
    if (!strcmp(a, "--no-default")) {
        o->no_default = 1;
        return 1;
    }
    if (!strcmp(a, "--threads") || !strcmp(a, "--repeat") || !strcmp(a, "--min-repeat-ms")) {
        if (need_value(argc, argv, *i))
            return -1;
        if (cli_parse_i64(argv[*i + 1], &v) || v > 4096) {
            fprintf(stderr, "transtune: %s needs a non-negative integer, got '%s'\n", a, argv[*i + 1]);
            return -1;
        }
        if (!strcmp(a, "--threads"))
            o->threads = (int)v;
        else if (!strcmp(a, "--repeat"))
            o->repeat = (int)(v ? v : 1);
        else
            o->min_repeat_ms = (double)v;
        (*i)++;
        return 1;
    }
    if (!strcmp(a, "--cc")) {
        if (need_value(argc, argv, *i))
            return -1;
        o->cc = argv[++*i];
        return 1;
    }
    return 0;
}

void cli_fill_run_opts(const cli_opts *o, tt_run_opts *ro, tt_build_opts *bo)
{
    memset(ro, 0, sizeof *ro);
    memset(bo, 0, sizeof *bo);
    ro->threads = o->threads;
    ro->repeat = o->repeat ? o->repeat : 5;
    ro->min_repeat_ms = o->min_repeat_ms > 0 ? o->min_repeat_ms : 100;
    ro->cache_flush = o->cache_flush;
    ro->seed = 42;
    ro->timeout_s = 30;
    bo->cc = o->cc;
}

void cli_print_header(void)
{
    printf("%-5s %-44s %-26s %-20s %-7s %10s %8s %10s %8s %7s\n", "line", "workload", "class", "status",
           "correct", "time_ms", "GFLOP/s", "default_ms", "GFLOP/s", "speedup");
}

static double gflops(double flops, const tt_result *r)
{
    return r->error == 0 && r->mean > 0 && r->mean < 1e9 ? flops / r->mean * 1e-9 : 0.0;
}

void cli_print_row(const cli_row *r, int json)
{
    int ok_rec = r->have_record && r->rec.error == 0 && r->rec.correct;
    int ok_def = r->have_default && r->def.error == 0 && r->def.correct;
    if (json) {
        json_t *o = json_object();
        if (r->line > 0)
            json_object_set_new(o, "line", json_integer(r->line));
        json_object_set_new(o, "workload", json_string(r->workload));
        json_object_set_new(o, "class", json_string(r->class_key));
        json_object_set_new(o, "workload_key", json_string(r->wkey));
        if (r->ansor_key[0])
            json_object_set_new(o, "ansor_key", json_string(r->ansor_key));
        json_object_set_new(o, "status", json_string(r->status));
        json_object_set_new(o, "correct", json_boolean(ok_rec));
        json_object_set_new(o, "time_s", ok_rec ? json_real(r->rec.mean) : json_null());
        json_object_set_new(o, "gflops", ok_rec ? json_real(gflops(r->flops, &r->rec)) : json_null());
        json_object_set_new(o, "flops", json_real(r->flops));
        if (r->have_default) {
            json_object_set_new(o, "default_status",
                                json_string(r->def.error >= 0 && r->def.error < TT_ERR_COUNT
                                                ? tt_errno_names[r->def.error]
                                                : "unknown_error"));
            json_object_set_new(o, "default_correct", json_boolean(ok_def));
            json_object_set_new(o, "default_time_s", ok_def ? json_real(r->def.mean) : json_null());
            json_object_set_new(o, "default_gflops",
                                ok_def ? json_real(gflops(r->flops, &r->def)) : json_null());
        }
        if (ok_rec && r->rec.ncosts) {
            json_t *c = json_array();
            for (int i = 0; i < r->rec.ncosts; i++)
                json_array_append_new(c, json_real(r->rec.costs[i]));
            json_object_set_new(o, "costs", c);
        }
        const char *msg = r->error[0] ? r->error : (!ok_rec && r->have_record) ? r->rec.msg : "";
        if (msg[0])
            json_object_set_new(o, "error", json_string(msg));
        if (r->have_default && !ok_def && r->def.msg[0])
            json_object_set_new(o, "default_error", json_string(r->def.msg));
        char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
        printf("%s\n", s);
        free(s);
        json_decref(o);
        fflush(stdout);
        return;
    }
    char t[32] = "-", g[32] = "-", dt[32] = "-", dg[32] = "-", sp[32] = "-";
    if (ok_rec) {
        snprintf(t, sizeof t, "%.4f", r->rec.mean * 1e3);
        snprintf(g, sizeof g, "%.1f", gflops(r->flops, &r->rec));
    }
    if (ok_def) {
        snprintf(dt, sizeof dt, "%.4f", r->def.mean * 1e3);
        snprintf(dg, sizeof dg, "%.1f", gflops(r->flops, &r->def));
    }
    if (ok_rec && ok_def)
        snprintf(sp, sizeof sp, "%.2fx", r->def.mean / r->rec.mean);
    char line[16] = "-";
    if (r->line > 0)
        snprintf(line, sizeof line, "%d", r->line);
    printf("%-5s %-44.44s %-26.26s %-20s %-7s %10s %8s %10s %8s %7s\n", line, r->workload, r->class_key,
           r->status, ok_rec ? "yes" : "no", t, g, dt, dg, sp);
    const char *msg = r->error[0] ? r->error : (!ok_rec && r->have_record) ? r->rec.msg : "";
    if (msg[0])
        printf("      error: %s\n", msg);
    if (r->have_default && !ok_def && r->def.msg[0])
        printf("      default schedule error: %s\n", r->def.msg);
    fflush(stdout);
}

/* Take every "--shape INPUT=DIMS" out of argv into cli_shapes; the new argc,
 * or -1 (said). */
static int take_shapes(int argc, char **argv)
{
    int n = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--shape")) {
            argv[n++] = argv[i];
            continue;
        }
        /* parsed in a copy (kept for the run: cli_shapes names point into it) */
        char *v = i + 1 < argc ? tt_xstrdup(argv[i + 1]) : NULL;
        if (!v || cli_nshapes == TT_MODEL_MAX_INPUTS || cli_parse_input_shape(v, &cli_shapes[cli_nshapes])) {
            free(v);
            fprintf(stderr, "transtune: --shape takes INPUT=DIMS, e.g. --shape input=1x3x224x224 (at most %d, "
                            "dimensions 1 to 2^31, 2^32 elements)%s%s\n",
                    TT_MODEL_MAX_INPUTS, i + 1 < argc ? ", got " : "", i + 1 < argc ? argv[i + 1] : "");
            return -1;
        }
        cli_nshapes++;
        i++;
    }
    argv[n] = NULL;
    return n;
}

/* "--runner tcp://HOST:PORT" and "--key FILE" taken out of argv: the
 * kernels of tune, tune-kernel, transfer and replay are then measured by the
 * remote runner there (remote.h).  The new argc, or -1 (said). */
static int take_remote(int argc, char **argv, const char **url, const char **key, const char **target)
{
    int n = 1;
    for (int i = 1; i < argc; i++) {
        int r = !strcmp(argv[i], "--runner"), k = !strcmp(argv[i], "--key"), t = !strcmp(argv[i], "--target");
        if (!r && !k && !t) {
            argv[n++] = argv[i];
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "transtune: %s needs a value\n", argv[i]);
            return -1;
        }
        *(r ? url : k ? key : target) = argv[++i];
    }
    argv[n] = NULL;
    return n;
}

/* --target TRIPLE (with --runner): kernels cross-compiled for the device:
 * CC=TRIPLE-gcc, portable flags, the device's vector width (aarch64: NEON's
 * 4 floats), each unless the environment sets it.  0, or -1 (said). */
static int set_target(const char *t)
{
    static const struct {
        const char *triple, *cflags, *lanes, *isa;
    } known[] = {
        {"aarch64-linux-gnu", "-O3 -march=armv8-a -fno-math-errno", "4", "neon"},
        {"x86_64-linux-gnu", "-O3 -march=x86-64-v3 -fno-math-errno", "8", "avx2"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(known[i].triple, t))
            continue;
        char cc[128];
        snprintf(cc, sizeof cc, "%s-gcc", t);
        setenv("CC", cc, 0);
        setenv("TT_CFLAGS", known[i].cflags, 0);
        setenv("TT_VECTOR_LANES", known[i].lanes, 0);
        setenv("TT_TARGET_ISA", known[i].isa, 0); /* the records' target */
        return 0;
    }
    fprintf(stderr, "transtune: --target %s: aarch64-linux-gnu and x86_64-linux-gnu are known (with --runner)\n", t);
    return -1;
}

static tt_remote *g_remote;

static void close_remote(void) { tt_remote_close(g_remote); }

/* Measure on the remote runner at url (commands that measure kernels only);
 * 0, or an exit status. */
static int use_remote(const char *cmd, const char *url, const char *key)
{
    if (strcmp(cmd, "tune") && strcmp(cmd, "tune-kernel") && strcmp(cmd, "transfer") && strcmp(cmd, "replay")) {
        fprintf(stderr, "transtune: --runner applies to tune, tune-kernel, transfer and replay, not %s\n", cmd);
        return 2;
    }
    tt_err err = {0};
    if (tt_remote_open(url, key, &g_remote, &err)) {
        fprintf(stderr, "transtune: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "transtune: kernels measured by the runner at %s (%s)\n", url + 6, tt_remote_class(g_remote));
    /* records are the device's: its CPU model (the class without its core count) */
    char cpu[256];
    snprintf(cpu, sizeof cpu, "%s", tt_remote_class(g_remote));
    char *comma = strrchr(cpu, ',');
    if (comma)
        *comma = 0;
    setenv("TT_TARGET_CPU", cpu, 0);
    tt_evaluate_set_backend(tt_remote_backend, g_remote);
    atexit(close_remote);
    return 0;
}

int main(int argc, char **argv)
{
    /* kernel and tune-kernel have a --shape of their own (softmax's) */
    if (argc >= 2 && strcmp(argv[1], "kernel") && strcmp(argv[1], "tune-kernel"))
        argc = take_shapes(argc, argv);
    if (argc < 0)
        return 2;
    const char *runner_url = NULL, *runner_key = NULL, *target = NULL;
    argc = take_remote(argc, argv, &runner_url, &runner_key, &target);
    if (argc < 0)
        return 2;
    if (target && (!runner_url || set_target(target)))
        return 2;
    if (runner_url && argc >= 2 && strcmp(argv[1], "--help") && strcmp(argv[1], "help")) {
        int rc = use_remote(argv[1], runner_url, runner_key);
        if (rc)
            return rc;
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    /* the temporary folders of earlier runs that were killed (SIGKILL cannot
     * be caught) go before this run makes its own */
    tt_temp_sweep(NULL);
    if (!strcmp(cmd, "replay"))
        return cmd_replay(argc - 1, argv + 1);
    if (!strcmp(cmd, "kernel"))
        return cmd_kernel(argc - 1, argv + 1);
    if (!strcmp(cmd, "models"))
        return cmd_models(argc - 1, argv + 1);
    if (!strcmp(cmd, "kernels"))
        return cmd_kernels(argc - 1, argv + 1);
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "compile"))
        return cmd_compile(argc - 1, argv + 1);
    if (!strcmp(cmd, "db"))
        return cmd_db(argc - 1, argv + 1);
    if (!strcmp(cmd, "tune"))
        return cmd_tune(argc - 1, argv + 1);
    if (!strcmp(cmd, "tune-kernel"))
        return cmd_tune_kernel(argc - 1, argv + 1);
    if (!strcmp(cmd, "transfer"))
        return cmd_transfer(argc - 1, argv + 1);
    fprintf(stderr, "transtune: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
