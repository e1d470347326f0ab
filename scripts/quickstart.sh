#!/usr/bin/env bash
# The main job on the embedded default: lenspipe simulates DeepLense-like lenses and runs the
# pipeline on them (today: synthesize, inspect, contact sheet). Output in ./lenspipe-demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product lenspipe
.build/release/lenspipe demo --out lenspipe-demo "$@"
