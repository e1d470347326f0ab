/// Fully connected layer over rows: `out[N, OC] = inp[N, C] · weight[OC, C]ᵀ + bias[OC]` (PyTorch layout).
public enum Linear {
    /// - Parameters: shapes `out [N, OC]`, `inp [N, C]`, `weight [OC, C]`, `bias [OC]` (optional).
    /// Work is split over `KernelThreads` by rows of the output (BLAS itself runs single-threaded:
    /// two thread pools spinning against each other on 2 cores cost a fifth of the step).
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                               _ bias: UnsafePointer<Float>?, N: Int, C: Int, OC: Int) {
        nonisolated(unsafe) let (out, inp, weight, bias) = (out, inp, weight, bias)
        func run(_ rows: Range<Int>) {
            BLAS.sgemm(inp + rows.lowerBound * C, weight, out + rows.lowerBound * OC, m: rows.count, n: OC, k: C, transB: true, bias: bias)
        }
        KernelThreads.forEach(N, minimumPerChunk: 64, cutInvariant: BLAS.kernelTakes(transA: false, transB: true, n: OC, k: C), run)
    }

    /// Accumulates `dinp [N, C] += dout · W`, `dweight [OC, C] += doutᵀ · inp`, `dbias [OC] += Σ_rows dout`.
    /// `accumulateInput: false` writes `dinp = dout · W` instead (its old values are not read, so it
    /// need not be zeroed first). `inputScale [N, C]` multiplies `dinp` as it is written (with
    /// `accumulateInput: false`: the backward of an elementwise layer in front, such as the GELU's slope).
    /// `wholeRows`: these `N` rows are one block of a product over that many (see `rowBlock(N:C:wide:)`).
    public static func backward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?, dbias: UnsafeMutablePointer<Float>?,
                                dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, N: Int, C: Int, OC: Int,
                                accumulateInput: Bool = true, inputScale: UnsafePointer<Float>? = nil, wholeRows: Int? = nil) {
        precondition(inputScale == nil || !accumulateInput, "inputScale scales what this product writes, not a sum")
        nonisolated(unsafe) let (dinp, dweight, dout, inp, weight, inputScale) = (dinp, dweight, dout, inp, weight, inputScale)
        if let dinp {
            func run(_ rows: Range<Int>) {
                BLAS.sgemm(dout + rows.lowerBound * OC, weight, dinp + rows.lowerBound * C, m: rows.count, n: C, k: OC,
                           beta: accumulateInput ? 1 : 0, scale: inputScale.map { $0 + rows.lowerBound * C })
            }
            KernelThreads.forEach(N, minimumPerChunk: 64, cutInvariant: BLAS.kernelTakes(transA: false, transB: false, n: C, k: OC), run)
        }
        if let dweight {
            // dW[o, :] += Σ_rows dout[row, o] inp[row, :]: split over output rows o (disjoint).
            func run(_ outs: Range<Int>) {
                BLAS.sgemmStrided(dout + outs.lowerBound, inp, dweight + outs.lowerBound * C, m: outs.count, n: C, k: N,
                                  transA: true, lda: OC, ldb: C, ldc: C, beta: 1, wholeK: wholeRows)
            }
            KernelThreads.forEach(OC, minimumPerChunk: 16, cutInvariant: BLAS.kernelTakes(transA: true, transB: false, n: C, k: wholeRows ?? N), run)
        }
        if let dbias { biasGradient(dbias, dout, N: N, OC: OC) }
    }

    /// The rows per block when `backward` runs on blocks of a product's `N` rows whose input gradient is
    /// `[N, wide]`-sized (`wide` floats a row): about 256 KiB of it a block, so that it stays in the
    /// core's cache between the product that writes it and the ones that read it. Blocks start at
    /// multiples of `BLAS.weightGradientBlock`, so the weight gradients summed block by block are the whole
    /// products' bits (the bias rows are added in order either way, and each row of an input gradient
    /// is its own); `N` (one block) where that does not hold for weight gradients `[·, C]` and `[·, wide]`.
    public static func rowBlock(N: Int, C: Int, wide: Int) -> Int {
        guard BLAS.sumsInRowBlocks(n: C, k: N) && BLAS.sumsInRowBlocks(n: wide, k: N) else { return N }
        let unit = BLAS.weightGradientBlock
        return max(unit, (1 << 16) / max(1, wide) / unit * unit)
    }

    /// `dbias [OC] += Σ_rows dout [N, OC]`, each column's rows added in order onto its old value, 64 or 32
    /// columns at a time in registers (a loop that adds every row into `dbias` in memory waits on each
    /// store before the next row's load: 1% of the training step).
    static func biasGradient(_ dbias: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, N: Int, OC: Int) {
        typealias V = SIMD16<Float>
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
        var o = 0
        while o + 64 <= OC {
            var (a0, a1, a2, a3) = (load(dbias + o), load(dbias + o + 16), load(dbias + o + 32), load(dbias + o + 48))
            for r in 0..<N {
                let row = dout + r * OC + o
                a0 += load(row); a1 += load(row + 16); a2 += load(row + 32); a3 += load(row + 48)
            }
            store(a0, dbias + o); store(a1, dbias + o + 16); store(a2, dbias + o + 32); store(a3, dbias + o + 48)
            o += 64
        }
        while o + 32 <= OC {
            var (a0, a1) = (load(dbias + o), load(dbias + o + 16))
            for r in 0..<N { let row = dout + r * OC + o; a0 += load(row); a1 += load(row + 16) }
            store(a0, dbias + o); store(a1, dbias + o + 16)
            o += 32
        }
        if o < OC {
            for r in 0..<N {
                let row = dout + r * OC
                for c in o..<OC { dbias[c] += row[c] }
            }
        }
    }
}
