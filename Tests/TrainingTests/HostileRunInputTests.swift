import Foundation
import Testing
import LensData
import MiniTrain
import ShardWriter
import Cropping
import PairSampler
import FeatureMetrics
@testable import Evaluation
@testable import Training
import _TestSupport

/// Issue 36: non-finite pixels and out-of-range labels in shards (items 1, 12, 18), NaN scores (1),
/// `embed` and a user's files (5), edited run folders on `--resume` (9), recipe numbers (10, 19).
@Suite(.serialized) struct HostileRunInputTests {
    /// A tiny trained run on the train command tests' data.
    static let run: String = {
        let run = TestSupport.tempDir("hostile-run") + "/run"
        let r = try! TrainCommandTests.train(run, ["--recipe", TrainCommandTests.setup.recipe, "--epochs", "1", "--quiet"])
        precondition(r.status == 0, r.stderr)
        return run
    }()

    /// A data set root with train/, val/ and test/ splits, each the same 12 labelled 32 px images, one
    /// of them (`img4`) with `bad` at pixel (5, 7); labels 0 and 1 (or `label` for `img3`).
    static func split(_ tag: String, bad: Float? = nil, label: Int = 1) throws -> String {
        let root = TestSupport.tempDir("hostile-split-\(tag)")
        for name in ["train", "val", "test"] { try write(root + "/" + name, bad: bad, label: label) }
        return root
    }

    static func write(_ dir: String, bad: Float?, label: Int) throws {
        let layout = LensShardLayout(channels: 1, height: 32, width: 32, storage: .float32)
        let writer = try MDSWriter(folder: dir, columns: layout.columns)
        var rng = Philox4x64(seed: 9, stream: 0)
        for i in 0..<12 {
            var image = LensImage(channels: 1, height: 32, width: 32)
            for p in image.pixels.indices { image.pixels[p] = Float(abs(rng.normal())) * 0.1 }
            if i == 4, let bad { image.pixels[5 * 32 + 7] = bad }
            try writer.append(record: try layout.record(id: "img\(i)", image: image, label: i == 3 ? label : i % 2, target: nil,
                                                        crop: PixelBox(x0: 0, y0: 0, x1: 32, y1: 32), foreground: Array(repeating: false, count: 32 * 32)))
        }
        try writer.finish()
    }

    @Test(arguments: [Float.nan, .infinity, -.infinity])
    func commandsRefuseNonFinitePixels(pixel: Float) throws {
        let root = try Self.split("px\(pixel)", bad: pixel), split = root + "/train"
        let ckpt = Self.run + "/final.safetensors"
        let name = pixel.isNaN ? "NaN" : "infinite"
        for args in [["eval", ckpt, "--train", split, "--test", split, "-o", TestSupport.tempDir("hostile-eval"), "--quiet"],
                     ["embed", ckpt, split, "-o", TestSupport.tempDir("hostile-embed") + "/f.npy", "--quiet"],
                     ["finetune", ckpt, root, "--task", "classify", "--epochs", "1", "-o", TestSupport.tempDir("hostile-ft") + "/ft", "--quiet"],
                     ["verify", root]] {
            let r = try TestSupport.lenspipe(args, timeout: 120)
            #expect(r.status != 0, "\(args[0]) exit 0 on a \(name) pixel")
            #expect((r.stderr + r.stdout).contains("img4") && (r.stderr + r.stdout).contains(name), "\(args[0]): \(r.stderr)")
        }
    }

    @Test func labelsBeyondTheLimitAndTheClasses() throws {
        let huge = try Self.split("label-huge", label: 100_000) + "/train"
        let r = try TestSupport.lenspipe(["eval", Self.run + "/final.safetensors", "--train", huge, "--test", huge, "-o", TestSupport.tempDir("hostile-eval"), "--quiet"],
                                         timeout: 120)
        #expect(r.status != 0 && r.stderr.contains("label 100000"), "\(r.stderr)")
        #expect(try TestSupport.lenspipe(["verify", huge]).status != 0)
    }

    @Test func nanScoresEndTheROC() {
        let roc = ROCCurve(scores: [0.1, .nan, 0.3, 0.2], positives: [true, false, true, false])
        #expect(roc.auc.isNaN && roc.falsePositiveRate == [0, 1])
        let report = ClassificationReport(labels: [0, 1, 0, 1], predictions: [0, 1, 0, 0], scores: [0.9, 0.1, .nan, .nan, 0.8, 0.2, 0.6, 0.4], classCount: 2)
        #expect(report.accuracy == 0.75 && report.macroAUC.isNaN)
    }

    @Test func embedKeepsTheUsersFiles() throws {
        let dir = TestSupport.tempDir("hostile-embed-own")
        try Data("mine".utf8).write(to: URL(fileURLWithPath: dir + "/labels.npy"))
        let ckpt = Self.run + "/final.safetensors", split = TrainCommandTests.setup.shards + "/val"
        let r = try TestSupport.lenspipe(["embed", ckpt, split, "-o", dir + "/features.npy", "--quiet"])
        #expect(r.status != 0 && r.stderr.contains("--overwrite"), "\(r.stderr)")
        #expect(String(decoding: try Data(contentsOf: URL(fileURLWithPath: dir + "/labels.npy")), as: UTF8.self) == "mine")
        #expect(!FileManager.default.fileExists(atPath: dir + "/features.npy"))
        let again = try TestSupport.lenspipe(["embed", ckpt, split, "-o", dir + "/features.npy", "--quiet", "--overwrite"])
        #expect(again.status == 0, "\(again.stderr)")
    }

