import LensData
import MiniTrain

/// The fine-tuning state: an EsViT Swin backbone and a `LinearHead` on its pooled tokens (the network's
/// `config.pooling`, as evaluation pools them), in one
/// parameter arena (backbone tensors under microsoft/esvit's names, then `head.weight [K, D]` and
/// `head.bias [K]`), with AdamW moments; and the step: forward, loss (`CrossEntropy`, or
/// `RegressionLoss` on the standardised target), backward through head and backbone, AdamW with the
/// backbone's learning rate scaled down. No I/O: `FineTuneRun` feeds it.
public final class FineTuneTrainer: @unchecked Sendable {
    // @unchecked Sendable: one step at a time mutates the arena (as EsViTTrainer).
    public let config: EsViTConfig
    public let task: FineTuneTask
    public let backbone: SwinBackbone
    public let head: LinearHead
    public let arena: ParameterArena
    /// Steps taken (AdamW's bias correction counts from here).
    public var step = 0
    /// Rates and decay (`FineTuneRecipe`'s defaults until a run sets its own); `lr` is the head's, set
    /// per step by the schedule.
    public var optimizer = FineTuneRecipe().optimizer
    /// The backbone's learning rate relative to the head's.
    public var backboneLRScale: Float = 0.1
    public var regressionLoss: RegressionLoss.Kind = .huber(delta: 1)
    /// The training step's backbone pass, refilled by the next step of the same batch size (step memory).
    private var stepCache: SwinBackbone.Cache?

    /// What a batch should predict: class indices `[B]`, or standardised targets `[B]`.
    public enum Truth: Sendable {
        case labels([Int])
        case values([Float])
    }

    /// - Parameter outputs: K, the number of classes (classification) or 1 (regression).
    public init(config: EsViTConfig, task: FineTuneTask, outputs: Int) {
        precondition(task == .classify ? outputs >= 2 : outputs == 1, "classification needs K >= 2 outputs, regression 1")
        self.config = config
        self.task = task
        backbone = SwinBackbone(config: config)
        head = LinearHead(inputs: config.finalDim, outputs: outputs)
        arena = ParameterArena(layout: backbone.layout + head.layout)
    }

    public var outputs: Int { head.outputs }

    /// Whether a tensor belongs to the head (it learns at the full rate).
    public func isHead(_ t: ParameterArena.Tensor) -> Bool { t.name.hasPrefix(head.name + ".") }

    /// Sets the backbone from `source` (a pre-trained network's arena, e.g. a checkpoint's teacher),
    /// or, when nil, initialises it as pre-training does (`EsViTTrainer.initialize`); the head gets
    /// weights ~ N(0, 0.02) and zero bias. Moments and the step restart at zero.
    public func initialize(backbone source: ParameterArena?, seed: UInt64) {
        let from: ParameterArena
        if let source {
            from = source
        } else {
            let scratch = EsViTTrainer(config: config)
            scratch.initialize(seed: seed)
            from = scratch.student
        }
        for t in arena.tensors where !isHead(t) {
            let s = from.tensor(t.name)
            precondition(s.shape == t.shape, "\(t.name): source \(s.shape), backbone \(t.shape)")
            (arena.values + t.offset).update(from: from.values + s.offset, count: t.count)
        }
        var rng = Philox4x64(seed: seed, stream: 0xF17E)
        let w = arena.value(head.name + ".weight")
        for i in 0..<arena.tensor(head.name + ".weight").count { w[i] = Float(rng.normal() * 0.02) }
        arena.value(head.name + ".bias").update(repeating: 0, count: outputs)
        arena.m.update(repeating: 0, count: arena.count)
        arena.v.update(repeating: 0, count: arena.count)
        step = 0
    }

    /// Copies the backbone's values into `target` (an EsViT network arena with the same backbone names).
    public func copyBackbone(into target: ParameterArena) {
        for t in arena.tensors where !isHead(t) {
            (target.values + target.tensor(t.name).offset).update(from: arena.values + t.offset, count: t.count)
        }
    }

    /// Forward, loss and backward on `images [B, Cin, S, S]`: leaves the gradients in `arena.grads`
    /// and returns the mean loss.
    public func lossAndGradients(images: [Float], batch B: Int, size S: Int, truth: Truth) -> Double {
        let cache = backbone.forward(arena, images: images, batch: B, size: S, reusing: stepCache)
        stepCache = cache
        let h = head.forward(arena, tokens: cache.tokensOut, batch: B, tokens: cache.tokens,
                             weights: EsViTNetwork.poolWeights(config, images: images, batch: B, size: S, tokens: cache.tokens))
        var doutputs = [Float](repeating: 0, count: B * outputs)
        let loss: Double
        switch truth {
        case .labels(let labels):
            precondition(task == .classify && labels.count == B)
            var probs = [Float](repeating: 0, count: B * outputs)
            loss = CrossEntropy.forward(probs: &probs, logits: h.outputs, labels: labels, N: B, K: outputs)
            CrossEntropy.backward(dlogits: &doutputs, probs: probs, labels: labels, N: B, K: outputs)
        case .values(let targets):
            precondition(task == .regress && targets.count == B)
            loss = RegressionLoss.forward(predicted: h.outputs, target: targets, N: B, kind: regressionLoss)
            RegressionLoss.backward(dpredicted: &doutputs, predicted: h.outputs, target: targets, N: B, kind: regressionLoss)
        }
        arena.zeroGrads()
        let dtokens = head.backward(arena, cache: h, doutputs: doutputs)
        backbone.backward(arena, cache: cache, dtokens: dtokens)
        return loss
    }

    /// AdamW on every tensor: the head at `optimizer.lr`, the backbone at `optimizer.lr x backboneLRScale`.
    public func update() {
        step += 1
        for t in arena.tensors { optimizer.update(arena, tensor: t, step: step, lrScale: isHead(t) ? 1 : backboneLRScale) }
    }

    /// One step; returns the loss before the update.
    @discardableResult
    public func train(images: [Float], batch B: Int, size S: Int, truth: Truth) -> Double {
        let loss = lossAndGradients(images: images, batch: B, size: S, truth: truth)
        update()
        return loss
    }

    /// Inference: the head's outputs `[B, K]` (logits, or the standardised prediction) for `images [B, Cin, S, S]`.
    public func predict(images: [Float], batch B: Int, size S: Int) -> [Float] {
        let cache = backbone.forward(arena, images: images, batch: B, size: S, forBackward: false)
        return head.forward(arena, tokens: cache.tokensOut, batch: B, tokens: cache.tokens,
                            weights: EsViTNetwork.poolWeights(config, images: images, batch: B, size: S, tokens: cache.tokens)).outputs
    }

    /// The arena's values (a copy: the best-by-validation weights) and their restoration.
    public func snapshot() -> [Float] { Array(UnsafeBufferPointer(start: arena.values, count: arena.count)) }
    public func restore(_ values: [Float]) {
        precondition(values.count == arena.count)
        arena.values.update(from: values, count: values.count)
    }

    /// Whether every value is finite (a NaN stop, as `train` has).
    public var allFinite: Bool { arena.valuesAreFinite() }
}
