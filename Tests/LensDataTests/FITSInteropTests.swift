import Foundation
import Testing
@testable import LensData
import _TestSupport

/// FITS files written by astropy (`Tests/helpers/make_fits_fixtures.py`) must read back as the values
/// astropy gives (`fits.getdata`: BSCALE/BZERO applied, BLANK -> NaN), rounded to Float32: every
/// BITPIX, multi-extension files, cubes (plain and gzip), tile compression, class-folder trees.
///
/// Skipped, with a message, where python3 with astropy is missing; CI installs it
/// (`scripts/install-deps.sh`).
@Suite(.enabled(if: Astropy.available, "needs python3 with astropy and numpy (scripts/install-deps.sh installs them)"))
struct FITSInteropTests {
    // nonisolated(unsafe): written once by the lazy initialiser, read-only afterwards.
    nonisolated(unsafe) static let fixtures: (dir: String, list: [[String: Any]]) = {
        let dir = TestSupport.tempDir("fits")
        _ = try! TestSupport.pythonHelper("make_fits_fixtures.py", [dir])
        let data = try! Data(contentsOf: URL(fileURLWithPath: dir + "/manifest.json"))
        return (dir, try! JSONSerialization.jsonObject(with: data) as! [[String: Any]])
    }()

    static func path(_ name: String) -> String { fixtures.dir + "/" + name }
    static func entry(_ name: String) -> [String: Any] { fixtures.list.first { $0["name"] as! String == name }! }
    static func expected(_ e: [String: Any]) throws -> [Double] { try NPYFile.readNumbers(path: path(e["expected"] as! String)) }

    /// Our Float32 against astropy's value: NaN where astropy has NaN, else the nearest Float32 of
    /// astropy's value, within 1 ulp (astropy scales 8- and 16-bit data in float32, rounding twice).
    static func expectClose(_ ours: [Float], _ theirs: [Double], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(ours.count == theirs.count, "\(what): \(ours.count) values, astropy \(theirs.count)", sourceLocation: sourceLocation)
        var bad = 0, first = ""
        for (a, b) in zip(ours, theirs) {
            let t = Float(b)
            let ok = b.isNaN ? a.isNaN : (a == t || abs(a - t) <= t.ulp)
            if !ok { if bad == 0 { first = "\(a) vs astropy \(b)" }; bad += 1 }
        }
        #expect(bad == 0, "\(what): \(bad) values differ, first \(first)", sourceLocation: sourceLocation)
    }

    static func selector(_ e: [String: Any]) -> FITSHDUSelector? {
        if let n = e["ext"] as? Int { return .number(n) }
        return (e["ext"] as? String).flatMap(FITSHDUSelector.init)
    }

    @Test func everyHDUMatchesAstropy() throws {
        var checked = 0
        for e in Self.fixtures.list where e["kind"] as! String != "tree" {
            let name = e["name"] as! String, shape = e["shape"] as! [Int]
            let source = try FITSSource(path: Self.path(e["file"] as! String), hdu: Self.selector(e))
            let samples = try (0..<source.count).map { try source.sample(at: $0) }
            #expect(source.count == (shape.count == 3 ? shape[0] : 1), "\(name)")
            #expect(samples.allSatisfy { $0.image.shape == [1] + shape.suffix(2) }, "\(name)")
            #expect(samples.allSatisfy { $0.stored.dtype == e["dtype"] as! String }, "\(name): dtype \(samples[0].stored.dtype)")
            Self.expectClose(samples.flatMap(\.image.pixels), try Self.expected(e), name)
            #expect(samples.flatMap(\.image.pixels).filter(\.isNaN).count == e["nan"] as! Int, "\(name): BLANK/NaN count")
            checked += 1
        }
        #expect(checked == 20)
    }

    @Test func theDefaultHDUIsTheFirstImage() throws {
        let mef = try FITSSource(path: Self.path("mef.fits"))
        #expect(mef.hdu.number == 2)
        #expect(mef.id(at: 0) == "mef.fits[2][0]")
        let sci = try FITSSource(path: Self.path("mef.fits"), hdu: .name("SCI", version: nil))
        #expect(sci.hdu.number == 3 && sci.hdu.extname == "SCI" && sci.count == 3)
        #expect(sci.id(at: 2) == "mef.fits[SCI][2]")
        let hdus = try FITSFile(path: Self.path("mef.fits")).hdus()
        #expect(hdus.map(\.kind) == [.image, .binaryTable, .image, .image])
        #expect(hdus.map(\.extname) == [nil, "CAT", nil, "SCI"])
        #expect(hdus[0].imageShape == nil, "an empty primary is not an image")
        #expect(try FITSSource(path: Self.path("rice.fits")).hdu.compressed)
    }

