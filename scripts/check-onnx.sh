#!/usr/bin/env bash
# check-onnx.sh - integration check of the ONNX path against PyTorch and the zoo.
#
#   scripts/check-onnx.sh [options] [MODEL...]     (default: every DIR/*.onnx)
#     --onnx-dir DIR    where scripts/export-onnx.py wrote NAME.onnx/.in.npy/.out.npy
#                       (default build/onnx)
#     --transtune PATH  the CLI (default build/transtune, or $TRANSTUNE)
#     --tol X           largest accepted max|ours - torch| / max|torch| (default 1e-3)
#     --no-kernels      skip (a);  --no-run  skip (b)
#     --self-test       check this script's logic against a fake transtune and exit
#
# Run after `make` and `/usr/bin/python3 scripts/export-onnx.py`.  For each model:
#  (a) if NAME is also a zoo model: the kernels of `transtune kernels NAME --json` and of
#      `transtune kernels DIR/NAME.onnx --json` must be the same set of (class_key,
#      workload_key) pairs; prints "equal" or the pairs found on one side only (differing
#      weights, i.e. call counts, of a common pair are printed as notes).  A model that is
#      not in the zoo (the CLI says "unknown zoo model") is reported and not compared.
#  (b) `transtune run DIR/NAME.onnx --input DIR/NAME.in.npy --output $TMPDIR/NAME.ours.npy`
#      must give an output of torch's shape with max|ours - torch| / max|torch| <= tol.
# Prints one line per model and check, then a summary line; exits 1 if any check failed
# (--self-test: if the self-test failed), 2 on a usage error, 3 when a prerequisite is
# missing (python3 with numpy, the transtune binary, the exports).  Each transtune command is limited to $CHECK_ONNX_TIMEOUT seconds
# (default 3600).  Needs /usr/bin/python3 with numpy ($PYTHON to override).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY=${PYTHON:-/usr/bin/python3}
onnx_dir=build/onnx
tt=${TRANSTUNE:-build/transtune}
tol=1e-3
do_kernels=1
do_run=1
self_test=0
models=()

die() { echo "check-onnx: error: $*" >&2; exit 2; }
# a prerequisite is missing: its own status, so that a caller can tell it from a failure
missing() { echo "check-onnx: missing: $*" >&2; exit 3; }

while [ $# -gt 0 ]; do
    case "$1" in
        --onnx-dir) [ $# -ge 2 ] || die "--onnx-dir needs a value"; onnx_dir=$2; shift ;;
        --transtune) [ $# -ge 2 ] || die "--transtune needs a value"; tt=$2; shift ;;
        --tol) [ $# -ge 2 ] || die "--tol needs a value"; tol=$2; shift ;;
        --no-kernels) do_kernels=0 ;;
        --no-run) do_run=0 ;;
        --self-test) self_test=1 ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *) models+=("$1") ;;
    esac
    shift
done

"$PY" -c 'import numpy' 2>/dev/null ||
    missing "$PY with numpy is needed (scripts/install-deps.sh --extras, or set PYTHON)"

# ---- the self-test: a fake transtune and fake exports, every outcome once ----------------
if [ "$self_test" = 1 ]; then
    work=$(mktemp -d "${TMPDIR:-/tmp}/tt-check-onnx.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/onnx" "$work/fake"
    # the runs below keep their NAME.ours.npy in $TMPDIR: in $work, removed with it
    export TMPDIR=$work
    cat >"$work/transtune" <<'EOF'
#!/usr/bin/env bash
# fake transtune: kernels WHAT --json | run PATH --input IN --output OUT
fake=$(dirname "$0")/fake
case "$1" in
kernels)
    case "$2" in
    *.onnx) n=$(basename "$2" .onnx); f=$fake/$n.onnx.json ;;
    *) n=$2; f=$fake/$n.zoo.json
       [ -f "$f" ] || { echo "transtune: unknown zoo model '$n' (see \`transtune models\`)" >&2; exit 1; } ;;
    esac
    [ -f "$f" ] || { echo "transtune: cannot load $2" >&2; exit 1; }
    cat "$f" ;;
