#!/usr/bin/env bash
# Training speed, measured side by side in one run: `lenspipe train` on real shards (lenspipe's own
# simulated 64 px lenses; views made by PairSampler on the producer thread, data wait included)
# against the PyTorch eager step of the same model, batch and objective (scripts/bench_train_torch.py:
# synthetic crops, so PyTorch pays nothing for data). Model: dim 32, depths 2,2,2, heads 2,4,8,
# window 4; batch 32 images; 2 threads each. OBJECTIVE simmim (the default recipe: 2 x 64 px crops,
# 60% of the 8 px blocks masked, pixel decoder, normalised targets) or esvit (EsViT's terms, K 1024,
# + 4 x 32 px local crops). Alternates the two ROUNDS times and prints one JSON line per measurement,
# then a summary with the medians and their ratio.
#   scripts/bench-train.sh [PYTHON] [ROUNDS] [OBJECTIVE]    PYTHON: an interpreter with torch (default python3)
# Also prints lenspipe's peak RSS for the run (GNU time).
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-python3}
rounds=${2:-3}
objective=${3:-simmim}
case "$objective" in simmim|esvit) ;; *) echo "bench-train.sh: OBJECTIVE must be simmim or esvit, not '$objective'" >&2; exit 2 ;; esac
swift build -c release --product lenspipe >/dev/null
bin=.build/release/lenspipe
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$bin synth -o "$work/src" --count 1536 --image-size 64 --seed 7 --quiet
$bin preprocess "$work/src" -o "$work/shards" --quiet >/dev/null
recipe=()
if [ "$objective" = esvit ]; then
  echo '{"loss": {"view": 0.5, "region": 0.5}, "mim": {"weight": 0}, "views": {"local": {"count": 4}}}' > "$work/esvit.json"
  recipe=(--recipe "$work/esvit.json")
fi
ours=() theirs=()
for round in $(seq "$rounds"); do
  rm -rf "$work/run"
  # 2 epochs of 48 steps; the rate is the median over the metrics lines (every 10 steps), which
  # leaves out the k-NN evaluations at step 0 and at the end.
  /usr/bin/time -f '%M' -o "$work/rss" $bin train "$work/shards" -o "$work/run" --epochs 2 --quiet --threads 2 "${recipe[@]}" >/dev/null
  rate=$("$py" -c "
import json, statistics, sys
r = [json.loads(l) for l in open(sys.argv[1])]
r = [x['images_per_s'] for x in r if 'images_per_s' in x and x.get('step', 0) > 10]
print(round(statistics.median(r), 1))" "$work/run/metrics.jsonl")
  rss=$(( $(cat "$work/rss") / 1024 ))
  echo "{\"impl\":\"lenspipe train\",\"objective\":\"$objective\",\"round\":$round,\"images_per_s\":$rate,\"peak_rss_mb\":$rss}"
  ours+=("$rate")
  if "$py" -c "import torch" 2>/dev/null; then
    line=$("$py" scripts/bench_train_torch.py --objective "$objective" --threads 2 --steps 8)
    echo "$line"
    theirs+=("$("$py" -c "import json,sys; print(json.loads(sys.argv[1])['images_per_s'])" "$line")")
  fi
done
"$py" - "${ours[*]}" "${theirs[*]:-}" "$objective" <<'PY'
import json, statistics, sys
ours = [float(x) for x in sys.argv[1].split()]
theirs = [float(x) for x in sys.argv[2].split()] if sys.argv[2] else []
out = {"objective": sys.argv[3], "lenspipe_train_images_per_s": statistics.median(ours)}
if theirs:
    out["pytorch_eager_images_per_s"] = statistics.median(theirs)
    out["ratio"] = round(out["lenspipe_train_images_per_s"] / out["pytorch_eager_images_per_s"], 2)
else:
    out["pytorch_eager_images_per_s"] = None
    out["note"] = "baseline skipped: no torch in this interpreter"
print(json.dumps(out))
PY
