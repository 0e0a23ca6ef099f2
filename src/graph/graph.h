/* graph.h - the model graph: tensors and ONNX-style nodes, shape inference,
 * constant evaluation, and the passes that turn a model into kernels.
 *
 * One IR serves both front ends: the ONNX importer (src/onnx) and the
 * built-in zoo (src/zoo) build the same kind of graph, with ONNX operator
 * names, ONNX attributes and ONNX (NCHW) layouts, so that a zoo model and the
 * ONNX export of the same architecture go through identical passes and give
 * identical kernels.
 *
 * Ownership: a tt_graph owns everything reachable from it (names, attributes,
 * constant data); tt_graph_free() releases it.  Tensors and nodes are
 * addressed by index; indices stay valid while the graph lives (passes mark
 * nodes dead rather than removing them, and append new ones).
 */
#ifndef TT_GRAPH_H
#define TT_GRAPH_H

#include <stdint.h>

#include "../util/util.h"

/* TT_GRAPH_MAX_DIMS and the element types tt_dtype (ONNX's codes) are in
 * util.h: .npy arrays (util/npy.h) use them too, below this stage. */

/* Layout of a rank-4 activation after the NHWC pass.  The shape stored in a
 * tensor is always its *physical* shape: after the pass an NHWC tensor has
 * shape [N,H,W,C]; `layout` remembers that its ONNX (logical) shape was
 * [N,C,H,W], so axis attributes of later ops can be remapped. */
typedef enum tt_layout { TT_LAYOUT_PLAIN = 0, TT_LAYOUT_NHWC, TT_LAYOUT_COUNT } tt_layout;

typedef struct tt_tensor {
    char *name;
    tt_dtype dtype;
    int ndim;                           /* -1: rank unknown (before inference) */
    int64_t shape[TT_GRAPH_MAX_DIMS];   /* -1: dimension unknown */
    void *data;                         /* constant value (owned), NULL if computed */
    int producer;                       /* node index, -1 for inputs and constants */
    int is_input;                       /* a graph input (fed at run time) */
    int is_output;                      /* a graph output */
    tt_layout layout;
} tt_tensor;

typedef enum tt_attr_kind {
    TT_ATTR_INT = 0,
    TT_ATTR_FLOAT,
    TT_ATTR_INTS,
    TT_ATTR_FLOATS,
    TT_ATTR_STRING,
    TT_ATTR_TENSOR,   /* a constant tensor (Constant's "value"): index in the graph */
    TT_ATTR_COUNT
} tt_attr_kind;

/* The shape a caller binds a graph input to (`--shape NAME=1x3x224x224`):
 * its symbolic dimensions take these values, its fixed ones must agree. */
typedef struct tt_input_shape {
    const char *name;
    int ndim;
    int64_t dims[TT_GRAPH_MAX_DIMS];
} tt_input_shape;

typedef struct tt_attr {
    char *name;
    tt_attr_kind kind;
    int64_t i;        /* INT */
    double f;         /* FLOAT */
    int n;            /* INTS / FLOATS: element count */
    int64_t *ints;
    double *floats;
    char *s;          /* STRING */
    int tensor;       /* TENSOR */
} tt_attr;

#define TT_NODE_MAX_IO 64

/* The operators a node may have: the ONNX operators the importer accepts,
 * each named in tt_gop_names exactly as ONNX spells its op_type, listed
 * by name; then the ones only the passes of src/model make,
 * named "tt.*", which an ONNX file may not use.  Shape inference (infer.c)
 * has a rule for every ONNX one, constant folding (fold.c) for some. */
