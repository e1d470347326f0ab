/// Limited-memory BFGS (Nocedal 1980; Nocedal & Wright, *Numerical Optimization*, Alg. 7.4 and 7.5)
/// for smooth convex objectives, with a backtracking Armijo line search.
///
/// Deterministic: no randomness, and the objective is expected to be (FeatureMetrics' objectives are
/// summed in a fixed order). Stops when the largest gradient entry is at most `gradientTolerance`
/// (scipy's `gtol`), when an iteration lowers `f` by at most `functionTolerance · max(|f|, 1)`
/// (scipy's `ftol`; scikit-learn passes `64 ε`), or after `maxIterations`.
struct LBFGS {
    var memory = 10
    var maxIterations = 5000
    var gradientTolerance = 1e-9
    var functionTolerance = 64 * Double.ulpOfOne

    struct Outcome {
        var x: [Double]
        var f: Double
        var iterations: Int
        /// True when the gradient or function test stopped it (not the iteration cap or a failed line search).
        var converged: Bool
    }

    /// Minimises `f`, where `evaluate(x, &g)` returns `f(x)` and writes `∇f(x)` into `g`.
    func minimize(from x0: [Double], _ evaluate: (_ x: [Double], _ g: inout [Double]) -> Double) -> Outcome {
        let n = x0.count
        var x = x0
        var g = [Double](repeating: 0, count: n)
        var f = evaluate(x, &g)
        var s: [[Double]] = [], y: [[Double]] = [], rho: [Double] = []
        var d = [Double](repeating: 0, count: n)
        var xNew = x, gNew = g
        for iteration in 0..<maxIterations {
            if maxAbs(g) <= gradientTolerance { return Outcome(x: x, f: f, iterations: iteration, converged: true) }
            direction(&d, g: g, s: s, y: y, rho: rho)
            var slope = dot(g, d)
            if !(slope < 0) {  // not a descent direction (numerical trouble): restart from steepest descent
                s.removeAll(); y.removeAll(); rho.removeAll()
                for i in 0..<n { d[i] = -g[i] }
                slope = dot(g, d)
            }
            // First step of a fresh memory: length ~1 in the largest coordinate.
            var t = s.isEmpty ? min(1, 1 / maxAbs(g)) : 1
            var fNew = 0.0
            var accepted = false
            for _ in 0..<60 {
                for i in 0..<n { xNew[i] = x[i] + t * d[i] }
                fNew = evaluate(xNew, &gNew)
                if fNew.isFinite && fNew <= f + 1e-4 * t * slope { accepted = true; break }
                // Minimum of the quadratic through f, slope and fNew, kept within [0.1 t, 0.5 t].
                let q = fNew.isFinite ? -slope * t * t / (2 * (fNew - f - slope * t)) : 0.1 * t
                t = min(max(q, 0.1 * t), 0.5 * t)
            }
            guard accepted else { return Outcome(x: x, f: f, iterations: iteration, converged: false) }
            var sk = [Double](repeating: 0, count: n), yk = sk
            for i in 0..<n { sk[i] = xNew[i] - x[i]; yk[i] = gNew[i] - g[i] }
            let sy = dot(sk, yk)
            if sy > 1e-12 * (dot(sk, sk) * dot(yk, yk)).squareRoot() {
                if s.count == memory { s.removeFirst(); y.removeFirst(); rho.removeFirst() }
                s.append(sk); y.append(yk); rho.append(1 / sy)
            }
            let decrease = f - fNew
            swap(&x, &xNew); swap(&g, &gNew)
            f = fNew
            if decrease <= functionTolerance * max(abs(f), 1) {
                return Outcome(x: x, f: f, iterations: iteration + 1, converged: true)
            }
        }
        return Outcome(x: x, f: f, iterations: maxIterations, converged: maxAbs(g) <= gradientTolerance)
    }

    /// `d = −H g` by the two-loop recursion, with `H₀ = (sᵀy / yᵀy) I` from the newest pair.
    private func direction(_ d: inout [Double], g: [Double], s: [[Double]], y: [[Double]], rho: [Double]) {
        let n = g.count
        for i in 0..<n { d[i] = -g[i] }
        var alpha = [Double](repeating: 0, count: s.count)
        for j in stride(from: s.count - 1, through: 0, by: -1) {
            alpha[j] = rho[j] * dot(s[j], d)
            for i in 0..<n { d[i] -= alpha[j] * y[j][i] }
        }
        if let sl = s.last, let yl = y.last {
            let gamma = dot(sl, yl) / dot(yl, yl)
            for i in 0..<n { d[i] *= gamma }
        }
        for j in 0..<s.count {
            let beta = rho[j] * dot(y[j], d)
            for i in 0..<n { d[i] += (alpha[j] - beta) * s[j][i] }
        }
    }

    private func dot(_ a: [Double], _ b: [Double]) -> Double {
        var s = 0.0
        for i in 0..<a.count { s += a[i] * b[i] }
        return s
    }

    private func maxAbs(_ a: [Double]) -> Double { a.reduce(0) { max($0, abs($1)) } }
}
