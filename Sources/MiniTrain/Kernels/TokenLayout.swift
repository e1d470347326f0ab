/// Index maps that move tokens between layouts: Swin's cyclic shift + window partition, patch merging's
/// 2x2 gather, and the patch embedding's im2col. Forward gathers, backward scatters (accumulating).
public enum TokenLayout {
    /// `perm[p]` = the `[B, H·W]` token that windowed position p (`[B·nW, ws², ·]`, windows in
    /// (image, window row, window column) order, tokens row-major) takes after rolling by −shift.
    /// The inverse (window reverse, then roll by +shift) scatters back through the same map.
    public static func windowPermutation(B: Int, H: Int, W: Int, ws: Int, shift s: Int) -> [Int32] {
        var perm = [Int32]()
        perm.reserveCapacity(B * H * W)
        for b in 0..<B {
            for wy in 0..<(H / ws) {
                for wx in 0..<(W / ws) {
                    for iy in 0..<ws {
                        for ix in 0..<ws {
                            perm.append(Int32(b * H * W + ((wy * ws + iy + s) % H) * W + (wx * ws + ix + s) % W))
                        }
                    }
                }
            }
        }
        return perm
    }

    /// `out[p, :] = inp[perm[p], :]`, rows of C.
    public static func gather(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ perm: UnsafePointer<Int32>, rows: Int, C: Int) {
        for p in 0..<rows {
            let src = inp + Int(perm[p]) * C, dst = out + p * C
            for c in 0..<C { dst[c] = src[c] }
        }
    }

    /// `out[perm[p], :] = inp[p, :]` for a permutation `perm` of `0..<rows` (every row of `out` written
    /// once): `scatterAdd` into a zeroed `out`, without the zeroing.
    public static func scatter(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ perm: UnsafePointer<Int32>, rows: Int, C: Int) {
        for p in 0..<rows {
            let src = inp + p * C, dst = out + Int(perm[p]) * C
            for c in 0..<C { dst[c] = src[c] }
        }
    }

    /// `out[perm[p]] = base[perm[p]] + inp[p]` for every row p: `base` copied and `inp` scattered onto it
    /// in one pass (`perm` a permutation of the rows, so every row of `out` is written), the values
    /// `scatterAdd` gives on a copy of `base`.
    public static func scatterSum(_ out: UnsafeMutablePointer<Float>, base: UnsafePointer<Float>, _ inp: UnsafePointer<Float>,
                                  _ perm: UnsafePointer<Int32>, rows: Int, C: Int) {
        for p in 0..<rows {
            let at = Int(perm[p]) * C, src = inp + p * C, dst = out + at, from = base + at
            for c in 0..<C { dst[c] = from[c] + src[c] }
        }
    }

    /// `out[perm[p], :] += inp[p, :]`: the backward of `gather`, and the forward of the inverse map.
    public static func scatterAdd(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ perm: UnsafePointer<Int32>, rows: Int, C: Int) {
        for p in 0..<rows {
            let src = inp + p * C, dst = out + Int(perm[p]) * C
            for c in 0..<C { dst[c] += src[c] }
        }
    }

    /// Patch merging's gather: `[B, H, W, C]` -> `[B, H/2 · W/2, 4C]` with channel blocks x0 (even row,
    /// even column), x1 (odd row, even column), x2 (even row, odd column), x3 (odd, odd). Returned as a
    /// map of 4C-wide rows to source rows: `perm[(t·4 + k)]` is the source token of block k of output t.
    public static func mergePermutation(B: Int, H: Int, W: Int) -> [Int32] {
        var perm = [Int32]()
        for b in 0..<B {
            for y in 0..<(H / 2) {
                for x in 0..<(W / 2) {
                    for (dy, dx) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                        perm.append(Int32(b * H * W + (2 * y + dy) * W + 2 * x + dx))
                    }
                }
            }
        }
        return perm
    }

    /// im2col for a convolution with kernel = stride = P: `[B, Cin, H, W]` -> `[B · H/P · W/P, Cin·P·P]`,
    /// each row ordered (cin, py, px) like a flattened Conv2d weight.
    public static func patches(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, B: Int, Cin: Int, H: Int, W: Int, P: Int) {
        let (hp, wp) = (H / P, W / P)
        var r = 0
        for b in 0..<B {
            for py in 0..<hp {
                for px in 0..<wp {
                    var k = 0
                    for c in 0..<Cin {
                        for iy in 0..<P {
                            let src = inp + ((b * Cin + c) * H + py * P + iy) * W + px * P
                            for ix in 0..<P { out[r * Cin * P * P + k] = src[ix]; k += 1 }
                        }
                    }
                    r += 1
                }
            }
        }
    }

    /// Mean over tokens: `[B, L, C]` -> `[B, C]`.
    public static func meanPool(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, B: Int, L: Int, C: Int) {
        for b in 0..<B {
            for c in 0..<C { out[b * C + c] = 0 }
            for l in 0..<L { for c in 0..<C { out[b * C + c] += inp[(b * L + l) * C + c] } }
            for c in 0..<C { out[b * C + c] /= Float(L) }
        }
    }

    /// Accumulates `dinp[b, l, :] += dout[b, :] / L`.
    public static func meanPoolBackward(_ dinp: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, B: Int, L: Int, C: Int) {
        for b in 0..<B { for l in 0..<L { for c in 0..<C { dinp[(b * L + l) * C + c] += dout[b * C + c] / Float(L) } } }
    }
}
