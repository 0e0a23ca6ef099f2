/* resnet_tvm.c - `resnet50_tvm`: the ResNet-50 of TVM's relay.testing
 * (resnet.get_workload(num_layers=50, layout="NHWC")) that the shared Ansor
 * log tests/data/ansor/resnet-50-NHWC-B1-llvm.json was tuned on, in the
 * form Relay's optimizer leaves it before fusion, so that our fusion gives
 * the kernels Ansor tuned.
 *
 * relay.testing's ResNet is the pre-activation ("v2") design: a unit is
 *   bn1 -> relu -> conv1 1x1 (stride) -> bn2 -> relu -> conv2 3x3 -> bn3 ->
 *   relu -> conv3 1x1, plus the shortcut (the unit's input, or a 1x1 conv of
 *   the first relu's output when the shape changes), and the model is
 *   bn_data -> conv0 7x7/2 -> bn0 -> relu -> maxpool 3x3/2 -> 16 units ->
 *   bn1 -> relu -> global pool -> flatten -> dense 1000 + bias -> softmax.
 * SimplifyInference turns every BatchNorm into a per-channel multiply and
 * add; FoldScaleAxis moves each multiply into the weights of the convolution
 * before it (bn2, bn3, bn0) or after it (a unit's bn1 into conv1 and the
 * shortcut conv), except the last bn1, which has no convolution after it.
 * What is left, and what this file builds (in the ONNX layout; the layout
 * pass makes it NHWC):
 *   x + shift_data                                   (an elementwise kernel)
 *   conv0 + bias + relu, maxpool + shift + relu      (log lines 14, 12)
 *   conv1 + bias + relu, conv2 + bias + relu         (11, 13, 16, 17, 18, ...)
 *   conv3 + shortcut  [-> + shift + relu when the next unit starts a stage]
 *   shortcut conv (no epilogue)                      (20-22, 25)
 *   last: conv3 + shortcut * scale + shift + relu    (5), global pool (4),
 *   dense + bias, softmax (3).
 * Inside a stage the sum feeds both the next unit's shortcut and its
 * bn1 + relu, so the shift + relu is a kernel of its own there, as in TVM.
 */
#include <stdio.h>
#include <string.h>

#include "zoo_int.h"

/* Scale a weight tensor in place (keeps residual sums bounded over 16 units). */
static void scale_weight(tt_zb *b, const char *name, float s)
{
    int t = tt_graph_find(b->g, name);
    if (t < 0 || !b->g->tensors[t].data)
        return;
    float *d = b->g->tensors[t].data;
    int64_t n = tt_tensor_numel(&b->g->tensors[t]);
    for (int64_t i = 0; i < n; i++)
        d[i] *= s;
}

static int chan_const(tt_zb *b, int c, float lo, float hi, const char *name)
{
    int64_t shp[3] = {c, 1, 1};
    return tt_zb_uniform(b, 3, shp, lo, hi, "%s", name);
}

tt_graph *tt_zoo_resnet50_tvm(uint64_t seed, tt_err *err)
{
    tt_zb zb, *b = &zb;
    tt_zb_begin(b, "resnet50_tvm", seed);
    int64_t ishape[4] = {1, 3, 224, 224};
    int x = tt_zb_input(b, TT_DT_FLOAT, 4, ishape);
    x = tt_zb_add(b, x, chan_const(b, 3, -0.1f, 0.1f, "bn_data.shift"), "bn_data");
    x = tt_zb_conv(b, x, 3, 64, 7, 2, 3, 1, 1, "conv0");
    x = tt_zb_relu(b, x, "relu0");
    x = tt_zb_maxpool(b, x, 3, 2, 1, 0, "pool0");
    static const int units[4] = {3, 4, 6, 3};
    static const int filters[4] = {256, 512, 1024, 2048};
    int cin = 64;
    int sum = x; /* the pre-activation input of the next unit */
    /* stage 1's first unit reads the pool output through bn1 + relu */
    int act = tt_zb_relu(b, tt_zb_add(b, x, chan_const(b, 64, -0.1f, 0.1f, "stage1_unit1_bn1.shift"),
                                       "stage1_unit1_bn1"),
                         "stage1_unit1_relu1");
    for (int s = 0; s < 4; s++) {
        int f = filters[s], mid = f / 4;
        for (int u = 0; u < units[s]; u++) {
            char nm[64];
            int stride = s > 0 && u == 0 ? 2 : 1;
            snprintf(nm, sizeof nm, "stage%d_unit%d", s + 1, u + 1);
            int h = tt_zb_conv(b, act, cin, mid, 1, stride, 0, 1, 1, "%s_conv1", nm);
            h = tt_zb_relu(b, h, "%s_relu2", nm);
            h = tt_zb_conv(b, h, mid, mid, 3, 1, 1, 1, 1, "%s_conv2", nm);
            h = tt_zb_relu(b, h, "%s_relu3", nm);
            h = tt_zb_conv(b, h, mid, f, 1, 1, 0, 1, 0, "%s_conv3", nm);
            char wn[80];
            snprintf(wn, sizeof wn, "%s_conv3.weight", nm);
            scale_weight(b, wn, 0.3f);
            int sc = sum;
            if (u == 0) /* after conv3, as Relay orders it, so conv3 takes the add */
                sc = tt_zb_conv(b, act, cin, f, 1, stride, 0, 1, 0, "%s_sc", nm);
            sum = tt_zb_add(b, h, sc, "%s_plus", nm);
            cin = f;
            int last_unit = u == units[s] - 1, last = last_unit && s == 3;
            char bn[80];
            snprintf(bn, sizeof bn, "%s", nm);
            if (last) {
                int64_t shp[3] = {f, 1, 1};
                int scale = tt_zb_uniform(b, 3, shp, 0.5f, 1.0f, "bn1.scale");
                int y = tt_zb_mul(b, sum, scale, "bn1_mul");
                y = tt_zb_add(b, y, chan_const(b, f, -0.1f, 0.1f, "bn1.shift"), "bn1");
                act = tt_zb_relu(b, y, "relu1");
            } else {
                /* the next unit's bn1 (scale folded into its convolutions) + relu */
                char nx[64];
                if (last_unit)
                    snprintf(nx, sizeof nx, "stage%d_unit1", s + 2);
                else
                    snprintf(nx, sizeof nx, "stage%d_unit%d", s + 1, u + 2);
                char shn[96];
                snprintf(shn, sizeof shn, "%s_bn1.shift", nx);
                int y = tt_zb_add(b, sum, chan_const(b, f, -0.1f, 0.1f, shn), "%s_bn1", nx);
                act = tt_zb_relu(b, y, "%s_relu1", nx);
            }
        }
    }
    x = tt_zb_gap(b, act, "pool1");
    x = tt_zb_flatten(b, x, "flatten");
    x = tt_zb_linear(b, x, 2048, 1000, "fc1");
    int n = b->g->nnodes;
    int in[1] = {x};
    x = tt_graph_op1(b->g, TT_GOP_SOFTMAX, "softmax", 1, in, &b->err);
    if (x >= 0 && b->g->nnodes == n + 1)
        tt_node_set_int(b->g, n, "axis", -1);
    return tt_zb_finish(b, x, err);
}
