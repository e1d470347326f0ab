import Foundation
import Testing
@testable import ShardWriter
import _TestSupport

/// Nothing changes without a word (issue 12, item 8): NaN/Inf pixels repaired, small images padded,
/// non-numeric targets dropped and float16 overflow are counted in the summary, in lenspipe.json
/// and per input in changed.jsonl; float16 overflow is refused unless --clip-float16.
@Suite struct ChangesTests {
    /// good.npy (64x64 ramp), nan.npy (3 NaN, 2 Inf), tiny.npy (2x2), and `[image, mass]` object
    /// arrays whose mass is a string and None; big.npy holds 70000 (beyond float16).
    static func source() throws -> String {
        let dir = TestSupport.tempDir("changes")
        try TestSupport.python("""
        import numpy as np, sys, os
        d = sys.argv[1]
        os.makedirs(d + '/src'); os.makedirs(d + '/big')
        ramp = np.arange(64 * 64, dtype=np.float32).reshape(64, 64) / 100
        np.save(d + '/src/good.npy', ramp)
        nan = ramp.copy(); nan[0, :3] = np.nan; nan[1, :2] = np.inf
        np.save(d + '/src/nan.npy', nan)
        np.save(d + '/src/tiny.npy', np.ones((2, 2), dtype=np.float32))
        for name, mass in [('str-mass.npy', 'heavy'), ('none-mass.npy', None)]:
            np.save(d + '/src/' + name, np.array([ramp, mass], dtype=object), allow_pickle=True)
        big = ramp.copy(); big[5, 5] = 70000.0
        np.save(d + '/big/big.npy', big)
        """, [dir])
        return dir
    }

    @Test func everyChangeIsCountedAndListed() throws {
        let dir = try Self.source()
        let out = TestSupport.tempDir("changes-out")
        let r = try TestSupport.lenspipe(["preprocess", dir + "/src", out, "--size", "64", "--normalize", "none", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("changed: 1 images with 5 NaN/Inf pixels"), "\(r.stdout)")
        #expect(r.stdout.contains("1 images smaller than 64 px padded") && r.stdout.contains("2 targets dropped"), "\(r.stdout)")
        let meta = try DatasetMetadata.read(from: out + "/lenspipe.json")
        var expected = Changes()
        (expected.nonfiniteImages, expected.nonfinitePixels, expected.paddedImages, expected.droppedTargets) = (1, 5, 1, 2)
        #expect(meta.changes == expected)
        let lines = try String(contentsOfFile: out + "/changed.jsonl", encoding: .utf8).split(separator: "\n")
        let byID = Dictionary(uniqueKeysWithValues: try lines.map { line -> (String, [String: Int]) in
            let j = try TestSupport.json(String(line))
            return (j["id"] as! String, (j["changes"] as! [String: Int]).filter { $0.value != 0 })
        })
        #expect(byID == ["nan.npy": ["nonfinite_images": 1, "nonfinite_pixels": 5], "tiny.npy": ["padded_images": 1],
                         "str-mass.npy": ["dropped_targets": 1], "none-mass.npy": ["dropped_targets": 1]])
    }

    @Test func float16OverflowIsRefusedOrClippedAndCounted() throws {
        let dir = try Self.source()
        let refused = try TestSupport.lenspipe(["preprocess", dir + "/big", TestSupport.tempDir("f16-no"), "--crop", "none", "--normalize", "none",
                                                "--dtype", "float16", "--quiet"])
        #expect(refused.status != 0 && refused.stderr.contains("big.npy") && refused.stderr.contains("float16's largest finite value 65504"), "\(refused.stderr)")
        let out = TestSupport.tempDir("f16-clip")
        let r = try TestSupport.lenspipe(["preprocess", dir + "/big", out, "--crop", "none", "--normalize", "none", "--dtype", "float16",
                                          "--clip-float16", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("1 pixels in 1 images clipped to float16's ±65504"), "\(r.stdout)")
        #expect(try DatasetMetadata.read(from: out + "/lenspipe.json").changes?.clippedPixels == 1)
        let s = try ShardSample(try MDSReader(folder: out).sample(at: 0), index: 0)
        #expect(s.image.pixels.max() == 65504 && s.image.pixels.allSatisfy(\.isFinite))
    }
}
