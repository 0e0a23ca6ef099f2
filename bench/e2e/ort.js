#!/usr/bin/env node
// bench/e2e/ort.js - ONNX Runtime's side of bench/e2e/run: time one .onnx model on the CPU.
//
//   node bench/e2e/ort.js MODEL.onnx --input X.npy [--ref Y.npy] [--threads T] [--repeat R]
//                         [--warmup W]
//       Loads MODEL.onnx in an InferenceSession (CPU execution provider; intraOpNumThreads T
//       (default 1), interOpNumThreads 1, graphOptimizationLevel 'all', executionMode
//       'sequential'), feeds X.npy to the model's first input, runs it W times untimed
//       (default 5; at least once), then R times timed (default 20), prints one JSON line:
//         {"runtime":"onnxruntime","version":..., "model":..., "threads":T, "repeat":R,
//          "warmup":W, "latency_ms": median, "min_ms":..., "mean_ms":..., "load_s":...,
//          "max_abs_err":..., "max_rel_err":..., "others_pct":...}   (errors only with --ref)
//       others_pct: CPU time that other processes used while the timed runs ran, in % of the
//       machine (Linux; from /proc/stat and this process's own CPU time).
//       A run is timed around `await session.run(feeds)`, so it includes the binding's
//       per-call work (wrapping the input, allocating and returning the output).
//       max_rel_err = max |ort - ref| / max |ref| over the first output.
//
//   --profile PREFIX: ONNX Runtime's own per-node profile of the timed runs, written to
//       PREFIX_<date>.json (a Chrome trace: one event per node run, with its op type); the
//       JSON line then also has "profile_file".
//
//   node bench/e2e/ort.js --compare A.npy B.npy
//       Prints {"max_abs_err":..., "max_rel_err":..., "n":...}: max |A - B| and that over
//       max |B| (B is the reference).  Used for transtune's output against PyTorch's.
//
// Exit status: 0 ok, 1 failure, 2 usage.  Needs onnxruntime-node in bench/e2e/node_modules
// (bench/e2e/run installs it).
'use strict';

const fs = require('fs');
const path = require('path');

function die(msg, code) {
    process.stderr.write('bench/e2e/ort.js: ' + msg + '\n');
    process.exit(code === undefined ? 1 : code);
}

// ---- .npy (format 1.0/2.0/3.0, C order, little-endian f4/f8/i4/i8) ----------------------
const NPY_TYPES = {
    '<f4': { ctor: Float32Array, ort: 'float32' },
    '<f8': { ctor: Float64Array, ort: 'float64' },
    '<i4': { ctor: Int32Array, ort: 'int32' },
    '<i8': { ctor: BigInt64Array, ort: 'int64' },
};

function readNpy(file) {
    let buf;
    try {
        buf = fs.readFileSync(file);
    } catch (e) {
        die(`cannot read ${file}: ${e.message}`);
    }
    if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY')
        die(`${file}: not an .npy file`);
    const major = buf[6];
    let hlen, hoff;
    if (major === 1) {
        hlen = buf.readUInt16LE(8);
        hoff = 10;
    } else if (major === 2 || major === 3) {
        hlen = buf.readUInt32LE(8);
        hoff = 12;
    } else {
        die(`${file}: unsupported .npy version ${major}`);
    }
    const header = buf.toString('latin1', hoff, hoff + hlen);
    const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
    const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
    const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
    if (!descr || !fortran || !shape) die(`${file}: bad .npy header ${JSON.stringify(header)}`);
    const t = NPY_TYPES[descr[1].replace(/^\|/, '<')];
    if (!t) die(`${file}: dtype ${descr[1]} not supported (f4, f8, i4, i8 little-endian)`);
    if (fortran[1] === 'True') die(`${file}: Fortran order not supported`);
    const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
    const n = dims.reduce((a, b) => a * b, 1);
    const off = hoff + hlen;
    if (buf.length - off < n * t.ctor.BYTES_PER_ELEMENT)
        die(`${file}: ${buf.length - off} data bytes; shape [${dims}] needs ` +
            `${n * t.ctor.BYTES_PER_ELEMENT}`);
    // copy into an aligned buffer of its own
    const data = new t.ctor(n);
    Buffer.from(data.buffer).set(buf.subarray(off, off + n * t.ctor.BYTES_PER_ELEMENT));
    return { dims, data, ort: t.ort };
}

function compare(got, ref) {
    if (got.length !== ref.length) die(`compare: ${got.length} values against ${ref.length}`);
    let maxAbs = 0, maxRef = 0, nonfinite = 0;
    for (let i = 0; i < ref.length; i++) {
        const g = Number(got[i]), r = Number(ref[i]);
        if (!Number.isFinite(g) || !Number.isFinite(r)) nonfinite++;
        const d = Math.abs(g - r);
        if (d > maxAbs || Number.isNaN(d)) maxAbs = d;
        if (Math.abs(r) > maxRef) maxRef = Math.abs(r);
    }
    return {
        max_abs_err: maxAbs,
        max_rel_err: maxRef > 0 ? maxAbs / maxRef : maxAbs,
        n: ref.length,
        nonfinite,
    };
}

