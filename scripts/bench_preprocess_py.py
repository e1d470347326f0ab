"""Baseline for `lenspipe preprocess`: the same job in Python, one process: read a class-folder tree
of .npy files (object arrays [image, mass] included), crop SIZE around the thresholded flux centroid
(bench_crop.py's crop), min-max normalise, write MDS shards with MosaicML Streaming's MDSWriter
(zstd:3; columns image, label, target, id, as lenspipe writes them).

python3 bench_preprocess_py.py TREE OUT [SIZE]
Prints one JSON line: images, seconds (everything after the file listing), images_per_s.
"""
import json, os, sys, time
import numpy as np
from streaming import MDSWriter
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_crop import crop  # noqa: E402


def main():
    tree, out = sys.argv[1], sys.argv[2]
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 64
    classes = sorted(d for d in os.listdir(tree) if os.path.isdir(os.path.join(tree, d)))
    files = [(c, k, os.path.join(tree, c, f)) for k, c in enumerate(classes)
             for f in sorted(os.listdir(os.path.join(tree, c))) if f.endswith(".npy")]
    columns = {"image": f"ndarray:float32:1,{size},{size}", "label": "int", "target": "float64", "id": "str"}
    t0 = time.perf_counter()
    with MDSWriter(out=out, columns=columns, compression="zstd:3") as writer:
        for c, label, path in files:
            a = np.load(path, allow_pickle=True)
            target = float("nan")
            if a.dtype == object:  # [image, mass]
                a, target = np.asarray(a[0]), float(a[1])
            img = a.astype(np.float32).reshape(a.shape[-2], a.shape[-1])
            w = crop(img, size, stretch=False)
            lo, hi = w.min(), w.max()
            w = (w - lo) / (hi - lo) if hi > lo else np.zeros_like(w)
            name = os.path.splitext(os.path.basename(path))[0]
            writer.write({"image": w.reshape(1, size, size).astype(np.float32), "label": label, "target": target,
                          "id": f"{c}/{name}"})
    seconds = time.perf_counter() - t0
    print(json.dumps({"impl": "numpy + MDSWriter", "images": len(files), "seconds": round(seconds, 3),
                      "images_per_s": round(len(files) / seconds, 1)}))


if __name__ == "__main__":
    main()
