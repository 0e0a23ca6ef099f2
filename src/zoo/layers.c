/* layers.c - the zoo's layer helpers: one torch module or function each,
 * written as the nodes PyTorch 1.13's ONNX export (opset 13) emits for it,
 * with seeded random weights.  See zoo_int.h for the conventions. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zoo_int.h"

#define ZB_NAME_MAX 256

void tt_zb_begin(tt_zb *b, const char *model, uint64_t seed)
{
    memset(b, 0, sizeof *b);
    b->g = tt_graph_new(model);
    /* Different models with the same seed get unrelated weights. */
    b->seed = tt_hash64(model, strlen(model)) ^ (seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull);
    b->bn_eps = tt_zb_float32(1e-5);
    b->bn_momentum = tt_zb_float32(0.9);
}

tt_graph *tt_zb_finish(tt_zb *b, int out, tt_err *err)
{
    if (!b->err.set && out < 0)
        tt_err_set(&b->err, "no output");
    if (b->err.set) {
        tt_err_set(err, "zoo model '%s': %s", b->g ? b->g->name : "?", b->err.msg);
        tt_graph_free(b->g);
        b->g = NULL;
        return NULL;
    }
    tt_graph_mark_output(b->g, out);
    tt_graph *g = b->g;
    b->g = NULL;
    return g;
}

double tt_zb_float32(double v) { return (double)(float)v; }

int tt_zb_make_divisible(double v, int divisor)
{
    /* torchvision/models/_utils.py: max(divisor, int(v + divisor / 2) //
     * divisor * divisor), plus one divisor if that lost more than 10%. */
    int nv = (int)(v + divisor / 2.0) / divisor * divisor;
    if (nv < divisor)
        nv = divisor;
    if (nv < 0.9 * v)
        nv += divisor;
    return nv;
}

/* Format a module name into buf; fails the builder if it does not fit. */
static int zb_vname(tt_zb *b, char *buf, const char *fmt, va_list ap)
{
    int n = vsnprintf(buf, ZB_NAME_MAX, fmt, ap);
    if (n < 0 || n >= ZB_NAME_MAX)
        return tt_err_set(&b->err, "name too long: '%.64s...'", buf);
    return 0;
}

/* The helpers' common prologue: format the module name into buf (a char
 * array of ZB_NAME_MAX declared by the caller); a name that does not fit
 * fails the builder. */
#define ZB_NAME(b, buf, fmt)                                                                       \
    do {                                                                                           \
        va_list ap_;                                                                               \
        va_start(ap_, fmt);                                                                        \
        zb_vname(b, buf, fmt, ap_);                                                                \
        va_end(ap_);                                                                               \
    } while (0)

/* Nothing to build: an earlier failure, or a failed input x. */
static int zb_dead(tt_zb *b, int x)
{
    if (!b->err.set && x < 0)
        tt_err_set(&b->err, "an input of a layer is missing");
    return b->err.set || !b->g;
}

/* One node with one fresh output; returns the output tensor. */
static int zb_node(tt_zb *b, tt_gop op, const char *name, int nin, const int *in)
{
    for (int i = 0; i < nin; i++)
        if (zb_dead(b, in[i]))
            return -1;
    return tt_graph_op1(b->g, op, name, nin, in, &b->err);
}

static int zb_last(const tt_zb *b) { return b->g->nnodes - 1; }

/* A float constant named `name`, uniform in [lo, hi] (hi itself only by
 * float rounding), from its own stream. */
float *tt_zoo_uniform_data(uint64_t seed, const char *name, int64_t n, float lo, float hi)
{
    float *d = tt_xmalloc((size_t)(n ? n : 1) * sizeof *d);
    tt_rng r;
    tt_rng_seed(&r, seed ^ tt_hash64(name, strlen(name)));
    const float span = hi - lo, ulp = 1.0f / 16777216.0f;
    /* Two 24-bit uniforms per 64-bit draw: vgg16 has 138M weights. */
    for (int64_t i = 0; i < n; i += 2) {
        uint64_t v = tt_rng_next(&r);
        d[i] = lo + span * (float)(v >> 40) * ulp;
        if (i + 1 < n)
            d[i + 1] = lo + span * (float)((v >> 8) & 0xFFFFFF) * ulp;
    }
    return d;
}

