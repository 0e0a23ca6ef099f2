# usage: /usr/bin/python3 scripts/export-onnx.py [--out DIR] [--seed S] [--opset N] [--list] [--torchvision] [MODEL...]
#        (DIR: build/onnx; MODEL: the paper's; --torchvision: every classification model of torchvision too)
"""Export the paper's models to ONNX with seeded random weights, plus a test
input and PyTorch's output for it.

For each model NAME this writes
    DIR/NAME.onnx      torch.onnx.export(model.eval(), x, opset_version=13,
                       do_constant_folding=True), input "input", output "output"
    DIR/NAME.in.npy    a seeded random input: float32 N(0,1) [1,3,224,224]
                       ([1,3,299,299] for inception_v3); int64 token ids in
                       [0, 30522) of shape [1,256] for the BERTs
    DIR/NAME.out.npy   PyTorch's output for that input (float32)
and prints one line per model: name, .onnx size, seconds.  A model that fails
is reported and skipped; the exit status is 1 if any failed.

Weights: everything is drawn from torch.manual_seed(seed + crc32(name)), so a
model's files depend only on its name and --seed.  Conv and Linear weights get
He-normal (std sqrt(2/fan_in)) (torchvision's own init for GoogLeNet/Inception
uses std 0.01 truncated normals, which would make the output a constant);
every BatchNorm gets weight U(0.5,1.5), bias N(0,0.1), and running statistics
measured on random inputs and then perturbed (mean + N(0,0.1)*std,
var * U(0.5,1.5)), so that activations stay O(1) through 50+ layers and
BatchNorm is not the identity (see calibrate_bn).  Note that torch 1.13's
exporter itself folds an eval-mode BatchNorm that follows a Conv into the
Conv's weights and bias: the only BatchNormalization nodes left in these
exports are densenet121's 62 pre-activation ones (BN before Conv), which our
passes must fold into a per-channel Mul+Add.

BERT-base and MobileBERT are our own PyTorch implementations (no
`transformers`), following Hugging Face's BertModel / MobileBertModel with the
bert-base-uncased and google/mobilebert-uncased configurations: batch 1,
sequence 256, the input is the token ids only (token types are all 0, folded
into a constant; there is no attention mask, so the all-zero additive mask is
left out), the output is the last hidden state.  Their weights follow HF's init
(normal std 0.02) except that Linear biases are N(0,0.02) rather than 0 and
every LayerNorm / NoNorm gets a random affine (gamma U(0.5,1.5), beta
N(0,0.1)), so that they are tested.

Needs torch, torchvision and onnx for /usr/bin/python3 (Debian:
python3-torch python3-torchvision python3-onnx; `scripts/install-deps.sh
--extras` installs them).
"""
import argparse
import contextlib
import math
import os
import sys
import time
import zlib

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchvision
    import onnx  # noqa: F401  (torch.onnx.export needs it for some paths; we also count ops)
except ImportError as e:  # pragma: no cover
    sys.stderr.write(
        "export-onnx: %s\n"
        "export-onnx: this script needs torch, torchvision and onnx for %s;\n"
        "export-onnx: run `scripts/install-deps.sh --extras` (python3-torch python3-torchvision "
        "python3-onnx) and run the script with /usr/bin/python3\n" % (e, sys.executable))
    sys.exit(2)

SEQ = 256          # BERT sequence length
VOCAB = 30522      # BERT / MobileBERT vocabulary


# ---- BERT-base (Devlin et al. 2019; HF BertModel, bert-base-uncased) -------------------------

