import Foundation
import LensData

/// Writes an MDS data set (MosaicML Streaming's format) into one folder.
///
/// Samples are appended in order; a shard is closed when the next record would push the raw size past
/// `sizeLimit` (MDSWriter's rule), compressed as one zstd frame with its content size, written under a
/// temporary name and renamed. `finish()` writes `index.json` last, atomically: a folder whose
/// `index.json` exists is complete. Not thread-safe; feed it from one thread.
public final class MDSWriter {
    public let folder: String
    public let columns: MDSColumns
    /// zstd level, or nil for raw shards.
    public let zstdLevel: Int32?
    public let hashes: [ShardHash]
    public let sizeLimit: Int
    /// zstd worker threads for compressing a shard (at least 1: output is then the same for any count).
    public let compressionThreads: Int

    /// The open shard's records, back to back, and where each ends.
    private var body: [UInt8] = []
    private var recordEnds: [Int] = []
    private var running: Int
    private var entries: [PythonJSON] = []
    private let configJSON: String
    private let config: [String: PythonJSON]
    public private(set) var samples = 0
    /// Bytes written to disk (compressed shards).
    public private(set) var writtenBytes = 0

    /// - Parameters:
    ///   - zstdLevel: 1...22, or nil for no compression (default 3, as `zstd:3`).
    ///   - sizeLimit: raw bytes per shard (default 64 MiB); must stay below 2^32.
    public init(folder: String, columns: MDSColumns, zstdLevel: Int32? = 3, hashes: [ShardHash] = [], sizeLimit: Int = 1 << 26,
                compressionThreads: Int = 1) throws {
        precondition(sizeLimit > 0 && sizeLimit < 1 << 32, "size_limit must be below 2^32")
        self.folder = folder
        self.columns = columns
        self.zstdLevel = zstdLevel
        self.hashes = hashes.sorted { $0.rawValue < $1.rawValue }
        self.sizeLimit = sizeLimit
        self.compressionThreads = max(1, compressionThreads)
        let compression = zstdLevel.map { "zstd:\($0)" }
        config = columns.config(compression: compression, hashes: self.hashes.map(\.rawValue), sizeLimit: sizeLimit)
        configJSON = PythonJSON.object(config).text
        running = 8 + configJSON.utf8.count
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw LensDataError(path: folder, "cannot create output folder: \(error.localizedDescription)")
        }
        // A stale index from an earlier run must never describe shards this run rewrites.
        try? FileManager.default.removeItem(atPath: folder + "/index.json")
    }

    /// Appends one sample (column name -> value).
    public func write(_ values: [String: MDSValue]) throws {
        try append(record: columns.record(values))
    }

    /// Appends an already encoded record (see `MDSColumns.record`); lets callers encode in parallel.
    public func append(record: [UInt8]) throws {
        if !recordEnds.isEmpty && sizeLimit < running + record.count + 4 { try flush() }
        body += record
        recordEnds.append(body.count)
        running += record.count + 4
        samples += 1
    }

    /// Closes the last shard, removes shards of earlier runs that this one did not write, and writes
    /// `index.json`.
    public func finish() throws {
        if !recordEnds.isEmpty { try flush() }
        let written = Set(entries.compactMap { entry -> String? in
            guard case .object(let e) = entry else { return nil }
            for key in ["zip_data", "raw_data"] { if case .object(let d)? = e[key], case .string(let b)? = d["basename"] { return b } }
            return nil
        })
        let stale = (try? FileManager.default.contentsOfDirectory(atPath: folder))?.filter {
            $0.hasPrefix("shard.") && !written.contains($0)
        } ?? []
        for name in stale { try? FileManager.default.removeItem(atPath: folder + "/" + name) }
        let index = PythonJSON.object(["shards": .array(entries), "version": .int(2)]).text
        try AtomicFile.write(path: folder + "/index.json", parts: [Array(index.utf8)])
    }

    private func flush() throws {
        let number = entries.count
        let name = "shard." + (number < 100_000 ? String(format: "%05d", number) : String(number)) + ".mds"
        let header = MDSShard.header(recordEnds: recordEnds, configJSON: configJSON)
        let parts = [header, body]
        let rawSize = header.count + body.count
        var entry = config
        entry["samples"] = .int(recordEnds.count)
        entry["raw_data"] = .object(["basename": .string(name), "bytes": .int(rawSize),
                                     "hashes": .object(Dictionary(uniqueKeysWithValues: hashes.map { ($0.rawValue, PythonJSON.string($0.hexDigest(parts: parts))) }))])
        if let level = zstdLevel {
            let zipped = try ZstdFrame.compress(parts: parts, level: level, workers: compressionThreads)
            try AtomicFile.write(path: "\(folder)/\(name).zstd", parts: [zipped])
            entry["zip_data"] = .object(["basename": .string(name + ".zstd"), "bytes": .int(zipped.count),
                                         "hashes": .object(Dictionary(uniqueKeysWithValues: hashes.map { ($0.rawValue, PythonJSON.string($0.hexDigest(zipped))) }))])
            writtenBytes += zipped.count
        } else {
            try AtomicFile.write(path: "\(folder)/\(name)", parts: parts)
            entry["zip_data"] = .null
            writtenBytes += rawSize
        }
        body.removeAll(keepingCapacity: true)
        recordEnds.removeAll(keepingCapacity: true)
        entries.append(.object(entry))
        running = 8 + configJSON.utf8.count
    }
}
