import Foundation
import MiniTrain
import PairSampler

/// Every hyper-parameter of a pre-training run, in one JSON file (`lenspipe train --recipe FILE`).
///
/// Every field has a default, so a file lists only what it changes; `lenspipe train --print-recipe`
/// prints the defaults. The resolved recipe is written to `RUN/recipe.json` and into every checkpoint's
/// metadata. Schedules follow DINO/EsViT (`main_esvit.py`): learning rate warm-up then cosine with the
/// linear scaling rule, weight decay cosine, teacher temperature warm-up, EMA momentum cosine to 1,
/// the last layer frozen at the start. Lengths are fractions of the run, so a 10- and a 20-minute
/// budget are both complete schedules.
///
///     {"batch": 32, "optimizer": {"baseLR": 0.0005}, "loss": {"view": 0, "region": 1},
///      "model": {"dim": 48}, "views": {"local": {"count": 6, "size": 32}}}
public struct TrainRecipe: Codable, Sendable, Equatable {
    /// The network's shape; `inChannels` is replaced by the shards' channel count.
    public var model: EsViTConfig
    /// The multi-crop views (`docs/views.md`).
    public var views: ViewRecipe
    public var optimizer: Optimizer
    public var teacher: Teacher
    public var loss: Loss
    /// SimMIM's masked-image-modelling term (`docs/training.md`): off unless `mim.weight > 0`.
    public var mim: MaskedImageModelingTerm
    public var monitor: Monitor
    /// Images per step.
    public var batch: Int
    /// Passes over the training split (`--minutes` replaces this by a wall-clock budget).
    public var epochs: Double
    /// Seeds initialisation, shuffling and views.
    public var seed: UInt64
    /// Shards shuffled together (and held decompressed at once): the memory bound of the data loader.
    public var shardsPerBlock: Int

    public struct Optimizer: Codable, Sendable, Equatable {
        /// Learning rate for a batch of 256; the run uses `baseLR x batch / 256` (linear scaling rule).
        public var baseLR: Float = 5e-4
        /// Where the cosine ends.
        public var minLR: Float = 1e-6
        /// Linear warm-up from 0, as a fraction of the steps.
        public var warmupFraction: Double = 0.1
        /// Weight decay, cosine from `weightDecay` to `weightDecayEnd`.
        public var weightDecay: Float = 0.04
        public var weightDecayEnd: Float = 0.4
        /// Per-tensor gradient-norm clip (0: off).
        public var clip: Float = 3
        public var beta1: Float = 0.9
        public var beta2: Float = 0.999
        /// The last layers of both heads stay frozen for this many epochs (DINO: 1), at most
        /// `freezeLastLayerMaxFraction` of the run.
        public var freezeLastLayerEpochs: Double = 1
        public var freezeLastLayerMaxFraction: Double = 0.1
        public init() {}
    }

    public struct Teacher: Codable, Sendable, Equatable {
        /// Teacher softmax temperature after the warm-up...
        public var temperature: Float = 0.04
        /// ...linearly from this one over `temperatureWarmupFraction` of the steps.
        public var warmupTemperature: Float = 0.04
        public var temperatureWarmupFraction: Double = 0.3
        /// EMA momentum, cosine from `momentum` to `momentumEnd`.
        public var momentum: Float = 0.996
        public var momentumEnd: Float = 1
        /// Momentum of the teacher's centres.
        public var centerMomentum: Float = 0.9
        public var studentTemperature: Float = 0.1
        public init() {}
    }

    public struct Loss: Codable, Sendable, Equatable {
        /// Weight of the view (pooled, DINO) loss; 0 drops the head's gradient.
        public var view: Float = 0.5
        /// Weight of the region (token, EsViT) loss.
        public var region: Float = 0.5
        /// Weight of the masked-token (iBOT-style) term: the student sees its global crops with some
        /// final-stage token cells blanked and predicts the teacher's region target there (0: off).
        public var masked: Float = 0
        /// Share of the student's global crops that are masked, and the range of the share of tokens
        /// a masked crop blanks (iBOT: half the crops, 0.1-0.5 of the tokens).
        public var maskShare: Double = 0.5
        public var maskRatio: [Double] = [0.1, 0.5]
        public init() {}
    }

