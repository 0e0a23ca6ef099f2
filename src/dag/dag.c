/* dag.c - building a compute DAG, validating it, counting its flops and
 * naming its class.
 *
 * A DAG is grown op by op (placeholders and computes, in topological order)
 * and sealed by tt_dag_finish(), which checks every load against the op it
 * reads, then fills d->flops and d->class_key.  The op structs and all
 * expressions live in the DAG's arena; only the op pointer array is malloc'd.
 */
#include "dag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An empty DAG with its own arena.  Never NULL (allocation aborts). */
tt_dag *tt_dag_new(void)
{
    tt_dag *d = tt_xcalloc(1, sizeof *d);
    d->arena = tt_arena_new();
    return d;
}

/* Free the DAG, its ops and every expression allocated from its arena.
 * NULL is a no-op. */
void tt_dag_free(tt_dag *d)
{
    if (!d)
        return;
    tt_arena_free(d->arena);
    free(d->ops);
    free(d);
}

static tt_op *dag_append(tt_dag *d, tt_opkind kind, const char *name, int ndim)
{
    /* Ranks come from builders that validated their parameters; an op with
     * more dimensions than the fixed arrays hold is a bug in the caller. */
    if (ndim < 0 || ndim > TT_MAX_DIMS)
        abort();
    /* Capacity is 4, then doubles whenever nops reaches a power of two. */
    if (d->nops == 0 || (d->nops >= 4 && (d->nops & (d->nops - 1)) == 0))
        d->ops = tt_xrealloc(d->ops, (size_t)(d->nops ? 2 * d->nops : 4) * sizeof *d->ops);
    tt_op *op = tt_arena_alloc(d->arena, sizeof *op);
    op->uid = d->nops;
    op->kind = kind;
    snprintf(op->name, sizeof op->name, "%s", name ? name : "");
    op->ndim = ndim;
    d->ops[d->nops++] = op;
    return op;
}

/* Append a placeholder of the given shape; returns its uid.  is_const marks
 * constant weights (Ansor's layout-free placeholders). */
int tt_dag_placeholder(tt_dag *d, const char *name, int ndim, const int64_t *shape, int is_const)
{
    tt_op *op = dag_append(d, TT_OP_PLACEHOLDER, name, ndim);
    for (int i = 0; i < ndim; i++) {
        snprintf(op->axis[i].name, TT_NAME_MAX, "ax%d", i);
        op->axis[i].extent = shape[i];
    }
    op->is_const = is_const;
    return op->uid;
}

/* Append a compute op: spatial axes = shape (names default to "ax<i>"),
 * reduce axes = rextents (names default to "rv<i>") combined by red.  The
 * body (and optional cond) are set afterwards through tt_dag_op().  Returns
 * the uid. */
int tt_dag_compute(tt_dag *d, const char *name, const char *tag, int ndim, const int64_t *shape,
                   const char *const *axis_names, int nreduce, const int64_t *rextents,
                   const char *const *raxis_names, tt_red red)
{
    if (nreduce < 0 || nreduce > TT_MAX_RAXES)
        abort();
    tt_op *op = dag_append(d, TT_OP_COMPUTE, name, ndim);
    snprintf(op->tag, sizeof op->tag, "%s", tag ? tag : "");
    for (int i = 0; i < ndim; i++) {
        if (axis_names && axis_names[i])
            snprintf(op->axis[i].name, TT_NAME_MAX, "%s", axis_names[i]);
        else
            snprintf(op->axis[i].name, TT_NAME_MAX, "ax%d", i);
        op->axis[i].extent = shape[i];
    }
    op->nreduce = nreduce;
    for (int i = 0; i < nreduce; i++) {
        if (raxis_names && raxis_names[i])
            snprintf(op->raxis[i].name, TT_NAME_MAX, "%s", raxis_names[i]);
        else
            snprintf(op->raxis[i].name, TT_NAME_MAX, "rv%d", i);
        op->raxis[i].extent = rextents[i];
    }
    op->red = nreduce > 0 ? red : TT_RED_NONE;
    return op->uid;
}

