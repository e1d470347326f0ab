import Foundation
import Testing
import LensData
@testable import MiniTrain
import _TestSupport

@Suite struct TrainerTests {
    static func smallTrainer(inputScale: Float = 1, pooling: TokenPooling = .mean, viewHead: ViewHeadInput = .pooled) -> EsViTTrainer {
        var c = EsViTConfig.golden
        c.outDim = 32
        c.inputScale = inputScale
        c.pooling = pooling
        c.viewHead = viewHead
        let t = EsViTTrainer(config: c)
        t.initialize(seed: 3)
        return t
    }

    static func batch(_ seed: UInt64) -> (g: [Float], l: [Float]) {
        var rng = Philox4x64(seed: seed, stream: 0)
        return ((0..<(2 * 2 * 32 * 32)).map { _ in Float(rng.normal()) }, (0..<(2 * 2 * 16 * 16)).map { _ in Float(rng.normal()) })
    }

    static func snapshot(_ t: EsViTTrainer) -> [UInt32] {
        var out: [UInt32] = []
        for a in [t.student, t.teacher] {
            for p in [a.values, a.m, a.v] { out += UnsafeBufferPointer(start: p, count: a.count).map(\.bitPattern) }
        }
        let moments = [t.studentPoolMoments, t.teacherPoolMoments].flatMap { $0.mean + $0.meanSquare }
            .flatMap { [UInt32(truncatingIfNeeded: $0.bitPattern), UInt32(truncatingIfNeeded: $0.bitPattern >> 32)] }
        return out + t.center.map(\.bitPattern) + t.centerGrid.map(\.bitPattern) + moments + [UInt32(t.step)]
    }

    /// `inputScale` is a gain on the pixels: a network with scale 3 on images x gives the bits of the same
    /// weights with scale 1 on 3x; the scale travels in the checkpoint, and a config without the field
    /// (an older checkpoint) decodes with scale 1.
    @Test func inputScaleIsAGainOnThePixels() throws {
        let scaled = Self.smallTrainer(inputScale: 3), plain = Self.smallTrainer()
        let (g, _) = Self.batch(5)
        let a = scaled.network.embed(scaled.teacher, images: g, batch: 4, size: 32)
        let b = plain.network.embed(plain.teacher, images: g.map { $0 * 3 }, batch: 4, size: 32)
        #expect(a == b)
        #expect(a != plain.network.embed(plain.teacher, images: g, batch: 4, size: 32))
        let dir = TestSupport.tempDir("scale")
        try Checkpoint.save(scaled, to: dir + "/m.safetensors")
        #expect(try Checkpoint.load(from: dir + "/m.safetensors").network.config.inputScale == 3)
        var old = try JSONSerialization.jsonObject(with: JSONEncoder().encode(EsViTConfig.golden)) as! [String: Any]
        old["inputScale"] = nil
        let decoded = try JSONDecoder().decode(EsViTConfig.self, from: JSONSerialization.data(withJSONObject: old))
        #expect(decoded == EsViTConfig.golden && decoded.inputScale == 1)
        var bad = EsViTConfig.golden
        bad.inputScale = 0
        #expect(throws: ConfigError.self) { try bad.validate(cropSize: 32) }
    }

