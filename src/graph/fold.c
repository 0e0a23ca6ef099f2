/* fold.c - constant folding for the model graph (see graph.h).
 *
 * A node whose inputs are all constant is evaluated here, once, at import
 * time; its outputs become constants and the node dies.  This is what turns
 * PyTorch's exported shape arithmetic (Shape -> Gather -> Unsqueeze -> Concat
 * -> Reshape) into a constant Reshape target, and it also precomputes weight
 * preprocessing (Identity or Transpose of an initializer, ...).
 *
 * Evaluation is plain and exact rather than fast: float ops are computed on
 * float (through double where that rounds the same), integer ops on int64
 * with wrap-around (never signed overflow), and every index is checked.  A
 * result above FOLD_MAX_NUMEL elements is left to the run time (the node is
 * reported as not foldable), which bounds the memory one fold can take;
 * plain copies (Identity, Reshape, ...) are exempt, as they only duplicate
 * data the model already holds.
 */
#include "graph.h"
#include "infer_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXD TT_GRAPH_MAX_DIMS
#define FOLD_MAX_NUMEL ((int64_t)1 << 24)
/* What tt_graph_fold_constants may allocate for computed (non-copy) results
 * of one graph: bounds a small corrupt model that asks for many large
 * ConstantOfShape results. */
#define FOLD_BUDGET_BYTES ((int64_t)1 << 28)

typedef struct fctx {
    tt_graph *g;
    int n;
    tt_node *nd;
    tt_err *err;
    void *out[TT_NODE_MAX_IO]; /* output buffers, sized by inference */
    /* the node's tensors as the rules see them (NULL: an omitted input): the
     * graph's when folding, copies holding run-time buffers in
     * tt_graph_eval_node */
    const tt_tensor *in[TT_NODE_MAX_IO], *ot[TT_NODE_MAX_IO];
} fctx;

__attribute__((format(printf, 2, 3))) static int ferr(fctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = tt_infer_node_err(c->err, c->nd, fmt, ap);
    va_end(ap);
    return rc;
}

static const tt_tensor *IN(fctx *c, int i) { return i < c->nd->nin ? c->in[i] : NULL; }

static const tt_tensor *OUT(fctx *c, int i) { return c->ot[i]; }

/* c's tensor views on the graph's own tensors */
static void fctx_bind_graph(fctx *c)
{
    for (int i = 0; i < c->nd->nin && i < TT_NODE_MAX_IO; i++)
        c->in[i] = tt_infer_input(c->g, c->nd, i);
    for (int i = 0; i < c->nd->nout && i < TT_NODE_MAX_IO; i++)
        c->ot[i] = &c->g->tensors[c->nd->out[i]];
}

/* ---- element access ------------------------------------------------------------ */

static double getf(const tt_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case TT_DT_FLOAT: return ((const float *)t->data)[i];
    case TT_DT_INT32: return ((const int32_t *)t->data)[i];
    case TT_DT_INT64: return (double)((const int64_t *)t->data)[i];
    case TT_DT_BOOL: return ((const uint8_t *)t->data)[i] != 0;
    default: return 0;
    }
}

static int64_t geti(const tt_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case TT_DT_INT32: return ((const int32_t *)t->data)[i];
    case TT_DT_INT64: return ((const int64_t *)t->data)[i];
    case TT_DT_BOOL: return ((const uint8_t *)t->data)[i] != 0;
    default: return 0; /* floats are never read as integers */
    }
}

/* Store an integer value in an integer or bool tensor (int32 wraps). */
static void seti(void *data, tt_dtype dt, int64_t i, int64_t v)
{
    switch (dt) {
    case TT_DT_INT32: ((int32_t *)data)[i] = (int32_t)(uint32_t)(uint64_t)v; break;
    case TT_DT_INT64: ((int64_t *)data)[i] = v; break;
    case TT_DT_BOOL: ((uint8_t *)data)[i] = v != 0; break;
    default: ((float *)data)[i] = (float)v; break;
    }
}

/* ---- broadcasting iteration ------------------------------------------------------ */

/* Element strides of x read as if broadcast to out's shape (0 on broadcast
 * dimensions, right-aligned). */
static void bstrides(int on, const int64_t *os, const tt_tensor *x, int64_t *st)
{
    int off = on - x->ndim;
    int64_t s = 1;
    for (int i = on - 1; i >= 0; i--) {
        int j = i - off;
        st[i] = (j < 0 || x->shape[j] == 1) ? 0 : s;
        if (j >= 0)
            s *= x->shape[j];
    }
    (void)os;
}

/* Odometer over an output shape carrying up to 3 input offsets. */
typedef struct iter {
    int nd;
    int64_t shape[MAXD], idx[MAXD], st[3][MAXD], off[3];
} iter;

