import Foundation
import Testing
import LensData
import MiniTrain
@testable import FineTune

/// The fine-tuning step on a tiny network: its gradients against finite differences of the whole
/// loss, learning a separable toy set, and the learning-rate groups.
@Suite struct FineTuneTrainerTests {
    /// 16 px, patch 4, two stages of one block: fast in a debug build.
    static var config: EsViTConfig {
        var c = EsViTConfig()
        (c.dim, c.depths, c.heads, c.window, c.outDim, c.hidden, c.bottleneck) = (8, [1, 1], [1, 2], 4, 16, 8, 4)
        return c
    }

    /// Class 0: horizontal stripes, class 1: vertical stripes (random phase, amplitude and noise);
    /// the regression target is the amplitude.
    static func toySet(_ n: Int, seed: UInt64) -> (images: [Float], labels: [Int], amplitudes: [Float]) {
        var rng = Philox4x64(seed: seed, stream: 0)
        var images: [Float] = [], labels: [Int] = [], amplitudes: [Float] = []
        for i in 0..<n {
            let label = i % 2, phase = Int(rng.next() % 4), amplitude = Float(rng.uniform(0.5, 2))
            for y in 0..<16 {
                for x in 0..<16 {
                    let coordinate = label == 0 ? y : x
                    images.append(((coordinate + phase) / 2 % 2 == 0 ? amplitude : -amplitude) + Float(rng.normal() * 0.1))
                }
            }
            labels.append(label)
            amplitudes.append(amplitude)
        }
        return (images, labels, amplitudes)
    }

    static func trainer(_ task: FineTuneTask, seed: UInt64 = 1) -> FineTuneTrainer {
        let t = FineTuneTrainer(config: config, task: task, outputs: task == .classify ? 2 : 1)
        t.initialize(backbone: nil, seed: seed)
        t.optimizer = AdamW(lr: 3e-3, weightDecay: 0, beta1: 0.9, beta2: 0.999, clip: 0)
        t.backboneLRScale = 1
        return t
    }

