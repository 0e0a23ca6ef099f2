/* cmd_model.c - `transtune models`, `transtune kernels MODEL`,
 * `transtune run MODEL`: the zoo, a model's kernels, end-to-end inference. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../db/db.h"
#include "../exec/exec.h"
#include "../tune/tune.h"
#include "../measure/evaluate.h"
#include "../util/npy.h"
#include "../zoo/zoo.h"
#include "cli.h"

/* ---- models ------------------------------------------------------------------ */

int cmd_models(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: transtune models [--json]\n\n"
                   "The built-in model zoo: name, input shape (ONNX layout) and description.\n"
                   "Each name can be given to `transtune kernels` and `transtune run`.\n");
            return 0;
        } else {
            fprintf(stderr, "transtune models: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    for (const tt_zoo_entry *z = tt_zoo; z->name; z++) {
        char shape[64] = "";
        for (int i = 0; i < z->input_rank; i++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld", i ? "," : "",
                     (long long)z->input_shape[i]);
        if (json)
            printf("{\"name\": \"%s\", \"input\": [%s], \"input_dtype\": \"%s\", \"description\": "
                   "\"%s\"}\n",
                   z->name, shape, tt_dtype_name(z->input_dtype), z->description);
        else
            printf("%-16s [%s] %-7s %s\n", z->name, shape, tt_dtype_name(z->input_dtype),
                   z->description);
    }
    return 0;
}

static void on_load_progress(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "\r  %-60s", msg);
    fflush(stderr);
}

static tt_model *load_or_report(const char *what, const char *cmd)
{
    tt_model *m = NULL;
    tt_err err = {0};
    if (tt_model_load(what, &m, &err)) {
        fprintf(stderr, "transtune %s: %s\n", cmd, err.msg);
        return NULL;
    }
    return m;
}

/* ---- kernels ------------------------------------------------------------------ */

static json_t *dag_shapes(const tt_dag *d)
{
    json_t *a = json_array();
    for (int i = 0; i < d->nops; i++) {
        const tt_op *op = d->ops[i];
        if (op->kind != TT_OP_PLACEHOLDER && i != d->nops - 1)
            continue;
        json_t *s = json_array();
        for (int k = 0; k < op->ndim; k++)
            json_array_append_new(s, json_integer(op->axis[k].extent));
        json_array_append_new(a, s);
    }
    return a;
}

int cmd_kernels(int argc, char **argv)
{
    int json = 0;
    const char *what = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: transtune kernels MODEL [--json]\n\n"
                   "MODEL is a zoo name (transtune models) or an .onnx file.  Runs the graph passes\n"
                   "and fusion and prints one row per unique kernel: index, class key, workload key,\n"
                   "weight (calls per inference), FLOPs per call, and the shapes of its inputs and\n"
                   "output (the output last).\n");
            return 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "transtune kernels: unknown option '%s'\n", argv[i]);
            return 2;
        } else if (!what) {
            what = argv[i];
        } else {
            fprintf(stderr, "transtune kernels: one MODEL only\n");
            return 2;
        }
    }
    if (!what) {
        fprintf(stderr, "usage: transtune kernels MODEL [--json]\n");
        return 2;
    }
    tt_model *m = load_or_report(what, "kernels");
    if (!m)
        return 1;
    json_t *ks = json_array();
    double total = 0;
    for (int k = 0; k < m->nkernels; k++) {
        const tt_kernel *kn = &m->kernels[k];
        if (kn->alt_of < 0)
            total += kn->dag->flops * kn->weight;
        json_t *o = json_object();
        json_object_set_new(o, "index", json_integer(k));
        /* a Winograd twin: an alternative compute of kernel alt_of */
        if (kn->alt_of >= 0) {
            json_object_set_new(o, "alternative_of", json_integer(kn->alt_of));
            json_object_set_new(o, "winograd_tile", json_integer(kn->wino_m));
        }
        json_object_set_new(o, "class_key", json_string(kn->dag->class_key));
        json_object_set_new(o, "workload_key", json_string(kn->workload_key));
        json_object_set_new(o, "weight", json_integer(kn->weight));
        json_object_set_new(o, "flops", json_real(kn->dag->flops));
        json_object_set_new(o, "shapes", dag_shapes(kn->dag));
        json_object_set_new(o, "node", json_string(kn->first_node));
        json_array_append_new(ks, o);
    }
    if (json) {
        json_t *root = json_object();
        json_object_set_new(root, "model", json_string(m->name));
        json_object_set_new(root, "flops", json_real(total));
        json_object_set_new(root, "calls", json_integer(m->ncalls));
        json_object_set_new(root, "kernels", ks);
        char *s = json_dumps(root, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(root);
    } else {
        printf("%s: %d unique kernels (%d Winograd alternatives), %d calls, %.3f GFLOP per inference\n",
               m->name, m->nkernels, m->nkernels - tt_model_ndirect(m), m->ncalls, total / 1e9);
        printf("%4s  %-40s %6s %10s  %s\n", "idx", "class", "weight", "MFLOP", "workload key");
        for (size_t k = 0; k < json_array_size(ks); k++) {
            const tt_kernel *kn = &m->kernels[k];
            char cls[160];
            if (kn->alt_of >= 0)
                snprintf(cls, sizeof cls, "%s F(%d,3) (or %d)", kn->dag->class_key, kn->wino_m, kn->alt_of);
            else
                snprintf(cls, sizeof cls, "%s", kn->dag->class_key);
            printf("%4zu  %-40s %6d %10.2f  %s\n", k, cls, kn->weight, kn->dag->flops / 1e6, kn->workload_key);
        }
        json_decref(ks);
    }
    tt_model_free(m);
    return 0;
}

