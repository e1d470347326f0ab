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
        KernelThreads.forEachCutInvariant(N, minimumPerChunk: 64) { rows in
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
        // dγ and dβ are shared by all rows: each block of `rowBlock` rows sums its own, and the blocks are
        // added in order at the end, so their bits do not depend on how the rows are cut between threads
        // (`forEachCutInvariant`).
        let blocks = (N + rowBlock - 1) / rowBlock
        guard blocks > 0 else { return }
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: blocks * 2 * C)
        partial.initialize(repeating: 0, count: blocks * 2 * C)
        defer { partial.deallocate() }
        nonisolated(unsafe) let (dinp, dout, inp, gamma, mean, rstd, doutRows, sums) = (dinp, dout, inp, gamma, mean, rstd, doutRows, partial)
        KernelThreads.forEachCutInvariant(blocks, minimumPerChunk: 1) { blockRange in
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
        }
        for block in 1..<blocks { for i in 0..<(2 * C) { partial[i] += partial[block * 2 * C + i] } }
        for i in 0..<C { dgamma[i] += partial[i]; dbeta[i] += partial[C + i] }
    }

    /// Rows per block of the dγ and dβ sums in `backward`.
    static let rowBlock = 64
}
