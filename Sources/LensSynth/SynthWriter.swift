import Foundation
import LensData

/// Writes simulated lenses in the layouts real data sets ship in.
public enum SynthWriter {
    public enum Format: String, Sendable, CaseIterable {
        /// `OUT/<class>/<class>_sim_NNNNNN.npy`; axion files are object arrays `[image, mass]` (as DeepLense).
        case tree
        /// `OUT/images.npy (N,1,H,W) float32`, `labels.npy (N,) int64`, `masses.npy (N,) float64` (NaN = none).
        case stack
        /// `OUT/lenses.h5`: `/images (N,1,H,W) float32` (chunked, gzip), `/labels`, `/mass`, `/names`.
        case hdf5
    }

    /// Renders `count` images and writes them to `out` in `format`, plus `truth.csv` with the true
    /// lens and source positions. Returns the rendered truth (pixels dropped to save memory).
    /// - Parameters:
    ///   - threads: worker threads.
    ///   - progress: called with the number of images written so far.
    @discardableResult
    public static func write(config: SynthConfig, count: Int, format: Format, to out: String, threads: Int,
                             progress: (@Sendable (Int) -> Void)? = nil) throws -> [SynthLens] {
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
            throw LensDataError(path: out, "cannot create output folder: \(error.localizedDescription)")
        }
        let sim = LensSimulator(config: config)
        let n = config.size
        var truth: [SynthLens] = []
        truth.reserveCapacity(count)
        let chunk = 256
        var stackWriter: StackFile?
        var h5: (file: HDF5File, images: HDF5WritableDataset)?
        switch format {
        case .tree:
            for c in SynthConfig.classes { try? fm.createDirectory(atPath: "\(out)/\(c)", withIntermediateDirectories: true) }
        case .stack:
            stackWriter = try StackFile(path: "\(out)/images.npy", header: NPYHeader(dtype: .float32, shape: [count, 1, n, n]))
        case .hdf5:
            let file = try HDF5File(path: "\(out)/lenses.h5.tmp", create: true)
            h5 = (file, try HDF5Writer.createFloat32(file, "/images", shape: [count, 1, n, n]))
        }
        var start = 0
        while start < count {
            let range = start..<min(count, start + chunk)
            let rendered = ParallelRunner.map(count: range.count, chunkSize: 8, threads: threads) { r -> [Result<SynthLens, LensDataError>] in
                r.map { k -> Result<SynthLens, LensDataError> in
                    let lens = sim.render(index: range.lowerBound + k)
                    if format == .tree {
                        do { try writeTreeFile(lens, config: config, root: out) } catch let e as LensDataError { return .failure(e) } catch {
                            return .failure(LensDataError(path: out, "\(error)"))
                        }
                    }
                    return .success(lens)
                }
            }.flatMap { $0 }
            let lenses = try rendered.map { try $0.get() }
            let floats = lenses.flatMap { $0.pixels.map(Float.init) }
            try stackWriter?.append(floats)
            try h5?.images.write(start: range.lowerBound, count: range.count, values: floats)
            truth += lenses.map { var t = $0; t.pixels = []; return t }
            start = range.upperBound
            progress?(start)
        }
        switch format {
        case .tree: break
        case .stack:
            try stackWriter?.finish()
            try NPYWriter.write(path: "\(out)/labels.npy", shape: [count], int64: truth.map { Int64($0.label) })
            try NPYWriter.write(path: "\(out)/masses.npy", shape: [count], float64: truth.map { $0.axionMass ?? .nan })
            try (SynthConfig.classes.joined(separator: "\n") + "\n").write(toFile: "\(out)/classes.txt", atomically: true, encoding: .utf8)
        case .hdf5:
            if let h5 {
                try HDF5Writer.writeInt64(h5.file, "/labels", values: truth.map { Int64($0.label) })
                try HDF5Writer.writeFloat64(h5.file, "/mass", values: truth.map { $0.axionMass ?? .nan })
                try HDF5Writer.writeStrings(h5.file, "/names", values: truth.map { "\($0.className)/\($0.fileName)" })
            }
            h5 = nil  // closes the file
            if fm.fileExists(atPath: "\(out)/lenses.h5") { try fm.removeItem(atPath: "\(out)/lenses.h5") }
            try fm.moveItem(atPath: "\(out)/lenses.h5.tmp", toPath: "\(out)/lenses.h5")
        }
        try writeTruth(truth, format: format, to: "\(out)/truth.csv")
        return truth
    }

    /// Writes a whole output folder, as `lenspipe synth` does: a non-empty `out` is refused unless
    /// `overwrite`, and then replaced only when it looks like synth's own output (it has `truth.csv`);
    /// the images go into a staging folder beside `out` (`StagedFolder`) that is put in place when
    /// complete, so `out` never mixes two runs and a killed run leaves nothing in it. A staging
    /// folder left by a killed run is removed first, and `notice` is told so.
    @discardableResult
    public static func writeFolder(config: SynthConfig, count: Int, format: Format, to out: String, overwrite: Bool, threads: Int,
                                   notice: (String) -> Void = { _ in }, progress: (@Sendable (Int) -> Void)? = nil) throws -> [SynthLens] {
        if !StagedFolder.entries(out).isEmpty {
            guard overwrite else {
                throw LensDataError(path: out, "is not empty (\(StagedFolder.listing(out))): pass --overwrite to replace it, or choose a new folder")
            }
            guard FileManager.default.fileExists(atPath: out + "/truth.csv") else {
                throw LensDataError(path: out, "does not look like a synth output (no truth.csv): not replacing it")
            }
        }
        let (staging, removed) = try StagedFolder.begin(out)
        if removed { notice("removed \(staging), left by an interrupted run") }
        let truth = try write(config: config, count: count, format: format, to: staging, threads: threads, progress: progress)
        try StagedFolder.commit(staging, to: out)
        return truth
    }

    static func writeTreeFile(_ lens: SynthLens, config: SynthConfig, root: String) throws {
        let path = "\(root)/\(lens.className)/\(lens.fileName)"
        let n = lens.size
        let raw: RawArray
        if config.integerCounts {
            raw = RawArray(dtype: .int64, shape: [n, n], bytes: NPYWriter.littleEndianBytes(lens.pixels.map { Int64($0) }))
        } else {
            raw = RawArray(dtype: .float64, shape: [n, n], bytes: NPYWriter.littleEndianBytes(lens.pixels.map { $0.bitPattern }))
        }
        if let mass = lens.axionMass {
            try NPYWriter.writeObjectArray(path: path, image: raw, scalars: [mass])
        } else {
            try NPYWriter.write(path: path, dtype: raw.dtype, shape: raw.shape, bytes: raw.bytes)
        }
    }

    static func writeTruth(_ truth: [SynthLens], format: Format, to path: String) throws {
        var csv = "id,class,label,lens_x,lens_y,source_x,source_y,axion_mass_ev,exposure_s\n"
        for t in truth {
            let id = format == .tree ? "\(t.className)/\(t.fileName)" : String(t.index)
            let mass = t.axionMass.map { String($0) } ?? ""
            csv += "\(id),\(t.className),\(t.label),\(t.lensX),\(t.lensY),\(t.sourceX),\(t.sourceY),\(mass),\(t.exposure)\n"
        }
        do { try csv.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw LensDataError(path: path, "cannot write: \(error.localizedDescription)")
        }
    }
}

/// An `.npy` written in appended pieces under a temporary name, renamed when complete.
final class StackFile {
    private let path: String
    private let handle: FileHandle
    private let expected: Int
    private var written = 0

    init(path: String, header: NPYHeader) throws {
        self.path = path
        expected = header.dataByteCount
        guard FileManager.default.createFile(atPath: path + ".tmp", contents: Data(header.encoded())) else {
            throw LensDataError(path: path, "cannot create")
        }
        guard let h = FileHandle(forWritingAtPath: path + ".tmp") else { throw LensDataError(path: path, "cannot open for writing") }
        handle = h
        handle.seekToEndOfFile()
    }

    func append(_ values: [Float]) throws {
        let bytes = NPYWriter.littleEndianBytes(values.map { $0.bitPattern })
        try handle.write(contentsOf: bytes)
        written += bytes.count
    }

    func finish() throws {
        try handle.close()
        guard written == expected else { throw LensDataError(path: path, "wrote \(written) of \(expected) data bytes") }
        let fm = FileManager.default
        if fm.fileExists(atPath: path) { try fm.removeItem(atPath: path) }
        try fm.moveItem(atPath: path + ".tmp", toPath: path)
    }
}
