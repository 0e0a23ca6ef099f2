#!/usr/bin/python3
"""compare-zoo-export.py - check that zoo models are the graphs PyTorch exports.

    /usr/bin/python3 scripts/compare-zoo-export.py [--out DIR] [--counts] [MODEL ...]

For each model (default: every torchvision model of the zoo), export the
torchvision 0.14 model with torch 1.13 (opset 13, do_constant_folding, eval
model) *with BatchNormalization kept* (TrainingMode.PRESERVE skips the eval
peephole that folds BN into Conv; the zoo keeps BN and folds it in its own
passes), build the zoo model through build/libtranstune.a (`make` first), and
compare node by node: op type, inputs (a node's output by its position, a
constant by its shape, the graph input), attributes and, when the library has
shape inference, output shapes.  Constant and Identity nodes of the export
are not nodes here (they only carry constants: Clip's min/max, deduplicated
initializers).  Prints the first difference per model and one summary line;
exit status 1 if any model differs.

--weights also writes the zoo's weights, loads them into the torchvision
model under their state-dict names (every parameter and BatchNorm statistic
must be there, with torch's shape) and prints the model's output statistics
on a fixed input: the zoo's weights give finite, non-degenerate outputs.

--counts also exports the default eval graph (BN folded into Conv) and prints
both graphs' op counts and the parameter counts, to be written into
tests/test_zoo.c.  The .onnx files go to --out (default $TMPDIR/zoo-export, /tmp
when TMPDIR is unset).
Needs /usr/bin/python3 with torch, torchvision and onnx.
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ["resnet18", "resnet50", "alexnet", "vgg16", "mobilenet_v2", "googlenet",
          "mnasnet1_0", "efficientnet_b0", "efficientnet_b4"]

DUMPER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zoo/zoo.h"
int main(int argc, char **argv)
{
    tt_err err = {0};
    tt_graph *g = tt_zoo_build(argv[1], 0, &err);
    if (!g) { fprintf(stderr, "%s\n", err.msg); return 1; }
#ifdef WITH_INFER
    if (tt_graph_infer(g, &err)) { fprintf(stderr, "infer: %s\n", err.msg); return 1; }
#endif
    if (argc > 2) { /* the constants: name, NUL, ndim, dims (int64), float32 data */
        FILE *f = fopen(argv[2], "wb");
        if (!f) { perror(argv[2]); return 1; }
        for (int t = 0; t < g->ntensors; t++) {
            const tt_tensor *x = &g->tensors[t];
            if (!x->data || x->dtype != TT_DT_FLOAT)
                continue;
            int64_t n = 1, nd = x->ndim;
            for (int i = 0; i < x->ndim; i++)
                n *= x->shape[i];
            fwrite(x->name, 1, strlen(x->name) + 1, f);
            fwrite(&nd, sizeof nd, 1, f);
            fwrite(x->shape, sizeof x->shape[0], (size_t)nd, f);
            fwrite(x->data, 4, (size_t)n, f);
        }
        fclose(f);
    }
    char *d = tt_graph_dump(g);
    fputs(d, stdout);
    free(d);
    tt_graph_free(g);
    return 0;
}
"""


def build_dumper(tmp):
    lib = os.path.join(ROOT, "build", "libtranstune.a")
    if not os.path.exists(lib):
        sys.exit("compare-zoo-export: build/libtranstune.a is missing: run make")
    syms = subprocess.run(["nm", "--defined-only", lib], capture_output=True, text=True).stdout
    infer = re.search(r" T tt_graph_infer$", syms, re.M) is not None
    src = os.path.join(tmp, "dump.c")
    exe = os.path.join(tmp, "zoo-dump")
    with open(src, "w") as f:
        f.write(DUMPER)
    libs = subprocess.run(["pkg-config", "--libs", "jansson"], capture_output=True,
                          text=True).stdout.split()
    cmd = ["cc", "-std=c11", "-O1", "-I", os.path.join(ROOT, "src"), src, lib, "-o", exe,
           "-fopenmp", "-lm", "-ldl"] + libs
    if infer:
        cmd.insert(1, "-DWITH_INFER")
    subprocess.run(cmd, check=True)
    return exe, infer


