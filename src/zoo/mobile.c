/* mobile.c - MobileNetV2, MNASNet-1.0, EfficientNet-B0 and -B4 as
 * torchvision 0.14 defines them (torchvision/models/mobilenetv2.py,
 * mnasnet.py, efficientnet.py), in the node order of PyTorch's ONNX export
 * in eval mode (no Dropout; stochastic depth is the identity). */
#include <math.h>
#include <stdio.h>

#include "zoo_int.h"

/* ---- MobileNetV2 ---------------------------------------------------------- */

/* InvertedResidual(inp, oup, stride, t): [expand 1x1 CNA relu6 if t != 1],
 * depthwise 3x3 CNA relu6, project 1x1 conv + BN; Add(x, conv(x)) when
 * stride 1 and inp == oup (input first, as `x + self.conv(x)`). */
static int mnv2_block(tt_zb *b, int x, int inp, int oup, int stride, int t, int idx)
{
    int hidden = inp * t, j = 0, res = stride == 1 && inp == oup;
    int y = x;
    if (t != 1)
        y = tt_zb_conv_bn_act(b, y, inp, hidden, 1, 1, 1, TT_ZB_ACT_RELU6, 0, "features.%d.conv.%d",
                              idx, j++);
    y = tt_zb_conv_bn_act(b, y, hidden, hidden, 3, stride, hidden, TT_ZB_ACT_RELU6, 0,
                          "features.%d.conv.%d", idx, j++);
    y = tt_zb_conv(b, y, hidden, oup, 1, 1, 0, 1, 0, "features.%d.conv.%d", idx, j);
    y = tt_zb_bn(b, y, oup, res, "features.%d.conv.%d", idx, j + 1);
    return res ? tt_zb_add(b, x, y, "features.%d.add", idx) : y;
}

/* MobileNetV2 (width 1.0): CNA 3x3/2 to 32, 17 inverted residuals
 * (t, c, n, s) = (1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2) (6,96,3,1)
 * (6,160,3,2) (6,320,1,1), CNA 1x1 to 1280, GlobalAveragePool, Flatten,
 * Linear 1280 -> 1000; every activation ReLU6 (Clip 0..6). */
