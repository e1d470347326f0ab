import Testing
import LensData
@testable import MiniTrain

/// The step memory (llm.c's one activation arena): after the first step a training step refills the
/// buffers it kept instead of allocating new ones, and a refilled buffer computes what a new one does.
@Suite struct StepMemoryTests {
    /// Three steps on different batches and masks; every kept buffer (the lanes' inputs, the backbone
    /// passes, backward's working buffers, the decoder's; with EsViT's terms the heads' passes and the
    /// loss's targets, features and logit gradients) sits at the same address after the third step as
    /// after the first.
    /// `esvitTerms`: the view and region terms (teacher, heads and local crops too); `maskedTokens`:
    /// also the masked-token term, whose student crops are blanked copies; `chunk`: SimMIM's crops per
    /// chunk (`mimChunkCrops`; 1: each lane's two crops one at a time, through the chunk buffers).
    @Test(arguments: [(false, false, 0), (false, false, 1), (true, false, 0), (true, true, 0)])
    func stepsAfterTheFirstKeepEveryBuffer(esvitTerms: Bool, maskedTokens: Bool, chunk: Int) {
        let t = MaskedImageModelingTests.mimTrainer()
        t.mimChunkCrops = chunk
        t.hyper.mimTargetBlock = 8
        if esvitTerms { (t.hyper.viewWeight, t.hyper.regionWeight) = (0.5, 0.5) }
        if maskedTokens { t.hyper.maskedWeight = 0.5 }
        t.lanes = 2
        let grid = t.tokenGrid(size: 32)
        func step(_ k: UInt64) {
            let (g, l) = TrainerTests.batch(40 + k)
            // [2, B, grid²]: a different half of the tokens each step.
            let tokenMask = maskedTokens ? (0..<(2 * 2 * grid * grid)).map { ($0 + Int(k)) % 2 == 0 } : nil
            _ = t.train(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2, tokenMask: tokenMask,
                        patchMask: MaskedImageModelingTests.patchMask(rows: 4, seed: k))
        }
        step(0)
        let first = t.stepMemoryAddresses
        step(1)
        step(2)
        let third = t.stepMemoryAddresses
        // Lane inputs, target and masked copy (5), decoder (5), and at least the student's backbone per
        // lane; with EsViT's terms also the loss's 7, the heads' 9 working buffers and 10 per head for
        // each of the three passes.
        #expect(first.count >= 2 * (5 + 5 + 20 + (esvitTerms ? 7 + 9 + 3 * 2 * 10 : 0)), "\(first.count) buffers")
        #expect(first.count == third.count)
        let moved = zip(first, third).filter { $0 != $1 }.count
        #expect(moved == 0, "\(moved) of \(first.count) buffers moved between steps")
        // The masked-token term's blanked crops are in the lanes' kept buffer (not a copy per step).
        #expect(t.laneMemory.allSatisfy { !$0.maskedGlobals.isEmpty } == maskedTokens)
        // SimMIM's chunks go through the lanes' kept chunk buffers.
        #expect(t.laneMemory.allSatisfy { !$0.chunkImages.isEmpty && !$0.chunkMask.isEmpty } == (chunk == 1 && !esvitTerms))
    }

    /// A cache refilled with other images (and then without the mask it had) gives the same tokens and
    /// the same gradients as a cache made for those images.
    @Test func aRefilledCacheComputesWhatANewOneDoes() {
        let t = MaskedImageModelingTests.mimTrainer()
        let net = t.network, arena = t.student, backbone = net.backbone
        let (a, _) = TrainerTests.batch(50), (b, _) = TrainerTests.batch(51)
        let mask = net.backboneMask(MaskedImageModelingTests.patchMask(rows: 4, seed: 3))
        var rng = Philox4x64(seed: 9, stream: 0)
        // 4 crops x 4 x 4 final tokens.
        let dtokens: [Float] = (0..<(4 * 16 * t.config.finalDim)).map { _ in Float(rng.normal()) }
        func gradients(_ cache: SwinBackbone.Cache) -> [Float] {
            arena.zeroGrads()
            backbone.backward(arena, cache: cache, dtokens: dtokens)
            return Array(UnsafeBufferPointer(start: arena.grads, count: backbone.offsets.count))
        }
        let kept = backbone.forward(arena, images: a, batch: 4, size: 32)
        #expect(kept.tokensOut.count == dtokens.count)
        _ = gradients(kept)
        for m in [mask, nil] {
            let refilled = backbone.forward(arena, images: b, batch: 4, size: 32, patchMask: m, reusing: kept)
            #expect(refilled === kept)
            let (refilledTokens, refilledGradients) = (refilled.tokensOut, gradients(refilled))
            let fresh = backbone.forward(arena, images: b, batch: 4, size: 32, patchMask: m)
            #expect(fresh !== kept)
            #expect(refilledTokens == fresh.tokensOut)
            #expect(refilledGradients == gradients(fresh))
        }
        // Another batch size does not fit the cache: a new one is made.
        let other = backbone.forward(arena, images: Array(b.prefix(2 * 32 * 32)), batch: 2, size: 32, reusing: kept)
        #expect(other !== kept && other.batch == 2)
    }
}
