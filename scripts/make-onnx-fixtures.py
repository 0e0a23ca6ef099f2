#!/usr/bin/python3
"""make-onnx-fixtures.py - small ONNX models for the importer's tests.

Run from the repository root with the Python that has torch and onnx:

    /usr/bin/python3 scripts/make-onnx-fixtures.py [OUTDIR]   (default tests/data/onnx)

Writes, for every good model NAME, NAME.onnx with seeded weights, NAME.in.npy
(a seeded input) and NAME.out.npy (the output computed by PyTorch for exported
models, or by numpy for models built node by node), plus bad-*.onnx files that
the importer must refuse with a specific message.  The output is deterministic:
re-running the script must not change the committed files (apart from
protobuf's field order, which onnx keeps stable).
"""
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/data/onnx"


def save_npy(name, arr):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(arr))


def export(name, model, x, opset=13, dynamic=None):
    """Export a torch module (eval mode) and save input/output arrays.  With
    `dynamic` (input axis -> name), those axes are symbolic in the model, and
    torch keeps the shape arithmetic (Shape, Gather, ...) that depends on them."""
    model.eval()
    path = os.path.join(OUT, name + ".onnx")
    with torch.no_grad():
        y = model(x)
        torch.onnx.export(model, (x,), path, opset_version=opset, input_names=["input"],
                          output_names=["output"],
                          dynamic_axes={"input": dynamic} if dynamic else None)
    m = onnx.load(path)
    m.producer_version = ""  # keep the files independent of the torch build
    m.graph.doc_string = ""
    onnx.checker.check_model(m)
    onnx.save(m, path)
    save_npy(name + ".in.npy", x.numpy())
    save_npy(name + ".out.npy", y.numpy())
    ops = sorted({n.op_type for n in m.graph.node})
    print(f"{name}: {os.path.getsize(path)} bytes, opset {opset}, ops {ops}, out {tuple(y.shape)}")


def export_inputs(name, model, xs, names, opset=13):
    """export() for a model of several inputs: NAME.in.INPUT.npy per input (in the model's
    order: `transtune run --input INPUT=FILE`), NAME.out.npy."""
    model.eval()
    path = os.path.join(OUT, name + ".onnx")
    with torch.no_grad():
        y = model(*xs)
        torch.onnx.export(model, tuple(xs), path, opset_version=opset, input_names=list(names),
                          output_names=["output"])
    m = onnx.load(path)
    m.producer_version = ""
    m.graph.doc_string = ""
    onnx.checker.check_model(m)
    onnx.save(m, path)
    for n, x in zip(names, xs):
        save_npy("%s.in.%s.npy" % (name, n), x.numpy())
    save_npy(name + ".out.npy", y.numpy())
    ops = sorted({n.op_type for n in m.graph.node})
    print(f"{name}: {os.path.getsize(path)} bytes, opset {opset}, ops {ops}, out {tuple(y.shape)}")


