// swift-tools-version: 6.0
// lenspipe: source (LensData) -> crop (Cropping) -> shards (ShardWriter) -> views (PairSampler) -> trainer
// (MiniTrain, Training) -> eval (FeatureMetrics, Evaluation, FineTune) -> report (Demo); docs/architecture.md.
import Foundation
import PackageDescription

/// MiniTrain's kernels (attention, GELU, LayerNorm, the loss) and the view sampler are plain Swift loops
/// that the compiler vectorises. Built on an x86-64 CPU with AVX2 and FMA (read from /proc/cpuinfo on the
/// machine that builds), they are compiled for that CPU (`-target-cpu native`): at least 8-wide vectors and
/// fused multiply-adds instead of SSE2's 4-wide ones, and on a CPU with AVX-512 its 16-wide vectors and 32
/// registers (on Zen 4 the GELU's forward, a chain of dependent operations, took 3.2% of the training
/// step's time instead of 5.0%). Checkpoints are the same bit for bit from run to run on one machine, not
/// between CPUs of different kinds (OpenBLAS also picks its kernels by CPU). `LENSPIPE_PORTABLE=1 swift
/// build` builds for any x86-64 (a binary to copy elsewhere).
let kernelSettings: [SwiftSetting] = {
    #if arch(x86_64)
    let portable = ProcessInfo.processInfo.environment["LENSPIPE_PORTABLE"] == "1"
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let flags = Set((cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") } ?? "").split(separator: " ").map(String.init))
    if !portable && flags.contains("avx2") && flags.contains("fma") { return [.unsafeFlags(["-target-cpu", "native"])] }
    #endif
    return []
}()

let package = Package(
    name: "lenspipe",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "lenspipe", targets: ["lenspipe"]),
        .library(name: "LensData", targets: ["LensData"]),
        .library(name: "FeatureMetrics", targets: ["FeatureMetrics"]),
        // libLensPipeViews.so: the view sampler's C ABI (Sources/ViewSamplerABI), which python/lenspipe loads.
        .library(name: "LensPipeViews", type: .dynamic, targets: ["ViewSamplerABI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // C system libraries, each behind a one-header shim (see docs/architecture.md).
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"]), .brew(["hdf5"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"]), .brew(["libpng"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"]), .brew(["openblas"])]),
        .systemLibrary(name: "CFreeType", pkgConfig: "freetype2", providers: [.apt(["libfreetype-dev"]), .brew(["freetype"])]),
        .systemLibrary(name: "CFITSIO", pkgConfig: "cfitsio", providers: [.apt(["libcfitsio-dev"]), .brew(["cfitsio"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),

        // 0. Plumbing every stage shares, with no I/O format of its own: the error that names the file and
        //    offset, counter-based randomness (Philox), staged (all-or-nothing) folder writes, the chunked
        //    parallel map. LensData re-exports it.
        .target(name: "LensCore", dependencies: [.product(name: "RealModule", package: "swift-numerics")]),
        // 1. Read: the image type, NPY / pickle / HDF5 / FITS (cfitsio) / .npz (zip, zlib) readers, sources.
        .target(name: "LensData", dependencies: ["LensCore", "CHDF5", "CFITSIO", "CZlib", .product(name: "RealModule", package: "swift-numerics")]),
        // 1'. Synthesize DeepLense-like lenses (the embedded default data set).
        .target(name: "LensSynth", dependencies: ["LensData"]),
        // 2. Crop around the foreground and normalise.
        .target(name: "Cropping", dependencies: ["LensData", .product(name: "RealModule", package: "swift-numerics")]),
        // 3. Multi-crop SSL views.
        .target(name: "PairSampler", dependencies: ["LensData", "Cropping"], swiftSettings: kernelSettings),
        // 4. MDS shards (zstd).
        .target(name: "ShardWriter", dependencies: ["LensData", "Cropping", "CZstd", .product(name: "Crypto", package: "swift-crypto")]),
        // 5. PNG contact sheets, grids and charts (FreeType text), for people to look at.
        .target(name: "Render", dependencies: ["LensData", "Cropping", "PairSampler", "CPNG", "CFreeType"]),
        // 6. EsViT training on CPU (CMallocTuning: glibc's allocator settings for the steps that still allocate;
        //    CGemm: the matrix products of a compact Swin on AVX2 + FMA, OpenBLAS elsewhere).
        .target(name: "CMallocTuning"),
        .target(name: "CGemm", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "MiniTrain", dependencies: ["COpenBLAS", "CMallocTuning", "CGemm", "LensCore", .product(name: "RealModule", package: "swift-numerics")],
                swiftSettings: kernelSettings),
        // 6'. Evaluation numerics on feature matrices: k-NN, linear probe, AUC, effective rank, entropies (no I/O).
        .target(name: "FeatureMetrics", dependencies: ["COpenBLAS", "LensCore", .product(name: "RealModule", package: "swift-numerics")]),
        // 7. The training loop over shards: views from PairSampler, MiniTrain's step, schedules, checkpoints, monitors.
        .target(name: "Training", dependencies: ["LensData", "Cropping", "PairSampler", "ShardWriter", "MiniTrain", "FeatureMetrics", "Render"]),
        // 8. Evaluation of checkpoints: embeddings, k-NN and linear probe with random-init and raw-pixel baselines, attention maps.
        .target(name: "Evaluation", dependencies: ["LensData", "Cropping", "PairSampler", "ShardWriter", "MiniTrain", "Training", "FeatureMetrics", "Render"]),
        // 9. Fine-tuning with labels: backbone + linear head (classification or regression), model selection on val, test report.
        .target(name: "FineTune", dependencies: ["LensData", "ShardWriter", "PairSampler", "MiniTrain", "FeatureMetrics", "Render", "Evaluation"]),
        // 10. The whole job on simulated lenses, ending in a self-contained HTML report (lenspipe demo).
        .target(name: "Demo", dependencies: ["LensData", "LensSynth", "Cropping", "PairSampler", "ShardWriter", "Render", "MiniTrain", "Training", "Evaluation",
                                            "FineTune"]),

        // 11. Throughput measurements (lenspipe bench: read, crop, augment, train), each beside a Python baseline in scripts/.
        .target(name: "Benchmarks", dependencies: ["LensData", "LensSynth", "Cropping", "PairSampler", "ShardWriter", "MiniTrain"]),
        // 12. The view sampler behind a C ABI (libLensPipeViews), for python/lenspipe's ViewSampler and PyTorch DataLoaders.
        .target(name: "ViewSamplerABI", dependencies: ["LensData", "Cropping", "PairSampler", "ShardWriter", "Training"]),

        .executableTarget(name: "lenspipe", dependencies: [
            "LensData", "LensSynth", "Cropping", "PairSampler", "ShardWriter", "Render", "MiniTrain", "Training", "Evaluation", "FineTune", "Demo",
            "Benchmarks",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .target(name: "_TestSupport", dependencies: ["LensData"], path: "Tests/_TestSupport"),
        .testTarget(name: "LensDataTests", dependencies: ["LensData", "LensSynth", "_TestSupport"]),
        .testTarget(name: "LensSynthTests", dependencies: ["LensSynth", "LensData", "_TestSupport"]),
        .testTarget(name: "CroppingTests", dependencies: ["Cropping", "LensData", "LensSynth", "_TestSupport"]),
        .testTarget(name: "PairSamplerTests", dependencies: ["PairSampler", "Cropping", "LensData", "LensSynth", "_TestSupport"]),
        .testTarget(name: "ShardWriterTests", dependencies: ["ShardWriter", "Cropping", "LensData", "LensSynth", "_TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Evaluation", "MiniTrain", "FeatureMetrics", "ShardWriter", "PairSampler", "LensData", "LensSynth", "Cropping", "_TestSupport"]),
        .testTarget(name: "FineTuneTests", dependencies: ["FineTune", "MiniTrain", "Training", "ShardWriter", "LensData", "_TestSupport"]),
        .testTarget(name: "FeatureMetricsTests", dependencies: ["FeatureMetrics", "LensData", "_TestSupport"]),
        .testTarget(name: "MiniTrainTests", dependencies: ["MiniTrain", "LensData", "_TestSupport"]),
        .testTarget(name: "FoundationModulesTests", dependencies: ["Cropping", "PairSampler", "ShardWriter", "Render", "MiniTrain", "LensData", "_TestSupport"]),
        .testTarget(name: "lenspipeTests", dependencies: ["lenspipe", "Demo", "Evaluation", "LensData", "Render", "_TestSupport"]),
    ]
)
