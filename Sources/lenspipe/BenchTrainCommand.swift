import ArgumentParser
import Benchmarks
import Foundation
import LensData
import MiniTrain

extension LensPipe.Bench {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Full EsViT training steps on synthetic crops: images/s, seconds per step, peak memory.",
            discussion: """
            Defaults are the project's tiny configuration: 1 channel, patch 4, dim 32, depths 2,2,2, heads 2,4,8, window 4, MLP ratio 4; heads with 1024 outputs, hidden 256, bottleneck 64; batch 32 of 2 global 64x64 and 4 local 32x32 crops. The first step is a warm-up and is not counted. scripts/bench-train.sh runs it beside a PyTorch eager implementation of the same model and step.
            """)

        @Option(help: "Embedding dimension of the first stage.") var dim = 32
        @Option(help: "Blocks per stage, comma-separated.") var depths = IntList(argument: "2,2,2")!
        @Option(help: "Attention heads per stage, comma-separated.") var heads = IntList(argument: "2,4,8")!
        @Option(help: "Window side.") var window = 4
        @Option(help: "Patch size.") var patch = 4
        @Option(help: "MLP hidden ratio.") var mlpRatio = 4
        @Option(help: "Head output dimension K.") var outDim = 1024
        @Option(help: "Images per batch.") var batch = 32
        @Option(help: "Global crop side.") var globalSize = 64
        @Option(help: "Local views per image.") var localViews = 4
        @Option(name: .customLong("local-crops"), help: .hidden) var legacyLocalCrops: Int?
        var localCrops: Int { legacyLocalCrops ?? localViews }
        @Option(help: "Local crop side.") var localSize = 32
        @Option(help: "Timed steps (after one warm-up step).") var steps = 5
        @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("Write the checkpoint reached at the end (safetensors).", valueName: "ckpt.safetensors")) var output: String?
        @Option(name: .customLong("save"), help: .hidden) var legacySave: String?
        var save: String? { output ?? legacySave }
        @OptionGroup var threadOptions: ThreadOptions
        @OptionGroup var jsonOptions: BenchJSONOptions

        func config() throws -> EsViTConfig {
            var c = EsViTConfig()
            c.dim = dim
            c.depths = depths.values
            c.heads = heads.values
            c.window = window
            c.patch = patch
            c.mlpRatio = mlpRatio
            c.outDim = outDim
            guard c.depths.count == c.heads.count, !c.depths.isEmpty else { throw ValidationError("--depths and --heads need the same number of stages") }
            do {
                try c.validate(cropSize: globalSize)
                if localCrops > 0 { try c.validate(cropSize: localSize) }
            } catch { throw ValidationError("\(error)") }
            return c
        }

        func validate() throws {
            guard (1...4096).contains(batch), (1...10_000).contains(steps), (0...64).contains(localCrops), dim >= 2, outDim >= 2 else {
                throw ValidationError("--batch must be 1...4096, --steps 1...10000, --local-views 0...64, --dim and --out-dim at least 2")
            }
            _ = try config()
        }

        func run() throws {
            BLAS.setThreads(1)  // MiniTrain splits matrix products over its own threads
            KernelThreads.keepFreedMemory()
            let shape = TrainBenchmark.Shape(config: try config(), batch: batch, globalSize: globalSize, localCrops: localCrops, localSize: localSize)
            let result = try KernelThreads.$count.withValue(threadOptions.threads) {
                try TrainBenchmark.run(shape, steps: steps, threads: threadOptions.threads, save: save)
            }
            try JSONOutput.printLine(result)
        }
    }
}
