#!/bin/sh
# check-torchvision.sh [--opset N] [--out DIR] [MODEL...]: export torchvision's classification
# models to ONNX (scripts/export-onnx.py --torchvision, seeded weights, PyTorch's output saved)
# and run each with `transtune run` on the same input; one line per model: the export, then
# max |ours - torch| / max |torch| (<= 1e-3 passes) or why it failed.  Default: every model
# torchvision lists, smallest first; a model already exported in DIR is not exported again.
# Needs `scripts/install-deps.sh --extras` (torch, torchvision, onnx, numpy for /usr/bin/python3).
set -u
opset=13
out=
while [ $# -gt 0 ]; do
    case "$1" in
        --opset) opset=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done
here=$(cd "$(dirname "$0")/.." && pwd)
tt=$here/build/transtune
[ -x "$tt" ] || { echo "check-torchvision: build transtune first (make)" >&2; exit 2; }
out=${out:-$here/build/onnx-tv$opset}
mkdir -p "$out"
py=/usr/bin/python3
models="$*"
if [ -z "$models" ]; then
    # every classification model, by parameter count (small first)
    models=$($py -c "
import torchvision.models as M
ms = M.list_models(module=M)
def size(n):
    try:
        return sum(p.numel() for p in M.get_model(n).parameters())
    except Exception:
        return 1 << 40
print(' '.join(sorted(ms, key=size)))")
fi
pass=0; fail=0
for m in $models; do
    if [ ! -f "$out/$m.onnx" ]; then
        msg=$($py "$here/scripts/export-onnx.py" --torchvision --opset "$opset" --out "$out" "$m" 2>/dev/null | grep -E "^$m " | tail -1)
        if [ ! -f "$out/$m.onnx" ]; then
            echo "$m: export failed: $(echo "$msg" | sed 's/^[^:]*FAILED after [0-9.]* s: //' | cut -c1-160)"
            fail=$((fail + 1))
            continue
        fi
    fi
    y=$out/$m.tt.npy
    rm -f "$y"
    r=$("$tt" run "$out/$m.onnx" --input "$out/$m.in.npy" --output "$y" --repeat 3 --winograd off 2>&1)
    if [ -f "$y" ]; then
        e=$($py -c "
import numpy as np
a = np.load('$y'); b = np.load('$out/$m.out.npy')
print('%.2e' % (float(np.abs(a - b).max()) / float(np.abs(b).max())))")
        ms=$(echo "$r" | grep -o 'latency [0-9.]* ms' | head -1)
        ok=$($py -c "print('ok' if float('$e') <= 1e-3 else 'WRONG')")
        echo "$m: $ok, error $e, $ms"
        [ "$ok" = ok ] && pass=$((pass + 1)) || fail=$((fail + 1))
        rm -f "$y"
    else
        echo "$m: run failed: $(echo "$r" | grep 'transtune' | tail -1 | cut -c1-200)"
        fail=$((fail + 1))
    fi
done
echo "check-torchvision: opset $opset: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
