/* test_onnx.c - the ONNX importer (src/onnx) on the fixtures in
 * tests/data/onnx (made by scripts/make-onnx-fixtures.py) and on small models
 * built here with protobuf-c's generated structs and packed to bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/onnx/onnx.h"
#include "onnx.pb-c.h"
#include "test.h"

#define DATA "tests/data/onnx/"

/* ---- .npy headers ---------------------------------------------------------------- */

/* Shape and dtype code ('f' float32, 'i' int64) from a .npy file's header. */
static int npy_shape(const char *path, int *ndim, int64_t *shape, char *kind)
{
    size_t len;
    tt_err err = {0};
    char *buf = tt_read_file(path, &len, &err);
    if (!buf)
        return -1;
    int rc = -1;
    if (len > 10 && !memcmp(buf, "\x93NUMPY", 6)) {
        const char *d = strstr(buf + 10, "'descr': '");
        const char *s = strstr(buf + 10, "'shape': (");
        if (d && s) {
            *kind = d[11];
            if (!strncmp(d + 10, "<f4", 3) || !strncmp(d + 10, "<i8", 3)) {
                *ndim = 0;
                char *p = (char *)s + 10;
                while (*p != ')' && *ndim < TT_GRAPH_MAX_DIMS) {
                    shape[(*ndim)++] = strtoll(p, &p, 10);
                    while (*p == ',' || *p == ' ')
                        p++;
                }
                rc = 0;
            }
        }
    }
    free(buf);
    return rc;
}

/* ---- fixtures -------------------------------------------------------------------- */

/* Live nodes of operator op, of any with TT_GOP_COUNT. */
static int live_count(const tt_graph *g, tt_gop op)
{
    int n = 0;
    for (int i = 0; i < g->nnodes; i++)
        n += !g->nodes[i].dead && (op == TT_GOP_COUNT || g->nodes[i].op == op);
    return n;
}

/* Whether a node, live or dead, has the operator named `name`. */
static int has_op(const tt_graph *g, const char *name)
{
    tt_gop op = tt_gop_lookup(name);
    for (int i = 0; i < g->nnodes && op != TT_GOP_COUNT; i++)
        if (g->nodes[i].op == op)
            return 1;
    return 0;
}

static int find_node(const tt_graph *g, const char *name)
{
    for (int i = 0; i < g->nnodes; i++)
        if (!strcmp(g->nodes[i].name, name))
            return i;
    return -1;
}

/* Every good fixture: it loads, its input and output shapes are those of its
 * .npy files, and every operator of the ONNX file (Constant nodes aside,
 * which become constants) is in the graph.  `live` is the number of nodes
 * left after folding. */
static const struct fixture {
    const char *name;
    const char *ops; /* space-separated op types of the file */
    int nodes, live;
} fixtures[] = {
    {"convnet",
     "AveragePool BatchNormalization Clip Conv Flatten Gemm GlobalAveragePool HardSigmoid "
     "MaxPool Mul Relu Sigmoid",
     18, 18},
    {"shapechain", "Concat Conv Gather Gemm Mul Reshape Shape Transpose Unsqueeze", 23, 6},
    {"transformer",
     "Add Div Erf Identity MatMul Mul Pow ReduceMean Reshape Softmax Sqrt Sub Transpose", 52,
     49},
    {"catsplit", "Cast Concat ConstantOfShape Mul Pad Reshape Slice Split Transpose", 18, 11},
    {"embed17",
     "Add Cast ConstantOfShape Div Equal Expand Gather LayerNormalization Mul Pow Unsqueeze Where",
     18, 12},
    {"legacy10",
     "Clip Pad Split Squeeze Unsqueeze ReduceMean Add Flatten Slice MatMul Softmax", 11, 11},
};

