import RealModule

/// LayerNorm over the last axis: `y = γ (x − μ) / √(σ² + eps) + β`, per row of `[N, C]`.
public enum LayerNorm {
    /// Saves `mean [N]` and `rstd [N]` for the backward pass. `gathering`: output row `r` is input row
    /// `gathering[r]` normalised (a permutation of the rows, `mean` and `rstd` kept in the input's order):
    /// the LayerNorm and a `TokenLayout.gather` after it in one pass, the same values.
    public static func forward(_ out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                               _ inp: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,
                               N: Int, C: Int, eps: Float = 1e-6, gathering: UnsafePointer<Int32>? = nil) {
        nonisolated(unsafe) let (out, mean, rstd, inp, gamma, beta, perm) = (out, mean, rstd, inp, gamma, beta, gathering)
        KernelThreads.forEach(N, minimumPerChunk: 64, cutInvariant: true) { rows in
        for o in rows {
            let r = perm.map { Int($0[o]) } ?? o
            let x = inp + r * C, y = out + o * C
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
    }

    /// Accumulates `dinp`, `dgamma`, `dbeta`: with `x̂ = (x − mean)·rstd` and `g = dout·γ`,
    /// `dinp += rstd·(g − mean(g) − x̂·mean(g·x̂))`, `dγ += Σ_rows dout·x̂`, `dβ += Σ_rows dout` (llm.c's layernorm_backward).
    /// `doutRows`: row `r`'s output gradient is row `doutRows[r]` of `dout` (the inverse of `forward`'s
    /// `gathering`: the gradient arrives in window order), read in place of a scatter into row order.
    public static func backward(dinp: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>, dbeta: UnsafeMutablePointer<Float>,
                                dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, N: Int, C: Int, doutRows: UnsafePointer<Int32>? = nil) {
        // dγ and dβ are shared by all rows: summed per block of `rowBlock` rows (`KernelThreads.blockSums`).
        nonisolated(unsafe) let (dinp, dout, inp, gamma, mean, rstd, doutRows) = (dinp, dout, inp, gamma, mean, rstd, doutRows)
        KernelThreads.blockSums(N, block: rowBlock, width: 2 * C, { blockRange, sums in
        for block in blockRange {
        let dgamma = sums + block * 2 * C, dbeta = dgamma + C
        for r in (block * rowBlock)..<min(N, (block + 1) * rowBlock) {
            let x = inp + r * C, g = dout + (doutRows.map { Int($0[r]) } ?? r) * C, dx = dinp + r * C
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
        }, total: { sum in for i in 0..<C { dgamma[i] += sum[i]; dbeta[i] += sum[C + i] } })
    }

    /// Rows per block of the dγ and dβ sums in `backward`.
    static let rowBlock = 64
}
