#!/usr/bin/env bash
# install-deps.sh - install the Debian 12 packages that transtune's build, tests,
# fuzzers and benchmarks need, and only those that are missing.
#
#   scripts/install-deps.sh           install what is missing (apt-get, as root or via sudo)
#   scripts/install-deps.sh --extras  also what model export and end-to-end benchmarks need
#                                     (PyTorch, torchvision, onnx for /usr/bin/python3; Node.js)
#   scripts/install-deps.sh --check   list what is missing; exit 1 if anything is
#
# Fast and silent-ish when everything is present: one dpkg-query call, no apt-get.
# apt-get update runs only when something has to be installed.
set -euo pipefail

# One package a line: why it is needed.
PACKAGES=(
    build-essential     # gcc, make, libc headers; GNU libgomp (OpenMP for gcc's code)
    pkg-config          # the Makefile finds libraries through pkg-config
    clang-14            # default kernel compiler and make fuzz
    clang               # the unversioned clang command
    libomp-dev          # LLVM's OpenMP runtime: clang's kernels (-fopenmp) run on it
    libclang-rt-14-dev  # libFuzzer and the sanitizer runtimes for clang
    libjansson-dev      # JSON: Ansor record logs
    libdnnl-dev         # oneDNN: the peer in bench/kernels
    libonnx-dev         # /usr/include/onnx/onnx.proto: the ONNX schema the importer is generated from
    protobuf-c-compiler # protoc-c: generates C for onnx.proto at build time (build/gen)
    libprotobuf-c-dev   # libprotobuf-c: runtime and pkg-config file for the generated parser
    libsqlite3-dev      # the record database (SQLite, WAL)
    libxgboost-dev      # the search's cost model (XGBoost's C API)
    python3-numpy       # the Python package (python/transtune) and its test
    libopenmpi-dev      # transtune-mpi: tuning spread over MPI ranks (Open MPI, pkg-config ompi-c)
    openmpi-bin         # mpirun, for transtune-mpi and its tests
    gcc-aarch64-linux-gnu # cross compiler: kernels and the runner for an aarch64 device (--target)
    libc6-dev-arm64-cross # its C library headers (only a Recommends of the compiler, which
                          # this script does not install)
    libgomp1-arm64-cross  # OpenMP runtime for aarch64 kernels
    qemu-user           # qemu-aarch64: the remote runner's aarch64 test
)

# --extras: scripts/export-onnx.py (run with /usr/bin/python3, where Debian installs these)
# and bench/e2e (ONNX Runtime through npm).  Large (about 1.5 GB); not needed to build or test.
EXTRAS=(
    python3-torch       # PyTorch 1.13: reference outputs and ONNX export of torchvision models
    python3-torchvision # the torchvision model definitions
    python3-onnx        # onnx 1.12 for the exporter and checks
    nodejs              # bench/e2e runs ONNX Runtime (npm onnxruntime-node) under Node.js
)

die() { echo "install-deps: error: $*" >&2; exit 1; }

check_only=0
case "${1:-}" in
    --check) check_only=1 ;;
    --extras)
        PACKAGES+=("${EXTRAS[@]}")
        # NodeSource's nodejs carries npm and conflicts with Debian's npm package
        command -v npm >/dev/null 2>&1 || PACKAGES+=(npm) ;;
    "") ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (use --check or no option)" ;;
esac

command -v dpkg-query >/dev/null 2>&1 ||
    die "dpkg-query not found: this script supports Debian 12 (and derivatives) only"

# Installed packages print "ii"; unknown ones print nothing (dpkg-query then exits 1).
installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PACKAGES[@]}" 2>/dev/null |
    awk '$2 ~ /^ii/ { print $1 }' || true)
missing=()
for p in "${PACKAGES[@]}"; do
    grep -qxF "$p" <<<"$installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#PACKAGES[@]} packages present"
    exit 0
fi
echo "install-deps: missing: ${missing[*]}"
[ "$check_only" -eq 1 ] && exit 1

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    die "not root and sudo not found; run as root: apt-get install ${missing[*]}"
fi
command -v apt-get >/dev/null 2>&1 || die "apt-get not found"

export DEBIAN_FRONTEND=noninteractive
echo "install-deps: apt-get update"
"${SUDO[@]}" apt-get update -q ||
    die "apt-get update failed (no network or a broken sources list?)"
echo "install-deps: installing: ${missing[*]}"
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    die "apt-get install failed for: ${missing[*]}"

# Verify: a package that apt-get skipped silently must not pass.
still=()
for p in "${missing[@]}"; do
    dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || still+=("$p")
done
[ ${#still[@]} -eq 0 ] || die "still missing after install: ${still[*]}"
echo "install-deps: done"
