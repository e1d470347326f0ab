/// Masked-token inputs for the masked-token (iBOT-style) loss: the student sees a global crop with
/// some final-stage token cells blanked, the teacher sees it whole, and the student's region head must
/// predict, at each blanked cell, the teacher's target for that cell.
///
/// A final-stage token of a Swin backbone covers a `cell x cell` block of pixels, `cell = S / g` for a
/// `g x g` token grid (patch 4 and three stages: 64 px crops give a 4 x 4 grid of 16 px cells). Blanking
/// sets the block to 0, the sky level of background-subtracted lensing images, so no mask-token
/// parameter is needed: the patch embedding of an empty block is what the network sees there.
public enum TokenMask {
    /// Zeroes, in `images [rows, Cin, S, S]`, the pixel block of every token `i` of row `r` with
    /// `mask[r * g * g + i]` (tokens row-major on the `g x g` grid).
    public static func apply(_ images: inout [Float], mask: [Bool], rows: Int, channels: Int, size S: Int, grid g: Int) {
        precondition(mask.count == rows * g * g && images.count == rows * channels * S * S && S % g == 0)
        let cell = S / g
        images.withUnsafeMutableBufferPointer { x in
            for r in 0..<rows {
                for t in 0..<(g * g) where mask[r * g * g + t] {
                    let (ty, tx) = (t / g, t % g)
                    for c in 0..<channels {
                        let plane = (r * channels + c) * S * S
                        for y in (ty * cell)..<((ty + 1) * cell) {
                            let row = plane + y * S + tx * cell
                            for xx in 0..<cell { x[row + xx] = 0 }
                        }
                    }
                }
            }
        }
    }
}
