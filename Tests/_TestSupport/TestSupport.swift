import Foundation

/// Paths, temporary folders, and helpers for running Python references and the built CLI in tests.
public enum TestSupport {
    /// The repository root (found from this file's location).
    public static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// `fixtures/<relative>` in the repository.
    public static func fixture(_ relative: String) -> String { repoRoot + "/fixtures/" + relative }

    /// A fresh, empty temporary folder.
    public static func tempDir(_ tag: String = "lenspipe") -> String {
        let path = NSTemporaryDirectory() + "\(tag)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    public struct ProcessResult {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// True when the program ran past its timeout and was killed.
        public var timedOut = false
        /// True when the program died of a signal (a crash), not by exiting.
        public var crashed = false
    }

    /// Runs a program and captures its output; with `timeout` (seconds), a program still running then
    /// is killed (SIGKILL) and the result says `timedOut`.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], cwd: String? = nil, timeout: Double? = nil,
                           environment: [String: String] = [:]) throws -> ProcessResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let killed = Mutex2()
        if let timeout {
            let pid = p.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                if p.isRunning { killed.value = Data([1]); kill(pid, SIGKILL) }
            }
        }
        // Read both pipes before waiting, so a chatty child cannot block on a full pipe.
        let errData = Mutex2()
        let t = Thread { errData.value = err.fileHandleForReading.readDataToEndOfFile() }
        t.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        while errData.value == nil { usleep(1000) }
        return ProcessResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                             stderr: String(decoding: errData.value ?? Data(), as: UTF8.self),
                             timedOut: killed.value != nil, crashed: p.terminationReason == .uncaughtSignal)
    }

    private final class Mutex2: @unchecked Sendable {
        // Written once by the reader thread, then read by the waiter.
        private let lock = NSLock()
        private var _value: Data?
        var value: Data? {
            get { lock.lock(); defer { lock.unlock() }; return _value }
            set { lock.lock(); _value = newValue; lock.unlock() }
        }
    }

    /// Runs `python3` with a script; fails loudly if Python or its packages are missing (CI installs them).
    @discardableResult
    public static func python(_ script: String, _ arguments: [String] = []) throws -> String {
        let r = try run("/usr/bin/env", ["python3", "-c", script] + arguments)
        guard r.status == 0 else {
            throw TestFailure("python3 failed (\(r.status)); install numpy, h5py, zstandard (scripts/test.sh does):\n\(r.stderr)")
        }
        return r.stdout
    }

    /// Runs a helper script from `Tests/helpers`.
    @discardableResult
    /// Runs `lenspipe` with `arguments` and returns its result; a non-zero exit throws, naming the
    /// command and its stderr (for the steps a test builds on).
    public static func lenspipeSucceeding(_ arguments: [String]) throws -> ProcessResult {
        let r = try lenspipe(arguments)
        guard r.status == 0 else { throw TestFailure("lenspipe \(arguments.prefix(2).joined(separator: " ")) exited \(r.status):\n\(r.stderr)") }
        return r
    }

    public static func pythonHelper(_ name: String, _ arguments: [String]) throws -> String {
        let r = try run("/usr/bin/env", ["python3", repoRoot + "/Tests/helpers/" + name] + arguments)
        guard r.status == 0 else { throw TestFailure("\(name) failed (\(r.status)):\n\(r.stderr)") }
        return r.stdout
    }

    /// The `lenspipe` binary built next to the test bundle.
    public static var lenspipeBinary: String {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("lenspipe").path
            if FileManager.default.isExecutableFile(atPath: candidate), !FileManager.default.fileExists(atPath: candidate + "/Contents") {
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDir), !isDir.boolValue { return candidate }
            }
            dir.deleteLastPathComponent()
        }
        return repoRoot + "/.build/debug/lenspipe"
    }

    /// Runs the CLI.
    @discardableResult
    public static func lenspipe(_ arguments: [String], timeout: Double? = nil) throws -> ProcessResult {
        try run(lenspipeBinary, arguments, timeout: timeout)
    }

    /// Reads a JSON file or string into a dictionary.
    public static func json(_ text: String) throws -> [String: Any] {
        guard let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw TestFailure("not a JSON object: \(text.prefix(200))")
        }
        return obj
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
