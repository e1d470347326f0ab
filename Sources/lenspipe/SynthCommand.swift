import ArgumentParser
import Foundation
import LensData
import LensSynth

extension LensPipe {
    struct Synth: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Simulate DeepLense-like lensing images (axion, cdm, no_sub) in the layouts real releases use.",
            discussion: """
            SIE main halo + external shear lensing a Sersic source at a random offset; cdm adds 25 point-mass subhalos, axion a vortex line of 100 point masses whose length follows the axion mass; Gaussian PSF; Poisson noise (150 px, int64 counts) or Gaussian noise (64 px, float64). Image i depends only on (seed, i). truth.csv records lens and source positions and masses. A non-empty OUT is refused unless --overwrite; images are written into .OUT.lenspipe-partial beside it and moved in place when complete (a leftover from a killed run is removed).

            Formats:
              tree   OUT/<class>/<class>_sim_NNNNNN.npy
                     (axion files are object arrays [image, mass])
              stack  OUT/images.npy (N,1,H,W) float32 + labels.npy + masses.npy
                     + classes.txt
              hdf5   OUT/lenses.h5 with /images (N,1,H,W) float32 gzip, /labels,
                     /mass, /names

            Reading them back:
              lenspipe inspect OUT                      (tree)
              lenspipe inspect OUT/images.npy --labels OUT/labels.npy \\
                --targets OUT/masses.npy    (stack; classes from OUT/classes.txt)
              lenspipe inspect OUT/lenses.h5:/images --labels /labels \\
                --targets /mass --names /names --classes axion,cdm,no_sub
            """)

        @OptionGroup var outputOptions: OutputFolderOptions
        var out: String { outputOptions.folder }

        @Option(help: "Number of images (classes rotate axion, cdm, no_sub).")
        var count = 300

        @Option(help: "Image side: 150 (Model I-like counts) or 64 (Model II-like floats).")
        var imageSize = 150

        @Option(name: .customLong("size"), help: .hidden)
        var legacySize: Int?
        var size: Int { legacySize ?? imageSize }

        @Option(help: "Random seed.")
        var seed: UInt64 = 0

        @Option(help: "Output layout: tree, stack or hdf5.")
        var format: SynthWriter.Format = .tree

        @Option(help: "Shift lens centres by up to this many pixels per axis (0: centred, as DeepLense).")
        var lensOffset: Double = 0

        @Flag(help: "Write the noiseless model (float64) instead of noisy images.")
        var noiseless = false

        @Flag(help: "Replace a non-empty output folder (one synth wrote: it has truth.csv), once the new one is complete.")
        var overwrite = false

        @OptionGroup var threadOptions: ThreadOptions

        @Flag(help: "No progress line (notes on what was removed still print).")
        var quiet = false

        @Flag(help: "Print what was written as JSON (folder, images, size, format, seed, files).")
        var json = false

        func validate() throws {
            guard size == 64 || size == 150 else { throw ValidationError("--image-size must be 64 or 150") }
            guard count >= 1 && count <= 10_000_000 else { throw ValidationError("--count must be between 1 and 10,000,000") }
            guard lensOffset >= 0 && lensOffset < Double(size) / 2 else { throw ValidationError("--lens-offset must be in [0, image size/2)") }
        }

        func run() throws {
            let config = SynthConfig(size: size, seed: seed, lensOffset: lensOffset, noise: !noiseless)
            let quiet = self.quiet || json
            let meter = ProgressMeter("synth", total: count, quiet: quiet)
            try SynthWriter.writeFolder(config: config, count: count, format: format, to: out, overwrite: overwrite, threads: threadOptions.threads,
                                        notice: { FileHandle.standardError.write(Data(("note: " + $0 + "\n").utf8)) }) { meter.update($0) }
            meter.finish()
            if json {
                try JSONOutput.print(SynthReport(folder: out, images: count, imageSize: size, format: format.rawValue, seed: seed,
                                                 lensOffset: lensOffset, noiseless: noiseless, read: Self.readBack(format: format, out: out)))
            } else {
                print("wrote \(count) images (\(size)x\(size), \(format.rawValue)) to \(out)")
            }
        }
    }
}

extension LensPipe.Synth {
    /// The SOURCE argument that reads the folder back (what the help's "Reading them back" lists).
    static func readBack(format: SynthWriter.Format, out: String) -> String {
        switch format {
        case .tree: return out
        case .stack: return "\(out)/images.npy --labels \(out)/labels.npy --targets \(out)/masses.npy"
        case .hdf5: return "\(out)/lenses.h5:/images --labels /labels --targets /mass --names /names --classes axion,cdm,no_sub"
        }
    }
}

/// What `synth --json` prints.
struct SynthReport: Encodable {
    let folder: String
    let images: Int
    let imageSize: Int
    let format: String
    let seed: UInt64
    let lensOffset: Double
    let noiseless: Bool
    /// The source arguments that read it back.
    let read: String

    enum CodingKeys: String, CodingKey { case folder, images, imageSize = "image_size", format, seed, lensOffset = "lens_offset", noiseless, read }
}

extension SynthWriter.Format: ExpressibleByArgument {}
