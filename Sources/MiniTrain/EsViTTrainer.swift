import Foundation
import LensCore

/// One EsViT training state: student and teacher networks, AdamW moments, centres, step count; and the
/// training step (teacher forward on the global crops, student forward and backward on all crops,
/// per-tensor clip, AdamW, EMA into the teacher, centre update).
public final class EsViTTrainer: @unchecked Sendable {
    // @unchecked Sendable: one step at a time mutates the arenas; callers do not share a trainer across
    // concurrent steps.
    /// The step's hyper-parameters. A training run sets every field the recipe holds from the recipe
    /// (`Training`'s `TrainingRun.fixedHyper` once, `scheduled` per step), the one source of their
    /// values; the values below are only a bare trainer's (tests, `bench train`) and the fallback for a
    /// field a checkpoint written before it existed lacks (DINO's and EsViT's published settings).
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
        /// Weights of the view (pooled) and region losses; 0 turns a head's gradient off.
        public var viewWeight: Float = 0.5
        public var regionWeight: Float = 0.5
        /// Weight of the masked-token term (`EsViTLoss`); it needs a token mask passed to `train`.
        public var maskedWeight: Float = 0
        /// Weight of SimMIM's masked-image-modelling loss (`PixelDecoder`); it needs a patch mask passed
        /// to `train` and a network with a pixel decoder. With the three EsViT weights 0 the step is
        /// SimMIM's alone: no teacher forward, no local crops, no heads.
        public var mimWeight: Float = 0
        /// The reconstruction target: the raw pixels (0), or pixels normalised per `mimTargetBlock` px
        /// cell (`MaskedImageModeling.normalizedTarget`, MAE's normalised target).
        public var mimTargetBlock = 0
        public init() {}

        enum CodingKeys: String, CodingKey {
            case lr, weightDecay, beta1, beta2, eps, clip, emaMomentum, centerMomentum, teacherTemp, studentTemp, freezeLastLayer
            case viewWeight, regionWeight, maskedWeight, mimWeight, mimTargetBlock
        }

