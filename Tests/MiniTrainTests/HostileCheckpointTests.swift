import Foundation
import Testing
import LensData
@testable import MiniTrain
import _TestSupport

/// Checkpoints as an attacker writes them (issue 36, items 2, 3, 6, 7 and the checkpoint step of 9):
/// every one is refused by `Checkpoint.load` with a `LensDataError` naming the file, before anything is
/// allocated from the numbers it holds; none traps or reads outside the file.
@Suite struct HostileCheckpointTests {
    /// A small valid checkpoint.
    static let valid: String = {
        let t = EsViTTrainer(config: TrainerTests.smallTrainer().config)
        t.initialize(seed: 1)
        let path = TestSupport.tempDir("hostile-ckpt") + "/valid.safetensors"
        try! Checkpoint.save(t, to: path)
        return path
    }()

    /// The valid checkpoint with its header edited (and its length field replaced by `length`, if given).
    static func edited(_ tag: String, length: UInt64? = nil, _ edit: (inout [String: Any]) -> Void = { _ in }) throws -> String {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: valid)))
        let n = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        var header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as! [String: Any]
        edit(&header)
        var json = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while json.count % 8 != 0 { json.append(0x20) }
        let size = length ?? UInt64(json.count)
        let out = TestSupport.tempDir("hostile-ckpt") + "/\(tag).safetensors"
        try Data((0..<8).map { UInt8(truncatingIfNeeded: size >> (8 * UInt64($0))) } + json + bytes[(8 + n)...]).write(to: URL(fileURLWithPath: out))
        return out
    }

    static func expectRefused(_ path: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try Checkpoint.load(from: path)
            Issue.record("\(what): loaded", sourceLocation: sourceLocation)
        } catch let e as LensDataError {
            #expect(e.path == path, "\(what): the error names \(e.path)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(what): \(error) is not a LensDataError", sourceLocation: sourceLocation)
        }
    }

    @Test func theValidCheckpointLoads() throws {
        let t = try Checkpoint.load(from: Self.valid)
        #expect(t.config == TrainerTests.smallTrainer().config)
    }

    @Test(arguments: [UInt64(0), 1 << 63, UInt64.max, 1 << 40])
    func headerLengthsBeyondTheFile(length: UInt64) throws {
        Self.expectRefused(try Self.edited("length-\(length)", length: length), "header length \(length)")
    }

    @Test(arguments: [[-1_000_000_000_000, -999_999_999_992], [-8, 0], [Int.min, Int.min + 8], [0, Int.max], [8, 0], [Int.max - 4, Int.max]])
    func stepOffsetsOutsideTheData(offsets: [Int]) throws {
        let path = try Self.edited("offsets-\(offsets[0])") { h in
            var e = h["optimizer.step"] as! [String: Any]
            e["data_offsets"] = offsets
            h["optimizer.step"] = e
        }
        Self.expectRefused(path, "optimizer.step at \(offsets)")
    }

    @Test func malformedEntries() throws {
        let edits: [(String, (inout [String: Any]) -> Void)] = [
            ("unknown dtype", { h in var e = h["center"] as! [String: Any]; e["dtype"] = "F128"; h["center"] = e }),
            ("shape overflow", { h in var e = h["center"] as! [String: Any]; e["shape"] = [1 << 40, 1 << 40]; h["center"] = e }),
            ("negative shape", { h in var e = h["center"] as! [String: Any]; e["shape"] = [-1, -32]; h["center"] = e }),
            ("fractional offsets", { h in var e = h["center"] as! [String: Any]; e["data_offsets"] = [0.5, 128.5]; h["center"] = e }),
            ("metadata not strings", { h in h["__metadata__"] = ["config": 3] }),
            ("a tensor missing", { h in h.removeValue(forKey: "teacher.norm.weight") }),
        ]
        for (what, edit) in edits { Self.expectRefused(try Self.edited(what.replacingOccurrences(of: " ", with: "-"), edit), what) }
    }

    /// The configuration in the metadata, edited: every field outside `EsViTConfig.Limits`, and sizes
    /// that pass the limits but do not match the tensors (refused from the header, before the arenas).
    @Test func configurationsOutsideTheLimits() throws {
        let edits: [(String, [String: Any])] = [
            ("no stages", ["depths": [Int](), "heads": [Int]()]), ("negative dim", ["dim": -16]), ("heads shorter", ["heads": [2]]),
            ("window 0", ["window": 0]), ("patch 0", ["patch": 0]), ("40 stages", ["depths": Array(repeating: 1, count: 40), "heads": Array(repeating: 1, count: 40)]),
            ("dim 1e9", ["dim": 1_000_000_000]), ("hidden 1e9", ["hidden": 1_000_000_000]), ("outDim 1e9", ["outDim": 1_000_000_000]),
            ("hidden 5000", ["hidden": 5000]), ("three channels", ["inChannels": 3]), ("eps 0", ["layerNormEps": 0]),
            ("decoder of 3 stages", ["pixelDecoder": true, "decoderStages": 3]),
        ]
        for (what, change) in edits {
            let path = try Self.edited(what.replacingOccurrences(of: " ", with: "-")) { h in
                var meta = h["__metadata__"] as! [String: String]
                var config = try! JSONSerialization.jsonObject(with: Data(meta["config"]!.utf8)) as! [String: Any]
                config.merge(change) { _, new in new }
                meta["config"] = String(decoding: try! JSONSerialization.data(withJSONObject: config), as: UTF8.self)
                h["__metadata__"] = meta
            }
            Self.expectRefused(path, what)
        }
    }

    @Test func nonFiniteWeightsAndImpossibleSteps() throws {
        let t = try Checkpoint.load(from: Self.valid)
        let dir = TestSupport.tempDir("hostile-ckpt")
        t.student.values[t.student.tensor("norm.weight").offset] = .nan
        try Checkpoint.save(t, to: dir + "/nan.safetensors")
        Self.expectRefused(dir + "/nan.safetensors", "a NaN weight")
        let ok = try Checkpoint.load(from: Self.valid)
        for step in [-5, Int(Int32.max) + 1, Int.min] {
            ok.step = step
            try Checkpoint.save(ok, to: dir + "/step.safetensors")
            Self.expectRefused(dir + "/step.safetensors", "step \(step)")
        }
    }

    /// A consistent checkpoint whose network cannot read the shards' images (issue 36, items 3 and 4).
    @Test func configurationsThatDoNotFitTheImages() throws {
        var c = EsViTConfig.golden
        #expect(throws: Never.self) { try Checkpoint.checkFits(c, checkpoint: "c", shards: "s", channels: 1, size: 32) }
        #expect(throws: LensDataError.self) { try Checkpoint.checkFits(c, checkpoint: "c", shards: "s", channels: 3, size: 32) }
        for size in [2, 30, 62, 1_000_000_000] {
            #expect(throws: LensDataError.self, "size \(size)") { try Checkpoint.checkFits(c, checkpoint: "c", shards: "s", channels: 1, size: size) }
        }
        c.patch = 3
        #expect(throws: LensDataError.self) { try Checkpoint.checkFits(c, checkpoint: "c", shards: "s", channels: 1, size: 64) }
        c.patch = 4
        c.window = 5
        #expect(throws: LensDataError.self) { try Checkpoint.checkFits(c, checkpoint: "c", shards: "s", channels: 1, size: 64) }
    }

    /// Random byte flips in the header (its length field, the JSON, the metadata): every file loads or is
    /// refused with a `LensDataError`; none traps.
    @Test func headerByteFlipsNeverCrash() throws {
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.valid)))
        let n = Int(original[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let dir = TestSupport.tempDir("hostile-ckpt-fuzz")
        var state: UInt64 = 36
        func next() -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(truncatingIfNeeded: state >> 33) }
        var refused = 0
        for k in 0..<200 {
            var b = original
            for _ in 0..<(1 + next() % 3) { b[next() % (8 + n)] ^= UInt8(1 + next() % 255) }
            let path = HostileFiles.write(b, in: dir, name: "f\(k).safetensors")
            do { _ = try Checkpoint.load(from: path) } catch is LensDataError { refused += 1 } catch {
                Issue.record("flip \(k): \(error) is not a LensDataError")
            }
        }
        #expect(refused > 100)
    }

    /// The configuration in the metadata with one field set to a hostile value, at random: every
    /// checkpoint loads or is refused with a `LensDataError` naming it, before any allocation from it.
    @Test func configurationFieldFuzz() throws {
        let fields = ["inChannels", "patch", "dim", "depths", "heads", "window", "mlpRatio", "outDim", "hidden", "bottleneck", "layerNormEps",
                      "inputScale", "pooling", "viewHead", "pixelDecoder", "decoderStages"]
        let values: [Any] = [0, -1, 1, 3, 1 << 40, Int.max, 1e300, -1e-300, 0.5, [Int](), [0], [1 << 30, 1 << 30], Array(repeating: 2, count: 40), "x", true]
        var state: UInt64 = 77
        func next() -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(truncatingIfNeeded: state >> 33) }
        for k in 0..<60 {
            let field = fields[next() % fields.count], value = values[next() % values.count]
            let path = try Self.edited("fuzz\(k)") { h in
                var meta = h["__metadata__"] as! [String: String]
                var config = try! JSONSerialization.jsonObject(with: Data(meta["config"]!.utf8)) as! [String: Any]
                config[field] = value
                meta["config"] = String(decoding: try! JSONSerialization.data(withJSONObject: config), as: UTF8.self)
                h["__metadata__"] = meta
            }
            do { _ = try Checkpoint.load(from: path) } catch let e as LensDataError {
                #expect(e.path == path)
            } catch {
                Issue.record("\(field) = \(value): \(error) is not a LensDataError")
            }
        }
    }
}