static void iter_init(iter *it, const tt_tensor *out)
{
    memset(it, 0, sizeof *it);
    it->nd = out->ndim;
    memcpy(it->shape, out->shape, (size_t)out->ndim * sizeof *it->shape);
}

static void iter_next(iter *it)
{
    for (int d = it->nd - 1; d >= 0; d--) {
        it->idx[d]++;
        for (int k = 0; k < 3; k++)
            it->off[k] += it->st[k][d];
        if (it->idx[d] < it->shape[d])
            return;
        for (int k = 0; k < 3; k++)
            it->off[k] -= it->st[k][d] * it->shape[d];
        it->idx[d] = 0;
    }
}

static int f_copy(fctx *c) /* Identity, Reshape, Flatten, (Un)Squeeze, Dropout */
{
    const tt_tensor *x = IN(c, 0);
    memcpy(c->out[0], x->data, (size_t)tt_tensor_numel(x) * (size_t)tt_dtype_size(x->dtype));
    if (c->nd->nout > 1 && c->nd->out[1] >= 0) /* Dropout's mask: all kept */
        memset(c->out[1], 1, (size_t)tt_tensor_numel(OUT(c, 1)));
    return 0;
}

/* ---- elementwise ops ------------------------------------------------------------- */

static int64_t wrap_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static int64_t wrap_sub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static int64_t wrap_mul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

/* Integer binary op; 1 on a value error (division by zero, a power out of
 * range) or for an op without an integer form. */
static int int_binop(tt_gop op, int64_t a, int64_t b, int fmod_attr, int64_t *r)
{
    switch (op) {
    case TT_GOP_ADD:
    case TT_GOP_SUM: *r = wrap_add(a, b); break;
    case TT_GOP_SUB: *r = wrap_sub(a, b); break;
    case TT_GOP_MUL: *r = wrap_mul(a, b); break;
    case TT_GOP_DIV:
    case TT_GOP_MOD:
        if (b == 0)
            return 1;
        if (b == -1) /* INT64_MIN / -1 overflows */
            *r = op == TT_GOP_DIV ? wrap_sub(0, a) : 0;
        else if (op == TT_GOP_DIV)
            *r = a / b;
        else {
            *r = a % b;
            /* Mod with fmod=0 takes the divisor's sign (Python's %). */
            if (!fmod_attr && *r != 0 && ((*r < 0) != (b < 0)))
                *r += b;
        }
        break;
    case TT_GOP_MAX: *r = a > b ? a : b; break;
    case TT_GOP_MIN: *r = a < b ? a : b; break;
    case TT_GOP_EQUAL: *r = a == b; break;
    case TT_GOP_LESS: *r = a < b; break;
    case TT_GOP_GREATER: *r = a > b; break;
    case TT_GOP_LESS_OR_EQUAL: *r = a <= b; break;
    case TT_GOP_GREATER_OR_EQUAL: *r = a >= b; break;
    case TT_GOP_AND: *r = a && b; break;
    case TT_GOP_OR: *r = a || b; break;
    case TT_GOP_POW: {
        double p = pow((double)a, (double)b);
        if (!(p >= -9.2e18 && p <= 9.2e18))
            return 1;
        *r = (int64_t)p;
        break;
    }
    default: return 1;
    }
    return 0;
}

static double flt_binop(tt_gop op, double a, double b, int fmod_attr)
{
    float fa = (float)a, fb = (float)b;
    switch (op) {
    case TT_GOP_ADD:
    case TT_GOP_SUM: return fa + fb;
    case TT_GOP_SUB: return fa - fb;
    case TT_GOP_MUL: return fa * fb;
    case TT_GOP_DIV: return fa / fb;
    case TT_GOP_POW: return powf(fa, fb);
    case TT_GOP_MAX: return fa > fb || isnan(fa) ? fa : fb;
    case TT_GOP_MIN: return fa < fb || isnan(fa) ? fa : fb;
    case TT_GOP_MEAN: return (fa + fb) / 2;
    case TT_GOP_MOD: {
        float r = fmodf(fa, fb);
        if (!fmod_attr && r != 0 && ((r < 0) != (fb < 0)))
            r += fb;
        return r;
    }
    case TT_GOP_PRELU: return fa < 0 ? fa * fb : fa;
    case TT_GOP_EQUAL: return fa == fb;
    case TT_GOP_LESS: return fa < fb;
    case TT_GOP_GREATER: return fa > fb;
    case TT_GOP_LESS_OR_EQUAL: return fa <= fb;
    case TT_GOP_GREATER_OR_EQUAL: return fa >= fb;
    default: return NAN;
    }
}