class BertLayer(nn.Module):
    """One encoder layer: self-attention, Add & LayerNorm, FFN (GELU, erf form), Add & LayerNorm.

    Per layer the ONNX export is (S = 256, H = 768, 12 heads of 64):
      q,k,v = MatMul(x, W) + b; Reshape [1,S,12,64]; Transpose (q,v: 0213, k: 0231)
      MatMul(q,k) / 8 -> Softmax(-1) -> MatMul(.,v) -> Transpose 0213 -> Reshape [1,S,768]
      MatMul + Add, Add(residual), LayerNorm, MatMul + Add, GELU, MatMul + Add, Add, LayerNorm
    """

    def __init__(self, hidden=768, heads=12, ffn=3072, eps=1e-12, seq=SEQ):
        super().__init__()
        self.h, self.nh, self.hd, self.seq = hidden, heads, hidden // heads, seq
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attn_out = nn.Linear(hidden, hidden)
        self.attn_norm = nn.LayerNorm(hidden, eps=eps)
        self.intermediate = nn.Linear(hidden, ffn)
        self.output = nn.Linear(ffn, hidden)
        self.out_norm = nn.LayerNorm(hidden, eps=eps)

    def heads(self, t):
        # Static shapes (batch 1, sequence 256): Reshape gets a constant shape.
        return t.reshape(1, self.seq, self.nh, self.hd).permute(0, 2, 1, 3)

    def forward(self, x):
        q = self.heads(self.query(x))
        k = self.key(x).reshape(1, self.seq, self.nh, self.hd).permute(0, 2, 3, 1)
        v = self.heads(self.value(x))
        scores = torch.matmul(q, k) / math.sqrt(self.hd)
        probs = torch.softmax(scores, dim=-1)
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(1, self.seq, self.h)
        a = self.attn_norm(self.attn_out(ctx) + x)
        f = self.output(F.gelu(self.intermediate(a)))
        return self.out_norm(f + a)


class BertBase(nn.Module):
    def __init__(self, vocab=VOCAB, hidden=768, layers=12, heads=12, ffn=3072, max_pos=512,
                 type_vocab=2, eps=1e-12, seq=SEQ):
        super().__init__()
        self.seq = seq
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.position_embeddings = nn.Embedding(max_pos, hidden)
        self.token_type_embeddings = nn.Embedding(type_vocab, hidden)
        self.emb_norm = nn.LayerNorm(hidden, eps=eps)
        self.layers = nn.ModuleList(BertLayer(hidden, heads, ffn, eps, seq) for _ in range(layers))

    def forward(self, ids):
        # HF: inputs_embeds + token_type_embeddings(0) + position_embeddings(0..S-1); the
        # last two are constants ([768] and [256,768] after folding).
        x = self.word_embeddings(ids)
        x = x + self.token_type_embeddings.weight[0]
        x = x + self.position_embeddings.weight[:self.seq]
        x = self.emb_norm(x)
        for layer in self.layers:
            x = layer(x)
        return x


# ---- MobileBERT (Sun et al. 2020; HF MobileBertModel, google/mobilebert-uncased) -------------

class NoNorm(nn.Module):
    """MobileBERT's replacement for LayerNorm: x * gamma + beta (elementwise)."""

    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.bias = nn.Parameter(torch.zeros(n))

    def forward(self, x):
        return x * self.weight + self.bias


