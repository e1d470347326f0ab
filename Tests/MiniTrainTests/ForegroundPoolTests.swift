import Foundation
import Testing
import LensData
@testable import MiniTrain
import _TestSupport

/// `ForegroundPool`: the token weights from the input's lens light, the weighted pool's gradient, and the
/// network's `pooling: foreground` end to end.
@Suite struct ForegroundPoolTests {
    /// An `S x S` sky of unit-sigma noise around 10, with `bright` added over the cell (gy, gx) of a
    /// 4x4 grid.
    static func stamp(bright: [(Int, Int, Float)], S: Int = 16, seed: UInt64 = 1) -> [Float] {
        var rng = Philox4x64(seed: seed, stream: 0)
        var image = (0..<(S * S)).map { _ in 10 + Float(rng.normal()) }
        let cell = S / 4
        for (gy, gx, v) in bright {
            for y in (gy * cell)..<((gy + 1) * cell) { for x in (gx * cell)..<((gx + 1) * cell) { image[y * S + x] += v } }
        }
        return image
    }

    /// The sky from every other pixel of every other row (the mask draw's `skyStride: 2`) gives nearly the
    /// weights of the whole stamp's sky (a 64 px stamp, a lens over two cells); stride 1 is the default.
    @Test func strideTwoSkyKeepsTheWeights() {
        let image = Self.stamp(bright: [(1, 1, 8), (2, 2, 2)], S: 64, seed: 4)
        let (whole, strided, one) = image.withUnsafeBufferPointer { p in
            (ForegroundPool.weights(images: p.baseAddress!, B: 1, Cin: 1, S: 64, side: 8),
             ForegroundPool.weights(images: p.baseAddress!, B: 1, Cin: 1, S: 64, side: 8, skyStride: 2),
             ForegroundPool.weights(images: p.baseAddress!, B: 1, Cin: 1, S: 64, side: 8, skyStride: 1))
        }
        #expect(whole == one)
        #expect(whole != strided, "the strided sky is its own estimate")
        let worst = zip(whole, strided).map { abs($0 - $1) }.max()!
        #expect(worst < 0.01, "largest weight difference \(worst)")
        #expect(strided.firstIndex(of: strided.max()!) == whole.firstIndex(of: whole.max()!))
    }

    /// The selection median equals the sorted one bit for bit: odd and even counts, ties, a constant
    /// stamp, a single value, and stamp-like data (a flat sky under a few bright pixels).
    @Test func selectedMedianEqualsTheSortedMedian() {
        var rng = Philox4x64(seed: 11, stream: 0)
        var cases: [[Float]] = [[3], [2, 1], [5, 5, 5, 5], [1, 2, 2, 2, 3, 3], (0..<4096).map { _ in 0 }]
        for n in [3, 4, 63, 64, 1000, 4096] {
            cases.append((0..<n).map { _ in Float(rng.normal()) })
            cases.append((0..<n).map { _ in Float(Int(rng.normal() * 2)) })  // many ties
            cases.append((0..<n).map { i in i % 97 == 0 ? 500 : 10 + Float(rng.normal()) * 0.01 })
            // Both signs over many exponents (the radix selection reads the sign and exponent first).
            cases.append((0..<n).map { _ in Float(rng.normal()) * Float(pow(10, (rng.normal() * 12).rounded())) })
            cases.append((0..<n).map { i in i % 5 == 0 ? -.infinity : i % 7 == 0 ? .infinity : -Float(rng.normal()).magnitude })
        }
        for values in cases {
            let sorted = values.sorted(), n = values.count
            let expected = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
            let got = Selection.median(values)
            #expect(got.bitPattern == expected.bitPattern, "n \(n): \(got) against \(expected)")
        }
        // `count:` takes the median of a prefix.
        #expect(Selection.median([9, 1, 8, 2, 7, -100, 100], count: 4) == 5)
    }

    /// A cell far above the sky takes the weight of a saturated cell, a cell at 1.5 sky sigmas half of
    /// it, the sky none; weights sum to 1 per image.
    @Test func weightsFollowTheLensLight() {
        let image = Self.stamp(bright: [(1, 2, 50), (3, 0, 1.5)])
        let w = ForegroundPool.weights(images: image, B: 1, Cin: 1, S: 16, side: 4)
        #expect(abs(w.reduce(0, +) - 1) < 1e-5)
        let saturated = w[1 * 4 + 2], half = w[3 * 4 + 0]
        #expect(half / saturated > 0.3 && half / saturated < 0.7, "weights \(w)")
        let sky = w.enumerated().filter { $0.offset != 6 && $0.offset != 12 }.map(\.element)
        #expect(sky.allSatisfy { $0 < 0.1 * saturated }, "weights \(w)")
    }

