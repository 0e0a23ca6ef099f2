/* model_int.h - internals shared by the files of src/model. */
#ifndef TT_MODEL_INT_H
#define TT_MODEL_INT_H

#include "model.h"

/* Graph editing helpers (passes.c).  New tensors get unique names derived
 * from base; mp_new_const takes ownership of data; mp_node makes `out` the
 * output of a new single-output node (clearing a previous producer). */
int mp_new_tensor(tt_graph *g, const char *base, tt_dtype dt, int ndim, const int64_t *shape);
int mp_new_const(tt_graph *g, const char *base, int ndim, const int64_t *shape, float *data);
int mp_node(tt_graph *g, tt_gop op, const char *name, int nin, const int *in, int out);
void mp_replace_uses(tt_graph *g, int from, int to);
const float *mp_fdata(const tt_graph *g, int t);

/* NCHW -> NHWC (layout.c). */
int mp_layout_nhwc(tt_graph *g, tt_err *err);


#endif