class MobileBertLayer(nn.Module):
    """use_bottleneck, key_query_shared_bottleneck, 4 stacked FFNs, NoNorm, ReLU:

      inner  = NoNorm(Linear 512->128 (x))                 bottleneck input (residual of attention)
      shared = NoNorm(Linear 512->128 (x))                 query = key input
      q = Linear 128->128 (shared), k = same, v = Linear 512->128 (x); 4 heads of 32
      att = NoNorm(Linear 128->128 (attention(q,k,v)) + inner)
      3x: att = NoNorm(Linear 512->128 (relu(Linear 128->512 (att))) + att)
      o   = NoNorm(Linear 512->128 (relu(Linear 128->512 (att))) + att)
      out = NoNorm(Linear 128->512 (o) + x)
    """

    def __init__(self, hidden=512, inner=128, heads=4, ffn=512, nffn=4, seq=SEQ):
        super().__init__()
        self.inner, self.nh, self.hd, self.seq = inner, heads, inner // heads, seq
        self.bn_input = nn.Linear(hidden, inner)
        self.bn_input_norm = NoNorm(inner)
        self.bn_attention = nn.Linear(hidden, inner)
        self.bn_attention_norm = NoNorm(inner)
        self.query = nn.Linear(inner, inner)
        self.key = nn.Linear(inner, inner)
        self.value = nn.Linear(hidden, inner)
        self.attn_out = nn.Linear(inner, inner)
        self.attn_norm = NoNorm(inner)
        # nffn - 1 FFNs (intermediate, output, NoNorm), then the layer's own intermediate/output
        self.ffn_in = nn.ModuleList(nn.Linear(inner, ffn) for _ in range(nffn - 1))
        self.ffn_out = nn.ModuleList(nn.Linear(ffn, inner) for _ in range(nffn - 1))
        self.ffn_norm = nn.ModuleList(NoNorm(inner) for _ in range(nffn - 1))
        self.intermediate = nn.Linear(inner, ffn)
        self.output = nn.Linear(ffn, inner)
        self.out_norm = NoNorm(inner)
        self.out_bottleneck = nn.Linear(inner, hidden)
        self.out_bottleneck_norm = NoNorm(hidden)

    def heads(self, t):
        return t.reshape(1, self.seq, self.nh, self.hd).permute(0, 2, 1, 3)

    def forward(self, x):
        layer_input = self.bn_input_norm(self.bn_input(x))
        shared = self.bn_attention_norm(self.bn_attention(x))
        q = self.heads(self.query(shared))
        k = self.key(shared).reshape(1, self.seq, self.nh, self.hd).permute(0, 2, 3, 1)
        v = self.heads(self.value(x))
        scores = torch.matmul(q, k) / math.sqrt(self.hd)
        probs = torch.softmax(scores, dim=-1)
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(1, self.seq, self.inner)
        a = self.attn_norm(self.attn_out(ctx) + layer_input)
        for fi, fo, fn in zip(self.ffn_in, self.ffn_out, self.ffn_norm):
            a = fn(fo(F.relu(fi(a))) + a)
        o = self.out_norm(self.output(F.relu(self.intermediate(a))) + a)
        return self.out_bottleneck_norm(self.out_bottleneck(o) + x)


class MobileBert(nn.Module):
    def __init__(self, vocab=VOCAB, emb=128, hidden=512, layers=24, heads=4, inner=128, ffn=512,
                 nffn=4, max_pos=512, type_vocab=2, seq=SEQ):
        super().__init__()
        self.seq = seq
        self.word_embeddings = nn.Embedding(vocab, emb)
        self.embedding_transformation = nn.Linear(3 * emb, hidden)
        self.position_embeddings = nn.Embedding(max_pos, hidden)
        self.token_type_embeddings = nn.Embedding(type_vocab, hidden)
        self.emb_norm = NoNorm(hidden)
        self.layers = nn.ModuleList(
            MobileBertLayer(hidden, inner, heads, ffn, nffn, seq) for _ in range(layers))

    def forward(self, ids):
        e = self.word_embeddings(ids)                      # [1,S,128]
        # Trigram input: [token i+1, token i, token i-1], zero beyond the ends (HF's F.pad).
        e = torch.cat([F.pad(e[:, 1:], [0, 0, 0, 1, 0, 0], value=0.0),
                       e,
                       F.pad(e[:, :-1], [0, 0, 1, 0, 0, 0], value=0.0)], dim=2)   # [1,S,384]
        x = self.embedding_transformation(e)               # [1,S,512]
        x = x + self.position_embeddings.weight[:self.seq]
        x = x + self.token_type_embeddings.weight[0]
        x = self.emb_norm(x)
        for layer in self.layers:
            x = layer(x)
        return x


# ---- BERT-style encoders with an attention mask (Hugging Face's export patterns) --------------

MASK_SEQ = 128      # sequence of the masked encoders
MASK_VOCAB = 8192
MASK_VALID = 100    # tokens before the padding: attention_mask is 1 for these, 0 after


