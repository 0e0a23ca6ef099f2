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


def _check_elf(path):
    """Refuse a shared library that is not a whole ELF file before loading it: the dynamic
    loader maps a truncated one and dies of SIGBUS (it cannot be caught), so its program and
    section headers are read here and every part they locate must lie within the file."""
    import struct
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise TranstuneError("cannot read %s: %s" % (path, e.strerror))
    size = len(data)
    bad = TranstuneError("%s: truncated or not a shared library (recompile the model)" % path)
    if size < 64 or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise bad
    phoff, shoff = struct.unpack_from("<QQ", data, 0x20)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", data, 0x36)
    if phoff + phnum * phentsize > size or shoff + shnum * shentsize > size or phentsize < 56:
        raise bad
    for i in range(phnum):
        ptype, _, off, _, _, filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if ptype == 1 and off + filesz > size:  # PT_LOAD
            raise bad
    if shentsize >= 64:
        for i in range(shnum):
            stype, = struct.unpack_from("<I", data, shoff + i * shentsize + 4)
            off, sz = struct.unpack_from("<QQ", data, shoff + i * shentsize + 24)
            if stype != 8 and off + sz > size:  # not SHT_NOBITS
                raise bad


class Model:
    """A compiled model: call it with numpy arrays of its inputs' shapes and dtypes (float32,
    int64 token ids, an int64 or bool attention mask), positionally in the model's order or by
    input name (``m(input_ids=ids, attention_mask=mask)``); it returns the output (float32).
    ``inputs`` lists (name, shape, dtype) per input."""

    def __init__(self, directory, name, info=None):
        self.directory = directory
        self.name = name
        self.info = info or {}
        path = os.path.join(directory, "lib%s.so" % name)
        _check_elf(path)
        lib = ctypes.CDLL(path)
        self._lib = lib
        f = lambda s: getattr(lib, "%s_%s" % (name, s))
        self._create, self._run, self._destroy = f("create"), f("run_inputs"), f("destroy")
        self._error, self._threads = f("error"), f("set_threads")
        self._create.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p, ctypes.c_size_t]
        self._run.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p,
                              ctypes.c_int64]
        self._destroy.argtypes = [ctypes.c_void_p]
        self._error.argtypes = [ctypes.c_void_p]
        self._error.restype = ctypes.c_char_p
        self._threads.argtypes = [ctypes.c_int]
        for s, t in (("input_name_at", ctypes.c_char_p), ("input_dtype_at", ctypes.c_char_p),
                     ("input_shape_at", ctypes.POINTER(ctypes.c_int64))):
            f(s).restype = t
            f(s).argtypes = [ctypes.c_int]
        f("input_ndim_at").argtypes = [ctypes.c_int]
        no = f("output_ndim")()
        self.output_shape = tuple(int(v) for v in
                                  (ctypes.c_int64 * max(no, 1)).in_dll(lib, "%s_output_shape" % name)[:no])
        self.inputs = []
        for i in range(f("num_inputs")()):
            nd = f("input_ndim_at")(i)
            shape = tuple(int(f("input_shape_at")(i)[d]) for d in range(nd))
            self.inputs.append((f("input_name_at")(i).decode(errors="replace"), shape,
                                np.dtype(f("input_dtype_at")(i).decode())))
        # the first input, as before several were supported
        self.input_name, self.input_shape, self.input_dtype = self.inputs[0]
        self.output_name = ctypes.cast(getattr(lib, "%s_output_name" % name),
                                       ctypes.c_char_p).value.decode(errors="replace")
        handle = ctypes.c_void_p()
        msg = ctypes.create_string_buffer(256)
        w = os.path.join(directory, "%s.weights" % name).encode()
        if self._create(w, ctypes.byref(handle), msg, 256) != 0:
            raise TranstuneError(msg.value.decode(errors="replace"))
        self._m = handle

    def __call__(self, *args, **kwargs):
        names = [n for n, _, _ in self.inputs]
        if len(args) > len(names):
            raise ValueError("%d inputs given; %s takes %d (%s)" % (len(args), self.name, len(names),
                                                                   ", ".join(names)))
        given = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise ValueError("%s has no input %r (inputs: %s)" % (self.name, k, ", ".join(names)))
            if k in given:
                raise ValueError("input %r given twice" % k)
            given[k] = v
        missing = [n for n in names if n not in given]
        if missing:
            raise ValueError("%s: no value for input(s) %s" % (self.name, ", ".join(missing)))
        xs = []
        for n, shape, dtype in self.inputs:
            x = np.ascontiguousarray(given[n], dtype=dtype)
            if x.shape != shape:
                raise ValueError("input %r of shape %s; %s takes %s" % (n, x.shape, self.name, shape))
            xs.append(x)
        y = np.empty(self.output_shape, dtype=np.float32)
        ptrs = (ctypes.c_void_p * len(xs))(*[x.ctypes.data for x in xs])
        rc = self._run(self._m, len(xs), ptrs, y.ctypes.data, y.size)
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
        ins = ", ".join("%s %s %s" % (n, d, s) for n, s, d in self.inputs)
        return "<transtune.Model %s: %s -> %s>" % (self.name, ins, self.output_shape)


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
