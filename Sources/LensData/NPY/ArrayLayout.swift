/// How the axes of a stored array map onto an image `[C, H, W]` (and, for stacks, the sample axis N).
///
/// Rules, for the shapes lensing data sets ship in:
/// - single images: `(H, W)`; `(C, H, W)` when the first axis is at most 4 long; otherwise `(H, W, C)`
///   when the last axis is at most 4 long;
/// - stacks: `(N, H, W)`; `(N, C, H, W)` when axis 1 is at most 4 long and the last axis is longer;
///   `(N, H, W, C)` when the last axis is at most 4 long (an image is never 4 pixels wide).
public struct ArrayLayout: Sendable, Equatable {
    public var shape: [Int]
    public var fortranOrder: Bool
    /// Axis indices into `shape`; `channelAxis` and `sampleAxis` may be absent.
    public var sampleAxis: Int?
    public var channelAxis: Int?
    public var rowAxis: Int
    public var columnAxis: Int

    public var channels: Int { channelAxis.map { shape[$0] } ?? 1 }
    public var height: Int { shape[rowAxis] }
    public var width: Int { shape[columnAxis] }
    public var samples: Int { sampleAxis.map { shape[$0] } ?? 1 }
    public var pixelsPerImage: Int { channels * height * width }

    /// The largest axis that still counts as "channels".
    public static let maxChannels = 4

    /// Interprets the shape of a file that holds one image.
    public static func singleImage(shape: [Int], fortranOrder: Bool, path: String) throws -> ArrayLayout {
        switch shape.count {
        case 2:
            return try ArrayLayout(shape: shape, fortranOrder: fortranOrder, sampleAxis: nil, channelAxis: nil, rowAxis: 0, columnAxis: 1).checked(path)
        case 3:
            if shape[0] <= maxChannels {
                return try ArrayLayout(shape: shape, fortranOrder: fortranOrder, sampleAxis: nil, channelAxis: 0, rowAxis: 1, columnAxis: 2).checked(path)
            }
            if shape[2] <= maxChannels {
                return try ArrayLayout(shape: shape, fortranOrder: fortranOrder, sampleAxis: nil, channelAxis: 2, rowAxis: 0, columnAxis: 1).checked(path)
            }
            throw LensDataError(path: path, "shape \(shape) is not one image: expected (H,W), (C,H,W) or (H,W,C) with C <= \(maxChannels); a stack (N,H,W) is read as a stack source, not from a class folder")
        default:
            throw LensDataError(path: path, "shape \(shape) is not an image: expected (H,W), (C,H,W) or (H,W,C)")
        }
    }

    /// Interprets the shape of a stack of images, sample axis first.
    public static func stack(shape: [Int], fortranOrder: Bool, path: String) throws -> ArrayLayout {
        switch shape.count {
        case 2:  // one image stored plainly: a stack of one
            return try ArrayLayout(shape: shape, fortranOrder: fortranOrder, sampleAxis: nil, channelAxis: nil, rowAxis: 0, columnAxis: 1).checked(path)
        case 3:
            return try ArrayLayout(shape: shape, fortranOrder: fortranOrder, sampleAxis: 0, channelAxis: nil, rowAxis: 1, columnAxis: 2).checked(path)
        case 4:
            if shape[1] <= maxChannels && shape[3] > maxChannels {
                return try ArrayLayout(shape: shape, fortranOrder: fortranOrder, sampleAxis: 0, channelAxis: 1, rowAxis: 2, columnAxis: 3).checked(path)
            }
            if shape[3] <= maxChannels {
                return try ArrayLayout(shape: shape, fortranOrder: fortranOrder, sampleAxis: 0, channelAxis: 3, rowAxis: 1, columnAxis: 2).checked(path)
            }
            throw LensDataError(path: path, "stack shape \(shape): expected (N,C,H,W) or (N,H,W,C) with C <= \(maxChannels)")
        default:
            throw LensDataError(path: path, "shape \(shape) is not a stack of images: expected (N,H,W), (N,1,H,W) or (N,H,W,C)")
        }
    }

    /// The most pixels one image may have (2^28, 1 GiB as Float32): more is a corrupt or hostile header.
    public static let maxPixelsPerImage = 1 << 28

    private func checked(_ path: String) throws -> ArrayLayout {
        guard height > 0, width > 0, channels > 0 else {
            throw LensDataError(path: path, "shape \(shape) has an empty image axis")
        }
        // Every product the readers form (pixels per image, strides, the whole array) must fit.
        var total = 1
        for d in shape {
            let (p, overflow) = total.multipliedReportingOverflow(by: d)
            guard !overflow else { throw LensDataError(path: path, "shape \(shape) overflows: its element count exceeds 2^63") }
            total = p
        }
        let (plane, o1) = height.multipliedReportingOverflow(by: width)
        let (pixels, o2) = plane.multipliedReportingOverflow(by: channels)
        guard !o1, !o2, pixels <= Self.maxPixelsPerImage else {
            throw LensDataError(path: path, "images of \(channels)x\(height)x\(width) pixels exceed the limit of \(Self.maxPixelsPerImage) pixels per image")
        }
        return self
    }

    /// Element strides of each axis in storage order.
    var strides: [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        if fortranOrder {
            for k in shape.indices.dropFirst() { s[k] = s[k - 1] * shape[k - 1] }
        } else {
            for k in shape.indices.reversed().dropFirst() { s[k] = s[k + 1] * shape[k + 1] }
        }
        return s
    }

