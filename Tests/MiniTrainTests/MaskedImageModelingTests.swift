import Foundation
import Testing
import LensData
@testable import MiniTrain

/// SimMIM's pieces: the pixel shuffle against its definition, the masked L1 and the mask-token mix
/// against finite differences, the whole step's parameter gradients, lanes, the normalised target and
/// checkpoints of a network with a pixel decoder.
@Suite struct MaskedImageModelingTests {
    static func mimTrainer(seed: UInt64 = 3) -> EsViTTrainer {
        var c = EsViTConfig.golden
        c.outDim = 32
        c.pixelDecoder = true
        let t = EsViTTrainer(config: c)
        t.initialize(seed: seed)
        t.hyper.viewWeight = 0
        t.hyper.regionWeight = 0
        t.hyper.mimWeight = 1
        return t
    }

    /// A mask of the golden config's 8 x 8 patch grid (32 px crops, patch 4) for `rows` crop rows.
    static func patchMask(rows: Int, seed: UInt64) -> [Float] {
        var rng = Philox4x64(seed: seed, stream: 2)
        return (0..<(rows * 64)).map { _ in rng.uniform(0, 1) < 0.5 ? 1 : 0 }
    }

    @Test func pixelShuffleFollowsPyTorchsDefinitionAndUnshuffleInvertsIt() {
        let (B, Cin, g, r) = (2, 2, 3, 2)
        let OC = Cin * r * r, S = g * r
        let tokens = (0..<(B * g * g * OC)).map { Float($0) }
        var images = [Float](repeating: -1, count: B * Cin * S * S)
        MaskedImageModeling.pixelShuffle(&images, tokens, B: B, Cin: Cin, grid: g, r: r)
        // torch.nn.PixelShuffle: out[b, c, h·r + i, w·r + j] = in[b, c·r² + i·r + j, h, w], with the
        // tokens `[B, h·g + w, OC]` standing for the conv output `[B, OC, h, w]`.
        for b in 0..<B { for c in 0..<Cin { for h in 0..<g { for w in 0..<g { for i in 0..<r { for j in 0..<r {
            let out = images[((b * Cin + c) * S + h * r + i) * S + w * r + j]
            #expect(out == tokens[(b * g * g + h * g + w) * OC + c * r * r + i * r + j])
        } } } } } }
        var back = [Float](repeating: 0, count: tokens.count)
        MaskedImageModeling.pixelUnshuffle(&back, images, B: B, Cin: Cin, grid: g, r: r)
        #expect(back == tokens)
    }

