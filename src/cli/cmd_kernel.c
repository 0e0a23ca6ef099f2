/* cmd_kernel.c - `transtune kernel OP [shape options] [--record LINE | --default]`:
 * one workload by hand, measured and checked like a replayed record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void kernel_help(void)
{
    printf(
        "usage: transtune kernel OP [shape options] [--record LINE | --default] [--lax]\n"
        "                        [--threads N] [--json] [--repeat R] [--flush]\n"
        "                        [--cache warm|flush|l3]\n"
        "\n"
        "OP and its shape options (defaults in brackets):\n"
        "  conv2d            --n [1] --h --w --ci --co --kh [3] --kw [=kh] --stride [1]\n"
        "                    --pad [(kh-1)/2] --dilation [1] --groups [1] --epilogue LIST\n"
        "  conv2d_winograd   --n --h --w --ci --co --pad --tile [4] --epilogue LIST\n"
        "                    (3x3 stride 1 as Winograd F(tile x tile, 3x3), tile 2, 4 or 6;\n"
        "                    the weight input is the transformed one)\n"
        "  depthwise_conv2d  --n --h --w --ci --kh --kw --stride --pad --dilation\n"
        "                    --multiplier [1] --epilogue LIST\n"
        "  dense             --m --n --k --epilogue LIST      (data [m,k], weight [n,k])\n"
        "  batch_matmul      --b --m --n --k                  (A [b,m,k], B [b,n,k])\n"
        "  matmul_add        --n --l --m                      (A [n,l] B [l,m] + C [n,m])\n"
        "  max_pool2d, avg_pool2d  --n --h --w --c --kh --kw --stride --pad\n"
        "  global_avg_pool2d --n --h --w --c\n"
        "  softmax           --shape D0,D1,...                (over the last axis)\n"
        "Epilogue LIST: comma-separated bias, scale, residual, relu, relu6.\n"
        "\n"
        "--record LINE replays an Ansor record's steps on this workload (every SP extent\n"
        "must match, unless --lax: then the record's tile sizes are transferred to this\n"
        "shape with guarded tails).  --default measures only the default schedule.\n"
        "Without either, the default schedule is measured.  Output fields and --cache as\n"
        "in replay.\n");
}

typedef cli_shape kv;

static int get(kv *k, const char *key, int64_t def, int64_t *out)
{
    for (int i = 0; i < k->n; i++)
        if (!strcmp(k->key[i], key)) {
            k->used[i] = 1;
            *out = k->val[i];
            return 1;
        }
    *out = def;
    return 0;
}

static int parse_epilogue(const char *s, tt_epilogue *e)
{
    memset(e, 0, sizeof *e);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (e->n >= 8)
            return -1;
        if (!strcmp(tok, "bias"))
            e->ops[e->n++] = TT_EPI_BIAS_ADD;
        else if (!strcmp(tok, "scale"))
            e->ops[e->n++] = TT_EPI_BIAS_MUL;
        else if (!strcmp(tok, "residual"))
            e->ops[e->n++] = TT_EPI_RESIDUAL_ADD;
        else if (!strcmp(tok, "relu"))
            e->ops[e->n++] = TT_EPI_RELU;
        else if (!strcmp(tok, "relu6")) {
            e->lo[e->n] = 0;
            e->hi[e->n] = 6;
            e->ops[e->n++] = TT_EPI_CLIP;
        } else {
            fprintf(stderr, "transtune kernel: unknown epilogue '%s' (bias, scale, residual, relu, relu6)\n", tok);
            return -1;
        }
    }
    return 0;
}

static tt_dag *build_op(const char *op, kv *k, const tt_epilogue *epi, const char *shape,
                        char *desc, size_t dn, tt_err *err);

int cli_shape_opt(int argc, char **argv, int *i, cli_shape *k, const char *cmd)
{
    const char *a = argv[*i];
    if (a[0] != '-' || a[1] != '-')
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "transtune %s: option %s needs a value\n", cmd, a);
        return -1;
    }
    const char *v = argv[++*i];
    if (!strcmp(a, "--epilogue")) {
        k->epilogue = v;
        return 1;
    }
    if (!strcmp(a, "--shape")) {
        k->shape = v;
        return 1;
    }
    if (k->n >= CLI_MAX_KV) {
        fprintf(stderr, "transtune %s: too many options\n", cmd);
        return -1;
    }
    int64_t x;
    if (cli_parse_i64(v, &x)) {
        fprintf(stderr, "transtune %s: %s needs a non-negative integer, got '%s'\n", cmd, a, v);
        return -1;
    }
    k->key[k->n] = a + 2;
    k->val[k->n] = x;
    k->n++;
    return 1;
}

tt_dag *cli_shape_build(const char *op, cli_shape *k, char *desc, size_t dn, tt_err *err)
{
    tt_epilogue epi;
    memset(&epi, 0, sizeof epi);
    if (k->epilogue && parse_epilogue(k->epilogue, &epi)) {
        tt_err_set(err, "bad --epilogue '%s' (bias, scale, residual, relu, relu6)", k->epilogue);
        return NULL;
    }
    tt_dag *d = build_op(op, k, &epi, k->shape, desc, dn, err);
    if (!d)
        return NULL;
    for (int i = 0; i < k->n; i++)
        if (!k->used[i]) {
            tt_err_set(err, "unknown option --%s for %s (see transtune kernel --help)", k->key[i], op);
            tt_dag_free(d);
            return NULL;
        }
    return d;
}

/* ---- one builder per OP -----------------------------------------------------
 * Each reads its shape options from k (get marks them used), writes a
 * one-line description to desc and returns the workload's DAG, or NULL with
 * err set.  op is the OP's name, for the builders that serve two. */

