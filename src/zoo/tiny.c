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
tt_graph *tt_zoo_tiny(uint64_t seed, tt_err *err)
{
    tt_zb b;
    tt_zb_begin(&b, "tiny", seed);
    const int64_t shape[4] = {1, 3, 32, 32};
    int x = tt_zb_input(&b, TT_DT_FLOAT, 4, shape);
    x = tt_zb_conv(&b, x, 3, 16, 3, 1, 1, 1, 0, "conv1");
    x = tt_zb_bn(&b, x, 16, 0, "bn1");
    x = tt_zb_relu(&b, x, "relu1");
    int y = tt_zb_conv(&b, x, 16, 16, 3, 1, 1, 16, 0, "dw");
    y = tt_zb_bn(&b, y, 16, 1, "bn2");
    y = tt_zb_relu(&b, y, "relu2");
    x = tt_zb_add(&b, y, x, "add");
    x = tt_zb_maxpool(&b, x, 2, 2, 0, 0, "maxpool");
    x = tt_zb_conv(&b, x, 16, 32, 1, 1, 0, 1, 0, "conv2");
    x = tt_zb_bn(&b, x, 32, 0, "bn3");
    x = tt_zb_relu6(&b, x, "relu6");
    x = tt_zb_gap(&b, x, "avgpool");
    x = tt_zb_flatten(&b, x, "flatten");
    x = tt_zb_linear(&b, x, 32, 10, "fc");
    return tt_zb_finish(&b, x, err);
}