    /// Saving and loading gives the same state bit for bit, and training on from either gives the same bits.
    @Test func checkpointRoundTripsAndResumesBitExactly() throws {
        let t = Self.smallTrainer()
        let (g, l) = Self.batch(1)
        _ = t.train(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2)
        let path = TestSupport.tempDir("ckpt") + "/model.safetensors"
        try Checkpoint.save(t, to: path)
        let back = try Checkpoint.load(from: path)
        #expect(Self.snapshot(back) == Self.snapshot(t))
        #expect(back.config == t.config && back.hyper == t.hyper && back.step == 1)
        let (g2, l2) = Self.batch(2)
        let a = t.train(globals: g2, globalSize: 32, locals: l2, localCrops: 2, localSize: 16, images: 2)
        let b = back.train(globals: g2, globalSize: 32, locals: l2, localCrops: 2, localSize: 16, images: 2)
        #expect(a.loss == b.loss)
        #expect(Self.snapshot(back) == Self.snapshot(t))
        // Names a PyTorch user expects, and the header is valid JSON with the metadata.
        let file = try FileBytes(path: path)
        let n = Int(file.buffer.loadUnaligned(as: UInt64.self))
        let header = try #require(try JSONSerialization.jsonObject(with: Data(file.buffer[8..<(8 + n)])) as? [String: Any])
        for key in ["teacher.layers.0.blocks.1.attn.qkv.weight", "teacher.head.last_layer.weight_v", "student.head_dense.last_layer.weight_g",
                    "optimizer.m.norm.weight", "optimizer.step", "center", "center_grid", "__metadata__"] {
            #expect(header[key] != nil, "\(key)")
        }
        #expect(throws: LensDataError.self) { try Checkpoint.load(from: TestSupport.fixture("deeplense-mini/README.md")) }
    }

    @Test func trainingLowersTheLossOnAFixedBatch() {
        let t = Self.smallTrainer()
        let (g, l) = Self.batch(5)
        let first = t.train(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2).loss
        var last = first
        var r = t.train(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2)
        for _ in 0..<15 { r = t.train(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2) }
        last = r.loss
        #expect(last < first, "loss \(first) -> \(last)")
        #expect(last.isFinite)
        // Not by collapsing: the teacher's targets are not uniform, and its features still tell the
        // four crops apart (a collapsed network gives every crop one feature).
        #expect(r.teacherViewEntropy < 0.99 * log(Double(t.config.outDim)), "teacher entropy \(r.teacherViewEntropy)")
        let C = t.config.finalDim, rows = r.teacherPooled.count / C
        let spread = (0..<C).map { c in
            let v = (0..<rows).map { Double(r.teacherPooled[$0 * C + c]) }, m = v.reduce(0, +) / Double(rows)
            return (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(rows)).squareRoot()
        }.max() ?? 0
        #expect(spread > 1e-3, "the teacher's pooled features are the same for every crop (spread \(spread))")
    }

    @Test func freezingTheLastLayerLeavesItUntouched() {
        let t = Self.smallTrainer()
        t.hyper.freezeLastLayer = true
        let name = "head.last_layer.weight_v"
        let before = Array(UnsafeBufferPointer(start: t.student.value(name), count: t.student.tensor(name).count))
        let (g, l) = Self.batch(6)
        _ = t.train(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2)
        #expect(Array(UnsafeBufferPointer(start: t.student.value(name), count: before.count)) == before)
        #expect(UnsafeBufferPointer(start: t.student.m + t.student.tensor(name).offset, count: before.count).allSatisfy { $0 == 0 })
    }

    /// The vectorised exp and GELU against libm.
    @Test func fastMathAccuracy() {
        var worstExp: Float = 0, worstGelu: Float = 0, worstSlope: Float = 0
        for i in 0..<20_001 {
            let x = Float(i - 10_000) / 1000  // -10 ... 10
            let e = Float(Foundation.exp(Double(x)))
            worstExp = max(worstExp, abs(FastMath.exp(x) - e) / e)
            let cdf = 0.5 * (1 + Foundation.erf(Double(x) / 2.0.squareRoot()))
            let (v, s) = FastMath.gelu(x)
            worstGelu = max(worstGelu, abs(v - Float(Double(x) * cdf)))
            worstSlope = max(worstSlope, abs(s - Float(cdf + Double(x) * Foundation.exp(-Double(x * x) / 2) / (2 * Double.pi).squareRoot())))
        }
        #expect(worstExp < 5e-7, "exp relative error \(worstExp)")
        #expect(worstGelu < 3e-6 && worstSlope < 1e-6, "gelu error \(worstGelu), slope \(worstSlope)")
    }
}

/// A lenspipe checkpoint loaded into an independent PyTorch definition of the model
/// (Tests/helpers/load_checkpoint_torch.py, microsoft/esvit state-dict names) gives the same logits. Needs torch:
///     LENSPIPE_TORCH_PYTHON=/path/to/python-with-torch swift test --filter PyTorchCheckpoint
@Suite struct PyTorchCheckpointTests {
    static let python = ProcessInfo.processInfo.environment["LENSPIPE_TORCH_PYTHON"]

