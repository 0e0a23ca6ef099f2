/* gop.c - the graph operators' names (graph.h's tt_gop) and the lookup of
 * an operator by name. */
#include "graph.h"

#include <string.h>

const char *const tt_gop_names[] = {
    [TT_GOP_ABS] = "Abs",
    [TT_GOP_ADD] = "Add",
    [TT_GOP_AND] = "And",
    [TT_GOP_ARG_MAX] = "ArgMax",
    [TT_GOP_ARG_MIN] = "ArgMin",
    [TT_GOP_AVERAGE_POOL] = "AveragePool",
    [TT_GOP_BATCH_NORMALIZATION] = "BatchNormalization",
    [TT_GOP_CAST] = "Cast",
    [TT_GOP_CEIL] = "Ceil",
    [TT_GOP_CLIP] = "Clip",
    [TT_GOP_CONCAT] = "Concat",
    [TT_GOP_CONSTANT] = "Constant",
    [TT_GOP_CONSTANT_OF_SHAPE] = "ConstantOfShape",
    [TT_GOP_CONV] = "Conv",
    [TT_GOP_CONV_TRANSPOSE] = "ConvTranspose",
    [TT_GOP_COS] = "Cos",
    [TT_GOP_DIV] = "Div",
    [TT_GOP_DROPOUT] = "Dropout",
    [TT_GOP_EINSUM] = "Einsum",
    [TT_GOP_ELU] = "Elu",
    [TT_GOP_EQUAL] = "Equal",
    [TT_GOP_ERF] = "Erf",
    [TT_GOP_EXP] = "Exp",
    [TT_GOP_EXPAND] = "Expand",
    [TT_GOP_FLATTEN] = "Flatten",
    [TT_GOP_FLOOR] = "Floor",
    [TT_GOP_GATHER] = "Gather",
    [TT_GOP_GEMM] = "Gemm",
    [TT_GOP_GLOBAL_AVERAGE_POOL] = "GlobalAveragePool",
    [TT_GOP_GLOBAL_MAX_POOL] = "GlobalMaxPool",
    [TT_GOP_GREATER] = "Greater",
    [TT_GOP_GREATER_OR_EQUAL] = "GreaterOrEqual",
    [TT_GOP_HARD_SIGMOID] = "HardSigmoid",
    [TT_GOP_HARD_SWISH] = "HardSwish",
    [TT_GOP_IDENTITY] = "Identity",
    [TT_GOP_INSTANCE_NORMALIZATION] = "InstanceNormalization",
    [TT_GOP_LAYER_NORMALIZATION] = "LayerNormalization",
    [TT_GOP_LEAKY_RELU] = "LeakyRelu",
    [TT_GOP_LESS] = "Less",
    [TT_GOP_LESS_OR_EQUAL] = "LessOrEqual",
    [TT_GOP_LOG] = "Log",
    [TT_GOP_LOG_SOFTMAX] = "LogSoftmax",
    [TT_GOP_MATMUL] = "MatMul",
    [TT_GOP_MAX] = "Max",
    [TT_GOP_MAX_POOL] = "MaxPool",
    [TT_GOP_MEAN] = "Mean",
    [TT_GOP_MIN] = "Min",
    [TT_GOP_MOD] = "Mod",
    [TT_GOP_MUL] = "Mul",
    [TT_GOP_NEG] = "Neg",
    [TT_GOP_NOT] = "Not",
    [TT_GOP_OR] = "Or",
    [TT_GOP_PRELU] = "PRelu",
    [TT_GOP_PAD] = "Pad",
    [TT_GOP_POW] = "Pow",
    [TT_GOP_RANGE] = "Range",
    [TT_GOP_RECIPROCAL] = "Reciprocal",
    [TT_GOP_REDUCE_L2] = "ReduceL2",
    [TT_GOP_REDUCE_MAX] = "ReduceMax",
    [TT_GOP_REDUCE_MEAN] = "ReduceMean",
    [TT_GOP_REDUCE_MIN] = "ReduceMin",
    [TT_GOP_REDUCE_PROD] = "ReduceProd",
    [TT_GOP_REDUCE_SUM] = "ReduceSum",
    [TT_GOP_REDUCE_SUM_SQUARE] = "ReduceSumSquare",
    [TT_GOP_RELU] = "Relu",
    [TT_GOP_RESHAPE] = "Reshape",
    [TT_GOP_RESIZE] = "Resize",
    [TT_GOP_ROUND] = "Round",
    [TT_GOP_SCATTER_ND] = "ScatterND",
    [TT_GOP_SELU] = "Selu",
    [TT_GOP_SHAPE] = "Shape",
    [TT_GOP_SIGMOID] = "Sigmoid",
    [TT_GOP_SIGN] = "Sign",
    [TT_GOP_SIN] = "Sin",
    [TT_GOP_SIZE] = "Size",
    [TT_GOP_SLICE] = "Slice",
    [TT_GOP_SOFTMAX] = "Softmax",
    [TT_GOP_SOFTPLUS] = "Softplus",
    [TT_GOP_SPLIT] = "Split",
    [TT_GOP_SQRT] = "Sqrt",
    [TT_GOP_SQUEEZE] = "Squeeze",
    [TT_GOP_SUB] = "Sub",
    [TT_GOP_SUM] = "Sum",
    [TT_GOP_TANH] = "Tanh",
    [TT_GOP_TILE] = "Tile",
    [TT_GOP_TRANSPOSE] = "Transpose",
    [TT_GOP_UNSQUEEZE] = "Unsqueeze",
    [TT_GOP_WHERE] = "Where",
    [TT_GOP_ALIAS] = "tt.Alias",
    [TT_GOP_BATCH_MATMUL] = "tt.BatchMatMul",
    [TT_GOP_CHANNEL_SHUFFLE] = "tt.ChannelShuffle",
    [TT_GOP_DENSE] = "tt.Dense",
    [TT_GOP_DILATE] = "tt.Dilate",
    [TT_GOP_SLICE_AXIS] = "tt.SliceAxis",
};
/* One name per operator: a tt_gop without a name, or a name past the last
 * tt_gop, changes the table's size and fails the build here (a NULL in the
 * middle is caught by the test graph/gop_names). */