static int zb_uniform(tt_zb *b, const char *name, int ndim, const int64_t *shape, float lo,
                      float hi)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    float *d = tt_zoo_uniform_data(b->seed, name, n, lo, hi);
    return tt_graph_const_owned(b->g, name, TT_DT_FLOAT, ndim, shape, d, &b->err);
}

static int zb_scalar(tt_zb *b, const char *name, float v)
{
    static const int64_t none[1] = {1};
    return tt_graph_const(b->g, name, TT_DT_FLOAT, 0, none, &v, &b->err);
}

int tt_zb_input(tt_zb *b, tt_dtype dt, int ndim, const int64_t *shape)
{
    if (b->err.set || !b->g)
        return -1;
    return tt_graph_input(b->g, "input", dt, ndim, shape, &b->err);
}

int tt_zb_uniform(tt_zb *b, int ndim, const int64_t *shape, float lo, float hi, const char *fmt,
                  ...)
{
    char name[ZB_NAME_MAX];
    ZB_NAME(b, name, fmt);
    if (zb_dead(b, 0))
        return -1;
    return zb_uniform(b, name, ndim, shape, lo, hi);
}

int tt_zb_conv(tt_zb *b, int x, int cin, int cout, int k, int stride, int pad, int groups,
               int bias, const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    ZB_NAME(b, name, fmt);
    if (zb_dead(b, x))
        return -1;
    if (groups < 1 || cin % groups || cout % groups)
        return tt_err_set(&b->err, "%s: %d -> %d channels in %d groups", name, cin, cout, groups);
    char wn[ZB_NAME_MAX + 16];
    int64_t fan_in = (int64_t)(cin / groups) * k * k;
    float bound = (float)sqrt(6.0 / (double)fan_in);
    int64_t ws[4] = {cout, cin / groups, k, k};
    snprintf(wn, sizeof wn, "%s.weight", name);
    int in[3] = {x, zb_uniform(b, wn, 4, ws, -bound, bound), -1};
    if (bias) {
        int64_t bs[1] = {cout};
        snprintf(wn, sizeof wn, "%s.bias", name);
        in[2] = zb_uniform(b, wn, 1, bs, -0.1f, 0.1f);
    }
    int y = zb_node(b, TT_GOP_CONV, name, bias ? 3 : 2, in);
    if (y < 0)
        return -1;
    int n = zb_last(b);
    const int64_t dil[2] = {1, 1}, ks[2] = {k, k}, pads[4] = {pad, pad, pad, pad},
                  st[2] = {stride, stride};
    tt_node_set_ints(b->g, n, "dilations", 2, dil);
    tt_node_set_int(b->g, n, "group", groups);
    tt_node_set_ints(b->g, n, "kernel_shape", 2, ks);
    tt_node_set_ints(b->g, n, "pads", 4, pads);
    tt_node_set_ints(b->g, n, "strides", 2, st);
    return y;
}

