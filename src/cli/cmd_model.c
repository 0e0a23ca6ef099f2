/* cmd_model.c - `transtune models`, `transtune kernels MODEL`: the zoo and a
 * model's kernels (`run` is in cmd_run.c). */
#include <jansson.h>
#include <math.h>
#include <errno.h>
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

void cli_load_progress(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "\r  %-60s", msg);
    fflush(stderr);
}

tt_input_shape cli_shapes[TT_MODEL_MAX_INPUTS];
int cli_nshapes;

/* Parse "NAME=D1xD2x..." (also ',' between dimensions) into s; 0 or -1. */
int cli_parse_input_shape(char *v, tt_input_shape *s)
{
    char *eq = strrchr(v, '=');
    if (!eq || eq == v || !eq[1])
        return -1;
    *eq = 0;
    s->name = v;
    s->ndim = 0;
    double numel = 1;
    for (char *p = eq + 1;;) {
        char *end;
        errno = 0;
        long long d = strtoll(p, &end, 10);
        if (errno || end == p || d < 1 || d > (1ll << 31) || s->ndim == TT_GRAPH_MAX_DIMS)
            return -1;
        s->dims[s->ndim++] = d;
        numel *= (double)d;
        if (!*end)
            break;
        if (*end != 'x' && *end != ',')
            return -1;
        p = end + 1;
    }
    return numel <= 4294967296.0 ? 0 : -1;
}

int cli_model_load(const char *what, tt_model **out, tt_err *err)
{
    return tt_model_load_shapes(what, cli_shapes, cli_nshapes, out, err);
}

tt_model *cli_load_model(const char *what, const char *cmd)
{
    tt_model *m = NULL;
    tt_err err = {0};
    if (cli_model_load(what, &m, &err)) {
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
                   "and fusion and prints one row per unique kernel: index, class key, weight\n"
                   "(calls per inference), MFLOP per call and workload key.  --json prints one\n"
                   "object (model, flops, calls, kernels) whose kernels also carry the shapes of\n"
                   "their inputs and output (the output last).  A 3x3 stride-1 conv also has two\n"
                   "Winograd forms, F(4x4,3x3) and F(2x2,3x3), listed after the direct kernels as\n"
                   "\"CLASS F(m,3) (or K)\", K the direct kernel (JSON: alternative_of,\n"
                   "winograd_tile); `transtune run` runs each such conv in one of its three forms.\n");
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
    tt_model *m = cli_load_model(what, "kernels");
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
