import LensData
import Synchronization

/// Runs the cropper over a whole source in parallel (what `lenspipe crop` reports on).
public enum CropRun {
    public struct Result: Sendable {
        /// One record per readable sample, in source order.
        public var records: [CropRecord]
        /// The source index of each record.
        public var indices: [Int]
        /// Samples that could not be read.
        public var failures: [ScanReport.Failure]
        public var summary: CropSummary
    }

    public static func run(source: any SampleSource, cropper: Cropper, threads: Int,
                           progress: (@Sendable (Int) -> Void)? = nil) -> Result {
        let done = Atomic<Int>(0)
        let parts = ParallelRunner.map(count: source.count, chunkSize: 32, threads: threads) { range -> ([CropRecord], [ScanReport.Failure], [Int]) in
            var records: [CropRecord] = [], failures: [ScanReport.Failure] = [], indices: [Int] = []
            for i in range {
                do {
                    records.append(cropper.crop(try source.sample(at: i).image).1)
                    indices.append(i)
                } catch let e as LensDataError {
                    failures.append(ScanReport.Failure(e))
                } catch {
                    failures.append(ScanReport.Failure(path: source.id(at: i), message: "\(error)"))
                }
            }
            progress?(done.add(range.count, ordering: .relaxed).newValue)
            return (records, failures, indices)
        }
        let records = parts.flatMap(\.0)
        return Result(records: records, indices: parts.flatMap(\.2), failures: parts.flatMap(\.1), summary: CropSummary(records: records, config: cropper.config))
    }
}
