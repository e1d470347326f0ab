import Testing
@testable import MiniTrain

/// `EsViTNetwork.embed(lastBlocks:)`, eval's probe features (EsViT's `n_last_blocks`; the PyTorch
/// reference is `PyTorchCheckpointTests`): the final block's part is `embed`'s feature, an earlier
/// stage's last block is its stage output pooled, and the width is `lastBlocksWidth`.
@Suite struct LastBlocksFeatureTests {
    @Test func lastBlocksHoldTheFinalFeatureAndTheStageOutputs() {
        let t = TrainerTests.smallTrainer()
        let c = t.config, B = 2, S = 32
        let images = Array(TrainerTests.batch(5).g.prefix(B * S * S))
        let n = c.depths.last! + 1, width = c.lastBlocksWidth(n)
        #expect(width == c.stageDim(c.stages - 2) + c.depths.last! * c.finalDim)
        let features = t.network.embed(t.teacher, images: images, batch: B, size: S, lastBlocks: n)
        #expect(features.count == B * width)
        let final = t.network.embed(t.teacher, images: images, batch: B, size: S)
        let before = t.network.backbone.forward(t.teacher, images: images, batch: B, size: S)  // keeps the stage outputs
        let stage = before.stageOutput(c.stages - 2), C0 = c.stageDim(c.stages - 2), L0 = stage.count / (B * C0)
        var pooled = [Float](repeating: 0, count: B * C0)
        TokenLayout.meanPool(&pooled, stage, B: B, L: L0, C: C0)
        for b in 0..<B {
            let row = Array(features[(b * width)..<((b + 1) * width)])
            #expect(Array(row.suffix(c.finalDim)) == Array(final[(b * c.finalDim)..<((b + 1) * c.finalDim)]))
            #expect(Array(row.prefix(C0)) == Array(pooled[(b * C0)..<((b + 1) * C0)]))
        }
        #expect(t.network.embed(t.teacher, images: images, batch: B, size: S, lastBlocks: 1) == final)
        #expect(c.lastBlocksWidth(c.blockCount) == zip(c.depths, 0...).reduce(0) { $0 + $1.0 * c.stageDim($1.1) })
    }
}
