import Foundation
import Testing
import FeatureMetrics
import MiniTrain
import ShardWriter
import Training
@testable import FineTune
import _TestSupport

/// `lenspipe finetune` end to end on tiny shards and a tiny checkpoint, for both tasks: outputs,
/// report fields, a checkpoint that reloads (through `Checkpoint.load`, `embed`, and
/// `FineTuneCheckpoint.load` with the same test scores), and the errors for unusable inputs.
@Suite(.serialized) struct FineTuneCommandTests {
    /// 64 px synth lenses (pickled axion files carry the mass) -> 32 px train/val/test shards; a tiny
    /// randomly initialised checkpoint whose recipe says 32 px global views.
    static let setup: (shards: String, checkpoint: String, root: String) = {
        let root = TestSupport.tempDir("finetune-data")
        let shards = root + "/shards"
        _ = try! TestSupport.lenspipe(["synth", root + "/synth", "--count", "90", "--size", "64", "--seed", "5"])
        let pp = try! TestSupport.lenspipe(["preprocess", root + "/synth", shards, "--size", "32", "--split", "train=0.6,val=0.2,test=0.2", "--quiet"])
        precondition(pp.status == 0, pp.stderr)
        let checkpoint = root + "/tiny.safetensors"
        try! saveCheckpoint(checkpoint, channels: 1)
        return (shards, checkpoint, root)
    }()

    static func saveCheckpoint(_ path: String, channels: Int) throws {
        var recipe = TrainRecipe()
        recipe.model = FineTuneTrainerTests.config
        recipe.views.global[0].size = 32
        recipe.views.global[1].size = 32
        let t = EsViTTrainer(config: recipe.config(channels: channels))
        t.initialize(seed: 7)
        try Checkpoint.save(t, to: path, metadata: ["recipe": String(decoding: try recipe.json(), as: UTF8.self)])
    }

    static func finetune(_ extra: [String], shards: String = setup.shards, checkpoint: String = setup.checkpoint) throws -> TestSupport.ProcessResult {
        try TestSupport.lenspipe(["finetune", checkpoint, shards, "--batch", "8", "--threads", "2", "--quiet"] + extra)
    }

    static func tensor(_ path: String, _ name: String) throws -> [Float] { try Checkpoint.tensors(at: path, names: [name])[0].values }

