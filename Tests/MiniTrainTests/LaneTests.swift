import Testing
import LensData
@testable import MiniTrain

/// A batch split into lanes (`EsViTTrainer.lanes`) is the same step as the whole batch at once: the
/// lanes' losses and gradients add up to the batch's, and the merged monitors are the batch's.
@Suite struct LaneTests {
    static let (B, L, S, s) = (5, 2, 32, 16)

    static func batch(_ seed: UInt64) -> (g: [Float], l: [Float], mask: [Bool]) {
        var rng = Philox4x64(seed: seed, stream: 0)
        let g = (0..<(2 * B * S * S)).map { _ in Float(rng.normal()) }
        let l = (0..<(L * B * s * s)).map { _ in Float(rng.normal()) }
        let grid = trainer(lanes: 1).tokenGrid(size: S)
        let mask = (0..<(2 * B * grid * grid)).map { _ in rng.uniform() < 0.3 }
        return (g, l, mask)
    }

    static func trainer(lanes: Int, viewHead: ViewHeadInput = .pooled) -> EsViTTrainer {
        var c = EsViTConfig.golden
        c.outDim = 32
        c.viewHead = viewHead
        let t = EsViTTrainer(config: c)
        t.initialize(seed: 3)
        t.hyper.maskedWeight = 0.5
        t.lanes = lanes
        // Non-zero centres, so that the lanes' teacher targets depend on them as the batch's do.
        t.center = (0..<32).map { Float($0 % 5) * 0.01 }
        t.centerGrid = (0..<32).map { Float($0 % 3) * -0.02 }
        // Running moments away from (0, 1), so that a standardised view head's input depends on them.
        let C = c.finalDim
        t.studentPoolMoments = RunningMoments(mean: (0..<C).map { Double($0 % 7) * 0.03 }, meanSquare: (0..<C).map { 0.5 + Double($0 % 4) * 0.1 })
        t.teacherPoolMoments = RunningMoments(mean: (0..<C).map { Double($0 % 5) * -0.02 }, meanSquare: (0..<C).map { 0.4 + Double($0 % 3) * 0.2 })
        return t
    }