static int f_binary(fctx *c)
{
    if (c->nd->nin == 1) /* variadic Max/Min/Sum/Mean of one input */
        return f_copy(c);
    if (c->nd->nin != 2)
        return 1;
    const tt_tensor *a = IN(c, 0), *b = IN(c, 1), *o = OUT(c, 0);
    tt_gop op = c->nd->op;
    if (op == TT_GOP_MEAN && a->dtype != TT_DT_FLOAT)
        return 1;
    int fm = tt_infer_iattr(c->nd, "fmod", 0) != 0;
    iter it;
    iter_init(&it, o);
    bstrides(o->ndim, o->shape, a, it.st[0]);
    bstrides(o->ndim, o->shape, b, it.st[1]);
    int64_t n = tt_tensor_numel(o);
    int isf = a->dtype == TT_DT_FLOAT;
    for (int64_t i = 0; i < n; i++, iter_next(&it)) {
        if (isf) {
            double r = flt_binop(op, getf(a, it.off[0]), getf(b, it.off[1]), fm);
            if (o->dtype == TT_DT_FLOAT)
                ((float *)c->out[0])[i] = (float)r;
            else
                ((uint8_t *)c->out[0])[i] = r != 0;
        } else {
            int64_t r;
            /* Pow's exponent may be float: compute in double. */
            if (b->dtype == TT_DT_FLOAT)
                return 1;
            if (int_binop(op, geti(a, it.off[0]), geti(b, it.off[1]), fm, &r))
                return ferr(c, "integer %s fails on %lld and %lld (division by zero or "
                               "overflow)",
                            tt_gop_names[op], (long long)geti(a, it.off[0]),
                            (long long)geti(b, it.off[1]));
            seti(c->out[0], o->dtype, i, r);
        }
    }
    return 0;
}

static int f_where(fctx *c)
{
    const tt_tensor *cd = IN(c, 0), *x = IN(c, 1), *y = IN(c, 2), *o = OUT(c, 0);
    iter it;
    iter_init(&it, o);
    bstrides(o->ndim, o->shape, cd, it.st[0]);
    bstrides(o->ndim, o->shape, x, it.st[1]);
    bstrides(o->ndim, o->shape, y, it.st[2]);
    int64_t n = tt_tensor_numel(o);
    size_t es = (size_t)tt_dtype_size(o->dtype);
    for (int64_t i = 0; i < n; i++, iter_next(&it)) {
        const uint8_t *src = ((const uint8_t *)cd->data)[it.off[0]]
                                 ? (const uint8_t *)x->data + (size_t)it.off[1] * es
                                 : (const uint8_t *)y->data + (size_t)it.off[2] * es;
        memcpy((uint8_t *)c->out[0] + (size_t)i * es, src, es);
    }
    return 0;
}

/* ScatterND (reduction none): data, then each index tuple's slice of data
 * replaced by its slice of updates; an index out of range is an error (the
 * graph is then refused, not folded wrongly). */
static int f_scatter_nd(fctx *c)
{
    const tt_tensor *d = IN(c, 0), *ix = IN(c, 1), *up = IN(c, 2), *o = OUT(c, 0);
    size_t es = (size_t)tt_dtype_size(o->dtype);
    int64_t n = tt_tensor_numel(o);
    memcpy(c->out[0], d->data, (size_t)n * es);
    int r = (int)ix->shape[ix->ndim - 1];
    int64_t slice = 1, tuples = tt_tensor_numel(ix) / r;
    for (int k = r; k < d->ndim; k++)
        slice *= d->shape[k];
    if (tt_tensor_numel(up) != tuples * slice)
        return tt_err_set(c->err, "ScatterND '%s': updates hold %lld elements, the indices address %lld",
                          c->nd->name, (long long)tt_tensor_numel(up), (long long)(tuples * slice));
    const int64_t *idx = ix->data;
    for (int64_t t = 0; t < tuples; t++) {
        int64_t off = 0;
        for (int k = 0; k < r; k++) {
            int64_t v = idx[t * r + k];
            if (v < 0)
                v += d->shape[k];
            if (v < 0 || v >= d->shape[k])
                return tt_err_set(c->err, "ScatterND '%s': index %lld out of range [0, %lld) in dimension %d",
                                  c->nd->name, (long long)idx[t * r + k], (long long)d->shape[k], k);
            off = off * d->shape[k] + v;
        }
        memcpy((uint8_t *)c->out[0] + (size_t)(off * slice) * es, (const uint8_t *)up->data + (size_t)(t * slice) * es,
               (size_t)slice * es);
    }
    return 0;
}

