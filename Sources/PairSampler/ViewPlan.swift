import LensData
import RealModule

/// Every random decision of one view except the crop position: which operations run and with what
/// parameters. Drawn first from the view's own stream, so it does not depend on how many crop
/// candidates rejection sampling needed.
public struct ViewPlan: Sendable, Equatable {
    /// 0 = identity; 1-3 = rotations by 90, 180, 270 degrees; 4 = horizontal flip; 5 = vertical
    /// flip; 6 = transpose; 7 = anti-transpose.
    public var dihedral: Int = 0
    /// Continuous rotation in radians (0 when not drawn).
    public var angle: Double = 0
    public var blurSigma: Float?
    /// Added noise sigma as a multiple of the image's noise sigma.
    public var noiseLevel: Float?
    public var poissonGain: Float?
    public var fluxFactor: Float?
    public var brightness: Float?
    public var contrast: Float?
    public var solarize = false

    /// Draws the plan for `spec`. Each operation consumes the same draws whether or not it fires.
    public static func draw(_ spec: ViewSpec, _ rng: inout Philox4x64) -> ViewPlan {
        var p = ViewPlan()
        func fires(_ probability: Double) -> Bool { rng.uniform() < probability }
        let d = Int(rng.next() % 8)
        if fires(spec.dihedral) { p.dihedral = d }
        let a = rng.uniform(-spec.rotationDegrees, spec.rotationDegrees) * .pi / 180
        if fires(spec.rotation) { p.angle = a }
        let sigma = Float(rng.uniform(spec.blurSigma[0], spec.blurSigma[1]))
        if fires(spec.blur) { p.blurSigma = sigma }
        let level = Float(rng.uniform(spec.noiseLevel[0], spec.noiseLevel[1]))
        if fires(spec.gaussianNoise) { p.noiseLevel = level }
        let gain = Float(rng.uniform(spec.poissonGain[0], spec.poissonGain[1]))
        if fires(spec.poissonNoise) { p.poissonGain = gain }
        let factor = Float(Double.exp(rng.uniform(Double.log(spec.fluxScale[0]), Double.log(spec.fluxScale[1]))))
        if fires(spec.fluxScaling) { p.fluxFactor = factor }
        let b = Float(rng.uniform(-spec.brightness, spec.brightness)), c = Float(rng.uniform(1 - spec.contrast, 1 + spec.contrast))
        if fires(spec.brightnessContrast) { p.brightness = b; p.contrast = c }
        p.solarize = fires(spec.solarize)
        return p
    }
}

/// A crop in source pixels: centre, size and rotation (radians, about the centre).
public struct CropGeometry: Sendable, Equatable, Codable {
    public var centerX: Double
    public var centerY: Double
    public var width: Double
    public var height: Double
    public var angle: Double

    /// The four corners in source pixels (top-left, top-right, bottom-right, bottom-left).
    public var corners: [[Double]] {
        let (c, s) = (Double.cos(angle), Double.sin(angle))
        return [(-1.0, -1.0), (1, -1), (1, 1), (-1, 1)].map { (u, v) in
            let dx = u * width / 2, dy = v * height / 2
            return [centerX + c * dx - s * dy, centerY + s * dx + c * dy]
        }
    }

    /// Draws a random-resized-crop candidate that fits inside `W x H` at `angle`; nil when the drawn
    /// size cannot fit at that angle (a geometric rejection).
    static func draw(_ spec: ViewSpec, angle: Double, width W: Int, height H: Int, _ rng: inout Philox4x64) -> CropGeometry? {
        let area = rng.uniform(spec.scale[0], spec.scale[1]) * Double(W * H)
        let r = Double.exp(rng.uniform(Double.log(spec.ratio[0]), Double.log(spec.ratio[1])))
        let w = max(1, (area * r).squareRoot().rounded()), h = max(1, (area / r).squareRoot().rounded())
        let ux = rng.uniform(), uy = rng.uniform()
        if angle == 0 {
            guard w <= Double(W), h <= Double(H) else { return nil }
            let x0 = (ux * (Double(W) - w + 1)).rounded(.down), y0 = (uy * (Double(H) - h + 1)).rounded(.down)
            return CropGeometry(centerX: x0 + w / 2, centerY: y0 + h / 2, width: w, height: h, angle: 0)
        }
        let (c, s) = (abs(Double.cos(angle)), abs(Double.sin(angle)))
        let ex = (w * c + h * s) / 2, ey = (w * s + h * c) / 2
        guard 2 * ex <= Double(W), 2 * ey <= Double(H) else { return nil }
        return CropGeometry(centerX: ex + ux * (Double(W) - 2 * ex), centerY: ey + uy * (Double(H) - 2 * ey), width: w, height: h, angle: angle)
    }

    /// The constructive fallback: a crop of this size that contains `pixel` (at a random place in the
    /// crop), shifted inside the image (shrunk if it cannot fit at its angle).
    func anchored(on pixel: (x: Int, y: Int), width W: Int, height H: Int, _ rng: inout Philox4x64) -> CropGeometry {
        var g = self
        let (c, s) = (abs(Double.cos(angle)), abs(Double.sin(angle)))
        var ex = (width * c + height * s) / 2, ey = (width * s + height * c) / 2
        let shrink = min(1, Double(W) / (2 * ex), Double(H) / (2 * ey))
        if shrink < 1 { g.width = (width * shrink).rounded(.down); g.height = (height * shrink).rounded(.down); ex *= shrink; ey *= shrink }
        // Centre such that the pixel lies inside the inner axis-aligned part of the crop.
        let inner = min(g.width, g.height) / 2 * (angle == 0 ? 1 : 0.7)
        let px = Double(pixel.x) + 0.5 + rng.uniform(-inner, inner) * 0.9
        let py = Double(pixel.y) + 0.5 + rng.uniform(-inner, inner) * 0.9
        g.centerX = min(max(px, ex), Double(W) - ex)
        g.centerY = min(max(py, ey), Double(H) - ey)
        if angle == 0 {  // integer placement, like drawn candidates
            g.centerX = (g.centerX - g.width / 2).rounded() + g.width / 2
            g.centerY = (g.centerY - g.height / 2).rounded() + g.height / 2
        }
        return g
    }
}
