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
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let text = String(format: "%@: %d/%d (%.0f/s, ETA %.0fs)", label, done, total, rate, eta)
        FileHandle.standardError.write(Data(((isTerminal ? "\r" : "") + text + (isTerminal ? "" : "\n")).utf8))
    }

    /// Ends the live line.
    func finish() {
        if !quiet && isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
