/* cmd_run.c - `transtune run MODEL`: compile a model with its records (a log
 * or the database) or default schedules, choose per kernel by measurement in
 * place (record or default schedule; direct or Winograd form), run it end to
 * end, time it, and optionally check it against the reference executor. */
#include <dlfcn.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../db/db.h"
#include "../exec/exec.h"
#include "../tune/tune.h"
#include "../api/pick.h"
#include "../util/npy.h"
#include "cli.h"

/* run --profile: each kernel call's best time over `repeat` runs in place,
 * with GFLOP/s, % of the FMA peak `peak` (measured before any kernel ran) and
 * GB/s (each argument read or written once: a floor of the memory traffic). */
static int print_profile(const tt_model *m, tt_exec *e, const void *input, int64_t repeat, double peak,
                         int pthreads, tt_err *err)
{
    const tt_graph *g = m->g;
    double *cs = tt_xcalloc((size_t)m->ncalls, sizeof *cs), total = 0;
    if (tt_exec_profile(e, input, (int)repeat, cs, err)) {
        free(cs);
        return -1;
    }
    for (int c = 0; c < m->ncalls; c++)
        total += cs[c];
    fprintf(stderr, "%4s %9s %6s %8s %6s %7s  %-44s %s\n", "call", "ms", "%", "GFLOP/s", "%peak", "GB/s",
            "class", "node");
    for (int c = 0; c < m->ncalls; c++) {
        const tt_mcall *mc = &m->calls[c];
        if (mc->kind != TT_MCALL_KERNEL)
            continue;
        /* the kernel it ran (a Winograd twin's class says so); GFLOP/s of
         * the direct convolution's work, so that the two compare */
        const tt_kernel *kn = &m->kernels[tt_exec_call_kernel(e, c)];
        tt_io io;
        tt_eval_io(kn->dag, &io);
        double bytes = 0;
        for (int k = 0; k <= io.nin; k++)
            bytes += 4.0 * (double)io.numel[k];
        double gf = m->kernels[mc->kernel].dag->flops / cs[c] / 1e9;
        fprintf(stderr, "%4d %9.3f %6.1f %8.1f %6.1f %7.1f  %-44s %s\n", c, cs[c] * 1e3, 100 * cs[c] / total,
                gf, peak > 0 ? 100 * gf / peak : 0.0, bytes / cs[c] / 1e9, kn->dag->class_key,
                g->nodes[mc->node].name);
    }
    double host = 0;
    for (int c = 0; c < m->ncalls; c++)
        host += m->calls[c].kind != TT_MCALL_KERNEL ? cs[c] : 0;
    if (host > 0)
        fprintf(stderr, "host calls (ops on integer tensors, gathers; not kernels): %.3f ms\n", host * 1e3);
    fprintf(stderr, "sum of the best call times: %.3f ms\n", total * 1e3);
    fprintf(stderr, "%%peak: of this host's fp32 FMA peak, %.1f GFLOP/s on %d thread(s) (%s)\n", peak, pthreads,
            tt_isa_name(TT_ISA_BEST));
    free(cs);
    return 0;
}

/* "float32 (1, 3, 32, 32)": an array's dtype (numpy's name) and shape. */
static void array_text(char *buf, size_t n, tt_dtype dt, int ndim, const int64_t *shape)
{
    const char *name = dt == TT_DT_FLOAT ? "float32" : tt_dtype_name(dt);
    int k = snprintf(buf, n, "%s (", name);
    for (int i = 0; i < ndim && k > 0 && (size_t)k < n; i++)
        k += snprintf(buf + k, n - (size_t)k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k > 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, ndim == 1 ? ",)" : ")");
}

/* Whether the array read from path has exactly the dtype and shape of the
 * model input t (in the model's ONNX layout); if not, says so on stderr with
 * both, the layout by name, and a hint for the two usual slips (no batch
 * dimension; an NHWC image).  The element count alone is not enough: a
 * (1, 32, 32, 3) image would run a (1, 3, 32, 32) model, scrambled. */
static int input_fits(const tt_npy *a, const tt_tensor *t, const char *path)
{
    int same = a->dtype == t->dtype && a->ndim == t->ndim;
    for (int i = 0; same && i < t->ndim; i++)
        same = a->shape[i] == t->shape[i];
    if (same)
        return 1;
    char have[256], want[256];
    array_text(have, sizeof have, a->dtype, a->ndim, a->shape);
    array_text(want, sizeof want, t->dtype, t->ndim, t->shape);
    const char *layout = t->dtype == TT_DT_INT64 ? "batch, sequence, "
                         : t->ndim == 4          ? "NCHW, "
                         : t->ndim == 2          ? "batch, features, "
                                                 : "";
    const char *hint = "";
    if (a->ndim == t->ndim - 1 && t->shape[0] == 1 &&
        !memcmp(a->shape, t->shape + 1, (size_t)a->ndim * sizeof a->shape[0]))
        hint = "; add the batch dimension (x[None] in numpy)";
    else if (a->ndim == 4 && t->ndim == 4 && t->dtype == TT_DT_FLOAT && a->shape[0] == t->shape[0] &&
             a->shape[1] == t->shape[2] && a->shape[2] == t->shape[3] && a->shape[3] == t->shape[1])
        hint = "; this looks like NHWC: transpose it to NCHW (x.transpose(0, 3, 1, 2) in numpy)";
    fprintf(stderr, "transtune run: %s holds %s; the model's input '%s' takes %s (%sthe model's "
                    "ONNX layout)%s\n", path, have, t->name, want, layout, hint);
    return 0;
}

