import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An output folder written whole: into a staging folder beside it (`.NAME.lenspipe-partial`, same
/// file system) that is put in place when complete, so the output holds the old contents or the new
/// ones, never a mix; a killed run leaves only the staging folder, which the next `begin` removes.
///
/// What may be replaced (an empty folder, one that looks like the tool's own output) is the caller's
/// rule: `preprocess` (ShardWriter's `OutputFolder`) and `synth` each check before `begin`.
public enum StagedFolder {
    /// The staging folder for `out`: `.NAME.lenspipe-partial` in `out`'s parent.
    public static func staging(for out: String) -> String {
        let url = URL(fileURLWithPath: out).standardizedFileURL
        return url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".lenspipe-partial"
    }

    /// The names in `path`, sorted; empty when it is missing or not a folder.
    public static func entries(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    /// `out`'s entries listed for a message: `a, b, c, d, ...`.
    public static func listing(_ out: String) -> String {
        let present = entries(out)
        return present.prefix(4).joined(separator: ", ") + (present.count > 4 ? ", ..." : "")
    }

    /// Removes a leftover staging folder of `out` (from a run that was killed) and creates a fresh one.
    /// - Returns: the folder to write into, and whether a leftover was removed.
    /// - Throws: when `out` is a file, or the staging folder cannot be made.
    public static func begin(_ out: String) throws -> (staging: String, removedLeftover: Bool) {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: out, isDirectory: &isDir), !isDir.boolValue {
            throw LensDataError(path: out, "is a file, not a folder: choose a folder to write into")
        }
        let staging = staging(for: out)
        let leftover = fm.fileExists(atPath: staging)
        if leftover {
            do { try fm.removeItem(atPath: staging) } catch {
                throw LensDataError(path: staging, "cannot remove the staging folder an interrupted run left: \(error.localizedDescription)")
            }
        }
        do { try fm.createDirectory(atPath: staging, withIntermediateDirectories: true) } catch {
            throw LensDataError(path: staging, "cannot create the staging folder: \(error.localizedDescription)")
        }
        return (staging, leftover)
    }

    /// Puts the finished staging folder in place of `out` (an empty or missing `out` is replaced in
    /// one rename; a full one is renamed aside first and removed after).
    public static func commit(_ staging: String, to out: String) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: out) && !entries(out).isEmpty {
            let old = staging.replacingOccurrences(of: ".lenspipe-partial", with: ".lenspipe-old")
            try? fm.removeItem(atPath: old)
            guard rename(out, old) == 0 else { throw LensDataError(path: out, "cannot move the old output aside: \(String(cString: strerror(errno)))") }
            guard rename(staging, out) == 0 else { throw LensDataError(path: out, "cannot move the new output in place from \(staging): \(String(cString: strerror(errno)))") }
            try? fm.removeItem(atPath: old)
        } else {
            try? fm.createDirectory(atPath: (out as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            guard rename(staging, out) == 0 else { throw LensDataError(path: out, "cannot move the new output in place from \(staging): \(String(cString: strerror(errno)))") }
        }
    }
}
