/* onnx.c - the ONNX importer (see onnx.h).
 *
 * The protobuf is parsed by protobuf-c's code generated from Debian's
 * onnx.proto (build/gen/onnx.pb-c.h); this file only walks the parsed
 * ModelProto.  Conversion runs in passes over the GraphProto:
 *
 *   1. initializers -> constants; graph inputs that are not initializers ->
 *      graph inputs;
 *   2. every node's operator looked up (tt_gop_lookup; an unknown one is
 *      refused) and its outputs -> tensors (Constant nodes -> constants), so
 *      that a node may name a tensor produced later (toposort orders them);
 *   3. nodes, with their attributes normalized to opset-13 forms;
 *   4. graph outputs; then toposort, fold + infer, and the checks that need
 *      shapes (legacy Softmax, declared output shapes).
 */
#include "onnx.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx.pb-c.h"

#define MAXD TT_GRAPH_MAX_DIMS
#define ONNX_MAX_NUMEL ((int64_t)1 << 32) /* as inference's bound */
#define OPSET_MIN 7
#define OPSET_MAX 18

typedef struct imp {
    tt_graph *g;
    tt_err *err;
    int64_t opset;
    int *legacy_sm; /* output tensors of opset<13 Softmax-family nodes */
    int nlegacy;
    const tt_input_shape *shapes; /* bound by the caller */
    int nshapes;
    const char *dir;              /* the model file's folder (external data), NULL from memory */
} imp;

static const char *S(const char *s)
{
    return s ? s : "";
}

static const char *onnx_type_name(int32_t t)
{
    static const char *names[] = {"undefined", "float",  "uint8",     "int8",       "uint16",
                                  "int16",     "int32",  "int64",     "string",     "bool",
                                  "float16",   "double", "uint32",    "uint64",     "complex64",
                                  "complex128", "bfloat16"};
    return t >= 0 && t < (int32_t)(sizeof names / sizeof names[0]) ? names[t] : "unknown";
}

/* Our dtype for an ONNX element type; UNDEF when unsupported. */
static tt_dtype map_type(int32_t t)
{
    switch (t) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: return TT_DT_FLOAT;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return TT_DT_INT64;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: return TT_DT_INT32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: return TT_DT_BOOL;
    default: return TT_DT_UNDEF;
    }
}

/* Names end up in messages, dumps and generated code: no control bytes. */
static int check_name(imp *m, const char *name, const char *what)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return tt_err_set(m->err, "%s name contains a control character (byte 0x%02x)", what,
                              *p);
    return 0;
}

/* Checked product of dims; -1 when absurd (negative, rank or size too big). */
static int64_t dims_numel(size_t n, const int64_t *dims)
{
    if (n > MAXD)
        return -1;
    int64_t numel = 1;
    for (size_t i = 0; i < n; i++) {
        if (dims[i] < 0 || dims[i] > ONNX_MAX_NUMEL)
            return -1;
        if (dims[i] && numel > ONNX_MAX_NUMEL / dims[i])
            return -1;
        numel *= dims[i];
    }
    return numel;
}

static uint64_t le_bytes(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* The bytes of an external tensor (ONNX's external data: models over the
 * protobuf's 2 GB, as torch.onnx.export writes them) into data: its
 * "location" must be a plain relative path inside the model's folder (no
 * "..", not absolute), a regular file within the input limit, holding
 * `bytes` bytes from "offset" ("length", if given, must be that). */
static int external_data(imp *m, const Onnx__TensorProto *tp, const char *name, void *data, int64_t bytes)
{
    const char *loc = NULL;
    int64_t off = 0, len = -1;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const char *k = S(tp->external_data[i]->key), *v = S(tp->external_data[i]->value);
        char *end = NULL;
        if (!strcmp(k, "location"))
            loc = v;
        else if (!strcmp(k, "offset") || !strcmp(k, "length")) {
            long long x = strtoll(v, &end, 10);
            if (!*v || *end || x < 0)
                return tt_err_set(m->err, "tensor '%s': external data %s '%s' is not a byte count", name, k, v);
            *(!strcmp(k, "offset") ? &off : &len) = x;
        }
    }
    if (!m->dir)
        return tt_err_set(m->err, "tensor '%s' keeps its data in an external file: load the model from its file, "
                                  "whose folder holds the data",
                          name);
    if (!loc || !*loc || loc[0] == '/' || strlen(loc) > 1000)
        return tt_err_set(m->err, "tensor '%s': external data needs a relative location, got '%s'", name, S(loc));
    for (const char *p = loc; *p; p++) {
        if ((unsigned char)*p < 0x20)
            return tt_err_set(m->err, "tensor '%s': control characters in its external data location", name);
        if ((p == loc || p[-1] == '/') && p[0] == '.' && p[1] == '.' && (p[2] == '/' || !p[2]))
            return tt_err_set(m->err, "tensor '%s': external data location '%s' leaves the model's folder", name,
                              loc);
    }
    if (len >= 0 && len != bytes)
        return tt_err_set(m->err, "tensor '%s': external data of %lld bytes, its shape needs %lld", name,
                          (long long)len, (long long)bytes);
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", m->dir, loc) >= (int)sizeof path)
        return tt_err_set(m->err, "tensor '%s': external data path too long", name);
    uint64_t limit = 0;
    if (tt_input_limit(&limit, m->err))
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > limit ||
        st.st_size < off || st.st_size - off < bytes) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        if (fd < 0)
            return tt_err_set(m->err, "tensor '%s': cannot open its external data %s: %s", name, path, strerror(e));
        return tt_err_set(m->err, "tensor '%s': its external data %s is not a regular file within the input limit "
                                  "holding %lld bytes from offset %lld",
                          name, path, (long long)bytes, (long long)off);
    }
    for (int64_t got = 0; got < bytes;) {
        ssize_t r = pread(fd, (char *)data + got, (size_t)(bytes - got > (1 << 30) ? (1 << 30) : bytes - got),
                          off + got);
        if (r <= 0) {
            close(fd);
            return tt_err_set(m->err, "tensor '%s': reading %s failed", name, path);
        }
        got += r;
    }
    close(fd);
    return 0;
}

