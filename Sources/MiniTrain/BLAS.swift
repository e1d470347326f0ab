import COpenBLAS

/// The matrix products MiniTrain's layers are built on, through OpenBLAS `cblas_sgemm`.
public enum BLAS {
    /// Sets OpenBLAS's thread count. Call once at start-up (from `--threads`): OpenBLAS's default of
    /// one thread per core spin-waits badly when other work shares the cores.
    public static func setThreads(_ n: Int) {
        openblas_set_num_threads(Int32(max(1, n)))
    }

    /// `C[M, N] = alpha * op(A) op(B) + beta * C`, row-major, where `op(A)` is `[M, K]` and `op(B)` is `[K, N]`.
    /// - Parameters:
    ///   - transA: A is stored `[K, M]` and used transposed.
    ///   - transB: B is stored `[N, K]` and used transposed (the PyTorch `Linear` weight layout).
    /// `sgemm` with explicit leading dimensions, for sub-blocks of larger matrices.
    public static func sgemmStrided(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                                    m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false,
                                    lda: Int, ldb: Int, ldc: Int, alpha: Float = 1, beta: Float = 0) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    public static func sgemm(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                             m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false,
                             alpha: Float = 1, beta: Float = 0) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(transA ? m : k),
                    b, blasint(transB ? k : n), beta, c, blasint(n))
    }
}
