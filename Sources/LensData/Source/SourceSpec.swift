/// How a user names a data set on the command line, and how lenspipe opens it.
///
/// - a folder: class folders `root/<class>/*.npy`, or a flat folder of `.npy` files; the same with
///   FITS files (`*.fits`, `.fit`, `.fts`, optionally `.gz`; see `FolderSource`);
/// - `stack.npy` (with `labels`/`targets` naming `.npy` files of length N);
/// - `image.fits`, `cube.fits[2]`, `cube.fits[SCI]`: one FITS image HDU, a 2-D image or a 3-D cube
///   of N images (with `labels`/`targets` naming `.npy` files of length N; see `FITSSource`);
/// - `archive.npz`: a stack under the key `x` (or `images`) with labels `y` (or `labels`) and
///   `targets`, or one image per key (`labels`/`targets` name keys in the archive; see `NPZSource`);
/// - `file.h5:/group/dataset` (with `labels`/`targets`/`names` naming datasets in the same file).
public struct SourceSpec: Sendable, Equatable {
    public var location: String
    public var labels: String?
    public var targets: String?
    public var names: String?
    public var classNames: [String]?

    public init(_ location: String, labels: String? = nil, targets: String? = nil, names: String? = nil, classNames: [String]? = nil) {
        self.location = location
        self.labels = labels
        self.targets = targets
        self.names = names
        self.classNames = classNames
    }

    /// Splits `file.h5:/dataset` into its file and dataset parts; nil for non-HDF5 locations.
    public var hdf5Parts: (file: String, dataset: String?)? {
        for ext in [".h5:", ".hdf5:", ".hdf:"] {
            if let r = location.range(of: ext, options: .backwards) {
                let file = String(location[..<r.upperBound].dropLast())
                var ds = String(location[r.upperBound...])
                if !ds.hasPrefix("/") { ds = "/" + ds }
                return (file, ds)
            }
        }
        for ext in [".h5", ".hdf5", ".hdf"] where location.hasSuffix(ext) { return (location, nil) }
        return nil
    }

    /// Opens the source.
    /// - Throws: `LensDataError` naming the path and what was expected there.
    public func open() throws -> any SampleSource {
        if let (file, dataset) = hdf5Parts {
            guard let dataset else {
                let f = try HDF5File(path: file)
                let stacks = f.datasetPaths().filter { $0.shape.count == 3 || $0.shape.count == 4 }
                let list = stacks.map { "\(file):\($0.path) \($0.shape)" }.joined(separator: ", ")
                throw LensDataError(path: file, "name the image dataset as FILE.h5:/group/dataset (candidates: \(list.isEmpty ? "none of rank 3 or 4" : list))")
            }
            return try HDF5Source(path: file, dataset: dataset, labels: labels, targets: targets, names: names, classNames: classNames)
        }
        if FolderSource.isDirectory(location) {
            if labels != nil || targets != nil {
                throw LensDataError(path: location, "--labels and --targets apply to stacks, FITS cubes, .npz and HDF5; folder labels come from class folder names")
            }
            return try FolderSource(root: location)
        }
        if let (file, hdu) = FITSLocation.parse(location) {
            return try FITSSource(path: file, hdu: hdu, labelsPath: labels, targetsPath: targets, classNames: classNames)
        }
        if location.hasSuffix(".npz") {
            return try NPZSource(path: location, labels: labels, targets: targets, classNames: classNames)
        }
        if location.hasSuffix(".npy") {
            return try NPYStackSource(path: location, labelsPath: labels, targetsPath: targets, classNames: classNames)
        }
        throw LensDataError(path: location, "not a folder, an .npy stack, a FITS file, an .npz archive or an HDF5 file (expected DIR, FILE.npy, FILE.fits[ext], FILE.npz or FILE.h5:/dataset)")
    }
}
