#!/usr/bin/env bash
# Reading benchmark, measured in one run against numpy: a 10,000-file tree of 150x150 int64 images
# (a third of them pickled [image, mass] object arrays, as in DeepLense Model I).
#   scripts/bench-read.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-10000}
swift build -c release --product lenspipe >/dev/null
bin=.build/release/lenspipe
tree=bench-out/read-tree-$count
[ -d "$tree" ] || $bin synth -o "$tree" --count "$count" --image-size 150 --quiet
echo "lenspipe (all cores):"; $bin bench read "$tree"
echo "lenspipe (1 thread):";  $bin bench read "$tree" --threads 1
echo "numpy np.load loop:";   python3 scripts/bench_read.py "$tree"
echo "numpy np.load + astype(float32):"; python3 scripts/bench_read.py "$tree" --astype
