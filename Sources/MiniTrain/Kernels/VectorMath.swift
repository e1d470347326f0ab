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

    @inline(__always) static func laneMax(_ v: V16) -> Float {
        let a = pointwiseMax(v.lowHalf, v.highHalf), b = pointwiseMax(a.lowHalf, a.highHalf), c = pointwiseMax(b.lowHalf, b.highHalf)
        return Swift.max(c[0], c[1])
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