    /// Two channels are summed before the sky estimate; a flat image (no cell above the sky, sigma 0)
    /// and a pure-sky batch member get the plain mean's weights 1/L.
    @Test func channelsAndFlatImages() {
        let lens = Self.stamp(bright: [(0, 0, 40)])
        let flat = [Float](repeating: 3, count: 256)
        let twoChannel = ForegroundPool.weights(images: lens.map { $0 / 2 } + lens.map { $0 / 2 }, B: 1, Cin: 2, S: 16, side: 4)
        let oneChannel = ForegroundPool.weights(images: lens, B: 1, Cin: 1, S: 16, side: 4)
        for (a, b) in zip(twoChannel, oneChannel) { #expect(abs(a - b) < 1e-5) }
        let batch = ForegroundPool.weights(images: flat + lens, B: 2, Cin: 1, S: 16, side: 4)
        #expect(Array(batch.prefix(16)) == [Float](repeating: 1 / 16, count: 16))
        #expect(batch[16] > 0.5)
    }

    @Test func weightedPoolGradient() {
        var rng = Philox4x64(seed: 4, stream: 0)
        let (B, L, C) = (2, 5, 3)
        var weights = (0..<(B * L)).map { _ in Float(rng.uniform()) }
        for b in 0..<B { let s = weights[(b * L)..<((b + 1) * L)].reduce(0, +); for l in 0..<L { weights[b * L + l] /= s } }
        GradientCheckTests.check([GradientCheckTests.random(B * L * C, &rng)], GradientCheckTests.random(B * C, &rng), forward: { x in
            var y = [Float](repeating: 0, count: B * C)
            ForegroundPool.forward(&y, x[0], weights: weights, B: B, L: L, C: C)
            return y
        }, backward: { _, g in
            var dx = [Float](repeating: 0, count: B * L * C)
            ForegroundPool.backward(&dx, g, weights: weights, B: B, L: L, C: C)
            return [dx]
        })
        // Uniform weights are the mean pool.
        let x = GradientCheckTests.random(B * L * C, &rng)
        var a = [Float](repeating: 0, count: B * C), b = a
        ForegroundPool.forward(&a, x, weights: [Float](repeating: 1 / Float(L), count: B * L), B: B, L: L, C: C)
        TokenLayout.meanPool(&b, x, B: B, L: L, C: C)
        for (u, v) in zip(a, b) { #expect(abs(u - v) < 1e-6) }
    }

    /// With `pooling: foreground` the network's pooled feature is the weighted pool of its final tokens,
    /// the view head's gradient reaches the tokens with those weights (finite differences through the
    /// whole network on one backbone weight), and the setting survives a checkpoint; an older config
    /// without the field decodes as the mean pool.
    @Test func networkPoolsByForeground() throws {
        var c = EsViTConfig.golden
        c.outDim = 32
        c.pooling = .foreground
        let t = EsViTTrainer(config: c)
        t.initialize(seed: 3)
        let S = 32, B = 1
        let images = Self.stamp(bright: [(0, 1, 30), (2, 2, 2)], S: S, seed: 2).map { ($0 - 10) / 10 }
        let out = t.network.forward(t.teacher, images: images, batch: B, size: S, forBackward: false)
        let w = ForegroundPool.weights(images: images, B: B, Cin: 1, S: S, side: 4)
        var expected = [Float](repeating: 0, count: c.finalDim)
        ForegroundPool.forward(&expected, out.backbone.tokensOut, weights: w, B: B, L: 16, C: c.finalDim)
        #expect(out.pooled == expected)
        var mean = [Float](repeating: 0, count: c.finalDim)
        TokenLayout.meanPool(&mean, out.backbone.tokensOut, B: B, L: 16, C: c.finalDim)
        #expect(zip(mean, expected).map { abs($0 - $1) }.max()! > 1e-3)
        #expect(t.network.embed(t.teacher, images: images, batch: B, size: S) == expected)

        // The view head's gradient reaches the tokens with the pooling weights.
        GradientCheckTests.checkViewLogitsGradient(t, images: images, batch: B, size: S, seed: 8)

        let path = TestSupport.tempDir("pool") + "/m.safetensors"
        try Checkpoint.save(t, to: path)
        #expect(try Checkpoint.load(from: path).network.config.pooling == .foreground)
        var old = try JSONSerialization.jsonObject(with: JSONEncoder().encode(EsViTConfig.golden)) as! [String: Any]
        old["pooling"] = nil
        #expect(try JSONDecoder().decode(EsViTConfig.self, from: JSONSerialization.data(withJSONObject: old)).pooling == .mean)
    }
}