/* conv2d_winograd --n --h --w --ci --co --pad --tile */
static tt_dag *build_conv2d_winograd(const char *op, kv *k, const tt_epilogue *epi, const char *shape,
                                     char *desc, size_t dn, tt_err *err)
{
    int64_t n, h, w, ci, co = 0, p, tile;
    get(k, "n", 1, &n);
    if (!get(k, "h", 0, &h) || !get(k, "w", h, &w) || !get(k, "ci", 0, &ci) || !get(k, "co", 0, &co)) {
        tt_err_set(err, "conv2d_winograd needs --h --w --ci --co");
        return NULL;
    }
    get(k, "pad", 1, &p);
    get(k, "tile", 4, &tile);
    tt_conv2d_params cp;
    memset(&cp, 0, sizeof cp);
    cp.n = n, cp.h = h, cp.w = w, cp.ci = ci, cp.co = co, cp.kh = cp.kw = 3;
    cp.stride_h = cp.stride_w = 1, cp.dil_h = cp.dil_w = 1, cp.groups = 1;
    cp.pad_t = cp.pad_l = cp.pad_b = cp.pad_r = p;
    snprintf(desc, dn, "%s F(%lld,3) %lldx%lldx%lldx%lld p%lld -> %lld", op, (long long)tile, (long long)n,
             (long long)h, (long long)w, (long long)ci, (long long)p, (long long)co);
    return tt_build_conv2d_winograd_nhwc(&cp, (int)tile, epi, err);
}

/* conv2d --n --h --w --ci --co --kh --kw --stride --pad --dilation --groups;
 * depthwise_conv2d the same with --multiplier in place of --co and --groups
 * (--multiplier is accepted, and ignored, for conv2d too) */
static tt_dag *build_conv2d(const char *op, kv *k, const tt_epilogue *epi, const char *shape, char *desc,
                            size_t dn, tt_err *err)
{
    int64_t n, h, w, ci, co = 0, kh, kw, s, p, dil, g, mult;
    int dw = !strcmp(op, "depthwise_conv2d");
    get(k, "n", 1, &n);
    if (!get(k, "h", 0, &h) || !get(k, "w", h, &w) || !get(k, "ci", 0, &ci)) {
        tt_err_set(err, "%s needs --h --w --ci%s", op, dw ? "" : " --co");
        return NULL;
    }
    get(k, "multiplier", 1, &mult);
    if (!dw && !get(k, "co", 0, &co)) {
        tt_err_set(err, "conv2d needs --co");
        return NULL;
    }
    get(k, "kh", 3, &kh);
    get(k, "kw", kh, &kw);
    get(k, "stride", 1, &s);
    get(k, "pad", (kh - 1) / 2, &p);
    get(k, "dilation", 1, &dil);
    if (get(k, "groups", 1, &g) && g == 0) {
        tt_err_set(err, "--groups must be positive");
        return NULL;
    }
    tt_conv2d_params cp;
    memset(&cp, 0, sizeof cp);
    cp.n = n;
    cp.h = h;
    cp.w = w;
    cp.ci = ci;
    cp.co = dw ? ci * mult : co;
    cp.kh = kh;
    cp.kw = kw;
    cp.stride_h = cp.stride_w = s;
    cp.pad_t = cp.pad_l = cp.pad_b = cp.pad_r = p;
    cp.dil_h = cp.dil_w = dil;
    cp.groups = dw ? ci : g;
    cp.depthwise = dw;
    snprintf(desc, dn, "%s %lldx%lldx%lldx%lld k%lldx%lld s%lld p%lld -> %lld", op, (long long)n, (long long)h,
             (long long)w, (long long)ci, (long long)kh, (long long)kw, (long long)s, (long long)p,
             (long long)cp.co);
    return tt_build_conv2d_nhwc(&cp, epi, err);
}