/* The op with the given uid, or NULL if out of range. */
tt_op *tt_dag_op(tt_dag *d, int uid)
{
    if (!d || uid < 0 || uid >= d->nops)
        return NULL;
    return d->ops[uid];
}

/* Number of placeholders. */
int tt_dag_ninputs(const tt_dag *d)
{
    int n = 0;
    for (int i = 0; i < d->nops; i++)
        n += d->ops[i]->kind == TT_OP_PLACEHOLDER;
    return n;
}

/* uid of the i-th placeholder in op order, or -1. */
int tt_dag_input(const tt_dag *d, int i)
{
    for (int k = 0; k < d->nops; k++)
        if (d->ops[k]->kind == TT_OP_PLACEHOLDER && i-- == 0)
            return k;
    return -1;
}

/* uid of the output: the last op (-1 for an empty DAG). */
int tt_dag_output(const tt_dag *d)
{
    return d->nops - 1;
}

/* Number of elements of the op's output (1 for a 0-d op). */
int64_t tt_op_numel(const tt_op *op)
{
    int64_t n = 1;
    for (int i = 0; i < op->ndim; i++)
        n *= op->axis[i].extent;
    return n;
}

/* ---- validation ----------------------------------------------------------- */

static int dag_check_expr(const tt_dag *d, const tt_op *op, const tt_expr *e, tt_err *err)
{
    switch (e->kind) {
    case TT_E_AXIS:
        if (e->u.axis < 0 || e->u.axis >= op->ndim)
            return tt_err_set(err, "op %d (%s): axis %d out of range (ndim %d)", op->uid,
                              op->name, e->u.axis, op->ndim);
        return 0;
    case TT_E_RAXIS:
        if (e->u.axis < 0 || e->u.axis >= op->nreduce)
            return tt_err_set(err, "op %d (%s): reduce axis %d out of range (%d reduce axes)",
                              op->uid, op->name, e->u.axis, op->nreduce);
        return 0;
    case TT_E_LOAD: {
        if (e->u.uid < 0 || e->u.uid >= op->uid)
            return tt_err_set(err, "op %d (%s): load of tensor %d, which is not an earlier op",
                              op->uid, op->name, e->u.uid);
        const tt_op *src = d->ops[e->u.uid];
        if (e->n != src->ndim)
            return tt_err_set(err, "op %d (%s): load of %s with %d indices, rank is %d", op->uid,
                              op->name, src->name, e->n, src->ndim);
        for (int i = 0; i < e->n; i++)
            if (e->args[i]->type != TT_T_INT)
                return tt_err_set(err, "op %d (%s): index %d of load %s is not an integer",
                                  op->uid, op->name, i, src->name);
        break;
    }
    case TT_E_CALL:
        if (e->u.call < 0 || e->u.call >= TT_CALL_COUNT)
            return tt_err_set(err, "op %d (%s): bad call %d", op->uid, op->name, (int)e->u.call);
        if (e->n != (e->u.call == TT_CALL_POW ? 2 : 1))
            return tt_err_set(err, "op %d (%s): %s with %d args", op->uid, op->name,
                              tt_call_names[e->u.call], e->n);
        break;
    default:
        if (e->kind < 0 || e->kind >= TT_E_COUNT)
            return tt_err_set(err, "op %d (%s): bad expression kind %d", op->uid, op->name,
                              (int)e->kind);
        break;
    }
    for (int i = 0; i < e->n; i++)
        if (dag_check_expr(d, op, e->args[i], err))
            return -1;
    return 0;
}

/* An op's iteration space (space x reduce axes) is capped at 2^48 points,
 * far beyond any tensor that fits in memory, so element counts, FLOPs and
 * the generated code's int64 indices cannot overflow (found by fuzz_cli:
 * `kernel max_pool2d --h 4444444441 ...`). */
