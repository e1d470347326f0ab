import ArgumentParser
import Foundation
import ShardWriter

extension LensPipe {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-read every shard of a preprocessed data set: offsets, sizes, hashes, every sample.",
            discussion: "Prints counts per split and class (class names from lenspipe.json: OUT's, or the parent's for one split folder; numbers when none is found); exits 1 on any defect, naming the file.")

        @Argument(help: "The preprocess output folder (or one MDS folder).")
        var out: String

        @OptionGroup var threadOptions: ThreadOptions

        @Flag(help: "Print the report as JSON.")
        var json = false

        @Flag(help: "Print only the defects and the verdict (ok, or the number of defects).")
        var quiet = false

        func run() throws {
            let report = ShardVerify.run(root: out, threads: threadOptions.threads)
            if json {
                try JSONOutput.print(report)
            } else {
                for f in report.folders where !quiet {
                    let classes = f.classes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                    print("\(f.folder): \(f.shards) shards, \(f.samples) samples (\(classes)), \(f.targets) with targets, \(f.bytes) bytes")
                }
                for d in report.defects { print("defect: \(d)") }
                print(report.defects.isEmpty ? "ok" : "\(report.defects.count) defects")
            }
            if !report.defects.isEmpty { throw ExitCode(1) }
        }
    }

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Join the part folders of `preprocess --worker i/N` runs: writes each split's index.json and lenspipe.json.",
            discussion: "The index lists every part's shards as partNNN/shard.NNNNN.mds.zstd, the layout streaming's merge_index writes.")

        @Argument(help: "The preprocess output folder the workers wrote into.")
        var out: String

        @Flag(help: "Print the merged folders as JSON: [{folder, samples}].")
        var json = false

        @Flag(help: "Print nothing on success.")
        var quiet = false

        func run() throws {
            let merged = try ShardMerge.run(root: out)
            guard !merged.isEmpty else { throw ValidationError("no part folders with an index.json under \(out)") }
            if json {
                try JSONOutput.print(merged.map { MergedFolder(folder: $0.folder, samples: $0.samples) })
            } else if !quiet {
                for m in merged { print("\(m.folder)/index.json: \(m.samples) samples") }
            }
        }
    }
}

/// One split folder `merge --json` reports.
struct MergedFolder: Encodable {
    let folder: String
    let samples: Int
}