static void run_help(void)
{
    printf("usage: transtune run MODEL [--records LOG] [--db DB] [--threads N] [--repeat R] [--check]\n"
           "                     [--input [INPUT=]IN.npy]... [--output OUT.npy] [--json] [--profile]\n"
           "                     [--vs-untuned] [--winograd auto|on|off] [--trust-records]\n\n"
           "Compile every kernel of MODEL (a zoo name or an .onnx file) with its best record\n"
           "in LOG (an Ansor log; records are identified as `replay` does) or in the record\n"
           "database DB (transtune db), else its default schedule, run the model end to end\n"
           "and print its latency (median of R runs, default 10).\n"
           "A record may have been tuned on another machine (the shipped schedules/ were):\n"
           "each kernel with a record is also built on its default schedule, both are timed\n"
           "in place in the model, and the faster runs; --trust-records uses every record\n"
           "as it is, untimed.\n"
           "--check also runs a reference executor (every kernel unscheduled)\n"
           "on the same input and compares the outputs: max |ours - ref| / max |ref| <= 1e-3\n"
           "passes.  --input reads an input (.npy, float32, int64 token ids or an int64 or\n"
           "bool mask, of exactly the shape of the model's input in its ONNX layout, e.g.\n"
           "(1, 3, 224, 224) NCHW for an image model, batch dimension included); a model of\n"
           "several inputs takes one --input per input, as FILE in the model's order or as\n"
           "INPUT=FILE (default: seeded random: token ids below their table, masks of ones\n"
           "with the last eighth 0);\n"
           "--output writes the output.\n"
           "--json prints one object with latency_ms, kernels, calls, build_s and, with\n"
           "--check, max_abs_err, max_rel_err, check_passed.  --profile prints each kernel\n"
           "call's best time (on stderr).  --vs-untuned also builds the model on default\n"
           "schedules and times the two against each other (3 x R pairs of single runs, the\n"
           "order swapped every pair: the way tune's checkpoints and transfer compare), and\n"
           "prints both medians and the speedup (JSON: untuned_ms, speedup).\n"
           "--winograd: 3x3 stride-1 convolutions also have Winograd F(4x4,3x3) and F(2x2,3x3) forms;\n"
           "auto (default) builds the model once per form (direct, F(4x4,3x3), F(2x2,3x3)),\n"
           "each kernel with its record or default schedule, times every kernel call in\n"
           "place, and runs each conv in its fastest form; on runs every one as F(4x4,3x3),\n"
           "off none (JSON: winograd, the kernels run as Winograd).\n"
           "Exit status: 0 ok; 1 failure (or a failed check); 2 usage.\n");
}

static void compile_help(void)
{
    printf("usage: transtune compile MODEL -o DIR [--name NAME] [--records LOG] [--db DB]\n"
           "                         [--threads N] [--winograd auto|on|off] [--trust-records]\n"
           "                         [--input [INPUT=]IN.npy]... [--json]\n"
           "\n"
           "Compile MODEL (a zoo name or an .onnx file) as `run` would build it (each\n"
           "kernel with its best record from LOG or DB where that is faster in place,\n"
           "else its default schedule; each 3x3 conv in its fastest form) into files that\n"
           "run without transtune:\n"
           "  DIR/libNAME.so        the kernels and a runtime for this model (needs libc,\n"
           "                        libm and the kernels' OpenMP runtime only)\n"
           "  DIR/NAME.weights      its constants (checked when loaded: a truncated,\n"
           "                        corrupted or foreign file is refused)\n"
           "  DIR/NAME.h            the C API: NAME_create, NAME_run (caller-owned input\n"
           "                        and output in the model's ONNX layout, shapes\n"
           "                        checked; NAME_run_inputs for several inputs),\n"
           "                        NAME_set_threads, NAME_error, NAME_destroy\n"
           "  DIR/NAME_example.c    a small program over it (build line in its header)\n"
           "  DIR/src/              the generated C, to rebuild elsewhere\n"
           "NAME defaults to the model's name (letters, digits and '_').  The library is\n"
           "then loaded and run on the input (--input, else the seeded random one) beside\n"
           "`run`'s executor: its output must match (max |lib - run| / max |run| <= 1e-3)\n"
           "and both latencies are printed (median of 10 each, interleaved).\n"
           "--threads sets the thread count the forms are chosen and timed at; the\n"
           "library runs with the OpenMP default (all cores) unless NAME_set_threads.\n"
           "Exit status: 0 ok; 1 failure (or a library whose output differs); 2 usage.\n");
}