/* A TensorProto's data as a new constant named `name`; returns its index. */
static int tensor_const(imp *m, const Onnx__TensorProto *tp, const char *name)
{
    if (check_name(m, name, "tensor"))
        return -1;
    int external = (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
                   tp->n_external_data;
    if (tp->segment)
        return tt_err_set(m->err, "tensor '%s' is segmented, which is not supported", name);
    int32_t ot = tp->has_data_type ? tp->data_type : 0;
    tt_dtype dt = map_type(ot);
    if (dt == TT_DT_UNDEF)
        return tt_err_set(m->err,
                          "tensor '%s' has element type %s, which is not supported (float, int64, "
                          "int32 and bool are)",
                          name, onnx_type_name(ot));
    int64_t numel = dims_numel(tp->n_dims, tp->dims);
    if (numel < 0) {
        if (tp->n_dims > MAXD)
            return tt_err_set(m->err, "tensor '%s' has rank %zu (at most %d supported)", name,
                              tp->n_dims, MAXD);
        return tt_err_set(m->err, "tensor '%s' has an absurd shape (a negative dimension or more "
                                  "than 2^32 elements)",
                          name);
    }
    int es = tt_dtype_size(dt);
    if (external) {
        /* little-endian in the file, as raw_data; this host's order (x86, arm64) */
        void *data = tt_xmalloc((size_t)numel * (size_t)es + 1);
        if (external_data(m, tp, name, data, numel * es)) {
            free(data);
            return -1;
        }
        if (dt == TT_DT_BOOL)
            for (int64_t i = 0; i < numel; i++)
                ((uint8_t *)data)[i] = ((uint8_t *)data)[i] != 0;
        return tt_graph_const_owned(m->g, name, dt, (int)tp->n_dims, tp->dims, data, m->err);
    }
    size_t have;
    if (tp->has_raw_data)
        have = tp->raw_data.len / (size_t)es;
    else if (dt == TT_DT_FLOAT)
        have = tp->n_float_data;
    else if (dt == TT_DT_INT64)
        have = tp->n_int64_data;
    else
        have = tp->n_int32_data; /* int32 and bool live in int32_data */
    if ((tp->has_raw_data && tp->raw_data.len % (size_t)es) || have != (size_t)numel)
        return tt_err_set(m->err, "tensor '%s' has %zu %s of %s data but its shape needs %lld",
                          name, tp->has_raw_data ? tp->raw_data.len : have,
                          tp->has_raw_data ? "bytes" : "values", onnx_type_name(ot),
                          (long long)numel * (tp->has_raw_data ? es : 1));
    void *data = tt_xmalloc((size_t)numel * (size_t)es + 1);
    for (int64_t i = 0; i < numel; i++) {
        if (tp->has_raw_data) {
            /* raw_data is little-endian whatever the host. */
            uint64_t v = le_bytes(tp->raw_data.data + i * es, es);
            if (dt == TT_DT_FLOAT) {
                uint32_t u = (uint32_t)v;
                memcpy((float *)data + i, &u, 4);
            } else if (dt == TT_DT_INT64)
                ((int64_t *)data)[i] = (int64_t)v;
            else if (dt == TT_DT_INT32)
                ((int32_t *)data)[i] = (int32_t)(uint32_t)v;
            else
                ((uint8_t *)data)[i] = v != 0;
        } else if (dt == TT_DT_FLOAT)
            ((float *)data)[i] = tp->float_data[i];
        else if (dt == TT_DT_INT64)
            ((int64_t *)data)[i] = tp->int64_data[i];
        else if (dt == TT_DT_INT32)
            ((int32_t *)data)[i] = tp->int32_data[i];
        else
            ((uint8_t *)data)[i] = tp->int32_data[i] != 0;
    }
    return tt_graph_const_owned(m->g, name, dt, (int)tp->n_dims, tp->dims, data, m->err);
}

/* A name not used yet, derived from base. */
static void fresh_name(imp *m, const char *base, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", base);
    for (int k = 1; tt_graph_find(m->g, buf) >= 0; k++)
        snprintf(buf, cap, "%s#%d", base, k);
}

static int const_scalar_f(imp *m, const char *base, float v)
{
    char nm[512];
    fresh_name(m, base, nm, sizeof nm);
    return tt_graph_const(m->g, nm, TT_DT_FLOAT, 0, NULL, &v, m->err);
}

static int const_ints(imp *m, const char *base, size_t n, const int64_t *v)
{
    char nm[512];
    fresh_name(m, base, nm, sizeof nm);
    if (n > TT_NODE_MAX_IO * 2)
        return tt_err_set(m->err, "'%s' has %zu values, too many", base, n);
    int64_t len = (int64_t)n;
    return tt_graph_const(m->g, nm, TT_DT_INT64, 1, &len, v, m->err);
}

/* ---- graph inputs and outputs ------------------------------------------------------ */

/* Element type and shape of a ValueInfo; symbolic dims become 1 when
 * `sym1`, else -1 (unknown, for checks only). */
static int value_type(imp *m, const Onnx__ValueInfoProto *vi, const char *what, int sym1,
                      tt_dtype *dt, int *ndim, int64_t *shape)
{
    const char *name = S(vi->name);
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return tt_err_set(m->err, "%s '%s' is not a tensor (sequences, maps and optionals are "
                                  "not supported)",
                          what, name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    int32_t et = tt->has_elem_type ? tt->elem_type : 0;
    *dt = map_type(et);
    if (*dt == TT_DT_UNDEF)
        return tt_err_set(m->err,
                          "%s '%s' has element type %s, which is not supported (float, int64, "
                          "int32 and bool are)",
                          what, name, onnx_type_name(et));
    if (!tt->shape) {
        *ndim = -1;
        return 0;
    }
    if (tt->shape->n_dim > MAXD)
        return tt_err_set(m->err, "%s '%s' has rank %zu (at most %d supported)", what, name,
                          tt->shape->n_dim, MAXD);
    *ndim = (int)tt->shape->n_dim;
    for (int i = 0; i < *ndim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (d->dim_value < 0 || d->dim_value > ONNX_MAX_NUMEL)
                return tt_err_set(m->err, "%s '%s' has dimension %lld", what, name,
                                  (long long)d->dim_value);
            shape[i] = d->dim_value;
        } else {
            /* A symbolic dimension ("batch", "seq") or none at all: we
             * compile for one fixed shape, and 1 is the inference batch
             * these models are tuned for. */
            shape[i] = sym1 ? 1 : -1;
        }
    }
    if (sym1 && dims_numel((size_t)*ndim, shape) < 0)
        return tt_err_set(m->err, "%s '%s' has more than 2^32 elements", what, name);
    return 0;
}

static int add_inputs(imp *m, const Onnx__GraphProto *gp)
{
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        const char *name = S(vi->name);
        if (!*name)
            return tt_err_set(m->err, "graph input %zu has no name", i);
        int t = tt_graph_find(m->g, name);
        if (t >= 0) {
            /* An initializer listed as an input (IR < 4 style, or an
             * overridable default): we treat it as the constant. */
            if (m->g->tensors[t].data)
                continue;
            return tt_err_set(m->err, "graph input '%s' is listed twice", name);
        }
        tt_dtype dt;
        int nd;
        int64_t shape[MAXD];
        if (check_name(m, name, "graph input") ||
            value_type(m, vi, "graph input", 1, &dt, &nd, shape))
            return -1;
        for (int k = 0; k < m->nshapes; k++) {
            const tt_input_shape *s = &m->shapes[k];
            if (strcmp(s->name, name))
                continue;
            if (nd >= 0 && s->ndim != nd)
                return tt_err_set(m->err, "--shape %s: %d dimensions given, the input has %d", name, s->ndim, nd);
            const Onnx__TensorShapeProto *sp = vi->type->tensor_type->shape;
            for (int d = 0; d < s->ndim; d++) {
                int fixed = nd >= 0 && sp->dim[d]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                if (fixed && shape[d] != s->dims[d])
                    return tt_err_set(m->err, "--shape %s: dimension %d is fixed at %lld in the model, %lld given", name,
                                      d, (long long)shape[d], (long long)s->dims[d]);
                shape[d] = s->dims[d];
            }
            nd = s->ndim;
        }
        if (nd < 0)
            return tt_err_set(m->err, "graph input '%s' has no shape", name);
        if (tt_graph_input(m->g, name, dt, nd, shape, m->err) < 0)
            return -1;
    }
    return 0;
}

