import Foundation
import Testing
@testable import LensData
import _TestSupport

/// HDF5 files whose headers declare impossible sizes (issue 12, item 2), written by
/// `Tests/helpers/make_hostile_h5.py` with h5py: each must be refused with a `LensDataError` naming
/// the dataset, before anything is allocated for its declared size.
@Suite struct HostileHDF5Tests {
    static let files: String = {
        let dir = TestSupport.tempDir("hostile-h5")
        _ = try! TestSupport.pythonHelper("make_hostile_h5.py", [dir, "--fuzz", "60", "--seed", "12"])
        return dir
    }()

    func expectRefused(_ name: String, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let path = Self.files + "/" + name
        do {
            let s = try HDF5Source(path: path, dataset: "/images")
            Issue.record("expected \(name) to be refused, opened \(s.count) images", sourceLocation: sourceLocation)
        } catch let e as LensDataError {
            #expect(e.path == path + ":/images", sourceLocation: sourceLocation)
            #expect(e.message.contains(text), "message was: \(e.message)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    /// (1, 2^32, 2^32): the pixel count of one image overflowed `Int` and trapped.
    @Test func imageSideOfTwoToTheThirtyTwo() {
        expectRefused("huge_square.h5", containing: "overflows")
    }

    /// (2^34, 64, 64) in a 20 KB file: `inspect` tried to allocate 19 GB of per-chunk results.
    @Test func twoToTheThirtyFourImagesInATinyFile() {
        expectRefused("huge_count.h5", containing: "more than \(HDF5Dataset.maxExpansionOverFile) times the file's")
    }

    @Test func elementCountOverflowingSixtyFourBits() {
        expectRefused("overflow.h5", containing: "overflows")
    }

    /// Random rank-3 and rank-4 shapes built from hostile dimensions (1 ... 2^62): each opens with a
    /// shape whose products fit and whose size the file can back, or is refused; reading the first
    /// and last image never traps.
    @Test func fuzzedShapesOpenSafelyOrAreRefused() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.files + "/fuzz.json"))
        let cases = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(cases.count == 60)
        var refused = 0
        for c in cases {
            let name = try #require(c["file"] as? String), shape = try #require(c["shape"] as? [Int])
            do {
                let s = try HDF5Source(path: Self.files + "/" + name, dataset: "/images")
                #expect(s.images.shape == shape)
                #expect(s.layout.pixelsPerImage <= ArrayLayout.maxPixelsPerImage)
                for i in Set([0, s.count - 1]) where s.count > 0 { _ = try? s.sample(at: i) }
            } catch is LensDataError {
                refused += 1
            }
        }
        #expect(refused > cases.count / 2, "most hostile shapes must be refused")
    }

    /// The layout rules on their own, over every combination of hostile dimensions: no product traps.
    @Test func layoutProductsNeverTrap() {
        let dims = [0, 1, 3, 4, 5, 64, 1 << 16, Int(Int32.max), 1 << 32, 1 << 33, 1 << 40, 1 << 62, Int.max]
        var checked = 0
        for a in dims { for b in dims { for c in dims {
            for shape in [[a, b, c], [1, a, b, c], [a, 1, b, c], [a, b, c, 3]] {
                for fortran in [false, true] {
                    if let l = try? ArrayLayout.stack(shape: shape, fortranOrder: fortran, path: "x") {
                        #expect(l.pixelsPerImage <= ArrayLayout.maxPixelsPerImage)
                        _ = l.strides
                    }
                    if let l = try? ArrayLayout.singleImage(shape: Array(shape.suffix(3)), fortranOrder: fortran, path: "x") {
                        #expect(l.pixelsPerImage <= ArrayLayout.maxPixelsPerImage)
                    }
                    checked += 1
                }
            }
        } } }
        #expect(checked == dims.count * dims.count * dims.count * 8)
    }

    /// Item 10: a failed open reports libhdf5's innermost message, and leaves no error of its own
    /// behind (closing the invalid file id used to push one).
    @Test func failedOpenNamesLibhdf5sReasonAndClosesNothing() throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("deeplense-mini/model2.h5")))
        let path = Self.files + "/truncated.h5"
        try original.prefix(original.count / 3).write(to: URL(fileURLWithPath: path))
        do {
            _ = try HDF5File(path: path)
            Issue.record("a truncated file opened")
        } catch let e as LensDataError {
            #expect(e.path == path)
            #expect(e.message.contains("libhdf5: ") && e.message.contains("truncated"), "message was: \(e.message)")
        }
        #expect(HDF5Errors.innermost() == nil, "left on the error stack: \(HDF5Errors.innermost() ?? "")")
    }
}
