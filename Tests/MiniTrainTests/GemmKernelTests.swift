import CGemm
import Foundation
import Testing
import LensCore
@testable import MiniTrain

/// `CGemm`'s kernel (what `BLAS.sgemm` runs on AVX2 + FMA CPUs) against a double-precision loop, over
/// both layouts of B, with the tile's edges (rows past a multiple of 6, columns past a
/// multiple of 16, an inner dimension past a block of 256), leading dimensions wider than the rows,
/// beta 0 / 1 / ½, the fused bias, and the scale applied as values are stored; and its weight-gradient
/// kernel (A transposed) the same way, on both sides of its tall / wide switch.
@Suite struct GemmKernelTests {
    static var cpuHasAVX2FMA: Bool {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let flags = Set((info.split(separator: "\n").first { $0.hasPrefix("flags") } ?? "").split(separator: " "))
        return flags.contains("avx2") && flags.contains("fma")
    }

    /// `c` within `tolerance` of `expected`, and the columns past N of its M rows (the leading dimension's
    /// padding) left as they were in `c0`.
    static func expectMatch(_ c: [Float], _ expected: [Float], original c0: [Float], M: Int, N: Int, ldc: Int, tolerance: Float, _ label: String) {
        let worst = zip(c, expected).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= tolerance, "\(label): \(worst)")
        let padding = (0..<M).flatMap { i in (N..<ldc).map { i * ldc + $0 } }
        #expect(padding.allSatisfy { c[$0] == c0[$0] }, "the kernel wrote past column N")
    }

    @Test(arguments: [(1, 1, 1), (7, 17, 3), (6, 16, 256), (13, 33, 257), (100, 96, 32), (31, 40, 600), (5, 3, 1000), (12, 48, 0)])
    func matchesALoopInDoublePrecision(shape: (Int, Int, Int)) {
        let (M, N, K) = shape
        var rng = Philox4x64(seed: UInt64(M * 1000 + N), stream: UInt64(K))
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.normal()) } }
        for transB in [false, true] {
            for beta: Float in [0, 1, 0.5] {
                for withBias in [false, true] {
                    let lda = K + 3, ldb = (transB ? K : N) + 2, ldc = N + 5
                    let a = random(M * lda + 1), b = random((transB ? N : K) * ldb + 1)
                    let c0 = random(M * ldc), bias = random(N)
                    // With beta 0, a scale matrix (C's leading dimension) multiplies the values as they are stored.
                    let scale = beta == 0 ? random(M * ldc) : nil
                    var expected = c0
                    for i in 0..<M {
                        for j in 0..<N {
                            var s = 0.0
                            for k in 0..<K {
                                s += Double(a[i * lda + k]) * Double(transB ? b[j * ldb + k] : b[k * ldb + j])
                            }
                            let value = s + Double(beta) * Double(c0[i * ldc + j]) + (withBias ? Double(bias[j]) : 0)
                            expected[i * ldc + j] = Float(value * Double(scale?[i * ldc + j] ?? 1))
                        }
                    }
                    var c = c0
                    let done = c.withUnsafeMutableBufferPointer { cp in
                        bias.withUnsafeBufferPointer { bp in
                            (scale ?? []).withUnsafeBufferPointer { sp in
                                lenspipe_sgemm(transB ? 1 : 0, Int32(M), Int32(N), Int32(K), a, Int32(lda), b, Int32(ldb), beta,
                                               cp.baseAddress, Int32(ldc), withBias ? bp.baseAddress : nil, scale == nil ? nil : sp.baseAddress)
                            }
                        }
                    }
                    if Self.cpuHasAVX2FMA { #expect(done == 1, "the kernel declined an AVX2 + FMA CPU") }
                    guard done == 1 else { continue }
                    Self.expectMatch(c, expected, original: c0, M: M, N: N, ldc: ldc, tolerance: 1e-5 * Float(K + 1).squareRoot() * 4 * (scale == nil ? 1 : 4),
                                     "M \(M) N \(N) K \(K) transB \(transB) beta \(beta) bias \(withBias)")
                }
            }
        }
    }

    /// A row's result does not depend on where the row falls in the matrix: the kernel's product of rows
    /// 5..<20 computed alone equals those rows of its product of all 24 (so splitting rows among threads,
    /// or among lanes, changes no bit), and `BLAS` sends such a product to the kernel.
    @Test func rowsGiveTheSameBitsWhereverTheyFall() {
        let (M, N, K) = (24, 40, 300)
        var rng = Philox4x64(seed: 5, stream: 1)
        let a = (0..<(M * K)).map { _ in Float(rng.normal()) }, w = (0..<(N * K)).map { _ in Float(rng.normal()) }
        let bias = (0..<N).map { _ in Float(rng.normal()) }
        var whole = [Float](repeating: 0, count: M * N), part = [Float](repeating: 0, count: 15 * N)
        let done = a.withUnsafeBufferPointer { ap in
            lenspipe_sgemm(1, Int32(M), Int32(N), Int32(K), ap.baseAddress!, Int32(K), w, Int32(K), 0, &whole, Int32(N), bias, nil)
                + lenspipe_sgemm(1, 15, Int32(N), Int32(K), ap.baseAddress! + 5 * K, Int32(K), w, Int32(K), 0, &part, Int32(N), bias, nil)
        }
        if Self.cpuHasAVX2FMA { #expect(done == 2, "the kernel declined an AVX2 + FMA CPU") }
        guard done == 2 else { return }
        #expect(Array(whole[(5 * N)..<(20 * N)]) == part)
        #expect(BLAS.usesKernel(transA: false, transB: true, n: N, k: K), "the product goes to the kernel")
    }

    /// `values` copied to the end of a mapping whose next page can be neither read nor written, so that a
    /// kernel reading one value past the last fails the test with a fault instead of reading padding.
    /// The second result unmaps it.
    static func guarded(_ values: [Float]) -> (UnsafePointer<Float>, () -> Void) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let bytes = values.count * MemoryLayout<Float>.stride, pages = (bytes + page - 1) / page + 1
        let base = mmap(nil, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
        precondition(base != MAP_FAILED && mprotect(base + (pages - 1) * page, page, PROT_NONE) == 0)
        let start = (base + (pages - 1) * page - bytes).bindMemory(to: Float.self, capacity: values.count)
        start.update(from: values, count: values.count)
        return (UnsafePointer(start), { munmap(base, pages * page) })
    }

    /// `lenspipe_sgemm_at`, `C = Aᵀ B + beta C` with A `[K, M]` and B `[K, N]` read in place: taller and
    /// wider than long (the roles swapped), edges past 6 rows and 16 columns, an inner dimension past a
    /// block of 128, leading dimensions wider than the rows and equal to them, beta 0 / 1 / ½. Both
    /// operands end where a page that faults begins (`guarded`), so a read past the last row fails.
    @Test(arguments: [(1, 1, 1), (6, 16, 128), (7, 17, 129), (96, 32, 300), (32, 128, 300), (13, 5, 1000), (3, 40, 7), (12, 48, 0)])
    func weightGradientMatchesALoopInDoublePrecision(shape: (Int, Int, Int)) {
        let (M, N, K) = shape
        var rng = Philox4x64(seed: UInt64(M * 1000 + N), stream: UInt64(K) + 7)
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.normal()) } }
        for (beta, padding) in [(Float(0), 0), (1, 3), (0.5, 0)] {
            let lda = M + padding, ldb = N + padding, ldc = N + 5
            let a = random(max(0, (K - 1) * lda + M)), b = random(max(0, (K - 1) * ldb + N)), c0 = random(M * ldc)
            var expected = c0
            for i in 0..<M {
                for j in 0..<N {
                    var s = 0.0
                    for k in 0..<K { s += Double(a[k * lda + i]) * Double(b[k * ldb + j]) }
                    expected[i * ldc + j] = Float(s + Double(beta) * Double(c0[i * ldc + j]))
                }
            }
            let (ga, freeA) = Self.guarded(a), (gb, freeB) = Self.guarded(b)
            defer { freeA(); freeB() }
            var c = c0
            let done = c.withUnsafeMutableBufferPointer { cp in
                lenspipe_sgemm_at(Int32(M), Int32(N), Int32(K), ga, Int32(lda), gb, Int32(ldb), beta, cp.baseAddress, Int32(ldc))
            }
            if Self.cpuHasAVX2FMA { #expect(done == 1, "the kernel declined an AVX2 + FMA CPU") }
            guard done == 1 else { continue }
            Self.expectMatch(c, expected, original: c0, M: M, N: N, ldc: ldc, tolerance: 4e-5 * Float(K + 1).squareRoot(), "M \(M) N \(N) K \(K) beta \(beta)")
        }
    }

    /// A weight gradient's rows do not depend on how its rows are split (`Linear.backward` splits the
    /// output rows among threads): rows 5..<20 of a gradient over 3,000 rows computed alone equal those of
    /// the whole, for a gradient wider than tall (24 x 40: both computed as Cᵀ) and one taller than wide
    /// (40 x 24: the whole computed as C, the 15-row part as Cᵀ), in the kernel; and `BLAS` sends both
    /// products to the same kernel.
    @Test(arguments: [(24, 40), (40, 24)])
    func weightGradientRowsGiveTheSameBitsWhereverTheyFall(shape: (Int, Int)) {
        let (OC, C, N) = (shape.0, shape.1, 3000)
        var rng = Philox4x64(seed: 9, stream: 2)
        let dout = (0..<(N * OC)).map { _ in Float(rng.normal()) }, inp = (0..<(N * C)).map { _ in Float(rng.normal()) }
        var whole = [Float](repeating: 0, count: OC * C), part = [Float](repeating: 0, count: 15 * C)
        let done = dout.withUnsafeBufferPointer { d in
            lenspipe_sgemm_at(Int32(OC), Int32(C), Int32(N), d.baseAddress!, Int32(OC), inp, Int32(C), 1, &whole, Int32(C))
                + lenspipe_sgemm_at(15, Int32(C), Int32(N), d.baseAddress! + 5, Int32(OC), inp, Int32(C), 1, &part, Int32(C))
        }
        if Self.cpuHasAVX2FMA { #expect(done == 2, "the kernel declined an AVX2 + FMA CPU") }
        guard done == 2 else { return }
        #expect(Array(whole[(5 * C)..<(20 * C)]) == part)
        #expect(BLAS.usesKernel(transA: true, transB: false, n: C, k: N), "the weight gradient goes to the kernel whatever its rows")
    }

    /// `Linear.backward` over consecutive blocks of rows (`Linear.rowBlock`, each block's call told the
    /// whole product's rows) gives the bits of one call over all of them: input gradients (scaled, as
    /// the GELU's slope scales fc1's), weight gradients summed block by block onto the same tensor, bias
    /// gradients, at the first stage's shape of a lane (fc2: 32 channels, 128 wide) and a remainder block.
    @Test(arguments: [(8192, 32, 128), (2048 + 200, 64, 256)])
    func linearBackwardInRowBlocksGivesTheWholeBits(shape: (Int, Int, Int)) {
        let (N, OC, C) = shape
        let block = Linear.rowBlock(N: N, C: OC, wide: C)
        if Self.cpuHasAVX2FMA { #expect(block < N && block % BLAS.weightGradientBlock == 0, "rows \(N) go in blocks of \(block)") }
        var rng = Philox4x64(seed: 21, stream: UInt64(N))
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.normal()) } }
        let dout = random(N * OC), inp = random(N * C), weight = random(OC * C), slope = random(N * C)
        let (dw0, db0) = (random(OC * C), random(OC))
        func run(_ block: Int) -> (dinp: [Float], dw: [Float], db: [Float]) {
            var (dinp, dw, db) = ([Float](repeating: 0, count: N * C), dw0, db0)
            let (pd, px, ps) = (UnsafeMutablePointer<Float>.allocate(capacity: N * OC), UnsafeMutablePointer<Float>.allocate(capacity: N * C),
                                UnsafeMutablePointer<Float>.allocate(capacity: N * C))
            defer { pd.deallocate(); px.deallocate(); ps.deallocate() }
            pd.initialize(from: dout, count: N * OC); px.initialize(from: inp, count: N * C); ps.initialize(from: slope, count: N * C)
            dinp.withUnsafeMutableBufferPointer { di in
                dw.withUnsafeMutableBufferPointer { w in
                    db.withUnsafeMutableBufferPointer { b in
                        for r0 in stride(from: 0, to: N, by: block) {
                            Linear.backward(dinp: di.baseAddress! + r0 * C, dweight: w.baseAddress!, dbias: b.baseAddress!, dout: pd + r0 * OC,
                                            inp: px + r0 * C, weight: weight, N: min(block, N - r0), C: C, OC: OC,
                                            accumulateInput: false, inputScale: ps + r0 * C, wholeRows: N)
                        }
                    }
                }
            }
            return (dinp, dw, db)
        }
        let (whole, blocks) = (run(N), run(block))
        #expect(whole.dinp == blocks.dinp)
        #expect(whole.dw == blocks.dw)
        #expect(whole.db == blocks.db)
        #expect(whole.dw != dw0 && whole.db != db0, "the gradients were accumulated")
    }
}
