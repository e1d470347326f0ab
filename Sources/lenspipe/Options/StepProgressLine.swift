import Foundation
import Synchronization

/// Progress of a step loop (`train`, `finetune`) on stderr: a live line on a terminal (redrawn at most
/// every 0.25 s), a plain line every 10 s in logs, always the last step; messages on their own lines.
final class StepProgressLine: Sendable {
    private let quiet: Bool
    private let isTerminal = isatty(2) != 0
    private let last = Mutex<Double>(-1e9)
    private let start = Date()

    init(quiet: Bool) { self.quiet = quiet }

    /// Shows `text` (built only when a line is due) for `step` of `total`.
    func show(step: Int, of total: Int, _ text: @autoclosure () -> String) {
        guard !quiet else { return }
        let now = Date().timeIntervalSince(start)
        let due = last.withLock { t -> Bool in
            guard now - t >= (isTerminal ? 0.25 : 10) || step == total else { return false }
            t = now
            return true
        }
        guard due else { return }
        let line = text()
        FileHandle.standardError.write(Data((isTerminal ? "\r\u{1B}[K" + line : line + "\n").utf8))
    }

    /// A message on its own line; `evenIfQuiet` for warnings that `--quiet` must not hide.
    func log(_ message: String, evenIfQuiet: Bool = false) {
        guard !quiet || evenIfQuiet else { return }
        FileHandle.standardError.write(Data(((isTerminal ? "\r\u{1B}[K" : "") + message + "\n").utf8))
    }

    func finish() { if !quiet && isTerminal { FileHandle.standardError.write(Data("\n".utf8)) } }

    /// `4m12s`, `1h03m`.
    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        let t = Int(s.rounded())
        if t >= 3600 { return String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) }
        if t >= 60 { return String(format: "%dm%02ds", t / 60, t % 60) }
        return "\(t)s"
    }
}
