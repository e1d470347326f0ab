import Foundation
import Testing
@testable import LensData
import _TestSupport

/// Files written by numpy and h5py must read back as exactly the float32 values numpy's
/// `astype(np.float32)` gives: every dtype, both byte orders, Fortran order, versions 1/2/3,
/// object arrays, stacks and HDF5 datasets.
@Suite struct NumpyInteropTests {
    // nonisolated(unsafe): written once by the lazy initialiser, read-only afterwards.
    nonisolated(unsafe) static let cases: (dir: String, list: [[String: Any]]) = {
        let dir = TestSupport.tempDir("cases")
        _ = try! TestSupport.pythonHelper("make_cases.py", [dir])
        let data = try! Data(contentsOf: URL(fileURLWithPath: dir + "/manifest.json"))
        return (dir, try! JSONSerialization.jsonObject(with: data) as! [[String: Any]])
    }()

    static func bits(_ case_: [String: Any]) -> [UInt32] { (case_["bits"] as! [NSNumber]).map { $0.uint32Value } }
    static func pixels(_ images: [LensImage]) -> [UInt32] { images.flatMap { $0.pixels.map(\.bitPattern) } }

    @Test func everyCaseWasGenerated() {
        let kinds = Dictionary(grouping: Self.cases.list, by: { $0["kind"] as! String }).mapValues(\.count)
        #expect(kinds["image"]! >= 30)
        #expect(kinds["stack"] == 3)
        #expect(kinds["hdf5"] == 4)
    }

    @Test func singleImagesMatchNumpyBitForBit() throws {
        var checked = 0
        for c in Self.cases.list where c["kind"] as! String == "image" {
            let file = c["file"] as! String
            let read = try NPYFile.readImage(path: Self.cases.dir + "/" + file)
            #expect(read.image.shape == (c["shape"] as! [Int]), "\(file)")
            #expect(read.image.pixels.map(\.bitPattern) == Self.bits(c), "\(file)")
            if let dtype = c["dtype"] as? String { #expect(read.stored.dtype == dtype, "\(file)") }
            if let target = c["target"] as? Double {
                #expect(read.target == target, "\(file): target")
                #expect(read.stored.fromObjectArray)
            } else {
                #expect(read.target == nil, "\(file)")
            }
            checked += 1
        }
        #expect(checked >= 30)
    }

    @Test func stacksMatchNumpy() throws {
        for c in Self.cases.list where c["kind"] as! String == "stack" {
            let file = c["file"] as! String
            let source = try NPYStackSource(path: Self.cases.dir + "/" + file)
            #expect(source.count == c["count"] as! Int)
            let images = try (0..<source.count).map { try source.sample(at: $0).image }
            #expect(images.allSatisfy { $0.shape == (c["shape"] as! [Int]) }, "\(file)")
            #expect(Self.pixels(images) == Self.bits(c), "\(file)")
        }
    }

    @Test func stackWithLabelsAndTargets() throws {
        let d = Self.cases.dir
        let source = try SourceSpec(d + "/stack_nhw.npy", labels: d + "/stack_labels.npy", targets: d + "/stack_targets.npy",
                                    classNames: ["a", "b", "c"]).open()
        let samples = try (0..<source.count).map { try source.sample(at: $0) }
        #expect(samples.map(\.label) == [0, 2, 1, 1, 0])
        #expect(samples.map(\.target) == [1.5, nil, 2.5, 3.5, 4.5])
        #expect(samples.map(\.id) == (0..<5).map { "stack_nhw.npy[\($0)]" })
        #expect(source.classes == ["a", "b", "c"])
    }

    @Test func hdf5DatasetsMatchH5py() throws {
        for c in Self.cases.list where c["kind"] as! String == "hdf5" {
            let ds = c["dataset"] as! String
            let source = try HDF5Source(path: Self.cases.dir + "/sim.h5", dataset: ds)
            #expect(source.count == c["count"] as! Int, "\(ds)")
            let images = try (0..<source.count).map { try source.sample(at: $0).image }
            #expect(images.allSatisfy { $0.shape == (c["shape"] as! [Int]) }, "\(ds)")
            #expect(Self.pixels(images) == Self.bits(c), "\(ds)")
        }
    }

    @Test func hdf5CompanionsGiveLabelsTargetsAndNames() throws {
        let source = try SourceSpec(Self.cases.dir + "/sim.h5:/train/images", labels: "/train/labels", targets: "/train/mass",
                                    names: "/train/names").open()
        let samples = try (0..<source.count).map { try source.sample(at: $0) }
        #expect(samples.map(\.label) == [0, 1, 2, 0, 1, 2])
        #expect(samples.map(\.target) == [1e-23, nil, nil, 2e-23, nil, nil])
        #expect(samples.map(\.id) == (0..<6).map { "img_\($0)" })
        #expect(samples[0].stored.dtype == "int64")
    }

    @Test func hdf5ErrorsNameTheDatasets() throws {
        let path = Self.cases.dir + "/sim.h5"
        #expect(throws: LensDataError.self) { try HDF5Source(path: path, dataset: "/nope") }
        do {
            _ = try SourceSpec(path).open()
            Issue.record("opening an HDF5 file without a dataset should fail")
        } catch let e as LensDataError {
            #expect(e.message.contains("/train/images"))
        }
        #expect(throws: LensDataError.self) { try HDF5Source(path: path, dataset: "/flat") }  // rank 1
        #expect(throws: LensDataError.self) { try HDF5Source(path: path, dataset: "/train/images", labels: "/flat") }  // wrong length
    }
}
