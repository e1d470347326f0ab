import Foundation
import Testing
import LensData
import _TestSupport

/// Folders of split folders (`root/train/<class>/*.npy`) are recognised, not read as one data set.
@Suite struct SplitFolderTests {
    let model1 = TestSupport.fixture("deeplense-mini/model1")

    @Test func aFolderOfSplitsIsNamedWithItsSplits() throws {
        #expect(NPYFolderSource.splitFolders(under: model1) == ["test", "train"])
        #expect(NPYFolderSource.splitFolders(under: model1 + "/train").isEmpty)  // class folders, not splits
        #expect(NPYFolderSource.splitFolders(under: model1 + "/train/cdm").isEmpty)
        #expect(throws: LensDataError(path: model1, "is a folder of splits test, train (class folders in each): pass one of \(model1)/test, \(model1)/train (preprocess --keep-splits takes the whole folder)")) {
            try NPYFolderSource(root: model1)
        }
    }

    @Test func aPreprocessOutputIsNotReadAsNPYFiles() throws {
        let root = TestSupport.tempDir("mds-root")
        for split in ["train", "val"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(split)", withIntermediateDirectories: true)
            try Data("{}".utf8).write(to: URL(fileURLWithPath: "\(root)/\(split)/index.json"))
        }
        #expect(throws: LensDataError(path: root, "is a lenspipe output with splits train, val (MDS shards), not a folder of .npy files")) {
            try NPYFolderSource(root: root)
        }
        #expect(throws: LensDataError(path: root + "/train", "holds MDS shards (index.json, a lenspipe preprocess output), not .npy files")) {
            try NPYFolderSource(root: root + "/train")
        }
    }
}
