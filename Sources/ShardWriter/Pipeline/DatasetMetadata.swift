import Foundation
import LensData

/// `lenspipe.json`, beside the root `index.json`: what a preprocessed data set holds and how it was made.
///
/// Not named `*.json` inside split or part folders on purpose: `streaming.base.util.merge_index`
/// treats every `.json` below the root as an index. Use `lenspipe merge` for lenspipe's parts.
public struct DatasetMetadata: Codable, Sendable, Equatable {
    public var format = "lenspipe-mds"
    public var version = 1
    public var source: String
    public var classes: [String]
    public var imageShape: [Int]
    public var storage: String
    public var crop: CropSettings
    public var normalization: String
    public var compression: String?
    /// Split name ("" when unsplit) -> counts.
    public var splits: [String: Counts]
    public var skipped: Int
    /// What preprocess changed in the data (NaN/Inf pixels, padding, dropped targets, float16
    /// clipping); nil in files written before it was recorded.
    public var changes: Changes?
    /// How samples were divided: `stratified` (by label, seeded), `hash` (of the id, seeded), or
    /// `folders` (the source's own split folders); nil when unsplit or in files written before it was recorded.
    public var splitMethod: String?
    public var splitSeed: UInt64?

    public struct CropSettings: Codable, Sendable, Equatable {
        public var policy: String
        public var size: Int
        public var k: Float
        public var smoothing: Float
    }

    public struct Counts: Codable, Sendable, Equatable {
        public var images: Int
        public var classes: [String: Int]
    }

    enum CodingKeys: String, CodingKey {
        case format, version, source, classes, storage, crop, normalization, compression, splits, skipped, changes
        case imageShape = "image_shape", splitMethod = "split_method", splitSeed = "split_seed"
    }

    public var images: Int { splits.values.reduce(0) { $0 + $1.images } }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try NPYWriter.writeAtomically(path: path, parts: [Array(try encoder.encode(self))])
    }

    public static func read(from path: String) throws -> DatasetMetadata {
        guard let data = FileManager.default.contents(atPath: path) else { throw LensDataError(path: path, "not found") }
        do { return try JSONDecoder().decode(DatasetMetadata.self, from: data) } catch {
            throw LensDataError(path: path, "not a lenspipe metadata file: \(error)")
        }
    }

    /// Sums the counts of worker parts (same settings) into one.
    public static func merged(_ parts: [DatasetMetadata]) -> DatasetMetadata? {
        guard var out = parts.first else { return nil }
        out.splits = [:]
        out.skipped = 0
        out.changes = parts.contains { $0.changes != nil } ? Changes() : nil
        for p in parts {
            out.skipped += p.skipped
            if let c = p.changes { out.changes! += c }
            for (name, c) in p.splits {
                var acc = out.splits[name] ?? Counts(images: 0, classes: [:])
                acc.images += c.images
                acc.classes.merge(c.classes, uniquingKeysWith: +)
                out.splits[name] = acc
            }
        }
        return out
    }
}
