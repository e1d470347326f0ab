import RealModule

/// LayerNorm over the last axis: `y = γ (x − μ) / √(σ² + eps) + β`, per row of `[N, C]`.
public enum LayerNorm {
    /// Saves `mean [N]` and `rstd [N]` for the backward pass.
    public static func forward(_ out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                               _ inp: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,
                               N: Int, C: Int, eps: Float = 1e-6) {
        for r in 0..<N {
            let x = inp + r * C, y = out + r * C
            var m: Float = 0
            for i in 0..<C { m = Relaxed.sum(m, x[i]) }
            m /= Float(C)
            var v: Float = 0
            for i in 0..<C { let d = x[i] - m; v = Relaxed.multiplyAdd(d, d, v) }
            v /= Float(C)
            let s = 1 / (v + eps).squareRoot()
            for i in 0..<C { y[i] = (x[i] - m) * s * gamma[i] + beta[i] }
            mean[r] = m
            rstd[r] = s
        }
    }

    /// Accumulates `dinp`, `dgamma`, `dbeta` (§4.1 of the EsViT notes).
    public static func backward(dinp: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>, dbeta: UnsafeMutablePointer<Float>,
                                dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, N: Int, C: Int) {
        for r in 0..<N {
            let x = inp + r * C, g = dout + r * C, dx = dinp + r * C
            let m = mean[r], s = rstd[r]
            var meanG: Float = 0, meanGX: Float = 0
            for i in 0..<C {
                let xh = (x[i] - m) * s
                let gh = g[i] * gamma[i]
                meanG = Relaxed.sum(meanG, gh)
                meanGX = Relaxed.multiplyAdd(gh, xh, meanGX)
                dgamma[i] += g[i] * xh
                dbeta[i] += g[i]
            }
            meanG /= Float(C)
            meanGX /= Float(C)
            for i in 0..<C {
                let xh = (x[i] - m) * s
                dx[i] += s * (g[i] * gamma[i] - meanG - xh * meanGX)
            }
        }
    }
}
