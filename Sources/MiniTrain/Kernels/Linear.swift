/// Fully connected layer over rows: `out[N, OC] = inp[N, C] · weight[OC, C]ᵀ + bias[OC]` (PyTorch layout).
public enum Linear {
    /// - Parameters: shapes `out [N, OC]`, `inp [N, C]`, `weight [OC, C]`, `bias [OC]` (optional).
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                               _ bias: UnsafePointer<Float>?, N: Int, C: Int, OC: Int) {
        BLAS.sgemm(inp, weight, out, m: N, n: OC, k: C, transB: true)
        if let bias {
            for r in 0..<N {
                let row = out + r * OC
                for o in 0..<OC { row[o] += bias[o] }
            }
        }
    }

    /// Accumulates `dinp [N, C] += dout · W`, `dweight [OC, C] += doutᵀ · inp`, `dbias [OC] += Σ_rows dout`.
    public static func backward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?, dbias: UnsafeMutablePointer<Float>?,
                                dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, N: Int, C: Int, OC: Int) {
        if let dinp { BLAS.sgemm(dout, weight, dinp, m: N, n: C, k: OC, beta: 1) }
        if let dweight { BLAS.sgemm(dout, inp, dweight, m: OC, n: C, k: N, transA: true, beta: 1) }
        if let dbias {
            for r in 0..<N {
                let row = dout + r * OC
                for o in 0..<OC { dbias[o] += row[o] }
            }
        }
    }
}
