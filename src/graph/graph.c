/* graph.c - the model graph: construction, attributes, lookup, users,
 * topological order and a debug dump.  Shape inference is in infer.c,
 * constant evaluation in fold.c, the passes in passes.c. */
#include "graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tt_graph *tt_graph_new(const char *name)
{
    tt_graph *g = tt_xcalloc(1, sizeof *g);
    g->name = tt_xstrdup(name ? name : "model");
    return g;
}

static void attr_free(tt_attr *a)
{
    free(a->name);
    free(a->ints);
    free(a->floats);
    free(a->s);
}

void tt_graph_free(tt_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->ntensors; i++) {
        free(g->tensors[i].name);
        free(g->tensors[i].data);
    }
    for (int i = 0; i < g->nnodes; i++) {
        tt_node *n = &g->nodes[i];
        free(n->name);
        free(n->in);
        free(n->out);
        for (int k = 0; k < n->nattr; k++)
            attr_free(&n->attrs[k]);
        free(n->attrs);
    }
    free(g->tensors);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->name_slot);
    free(g->name);
    free(g);
}

/* The slot of name in g's table: the one holding it, else the empty slot
 * where it would go.  The table has an empty slot (at most half full). */
static int name_probe(const tt_graph *g, const char *name)
{
    unsigned mask = (unsigned)g->name_cap - 1;
    unsigned h = (unsigned)tt_hash64(name, strlen(name)) & mask;
    while (g->name_slot[h] && strcmp(g->tensors[g->name_slot[h] - 1].name, name))
        h = (h + 1) & mask;
    return (int)h;
}

/* Enter tensor t, the last one, its name new, in the table; the table
 * doubles before it would be more than half full. */
static void name_insert(tt_graph *g, int t)
{
    if (2 * (g->ntensors + 1) > g->name_cap) {
        free(g->name_slot);
        g->name_cap = g->name_cap ? 2 * g->name_cap : 128;
        g->name_slot = tt_xcalloc((size_t)g->name_cap, sizeof *g->name_slot);
        for (int i = 0; i < t; i++)
            g->name_slot[name_probe(g, g->tensors[i].name)] = i + 1;
    }
    g->name_slot[name_probe(g, g->tensors[t].name)] = t + 1;
}

int tt_graph_find(const tt_graph *g, const char *name)
{
    /* Hashed: a graph of n tensors is built with n lookups (tt_graph_tensor
     * refuses a name twice), linear scans made that quadratic. */
    if (!g->name_cap)
        return -1;
    return g->name_slot[name_probe(g, name)] - 1;
}

int64_t tt_tensor_numel(const tt_tensor *t)
{
    if (t->ndim < 0)
        return -1;
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0)
            return -1;
        n *= t->shape[i];
    }
    return n;
}

int tt_graph_tensor(tt_graph *g, const char *name, tt_dtype dt, int ndim, const int64_t *shape,
                    tt_err *err)
{
    if (!name || !*name)
        return tt_err_set(err, "a tensor needs a name");
    if (ndim > TT_GRAPH_MAX_DIMS)
        return tt_err_set(err, "tensor '%s' has rank %d (at most %d supported)", name, ndim,
                          TT_GRAPH_MAX_DIMS);
    if (tt_graph_find(g, name) >= 0)
        return tt_err_set(err, "tensor name '%s' is defined twice", name);
    if (g->ntensors == g->cap_tensors) {
        g->cap_tensors = g->cap_tensors ? 2 * g->cap_tensors : 64;
        g->tensors = tt_xrealloc(g->tensors, (size_t)g->cap_tensors * sizeof *g->tensors);
    }
    tt_tensor *t = &g->tensors[g->ntensors];
    memset(t, 0, sizeof *t);
    t->name = tt_xstrdup(name);
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < TT_GRAPH_MAX_DIMS; i++)
        t->shape[i] = -1;
    if (shape && ndim > 0)
        memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->producer = -1;
    name_insert(g, g->ntensors);
    return g->ntensors++;
}

static void push_int(int **arr, int *n, int v)
{
    *arr = tt_xrealloc(*arr, (size_t)(*n + 1) * sizeof **arr);
    (*arr)[(*n)++] = v;
}

int tt_graph_input(tt_graph *g, const char *name, tt_dtype dt, int ndim, const int64_t *shape,
                   tt_err *err)
{
    int t = tt_graph_tensor(g, name, dt, ndim, shape, err);
    if (t < 0)
        return -1;
    g->tensors[t].is_input = 1;
    push_int(&g->inputs, &g->ninputs, t);
    return t;
}