class MaskedAttn(nn.Module):
    """A BERT-style encoder layer with an attention-mask input, as Hugging Face's exports
    write it: token ids and token types (int64) through embeddings, the additive mask
    (1 - mask[:, None, None, :].float()) * finfo.min (Unsqueeze, Cast, Sub, Mul), and the
    masked_fill of DistilBERT on (mask == 0) (Equal, Expand, Where on booleans); head shapes
    from x.size(); tanh GELU."""

    def __init__(self, vocab=40, d=16, heads=2):
        super().__init__()
        self.nh, self.hd = heads, d // heads
        self.tok = nn.Embedding(vocab, d)
        self.typ = nn.Embedding(2, d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ln = nn.LayerNorm(d)
        self.ff = nn.Linear(d, d)

    def forward(self, input_ids, attention_mask, token_type_ids):
        x = self.tok(input_ids) + self.typ(token_type_ids)
        q, k, v = self.qkv(x).split(x.size(-1), dim=-1)
        sh = x.size()[:-1] + (self.nh, self.hd)
        q, k, v = (t.view(sh).permute(0, 2, 1, 3) for t in (q, k, v))
        s = torch.matmul(q, k.transpose(-1, -2)) / self.hd ** 0.5
        s = s + (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        p = torch.softmax(s, dim=-1)
        fill = (attention_mask == 0).view(x.size(0), 1, 1, x.size(1)).expand_as(s)
        p = p.masked_fill(fill, 0.0)
        c = torch.matmul(p, v).permute(0, 2, 1, 3).reshape(x.size())
        h = self.ln(self.out(c) + x)
        return h + F.gelu(self.ff(h), approximate="tanh")


class Acts(nn.Module):
    """Normalizations and activations of image-to-image and detection nets: InstanceNorm
    (affine), GroupNorm (exported as Reshape -> InstanceNormalization -> Reshape -> Mul -> Add),
    LeakyReLU, PReLU (per channel), ELU, SELU, Softplus and Mish (x * tanh(softplus(x))),
    between convolutions (NHWC in our layout)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.inorm = nn.InstanceNorm2d(8, affine=True)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.gnorm = nn.GroupNorm(2, 8)
        self.prelu = nn.PReLU(8)
        self.c3 = nn.Conv2d(8, 4, 1)
        with torch.no_grad():
            for m in (self.inorm, self.gnorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
            self.prelu.weight.uniform_(0.05, 0.4)

    def forward(self, x):
        x = F.leaky_relu(self.inorm(self.c1(x)), 0.2)
        x = self.prelu(self.gnorm(self.c2(x)))
        x = F.elu(x) + F.selu(x) + F.softplus(x) + F.mish(x)
        return self.c3(x)


class Decoder(nn.Module):
    """Upsampling paths of segmentation and generative nets: ConvTranspose (stride 2 with
    output_padding; grouped, kernel 4), Resize nearest x2 and to an odd size (asymmetric, floor),
    bilinear to an odd size (pytorch_half_pixel) and with align_corners, a skip Concat."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.up1 = nn.ConvTranspose2d(8, 8, 3, stride=2, padding=1, output_padding=1)
        self.up2 = nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1, groups=2)
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x):                                  # [1, 3, 10, 12]
        d = F.relu(self.down(x))                           # [1, 8, 5, 6]
        u = F.relu(self.up1(d))                            # [1, 8, 10, 12]
        u = torch.cat([u, F.interpolate(d, scale_factor=2, mode="nearest")], 1)
        u = self.up2(u)                                    # [1, 8, 20, 24]
        a = F.interpolate(u, size=(13, 17), mode="bilinear", align_corners=False)
        b = F.interpolate(u, size=(13, 17), mode="bilinear", align_corners=True)
        c = F.interpolate(u, size=(13, 17), mode="nearest")
        return self.head(a + b + c)


class Reduces(nn.Module):
    """What Swin-V2 adds to Swin: F.normalize (ReduceL2), a bias table computed by an MLP and
    gathered at 100 scattered constant indices, an Expand of an activation; also ReduceSum
    (axes as an input at opset 13) and the sum of squares."""

    def __init__(self):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))
        self.register_buffer("coords", torch.randn(25, 2))
        self.register_buffer("index", torch.randint(0, 25, (100,)))

    def forward(self, x):                                  # [1, 3, 10, 10]
        q = F.normalize(x, dim=-1)
        table = self.mlp(self.coords)                      # [25, 3], computed
        bias = table[self.index].t().reshape(1, 3, 10, 10)
        s = x.sum(dim=1, keepdim=True) + (x * x).sum(dim=(2, 3), keepdim=True)
        e = x.mean(dim=1, keepdim=True).expand(1, 3, 10, 10)
        return q + bias + s + e


def save_bad(name, graph, opset=13):
    """A model the importer must refuse (not checked: some are invalid ONNX)."""
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="make-onnx-fixtures")
    m.ir_version = 7
    onnx.save(m, os.path.join(OUT, name + ".onnx"))


