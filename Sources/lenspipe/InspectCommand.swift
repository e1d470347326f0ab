import ArgumentParser
import Foundation
import LensData
import Render
import ShardWriter

extension LensPipe {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Scan a data set: counts per class, shapes, dtypes, value range, targets, unreadable files.",
            discussion: """
            Every sample is read (in parallel). Unreadable files are listed with the reason and the scan goes on; the exit status is 1 if any failed. A folder of splits (root/train/<class>/*.npy, root/test/..., as preprocess --keep-splits takes) or a preprocess output (OUT/train, OUT/val) is reported split by split, then in total.

            Examples:
              lenspipe inspect data/model1/train
              lenspipe inspect data/model2.h5:/train/images --labels /train/labels \\
                --targets /train/mass --json
              lenspipe inspect stack.npy --labels labels.npy -o sheet.png
              lenspipe inspect data/model1 --json
            """)

        @OptionGroup var sourceOptions: SourceOptions
        @OptionGroup var threadOptions: ThreadOptions

        @Flag(help: "Print one JSON object (keys: images, classes, shapes, dtypes, targets, min, max, errors, ...; for a folder of splits, the totals and splits: name -> the same object).")
        var json = false

        @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("Also write a contact sheet: a few asinh-stretched images per class, one row per class.",
                                   valueName: "sheet.png"))
        var output: String?

        @Option(name: .customLong("png"), help: .hidden)
        var legacyPNG: String?
        var png: String? { output ?? legacyPNG }

        @Option(help: "Images per class on the contact sheet.")
        var perClass = 6

        @Flag(help: "No progress line.")
        var quiet = false

        func run() throws {
            let splitRoot = sourceOptions.labels == nil && sourceOptions.targets == nil ? try SplitRoot.open(sourceOptions.source) : nil
            // A folder of splits is reported split by split; its contact sheet shows `train` (else the first split).
            let sheetSplit = splitRoot.flatMap { r in r.splits.first { $0.name == "train" } ?? r.splits.first }
            let source = try sheetSplit?.source ?? MDSSource.open(sourceOptions.spec)
            let total = splitRoot?.splits.reduce(0) { $0 + $1.source.count } ?? source.count
            let meter = ProgressMeter("inspect", total: total, quiet: quiet || total < 2000)
            let report = splitRoot.map { SourceScan.run(splits: $0.splits, source: $0.summary, threads: threadOptions.threads) { meter.update($0) } }
                ?? SourceScan.run(source, threads: threadOptions.threads) { meter.update($0) }
            meter.finish()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print(InspectText.render(report))
            }
            if let png {
                let (sheet, rows) = try ContactSheet.make(source: source, perClass: perClass, title: "Contact sheet: \(sourceOptions.source)")
                try sheet.writePNG(path: png)
                if !json { print("contact sheet: \(png) (\(sheetSplit.map { "split \($0.name), " } ?? "")rows: \(rows.joined(separator: ", ")))") }
            }
            if !report.errors.isEmpty { throw ExitCode(1) }
        }
    }
}

/// The human-readable form of a scan report.
enum InspectText {
    static func render(_ r: ScanReport) -> String {
        guard let splits = r.splits else { return lines(r, errors: true).joined(separator: "\n") }
        // A folder of splits: each split (with its errors), then the totals.
        var out: [String] = []
        for name in splits.keys.sorted() {
            out.append("split \(name)")
            out += lines(splits[name]!, errors: true).map { "  " + $0 }
        }
        out.append("total")
        out += lines(r, errors: false).map { "  " + $0 }
        return out.joined(separator: "\n")
    }

    static func lines(_ r: ScanReport, errors: Bool) -> [String] {
        var lines = ["source:   \(r.source)", "images:   \(r.images) readable, \(r.errors.count) unreadable"]
        if !r.classes.isEmpty {
            lines.append("classes:  " + r.classes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        lines.append("shapes:   " + r.shapes.map { "[\($0.map(String.init).joined(separator: ","))]" }.joined(separator: " "))
        lines.append("dtypes:   " + r.dtypes.joined(separator: " ") + (r.objectArrays > 0 ? " (\(r.objectArrays) from pickled object arrays)" : ""))
        if let lo = r.min, let hi = r.max { lines.append("values:   \(lo) .. \(hi)") }
        if r.nonfinitePixels > 0 { lines.append("warning:  \(r.nonfinitePixels) NaN/Inf pixels") }
        lines.append("targets:  \(r.targets) samples carry a regression target")
        guard errors else { return lines }
        for e in r.errors.prefix(50) { lines.append("error:    \(e.path): \(e.message)") }
        if r.errors.count > 50 { lines.append("error:    ... and \(r.errors.count - 50) more (use --json for all)") }
        return lines
    }
}
