/* tiny.c - a small CNN for tests: every layer kind of the CNN zoo in a few
 * nodes, cheap enough to compile and run end to end in milliseconds. */
#include "zoo_int.h"

/* tiny ([1,3,32,32] -> [1,10]):
 *   conv1 3x3 3->16 + BN + relu                     [1,16,32,32]
 *   dw 3x3 depthwise 16 + BN + relu                 [1,16,32,32]
 *   Add(dw, conv1's output) (a residual)
 *   maxpool 2x2/2                                   [1,16,16,16]
 *   conv2 1x1 16->32 + BN + Clip(0, 6) (relu6)      [1,32,16,16]
 *   GlobalAveragePool, Flatten                      [1,32]
 *   fc 32->10 (Gemm, transB)                        [1,10]
 * 1546 parameters (BatchNorm running statistics not counted). */
static tt_graph *tiny_cnn(const char *name, int64_t hw, int64_t c1, int64_t c2, uint64_t seed,
                          tt_err *err)
{
    tt_zb b;
    tt_zb_begin(&b, name, seed);
    const int64_t shape[4] = {1, 3, hw, hw};
    int x = tt_zb_input(&b, TT_DT_FLOAT, 4, shape);
    x = tt_zb_conv(&b, x, 3, c1, 3, 1, 1, 1, 0, "conv1");
    x = tt_zb_bn(&b, x, c1, 0, "bn1");
    x = tt_zb_relu(&b, x, "relu1");
    int y = tt_zb_conv(&b, x, c1, c1, 3, 1, 1, c1, 0, "dw");
    y = tt_zb_bn(&b, y, c1, 1, "bn2");
    y = tt_zb_relu(&b, y, "relu2");
    x = tt_zb_add(&b, y, x, "add");
    x = tt_zb_maxpool(&b, x, 2, 2, 0, 0, "maxpool");
    x = tt_zb_conv(&b, x, c1, c2, 1, 1, 0, 1, 0, "conv2");
    x = tt_zb_bn(&b, x, c2, 0, "bn3");
    x = tt_zb_relu6(&b, x, "relu6");
    x = tt_zb_gap(&b, x, "avgpool");
    x = tt_zb_flatten(&b, x, "flatten");
    x = tt_zb_linear(&b, x, c2, 10, "fc");
    return tt_zb_finish(&b, x, err);
}

tt_graph *tt_zoo_tiny(uint64_t seed, tt_err *err) { return tiny_cnn("tiny", 32, 16, 32, seed, err); }

/* tiny_wide: the same layers at 48x48 with 24 and 48 channels, so that its
 * kernels have tiny's classes with other shapes (transfer-tuning tests). */
tt_graph *tt_zoo_tiny_wide(uint64_t seed, tt_err *err)
{
    return tiny_cnn("tiny_wide", 48, 24, 48, seed, err);
}
