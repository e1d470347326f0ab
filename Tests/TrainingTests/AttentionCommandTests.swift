import Evaluation
import Foundation
import LensData
import MiniTrain
import Testing
import _TestSupport

/// `lenspipe attention` end to end, and the properties its numbers rest on.
@Suite(.serialized) struct AttentionCommandTests {
    @Test func attentionDrawsMapsAndReportsTheLensRatio() throws {
        let setup = TrainCommandTests.setup
        let base = TestSupport.tempDir("attention")
        let t = try TestSupport.lenspipe(["train", setup.shards, "-o", base + "/run", "--recipe", setup.recipe, "--epochs", "1", "--quiet"])
        #expect(t.status == 0, "\(t.stderr)")
        let r = try TestSupport.lenspipe(["attention", base + "/run/final.safetensors", setup.shards + "/val", "-o", base + "/att.png",
                                          "--count", "5", "--json", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try TestSupport.json(r.stdout)
        let images = try #require(report["images"] as? [[String: Any]])
        #expect(images.count == 5)
        let heads = try #require(report["heads"] as? Int)
        for image in images { #expect((image["ratioPerHead"] as? [Any])?.count == heads) }
        #expect(report["meanRatio"] is Double)
        #expect(FileManager.default.fileExists(atPath: base + "/att.json"))
        // Three figures, each laid out for a 1200 px page (issue 38).
        for png in ["att.png", "att_heads.png", "att_classes.png"] {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: base + "/" + png)))
            let width = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }
            #expect(width > 0 && width <= 1200, "\(png) is \(width) px wide")
        }
        // Per class: the images of each class, its ratio with a spread, one value per head.
        let classes = try #require(report["classes"] as? [[String: Any]])
        #expect(!classes.isEmpty && classes.compactMap { $0["images"] as? Int }.reduce(0, +) == images.compactMap { $0["label"] as? String }.count)
        for c in classes { #expect((c["ratio_per_head_mean"] as? [Any])?.count == heads && c["ratio_mean"] is Double) }
        // The run kept its middle checkpoint: start, middle and end of training.
        let over = try #require(report["overTraining"] as? [[String: Any]])
        #expect(over.compactMap { $0["stage"] as? String }.count == 3 && over.allSatisfy { $0["meanRatio"] is Double })
        // Bad input: a missing checkpoint and a non-positive count are clear errors.
        let missing = try TestSupport.lenspipe(["attention", base + "/nope.safetensors", setup.shards + "/val", "-o", base + "/x.png", "--quiet"])
        #expect(missing.status != 0 && missing.stderr.contains("nope.safetensors"))
        let zero = try TestSupport.lenspipe(["attention", base + "/run/final.safetensors", setup.shards + "/val", "--count", "0"])
        #expect(zero.status != 0 && zero.stderr.contains("--count"))
    }

    /// Attention maps sum to 1 over the token grid; a uniform map has ratio 1, a map on the lens alone
    /// has ratio 1 / (lens area).
    @Test func mapsAreDistributionsAndTheRatioIsCalibrated() {
        var config = EsViTConfig()
        (config.dim, config.depths, config.heads, config.outDim, config.hidden, config.bottleneck) = (16, [1, 1], [1, 2], 32, 16, 8)
        let trainer = EsViTTrainer(config: config)
        trainer.initialize(seed: 3)
        let S = 32
        var pixels = [Float](repeating: 0, count: S * S), mask = [Bool](repeating: false, count: S * S)
        for y in 8..<24 { for x in 8..<24 { pixels[y * S + x] = 1; mask[y * S + x] = true } }
        let image = LensImage(channels: 1, height: S, width: S, pixels: pixels)
        let maps = AttentionMaps.compute(images: [image, image], masks: [mask, mask], network: trainer.network, arena: trainer.teacher, size: S)
        #expect(maps.count == 2)
        let m = maps[0]
        #expect(m.side == 4 && m.heads == 2)
        for map in m.queryAveraged + m.brightest { #expect(abs(map.reduce(0, +) - 1) < 1e-5) }
        #expect(abs(m.foregroundArea - 0.25) < 1e-6)
        let L = m.side * m.side
        #expect(abs(m.lensRatio([Float](repeating: 1 / Float(L), count: L))! - 1) < 1e-6)
        let onLens = m.foreground.map { $0 / m.foreground.reduce(0, +) }
        #expect(abs(m.lensRatio(onLens)! - 4) < 1e-5)
        #expect(AttentionMaps.compute(images: [image], masks: [[Bool](repeating: false, count: S * S)], network: trainer.network,
                                      arena: trainer.teacher, size: S)[0].lensRatio(m.meanQueryAveraged) == nil)
    }
}