int tt_zb_bn(tt_zb *b, int x, int c, int closes_residual, const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    ZB_NAME(b, name, fmt);
    if (zb_dead(b, x))
        return -1;
    char wn[ZB_NAME_MAX + 16];
    int64_t s[1] = {c};
    int in[5] = {x};
    snprintf(wn, sizeof wn, "%s.weight", name);
    in[1] = closes_residual ? zb_uniform(b, wn, 1, s, 0.2f, 0.4f)
                            : zb_uniform(b, wn, 1, s, 0.75f, 1.25f);
    snprintf(wn, sizeof wn, "%s.bias", name);
    in[2] = zb_uniform(b, wn, 1, s, -0.1f, 0.1f);
    snprintf(wn, sizeof wn, "%s.running_mean", name);
    in[3] = zb_uniform(b, wn, 1, s, -0.1f, 0.1f);
    snprintf(wn, sizeof wn, "%s.running_var", name);
    in[4] = zb_uniform(b, wn, 1, s, 0.5f, 1.5f);
    int y = zb_node(b, TT_GOP_BATCH_NORMALIZATION, name, 5, in);
    if (y < 0)
        return -1;
    tt_node_set_float(b->g, zb_last(b), "epsilon", b->bn_eps);
    tt_node_set_float(b->g, zb_last(b), "momentum", b->bn_momentum);
    return y;
}

int tt_zb_relu(tt_zb *b, int x, const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    ZB_NAME(b, name, fmt);
    if (zb_dead(b, x))
        return -1;
    return zb_node(b, TT_GOP_RELU, name, 1, &x);
}

int tt_zb_relu6(tt_zb *b, int x, const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    ZB_NAME(b, name, fmt);
    if (zb_dead(b, x))
        return -1;
    char wn[ZB_NAME_MAX + 16];
    int in[3] = {x};
    snprintf(wn, sizeof wn, "%s.min", name);
    in[1] = zb_scalar(b, wn, 0.0f);
    snprintf(wn, sizeof wn, "%s.max", name);
    in[2] = zb_scalar(b, wn, 6.0f);
    return zb_node(b, TT_GOP_CLIP, name, 3, in);
}

int tt_zb_sigmoid(tt_zb *b, int x, const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    ZB_NAME(b, name, fmt);
    if (zb_dead(b, x))
        return -1;
    return zb_node(b, TT_GOP_SIGMOID, name, 1, &x);
}

int tt_zb_silu(tt_zb *b, int x, const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    ZB_NAME(b, name, fmt);
    if (zb_dead(b, x))
        return -1;
    char nn[ZB_NAME_MAX + 16];
    snprintf(nn, sizeof nn, "%s/Sigmoid", name);
    int in[2] = {x, zb_node(b, TT_GOP_SIGMOID, nn, 1, &x)};
    snprintf(nn, sizeof nn, "%s/Mul", name);
    return zb_node(b, TT_GOP_MUL, nn, 2, in);
}

int tt_zb_add(tt_zb *b, int a, int c, const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    ZB_NAME(b, name, fmt);
    if (zb_dead(b, a))
        return -1;
    int in[2] = {a, c};
    return zb_node(b, TT_GOP_ADD, name, 2, in);
}

int tt_zb_mul(tt_zb *b, int a, int c, const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    ZB_NAME(b, name, fmt);
    if (zb_dead(b, a))
        return -1;
    int in[2] = {a, c};
    return zb_node(b, TT_GOP_MUL, name, 2, in);
}

int tt_zb_maxpool(tt_zb *b, int x, int k, int stride, int pad, int ceil_mode, const char *fmt,
                  ...)
{
    char name[ZB_NAME_MAX];
    ZB_NAME(b, name, fmt);
    if (zb_dead(b, x))
        return -1;
    int y = zb_node(b, TT_GOP_MAX_POOL, name, 1, &x);
    if (y < 0)
        return -1;
    int n = zb_last(b);
    const int64_t ks[2] = {k, k}, pads[4] = {pad, pad, pad, pad}, st[2] = {stride, stride};
    tt_node_set_int(b->g, n, "ceil_mode", ceil_mode);
    tt_node_set_ints(b->g, n, "kernel_shape", 2, ks);
    tt_node_set_ints(b->g, n, "pads", 4, pads);
    tt_node_set_ints(b->g, n, "strides", 2, st);
    return y;
}

