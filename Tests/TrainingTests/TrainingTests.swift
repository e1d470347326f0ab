import Foundation
import Testing
import LensData
import MiniTrain
import PairSampler
import ShardWriter
@testable import Training
import _TestSupport

@Suite struct TrainRecipeTests {
    @Test func defaultsRoundTripAndPartialFilesKeepDefaults() throws {
        let defaults = TrainRecipe()
        #expect(try TrainRecipe.decode(try defaults.json()) == defaults)
        let r = try TrainRecipe.decode(Data(#"{"batch": 16, "optimizer": {"baseLR": 0.001}, "views": {"local": {"count": 2, "size": 16}}}"#.utf8))
        #expect(r.batch == 16 && r.optimizer.baseLR == 0.001)
        #expect(r.optimizer.weightDecay == defaults.optimizer.weightDecay && r.teacher == defaults.teacher)
        #expect(r.views.local.count == 2 && r.views.local.size == 16 && r.views.global == defaults.views.global)
        #expect(abs(r.peakLR - 0.001 * 16 / 256) < 1e-12)
    }

    @Test func unknownFieldsAndBadValuesAreNamed() throws {
        #expect(throws: RecipeError.self) { try TrainRecipe.decode(Data(#"{"optimiser": {"baseLR": 1}}"#.utf8)) }
        do { _ = try TrainRecipe.decode(Data(#"{"optimizer": {"baseLr": 1}}"#.utf8)); Issue.record("no error") } catch {
            #expect("\(error)".contains("optimizer.baseLr"))
        }
        var r = TrainRecipe()
        r.model.depths = [2, 2]
        #expect(throws: RecipeError.self) { try r.validate() }
        r = TrainRecipe()
        r.views.global[0].size = 60  // 60 / patch 4 = 15: no 4x4 windows
        r.views.global[1].size = 60
        #expect(throws: RecipeError.self) { try r.validate() }
        r = TrainRecipe()
        r.loss.maskRatio = [0.5, 0.1]
        do { try r.validate(); Issue.record("no error") } catch { #expect("\(error)".contains("loss.maskRatio")) }
        r = TrainRecipe()
        (r.loss.view, r.loss.region, r.loss.masked) = (0, 0, 1)  // the masked-token term alone is a valid objective
        try r.validate()
    }

    /// The masked-token draw: a pure function of (seed, step), the asked share of rows, each masked row
    /// blanking a share of its tokens within the range.
    @Test func tokenMasksAreSeededAndWithinTheirRanges() {
        let a = TokenMaskDraw.draw(seed: 4, step: 17, rows: 400, grid: 4, share: 0.5, ratio: [0.25, 0.5])
        #expect(a == TokenMaskDraw.draw(seed: 4, step: 17, rows: 400, grid: 4, share: 0.5, ratio: [0.25, 0.5]))
        #expect(a != TokenMaskDraw.draw(seed: 4, step: 18, rows: 400, grid: 4, share: 0.5, ratio: [0.25, 0.5]))
        let perRow = (0..<400).map { r in (0..<16).filter { a[r * 16 + $0] }.count }
        let masked = perRow.filter { $0 > 0 }
        #expect(masked.allSatisfy { (4...8).contains($0) })
        #expect(abs(Double(masked.count) / 400 - 0.5) < 0.1)
        #expect(TokenMaskDraw.draw(seed: 4, step: 1, rows: 10, grid: 4, share: 0, ratio: [0.1, 0.5]).allSatisfy { !$0 })
    }
}

@Suite struct TrainScheduleTests {
    @Test func warmupCosineAndTemperature() {
        var r = TrainRecipe()
        r.batch = 64
        r.optimizer.baseLR = 4e-4
        r.optimizer.minLR = 1e-6
        r.optimizer.warmupFraction = 0.1
        r.teacher.warmupTemperature = 0.02
        r.teacher.temperature = 0.06
        r.teacher.temperatureWarmupFraction = 0.5
        let s = TrainSchedule(recipe: r, totalSteps: 1000, stepsPerEpoch: 50)
        let peak: Float = 4e-4 * 64 / 256
        #expect(s.values(at: 0).lr == 0)
        #expect(abs(s.values(at: 50).lr - peak / 2) < 1e-9)
        #expect(abs(s.values(at: 100).lr - peak) < 1e-9)
        #expect(abs(s.values(at: 550).lr - (1e-6 + (peak - 1e-6) / 2)) < 1e-8)  // half-way down the cosine
        #expect(s.values(at: 999).lr < 2e-6)
        #expect(abs(s.values(at: 0).weightDecay - 0.04) < 1e-7 && abs(s.values(at: 999).weightDecay - 0.4) < 1e-6)
        #expect(abs(s.values(at: 0).momentum - 0.996) < 1e-7 && abs(s.values(at: 999).momentum - 1) < 1e-6)
        #expect(abs(s.values(at: 250).teacherTemperature - 0.04) < 1e-6 && s.values(at: 700).teacherTemperature == 0.06)
        // Frozen for one epoch (50 steps), capped at 10% of the run.
        #expect(s.values(at: 49).freezeLastLayer && !s.values(at: 50).freezeLastLayer)
        #expect(TrainSchedule(recipe: r, totalSteps: 100, stepsPerEpoch: 50).frozenLastLayerSteps == 10)
        for step in 1..<1000 { #expect(s.values(at: step).momentum >= s.values(at: step - 1).momentum) }
    }
}

@Suite struct CollapseMonitorTests {
    @Test func firesOncePerKindAfterPatience() {
        var m = CollapseMonitor(outDim: 1024, entropyShare: 0.95, minFeatureStd: 1e-3, patience: 3)
        let logK = log(1024.0)
        var fired: [String] = []
        for _ in 0..<2 { fired += m.observe(viewEntropy: logK, viewMeanEntropy: logK, regionEntropy: 2, regionMeanEntropy: 5, featureStd: 0.1, viewActive: true, regionActive: true) }
        #expect(fired.isEmpty)
        for _ in 0..<5 { fired += m.observe(viewEntropy: logK, viewMeanEntropy: logK, regionEntropy: 2, regionMeanEntropy: 5, featureStd: 0.1, viewActive: true, regionActive: true) }
        #expect(fired.count == 1 && fired[0].contains("view head collapsed to uniform"))
        #expect(m.fired == ["view-uniform"])
        fired = m.observe(viewEntropy: 1, viewMeanEntropy: 5, regionEntropy: 1, regionMeanEntropy: 0.01, featureStd: 1e-5, viewActive: true, regionActive: true)
        #expect(fired.isEmpty)  // not yet `patience` in a row
        var silent = CollapseMonitor(outDim: 1024, entropyShare: 0.95, minFeatureStd: 1e-3, patience: 1)
        #expect(silent.observe(viewEntropy: logK, viewMeanEntropy: logK, regionEntropy: 3, regionMeanEntropy: 6, featureStd: 0.1,
                               viewActive: false, regionActive: true).isEmpty)  // a head weighted 0 is not judged
    }
}