static float f_unary1(tt_gop op, const tt_node *nd, float x)
{
    switch (op) {
    case TT_GOP_RELU: return x > 0 ? x : 0;
    case TT_GOP_SIGMOID: return 1 / (1 + expf(-x));
    case TT_GOP_SQRT: return sqrtf(x);
    case TT_GOP_ERF: return erff(x);
    case TT_GOP_TANH: return tanhf(x);
    case TT_GOP_EXP: return expf(x);
    case TT_GOP_LOG: return logf(x);
    case TT_GOP_NEG: return -x;
    case TT_GOP_ABS: return fabsf(x);
    case TT_GOP_RECIPROCAL: return 1 / x;
    case TT_GOP_FLOOR: return floorf(x);
    case TT_GOP_CEIL: return ceilf(x);
    case TT_GOP_ROUND: return nearbyintf(x); /* half to even, as ONNX */
    case TT_GOP_SIN: return sinf(x);
    case TT_GOP_COS: return cosf(x);
    case TT_GOP_SIGN: return (float)((x > 0) - (x < 0));
    case TT_GOP_SOFTPLUS: return log1pf(expf(x));
    case TT_GOP_HARD_SIGMOID: {
        float v = (float)tt_node_float(nd, "alpha", 0.2) * x + (float)tt_node_float(nd, "beta", 0.5);
        return v < 0 ? 0 : v > 1 ? 1 : v;
    }
    case TT_GOP_HARD_SWISH: {
        float v = x / 6 + 0.5f;
        return x * (v < 0 ? 0 : v > 1 ? 1 : v);
    }
    case TT_GOP_LEAKY_RELU: return x >= 0 ? x : (float)tt_node_float(nd, "alpha", 0.01) * x;
    case TT_GOP_ELU: return x >= 0 ? x : (float)tt_node_float(nd, "alpha", 1.0) * (expf(x) - 1);
    case TT_GOP_SELU: {
        float a = (float)tt_node_float(nd, "alpha", 1.67326319217681884765625),
              g = (float)tt_node_float(nd, "gamma", 1.05070102214813232421875);
        return g * (x > 0 ? x : a * (expf(x) - 1));
    }
    default: return NAN;
    }
}

static int f_unary(fctx *c)
{
    const tt_tensor *x = IN(c, 0);
    tt_gop op = c->nd->op;
    int64_t n = tt_tensor_numel(x);
    if (x->dtype == TT_DT_FLOAT) {
        for (int64_t i = 0; i < n; i++)
            ((float *)c->out[0])[i] = f_unary1(op, c->nd, ((const float *)x->data)[i]);
        return 0;
    }
    if (x->dtype == TT_DT_BOOL && op == TT_GOP_NOT) {
        for (int64_t i = 0; i < n; i++)
            ((uint8_t *)c->out[0])[i] = !((const uint8_t *)x->data)[i];
        return 0;
    }
    if (x->dtype != TT_DT_INT64 && x->dtype != TT_DT_INT32)
        return 1;
    for (int64_t i = 0; i < n; i++) {
        int64_t v = geti(x, i), r;
        switch (op) {
        case TT_GOP_NEG: r = wrap_sub(0, v); break;
        case TT_GOP_ABS: r = v < 0 ? wrap_sub(0, v) : v; break;
        case TT_GOP_RELU: r = v > 0 ? v : 0; break;
        case TT_GOP_SIGN: r = (v > 0) - (v < 0); break;
        default: return 1;
        }
        seti(c->out[0], x->dtype, i, r);
    }
    return 0;
}

static int f_clip(fctx *c)
{
    const tt_tensor *x = IN(c, 0), *mn = IN(c, 1), *mx = IN(c, 2);
    int64_t n = tt_tensor_numel(x);
    if (x->dtype == TT_DT_FLOAT) {
        float lo = mn ? (float)getf(mn, 0) : (float)tt_node_float(c->nd, "min", -INFINITY);
        float hi = mx ? (float)getf(mx, 0) : (float)tt_node_float(c->nd, "max", INFINITY);
        for (int64_t i = 0; i < n; i++) {
            float v = ((const float *)x->data)[i];
            v = v < lo ? lo : v;
            ((float *)c->out[0])[i] = v > hi ? hi : v;
        }
        return 0;
    }
    int64_t lo = mn ? geti(mn, 0) : INT64_MIN, hi = mx ? geti(mx, 0) : INT64_MAX;
    for (int64_t i = 0; i < n; i++) {
        int64_t v = geti(x, i);
        v = v < lo ? lo : v;
        seti(c->out[0], x->dtype, i, v > hi ? hi : v);
    }
    return 0;
}

static int f_cast(fctx *c)
{
    const tt_tensor *x = IN(c, 0), *o = OUT(c, 0);
    int64_t n = tt_tensor_numel(x);
    for (int64_t i = 0; i < n; i++) {
        if (o->dtype == TT_DT_FLOAT) {
            ((float *)c->out[0])[i] = (float)getf(x, i);
        } else if (x->dtype == TT_DT_FLOAT) {
            double v = getf(x, i);
            if (o->dtype == TT_DT_BOOL) {
                ((uint8_t *)c->out[0])[i] = v != 0;
                continue;
            }
            double lim = o->dtype == TT_DT_INT32 ? 2147483648.0 : 9223372036854775808.0;
            if (!(v > -lim - 1 && v < lim))
                return ferr(c, "cannot cast %g to %s", v, tt_dtype_name(o->dtype));
            seti(c->out[0], o->dtype, i, (int64_t)v);
        } else
            seti(c->out[0], o->dtype, i, geti(x, i));
    }
    return 0;
}

