/// Converting stored numpy elements to `Float`, one specialised loop per element type.
///
/// Each conforming type loads one element from raw bytes (unaligned, optionally byte-swapped) and
/// converts it with round-to-nearest, which is what numpy's `astype(np.float32)` does.
protocol _NPYElement {
    static func load(_ base: UnsafeRawPointer, _ byteOffset: Int, swapped: Bool) -> Float
    /// Bytes per stored element (a requirement, so the two marker structs can override it).
    static var storedSize: Int { get }
}

extension _NPYElement {
    static var storedSize: Int { MemoryLayout<Self>.size }
}

extension Int8: _NPYElement {
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ o: Int, swapped: Bool) -> Float {
        Float(base.loadUnaligned(fromByteOffset: o, as: Int8.self))
    }
}
extension UInt8: _NPYElement {
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ o: Int, swapped: Bool) -> Float {
        Float(base.loadUnaligned(fromByteOffset: o, as: UInt8.self))
    }
}
/// numpy `bool`: any non-zero byte is True.
struct _NPYBool: _NPYElement {
    static var storedSize: Int { 1 }
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ o: Int, swapped: Bool) -> Float {
        base.loadUnaligned(fromByteOffset: o, as: UInt8.self) != 0 ? 1 : 0
    }
}
extension Int16: _NPYElement {
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ o: Int, swapped: Bool) -> Float {
        let v = base.loadUnaligned(fromByteOffset: o, as: Int16.self)
        return Float(swapped ? v.byteSwapped : v)
    }
}
extension UInt16: _NPYElement {
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ o: Int, swapped: Bool) -> Float {
        let v = base.loadUnaligned(fromByteOffset: o, as: UInt16.self)
        return Float(swapped ? v.byteSwapped : v)
    }
}
extension Int32: _NPYElement {
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ o: Int, swapped: Bool) -> Float {
        let v = base.loadUnaligned(fromByteOffset: o, as: Int32.self)
        return Float(swapped ? v.byteSwapped : v)
    }
}
extension UInt32: _NPYElement {
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ o: Int, swapped: Bool) -> Float {
        let v = base.loadUnaligned(fromByteOffset: o, as: UInt32.self)
        return Float(swapped ? v.byteSwapped : v)
    }
}
extension Int64: _NPYElement {
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ o: Int, swapped: Bool) -> Float {
        let v = base.loadUnaligned(fromByteOffset: o, as: Int64.self)
        return Float(swapped ? v.byteSwapped : v)
    }
}
extension UInt64: _NPYElement {
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ o: Int, swapped: Bool) -> Float {
        let v = base.loadUnaligned(fromByteOffset: o, as: UInt64.self)
        return Float(swapped ? v.byteSwapped : v)
    }
}
/// IEEE 754 binary16, converted bit by bit (exact: every half is a float).
struct _NPYHalf: _NPYElement {
    static var storedSize: Int { 2 }
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ o: Int, swapped: Bool) -> Float {
        let raw = base.loadUnaligned(fromByteOffset: o, as: UInt16.self)
        return halfToFloat(swapped ? raw.byteSwapped : raw)
    }

    @inline(__always) static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0x1F {  // Inf / NaN
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        }
        if exponent == 0 {  // zero or subnormal: mantissa * 2^-24
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -magnitude : magnitude
        }
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }
}
extension Float: _NPYElement {
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ o: Int, swapped: Bool) -> Float {
        let bits = base.loadUnaligned(fromByteOffset: o, as: UInt32.self)
        return Float(bitPattern: swapped ? bits.byteSwapped : bits)
    }
}
extension Double: _NPYElement {
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ o: Int, swapped: Bool) -> Float {
        let bits = base.loadUnaligned(fromByteOffset: o, as: UInt64.self)
        return Float(Double(bitPattern: swapped ? bits.byteSwapped : bits))
    }
}

extension NPYDType {
    /// True when stored bytes must be swapped on this (little-endian) machine.
    var needsSwap: Bool { bigEndian && itemSize > 1 }
}
