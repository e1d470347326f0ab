import ArgumentParser
import Foundation
import LensData

extension LensPipe {
    /// `lenspipe hdf5-probe`: the child half of `HDF5Probe` (hidden). Opens an HDF5 source and reads
    /// every image from `--start` on, printing each index before its read, so a parent that sees
    /// this process die of a signal knows which image crashed libhdf5.
    struct HDF5ProbeCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "hdf5-probe", shouldDisplay: false)

        @Argument var file: String
        @Argument var dataset: String
        @Option var labels: String?
        @Option var targets: String?
        @Option var names: String?

        func run() throws {
            HDF5CrashGuard.install(nil)
            let source = try HDF5Source(path: file, dataset: dataset, labels: labels, targets: targets, names: names)
            HDF5Probe.emit("open")
            for i in 0..<source.count {
                HDF5Probe.emit(String(i))
                _ = try? source.sample(at: i)  // errors are the parent's to report; only crashes matter here
            }
            HDF5Probe.emit("done")
        }
    }
}

/// Reads HDF5 sources in a child process first, so a file that crashes libhdf5 (1.10.8 segfaults on
/// some corrupt chunk indexes) is refused with an error instead of ending the run. Set
/// `LENSPIPE_HDF5_PROBE=0` to read in-process only (faster: the probe reads every image once more).
///
/// One crash refuses the whole file: the reads before it may have corrupted memory without
/// crashing, so the images that did not crash the probe are not known to be safe either.
enum HDF5Probe {
    static func installUnlessDisabled() {
        guard ProcessInfo.processInfo.environment["LENSPIPE_HDF5_PROBE"] != "0" else { return }
        HDF5CrashGuard.install { try run($0) }
    }

    static func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func run(_ target: HDF5CrashGuard.Target) throws {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var args = ["hdf5-probe", target.file, target.dataset]
        for (flag, value) in [("--labels", target.labels), ("--targets", target.targets), ("--names", target.names)] {
            if let value { args += [flag, value] }
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["LENSPIPE_HDF5_PROBE"] = "0"
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationReason == .uncaughtSignal else { return }  // errors are reported by the in-process read
        let last = String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init)
        let where_ = last.flatMap(Int.init).map { "reading image \($0)" } ?? "opening the file"
        throw LensDataError(path: "\(target.file):\(target.dataset)",
                            "libhdf5 crashed (signal \(p.terminationStatus)) \(where_) in a probe process: the file is corrupt in a way this libhdf5 does not detect, so none of it is read")
    }
}
