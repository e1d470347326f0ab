/// 8-connected component labelling of the pixels above a threshold.
enum ConnectedComponents {
    struct Labels {
        /// `[H, W]`: 0 for background, 1...count for components.
        var map: [Int32]
        var count: Int
    }

    /// Flood fill with an explicit stack (no recursion, bounded memory).
    static func label(_ values: [Float], width: Int, height: Int, above threshold: Float) -> Labels {
        var map = [Int32](repeating: 0, count: width * height)
        var count = 0
        var stack: [Int] = []
        stack.reserveCapacity(1024)
        values.withUnsafeBufferPointer { v in
            map.withUnsafeMutableBufferPointer { m in
                for start in 0..<(width * height) where m[start] == 0 && v[start] > threshold {
                    count += 1
                    m[start] = Int32(count)
                    stack.append(start)
                    while let i = stack.popLast() {
                        let x = i % width, y = i / width
                        for dy in -1...1 {
                            let ny = y + dy
                            guard ny >= 0 && ny < height else { continue }
                            for dx in -1...1 {
                                let nx = x + dx
                                guard nx >= 0 && nx < width else { continue }
                                let j = ny * width + nx
                                if m[j] == 0 && v[j] > threshold {
                                    m[j] = Int32(count)
                                    stack.append(j)
                                }
                            }
                        }
                    }
                }
            }
        }
        return Labels(map: map, count: count)
    }
}

/// Separable Gaussian blur, for noise suppression before thresholding. At the borders the kernel is
/// renormalised over the pixels inside the image (clamping would repeat edge pixels and raise the
/// noise there, which made noise blobs at the border look like detections).
///
/// Each pass is a sum of shifted rows (`out[x] += k[d] * in[x + d]`), loops the compiler vectorises.
public enum GaussianBlur {
    /// The normalised 1-D kernel, radius ceil(2.5 sigma).
    static func kernel(sigma: Float) -> [Float] {
        let radius = max(1, Int((2.5 * sigma).rounded(.up)))
        let k = (-radius...radius).map { d -> Float in Float(exp(-Double(d * d) / Double(2 * sigma * sigma))) }
        let total = k.reduce(0, +)
        return k.map { $0 / total }
    }

    /// `dst[i] += k * src[i]` for `i < count`: the vectorised inner loop of both passes.
    @inline(__always)
    static func addScaled(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ k: Float, count: Int) {
        for i in 0..<count { dst[i] += k * src[i] }
    }

    /// Blurs a `[H, W]` plane with a Gaussian of `sigma` pixels.
    public static func apply(_ input: [Float], width: Int, height: Int, sigma: Float) -> [Float] {
        let kernel = kernel(sigma: sigma)
        let radius = kernel.count / 2
        var tmp = [Float](repeating: 0, count: input.count)
        var out = [Float](repeating: 0, count: input.count)
        // Weight of the kernel inside the image, per position along an axis of length n.
        func coverage(_ n: Int) -> [Float] {
            (0..<n).map { x in (max(-radius, -x)...min(radius, n - 1 - x)).reduce(Float(0)) { $0 + kernel[$1 + radius] } }
        }
        let wx = coverage(width), wy = coverage(height)
        input.withUnsafeBufferPointer { src in
            tmp.withUnsafeMutableBufferPointer { t in
                wx.withUnsafeBufferPointer { wx in
                    for y in 0..<height {
                        let dst = t.baseAddress! + y * width
                        for d in -radius...radius {
                            let k = kernel[d + radius]
                            let lo = max(0, -d), hi = min(width, width - d)
                            guard lo < hi else { continue }
                            addScaled(dst + lo, src.baseAddress! + y * width + lo + d, k, count: hi - lo)
                        }
                        for x in 0..<width { dst[x] /= wx[x] }
                    }
                }
            }
        }
        tmp.withUnsafeBufferPointer { t in
            out.withUnsafeMutableBufferPointer { o in
                for y in 0..<height {
                    let dst = o.baseAddress! + y * width
                    for d in max(-radius, -y)...min(radius, height - 1 - y) {
                        addScaled(dst, t.baseAddress! + (y + d) * width, kernel[d + radius] / wy[y], count: width)
                    }
                }
            }
        }
        return out
    }
}

import Foundation
