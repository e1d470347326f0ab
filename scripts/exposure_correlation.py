#!/usr/bin/env python3
"""Does a data set's exposure vary per image? Prints, for each (name, glob of .npy files), the Spearman
correlation between each image's sky level (the mean of a 6 px border) and its lens brightness (99.5th
percentile minus that sky). Counts whose exposure varies per image (Model I-like) scale sky and lens
together (rho near 1), so a per-image lens scale (`--normalize lens`) is what makes them comparable;
flux-calibrated stamps (Model II/III-like) show no such link, and there an image's brightness is
physical signal that a data-set scale (`lens-dataset`) keeps. Issue 34; docs/science.md.

    scripts/exposure_correlation.py NAME=GLOB [NAME=GLOB ...] [--every 15] [--max 300]
"""
import argparse, glob, json
import numpy as np


def spearman(a, b):
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sets", nargs="+", help="NAME=GLOB of .npy images (an object array [image, mass] is read as its image)")
    p.add_argument("--every", type=int, default=15, help="take every k-th file of the sorted list")
    p.add_argument("--max", type=int, default=300, help="at most this many files per set")
    args = p.parse_args()
    for spec in args.sets:
        name, pattern = spec.split("=", 1)
        files = sorted(glob.glob(pattern))[::args.every][:args.max]
        if len(files) < 3:
            print(json.dumps({"name": name, "error": f"{len(files)} files match {pattern}"}))
            continue
        sky, lens = [], []
        for f in files:
            a = np.load(f, allow_pickle=True)
            if a.dtype == object:
                a = a[0]
            a = np.asarray(a, np.float64).squeeze()
            border = np.concatenate([a[:6].ravel(), a[-6:].ravel(), a[:, :6].ravel(), a[:, -6:].ravel()])
            s = border.mean()
            sky.append(s)
            lens.append(np.percentile(a, 99.5) - s)
        sky = np.array(sky)
        print(json.dumps({"name": name, "images": len(files), "sky_p10": float(np.percentile(sky, 10)), "sky_p90": float(np.percentile(sky, 90)),
                          "rho_sky_lens": round(spearman(sky, np.array(lens)), 3)}))


if __name__ == "__main__":
    main()