typedef struct run_args {
    const char *what, *out_path, *log_path, *db_path;
    /* --input, in order: FILE (the next unnamed input) or INPUT=FILE */
    int nin;
    const char *in_spec[TT_MODEL_MAX_INPUTS];
    int wino; /* --winograd: 0 off, 1 on, 2 auto */
    int json, check, profile, vs_untuned, trust;
    int64_t threads, repeat;
    int compile;            /* `transtune compile`: -o DIR and --name, no run-only options */
    const char *out_dir, *name;
} run_args;

/* -1: parsed, go on; else the exit status (help printed, or a usage error) */
static int parse_run_args(int argc, char **argv, run_args *A, int compile)
{
    memset(A, 0, sizeof *A);
    A->wino = 2;
    A->repeat = 10;
    A->compile = compile;
    const char *cmd = compile ? "compile" : "run";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (compile)
                compile_help();
            else
                run_help();
            return 0;
        } else if (compile && (!strcmp(a, "--check") || !strcmp(a, "--profile") || !strcmp(a, "--vs-untuned") ||
                               !strcmp(a, "--repeat") || !strcmp(a, "--output"))) {
            fprintf(stderr, "transtune compile: %s is an option of run, not of compile\n", a);
            return 2;
        } else if (compile && (!strcmp(a, "-o") || !strcmp(a, "--name"))) {
            if (i + 1 >= argc || !argv[i + 1][0]) {
                fprintf(stderr, "transtune compile: %s needs a value\n", a);
                return 2;
            }
            *(!strcmp(a, "-o") ? &A->out_dir : &A->name) = argv[++i];
        } else if (!strcmp(a, "--json")) {
            A->json = 1;
        } else if (!strcmp(a, "--check")) {
            A->check = 1;
        } else if (!strcmp(a, "--profile")) {
            A->profile = 1;
        } else if (!strcmp(a, "--vs-untuned")) {
            A->vs_untuned = 1;
        } else if (!strcmp(a, "--trust-records")) {
            A->trust = 1;
        } else if (!strcmp(a, "--threads") || !strcmp(a, "--repeat") || !strcmp(a, "--input") ||
                   !strcmp(a, "--output") || !strcmp(a, "--records") || !strcmp(a, "--db") ||
                   !strcmp(a, "--winograd")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "transtune %s: %s needs a value\n", cmd, a);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--input")) {
                if (A->nin == TT_MODEL_MAX_INPUTS) {
                    fprintf(stderr, "transtune %s: more than %d --input options\n", cmd, TT_MODEL_MAX_INPUTS);
                    return 2;
                }
                A->in_spec[A->nin++] = v;
            } else if (!strcmp(a, "--output")) {
                A->out_path = v;
            } else if (!strcmp(a, "--records")) {
                A->log_path = v;
            } else if (!strcmp(a, "--db")) {
                A->db_path = v;
            } else if (!strcmp(a, "--winograd")) {
                A->wino = !strcmp(v, "auto") ? 2 : !strcmp(v, "on") ? 1 : !strcmp(v, "off") ? 0 : -1;
                if (A->wino < 0) {
                    fprintf(stderr, "transtune %s: --winograd takes auto, on or off, got '%s'\n", cmd, v);
                    return 2;
                }
            } else {
                int64_t x;
                if (cli_parse_i64(v, &x) || x > 4096 || (!strcmp(a, "--repeat") && x < 1)) {
                    fprintf(stderr, "transtune %s: %s needs a positive integer, got '%s'\n", cmd, a, v);
                    return 2;
                }
                *(!strcmp(a, "--threads") ? &A->threads : &A->repeat) = x;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "transtune %s: unknown option '%s' (see --help)\n", cmd, a);
            return 2;
        } else if (!A->what) {
            A->what = a;
        } else {
            fprintf(stderr, "transtune %s: one MODEL only\n", cmd);
            return 2;
        }
    }
    if (!A->what || (compile && !A->out_dir)) {
        fprintf(stderr, "usage: transtune %s MODEL %s[options] (see --help)\n", cmd, compile ? "-o DIR " : "");
        return 2;
    }
    return -1;
}

static void skipped_line(void *ctx, int lineno, const char *why)
{
    (void)ctx;
    fprintf(stderr, "transtune run: records line %d skipped: %s\n", lineno, why);
}

/* Each kernel's best record from --records and --db into P (a log given with
 * --records competes with the database on mean cost). */