    /// dL/dθ from backward against central differences of the loss, on head and backbone tensors.
    @Test(arguments: [FineTuneTask.classify, .regress])
    func gradientsMatchFiniteDifferences(task: FineTuneTask) {
        let t = Self.trainer(task, seed: 2)
        let (images, labels, amplitudes) = Self.toySet(4, seed: 3)
        let truth: FineTuneTrainer.Truth = task == .classify ? .labels(labels) : .values(amplitudes)
        _ = t.lossAndGradients(images: images, batch: 4, size: 16, truth: truth)
        let analytic = Array(UnsafeBufferPointer(start: t.arena.grads, count: t.arena.count))
        var rng = Philox4x64(seed: 4, stream: 0)
        for name in ["head.weight", "head.bias", "norm.weight", "layers.1.blocks.0.mlp.fc2.weight", "layers.0.blocks.0.attn.qkv.weight",
                     "layers.0.downsample.reduction.weight", "patch_embed.proj.weight"] {
            let tensor = t.arena.tensor(name)
            let scale = max((0..<tensor.count).map { abs(analytic[tensor.offset + $0]) }.max()!, 1e-4)
            for _ in 0..<6 {
                let i = tensor.offset + Int(rng.next() % UInt64(tensor.count))
                let h: Float = 1e-2, saved = t.arena.values[i]
                t.arena.values[i] = saved + h
                let plus = t.lossAndGradients(images: images, batch: 4, size: 16, truth: truth)
                t.arena.values[i] = saved - h
                let minus = t.lossAndGradients(images: images, batch: 4, size: 16, truth: truth)
                t.arena.values[i] = saved
                let numeric = Float((plus - minus) / Double(2 * h))
                #expect(abs(numeric - analytic[i]) <= 0.03 * abs(analytic[i]) + 0.01 * scale,
                        "\(name)[\(i - tensor.offset)]: numeric \(numeric), backward \(analytic[i])")
            }
        }
    }

    /// With `pooling: foreground` the head reads the foreground-weighted features `EsViTNetwork.embed`
    /// gives evaluation (it once took the mean whatever the network's pooling), and its gradients still
    /// match finite differences.
    @Test func theHeadPoolsAsEvaluationDoes() {
        var c = Self.config
        c.pooling = .foreground
        let t = FineTuneTrainer(config: c, task: .classify, outputs: 2)
        t.initialize(backbone: nil, seed: 5)
        var (images, labels, _) = Self.toySet(4, seed: 6)
        for i in 0..<16 { for x in 0..<8 { images[i * 16 + x] += 6 } }  // a bright patch on each image: weights far from uniform
        let weights = EsViTNetwork.poolWeights(c, images: images, batch: 4, size: 16, tokens: 4)
        #expect(weights.count == 16 && weights.contains { abs($0 - 0.25) > 0.05 })
        let features = EsViTNetwork(config: c).embed(t.arena, images: images, batch: 4, size: 16)
        let (w, b, D) = (t.arena.value("head.weight"), t.arena.value("head.bias"), c.finalDim)
        let expected = (0..<8).map { i in b[i % 2] + (0..<D).reduce(Float(0)) { $0 + w[(i % 2) * D + $1] * features[(i / 2) * D + $1] } }
        let predicted = t.predict(images: images, batch: 4, size: 16)
        #expect(zip(predicted, expected).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) }, "\(predicted) vs \(expected)")
        _ = t.lossAndGradients(images: images, batch: 4, size: 16, truth: .labels(labels))
        let i = t.arena.tensor("norm.weight").offset + 3, analytic = t.arena.grads[i], saved = t.arena.values[i]
        t.arena.values[i] = saved + 1e-2
        let plus = t.lossAndGradients(images: images, batch: 4, size: 16, truth: .labels(labels))
        t.arena.values[i] = saved - 1e-2
        let minus = t.lossAndGradients(images: images, batch: 4, size: 16, truth: .labels(labels))
        t.arena.values[i] = saved
        let numeric = Float((plus - minus) / 2e-2)
        #expect(abs(numeric - analytic) <= 0.03 * abs(analytic) + 1e-4, "norm.weight[3]: numeric \(numeric), backward \(analytic)")
    }

    @Test func learnsASeparableToySet() {
        let t = Self.trainer(.classify)
        let (images, labels, _) = Self.toySet(32, seed: 5)
        let first = t.lossAndGradients(images: images, batch: 32, size: 16, truth: .labels(labels))
        for _ in 0..<60 { t.train(images: images, batch: 32, size: 16, truth: .labels(labels)) }
        let (test, testLabels, _) = Self.toySet(32, seed: 6)
        let logits = t.predict(images: test, batch: 32, size: 16)
        let correct = (0..<32).filter { (logits[2 * $0 + 1] > logits[2 * $0] ? 1 : 0) == testLabels[$0] }.count
        let last = t.lossAndGradients(images: images, batch: 32, size: 16, truth: .labels(labels))
        #expect(last < 0.5 * first, "loss \(first) -> \(last)")
        #expect(correct >= 29, "\(correct) of 32 held-out toy images right")
    }

    @Test func regressionLowersTheLoss() {
        let t = Self.trainer(.regress)
        let (images, _, amplitudes) = Self.toySet(16, seed: 7)
        let mean = amplitudes.reduce(0, +) / 16
        let targets = amplitudes.map { ($0 - mean) * 2 }
        let first = t.lossAndGradients(images: images, batch: 16, size: 16, truth: .values(targets))
        for _ in 0..<40 { t.train(images: images, batch: 16, size: 16, truth: .values(targets)) }
        let last = t.lossAndGradients(images: images, batch: 16, size: 16, truth: .values(targets))
        #expect(last < 0.5 * first, "loss \(first) -> \(last)")
    }

    /// The backbone comes from the source arena; with its rate scaled to 0 only the head moves.
    @Test func backboneFromSourceAndFrozenByAZeroScale() {
        let source = EsViTTrainer(config: Self.config)
        source.initialize(seed: 9)
        let t = FineTuneTrainer(config: Self.config, task: .classify, outputs: 3)
        t.initialize(backbone: source.teacher, seed: 1)
        let name = "layers.0.blocks.0.attn.qkv.weight"
        let count = t.arena.tensor(name).count
        #expect(Array(UnsafeBufferPointer(start: t.arena.value(name), count: count))
                == Array(UnsafeBufferPointer(start: source.teacher.value(name), count: count)))
        t.backboneLRScale = 0
        let head = Array(UnsafeBufferPointer(start: t.arena.value("head.weight"), count: 3 * Self.config.finalDim))
        let (images, labels, _) = Self.toySet(4, seed: 1)
        t.train(images: images, batch: 4, size: 16, truth: .labels(labels.map { $0 + 1 }))
        #expect(Array(UnsafeBufferPointer(start: t.arena.value(name), count: count))
                == Array(UnsafeBufferPointer(start: source.teacher.value(name), count: count)))
        #expect(Array(UnsafeBufferPointer(start: t.arena.value("head.weight"), count: head.count)) != head)
        #expect(t.arena.tensors.filter(t.isHead).map(\.name) == ["head.weight", "head.bias"])
    }

    @Test func warmupThenCosine() {
        var r = FineTuneRecipe()
        (r.lr, r.minLR, r.warmupFraction) = (1e-3, 1e-5, 0.1)
        #expect(r.learningRate(step: 0, total: 100) == 0)
        #expect(abs(r.learningRate(step: 5, total: 100) - 5e-4) < 1e-9)
        #expect(abs(r.learningRate(step: 10, total: 100) - 1e-3) < 1e-9)
        #expect(abs(r.learningRate(step: 55, total: 100) - (1e-5 + (1e-3 - 1e-5) / 2)) < 1e-8)
        #expect(r.learningRate(step: 99, total: 100) < 2e-5)
    }

    /// `probeFirst`: the backbone is frozen for its share, then ramps to its scale over the warm-up's length.
    @Test func backboneFrozenThenRamped() {
        var r = FineTuneRecipe()
        (r.backboneLRScale, r.warmupFraction) = (0.1, 0.1)
        #expect((0..<100).allSatisfy { r.backboneScale(step: $0, total: 100) == 0.1 }, "off: the scale throughout")
        r.probeFirst = 0.3
        #expect((0..<30).allSatisfy { r.backboneScale(step: $0, total: 100) == 0 })
        #expect(abs(r.backboneScale(step: 30, total: 100) - 0.01) < 1e-7 && abs(r.backboneScale(step: 34, total: 100) - 0.05) < 1e-7)
        #expect((39..<100).allSatisfy { r.backboneScale(step: $0, total: 100) == 0.1 })
        r.probeFirst = 1
        #expect((0..<100).allSatisfy { r.backboneScale(step: $0, total: 100) == 0 }, "a linear probe")
    }
}