/* ---- run ----------------------------------------------------------------------- */

/* The best record of each kernel in an Ansor log: every line is parsed and
 * identified (as `replay` does); a record whose DAG's workload key is a
 * kernel's, measured without error, competes on its mean cost. */
typedef struct rec_pick {
    const tt_model *m;
    tt_step **steps;        /* per kernel, NULL if none */
    int *nsteps;
    int *lanes;             /* per kernel, its record's vector lanes (0 unknown) */
    double *cost;
    int lines, parsed, matched;
} rec_pick;

static int pick_line(void *ctx, int lineno, const char *line)
{
    rec_pick *P = ctx;
    P->lines++;
    tt_record *rec = tt_xmalloc(sizeof *rec);
    tt_err e = {0};
    tt_dag *d = NULL;
    if (tt_record_parse(line, rec, &e) || tt_identify_record(rec, &d, NULL, NULL, 0, &e)) {
        fprintf(stderr, "transtune run: records line %d skipped: %s\n", lineno, e.msg);
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
        if (P->steps[k] && P->cost[k] <= cost)
            continue;
        free(P->steps[k]);
        P->steps[k] = tt_xmalloc((size_t)(rec->nsteps ? rec->nsteps : 1) * sizeof(tt_step));
        memcpy(P->steps[k], rec->steps, (size_t)rec->nsteps * sizeof(tt_step));
        P->nsteps[k] = rec->nsteps;
        P->lanes[k] = tt_target_vector_lanes(rec->target);
        P->cost[k] = cost;
    }
    free(key);
    tt_dag_free(d);
    free(rec);
    return 0;
}

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
    fprintf(stderr, "sum of the best call times: %.3f ms\n", total * 1e3);
    fprintf(stderr, "%%peak: of this host's fp32 FMA peak, %.1f GFLOP/s on %d thread(s) (%s)\n", peak, pthreads,
            tt_isa_name(TT_ISA_BEST));
    free(cs);
    return 0;
}

