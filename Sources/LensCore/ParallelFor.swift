import Dispatch

/// The one way lenspipe spreads a loop over cores (Dispatch's pool, inline for one worker), with the
/// three ways of cutting the work the code needs. Each says what its results may depend on:
/// - `contiguous`: `parts` equal ranges; the cut depends on `parts` (MiniTrain's kernels, whose thread
///   count is part of a run's configuration).
/// - `blocks`: blocks of a fixed size dealt round-robin; the cut never depends on the thread count, so a
///   reduction summed in block order gives the same bits for any `threads` (FeatureMetrics).
/// - `ParallelRunner.map`: chunks pulled from a shared counter (load-balanced), results in chunk order.
/// Every body must write disjoint outputs and only read what is shared.
public enum ParallelFor {
    /// Calls `body(w)` for each `w` in `0..<workers`, concurrently when `workers` > 1.
    public static func workers(_ workers: Int, _ body: (Int) -> Void) {
        if workers <= 1 {
            if workers == 1 { body(0) }
            return
        }
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let run = body
            DispatchQueue.concurrentPerform(iterations: workers) { run($0) }
        }
    }

    /// `body(part, range)` on `parts` contiguous ranges of `0..<n` (part `c`: `c·n/parts ..< (c+1)·n/parts`).
    public static func contiguous(_ n: Int, parts: Int, _ body: (_ part: Int, _ range: Range<Int>) -> Void) {
        let parts = max(1, parts)
        if parts == 1 { body(0, 0..<n); return }
        workers(parts) { c in body(c, (c * n / parts)..<((c + 1) * n / parts)) }
    }

    /// `body(block, rows)` for the blocks `0..<blockCount(n, blockSize)` of `0..<n`, on up to `threads`
    /// workers (worker `t` takes blocks `t, t + threads, ...`).
    public static func blocks(_ n: Int, blockSize: Int, threads: Int, _ body: (_ block: Int, _ rows: Range<Int>) -> Void) {
        let blocks = blockCount(n, blockSize: blockSize)
        let count = min(max(1, threads), blocks)
        func rows(_ b: Int) -> Range<Int> { (b * blockSize)..<min(n, (b + 1) * blockSize) }
        workers(count) { t in
            var b = t
            while b < blocks { body(b, rows(b)); b += count }
        }
    }

    /// `ceil(n / blockSize)`, and 0 for `n == 0`.
    public static func blockCount(_ n: Int, blockSize: Int) -> Int { (n + blockSize - 1) / blockSize }
}
