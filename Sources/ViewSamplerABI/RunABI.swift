import Foundation
import Training

// The recipe side of the C ABI: what a trainer outside lenspipe (examples/pytorch/pretrain_ddp.py)
// takes from `lenspipe train`'s own code so that it follows the same recipe: the resolved recipe and
// the run's facts, the train split's order, the schedules' values per step, the masks of each step.
// Same conventions as the view sampler's functions: an opaque immutable handle, 0 success / 1 bad
// input, messages in the caller's buffer (`reporting`).

final class RunHandle: Sendable {
    let run: ExternalRun
    init(run: ExternalRun) { self.run = run }
}

private func runHandle(_ handle: UnsafeMutableRawPointer?) throws -> ExternalRun {
    guard let handle else { throw ABIError("no run (the handle is NULL)") }
    return Unmanaged<RunHandle>.fromOpaque(handle).takeUnretainedValue().run
}

/// The checks every per-step draw makes: `rows` global crops of `size` px (one of the recipe's global
/// view sizes) at a step count that fits the schedules.
private func checkDraw(_ run: ExternalRun, rows: Int64, size: Int64, step: Int64) throws {
    guard run.recipe.views.global.contains(where: { Int64($0.size) == size }) else {
        throw ABIError("size \(size): the recipe's global views are \(run.recipe.views.global.map(\.size)) px")
    }
    guard (1...(1 << 16)).contains(rows) else { throw ABIError("rows \(rows) is outside 1...65536") }
    guard (0...Int64(Int32.max)).contains(step) else { throw ABIError("step \(step) is outside 0...\(Int32.max)") }
}

/// Opens a run of `recipe` (a recipe's JSON text; NULL or "": the defaults) over `shards` (what
/// `lenspipe train` takes), `totalSteps` long (0: the recipe's epochs). NULL with a message on bad input.
@_cdecl("lenspipe_run_open")
public func lenspipe_run_open(_ recipe: UnsafePointer<CChar>?, _ shards: UnsafePointer<CChar>?, _ totalSteps: Int64,
                              _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int) -> UnsafeMutableRawPointer? {
    var handle: UnsafeMutableRawPointer?
    _ = reporting(error, errorCapacity) {
        guard let shards else { throw ABIError("no shards folder (NULL)") }
        guard totalSteps >= 0 else { throw ABIError("total steps \(totalSteps) is negative") }
        let run = try ExternalRun(recipe: recipe.map { String(cString: $0) } ?? "", shards: String(cString: shards),
                                  totalSteps: totalSteps == 0 ? nil : Int(totalSteps))
        handle = Unmanaged.passRetained(RunHandle(run: run)).toOpaque()
    }
    return handle
}

/// Releases a handle from `lenspipe_run_open` (NULL is ignored).
@_cdecl("lenspipe_run_close")
public func lenspipe_run_close(_ handle: UnsafeMutableRawPointer?) {
    guard let handle else { return }
    Unmanaged<RunHandle>.fromOpaque(handle).release()
}

/// `ExternalRun.describe`'s JSON text in `out` (freed with `lenspipe_views_free_string`).
@_cdecl("lenspipe_run_describe")
public func lenspipe_run_describe(_ handle: UnsafeMutableRawPointer?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int) -> Int32 {
    reporting(error, errorCapacity) {
        guard let out else { throw ABIError("no output pointer (NULL)") }
        out.pointee = strdup(String(decoding: try runHandle(handle).describe(), as: UTF8.self))
    }
}

/// The schedules' values at 0-based step `step`: `out[0..<5]` = learning rate, weight decay, teacher
/// EMA momentum, teacher temperature, 1 when the heads' last layers are frozen (else 0).
@_cdecl("lenspipe_run_values")
public func lenspipe_run_values(_ handle: UnsafeMutableRawPointer?, _ step: Int64, _ out: UnsafeMutablePointer<Double>?,
                                _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int) -> Int32 {
    reporting(error, errorCapacity) {
        guard let out else { throw ABIError("no output buffer (NULL)") }
        guard (0...Int64(Int32.max)).contains(step) else { throw ABIError("step \(step) is outside 0...\(Int32.max)") }
        let v = try runHandle(handle).schedule.values(at: Int(step))
        (out[0], out[1], out[2], out[3], out[4]) = (Double(v.lr), Double(v.weightDecay), Double(v.momentum), Double(v.teacherTemperature),
                                                    v.freezeLastLayer ? 1 : 0)
    }
}