static int load_records(const run_args *A, tt_pick *P, tt_err *err)
{
    const tt_model *m = P->m;
    P->skipped = skipped_line;
    if (A->log_path) {
        if (tt_pick_log(P, A->log_path, err))
            return -1;
        int with_record = 0;
        for (int k = 0; k < m->nkernels; k++)
            with_record += P->steps[k] != NULL;
        if (!A->json)
            fprintf(stderr, "%s: %d records, %d identified; %d of %d kernels have a record\n",
                    A->log_path, P->lines, P->parsed, with_record, m->nkernels);
    }
    if (!A->db_path)
        return 0;
    if (tt_pick_db(P, A->db_path, err))
        return -1;
    if (!A->json)
        fprintf(stderr, "%s: %d of %d kernels have a record\n", A->db_path, P->from_db, m->nkernels);
    return 0;
}

/* What each kernel runs, chosen by measurement in place (tt_pick_choose),
 * with a line per conv that has Winograd forms. */
static int choose_forms(const run_args *A, const tt_model *m, const void *input, tt_pick *P, tt_err *err)
{
    int nwith = 0, nrec = 0, nk = m->nkernels, timed = 0;
    for (int k = 0; k < nk; k++) {
        nwith += m->kernels[k].nalt > 0;
        nrec += P->steps[k] != NULL;
    }
    int forms = A->wino == 2 && nwith > 0, versus = nrec > 0 && !A->trust;
    if (!A->json && (forms || versus))
        fprintf(stderr, "timing in place: %s%s%s...\n",
                forms ? "the direct and Winograd forms of the 3x3 convs" : "",
                forms && versus ? "; " : "", versus ? "each record against the default schedule" : "");
    tt_pick_forms f = A->wino == 2 ? TT_FORMS_AUTO : A->wino == 1 ? TT_FORMS_ON : TT_FORMS_OFF;
    if (tt_pick_choose(P, (int)A->threads, f, A->trust, input, &timed, err))
        return -1;
    int nalt = 0;
    for (int k = 0; k < nk && forms; k++) {
        const tt_kernel *K = &m->kernels[k];
        if (K->nalt == 0)
            continue;
        nalt += P->use_alt[k] > 0;
        if (A->json)
            continue;
        /* each form on the schedule it would run */
        fprintf(stderr, "  %-32.32s direct %7.3f ms", K->first_node, tt_pick_time(P, k) * 1e3);
        for (int i = 0; i < K->nalt; i++) {
            int q = K->alts[i];
            double ti = tt_pick_time(P, q);
            if (ti > 0)
                fprintf(stderr, "  F(%d,3) %7.3f ms", m->kernels[q].wino_m, ti * 1e3);
            else /* its model output disagreed with the direct one's */
                fprintf(stderr, "  F(%d,3)  (wrong) ", m->kernels[q].wino_m);
        }
        if (P->use_alt[k])
            fprintf(stderr, "  -> F(%d,3)\n", m->kernels[K->alts[P->use_alt[k] - 1]].wino_m);
        else
            fprintf(stderr, "  -> direct\n");
    }
    if (forms && !A->json)
        fprintf(stderr, "winograd: %d of %d kernels run as Winograd\n", nalt, nwith);
    return 0;
}

/* run --check: the reference executor's output on the same input */
typedef struct run_check {
    double max_abs, max_ref, max_rel;
    int passed, nonfinite;
} run_check;

static int check_output(const run_args *A, const tt_model *m, tt_exec_opts eo, const void *input,
                        const float *out, run_check *C, tt_err *err)
{
    int64_t n = tt_tensor_numel(&m->g->tensors[m->output]);
    eo.unscheduled = 1;
    if (!A->json)
        fprintf(stderr, "reference executor (unscheduled kernels):\n");
    tt_exec *r = NULL;
    float *ref = tt_xmalloc((size_t)n * sizeof *ref);
    int rc = tt_exec_build(m, &eo, &r, err);
    if (!A->json)
        fprintf(stderr, "\n");
    if (rc == 0)
        rc = tt_exec_run(r, input, ref, err);
    memset(C, 0, sizeof *C);
    for (int64_t i = 0; i < n && rc == 0; i++) {
        if (!isfinite(out[i]) || !isfinite(ref[i]))
            C->nonfinite++;
        double d = fabs((double)out[i] - ref[i]);
        if (d > C->max_abs || isnan(d))
            C->max_abs = d;
        if (fabs(ref[i]) > C->max_ref)
            C->max_ref = fabs(ref[i]);
    }
    /* the verdict by the one rule transfer and the form choice use */
    C->max_rel = rc == 0 ? tt_exec_output_error(out, ref, n) : INFINITY;
    C->passed = C->max_rel <= TT_MODEL_TOLERANCE;
    tt_exec_free(r);
    free(ref);
    return rc;
}

typedef struct run_result {
    double med, paired_ms, untuned_ms;
    run_check chk;
} run_result;

