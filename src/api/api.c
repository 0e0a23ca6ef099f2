/* api.c - the public C API (include/transtune.h) over the library's stages:
 * a transtune_model holds the loaded model, the choice of its kernels'
 * records and forms (pick.h), its executor once built, and the inputs of its
 * last run. */
#include "transtune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../db/db.h"
#include "../transfer/transfer.h"
#include "../tune/tune.h"
#include "../zoo/zoo.h"
#include "pick.h"

_Static_assert(sizeof(((transtune_shape *)0)->dims) / sizeof(int64_t) == TT_GRAPH_MAX_DIMS,
               "transtune_shape holds TT_GRAPH_MAX_DIMS dimensions");

struct transtune_model {
    tt_model *m;
    char what[1024];         /* as loaded: the source tune and transfer record */
    tt_pick pick;
    tt_exec *e;
    int threads;
    char *input;             /* the last run's inputs (tt_model_input_bytes), or NULL */
};

/* Copy a library error into the caller's (which may be NULL); -1. */
static int fail(transtune_error *err, const tt_err *e)
{
    if (err)
        snprintf(err->msg, sizeof err->msg, "%s", e->msg);
    return -1;
}

static int fail_msg(transtune_error *err, const char *msg)
{
    if (err)
        snprintf(err->msg, sizeof err->msg, "%s", msg);
    return -1;
}

int transtune_load(const char *what, const transtune_shape *shapes, int nshapes, transtune_model **out,
                   transtune_error *err)
{
    if (!out)
        return fail_msg(err, "transtune_load: out is NULL");
    *out = NULL;
    if (!what)
        return fail_msg(err, "transtune_load: no model named");
    if (nshapes < 0 || nshapes > TT_MODEL_MAX_INPUTS || (nshapes > 0 && !shapes))
        return fail_msg(err, "transtune_load: bad shapes");
    tt_input_shape sh[TT_MODEL_MAX_INPUTS];
    for (int i = 0; i < nshapes; i++) {
        if (!shapes[i].name || shapes[i].ndim < 0 || shapes[i].ndim > TT_GRAPH_MAX_DIMS)
            return fail_msg(err, "transtune_load: a shape without a name or of a bad rank");
        sh[i].name = shapes[i].name;
        sh[i].ndim = shapes[i].ndim;
        for (int d = 0; d < shapes[i].ndim; d++) {
            if (shapes[i].dims[d] < 1 || shapes[i].dims[d] > ((int64_t)1 << 31))
                return fail_msg(err, "transtune_load: a dimension out of range");
            sh[i].dims[d] = shapes[i].dims[d];
        }
    }
    tt_err e = {0};
    tt_model *m = NULL;
    if (tt_model_load_shapes(what, sh, nshapes, &m, &e))
        return fail(err, &e);
    transtune_model *t = tt_xcalloc(1, sizeof *t);
    t->m = m;
    snprintf(t->what, sizeof t->what, "%s", what);
    tt_pick_init(&t->pick, m);
    *out = t;
    return 0;
}

void transtune_free(transtune_model *t)
{
    if (!t)
        return;
    tt_exec_free(t->e);
    tt_pick_free(&t->pick);
    tt_model_free(t->m);
    free(t->input);
    free(t);
}

const char *transtune_zoo_name(int i)
{
    for (int k = 0; tt_zoo[k].name; k++)
        if (k == i)
            return tt_zoo[k].name;
    return NULL;
}

const char *transtune_name(const transtune_model *t) { return t ? t->m->name : NULL; }
int transtune_num_inputs(const transtune_model *t) { return t ? t->m->ninputs : -1; }
int transtune_num_kernels(const transtune_model *t) { return t ? tt_model_ndirect(t->m) : -1; }
double transtune_gflop(const transtune_model *t) { return t ? t->m->flops / 1e9 : 0; }

static void tensor_info(const tt_tensor *x, transtune_tensor_info *info)
{
    info->name = x->name;
    info->dtype = x->dtype == TT_DT_FLOAT ? "float32" : tt_dtype_name(x->dtype);
    info->ndim = x->ndim;
    info->shape = x->shape;
    info->numel = tt_tensor_numel(x);
}

int transtune_input_info(const transtune_model *t, int i, transtune_tensor_info *info)
{
    if (!t || !info || i < 0 || i >= t->m->ninputs)
        return -1;
    tensor_info(&t->m->g->tensors[t->m->inputs[i]], info);
    return 0;
}

