#ifndef LENSPIPE_GEMM_H
#define LENSPIPE_GEMM_H
/// MiniTrain's matrix products on x86-64 CPUs with AVX2 and FMA: `C = A op(B) + beta C (+ bias)`,
/// row-major, for the thin products of a compact Swin's blocks (thousands of rows, 32-256 columns,
/// 32-512 inner terms), where OpenBLAS copies the whole of A into its own layout before computing,
/// zeroes C for beta 0, and has no bias (`BLAS.usesKernel` says which products come here;
/// scripts/bench-gemm.sh measures the two side by side).
///
/// One register tile of 6 rows x 16 columns (12 accumulators), `op(B)` packed once per call into
/// 16-column panels (read in place when it is a plain row-major matrix whose panels are whole), A read
/// in place, the inner dimension in blocks of 256 (each block's sum added to the tile in order).
/// Every output element is the same sequence of fused multiply-adds wherever its row falls in the
/// matrix, so results do not depend on how callers split the rows among threads.
///
/// Returns 1 when it computed the product, 0 when this CPU lacks AVX2 or FMA (or the build is not for
/// x86-64): the caller then calls `cblas_sgemm`, which computes the same product.
///
/// - A: `[M, K]`, row-major (leading dimension lda); weight gradients (A transposed) are
///   `lenspipe_sgemm_at`'s.
/// - transB: B is stored `[N, K]` and used transposed (PyTorch's Linear weight); else `[K, N]`.
/// - beta: multiplies the old C (0: C is not read).
/// - bias: `[N]`, added to every row (NULL: none).
/// - scale: `[M, N]` with C's leading dimension, multiplying each finished value before it is stored
///   (NULL: none): the GELU's backward, `dfc1 = (dout · W) ⊙ slope`, in the product that makes it.
int lenspipe_sgemm(int transB, int M, int N, int K,
                   const float *A, int lda, const float *B, int ldb,
                   float beta, float *C, int ldc, const float *bias, const float *scale);

/// A weight gradient, `C[M, N] = Aᵀ B + beta C`, A stored `[K, M]` (lda), B `[K, N]` (ldb), row-major, read
/// in place (OpenBLAS copies both; only the last partial panel's columns go through a 16-wide strip on the
/// stack): `dW[OC, C] += doutᵀ · inp` over a lane's thousands of rows. Tiles of 6 x 16 whose 16 columns
/// run along C's narrower side (C's columns, or, when C is wider than tall, its rows: the tiles are then
/// of Cᵀ, stored transposed), the inner dimension in blocks of 128 added in order, so every element is
/// the same sum wherever it falls, in either orientation, however callers split C's rows. Returns 0
/// where `lenspipe_sgemm` would (the caller calls `cblas_sgemm`).
int lenspipe_sgemm_at(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                      float beta, float *C, int ldc);

/// The inner terms per block of `lenspipe_sgemm_at` (its blocks start at multiples of it), 0 where it
/// computes nothing: a weight gradient summed into C (beta 1) over consecutive row blocks that start at
/// multiples of it gets the bits of one call over all the rows.
int lenspipe_sgemm_at_block(void);
#endif
