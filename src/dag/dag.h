/* dag.h - compute DAGs: tensors (ops), index/value expressions, TOPI-shaped
 * builders, canonical print, workload and class keys.
 *
 * A DAG is a list of ops in topological order; op i is Ansor's "stage i" of the
 * initial state.  Placeholders are ops too.  A compute op has spatial axes (one
 * per output dimension), optional reduce axes, and a body expression over loads
 * of earlier ops.  Expressions are immutable trees allocated from the DAG's
 * arena and may be shared.  Loads name the tensor by its uid (stable across
 * schedule transformations that insert stages, see sched.h).
 *
 * The stage list, stage order, axis order and reduce-axis order of every
 * builder follow TVM's TOPI computes as they were when the logs in
 * tests/data/ansor were tuned (late 2020), because Ansor records address
 * stages and iterators by position.  Each builder documents its stage list.
 */
#ifndef TT_DAG_H
#define TT_DAG_H

#include <stdint.h>

#include "../util/util.h"

#define TT_MAX_DIMS 8
#define TT_MAX_RAXES 8
#define TT_NAME_MAX 48

/* ---- expressions ---------------------------------------------------------- */

typedef enum tt_type { TT_T_INT = 0, TT_T_FLOAT, TT_T_BOOL, TT_T_COUNT } tt_type;

typedef enum tt_ekind {
    TT_E_INT = 0,   /* ival */
    TT_E_FLOAT,     /* fval (float32 constant; +-inf allowed) */
    TT_E_AXIS,      /* spatial axis `axis` of the enclosing op (type int) */
    TT_E_RAXIS,     /* reduce axis `axis` of the enclosing op (type int) */
    TT_E_LOAD,      /* load uid[args...] (type float) */
    TT_E_ADD,       /* a0 + a1 (int or float) */
    TT_E_SUB,
    TT_E_MUL,
    TT_E_DIV,       /* float division */
    TT_E_FLOORDIV,  /* int floor division (TVM floordiv) */
    TT_E_FLOORMOD,  /* int floor modulo */
    TT_E_MIN,
    TT_E_MAX,
    TT_E_LT,        /* comparisons: type bool */
    TT_E_LE,
    TT_E_GT,
    TT_E_GE,
    TT_E_EQ,
    TT_E_NE,
    TT_E_AND,       /* bool */
    TT_E_OR,
    TT_E_NOT,
    TT_E_SELECT,    /* a0 ? a1 : a2 (TVM if_then_else / select) */
    TT_E_CALL,      /* math call `call` on float args */
    TT_E_CAST,      /* int -> float conversion of a0 */
    TT_E_COUNT
} tt_ekind;

typedef enum tt_call {
    TT_CALL_EXP = 0,
    TT_CALL_LOG,
    TT_CALL_SQRT,
    TT_CALL_RSQRT,
    TT_CALL_TANH,
    TT_CALL_ERF,
    TT_CALL_SIGMOID,
    TT_CALL_POW,  /* 2 args */
    TT_CALL_FABS,
    TT_CALL_COUNT
} tt_call;

extern const char *const tt_ekind_names[TT_E_COUNT];
extern const char *const tt_call_names[TT_CALL_COUNT];

typedef struct tt_expr tt_expr;
struct tt_expr {
    tt_ekind kind;
    tt_type type;
    int n;          /* number of args */
    union {
        int64_t ival;
        double fval;
        int axis;   /* TT_E_AXIS / TT_E_RAXIS */
        int uid;    /* TT_E_LOAD: tensor uid */
        tt_call call;
    } u;
    tt_expr **args; /* n children; for LOAD the indices */
};

/* Constructors (allocate from arena a). */
tt_expr *tt_e_int(tt_arena *a, int64_t v);
tt_expr *tt_e_float(tt_arena *a, double v);
tt_expr *tt_e_axis(tt_arena *a, int i);
tt_expr *tt_e_raxis(tt_arena *a, int i);
tt_expr *tt_e_load(tt_arena *a, int uid, int n, tt_expr *const *idx);
tt_expr *tt_e_bin(tt_arena *a, tt_ekind k, tt_expr *x, tt_expr *y);
tt_expr *tt_e_un(tt_arena *a, tt_ekind k, tt_expr *x); /* NOT, CAST */
tt_expr *tt_e_select(tt_arena *a, tt_expr *c, tt_expr *x, tt_expr *y);
tt_expr *tt_e_call(tt_arena *a, tt_call f, int n, tt_expr *const *args);