/* ---- data movement ----------------------------------------------------------------- */

static int f_constant(fctx *c)
{
    const tt_tensor *o = OUT(c, 0);
    const tt_attr *a = tt_node_attr(c->nd, "value");
    if (a) {
        const tt_tensor *t = &c->g->tensors[a->tensor];
        memcpy(c->out[0], t->data, (size_t)tt_tensor_numel(t) * (size_t)tt_dtype_size(t->dtype));
        return 0;
    }
    if ((a = tt_node_attr(c->nd, "value_float")) && a->kind == TT_ATTR_FLOAT)
        ((float *)c->out[0])[0] = (float)a->f;
    else if ((a = tt_node_attr(c->nd, "value_int")) && a->kind == TT_ATTR_INT)
        ((int64_t *)c->out[0])[0] = a->i;
    else if ((a = tt_node_attr(c->nd, "value_floats")) && a->kind == TT_ATTR_FLOATS)
        for (int i = 0; i < a->n; i++)
            ((float *)c->out[0])[i] = (float)a->floats[i];
    else if ((a = tt_node_attr(c->nd, "value_ints")) && a->kind == TT_ATTR_INTS)
        memcpy(c->out[0], a->ints, (size_t)a->n * sizeof *a->ints);
    (void)o;
    return 0;
}

static int f_shape(fctx *c)
{
    const tt_tensor *x = IN(c, 0), *o = OUT(c, 0);
    if (c->nd->op == TT_GOP_SIZE) {
        ((int64_t *)c->out[0])[0] = tt_tensor_numel(x);
        return 0;
    }
    int64_t r = x->ndim, s = tt_infer_iattr(c->nd, "start", 0);
    s = s < 0 ? s + r : s;
    s = s < 0 ? 0 : s > r ? r : s;
    for (int64_t i = 0; i < o->shape[0]; i++)
        ((int64_t *)c->out[0])[i] = x->shape[s + i];
    return 0;
}

/* Product of dims [from, to) of t. */
static int64_t dprod(const tt_tensor *t, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= t->shape[i];
    return p;
}

static int axis_of(const tt_node *nd, int rank, int64_t dflt)
{
    int64_t a = tt_infer_iattr(nd, "axis", dflt);
    return (int)(a < 0 ? a + rank : a); /* validated by inference */
}

static int f_concat(fctx *c)
{
    const tt_tensor *o = OUT(c, 0);
    int ax = axis_of(c->nd, o->ndim, 0);
    size_t es = (size_t)tt_dtype_size(o->dtype);
    int64_t outer = dprod(o, 0, ax), inner = dprod(o, ax + 1, o->ndim), pos = 0;
    for (int k = 0; k < c->nd->nin; k++) {
        const tt_tensor *x = IN(c, k);
        size_t chunk = (size_t)(x->shape[ax] * inner) * es;
        for (int64_t i = 0; i < outer; i++)
            memcpy((uint8_t *)c->out[0] + ((size_t)(i * o->shape[ax] * inner) + (size_t)pos) * es,
                   (const uint8_t *)x->data + (size_t)i * chunk, chunk);
        pos += x->shape[ax] * inner;
    }
    return 0;
}

static int f_split(fctx *c)
{
    const tt_tensor *x = IN(c, 0);
    int ax = axis_of(c->nd, x->ndim, 0);
    size_t es = (size_t)tt_dtype_size(x->dtype);
    int64_t outer = dprod(x, 0, ax), inner = dprod(x, ax + 1, x->ndim), pos = 0;
    for (int k = 0; k < c->nd->nout; k++) {
        const tt_tensor *o = OUT(c, k);
        size_t chunk = (size_t)(o->shape[ax] * inner) * es;
        for (int64_t i = 0; i < outer; i++)
            memcpy((uint8_t *)c->out[k] + (size_t)i * chunk,
                   (const uint8_t *)x->data + ((size_t)(i * x->shape[ax] * inner) + (size_t)pos) * es,
                   chunk);
        pos += o->shape[ax] * inner;
    }
    return 0;
}

