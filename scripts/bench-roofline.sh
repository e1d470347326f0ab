#!/usr/bin/env bash
# How fast the default training step could be on this machine, from its measured ceiling: the peak rate
# of the fused multiply-adds that the matrix-product kernels issue (scripts/bench_fma_peak.c, 1 thread and
# 2 at once), the FLOPs of the step's matrix products counted from the default recipe's model and views
# (the Swin blocks' four linears and the patch merges, forward and both gradients; the patch embedding's
# and the decoder's small products left out, so the count is a lower bound), and PyTorch eager's step on
# the same objective (scripts/bench_train_torch.py, the median of ROUNDS runs). Prints one JSON line each,
# then the summary: the products' time at peak, the time a step may take for 2.0x PyTorch, and what that
# leaves for everything else (attention, GELU, LayerNorm, AdamW, the views) when every product runs at peak.
#   scripts/bench-roofline.sh [PYTHON] [ROUNDS]    PYTHON: an interpreter with torch (default python3)
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-python3}
rounds=${2:-3}
swift build -c release --product lenspipe >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 scripts/bench_fma_peak.c -o "$work/fma_peak" -lpthread
"$work/fma_peak" 2 | tee "$work/peak.jsonl"
.build/release/lenspipe train --print-recipe > "$work/recipe.json"
: > "$work/torch.jsonl"
if "$py" -c "import torch" 2>/dev/null; then
  for round in $(seq "$rounds"); do "$py" scripts/bench_train_torch.py --objective simmim --threads 2 --steps 8 | tee -a "$work/torch.jsonl"; done
fi
"$py" - "$work/peak.jsonl" "$work/recipe.json" "$work/torch.jsonl" <<'PY'
import json, statistics, sys
peak = [json.loads(l) for l in open(sys.argv[1])]
recipe = json.load(open(sys.argv[2]))
torch_runs = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
m = recipe["model"]
crops = [v["size"] for v in recipe["views"]["global"] for _ in range(v["count"])]
macs = 0  # multiply-adds of one forward pass over the batch's crops
for size in crops:
    tokens, dim = (size // m["patch"]) ** 2, m["dim"]
    for s, depth in enumerate(m["depths"]):
        macs += depth * tokens * (4 + 2 * m["mlpRatio"]) * dim * dim  # qkv, proj, fc1, fc2
        if s + 1 < len(m["depths"]):
            tokens //= 4
            macs += tokens * (4 * dim) * (2 * dim)  # the patch merge's linear
            dim *= 2
macs *= recipe["batch"]
flops = 3 * 2 * macs  # forward, input gradient, weight gradient
both = max(p["gflops_all"] for p in peak)
out = {"step_product_gflop_lower_bound": round(flops / 1e9, 2), "fma_peak_gflops_2_threads": both,
       "products_at_peak_ms": round(flops / (both * 1e9) * 1e3, 1), "batch_images": recipe["batch"]}
if torch_runs:
    step = statistics.median(r["step_s"] for r in torch_runs)
    out["pytorch_eager_step_ms"] = round(step * 1e3, 1)
    out["pytorch_eager_images_per_s"] = round(recipe["batch"] / step, 1)
    out["step_ms_for_2x"] = round(step * 1e3 / 2, 1)
    out["left_for_the_rest_ms_at_2x"] = round(step * 1e3 / 2 - out["products_at_peak_ms"], 1)
else:
    out["note"] = "PyTorch skipped: no torch in this interpreter"
print(json.dumps(out))
PY