def fmt_attr(v):
    if isinstance(v, (list, tuple)):
        return ",".join(fmt_attr(x) for x in v)
    if isinstance(v, float):
        return "%g" % v
    if isinstance(v, bytes):
        return '"%s"' % v.decode()
    return str(v)


def zoo_nodes(exe, model, weights=None):
    """Our graph as (op, [inputs], {attr: text}, output shape or None) tuples;
    with `weights`, also write the zoo's constants to that file."""
    out = subprocess.run([exe, model] + ([weights] if weights else []), capture_output=True,
                         text=True)
    if out.returncode:
        raise RuntimeError(out.stderr.strip())
    prod, nodes = {}, []
    line_re = re.compile(r"^(\w+) '([^']*)' \((.*)\) -> (\S+?)(\[[-\d,]*\]|\?)(nhwc)?((?: \S+=\S*)*)$")
    for line in out.stdout.splitlines():
        m = line_re.match(line)
        if not m:
            continue
        op, _, ins, oname, oshape, _, attrs = m.groups()
        inputs = []
        for i in filter(None, ins.split(", ")):
            im = re.match(r"^(const )?(.*?)(\[[-\d,]*\]|\?)$", i)
            if im.group(1):
                inputs.append("C" + im.group(3))
            elif im.group(2) in prod:
                inputs.append("#%d" % prod[im.group(2)])
            else:
                inputs.append("IN")
        amap = dict(a.split("=", 1) for a in attrs.split())
        shape = None if oshape == "?" else oshape
        prod[oname] = len(nodes)
        nodes.append((op, inputs, amap, shape))
    return nodes


def read_weights(path):
    import numpy as np
    data = open(path, "rb").read()
    pos, out = 0, {}
    while pos < len(data):
        end = data.index(b"\0", pos)
        name = data[pos:end].decode()
        nd = int(np.frombuffer(data, np.int64, 1, end + 1)[0])
        dims = [int(d) for d in np.frombuffer(data, np.int64, nd, end + 9)]
        pos = end + 9 + 8 * nd
        n = int(np.prod(dims)) if dims else 1
        out[name] = np.frombuffer(data, np.float32, n, pos).reshape(dims)
        pos += 4 * n
    return out


def run_with_zoo_weights(model, weights):
    """Load the zoo's weights into the torchvision model (every parameter and
    BatchNorm statistic must be there under its state-dict name, with its
    shape) and run it on a fixed input; returns (error or None, output)."""
    import torch
    import torchvision
    m = getattr(torchvision.models, model)(weights=None).eval()
    sd = m.state_dict()
    new = collections.OrderedDict()
    new._metadata = getattr(sd, "_metadata", None)  # mnasnet checks its state-dict version
    for k, v in sd.items():
        if k.endswith("num_batches_tracked") or k.startswith("aux"):
            new[k] = v
            continue
        if k not in weights:
            return "parameter %s is not in the zoo model" % k, None
        if tuple(weights[k].shape) != tuple(v.shape):
            return "parameter %s: zoo shape %s, torch %s" % (k, weights[k].shape, tuple(v.shape)), None
        new[k] = torch.from_numpy(weights[k].copy())
    m.load_state_dict(new)
    # The input the end-to-end checks use should be documented beside them;
    # here: uniform in [-1, 1) from a fixed torch seed.
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 224, 224, generator=g) * 2 - 1
    with torch.no_grad():
        return None, m(x)


def export(model, path, keep_bn):
    import torch
    import torchvision
    torch.manual_seed(0)
    m = getattr(torchvision.models, model)(weights=None).eval()
    # Distinct random values everywhere: with default init, equal initializers
    # are deduplicated into Identity nodes.
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5)
                mod.running_var.uniform_(0.5, 1.5)
            b = getattr(mod, "bias", None)
            if isinstance(b, torch.Tensor):
                b.uniform_(-0.1, 0.1)
    x = torch.randn(1, 3, 224, 224)
    kw = {"training": torch.onnx.TrainingMode.PRESERVE} if keep_bn else {}
    torch.onnx.export(m, x, path, opset_version=13, do_constant_folding=True, **kw)
    # Parameters of the eval graph (GoogLeNet's aux heads are not in it).
    return sum(p.numel() for n, p in m.named_parameters() if not n.startswith("aux"))