/* --winograd: which direct kernels run as one of their Winograd twins (use_alt) */
static int choose_winograd(const tt_model *m, const tt_exec_opts *eo, int wino, const void *input, int quiet,
                           unsigned char *use_alt, tt_err *err)
{
    int nwith = 0;
    for (int k = 0; k < m->nkernels; k++)
        nwith += m->kernels[k].nalt > 0;
    if (nwith == 0 || wino == 0)
        return 0;
    if (wino == 1) { /* on: TOPI's F(4, 3), the first twin */
        for (int k = 0; k < m->nkernels; k++)
            use_alt[k] = m->kernels[k].nalt > 0;
        return 0;
    }
    if (!quiet)
        fprintf(stderr, "winograd: timing the direct and Winograd forms of %d kernels in the model...\n", nwith);
    double *t = tt_xcalloc((size_t)m->nkernels, sizeof *t);
    int rc = tt_exec_choose_alt(m, eo, input, 10, use_alt, t, err);
    int nalt = 0;
    for (int k = 0; k < m->nkernels && rc == 0; k++) {
        const tt_kernel *K = &m->kernels[k];
        if (K->nalt == 0)
            continue;
        nalt += use_alt[k] > 0;
        if (quiet)
            continue;
        fprintf(stderr, "  %-32.32s direct %7.3f ms", K->first_node, t[k] * 1e3);
        for (int i = 0; i < K->nalt; i++) {
            double ti = t[K->alts[i]];
            if (ti > 0)
                fprintf(stderr, "  F(%d,3) %7.3f ms", m->kernels[K->alts[i]].wino_m, ti * 1e3);
            else /* its model output disagreed with the direct one's */
                fprintf(stderr, "  F(%d,3)  (wrong) ", m->kernels[K->alts[i]].wino_m);
        }
        if (use_alt[k])
            fprintf(stderr, "  -> F(%d,3)\n", m->kernels[K->alts[use_alt[k] - 1]].wino_m);
        else
            fprintf(stderr, "  -> direct\n");
    }
    if (rc == 0 && !quiet)
        fprintf(stderr, "winograd: %d of %d kernels run as Winograd\n", nalt, nwith);
    free(t);
    return rc;
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
           "                     [--input IN.npy] [--output OUT.npy] [--json] [--profile]\n"
           "                     [--vs-untuned] [--winograd auto|on|off]\n\n"
           "Compile every kernel of MODEL (a zoo name or an .onnx file) with its best record\n"
           "in LOG (an Ansor log; records are identified as `replay` does) or in the record\n"
           "database DB (transtune db), else its default\n"
           "schedule, run the model end to end and print its latency (median of R runs,\n"
           "default 10).  --check also runs a reference executor (every kernel unscheduled)\n"
           "on the same input and compares the outputs: max |ours - ref| / max |ref| <= 1e-3\n"
           "passes.  --input reads the input (.npy, float32 or int64 token ids, of exactly\n"
           "the shape of the model's input in its ONNX layout, e.g. (1, 3, 224, 224) NCHW\n"
           "for an image model, batch dimension included; default: seeded random);\n"
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


int cmd_run(int argc, char **argv)
{
    const char *what = NULL, *in_path = NULL, *out_path = NULL, *log_path = NULL, *db_path = NULL;
    int wino = 2; /* --winograd: 0 off, 1 on, 2 auto */
    int json = 0, check = 0, profile = 0, vs_untuned = 0;
    int64_t threads = 0, repeat = 10;
    double paired_ms = 0, untuned_ms = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            run_help();
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--check")) {
            check = 1;
        } else if (!strcmp(a, "--profile")) {
            profile = 1;
        } else if (!strcmp(a, "--vs-untuned")) {
            vs_untuned = 1;
        } else if (!strcmp(a, "--threads") || !strcmp(a, "--repeat") || !strcmp(a, "--input") ||
                   !strcmp(a, "--output") || !strcmp(a, "--records") || !strcmp(a, "--db") ||
                   !strcmp(a, "--winograd")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "transtune run: %s needs a value\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--input")) {
                in_path = v;
            } else if (!strcmp(a, "--output")) {
                out_path = v;
            } else if (!strcmp(a, "--records")) {
                log_path = v;
            } else if (!strcmp(a, "--db")) {
                db_path = v;
            } else if (!strcmp(a, "--winograd")) {
                wino = !strcmp(v, "auto") ? 2 : !strcmp(v, "on") ? 1 : !strcmp(v, "off") ? 0 : -1;
                if (wino < 0) {
                    fprintf(stderr, "transtune run: --winograd takes auto, on or off, got '%s'\n", v);
                    return 2;
                }
            } else {
                int64_t x;
                if (cli_parse_i64(v, &x) || x > 4096 || (!strcmp(a, "--repeat") && x < 1)) {
                    fprintf(stderr, "transtune run: %s needs a positive integer, got '%s'\n", a, v);
                    return 2;
                }
                if (!strcmp(a, "--threads"))
                    threads = x;
                else
                    repeat = x;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "transtune run: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (!what) {
            what = a;
        } else {
            fprintf(stderr, "transtune run: one MODEL only\n");
            return 2;
        }
    }
    if (!what) {
        fprintf(stderr, "usage: transtune run MODEL [options] (see --help)\n");
        return 2;
    }
    tt_model *m = load_or_report(what, "run");
    if (!m)
        return 1;
    const tt_graph *g = m->g;
    const tt_tensor *IT = &g->tensors[m->input], *OT = &g->tensors[m->output];
    int64_t in_n = tt_tensor_numel(IT), out_n = tt_tensor_numel(OT);
    int rc = 1;
    tt_err err = {0};
    void *input = NULL;
    float *out = tt_xmalloc((size_t)out_n * sizeof *out), *ref = NULL;
    tt_exec *e = NULL, *r = NULL;
    unsigned char *use_alt = NULL;
    tt_npy in_npy = {0};
    rec_pick P = {m, tt_xcalloc((size_t)m->nkernels + 1, sizeof(tt_step *)),
                  tt_xcalloc((size_t)m->nkernels + 1, sizeof(int)),
                  tt_xcalloc((size_t)m->nkernels + 1, sizeof(int)),
                  tt_xcalloc((size_t)m->nkernels + 1, sizeof(double)), 0, 0, 0};
    if (in_path) {
        if (tt_npy_read(in_path, &in_npy, &err)) {
            fprintf(stderr, "transtune run: %s\n", err.msg);
            goto done;
        }
        if (!input_fits(&in_npy, IT, in_path))
            goto done;
        input = in_npy.data;
    } else {
        input = tt_xmalloc((size_t)in_n * (size_t)tt_dtype_size(IT->dtype));
        tt_model_random_input(m, input);
    }
    tt_exec_opts eo = {0};
    eo.threads = (int)threads;
    int with_record = 0;
    if (log_path) {
        if (tt_log_foreach(log_path, pick_line, &P, &err)) {
            fprintf(stderr, "transtune run: %s\n", err.msg);
            goto done;
        }
        for (int k = 0; k < m->nkernels; k++)
            with_record += P.steps[k] != NULL;
        if (!json)
            fprintf(stderr, "%s: %d records, %d identified; %d of %d kernels have a record\n",
                    log_path, P.lines, P.parsed, with_record, m->nkernels);
        eo.steps = (const tt_step *const *)P.steps;
        eo.nsteps = P.nsteps;
        eo.from_lanes = P.lanes;
    }
    if (db_path) {
        /* the best record of each kernel in the database, any target and
         * origin; a log given with --records competes on mean cost */
        tt_db *db = NULL;
        if (tt_db_open(db_path, TT_DB_READONLY, &db, &err)) {
            fprintf(stderr, "transtune run: %s\n", err.msg);
            goto done;
        }
        tt_db_row *row = tt_xmalloc(sizeof *row);
        int from_db = 0;
        for (int k = 0; k < m->nkernels; k++) {
            int got = tt_db_best_record(db, m->kernels[k].workload_key, NULL, row, &err);
            if (got < 0) {
                fprintf(stderr, "transtune run: %s\n", err.msg);
                free(row);
                tt_db_close(db);
                goto done;
            }
            if (got == 0 || (P.steps[k] && P.cost[k] <= row->mean_cost))
                continue;
            free(P.steps[k]);
            P.steps[k] = tt_xmalloc((size_t)(row->rec.nsteps ? row->rec.nsteps : 1) * sizeof(tt_step));
            memcpy(P.steps[k], row->rec.steps, (size_t)row->rec.nsteps * sizeof(tt_step));
            P.nsteps[k] = row->rec.nsteps;
            P.lanes[k] = tt_target_vector_lanes(row->rec.target);
            P.cost[k] = row->mean_cost;
            from_db++;
        }
        free(row);
        tt_db_close(db);
        if (!json)
            fprintf(stderr, "%s: %d of %d kernels have a record\n", db_path, from_db, m->nkernels);
        eo.steps = (const tt_step *const *)P.steps;
        eo.nsteps = P.nsteps;
        eo.from_lanes = P.lanes;
    }
    eo.progress = json || !isatty(2) ? NULL : on_load_progress;
    if (!json)
        fprintf(stderr, "%s: %d unique kernels, %d calls\n", m->name, m->nkernels, m->ncalls);
    /* the FMA peak for --profile, measured before any kernel runs: after
     * them, the kernels' OpenMP workers still spin (KMP_BLOCKTIME) and took
     * the second core from the measurement (311 instead of 530 GFLOP/s) */
    int pthreads = threads > 0 ? (int)threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    double peak = profile ? tt_fma_peak(TT_ISA_BEST, pthreads, 0.02) : 0;
    use_alt = tt_xcalloc((size_t)m->nkernels + 1, 1);
    if (choose_winograd(m, &eo, wino, input, json, use_alt, &err)) {
        fprintf(stderr, "transtune run: %s\n", err.msg);
        goto done;
    }
    eo.use_alt = use_alt;
    if (tt_exec_build(m, &eo, &e, &err)) {
        fprintf(stderr, "\ntranstune run: %s\n", err.msg);
        goto done;
    }
    if (!json)
        fprintf(stderr, "\n");
    if (tt_exec_run(e, input, out, &err)) {
        fprintf(stderr, "transtune run: %s\n", err.msg);
        goto done;
    }
    if (out_path) {
        /* the output's ONNX shape: the graph output is in ONNX layout */
        if (tt_npy_write(out_path, TT_DT_FLOAT, OT->ndim, OT->shape, out, &err)) {
            fprintf(stderr, "transtune run: %s\n", err.msg);
            goto done;
        }
    }
    double med = 0;
    if (tt_exec_time(e, input, (int)repeat, &med, &err)) {
        fprintf(stderr, "transtune run: %s\n", err.msg);
        goto done;
    }
    if (vs_untuned) {
        tt_exec_opts uo = eo;
        uo.steps = NULL;
        uo.nsteps = NULL;
        uo.progress = NULL;
        tt_exec *u = NULL;
        double ta = 0, tu = 0;
        if (tt_exec_build(m, &uo, &u, &err) || tt_exec_time_pair(e, u, input, (int)repeat, 3, &ta, &tu, &err)) {
            fprintf(stderr, "transtune run: untuned: %s\n", err.msg);
            tt_exec_free(u);
            goto done;
        }
        tt_exec_free(u);
        paired_ms = ta * 1e3;
        untuned_ms = tu * 1e3;
    }
    if (profile && print_profile(m, e, input, repeat, peak, pthreads, &err)) {
        fprintf(stderr, "transtune run: %s\n", err.msg);
        goto done;
    }
    double max_abs = 0, max_ref = 0, max_rel = 0;
    int passed = 1, nonfinite = 0;
    if (check) {
        eo.unscheduled = 1;
        if (!json)
            fprintf(stderr, "reference executor (unscheduled kernels):\n");
        if (tt_exec_build(m, &eo, &r, &err)) {
            fprintf(stderr, "\ntranstune run: reference: %s\n", err.msg);
            goto done;
        }
        if (!json)
            fprintf(stderr, "\n");
        ref = tt_xmalloc((size_t)out_n * sizeof *ref);
        if (tt_exec_run(r, input, ref, &err)) {
            fprintf(stderr, "transtune run: reference: %s\n", err.msg);
            goto done;
        }
        for (int64_t i = 0; i < out_n; i++) {
            if (!isfinite(out[i]) || !isfinite(ref[i]))
                nonfinite++;
            double d = fabs((double)out[i] - ref[i]);
            if (d > max_abs || isnan(d))
                max_abs = d;
            if (fabs(ref[i]) > max_ref)
                max_ref = fabs(ref[i]);
        }
        max_rel = max_ref > 0 ? max_abs / max_ref : max_abs;
        passed = !nonfinite && max_rel <= 1e-3;
    }
    const tt_exec_stats *st = tt_exec_get_stats(e);
    int64_t wbytes, abytes;
    tt_exec_footprint(m, &wbytes, &abytes);
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "model", json_string(m->name));
        json_object_set_new(o, "latency_ms", json_real(med * 1e3));
        json_object_set_new(o, "kernels", json_integer(m->nkernels));
        json_object_set_new(o, "winograd", json_integer(tt_exec_get_stats(e)->kernels_winograd));
        json_object_set_new(o, "calls", json_integer(m->ncalls));
        json_object_set_new(o, "threads", json_integer(threads));
        json_object_set_new(o, "repeat", json_integer(repeat));
        json_object_set_new(o, "gflops", json_real(m->flops / med / 1e9));
        json_object_set_new(o, "build_s", json_real(st->build_s));
        json_object_set_new(o, "kernels_default", json_integer(st->kernels_default));
        json_object_set_new(o, "kernels_record", json_integer(st->kernels_given));
        if (log_path || db_path) {
            /* which kernels ran a record: index, class key, workload key */
            json_t *rk = json_array();
            for (int k = 0; k < m->nkernels; k++)
                if (P.steps[k]) {
                    json_t *x = json_object();
                    json_object_set_new(x, "index", json_integer(k));
                    json_object_set_new(x, "class_key", json_string(m->kernels[k].dag->class_key));
                    json_object_set_new(x, "workload_key", json_string(m->kernels[k].workload_key));
                    json_object_set_new(x, "record_cost_s", json_real(P.cost[k]));
                    json_array_append_new(rk, x);
                }
            json_object_set_new(o, "record_kernels", rk);
        }
        json_object_set_new(o, "kernels_unscheduled", json_integer(st->kernels_unscheduled));
        json_object_set_new(o, "memory_bytes", json_integer(st->pool_bytes));
        json_object_set_new(o, "weight_bytes", json_integer(wbytes));
        if (vs_untuned) {
            json_object_set_new(o, "paired_ms", json_real(paired_ms));
            json_object_set_new(o, "untuned_ms", json_real(untuned_ms));
            json_object_set_new(o, "speedup", json_real(untuned_ms / paired_ms));
        }
        if (check) {
            json_object_set_new(o, "max_abs_err", json_real(max_abs));
            json_object_set_new(o, "max_rel_err", json_real(max_rel));
            json_object_set_new(o, "check_passed", json_boolean(passed));
        }
        char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        char thr[24] = "all";
        if (threads)
            snprintf(thr, sizeof thr, "%lld", (long long)threads);
        printf("%s: latency %.3f ms (median of %lld, %s threads), %.1f GFLOP/s\n", m->name,
               med * 1e3, (long long)repeat, thr, m->flops / med / 1e9);
        printf("  %d unique kernels (%d from records, %d default schedule, %d unscheduled), %d "
               "calls, built in %.1f s, activations %.1f MB (%.1f MB without reuse), weights "
               "%.1f MB\n",
               m->nkernels, st->kernels_given, st->kernels_default, st->kernels_unscheduled,
               m->ncalls, st->build_s,
               st->pool_bytes / 1e6, st->naive_bytes / 1e6, wbytes / 1e6);
        if (vs_untuned)
            printf("  against untuned, %lld interleaved pairs of runs: %.3f ms, untuned %.3f ms: "
                   "speedup %.3fx\n", (long long)(3 * repeat), paired_ms, untuned_ms,
                   untuned_ms / paired_ms);
        for (int k = 0; k < m->nkernels && (log_path || db_path); k++) {
            if (!P.steps[k])
                continue;
            /* a kernel with a record that a call runs: a direct kernel in its
             * own form, or the Winograd twin --winograd picked */
            const tt_kernel *K = &m->kernels[k];
            int runs = K->alt_of < 0 ? !use_alt[k]
                                     : use_alt[K->alt_of] && K->alt_of >= 0 &&
                                           m->kernels[K->alt_of].alts[use_alt[K->alt_of] - 1] == k;
            printf("  kernel %2d %s (recorded cost %.4f ms): %-36s %s\n", k,
                   runs ? "runs a record" : "has a record, unused: another form of its conv was faster",
                   P.cost[k] * 1e3, K->dag->class_key, K->workload_key);
        }
        if (check)
            printf("  check: max |ours - ref| = %.3g, relative to max |ref| (%.3g): %.3g: %s%s\n",
                   max_abs, max_ref, max_rel,
                   passed ? "PASSED" : "FAILED", nonfinite ? " (non-finite values)" : "");
    }
    rc = check && !passed ? 1 : 0;
done:
    for (int k = 0; k < m->nkernels; k++)
        free(P.steps[k]);
    free(P.steps), free(P.nsteps), free(P.lanes), free(P.cost);
    free(use_alt);
    tt_exec_free(e);
    tt_exec_free(r);
    if (in_path)
        tt_npy_free(&in_npy);
    else
        free(input);
    free(out);
    free(ref);
    tt_model_free(m);
    return rc;
}