/* dense --m --n --k */
static tt_dag *build_dense(const char *op, kv *k, const tt_epilogue *epi, const char *shape, char *desc,
                           size_t dn, tt_err *err)
{
    int64_t m, n, kk;
    if (!get(k, "m", 0, &m) || !get(k, "n", 0, &n) || !get(k, "k", 0, &kk)) {
        tt_err_set(err, "dense needs --m --n --k");
        return NULL;
    }
    snprintf(desc, dn, "dense %lldx%lldx%lld", (long long)m, (long long)n, (long long)kk);
    return tt_build_dense(m, n, kk, epi, err);
}

/* batch_matmul --b --m --n --k */
static tt_dag *build_batch_matmul(const char *op, kv *k, const tt_epilogue *epi, const char *shape,
                                  char *desc, size_t dn, tt_err *err)
{
    int64_t b, m, n, kk;
    get(k, "b", 1, &b);
    if (!get(k, "m", 0, &m) || !get(k, "n", 0, &n) || !get(k, "k", 0, &kk)) {
        tt_err_set(err, "batch_matmul needs --m --n --k");
        return NULL;
    }
    snprintf(desc, dn, "batch_matmul %lldx%lldx%lldx%lld", (long long)b, (long long)m, (long long)n,
             (long long)kk);
    return tt_build_batch_matmul(b, m, n, kk, epi, err);
}

/* matmul_add --n --l --m (no epilogue) */
static tt_dag *build_matmul_add(const char *op, kv *k, const tt_epilogue *epi, const char *shape, char *desc,
                                size_t dn, tt_err *err)
{
    int64_t n, l, m;
    if (!get(k, "n", 0, &n) || !get(k, "l", 0, &l) || !get(k, "m", 0, &m)) {
        tt_err_set(err, "matmul_add needs --n --l --m");
        return NULL;
    }
    snprintf(desc, dn, "matmul_add %lldx%lldx%lld", (long long)n, (long long)l, (long long)m);
    return tt_build_matmul_add(n, l, m, err);
}

/* max_pool2d, avg_pool2d --n --h --w --c --kh --kw --stride --pad */
static tt_dag *build_pool2d(const char *op, kv *k, const tt_epilogue *epi, const char *shape, char *desc,
                            size_t dn, tt_err *err)
{
    int64_t n, h, w, c, kh, kw, s, p;
    get(k, "n", 1, &n);
    if (!get(k, "h", 0, &h) || !get(k, "c", 0, &c)) {
        tt_err_set(err, "%s needs --h --w --c", op);
        return NULL;
    }
    get(k, "w", h, &w);
    get(k, "kh", 2, &kh);
    get(k, "kw", kh, &kw);
    get(k, "stride", kh, &s);
    get(k, "pad", 0, &p);
    tt_pool_params pp;
    memset(&pp, 0, sizeof pp);
    pp.kind = op[0] == 'm' ? TT_POOL_MAX : TT_POOL_AVG;
    pp.n = n;
    pp.h = h;
    pp.w = w;
    pp.c = c;
    pp.kh = kh;
    pp.kw = kw;
    pp.stride_h = pp.stride_w = s;
    pp.pad_t = pp.pad_l = pp.pad_b = pp.pad_r = p;
    pp.count_include_pad = 0;
    snprintf(desc, dn, "%s %lldx%lldx%lldx%lld k%lld s%lld p%lld", op, (long long)n, (long long)h, (long long)w,
             (long long)c, (long long)kh, (long long)s, (long long)p);
    return tt_build_pool2d_nhwc(&pp, epi, err);
}

/* global_avg_pool2d --n --h --w --c */
static tt_dag *build_global_avg_pool2d(const char *op, kv *k, const tt_epilogue *epi, const char *shape,
                                       char *desc, size_t dn, tt_err *err)
{
    int64_t n, h, w, c;
    get(k, "n", 1, &n);
    if (!get(k, "h", 0, &h) || !get(k, "c", 0, &c)) {
        tt_err_set(err, "global_avg_pool2d needs --h --w --c");
        return NULL;
    }
    get(k, "w", h, &w);
    snprintf(desc, dn, "global_avg_pool2d %lldx%lldx%lldx%lld", (long long)n, (long long)h, (long long)w,
             (long long)c);
    return tt_build_global_avg_pool_nhwc(n, h, w, c, epi, err);
}

