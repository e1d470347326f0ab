/// An HDF5 dataset of rank 3 or 4 (N first), addressed as `file.h5:/group/dataset`, with optional
/// companion datasets for labels, targets and names (`--labels /train/labels --targets /train/mass`).
///
/// Images are read one hyperslab at a time, so memory stays bounded whatever the file size; gzip and
/// chunked datasets are decoded by libhdf5.
public struct HDF5Source: SampleSource {
    public let file: HDF5File
    public let images: HDF5Dataset
    public let layout: ArrayLayout
    public let labels: [Int]?
    public let targets: [Double]?
    public let names: [String]?
    public let classes: [String]
    public var count: Int { layout.samples }
    public var summary: String { "HDF5 dataset \(file.path):\(images.name) of \(count) images \(images.shape)" }

    public init(path: String, dataset: String, labels: String? = nil, targets: String? = nil, names: String? = nil,
                classNames: [String]? = nil) throws {
        try HDF5CrashGuard.probe?(.init(file: path, dataset: dataset, labels: labels, targets: targets, names: names))
        let file = try HDF5File(path: path)
        let images = try file.dataset(dataset)
        self.file = file
        self.images = images
        guard images.kind == .number else {
            throw LensDataError(path: "\(path):\(dataset)", "holds \(images.dtypeName) data, expected numbers")
        }
        guard images.shape.count == 3 || images.shape.count == 4 else {
            throw LensDataError(path: "\(path):\(dataset)", "has shape \(images.shape); expected a stack of rank 3 or 4, N first")
        }
        let layout = try ArrayLayout.stack(shape: images.shape, fortranOrder: false, path: "\(path):\(dataset)")
        self.layout = layout
        let n = layout.samples
        func companion(_ name: String) throws -> HDF5Dataset {
            let d = try file.dataset(name)
            guard d.shape.first == n, d.shape.count == 1 || (d.shape.count == 2 && d.shape[1] == 1) else {
                throw LensDataError(path: "\(path):\(name)", "has shape \(d.shape); expected (\(n),) to match \(dataset)")
            }
            return d
        }
        var labelValues: [Int]? = nil
        if let labels {
            labelValues = try StackCompanions.classIndices(companion(labels).readDoubles(), path: "\(path):\(labels)")
        }
        let targetValues = try targets.map { try companion($0).readDoubles() }
        let nameValues = try names.map { try companion($0).readFixedStrings() }
        self.labels = labelValues
        self.targets = targetValues
        self.names = nameValues
        classes = try ClassNames.resolve(classNames, labels: labelValues, path: "\(path):\(labels ?? dataset)")
    }

    public func id(at index: Int) -> String {
        if let names, !names[index].isEmpty { return names[index] }
        let file = String(self.file.path.split(separator: "/").last ?? "")
        return "\(file):\(images.name)[\(index)]"
    }

    /// The image dataset's elements at their stored size (decoded size for a compressed dataset).
    public var storedBytes: Int? { count * layout.channels * layout.height * layout.width * images.typeSize }

    public func label(at index: Int) -> Int? { labels.flatMap { $0[index] >= 0 ? $0[index] : nil } }

    public func sample(at index: Int) throws -> Sample {
        let values = try images.readFloats(start: index, count: 1)
        var image = LensImage(channels: layout.channels, height: layout.height, width: layout.width)
        if layout.channelAxis == 3 {  // (N, H, W, C) -> [C, H, W]
            let (h, w, c) = (layout.height, layout.width, layout.channels)
            for y in 0..<h { for x in 0..<w { for k in 0..<c { image.pixels[(k * h + y) * w + x] = values[(y * w + x) * c + k] } } }
        } else {
            image.pixels = values
        }
        let label = labels.flatMap { $0[index] >= 0 ? $0[index] : nil }
        let target = targets.flatMap { $0[index].isNaN ? nil : $0[index] }
        return Sample(id: id(at: index), image: image, label: label, target: target,
                      stored: StoredArrayInfo(dtype: images.dtypeName, shape: Array(images.shape.dropFirst())))
    }
}
