/* test_bert.c - the zoo's BERT-base and MobileBERT are the graphs PyTorch
 * exports: their structural signatures equal those of the real ONNX exports
 * (tests/data/bert/NAME.sig, written by scripts/compare-bert.py from
 * scripts/export-onnx.py's files; see that script for the format), and
 * their weights are seeded and deterministic. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "../src/zoo/bert.h"
#include "test.h"

/* "%.6g" of a float32 value, as compare-bert.py prints it. */
static void sig_float(tt_str *s, double v) { tt_str_catf(s, "%.6g", (double)(float)v); }

static void sig_const(tt_str *s, const tt_tensor *t)
{
    tt_str_cat(s, "c[");
    for (int i = 0; i < t->ndim; i++)
        tt_str_catf(s, "%s%lld", i ? "," : "", (long long)t->shape[i]);
    tt_str_cat(s, "]");
    int64_t n = tt_tensor_numel(t);
    if (n > 8)
        return;
    for (int64_t i = 0; i < n; i++) {
        tt_str_cat(s, i ? "," : "=");
        if (t->dtype == TT_DT_FLOAT)
            sig_float(s, ((const float *)t->data)[i]);
        else if (t->dtype == TT_DT_INT64)
            tt_str_catf(s, "%lld", (long long)((const int64_t *)t->data)[i]);
        else
            tt_str_cat(s, "?");
    }
}

static int attr_cmp(const void *a, const void *b)
{
    return strcmp((*(const tt_attr *const *)a)->name, (*(const tt_attr *const *)b)->name);
}

/* The signature of an inferred graph (the format of scripts/compare-bert.py);
 * NULL if a node has only constant inputs, reads a tensor nothing defines or
 * has several outputs. */
static char *signature(const tt_graph *g)
{
    int *sig_of = malloc((size_t)g->nnodes * sizeof *sig_of); /* node -> signature index */
    tt_str s;
    tt_str_init(&s);
    int k = 0, ok = 1;
    for (int n = 0; n < g->nnodes && ok; n++) {
        const tt_node *nd = &g->nodes[n];
        sig_of[n] = -1;
        if (nd->dead)
            continue;
        tt_str_catf(&s, "%d %s ", k, tt_gop_names[nd->op]);
        int nonconst = 0;
        for (int i = 0; i < nd->nin; i++) {
            if (i)
                tt_str_cat(&s, ",");
            int t = nd->in[i];
            if (t < 0) {
                tt_str_cat(&s, "-");
                continue;
            }
            const tt_tensor *tt = &g->tensors[t];
            if (tt->is_input) {
                tt_str_cat(&s, "in");
                nonconst = 1;
            } else if (tt->producer >= 0 && sig_of[tt->producer] >= 0) {
                tt_str_catf(&s, "n%d", sig_of[tt->producer]);
                nonconst = 1;
            } else if (tt->data) {
                sig_const(&s, tt);
            } else {
                ok = 0;
            }
        }
        if (!nonconst)
            ok = 0;
        const tt_attr *attrs[32];
        int na = nd->nattr < 32 ? nd->nattr : 32;
        for (int i = 0; i < na; i++)
            attrs[i] = &nd->attrs[i];
        qsort(attrs, (size_t)na, sizeof attrs[0], attr_cmp);
        for (int i = 0; i < na; i++) {
            const tt_attr *a = attrs[i];
            tt_str_catf(&s, " %s=", a->name);
            switch (a->kind) {
            case TT_ATTR_INT: tt_str_catf(&s, "%lld", (long long)a->i); break;
            case TT_ATTR_FLOAT: sig_float(&s, a->f); break;
            case TT_ATTR_INTS:
                for (int j = 0; j < a->n; j++)
                    tt_str_catf(&s, "%s%lld", j ? "," : "", (long long)a->ints[j]);
                break;
            case TT_ATTR_FLOATS:
                for (int j = 0; j < a->n; j++) {
                    tt_str_cat(&s, j ? "," : "");
                    sig_float(&s, a->floats[j]);
                }
                break;
            case TT_ATTR_STRING: tt_str_cat(&s, a->s); break;
            default: tt_str_cat(&s, "?"); break;
            }
        }
        if (nd->nout != 1) {
            ok = 0;
            break;
        }
        const tt_tensor *o = &g->tensors[nd->out[0]];
        tt_str_catf(&s, " -> %s[", o->dtype == TT_DT_FLOAT   ? "f"
                                   : o->dtype == TT_DT_INT64 ? "i64"
                                                             : "?");
        for (int i = 0; i < o->ndim; i++)
            tt_str_catf(&s, "%s%lld", i ? "," : "", (long long)o->shape[i]);
        tt_str_cat(&s, "]\n");
        sig_of[n] = k++;
    }
    if (ok && g->noutputs == 1 && g->tensors[g->outputs[0]].producer >= 0)
        tt_str_catf(&s, "output n%d\n", sig_of[g->tensors[g->outputs[0]].producer]);
    else
        ok = 0;
    free(sig_of);
    if (!ok) {
        tt_str_free(&s);
        return NULL;
    }
    return tt_str_take(&s);
}

/* Compare line by line; print the first difference. */
static int same_text(const char *got, const char *want, const char *what)
{
    int line = 1;
    const char *g = got, *w = want;
    while (*g || *w) {
        const char *ge = strchr(g, '\n'), *we = strchr(w, '\n');
        size_t gl = ge ? (size_t)(ge - g) : strlen(g), wl = we ? (size_t)(we - w) : strlen(w);
        if (gl != wl || memcmp(g, w, gl) != 0) {
            fprintf(stderr, "    %s: line %d differs\n      zoo:    %.*s\n      export: %.*s\n", what,
                    line, (int)gl, g, (int)wl, w);
            return 0;
        }
        g += gl + (ge != NULL);
        w += wl + (we != NULL);
        line++;
    }
    return 1;
}