    @Test(.enabled(if: python != nil, "set LENSPIPE_TORCH_PYTHON to a python with torch to run this"),
          arguments: zip([TokenPooling.mean, .foreground, .mean], [ViewHeadInput.pooled, .pooled, .standardized]))
    func checkpointLoadsInPyTorch(pooling: TokenPooling, viewHead: ViewHeadInput) throws {
        let t = TrainerTests.smallTrainer(inputScale: 2.5, pooling: pooling, viewHead: viewHead)
        let (g, l) = TrainerTests.batch(1)
        _ = t.train(globals: g, globalSize: 32, locals: l, localCrops: 2, localSize: 16, images: 2)
        let dir = TestSupport.tempDir("torch")
        try Checkpoint.save(t, to: dir + "/model.safetensors")
        let out = t.network.forward(t.teacher, images: Array(g.prefix(2 * 32 * 32)), batch: 2, size: 32,
                                    headInput: t.teacherPoolMoments.standardizer)  // ignored unless viewHead is standardized
        try NPYWriter.write(path: dir + "/input.npy", shape: [2, 1, 32, 32], float32: Array(g.prefix(2 * 32 * 32)))
        try NPYWriter.write(path: dir + "/view.npy", shape: [2, t.config.outDim], float32: out.view.logits)
        try NPYWriter.write(path: dir + "/region.npy", shape: [2 * 16, t.config.outDim], float32: out.region.logits)
        // The inference path `embed` and `eval` use: pooled backbone features only.
        let pooled = t.network.embed(t.teacher, images: Array(g.prefix(2 * 32 * 32)), batch: 2, size: 32)
        try NPYWriter.write(path: dir + "/pooled.npy", shape: [2, t.config.finalDim], float32: pooled)
        // eval's probe features: the last blocks' pooled outputs, across a stage boundary (EsViT's n_last_blocks).
        let n = t.config.depths.last! + 1, width = t.config.lastBlocksWidth(n)
        let probe = t.network.embed(t.teacher, images: Array(g.prefix(2 * 32 * 32)), batch: 2, size: 32, lastBlocks: n)
        try NPYWriter.write(path: dir + "/probe.npy", shape: [2, width], float32: probe)
        try "\(n)".write(toFile: dir + "/probe_blocks.txt", atomically: true, encoding: .utf8)
        let r = try TestSupport.run(Self.python!, [TestSupport.repoRoot + "/Tests/helpers/load_checkpoint_torch.py", dir])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("max pooled diff") && r.stdout.contains("max probe-feature diff"), "\(r.stdout)")
    }
}

@Suite struct CheckpointExtraTensorTests {
    /// Extra tensors (a fine-tuned head) travel beside the trainer's: `load` still restores the trainer,
    /// `tensors(at:names:)` reads them back, and a missing name is an error that names it.
    @Test func extraTensorsRoundTripAndLeaveTheTrainerLoadable() throws {
        let t = TrainerTests.smallTrainer()
        let path = TestSupport.tempDir("ckpt-extra") + "/model.safetensors"
        let head = Checkpoint.Tensor(name: "head.weight", shape: [3, 64], values: (0..<192).map { Float($0) / 7 })
        let bias = Checkpoint.Tensor(name: "head.bias", shape: [3], values: [1, -2, 0.5])
        try Checkpoint.save(t, to: path, metadata: ["task": "classify"], tensors: [head, bias])
        #expect(TrainerTests.snapshot(try Checkpoint.load(from: path)) == TrainerTests.snapshot(t))
        #expect(try Checkpoint.tensors(at: path, names: ["head.bias", "head.weight"]) == [bias, head])
        #expect(try Checkpoint.metadata(at: path)["task"] == "classify")
        do { _ = try Checkpoint.tensors(at: path, names: ["head.nothing"]); Issue.record("no error") } catch {
            #expect("\(error)".contains("head.nothing"))
        }
    }
}
