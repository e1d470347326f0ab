import CMallocTuning
import Foundation
import LensCore
import Synchronization

/// How MiniTrain's own kernels (attention, LayerNorm, GELU, the loss) split work across cores. BLAS has
/// its own threads (`BLAS.setThreads`); the two never run at the same time.
public enum KernelThreads {
    /// Keeps freed buffers in the heap between steps (glibc otherwise returns blocks above 128 KiB to
    /// the kernel, and every step pays page faults to get them back), in one heap for all threads
    /// (per-thread heaps each keep their own high-water mark). For what still allocates per step (the
    /// fine-tune, the monitor's inference; `CMallocTuning` says why). Call once, before the threads start.
    public static func keepFreedMemory() {
        lenspipe_keep_freed_memory()
    }

    /// Gives the heap's free blocks back to the kernel once (after a set-up phase whose buffers the
    /// steady state does not reuse, e.g. `train --minutes`' timing steps on a scratch trainer).
    public static func releaseFreedMemory() {
        lenspipe_release_freed_memory()
    }

    /// Threads for the kernels in the current task: `KernelThreads.$count.withValue(n) { ... }`
    /// (task-local, so concurrent callers, tests among them, do not change each other's setting).
    @TaskLocal public static var count = 1

    /// Runs `body(range)` on contiguous chunks of `0..<n`, one per thread. Chunks write disjoint outputs.
    /// `cutInvariant`: every output is the same bits however the rows are cut (each row, window or element
    /// computed on its own, in the same order), so on one thread, when a worker that has finished its
    /// lanes waits in `help`, it may run the second half of the rows while this thread runs the first: a
    /// step's numbers do not depend on whether, or when, it helped.
    static func forEach(_ n: Int, minimumPerChunk: Int = 1, cutInvariant: Bool = false, _ body: (Range<Int>) -> Void) {
        if cutInvariant, count == 1, let help, help.share(n, minimumPerChunk: minimumPerChunk, body) { return }
        ParallelFor.contiguous(n, parts: chunks(n, minimumPerChunk)) { body($1) }
    }

    /// A sum shared by all rows (a parameter's gradient, `width` floats), cut-invariant: `body(blocks,
    /// partials)` adds the rows of each block `b` in `blocks` (the fixed blocks of `block` rows of
    /// `0..<n`, cut as `forEach(cutInvariant: true)` cuts) into its own zeroed `partials + b · width`;
    /// then `total` gets the blocks' sums added in block order, the same bits for any cut.
    static func blockSums(_ n: Int, block: Int, width: Int, _ body: (_ blocks: Range<Int>, _ partials: UnsafeMutablePointer<Float>) -> Void,
                          total: (UnsafePointer<Float>) -> Void) {
        let blocks = (n + block - 1) / block
        guard blocks > 0 else { return }
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: blocks * width)
        partials.initialize(repeating: 0, count: blocks * width)
        defer { partials.deallocate() }
        nonisolated(unsafe) let shared = partials
        forEach(blocks, cutInvariant: true) { body($0, shared) }
        for b in 1..<blocks { for i in 0..<width { partials[i] += partials[b * width + i] } }
        total(partials)
    }

    /// The parts `forEach` cuts `n` rows into: one per thread, none under `minimumPerChunk` rows.
    private static func chunks(_ n: Int, _ minimumPerChunk: Int) -> Int { min(max(1, count), max(1, n / max(1, minimumPerChunk))) }

    /// The lanes' helper in the current task (`EsViTTrainer`'s lanes; nil elsewhere).
    @TaskLocal static var help: LaneHelp?
}

/// A worker with no lane left lent to the lanes still running (`KernelThreads.forEach(cutInvariant:)`):
/// one job at a time, the second half of a kernel's rows, while the lane runs the first.
/// Lanes are unequal on a shared machine (one core is slowed for a few milliseconds while the other
/// is not), and without this the worker that finishes first waits for the other.
final class LaneHelp: @unchecked Sendable {
    private enum State: Int { case none = 0, waiting, posting, posted, running, done }
    private let state = Atomic<Int>(State.none.rawValue)
    /// Lanes started and not yet finished.
    private let running = Atomic<Int>(0)
    private nonisolated(unsafe) var job: ((Range<Int>) -> Void)?
    private nonisolated(unsafe) var jobRows = 0..<0
    /// Halves the helper ran since `start` (for tests and measurements).
    private(set) nonisolated(unsafe) var shared = 0
    /// Whether a lane runs a posted half itself when the helper has not started it by the time the
    /// lane's own half is done, so that a helper the scheduler has taken off its core (for the view
    /// producer, say) never makes a lane wait.
    let takesBack: Bool

    init(takesBack: Bool = true) {
        self.takesBack = takesBack
    }

    /// Tests: a helper that said it waits and then lost its core (no thread serves).
    func helperWaitsOffCore() { state.store(State.waiting.rawValue, ordering: .releasing) }

    /// Whether a lane runs now.
    var laneRuns: Bool { running.load(ordering: .acquiring) > 0 }

    /// Whether a helper waits for a job now.
    var helperWaits: Bool { state.load(ordering: .acquiring) == State.waiting.rawValue }

    /// Before a step's lanes start.
    func start() {
        state.store(State.none.rawValue, ordering: .relaxed)
        shared = 0
        running.store(0, ordering: .releasing)
    }

    /// Runs one lane (`lane`), counted as running while it does.
    func lane<R>(_ lane: () -> R) -> R {
        running.add(1, ordering: .acquiringAndReleasing)
        defer { running.subtract(1, ordering: .acquiringAndReleasing) }
        return KernelThreads.$help.withValue(self) { lane() }
    }

    /// Runs posted halves while a lane runs. A worker calls it when it has no lane left; it returns at
    /// once when none runs, so a lane that no thread has started yet (Dispatch may run a worker's
    /// iterations one after another on one thread) is never waited for.
    func serve() {
        while running.load(ordering: .acquiring) > 0 {
            let s = state.load(ordering: .acquiring)
            if s == State.none.rawValue {
                _ = state.compareExchange(expected: s, desired: State.waiting.rawValue, ordering: .acquiringAndReleasing)
            } else if s == State.posted.rawValue,
                      state.compareExchange(expected: s, desired: State.running.rawValue, ordering: .acquiringAndReleasing).exchanged {
                job!(jobRows)
                state.store(State.done.rawValue, ordering: .releasing)
            }
        }
    }

    /// Runs `body` on `0..<n` with the helper taking the second half, when one waits and each half has
    /// at least `minimumPerChunk` rows; false (nothing run) otherwise.
    func share(_ n: Int, minimumPerChunk: Int, _ body: (Range<Int>) -> Void) -> Bool {
        guard n >= 2 * max(1, minimumPerChunk), state.load(ordering: .relaxed) == State.waiting.rawValue,
              state.compareExchange(expected: State.waiting.rawValue, desired: State.posting.rawValue, ordering: .acquiringAndReleasing).exchanged
        else { return false }
        let mid = n / 2
        withoutActuallyEscaping(body) { body in
            job = body
            jobRows = mid..<n
            state.store(State.posted.rawValue, ordering: .releasing)
            body(0..<mid)
            if takesBack && state.compareExchange(expected: State.posted.rawValue, desired: State.running.rawValue,
                                                  ordering: .acquiringAndReleasing).exchanged {
                body(mid..<n)
            } else {
                while state.load(ordering: .acquiring) != State.done.rawValue {}
                shared += 1
            }
            job = nil
        }
        state.store(State.waiting.rawValue, ordering: .releasing)
        return true
    }
}