/* Generic rewriting: a copy of e in which every AXIS/RAXIS/LOAD node is passed
 * to fn first; if fn returns non-NULL that replaces the node (its children are
 * not visited).  Used for inlining and axis substitution. */
typedef tt_expr *(*tt_expr_fn)(void *ctx, tt_arena *a, const tt_expr *e);
tt_expr *tt_expr_rewrite(tt_arena *a, const tt_expr *e, tt_expr_fn fn, void *ctx);

/* ---- ops ---------------------------------------------------------------- */

typedef enum tt_opkind { TT_OP_PLACEHOLDER = 0, TT_OP_COMPUTE, TT_OP_COUNT } tt_opkind;

typedef enum tt_red { TT_RED_NONE = 0, TT_RED_SUM, TT_RED_MAX, TT_RED_MIN, TT_RED_COUNT } tt_red;
extern const char *const tt_red_names[TT_RED_COUNT];

typedef struct tt_axis {
    char name[TT_NAME_MAX];
    int64_t extent;
} tt_axis;

typedef struct tt_op {
    int uid;                  /* unique id within the DAG (== index for DAG ops) */
    tt_opkind kind;
    char name[TT_NAME_MAX];   /* TOPI tensor name: "PaddedInput", "Conv2dOutput", "T_add" */
    char tag[TT_NAME_MAX];    /* TOPI tag: "conv2d_nhwc", "elemwise", "broadcast", "injective", ... */
    int ndim;
    tt_axis axis[TT_MAX_DIMS];    /* spatial axes = output dims (extent = shape) */
    int nreduce;
    tt_axis raxis[TT_MAX_RAXES];
    tt_red red;                   /* reduction kind; NONE if nreduce == 0 */
    tt_expr *body;                /* value (reduced over raxes if red != NONE) */
    tt_expr *cond;                /* optional reduction predicate (NULL = always) */
    int is_const;                 /* placeholder holding constant weights (layout-free) */
    char attrs[96];               /* op attributes for the canonical print, e.g.
                                     "stride=2,2 pad=3,3,3,3 dil=1,1 groups=1" */
} tt_op;

/* A compute DAG. ops[i]->uid == i.  Inputs are the placeholders, in op order;
 * outputs are the ops with no consumer (normally exactly one, the last op). */
typedef struct tt_dag {
    tt_arena *arena;
    int nops;
    tt_op **ops;
    char class_key[128];      /* fused op sequence, e.g. "conv2d_nhwc+add+relu" */
    double flops;             /* floating-point op count (FlopEstimator rules) */
} tt_dag;

/* ---- building ----------------------------------------------------------- */

tt_dag *tt_dag_new(void);
void tt_dag_free(tt_dag *d);
/* Append a placeholder; returns its uid. */
int tt_dag_placeholder(tt_dag *d, const char *name, int ndim, const int64_t *shape, int is_const);
/* Append a compute op with the given axes (names may be NULL for defaults
 * "ax0".. / "rv0"..); body is set by the caller afterwards via tt_dag_op(). */
int tt_dag_compute(tt_dag *d, const char *name, const char *tag, int ndim, const int64_t *shape,
                   const char *const *axis_names, int nreduce, const int64_t *rextents,
                   const char *const *raxis_names, tt_red red);
tt_op *tt_dag_op(tt_dag *d, int uid);
/* Finish: validate (loads in bounds of rank, uids earlier), compute flops and
 * class key.  Returns 0 or sets err. */
int tt_dag_finish(tt_dag *d, tt_err *err);

/* ---- layout ---------------------------------------------------------------
 * What transfer needs to know of a kernel's stages to move a schedule between
 * kernels that share an anchor but not an epilogue: per op whether it is a
 * compute, its name, tag and rank, and `prefix`, the number of leading ops
 * that are the anchor, its own stages and what comes before them (padding,
 * inputs).  The ops after the prefix are the epilogue: elementwise stages
 * and the tensors they read, the last of them the kernel's output.  Built
 * from a DAG, or read back from its canonical print (a database's kernels
 * table keeps only the print). */

#define TT_LAYOUT_MAX_OPS 64

