/// The EsViT objective: for every (teacher global crop a, student crop v ≠ a), `viewWeight` × the DINO
/// view loss plus `regionWeight` × the region loss (each student token matched to the teacher token of
/// crop a with the highest cosine similarity of backbone features), averaged over the pairs. EsViT
/// weighs both 0.5. With `maskedWeight > 0` and a token mask, a masked-token (iBOT-style) term is
/// added: at every blanked token of a student global crop (`TokenMask`), the cross-entropy between the
/// teacher's region target for the same token of the unmasked crop and the student's region output,
/// averaged over the masked tokens.
import Foundation
import RealModule

public struct EsViTLoss: Sendable {
    public var teacherTemp: Float
    public var studentTemp: Float
    public var viewWeight: Float
    public var regionWeight: Float
    public var maskedWeight: Float

    /// Every value comes from the trainer's `Hyper` (the recipe's, in a run): none is defaulted here.
    public init(teacherTemp: Float, studentTemp: Float, viewWeight: Float, regionWeight: Float, maskedWeight: Float) {
        self.teacherTemp = teacherTemp
        self.studentTemp = studentTemp
        self.viewWeight = viewWeight
        self.regionWeight = regionWeight
        self.maskedWeight = maskedWeight
    }

    /// The loss value, the gradients of the student's view and region logits per resolution group,
    /// and the teacher means that update the centres.
    public struct Result {
        /// `viewWeight × viewLoss + regionWeight × regionLoss + maskedWeight × maskedLoss`.
        public var loss: Double
        /// The view (pooled, DINO) and region cross-entropies, each averaged over its pairs and tokens.
        public var viewLoss: Double
        public var regionLoss: Double
        /// The masked-token cross-entropy averaged over the masked tokens (0 without a mask).
        public var maskedLoss: Double = 0
        /// Teacher targets of each head, in nats: the mean entropy of the per-sample distributions
        /// (log K when every target is uniform) and the entropy of their batch mean (near 0 when every
        /// sample gets the same sharp target). Both near log K, or both near 0, is a collapse.
        public var teacherViewEntropy: Double
        public var teacherViewMeanEntropy: Double
        public var teacherRegionEntropy: Double
        public var teacherRegionMeanEntropy: Double
        public var dview: [[Float]]
        public var dregion: [[Float]]
        public var teacherViewMean: [Float]
        public var teacherRegionMean: [Float]
        /// `[K]` each: the batch means of the teacher targets (what the mean entropies are the entropy
        /// of), so that the results of a batch's lanes combine exactly (`merged`).
        public var teacherViewTargetMean: [Double]
        public var teacherRegionTargetMean: [Double]
    }

    /// What a step without EsViT's terms reports (masked-image modelling alone): no loss, no logit
    /// gradients, zero entropies and means.
    public static func absent(outDim K: Int) -> Result {
        Result(loss: 0, viewLoss: 0, regionLoss: 0, teacherViewEntropy: 0, teacherViewMeanEntropy: 0, teacherRegionEntropy: 0,
               teacherRegionMeanEntropy: 0, dview: [], dregion: [], teacherViewMean: [Float](repeating: 0, count: K),
               teacherRegionMean: [Float](repeating: 0, count: K), teacherViewTargetMean: [Double](repeating: 0, count: K),
               teacherRegionTargetMean: [Double](repeating: 0, count: K))
    }

    /// The loss's step memory: the teacher targets, the normalised features and the logit gradients,
    /// refilled by every `compute` given it (one per lane; `EsViTTrainer.LaneMemory`). `compute` moves
    /// each buffer out while it writes it (so it is the only reference) and back when done; the result's
    /// gradients share the kept buffers until the result is dropped.
    public final class Memory {
        var q: [Float] = [], Q: [Float] = [], tFea: [Float] = [], tNorm: [Float] = []
        var sFea: [[Float]] = [], sNorm: [[Float]] = [], gradients: [[Float]] = []
        public init() {}

