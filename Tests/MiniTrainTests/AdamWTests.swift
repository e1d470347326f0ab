import Foundation
import Testing
import LensData
@testable import MiniTrain

/// The shared AdamW step against the formula of `torch.optim.AdamW` (with DINO's per-tensor clip),
/// written out in Float64; `EsViTTrainer`'s use of it is covered by the PyTorch golden step.
@Suite struct AdamWTests {
    /// One tensor through `steps` updates: ours (Float32) and the reference (Float64).
    static func run(clip: Float, lrScale: Float, decayed: Bool, steps: Int = 3) -> (ours: [Float], reference: [Double]) {
        var rng = Philox4x64(seed: 11, stream: 0)
        let name = decayed ? "fc.weight" : "fc.bias"
        let shape = decayed ? [3, 4] : [12]
        let arena = ParameterArena(layout: [(name, shape)])
        let t = arena.tensor(name)
        let start = (0..<12).map { _ in Float(rng.normal()) }
        let grads = (0..<steps).map { _ in (0..<12).map { _ in Float(rng.normal() * 2) } }
        arena.values.update(from: start, count: 12)
        let opt = AdamW(lr: 0.05, weightDecay: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8, clip: clip)
        var p = start.map(Double.init), m = [Double](repeating: 0, count: 12), v = [Double](repeating: 0, count: 12)
        for s in 1...steps {
            arena.grads.update(from: grads[s - 1], count: 12)
            opt.update(arena, tensor: t, step: s, lrScale: lrScale)
            let lr = 0.05 * Double(lrScale), wd = decayed ? 0.1 : 0
            var g = grads[s - 1].map(Double.init)
            let norm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if clip > 0 && Double(clip) / (norm + 1e-6) < 1 { g = g.map { $0 * Double(clip) / (norm + 1e-6) } }
            for i in 0..<12 {
                p[i] -= lr * wd * p[i]
                m[i] = 0.9 * m[i] + 0.1 * g[i]
                v[i] = 0.99 * v[i] + 0.01 * g[i] * g[i]
                let mhat = m[i] / (1 - pow(0.9, Double(s))), vhat = v[i] / (1 - pow(0.99, Double(s)))
                p[i] -= lr * mhat / (vhat.squareRoot() + 1e-8)
            }
        }
        return (Array(UnsafeBufferPointer(start: arena.values, count: 12)), p)
    }

    @Test(arguments: [(Float(0), Float(1), true), (Float(1), Float(1), true), (Float(0), Float(0.1), false), (Float(1), Float(0.1), true)])
    func matchesTheTorchFormula(clip: Float, lrScale: Float, decayed: Bool) {
        let (ours, reference) = Self.run(clip: clip, lrScale: lrScale, decayed: decayed)
        let worst = zip(ours, reference).map { abs(Double($0) - $1) }.max()!
        #expect(worst < 1e-5, "max difference \(worst)")
    }

    /// `ParameterArena.valuesAreFinite` (the non-finite stop's check, made inside `update`): a NaN or an
    /// infinity anywhere, in the 16-lane part or the tail, in the range asked about or not.
    @Test func finiteValuesCheck() {
        let arena = ParameterArena(layout: [("a.weight", [5, 7]), ("b.weight", [3])])  // 35 + 3 values: 2 x 16 lanes and a tail of 6
        for i in 0..<arena.count { arena.values[i] = Float(i) - 20 }
        #expect(arena.valuesAreFinite())
        for (index, bad) in [(3, Float.nan), (31, -Float.infinity), (36, Float.infinity), (37, Float.nan)] {
            let kept = arena.values[index]
            arena.values[index] = bad
            #expect(!arena.valuesAreFinite(), "\(bad) at \(index)")
            #expect(arena.valuesAreFinite(in: index < 20 ? 20..<38 : 0..<20), "\(bad) at \(index) is outside the range")
            #expect(!arena.valuesAreFinite(in: index..<(index + 1)))
            arena.values[index] = kept
        }
        arena.values[0] = .greatestFiniteMagnitude
        #expect(arena.valuesAreFinite(), "the largest finite value is finite")
    }

    /// Biases and 1-D tensors are not decayed; everything else is.
    @Test func decayGroups() {
        let arena = ParameterArena(layout: [("a.weight", [2, 2]), ("a.bias", [2]), ("norm.weight", [2]), ("t.relative_position_bias_table", [3, 1])])
        #expect(arena.tensors.map(AdamW.decays) == [true, false, false, true])
    }
}
