import Foundation

/// `metrics.jsonl` of `train` and `finetune`: one JSON object per line (non-finite numbers as null),
/// appended as the run goes, and cut back to a checkpoint's step when a run resumes.
public final class MetricsLog {
    private let handle: FileHandle

    /// Opens the log; with `keepThrough`, lines of later steps (written after the checkpoint a resumed
    /// run restarts from) and a torn last line are dropped first.
    public init(path: String, keepThrough step: Int? = nil) throws {
        var kept = Data()
        if let step, let old = FileManager.default.contents(atPath: path) {
            for line in old.split(separator: UInt8(ascii: "\n")) {
                guard let o = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any], let s = o["step"] as? Int, s <= step else { continue }
                kept += line + [UInt8(ascii: "\n")]
            }
        }
        try AtomicFile.write(path: path, parts: [Array(kept)])
        guard let h = FileHandle(forWritingAtPath: path) else { throw LensDataError(path: path, "cannot open for writing") }
        h.seekToEndOfFile()
        handle = h
    }

    public func append(_ record: [String: Any]) {
        let clean = record.mapValues { v -> Any in
            if let d = v as? Double, !d.isFinite { return NSNull() }
            if let f = v as? Float, !f.isFinite { return NSNull() }
            return v
        }
        guard let data = try? JSONSerialization.data(withJSONObject: clean, options: [.sortedKeys]) else { return }
        handle.write(data + Data([UInt8(ascii: "\n")]))
    }

    public func close() { try? handle.close() }

    /// Reads every record of a log.
    public static func read(_ path: String) -> [[String: Any]] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return data.split(separator: UInt8(ascii: "\n")).compactMap { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] }
    }
}
