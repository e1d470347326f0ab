import Foundation

/// One EsViT training state: student and teacher networks, AdamW moments, centres, step count; and the
/// training step of §3.3 of the notes.
public final class EsViTTrainer: @unchecked Sendable {
    // @unchecked Sendable: one step at a time mutates the arenas; callers do not share a trainer across
    // concurrent steps.
    public struct Hyper: Sendable, Codable, Equatable {
        public var lr: Float = 1e-3
        public var weightDecay: Float = 0.04
        public var beta1: Float = 0.9
        public var beta2: Float = 0.999
        public var eps: Float = 1e-8
        public var clip: Float = 3.0
        public var emaMomentum: Float = 0.996
        public var centerMomentum: Float = 0.9
        public var teacherTemp: Float = 0.04
        public var studentTemp: Float = 0.1
        /// Skip every tensor whose name contains `last_layer` (EsViT's freeze_last_layer epochs).
        public var freezeLastLayer = false
        public init() {}
    }

    public let network: EsViTNetwork
    public let student: ParameterArena
    public let teacher: ParameterArena
    public var center: [Float]
    public var centerGrid: [Float]
    public var step = 0
    public var hyper: Hyper

    public init(config: EsViTConfig, hyper: Hyper = Hyper()) {
        network = EsViTNetwork(config: config)
        student = network.makeArena()
        teacher = network.makeArena()
        center = [Float](repeating: 0, count: config.outDim)
        centerGrid = [Float](repeating: 0, count: config.outDim)
        self.hyper = hyper
    }

    /// Whether AdamW decays this tensor: not biases, not 1-D tensors.
    static func decays(_ t: ParameterArena.Tensor) -> Bool { !t.name.hasSuffix(".bias") && t.shape.count > 1 }

    /// Whether the optimizer touches this tensor (weight_g is frozen: norm_last_layer).
    func trains(_ t: ParameterArena.Tensor) -> Bool {
        if t.name.hasSuffix("last_layer.weight_g") { return false }
        if hyper.freezeLastLayer && t.name.contains("last_layer") { return false }
        return true
    }

    public struct StepResult: Sendable { public var loss: Double }

    /// One full step on a batch: `globals` are the 2 global crops `[2, B, Cin, S, S]` (crop-major),
    /// `locals` the local crops `[L, B, Cin, s, s]`.
    public func train(globals: [Float], globalSize S: Int, locals: [Float], localCrops L: Int, localSize s: Int, images B: Int) -> StepResult {
        let (loss, outputs) = lossAndGradients(globals: globals, globalSize: S, locals: locals, localCrops: L, localSize: s, images: B)
        update()
        updateCenters(outputs)
        return StepResult(loss: loss)
    }

    /// Forward, loss and backward: leaves the gradients in `student.grads`.
    public func lossAndGradients(globals: [Float], globalSize S: Int, locals: [Float], localCrops L: Int, localSize s: Int, images B: Int)
        -> (Double, EsViTLoss.Result) {
        let t = network.forward(teacher, images: globals, batch: 2 * B, size: S)
        var groups = [network.forward(student, images: globals, batch: 2 * B, size: S)]
        if L > 0 { groups.append(network.forward(student, images: locals, batch: L * B, size: s)) }
        let result = EsViTLoss(teacherTemp: hyper.teacherTemp, studentTemp: hyper.studentTemp)
            .compute(student: groups, teacher: t, images: B, localCrops: L, center: center, centerGrid: centerGrid, config: network.config)
        student.zeroGrads()
        for (g, out) in groups.enumerated() { network.backward(student, output: out, dview: result.dview[g], dregion: result.dregion[g]) }
        return (result.loss, result)
    }

    /// Per-tensor clipping, AdamW on the student, EMA into the teacher.
    public func update() {
        step += 1
        let h = hyper
        let bc1 = 1 - powf(h.beta1, Float(step)), bc2 = 1 - powf(h.beta2, Float(step))
        for t in student.tensors {
            let p = student.values + t.offset, g = student.grads + t.offset, m = student.m + t.offset, v = student.v + t.offset
            if trains(t) {
                var norm: Double = 0
                for i in 0..<t.count { norm += Double(g[i]) * Double(g[i]) }
                let coef = h.clip / (Float(norm.squareRoot()) + 1e-6)
                let scale: Float = coef < 1 ? coef : 1
                let decay = Self.decays(t) ? h.lr * h.weightDecay : 0
                for i in 0..<t.count {
                    let gi = g[i] * scale
                    p[i] -= decay * p[i]
                    m[i] = h.beta1 * m[i] + (1 - h.beta1) * gi
                    v[i] = h.beta2 * v[i] + (1 - h.beta2) * gi * gi
                    let denom = (v[i].squareRoot() / bc2.squareRoot()) + h.eps
                    p[i] -= (h.lr / bc1) * m[i] / denom
                }
            }
            let tp = teacher.values + t.offset
            for i in 0..<t.count { tp[i] = h.emaMomentum * tp[i] + (1 - h.emaMomentum) * p[i] }
        }
    }

    /// Centres move towards the teacher's batch means (after the loss used the old ones).
    public func updateCenters(_ r: EsViTLoss.Result) {
        let m = hyper.centerMomentum
        for k in center.indices {
            center[k] = m * center[k] + (1 - m) * r.teacherViewMean[k]
            centerGrid[k] = m * centerGrid[k] + (1 - m) * r.teacherRegionMean[k]
        }
    }
}