#define TT_MAX_ITER_POINTS ((int64_t)1 << 48)

static int dag_check_op(const tt_dag *d, const tt_op *op, tt_err *err)
{
    int64_t points = 1;
    for (int i = 0; i < op->ndim + op->nreduce; i++) {
        int64_t x = i < op->ndim ? op->axis[i].extent : op->raxis[i - op->ndim].extent;
        if (x > 0 && points > TT_MAX_ITER_POINTS / x)
            return tt_err_set(err, "op %d (%s) is too large: its loops have more than 2^48 "
                              "iterations", op->uid, op->name);
        if (x > 0)
            points *= x;
    }
    for (int i = 0; i < op->ndim; i++)
        if (op->axis[i].extent <= 0)
            return tt_err_set(err, "op %d (%s): axis %d has extent %lld", op->uid, op->name, i,
                              (long long)op->axis[i].extent);
    if (op->kind == TT_OP_PLACEHOLDER) {
        if (op->body || op->nreduce)
            return tt_err_set(err, "placeholder %d (%s) has a body", op->uid, op->name);
        return 0;
    }
    if (!op->body)
        return tt_err_set(err, "op %d (%s) has no body", op->uid, op->name);
    for (int i = 0; i < op->nreduce; i++)
        if (op->raxis[i].extent <= 0)
            return tt_err_set(err, "op %d (%s): reduce axis %d has extent %lld", op->uid,
                              op->name, i, (long long)op->raxis[i].extent);
    if ((op->nreduce > 0) != (op->red != TT_RED_NONE))
        return tt_err_set(err, "op %d (%s): reduce axes and reduction kind disagree", op->uid,
                          op->name);
    if (op->body->type != TT_T_FLOAT)
        return tt_err_set(err, "op %d (%s): body is not a float expression", op->uid, op->name);
    if (dag_check_expr(d, op, op->body, err))
        return -1;
    if (op->cond) {
        if (op->cond->type != TT_T_BOOL)
            return tt_err_set(err, "op %d (%s): reduction predicate is not boolean", op->uid,
                              op->name);
        if (dag_check_expr(d, op, op->cond, err))
            return -1;
    }
    return 0;
}

/* ---- flops -----------------------------------------------------------------
 * TVM's FlopEstimator: one op per float-typed arithmetic node (+ - * / min
 * max), loads, constants and index arithmetic free; a reduction costs
 * (body + 1 combiner op) per reduce step.  Where TVM counts zero we count
 * one for a float select (so padding stages are not free), a comparison of
 * floats and a math call, as our cost reports want exp() to cost something. */

static double expr_flops(const tt_expr *e)
{
    double sum = 0;
    switch (e->kind) {
    case TT_E_INT:
    case TT_E_FLOAT:
    case TT_E_AXIS:
    case TT_E_RAXIS:
    case TT_E_LOAD:
        return 0;
    case TT_E_ADD:
    case TT_E_SUB:
    case TT_E_MUL:
    case TT_E_DIV:
    case TT_E_FLOORDIV:
    case TT_E_FLOORMOD:
    case TT_E_MIN:
    case TT_E_MAX:
        return (e->type == TT_T_FLOAT) + expr_flops(e->args[0]) + expr_flops(e->args[1]);
    case TT_E_LT:
    case TT_E_LE:
    case TT_E_GT:
    case TT_E_GE:
    case TT_E_EQ:
    case TT_E_NE:
        return (e->args[0]->type == TT_T_FLOAT || e->args[1]->type == TT_T_FLOAT) +
               expr_flops(e->args[0]) + expr_flops(e->args[1]);
    case TT_E_SELECT: {
        double a = expr_flops(e->args[1]), b = expr_flops(e->args[2]);
        return (e->type == TT_T_FLOAT) + expr_flops(e->args[0]) + (a > b ? a : b);
    }
    case TT_E_CALL:
        sum = 1;
        break;
    default: /* AND OR NOT CAST */
        break;
    }
    for (int i = 0; i < e->n; i++)
        sum += expr_flops(e->args[i]);
    return sum;
}

