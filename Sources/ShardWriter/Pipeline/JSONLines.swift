import Foundation
import LensData

/// The per-input lists preprocess writes (`skipped.jsonl`): one compact JSON object per line.
public enum JSONLines {
    struct Skipped: Codable { var path: String; var error: String }

    /// `{"error": message, "path": path}` per failure, keys sorted, slashes unescaped.
    static func encode(_ failures: [ScanReport.Failure]) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var out: [UInt8] = []
        for f in failures {
            out += Array(try encoder.encode(Skipped(path: f.path, error: f.message)))
            out.append(0x0A)
        }
        return out
    }

    /// One `{"changes": {...}, "id": ...}` object per changed input.
    static func encode(_ changed: [Preprocess.ChangedInput]) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var out: [UInt8] = []
        for c in changed {
            out += Array(try encoder.encode(c))
            out.append(0x0A)
        }
        return out
    }

    /// Reads a `skipped.jsonl` back as (path, error) pairs.
    public static func readSkipped(_ path: String) throws -> [(path: String, error: String)] {
        let file = try FileBytes(path: path)
        return try Array(file.buffer).split(separator: 0x0A).map { line in
            do {
                let s = try JSONDecoder().decode(Skipped.self, from: Data(line))
                return (s.path, s.error)
            } catch {
                throw LensDataError(path: path, "a line is not {\"path\", \"error\"} JSON: \(error)")
            }
        }
    }
}
