/* model.c - loading a model (zoo or ONNX) and building its kernels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../zoo/zoo.h"
#include "model_int.h"
#include "../onnx/onnx.h"

int mp_fuse(tt_model *m, tt_err *err);

void tt_model_free(tt_model *m)
{
    if (!m)
        return;
    for (int k = 0; k < m->nkernels; k++) {
        tt_dag_free(m->kernels[k].dag);
        free(m->kernels[k].workload_key);
    }
    free(m->kernels);
    free(m->calls);
    free(m->alias_of);
    tt_graph_free(m->g);
    free(m);
}

int tt_model_build(tt_graph *g, tt_model **out, tt_err *err)
{
    *out = NULL;
    if (g->ninputs < 1 || g->ninputs > TT_MODEL_MAX_INPUTS || g->noutputs != 1) {
        tt_err_set(err, "model '%s' has %d inputs and %d outputs (1 to %d inputs and one output are supported)",
                   g->name, g->ninputs, g->noutputs, TT_MODEL_MAX_INPUTS);
        tt_graph_free(g);
        return -1;
    }
    for (int i = 0; i < g->ninputs; i++) {
        const tt_tensor *t = &g->tensors[g->inputs[i]];
        if (t->dtype != TT_DT_FLOAT && t->dtype != TT_DT_INT64 && t->dtype != TT_DT_INT32 &&
            t->dtype != TT_DT_BOOL) {
            tt_err_set(err, "model '%s': input '%s' is %s (float32, int64, int32 and bool inputs are supported)",
                       g->name, t->name, tt_dtype_name(t->dtype));
            tt_graph_free(g);
            return -1;
        }
    }
    tt_model *m = tt_xcalloc(1, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", g->name);
    m->g = g;
    if (tt_model_passes(g, err) || mp_fuse(m, err)) {
        tt_model_free(m);
        return -1;
    }
    m->input = g->inputs[0];
    m->ninputs = g->ninputs;
    for (int i = 0; i < g->ninputs; i++)
        m->inputs[i] = g->inputs[i];
    m->output = g->outputs[0];
    if (g->tensors[m->output].dtype != TT_DT_FLOAT) {
        tt_model_free(m);
        return tt_err_set(err, "the model's output is not float");
    }
    for (int c = 0; c < m->ncalls; c++)
        if (m->calls[c].kind == TT_MCALL_KERNEL)
            m->flops += m->kernels[m->calls[c].kernel].dag->flops;
    *out = m;
    return 0;
}

int64_t tt_model_input_offset(const tt_model *m, int i)
{
    int64_t off = 0;
    for (int j = 0; j < i && j < m->ninputs; j++) {
        const tt_tensor *t = &m->g->tensors[m->inputs[j]];
        off += tt_tensor_numel(t) * tt_dtype_size(t->dtype);
    }
    return off;
}

int64_t tt_model_input_bytes(const tt_model *m) { return tt_model_input_offset(m, m->ninputs); }

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcmp(s + n - k, suf);
}

int tt_model_load(const char *what, tt_model **out, tt_err *err) { return tt_model_load_shapes(what, NULL, 0, out, err); }

int tt_model_load_shapes(const char *what, const tt_input_shape *shapes, int nshapes, tt_model **out, tt_err *err)
{
    *out = NULL;
    tt_graph *g = NULL;
    if (nshapes > 0 && !ends_with(what, ".onnx"))
        return tt_err_set(err, "%s: --shape applies to ONNX files (a zoo model's shapes are fixed)", what);
    if (ends_with(what, ".onnx")) {
        if (tt_onnx_load_shapes(what, shapes, nshapes, &g, err)) {
            tt_err_prefix(err, "%s", what);
            return -1;
        }
        /* the model is named after its file */
        const char *base = strrchr(what, '/');
        base = base ? base + 1 : what;
        free(g->name);
        g->name = tt_xstrdup(base);
        g->name[strlen(g->name) - 5] = 0;
    } else {
        if (!tt_zoo_find(what))
            return tt_err_set(err, "unknown zoo model '%s' (see `transtune models`; an ONNX file "
                              "must end in .onnx)", what);
        g = tt_zoo_build(what, 0, err);
        if (!g)
            return -1;
    }
    if (tt_model_build(g, out, err)) {
        tt_err_prefix(err, "%s", what);
        return -1;
    }
    return 0;
}
