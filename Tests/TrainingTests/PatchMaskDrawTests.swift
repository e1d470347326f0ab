import Foundation
import Testing
import LensData
import MiniTrain
import PairSampler
@testable import Training

/// SimMIM's mask draw and its recipe block: block counts, determinism, lens placement, validation.
@Suite struct PatchMaskDrawTests {
    /// Two 32 px crops of Gaussian sky noise; the second has a bright 8 x 8 lens block at (8, 8).
    static func crops() -> [Float] {
        var rng = Philox4x64(seed: 7, stream: 0)
        var images = (0..<(2 * 32 * 32)).map { _ in Float(rng.normal()) * 0.01 }
        for y in 8..<16 { for x in 8..<16 { images[32 * 32 + y * 32 + x] += 1 } }
        return images
    }

    @Test(arguments: MaskPlacement.allCases)
    func masksCeilOfRatioTimesBlocksWholeBlocksAtATime(masking: MaskPlacement) {
        let mask = PatchMaskDraw.draw(seed: 1, step: 3, images: Self.crops(), rows: 2, channels: 1, size: 32, patch: 4, block: 8,
                                      ratio: 0.3, masking: masking)
        #expect(mask.count == 2 * 64)
        for r in 0..<2 {
            let row = Array(mask[(r * 64)..<((r + 1) * 64)])
            // 16 blocks of 8 px, ceil(0.3 x 16) = 5 masked, each 2 x 2 patches of 4 px.
            #expect(row.reduce(0, +) == 20)
            for by in 0..<4 { for bx in 0..<4 {
                let cells = [(0, 0), (0, 1), (1, 0), (1, 1)].map { row[(by * 2 + $0.0) * 8 + bx * 2 + $0.1] }
                #expect(Set(cells).count == 1, "block (\(by), \(bx)) is masked whole or not at all")
            } }
        }
        let again = PatchMaskDraw.draw(seed: 1, step: 3, images: Self.crops(), rows: 2, channels: 1, size: 32, patch: 4, block: 8,
                                       ratio: 0.3, masking: masking)
        let next = PatchMaskDraw.draw(seed: 1, step: 4, images: Self.crops(), rows: 2, channels: 1, size: 32, patch: 4, block: 8,
                                      ratio: 0.3, masking: masking)
        #expect(mask == again && mask != next)
    }

    /// With `lens` placement the bright block of the second crop is masked at nearly every step; with
    /// `uniform` at its share (5 of 16).
    @Test func lensPlacementFollowsTheLensLight() {
        let images = Self.crops()
        var hits: [MaskPlacement: Int] = [:]
        let steps = 200
        for masking in MaskPlacement.allCases {
            for step in 0..<steps {
                let m = PatchMaskDraw.draw(seed: 2, step: step, images: images, rows: 2, channels: 1, size: 32, patch: 4, block: 8,
                                           ratio: 0.3, masking: masking)
                if m[64 + 2 * 8 + 2] == 1 { hits[masking, default: 0] += 1 }  // the lens block (1, 1): patch (2, 2)
            }
        }
        #expect(Double(hits[.lens]!) / Double(steps) > 0.9, "\(hits)")
        #expect(abs(Double(hits[.uniform]!) / Double(steps) - 5.0 / 16) < 0.1, "\(hits)")
    }

    @Test func recipeSwitchesTheDecoderOnAndChecksTheBlock() throws {
        var recipe = TrainRecipe()
        #expect(recipe.config(channels: 1).pixelDecoder && recipe.mim.masking == .lens, "the default is SimMIM's term, lens-drawn")
        recipe.mim.weight = 0
        recipe.loss.view = 0.5
        #expect(!recipe.config(channels: 1).pixelDecoder)
        recipe.mim.weight = 1
        #expect(recipe.config(channels: 1).pixelDecoder)
        try recipe.validate()
        recipe.mim.block = 6
        #expect(throws: RecipeError.self) { try recipe.validate() }
        recipe.mim.block = 8
        recipe.mim.ratio = 1
        #expect(throws: RecipeError.self) { try recipe.validate() }
        recipe.mim.ratio = 0.6
        recipe.mim.decoderStages = 2
        try recipe.validate()
        #expect(recipe.config(channels: 1).decoderStages == 2)
        recipe.mim.decoderStages = 3
        #expect(throws: RecipeError.self) { try recipe.validate() }
        let decoded = try TrainRecipe.decode(Data(#"{"mim": {"weight": 1, "masking": "lens"}, "loss": {"view": 0, "region": 0}}"#.utf8))
        #expect(decoded.mim.masking == .lens && decoded.mim.weight == 1 && decoded.loss.view == 0)
        #expect(throws: RecipeError.self) { try TrainRecipe.decode(Data(#"{"mim": {"masking": "sky"}}"#.utf8)) }
    }
}
