/* artifact_host.c - the host calls of a compiled artifact (see exec.h,
 * tt_exec_write_artifact): the ops on integer and boolean tensors that the
 * executor evaluates with the folding rules (tt_graph_eval_node: an
 * attention mask's Equal, Cast, Where) become, in the artifact's runtime, one
 * small interpreter of broadcasting elementwise ops and a descriptor per
 * call.  The artifact must not need transtune, so the interpreter is
 * generated C of its own; its semantics are the folding rules' (fold.c):
 * float operands computed in float, integers in int64 with wrap-around, a
 * division by zero or a cast out of range an error, never undefined
 * behaviour.
 */
#include <inttypes.h>
#include <string.h>

#include "exec_int.h"

/* The interpreter's op codes (the H_* enum emitted below, in this order). */
enum {
    H_COPY = 0, /* Cast, Expand: each element converted to the output's dtype */
    H_NOT,
    H_NEG,
    H_ABS,
    H_EQ,
    H_LT,
    H_GT,
    H_LE,
    H_GE,
    H_AND,
    H_OR,
    H_XOR,
    H_ADD,
    H_SUB,
    H_MUL,
    H_DIV,
    H_MAX,
    H_MIN,
    H_WHERE,
    H_GATHER /* data [outer, len, inner] at indices [nidx]: st[0] = {outer, len, inner, nidx} */
};

#define H_MAX_DIMS 8

int tt_art_host_code(const tt_graph *g, const tt_node *nd)
{
    int nin = 0;
    for (int i = 0; i < nd->nin; i++)
        nin += nd->in[i] >= 0;
    if (nin != nd->nin || nd->nout != 1 || g->tensors[nd->out[0]].ndim > H_MAX_DIMS)
        return -1;
    static const struct {
        tt_gop op;
        int code, nin;
    } map[] = {
        {TT_GOP_CAST, H_COPY, 1},  {TT_GOP_NOT, H_NOT, 1},     {TT_GOP_NEG, H_NEG, 1},
        {TT_GOP_ABS, H_ABS, 1},    {TT_GOP_EQUAL, H_EQ, 2},    {TT_GOP_LESS, H_LT, 2},
        {TT_GOP_GREATER, H_GT, 2}, {TT_GOP_LESS_OR_EQUAL, H_LE, 2}, {TT_GOP_GREATER_OR_EQUAL, H_GE, 2},
        {TT_GOP_AND, H_AND, 2},    {TT_GOP_OR, H_OR, 2},       {TT_GOP_ADD, H_ADD, 2},
        {TT_GOP_SUB, H_SUB, 2},    {TT_GOP_MUL, H_MUL, 2},     {TT_GOP_DIV, H_DIV, 2},
        {TT_GOP_MAX, H_MAX, 2},    {TT_GOP_MIN, H_MIN, 2},     {TT_GOP_WHERE, H_WHERE, 3},
    };
    if (nd->op == TT_GOP_EXPAND)
        return nin == 2 ? H_COPY : -1; /* the target shape is the output's */
    if (nd->op == TT_GOP_GATHER) {
        const tt_tensor *I = &g->tensors[nd->in[1]];
        return nin == 2 && (I->dtype == TT_DT_INT64 || I->dtype == TT_DT_INT32) ? H_GATHER : -1;
    }
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].op == nd->op)
            return map[i].nin == nin ? map[i].code : -1;
    return -1;
}

/* Element strides of x broadcast to the output shape (0 along broadcast
 * dimensions), right-aligned as numpy's rule. */
static void bcast_strides(const tt_tensor *x, const tt_tensor *o, int64_t *st)
{
    int64_t s = 1;
    for (int d = o->ndim - 1; d >= 0; d--) {
        int j = d - (o->ndim - x->ndim);
        if (j < 0) {
            st[d] = 0;
            continue;
        }
        st[d] = x->shape[j] == 1 && o->shape[d] != 1 ? 0 : s;
        s *= x->shape[j];
    }
}