static double op_flops(const tt_op *op)
{
    if (op->kind != TT_OP_COMPUTE)
        return 0;
    double per = expr_flops(op->body);
    if (op->nreduce > 0) {
        double steps = 1;
        for (int i = 0; i < op->nreduce; i++)
            steps *= (double)op->raxis[i].extent;
        per = steps * (per + 1);
    }
    return (double)tt_op_numel(op) * per;
}

/* ---- class key -------------------------------------------------------------
 * The anchor's tag, then one token per epilogue op:
 *   data, PaddedInput, weight, Conv2dOutput, bias, T_add, T_relu
 *     -> "conv2d_nhwc+add+relu"
 * Placeholders, padding stages ("...,pad" tags) and 0-d constant stages do
 * not appear; stages that belong to the anchor (softmax's four stages, the
 * divide of an average pool) are absorbed into its token. */

/* 1 if the comma-separated tag list contains word. */
static int tag_has(const char *tag, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = tag; *p;) {
        const char *q = strchr(p, ',');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (len == n && !strncmp(p, word, n))
            return 1;
        p = q ? q + 1 : p + len;
    }
    return 0;
}

static int tag_is_elementwise(const char *tag)
{
    return tag_has(tag, "elemwise") || tag_has(tag, "broadcast") || tag_has(tag, "injective") ||
           tag[0] == 0;
}

/* Class token of an anchor op (its first tag word, renamed where the tag
 * names only the first of the anchor's stages). */
static void anchor_token(const char *tag, const char *name, char *out, size_t n)
{
    char first[TT_NAME_MAX];
    snprintf(first, sizeof first, "%s", tag);
    char *c = strchr(first, ',');
    if (c)
        *c = 0;
    if (!strcmp(first, "pool_sum"))
        snprintf(out, n, "pool_avg");
    else if (!strcmp(first, "adaptive_pool_sum"))
        snprintf(out, n, "adaptive_pool_avg");
    else if (!strcmp(first, "softmax_output"))
        snprintf(out, n, "softmax");
    else if (first[0])
        snprintf(out, n, "%s", first);
    else
        snprintf(out, n, "%s", name);
}

/* Token of an elementwise op: "T_add" -> "add"; TOPI's python clip is named
 * "compute", so it is recognised by its body max(min(x, hi), lo). */
static void epi_token(const tt_op *op, char *out, size_t n)
{
    const tt_expr *b = op->body;
    if (!strncmp(op->name, "T_", 2) && op->name[2])
        snprintf(out, n, "%s", op->name + 2);
    else if (b && b->kind == TT_E_MAX && b->args[0]->kind == TT_E_MIN &&
             b->args[1]->kind == TT_E_FLOAT && b->args[0]->args[1]->kind == TT_E_FLOAT)
        snprintf(out, n, "clip");
    else
        snprintf(out, n, "%s", op->name);
}

/* The walk over a kernel's ops that both the class key and the layout take:
 * the first compute that is not elementwise (nor padding, nor a 0-d
 * constant) is the anchor; later ops with its tag are its own stages; the
 * other computes are its epilogue. */
typedef enum op_role { ROLE_SKIP = 0, ROLE_ANCHOR, ROLE_ANCHOR_STAGE, ROLE_EPILOGUE } op_role;

typedef struct key_walk {
    int found;
    char atok[TT_NAME_MAX];
    char atag[TT_NAME_MAX];
} key_walk;

