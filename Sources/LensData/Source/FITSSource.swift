/// One FITS image HDU as a source: a 2-D image (one sample) or a 3-D cube `NAXIS1 x NAXIS2 x NAXIS3`
/// (`NAXIS3` = N images of `NAXIS2` rows by `NAXIS1` columns), addressed as `file.fits`,
/// `file.fits[2]` or `file.fits[SCI]`; with optional labels and targets `.npy` arrays of length N,
/// as for an `.npy` stack.
///
/// Ids are `file.fits[ext][i]`, `ext` as given, or the number of the HDU that was chosen. Every plane
/// of a cube is one image: a multi-band stamp stored as a cube is read as separate images (in a
/// folder of FITS files, a file of up to 4 planes is one image with channels instead).
public struct FITSSource: SampleSource {
    public let file: FITSFile
    public let hdu: FITSHDUInfo
    /// `(N, H, W)`, or `(H, W)` for a single image.
    public let layout: ArrayLayout
    public let labels: [Int]?
    public let targets: [Double]?
    public let classes: [String]
    /// `file.fits[ext]`, the ids' prefix.
    private let name: String

    public var count: Int { layout.samples }
    public var summary: String { "FITS \(file.path) \(hdu) as \(count) images \(layout.height)x\(layout.width)" }

    /// - Parameters:
    ///   - hdu: the HDU to read; nil for the first that holds a 2-D or 3-D image.
    ///   - labelsPath: optional `.npy` of integer class indices, shape `(N,)` or `(N, 1)`.
    ///   - targetsPath: optional `.npy` of regression targets, shape `(N,)` or `(N, 1)`.
    ///   - classNames: names for label indices; defaults, as for an `.npy` stack, to the lines of
    ///     `classes.txt` beside the labels file when there is one, else `"0"`, `"1"`, ...
    public init(path: String, hdu selector: FITSHDUSelector? = nil, labelsPath: String? = nil, targetsPath: String? = nil,
                classNames: [String]? = nil) throws {
        file = try FITSFile(path: path)
        hdu = try file.imageHDU(selector)
        let ext = selector?.description ?? "\(hdu.number)"
        layout = try ArrayLayout.stack(shape: hdu.imageShape!, fortranOrder: false, path: path)
        name = "\(path.split(separator: "/").last ?? Substring(path))[\(ext)]"
        (labels, targets) = try StackCompanions.npyFiles(labels: labelsPath, targets: targetsPath, count: layout.samples, images: "\(path)[\(ext)]")
        if classNames == nil, let labelsPath, let file = try ClassNames.file(besideLabels: labelsPath) {
            classes = try ClassNames.resolve(file.names, labels: labels, path: file.path)
        } else {
            classes = try ClassNames.resolve(classNames, labels: labels, path: labelsPath ?? path)
        }
    }

    public func id(at index: Int) -> String { "\(name)[\(index)]" }

    public func label(at index: Int) -> Int? { StackCompanions.label(labels, index) }

    public func sample(at index: Int) throws -> Sample {
        precondition(index >= 0 && index < count, "FITS image index \(index) out of range 0..<\(count)")
        var image = LensImage(channels: 1, height: layout.height, width: layout.width)
        let plane = layout.height * layout.width
        try image.pixels.withUnsafeMutableBufferPointer { try file.read(hdu, first: index * plane, into: $0) }
        return Sample(id: id(at: index), image: image, label: label(at: index), target: StackCompanions.target(targets, index),
                      stored: StoredArrayInfo(dtype: hdu.dtypeName, shape: [layout.height, layout.width]))
    }
}
