#!/usr/bin/env bash
# The matrix-product kernel MiniTrain uses on AVX2 + FMA CPUs (Sources/CGemm) beside OpenBLAS's
# cblas_sgemm, on the default model's training-step shapes as the step calls them (bias, beta), one
# thread: one JSON line per product (GFLOP/s of each, best of 5 alternating rounds). BLAS.usesKernel
# sends the products whose A is row-major and whose output has at most 256 columns to the kernel; the
# row marked "OpenBLAS in the step" is one it leaves to OpenBLAS. Weight gradients (A transposed) are not
# here: the kernel has none (a version with one ran them at 0.67-0.94x OpenBLAS, this script at 3105e8a).
#   scripts/bench-gemm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O3 -ISources/CGemm/include scripts/bench_gemm.c Sources/CGemm/gemm.c -o "$work/bench_gemm" $(pkg-config --cflags --libs openblas) -lpthread
"$work/bench_gemm"