    /// True when sample `n`'s pixels sit contiguously in `[C, H, W]` order (C order, channels not last).
    /// Fortran-ordered arrays always take the strided path; they are rare and small.
    var isContiguousCHW: Bool {
        guard !fortranOrder else { return false }
        let order = [sampleAxis, channelAxis, rowAxis, columnAxis].compactMap { $0 }
        return order == order.sorted()
    }

    /// Decodes sample `n` from the raw element bytes of the whole array into `[C, H, W]` floats.
    /// - Precondition: `raw` holds at least `shape.product * dtype.itemSize` bytes (checked by callers).
    public func decode(sample n: Int, dtype: NPYDType, raw: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Float>) {
        precondition(out.count == pixelsPerImage)
        guard let base = raw.baseAddress else { return }
        let size = dtype.itemSize
        let swapped = dtype.needsSwap
        let st = strides
        let sampleOffset = sampleAxis.map { n * st[$0] } ?? 0
        if isContiguousCHW {
            Self.convertRun(dtype, base: base, firstElement: sampleOffset, swapped: swapped, out: out)
            return
        }
        let cs = channelAxis.map { st[$0] } ?? 0
        let strides3 = (cs, st[rowAxis], st[columnAxis])
        let dims = (channels, height, width)
        // One concrete, specialised loop per element type (a generic call through an existential
        // would cost a witness-table call per pixel).
        switch (dtype.kind, dtype.itemSize) {
        case (.bool, _): Self.gather(_NPYBool.self, base: base, size: size, swapped: swapped, origin: sampleOffset, strides: strides3, dims: dims, out: out)
        case (.int, 1): Self.gather(Int8.self, base: base, size: size, swapped: swapped, origin: sampleOffset, strides: strides3, dims: dims, out: out)
        case (.int, 2): Self.gather(Int16.self, base: base, size: size, swapped: swapped, origin: sampleOffset, strides: strides3, dims: dims, out: out)
        case (.int, 4): Self.gather(Int32.self, base: base, size: size, swapped: swapped, origin: sampleOffset, strides: strides3, dims: dims, out: out)
        case (.int, _): Self.gather(Int64.self, base: base, size: size, swapped: swapped, origin: sampleOffset, strides: strides3, dims: dims, out: out)
        case (.uint, 1): Self.gather(UInt8.self, base: base, size: size, swapped: swapped, origin: sampleOffset, strides: strides3, dims: dims, out: out)
        case (.uint, 2): Self.gather(UInt16.self, base: base, size: size, swapped: swapped, origin: sampleOffset, strides: strides3, dims: dims, out: out)
        case (.uint, 4): Self.gather(UInt32.self, base: base, size: size, swapped: swapped, origin: sampleOffset, strides: strides3, dims: dims, out: out)
        case (.uint, _): Self.gather(UInt64.self, base: base, size: size, swapped: swapped, origin: sampleOffset, strides: strides3, dims: dims, out: out)
        case (.float, 2): Self.gather(_NPYHalf.self, base: base, size: size, swapped: swapped, origin: sampleOffset, strides: strides3, dims: dims, out: out)
        case (.float, 4): Self.gather(Float.self, base: base, size: size, swapped: swapped, origin: sampleOffset, strides: strides3, dims: dims, out: out)
        default: Self.gather(Double.self, base: base, size: size, swapped: swapped, origin: sampleOffset, strides: strides3, dims: dims, out: out)
        }
    }

    /// Converts `out.count` consecutive elements starting at element `firstElement`.
    static func convertRun(_ dtype: NPYDType, base: UnsafeRawPointer, firstElement: Int, swapped: Bool,
                           out: UnsafeMutableBufferPointer<Float>) {
        let src = base + firstElement * dtype.itemSize
        switch (dtype.kind, dtype.itemSize) {
        case (.bool, _): run(_NPYBool.self, src, swapped, out)
        case (.int, 1): run(Int8.self, src, swapped, out)
        case (.int, 2): run(Int16.self, src, swapped, out)
        case (.int, 4): run(Int32.self, src, swapped, out)
        case (.int, _): run(Int64.self, src, swapped, out)
        case (.uint, 1): run(UInt8.self, src, swapped, out)
        case (.uint, 2): run(UInt16.self, src, swapped, out)
        case (.uint, 4): run(UInt32.self, src, swapped, out)
        case (.uint, _): run(UInt64.self, src, swapped, out)
        case (.float, 2): run(_NPYHalf.self, src, swapped, out)
        case (.float, 4): run(Float.self, src, swapped, out)
        default: run(Double.self, src, swapped, out)
        }
    }

    @inline(never)
    static func run<E: _NPYElement>(_: E.Type, _ src: UnsafeRawPointer, _ swapped: Bool, _ out: UnsafeMutableBufferPointer<Float>) {
        let size = E.storedSize
        if swapped {
            for i in 0..<out.count { out[i] = E.load(src, i * size, swapped: true) }
        } else {
            for i in 0..<out.count { out[i] = E.load(src, i * size, swapped: false) }
        }
    }

    @inline(never)
    static func gather<E: _NPYElement>(_: E.Type, base: UnsafeRawPointer, size: Int, swapped: Bool, origin: Int,
                                       strides: (Int, Int, Int), dims: (Int, Int, Int),
                                       out: UnsafeMutableBufferPointer<Float>) {
        var i = 0
        for c in 0..<dims.0 {
            for y in 0..<dims.1 {
                let row = origin + c * strides.0 + y * strides.1
                for x in 0..<dims.2 {
                    out[i] = E.load(base, (row + x * strides.2) * size, swapped: swapped)
                    i += 1
                }
            }
        }
    }
}
