import Synchronization

/// What `lenspipe inspect` reports about a source. Encodes to the JSON documented in the README.
public struct ScanReport: Codable, Sendable, Equatable {
    public struct Failure: Codable, Sendable, Equatable {
        public var path: String
        public var message: String
        public init(path: String, message: String) {
            self.path = path
            self.message = message
        }

        /// The failure a read error reports: its file, and the byte offset when it has one.
        public init(_ error: LensDataError) {
            self.init(path: error.path, message: error.offset.map { "at byte \($0): \(error.message)" } ?? error.message)
        }
    }

    public var source: String
    /// Samples read successfully.
    public var images: Int
    /// Samples per class name (empty when the source has no labels).
    public var classes: [String: Int]
    /// Distinct image shapes `[C, H, W]`, sorted.
    public var shapes: [[Int]]
    /// Distinct stored dtypes (`"int64"`, `"float64"`), sorted.
    public var dtypes: [String]
    /// Samples that carry a regression target.
    public var targets: Int
    /// Smallest and largest finite pixel value over all images (nil when there are none).
    public var min: Double?
    public var max: Double?
    /// Pixels that were NaN or infinite.
    public var nonfinitePixels: Int
    /// How many samples came out of pickled object arrays.
    public var objectArrays: Int
    /// Every sample that could not be read, with the reason.
    public var errors: [Failure]
    /// For a folder of split folders, each split's own report by split name (the fields above are
    /// then the totals); nil for a single source, and then absent from the JSON.
    public var splits: [String: ScanReport]? = nil

    enum CodingKeys: String, CodingKey {
        case source, images, classes, shapes, dtypes, targets, min, max, errors, splits
        case nonfinitePixels = "nonfinite_pixels"
        case objectArrays = "object_arrays"
    }
}

/// Scans every sample of a source in parallel and summarises it.
public enum SourceScan {
    /// - Parameters:
    ///   - threads: worker threads.
    ///   - progress: called now and then with the number of samples done so far.
    public static func run(_ source: any SampleSource, threads: Int, progress: (@Sendable (Int) -> Void)? = nil) -> ScanReport {
        struct Partial: Sendable {
            var images = 0
            var perLabel: [Int: Int] = [:]
            var shapes = Set<[Int]>()
            var dtypes = Set<String>()
            var targets = 0
            var lo = Float.infinity, hi = -Float.infinity
            var nonfinite = 0
            var objects = 0
            var errors: [ScanReport.Failure] = []
        }
        let done = Atomic<Int>(0)
        let parts = ParallelRunner.map(count: source.count, chunkSize: 64, threads: threads) { range -> Partial in
            var p = Partial()
            for i in range {
                do {
                    let s = try source.sample(at: i)
                    p.images += 1
                    if let l = s.label { p.perLabel[l, default: 0] += 1 }
                    p.shapes.insert(s.image.shape)
                    p.dtypes.insert(s.stored.dtype)
                    if s.target != nil { p.targets += 1 }
                    if s.stored.fromObjectArray { p.objects += 1 }
                    let (lo, hi, bad) = PixelRange.of(s.image.pixels)
                    p.lo = Swift.min(p.lo, lo)
                    p.hi = Swift.max(p.hi, hi)
                    p.nonfinite += bad
                } catch let e as LensDataError {
                    p.errors.append(ScanReport.Failure(e))
                } catch {
                    p.errors.append(.init(path: source.id(at: i), message: "\(error)"))
                }
            }
            let total = done.add(range.count, ordering: .relaxed).newValue
            progress?(total)
            return p
        }
        var merged = Partial()
        for p in parts {
            merged.images += p.images
            merged.perLabel.merge(p.perLabel, uniquingKeysWith: +)
            merged.shapes.formUnion(p.shapes)
            merged.dtypes.formUnion(p.dtypes)
            merged.targets += p.targets
            merged.lo = Swift.min(merged.lo, p.lo)
            merged.hi = Swift.max(merged.hi, p.hi)
            merged.nonfinite += p.nonfinite
            merged.objects += p.objects
            merged.errors += p.errors
        }
        var classes: [String: Int] = [:]
        for (label, n) in merged.perLabel {
            classes[label < source.classes.count ? source.classes[label] : String(label)] = n
        }
        let finite = merged.lo <= merged.hi
        return ScanReport(source: source.summary, images: merged.images, classes: classes,
                          shapes: merged.shapes.sorted { $0.lexicographicallyPrecedes($1) }, dtypes: merged.dtypes.sorted(),
                          targets: merged.targets, min: finite ? Double(merged.lo) : nil, max: finite ? Double(merged.hi) : nil,
                          nonfinitePixels: merged.nonfinite, objectArrays: merged.objects, errors: merged.errors)
    }
}

extension SourceScan {
    /// Scans each split of a folder of splits in turn and reports them with their totals: counts
    /// and errors summed, classes summed by name, shapes and dtypes joined, the value range widened.
    /// - Parameters:
    ///   - source: what the splits came from, for the report's `source`.
    ///   - progress: called with the number of samples done so far over all splits.
    public static func run(splits: [(name: String, source: any SampleSource)], source: String, threads: Int,
                           progress: (@Sendable (Int) -> Void)? = nil) -> ScanReport {
        var reports: [String: ScanReport] = [:]
        var done = 0
        for split in splits {
            let offset = done
            reports[split.name] = run(split.source, threads: threads) { progress?(offset + $0) }
            done += split.source.count
        }
        var total = ScanReport.total(of: splits.compactMap { reports[$0.name] }, source: source)
        total.splits = reports
        return total
    }
}

extension ScanReport {
    /// The sum of several reports (their `splits` left out).
    public static func total(of reports: [ScanReport], source: String) -> ScanReport {
        var t = ScanReport(source: source, images: 0, classes: [:], shapes: [], dtypes: [], targets: 0, min: nil, max: nil,
                           nonfinitePixels: 0, objectArrays: 0, errors: [])
        var shapes = Set<[Int]>(), dtypes = Set<String>()
        for r in reports {
            t.images += r.images
            t.classes.merge(r.classes, uniquingKeysWith: +)
            shapes.formUnion(r.shapes)
            dtypes.formUnion(r.dtypes)
            t.targets += r.targets
            if let lo = r.min { t.min = Swift.min(t.min ?? lo, lo) }
            if let hi = r.max { t.max = Swift.max(t.max ?? hi, hi) }
            t.nonfinitePixels += r.nonfinitePixels
            t.objectArrays += r.objectArrays
            t.errors += r.errors
        }
        t.shapes = shapes.sorted { $0.lexicographicallyPrecedes($1) }
        t.dtypes = dtypes.sorted()
        return t
    }
}

/// Min, max and non-finite count of a pixel buffer in one pass.
enum PixelRange {
    static func of(_ pixels: [Float]) -> (min: Float, max: Float, nonfinite: Int) {
        var lo = Float.infinity, hi = -Float.infinity, bad = 0
        pixels.withUnsafeBufferPointer { p in
            for v in p {
                if v.isFinite { lo = Swift.min(lo, v); hi = Swift.max(hi, v) } else { bad += 1 }
            }
        }
        return (lo, hi, bad)
    }
}
