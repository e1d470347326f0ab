import ArgumentParser
import Foundation
import LensData
import Testing
import _TestSupport
@testable import lenspipe

/// The conventions `lenspipe --help` lists, checked on every subcommand's own help text: the same
/// thing has the same name everywhere, and the spellings from before 0.5 still parse but are hidden.
@Suite struct CLIConventionTests {
    /// Every leaf command a user can call, with its path (`bench crop`), found by walking the tree
    /// from `LensPipe.configuration`, so a new command is checked without editing this test.
    static func leaves() -> [(path: [String], command: ParsableCommand.Type)] {
        func walk(_ c: ParsableCommand.Type, _ path: [String]) -> [([String], ParsableCommand.Type)] {
            let subs = c.configuration.subcommands.filter { $0.configuration.shouldDisplay }
            if subs.isEmpty { return [(path, c)] }
            return subs.flatMap { walk($0, path + [$0._commandName]) }
        }
        return walk(LensPipe.self, []).map { (path: $0.0, command: $0.1) }
    }

    static func help(_ c: ParsableCommand.Type) -> String {
        LensPipe.helpMessage(for: c, includeHidden: false, columns: 400)
    }

    /// Option names shown in a help text (`--json`, `-o`, ...), from its OPTIONS section.
    static func shownNames(_ help: String) -> Set<String> {
        var names = Set<String>()
        for line in help.split(separator: "\n") where line.hasPrefix("  -") {
            for word in line.split(separator: " ") where word.hasPrefix("-") {
                names.insert(String(word.trimmingCharacters(in: CharacterSet(charactersIn: ",<>"))))
            }
        }
        return names
    }

    /// Commands that write one thing and name it with `-o/--output`.
    static let writers: Set<String> = ["demo", "inspect", "crop", "preprocess", "preview", "train", "embed", "eval", "finetune",
                                       "attention", "synth", "bench train"]
    /// Commands that draw random numbers and so take `--seed`.
    static let seeded: Set<String> = ["demo", "preprocess", "preview", "train", "finetune", "synth"]
    /// Commands whose `--size` is a crop window; an image side is `--image-size`.
    static let cropWindow: Set<String> = ["crop", "preprocess", "bench crop"]
    static let imageSide: Set<String> = ["demo", "finetune", "synth"]

    @Test func theTreeHasEveryCommand() {
        let names = Set(Self.leaves().map { $0.path.joined(separator: " ") })
        for expected in ["demo", "preprocess", "train", "eval", "finetune", "bench read", "bench train", "merge", "verify"] {
            #expect(names.contains(expected), "\(expected)")
        }
        #expect(!names.contains("hdf5-probe"), "the hidden child command is not a user's")
    }

