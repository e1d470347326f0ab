/// The EsViT objective: for every (teacher global crop a, student crop v ≠ a), 0.5 × the DINO view
/// loss plus 0.5 × the region loss (each student token matched to the teacher token of crop a with
/// the highest cosine similarity of backbone features), averaged over the pairs.
import RealModule

public struct EsViTLoss: Sendable {
    @inline(__always) static func dot(_ a: [Float], _ ia: Int, _ b: [Float], _ ib: Int, _ n: Int) -> Float {
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
            var s: Float = 0
            for c in 0..<n { s = Relaxed.multiplyAdd(pa[ia + c], pb[ib + c], s) }
            return s
        } }
    }

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
        // Images are independent: each chunk of images writes its own rows of the gradient buffers
        // (owned here, copied into arrays at the end) and its own per-image loss.
        let viewBuffers = student.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: $0.view.logits.count) }
        let regionBuffers = student.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: $0.region.logits.count) }
        for buffer in viewBuffers + regionBuffers { buffer.initialize(repeating: 0) }
        defer { for buffer in viewBuffers + regionBuffers { buffer.deallocate() } }
        nonisolated(unsafe) let (dv, dr) = (viewBuffers.map { $0.baseAddress! }, regionBuffers.map { $0.baseAddress! })
        let lossBox = UnsafeMutablePointer<Double>.allocate(capacity: B)
        lossBox.initialize(repeating: 0, count: B)
        defer { lossBox.deallocate() }
        nonisolated(unsafe) let losses = lossBox
        KernelThreads.forEach(B) { images in
            var target = [Float](repeating: 0, count: K)
            for b in images {
                var l = 0.0
                for v in 0..<V {
                    let g = v < 2 ? 0 : 1
                    let crop = v < 2 ? v : v - 2
                    let T = student[g].backbone.tokens
                    for a in 0..<2 where a != v {
                        let viewWeight = 0.5 / Float(pairs * B), regionWeight = 0.5 / Float(pairs * B * T)
                        let srow = crop * B + b
                        l += student[g].view.logits.withUnsafeBufferPointer { s in
                            q.withUnsafeBufferPointer { qq in
                                SoftCrossEntropy.forwardBackward(dstudent: dv[g] + srow * K, student: s.baseAddress! + srow * K,
                                                                 target: qq.baseAddress! + (a * B + b) * K,
                                                                 temperature: studentTemp, weight: viewWeight, N: 1, K: K)
                            }
                        }
                        for i in 0..<T {
                            let sTok = srow * T + i
                            // Argmax of cosine similarity over the teacher tokens of crop a, image b.
                            var best = 0, bestSim = -Float.infinity
                            for j in 0..<Ng {
                                let sim = Self.dot(sFea[g], sTok * C, tFea, ((a * B + b) * Ng + j) * C, C)
                                if sim > bestSim { bestSim = sim; best = j }
                            }
                            let tTok = (a * B + b) * Ng + best
                            for k in 0..<K { target[k] = Q[tTok * K + k] }
                            l += student[g].region.logits.withUnsafeBufferPointer { s in
                                SoftCrossEntropy.forwardBackward(dstudent: dr[g] + sTok * K, student: s.baseAddress! + sTok * K,
                                                                 target: target, temperature: studentTemp, weight: regionWeight, N: 1, K: K)
                            }
                        }
                    }
                }
                losses[b] = l
            }
        }
        let loss = (0..<B).reduce(0.0) { $0 + lossBox[$1] }
        let dview = viewBuffers.map { Array($0) }, dregion = regionBuffers.map { Array($0) }
        var viewMean = [Float](repeating: 0, count: K), regionMean = [Float](repeating: 0, count: K)
        for r in 0..<(2 * B) { for k in 0..<K { viewMean[k] += teacher.view.logits[r * K + k] / Float(2 * B) } }
        for r in 0..<(2 * B * Ng) { for k in 0..<K { regionMean[k] += teacher.region.logits[r * K + k] / Float(2 * B * Ng) } }
        return Result(loss: loss, dview: dview, dregion: dregion, teacherViewMean: viewMean, teacherRegionMean: regionMean)
    }
}