typedef enum tt_gop {
    TT_GOP_ABS = 0,
    TT_GOP_ADD,
    TT_GOP_AND,
    TT_GOP_ARG_MAX,
    TT_GOP_ARG_MIN,
    TT_GOP_AVERAGE_POOL,
    TT_GOP_BATCH_NORMALIZATION,
    TT_GOP_CAST,
    TT_GOP_CEIL,
    TT_GOP_CLIP,
    TT_GOP_CONCAT,
    TT_GOP_CONSTANT,
    TT_GOP_CONSTANT_OF_SHAPE,
    TT_GOP_CONV,
    TT_GOP_CONV_TRANSPOSE,
    TT_GOP_COS,
    TT_GOP_DIV,
    TT_GOP_DROPOUT,
    TT_GOP_EINSUM,
    TT_GOP_ELU,
    TT_GOP_EQUAL,
    TT_GOP_ERF,
    TT_GOP_EXP,
    TT_GOP_EXPAND,
    TT_GOP_FLATTEN,
    TT_GOP_FLOOR,
    TT_GOP_GATHER,
    TT_GOP_GEMM,
    TT_GOP_GLOBAL_AVERAGE_POOL,
    TT_GOP_GLOBAL_MAX_POOL,
    TT_GOP_GREATER,
    TT_GOP_GREATER_OR_EQUAL,
    TT_GOP_HARD_SIGMOID,
    TT_GOP_HARD_SWISH,
    TT_GOP_IDENTITY,
    TT_GOP_INSTANCE_NORMALIZATION,
    TT_GOP_LAYER_NORMALIZATION,
    TT_GOP_LEAKY_RELU,
    TT_GOP_LESS,
    TT_GOP_LESS_OR_EQUAL,
    TT_GOP_LOG,
    TT_GOP_LOG_SOFTMAX,
    TT_GOP_MATMUL,
    TT_GOP_MAX,
    TT_GOP_MAX_POOL,
    TT_GOP_MEAN,
    TT_GOP_MIN,
    TT_GOP_MOD,
    TT_GOP_MUL,
    TT_GOP_NEG,
    TT_GOP_NOT,
    TT_GOP_OR,
    TT_GOP_PRELU,
    TT_GOP_PAD,
    TT_GOP_POW,
    TT_GOP_RANGE,
    TT_GOP_RECIPROCAL,
    TT_GOP_REDUCE_L2,
    TT_GOP_REDUCE_MAX,
    TT_GOP_REDUCE_MEAN,
    TT_GOP_REDUCE_MIN,
    TT_GOP_REDUCE_PROD,
    TT_GOP_REDUCE_SUM,
    TT_GOP_REDUCE_SUM_SQUARE,
    TT_GOP_RELU,
    TT_GOP_RESHAPE,
    TT_GOP_RESIZE,
    TT_GOP_ROUND,
    TT_GOP_SCATTER_ND,
    TT_GOP_SELU,
    TT_GOP_SHAPE,
    TT_GOP_SIGMOID,
    TT_GOP_SIGN,
    TT_GOP_SIN,
    TT_GOP_SIZE,
    TT_GOP_SLICE,
    TT_GOP_SOFTMAX,
    TT_GOP_SOFTPLUS,
    TT_GOP_SPLIT,
    TT_GOP_SQRT,
    TT_GOP_SQUEEZE,
    TT_GOP_SUB,
    TT_GOP_SUM,
    TT_GOP_TANH,
    TT_GOP_TILE,
    TT_GOP_TRANSPOSE,
    TT_GOP_UNSQUEEZE,
    TT_GOP_WHERE,
    /* made by the passes (src/model), never imported */
    TT_GOP_ALIAS,            /* "tt.Alias": the same memory under another shape (layout.c) */
    TT_GOP_BATCH_MATMUL,     /* "tt.BatchMatMul": [B,M,K] x [B,N,K]^T (passes.c) */
    TT_GOP_CHANNEL_SHUFFLE,  /* "tt.ChannelShuffle": attribute groups (layout.c) */
    TT_GOP_DENSE,            /* "tt.Dense": [M,K] x [N,K]^T (passes.c) */
    TT_GOP_DILATE,           /* "tt.Dilate": attribute strides per axis (passes.c: ConvTranspose) */
    TT_GOP_SLICE_AXIS,       /* "tt.SliceAxis": attributes axis, start (passes.c, layout.c) */
    TT_GOP_COUNT
} tt_gop;

/* The first operator made only by the passes. */
#define TT_GOP_FIRST_INTERNAL TT_GOP_ALIAS

/* Names, indexed by tt_gop.  Declared without a size: graph/gop.c defines
 * it with one name per operator and asserts that its size, counted from
 * the names, is TT_GOP_COUNT; a size here would make that assertion true
 * whatever the table holds. */
extern const char *const tt_gop_names[];

/* An Einsum equation that is a batched matrix product (what attention
 * writes with it): two operands with the same batch letters in front and
 * the output "B.. i j" of "B.. i k, B.. k j" (transpose_b 0) or of
 * "B.. i k, B.. j k" (transpose_b 1); rank_a and rank_b are the operands'
 * ranks.  0 with *transpose_b set, or -1 (another form: not supported). */