/* softmax --shape D0,D1,... (over the last axis; no epilogue) */
static tt_dag *build_softmax(const char *op, kv *k, const tt_epilogue *epi, const char *shape, char *desc,
                             size_t dn, tt_err *err)
{
    int64_t dims[TT_MAX_DIMS];
    int nd = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", shape ? shape : "");
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (nd >= TT_MAX_DIMS || cli_parse_i64(tok, &dims[nd]) || dims[nd] <= 0) {
            tt_err_set(err, "--shape must be up to %d positive integers separated by commas", TT_MAX_DIMS);
            return NULL;
        }
        nd++;
    }
    if (nd == 0) {
        tt_err_set(err, "softmax needs --shape D0,D1,...");
        return NULL;
    }
    snprintf(desc, dn, "softmax %s", shape);
    return tt_build_softmax(nd, dims, err);
}

/* The OPs of `kernel` and `tune-kernel` (kernel_help lists their options). */
static const struct {
    const char *name;
    tt_dag *(*build)(const char *op, kv *k, const tt_epilogue *epi, const char *shape, char *desc, size_t dn,
                     tt_err *err);
} kernel_ops[] = {
    {"conv2d", build_conv2d},
    {"conv2d_winograd", build_conv2d_winograd},
    {"depthwise_conv2d", build_conv2d},
    {"dense", build_dense},
    {"batch_matmul", build_batch_matmul},
    {"matmul_add", build_matmul_add},
    {"max_pool2d", build_pool2d},
    {"avg_pool2d", build_pool2d},
    {"global_avg_pool2d", build_global_avg_pool2d},
    {"softmax", build_softmax},
};

static tt_dag *build_op(const char *op, kv *k, const tt_epilogue *epi, const char *shape,
                        char *desc, size_t dn, tt_err *err)
{
    for (size_t i = 0; i < sizeof kernel_ops / sizeof kernel_ops[0]; i++)
        if (!strcmp(op, kernel_ops[i].name))
            return kernel_ops[i].build(op, k, epi, shape, desc, dn, err);
    tt_err_set(err, "unknown OP '%s' (see transtune kernel --help)", op);
    return NULL;
}

/* The command line of `kernel`. */
typedef struct kernel_args {
    cli_opts o;
    kv k;
    const char *op, *record;
    int use_default, lax;
} kernel_args;

/* Parse kernel's command line into a.  Returns -1 to go on, else the exit
 * status: 0 after --help, 2 after a usage error (message printed). */
static int kernel_parse(int argc, char **argv, kernel_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
            kernel_help();
            return 0;
        }
        int c = cli_common_opt(argc, argv, &i, &a->o);
        if (c < 0)
            return 2;
        if (c)
            continue;
        if (!strcmp(s, "--default")) {
            a->use_default = 1;
            continue;
        }
        if (!strcmp(s, "--lax")) {
            a->lax = 1;
            continue;
        }
        if (!strcmp(s, "--record")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "transtune kernel: option %s needs a value\n", s);
                return 2;
            }
            a->record = argv[++i];
            continue;
        }
        c = cli_shape_opt(argc, argv, &i, &a->k, "kernel");
        if (c < 0)
            return 2;
        if (c)
            continue;
        if (a->op) {
            fprintf(stderr, "transtune kernel: unexpected argument '%s'\n", s);
            return 2;
        }
        a->op = s;
    }
    if (!a->op) {
        fprintf(stderr, "transtune kernel: missing OP (see --help)\n");
        return 2;
    }
    if (a->record && a->use_default) {
        fprintf(stderr, "transtune kernel: --record and --default exclude each other\n");
        return 2;
    }
    return -1;
}

/* What `kernel` measures: up to two schedules of one workload. */
typedef struct kernel_items {
    tt_eval_item items[2];
    int nitems, rec_item, def_item; /* an item's index, or -1 */
    tt_state *rec_state, *def_state;
} kernel_items;

/* The --record line replayed on dag (with the host's vector width unless
 * lax): its state becomes an item to measure, or row gets the status and
 * the error of a record that does not parse or does not replay.  err is the
 * command's (first error wins). */
