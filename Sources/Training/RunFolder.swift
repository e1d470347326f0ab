import Foundation
import LensData
import MiniTrain

/// What a run folder holds, and the facts of a run fixed when it starts (`RUN/run.json`): a resumed
/// run takes its length and data from here, so it continues exactly where it stopped.
///
/// | file | what |
/// |---|---|
/// | `recipe.json` | the resolved recipe (every field) |
/// | `run.json` | steps, data, budget, the measured step time |
/// | `checkpoint.safetensors` | the latest checkpoint (written atomically every N steps or minutes) |
/// | `final.safetensors` | the checkpoint at the end of the run |
/// | `middle.safetensors` | the checkpoint half-way (`lenspipe attention` compares start, middle and end) |
/// | `metrics.jsonl` | one JSON object per measurement (`docs/training.md` lists the fields) |
/// | `curves.png` | loss, teacher entropies and k-NN accuracy against the step |
public struct RunFolder: Sendable {
    public let path: String
    public init(path: String) { self.path = path }

    public var recipe: String { path + "/recipe.json" }
    public var state: String { path + "/run.json" }
    public var checkpoint: String { path + "/checkpoint.safetensors" }
    public var final: String { path + "/final.safetensors" }
    public var middle: String { path + "/middle.safetensors" }
    public var metrics: String { path + "/metrics.jsonl" }
    public var curves: String { path + "/curves.png" }

    /// Whether a run was started here.
    public var hasRun: Bool { FileManager.default.fileExists(atPath: state) || FileManager.default.fileExists(atPath: checkpoint) }
}

/// `RUN/run.json`.
public struct RunState: Codable, Sendable, Equatable {
    public var totalSteps: Int
    public var stepsPerEpoch: Int
    public var trainFolder: String
    public var valFolder: String?
    public var trainImages: Int
    public var channels: Int
    public var imageHeight: Int
    public var imageWidth: Int
    /// The wall-clock budget the steps were fitted to, and the step time measured for it.
    public var minutes: Double?
    public var measuredStepSeconds: Double?
    public var threads: Int
    public var finished = false

    /// A new run's facts over `data` (its length still 0: `steps(epochs:)` or a budget sets it), after
    /// checking the recipe against the data: `lenspipe train`'s and `ExternalRun`'s one start.
    static func start(data: TrainingData, recipe: TrainRecipe, threads: Int) throws -> RunState {
        try recipe.validate(channels: data.channels)
        guard data.train.count >= recipe.batch else {
            throw TrainError("\(data.trainFolder): \(data.train.count) images, fewer than one batch of \(recipe.batch)")
        }
        return RunState(totalSteps: 0, stepsPerEpoch: data.train.count / recipe.batch, trainFolder: data.trainFolder,
                        valFolder: data.valFolder, trainImages: data.train.count, channels: data.channels,
                        imageHeight: data.height, imageWidth: data.width, threads: threads)
    }

    /// The step count of `epochs` epochs (at least 1).
    func steps(epochs: Double) -> Int { max(1, Int((Double(stepsPerEpoch) * epochs).rounded())) }

    func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(path: path, parts: [Array(try encoder.encode(self))])
    }

    static func read(from path: String) throws -> RunState {
        guard let data = FileManager.default.contents(atPath: path) else { throw LensDataError(path: path, "not found: nothing to resume") }
        do { return try JSONDecoder().decode(RunState.self, from: data) } catch {
            throw LensDataError(path: path, "not a lenspipe run state: \(error)")
        }
    }
}

