import LensData

/// Finds each image's lens, cuts a window that keeps it, and normalises the result.
///
///     let cropper = Cropper(config: CropConfig(policy: .fixed, size: 64, normalization: .asinh(softening: 1)))
///     let (crop, record) = cropper.crop(image)   // crop: [C, 64, 64]; record.box in source pixels
///
/// Pure and thread-safe: crop many images concurrently with one cropper.
public struct Cropper: Sendable {
    public var config: CropConfig

    public init(config: CropConfig) { self.config = config }

    /// Crops `image` (`[C, H, W]`) and returns the crop (`[C, size, size]`, or the whole image for
    /// `none`) and what was done.
    public func crop(_ image: LensImage) -> (LensImage, CropRecord) {
        let c = cropWithForeground(image)
        return (c.image, c.record)
    }

    /// A crop, its record, and the foreground mask of the crop (`[size, size]`, true on the lens),
    /// found on the raw image before normalisation. `preprocess` stores the mask with each sample, so
    /// views of normalised shards know where the lens is without detecting it again.
    public struct Cropped: Sendable {
        public var image: LensImage
        public var record: CropRecord
        public var foreground: [Bool]
    }

    /// Like `crop(_:)`, with the crop's foreground mask.
    public func cropWithForeground(_ image: LensImage) -> Cropped {
        let (w, h) = (image.width, image.height)
        let plane = image.channelSum()
        let fg = ForegroundDetector(config: config).detect(plane: plane, width: w, height: h)
        var flags: CropRecord.Flags = []
        if fg.isEmpty { flags.insert(.emptyForeground) }
        if fg.background.nonfinite > 0 { flags.insert(.nonfinitePixels) }
        let channelBackground = fg.background.level / Float(image.channels)

        // Window in source pixels.
        var x0 = 0, y0 = 0, side = max(w, h), outSize = config.size
        switch config.policy {
        case .none:
            outSize = -1
        case .fixed, .center:
            let cx = config.policy == .fixed ? fg.centroidX : Float(w - 1) / 2
            let cy = config.policy == .fixed ? fg.centroidY : Float(h - 1) / 2
            let px = CropWindow.place(center: cx, size: config.size, extent: w)
            let py = CropWindow.place(center: cy, size: config.size, extent: h)
            (x0, y0, side) = (px.start, py.start, config.size)
            if config.policy == .fixed && (px.shifted || py.shifted) { flags.insert(.clippedAtBorder) }
            if px.padded || py.padded { flags.insert(.padded) }
        case .bbox:
            let box = fg.box ?? PixelBox(x0: 0, y0: 0, x1: w, y1: h)
            let sq = CropWindow.square(around: box, margin: config.margin)
            side = sq.side
            let px = CropWindow.place(center: sq.cx, size: side, extent: w)
            let py = CropWindow.place(center: sq.cy, size: side, extent: h)
            (x0, y0) = (px.start, py.start)
            if px.shifted || py.shifted { flags.insert(.clippedAtBorder) }
            if px.padded || py.padded { flags.insert(.padded) }
        }

        var out: LensImage
        let box: PixelBox
        var mask: [Bool]
        if outSize < 0 {
            out = image
            box = PixelBox(x0: 0, y0: 0, x1: w, y1: h)
            mask = fg.mask
        } else {
            // Nearest source pixel of each output pixel (the window is copied 1:1 unless bbox zooms);
            // pixels outside the image (padding) are sky.
            mask = [Bool](repeating: false, count: outSize * outSize)
            let scale = Double(side) / Double(outSize)
            for oy in 0..<outSize {
                let sy = y0 + Int((Double(oy) + 0.5) * scale)
                guard sy >= 0 && sy < h else { continue }
                for ox in 0..<outSize {
                    let sx = x0 + Int((Double(ox) + 0.5) * scale)
                    if sx >= 0 && sx < w && fg.mask[sy * w + sx] { mask[oy * outSize + ox] = true }
                }
            }
            out = LensImage(channels: image.channels, height: outSize, width: outSize)
            let sideNow = side
            image.pixels.withUnsafeBufferPointer { src in
                out.pixels.withUnsafeMutableBufferPointer { dst in
                    for c in 0..<image.channels {
                        let plane = UnsafeBufferPointer(rebasing: src[(c * w * h)..<((c + 1) * w * h)])
                        let target = UnsafeMutableBufferPointer(rebasing: dst[(c * outSize * outSize)..<((c + 1) * outSize * outSize)])
                        Resample.window(plane, width: w, height: h, x0: x0, y0: y0, side: sideNow, size: outSize,
                                        fill: channelBackground, into: target)
                    }
                }
            }
            box = PixelBox(x0: x0, y0: y0, x1: x0 + side, y1: y0 + side)
        }

        // Share of the foreground flux inside the window.
        var kept = Float(1)
        if !fg.isEmpty, fg.flux > 0 {
            var inside: Float = 0, total: Float = 0
            for y in 0..<h {
                for x in 0..<w where fg.mask[y * w + x] {
                    let v = max(plane[y * w + x] - fg.background.level, 0)
                    total += v
                    if x >= box.x0 && x < box.x1 && y >= box.y0 && y < box.y1 { inside += v }
                }
            }
            kept = total > 0 ? inside / total : 1
        }
        let ownFlux = config.normalization == .lens && !fg.isEmpty
            ? CropCalibration.lensBrightness(plane: plane, foreground: fg).map { $0 / Float(image.channels) } : nil
        config.normalization.apply(to: &out.pixels, background: channelBackground,
                                   sigma: fg.background.sigma / Float(image.channels).squareRoot(), lensFlux: ownFlux)
        if let radius = config.skyZero, mask.contains(true) {
            let near = Self.dilated(mask, width: out.width, height: out.height, radius: radius)
            let n = out.width * out.height
            for c in 0..<out.channels { for i in 0..<n where !near[i] { out.pixels[c * n + i] = 0 } }
        }
        let zoom = outSize < 0 ? 1 : Float(outSize) / Float(side)
        let record = CropRecord(box: box, zoom: zoom, background: fg.background.level, sigma: fg.background.sigma,
                                foregroundFraction: fg.pixelFraction, keptFluxShare: kept,
                                centroidX: fg.centroidX, centroidY: fg.centroidY, flags: flags)
        return Cropped(image: out, record: record, foreground: mask)
    }

    /// `mask [height, width]` grown by `radius` pixels in every direction (a square neighbourhood: a
    /// maximum filter along rows, then along columns).
    static func dilated(_ mask: [Bool], width: Int, height: Int, radius: Int) -> [Bool] {
        guard radius > 0 else { return mask }
        /// Along `lines` lines (`lineStep` apart) of `length` pixels (`pixelStep` apart): set where a set
        /// pixel of the line is within `radius`.
        func grow(_ m: [Bool], lines: Int, lineStep: Int, length: Int, pixelStep: Int) -> [Bool] {
            var out = m
            var nextSet = [Int](repeating: 0, count: length)
            for line in 0..<lines {
                let base = line * lineStep
                var upcoming = Int.max / 2
                for k in (0..<length).reversed() {
                    if m[base + k * pixelStep] { upcoming = k }
                    nextSet[k] = upcoming
                }
                var previous = -Int.max / 2
                for k in 0..<length {
                    if m[base + k * pixelStep] { previous = k }
                    out[base + k * pixelStep] = k - previous <= radius || nextSet[k] - k <= radius
                }
            }
            return out
        }
        let rows = grow(mask, lines: height, lineStep: width, length: width, pixelStep: 1)
        return grow(rows, lines: width, lineStep: 1, length: height, pixelStep: width)
    }
}
