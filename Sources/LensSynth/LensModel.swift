import RealModule

/// Deflection by the lens: a singular isothermal ellipsoid (SIE) main halo plus external shear,
/// and optional point masses (CDM subhalos, or the axion "vortex" line). Angles in arcseconds.
struct LensModel: Sendable {
    var centerX: Double
    var centerY: Double
    /// Einstein radius of the main halo.
    var thetaE: Double = 1.28
    /// Axis ratio of the SIE (DeepLense: e1 = 0.1 -> q = 0.9 / 1.1).
    var q: Double = 0.9 / 1.1
    var gamma1: Double = 0.05
    var gamma2: Double = 0
    /// Point masses: position (arcsec, absolute) and squared Einstein radius.
    var points: [(x: Double, y: Double, thetaE2: Double)] = []

    /// Deflection (alpha_x, alpha_y) at image-plane position (x, y).
    @inline(__always)
    func deflection(x: Double, y: Double) -> (Double, Double) {
        let dx = x - centerX, dy = y - centerY
        var ax = 0.0, ay = 0.0
        // SIE (Keeton 2001, core 0, major axis along x): psi = sqrt(q^2 x^2 + y^2).
        let psi = (q * q * dx * dx + dy * dy).squareRoot()
        if psi > 1e-12 {
            let f = (1 - q * q).squareRoot()
            let scale = thetaE * q.squareRoot() / f
            ax = scale * Double.atan(f * dx / psi)
            ay = scale * Double.atanh(Swift.min(f * dy / psi, 0.999_999_999))
        }
        ax += gamma1 * dx + gamma2 * dy
        ay += gamma2 * dx - gamma1 * dy
        for p in points {
            let px = x - p.x, py = y - p.y
            let r2 = px * px + py * py + 1e-8
            ax += p.thetaE2 * px / r2
            ay += p.thetaE2 * py / r2
        }
        return (ax, ay)
    }

    /// Einstein radius squared of a point mass of `mass` solar masses, scaled from the main halo
    /// (theta_E is proportional to sqrt(M); 1e12 M_sun gives `thetaE`).
    func pointThetaE2(mass: Double) -> Double { thetaE * thetaE * mass / 1e12 }
}

/// The lensed source: an elliptical Sersic profile (DeepLense: n = 1, R = 0.25", e1 = -0.1, e2 = 0.1).
struct SersicSource: Sendable {
    var centerX: Double
    var centerY: Double
    var amplitude: Double
    var radius: Double = 0.25
    var n: Double = 1
    var e1: Double = -0.1
    var e2: Double = 0.1

    /// Surface brightness at source-plane position (x, y).
    @inline(__always)
    func brightness(x: Double, y: Double) -> Double {
        let e = (e1 * e1 + e2 * e2).squareRoot()
        let phi = 0.5 * Double.atan2(y: e2, x: e1)
        let qs = (1 - e) / (1 + e)
        let dx = x - centerX, dy = y - centerY
        let c = Double.cos(phi), s = Double.sin(phi)
        let xr = c * dx + s * dy, yr = -s * dx + c * dy
        let r = (qs * xr * xr + yr * yr / qs).squareRoot()
        let bn = 1.9992 * n - 0.3271
        return amplitude * Double.exp(-bn * (Double.pow(r / radius, 1 / n) - 1))
    }
}
