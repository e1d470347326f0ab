import Foundation
import LensData

/// `lenspipe bench read`: every sample of a source read to Float32, the best of `repeats` passes.
/// MB/s counts the bytes read (a folder's files, a stack's or HDF5 dataset's image data as stored).
/// Each pass opens every file once, as a numpy `np.load` loop does (`scripts/bench_read.py`).
public enum ReadBenchmark {
    public struct Result: Codable, Sendable {
        public var files: Int, failed: Int, threads: Int, seconds: Double, bytes: Int
        public var filesPerSecond: Double, megabytesPerSecond: Double
        enum CodingKeys: String, CodingKey {
            case files, failed, threads, seconds, bytes
            case filesPerSecond = "files_per_s", megabytesPerSecond = "mb_per_s"
        }
    }

    public static func run(_ spec: SourceSpec, threads: Int, repeats: Int) throws -> Result {
        // Opened once to check it (an HDF5 file is probed in a child process here, untimed); then every
        // pass opens a stack or HDF5 file once, as np.load opens each file. A folder source's listing is
        // reused: its reads open each file.
        let checked = try spec.open()
        let bytes = checked.storedBytes ?? 0
        let reopen = !(checked is NPYFolderSource)
        if reopen { HDF5CrashGuard.install(nil) }
        var best = Double.infinity
        var failures = 0
        for _ in 0..<max(1, repeats) {
            let t0 = Date()
            let source = reopen ? try spec.open() : checked
            let counts = ParallelRunner.map(count: source.count, chunkSize: 64, threads: threads) { range -> Int in
                var bad = 0
                for i in range { if (try? source.sample(at: i)) == nil { bad += 1 } }
                return bad
            }
            best = min(best, Date().timeIntervalSince(t0))
            failures = counts.reduce(0, +)
        }
        return Result(files: checked.count, failed: failures, threads: threads, seconds: best, bytes: bytes,
                      filesPerSecond: Double(checked.count) / best, megabytesPerSecond: Double(bytes) / 1e6 / best)
    }
}
