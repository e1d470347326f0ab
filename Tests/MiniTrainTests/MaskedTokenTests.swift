import Foundation
import Testing
import LensData
@testable import MiniTrain

/// The masked-token (iBOT-style) term: the pixel blanking, the loss's gradient against finite
/// differences, and that a zero weight leaves the EsViT step untouched.
@Suite struct MaskedTokenTests {
    @Test func blankingZeroesExactlyTheMaskedCells() {
        // 2 rows, 2 channels, 8 x 8 pixels, a 2 x 2 token grid (4 px cells).
        var images = (0..<(2 * 2 * 64)).map { Float($0 + 1) }
        var mask = [Bool](repeating: false, count: 8)
        mask[1] = true  // row 0, token (0, 1): pixels y 0..<4, x 4..<8
        mask[4 + 2] = true  // row 1, token (1, 0): pixels y 4..<8, x 0..<4
        TokenMask.apply(&images, mask: mask, rows: 2, channels: 2, size: 8, grid: 2)
        for r in 0..<2 {
            for c in 0..<2 {
                for y in 0..<8 {
                    for x in 0..<8 {
                        let i = ((r * 2 + c) * 8 + y) * 8 + x
                        let blank = (r == 0 && y < 4 && x >= 4) || (r == 1 && y >= 4 && x < 4)
                        #expect((images[i] == 0) == blank, "row \(r) channel \(c) pixel (\(y), \(x))")
                    }
                }
            }
        }
    }

    /// The gradient the loss writes for the student's region logits is the derivative of the masked
    /// term: with the other heads weighted 0, finite differences of the loss in those logits match.
    @Test func maskedTermGradientMatchesFiniteDifferences() {
        let t = TrainerTests.smallTrainer()
        let (g, l) = TrainerTests.batch(7)
        let B = 2, S = 32
        let grid = t.tokenGrid(size: S)
        #expect(grid == 4)  // golden config: patch 4, two stages: 32 / 4 = 8, merged once to 4
        var mask = [Bool](repeating: false, count: 2 * B * grid * grid)
        for i in [0, 3, 5, 6, 9, 14, 17, 40, 63] { mask[i] = true }
        let teacher = t.network.forward(t.teacher, images: g, batch: 2 * B, size: S, forBackward: false)
        var masked = g
        TokenMask.apply(&masked, mask: mask, rows: 2 * B, channels: 1, size: S, grid: grid)
        let groups = [t.network.forward(t.student, images: masked, batch: 2 * B, size: S),
                      t.network.forward(t.student, images: l, batch: 2 * B, size: 16)]
        var rng = Philox4x64(seed: 5, stream: 1)
        let centerGrid = (0..<t.config.outDim).map { _ in Float(rng.normal()) * 0.1 }
        let loss = EsViTLoss(teacherTemp: 0.04, studentTemp: 0.1, viewWeight: 0, regionWeight: 0, maskedWeight: 0.7)
        func value() -> EsViTLoss.Result {
            loss.compute(student: groups, teacher: teacher, images: B, localCrops: 2, center: t.center, centerGrid: centerGrid,
                         config: t.config, tokenMask: mask)
        }
        let r = value()
        #expect(r.maskedLoss > 0 && abs(r.loss - Double(Float(0.7)) * r.maskedLoss) < 1e-9)
        let K = t.config.outDim, T = grid * grid
        // Unmasked tokens, the local crops and the view head get no gradient.
        for row in 0..<(2 * B * T) where !mask[row] { #expect((0..<K).allSatisfy { r.dregion[0][row * K + $0] == 0 }) }
        #expect(r.dregion[1].allSatisfy { $0 == 0 } && r.dview.allSatisfy { $0.allSatisfy { $0 == 0 } })
        let h: Float = 1e-2
        let scale = r.dregion[0].map(abs).max()!
        for row in [0, 5, 40] {
            for k in [0, 7, K - 1] {
                let i = row * K + k, saved = groups[0].region.logits[i]
                groups[0].region.logits[i] = saved + h
                let plus = value().loss
                groups[0].region.logits[i] = saved - h
                let minus = value().loss
                groups[0].region.logits[i] = saved
                let numeric = Float((plus - minus) / Double(2 * h))
                #expect(abs(numeric - r.dregion[0][i]) <= 1e-2 * abs(r.dregion[0][i]) + 2e-3 * scale,
                        "row \(row) k \(k): numeric \(numeric), backward \(r.dregion[0][i])")
            }
        }
    }

    /// With the term's weight 0 a mask changes nothing: the step is the EsViT step, bit for bit.
    @Test func zeroWeightIgnoresTheMask() {
        let (g, l) = TrainerTests.batch(3)
        let a = TrainerTests.smallTrainer(), b = TrainerTests.smallTrainer()
        let mask = (0..<64).map { $0 % 3 == 0 }
        let ra = a.train(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2)
        let rb = b.train(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2, tokenMask: mask)
        #expect(ra.loss == rb.loss && rb.maskedLoss == 0)
        #expect(TrainerTests.snapshot(a) == TrainerTests.snapshot(b))
    }

    /// With a weight, training on a fixed batch lowers the masked term.
    @Test func trainingLowersTheMaskedTerm() {
        let t = TrainerTests.smallTrainer()
        t.hyper.maskedWeight = 1
        let (g, l) = TrainerTests.batch(5)
        let mask = (0..<64).map { $0 % 2 == 0 }
        let first = t.train(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2, tokenMask: mask).maskedLoss
        var last = first
        for _ in 0..<15 { last = t.train(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2, tokenMask: mask).maskedLoss }
        #expect(first > 0 && last < first, "masked loss \(first) -> \(last)")
    }
}