/// The train split's sample order of epoch `epoch` (`lenspipe train`'s: shard blocks shuffled, then the
/// samples within each block), `count` indices into `out` (`count` must be the split's size).
@_cdecl("lenspipe_run_order")
public func lenspipe_run_order(_ handle: UnsafeMutableRawPointer?, _ epoch: Int64, _ out: UnsafeMutablePointer<Int64>?, _ count: Int64,
                               _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int) -> Int32 {
    reporting(error, errorCapacity) {
        let run = try runHandle(handle)
        guard let out else { throw ABIError("no output buffer (NULL)") }
        guard (0...Int64(Int32.max)).contains(epoch) else { throw ABIError("epoch \(epoch) is outside 0...\(Int32.max)") }
        guard count == Int64(run.order.count) else { throw ABIError("count \(count): the train split holds \(run.order.count) samples") }
        for (i, index) in run.order.order(epoch: Int(epoch)).enumerated() { out[i] = Int64(index) }
    }
}

/// The masked-token term's mask of step `step` (`TrainRecipe.tokenMask`) for `rows` global crops of
/// `size` px, crop-major over the whole batch: `out` `[rows, g²]` uint8 (1 = blanked), g the final-stage
/// token grid.
@_cdecl("lenspipe_run_token_mask")
public func lenspipe_run_token_mask(_ handle: UnsafeMutableRawPointer?, _ rows: Int64, _ size: Int64, _ step: Int64, _ out: UnsafeMutablePointer<UInt8>?,
                                    _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int) -> Int32 {
    reporting(error, errorCapacity) {
        let run = try runHandle(handle)
        guard let out else { throw ABIError("no output buffer (NULL)") }
        try checkDraw(run, rows: rows, size: size, step: step)
        guard let mask = run.recipe.tokenMask(step: Int(step), rows: Int(rows), size: Int(size)) else {
            throw ABIError("the recipe has no masked-token term (loss.masked 0): no token mask to draw")
        }
        for (i, flag) in mask.enumerated() { out[i] = flag ? 1 : 0 }
    }
}

/// SimMIM's patch mask of step `step` (`TrainRecipe.patchMask`): `globals` `[rows, channels, size, size]`
/// float32, crop-major over the whole batch (every rank's images), into `out` `[rows, (size/patch)²]`
/// float32, 1 = masked.
@_cdecl("lenspipe_run_patch_mask")
public func lenspipe_run_patch_mask(_ handle: UnsafeMutableRawPointer?, _ globals: UnsafePointer<Float>?, _ rows: Int64, _ channels: Int64,
                                    _ size: Int64, _ step: Int64, _ out: UnsafeMutablePointer<Float>?,
                                    _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int) -> Int32 {
    reporting(error, errorCapacity) {
        let run = try runHandle(handle)
        guard let globals, let out else { throw ABIError("globals and the output must not be NULL") }
        guard channels == Int64(run.state.channels) else { throw ABIError("channels \(channels): the run's images have \(run.state.channels)") }
        try checkDraw(run, rows: rows, size: size, step: step)
        guard run.recipe.mim.weight > 0 else { throw ABIError("the recipe has no masked-image-modelling term (mim.weight 0): no patch mask to draw") }
        let images = Array(UnsafeBufferPointer(start: globals, count: Int(rows * channels * size * size)))
        if let bad = images.firstIndex(where: { !$0.isFinite }) { throw ABIError("globals: value \(bad) is \(images[bad])") }
        let mask = run.recipe.patchMask(step: Int(step), globals: images, rows: Int(rows), channels: Int(channels), size: Int(size))!
        mask.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: $0.count) }
    }
}
