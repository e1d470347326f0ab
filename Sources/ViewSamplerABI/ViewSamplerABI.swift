import Cropping
import Foundation
import LensData
import PairSampler
import ShardWriter
import Training

// The C ABI over lenspipe's view sampler (libLensPipeViews.so, for python/lenspipe and any other host):
// an opaque handle, plain C types, errors as messages written into the caller's buffer, and a return
// code (0 success, 1 bad input). A sampler is immutable once opened, so one handle serves any number
// of threads at once (DataLoader workers). python/lenspipe/_native.py declares the same signatures.

/// What a handle points at.
final class ViewSamplerHandle: Sendable {
    let sampler: PairSampler
    init(sampler: PairSampler) { self.sampler = sampler }
}

/// Copies `message` into `buffer` (NUL-terminated, cut to `capacity` bytes).
private func write(_ message: String, to buffer: UnsafeMutablePointer<CChar>?, capacity: Int) {
    guard let buffer, capacity > 0 else { return }
    let bytes = Array(message.utf8.prefix(capacity - 1))
    for (i, b) in bytes.enumerated() { buffer[i] = CChar(bitPattern: b) }
    buffer[bytes.count] = 0
}

/// Runs `body` and reports as every function here does: 0, or 1 with the error's message in `buffer`.
func reporting(_ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int, _ body: () throws -> Void) -> Int32 {
    do {
        try body()
        return 0
    } catch let failure {
        write("\(failure)", to: buffer, capacity: capacity)
        return 1
    }
}

