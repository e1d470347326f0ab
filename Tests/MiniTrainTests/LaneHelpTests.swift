import Foundation
import Testing
import LensData
@testable import MiniTrain

/// A worker lent to a lane (`LaneHelp`) runs half of the lane's cut-invariant kernels: the outputs are
/// the bits of the kernels run alone, so a step's numbers do not depend on whether or when it helped.
@Suite struct LaneHelpTests {
    /// The step's shapes of the kernels that share (stage 1 of the default model on 8 crops of 64 px):
    /// products through `CGemm` (forward, input gradient scaled by a slope, weight gradient over many
    /// rows), the GELU, LayerNorm with a gathering and window attention, forward and backward (whose
    /// parameter gradients are summed over fixed blocks of rows or windows).
    static func kernels(_ x: [Float], _ w: [Float], _ perm: [Int32], index: [Int32], table: [Float]) -> [[Float]] {
        let (N, C, OC) = (2048, 32, 128)
        var fc1 = [Float](repeating: 0, count: N * OC), gelu = fc1, slope = fc1
        var dinp = [Float](repeating: 0, count: N * C), dweight = [Float](repeating: 0.5, count: OC * C)
        var ln = [Float](repeating: 0, count: N * C), mean = [Float](repeating: 0, count: N), rstd = mean
        var qkv = [Float](repeating: 0, count: N * 3 * C), attn = [Float](repeating: 0, count: N * C)
        var probs = [Float](repeating: 0, count: N / 16 * 2 * 256)
        let gamma = Array(w.prefix(C)), beta = Array(w.suffix(C))
        LayerNorm.forward(&ln, mean: &mean, rstd: &rstd, x, gamma, beta, N: N, C: C, gathering: perm)
        Linear.forward(&fc1, ln, w, Array(w.prefix(OC)), N: N, C: C, OC: OC)
        GELU.forward(&gelu, slope: &slope, fc1, count: N * OC)
        Linear.backward(dinp: &dinp, dweight: &dweight, dbias: nil, dout: gelu, inp: ln, weight: w, N: N, C: C, OC: OC,
                        accumulateInput: false, wholeRows: 4 * N)
        Linear.forward(&qkv, ln, Array(w.prefix(3 * C * C)), nil, N: N, C: C, OC: 3 * C)
        WindowAttention.forward(&attn, probs: &probs, qkv: qkv, table: table, index: index, mask: nil, windowsPerImage: 16,
                                W: N / 16, N: 16, C: C, heads: 2)
        var dqkv = [Float](repeating: 0, count: N * 3 * C), dtable = table
        WindowAttention.backward(dqkv: &dqkv, dtable: &dtable, dout: ln, qkv: qkv, probs: probs, index: index, W: N / 16, N: 16, C: C, heads: 2)
        var dx = x, dgamma = gamma, dbeta = beta
        LayerNorm.backward(dinp: &dx, dgamma: &dgamma, dbeta: &dbeta, dout: attn, inp: x, gamma: gamma, mean: mean, rstd: rstd, N: N, C: C,
                           doutRows: perm)
        return [ln, mean, rstd, fc1, gelu, slope, dinp, dweight, qkv, probs, attn, dqkv, dtable, dx, dgamma, dbeta]
    }

    @Test func sharedKernelsGiveTheBitsOfOneThread() {
        var rng = Philox4x64(seed: 5, stream: 0)
        let x = (0..<(2048 * 32)).map { _ in Float(rng.normal()) }
        let w = (0..<(128 * 32)).map { _ in Float(rng.normal()) * 0.2 }
        var shuffled = (0..<2048).map { Int32($0) }
        for i in stride(from: shuffled.count - 1, to: 0, by: -1) { shuffled.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let perm = shuffled
        let index = (0..<256).map { Int32(($0 / 16 + $0 % 16) % 49) }
        let table = (0..<(49 * 2)).map { _ in Float(rng.normal()) * 0.1 }
        let alone = Self.kernels(x, w, perm, index: index, table: table)

        let help = LaneHelp(takesBack: false)  // every half to the helper: the count below is exact
        help.start()
        nonisolated(unsafe) var helped: [[Float]] = []
        // The lane waits for the helper first, so it must run on a thread of its own (a Dispatch
        // iteration may wait for a free worker).
        let finished = DispatchSemaphore(value: 0)
        let lane = Thread {
            helped = help.lane {
                while !help.helperWaits {}
                return Self.kernels(x, w, perm, index: index, table: table)
            }
            finished.signal()
        }
        lane.start()
        while !help.laneRuns {}
        help.serve()
        finished.wait()
        #expect(help.shared == 9, "the helper took halves of \(help.shared) kernels, not of all 9")
        #expect(helped.count == alone.count)
        for (i, (a, b)) in zip(alone, helped).enumerated() {
            #expect(a.elementsEqual(b) { $0.bitPattern == $1.bitPattern }, "output \(i) differs when shared")
        }
    }

    /// A helper that said it waits and then lost its core: the lane posts each half, finds it not
    /// started when its own half is done, and runs it itself (no wait, the same bits).
    @Test func aHelperOffItsCoreNeverHoldsTheLane() {
        var rng = Philox4x64(seed: 6, stream: 0)
        let x = (0..<(2048 * 32)).map { _ in Float(rng.normal()) }
        let w = (0..<(128 * 32)).map { _ in Float(rng.normal()) * 0.2 }
        let perm = (0..<2048).map { Int32((($0 * 37) + 11) % 2048) }
        let index = (0..<256).map { Int32(($0 / 16 + $0 % 16) % 49) }
        let table = (0..<(49 * 2)).map { _ in Float(rng.normal()) * 0.1 }
        let alone = Self.kernels(x, w, perm, index: index, table: table)
        let help = LaneHelp()
        help.start()
        help.helperWaitsOffCore()
        let taken = help.lane { Self.kernels(x, w, perm, index: index, table: table) }
        #expect(help.shared == 0)
        for (i, (a, b)) in zip(alone, taken).enumerated() {
            #expect(a.elementsEqual(b) { $0.bitPattern == $1.bitPattern }, "output \(i) differs when taken back")
        }
    }
}