int tt_graph_const_owned(tt_graph *g, const char *name, tt_dtype dt, int ndim,
                         const int64_t *shape, void *data, tt_err *err)
{
    for (int i = 0; i < ndim; i++)
        if (!shape || shape[i] < 0) {
            free(data);
            return tt_err_set(err, "constant '%s' has an unknown dimension", name ? name : "");
        }
    int t = tt_graph_tensor(g, name, dt, ndim, shape, err);
    if (t < 0) {
        free(data);
        return -1;
    }
    g->tensors[t].data = data ? data : tt_xcalloc(1, 1);
    return t;
}

int tt_graph_const(tt_graph *g, const char *name, tt_dtype dt, int ndim, const int64_t *shape,
                   const void *data, tt_err *err)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape && shape[i] > 0 ? shape[i] : 0;
    size_t bytes = (size_t)n * (size_t)tt_dtype_size(dt);
    void *copy = tt_xmalloc(bytes ? bytes : 1);
    if (bytes)
        memcpy(copy, data, bytes);
    return tt_graph_const_owned(g, name, dt, ndim, shape, copy, err);
}

void tt_graph_mark_output(tt_graph *g, int t)
{
    if (t < 0 || t >= g->ntensors || g->tensors[t].is_output)
        return;
    g->tensors[t].is_output = 1;
    push_int(&g->outputs, &g->noutputs, t);
}

int tt_graph_node(tt_graph *g, tt_gop gop, const char *name, int nin, const int *in, int nout,
                  const int *out, tt_err *err)
{
    if ((unsigned)gop >= TT_GOP_COUNT)
        return tt_err_set(err, "node '%s': operator %d is not a tt_gop", name ? name : "",
                          (int)gop);
    const char *op = tt_gop_names[gop];
    if (nin < 0 || nout < 1 || nin > TT_NODE_MAX_IO || nout > TT_NODE_MAX_IO)
        return tt_err_set(err, "node '%s' (%s): %d inputs and %d outputs are out of range",
                          name ? name : "", op, nin, nout);
    for (int i = 0; i < nin; i++)
        if (in[i] < -1 || in[i] >= g->ntensors)
            return tt_err_set(err, "node '%s' (%s): input %d is not a tensor", name ? name : "",
                              op, i);
    for (int i = 0; i < nout; i++) {
        if (out[i] < 0 || out[i] >= g->ntensors)
            return tt_err_set(err, "node '%s' (%s): output %d is not a tensor", name ? name : "",
                              op, i);
        const tt_tensor *t = &g->tensors[out[i]];
        if (t->producer >= 0 || t->data || t->is_input)
            return tt_err_set(err, "node '%s' (%s): output '%s' is already defined",
                              name ? name : "", op, t->name);
    }
    if (g->nnodes == g->cap_nodes) {
        g->cap_nodes = g->cap_nodes ? 2 * g->cap_nodes : 64;
        g->nodes = tt_xrealloc(g->nodes, (size_t)g->cap_nodes * sizeof *g->nodes);
    }
    int id = g->nnodes++;
    tt_node *n = &g->nodes[id];
    memset(n, 0, sizeof *n);
    n->name = tt_xstrdup(name ? name : "");
    n->op = gop;
    n->nin = nin;
    n->nout = nout;
    n->in = tt_xmalloc((size_t)(nin ? nin : 1) * sizeof *n->in);
    n->out = tt_xmalloc((size_t)nout * sizeof *n->out);
    if (nin)
        memcpy(n->in, in, (size_t)nin * sizeof *in);
    memcpy(n->out, out, (size_t)nout * sizeof *out);
    for (int i = 0; i < nout; i++)
        g->tensors[out[i]].producer = id;
    return id;
}

int tt_graph_op1(tt_graph *g, tt_gop op, const char *name, int nin, const int *in,
                 tt_err *err)
{
    char tname[256];
    if (name && *name)
        snprintf(tname, sizeof tname, "%s_out", name);
    else
        snprintf(tname, sizeof tname, "t%d", g->ntensors);
    int t = tt_graph_tensor(g, tname, TT_DT_UNDEF, -1, NULL, err);
    if (t < 0)
        return -1;
    if (tt_graph_node(g, op, name, nin, in, 1, &t, err) < 0)
        return -1;
    return t;
}

/* ---- attributes ------------------------------------------------------------ */

static tt_attr *attr_slot(tt_graph *g, int n, const char *name, tt_attr_kind kind)
{
    tt_node *nd = &g->nodes[n];
    tt_attr *a = NULL;
    for (int k = 0; k < nd->nattr; k++)
        if (!strcmp(nd->attrs[k].name, name)) {
            a = &nd->attrs[k];
            attr_free(a);
            break;
        }
    if (!a) {
        nd->attrs = tt_xrealloc(nd->attrs, (size_t)(nd->nattr + 1) * sizeof *nd->attrs);
        a = &nd->attrs[nd->nattr++];
    }
    memset(a, 0, sizeof *a);
    a->name = tt_xstrdup(name);
    a->kind = kind;
    a->tensor = -1;
    return a;
}