int tt_einsum_matmul(const char *equation, int rank_a, int rank_b, int *transpose_b);

/* The operator named `name` (exact, case-sensitive), TT_GOP_COUNT if none
 * is.  For readers of outside names (the ONNX importer); the internal
 * operators are found too, under their "tt.*" names. */
tt_gop tt_gop_lookup(const char *name);
/* An elementwise operator that fusion and the layout pass treat alike (Add ..
 * HardSwish: one output element from the same element of each input, with
 * broadcasting; LeakyRelu, PRelu, Elu, Selu and Softplus are composed of
 * simpler ones in the kernel builder). */
int tt_gop_is_elementwise(tt_gop op);

typedef struct tt_node {
    char *name;       /* ONNX node name (may be empty, never NULL) */
    tt_gop op;        /* its operator; tt_gop_names[op] is ONNX's op_type */
    int nin, nout;
    int *in;          /* tensor indices; -1 for an omitted optional input */
    int *out;
    int nattr;
    tt_attr *attrs;
    int dead;         /* removed by a pass */
} tt_node;

typedef struct tt_graph {
    char *name;
    int ntensors, cap_tensors;
    tt_tensor *tensors;
    int nnodes, cap_nodes;
    tt_node *nodes;           /* in topological order after tt_graph_toposort */
    int ninputs, noutputs;
    int *inputs, *outputs;    /* tensor indices, in ONNX order */
    /* Tensor names, hashed for tt_graph_find: open addressing over name_cap
     * slots (a power of two, at most half full) holding tensor index + 1,
     * 0 = empty.  Kept by tt_graph_tensor; tensor names never change. */
    int name_cap;
    int *name_slot;
} tt_graph;

/* ---- construction ---------------------------------------------------------- */

tt_graph *tt_graph_new(const char *name);
void tt_graph_free(tt_graph *g);

/* Tensor lookup by name; -1 if absent. */
int tt_graph_find(const tt_graph *g, const char *name);
/* Add a tensor (name copied; must be unique: returns -1 with err otherwise).
 * shape may be NULL with ndim -1 (unknown). */
int tt_graph_tensor(tt_graph *g, const char *name, tt_dtype dt, int ndim, const int64_t *shape,
                    tt_err *err);
/* Add a graph input of the given type and shape; returns its index. */
int tt_graph_input(tt_graph *g, const char *name, tt_dtype dt, int ndim, const int64_t *shape,
                   tt_err *err);
/* Add a constant (an initializer); data (numel * dtype size bytes) is copied. */
int tt_graph_const(tt_graph *g, const char *name, tt_dtype dt, int ndim, const int64_t *shape,
                   const void *data, tt_err *err);
/* Same, taking ownership of data (malloc'd). */
int tt_graph_const_owned(tt_graph *g, const char *name, tt_dtype dt, int ndim,
                         const int64_t *shape, void *data, tt_err *err);
/* Mark tensor t a graph output. */
void tt_graph_mark_output(tt_graph *g, int t);

/* Add a node of operator op (a tt_gop below TT_GOP_COUNT); nin/nout tensor
 * indices are copied.  Output tensors must exist already (tt_graph_tensor
 * with unknown shape) and get producer = the node.  Returns the node index
 * or -1 with err. */
int tt_graph_node(tt_graph *g, tt_gop op, const char *name, int nin, const int *in, int nout,
                  const int *out, tt_err *err);
/* Attributes of node n (values copied). */
void tt_node_set_int(tt_graph *g, int n, const char *name, int64_t v);
void tt_node_set_float(tt_graph *g, int n, const char *name, double v);
void tt_node_set_ints(tt_graph *g, int n, const char *name, int count, const int64_t *v);
void tt_node_set_floats(tt_graph *g, int n, const char *name, int count, const double *v);
void tt_node_set_string(tt_graph *g, int n, const char *name, const char *s);
void tt_node_set_tensor(tt_graph *g, int n, const char *name, int tensor);

/* Attribute access; NULL / the default when absent. */
const tt_attr *tt_node_attr(const tt_node *nd, const char *name);
int64_t tt_node_int(const tt_node *nd, const char *name, int64_t dflt);
double tt_node_float(const tt_node *nd, const char *name, double dflt);

