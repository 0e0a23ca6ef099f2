/* fuse_int.h - the kernel builder shared by fusion (fuse.c) and the anchor
 * ops' builders (anchors.c); internal to src/model. */
#ifndef TT_FUSE_INT_H
#define TT_FUSE_INT_H

#include "model_int.h"

/* At most this many graph nodes in one kernel: an anchor and its epilogue,
 * or a run of elementwise nodes (TVM's FuseOps has the same bound,
 * max_depth).  A longer chain becomes several kernels, each starting at the
 * elementwise node the one before could not take and reading its output.
 * 64: the longest elementwise chain that fused correctly before there was a
 * bound (a table of 64 bound tensors overflowed silently, and the member
 * after it read its predecessor's output as an argument no call computes),
 * and kernels stay within what the stages after fusion hold (a layout of
 * TT_LAYOUT_MAX_OPS ops for transfer, TT_MAX_STEPS steps in a record). */
#define FUSE_MAX_NODES 64


/* Tensors a kb binds: each member's output and each placeholder kb_operand
 * makes (at most one per kernel argument). */
#define KB_MAX_BOUND (FUSE_MAX_NODES + TT_MODEL_MAX_ARGS)

typedef struct kb {
    tt_graph *g;
    tt_dag *d;
    int nargs;
    int args[TT_MODEL_MAX_ARGS];   /* graph tensor per placeholder, in DAG order */
    int ngt;
    int gt[KB_MAX_BOUND], gu[KB_MAX_BOUND]; /* graph tensor -> DAG uid inside the group */
    /* index frame: the anchor's DAG output shape vs the graph's shape of it */
    int frame_reshaped;
    int dn;
    int64_t dshape[TT_MAX_DIMS];
    tt_err *err;
} kb;

/* A placeholder of the DAG for graph tensor t (a kernel argument), bound. */
int kb_placeholder(kb *K, int t, const char *name, int ndim, const int64_t *shape);
/* The value of a one-element float or int64 constant t, dflt when t < 0, NaN when t
 * is not such a constant. */
double kb_const_scalar(const tt_graph *g, int t, double dflt);

/* An anchor op's builder: appends its stages for node ai and returns the
 * result's uid, -1 with K->err. */
typedef int (*mp_anchor_fn)(kb *K, int ai);
/* The builder of op (NULL if it has none); *open: it adds stages to an
 * empty DAG made for it, else it makes the whole DAG itself. */
mp_anchor_fn mp_anchor_builder(tt_gop op, int *open);

#endif
