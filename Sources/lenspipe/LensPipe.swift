import ArgumentParser
import LensData
import MiniTrain

/// The `lenspipe` command: read lensing data sets, crop, make SSL views, write shards, train.
@main
struct LensPipe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lenspipe",
        abstract: "Self-supervised learning on strong-lensing images, from raw files to a trained encoder.",
        discussion: """
        Data flows one way: source -> crop -> shards -> views -> trainer -> eval.
        A SOURCE is a folder of class folders (root/<class>/*.npy or *.fits), a flat folder of .npy or FITS files, an .npy stack (N,H,W) / (N,1,H,W) / (N,H,W,C), a FITS image or cube FILE.fits[ext], an .npz archive, or an HDF5 dataset FILE.h5:/group/dataset.

        Start with:  lenspipe demo     (simulates lenses, trains, evaluates, and
                                        writes a report)
                     lenspipe inspect DATA -o sheet.png

        Conventions (every command):
          -o, --output  what the command writes: a folder (preprocess, synth,
                        train, finetune, eval, demo) or a file (preview,
                        inspect, crop, embed, attention, bench train)
          --json        print the result as one JSON object (bench always does)
          --quiet       no progress line (warnings still print); verify, merge
                        and preview print only errors and the verdict
          --seed N      seeds the random draws (synth, preprocess, preview,
                        train, finetune, demo)
          --threads N   worker threads (default: all cores)
          --size        a crop window (crop, preprocess, bench crop);
          --image-size  an image's side (synth, demo, finetune)

        Spellings from before 0.5 (a positional OUT, --out, --png, --save, --local-crops, --split-seed, --size for an image side) still work; the help no longer shows them.

        """,
        version: LensPipeVersion.current,
        subcommands: [Demo.self, Inspect.self, Crop.self, Preprocess.self, Verify.self, Merge.self, Preview.self, Train.self, Embed.self, Eval.self, Finetune.self, Attention.self, Synth.self, Bench.self, HDF5ProbeCommand.self]
    )

    /// OpenBLAS starts one spinning thread per core when the binary loads; commands that do no
    /// matrix work would compete with them. Commands that train raise the count from `--threads`.
    static func main() {
        BLAS.setThreads(1)
        HDF5Probe.installUnlessDisabled()
        main(nil)
    }
}