// Busy CPU time of the whole machine so far, in seconds (Linux /proc/stat; null elsewhere).
function machineBusyS() {
    try {
        const f = fs.readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/);
        if (f[0] !== 'cpu') return null;
        const v = f.slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
        return (v.reduce((a, b) => a + b, 0) - v[3] - v[4]) / 100; // USER_HZ is 100 on Linux
    } catch (e) {
        return null;
    }
}

function median(a) {
    const s = [...a].sort((x, y) => x - y), m = s.length >> 1;
    return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}

function posInt(name, v, min) {
    if (!/^[0-9]+$/.test(v || '') || Number(v) < min)
        die(`${name} needs an integer >= ${min}, got '${v}'`, 2);
    return Number(v);
}

async function main(argv) {
    if (argv[0] === '--compare') {
        if (argv.length !== 3) die('usage: ort.js --compare A.npy B.npy', 2);
        const a = readNpy(argv[1]), b = readNpy(argv[2]);
        console.log(JSON.stringify(compare(a.data, b.data)));
        return;
    }
    let model = null, input = null, ref = null, threads = 1, repeat = 20, warmup = 5, prof = null;
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const val = () => {
            if (i + 1 >= argv.length) die(`${a} needs a value`, 2);
            return argv[++i];
        };
        if (a === '--input') input = val();
        else if (a === '--ref') ref = val();
        else if (a === '--threads') threads = posInt(a, val(), 1);
        else if (a === '--repeat') repeat = posInt(a, val(), 1);
        else if (a === '--warmup') warmup = posInt(a, val(), 0);
        else if (a === '--profile') prof = val();
        else if (a === '-h' || a === '--help') {
            const src = fs.readFileSync(__filename, 'utf8').split('\n');
            const end = src.findIndex((l, k) => k > 0 && !l.startsWith('//'));
            console.log(src.slice(1, end).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
            return;
        } else if (a.startsWith('-')) die(`unknown option '${a}'`, 2);
        else if (!model) model = a;
        else die('one MODEL only', 2);
    }
    if (!model || !input) die('usage: ort.js MODEL.onnx --input X.npy [options] (see --help)', 2);

    let ort;
    try {
        ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));
    } catch (e) {
        die(`onnxruntime-node is not installed in ${__dirname}/node_modules (bench/e2e/run ` +
            `installs it): ${e.message}`);
    }
    const x = readNpy(input);
    const opts = {
        executionProviders: ['cpu'],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
    };
    if (prof) {
        opts.enableProfiling = true;
        opts.profileFilePrefix = prof;
    }
    const t0 = process.hrtime.bigint();
    const session = await ort.InferenceSession.create(model, opts);
    const loadS = Number(process.hrtime.bigint() - t0) / 1e9;
    const feeds = { [session.inputNames[0]]: new ort.Tensor(x.ort, x.data, x.dims) };
    const outName = session.outputNames[0];

    let first = await session.run(feeds);
    const out = first[outName];
    const res = {
        runtime: 'onnxruntime',
        version: (ort.env.versions && ort.env.versions.node) || 'unknown',
        model: path.basename(model).replace(/\.onnx$/, ''),
        threads,
        repeat,
        warmup,
        output_shape: out.dims,
    };
    if (ref) {
        const r = readNpy(ref);
        Object.assign(res, compare(out.data, r.data));
        delete res.n;
    }
    first = null;
    for (let i = 1; i < warmup; i++) await session.run(feeds);
    const t = [];
    const busy0 = machineBusyS(), cpu0 = process.cpuUsage(), w0 = process.hrtime.bigint();
    for (let i = 0; i < repeat; i++) {
        const s = process.hrtime.bigint();
        await session.run(feeds);
        t.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    const busy1 = machineBusyS(), cpu1 = process.cpuUsage(cpu0);
    const wall = Number(process.hrtime.bigint() - w0) / 1e9;
    if (busy0 !== null && busy1 !== null && wall > 0) {
        // CPU used by other processes while timing, in % of the machine
        const own = (cpu1.user + cpu1.system) / 1e6;
        const ncpu = require('os').cpus().length || 1;
        res.others_pct = Math.max(0, Math.round((100 * (busy1 - busy0 - own)) / (wall * ncpu)));
    }
    res.latency_ms = median(t);
    res.min_ms = Math.min(...t);
    res.mean_ms = t.reduce((a, b) => a + b, 0) / t.length;
    res.load_s = loadS;
    if (prof && session.endProfiling) res.profile_file = session.endProfiling();
    console.log(JSON.stringify(res));
    if (session.release) await session.release();
}

main(process.argv.slice(2)).catch((e) => die(e && e.stack ? e.stack : String(e)));
