import ArgumentParser
import Foundation
import ShardWriter

/// How every command prints its result with `--json`: one JSON object, keys sorted.
enum JSONOutput {
    /// An `Encodable` result, pretty-printed.
    static func print<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        Swift.print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// An `Encodable` result on one line, keys sorted (the form the bench commands always print).
    static func printLine<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        Swift.print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

/// `--json` on a `bench` command: bench always prints one JSON object (scripts compare it with a
/// baseline's), so the flag is accepted and changes nothing. Every command takes `--json`.
struct BenchJSONOptions: ParsableArguments {
    @Flag(help: "Accepted for uniformity: bench commands always print one JSON object.")
    var json = false
}

/// `preprocess` and `synth` write a folder named by `-o/--output`. Before 0.5 it was the last
/// positional argument; that spelling still works (hidden), so old scripts keep running.
struct OutputFolderOptions: ParsableArguments {
    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("The output folder.", valueName: "OUT"))
    var output: String?

    @Argument(help: .hidden)
    var positionalOutput: String?

    /// The folder, once `validate()` has run.
    var folder: String { output ?? positionalOutput ?? "" }

    func validate() throws {
        switch (output, positionalOutput) {
        case (nil, nil): throw ValidationError("name the output folder with -o/--output OUT")
        case (.some(let a), .some(let b)) where a != b:
            throw ValidationError("two output folders given ('\(b)' and -o '\(a)'); give one with -o/--output")
        default: break
        }
    }
}

/// `--split train=0.8,val=0.1,test=0.1`, parsed once (`SplitPlan.parse` names what is wrong when it
/// is not; ArgumentParser then prints the option's help).
struct SplitOption: ExpressibleByArgument {
    let plan: SplitPlan
    let text: String
    init?(argument: String) {
        guard let plan = try? SplitPlan.parse(argument) else { return nil }
        (self.plan, self.text) = (plan, argument)
    }
    var defaultValueDescription: String { text }
}

/// `--worker i/N`: this process writes every N-th input starting at i, 0 <= i < N <= 999.
struct WorkerSlice: ExpressibleByArgument, Equatable {
    let index: Int
    let count: Int
    init?(argument: String) {
        let p = argument.split(separator: "/", omittingEmptySubsequences: false)
        guard p.count == 2, let i = Int(p[0]), let n = Int(p[1]), n >= 1, i >= 0, i < n, n <= 999 else { return nil }
        (index, count) = (i, n)
    }
    var defaultValueDescription: String { "\(index)/\(count)" }
}

/// `--hashes md5,sha256`: the hashes index.json records, comma-separated, each known.
struct HashList: ExpressibleByArgument {
    let hashes: [ShardHash]
    init?(argument: String) {
        var list: [ShardHash] = []
        for name in argument.split(separator: ",") {
            guard let h = ShardHash(rawValue: String(name)) else { return nil }
            list.append(h)
        }
        guard !list.isEmpty else { return nil }
        hashes = list
    }
    var defaultValueDescription: String { hashes.map(\.rawValue).joined(separator: ",") }
    static var allValueStrings: [String] { ShardHash.allCases.map(\.rawValue) }
}
