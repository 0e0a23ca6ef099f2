"""Tests of python/transtune (run by `make test` through tests/test_python.c,
with /usr/bin/python3, PYTHONPATH=python and TRANSTUNE=build/transtune):
compile and call a model, against `transtune run --output` on the same input;
a wrong input shape; a model of three inputs; tune and transfer as dicts.  Prints `ok NAME` per test
and exits 1 on the first failure."""
import os
import subprocess
import sys
import tempfile

import numpy as np

import transtune

tmp = tempfile.mkdtemp(prefix="tt-test-py-")
db = os.path.join(tmp, "t.db")


def check(cond, what):
    if not cond:
        print("FAIL", what)
        sys.exit(1)


def test_compile_and_call():
    m = transtune.compile("tiny", out_dir=os.path.join(tmp, "tiny"))
    check(m.info["max_rel_err"] <= 1e-3, "compile's own check: %r" % m.info)
    check(m.input_shape == (1, 3, 32, 32) and m.input_dtype == np.float32, repr(m))
    x = np.random.default_rng(7).uniform(-1, 1, m.input_shape).astype(np.float32)
    y = m(x)
    check(y.shape == m.output_shape and y.dtype == np.float32, "output %s %s" % (y.shape, y.dtype))
    # the same input through `transtune run`
    xin, yout = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
    np.save(xin, x)
    subprocess.run([transtune._program(), "run", "tiny", "--input", xin, "--output", yout, "--repeat", "1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ref = np.load(yout)
    err = float(np.abs(y - ref).max() / np.abs(ref).max())
    check(err <= 1e-3, "library vs run: %g" % err)
    try:
        m(np.zeros((1, 3, 16, 16), np.float32))
        check(False, "a wrong shape was accepted")
    except ValueError as e:
        check("(1, 3, 32, 32)" in str(e), str(e))
    m.close()
    # bad artifacts: a truncated library, a truncated or corrupted weights file
    bad = os.path.join(tmp, "bad")
    subprocess.run(["cp", "-r", os.path.join(tmp, "tiny"), bad], check=True)
    lib, w = os.path.join(bad, "libtiny.so"), os.path.join(bad, "tiny.weights")
    good_w = open(w, "rb").read()
    for data, want in ((good_w[:len(good_w) // 2], "truncated or corrupted"),
                       (good_w[:-5] + bytes([good_w[-5] ^ 1]) + good_w[-4:], "truncated or corrupted"),
                       (b"", "not a transtune weights file")):
        open(w, "wb").write(data)
        try:
            transtune.Model(bad, "tiny")
            check(False, "a bad weights file was accepted")
        except transtune.TranstuneError as e:
            check(want in str(e), str(e))
    # (a fresh copy: the library above is mapped, and truncating it would fault this process)
    bad = os.path.join(tmp, "bad-lib")
    subprocess.run(["cp", "-r", os.path.join(tmp, "tiny"), bad], check=True)
    lib = os.path.join(bad, "libtiny.so")
    open(lib, "r+b").truncate(os.path.getsize(lib) // 3)
    try:
        transtune.Model(bad, "tiny")
        check(False, "a truncated library was loaded")
    except transtune.TranstuneError as e:
        check("libtiny.so: truncated" in str(e), str(e))
    print("ok compile_and_call (err %.3g)" % err)


def test_several_inputs():
    """tests/data/onnx/masked.onnx (token ids, attention mask, token types): by position and
    by name, PyTorch's stored output; a missing or unknown input refused."""
    d = "tests/data/onnx/"
    m = transtune.compile(d + "masked.onnx", out_dir=os.path.join(tmp, "masked"))
    names = [n for n, _, _ in m.inputs]
    check(names == ["input_ids", "attention_mask", "token_type_ids"], repr(m))
    xs = [np.load(d + "masked.in.%s.npy" % n) for n in names]
    ref = np.load(d + "masked.out.npy")
    for y in (m(*xs), m(token_type_ids=xs[2], input_ids=xs[0], attention_mask=xs[1])):
        err = float(np.abs(y - ref).max() / np.abs(ref).max())
        check(err <= 1e-4, "masked vs torch: %g" % err)
    for bad in (lambda: m(xs[0]), lambda: m(*xs, mask=xs[1])):
        try:
            bad()
            check(False, "a bad call was accepted")
        except ValueError as e:
            check("attention_mask" in str(e) or "mask" in str(e), str(e))
    m.close()
    print("ok several_inputs (err %.3g)" % err)


def test_tune_and_transfer():
    r = transtune.tune("tiny", db=db, trials=24, threads=1)
    check(r.get("trials", 0) >= 24 and "est_latency_ms" in r, "tune report: %r" % r)
    t = transtune.transfer("tiny_wide", db=db, threads=1, from_=["tiny"])
    check("speedup" in t and t.get("model") == "tiny_wide", "transfer report: %r" % t)
    try:
        transtune.tune("no_such_model", db=db, trials=1)
        check(False, "an unknown model was accepted")
    except transtune.TranstuneError as e:
        check("no_such_model" in str(e), str(e))
    print("ok tune_and_transfer (tune %d trials, transfer %.2fx)" % (r["trials"], t["speedup"]))


test_compile_and_call()
test_several_inputs()
test_tune_and_transfer()
subprocess.run(["rm", "-rf", tmp])
