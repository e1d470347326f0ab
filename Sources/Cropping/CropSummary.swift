/// Per-data-set statistics over crop records: the distribution of the kept flux share and the flags.
public struct CropSummary: Codable, Sendable, Equatable {
    /// Whether a fixed or centred window cuts lenses: the median image keeps under 98% of its
    /// foreground flux, or one in twenty keeps under 90% (`--size auto` picks a window that holds 99%).
    public var cutsLenses: Bool {
        guard policy == "fixed" || policy == "center", images > 0 else { return false }
        return keptFluxShare.median < 0.98 || keptFluxShare.p05 < 0.9
    }

    public var images: Int
    public var keptFluxShare: Distribution
    public var zoom: Distribution
    /// Flag name -> number of images.
    public var flags: [String: Int]
    public var size: Int
    public var policy: String
    public var normalization: String

    public struct Distribution: Codable, Sendable, Equatable {
        public var min: Float, p01: Float, p05: Float, median: Float, mean: Float, max: Float

        init(_ values: [Float]) {
            let v = values.sorted()
            func q(_ p: Double) -> Float { v.isEmpty ? 0 : v[Swift.min(v.count - 1, Int(p * Double(v.count - 1)))] }
            min = v.first ?? 0
            max = v.last ?? 0
            p01 = q(0.01)
            p05 = q(0.05)
            median = q(0.5)
            mean = v.isEmpty ? 0 : v.reduce(0, +) / Float(v.count)
        }
    }

    enum CodingKeys: String, CodingKey {
        case images, zoom, flags, size, policy, normalization
        case keptFluxShare = "kept_flux_share"
    }

    public init(records: [CropRecord], config: CropConfig) {
        images = records.count
        keptFluxShare = Distribution(records.filter { !$0.flags.contains(.emptyForeground) }.map(\.keptFluxShare))
        zoom = Distribution(records.map(\.zoom))
        var f: [String: Int] = [:]
        for r in records { for name in r.flags.names { f[name, default: 0] += 1 } }
        flags = f
        size = config.size
        policy = config.policy.rawValue
        normalization = config.normalization.name
    }
}
