import Foundation
import LensCore
import MiniTrain

/// `lenspipe bench train`: full EsViT training steps on synthetic crops (Gaussian noise), the median of
/// `steps` timed steps after one warm-up; `scripts/bench_train_torch.py` is PyTorch eager's same step.
public enum TrainBenchmark {
    public struct Shape: Sendable {
        public var config: EsViTConfig
        public var batch: Int, globalSize: Int, localCrops: Int, localSize: Int
        public init(config: EsViTConfig, batch: Int, globalSize: Int, localCrops: Int, localSize: Int) {
            (self.config, self.batch, self.globalSize, self.localCrops, self.localSize) = (config, batch, globalSize, localCrops, localSize)
        }
    }

    public struct Result: Codable, Sendable {
        public var imagesPerSecond: Double, stepSeconds: Double, peakRSSMegabytes: Double
        public var threads: Int, batch: Int, params: Int, loss: Double
        enum CodingKeys: String, CodingKey {
            case threads, batch, params, loss
            case imagesPerSecond = "images_per_s", stepSeconds = "step_seconds", peakRSSMegabytes = "peak_rss_mb"
        }
    }

    /// Runs the steps on the calling task's kernel threads (`KernelThreads.$count`, `threads` reported);
    /// `save`: where to write the checkpoint reached at the end.
    public static func run(_ shape: Shape, steps: Int, threads: Int, save: String?) throws -> Result {
        let trainer = EsViTTrainer(config: shape.config)
        trainer.initialize(seed: 0)
        var rng = Philox4x64(seed: 7, stream: 0)
        let (B, G, LC, LS) = (shape.batch, shape.globalSize, shape.localCrops, shape.localSize)
        let globals = (0..<(2 * B * G * G)).map { _ in Float(rng.normal()) }
        let locals = (0..<(LC * B * LS * LS)).map { _ in Float(rng.normal()) }
        var times: [Double] = []
        var loss = 0.0
        for s in 0...steps {
            let t0 = Date()
            loss = trainer.train(globals: globals, globalSize: G, locals: locals, localCrops: LC, localSize: LS, images: B).loss
            if s > 0 { times.append(Date().timeIntervalSince(t0)) }
        }
        let median = times.sorted()[times.count / 2]
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        if let save { try Checkpoint.save(trainer, to: save) }
        return Result(imagesPerSecond: Double(B) / median, stepSeconds: median, peakRSSMegabytes: Double(usage.ru_maxrss) / 1024,
                      threads: threads, batch: B, params: trainer.student.count, loss: loss)
    }
}
