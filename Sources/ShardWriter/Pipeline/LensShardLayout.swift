import Cropping
import LensData

/// lenspipe's columns in an MDS data set, and the conversion of samples to and from them.
///
/// | column | encoding | value |
/// |---|---|---|
/// | `crop` | `ndarray:int32:4` | crop box `[x0, y0, x1, y1)` in source pixels |
/// | `foreground` | `ndarray:uint8:H,W` | 1 on the lens, 0 on sky: found on the raw image before normalisation |
/// | `id` | `str` | path relative to the source root, or `file.h5:/dataset[i]` |
/// | `image` | `ndarray:<dtype>:C,H,W` | the (cropped, normalised) image |
/// | `label` | `int` | class index, -1 when unknown |
/// | `target` | `float64` | regression target, NaN when absent |
public struct LensShardLayout: Sendable, Equatable {
    public enum StorageType: String, Sendable, CaseIterable {
        case float32, float16, uint16

        var mds: MDSDType {
            switch self {
            case .float32: return .float32
            case .float16: return .float16
            case .uint16: return .uint16
            }
        }
    }

    public var channels: Int
    public var height: Int
    public var width: Int
    public var storage: StorageType
    /// For float16 storage: clip values beyond ±65504 (float16's largest finite value) instead of
    /// refusing the image. Without it, such a pixel is an error: it would silently become ±inf.
    public var clipFloat16 = false

    public init(channels: Int, height: Int, width: Int, storage: StorageType, clipFloat16: Bool = false) {
        self.channels = channels
        self.height = height
        self.width = width
        self.storage = storage
        self.clipFloat16 = clipFloat16
    }

    /// float16's largest finite value.
    public static let float16Max: Float = 65504

    public var columns: MDSColumns {
        MDSColumns([
            "crop": .staticArray(.int32, [4]), "foreground": .staticArray(.uint8, [height, width]), "id": .str,
            "image": .staticArray(storage.mds, [channels, height, width]), "label": .int, "target": .scalar(.float64),
        ])
    }

    /// Bytes of one stored image.
    public var imageBytes: Int { channels * height * width * storage.mds.size }

    /// Encodes one sample as an MDS record.
    /// - Throws: when the image does not have the layout's shape, or cannot be stored as `uint16`.
    /// - Parameter foreground: `[H, W]` lens mask of the stored image.
    public func record(id: String, image: LensImage, label: Int?, target: Double?, crop: PixelBox, foreground: [Bool]) throws -> [UInt8] {
        guard image.shape == [channels, height, width] else {
            throw LensDataError(path: id, "image is \(image.shape) but the data set stores \([channels, height, width]) (use --crop fixed to give every image one size)")
        }
        var raw = [UInt8](repeating: 0, count: imageBytes)
        try raw.withUnsafeMutableBytes { dst in
            try image.pixels.withUnsafeBufferPointer { px in
                switch storage {
                case .float32:
                    for (i, v) in px.enumerated() { dst.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
                case .float16:
                    let limit = Self.float16Max
                    for (i, v) in px.enumerated() {
                        var x = v
                        if abs(x) > limit, x.isFinite {
                            guard clipFloat16 else {
                                throw LensDataError(path: id, "pixel \(v) is beyond float16's largest finite value \(Int(limit)) and would be stored as \(v > 0 ? "+" : "-")inf (use --dtype float32, a normalisation, or --clip-float16)")
                            }
                            x = x > 0 ? limit : -limit
                        }
                        dst.storeBytes(of: Float16(x).bitPattern.littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                    }
                case .uint16:
                    for (i, v) in px.enumerated() {
                        guard v >= 0, v <= 65535, v == v.rounded() else {
                            throw LensDataError(path: id, "pixel \(v) cannot be stored as uint16 (only integer counts in 0...65535 can; use --dtype float32 or float16)")
                        }
                        dst.storeBytes(of: UInt16(v).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                    }
                }
            }
        }
        guard foreground.count == height * width else {
            throw LensDataError(path: id, "foreground mask has \(foreground.count) pixels, the image \(height * width)")
        }
        var box = [UInt8]()
        for v in crop.array { withUnsafeBytes(of: Int32(clamping: v).littleEndian) { box += $0 } }
        return try columns.record([
            "crop": .array(.int32, [4], box), "foreground": .array(.uint8, [height, width], foreground.map { $0 ? 1 : 0 }), "id": .string(id), "image": .array(storage.mds, [channels, height, width], raw),
            "label": .int(Int64(label ?? -1)), "target": .number(target ?? .nan),
        ])
    }

    /// Converts a decoded `image` value (any numeric dtype; `[C,H,W]`, `[H,W]` or `[1,H,W]`) to a `LensImage`.
    public static func image(from value: MDSValue?) throws -> LensImage {
        guard case .array(let dt, let dims, let raw)? = value else { throw MDSError("no ndarray 'image' column") }
        let layout = try ArrayLayout.singleImage(shape: dims, fortranOrder: false, path: "image")
        var image = LensImage(channels: layout.channels, height: layout.height, width: layout.width)
        raw.withUnsafeBytes { r in image.pixels.withUnsafeMutableBufferPointer { layout.decode(sample: 0, dtype: dt.npy, raw: r, into: $0) } }
        return image
    }
}

/// One lenspipe sample read back from shards.
public struct ShardSample: Sendable {
    public var id: String
    public var image: LensImage
    public var label: Int?
    public var target: Double?
    public var crop: PixelBox?
    /// `[H, W]` lens mask (the `foreground` column); nil for shards written without it.
    public var foreground: [Bool]?

    /// The largest class index a label may hold (every class count is sized from the labels).
    public static let maxLabel = 9_999

    /// Decodes lenspipe's columns (`id`, `label`, `target`, `crop`, `foreground` are optional, for other
    /// writers' data). This is where every command reads a sample, so it refuses what no command can
    /// use: a non-finite pixel, a label above `maxLabel`.
    public init(_ values: [String: MDSValue], index: Int) throws {
        image = try LensShardLayout.image(from: values["image"])
        if case .string(let s)? = values["id"] { id = s } else { id = "#\(index)" }
        if let bad = image.pixels.firstIndex(where: { !$0.isFinite }) {
            let (H, W) = (image.height, image.width), v = image.pixels[bad]
            throw MDSError("sample \(id): pixel (channel \(bad / (H * W)), y \(bad / W % H), x \(bad % W)) is \(v.isNaN ? "NaN" : "infinite"); lenspipe refuses non-finite pixels (replace or mask them in the source data, then preprocess again)")
        }
        if case .int(let l)? = values["label"], l >= 0 {
            guard l <= Self.maxLabel else { throw MDSError("sample \(id): label \(l) is above \(Self.maxLabel), the largest class index lenspipe accepts") }
            label = Int(l)
        } else {
            label = nil
        }
        if case .number(let t)? = values["target"], !t.isNaN { target = t } else { target = nil }
        if case .array(.int32, [4], let raw)? = values["crop"] {
            let v = raw.withUnsafeBytes { r in (0..<4).map { Int(r.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self).littleEndian) } }
            crop = PixelBox(x0: v[0], y0: v[1], x1: v[2], y1: v[3])
        } else {
            crop = nil
        }
        if case .array(_, let dims, let raw)? = values["foreground"], dims.reduce(1, *) == image.height * image.width,
           raw.count == image.height * image.width {
            foreground = raw.map { $0 != 0 }
        } else {
            foreground = nil
        }
    }
}
