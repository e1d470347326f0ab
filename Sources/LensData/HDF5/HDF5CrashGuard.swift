import Synchronization

/// Containment for corrupt HDF5 files that crash libhdf5 itself.
///
/// Debian's libhdf5 1.10.8 trusts fields that newer releases check (the coordinates in a chunk
/// B-tree key, for one) and segfaults in `H5Dread` on such a file; no check before the read can see
/// those fields through the API. A program that installs a probe here has every `HDF5Source` read
/// once in another process first; when that process crashes, the probe throws and the source is
/// refused with that error instead of being read here. The `lenspipe` binary installs one
/// (`lenspipe hdf5-probe`); library users without one read in-process, as before.
public enum HDF5CrashGuard {
    /// What to probe: the file, the image dataset and its companions, as `HDF5Source` opens them.
    public struct Target: Sendable, Equatable {
        public var file: String
        public var dataset: String
        public var labels: String?
        public var targets: String?
        public var names: String?
    }

    /// Reads `Target` elsewhere; throws when that crashed.
    public typealias Probe = @Sendable (Target) throws -> Void

    private static let installed = Mutex<Probe?>(nil)

    /// Installs (or, with nil, removes) the probe for every later `HDF5Source`.
    public static func install(_ probe: Probe?) { installed.withLock { $0 = probe } }

    static var probe: Probe? { installed.withLock { $0 } }
}
