#!/usr/bin/env bash
# The main job on lenspipe's own simulated lenses: synthesize, inspect, crop, shards, views, train
# (default recipe), eval against random-init and raw-pixel baselines, attention maps, and a report:
# ./lenspipe-demo/report.html (self-contained; open it in a browser).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product lenspipe
.build/release/lenspipe demo -o lenspipe-demo "$@"
