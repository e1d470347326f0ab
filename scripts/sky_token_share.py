#!/usr/bin/env python3
"""How much of a stamp is sky, in the cells the network pools over (docs/science.md, seventh session).

    scripts/sky_token_share.py dl2k/model2/train [--every 60] [--sigmas 3]

For every `--every`-th `.npy` image under the folder (plain arrays, or DeepLense's pickled
`[image, mass]` pairs), the sky's noise is estimated robustly (1.4826 x the median absolute deviation
of all pixels), and the image is cut into square cells: 16 px (a final-stage token of the default
network at 64 px: patch 4, two merges) and 4 px (a patch). A cell counts as foreground when its mean
exceeds `--sigmas` noise standard deviations. Prints one JSON line: the mean foreground share per cell
size, the number of images, and the median peak-to-noise ratio.
"""
import argparse
import glob
import json
import os

import numpy as np


def load(path):
    a = np.load(path, allow_pickle=True)
    if a.dtype == object:
        a = np.asarray(a[0])
    return np.asarray(a, dtype=np.float64).squeeze()


def foreground_share(image, cell, sigmas):
    h, w = image.shape
    h, w = h - h % cell, w - w % cell
    sky = 1.4826 * np.median(np.abs(image - np.median(image)))
    cells = image[:h, :w].reshape(h // cell, cell, w // cell, cell).mean(axis=(1, 3))
    return float((cells > sigmas * sky).mean()), float(image.max() / max(sky, 1e-30))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folder")
    p.add_argument("--every", type=int, default=60)
    p.add_argument("--sigmas", type=float, default=3)
    a = p.parse_args()
    files = sorted(glob.glob(os.path.join(a.folder, "**", "*.npy"), recursive=True))[:: a.every]
    if not files:
        raise SystemExit(f"{a.folder}: no .npy files")
    out = {"images": len(files), "sigmas": a.sigmas}
    for cell in (16, 4):
        shares, peaks = zip(*(foreground_share(load(f), cell, a.sigmas) for f in files))
        out[f"foreground_share_{cell}px"] = round(float(np.mean(shares)), 4)
        out["median_peak_over_sigma"] = round(float(np.median(peaks)), 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
