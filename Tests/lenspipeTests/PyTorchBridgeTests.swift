import Foundation
import Testing
import _TestSupport

/// The bridge to PyTorch (examples/pytorch/): a checkpoint trained here, evaluated by `lenspipe eval`,
/// then evaluated again by `probe_ddp.py` on 2 CPU processes (torchrun, gloo, DistributedDataParallel,
/// MosaicML Streaming reading the same shards); the two must agree. Opt-in, like the other interop tests:
///     LENSPIPE_STREAMING_PYTHON=/path/to/python-with-torch-and-mosaicml-streaming swift test --filter PyTorchBridge
/// `LENSPIPE_ESVIT_DIR=/path/to/microsoft/esvit` (a checkout) adds the strict load into esvit's own classes.
@Suite(.serialized) struct PyTorchBridgeTests {
    static let env = ProcessInfo.processInfo.environment
    static let python = env["LENSPIPE_STREAMING_PYTHON"]
    static let example = TestSupport.repoRoot + "/examples/pytorch/"

    /// Shards of the mini DeepLense fixture (36 train, 12 test), one training epoch, and eval's report.
    static func trainedRun() throws -> (shards: String, run: String) {
        let dir = TestSupport.tempDir("bridge")
        let shards = dir + "/shards", run = dir + "/run"
        #expect(try TestSupport.lenspipe(["preprocess", TestSupport.fixture("deeplense-mini/model1"), shards, "--keep-splits", "--size", "64", "--quiet"]).status == 0)
        #expect(try TestSupport.lenspipe(["train", shards, "-o", run, "--epochs", "1", "--quiet"]).status == 0)
        let eval = try TestSupport.lenspipe(["eval", run + "/final.safetensors", "--train", shards + "/train", "--test", shards + "/test",
                                             "-o", run + "/eval", "--no-baselines", "--quiet"])
        #expect(eval.status == 0, "\(eval.stderr)")
        return (shards, run)
    }

    @Test(.enabled(if: python != nil, "set LENSPIPE_STREAMING_PYTHON to a python with torch and mosaicml-streaming to run this"))
    func ddpProbeOnTwoProcessesMatchesEval() throws {
        let (shards, run) = try Self.trainedRun()
        let r = try TestSupport.run(Self.python!, ["-m", "torch.distributed.run", "--nproc_per_node", "2", Self.example + "probe_ddp.py",
                                                   run + "/final.safetensors", "--train", shards + "/train", "--test", shards + "/test",
                                                   "--compare", run + "/eval/report.json"], timeout: 600)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("\"ranks\": 2") && r.stdout.contains("\"match\": true"), "\(r.stdout)")
        #expect(r.stdout.contains("\"train_images\": 36") && r.stdout.contains("\"test_images\": 12"), "\(r.stdout)")
    }

    @Test(.enabled(if: python != nil && env["LENSPIPE_ESVIT_DIR"] != nil, "set LENSPIPE_STREAMING_PYTHON and LENSPIPE_ESVIT_DIR (a microsoft/esvit checkout) to run this"))
    func checkpointLoadsStrictlyIntoEsvitsOwnClasses() throws {
        let (_, run) = try Self.trainedRun()
        let r = try TestSupport.run(Self.python!, [Self.example + "load_into_esvit.py", "--esvit", Self.env["LENSPIPE_ESVIT_DIR"]!, run + "/final.safetensors"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"strict_load\": true"), "\(r.stdout)")
    }
}
