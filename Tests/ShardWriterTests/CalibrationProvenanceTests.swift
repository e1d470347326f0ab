import Foundation
import Testing
import Cropping
import LensData
@testable import ShardWriter
import _TestSupport

/// Issue 13: calibration sees training images only, lenspipe.json records every setting (with the
/// tool and command), and `--like` re-applies them to new data.
@Suite struct CalibrationProvenanceTests {
    let root = TestSupport.fixture("deeplense-mini/model1")
    var train: String { root + "/train" }

    func preprocess(_ args: [String]) throws -> TestSupport.ProcessResult {
        let r = try TestSupport.lenspipe(["preprocess"] + args)
        #expect(r.status == 0, "\(r.stderr)")
        return r
    }

    /// With the source's own split folders, calibration reads `train` (36 images), not `test` (12),
    /// which comes first in name order.
    @Test func keepSplitsCalibratesOnTrain() throws {
        let plan = try ShardWriter.Preprocess.plan(splitFoldersUnder: root)
        #expect(plan.inputs.map(\.split) == ["test", "train"])
        let (source, description) = try ShardWriter.Preprocess.calibrationSource(plan: plan, split: .keepSplits, seed: 0)
        #expect(source.count == 36 && description.hasPrefix("split train"))

        let out = TestSupport.tempDir("calib-keep")
        let r = try preprocess([root, out, "--keep-splits", "--size", "auto", "--normalize", "zscore-dataset"])
        #expect(r.stdout.contains("calibrated on 36 images of split train"), "\(r.stdout)")
        let meta = try DatasetMetadata.read(from: out + "/lenspipe.json")
        #expect(meta.calibration?.sampled == 36 && meta.calibration?.on.hasPrefix("split train") == true)
        #expect(meta.calibration?.autoSize == meta.crop.size)
        let expected = CropCalibration.run(source: try NPYFolderSource(root: train), config: CropConfig(size: 64), threads: 1)
        #expect(meta.normalizationSetting == Normalization(name: "zscore-dataset", stats: expected.stats))
        #expect(meta.crop.size == expected.autoSize)
    }