int tt_art_host_desc(const tt_graph *g, int node, tt_str *o, tt_err *err)
{
    const tt_node *nd = &g->nodes[node];
    int code = tt_art_host_code(g, nd);
    if (code < 0)
        return tt_err_set(err,
                          "node '%s' (%s) computes on integer or boolean tensors in a way compiled artifacts do not "
                          "support (elementwise ops, Cast, Expand, Where and Gather are); `transtune run` runs it",
                          nd->name, tt_gop_names[nd->op]);
    const tt_tensor *O = &g->tensors[nd->out[0]];
    if (code == H_GATHER) {
        /* the data as [outer, len, inner] around the axis, the indices flat */
        const tt_tensor *X = &g->tensors[nd->in[0]], *I = &g->tensors[nd->in[1]];
        int64_t ax = tt_node_int(nd, "axis", 0), outer = 1, inner = 1;
        ax = ax < 0 ? ax + X->ndim : ax;
        for (int d = 0; d < ax; d++)
            outer *= X->shape[d];
        for (int d = (int)ax + 1; d < X->ndim; d++)
            inner *= X->shape[d];
        tt_str_catf(o, "    {%d, %d, 1, 2, 2, {%" PRId64 "}, {%d, %d}, {{%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
                       "}}},  /* Gather */\n",
                    code, (int)O->dtype, tt_tensor_numel(O), (int)X->dtype, (int)I->dtype, outer, X->shape[ax], inner,
                    tt_tensor_numel(I));
        return 0;
    }
    int nin = code == H_COPY ? 1 : nd->nin; /* Expand's shape operand is not read */
    /* the output is the call's last argument, after every input (read or not) */
    tt_str_catf(o, "    {%d, %d, %d, %d, %d, {", code, (int)O->dtype, O->ndim, nin, nd->nin);
    for (int d = 0; d < O->ndim; d++)
        tt_str_catf(o, "%s%" PRId64, d ? ", " : "", O->shape[d]);
    tt_str_cat(o, O->ndim ? "}, {" : "0}, {");
    for (int i = 0; i < nin; i++)
        tt_str_catf(o, "%s%d", i ? ", " : "", (int)g->tensors[nd->in[i]].dtype);
    tt_str_cat(o, "}, {");
    for (int i = 0; i < nin; i++) {
        int64_t st[H_MAX_DIMS] = {0};
        bcast_strides(&g->tensors[nd->in[i]], O, st);
        tt_str_cat(o, i ? ", {" : "{");
        for (int d = 0; d < O->ndim; d++)
            tt_str_catf(o, "%s%" PRId64, d ? ", " : "", st[d]);
        tt_str_cat(o, O->ndim ? "}" : "0}");
    }
    tt_str_catf(o, "}},  /* %s */\n", tt_gop_names[nd->op]);
    return 0;
}

