/* zoo_int.h - internals of the model zoo: the model builders and the layer
 * helpers they are written with (src/zoo/layers.c).
 *
 * A builder (tt_zb) wraps the graph under construction, the model's weight
 * seed and the first error.  Every helper appends the ONNX nodes that
 * PyTorch's export emits for one torch module or function, creates that
 * module's weights as constants, and returns the index of its output tensor;
 * on failure, or when given a failed input (-1), it returns -1 and leaves the
 * message in the builder, so a model body needs no error checks of its own:
 * tt_zb_finish() reports the first failure.
 *
 * Names: the last arguments of each helper are a printf format and its
 * arguments giving the torch module path ("layer1.0.conv1"); the node takes
 * that name, its output tensor "<name>_out", its weights "<name>.weight",
 * "<name>.bias", "<name>.running_mean", ... as in a torch state dict.
 *
 * Weights are seeded per tensor from (model name, seed, tensor name), so a
 * tensor's values do not depend on the order the model creates them in.
 * Scales keep activations of random deep nets finite and non-degenerate:
 * conv and linear weights uniform in +-sqrt(6 / fan_in) (Kaiming's uniform
 * bound for ReLU), biases in +-0.1, BatchNorm gamma in [0.75, 1.25] (in
 * [0.2, 0.4] for the last BatchNorm of a residual branch, so that the sum
 * over many blocks does not grow without bound), beta and running mean in
 * +-0.1, running variance in [0.5, 1.5].
 */
#ifndef TT_ZOO_INT_H
#define TT_ZOO_INT_H

#include "zoo.h"

typedef struct tt_zb {
    tt_graph *g;
    tt_err err;          /* the first failure while building */
    uint64_t seed;       /* mixes the model name and the caller's seed */
    double bn_eps;       /* BatchNorm attributes as the export writes them: */
    double bn_momentum;  /* float32 values, momentum = 1 - torch's momentum */
} tt_zb;

/* Start model `model` with weights from `seed`: an empty graph, BatchNorm
 * epsilon 1e-5 and momentum 0.9 (torch's defaults; a model may change
 * b->bn_eps / b->bn_momentum, through tt_zb_float32 to round like ONNX). */
void tt_zb_begin(tt_zb *b, const char *model, uint64_t seed);
/* End the model: mark tensor `out` the graph output and return the graph;
 * on any earlier failure free it and return NULL with the first message in
 * err (prefixed with the model name). */
tt_graph *tt_zb_finish(tt_zb *b, int out, tt_err *err);
/* v rounded to float32, as an ONNX float attribute holds it. */
double tt_zb_float32(double v);

/* n floats uniform in [lo, hi), from the stream of (seed, tensor name): the
 * weights of every zoo model (caller frees). */
float *tt_zoo_uniform_data(uint64_t seed, const char *name, int64_t n, float lo, float hi);

/* A graph input "input" of the given type and shape. */
int tt_zb_input(tt_zb *b, tt_dtype dt, int ndim, const int64_t *shape);

/* A float constant of the given shape, uniform in [lo, hi]. */
int tt_zb_uniform(tt_zb *b, int ndim, const int64_t *shape, float lo, float hi, const char *fmt,
                  ...) __attribute__((format(printf, 6, 7)));

/* ---- torch modules and functions, each as the export writes it ------------ */

/* nn.Conv2d(cin, cout, k, stride, pad, groups, bias): Conv with
 * dilations, group, kernel_shape, pads, strides. */
int tt_zb_conv(tt_zb *b, int x, int cin, int cout, int k, int stride, int pad, int groups,
               int bias, const char *fmt, ...) __attribute__((format(printf, 10, 11)));
/* nn.BatchNorm2d(c) in eval mode: BatchNormalization(x, scale, B, mean, var)
 * with epsilon and momentum from the builder.  closes_residual: the last
 * BatchNorm of a residual branch (smaller gamma, see above). */
