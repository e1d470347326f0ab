import Cropping
import LensData

/// What `preprocess` changed in the data on the way to the shards, counted so nothing changes without
/// a word (issue 12, item 8): in the printed summary, in `lenspipe.json` (`changes`) and per input in
/// `changed.jsonl`.
public struct Changes: Codable, Sendable, Equatable {
    /// Images with NaN or infinite pixels, and those pixels (replaced by the background level).
    public var nonfiniteImages = 0
    public var nonfinitePixels = 0
    /// Images smaller than the crop window, padded with the background level.
    public var paddedImages = 0
    /// Items that stood where a target would and were not numbers (a string or None mass): dropped.
    public var droppedTargets = 0
    /// Pixels beyond float16's ±65504 clipped to it (`--clip-float16`), and their images.
    public var clippedImages = 0
    public var clippedPixels = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case nonfiniteImages = "nonfinite_images", nonfinitePixels = "nonfinite_pixels", paddedImages = "padded_images"
        case droppedTargets = "dropped_targets", clippedImages = "clipped_images", clippedPixels = "clipped_pixels"
    }

    public var isEmpty: Bool { self == Changes() }

    /// The changes made to one sample.
    static func of(_ sample: Sample, record: CropRecord, crop: LensImage, clipping: Bool) -> Changes {
        var c = Changes()
        if record.flags.contains(.nonfinitePixels) {
            c.nonfiniteImages = 1
            c.nonfinitePixels = sample.image.pixels.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
        }
        if record.flags.contains(.padded) { c.paddedImages = 1 }
        c.droppedTargets = sample.droppedTargets
        if clipping {
            c.clippedPixels = crop.pixels.reduce(0) { $0 + (abs($1) > LensShardLayout.float16Max && $1.isFinite ? 1 : 0) }
            c.clippedImages = c.clippedPixels > 0 ? 1 : 0
        }
        return c
    }

    public static func += (a: inout Changes, b: Changes) {
        a.nonfiniteImages += b.nonfiniteImages; a.nonfinitePixels += b.nonfinitePixels; a.paddedImages += b.paddedImages
        a.droppedTargets += b.droppedTargets; a.clippedImages += b.clippedImages; a.clippedPixels += b.clippedPixels
    }

    /// One line for people: "3 images with 12 NaN/Inf pixels (set to the background), ...".
    public func sentence(cropSize: Int) -> String? {
        var parts: [String] = []
        if nonfiniteImages > 0 { parts.append("\(nonfiniteImages) images with \(nonfinitePixels) NaN/Inf pixels (set to the background level)") }
        if paddedImages > 0 { parts.append("\(paddedImages) images smaller than \(cropSize) px padded with the background level") }
        if droppedTargets > 0 { parts.append("\(droppedTargets) targets dropped (not numbers: a string or None)") }
        if clippedImages > 0 { parts.append("\(clippedPixels) pixels in \(clippedImages) images clipped to float16's ±65504") }
        return parts.isEmpty ? nil : "changed: " + parts.joined(separator: "; ")
    }
}
