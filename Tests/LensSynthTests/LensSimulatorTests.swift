import Foundation
import Testing
@testable import LensData
@testable import LensSynth
import _TestSupport

@Suite struct LensSimulatorTests {
    @Test func sameSeedSameImageOtherSeedOtherImage() {
        let a = LensSimulator(config: SynthConfig(size: 64, seed: 3)).render(index: 5)
        let b = LensSimulator(config: SynthConfig(size: 64, seed: 3)).render(index: 5)
        let c = LensSimulator(config: SynthConfig(size: 64, seed: 4)).render(index: 5)
        #expect(a.pixels == b.pixels)
        #expect(a.pixels != c.pixels)
    }

    @Test func classesRotateAndAxionMassesAreInRange() {
        let sim = LensSimulator(config: SynthConfig(size: 64, seed: 1))
        for i in 0..<30 {
            let lens = sim.render(index: i)
            #expect(lens.label == i % 3)
            if lens.className == "axion" {
                let m = try! #require(lens.axionMass)
                #expect(m >= 1e-24 && m <= 1e-22)
            } else {
                #expect(lens.axionMass == nil)
            }
        }
    }

    /// Noiseless rings have the Einstein radius of a 1e12 M_sun halo (1.28" = 25.6 px at 0.05"/px)
    /// around the lens, and their flux centroid is pulled to the source side, as for an isothermal
    /// lens (a point source at offset beta << theta_E gives a centroid at 2 beta; an extended source
    /// less), also when the lens is shifted well off centre.
    @Test func noiselessRingSitsOnTheLensWithTheEinsteinRadius() {
        let sim = LensSimulator(config: SynthConfig(size: 150, seed: 7, lensOffset: 30, noise: false))
        var offCentre = 0
        for i in stride(from: 2, to: 30, by: 3) {  // no_sub: no perturbers
            let lens = sim.render(index: i)
            var sum = 0.0, sx = 0.0, sy = 0.0, sr = 0.0
            for y in 0..<150 {
                for x in 0..<150 {
                    let v = lens.pixels[y * 150 + x]
                    sum += v; sx += v * Double(x); sy += v * Double(y)
                    sr += v * ((Double(x) - lens.lensX) * (Double(x) - lens.lensX) + (Double(y) - lens.lensY) * (Double(y) - lens.lensY)).squareRoot()
                }
            }
            let (cx, cy) = (sx / sum - lens.lensX, sy / sum - lens.lensY)
            let (bx, by) = (lens.sourceX - lens.lensX, lens.sourceY - lens.lensY)
            let (c, b) = ((cx * cx + cy * cy).squareRoot(), (bx * bx + by * by).squareRoot())
            if b > 2 {  // a direction to compare with
                #expect((cx * bx + cy * by) / (c * b) > 0.9, "image \(i): centroid offset (\(cx), \(cy)), source (\(bx), \(by))")
                #expect(c / b > 0.8 && c / b < 2.2, "image \(i): centroid offset \(c), source offset \(b)")
            }
            #expect(abs(sr / sum - 25.6) < 4, "image \(i): mean radius \(sr / sum)")
            if abs(lens.lensX - 74.5) > 10 || abs(lens.lensY - 74.5) > 10 { offCentre += 1 }
        }
        #expect(offCentre >= 3)
    }

    @Test func model1LikeCountsLookLikeDeepLense() {
        let lens = LensSimulator(config: SynthConfig(size: 150, seed: 0)).render(index: 1)
        #expect(lens.pixels.allSatisfy { $0 >= 0 && $0 == $0.rounded() })
        let sorted = lens.pixels.sorted()
        let median = sorted[sorted.count / 2]
        // deeplense-mini model1: sky median 2-6 counts, peaks of a few hundred.
        #expect(median >= 1 && median <= 8)
        #expect(sorted.last! > 150 && sorted.last! < 1500)
    }

    /// The three layouts hold the same pixels, labels and masses, and numpy opens them.
    @Test func treeStackAndHDF5AgreeAndNumpyReadsThem() throws {
        let root = TestSupport.tempDir("synth")
        let config = SynthConfig(size: 64, seed: 11)
        var outputs: [SynthWriter.Format: any SampleSource] = [:]
        for format in SynthWriter.Format.allCases {
            try SynthWriter.write(config: config, count: 12, format: format, to: "\(root)/\(format.rawValue)", threads: 2)
        }
        outputs[.tree] = try SourceSpec("\(root)/tree").open()
        outputs[.stack] = try SourceSpec("\(root)/stack/images.npy", labels: "\(root)/stack/labels.npy", targets: "\(root)/stack/masses.npy").open()
        outputs[.hdf5] = try SourceSpec("\(root)/hdf5/lenses.h5:/images", labels: "/labels", targets: "/mass", names: "/names").open()
        let tree = outputs[.tree]!
        #expect(tree.count == 12)
        // The tree is sorted by class then name; map it back to generation order by file name.
        var treeByIndex: [Int: Sample] = [:]
        for i in 0..<tree.count {
            let s = try tree.sample(at: i)
            treeByIndex[Int(s.id.split(separator: "_").last!.dropLast(4))!] = s
        }
        for format in [SynthWriter.Format.stack, .hdf5] {
            let src = outputs[format]!
            #expect(src.count == 12)
            for i in 0..<12 {
                let s = try src.sample(at: i)
                let t = try #require(treeByIndex[i])
                #expect(s.image.pixels == t.image.pixels, "\(format) image \(i)")
                #expect(s.label == t.label)
                #expect(s.target == t.target)
            }
        }
        let script = """
        import sys, glob, h5py, numpy as np
        r = sys.argv[1]
        ax = sorted(glob.glob(r + '/tree/axion/*.npy'))
        o = np.load(ax[0], allow_pickle=True)
        print(len(ax), o.shape, o[0].dtype, o[0].shape, 1e-24 <= o[1] <= 1e-22)
        s = np.load(r + '/stack/images.npy'); print(s.shape, s.dtype, np.load(r + '/stack/labels.npy').tolist())
        with h5py.File(r + '/hdf5/lenses.h5') as f: print(f['images'].shape, f['names'][0].decode())
        """
        let lines = try TestSupport.python(script, [root]).split(separator: "\n").map(String.init)
        #expect(lines == ["4 (2,) float64 (64, 64) True", "(12, 1, 64, 64) float32 [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]",
                          "(12, 1, 64, 64) axion/axion_sim_000000.npy"])
        let truth = try String(contentsOfFile: "\(root)/tree/truth.csv", encoding: .utf8).split(separator: "\n")
        #expect(truth.count == 13)
        #expect(truth[0].hasPrefix("id,class,label,lens_x"))
    }
}
