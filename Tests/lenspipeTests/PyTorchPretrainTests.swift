import Foundation
import Testing
import _TestSupport

/// Issue 35: examples/pytorch/pretrain_ddp.py runs lenspipe's default recipe in PyTorch and follows
/// `lenspipe train` step for step. From the checkpoint `train` left half-way through a 4-step run, the
/// PyTorch script's last two steps (the same batches, views, masks and schedules, through
/// libLensPipeViews) end on `train`'s final checkpoint within float tolerance, for every tensor; two
/// gloo processes end where one does; `lenspipe eval` scores the result and `lenspipe train --resume`
/// continues a run the script stopped. Runs when python3 has torch (as the PyTorch bridge tests).
@Suite(.enabled(if: PythonViewSamplerTests.hasTorch, "needs torch in python3"))
struct PyTorchPretrainTests {
    static let script = TestSupport.repoRoot + "/examples/pytorch/pretrain_ddp.py"

    func compare(_ a: String, _ b: String, start: String) throws -> [String: Any] {
        let r = try PythonViewSamplerTests.python([TestSupport.repoRoot + "/Tests/helpers/compare_checkpoints.py", a, b, start])
        #expect(r.status == 0, "\(r.stderr)")
        return try TestSupport.json(r.stdout)
    }

    @Test func pytorchStepsEqualLenspipeTrainsOnOneAndTwoProcesses() throws {
        let dir = TestSupport.tempDir("pretrain-ddp")
        _ = try TestSupport.lenspipeSucceeding(["synth", "-o", dir + "/data", "--count", "120", "--image-size", "64", "--seed", "35", "--quiet"])
        _ = try TestSupport.lenspipeSucceeding(["preprocess", dir + "/data", "-o", dir + "/shards", "--split", "train=0.8,val=0.2", "--quiet"])
        // A learning rate large enough that two steps move the weights far beyond float noise.
        let recipe = dir + "/recipe.json"
        try #"{"batch": 16, "epochs": 1, "optimizer": {"baseLR": 0.05}, "monitor": {"metricsEvery": 1, "knnEvery": 0}}"#
            .write(toFile: recipe, atomically: true, encoding: .utf8)
        let shards = dir + "/shards", swift = dir + "/swift"
        _ = try TestSupport.lenspipeSucceeding(["train", shards, "-o", swift, "--recipe", recipe, "--epochs", "0.6667", "--quiet"])  // 4 steps of 6 per epoch

        for processes in [1, 2] {
            let run = dir + "/torch\(processes)"
            let launcher = processes == 1 ? [Self.script] : ["-m", "torch.distributed.run", "--nproc_per_node", "2", Self.script]
            let r = try PythonViewSamplerTests.python(launcher + [shards, "-o", run, "--recipe", recipe, "--init", swift + "/middle.safetensors",
                                                                 "--total-steps", "4", "--workers", "1", "--quiet"])
            #expect(r.status == 0, "\(processes) process(es): \(r.stderr)")
            let c = try compare(run + "/final.safetensors", swift + "/final.safetensors", start: swift + "/middle.safetensors")
            #expect(c["steps"] as? [Int] == [4, 4] && c["same_names"] as? Bool == true && c["integers_equal"] as? Bool == true, "\(c)")
            let diff = try #require(c["max_diff"] as? Double), moved = try #require(c["moved"] as? Double)
            #expect(diff < 1e-5 && moved > 1e-3, "\(processes) process(es): max difference \(diff) (\(c["worst"] ?? "-")), the weights moved \(moved)")
        }

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

    /// Bad input: a recipe with EsViT's terms is refused with a message, and so is a run folder in use.
    @Test func refusesWhatItCannotRun() throws {
        let dir = TestSupport.tempDir("pretrain-refuse")
        _ = try TestSupport.lenspipeSucceeding(["synth", "-o", dir + "/data", "--count", "40", "--image-size", "64", "--seed", "3", "--quiet"])
        _ = try TestSupport.lenspipeSucceeding(["preprocess", dir + "/data", "-o", dir + "/shards", "--quiet"])
        try #"{"batch": 8, "loss": {"view": 0.5, "region": 0.5}, "mim": {"weight": 0}}"#.write(toFile: dir + "/esvit.json", atomically: true, encoding: .utf8)
        let r = try PythonViewSamplerTests.python([Self.script, dir + "/shards", "-o", dir + "/run", "--recipe", dir + "/esvit.json"])
        #expect(r.status == 1 && r.stderr.contains("SimMIM's term alone"), "\(r.status) \(r.stderr)")
        let missing = try PythonViewSamplerTests.python([Self.script, dir + "/nothing", "-o", dir + "/run2"])
        #expect(missing.status == 1 && missing.stderr.contains("nothing") && !missing.stderr.contains("Traceback"), "\(missing.stderr)")
    }
}
