/// Anything lenspipe can read samples from, in a fixed, deterministic order.
///
/// Later stages (crop, views, shards, training) see only this protocol, so they do not care whether
/// the data came as a folder of per-image `.npy` files, one stack, or an HDF5 dataset. Every
/// conformer supports random access and is safe to read from several threads at once.
public protocol SampleSource: Sendable {
    /// What was opened, for messages (`"class folders under data/train"`).
    var summary: String { get }
    /// Number of samples (readable or not).
    var count: Int { get }
    /// Class names by label index; empty when the source has no labels.
    var classes: [String] { get }
    /// The id of sample `index`, available without reading it.
    func id(at index: Int) -> String
    /// Reads sample `index`.
    /// - Throws: `LensDataError` naming the file and the problem.
    func sample(at index: Int) throws -> Sample
    /// The label of sample `index` when the source knows it without reading the sample (a class
    /// folder, a labels array); nil otherwise. Stratified splits use it.
    func label(at index: Int) -> Int?
    /// The bytes one read of every sample takes from storage, for throughput figures: the files of
    /// a folder source, the image data of a stack or an HDF5 dataset (as stored, before any
    /// decompression); nil when unknown.
    var storedBytes: Int? { get }
}

extension SampleSource {
    public func label(at index: Int) -> Int? { nil }
    public var storedBytes: Int? { nil }
}
