import Foundation
import Testing
@testable import MiniTrain
import _TestSupport

/// SimMIM's step against PyTorch golden vectors (`fixtures/simmim-tiny`, written by
/// `Tests/helpers/make_golden_simmim.py`): the masked forward and the reconstruction, the L1 loss on the
/// masked pixels, every gradient (mask token, decoder, backbone), the per-block normalised target, and
/// the state after one step (clip, AdamW, teacher EMA). `fixtures/simmim-tiny-2stage`: the decoder
/// reading two stages (`decoderStages: 2`): forward, loss and gradients.
@Suite struct SimMIMGoldenTests {
    static let images = 2, size = 32

    /// The fixture of a decoder reading `stages` stages.
    static func dir(_ stages: Int) -> String { TestSupport.fixture(stages == 1 ? "simmim-tiny" : "simmim-tiny-2stage") }

    static func load(_ name: String, stages: Int = 1) throws -> [Float] { try GoldenTests.load(name, from: dir(stages)).values }

    static func config(stages: Int) -> EsViTConfig {
        var c = EsViTConfig.golden
        c.pixelDecoder = true
        c.decoderStages = stages
        return c
    }

    /// SimMIM alone: no view or region term, the reconstruction at weight 1 (the golden step's settings
    /// are `Hyper`'s defaults: lr 1e-3, weight decay 0.04, clip 3, EMA 0.996).
    static func trainer(targetBlock: Int = 0, stages: Int = 1) throws -> EsViTTrainer {
        var hyper = EsViTTrainer.Hyper()
        hyper.viewWeight = 0
        hyper.regionWeight = 0
        hyper.mimWeight = 1
        hyper.mimTargetBlock = targetBlock
        let t = EsViTTrainer(config: config(stages: stages), hyper: hyper)
        for (arena, prefix) in stages == 1 ? [(t.student, "param."), (t.teacher, "teacher.")] : [(t.student, "param.")] {
            for tensor in arena.tensors {
                let (values, shape) = try GoldenTests.load(prefix + tensor.name, from: dir(stages))
                #expect(shape == tensor.shape, "\(tensor.name): golden \(shape), ours \(tensor.shape)")
                arena.values.advanced(by: tensor.offset).update(from: values, count: tensor.count)
            }
        }
        return t
    }

    /// The two global crops, crop-major `[2, B, 1, S, S]`, and their patch mask `[2, B, (S/P)²]`.
    static func inputs(stages: Int = 1) throws -> (globals: [Float], mask: [Float]) {
        (try load("input.crop0", stages: stages) + load("input.crop1", stages: stages), try load("input.patch_mask", stages: stages))
    }

    @Test(arguments: [1, 2])
    func maskedForwardAndReconstructionMatchPyTorch(stages: Int) throws {
        let t = try Self.trainer(stages: stages)
        let (globals, mask) = try Self.inputs(stages: stages)
        #expect(mask.contains(0) && mask.contains(1))
        let net = t.network
        let bb = net.backbone.forward(t.student, images: globals, batch: 2 * Self.images, size: Self.size, patchMask: net.backboneMask(mask))
        GoldenTests.expectClose(bb.tokensOut, try Self.load("fwd.tokens", stages: stages), "final tokens of the masked crops")
        let (tokens, mid) = net.decoder!.inputs(bb)
        #expect(mid.isEmpty == (stages == 1))
        let pixels = net.decoder!.forward(t.student, tokens: tokens, mid: mid, batch: 2 * Self.images, size: Self.size)
        GoldenTests.expectClose(pixels, try Self.load("fwd.reconstruction", stages: stages), "reconstruction")
    }

    /// Also in two lanes and over several threads (the lanes' gradients are added into the student's),
    /// and with the decoder reading two stages.
    @Test(arguments: [(1, 1, 1), (2, 1, 1), (2, 3, 1), (1, 1, 2), (2, 3, 2)])
    func lossAndEveryGradientMatchPyTorch(lanes: Int, threads: Int, stages: Int) throws {
        try KernelThreads.$count.withValue(threads) {
            let t = try Self.trainer(stages: stages)
            t.lanes = lanes
            let (globals, mask) = try Self.inputs(stages: stages)
            let (loss, _) = t.lossAndGradients(globals: globals, globalSize: Self.size, locals: [], localCrops: 0, localSize: 16,
                                               images: Self.images, patchMask: mask)
            let golden = try Self.load("loss.value", stages: stages)[0]
            #expect(abs(Float(loss) - golden) < 1e-5 * max(1, abs(golden)), "loss \(loss) vs \(golden)")
            var checked = 0, decoderAndToken = 0
            for tensor in t.student.tensors where t.trains(tensor) {
                let gold = try Self.load("grad." + tensor.name, stages: stages)
                let ours = Array(UnsafeBufferPointer(start: t.student.grads + tensor.offset, count: tensor.count))
                let scale = gold.map { abs($0) }.max() ?? 0
                let worst = zip(ours, gold).map { abs($0 - $1) }.max() ?? 0
                #expect(worst <= 1e-3 * max(scale, 1e-6), "grad \(tensor.name): max error \(worst), max magnitude \(scale)")
                checked += 1
                if tensor.name == "mask_token" || tensor.name.hasPrefix("decoder") {
                    #expect(scale > 0, "\(tensor.name) has a gradient")
                    decoderAndToken += 1
                }
            }
            #expect(decoderAndToken == (stages == 1 ? 3 : 5))
            #expect(checked == t.student.tensors.count - 2, "every tensor but the two frozen weight_g")
        }
    }

    @Test func normalizedTargetAndItsLossMatchPyTorch() throws {
        let (globals, mask) = try Self.inputs()
        let target = MaskedImageModeling.normalizedTarget(globals, B: 2 * Self.images, Cin: 1, S: Self.size, block: 8)
        GoldenTests.expectClose(target, try Self.load("target.normalized"), "normalised target")
        let t = try Self.trainer(targetBlock: 8)
        let (loss, _) = t.lossAndGradients(globals: globals, globalSize: Self.size, locals: [], localCrops: 0, localSize: 16,
                                           images: Self.images, patchMask: mask)
        let golden = try Self.load("loss.normalized")[0]
        #expect(abs(Float(loss) - golden) < 1e-5 * max(1, abs(golden)), "loss \(loss) vs \(golden)")
    }

    @Test func oneStepMatchesPyTorch() throws {
        let t = try Self.trainer()
        let (globals, mask) = try Self.inputs()
        let r = t.train(globals: globals, globalSize: Self.size, locals: [], localCrops: 0, localSize: 16, images: Self.images, patchMask: mask)
        #expect(abs(Float(r.mimLoss) - (try Self.load("loss.value")[0])) < 1e-5)
        try GoldenTests.expectStateAfterStep(t, from: Self.dir(1))
    }
}
