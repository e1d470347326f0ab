import Foundation
import Testing
import _TestSupport

/// Issue 35: examples/pytorch/pretrain_ddp.py runs lenspipe's default recipe in PyTorch and follows
/// `lenspipe train` step for step. From the checkpoint `train` left half-way through a 4-step run, the
/// PyTorch script's last two steps (the same batches, views, masks and schedules, through
/// libLensPipeViews) end on `train`'s final checkpoint within float tolerance, for every tensor, with
/// the default recipe and with every term on; two gloo processes end where one does; `lenspipe eval` scores the result and `lenspipe train --resume`
/// continues a run the script stopped. Runs when python3 has torch (as the PyTorch bridge tests).
@Suite(.enabled(if: PythonViewSamplerTests.hasTorch, "needs torch in python3"))
struct PyTorchPretrainTests {
    static let script = TestSupport.repoRoot + "/examples/pytorch/pretrain_ddp.py"

    func compare(_ a: String, _ b: String, start: String) throws -> [String: Any] {
        let r = try PythonViewSamplerTests.python([TestSupport.repoRoot + "/Tests/helpers/compare_checkpoints.py", a, b, start])
        #expect(r.status == 0, "\(r.stderr)")
        return try TestSupport.json(r.stdout)
    }

    /// `lenspipe train` for 4 steps of `recipe` (6 per epoch), then the script's steps 3-4 from train's
    /// half-way checkpoint on each process count: every tensor within 1e-5 of train's final one (and
    /// within 10% of how far that tensor moved), the weights moved more than 1e-3.
    func expectSameRun(_ dir: String, shards: String, recipe: String, name: String, processes: [Int]) throws {
        let swift = dir + "/swift-" + name
        _ = try TestSupport.lenspipeSucceeding(["train", shards, "-o", swift, "--recipe", recipe, "--epochs", "0.6667", "--quiet"])
        for n in processes {
            let run = dir + "/torch-\(name)-\(n)"
            let launcher = n == 1 ? [Self.script] : ["-m", "torch.distributed.run", "--nproc_per_node", "\(n)", Self.script]
            let r = try PythonViewSamplerTests.python(launcher + [shards, "-o", run, "--recipe", recipe, "--init", swift + "/middle.safetensors",
                                                                 "--total-steps", "4", "--workers", "1", "--quiet"])
            #expect(r.status == 0, "\(name), \(n) process(es): \(r.stderr)")
            let c = try compare(run + "/final.safetensors", swift + "/final.safetensors", start: swift + "/middle.safetensors")
            #expect(c["steps"] as? [Int] == [4, 4] && c["same_names"] as? Bool == true && c["integers_equal"] as? Bool == true, "\(c)")
            let diff = try #require(c["max_diff"] as? Double), moved = try #require(c["moved"] as? Double)
            let relative = try #require(c["max_relative"] as? Double)
            #expect(diff < 1e-5 && relative < 0.1 && moved > 1e-3,
                    "\(name), \(n) process(es): max difference \(diff) (\(c["worst"] ?? "-")), \(relative) of its movement (\(c["worst_relative"] ?? "-")), the weights moved \(moved)")
            // The last step's metrics line: the same losses, teacher entropies and feature statistics.
            func lastStep(_ folder: String) throws -> [String: Any] {
                let lines = try String(contentsOfFile: folder + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
                return try #require(try lines.map { try TestSupport.json(String($0)) }.last { $0["loss"] != nil && $0["step"] as? Int == 4 })
            }
            let (ours, theirs) = (try lastStep(run), try lastStep(swift))
            for key in ["loss", "view_loss", "region_loss", "masked_loss", "mim_loss", "teacher_entropy_view", "teacher_entropy_region",
                        "teacher_entropy_view_mean", "teacher_entropy_region_mean", "feature_std", "effective_rank", "lr"] {
                let (a, b) = (try #require(ours[key] as? Double, "\(key)"), try #require(theirs[key] as? Double, "\(key)"))
                #expect(abs(a - b) <= 1e-5 * max(1, abs(b)), "\(name), \(n) process(es): \(key) \(a) against train's \(b)")
            }
        }
    }

    @Test func pytorchStepsEqualLenspipeTrainsOnOneAndTwoProcesses() throws {
        let dir = TestSupport.tempDir("pretrain-ddp")
        _ = try TestSupport.lenspipeSucceeding(["synth", "-o", dir + "/data", "--count", "120", "--image-size", "64", "--seed", "35", "--quiet"])
        _ = try TestSupport.lenspipeSucceeding(["preprocess", dir + "/data", "-o", dir + "/shards", "--split", "train=0.8,val=0.2", "--quiet"])
        let shards = dir + "/shards"
        // The default recipe (SimMIM's term) with a learning rate large enough that two steps move the
        // weights far beyond float noise.
        let recipe = dir + "/recipe.json"
        try #"{"batch": 16, "epochs": 1, "optimizer": {"baseLR": 0.05}, "monitor": {"metricsEvery": 1, "knnEvery": 0}}"#
            .write(toFile: recipe, atomically: true, encoding: .utf8)
        try expectSameRun(dir, shards: shards, recipe: recipe, name: "simmim", processes: [1, 2])
        // The script's own --resume: stopped after one of the two steps and resumed, it ends where the
        // uninterrupted run did, bit for bit.
        let stopped = dir + "/torch-stopped"
        for extra in [["--recipe", recipe, "--init", dir + "/swift-simmim/middle.safetensors", "--total-steps", "4", "--steps", "1"], ["--resume"]] {
            let r = try PythonViewSamplerTests.python([Self.script, shards, "-o", stopped, "--workers", "1", "--quiet"] + extra)
            #expect(r.status == 0, "\(extra): \(r.stderr)")
        }
        let ownResume = try compare(stopped + "/final.safetensors", dir + "/torch-simmim-1/final.safetensors", start: dir + "/swift-simmim/middle.safetensors")
        #expect(ownResume["max_diff"] as? Double == 0 && ownResume["steps"] as? [Int] == [4, 4], "\(ownResume)")
        // Every term at once: EsViT's view, region and masked-token terms (teacher, centres, local crops,
        // the standardised view head's running moments, the last layers frozen for steps 0-2) and SimMIM's.
        let every = dir + "/every-term.json"
        try #"{"batch": 16, "epochs": 1, "optimizer": {"baseLR": 0.05, "freezeLastLayerMaxFraction": 0.75}, "loss": {"view": 0.5, "region": 0.5, "masked": 0.3}, "mim": {"weight": 0.5}, "views": {"local": {"count": 2}}, "monitor": {"metricsEvery": 1, "knnEvery": 0}}"#
            .write(toFile: every, atomically: true, encoding: .utf8)
        try expectSameRun(dir, shards: shards, recipe: every, name: "every-term", processes: [2])

        // The acceptance commands: 2 processes stop after 3 steps of 6; eval scores it; train --resume ends it.
        let partial = dir + "/partial"
        let r = try PythonViewSamplerTests.python(["-m", "torch.distributed.run", "--nproc_per_node", "2", Self.script, shards, "-o", partial,
                                                   "--recipe", recipe, "--steps", "3", "--workers", "0", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let e = try TestSupport.lenspipeSucceeding(["eval", partial + "/final.safetensors", "--train", shards + "/train", "--test", shards + "/val",
                                                    "--json", "--quiet"])
        let rows = try #require(try TestSupport.json(e.stdout)["rows"] as? [[String: Any]])
        #expect(rows.contains { $0["features"] as? String == "trained (teacher)" && $0["probe_macro_auc"] is Double }, "\(rows)")
        let resumed = try TestSupport.lenspipeSucceeding(["train", shards, "-o", partial, "--resume"])
        #expect(resumed.stdout.contains("resuming \(partial) at step 3 of 6") || resumed.stderr.contains("resuming \(partial) at step 3 of 6"),
                "\(resumed.stdout)\(resumed.stderr)")
        let run = try TestSupport.json(try String(contentsOfFile: partial + "/run.json", encoding: .utf8))
        #expect(run["finished"] as? Bool == true && run["totalSteps"] as? Int == 6, "\(run)")
    }

    /// Bad input gets one line naming the problem, exit 1, no traceback: a recipe lenspipe refuses, a
    /// folder that holds no shards, a batch the processes cannot share.
    @Test func refusesBadInput() throws {
        let dir = TestSupport.tempDir("pretrain-refuse")
        _ = try TestSupport.lenspipeSucceeding(["synth", "-o", dir + "/data", "--count", "40", "--image-size", "64", "--seed", "3", "--quiet"])
        _ = try TestSupport.lenspipeSucceeding(["preprocess", dir + "/data", "-o", dir + "/shards", "--quiet"])
        try #"{"batch": 8, "mim": {"ratio": 1.5}}"#.write(toFile: dir + "/bad.json", atomically: true, encoding: .utf8)
        let r = try PythonViewSamplerTests.python([Self.script, dir + "/shards", "-o", dir + "/run", "--recipe", dir + "/bad.json"])
        #expect(r.status == 1 && r.stderr.contains("mim.ratio") && !r.stderr.contains("Traceback"), "\(r.status) \(r.stderr)")
        let missing = try PythonViewSamplerTests.python([Self.script, dir + "/nothing", "-o", dir + "/run2"])
        #expect(missing.status == 1 && missing.stderr.contains("nothing") && !missing.stderr.contains("Traceback"), "\(missing.stderr)")
    }
}