static void kernel_add_record(tt_dag *dag, const char *record, int lax, cli_row *row,
                              kernel_items *it, tt_err *err)
{
    tt_record *rec = tt_xcalloc(1, sizeof *rec);
    if (tt_record_parse(record, rec, err)) {
        row->status = "invalid_record";
        snprintf(row->error, sizeof row->error, "%s", err->msg);
    } else {
        snprintf(row->ansor_key, sizeof row->ansor_key, "%s", rec->workload_key);
        it->rec_state = tt_state_new(dag);
        it->rec_state->lax_extents = lax;
        /* exact replays run with the host's vector width (widen.c) */
        if (lax ? tt_state_apply_all(it->rec_state, rec->steps, rec->nsteps, err)
                : tt_state_apply_widened(it->rec_state, rec->steps, rec->nsteps, tt_codegen_vector_lanes(),
                                         tt_target_vector_lanes(rec->target), err) < 0) {
            row->status = "instantiation_error";
            snprintf(row->error, sizeof row->error, "%s", err->msg);
        } else {
            it->rec_item = it->nitems;
            it->items[it->nitems++].state = it->rec_state;
        }
    }
    free(rec);
    row->have_record = 1;
}

/* dag's default schedule as an item to measure, or its error in row->def. */
static void kernel_add_default(tt_dag *dag, cli_row *row, kernel_items *it)
{
    tt_step steps[TT_MAX_STEPS];
    int n = 0;
    tt_err e = {0};
    row->have_default = 1;
    it->def_state = tt_state_new(dag);
    if (tt_default_schedule(dag, tt_host_vector_lanes(), steps, TT_MAX_STEPS, &n, &e) ||
        tt_state_apply_all(it->def_state, steps, n, &e)) {
        row->def.error = TT_ERR_INSTANTIATION;
        snprintf(row->def.msg, sizeof row->def.msg, "default schedule: %s", e.msg);
    } else {
        it->def_item = it->nitems;
        it->items[it->nitems++].state = it->def_state;
    }
}

/* Build, run and check the items against dag's reference; their results
 * into row.  -1 if the evaluation itself failed (err set). */
static int kernel_measure(tt_dag *dag, const cli_opts *o, kernel_items *it, cli_row *row, tt_err *err)
{
    if (!it->nitems)
        return 0;
    tt_eval_task task = {.dag = dag, .nitems = it->nitems, .items = it->items};
    tt_run_opts ro;
    tt_build_opts bo;
    cli_fill_run_opts(o, &ro, &bo);
    if (tt_evaluate(&task, 1, &bo, &ro, NULL, NULL, err))
        return -1;
    if (task.ref_error) {
        row->status = "unknown_error";
        snprintf(row->error, sizeof row->error, "%s", task.ref_msg);
    }
    if (it->rec_item >= 0)
        row->rec = it->items[it->rec_item].res;
    if (it->def_item >= 0)
        row->def = it->items[it->def_item].res;
    return 0;
}

int cmd_kernel(int argc, char **argv)
{
    kernel_args a;
    memset(&a, 0, sizeof a);
    int rc = kernel_parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    cli_row row;
    memset(&row, 0, sizeof row);
    row.status = "ok";
    tt_err err = {0};
    tt_dag *dag = cli_shape_build(a.op, &a.k, row.workload, sizeof row.workload, &err);
    if (!dag) {
        fprintf(stderr, "transtune kernel: %s\n", err.msg);
        return 2;
    }
    snprintf(row.class_key, sizeof row.class_key, "%s", dag->class_key);
    char *wk = tt_dag_workload_key(dag);
    snprintf(row.wkey, sizeof row.wkey, "%s", wk);
    free(wk);
    row.flops = dag->flops;
    kernel_items it;
    memset(&it, 0, sizeof it);
    it.rec_item = it.def_item = -1;
    if (a.record)
        kernel_add_record(dag, a.record, a.lax, &row, &it, &err);
    if (!a.o.no_default)
        kernel_add_default(dag, &row, &it);
    if (kernel_measure(dag, &a.o, &it, &row, &err)) {
        fprintf(stderr, "transtune kernel: %s\n", err.msg);
        return 2;
    }
    if (!a.record) {
        /* the default schedule is the measured one */
        row.have_record = 1;
        row.rec = row.def;
    }
    if (!strcmp(row.status, "ok") && row.rec.error)
        row.status = row.rec.error < TT_ERR_COUNT ? tt_errno_names[row.rec.error] : "unknown_error";
    int exit_code = strcmp(row.status, "ok") || !row.rec.correct ? 1 : 0;
    if (!a.o.json)
        cli_print_header();
    cli_print_row(&row, a.o.json);
    tt_state_free(it.rec_state);
    tt_state_free(it.def_state);
    tt_dag_free(dag);
    return exit_code;
}
