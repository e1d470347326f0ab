#!/usr/bin/env bash
# Renders a lenspipe report (demo's report.html) in headless Chromium and saves a full-page
# screenshot, to check that it renders in a real browser: scripts/screenshot-report.sh
# lenspipe-demo/report.html [shot.png] [width]. Installs Debian's chromium when it is missing.
set -euo pipefail
report="$(realpath "${1:-lenspipe-demo/report.html}")"
shot="$(realpath -m "${2:-${report%.html}.png}")"
width="${3:-1200}"
if ! command -v chromium >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
# The page's height: one tall window holds it all (Chromium's --screenshot captures the window).
height=$(python3 - "$report" <<'PY'
import re, sys
html = open(sys.argv[1], encoding="utf-8").read()
print(max(2000, 900 * html.count("<figure>") + 300 * html.count("<h2>")))
PY
)
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$width,$height" \
  --screenshot="$shot" "file://$report" 2>/dev/null
echo "screenshot: $shot ($width x $height)"
