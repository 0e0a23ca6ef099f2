"""transtune from Python.

    import transtune
    m = transtune.compile("model.onnx", db="t.db")   # or a zoo name: "resnet18"
    y = m(x)                                           # numpy in, numpy out (the model's ONNX layout)
    r = transtune.transfer("model.onnx", db="t.db")    # dicts: the CLI's --json reports
    r = transtune.tune("model.onnx", db="t.db", trials=500)

`compile` runs `transtune compile` (the model as a shared library with a C API,
checked against transtune's own executor before it returns) and loads the
library with ctypes; `tune` and `transfer` run the commands with the same
options and return their JSON reports as dicts.  The `transtune` program is
$TRANSTUNE, else build/transtune of the repository this package sits in, else
`transtune` on PATH.  Needs numpy (Debian's python3-numpy) and nothing else.
"""
import ctypes
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np

__all__ = ["compile", "tune", "transfer", "Model", "TranstuneError"]


class TranstuneError(RuntimeError):
    """A transtune command or a compiled model failed; the message says why."""


def _program():
    exe = os.environ.get("TRANSTUNE")
    if exe:
        return exe
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.join(here, "..", "..", "build", "transtune")
    if os.access(repo, os.X_OK):
        return os.path.normpath(repo)
    found = shutil.which("transtune")
    if found:
        return found
    raise TranstuneError("no transtune program: build it (make) or set TRANSTUNE")


def _options(**kw):
    """CLI options from keyword arguments: None is left out, True is a flag,
    a list is joined with commas (from_=[...] -> --from a,b)."""
    out = []
    for k, v in kw.items():
        if v is None or v is False:
            continue
        flag = "--" + k.rstrip("_").replace("_", "-")
        if v is True:
            out.append(flag)
        elif isinstance(v, (list, tuple)):
            out += [flag, ",".join(str(x) for x in v)]
        else:
            out += [flag, str(v)]
    return out


def _run(args):
    p = subprocess.run([_program()] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        msg = p.stderr.strip().splitlines()
        raise TranstuneError(msg[-1] if msg else "transtune %s: exit status %d" % (args[0], p.returncode))
    lines = [l for l in p.stdout.splitlines() if l.strip().startswith("{")]
    if not lines:
        raise TranstuneError("transtune %s printed no JSON report" % args[0])
    return json.loads(lines[-1])


class Model:
    """A compiled model: call it with a numpy array of the input's shape and
    dtype (float32, or int64 token ids); it returns the output (float32)."""

    def __init__(self, directory, name, info=None):
        self.directory = directory
        self.name = name
        self.info = info or {}
        lib = ctypes.CDLL(os.path.join(directory, "lib%s.so" % name))
        self._lib = lib
        f = lambda s: getattr(lib, "%s_%s" % (name, s))
        self._create, self._run, self._destroy = f("create"), f("run"), f("destroy")
        self._error, self._threads = f("error"), f("set_threads")
        self._create.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p, ctypes.c_size_t]
        self._run.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int64),
                              ctypes.c_void_p, ctypes.c_int64]
        self._destroy.argtypes = [ctypes.c_void_p]
        self._error.argtypes = [ctypes.c_void_p]
        self._error.restype = ctypes.c_char_p
        self._threads.argtypes = [ctypes.c_int]
        f("input_dtype").restype = ctypes.c_char_p
        ni, no = f("input_ndim")(), f("output_ndim")()
        shp = lambda s, n: tuple(int(v) for v in (ctypes.c_int64 * max(n, 1)).in_dll(lib, "%s_%s" % (name, s))[:n])
        self.input_shape = shp("input_shape", ni)
        self.output_shape = shp("output_shape", no)
        self.input_dtype = np.dtype(f("input_dtype")().decode())
        self.input_name = \
            ctypes.cast(getattr(lib, "%s_input_name" % name), ctypes.c_char_p).value.decode(errors="replace")
        self.output_name = ctypes.cast(getattr(lib, "%s_output_name" % name),
                                       ctypes.c_char_p).value.decode(errors="replace")
        handle = ctypes.c_void_p()
        msg = ctypes.create_string_buffer(256)
        w = os.path.join(directory, "%s.weights" % name).encode()
        if self._create(w, ctypes.byref(handle), msg, 256) != 0:
            raise TranstuneError(msg.value.decode(errors="replace"))
        self._m = handle

    def __call__(self, x):
        x = np.ascontiguousarray(x, dtype=self.input_dtype)
        if x.shape != self.input_shape:
            raise ValueError("input of shape %s; %s takes %s" % (x.shape, self.name, self.input_shape))
        y = np.empty(self.output_shape, dtype=np.float32)
        shape = (ctypes.c_int64 * max(x.ndim, 1))(*x.shape)
        rc = self._run(self._m, x.ctypes.data, x.ndim, shape, y.ctypes.data, y.size)
        if rc != 0:
            raise TranstuneError(self._error(self._m).decode(errors="replace"))
        return y

    def set_threads(self, n):
        """Threads of the kernels (OpenMP; process-wide)."""
        self._threads(int(n))

    def close(self):
        if getattr(self, "_m", None):
            self._destroy(self._m)
            self._m = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        return "<transtune.Model %s: %s %s -> %s>" % (self.name, self.input_dtype, self.input_shape,
                                                      self.output_shape)


def compile(model, db=None, records=None, threads=None, winograd=None, trust_records=False, out_dir=None,
            name=None):
    """Compile `model` (an .onnx path or a zoo name) with the records of `db`
    (a transtune database) or `records` (an Ansor log) into a library in
    out_dir (default: a new temporary folder) and load it: a Model.  Its
    .info holds `transtune compile --json`'s report (latencies, error)."""
    out_dir = out_dir or tempfile.mkdtemp(prefix="transtune-")
    args = ["compile", str(model), "-o", out_dir, "--json"] + _options(
        name=name, db=db, records=records, threads=threads, winograd=winograd, trust_records=trust_records)
    info = _run(args)
    return Model(out_dir, info["name"], info)


def tune(model, db=None, trials=None, time=None, threads=None, per_round=None, early_stopping=None, seed=None,
         warm_start=False, params=None):
    """`transtune tune MODEL ... --json`: Ansor's search into `db`; its report
    as a dict.  params: {"name": value} search parameters (--param)."""
    args = ["tune", str(model), "--json", "--quiet"] + _options(
        db=db, trials=trials, time=time, threads=threads, per_round=per_round, early_stopping=early_stopping,
        seed=seed, warm_start=warm_start)
    for k, v in (params or {}).items():
        args += ["--param", "%s=%s" % (k, v)]
    return _run(args)


def transfer(model, db=None, from_=None, pairs=None, max_sources=None, threads=None, top_k=None, match=None):
    """`transtune transfer MODEL ... --json`: transfer-tuning from the other
    models' schedules in `db` (without db: the shipped schedules, in the
    default database); its report as a dict."""
    args = ["transfer", str(model), "--json"] + _options(
        db=db, from_=from_, pairs=pairs, max_sources=max_sources, threads=threads, top_k=top_k, match=match)
    return _run(args)
