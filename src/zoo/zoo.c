/* zoo.c - the registry of built-in models. */
#include <string.h>

#include "zoo_int.h"

#define CNN(name, desc, build)                                                                     \
    {name, desc, {1, 3, 224, 224}, 4, TT_DT_FLOAT, build}

const tt_zoo_entry tt_zoo[] = {
    CNN("resnet18", "ResNet-18 (torchvision), 224x224", tt_zoo_resnet18),
    CNN("resnet50", "ResNet-50 v1.5 (torchvision), 224x224", tt_zoo_resnet50),
    CNN("resnet50_tvm", "ResNet-50 of TVM's relay.testing (pre-activation), as Relay fuses it: "
        "the model of the shared Ansor log", tt_zoo_resnet50_tvm),
    CNN("alexnet", "AlexNet (torchvision), 224x224", tt_zoo_alexnet),
    CNN("vgg16", "VGG-16 without BatchNorm (torchvision), 224x224", tt_zoo_vgg16),
    CNN("mobilenet_v2", "MobileNetV2 (torchvision), 224x224", tt_zoo_mobilenet_v2),
    CNN("googlenet", "GoogLeNet (torchvision, eval: no aux heads), 224x224", tt_zoo_googlenet),
    CNN("mnasnet1_0", "MNASNet-1.0 (torchvision), 224x224", tt_zoo_mnasnet1_0),
    CNN("efficientnet_b0", "EfficientNet-B0 (torchvision), 224x224", tt_zoo_efficientnet_b0),
    CNN("efficientnet_b4", "EfficientNet-B4 (torchvision) at 224x224", tt_zoo_efficientnet_b4),
    {"bert_base", "BERT-base (12 layers, hidden 768), sequence 256", {1, 256, 0, 0}, 2,
     TT_DT_INT64, tt_zoo_bert_base},
    {"mobilebert", "MobileBERT (24 layers), sequence 256", {1, 256, 0, 0}, 2, TT_DT_INT64,
     tt_zoo_mobilebert},
    {"tiny", "a small CNN for tests (conv, depthwise, residual, pools, relu6, gemm), 32x32",
     {1, 3, 32, 32}, 4, TT_DT_FLOAT, tt_zoo_tiny},
    {"tiny_wide", "tiny's layers at 48x48 with 24/48 channels: its kernel classes, other shapes",
     {1, 3, 48, 48}, 4, TT_DT_FLOAT, tt_zoo_tiny_wide},
    {NULL, NULL, {0, 0, 0, 0}, 0, TT_DT_UNDEF, NULL},
};

const tt_zoo_entry *tt_zoo_find(const char *name)
{
    if (!name)
        return NULL;
    for (const tt_zoo_entry *e = tt_zoo; e->name; e++)
        if (!strcmp(e->name, name))
            return e;
    return NULL;
}

tt_graph *tt_zoo_build(const char *name, uint64_t seed, tt_err *err)
{
    const tt_zoo_entry *e = tt_zoo_find(name);
    if (!e) {
        tt_err_set(err, "unknown zoo model '%s' (see `transtune models`)", name ? name : "(null)");
        return NULL;
    }
    return e->build(seed, err);
}