        /// The buffers' base addresses (for the test that steps after the first allocate none).
        var bufferAddresses: [Int] {
            ([q, Q, tFea, tNorm] + sFea + sNorm + gradients).map { x in x.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) } }
        }
    }

    /// - Parameters:
    ///   - student: outputs per resolution group: `[0]` the 2 global crops, `[1]` (optional) the local crops.
    ///   - teacher: the teacher's output on the 2 global crops.
    ///   - images: B, images per crop.
    ///   - tokenMask: `[2, B, Ng]` (crop-major, like the global crops): which final-stage tokens of each
    ///     student global crop were blanked. Nil, or `maskedWeight == 0`: no masked-token term.
    ///   - normalizingImages, normalizingMaskedTokens: what the view/region and the masked terms are
    ///     averaged over, when these B images are one lane of a larger batch (`EsViTTrainer.lanes`):
    ///     the batch's images and masked tokens, so that the lanes' losses and gradients add up to the
    ///     batch's. Nil: these images' own counts.
    public func compute(student: [EsViTNetwork.Output], teacher: EsViTNetwork.Output, images B: Int, localCrops: Int,
                        center: [Float], centerGrid: [Float], config: EsViTConfig, tokenMask: [Bool]? = nil,
                        normalizingImages: Int? = nil, normalizingMaskedTokens: Int? = nil, memory: Memory? = nil) -> Result {
        let K = config.outDim, C = config.finalDim
        let V = 2 + localCrops
        let pairs = 2 * V - 2
        let Ng = teacher.backbone.tokens
        // The kept buffers, moved out (each the only reference while it is written) and back at the end.
        let kept = memory ?? Memory()
        var (q, Q, tFea, tNorm, sFea, sNorm) = (kept.q, kept.Q, kept.tFea, kept.tNorm, kept.sFea, kept.sNorm)
        var gradients = kept.gradients
        (kept.q, kept.Q, kept.tFea, kept.tNorm, kept.sFea, kept.sNorm, kept.gradients) = ([], [], [], [], [], [], [])
        defer { (kept.q, kept.Q, kept.tFea, kept.tNorm, kept.sFea, kept.sNorm) = (q, Q, tFea, tNorm, sFea, sNorm) }
        // Teacher targets and normalised features.
        SwinBackbone.fit(&q, 2 * B * K)
        Softmax.forward(&q, teacher.view.logits, shift: center, temperature: teacherTemp, N: 2 * B, K: K)
        SwinBackbone.fit(&Q, 2 * B * Ng * K)
        Softmax.forward(&Q, teacher.region.logits, shift: centerGrid, temperature: teacherTemp, N: 2 * B * Ng, K: K)
        SwinBackbone.fit(&tFea, 2 * B * Ng * C)
        SwinBackbone.fit(&tNorm, 2 * B * Ng)
        L2Normalize.forward(&tFea, norms: &tNorm, teacher.backbone.tokensOut, N: 2 * B * Ng, C: C)
        if sFea.count != student.count { (sFea, sNorm) = (Array(repeating: [], count: student.count), Array(repeating: [], count: student.count)) }
        for (i, g) in student.enumerated() {
            let rows = g.backbone.batch * g.backbone.tokens
            SwinBackbone.fit(&sFea[i], rows * C)
            SwinBackbone.fit(&sNorm[i], rows)
            L2Normalize.forward(&sFea[i], norms: &sNorm[i], g.backbone.tokensOut, N: rows, C: C)
        }
        // Per image: view, region and masked cross-entropies (unweighted sums), in separate thirds.
        let lossBox = UnsafeMutablePointer<Double>.allocate(capacity: 3 * B)
        lossBox.initialize(repeating: 0, count: 3 * B)
        defer { lossBox.deallocate() }
        nonisolated(unsafe) let losses = lossBox
        let mask = maskedWeight > 0 ? tokenMask : nil
        if let mask { precondition(mask.count == 2 * B * Ng, "tokenMask must be [2, B, Ng]") }
        let maskedCount = mask.map { $0.reduce(0) { $0 + ($1 ? 1 : 0) } } ?? 0
        let batchImages = normalizingImages ?? B, batchMasked = normalizingMaskedTokens ?? maskedCount
        // The logit gradients, [view of each group] + [region of each group]. Images are independent:
        // each chunk of images writes its own rows of them and its own per-image losses.
        let gradientCounts = student.map(\.view.logits.count) + student.map(\.region.logits.count)
        if gradients.count != gradientCounts.count { gradients = Array(repeating: [], count: gradientCounts.count) }
        for (i, n) in gradientCounts.enumerated() { SwinBackbone.zeroed(&gradients[i], n) }
        Self.withMutableBasePointers(&gradients) { gradientPointers in
            nonisolated(unsafe) let (dv, dr) = (Array(gradientPointers.prefix(student.count)), Array(gradientPointers.suffix(student.count)))
            // Every buffer the per-image loop reads, as pointers: [q, Q, tFea, then per group its view
            // logits, region logits and normalised features].
            let reads = [q, Q, tFea] + student.indices.flatMap { [student[$0].view.logits, student[$0].region.logits, sFea[$0]] }
            Self.withBasePointers(reads[...]) { pointers in
                nonisolated(unsafe) let pointers = pointers
                let (qp, Qp, tF) = (pointers[0], pointers[1], pointers[2])
                KernelThreads.forEach(B) { images in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: K)
                    defer { scratch.deallocate() }
                    let targets = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: 2)
                    defer { targets.deallocate() }
                    for b in images {
                        var lv = 0.0, lr = 0.0
                        for v in 0..<V {
                            let g = v < 2 ? 0 : 1
                            let crop = v < 2 ? v : v - 2
                            let (sView, sRegion, sF) = (pointers[3 + 3 * g], pointers[4 + 3 * g], pointers[5 + 3 * g])
                            let T = student[g].backbone.tokens
                            // The teacher crops this student crop is paired with: the other global crop, or both.
                            let n = v < 2 ? 1 : 2
                            func teacherCrop(_ t: Int) -> Int { v < 2 ? 1 - v : t }
                            let viewScale = 1 / Float(pairs * batchImages), regionScale = 1 / Float(pairs * batchImages * T)
                            let srow = crop * B + b
                            for t in 0..<n { targets[t] = qp + (teacherCrop(t) * B + b) * K }
                            // A head weighted 0 is still measured (its value), but gets no gradient.
                            lv += SoftCrossEntropy.forwardBackward(dstudent: viewWeight == 0 ? nil : dv[g] + srow * K, student: sView + srow * K,
                                                                   targets: UnsafeBufferPointer(start: targets, count: n), temperature: studentTemp,
                                                                   weight: (viewWeight == 0 ? 1 : viewWeight) * viewScale, K: K, scratch: scratch)
                                / Double(viewWeight == 0 ? 1 : viewWeight)
                            for i in 0..<T {
                                let sTok = srow * T + i
                                for t in 0..<n {
                                    // Argmax of cosine similarity over the teacher tokens of crop a, image b.
                                    let first = (teacherCrop(t) * B + b) * Ng
                                    var best = 0, bestSim = -Float.infinity
                                    for j in 0..<Ng {
                                        let sim = VectorMath.dot(sF + sTok * C, tF + (first + j) * C, C)
                                        if sim > bestSim { bestSim = sim; best = j }
                                    }
                                    targets[t] = Qp + (first + best) * K
                                }
                                lr += SoftCrossEntropy.forwardBackward(dstudent: regionWeight == 0 ? nil : dr[g] + sTok * K, student: sRegion + sTok * K,
                                                                       targets: UnsafeBufferPointer(start: targets, count: n), temperature: studentTemp,
                                                                       weight: (regionWeight == 0 ? 1 : regionWeight) * regionScale, K: K, scratch: scratch)
                                    / Double(regionWeight == 0 ? 1 : regionWeight)
                            }
                        }
                        // Masked tokens: the same token of the same (unmasked) crop is the target.
                        var lm = 0.0
                        if let mask, maskedCount > 0 {
                            let scale = 1 / Float(max(1, batchMasked))
                            for v in 0..<2 {
                                for i in 0..<Ng where mask[(v * B + b) * Ng + i] {
                                    let tok = (v * B + b) * Ng + i
                                    targets[0] = Qp + tok * K
                                    lm += SoftCrossEntropy.forwardBackward(dstudent: dr[0] + tok * K, student: pointers[4] + tok * K,
                                                                           targets: UnsafeBufferPointer(start: targets, count: 1), temperature: studentTemp,
                                                                           weight: maskedWeight * scale, K: K, scratch: scratch) / Double(maskedWeight)
                                }
                            }
                        }
                        losses[b] = lv
                        losses[B + b] = lr
                        losses[2 * B + b] = lm
                    }
                }
            }
        }
        let viewLoss = (0..<B).reduce(0.0) { $0 + lossBox[$1] }
        let regionLoss = (0..<B).reduce(0.0) { $0 + lossBox[B + $1] }
        let maskedLoss = (0..<B).reduce(0.0) { $0 + lossBox[2 * B + $1] }
        let loss = Double(viewWeight) * viewLoss + Double(regionWeight) * regionLoss + Double(maskedWeight) * maskedLoss
        let dview = Array(gradients.prefix(student.count)), dregion = Array(gradients.suffix(student.count))
        kept.gradients = gradients
        let viewMean = Self.columnMeans(teacher.view.logits, rows: 2 * B, K: K)
        let regionMean = Self.columnMeans(teacher.region.logits, rows: 2 * B * Ng, K: K)
        let (hv, qMean) = Self.entropies(q, logits: teacher.view.logits, shift: center, temperature: teacherTemp, rows: 2 * B, K: K)
        let (hr, QMean) = Self.entropies(Q, logits: teacher.region.logits, shift: centerGrid, temperature: teacherTemp, rows: 2 * B * Ng, K: K)
        return Result(loss: loss, viewLoss: viewLoss, regionLoss: regionLoss, maskedLoss: maskedLoss,
                      teacherViewEntropy: hv, teacherViewMeanEntropy: Self.entropy(qMean),
                      teacherRegionEntropy: hr, teacherRegionMeanEntropy: Self.entropy(QMean),
                      dview: dview, dregion: dregion, teacherViewMean: viewMean, teacherRegionMean: regionMean,
                      teacherViewTargetMean: qMean, teacherRegionTargetMean: QMean)
    }

    /// The result of a whole batch from those of its lanes (each lane a contiguous run of the batch's
    /// images, computed with `normalizingImages` and `normalizingMaskedTokens` of the batch): losses
    /// add; gradients are laid out crop-major again (`laneImages` images of each lane, in order);
    /// per-sample entropies, teacher means and target means are averaged by each lane's share of the
    /// images, and the mean entropies are those of the averaged target means. `joiningGradients:
    /// false` leaves `dview` and `dregion` empty (a training step has already run each lane's backward
    /// and does not need them again).
    public static func merged(_ lanes: [Result], laneImages: [Int], localCrops: Int, joiningGradients: Bool = true) -> Result {
        precondition(!lanes.isEmpty && lanes.count == laneImages.count)
        if lanes.count == 1 { return lanes[0] }
        let B = laneImages.reduce(0, +)
        let shares = laneImages.map { Double($0) / Double(B) }
        func sum(_ f: (Result) -> Double) -> Double { lanes.reduce(0) { $0 + f($1) } }
        func average(_ f: (Result) -> Double) -> Double { zip(lanes, shares).reduce(0) { $0 + f($1.0) * $1.1 } }
        func average(_ f: (Result) -> [Double]) -> [Double] {
            var out = [Double](repeating: 0, count: f(lanes[0]).count)
            for (r, w) in zip(lanes, shares) { for (k, x) in f(r).enumerated() { out[k] += x * w } }
            return out
        }
        func average(_ f: (Result) -> [Float]) -> [Float] { average({ f($0).map(Double.init) }).map(Float.init) }
        let crops = [2, localCrops]
        let groups = joiningGradients ? lanes[0].dview.count : 0
        let dview = (0..<groups).map { g in CropMajor.joined(lanes.map { $0.dview[g] }, crops: crops[g], images: laneImages) }
        let dregion = (0..<groups).map { g in CropMajor.joined(lanes.map { $0.dregion[g] }, crops: crops[g], images: laneImages) }
        let qMean = average({ $0.teacherViewTargetMean }), QMean = average({ $0.teacherRegionTargetMean })
        return Result(loss: sum { $0.loss }, viewLoss: sum { $0.viewLoss }, regionLoss: sum { $0.regionLoss }, maskedLoss: sum { $0.maskedLoss },
                      teacherViewEntropy: average { $0.teacherViewEntropy }, teacherViewMeanEntropy: entropy(qMean),
                      teacherRegionEntropy: average { $0.teacherRegionEntropy }, teacherRegionMeanEntropy: entropy(QMean),
                      dview: dview, dregion: dregion,
                      teacherViewMean: average({ $0.teacherViewMean }), teacherRegionMean: average({ $0.teacherRegionMean }),
                      teacherViewTargetMean: qMean, teacherRegionTargetMean: QMean)
    }

    /// Calls `body` with the base address of each array (the arrays stay alive and unchanged for the call).
    static func withBasePointers<R>(_ arrays: ArraySlice<[Float]>, _ done: [UnsafePointer<Float>] = [],
                                    _ body: ([UnsafePointer<Float>]) -> R) -> R {
        guard let first = arrays.first else { return body(done) }
        return first.withUnsafeBufferPointer { withBasePointers(arrays.dropFirst(), done + [$0.baseAddress!], body) }
    }

    /// Calls `body` with the base address of each array, which it may write through (each array is
    /// made unique first, so no other copy sees the writes).
    static func withMutableBasePointers<R>(_ arrays: inout [[Float]], _ body: ([UnsafeMutablePointer<Float>]) -> R) -> R {
        guard !arrays.isEmpty else { return body([]) }
        var first = arrays[0], rest = Array(arrays.dropFirst())
        arrays = []
        defer { arrays = [first] + rest }
        return first.withUnsafeMutableBufferPointer { p in withMutableBasePointers(&rest) { body([p.baseAddress!] + $0) } }
    }

    /// The entropy of a distribution `p [K]`, in nats.
    static func entropy(_ p: [Double]) -> Double {
        p.reduce(0) { $1 > 0 ? $0 - $1 * Foundation.log($1) : $0 }
    }

    /// The mean row of `x [rows, K]`.
    static func columnMeans(_ x: [Float], rows: Int, K: Int) -> [Float] {
        var mean = [Float](repeating: 0, count: K)
        let inv = 1 / Float(rows)
        x.withUnsafeBufferPointer { x in
            mean.withUnsafeMutableBufferPointer { m in
                for r in 0..<rows { let row = x.baseAddress! + r * K; for k in 0..<K { m[k] += row[k] * inv } }
            }
        }
        return mean
    }

    /// Mean entropy of the rows of `p [rows, K] = softmax((logits − shift) / temperature)` (in nats)
    /// and their mean row. Rows fall into 8 fixed chunks (run on `KernelThreads`) whose partial sums
    /// are added in chunk order, so the value does not depend on the thread count.
    ///
    /// No logarithm per element: with `s = (logits − shift) / temperature` and `lse` its log-sum-exp,
    /// `log p_k = s_k − lse`, so `H = −Σ p_k log p_k = lse − Σ p_k s_k`, and `lse = s_j − log p_j` at
    /// the row's largest `p_j` (at least 1/K, so its log is exact to float rounding). One log per row
    /// instead of K; the result equals `−Σ p log p` to float rounding (`EsViTLossTests`).
    static func entropies(_ p: [Float], logits: [Float], shift: [Float], temperature: Float, rows: Int, K: Int) -> (Double, [Double]) {
        precondition(p.count == rows * K && logits.count == rows * K && shift.count == K)
        let chunks = max(1, min(8, rows))
        let invT = 1 / temperature
        var partial = [Double](repeating: 0, count: chunks * (K + 1))
        p.withUnsafeBufferPointer { p in
            logits.withUnsafeBufferPointer { z in
                shift.withUnsafeBufferPointer { c in
                    partial.withUnsafeMutableBufferPointer { out in
                        nonisolated(unsafe) let (p, z, c, out) = (p.baseAddress!, z.baseAddress!, c.baseAddress!, out.baseAddress!)
                        KernelThreads.forEach(chunks) { cs in
                            for ch in cs {
                                let acc = out + ch * (K + 1)
                                for r in (ch * rows / chunks)..<((ch + 1) * rows / chunks) {
                                    let pr = p + r * K, zr = z + r * K
                                    var j = 0, pj = pr[0]
                                    var ps = 0.0
                                    for k in 0..<K {
                                        let v = pr[k]
                                        acc[k] += Double(v)
                                        ps += Double(v) * Double((zr[k] - c[k]) * invT)
                                        if v > pj { pj = v; j = k }
                                    }
                                    let lse = Double((zr[j] - c[j]) * invT) - Foundation.log(Double(pj))
                                    acc[K] += Swift.max(0, lse - ps)
                                }
                            }
                        }
                    }
                }
            }
        }
        var mean = [Double](repeating: 0, count: K)
        var h = 0.0
        for c in 0..<chunks {
            for k in 0..<K { mean[k] += partial[c * (K + 1) + k] }
            h += partial[c * (K + 1) + K]
        }
        let inv = 1 / Double(max(rows, 1))
        return (h * inv, mean.map { $0 * inv })
    }
}
