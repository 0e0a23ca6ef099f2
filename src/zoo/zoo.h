/* zoo.h - the built-in model zoo: the paper's 11 models, resnet50_tvm and a
 * tiny test model, defined in C with seeded random weights (no files).
 *
 * Every model is built as an ONNX-style graph (src/graph/graph.h) in the ONNX
 * layout (NCHW), with the same operators, in the same order, that PyTorch's
 * ONNX export (opset 13, eval mode) of the same architecture produces after
 * BatchNorm is folded into Conv: a zoo model and scripts/export-onnx.py's
 * export must give the same kernels.  Weights are deterministic: a model's
 * weights depend only on its name and the seed.
 */
#ifndef TT_ZOO_H
#define TT_ZOO_H

#include "../graph/graph.h"

typedef struct tt_zoo_entry {
    const char *name;         /* "resnet18" */
    const char *description;  /* one line for `transtune models` */
    int64_t input_shape[4];   /* ONNX layout, e.g. {1,3,224,224}; BERTs: {1,256,0,0} */
    int input_rank;
    tt_dtype input_dtype;     /* FLOAT, or INT64 for token ids */
    tt_graph *(*build)(uint64_t seed, tt_err *err);
} tt_zoo_entry;

/* The zoo, terminated by an entry with name NULL. */
extern const tt_zoo_entry tt_zoo[];
/* Look a model up by name; NULL if unknown. */
const tt_zoo_entry *tt_zoo_find(const char *name);
/* Build a zoo model by name (seed 0 = the default seed); NULL with err. */
tt_graph *tt_zoo_build(const char *name, uint64_t seed, tt_err *err);

#endif
