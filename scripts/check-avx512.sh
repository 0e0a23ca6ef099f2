#!/usr/bin/env bash
# check-avx512.sh - show that transtune's vectorized kernels become AVX-512 code,
# with gcc and with clang, on any x86-64 machine (no AVX-512 needed: nothing runs).
#
#   scripts/check-avx512.sh           check every compiler found (gcc, clang)
#   scripts/check-avx512.sh --keep    also keep the work folder (sources, assembly)
#   CHECK_AVX512_COMPILERS="clang" scripts/check-avx512.sh    only these compilers
#
# Steps: build tests/emit_kernel.c against build/libtranstune.a (made first if
# missing); with it, write the C source of conv2d 1x14x14x64 3x3 -> 64 + bias + relu
# under transtune's default schedule for 16 fp32 lanes (AVX-512's width); check that
# the source holds vector statements of at least 16 lanes; compile it to assembly with
#   clang -O3 -march=skylake-avx512 -mprefer-vector-width=512 -fopenmp=libgomp -S
#   gcc   -O3 -march=skylake-avx512 -mprefer-vector-width=512 -fopenmp -S
# and look for packed fp32 FMAs on zmm registers (vfmadd...ps / vfnmadd...ps with %zmm).
# Prints one "PASS <compiler> ..." / "FAIL <compiler> ..." / "SKIP <compiler> ..." line
# per compiler; exits 0 if no compiler failed and at least one passed, 1 otherwise
# (2 if the kernel source could not be produced).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

keep=0
case "${1:-}" in
    --keep) keep=1 ;;
    "") ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "check-avx512: unknown option '$1' (see --help)" >&2; exit 2 ;;
esac

die() { echo "check-avx512: error: $*" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tt-avx512.XXXXXX")
if [ "$keep" = 1 ]; then
    echo "check-avx512: work folder $work"
else
    trap 'rm -rf "$work"' EXIT
fi

# 1. The emitter, linked against the library (the one compiler that builds it
#    is $CC, else cc).
if [ ! -f build/libtranstune.a ]; then
    make -s build/libtranstune.a >"$work/make.log" 2>&1 || { cat "$work/make.log" >&2; die "make build/libtranstune.a failed"; }
fi
host_cc=${CC:-cc}
command -v "$host_cc" >/dev/null 2>&1 || die "no C compiler '$host_cc' to build tests/emit_kernel.c"
command -v pkg-config >/dev/null 2>&1 || die "pkg-config not found"
# shellcheck disable=SC2046
"$host_cc" -std=c11 -O1 -D_GNU_SOURCE -DTT_EMIT_KERNEL_MAIN -fopenmp $(pkg-config --cflags jansson) \
    -o "$work/emit_kernel" tests/emit_kernel.c build/libtranstune.a \
    $(pkg-config --libs jansson) -lm -ldl -fopenmp >"$work/emit.log" 2>&1 ||
    { cat "$work/emit.log" >&2; die "building tests/emit_kernel.c failed"; }

# 2. The kernel source, default schedule and vector statements for a 16-lane target.
TT_VECTOR_LANES=16 "$work/emit_kernel" 16 14 14 64 64 3 >"$work/kernel.c" 2>"$work/emit.log" ||
    { cat "$work/emit.log" >&2; die "emit_kernel failed"; }
nvec=$(grep -cE 'tt_v(load|store)(16|32|64)\(' "$work/kernel.c" || true)
[ "$nvec" -gt 0 ] ||
    die "the generated kernel has no vector loads/stores of 16+ lanes (see $work/kernel.c with --keep)"
echo "check-avx512: kernel source $(wc -l <"$work/kernel.c") lines, $nvec vector loads/stores of 16+ lanes"

# 3. Each compiler.
fma_re='vfn?m(add|sub)(132|213|231)ps[[:space:]][^#]*%zmm'
passed=0 failed=0
for c in ${CHECK_AVX512_COMPILERS:-gcc clang}; do
    case "$c" in
        gcc*) omp=-fopenmp ;;
        clang*) omp=-fopenmp=libgomp ;;
        *) omp=-fopenmp ;;
    esac
    if ! command -v "$c" >/dev/null 2>&1; then
        echo "SKIP $c: not installed"
        continue
    fi
    flags="-O3 -march=skylake-avx512 -mprefer-vector-width=512 $omp -S"
    asm="$work/kernel.$c.s"
    # shellcheck disable=SC2086
    if ! "$c" $flags "$work/kernel.c" -o "$asm" >"$work/$c.log" 2>&1; then
        echo "FAIL $c: compiling the kernel failed ($c $flags):"
        sed 's/^/    /' "$work/$c.log" | head -20
        failed=$((failed + 1))
        continue
    fi
    nfma=$(grep -cE "$fma_re" "$asm" || true)
    nzmm=$(grep -c '%zmm' "$asm" || true)
    if [ "$nfma" -gt 0 ]; then
        echo "PASS $c: $nfma zmm FMA instructions ($nzmm zmm uses), e.g. $(grep -m1 -E "$fma_re" "$asm" | sed 's/#.*//; s/^[[:space:]]*//; s/[[:space:]]\{1,\}/ /g; s/ $//')"
        passed=$((passed + 1))
    else
        echo "FAIL $c: no vfmadd...ps on %zmm in the assembly ($nzmm zmm uses; $c $flags)"
        failed=$((failed + 1))
    fi
done

if [ "$failed" -gt 0 ] || [ "$passed" -eq 0 ]; then
    echo "check-avx512: FAIL ($passed passed, $failed failed)"
    exit 1
fi
echo "check-avx512: PASS ($passed passed, 0 failed)"