    @Test(arguments: CLIConventionTests.leaves().map { $0.path.joined(separator: " ") })
    func sharedOptionNames(_ name: String) throws {
        let command = try #require(Self.leaves().first { $0.path.joined(separator: " ") == name }?.command)
        let help = Self.help(command)
        let shown = Self.shownNames(help)
        #expect(shown.contains("--json"), "\(name): --json")
        if !name.hasPrefix("bench ") { #expect(shown.contains("--quiet"), "\(name): --quiet") }
        if name != "merge" { #expect(shown.contains("--threads"), "\(name): --threads") }
        #expect(shown.contains("-o") == Self.writers.contains(name) && shown.contains("--output") == Self.writers.contains(name),
                "\(name): -o/--output")
        #expect(shown.contains("--seed") == Self.seeded.contains(name), "\(name): --seed")
        #expect(shown.contains("--size") == Self.cropWindow.contains(name), "\(name): --size is a crop window")
        #expect(shown.contains("--image-size") == Self.imageSide.contains(name), "\(name): --image-size")
        for old in ["--out", "--png", "--save", "--local-crops", "--split-seed"] {
            #expect(!shown.contains(old), "\(name) shows the old spelling \(old)")
        }
        if shown.contains("--local-views") || shown.contains("--local-size") { #expect(shown.contains("--local-views"), "\(name)") }
    }

    /// The old spellings still parse (to the same values as the new ones), so scripts keep working.
    @Test func oldSpellingsParseToTheNewOptions() throws {
        let p = try #require(try LensPipe.parseAsRoot(["preprocess", "src", "old-out", "--split", "train=0.5,val=0.5", "--split-seed", "3"]) as? LensPipe.Preprocess)
        #expect(p.out == "old-out")
        let q = try #require(try LensPipe.parseAsRoot(["preprocess", "src", "-o", "new-out", "--worker", "1/4", "--hashes", "sha1,md5"]) as? LensPipe.Preprocess)
        #expect(q.out == "new-out" && q.worker == WorkerSlice(argument: "1/4") && q.hashes?.hashes == [.sha1, .md5])
        let s = try #require(try LensPipe.parseAsRoot(["synth", "old", "--size", "64"]) as? LensPipe.Synth)
        #expect(s.out == "old" && s.size == 64)
        let t = try #require(try LensPipe.parseAsRoot(["synth", "-o", "new", "--image-size", "64"]) as? LensPipe.Synth)
        #expect(t.out == "new" && t.size == 64)
        let i = try #require(try LensPipe.parseAsRoot(["inspect", "data", "--png", "a.png"]) as? LensPipe.Inspect)
        #expect(i.png == "a.png")
        let c = try #require(try LensPipe.parseAsRoot(["crop", "data", "-o", "b.png"]) as? LensPipe.Crop)
        #expect(c.png == "b.png")
        let f = try #require(try LensPipe.parseAsRoot(["finetune", "ck", "sh", "--task", "classify", "--size", "48"]) as? LensPipe.Finetune)
        #expect(f.size == 48)
    }

    /// Each option type is parsed once, at the command line: a bad value is refused before any work,
    /// naming the option.
    @Test(arguments: [
        (["preprocess", "src", "-o", "out", "--split", "train=0.8,val=0.3"], "--split"),
        (["preprocess", "src", "-o", "out", "--worker", "4/4"], "--worker"),
        (["preprocess", "src", "-o", "out", "--hashes", "md5,crc"], "--hashes"),
        (["preprocess", "src", "-o", "out", "--size", "huge"], "--size"),
        (["bench", "crop", "--normalize", "gamma"], "--normalize"),
        (["bench", "train", "--depths", "2,x"], "--depths"),
        (["train", "shards", "-o", "run", "--heads", "0"], "--heads"),
    ])
    func badValuesAreRefusedNamingTheOption(_ args: [String], _ option: String) {
        do {
            _ = try LensPipe.parseAsRoot(args)
            Issue.record("\(args) parsed")
        } catch {
            #expect(LensPipe.message(for: error).contains(option), "\(LensPipe.message(for: error))")
        }
    }

    @Test func outputFolderIsRequiredAndGivenOnce() {
        for args in [["preprocess", "src"], ["synth"], ["preprocess", "src", "a", "-o", "b"]] {
            do {
                _ = try LensPipe.parseAsRoot(args)
                Issue.record("\(args) parsed")
            } catch {
                #expect(LensPipe.message(for: error).contains("-o/--output"), "\(LensPipe.message(for: error))")
            }
        }
    }

    /// `lenspipe --help` lists the conventions once, and `--version` prints the version.
    @Test func topLevelHelpListsTheConventions() throws {
        let help = LensPipe.helpMessage(columns: 200)
        for word in ["Conventions", "-o, --output", "--json", "--quiet", "--seed N", "--threads N", "--image-size"] {
            #expect(help.contains(word), "\(word)")
        }
        let v = try TestSupport.lenspipe(["--version"])
        #expect(v.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == LensPipeVersion.current)
    }

    /// `--json` on the commands that gained it prints one JSON object.
    @Test func jsonOnSynthPreprocessPreviewAndMerge() throws {
        let dir = TestSupport.tempDir("cli-json")
        let s = try TestSupport.json(try TestSupport.lenspipe(["synth", "-o", dir + "/data", "--count", "12", "--image-size", "64", "--json"]).stdout)
        #expect(s["images"] as? Int == 12 && s["image_size"] as? Int == 64 && s["folder"] as? String == dir + "/data")
        let p = try TestSupport.lenspipe(["preprocess", dir + "/data", "-o", dir + "/shards", "--split", "train=0.5,val=0.5", "--json"])
        #expect(p.status == 0, "\(p.stderr)")
        let pj = try TestSupport.json(p.stdout)
        #expect((pj["folders"] as? [String: String])?["train"] == dir + "/shards/train", "\(p.stdout)")
        #expect((pj["summary"] as? [String: Any])?["images"] as? Int == 12)
        #expect((pj["summary"] as? [String: Any])?["bytes_per_image"] is Double, "snake_case keys, as every lenspipe JSON: \(p.stdout)")
        let v = try TestSupport.lenspipe(["preview", dir + "/shards/train", "-o", dir + "/v.png", "--pairs", "2", "--json"])
        #expect(v.status == 0, "\(v.stderr)")
        #expect(try TestSupport.json(v.stdout)["images"] as? Int == 2)
        let quiet = try TestSupport.lenspipe(["verify", dir + "/shards", "--quiet"])
        #expect(quiet.status == 0 && quiet.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "ok", "\(quiet.stdout)")
    }
}

/// Issue 37, item 6: every command's help reads in an 80-column terminal: no line ends early while the
/// next word of the same paragraph would have fitted (the ragged half-lines that hard breaks at ~100
/// columns make once argument-parser wraps them again at 80).
@Suite struct HelpAt80ColumnsTests {
    static let commands: [[String]] = [[], ["demo"], ["inspect"], ["crop"], ["preprocess"], ["verify"], ["merge"], ["preview"], ["train"], ["embed"],
                                       ["eval"], ["finetune"], ["attention"], ["synth"], ["bench"], ["bench", "read"], ["bench", "crop"],
                                       ["bench", "augment"], ["bench", "train"]]

    /// Prose lines: paragraphs (no indent) and option help (the help column); not the usage line, example
    /// commands or little tables, which are indented by a few spaces and laid out by hand.
    static func isProse(_ line: String) -> Bool {
        let indent = line.prefix { $0 == " " }.count
        return !line.hasPrefix("USAGE:") && (indent == 0 || indent >= 20)
    }

    /// The pairs of consecutive prose lines of one paragraph where the second's first word would have
    /// fitted on the first (argument-parser wraps to lines of at most `width - 1` characters).
    static func raggedPairs(_ help: String, width: Int = 80) -> [String] {
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var out: [String] = []
        for (a, b) in zip(lines, lines.dropFirst()) where !a.trimmingCharacters(in: .whitespaces).isEmpty && isProse(a) && isProse(b) {
            let indentA = a.prefix { $0 == " " }.count, indentB = b.prefix { $0 == " " }.count
            let word = b.trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? ""
            guard !word.isEmpty, indentA == indentB, !word.hasPrefix("-"), !a.hasSuffix("."), !a.hasSuffix(":") else { continue }
            if a.count + 1 + word.count < width { out.append(a + " ⏎ " + b) }
        }
        return out
    }

    /// Hand-laid lines (examples, little tables: indented by a few spaces) too long for 80 columns:
    /// argument-parser wraps them to the left margin, so a line at indent 0 follows an indented one
    /// directly. Such lines continue with `\\` and an indented next line instead.
    static func hangingLines(_ help: String) -> [String] {
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return zip(lines, lines.dropFirst()).compactMap { a, b in
            let indentA = a.prefix { $0 == " " }.count
            let hangs = (1..<20).contains(indentA) && !a.trimmingCharacters(in: .whitespaces).isEmpty
                && !b.isEmpty && !b.hasPrefix(" ")
            return hangs ? a + " ⏎ " + b : nil
        }
    }

    @Test(arguments: commands)
    func helpHasNoRaggedLines(command: [String]) throws {
        let r = try TestSupport.run(TestSupport.lenspipeBinary, command + ["--help"], environment: ["COLUMNS": "80"])
        #expect(r.status == 0)
        let wide = r.stdout.split(separator: "\n").map(String.init).filter { Self.isProse($0) && $0.count > 80 }
        #expect(wide.isEmpty, "\(command): prose wider than 80 columns: \(wide.prefix(2))")
        #expect(Self.raggedPairs(r.stdout).isEmpty, "\(command): \(Self.raggedPairs(r.stdout).prefix(3))")
        #expect(Self.hangingLines(r.stdout).isEmpty, "\(command): \(Self.hangingLines(r.stdout).prefix(3))")
    }

    @Test func theCheckFindsRaggedLines() {
        #expect(Self.raggedPairs("a paragraph that ends\nearly on this line") == ["a paragraph that ends ⏎ early on this line"])
        #expect(Self.raggedPairs("a full sentence.\nNext one") == [])
        #expect(Self.hangingLines("Example:\n  lenspipe eval a b -o\nrun1/eval") == ["  lenspipe eval a b -o ⏎ run1/eval"])
        #expect(Self.hangingLines("Example:\n  lenspipe eval a b \\\n    -o run1/eval\n\nOPTIONS:") == [])
    }
}
