#!/bin/bash
# One row of issue 34's normalisation screen: preprocess SOURCE with FLAGS (stratified train/val split),
# train a checkpoint (--epochs 1: still warming up, so its row is random init's; or --minutes M), score
# it with `lenspipe eval` on val beside random init and raw pixels, and append one JSON line to
# $ROWS (default docs/study/normalization.jsonl).
#
#   scripts/normalization_screen.sh NAME SOURCE "PREPROCESS FLAGS" [TRAIN ARGS]
#   scripts/normalization_screen.sh m1-lens data/model1/train "--size auto --normalize lens --sky-zero 4"
#   scripts/normalization_screen.sh m1-lens data/model1/train "--size auto --normalize lens --sky-zero 4" "--minutes 10"
#
# Works in $WORK (default ./screen); LENSPIPE names the binary (default .build/release/lenspipe).
set -euo pipefail
[ $# -ge 3 ] || { sed -n 2,10p "$0"; exit 64; }
NAME=$1 SRC=$(realpath "$2") FLAGS=$3 TRAIN=${4:---epochs 1}
L=$(realpath "${LENSPIPE:-.build/release/lenspipe}")
ROWS=$(realpath -m "${ROWS:-docs/study/normalization.jsonl}")
WORK=${WORK:-screen}
mkdir -p "$WORK" && cd "$WORK"
RUN="$NAME-$(echo "$TRAIN" | tr -d ' -')"
# shellcheck disable=SC2086
[ -d "$NAME" ] || "$L" preprocess "$SRC" -o "$NAME" --split train=0.85,val=0.15 $FLAGS --quiet
t0=$(date +%s)
# shellcheck disable=SC2086
[ -f "$RUN/final.safetensors" ] || "$L" train "$NAME" -o "$RUN" $TRAIN --quiet --json > "$RUN.train.json"
t1=$(date +%s)
"$L" eval "$RUN/final.safetensors" --train "$NAME/train" --test "$NAME/val" -o "$RUN/eval" --quiet > /dev/null
python3 - "$NAME" "$RUN" "$FLAGS" "$TRAIN" $((t1 - t0)) "$ROWS" <<'PY'
import json, sys
name, run, flags, train, seconds, rows = sys.argv[1:]
report = json.load(open(f"{run}/eval/report.json"))
meta = json.load(open(f"{name}/lenspipe.json"))
steps = json.load(open(f"{run}.train.json")).get("steps") if train else None
row = dict(name=name, run=run, flags=flags, train=train, train_s=int(seconds), steps=steps,
           image_shape=meta["image_shape"], normalization=meta["normalization"],
           stats=meta["crop"].get("normalization_stats"), sky_zero=meta["crop"].get("sky_zero"))
for r in report["rows"]:
    row[r["features"]] = {m: round(r[m], 4) for m in ("knn_accuracy", "knn_centred_accuracy", "probe_accuracy", "probe_macro_auc")}
print(json.dumps(row))
open(rows, "a").write(json.dumps(row) + "\n")
PY
