import Foundation
import LensData

/// Writes a batch of views for checking outside lenspipe: `global.npy` `[N, G, C, S, S]`,
/// `local.npy` `[N, L, C, s, s]` (float32) and `boxes.json` (per image, per view: the crop in source
/// pixels, its corners, the symmetry applied, retries and whether the fallback placed it).
public enum ViewExport {
    public static func write(_ batch: ViewBatch, ids: [String], to dir: String) throws {
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw LensDataError(path: dir, "cannot create folder: \(error.localizedDescription)")
        }
        try NPYWriter.write(path: dir + "/global.npy", shape: [batch.count, batch.globalViews, batch.channels, batch.globalSize, batch.globalSize],
                            float32: batch.global)
        try NPYWriter.write(path: dir + "/local.npy", shape: [batch.count, batch.localViews, batch.channels, batch.localSize, batch.localSize],
                            float32: batch.local)
        try AtomicFile.write(path: dir + "/boxes.json", parts: [Array(try boxesJSON(batch, ids: ids))])
    }

    /// `boxes.json`: per image its id and, per view, the crop (centre, size, angle, corners in source
    /// pixels), the symmetry, the retries, whether a fallback placed it, and its lens flux share.
    public static func boxesJSON(_ batch: ViewBatch, ids: [String]) throws -> Data {
        struct Entry: Encodable {
            var id: String
            var views: [View]
        }
        struct View: Encodable {
            var view: Int, kind: String, center: [Double], size: [Double], angleDegrees: Double, corners: [[Double]]
            var dihedral: Int, retries: Int, fallback: Bool, fluxShare: Double
        }
        let entries = zip(ids, batch.records).map { id, records in
            Entry(id: id, views: records.map { r in
                View(view: r.view, kind: r.isGlobal ? "global" : "local", center: [r.crop.centerX, r.crop.centerY],
                     size: [r.crop.width, r.crop.height], angleDegrees: r.crop.angle * 180 / .pi, corners: r.crop.corners,
                     dihedral: r.dihedral, retries: r.retries, fallback: r.fallback, fluxShare: r.fluxShare)
            })
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(entries)
    }
}