tt_graph *tt_zoo_mobilenet_v2(uint64_t seed, tt_err *err)
{
    static const int setting[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                      {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    tt_zb b;
    tt_zb_begin(&b, "mobilenet_v2", seed);
    const int64_t shape[4] = {1, 3, 224, 224};
    int x = tt_zb_input(&b, TT_DT_FLOAT, 4, shape);
    x = tt_zb_conv_bn_act(&b, x, 3, 32, 3, 2, 1, TT_ZB_ACT_RELU6, 0, "features.0");
    int c = 32, idx = 1;
    for (int s = 0; s < 7; s++)
        for (int i = 0; i < setting[s][2]; i++) {
            x = mnv2_block(&b, x, c, setting[s][1], i == 0 ? setting[s][3] : 1, setting[s][0],
                           idx++);
            c = setting[s][1];
        }
    x = tt_zb_conv_bn_act(&b, x, c, 1280, 1, 1, 1, TT_ZB_ACT_RELU6, 0, "features.%d", idx);
    x = tt_zb_gap(&b, x, "avgpool");
    x = tt_zb_flatten(&b, x, "flatten");
    x = tt_zb_linear(&b, x, 1280, 1000, "classifier.1");
    return tt_zb_finish(&b, x, err);
}

/* ---- MNASNet -------------------------------------------------------------- */

/* _InvertedResidual(in, out, k, stride, e): conv 1x1 to in*e, BN, relu,
 * depthwise kxk/stride, BN, relu, conv 1x1 to out, BN (modules layers.0..7);
 * Add(layers(x), x) when in == out and stride 1. */
static int mnas_block(tt_zb *b, int x, int in, int out, int k, int stride, int e, const char *p)
{
    int mid = in * e, res = in == out && stride == 1;
    int y = tt_zb_conv(b, x, in, mid, 1, 1, 0, 1, 0, "%s.layers.0", p);
    y = tt_zb_bn(b, y, mid, 0, "%s.layers.1", p);
    y = tt_zb_relu(b, y, "%s.layers.2", p);
    y = tt_zb_conv(b, y, mid, mid, k, stride, k / 2, mid, 0, "%s.layers.3", p);
    y = tt_zb_bn(b, y, mid, 0, "%s.layers.4", p);
    y = tt_zb_relu(b, y, "%s.layers.5", p);
    y = tt_zb_conv(b, y, mid, out, 1, 1, 0, 1, 0, "%s.layers.6", p);
    y = tt_zb_bn(b, y, out, res, "%s.layers.7", p);
    return res ? tt_zb_add(b, y, x, "%s.add", p) : y;
}

/* MNASNet-B1 at alpha 1.0 (depths 32 16 24 40 80 96 192 320): conv 3x3/2,
 * BN, relu, depthwise 3x3, BN, relu, conv 1x1, BN, six stacks, conv 1x1 to
 * 1280, BN, relu, x.mean([2,3]) (ReduceMean, no Flatten), Linear 1280 ->
 * 1000.  BatchNorm momentum 1 - 0.9997 (ONNX momentum 0.9997). */
tt_graph *tt_zoo_mnasnet1_0(uint64_t seed, tt_err *err)
{
    static const struct {
        int in, out, k, stride, e, repeats;
    } stacks[6] = {{16, 24, 3, 2, 3, 3},  {24, 40, 5, 2, 3, 3},  {40, 80, 5, 2, 6, 3},
                   {80, 96, 3, 1, 6, 2},  {96, 192, 5, 2, 6, 4}, {192, 320, 3, 1, 6, 1}};
    tt_zb b;
    tt_zb_begin(&b, "mnasnet1_0", seed);
    b.bn_momentum = tt_zb_float32(0.9997);
    const int64_t shape[4] = {1, 3, 224, 224};
    int x = tt_zb_input(&b, TT_DT_FLOAT, 4, shape);
    x = tt_zb_conv(&b, x, 3, 32, 3, 2, 1, 1, 0, "layers.0");
    x = tt_zb_bn(&b, x, 32, 0, "layers.1");
    x = tt_zb_relu(&b, x, "layers.2");
    x = tt_zb_conv(&b, x, 32, 32, 3, 1, 1, 32, 0, "layers.3");
    x = tt_zb_bn(&b, x, 32, 0, "layers.4");
    x = tt_zb_relu(&b, x, "layers.5");
    x = tt_zb_conv(&b, x, 32, 16, 1, 1, 0, 1, 0, "layers.6");
    x = tt_zb_bn(&b, x, 16, 0, "layers.7");
    for (int s = 0; s < 6; s++)
        for (int i = 0; i < stacks[s].repeats; i++) {
            char p[32];
            snprintf(p, sizeof p, "layers.%d.%d", 8 + s, i);
            x = mnas_block(&b, x, i == 0 ? stacks[s].in : stacks[s].out, stacks[s].out,
                           stacks[s].k, i == 0 ? stacks[s].stride : 1, stacks[s].e, p);
        }
    x = tt_zb_conv(&b, x, 320, 1280, 1, 1, 0, 1, 0, "layers.14");
    x = tt_zb_bn(&b, x, 1280, 0, "layers.15");
    x = tt_zb_relu(&b, x, "layers.16");
    x = tt_zb_mean_hw(&b, x, "mean");
    x = tt_zb_linear(&b, x, 1280, 1000, "classifier.1");
    return tt_zb_finish(&b, x, err);
}

/* ---- EfficientNet --------------------------------------------------------- */

/* SqueezeExcitation(c, squeeze, SiLU): GlobalAveragePool, fc1 (conv 1x1
 * with bias), SiLU, fc2 (conv 1x1 with bias), Sigmoid, Mul(scale, x). */
static int squeeze_excite(tt_zb *b, int x, int c, int squeeze, const char *p)
{
    int s = tt_zb_gap(b, x, "%s.avgpool", p);
    s = tt_zb_conv(b, s, c, squeeze, 1, 1, 0, 1, 1, "%s.fc1", p);
    s = tt_zb_silu(b, s, "%s.activation", p);
    s = tt_zb_conv(b, s, squeeze, c, 1, 1, 0, 1, 1, "%s.fc2", p);
    s = tt_zb_sigmoid(b, s, "%s.scale_activation", p);
    return tt_zb_mul(b, s, x, "%s.mul", p);
}

/* MBConv(expand, k, stride, in, out): [expand CNA 1x1 SiLU when the
 * expanded width differs], depthwise CNA kxk/stride SiLU, squeeze-excitation
 * (squeeze = max(1, in / 4)), project CNA 1x1 without activation; Add(result,
 * input) when stride 1 and in == out. */
static int mbconv(tt_zb *b, int x, int expand, int k, int stride, int in, int out, const char *p)
{
    int exp_c = tt_zb_make_divisible((double)in * expand, 8), j = 0;
    int res = stride == 1 && in == out;
    int y = x;
    if (exp_c != in)
        y = tt_zb_conv_bn_act(b, y, in, exp_c, 1, 1, 1, TT_ZB_ACT_SILU, 0, "%s.block.%d", p, j++);
    y = tt_zb_conv_bn_act(b, y, exp_c, exp_c, k, stride, exp_c, TT_ZB_ACT_SILU, 0, "%s.block.%d",
                          p, j++);
    char q[64];
    snprintf(q, sizeof q, "%s.block.%d", p, j++);
    y = squeeze_excite(b, y, exp_c, in / 4 > 1 ? in / 4 : 1, q);
    y = tt_zb_conv_bn_act(b, y, exp_c, out, 1, 1, 1, TT_ZB_ACT_NONE, res, "%s.block.%d", p, j);
    return res ? tt_zb_add(b, y, x, "%s.add", p) : y;
}

/* EfficientNet-B(width, depth): stem CNA 3x3/2 SiLU, seven MBConv stages
 * (expand, k, stride, in, out, layers) = (1,3,1,32,16,1) (6,3,2,16,24,2)
 * (6,5,2,24,40,2) (6,3,2,40,80,3) (6,5,1,80,112,3) (6,5,2,112,192,4)
 * (6,3,1,192,320,1), channels scaled by width and rounded to multiples of 8,
 * layers scaled by depth and rounded up; head CNA 1x1 to 4x channels SiLU,
 * GlobalAveragePool, Flatten, Linear to 1000. */
static tt_graph *efficientnet(const char *model, double width, double depth, uint64_t seed,
                              tt_err *err)
{
    static const int conf[7][6] = {{1, 3, 1, 32, 16, 1},   {6, 3, 2, 16, 24, 2},
                                   {6, 5, 2, 24, 40, 2},   {6, 3, 2, 40, 80, 3},
                                   {6, 5, 1, 80, 112, 3},  {6, 5, 2, 112, 192, 4},
                                   {6, 3, 1, 192, 320, 1}};
    tt_zb b;
    tt_zb_begin(&b, model, seed);
    const int64_t shape[4] = {1, 3, 224, 224};
    int x = tt_zb_input(&b, TT_DT_FLOAT, 4, shape);
    int stem = tt_zb_make_divisible(conf[0][3] * width, 8);
    x = tt_zb_conv_bn_act(&b, x, 3, stem, 3, 2, 1, TT_ZB_ACT_SILU, 0, "features.0");
    int c = stem;
    for (int s = 0; s < 7; s++) {
        int out = tt_zb_make_divisible(conf[s][4] * width, 8);
        int layers = (int)ceil(conf[s][5] * depth);
        for (int i = 0; i < layers; i++) {
            char p[32];
            snprintf(p, sizeof p, "features.%d.%d", s + 1, i);
            x = mbconv(&b, x, conf[s][0], conf[s][1], i == 0 ? conf[s][2] : 1, c, out, p);
            c = out;
        }
    }
    x = tt_zb_conv_bn_act(&b, x, c, 4 * c, 1, 1, 1, TT_ZB_ACT_SILU, 0, "features.8");
    x = tt_zb_gap(&b, x, "avgpool");
    x = tt_zb_flatten(&b, x, "flatten");
    x = tt_zb_linear(&b, x, 4 * c, 1000, "classifier.1");
    return tt_zb_finish(&b, x, err);
}

/* efficientnet_b0: width 1.0, depth 1.0. */
tt_graph *tt_zoo_efficientnet_b0(uint64_t seed, tt_err *err)
{
    return efficientnet("efficientnet_b0", 1.0, 1.0, seed, err);
}

/* efficientnet_b4: width 1.4, depth 1.8 (built at 224x224, not its native
 * 380x380). */
tt_graph *tt_zoo_efficientnet_b4(uint64_t seed, tt_err *err)
{
    return efficientnet("efficientnet_b4", 1.4, 1.8, seed, err);
}
