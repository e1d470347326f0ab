import Cropping
import Foundation
import LensData
import PairSampler
import ShardWriter

/// Makes the view batches of steps `start..<end` on a background thread, one batch ahead of the step
/// (double buffering): while MiniTrain runs step s, batch s + 1 is decoded and its views drawn.
/// Batches come in MiniTrain's crop-major layout (`[2, B, C, S, S]` and `[L, B, C, s, s]`), so the step
/// takes them without a copy. Views are keyed by (seed, epoch, sample, view): the batches do not
/// depend on timing or thread counts. SimMIM's patch mask of a step, drawn from its global crops, is
/// made here too, so that the step's thread does not wait on it.
final class ViewProducer: @unchecked Sendable {
    // @unchecked Sendable: `queue`, `failure`, `stopped`, `producerThread` and `yielding` are only touched
    // under `condition`.
    private let condition = NSCondition()
    private var queue: [(step: Int, batch: Batch)] = []
    private var failure: (any Error)?
    private var stopped = false
    private let depth: Int
    private var thread: Thread?

    /// - Parameters:
    ///   - depth: batches made ahead (2: one in use, one ready).
    ///   - threads: threads drawing views (the step itself uses the kernel threads).
    ///   - patchMask: SimMIM's patch mask of a step for its global crops (`TrainRecipe.patchMask`).
    init(order: ShardOrder, sampler: PairSampler, schedule: TrainSchedule, batch B: Int, steps: Range<Int>, depth: Int = 2, threads: Int = 1,
         patchMask: @escaping @Sendable (_ step: Int, _ globals: [Float]) -> [Float]?) {
        self.depth = max(1, depth)
        let thread = Thread { [self] in  // holds self until the last batch or stop()
            self.register(thread: pthread_self())
            defer { self.register(thread: nil) }  // the step must not reach a thread that has exited
            var epochOrder: (epoch: Int, indices: [Int])? = nil
            // Each sample's background estimate (sky level and sigma: the foreground map's five medians
            // over up to 1,024 strided pixels, a third of the producer's time), kept from the first epoch
            // that draws it: a dictionary entry of a few dozen bytes a sample.
            var backgrounds: [Int: BackgroundEstimate] = [:]
            for step in steps {
                self.yieldWhileABatchIsReady()
                do {
                    let (epoch, position) = schedule.epoch(of: step)
                    if epochOrder?.epoch != epoch { epochOrder = (epoch, order.order(epoch: epoch)) }
                    let indices = Array(epochOrder!.indices[(position * B)..<((position + 1) * B)])
                    let samples = try indices.map { try order.sample($0) }
                    let images = samples.map(\.image)
                    let maps = zip(indices, samples).map { index, sample in
                        // Known only where the map comes from a stored mask (a detected one estimates its own).
                        var background: BackgroundEstimate? = nil
                        if sample.foreground != nil {
                            if let kept = backgrounds[index] { background = kept } else {
                                background = BackgroundEstimate(pixels: sample.image.channelSum())
                                backgrounds[index] = background
                            }
                        }
                        return sampler.foregroundMap(sample.image, mask: sample.foreground, background: background)
                    }
                    let batch = sampler.makeBatch(images: images, samples: indices, epoch: epoch, threads: threads, maps: maps, layout: .cropMajor)
                    guard self.put(step, Batch(views: batch, patchMask: patchMask(step, batch.global))) else { return }
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

    // The producer's scheduling (under `condition`): while a batch is ready it runs at Linux's
    // SCHED_IDLE, only on a core the step's lanes leave idle (while they wait for each other), instead
    // of taking a lane's core mid-step and leaving the other lane waiting for it. When the step finds no
    // batch ready it puts the producer back at the normal policy before it waits, so that other
    // processes on a busy machine cannot starve it. No effect on other systems.
    private var producerThread: pthread_t?
    private var yielding = false

    private func register(thread: pthread_t?) {
        condition.lock()
        producerThread = thread
        condition.unlock()
    }

    private func yieldWhileABatchIsReady() {
        condition.lock()
        setYielding(!queue.isEmpty)
        condition.unlock()
    }

    private func setYielding(_ yields: Bool) {
        #if os(Linux)
        guard yields != yielding, let producerThread else { return }
        var parameters = sched_param()
        if pthread_setschedparam(producerThread, yields ? 5 /* SCHED_IDLE */ : SCHED_OTHER, &parameters) == 0 { yielding = yields }
        #endif
    }

    /// One step's input: its views and its patch mask (nil when the recipe has no SimMIM term).
    struct Batch {
        let views: ViewBatch
        let patchMask: [Float]?
    }

    private func put(_ step: Int, _ batch: Batch) -> Bool {
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
    func next(step: Int) throws -> Batch {
        condition.lock()
        defer { condition.unlock() }
        if queue.isEmpty { setYielding(false) }
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
