#!/bin/sh
# Write schedules/ISA/MODEL.json for each MODEL from a record database that
# bench/paper (or `transtune tune`) filled: the 16 fastest correct records of
# each of the model's kernels tuned for that model, best first, as an Ansor
# log with a header saying where they came from.  ISA is this host's vector
# ISA as transtune sees it: avx512, or avx2 (also with TT_VECTOR_LANES=8).
#
#   scripts/ship-schedules.sh DB "how they were tuned" MODEL...
#
# Example (after `bench/paper --preset small --dir runs/small`):
#   scripts/ship-schedules.sh runs/small/paper.db \
#       "bench/paper --preset small (100 trials per kernel)" resnet18 resnet50
set -eu
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in --help | -h) usage; exit 0 ;; esac
if [ $# -lt 3 ]; then
    usage >&2
    exit 2
fi
db=$1
how=$2
shift 2
here=$(cd "$(dirname "$0")/.." && pwd)
tt=$here/build/transtune
[ -x "$tt" ] || { echo "ship-schedules: build transtune first (make)" >&2; exit 1; }
[ -f "$db" ] || { echo "ship-schedules: no database $db" >&2; exit 1; }
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
isa=AVX2+FMA
dir=avx2
if grep -q avx512f /proc/cpuinfo && [ "${TT_VECTOR_LANES:-16}" -ge 16 ]; then
    isa=AVX-512
    dir=avx512
fi
mkdir -p "$here/schedules/$dir"
for m in "$@"; do
    out=$here/schedules/$dir/$m.json
    tmp=$out.tmp
    {
        echo "# transtune shipped schedules: records tuned for the zoo model $m (the file name names the model)."
        echo "# Tuned by $how on $cpu ($isa), $(date -u +%Y-%m-%d); every trial checked, timed beside the default schedule (docs/NOTES.md)."
        echo "# Exported with \`transtune db export --model $m --source $m --origin tuned --best 16\`: the 16 fastest correct records of each kernel, best first."
        "$tt" db export --db "$db" --model "$m" --source "$m" --origin tuned --best 16
    } > "$tmp"
    n=$(grep -c '^{' "$tmp" || true)
    if [ "$n" -eq 0 ]; then
        rm -f "$tmp"
        echo "ship-schedules: $db has no tuned records of $m; $out left as it was" >&2
        exit 1
    fi
    mv "$tmp" "$out"
    echo "$out: $n records"
done
