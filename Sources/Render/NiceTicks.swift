import Foundation

/// An axis: its range, tick positions at "nice" numbers (1, 2, 2.5, 5 × 10ⁿ; Heckbert, "Nice numbers
/// for graph labels", Graphics Gems 1990) and their labels.
struct AxisScale: Sendable {
    var lower: Double
    var upper: Double
    var ticks: [Double]
    var labels: [String]
    var logarithmic: Bool

    /// A linear axis covering `[lo, hi]` plus `margin` of the span on each side (matplotlib's look:
    /// the data never touches the frame), with ticks at the multiples of a nice step inside it.
    static func linear(_ lo: Double, _ hi: Double, target: Int = 6, margin: Double = 0.04) -> AxisScale {
        var (lo, hi) = (lo, hi)
        if !(lo.isFinite && hi.isFinite) { (lo, hi) = (0, 1) }
        if hi - lo <= 1e-12 * max(abs(lo), abs(hi), 1e-300) {
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            (lo, hi) = (lo - pad, hi + pad)
        }
        let span = hi - lo
        let lower = lo - margin * span, upper = hi + margin * span
        let step = niceStep(span / Double(max(1, target - 1)))
        let first = Int((lower / step - 1e-9).rounded(.up)), last = Int((upper / step + 1e-9).rounded(.down))
        let ticks = first <= last ? (first...last).map { Double($0) * step } : []
        return AxisScale(lower: lower, upper: upper, ticks: ticks, labels: labels(ticks, step: step), logarithmic: false)
    }

    /// Labels for ticks `step` apart: as many decimals as the step needs (`step = m · 10^e`: −e
    /// decimals for e < 0, one more for m = 2.5).
    static func labels(_ ticks: [Double], step: Double) -> [String] {
        let e = floor(Foundation.log10(step) + 1e-9)
        let decimals = max(0, Int(-e) + (abs(step / pow(10, e) - 2.5) < 1e-9 ? 1 : 0))
        return ticks.map { format($0, decimals: decimals, step: step) }
    }

    /// A fixed linear axis: ticks every `step` from `lo` to `hi` (e.g. 0…1 by 0.2 for ROC curves), the
    /// range `margin` of the span wider on each side.
    static func fixed(_ lo: Double, _ hi: Double, step: Double, margin: Double = 0.02) -> AxisScale {
        let n = Int(((hi - lo) / step).rounded())
        let ticks = (0...n).map { lo + Double($0) * step }
        return AxisScale(lower: lo - margin * (hi - lo), upper: hi + margin * (hi - lo), ticks: ticks,
                         labels: labels(ticks, step: step), logarithmic: false)
    }

    /// A base-10 logarithmic axis covering `[lo, hi]` (both > 0) plus `margin` of the log span on each
    /// side: ticks at powers of ten, plus 2 and 5 times them when fewer than three decades are shown;
    /// linear nice ticks (still placed logarithmically) when the range is too narrow for two of those.
    static func log10(_ lo: Double, _ hi: Double, margin: Double = 0.04) -> AxisScale {
        var (lo, hi) = (lo, hi)
        if !(lo > 0 && hi > 0 && lo.isFinite && hi.isFinite) { (lo, hi) = (1, 10) }
        if hi <= lo * (1 + 1e-9) { (lo, hi) = (lo / 2, hi * 2) }
        let a = Foundation.log10(lo), b = Foundation.log10(hi), span = b - a
        let lower = pow(10, a - margin * span), upper = pow(10, b + margin * span)
        let mantissas: [Double] = span < 3 ? [1, 2, 5] : [1]
        var ticks: [Double] = []
        for e in Int(floor(a)) - 1...Int(ceil(b)) + 1 {
            for m in mantissas {
                let v = m * pow(10, Double(e))
                if v >= lower * (1 - 1e-12) && v <= upper * (1 + 1e-12) { ticks.append(v) }
            }
        }
        if ticks.count < 2 {
            var scale = linear(lo, hi, target: 4, margin: 0)
            scale.lower = lower; scale.upper = upper; scale.logarithmic = true
            scale.ticks = scale.ticks.filter { $0 > 0 }
            scale.labels = Array(scale.labels.suffix(scale.ticks.count))
            return scale
        }
        return AxisScale(lower: lower, upper: upper, ticks: ticks, labels: ticks.map(formatLog), logarithmic: true)
    }

    /// Position of `v` along the axis, 0 at `lower` and 1 at `upper`.
    func fraction(_ v: Double) -> Double {
        logarithmic ? (Foundation.log10(v) - Foundation.log10(lower)) / (Foundation.log10(upper) - Foundation.log10(lower))
                    : (v - lower) / (upper - lower)
    }

    /// The nice number (1, 2, 2.5 or 5 × 10ⁿ) nearest above `raw`.
    static func niceStep(_ raw: Double) -> Double {
        let e = floor(Foundation.log10(raw)), f = raw / pow(10, e)
        let nice: Double = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10
        return nice * pow(10, e)
    }

    /// `v` with the decimals its step needs; scientific for very large or very small magnitudes.
    static func format(_ v: Double, decimals: Int, step: Double) -> String {
        let v = abs(v) < step * 1e-6 ? 0 : v  // no "-0.0"
        if v != 0 && (abs(v) >= 1e6 || step < 1e-4) { return scientific(v) }
        return String(format: "%.\(decimals)f", v)
    }

    static func formatLog(_ v: Double) -> String {
        if v >= 1e-4 && v < 1e6 {
            let e = Int(floor(Foundation.log10(v) + 1e-9))
            return String(format: "%.\(max(0, -e))f", v)
        }
        return scientific(v)
    }

    /// `2.5e-05` → "2.5e-5".
    static func scientific(_ v: Double) -> String {
        let s = String(format: "%.2g", v)
        guard let eIndex = s.firstIndex(of: "e") else { return s }
        let mantissa = s[..<eIndex]
        var exponent = String(s[s.index(after: eIndex)...])
        let sign = exponent.hasPrefix("-") ? "-" : ""
        exponent = String(exponent.drop { $0 == "+" || $0 == "-" || $0 == "0" })
        return "\(mantissa)e\(sign)\(exponent.isEmpty ? "0" : exponent)"
    }
}
