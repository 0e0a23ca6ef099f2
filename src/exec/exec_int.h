/* exec_int.h - the executor's internals shared by exec.c and artifact.c
 * (internal to src/exec). */
#ifndef TT_EXEC_INT_H
#define TT_EXEC_INT_H

#include "exec.h"

/* The activation pool of the memory plan: buffer sizes and which are in use. */
typedef struct tt_xpool {
    int n, cap;
    int64_t *size;
    int *busy;
} tt_xpool;

/* Bytes of graph tensor t (its dtype's size; float when unset). */
int64_t tt_exec_tensor_bytes(const tt_graph *g, int t);

/* Give every activation a pool slot (slot[t] per graph tensor, -1 for none):
 * a buffer is reused once the last reader of the tensor it held has run;
 * the input is never reused.  Returns the bytes without reuse. */
int64_t tt_exec_plan_memory(const tt_model *m, int *slot, tt_xpool *P);

/* The state kernel k is built from under o: its given steps (widened to the
 * host's vectors), else its default schedule, else none; *kind 1, 0 or 2. */
tt_state *tt_exec_kernel_state(const tt_model *m, const tt_exec_opts *o, int k, int *kind);

/* The kernel a call of direct kernel k runs under o: k, or its Winograd twin. */
int tt_exec_run_kernel(const tt_model *m, const tt_exec_opts *o, int k);

/* ---- host calls in artifacts (artifact_host.c) ---- */

/* The artifact interpreter's op code for host node nd, -1 if it has none. */
int tt_art_host_code(const tt_graph *g, const tt_node *nd);
/* Append the descriptor (a host_t initializer) of host node `node` to o;
 * -1 with err naming the node if the artifact cannot run it. */
int tt_art_host_desc(const tt_graph *g, int node, tt_str *o, tt_err *err);
/* Append the interpreter (host_t, host_run) to o. */
void tt_art_host_runtime(tt_str *o);

/* The smallest embedding table that input i of m indexes as token ids, 0 if
 * none does (a mask). */
int64_t tt_model_input_vocab(const tt_model *m, int i);

#endif
