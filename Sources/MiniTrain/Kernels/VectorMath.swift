/// Reductions over contiguous floats in `SIMD16<Float>` lanes (the compiler does not vectorise a
/// floating-point `max` or sum loop by itself: it may not reorder the additions). The lane-wise order
/// is fixed, so results are the same on every run and thread count.
enum VectorMath {
    typealias V16 = SIMD16<Float>

    /// Lane sum and lane max by halving (the standard library's `sum()` and `max()` are generic calls).
    @inline(__always) static func laneSum(_ v: V16) -> Float {
        let a = v.lowHalf + v.highHalf, b = a.lowHalf + a.highHalf, c = b.lowHalf + b.highHalf
        return c[0] + c[1]
    }

    /// The largest lane, in four scalar chains joined at the end (`pointwiseMax` on the halves is a generic
    /// call the compiler leaves out of line; a compare-and-blend in a generic helper compiled to a loop over
    /// the lanes on the stack). The same value as a sort would give when no lane is NaN.
    @inline(__always) static func laneMax(_ v: V16) -> Float {
        var (m0, m1, m2, m3) = (v[0], v[1], v[2], v[3])
        for j in Swift.stride(from: 4, to: 16, by: 4) {
            m0 = Swift.max(m0, v[j]); m1 = Swift.max(m1, v[j + 1]); m2 = Swift.max(m2, v[j + 2]); m3 = Swift.max(m3, v[j + 3])
        }
        return Swift.max(Swift.max(m0, m1), Swift.max(m2, m3))
    }

    @inline(__always) static func max(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var m = V16(repeating: -.infinity)
        var i = 0
        while i + 16 <= n { m = pointwiseMax(m, UnsafeRawPointer(p + i).loadUnaligned(as: V16.self)); i += 16 }
        var r = laneMax(m)
        while i < n { r = Swift.max(r, p[i]); i += 1 }
        return r
    }

    @inline(__always) static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var s = V16()
        var i = 0
        while i + 16 <= n { s += UnsafeRawPointer(p + i).loadUnaligned(as: V16.self); i += 16 }
        var r = laneSum(s)
        while i < n { r += p[i]; i += 1 }
        return r
    }

    /// `Σ a[i] · b[i]`.
    @inline(__always) static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var s = V16()
        var i = 0
        while i + 16 <= n {
            s = s.addingProduct(UnsafeRawPointer(a + i).loadUnaligned(as: V16.self), UnsafeRawPointer(b + i).loadUnaligned(as: V16.self))
            i += 16
        }
        var r = laneSum(s)
        while i < n { r += a[i] * b[i]; i += 1 }
        return r
    }
}
