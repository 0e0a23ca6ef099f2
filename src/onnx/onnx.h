/* onnx.h - the ONNX importer: a serialized ModelProto (.onnx file) to a
 * model graph (src/graph/graph.h).
 *
 * What is kept: graph inputs that are not initializers (with their declared
 * element type and shape; a symbolic dimension such as "batch" becomes 1),
 * initializers and Constant nodes as constant tensors (float, int64, int32,
 * bool), nodes with their INT, FLOAT, INTS, FLOATS, STRING and TENSOR
 * attributes (a TENSOR attribute becomes a constant tensor of the graph,
 * referenced by index), and graph outputs.  Operators are normalized to
 * their opset-13 forms using the model's default-domain opset (7..18
 * accepted): Clip's min/max, Squeeze/Unsqueeze's axes, Split's split, Pad's
 * pads/value and Slice-1's starts/ends/axes attributes become constant
 * inputs; Softmax/LogSoftmax below opset 13 (2-D coercion around
 * `axis`, default 1) get an explicit axis and are accepted only where they
 * equal the opset-13 operator (every dimension after `axis` is 1 or axis is
 * the last one).  A node without a name is named after its first output.
 *
 * The loaded graph is topologically sorted, its shapes inferred and its
 * constant subgraphs folded (tt_graph_fold_constants: PyTorch's
 * Shape->Gather->Concat->Reshape chains become constants; folded nodes stay
 * in the graph, marked dead).  Declared output shapes must agree with the
 * inferred ones.
 *
 * Everything else is refused with a message naming the culprit: operators
 * that are no graph operator (tt_gop_lookup; "unsupported operator 'X'
 * (node 'n')"), subgraph attributes and control flow (If, Loop, Scan),
 * operators of other domains, external or segmented tensor data, sparse
 * tensors, element types other than the four above, duplicate or dangling
 * tensor names, absurd sizes, data whose length does not match its shape,
 * and any protobuf that does not parse.  A refused model leaks nothing and *out stays NULL.
 */
#ifndef TT_ONNX_H
#define TT_ONNX_H

#include <stddef.h>

#include "../graph/graph.h"

/* Load an .onnx file, read by tt_read_file (a regular file within the input
 * limit, util.h).  The graph is named after the file (its base name
 * without ".onnx").  Returns 0 and *out (caller frees with tt_graph_free), or
 * -1 with err ("PATH: ..."). */
int tt_onnx_load(const char *path, tt_graph **out, tt_err *err);
/* The same with n input shapes bound (symbolic dimensions take the given
 * values, fixed ones must agree; default 1): a shape for an input the model
 * does not have, of another rank, or contradicting a fixed dimension is an
 * error naming it. */
int tt_onnx_load_shapes(const char *path, const tt_input_shape *shapes, int n, tt_graph **out, tt_err *err);

/* Load a serialized ModelProto from memory; `name` names the graph and
 * prefixes error messages (NULL: the ONNX graph's own name). */
int tt_onnx_load_mem(const void *buf, size_t len, const char *name, tt_graph **out, tt_err *err);

#endif