class MaskedLayer(nn.Module):
    """One encoder layer as HF's BertLayer writes it in eager mode: head shapes taken from
    x.size() (Shape/Gather/Concat chains in the export, folded when shapes are fixed), the mask
    either added (HF BERT: scores + (1 - mask) * finfo.min) or applied with masked_fill
    (DistilBERT: Where on (mask == 0)); GELU in its erf or tanh form."""

    def __init__(self, hidden, heads, ffn, gelu="none", eps=1e-12):
        super().__init__()
        self.h, self.nh, self.hd, self.gelu = hidden, heads, hidden // heads, gelu
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attn_out = nn.Linear(hidden, hidden)
        self.attn_norm = nn.LayerNorm(hidden, eps=eps)
        self.intermediate = nn.Linear(hidden, ffn)
        self.output = nn.Linear(ffn, hidden)
        self.out_norm = nn.LayerNorm(hidden, eps=eps)

    def split(self, t):
        return t.view(t.size()[:-1] + (self.nh, self.hd)).permute(0, 2, 1, 3)

    def forward(self, x, add_mask=None, fill_mask=None):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.hd)
        if add_mask is not None:
            scores = scores + add_mask
        if fill_mask is not None:
            scores = scores.masked_fill(fill_mask.expand_as(scores),
                                        torch.tensor(torch.finfo(scores.dtype).min))
        ctx = torch.matmul(torch.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).contiguous()
        ctx = ctx.view(ctx.size()[:-2] + (self.h,))
        a = self.attn_norm(self.attn_out(ctx) + x)
        f = F.gelu(self.intermediate(a), approximate=self.gelu)
        return self.out_norm(self.output(f) + a)


class BertMasked(nn.Module):
    """HF BertModel's forward with all three inputs (input_ids, attention_mask, token_type_ids,
    int64 [1, 128]): embeddings of ids, token types and positions (a position_ids buffer,
    sliced to the sequence), the extended additive mask (Unsqueeze, Cast, Sub, Mul), erf
    GELU; 2 layers of hidden 256, 4 heads, FFN 1024; the output is the last hidden state."""

    inputs = ("input_ids", "attention_mask", "token_type_ids")

    def __init__(self, vocab=MASK_VOCAB, hidden=256, layers=2, heads=4, ffn=1024, max_pos=512):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.position_embeddings = nn.Embedding(max_pos, hidden)
        self.token_type_embeddings = nn.Embedding(2, hidden)
        self.register_buffer("position_ids", torch.arange(max_pos).expand((1, -1)))
        self.emb_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.layers = nn.ModuleList(MaskedLayer(hidden, heads, ffn) for _ in range(layers))

    def forward(self, input_ids, attention_mask, token_type_ids):
        seq = input_ids.size(1)
        pos = self.position_ids[:, :seq]
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        x = self.emb_norm(x + self.position_embeddings(pos))
        ext = attention_mask[:, None, None, :].to(dtype=torch.float32)
        ext = (1.0 - ext) * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, add_mask=ext)
        return x


class DistilBertMasked(nn.Module):
    """DistilBERT's pattern: input_ids and attention_mask (int64 [1, 128]), positions from
    torch.arange, the mask applied with masked_fill on (mask == 0) (Equal, Reshape, Expand,
    Where on booleans at run time), tanh GELU; 2 layers of hidden 256, 4 heads, FFN 1024."""

    inputs = ("input_ids", "attention_mask")

    def __init__(self, vocab=MASK_VOCAB, hidden=256, layers=2, heads=4, ffn=1024, max_pos=512):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.position_embeddings = nn.Embedding(max_pos, hidden)
        self.emb_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.layers = nn.ModuleList(MaskedLayer(hidden, heads, ffn, gelu="tanh") for _ in range(layers))

    def forward(self, input_ids, attention_mask):
        bs, seq = input_ids.size()
        pos = torch.arange(seq, dtype=torch.long, device=input_ids.device).unsqueeze(0)
        x = self.emb_norm(self.word_embeddings(input_ids) + self.position_embeddings(pos))
        fill = (attention_mask == 0).view(bs, 1, 1, seq)
        for layer in self.layers:
            x = layer(x, fill_mask=fill)
        return x


