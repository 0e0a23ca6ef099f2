/* infer_int.h - internals shared by infer.c and fold.c. */
#ifndef TT_INFER_INT_H
#define TT_INFER_INT_H

#include <stdarg.h>

#include "graph.h"

/* Slice of node n resolved per axis of its input (ONNX's clamping of
 * negative and out-of-range starts/ends, steps): start[i], step[i], len[i]
 * for every axis i of the input (untouched axes: 0, 1, dim).  Reads the
 * constant starts/ends/axes/steps inputs (or Slice-1 attributes).  0 or -1
 * with err naming the node. */
int tt_infer_slice(tt_graph *g, int n, int64_t *start, int64_t *step, int64_t *len, tt_err *err);

/* An INT attribute; dflt when absent, INT64_MIN when it has another kind
 * (so that a float never gets converted to an integer it does not fit). */
int64_t tt_infer_iattr(const tt_node *nd, const char *name, int64_t dflt);

/* Set err to "node 'NAME' (OP): <message>" (printf format); returns -1. */
int tt_infer_node_err(tt_err *err, const tt_node *nd, const char *fmt, va_list ap);
/* Input i of nd, or NULL when omitted or beyond its inputs. */
const tt_tensor *tt_infer_input(const tt_graph *g, const tt_node *nd, int i);

/* ---- between the rule files ---------------------------------------------------
 * Shape inference is split by operator family: infer.c holds the helpers
 * below, the rule table and the driver; infer_ops.c the elementwise,
 * convolution, pooling, normalization and matrix-product rules;
 * infer_shape.c the data-movement, reduction and constant rules.  Those
 * three files define TT_INFER_RULES before including this header, which
 * gives them the helpers under their short names. */
#ifdef TT_INFER_RULES

#define MAXD TT_GRAPH_MAX_DIMS
/* Upper bound on a dimension and on an element count (see infer.c's file
 * comment). */
#define INF_MAX_NUMEL ((int64_t)1 << 32)
/* Upper bound on strides and dilations: keeps window arithmetic in int64. */
#define INF_MAX_STEP ((int64_t)1 << 20)

/* The node a rule infers: node n (nd) of graph g; errors go to err. */
typedef struct ictx {
    tt_graph *g;
    int n;
    tt_node *nd;
    tt_err *err;
} ictx;

#define iattr tt_infer_iattr
#define nerr tt_infer_nerr
#define in_t tt_infer_in_t
#define is_num tt_infer_is_num
#define shape_str tt_infer_shape_str
#define set_out tt_infer_set_out
#define same_out tt_infer_same_out
#define norm_axis tt_infer_norm_axis
#define attr_ints tt_infer_attr_ints
#define attr_str tt_infer_attr_str
#define const_ints tt_infer_const_ints
#define const_scalar tt_infer_const_scalar
#define read_axes tt_infer_read_axes
#define bcast2 tt_infer_bcast2
#define unidir tt_infer_unidir

/* Helpers (contracts beside their definitions in infer.c).  Errors: -1 with
 * c->err set, naming the node. */
int nerr(ictx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const tt_tensor *in_t(ictx *c, int i);
int is_num(tt_dtype t);
void shape_str(char *buf, size_t cap, int ndim, const int64_t *s);
int set_out(ictx *c, int k, tt_dtype dt, int ndim, const int64_t *shape);
int same_out(ictx *c, int k, const tt_tensor *x);
int norm_axis(ictx *c, int64_t axis, int rank, const char *what);
int attr_ints(ictx *c, const char *name, int count, int64_t dflt, int64_t lo, int64_t hi,
              int64_t *out);
const char *attr_str(const tt_node *nd, const char *name, const char *dflt);
int const_ints(ictx *c, int i, const char *what, int64_t *vals, int max);
int const_scalar(ictx *c, int i, const char *what, double *v);
int read_axes(ictx *c, int i, int rank, int64_t *axes);
int bcast2(ictx *c, int *on, int64_t *os, const tt_tensor *b);
int unidir(ictx *c, int n, const int64_t *s, const tt_tensor *b, const char *what);

/* The rules, for the table in infer.c: each checks node c->nd's inputs and
 * sets its outputs' types and shapes; 0, or -1 with c->err set. */
/* infer_ops.c */
int tt_infer_rule_unary_float(ictx *c);
int tt_infer_rule_unary_num(ictx *c);
int tt_infer_rule_identity(ictx *c);
int tt_infer_rule_dropout(ictx *c);
int tt_infer_rule_not(ictx *c);
int tt_infer_rule_arith(ictx *c);
int tt_infer_rule_pow(ictx *c);
int tt_infer_rule_cmp(ictx *c);
int tt_infer_rule_logic(ictx *c);
int tt_infer_rule_prelu(ictx *c);
int tt_infer_rule_where(ictx *c);
int tt_infer_rule_clip(ictx *c);
int tt_infer_rule_cast(ictx *c);
int tt_infer_rule_conv(ictx *c);
int tt_infer_rule_conv_transpose(ictx *c);
int tt_infer_rule_resize(ictx *c);
int tt_infer_rule_pool(ictx *c);
int tt_infer_rule_global_pool(ictx *c);
int tt_infer_rule_batchnorm(ictx *c);
int tt_infer_rule_instnorm(ictx *c);
int tt_infer_rule_layernorm(ictx *c);
int tt_infer_rule_gemm(ictx *c);
int tt_infer_rule_matmul(ictx *c);
int tt_infer_rule_einsum(ictx *c);
int tt_infer_rule_scatter_nd(ictx *c);
/* infer_shape.c */
int tt_infer_rule_concat(ictx *c);
int tt_infer_rule_flatten(ictx *c);
int tt_infer_rule_reshape(ictx *c);
int tt_infer_rule_transpose(ictx *c);
int tt_infer_rule_softmax(ictx *c);
int tt_infer_rule_reduce(ictx *c);
int tt_infer_rule_argminmax(ictx *c);
int tt_infer_rule_gather(ictx *c);
int tt_infer_rule_split(ictx *c);
int tt_infer_rule_slice(ictx *c);
int tt_infer_rule_squeeze(ictx *c);
int tt_infer_rule_unsqueeze(ictx *c);
int tt_infer_rule_pad(ictx *c);
int tt_infer_rule_tile(ictx *c);
int tt_infer_rule_expand(ictx *c);
int tt_infer_rule_constant(ictx *c);
int tt_infer_rule_shape(ictx *c);
int tt_infer_rule_size(ictx *c);
int tt_infer_rule_range(ictx *c);
int tt_infer_rule_constant_of_shape(ictx *c);

#endif /* TT_INFER_RULES */

#endif
