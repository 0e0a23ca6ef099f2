# usage: /usr/bin/python3 scripts/compare-bert.py [--onnx-dir DIR] [--golden-dir G] [--write] [MODEL...]   (DIR build/onnx, G tests/data/bert, MODEL bert_base mobilebert)
"""Structural signature of an ONNX export, to prove that the zoo's hand-built
BERT graphs (src/zoo/bert.c) are the same graphs as scripts/export-onnx.py's.

The signature has one line per node, in graph order, skipping Constant nodes
(their values become constant inputs, as the importer and the zoo both
represent them):

    <index> <OpType> <input>,<input>,... [attr=value ...] -> <dtype>[<output shape>]

where an input is
    in            the graph input
    n<k>          the output of signature node k (the wiring of the graph)
    c[d0,d1,..]   a constant of that shape, followed by =v0,v1,.. when it has at
                  most 8 elements (Reshape shapes, Slice bounds, pads, the
                  scalars of LayerNorm, GELU and attention scaling); floats as
                  %.6g of the float32 value
    -             an omitted optional input
attributes are sorted by name, ints and floats as above, strings bare, and
the output's type (f: float, i64: int64) and shape come from ONNX's shape
inference here and from tt_graph_infer in the test.  The last line is
"output n<k>".

tests/test_bert.c computes the same text from tt_zoo_bert_base() and
tt_zoo_mobilebert() and compares it with tests/data/bert/NAME.sig, which
this script writes from the real export (--write).  Without --write it
compares the export's signature with the committed one and prints the first
difference: run it after scripts/export-onnx.py to check that the committed
files are still what PyTorch exports.  Exit 0 when all match.

A node whose inputs are all constants (a shape computation that the export did
not fold) would need evaluating to print its value; our exports have none, and
the script stops with an error if one appears.
"""
import argparse
import os
import sys

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError as e:  # pragma: no cover
    sys.stderr.write("compare-bert: %s: run `scripts/install-deps.sh --extras` and use "
                     "/usr/bin/python3\n" % e)
    sys.exit(2)


def fmt_num(v, is_float):
    return ("%.6g" % float(np.float32(v))) if is_float else str(int(v))


def const_desc(arr):
    s = "c[" + ",".join(str(d) for d in arr.shape) + "]"
    if arr.size <= 8:
        isf = arr.dtype.kind == "f"
        s += "=" + ",".join(fmt_num(v, isf) for v in arr.reshape(-1))
    return s


def attr_desc(a):
    v = onnx.helper.get_attribute_value(a)
    if a.type == onnx.AttributeProto.INT:
        return str(v)
    if a.type == onnx.AttributeProto.FLOAT:
        return fmt_num(v, True)
    if a.type == onnx.AttributeProto.INTS:
        return ",".join(str(x) for x in v)
    if a.type == onnx.AttributeProto.FLOATS:
        return ",".join(fmt_num(x, True) for x in v)
    if a.type == onnx.AttributeProto.STRING:
        return v.decode()
    raise ValueError("attribute %s of unsupported type %d" % (a.name, a.type))


DTYPES = {onnx.TensorProto.FLOAT: "f", onnx.TensorProto.INT64: "i64"}


def signature(path):
    m = onnx.load(path)
    m = onnx.shape_inference.infer_shapes(m)
    g = m.graph
    types = {}
    for vi in list(g.value_info) + list(g.output):
        tt = vi.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else "?" for d in tt.shape.dim]
        types[vi.name] = "%s[%s]" % (DTYPES.get(tt.elem_type, "?"), ",".join(map(str, dims)))
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    if len(g.input) - len([i for i in g.input if i.name in consts]) != 1 or len(g.output) != 1:
        raise ValueError("%s: expected one input and one output" % path)
    gin = [i.name for i in g.input if i.name not in consts][0]
    produced = {}
    lines = []
    for node in g.node:
        if node.op_type == "Constant":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
            continue
        ins = []
        for x in node.input:
            if x == "":
                ins.append("-")
            elif x == gin:
                ins.append("in")
            elif x in produced:
                ins.append("n%d" % produced[x])
            elif x in consts:
                ins.append(const_desc(consts[x]))
            else:
                raise ValueError("%s: node %s reads unknown tensor %s" % (path, node.name, x))
        if all(i.startswith("c[") or i == "-" for i in ins):
            raise ValueError("%s: node %s (%s) has only constant inputs (an unfolded shape "
                             "computation): this script does not evaluate those"
                             % (path, node.name, node.op_type))
        attrs = sorted(node.attribute, key=lambda a: a.name)
        k = len(lines)
        line = "%d %s %s" % (k, node.op_type, ",".join(ins))
        for a in attrs:
            line += " %s=%s" % (a.name, attr_desc(a))
        if len(node.output) != 1 or node.output[0] not in types:
            raise ValueError("%s: node %s: no inferred type for its output" % (path, node.name))
        line += " -> " + types[node.output[0]]
        lines.append(line)
        for o in node.output:
            produced[o] = k
    out = g.output[0].name
    if out not in produced:
        raise ValueError("%s: the output is not computed by a node" % path)
    lines.append("output n%d" % produced[out])
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description="ONNX signatures of the BERT exports (see the "
                                 "comment atop this file)")
    ap.add_argument("--onnx-dir", default="build/onnx")
    ap.add_argument("--golden-dir", default="tests/data/bert")
    ap.add_argument("--write", action="store_true", help="write GOLDEN/NAME.sig")
    ap.add_argument("--print", action="store_true", help="print the signatures")
    ap.add_argument("models", nargs="*", default=["bert_base", "mobilebert"])
    a = ap.parse_args()
    bad = 0
    for name in a.models:
        src = os.path.join(a.onnx_dir, name + ".onnx")
        dst = os.path.join(a.golden_dir, name + ".sig")
        try:
            sig = signature(src)
        except Exception as e:
            print("%s: FAILED: %s" % (name, e))
            bad += 1
            continue
        n = sig.count("\n") - 1
        if a.print:
            sys.stdout.write(sig)
        if a.write:
            os.makedirs(a.golden_dir, exist_ok=True)
            with open(dst, "w") as f:
                f.write(sig)
            print("%s: %d nodes -> %s" % (name, n, dst))
            continue
        try:
            with open(dst) as f:
                want = f.read()
        except OSError as e:
            print("%s: cannot read %s: %s" % (name, dst, e))
            bad += 1
            continue
        if want == sig:
            print("%s: export matches %s (%d nodes)" % (name, dst, n))
            continue
        bad += 1
        gl, wl = sig.splitlines(), want.splitlines()
        for i in range(max(len(gl), len(wl))):
            x = gl[i] if i < len(gl) else "<end>"
            y = wl[i] if i < len(wl) else "<end>"
            if x != y:
                print("%s: differs at line %d:\n  export: %s\n  %s: %s" % (name, i + 1, x, dst, y))
                break
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
