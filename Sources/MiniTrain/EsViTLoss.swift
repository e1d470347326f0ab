/// The EsViT objective: for every (teacher global crop a, student crop v ≠ a), 0.5 × the DINO view
/// loss plus 0.5 × the region loss (each student token matched to the teacher token of crop a with
/// the highest cosine similarity of backbone features), averaged over the pairs.
public struct EsViTLoss: Sendable {
    public var teacherTemp: Float = 0.04
    public var studentTemp: Float = 0.1

    public init(teacherTemp: Float = 0.04, studentTemp: Float = 0.1) {
        self.teacherTemp = teacherTemp
        self.studentTemp = studentTemp
    }

    /// The loss value, the gradients of the student's view and region logits per resolution group,
    /// and the teacher means that update the centres.
    public struct Result {
        public var loss: Double
        public var dview: [[Float]]
        public var dregion: [[Float]]
        public var teacherViewMean: [Float]
        public var teacherRegionMean: [Float]
    }

    /// - Parameters:
    ///   - student: outputs per resolution group: `[0]` the 2 global crops, `[1]` (optional) the local crops.
    ///   - teacher: the teacher's output on the 2 global crops.
    ///   - images: B, images per crop.
    public func compute(student: [EsViTNetwork.Output], teacher: EsViTNetwork.Output, images B: Int, localCrops: Int,
                        center: [Float], centerGrid: [Float], config: EsViTConfig) -> Result {
        let K = config.outDim, C = config.finalDim
        let V = 2 + localCrops
        let pairs = 2 * V - 2
        let Ng = teacher.backbone.tokens
        // Teacher targets and normalised features.
        var q = [Float](repeating: 0, count: 2 * B * K)
        Softmax.forward(&q, teacher.view.logits, shift: center, temperature: teacherTemp, N: 2 * B, K: K)
        var Q = [Float](repeating: 0, count: 2 * B * Ng * K)
        Softmax.forward(&Q, teacher.region.logits, shift: centerGrid, temperature: teacherTemp, N: 2 * B * Ng, K: K)
        var tFea = [Float](repeating: 0, count: 2 * B * Ng * C), tNorm = [Float](repeating: 0, count: 2 * B * Ng)
        L2Normalize.forward(&tFea, norms: &tNorm, teacher.backbone.tokensOut, N: 2 * B * Ng, C: C)
        var sFea: [[Float]] = []
        for g in student {
            let rows = g.backbone.batch * g.backbone.tokens
            var f = [Float](repeating: 0, count: rows * C), n = [Float](repeating: 0, count: rows)
            L2Normalize.forward(&f, norms: &n, g.backbone.tokensOut, N: rows, C: C)
            sFea.append(f)
        }
        var dview = student.map { [Float](repeating: 0, count: $0.view.logits.count) }
        var dregion = student.map { [Float](repeating: 0, count: $0.region.logits.count) }
        var loss = 0.0
        var target = [Float](repeating: 0, count: K)
        for v in 0..<V {
            let g = v < 2 ? 0 : 1
            let crop = v < 2 ? v : v - 2
            let T = student[g].backbone.tokens
            for a in 0..<2 where a != v {
                let viewWeight = 0.5 / Float(pairs * B), regionWeight = 0.5 / Float(pairs * B * T)
                for b in 0..<B {
                    let srow = crop * B + b
                    loss += student[g].view.logits.withUnsafeBufferPointer { s in
                        dview[g].withUnsafeMutableBufferPointer { d in
                            SoftCrossEntropy.forwardBackward(dstudent: d.baseAddress! + srow * K, student: s.baseAddress! + srow * K,
                                                             target: q.withUnsafeBufferPointer { $0.baseAddress! + (a * B + b) * K },
                                                             temperature: studentTemp, weight: viewWeight, N: 1, K: K)
                        }
                    }
                    for i in 0..<T {
                        let sTok = srow * T + i
                        // Argmax of cosine similarity over the teacher tokens of crop a, image b.
                        var best = 0, bestSim = -Float.infinity
                        for j in 0..<Ng {
                            let tTok = (a * B + b) * Ng + j
                            var sim: Float = 0
                            for c in 0..<C { sim += sFea[g][sTok * C + c] * tFea[tTok * C + c] }
                            if sim > bestSim { bestSim = sim; best = j }
                        }
                        let tTok = (a * B + b) * Ng + best
                        for k in 0..<K { target[k] = Q[tTok * K + k] }
                        loss += student[g].region.logits.withUnsafeBufferPointer { s in
                            dregion[g].withUnsafeMutableBufferPointer { d in
                                SoftCrossEntropy.forwardBackward(dstudent: d.baseAddress! + sTok * K, student: s.baseAddress! + sTok * K,
                                                                 target: target, temperature: studentTemp, weight: regionWeight, N: 1, K: K)
                            }
                        }
                    }
                }
            }
        }
        var viewMean = [Float](repeating: 0, count: K), regionMean = [Float](repeating: 0, count: K)
        for r in 0..<(2 * B) { for k in 0..<K { viewMean[k] += teacher.view.logits[r * K + k] / Float(2 * B) } }
        for r in 0..<(2 * B * Ng) { for k in 0..<K { regionMean[k] += teacher.region.logits[r * K + k] / Float(2 * B * Ng) } }
        return Result(loss: loss, dview: dview, dregion: dregion, teacherViewMean: viewMean, teacherRegionMean: regionMean)
    }
}
