import Foundation
import Testing
import LensData
@testable import MiniTrain

/// Central finite differences against every kernel's backward: for a random upstream gradient G,
/// L = Σ G ⊙ y, and dL/dx from the backward must match (L(x + h) − L(x − h)) / 2h.
@Suite struct GradientCheckTests {
    static func random(_ n: Int, _ rng: inout Philox4x64, scale: Float = 1) -> [Float] { (0..<n).map { _ in Float(rng.normal()) * scale } }

    /// Checks up to `samples` coordinates of each input.
    /// - Parameters:
    ///   - forward: inputs -> output.
    ///   - backward: (inputs, G) -> one gradient per input (nil: not differentiated).
    static func check(_ inputs: [[Float]], _ G: [Float], samples: Int = 60, h: Float = 1e-2, tolerance: Float = 1e-2,
                      forward: ([[Float]]) -> [Float], backward: ([[Float]], [Float]) -> [[Float]?],
                      sourceLocation: SourceLocation = #_sourceLocation) {
        let grads = backward(inputs, G)
        func loss(_ x: [[Float]]) -> Double { zip(forward(x), G).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
        var rng = Philox4x64(seed: 99, stream: 0)
        for (n, input) in inputs.enumerated() {
            guard let grad = grads[n] else { continue }
            let scale = max(grad.map { abs($0) }.max() ?? 0, 1e-3)
            for _ in 0..<min(samples, input.count) {
                let i = Int(rng.next() % UInt64(input.count))
                var plus = inputs, minus = inputs
                plus[n][i] += h
                minus[n][i] -= h
                let numeric = Float((loss(plus) - loss(minus)) / Double(2 * h))
                // Per coordinate: 1% of the value plus 0.2% of the tensor's largest gradient (Float32 noise).
                #expect(abs(numeric - grad[i]) <= tolerance * abs(grad[i]) + 2e-3 * scale,
                        "input \(n)[\(i)]: numeric \(numeric), backward \(grad[i])", sourceLocation: sourceLocation)
            }
        }
    }

    /// d(Σ G ⊙ view logits) / d(`parameter`[j]) through a whole network, by `t.network.backward` and by
    /// central differences on the student's `parameter` at `indices` (G random; the region logits get no
    /// gradient). `norm.weight`, the final LayerNorm's, acts per token, so it checks the pooling and what
    /// lies between the pooled feature and the view head.
    static func checkViewLogitsGradient(_ t: EsViTTrainer, images: [Float], batch B: Int, size S: Int,
                                        headInput: (mean: [Float], invStd: [Float])? = nil, parameter: String = "norm.weight",
                                        indices: [Int] = [0, 5, 17], seed: UInt64, sourceLocation: SourceLocation = #_sourceLocation) {
        var rng = Philox4x64(seed: seed, stream: 0)
        let K = t.config.outDim, tokens = t.tokenGrid(size: S) * t.tokenGrid(size: S)
        let G = random(B * K, &rng)
        func loss() -> Double {
            let o = t.network.forward(t.student, images: images, batch: B, size: S, forBackward: false, headInput: headInput)
            return zip(o.view.logits, G).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        t.student.zeroGrads()
        let out = t.network.forward(t.student, images: images, batch: B, size: S, headInput: headInput)
        t.network.backward(t.student, output: out, dview: G, dregion: [Float](repeating: 0, count: B * tokens * K))
        let (value, grad) = (t.student.value(parameter), t.student.grad(parameter))
        for j in indices {
            let analytic = grad[j], h: Float = 1e-2
            value[j] += h
            let plus = loss()
            value[j] -= 2 * h
            let minus = loss()
            value[j] += h
            let numeric = Float((plus - minus) / Double(2 * h))
            #expect(abs(numeric - analytic) <= 0.02 * abs(analytic) + 2e-3, "\(parameter)[\(j)]: numeric \(numeric), backward \(analytic)",
                    sourceLocation: sourceLocation)
        }
    }

