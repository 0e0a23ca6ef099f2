/* model.h - from a model graph to kernels: the graph passes (constant
 * folding, BatchNorm folding, canonical matmuls, layer-norm recognition,
 * NCHW -> NHWC), fusion into kernels (an anchor op and its elementwise
 * epilogue, as TVM's FuseOps), one compute DAG per kernel with TOPI's stage
 * structure, deduplication by workload key, and the call list that the
 * executor (src/exec) runs.
 *
 * A tt_model owns its graph (after the passes) and everything else here.
 * Tensors in calls are graph tensor indices; a tensor whose storage is
 * another's (Reshape, Flatten, Squeeze, Unsqueeze, Identity) has
 * alias_of[t] = the tensor that owns the memory, else alias_of[t] = t.
 */
#ifndef TT_MODEL_H
#define TT_MODEL_H

#include "../dag/dag.h"
#include "../graph/graph.h"

#define TT_MODEL_MAX_ARGS 32
/* Graph inputs a model may have (token ids, attention mask, token types, ...). */
#define TT_MODEL_MAX_INPUTS 16

/* One unique kernel (deduplicated by workload key). */
typedef struct tt_kernel {
    tt_dag *dag;
    char *workload_key;       /* tt_dag_workload_key */
    int weight;               /* calls of this kernel in one inference */
    char first_node[96];      /* name of the anchor node of its first call */
    /* Alternative computes (Winograd): a direct 3x3 stride-1 conv kernel has
     * twins computing the same with F(m x m, 3 x 3), m in TT_WINOGRAD_TILES
     * (tt_dag_winograd_twin): the same arguments, the weight transformed.
     * Calls name the direct kernel; the executor runs a twin instead when
     * told to (tt_exec_opts.use_alt), and `run` tells it which is fastest by
     * measuring them all.  Twins come after every direct kernel. */
    int nalt;                 /* a direct kernel: its twins, alts[0..nalt) */
    int alts[2];
    int alt_of;               /* a twin: its direct kernel, -1 for a direct kernel */
    int wino_m;               /* a twin: its output tile m; 0 for a direct kernel */
} tt_kernel;

/* The output tiles of the Winograd twins, in order: 4 (TOPI's choice on CPU)
 * and 2 (its weight is 16/9 of the direct one's where 4's is 36/9: it wins
 * where the weights dominate, 7x7x512 -> 512: 0.66 ms against 1.18 for
 * F(4,3) and 0.97 direct).  $TT_WINOGRAD=0 builds models without twins. */
#define TT_WINOGRAD_NTILES 2
static const int TT_WINOGRAD_TILES[TT_WINOGRAD_NTILES] = {4, 2};

typedef enum tt_mcall_kind {
    TT_MCALL_KERNEL = 0,      /* a generated kernel */
    TT_MCALL_GATHER,          /* rows of a constant table picked by int64 ids (embeddings):
                                 args = table [V,D], ids, output [.., D] */
    TT_MCALL_HOST,            /* node `node` evaluated by the executor (tt_graph_eval_node): ops
                                 on integer or boolean tensors (masks); args = its present
                                 inputs in order, then its output */
    TT_MCALL_COUNT
} tt_mcall_kind;

/* One call of the inference program, in execution order. */
typedef struct tt_mcall {
    tt_mcall_kind kind;
    int kernel;                          /* TT_MCALL_KERNEL: index in kernels */
    int nargs;
    int args[TT_MODEL_MAX_ARGS];         /* graph tensors: placeholders in DAG order, then output */
    int node;                            /* anchor node (for messages) */
    int last_node;                       /* the group's last node: calls run in this order */
} tt_mcall;

typedef struct tt_model {
    char name[128];
    tt_graph *g;              /* after the passes; owns constants (weights in kernel layout) */
    int nkernels;
    tt_kernel *kernels;
    int ncalls;
    tt_mcall *calls;
    int *alias_of;            /* per graph tensor */
    int input, output;        /* graph input (the first) and output tensors (ONNX layout) */
    int ninputs;              /* graph inputs, in the model's order: inputs[0] = input */
    int inputs[TT_MODEL_MAX_INPUTS];
    double flops;             /* one inference */
} tt_model;

/* Run the passes and build the kernels of graph g (ownership taken, freed
 * on failure too).  The graph must have 1 to TT_MODEL_MAX_INPUTS inputs
 * (float32, int64, int32 or bool) and one float output. */
int tt_model_build(tt_graph *g, tt_model **out, tt_err *err);

/* Load `what`: a zoo model name, or a path ending in ".onnx"; then build. */
int tt_model_load(const char *what, tt_model **out, tt_err *err);
/* The same with an ONNX file's input shapes bound (tt_onnx_load_shapes);
 * shapes for a zoo model are an error. */
int tt_model_load_shapes(const char *what, const tt_input_shape *shapes, int nshapes, tt_model **out, tt_err *err);

void tt_model_free(tt_model *m);

/* The graph passes alone (used by tt_model_build; exposed for tests):
 * fold constants, drop Identity/Dropout, fold BatchNorm into Conv (or into a
 * per-channel Mul+Add), canonical matmuls, layer norm, NCHW -> NHWC. */
int tt_model_passes(tt_graph *g, tt_err *err);

/* The direct kernels (every kernel before the first Winograd twin): what
 * tune, transfer and the database work on for now; the twins are chosen
 * between at `run` (tt_exec_choose). */
static inline int tt_model_ndirect(const tt_model *m)
{
    int n = 0;
    while (n < m->nkernels && m->kernels[n].alt_of < 0)
        n++;
    return n;
}

/* Bytes of all inputs of m, one after the other in the model's order: the
 * layout of the `input` that the executor's functions take. */
int64_t tt_model_input_bytes(const tt_model *m);
/* Byte offset of input i in that layout. */
int64_t tt_model_input_offset(const tt_model *m, int i);

/* Root storage of tensor t (following aliases). */
static inline int tt_model_root(const tt_model *m, int t) { return m->alias_of[t]; }

#endif
