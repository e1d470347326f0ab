/// Fully connected layer over rows: `out[N, OC] = inp[N, C] · weight[OC, C]ᵀ + bias[OC]` (PyTorch layout).
public enum Linear {
    /// - Parameters: shapes `out [N, OC]`, `inp [N, C]`, `weight [OC, C]`, `bias [OC]` (optional).
    /// Work is split over `KernelThreads` by rows of the output (BLAS itself runs single-threaded:
    /// two thread pools spinning against each other on 2 cores cost a fifth of the step).
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                               _ bias: UnsafePointer<Float>?, N: Int, C: Int, OC: Int) {
        nonisolated(unsafe) let (out, inp, weight, bias) = (out, inp, weight, bias)
        KernelThreads.forEach(N, minimumPerChunk: 64) { rows in
            BLAS.sgemm(inp + rows.lowerBound * C, weight, out + rows.lowerBound * OC, m: rows.count, n: OC, k: C, transB: true, bias: bias)
        }
    }

    /// Accumulates `dinp [N, C] += dout · W`, `dweight [OC, C] += doutᵀ · inp`, `dbias [OC] += Σ_rows dout`.
    /// `accumulateInput: false` writes `dinp = dout · W` instead (its old values are not read, so it
    /// need not be zeroed first). `inputScale [N, C]` multiplies `dinp` as it is written (with
    /// `accumulateInput: false`: the backward of an elementwise layer in front, such as the GELU's slope).
    public static func backward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?, dbias: UnsafeMutablePointer<Float>?,
                                dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, N: Int, C: Int, OC: Int,
                                accumulateInput: Bool = true, inputScale: UnsafePointer<Float>? = nil) {
        precondition(inputScale == nil || !accumulateInput, "inputScale scales what this product writes, not a sum")
        nonisolated(unsafe) let (dinp, dweight, dout, inp, weight, inputScale) = (dinp, dweight, dout, inp, weight, inputScale)
        if let dinp {
            KernelThreads.forEach(N, minimumPerChunk: 64) { rows in
                BLAS.sgemm(dout + rows.lowerBound * OC, weight, dinp + rows.lowerBound * C, m: rows.count, n: C, k: OC,
                           beta: accumulateInput ? 1 : 0, scale: inputScale.map { $0 + rows.lowerBound * C })
            }
        }
        if let dweight {
            // dW[o, :] += Σ_rows dout[row, o] inp[row, :]: split over output rows o (disjoint).
            KernelThreads.forEach(OC, minimumPerChunk: 16) { outs in
                BLAS.sgemmStrided(dout + outs.lowerBound, inp, dweight + outs.lowerBound * C, m: outs.count, n: C, k: N,
                                  transA: true, lda: OC, ldb: C, ldc: C, beta: 1)
            }
        }
        if let dbias {
            for r in 0..<N {
                let row = dout + r * OC
                for o in 0..<OC { dbias[o] += row[o] }
            }
        }
    }
}
