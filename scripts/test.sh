#!/usr/bin/env bash
# The test command: installs dependencies, then runs every test (Swift Testing).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
swift test --skip-build
