import CGemm
import COpenBLAS
import Foundation

/// The matrix products MiniTrain's layers are built on: `CGemm`'s kernel on x86-64 CPUs with AVX2 and
/// FMA (the thin products of a compact Swin, without OpenBLAS's copies of its operands), OpenBLAS
/// `cblas_sgemm` elsewhere. `LENSPIPE_GEMM=openblas` in the environment uses OpenBLAS everywhere (a
/// two-line wrapper that sets it gives `scripts/bench-train-ab.sh` its baseline binary).
public enum BLAS {
    /// Sets OpenBLAS's thread count. Call once at start-up (from `--threads`): OpenBLAS's default of
    /// one thread per core spin-waits badly when other work shares the cores.
    public static func setThreads(_ n: Int) {
        openblas_set_num_threads(Int32(max(1, n)))
    }

    /// Whether products go to OpenBLAS alone (`LENSPIPE_GEMM=openblas`), read once.
    static let openBLASOnly: Bool = ProcessInfo.processInfo.environment["LENSPIPE_GEMM"] == "openblas"

    /// Which products `CGemm`'s kernels take: those with a row-major A and at most 256 columns (a Swin
    /// block's forward and input gradients, where OpenBLAS copies the whole of A before computing and
    /// zeroes C for beta 0), and weight gradients (A transposed) of at most 256 columns over at least
    /// 2,048 inner terms (a lane's rows in the first two stages, where OpenBLAS copies both operands).
    /// Wider outputs and shorter weight gradients, where they were not faster, stay with OpenBLAS. The
    /// choice does not look at the rows (`m`), which callers split among threads: a product's rows go
    /// to one kernel whatever the thread count.
    static func usesKernel(transA: Bool, transB: Bool, n: Int, k: Int) -> Bool {
        transA ? !transB && n <= 256 && k >= 2048 : n <= 256
    }

    /// Whether `CGemm`'s kernel computes this product on this CPU. Then its rows (`m`) may be cut anywhere
    /// with the same bits in every output (each output from its row of A and B alone, over the inner
    /// terms in the same order whatever the rows; OpenBLAS's paths for small products are its own).
    static func kernelTakes(transA: Bool, transB: Bool, n: Int, k: Int) -> Bool {
        !openBLASOnly && weightGradientBlock > 0 && usesKernel(transA: transA, transB: transB, n: n, k: k)
    }

    /// Whether a weight gradient `[m, n]` over `k` rows, summed in consecutive blocks of rows that start
    /// at multiples of `weightGradientBlock` (beta 1), gives the bits of the whole product: when `CGemm`'s weight-gradient
    /// kernel takes it, whose own blocks of the inner terms start at those multiples (OpenBLAS's blocking
    /// is its own).
    static let weightGradientBlock = Int(lenspipe_sgemm_at_block())
    static func sumsInRowBlocks(n: Int, k: Int) -> Bool {
        kernelTakes(transA: true, transB: false, n: n, k: k)
    }

    /// `C[M, N] = alpha * op(A) op(B) + beta * C (+ bias)`, row-major, where `op(A)` is `[M, K]` and
    /// `op(B)` is `[K, N]`, with explicit leading dimensions (for sub-blocks of larger matrices).
    /// - Parameters:
    ///   - transA: A is stored `[K, M]` and used transposed.
    ///   - transB: B is stored `[N, K]` and used transposed (the PyTorch `Linear` weight layout).
    ///   - bias: `[N]`, added to every row of C (nil: none).
    ///   - scale: `[M, N]` with C's leading dimension: multiplies each value of C once it is computed
    ///     (nil: none; the kernel does it before storing the value).
    ///   - wholeK: when this call is one block of a longer product's inner terms (a weight gradient summed
    ///     block by block into C, beta 1), that product's: the kernel is chosen for it, not for the block.
    public static func sgemmStrided(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                                    m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false,
                                    lda: Int, ldb: Int, ldc: Int, alpha: Float = 1, beta: Float = 0,
                                    bias: UnsafePointer<Float>? = nil, scale: UnsafePointer<Float>? = nil, wholeK: Int? = nil) {
        if alpha == 1 && !openBLASOnly && usesKernel(transA: transA, transB: transB, n: n, k: wholeK ?? k) {
            if transA {
                if bias == nil && scale == nil
                    && lenspipe_sgemm_at(Int32(m), Int32(n), Int32(k), a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc)) == 1 { return }
            } else if lenspipe_sgemm(transB ? 1 : 0, Int32(m), Int32(n), Int32(k), a, Int32(lda), b, Int32(ldb),
                                     beta, c, Int32(ldc), bias, scale) == 1 {
                return
            }
        }
        defer {
            if let scale, m > 0 {
                for r in 0..<m { let row = c + r * ldc, s = scale + r * ldc; for j in 0..<n { row[j] *= s[j] } }
            }
        }
        var beta = beta
        if let bias {
            // OpenBLAS has no bias: each row is written with it first and the product added onto it.
            for r in 0..<m {
                let row = c + r * ldc
                if beta == 0 { row.update(from: bias, count: n) } else { for j in 0..<n { row[j] = beta * row[j] + bias[j] } }
            }
            beta = 1
        }
        guard m > 0 && n > 0 else { return }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// `sgemmStrided` on whole matrices (leading dimensions are the row lengths).
    public static func sgemm(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                             m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false,
                             alpha: Float = 1, beta: Float = 0, bias: UnsafePointer<Float>? = nil, scale: UnsafePointer<Float>? = nil) {
        sgemmStrided(a, b, c, m: m, n: n, k: k, transA: transA, transB: transB,
                     lda: transA ? m : k, ldb: transB ? k : n, ldc: n, alpha: alpha, beta: beta, bias: bias, scale: scale)
    }
}
