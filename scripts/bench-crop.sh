#!/usr/bin/env bash
# Cropping benchmark, per core, measured in one run against numpy on the same 2,000 images
# (150x150 Model I-like counts -> 64x64, fixed window, asinh).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product lenspipe >/dev/null
bin=.build/release/lenspipe
dir=bench-out/crop-stack
[ -f "$dir/images.npy" ] || $bin synth -o "$dir" --count 2000 --image-size 150 --format stack --quiet
echo "lenspipe, 1 thread:";  $bin bench crop "$dir/images.npy" --threads 1
echo "lenspipe, all cores:"; $bin bench crop "$dir/images.npy"
echo "numpy, 1 process:";    python3 scripts/bench_crop.py "$dir/images.npy" 64