void tt_node_set_int(tt_graph *g, int n, const char *name, int64_t v)
{
    attr_slot(g, n, name, TT_ATTR_INT)->i = v;
}

void tt_node_set_float(tt_graph *g, int n, const char *name, double v)
{
    attr_slot(g, n, name, TT_ATTR_FLOAT)->f = v;
}

void tt_node_set_ints(tt_graph *g, int n, const char *name, int count, const int64_t *v)
{
    tt_attr *a = attr_slot(g, n, name, TT_ATTR_INTS);
    a->n = count;
    a->ints = tt_xmalloc((size_t)(count ? count : 1) * sizeof *a->ints);
    if (count)
        memcpy(a->ints, v, (size_t)count * sizeof *v);
}

void tt_node_set_floats(tt_graph *g, int n, const char *name, int count, const double *v)
{
    tt_attr *a = attr_slot(g, n, name, TT_ATTR_FLOATS);
    a->n = count;
    a->floats = tt_xmalloc((size_t)(count ? count : 1) * sizeof *a->floats);
    if (count)
        memcpy(a->floats, v, (size_t)count * sizeof *v);
}

void tt_node_set_string(tt_graph *g, int n, const char *name, const char *s)
{
    attr_slot(g, n, name, TT_ATTR_STRING)->s = tt_xstrdup(s ? s : "");
}

void tt_node_set_tensor(tt_graph *g, int n, const char *name, int tensor)
{
    attr_slot(g, n, name, TT_ATTR_TENSOR)->tensor = tensor;
}

const tt_attr *tt_node_attr(const tt_node *nd, const char *name)
{
    for (int k = 0; k < nd->nattr; k++)
        if (!strcmp(nd->attrs[k].name, name))
            return &nd->attrs[k];
    return NULL;
}

int64_t tt_node_int(const tt_node *nd, const char *name, int64_t dflt)
{
    const tt_attr *a = tt_node_attr(nd, name);
    if (!a)
        return dflt;
    if (a->kind == TT_ATTR_INT)
        return a->i;
    if (a->kind == TT_ATTR_FLOAT) /* clamped: a cast of NaN or a huge value is undefined */
        return a->f != a->f ? dflt : a->f >= 9.2e18 ? INT64_MAX : a->f <= -9.2e18 ? INT64_MIN : (int64_t)a->f;
    return dflt;
}

double tt_node_float(const tt_node *nd, const char *name, double dflt)
{
    const tt_attr *a = tt_node_attr(nd, name);
    if (!a)
        return dflt;
    if (a->kind == TT_ATTR_FLOAT)
        return a->f;
    if (a->kind == TT_ATTR_INT)
        return (double)a->i;
    return dflt;
}

/* ---- analysis -------------------------------------------------------------- */

int tt_graph_users(const tt_graph *g, int t, int *nodes, int max)
{
    int count = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const tt_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] == t) {
                if (count < max)
                    nodes[count] = i;
                count++;
                break;
            }
    }
    return count;
}

/* Kahn's algorithm, always taking the lowest-numbered ready node so that an
 * already ordered graph keeps its order.  Dead nodes go last.  Node indices
 * change; tensor producers are renumbered. */
