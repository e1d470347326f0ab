#!/usr/bin/env bash
# Training-step benchmark, measured in one run against PyTorch eager on the same model and step
# (../shared/bench/esvit_ref.py bench: dim 32, depths 2,2,2, heads 2,4,8, K 1024, batch 32 of
# 2 x 64 px + 4 x 32 px crops, 2 threads). Runs each twice, alternating.
#   scripts/bench-train.sh [PYTHON]   PYTHON: an interpreter with torch installed
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-python3}
swift build -c release --product lenspipe >/dev/null
bin=.build/release/lenspipe
baseline=../shared/bench/esvit_ref.py
for round in 1 2; do
  echo "lenspipe bench train (defaults, all cores), round $round:"
  $bin bench train --steps 6
  if $py -c "import torch" 2>/dev/null && [ -f "$baseline" ]; then
    echo "PyTorch eager (esvit_ref.py bench, 2 threads), round $round:"
    $py "$baseline" bench | tail -1
  else
    echo "baseline skipped: needs $baseline and torch in $py"
  fi
done
echo "lenspipe bench train, 1 thread:"
$bin bench train --steps 6 --threads 1
