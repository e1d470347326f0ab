import RealModule

/// Row-wise helpers on `[N, D]` row-major feature matrices.
public enum Rows {
    /// `x / max(‖x‖₂, eps)` for every row (PyTorch's `F.normalize(x, dim=1)`, eps = 1e-12).
    /// - Parameter features: `[N, D]`.
    /// - Returns: `[N, D]`, each row of unit length (zero rows stay zero).
    public static func l2Normalized(_ features: [Float], dimension D: Int, eps: Float = 1e-12) -> [Float] {
        var out = features
        let n = D == 0 ? 0 : features.count / D
        out.withUnsafeMutableBufferPointer { y in
            for r in 0..<n {
                let row = y.baseAddress! + r * D
                var s: Float = 0
                for i in 0..<D { s = Relaxed.multiplyAdd(row[i], row[i], s) }
                let inv = 1 / max(s.squareRoot(), eps)
                for i in 0..<D { row[i] *= inv }
            }
        }
        return out
    }

    /// The mean row of `features [N, D]` (accumulated in Double).
    static func mean(_ features: [Float], dimension D: Int) -> [Float] {
        let n = D == 0 ? 0 : features.count / D
        var sum = [Double](repeating: 0, count: D)
        for r in 0..<n { for i in 0..<D { sum[i] += Double(features[r * D + i]) } }
        return sum.map { Float($0 / Double(max(n, 1))) }
    }

    /// `features [N, D]` with `row [D]` subtracted from every row.
    static func subtracting(_ row: [Float], from features: [Float]) -> [Float] {
        let D = row.count
        var out = features
        for i in out.indices { out[i] -= row[i % D] }
        return out
    }

    /// Index of the largest of `count` values (the first one on ties).
    static func argmax<T: Comparable>(_ values: UnsafePointer<T>, count: Int) -> Int {
        var best = 0
        for i in 1..<max(1, count) where values[i] > values[best] { best = i }
        return best
    }
}