static void print_json(const run_args *A, const tt_model *m, const tt_exec *e, const tt_pick *P,
                       const run_result *R)
{
    const tt_exec_stats *st = tt_exec_get_stats(e);
    int64_t wbytes, abytes;
    tt_exec_footprint(m, &wbytes, &abytes);
    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(m->name));
    json_object_set_new(o, "latency_ms", json_real(R->med * 1e3));
    json_object_set_new(o, "kernels", json_integer(m->nkernels));
    json_object_set_new(o, "winograd", json_integer(st->kernels_winograd));
    json_object_set_new(o, "calls", json_integer(m->ncalls));
    json_object_set_new(o, "threads", json_integer(A->threads));
    json_object_set_new(o, "repeat", json_integer(A->repeat));
    json_object_set_new(o, "gflops", json_real(m->flops / R->med / 1e9));
    json_object_set_new(o, "build_s", json_real(st->build_s));
    json_object_set_new(o, "kernels_default", json_integer(st->kernels_default));
    json_object_set_new(o, "kernels_record", json_integer(st->kernels_given));
    if (A->log_path || A->db_path) {
        /* the kernels with a record: index, class key, workload key, and
         * whether it runs (else: its default schedule was faster here, or
         * another form of its conv runs) */
        json_t *rk = json_array();
        for (int k = 0; k < m->nkernels; k++) {
            if (!P->steps[k] && !P->lost[k])
                continue;
            json_t *x = json_object();
            json_object_set_new(x, "index", json_integer(k));
            json_object_set_new(x, "class_key", json_string(m->kernels[k].dag->class_key));
            json_object_set_new(x, "workload_key", json_string(m->kernels[k].workload_key));
            json_object_set_new(x, "record_cost_s", json_real(P->cost[k]));
            json_object_set_new(x, "runs", json_boolean(!P->lost[k] && tt_pick_record_runs(P, k)));
            json_object_set_new(x, "default_faster", json_boolean(P->lost[k]));
            if (P->t_rec[k] > 0)
                json_object_set_new(x, "in_place_s", json_real(P->t_rec[k]));
            if (P->t_def[k] > 0)
                json_object_set_new(x, "default_in_place_s", json_real(P->t_def[k]));
            json_array_append_new(rk, x);
        }
        json_object_set_new(o, "record_kernels", rk);
    }
    json_object_set_new(o, "kernels_unscheduled", json_integer(st->kernels_unscheduled));
    json_object_set_new(o, "memory_bytes", json_integer(st->pool_bytes));
    json_object_set_new(o, "weight_bytes", json_integer(wbytes));
    if (A->vs_untuned) {
        json_object_set_new(o, "paired_ms", json_real(R->paired_ms));
        json_object_set_new(o, "untuned_ms", json_real(R->untuned_ms));
        json_object_set_new(o, "speedup", json_real(R->untuned_ms / R->paired_ms));
    }
    if (A->check) {
        json_object_set_new(o, "max_abs_err", json_real(R->chk.max_abs));
        json_object_set_new(o, "max_rel_err", json_real(R->chk.max_rel));
        json_object_set_new(o, "check_passed", json_boolean(R->chk.passed));
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    printf("%s\n", s);
    free(s);
    json_decref(o);
}

static void print_text(const run_args *A, const tt_model *m, const tt_exec *e, const tt_pick *P,
                       const run_result *R)
{
    const tt_exec_stats *st = tt_exec_get_stats(e);
    int64_t wbytes, abytes;
    tt_exec_footprint(m, &wbytes, &abytes);
    char thr[24] = "all";
    if (A->threads)
        snprintf(thr, sizeof thr, "%lld", (long long)A->threads);
    printf("%s: latency %.3f ms (median of %lld, %s threads), %.1f GFLOP/s\n", m->name, R->med * 1e3,
           (long long)A->repeat, thr, m->flops / R->med / 1e9);
    printf("  %d unique kernels (%d from records, %d default schedule, %d unscheduled), %d "
           "calls, built in %.1f s, activations %.1f MB (%.1f MB without reuse), weights "
           "%.1f MB\n",
           m->nkernels, st->kernels_given, st->kernels_default, st->kernels_unscheduled, m->ncalls,
           st->build_s, st->pool_bytes / 1e6, st->naive_bytes / 1e6, wbytes / 1e6);
    if (A->vs_untuned)
        printf("  against untuned, %lld interleaved pairs of runs: %.3f ms, untuned %.3f ms: "
               "speedup %.3fx\n",
               (long long)(3 * A->repeat), R->paired_ms, R->untuned_ms, R->untuned_ms / R->paired_ms);
    for (int k = 0; k < m->nkernels && (A->log_path || A->db_path); k++) {
        const tt_kernel *K = &m->kernels[k];
        if (P->lost[k])
            printf("  kernel %2d has a record, unused: its default schedule ran faster here "
                   "(%.4f against %.4f ms in place; recorded cost %.4f ms): %-36s %s\n",
                   k, P->t_def[k] * 1e3, P->t_rec[k] * 1e3, P->cost[k] * 1e3, K->dag->class_key,
                   K->workload_key);
        else if (P->steps[k])
            printf("  kernel %2d %s (recorded cost %.4f ms): %-36s %s\n", k,
                   tt_pick_record_runs(P, k) ? "runs a record"
                                               : "has a record, unused: another form of its conv was faster",
                   P->cost[k] * 1e3, K->dag->class_key, K->workload_key);
    }
    if (A->check)
        printf("  check: max |ours - ref| = %.3g, relative to max |ref| (%.3g): %.3g: %s%s\n",
               R->chk.max_abs, R->chk.max_ref, R->chk.max_rel, R->chk.passed ? "PASSED" : "FAILED",
               R->chk.nonfinite ? " (non-finite values)" : "");
}

