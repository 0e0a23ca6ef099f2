/* fuzz_onnx.c - libFuzzer target for the ONNX importer: tt_onnx_load_mem on
 * arbitrary bytes (protobuf parsing, conversion, normalization, shape
 * inference and constant folding all run on the result).
 *
 * Build and run from the repository root (seeds in fuzz/corpus_onnx are small
 * models from tests/data/onnx, good and bad; new inputs go to build/):
 *
 *   make fuzz
 *   mkdir -p build/corpus_onnx
 *   ./build/fuzz_onnx -max_total_time=300 build/corpus_onnx fuzz/corpus_onnx
 *
 * Properties checked (a violation aborts, which libFuzzer reports), besides
 * ASan/UBSan's own:
 *   - a refused input always comes with a non-empty message free of control
 *     characters, and leaves *out NULL;
 *   - a loaded graph has every live node's outputs inferred, constants with
 *     data, and inference run again on it succeeds (it is idempotent);
 *   - the graph dumps; the model passes and fusion (tt_model_build) either
 *     build it or refuse it with a message, without leaks (LeakSanitizer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/model/model.h"
#include "../src/onnx/onnx.h"

static void fail(const char *what, const char *msg)
{
    fprintf(stderr, "fuzz_onnx: %s%s%s\n", what, msg ? ": " : "", msg ? msg : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tt_graph *g = (tt_graph *)&g;
    tt_err err = {0};
    if (tt_onnx_load_mem(data, size, "fuzz", &g, &err)) {
        if (g)
            fail("refused input left a graph", NULL);
        if (!err.set || !err.msg[0])
            fail("refused input without a message", NULL);
        for (const unsigned char *p = (const unsigned char *)err.msg; *p; p++)
            if (*p < 0x20 || *p == 0x7f)
                fail("control character in message", err.msg);
        return 0;
    }
    if (!g || g->noutputs < 1)
        fail("loaded graph without outputs", NULL);
    for (int i = 0; i < g->nnodes; i++) {
        const tt_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        for (int k = 0; k < n->nout; k++)
            if (tt_tensor_numel(&g->tensors[n->out[k]]) < 0)
                fail("live node output not inferred", n->name);
    }
    for (int t = 0; t < g->ntensors; t++)
        if (g->tensors[t].data && tt_tensor_numel(&g->tensors[t]) < 0)
            fail("constant without a shape", g->tensors[t].name);
    tt_err err2 = {0};
    if (tt_graph_infer(g, &err2))
        fail("second inference failed", err2.msg);
    free(tt_graph_dump(g));
    /* then the model's graph passes (layout: NHWC rewrites, channel shuffle,
     * slices, pads) and fusion into kernel DAGs, which own the graph; a
     * refusal is fine, a crash or leak is not */
    tt_model *m = NULL;
    tt_err err3 = {0};
    if (tt_model_build(g, &m, &err3) == 0)
        tt_model_free(m);
    else if (!err3.set || !err3.msg[0])
        fail("model build refused without a message", NULL);
    return 0;
}
