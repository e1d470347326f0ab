import ArgumentParser
import LensData

/// How to name a data set; shared by every command that reads one.
struct SourceOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("The data set: DIR (class folders or flat .npy or FITS files), FILE.npy (a stack), FILE.fits or FILE.fits[ext] (an image or cube HDU), FILE.npz, FILE.h5:/group/dataset, or (inspect, crop, preview) a preprocessed MDS folder.",
                                 valueName: "source"))
    var source: String

    @Option(help: ArgumentHelp("Labels for a stack, FITS cube, .npz or HDF5 source: an .npy file (stack, FITS), a key in the .npz, or a dataset in the same HDF5 file (e.g. /train/labels).",
                               valueName: "path"))
    var labels: String?

    @Option(help: ArgumentHelp("Regression targets (e.g. axion masses): an .npy file (stack, FITS), a key in the .npz, or an HDF5 dataset (e.g. /train/mass).",
                               valueName: "path"))
    var targets: String?

    @Option(help: ArgumentHelp("Per-image names in the HDF5 file (fixed-length strings), used as sample ids.", valueName: "dataset"))
    var names: String?

    @Option(help: ArgumentHelp("Class names for integer labels, comma-separated, in label order (e.g. axion,cdm,no_sub). A stack's default: classes.txt beside its --labels file (one name per line, as synth writes), if there is one.",
                               valueName: "names"))
    var classes: String?

    var spec: SourceSpec {
        SourceSpec(source, labels: labels, targets: targets, names: names,
                   classNames: classes.map { $0.split(separator: ",").map { String($0) } })
    }

    func validate() throws {
        if names != nil && spec.hdf5Parts == nil {
            throw ValidationError("--names applies to HDF5 sources only")
        }
    }
}

/// How many threads to use.
struct ThreadOptions: ParsableArguments {
    @Option(help: "Worker threads (default: all cores).")
    var threads: Int = ParallelRunner.coreCount

    func validate() throws {
        guard threads >= 1 && threads <= 1024 else { throw ValidationError("--threads must be between 1 and 1024") }
    }
}
