/// A view of some samples of another source, in the order of `indices` (e.g. the training part of
/// a `--split` data set, which calibration must see without the validation and test parts).
public struct SubsetSource: SampleSource {
    public let base: any SampleSource
    public let indices: [Int]
    public let summary: String

    public init(_ base: any SampleSource, indices: [Int], summary: String) {
        self.base = base
        self.indices = indices
        self.summary = summary
    }

    public var count: Int { indices.count }
    public var classes: [String] { base.classes }
    public func id(at index: Int) -> String { base.id(at: indices[index]) }
    public func label(at index: Int) -> Int? { base.label(at: indices[index]) }
    public func sample(at index: Int) throws -> Sample { try base.sample(at: indices[index]) }
}
