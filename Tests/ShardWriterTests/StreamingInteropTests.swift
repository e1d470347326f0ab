import Foundation
import Testing
import _TestSupport

/// MosaicML Streaming itself reading lenspipe's shards. It needs `mosaicml-streaming` (which brings a
/// ~6 GB torch), so it runs only where LENSPIPE_STREAMING_PYTHON names an interpreter that has it:
///     LENSPIPE_STREAMING_PYTHON=/path/to/venv/bin/python swift test --filter StreamingInterop
@Suite struct StreamingInteropTests {
    static let python = ProcessInfo.processInfo.environment["LENSPIPE_STREAMING_PYTHON"]

    @Test(.enabled(if: python != nil, "set LENSPIPE_STREAMING_PYTHON to a python with mosaicml-streaming to run this"))
    func streamingDatasetReadsSplitsAndMergedParts() throws {
        let model1 = TestSupport.fixture("deeplense-mini/model1")
        let split = TestSupport.tempDir("sd-split"), parts = TestSupport.tempDir("sd-parts")
        #expect(try TestSupport.lenspipe(["preprocess", model1, split, "--keep-splits", "--size", "64", "--hashes", "sha1", "--quiet"]).status == 0)
        for w in ["0/2", "1/2"] {
            #expect(try TestSupport.lenspipe(["preprocess", model1 + "/train", parts, "--size", "64", "--worker", w, "--quiet"]).status == 0)
        }
        #expect(try TestSupport.lenspipe(["merge", parts]).status == 0)
        let script = """
        import sys, numpy as np
        from streaming import StreamingDataset
        from streaming.base.util import clean_stale_shared_memory
        from torch.utils.data import DataLoader
        clean_stale_shared_memory()
        ds = StreamingDataset(local=sys.argv[1] + "/train", remote=None, shuffle=True, batch_size=8, validate_hash="sha1")
        labels = []
        for b in DataLoader(ds, batch_size=8, num_workers=2):
            assert tuple(b["image"].shape[1:]) == (1, 64, 64)
            labels += b["label"].tolist()
        print("train", len(labels), np.bincount(labels).tolist())
        clean_stale_shared_memory()
        dw = StreamingDataset(local=sys.argv[2], remote=None, shuffle=False, batch_size=4)
        print("parts", len(dw), len({dw[i]["id"] for i in range(len(dw))}))
        """
        let r = try TestSupport.run(Self.python!, ["-c", script, split, parts])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("train 36 [12, 12, 12]"))
        #expect(r.stdout.contains("parts 36 36"))
    }
}