static int f_gather(fctx *c)
{
    const tt_tensor *x = IN(c, 0), *ix = IN(c, 1);
    int ax = axis_of(c->nd, x->ndim, 0);
    size_t es = (size_t)tt_dtype_size(x->dtype);
    int64_t outer = dprod(x, 0, ax), inner = dprod(x, ax + 1, x->ndim), d = x->shape[ax];
    int64_t ni = tt_tensor_numel(ix);
    for (int64_t i = 0; i < outer; i++)
        for (int64_t k = 0; k < ni; k++) {
            int64_t v = geti(ix, k);
            v = v < 0 ? v + d : v;
            if (v < 0 || v >= d) /* inference checks constant indices; kept for safety */
                return ferr(c, "index %lld is out of range", (long long)geti(ix, k));
            memcpy((uint8_t *)c->out[0] + (size_t)((i * ni + k) * inner) * es,
                   (const uint8_t *)x->data + (size_t)((i * d + v) * inner) * es,
                   (size_t)inner * es);
        }
    return 0;
}

/* Row-major element strides of a shape. */
static void strides(const tt_tensor *t, int64_t *st)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        st[i] = s;
        s *= t->shape[i];
    }
}

/* Gather elements through an odometer over the output whose offset into x
 * advances by st[d] per step on output axis d, starting at base. */
static void strided_copy(fctx *c, const tt_tensor *x, int64_t base, const int64_t *st)
{
    const tt_tensor *o = OUT(c, 0);
    size_t es = (size_t)tt_dtype_size(o->dtype);
    iter it;
    iter_init(&it, o);
    memcpy(it.st[0], st, (size_t)o->ndim * sizeof *st);
    int64_t n = tt_tensor_numel(o);
    for (int64_t i = 0; i < n; i++, iter_next(&it))
        memcpy((uint8_t *)c->out[0] + (size_t)i * es,
               (const uint8_t *)x->data + (size_t)(base + it.off[0]) * es, es);
}

static int f_slice(fctx *c)
{
    const tt_tensor *x = IN(c, 0);
    int64_t start[MAXD], step[MAXD], len[MAXD], xs[MAXD], st[MAXD], base = 0;
    if (tt_infer_slice(c->g, c->n, start, step, len, c->err))
        return -1;
    strides(x, xs);
    for (int i = 0; i < x->ndim; i++) {
        base += len[i] ? start[i] * xs[i] : 0;
        st[i] = step[i] * xs[i];
    }
    if (tt_tensor_numel(OUT(c, 0)) > 0)
        strided_copy(c, x, base, st);
    return 0;
}

static int f_transpose(fctx *c)
{
    const tt_tensor *x = IN(c, 0);
    int64_t xs[MAXD], st[MAXD];
    strides(x, xs);
    const tt_attr *a = tt_node_attr(c->nd, "perm");
    for (int i = 0; i < x->ndim; i++)
        st[i] = xs[a ? a->ints[i] : x->ndim - 1 - i];
    strided_copy(c, x, 0, st);
    return 0;
}

static int f_expand(fctx *c)
{
    const tt_tensor *x = IN(c, 0), *o = OUT(c, 0);
    int64_t st[MAXD];
    bstrides(o->ndim, o->shape, x, st);
    strided_copy(c, x, 0, st);
    return 0;
}

static int f_tile(fctx *c)
{
    const tt_tensor *x = IN(c, 0), *o = OUT(c, 0);
    size_t es = (size_t)tt_dtype_size(o->dtype);
    int64_t xs[MAXD], n = tt_tensor_numel(o);
    strides(x, xs);
    iter it;
    iter_init(&it, o);
    for (int64_t i = 0; i < n; i++, iter_next(&it)) {
        int64_t off = 0;
        for (int d = 0; d < o->ndim; d++)
            off += (it.idx[d] % x->shape[d]) * xs[d];
        memcpy((uint8_t *)c->out[0] + (size_t)i * es, (const uint8_t *)x->data + (size_t)off * es,
               es);
    }
    return 0;
}

static int f_range(fctx *c)
{
    const tt_tensor *s = IN(c, 0), *d = IN(c, 2), *o = OUT(c, 0);
    for (int64_t i = 0; i < o->shape[0]; i++) {
        if (o->dtype == TT_DT_FLOAT)
            ((float *)c->out[0])[i] = (float)(getf(s, 0) + (double)i * getf(d, 0));
        else
            seti(c->out[0], o->dtype, i, wrap_add(geti(s, 0), wrap_mul(i, geti(d, 0))));
    }
    return 0;
}

static int f_constant_of_shape(fctx *c)
{
    const tt_tensor *o = OUT(c, 0);
    const tt_attr *a = tt_node_attr(c->nd, "value");
    size_t es = (size_t)tt_dtype_size(o->dtype);
    int64_t n = tt_tensor_numel(o);
    if (!a)
        return 0; /* float zeros: the buffer is zeroed */
    const void *v = c->g->tensors[a->tensor].data;
    for (int64_t i = 0; i < n; i++)
        memcpy((uint8_t *)c->out[0] + (size_t)i * es, v, es);
    return 0;
}