def save_helper(name, graph, opset, x, y):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="make-onnx-fixtures")
    m.ir_version = 7
    onnx.checker.check_model(m)
    path = os.path.join(OUT, name + ".onnx")
    onnx.save(m, path)
    if x is not None:
        save_npy(name + ".in.npy", x)
        save_npy(name + ".out.npy", y)
    print(f"{name}: {os.path.getsize(path)} bytes, opset {opset}")
    return m


# ---- exported from torch -----------------------------------------------------------


class ConvNet(nn.Module):
    """conv+bn+relu, depthwise conv + relu6 (Clip), maxpool (ceil), SE-style
    sigmoid gate, hardswish, avgpool, global pool, flatten, gemm."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8)
        self.bn2 = nn.BatchNorm2d(8)  # after relu6: kept as BatchNormalization
        self.pw = nn.Conv2d(8, 12, 1)
        self.se = nn.Conv2d(12, 12, 1)
        self.fc = nn.Linear(12, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.c1(x)))
        x = F.max_pool2d(x, 3, stride=2, ceil_mode=True)
        x = self.bn2(F.relu6(self.dw(x)))
        x = F.hardswish(self.pw(x))
        x = x * torch.sigmoid(self.se(F.adaptive_avg_pool2d(x, 1)))
        x = F.avg_pool2d(x, 2, stride=1, padding=1, count_include_pad=False)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


class ShapeChain(nn.Module):
    """x.view(x.size(0), -1) and friends: Shape -> Gather -> Unsqueeze ->
    Concat -> Reshape chains that only folding turns into constants."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(4, 6, 3)
        self.fc = nn.Linear(6 * 3 * 3, 5)

    def forward(self, x):
        y = self.c(x)
        n, c, h, w = y.size()
        y = y.view(n, c, h * w).transpose(1, 2).reshape(y.size(0), -1)
        return self.fc(y).view(n, 1, -1)


class Block(nn.Module):
    """A transformer encoder block: attention with Softmax, Transpose, batched
    MatMul; LayerNorm (ReduceMean/Sub/Pow/Sqrt/Div at opset 13); GELU (Erf)."""

    def __init__(self, d=16, heads=2, ff=32):
        super().__init__()
        self.h = heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.f1, self.f2 = nn.Linear(d, ff), nn.Linear(ff, d)

    def forward(self, x):
        b, s, d = x.shape
        hd = d // self.h

        def split(t):
            return t.view(b, s, self.h, hd).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        a = torch.softmax(q @ k.transpose(-1, -2) / hd ** 0.5, dim=-1)
        y = (a @ v).transpose(1, 2).reshape(b, s, d)
        x = self.ln1(x + self.o(y))
        return self.ln2(x + self.f2(F.gelu(self.f1(x))))


class CatSplitSlicePad(nn.Module):
    def forward(self, x):
        a, b = torch.split(x, [2, 4], dim=1)
        y = torch.cat([b, a, a * 2], dim=1)             # 8 channels
        y = y[:, 1:-1, ::2, 1:]                          # steps, negative end
        y = F.pad(y, (1, 2, 0, 1), value=0.5)            # constant Pad
        z = torch.flip(y, [3])[..., :4]                  # negative-step Slice
        return torch.cat([y[..., :4], z], dim=2)


