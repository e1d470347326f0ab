import Foundation
import Testing
import Cropping
import LensData
import LensSynth
@testable import ShardWriter
import _TestSupport

@Suite struct MDSFormatTests {
    /// The MDS notes' worked example, written by an independent Python writer (offsets 239, 282, 916).
    @Test func readsTheWorkedExample() throws {
        for folder in [TestSupport.fixture("mds-worked-example"), Self.zstdVariant()] {
            let reader = try MDSReader(folder: folder)
            #expect(reader.count == 2)
            let s0 = try reader.sample(at: 0), s1 = try reader.sample(at: 1)
            #expect(s0["label"] == .int(7))
            #expect(s1["label"] == .int(-3))
            #expect(s0["dyn"] == .array(.float32, [3], NPYWriter.littleEndianBytes([Float](repeating: 1, count: 3).map(\.bitPattern))))
            #expect(s1["dyn"] == .array(.int16, [1, 300], NPYWriter.littleEndianBytes((0..<300).map { Int16($0) })))
            let image = try LensShardLayout.image(from: s0["image"])
            #expect(image.shape == [1, 2, 2] && image.pixels == [0, 1, 2, 3])
            #expect(try LensShardLayout.image(from: s1["image"]).pixels == [-1.5, -1.5, -1.5, -1.5])
        }
    }

    static func zstdVariant() -> String {
        let dir = TestSupport.tempDir("mds-zstd")
        _ = try! TestSupport.pythonHelper("make_mds_worked_example.py", [dir, "--zstd"])
        return dir
    }

    @Test func writerReproducesTheWorkedExampleByteForByte() throws {
        let dir = TestSupport.tempDir("mds-ours")
        let columns = MDSColumns(["image": .staticArray(.float32, [2, 2]), "label": .int, "dyn": .array])
        // The example has size_limit null; ours always records one, so compare the records and offsets.
        let writer = try MDSWriter(folder: dir, columns: columns, zstdLevel: nil)
        try writer.write(["dyn": .array(.float32, [3], NPYWriter.littleEndianBytes([Float](repeating: 1, count: 3).map(\.bitPattern))),
                          "image": .array(.float32, [2, 2], NPYWriter.littleEndianBytes((0..<4).map { Float($0).bitPattern })), "label": .int(7)])
        try writer.write(["dyn": .array(.int16, [1, 300], NPYWriter.littleEndianBytes((0..<300).map { Int16($0) })),
                          "image": .array(.float32, [2, 2], NPYWriter.littleEndianBytes([Float](repeating: -1.5, count: 4).map(\.bitPattern))),
                          "label": .int(-3)])
        try writer.finish()
        let ours = Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/shard.00000.mds")))
        let theirs = Array(try Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("mds-worked-example/shard.00000.mds"))))
        // Same records (the tails after each header), and the same offset deltas.
        let ourShard = try MDSShard(bytes: ours), theirShard = try MDSShard(bytes: theirs)
        for i in 0..<2 {
            #expect(ourShard.withRecord(i) { Array($0) } == theirShard.withRecord(i) { Array($0) })
        }
        // With size_limit null and no compression the header would match too: check ours against Python's json.
        let expectedHeader = try TestSupport.python("""
        import json
        print(json.dumps({"column_encodings": ["ndarray", "ndarray:float32:2,2", "int"], "column_names": ["dyn", "image", "label"],
          "column_sizes": [None, 16, 8], "compression": None, "format": "mds", "hashes": [], "size_limit": 67108864, "version": 2}, sort_keys=True))
        """).trimmingCharacters(in: .newlines)
        let headerStart = 4 + 4 * 3
        let firstOffset = ours.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) }
        #expect(String(decoding: ours[headerStart..<firstOffset], as: UTF8.self) == expectedHeader)
    }

    @Test func pythonJSONMatchesPython() throws {
        let value = PythonJSON.object(["b": .array([.int(1), .null, .bool(true)]), "a": .string("x\"y\\z\n\u{e9}\u{1F600}"), "c": .object([:])])
        let python = try TestSupport.python("""
        import json
        print(json.dumps({"b": [1, None, True], "a": "x\\"y\\\\z\\n\\u00e9\\U0001F600", "c": {}}, sort_keys=True))
        """).trimmingCharacters(in: .newlines)
        #expect(value.text == python)
    }

    @Test func shardsAreCutAtTheSizeLimit() throws {
        let dir = TestSupport.tempDir("mds-cut")
        let writer = try MDSWriter(folder: dir, columns: MDSColumns(["id": .str, "v": .int]), sizeLimit: 4000)
        for i in 0..<500 { try writer.write(["id": .string("sample-\(i)"), "v": .int(Int64(i))]) }
        try writer.finish()
        let reader = try MDSReader(folder: dir)
        #expect(reader.shards.count > 3)
        #expect(reader.count == 500)
        #expect(reader.shards.allSatisfy { $0.rawBytes <= 4000 })
        for i in [0, 123, 499] { #expect(try reader.sample(at: i)["v"] == .int(Int64(i))) }
    }
}