    /// `--curve`: both starts at every fraction and seed; each cell is the fine-tune `--label-fraction`
    /// (and `--from-scratch`) gives alone, the points are their means, val is sub-sampled at the same
    /// fraction, and a second call reads the cells instead of training them again.
    @Test func curveRunsBothStartsAtEveryFractionAndSeed() throws {
        let out = TestSupport.tempDir("ft-curve") + "/curve"
        let r = try Self.finetune(["--task", "classify", "--curve", "0.34,1", "--seeds", "0,1", "--epochs", "1", "--evaluations", "1", "-o", out, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try TestSupport.json(r.stdout)
        let cells = try #require(report["cells"] as? [[String: Any]])
        #expect(cells.count == 2 * 2 * 2)
        let points = try #require(report["points"] as? [[String: Any]])
        #expect(points.map { $0["fraction"] as? Double } == [0.34, 1])
        // One cell against the same fine-tune run alone.
        let alone = TestSupport.tempDir("ft-curve-alone") + "/scratch"
        let a = try Self.finetune(["--task", "classify", "--label-fraction", "0.34", "--seed", "1", "--from-scratch", "--epochs", "1", "--evaluations", "1",
                                   "-o", alone, "--json"])
        #expect(a.status == 0, "\(a.stderr)")
        let single = try TestSupport.json(a.stdout)
        let cell = try #require(cells.first { $0["start"] as? String == "scratch" && $0["fraction"] as? Double == 0.34 && $0["seed"] as? Int == 1 })
        #expect(cell["accuracy"] as? Double == (single["test"] as? [String: Any])?["accuracy"] as? Double)
        #expect(cell["train_images"] as? Int == single["train_images"] as? Int && cell["val_images"] as? Int == single["val_images"] as? Int)
        let fullVal = try #require(cells.first { $0["fraction"] as? Double == 1 }?["val_images"] as? Int)
        #expect((single["val_images"] as? Int).map { $0 < fullVal } == true, "val is sub-sampled at the label fraction")
        // The point's mean over the two seeds.
        let pre = cells.filter { $0["start"] as? String == "pretrained" && $0["fraction"] as? Double == 1 }.compactMap { $0["accuracy"] as? Double }
        let point = try #require((points[1]["pretrained"] as? [String: Any])?["accuracy"] as? Double)
        #expect(pre.count == 2 && abs(point - (pre[0] + pre[1]) / 2) < 1e-12)
        for file in ["label_efficiency.json", "label_efficiency.png"] { #expect(FileManager.default.fileExists(atPath: out + "/" + file), "\(file)") }
        // Again: every cell is read from its report.
        let again = try Self.finetune(["--task", "classify", "--curve", "0.34,1", "--seeds", "0,1", "--epochs", "1", "--evaluations", "1", "-o", out])
        #expect(again.status == 0 && again.stdout.contains("label fraction"), "\(again.stderr)")
        let bad = try Self.finetune(["--task", "regress", "--curve", "0.5", "-o", out])
        #expect(bad.status != 0 && bad.stderr.contains("--curve is for --task classify"))
    }

    /// `--select`: each rule keeps the pass it names (read back from the val lines of `metrics.jsonl`),
    /// and with `--trace-test` the report's test score is the traced test score of the kept pass.
    @Test(arguments: [FineTuneSelection.accuracy, .loss, .last])
    func selectionKeepsThePassItsRuleNames(_ rule: FineTuneSelection) throws {
        let out = TestSupport.tempDir("ft-select-\(rule)") + "/out"
        let r = try Self.finetune(["--task", "classify", "--epochs", "4", "--evaluations", "4", "--select", rule.rawValue, "--trace-test", "-o", out, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try TestSupport.json(r.stdout)
        let lines = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map { try TestSupport.json(String($0)) }
        let val = lines.filter { $0["split"] as? String == "val" }, traced = lines.filter { $0["split"] as? String == "test_trace" }
        #expect(val.count == 4 && traced.count == 4 && val.map { $0["step"] as? Int } == traced.map { $0["step"] as? Int })
        func number(_ line: [String: Any], _ key: String) -> Double { line[key] as? Double ?? .nan }
        var kept = val[0]
        for line in val.dropFirst() {
            let (a, b) = (number(line, "val_accuracy"), number(kept, "val_accuracy"))
            let (l, m) = (number(line, "val_loss"), number(kept, "val_loss"))
            switch rule {
            case .accuracy: if a > b || (a == b && l < m) { kept = line }
            case .loss: if l < m { kept = line }
            case .last: kept = line
            }
        }
        #expect(report["best_step"] as? Int == kept["step"] as? Int)
        let trace = try #require(traced.first { $0["step"] as? Int == report["best_step"] as? Int })
        let test = try #require(report["test"] as? [String: Any])
        #expect(test["accuracy"] as? Double == trace["test_trace_accuracy"] as? Double && test["loss"] as? Double == trace["test_trace_loss"] as? Double)
        #expect((report["recipe"] as? [String: Any])?["selection"] as? String == rule.rawValue)
    }

    /// `--probe-first 1` is a linear probe: the backbone keeps the source's weights, the head learns;
    /// `0.5` moves the backbone (in the second half).
    @Test func probeFirstFreezesTheBackboneForItsShare() throws {
        let qkv = "layers.0.blocks.0.attn.qkv.weight"
        let source = try Self.tensor(Self.setup.checkpoint, "teacher." + qkv)
        for (share, frozen) in [(1.0, true), (0.5, false)] {
            let out = TestSupport.tempDir("ft-probe-\(share)") + "/out"
            let r = try Self.finetune(["--task", "classify", "--epochs", "2", "--evaluations", "1", "--probe-first", String(share), "-o", out])
            #expect(r.status == 0, "\(r.stderr)")
            let tuned = try Self.tensor(out + "/finetuned.safetensors", "teacher." + qkv)
            #expect((tuned == source) == frozen, "--probe-first \(share)")
        }
        let bad = try Self.finetune(["--task", "classify", "--probe-first", "1.5", "-o", TestSupport.tempDir("ft-probe-bad") + "/out"])
        #expect(bad.status != 0 && bad.stderr.contains("--probe-first"), "\(bad.stderr)")
    }

    @Test func classifyWritesReportFiguresAndAReloadableCheckpoint() throws {
        let out = TestSupport.tempDir("ft-classify") + "/out"
        let r = try Self.finetune(["--task", "classify", "--epochs", "2", "--evaluations", "2", "-o", out, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try TestSupport.json(r.stdout)
        let onDisk = try TestSupport.json(String(decoding: try Data(contentsOf: URL(fileURLWithPath: out + "/report.json")), as: UTF8.self))
        #expect(NSDictionary(dictionary: report).isEqual(to: onDisk))
        #expect(report["task"] as? String == "classify" && report["initialization"] as? String == "pretrained (teacher)")
        #expect(report["classes"] as? [String] == ["axion", "cdm", "no_sub"] && report["input_size"] as? Int == 32)
        let steps = try #require(report["steps"] as? Int)
        #expect(steps == 2 * (try #require(report["train_images"] as? Int) / 8))
        #expect((report["best_step"] as? Int).map { [steps / 2, steps].contains($0) } == true)
        let test = try #require(report["test"] as? [String: Any])
        for key in ["accuracy", "macro_auc", "loss"] { #expect(test[key] is Double, "\(key)") }
        #expect((test["auc_per_class"] as? [Any])?.count == 3 && (test["confusion"] as? [Int])?.reduce(0, +) == report["test_images"] as? Int)
        #expect((report["val"] as? [String: Any])?["accuracy"] is Double)
        #expect((report["recipe"] as? [String: Any])?["backboneLRScale"] as? Double == 0.1)
        for file in ["finetuned.safetensors", "report.json", "metrics.jsonl", "roc.png", "confusion.png"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + file), "\(file)")
        }
        let lines = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map { try TestSupport.json(String($0)) }
        #expect(lines.filter { $0["split"] as? String == "val" }.count == 2 && lines.last?["split"] as? String == "test")

        // The checkpoint: an EsViT checkpoint as before (DINO heads and shape of the source, backbone
        // fine-tuned in both student and teacher), plus the head and the metadata.
        let ckpt = out + "/finetuned.safetensors"
        let loaded = try Checkpoint.load(from: ckpt), source = try Checkpoint.load(from: Self.setup.checkpoint)
        #expect(loaded.config == source.config)
        let qkv = "layers.0.blocks.0.attn.qkv.weight", count = loaded.student.tensor(qkv).count
        let tuned = Array(UnsafeBufferPointer(start: loaded.teacher.value(qkv), count: count))
        #expect(tuned == Array(UnsafeBufferPointer(start: loaded.student.value(qkv), count: count)))
        #expect(tuned != Array(UnsafeBufferPointer(start: source.teacher.value(qkv), count: count)))
        let dino = "head.last_layer.weight_v", dinoCount = source.teacher.tensor(dino).count
        #expect(Array(UnsafeBufferPointer(start: loaded.teacher.value(dino), count: dinoCount))
                == Array(UnsafeBufferPointer(start: source.teacher.value(dino), count: dinoCount)))
        #expect(try Checkpoint.tensors(at: ckpt, names: ["head.weight"])[0].shape == [3, source.config.finalDim])
        let meta = try Checkpoint.metadata(at: ckpt)
        #expect(meta["task"] == "classify" && meta["input_size"] == "32" && meta["classes"] == #"["axion","cdm","no_sub"]"#)
        #expect(meta["finetune"] != nil && meta["recipe"] != nil && meta["format"] == "lenspipe-esvit")

        // Reloaded, it scores the test split as the run did; embed reads it too.
        let model = try FineTuneCheckpoint.load(from: ckpt)
        let catalog = try LabelledSplit.Catalog(folder: Self.setup.shards + "/test")
        let split = try LabelledSplit(catalog, indices: Array(0..<catalog.count))
        let probs = model.predict(split.images)
        let accuracy = ClassificationReport(labels: split.labels.map { $0! }, scores: probs, classCount: 3).accuracy
        #expect(abs(accuracy - (test["accuracy"] as! Double)) < 1e-12)
        let e = try TestSupport.lenspipe(["embed", ckpt, Self.setup.shards + "/test", "-o", out + "/feats/test.npy", "--quiet"])
        #expect(e.status == 0 && e.stdout.contains("[\(catalog.count), \(source.config.finalDim)]"), "\(e.stdout)\(e.stderr)")
    }

    @Test func regressOnTheAxionMassFromScratchWithALabelFraction() throws {
        let out = TestSupport.tempDir("ft-regress") + "/out"
        let r = try Self.finetune(["--task", "regress", "--epochs", "3", "--label-fraction", "0.5", "--from-scratch", "-o", out, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try TestSupport.json(r.stdout)
        #expect(report["task"] as? String == "regress" && report["initialization"] as? String == "random init (from scratch)")
        let target = try #require(report["target"] as? [String: Any])
        #expect(target["transform"] as? String == "log10" && target["units"] as? String == "dex")
        // Masses are 10^U(-24, -22) eV: the training mean lies in between.
        #expect((target["mean"] as? Double).map { $0 > -24 && $0 < -22 } == true)
        let axionTrain = try LabelledSplit.Catalog(folder: Self.setup.shards + "/train").usable(for: .regress).count
        #expect((report["train_images"] as? Int).map { $0 >= 1 && $0 < axionTrain } == true, "half of \(axionTrain) axion images")
        let test = try #require(report["test"] as? [String: Any])
        for key in ["mae", "rmse", "bias", "baseline_mae"] { #expect(test[key] is Double, "\(key)") }
        #expect(test.keys.contains("pearson_r") && test["accuracy"] == nil)
        #expect((report["recipe"] as? [String: Any])?["backboneLRScale"] as? Double == 1)
        #expect(FileManager.default.fileExists(atPath: out + "/regression.png") && !FileManager.default.fileExists(atPath: out + "/roc.png"))

        let ckpt = out + "/finetuned.safetensors"
        let model = try FineTuneCheckpoint.load(from: ckpt)
        #expect(model.trainer.task == .regress && model.target?.transform == "log10" && model.trainer.outputs == 1)
        let catalog = try LabelledSplit.Catalog(folder: Self.setup.shards + "/test")
        let split = try LabelledSplit(catalog, indices: try catalog.usable(for: .regress))
        let predicted = model.predict(split.images)
        let mae = RegressionReport(predicted: predicted.map(Double.init), truth: split.targets.map { Foundation.log10($0!) }).mae
        #expect(abs(mae - (test["mae"] as! Double)) < 1e-5)
        #expect(try Checkpoint.load(from: ckpt).config == (try Checkpoint.load(from: Self.setup.checkpoint)).config)
    }

    /// `--minutes` measures the step and fits the step count to the budget.
    @Test func minutesFitTheStepCountToTheBudget() throws {
        let out = TestSupport.tempDir("ft-minutes") + "/out"
        let r = try Self.finetune(["--task", "classify", "--minutes", "0.1", "--label-fraction", "0.1", "-o", out, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try TestSupport.json(r.stdout)
        #expect(report["minutes"] as? Double == 0.1 && (report["measured_step_seconds"] as? Double).map { $0 > 0 } == true)
        #expect((report["steps"] as? Int).map { $0 >= 1 } == true)
        // round(0.1 n), at least one, of each class: fewer images than a batch, so the batch is all of them.
        let labels = try LabelledSplit.Catalog(folder: Self.setup.shards + "/train").labels.map { $0! }
        let expected = Set(labels).map { c in max(1, Int((0.1 * Double(labels.filter { $0 == c }.count)).rounded())) }.reduce(0, +)
        #expect(report["train_images"] as? Int == expected && report["batch"] as? Int == expected)
        #expect((report["seconds"] as? Double).map { $0 < 0.1 * 60 * 2 } == true, "\(report["seconds"] ?? "?") s for a 6 s budget")
    }

    @Test func unusableInputsGiveClearErrors() throws {
        let base = TestSupport.tempDir("ft-errors")
        // A stack without --labels or --targets: shards with neither.
        _ = try TestSupport.lenspipe(["synth", base + "/stack", "--count", "12", "--size", "64", "--seed", "2", "--format", "stack"])
        let pp = try TestSupport.lenspipe(["preprocess", base + "/stack/images.npy", base + "/bare", "--size", "32",
                                            "--split", "train=0.5,val=0.25,test=0.25", "--quiet"])
        #expect(pp.status == 0, "\(pp.stderr)")
        let noLabels = try Self.finetune(["--task", "classify", "--epochs", "1", "-o", base + "/a"], shards: base + "/bare")
        #expect(noLabels.status != 0 && noLabels.stderr.contains("has no label"), "\(noLabels.stderr)")
        let noTargets = try Self.finetune(["--task", "regress", "--epochs", "1", "-o", base + "/b"], shards: base + "/bare")
        #expect(noTargets.status != 0 && noTargets.stderr.contains("no sample has a regression target"), "\(noTargets.stderr)")
        // A checkpoint pre-trained on 2-channel images.
        try Self.saveCheckpoint(base + "/two.safetensors", channels: 2)
        let channels = try Self.finetune(["--task", "classify", "--epochs", "1", "-o", base + "/c"], checkpoint: base + "/two.safetensors")
        #expect(channels.status != 0 && channels.stderr.contains("1 channel, the checkpoint's backbone takes 2"), "\(channels.stderr)")
        // No test split.
        try FileManager.default.createDirectory(atPath: base + "/partial", withIntermediateDirectories: true)
        for split in ["train", "val"] { try FileManager.default.copyItem(atPath: Self.setup.shards + "/" + split, toPath: base + "/partial/" + split) }
        let partial = try Self.finetune(["--task", "classify", "--epochs", "1", "-o", base + "/d"], shards: base + "/partial")
        #expect(partial.status != 0 && partial.stderr.contains("test: no MDS shards"), "\(partial.stderr)")
        let bad = try Self.finetune(["--task", "classify", "--label-fraction", "0", "-o", base + "/e"])
        #expect(bad.status != 0 && bad.stderr.contains("--label-fraction"))
        let help = try TestSupport.lenspipe(["finetune", "--help"])
        #expect(help.status == 0 && help.stdout.contains("lenspipe finetune run1/final.safetensors out --task classify"))
    }
}