/* Declared output types must agree with inference where they say something. */
static int check_outputs(imp *m, const Onnx__GraphProto *gp)
{
    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        if (!vi->type)
            continue;
        tt_dtype dt;
        int nd;
        int64_t decl[MAXD];
        if (value_type(m, vi, "graph output", 0, &dt, &nd, decl))
            return -1;
        const tt_tensor *t = &m->g->tensors[tt_graph_find(m->g, S(vi->name))];
        int bad = t->dtype != dt || (nd >= 0 && nd != t->ndim);
        for (int k = 0; !bad && nd >= 0 && k < nd; k++)
            bad = decl[k] >= 0 && decl[k] != t->shape[k];
        if (bad) {
            char a[160] = "?", b[160] = "?";
            size_t pa = 0, pb = 0;
            if (nd >= 0) {
                pa = (size_t)snprintf(a, sizeof a, "[");
                for (int k = 0; k < nd && pa < sizeof a; k++)
                    pa += (size_t)(decl[k] >= 0 ? snprintf(a + pa, sizeof a - pa, "%s%lld",
                                                           k ? "," : "", (long long)decl[k])
                                                : snprintf(a + pa, sizeof a - pa, "%s?",
                                                           k ? "," : ""));
                if (pa < sizeof a)
                    snprintf(a + pa, sizeof a - pa, "]");
            }
            pb = (size_t)snprintf(b, sizeof b, "[");
            for (int k = 0; k < t->ndim && pb < sizeof b; k++)
                pb += (size_t)snprintf(b + pb, sizeof b - pb, "%s%lld", k ? "," : "",
                                       (long long)t->shape[k]);
            if (pb < sizeof b)
                snprintf(b + pb, sizeof b - pb, "]");
            return tt_err_set(m->err, "graph output '%s' is declared %s %s but inferred %s %s",
                              t->name, tt_dtype_name(dt), a, tt_dtype_name(t->dtype), b);
        }
    }
    return 0;
}

