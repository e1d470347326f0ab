/// Eigenvalues of a small real symmetric matrix by the cyclic Jacobi method (Jacobi 1846;
/// Golub & Van Loan, *Matrix Computations*, §8.5): plane rotations zero one off-diagonal pair at a
/// time until the matrix is diagonal to rounding. Slow (`~4n³` per sweep, 6–10 sweeps) but simple
/// and accurate to full relative precision on every eigenvalue; fine for `n ≤ 512`.
enum SymmetricEigen {
    /// - Parameter matrix: `[n, n]` symmetric (only symmetry is assumed; both triangles are used).
    /// - Returns: `[n]` eigenvalues, largest first.
    static func eigenvalues(_ matrix: [Double], n: Int) -> [Double] {
        precondition(matrix.count == n * n)
        var a = matrix
        a.withUnsafeMutableBufferPointer { a in
            for _ in 0..<100 {
                var off = 0.0, diag = 0.0
                for p in 0..<n {
                    diag += a[p * n + p] * a[p * n + p]
                    for q in (p + 1)..<max(p + 1, n) { off += a[p * n + q] * a[p * n + q] }
                }
                if off <= 1e-32 * diag || off == 0 { break }
                for p in 0..<n {
                    for q in (p + 1)..<max(p + 1, n) {
                        let apq = a[p * n + q]
                        if apq == 0 { continue }
                        let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
                        let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                        let c = 1 / (t * t + 1).squareRoot(), s = t * c
                        // A ← A J (columns p, q), then A ← Jᵀ A (rows p, q).
                        for k in 0..<n {
                            let akp = a[k * n + p], akq = a[k * n + q]
                            a[k * n + p] = c * akp - s * akq
                            a[k * n + q] = s * akp + c * akq
                        }
                        for k in 0..<n {
                            let apk = a[p * n + k], aqk = a[q * n + k]
                            a[p * n + k] = c * apk - s * aqk
                            a[q * n + k] = s * apk + c * aqk
                        }
                        a[p * n + q] = 0
                        a[q * n + p] = 0
                    }
                }
            }
        }
        return (0..<n).map { a[$0 * n + $0] }.sorted(by: >)
    }
}