struct ABIError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Opens a sampler. `recipe`: the text of a training recipe (`lenspipe train --print-recipe`'s form;
/// unlisted fields keep their defaults; NULL or "": the defaults), whose `views` are used; `seed`: the
/// views' seed (`preview --seed`; `train` uses its recipe's `seed`); `metadata`: the path of the shards'
/// `lenspipe.json` (NULL or "": images that carry no normalisation), whose normalisation the
/// foreground detection and the flux weights undo, as `train` and `preview` do on shards. Returns NULL
/// with a message in `error` on bad input.
@_cdecl("lenspipe_views_open")
public func lenspipe_views_open(_ recipe: UnsafePointer<CChar>?, _ seed: UInt64, _ metadata: UnsafePointer<CChar>?,
                                _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int) -> UnsafeMutableRawPointer? {
    var handle: UnsafeMutableRawPointer?
    _ = reporting(error, errorCapacity) {
        let text = recipe.map { String(cString: $0) } ?? ""
        let views = text.isEmpty ? TrainRecipe().views : try TrainRecipe.decode(Data(text.utf8)).views
        try views.validate()
        var stretch = Normalization.none
        if let path = metadata.map({ String(cString: $0) }), !path.isEmpty {
            let meta = try DatasetMetadata.read(from: path)
            guard let n = meta.normalizationSetting else { throw LensDataError(path: path, "unknown normalization '\(meta.normalization)'") }
            stretch = n
        }
        handle = Unmanaged.passRetained(ViewSamplerHandle(sampler: PairSampler(recipe: views, seed: seed, stretch: stretch))).toOpaque()
    }
    return handle
}

/// Releases a handle from `lenspipe_views_open` (NULL is ignored).
@_cdecl("lenspipe_views_close")
public func lenspipe_views_close(_ handle: UnsafeMutableRawPointer?) {
    guard let handle else { return }
    Unmanaged<ViewSamplerHandle>.fromOpaque(handle).release()
}

/// The view shapes: `out[0..<4]` = global views per image, global side, local views per image, local side.
@_cdecl("lenspipe_views_shape")
public func lenspipe_views_shape(_ handle: UnsafeMutableRawPointer?, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    guard let handle, let out else { return 1 }
    let r = Unmanaged<ViewSamplerHandle>.fromOpaque(handle).takeUnretainedValue().sampler.recipe
    out[0] = Int64(r.global.count)
    out[1] = Int64(r.global.map(\.size).max() ?? 0)
    out[2] = Int64(r.local.count)
    out[3] = Int64(r.local.size)
    return 0
}

/// Makes every view of `count` images `[count, channels, height, width]` (float32, C order), image `k`
/// drawn with the random streams of sample `sampleIDs[k]` at `epoch` (the same views as `lenspipe
/// preview --save-views` for that sample index, seed and epoch). `foreground`: the shards' stored masks
/// `[count, height, width]` (uint8, nonzero = lens) or NULL to detect them. Writes `global` `[count, G,
/// channels, S, S]` and `local` `[count, L, channels, s, s]` (sizes from `lenspipe_views_shape`), and
/// when `boxes` is not NULL a JSON text of every view's crop (as `preview`'s boxes.json, ids the sample
/// ids) that the caller frees with `lenspipe_views_free_string`. Runs on `threads` threads.
@_cdecl("lenspipe_views_make")
public func lenspipe_views_make(_ handle: UnsafeMutableRawPointer?, _ images: UnsafePointer<Float>?, _ count: Int64, _ channels: Int64,
                                _ height: Int64, _ width: Int64, _ foreground: UnsafePointer<UInt8>?, _ sampleIDs: UnsafePointer<Int64>?,
                                _ epoch: Int64, _ threads: Int64, _ global: UnsafeMutablePointer<Float>?, _ local: UnsafeMutablePointer<Float>?,
                                _ boxes: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int) -> Int32 {
    reporting(error, errorCapacity) {
        guard let handle else { throw ABIError("no sampler (the handle is NULL)") }
        let sampler = Unmanaged<ViewSamplerHandle>.fromOpaque(handle).takeUnretainedValue().sampler
        guard count >= 0, count <= 1 << 20 else { throw ABIError("count \(count) is outside 0...\(1 << 20)") }
        guard (1...16).contains(channels) else { throw ABIError("channels \(channels) is outside 1...16") }
        guard (1...8192).contains(height), (1...8192).contains(width) else { throw ABIError("image side \(height) x \(width) is outside 1...8192") }
        guard epoch >= 0, (1...1024).contains(threads) else { throw ABIError("epoch \(epoch) must be >= 0 and threads \(threads) 1...1024") }
        let (N, C, H, W) = (Int(count), Int(channels), Int(height), Int(width))
        guard N * C * H * W <= 1 << 32 else { throw ABIError("\(N) images of \(C) x \(H) x \(W) are more than 2^32 values: pass fewer at a time") }
        if N == 0 { return }
        guard let images, let sampleIDs, let global, let local else { throw ABIError("images, sample ids and the two outputs must not be NULL") }
        let plane = H * W
        var list: [LensImage] = [], masks: [ForegroundMap] = [], ids: [Int] = []
        for k in 0..<N {
            guard sampleIDs[k] >= 0 else { throw ABIError("sample id \(sampleIDs[k]) (image \(k)) is negative") }
            let image = LensImage(channels: C, height: H, width: W, pixels: Array(UnsafeBufferPointer(start: images + k * C * plane, count: C * plane)))
            if let bad = image.pixels.firstIndex(where: { !$0.isFinite }) {
                throw ABIError("image \(k) (sample \(sampleIDs[k])): value \(bad) is \(image.pixels[bad])")
            }
            list.append(image)
            ids.append(Int(sampleIDs[k]))
            if let foreground {
                masks.append(sampler.foregroundMap(image, mask: (0..<plane).map { foreground[k * plane + $0] != 0 }))
            }
        }
        let batch = sampler.makeBatch(images: list, samples: ids, epoch: Int(epoch), threads: Int(threads), maps: foreground == nil ? nil : masks)
        batch.global.withUnsafeBufferPointer { global.update(from: $0.baseAddress!, count: $0.count) }
        batch.local.withUnsafeBufferPointer { local.update(from: $0.baseAddress!, count: $0.count) }
        if let boxes {
            let text = String(decoding: try ViewExport.boxesJSON(batch, ids: ids.map(String.init)), as: UTF8.self)
            boxes.pointee = strdup(text)
        }
    }
}

/// Frees a string this library returned (`lenspipe_views_make`'s boxes).
@_cdecl("lenspipe_views_free_string")
public func lenspipe_views_free_string(_ text: UnsafeMutablePointer<CChar>?) {
    free(text)
}