int transtune_output_info(const transtune_model *t, transtune_tensor_info *info)
{
    if (!t || !info)
        return -1;
    tensor_info(&t->m->g->tensors[t->m->output], info);
    return 0;
}

/* The last run's inputs, else seeded random ones (kept). */
static const void *inputs_or_random(transtune_model *t)
{
    if (!t->input) {
        t->input = tt_xmalloc((size_t)tt_model_input_bytes(t->m) + 1);
        tt_model_random_input(t->m, t->input);
    }
    return t->input;
}

int transtune_build(transtune_model *t, const transtune_build_opts *o, transtune_build_info *info,
                    transtune_error *err)
{
    if (!t)
        return fail_msg(err, "transtune_build: no model");
    transtune_build_opts dflt = {0};
    o = o ? o : &dflt;
    if (o->winograd < TRANSTUNE_WINOGRAD_AUTO || o->winograd > TRANSTUNE_WINOGRAD_ON || o->threads < 0)
        return fail_msg(err, "transtune_build: bad options (winograd, threads)");
    tt_exec_free(t->e);
    t->e = NULL;
    tt_pick_free(&t->pick);
    tt_pick_init(&t->pick, t->m);
    t->threads = o->threads;
    tt_err e = {0};
    if ((o->records && tt_pick_log(&t->pick, o->records, &e)) || (o->db && tt_pick_db(&t->pick, o->db, &e)))
        return fail(err, &e);
    int timed = 0;
    tt_pick_forms f = o->winograd == TRANSTUNE_WINOGRAD_OFF  ? TT_FORMS_OFF
                      : o->winograd == TRANSTUNE_WINOGRAD_ON ? TT_FORMS_ON
                                                             : TT_FORMS_AUTO;
    if (tt_pick_choose(&t->pick, o->threads, f, o->trust_records, inputs_or_random(t), &timed, &e))
        return fail(err, &e);
    tt_exec_opts eo = tt_pick_exec_opts(&t->pick, o->threads);
    if (tt_exec_build(t->m, &eo, &t->e, &e))
        return fail(err, &e);
    if (info) {
        const tt_exec_stats *st = tt_exec_get_stats(t->e);
        memset(info, 0, sizeof *info);
        info->kernels = st->kernels_built;
        info->kernels_from_records = st->kernels_given;
        info->kernels_winograd = st->kernels_winograd;
        info->build_s = st->build_s;
        for (int k = 0; k < t->m->nkernels; k++)
            info->records_dropped += t->pick.lost[k];
    }
    return 0;
}

int transtune_run(transtune_model *t, const void *const *inputs, int ninputs, float *output, int64_t output_numel,
                  transtune_error *err)
{
    if (!t || !t->e)
        return fail_msg(err, "transtune_run: the model is not built (transtune_build)");
    const tt_model *m = t->m;
    if (ninputs != m->ninputs || !inputs || !output) {
        char msg[200];
        snprintf(msg, sizeof msg, "transtune_run: %d inputs given (the model takes %d), or a NULL buffer", ninputs,
                 m->ninputs);
        return fail_msg(err, msg);
    }
    int64_t on = tt_tensor_numel(&m->g->tensors[m->output]);
    if (output_numel != on) {
        char msg[200];
        snprintf(msg, sizeof msg, "transtune_run: room for %lld floats given, the output has %lld",
                 (long long)output_numel, (long long)on);
        return fail_msg(err, msg);
    }
    if (!t->input)
        t->input = tt_xmalloc((size_t)tt_model_input_bytes(m) + 1);
    for (int i = 0; i < m->ninputs; i++) {
        if (!inputs[i])
            return fail_msg(err, "transtune_run: an input is NULL");
        const tt_tensor *x = &m->g->tensors[m->inputs[i]];
        memcpy(t->input + tt_model_input_offset(m, i), inputs[i],
               (size_t)(tt_tensor_numel(x) * tt_dtype_size(x->dtype)));
    }
    tt_err e = {0};
    return tt_exec_run(t->e, t->input, output, &e) ? fail(err, &e) : 0;
}

int transtune_time(transtune_model *t, int repeat, double *median_ms, transtune_error *err)
{
    if (!t || !t->e || !median_ms)
        return fail_msg(err, "transtune_time: the model is not built (transtune_build)");
    double s = 0;
    tt_err e = {0};
    if (tt_exec_time(t->e, inputs_or_random(t), repeat > 0 ? repeat : 10, &s, &e))
        return fail(err, &e);
    *median_ms = s * 1e3;
    return 0;
}

