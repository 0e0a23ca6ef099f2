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

#endif
