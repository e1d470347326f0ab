"""Baseline for `lenspipe bench read`: a numpy np.load loop over a class-folder tree, one process.

python3 bench_read.py TREE [--astype]   ->  JSON with files/s and MB/s (best of 3 passes)
--astype also converts each image to float32, which lenspipe always does.
"""
import glob, json, os, sys, time
import numpy as np

root = sys.argv[1]
astype = "--astype" in sys.argv
files = sorted(glob.glob(os.path.join(root, "*", "*.npy")))
size = sum(os.path.getsize(f) for f in files)
best = float("inf")
for _ in range(3):
    t0 = time.perf_counter()
    for f in files:
        a = np.load(f, allow_pickle=True)
        img = a[0] if a.dtype == object else a
        if astype:
            img = img.astype(np.float32)
    best = min(best, time.perf_counter() - t0)
print(json.dumps({"files": len(files), "astype_float32": astype, "seconds": round(best, 4),
                  "files_per_s": round(len(files) / best, 1), "mb_per_s": round(size / 1e6 / best, 1)}))