typedef struct tt_layout_op {
    int compute;                  /* 0: placeholder */
    int ndim, nreduce;
    char name[TT_NAME_MAX];       /* "" for placeholders */
    char tag[TT_NAME_MAX];
} tt_layout_op;

typedef struct tt_dag_layout {
    int nops;
    int prefix;                   /* 0: the DAG has no anchor (a lone elementwise op) */
    tt_layout_op op[TT_LAYOUT_MAX_OPS];
} tt_dag_layout;

/* The layout of d.  Returns 0, or -1 with err set if d has more than
 * TT_LAYOUT_MAX_OPS ops. */
int tt_dag_layout_of(const tt_dag *d, tt_dag_layout *L, tt_err *err);
/* The layout of the DAG whose canonical print (tt_dag_print, concrete or
 * abstract) is `print`.  Returns 0, or -1 with err saying what is malformed:
 * the text is outside input (a database file). */
int tt_dag_layout_parse(const char *print, tt_dag_layout *L, tt_err *err);
/* Set L->prefix from L's ops (the class key's rule); returns it. */
int tt_dag_layout_finish(tt_dag_layout *L);

/* Number of placeholders, and the i-th placeholder / output uid. */
int tt_dag_ninputs(const tt_dag *d);
int tt_dag_input(const tt_dag *d, int i);
int tt_dag_output(const tt_dag *d); /* the last op */
int64_t tt_op_numel(const tt_op *op);

/* ---- TOPI-compatible builders -------------------------------------------
 * Each returns a finished DAG or NULL with err set.  The epilogue list names
 * elementwise/broadcast stages applied to the anchor's output in order. */

typedef enum tt_epi {
    TT_EPI_BIAS_ADD = 0, /* + placeholder [1,..,1,C] (broadcast over the last dim) -> T_add;
                            dense (2-D output) uses a 1-D bias [C], as Relay's bias_add does */
    TT_EPI_BIAS_MUL,     /* * placeholder [1,..,1,C] -> T_multiply */
    TT_EPI_RESIDUAL_ADD, /* + placeholder of the output shape -> T_add */
    TT_EPI_RESIDUAL_MUL, /* * placeholder of the output shape -> T_multiply */
    TT_EPI_RELU,         /* max(x, 0) -> T_relu */
    TT_EPI_CLIP,         /* clip(x, lo, hi) -> clip (attrs lo, hi) */
    TT_EPI_SCALAR_ADD,   /* + a 0-d constant compute stage "compile_engine_const" (value lo[i])
                            -> T_add: the const stage comes before the T_add stage */
    TT_EPI_COUNT
} tt_epi;
extern const char *const tt_epi_names[TT_EPI_COUNT];

typedef struct tt_epilogue {
    int n;
    tt_epi ops[8];
    double lo[8], hi[8];  /* for CLIP; lo[i] is the value of SCALAR_ADD */
    int bias_1d;          /* BIAS_* tensors are 1-D [C] (Relay's bias_add) rather than
                             [1,..,1,C]; dense always uses 1-D */
} tt_epilogue;

typedef struct tt_conv2d_params {
    int64_t n, h, w, ci;       /* input NHWC */
    int64_t kh, kw, co;        /* weight HWIO: [kh, kw, ci/groups, co] */
    int64_t stride_h, stride_w;
    int64_t pad_t, pad_l, pad_b, pad_r;
    int64_t dil_h, dil_w;
    int64_t groups;            /* 1 = conv2d_nhwc; == ci == co... see depthwise */
    int depthwise;             /* depthwise_conv2d_nhwc: weight [kh, kw, ci, multiplier] */
} tt_conv2d_params;

tt_dag *tt_build_conv2d_nhwc(const tt_conv2d_params *p, const tt_epilogue *epi, tt_err *err);
/* Winograd F(m x m, 3 x 3) for NHWC (TOPI's conv2d_winograd_nhwc in its
 * without_weight_transform form: the weight is given transformed,
 * (alpha, alpha, CO, CI) with alpha = m + 2, see tt_winograd_transform_weight).
 * m = 2, 4 or 6.  Stages, as TOPI's ComputeDAG orders them:
 *   data, data_pad (bottom/right padded to whole tiles), input_tile
 *   (alpha, alpha, P, CI), B (const matrix), data_pack = B^T d B,
 *   weight, bgemm (alpha^2 GEMMs P x CO over CI), A (const matrix),
 *   inverse = A^T M A (m, m, P, CO), conv2d_winograd (NHWC), epilogue;
 * P = N * ceil(OH/m) * ceil(OW/m).  data_pack and inverse carry TOPI's
 * auto_scheduler_simplify_const_tensor_indices axes in attrs (const_axes=). */
