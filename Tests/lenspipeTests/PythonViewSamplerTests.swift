import Foundation
import Testing
import _TestSupport

/// Issue 35: python/lenspipe's ViewSampler (the Swift sampler through libLensPipeViews' C ABI) makes the
/// same views as `lenspipe preview --save-views`, bit for bit, on shards with their stored lens masks;
/// and reports bad input as a Python exception with the library's message. Needs numpy (and zstandard
/// for the helper's independent shard reader), which scripts/install-deps.sh installs.
@Suite struct PythonViewSamplerTests {
    /// The library the test build wrote beside the `lenspipe` binary (.so on Linux, .dylib on macOS).
    static var library: String {
        let dir = (TestSupport.lenspipeBinary as NSString).deletingLastPathComponent
        return ["so", "dylib"].map { dir + "/libLensPipeViews." + $0 }.first { FileManager.default.fileExists(atPath: $0) } ?? dir + "/libLensPipeViews.so"
    }

    /// python3 with the checkout's package and the debug build's library (`swift build --build-tests`
    /// builds the dynamic library product beside the binary).
    static func python(_ arguments: [String]) throws -> TestSupport.ProcessResult {
        guard FileManager.default.fileExists(atPath: library) else { throw TestFailure("\(library) was not built") }
        return try TestSupport.run("/usr/bin/env", ["python3"] + arguments,
                                   environment: ["LENSPIPE_VIEWS_LIBRARY": library, "PYTHONPATH": TestSupport.repoRoot + "/python"])
    }

    @Test func pythonViewsEqualPreviewsSavedViews() throws {
        let dir = TestSupport.tempDir("pyviews")
        _ = try TestSupport.lenspipeSucceeding(["synth", "-o", dir + "/data", "--count", "48", "--image-size", "64", "--seed", "35", "--quiet"])
        _ = try TestSupport.lenspipeSucceeding(["preprocess", dir + "/data", "-o", dir + "/shards", "--split", "train=0.75,val=0.25", "--quiet"])
        // The default training recipe with 4 local views of 24 px and a rejection that has work to do.
        var recipe = try TestSupport.json(try TestSupport.lenspipeSucceeding(["train", "--print-recipe"]).stdout)
        var views = try #require(recipe["views"] as? [String: Any])
        var local = try #require(views["local"] as? [String: Any])
        local["count"] = 4
        local["size"] = 24
        views["local"] = local
        recipe["views"] = views
        try JSONSerialization.data(withJSONObject: recipe).write(to: URL(fileURLWithPath: dir + "/recipe.json"))
        try JSONSerialization.data(withJSONObject: views).write(to: URL(fileURLWithPath: dir + "/views.json"))
        _ = try TestSupport.lenspipeSucceeding(["preview", dir + "/shards/train", "-o", dir + "/views.png", "--pairs", "6", "--seed", "9", "--epoch", "3",
                    "--recipe", dir + "/views.json", "--save-views", dir + "/saved", "--quiet"])
        let r = try Self.python([TestSupport.repoRoot + "/Tests/helpers/python_views.py", dir + "/shards/train", dir + "/recipe.json",
                                 "9", "3", "6", dir + "/saved"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = try TestSupport.json(r.stdout)
        #expect(out["global_shape"] as? [Int] == [6, 2, 1, 64, 64] && out["local_shape"] as? [Int] == [6, 4, 1, 24, 24], "\(out)")
        for key in ["global_equal", "local_equal", "boxes_equal", "order_independent", "epoch_changes_views"] {
            #expect(out[key] as? Bool == true, "\(key): \(out)")
        }
    }

    /// `lenspipe.mds.LocalShards` (the package's reader for local shards, used by pretrain_ddp.py when
    /// mosaicml-streaming is not installed) reads every sample and column as read_mds.py does; a
    /// truncated shard and a missing folder are MDSFormatErrors that name the file.
    @Test func localShardsReadWhatTheIndependentReaderReads() throws {
        let dir = TestSupport.tempDir("local-shards")
        _ = try TestSupport.lenspipeSucceeding(["synth", "-o", dir + "/data", "--count", "160", "--image-size", "64", "--seed", "8", "--quiet"])
        // 1 MiB shards (about 50 images each), so that the reader crosses shard boundaries.
        _ = try TestSupport.lenspipeSucceeding(["preprocess", dir + "/data", "-o", dir + "/shards", "--shard-mib", "1", "--quiet"])
        let r = try Self.python([TestSupport.repoRoot + "/Tests/helpers/local_shards.py", dir + "/shards", dir])
        #expect(r.status == 0, "\(r.stderr)")
        let out = try TestSupport.json(r.stdout)
        #expect(out["samples"] as? Int == 160 && out["same"] as? Bool == true, "\(out)")
        let damaged = try #require(out["damaged_error"] as? String), file = try #require(out["damaged_file"] as? String)
        #expect(damaged.contains(file), "\(damaged)")
        #expect((out["missing_error"] as? String)?.contains("index.json") == true, "\(out)")
    }

    /// Whether this machine's python3 has torch (the torch suite runs only then, as .ci/run installs none).
    static let hasTorch: Bool = (try? TestSupport.run("/usr/bin/env", ["python3", "-c", "import torch"]).status == 0) ?? false

    /// `lenspipe.torch_data.ViewBatches` in a DataLoader with 2 workers for each of 2 DDP ranks: every
    /// sample once per epoch, equal batch counts per rank, each batch's views those of `ViewSampler.views`
    /// for its ids, and a new order each epoch.
    @Test(.enabled(if: hasTorch, "needs torch in python3"))
    func torchBatchesCoverEverySampleOnceAcrossRanksAndWorkers() throws {
        let r = try Self.python([TestSupport.repoRoot + "/Tests/helpers/torch_view_batches.py"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = try TestSupport.json(r.stdout)
        let epochs = try #require(out["epochs"] as? [String: [String: Any]])
        for (epoch, e) in epochs {
            #expect(e["seen"] as? Int == 40 && e["unique"] as? Int == 40 && e["per_rank"] as? [Int] == [5, 5], "epoch \(epoch): \(e)")
        }
        #expect(epochs.count == 2 && out["views_equal"] as? Bool == true && out["orders_differ"] as? Bool == true, "\(out)")
    }

    @Test func badInputRaisesWithTheLibrarysMessage() throws {
        let script = """
        import numpy as np, lenspipe
        def msg(f):
            try: f()
            except lenspipe.ViewSamplerError as e: return str(e)
            return "no error"
        s = lenspipe.ViewSampler()
        x = np.zeros((2, 32, 32), np.float32); x[1, 3, 4] = np.inf
        print(msg(lambda: s.views(x, sample_ids=[0, 7])))
        print(msg(lambda: s.views(np.zeros((2, 32, 32)), sample_ids=[0, -1])))
        print(msg(lambda: lenspipe.ViewSampler({"views": {"local": {"count": "four"}}})))
        print(msg(lambda: s.views(np.zeros((2, 5)))))
        print(msg(lambda: lenspipe.ViewSampler({"views": {"global": [{"size": 64}, {"size": 48}]}})))
        """
        let r = try Self.python(["-c", script])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 5, "\(r.stdout)")
        #expect(lines[0].contains("image 1 (sample 7)") && lines[0].contains("inf"), "\(lines)")
        #expect(lines[1].contains("sample id -1"), "\(lines)")
        #expect(lines[2].contains("local") && lines[2].contains("count"), "\(lines)")
        #expect(lines[3].contains("[N, C, H, W]"), "\(lines)")
        #expect(lines[4].contains("one size"), "\(lines)")
    }
}
