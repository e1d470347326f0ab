import Dispatch
import Foundation
import Synchronization

/// Runs work over `0..<count` on `threads` workers that pull chunks from a shared counter, and
/// returns one result per chunk in chunk order, so the merged result never depends on timing
/// (`ParallelFor`'s load-balanced cut).
public enum ParallelRunner {
    /// - Parameters:
    ///   - count: number of items.
    ///   - chunkSize: items per chunk (the unit of work stealing and of `body`'s results).
    ///   - threads: worker count (1 runs inline).
    ///   - body: processes one chunk's index range; must be safe to call concurrently.
    public static func map<T: Sendable>(count: Int, chunkSize: Int, threads: Int,
                                        _ body: @Sendable (Range<Int>) -> T) -> [T] {
        let chunks = (count + chunkSize - 1) / chunkSize
        guard chunks > 0 else { return [] }
        let next = Atomic<Int>(0)
        let results = Mutex<[T?]>([T?](repeating: nil, count: chunks))
        let workers = max(1, min(threads, chunks))
        @Sendable func drain() {
            while true {
                let c = next.add(1, ordering: .relaxed).oldValue
                guard c < chunks else { return }
                let r = body((c * chunkSize)..<min(count, (c + 1) * chunkSize))
                results.withLock { $0[c] = r }
            }
        }
        ParallelFor.workers(workers) { _ in drain() }
        return results.withLock { $0.map { $0! } }
    }

    /// The number of cores this process may use.
    public static var coreCount: Int { ProcessInfo.processInfo.activeProcessorCount }
}