run)
    n=$(basename "$2" .onnx)
    [ "$3" = --input ] && [ -f "$4" ] && [ "$5" = --output ] || { echo "fake: bad run args" >&2; exit 2; }
    [ -f "$fake/$n.ours.npy" ] || { echo "transtune: $n: crashed" >&2; exit 1; }
    cp "$fake/$n.ours.npy" "$6" ;;
*) exit 2 ;;
esac
EOF
    chmod +x "$work/transtune"
    "$PY" - "$work" <<'EOF' || exit 1
import json, sys, numpy as np
w = sys.argv[1]
def kern(name, pairs, weights=None):
    ks = [{"index": i, "class_key": c, "workload_key": k, "weight": (weights or {}).get(k, 1),
           "flops": 1.0, "shapes": [[1, 2]]} for i, (c, k) in enumerate(pairs)]
    return json.dumps({"model": name, "kernels": ks})
common = [("conv2d_nchw", '["abc", [1,3,224,224]]'), ("dense", '["d", [1,512]]')]
ref = np.linspace(-2, 3, 40, dtype=np.float32).reshape(1, 40)
def model(name, zoo, onnx, ours, zoo_weights=None):
    open(f"{w}/onnx/{name}.onnx", "w").close()
    np.save(f"{w}/onnx/{name}.in.npy", np.zeros((1, 3), np.float32))
    np.save(f"{w}/onnx/{name}.out.npy", ref)
    if zoo is not None:
        open(f"{w}/fake/{name}.zoo.json", "w").write(kern(name, zoo, zoo_weights))
    open(f"{w}/fake/{name}.onnx.json", "w").write(kern(name, onnx))
    if ours is not None:
        np.save(f"{w}/fake/{name}.ours.npy", ours.astype(np.float32))
# equal sets (other order), output within tolerance (rel. error 1e-5 * 3 / 3)
model("m_equal", common[::-1], common, ref + np.float32(3e-5))
# one extra kernel on the onnx side; output off by 1e-2 relative
model("m_differ", common, common + [("softmax", '["s", [1,12,256,256]]')], ref + np.float32(0.03))
# not in the zoo; exact output
model("m_nozoo", None, common, ref)
# same kernels, other weights (a note only); output of another shape
model("m_shape", common, common, ref.reshape(40, 1), zoo_weights={'["d", [1,512]]': 3})
# run crashes
model("m_crash", common, common, None)
EOF
    out=$("$0" --onnx-dir "$work/onnx" --transtune "$work/transtune" 2>&1)
    rc=$?
    fail=0
    expect() {  # expect PATTERN: a line of the output matches
        if ! grep -qE -- "$1" <<<"$out"; then echo "self-test: no line matches: $1"; fail=1; fi
    }
    expect '^m_equal +kernels +equal \(2 kernels\)'
    expect '^m_equal +run +PASS +rel\.err [0-9.]+e-0[56] '
    expect '^m_differ +kernels +DIFFER'
    expect 'onnx only: softmax +\["s", \[1,12,256,256\]\]'
    expect '^m_differ +run +FAIL +rel\.err 0\.01 '
    expect '^m_nozoo +kernels +not in the zoo'
    expect '^m_nozoo +run +PASS +rel\.err 0 '
    expect '^m_shape +kernels +equal'
    expect 'note: weight of dense .* zoo 3, onnx 1'
    expect '^m_shape +run +FAIL +shape \[40, 1\], torch \[1, 40\]'
    expect '^m_crash +run +FAIL +transtune run failed \(status 1\): transtune: m_crash: crashed'
    expect '^check-onnx: 5 models: kernels 3 equal, 1 differ, 1 not in zoo, 0 error; run 2 pass, 3 fail$'
    [ "$rc" = 1 ] || { echo "self-test: exit status $rc, wanted 1"; fail=1; }
    out2=$("$0" --onnx-dir "$work/onnx" --transtune "$work/transtune" m_equal m_nozoo 2>&1)
    rc2=$?
    [ "$rc2" = 0 ] || { echo "self-test: exit status $rc2 on passing models, wanted 0"; fail=1; }
    grep -q 'run 2 pass, 0 fail$' <<<"$out2" || { echo "self-test: bad summary: $out2"; fail=1; }
    out3=$("$0" --onnx-dir "$work/onnx" --transtune "$work/transtune" no_such 2>&1)
    [ $? = 1 ] && grep -q 'no_such.*missing' <<<"$out3" ||
        { echo "self-test: a missing export must fail: $out3"; fail=1; }
    if [ "$fail" = 1 ]; then
        echo "--- output of the failing run:"; echo "$out"; echo "check-onnx: self-test FAILED"
        exit 1
    fi
    echo "check-onnx: self-test passed"
    exit 0