/* ---- the fold table ------------------------------------------------------------------- */

/* The folding function of each foldable operator (NULL: not foldable);
 * 0 folded, 1 not foldable after all (left to the run time), -1 error. */
static int (*const frules[TT_GOP_COUNT])(fctx *c) = {
    [TT_GOP_ABS] = f_unary,
    [TT_GOP_ADD] = f_binary,
    [TT_GOP_AND] = f_binary,
    [TT_GOP_CAST] = f_cast,
    [TT_GOP_CEIL] = f_unary,
    [TT_GOP_CLIP] = f_clip,
    [TT_GOP_CONCAT] = f_concat,
    [TT_GOP_CONSTANT] = f_constant,
    [TT_GOP_CONSTANT_OF_SHAPE] = f_constant_of_shape,
    [TT_GOP_COS] = f_unary,
    [TT_GOP_DIV] = f_binary,
    [TT_GOP_DROPOUT] = f_copy,
    [TT_GOP_ELU] = f_unary,
    [TT_GOP_EQUAL] = f_binary,
    [TT_GOP_ERF] = f_unary,
    [TT_GOP_EXP] = f_unary,
    [TT_GOP_EXPAND] = f_expand,
    [TT_GOP_FLATTEN] = f_copy,
    [TT_GOP_FLOOR] = f_unary,
    [TT_GOP_GATHER] = f_gather,
    [TT_GOP_GREATER] = f_binary,
    [TT_GOP_GREATER_OR_EQUAL] = f_binary,
    [TT_GOP_HARD_SIGMOID] = f_unary,
    [TT_GOP_HARD_SWISH] = f_unary,
    [TT_GOP_IDENTITY] = f_copy,
    [TT_GOP_LEAKY_RELU] = f_unary,
    [TT_GOP_LESS] = f_binary,
    [TT_GOP_LESS_OR_EQUAL] = f_binary,
    [TT_GOP_LOG] = f_unary,
    [TT_GOP_MAX] = f_binary,
    [TT_GOP_MEAN] = f_binary,
    [TT_GOP_MIN] = f_binary,
    [TT_GOP_MOD] = f_binary,
    [TT_GOP_MUL] = f_binary,
    [TT_GOP_NEG] = f_unary,
    [TT_GOP_NOT] = f_unary,
    [TT_GOP_OR] = f_binary,
    [TT_GOP_PRELU] = f_binary,
    [TT_GOP_POW] = f_binary,
    [TT_GOP_RANGE] = f_range,
    [TT_GOP_RECIPROCAL] = f_unary,
    [TT_GOP_RELU] = f_unary,
    [TT_GOP_RESHAPE] = f_copy,
    [TT_GOP_ROUND] = f_unary,
    [TT_GOP_SCATTER_ND] = f_scatter_nd,
    [TT_GOP_SELU] = f_unary,
    [TT_GOP_SHAPE] = f_shape,
    [TT_GOP_SIGMOID] = f_unary,
    [TT_GOP_SIGN] = f_unary,
    [TT_GOP_SIN] = f_unary,
    [TT_GOP_SIZE] = f_shape,
    [TT_GOP_SLICE] = f_slice,
    [TT_GOP_SOFTPLUS] = f_unary,
    [TT_GOP_SPLIT] = f_split,
    [TT_GOP_SQRT] = f_unary,
    [TT_GOP_SQUEEZE] = f_copy,
    [TT_GOP_SUB] = f_binary,
    [TT_GOP_SUM] = f_binary,
    [TT_GOP_TANH] = f_unary,
    [TT_GOP_TILE] = f_tile,
    [TT_GOP_TRANSPOSE] = f_transpose,
    [TT_GOP_UNSQUEEZE] = f_copy,
    [TT_GOP_WHERE] = f_where,
};

/* tt_graph_fold_node, charging results to *budget (bytes).  A plain copy is
 * free when its input is an original constant (it only duplicates what the
 * model holds), and charged like a computed result when its input was
 * itself made by folding (derived[t], if given; set here for outputs). */
