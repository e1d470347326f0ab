#!/usr/bin/env bash
# Augmentation benchmark, per core, in one run against albumentations 2.x
# (scripts/bench_augment_py.py: 2 global RRC views to 64 px, 4 local to 32 px, D4, blur, noise).
#   scripts/bench-augment.sh [PYTHON]   PYTHON: an interpreter with albumentations installed
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-python3}
swift build -c release --product lenspipe >/dev/null
bin=.build/release/lenspipe
echo "lenspipe bench augment, 1 thread (64x64 lenses, rejection sampling on):"
$bin bench augment --threads 1
echo "lenspipe bench augment, all cores:"
$bin bench augment
baseline=scripts/bench_augment_py.py
if $py -c "import albumentations" 2>/dev/null; then
  echo "albumentations, 1 thread (no rejection: it has none):"
  $py "$baseline" 64 2000 4
else
  echo "baseline skipped: needs albumentations in $py (pip install albumentations)"
fi
