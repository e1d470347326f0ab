import ArgumentParser
import Foundation
import LensData

extension LensPipe {
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure lenspipe's throughput (JSON output, to compare against a baseline in the same run).",
            subcommands: [Read.self])
    }
}

extension LensPipe.Bench {
    struct Read: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read every sample of a source to Float32 and report files/s and MB/s.",
            discussion: """
            MB/s counts the bytes of the files read. Compare with scripts/bench_read.py, a numpy np.load
            loop over the same files (scripts/bench-read.sh runs both).
            """)

        @OptionGroup var sourceOptions: SourceOptions
        @OptionGroup var threadOptions: ThreadOptions

        @Option(help: "Passes over the data; the best is reported (the first warms the page cache).")
        var repeats = 3

        func run() throws {
            let source = try sourceOptions.spec.open()
            let bytes = Self.fileBytes(source)
            var best = Double.infinity
            var failures = 0
            for _ in 0..<max(1, repeats) {
                let t0 = Date()
                let counts = ParallelRunner.map(count: source.count, chunkSize: 64, threads: threadOptions.threads) { range -> Int in
                    var bad = 0
                    for i in range { if (try? source.sample(at: i)) == nil { bad += 1 } }
                    return bad
                }
                best = min(best, Date().timeIntervalSince(t0))
                failures = counts.reduce(0, +)
            }
            let result: [String: Any] = [
                "files": source.count, "failed": failures, "threads": threadOptions.threads, "seconds": best,
                "files_per_s": Double(source.count) / best, "mb_per_s": Double(bytes) / 1e6 / best,
            ]
            let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }

        /// Total bytes on disk behind the source (files of a folder source, else the one file).
        static func fileBytes(_ source: any SampleSource) -> Int {
            let fm = FileManager.default
            if let folder = source as? NPYFolderSource {
                return folder.entries.reduce(0) { sum, e in
                    sum + ((try? fm.attributesOfItem(atPath: folder.root + "/" + e.path)[.size] as? Int) ?? 0)
                }
            }
            return 0
        }
    }
}