        /// Every field is optional (checkpoints written before a field existed keep loading).
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Hyper()
            func get<T: Decodable>(_ k: CodingKeys, _ fallback: T) throws -> T { try c.decodeIfPresent(T.self, forKey: k) ?? fallback }
            lr = try get(.lr, d.lr)
            weightDecay = try get(.weightDecay, d.weightDecay)
            beta1 = try get(.beta1, d.beta1)
            beta2 = try get(.beta2, d.beta2)
            eps = try get(.eps, d.eps)
            clip = try get(.clip, d.clip)
            emaMomentum = try get(.emaMomentum, d.emaMomentum)
            centerMomentum = try get(.centerMomentum, d.centerMomentum)
            teacherTemp = try get(.teacherTemp, d.teacherTemp)
            studentTemp = try get(.studentTemp, d.studentTemp)
            freezeLastLayer = try get(.freezeLastLayer, d.freezeLastLayer)
            viewWeight = try get(.viewWeight, d.viewWeight)
            regionWeight = try get(.regionWeight, d.regionWeight)
            maskedWeight = try get(.maskedWeight, d.maskedWeight)
            mimWeight = try get(.mimWeight, d.mimWeight)
            mimTargetBlock = try get(.mimTargetBlock, d.mimTargetBlock)
        }
    }

    public let network: EsViTNetwork
    public let student: ParameterArena
    public let teacher: ParameterArena
    public var center: [Float]
    public var centerGrid: [Float]
    /// Running moments of the student's and the teacher's pooled features, which standardise the view
    /// head's input when `config.viewHead == .standardized` (moved after every step, like the centres).
    public var studentPoolMoments: RunningMoments
    public var teacherPoolMoments: RunningMoments
    public var step = 0
    public var hyper: Hyper
    /// How many lanes a batch's images are split into. Each lane (a contiguous run of images) runs
    /// its own teacher forward, student forward, loss and backward, into gradients of its own that
    /// are then added; the kernel threads are divided among the lanes. On 2 cores two
    /// single-threaded lanes beat one lane whose every layer is split in two: fewer, larger pieces of
    /// work, and no hand-over between the threads at every layer. The split does not follow the
    /// thread count, so 1 and 2 threads give the same numbers. 1: the whole batch at once.
    public var lanes = 2
    /// Lends a worker that has finished its lanes to those still running (`LaneHelp`).
    let laneHelp = LaneHelp()
    /// SimMIM's step runs a lane's global crops through the network this many at a time (at most; see
    /// `mimChunk`; 0: all at once). With the default recipe's 16 images a lane (32 crops of 64 px) the
    /// chunks of 16 cut the peak RSS of `scripts/bench-train.sh` from 338 to 251 MB at the same or a
    /// slightly higher speed (docs/training.md, twenty-third session). A chunk's products have fewer
    /// rows, so the weight gradients of the later stages are summed in another order than over the whole
    /// lane (the step's numbers are not the bits of one pass, but the same from run to run).
    public var mimChunkCrops = 16

    /// The crops per chunk for `crops` global crops: the largest divisor of `crops` that is at most
    /// `preferred` (all of them when `preferred` is 0).
    static func mimChunk(crops: Int, preferred: Int) -> Int {
        guard preferred > 0 && preferred < crops else { return crops }
        return (1...preferred).reversed().first { crops % $0 == 0 } ?? crops
    }

    /// Gradients of lanes 1 ..< `lanes` (lane 0 uses the student's own).
    private var laneArenas: [ParameterArena] = []
    /// Each lane's step memory, kept across steps (`LaneMemory`).
    private(set) var laneMemory: [LaneMemory] = []

    /// One lane's step memory: the network passes (backbone and heads) of the student's global and local
    /// crops and the teacher's, the loss's and the decoder's buffers, and the lane's share of the batch,
    /// kept across steps so that a step refills them instead of allocating (llm.c's arena, one per lane
    /// and crop size).
    /// Unchecked: a lane's memory is used by the one worker that runs that lane.
    final class LaneMemory: @unchecked Sendable {
        var student: SwinBackbone.Cache?
        var global: EsViTNetwork.Output?, local: EsViTNetwork.Output?, teacher: EsViTNetwork.Output?
        let decoder = PixelDecoder.Memory()
        let loss = EsViTLoss.Memory()
        let heads = DINOHead.Scratch()
        var globals: [Float] = [], locals: [Float] = [], patchMask: [Float] = [], target: [Float] = []
        /// The student's global crops with the token mask's tokens blanked (the masked-token term).
        var maskedGlobals: [Float] = []
        /// SimMIM's chunk of the lane's global crops and of their patch mask (`mimChunk`).
        var chunkImages: [Float] = [], chunkMask: [Float] = []

        /// Lets go of the last step's references to `patchMask` (the caches hold it), so that copying the
        /// next step's mask in writes in place.
        func releaseInputs() {
            student?.patchMask = []
            global?.backbone.patchMask = []
        }

        /// The identities of every buffer kept (for the test that steps after the first allocate none).
        var bufferAddresses: [Int] {
            func a(_ x: [Float]) -> Int { x.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) } }
            var out = [a(globals), a(locals), a(patchMask), a(target), a(maskedGlobals), a(chunkImages), a(chunkMask)] + decoder.bufferAddresses + loss.bufferAddresses + heads.bufferAddresses
            for cache in [student, global?.backbone, local?.backbone, teacher?.backbone] { out += cache?.bufferAddresses ?? [] }
            for output in [global, local, teacher] { out += (output.map { $0.view.bufferAddresses + $0.region.bufferAddresses }) ?? [] }
            return out
        }
    }

    /// Frees every lane's step memory (the next step allocates it again): before work that needs the
    /// memory more, such as the monitor's embedding passes.
    public func releaseStepMemory() { laneMemory = [] }

    /// The base addresses of every lane's step memory (a test compares them across steps).
    public var stepMemoryAddresses: [Int] { laneMemory.flatMap(\.bufferAddresses) }

    public init(config: EsViTConfig, hyper: Hyper = Hyper()) {
        network = EsViTNetwork(config: config)
        student = network.makeArena()
        teacher = network.makeArena()
        center = [Float](repeating: 0, count: config.outDim)
        centerGrid = [Float](repeating: 0, count: config.outDim)
        studentPoolMoments = RunningMoments(channels: config.finalDim)
        teacherPoolMoments = RunningMoments(channels: config.finalDim)
        self.hyper = hyper
    }

    /// Whether the optimizer touches this tensor (weight_g is frozen: norm_last_layer).
    func trains(_ t: ParameterArena.Tensor) -> Bool {
        if t.name.hasSuffix("last_layer.weight_g") { return false }
        if hyper.freezeLastLayer && t.name.contains("last_layer") { return false }
        return true
    }

    /// What one step measured (the loss before the update).
    public struct StepResult: Sendable {
        public var loss: Double
        public var viewLoss: Double
        public var regionLoss: Double
        public var maskedLoss: Double
        /// SimMIM's L1 on the masked pixels (0 when the term is off).
        public var mimLoss: Double
        public var teacherViewEntropy: Double
        public var teacherViewMeanEntropy: Double
        public var teacherRegionEntropy: Double
        public var teacherRegionMeanEntropy: Double
        /// `[2B, C]`: the teacher's pooled backbone features of the two global crops (with SimMIM's term
        /// alone, where no teacher runs, the student's of its masked global crops; empty when `train` was
        /// asked for no `features`).
        public var teacherPooled: [Float]
    }

    /// One full step on a batch: `globals` are the 2 global crops `[2, B, Cin, S, S]` (crop-major),
    /// `locals` the local crops `[L, B, Cin, s, s]`. `tokenMask` (`[2, B, Ng]`, Ng the final-stage
    /// tokens of a global crop) blanks those tokens' pixels in the student's global crops (`TokenMask`)
    /// for the masked-token term; the teacher always sees the crops whole. `patchMask` (`[2, B, (S/P)²]`,
    /// 1 = masked) is SimMIM's mask of the student's global crops, for the `mimWeight` term.
    /// `features: false`: a step whose pooled features nobody reads (`lenspipe train` reads them on its
    /// metrics steps): with SimMIM's term alone, where they cost a pooling of their own (the foreground
    /// weights' medians included) at the end of each chunk, they are not made.
    public func train(globals: [Float], globalSize S: Int, locals: [Float], localCrops L: Int, localSize s: Int, images B: Int,
                      tokenMask: [Bool]? = nil, patchMask: [Float]? = nil, features: Bool = true) -> StepResult {
        let (loss, outputs, pooled, sums) = lossGradientsAndFeatures(globals: globals, globalSize: S, locals: locals, localCrops: L, localSize: s,
                                                                     images: B, tokenMask: tokenMask, patchMask: patchMask, features: features,
                                                                     joiningLogitGradients: false, addingLaneGradients: false)
        update()
        if usesEsViTTerms { updateCenters(outputs) }
        if config.viewHead == .standardized && usesEsViTTerms { updatePoolMoments(sums) }
        return StepResult(loss: loss, viewLoss: outputs.viewLoss, regionLoss: outputs.regionLoss, maskedLoss: outputs.maskedLoss,
                          mimLoss: sums.mimLoss,
                          teacherViewEntropy: outputs.teacherViewEntropy, teacherViewMeanEntropy: outputs.teacherViewMeanEntropy,
                          teacherRegionEntropy: outputs.teacherRegionEntropy, teacherRegionMeanEntropy: outputs.teacherRegionMeanEntropy,
                          teacherPooled: pooled)
    }

    /// Forward, loss and backward: leaves the gradients in `student.grads`.
    public func lossAndGradients(globals: [Float], globalSize S: Int, locals: [Float], localCrops L: Int, localSize s: Int, images B: Int,
                                 tokenMask: [Bool]? = nil, patchMask: [Float]? = nil) -> (Double, EsViTLoss.Result) {
        let (loss, result, _, _) = lossGradientsAndFeatures(globals: globals, globalSize: S, locals: locals, localCrops: L, localSize: s, images: B,
                                                         tokenMask: tokenMask, patchMask: patchMask)
        return (loss, result)
    }

    /// Whether any of EsViT's terms (view, region, masked-token) has a weight; without them a step is
    /// SimMIM's alone.
    public var usesEsViTTerms: Bool { hyper.viewWeight > 0 || hyper.regionWeight > 0 || hyper.maskedWeight > 0 }

    /// The side of the final-stage token grid of an `S x S` crop (what a token mask is laid out on).
    public func tokenGrid(size S: Int) -> Int { config.tokenGrid(size: S) }

    /// `lossAndGradients`, plus the teacher's pooled features `[2B, C]` (for the feature monitors).
    /// The batch runs in `lanes` (at most one per image); the lanes' gradients are added into the
    /// student's. `joiningLogitGradients: false` leaves the merged result's `dview`/`dregion` empty.
    /// `addingLaneGradients: false` leaves the other lanes' gradients in their arenas for the `update`
    /// that follows, which adds each tensor's just before its AdamW step (`train`).
    func lossGradientsAndFeatures(globals: [Float], globalSize S: Int, locals: [Float], localCrops L: Int, localSize s: Int, images B: Int,
                                  tokenMask: [Bool]? = nil, patchMask: [Float]? = nil, features: Bool = true, joiningLogitGradients: Bool = true,
                                  addingLaneGradients: Bool = true)
        -> (Double, EsViTLoss.Result, [Float], PoolSums) {
        pendingLanes = 0  // lane gradients a step before left and nobody added are this step's no longer
        let mask = hyper.maskedWeight > 0 ? tokenMask : nil
        let maskedTokens = mask.map { $0.reduce(0) { $0 + ($1 ? 1 : 0) } } ?? 0
        let pixelMask = hyper.mimWeight > 0 ? patchMask : nil
        precondition(pixelMask == nil || network.decoder != nil, "the masked-image-modelling term needs a network with a pixel decoder")
        precondition(pixelMask != nil || usesEsViTTerms, "a step needs EsViT's terms or a patch mask for the masked-image-modelling term")
        // SimMIM's denominator: the batch's masked pixels times the channels (+1e-5, as SimMIM).
        let maskedPixels = (pixelMask?.reduce(0, +)).map { Double($0) * Double(config.patch * config.patch * config.inChannels) + 1e-5 } ?? 1
        let standardizers = config.viewHead == .standardized ? (student: studentPoolMoments.standardizer, teacher: teacherPoolMoments.standardizer) : nil
        let n = max(1, min(lanes, B))
        while laneMemory.count < n { laneMemory.append(LaneMemory()) }
        for m in laneMemory { m.releaseInputs() }
        if n == 1 {
            (earlyRange, headsUntouchedLanes) = (nil, 0)
            let r = laneStep(student, globals: globals, globalSize: S, locals: locals, localCrops: L, localSize: s, images: B,
                             tokenMask: mask, patchMask: pixelMask, batchImages: B, batchMaskedTokens: maskedTokens, batchMaskedPixels: maskedPixels,
                             standardizers: standardizers, features: features, memory: laneMemory[0])
            return (r.result.loss + Double(hyper.mimWeight) * r.sums.mimLoss, r.result, r.pooled, r.sums)
        }
        while laneArenas.count < n - 1 { laneArenas.append(ParameterArena(gradientsOf: student)) }
        let starts = (0...n).map { $0 * B / n }
        let counts = (0..<n).map { starts[$0 + 1] - starts[$0] }
        let arenas = [student] + laneArenas.prefix(n - 1)
        // Each lane's share of the batch, copied into its memory.
        for h in 0..<n {
            let m = laneMemory[h]
            CropMajor.lane(into: &m.globals, globals, crops: 2, images: B, start: starts[h], count: counts[h])
            CropMajor.lane(into: &m.locals, locals, crops: L, images: B, start: starts[h], count: counts[h])
            if let pixelMask { CropMajor.lane(into: &m.patchMask, pixelMask, crops: 2, images: B, start: starts[h], count: counts[h]) }
        }
        let memories = laneMemory
        // The heads' update, early, where `update` follows (`train`) and no lane writes them.
        let heads = network.head.w0..<network.headDense.end
        let early = !addingLaneGradients && !usesEsViTTerms && headsUntouchedLanes == n && !heads.isEmpty ? heads : nil
        (earlyRange, earlyNext, headsUntouchedLanes) = (early, 0, 0)
        nonisolated(unsafe) let trainer = self
        let threads = max(1, KernelThreads.count)
        let workers = min(n, threads), perLane = max(1, threads / n)
        let slots = UnsafeMutablePointer<LaneOutput?>.allocate(capacity: n)
        slots.initialize(repeating: nil, count: n)
        defer { slots.deinitialize(count: n); slots.deallocate() }
        nonisolated(unsafe) let out = slots
        let help = laneHelp
        help.start()
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            for h in stride(from: w, to: n, by: workers) {
                let (start, count) = (starts[h], counts[h])
                out[h] = KernelThreads.$count.withValue(perLane) { help.lane {
                    laneStep(arenas[h], globals: memories[h].globals, globalSize: S, locals: memories[h].locals, localCrops: L, localSize: s,
                             images: count, tokenMask: mask.map { CropMajor.lane($0, crops: 2, images: B, start: start, count: count) },
                             patchMask: pixelMask == nil ? nil : memories[h].patchMask,
                             batchImages: B, batchMaskedTokens: maskedTokens, batchMaskedPixels: maskedPixels, standardizers: standardizers,
                             features: features, memory: memories[h])
                } }
            }
            if let early { trainer.updateEarly(early, lanes: n - 1) }
            help.serve()
        }
        headsUntouchedLanes = usesEsViTTerms ? 0 : n
        let lanesOut = (0..<n).map { slots[$0]! }
        pendingLanes = n - 1
        if addingLaneGradients { addLaneGradients() }
        let result = EsViTLoss.merged(lanesOut.map(\.result), laneImages: counts, localCrops: L, joiningGradients: joiningLogitGradients)
        var sums = lanesOut[0].sums
        for lane in lanesOut.dropFirst() { sums.add(lane.sums) }
        return (result.loss + Double(hyper.mimWeight) * sums.mimLoss, result, CropMajor.joined(lanesOut.map(\.pooled), crops: 2, images: counts), sums)
    }

    /// What one lane's step leaves besides its gradients.
    struct LaneOutput {
        var result: EsViTLoss.Result
        var pooled: [Float]
        var sums: PoolSums
    }

    /// Per-channel sums of the pooled features (student: every crop; teacher: the global crops) that
    /// `updatePoolMoments` turns into the running moments. No rows unless `config.viewHead == .standardized`.
    struct PoolSums {
        var student: MomentSums
        var teacher: MomentSums
        /// The lane's share of SimMIM's loss (already divided by the batch's masked pixels).
        var mimLoss = 0.0

        init(channels C: Int) {
            student = MomentSums(channels: C)
            teacher = MomentSums(channels: C)
        }

        /// Adds another lane's sums (lanes in order, so the totals do not depend on the thread count).
        mutating func add(_ o: PoolSums) {
            student.add(o.student)
            teacher.add(o.teacher)
            mimLoss += o.mimLoss
        }
    }

    /// Teacher forward, student forward, loss and backward of one lane's images (`B` of the batch's
    /// `batchImages`), into `arena`'s gradients (zeroed first). `memory`: the lane's buffers, refilled.
    func laneStep(_ arena: ParameterArena, globals: [Float], globalSize S: Int, locals: [Float], localCrops L: Int, localSize s: Int, images B: Int,
                  tokenMask mask: [Bool]?, patchMask: [Float]? = nil, batchImages: Int, batchMaskedTokens: Int, batchMaskedPixels: Double = 1,
                  standardizers: (student: (mean: [Float], invStd: [Float]), teacher: (mean: [Float], invStd: [Float]))? = nil,
                  features: Bool = true, memory: LaneMemory) -> LaneOutput {
        let C = config.finalDim
        // SimMIM's term on the student's global crops: target, loss, decoder gradients, and the gradients
        // of what the decoder read (the final tokens; with two stages, the stage before the last too).
        func reconstruction(_ bb: SwinBackbone.Cache, images: [Float], mask: [Float], crops: Int)
            -> (loss: Double, dtokens: [Float], dstage: (stage: Int, grad: [Float])?) {
            let decoder = network.decoder!
            var target = images
            if hyper.mimTargetBlock > 0 {
                MaskedImageModeling.normalizedTarget(into: &memory.target, images, B: crops, Cin: config.inChannels, S: S, block: hyper.mimTargetBlock)
                target = memory.target
            }
            let (tokens, mid) = decoder.inputs(bb)
            let r = decoder.loss(arena, tokens: tokens, mid: mid, target: target, patchMask: mask, batch: crops, size: S,
                                 normalizer: batchMaskedPixels, weight: hyper.mimWeight, memory: memory.decoder)
            return (r.loss, r.dtokens, decoder.readsTwoStages ? (decoder.midStage, r.dmid) : nil)
        }
        if !usesEsViTTerms {
            // SimMIM alone: the student's masked global crops, the decoder, the backbone's backward, a chunk
            // of crops at a time (`mimChunk`): each chunk's forward and backward run on one set of buffers
            // sized for the chunk (with the default recipe half the lane's). Gradients add up over the
            // chunks in the order of their rows.
            let crops = 2 * B, chunk = Self.mimChunk(crops: crops, preferred: mimChunkCrops)
            let pixels = config.inChannels * S * S, patches = patchMask!.count / crops
            arena.zeroGrads()
            var loss = 0.0
            var pooled: [Float] = []
            if features { pooled.reserveCapacity(crops * C) }
            for c0 in stride(from: 0, to: crops, by: chunk) {
                var images = globals, mask = patchMask!
                if chunk < crops {
                    memory.student?.patchMask = []  // the cache's reference to the last chunk's mask, so the copy writes in place
                    CropMajor.slice(into: &memory.chunkImages, globals, start: c0 * pixels, count: chunk * pixels)
                    CropMajor.slice(into: &memory.chunkMask, patchMask!, start: c0 * patches, count: chunk * patches)
                    (images, mask) = (memory.chunkImages, memory.chunkMask)
                }
                let bb = network.backbone.forward(arena, images: images, batch: chunk, size: S, patchMask: network.backboneMask(mask),
                                                  reusing: memory.student)
                memory.student = bb
                let (part, dtokens, dstage) = reconstruction(bb, images: images, mask: mask, crops: chunk)
                network.backbone.backward(arena, cache: bb, dtokens: dtokens, dstage: dstage, chunks: crops / chunk)
                loss += part
                if features { pooled += network.pool(bb, images: images, size: S).pooled }
            }
            var sums = PoolSums(channels: C)
            sums.mimLoss = loss
            return LaneOutput(result: EsViTLoss.absent(outDim: config.outDim), pooled: pooled, sums: sums)
        }
        let t = network.forward(teacher, images: globals, batch: 2 * B, size: S, forBackward: false, headInput: standardizers?.teacher,
                                reusing: memory.teacher, keep: true, headScratch: memory.heads)
        memory.teacher = t
        // The student's global crops: with a token mask, a copy with those tokens blanked (into the
        // lane's kept buffer when there is one).
        var studentGlobals = globals
        if let mask {
            SwinBackbone.fit(&memory.maskedGlobals, globals.count)
            memory.maskedGlobals.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: globals, count: globals.count) }
            TokenMask.apply(&memory.maskedGlobals, mask: mask, rows: 2 * B, channels: config.inChannels, size: S, grid: tokenGrid(size: S))
            studentGlobals = memory.maskedGlobals
        }
        var groups = [network.forward(arena, images: studentGlobals, batch: 2 * B, size: S, headInput: standardizers?.student,
                                      patchMask: patchMask, reusing: memory.global, headScratch: memory.heads)]
        memory.global = groups[0]
        if L > 0 {
            groups.append(network.forward(arena, images: locals, batch: L * B, size: s, headInput: standardizers?.student, reusing: memory.local,
                                          headScratch: memory.heads))
            memory.local = groups[1]
        }
        let result = EsViTLoss(teacherTemp: hyper.teacherTemp, studentTemp: hyper.studentTemp,
                               viewWeight: hyper.viewWeight, regionWeight: hyper.regionWeight, maskedWeight: hyper.maskedWeight)
            .compute(student: groups, teacher: t, images: B, localCrops: L, center: center, centerGrid: centerGrid, config: network.config,
                     tokenMask: mask, normalizingImages: batchImages, normalizingMaskedTokens: batchMaskedTokens, memory: memory.loss)
        arena.zeroGrads()
        let mim = patchMask.map { reconstruction(groups[0].backbone, images: globals, mask: $0, crops: 2 * B) }
        for (g, out) in groups.enumerated() {
            network.backward(arena, output: out, dview: result.dview[g], dregion: result.dregion[g], dtokens: g == 0 ? mim?.dtokens : nil,
                             dstage: g == 0 ? mim?.dstage : nil, headScratch: memory.heads)
        }
        var sums = PoolSums(channels: C)
        sums.mimLoss = mim?.loss ?? 0
        if standardizers != nil {
            sums.teacher = MomentSums(t.pooled, N: 2 * B, C: C)
            for g in groups { sums.student.add(MomentSums(g.pooled, N: g.pooled.count / C, C: C)) }
        }
        return LaneOutput(result: result, pooled: t.pooled, sums: sums)
    }

    /// Lanes 1 ..< 1 + `pendingLanes` whose gradients are not yet added into the student's (`update` adds
    /// them, tensor by tensor).
    private var pendingLanes = 0

    /// Adds lanes 1 ... `lanes`' gradients of `range` (arena offsets) into the student's, lanes in order.
    private func addLaneGradients(_ range: Range<Int>, lanes: Int) {
        let sum = student.grads
        for lane in laneArenas.prefix(lanes) {
            let g = lane.grads
            for i in range { sum[i] += g[i] }
        }
    }

    /// Adds every pending lane's gradients into the student's, on the kernel threads.
    private func addLaneGradients() {
        guard pendingLanes > 0 else { return }
        nonisolated(unsafe) let trainer = self
        let lanes = pendingLanes
        KernelThreads.forEach(student.count, minimumPerChunk: 1 << 16) { trainer.addLaneGradients($0, lanes: lanes) }
        pendingLanes = 0
    }

    /// Whether every student value was finite after the last `update` (each worker checks the tensors it
    /// has just updated, while their values are in cache): what a run's non-finite stop reads, instead of
    /// a pass of its own over the arena on one thread after every step.
    public private(set) var valuesFinite = true
    /// `update`'s per-worker findings for `valuesFinite` (kept, so a step allocates nothing for them).
    private var workerFinite: [Bool] = []

    /// Per-tensor clipping, AdamW on the student, EMA into the teacher, on the kernel threads: each
    /// tensor is updated whole by one worker (the one whose share of the arena it starts in), with the
    /// same arithmetic on any worker, so the thread count changes no bit. Each worker first adds the
    /// other lanes' gradients of its tensors, if `train` left them (`pendingLanes`), into the student's
    /// while they go into cache for AdamW. Tensors `train` already updated (`earlyRange`: the heads of a
    /// SimMIM-only step, in the time the first lanes to finish wait for the others) are skipped, and the
    /// workers share the rest. Sets `valuesFinite`.
    public func update() {
        step += 1
        let (optimizer, step) = (stepOptimizer, step)
        // The workers share the tensors `train` did not update early (`earlyRange`) by their place among them.
        let early = earlyRange, skipped = earlyRange?.count ?? 0
        let (tensors, total) = (student.tensors, max(1, student.count - skipped))
        func position(_ offset: Int) -> Int { offset - (early.map { offset >= $0.upperBound ? skipped : 0 } ?? 0) }
        let workers = max(1, min(KernelThreads.count, tensors.count))
        if workerFinite.count < workers { workerFinite = [Bool](repeating: true, count: workers) }
        workerFinite.withUnsafeMutableBufferPointer { found in
            nonisolated(unsafe) let found = found
            ParallelFor.workers(workers) { w in
                var finite = true
                for t in tensors where !(early?.contains(t.offset) ?? false) && position(t.offset) * workers / total == w {
                    finite = updateTensor(t, optimizer, step: step, lanes: pendingLanes) && finite
                }
                found[w] = finite
            }
        }
        pendingLanes = 0
        valuesFinite = workerFinite.prefix(workers).allSatisfy { $0 } && earlyFinite
        (earlyRange, earlyFinite) = (nil, true)
    }

    /// AdamW with this step's hyper-parameters.
    private var stepOptimizer: AdamW {
        AdamW(lr: hyper.lr, weightDecay: hyper.weightDecay, beta1: hyper.beta1, beta2: hyper.beta2, eps: hyper.eps, clip: hyper.clip)
    }

    /// One tensor's share of `update`: the other lanes' gradients added into the student's, clipping
    /// and AdamW (unless frozen), the teacher's EMA; whether its new values are finite.
    private func updateTensor(_ t: ParameterArena.Tensor, _ optimizer: AdamW, step: Int, lanes: Int) -> Bool {
        let range = t.offset..<(t.offset + t.count)
        addLaneGradients(range, lanes: lanes)
        if trains(t) { optimizer.update(student, tensor: t, step: step) }
        Self.movingAverage(teacher.values + t.offset, towards: student.values + t.offset, count: t.count, momentum: hyper.emaMomentum)
        return student.valuesAreFinite(in: range)
    }

    /// The lane count of the last step when it was SimMIM's alone (0 otherwise): each of those lanes'
    /// arenas then holds zero gradients for the heads.
    private var headsUntouchedLanes = 0
    /// The arena range of the tensors that a SimMIM-only step's lanes never write (the DINO heads), when
    /// every lane arena holds zero gradients there (`headsUntouchedLanes`): `train`'s worker that finishes
    /// its lanes first updates them while the other still runs, exactly as `update` would (their
    /// gradients are zero in every lane either way), and `update` skips them. Nil: none this step.
    private var earlyRange: Range<Int>? = nil
    private var earlyFinite = true
    /// The next tensor `updateEarly` takes, under `earlyLock`.
    private var earlyNext = 0
    private let earlyLock = NSLock()

    /// Updates the tensors in `range` (`earlyRange`), taking them one at a time (the workers that finish
    /// their lanes share them), for the step `update` will count next.
    private func updateEarly(_ range: Range<Int>, lanes: Int) {
        let (optimizer, tensors) = (stepOptimizer, student.tensors)
        var finite = true
        while true {
            earlyLock.lock()
            var i = earlyNext
            while i < tensors.count && !range.contains(tensors[i].offset) { i += 1 }
            earlyNext = i + 1
            earlyLock.unlock()
            guard i < tensors.count else { break }
            finite = updateTensor(tensors[i], optimizer, step: step + 1, lanes: lanes) && finite
        }
        if !finite { earlyLock.lock(); earlyFinite = false; earlyLock.unlock() }
    }

    /// The teacher's EMA of one tensor, `teacher = momentum · teacher + (1 − momentum) · student`, eight
    /// values at a time (the same operations per value as one at a time).
    static func movingAverage(_ teacher: UnsafeMutablePointer<Float>, towards student: UnsafePointer<Float>, count: Int, momentum: Float) {
        typealias V8 = SIMD8<Float>
        var i = 0
        while i + 8 <= count {
            let tv = UnsafeRawPointer(teacher + i).loadUnaligned(as: V8.self), sv = UnsafeRawPointer(student + i).loadUnaligned(as: V8.self)
            UnsafeMutableRawPointer(teacher + i).storeBytes(of: momentum * tv + (1 - momentum) * sv, as: V8.self)
            i += 8
        }
        while i < count { teacher[i] = momentum * teacher[i] + (1 - momentum) * student[i]; i += 1 }
    }

    /// Centres move towards the teacher's batch means (after the loss used the old ones).
    public func updateCenters(_ r: EsViTLoss.Result) {
        let m = hyper.centerMomentum
        for k in center.indices {
            center[k] = m * center[k] + (1 - m) * r.teacherViewMean[k]
            centerGrid[k] = m * centerGrid[k] + (1 - m) * r.teacherRegionMean[k]
        }
    }

    /// The running moments of the pooled features move towards this step's (at the centres' momentum).
    func updatePoolMoments(_ sums: PoolSums) {
        let m = Double(hyper.centerMomentum)
        studentPoolMoments.update(sums.student, momentum: m)
        teacherPoolMoments.update(sums.teacher, momentum: m)
    }
}
