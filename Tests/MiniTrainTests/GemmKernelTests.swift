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

    /// A row's result does not depend on where the row falls in the matrix: the product of rows 5..<20
    /// computed alone equals those rows of the product of all 24 (so splitting rows among threads, or
    /// among lanes, changes no bit).
    @Test func rowsGiveTheSameBitsWhereverTheyFall() {
        let (M, N, K) = (24, 40, 300)
        var rng = Philox4x64(seed: 5, stream: 1)
        let a = (0..<(M * K)).map { _ in Float(rng.normal()) }, w = (0..<(N * K)).map { _ in Float(rng.normal()) }
        let bias = (0..<N).map { _ in Float(rng.normal()) }
        var whole = [Float](repeating: 0, count: M * N), part = [Float](repeating: 0, count: 15 * N)
        BLAS.sgemm(a, w, &whole, m: M, n: N, k: K, transB: true, bias: bias)
        a.withUnsafeBufferPointer { ap in
            BLAS.sgemm(ap.baseAddress! + 5 * K, w, &part, m: 15, n: N, k: K, transB: true, bias: bias)
        }
        #expect(Array(whole[(5 * N)..<(20 * N)]) == part)
    }

    /// `lenspipe_sgemm_at`, `C = Aᵀ B + beta C` with A `[K, M]` and B `[K, N]` read in place: taller and
    /// wider than long (the roles swapped), edges past 6 rows and 16 columns, an inner dimension past a
    /// block of 128, leading dimensions wider than the rows, beta 0 / 1 / ½.
    @Test(arguments: [(1, 1, 1), (6, 16, 128), (7, 17, 129), (96, 32, 300), (32, 128, 300), (13, 5, 1000), (3, 40, 7), (12, 48, 0)])
    func weightGradientMatchesALoopInDoublePrecision(shape: (Int, Int, Int)) {
        let (M, N, K) = shape
        var rng = Philox4x64(seed: UInt64(M * 1000 + N), stream: UInt64(K) + 7)
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.normal()) } }
        for beta: Float in [0, 1, 0.5] {
            let lda = M + 3, ldb = N + 2, ldc = N + 5
            let a = random(K * lda + 1), b = random(K * ldb + 1), c0 = random(M * ldc)
            var expected = c0
            for i in 0..<M {
                for j in 0..<N {
                    var s = 0.0
                    for k in 0..<K { s += Double(a[k * lda + i]) * Double(b[k * ldb + j]) }
                    expected[i * ldc + j] = Float(s + Double(beta) * Double(c0[i * ldc + j]))
                }
            }
            var c = c0
            let done = c.withUnsafeMutableBufferPointer { cp in
                lenspipe_sgemm_at(Int32(M), Int32(N), Int32(K), a, Int32(lda), b, Int32(ldb), beta, cp.baseAddress, Int32(ldc))
            }
            if Self.cpuHasAVX2FMA { #expect(done == 1, "the kernel declined an AVX2 + FMA CPU") }
            guard done == 1 else { continue }
            Self.expectMatch(c, expected, original: c0, M: M, N: N, ldc: ldc, tolerance: 4e-5 * Float(K + 1).squareRoot(), "M \(M) N \(N) K \(K) beta \(beta)")
        }
    }

    /// A weight gradient's rows do not depend on how its rows are split (`Linear.backward` splits the
    /// output rows among threads): rows 5..<20 of a 24 x 40 gradient over 3,000 rows computed alone equal
    /// those of the whole, through `BLAS.sgemmStrided`'s routing.
    @Test func weightGradientRowsGiveTheSameBitsWhereverTheyFall() {
        let (OC, C, N) = (24, 40, 3000)
        var rng = Philox4x64(seed: 9, stream: 2)
        let dout = (0..<(N * OC)).map { _ in Float(rng.normal()) }, inp = (0..<(N * C)).map { _ in Float(rng.normal()) }
        var whole = [Float](repeating: 0, count: OC * C), part = [Float](repeating: 0, count: 15 * C)
        BLAS.sgemmStrided(dout, inp, &whole, m: OC, n: C, k: N, transA: true, lda: OC, ldb: C, ldc: C, beta: 1)
        dout.withUnsafeBufferPointer { d in
            BLAS.sgemmStrided(d.baseAddress! + 5, inp, &part, m: 15, n: C, k: N, transA: true, lda: OC, ldb: C, ldc: C, beta: 1)
        }
        #expect(Array(whole[(5 * C)..<(20 * C)]) == part)
    }
}
