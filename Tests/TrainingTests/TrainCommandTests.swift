import Foundation
import LensData
import Testing
import MiniTrain
import ShardWriter
@testable import Training
import _TestSupport

/// Images in the train split of a lenspipe output.
enum ShardWriterCount {
    static func train(_ shards: String) throws -> Int { try MDSReader(folder: shards + "/train").count }
}

/// `lenspipe train` end to end on a tiny model and data set: outputs, resume after SIGKILL, NaN stop.
@Suite(.serialized) struct TrainCommandTests {
    /// 64x64 synth lenses -> 32 px shards with train and val splits; a recipe small enough for a debug build.
    static let setup: (shards: String, recipe: String) = {
        let root = TestSupport.tempDir("train-data")
        let shards = root + "/shards"
        _ = try! TestSupport.lenspipe(["synth", root + "/synth", "--count", "72", "--size", "64", "--seed", "5"])
        let pp = try! TestSupport.lenspipe(["preprocess", root + "/synth", shards, "--size", "32", "--split", "train=0.75,val=0.25", "--quiet"])
        precondition(pp.status == 0, pp.stderr)
        let recipe = root + "/recipe.json"
        let json = """
        {"batch": 8, "seed": 3, "loss": {"view": 0.5, "region": 0.5}, "mim": {"weight": 0},
         "model": {"dim": 8, "depths": [1, 1], "heads": [1, 2], "outDim": 32, "hidden": 16, "bottleneck": 8},
         "views": {"global": [{"size": 32, "blur": 1}, {"size": 32, "blur": 0.1}], "local": {"count": 2, "size": 16, "scale": [0.1, 0.4]}},
         "monitor": {"metricsEvery": 1, "checkpointEvery": 2, "knnEvery": 3, "knnTrain": 40, "knnVal": 16}}
        """
        try! json.write(toFile: recipe, atomically: true, encoding: .utf8)
        return (shards, recipe)
    }()

    static func train(_ run: String, _ extra: [String]) throws -> TestSupport.ProcessResult {
        try TestSupport.lenspipe(["train", setup.shards, "-o", run, "--threads", "2"] + extra)
    }

