/* bert.h - the zoo's two transformer models (src/zoo/bert.c).
 *
 * Both are the graphs that scripts/export-onnx.py's PyTorch implementations
 * export (opset 13, batch 1, sequence 256, input "input" = int64 token ids
 * [1,256], output = the last hidden state), node for node: the same
 * operators in the same order, with the same attributes, the same wiring and
 * constants of the same shapes (values: seeded random weights).  Where the
 * export has Constant nodes, the graph has constant tensors.
 * tests/test_bert.c checks this against signatures of the real export
 * (tests/data/bert/NAME.sig, written by scripts/compare-bert.py).
 */
#ifndef TT_ZOO_BERT_H
#define TT_ZOO_BERT_H

#include "zoo.h"

/* BERT-base (bert-base-uncased): vocabulary 30522, hidden 768, 12 layers of
 * 12 heads, FFN 3072 with erf GELU, LayerNorm eps 1e-12 (exported
 * decomposed), learned positions; output [1,256,768].  ~110M weights
 * (440 MB).  NULL with err on failure. */
tt_graph *tt_zoo_bert_base(uint64_t seed, tt_err *err);

/* MobileBERT (google/mobilebert-uncased): embedding 128 with trigram input
 * (Slice/Pad/Concat to 384, Linear to 512), hidden 512, 24 layers with
 * bottlenecks of 128 (query and key share one), 4 heads, 4 stacked FFNs of
 * 512 with ReLU, NoNorm (x * gamma + beta); output [1,256,512].  ~25M
 * weights.  NULL with err on failure. */
tt_graph *tt_zoo_mobilebert(uint64_t seed, tt_err *err);

#endif