def export_nodes(path):
    import onnx
    from onnx import numpy_helper
    model = onnx.load(path)
    g = model.graph
    shapes = {}
    try:
        inferred = onnx.shape_inference.infer_shapes(model).graph
        for vi in list(inferred.value_info) + list(inferred.output):
            shapes[vi.name] = "[%s]" % ",".join(str(d.dim_value) for d in vi.type.tensor_type.shape.dim)
    except Exception:
        pass
    consts = {i.name: "C[%s]" % ",".join(map(str, i.dims)) for i in g.initializer}
    # With BN kept, running statistics are graph inputs after the image.
    for vi in list(g.input)[1:]:
        consts[vi.name] = "C[%s]" % ",".join(str(d.dim_value) for d in vi.type.tensor_type.shape.dim)
    prod, nodes = {}, []
    for n in g.node:
        if n.op_type == "Constant":
            t = numpy_helper.to_array(n.attribute[0].t)
            consts[n.output[0]] = "C[%s]" % ",".join(map(str, t.shape))
            continue
        if n.op_type == "Identity" and n.input[0] in consts:
            consts[n.output[0]] = consts[n.input[0]]
            continue
        inputs = []
        for i in n.input:
            if i in consts:
                inputs.append(consts[i])
            elif i in prod:
                inputs.append("#%d" % prod[i])
            else:
                inputs.append("IN")
        import onnx.helper
        amap = {a.name: fmt_attr(onnx.helper.get_attribute_value(a)) for a in n.attribute}
        prod[n.output[0]] = len(nodes)
        nodes.append((n.op_type, inputs, amap, shapes.get(n.output[0])))
    return nodes


def show(node):
    op, ins, attrs, shape = node
    return "%s(%s) %s -> %s" % (op, ", ".join(ins),
                                " ".join("%s=%s" % kv for kv in sorted(attrs.items())), shape)


def compare(ours, theirs, use_shapes):
    for k in range(max(len(ours), len(theirs))):
        if k >= len(ours) or k >= len(theirs):
            return "node %d: one graph ends (%d zoo nodes, %d exported)" % (k, len(ours), len(theirs))
        a, b = ours[k], theirs[k]
        same = a[0] == b[0] and a[1] == b[1] and a[2] == b[2]
        if use_shapes and a[3] != b[3]:
            same = False
        if not same:
            return "node %d differs:\n    zoo:    %s\n    export: %s" % (k, show(a), show(b))
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*", default=MODELS)
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "zoo-export"))
    ap.add_argument("--counts", action="store_true")
    ap.add_argument("--weights", action="store_true",
                    help="also load the zoo's weights into torchvision's model by state-dict "
                    "name and run it (checks names and shapes; prints output statistics)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        exe, infer = build_dumper(tmp)
        for model in args.models:
            path = os.path.join(args.out, model + "_bn.onnx")
            params = export(model, path, keep_bn=True)
            theirs = export_nodes(path)
            wpath = os.path.join(args.out, model + ".weights") if args.weights else None
            try:
                ours = zoo_nodes(exe, model, wpath)
            except RuntimeError as e:
                print("%-16s FAIL: %s" % (model, e))
                bad += 1
                continue
            diff = compare(ours, theirs, infer)
            print("%-16s %s (%d nodes%s)" % (model, "FAIL" if diff else "ok", len(ours),
                                              ", shapes compared" if infer else ""))
            if diff:
                print("    " + diff)
                bad += 1
            if wpath:
                err, y = run_with_zoo_weights(model, read_weights(wpath))
                os.unlink(wpath)
                if err:
                    print("    weights: " + err)
                    bad += 1
                else:
                    print("    torch output with zoo weights: mean %.4g std %.4g absmax %.4g finite %s"
                          % (y.mean(), y.std(), y.abs().max(), bool(y.isfinite().all())))
            if args.counts:
                folded = os.path.join(args.out, model + ".onnx")
                export(model, folded, keep_bn=False)
                cf = collections.Counter(n[0] for n in export_nodes(folded))
                cb = collections.Counter(n[0] for n in theirs)
                print("    params (eval graph) %d" % params)
                print("    export (BN folded): %s" % dict(cf))
                print("    export (BN kept):   %s" % dict(cb))
    print("%d models differ" % bad)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
