/// Philox4x64-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), the
/// counter-based generator numpy ships as `numpy.random.Philox`.
///
/// A block of four 64-bit outputs is a pure function of a 256-bit counter and a 128-bit key, so a
/// stream keyed by (seed, sample, view, ...) gives the same numbers on any thread, in any order.
/// Stepping matches numpy: the counter is incremented (with carry) *before* each block is made, so
/// `Philox4x64(key: k, counter: c)` yields what `np.random.Philox(key=k, counter=c).random_raw()` does.
public struct Philox4x64: RandomNumberGenerator, Sendable {
    public var key: (UInt64, UInt64)
    public var counter: (UInt64, UInt64, UInt64, UInt64)
    private var buffer: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private var used = 4

    public init(key: (UInt64, UInt64), counter: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)) {
        self.key = key
        self.counter = counter
    }

    /// A stream for `(seed, a, b, c)`: the seed keys the generator, the rest select the stream.
    public init(seed: UInt64, stream a: UInt64, _ b: UInt64 = 0, _ c: UInt64 = 0) {
        self.init(key: (seed, 0x9E37_79B9_7F4A_7C15), counter: (0, a, b, c))
    }

    public mutating func next() -> UInt64 {
        if used == 4 {
            counter.0 &+= 1
            if counter.0 == 0 {
                counter.1 &+= 1
                if counter.1 == 0 { counter.2 &+= 1; if counter.2 == 0 { counter.3 &+= 1 } }
            }
            buffer = Philox4x64.block(counter: counter, key: key)
            used = 0
        }
        defer { used += 1 }
        switch used {
        case 0: return buffer.0
        case 1: return buffer.1
        case 2: return buffer.2
        default: return buffer.3
        }
    }

    /// The ten-round bijection: one block of output for one counter value.
    public static func block(counter: (UInt64, UInt64, UInt64, UInt64), key: (UInt64, UInt64)) -> (UInt64, UInt64, UInt64, UInt64) {
        let m0: UInt64 = 0xD2E7_470E_E14C_6C93, m1: UInt64 = 0xCA5A_8263_9512_1157
        let w0: UInt64 = 0x9E37_79B9_7F4A_7C15, w1: UInt64 = 0xBB67_AE85_84CA_A73B
        var c = counter
        var k = key
        for round in 0..<10 {
            if round > 0 { k.0 &+= w0; k.1 &+= w1 }
            let (hi0, lo0) = m0.multipliedFullWidth(by: c.0)
            let (hi1, lo1) = m1.multipliedFullWidth(by: c.2)
            c = (hi1 ^ c.1 ^ k.0, lo1, hi0 ^ c.3 ^ k.1, lo0)
        }
        return c
    }
}
