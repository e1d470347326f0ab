#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one way lenspipe writes a file: under a temporary name in the same folder, renamed when
/// complete, so no reader ever sees half of one (checkpoints, shards' index, reports, figures, NPY).
public enum AtomicFile {
    /// Writes `parts` to `path` through a temporary file in the same folder, then renames it, so a
    /// reader never sees a half-written file. The parts are written one after another (no copy).
    public static func write(path: String, parts: [[UInt8]]) throws {
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LensDataError(path: path, "cannot write: \(FileBytes.errnoText())") }
        var failure: String?
        outer: for part in parts {
            var done = 0
            while done < part.count {
                let n = part.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, part.count - done) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { failure = FileBytes.errnoText(); break outer }
                done += n
            }
        }
        close(fd)
        if failure == nil && rename(tmp, path) != 0 { failure = FileBytes.errnoText() }
        if let failure {
            unlink(tmp)
            throw LensDataError(path: path, "cannot write: \(failure)")
        }
    }
}