class Shuffle(nn.Module):
    """ShuffleNet-v2's block structure: chunk (Slice), concat, and the channel
    shuffle (Reshape -> Transpose -> Reshape) between convolutions, on channel
    counts that are not a multiple of 8 (10, 20)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 20, 3, padding=1)
        self.c2 = nn.Conv2d(10, 10, 1)
        self.c3 = nn.Conv2d(20, 6, 1)

    def forward(self, x):
        x = F.relu(self.c1(x))
        for _ in range(2):
            a, b = x.chunk(2, dim=1)
            x = torch.cat([a, F.relu(self.c2(b))], dim=1)
            n, c, h, w = x.shape
            x = x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
        return self.c3(x)


class Embed(nn.Module):
    """BERT-style embedding at opset 17: token Gather, positions from Range,
    a padding mask from Equal/Where/Expand, LayerNormalization, Cast."""

    def __init__(self, vocab=50, d=16):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(32, d)
        self.ln = nn.LayerNorm(d)

    def forward(self, ids):
        pos = torch.arange(ids.size(1)).unsqueeze(0)
        e = self.ln(self.tok(ids) + self.pos(pos))
        mask = (ids == 0).unsqueeze(-1).expand(-1, -1, e.size(-1))
        e = torch.where(mask, torch.zeros_like(e), e)
        return e * ids.size(1) ** 0.5 + (ids.float() / 50.0).unsqueeze(-1)


class ResBlocks(nn.Module):
    """Two torchvision BasicBlocks, the second with a strided downsample: the
    residual add reads a branch the exporter writes after the main path."""

    def __init__(self):
        super().__init__()
        import torchvision.models.resnet as R
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.b1 = R.BasicBlock(8, 8)
        down = nn.Sequential(nn.Conv2d(8, 16, 1, stride=2, bias=False), nn.BatchNorm2d(16))
        self.b2 = R.BasicBlock(8, 16, stride=2, downsample=down)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = self.b2(self.b1(self.stem(x)))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.pool(x), 1), 1))


class DenseBits(nn.Module):
    """DenseNet's pattern: BatchNorm -> ReLU -> Conv on a concatenation (a
    stand-alone BatchNorm the exporter cannot fold), a 2x2 average pool, and
    the classifier on a flattened 1x1 map."""

    def __init__(self):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv1 = nn.Conv2d(8, 4, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(12)
        self.conv2 = nn.Conv2d(12, 6, 1, bias=False)
        self.pool = nn.AvgPool2d(2, 2)
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        x = self.conv0(x)
        y = self.conv1(torch.relu(self.bn1(x)))
        x = torch.cat([x, y], 1)
        x = self.pool(self.conv2(torch.relu(self.bn2(x))))
        x = nn.functional.adaptive_avg_pool2d(torch.relu(x), 1)
        return self.fc(torch.flatten(x, 1))


class AttnBits(nn.Module):
    """What vision transformers export beyond a plain block: q, k, v picked
    from one activation by constant indices (Gather of an activation), the
    scores by einsum("bhid,bhjd->bhij"), dropout with p=0 in training mode
    (Swin's), a mask built by slice assignment on a zeros tensor shaped from
    the input (ScatterND, folded), a class token x[:, 0] and a scattered pick
    x[:, [2, 0]] (Gathers with a scalar and a list index)."""

    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(16, 48)
        self.proj = nn.Linear(16, 16)

    def forward(self, x):                      # [1, 6, 16]
        b, t, c = x.shape
        qkv = self.qkv(x).reshape(b, t, 3, 2, 8).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]       # [1, 2, 6, 8]
        a = torch.einsum("bhid,bhjd->bhij", q, k) * 8 ** -0.5
        mask = x.new_zeros((1, 1, t, t))
        mask[:, :, 0:2, :] = -1.0              # ScatterND on a zeros tensor
        a = torch.nn.functional.dropout(torch.softmax(a + mask, dim=-1), 0.0, training=True)
        y = self.proj((a @ v).transpose(1, 2).reshape(b, t, c))
        return torch.cat([y[:, 0], y[:, [2, 0]].reshape(b, 2 * c)], dim=1)


def torch_fixtures():
    torch.manual_seed(1)
    m = ConvNet()
    for bn in (m.bn1, m.bn2):  # non-trivial running statistics
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 1.5)
    export("convnet", m, torch.randn(1, 3, 16, 16))
    torch.manual_seed(2)
    # a symbolic batch: the importer reads it as 1, so the fixture's batch is 1
    export("shapechain", ShapeChain(), torch.randn(1, 4, 5, 5), dynamic={0: "batch"})
    torch.manual_seed(3)
    export("transformer", Block(), torch.randn(1, 8, 16))
    torch.manual_seed(4)
    export("catsplit", CatSplitSlicePad(), torch.randn(1, 6, 7, 9))
    torch.manual_seed(7)
    export("shuffle", Shuffle(), torch.randn(1, 3, 9, 11))
    torch.manual_seed(5)
    ids = torch.randint(0, 50, (1, 8))
    ids[0, 6:] = 0
    export("embed17", Embed(), ids, opset=17)
    torch.manual_seed(6)
    m = ResBlocks()
    for mod in m.modules():  # non-trivial running statistics
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
    export("resblocks", m, torch.randn(1, 3, 16, 16))
    torch.manual_seed(7)
    m = DenseBits()
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.3, 0.3)
    export("densebits", m, torch.randn(1, 3, 12, 12))
    torch.manual_seed(8)
    export("attnbits", AttnBits(), torch.randn(1, 6, 16))
    torch.manual_seed(10)
    export("acts", Acts(), torch.randn(1, 3, 9, 9), opset=17)
    torch.manual_seed(11)
    export("decoder", Decoder(), torch.randn(1, 3, 10, 12))
    torch.manual_seed(12)
    export("reduces", Reduces(), torch.randn(1, 3, 10, 10))
    # convnet again with every initializer in external.data (as exports over 2 GB must be)
    m = onnx.load(os.path.join(OUT, "convnet.onnx"))
    onnx.save_model(m, os.path.join(OUT, "external.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="external.data", size_threshold=0)
    for suffix in ("in", "out"):
        np.save(os.path.join(OUT, "external.%s.npy" % suffix), np.load(os.path.join(OUT, "convnet.%s.npy" % suffix)))
    torch.manual_seed(9)
    ids = torch.randint(0, 40, (1, 10))
    mask = torch.tensor([[1] * 7 + [0] * 3])
    types = torch.tensor([[0] * 5 + [1] * 5])
    export_inputs("masked", MaskedAttn(), [ids, mask, types],
                  ["input_ids", "attention_mask", "token_type_ids"])


# ---- built node by node (old opsets) -------------------------------------------------


def legacy_fixture():
    """Opset 10: Clip's min/max and Pad's pads/value attributes, Split's split,
    Unsqueeze/Squeeze axes attributes, Softmax-1 on a 2-D input."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 4, 3, 3)).astype(np.float32) * 4
    w = rng.standard_normal((5, 8)).astype(np.float32)
    nodes = [
        helper.make_node("Clip", ["x"], ["c"], name="clip", min=-1.0, max=2.5),
        helper.make_node("Pad", ["c"], ["p"], name="pad", pads=[0, 0, 1, 0, 0, 0, 0, 1],
                         value=0.25),                               # [1,4,4,4]
        helper.make_node("Split", ["p"], ["s1", "s2"], name="split", axis=1, split=[1, 3]),
        helper.make_node("Squeeze", ["s1"], ["q"], name="squeeze", axes=[0, 1]),    # [4,4]
        helper.make_node("Unsqueeze", ["q"], ["u"], name="unsqueeze", axes=[0]),   # [1,4,4]
        helper.make_node("ReduceMean", ["s2"], ["r"], name="rmean", axes=[1], keepdims=0),
        helper.make_node("Add", ["r", "u"], ["a"], name="add"),                    # [1,4,4]
        helper.make_node("Flatten", ["a"], ["f"], name="flatten", axis=1),         # [1,16]
        helper.make_node("Slice", ["f", "st", "en"], ["sl"], name="slice"),        # [1,8]
        helper.make_node("MatMul", ["sl", "wt"], ["mm"], name="matmul"),           # [1,5]
        helper.make_node("Softmax", ["mm"], ["y"], name="softmax"),                # axis 1
    ]
    inits = [
        numpy_helper.from_array(np.array([0, 4], np.int64), "st"),
        numpy_helper.from_array(np.array([1, 12], np.int64), "en"),
        numpy_helper.from_array(w.T.copy(), "wt"),
    ]
    g = helper.make_graph(nodes, "legacy10",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, 3, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], inits)
    c = np.clip(x, -1.0, 2.5)
    p = np.pad(c, [(0, 0), (0, 0), (1, 0), (0, 1)], constant_values=0.25)
    s1, s2 = p[:, :1], p[:, 1:]
    a = s2.mean(axis=1) + s1.reshape(4, 4)[None]
    sl = a.reshape(1, 16)[:, 4:12]
    mm = sl @ w.T
    e = np.exp(mm - mm.max(axis=1, keepdims=True))
    save_helper("legacy10", g, 10, x, (e / e.sum(axis=1, keepdims=True)).astype(np.float32))


