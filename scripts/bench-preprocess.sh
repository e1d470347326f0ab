#!/usr/bin/env bash
# Preprocessing benchmark, measured in one run against numpy + MosaicML MDSWriter
# (scripts/bench_preprocess_py.py: crop SIZE around the thresholded flux centroid, min-max, zstd:3)
# on the same 10,000-file Model I-like tree (150x150 int64, a third pickled [image, mass]).
#   scripts/bench-preprocess.sh [COUNT] [PYTHON]   PYTHON: an interpreter with mosaicml-streaming installed
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-10000}
py=${2:-python3}
swift build -c release --product lenspipe >/dev/null
bin=.build/release/lenspipe
tree=bench-out/read-tree-$count
[ -d "$tree" ] || $bin synth -o "$tree" --count "$count" --image-size 150 --quiet
for t in 1 2; do
  rm -rf "bench-out/pp-$t"
  echo "lenspipe preprocess, $t thread(s):"
  $bin preprocess "$tree" -o "bench-out/pp-$t" --overwrite --size 64 --crop fixed --normalize minmax --threads "$t" --quiet | grep "images/s"
done
baseline=scripts/bench_preprocess_py.py
if $py -c "import streaming" 2>/dev/null; then
  rm -rf bench-out/pp-py
  echo "numpy + MDSWriter (1 process):"
  $py "$baseline" "$tree" bench-out/pp-py 64
else
  echo "baseline skipped: needs mosaicml-streaming in $py (pip install mosaicml-streaming)"
fi