int transtune_export(transtune_model *t, const char *dir, const char *name, transtune_error *err)
{
    if (!t || !t->e || !dir)
        return fail_msg(err, "transtune_export: the model is not built (transtune_build), or no folder");
    char nm[72];
    snprintf(nm, sizeof nm, "%s", name ? name : t->m->name);
    if (!name)
        for (char *p = nm; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
                *p = '_';
    tt_exec_opts eo = tt_pick_exec_opts(&t->pick, t->threads);
    tt_artifact_info info;
    tt_err e = {0};
    return tt_exec_write_artifact(t->m, &eo, dir, nm, &info, &e) ? fail(err, &e) : 0;
}

const char *transtune_default_db(void) { return tt_db_default_path(); }

typedef struct tune_cb {
    const transtune_tune_opts *o;
} tune_cb;

static void on_round(void *ctx, const tt_tune_status *st)
{
    const tune_cb *c = ctx;
    c->o->progress(c->o->ctx, st->trials, st->est_latency_s * 1e3);
}

int transtune_tune(transtune_model *t, const transtune_tune_opts *o, transtune_tune_result *r,
                   transtune_error *err)
{
    if (!t || !o || !r)
        return fail_msg(err, "transtune_tune: no model, options or result");
    memset(r, 0, sizeof *r);
    if (o->trials < 0 || o->time_s < 0 || o->threads < 0)
        return fail_msg(err, "transtune_tune: negative trials, time or threads");
    tt_err e = {0};
    tt_db *db = NULL;
    if (tt_db_open(o->db ? o->db : tt_db_default_path(), 0, &db, &e))
        return fail(err, &e);
    tt_tune_opts to;
    memset(&to, 0, sizeof to);
    to.trials = o->trials;
    to.time_s = o->time_s;
    to.threads = o->threads;
    to.seed = o->seed;
    tune_cb cb = {o};
    if (o->progress) {
        to.progress = on_round;
        to.ctx = &cb;
    }
    tt_tune_result tr;
    int rc = tt_tune_model(db, t->m->name, t->what, t->m, &to, &tr, &e);
    if (rc == 0) {
        r->trials = tr.trials;
        r->trials_run = tr.trials_run;
        r->untuned_ms = tr.untuned_latency_s * 1e3;
        r->est_ms = tr.est_latency_s * 1e3;
        r->search_s = tr.search_s;
        r->stop_reason = tr.stop_reason;
    }
    tt_tune_result_free(&tr);
    tt_db_close(db);
    return rc ? fail(err, &e) : 0;
}

int transtune_transfer(transtune_model *t, const transtune_transfer_opts *o, transtune_transfer_result *r,
                       transtune_error *err)
{
    if (!t || !o || !r)
        return fail_msg(err, "transtune_transfer: no model, options or result");
    memset(r, 0, sizeof *r);
    if (o->nfrom < 0 || (o->nfrom > 0 && !o->from) || o->threads < 0)
        return fail_msg(err, "transtune_transfer: bad sources or threads");
    tt_err e = {0};
    tt_db *db = NULL;
    if (tt_db_open(o->db ? o->db : tt_db_default_path(), 0, &db, &e))
        return fail(err, &e);
    char dir[4096];
    int nf = 0, nr = 0;
    /* without a database of the caller's: the schedules shipped for this CPU class */
    if (!o->db && tt_transfer_shipped_dir(dir, sizeof dir) && tt_transfer_load_shipped(db, dir, &nf, &nr, &e)) {
        tt_db_close(db);
        return fail(err, &e);
    }
    tt_transfer_opts to;
    memset(&to, 0, sizeof to);
    to.threads = o->threads;
    to.nfrom = o->nfrom;
    to.from = o->from;
    tt_transfer_result tr;
    int rc = tt_transfer_model(db, t->m->name, t->what, t->m, &to, &tr, &e);
    if (rc == 0) {
        r->kernels_improved = tr.kernels_improved;
        r->untuned_ms = tr.untuned_s * 1e3;
        r->transferred_ms = tr.tuned_s * 1e3;
        r->speedup = tr.speedup;
        r->search_s = tr.search_s;
    }
    tt_transfer_result_free(&tr);
    tt_db_close(db);
    return rc ? fail(err, &e) : 0;
}