    @Test func linear() {
        var rng = Philox4x64(seed: 1, stream: 0)
        let (N, C, OC) = (5, 7, 4)
        let inputs = [Self.random(N * C, &rng), Self.random(OC * C, &rng), Self.random(OC, &rng)]
        Self.check(inputs, Self.random(N * OC, &rng), forward: { x in
            var y = [Float](repeating: 0, count: N * OC)
            Linear.forward(&y, x[0], x[1], x[2], N: N, C: C, OC: OC)
            return y
        }, backward: { x, g in
            var dx = [Float](repeating: 0, count: N * C), dw = [Float](repeating: 0, count: OC * C), db = [Float](repeating: 0, count: OC)
            Linear.backward(dinp: &dx, dweight: &dw, dbias: &db, dout: g, inp: x[0], weight: x[1], N: N, C: C, OC: OC)
            return [dx, dw, db]
        })
    }

    /// The bias gradient in registers (passes of 64 and 32 columns, then the rest) is the sum a row loop
    /// into memory makes, bit for bit: each column's rows added in order onto its old value.
    @Test(arguments: [4, 16, 48, 96, 112, 200])
    func biasGradientAddsRowsInOrder(OC: Int) {
        var rng = Philox4x64(seed: UInt64(OC), stream: 0)
        let N = 37
        let dout = Self.random(N * OC, &rng), start = Self.random(OC, &rng)
        var expected = start
        for r in 0..<N { for o in 0..<OC { expected[o] += dout[r * OC + o] } }
        var db = start
        Linear.biasGradient(&db, dout, N: N, OC: OC)
        #expect(db == expected)
    }

    @Test func layerNorm() {
        var rng = Philox4x64(seed: 2, stream: 0)
        let (N, C) = (4, 9)
        let inputs = [Self.random(N * C, &rng), Self.random(C, &rng), Self.random(C, &rng)]
        func fwd(_ x: [[Float]]) -> ([Float], [Float], [Float]) {
            var y = [Float](repeating: 0, count: N * C), m = [Float](repeating: 0, count: N), r = [Float](repeating: 0, count: N)
            LayerNorm.forward(&y, mean: &m, rstd: &r, x[0], x[1], x[2], N: N, C: C)
            return (y, m, r)
        }
        Self.check(inputs, Self.random(N * C, &rng), forward: { fwd($0).0 }, backward: { x, g in
            let (_, m, r) = fwd(x)
            var dx = [Float](repeating: 0, count: N * C), dg = [Float](repeating: 0, count: C), db = [Float](repeating: 0, count: C)
            LayerNorm.backward(dinp: &dx, dgamma: &dg, dbeta: &db, dout: g, inp: x[0], gamma: x[1], mean: m, rstd: r, N: N, C: C)
            return [dx, dg, db]
        })
    }