static int fold_one(tt_graph *g, int n, tt_err *err, int64_t *budget, char *derived)
{
    tt_node *nd = &g->nodes[n];
    if (nd->dead)
        return 0;
    int (*fn)(fctx *c) = frules[nd->op];
    if (!fn)
        return 0;
    int shape_only = nd->op == TT_GOP_SHAPE || nd->op == TT_GOP_SIZE;
    for (int i = 0; i < nd->nin; i++) {
        if (nd->in[i] < 0)
            continue;
        const tt_tensor *t = &g->tensors[nd->in[i]];
        if (shape_only ? tt_tensor_numel(t) < 0 : !t->data)
            return 0;
    }
    for (int i = 0; i < nd->nout; i++)
        if (nd->out[i] < 0)
            return 0;
    if (tt_graph_infer_node(g, n, err))
        return -1;
    fctx c = {g, n, nd, err, {0}, {0}, {0}};
    fctx_bind_graph(&c);
    /* A plain copy of an original constant (Identity of a shared weight)
     * has no size limit, so that no weight is left behind a live Identity. */
    int charge = fn != f_copy || (derived && derived[nd->in[0]]);
    int64_t bytes = 0;
    for (int i = 0; i < nd->nout && charge; i++) {
        const tt_tensor *t = &g->tensors[nd->out[i]];
        if (tt_tensor_numel(t) > FOLD_MAX_NUMEL)
            return 0;
        bytes += tt_tensor_numel(t) * tt_dtype_size(t->dtype);
    }
    if (bytes > *budget)
        return 0;
    for (int i = 0; i < nd->nout; i++) {
        const tt_tensor *t = &g->tensors[nd->out[i]];
        c.out[i] = tt_xcalloc((size_t)tt_tensor_numel(t) + 1, (size_t)tt_dtype_size(t->dtype));
    }
    int rc = fn(&c);
    if (rc) {
        for (int i = 0; i < nd->nout; i++)
            free(c.out[i]);
        return rc < 0 ? -1 : 0;
    }
    for (int i = 0; i < nd->nout; i++) {
        tt_tensor *t = &g->tensors[nd->out[i]];
        t->data = c.out[i];
        t->producer = -1;
    }
    nd->dead = 1;
    *budget -= bytes;
    for (int i = 0; derived && i < nd->nout; i++)
        derived[nd->out[i]] = 1;
    return 1;
}

int tt_graph_fold_node(tt_graph *g, int n, tt_err *err)
{
    int64_t budget = INT64_MAX;
    return fold_one(g, n, err, &budget, NULL);
}

int tt_graph_evaluable(const tt_graph *g, int n)
{
    const tt_node *nd = &g->nodes[n];
    if (nd->op >= TT_GOP_COUNT || !frules[nd->op] || nd->nin > TT_NODE_MAX_IO || nd->nout > TT_NODE_MAX_IO)
        return 0;
    /* their results' shapes come from input data, not known before a run */
    return nd->op != TT_GOP_SHAPE && nd->op != TT_GOP_SIZE && nd->op != TT_GOP_CONSTANT;
}

int tt_graph_eval_node(const tt_graph *g, int n, const void *const *in, void *const *out, tt_err *err)
{
    const tt_node *nd = &g->nodes[n];
    if (!tt_graph_evaluable(g, n))
        return tt_err_set(err, "node '%s' (%s) cannot be evaluated at run time", nd->name, tt_gop_names[nd->op]);
    tt_tensor ti[TT_NODE_MAX_IO], to[TT_NODE_MAX_IO];
    /* the rules take a mutable graph for folding; here they only read it */
    fctx c = {(tt_graph *)(uintptr_t)g, n, (tt_node *)(uintptr_t)nd, err, {0}, {0}, {0}};
    for (int i = 0; i < nd->nin; i++) {
        if (nd->in[i] < 0)
            continue;
        ti[i] = g->tensors[nd->in[i]];
        ti[i].data = (void *)(uintptr_t)in[i];
        c.in[i] = &ti[i];
    }
    for (int i = 0; i < nd->nout; i++) {
        to[i] = g->tensors[nd->out[i]];
        to[i].data = NULL;
        c.ot[i] = &to[i];
        c.out[i] = out[i];
    }
    int rc = frules[nd->op](&c);
    if (rc > 0)
        return tt_err_set(err, "node '%s' (%s): these operand types cannot be evaluated at run time", nd->name,
                          tt_gop_names[nd->op]);
    return rc;
}

int tt_graph_fold_constants(tt_graph *g, tt_err *err)
{
    for (int i = 0; i < g->ninputs; i++) {
        const tt_tensor *t = &g->tensors[g->inputs[i]];
        if (t->ndim < 0 || tt_tensor_numel(t) < 0)
            return tt_err_set(err, "graph input '%s' has an unknown shape", t->name);
    }
    int folded;
    int64_t budget = FOLD_BUDGET_BYTES;
    char *derived = tt_xcalloc((size_t)g->ntensors + 1, 1);
    do {
        folded = 0;
        for (int n = 0; n < g->nnodes; n++) {
            if (g->nodes[n].dead)
                continue;
            int r = tt_graph_infer_node(g, n, err) ? -1 : fold_one(g, n, err, &budget, derived);
            if (r < 0) {
                free(derived);
                return -1;
            }
            folded += r;
        }
    } while (folded);
    free(derived);
    return tt_graph_infer(g, err) ? -1 : 0;
}
