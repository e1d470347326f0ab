import Foundation
import LensCore

/// Checkpoints as safetensors files: `student.<name>` and `teacher.<name>` under microsoft/esvit's
/// state-dict names (a PyTorch user strips the prefix and calls `load_state_dict(strict=True)`; each
/// block's `attn.relative_position_index` buffer is written too, as esvit registers it), AdamW moments as
/// `optimizer.m.<name>` / `optimizer.v.<name>`, `optimizer.step` (I64), `center` and `center_grid`, and
/// with a standardised view head the running moments `pool_moments.{student,teacher}.{mean,mean_square}` (F64);
/// the model configuration and hyper-parameters in the metadata. Loading restores the trainer bit for bit.
public enum Checkpoint {
    /// A named F32 tensor stored beside the trainer's (a fine-tuned checkpoint's `head.weight`, `head.bias`).
    public struct Tensor: Sendable, Equatable {
        public var name: String
        public var shape: [Int]
        /// `shape.reduce(1, *)` values, row-major.
        public var values: [Float]

        public init(name: String, shape: [Int], values: [Float]) {
            precondition(shape.reduce(1, *) == values.count, "\(name): \(values.count) values for shape \(shape)")
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    /// - Parameters:
    ///   - metadata: extra `__metadata__` entries (the trainer writes its resolved recipe there).
    ///   - tensors: extra tensors under their own names (not prefixed); `load` ignores them, `tensors(at:names:)` reads them.
    public static func save(_ t: EsViTTrainer, to path: String, metadata extra: [String: String] = [:], tensors: [Tensor] = []) throws {
        var entries: [(String, String, [Int], [UInt8])] = []  // name, dtype, shape, bytes
        func f32(_ p: UnsafePointer<Float>, _ n: Int) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: 4 * n)
            out.withUnsafeMutableBytes { d in for i in 0..<n { d.storeBytes(of: p[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) } }
            return out
        }
        for tensor in t.student.tensors {
            entries.append(("student." + tensor.name, "F32", tensor.shape, f32(t.student.values + tensor.offset, tensor.count)))
            entries.append(("teacher." + tensor.name, "F32", tensor.shape, f32(t.teacher.values + tensor.offset, tensor.count)))
            entries.append(("optimizer.m." + tensor.name, "F32", tensor.shape, f32(t.student.m + tensor.offset, tensor.count)))
            entries.append(("optimizer.v." + tensor.name, "F32", tensor.shape, f32(t.student.v + tensor.offset, tensor.count)))
        }
        // microsoft/esvit keeps each block's relative position index as a persistent buffer, so
        // `load_state_dict(strict=True)` expects it: written for a full window (`window` x `window`
        // tokens, the table lenspipe keeps), read by nobody here.
        let w = t.config.window, index = WindowAttention.relativeIndex(ws: w, tableWindow: w)
        let indexBytes = index.withUnsafeBufferPointer { src in
            var out = [UInt8](repeating: 0, count: 8 * src.count)
            out.withUnsafeMutableBytes { d in for i in src.indices { d.storeBytes(of: Int64(src[i]).littleEndian, toByteOffset: 8 * i, as: Int64.self) } }
            return out
        }
        for i in 0..<t.config.stages {
            for j in 0..<t.config.depths[i] {
                for prefix in ["student.", "teacher."] {
                    entries.append((prefix + "layers.\(i).blocks.\(j).attn.relative_position_index", "I64", [w * w, w * w], indexBytes))
                }
            }
        }
        entries.append(("center", "F32", [1, t.center.count], t.center.withUnsafeBufferPointer { f32($0.baseAddress!, $0.count) }))
        entries.append(("center_grid", "F32", [1, t.centerGrid.count], t.centerGrid.withUnsafeBufferPointer { f32($0.baseAddress!, $0.count) }))
        if t.config.viewHead == .standardized {
            for (who, m) in [("student", t.studentPoolMoments), ("teacher", t.teacherPoolMoments)] {
                for (what, values) in [("mean", m.mean), ("mean_square", m.meanSquare)] {
                    var bytes = [UInt8](repeating: 0, count: 8 * values.count)
                    bytes.withUnsafeMutableBytes { d in
                        for i in values.indices { d.storeBytes(of: values[i].bitPattern.littleEndian, toByteOffset: 8 * i, as: UInt64.self) }
                    }
                    entries.append(("pool_moments.\(who).\(what)", "F64", [1, values.count], bytes))
                }
            }
        }
        entries.append(("optimizer.step", "I64", [1], withUnsafeBytes(of: Int64(t.step).littleEndian) { Array($0) }))
        for tensor in tensors {
            precondition(!entries.contains { $0.0 == tensor.name }, "\(tensor.name) is already a tensor of the checkpoint")
            entries.append((tensor.name, "F32", tensor.shape, tensor.values.withUnsafeBufferPointer { f32($0.baseAddress!, $0.count) }))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let metadata: [String: String] = extra.merging([
            "format": "lenspipe-esvit", "config": String(decoding: try encoder.encode(t.config), as: UTF8.self),
            "hyper": String(decoding: try encoder.encode(t.hyper), as: UTF8.self),
        ]) { _, new in new }
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        for (name, dtype, shape, bytes) in entries {
            header[name] = ["dtype": dtype, "shape": shape, "data_offsets": [offset, offset + bytes.count]]
            offset += bytes.count
        }
        var json = Array(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while json.count % 8 != 0 { json.append(0x20) }  // align the data to 8 bytes, as safetensors writers do
        let size = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
        try AtomicFile.write(path: path, parts: [size, json] + entries.map(\.3))
    }

    /// The `__metadata__` strings of a checkpoint (configuration, hyper-parameters, recipe).
    public static func metadata(at path: String) throws -> [String: String] {
        let file = try SafetensorsFile(path: path)
        guard !file.metadata.isEmpty else { throw LensDataError(path: path, offset: 8, "a safetensors file without metadata (not a lenspipe checkpoint)") }
        return file.metadata
    }

    /// Reads the F32 tensors `names` of a checkpoint (any safetensors file), with their shapes.
    public static func tensors(at path: String, names: [String]) throws -> [Tensor] {
        let file = try SafetensorsFile(path: path)
        return try names.map { name in
            let e = try file.entry(name, .f32)
            return Tensor(name: name, shape: e.shape, values: try file.f32(name))
        }
    }

    /// Checks that the network of checkpoint `path` can read `shards`' images (`channels` channels,
    /// `size` x `size` px as the network sees them): the channels match and every stage tiles. Every
    /// command that runs a checkpoint on shards calls this first; the error names both.
    public static func checkFits(_ config: EsViTConfig, checkpoint path: String, shards: String, channels: Int, size: Int) throws {
        guard config.inChannels == channels else {
            throw LensDataError(path: path, "the model takes \(config.inChannels)-channel images, \(shards) holds \(channels)-channel ones")
        }
        do { try config.validate(cropSize: size) } catch {
            throw LensDataError(path: path, "the model cannot read \(size) px images (\(shards)): \(error)")
        }
    }

    /// The model configuration a checkpoint's metadata holds, checked against `EsViTConfig.Limits`.
    public static func config(of file: SafetensorsFile) throws -> EsViTConfig {
        guard let text = file.metadata["config"] else {
            throw LensDataError(path: file.path, offset: 8, "not a lenspipe EsViT checkpoint (no config in the metadata)")
        }
        do {
            let config = try JSONDecoder().decode(EsViTConfig.self, from: Data(text.utf8))
            try config.checkLimits()
            return config
        } catch let e as ConfigError {
            throw LensDataError(path: file.path, "the model configuration in the metadata: \(e.description)")
        } catch {
            throw LensDataError(path: file.path, "the model configuration in the metadata is not valid: \(error)")
        }
    }

    /// Restores a trainer from `path`. The file is checked before anything is allocated from it: the
    /// header (`SafetensorsFile`), the configuration's limits, and every tensor the configuration lays
    /// out present with its shape (so the arenas are no larger than the file). Non-finite weights and a
    /// negative step are refused.
    public static func load(from path: String) throws -> EsViTTrainer {
        let file = try SafetensorsFile(path: path)
        let config = try config(of: file)
        guard let hyperText = file.metadata["hyper"], let hyper = try? JSONDecoder().decode(EsViTTrainer.Hyper.self, from: Data(hyperText.utf8)) else {
            throw LensDataError(path: path, offset: 8, "not a lenspipe EsViT checkpoint (no valid hyper-parameters in the metadata)")
        }
        let layout = EsViTNetwork(config: config).layout
        for (name, shape) in layout {
            for prefix in ["student.", "teacher.", "optimizer.m.", "optimizer.v."] { _ = try file.entry(prefix + name, .f32, shape: shape) }
        }
        _ = try file.entry("center", .f32, shape: [1, config.outDim])
        _ = try file.entry("center_grid", .f32, shape: [1, config.outDim])
        let step = try file.i64("optimizer.step", shape: [1])[0]
        guard step >= 0 && step <= Int64(Int32.max) else { throw LensDataError(path: path, "optimizer.step \(step) is not a step count (0...\(Int32.max))") }

        let t = EsViTTrainer(config: config, hyper: hyper)
        for tensor in t.student.tensors {
            try file.readF32("student." + tensor.name, into: t.student.values + tensor.offset)
            try file.readF32("teacher." + tensor.name, into: t.teacher.values + tensor.offset)
            try file.readF32("optimizer.m." + tensor.name, into: t.student.m + tensor.offset)
            try file.readF32("optimizer.v." + tensor.name, into: t.student.v + tensor.offset)
        }
        for (arena, who) in [(t.student, "student"), (t.teacher, "teacher")] {
            if let bad = arena.tensors.first(where: { tensor in (0..<tensor.count).contains { !arena.values[tensor.offset + $0].isFinite } }) {
                throw LensDataError(path: path, "tensor \(who).\(bad.name) holds non-finite weights (NaN or infinity): the run that wrote it diverged")
            }
        }
        try t.center.withUnsafeMutableBufferPointer { try file.readF32("center", into: $0.baseAddress!) }
        try t.centerGrid.withUnsafeMutableBufferPointer { try file.readF32("center_grid", into: $0.baseAddress!) }
        if config.viewHead == .standardized {
            let C = config.finalDim
            func moments(_ who: String) throws -> RunningMoments {
                RunningMoments(mean: try file.f64("pool_moments.\(who).mean", shape: [1, C]),
                               meanSquare: try file.f64("pool_moments.\(who).mean_square", shape: [1, C]))
            }
            t.studentPoolMoments = try moments("student")
            t.teacherPoolMoments = try moments("teacher")
        }
        t.step = Int(step)
        return t
    }
}
