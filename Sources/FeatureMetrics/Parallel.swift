import COpenBLAS
import Foundation
import LensCore

/// How FeatureMetrics splits work over cores: fixed blocks of rows, handed to `threads` workers
/// (`ParallelFor.blocks`).
///
/// Blocks have a size that does not depend on the thread count, and every reduction over blocks is
/// summed in block order, so results are bit-identical for any `threads`.
enum ParallelBlocks {
    /// The default worker count: every core the process may use.
    static var defaultThreads: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// Runs `body(block, rows)` for the blocks `0..<ceil(n / blockSize)` of `0..<n`, on up to `threads`
    /// workers (worker `t` takes blocks `t, t + threads, ...`). Each block must write disjoint outputs.
    ///
    /// OpenBLAS is set to one thread first when more than one worker runs (as the CLI and MiniTrain
    /// do): two thread pools spinning against each other on a few cores cost more than they give.
    static func forEach(_ n: Int, blockSize: Int, threads: Int, _ body: (_ block: Int, _ rows: Range<Int>) -> Void) {
        if min(max(1, threads), blockCount(n, blockSize: blockSize)) > 1 { openblas_set_num_threads(1) }
        ParallelFor.blocks(n, blockSize: blockSize, threads: threads, body)
    }

    /// `ceil(n / blockSize)`, and 0 for `n == 0`.
    static func blockCount(_ n: Int, blockSize: Int) -> Int { ParallelFor.blockCount(n, blockSize: blockSize) }
}

/// Row-major matrix products through OpenBLAS.
enum Matmul {
    /// `c[M, N] = a[M, K] · b[N, K]ᵀ` in single precision.
    static func sgemmABt(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(m), blasint(n), blasint(k),
                    1, a, blasint(k), b, blasint(k), 0, c, blasint(n))
    }

    /// `c[M, N] = a[M, K] · b[N, K]ᵀ` in double precision.
    static func dgemmABt(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ c: UnsafeMutablePointer<Double>, m: Int, n: Int, k: Int) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(m), blasint(n), blasint(k),
                    1, a, blasint(k), b, blasint(k), 0, c, blasint(n))
    }

    /// `c[M, N] += a[K, M]ᵀ · b[K, N]` in double precision (sums over the rows of both).
    static func dgemmAtBAccumulate(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ c: UnsafeMutablePointer<Double>,
                                   m: Int, n: Int, k: Int) {
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasint(m), blasint(n), blasint(k),
                    1, a, blasint(m), b, blasint(n), 1, c, blasint(n))
    }
}