/* Which model input --input spec s names: the input called as the text
 * before its first '=' (then *path is after it), else -1 (all of s is a
 * path). */
static int spec_input(const tt_model *m, const char *s, const char **path)
{
    const char *eq = strchr(s, '=');
    *path = s;
    for (int i = 0; eq && i < m->ninputs; i++) {
        const char *n = m->g->tensors[m->inputs[i]].name;
        if (strlen(n) == (size_t)(eq - s) && !strncmp(n, s, (size_t)(eq - s))) {
            *path = eq + 1;
            return i;
        }
    }
    return -1;
}

/* The model's inputs, laid out as tt_exec_run takes them: from the --input
 * files (each one's dtype and shape checked; named INPUT=FILE, else in the
 * model's order) or, with no --input, seeded random (tt_model_random_input). */
static void *read_input(const run_args *A, const tt_model *m, tt_err *err)
{
    char *input = tt_xmalloc((size_t)tt_model_input_bytes(m) + 1);
    if (A->nin == 0) {
        tt_model_random_input(m, input);
        return input;
    }
    const char *path[TT_MODEL_MAX_INPUTS] = {0};
    int next = 0, ok = 1;
    for (int k = 0; k < A->nin && ok; k++) {
        const char *p;
        int i = spec_input(m, A->in_spec[k], &p);
        while (i < 0 && next < m->ninputs && path[next])
            next++;
        i = i >= 0 ? i : next < m->ninputs ? next : -1;
        if (i < 0) {
            tt_err_set(err, "--input '%s': the model has %d input(s), all given already", A->in_spec[k],
                       m->ninputs);
            ok = 0;
        } else if (path[i]) {
            tt_err_set(err, "--input '%s': input '%s' is given twice", A->in_spec[k],
                       m->g->tensors[m->inputs[i]].name);
            ok = 0;
        } else {
            path[i] = p;
        }
    }
    for (int i = 0; i < m->ninputs && ok; i++) {
        const tt_tensor *t = &m->g->tensors[m->inputs[i]];
        if (!path[i]) {
            tt_err_set(err, "no --input for the model's input '%s' (give every input, as FILE in order or as %s=FILE)",
                       t->name, t->name);
            ok = 0;
            break;
        }
        tt_npy npy = {0};
        if (tt_npy_read(path[i], &npy, err)) {
            ok = 0;
            break;
        }
        if (!input_fits(&npy, t, path[i])) {
            err->msg[0] = 0; /* said */
            ok = 0;
        } else {
            memcpy(input + tt_model_input_offset(m, i), npy.data,
                   (size_t)(tt_tensor_numel(t) * tt_dtype_size(t->dtype)));
        }
        tt_npy_free(&npy);
    }
    if (!ok) {
        free(input);
        return NULL;
    }
    return input;
}