static void check_model(tt_graph *(*build)(uint64_t, tt_err *), const char *name)
{
    tt_err err = {0};
    tt_graph *g = build(0, &err);
    CHECK_MSG(g, "%s", err.msg);
    /* input and output as the export declares them */
    CHECK(g->ninputs == 1 && g->noutputs == 1);
    const tt_tensor *in = &g->tensors[g->inputs[0]];
    CHECK(!strcmp(in->name, "input") && in->dtype == TT_DT_INT64 && in->ndim == 2 &&
          in->shape[0] == 1 && in->shape[1] == 256);
    CHECK_MSG(tt_graph_infer(g, &err) == 0, "%s: %s", name, err.msg);
    char path[256];
    snprintf(path, sizeof path, "tests/data/bert/%s.sig", name);
    char *want = tt_read_file(path, NULL, &err);
    char *got = signature(g);
    int same = want && got && same_text(got, want, name);
    int64_t params = 0;
    for (int t = 0; t < g->ntensors; t++)
        if (g->tensors[t].data && g->tensors[t].dtype == TT_DT_FLOAT)
            params += tt_tensor_numel(&g->tensors[t]);
    int nnodes = g->nnodes;
    tt_graph_free(g);
    free(want);
    free(got);
    CHECK_MSG(same, "%s: zoo graph and export signature differ (%s)", name,
              err.set ? err.msg : "see above");
    fprintf(stderr, "    %s: %d nodes, %lld float weights\n", name, nnodes, (long long)params);
}

static void bert_base_matches_export(void) { check_model(tt_zoo_bert_base, "bert_base"); }

static void mobilebert_matches_export(void) { check_model(tt_zoo_mobilebert, "mobilebert"); }

/* The signature is not blind: a graph that differs in one attribute, one
 * constant shape or one edge is told apart. */
static void signature_sees_differences(void)
{
    tt_err err = {0};
    tt_graph *g = tt_zoo_mobilebert(0, &err);
    CHECK_MSG(g, "%s", err.msg);
    CHECK_MSG(tt_graph_infer(g, &err) == 0, "%s", err.msg);
    char *a = signature(g);
    CHECK(a);
    int sm = -1, add = -1;
    for (int n = 0; n < g->nnodes; n++) {
        if (sm < 0 && g->nodes[n].op == TT_GOP_SOFTMAX)
            sm = n;
        if (add < 0 && g->nodes[n].op == TT_GOP_ADD && n > 100)
            add = n;
    }
    CHECK(sm >= 0 && add >= 0);
    tt_node_set_int(g, sm, "axis", 3);
    char *b = signature(g);
    tt_node_set_int(g, sm, "axis", -1);
    int t = g->nodes[add].in[0];
    g->nodes[add].in[0] = g->nodes[add].in[1];
    g->nodes[add].in[1] = t;
    char *c = signature(g);
    tt_graph_free(g);
    int differ_b = b && strcmp(a, b) != 0, differ_c = c && strcmp(a, c) != 0;
    free(a);
    free(b);
    free(c);
    CHECK(differ_b);
    CHECK(differ_c);
}

/* Weights depend on the seed only: same seed, same bytes; another seed, others. */
static void weights_are_seeded(void)
{
    tt_err err = {0};
    tt_graph *g1 = tt_zoo_mobilebert(1, &err), *g2 = tt_zoo_mobilebert(1, &err),
             *g3 = tt_zoo_mobilebert(2, &err);
    CHECK_MSG(g1 && g2 && g3, "%s", err.msg);
    int same12 = 1, same13 = 1, sane = 1, checked = 0;
    for (int t = 0; t < g1->ntensors; t++) {
        const tt_tensor *a = &g1->tensors[t], *b = &g2->tensors[t], *c = &g3->tensors[t];
        if (!a->data || a->dtype != TT_DT_FLOAT || tt_tensor_numel(a) < 100)
            continue;
        size_t bytes = (size_t)tt_tensor_numel(a) * sizeof(float);
        same12 &= memcmp(a->data, b->data, bytes) == 0;
        same13 &= memcmp(a->data, c->data, bytes) == 0;
        const float *f = a->data;
        for (int64_t i = 0; i < tt_tensor_numel(a); i++)
            sane &= f[i] >= -1.5f && f[i] <= 1.5f;
        checked++;
    }
    tt_graph_free(g1);
    tt_graph_free(g2);
    tt_graph_free(g3);
    CHECK(checked > 100);
    CHECK(same12);
    CHECK(!same13);
    CHECK(sane);
}

/* scripts/check-onnx.sh (the ONNX integration check, run by hand after the
 * exports) checks its own comparison logic on a fake transtune; status 3
 * means /usr/bin/python3 has no numpy, which skips the test; any other
 * status but 0 (a failed self-test, a usage error, a missing script) fails. */
static void check_onnx_script_self_test(void)
{
    int rc = system("scripts/check-onnx.sh --self-test >/dev/null 2>&1");
    if (rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 3)
        SKIP("/usr/bin/python3 with numpy not found (python3-numpy; scripts/install-deps.sh "
             "--extras)");
    CHECK_MSG(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0,
              "scripts/check-onnx.sh --self-test: status %d: run it to see why",
              rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc));
}

const tt_test tests_bert[] = {
    {"bert_base_matches_export", bert_base_matches_export},
    {"mobilebert_matches_export", mobilebert_matches_export},
    {"signature_sees_differences", signature_sees_differences},
    {"weights_are_seeded", weights_are_seeded},
    {"check_onnx_script_self_test", check_onnx_script_self_test},
    {NULL, NULL},
};
