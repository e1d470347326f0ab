"""Baseline for `lenspipe bench crop`: the same steps in numpy, one process, per image.

python3 bench_crop.py STACK.npy [SIZE]
Background = median, sigma = 1.4826 MAD; foreground = pixels above background + 3 sigma; window of
SIZE centred on their flux-weighted centroid (shifted inside the image); asinh((x - bg) / sigma).
Images are loaded first; only the per-image work is timed (best of 3).
"""
import json, sys, time
import numpy as np


def crop(img, size=64, stretch=True):
    """The centroid window of one 2-D image, asinh-stretched (bench_preprocess_py.py takes it raw)."""
    med = np.median(img)
    sigma = np.median(np.abs(img - med)) * 1.4826 + 1e-12
    w = np.clip(img - med, 0, None) * (img > med + 3 * sigma)
    tot = w.sum()
    H, W = img.shape
    if tot <= 0:
        cy, cx = (H - 1) / 2, (W - 1) / 2
    else:
        ys, xs = np.indices(img.shape)
        cy, cx = (w * ys).sum() / tot, (w * xs).sum() / tot
    y0 = min(max(int(round(cy - (size - 1) / 2)), 0), H - size)
    x0 = min(max(int(round(cx - (size - 1) / 2)), 0), W - size)
    c = img[y0:y0 + size, x0:x0 + size]
    return np.arcsinh((c - med) / sigma) if stretch else c


def main():
    stack = np.load(sys.argv[1]).astype(np.float32)
    stack = stack.reshape(stack.shape[0], stack.shape[-2], stack.shape[-1])
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for img in stack:
            crop(img, size)
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({"images": len(stack), "seconds": round(best, 4), "crops_per_s": round(len(stack) / best, 1)}))


if __name__ == "__main__":
    main()