    static func close(_ a: [Float], _ b: [Float], _ what: String) {
        #expect(a.count == b.count, "\(what): \(a.count) vs \(b.count)")
        let scale = max(1e-6, b.map(abs).max() ?? 0)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-4 * scale, "\(what): worst difference \(worst) of scale \(scale)")
    }

    @Test(arguments: [2, 3], ViewHeadInput.allCases)
    func lanesAddUpToTheWholeBatch(lanes: Int, viewHead: ViewHeadInput) {
        let (g, l, mask) = Self.batch(11)
        let whole = Self.trainer(lanes: 1, viewHead: viewHead), split = Self.trainer(lanes: lanes, viewHead: viewHead)
        let (lossA, a, pooledA, sumsA) = whole.lossGradientsAndFeatures(globals: g, globalSize: Self.S, locals: l, localCrops: Self.L,
                                                                 localSize: Self.s, images: Self.B, tokenMask: mask)
        let (lossB, b, pooledB, sumsB) = split.lossGradientsAndFeatures(globals: g, globalSize: Self.S, locals: l, localCrops: Self.L,
                                                                 localSize: Self.s, images: Self.B, tokenMask: mask)
        #expect(abs(lossA - lossB) <= 1e-5 * abs(lossA))
        #expect(a.maskedLoss > 0 && abs(a.maskedLoss - b.maskedLoss) <= 1e-5 * a.maskedLoss)
        for (x, y) in [(a.viewLoss, b.viewLoss), (a.regionLoss, b.regionLoss), (a.teacherViewEntropy, b.teacherViewEntropy),
                       (a.teacherViewMeanEntropy, b.teacherViewMeanEntropy), (a.teacherRegionEntropy, b.teacherRegionEntropy),
                       (a.teacherRegionMeanEntropy, b.teacherRegionMeanEntropy)] {
            #expect(abs(x - y) <= 1e-5 * abs(x), "\(x) vs \(y)")
        }
        Self.close(pooledB, pooledA, "pooled")
        #expect(sumsA.student.rows == sumsB.student.rows && sumsA.teacher.rows == sumsB.teacher.rows)
        if viewHead == .standardized {
            #expect(sumsA.student.rows == (2 + Self.L) * Self.B && sumsA.teacher.rows == 2 * Self.B)
            for (x, y, what) in [(sumsB.student.sum, sumsA.student.sum, "student sums"), (sumsB.student.sumSquares, sumsA.student.sumSquares, "student squares"),
                                 (sumsB.teacher.sum, sumsA.teacher.sum, "teacher sums"), (sumsB.teacher.sumSquares, sumsA.teacher.sumSquares, "teacher squares")] {
                Self.close(x.map { Float($0) }, y.map { Float($0) }, what)
            }
        } else {
            #expect(sumsA.student.rows == 0 && sumsA.teacher.rows == 0)
        }
        Self.close(b.teacherViewMean, a.teacherViewMean, "view centre input")
        Self.close(b.teacherRegionMean, a.teacherRegionMean, "region centre input")
        for k in 0..<2 {
            Self.close(b.dview[k], a.dview[k], "dview[\(k)]")
            Self.close(b.dregion[k], a.dregion[k], "dregion[\(k)]")
        }
        Self.close(Array(UnsafeBufferPointer(start: split.student.grads, count: split.student.count)),
                   Array(UnsafeBufferPointer(start: whole.student.grads, count: whole.student.count)), "parameter gradients")
    }

    /// `train` leaves the other lanes' gradients for `update` to add tensor by tensor: its step gives the
    /// bits of `lossAndGradients` (which adds them at once) followed by `update`, over two steps (the second
    /// starting from the first's moments and centres), and reports the values finite.
    @Test(arguments: [2, 3])
    func trainAddsTheLanesInsideTheUpdate(lanes: Int) {
        let (g, l, mask) = Self.batch(13)
        let stepped = Self.trainer(lanes: lanes), apart = Self.trainer(lanes: lanes)
        for _ in 0..<2 {
            _ = stepped.train(globals: g, globalSize: Self.S, locals: l, localCrops: Self.L, localSize: Self.s, images: Self.B, tokenMask: mask)
            let (_, result) = apart.lossAndGradients(globals: g, globalSize: Self.S, locals: l, localCrops: Self.L, localSize: Self.s,
                                                     images: Self.B, tokenMask: mask)
            apart.update()
            apart.updateCenters(result)
        }
        let a = UnsafeBufferPointer(start: stepped.student.values, count: stepped.student.count)
        let b = UnsafeBufferPointer(start: apart.student.values, count: apart.student.count)
        #expect(zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }, "student values")
        #expect(stepped.valuesFinite && apart.valuesFinite)
    }

    /// `update` reports a non-finite value wherever it appears: a NaN gradient that AdamW carries into a
    /// trained tensor, or a NaN in a tensor the optimizer skips (`last_layer.weight_g`); a clean step
    /// reports the values finite.
    @Test func updateReportsNonFiniteValues() {
        let (g, l, mask) = Self.batch(17)
        func stepped(_ spoil: (EsViTTrainer) -> Void) -> Bool {
            let t = Self.trainer(lanes: 2)
            _ = t.lossAndGradients(globals: g, globalSize: Self.S, locals: l, localCrops: Self.L, localSize: Self.s, images: Self.B, tokenMask: mask)
            spoil(t)
            t.update()
            return t.valuesFinite
        }
        #expect(stepped { _ in })
        #expect(!stepped { t in
            let trained = t.student.tensors.first { $0.name.hasSuffix("layers.0.blocks.0.mlp.fc1.weight") }!
            t.student.grads[trained.offset + 3] = .nan
        })
        #expect(!stepped { t in
            let frozen = t.student.tensors.first { $0.name.hasSuffix("last_layer.weight_g") }!
            t.student.values[frozen.offset] = .nan
        })
    }

    /// The lanes do not follow the thread count: one thread runs them one after the other and gives
    /// the same bits as two threads running them side by side.
    @Test(arguments: ViewHeadInput.allCases)
    func oneAndTwoThreadsGiveTheSameBits(viewHead: ViewHeadInput) {
        let (g, l, mask) = Self.batch(12)
        var snapshots: [[UInt32]] = []
        for threads in [1, 2] {
            let t = Self.trainer(lanes: 2, viewHead: viewHead)
            KernelThreads.$count.withValue(threads) {
                for _ in 0..<2 {
                    _ = t.train(globals: g, globalSize: Self.S, locals: l, localCrops: Self.L, localSize: Self.s, images: Self.B, tokenMask: mask)
                }
            }
            snapshots.append(TrainerTests.snapshot(t))
        }
        #expect(snapshots[0] == snapshots[1])
    }

    @Test func cropMajorLanesJoinBack() {
        let x = Array(0..<(3 * 5 * 2))  // 3 crops, 5 images, width 2
        let parts = [(0, 2), (2, 3)].map { CropMajor.lane(x, crops: 3, images: 5, start: $0.0, count: $0.1) }
        #expect(parts[0] == [0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23])
        #expect(CropMajor.joined(parts, crops: 3, images: [2, 3]) == x)
        #expect(CropMajor.lane(x, crops: 0, images: 5, start: 0, count: 2).isEmpty)
    }
}