/* ---- nodes --------------------------------------------------------------------------- */

static const char *attr_type_name(int t)
{
    switch (t) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH: return "GRAPH";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS: return "GRAPHS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: return "STRINGS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS: return "TENSORS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR: return "SPARSE_TENSOR";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS: return "SPARSE_TENSORS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO: return "TYPE_PROTO";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS: return "TYPE_PROTOS";
    default: return "unknown";
    }
}

/* The attribute's type; IR-1 models leave it out, so deduce it from the
 * field that is set. */
static int attr_kind(const Onnx__AttributeProto *a)
{
    if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED)
        return a->type;
    if (a->has_f)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    if (a->has_i)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    if (a->has_s)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    if (a->t)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    if (a->g)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
    if (a->n_floats)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    if (a->n_graphs)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS;
    return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
}

static const Onnx__AttributeProto *find_attr(const Onnx__NodeProto *np, const char *name)
{
    for (size_t i = 0; i < np->n_attribute; i++)
        if (!strcmp(S(np->attribute[i]->name), name))
            return np->attribute[i];
    return NULL;
}

/* Node name for messages and for the graph: ONNX's, or its first output's. */
static const char *node_name(const Onnx__NodeProto *np)
{
    if (np->name && *np->name)
        return np->name;
    for (size_t i = 0; i < np->n_output; i++)
        if (np->output[i] && *np->output[i])
            return np->output[i];
    return "";
}