int tt_zb_avgpool_identity(tt_zb *b, int x, const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    ZB_NAME(b, name, fmt);
    if (zb_dead(b, x))
        return -1;
    int y = zb_node(b, TT_GOP_AVERAGE_POOL, name, 1, &x);
    if (y < 0)
        return -1;
    const int64_t one[2] = {1, 1};
    tt_node_set_ints(b->g, zb_last(b), "kernel_shape", 2, one);
    tt_node_set_ints(b->g, zb_last(b), "strides", 2, one);
    return y;
}

int tt_zb_gap(tt_zb *b, int x, const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    ZB_NAME(b, name, fmt);
    if (zb_dead(b, x))
        return -1;
    return zb_node(b, TT_GOP_GLOBAL_AVERAGE_POOL, name, 1, &x);
}

int tt_zb_flatten(tt_zb *b, int x, const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    ZB_NAME(b, name, fmt);
    if (zb_dead(b, x))
        return -1;
    int y = zb_node(b, TT_GOP_FLATTEN, name, 1, &x);
    if (y >= 0)
        tt_node_set_int(b->g, zb_last(b), "axis", 1);
    return y;
}

int tt_zb_mean_hw(tt_zb *b, int x, const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    ZB_NAME(b, name, fmt);
    if (zb_dead(b, x))
        return -1;
    int y = zb_node(b, TT_GOP_REDUCE_MEAN, name, 1, &x);
    if (y < 0)
        return -1;
    const int64_t axes[2] = {2, 3};
    tt_node_set_ints(b->g, zb_last(b), "axes", 2, axes);
    tt_node_set_int(b->g, zb_last(b), "keepdims", 0);
    return y;
}

int tt_zb_linear(tt_zb *b, int x, int in_features, int out_features, const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    ZB_NAME(b, name, fmt);
    if (zb_dead(b, x))
        return -1;
    char wn[ZB_NAME_MAX + 16];
    float bound = (float)sqrt(6.0 / in_features);
    int64_t ws[2] = {out_features, in_features}, bs[1] = {out_features};
    int in[3] = {x};
    snprintf(wn, sizeof wn, "%s.weight", name);
    in[1] = zb_uniform(b, wn, 2, ws, -bound, bound);
    snprintf(wn, sizeof wn, "%s.bias", name);
    in[2] = zb_uniform(b, wn, 1, bs, -0.1f, 0.1f);
    int y = zb_node(b, TT_GOP_GEMM, name, 3, in);
    if (y < 0)
        return -1;
    int n = zb_last(b);
    tt_node_set_float(b->g, n, "alpha", 1.0);
    tt_node_set_float(b->g, n, "beta", 1.0);
    tt_node_set_int(b->g, n, "transB", 1);
    return y;
}

int tt_zb_concat(tt_zb *b, int n, const int *xs, const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    ZB_NAME(b, name, fmt);
    if (zb_dead(b, 0))
        return -1;
    int y = zb_node(b, TT_GOP_CONCAT, name, n, xs);
    if (y >= 0)
        tt_node_set_int(b->g, zb_last(b), "axis", 1);
    return y;
}

int tt_zb_conv_bn_act(tt_zb *b, int x, int cin, int cout, int k, int stride, int groups,
                      tt_zb_act act, int closes_residual, const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    ZB_NAME(b, name, fmt);
    if (zb_dead(b, x))
        return -1;
    x = tt_zb_conv(b, x, cin, cout, k, stride, (k - 1) / 2, groups, 0, "%s.0", name);
    x = tt_zb_bn(b, x, cout, closes_residual, "%s.1", name);
    switch (act) {
    case TT_ZB_ACT_NONE: return x;
    case TT_ZB_ACT_RELU: return tt_zb_relu(b, x, "%s.2", name);
    case TT_ZB_ACT_RELU6: return tt_zb_relu6(b, x, "%s.2", name);
    case TT_ZB_ACT_SILU: return tt_zb_silu(b, x, "%s.2", name);
    }
    return tt_err_set(&b->err, "%s: bad activation %d", name, (int)act);
}
