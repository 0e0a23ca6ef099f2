/* classic.c - AlexNet, VGG-16 and GoogLeNet as torchvision 0.14 defines them
 * (torchvision/models/alexnet.py, vgg.py, googlenet.py), in the node order of
 * PyTorch's ONNX export in eval mode (no Dropout; GoogLeNet without its
 * auxiliary heads, which only run in training). */
#include <stdio.h>

#include "zoo_int.h"

/* AlexNet: five convs with bias (11x11/4, 5x5, 3x3 x3) with ReLU and three
 * 3x3/2 max pools; AdaptiveAvgPool2d((6,6)) on the 6x6 map, which the export
 * writes as a 1x1 AveragePool; Flatten; three Linear (9216 -> 4096 -> 4096 ->
 * 1000) with ReLU between. */
tt_graph *tt_zoo_alexnet(uint64_t seed, tt_err *err)
{
    tt_zb b;
    tt_zb_begin(&b, "alexnet", seed);
    const int64_t shape[4] = {1, 3, 224, 224};
    int x = tt_zb_input(&b, TT_DT_FLOAT, 4, shape);
    x = tt_zb_conv(&b, x, 3, 64, 11, 4, 2, 1, 1, "features.0");
    x = tt_zb_relu(&b, x, "features.1");
    x = tt_zb_maxpool(&b, x, 3, 2, 0, 0, "features.2");
    x = tt_zb_conv(&b, x, 64, 192, 5, 1, 2, 1, 1, "features.3");
    x = tt_zb_relu(&b, x, "features.4");
    x = tt_zb_maxpool(&b, x, 3, 2, 0, 0, "features.5");
    x = tt_zb_conv(&b, x, 192, 384, 3, 1, 1, 1, 1, "features.6");
    x = tt_zb_relu(&b, x, "features.7");
    x = tt_zb_conv(&b, x, 384, 256, 3, 1, 1, 1, 1, "features.8");
    x = tt_zb_relu(&b, x, "features.9");
    x = tt_zb_conv(&b, x, 256, 256, 3, 1, 1, 1, 1, "features.10");
    x = tt_zb_relu(&b, x, "features.11");
    x = tt_zb_maxpool(&b, x, 3, 2, 0, 0, "features.12");
    x = tt_zb_avgpool_identity(&b, x, "avgpool");
    x = tt_zb_flatten(&b, x, "flatten");
    x = tt_zb_linear(&b, x, 256 * 6 * 6, 4096, "classifier.1");
    x = tt_zb_relu(&b, x, "classifier.2");
    x = tt_zb_linear(&b, x, 4096, 4096, "classifier.4");
    x = tt_zb_relu(&b, x, "classifier.5");
    x = tt_zb_linear(&b, x, 4096, 1000, "classifier.6");
    return tt_zb_finish(&b, x, err);
}

/* VGG-16 (configuration "D", no BatchNorm): 3x3 convs with bias and ReLU,
 * 2x2/2 max pools after each group; AdaptiveAvgPool2d((7,7)) on the 7x7 map
 * (a 1x1 AveragePool in the export); Flatten; Linear 25088 -> 4096 -> 4096
 * -> 1000 with ReLU between. */
tt_graph *tt_zoo_vgg16(uint64_t seed, tt_err *err)
{
    static const int cfg[] = {64,  64,  0,   128, 128, 0,   256, 256, 256, 0,
                              512, 512, 512, 0,   512, 512, 512, 0}; /* 0 = "M" */
    tt_zb b;
    tt_zb_begin(&b, "vgg16", seed);
    const int64_t shape[4] = {1, 3, 224, 224};
    int x = tt_zb_input(&b, TT_DT_FLOAT, 4, shape);
    int c = 3, idx = 0;
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        if (cfg[i] == 0) {
            x = tt_zb_maxpool(&b, x, 2, 2, 0, 0, "features.%d", idx++);
            continue;
        }
        x = tt_zb_conv(&b, x, c, cfg[i], 3, 1, 1, 1, 1, "features.%d", idx++);
        x = tt_zb_relu(&b, x, "features.%d", idx++);
        c = cfg[i];
    }
    x = tt_zb_avgpool_identity(&b, x, "avgpool");
    x = tt_zb_flatten(&b, x, "flatten");
    x = tt_zb_linear(&b, x, 512 * 7 * 7, 4096, "classifier.0");
    x = tt_zb_relu(&b, x, "classifier.1");
    x = tt_zb_linear(&b, x, 4096, 4096, "classifier.3");
    x = tt_zb_relu(&b, x, "classifier.4");
    x = tt_zb_linear(&b, x, 4096, 1000, "classifier.6");
    return tt_zb_finish(&b, x, err);
}

