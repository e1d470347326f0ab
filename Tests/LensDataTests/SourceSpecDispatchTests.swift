import Foundation
import Testing
@testable import LensData
import _TestSupport

/// `SourceSpec(location).open()` opens each form the README lists with the right source: folders of
/// `.npy` or FITS files, an `.npy` stack, a FITS file with or without `[ext]` (also gzipped), an
/// `.npz` archive and an HDF5 dataset. The files are written here (the `.npz` one with numpy).
@Suite struct SourceSpecDispatchTests {
    static let dir: String = {
        let dir = TestSupport.tempDir("dispatch")
        let fm = FileManager.default
        try! fm.createDirectory(atPath: dir + "/fits_tree/lens", withIntermediateDirectories: true)
        try! fm.createDirectory(atPath: dir + "/fits_tree/none", withIntermediateDirectories: true)
        let image = HostileFITSTests.file(bitpix: "-32", axes: ["5", "4"], dataBytes: 80)
        for name in ["lens/a.fits", "lens/b.fits", "none/c.fits"] { HostileFiles.write(image, in: dir + "/fits_tree", name: name) }
        // A primary cube of 3 images and an extension named SCI.
        var mef = HostileFITSTests.file(bitpix: "-32", axes: ["5", "4", "3"], dataBytes: 240, extra: [("EXTEND", "T")])
        mef += HostileFITSTests.header([("XTENSION", "'IMAGE   '"), ("BITPIX", "16"), ("NAXIS", "2"), ("NAXIS1", "6"), ("NAXIS2", "2"),
                                        ("PCOUNT", "0"), ("GCOUNT", "1"), ("EXTNAME", "'SCI'")])
        mef += [UInt8](repeating: 0, count: 2880)
        HostileFiles.write(mef, in: dir, name: "mef.fits")
        try! NPYWriter.write(path: dir + "/stack.npy", shape: [2, 4, 5], float32: [Float](repeating: 1, count: 40))
        try! NPYWriter.write(path: dir + "/labels.npy", shape: [3], int64: [0, 1, 1])
        let h5 = try! HDF5File(path: dir + "/data.h5", create: true)
        try! HDF5Writer.createFloat32(h5, "/images", shape: [2, 1, 4, 5]).write(start: 0, count: 2, values: [Float](repeating: 2, count: 40))
        _ = try! TestSupport.python("import numpy as np, sys; np.savez(sys.argv[1], x=np.zeros((3, 4, 5)), y=[0, 1, 0])", [dir + "/data.npz"])
        return dir
    }()

    @Test func everyFormOpensWithItsSource() throws {
        let d = Self.dir
        let npyTree = try SourceSpec(TestSupport.fixture("deeplense-mini/model1/train")).open()
        #expect((npyTree as? FolderSource)?.format == .npy)
        let fitsTree = try SourceSpec(d + "/fits_tree").open()
        #expect((fitsTree as? FolderSource)?.format == .fits)
        #expect(fitsTree.classes == ["lens", "none"] && fitsTree.count == 3)
        #expect(try SourceSpec(d + "/stack.npy").open() is NPYStackSource)
        let cube = try #require(try SourceSpec(d + "/mef.fits", labels: d + "/labels.npy").open() as? FITSSource)
        #expect(cube.count == 3 && cube.hdu.number == 0 && cube.label(at: 2) == 1)
        #expect(cube.classes == ["0", "1"])
        // classes.txt beside the labels names the classes, as for an .npy stack.
        try FileManager.default.createDirectory(atPath: d + "/named", withIntermediateDirectories: true)
        try NPYWriter.write(path: d + "/named/labels.npy", shape: [3], int64: [0, 1, 1])
        try "lens\nnone\n".write(toFile: d + "/named/classes.txt", atomically: true, encoding: .utf8)
        #expect(try SourceSpec(d + "/mef.fits", labels: d + "/named/labels.npy").open().classes == ["lens", "none"])
        let ext = try #require(try SourceSpec(d + "/mef.fits[1]").open() as? FITSSource)
        #expect(ext.count == 1 && ext.hdu.extname == "SCI" && ext.id(at: 0) == "mef.fits[1][0]")
        let named = try #require(try SourceSpec(d + "/mef.fits[SCI]").open() as? FITSSource)
        #expect(named.hdu.number == 1 && named.id(at: 0) == "mef.fits[SCI][0]")
        let npz = try #require(try SourceSpec(d + "/data.npz").open() as? NPZSource)
        #expect(npz.count == 3 && npz.stackKey == "x" && npz.classes == ["0", "1"])
        let h5 = try SourceSpec(d + "/data.h5:/images").open()
        #expect(h5 is HDF5Source && h5.count == 2)
    }

    @Test func aFolderOfFITSSplitsIsNamedAsSuch() throws {
        let root = Self.dir + "/fits_splits"
        let image = HostileFITSTests.file(bitpix: "-32", axes: ["5", "4"], dataBytes: 80)
        for split in ["train", "test"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(split)/lens", withIntermediateDirectories: true)
            HostileFiles.write(image, in: "\(root)/\(split)/lens", name: "a.fits")
        }
        #expect(FolderSource.splitFolders(under: root) == ["test", "train"])
        #expect(FolderSource.splitFolders(under: root + "/train").isEmpty)
        #expect { try SourceSpec(root).open() } throws: { error in
            (error as! LensDataError).message.hasPrefix("is a folder of splits test, train (class folders in each)")
        }
    }

    @Test func fitsLocationsAreRecognised() {
        #expect(FITSLocation.parse("a/b.fits")! == ("a/b.fits", nil))
        #expect(FITSLocation.parse("b.FITS[2]")! == ("b.FITS", .number(2)))
        #expect(FITSLocation.parse("b.fit[SCI, 2]")! == ("b.fit", .name("SCI", version: 2)))
        #expect(FITSLocation.parse("b.fts.gz[sci]")! == ("b.fts.gz", .name("sci", version: nil)))
        #expect(FITSLocation.parse("b.fits[]")! == ("b.fits", nil))
        #expect(FITSLocation.parse("b.npy") == nil)
        #expect(FITSLocation.parse("b.npy[1]") == nil)
        #expect(FITSLocation.parse("fits") == nil)
    }

    @Test func wrongCompanionsAndUnknownFormsAreErrors() {
        #expect { try SourceSpec(Self.dir + "/fits_tree", labels: "x.npy").open() } throws: { error in
            (error as! LensDataError).message.contains("folder labels come from class folder names")
        }
        #expect { try SourceSpec(Self.dir + "/data.txt").open() } throws: { error in
            (error as! LensDataError).message.contains("FILE.fits[ext], FILE.npz")
        }
    }
}