_Static_assert(sizeof tt_gop_names / sizeof tt_gop_names[0] == TT_GOP_COUNT,
               "tt_gop_names needs one name per tt_gop");

tt_gop tt_gop_lookup(const char *name)
{
    /* A linear scan: called once per node of an imported file, over fewer
     * than a hundred names. */
    for (int i = 0; name && i < TT_GOP_COUNT; i++)
        if (!strcmp(name, tt_gop_names[i]))
            return (tt_gop)i;
    return TT_GOP_COUNT;
}

int tt_gop_is_elementwise(tt_gop op)
{
    switch (op) {
    case TT_GOP_ADD:
    case TT_GOP_SUB:
    case TT_GOP_MUL:
    case TT_GOP_DIV:
    case TT_GOP_POW:
    case TT_GOP_MAX:
    case TT_GOP_MIN:
    case TT_GOP_RELU:
    case TT_GOP_CLIP:
    case TT_GOP_SIGMOID:
    case TT_GOP_TANH:
    case TT_GOP_ERF:
    case TT_GOP_SQRT:
    case TT_GOP_EXP:
    case TT_GOP_NEG:
    case TT_GOP_HARD_SIGMOID:
    case TT_GOP_HARD_SWISH:
    case TT_GOP_ABS:
    case TT_GOP_LOG:
    case TT_GOP_LEAKY_RELU:
    case TT_GOP_PRELU:
    case TT_GOP_ELU:
    case TT_GOP_SELU:
    case TT_GOP_SOFTPLUS: return 1;
    default: return 0;
    }
}

/* ---- Einsum as a matrix product -------------------------------------------- */

/* The letters of one term of an equation (spaces dropped) into t; its length,
 * or -1 (an ellipsis, or not a letter). */
static int einsum_term(const char *s, const char *end, char *t, int max)
{
    int n = 0;
    for (; s < end; s++) {
        if (*s == ' ')
            continue;
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) || n == max)
            return -1;
        t[n++] = *s;
    }
    return n;
}

int tt_einsum_matmul(const char *eq, int rank_a, int rank_b, int *transpose_b)
{
    const char *comma = eq ? strchr(eq, ',') : NULL, *arrow = eq ? strstr(eq, "->") : NULL;
    if (!comma || !arrow || comma > arrow)
        return -1;
    const char *comma2 = strchr(comma + 1, ',');
    if (comma2 && comma2 < arrow)
        return -1; /* three operands or more */
    char a[16], b[16], o[16];
    int na = einsum_term(eq, comma, a, 16), nb = einsum_term(comma + 1, arrow, b, 16),
        no = einsum_term(arrow + 2, eq + strlen(eq), o, 16);
    int n = na;
    if (n < 2 || nb != n || no != n || rank_a != n || rank_b != n)
        return -1;
    for (int d = 0; d < n - 2; d++)
        if (a[d] != b[d] || a[d] != o[d])
            return -1;
    /* every letter distinct within a term */
    for (int x = 0; x < n; x++)
        for (int y = x + 1; y < n; y++)
            if (a[x] == a[y] || b[x] == b[y] || o[x] == o[y])
                return -1;
    char i = a[n - 2], k = a[n - 1];
    if (o[n - 2] != i || k == o[n - 1])
        return -1;
    char j = o[n - 1];
    if (b[n - 2] == k && b[n - 1] == j)
        *transpose_b = 0;
    else if (b[n - 1] == k && b[n - 2] == j)
        *transpose_b = 1;
    else
        return -1;
    return i == j ? -1 : 0;
}
