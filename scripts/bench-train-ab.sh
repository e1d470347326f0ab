#!/usr/bin/env bash
# Two lenspipe binaries side by side on one machine (a change's speed and memory, as a ratio measured in
# one run), with the PyTorch eager step of the same objective beside them (bench-train.sh's protocol:
# `train --epochs 2 --threads 2` on 1,536 simulated 64 px lenses, the median of the metrics lines after
# step 10, GNU time's peak RSS). Alternates A, B, PyTorch ROUNDS times; one JSON line per measurement.
#   scripts/bench-train-ab.sh A_BINARY B_BINARY [ROUNDS] [OBJECTIVE] [PYTHON]    OBJECTIVE: simmim | esvit
set -euo pipefail
cd "$(dirname "$0")/.."
a=$1; b=$2; rounds=${3:-3}; objective=${4:-simmim}; py=${5:-python3}
case "$objective" in simmim|esvit) ;; *) echo "bench-train-ab.sh: OBJECTIVE must be simmim or esvit, not '$objective'" >&2; exit 2 ;; esac
for bin in "$a" "$b"; do [ -x "$bin" ] || { echo "bench-train-ab.sh: $bin is not an executable" >&2; exit 2; }; done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$b" synth -o "$work/src" --count 1536 --image-size 64 --seed 7 --quiet
"$b" preprocess "$work/src" -o "$work/shards" --quiet >/dev/null
recipe=()
if [ "$objective" = esvit ]; then
  echo '{"loss": {"view": 0.5, "region": 0.5}, "mim": {"weight": 0}, "views": {"local": {"count": 4}}}' > "$work/esvit.json"
  recipe=(--recipe "$work/esvit.json")
fi
for round in $(seq "$rounds"); do
  for bin in "$a" "$b"; do
    rm -rf "$work/run"
    /usr/bin/time -f '%M' -o "$work/rss" "$bin" train "$work/shards" -o "$work/run" --epochs 2 --quiet --threads 2 "${recipe[@]}" >/dev/null
    rate=$("$py" -c "
import json, statistics, sys
r = [json.loads(l) for l in open(sys.argv[1])]
print(round(statistics.median([x['images_per_s'] for x in r if 'images_per_s' in x and x.get('step', 0) > 10]), 1))" "$work/run/metrics.jsonl")
    echo "{\"impl\":\"$bin\",\"objective\":\"$objective\",\"round\":$round,\"images_per_s\":$rate,\"peak_rss_mb\":$(( $(cat "$work/rss") / 1024 ))}"
  done
  if "$py" -c "import torch" 2>/dev/null; then "$py" scripts/bench_train_torch.py --objective "$objective" --threads 2 --steps 8; fi
done