fi

# ---- the real check -----------------------------------------------------------------------
[ -x "$tt" ] || missing "$tt not found or not executable: run make first (or --transtune PATH)"
if [ ${#models[@]} -eq 0 ]; then
    for f in "$onnx_dir"/*.onnx; do
        [ -e "$f" ] && models+=("$(basename "$f" .onnx)")
    done
    [ ${#models[@]} -gt 0 ] ||
        missing "no $onnx_dir/*.onnx: run /usr/bin/python3 scripts/export-onnx.py first"
fi
limit=${CHECK_ONNX_TIMEOUT:-3600}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tt-check-onnx.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

k_equal=0 k_differ=0 k_nozoo=0 k_error=0 r_pass=0 r_fail=0

# compare_kernels ZOO.json ONNX.json: prints "equal (N kernels)" or "DIFFER ..." and the
# differing pairs; exit 0 when equal, 1 when different, 2 on unreadable JSON.
compare_kernels() {
    "$PY" - "$1" "$2" <<'EOF'
import json, sys
def load(p):
    with open(p) as f:
        d = json.load(f)
    ks = d["kernels"]
    return {(k["class_key"], k["workload_key"]): k.get("weight") for k in ks}
try:
    z, o = load(sys.argv[1]), load(sys.argv[2])
except (OSError, ValueError, KeyError, TypeError) as e:
    print("ERROR bad --json output: %s: %s" % (type(e).__name__, e))
    sys.exit(2)
zo, oo = sorted(set(z) - set(o)), sorted(set(o) - set(z))
notes = ["note: weight of %s %s: zoo %s, onnx %s" % (c, k, z[(c, k)], o[(c, k)])
         for (c, k) in sorted(set(z) & set(o)) if z[(c, k)] != o[(c, k)]]
if not zo and not oo:
    print("equal (%d kernels)" % len(z))
else:
    print("DIFFER (%d kernels in the zoo, %d in the onnx; %d only in the zoo, %d only in "
          "the onnx)" % (len(z), len(o), len(zo), len(oo)))
for c, k in zo:
    print("    zoo only:  %s  %s" % (c, k))
for c, k in oo:
    print("    onnx only: %s  %s" % (c, k))
for n in notes:
    print("    " + n)
sys.exit(1 if zo or oo else 0)
EOF
}

# compare_outputs OURS.npy TORCH.npy TOL: prints "PASS rel.err E" or "FAIL ..."; exit 0/1.
compare_outputs() {
    "$PY" - "$1" "$2" "$3" <<'EOF'
import sys, numpy as np
try:
    ours, ref = np.load(sys.argv[1]), np.load(sys.argv[2])
except Exception as e:
    print("FAIL cannot read output: %s" % e)
    sys.exit(1)
tol = float(sys.argv[3])
if ours.shape != ref.shape:
    print("FAIL shape %s, torch %s" % (list(ours.shape), list(ref.shape)))
    sys.exit(1)
ours, ref = ours.astype(np.float64), ref.astype(np.float64)
if not np.isfinite(ours).all():
    print("FAIL %d non-finite values" % int((~np.isfinite(ours)).sum()))
    sys.exit(1)
scale = np.abs(ref).max()
err = np.abs(ours - ref).max()
rel = err / scale if scale > 0 else err
ok = rel <= tol
print("%s rel.err %.3g (max|ours-torch| %.3g, max|torch| %.3g)"
      % ("PASS" if ok else "FAIL", rel, err, scale))
sys.exit(0 if ok else 1)
EOF
}

for m in "${models[@]}"; do
    f=$onnx_dir/$m.onnx
    if [ ! -f "$f" ] || [ ! -f "$onnx_dir/$m.in.npy" ] || [ ! -f "$onnx_dir/$m.out.npy" ]; then
        printf '%-16s FAIL  %s.onnx / .in.npy / .out.npy missing in %s\n' "$m" "$m" "$onnx_dir"
        r_fail=$((r_fail + 1))
        continue
    fi
    if [ "$do_kernels" = 1 ]; then
        if timeout "$limit" "$tt" kernels "$m" --json >"$tmp/zoo.json" 2>"$tmp/zoo.err"; then
            if timeout "$limit" "$tt" kernels "$f" --json >"$tmp/onnx.json" 2>"$tmp/onnx.err"; then
                res=$(compare_kernels "$tmp/zoo.json" "$tmp/onnx.json")
                case $? in
                    0) k_equal=$((k_equal + 1)) ;;
                    1) k_differ=$((k_differ + 1)) ;;
                    *) k_error=$((k_error + 1)) ;;
                esac
                printf '%-16s kernels  %s\n' "$m" "$res"
            else
                k_error=$((k_error + 1))
                printf '%-16s kernels  ERROR transtune kernels %s: %s\n' "$m" "$f" \
                    "$(head -n 2 "$tmp/onnx.err" | tr '\n' ' ')"
            fi
        elif grep -q "unknown zoo model" "$tmp/zoo.err"; then
            k_nozoo=$((k_nozoo + 1))
            printf '%-16s kernels  not in the zoo\n' "$m"
        else
            k_error=$((k_error + 1))
            printf '%-16s kernels  ERROR transtune kernels %s: %s\n' "$m" "$m" \
                "$(head -n 2 "$tmp/zoo.err" | tr '\n' ' ')"
        fi
    fi
    if [ "$do_run" = 1 ]; then
        ours=${TMPDIR:-/tmp}/$m.ours.npy
        rm -f "$ours"
        t0=$(date +%s%N)
        if timeout "$limit" "$tt" run "$f" --input "$onnx_dir/$m.in.npy" --output "$ours" \
            >"$tmp/run.out" 2>"$tmp/run.err"; then
            res=$(compare_outputs "$ours" "$onnx_dir/$m.out.npy" "$tol")
            rc=$?
        else
            st=$?
            rc=1
            res="FAIL transtune run failed (status $st$([ $st = 124 ] && echo ", timed out")): $(head -n 2 "$tmp/run.err" | tr '\n' ' ')"
        fi
        tenths=$((($(date +%s%N) - t0) / 100000000))
        if [ "$rc" = 0 ]; then r_pass=$((r_pass + 1)); else r_fail=$((r_fail + 1)); fi
        printf '%-16s run      %s  [%d.%d s]\n' "$m" "$res" $((tenths / 10)) $((tenths % 10))
    fi
done

echo "check-onnx: ${#models[@]} models: kernels $k_equal equal, $k_differ differ, $k_nozoo not in zoo, $k_error error; run $r_pass pass, $r_fail fail"
[ $((k_differ + k_error + r_fail)) -eq 0 ]