/* GoogLeNet's BasicConv2d: conv (no bias), BatchNorm (eps 0.001), relu. */
static int basic_conv(tt_zb *b, int x, int cin, int cout, int k, int stride, int pad,
                      const char *p)
{
    x = tt_zb_conv(b, x, cin, cout, k, stride, pad, 1, 0, "%s.conv", p);
    x = tt_zb_bn(b, x, cout, 0, "%s.bn", p);
    return tt_zb_relu(b, x, "%s.relu", p);
}

/* Inception(in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj); the
 * "5x5" branch has a 3x3 kernel in torchvision (a known quirk kept for its
 * weights).  Branches in order, then Concat on channels. */
static int inception(tt_zb *b, int x, const int ch[7], const char *p)
{
    char q[64];
    int br[4];
    snprintf(q, sizeof q, "%s.branch1", p);
    br[0] = basic_conv(b, x, ch[0], ch[1], 1, 1, 0, q);
    snprintf(q, sizeof q, "%s.branch2.0", p);
    br[1] = basic_conv(b, x, ch[0], ch[2], 1, 1, 0, q);
    snprintf(q, sizeof q, "%s.branch2.1", p);
    br[1] = basic_conv(b, br[1], ch[2], ch[3], 3, 1, 1, q);
    snprintf(q, sizeof q, "%s.branch3.0", p);
    br[2] = basic_conv(b, x, ch[0], ch[4], 1, 1, 0, q);
    snprintf(q, sizeof q, "%s.branch3.1", p);
    br[2] = basic_conv(b, br[2], ch[4], ch[5], 3, 1, 1, q);
    br[3] = tt_zb_maxpool(b, x, 3, 1, 1, 1, "%s.branch4.0", p);
    snprintf(q, sizeof q, "%s.branch4.1", p);
    br[3] = basic_conv(b, br[3], ch[0], ch[6], 1, 1, 0, q);
    return tt_zb_concat(b, 4, br, "%s.cat", p);
}

/* GoogLeNet (torchvision defaults: transform_input False; the aux heads
 * exist as parameters but are not in the eval graph): conv1 7x7/2, maxpool,
 * conv2 1x1, conv3 3x3, maxpool, inception 3a 3b, maxpool, 4a..4e, maxpool
 * 2x2, 5a 5b, GlobalAveragePool, Flatten, fc 1024 -> 1000.  Every max pool
 * has ceil_mode. */
tt_graph *tt_zoo_googlenet(uint64_t seed, tt_err *err)
{
    static const struct {
        const char *name;
        int ch[7];
        int pool_after; /* kernel of the max pool that follows, 0 if none */
    } inc[] = {
        {"inception3a", {192, 64, 96, 128, 16, 32, 32}, 0},
        {"inception3b", {256, 128, 128, 192, 32, 96, 64}, 3},
        {"inception4a", {480, 192, 96, 208, 16, 48, 64}, 0},
        {"inception4b", {512, 160, 112, 224, 24, 64, 64}, 0},
        {"inception4c", {512, 128, 128, 256, 24, 64, 64}, 0},
        {"inception4d", {512, 112, 144, 288, 32, 64, 64}, 0},
        {"inception4e", {528, 256, 160, 320, 32, 128, 128}, 2},
        {"inception5a", {832, 256, 160, 320, 32, 128, 128}, 0},
        {"inception5b", {832, 384, 192, 384, 48, 128, 128}, 0},
    };
    tt_zb b;
    tt_zb_begin(&b, "googlenet", seed);
    b.bn_eps = tt_zb_float32(0.001);
    const int64_t shape[4] = {1, 3, 224, 224};
    int x = tt_zb_input(&b, TT_DT_FLOAT, 4, shape);
    x = basic_conv(&b, x, 3, 64, 7, 2, 3, "conv1");
    x = tt_zb_maxpool(&b, x, 3, 2, 0, 1, "maxpool1");
    x = basic_conv(&b, x, 64, 64, 1, 1, 0, "conv2");
    x = basic_conv(&b, x, 64, 192, 3, 1, 1, "conv3");
    x = tt_zb_maxpool(&b, x, 3, 2, 0, 1, "maxpool2");
    int pool = 3;
    for (size_t i = 0; i < sizeof inc / sizeof inc[0]; i++) {
        x = inception(&b, x, inc[i].ch, inc[i].name);
        if (inc[i].pool_after)
            x = tt_zb_maxpool(&b, x, inc[i].pool_after, 2, 0, 1, "maxpool%d", pool++);
    }
    x = tt_zb_gap(&b, x, "avgpool");
    x = tt_zb_flatten(&b, x, "flatten");
    x = tt_zb_linear(&b, x, 1024, 1000, "fc");
    return tt_zb_finish(&b, x, err);
}
