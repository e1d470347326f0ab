/// Labels and regression targets that go beside a stack of N images: `.npy` files of length N
/// (`--labels labels.npy`), or arrays in the same `.npz` archive or HDF5 file.
enum StackCompanions {
    /// Class indices out of stored numbers: integers from -1 (unknown) up; anything else is refused.
    static func classIndices(_ values: [Double], path: String) throws -> [Int] {
        try values.map { v in
            guard v.isFinite, v >= -1, v == v.rounded(), v < 1e6 else { throw LensDataError(path: path, "label \(v) is not a class index") }
            return Int(v)
        }
    }

    /// Reads the optional labels and targets `.npy` files, each of shape `(n,)` or `(n, 1)`.
    /// - Parameter images: the stack they belong to, for messages.
    static func npyFiles(labels labelsPath: String?, targets targetsPath: String?, count n: Int,
                         images: String) throws -> (labels: [Int]?, targets: [Double]?) {
        var labels: [Int]? = nil, targets: [Double]? = nil
        if let labelsPath {
            let values = try NPYFile.readNumbers(path: labelsPath)
            guard values.count == n else { throw LensDataError(path: labelsPath, "has \(values.count) labels for \(n) images in \(images)") }
            labels = try classIndices(values, path: labelsPath)
        }
        if let targetsPath {
            let values = try NPYFile.readNumbers(path: targetsPath)
            guard values.count == n else { throw LensDataError(path: targetsPath, "has \(values.count) targets for \(n) images in \(images)") }
            targets = values
        }
        return (labels, targets)
    }

    /// Label `index` as a sample carries it: nil when absent or -1.
    static func label(_ labels: [Int]?, _ index: Int) -> Int? { labels.flatMap { $0[index] >= 0 ? $0[index] : nil } }

    /// Target `index` as a sample carries it: nil when absent or NaN.
    static func target(_ targets: [Double]?, _ index: Int) -> Double? { targets.flatMap { $0[index].isNaN ? nil : $0[index] } }
}
