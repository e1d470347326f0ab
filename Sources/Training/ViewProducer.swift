import Foundation
import LensData
import PairSampler
import ShardWriter

/// Makes the view batches of steps `start..<end` on a background thread, one batch ahead of the step
/// (double buffering): while MiniTrain runs step s, batch s + 1 is decoded and its views drawn.
/// Batches come in MiniTrain's crop-major layout (`[2, B, C, S, S]` and `[L, B, C, s, s]`), so the step
/// takes them without a copy. Views are keyed by (seed, epoch, sample, view): the batches do not
/// depend on timing or thread counts.
final class ViewProducer: @unchecked Sendable {
    // @unchecked Sendable: `queue`, `failure` and `stopped` are only touched under `condition`.
    private let condition = NSCondition()
    private var queue: [(step: Int, batch: ViewBatch)] = []
    private var failure: (any Error)?
    private var stopped = false
    private let depth: Int
    private var thread: Thread?

    /// - Parameters:
    ///   - depth: batches made ahead (2: one in use, one ready).
    ///   - threads: threads drawing views (the step itself uses the kernel threads).
    init(order: ShardOrder, sampler: PairSampler, schedule: TrainSchedule, batch B: Int, steps: Range<Int>, depth: Int = 2, threads: Int = 1) {
        self.depth = max(1, depth)
        let thread = Thread { [self] in  // holds self until the last batch or stop()
            var epochOrder: (epoch: Int, indices: [Int])? = nil
            for step in steps {
                do {
                    let (epoch, position) = schedule.epoch(of: step)
                    if epochOrder?.epoch != epoch { epochOrder = (epoch, order.order(epoch: epoch)) }
                    let indices = Array(epochOrder!.indices[(position * B)..<((position + 1) * B)])
                    let samples = try indices.map { try order.sample($0) }
                    let images = samples.map(\.image)
                    let maps = samples.map { sampler.foregroundMap($0.image, mask: $0.foreground) }
                    let batch = sampler.makeBatch(images: images, samples: indices, epoch: epoch, threads: threads, maps: maps, layout: .cropMajor)
                    guard self.put(step, batch) else { return }
                } catch {
                    self.fail(error)
                    return
                }
            }
        }
        thread.name = "lenspipe-views"
        thread.stackSize = 8 << 20
        self.thread = thread
        thread.start()
    }

    private func put(_ step: Int, _ batch: ViewBatch) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while queue.count >= depth && !stopped { condition.wait() }
        guard !stopped else { return false }
        queue.append((step, batch))
        condition.broadcast()
        return true
    }

    private func fail(_ error: any Error) {
        condition.lock()
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    /// The batch of `step` (steps are taken in order); blocks until it is ready.
    func next(step: Int) throws -> ViewBatch {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && failure == nil { condition.wait() }
        if queue.isEmpty, let failure { throw failure }
        let item = queue.removeFirst()
        precondition(item.step == step, "view batches out of order: got step \(item.step), expected \(step)")
        condition.broadcast()
        return item.batch
    }

    /// Stops the thread (it finishes the batch it is drawing). Call it when the run ends early.
    func stop() {
        condition.lock()
        stopped = true
        queue.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}
