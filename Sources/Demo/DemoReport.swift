import Foundation
import LensData

/// The demo's report: one section per step (what ran, the equivalent command, its numbers, its
/// figures with a caption each, and what they show), written as one self-contained HTML file: the
/// PNGs are embedded as data URIs, so the file can be mailed or opened from anywhere.
public struct DemoReport: Sendable {
    public struct Step: Sendable {
        public var title: String
        public var command: String
        /// (name, value) pairs, in order.
        public var numbers: [(String, String)]
        /// (path relative to the demo folder, caption).
        public var figures: [(String, String)]
        /// What the numbers and figures show, in a sentence or two.
        public var text: String
        /// An optional table: header and rows.
        public var table: ([String], [[String]])?

        public init(title: String, command: String, numbers: [(String, String)] = [], figures: [(String, String)] = [], text: String) {
            (self.title, self.command, self.numbers, self.figures, self.text) = (title, command, numbers, figures, text)
        }
    }

    public var title: String
    public var options: DemoRun.Options
    public private(set) var steps: [Step] = []
    let started = Date()

    public init(title: String, options: DemoRun.Options) {
        self.title = title
        self.options = options
    }

    public mutating func add(_ step: Step) { steps.append(step) }

    /// The HTML text; figures are read from `folder` (the demo folder) and embedded.
    public func html(folder: String) -> String {
        var h = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(Self.escape(title))</title>
        <style>
        body { font-family: "DejaVu Sans", sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
        h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
        pre { background: #f4f4f6; padding: 0.6em; overflow-x: auto; white-space: pre-wrap; }
        table { border-collapse: collapse; margin: 0.6em 0; } td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
        th { background: #f0f0f4; } figure { margin: 1em 0; } img { max-width: 100%; image-rendering: pixelated; border: 1px solid #ddd; }
        figcaption { color: #555; font-size: 0.92em; }
        </style></head><body>
        <h1>\(Self.escape(title))</h1>
        <p>Made by <code>lenspipe demo</code> (seed \(options.seed), \(options.threads) threads, \(String(format: "%g", options.trainMinutes)) training minutes)
        in \(String(format: "%.1f", Date().timeIntervalSince(started) / 60)) minutes. Each section below is one stage of the pipeline, with
        the command that does it on its own, its numbers and its figures.</p>
        <ol>\(steps.map { "<li>\(Self.escape($0.title))</li>" }.joined())</ol>

        """
        for (i, s) in steps.enumerated() {
            h += "<h2>\(i + 1). \(Self.escape(s.title))</h2>\n<p>\(Self.escape(s.text))</p>\n<pre>\(Self.escape(s.command))</pre>\n"
            if !s.numbers.isEmpty {
                h += "<table>" + s.numbers.map { "<tr><th>\(Self.escape($0.0))</th><td>\(Self.escape($0.1))</td></tr>" }.joined() + "</table>\n"
            }
            if let (header, rows) = s.table {
                h += "<table><tr>" + header.map { "<th>\(Self.escape($0))</th>" }.joined() + "</tr>"
                h += rows.map { "<tr>" + $0.map { "<td>\(Self.escape($0))</td>" }.joined() + "</tr>" }.joined() + "</table>\n"
            }
            for (path, caption) in s.figures {
                if let png = FileManager.default.contents(atPath: folder + "/" + path) {
                    h += "<figure><img src=\"data:image/png;base64,\(png.base64EncodedString())\" alt=\"\(Self.escape(path))\">"
                    h += "<figcaption><code>\(Self.escape(path))</code>: \(Self.escape(caption))</figcaption></figure>\n"
                } else {
                    h += "<p><em>\(Self.escape(path)) was not written.</em></p>\n"
                }
            }
        }
        return h + "</body></html>\n"
    }

    /// Writes the report atomically (a temporary name, then a rename).
    public func write(to path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        try AtomicFile.write(path: path, parts: [Array(html(folder: folder.isEmpty ? "." : folder).utf8)])
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
