import Foundation
import LensData

/// What `preprocess` may do to its output folder (issue 12, item 7): a rerun never mixes with an
/// earlier run's splits, `lenspipe.json` or skipped list.
///
/// - A whole run refuses a non-empty folder unless told to overwrite. It writes into a staging
///   folder beside it (`.NAME.lenspipe-partial`) and puts that in place when it is done, so the
///   output holds the old data set or the new one, never a mix; a killed run leaves only the
///   staging folder, which the next run removes.
/// - A worker (`--worker i/N`) owns its part folders (`[SPLIT/]partIII`) and its
///   `lenspipe.worker-III-of-NNN` and its `skipped.`/`changed.worker-III-of-NNN.jsonl`; it refuses to write when any
///   of them exist, and with overwrite removes exactly those (and what `merge` wrote from them).
enum OutputFolder {
    static func staging(for out: String) -> String { StagedFolder.staging(for: out) }

    static func entries(_ path: String) -> [String] { StagedFolder.entries(path) }

    /// For a whole run: checks `out`, clears an old staging folder, and returns the folder to write into.
    static func prepareWholeRun(_ out: String, overwrite: Bool) throws -> String {
        if !entries(out).isEmpty {
            guard overwrite else {
                throw ShardPipelineError("\(out) is not empty (\(StagedFolder.listing(out))): pass --overwrite to replace it, or choose a new folder")
            }
            guard looksLikeOutput(out) else {
                throw ShardPipelineError("\(out) does not look like a preprocess output (no lenspipe.json, index.json or shards): not replacing it")
            }
        }
        return try StagedFolder.begin(out).staging
    }

    /// Puts the finished staging folder in place of `out` (see `StagedFolder.commit`).
    static func commit(_ staging: String, to out: String) throws { try StagedFolder.commit(staging, to: out) }

    static func looksLikeOutput(_ path: String) -> Bool {
        let names = entries(path)
        let marks = ["lenspipe.json", "index.json", "skipped.jsonl", "changed.jsonl", "skipped.txt"]
        if names.contains(where: { marks.contains($0) || $0.hasPrefix("lenspipe.worker-") || $0.hasPrefix("shard.") }) { return true }
        return names.contains { d in
            NPYFolderSource.isDirectory(path + "/" + d) && entries(path + "/" + d).contains { $0 == "index.json" || $0.hasPrefix("part") || $0.hasPrefix("shard.") }
        }
    }

    /// For a worker: the files and folders it owns under `out` that exist; removed when `overwrite`,
    /// else a refusal listing them.
    static func prepareWorker(_ out: String, tag: String, part: String, splits: [String], overwrite: Bool) throws {
        let fm = FileManager.default
        var owned = ["lenspipe.\(tag)", "skipped.\(tag).jsonl", "changed.\(tag).jsonl"].map { out + "/" + $0 }
        owned += splits.map { ($0.isEmpty ? out : out + "/" + $0) + "/" + part }
        let present = owned.filter { fm.fileExists(atPath: $0) }
        // What `merge` wrote from the parts is stale once a part is rewritten.
        var merged = ["lenspipe.json", "skipped.jsonl", "changed.jsonl", "index.json"].map { out + "/" + $0 }
        merged += splits.filter { !$0.isEmpty }.map { out + "/" + $0 + "/index.json" }
        let stale = merged.filter { fm.fileExists(atPath: $0) }
        guard overwrite else {
            if let first = (present + stale).first {
                throw ShardPipelineError("\(first) exists (an earlier run?): pass --overwrite to replace this worker's part, or choose a new folder")
            }
            return
        }
        for p in present + stale { try? fm.removeItem(atPath: p) }
    }
}
