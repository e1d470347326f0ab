import LensCore

/// All parameters of one network in a single allocation, with gradients and AdamW moments in the same
/// layout (llm.c style). Tensors are addressed by their microsoft/esvit state-dict names and keep
/// PyTorch layouts (`Linear` weights `[out, in]`, the patch conv `[C, Cin, P, P]`).
public final class ParameterArena: @unchecked Sendable {
    // @unchecked Sendable: the buffers are owned by this object; callers coordinate writes (one
    // training step at a time), as llm.c does with its single parameter block.
    public struct Tensor: Sendable {
        public var name: String
        public var shape: [Int]
        public var offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public private(set) var tensors: [Tensor] = []
    private var index: [String: Int] = [:]
    public private(set) var count = 0
    public let values: UnsafeMutablePointer<Float>
    public let grads: UnsafeMutablePointer<Float>
    public let m: UnsafeMutablePointer<Float>
    public let v: UnsafeMutablePointer<Float>
    /// False for a lane arena (`init(gradientsOf:)`): values and moments belong to another arena.
    private let ownsValues: Bool

    /// - Parameter layout: names and shapes, in state-dict order.
    public init(layout: [(String, [Int])]) {
        var offset = 0
        for (name, shape) in layout {
            index[name] = tensors.count
            tensors.append(Tensor(name: name, shape: shape, offset: offset))
            offset += shape.reduce(1, *)
        }
        count = offset
        values = .allocate(capacity: max(1, offset))
        grads = .allocate(capacity: max(1, offset))
        m = .allocate(capacity: max(1, offset))
        v = .allocate(capacity: max(1, offset))
        for p in [values, grads, m, v] { p.initialize(repeating: 0, count: max(1, offset)) }
        ownsValues = true
    }

    /// A lane arena: the same tensors, sharing `owner`'s values and AdamW moments, with gradients of
    /// its own. Lanes of one batch run their backward passes at the same time, each into its own
    /// gradients, which the trainer then adds into the owner's (`EsViTTrainer.lanes`). `owner` must
    /// outlive this arena.
    public init(gradientsOf owner: ParameterArena) {
        tensors = owner.tensors
        index = owner.index
        count = owner.count
        values = owner.values
        m = owner.m
        v = owner.v
        grads = .allocate(capacity: max(1, count))
        grads.initialize(repeating: 0, count: max(1, count))
        ownsValues = false
    }

    deinit {
        grads.deallocate()
        if ownsValues { for p in [values, m, v] { p.deallocate() } }
    }

    public func tensor(_ name: String) -> Tensor {
        guard let i = index[name] else { preconditionFailure("no parameter named \(name)") }
        return tensors[i]
    }

    /// Pointer to a tensor's values.
    public func value(_ name: String) -> UnsafeMutablePointer<Float> { values + tensor(name).offset }
    /// Pointer to a tensor's gradient.
    public func grad(_ name: String) -> UnsafeMutablePointer<Float> { grads + tensor(name).offset }

    public func zeroGrads() { grads.update(repeating: 0, count: count) }

    /// Whether every value in `range` (all of them by default) is finite: `x − x` is 0 for a finite x and
    /// NaN for ±∞ or NaN, summed 16 lanes at a time (a run's non-finite stop).
    public func valuesAreFinite(in range: Range<Int>? = nil) -> Bool {
        let range = range ?? 0..<count
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "values \(range) of an arena of \(count)")
        typealias V = SIMD16<Float>
        let x = values + range.lowerBound, n = range.count
        var lanes = V(repeating: 0), rest: Float = 0, i = 0
        while i + 16 <= n { let v = UnsafeRawPointer(x + i).loadUnaligned(as: V.self); lanes += v - v; i += 16 }
        while i < n { rest += x[i] - x[i]; i += 1 }
        return lanes.sum() + rest == 0
    }

    /// Copies every value from another arena of the same layout (teacher <- student at start).
    public func copyValues(from other: ParameterArena) {
        precondition(other.count == count)
        values.update(from: other.values, count: count)
    }
}

extension Array where Element == Float {
    /// An array whose contents are left uninitialised, for outputs that a kernel fully overwrites
    /// (saves the zero-fill of every activation buffer, every step).
    @inline(__always) static func uninitialized(_ count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }
}
