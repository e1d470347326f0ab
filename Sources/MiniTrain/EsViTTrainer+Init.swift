import LensCore

extension EsViTTrainer {
    /// Initialises the student as EsViT does, and copies it into the teacher: Linear weights and the
    /// relative position tables ~ N(0, 0.02) (trunc_normal with bounds ±2, never reached), biases 0,
    /// LayerNorm weight 1 and bias 0; the patch convolution and the heads' `weight_v` keep PyTorch's
    /// default U(±1/√fan_in); `weight_g` = 1.
    public func initialize(seed: UInt64) {
        var rng = Philox4x64(seed: seed, stream: 0x1A17)
        for t in student.tensors {
            let p = student.values + t.offset
            let name = t.name
            if name.hasSuffix("weight_g") || (name.contains("norm") && name.hasSuffix(".weight") && t.shape.count == 1) {
                p.update(repeating: 1, count: t.count)
            } else if name.hasSuffix(".bias") && !name.hasPrefix("patch_embed.proj") {
                p.update(repeating: 0, count: t.count)
            } else if name.hasPrefix("patch_embed.proj") || name.hasSuffix("weight_v") {
                let fanIn = name.hasPrefix("patch_embed.proj") ? config.inChannels * config.patch * config.patch : t.shape[1]
                let bound = 1 / Double(fanIn).squareRoot()
                for i in 0..<t.count { p[i] = Float(rng.uniform(-bound, bound)) }
            } else {
                for i in 0..<t.count { p[i] = Float(rng.normal() * 0.02) }
            }
        }
        teacher.copyValues(from: student)
        student.m.update(repeating: 0, count: student.count)
        student.v.update(repeating: 0, count: student.count)
        center = [Float](repeating: 0, count: config.outDim)
        centerGrid = [Float](repeating: 0, count: config.outDim)
        step = 0
    }

    public var config: EsViTConfig { network.config }
}
