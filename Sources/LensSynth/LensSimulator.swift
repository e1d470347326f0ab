import LensData
import RealModule

/// A native, deterministic simulator of DeepLense-like strong-lensing images.
///
/// For each image: an SIE main halo plus external shear deflects light from a Sersic source placed at
/// a random offset; class `cdm` adds 25 point-mass subhalos, class `axion` a "vortex" line of 100
/// point masses whose half-length is 0.03" x (1e-22 eV / m_axion), class `no_sub` nothing. The image is
/// convolved with a Gaussian PSF, then given Poisson noise (150 px, integer counts) or Gaussian
/// noise (64 px, float). Image `i` depends only on (seed, i): generation is parallel and repeatable.
public struct LensSimulator: Sendable {
    public let config: SynthConfig

    public init(config: SynthConfig) { self.config = config }

    /// Renders image `index`; its class is `index % 3` (axion, cdm, no_sub).
    public func render(index: Int) -> SynthLens {
        var rng = Philox4x64(seed: config.seed, stream: UInt64(index), 0x5EED)
        let label = index % SynthConfig.classes.count
        let n = config.size
        let scale = config.pixelScale
        let mid = Double(n - 1) / 2

        // Lens centre (pixels), source offset U(-0.35", 0.35") from it.
        let offX = config.lensOffset > 0 ? rng.uniform(-config.lensOffset, config.lensOffset) : 0
        let offY = config.lensOffset > 0 ? rng.uniform(-config.lensOffset, config.lensOffset) : 0
        let lensX = mid + offX, lensY = mid + offY
        let cx = offX * scale, cy = offY * scale
        var lens = LensModel(centerX: cx, centerY: cy)
        let srcX = cx + rng.uniform(-0.35, 0.35), srcY = cy + rng.uniform(-0.35, 0.35)

        var mass: Double?
        switch SynthConfig.classes[label] {
        case "cdm":
            // 25 subhalos, masses ~ m^-0.9 on [1e6, 1e10] M_sun (inverse CDF), r ~ U(0.25", 2"), angle ~ U(0, 2 pi).
            let beta = -0.9, lo = 1e6, hi = 1e10
            for _ in 0..<25 {
                let u = rng.uniform()
                let m = Double.pow(Double.pow(lo, beta + 1) + u * (Double.pow(hi, beta + 1) - Double.pow(lo, beta + 1)), 1 / (beta + 1))
                let r = rng.uniform(0.25, 2.0), t = rng.uniform(0, 2 * .pi)
                lens.points.append((cx + r * Double.cos(t), cy + r * Double.sin(t), lens.pointThetaE2(mass: m)))
            }
        case "axion":
            // 3e10 M_sun in 100 equal masses along a line through the centre.
            let m = Double.pow(10, rng.uniform(-24, -22))
            mass = m
            let half = 0.03 * (1e-22 / m)
            let angle = rng.uniform(0, .pi)
            let each = lens.pointThetaE2(mass: 3e8)
            for k in 0..<100 {
                let s = -half + 2 * half * Double(k) / 99
                lens.points.append((cx + s * Double.cos(angle), cy + s * Double.sin(angle), each))
            }
        default:
            break
        }

        let modelI = n >= 100
        let source = SersicSource(centerX: srcX, centerY: srcY, amplitude: modelI ? 20 : 40)
        let exposure = modelI ? Double.pow(10, rng.uniform(3, 3.5)) : 1
        var image = [Double](repeating: 0, count: n * n)
        let pixelArea = scale * scale
        image.withUnsafeMutableBufferPointer { out in
            for j in 0..<n {
                let y = (Double(j) - mid) * scale
                for i in 0..<n {
                    let x = (Double(i) - mid) * scale
                    let (ax, ay) = lens.deflection(x: x, y: y)
                    out[j * n + i] = source.brightness(x: x - ax, y: y - ay) * pixelArea * exposure
                }
            }
        }
        image = GaussianPSF.convolve(image, size: n, sigmaPixels: config.psfFWHM / 2.3548 / scale)
        if config.noise {
            if modelI {
                // Sky of a few counts with read-out scatter, then photon noise: integer counts >= 0.
                for k in image.indices {
                    let lambda = max(image[k] + exposure * (0.0015 + 0.0012 * rng.normal()), 0)
                    image[k] = Double(rng.poisson(lambda))
                }
            } else {
                // Euclid-like: sky offset, Gaussian read noise, and signal-dependent shot noise.
                for k in image.indices {
                    let sigma = (0.012 * 0.012 + max(image[k], 0) * 0.0004).squareRoot()
                    image[k] += 0.005 + sigma * rng.normal()
                }
            }
        }
        return SynthLens(index: index, label: label, pixels: image, size: n, axionMass: mass,
                         lensX: lensX, lensY: lensY, sourceX: mid + srcX / scale, sourceY: mid + srcY / scale,
                         exposure: exposure)
    }
}

/// Separable Gaussian convolution with a kernel truncated at 3 sigma and zero padding.
enum GaussianPSF {
    static func convolve(_ image: [Double], size n: Int, sigmaPixels sigma: Double) -> [Double] {
        let radius = max(1, Int((3 * sigma).rounded(.up)))
        var kernel = (-radius...radius).map { Double.exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        var tmp = [Double](repeating: 0, count: n * n)
        var out = [Double](repeating: 0, count: n * n)
        for y in 0..<n {
            for x in 0..<n {
                var s = 0.0
                for k in -radius...radius where x + k >= 0 && x + k < n { s += kernel[k + radius] * image[y * n + x + k] }
                tmp[y * n + x] = s
            }
        }
        for y in 0..<n {
            for x in 0..<n {
                var s = 0.0
                for k in -radius...radius where y + k >= 0 && y + k < n { s += kernel[k + radius] * tmp[(y + k) * n + x] }
                out[y * n + x] = s
            }
        }
        return out
    }
}
