/// One simulated image with the truth it was made from.
public struct SynthLens: Sendable {
    public var index: Int
    /// Label index into `SynthConfig.classes`.
    public var label: Int
    public var className: String { SynthConfig.classes[label] }
    /// `[H, W]` pixel values: photon counts (150 px, noisy) or flux (64 px, or noiseless).
    public var pixels: [Double]
    public var size: Int
    /// Axion mass in eV (axion class only).
    public var axionMass: Double?
    /// Lens centre in pixel coordinates (x right, y down, pixel centres at integers).
    public var lensX: Double
    public var lensY: Double
    /// Unlensed source centre in pixel coordinates.
    public var sourceX: Double
    public var sourceY: Double
    /// Exposure time in seconds (Model I) or 1.
    public var exposure: Double

    /// The file name DeepLense would give it (`axion_sim_000012.npy`).
    public var fileName: String {
        let n = String(index)
        return "\(className)_sim_\(String(repeating: "0", count: max(0, 6 - n.count)))\(n).npy"
    }
}
