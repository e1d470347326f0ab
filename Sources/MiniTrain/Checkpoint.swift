import Foundation
import LensData

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
        try NPYWriter.writeAtomically(path: path, parts: [size, json] + entries.map(\.3))
    }

    /// The `__metadata__` strings of a checkpoint (configuration, hyper-parameters, recipe).
    public static func metadata(at path: String) throws -> [String: String] {
        let file = try FileBytes(path: path)
        let buf = file.buffer
        guard buf.count >= 8 else { throw LensDataError(path: path, "too short for a safetensors header") }
        let n = Int(buf.loadUnaligned(as: UInt64.self).littleEndian)
        guard n > 0, 8 + n <= buf.count, let header = try? JSONSerialization.jsonObject(with: Data(buf[8..<(8 + n)])) as? [String: Any],
              let meta = header["__metadata__"] as? [String: String] else {
            throw LensDataError(path: path, offset: 8, "not a safetensors file with metadata")
        }
        return meta
    }

    /// Reads the F32 tensors `names` of a checkpoint (any safetensors file), with their shapes.
    public static func tensors(at path: String, names: [String]) throws -> [Tensor] {
        let file = try FileBytes(path: path)
        let buf = file.buffer
        guard buf.count >= 8 else { throw LensDataError(path: path, "too short for a safetensors header") }
        let n = Int(buf.loadUnaligned(as: UInt64.self).littleEndian)
        guard n > 0, 8 + n <= buf.count, let header = try? JSONSerialization.jsonObject(with: Data(buf[8..<(8 + n)])) as? [String: Any] else {
            throw LensDataError(path: path, offset: 8, "not a safetensors file")
        }
        let data = UnsafeRawBufferPointer(rebasing: buf[(8 + n)...])
        return try names.map { name in
            guard let e = header[name] as? [String: Any] else { throw LensDataError(path: path, "no tensor named \(name)") }
            guard e["dtype"] as? String == "F32", let shape = e["shape"] as? [Int], shape.allSatisfy({ $0 >= 0 }),
                  let o = e["data_offsets"] as? [Int], o.count == 2, o[0] >= 0, o[1] <= data.count, o[1] - o[0] == 4 * shape.reduce(1, *) else {
                throw LensDataError(path: path, "tensor \(name): not F32, or its offsets do not match its shape")
            }
            let values = (0..<shape.reduce(1, *)).map {
                Float(bitPattern: UInt32(littleEndian: data.loadUnaligned(fromByteOffset: o[0] + 4 * $0, as: UInt32.self)))
            }
            return Tensor(name: name, shape: shape, values: values)
        }
    }

    /// Restores a trainer from `path`.
    public static func load(from path: String) throws -> EsViTTrainer {
        let file = try FileBytes(path: path)
        let buf = file.buffer
        guard buf.count >= 8 else { throw LensDataError(path: path, "too short for a safetensors header") }
        let n = Int(buf.loadUnaligned(as: UInt64.self).littleEndian)
        guard n > 0, 8 + n <= buf.count else { throw LensDataError(path: path, offset: 0, "header of \(n) bytes does not fit the file") }
        guard let header = try? JSONSerialization.jsonObject(with: Data(buf[8..<(8 + n)])) as? [String: Any],
              let meta = header["__metadata__"] as? [String: String], let configText = meta["config"], let hyperText = meta["hyper"] else {
            throw LensDataError(path: path, offset: 8, "not a lenspipe EsViT checkpoint (no config in the metadata)")
        }
        let config = try JSONDecoder().decode(EsViTConfig.self, from: Data(configText.utf8))
        let hyper = try JSONDecoder().decode(EsViTTrainer.Hyper.self, from: Data(hyperText.utf8))
        let t = EsViTTrainer(config: config, hyper: hyper)
        let data = UnsafeRawBufferPointer(rebasing: buf[(8 + n)...])
        func read(_ name: String, into p: UnsafeMutablePointer<Float>, count: Int, shape: [Int]) throws {
            guard let e = header[name] as? [String: Any], e["dtype"] as? String == "F32", e["shape"] as? [Int] == shape,
                  let o = e["data_offsets"] as? [Int], o.count == 2, o[1] - o[0] == 4 * count, o[1] <= data.count, o[0] >= 0 else {
                throw LensDataError(path: path, "tensor \(name): missing, or not F32 \(shape)")
            }
            for i in 0..<count { p[i] = Float(bitPattern: UInt32(littleEndian: data.loadUnaligned(fromByteOffset: o[0] + 4 * i, as: UInt32.self))) }
        }
        for tensor in t.student.tensors {
            try read("student." + tensor.name, into: t.student.values + tensor.offset, count: tensor.count, shape: tensor.shape)
            try read("teacher." + tensor.name, into: t.teacher.values + tensor.offset, count: tensor.count, shape: tensor.shape)
            try read("optimizer.m." + tensor.name, into: t.student.m + tensor.offset, count: tensor.count, shape: tensor.shape)
            try read("optimizer.v." + tensor.name, into: t.student.v + tensor.offset, count: tensor.count, shape: tensor.shape)
        }
        try t.center.withUnsafeMutableBufferPointer { try read("center", into: $0.baseAddress!, count: $0.count, shape: [1, config.outDim]) }
        try t.centerGrid.withUnsafeMutableBufferPointer { try read("center_grid", into: $0.baseAddress!, count: $0.count, shape: [1, config.outDim]) }
        if config.viewHead == .standardized {
            func read64(_ name: String) throws -> [Double] {
                let C = config.finalDim
                guard let e = header[name] as? [String: Any], e["dtype"] as? String == "F64", e["shape"] as? [Int] == [1, C],
                      let o = e["data_offsets"] as? [Int], o.count == 2, o[0] >= 0, o[1] - o[0] == 8 * C, o[1] <= data.count else {
                    throw LensDataError(path: path, "tensor \(name): missing, or not F64 [1, \(C)]")
                }
                return (0..<C).map { Double(bitPattern: UInt64(littleEndian: data.loadUnaligned(fromByteOffset: o[0] + 8 * $0, as: UInt64.self))) }
            }
            t.studentPoolMoments = RunningMoments(mean: try read64("pool_moments.student.mean"), meanSquare: try read64("pool_moments.student.mean_square"))
            t.teacherPoolMoments = RunningMoments(mean: try read64("pool_moments.teacher.mean"), meanSquare: try read64("pool_moments.teacher.mean_square"))
        }
        guard let s = header["optimizer.step"] as? [String: Any], s["dtype"] as? String == "I64", let o = s["data_offsets"] as? [Int], o.count == 2,
              o[1] - o[0] == 8, o[1] <= data.count else { throw LensDataError(path: path, "optimizer.step missing") }
        t.step = Int(Int64(littleEndian: data.loadUnaligned(fromByteOffset: o[0], as: Int64.self)))
        return t
    }
}
