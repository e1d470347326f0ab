import CPNG
import LensData

/// An 8-bit RGB raster, written to PNG through libpng's simplified API.
public struct RGBImage: Sendable {
    public var width: Int
    public var height: Int
    /// `[H, W, 3]` bytes.
    public var bytes: [UInt8]

    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        self.width = width
        self.height = height
        bytes = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { bytes[3 * i] = fill.0; bytes[3 * i + 1] = fill.1; bytes[3 * i + 2] = fill.2 }
    }

    /// `v` clamped to [0, 1], NaN to 0: what every display mapping goes through, so no pixel value
    /// (NaN, ±inf, 3e38) can trap a conversion to a byte or an index.
    public static func unit(_ v: Float) -> Float { v > 0 ? Swift.min(v, 1) : 0 }

    /// A value in [0, 1] as a byte (`unit` first).
    public static func byte(_ v: Float) -> UInt8 { UInt8(255 * unit(v)) }

    public mutating func set(x: Int, y: Int, _ rgb: (UInt8, UInt8, UInt8)) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = 3 * (y * width + x)
        bytes[i] = rgb.0; bytes[i + 1] = rgb.1; bytes[i + 2] = rgb.2
    }

    /// Writes the raster as a PNG file, atomically.
    public func writePNG(path: String) throws {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = UInt32(PNG_FORMAT_RGB)
        var size = 0
        // First call sizes the buffer, the second fills it.
        guard png_image_write_to_memory(&image, nil, &size, 0, bytes, 0, nil) != 0, size > 0 else {
            throw LensDataError(path: path, "PNG encoding failed: \(Self.message(&image))")
        }
        var out = [UInt8](repeating: 0, count: size)
        let ok = out.withUnsafeMutableBytes { png_image_write_to_memory(&image, $0.baseAddress, &size, 0, bytes, 0, nil) }
        guard ok != 0 else { throw LensDataError(path: path, "PNG encoding failed: \(Self.message(&image))") }
        try AtomicFile.write(path: path, parts: [Array(out[0..<size])])
    }

    /// Decodes a PNG file (used by tests to check what was written).
    public static func readPNG(path: String) throws -> RGBImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_file(&image, path) != 0 else {
            throw LensDataError(path: path, "not a readable PNG: \(message(&image))")
        }
        image.format = UInt32(PNG_FORMAT_RGB)
        var out = RGBImage(width: Int(image.width), height: Int(image.height))
        let ok = out.bytes.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        guard ok != 0 else { throw LensDataError(path: path, "PNG decoding failed: \(message(&image))") }
        return out
    }

    private static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