static void test_fixtures(void)
{
    for (size_t f = 0; f < sizeof fixtures / sizeof fixtures[0]; f++) {
        const struct fixture *fx = &fixtures[f];
        char path[256];
        snprintf(path, sizeof path, DATA "%s.onnx", fx->name);
        tt_graph *g = NULL;
        tt_err err = {0};
        CHECK_MSG(tt_onnx_load(path, &g, &err) == 0, "%s: %s", fx->name, err.msg);
        CHECK(!strcmp(g->name, fx->name));
        CHECK(g->ninputs == 1 && g->noutputs == 1);
        int64_t shape[TT_GRAPH_MAX_DIMS];
        int nd;
        char kind;
        const tt_tensor *in = &g->tensors[g->inputs[0]], *out = &g->tensors[g->outputs[0]];
        snprintf(path, sizeof path, DATA "%s.in.npy", fx->name);
        CHECK_MSG(npy_shape(path, &nd, shape, &kind) == 0, "%s", path);
        CHECK(in->dtype == (kind == 'f' ? TT_DT_FLOAT : TT_DT_INT64) && in->ndim == nd);
        for (int i = 0; i < nd; i++)
            CHECK_MSG(in->shape[i] == shape[i], "%s input dim %d", fx->name, i);
        snprintf(path, sizeof path, DATA "%s.out.npy", fx->name);
        CHECK_MSG(npy_shape(path, &nd, shape, &kind) == 0, "%s", path);
        CHECK(out->dtype == TT_DT_FLOAT && kind == 'f');
        CHECK_MSG(out->ndim == nd, "%s: output rank %d, want %d", fx->name, out->ndim, nd);
        for (int i = 0; i < nd; i++)
            CHECK_MSG(out->shape[i] == shape[i], "%s output dim %d: %lld, want %lld", fx->name, i,
                      (long long)out->shape[i], (long long)shape[i]);
        char ops[512];
        snprintf(ops, sizeof ops, "%s", fx->ops);
        for (char *tok = strtok(ops, " "); tok; tok = strtok(NULL, " "))
            CHECK_MSG(has_op(g, tok), "%s: no %s node", fx->name, tok);
        CHECK_MSG(g->nnodes == fx->nodes && live_count(g, TT_GOP_COUNT) == fx->live,
                  "%s: %d nodes, %d live", fx->name, g->nnodes, live_count(g, TT_GOP_COUNT));
        /* After import every live node's outputs are inferred, and no live
         * node is a Constant or reads a Shape. */
        for (int i = 0; i < g->nnodes; i++) {
            const tt_node *n = &g->nodes[i];
            if (n->dead)
                continue;
            CHECK(n->op != TT_GOP_SHAPE && n->op != TT_GOP_CONSTANT);
            for (int k = 0; k < n->nout; k++)
                CHECK(tt_tensor_numel(&g->tensors[n->out[k]]) >= 0);
        }
        tt_graph_free(g);
    }
}

static const int64_t *const_data(const tt_graph *g, int node, int input)
{
    int t = g->nodes[node].in[input];
    return t >= 0 ? g->tensors[t].data : NULL;
}

/* What normalization made of legacy10's opset-10 attributes. */
static void test_legacy_normalized(void)
{
    tt_graph *g = NULL;
    tt_err err = {0};
    CHECK_MSG(tt_onnx_load(DATA "legacy10.onnx", &g, &err) == 0, "%s", err.msg);
    int n = find_node(g, "clip");
    CHECK(n >= 0 && g->nodes[n].nin == 3 && !tt_node_attr(&g->nodes[n], "min"));
    const float *lo = (const float *)const_data(g, n, 1), *hi = (const float *)const_data(g, n, 2);
    CHECK(lo && hi && *lo == -1.0f && *hi == 2.5f);
    n = find_node(g, "pad");
    const int64_t *p = const_data(g, n, 1);
    int64_t want[8] = {0, 0, 1, 0, 0, 0, 0, 1};
    CHECK(p && !memcmp(p, want, sizeof want) && *(const float *)const_data(g, n, 2) == 0.25f);
    n = find_node(g, "split");
    p = const_data(g, n, 1);
    CHECK(p && p[0] == 1 && p[1] == 3 && !tt_node_attr(&g->nodes[n], "split"));
    n = find_node(g, "squeeze");
    p = const_data(g, n, 1);
    CHECK(p && p[0] == 0 && p[1] == 1 && !tt_node_attr(&g->nodes[n], "axes"));
    n = find_node(g, "unsqueeze");
    p = const_data(g, n, 1);
    CHECK(p && p[0] == 0 && g->tensors[g->nodes[n].in[1]].shape[0] == 1);
    n = find_node(g, "softmax");
    CHECK(tt_node_int(&g->nodes[n], "axis", -1) == 1);
    /* ReduceMean keeps its axes attribute (the opset-13 form). */
    n = find_node(g, "rmean");
    CHECK(g->nodes[n].nin == 1 && tt_node_attr(&g->nodes[n], "axes"));
    /* The symbolic "batch" dimension of the input became 1. */
    CHECK(g->tensors[g->inputs[0]].shape[0] == 1);
    tt_graph_free(g);
}