    /// SimMIM (Xie et al., CVPR 2022) on the Swin backbone: blocks of the student's global crops are
    /// replaced by a mask token after the patch embedding, a linear decoder from the last stage
    /// reconstructs the pixels, and the loss is the L1 distance on the masked pixels.
    public struct MaskedImageModelingTerm: Codable, Sendable, Equatable {
        /// The term's weight beside `loss.view`, `loss.region` and `loss.masked` (0: off). With those
        /// three at 0 a step is SimMIM's alone (no teacher forward, local crops unused).
        public var weight: Float = 0
        /// Share of the blocks masked per crop (SimMIM: 0.6; MAE on DeepLense: 0.9 best).
        public var ratio: Double = 0.6
        /// Side of a masked block in pixels, a multiple of `model.patch` dividing the global size
        /// (SimMIM: 32 px of 192).
        public var block: Int = 8
        /// Where the blocks are drawn: `uniform`, or `lens` (weighted towards the lens light).
        public var masking: MaskPlacement = .uniform
        /// Normalise the target per `block` cell (MAE's normalised pixels) instead of raw pixels.
        public var normalizeTarget: Bool = false
        /// The stages the pixel decoder reads: 1 (SimMIM's, the last), or 2 (the stage before it too, at
        /// half the stride; `PixelDecoder`). Sets `model.decoderStages`.
        public var decoderStages: Int = 1
        public init() {}
    }

    public struct Monitor: Codable, Sendable, Equatable {
        /// A `metrics.jsonl` line every this many steps.
        public var metricsEvery = 10
        /// k-NN of `val` against `train` every this many steps (0: only at the end); needs labels.
        public var knnEvery = 200
        /// At most this many train / val images in the k-NN monitor (the first ones in shard order).
        public var knnTrain = 2000
        public var knnVal = 1000
        public var knnK = 20
        public var knnTemperature: Double = 0.07
        /// The linear probe (`eval`'s) on the same features at every k-NN pass: `probe_accuracy` and
        /// `probe_auc` in `metrics.jsonl`.
        public var probe = true
        /// A checkpoint every this many steps, and at least every `checkpointMinutes`.
        public var checkpointEvery = 500
        public var checkpointMinutes: Double = 5
        /// Collapse warning: a head's teacher entropy above this share of log K, or a feature
        /// standard deviation below `minFeatureStd`, for `collapsePatience` metric lines in a row.
        public var collapseEntropyShare: Double = 0.95
        public var minFeatureStd: Double = 1e-3
        public var collapsePatience = 5
        public init() {}
    }

    /// The views `lenspipe train` uses unless a recipe says otherwise: "lens-safe" crops, chosen in the
    /// recipe study (docs/science.md, run c01-lenssafe-clean) for the best linear probe: global views
    /// from 80-100% of the stamp (the ring keeps its scale), local views from 20-40% (a piece of arc,
    /// rarely sky), no blur and no added noise (both wash out the faint substructure the classes differ
    /// by). Flips, rotations and the brightness/contrast jitter stay as in `ViewSpec`.
    public static let defaultViews = ViewRecipe(
        global: [ViewSpec(size: 64, scale: [0.8, 1], blur: 0, gaussianNoise: 0, minFluxShare: 0.1),
                 ViewSpec(size: 64, scale: [0.8, 1], blur: 0, gaussianNoise: 0, minFluxShare: 0.1)],
        local: ViewSpec(count: 4, size: 32, scale: [0.2, 0.4], blur: 0, gaussianNoise: 0, minFluxShare: 0.1))

    public init() {
        model = EsViTConfig()
        // The recipe study's choice (docs/science.md, ninth session): with EsViT's view head the pooled
        // head's teacher goes uniform on lensing stamps within 60 steps and a 20-minute run ends worse
        // than a 10-minute one; standardised pooled features keep both heads learning.
        model.viewHead = .standardized
        views = TrainRecipe.defaultViews
        optimizer = Optimizer()
        teacher = Teacher()
        loss = Loss()
        mim = MaskedImageModelingTerm()
        // The tenth session's choice (docs/science.md): SimMIM alone, blocks drawn on the lens. Fine-tuned
        // with 1% of the labels it beats the same fine-tune from scratch by 0.2 accuracy, where every
        // EsViT recipe fell below scratch. EsViT's terms stay one recipe away (`loss.view`, `loss.region`).
        loss.view = 0
        loss.region = 0
        mim.weight = 1
        mim.masking = .lens
        // The eleventh session's study (docs/science.md): targets normalised per block fine-tune better
        // at 1% of the labels than raw pixels on both seeds (+0.281 / +0.204 over scratch against
        // +0.247 / +0.179), and at 10% in the twelfth session's (+0.045 / +0.020 against +0.034 / +0.017).
        mim.normalizeTarget = true
        views.local.count = 0  // SimMIM reads the global crops only
        monitor = Monitor()
        batch = 32
        epochs = 100
        seed = 0
        shardsPerBlock = 2
    }

