"""Baseline for `lenspipe bench augment`: the multi-crop view recipe as an albumentations 2.x chain,
one process: per image 2 global views (RandomResizedCrop to GLOBAL px, scale 0.4-1) and LOCAL local
views (to GLOBAL/2 px, scale 0.05-0.4), each with a random D4 symmetry, Gaussian blur (p 0.5, sigma
0.1-1) and Gaussian noise (p 0.5). No rejection sampling: albumentations has none, so it does less
work than lenspipe's recipe.

python3 bench_augment_py.py [GLOBAL] [COUNT] [LOCAL]   (defaults 64 2000 4)
Images are 64x64 float32 rings on noise, made first; only the views are timed (best of 3).
Prints one JSON line: images_per_s and views_per_s.
"""
import json, os, sys, time
os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np


def images(count, side=64, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:side, :side] - (side - 1) / 2
    out = []
    for _ in range(count):
        cx, cy, r = rng.uniform(-8, 8, 2).tolist() + [rng.uniform(10, 20)]
        ring = np.exp(-((np.hypot(x - cx, y - cy) - r) ** 2) / 4)
        out.append((ring + 0.05 * rng.standard_normal((side, side))).astype(np.float32))
    return out


def chain(size, scale):
    import albumentations as A
    return A.Compose([
        A.RandomResizedCrop(size=(size, size), scale=scale, ratio=(1, 1)),
        A.D4(),
        A.GaussianBlur(sigma_limit=(0.1, 1.0), blur_limit=0, p=0.5),
        A.GaussNoise(std_range=(0.0, 0.05), p=0.5),
    ])


def main():
    import albumentations as A
    import cv2
    cv2.setNumThreads(1)
    g = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    local = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    data = images(count)
    global_chain, local_chain = chain(g, (0.4, 1.0)), chain(g // 2, (0.05, 0.4))
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for img in data:
            for _ in range(2):
                global_chain(image=img)
            for _ in range(local):
                local_chain(image=img)
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({"impl": "albumentations", "version": A.__version__, "threads": 1, "images": count,
                      "images_per_s": round(count / best, 1), "views_per_s": round(count * (2 + local) / best, 1)}))


if __name__ == "__main__":
    main()
