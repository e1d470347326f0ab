#!/usr/bin/env python3
"""Raw-pixel k-NN accuracy (k=20, T=0.07, cosine, weighted vote, as `lenspipe eval`) of a DeepLense-like
folder tree (CLASS/*.npy, arrays or pickled [image, target] pairs) under pixel stretches: which input
scaling makes the classes visible to a nearest-neighbour metric before any network sees them.

    scripts/raw_knn_stretch.py DATA/model2/train [--val 900] [--seed 0]

Prints one JSON line per stretch. `sigma` is the sky's standard deviation (the 4x4 corner of every
image), `peak` each image's maximum.
"""
import argparse, glob, json, os
import numpy as np

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("root")
p.add_argument("--val", type=int, default=900)
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()

classes = sorted(d for d in os.listdir(a.root) if os.path.isdir(os.path.join(a.root, d)))
X, y = [], []
for c, name in enumerate(classes):
    for f in sorted(glob.glob(os.path.join(a.root, name, "*.npy"))):
        arr = np.load(f, allow_pickle=True)
        im = np.asarray(arr[0] if arr.dtype == object else arr, dtype=np.float32).squeeze()
        if im.ndim == 2:
            X.append(im); y.append(c)
shape = max({x.shape for x in X}, key=lambda s: sum(x.shape == s for x in X))
keep = [i for i, x in enumerate(X) if x.shape == shape]
X = np.stack([X[i] for i in keep]); y = np.array([y[i] for i in keep])
idx = np.random.default_rng(a.seed).permutation(len(X))
va, tr = idx[:a.val], idx[a.val:]


def knn(F):
    F = F.reshape(len(F), -1).astype(np.float64)
    F /= np.maximum(np.linalg.norm(F, axis=1, keepdims=True), 1e-12)
    S = F[va] @ F[tr].T
    top = np.argsort(-S, axis=1)[:, :20]
    w = np.exp(np.take_along_axis(S, top, 1) / 0.07)
    votes = np.stack([(w * (y[tr][top] == k)).sum(1) for k in range(len(classes))], 1)
    return float((votes.argmax(1) == y[va]).mean())


sigma = float(X[:, :4, :4].std())
peak = X.reshape(len(X), -1).max(1)[:, None, None]
stretches = [("none", X), ("minmax per image", (X - X.min((1, 2), keepdims=True)) / np.ptp(X, (1, 2), keepdims=True))]
stretches += [(f"asinh {k} sigma", np.arcsinh(X / (k * sigma))) for k in (1, 3, 5, 7, 10, 15)]
stretches += [(f"asinh {k} peak", np.arcsinh(X / (k * peak))) for k in (0.005, 0.01, 0.02, 0.03, 0.1)]
stretches += [("sqrt (clipped at 0)", np.sqrt(np.clip(X, 0, None)))]
for name, F in stretches:
    print(json.dumps({"stretch": name, "knn_acc": round(knn(F), 4), "images": len(X), "val": len(va), "sigma": sigma}), flush=True)