def _static_pad_symbolic(g, input, padding, value=None):
    """aten::constant_pad_nd -> one ONNX Pad with constant pads and value.

    torch 1.13's own symbolic computes the ONNX pads order at run time with a chain of
    ConstantOfShape / Concat / Reshape / Slice / Transpose / Cast on constants that
    do_constant_folding leaves in the graph; MobileBERT's trigram padding is static, so the
    chain is a constant and we emit it as one."""
    from torch.onnx import symbolic_helper as sh
    from torch.onnx import symbolic_opset11 as o11
    rank = sh._get_tensor_rank(input)
    try:
        pad = sh._get_const(padding, "is", "padding")
        val = sh._get_const(value, "f", "value") if value is not None else 0.0
    except Exception:
        pad = None
    if pad is None or rank is None:
        return o11.constant_pad_nd(g, input, padding, value)
    begins, ends = [0] * rank, [0] * rank
    for i in range(len(pad) // 2):          # torch: last dim first, (begin, end) pairs
        begins[rank - 1 - i], ends[rank - 1 - i] = pad[2 * i], pad[2 * i + 1]
    pads = g.op("Constant", value_t=torch.tensor(begins + ends, dtype=torch.int64))
    v = g.op("Constant", value_t=torch.tensor(val, dtype=torch.float32))
    return g.op("Pad", input, pads, v, mode_s="constant")


def _static_pad_any_symbolic(g, input, padding, mode, value):
    """aten::pad (what F.pad traces to in torch 1.13): constant mode as above."""
    from torch.onnx import symbolic_helper as sh
    from torch.onnx import symbolic_opset11 as o11
    if sh._parse_arg(mode, "s") != "constant":
        return o11.pad(g, input, padding, mode, value)
    return _static_pad_symbolic(g, input, padding, value)


torch.onnx.register_custom_op_symbolic("aten::constant_pad_nd", _static_pad_symbolic, 13)
torch.onnx.register_custom_op_symbolic("aten::pad", _static_pad_any_symbolic, 13)


def _zero_symbolic(g, self):
    """aten::zero (Tensor.zero_, Swin-V2's attention-mask setup), which torch 1.13 cannot
    export: zeros of self's shape and type (ConstantOfShape of Shape; Cast back)."""
    from torch.onnx import symbolic_helper as sh
    zeros = g.op("ConstantOfShape", g.op("Shape", self), value_t=torch.tensor([0.0]))
    dt = sh._try_get_scalar_type(self)
    if dt is not None and dt != "Float":
        zeros = g.op("Cast", zeros, to_i=sh.cast_pytorch_to_onnx[dt])
    return zeros


torch.onnx.register_custom_op_symbolic("aten::zero", _zero_symbolic, 13)


# ---- the model table -------------------------------------------------------------------------

def tv(name, **kw):
    return lambda: getattr(torchvision.models, name)(weights=None, **kw)


# name -> (constructor, input kind, input shape)
MODELS = {
    "resnet18": (tv("resnet18"), "image", (1, 3, 224, 224)),
    "resnet50": (tv("resnet50"), "image", (1, 3, 224, 224)),
    "alexnet": (tv("alexnet"), "image", (1, 3, 224, 224)),
    "vgg16": (tv("vgg16"), "image", (1, 3, 224, 224)),
    "mobilenet_v2": (tv("mobilenet_v2"), "image", (1, 3, 224, 224)),
    # aux_logits=False: the auxiliary heads only run in training, so the eval graph is the same
    # either way, but without them the model holds no unused weights.  transform_input=False
    # (the default without weights): no per-channel renormalisation prologue.
    # init_weights=False: skips the slow scipy truncnorm init, which we overwrite anyway.
    "googlenet": (tv("googlenet", aux_logits=False, transform_input=False, init_weights=False),
                  "image", (1, 3, 224, 224)),
    "mnasnet1_0": (tv("mnasnet1_0"), "image", (1, 3, 224, 224)),
    "efficientnet_b0": (tv("efficientnet_b0"), "image", (1, 3, 224, 224)),
    "efficientnet_b4": (tv("efficientnet_b4"), "image", (1, 3, 224, 224)),
    "densenet121": (tv("densenet121"), "image", (1, 3, 224, 224)),
    "squeezenet1_0": (tv("squeezenet1_0"), "image", (1, 3, 224, 224)),
    # a channel-shuffle network: Reshape/Transpose/Split/Concat between 1x1 and depthwise convs
    "shufflenet_v2_x1_0": (tv("shufflenet_v2_x1_0"), "image", (1, 3, 224, 224)),
    "inception_v3": (tv("inception_v3", aux_logits=False, transform_input=False,
                        init_weights=False), "image", (1, 3, 299, 299)),
    "bert_base": (BertBase, "tokens", (1, SEQ)),
    "mobilebert": (MobileBert, "tokens", (1, SEQ)),
    # several inputs, integer masks evaluated at run time (not in the paper's set)
    "bert_mask": (BertMasked, "masked", (1, MASK_SEQ)),
    "distilbert_mask": (DistilBertMasked, "masked", (1, MASK_SEQ)),
}


def randomize(model):
    """Seeded weights (the caller seeds torch): He-normal Conv/Linear weights, small biases,
    random BatchNorm and LayerNorm/NoNorm affines.  BERTs keep HF's normal(0.02) init for Linear
    and Embedding.  BatchNorm statistics are set afterwards by calibrate_bn()."""
    bert = isinstance(model, (BertBase, MobileBert, BertMasked, DistilBertMasked))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                if bert:
                    m.weight.normal_(0.0, 0.02)
                else:
                    fan_in = m.weight[0].numel()
                    m.weight.normal_(0.0, math.sqrt(2.0 / fan_in))
                if m.bias is not None:
                    m.bias.normal_(0.0, 0.02 if bert else 0.1)
            elif isinstance(m, nn.Embedding):
                m.weight.normal_(0.0, 0.02)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)
            elif isinstance(m, (nn.LayerNorm, NoNorm)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)


