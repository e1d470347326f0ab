#!/usr/bin/env bash
# Pre-training speed of examples/pytorch/pretrain_ddp.py on this machine's CPUs against `lenspipe
# train` on the same cores, side by side: the default recipe (SimMIM, batch 32) on lenspipe's own
# simulated 64 px lenses, views from lenspipe's sampler in both (the script's through the Python
# package, one DataLoader worker per process). pretrain_ddp.py runs as 1 process with every core's
# torch threads and as 2 gloo processes (torchrun) splitting the cores. Rates are the medians of the
# metrics lines after step 10; ROUNDS alternations; one JSON line per measurement, then a summary.
#   scripts/bench-pretrain-ddp.sh [PYTHON] [ROUNDS]    PYTHON: an interpreter with torch and numpy
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-python3}
rounds=${2:-2}
"$py" -c "import torch" 2>/dev/null || { echo "bench-pretrain-ddp.sh: $py has no torch" >&2; exit 2; }
swift build -c release --product lenspipe >/dev/null
swift build -c release --product LensPipeViews >/dev/null
bin=.build/release/lenspipe
export LENSPIPE_VIEWS_LIBRARY=$PWD/.build/release/libLensPipeViews.so PYTHONPATH=$PWD/python${PYTHONPATH:+:$PYTHONPATH}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$bin synth -o "$work/src" --count 1536 --image-size 64 --seed 7 --quiet
$bin preprocess "$work/src" -o "$work/shards" --quiet >/dev/null
rate() {
  "$py" -c "
import json, statistics, sys
r = [json.loads(l) for l in open(sys.argv[1])]
r = [x['images_per_s'] for x in r if 'images_per_s' in x and x.get('step', 0) > 10]
print(round(statistics.median(r), 1))" "$1"
}
cores=$(nproc)
for round in $(seq "$rounds"); do
  rm -rf "$work/swift" "$work/torch1" "$work/torch2"
  $bin train "$work/shards" -o "$work/swift" --epochs 1 --quiet --threads "$cores" >/dev/null
  echo "{\"impl\":\"lenspipe train\",\"round\":$round,\"threads\":$cores,\"images_per_s\":$(rate "$work/swift/metrics.jsonl")}"
  "$py" examples/pytorch/pretrain_ddp.py "$work/shards" -o "$work/torch1" --steps 40 --workers 1 --quiet 2>/dev/null
  echo "{\"impl\":\"pretrain_ddp.py, 1 process\",\"round\":$round,\"threads\":$cores,\"images_per_s\":$(rate "$work/torch1/metrics.jsonl")}"
  "$py" -m torch.distributed.run --nproc_per_node 2 examples/pytorch/pretrain_ddp.py "$work/shards" -o "$work/torch2" --steps 40 --workers 1 --quiet 2>/dev/null
  echo "{\"impl\":\"pretrain_ddp.py, 2 gloo processes\",\"round\":$round,\"threads\":$cores,\"images_per_s\":$(rate "$work/torch2/metrics.jsonl")}"
done | tee "$work/lines"
"$py" - "$work/lines" <<'PY'
import json, statistics, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
med = {impl: statistics.median(x["images_per_s"] for x in lines if x["impl"] == impl) for impl in dict.fromkeys(x["impl"] for x in lines)}
base = med["lenspipe train"]
print(json.dumps({"images_per_s": med, "ratio_to_lenspipe_train": {k: round(v / base, 2) for k, v in med.items()}}))
PY
