import ArgumentParser
import Demo
import Foundation

extension LensPipe {
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The whole job on lenses lenspipe simulates itself, ending in OUT/report.html.",
            discussion: """
            synthesize -> inspect -> crop -> preprocess to MDS shards -> verify -> views -> train (the default recipe, --train-minutes) -> eval (k-NN and linear probe beside random-init and raw-pixel baselines) -> attention maps. Each step prints its numbers; OUT/report.html (self-contained:
            figures embedded) shows every step's command, numbers and figures with what they show. Folders: OUT/data (the simulated tree), OUT/shards (train/val/test), OUT/run (the training run, its eval/ and attention.png). About 5 minutes on 2 cores with the defaults. Example:
              lenspipe demo -o lenspipe-demo --count 1200 --train-minutes 4
            """)

        @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("Output folder.", valueName: "OUT"))
        var output = "lenspipe-demo"

        @Option(name: .customLong("out"), help: .hidden)
        var legacyOut: String?

        @Option(help: "Number of images (split 80/10/10 into train/val/test).")
        var count = 1200

        @Option(help: "Side of the simulated images: 64 (as DeepLense Model II) or 150 (Model I counts).")
        var imageSize = 64

        @Option(name: .customLong("size"), help: .hidden)
        var legacySize: Int?
        var size: Int { legacySize ?? imageSize }

        @Option(help: "Minutes of pre-training (the schedules fit the budget).")
        var trainMinutes = 4.0

        @Option(help: "Train for this many epochs instead of --train-minutes (the same run on any machine).")
        var trainEpochs: Double?

        @Option(help: "Random seed.")
        var seed: UInt64 = 0

        @Flag(help: "Print the steps (title, command, numbers, figures) and the report's path as JSON.")
        var json = false

        @Flag(help: "No progress line and no per-step numbers; only the report's path.")
        var quiet = false

        @OptionGroup var threadOptions: ThreadOptions

        func validate() throws {
            guard size == 64 || size == 150 else { throw ValidationError("--image-size must be 64 or 150") }
            guard count >= 30 && count <= 1_000_000 else { throw ValidationError("--count must be 30...1000000 (the test split needs images of every class)") }
            guard trainMinutes > 0 && trainMinutes <= 10_080 else { throw ValidationError("--train-minutes must be within (0, 10080]") }
            if let e = trainEpochs, !(e > 0 && e <= 1e6) { throw ValidationError("--train-epochs must be within (0, 1e6]") }
        }

        func run() throws {
            var options = DemoRun.Options()
            let output = legacyOut ?? self.output
            options.out = output
            options.count = count
            options.imageSize = size
            options.seed = seed
            options.trainMinutes = trainMinutes
            options.trainEpochs = trainEpochs
            options.threads = threadOptions.threads
            let line = StepProgressLine(quiet: quiet || json)
            let report: DemoReport
            do {
                report = try DemoRun(options: options, log: { line.log($0) },
                                     progress: { step, total, text in line.show(step: step, of: total, text) }).run()
            } catch {
                line.finish()
                FileHandle.standardError.write(Data("report (steps that ran): \(output)/report.html\n".utf8))
                throw error
            }
            line.finish()
            if json {
                try JSONOutput.print(DemoSummary(report: "\(output)/report.html", steps: report.steps.map(DemoSummary.Step.init)))
            } else {
                print("report: \(output)/report.html (open it in a browser)")
            }
        }
    }
}

/// What `demo --json` prints: each step as the report shows it.
struct DemoSummary: Encodable {
    struct Step: Encodable {
        let title: String
        let command: String
        let numbers: [String: String]
        let figures: [String]

        init(_ step: DemoReport.Step) {
            title = step.title
            command = step.command
            numbers = Dictionary(step.numbers, uniquingKeysWith: { a, _ in a })
            figures = step.figures.map(\.0)
        }
    }
    let report: String
    let steps: [Step]
}
