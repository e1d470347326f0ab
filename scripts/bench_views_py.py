"""Views per second per core from Python through lenspipe's binding (`lenspipe.ViewSampler`, the Swift
sampler behind libLensPipeViews), beside the albumentations pipeline of bench_augment_py.py on the same
images: 2 global views of 64 px and 4 local views of 32 px per image, one thread each. lenspipe's
recipe also rejects sky-only views (albumentations has no rejection), so it does more work per view.

    python3 scripts/bench_views_py.py [COUNT] [--baseline PYTHON]   (COUNT default 2000)

PYTHON: an interpreter with albumentations 2.x (default: this one). Needs `pip install ./python` or a
build of the checkout (LENSPIPE_VIEWS_LIBRARY). Prints one JSON object: both rates and their ratio.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "python"))
from bench_augment_py import images  # noqa: E402  the same 64x64 rings on noise
from lenspipe import ViewSampler  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("count", type=int, nargs="?", default=2000)
    p.add_argument("--baseline", default=sys.executable, help="python with albumentations for the baseline")
    p.add_argument("--batch", type=int, default=64, help="images per ViewSampler.views call (default 64)")
    args = p.parse_args()
    data = np.stack(images(args.count))[:, None]  # [N, 1, 64, 64]
    recipe = {"views": {"local": {"count": 4, "size": 32}}}
    sampler = ViewSampler(recipe, threads=1)
    ids = np.arange(args.count)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for i in range(0, args.count, args.batch):
            sampler.views(data[i:i + args.batch], sample_ids=ids[i:i + args.batch], epoch=0)
        best = min(best, time.perf_counter() - t0)
    views = 2 + 4
    ours = {"impl": "lenspipe.ViewSampler (Python binding)", "threads": 1, "images": args.count, "rejection": True,
            "images_per_s": round(args.count / best, 1), "views_per_s": round(args.count * views / best, 1)}
    out = {"lenspipe": ours}
    r = subprocess.run([args.baseline, os.path.join(here, "bench_augment_py.py"), "64", str(args.count), "4"], capture_output=True, text=True)
    if r.returncode == 0:
        out["albumentations"] = json.loads(r.stdout.strip().splitlines()[-1])
        out["ratio_views_per_s"] = round(ours["views_per_s"] / out["albumentations"]["views_per_s"], 2)
    else:
        out["albumentations"] = f"skipped: {args.baseline} could not run the baseline ({r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode})"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
