import Foundation
import Synchronization

/// Progress on stderr: a live line with rate and ETA on a terminal, a plain line every few seconds
/// otherwise (logs, CI), nothing with `quiet`.
final class ProgressMeter: Sendable {
    private let label: String
    private let total: Int
    private let quiet: Bool
    private let isTerminal = isatty(2) != 0
    private let start = Date()
    private let last = Mutex<(time: Double, shown: Int)>((0, 0))

    init(_ label: String, total: Int, quiet: Bool = false) {
        self.label = label
        self.total = total
        self.quiet = quiet
    }

    /// Reports that `done` of `total` items are finished; safe from any thread.
    func update(_ done: Int) {
        guard !quiet else { return }
        let elapsed = Date().timeIntervalSince(start)
        let due = last.withLock { state -> Bool in
            let interval = isTerminal ? 0.2 : 5.0
            guard elapsed - state.time >= interval || (done == total && state.shown != total) else { return false }
            state = (elapsed, done)
            return true
        }
        guard due else { return }
        let text = ProgressText.line(label, done: done, total: total, elapsed: elapsed)
        FileHandle.standardError.write(Data(ProgressText.frame(text, terminal: isTerminal).utf8))
    }

    /// Ends the live line.
    func finish() {
        if !quiet && isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// The text of progress lines, apart from where it is written (pure, so it can be tested).
enum ProgressText {
    /// `label: done/total (rate/s, ETA 3m05s)`.
    static func line(_ label: String, done: Int, total: Int, elapsed: Double) -> String {
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        return String(format: "%@: %d/%d (%.0f/s, ETA %@)", label, done, total, rate, duration(eta))
    }

    /// What to write to show `text` as the progress line: on a terminal, a carriage return, the text
    /// and an erase to the end of the line (`ESC [K`), so a shorter line leaves nothing of a longer
    /// one; in a log, the text on a line of its own.
    static func frame(_ text: String, terminal: Bool) -> String {
        terminal ? "\r" + text + "\u{1B}[K" : text + "\n"
    }

    /// `45s`, `3m05s`, `1h02m`; `?` when not finite.
    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        let t = Int(max(0, s).rounded())
        if t >= 3600 { return String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) }
        if t >= 60 { return String(format: "%dm%02ds", t / 60, t % 60) }
        return "\(t)s"
    }
}