    /// The training pair (forward with slopes; backward multiplies by them, as `Linear.backward(inputScale:)`
    /// does), and inference's values equal to it.
    @Test func gelu() {
        var rng = Philox4x64(seed: 3, stream: 0)
        let inputs = [Self.random(40, &rng, scale: 2)]
        Self.check(inputs, Self.random(40, &rng), forward: { x in
            var y = [Float](repeating: 0, count: 40), s = [Float](repeating: 0, count: 40)
            GELU.forward(&y, slope: &s, x[0], count: 40)
            return y
        }, backward: { x, g in
            var y = [Float](repeating: 0, count: 40), s = [Float](repeating: 0, count: 40), dx = [Float](repeating: 0, count: 40)
            GELU.forward(&y, slope: &s, x[0], count: 40)
            for i in 0..<40 { dx[i] = g[i] * s[i] }
            return [dx]
        })
        var values = [Float](repeating: 0, count: 40), withSlopes = [Float](repeating: 0, count: 40), s = [Float](repeating: 0, count: 40)
        GELU.forward(&values, inputs[0], count: 40)
        GELU.forward(&withSlopes, slope: &s, inputs[0], count: 40)
        #expect(values == withSlopes)
        for (x, y) in zip(inputs[0], values) { #expect(abs(y - 0.5 * x * (1 + erff(x * 0.70710678))) < 3e-6) }
    }

    /// The soft-target cross-entropy of one student row against one and against two targets (one
    /// softmax for all of them): values against `−Σ_t Σ_k q_t,k log softmax(s / τ)_k` in Double, the
    /// gradient against finite differences.
    @Test(arguments: [1, 2])
    func softTargetCrossEntropy(targets T: Int) {
        var rng = Philox4x64(seed: 14, stream: 0)
        let K = 7, tau: Float = 0.1
        var q = [Float](repeating: 0, count: T * K)
        Softmax.forward(&q, Self.random(T * K, &rng), temperature: 0.5, N: T, K: K)
        let inputs = [Self.random(K, &rng)]
        func loss(_ s: [Float], _ ds: UnsafeMutablePointer<Float>?, weight: Float) -> Double {
            q.withUnsafeBufferPointer { qq in
                let targets = (0..<T).map { qq.baseAddress! + $0 * K }
                var scratch = [Float](repeating: 0, count: K)
                return targets.withUnsafeBufferPointer { t in
                    SoftCrossEntropy.forwardBackward(dstudent: ds, student: s, targets: t, temperature: tau, weight: weight, K: K, scratch: &scratch)
                }
            }
        }
        let z = inputs[0].map { Double($0) / Double(tau) }, m = z.max()!
        let lse = m + Foundation.log(z.reduce(0) { $0 + Foundation.exp($1 - m) })
        let reference = 0.7 * (0..<T).reduce(0.0) { acc, t in acc - (0..<K).reduce(0.0) { $0 + Double(q[t * K + $1]) * (z[$1] - lse) } }
        #expect(abs(loss(inputs[0], nil, weight: 0.7) - reference) < 1e-5 * abs(reference))
        Self.check(inputs, [1], h: 1e-3, forward: { x in [Float(loss(x[0], nil, weight: 0.7))] }, backward: { x, g in
            var ds = [Float](repeating: 0, count: K)
            _ = loss(x[0], &ds, weight: 0.7 * g[0])
            return [ds]
        })
    }

    @Test func l2NormalizeAndWeightNorm() {
        var rng = Philox4x64(seed: 5, stream: 0)
        let (N, C) = (3, 8)
        Self.check([Self.random(N * C, &rng)], Self.random(N * C, &rng), forward: { x in
            var y = [Float](repeating: 0, count: N * C), n = [Float](repeating: 0, count: N)
            L2Normalize.forward(&y, norms: &n, x[0], N: N, C: C)
            return y
        }, backward: { x, g in
            var y = [Float](repeating: 0, count: N * C), n = [Float](repeating: 0, count: N), dx = [Float](repeating: 0, count: N * C)
            L2Normalize.forward(&y, norms: &n, x[0], N: N, C: C)
            L2Normalize.backward(dinp: &dx, dout: g, out: y, norms: n, N: N, C: C)
            return [dx]
        })
        let (K, D) = (4, 5)
        Self.check([Self.random(K, &rng), Self.random(K * D, &rng)], Self.random(K * D, &rng), forward: { x in
            var w = [Float](repeating: 0, count: K * D), vn = [Float](repeating: 0, count: K)
            WeightNorm.forward(weight: &w, vnorm: &vn, g: x[0], v: x[1], K: K, D: D)
            return w
        }, backward: { x, g in
            var w = [Float](repeating: 0, count: K * D), vn = [Float](repeating: 0, count: K)
            WeightNorm.forward(weight: &w, vnorm: &vn, g: x[0], v: x[1], K: K, D: D)
            var dg = [Float](repeating: 0, count: K), dv = [Float](repeating: 0, count: K * D)
            WeightNorm.backward(dv: &dv, dg: &dg, dweight: g, g: x[0], v: x[1], vnorm: vn, K: K, D: D)
            return [dg, dv]
        })
    }

    /// Shifted-window attention on 2 images of 4x4 tokens in 2x2 windows, with the mask and bias table.
    /// The generic kernel (2 x 2 windows, 4 channels per head) and the `SIMD16` one (4 x 4 windows,
    /// 16 channels per head: the default model's shape).
    @Test(arguments: [(2, 4, 2, 8, 2, 6), (4, 8, 1, 32, 2, 16)])
    func windowAttention(ws: Int, H: Int, B: Int, C: Int, h: Int, seed: Int) {
        var rng = Philox4x64(seed: UInt64(seed), stream: 0)
        let N = ws * ws, nW = (H / ws) * (H / ws), W = B * nW
        let index = WindowAttention.relativeIndex(ws: ws, tableWindow: ws)
        let mask = WindowAttention.shiftMask(H: H, W: H, ws: ws, shift: ws / 2)
        #expect(mask.contains(-100) && mask.contains(0))
        // Symmetric per window: the SIMD16 kernel reads it as its own transpose.
        for (m, n) in [(mask, N), (WindowAttention.shiftMask(H: 16, W: 16, ws: 4, shift: 2), 16)] {
            #expect((0..<m.count).allSatisfy { p in m[p] == m[(p / (n * n) * n + p % n) * n + p / n % n] })
        }
        let inputs = [Self.random(W * N * 3 * C, &rng), Self.random((2 * ws - 1) * (2 * ws - 1) * h, &rng)]
        func fwd(_ x: [[Float]]) -> ([Float], [Float]) {
            var y = [Float](repeating: 0, count: W * N * C), p = [Float](repeating: 0, count: W * h * N * N)
            WindowAttention.forward(&y, probs: &p, qkv: x[0], table: x[1], index: index, mask: mask, windowsPerImage: nW, W: W, N: N, C: C, heads: h)
            return (y, p)
        }
        Self.check(inputs, Self.random(W * N * C, &rng), samples: 60, forward: { fwd($0).0 }, backward: { x, g in
            let (_, p) = fwd(x)
            // dqkv starts as NaN: backward writes every value of it (reads none), the table it accumulates into.
            var dqkv = [Float](repeating: .nan, count: W * N * 3 * C), dt = [Float](repeating: 0, count: x[1].count)
            WindowAttention.backward(dqkv: &dqkv, dtable: &dt, dout: g, qkv: x[0], probs: p, index: index, W: W, N: N, C: C, heads: h)
            return [dqkv, dt]
        })
    }

    /// LayerNorm gathering its rows through a permutation (norm1 written in window order) gives the bits of
    /// LayerNorm then `TokenLayout.gather`, with mean and rstd in the input's row order; its backward
    /// reading the window-order gradient through the inverse, those of a scatter then the backward.
    @Test func layerNormGatheringIsLayerNormThenGather() {
        var rng = Philox4x64(seed: 12, stream: 0)
        let (N, C) = (128, 32)
        let x = Self.random(N * C, &rng), gamma = Self.random(C, &rng), beta = Self.random(C, &rng)
        let perm = TokenLayout.windowPermutation(B: 2, H: 8, W: 8, ws: 4, shift: 2)
        var (y, m, r) = ([Float](repeating: 0, count: N * C), [Float](repeating: 0, count: N), [Float](repeating: 0, count: N))
        LayerNorm.forward(&y, mean: &m, rstd: &r, x, gamma, beta, N: N, C: C)
        var gathered = [Float](repeating: 0, count: N * C)
        TokenLayout.gather(&gathered, y, perm, rows: N, C: C)
        var (w, wm, wr) = ([Float](repeating: .nan, count: N * C), [Float](repeating: .nan, count: N), [Float](repeating: .nan, count: N))
        LayerNorm.forward(&w, mean: &wm, rstd: &wr, x, gamma, beta, N: N, C: C, gathering: perm)
        #expect(w == gathered && wm == m && wr == r)
        // Backward from a gradient in window order: read through the inverse permutation, the bits of a
        // scatter into token order and the plain backward.
        let dwin = Self.random(N * C, &rng)
        var inverse = [Int32](repeating: 0, count: N)
        for (row, token) in perm.enumerated() { inverse[Int(token)] = Int32(row) }
        var dtok = [Float](repeating: 0, count: N * C)
        TokenLayout.scatter(&dtok, dwin, perm, rows: N, C: C)
        var (dx, dg, db) = ([Float](repeating: 0.5, count: N * C), [Float](repeating: 0.25, count: C), [Float](repeating: 0.125, count: C))
        var (dx2, dg2, db2) = (dx, dg, db)
        LayerNorm.backward(dinp: &dx, dgamma: &dg, dbeta: &db, dout: dtok, inp: x, gamma: gamma, mean: m, rstd: r, N: N, C: C)
        LayerNorm.backward(dinp: &dx2, dgamma: &dg2, dbeta: &db2, dout: dwin, inp: x, gamma: gamma, mean: m, rstd: r, N: N, C: C, doutRows: inverse)
        #expect(dx == dx2 && dg == dg2 && db == db2)
    }

    /// The SIMD16 kernel's transpose in registers (four rounds of interleaving) puts row i, lane e at row
    /// e, lane i, for rows read from a strided matrix.
    @Test func simd16TransposeIsTheTranspose() {
        let src = (0..<(16 * 20)).map(Float.init), stride = 20
        var dst = [Float](repeating: .nan, count: 256), scratch = [Float](repeating: .nan, count: 256)
        src.withUnsafeBufferPointer { s in
            WindowAttention16.transpose({ WindowAttention16.load(s.baseAddress! + $0 * stride) }, into: &dst, scratch: &scratch)
        }
        #expect((0..<256).allSatisfy { dst[$0] == src[($0 % 16) * stride + $0 / 16] })
    }

    /// Token permutations (shift + windows, patch merging, im2col) and pooling are linear maps:
    /// backward must be the adjoint (⟨G, f(x)⟩ = ⟨backward(G), x⟩) and the window map a bijection.
    @Test func layoutsAndPooling() {
        var rng = Philox4x64(seed: 7, stream: 0)
        let perm = TokenLayout.windowPermutation(B: 2, H: 8, W: 8, ws: 4, shift: 2)
        #expect(Set(perm).count == 128 && perm.allSatisfy { $0 >= 0 && $0 < 128 })
        let C = 3
        let x = Self.random(128 * C, &rng), g = Self.random(128 * C, &rng)
        var y = [Float](repeating: 0, count: 128 * C), back = [Float](repeating: 0, count: 128 * C)
        TokenLayout.gather(&y, x, perm, rows: 128, C: C)
        TokenLayout.scatterAdd(&back, g, perm, rows: 128, C: C)
        let lhs = zip(y, g).reduce(0.0) { $0 + Double($1.0 * $1.1) }, rhs = zip(x, back).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        #expect(abs(lhs - rhs) < 1e-3)
        // Rolling by the shift: windowed position 0 of image 0 is token (2, 2).
        #expect(perm[0] == 2 * 8 + 2)
        let merge = TokenLayout.mergePermutation(B: 1, H: 4, W: 4)
        #expect(Array(merge.prefix(8)) == [0, 4, 1, 5, 2, 6, 3, 7])
        Self.check([Self.random(2 * 5 * 3, &rng)], Self.random(2 * 3, &rng), forward: { x in
            var y = [Float](repeating: 0, count: 6)
            TokenLayout.meanPool(&y, x[0], B: 2, L: 5, C: 3)
            return y
        }, backward: { _, g in
            var dx = [Float](repeating: 0, count: 30)
            TokenLayout.meanPoolBackward(&dx, g, B: 2, L: 5, C: 3)
            return [dx]
        })
        // im2col of a 1x1x4x4 image into 2x2 patches, by hand.
        var cols = [Float](repeating: 0, count: 16)
        TokenLayout.patches(&cols, (0..<16).map(Float.init), B: 1, Cin: 1, H: 4, W: 4, P: 2)
        #expect(cols == [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15])
    }
}
