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
        Data flows one way: source -> crop -> views -> shards -> trainer -> evaluation.
        A SOURCE is a folder of class folders (root/<class>/*.npy or *.fits), a flat folder of .npy
        or FITS files, an .npy stack (N,H,W) / (N,1,H,W) / (N,H,W,C), a FITS image or cube
        FILE.fits[ext], an .npz archive, or an HDF5 dataset FILE.h5:/group/dataset.

        Start with:  lenspipe demo            (synthesizes lenses and inspects them)
                     lenspipe inspect DATA --png sheet.png

        Conventions: --json prints the result as JSON; --quiet drops the progress line; --seed
        seeds the random draws; --threads sets the worker threads (default: all cores); train,
        eval, finetune, embed, attention, preview, demo and bench train name what they write with
        -o/--output (inspect and crop still use --png; preprocess and synth take OUT as an argument).
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