    @Test func writesCheckpointsMetricsAndCurves() throws {
        let run = TestSupport.tempDir("train-run") + "/run"
        let r = try Self.train(run, ["--recipe", Self.setup.recipe, "--epochs", "2", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try TestSupport.json(r.stdout.split(separator: "\n").last.map(String.init) ?? "")
        let perEpoch = try ShardWriterCount.train(Self.setup.shards) / 8
        let total = 2 * perEpoch
        #expect(summary["steps"] as? Int == total)
        let lines = MetricsLog.read(run + "/metrics.jsonl")
        let steps = lines.filter { $0["loss"] != nil }
        #expect(steps.count == total)
        for key in ["loss", "view_loss", "region_loss", "lr", "weight_decay", "momentum", "teacher_temperature", "teacher_entropy_view",
                    "teacher_entropy_view_mean", "teacher_entropy_region", "teacher_entropy_region_mean", "feature_std", "effective_rank",
                    "images_per_s", "data_wait", "log_k"] {
            #expect(steps.allSatisfy { $0[key] is Double }, "\(key)")
        }
        // k-NN at step 0 (random init), every 3 steps, and at the end.
        #expect(lines.compactMap { $0["knn_accuracy"] != nil ? $0["step"] as? Int : nil } == Array(stride(from: 0, to: total, by: 3)) + [total])
        // The linear probe beside every k-NN pass (accuracy and macro AUC in [0, 1]).
        let monitors = lines.filter { $0["knn_accuracy"] != nil }
        #expect(monitors.allSatisfy { m in [m["probe_accuracy"], m["probe_auc"]].allSatisfy { ($0 as? Double).map { (0...1).contains($0) } == true } })
        let png = try Data(contentsOf: URL(fileURLWithPath: run + "/curves.png"))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        let trainer = try Checkpoint.load(from: run + "/final.safetensors")
        #expect(trainer.step == total && trainer.config.dim == 8)
        let meta = try Checkpoint.metadata(at: run + "/final.safetensors")
        #expect(try TrainRecipe.decode(Data(meta["recipe"]!.utf8)).batch == 8)
        // A second run into the same folder is refused; the recipe is printable.
        let again = try Self.train(run, ["--recipe", Self.setup.recipe, "--epochs", "1"])
        #expect(again.status != 0 && again.stderr.contains("--resume"))
        let printed = try TestSupport.lenspipe(["train", "--print-recipe", "--recipe", Self.setup.recipe])
        #expect(try TrainRecipe.decode(Data(printed.stdout.utf8)).model.dim == 8)
    }

    /// The setup's recipe (EsViT's terms) with SimMIM's term alone instead (lens-drawn blocks, normalised
    /// targets, the decoder reading two stages).
    static let mimRecipe: String = {
        let path = TestSupport.tempDir("train-mim") + "/mim.json"
        var recipe = try! JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: setup.recipe))) as! [String: Any]
        recipe["loss"] = ["view": 0, "region": 0]
        recipe["mim"] = ["weight": 1, "masking": "lens", "block": 8, "ratio": 0.5, "normalizeTarget": true, "decoderStages": 2]
        try! JSONSerialization.data(withJSONObject: recipe).write(to: URL(fileURLWithPath: path))
        return path
    }()

    /// Resume repeats the uninterrupted run bit for bit, with EsViT's default objective and with SimMIM's.
    @Test(arguments: [false, true])
    func killedAndResumedEqualsUninterrupted(mim: Bool) throws {
        let recipe = mim ? Self.mimRecipe : Self.setup.recipe
        let base = TestSupport.tempDir("train-resume")
        let whole = base + "/whole", killed = base + "/killed"
        let w = try Self.train(whole, ["--recipe", recipe, "--epochs", "3", "--quiet"])
        #expect(w.status == 0, "\(w.stderr)")

        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestSupport.lenspipeBinary)
        p.arguments = ["train", Self.setup.shards, "-o", killed, "--threads", "2", "--recipe", recipe, "--epochs", "3", "--quiet"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Kill it as soon as its second checkpoint (step 4) exists: mid-run, mid-epoch.
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline {
            if let t = try? Checkpoint.load(from: killed + "/checkpoint.safetensors"), t.step >= 4 { break }
            usleep(20_000)
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(!FileManager.default.fileExists(atPath: killed + "/final.safetensors"))
        let stoppedAt = try Checkpoint.load(from: killed + "/checkpoint.safetensors").step
        let total = 3 * (try ShardWriterCount.train(Self.setup.shards) / 8)
        #expect(stoppedAt >= 4 && stoppedAt < total)

        let r = try Self.train(killed, ["--resume", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let a = try Data(contentsOf: URL(fileURLWithPath: whole + "/final.safetensors"))
        let b = try Data(contentsOf: URL(fileURLWithPath: killed + "/final.safetensors"))
        #expect(a == b, "weights, moments, centres and step equal bit for bit")
        // The log holds every step once, as the uninterrupted run's does.
        let steps = { (run: String) in MetricsLog.read(run + "/metrics.jsonl").filter { $0["loss"] != nil }.compactMap { $0["step"] as? Int } }
        #expect(steps(killed) == Array(1...total) && steps(whole) == Array(1...total))
        let losses = { (run: String) in MetricsLog.read(run + "/metrics.jsonl").compactMap { $0["loss"] as? Double } }
        #expect(losses(killed) == losses(whole))
        if mim {
            let mimLosses = MetricsLog.read(whole + "/metrics.jsonl").compactMap { $0["mim_loss"] as? Double }
            #expect(mimLosses.count == total && mimLosses.allSatisfy { $0 > 0 } && losses(whole) == mimLosses)
            let t = try Checkpoint.load(from: whole + "/final.safetensors")
            #expect(t.config.pixelDecoder && t.student.tensor("decoder.0.weight").shape == [64, 16, 1, 1])
            #expect(t.config.decoderStages == 2 && t.student.tensor("decoder_mid.0.weight").shape == [16, 8, 1, 1])
        }
    }

    /// `--minutes` is a wall-clock budget: the step count is refitted as the run goes, so the run ends
    /// within 3% of it (plus a second for the process around the run, on a machine busy with other tests), the schedules complete.
    @Test func minutesBudgetIsHonoured() throws {
        let run = TestSupport.tempDir("train-budget") + "/run"
        let recipe = Self.setup.recipe  // the data are made before the clock starts
        let t0 = Date()
        let r = try Self.train(run, ["--recipe", recipe, "--minutes", "0.5", "--quiet"])
        let seconds = Date().timeIntervalSince(t0)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(abs(seconds - 30) <= 0.03 * 30 + 1, "a 30 s budget ran \(seconds) s")
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/run.json"))) as! [String: Any]
        let lines = MetricsLog.read(run + "/metrics.jsonl").filter { $0["loss"] != nil }
        let total = try #require(state["totalSteps"] as? Int)
        #expect(lines.last?["step"] as? Int == total)
        // The learning rate's cosine ends where the recipe says, at the run's last step.
        #expect(abs((lines.last?["lr"] as? Double ?? 1) - 1e-6) < 1e-5)
    }

    /// The collapse warning on a small run (docs/science.md, ninth session): with EsViT's view head
    /// (`viewHead: pooled`) the pooled head's teacher goes uniform within a few dozen steps and the
    /// warning fires; the same run with the standardised head (`viewHead: standardized`) learns sharper
    /// targets and stays silent.
    @Test(arguments: ViewHeadInput.allCases)
    func collapseWarningFiresOnlyWithThePooledViewHead(viewHead: ViewHeadInput) throws {
        let base = TestSupport.tempDir("train-collapse")
        _ = try TestSupport.lenspipe(["synth", base + "/synth", "--count", "200", "--size", "64", "--seed", "5"])
        let pp = try TestSupport.lenspipe(["preprocess", base + "/synth", base + "/shards", "--size", "32", "--split", "train=0.8,val=0.2", "--quiet"])
        #expect(pp.status == 0, "\(pp.stderr)")
        let recipe = base + "/recipe.json"
        try """
        {"batch": 16, "seed": 3, "loss": {"view": 0.5, "region": 0.5}, "mim": {"weight": 0},
         "model": {"dim": 16, "depths": [1, 1], "heads": [1, 2], "outDim": 64, "hidden": 32, "bottleneck": 16, "viewHead": "\(viewHead.rawValue)"},
         "views": {"global": [{"size": 32}, {"size": 32}], "local": {"count": 2, "size": 16, "scale": [0.2, 0.4]}},
         "monitor": {"metricsEvery": 2, "knnEvery": 0}}
        """.write(toFile: recipe, atomically: true, encoding: .utf8)
        let r = try TestSupport.lenspipe(["train", base + "/shards", "-o", base + "/run", "--recipe", recipe, "--epochs", "8", "--threads", "2", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = MetricsLog.read(base + "/run/metrics.jsonl").filter { $0["loss"] != nil }
        let fired = lines.contains { ($0["collapse"] as? [String])?.contains("view-uniform") == true }
        let last = try #require(lines.last)
        let share = (last["teacher_entropy_view"] as! Double) / (last["log_k"] as! Double)
        switch viewHead {
        case .pooled:
            #expect(fired && r.stderr.contains("view head collapsed to uniform targets"), "\(r.stderr)")
            #expect(share > 0.9, "view teacher entropy \(share) log K")
        case .standardized:
            #expect(!fired && !r.stderr.contains("collapse warning"), "\(r.stderr)")
            #expect(share < 0.5, "view teacher entropy \(share) log K")
        }
    }

    @Test func nonFiniteStopsTheRunAndKeepsTheLastCheckpoint() throws {
        let base = TestSupport.tempDir("train-nan")
        let recipe = base + "/nan.json"
        try #"{"batch": 8, "model": {"dim": 8, "depths": [1, 1], "heads": [1, 2], "outDim": 32, "hidden": 16, "bottleneck": 8},"#
            .appending(#" "views": {"global": [{"size": 32}, {"size": 32}], "local": {"count": 0, "size": 16}},"#)
            .appending(#" "optimizer": {"baseLR": 1e30, "warmupFraction": 0, "clip": 0}, "monitor": {"checkpointEvery": 1, "knnEvery": 0}}"#)
            .write(toFile: recipe, atomically: true, encoding: .utf8)
        let r = try Self.train(base + "/run", ["--recipe", recipe, "--epochs", "2", "--quiet"])
        #expect(r.status == 1 && !r.stderr.contains("Usage:"), "a failed run is not a usage error: \(r.status) \(r.stderr)")
        #expect(r.stderr.contains("became") && r.stderr.contains("checkpoint"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: base + "/run/final.safetensors"))
        // Either the run failed before its first checkpoint (and says so, and there is none), or the
        // checkpoint it kept loads (Checkpoint.load refuses non-finite weights) and is finite.
        let kept = base + "/run/checkpoint.safetensors"
        if r.stderr.contains("no checkpoint was written yet") {
            #expect(!FileManager.default.fileExists(atPath: kept))
        } else {
            #expect(r.stderr.contains("the last good checkpoint is \(kept)"), "\(r.stderr)")
            #expect(try Checkpoint.load(from: kept).student.valuesAreFinite())
        }
    }
}