def calibrate_bn(model, shape, gen):
    """Random but sane BatchNorm statistics.

    Fresh BN layers (mean 0, var 1) are far from the statistics of random-weight activations:
    ResNet-50's output then reaches 1e5 and deep nets drift towards constants.  So in one
    eval-mode pass over 4 random inputs, a hook sets each BN's statistics, just before it runs,
    from the per-channel mean and variance of what it receives, perturbed: mean + N(0,0.1) * std,
    var * U(0.5,1.5).  Every BN then roughly normalises (activations stay O(1) however deep the
    net), eval-mode BN is still not the identity on what it sees, so folding BN into Conv is
    really tested, and since each BN is set after the ones before it, the perturbations do not
    compound."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return

    def set_stats(m, inputs):
        x = inputs[0]
        dims = [0] + list(range(2, x.dim()))
        mean = x.mean(dims)
        var = x.var(dims, unbiased=False).clamp_min(1e-4)
        m.running_mean.copy_(mean + torch.randn(mean.shape, generator=gen) * 0.1 * var.sqrt())
        m.running_var.copy_(var * (torch.rand(var.shape, generator=gen) + 0.5))

    model.eval()
    hooks = [m.register_forward_pre_hook(set_stats) for m in bns]
    try:
        with torch.no_grad():
            model(torch.randn((4,) + tuple(shape[1:]), generator=gen))
    finally:
        for h in hooks:
            h.remove()


def make_input(kind, shape, gen, model=None):
    """The model's inputs: one tensor, or a tuple for a model with several (kind "masked":
    token ids, then an attention mask of MASK_VALID ones and zeros after, then token types
    0 for the first half and 1 for the rest)."""
    if kind == "masked":
        xs = []
        for n in model.inputs:
            if n == "input_ids":
                xs.append(torch.randint(0, MASK_VOCAB, shape, generator=gen, dtype=torch.int64))
            elif n == "attention_mask":
                xs.append((torch.arange(shape[1]) < MASK_VALID).to(torch.int64).expand(shape).clone())
            else:
                xs.append((torch.arange(shape[1]) >= shape[1] // 2).to(torch.int64).expand(shape).clone())
        return tuple(xs)
    if kind == "tokens":
        return torch.randint(0, VOCAB, shape, generator=gen, dtype=torch.int64)
    return torch.randn(shape, generator=gen, dtype=torch.float32)


def export_one(name, out_dir, seed, opset=13):
    ctor, kind, shape = MODELS[name]
    s = (seed + zlib.crc32(name.encode())) & 0x7FFFFFFF
    torch.manual_seed(s)
    model = ctor()
    randomize(model)
    gen = torch.Generator().manual_seed(s ^ 0x5EED)
    calibrate_bn(model, shape, gen)
    model.eval()
    x = make_input(kind, shape, gen, model)
    names = list(getattr(model, "inputs", ("input",)))
    args = x if isinstance(x, tuple) else (x,)
    with torch.no_grad():
        y = model(*args)
    if not isinstance(y, torch.Tensor):
        raise RuntimeError("model returned %s, not one tensor" % type(y).__name__)
    y = y.float().numpy()
    if not np.isfinite(y).all():
        raise RuntimeError("torch's output has non-finite values")
    path = os.path.join(out_dir, name + ".onnx")
    # nn.MultiheadAttention takes a fused fast path without autograd (ViT's
    # aten::_native_multi_head_attention), which has no ONNX export: trace
    # those models with autograd on (the same eval-mode graph)
    mha = any(isinstance(mod, torch.nn.MultiheadAttention) for mod in model.modules())
    with (contextlib.nullcontext() if mha else torch.no_grad()):
        torch.onnx.export(model, args, path, opset_version=opset, do_constant_folding=True,
                          input_names=names, output_names=["output"])
    np.save(os.path.join(out_dir, name + ".in.npy"), args[0].numpy())
    if len(args) > 1:  # every input as NAME.in.INPUT.npy (`transtune run --input INPUT=FILE`)
        for n, a in zip(names, args):
            np.save(os.path.join(out_dir, "%s.in.%s.npy" % (name, n)), a.numpy())
    np.save(os.path.join(out_dir, name + ".out.npy"), np.ascontiguousarray(y, dtype=np.float32))
    return path, y


def main():
    ap = argparse.ArgumentParser(description="Export the paper's models to ONNX (see the "
                                 "comment atop this file).")
    ap.add_argument("--out", default="build/onnx", help="output folder (default build/onnx)")
    ap.add_argument("--seed", type=int, default=0, help="weight/input seed (default 0)")
    ap.add_argument("--list", action="store_true", help="list the model names and exit")
    ap.add_argument("--opset", type=int, default=13, help="ONNX opset (default 13; 17 also checked)")
    ap.add_argument("--torchvision", action="store_true",
                    help="also every classification model torchvision lists (torchvision.models.list_models)")
    ap.add_argument("models", nargs="*", metavar="MODEL", help="models to export (default all)")
    a = ap.parse_args()
    if a.torchvision:
        for n in torchvision.models.list_models(module=torchvision.models):
            if n not in MODELS:
                size = 299 if n.startswith("inception") else 224
                MODELS[n] = (tv(n), "image", (1, 3, size, size))
    if a.list:
        print("\n".join(MODELS))
        return 0
    names = a.models or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        sys.stderr.write("export-onnx: unknown model(s): %s (known: %s)\n"
                         % (", ".join(unknown), ", ".join(MODELS)))
        return 2
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    failed = []
    for name in names:
        t0 = time.time()
        try:
            path, y = export_one(name, a.out, a.seed, a.opset)
            size = os.path.getsize(path)
            print("%-16s %9.1f MB %7.1f s   output %s max|y| %.4g"
                  % (name, size / 1e6, time.time() - t0, list(y.shape), float(np.abs(y).max())),
                  flush=True)
        except Exception as e:  # one model's failure must not stop the others
            failed.append(name)
            print("%-16s FAILED after %.1f s: %s: %s"
                  % (name, time.time() - t0, type(e).__name__, e), flush=True)
    print("export-onnx: %d exported, %d failed%s"
          % (len(names) - len(failed), len(failed),
             (" (" + ", ".join(failed) + ")") if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
