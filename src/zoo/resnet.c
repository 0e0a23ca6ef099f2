/* resnet.c - ResNet-18 and ResNet-50 as torchvision 0.14 defines them
 * (torchvision/models/resnet.py: ResNet v1.5, the stride of a bottleneck on
 * its 3x3 conv), in the node order of PyTorch's ONNX export. */
#include <stdio.h>

#include "zoo_int.h"

/* BasicBlock(inplanes, planes, stride):
 *   conv1 3x3/stride, bn1, relu, conv2 3x3, bn2,
 *   [downsample: conv 1x1/stride, bn], Add(out, identity), relu. */
static int basic_block(tt_zb *b, int x, int inplanes, int planes, int stride, const char *p)
{
    int y = tt_zb_conv(b, x, inplanes, planes, 3, stride, 1, 1, 0, "%s.conv1", p);
    y = tt_zb_bn(b, y, planes, 0, "%s.bn1", p);
    y = tt_zb_relu(b, y, "%s.relu", p);
    y = tt_zb_conv(b, y, planes, planes, 3, 1, 1, 1, 0, "%s.conv2", p);
    y = tt_zb_bn(b, y, planes, 1, "%s.bn2", p);
    int id = x;
    if (stride != 1 || inplanes != planes) {
        id = tt_zb_conv(b, x, inplanes, planes, 1, stride, 0, 1, 0, "%s.downsample.0", p);
        id = tt_zb_bn(b, id, planes, 0, "%s.downsample.1", p);
    }
    y = tt_zb_add(b, y, id, "%s.add", p);
    return tt_zb_relu(b, y, "%s.relu_1", p);
}

/* Bottleneck(inplanes, planes, stride), expansion 4:
 *   conv1 1x1, bn1, relu, conv2 3x3/stride, bn2, relu, conv3 1x1, bn3,
 *   [downsample: conv 1x1/stride, bn], Add(out, identity), relu. */
static int bottleneck(tt_zb *b, int x, int inplanes, int planes, int stride, const char *p)
{
    int out = planes * 4;
    int y = tt_zb_conv(b, x, inplanes, planes, 1, 1, 0, 1, 0, "%s.conv1", p);
    y = tt_zb_bn(b, y, planes, 0, "%s.bn1", p);
    y = tt_zb_relu(b, y, "%s.relu", p);
    y = tt_zb_conv(b, y, planes, planes, 3, stride, 1, 1, 0, "%s.conv2", p);
    y = tt_zb_bn(b, y, planes, 0, "%s.bn2", p);
    y = tt_zb_relu(b, y, "%s.relu_1", p);
    y = tt_zb_conv(b, y, planes, out, 1, 1, 0, 1, 0, "%s.conv3", p);
    y = tt_zb_bn(b, y, out, 1, "%s.bn3", p);
    int id = x;
    if (stride != 1 || inplanes != out) {
        id = tt_zb_conv(b, x, inplanes, out, 1, stride, 0, 1, 0, "%s.downsample.0", p);
        id = tt_zb_bn(b, id, out, 0, "%s.downsample.1", p);
    }
    y = tt_zb_add(b, y, id, "%s.add", p);
    return tt_zb_relu(b, y, "%s.relu_2", p);
}

/* ResNet(block, layers): conv1 7x7/2, bn1, relu, maxpool 3x3/2 pad 1,
 * layer1..layer4 (64, 128, 256, 512 planes; strides 1, 2, 2, 2),
 * GlobalAveragePool, Flatten, fc. */
static tt_graph *resnet(const char *model, int bottle, const int layers[4], uint64_t seed,
                        tt_err *err)
{
    tt_zb b;
    tt_zb_begin(&b, model, seed);
    const int64_t shape[4] = {1, 3, 224, 224};
    int x = tt_zb_input(&b, TT_DT_FLOAT, 4, shape);
    x = tt_zb_conv(&b, x, 3, 64, 7, 2, 3, 1, 0, "conv1");
    x = tt_zb_bn(&b, x, 64, 0, "bn1");
    x = tt_zb_relu(&b, x, "relu");
    x = tt_zb_maxpool(&b, x, 3, 2, 1, 0, "maxpool");
    int inplanes = 64, expansion = bottle ? 4 : 1;
    for (int l = 0; l < 4; l++) {
        int planes = 64 << l;
        for (int i = 0; i < layers[l]; i++) {
            char p[32];
            snprintf(p, sizeof p, "layer%d.%d", l + 1, i);
            int stride = (l > 0 && i == 0) ? 2 : 1;
            x = bottle ? bottleneck(&b, x, inplanes, planes, stride, p)
                       : basic_block(&b, x, inplanes, planes, stride, p);
            inplanes = planes * expansion;
        }
    }
    x = tt_zb_gap(&b, x, "avgpool");
    x = tt_zb_flatten(&b, x, "flatten");
    x = tt_zb_linear(&b, x, 512 * expansion, 1000, "fc");
    return tt_zb_finish(&b, x, err);
}

/* resnet18: BasicBlock x [2, 2, 2, 2]. */
tt_graph *tt_zoo_resnet18(uint64_t seed, tt_err *err)
{
    static const int layers[4] = {2, 2, 2, 2};
    return resnet("resnet18", 0, layers, seed, err);
}

/* resnet50: Bottleneck x [3, 4, 6, 3]. */
tt_graph *tt_zoo_resnet50(uint64_t seed, tt_err *err)
{
    static const int layers[4] = {3, 4, 6, 3};
    return resnet("resnet50", 1, layers, seed, err);
}
