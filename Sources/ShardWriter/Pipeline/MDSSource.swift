import Cropping
import Foundation
import LensData

/// A preprocessed MDS folder as a `SampleSource`, so `preview`, `inspect` and the trainer read shards
/// like any other data set. Class names come from `lenspipe.json` beside the folder or one level up.
public struct MDSSource: SampleSource {
    public let reader: MDSReader
    public let classes: [String]
    /// `lenspipe.json` beside the folder or one level up, when there is one.
    public let metadata: DatasetMetadata?
    public var count: Int { reader.count }
    /// The normalisation the stored images carry (nil when unknown): views undo asinh and log1p to
    /// find the lens in shards without a `foreground` column.
    public var normalization: Normalization? { metadata?.normalizationSetting }
    /// `CropConfig.skyZero` of the stored images (nil: off, or unknown).
    public var skyZero: Int? { metadata?.crop.skyZero }
    public var summary: String { "MDS shards in \(reader.folder) (\(reader.count) samples, \(reader.shards.count) shards)" }

    public init(folder: String) throws {
        reader = try MDSReader(folder: folder)
        let parent = (folder as NSString).deletingLastPathComponent
        metadata = [folder, parent].lazy.compactMap { try? DatasetMetadata.read(from: $0 + "/lenspipe.json") }.first
        classes = metadata?.classes ?? []
    }

    public func id(at index: Int) -> String {
        (try? ShardSample(reader.sample(at: index), index: index).id) ?? "#\(index)"
    }

    public func sample(at index: Int) throws -> Sample {
        let s = try ShardSample(try reader.sample(at: index), index: index)
        return Sample(id: s.id, image: s.image, label: s.label, target: s.target,
                      stored: StoredArrayInfo(dtype: "float32", shape: s.image.shape), foreground: s.foreground)
    }

    /// Opens `location` as MDS shards when it holds an `index.json`, else through `SourceSpec`.
    /// - Throws: for a preprocess output root (split folders with shards), an error naming the
    ///   folders to pass instead; for anything else, `SourceSpec.open`'s errors.
    public static func open(_ spec: SourceSpec) throws -> any SampleSource {
        let location = spec.location
        if FileManager.default.fileExists(atPath: location + "/index.json") { return try MDSSource(folder: location) }
        if spec.hdf5Parts == nil {
            let splits = splitFolders(under: location)
            if !splits.isEmpty {
                throw LensDataError(path: location, "is a lenspipe output with splits \(splits.joined(separator: ", ")): pass one of "
                                    + splits.map { "\(location)/\($0)" }.joined(separator: ", "))
            }
        }
        return try spec.open()
    }

    /// The split folders of a preprocess output root: its subfolders (not hidden) that hold an
    /// `index.json`, sorted. Empty when `root` is not a folder or has none.
    public static func splitFolders(under root: String) -> [String] {
        guard NPYFolderSource.isDirectory(root), !FileManager.default.fileExists(atPath: root + "/index.json") else { return [] }
        return ((try? NPYFolderSource.list(root)) ?? []).filter { name in
            !name.hasPrefix(".") && NPYFolderSource.isDirectory(root + "/" + name)
                && FileManager.default.fileExists(atPath: root + "/" + name + "/index.json")
        }
    }
}