/* Build, run, time and check; R filled, e owned by the caller. */
static int run_model(const run_args *A, tt_model *m, const void *input, tt_pick *P, tt_exec **e, run_result *R,
                     tt_err *err)
{
    const tt_tensor *OT = &m->g->tensors[m->output];
    if (!A->json)
        fprintf(stderr, "%s: %d unique kernels, %d calls\n", m->name, m->nkernels, m->ncalls);
    /* the FMA peak for --profile, measured before any kernel runs: after
     * them, the kernels' OpenMP workers still spin (KMP_BLOCKTIME) and took
     * the second core from the measurement (311 instead of 530 GFLOP/s) */
    int pthreads = A->threads > 0 ? (int)A->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    double peak = A->profile ? tt_fma_peak(TT_ISA_BEST, pthreads, 0.02) : 0;
    if (choose_forms(A, m, input, P, err))
        return -1;
    tt_exec_opts eo = tt_pick_exec_opts(P, (int)A->threads);
    eo.progress = A->json || !isatty(2) ? NULL : cli_load_progress;
    int rc = tt_exec_build(m, &eo, e, err);
    if (!A->json)
        fprintf(stderr, "\n");
    float *out = tt_xmalloc((size_t)tt_tensor_numel(OT) * sizeof *out);
    if (rc == 0)
        rc = tt_exec_run(*e, input, out, err);
    /* the output's ONNX shape: the graph output is in ONNX layout */
    if (rc == 0 && A->out_path)
        rc = tt_npy_write(A->out_path, TT_DT_FLOAT, OT->ndim, OT->shape, out, err);
    if (rc == 0)
        rc = tt_exec_time(*e, input, (int)A->repeat, &R->med, err);
    if (rc == 0 && A->vs_untuned) {
        tt_exec_opts uo = eo;
        uo.steps = NULL;
        uo.nsteps = NULL;
        uo.progress = NULL;
        tt_exec *u = NULL;
        double ta = 0, tu = 0;
        rc = tt_exec_build(m, &uo, &u, err);
        if (rc == 0)
            rc = tt_exec_time_pair(*e, u, input, (int)A->repeat, 3, &ta, &tu, err);
        if (rc)
            tt_err_prefix(err, "untuned: ");
        tt_exec_free(u);
        R->paired_ms = ta * 1e3;
        R->untuned_ms = tu * 1e3;
    }
    if (rc == 0 && A->profile)
        rc = print_profile(m, *e, input, A->repeat, peak, pthreads, err);
    if (rc == 0 && A->check) {
        rc = check_output(A, m, eo, input, out, &R->chk, err);
        if (rc)
            tt_err_prefix(err, "reference: ");
    }
    free(out);
    return rc;
}

/* What run and compile hold at their end: the records, the forms, the
 * executor, the input (read from --input, else made), the model. */
static void run_free(tt_model *m, tt_pick *P, tt_exec *e, void *input)
{
    tt_pick_free(P);
    tt_exec_free(e);
    free(input);
    tt_model_free(m);
}

int cmd_run(int argc, char **argv)
{
    run_args A;
    int rc = parse_run_args(argc, argv, &A, 0);
    if (rc >= 0)
        return rc;
    tt_model *m = cli_load_model(A.what, "run");
    if (!m)
        return 1;
    rc = 1;
    tt_err err = {0};
    tt_exec *e = NULL;
    tt_pick P;
    tt_pick_init(&P, m);
    run_result R = {0};
    void *input = read_input(&A, m, &err);
    if (!input) {
        if (err.msg[0])
            fprintf(stderr, "transtune run: %s\n", err.msg);
    } else if (load_records(&A, &P, &err) || run_model(&A, m, input, &P, &e, &R, &err)) {
        fprintf(stderr, "transtune run: %s\n", err.msg);
    } else {
        if (A.json)
            print_json(&A, m, e, &P, &R);
        else
            print_text(&A, m, e, &P, &R);
        rc = A.check && !R.chk.passed ? 1 : 0;
    }
    run_free(m, &P, e, input);
    return rc;
}

/* ---- transtune compile ------------------------------------------------------- */

typedef int (*art_create_fn)(const char *, void **, char *, size_t);
typedef int (*art_run_fn)(void *, int, const void *const *, float *, int64_t);
typedef const char *(*art_error_fn)(const void *);
typedef void (*art_destroy_fn)(void *);

/* The compiled library loaded and run on input beside e (the executor of the
 * same schedules): its output's error against e's, and both latencies
 * (medians of 10 runs each, interleaved).  Never dlclose'd (OpenMP). */