__attribute__((format(printf, 3, 4))) static int node_err(imp *m, const Onnx__NodeProto *np,
                                                          const char *fmt, ...)
{
    char msg[TT_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tt_err_set(m->err, "node '%s' (%s): %s", node_name(np), S(np->op_type), msg);
}

/* Constant node -> a constant named after its output. */
static int constant_node(imp *m, const Onnx__NodeProto *np)
{
    if (np->n_input != 0 || np->n_output != 1 || !np->output[0] || !*np->output[0])
        return node_err(m, np, "a Constant needs no inputs and one named output");
    const char *out = np->output[0];
    if (np->n_attribute != 1)
        return node_err(m, np, "a Constant needs exactly one value attribute");
    const Onnx__AttributeProto *a = np->attribute[0];
    const char *an = S(a->name);
    int t = -1;
    if (!strcmp(an, "value") && a->t) {
        t = tensor_const(m, a->t, out);
    } else if (!strcmp(an, "value_float")) {
        t = tt_graph_const(m->g, out, TT_DT_FLOAT, 0, NULL, &a->f, m->err);
    } else if (!strcmp(an, "value_int")) {
        t = tt_graph_const(m->g, out, TT_DT_INT64, 0, NULL, &a->i, m->err);
    } else if (!strcmp(an, "value_floats") || !strcmp(an, "value_ints")) {
        int isf = an[6] == 'f';
        size_t n = isf ? a->n_floats : a->n_ints;
        if ((int64_t)n > ONNX_MAX_NUMEL)
            return node_err(m, np, "too many values");
        int64_t len = (int64_t)n;
        t = tt_graph_const(m->g, out, isf ? TT_DT_FLOAT : TT_DT_INT64, 1, &len,
                           isf ? (const void *)a->floats : (const void *)a->ints, m->err);
    } else
        return node_err(m, np, "value attribute '%s' is not supported (value, value_float(s) "
                               "and value_int(s) are)",
                        an);
    if (t < 0)
        tt_err_prefix(m->err, "node '%s' (Constant)", node_name(np));
    return t < 0 ? -1 : 0;
}

/* Pass 2: output tensors of node np (Constant nodes become constants). */
static int node_outputs(imp *m, const Onnx__NodeProto *np)
{
    const char *op = S(np->op_type);
    if (!*op)
        return node_err(m, np, "node has no op_type");
    if (check_name(m, op, "operator") || check_name(m, node_name(np), "node"))
        return -1;
    const char *dom = S(np->domain);
    if (*dom && strcmp(dom, "ai.onnx"))
        return node_err(m, np, "operator domain '%s' is not supported (only the default ONNX "
                               "domain is)",
                        dom);
    /* no graph operators, refused with a message of their own (any other
     * op_type that is none is refused below) */
    if (!strcmp(op, "If") || !strcmp(op, "Loop") || !strcmp(op, "Scan"))
        return tt_err_set(m->err, "control-flow operator '%s' (node '%s') is not supported", op,
                          node_name(np));
    for (size_t i = 0; i < np->n_attribute; i++) {
        const Onnx__AttributeProto *a = np->attribute[i];
        int k = attr_kind(a);
        if (k == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH ||
            k == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS)
            return node_err(m, np, "subgraph attribute '%s' is not supported", S(a->name));
    }
    if (np->n_input > TT_NODE_MAX_IO || np->n_output > TT_NODE_MAX_IO)
        return node_err(m, np, "%zu inputs and %zu outputs: too many", np->n_input, np->n_output);
    tt_gop gop = tt_gop_lookup(op);
    /* unknown, or one of the passes' own operators (no ONNX file has them) */
    if (gop >= TT_GOP_FIRST_INTERNAL)
        return tt_err_set(m->err, "unsupported operator '%s' (node '%s'; the supported ones: docs/cli.md, \"ONNX "
                                  "support\")",
                          op, node_name(np));
    if (gop == TT_GOP_CONSTANT)
        return constant_node(m, np);
    for (size_t i = 0; i < np->n_output; i++) {
        const char *o = S(np->output[i]);
        if (!*o)
            continue;
        if (check_name(m, o, "tensor") ||
            tt_graph_tensor(m->g, o, TT_DT_UNDEF, -1, NULL, m->err) < 0) {
            tt_err_prefix(m->err, "node '%s' (%s)", node_name(np), op);
            return -1;
        }
    }
    return 0;
}

/* Copy one attribute onto node n. */
static int copy_attr(imp *m, const Onnx__NodeProto *np, int n, const Onnx__AttributeProto *a)
{
    const char *an = S(a->name);
    int k = attr_kind(a);
    switch (k) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: tt_node_set_float(m->g, n, an, a->f); break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: tt_node_set_int(m->g, n, an, a->i); break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        if (a->n_ints > (size_t)ONNX_MAX_NUMEL)
            return node_err(m, np, "attribute '%s' is too long", an);
        tt_node_set_ints(m->g, n, an, (int)a->n_ints, a->ints);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: {
        if (a->n_floats > (size_t)ONNX_MAX_NUMEL)
            return node_err(m, np, "attribute '%s' is too long", an);
        double *d = tt_xmalloc((a->n_floats + 1) * sizeof *d);
        for (size_t i = 0; i < a->n_floats; i++)
            d[i] = a->floats[i];
        tt_node_set_floats(m->g, n, an, (int)a->n_floats, d);
        free(d);
        break;
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: {
        /* bytes: stop at an embedded NUL */
        char *s = tt_xmalloc(a->s.len + 1);
        if (a->s.len)
            memcpy(s, a->s.data, a->s.len);
        s[a->s.len] = 0;
        tt_node_set_string(m->g, n, an, s);
        free(s);
        break;
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
        if (!a->t)
            return node_err(m, np, "tensor attribute '%s' has no tensor", an);
        char base[512], nm[512];
        snprintf(base, sizeof base, "%s/%s", node_name(np), an);
        fresh_name(m, base, nm, sizeof nm);
        int t = tensor_const(m, a->t, nm);
        if (t < 0) {
            tt_err_prefix(m->err, "node '%s' (%s), attribute '%s'", node_name(np),
                          S(np->op_type), an);
            return -1;
        }
        tt_node_set_tensor(m->g, n, an, t);
        break;
    }
    default:
        return node_err(m, np, "attribute '%s' of type %s is not supported", an,
                        attr_type_name(k));
    }
    return 0;
}

/* Does normalization turn attribute `an` of this node (operator op) into an
 * input? */
static int attr_moved(imp *m, tt_gop op, const char *an)
{
    switch (op) {
    case TT_GOP_CLIP: return m->opset < 11 && (!strcmp(an, "min") || !strcmp(an, "max"));
    case TT_GOP_SQUEEZE:
    case TT_GOP_UNSQUEEZE: return m->opset < 13 && !strcmp(an, "axes");
    case TT_GOP_SPLIT: return m->opset < 13 && !strcmp(an, "split");
    case TT_GOP_PAD: return m->opset < 11 && (!strcmp(an, "pads") || !strcmp(an, "value"));
    case TT_GOP_SLICE:
        return m->opset < 10 &&
               (!strcmp(an, "starts") || !strcmp(an, "ends") || !strcmp(an, "axes"));
    default: return 0;
    }
}

/* Append the INTS attribute `an` as a constant input (or -1 when absent). */
static int ints_input(imp *m, const Onnx__NodeProto *np, const char *an, int *in, int *nin)
{
    const Onnx__AttributeProto *a = find_attr(np, an);
    if (!a) {
        in[(*nin)++] = -1;
        return 0;
    }
    if (attr_kind(a) != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS)
        return node_err(m, np, "attribute '%s' must be a list of ints", an);
    char base[512];
    snprintf(base, sizeof base, "%s/%s", node_name(np), an);
    int t = const_ints(m, base, a->n_ints, a->ints);
    if (t < 0)
        return -1;
    in[(*nin)++] = t;
    return 0;
}

/* Opset-13 forms: the inputs that older attributes of node np (operator
 * op) become (appended to in). */
static int normalize_inputs(imp *m, const Onnx__NodeProto *np, tt_gop op, int *in, int *nin)
{
    char base[512];
    if (op == TT_GOP_CLIP && m->opset < 11) {
        static const char *mm[2] = {"min", "max"};
        for (int k = 0; k < 2; k++) {
            const Onnx__AttributeProto *a = find_attr(np, mm[k]);
            if (!a) {
                in[(*nin)++] = -1;
                continue;
            }
            snprintf(base, sizeof base, "%s/%s", node_name(np), mm[k]);
            if ((in[(*nin)++] = const_scalar_f(m, base, a->f)) < 0)
                return -1;
        }
    } else if ((op == TT_GOP_SQUEEZE || op == TT_GOP_UNSQUEEZE) && m->opset < 13) {
        if (find_attr(np, "axes"))
            return ints_input(m, np, "axes", in, nin);
    } else if (op == TT_GOP_SPLIT && m->opset < 13) {
        if (find_attr(np, "split"))
            return ints_input(m, np, "split", in, nin);
    } else if (op == TT_GOP_PAD && m->opset < 11) {
        if (!find_attr(np, "pads"))
            return node_err(m, np, "attribute 'pads' is required");
        if (ints_input(m, np, "pads", in, nin))
            return -1;
        const Onnx__AttributeProto *v = find_attr(np, "value");
        snprintf(base, sizeof base, "%s/value", node_name(np));
        if ((in[(*nin)++] = const_scalar_f(m, base, v ? v->f : 0.0f)) < 0)
            return -1;
    } else if (op == TT_GOP_SLICE && m->opset < 10) {
        if (!find_attr(np, "starts") || !find_attr(np, "ends"))
            return node_err(m, np, "attributes 'starts' and 'ends' are required");
        if (ints_input(m, np, "starts", in, nin) || ints_input(m, np, "ends", in, nin) ||
            ints_input(m, np, "axes", in, nin))
            return -1;
        if (in[*nin - 1] < 0)
            (*nin)--;
    }
    return 0;
}

/* Pass 3: node np itself. */
static int add_node(imp *m, const Onnx__NodeProto *np)
{
    tt_gop op = tt_gop_lookup(np->op_type); /* a graph operator: pass 2 checked */
    if (op == TT_GOP_CONSTANT)
        return 0;
    int in[TT_NODE_MAX_IO + 8], out[TT_NODE_MAX_IO], nin = 0, nout = 0;
    for (size_t i = 0; i < np->n_input; i++) {
        const char *name = S(np->input[i]);
        if (!*name) {
            in[nin++] = -1;
            continue;
        }
        int t = tt_graph_find(m->g, name);
        if (t < 0)
            return node_err(m, np, "input '%s' is not produced by any node, initializer or "
                                   "graph input",
                            name);
        in[nin++] = t;
    }
    /* Trailing omitted outputs are dropped; one omitted in the middle gets a
     * tensor of its own, which nobody reads. */
    int last = -1;
    for (size_t i = 0; i < np->n_output; i++)
        if (np->output[i] && *np->output[i])
            last = (int)i;
    for (int i = 0; i <= last; i++) {
        const char *name = S(np->output[i]);
        if (*name) {
            out[nout++] = tt_graph_find(m->g, name);
            continue;
        }
        char base[512], nm[512];
        snprintf(base, sizeof base, "%s/unused%d", node_name(np), i);
        fresh_name(m, base, nm, sizeof nm);
        if ((out[nout++] = tt_graph_tensor(m->g, nm, TT_DT_UNDEF, -1, NULL, m->err)) < 0)
            return -1;
    }
    if (nout == 0)
        return node_err(m, np, "node has no outputs");
    if (normalize_inputs(m, np, op, in, &nin))
        return -1;
    if (nin > TT_NODE_MAX_IO)
        return node_err(m, np, "too many inputs");
    int n = tt_graph_node(m->g, op, node_name(np), nin, in, nout, out, m->err);
    if (n < 0)
        return -1;
    for (size_t i = 0; i < np->n_attribute; i++) {
        const Onnx__AttributeProto *a = np->attribute[i];
        const char *an = S(a->name);
        if (!*an)
            return node_err(m, np, "attribute %zu has no name", i);
        if (tt_node_attr(&m->g->nodes[n], an))
            return node_err(m, np, "attribute '%s' is given twice", an);
        if (attr_moved(m, op, an))
            continue;
        if (copy_attr(m, np, n, a))
            return -1;
    }
    if ((op == TT_GOP_SOFTMAX || op == TT_GOP_LOG_SOFTMAX) && m->opset < 13) {
        /* Softmax-1/11: 2-D coercion at axis (default 1); kept as an
         * opset-13 Softmax along `axis`, checked once shapes are known. */
        if (!find_attr(np, "axis"))
            tt_node_set_int(m->g, n, "axis", 1);
        m->legacy_sm = tt_xrealloc(m->legacy_sm, (size_t)(m->nlegacy + 1) * sizeof(int));
        m->legacy_sm[m->nlegacy++] = out[0];
    }
    return 0;
}

/* A Softmax of opset < 13 normalizes over all dimensions from axis on; it is
 * the opset-13 operator along axis only if those after it are all 1. */
static int check_legacy_softmax(imp *m)
{
    for (int i = 0; i < m->nlegacy; i++) {
        const tt_tensor *y = &m->g->tensors[m->legacy_sm[i]];
        if (y->producer < 0)
            continue;
        const tt_node *nd = &m->g->nodes[y->producer];
        int64_t ax = tt_node_int(nd, "axis", 1);
        int r = y->ndim;
        ax = ax < 0 ? ax + r : ax;
        for (int k = (int)ax + 1; k < r; k++)
            if (y->shape[k] != 1)
                return tt_err_set(m->err,
                                  "node '%s' (%s): opset %lld flattens dimensions %lld..%d "
                                  "into one softmax, which is not supported (only an axis "
                                  "followed by dimensions of 1 is; export at opset 13)",
                                  nd->name, tt_gop_names[nd->op], (long long)m->opset,
                                  (long long)ax, r - 1);
    }
    return 0;
}

/* ---- the model ------------------------------------------------------------------------ */

static int convert(imp *m, const Onnx__ModelProto *mp)
{
    m->opset = -1;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        const char *d = S(o->domain);
        if (!*d || !strcmp(d, "ai.onnx"))
            m->opset = o->has_version ? o->version : -1;
    }
    if (m->opset < 0)
        return tt_err_set(m->err, "the model imports no version of the default ONNX opset");
    if (m->opset < OPSET_MIN || m->opset > OPSET_MAX)
        return tt_err_set(m->err, "opset %lld is not supported (%d..%d are)", (long long)m->opset,
                          OPSET_MIN, OPSET_MAX);
    const Onnx__GraphProto *gp = mp->graph;
    if (!gp)
        return tt_err_set(m->err, "the model has no graph");
    if (gp->n_sparse_initializer)
        return tt_err_set(m->err, "sparse initializers are not supported");
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !*tp->name)
            return tt_err_set(m->err, "initializer %zu has no name", i);
        if (tensor_const(m, tp, tp->name) < 0)
            return -1;
    }
    if (add_inputs(m, gp))
        return -1;
    for (int k = 0; k < m->nshapes; k++) {
        int t = tt_graph_find(m->g, m->shapes[k].name);
        if (t < 0 || !m->g->tensors[t].is_input) {
            char names[512] = "";
            for (int i = 0; i < m->g->ninputs; i++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                         m->g->tensors[m->g->inputs[i]].name);
            return tt_err_set(m->err, "--shape %s: the model has no input of that name (its inputs: %s)",
                              m->shapes[k].name, names);
        }
    }
    for (size_t i = 0; i < gp->n_node; i++)
        if (node_outputs(m, gp->node[i]))
            return -1;
    for (size_t i = 0; i < gp->n_node; i++)
        if (add_node(m, gp->node[i]))
            return -1;
    if (gp->n_output == 0)
        return tt_err_set(m->err, "the graph has no outputs");
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *name = S(gp->output[i]->name);
        int t = tt_graph_find(m->g, name);
        if (t < 0)
            return tt_err_set(m->err, "graph output '%s' is not produced by any node", name);
        tt_graph_mark_output(m->g, t);
    }
    if (tt_graph_toposort(m->g, m->err) || tt_graph_fold_constants(m->g, m->err))
        return -1;
    return check_legacy_softmax(m) || check_outputs(m, gp) ? -1 : 0;
}