def inputs_x(shape=(1, 3)):
    return [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))]


def bad_fixtures():
    w = numpy_helper.from_array(np.ones((3, 4), np.float32), "w")
    # an operator nobody knows
    g = helper.make_graph([helper.make_node("FooBar", ["x"], ["y"], name="foo")], "unknown_op",
                          inputs_x(), [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    save_bad("bad-unknown-op", g)
    # a MatMul whose weight initializer is missing
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "missing",
                          inputs_x(), [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    save_bad("bad-missing-init", g)
    # inconsistent shapes: [1,3] x [4,5]
    w45 = numpy_helper.from_array(np.ones((4, 5), np.float32), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "shapes",
                          inputs_x(), [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [w45])
    save_bad("bad-shapes", g)
    # a declared output shape that inference contradicts
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "declared",
                          inputs_x(), [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
                          [w])
    save_bad("bad-declared-shape", g)
    # a float16 initializer
    h = numpy_helper.from_array(np.ones((3, 4), np.float16), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "fp16",
                          inputs_x(), [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [h])
    save_bad("bad-float16", g)
    # control flow
    then_g = helper.make_graph([helper.make_node("Identity", ["x"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", TensorProto.FLOAT, None)])
    cond = numpy_helper.from_array(np.array(True), "cond")
    g = helper.make_graph([helper.make_node("If", ["cond"], ["y"], name="branch",
                                            then_branch=then_g, else_branch=then_g)], "ctl",
                          inputs_x(), [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [cond])
    save_bad("bad-if", g)
    # external data
    ext = numpy_helper.from_array(np.ones((3, 4), np.float32), "w")
    ext.ClearField("raw_data")
    ext.data_location = TensorProto.EXTERNAL
    e = ext.external_data.add()
    e.key, e.value = "location", "weights.bin"
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "ext",
                          inputs_x(), [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [ext])
    save_bad("bad-external", g)
    # external data outside the model's folder, and shorter than the tensor
    for bad, loc, off in (("bad-external-escape", "../weights.bin", "0"), ("bad-external-short", "external.data", "999999")):
        ext = numpy_helper.from_array(np.ones((3, 4), np.float32), "w")
        ext.ClearField("raw_data")
        ext.data_location = TensorProto.EXTERNAL
        for k, v in (("location", loc), ("offset", off)):
            e = ext.external_data.add()
            e.key, e.value = k, v
        g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "ext",
                              inputs_x(), [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [ext])
        save_bad(bad, g)
    # raw data shorter than the shape says
    short = numpy_helper.from_array(np.ones((3, 4), np.float32), "w")
    short.raw_data = short.raw_data[:40]
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "short",
                          inputs_x(), [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [short])
    save_bad("bad-short-data", g)
    # two nodes writing one tensor
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="r1"),
                           helper.make_node("Relu", ["x"], ["y"], name="r2")], "dup",
                          inputs_x(), [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    save_bad("bad-duplicate", g)
    # truncated and random bytes
    data = open(os.path.join(OUT, "convnet.onnx"), "rb").read()
    open(os.path.join(OUT, "bad-truncated.onnx"), "wb").write(data[: len(data) // 2])
    rng = np.random.default_rng(7)
    open(os.path.join(OUT, "bad-random.onnx"), "wb").write(rng.bytes(3000))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch_fixtures()
    legacy_fixture()
    bad_fixtures()


if __name__ == "__main__":
    main()
