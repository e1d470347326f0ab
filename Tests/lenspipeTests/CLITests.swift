import Foundation
import Testing
import _TestSupport

/// The `lenspipe` binary, run as a user would.
@Suite struct CLITests {
    let model1 = TestSupport.fixture("deeplense-mini/model1/train")

    @Test func inspectModel1JSON() throws {
        let r = try TestSupport.lenspipe(["inspect", model1, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try TestSupport.json(r.stdout)
        #expect(j["images"] as? Int == 36)
        #expect(j["classes"] as? [String: Int] == ["axion": 12, "cdm": 12, "no_sub": 12])
        #expect(j["shapes"] as? [[Int]] == [[1, 150, 150]])
        #expect(j["dtypes"] as? [String] == ["int64"])
        #expect(j["targets"] as? Int == 12)
        #expect(j["min"] as? Double == 0)
        #expect((j["max"] as? Double ?? 0) > 100)
        #expect((j["errors"] as? [Any])?.isEmpty == true)
    }

    @Test func unreadableFilesAreListedAndTheScanGoesOn() throws {
        let dir = TestSupport.tempDir("cli-bad")
        for c in ["a", "b"] { try FileManager.default.createDirectory(atPath: "\(dir)/\(c)", withIntermediateDirectories: true) }
        let good = try Data(contentsOf: URL(fileURLWithPath: "\(model1)/cdm/" + (try FileManager.default.contentsOfDirectory(atPath: "\(model1)/cdm").sorted()[0])))
        try good.write(to: URL(fileURLWithPath: "\(dir)/a/1.npy"))
        try good.write(to: URL(fileURLWithPath: "\(dir)/b/2.npy"))
        try good.prefix(1000).write(to: URL(fileURLWithPath: "\(dir)/b/3.npy"))
        try Data("this is a text file, not numpy".utf8).write(to: URL(fileURLWithPath: "\(dir)/a/0.npy"))
        let r = try TestSupport.lenspipe(["inspect", dir, "--json"])
        #expect(r.status == 1)
        let j = try TestSupport.json(r.stdout)
        #expect(j["images"] as? Int == 2)
        let errors = try #require(j["errors"] as? [[String: String]])
        #expect(errors.count == 2)
        #expect(errors[0]["path"] == "\(dir)/a/0.npy")
        #expect(errors[0]["message"]?.contains("magic") == true)
        #expect(errors[1]["path"] == "\(dir)/b/3.npy")
        #expect(errors[1]["message"]?.contains("truncated") == true)
        let text = try TestSupport.lenspipe(["inspect", dir])
        #expect(text.status == 1)
        #expect(text.stdout.contains("error:    \(dir)/a/0.npy"))
    }

    @Test func badSourceGivesAClearErrorAndNonZeroExit() throws {
        let r = try TestSupport.lenspipe(["inspect", "/nonexistent/data.npy"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("/nonexistent/data.npy"))
        let h5 = try TestSupport.lenspipe(["inspect", TestSupport.fixture("deeplense-mini/model2.h5")])
        #expect(h5.status != 0)
        #expect(h5.stderr.contains("/train/images"))
        let v = try TestSupport.lenspipe(["synth", "/tmp/x", "--size", "99"])
        #expect(v.status != 0)
        #expect(v.stderr.contains("--image-size must be 64 or 150"))
    }

    @Test func synthHDF5ThenInspectWithCompanionsAndContactSheet() throws {
        let dir = TestSupport.tempDir("cli-synth")
        let s = try TestSupport.lenspipe(["synth", dir, "--count", "9", "--size", "64", "--format", "hdf5", "--quiet", "--threads", "2"])
        #expect(s.status == 0, "\(s.stderr)")
        let r = try TestSupport.lenspipe(["inspect", "\(dir)/lenses.h5:/images", "--labels", "/labels", "--targets", "/mass",
                                          "--classes", "axion,cdm,no_sub", "--json", "--png", "\(dir)/sheet.png"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try TestSupport.json(r.stdout)
        #expect(j["classes"] as? [String: Int] == ["axion": 3, "cdm": 3, "no_sub": 3])
        #expect(j["targets"] as? Int == 3)
        #expect(j["dtypes"] as? [String] == ["float32"])
        let png = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/sheet.png"))
        #expect(png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
    }

    @Test func synthStackReadsBackWithItsClassNames() throws {
        let dir = TestSupport.tempDir("cli-synth-stack")
        let s = try TestSupport.lenspipe(["synth", dir, "--count", "9", "--size", "64", "--format", "stack", "--quiet", "--threads", "2"])
        #expect(s.status == 0, "\(s.stderr)")
        let r = try TestSupport.lenspipe(["inspect", "\(dir)/images.npy", "--labels", "\(dir)/labels.npy", "--targets", "\(dir)/masses.npy", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try TestSupport.json(r.stdout)
        #expect(j["classes"] as? [String: Int] == ["axion": 3, "cdm": 3, "no_sub": 3])
        #expect(j["targets"] as? Int == 3)
    }

    @Test func helpTeaches() throws {
        let r = try TestSupport.lenspipe(["--help"])
        for word in ["inspect", "synth", "demo", "bench", "FILE.h5:/group/dataset"] { #expect(r.stdout.contains(word), "\(word)") }
        let i = try TestSupport.lenspipe(["inspect", "--help"])
        for word in ["--labels", "--targets", "--json", "-o, --output", "Examples"] { #expect(i.stdout.contains(word), "\(word)") }
    }

    @Test func benchReadPrintsJSON() throws {
        let r = try TestSupport.lenspipe(["bench", "read", model1, "--repeats", "1", "--threads", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try TestSupport.json(r.stdout)
        #expect(j["files"] as? Int == 36)
        #expect(j["failed"] as? Int == 0)
        #expect((j["files_per_s"] as? Double ?? 0) > 0)
        #expect((j["mb_per_s"] as? Double ?? 0) > 0)
    }

    @Test func benchReadCountsTheImageBytesOfStacksAndHDF5() throws {
        let dir = TestSupport.tempDir("bench-read")
        for format in ["stack", "hdf5"] {
            let s = try TestSupport.lenspipe(["synth", "\(dir)/\(format)", "--count", "9", "--size", "64", "--format", format, "--quiet", "--threads", "2"])
            #expect(s.status == 0, "\(s.stderr)")
        }
        for source in [["\(dir)/stack/images.npy", "--labels", "\(dir)/stack/labels.npy"], ["\(dir)/hdf5/lenses.h5:/images", "--labels", "/labels"]] {
            let r = try TestSupport.lenspipe(["bench", "read"] + source + ["--repeats", "2", "--threads", "1"])
            #expect(r.status == 0, "\(r.stderr)")
            let j = try TestSupport.json(r.stdout)
            #expect(j["files"] as? Int == 9)
            #expect(j["failed"] as? Int == 0)
            #expect(j["bytes"] as? Int == 9 * 64 * 64 * 4, "\(source[0])")  // float32 images
            #expect((j["mb_per_s"] as? Double ?? 0) > 0, "\(source[0])")
        }
    }

    @Test(arguments: ["none", "minmax", "minmax-dataset", "zscore", "zscore-dataset", "asinh", "log1p"])
    func benchCropTakesEveryNormalisation(_ name: String) throws {
        let r = try TestSupport.lenspipe(["bench", "crop", "--count", "16", "--repeats", "1", "--threads", "1", "--normalize", name])
        #expect(r.status == 0, "\(name): \(r.stderr)")
        let j = try TestSupport.json(r.stdout)
        #expect(j["normalize"] as? String == name)
        #expect(j["images"] as? Int == 16)
        #expect((j["crops_per_s"] as? Double ?? 0) > 0)
    }

    @Test func benchCropRefusesAnUnknownNormalisationListingEveryName() throws {
        let r = try TestSupport.lenspipe(["bench", "crop", "--normalize", "bogus"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("invalid for '--normalize") && r.stderr.contains("none, minmax, minmax-dataset, zscore, zscore-dataset, asinh, asinh-flux, log1p"), "\(r.stderr)")
    }

    @Test func cropReportsKeptFluxFlagsAndDrawsASheet() throws {
        let dir = TestSupport.tempDir("cli-crop")
        let r = try TestSupport.lenspipe(["crop", model1, "--size", "auto", "--normalize", "asinh", "--json", "--png", "\(dir)/crops.png", "--rows", "3"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try TestSupport.json(r.stdout)
        #expect(j["images"] as? Int == 36)
        #expect(j["policy"] as? String == "fixed")
        #expect(j["normalization"] as? String == "asinh")
        let size = try #require(j["size"] as? Int)
        #expect(size >= 76 && size <= 100)
        let kept = try #require(j["kept_flux_share"] as? [String: Double])
        #expect(kept["min"] == 1)
        #expect((j["flags"] as? [String: Int])?.isEmpty == true)
        let png = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/crops.png"))
        #expect(png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
        // A 64 px window cuts DeepLense rings: the report must show it.
        let small = try TestSupport.json(try TestSupport.lenspipe(["crop", model1, "--size", "64", "--json"]).stdout)
        #expect(((small["kept_flux_share"] as? [String: Double])?["min"] ?? 1) < 0.99)
        let bad = try TestSupport.lenspipe(["crop", model1, "--normalize", "bogus"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("invalid for '--normalize") && bad.stderr.contains("zscore-dataset"), "\(bad.stderr)")
    }

    /// One step of a tiny model: `bench train` with these arguments runs in about a second.
    static let tinyBenchTrain = ["bench", "train", "--dim", "16", "--depths", "2,2", "--heads", "2,4", "--out-dim", "64", "--batch", "2",
                                 "--global-size", "32", "--local-size", "16", "--steps", "1", "--threads", "1", "--json"]

    @Test func benchTrainRunsAStepAndSavesACheckpoint() throws {
        let dir = TestSupport.tempDir("bench-train")
        let r = try TestSupport.lenspipe(Self.tinyBenchTrain + ["--local-views", "2", "-o", dir + "/m.safetensors"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try TestSupport.json(r.stdout)
        for key in ["images_per_s", "step_seconds", "peak_rss_mb"] { #expect(j[key] is Double, "\(key)") }
        #expect(FileManager.default.fileExists(atPath: dir + "/m.safetensors"))
        let bad = try TestSupport.lenspipe(["bench", "train", "--global-size", "60"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("not a multiple of the patch") || bad.stderr.contains("does not tile"))
    }

    /// The old spellings (`--out`, `--save`, `--local-crops`) still work, hidden from --help, which
    /// shows the CLI's conventions (`-o/--output`, `--local-views`).
    @Test func oldOptionSpellingsAreHiddenAliases() throws {
        let dir = TestSupport.tempDir("cli-aliases")
        let r = try TestSupport.lenspipe(Self.tinyBenchTrain + ["--local-crops", "1", "--save", dir + "/old.safetensors"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/old.safetensors"))
        for (command, old) in [(["bench", "train"], "--save"), (["bench", "train"], "--local-crops"), (["train"], "--out "), (["finetune"], "--out ")] {
            let help = try TestSupport.lenspipe(["help"] + command).stdout
            #expect(help.contains("-o, --output") && !help.contains(old), "\(command) help: \(old)")
        }
        let missing = try TestSupport.lenspipe(["train", TestSupport.tempDir("cli-aliases-shards")])
        #expect(missing.status != 0 && missing.stderr.contains("-o/--output"), "\(missing.stderr)")
    }
}