/* Convenience for builders (the zoo): one node with one fresh output tensor
 * named "<node name>_out" (or "t<N>" when name is NULL); returns the output
 * tensor index, -1 with err.  Attributes are added afterwards to the node
 * g->nnodes - 1. */
int tt_graph_op1(tt_graph *g, tt_gop op, const char *name, int nin, const int *in,
                 tt_err *err);

int64_t tt_tensor_numel(const tt_tensor *t);   /* -1 if any dim unknown */

/* ---- analysis -------------------------------------------------------------- */

/* Order nodes topologically (stable: keeps the given order where possible);
 * fails on a cycle or on a tensor read before any producer. */
int tt_graph_toposort(tt_graph *g, tt_err *err);

/* Shape and type inference over the live nodes, in order: fills every output
 * tensor's dtype/ndim/shape from its inputs and attributes, checking them
 * (ONNX semantics, including numpy broadcasting).  Every failure names the
 * node ("node 'conv1' (Conv): input has 3 channels but the weight expects 4 (x
 * groups 1)").  An op with no inference rule (the internal "tt.*" ones)
 * fails with "unsupported operator 'X' (node 'name')".  Shapes that depend
 * on constant tensor values (Reshape's shape, Slice's starts, ...) are read
 * from those constants; a value computed at run time there is an error (run
 * tt_graph_fold_constants to fold torch's Shape->Gather->Concat chains
 * first).  Conv and pool nodes with a SAME_* or
 * VALID auto_pad get explicit "pads" and auto_pad "NOTSET".  Dimensions and
 * element counts above 2^32 are refused.  The rules read ONNX layouts: a
 * graph after the NHWC pass (tensor layouts other than PLAIN) must not be
 * re-inferred. */
int tt_graph_infer(tt_graph *g, tt_err *err);
/* The same for one live node n only (its inputs must be inferred already):
 * for passes that add or rewrite a node. */
int tt_graph_infer_node(tt_graph *g, int n, tt_err *err);

/* Evaluate node n on its constant inputs (all inputs must have data; Shape
 * and Size need only their input's shape) and store the results as constant
 * data of its outputs (producer -1); the node is then marked dead.  Infers
 * the node first.  Supports the ops that appear in shape computations (Shape,
 * Gather, Unsqueeze, Squeeze, Concat, Reshape, Cast, Slice, Range,
 * ConstantOfShape, Equal, Where, Expand, ...) and every elementwise float op.
 * Returns 1 if it folded, 0 if the op is not foldable (or an input is not
 * constant, or the result would exceed 2^24 elements and is not a plain copy
 * such as Identity or Reshape), -1 with err on a real error. */
int tt_graph_fold_node(tt_graph *g, int n, tt_err *err);
/* Whether tt_graph_eval_node can run node n: it has a folding rule and its
 * results' shapes do not depend on a run's data. */
int tt_graph_evaluable(const tt_graph *g, int n);
/* Evaluate node n at run time with the rules of folding (plain, exact,
 * slow: for the small integer and boolean tensors of masks and ids, e.g.
 * Equal, Cast, Where on an attention mask): in[i] holds input i's data (as
 * the graph's tensor describes it; NULL for an omitted input), out[i] gets
 * output i (sized by the graph's inference).  0, or -1 with err. */
int tt_graph_eval_node(const tt_graph *g, int n, const void *const *in, void *const *out, tt_err *err);
/* Infer and fold the whole graph: one pass over the live nodes in order
 * (tt_graph_toposort first), inferring each node and folding it when it is
 * foldable, so that a constant computed early feeds the inference of a later
 * Reshape or Slice; repeated until nothing folds, then a full tt_graph_infer.
 * Graph outputs that become constant stay outputs.  Computed (non-copy)
 * results may take 256 MB in all; past that, nodes stay for the run time.
 * Returns 0 (folded nodes are the dead ones), -1 with err. */
int tt_graph_fold_constants(tt_graph *g, tt_err *err);

/* Users of tensor t among live nodes: fills up to max node indices, returns
 * the total count. */
int tt_graph_users(const tt_graph *g, int t, int *nodes, int max);

/* Human-readable dump (one line per live node with shapes), for debugging
 * and `transtune graph`.  Caller frees. */
char *tt_graph_dump(const tt_graph *g);

#endif
