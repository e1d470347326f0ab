import Foundation
import Testing
import LensData
@testable import MiniTrain
import _TestSupport

/// `viewHead: standardized`: the view head reads the pooled features standardised by running moments.
@Suite struct StandardizedViewHeadTests {
    static func trainer() -> EsViTTrainer {
        var c = EsViTConfig.golden
        c.outDim = 32
        c.viewHead = .standardized
        let t = EsViTTrainer(config: c)
        t.initialize(seed: 3)
        return t
    }

    /// The moments move as `m ← μ m + (1 − μ) batch`, and their standardiser is (mean, 1/√(var + eps)).
    @Test func momentsFollowTheBatches() {
        var m = RunningMoments(channels: 2)
        #expect(m.standardizer.mean == [0, 0] && m.standardizer.invStd.allSatisfy { abs($0 - 1) < 1e-5 })
        let x: [Float] = [1, 10, 3, 14]  // two rows: channel 0 {1, 3}, channel 1 {10, 14}
        let sums = MomentSums(x, N: 2, C: 2)
        #expect(sums.sum == [4, 24] && sums.sumSquares == [10, 296] && sums.rows == 2)
        var halves = MomentSums(Array(x[0..<2]), N: 1, C: 2)
        halves.add(MomentSums(Array(x[2..<4]), N: 1, C: 2))
        #expect(halves == sums)
        m.update(MomentSums(channels: 2), momentum: 0)  // no rows: nothing moves
        #expect(m == RunningMoments(channels: 2))
        m.update(sums, momentum: 0)
        #expect(m.mean == [2, 12] && m.meanSquare == [5, 148])
        let s = m.standardizer
        #expect(abs(s.invStd[0] - Float(1 / (1 + RunningMoments.eps).squareRoot())) < 1e-6)
        #expect(abs(s.invStd[1] - Float(1 / (4 + RunningMoments.eps).squareRoot())) < 1e-6)
        var out: [Float] = []
        RunningStandardize.forward(&out, x, mean: s.mean, invStd: s.invStd, N: 2, C: 2)
        for (u, v) in zip(out, [-1, -1, 1, 1] as [Float]) { #expect(abs(u - v) < 1e-4) }
        var zeros = MomentSums(channels: 2)
        zeros.rows = 2
        m.update(zeros, momentum: 0.9)
        #expect(abs(m.mean[1] - 10.8) < 1e-12 && abs(m.meanSquare[0] - 4.5) < 1e-12)
    }

    /// The view head's input is the standardised pooled feature (the pooled feature itself stays what
    /// `embed` returns), and the backward pass through it matches central differences on a backbone weight.
    @Test func gradientsPassThroughTheStandardisation() {
        let t = Self.trainer()
        let C = t.config.finalDim, S = 32, B = 2
        var rng = Philox4x64(seed: 4, stream: 0)
        let images = (0..<(B * S * S)).map { _ in Float(rng.normal()) }
        let stats = (mean: (0..<C).map { Float($0 % 5) * 0.05 }, invStd: (0..<C).map { 1 + Float($0 % 3) })
        let o = t.network.forward(t.student, images: images, batch: B, size: S, forBackward: false, headInput: stats)
        #expect(o.pooled == t.network.embed(t.student, images: images, batch: B, size: S))
        var expected: [Float] = []
        RunningStandardize.forward(&expected, o.pooled, mean: stats.mean, invStd: stats.invStd, N: B, C: C)
        #expect(o.view.input == expected)
        let plain = t.network.forward(t.student, images: images, batch: B, size: S, forBackward: false)
        #expect(plain.view.input == o.pooled)  // no statistics given: mean 0, scale 1

        GradientCheckTests.checkViewLogitsGradient(t, images: images, batch: B, size: S, headInput: stats, seed: 5)
    }

    /// A training step moves both networks' moments towards the step's pooled features (from mean 0,
    /// variance 1), the moments survive a checkpoint bit for bit (training on from it gives the same
    /// bits), and a configuration written before the field existed reads as `pooled`.
    @Test func trainingMovesTheMomentsAndCheckpointsKeepThem() throws {
        let t = Self.trainer()
        let (g, l) = TrainerTests.batch(1)
        let r = t.train(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2)
        let C = t.config.finalDim
        let teacherSums = MomentSums(r.teacherPooled, N: 4, C: C)
        for c in [0, 7, C - 1] {
            #expect(abs(t.teacherPoolMoments.mean[c] - 0.1 * teacherSums.sum[c] / 4) < 1e-6)  // momentum 0.9 is a Float
            #expect(abs(t.teacherPoolMoments.meanSquare[c] - (0.9 + 0.1 * teacherSums.sumSquares[c] / 4)) < 1e-6)
        }
        #expect(t.studentPoolMoments != RunningMoments(channels: C) && t.studentPoolMoments != t.teacherPoolMoments)

        let path = TestSupport.tempDir("stdhead") + "/m.safetensors"
        try Checkpoint.save(t, to: path)
        let back = try Checkpoint.load(from: path)
        #expect(back.config.viewHead == .standardized)
        #expect(TrainerTests.snapshot(back) == TrainerTests.snapshot(t))
        let (g2, l2) = TrainerTests.batch(2)
        let a = t.train(globals: g2, globalSize: 32, locals: l2, localCrops: 2, localSize: 16, images: 2)
        let b = back.train(globals: g2, globalSize: 32, locals: l2, localCrops: 2, localSize: 16, images: 2)
        #expect(a.loss == b.loss && TrainerTests.snapshot(back) == TrainerTests.snapshot(t))

        var old = try JSONSerialization.jsonObject(with: JSONEncoder().encode(EsViTConfig.golden)) as! [String: Any]
        old["viewHead"] = nil
        #expect(try JSONDecoder().decode(EsViTConfig.self, from: JSONSerialization.data(withJSONObject: old)).viewHead == .pooled)
    }
}
