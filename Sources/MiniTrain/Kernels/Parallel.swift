import CMallocTuning
import Foundation
import LensCore

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
    static func forEach(_ n: Int, minimumPerChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        ParallelFor.contiguous(n, parts: chunks(n, minimumPerChunk)) { body($1) }
    }

    /// The parts `forEach` cuts `n` rows into: one per thread, none under `minimumPerChunk` rows.
    private static func chunks(_ n: Int, _ minimumPerChunk: Int) -> Int { min(max(1, count), max(1, n / max(1, minimumPerChunk))) }

    /// Like `forEach`, with a zeroed scratch accumulator of `width` floats per chunk that is summed into
    /// `into` at the end (for gradients shared by all rows, like dγ or the bias table).
    static func forEachAccumulating(_ n: Int, width: Int, into: UnsafeMutablePointer<Float>, minimumPerChunk: Int = 1,
                                    _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        let chunks = chunks(n, minimumPerChunk)
        if chunks <= 1 { body(0..<n, into); return }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: chunks * width)
        scratch.initialize(repeating: 0, count: chunks * width)
        defer { scratch.deallocate() }
        ParallelFor.contiguous(n, parts: chunks) { c, range in body(range, scratch + c * width) }
        for c in 0..<chunks { for i in 0..<width { into[i] += scratch[c * width + i] } }
    }
}
