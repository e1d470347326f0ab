"""Builds libLensPipeViews (the Swift package's dynamic library product, `swift build -c release`) and
ships it inside the lenspipe package. `pip install ./python` from the repository root runs this."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent.parent  # the Swift package
NAMES = ["libLensPipeViews.so", "libLensPipeViews.dylib"]


class BuildWithSwift(build_py):
    def run(self):
        super().run()
        if not (ROOT / "Package.swift").exists():
            sys.exit(f"setup.py: no Package.swift in {ROOT}; install from a lenspipe checkout (pip install ./python)")
        cmd = ["swift", "build", "-c", "release", "--product", "LensPipeViews", "--package-path", str(ROOT)]
        print("building the view sampler:", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        built = subprocess.run(cmd + ["--show-bin-path"], check=True, capture_output=True, text=True).stdout.strip()
        found = [Path(built) / n for n in NAMES if (Path(built) / n).exists()]
        if not found:
            sys.exit(f"setup.py: swift build wrote none of {NAMES} into {built}")
        target = Path(self.build_lib) / "lenspipe"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(found[0], target / found[0].name)


class NativeDistribution(Distribution):
    """The wheel carries a native library: tag it for this platform, not py3-none-any."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithSwift}, distclass=NativeDistribution)