static int check_artifact(const run_args *A, const tt_model *m, const char *name, tt_exec *e, const void *input,
                          double *err_out, double *t_lib, double *t_exec, tt_err *err)
{
    const tt_tensor *OT = &m->g->tensors[m->output];
    char path[PATH_MAX], sym[160];
    snprintf(path, sizeof path, "%s/lib%s.so", A->out_dir, name);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return tt_err_set(err, "cannot load %s: %s", path, dlerror());
    art_create_fn create;
    art_run_fn run;
    art_error_fn error;
    art_destroy_fn destroy;
    snprintf(sym, sizeof sym, "%s_create", name);
    *(void **)&create = dlsym(h, sym);
    snprintf(sym, sizeof sym, "%s_run_inputs", name);
    *(void **)&run = dlsym(h, sym);
    snprintf(sym, sizeof sym, "%s_error", name);
    *(void **)&error = dlsym(h, sym);
    snprintf(sym, sizeof sym, "%s_destroy", name);
    *(void **)&destroy = dlsym(h, sym);
    if (!create || !run || !error || !destroy)
        return tt_err_set(err, "%s lacks the functions of its header", path);
    void *lm = NULL;
    char msg[256] = "";
    snprintf(path, sizeof path, "%s/%s.weights", A->out_dir, name);
    if (create(path, &lm, msg, sizeof msg))
        return tt_err_set(err, "%s", msg);
    int64_t n = tt_tensor_numel(OT);
    float *a = tt_xmalloc((size_t)n * sizeof *a), *b = tt_xmalloc((size_t)n * sizeof *b);
    int rc = tt_exec_run(e, input, b, err);
    const void *ins[TT_MODEL_MAX_INPUTS];
    for (int i = 0; i < m->ninputs; i++)
        ins[i] = (const char *)input + tt_model_input_offset(m, i);
    double ta[10], tb[10];
    for (int r = 0; r < 13 && rc == 0; r++) {
        double t0 = tt_now();
        if (run(lm, m->ninputs, ins, a, n))
            rc = tt_err_set(err, "the library: %s", error(lm));
        double t1 = tt_now();
        if (rc == 0)
            rc = tt_exec_run(e, input, NULL, err);
        double t2 = tt_now();
        if (r >= 3)
            ta[r - 3] = t1 - t0, tb[r - 3] = t2 - t1;
    }
    if (rc == 0) {
        *err_out = tt_exec_output_error(a, b, n);
        *t_lib = tt_median(ta, 10);
        *t_exec = tt_median(tb, 10);
    }
    /* the library's kernels are its own copies: destroying its model frees
     * only what the library allocated (the library itself stays loaded) */
    destroy(lm);
    free(a);
    free(b);
    return rc;
}

int cmd_compile(int argc, char **argv)
{
    run_args A;
    int rc = parse_run_args(argc, argv, &A, 1);
    if (rc >= 0)
        return rc;
    if (A.name && !tt_artifact_name_ok(A.name)) {
        fprintf(stderr, "transtune compile: name '%s': 1 to 64 letters, digits and '_', not starting with "
                        "a digit (it prefixes the C API)\n", A.name);
        return 2;
    }
    tt_model *m = cli_load_model(A.what, "compile");
    if (!m)
        return 1;
    char name[72];
    snprintf(name, sizeof name, "%s", A.name ? A.name : m->name);
    if (!A.name) /* a model's name made a C identifier */
        for (char *p = name; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
                *p = '_';
    rc = 1;
    tt_err err = {0};
    tt_exec *e = NULL;
    tt_pick P;
    tt_pick_init(&P, m);
    tt_artifact_info info;
    memset(&info, 0, sizeof info);
    double aerr = INFINITY, tl = 0, te = 0;
    void *input = read_input(&A, m, &err);
    int ok = input && load_records(&A, &P, &err) == 0 && choose_forms(&A, m, input, &P, &err) == 0;
    tt_exec_opts eo = tt_pick_exec_opts(&P, (int)A.threads);
    if (ok && !A.json)
        fprintf(stderr, "writing %s/lib%s.so ...\n", A.out_dir, name);
    ok = ok && tt_exec_write_artifact(m, &eo, A.out_dir, name, &info, &err) == 0;
    ok = ok && tt_exec_build(m, &eo, &e, &err) == 0;
    ok = ok && check_artifact(&A, m, name, e, input, &aerr, &tl, &te, &err) == 0;
    if (!ok) {
        if (err.msg[0])
            fprintf(stderr, "transtune compile: %s\n", err.msg);
    } else if (A.json) {
        printf("{\"model\": \"%s\", \"dir\": \"%s\", \"name\": \"%s\", \"kernels\": %d, \"kernels_from_records\": %d, "
               "\"kernels_winograd\": %d, \"weights\": %d, \"weight_bytes\": %lld, \"activation_bytes\": %lld, "
               "\"build_s\": %.3f, \"max_rel_err\": %.3g, \"library_ms\": %.4f, \"run_ms\": %.4f}\n",
               m->name, A.out_dir, name, info.kernels, info.kernels_given, info.kernels_winograd, info.weights,
               (long long)info.weight_bytes, (long long)info.activation_bytes, info.build_s, aerr, tl * 1e3,
               te * 1e3);
    } else {
        printf("%s: %s/lib%s.so, %s.weights (%d tensors, %.1f MB), %s.h, %s_example.c\n", m->name, A.out_dir, name,
               name, info.weights, (double)info.weight_bytes / 1e6, name, name);
        printf("  %d kernels (%d from records, %d Winograd), activations %.1f MB, built in %.1f s\n", info.kernels,
               info.kernels_given, info.kernels_winograd, (double)info.activation_bytes / 1e6, info.build_s);
        printf("  checked: max |lib - run| / max |run| = %.3g; latency %.3f ms (run's executor: %.3f ms)\n", aerr,
               tl * 1e3, te * 1e3);
    }
    rc = ok && aerr <= TT_MODEL_TOLERANCE ? 0 : 1;
    if (ok && rc)
        fprintf(stderr, "transtune compile: the library's output differs from run's (%.3g)\n", aerr);
    run_free(m, &P, e, input);
    return rc;
}