    /// `train --resume` on a run folder whose files were edited: refused with the file named.
    @Test func resumeRefusesEditedRunFiles() throws {
        let edits: [(String, String, (inout [String: Any]) -> Void)] = [
            ("batch 0", "recipe.json", { $0["batch"] = 0 }),
            ("no global views", "recipe.json", { r in var v = r["views"] as! [String: Any]; v["global"] = [Any](); r["views"] = v }),
            ("knnK 0", "recipe.json", { r in var m = r["monitor"] as! [String: Any]; m["knnK"] = 0; r["monitor"] = m }),
            ("local count 10000", "recipe.json", { r in var v = r["views"] as! [String: Any]; var l = v["local"] as! [String: Any]; l["count"] = 10_000; v["local"] = l; r["views"] = v }),
            ("another model", "recipe.json", { r in var m = r["model"] as! [String: Any]; m["dim"] = 16; r["model"] = m }),
            ("totalSteps -5", "run.json", { $0["totalSteps"] = -5 }),
            ("totalSteps below the checkpoint's step", "run.json", { $0["totalSteps"] = 1 }),
        ]
        for (what, file, edit) in [("unchanged (the control)", "run.json", { _ in })] + edits {
            let copy = TestSupport.tempDir("hostile-resume") + "/run"
            try FileManager.default.copyItem(atPath: Self.run, toPath: copy)
            try FileManager.default.removeItem(atPath: copy + "/final.safetensors")
            var state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: copy + "/run.json"))) as! [String: Any]
            state["finished"] = false
            try JSONSerialization.data(withJSONObject: state).write(to: URL(fileURLWithPath: copy + "/run.json"))
            var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: copy + "/" + file))) as! [String: Any]
            edit(&json)
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: copy + "/" + file))
            let r = try TrainCommandTests.train(copy, ["--resume", "--quiet"])
            if what.hasPrefix("unchanged") {
                #expect(r.status == 0, "\(what): \(r.stderr)")
                continue
            }
            #expect(r.status != 0 && r.stderr.contains(file), "\(what): \(r.status) \(r.stderr)")
            #expect(!r.stderr.contains("Fatal error"), "\(what): \(r.stderr)")
        }
    }

    @Test func recipeNumbersOutsideTheirRanges() throws {
        let bad = [#"{"views": {"global": []}}"#, #"{"monitor": {"knnK": 0}}"#, #"{"monitor": {"knnK": -5}}"#, #"{"monitor": {"knnTemperature": 0}}"#,
                   #"{"optimizer": {"freezeLastLayerEpochs": 1e300}}"#, #"{"optimizer": {"freezeLastLayerEpochs": -1e300}}"#, #"{"epochs": 1e300}"#,
                   #"{"views": {"global": [{"size": 64, "rotationDegrees": 1e308}]}}"#, #"{"views": {"global": [{"size": 64, "scael": [0.5, 1]}]}}"#,
                   #"{"model": {"dim": 100000}}"#, #"{"model": {"depths": [1000, 1000], "heads": [1, 1]}}"#, #"{"teacher": {"temperature": 1e-30}}"#]
        for text in bad {
            #expect(throws: RecipeError.self, "\(text)") { try TrainRecipe.decode(Data(text.utf8)).validate() }
        }
        // Numbers their field's type cannot hold: the message names the field, not "not valid JSON" (item 20).
        for (text, field) in [(#"{"batch": 1e30}"#, "field batch"), (#"{"batch": 8.5}"#, "field batch"), (#"{"seed": -1}"#, "field seed"),
                              (#"{"teacher": {"temperature": 1e-50}}"#, "field teacher.temperature")] {
            do {
                _ = try TrainRecipe.decode(Data(text.utf8))
                Issue.record("\(text) decoded")
            } catch {
                #expect("\(error)".contains(field) && !"\(error)".contains("not valid JSON"), "\(text): \(error)")
            }
        }
    }

    /// Issue 36, item 19: an id holding a newline keeps `ids.txt` one line per sample.
    @Test func idsWithLineBreaksStayOneLine() {
        #expect(EmbeddedSplit.escapedLine("dir/a\nb\\c\rd.npy") == "dir/a\\nb\\\\c\\rd.npy")
        #expect(EmbeddedSplit.escapedLine("plain/id.npy") == "plain/id.npy")
    }

    /// Recipes with one field set to a hostile number, at random: each decodes and validates or throws
    /// a `RecipeError`; none traps (and a valid one gives a network configuration that lays out).
    @Test func recipeFieldFuzz() throws {
        let defaults = try JSONSerialization.jsonObject(with: try TrainRecipe().json()) as! [String: Any]
        func leaves(_ o: [String: Any], _ prefix: [String]) -> [[String]] {
            o.keys.sorted().flatMap { k -> [[String]] in (o[k] as? [String: Any]).map { leaves($0, prefix + [k]) } ?? [prefix + [k]] }
        }
        func setting(_ path: [String], _ v: Any, in o: [String: Any]) -> [String: Any] {
            var o = o
            o[path[0]] = path.count == 1 ? v : setting(Array(path.dropFirst()), v, in: o[path[0]] as? [String: Any] ?? [:])
            return o
        }
        let paths = leaves(defaults, [])
        let values: [Any] = [0, -1, -5, 1e300, -1e300, 1e-50, 8.5, 1 << 62, 100_000, [Any](), [1000, 1000], "x", true]
        var state: UInt64 = 20
        func next() -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(truncatingIfNeeded: state >> 33) }
        var accepted = 0
        for _ in 0..<400 {
            let path = paths[next() % paths.count], value = values[next() % values.count]
            let user = setting(path, value, in: [:])
            do {
                let recipe = try TrainRecipe.decode(try JSONSerialization.data(withJSONObject: user))
                try recipe.validate()
                _ = EsViTNetwork(config: recipe.config(channels: 1)).layout
                accepted += 1
            } catch is RecipeError {
            } catch {
                Issue.record("\(path) = \(value): \(error) is not a RecipeError")
            }
        }
        #expect(accepted > 0 && accepted < 400)
    }

    /// Issue 36, item 1: a learning rate that makes the weights overflow stops the fine-tune with a
    /// message, in bounded time, instead of looping in the ROC.
    @Test func finetuneWithAnOverflowingLearningRate() throws {
        let root = try Self.split("lr")
        let r = try TestSupport.lenspipe(["finetune", Self.run + "/final.safetensors", root, "--task", "classify", "--epochs", "2", "--lr", "1e30",
                                          "-o", TestSupport.tempDir("hostile-lr") + "/ft", "--quiet"], timeout: 120)
        #expect(r.status != 0 && r.stderr.contains("--lr"), "\(r.status): \(r.stderr)")
    }

    /// Issue 34: the checkpoint records the normalisation of the shards it was trained on, and eval,
    /// embed, attention and finetune refuse shards normalised otherwise, naming both.
    @Test func shardsNormalisedOtherwiseAreRefused() throws {
        let meta = try Checkpoint.metadata(at: Self.run + "/final.safetensors")
        #expect(meta["normalization"] != nil, "train records the shards' normalisation")
        let synth = (TrainCommandTests.setup.shards as NSString).deletingLastPathComponent + "/synth"
        let other = TestSupport.tempDir("hostile-norm") + "/shards"
        let pp = try TestSupport.lenspipe(["preprocess", synth, other, "--size", "32", "--normalize", "zscore", "--split", "train=0.75,val=0.25", "--quiet"])
        #expect(pp.status == 0, "\(pp.stderr)")
        let ckpt = Self.run + "/final.safetensors"
        for args in [["eval", ckpt, "--train", other + "/train", "--test", other + "/val", "--quiet"],
                     ["embed", ckpt, other + "/val", "-o", TestSupport.tempDir("hostile-norm-embed") + "/f.npy", "--quiet"],
                     ["attention", ckpt, other + "/val", "-o", TestSupport.tempDir("hostile-norm-att") + "/a.png", "--count", "4", "--quiet"]] {
            let r = try TestSupport.lenspipe(args, timeout: 120)
            #expect(r.status != 0 && r.stderr.contains("zscore") && r.stderr.contains(ckpt), "\(args[0]): \(r.status) \(r.stderr)")
        }
        // The shards it was trained on pass.
        let same = try TestSupport.lenspipe(["embed", ckpt, TrainCommandTests.setup.shards + "/val", "-o", TestSupport.tempDir("hostile-norm-same") + "/f.npy", "--quiet"])
        #expect(same.status == 0, "\(same.stderr)")
        // The sky-zero radius is part of what the network expects: zscore shards with --sky-zero 3 are
        // refused for a network trained on zscore shards without it, and pass for one trained with it.
        let zeroed = TestSupport.tempDir("hostile-skyzero") + "/shards"
        let pz = try TestSupport.lenspipe(["preprocess", synth, zeroed, "--size", "32", "--normalize", "zscore", "--sky-zero", "3",
                                           "--split", "train=0.75,val=0.25", "--quiet"])
        #expect(pz.status == 0, "\(pz.stderr)")
        let zscore = String(decoding: try JSONEncoder().encode(Normalization.zscore(nil)), as: UTF8.self)
        #expect(throws: LensDataError.self) {
            try DataNormalization.check(metadata: ["normalization": zscore], checkpoint: "ckpt", shards: zeroed + "/val")
        }
        try DataNormalization.check(metadata: ["normalization": zscore, "sky_zero": "3"], checkpoint: "ckpt", shards: zeroed + "/val")
        try DataNormalization.check(metadata: ["normalization": zscore], checkpoint: "ckpt", shards: other + "/val")
    }
}
