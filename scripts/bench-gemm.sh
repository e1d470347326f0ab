#!/usr/bin/env bash
# The matrix-product kernel MiniTrain uses on AVX2 + FMA CPUs (Sources/CGemm) beside OpenBLAS's
# cblas_sgemm, on the default model's training-step shapes as the step calls them (bias, beta), one
# thread: one JSON line per product (GFLOP/s of each, best of 5 alternating rounds). BLAS.usesKernel
# sends the products whose A is row-major and whose output has at most 256 columns to the kernel, and
# the weight gradients (A transposed) of at most 256 x 256 over 2,048 rows or more to its
# weight-gradient kernel (lenspipe_sgemm_at); the rows marked "OpenBLAS in the step" it leaves to OpenBLAS.
#   scripts/bench-gemm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O3 -ISources/CGemm/include scripts/bench_gemm.c Sources/CGemm/gemm.c -o "$work/bench_gemm" $(pkg-config --cflags --libs openblas) -lpthread
"$work/bench_gemm"