    /// A split root without a train folder cannot be calibrated without leaking: a clear error.
    @Test func keepSplitsWithoutTrainIsRefused() throws {
        let only = TestSupport.tempDir("calib-no-train")
        try FileManager.default.createSymbolicLink(atPath: only + "/test", withDestinationPath: root + "/test")
        let r = try TestSupport.lenspipe(["preprocess", only, TestSupport.tempDir("calib-no-train-out"), "--keep-splits", "--size", "auto"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("calibrate on the train split") && r.stderr.contains("--like"), "\(r.stderr)")
    }

    /// Without a window to measure (`--crop none`) and with a per-image normalisation, a tree without a
    /// train split preprocesses as it is (the help's example): nothing needs calibrating.
    @Test func cropNoneNeedsNoTrainSplit() throws {
        let only = TestSupport.tempDir("calib-none-no-train")
        try FileManager.default.createSymbolicLink(atPath: only + "/test", withDestinationPath: root + "/test")
        let out = TestSupport.tempDir("calib-none-no-train-out")
        let r = try TestSupport.lenspipe(["preprocess", only, "-o", out, "--keep-splits", "--crop", "none", "--normalize", "none", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try DatasetMetadata.read(from: out + "/lenspipe.json").calibration == nil)
    }

    /// With --split, calibration sees exactly the samples the run writes to train.
    @Test func fractionsCalibrateOnTheTrainPart() throws {
        let out = TestSupport.tempDir("calib-split")
        _ = try preprocess([train, out, "--split", "val=0.5,train=0.5", "--normalize", "minmax-dataset", "--quiet"])
        let meta = try DatasetMetadata.read(from: out + "/lenspipe.json")
        let reader = try MDSReader(folder: out + "/train")
        let ids = Set(try (0..<reader.count).map { try ShardSample(try reader.sample(at: $0), index: $0).id })
        #expect(ids.count == 18 && meta.calibration?.sampled == 18)
        #expect(meta.calibration?.on == "the train part of --split (18 of 36 images)")
        let source = try NPYFolderSource(root: train)
        let trainPart = SubsetSource(source, indices: (0..<source.count).filter { ids.contains(source.id(at: $0)) }, summary: "train part")
        let expected = CropCalibration.run(source: trainPart, config: CropConfig(size: 64), threads: 1)
        #expect(meta.normalizationSetting == Normalization(name: "minmax-dataset", stats: expected.stats))
        let whole = CropCalibration.run(source: source, config: CropConfig(size: 64), threads: 1)
        #expect(whole.stats != expected.stats, "the fixture should tell the two apart")
    }

    /// lenspipe.json: the full crop record, the crop summary, the tool version and command line.
    @Test func metadataRecordsProvenanceAndCropSummary() throws {
        let out = TestSupport.tempDir("calib-prov")
        let r = try preprocess([train, out, "--size", "48"])
        #expect(r.stdout.contains("kept flux:"), "\(r.stdout)")
        #expect(r.stdout.contains("warning: the 48 px window cuts lenses"), "\(r.stdout)")
        let meta = try DatasetMetadata.read(from: out + "/lenspipe.json")
        #expect(meta.tool?.version == LensPipeVersion.current)
        #expect(meta.tool?.command.suffix(4) == [train, out, "--size", "48"])
        #expect(meta.cropSummary?.images == 36 && meta.cropSummary?.size == 48)
        let calibration = CropCalibration.run(source: try NPYFolderSource(root: train), config: CropConfig(size: 48), threads: 1)
        #expect(meta.calibration?.sampled == 36, "the default normalisation (auto) is chosen by a calibration pass")
        #expect(try meta.cropConfig(path: "x") == CropConfig.standard(size: 48, calibration: calibration), "the defaults: auto's choice, sky-zero 4")
        let v = try TestSupport.lenspipe(["--version"])
        #expect(v.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == LensPipeVersion.current)
    }

    /// --like OUT crops and normalises new data exactly as OUT was, measuring nothing on it.
    @Test func likeReappliesTheSettings() throws {
        let reference = TestSupport.tempDir("like-ref"), applied = TestSupport.tempDir("like-test")
        _ = try preprocess([train, reference, "--size", "auto", "--normalize", "zscore-dataset", "--dtype", "float16", "--quiet"])
        let r = try preprocess([root + "/test", applied, "--like", reference])
        #expect(r.stdout.contains("settings of \(reference)/lenspipe.json"), "\(r.stdout)")
        let ref = try DatasetMetadata.read(from: reference + "/lenspipe.json"), new = try DatasetMetadata.read(from: applied + "/lenspipe.json")
        #expect(new.crop == ref.crop && new.normalization == "zscore-dataset" && new.storage == "float16")
        #expect(new.calibration?.like == reference + "/lenspipe.json" && new.calibration?.sampled == 0)
        // The stored pixels are those of the reference's cropper, not of a re-calibrated one.
        let cropper = Cropper(config: try ref.cropConfig(path: "ref"))
        let source = try NPYFolderSource(root: root + "/test")
        let stored = try LensShardLayout.image(from: try MDSReader(folder: applied).sample(at: 0)["image"])
        let expected = cropper.crop(try source.sample(at: 0).image).0
        #expect(stored.shape == expected.shape)
        let worst = zip(stored.pixels, expected.pixels).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 1
        #expect(worst < 1e-3, "float16 storage of the reference's crop")
        // Crop options beside --like are refused.
        let clash = try TestSupport.lenspipe(["preprocess", root + "/test", TestSupport.tempDir("like-clash"), "--like", reference, "--size", "64"])
        #expect(clash.status != 0 && clash.stderr.contains("drop --size"), "\(clash.stderr)")
    }

    /// `--asinh-softening S` scales asinh's argument by 1/S, is recorded in lenspipe.json, read back
    /// by the shards' reader and re-applied by `--like`; it is refused without `--normalize asinh`.
    @Test func asinhSofteningIsAppliedRecordedAndReapplied() throws {
        let reference = TestSupport.tempDir("asinh-ref"), applied = TestSupport.tempDir("asinh-like")
        _ = try preprocess([train, reference, "--normalize", "asinh", "--asinh-softening", "3", "--quiet"])
        let ref = try DatasetMetadata.read(from: reference + "/lenspipe.json")
        #expect(ref.normalization == "asinh" && ref.crop.asinhSoftening == 3)
        #expect(ref.normalizationSetting == .asinh(softening: 3))
        #expect(try MDSSource(folder: reference).normalization == .asinh(softening: 3))
        // The stored pixels are asinh(z / 3) of the softening-1 stretch's z = asinh⁻¹ of its pixels.
        let plain = TestSupport.tempDir("asinh-1")
        _ = try preprocess([train, plain, "--normalize", "asinh", "--quiet"])
        #expect(try DatasetMetadata.read(from: plain + "/lenspipe.json").normalizationSetting == .asinh(softening: 1))
        let soft = try LensShardLayout.image(from: try MDSReader(folder: reference).sample(at: 0)["image"]).pixels
        let one = try LensShardLayout.image(from: try MDSReader(folder: plain).sample(at: 0)["image"]).pixels
        let worst = zip(soft, one).map { abs($0 - asinh(sinh($1) / 3)) }.max() ?? 1
        #expect(worst < 1e-4, "worst \(worst)")
        _ = try preprocess([root + "/test", applied, "--like", reference, "--quiet"])
        #expect(try DatasetMetadata.read(from: applied + "/lenspipe.json").crop.asinhSoftening == 3)
        let refused = try TestSupport.lenspipe(["preprocess", train, TestSupport.tempDir("asinh-refused"), "--asinh-softening", "3"])
        #expect(refused.status != 0 && refused.stderr.contains("--normalize asinh"), "\(refused.stderr)")
    }

    /// Issue 34's candidates: `lens-dataset` records the training images' lens brightness, `--sky-zero R`
    /// its radius; both are read back by the shards' reader and re-applied by `--like` (nothing is
    /// measured on the new data); `--sky-zero` after a normalisation that keeps the sky is refused.
    @Test func lensNormalisationAndSkyZeroAreRecordedAndReapplied() throws {
        let reference = TestSupport.tempDir("lens-ref"), applied = TestSupport.tempDir("lens-like")
        _ = try preprocess([train, reference, "--size", "auto", "--normalize", "lens-dataset", "--sky-zero", "4", "--quiet"])
        let ref = try DatasetMetadata.read(from: reference + "/lenspipe.json")
        let flux = try #require(ref.crop.normalizationStats?.flux)
        #expect(ref.normalization == "lens-dataset" && ref.crop.skyZero == 4 && flux > 1, "Model I counts: lens brightness \(flux)")
        #expect(try MDSSource(folder: reference).normalization == ref.normalizationSetting)
        let reader = try MDSReader(folder: reference)
        let pixels = try (0..<min(8, reader.count)).flatMap { try LensShardLayout.image(from: try reader.sample(at: $0)["image"]).pixels }
        #expect(pixels.filter { $0 == 0 }.count > pixels.count / 20, "the far sky is exactly 0")
        #expect((pixels.max() ?? 0) > 0.3 && (pixels.max() ?? 0) < 10, "a lens near 1, not in counts (max \(pixels.max() ?? 0))")
        _ = try preprocess([root + "/test", applied, "--like", reference, "--quiet"])
        let new = try DatasetMetadata.read(from: applied + "/lenspipe.json")
        #expect(new.crop == ref.crop && new.normalization == "lens-dataset")
        let refused = try TestSupport.lenspipe(["preprocess", train, TestSupport.tempDir("skyzero-refused"), "--normalize", "none", "--sky-zero", "3"])
        #expect(refused.status != 0 && refused.stderr.contains("--sky-zero 3: it needs a normalisation that takes the sky off"), "\(refused.stderr)")
    }

    /// `--like` metadata outside the command line's ranges is refused with the file named, before any
    /// work (issue 36, items 11 and 15): crop sizes, detection binning, smoothing, and normalisation
    /// parameters that would give all-zero or wrong images.
    @Test func likeRefusesSettingsTheCommandLineWouldRefuse() throws {
        let reference = TestSupport.tempDir("like-hostile-ref")
        _ = try preprocess([train, reference, "--normalize", "zscore-dataset", "--quiet"])
        let edits: [(String, (inout [String: Any]) -> Void)] = [
            ("size 0", { $0["size"] = 0 }), ("size 2^62", { $0["size"] = 1 << 62 }), ("size 1e6", { $0["size"] = 1_000_000 }),
            ("binning 0", { $0["detection_binning"] = 0 }), ("binning -2", { $0["detection_binning"] = -2 }),
            ("smoothing 1e6", { $0["smoothing"] = 1e6 }), ("margin -1", { $0["margin"] = -1 }), ("k -3", { $0["k"] = -3 }),
            ("sigma 0", { c in var n = c["normalization_stats"] as! [String: Any]; n["sigma"] = 0; c["normalization_stats"] = n }),
            ("sigma -1", { c in var n = c["normalization_stats"] as! [String: Any]; n["sigma"] = -1; c["normalization_stats"] = n }),
        ]
        for (what, edit) in edits {
            let folder = TestSupport.tempDir("like-hostile")
            var meta = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: reference + "/lenspipe.json"))) as! [String: Any]
            var crop = meta["crop"] as! [String: Any]
            edit(&crop)
            meta["crop"] = crop
            try JSONSerialization.data(withJSONObject: meta).write(to: URL(fileURLWithPath: folder + "/lenspipe.json"))
            let out = TestSupport.tempDir("like-hostile-out") + "/out"
            let r = try TestSupport.lenspipe(["preprocess", root + "/test", out, "--like", folder], timeout: 60)
            #expect(r.status != 0 && r.stderr.contains(folder + "/lenspipe.json"), "\(what): \(r.status) \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out + "/index.json"), "\(what): wrote shards")
        }
    }

    /// The crop record of lenspipe.json with one field set to a hostile number, at random: the settings
    /// are read or refused with a `LensDataError`, never trapped on (what `--like` reads).
    @Test func likeMetadataFuzz() throws {
        let reference = TestSupport.tempDir("like-fuzz-ref")
        _ = try preprocess([train, reference, "--normalize", "zscore-dataset", "--quiet"])
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: reference + "/lenspipe.json"))) as! [String: Any]
        let crop = meta["crop"] as! [String: Any]
        let fields = crop.keys.sorted() + ["normalization_stats.low", "normalization_stats.high", "normalization_stats.sigma", "normalization_stats.background"]
        let values: [Any] = [0, -1, -2, 1e300, -1e300, 1e-50, 8.5, 1 << 62, 1_000_000, "x", NSNull()]
        var state: UInt64 = 11
        func next() -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(truncatingIfNeeded: state >> 33) }
        for _ in 0..<300 {
            var c = crop
            let field = fields[next() % fields.count], value = values[next() % values.count]
            if field.hasPrefix("normalization_stats.") {
                var n = c["normalization_stats"] as! [String: Any]
                n[String(field.dropFirst("normalization_stats.".count))] = value
                c["normalization_stats"] = n
            } else {
                c[field] = value
            }
            var m = meta
            m["crop"] = c
            do {
                let decoded = try JSONDecoder().decode(DatasetMetadata.self, from: try JSONSerialization.data(withJSONObject: m))
                _ = try decoded.cropConfig(path: "fuzz")
            } catch is LensDataError {
            } catch is DecodingError {
            } catch {
                Issue.record("\(field) = \(value): \(error)")
            }
        }
    }
}