tt_dag *tt_build_conv2d_winograd_nhwc(const tt_conv2d_params *p, int m, const tt_epilogue *epi,
                                      tt_err *err);
/* Whether a conv admits Winograd: 3x3, stride 1, no dilation, not grouped. */
int tt_winograd_applies(const tt_conv2d_params *p);
/* The parameters of a direct conv kernel's DAG (tt_build_conv2d_nhwc, then
 * any epilogue appended): 0, or -1 if d is not one. */
int tt_dag_conv_params(const tt_dag *d, tt_conv2d_params *p);
/* The Winograd F(m, 3) form of a direct conv kernel d: the same inputs in the
 * same order (the weight transformed, see tt_winograd_transform_weight), the
 * same epilogue stages; NULL with err if d does not admit Winograd. */
tt_dag *tt_dag_winograd_twin(const tt_dag *d, int m, tt_err *err);
/* winograd.c: TVM's Cook-Toom matrices of F(m, r) (only r = 3; m = 2, 4, 6):
 * A (alpha x m), B (alpha x alpha, stored as TVM stores it: data_pack reads
 * B[r_a][eps]), G (alpha x r), row-major.  -1 for other sizes. */
#define TT_WINO_MAX_ALPHA 8
int tt_winograd_matrices(int m, int r, double *A, double *B, double *G);
/* The weight transform U = G g G^T of every (ci, co): HWIO [3, 3, ci, co] ->
 * [alpha, alpha, co, ci], in double, rounded once.  -1 for a bad m. */
int tt_winograd_transform_weight(int m, int64_t ci, int64_t co, const float *hwio, float *out);
/* dense: data [M,K], weight [N,K] -> T_dense? (see dag builder docs) */
tt_dag *tt_build_dense(int64_t m, int64_t n, int64_t k, const tt_epilogue *epi, tt_err *err);
/* batch_matmul: A [B,M,K], B [B,N,K] (TOPI's transposed-B layout) */
tt_dag *tt_build_batch_matmul(int64_t b, int64_t m, int64_t n, int64_t k, const tt_epilogue *epi,
                              tt_err *err);
/* The auto-scheduler tutorial's matmul_add: A[N,L] x B[L,M] + C[N,M]. */
tt_dag *tt_build_matmul_add(int64_t n, int64_t l, int64_t m, tt_err *err);

typedef enum tt_pool { TT_POOL_MAX = 0, TT_POOL_AVG, TT_POOL_COUNT } tt_pool;
typedef struct tt_pool_params {
    tt_pool kind;
    int64_t n, h, w, c;        /* NHWC */
    int64_t kh, kw, stride_h, stride_w, pad_t, pad_l, pad_b, pad_r;
    int count_include_pad;
} tt_pool_params;
tt_dag *tt_build_pool2d_nhwc(const tt_pool_params *p, const tt_epilogue *epi, tt_err *err);
tt_dag *tt_build_global_avg_pool_nhwc(int64_t n, int64_t h, int64_t w, int64_t c,
                                      const tt_epilogue *epi, tt_err *err);
/* softmax over the last axis of a tensor of rank ndim. */
tt_dag *tt_build_softmax(int ndim, const int64_t *shape, tt_err *err);

/* ---- stages appended to a DAG under construction (ewise.c) ----------------
 * Each appends one or more stages after the existing ones and returns the
 * uid of the stage holding the result (-1 with err).  Inputs are uids of
 * earlier ops (placeholders the caller appended just before, or stages).
 * Call tt_dag_finish() again after the last one. */

typedef enum tt_ew {
    TT_EW_ADD = 0, /* binary, numpy broadcasting: T_add, T_subtract, ... (tag broadcast) */
    TT_EW_SUB,
    TT_EW_MUL,
    TT_EW_DIV,
    TT_EW_POW,
    TT_EW_MAX,
    TT_EW_MIN,
    TT_EW_RELU,    /* unary (tag elemwise): T_relu, clip ("compute"), T_sigmoid, ... */
    TT_EW_CLIP,
    TT_EW_SIGMOID,
    TT_EW_TANH,
    TT_EW_ERF,
    TT_EW_SQRT,
    TT_EW_EXP,
    TT_EW_NEG,
    TT_EW_LOG,
    TT_EW_ABS,
    TT_EW_COUNT
} tt_ew;
extern const char *const tt_ew_names[TT_EW_COUNT];