    /// The network for images of `channels` channels.
    public func config(channels: Int) -> EsViTConfig {
        var c = model
        c.inChannels = channels
        c.pixelDecoder = mim.weight > 0
        c.decoderStages = mim.weight > 0 ? mim.decoderStages : 1
        return c
    }

    /// The learning rate after warm-up: `baseLR x batch / 256`.
    public var peakLR: Float { optimizer.baseLR * Float(batch) / 256 }

    /// Checks every range; the error names the field.
    public func validate(channels: Int = 1) throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw RecipeError(message) } }
        try views.validate()
        try check(batch >= 1 && batch <= 65536, "batch must be 1...65536")
        try check(epochs > 0 && epochs <= 1e6, "epochs must be within (0, 1e6]")
        try check(monitor.knnK >= 1 && monitor.knnK <= 10_000, "monitor.knnK must be 1...10000")
        try check(monitor.knnTemperature.isFinite && monitor.knnTemperature >= 1e-4 && monitor.knnTemperature <= 100, "monitor.knnTemperature must be within [1e-4, 100]")
        try check(monitor.knnTrain >= 0 && monitor.knnVal >= 0 && monitor.knnTrain <= 1_000_000 && monitor.knnVal <= 1_000_000,
                  "monitor.knnTrain and knnVal must be 0...1000000 (0: no k-NN monitor)")
        // The model's own limits first: the checks below divide by its patch and shift by its stages.
        do { try config(channels: channels).checkLimits() } catch { throw RecipeError("model: \(error)") }
        try check(monitor.checkpointMinutes.isFinite && monitor.checkpointMinutes > 0, "monitor.checkpointMinutes must be positive")
        try check(optimizer.freezeLastLayerEpochs.isFinite && optimizer.freezeLastLayerEpochs >= 0 && optimizer.freezeLastLayerEpochs <= 1e6,
                  "optimizer.freezeLastLayerEpochs must be within [0, 1e6]")
        try check([teacher.temperature, teacher.warmupTemperature, teacher.studentTemperature].allSatisfy { $0 >= 1e-4 && $0 <= 100 },
                  "teacher temperatures must be within [1e-4, 100]")
        try check(shardsPerBlock >= 1 && shardsPerBlock <= 1024, "shardsPerBlock must be 1...1024")
        try check(optimizer.baseLR >= 0 && optimizer.minLR >= 0, "optimizer.baseLR and minLR must be >= 0")
        for (v, name) in [(optimizer.warmupFraction, "optimizer.warmupFraction"), (teacher.temperatureWarmupFraction, "teacher.temperatureWarmupFraction"),
                          (optimizer.freezeLastLayerMaxFraction, "optimizer.freezeLastLayerMaxFraction")] {
            try check(v >= 0 && v <= 1, "\(name) must be within [0, 1]")
        }
        try check(teacher.temperature > 0 && teacher.warmupTemperature > 0 && teacher.studentTemperature > 0, "temperatures must be positive")
        try check((0...1).contains(teacher.momentum) && (0...1).contains(teacher.momentumEnd) && (0...1).contains(teacher.centerMomentum),
                  "teacher momenta must be within [0, 1]")
        try check(loss.view >= 0 && loss.region >= 0 && loss.masked >= 0 && mim.weight >= 0 && loss.view + loss.region + loss.masked + mim.weight > 0,
                  "loss weights (loss.view, loss.region, loss.masked, mim.weight) must be >= 0, not all 0")
        if mim.weight > 0 {
            let S = views.global[0].size, stride = model.patch << max(0, model.depths.count - 1)
            try check(mim.ratio > 0 && mim.ratio < 1, "mim.ratio must be within (0, 1)")
            try check(mim.block >= model.patch && mim.block % model.patch == 0 && S % mim.block == 0,
                      "mim.block \(mim.block) must be a multiple of model.patch \(model.patch) that divides the global view size \(S)")
            try check(S % stride == 0, "the global view size \(S) must be a multiple of the encoder's stride \(stride) for the pixel decoder")
            try check(mim.decoderStages == 1 || (mim.decoderStages == 2 && model.depths.count >= 2),
                      "mim.decoderStages must be 1, or 2 with at least two stages in model.depths")
        }
        try check((0...1).contains(loss.maskShare), "loss.maskShare must be within [0, 1]")
        try check(loss.maskRatio.count == 2 && loss.maskRatio[0] >= 0 && loss.maskRatio[0] <= loss.maskRatio[1] && loss.maskRatio[1] <= 1,
                  "loss.maskRatio must be [low, high] within [0, 1]")
        try check(monitor.metricsEvery >= 1 && monitor.checkpointEvery >= 1 && monitor.knnEvery >= 0, "monitor intervals must be positive")
        try check(model.depths.count == model.heads.count && !model.depths.isEmpty, "model.depths and model.heads need the same number of stages")
        try check(model.dim >= 2 && model.outDim >= 2 && model.hidden >= 1 && model.bottleneck >= 1 && model.patch >= 1 && model.window >= 1,
                  "model sizes must be positive")
        let config = config(channels: channels)
        do {
            try config.validate(cropSize: views.global[0].size)
            if views.local.count > 0 { try config.validate(cropSize: views.local.size) }
        } catch { throw RecipeError("model and views do not fit: \(error)") }
    }

    /// Pretty, sorted JSON (what `--print-recipe` prints and `RUN/recipe.json` holds).
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// Reads a recipe file; fields it does not list keep their defaults, a field the recipe does not
    /// have is an error (a typo would otherwise be ignored silently).
    public static func load(path: String) throws -> TrainRecipe {
        guard let data = FileManager.default.contents(atPath: path) else { throw RecipeError("\(path): cannot read the recipe") }
        return try decode(data, name: path)
    }

    /// Decodes recipe JSON over the defaults (see `load`).
    public static func decode(_ data: Data, name: String = "recipe") throws -> TrainRecipe {
        guard let user = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw RecipeError("\(name): not a JSON object")
        }
        let defaults = try JSONSerialization.jsonObject(with: try TrainRecipe().json()) as! [String: Any]
        let merged = try merge(user, over: defaults, path: "")
        do {
            return try JSONDecoder().decode(TrainRecipe.self, from: try JSONSerialization.data(withJSONObject: merged))
        } catch DecodingError.typeMismatch(_, let context), DecodingError.dataCorrupted(let context) {
            var field = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            if field.isEmpty, let culprit = try? culprit(user, defaults: defaults) {
                // The decoder names no field for a number its type cannot hold (8.5 or 1e30 for an
                // integer, -1 for the seed, 1e-50 for a 32-bit float): find it by putting each back.
                field = culprit.path
                throw RecipeError("\(name): field \(field): \(culprit.value) does not fit it (integer fields take whole numbers, seed is >= 0, 32-bit float fields take magnitudes from 1e-38 to 3e38)")
            }
            throw RecipeError("\(name): field \(field): \(context.debugDescription)")
        } catch {
            throw RecipeError("\(name): not a valid training recipe: \(error)")
        }
    }

    /// Optional fields that the defaults leave out (nil is not written).
    static let optionalFields: Set<String> = ["clip", "detectionBinning"]

    /// The first leaf of `user` (a dotted path and its value) without which the merged recipe decodes.
    static func culprit(_ user: [String: Any], defaults: [String: Any]) throws -> (path: String, value: Any)? {
        func leaves(_ o: [String: Any], _ prefix: [String]) -> [[String]] {
            o.keys.sorted().flatMap { k -> [[String]] in
                if let inner = o[k] as? [String: Any] { return leaves(inner, prefix + [k]) }
                return [prefix + [k]]
            }
        }
        func removing(_ path: [String], from o: [String: Any]) -> [String: Any] {
            var o = o
            if path.count == 1 { o.removeValue(forKey: path[0]) } else if let inner = o[path[0]] as? [String: Any] {
                o[path[0]] = removing(Array(path.dropFirst()), from: inner)
            }
            return o
        }
        func value(_ path: [String], in o: [String: Any]) -> Any? {
            path.count == 1 ? o[path[0]] : (o[path[0]] as? [String: Any]).flatMap { value(Array(path.dropFirst()), in: $0) }
        }
        for path in leaves(user, []) {
            let merged = try merge(removing(path, from: user), over: defaults, path: "")
            if (try? JSONDecoder().decode(TrainRecipe.self, from: try JSONSerialization.data(withJSONObject: merged))) != nil {
                return (path.joined(separator: "."), value(path, in: user) ?? "?")
            }
        }
        return nil
    }

    /// `user`'s values over `defaults`, recursively for objects; arrays and scalars replace.
    static func merge(_ user: [String: Any], over defaults: [String: Any], path: String) throws -> [String: Any] {
        var out = defaults
        for (key, value) in user {
            let field = path.isEmpty ? key : path + "." + key
            guard let base = defaults[key] else {
                // Inside view specs (arrays of objects) the view recipe's own decoder fills defaults.
                if Self.optionalFields.contains(key) { out[key] = value; continue }
                throw RecipeError("unknown recipe field '\(field)' (lenspipe train --print-recipe lists them all)")
            }
            if let u = value as? [String: Any], let d = base as? [String: Any] {
                out[key] = try merge(u, over: d, path: field)
            } else {
                out[key] = value
            }
        }
        return out
    }
}
