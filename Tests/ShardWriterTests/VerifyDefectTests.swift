import Foundation
import Testing
@testable import ShardWriter
import _TestSupport

/// `verify` must not say ok for a damaged data set (issue 12, item 6): flipped bytes inside a zstd
/// frame with no `--hashes`, index entries dropped, duplicated or emptied, and stale splits.
@Suite struct VerifyDefectTests {
    static let model1 = TestSupport.fixture("deeplense-mini/model1/train")

    /// A fresh preprocess output with several shards per split and no hashes.
    static func output(_ extra: [String] = []) throws -> String {
        let out = TestSupport.tempDir("verify-defects")
        let r = try TestSupport.lenspipe(["preprocess", model1, out, "--crop", "none", "--normalize", "none", "--shard-mib", "1", "--quiet"] + extra)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(ShardVerify.run(root: out, threads: 2).defects.isEmpty)
        return out
    }

    static func shardFiles(_ folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".zstd") }.sorted()
    }

    static func editIndex(_ folder: String, _ edit: (inout [[String: Any]]) -> Void) throws {
        var index = try TestSupport.json(String(contentsOfFile: folder + "/index.json", encoding: .utf8))
        var shards = index["shards"] as! [[String: Any]]
        edit(&shards)
        index["shards"] = shards
        try JSONSerialization.data(withJSONObject: index, options: [.sortedKeys]).write(to: URL(fileURLWithPath: folder + "/index.json"))
    }

    /// Every one of 24 single-byte flips spread over a frame's compressed blocks is a defect: the
    /// frames carry zstd content checksums now.
    @Test func byteFlipsInsideAFrameWithoutHashes() throws {
        let out = try Self.output()
        let shard = out + "/" + (try Self.shardFiles(out))[0]
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: shard)))
        for k in 0..<24 {
            var bytes = original
            let at = 32 + (bytes.count - 48) * k / 24
            bytes[at] ^= 0x04
            try Data(bytes).write(to: URL(fileURLWithPath: shard))
            let defects = ShardVerify.run(root: out, threads: 2).defects
            #expect(defects.contains { $0.contains(shard) }, "flip at byte \(at) passed verify: \(defects)")
        }
        try Data(original).write(to: URL(fileURLWithPath: shard))
        #expect(ShardVerify.run(root: out, threads: 2).defects.isEmpty)
    }

    @Test func droppedDuplicatedOrEmptiedShardEntries() throws {
        let out = try Self.output()
        #expect(try Self.shardFiles(out).count >= 3)
        try Self.editIndex(out) { $0.removeLast() }
        var defects = ShardVerify.run(root: out, threads: 2).defects
        #expect(defects.contains { $0.contains("a shard file that index.json does not list") }, "\(defects)")
        #expect(defects.contains { $0.contains("lenspipe.json says 36") }, "\(defects)")

        let dup = try Self.output()
        try Self.editIndex(dup) { $0.append($0[0]) }
        defects = ShardVerify.run(root: dup, threads: 2).defects
        #expect(defects.contains { $0.contains("lists shard.00000.mds.zstd again") }, "\(defects)")
        #expect(defects.contains { $0.contains("lenspipe.json says 36") }, "\(defects)")

        let empty = try Self.output()
        try Self.editIndex(empty) { $0 = [] }
        defects = ShardVerify.run(root: empty, threads: 2).defects
        #expect(defects.contains { $0.contains("0 samples, lenspipe.json says 36") }, "\(defects)")
        let cli = try TestSupport.lenspipe(["verify", empty])
        #expect(cli.status == 1 && !cli.stdout.hasSuffix("ok\n"))
    }

    /// A split folder on disk that lenspipe.json does not list (an earlier run's), and a folder no
    /// index accounts for.
    @Test func staleSplitsAndStrayFolders() throws {
        let out = try Self.output(["--split", "train=0.8,val=0.2"])
        try FileManager.default.copyItem(atPath: out + "/val", toPath: out + "/test")
        try FileManager.default.createDirectory(atPath: out + "/leftover", withIntermediateDirectories: true)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: out + "/leftover/shard.00000.mds.zstd"))
        let defects = ShardVerify.run(root: out, threads: 2).defects
        #expect(defects.contains { $0.hasPrefix(out + "/test: an MDS folder that lenspipe.json does not list") }, "\(defects)")
        #expect(defects.contains { $0.hasPrefix(out + "/leftover: a folder that no index.json accounts for") }, "\(defects)")
        try FileManager.default.removeItem(atPath: out + "/val")
        #expect(ShardVerify.run(root: out, threads: 2).defects.contains { $0.contains("split 'val'") })
    }
}
