import Foundation
import Testing
@testable import LensData
import _TestSupport

/// The deeplense-mini sample (a copy of the real release layout) reads as numpy reads it.
@Suite struct DeepLenseFixtureTests {
    let model1 = TestSupport.fixture("deeplense-mini/model1/train")

    @Test func model1TrainScan() throws {
        let source = try NPYFolderSource(root: model1)
        let report = SourceScan.run(source, threads: 2)
        #expect(report.images == 36)
        #expect(report.classes == ["axion": 12, "cdm": 12, "no_sub": 12])
        #expect(report.shapes == [[1, 150, 150]])
        #expect(report.dtypes == ["int64"])
        #expect(report.targets == 12)
        #expect(report.objectArrays == 12)
        #expect(report.errors.isEmpty)
        #expect(source.classes == ["axion", "cdm", "no_sub"])
    }

    @Test func axionMassesEqualNumpys() throws {
        let script = """
        import glob, json, sys, numpy as np
        files = sorted(glob.glob(sys.argv[1] + '/axion/*.npy'))
        for f in files: print(f.split('/')[-1], float(np.load(f, allow_pickle=True)[1]).hex())
        """
        // Hex floats: exact, whatever JSON parser rounding would do.
        var masses: [String: Double] = [:]
        for line in try TestSupport.python(script, [model1]).split(separator: "\n") {
            let parts = line.split(separator: " ")
            masses[String(parts[0])] = Double(String(parts[1]))
        }
        #expect(masses.count == 12)
        let source = try NPYFolderSource(root: model1)
        for i in 0..<source.count where source.entries[i].path.hasPrefix("axion/") {
            let s = try source.sample(at: i)
            let name = String(s.id.split(separator: "/").last!)
            #expect(s.target == masses[name], "\(name)")
            #expect(s.label == 0)
        }
    }

    @Test func model1PixelsEqualNumpys() throws {
        let script = """
        import glob, sys, hashlib, numpy as np
        for f in sorted(glob.glob(sys.argv[1] + '/*/*.npy')):
            a = np.load(f, allow_pickle=True)
            img = a[0] if a.dtype == object else a
            print(hashlib.sha1(np.ascontiguousarray(img.astype(np.float32)).tobytes()).hexdigest())
        """
        let digests = try TestSupport.python(script, [model1]).split(separator: "\n").map(String.init)
        let source = try NPYFolderSource(root: model1)
        #expect(digests.count == source.count)
        let ours = try (0..<source.count).map { i -> String in
            let pixels = try source.sample(at: i).image.pixels
            let bytes = pixels.withUnsafeBytes { Data($0) }
            return try TestSupport.python("import sys,hashlib; print(hashlib.sha1(open(sys.argv[1],'rb').read()).hexdigest())",
                                          [Self.write(bytes)]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(ours == digests)
    }

    static func write(_ data: Data) throws -> String {
        let path = NSTemporaryDirectory() + "px-\(UUID().uuidString)"
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The HDF5 copy of model2 holds the same images, labels, masses and names as the NPY tree.
    @Test func model2HDF5MatchesNPYTree() throws {
        let tree = try NPYFolderSource(root: TestSupport.fixture("deeplense-mini/model2/train"))
        let h5 = try HDF5Source(path: TestSupport.fixture("deeplense-mini/model2.h5"), dataset: "/train/images",
                                labels: "/train/labels", targets: "/train/mass", names: "/train/names")
        #expect(h5.count == tree.count)
        var byName: [String: Sample] = [:]
        for i in 0..<tree.count { let s = try tree.sample(at: i); byName["train/" + s.id] = s }
        for i in 0..<h5.count {
            let s = try h5.sample(at: i)
            let match = try #require(byName[s.id] ?? byName["train/" + s.id], "no tree file for \(s.id)")
            #expect(s.image.pixels == match.image.pixels, "\(s.id)")
            #expect(s.label == match.label, "\(s.id)")
            #expect(s.target == match.target, "\(s.id)")
        }
    }
}
