#!/usr/bin/env bash
# Installs what lenspipe builds and tests against: the C libraries (Debian packages) and the Python
# packages the interoperability tests compare with (numpy, h5py, zstandard, scikit-learn, astropy).
# Safe to run again; skips what is already there.
set -euo pipefail
need_apt=()
for pc in hdf5 libpng libzstd openblas freetype2 cfitsio zlib; do
  pkg-config --exists "$pc" 2>/dev/null || need_apt+=("$pc")
done
# The charts' font (Render's TextRenderer).
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=("fonts-dejavu-core")
if ! command -v pkg-config >/dev/null || [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq pkgconf libhdf5-dev libpng-dev libzstd-dev libopenblas-dev \
    libfreetype-dev libcfitsio-dev zlib1g-dev fonts-dejavu-core >/dev/null
fi
if ! python3 -c "import numpy, h5py, zstandard, sklearn, astropy" 2>/dev/null; then
  python3 -m pip install -q --disable-pip-version-check numpy h5py zstandard scikit-learn astropy
fi