    @Test func hdusThatAreNotImagesAreRefusedByName() throws {
        let file = Self.path("mef.fits")
        for (selector, text) in [(FITSHDUSelector.number(1), "HDU 1 (CAT): binary table is not a 2-D image"),
                                 (.number(0), "HDU 0: no data is not a 2-D image"),
                                 (.number(9), "has no HDU 9 (its HDUs: HDU 0: no data; HDU 1 (CAT): binary table;"),
                                 (.name("NOPE", version: nil), "has no HDU with EXTNAME NOPE"),
                                 (.number(-1), "out of range")] {
            #expect { try FITSSource(path: file, hdu: selector) } throws: { error in
                let e = error as! LensDataError
                return e.path == file && e.message.contains(text)
            }
        }
    }

    @Test func cubesWithLabelsAndTargets() throws {
        let spec = SourceSpec(Self.path("cube.fits"), labels: Self.path("cube_labels.npy"), targets: Self.path("cube_targets.npy"),
                              classNames: ["a", "b", "c"])
        let source = try spec.open()
        #expect(source is FITSSource)
        let samples = try (0..<source.count).map { try source.sample(at: $0) }
        #expect(samples.map(\.id) == (0..<5).map { "cube.fits[0][\($0)]" })
        #expect(samples.map(\.label) == [1, 0, 2, nil, 1])
        #expect(samples.map(\.target) == [0.5, 1.5, nil, 2.0, 3.0])
        #expect(source.classes == ["a", "b", "c"])
        #expect { try SourceSpec(Self.path("mef.fits[3]"), labels: Self.path("cube_labels.npy")).open() } throws: { error in
            (error as! LensDataError).message.contains("has 5 labels for 3 images")
        }
        // gzip: the same pixels.
        let gz = try SourceSpec(Self.path("cube.fits.gz")).open()
        #expect(try (0..<5).map { try gz.sample(at: $0).image } == samples.map(\.image))
        #expect(gz.id(at: 4) == "cube.fits.gz[0][4]")
    }

    @Test func readingFromManyThreadsGivesTheSamePixels() throws {
        let source = try FITSSource(path: Self.path("cube.fits.gz"))
        let serial = try (0..<source.count).map { try source.sample(at: $0).image }
        let results = Results(count: 200)
        DispatchQueue.concurrentPerform(iterations: 200) { k in
            results.set(k, (try? source.sample(at: k % source.count).image) == serial[k % source.count])
        }
        #expect(results.all)
    }

    @Test func classFolderTrees() throws {
        let source = try SourceSpec(Self.path("tree")).open()
        let folder = try #require(source as? FolderSource)
        #expect(folder.format == .fits)
        #expect(folder.classes == ["alpha", "beta"])
        #expect(folder.entries.map(\.path) == ["alpha/a1.fits", "alpha/a2.fit", "alpha/bands.fits", "beta/b1.FTS", "beta/b2.fits.gz"])
        #expect(folder.entries.map(\.label) == [0, 0, 0, 1, 1])
        for (i, path) in folder.entries.map(\.path).enumerated() {
            let e = Self.fixtures.list.first { $0["file"] as! String == "tree/" + path }!
            let s = try folder.sample(at: i)
            #expect(s.id == path)
            let shape = e["shape"] as! [Int]
            #expect(s.image.shape == (shape.count == 2 ? [1] + shape : shape), "\(path)")
            #expect(s.stored.dtype == e["dtype"] as! String, "\(path)")
            Self.expectClose(s.image.pixels, try Self.expected(e), path)
        }
    }

    @Test func flatFoldersAndCubesInThem() throws {
        let source = try SourceSpec(Self.path("flat")).open()
        #expect(source.count == 3 && source.classes.isEmpty)
        #expect(try source.sample(at: 0).image.pixels == [Float](repeating: 1, count: 16), "one.fits: the image in HDU 1")
        #expect { try source.sample(at: 1) } throws: { error in
            let e = error as! LensDataError
            return e.path == Self.path("flat/three_cube.fits") && e.message.contains("is a cube of 6 images")
        }
    }

    @Test func aFolderMixingNPYAndFITSIsRefused() {
        #expect { try SourceSpec(Self.path("mixed")).open() } throws: { error in
            let e = error as! LensDataError
            return e.path == Self.path("mixed") && e.message.contains("mixes .npy files (e.g. a.npy) and FITS") && e.message.contains("b.fits")
        }
    }
}

/// Whether python3 can import astropy (and numpy).
enum Astropy {
    static let available: Bool = {
        guard let r = try? TestSupport.run("/usr/bin/env", ["python3", "-c", "import astropy, numpy"]) else { return false }
        return r.status == 0
    }()
}

/// Per-iteration results of a concurrent loop.
final class Results: @unchecked Sendable {
    // Guarded by `lock`.
    private var values: [Bool]
    private let lock = NSLock()
    init(count: Int) { values = [Bool](repeating: false, count: count) }
    func set(_ i: Int, _ v: Bool) { lock.lock(); values[i] = v; lock.unlock() }
    var all: Bool { lock.lock(); defer { lock.unlock() }; return values.allSatisfy { $0 } }
}