int tt_zb_bn(tt_zb *b, int x, int c, int closes_residual, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* nn.ReLU: Relu. */
int tt_zb_relu(tt_zb *b, int x, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* nn.ReLU6: Clip(x, min, max) with scalar constants 0 and 6 (the export
 * writes them as Constant nodes; here they are constants "<name>.min/.max"). */
int tt_zb_relu6(tt_zb *b, int x, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* nn.SiLU: Sigmoid then Mul(x, sigmoid), nodes "<name>/Sigmoid", "<name>/Mul". */
int tt_zb_silu(tt_zb *b, int x, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* nn.Sigmoid: Sigmoid. */
int tt_zb_sigmoid(tt_zb *b, int x, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* a + c and a * c (Add, Mul), operands in this order. */
int tt_zb_add(tt_zb *b, int a, int c, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int tt_zb_mul(tt_zb *b, int a, int c, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* nn.MaxPool2d(k, stride, pad, ceil_mode): MaxPool with ceil_mode,
 * kernel_shape, pads, strides. */
int tt_zb_maxpool(tt_zb *b, int x, int k, int stride, int pad, int ceil_mode, const char *fmt,
                  ...) __attribute__((format(printf, 7, 8)));
/* nn.AdaptiveAvgPool2d((n, n)) on an input that is already n x n (alexnet,
 * vgg at 224x224): the export writes AveragePool with kernel_shape [1,1] and
 * strides [1,1] only. */
int tt_zb_avgpool_identity(tt_zb *b, int x, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* nn.AdaptiveAvgPool2d(1): GlobalAveragePool. */
int tt_zb_gap(tt_zb *b, int x, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* torch.flatten(x, 1): Flatten with axis 1. */
int tt_zb_flatten(tt_zb *b, int x, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* x.mean([2, 3]): ReduceMean with axes [2,3], keepdims 0. */
int tt_zb_mean_hw(tt_zb *b, int x, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* nn.Linear(in, out): Gemm(x, weight [out,in], bias [out]) with alpha 1,
 * beta 1, transB 1. */
int tt_zb_linear(tt_zb *b, int x, int in, int out, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* torch.cat(xs, 1): Concat with axis 1. */
int tt_zb_concat(tt_zb *b, int n, const int *xs, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- composites ---------------------------------------------------------- */

typedef enum tt_zb_act { TT_ZB_ACT_NONE = 0, TT_ZB_ACT_RELU, TT_ZB_ACT_RELU6, TT_ZB_ACT_SILU } tt_zb_act;

/* torchvision's Conv2dNormActivation(cin, cout, k, stride, groups,
 * activation): Conv (no bias, padding (k-1)/2) "<name>.0", BatchNorm
 * "<name>.1", activation "<name>.2". */
int tt_zb_conv_bn_act(tt_zb *b, int x, int cin, int cout, int k, int stride, int groups,
                      tt_zb_act act, int closes_residual, const char *fmt, ...)
    __attribute__((format(printf, 10, 11)));

/* torchvision's _make_divisible(v, divisor) (mobilenet, efficientnet). */
int tt_zb_make_divisible(double v, int divisor);

/* ---- the models ----------------------------------------------------------- */

tt_graph *tt_zoo_resnet18(uint64_t seed, tt_err *err);
tt_graph *tt_zoo_resnet50(uint64_t seed, tt_err *err);
tt_graph *tt_zoo_alexnet(uint64_t seed, tt_err *err);
tt_graph *tt_zoo_vgg16(uint64_t seed, tt_err *err);
tt_graph *tt_zoo_googlenet(uint64_t seed, tt_err *err);
tt_graph *tt_zoo_mobilenet_v2(uint64_t seed, tt_err *err);
tt_graph *tt_zoo_mnasnet1_0(uint64_t seed, tt_err *err);
tt_graph *tt_zoo_efficientnet_b0(uint64_t seed, tt_err *err);
tt_graph *tt_zoo_efficientnet_b4(uint64_t seed, tt_err *err);
tt_graph *tt_zoo_tiny(uint64_t seed, tt_err *err);
tt_graph *tt_zoo_tiny_wide(uint64_t seed, tt_err *err);
/* In src/zoo/resnet_tvm.c. */
tt_graph *tt_zoo_resnet50_tvm(uint64_t seed, tt_err *err);
/* In src/zoo/bert.c (another file). */
tt_graph *tt_zoo_bert_base(uint64_t seed, tt_err *err);
tt_graph *tt_zoo_mobilebert(uint64_t seed, tt_err *err);

#endif