@Suite struct PreprocessTests {
    let model1 = TestSupport.fixture("deeplense-mini/model1/train")

    func run(_ args: [String]) throws -> TestSupport.ProcessResult {
        let r = try TestSupport.lenspipe(["preprocess"] + args + ["--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        return r
    }

    /// --crop none --normalize none round-trips every pixel (float32 of the int64 counts); labels follow
    /// the class folders; axion masses land in `target`. Checked by lenspipe's reader and by an
    /// independent Python reader (numpy + zstandard) against numpy's own loading.
    @Test func roundTripsModel1Exactly() throws {
        let out = TestSupport.tempDir("pp-exact")
        try run([model1, out, "--crop", "none", "--normalize", "none", "--hashes", "sha1"])
        let compared = try TestSupport.pythonHelper("read_mds.py", [out, "--compare", model1, "--hashes"])
        #expect(compared.hasSuffix("compared 36\n"))
        let source = try NPYFolderSource(root: model1)
        let reader = try MDSReader(folder: out)
        #expect(reader.count == 36)
        var byID: [String: ShardSample] = [:]
        for i in 0..<reader.count { let s = try ShardSample(try reader.sample(at: i), index: i); byID[s.id] = s }
        for i in 0..<source.count {
            let s = try source.sample(at: i)
            let back = try #require(byID[s.id])
            #expect(back.image == s.image)
            #expect(back.label == s.label)
            #expect(back.target == s.target)
            #expect(back.crop == PixelBox(x0: 0, y0: 0, x1: 150, y1: 150))
        }
        // The shards are a source like any other.
        let inspect = try TestSupport.lenspipe(["inspect", out, "--json"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let j = try TestSupport.json(inspect.stdout)
        #expect(j["classes"] as? [String: Int] == ["axion": 12, "cdm": 12, "no_sub": 12])
        #expect(j["targets"] as? Int == 12 && j["shapes"] as? [[Int]] == [[1, 150, 150]])
        let meta = try DatasetMetadata.read(from: out + "/lenspipe.json")
        #expect(meta.classes == ["axion", "cdm", "no_sub"])
        #expect(meta.images == 36 && meta.splits[""]?.classes == ["axion": 12, "cdm": 12, "no_sub": 12])
    }

    @Test func identicalWhateverTheThreadCountAndRerun() throws {
        var outputs: [[String: Data]] = []
        for threads in ["1", "2", "2"] {
            let out = TestSupport.tempDir("pp-threads")
            try run([model1, out, "--size", "64", "--normalize", "minmax", "--threads", threads, "--shard-mib", "1",
                     "--split", "train=0.7,val=0.2,test=0.1"])
            // lenspipe.json records the command line (threads, folder); everything else must match.
            var files = try Self.files(out)
            var meta = try DatasetMetadata.read(from: out + "/lenspipe.json")
            #expect(meta.tool?.command.contains(threads) == true)
            meta.tool = nil
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            files["lenspipe.json"] = try encoder.encode(meta)
            outputs.append(files)
        }
        #expect(outputs[0].count > 6)  // index + lenspipe.json + several shards per split
        #expect(outputs[0] == outputs[1])
        #expect(outputs[1] == outputs[2])
    }

    static func files(_ root: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        let e = FileManager.default.enumerator(atPath: root)!
        while let f = e.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + f, isDirectory: &isDir), !isDir.boolValue {
                out[f] = try Data(contentsOf: URL(fileURLWithPath: root + "/" + f))
            }
        }
        return out
    }

    /// Ids and labels of a split folder.
    static func members(_ folder: String) throws -> [(id: String, label: Int)] {
        let reader = try MDSReader(folder: folder)
        return try (0..<reader.count).map { let s = try ShardSample(try reader.sample(at: $0), index: $0); return (s.id, s.label ?? -1) }
    }

    @Test func labelledSplitsAreStratifiedAndSeeded() throws {
        let out = TestSupport.tempDir("pp-split")
        try run([model1, out, "--split", "train=0.5,val=0.25,test=0.25"])
        var seen = Set<String>()
        for (split, perClass) in [("train", 6), ("val", 3), ("test", 3)] {
            let m = try Self.members("\(out)/\(split)")
            // 12 images per class, divided exactly 6 / 3 / 3 in every class.
            for label in 0..<3 { #expect(m.filter { $0.label == label }.count == perClass, "\(split) class \(label)") }
            seen.formUnion(m.map(\.id))
        }
        #expect(seen.count == 36)
        let meta = try DatasetMetadata.read(from: out + "/lenspipe.json")
        #expect(meta.splitMethod == "stratified" && meta.splitSeed == 0)
        // Another seed draws other members with the same counts; the same seed draws the same ones.
        let other = TestSupport.tempDir("pp-split-7"), again = TestSupport.tempDir("pp-split-0")
        try run([model1, other, "--split", "train=0.5,val=0.25,test=0.25", "--seed", "7"])
        try run([model1, again, "--split", "train=0.5,val=0.25,test=0.25"])
        let train0 = Set(try Self.members(out + "/train").map(\.id)), train7 = try Self.members(other + "/train")
        #expect(Set(train7.map(\.id)) != train0)
        for label in 0..<3 { #expect(train7.filter { $0.label == label }.count == 6) }
        #expect(Set(try Self.members(again + "/train").map(\.id)) == train0)
        // Workers draw the same division as one run.
        let parts = TestSupport.tempDir("pp-split-parts")
        for w in ["0/2", "1/2"] { try run([model1, parts, "--split", "train=0.5,val=0.25,test=0.25", "--worker", w]) }
        #expect(try TestSupport.lenspipe(["merge", parts]).status == 0)
        #expect(Set(try Self.members(parts + "/train").map(\.id)) == train0)
    }

    @Test func unlabelledSplitsHashTheIDWithTheSeed() throws {
        let flat = TestSupport.tempDir("pp-flat")
        for c in ["axion", "cdm", "no_sub"] {
            for f in try FileManager.default.contentsOfDirectory(atPath: model1 + "/" + c) {
                try FileManager.default.copyItem(atPath: model1 + "/" + c + "/" + f, toPath: flat + "/" + f)
            }
        }
        let parts: [(name: String, fraction: Double)] = [("train", 0.5), ("val", 0.25), ("test", 0.25)]
        for seed: UInt64 in [0, 3] {
            let out = TestSupport.tempDir("pp-hash")
            try run([flat, out, "--split", "train=0.5,val=0.25,test=0.25", "--seed", "\(seed)"])
            var total = 0
            for (k, split) in ["train", "val", "test"].enumerated() {
                let m = (try? Self.members("\(out)/\(split)")) ?? []
                total += m.count
                for s in m { #expect(SplitPlan.assign(s.id, parts, seed: seed) == k) }
            }
            #expect(total == 36)
            #expect(try DatasetMetadata.read(from: out + "/lenspipe.json").splitMethod == "hash")
        }
    }

    @Test func keepSplitsMapsFolders() throws {
        let kept = TestSupport.tempDir("pp-keep")
        try run([TestSupport.fixture("deeplense-mini/model1"), kept, "--keep-splits", "--crop", "none", "--normalize", "none"])
        #expect(try MDSReader(folder: kept + "/train").count == 36)
        #expect(try MDSReader(folder: kept + "/test").count == 12)
        #expect(try DatasetMetadata.read(from: kept + "/lenspipe.json").splitMethod == "folders")
        let v = try TestSupport.lenspipe(["verify", kept])
        #expect(v.status == 0, "\(v.stdout)")
        #expect(v.stdout.contains("/test: 1 shards, 12 samples (axion 4, cdm 4, no_sub 4), 4 with targets"))
    }

    @Test func workersAndMergeEqualOneRun() throws {
        let whole = TestSupport.tempDir("pp-whole"), parts = TestSupport.tempDir("pp-parts")
        try run([model1, whole, "--size", "64"])
        try run([model1, parts, "--size", "64", "--worker", "0/2"])
        try run([model1, parts, "--size", "64", "--worker", "1/2"])
        #expect(!FileManager.default.fileExists(atPath: parts + "/index.json"))
        let m = try TestSupport.lenspipe(["merge", parts])
        #expect(m.status == 0, "\(m.stderr)")
        let a = try MDSReader(folder: whole), b = try MDSReader(folder: parts)
        #expect(a.count == 36 && b.count == 36)
        let ids = { (r: MDSReader) in Set(try (0..<r.count).map { try ShardSample(try r.sample(at: $0), index: $0).id }) }
        #expect(try ids(a) == ids(b))
        #expect(b.shards.map(\.zipName) == ["part000/shard.00000.mds.zstd", "part001/shard.00000.mds.zstd"])
        #expect(try DatasetMetadata.read(from: parts + "/lenspipe.json").images == 36)
        #expect(try TestSupport.lenspipe(["verify", parts]).status == 0)
        // An independent reader agrees with the merged index.
        #expect(try TestSupport.pythonHelper("read_mds.py", [parts]).split(separator: "\n").count == 36)
    }

    @Test func storageTypes() throws {
        let u16 = TestSupport.tempDir("pp-u16")
        try run([model1, u16, "--crop", "none", "--normalize", "none", "--dtype", "uint16"])
        #expect(try TestSupport.pythonHelper("read_mds.py", [u16, "--compare", model1]).hasSuffix("compared 36\n"))
        let bad = try TestSupport.lenspipe(["preprocess", model1, TestSupport.tempDir("pp-bad"), "--normalize", "minmax", "--dtype", "uint16", "--quiet"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("cannot be stored as uint16"))
        let f16 = TestSupport.tempDir("pp-f16")
        try run([model1, f16, "--size", "64", "--normalize", "asinh", "--dtype", "float16"])
        let f32 = TestSupport.tempDir("pp-f32")
        try run([model1, f32, "--size", "64", "--normalize", "asinh"])
        let (h, s) = (try MDSReader(folder: f16), try MDSReader(folder: f32))
        for i in 0..<h.count {
            let half = try ShardSample(try h.sample(at: i), index: i), full = try ShardSample(try s.sample(at: i), index: i)
            #expect(half.image.pixels == full.image.pixels.map { Float(Float16($0)) })
            #expect(half.foreground != nil && half.foreground == full.foreground)
        }
        // Half the image bytes (the raw shard also holds ids, crop boxes and the uint8 foreground masks).
        let masks = h.count * 64 * 64
        #expect(h.shards[0].rawBytes - masks < (s.shards[0].rawBytes - masks) * 55 / 100)
    }

    @Test func unreadableInputsStopOrAreSkipped() throws {
        let src = TestSupport.tempDir("pp-src")
        for c in ["a", "b"] { try FileManager.default.createDirectory(atPath: "\(src)/\(c)", withIntermediateDirectories: true) }
        let files = try FileManager.default.contentsOfDirectory(atPath: model1 + "/cdm").sorted()
        for (k, f) in files.prefix(4).enumerated() { try FileManager.default.copyItem(atPath: "\(model1)/cdm/\(f)", toPath: "\(src)/\(k % 2 == 0 ? "a" : "b")/\(f)") }
        try Data("broken".utf8).write(to: URL(fileURLWithPath: "\(src)/b/zz-broken.npy"))
        let stop = TestSupport.tempDir("pp-stop")
        let r = try TestSupport.lenspipe(["preprocess", src, stop, "--quiet"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("zz-broken.npy"))
        #expect(!FileManager.default.fileExists(atPath: stop + "/index.json"))
        let skip = TestSupport.tempDir("pp-skip")
        try run([src, skip, "--on-error", "skip"])
        #expect(try MDSReader(folder: skip).count == 4)
        let report = try JSONLines.readSkipped(skip + "/skipped.jsonl")
        #expect(report.count == 1 && report[0].path == "\(src)/b/zz-broken.npy" && report[0].error.contains("too short"), "\(report)")
    }

    @Test func verifyFindsDefects() throws {
        let out = TestSupport.tempDir("pp-verify")
        try run([model1, out, "--size", "64", "--hashes", "sha1", "--shard-mib", "1"])
        #expect(try TestSupport.lenspipe(["verify", out]).status == 0)
        let shards = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".zstd") }.sorted()
        #expect(shards.count >= 1)
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: out + "/" + shards[0])))
        bytes[bytes.count / 2] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: out + "/" + shards[0]))
        let r = try TestSupport.lenspipe(["verify", out])
        #expect(r.status == 1)
        #expect(r.stdout.contains("defect: \(out)/\(shards[0])"))
        try FileManager.default.removeItem(atPath: out + "/" + shards[0])
        #expect(try TestSupport.lenspipe(["verify", out]).status == 1)
    }