void tt_art_host_runtime(tt_str *o)
{
    tt_str_cat(
        o,
        "/* Host calls: ops on integer and boolean tensors (masks), as transtune's folding rules\n"
        " * compute them.  dtypes are ONNX's codes: 1 float, 6 int32, 7 int64, 9 bool. */\n"
        "enum { H_COPY, H_NOT, H_NEG, H_ABS, H_EQ, H_LT, H_GT, H_LE, H_GE, H_AND, H_OR, H_XOR, H_ADD, H_SUB,\n"
        "       H_MUL, H_DIV, H_MAX, H_MIN, H_WHERE, H_GATHER };\n"
        "typedef struct { int op, odt, ndim, nin, oarg; long long shape[8]; int idt[3]; long long st[3][8]; } host_t;\n\n"
        "static double h_getf(const void *p, int dt, long long i)\n{\n"
        "    switch (dt) {\n    case 1: return ((const float *)p)[i];\n    case 6: return ((const int *)p)[i];\n"
        "    case 7: return (double)((const long long *)p)[i];\n    default: return ((const unsigned char *)p)[i];\n    }\n}\n\n"
        "static long long h_geti(const void *p, int dt, long long i)\n{\n"
        "    switch (dt) {\n    case 1: return (long long)((const float *)p)[i];\n    case 6: return ((const int *)p)[i];\n"
        "    case 7: return ((const long long *)p)[i];\n    default: return ((const unsigned char *)p)[i];\n    }\n}\n\n"
        "static void h_seti(void *p, int dt, long long i, long long v)\n{\n"
        "    switch (dt) {\n    case 1: ((float *)p)[i] = (float)v; break;\n    case 6: ((int *)p)[i] = (int)v; break;\n"
        "    case 7: ((long long *)p)[i] = v; break;\n    default: ((unsigned char *)p)[i] = v != 0;\n    }\n}\n\n"
        "/* Gather: out[o, i, k] = data[o, idx[i], k] (elements of the data's size) */\n"
        "static int host_gather(const host_t *h, void *const *a, char *msg, size_t n)\n{\n"
        "    long long outer = h->st[0][0], len = h->st[0][1], inner = h->st[0][2], ni = h->st[0][3];\n"
        "    size_t es = h->idt[0] == 7 ? 8 : h->idt[0] == 9 ? 1 : 4;\n"
        "    const char *x = a[0];\n    char *out = a[h->oarg];\n"
        "    for (long long i = 0; i < ni; i++) {\n"
        "        long long j = h_geti(a[1], h->idt[1], i);\n        j = j < 0 ? j + len : j;\n"
        "        if (j < 0 || j >= len) {\n"
        "            snprintf(msg, n, \"Gather: index %lld out of range [0, %lld)\", h_geti(a[1], h->idt[1], i), len);\n"
        "            return 1;\n        }\n"
        "        for (long long o = 0; o < outer; o++)\n"
        "            memcpy(out + ((o * ni + i) * inner) * es, x + ((o * len + j) * inner) * es, (size_t)inner * es);\n"
        "    }\n    return 0;\n}\n\n"
        "/* 0, or 1 with msg set */\n"
        "static int host_run(const host_t *h, void *const *a, char *msg, size_t n)\n{\n"
        "    if (h->op == H_GATHER)\n        return host_gather(h, a, msg, n);\n"
        "    long long idx[8] = {0}, off[3] = {0}, total = 1;\n"
        "    for (int d = 0; d < h->ndim; d++)\n        total *= h->shape[d];\n"
        "    void *out = a[h->oarg];\n"
        "    int isf = h->idt[h->op == H_WHERE ? 1 : 0] == 1;\n"
        "    for (long long i = 0; i < total; i++) {\n"
        "        const void *x = a[0], *y = h->nin > 1 ? a[1] : 0;\n"
        "        long long ox = off[0], oy = off[1];\n"
        "        if (h->op == H_COPY || h->op == H_WHERE) {\n"
        "            if (h->op == H_WHERE) {\n"
        "                int c = h_geti(a[0], h->idt[0], off[0]) != 0;\n"
        "                x = a[c ? 1 : 2];\n                ox = off[c ? 1 : 2];\n            }\n"
        "            int xt = h->idt[h->op == H_WHERE ? 1 : 0];\n"
        "            if (xt == 1 && h->odt == 1) {\n                ((float *)out)[i] = ((const float *)x)[ox];\n"
        "            } else if (xt == 1 && h->odt != 9) {\n                double v = h_getf(x, 1, ox);\n"
        "                if (!(v > -9.2e18 && v < 9.2e18)) {\n"
        "                    snprintf(msg, n, \"cannot cast %g to an integer\", v);\n                    return 1;\n"
        "                }\n                h_seti(out, h->odt, i, (long long)v);\n"
        "            } else if (xt == 1) {\n                ((unsigned char *)out)[i] = h_getf(x, 1, ox) != 0;\n"
        "            } else {\n                h_seti(out, h->odt, i, h_geti(x, xt, ox));\n            }\n"
        "        } else if (isf) {\n"
        "            float p = (float)h_getf(x, 1, ox), q = y ? (float)h_getf(y, h->idt[1], oy) : 0, r = 0;\n"
        "            int b = -1;\n"
        "            switch (h->op) {\n"
        "            case H_NEG: r = -p; break;\n            case H_ABS: r = p < 0 ? -p : p; break;\n"
        "            case H_EQ: b = p == q; break;\n            case H_LT: b = p < q; break;\n"
        "            case H_GT: b = p > q; break;\n            case H_LE: b = p <= q; break;\n"
        "            case H_GE: b = p >= q; break;\n            case H_ADD: r = p + q; break;\n"
        "            case H_SUB: r = p - q; break;\n            case H_MUL: r = p * q; break;\n"
        "            case H_DIV: r = p / q; break;\n            case H_MAX: r = p > q || p != p ? p : q; break;\n"
        "            case H_MIN: r = p < q || p != p ? p : q; break;\n"
        "            default: snprintf(msg, n, \"host op %d on floats\", h->op); return 1;\n            }\n"
        "            if (b >= 0)\n                h_seti(out, h->odt, i, b);\n            else\n"
        "                ((float *)out)[i] = r;\n"
        "        } else {\n"
        "            unsigned long long p = (unsigned long long)h_geti(x, h->idt[0], ox);\n"
        "            unsigned long long q = y ? (unsigned long long)h_geti(y, h->idt[1], oy) : 0;\n"
        "            long long sp = (long long)p, sq = (long long)q, r;\n"
        "            switch (h->op) {\n"
        "            case H_NOT: r = !sp; break;\n            case H_NEG: r = (long long)(0 - p); break;\n"
        "            case H_ABS: r = sp < 0 ? (long long)(0 - p) : sp; break;\n"
        "            case H_EQ: r = sp == sq; break;\n            case H_LT: r = sp < sq; break;\n"
        "            case H_GT: r = sp > sq; break;\n            case H_LE: r = sp <= sq; break;\n"
        "            case H_GE: r = sp >= sq; break;\n            case H_AND: r = sp && sq; break;\n"
        "            case H_OR: r = sp || sq; break;\n            case H_XOR: r = !sp != !sq; break;\n"
        "            case H_ADD: r = (long long)(p + q); break;\n            case H_SUB: r = (long long)(p - q); break;\n"
        "            case H_MUL: r = (long long)(p * q); break;\n"
        "            case H_DIV:\n                if (sq == 0) {\n"
        "                    snprintf(msg, n, \"integer division by zero\");\n                    return 1;\n                }\n"
        "                r = sq == -1 ? (long long)(0 - p) : sp / sq;\n                break;\n"
        "            case H_MAX: r = sp > sq ? sp : sq; break;\n            case H_MIN: r = sp < sq ? sp : sq; break;\n"
        "            default: snprintf(msg, n, \"host op %d on integers\", h->op); return 1;\n            }\n"
        "            h_seti(out, h->odt, i, r);\n        }\n"
        "        for (int d = h->ndim - 1; d >= 0; d--) {\n"
        "            for (int k = 0; k < h->nin; k++)\n                off[k] += h->st[k][d];\n"
        "            if (++idx[d] < h->shape[d])\n                break;\n"
        "            for (int k = 0; k < h->nin; k++)\n                off[k] -= h->st[k][d] * h->shape[d];\n"
        "            idx[d] = 0;\n        }\n    }\n    return 0;\n}\n\n");
}