/* numpy broadcast of two shapes into out; returns the rank or -1 with err. */
int tt_dag_broadcast_shape(int ra, const int64_t *a, int rb, const int64_t *b, int64_t *out,
                           tt_err *err);
int tt_dag_const_scalar(tt_dag *d, double v);  /* 0-d "compile_engine_const" stage */
int tt_dag_ew_binary(tt_dag *d, tt_ew op, int a, int b, tt_err *err);
/* lo, hi: CLIP's bounds (ignored otherwise). */
int tt_dag_ew_unary(tt_dag *d, tt_ew op, int x, double lo, double hi, tt_err *err);
/* Layer norm over the last axis with 1-D gamma, beta. */
int tt_dag_layer_norm(tt_dag *d, int x, int gamma, int beta, double eps, tt_err *err);
/* Mean over axes (distinct, in range). */
int tt_dag_mean(tt_dag *d, int x, int naxes, const int *axes, int keepdims, tt_err *err);
int tt_dag_concat(tt_dag *d, int n, const int *xs, int axis, tt_err *err);
/* Output dim k is input dim perm[k]; name NULL = "T_transpose". */
int tt_dag_transpose(tt_dag *d, int x, const int *perm, const char *name, tt_err *err);
int tt_dag_slice(tt_dag *d, int x, const int64_t *start, const int64_t *step,
                 const int64_t *oshape, tt_err *err);
/* ShuffleNet's channel shuffle on the last axis (C channels seen as [g, C/g],
 * transposed to [C/g, g]): out[.., c] = x[.., (c % g) * (C/g) + c / g];
 * g must divide C.  NCHW graphs spell it Reshape -> Transpose -> Reshape. */
int tt_dag_channel_shuffle(tt_dag *d, int x, int64_t groups, tt_err *err);
int tt_dag_pad(tt_dag *d, int x, const int64_t *before, const int64_t *after, double value,
               tt_err *err);

/* ---- resampling (resample.c) --------------------------------------------- */

/* How an output index o of a resized axis reads its input: the source
 * coordinate is the rational (a o + b) / den; mode picks the index from it
 * (ONNX's nearest modes) or interpolates linearly between floor and floor + 1
 * (the coordinate clamped to [0, in - 1]).  Indices are clamped to the axis. */
typedef enum tt_rs_mode {
    TT_RS_FLOOR = 0,
    TT_RS_CEIL,
    TT_RS_ROUND_PREFER_FLOOR,
    TT_RS_ROUND_PREFER_CEIL,
    TT_RS_LINEAR
} tt_rs_mode;

typedef struct tt_resample_axis {
    int axis;              /* axis of x */
    int64_t in, out;       /* its extent before and after */
    int64_t a, b, den;     /* source coordinate (a o + b) / den, den >= 1 */
    tt_rs_mode mode;
} tt_resample_axis;

/* "resize" (tag injective,resize): x resized along naxes axes as ax says
 * (linear along at most 3).  Returns its uid, -1 with err. */
int tt_dag_resize(tt_dag *d, int x, int naxes, const tt_resample_axis *ax, tt_err *err);
/* "DilatedInput" (TOPI's nn.dilate): strides[i] - 1 zeros between the
 * elements of x along axis i; the first step of a transposed convolution. */
int tt_dag_dilate(tt_dag *d, int x, const int64_t *strides, tt_err *err);

/* ---- keys and printing --------------------------------------------------- */

/* Canonical print: every op with its kind, name, tag, axes, reduce kind, body;
 * with shapes abstracted (abstract != 0: extents and shape-derived constants
 * replaced by symbols) or concrete.  Caller frees. */
char *tt_dag_print(const tt_dag *d, int abstract);
/* Workload key: JSON list ["<hash of abstract print>", [shape], [shape], ...]
 * with inputs first and the output last (docs/DESIGN.md).  Caller frees. */
char *tt_dag_workload_key(const tt_dag *d);

#endif