    /// A run killed at any point leaves no index.json that points at missing or partial shards, and a
    /// rerun produces the same data set as an uninterrupted run.
    @Test func killedRunNeverLooksCompleteAndRerunMatches() throws {
        let tree = TestSupport.tempDir("pp-kill-src")
        try SynthWriter.write(config: SynthConfig(size: 150, seed: 5), count: 600, format: .tree, to: tree, threads: 2)
        let reference = TestSupport.tempDir("pp-kill-ref")
        try run([tree, reference, "--crop", "none", "--normalize", "none", "--shard-mib", "2", "--threads", "2"])
        let expected = try Self.files(reference).filter { !$0.key.hasPrefix("lenspipe") }
        #expect(expected.keys.filter { $0.hasSuffix(".zstd") }.count >= 10)
        let out = TestSupport.tempDir("pp-kill")
        for delayMs in [150, 400, 900] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: TestSupport.lenspipeBinary)
            p.arguments = ["preprocess", tree, out, "--crop", "none", "--normalize", "none", "--shard-mib", "2", "--threads", "2", "--quiet"]
            p.standardError = FileHandle.nullDevice
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            usleep(useconds_t(delayMs * 1000))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            // Whatever is there: an index only if every shard it names is complete.
            if FileManager.default.fileExists(atPath: out + "/index.json") {
                #expect(try TestSupport.lenspipe(["verify", out]).status == 0, "index.json after a kill at \(delayMs) ms")
            }
        }
        try run([tree, out, "--crop", "none", "--normalize", "none", "--shard-mib", "2", "--threads", "2"])
        let rerun = try Self.files(out).filter { !$0.key.hasPrefix("lenspipe") }
        #expect(rerun == expected)
    }
}