static op_role walk_op(key_walk *w, const tt_layout_op *h)
{
    if (!h->compute || (h->ndim == 0 && h->nreduce == 0) || tag_has(h->tag, "pad"))
        return ROLE_SKIP;
    if (!w->found && !(h->nreduce == 0 && tag_is_elementwise(h->tag))) {
        w->found = 1;
        anchor_token(h->tag, h->name, w->atok, sizeof w->atok);
        snprintf(w->atag, sizeof w->atag, "%s", h->tag);
        return ROLE_ANCHOR;
    }
    if (w->found && (!strcmp(h->tag, w->atag) || tag_has(h->tag, w->atok)))
        return ROLE_ANCHOR_STAGE;
    return ROLE_EPILOGUE;
}

static void op_head(const tt_op *op, tt_layout_op *h)
{
    memset(h, 0, sizeof *h);
    h->compute = op->kind == TT_OP_COMPUTE;
    h->ndim = op->ndim;
    h->nreduce = op->nreduce;
    if (!h->compute)
        return; /* a placeholder's name is not in the canonical print */
    snprintf(h->name, sizeof h->name, "%s", op->name);
    snprintf(h->tag, sizeof h->tag, "%s", op->tag);
}

static void dag_class_key(tt_dag *d)
{
    tt_str s;
    tt_str_init(&s);
    key_walk w;
    memset(&w, 0, sizeof w);
    for (int i = 0; i < d->nops; i++) {
        tt_layout_op h;
        op_head(d->ops[i], &h);
        op_role role = walk_op(&w, &h);
        char tok[TT_NAME_MAX + 8];
        if (role == ROLE_SKIP || role == ROLE_ANCHOR_STAGE)
            continue;
        if (role == ROLE_ANCHOR)
            snprintf(tok, sizeof tok, "%s", w.atok);
        else
            epi_token(d->ops[i], tok, sizeof tok);
        if (s.len)
            tt_str_cat(&s, "+");
        tt_str_cat(&s, tok);
    }
    snprintf(d->class_key, sizeof d->class_key, "%s", s.buf ? s.buf : "");
    tt_str_free(&s);
}

int tt_dag_layout_finish(tt_dag_layout *L)
{
    key_walk w;
    memset(&w, 0, sizeof w);
    L->prefix = 0;
    for (int i = 0; i < L->nops; i++) {
        op_role role = walk_op(&w, &L->op[i]);
        if (role == ROLE_ANCHOR || role == ROLE_ANCHOR_STAGE)
            L->prefix = i + 1;
    }
    return L->prefix;
}

int tt_dag_layout_of(const tt_dag *d, tt_dag_layout *L, tt_err *err)
{
    memset(L, 0, sizeof *L);
    if (d->nops > TT_LAYOUT_MAX_OPS)
        return tt_err_set(err, "DAG has %d ops (a layout holds at most %d)", d->nops,
                          TT_LAYOUT_MAX_OPS);
    L->nops = d->nops;
    for (int i = 0; i < d->nops; i++)
        op_head(d->ops[i], &L->op[i]);
    tt_dag_layout_finish(L);
    return 0;
}

/* Seal the DAG: check every op (uids in order, positive extents, a float
 * body on every compute op, loads only of earlier ops with one index per
 * dimension, axis indices in range), then compute flops and the class key.
 * Returns 0, or -1 with err naming the first bad op. */
int tt_dag_finish(tt_dag *d, tt_err *err)
{
    if (d->nops == 0)
        return tt_err_set(err, "empty DAG");
    double flops = 0;
    for (int i = 0; i < d->nops; i++) {
        const tt_op *op = d->ops[i];
        if (op->uid != i)
            return tt_err_set(err, "op %d has uid %d", i, op->uid);
        if (dag_check_op(d, op, err))
            return -1;
        flops += op_flops(op);
    }
    if (d->ops[d->nops - 1]->kind != TT_OP_COMPUTE)
        return tt_err_set(err, "the last op (%s) is not a compute op", d->ops[d->nops - 1]->name);
    d->flops = flops;
    dag_class_key(d);
    return 0;
}
