import Foundation
import LensData
import MiniTrain

/// A fine-tuned network on disk: an EsViT checkpoint (`Checkpoint.save`, written under a temporary
/// name and renamed) whose `student.*` and `teacher.*` backbone tensors both hold the fine-tuned
/// backbone, under the pre-training names, so `Checkpoint.load`, `lenspipe embed` and `lenspipe eval`
/// read it as they read any checkpoint; plus `head.weight [K, D]` and `head.bias [K]`. The DINO
/// heads and centres are the pre-trained network's, unchanged (random init from scratch); AdamW
/// moments and the step are zero. Metadata: `task`, `classes` (JSON list), `finetune` (the recipe,
/// JSON), `input_size`, `initialization`, `source_checkpoint`, `best_step`, `target` (regression's
/// `TargetScale`, JSON) and the pre-training `recipe` when the source had one.
public enum FineTuneCheckpoint {
    /// - Parameters:
    ///   - dino: the network the DINO heads and centres come from (the source checkpoint's, or a random init).
    ///   - arena: which of `dino`'s arenas to take the heads from.
    public static func save(_ trainer: FineTuneTrainer, dino: EsViTTrainer, arena: ParameterArena, to path: String,
                            metadata: [String: String]) throws {
        let out = EsViTTrainer(config: trainer.config, hyper: dino.hyper)
        out.student.copyValues(from: arena)
        trainer.copyBackbone(into: out.student)
        out.teacher.copyValues(from: out.student)
        out.center = dino.center
        out.centerGrid = dino.centerGrid
        out.studentPoolMoments = dino.studentPoolMoments
        out.teacherPoolMoments = dino.teacherPoolMoments
        let w = trainer.arena.tensor("head.weight"), b = trainer.arena.tensor("head.bias")
        let tensors = [w, b].map { t in
            Checkpoint.Tensor(name: t.name, shape: t.shape, values: Array(UnsafeBufferPointer(start: trainer.arena.values + t.offset, count: t.count)))
        }
        try Checkpoint.save(out, to: path, metadata: metadata, tensors: tensors)
    }

    /// A fine-tuned network read back, ready to predict.
    public struct Model: Sendable {
        public var trainer: FineTuneTrainer
        public var classes: [String]
        public var target: TargetScale?
        public var inputSize: Int
        public var metadata: [String: String]

        /// Class probabilities `[N, K]` (classification) or predictions in the target's transformed
        /// units `[N]` (regression) for `images`.
        public func predict(_ images: [LensImage], batch: Int = 64) -> [Float] {
            let raw = FineTuneRun.outputs(trainer, images, size: inputSize, batch: batch)
            switch trainer.task {
            case .classify:
                // The softmax the run scored with (CrossEntropy's; the labels only enter its loss).
                var probs = [Float](repeating: 0, count: raw.count)
                let K = trainer.outputs
                _ = CrossEntropy.forward(probs: &probs, logits: raw, labels: [Int](repeating: 0, count: images.count), N: images.count, K: K)
                return probs
            case .regress:
                return raw.map { Float(target?.unstandardized($0) ?? Double($0)) }
            }
        }
    }

    /// Reads a checkpoint written by `save`; the error says when it is a pre-training checkpoint.
    public static func load(from path: String) throws -> Model {
        let meta = try Checkpoint.metadata(at: path)
        guard let taskName = meta["task"], let task = FineTuneTask(rawValue: taskName) else {
            throw FineTuneError("\(path): not a fine-tuned checkpoint (no task in its metadata; lenspipe finetune writes one)")
        }
        let esvit = try Checkpoint.load(from: path)
        let head = try Checkpoint.tensors(at: path, names: ["head.weight", "head.bias"])
        let K = head[1].values.count
        guard head[0].shape == [K, esvit.config.finalDim] else {
            throw FineTuneError("\(path): head.weight is \(head[0].shape), expected [\(K), \(esvit.config.finalDim)]")
        }
        let trainer = FineTuneTrainer(config: esvit.config, task: task, outputs: K)
        trainer.initialize(backbone: esvit.teacher, seed: 0)
        trainer.arena.value("head.weight").update(from: head[0].values, count: head[0].values.count)
        trainer.arena.value("head.bias").update(from: head[1].values, count: K)
        let classes = meta["classes"].flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? []
        let target = meta["target"].flatMap { try? JSONDecoder().decode(TargetScale.self, from: Data($0.utf8)) }
        let size = meta["input_size"].flatMap { Int($0) } ?? 64
        return Model(trainer: trainer, classes: classes, target: target, inputSize: size, metadata: meta)
    }
}