    @Test func maskedL1GradientMatchesFiniteDifferences() {
        var rng = Philox4x64(seed: 11, stream: 0)
        let (B, Cin, S, P) = (2, 2, 8, 2)
        let pred = GradientCheckTests.random(B * Cin * S * S, &rng), target = GradientCheckTests.random(B * Cin * S * S, &rng)
        let mask: [Float] = (0..<(B * 16)).map { $0 % 3 == 0 ? 1 : 0 }
        let normalizer = Double(mask.reduce(0, +)) * Double(P * P * Cin)
        var d = [Float](repeating: 0, count: pred.count)
        let loss = MaskedImageModeling.maskedL1(dpred: &d, pred: pred, target: target, mask: mask, B: B, Cin: Cin, S: S, P: P, normalizer: normalizer)
        // The value: the mean absolute error over the masked pixels and channels, as SimMIM's.
        var sum = 0.0, count = 0.0
        for b in 0..<B { for c in 0..<Cin { for y in 0..<S { for x in 0..<S where mask[b * 16 + (y / P) * 4 + x / P] == 1 {
            let i = ((b * Cin + c) * S + y) * S + x
            sum += Double(abs(pred[i] - target[i]))
            count += 1
        } } } }
        #expect(abs(loss - sum / count) < 1e-6)
        GradientCheckTests.check([pred], [1], h: 1e-3, forward: { x in
            var scratch = [Float](repeating: 0, count: x[0].count)
            return [Float(MaskedImageModeling.maskedL1(dpred: &scratch, pred: x[0], target: target, mask: mask, B: B, Cin: Cin, S: S, P: P,
                                                       normalizer: normalizer))]
        }, backward: { _, _ in [d] })
        // Unmasked pixels get no gradient.
        for b in 0..<B { for y in 0..<S { for x in 0..<S where mask[b * 16 + (y / P) * 4 + x / P] == 0 { #expect(d[(b * Cin * S + y) * S + x] == 0) } } }
    }

    @Test func maskTokenMixGradientMatchesFiniteDifferences() {
        var rng = Philox4x64(seed: 12, stream: 0)
        let (rows, C) = (6, 5)
        let x = GradientCheckTests.random(rows * C, &rng), token = GradientCheckTests.random(C, &rng)
        let w: [Float] = [1, 0, 0, 1, 1, 0]
        GradientCheckTests.check([x, token], GradientCheckTests.random(rows * C, &rng), forward: { inputs in
            var y = inputs[0]
            inputs[1].withUnsafeBufferPointer { MaskedImageModeling.mixToken(&y, token: $0.baseAddress!, mask: w, rows: rows, C: C) }
            return y
        }, backward: { _, G in
            var dx = G, dtoken = [Float](repeating: 0, count: C)
            dtoken.withUnsafeMutableBufferPointer { MaskedImageModeling.mixTokenBackward(&dx, dtoken: $0.baseAddress!, mask: w, rows: rows, C: C) }
            return [dx, dtoken]
        })
    }

    @Test func normalizedTargetHasZeroMeanUnitVariancePerBlock() {
        var rng = Philox4x64(seed: 13, stream: 0)
        let images = GradientCheckTests.random(2 * 8 * 8, &rng, scale: 5).map { $0 + 3 }
        let t = MaskedImageModeling.normalizedTarget(images, B: 2, Cin: 1, S: 8, block: 4)
        for plane in 0..<2 { for cy in 0..<2 { for cx in 0..<2 {
            let v = (0..<16).map { t[plane * 64 + (cy * 4 + $0 / 4) * 8 + cx * 4 + $0 % 4] }
            let mean = v.reduce(0, +) / 16, variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 16
            #expect(abs(mean) < 1e-4 && abs(variance - 1) < 1e-3)
        } } }
    }

    /// d(SimMIM loss) / d(parameter) through the whole network (mask token, decoder, patch embedding,
    /// attention, LayerNorms), by `lossAndGradients` and by central differences.
    @Test(arguments: [("mask_token", [0, 7]), ("decoder.0.weight", [0, 900]), ("decoder.0.bias", [3]),
                      ("patch_embed.proj.weight", [1, 9]), ("layers.1.blocks.1.attn.qkv.weight", [5, 100]), ("norm.weight", [2])])
    func stepGradientMatchesFiniteDifferences(parameter: String, indices: [Int]) {
        let t = Self.mimTrainer()
        t.hyper.mimTargetBlock = 8
        t.lanes = 1
        let (g, l) = TrainerTests.batch(21)
        let mask = Self.patchMask(rows: 4, seed: 1)
        func loss() -> Double {
            t.lossAndGradients(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2, patchMask: mask).0
        }
        _ = loss()
        let (value, grad) = (t.student.value(parameter), t.student.grad(parameter))
        let analytic = indices.map { grad[$0] }
        #expect(analytic.contains { $0 != 0 }, "\(parameter): no gradient")
        for (j, a) in zip(indices, analytic) {
            let h: Float = 2e-3
            value[j] += h
            let plus = loss()
            value[j] -= 2 * h
            let minus = loss()
            value[j] += h
            let numeric = Float((plus - minus) / Double(2 * h))
            #expect(abs(numeric - a) <= 0.03 * abs(a) + 2e-3 * max(1, abs(a)), "\(parameter)[\(j)]: numeric \(numeric), backward \(a)")
        }
    }

    /// Masked patches are what the loss is about: with no patch masked the loss is 0 and nothing gets a
    /// gradient; with one patch masked the mask token does.
    @Test func theMaskTokenLearnsOnlyFromMaskedPatches() {
        let t = Self.mimTrainer()
        t.lanes = 1
        let (g, l) = TrainerTests.batch(22)
        var mask = [Float](repeating: 0, count: 4 * 64)
        let (none, _) = t.lossAndGradients(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2, patchMask: mask)
        #expect(none == 0 && (0..<t.student.count).allSatisfy { t.student.grads[$0] == 0 })
        mask[10] = 1
        _ = t.lossAndGradients(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2, patchMask: mask)
        let token = t.student.grad("mask_token")
        #expect((0..<t.config.dim).contains { token[$0] != 0 })
    }

    /// Two lanes give the one-lane loss, and gradients equal up to the order of the additions.
    @Test func lanesAddUpToTheBatch() {
        let (g, l) = TrainerTests.batch(23)
        let mask = Self.patchMask(rows: 4, seed: 2)
        var results: [(Double, [Float])] = []
        for lanes in [1, 2] {
            let t = Self.mimTrainer()
            t.lanes = lanes
            let (loss, _) = t.lossAndGradients(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2, patchMask: mask)
            results.append((loss, Array(UnsafeBufferPointer(start: t.student.grads, count: t.student.count))))
        }
        #expect(abs(results[0].0 - results[1].0) < 1e-6 * max(1, results[0].0))
        let scale = results[0].1.map(abs).max()!
        #expect(zip(results[0].1, results[1].1).allSatisfy { abs($0 - $1) <= 1e-4 * scale })
    }

    /// SimMIM's lane in chunks of crops (`mimChunkCrops`) gives the loss and the gradients of the lane
    /// at once, up to the order of the additions; the pooled features are the same rows.
    @Test func chunksAddUpToTheLane() {
        let (g, l) = TrainerTests.batch(26)
        let mask = Self.patchMask(rows: 4, seed: 4)
        #expect(EsViTTrainer.mimChunk(crops: 4, preferred: 3) == 2 && EsViTTrainer.mimChunk(crops: 4, preferred: 0) == 4)
        var results: [(Double, [Float], [Float])] = []
        for chunk in [0, 1, 2] {
            let t = Self.mimTrainer()
            t.lanes = 1
            t.mimChunkCrops = chunk
            let (loss, _) = t.lossAndGradients(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2, patchMask: mask)
            let grads = Array(UnsafeBufferPointer(start: t.student.grads, count: t.student.count))
            let r = t.train(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2, patchMask: mask)
            results.append((loss, grads, r.teacherPooled))
        }
        let scale = results[0].1.map(abs).max()!
        for other in results.dropFirst() {
            #expect(other.0 > 0 && abs(results[0].0 - other.0) < 1e-6 * results[0].0)
            #expect(zip(results[0].1, other.1).allSatisfy { abs($0 - $1) <= 1e-4 * scale })
            #expect(other.2.count == results[0].2.count && zip(results[0].2, other.2).allSatisfy { abs($0 - $1) <= 1e-5 })
        }
    }

    /// A step asked for no pooled features (`lenspipe train` between its metrics lines) is the same step:
    /// the same loss and weights after it, on one lane and on two, with no features.
    @Test(arguments: [1, 2])
    func stepsWithoutFeaturesTrainTheSame(lanes: Int) {
        let (g, l) = TrainerTests.batch(27)
        let mask = Self.patchMask(rows: 4, seed: 5)
        let (a, b) = (Self.mimTrainer(), Self.mimTrainer())
        (a.lanes, b.lanes) = (lanes, lanes)
        let ra = a.train(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2, patchMask: mask)
        let rb = b.train(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2, patchMask: mask, features: false)
        #expect(ra.teacherPooled.count == 4 * a.config.finalDim && rb.teacherPooled.isEmpty)
        #expect(ra.loss == rb.loss && ra.mimLoss > 0)
        let (va, vb) = (UnsafeBufferPointer(start: a.student.values, count: a.student.count), UnsafeBufferPointer(start: b.student.values, count: b.student.count))
        #expect(va.elementsEqual(vb) { $0.bitPattern == $1.bitPattern })
    }

    /// MIM beside EsViT's terms: the hybrid's loss is the EsViT loss plus the weighted SimMIM loss, and
    /// the decoder learns while the heads do.
    @Test func hybridAddsTheWeightedTerm() {
        let t = Self.mimTrainer()
        t.hyper.viewWeight = 0.5
        t.hyper.regionWeight = 0.5
        t.hyper.mimWeight = 0.25
        let (g, l) = TrainerTests.batch(24)
        let r = t.train(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2, patchMask: Self.patchMask(rows: 4, seed: 3))
        #expect(r.mimLoss > 0 && r.viewLoss > 0)
        #expect(abs(r.loss - (0.5 * r.viewLoss + 0.5 * r.regionLoss + 0.25 * r.mimLoss)) < 1e-5 * r.loss)
    }

    /// A few steps of SimMIM alone lower its loss on a fixed batch and mask (the optimizer and the
    /// decoder are wired), and a checkpoint keeps the decoder's tensors under SimMIM's names.
    @Test func trainsAndRoundTripsThroughACheckpoint() throws {
        let t = Self.mimTrainer()
        t.hyper.lr = 3e-3
        let (g, l) = TrainerTests.batch(25)
        let mask = Self.patchMask(rows: 4, seed: 4)
        let first = t.train(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2, patchMask: mask).mimLoss
        var last = first
        for _ in 0..<15 { last = t.train(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2, patchMask: mask).mimLoss }
        #expect(last < 0.9 * first, "SimMIM loss \(first) -> \(last)")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mim-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Checkpoint.save(t, to: path)
        let back = try Checkpoint.load(from: path)
        #expect(back.config.pixelDecoder && back.hyper.mimWeight == 1)
        for name in ["mask_token", "decoder.0.weight", "decoder.0.bias"] {
            let (a, b) = (t.student.tensor(name), back.student.tensor(name))
            #expect(a.shape == b.shape)
            #expect((0..<a.count).allSatisfy { t.student.values[a.offset + $0] == back.student.values[b.offset + $0] })
        }
        #expect(t.student.tensor("decoder.0.weight").shape == [64, t.config.finalDim, 1, 1])  // Cin · (patch 4 · 2)² = 64
    }
}