static void test_bad_files(void)
{
    static const struct {
        const char *file, *msg;
    } bad[] = {
        {"bad-truncated", "not a valid ONNX model (the protobuf does not parse"},
        {"bad-random", "not a valid ONNX model"},
        {"bad-unknown-op", "unsupported operator 'FooBar' (node 'foo'; the supported ones: docs/cli.md"},
        {"bad-missing-init",
         "node 'mm' (MatMul): input 'w' is not produced by any node, initializer or graph input"},
        {"bad-shapes", "node 'mm' (MatMul): inner dimensions differ: 'x' has 3, 'w' has 4"},
        {"bad-declared-shape", "graph output 'y' is declared float [1,5] but inferred float [1,4]"},
        {"bad-float16", "tensor 'w' has element type float16, which is not supported"},
        {"bad-if", "control-flow operator 'If' (node 'branch') is not supported"},
        {"bad-external", "tensor 'w': cannot open its external data tests/data/onnx/weights.bin"},
        {"bad-external-escape", "tensor 'w': external data location '../weights.bin' leaves the model's folder"},
        {"bad-external-short", "is not a regular file within the input limit holding 48 bytes from offset 999999"},
        {"bad-short-data", "tensor 'w' has 40 bytes of float data but its shape needs 48"},
        {"bad-duplicate", "node 'r2' (Relu): tensor name 'y' is defined twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, DATA "%s.onnx", bad[i].file);
        tt_graph *g = (tt_graph *)1;
        tt_err err = {0};
        CHECK_MSG(tt_onnx_load(path, &g, &err) != 0, "%s loaded", bad[i].file);
        CHECK(g == NULL);
        CHECK_MSG(!strncmp(err.msg, path, strlen(path)) && strstr(err.msg, bad[i].msg),
                  "%s: got '%s'", bad[i].file, err.msg);
    }
    tt_err err = {0};
    tt_graph *g;
    CHECK(tt_onnx_load(DATA "no-such.onnx", &g, &err) != 0 && strstr(err.msg, "no-such.onnx"));
}

/* ---- models built in memory ------------------------------------------------------ */

static tt_arena *A;

static char **names(const char *csv, size_t *n)
{
    *n = 0;
    char **v = tt_arena_alloc(A, 16 * sizeof *v);
    if (!csv || !*csv)
        return v;
    char *s = tt_arena_strdup(A, csv);
    for (;;) {
        v[(*n)++] = s;
        char *p = strchr(s, ',');
        if (!p)
            break;
        *p = 0;
        s = p + 1;
    }
    return v;
}

typedef struct mb {
    Onnx__ModelProto m;
    Onnx__GraphProto g;
    Onnx__OperatorSetIdProto opset, *opsets[1];
    Onnx__NodeProto *nodes[16];
    Onnx__TensorProto *inits[8];
    Onnx__ValueInfoProto *ins[4], *outs[4];
} mb;

static mb *mb_new(int64_t opset)
{
    mb *b = tt_arena_alloc(A, sizeof *b);
    onnx__model_proto__init(&b->m);
    onnx__graph_proto__init(&b->g);
    onnx__operator_set_id_proto__init(&b->opset);
    b->opset.has_version = 1;
    b->opset.version = opset;
    b->opsets[0] = &b->opset;
    b->m.n_opset_import = 1;
    b->m.opset_import = b->opsets;
    b->m.graph = &b->g;
    b->g.node = b->nodes;
    b->g.initializer = b->inits;
    b->g.input = b->ins;
    b->g.output = b->outs;
    b->g.name = "mem";
    return b;
}

static Onnx__NodeProto *mb_node(mb *b, const char *op, const char *name, const char *in,
                                const char *out)
{
    Onnx__NodeProto *n = tt_arena_alloc(A, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = (char *)op;
    n->name = (char *)name;
    n->input = names(in, &n->n_input);
    n->output = names(out, &n->n_output);
    n->attribute = tt_arena_alloc(A, 8 * sizeof *n->attribute);
    b->nodes[b->g.n_node++] = n;
    return n;
}

static Onnx__AttributeProto *mb_attr(Onnx__NodeProto *n, const char *name, int type)
{
    Onnx__AttributeProto *a = tt_arena_alloc(A, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

static void mb_attr_int(Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = mb_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

static Onnx__ValueInfoProto *mb_value(const char *name, int elem, int nd, const int64_t *dims,
                                      const char *sym)
{
    Onnx__ValueInfoProto *v = tt_arena_alloc(A, sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = (char *)name;
    Onnx__TypeProto *t = tt_arena_alloc(A, sizeof *t);
    onnx__type_proto__init(t);
    Onnx__TypeProto__Tensor *tt = tt_arena_alloc(A, sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = elem;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->type = t;
    if (nd < 0)
        return v;
    Onnx__TensorShapeProto *s = tt_arena_alloc(A, sizeof *s);
    onnx__tensor_shape_proto__init(s);
    s->n_dim = (size_t)nd;
    s->dim = tt_arena_alloc(A, (size_t)(nd + 1) * sizeof *s->dim);
    for (int i = 0; i < nd; i++) {
        Onnx__TensorShapeProto__Dimension *d = tt_arena_alloc(A, sizeof *d);
        onnx__tensor_shape_proto__dimension__init(d);
        if (dims[i] < 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = (char *)sym;
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        }
        s->dim[i] = d;
    }
    tt->shape = s;
    return v;
}

static void mb_input(mb *b, const char *name, int nd, const int64_t *dims)
{
    b->ins[b->g.n_input++] =
        mb_value(name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, nd, dims, "batch");
}

static void mb_output(mb *b, const char *name)
{
    Onnx__ValueInfoProto *v = tt_arena_alloc(A, sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = (char *)name;
    b->outs[b->g.n_output++] = v;
}

static Onnx__TensorProto *mb_tensor(const char *name, int type, int nd, const int64_t *dims)
{
    Onnx__TensorProto *t = tt_arena_alloc(A, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = (char *)name;
    t->has_data_type = 1;
    t->data_type = type;
    t->n_dims = (size_t)nd;
    t->dims = (int64_t *)dims;
    return t;
}

/* Pack b and load it; returns the graph or NULL with err filled. */
static tt_graph *mb_load(mb *b, tt_err *err)
{
    size_t len = onnx__model_proto__get_packed_size(&b->m);
    uint8_t *buf = tt_arena_alloc(A, len + 1);
    onnx__model_proto__pack(&b->m, buf);
    tt_graph *g = NULL;
    tt_err_clear(err);
    tt_onnx_load_mem(buf, len, "mem", &g, err);
    return g;
}

#define DIMS(...) ((const int64_t[]){__VA_ARGS__})

static void test_mem_models(void)
{
    A = tt_arena_new();
    tt_err err = {0};
    tt_graph *g;

    /* Nodes out of order, a Constant (value_ints) feeding Reshape, a
     * symbolic batch dimension, int32 and bool initializers, raw int64 data. */
    mb *b = mb_new(13);
    mb_input(b, "x", 3, DIMS(-1, 4, 6));
    mb_node(b, "Reshape", "r", "x,shape", "y");
    Onnx__NodeProto *c = mb_node(b, "Constant", "k", "", "shape");
    Onnx__AttributeProto *a = mb_attr(c, "value_ints", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t target[2] = {0, -1};
    a->n_ints = 2;
    a->ints = target;
    Onnx__TensorProto *i32 = mb_tensor("i32", ONNX__TENSOR_PROTO__DATA_TYPE__INT32, 1, DIMS(3));
    int32_t iv[3] = {-5, 0, 7};
    i32->n_int32_data = 3;
    i32->int32_data = iv;
    Onnx__TensorProto *bl = mb_tensor("bl", ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, 1, DIMS(2));
    int32_t bv[2] = {0, 3};
    bl->n_int32_data = 2;
    bl->int32_data = bv;
    Onnx__TensorProto *raw = mb_tensor("raw", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 0, NULL);
    uint8_t rb[8] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}; /* -2, little-endian */
    raw->has_raw_data = 1;
    raw->raw_data.len = 8;
    raw->raw_data.data = rb;
    b->inits[b->g.n_initializer++] = i32;
    b->inits[b->g.n_initializer++] = bl;
    b->inits[b->g.n_initializer++] = raw;
    mb_output(b, "y");
    g = mb_load(b, &err);
    CHECK_MSG(g, "%s", err.msg);
    int y = tt_graph_find(g, "y");
    CHECK(g->tensors[y].ndim == 2 && g->tensors[y].shape[0] == 1 && g->tensors[y].shape[1] == 24);
    const tt_tensor *t = &g->tensors[tt_graph_find(g, "i32")];
    CHECK(t->dtype == TT_DT_INT32 && ((int32_t *)t->data)[0] == -5 && ((int32_t *)t->data)[2] == 7);
    t = &g->tensors[tt_graph_find(g, "bl")];
    CHECK(t->dtype == TT_DT_BOOL && ((uint8_t *)t->data)[0] == 0 && ((uint8_t *)t->data)[1] == 1);
    t = &g->tensors[tt_graph_find(g, "raw")];
    CHECK(t->dtype == TT_DT_INT64 && t->ndim == 0 && *(int64_t *)t->data == -2);
    CHECK(g->tensors[tt_graph_find(g, "shape")].data && live_count(g, TT_GOP_RESHAPE) == 1);
    tt_graph_free(g);

    /* Softmax-11 over axis 1 of [1,3,4] normalizes 12 values together: refused;
     * over [1,3,1] it is the opset-13 Softmax. */
    for (int k = 0; k < 2; k++) {
        b = mb_new(11);
        mb_input(b, "x", 3, k ? DIMS(1, 3, 1) : DIMS(1, 3, 4));
        mb_node(b, "Softmax", "sm", "x", "y");
        mb_output(b, "y");
        g = mb_load(b, &err);
        if (k) {
            CHECK_MSG(g && tt_node_int(&g->nodes[0], "axis", -1) == 1, "%s", err.msg);
        } else {
            CHECK(!g);
            CHECK_MSG(strstr(err.msg, "mem: node 'sm' (Softmax): opset 11 flattens dimensions "
                                      "1..2 into one softmax"),
                      "%s", err.msg);
        }
        tt_graph_free(g);
    }

    /* Refusals, each with its message. */
    b = mb_new(13);
    mb_input(b, "x", 2, DIMS(1, 3));
    mb_node(b, "Gelu", "ms", "x", "y")->domain = "com.microsoft";
    mb_output(b, "y");
    CHECK(!(g = mb_load(b, &err)) && strstr(err.msg, "node 'ms' (Gelu): operator domain "
                                                     "'com.microsoft' is not supported"));
    b = mb_new(13);
    mb_input(b, "x", 2, DIMS(1, 3));
    mb_attr(mb_node(b, "Mystery", "sub", "x", "y"), "body",
            ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
    mb_output(b, "y");
    CHECK(!(g = mb_load(b, &err)) && strstr(err.msg, "subgraph attribute 'body'"));
    b = mb_new(6);
    mb_input(b, "x", 2, DIMS(1, 3));
    mb_node(b, "Relu", "r", "x", "y");
    mb_output(b, "y");
    CHECK(!(g = mb_load(b, &err)) && strstr(err.msg, "opset 6 is not supported (7..18 are)"));
    b = mb_new(13);
    mb_input(b, "x", 2, DIMS(1, (int64_t)1 << 40));
    mb_node(b, "Relu", "r", "x", "y");
    mb_output(b, "y");
    CHECK(!(g = mb_load(b, &err)) && strstr(err.msg, "graph input 'x' has dimension"));
    b = mb_new(13);
    mb_input(b, "x", 2, DIMS(1, 3));
    mb_node(b, "Relu", "r1", "x,z", "y");
    mb_node(b, "Relu", "r2", "y", "z");
    mb_output(b, "z");
    CHECK(!(g = mb_load(b, &err)) && strstr(err.msg, "never computed (a cycle"));
    b = mb_new(13);
    mb_input(b, "x", 2, DIMS(1, 3));
    Onnx__NodeProto *n = mb_node(b, "Relu", "r", "x", "y");
    mb_attr_int(n, "k", 1);
    mb_attr_int(n, "k", 2);
    mb_output(b, "y");
    CHECK(!(g = mb_load(b, &err)) && strstr(err.msg, "attribute 'k' is given twice"));
    b = mb_new(13);
    mb_input(b, "x", 2, DIMS(1, 3));
    mb_node(b, "Relu", "r", "x", "y");
    mb_output(b, "nope");
    CHECK(!(g = mb_load(b, &err)) && strstr(err.msg, "graph output 'nope' is not produced"));
    b = mb_new(13);
    b->m.graph = NULL;
    CHECK(!(g = mb_load(b, &err)) && strstr(err.msg, "the model has no graph"));
    /* A zero-length buffer is an empty ModelProto: no opset. */
    tt_err_clear(&err);
    CHECK(tt_onnx_load_mem("", 0, NULL, &g, &err) != 0 && strstr(err.msg, "opset"));
    tt_arena_free(A);
}

const tt_test tests_onnx[] = {
    {"fixtures", test_fixtures},
    {"legacy_normalized", test_legacy_normalized},
    {"bad_files", test_bad_files},
    {"mem_models", test_mem_models},
    {NULL, NULL},
};
