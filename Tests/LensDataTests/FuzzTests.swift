import Foundation
import Testing
@testable import LensData
import _TestSupport

/// Bounded mutation fuzzing of NPY headers and pickle streams: every mutant either reads or throws
/// a `LensDataError`. A crash, trap or hang fails the whole test run.
@Suite struct FuzzTests {
    static let iterations = 3000

    /// Valid seeds: a plain int64 file and a DeepLense-style object array.
    func seeds() throws -> [[UInt8]] {
        let plain = NPYHeader(dtype: .int64, shape: [6, 7]).encoded() + NPYWriter.littleEndianBytes((0..<42).map { Int64($0) })
        let dir = TestSupport.tempDir("fuzz-seed")
        let raw = RawArray(dtype: .float64, shape: [5, 4], bytes: NPYWriter.littleEndianBytes((0..<20).map { Double($0).bitPattern }))
        try NPYWriter.writeObjectArray(path: dir + "/o.npy", image: raw, scalars: [2.5e-23])
        let object = Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/o.npy")))
        let fixture = Array(try Data(contentsOf: URL(fileURLWithPath:
            TestSupport.fixture("deeplense-mini/model2/train/axion") + "/" + (try FileManager.default.contentsOfDirectory(atPath:
            TestSupport.fixture("deeplense-mini/model2/train/axion")).sorted().first!))))
        return [plain, object, fixture]
    }

    @Test func mutatedFilesNeverCrash() throws {
        let dir = TestSupport.tempDir("fuzz")
        let seeds = try seeds()
        var rng = Philox4x64(seed: 2026, stream: 11)
        var outcomes = (ok: 0, rejected: 0)
        for i in 0..<Self.iterations {
            var bytes = seeds[i % seeds.count]
            // Mostly mutate the header and the start of the pickle, where the structure is.
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let hot = min(bytes.count, 400)
                switch rng.next() % 5 {
                case 0: bytes[Int(rng.next() % UInt64(hot))] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(1 << (rng.next() % 8))
                case 2: bytes.removeLast(Int(rng.next() % UInt64(bytes.count / 2)))
                case 3:
                    let at = Int(rng.next() % UInt64(hot))
                    bytes.insert(contentsOf: [UInt8(truncatingIfNeeded: rng.next()), 0xFF, 0x7F], at: at)
                default:
                    let at = Int(rng.next() % UInt64(max(1, hot - 4)))
                    for k in 0..<4 { bytes[at + k] = 0xFF }  // a huge length or count
                }
                if bytes.count < 8 { bytes += [0, 0, 0, 0, 0, 0, 0, 0] }
            }
            let path = dir + "/m.npy"
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            do {
                let read = try NPYFile.readImage(path: path)
                #expect(read.image.pixels.count == read.image.channels * read.image.height * read.image.width)
                outcomes.ok += 1
            } catch is LensDataError {
                outcomes.rejected += 1
            }
        }
        #expect(outcomes.ok > 0, "some mutations (in the pixel data) leave a valid file, read as such")
        #expect(outcomes.rejected > Self.iterations / 4, "mutations should mostly be caught")
    }
}