/* Load with graph name gname; messages are prefixed with `prefix` (if any). */
static int load(const void *buf, size_t len, const char *gname, const char *prefix, const tt_input_shape *shapes,
                int nshapes, const char *dir, tt_graph **out, tt_err *err)
{
    *out = NULL;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    if (!mp) {
        tt_err_set(err, "not a valid ONNX model (the protobuf does not parse: truncated or "
                        "corrupt)");
        if (prefix)
            tt_err_prefix(err, "%s", prefix);
        return -1;
    }
    if (!gname)
        gname = mp->graph && mp->graph->name && *mp->graph->name ? mp->graph->name : "model";
    imp m = {tt_graph_new(gname), err, 0, NULL, 0, shapes, nshapes, dir};
    int rc = convert(&m, mp);
    onnx__model_proto__free_unpacked(mp, NULL);
    free(m.legacy_sm);
    if (rc) {
        tt_graph_free(m.g);
        if (prefix)
            tt_err_prefix(err, "%s", prefix);
        /* Names from the file are quoted in messages; control bytes in the
         * ones not checked by check_name (a dangling input's, ...) become '?'. */
        for (char *p = err ? err->msg : NULL; p && *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
        return -1;
    }
    *out = m.g;
    return 0;
}

int tt_onnx_load_mem(const void *buf, size_t len, const char *name, tt_graph **out, tt_err *err)
{
    return load(buf, len, name, name, NULL, 0, NULL, out, err);
}

int tt_onnx_load(const char *path, tt_graph **out, tt_err *err) { return tt_onnx_load_shapes(path, NULL, 0, out, err); }

int tt_onnx_load_shapes(const char *path, const tt_input_shape *shapes, int n, tt_graph **out, tt_err *err)
{
    *out = NULL;
    size_t len;
    char *buf = tt_read_file(path, &len, err);
    if (!buf)
        return -1;
    /* The graph is named after the file: "models/resnet50.onnx" -> "resnet50". */
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char name[256];
    snprintf(name, sizeof name, "%s", base);
    size_t nl = strlen(name);
    if (nl > 5 && !strcmp(name + nl - 5, ".onnx"))
        name[nl - 5] = 0;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", base == path ? 1 : (int)(base - path - 1), base == path ? "." : path);
    int rc = load(buf, len, name, path, shapes, n, dir, out, err);
    free(buf);
    return rc;
}
