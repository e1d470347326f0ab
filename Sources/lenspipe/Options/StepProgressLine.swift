import Foundation
import LensData
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
        FileHandle.standardError.write(Data(ProgressText.frame(text(), terminal: isTerminal).utf8))
    }

    /// A message on its own line; `evenIfQuiet` for warnings that `--quiet` must not hide.
    func log(_ message: String, evenIfQuiet: Bool = false) {
        guard !quiet || evenIfQuiet else { return }
        FileHandle.standardError.write(Data(((isTerminal ? "\r\u{1B}[K" : "") + message + "\n").utf8))
    }

    func finish() { if !quiet && isTerminal { FileHandle.standardError.write(Data("\n".utf8)) } }

    /// `45s`, `4m12s`, `1h03m` (`ProgressText.duration`).
    static func duration(_ s: Double) -> String { ProgressText.duration(s) }
}

extension StepProgress {
    /// The progress line's text: `train` adds its data wait, `finetune` its kept validation pass.
    var line: String {
        let wait = dataWaitShare.map { String(format: " data wait %.0f%%", 100 * $0) } ?? ""
        let kept = best.map { String(format: " best val %.4f @ %d", $0.value, $0.step) } ?? ""
        return String(format: "step %d/%d (epoch %d) loss %.4f lr %.2e%@ %.1f img/s%@ ETA %@", step, totalSteps, epoch, loss, lr,
                      kept, imagesPerSecond, wait, StepProgressLine.duration(etaSeconds))
    }
}
