import Foundation
import Testing
import ShardWriter
@testable import FineTune

@Suite struct LabelledSplitTests {
    /// Each class keeps round(f x n) members, at least one; the subset is seeded and sorted.
    @Test func stratifiedSubsampleKeepsTheClassShares() {
        let groups = Array(repeating: 0, count: 50) + Array(repeating: 1, count: 30) + Array(repeating: 2, count: 3)
        let picked = LabelledSplit.stratifiedSubsample(groups: groups, fraction: 0.1, seed: 4)
        #expect(picked == picked.sorted() && Set(picked).count == picked.count)
        #expect([0, 1, 2].map { g in picked.filter { groups[$0] == g }.count } == [5, 3, 1])
        #expect(LabelledSplit.stratifiedSubsample(groups: groups, fraction: 0.1, seed: 4) == picked)
        #expect(LabelledSplit.stratifiedSubsample(groups: groups, fraction: 0.1, seed: 5) != picked)
        #expect(LabelledSplit.stratifiedSubsample(groups: groups, fraction: 1, seed: 4) == Array(groups.indices))
    }

    @Test func quantileBinsByRank() {
        let bins = LabelledSplit.quantileBins([5, 1, 4, 2, 3, 0, 9, 8, 7, 6], bins: 5)
        #expect(bins == [2, 0, 2, 1, 1, 0, 4, 4, 3, 3])
    }

    /// The eight symmetries are distinct permutations of the pixels; four quarter turns are the identity.
    @Test func dihedralSymmetries() {
        let (C, S) = (2, 5)
        let image = (0..<(C * S * S)).map(Float.init)
        let all = (0..<8).map { DihedralAugment.apply($0, to: image, channels: C, size: S) }
        #expect(all[0] == image)
        #expect(Set(all.map { $0.map(Int.init) }).count == 8)
        for out in all {
            #expect(out.sorted() == image)
            for c in 0..<C { #expect(out[(c * S * S)..<((c + 1) * S * S)].allSatisfy { Int($0) / (S * S) == c }) }
        }
        var turned = image
        for _ in 0..<4 { turned = DihedralAugment.apply(1, to: turned, channels: C, size: S) }
        #expect(turned == image)
        #expect(DihedralAugment.apply(4, to: DihedralAugment.apply(4, to: image, channels: C, size: S), channels: C, size: S) == image)
        #expect(DihedralAugment.draw(seed: 1, epoch: 2, sample: 3) == DihedralAugment.draw(seed: 1, epoch: 2, sample: 3))
        #expect(Set((0..<64).map { DihedralAugment.draw(seed: 1, epoch: 0, sample: $0) }).count == 8)
    }

    @Test func targetScaleUsesLog10OnlyForPositiveTargets() {
        #expect(TargetScale.transform(for: [1e-23, 3e-22]) == "log10")
        #expect(TargetScale.transform(for: [-23, -22.5]) == "none")
        let s = TargetScale(transform: "log10", train: [1e-23, 1e-21])
        #expect(abs(s.mean + 22) < 1e-12 && abs(s.std - 1) < 1e-12 && s.units == "dex")
        #expect(abs(s.standardized(1e-21) - 1) < 1e-6 && abs(s.unstandardized(-1) + 23) < 1e-9)
    }
}