int tt_graph_toposort(tt_graph *g, tt_err *err)
{
    int nn = g->nnodes;
    if (nn == 0)
        return 0;
    int *newidx = tt_xcalloc((size_t)nn, sizeof *newidx);
    int *order = tt_xmalloc((size_t)nn * sizeof *order);
    char *done = tt_xcalloc((size_t)nn, 1);
    char *ready_t = tt_xcalloc((size_t)g->ntensors, 1);
    for (int t = 0; t < g->ntensors; t++) {
        const tt_tensor *x = &g->tensors[t];
        ready_t[t] = x->data || x->is_input || x->producer < 0 ||
                     g->nodes[x->producer].dead;
    }
    int live = 0, placed = 0, rc = 0;
    for (int i = 0; i < nn; i++)
        live += !g->nodes[i].dead;
    /* Repeated scans: O(n^2) worst case, linear for graphs already in order
     * (the common case: ONNX requires topological order). */
    while (placed < live) {
        int progress = 0;
        for (int i = 0; i < nn; i++) {
            const tt_node *n = &g->nodes[i];
            if (n->dead || done[i])
                continue;
            int ok = 1;
            for (int k = 0; k < n->nin && ok; k++)
                if (n->in[k] >= 0 && !ready_t[n->in[k]])
                    ok = 0;
            if (!ok)
                continue;
            done[i] = 1;
            order[placed++] = i;
            for (int k = 0; k < n->nout; k++)
                ready_t[n->out[k]] = 1;
            progress = 1;
        }
        if (!progress) {
            for (int i = 0; i < nn; i++)
                if (!g->nodes[i].dead && !done[i]) {
                    const tt_node *n = &g->nodes[i];
                    const char *what = "";
                    for (int k = 0; k < n->nin; k++)
                        if (n->in[k] >= 0 && !ready_t[n->in[k]]) {
                            what = g->tensors[n->in[k]].name;
                            break;
                        }
                    rc = tt_err_set(err,
                                    "node '%s' (%s): input '%s' is never computed (a cycle or "
                                    "a missing producer)",
                                    n->name, tt_gop_names[n->op], what);
                    break;
                }
            break;
        }
    }
    if (rc == 0) {
        for (int i = 0; i < nn; i++)
            if (g->nodes[i].dead)
                order[placed++] = i;
        tt_node *nodes = tt_xmalloc((size_t)g->cap_nodes * sizeof *nodes);
        for (int i = 0; i < nn; i++) {
            nodes[i] = g->nodes[order[i]];
            newidx[order[i]] = i; /* reused as old -> new index */
        }
        free(g->nodes);
        g->nodes = nodes;
        for (int t = 0; t < g->ntensors; t++)
            if (g->tensors[t].producer >= 0)
                g->tensors[t].producer = newidx[g->tensors[t].producer];
    }
    free(newidx);
    free(order);
    free(done);
    free(ready_t);
    return rc;
}

static void dump_shape(tt_str *s, const tt_tensor *t)
{
    if (t->ndim < 0) {
        tt_str_cat(s, "?");
        return;
    }
    tt_str_cat(s, "[");
    for (int i = 0; i < t->ndim; i++)
        tt_str_catf(s, "%s%lld", i ? "," : "", (long long)t->shape[i]);
    tt_str_cat(s, "]");
}

char *tt_graph_dump(const tt_graph *g)
{
    tt_str s;
    tt_str_init(&s);
    tt_str_catf(&s, "graph %s: %d inputs, %d outputs\n", g->name, g->ninputs, g->noutputs);
    for (int i = 0; i < g->ninputs; i++) {
        const tt_tensor *t = &g->tensors[g->inputs[i]];
        tt_str_catf(&s, "input %s %s ", t->name, tt_dtype_name(t->dtype));
        dump_shape(&s, t);
        tt_str_cat(&s, "\n");
    }
    for (int i = 0; i < g->nnodes; i++) {
        const tt_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        tt_str_catf(&s, "%s '%s' (", tt_gop_names[n->op], n->name);
        for (int k = 0; k < n->nin; k++) {
            if (k)
                tt_str_cat(&s, ", ");
            if (n->in[k] < 0) {
                tt_str_cat(&s, "-");
                continue;
            }
            const tt_tensor *t = &g->tensors[n->in[k]];
            tt_str_catf(&s, "%s%s", t->data ? "const " : "", t->name);
            dump_shape(&s, t);
        }
        tt_str_cat(&s, ") ->");
        for (int k = 0; k < n->nout; k++) {
            const tt_tensor *t = &g->tensors[n->out[k]];
            tt_str_catf(&s, " %s", t->name);
            dump_shape(&s, t);
            if (t->layout == TT_LAYOUT_NHWC)
                tt_str_cat(&s, "nhwc");
        }
        for (int k = 0; k < n->nattr; k++) {
            const tt_attr *a = &n->attrs[k];
            tt_str_catf(&s, " %s=", a->name);
            switch (a->kind) {
            case TT_ATTR_INT: tt_str_catf(&s, "%lld", (long long)a->i); break;
            case TT_ATTR_FLOAT: tt_str_catf(&s, "%g", a->f); break;
            case TT_ATTR_INTS:
                for (int j = 0; j < a->n; j++)
                    tt_str_catf(&s, "%s%lld", j ? "," : "", (long long)a->ints[j]);
                break;
            case TT_ATTR_FLOATS:
                for (int j = 0; j < a->n; j++)
                    tt_str_catf(&s, "%s%g", j ? "," : "", a->floats[j]);
                break;
            case TT_ATTR_STRING: tt_str_catf(&s, "\"%s\"", a->s); break;
            case TT_ATTR_TENSOR: tt_str_catf(&s, "tensor#%d", a->tensor); break;
            default: break;
            }
        }
        tt_str_cat(&s, "\n");
    }
    for (int i = 0; i < g->noutputs; i++) {
        const tt_tensor *t = &g->tensors[g->outputs[i]];
        tt_str_catf(&s, "output %s ", t->name);
        dump_shape(&s, t);
        tt_str_cat(&s, "\n");
    }
    return tt_str_take(&s);
}
